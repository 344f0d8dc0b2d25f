/*  test_writer_checkpoint — the stream table saved beside the datafile (checkpoint.h).

    Units: checkpoint_parse takes a file the writer saved and refuses every damaged one
    (any byte flipped, cut short, lines out of order) without handing out a stream.

    A real l3-writer: a restart after a clean stop scans nothing; after kill -9 between
    checkpoints it scans only what came after the last one; a torn or edited checkpoint,
    a datafile restored from an older copy (shorter than the checkpoint's offset) and a
    datafile whose bytes before the offset changed are all scanned whole. Each time the
    stream table must be the file's: records on disk are acknowledged as duplicates and
    not written again, the next record is written, and in the end every stream holds each
    seq exactly once. A checkpoint trusted wrongly would show here as records acknowledged
    and never written (the restored file) or written twice. */
#include "../l3_test.h"
#include "checkpoint.h"
#include "l3_sha256.h"
#include "l3_time.h"
#include "wtest.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- units ---- */

typedef struct {
    int calls;
    char agents[8][L3_ID_MAX + 1];
    uint64_t epochs[8], seqs[8];
} s_seen_t;

static bool s_take(const char *agent, uint64_t epoch, uint64_t seq, void *arg)
{
    s_seen_t *seen = arg;
    if (seen->calls < 8) {
        snprintf(seen->agents[seen->calls], sizeof seen->agents[0], "%s", agent);
        seen->epochs[seen->calls] = epoch;
        seen->seqs[seen->calls] = seq;
    }
    seen->calls++;
    return true;
}

/* body + "sha256 <hex of body>\n" */
static size_t s_seal(const char *body, char *out, size_t size)
{
    uint8_t d[L3_SHA256_LEN];
    l3_sha256(body, strlen(body), d);
    int n = snprintf(out, size, "%s", body);
    n += snprintf(out + n, size - (size_t)n, "sha256 ");
    for (int i = 0; i < L3_SHA256_LEN; i++)
        n += snprintf(out + n, size - (size_t)n, "%02x", d[i]);
    n += snprintf(out + n, size - (size_t)n, "\n");
    return (size_t)n;
}

#define S_TAIL "0221545ed5c570bf6693326e89333db722963fc9a5d10209d3139125d950c7b3"

static void s_units(void)
{
    char text[2048], why[192];
    datafile_resume_t r;
    s_seen_t seen;
    const char *good = "lilalo-writer-checkpoint 2\npart 3\noffset 5000\nrecords 12\ncommands 7\ntail " S_TAIL
                       "\nstreams 2\nlab-01 77 10\nhost.b:x 18446744073709551615 2\n";
    size_t len = s_seal(good, text, sizeof text);
    memset(&seen, 0, sizeof seen);
    memset(&r, 0, sizeof r);
    CHECK_MSG(checkpoint_parse(text, len, &r, s_take, &seen, why, sizeof why), "%s", why);
    CHECK(r.part == 3 && r.offset == 5000 && r.records == 12 && r.commands == 7 &&
          r.tail_sha256[0] == 0x02 &&
          r.tail_sha256[31] == 0xb3);
    CHECK(seen.calls == 2 && !strcmp(seen.agents[0], "lab-01") && seen.epochs[0] == 77 &&
          seen.seqs[0] == 10 && !strcmp(seen.agents[1], "host.b:x") &&
          seen.epochs[1] == UINT64_MAX && seen.seqs[1] == 2);

    //  Every byte flipped, and every prefix: refused, and no stream handed out.
    for (size_t i = 0; i < len; i++) {
        char bad[2048];
        memcpy(bad, text, len);
        bad[i] ^= 0x01;
        memset(&seen, 0, sizeof seen);
        CHECK_MSG(!checkpoint_parse(bad, len, &r, s_take, &seen, why, sizeof why) &&
                      seen.calls == 0,
                  "byte %zu flipped was accepted", i);
        CHECK_MSG(!checkpoint_parse(text, i, &r, s_take, &seen, why, sizeof why) && seen.calls == 0,
                  "a prefix of %zu bytes was accepted", i);
    }

    //  Well sealed but wrong inside: each is refused with a reason.
    const char *wrong[] = {
        "lilalo-writer-checkpoint 3\npart 0\noffset 5000\nrecords 1\ncommands 0\ntail " S_TAIL "\nstreams 0\n",
        "lilalo-writer-checkpoint 1\noffset 5000\nrecords 1\ntail " S_TAIL "\nstreams 0\n",
        "lilalo-writer-checkpoint 2\noffset 5000\nrecords 1\ncommands 0\ntail " S_TAIL "\nstreams 0\n",
        "lilalo-writer-checkpoint 2\npart 0\noffset 5000\nrecords 1\ncommands 2\ntail " S_TAIL "\nstreams 0\n",
        "lilalo-writer-checkpoint 2\npart 0\noffset 5000\nrecords 1\ntail " S_TAIL "\nstreams 0\n",
        "lilalo-writer-checkpoint 2\npart 0\nrecords 1\ncommands 0\noffset 5000\ntail " S_TAIL "\nstreams 0\n",
        "lilalo-writer-checkpoint 2\npart 0\noffset 5000\nrecords 1\ncommands 0\ntail " S_TAIL "\nstreams 2\na 1 1\n",
        "lilalo-writer-checkpoint 2\npart 0\noffset 5000\nrecords 1\ncommands 0\ntail " S_TAIL "\nstreams 1\na/b 1 1\n",
        "lilalo-writer-checkpoint 2\npart 0\noffset 5000\nrecords 1\ncommands 0\ntail " S_TAIL "\nstreams 1\na 1 0\n",
        "lilalo-writer-checkpoint 2\npart 0\noffset 5000\nrecords 1\ncommands 0\ntail " S_TAIL "\nstreams 1\na 01 1\n",
        "lilalo-writer-checkpoint 2\npart 0\noffset 5000\nrecords 1\ncommands 0\ntail " S_TAIL "\nstreams 1\na 1 1 1\n",
        "lilalo-writer-checkpoint 2\npart 0\noffset 5000\nrecords 1\ncommands 0\ntail " S_TAIL
        "\nstreams 1\na 18446744073709551616 1\n",
        "lilalo-writer-checkpoint 2\npart 0\noffset 5000\nrecords 1\ncommands 0\ntail 00\nstreams 0\n",
        "lilalo-writer-checkpoint 2\npart 0\noffset 5\nrecords 9\ncommands 0\ntail " S_TAIL "\nstreams 0\n",
        "lilalo-writer-checkpoint 2\npart 0\noffset -5\nrecords 1\ncommands 0\ntail " S_TAIL "\nstreams 0\n",
    };
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++) {
        len = s_seal(wrong[i], text, sizeof text);
        memset(&seen, 0, sizeof seen);
        why[0] = '\0';
        CHECK_MSG(!checkpoint_parse(text, len, &r, s_take, &seen, why, sizeof why) &&
                      seen.calls == 0 && why[0],
                  "case %zu accepted", i);
    }
}

/* ---- a real writer ---- */

#define A "ckpt-a"
#define B "ckpt-b"
#define EA 11
#define EB 22

static void s_send(wt_t *t, const char *agent, uint64_t epoch, uint64_t seq)
{
    l3_record_t r;
    wt_record(&r, seq == 1 ? L3_RECORD_SESSION : L3_RECORD_COMMAND, agent, epoch, seq);
    CHECK(wt_send(t, agent, &r));
    l3_record_clear(&r);
}

/* Send seqs from..to of both streams and wait until both are acked to `to`. */
static void s_fill(wt_t *t, uint64_t from, uint64_t to)
{
    for (uint64_t seq = from; seq <= to; seq++) {
        s_send(t, A, EA, seq);
        s_send(t, B, EB, seq);
    }
    CHECK_MSG(wt_wait_ack(t, A, EA, to, 20000) && wt_wait_ack(t, B, EB, to, 20000),
              "records up to %" PRIu64 " not acknowledged", to);
}

/* The committed offset the checkpoint file names (its "offset N" line), 0 when none. */
static uint64_t s_ckpt_offset(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long off = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "offset %llu", &off) == 1)
            break;
    fclose(f);
    return off;
}

/* The last line of the writer's log that contains text, in out ("" when none). */
static void s_last_log(wt_t *t, const char *text, char *out, size_t size)
{
    out[0] = '\0';
    FILE *f = fopen(t->log, "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f))
        if (strstr(line, text))
            snprintf(out, size, "%s", line);
    fclose(f);
}

static long s_log_lines(wt_t *t, const char *text)
{
    long n = 0;
    FILE *f = fopen(t->log, "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, text) != NULL;
    if (f)
        fclose(f);
    return n;
}

/* Bytes scanned after the checkpoint in the last start that used one; -1 when the last
   start did not use one. */
static long s_scanned_after(wt_t *t, long used_before, long whole_before)
{
    char line[1024];
    long used = s_log_lines(t, "bytes scanned after it");
    long whole = s_log_lines(t, "not used");
    if (used == used_before || whole != whole_before)
        return -1;
    s_last_log(t, "bytes scanned after it", line, sizeof line);
    const char *p = strstr(line, "offset ");
    const char *q = p ? strchr(p, ',') : NULL;
    return q ? strtol(q + 1, NULL, 10) : -1;
}

/* The stream table is the file's: with seqs 1..upto of both streams on disk, upto sent
   again is acknowledged and not written, upto + 1 is written: the file then holds 1..upto+1
   once each. (The client's ack state is set back to upto, so the wait is for new acks.) */
static void s_table_is_files(wt_t *t, uint64_t upto)
{
    wt_stream(t, A, EA)->acked = upto;
    wt_stream(t, B, EB)->acked = upto;
    s_send(t, A, EA, upto);
    s_send(t, B, EB, upto);
    s_fill(t, upto + 1, upto + 1);
    CHECK_MSG(wt_check_stream_fast(t->datafile, A, EA) == (long)upto + 1 &&
                  wt_check_stream_fast(t->datafile, B, EB) == (long)upto + 1,
              "the file does not hold 1..%" PRIu64 " once each", upto + 1);
}

static void s_flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    char c = 0;
    CHECK(fd >= 0 && pread(fd, &c, 1, at) == 1);
    c ^= 0x20;
    CHECK(pwrite(fd, &c, 1, at) == 1);
    if (fd >= 0)
        close(fd);
}

static bool s_copy(const char *from, const char *to)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp -p '%s' '%s'", from, to);
    return system(cmd) == 0;
}

int main(void)
{
    s_units();

    wt_t t;
    //  Checkpoints every 64 KiB of appends (about 200 records here), never by time.
    if (!wt_setup(&t, "checkpoint",
                  "    batch_ms = 2\n    batch_records = 50\n    checkpoint_bytes = 65536\n"
                  "    checkpoint_ms = 3600000\n")) {
        wt_teardown(&t);
        return 1;
    }
    char ckpt[600], old[600], oldckpt[600], line[1024];
    snprintf(ckpt, sizeof ckpt, "%s.streams", t.datafile);
    snprintf(old, sizeof old, "%s/old.xml", t.dir);
    snprintf(oldckpt, sizeof oldckpt, "%s/old.streams", t.dir);
    struct stat st;
    long used, whole, after;
    uint64_t seq = 0;

    //  1. A clean stop saves the table at the end: the restart scans nothing.
    CHECK(wt_start(&t));
    s_fill(&t, 1, 300);
    seq = 300;
    CHECK(wt_stop(&t, SIGTERM) == 0);
    CHECK(stat(ckpt, &st) == 0 && st.st_size > 0);
    used = s_log_lines(&t, "bytes scanned after it"), whole = s_log_lines(&t, "not used");
    CHECK(wt_start(&t));
    after = s_scanned_after(&t, used, whole);
    CHECK_MSG(after == 0, "after a clean stop the restart scanned %ld bytes", after);
    s_table_is_files(&t, seq);
    seq++;
    printf("clean stop: restart scanned %ld bytes\n", after);

    //  2. kill -9 between checkpoints, three times: only what followed the last one is
    //     scanned (something, less than a checkpoint interval plus a batch).
    long scanned_after_kills = 0;
    for (int k = 0; k < 3; k++) {
        s_fill(&t, seq + 1, seq + 150 + 37 * (uint64_t)k);
        seq += 150 + 37 * (uint64_t)k;
        //  The last commit may have saved a checkpoint at the very end; the kill must come
        //  between checkpoints, so add records until the file is past the checkpoint.
        for (int more = 0; more < 20 && s_ckpt_offset(ckpt) >= t.commit; more++) {
            s_fill(&t, seq + 1, seq + 1);
            seq++;
            wt_pump(&t, 50); /* the "$commit" of that record */
        }
        CHECK_MSG(s_ckpt_offset(ckpt) < t.commit, "the checkpoint stays at the end of the file");
        CHECK(wt_stop(&t, SIGKILL) == 128 + SIGKILL);
        used = s_log_lines(&t, "bytes scanned after it"), whole = s_log_lines(&t, "not used");
        CHECK(wt_start(&t));
        after = s_scanned_after(&t, used, whole);
        CHECK_MSG(after >= 0 && after < 65536 + 50 * 2048,
                  "after kill -9 the restart scanned %ld bytes after the checkpoint", after);
        scanned_after_kills += after;
        printf("kill -9: restart scanned %ld bytes after the checkpoint\n", after);
        s_table_is_files(&t, seq);
        seq++;
    }
    //  (one kill may come right after a checkpoint a late commit saved: not all three)
    CHECK_MSG(scanned_after_kills > 0, "no restart after kill -9 scanned the tail");

    //  3. A torn or edited checkpoint is not believed: the whole file is scanned.
    CHECK(wt_stop(&t, SIGTERM) == 0);
    CHECK(stat(ckpt, &st) == 0);
    s_flip_byte(ckpt, st.st_size / 2);
    whole = s_log_lines(&t, "not used");
    CHECK(wt_start(&t));
    s_last_log(&t, "not used", line, sizeof line);
    CHECK_MSG(s_log_lines(&t, "not used") == whole + 1 && strstr(line, "sha256 does not match"),
              "an edited checkpoint: %s", line);
    s_table_is_files(&t, seq);
    seq++;

    //  4. The datafile restored from an older copy, with a newer checkpoint beside it: its
    //     offset is past the end; the table comes from the file, so the records after the
    //     copy are written again when they come (not acknowledged as already there).
    CHECK(wt_stop(&t, SIGTERM) == 0);
    CHECK(s_copy(t.datafile, old) && s_copy(ckpt, oldckpt));
    uint64_t old_seq = seq;
    CHECK(wt_start(&t));
    s_fill(&t, seq + 1, seq + 120);
    seq += 120;
    CHECK(wt_stop(&t, SIGTERM) == 0);
    CHECK(s_copy(old, t.datafile));
    whole = s_log_lines(&t, "not used");
    CHECK(wt_start(&t));
    s_last_log(&t, "not used", line, sizeof line);
    CHECK_MSG(s_log_lines(&t, "not used") == whole + 1 && strstr(line, "outside the datafile"),
              "a restored datafile: %s", line);
    s_table_is_files(&t, old_seq);
    wt_stream(&t, A, EA)->acked = wt_stream(&t, B, EB)->acked = old_seq + 1;
    s_fill(&t, old_seq + 2, seq);
    CHECK(wt_check_stream_fast(t.datafile, A, EA) == (long)seq);

    //  5. The bytes before the offset changed (an operator's edit of the last record):
    //     the tail does not match, the whole file is scanned.
    CHECK(wt_stop(&t, SIGTERM) == 0);
    CHECK(stat(t.datafile, &st) == 0);
    //  A letter of the last record's text, well inside the checked tail (the footer and
    //  its newline are the last bytes; a record's text is ASCII letters here).
    off_t at = st.st_size - (off_t)strlen("</lilalo>\n") - 40;
    s_flip_byte(t.datafile, at);
    whole = s_log_lines(&t, "not used");
    CHECK(wt_start(&t));
    s_last_log(&t, "not used", line, sizeof line);
    CHECK_MSG(s_log_lines(&t, "not used") == whole + 1 && strstr(line, "not those it saw"),
              "an edited datafile: %s", line);
    s_table_is_files(&t, seq);
    seq++;

    CHECK(wt_stop(&t, SIGTERM) == 0);
    CHECK_MSG(wt_check_stream(t.datafile, A, EA) == (long)seq, "stream A");
    CHECK_MSG(wt_check_stream(t.datafile, B, EB) == (long)seq, "stream B");
    CHECK(wt_schema_valid(t.datafile));
    wt_teardown(&t);
    TEST_DONE();
}
