/*  bench_broker — forwarding rate of one real l3-broker: one agent pushes N command
    records (~300 bytes each) as fast as the broker takes them, a fake writer pulls them.
    Connection set-up and a first record are outside the timed part.

    Usage: bench_broker [plain|curve] [N]       (default plain 100000)
    Output, one line:
      broker_forward mode=MODE records=N bytes=B seconds=S rate=R */
#include "broker_testlib.h"
#include "l3_curve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    bool curve = argc > 1 && strcmp(argv[1], "curve") == 0;
    long n = argc > 2 ? atol(argv[2]) : 100000;
    if ((argc > 1 && !curve && strcmp(argv[1], "plain") != 0) || n < 1) {
        fprintf(stderr, "usage: bench_broker [plain|curve] [N]\n");
        return 2;
    }
    int rc = 1;
    char dir[256] = "", extra[1200], key[400], pub[400], server_pub[400], own[300], id[128];
    char agent_id[80] = "bench-agent";
    bt_writer_t *writer = NULL;
    bt_agent_t *agent = NULL;
    bt_broker_t broker = {0};
    l3_buf_t rec, got;
    l3_buf_init(&rec, 0);
    l3_buf_init(&got, 0);
    if (!bt_tempdir(dir, sizeof dir) || !(writer = bt_writer_new()))
        goto cleanup;
    snprintf(extra, sizeof extra, "    curve = 0\n");
    if (curve) {
        char err[256], allowed[300];
        snprintf(own, sizeof own, "%s/own", dir);
        snprintf(allowed, sizeof allowed, "%s/allowed", dir);
        if (!l3_curve_keygen(own, "broker", false, NULL, server_pub, sizeof server_pub, err,
                             sizeof err) ||
            !l3_curve_keygen(allowed, "agent", false, key, pub, sizeof pub, err, sizeof err) ||
            !bt_bind(pub, BT_HOST) || !bt_bind(key, BT_HOST)) { /* both are in allowed */
            fprintf(stderr, "keygen: %s\n", err);
            goto cleanup;
        }
        snprintf(extra, sizeof extra,
                 "    curve = 1\n    server_cert = %s/broker.key\n    allowed_keys = %s\n", own,
                 allowed);
        zcert_t *cert = l3_curve_cert_load(pub);
        if (cert)
            l3_curve_agent_id(zcert_public_key(cert), agent_id);
        zcert_destroy(&cert);
    }
    if (!bt_broker_start(&broker, dir, "broker", writer, extra))
        goto cleanup;
    agent = curve ? bt_agent_new(&broker, agent_id, key, server_pub)
                  : bt_agent_new(&broker, agent_id, NULL, NULL);
    if (!agent)
        goto cleanup;
    bt_record(&rec, L3_RECORD_COMMAND, agent_id, 1, 1, "make -j2 all");
    if (!bt_agent_send(agent, &rec) || !bt_writer_recv(writer, id, sizeof id, &got, 5000)) {
        fprintf(stderr, "warm-up record did not arrive\n");
        goto cleanup;
    }
    size_t bytes = rec.len;

    void *push = zsock_resolve(agent->push);
    void *pull = zsock_resolve(writer->pull);
    long sent = 0, received = 0;
    int64_t start = zclock_usecs();
    int64_t deadline = zclock_mono() + 120000;
    while (received < n && zclock_mono() < deadline) {
        zmq_pollitem_t items[2] = {{pull, 0, ZMQ_POLLIN, 0},
                                   {push, 0, sent < n ? ZMQ_POLLOUT : 0, 0}};
        if (zmq_poll(items, 2, 1000) < 0)
            break;
        /* The record bytes are the same each time (the broker does not check seq), so
           the timed loop measures the broker, not our encoder. */
        while ((items[1].revents & ZMQ_POLLOUT) && sent < n &&
               zmq_send(push, rec.data, rec.len, ZMQ_DONTWAIT) == (int) rec.len)
            sent++;
        while (received < n && bt_writer_recv(writer, id, sizeof id, &got, 0))
            received++;
    }
    double seconds = (double) (zclock_usecs() - start) / 1e6;
    if (received < n) {
        fprintf(stderr, "only %ld of %ld records arrived\n", received, n);
        goto cleanup;
    }
    printf("broker_forward mode=%s records=%ld bytes=%zu seconds=%.3f rate=%.0f\n",
           curve ? "curve" : "plaintext", n, bytes, seconds, (double) n / seconds);
    rc = bt_broker_stop(&broker) ? 0 : 1;
cleanup:
    if (broker.pid)
        bt_broker_stop(&broker);
    bt_agent_destroy(&agent);
    bt_writer_destroy(&writer);
    l3_buf_free(&rec);
    l3_buf_free(&got);
    bt_rmtree(dir);
    return rc;
}
