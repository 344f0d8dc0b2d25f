/*  Plaintext forwarding through a real l3-broker: records pushed by a test agent reach the
    fake writer as [agent id][the same bytes], acks published by the writer reach the
    agent's SUB through the broker, and the broker holds records back (instead of dropping
    them) while no writer is there. */
#include "broker_testlib.h"
#include "l3_test.h"

#include <string.h>

int main(void)
{
    char dir[256] = "";
    bt_writer_t *writer = NULL;
    bt_agent_t *agent = NULL;
    bt_broker_t broker = {0};
    l3_buf_t rec, got;
    l3_buf_init(&rec, 0);
    l3_buf_init(&got, 0);
    char id[128];

    CHECK(bt_tempdir(dir, sizeof dir));
    writer = bt_writer_new();
    CHECK(writer);
    if (!writer)
        goto cleanup;
    CHECK(bt_broker_start(&broker, dir, "broker", writer, NULL));
    if (!broker.pid)
        goto cleanup;
    agent = bt_agent_new(&broker, "agent-1", NULL, NULL);

    /* Records: frame 1 is the claimed id (plaintext), frame 2 the agent's bytes. */
    for (uint64_t seq = 1; seq <= 50; seq++) {
        bt_record(&rec, L3_RECORD_COMMAND, "agent-1", 77, seq, "ls -l /tmp");
        CHECK(bt_agent_send(agent, &rec));
        bool ok = bt_writer_recv(writer, id, sizeof id, &got, 5000);
        CHECK_MSG(ok, "record %d did not arrive", (int) seq);
        if (!ok)
            break;
        CHECK_MSG(strcmp(id, "agent-1") == 0, "frame 1 is '%s'", id);
        CHECK(got.len == rec.len && memcmp(got.data, rec.data, rec.len) == 0);
    }

    /* Acks: the agent's subscription travels broker XPUB -> XSUB -> writer. */
    CHECK(bt_writer_wait_sub(writer, "agent-1", 1, 5000));
    CHECK(bt_writer_ack(writer, "agent-1", 77, 50));
    CHECK(bt_writer_ack(writer, "someone-else", 1, 1)); /* not for our agent */
    CHECK(bt_writer_ack(writer, "agent-1", 77, 51));
    l3_msg_t ack;
    l3_msg_init(&ack);
    CHECK(bt_agent_recv_ack(agent, &ack, 5000));
    CHECK(ack.kind == L3_MSG_ACK && strcmp(ack.agent, "agent-1") == 0 && ack.epoch == 77 &&
          ack.seq == 50);
    l3_msg_clear(&ack);
    CHECK(bt_agent_recv_ack(agent, &ack, 5000));
    CHECK(ack.kind == L3_MSG_ACK && ack.seq == 51); /* someone-else's was not delivered */
    l3_msg_clear(&ack);

    /* Writer gone: the broker logs it and holds records back; when a writer binds the
       same ports again, they all arrive, none lost in the broker. */
    int wport = writer->port, wack = writer->ack_port;
    bt_writer_destroy(&writer);
    CHECK(bt_wait_file_count(broker.log, "not reachable", 1, 5000));
    for (uint64_t seq = 51; seq <= 60; seq++) {
        bt_record(&rec, L3_RECORD_COMMAND, "agent-1", 77, seq, "echo held");
        CHECK(bt_agent_send(agent, &rec));
    }
    writer = zmalloc(sizeof *writer);
    writer->pull = zsock_new(ZMQ_PULL);
    writer->pub = zsock_new(ZMQ_XPUB);
    writer->port = zsock_bind(writer->pull, "tcp://127.0.0.1:%d", wport);
    writer->ack_port = zsock_bind(writer->pub, "tcp://127.0.0.1:%d", wack);
    CHECK(writer->port == wport);
    for (uint64_t seq = 51; seq <= 60; seq++) {
        bool ok = bt_writer_recv(writer, id, sizeof id, &got, 10000);
        CHECK_MSG(ok, "held record %d did not arrive", (int) seq);
        if (!ok)
            break;
        l3_msg_t m;
        l3_msg_init(&m);
        char err[128];
        CHECK(l3_msg_decode(got.data, got.len, &m, err, sizeof err) && m.record.seq == seq);
        l3_msg_clear(&m);
    }
    CHECK(bt_wait_file_count(broker.log, "reachable, forwarding", 1, 5000));
    CHECK(bt_broker_stop(&broker)); /* clean exit on SIGTERM */
    CHECK(bt_file_count(broker.log, "stopping: 60 records forwarded, 0 rejected") == 1);

cleanup:
    if (broker.pid)
        bt_broker_stop(&broker);
    bt_agent_destroy(&agent);
    bt_writer_destroy(&writer);
    l3_buf_free(&rec);
    l3_buf_free(&got);
    bt_rmtree(dir);
    TEST_DONE();
}
