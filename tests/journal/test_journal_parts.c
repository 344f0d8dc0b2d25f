/*  render's index over a rotated datafile (render/index.h, docs/journal.md "Parts and
    ids"), with parts laid out as the writer lays them out (l3_parts.h names,
    l3_xml_header_write headers): every part read as one history in part order; a
    rotation followed while the index is open, including the moment between the writer's
    link and rename; a part removed or archived by retention (its commands not kept, the
    ordinals of the others unchanged, the index file still taken, a rebuild counting from
    the first part's commands-before); a closed part torn in its last line; a replaced
    datafile; and the search index's segments across a part boundary, whose answers must
    equal a full scan's before and after the removal. */
#include "index.h"
#include "l3_parts.h"
#include "l3_xmlrec.h"
#include "search.h"
#include "textindex.h"

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

static char dir[256], live[300], idx[320];
static uint64_t seq;

/* A record of type in session sid, from agent "t" with the next seq. */
static void s_rec(l3_record_t *r, l3_record_type_t type, const char *sid)
{
    l3_record_init(r);
    r->type = type;
    strcpy(r->agent, "t");
    r->epoch = 1;
    r->seq = ++seq;
    strcpy(r->host, "h");
    strcpy(r->user, "u");
    snprintf(r->sid, sizeof r->sid, "%s", sid);
}

/* Command k's record line ("cmd k" in session s<k / 1000>), a session record before the
   first of each session. */
static void s_cmd(l3_buf_t *out, uint64_t k)
{
    l3_record_t r;
    char sid[32], line[64];
    snprintf(sid, sizeof sid, "s%llu", (unsigned long long)(k / 1000));
    if (k % 1000 == 0) {
        s_rec(&r, L3_RECORD_SESSION, sid);
        strcpy(r.tty, "/dev/pts/1");
        r.cols = 80;
        r.rows = 24;
        r.start_us = 1795000000000000ll + (int64_t)k * 1000;
        l3_xmlrec_write(&r, out);
        l3_record_clear(&r);
    }
    s_rec(&r, L3_RECORD_COMMAND, sid);
    r.nr = k % 1000 + 1;
    r.start_us = 1795000000000000ll + (int64_t)k * 1000 + 1;
    r.end_us = r.start_us + 10;
    r.has_exit = true;
    snprintf(line, sizeof line, "cmd %llu", (unsigned long long)k);
    l3_bytes_set(&r.cmdline, line, strlen(line), L3_CMDLINE_MAX);
    l3_bytes_set(&r.cwd, "/tmp", 4, L3_CWD_MAX);
    l3_bytes_set(&r.output, "out\n", 4, L3_OUTPUT_MAX);
    l3_xmlrec_write(&r, out);
    l3_record_clear(&r);
}

/* A whole part file at path: header of `part` (commands_before = from), commands
   [from, to), then the footer, or when torn half a record line and no footer (a part
   damaged on disk: the writer syncs a part whole before it closes it). */
static void s_part_file(const char *path, uint32_t part, uint64_t from, uint64_t to, bool torn)
{
    l3_buf_t b;
    l3_buf_init(&b, 0);
    l3_xml_head_t h = {part, from, part ? 1795000000000000ll + (int64_t)part : 0, 0};
    l3_xml_header_write(&h, &b);
    for (uint64_t k = from; k < to; k++)
        s_cmd(&b, k);
    const char *tail = torn ? "<command agent=\"t\" epoch=\"1\" se" : L3_XML_FOOTER;
    l3_buf_append(&b, tail, strlen(tail));
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    fwrite(b.data, 1, b.len, f);
    fclose(f);
    rename(tmp, path); /* as the writer moves a new part over the live name */
    l3_buf_free(&b);
}

static char *s_closed(uint32_t part)
{
    return l3_part_path(live, part, 1795000000000000ll + (int64_t)part * 1000000);
}

/* Every command of the index reads "cmd <ordinal + base>", or is not kept. */
static uint32_t s_check_lines(index_t *ix, const char *what, uint32_t *kept)
{
    uint32_t nc;
    index_cmds(ix, &nc);
    uint64_t base = index_ord_base(ix);
    *kept = 0;
    for (uint32_t o = 0; o < nc; o++) {
        l3_record_t r;
        if (!index_load_cmd(ix, o, &r)) {
            CHECK(!index_cmd_kept(ix, o), "%s: command %u unreadable but kept", what, o);
            l3_record_clear(&r);
            continue;
        }
        char want[64];
        snprintf(want, sizeof want, "cmd %llu", (unsigned long long)(base + o));
        CHECK(r.cmdline.len == strlen(want) && !memcmp(r.cmdline.data, want, r.cmdline.len),
              "%s: command %u reads '%.*s', not '%s'", what, o, (int)r.cmdline.len,
              (const char *)r.cmdline.data, want);
        (*kept)++;
        l3_record_clear(&r);
    }
    return nc;
}

static index_t *s_open(const char *idxpath)
{
    bool more = true;
    index_t *ix = index_new(live, idxpath);
    index_load(ix);
    while (more)
        index_scan(ix, UINT64_MAX, 1 << 20, &more);
    return ix;
}

static void s_rescan(index_t *ix)
{
    bool more = true;
    while (more)
        index_scan(ix, UINT64_MAX, 1 << 20, &more);
}

typedef struct {
    uint32_t *ords;
    size_t n, cap;
} hits_t;

static bool s_collect(uint32_t ord, void *arg)
{
    hits_t *h = arg;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->ords = realloc(h->ords, h->cap * sizeof *h->ords);
    }
    h->ords[h->n++] = ord;
    return true;
}

static hits_t s_search(index_t *ix, textindex_t *ti, const char *needle)
{
    hits_t h = {0};
    bool more;
    uint32_t resume;
    search_commands(ix, ti, needle, false, UINT32_MAX, SIZE_MAX, 0, s_collect, &h, &more, &resume);
    return h;
}

/* The search index's answers equal a full scan's for a few needles. */
static void s_same_search(index_t *ix, textindex_t *ti, const char *what)
{
    const char *needles[] = {"cmd 1", "cmd 6553", "cmd 65536", "cmd 7", "d 69", "zz"};
    for (size_t i = 0; i < sizeof needles / sizeof *needles; i++) {
        hits_t a = s_search(ix, ti, needles[i]), b = s_search(ix, NULL, needles[i]);
        CHECK(a.n == b.n && (a.n == 0 || !memcmp(a.ords, b.ords, a.n * sizeof *a.ords)),
              "%s: '%s': %zu hits with the search index, %zu by a scan", what, needles[i], a.n,
              b.n);
        for (size_t k = 0; k < b.n; k++)
            CHECK(index_cmd_kept(ix, b.ords[k]), "%s: '%s' found command %u, which is not kept",
                  what, needles[i], b.ords[k]);
        free(a.ords);
        free(b.ords);
    }
}

static void s_cleanup(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/l3-parts-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(live, sizeof live, "%s/d.xml", dir);
    snprintf(idx, sizeof idx, "%s/d.xml.idx", dir);
    uint32_t kept, nc;

    /* 1. Three parts read as one history, in part order, and followed as the writer
          rotates: part 2 live at first; then the writer links it as a closed part (the
          index sees nothing new), then moves part 3 over the live name. */
    char *p0 = s_closed(0), *p1 = s_closed(1), *p2 = s_closed(2), *p3 = s_closed(3);
    s_part_file(p0, 0, 0, 40000, false);
    s_part_file(p1, 1, 40000, 40010, true); /* torn: half a line, no footer */
    s_part_file(live, 2, 40010, 70000, false);
    index_t *ix = s_open(idx);
    nc = s_check_lines(ix, "three parts", &kept);
    CHECK(nc == 70000 && kept == nc, "three parts: %u commands, %u kept", nc, kept);
    uint64_t done, total;
    index_progress(ix, &done, &total);
    CHECK(done + 10 >= total && total > 0, "progress %llu of %llu", (unsigned long long)done,
          (unsigned long long)total);
    CHECK(link(live, p2) == 0, "link the live part");
    s_rescan(ix);
    index_cmds(ix, &nc);
    CHECK(nc == 70000, "between link and rename: %u commands", nc);
    s_part_file(live, 3, 70000, 70500, false);
    s_rescan(ix);
    nc = s_check_lines(ix, "after a rotation", &kept);
    CHECK(nc == 70500 && kept == nc, "after a rotation: %u commands, %u kept", nc, kept);
    CHECK(INDEX_OFF_PART(index_pos(ix)) == 3, "reads part %u", INDEX_OFF_PART(index_pos(ix)));

    /* 2. The search index over segment 0 (commands 0-65535: parts 0 to 2). */
    textindex_t *ti = textindex_new(idx);
    CHECK(textindex_build(ti, ix, 0), "segment 0 built across three parts");
    textindex_open(ti, ix);
    CHECK(textindex_ready(ti, 0), "segment 0 open");
    s_same_search(ix, ti, "across parts");

    /* 3. Retention removes part 0 and archives part 1 while the index is open. */
    index_destroy(&ix);
    ix = s_open(idx); /* from the index file */
    CHECK(index_ord_base(ix) == 0, "base %llu", (unsigned long long)index_ord_base(ix));
    unlink(p0);
    char gz[400];
    snprintf(gz, sizeof gz, "%s.gz", p1);
    FILE *f = fopen(gz, "w");
    fputs("not read", f);
    fclose(f);
    unlink(p1);
    s_rescan(ix);
    nc = s_check_lines(ix, "parts 0 and 1 gone", &kept);
    CHECK(nc == 70500 && kept == 70500 - 40010, "parts 0 and 1 gone: %u commands, %u kept", nc,
          kept);
    CHECK(!index_cmd_kept(ix, 0) && !index_cmd_kept(ix, 40009) && index_cmd_kept(ix, 40010),
          "kept: the first command of part 2 and those after");
    CHECK(index_kept_from(ix) == INDEX_OFF(2, 0), "kept from part %u",
          INDEX_OFF_PART(index_kept_from(ix)));
    s_same_search(ix, ti, "after retention, segment as built");
    textindex_destroy(&ti);
    ti = textindex_new(idx);
    textindex_open(ti, ix); /* its first line is gone: not taken, built again */
    CHECK(!textindex_ready(ti, 0), "a segment whose first line was removed is not taken");
    CHECK(textindex_build(ti, ix, 0), "segment 0 built again without parts 0 and 1");
    textindex_open(ti, ix);
    CHECK(textindex_ready(ti, 0), "segment 0 open again");
    s_same_search(ix, ti, "after retention, segment rebuilt");
    textindex_destroy(&ti);

    /* 4. The index file is still taken (it begins at a part no longer there); rebuilt
          from the XML alone, the index counts from part 2's commands-before. */
    index_destroy(&ix);
    ix = s_open(idx);
    nc = s_check_lines(ix, "reloaded", &kept);
    CHECK(nc == 70500 && kept == 70500 - 40010, "reloaded: %u commands, %u kept", nc, kept);
    index_destroy(&ix);
    ix = s_open(NULL);
    nc = s_check_lines(ix, "rebuilt", &kept);
    CHECK(index_ord_base(ix) == 40010, "rebuilt: base %llu", (unsigned long long)index_ord_base(ix));
    CHECK(nc == 70500 - 40010 && kept == nc, "rebuilt: %u commands, %u kept", nc, kept);

    /* 5. A datafile replaced under the index by a new one (part 0 again): indexed anew. */
    unlink(p2);
    unlink(p3);
    s_part_file(live, 0, 0, 100, false);
    s_rescan(ix);
    nc = s_check_lines(ix, "replaced", &kept);
    CHECK(nc == 100 && kept == 100 && index_ord_base(ix) == 0, "replaced: %u commands", nc);
    index_destroy(&ix);

    free(p0);
    free(p1);
    free(p2);
    free(p3);
    if (failures == 0)
        s_cleanup();
    else
        fprintf(stderr, "files kept in %s\n", dir);
    printf("%s: %d failure(s)\n", failures ? "FAIL" : "ok", failures);
    return failures ? 1 : 0;
}
