/*  test_writer_units — the writer's modules called directly: streams (dedup verdicts),
    datafile_scan_image (the recovery scanner, table-driven), datafile_new/append on real
    files (create, append, torn-tail repair, foreign file, lock held by another process). */
#include "../l3_test.h"
#include "datafile.h"
#include "l3_xmlrec.h"
#include "streams.h"
#include "wtest.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void s_sum_ack(const streams_info_t *info, void *arg)
{
    *(uint64_t *)arg += info->disk;
}

static void s_test_streams(void)
{
    streams_t *s = streams_new(3);
    CHECK(s != NULL);
    streams_info_t info;
    CHECK(streams_load(s, "a1", 7, 3));
    CHECK(streams_load(s, "a1", 7, 5));
    CHECK(streams_load(s, "a1", 7, 4)); /* keeps the highest */
    CHECK(streams_disk(s, "a1", 7) == 5);
    static const struct {
        const char *agent;
        uint64_t epoch, seq;
        streams_verdict_t verdict;
        uint64_t disk, pending;
    } cases[] = {
        {"a1", 7, 5, STREAMS_DUPLICATE, 5, 5},
        {"a1", 7, 1, STREAMS_DUPLICATE, 5, 5},
        {"a1", 7, 7, STREAMS_GAP, 5, 5},
        {"a1", 7, 6, STREAMS_WRITE, 5, 6},
        {"a1", 7, 6, STREAMS_PENDING, 5, 6},
        {"a1", 7, 7, STREAMS_WRITE, 5, 7},
        {"a1", 7, 9, STREAMS_GAP, 5, 7},
        {"a1", 8, 2, STREAMS_GAP, 0, 0}, /* unknown stream not at 1: nack 1, no entry */
        {"a1", 8, 1, STREAMS_WRITE, 0, 1},
        {"b", 1, 1, STREAMS_WRITE, 0, 1},
        {"c", 1, 1, STREAMS_FULL, 0, 0}, /* cap of 3 streams */
        {"b", 1, 2, STREAMS_WRITE, 0, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        streams_verdict_t v = streams_offer(s, cases[i].agent, cases[i].epoch, cases[i].seq, &info);
        CHECK_MSG(v == cases[i].verdict && info.disk == cases[i].disk &&
                      info.pending == cases[i].pending,
                  "case %zu: verdict %d disk %" PRIu64 " pending %" PRIu64, i, (int)v, info.disk,
                  info.pending);
    }
    CHECK(streams_size(s) == 3);
    /* Nacks: one per expected seq per interval; unknown streams always. */
    CHECK(streams_nack_due(s, "a1", 7, 8, 1000, 100));
    CHECK(!streams_nack_due(s, "a1", 7, 8, 1050, 100));
    CHECK(streams_nack_due(s, "a1", 7, 8, 1100, 100));
    CHECK(streams_nack_due(s, "a1", 7, 9, 1101, 100));
    CHECK(streams_nack_due(s, "zz", 1, 1, 1101, 100));
    CHECK(streams_nack_due(s, "zz", 1, 1, 1102, 100));
    uint64_t sum = 0;
    streams_commit(s, s_sum_ack, &sum);
    CHECK(sum == 7 + 1 + 2);
    CHECK(streams_disk(s, "a1", 7) == 7);
    CHECK(streams_offer(s, "a1", 7, 7, &info) == STREAMS_DUPLICATE && info.disk == 7);
    sum = 0;
    streams_commit(s, s_sum_ack, &sum);
    CHECK(sum == 0);
    streams_destroy(&s);
    CHECK(s == NULL);
    streams_destroy(&s);
}

/* A record line from l3_xmlrec_write. */
static char *s_line(l3_record_type_t type, uint64_t seq)
{
    l3_record_t r;
    wt_record(&r, type, "unit-agent", 11, seq);
    l3_buf_t buf;
    l3_buf_init(&buf, 0);
    l3_xmlrec_write(&r, &buf);
    l3_buf_append_byte(&buf, 0);
    l3_record_clear(&r);
    size_t len;
    return (char *)l3_buf_steal(&buf, &len);
}

typedef struct {
    uint64_t lines, last_seq;
} s_count_t;

static void s_count(const datafile_line_t *line, void *arg)
{
    s_count_t *c = arg;
    c->lines++;
    c->last_seq = line->seq;
}

static void s_test_scan(void)
{
    char *l1 = s_line(L3_RECORD_SESSION, 1), *l2 = s_line(L3_RECORD_COMMAND, 2),
         *l3 = s_line(L3_RECORD_END, 3);
    const char *H = L3_XML_HEADER, *F = L3_XML_FOOTER;
    size_t hl = strlen(H), l1l = strlen(l1), l2l = strlen(l2);
    /* A line that passes the cheap check but not the full parse (bad time). */
    const char *unparsable = "<end agent=\"unit-agent\" epoch=\"11\" seq=\"4\" host=\"h\" "
                             "user=\"u\" sid=\"s\" end=\"yesterday\"/>\n";
    struct {
        const char *name;
        char *image;
        uint64_t verify_from;
        bool foreign, fresh, clean;
        uint64_t good_end, records;
    } cases[] = {
        {"empty", strdup(""), 0, false, true, false, 0, 0},
        {"torn header", strdup("<?xml vers"), 0, false, true, false, 0, 0},
        {"foreign", strdup("hello world, this is not ours at all"), 0, true, false, false, 0, 0},
        {"foreign short", strdup("{}"), 0, true, false, false, 0, 0},
        {"header only", zsys_sprintf("%s", H), 0, false, false, false, hl, 0},
        {"empty document", zsys_sprintf("%s%s", H, F), 0, false, false, true, hl, 0},
        {"three records", zsys_sprintf("%s%s%s%s%s", H, l1, l2, l3, F), 0, false, false, true,
         hl + l1l + l2l + strlen(l3), 3},
        {"half a line", zsys_sprintf("%s%s%.*s", H, l1, (int)(l2l / 2), l2), 0, false, false,
         false, hl + l1l, 1},
        {"footer torn", zsys_sprintf("%s%s%s</lil", H, l1, l2), 0, false, false, false,
         hl + l1l + l2l, 2},
        {"junk after footer", zsys_sprintf("%s%s%sjunk\n", H, l1, F), 0, false, false, false,
         hl + l1l, 1},
        {"garbage line", zsys_sprintf("%s%s<junk/>\n%s%s", H, l1, l2, F), 0, false, false,
         false, hl + l1l, 1},
        {"unparsable, verified", zsys_sprintf("%s%s%s%s", H, l1, unparsable, F), 0, false,
         false, false, hl + l1l, 1},
        {"unparsable, not verified", zsys_sprintf("%s%s%s%s", H, l1, unparsable, F), 100000,
         false, false, true, hl + l1l + strlen(unparsable), 2},
        {"footer overwritten by a record start",
         zsys_sprintf("%s%s<colilalo>\n", H, l1), 0, false, false, false, hl + l1l, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        datafile_scan_t scan;
        s_count_t count = {0, 0};
        size_t len = strlen(cases[i].image);
        datafile_scan_image((const uint8_t *)cases[i].image, len, cases[i].verify_from, s_count,
                            &count, &scan);
        CHECK_MSG(scan.foreign == cases[i].foreign && scan.fresh == cases[i].fresh &&
                      scan.clean == cases[i].clean,
                  "%s: foreign %d fresh %d clean %d (%s)", cases[i].name, scan.foreign,
                  scan.fresh, scan.clean, scan.reason);
        if (!cases[i].foreign && !cases[i].fresh) {
            CHECK_MSG(scan.good_end == cases[i].good_end && scan.records == cases[i].records &&
                          count.lines == cases[i].records,
                      "%s: good_end %" PRIu64 " (want %" PRIu64 ") records %" PRIu64,
                      cases[i].name, scan.good_end, cases[i].good_end, scan.records);
        }
        /* A NUL anywhere inside a record line makes it bad. */
        free(cases[i].image);
    }
    /* NUL inside a line, found by the cheap check. */
    char *img = zsys_sprintf("%s%s%s%s", H, l1, l2, F);
    img[hl + l1l + 20] = 0;
    datafile_scan_t scan;
    datafile_scan_image((const uint8_t *)img, hl + l1l + l2l + strlen(F), UINT64_MAX, NULL,
                        NULL, &scan);
    CHECK_MSG(!scan.clean && scan.good_end == hl + l1l, "NUL in a line: %s", scan.reason);
    free(img);
    free(l1);
    free(l2);
    free(l3);
}

static char *s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *data = malloc(1 << 20);
    *len = fread(data, 1, (1 << 20) - 1, f);
    data[*len] = 0;
    fclose(f);
    return data;
}

static void s_spit(const char *path, const char *data)
{
    FILE *f = fopen(path, "w");
    CHECK(f && fputs(data, f) >= 0);
    if (f)
        fclose(f);
}

/* In a child process: open path as a second writer. Must be refused, naming path and,
   when want_pid, our pid. */
static bool s_second_open(const char *path, bool want_pid)
{
    pid_t child = fork();
    if (child == 0) {
        char e[512];
        pid_t h = 0;
        datafile_t *second = datafile_new(path, 0, NULL, NULL, NULL, e, sizeof e, &h);
        pid_t lh = datafile_lock_holder(path);
        pid_t parent = getppid();
        int ok = second == NULL && strstr(e, path) != NULL && lh != 0 &&
                 (!want_pid || (h == parent && lh == parent));
        if (!ok)
            fprintf(stderr, "child: second %p holder %d lock_holder %d parent %d: %s\n",
                    (void *)second, (int)h, (int)lh, (int)parent, e);
        _exit(ok ? 0 : 1);
    }
    int status = -1;
    waitpid(child, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void s_test_files(void)
{
    char dir[] = "/tmp/l3wt-units-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[300];
    snprintf(path, sizeof path, "%s/d.xml", dir);
    char err[512];
    pid_t holder = 0;
    /* Created with header and footer. */
    datafile_t *df = datafile_new(path, 0, NULL, NULL, NULL, err, sizeof err, &holder);
    CHECK_MSG(df != NULL, "%s", err);
    /* Another process sees the lock and its holder. */
    CHECK(s_second_open(path, true));
    size_t len;
    char *data = s_slurp(path, &len);
    CHECK(data && strcmp(data, L3_XML_HEADER L3_XML_FOOTER) == 0);
    free(data);
    CHECK(datafile_committed(df) == strlen(L3_XML_HEADER));
    /* Append two lines in one batch. */
    char *l1 = s_line(L3_RECORD_SESSION, 1), *l2 = s_line(L3_RECORD_COMMAND, 2);
    char *both = zsys_sprintf("%s%s", l1, l2);
    CHECK(datafile_append(df, both, strlen(both), 2, 1) == 0);
    CHECK(datafile_committed(df) == strlen(L3_XML_HEADER) + strlen(both));
    CHECK(datafile_records(df) == 2);
    data = s_slurp(path, &len);
    char *want = zsys_sprintf("%s%s%s", L3_XML_HEADER, both, L3_XML_FOOTER);
    CHECK(data && strcmp(data, want) == 0);
    free(data);

    /* After a stray open/close of the file in the holder (s_slurp above), which drops
       classic POSIX locks, the datafile is still locked. */
    CHECK(s_second_open(path, false));
    datafile_destroy(&df);
    CHECK(df == NULL);
    CHECK(datafile_lock_holder(path) == 0);

    /* A torn tail: repaired, the records come back through the callback, tail saved. */
    char *torn = zsys_sprintf("%s%s%.*s", L3_XML_HEADER, both, 30, l1);
    s_spit(path, torn);
    s_count_t count = {0, 0};
    df = datafile_new(path, UINT64_MAX, NULL, s_count, &count, err, sizeof err, NULL);
    CHECK_MSG(df != NULL, "%s", err);
    CHECK(count.lines == 2 && count.last_seq == 2);
    datafile_destroy(&df);
    data = s_slurp(path, &len);
    CHECK(data && strcmp(data, want) == 0);
    free(data);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "ls %s/d.xml.torn-* >/dev/null 2>&1", dir);
    CHECK(system(cmd) == 0);

    /* Someone else's file is refused and left alone. */
    s_spit(path, "not a datafile\n");
    df = datafile_new(path, 0, NULL, NULL, NULL, err, sizeof err, NULL);
    CHECK(df == NULL && strstr(err, "not a lilalo datafile") != NULL);
    data = s_slurp(path, &len);
    CHECK(data && strcmp(data, "not a datafile\n") == 0);
    free(data);

    free(torn);
    free(want);
    free(both);
    free(l1);
    free(l2);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    zsys_init();
    s_test_streams();
    s_test_scan();
    s_test_files();
    TEST_DONE();
}
