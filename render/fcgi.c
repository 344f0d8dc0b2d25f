/*  fcgi — a FastCGI responder loop. See fcgi.h. */
#include "fcgi.h"
#include "l3_log.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FCGI_BEGIN_REQUEST 1
#define FCGI_ABORT_REQUEST 2
#define FCGI_END_REQUEST 3
#define FCGI_PARAMS 4
#define FCGI_STDIN 5
#define FCGI_STDOUT 6
#define FCGI_GET_VALUES 9
#define FCGI_GET_VALUES_RESULT 10
#define FCGI_UNKNOWN_TYPE 11
#define FCGI_RESPONDER 1
#define FCGI_KEEP_CONN 1
#define IO_TIMEOUT_MS 30000 /* a web server that stops mid-record is dropped */

struct fcgi_params_t {
    uint8_t data[FCGI_PARAMS_MAX]; /* raw name-value pairs as received */
    size_t len;
    char **pairs; /* decoded "name\0value\0" pointers: name, value, name, value... */
    size_t npairs;
    char *store;
};

static bool s_io(int fd, void *buf, size_t len, bool writing)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = writing ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd pf = {fd, writing ? POLLOUT : POLLIN, 0};
            if (poll(&pf, 1, IO_TIMEOUT_MS) <= 0)
                return false;
            continue;
        }
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static bool s_record(int fd, uint8_t type, uint16_t id, const void *data, size_t len)
{
    uint8_t h[8] = {1, type, (uint8_t)(id >> 8), (uint8_t)id, (uint8_t)(len >> 8), (uint8_t)len,
                    0, 0};
    return s_io(fd, h, 8, true) && (len == 0 || s_io(fd, (void *)data, len, true));
}

const char *fcgi_param(const fcgi_params_t *params, const char *name)
{
    for (size_t i = 0; i + 1 < params->npairs * 2; i += 2)
        if (!strcmp(params->pairs[i], name))
            return params->pairs[i + 1];
    return NULL;
}

/* Decode the name-value pairs; false on a malformed stream. */
static bool s_decode(fcgi_params_t *p)
{
    size_t i = 0, n = 0;
    /* worst case: every pair 2 bytes long */
    p->pairs = calloc(p->len + 2, sizeof *p->pairs);
    p->store = malloc(p->len * 2 + 2);
    if (!p->pairs || !p->store)
        return false;
    char *w = p->store;
    while (i < p->len) {
        uint32_t l[2];
        for (int k = 0; k < 2; k++) {
            if (i >= p->len)
                return false;
            if (p->data[i] & 0x80) {
                if (i + 4 > p->len)
                    return false;
                l[k] = ((uint32_t)(p->data[i] & 0x7f) << 24) | ((uint32_t)p->data[i + 1] << 16) |
                       ((uint32_t)p->data[i + 2] << 8) | p->data[i + 3];
                i += 4;
            } else {
                l[k] = p->data[i++];
            }
        }
        if (l[0] > p->len - i || l[1] > p->len - i - l[0])
            return false;
        p->pairs[n++] = w;
        memcpy(w, p->data + i, l[0]);
        w[l[0]] = 0;
        w += l[0] + 1;
        i += l[0];
        p->pairs[n++] = w;
        memcpy(w, p->data + i, l[1]);
        w[l[1]] = 0;
        w += l[1] + 1;
        i += l[1];
        /* a NUL inside a name or value would let "X\0Y" pass for "X": refuse it */
        if (strlen(p->pairs[n - 2]) != l[0] || strlen(p->pairs[n - 1]) != l[1])
            return false;
    }
    p->npairs = n / 2;
    return true;
}

/* Serve requests on one connection; false when it must be closed. */
static bool s_connection(int fd, fcgi_handler_fn *handler, void *arg,
                         fcgi_params_t *params, l3_buf_t *out)
{
    uint16_t id = 0;
    bool keep = false, begun = false, params_done = false;
    for (;;) {
        uint8_t h[8];
        if (!s_io(fd, h, 8, false))
            return false;
        if (h[0] != 1)
            return false;
        uint16_t rid = (uint16_t)(h[2] << 8 | h[3]);
        size_t clen = (size_t)(h[4] << 8 | h[5]), plen = h[6];
        uint8_t content[65535 + 255];
        if (!s_io(fd, content, clen + plen, false))
            return false;
        switch (h[1]) {
        case FCGI_GET_VALUES: {
            static const uint8_t v[] = {14, 1, 'F', 'C', 'G', 'I', '_', 'M', 'P', 'X', 'S', '_',
                                        'C', 'O', 'N', 'N', 'S', '0'};
            if (!s_record(fd, FCGI_GET_VALUES_RESULT, 0, v, sizeof v))
                return false;
            continue;
        }
        case FCGI_BEGIN_REQUEST:
            if (begun || clen < 8)
                return false;
            if ((content[0] << 8 | content[1]) != FCGI_RESPONDER) {
                uint8_t end[8] = {0, 0, 0, 0, 3 /* unknown role */, 0, 0, 0};
                if (!s_record(fd, FCGI_END_REQUEST, rid, end, 8))
                    return false;
                continue;
            }
            id = rid;
            keep = content[2] & FCGI_KEEP_CONN;
            begun = true;
            params_done = false;
            params->len = 0;
            continue;
        case FCGI_PARAMS:
            if (!begun || rid != id || params_done)
                return false;
            if (clen == 0) {
                params_done = true;
                continue;
            }
            if (params->len + clen > FCGI_PARAMS_MAX)
                return false; /* more CGI environment than any request needs */
            memcpy(params->data + params->len, content, clen);
            params->len += clen;
            continue;
        case FCGI_STDIN:
            if (!begun || rid != id)
                return false;
            if (clen != 0)
                continue; /* a body: GET and HEAD have none; l3-cgi answers 405 anyway */
            break;        /* end of stdin: the request is complete */
        case FCGI_ABORT_REQUEST:
            return false;
        default: {
            if (rid != 0)
                return false;
            uint8_t unk[8] = {h[1], 0, 0, 0, 0, 0, 0, 0};
            if (!s_record(fd, FCGI_UNKNOWN_TYPE, 0, unk, 8))
                return false;
            continue;
        }
        }
        /* A complete request. */
        if (!params_done || !s_decode(params)) {
            free(params->pairs);
            free(params->store);
            params->pairs = NULL;
            params->store = NULL;
            return false;
        }
        l3_buf_reset(out);
        handler(params, out, arg);
        free(params->pairs);
        free(params->store);
        params->pairs = NULL;
        params->store = NULL;
        bool ok = true;
        for (size_t at = 0; ok && at < out->len; at += 65535) {
            size_t n = out->len - at < 65535 ? out->len - at : 65535;
            ok = s_record(fd, FCGI_STDOUT, id, out->data + at, n);
        }
        uint8_t end[8] = {0};
        ok = ok && s_record(fd, FCGI_STDOUT, id, NULL, 0) &&
             s_record(fd, FCGI_END_REQUEST, id, end, 8);
        if (!ok || !keep)
            return false;
        begun = false;
    }
}

bool fcgi_is_listener(int fd)
{
    int type = 0, listening = 0;
    socklen_t l = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) != 0 || type != SOCK_STREAM)
        return false;
    l = sizeof listening;
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l) == 0 && listening;
}

int fcgi_serve(int listen_fd, fcgi_handler_fn *handler, void *arg)
{
    fcgi_params_t *params = calloc(1, sizeof *params);
    l3_buf_t out;
    l3_buf_init(&out, 0);
    int rc = 0;
    signal(SIGPIPE, SIG_IGN);
    while (params) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR)
                break; /* SIGTERM from the web server: stop */
            if (errno == ECONNABORTED || errno == EMFILE || errno == ENFILE)
                continue;
            l3_error("accept: %s", strerror(errno));
            rc = -1;
            break;
        }
        s_connection(fd, handler, arg, params, &out);
        close(fd);
        if (out.cap > (8u << 20)) {
            l3_buf_free(&out);
            l3_buf_init(&out, 0);
        }
    }
    l3_buf_free(&out);
    free(params);
    return rc;
}
