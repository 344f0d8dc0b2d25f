/*  index and search against datafiles written with l3_xmlrec_write (the writer's
    format): scan, growth with partial lines and the footer, the derived index file reused,
    cut, and rejected when stale, and search newest first; the snapshot (mapped at start,
    the index file's tail replayed) gives the index the XML gives, and a damaged or
    foreign one is not used. */
#include "index.h"
#include "search.h"
#include "l3_xmlrec.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures = 0;
#define CHECK(cond, ...)                                                                         \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);                                \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fprintf(stderr, "\n");                                                               \
            failures++;                                                                          \
        }                                                                                        \
    } while (0)

static uint64_t seq = 0;

static void s_record(l3_buf_t *out, l3_record_type_t type, const char *sid, uint64_t nr,
                     const char *cmd, const char *output, int exit_code)
{
    l3_record_t r;
    l3_record_init(&r);
    r.type = type;
    strcpy(r.agent, "t");
    r.epoch = 1;
    r.seq = ++seq;
    strcpy(r.host, "h&1");
    strcpy(r.user, nr % 2 ? "alice" : "bob");
    if (type == L3_RECORD_SESSION)
        strcpy(r.user, "alice");
    strcpy(r.sid, sid);
    r.start_us = 1795000000000000ll + (int64_t)seq * 1000000;
    if (type == L3_RECORD_SESSION) {
        r.cols = 80;
        r.rows = 24;
        strcpy(r.tty, "/dev/pts/1");
    } else {
        r.end_us = r.start_us + 500000;
        r.has_exit = true;
        r.exit_code = exit_code;
    }
    if (type == L3_RECORD_END)
        r.start_us = 0;
    if (type == L3_RECORD_COMMAND) {
        r.nr = nr;
        l3_bytes_set(&r.cmdline, cmd, strlen(cmd), L3_CMDLINE_MAX);
        l3_bytes_set(&r.output, output, strlen(output), L3_OUTPUT_MAX);
        l3_bytes_set(&r.cwd, "/tmp", 4, L3_CWD_MAX);
    }
    char err[128];
    if (!l3_record_validate(&r, err, sizeof err))
        fprintf(stderr, "invalid test record: %s\n", err);
    l3_xmlrec_write(&r, out);
    l3_record_clear(&r);
}

static void s_append(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "a");
    fwrite(data, 1, len, f);
    fclose(f);
}

static bool s_want(uint32_t ord, void *arg)
{
    (void)ord;
    (void)arg;
    return true;
}

/* ---------------------------------------------------------------- snapshot */

/* Everything the index holds, as text: two indexes are the same when these are. */
static void s_dump(index_t *ix, l3_buf_t *out)
{
    uint32_t nc, ns;
    const index_cmd_t *c = index_cmds(ix, &nc);
    const index_sess_t *s = index_sessions(ix, &ns);
    l3_buf_reset(out);
    for (uint32_t i = 0; i < nc; i++)
        l3_buf_printf(out, "C %u %llu %u %lld %lld s%u %u %s %d %u %u %u\n", i,
                      (unsigned long long)c[i].off, c[i].len, (long long)c[i].start_us,
                      (long long)c[i].end_us, c[i].sess, c[i].nr, index_str(ix, c[i].word),
                      c[i].exit_code, c[i].sig, c[i].flags, c[i].note);
    for (uint32_t i = 0; i < ns; i++) {
        l3_buf_printf(out, "S %u %s %s %s %s %lld %lld %u %u %d %u %u %d %d:", i,
                      index_str(ix, s[i].host), index_str(ix, s[i].user), index_str(ix, s[i].sid),
                      index_str(ix, s[i].tty), (long long)s[i].start_us, (long long)s[i].end_us,
                      s[i].cols, s[i].rows, s[i].exit_code, s[i].sig, s[i].flags, s[i].ended,
                      s[i].declared);
        for (uint32_t k = 0; k < s[i].ncmds; k++)
            l3_buf_printf(out, " %u", s[i].cmds[k]);
        l3_buf_printf(out, "\n");
    }
}

/* The index of path built from the XML alone (no index file), as text. */
static void s_dump_fresh(const char *path, l3_buf_t *out)
{
    bool more;
    index_t *ix = index_new(path, NULL);
    index_load(ix);
    index_scan(ix, UINT64_MAX, UINT64_MAX, &more);
    s_dump(ix, out);
    index_destroy(&ix);
}

/* count commands spread over sessions s0..s4 (a session record first for each new one),
   word by word different first words; a few sessions end. */
static void s_more(const char *path, int from, int count)
{
    l3_buf_t b;
    l3_buf_init(&b, 0);
    for (int i = from; i < from + count; i++) {
        char sid[16], cmd[64];
        snprintf(sid, sizeof sid, "s%d", i / 700);
        if (i % 700 == 0)
            s_record(&b, L3_RECORD_SESSION, sid, 0, NULL, NULL, 0);
        snprintf(cmd, sizeof cmd, "cmd%d --x %d", i % 37, i);
        s_record(&b, L3_RECORD_COMMAND, sid, (uint64_t)(i % 700 + 1), cmd, "out\r\n", i % 5);
        if (i % 700 == 699)
            s_record(&b, L3_RECORD_END, sid, 0, NULL, NULL, 0);
    }
    s_append(path, b.data, b.len);
    l3_buf_free(&b);
}

/* Load (snapshot and/or index file), scan the rest; the index must be the XML's. */
static void s_check_same(const char *path, const char *idx, const char *what, uint64_t *loaded)
{
    l3_buf_t got, want;
    l3_buf_init(&got, 0);
    l3_buf_init(&want, 0);
    bool more;
    index_t *ix = index_new(path, idx);
    index_set_snapshot_every(ix, 1000);
    uint64_t n = index_load(ix);
    if (loaded)
        *loaded = n;
    index_scan(ix, UINT64_MAX, UINT64_MAX, &more);
    s_dump(ix, &got);
    s_dump_fresh(path, &want);
    CHECK(got.len == want.len && !memcmp(got.data, want.data, got.len),
          "%s: the index differs from the XML's (%zu vs %zu bytes of dump)", what, got.len,
          want.len);
    index_destroy(&ix);
    l3_buf_free(&got);
    l3_buf_free(&want);
}

static void s_flip(const char *file, off_t at)
{
    int fd = open(file, O_RDWR);
    unsigned char c = 0;
    if (fd >= 0 && pread(fd, &c, 1, at) == 1) {
        c ^= 0x40;
        pwrite(fd, &c, 1, at);
    }
    if (fd >= 0)
        close(fd);
}

static void s_snapshot_tests(const char *dir)
{
    char path[256], idx[256], snap[300], copy[1024];
    struct stat st;
    bool more;
    uint64_t loaded = 0;
    snprintf(path, sizeof path, "%s/snap.xml", dir);
    snprintf(idx, sizeof idx, "%s/snap.xml.idx", dir);
    snprintf(snap, sizeof snap, "%s.snap", idx);
    s_append(path, L3_XML_HEADER, strlen(L3_XML_HEADER));
    s_more(path, 0, 3000);

    //  First start: no index file; scanned; caught up with 3000+ entries: a snapshot.
    index_t *ix = index_new(path, idx);
    index_set_snapshot_every(ix, 1000);
    CHECK(index_load(ix) == 0, "no index file yet");
    index_scan(ix, UINT64_MAX, UINT64_MAX, &more);
    index_snapshot_wait(ix); /* written in the background */
    index_destroy(&ix);
    CHECK(stat(snap, &st) == 0 && st.st_size > 4096, "a snapshot after the first indexing");

    //  Reload: all from the snapshot, the same index.
    s_check_same(path, idx, "from the snapshot", &loaded);
    CHECK(loaded == 3000 + 5 + 4, "entries from the snapshot: %llu", (unsigned long long)loaded);

    //  Records after the snapshot: into sessions it has (their lists were mapped) and a
    //  new one; the snapshot plus the index file's tail give the XML's index.
    s_more(path, 3000, 600);
    s_check_same(path, idx, "snapshot + scan", NULL);
    s_check_same(path, idx, "snapshot + index file tail", NULL);

    //  Over the threshold again: a newer snapshot, and its commands mapped in place of the
    //  ones in memory while the index goes on growing.
    ix = index_new(path, idx);
    index_set_snapshot_every(ix, 1000);
    index_load(ix);
    s_more(path, 3600, 1200);
    index_scan(ix, UINT64_MAX, UINT64_MAX, &more);
    CHECK(index_snapshot(ix), "an explicit snapshot");
    s_more(path, 4800, 300);
    index_scan(ix, UINT64_MAX, UINT64_MAX, &more);
    {
        l3_buf_t got, want;
        l3_buf_init(&got, 0);
        l3_buf_init(&want, 0);
        s_dump(ix, &got);
        s_dump_fresh(path, &want);
        CHECK(got.len == want.len && !memcmp(got.data, want.data, got.len),
              "after a snapshot mapped in place the index goes on as the XML's");
        l3_buf_free(&got);
        l3_buf_free(&want);
    }
    index_destroy(&ix);
    s_check_same(path, idx, "the newer snapshot", &loaded);
    CHECK(loaded == 5100 + 8 + 7, "entries: %llu", (unsigned long long)loaded);

    //  Damage: a command's session out of range, the header, a cut file, a string. Each is
    //  refused (the index file is replayed instead) and the index is still the XML's.
    stat(snap, &st);

    snprintf(copy, sizeof copy, "cp %s %s.good", snap, snap);
    CHECK(system(copy) == 0, "copy");
    off_t at[] = {4096 + 48 * 10 + 28, 8, st.st_size / 2, st.st_size - 3};
    for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
        snprintf(copy, sizeof copy, "cp %s.good %s", snap, snap);
        CHECK(system(copy) == 0, "restore");
        s_flip(snap, at[i]);
        s_check_same(path, idx, "a damaged snapshot", &loaded);
    }
    snprintf(copy, sizeof copy, "cp %s.good %s", snap, snap);
    CHECK(system(copy) == 0, "restore");
    truncate(snap, st.st_size - 100);
    s_check_same(path, idx, "a cut snapshot", &loaded);

    //  A snapshot of another index file (this one rebuilt since) is not used: the index
    //  file is recreated and the snapshot goes with it.
    snprintf(copy, sizeof copy, "cp %s.good %s", snap, snap);
    CHECK(system(copy) == 0, "restore");
    unlink(idx);
    s_check_same(path, idx, "no index file, an old snapshot", &loaded);
    CHECK(loaded == 0, "an old snapshot without its index file: %llu", (unsigned long long)loaded);

    snprintf(copy, sizeof copy, "%s.good", snap);
    unlink(copy);
    unlink(snap);
    unlink(idx);
    unlink(path);
}

int main(void)
{
    char dir[] = "/tmp/l3-journal-index-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[256], idx[256];
    snprintf(path, sizeof path, "%s/data.xml", dir);
    snprintf(idx, sizeof idx, "%s/data.xml.idx", dir);
    l3_buf_t b;
    l3_buf_init(&b, 0);
    l3_buf_append_str(&b, L3_XML_HEADER);
    s_record(&b, L3_RECORD_SESSION, "s1", 0, NULL, NULL, 0);
    for (int i = 1; i <= 100; i++) {
        char cmd[64], out[64];
        snprintf(cmd, sizeof cmd, i == 50 ? "grep needle%d" : "ls %d", i);
        snprintf(out, sizeof out, "line <%d>\r\n%s", i, i % 10 == 0 ? "needle here\r\n" : "");
        s_record(&b, L3_RECORD_COMMAND, "s1", (uint64_t)i, cmd, out, i % 7 == 0 ? 1 : 0);
    }
    s_append(path, b.data, b.len);

    index_t *ix = index_new(path, idx);
    CHECK(ix != NULL, "index opens");
    CHECK(index_load(ix) == 0, "no index file yet");
    bool more;
    int64_t added = index_scan(ix, UINT64_MAX, UINT64_MAX, &more);
    CHECK(added == 101, "101 records indexed, got %lld", (long long)added);
    uint32_t nc, ns;
    const index_cmd_t *cmds = index_cmds(ix, &nc);
    const index_sess_t *ss = index_sessions(ix, &ns);
    CHECK(nc == 100 && ns == 1, "100 commands in 1 session: %u %u", nc, ns);
    CHECK(!strcmp(index_str(ix, ss[0].host), "h&1"), "host unescaped: %s",
          index_str(ix, ss[0].host));
    CHECK(ss[0].cols == 80 && !ss[0].ended, "session fields");
    CHECK(cmds[6].exit_code == 1 && cmds[0].exit_code == 0, "exit codes");
    CHECK(!strcmp(index_str(ix, cmds[49].word), "grep"), "first word");
    l3_record_t r;
    CHECK(index_load_cmd(ix, 49, &r) && r.cmdline.len == 13 &&
              !memcmp(r.cmdline.data, "grep needle50", 13),
          "full parse by offset");
    l3_record_clear(&r);

    /* search: newest first, stops at `want` */
    uint32_t found[8];
    struct {
        uint32_t *f;
        int n;
    } acc = {found, 0};
    (void)acc;
    uint32_t resume;
    size_t n = search_commands(ix, NULL, "needle", false, UINT32_MAX, 3, 0, s_want, NULL, &more, &resume);
    CHECK(n == 3 && more, "search 3 newest with more: %zu %d", n, more);
    n = search_commands(ix, NULL, "needle", false, UINT32_MAX, 100, 0, s_want, NULL, &more, &resume);
    CHECK(n == 10, "10 commands mention needle: %zu", n);
    n = search_commands(ix, NULL, "<5>", false, UINT32_MAX, 100, 0, s_want, NULL, &more, &resume);
    CHECK(n == 1, "markup in the needle is matched as text: %zu", n);
    n = search_commands(ix, NULL, "h&1", false, UINT32_MAX, 100, 0, s_want, NULL, &more, &resume);
    CHECK(n == 0, "attributes are not searched: %zu", n);
    /* Found by fuzz/render_page: a needle that also stood in the start tag ("e" is in
       agent="..."; "alice" is the user) hid the command, element names matched ("line"
       is in <line>), and so did entities and the timing lines. */
    n = search_commands(ix, NULL, "e", false, UINT32_MAX, 200, 0, s_want, NULL, &more, &resume);
    CHECK(n == 100, "a needle that is also in every start tag: %zu", n);
    n = search_commands(ix, NULL, "alice", false, UINT32_MAX, 200, 0, s_want, NULL, &more, &resume);
    CHECK(n == 0, "the user name is only an attribute here: %zu", n);
    n = search_commands(ix, NULL, "tmp", false, UINT32_MAX, 200, 0, s_want, NULL, &more, &resume);
    CHECK(n == 100, "the cwd is searched: %zu", n);
    n = search_commands(ix, NULL, "ine", false, UINT32_MAX, 200, 0, s_want, NULL, &more, &resume);
    CHECK(n == 100, "\"line <N>\" in every output: %zu", n);
    n = search_commands(ix, NULL, "out", false, UINT32_MAX, 200, 0, s_want, NULL, &more, &resume);
    CHECK(n == 0, "element names are not text: %zu", n);
    n = search_commands(ix, NULL, "lt;", false, UINT32_MAX, 200, 0, s_want, NULL, &more, &resume);
    CHECK(n == 0, "the inside of an entity is not text: %zu", n);
    n = search_commands(ix, NULL, "#10", false, UINT32_MAX, 200, 0, s_want, NULL, &more, &resume);
    CHECK(n == 0, "an encoded newline is not text: %zu", n);

    /* growth: a partial line is not indexed until complete; the footer is not passed */
    l3_buf_reset(&b);
    s_record(&b, L3_RECORD_COMMAND, "s1", 101, "echo tail", "tail", 0);
    size_t half = b.len / 2;
    s_append(path, b.data, half);
    added = index_scan(ix, UINT64_MAX, UINT64_MAX, &more);
    CHECK(added == 0, "partial line waits: %lld", (long long)added);
    s_append(path, b.data + half, b.len - half);
    s_append(path, L3_XML_FOOTER, strlen(L3_XML_FOOTER));
    added = index_scan(ix, UINT64_MAX, UINT64_MAX, &more);
    CHECK(added == 1, "completed line indexed: %lld", (long long)added);
    struct stat st;
    stat(path, &st);
    CHECK(index_pos(ix) == (uint64_t)st.st_size - strlen(L3_XML_FOOTER), "stops at footer");
    /* the writer overwrites the footer with the next records */
    l3_buf_reset(&b);
    s_record(&b, L3_RECORD_END, "s1", 0, NULL, NULL, 0);
    l3_buf_append_str(&b, L3_XML_FOOTER);
    int fd = open(path, O_WRONLY);
    pwrite(fd, b.data, b.len, (off_t)index_pos(ix));
    close(fd);
    added = index_scan(ix, UINT64_MAX, UINT64_MAX, &more);
    ss = index_sessions(ix, &ns);
    CHECK(added == 1 && ss[0].ended, "end record after the footer rewrite");
    /* a commit limit holds the scan back */
    uint64_t pos = index_pos(ix);
    index_destroy(&ix);

    /* reuse: the index file gives the same index without a scan */
    ix = index_new(path, idx);
    uint64_t loaded = index_load(ix);
    CHECK(loaded == 103, "all records from the index file: %llu", (unsigned long long)loaded);
    CHECK(index_pos(ix) == pos, "same position");
    added = index_scan(ix, UINT64_MAX, UINT64_MAX, &more);
    CHECK(added == 0, "nothing left to scan: %lld", (long long)added);
    cmds = index_cmds(ix, &nc);
    CHECK(nc == 101 && cmds[6].exit_code == 1 && !strcmp(index_str(ix, cmds[49].word), "grep"),
          "same content after reload");
    index_destroy(&ix);

    /* a torn index file: the good prefix is used, the rest scanned */
    stat(idx, &st);
    truncate(idx, st.st_size - 10);
    ix = index_new(path, idx);
    loaded = index_load(ix);
    added = index_scan(ix, UINT64_MAX, UINT64_MAX, &more);
    CHECK(loaded == 102 && added == 1, "torn index: %llu + %lld", (unsigned long long)loaded,
          (long long)added);
    index_destroy(&ix);

    /* stale: the datafile's last record changed under the index -> rebuilt */
    fd = open(path, O_WRONLY);
    pwrite(fd, "<end agent=\"X", 13, (off_t)(pos - b.len + strlen(L3_XML_FOOTER)));
    close(fd);
    ix = index_new(path, idx);
    loaded = index_load(ix);
    CHECK(loaded == 0, "stale index rejected: %llu", (unsigned long long)loaded);
    added = index_scan(ix, UINT64_MAX, UINT64_MAX, &more);
    CHECK(added == 103, "rebuilt: %lld", (long long)added);
    index_destroy(&ix);

    /* a replaced datafile (different head) -> rebuilt */
    unlink(path);
    l3_buf_reset(&b);
    l3_buf_append_str(&b, L3_XML_HEADER);
    s_record(&b, L3_RECORD_SESSION, "other", 0, NULL, NULL, 0);
    s_append(path, b.data, b.len);
    ix = index_new(path, idx);
    loaded = index_load(ix);
    added = index_scan(ix, UINT64_MAX, UINT64_MAX, &more);
    ss = index_sessions(ix, &ns);
    CHECK(loaded == 0 && added == 1 && ns == 1 && !strcmp(index_str(ix, ss[0].sid), "other"),
          "replaced datafile re-indexed");
    index_destroy(&ix);

    /* search: the hex of bytes XML cannot carry and the timing lines are not text */
    unlink(path);
    unlink(idx);
    l3_buf_reset(&b);
    l3_buf_append_str(&b, L3_XML_HEADER);
    s_record(&b, L3_RECORD_SESSION, "hex", 0, NULL, NULL, 0);
    {
        l3_record_t h;
        l3_record_init(&h);
        h.type = L3_RECORD_COMMAND;
        strcpy(h.agent, "t");
        h.epoch = 1;
        h.seq = ++seq;
        strcpy(h.host, "h");
        strcpy(h.user, "alice");
        strcpy(h.sid, "hex");
        h.nr = 1;
        h.start_us = 1795000000000000ll;
        l3_bytes_set(&h.cmdline, "printf x", 8, L3_CMDLINE_MAX);
        l3_bytes_set(&h.output, "\x1b[1mbold\x1b\x1b end", 15, L3_OUTPUT_MAX);
        l3_bytes_set(&h.timing, "0.5 4\n", 6, L3_TIMING_MAX);
        CHECK(l3_xmlrec_write(&h, &b), "hex record written");
        l3_record_clear(&h);
    }
    s_append(path, b.data, b.len);
    ix = index_new(path, NULL);
    index_load(ix);
    index_scan(ix, UINT64_MAX, UINT64_MAX, &more);
    n = search_commands(ix, NULL, "1b", false, UINT32_MAX, 10, 0, s_want, NULL, &more, &resume);
    CHECK(n == 0, "hex of ESC is not text: %zu", n);
    n = search_commands(ix, NULL, "[1mbold", false, UINT32_MAX, 10, 0, s_want, NULL, &more, &resume);
    CHECK(n == 1, "text after an ESC: %zu", n);
    n = search_commands(ix, NULL, "x", false, UINT32_MAX, 10, 0, s_want, NULL, &more, &resume);
    CHECK(n == 1, "x in the command line, not only in <x>: %zu", n);
    n = search_commands(ix, NULL, " end", false, UINT32_MAX, 10, 0, s_want, NULL, &more, &resume);
    CHECK(n == 1, "text after two ESCs: %zu", n);
    n = search_commands(ix, NULL, "0.5", false, UINT32_MAX, 10, 0, s_want, NULL, &more, &resume);
    CHECK(n == 0, "timing lines are not searched: %zu", n);
    index_destroy(&ix);

    /* names the writer accepts whose escaped form is over 255 bytes (found by
       fuzz/render_page: the host's records vanished, the user became "") */
    unlink(path);
    l3_buf_reset(&b);
    l3_buf_append_str(&b, L3_XML_HEADER);
    {
        l3_record_t h;
        l3_record_init(&h);
        h.type = L3_RECORD_COMMAND;
        strcpy(h.agent, "t");
        h.epoch = 1;
        h.seq = ++seq;
        memset(h.host, '&', L3_NAME_MAX);
        memset(h.user, '"', L3_NAME_MAX);
        strcpy(h.sid, "long");
        h.nr = 1;
        h.start_us = 1795000000000000ll;
        l3_bytes_set(&h.cmdline, "ls", 2, L3_CMDLINE_MAX);
        CHECK(l3_xmlrec_write(&h, &b), "long names written");
        l3_record_clear(&h);
    }
    s_append(path, b.data, b.len);
    ix = index_new(path, NULL);
    index_load(ix);
    index_scan(ix, UINT64_MAX, UINT64_MAX, &more);
    cmds = index_cmds(ix, &nc);
    ss = index_sessions(ix, &ns);
    CHECK(nc == 1 && ns == 1, "a host of 255 '&' is indexed: %u commands", nc);
    CHECK(ns == 1 && strlen(index_str(ix, ss[0].host)) == L3_NAME_MAX &&
              strlen(index_str(ix, ss[0].user)) == L3_NAME_MAX &&
              index_str(ix, ss[0].user)[0] == '"',
          "long names unescaped whole");
    index_destroy(&ix);

    s_snapshot_tests(dir);

    l3_buf_free(&b);
    unlink(path);
    unlink(idx);
    rmdir(dir);
    if (failures)
        fprintf(stderr, "%d failures\n", failures);
    else
        printf("test_journal_index: OK\n");
    return failures ? 1 : 0;
}
