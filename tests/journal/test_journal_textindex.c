/*  Tests of render/textindex.c, the search index: every answer through it must equal the
    answer of a full scan of the datafile (search_commands without it), for needles taken
    from the data itself (what people look for), needles that match nothing, needles in
    another case, and needles made of XML's special characters; damage anywhere in a
    segment file must leave the answers equal (the damaged part is scanned instead); a
    segment of another datafile is not used.

    The datafile comes from l3-render-gen: 140,000 commands, two complete segments and a
    tail the index does not cover (scanned, as the newest commands always are). */
#include "l3_test.h"
#include "search.h"
#include "textindex.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NCMDS 140000

#include <time.h>
static double s_t0;
static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
/* Where the time goes (the test is long under ASan). */
static void s_phase(const char *what)
{
    printf("%6.1f s  %s\n", s_now() - s_t0, what);
    fflush(stdout);
}

typedef struct {
    uint32_t *ords;
    size_t n, cap;
} hits_t;

static bool s_collect(uint32_t ord, void *arg)
{
    hits_t *h = arg;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 1024;
        h->ords = realloc(h->ords, h->cap * sizeof *h->ords);
    }
    h->ords[h->n++] = ord;
    return true;
}

/* All hits for needle, newest first. */
static hits_t s_search(index_t *ix, textindex_t *ti, const char *needle, bool icase)
{
    hits_t h = {NULL, 0, 0};
    bool more;
    uint32_t resume;
    search_commands(ix, ti, needle, icase, UINT32_MAX, SIZE_MAX, 0, s_collect, &h, &more, &resume);
    return h;
}

static int s_failures_shown;

/* The index's answer equals the scan's, exact and (with_icase) in any case. */
static void s_same_as(index_t *ix, textindex_t *ti, const char *needle, const char *what,
                      bool with_icase)
{
    for (int icase = 0; icase < 1 + with_icase; icase++) {
        hits_t a = s_search(ix, ti, needle, icase), b = s_search(ix, NULL, needle, icase);
        bool same = a.n == b.n && (a.n == 0 || !memcmp(a.ords, b.ords, a.n * sizeof *a.ords));
        if (!same && s_failures_shown++ < 10)
            CHECK_MSG(same, "%s [%s]%s: index %zu hits, scan %zu", what, needle,
                      icase ? " any case" : "", a.n, b.n);
        else
            CHECK(same);
        free(a.ords);
        free(b.ords);
    }
}

static bool s_has_fold(const l3_bytes_t *f, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= f->len; i++) {
        size_t k = 0;
        while (k < n && tolower(f->data[i + k]) == tolower((unsigned char)needle[k]))
            k++;
        if (k == n)
            return true;
    }
    return false;
}

/* Any case against every record parsed and compared by hand: the same commands. */
static void s_icase_reference(index_t *ix, textindex_t *ti, const char *needle)
{
    uint32_t n;
    index_cmds(ix, &n);
    hits_t want = {NULL, 0, 0};
    for (uint32_t ord = n; ord > 0; ord--) {
        l3_record_t r;
        if (!index_load_cmd(ix, ord - 1, &r))
            continue;
        if (s_has_fold(&r.cmdline, needle) || s_has_fold(&r.output, needle) ||
            s_has_fold(&r.cwd, needle) || s_has_fold(&r.diff, needle))
            s_collect(ord - 1, &want);
        l3_record_clear(&r);
    }
    hits_t got = s_search(ix, ti, needle, true);
    CHECK_MSG(got.n == want.n && (!got.n || !memcmp(got.ords, want.ords, got.n * 4)),
              "any case [%s]: %zu hits, by hand %zu", needle, got.n, want.n);
    CHECK_MSG(want.n > 0, "[%s] is in the data", needle);
    free(got.ords);
    free(want.ords);
}

static void s_gen(const char *path, int n, int seed)
{
    const char *bin = getenv("L3_BIN_DIR");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s/l3-render-gen' -n %d --per-session 200 --seed %d -o '%s'",
             bin ? bin : "build/bin", n, seed, path);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot run %s\n", cmd);
        exit(1);
    }
}

static index_t *s_index(const char *path)
{
    index_t *ix = index_new(path, NULL);
    bool more;
    if (!ix || index_scan(ix, UINT64_MAX, UINT64_MAX, &more) < 0) {
        fprintf(stderr, "cannot index %s\n", path);
        exit(1);
    }
    return ix;
}

/* Needles from the data: random pieces of random command lines and outputs. */
static void s_sampled(index_t *ix, textindex_t *ti, int count)
{
    uint32_t n;
    index_cmds(ix, &n);
    srand(7);
    int tried = 0;
    for (int k = 0; k < count && tried < count * 10; tried++) {
        l3_record_t r;
        uint32_t ord = (uint32_t)rand() % n;
        if (!index_load_cmd(ix, ord, &r))
            continue;
        const l3_bytes_t *f = rand() % 2 ? &r.output : &r.cmdline;
        size_t len = 1 + (size_t)rand() % 20; /* 1 and 2: no trigram of their own */
        if (f->len >= len) {
            size_t at = (size_t)rand() % (f->len - len + 1);
            char needle[32];
            memcpy(needle, f->data + at, len);
            needle[len] = 0;
            if (strlen(needle) == len && !strpbrk(needle, "\r\n\x1b")) {
                s_same_as(ix, ti, needle, "sampled", k % 20 == 0);
                k++;
            }
        }
        l3_record_clear(&r);
    }
}

int main(void)
{
    s_t0 = s_now();
    char dir[] = "/tmp/l3-textindex-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char data[256], other[256], seg0[512], copy[512];
    snprintf(data, sizeof data, "%s/data.xml", dir);
    snprintf(other, sizeof other, "%s/other.xml", dir);
    s_gen(data, NCMDS, 1);
    s_phase("generated");
    index_t *ix = s_index(data);
    s_phase("indexed");
    uint32_t n;
    index_cmds(ix, &n);
    CHECK_MSG(n == NCMDS, "%u commands", n);

    /* built newest first, each once */
    textindex_t *ti = textindex_new(data);
    textindex_open(ti, ix);
    CHECK(!textindex_ready(ti, 0) && !textindex_ready(ti, 1));
    CHECK(textindex_missing(ti, ix) == 1);
    CHECK(textindex_build(ti, ix, 1));
    textindex_open(ti, ix);
    CHECK(textindex_ready(ti, 1) && textindex_missing(ti, ix) == 0);
    CHECK(textindex_build(ti, ix, 0));
    CHECK(!textindex_build(ti, ix, 2)); /* not complete: the tail */
    textindex_open(ti, ix);
    CHECK(textindex_missing(ti, ix) == UINT32_MAX);
    s_phase("built");
    uint32_t nsegs;
    uint64_t bytes = textindex_bytes(ti, &nsegs);
    struct stat st;
    stat(data, &st);
    printf("textindex: %u segments, %.1f MB for a %.1f MB datafile\n", nsegs, bytes / 1048576.0,
           st.st_size / 1048576.0);
    CHECK(nsegs == 2 && bytes > 0 && bytes < (uint64_t)st.st_size);

    /* the bench's queries, and needles that match nothing or only in another case */
    static const char *fixed[] = {
        "timeout", "Error 1", "served in 12 ms", "pkg17", "file913.conf", "case 99",
        "undeclared", "command not found", "app3.log", "10.0.0.1", "no-such-word-anywhere",
        "sda3", "request 4242", "fix the parser", "restarted", "workers 8", "Building",
        "ok", "grep", "df -h", "TIMEOUT", "Timeout", "BUILDING", "<script>", "&amp;", "'sock'",
        "\"", "a&b", "<x>", "lt;", "#10", "line", "out", "agent", "Progress: [", "[##", "xyzzy",
        "zq", "e", "1", "qz", "Z", "~", "ls", "\xc3\xa9", "%", "x\"", "9.", "\t",
    };
    /* (any case costs the scan a folded compare per byte: a few needles, the rest exact, so
       the test stays short under ASan) */
#if defined(__SANITIZE_ADDRESS__)
    size_t step = 3; /* a third of them: each is two whole scans, ten times slower */
#else
    size_t step = 1;
#endif
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i += step)
        s_same_as(ix, ti, fixed[i], "fixed", i % 8 == 0);
    s_phase("fixed needles");
#if defined(__SANITIZE_ADDRESS__)
    s_sampled(ix, ti, 15); /* each comparison scans 126 MB, ten times slower under ASan */
#else
    s_sampled(ix, ti, 60);
#endif

    /* the index answers a needle that matches nothing without reading a line: it is
       faster than the scan by far (a generous ratio: this is no benchmark) */
    s_phase("sampled needles");
    s_icase_reference(ix, ti, "ERROR:");
    s_phase("any case by hand");
    hits_t h = s_search(ix, ti, "no-such-word-anywhere", false);
    CHECK(h.n == 0);
    free(h.ords);

    /* damage anywhere in segment 0's file: the answers stay the scan's */
    snprintf(seg0, sizeof seg0, "%s.search/00000000.tri", data);
    snprintf(copy, sizeof copy, "%s/seg0.copy", dir);
    CHECK(stat(seg0, &st) == 0);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", seg0, copy);
    CHECK(system(cmd) == 0);
    off_t spots[] = {20, 100, 4000, 50000, st.st_size / 2, st.st_size - 2};
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", copy, seg0);
        CHECK(system(cmd) == 0);
        int fd = open(seg0, O_RDWR);
        uint8_t b = 0;
        CHECK(pread(fd, &b, 1, spots[i]) == 1);
        b ^= 0x5a;
        CHECK(pwrite(fd, &b, 1, spots[i]) == 1);
        close(fd);
        textindex_t *dt = textindex_new(data);
        textindex_open(dt, ix);
        s_same_as(ix, dt, "served in 12 ms", "damaged", false);
        s_same_as(ix, dt, "no-such-word-anywhere", "damaged", false);
        textindex_destroy(&dt);
    }
    s_phase("damage");
    /* a damaged header or directory is removed at open, to be built again */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", copy, seg0);
    CHECK(system(cmd) == 0);

    /* another datafile at the same path: its segments are not these */
    s_gen(other, 2 * TI_SEG + 10, 2);
    index_t *ox = s_index(other);
    textindex_check(ti, ox);
    CHECK(!textindex_ready(ti, 0) && !textindex_ready(ti, 1));
    index_destroy(&ox);
    textindex_destroy(&ti);
    ti = textindex_new(data); /* the files were removed: built again */
    textindex_open(ti, ix);
    CHECK(textindex_missing(ti, ix) == 1);
    textindex_destroy(&ti);

    index_destroy(&ix);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    TEST_DONE();
}
