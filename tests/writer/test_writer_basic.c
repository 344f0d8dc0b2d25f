/*  test_writer_basic — a real l3-writer: (a) records arrive and are acked only once they
    are in the file, the file is schema-valid, the id frame wins over the record's claim,
    bad messages are dropped with a log line naming the id frame; (b) duplicates are
    re-acked and written once, gaps nacked; (c) after a restart the dedup state is
    rebuilt from the datafile. */
#include "../l3_test.h"
#include "l3_time.h"
#include "l3_xmlrec.h"
#include "wtest.h"

#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#define AGENT "agent-a"
#define EPOCH 7

static void s_send(wt_t *t, l3_record_type_t type, uint64_t seq, const char *claimed)
{
    l3_record_t r;
    wt_record(&r, type, claimed ? claimed : AGENT, EPOCH, seq);
    CHECK(wt_send(t, AGENT, &r));
    l3_record_clear(&r);
}

static void s_agent_is_frame(const l3_record_t *r, void *arg)
{
    int *bad = arg;
    if (strcmp(r->agent, AGENT) != 0)
        (*bad)++;
}

/* The prefix [0, commit) of the datafile plus the footer is a valid document. */
static bool s_prefix_valid(wt_t *t, uint64_t commit)
{
    char path[600];
    return wt_copy_prefix(t, commit, path, sizeof path) && wt_schema_valid(path) &&
           wt_read_datafile(path, NULL, NULL) >= 0;
}

int main(void)
{
    wt_t t;
    if (!wt_setup(&t, "basic", "    batch_ms = 5\n")) {
        wt_teardown(&t);
        return 1;
    }
    CHECK(wt_start(&t));

    /* (a) 1 session, 48 commands, 1 end; acks never run ahead of the file. */
    s_send(&t, L3_RECORD_SESSION, 1, "somebody-else");
    for (uint64_t seq = 2; seq <= 49; seq++)
        s_send(&t, L3_RECORD_COMMAND, seq, NULL);
    s_send(&t, L3_RECORD_END, 50, NULL);
    int64_t deadline = l3_time_mono_us() + 10 * 1000000LL;
    uint64_t seen = 0;
    int ahead = 0;
    while (seen < 50 && l3_time_mono_us() < deadline) {
        wt_pump(&t, 50);
        wt_stream_t *s = wt_stream(&t, AGENT, EPOCH);
        if (s->acked > seen) {
            seen = s->acked;
            long on_disk = wt_check_stream(t.datafile, AGENT, EPOCH);
            if (on_disk < (long)seen)
                ahead++;
        }
    }
    CHECK_MSG(seen == 50, "acked %" PRIu64 " of 50", seen);
    CHECK_MSG(ahead == 0, "%d acks ran ahead of the file", ahead);
    CHECK(wt_check_stream(t.datafile, AGENT, EPOCH) == 50);
    int bad_agent = 0;
    CHECK(wt_read_datafile(t.datafile, s_agent_is_frame, &bad_agent) == 50);
    CHECK_MSG(bad_agent == 0, "record kept its claimed agent instead of the id frame");
    CHECK(wt_schema_valid(t.datafile));
    /* "$commit" names the end of the last record: the footer follows it. */
    uint64_t before = t.commits;
    while (t.commits < before + 2 && l3_time_mono_us() < deadline + 5 * 1000000LL)
        wt_pump(&t, 50);
    struct stat st;
    CHECK(stat(t.datafile, &st) == 0);
    CHECK_MSG((uint64_t)st.st_size == t.commit + strlen(L3_XML_FOOTER),
              "size %lld commit %" PRIu64, (long long)st.st_size, t.commit);
    CHECK(s_prefix_valid(&t, t.commit));

    /* Bad messages: dropped, logged with the id frame, the writer goes on. */
    CHECK(wt_send_raw(&t, "evil-one", 8, "\x81\xa1v\x02", 4));
    CHECK(wt_send_raw(&t, "lonely-frame", 12, NULL, 0));
    CHECK(wt_send_raw(&t, "bad id!", 7, "x", 1));
    CHECK(wt_wait_log(&t, "evil-one", 5000));
    CHECK(wt_wait_log(&t, "lonely-frame", 5000));
    CHECK(wt_wait_log(&t, "bad id!", 5000));

    /* (b) A duplicate is re-acked and not written again. */
    wt_stream_t *s = wt_stream(&t, AGENT, EPOCH);
    uint64_t acks = s->acks;
    s_send(&t, L3_RECORD_COMMAND, 10, NULL);
    deadline = l3_time_mono_us() + 5 * 1000000LL;
    while (s->acks == acks && l3_time_mono_us() < deadline)
        wt_pump(&t, 50);
    CHECK_MSG(s->acks > acks, "duplicate not re-acked");
    CHECK(s->acked == 50);
    /* A gap is nacked with the expected seq and not written. */
    s_send(&t, L3_RECORD_COMMAND, 60, NULL);
    CHECK(wt_wait_nack(&t, AGENT, EPOCH, 5000));
    CHECK_MSG(s->nacked == 51, "nack %" PRIu64, s->nacked);
    /* Then the right one, and a pending duplicate inside one batch. */
    s_send(&t, L3_RECORD_COMMAND, 51, NULL);
    s_send(&t, L3_RECORD_COMMAND, 52, NULL);
    s_send(&t, L3_RECORD_COMMAND, 52, NULL);
    CHECK(wt_wait_ack(&t, AGENT, EPOCH, 52, 5000));
    CHECK(wt_check_stream(t.datafile, AGENT, EPOCH) == 52);

    /* (c) Restart: the stream table comes back from the datafile. */
    CHECK(wt_stop(&t, SIGTERM) == 0);
    CHECK(wt_start(&t));
    acks = s->acks;
    s_send(&t, L3_RECORD_COMMAND, 52, NULL);
    deadline = l3_time_mono_us() + 5 * 1000000LL;
    while (s->acks == acks && l3_time_mono_us() < deadline)
        wt_pump(&t, 50);
    CHECK_MSG(s->acks > acks && s->acked == 52, "duplicate after restart not re-acked");
    s_send(&t, L3_RECORD_COMMAND, 54, NULL);
    CHECK(wt_wait_nack(&t, AGENT, EPOCH, 5000));
    CHECK_MSG(s->nacked == 53, "nack after restart %" PRIu64, s->nacked);
    s_send(&t, L3_RECORD_COMMAND, 53, NULL);
    CHECK(wt_wait_ack(&t, AGENT, EPOCH, 53, 5000));
    /* Another epoch of the same agent is a new stream from 1. */
    l3_record_t r;
    wt_record(&r, L3_RECORD_SESSION, AGENT, EPOCH + 1, 1);
    CHECK(wt_send(&t, AGENT, &r));
    l3_record_clear(&r);
    CHECK(wt_wait_ack(&t, AGENT, EPOCH + 1, 1, 5000));
    CHECK(wt_check_stream(t.datafile, AGENT, EPOCH) == 53);
    CHECK(wt_check_stream(t.datafile, AGENT, EPOCH + 1) == 1);
    CHECK(wt_stop(&t, SIGTERM) == 0);
    CHECK(wt_schema_valid(t.datafile));
    CHECK(wt_log_has(&t, "3 records, 0 gaps") || wt_log_has(&t, "stopping"));
    wt_teardown(&t);
    TEST_DONE();
}
