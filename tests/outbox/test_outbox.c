/*  test_outbox — the durable outbox: append, reopen and seq resume; torn tails at every
    byte of the last entry; corruption in the middle (quarantine, new epoch, entries before
    it kept); acks deleting segments; iteration across segments; bounded memory with a
    1,000,000-entry backlog. Every case works in its own fresh temp directory. */
#include "l3_log.h"
#include "l3_msg.h"
#include "l3_test.h"
#include "outbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_root[256];

/* rm -r of a flat directory (the outbox has no subdirectories). */
static void s_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    char path[512];
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static void s_fresh(char *dir, size_t size, const char *name)
{
    snprintf(dir, size, "%s/%s", s_root, name);
    s_rmdir(dir);
}

/* Count files in dir whose name ends with suffix; the last match's name into found. */
static int s_count(const char *dir, const char *suffix, char *found, size_t size)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return 0;
    struct dirent *de;
    char best[256] = "";
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name), s = strlen(suffix);
        if (l >= s && strcmp(de->d_name + l - s, suffix) == 0) {
            n++;
            if (strcmp(de->d_name, best) > 0)
                snprintf(best, sizeof best, "%s", de->d_name);
        }
    }
    closedir(d);
    if (found)
        snprintf(found, size, "%s", best);
    return n;
}

static void s_command(l3_record_t *rec, uint64_t nr, size_t outlen)
{
    l3_record_init(rec);
    rec->type = L3_RECORD_COMMAND;
    l3_text_set(rec->host, sizeof rec->host, "testhost");
    l3_text_set(rec->user, sizeof rec->user, "alice");
    l3_text_set(rec->sid, sizeof rec->sid, "20261124T211144-42-abcd");
    rec->nr = nr;
    rec->start_us = INT64_C(1764000000000000) + (int64_t)nr;
    rec->end_us = rec->start_us + 10;
    rec->has_exit = true;
    char out[1024];
    for (size_t i = 0; i < outlen && i < sizeof out; i++)
        out[i] = (char)('a' + (nr + i) % 26);
    l3_bytes_set(&rec->output, out, outlen < sizeof out ? outlen : sizeof out, L3_OUTPUT_MAX);
    l3_bytes_set(&rec->cmdline, "ls -l", 5, L3_CMDLINE_MAX);
}

static bool s_append_n(outbox_t *box, uint64_t from_nr, uint64_t n, size_t outlen)
{
    for (uint64_t i = 0; i < n; i++) {
        l3_record_t rec;
        s_command(&rec, from_nr + i, outlen);
        bool ok = outbox_append(box, &rec, NULL);
        l3_record_clear(&rec);
        if (!ok)
            return false;
    }
    return outbox_sync(box);
}

/* Iterate from `from`; check every entry decodes with the outbox's epoch and consecutive
   seqs; record the command numbers into nrs (when non-NULL). Returns the count, -1 on
   error. */
static long s_iterate(outbox_t *box, uint64_t from, uint64_t *nrs, size_t max)
{
    outbox_iter_t *it = outbox_iter_new(box, from);
    long count = 0;
    uint64_t seq, expect = from;
    const uint8_t *data;
    size_t len;
    int rc;
    l3_msg_t msg;
    l3_msg_init(&msg);
    while ((rc = outbox_iter_next(it, &seq, &data, &len)) == 1) {
        char err[128];
        if (seq != expect || !l3_msg_decode(data, len, &msg, err, sizeof err) ||
            msg.record.seq != seq || msg.record.epoch != outbox_epoch(box)) {
            fprintf(stderr, "bad entry at seq %" PRIu64 " (expected %" PRIu64 ")\n", seq, expect);
            count = -1;
            break;
        }
        if (nrs && (size_t)count < max)
            nrs[count] = msg.record.nr;
        l3_msg_clear(&msg);
        expect++;
        count++;
    }
    if (rc < 0)
        count = -1;
    l3_msg_clear(&msg);
    outbox_iter_destroy(&it);
    return count;
}

static long s_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static uint8_t *s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void s_spit(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

static void test_append_reopen(void)
{
    char dir[300];
    s_fresh(dir, sizeof dir, "reopen");
    outbox_opts_t opts;
    outbox_opts_default(&opts);
    opts.segment_bytes = 8192;
    outbox_t *box = outbox_open(dir, "agent-1", &opts);
    CHECK(box);
    if (!box)
        return;
    uint64_t epoch = outbox_epoch(box);
    CHECK(epoch != 0);
    CHECK(outbox_last_seq(box) == 0);
    l3_record_t rec;
    s_command(&rec, 1, 100);
    uint64_t seq = 0;
    CHECK(outbox_append(box, &rec, &seq));
    CHECK(seq == 1 && rec.seq == 1 && rec.epoch == epoch && strcmp(rec.agent, "agent-1") == 0);
    l3_record_clear(&rec);
    CHECK(outbox_synced_seq(box) == 0); /* group mode: not yet synced */
    CHECK(s_iterate(box, 1, NULL, 0) == 0);
    CHECK(s_append_n(box, 2, 199, 200));
    CHECK(outbox_last_seq(box) == 200 && outbox_synced_seq(box) == 200);
    CHECK(outbox_segments(box) > 3);
    /* A second process cannot open it while we hold it. */
    CHECK(outbox_open(dir, "agent-1", &opts) == NULL);
    outbox_destroy(&box);
    CHECK(box == NULL);

    box = outbox_open(dir, "agent-1", &opts);
    CHECK(box);
    if (!box)
        return;
    CHECK(outbox_epoch(box) == epoch);
    CHECK(outbox_last_seq(box) == 200);
    uint64_t nrs[200];
    CHECK(s_iterate(box, 1, nrs, 200) == 200);
    CHECK(nrs[0] == 1 && nrs[199] == 200);
    CHECK(s_append_n(box, 201, 1, 10));
    CHECK(outbox_last_seq(box) == 201);
    CHECK(s_count(dir, ".bad", NULL, 0) == 0);
    outbox_destroy(&box);

    /* Per-append sync mode. */
    opts.sync_each_append = true;
    box = outbox_open(dir, "agent-1", &opts);
    CHECK(box);
    if (!box)
        return;
    s_command(&rec, 202, 10);
    CHECK(outbox_append(box, &rec, NULL));
    l3_record_clear(&rec);
    CHECK(outbox_synced_seq(box) == 202);
    outbox_destroy(&box);
    s_rmdir(dir);
}

static void test_torn_tail(void)
{
    char dir[300], seg[64], path[400];
    s_fresh(dir, sizeof dir, "torn");
    outbox_t *box = outbox_open(dir, "agent-1", NULL);
    CHECK(box);
    if (!box)
        return;
    CHECK(s_append_n(box, 1, 4, 50));
    outbox_destroy(&box);
    CHECK(s_count(dir, ".seg", seg, sizeof seg) == 1);
    snprintf(path, sizeof path, "%s/%s", dir, seg);
    size_t size4 = 0;
    uint8_t *four = s_slurp(path, &size4);
    box = outbox_open(dir, "agent-1", NULL);
    CHECK(box && s_append_n(box, 5, 1, 50));
    uint64_t epoch = box ? outbox_epoch(box) : 0;
    outbox_destroy(&box);
    size_t size5 = 0;
    uint8_t *five = s_slurp(path, &size5);
    CHECK(four && five && size5 > size4);
    if (!four || !five)
        return;
    CHECK(memcmp(four, five, size4) == 0);
    int bad = 0;
    /* Cut the file at every offset inside the fifth entry; also zero-fill the rest. */
    for (int zeros = 0; zeros < 2; zeros++) {
        for (size_t cut = size4; cut < size5; cut++) {
            uint8_t *copy = malloc(size5);
            memcpy(copy, five, size5);
            size_t len = cut;
            if (zeros) {
                bool same = true;
                for (size_t i = cut; i < size5; i++)
                    same = same && copy[i] == 0;
                if (same) { /* zeroing changes nothing: the entry is whole */
                    free(copy);
                    continue;
                }
                memset(copy + cut, 0, size5 - cut);
                len = size5;
            }
            s_spit(path, copy, len);
            free(copy);
            box = outbox_open(dir, "agent-1", NULL);
            if (!box || outbox_epoch(box) != epoch || outbox_last_seq(box) != 4 ||
                s_iterate(box, 1, NULL, 0) != 4) {
                if (bad++ < 5)
                    fprintf(stderr, "torn tail cut at %zu (zeros %d) not recovered\n", cut, zeros);
            }
            if (box && cut == size4 + 7) {
                /* The next append reuses seq 5 (it was never synced, never sent). */
                CHECK(s_append_n(box, 5, 1, 50));
                CHECK(outbox_last_seq(box) == 5);
            }
            outbox_destroy(&box);
            size_t now = 0;
            uint8_t *after = s_slurp(path, &now);
            if (cut != size4 + 7 && (!after || now != size4 || memcmp(after, four, size4)))
                bad++;
            free(after);
        }
    }
    CHECK_MSG(bad == 0, "%d torn-tail cases failed", bad);
    CHECK(s_count(dir, ".bad", NULL, 0) == 0);
    free(four);
    free(five);
    s_rmdir(dir);
}

static void test_corrupt_middle(void)
{
    char dir[300], seg[64], path[400];
    /* One segment: corrupt entry 5 of 10. */
    s_fresh(dir, sizeof dir, "corrupt1");
    outbox_t *box = outbox_open(dir, "agent-1", NULL);
    CHECK(box && s_append_n(box, 1, 10, 40));
    uint64_t epoch = box ? outbox_epoch(box) : 0;
    outbox_destroy(&box);
    CHECK(s_count(dir, ".seg", seg, sizeof seg) == 1);
    snprintf(path, sizeof path, "%s/%s", dir, seg);
    size_t size = 0;
    uint8_t *data = s_slurp(path, &size);
    CHECK(data != NULL);
    if (!data)
        return;
    size_t entry = (size - OUTBOX_HEADER_SIZE) / 10;
    data[OUTBOX_HEADER_SIZE + 4 * entry + OUTBOX_ENTRY_HEADER + 3] ^= 0x40;
    s_spit(path, data, size);
    free(data);
    box = outbox_open(dir, "agent-1", NULL);
    CHECK(box);
    if (box) {
        /* Seqs 5.. may have been sent: new epoch, the four good entries moved into it. */
        CHECK(outbox_epoch(box) != epoch);
        CHECK(outbox_last_seq(box) == 4);
        uint64_t nrs[10] = {0};
        CHECK(s_iterate(box, 1, nrs, 10) == 4);
        CHECK(nrs[0] == 1 && nrs[3] == 4);
        CHECK(s_append_n(box, 11, 1, 10));
        CHECK(outbox_last_seq(box) == 5);
    }
    outbox_destroy(&box);
    CHECK(s_count(dir, ".bad", NULL, 0) == 1);
    CHECK(s_count(dir, ".seg", NULL, 0) == 1);
    /* Reopening is quiet now: same epoch, nothing more quarantined. */
    box = outbox_open(dir, "agent-1", NULL);
    CHECK(box && outbox_last_seq(box) == 5 && s_iterate(box, 1, NULL, 0) == 5);
    outbox_destroy(&box);
    CHECK(s_count(dir, ".bad", NULL, 0) == 1);
    s_rmdir(dir);

    /* Three segments of 5 entries; corrupt entry 7 (second of the middle segment) with
       seqs up to 3 acked: 1..3 acked, 4..6 and 11..15 kept, 7..10 lost. */
    s_fresh(dir, sizeof dir, "corrupt2");
    outbox_opts_t opts;
    outbox_opts_default(&opts);
    box = outbox_open(dir, "agent-1", &opts);
    CHECK(box);
    if (!box)
        return;
    size_t one = 0;
    {
        CHECK(s_append_n(box, 1, 1, 40));
        one = (size_t)outbox_disk_bytes(box) - OUTBOX_HEADER_SIZE;
    }
    outbox_destroy(&box);
    s_rmdir(dir);
    opts.segment_bytes = OUTBOX_HEADER_SIZE + 5 * one;
    box = outbox_open(dir, "agent-1", &opts);
    CHECK(box && s_append_n(box, 1, 15, 40));
    CHECK(box && outbox_segments(box) == 3);
    if (box)
        outbox_ack(box, 3);
    epoch = box ? outbox_epoch(box) : 0;
    outbox_destroy(&box);
    snprintf(path, sizeof path, "%s/%016" PRIx64 "-%020d.seg", dir, epoch, 6);
    data = s_slurp(path, &size);
    CHECK(data && size == OUTBOX_HEADER_SIZE + 5 * one);
    if (!data)
        return;
    data[OUTBOX_HEADER_SIZE + one + 5] ^= 0x01; /* crc of entry 7 */
    s_spit(path, data, size);
    free(data);
    box = outbox_open(dir, "agent-1", &opts);
    CHECK(box);
    if (box) {
        CHECK(outbox_epoch(box) != epoch);
        CHECK(outbox_acked_seq(box) == 0);
        uint64_t nrs[16] = {0};
        CHECK(s_iterate(box, 1, nrs, 16) == 8);
        uint64_t want[8] = {4, 5, 6, 11, 12, 13, 14, 15};
        CHECK(memcmp(nrs, want, sizeof want) == 0);
    }
    outbox_destroy(&box);
    CHECK(s_count(dir, ".bad", NULL, 0) == 1);
    s_rmdir(dir);
}

/* A crash after the tail was cut but before the new epoch was written: meta still says
   "new epoch pending", and the next open completes it. */
static void test_reepoch_pending(void)
{
    char dir[300], path[400];
    s_fresh(dir, sizeof dir, "pending");
    outbox_t *box = outbox_open(dir, "agent-1", NULL);
    CHECK(box && s_append_n(box, 1, 6, 30));
    if (box)
        outbox_ack(box, 2);
    uint64_t epoch = box ? outbox_epoch(box) : 0;
    outbox_destroy(&box);
    snprintf(path, sizeof path, "%s/meta", dir);
    size_t len = 0;
    uint8_t *m = s_slurp(path, &len);
    CHECK(m && len == 36);
    if (!m || len != 36)
        return;
    m[12] = 1; /* the flag */
    uint32_t crc = outbox_crc32c(0, m, 32);
    for (int i = 0; i < 4; i++)
        m[32 + i] = (uint8_t)(crc >> (8 * i));
    s_spit(path, m, len);
    free(m);
    box = outbox_open(dir, "agent-1", NULL);
    CHECK(box && outbox_epoch(box) != epoch);
    uint64_t nrs[8] = {0};
    CHECK(box && s_iterate(box, 1, nrs, 8) == 4);
    CHECK(nrs[0] == 3 && nrs[3] == 6);
    outbox_destroy(&box);
    /* Done once: the next open keeps the epoch. */
    box = outbox_open(dir, "agent-1", NULL);
    uint64_t e2 = box ? outbox_epoch(box) : 0;
    outbox_destroy(&box);
    box = outbox_open(dir, "agent-1", NULL);
    CHECK(box && outbox_epoch(box) == e2 && outbox_last_seq(box) == 4);
    outbox_destroy(&box);
    s_rmdir(dir);
}

static void test_ack_and_iterate(void)
{
    char dir[300];
    s_fresh(dir, sizeof dir, "ack");
    outbox_opts_t opts;
    outbox_opts_default(&opts);
    opts.segment_bytes = 4096;
    outbox_t *box = outbox_open(dir, "agent-1", &opts);
    CHECK(box && s_append_n(box, 1, 300, 100));
    if (!box)
        return;
    size_t segs = outbox_segments(box);
    CHECK(segs > 10);
    CHECK(s_count(dir, ".seg", NULL, 0) == (int)segs);
    /* Iterate from the middle of a later segment, then seek back. */
    CHECK(s_iterate(box, 137, NULL, 0) == 300 - 136);
    outbox_iter_t *it = outbox_iter_new(box, 250);
    uint64_t seq = 0;
    const uint8_t *data;
    size_t len;
    CHECK(outbox_iter_next(it, &seq, &data, &len) == 1 && seq == 250);
    outbox_iter_seek(it, 20);
    CHECK(outbox_iter_next(it, &seq, &data, &len) == 1 && seq == 20);
    CHECK(outbox_iter_next(it, &seq, &data, &len) == 1 && seq == 21);
    /* Acks delete the segments they cover entirely, never more. */
    outbox_ack(box, 150);
    CHECK(outbox_acked_seq(box) == 150 && outbox_pending(box) == 150);
    CHECK(outbox_segments(box) < segs && outbox_segments(box) > 1);
    CHECK(s_count(dir, ".seg", NULL, 0) == (int)outbox_segments(box));
    CHECK(s_iterate(box, 151, NULL, 0) == 150);
    /* The iterator was inside a deleted segment: it moves on to what is left. */
    CHECK(outbox_iter_next(it, &seq, &data, &len) == 1 && seq > 21 && seq <= 151);
    outbox_iter_destroy(&it);
    outbox_ack(box, 100); /* an older ack changes nothing */
    CHECK(outbox_acked_seq(box) == 150);
    outbox_ack(box, 5000); /* beyond the end: clamped */
    CHECK(outbox_acked_seq(box) == 300);
    CHECK(outbox_segments(box) == 1 && outbox_pending(box) == 0);
    outbox_destroy(&box);
    box = outbox_open(dir, "agent-1", &opts);
    CHECK(box && outbox_last_seq(box) == 300 && outbox_acked_seq(box) == 300);
    CHECK(box && s_iterate(box, 301, NULL, 0) == 0);
    CHECK(box && s_append_n(box, 301, 1, 10) && outbox_last_seq(box) == 301);
    CHECK(box && s_iterate(box, 301, NULL, 0) == 1);
    outbox_destroy(&box);
    s_rmdir(dir);
}

static void test_full(void)
{
    char dir[300];
    s_fresh(dir, sizeof dir, "full");
    outbox_opts_t opts;
    outbox_opts_default(&opts);
    opts.segment_bytes = 2048;
    opts.max_bytes = 8192;
    outbox_t *box = outbox_open(dir, "agent-1", &opts);
    CHECK(box);
    if (!box)
        return;
    int n = 0;
    while (n < 1000 && s_append_n(box, (uint64_t)n + 1, 1, 200))
        n++;
    CHECK(n > 10 && n < 100);
    CHECK(outbox_full(box));
    CHECK(outbox_last_seq(box) == (uint64_t)n);
    /* Acks free whole segments; appends resume. */
    outbox_ack(box, (uint64_t)n);
    CHECK(!outbox_full(box));
    CHECK(s_append_n(box, (uint64_t)n + 1, 1, 200));
    CHECK(outbox_last_seq(box) == (uint64_t)n + 1);
    outbox_destroy(&box);
    s_rmdir(dir);
}

static void test_bounded_memory(void)
{
    char dir[300];
    s_fresh(dir, sizeof dir, "million");
    outbox_t *box = outbox_open(dir, "agent-1", NULL);
    CHECK(box);
    if (!box)
        return;
    const uint64_t n = 1000000;
    long rss0 = s_rss_kb();
    long peak = rss0;
    for (uint64_t i = 1; i <= n; i++) {
        l3_record_t rec;
        s_command(&rec, i, 16);
        if (!outbox_append(box, &rec, NULL)) {
            CHECK(!"append failed");
            l3_record_clear(&rec);
            break;
        }
        l3_record_clear(&rec);
        if (i % 50000 == 0) {
            CHECK(outbox_sync(box));
            long rss = s_rss_kb();
            if (rss > peak)
                peak = rss;
        }
    }
    CHECK(outbox_sync(box) && outbox_last_seq(box) == n);
    CHECK(s_iterate(box, 1, NULL, 0) == (long)n);
    outbox_destroy(&box);
    box = outbox_open(dir, "agent-1", NULL);
    CHECK(box && outbox_last_seq(box) == n);
    CHECK(box && s_iterate(box, n - 10, NULL, 0) == 11);
    long rss = s_rss_kb();
    if (rss > peak)
        peak = rss;
    printf("1,000,000 entries, %" PRIu64 " bytes on disk in %zu segments; RSS %ld kB -> peak "
           "%ld kB\n",
           box ? outbox_disk_bytes(box) : 0, box ? outbox_segments(box) : 0, rss0, peak);
#if defined(__SANITIZE_ADDRESS__)
    /* ASan keeps freed blocks in a quarantine of up to 256 MB, so RSS says nothing about
       what the outbox holds; the plain build checks it. */
    (void)peak;
#else
    CHECK_MSG(peak - rss0 < 16 * 1024, "RSS grew by %ld kB", peak - rss0);
#endif
    outbox_destroy(&box);
    s_rmdir(dir);
}

static void test_crc(void)
{
    /* The standard check value of CRC-32C. */
    CHECK(outbox_crc32c(0, "123456789", 9) == 0xE3069283u);
    CHECK(outbox_crc32c_portable(0, "123456789", 9) == 0xE3069283u);
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    for (size_t len = 0; len < 40; len++) {
        for (size_t off = 0; off < 9; off++) {
            uint32_t a = outbox_crc32c(0x1234, buf + off, len * 23 % 997);
            uint32_t b = outbox_crc32c_portable(0x1234, buf + off, len * 23 % 997);
            CHECK(a == b);
        }
    }
    /* Continuing a checksum equals one pass. */
    CHECK(outbox_crc32c(outbox_crc32c(0, buf, 100), buf + 100, 900) == outbox_crc32c(0, buf, 1000));
}

int main(void)
{
    l3_log_init("test_outbox", false, getenv("L3_VERBOSE") ? L3_LOG_DEBUG : L3_LOG_ERROR);
    snprintf(s_root, sizeof s_root, "/tmp/l3-test-outbox-%d", (int)getpid());
    mkdir(s_root, 0700);
    test_crc();
    test_append_reopen();
    test_torn_tail();
    test_corrupt_middle();
    test_reepoch_pending();
    test_ack_and_iterate();
    test_full();
    test_bounded_memory();
    /* Cases that failed early may have left their directory behind. */
    const char *cases[] = {"reopen",  "torn", "corrupt1", "corrupt2",
                           "pending", "ack",  "full",     "million"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[300];
        s_fresh(dir, sizeof dir, cases[i]);
    }
    rmdir(s_root);
    TEST_DONE();
}
