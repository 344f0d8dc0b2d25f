/*  A tap that stops reading must not stall the data path: with a SUB connected to the
    capture socket that never reads (tiny HWM and kernel buffer), many ~300-byte records
    all reach the fake writer, in order; and the stalled tap got fewer than were sent,
    which shows the capture socket dropped instead of waiting. */
#include "broker_testlib.h"
#include "l3_test.h"

#include <string.h>

#define RECORDS 30000

int main(void)
{
    char dir[256] = "", id[128];
    bt_writer_t *writer = NULL;
    bt_agent_t *agent = NULL;
    zsock_t *tap = NULL;
    bt_broker_t broker = {0};
    l3_buf_t rec, got;
    l3_buf_init(&rec, 0);
    l3_buf_init(&got, 0);

    CHECK(bt_tempdir(dir, sizeof dir));
    writer = bt_writer_new();
    if (!writer)
        goto cleanup;
    CHECK(bt_broker_start(&broker, dir, "broker", writer, "    curve = 0\n    capture_hwm = 100\n"));
    if (!broker.pid)
        goto cleanup;

    tap = zsock_new(ZMQ_SUB);
    zsock_set_rcvhwm(tap, 1);
    zsock_set_rcvbuf(tap, 4096);
    zsock_set_subscribe(tap, "");
    zsock_connect(tap, "tcp://127.0.0.1:%d", broker.capture_port);
    CHECK(bt_wait_file_count(broker.log, "capture: a tap subscribed", 1, 5000));

    agent = bt_agent_new(&broker, "agent-1", NULL, NULL);
    void *push = zsock_resolve(agent->push);
    void *pull = zsock_resolve(writer->pull);
    uint64_t sent = 0, received = 0;
    int64_t deadline = zclock_mono() + 40000;
    while (received < RECORDS && zclock_mono() < deadline) {
        zmq_pollitem_t items[2] = {{pull, 0, ZMQ_POLLIN, 0},
                                   {push, 0, sent < RECORDS ? ZMQ_POLLOUT : 0, 0}};
        if (zmq_poll(items, 2, 1000) < 0)
            break;
        if (items[1].revents & ZMQ_POLLOUT) {
            bt_record(&rec, L3_RECORD_COMMAND, "agent-1", 5, sent + 1, "cat /etc/motd");
            if (zmq_send(push, rec.data, rec.len, ZMQ_DONTWAIT) == (int) rec.len)
                sent++;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            while (bt_writer_recv(writer, id, sizeof id, &got, 0)) {
                l3_msg_t m;
                l3_msg_init(&m);
                char err[128];
                bool ok = l3_msg_decode(got.data, got.len, &m, err, sizeof err) &&
                          m.record.seq == received + 1;
                l3_msg_clear(&m);
                CHECK_MSG(ok, "record %d missing or out of order", (int) received + 1);
                if (!ok)
                    goto cleanup;
                received++;
            }
        }
    }
    CHECK_MSG(received == RECORDS, "%d of %d records reached the writer", (int) received,
              RECORDS);
    CHECK(rec.len > 250 && rec.len < 400);

    /* What the stalled tap holds: a bounded amount, not everything. */
    int tapped = 0;
    zsock_set_rcvtimeo(tap, 300);
    zmsg_t *msg;
    while ((msg = zmsg_recv(tap))) {
        tapped++;
        zmsg_destroy(&msg);
    }
    CHECK_MSG(tapped > 0 && tapped < RECORDS, "stalled tap got %d of %d", tapped, RECORDS);
    printf("stalled tap received %d of %d records\n", tapped, RECORDS);
    CHECK(bt_broker_stop(&broker));

cleanup:
    if (broker.pid)
        bt_broker_stop(&broker);
    zsock_destroy(&tap);
    bt_agent_destroy(&agent);
    bt_writer_destroy(&writer);
    l3_buf_free(&rec);
    l3_buf_free(&got);
    bt_rmtree(dir);
    TEST_DONE();
}
