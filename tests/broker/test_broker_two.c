/*  Two brokers feeding one fake writer: each agent's records arrive under its own id
    through its own broker, interleaved but each stream in order, and the writer's acks
    reach each agent through its broker. */
#include "broker_testlib.h"
#include "l3_test.h"

#include <string.h>

#define PER_AGENT 200

int main(void)
{
    char dir[256] = "", id[128];
    bt_writer_t *writer = NULL;
    bt_agent_t *a = NULL, *b = NULL;
    bt_broker_t ba = {0}, bb = {0};
    l3_buf_t rec, got;
    l3_buf_init(&rec, 0);
    l3_buf_init(&got, 0);

    CHECK(bt_tempdir(dir, sizeof dir));
    writer = bt_writer_new();
    if (!writer)
        goto cleanup;
    CHECK(bt_broker_start(&ba, dir, "broker-a", writer, NULL));
    CHECK(bt_broker_start(&bb, dir, "broker-b", writer, NULL));
    if (!ba.pid || !bb.pid)
        goto cleanup;
    a = bt_agent_new(&ba, "agent-a", NULL, NULL);
    b = bt_agent_new(&bb, "agent-b", NULL, NULL);
    for (uint64_t seq = 1; seq <= PER_AGENT; seq++) {
        bt_record(&rec, L3_RECORD_COMMAND, "agent-a", 1, seq, "make -C a");
        CHECK(bt_agent_send(a, &rec));
        bt_record(&rec, L3_RECORD_COMMAND, "agent-b", 2, seq, "make -C b");
        CHECK(bt_agent_send(b, &rec));
    }
    uint64_t next_a = 1, next_b = 1;
    for (int i = 0; i < 2 * PER_AGENT; i++) {
        bool ok = bt_writer_recv(writer, id, sizeof id, &got, 5000);
        CHECK_MSG(ok, "only %d of %d records arrived", i, 2 * PER_AGENT);
        if (!ok)
            break;
        l3_msg_t m;
        l3_msg_init(&m);
        char err[128];
        CHECK(l3_msg_decode(got.data, got.len, &m, err, sizeof err));
        if (strcmp(id, "agent-a") == 0) {
            CHECK(m.record.epoch == 1 && m.record.seq == next_a);
            next_a++;
        } else if (strcmp(id, "agent-b") == 0) {
            CHECK(m.record.epoch == 2 && m.record.seq == next_b);
            next_b++;
        } else
            CHECK_MSG(false, "unexpected id %s", id);
        l3_msg_clear(&m);
    }
    CHECK(next_a == PER_AGENT + 1 && next_b == PER_AGENT + 1);

    /* Both brokers subscribe to everything upstream (their capture shows acks), so an ack
       published now reaches both; each broker's XPUB passes it to its own agent only. */
    CHECK(bt_writer_wait_sub(writer, "", 2, 5000));
    CHECK(bt_writer_wait_sub(writer, "agent-a", 1, 5000));
    CHECK(bt_writer_wait_sub(writer, "agent-b", 1, 5000));
    CHECK(bt_writer_ack(writer, "agent-a", 1, PER_AGENT));
    CHECK(bt_writer_ack(writer, "agent-b", 2, PER_AGENT));
    l3_msg_t ack;
    l3_msg_init(&ack);
    CHECK(bt_agent_recv_ack(a, &ack, 5000) && !strcmp(ack.agent, "agent-a") &&
          ack.seq == PER_AGENT);
    l3_msg_clear(&ack);
    CHECK(bt_agent_recv_ack(b, &ack, 5000) && !strcmp(ack.agent, "agent-b") &&
          ack.seq == PER_AGENT);
    l3_msg_clear(&ack);
    /* Nothing else for either of them. */
    CHECK(!bt_agent_recv_ack(a, &ack, 200));
    CHECK(!bt_agent_recv_ack(b, &ack, 200));
    CHECK(bt_broker_stop(&ba));
    CHECK(bt_broker_stop(&bb));
    CHECK(bt_file_count(ba.log, "stopping: 200 records forwarded") == 1);
    CHECK(bt_file_count(bb.log, "stopping: 200 records forwarded") == 1);

cleanup:
    if (ba.pid)
        bt_broker_stop(&ba);
    if (bb.pid)
        bt_broker_stop(&bb);
    bt_agent_destroy(&a);
    bt_agent_destroy(&b);
    bt_writer_destroy(&writer);
    l3_buf_free(&rec);
    l3_buf_free(&got);
    bt_rmtree(dir);
    TEST_DONE();
}
