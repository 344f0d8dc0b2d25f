/*  l3-raw-pushpull — the ceiling for bench/ingest.sh: the same messages the agents send
    (a command record with an output of the given size, msgpack-encoded by
    l3_msg_encode_record), pushed through one bare libzmq PUSH/PULL pair over TCP
    loopback, no outbox, no broker, no writer, no acks. A sender thread pushes, the main
    thread pulls; connection setup is outside the timed part (the clock starts at the
    first message received). Prints one line:

      raw records=<n> bytes_per_record=<b> seconds=<s> records_per_s=<r> */
#include "l3_msg.h"
#include "l3_time.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

typedef struct {
    void *ctx;
    char endpoint[64];
    uint64_t count;
    const uint8_t *msg;
    size_t len;
    int rc;
} s_push_t;

static void *s_pusher(void *arg)
{
    s_push_t *p = arg;
    void *push = zmq_socket(p->ctx, ZMQ_PUSH);
    int hwm = 10000;
    zmq_setsockopt(push, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (zmq_connect(push, p->endpoint) != 0) {
        p->rc = 1;
        zmq_close(push);
        return NULL;
    }
    for (uint64_t i = 0; i < p->count; i++) {
        if (zmq_send(push, p->msg, p->len, 0) < 0) {
            p->rc = 1;
            break;
        }
    }
    zmq_close(push);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: l3-raw-pushpull RECORDS [OUTPUT_BYTES]\n"
                "Push RECORDS encoded command records (OUTPUT_BYTES of output, default 256)\n"
                "through a bare libzmq PUSH/PULL pair on TCP loopback and print the rate.\n");
        return argc < 2 ? 2 : 0;
    }
    char *end = NULL;
    uint64_t count = strtoull(argv[1], &end, 10);
    size_t outlen = argc > 2 ? strtoul(argv[2], NULL, 10) : 256;
    if (!end || *end || count == 0 || outlen > L3_OUTPUT_MAX) {
        fprintf(stderr, "l3-raw-pushpull: bad arguments (see --help)\n");
        return 2;
    }

    /* The same record l3-loadgen makes. */
    l3_record_t rec;
    l3_record_init(&rec);
    rec.type = L3_RECORD_COMMAND;
    l3_text_set(rec.agent, sizeof rec.agent, "bench-agent-1");
    rec.epoch = 1234567890123ULL;
    rec.seq = 123456;
    l3_text_set(rec.host, sizeof rec.host, "benchhost");
    l3_text_set(rec.user, sizeof rec.user, "loadgen");
    l3_text_set(rec.sid, sizeof rec.sid, "loadgen-12345-0");
    rec.nr = 4242;
    rec.end_us = l3_time_now_us();
    rec.start_us = rec.end_us - 1500;
    rec.has_exit = true;
    l3_bytes_set(&rec.cmdline, "echo loadgen 123456", 19, L3_CMDLINE_MAX);
    l3_bytes_set(&rec.cwd, "/tmp", 4, L3_CWD_MAX);
    uint8_t *out = malloc(outlen + 1);
    for (size_t i = 0; i < outlen; i++)
        out[i] = (uint8_t)(i % 97 == 0 ? 0x1b : i % 61 == 0 ? '\n' : 32 + (i * 31) % 95);
    l3_bytes_set(&rec.output, out, outlen, L3_OUTPUT_MAX);
    free(out);
    l3_buf_t buf;
    l3_buf_init(&buf, L3_MSG_MAX);
    if (!l3_msg_encode_record(&rec, &buf)) {
        fprintf(stderr, "l3-raw-pushpull: cannot encode the record\n");
        return 1;
    }

    void *ctx = zmq_ctx_new();
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    int hwm = 10000;
    zmq_setsockopt(pull, ZMQ_RCVHWM, &hwm, sizeof hwm);
    s_push_t p = {.ctx = ctx, .count = count, .msg = buf.data, .len = buf.len};
    size_t eplen = sizeof p.endpoint;
    if (zmq_bind(pull, "tcp://127.0.0.1:*") != 0 ||
        zmq_getsockopt(pull, ZMQ_LAST_ENDPOINT, p.endpoint, &eplen) != 0) {
        fprintf(stderr, "l3-raw-pushpull: bind: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    pthread_t thread;
    pthread_create(&thread, NULL, s_pusher, &p);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    int64_t t0 = 0;
    uint64_t got = 0;
    while (got < count) {
        if (zmq_msg_recv(&msg, pull, 0) < 0)
            break;
        if (got == 0)
            t0 = l3_time_mono_us();
        got++;
    }
    int64_t t1 = l3_time_mono_us();
    zmq_msg_close(&msg);
    pthread_join(thread, NULL);
    zmq_close(pull);
    zmq_ctx_term(ctx);
    double secs = (double)(t1 - t0) / 1e6;
    /* The first message started the clock, so count - 1 were timed. */
    printf("raw records=%" PRIu64 " bytes_per_record=%zu seconds=%.3f records_per_s=%.0f\n", got,
           buf.len, secs, secs > 0 ? (double)(got - 1) / secs : 0);
    l3_buf_free(&buf);
    l3_record_clear(&rec);
    return got == count && p.rc == 0 ? 0 : 1;
}
