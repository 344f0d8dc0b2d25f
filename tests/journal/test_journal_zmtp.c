/*  test_journal_zmtp — l3-cgi's ZMTP client (render/zmtp.c) against peers that refuse it:
    a ZMTP ERROR in the handshake (what libzmq sends when render's ZAP handler says no)
    is ZMTP_REFUSED at once, a peer that closes after its greeting is ZMTP_CUT at once,
    a missing socket is ZMTP_ERROR (render not running: l3-cgi retries), a silent peer is
    ZMTP_TIMEOUT at the deadline, and a real libzmq REP answers. Fake peers run on a
    thread, on ipc sockets in a temp dir. */
#include "l3_buf.h"
#include "l3_test.h"
#include "l3_time.h"
#include "zmtp.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

typedef enum { PEER_ERROR, PEER_CLOSE, PEER_SILENT } peer_kind_t;

typedef struct {
    int listener;
    peer_kind_t kind;
} peer_t;

static char s_dir[] = "/tmp/l3-test-zmtp.XXXXXX";

static int s_listen(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof un.sun_path)
        exit(1);
    memcpy(un.sun_path, path, strlen(path) + 1);
    if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof un) != 0 || listen(fd, 4) != 0) {
        perror(path);
        exit(1);
    }
    return fd;
}

/* One connection: read the client's greeting and READY, then answer as told. */
static void *s_peer(void *arg)
{
    peer_t *p = arg;
    int fd = accept(p->listener, NULL, NULL);
    if (fd < 0)
        return NULL;
    uint8_t hello[64 + 27];
    size_t got = 0;
    while (got < sizeof hello) {
        ssize_t n = read(fd, hello + got, sizeof hello - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    uint8_t greet[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0};
    memcpy(greet + 12, "NULL", 4);
    greet[32] = 1; /* as-server */
    static const uint8_t error[] = {0x04, 10, 5, 'E', 'R', 'R', 'O', 'R', 3, '4', '0', '0'};
    if (write(fd, greet, sizeof greet) != (ssize_t)sizeof greet)
        goto done;
    if (p->kind == PEER_ERROR && write(fd, error, sizeof error) != (ssize_t)sizeof error)
        goto done;
    /* ERROR or silence: hold the connection until the client lets go (libzmq, too,
       keeps it open after ERROR, for its handshake interval). */
    while (p->kind != PEER_CLOSE && read(fd, hello, sizeof hello) > 0)
        ;
done:
    close(fd);
    return NULL;
}

/* One request to endpoint; the rc, and the time it took in ms. */
static int s_request(const char *endpoint, int timeout_ms, int64_t *ms, char *err, size_t errlen)
{
    const char *frames[1] = {"L3R1"};
    size_t lens[1] = {4};
    l3_buf_t reply;
    l3_buf_init(&reply, 1 << 20);
    int64_t t0 = l3_time_mono_us();
    int rc = zmtp_request(endpoint, frames, lens, 1, &reply, t0 + timeout_ms * 1000, err, errlen);
    *ms = (l3_time_mono_us() - t0) / 1000;
    l3_buf_free(&reply);
    return rc;
}

static void s_fake(peer_kind_t kind, int want, int timeout_ms, int64_t max_ms,
                   const char *want_err)
{
    char path[128], ep[160], err[256] = "";
    snprintf(path, sizeof path, "%s/peer%d.sock", s_dir, (int)kind);
    snprintf(ep, sizeof ep, "ipc://%s", path);
    peer_t peer = {s_listen(path), kind};
    pthread_t t;
    pthread_create(&t, NULL, s_peer, &peer);
    int64_t ms;
    int rc = s_request(ep, timeout_ms, &ms, err, sizeof err);
    CHECK_MSG(rc == want, "peer %d: rc %d, want %d (%s)", (int)kind, rc, want, err);
    CHECK_MSG(ms <= max_ms, "peer %d: %lld ms", (int)kind, (long long)ms);
    CHECK_MSG(!want_err || strstr(err, want_err), "peer %d: '%s'", (int)kind, err);
    shutdown(peer.listener, SHUT_RDWR);
    pthread_join(t, NULL);
    close(peer.listener);
    unlink(path);
}

int main(void)
{
    if (!mkdtemp(s_dir)) {
        perror("mkdtemp");
        return 1;
    }
    /* Refusals are immediate, whatever the deadline. */
    s_fake(PEER_ERROR, ZMTP_REFUSED, 5000, 1000, "ERROR 400");
    s_fake(PEER_CLOSE, ZMTP_CUT, 5000, 1000, NULL);
    /* Silence is a timeout, at the deadline. */
    s_fake(PEER_SILENT, ZMTP_TIMEOUT, 300, 1500, NULL);
    /* Nobody there: an error to retry, not a refusal. */
    char ep[160], err[256] = "";
    int64_t ms;
    snprintf(ep, sizeof ep, "ipc://%s/none.sock", s_dir);
    CHECK(s_request(ep, 1000, &ms, err, sizeof err) == ZMTP_ERROR);

    /* A real libzmq REP answers the one request. */
    snprintf(ep, sizeof ep, "ipc://%s/rep.sock", s_dir);
    void *ctx = zmq_ctx_new();
    void *rep = zmq_socket(ctx, ZMQ_REP);
    int linger = 0;
    zmq_setsockopt(rep, ZMQ_LINGER, &linger, sizeof linger);
    CHECK(zmq_bind(rep, ep) == 0);
    pid_t child = fork();
    if (child == 0) { /* the client, in a process of its own, as l3-cgi is */
        const char *frames[1] = {"L3R1"};
        size_t lens[1] = {4};
        l3_buf_t reply;
        l3_buf_init(&reply, 1 << 20);
        char e[256];
        int rc = zmtp_request(ep, frames, lens, 1, &reply, l3_time_mono_us() + 5000000, e,
                              sizeof e);
        _exit(rc == 0 && reply.len == 2 && memcmp(reply.data, "ok", 2) == 0 ? 0 : 1);
    }
    char buf[16];
    int timeout = 5000;
    zmq_setsockopt(rep, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    CHECK(zmq_recv(rep, buf, sizeof buf, 0) == 4);
    CHECK(zmq_send(rep, "ok", 2, 0) == 2);
    int status = -1;
    waitpid(child, &status, 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "client status %d", status);
    zmq_close(rep);
    zmq_ctx_term(ctx);

    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    CHECK(system(cmd) == 0);
    TEST_DONE();
}
