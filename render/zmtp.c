/*  zmtp — a minimal ZMTP 3.0 REQ client. See zmtp.h. */
#include "zmtp.h"
#include "l3_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define FLAG_MORE 0x01
#define FLAG_LONG 0x02
#define FLAG_COMMAND 0x04
#define COMMAND_MAX 4096 /* READY with a few properties; anything bigger is not a peer of ours */

typedef struct {
    int fd;
    int64_t deadline;
    char *err;
    size_t errlen;
} conn_t;

static int s_fail(conn_t *c, int rc, const char *what)
{
    snprintf(c->err, c->errlen, "%s", what);
    return rc;
}

/* Wait until fd is ready for events; -2 on timeout, -1 on error. */
static int s_wait(conn_t *c, short events)
{
    for (;;) {
        int64_t left = (c->deadline - l3_time_mono_us()) / 1000;
        if (left <= 0)
            return -2;
        struct pollfd p = {c->fd, events, 0};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n > 0)
            return 0;
    }
}

static int s_write_all(conn_t *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            int w = s_wait(c, POLLOUT);
            if (w)
                return w == -2 ? s_fail(c, -2, "timeout writing") : s_fail(c, -1, "poll");
            continue;
        }
        if (n <= 0)
            return s_fail(c, -1, "connection lost while writing");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int s_read_all(conn_t *c, void *data, size_t len)
{
    uint8_t *p = data;
    while (len) {
        ssize_t n = recv(c->fd, p, len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            int w = s_wait(c, POLLIN);
            if (w)
                return w == -2 ? s_fail(c, -2, "timeout reading") : s_fail(c, -1, "poll");
            continue;
        }
        if (n == 0)
            return s_fail(c, -1, "connection closed by the peer");
        if (n < 0)
            return s_fail(c, -1, "connection lost while reading");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* connect(2) on a non-blocking AF_UNIX socket completes at once or fails; EAGAIN means
   render's listen backlog is full, and only another connect, a moment later, can tell
   when there is room. Permission denied is final: this account may not reach render. */
static int s_connect_unix(conn_t *c, const struct sockaddr_storage *ss, socklen_t sl)
{
    while (connect(c->fd, (const struct sockaddr *)ss, sl) != 0) {
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) {
            if (l3_time_mono_us() + 1000 >= c->deadline)
                return s_fail(c, ZMTP_TIMEOUT, "timeout connecting (render's backlog is full)");
            usleep(1000);
            continue;
        }
        if (errno == EACCES || errno == EPERM)
            return s_fail(c, ZMTP_REFUSED, "no permission to connect to the ipc socket");
        if (errno == ENOENT)
            return s_fail(c, ZMTP_ERROR, "no socket at the ipc path (render not running?)");
        return s_fail(c, ZMTP_ERROR, "connection refused");
    }
    return ZMTP_OK;
}

/* Connect (non-blocking, within the deadline) to tcp://HOST:PORT or ipc://PATH. */
static int s_connect(conn_t *c, const char *endpoint)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    memset(&ss, 0, sizeof ss);
    if (!strncmp(endpoint, "ipc://", 6)) {
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;
        const char *path = endpoint + 6;
        size_t n = strlen(path);
        if (n == 0 || n >= sizeof un->sun_path)
            return s_fail(c, -1, "bad ipc endpoint");
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, path, n);
        if (path[0] == '@')
            un->sun_path[0] = 0; /* abstract namespace, as libzmq does it */
        sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '@' ? 0 : 1));
    } else if (!strncmp(endpoint, "tcp://", 6)) {
        char host[256];
        const char *hp = endpoint + 6;
        const char *colon = strrchr(hp, ':');
        if (!colon || (size_t)(colon - hp) >= sizeof host || colon == hp)
            return s_fail(c, -1, "bad tcp endpoint");
        memcpy(host, hp, (size_t)(colon - hp));
        host[colon - hp] = 0;
        if (host[0] == '[' && host[strlen(host) - 1] == ']') {
            memmove(host, host + 1, strlen(host));
            host[strlen(host) - 1] = 0;
        }
        struct addrinfo hints = {0}, *res = NULL;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICSERV;
        if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
            return s_fail(c, -1, "cannot resolve the render endpoint");
        memcpy(&ss, res->ai_addr, res->ai_addrlen);
        sl = res->ai_addrlen;
        freeaddrinfo(res);
    } else {
        return s_fail(c, -1, "endpoint must be tcp:// or ipc://");
    }
    c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return s_fail(c, -1, "socket");
    if (ss.ss_family != AF_UNIX) {
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (ss.ss_family == AF_UNIX)
        return s_connect_unix(c, &ss, sl);
    if (connect(c->fd, (struct sockaddr *)&ss, sl) != 0) {
        if (errno != EINPROGRESS && errno != EAGAIN)
            return s_fail(c, -1, "connection refused");
        int w = s_wait(c, POLLOUT);
        if (w)
            return w == -2 ? s_fail(c, -2, "timeout connecting") : s_fail(c, -1, "poll");
        int soerr = 0;
        socklen_t el = sizeof soerr;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &el);
        if (soerr)
            return s_fail(c, -1, "connection refused");
    }
    return 0;
}

/* Read one frame header: flags and size. */
static int s_frame_head(conn_t *c, uint8_t *flags, uint64_t *size)
{
    uint8_t h[9];
    int rc = s_read_all(c, h, 2);
    if (rc)
        return rc;
    *flags = h[0];
    if (h[0] & ~(FLAG_MORE | FLAG_LONG | FLAG_COMMAND))
        return s_fail(c, -1, "bad frame flags");
    if (h[0] & FLAG_LONG) {
        rc = s_read_all(c, h + 2, 7);
        if (rc)
            return rc;
        uint64_t v = 0;
        for (int i = 1; i < 9; i++)
            v = (v << 8) | h[i];
        *size = v;
    } else {
        *size = h[1];
    }
    return 0;
}

static int s_skip(conn_t *c, uint64_t n)
{
    uint8_t junk[512];
    while (n) {
        size_t k = n < sizeof junk ? (size_t)n : sizeof junk;
        int rc = s_read_all(c, junk, k);
        if (rc)
            return rc;
        n -= k;
    }
    return 0;
}

static void s_frame(uint8_t *buf, size_t *at, uint8_t flags, size_t len)
{
    if (len > 255) {
        buf[(*at)++] = flags | FLAG_LONG;
        for (int i = 7; i >= 0; i--)
            buf[(*at)++] = (uint8_t)((uint64_t)len >> (8 * i));
    } else {
        buf[(*at)++] = flags;
        buf[(*at)++] = (uint8_t)len;
    }
}

/* Connect and do the ZMTP handshake; the connected descriptor stays in c->fd. */
static int s_open(conn_t *c, const char *endpoint)
{
    int rc = s_connect(c, endpoint);
    if (rc)
        return rc;
    /* Greeting: signature, version 3.0, mechanism NULL, as-server 0, filler. */
    uint8_t greet[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0};
    memcpy(greet + 12, "NULL", 4);
    /* READY with Socket-Type REQ: command flag, size, name, one property. */
    static const uint8_t ready[] = {FLAG_COMMAND, 25, 5, 'R', 'E', 'A', 'D', 'Y', 11, 'S', 'o',
                                    'c', 'k', 'e', 't', '-', 'T', 'y', 'p', 'e', 0, 0, 0, 3,
                                    'R', 'E', 'Q'};
    uint8_t hello[sizeof greet + sizeof ready];
    memcpy(hello, greet, sizeof greet);
    memcpy(hello + sizeof greet, ready, sizeof ready);
    /* From here a connection error is the peer cutting the handshake short: reported
       as ZMTP_CUT (a timeout stays a timeout). */
    if ((rc = s_write_all(c, hello, sizeof hello)))
        return rc == ZMTP_ERROR ? ZMTP_CUT : rc;
    uint8_t peer[64];
    if ((rc = s_read_all(c, peer, sizeof peer)))
        return rc == ZMTP_ERROR ? ZMTP_CUT : rc;
    if (peer[0] != 0xff || peer[9] != 0x7f || peer[10] < 3 || memcmp(peer + 12, "NULL", 5) != 0)
        return s_fail(c, -1, "the peer does not speak ZMTP 3 with the NULL mechanism");
    /* The peer's READY, checked and skipped, or ERROR: libzmq's answer when its ZAP
       handler refused us (RFC 23: reason length, then the reason, here the status). */
    uint8_t flags;
    uint64_t size;
    if ((rc = s_frame_head(c, &flags, &size)))
        return rc == ZMTP_ERROR ? ZMTP_CUT : rc;
    if (!(flags & FLAG_COMMAND) || size > COMMAND_MAX || size < 6)
        return s_fail(c, -1, "expected the peer's READY");
    uint8_t cmd[COMMAND_MAX];
    if ((rc = s_read_all(c, cmd, (size_t)size)))
        return rc == ZMTP_ERROR ? ZMTP_CUT : rc;
    if (size >= 7 && cmd[0] == 5 && memcmp(cmd + 1, "ERROR", 5) == 0) {
        size_t rl = cmd[6] <= size - 7 ? cmd[6] : (size_t)(size - 7);
        char reason[256];
        for (size_t i = 0; i < rl; i++)
            reason[i] = cmd[7 + i] >= 0x20 && cmd[7 + i] < 0x7f ? (char)cmd[7 + i] : '?';
        reason[rl] = 0;
        snprintf(c->err, c->errlen, "render refused this client in the handshake (ERROR %s)",
                 reason);
        return ZMTP_REFUSED;
    }
    if (cmd[0] != 5 || memcmp(cmd + 1, "READY", 5) != 0)
        return s_fail(c, -1, "expected the peer's READY");
    return 0;
}

/* One request and its reply on an open connection. */
static int s_exchange(conn_t *c, const char *const *frames, const size_t *lens, size_t nframes,
                      l3_buf_t *reply)
{
    /* Request: the empty delimiter, then the frames, in one write (no Nagle stalls). */
    uint8_t head[16];
    size_t at = 0;
    int rc;
    l3_buf_t req;
    l3_buf_init(&req, 1u << 20);
    s_frame(head, &at, FLAG_MORE, 0);
    l3_buf_append(&req, head, at);
    for (size_t i = 0; i < nframes; i++) {
        at = 0;
        s_frame(head, &at, i + 1 < nframes ? FLAG_MORE : 0, lens[i]);
        l3_buf_append(&req, head, at);
        l3_buf_append(&req, frames[i], lens[i]);
    }
    if (req.failed)
        rc = s_fail(c, -1, "request too large");
    else
        rc = s_write_all(c, req.data, req.len);
    l3_buf_free(&req);
    if (rc)
        return rc;

    /* Reply: the delimiter, then the message frames (commands such as PING skipped). */
    bool delimiter = false, more = true;
    uint8_t flags;
    uint64_t size;
    l3_buf_reset(reply);
    while (more) {
        if ((rc = s_frame_head(c, &flags, &size)))
            return rc;
        if (flags & FLAG_COMMAND) {
            if (size > COMMAND_MAX)
                return s_fail(c, -1, "oversized command");
            if ((rc = s_skip(c, size)))
                return rc;
            continue;
        }
        more = flags & FLAG_MORE;
        if (!delimiter) {
            if (size != 0 || !more)
                return s_fail(c, -1, "reply without the REQ delimiter");
            delimiter = true;
            continue;
        }
        if (size > SIZE_MAX / 2 || !l3_buf_reserve(reply, (size_t)size))
            return s_fail(c, -1, "reply too large");
        if ((rc = s_read_all(c, reply->data + reply->len, (size_t)size)))
            return rc;
        reply->len += (size_t)size;
    }
    return 0;
}

int zmtp_exchange(int *fd, const char *endpoint, const char *const *frames,
                     const size_t *lens, size_t nframes, l3_buf_t *reply, int64_t deadline_us,
                     char *err, size_t errlen)
{
    conn_t c = {*fd, deadline_us, err, errlen};
    bool reused = c.fd >= 0;
    int rc = 0;
    if (!reused)
        rc = s_open(&c, endpoint);
    if (rc == 0)
        rc = s_exchange(&c, frames, lens, nframes, reply);
    if (rc == -1 && reused) {
        /* the kept connection went stale (render restarted): one fresh try */
        close(c.fd);
        c.fd = -1;
        rc = s_open(&c, endpoint);
        if (rc == 0)
            rc = s_exchange(&c, frames, lens, nframes, reply);
    }
    if (rc != 0 && c.fd >= 0) {
        close(c.fd); /* a REQ exchange cut in the middle cannot be resumed */
        c.fd = -1;
    }
    *fd = c.fd;
    return rc;
}

int zmtp_request(const char *endpoint, const char *const *frames, const size_t *lens,
                    size_t nframes, l3_buf_t *reply, int64_t deadline_us, char *err,
                    size_t errlen)
{
    int fd = -1;
    int rc = zmtp_exchange(&fd, endpoint, frames, lens, nframes, reply, deadline_us, err,
                              errlen);
    if (fd >= 0)
        close(fd);
    return rc;
}
