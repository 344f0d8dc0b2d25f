/*  test_writer_crash — (d) kill -9 of a real l3-writer during heavy writes, several times,
    and artificially torn tails: every restart recovers, every acknowledged record is in
    the file exactly once (checked right after each restart through the committed offset,
    as a reader would, and at the end on the whole file), and the file is schema-valid.
    The client behaves like an agent: a window of unacked records, go-back-N on nack,
    reconnect or silence. */
#include "../l3_test.h"
#include "l3_time.h"
#include "l3_xmlrec.h"
#include "wtest.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AGENT "crashy"
#define EPOCH 99
#define TOTAL 20000
#define WINDOW 3000

static void s_send(wt_t *t, uint64_t seq)
{
    l3_record_t r;
    wt_record(&r, seq == 1 ? L3_RECORD_SESSION : L3_RECORD_COMMAND, AGENT, EPOCH, seq);
    if (!wt_send(t, AGENT, &r))
        fprintf(stderr, "send %" PRIu64 " failed\n", seq);
    l3_record_clear(&r);
}

/* Right after a restart: everything acked before the crash is below the committed
   offset the new writer publishes, once each. */
static void s_check_after_restart(wt_t *t, uint64_t acked)
{
    char prefix[600];
    CHECK(wt_copy_prefix(t, t->commit, prefix, sizeof prefix));
    long on_disk = wt_check_stream_fast(prefix, AGENT, EPOCH);
    CHECK_MSG(on_disk >= (long)acked, "acked %" PRIu64 " but %ld in the committed file", acked,
              on_disk);
}

/* Send records up to `upto` until all are acked; kill -9 the writer each time the ack
   passes one of kill_at[] and restart it. */
static void s_run(wt_t *t, uint64_t from, uint64_t upto, const uint64_t *kill_at, int nkill)
{
    wt_stream_t *s = wt_stream(t, AGENT, EPOCH);
    uint64_t next = from;
    uint64_t nacks = s->nacks;
    int k = 0;
    int64_t last_progress = l3_time_mono_us(), deadline = last_progress + 45 * 1000000LL;
    uint64_t last_acked = s->acked;
    while (s->acked < upto && l3_time_mono_us() < deadline) {
        while (next <= upto && next <= s->acked + WINDOW)
            s_send(t, next++);
        wt_pump(t, 5);
        if (s->nacks != nacks) {
            nacks = s->nacks;
            if (s->nacked && s->nacked < next)
                next = s->nacked;
        }
        int64_t now = l3_time_mono_us();
        if (s->acked != last_acked) {
            last_acked = s->acked;
            last_progress = now;
        } else if (now - last_progress > 500000) {
            next = s->acked + 1; /* ack timeout: resend from the first unacked */
            last_progress = now;
        }
        if (k < nkill && s->acked >= kill_at[k]) {
            uint64_t acked = s->acked;
            CHECK(wt_stop(t, SIGKILL) == 128 + SIGKILL);
            CHECK(wt_start(t));
            s_check_after_restart(t, acked);
            next = s->acked + 1; /* reconnect: resend from the first unacked */
            k++;
        }
    }
    CHECK_MSG(s->acked >= upto, "acked %" PRIu64 " of %" PRIu64, s->acked, upto);
    CHECK_MSG(k == nkill, "%d of %d kills done", k, nkill);
}

static void s_append(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, data, len) == (ssize_t)len);
    if (fd >= 0)
        close(fd);
}

int main(void)
{
    wt_t t;
    if (!wt_setup(&t, "crash", "    batch_ms = 2\n    batch_records = 500\n")) {
        wt_teardown(&t);
        return 1;
    }
    CHECK(wt_start(&t));
    const uint64_t kills[] = {2000, 6000, 11000, 16000};
    s_run(&t, 1, TOTAL, kills, 4);
    CHECK(wt_stop(&t, SIGKILL) == 128 + SIGKILL);
    long n;
    /* The last kill may have left a torn tail: the restart below repairs it. */
    CHECK(wt_start(&t));
    CHECK(wt_stop(&t, SIGTERM) == 0);
    n = wt_check_stream(t.datafile, AGENT, EPOCH);
    CHECK_MSG(n == TOTAL, "stream holds %ld records, expected %d", n, TOTAL);
    CHECK(wt_schema_valid(t.datafile));

    /* Torn tails made by hand: half a record line plus garbage; a garbage line after the
       footer; a footer cut short. Each restart recovers and the stream goes on. */
    struct stat st;
    uint64_t seq = TOTAL;
    for (int variant = 0; variant < 3; variant++) {
        CHECK(stat(t.datafile, &st) == 0);
        if (variant == 0) {
            CHECK(truncate(t.datafile, st.st_size - (off_t)strlen(L3_XML_FOOTER)) == 0);
            const char torn[] = "<command agent=\"crashy\" epoch=\"99\" seq=\"99999\" host=\"h\" "
                                "us\0\xff\xfe garbage";
            s_append(t.datafile, torn, sizeof torn - 1);
        } else if (variant == 1) {
            s_append(t.datafile, "<junk>\n\0\0\0\0\n", 13);
        } else {
            CHECK(truncate(t.datafile, st.st_size - 4) == 0);
        }
        CHECK(wt_start(&t));
        s_check_after_restart(&t, seq);
        s_run(&t, seq + 1, seq + 100, NULL, 0);
        seq += 100;
        CHECK(wt_stop(&t, SIGTERM) == 0);
        CHECK(wt_check_stream_fast(t.datafile, AGENT, EPOCH) == (long)seq);
    }
    CHECK(wt_check_stream(t.datafile, AGENT, EPOCH) == (long)seq);
    CHECK(wt_schema_valid(t.datafile));
    CHECK(wt_log_has(&t, "recovering"));
    CHECK(wt_log_has(&t, ".torn-"));
    wt_teardown(&t);
    TEST_DONE();
}
