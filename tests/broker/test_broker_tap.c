/*  l3-tap against a real broker: known records and an ack go through, and four taps
    print what is expected — text (endpoint from the config), JSON, a --type filter and a
    --host filter — each exiting by itself after --count lines. */
#include "broker_testlib.h"
#include "l3_test.h"

#include <string.h>

static pid_t s_tap(const char *out, const char *a1, const char *a2, const char *a3,
                   const char *a4, const char *a5, const char *a6)
{
    char bin[512];
    bt_bin("l3-tap", bin, sizeof bin);
    char *argv[] = {bin, (char *) a1, (char *) a2, (char *) a3, (char *) a4, (char *) a5,
                    (char *) a6, NULL};
    return bt_spawn(argv, out, NULL);
}

/* The file's lines without their first field (the time the tap saw them). */
static bool s_lines_equal(const char *path, const char *const *want, int n)
{
    char *text = bt_file_read(path);
    bool ok = text != NULL;
    char *line = text;
    for (int i = 0; ok && i < n; i++) {
        char *end = line ? strchr(line, '\n') : NULL;
        char *space = line ? strchr(line, ' ') : NULL;
        if (!end || !space || space > end) {
            fprintf(stderr, "%s: line %d missing\n", path, i + 1);
            ok = false;
            break;
        }
        *end = '\0';
        if (strcmp(space + 1, want[i]) != 0) {
            fprintf(stderr, "%s: line %d\n  got  %s\n  want %s\n", path, i + 1, space + 1,
                    want[i]);
            ok = false;
        }
        line = end + 1;
    }
    if (ok && line && *line) {
        fprintf(stderr, "%s: extra output: %s\n", path, line);
        ok = false;
    }
    free(text);
    return ok;
}

int main(void)
{
    char dir[256] = "", id[128], out1[300], out2[300], out3[300], out4[300], ep[64], count[8];
    bt_writer_t *writer = NULL;
    bt_agent_t *agent = NULL;
    bt_broker_t broker = {0};
    pid_t taps[4] = {0};
    l3_buf_t rec, got;
    l3_buf_init(&rec, 0);
    l3_buf_init(&got, 0);

    CHECK(bt_tempdir(dir, sizeof dir));
    writer = bt_writer_new();
    if (!writer)
        goto cleanup;
    CHECK(bt_broker_start(&broker, dir, "broker", writer, NULL));
    if (!broker.pid)
        goto cleanup;
    snprintf(out1, sizeof out1, "%s/text.out", dir);
    snprintf(out2, sizeof out2, "%s/json.out", dir);
    snprintf(out3, sizeof out3, "%s/type.out", dir);
    snprintf(out4, sizeof out4, "%s/host.out", dir);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", broker.capture_port);
    snprintf(count, sizeof count, "4");
    taps[0] = s_tap(out1, "-c", broker.cfg, "--count", count, NULL, NULL);
    taps[1] = s_tap(out2, "--endpoint", ep, "--json", "--count", count, NULL);
    taps[2] = s_tap(out3, "-c", broker.cfg, "--type", "command,ack", "--count", "2");
    taps[3] = s_tap(out4, "-c", broker.cfg, "--host", "lab01", "--count", "3");
    /* Subscriptions: rec+ack for the first three, rec only with --host. */
    CHECK(bt_wait_file_count(broker.log, "capture: a tap subscribed", 7, 5000));

    agent = bt_agent_new(&broker, "agent-1", NULL, NULL);
    bt_record(&rec, L3_RECORD_SESSION, "agent-1", 5, 1, NULL);
    CHECK(bt_agent_send(agent, &rec));
    bt_record(&rec, L3_RECORD_COMMAND, "agent-1", 5, 2, "ls -l \"/tmp\"\t\x1b[A");
    CHECK(bt_agent_send(agent, &rec));
    bt_record(&rec, L3_RECORD_END, "agent-1", 5, 3, NULL);
    CHECK(bt_agent_send(agent, &rec));
    for (int i = 0; i < 3; i++)
        CHECK(bt_writer_recv(writer, id, sizeof id, &got, 5000));
    CHECK(bt_writer_ack(writer, "agent-1", 5, 3));

    for (int i = 0; i < 4; i++)
        CHECK_MSG(bt_wait_exit(taps[i], 10000) == 0, "tap %d did not finish", i);

    static const char *const text[] = {
        "rec agent-1 session host=lab01 user=alice sid=20261124T211144-4242-beef seq=1",
        ("rec agent-1 command host=lab01 user=alice sid=20261124T211144-4242-beef seq=2 "
         "exit=0 cmd=\"ls -l \\\"/tmp\\\"\\t\\x1b[A\""),
        "rec agent-1 end host=lab01 user=alice sid=20261124T211144-4242-beef seq=3 exit=0",
        "ack agent-1 ack epoch=5 seq=3",
    };
    CHECK(s_lines_equal(out1, text, 4));
    const char *const typed[] = {text[1], text[3]};
    CHECK(s_lines_equal(out3, typed, 2));
    CHECK(s_lines_equal(out4, text, 3));

    CHECK(bt_file_count(out2, "\n") == 4);
    CHECK(bt_file_count(out2, "{\"time\":\"") == 4);
    CHECK(bt_file_count(out2, "\"dir\":\"rec\",\"agent\":\"agent-1\",\"type\":\"session\","
                              "\"a\":\"agent-1\",\"epoch\":5,\"seq\":1,\"host\":\"lab01\"") == 1);
    CHECK(bt_file_count(out2, "\"tty\":\"/dev/pts/3\",\"shell\":\"/bin/bash\"") == 1);
    CHECK(bt_file_count(out2, "\"cmd\":\"ls -l \\\"/tmp\\\"\\t\\u001b[A\"") == 1);
    CHECK(bt_file_count(out2, "\"cwd\":\"/home/alice/lab\"") == 1);
    CHECK(bt_file_count(out2, "\"output\":\"total 12\\r\\ndrwxr-xr-x") == 1);
    CHECK(bt_file_count(out2, "\"type\":\"end\"") == 1);
    CHECK(bt_file_count(out2, "\"dir\":\"ack\",\"agent\":\"agent-1\",\"type\":\"ack\","
                              "\"a\":\"agent-1\",\"epoch\":5,\"seq\":3}") == 1);
    CHECK(bt_broker_stop(&broker));

cleanup:
    for (int i = 0; i < 4; i++)
        if (taps[i] > 0 && bt_alive(taps[i]))
            bt_stop(taps[i], 2000);
    if (broker.pid)
        bt_broker_stop(&broker);
    bt_agent_destroy(&agent);
    bt_writer_destroy(&writer);
    l3_buf_free(&rec);
    l3_buf_free(&got);
    bt_rmtree(dir);
    TEST_DONE();
}
