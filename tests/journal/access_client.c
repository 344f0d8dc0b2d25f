/*  access_client — a raw journal client for tests/journal/access_accounts.sh: libzmq's own
    REQ socket (not l3-cgi) sending the request frames of render/req.h with any
    REMOTE_USER, the way any local program could.

    usage: access_client ENDPOINT REMOTE_USER PATH [TIMEOUT_MS]
    Exit status: 0 a reply came (printed on stdout); 3 render refused the handshake
    (ZAP, the status on stderr); 4 no reply within TIMEOUT_MS (default 2000; e.g. the
    socket could not be reached); 2 usage or setup error. A socket monitor tells a
    refusal from silence, so the test knows which layer stopped the client. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One monitor event: its id and value, or false when none could be read. */
static bool s_event(void *mon, uint16_t *event, uint32_t *value)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    bool ok = zmq_msg_recv(&msg, mon, 0) >= 0 && zmq_msg_size(&msg) == 6;
    if (ok) {
        const uint8_t *d = zmq_msg_data(&msg);
        memcpy(event, d, 2);
        memcpy(value, d + 2, 4);
    }
    bool more = zmq_msg_more(&msg);
    zmq_msg_close(&msg);
    while (more) { /* the endpoint frame */
        zmq_msg_init(&msg);
        zmq_msg_recv(&msg, mon, 0);
        more = zmq_msg_more(&msg);
        zmq_msg_close(&msg);
    }
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: access_client ENDPOINT REMOTE_USER PATH [TIMEOUT_MS]\n");
        return 2;
    }
    int timeout_ms = argc == 5 ? atoi(argv[4]) : 2000;
    int rc = 2, linger = 0;
    void *ctx = zmq_ctx_new();
    void *req = zmq_socket(ctx, ZMQ_REQ);
    void *mon = zmq_socket(ctx, ZMQ_PAIR);
    zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(mon, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_socket_monitor(req, "inproc://access-client-monitor",
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0 ||
        zmq_connect(mon, "inproc://access-client-monitor") != 0 ||
        zmq_connect(req, argv[1]) != 0) {
        fprintf(stderr, "access_client: %s: %s\n", argv[1], zmq_strerror(zmq_errno()));
        goto done;
    }
    /* render/req.h: "L3R1", method, path, query, remote user, Accept-Language */
    const char *frames[6] = {"L3R1", "GET", argv[3], "", argv[2], ""};
    for (int i = 0; i < 6; i++)
        zmq_send(req, frames[i], strlen(frames[i]), i < 5 ? ZMQ_SNDMORE : 0);
    int64_t deadline = s_now_ms() + timeout_ms;
    rc = 4;
    while (s_now_ms() < deadline) {
        zmq_pollitem_t items[2] = {{req, 0, ZMQ_POLLIN, 0}, {mon, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, (long)(deadline - s_now_ms())) <= 0)
            continue;
        if (items[1].revents & ZMQ_POLLIN) {
            uint16_t event = 0;
            uint32_t value = 0;
            if (s_event(mon, &event, &value) && event != ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
                if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
                    fprintf(stderr, "access_client: refused in the handshake (ZAP status %u)\n",
                            value);
                else
                    fprintf(stderr, "access_client: handshake failed (event 0x%x, %u)\n",
                            event, value);
                rc = 3;
                break;
            }
        }
        if (items[0].revents & ZMQ_POLLIN) {
            zmq_msg_t msg;
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, req, 0) >= 0) {
                fwrite(zmq_msg_data(&msg), 1, zmq_msg_size(&msg), stdout);
                rc = 0;
            }
            zmq_msg_close(&msg);
            break;
        }
    }
    if (rc == 4)
        fprintf(stderr, "access_client: no reply from %s within %d ms\n", argv[1], timeout_ms);
done:
    zmq_close(req);
    zmq_close(mon);
    zmq_ctx_term(ctx);
    return rc;
}
