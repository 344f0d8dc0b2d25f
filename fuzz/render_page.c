/*  Fuzz target: the journal's pages (render/pages.c and what it calls) over a datafile
    built from fuzzed records. One source, one target per page kind: RENDER_PAGE selects
    it at build time (fuzz/render.cmake): journal, session, cmd_full, search, stats, api,
    export_txt, export_cast, export_json, replay.

    Each input is decoded into a request and a few records; the records the writer would
    refuse (l3_record_validate) are skipped, the rest are written in the writer's format
    (L3_XML_HEADER, l3_xmlrec_write lines, L3_XML_FOOTER) into a datafile in a private
    temp dir, indexed with the real index (sometimes replayed through its index file as
    well), and the request goes through the real pages_handle. Then everything that must
    hold whatever the input is checked, and a failure abort()s with a line saying which:

    - the index holds exactly the commands written, with their times, exit, signal,
      flags, host, user and session id (and the index file replays to the same index);
    - the response is HTTP/1.1 with a status line, printable headers ending in CRLFCRLF,
      one Content-Type and a Content-Length equal to the body's length;
    - HTML: valid UTF-8; every '<' opens or closes a tag we write (a fixed list), tags
      balance, attributes are quoted with no '<' '>' '"' inside, no on* handler, no
      javascript: URL, a <script> is empty, deferred, with src a file under static_url
      (at most two: the replay page's player and its starter),
      every '&' starts an entity, no raw '>' or control byte in text; so no byte of a
      record ever reaches the page as markup;
    - JSON (the API, .json, each line of .cast): strict RFC 8259, valid UTF-8, no '<'
      byte at all; an "html" fragment in it passes the HTML checks; .cast times never go
      back; .txt is UTF-8 without escape sequences or other controls;
    - access: with a remote user who is not an instructor (whole names), every command,
      session and link on the page belongs to that user's sessions, and asking for
      another user's command or session answers 404;
    - search: every hit holds the needle in its command line, cwd, output or diff, and
      when the answer is not cut by the page size, every visible command that holds it
      is a hit (the hit's record is searched: a list shows only the start of a long line
      or diff, so the needle may stand past what the page shows);
    - lists (the journal, a session, search hits, the live page, an html=1 fragment) cost
      at most LIST_CMD_MAX per command they show, however long its line, output or diff:
      a list shows the start of each and links to the command's page for the rest;
    - the JSON API's lists: an /api/commands answer takes at most API_ANSWER_MAX unless it
      lists a single command, and a .json export page EXPORT_ANSWER_MAX; only a lone
      command in an /api/commands answer may come cut, and then each "X_more" says as
      many left-out bytes as the lists' cut leaves out of that field of its record; the
      export and /api/cmd/ID never cut;
    - depth: every command object in a JSON answer says its record's "depth"; in HTML a
      command at depth d > 0 has class dK (K = min(d, 4)) and "inner shell d" in its meta
      line, one at depth 0 neither.

    Environment: RENDER_PAGE_DUMP=FILE writes the request and the response there (to see
    what a reproducer does).

    Input layout (fuzz/render_page_seeds.py writes seeds in it; every input decodes,
    missing bytes read as zero). str = length (one byte below 0x80, else two bytes, 15
    bits big-endian) and that many bytes.
      u8  config    bits 0-1 language (auto en ru auto), 2-3 page size (100 1 2 3),
                    4-5 head/tail lines (20/10 1/0 2/1 3/100000), 6-7 instructors
      u8  env       bits 0-1 TZ, 2 HEAD, 3 index-file replay, 4-6 remote user
                    (none none slot0 slot1 instructor "teacher admin" custom custom)
      str user      the custom remote user
      str lang      Accept-Language
      u8  route     bits 0-1 path variant of the kind, bit 7 odd id (huge, past the end)
      u16 id        N of /session/N, /cmd/N ... (modulo the count, plus one past)
      u16 params    bit mask of query parameters that follow, each a str value, in order:
                    page host user session from to failed q before since limit html full;
                    bit 13: a raw query tail (str, not encoded). A host or user value of
                    one byte below 4 names that slot's host or user.
      records until the input ends, each:
      u8  kind      bits 0-1 type (command session end command), 2-3 identity slot,
                    4 new identity, 5 has exit, 6 explicit times, 7 numbers
      [new identity]  str host, str user, str sid, str tty
      [times]         u64 start (modulo the valid range), u32 duration in us (0: no end)
      [numbers]       u32 exit, u8 signal, u8 flags, u32 nr, u32 dropped, u16 head,
                      u16 cols, u16 rows (a command has no size: its cols % 16 is the
                      depth of the shell it was typed in)
      command only:   str cwd, str line, u8 line repeat, str out, u8 out repeat,
                      str timing, str diff (repeat 0xf0+k: 2^k copies, else one) */
#include "index.h"
#include "l3_buf.h"
#include "l3_config.h"
#include "l3_log.h"
#include "l3_record.h"
#include "l3_utf8.h"
#include "l3_xmlrec.h"
#include "pages.h"
#include "req.h"

#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE_JOURNAL 1
#define PAGE_SESSION 2
#define PAGE_CMD_FULL 3
#define PAGE_SEARCH 4
#define PAGE_STATS 5
#define PAGE_API 6
#define PAGE_EXPORT_TXT 7
#define PAGE_EXPORT_CAST 8
#define PAGE_EXPORT_JSON 9
#define PAGE_REPLAY 10

#ifndef RENDER_PAGE
#error "build with -DRENDER_PAGE=PAGE_JOURNAL (or another PAGE_ kind)"
#endif

#define MAX_RECORDS 48
/* What one command may add to a list page. A list shows at most 4 KiB of a command line
   (escaped: ~24 KiB, and up to 64 word links with their icons), 16 KiB of a diff and
   about 6 KiB of output (its colour spans), a cwd of 4 KiB: far below this. Showing a
   1 MiB line whole took 4 MiB. */
#define LIST_CMD_MAX (2u << 20)
/* What one answer of the JSON API's lists may take unless it lists a single command
   (render/ui_api.c: API_BUDGET, EXPORT_BUDGET), and what the lists show of a command's
   line, diff and output when cut (render/ui.h: UI_LIST_LINE_MAX, UI_LIST_DIFF_MAX;
   ui_api.c: CUT_OUTPUT_MAX). */
#define API_ANSWER_MAX (4u << 20)
#define EXPORT_ANSWER_MAX (32u << 20)
#define CUT_LINE_MAX 4096
#define CUT_DIFF_MAX 16384
#define CUT_OUTPUT_MAX 4096
#define SLOTS 4
#define STATIC_URL "/static"
#define BASE_URL "/journal"

static void s_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void s_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "render_page invariant failed: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

/* ---------------------------------------------------------------- input reader */

typedef struct {
    const uint8_t *p;
    size_t n;
} rd_t;

static uint8_t s_u8(rd_t *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static uint64_t s_uint(rd_t *r, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = (v << 8) | s_u8(r);
    return v;
}

/* A length-prefixed byte string; *data points into the input. */
static size_t s_str(rd_t *r, const uint8_t **data)
{
    size_t len = s_u8(r);
    if (len & 0x80)
        len = ((len & 0x7f) << 8) | s_u8(r);
    if (len > r->n)
        len = r->n;
    *data = r->p;
    r->p += len;
    r->n -= len;
    return len;
}

/* The string as a NUL-terminated text field (cut at a NUL byte or the field size). */
static void s_text(rd_t *r, char *field, size_t size)
{
    const uint8_t *d;
    size_t len = s_str(r, &d);
    if (len >= size)
        len = size - 1;
    memcpy(field, d, len);
    field[len] = 0;
}

/* Bytes the fields of one input may still take. Under libFuzzer (ASan, coverage, a
   5 s timeout on a shared machine) an input of megabytes of fields only measures how
   slow that is, a timeout that is no finding, so LLVMFuzzerInitialize (which the CTest
   stub never calls) lowers the budget; the corpus run keeps every field up to its cap. */
static size_t s_budget, s_budget_max = SIZE_MAX;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    s_budget_max = 512u << 10;
    return 0;
}

/* A byte field, repeated 2^k times for a repeat byte 0xf0+k, capped at cap and by the
   input's budget. */
static void s_field(l3_bytes_t *f, const uint8_t *d, size_t len, uint8_t rep, size_t cap)
{
    size_t copies = rep >= 0xf0 ? (size_t)1 << (rep & 15) : 1;
    size_t total = len * copies;
    if (total > cap)
        total = cap;
    if (total > s_budget)
        total = s_budget > len ? s_budget : len;
    s_budget -= total < s_budget ? total : s_budget;
    l3_bytes_free(f);
    if (!total)
        return;
    f->data = malloc(total);
    if (!f->data)
        abort();
    for (size_t o = 0; o < total; o += len)
        memcpy(f->data + o, d, total - o < len ? total - o : len);
    f->len = total;
}

/* ---------------------------------------------------------------- per-process state */

static char s_dir[256], s_data[300], s_idx[300];
static pages_t *s_pages[256];

static void s_cleanup(void)
{
    unlink(s_data);
    unlink(s_idx);
    rmdir(s_dir);
    for (int i = 0; i < 256; i++)
        pages_destroy(&s_pages[i]);
}

static void s_init(void)
{
    l3_log_init("fuzz_render_page", false, L3_LOG_ERROR); /* skipped-record warnings expected */
    const char *tmp = getenv("TMPDIR");
    snprintf(s_dir, sizeof s_dir, "%s/l3-fuzz-page-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s_dir)) {
        perror("render_page: mkdtemp");
        abort();
    }
    snprintf(s_data, sizeof s_data, "%s/data.xml", s_dir);
    snprintf(s_idx, sizeof s_idx, "%s/data.idx", s_dir);
    atexit(s_cleanup);
}

static const char *s_languages[4] = {"auto", "en", "ru", "auto"};
static const int s_page_sizes[4] = {100, 1, 2, 3};
static const int s_heads[4] = {20, 1, 2, 3}, s_tails[4] = {10, 0, 1, 100000};
static const char *s_instructor_lists[4] = {"", "teacher", "teacher admin", "alice, root"};

/* pages for a config byte, made once: render's config file written and loaded. */
static pages_t *s_pages_for(uint8_t cfg)
{
    if (s_pages[cfg])
        return s_pages[cfg];
    char path[320];
    snprintf(path, sizeof path, "%s/lilalo.cfg", s_dir);
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    /* whatis off: it runs a process per new word; no search budget: results must not
       depend on how fast this machine is. */
    fprintf(f,
            "render\n    base_url = \"%s\"\n    static_url = \"%s\"\n    language = \"%s\"\n"
            "    page_size = %d\n    output_head_lines = %d\n    output_tail_lines = %d\n"
            "    instructors = \"%s\"\n    whatis = 0\n    search_budget_ms = 0\n",
            BASE_URL, STATIC_URL, s_languages[cfg & 3], s_page_sizes[(cfg >> 2) & 3],
            s_heads[(cfg >> 4) & 3], s_tails[(cfg >> 4) & 3], s_instructor_lists[cfg >> 6]);
    fclose(f);
    l3_config_t *config = l3_config_load(path);
    unlink(path);
    if (!config)
        abort();
    s_pages[cfg] = pages_new(config);
    l3_config_destroy(&config);
    if (!s_pages[cfg])
        abort();
    return s_pages[cfg];
}

static void s_set_tz(int which)
{
    static const char *zones[4] = {"UTC0", "Europe/Moscow", "America/New_York",
                                   "Australia/Lord_Howe"};
    static int current = -1;
    if (which == current)
        return;
    setenv("TZ", zones[which], 1);
    tzset();
    current = which;
}

/* ---------------------------------------------------------------- records */

typedef struct {
    char host[L3_NAME_MAX + 1], user[L3_NAME_MAX + 1], sid[L3_ID_MAX + 1],
        tty[L3_NAME_MAX + 1];
    uint64_t nr;
    int64_t start_us;
} ident_t;

typedef struct {
    l3_record_t recs[MAX_RECORDS]; /* accepted records, in datafile order */
    size_t nrecs;
    uint32_t cmd_rec[MAX_RECORDS]; /* command ordinal -> index into recs */
    uint32_t ncmds;
} model_t;

static void s_ident_default(ident_t *id, int slot)
{
    static const char *hosts[SLOTS] = {"lab1", "lab2", "db3", "lab1"};
    static const char *users[SLOTS] = {"alice", "bob", "root", "teacher"};
    static const char *ttys[SLOTS] = {"/dev/pts/1", "/dev/pts/2", "", "/dev/pts/4"};
    memset(id, 0, sizeof *id);
    snprintf(id->host, sizeof id->host, "%s", hosts[slot]);
    snprintf(id->user, sizeof id->user, "%s", users[slot]);
    snprintf(id->sid, sizeof id->sid, "s%d", slot + 1);
    snprintf(id->tty, sizeof id->tty, "%s", ttys[slot]);
}

/* Decode the records; keep those the writer would accept. */
static void s_decode_records(rd_t *r, model_t *m, ident_t *ids)
{
    const int64_t max_us = 253402300799LL * 1000000;
    int64_t clock = 1795000000LL * 1000000;
    uint64_t seq = 0;
    while (r->n && m->nrecs < MAX_RECORDS) {
        uint8_t kind = s_u8(r);
        int type = kind & 3;
        ident_t *id = &ids[(kind >> 2) & 3];
        if (kind & 0x10) {
            s_text(r, id->host, sizeof id->host);
            s_text(r, id->user, sizeof id->user);
            s_text(r, id->sid, sizeof id->sid);
            s_text(r, id->tty, sizeof id->tty);
        }
        l3_record_t *rec = &m->recs[m->nrecs];
        l3_record_init(rec);
        rec->type = type == 1 ? L3_RECORD_SESSION : type == 2 ? L3_RECORD_END : L3_RECORD_COMMAND;
        snprintf(rec->agent, sizeof rec->agent, "fuzz");
        rec->epoch = 1;
        rec->seq = ++seq;
        memcpy(rec->host, id->host, sizeof rec->host);
        memcpy(rec->user, id->user, sizeof rec->user);
        memcpy(rec->sid, id->sid, sizeof rec->sid);
        if (kind & 0x40) {
            rec->start_us = (int64_t)(s_uint(r, 8) % (uint64_t)(max_us + 1));
            uint32_t dur = (uint32_t)s_uint(r, 4);
            rec->end_us = dur ? rec->start_us + dur : 0;
            if (rec->end_us > max_us)
                rec->end_us = max_us;
        } else {
            rec->start_us = clock;
            rec->end_us = clock + 250000;
        }
        clock = (rec->start_us > clock ? rec->start_us : clock) + 1000000;
        if (clock > max_us)
            clock = max_us;
        rec->has_exit = kind & 0x20;
        rec->nr = ++id->nr;
        uint32_t dropped = 0;
        uint16_t head = 0;
        if (kind & 0x80) {
            rec->exit_code = (int32_t)(uint32_t)s_uint(r, 4);
            rec->signal = s_u8(r) % 129;
            rec->flags = s_u8(r) & L3_FLAG_ALL;
            rec->nr = (uint32_t)s_uint(r, 4);
            dropped = (uint32_t)s_uint(r, 4);
            head = (uint16_t)s_uint(r, 2);
            rec->cols = (uint16_t)s_uint(r, 2);
            rec->rows = (uint16_t)s_uint(r, 2);
        }
        if (rec->type == L3_RECORD_SESSION) {
            memcpy(rec->tty, id->tty, sizeof rec->tty);
            snprintf(rec->shell, sizeof rec->shell, "/bin/bash");
            rec->uid = 1000;
            rec->pid = 4242;
            rec->end_us = 0;
            rec->has_exit = false;
            rec->signal = 0;
            rec->flags = 0;
            id->start_us = rec->start_us;
        } else if (rec->type == L3_RECORD_END) {
            rec->end_us = rec->end_us ? rec->end_us : rec->start_us;
            rec->start_us = id->start_us;
        } else {
            const uint8_t *d;
            size_t len = s_str(r, &d);
            s_field(&rec->cwd, d, len, 0, L3_CWD_MAX);
            len = s_str(r, &d);
            s_field(&rec->cmdline, d, len, s_u8(r), L3_CMDLINE_MAX);
            len = s_str(r, &d);
            s_field(&rec->output, d, len, s_u8(r), L3_OUTPUT_MAX);
            len = s_str(r, &d);
            s_field(&rec->timing, d, len, 0, L3_TIMING_MAX);
            len = s_str(r, &d);
            s_field(&rec->diff, d, len, 0, L3_DIFF_MAX);
            rec->depth = (uint8_t)(rec->cols % (L3_DEPTH_MAX + 1));
            if (dropped) {
                rec->dropped = dropped;
                rec->flags |= L3_FLAG_TRUNCATED;
                rec->output_head = head % (rec->output.len + 1);
            }
        }
        char err[256];
        if (!l3_record_validate(rec, err, sizeof err)) {
            l3_record_clear(rec);
            continue;
        }
        if (rec->type == L3_RECORD_COMMAND)
            m->cmd_rec[m->ncmds++] = (uint32_t)m->nrecs;
        m->nrecs++;
    }
}

static void s_write_datafile(const model_t *m)
{
    l3_buf_t file;
    l3_buf_init(&file, 0);
    l3_buf_append_str(&file, L3_XML_HEADER);
    for (size_t i = 0; i < m->nrecs; i++)
        if (!l3_xmlrec_write(&m->recs[i], &file))
            s_fail("the writer's encoder refused a valid record");
    l3_buf_append_str(&file, L3_XML_FOOTER);
    int fd = open(s_data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, file.data, file.len) != (ssize_t)file.len)
        abort();
    close(fd);
    l3_buf_free(&file);
}

/* ---------------------------------------------------------------- the index */

/* The index holds every command written, as written. The session's user is the user of
   its latest session record, else of its first record. */
static void s_check_index(index_t *ix, const model_t *m)
{
    uint32_t nc, ns;
    const index_cmd_t *cmds = index_cmds(ix, &nc);
    const index_sess_t *ss = index_sessions(ix, &ns);
    if (nc != m->ncmds)
        s_fail("index has %" PRIu32 " commands, %" PRIu32 " were written", nc, m->ncmds);
    for (uint32_t i = 0; i < nc; i++) {
        const l3_record_t *r = &m->recs[m->cmd_rec[i]];
        const index_cmd_t *c = &cmds[i];
        if (c->sess >= ns)
            s_fail("command %" PRIu32 " in no session", i);
        const index_sess_t *s = &ss[c->sess];
        if (c->start_us != r->start_us || c->end_us != r->end_us)
            s_fail("command %" PRIu32 ": times %" PRId64 "/%" PRId64 " indexed as %" PRId64
                   "/%" PRId64,
                   i, r->start_us, r->end_us, c->start_us, c->end_us);
        if (c->exit_code != (r->has_exit ? r->exit_code : INDEX_NO_EXIT) ||
            c->sig != (uint8_t)r->signal || c->flags != (uint8_t)r->flags ||
            c->nr != (uint32_t)r->nr)
            s_fail("command %" PRIu32 ": exit/signal/flags/nr indexed wrong", i);
        if (strcmp(index_str(ix, s->host), r->host) || strcmp(index_str(ix, s->sid), r->sid))
            s_fail("command %" PRIu32 ": host \"%s\" sid \"%s\" indexed as \"%s\" \"%s\"", i,
                   r->host, r->sid, index_str(ix, s->host), index_str(ix, s->sid));
    }
    /* Session users, replayed by the rule above. */
    for (uint32_t si = 0; si < ns; si++) {
        const char *host = index_str(ix, ss[si].host), *sid = index_str(ix, ss[si].sid);
        const char *user = NULL;
        for (size_t k = 0; k < m->nrecs; k++) {
            const l3_record_t *r = &m->recs[k];
            if (strcmp(r->host, host) || strcmp(r->sid, sid))
                continue;
            if (!user || r->type == L3_RECORD_SESSION)
                user = r->user;
        }
        if (!user)
            s_fail("session %" PRIu32 " (%s/%s) was never written", si, host, sid);
        if (strcmp(index_str(ix, ss[si].user), user))
            s_fail("session %" PRIu32 ": user \"%s\" indexed as \"%s\"", si, user,
                   index_str(ix, ss[si].user));
    }
}

/* An index replayed from its index file equals the one the scan built. */
static void s_check_same_index(index_t *a, index_t *b)
{
    uint32_t na, nb, sa, sb;
    const index_cmd_t *ca = index_cmds(a, &na), *cb = index_cmds(b, &nb);
    const index_sess_t *xa = index_sessions(a, &sa), *xb = index_sessions(b, &sb);
    if (na != nb || sa != sb)
        s_fail("index file replay: %" PRIu32 "/%" PRIu32 " commands/sessions, scan %" PRIu32
               "/%" PRIu32,
               nb, sb, na, sa);
    for (uint32_t i = 0; i < na; i++) {
        const index_cmd_t *x = &ca[i], *y = &cb[i];
        if (x->off != y->off || x->len != y->len || x->start_us != y->start_us ||
            x->end_us != y->end_us || x->sess != y->sess || x->nr != y->nr ||
            x->exit_code != y->exit_code || x->sig != y->sig || x->flags != y->flags ||
            x->note != y->note || strcmp(index_str(a, x->word), index_str(b, y->word)))
            s_fail("index file replay: command %" PRIu32 " differs", i);
    }
    for (uint32_t i = 0; i < sa; i++) {
        const index_sess_t *x = &xa[i], *y = &xb[i];
        if (strcmp(index_str(a, x->host), index_str(b, y->host)) ||
            strcmp(index_str(a, x->user), index_str(b, y->user)) ||
            strcmp(index_str(a, x->sid), index_str(b, y->sid)) ||
            strcmp(index_str(a, x->tty), index_str(b, y->tty)) || x->start_us != y->start_us ||
            x->end_us != y->end_us || x->cols != y->cols || x->rows != y->rows ||
            x->exit_code != y->exit_code || x->sig != y->sig || x->flags != y->flags ||
            x->ended != y->ended || x->declared != y->declared || x->ncmds != y->ncmds ||
            (x->ncmds && memcmp(x->cmds, y->cmds, x->ncmds * sizeof *x->cmds)))
            s_fail("index file replay: session %" PRIu32 " differs", i);
    }
}

/* ---------------------------------------------------------------- the request */

enum { P_PAGE, P_HOST, P_USER, P_SESSION, P_FROM, P_TO, P_FAILED, P_Q, P_BEFORE, P_SINCE,
       P_LIMIT, P_HTML, P_FULL, P_COUNT_ };
static const char *s_param_names[P_COUNT_] = {"page",  "host",  "user",  "session", "from",
                                              "to",    "failed", "q",    "before",  "since",
                                              "limit", "html",   "full"};

typedef struct {
    req_t req;
    char path[64];
    bool all;            /* the remote user sees every session */
    uint32_t me;         /* interned remote user (0: none such) */
    bool filtered;       /* a parameter other than q narrows the commands */
    bool has_q;
    char q[REQ_VALUE_MAX + 1];
    int want;            /* results a search page holds */
    uint8_t route;       /* path variant of the kind; bit 7: an odd id */
    uint16_t raw_id;
    enum { R_ANY, R_CMD, R_SESS } target;
    uint32_t target_id;
    bool id_valid;       /* the id names an existing command or session */
} request_t;

/* Whole-name instructor match, as docs/journal.md states render/instructors. */
static bool s_is_instructor(const char *list, const char *user)
{
    static const char *sep = " \t\r\n\v\f,";
    if (!user[0] || user[strcspn(user, sep)])
        return false;
    size_t ul = strlen(user);
    for (const char *p = list; *p;) {
        p += strspn(p, sep);
        size_t len = strcspn(p, sep);
        if (len == ul && !memcmp(p, user, len))
            return true;
        p += len;
    }
    return false;
}

static bool s_visible(index_t *ix, const request_t *rq, uint32_t si)
{
    uint32_t ns;
    const index_sess_t *ss = index_sessions(ix, &ns);
    return si < ns && (rq->all || (rq->me && ss[si].user == rq->me));
}

static void s_add_param(char *q, size_t size, const char *key, const char *value, bool encode)
{
    char enc[3 * REQ_VALUE_MAX + 1];
    size_t o = strlen(q);
    if (encode)
        req_pct_encode(value, enc, sizeof enc);
    else
        snprintf(enc, sizeof enc, "%s", value);
    snprintf(q + o, size - o, "%s%s%s%s", o ? "&" : "", key, key[0] ? "=" : "", enc);
}

/* Decode the request header: remote user, language, route, id and parameter values
   (vals[P_COUNT_] is the raw tail). The path is made by s_route once the index exists. */
static void s_decode_request(rd_t *r, uint8_t env, request_t *rq, const ident_t *ids,
                             char *vals[P_COUNT_ + 1])
{
    memset(rq, 0, sizeof *rq);
    char user[REQ_USER_MAX + 1], lang[REQ_LANG_MAX + 1];
    s_text(r, user, sizeof user);
    s_text(r, lang, sizeof lang);
    int who = (env >> 4) & 7;
    const char *ruser = who == 2   ? ids[0].user
                        : who == 3 ? ids[1].user
                        : who == 4 ? "teacher"
                        : who == 5 ? "teacher admin"
                        : who >= 6 ? user
                                   : "";
    uint8_t route = s_u8(r);
    uint16_t id = (uint16_t)s_uint(r, 2);
    uint16_t mask = (uint16_t)s_uint(r, 2);
    for (int k = 0; k <= P_COUNT_; k++) {
        vals[k] = NULL;
        if (!(mask & (1u << k)))
            continue;
        const uint8_t *d;
        size_t len = s_str(r, &d);
        if (len > REQ_QUERY_MAX)
            len = REQ_QUERY_MAX;
        if ((k == P_HOST || k == P_USER) && len == 1 && d[0] < SLOTS) {
            vals[k] = strdup(k == P_HOST ? ids[d[0]].host : ids[d[0]].user);
        } else if ((vals[k] = calloc(1, len + 1))) {
            memcpy(vals[k], d, len);
        }
        if (!vals[k])
            abort();
    }
    rq->route = route;
    rq->raw_id = id;
    snprintf(rq->req.user, sizeof rq->req.user, "%s", ruser);
    snprintf(rq->req.lang, sizeof rq->req.lang, "%s", lang);
    rq->req.method[0] = (env & 4) ? 'H' : 'G';
}

/* The path for the kind; the id is taken modulo the count of what it names (plus one
   past the end), or made huge. */
static void s_route(request_t *rq, index_t *ix, char *query, size_t qsize)
{
    uint32_t nc, ns;
    index_cmds(ix, &nc);
    index_sessions(ix, &ns);
    uint8_t route = rq->route;
    uint32_t raw = rq->raw_id;
    static const uint32_t odd[4] = {UINT32_MAX, UINT32_MAX - 1, 4000000000u, 65536};
    bool cmd_id = false;
    const char *fmt = NULL, *ext = "";
    int v = route & 3;
    switch (RENDER_PAGE) {
    case PAGE_JOURNAL:
        snprintf(rq->path, sizeof rq->path, "%s", v == 2 ? "/" : v == 3 ? "/index" : "/journal");
        break;
    case PAGE_SESSION: fmt = "/session/"; break;
    case PAGE_CMD_FULL:
        fmt = "/cmd/";
        cmd_id = true;
        if (v != 3)
            s_add_param(query, qsize, "full", "1", false);
        break;
    case PAGE_SEARCH:
        snprintf(rq->path, sizeof rq->path, "%s",
                 v == 2 ? "/journal" : v == 3 ? "/api/commands" : "/search");
        break;
    case PAGE_STATS: snprintf(rq->path, sizeof rq->path, "%s", v & 1 ? "/api/stats" : "/stats"); break;
    case PAGE_API:
        if (v == 0)
            snprintf(rq->path, sizeof rq->path, "/api/commands");
        else if (v == 1)
            snprintf(rq->path, sizeof rq->path, "/api/sessions");
        else if (v == 2)
            fmt = "/api/cmd/", cmd_id = true;
        else
            fmt = "/live/";
        break;
    case PAGE_EXPORT_TXT: fmt = "/session/", ext = ".txt"; break;
    case PAGE_EXPORT_CAST: fmt = "/session/", ext = ".cast"; break;
    case PAGE_EXPORT_JSON: fmt = "/session/", ext = ".json"; break;
    case PAGE_REPLAY: fmt = "/replay/"; break;
    default: abort();
    }
    if (fmt) {
        uint32_t count = cmd_id ? nc : ns;
        uint32_t idv = (route & 0x80) ? odd[raw & 3] : raw % (count + 1);
        snprintf(rq->path, sizeof rq->path, "%s%" PRIu32 "%s", fmt, idv, ext);
        rq->target = cmd_id ? R_CMD : R_SESS;
        rq->target_id = idv;
        rq->id_valid = idv < count;
    }
}

/* ---------------------------------------------------------------- HTTP */

typedef struct {
    int status;
    char ctype[64];
    const uint8_t *body;
    size_t blen;
} resp_t;

static void s_check_http(const uint8_t *p, size_t n, bool head, resp_t *out)
{
    if (n < 9 || memcmp(p, "HTTP/1.1 ", 9))
        s_fail("response does not start with \"HTTP/1.1 \"");
    size_t i = 9;
    if (n < i + 4 || p[i] < '1' || p[i] > '5' || p[i + 1] < '0' || p[i + 1] > '9' ||
        p[i + 2] < '0' || p[i + 2] > '9' || p[i + 3] != ' ')
        s_fail("no three-digit status");
    out->status = (p[i] - '0') * 100 + (p[i + 1] - '0') * 10 + (p[i + 2] - '0');
    i += 4;
    size_t reason = i;
    while (i < n && ((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') || p[i] == ' '))
        i++;
    if (i == reason || i + 1 >= n || p[i] != '\r' || p[i + 1] != '\n')
        s_fail("status line without a reason phrase and CRLF");
    i += 2;
    int ctypes = 0, lengths = 0;
    long long clen = -1;
    for (;;) {
        if (i + 1 >= n)
            s_fail("headers do not end with CRLFCRLF");
        if (p[i] == '\r' && p[i + 1] == '\n') {
            i += 2;
            break;
        }
        size_t ls = i;
        while (i < n && p[i] != '\r') {
            if (p[i] < 0x20 || p[i] > 0x7e)
                s_fail("byte 0x%02x in a header", p[i]);
            i++;
        }
        if (i + 1 >= n || p[i + 1] != '\n')
            s_fail("header line without CRLF");
        const char *line = (const char *)p + ls;
        size_t ll = i - ls;
        const char *colon = memchr(line, ':', ll);
        if (!colon || colon == line || (size_t)(colon - line) + 1 >= ll || colon[1] != ' ')
            s_fail("header line is not \"Name: value\"");
        for (const char *c = line; c < colon; c++)
            if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == '-'))
                s_fail("odd header name");
        size_t nl = (size_t)(colon - line), vl = ll - nl - 2;
        const char *v = colon + 2;
        if (nl == 12 && !strncasecmp(line, "Content-Type", 12)) {
            ctypes++;
            snprintf(out->ctype, sizeof out->ctype, "%.*s", (int)vl, v);
        } else if (nl == 14 && !strncasecmp(line, "Content-Length", 14)) {
            lengths++;
            char num[24];
            if (vl == 0 || vl >= sizeof num || strspn(v, "0123456789") < vl)
                s_fail("Content-Length is not a number");
            snprintf(num, sizeof num, "%.*s", (int)vl, v);
            clen = strtoll(num, NULL, 10);
        }
        i += 2;
    }
    if (ctypes != 1 || lengths > 1)
        s_fail("%d Content-Type and %d Content-Length headers", ctypes, lengths);
    out->body = p + i;
    out->blen = n - i;
    if (head && out->blen)
        s_fail("HEAD answered with a body");
    if (!head && clen >= 0 && (size_t)clen != out->blen)
        s_fail("Content-Length %lld, body %zu bytes", clen, out->blen);
}

/* ---------------------------------------------------------------- HTML */

typedef struct {
    uint32_t *cmds;   /* ordinals of id="cN" elements */
    size_t ncmds, capcmds;
    uint32_t *sess;   /* sessions named by links */
    size_t nsess, capsess;
} seen_t;

static void s_seen_add(uint32_t **arr, size_t *n, size_t *cap, uint32_t v)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *arr = realloc(*arr, *cap * sizeof **arr);
        if (!*arr)
            abort();
    }
    (*arr)[(*n)++] = v;
}

static bool s_u32_at(const char *s, size_t len, uint32_t *v)
{
    if (!len || len > 10 || strspn(s, "0123456789") < len)
        return false;
    char num[12];
    memcpy(num, s, len);
    num[len] = 0;
    unsigned long long x = strtoull(num, NULL, 10);
    if (x > UINT32_MAX)
        return false;
    *v = (uint32_t)x;
    return true;
}

/* Links that name a session or a command: BASE/journal?session=N, /replay/N, /live/N,
   /session/N.txt|.cast, /cmd/N[?full=1]. */
static void s_link(const char *v, size_t len, seen_t *seen)
{
    static const struct {
        const char *prefix, *suffix;
        bool cmd;
    } forms[] = {{BASE_URL "/journal?session=", "", false},
                 {BASE_URL "/replay/", "", false},
                 {BASE_URL "/live/", "", false},
                 {BASE_URL "/session/", ".txt", false},
                 {BASE_URL "/session/", ".cast", false},
                 {BASE_URL "/cmd/", "", true},
                 {BASE_URL "/cmd/", "?full=1", true}};
    for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
        size_t pl = strlen(forms[k].prefix), sl = strlen(forms[k].suffix);
        if (len <= pl + sl || memcmp(v, forms[k].prefix, pl) ||
            memcmp(v + len - sl, forms[k].suffix, sl))
            continue;
        uint32_t n;
        if (!s_u32_at(v + pl, len - pl - sl, &n))
            continue;
        if (forms[k].cmd)
            s_seen_add(&seen->cmds, &seen->ncmds, &seen->capcmds, n);
        else
            s_seen_add(&seen->sess, &seen->nsess, &seen->capsess, n);
    }
}

static bool s_entity_ok(const uint8_t *p, size_t n)
{
    static const char *names[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        size_t l = strlen(names[k]);
        if (n >= l && !memcmp(p, names[k], l))
            return true;
    }
    return false;
}

/* Valid UTF-8 at p; returns its length (0 when not). */
static size_t s_utf8(const uint8_t *p, size_t n)
{
    uint32_t cp;
    return l3_utf8_decode(p, n, &cp);
}

static const char *s_tags[] = {"html", "head", "meta",  "title",  "link",   "script", "body",
                               "header", "a",  "nav",   "form",   "input",  "span",   "main",
                               "h1",   "h2",   "h3",    "p",      "div",    "code",   "s",
                               "pre",  "section", "mark", "table", "thead", "tbody", "tr",
                               "th",   "td",   "ul",    "li",     "label",  "button", "b",
                               "img",  "noscript", "br", NULL};
static const char *s_void_tags[] = {"meta", "link", "input", "img", "br", NULL};

static bool s_in_list(const char **list, const char *s, size_t len)
{
    for (int k = 0; list[k]; k++)
        if (strlen(list[k]) == len && !memcmp(list[k], s, len))
            return true;
    return false;
}

/* Check an HTML document (or fragment) as described at the top; collects what it names. */
static void s_check_html(const uint8_t *p, size_t n, bool document, seen_t *seen)
{
    const char *stack[256];
    size_t depth = 0;
    int scripts = 0;
    size_t i = 0;
    static const char doctype[] = "<!DOCTYPE html>";
    if (document) {
        if (n < sizeof doctype - 1 || memcmp(p, doctype, sizeof doctype - 1))
            s_fail("HTML does not start with the doctype");
        i = sizeof doctype - 1;
    }
    while (i < n) {
        uint8_t c = p[i];
        if (c == '>')
            s_fail("raw '>' in HTML text at %zu", i);
        if (c == '&') {
            if (!s_entity_ok(p + i, n - i))
                s_fail("'&' that starts no entity at %zu", i);
            i++;
            continue;
        }
        if (c < 0x20 && c != '\n' && c != '\t')
            s_fail("control byte 0x%02x in HTML at %zu", c, i);
        if (c == 0x7f)
            s_fail("DEL in HTML at %zu", i);
        if (c != '<') {
            if (c >= 0x20 && c < 0x7f) {
                i++; /* plain ASCII ('<' '>' '&' handled above) */
                while (i < n && p[i] > 0x20 && p[i] < 0x7f && p[i] != '<' && p[i] != '>' &&
                       p[i] != '&')
                    i++;
                continue;
            }
            size_t l = s_utf8(p + i, n - i);
            if (!l)
                s_fail("invalid UTF-8 in HTML at %zu", i);
            i += l;
            continue;
        }
        /* a tag */
        size_t t = i + 1;
        bool close = t < n && p[t] == '/';
        if (close)
            t++;
        size_t ns = t;
        while (t < n && ((p[t] >= 'a' && p[t] <= 'z') || (p[t] >= '0' && p[t] <= '9')))
            t++;
        const char *name = (const char *)p + ns;
        size_t nlen = t - ns;
        if (!nlen || !s_in_list(s_tags, name, nlen))
            s_fail("'<' that opens no tag of ours at %zu: \"%.*s\"", i,
                   (int)(n - i < 24 ? n - i : 24), (const char *)p + i);
        bool is_script = nlen == 6 && !memcmp(name, "script", 6);
        bool has_src = false, has_defer = false;
        if (close) {
            if (t >= n || p[t] != '>')
                s_fail("close tag with attributes at %zu", i);
            if (!depth || strlen(stack[depth - 1]) != nlen || memcmp(stack[depth - 1], name, nlen))
                s_fail("</%.*s> at %zu closes %s", (int)nlen, name, i,
                       depth ? stack[depth - 1] : "nothing");
            depth--;
            i = t + 1;
            continue;
        }
        /* attributes: ( name | name="value" )*, separated by one space */
        while (t < n && p[t] != '>') {
            if (p[t] != ' ')
                s_fail("odd byte 0x%02x in a tag at %zu", p[t], t);
            t++;
            size_t as = t;
            while (t < n && ((p[t] >= 'a' && p[t] <= 'z') || p[t] == '-'))
                t++;
            const char *an = (const char *)p + as;
            size_t al = t - as;
            if (!al)
                s_fail("empty attribute name at %zu", t);
            if (al >= 2 && an[0] == 'o' && an[1] == 'n')
                s_fail("event handler attribute at %zu", as);
            if (t < n && p[t] == '=') {
                if (t + 1 >= n || p[t + 1] != '"')
                    s_fail("unquoted attribute value at %zu", t);
                size_t vs = t + 2, ve = vs;
                while (ve < n && p[ve] != '"') {
                    if (p[ve] == '<' || p[ve] == '>')
                        s_fail("'%c' inside an attribute value at %zu", p[ve], ve);
                    if (p[ve] < 0x20 || p[ve] == 0x7f)
                        s_fail("control byte in an attribute value at %zu", ve);
                    if (p[ve] == '&' && !s_entity_ok(p + ve, n - ve))
                        s_fail("'&' that starts no entity in an attribute at %zu", ve);
                    if (p[ve] >= 0x80) {
                        size_t l = s_utf8(p + ve, n - ve);
                        if (!l)
                            s_fail("invalid UTF-8 in an attribute at %zu", ve);
                        ve += l;
                        continue;
                    }
                    ve++;
                }
                if (ve >= n)
                    s_fail("attribute value never closed");
                const char *v = (const char *)p + vs;
                size_t vl = ve - vs;
                if ((al == 4 && !memcmp(an, "href", 4)) || (al == 3 && !memcmp(an, "src", 3)) ||
                    (al == 6 && !memcmp(an, "action", 6))) {
                    size_t sp = 0;
                    while (sp < vl && (v[sp] == ' ' || v[sp] == '\t'))
                        sp++;
                    if (vl - sp >= 11 && !strncasecmp(v + sp, "javascript:", 11))
                        s_fail("javascript: URL at %zu", vs);
                    if (al == 4)
                        s_link(v, vl, seen);
                    if (al == 3 && is_script) {
                        size_t sl = strlen(STATIC_URL "/");
                        has_src = vl > sl && !memcmp(v, STATIC_URL "/", sl) &&
                                  strspn(v + sl, "abcdefghijklmnopqrstuvwxyz0123456789.-/") ==
                                      vl - sl &&
                                  !memmem(v + sl, vl - sl, "..", 2);
                    }
                }
                if (al == 2 && !memcmp(an, "id", 2) && vl > 1 && v[0] == 'c') {
                    uint32_t ord;
                    if (s_u32_at(v + 1, vl - 1, &ord))
                        s_seen_add(&seen->cmds, &seen->ncmds, &seen->capcmds, ord);
                }
                t = ve + 1;
            } else if (al == 5 && !memcmp(an, "defer", 5)) {
                has_defer = true;
            }
        }
        if (t >= n)
            s_fail("tag never closed");
        i = t + 1;
        if (is_script) {
            if (!has_src || !has_defer || ++scripts > 2)
                s_fail("a <script> that is not one of our static files");
            if (n - i < 9 || memcmp(p + i, "</script>", 9))
                s_fail("<script> with content");
            i += 9;
            continue;
        }
        if (!s_in_list(s_void_tags, name, nlen)) {
            if (depth == sizeof stack / sizeof stack[0])
                s_fail("tags nested too deep");
            for (int k = 0; s_tags[k]; k++)
                if (strlen(s_tags[k]) == nlen && !memcmp(s_tags[k], name, nlen))
                    stack[depth++] = s_tags[k];
        }
    }
    if (depth)
        s_fail("<%s> never closed", stack[depth - 1]);
}

/* A list page of n bytes (or an html=1 fragment) takes at most LIST_CMD_MAX per command
   it shows (<div class="cmd…">, which no record byte can spell: '<' is escaped). */
static void s_check_list_size(const uint8_t *p, size_t n, const char *what)
{
    static const char div[] = "<div class=\"cmd";
    size_t cmds = 0;
    for (const uint8_t *h = p; (h = memmem(h, n - (size_t)(h - p), div, sizeof div - 1));
         h += sizeof div - 1)
        cmds++;
    if (n > (256u << 10) + cmds * (size_t)LIST_CMD_MAX)
        s_fail("%s: a %zu-byte list of %zu commands", what, n, cmds);
}

/* ---------------------------------------------------------------- JSON */

typedef struct {
    const uint8_t *p, *end;
    int depth;
    l3_buf_t *html; /* decoded values of "html" keys go here, NUL-separated */
} js_t;

static void s_js_ws(js_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static int s_hexdig(uint8_t c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool s_js_u4(js_t *j, uint32_t *v)
{
    if (j->end - j->p < 4)
        return false;
    *v = 0;
    for (int k = 0; k < 4; k++) {
        int h = s_hexdig(j->p[k]);
        if (h < 0)
            return false;
        *v = (*v << 4) | (uint32_t)h;
    }
    j->p += 4;
    return true;
}

/* A string; decoded into out when out is not NULL. */
static bool s_js_string(js_t *j, l3_buf_t *out)
{
    if (j->p >= j->end || *j->p != '"')
        return false;
    j->p++;
    while (j->p < j->end) {
        uint8_t c = *j->p;
        if (c == '"') {
            j->p++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            j->p++;
            if (j->p >= j->end)
                return false;
            uint8_t e = *j->p++;
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e && simple) {
                static const char dec[] = "\"\\/\b\f\n\r\t";
                if (out)
                    l3_buf_append_byte(out, (uint8_t)dec[simple - "\"\\/bfnrt"]);
                continue;
            }
            uint32_t v;
            if (e != 'u' || !s_js_u4(j, &v))
                return false;
            if (v >= 0xdc00 && v <= 0xdfff)
                return false; /* a lone low surrogate */
            if (v >= 0xd800 && v <= 0xdbff) {
                uint32_t lo;
                if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
                    return false;
                j->p += 2;
                if (!s_js_u4(j, &lo) || lo < 0xdc00 || lo > 0xdfff)
                    return false;
                v = 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (out) {
                uint8_t u[4];
                size_t l;
                if (v < 0x80)
                    u[0] = (uint8_t)v, l = 1;
                else if (v < 0x800)
                    u[0] = (uint8_t)(0xc0 | v >> 6), u[1] = (uint8_t)(0x80 | (v & 0x3f)), l = 2;
                else if (v < 0x10000)
                    u[0] = (uint8_t)(0xe0 | v >> 12), u[1] = (uint8_t)(0x80 | ((v >> 6) & 0x3f)),
                    u[2] = (uint8_t)(0x80 | (v & 0x3f)), l = 3;
                else
                    u[0] = (uint8_t)(0xf0 | v >> 18), u[1] = (uint8_t)(0x80 | ((v >> 12) & 0x3f)),
                    u[2] = (uint8_t)(0x80 | ((v >> 6) & 0x3f)), u[3] = (uint8_t)(0x80 | (v & 0x3f)),
                    l = 4;
                l3_buf_append(out, u, l);
            }
            continue;
        }
        size_t l = 0;
        while (j->p + l < j->end && j->p[l] >= 0x20 && j->p[l] < 0x80 && j->p[l] != '"' &&
               j->p[l] != '\\')
            l++; /* a run of plain ASCII */
        if (!l && !(l = s_utf8(j->p, (size_t)(j->end - j->p))))
            return false;
        if (out)
            l3_buf_append(out, j->p, l);
        j->p += l;
    }
    return false;
}

static bool s_js_number(js_t *j, double *value)
{
    const uint8_t *s = j->p;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end)
        return false;
    if (*j->p == '0')
        j->p++;
    else if (*j->p >= '1' && *j->p <= '9')
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    else
        return false;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return false;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return false;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    if (value) {
        char num[64];
        size_t l = (size_t)(j->p - s);
        if (l >= sizeof num)
            l = sizeof num - 1;
        memcpy(num, s, l);
        num[l] = 0;
        *value = strtod(num, NULL);
    }
    return true;
}

static bool s_js_value(js_t *j)
{
    s_js_ws(j);
    if (j->p >= j->end)
        return false;
    if (++j->depth > 64)
        return false;
    bool ok = false;
    uint8_t c = *j->p;
    if (c == '{') {
        j->p++;
        s_js_ws(j);
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            ok = true;
        } else {
            for (;;) {
                s_js_ws(j);
                l3_buf_t key;
                l3_buf_init(&key, 0);
                bool kok = s_js_string(j, &key);
                bool is_html = kok && key.len == 4 && !memcmp(key.data, "html", 4);
                l3_buf_free(&key);
                if (!kok)
                    break;
                s_js_ws(j);
                if (j->p >= j->end || *j->p != ':')
                    break;
                j->p++;
                s_js_ws(j);
                if (is_html && j->html && j->p < j->end && *j->p == '"') {
                    if (!s_js_string(j, j->html))
                        break;
                    l3_buf_append_byte(j->html, 0);
                } else if (!s_js_value(j)) {
                    break;
                }
                s_js_ws(j);
                if (j->p < j->end && *j->p == ',') {
                    j->p++;
                    continue;
                }
                if (j->p < j->end && *j->p == '}') {
                    j->p++;
                    ok = true;
                }
                break;
            }
        }
    } else if (c == '[') {
        j->p++;
        s_js_ws(j);
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            ok = true;
        } else {
            for (;;) {
                if (!s_js_value(j))
                    break;
                s_js_ws(j);
                if (j->p < j->end && *j->p == ',') {
                    j->p++;
                    continue;
                }
                if (j->p < j->end && *j->p == ']') {
                    j->p++;
                    ok = true;
                }
                break;
            }
        }
    } else if (c == '"') {
        ok = s_js_string(j, NULL);
    } else if (c == 't' || c == 'f' || c == 'n') {
        const char *lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
        size_t l = strlen(lit);
        ok = (size_t)(j->end - j->p) >= l && !memcmp(j->p, lit, l);
        if (ok)
            j->p += l;
    } else {
        ok = s_js_number(j, NULL);
    }
    j->depth--;
    return ok;
}

/* One JSON document in p[0..n) (whitespace around allowed); "html" values into html. */
static void s_check_json(const uint8_t *p, size_t n, l3_buf_t *html, const char *what)
{
    if (memchr(p, '<', n))
        s_fail("'<' in a JSON answer (%s)", what);
    js_t j = {p, p + n, 0, html};
    if (!s_js_value(&j))
        s_fail("invalid JSON (%s) near byte %zu", what, (size_t)(j.p - p));
    s_js_ws(&j);
    if (j.p != j.end)
        s_fail("bytes after the JSON value (%s)", what);
}

/* asciicast v2: a header object, then [time, "o", text] lines (and [time, "m", label]
   markers where capture dropped bytes) with times that never go back. */
static void s_check_cast(const uint8_t *p, size_t n)
{
    double last = 0;
    size_t line = 0;
    for (size_t i = 0; i < n;) {
        const uint8_t *nl = memchr(p + i, '\n', n - i);
        if (!nl)
            s_fail("cast line %zu without newline", line);
        size_t e = (size_t)(nl - p);
        s_check_json(p + i, e - i, NULL, "cast line");
        if (line == 0) {
            if (p[i] != '{')
                s_fail("cast header is not an object");
        } else {
            js_t j = {p + i, p + e, 0, NULL};
            double t;
            if (*j.p != '[')
                s_fail("cast event is not an array");
            j.p++;
            if (!s_js_number(&j, &t) || j.end - j.p < 5 ||
                (memcmp(j.p, ",\"o\",", 5) && memcmp(j.p, ",\"m\",", 5)))
                s_fail("cast event is not [time, \"o\" or \"m\", text]");
            if (!isfinite(t) || t < last)
                s_fail("cast time %f after %f", t, last);
            last = t;
        }
        line++;
        i = e + 1;
    }
    if (!line)
        s_fail("empty cast");
}

static void s_check_text(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        if ((p[i] < 0x20 && p[i] != '\n' && p[i] != '\t') || p[i] == 0x7f)
            s_fail("control byte 0x%02x in the text export at %zu", p[i], i);
        size_t l = s_utf8(p + i, n - i);
        if (!l)
            s_fail("invalid UTF-8 in the text export at %zu", i);
        i += l;
    }
}

/* Commands and sessions named by a JSON answer: {"id":N,"session":S, ... and the
   sessions list's {"id":N,"host": (a string's '"' is always escaped, so these byte
   sequences are structure). */
static void s_json_seen(const uint8_t *p, size_t n, seen_t *seen)
{
    static const char pat[] = "{\"id\":";
    const uint8_t *end = p + n;
    for (const uint8_t *h = p; (h = memmem(h, (size_t)(end - h), pat, sizeof pat - 1));) {
        h += sizeof pat - 1;
        const uint8_t *d = h;
        while (d < end && *d >= '0' && *d <= '9')
            d++;
        uint32_t id;
        if (!s_u32_at((const char *)h, (size_t)(d - h), &id))
            continue;
        if ((size_t)(end - d) > 11 && !memcmp(d, ",\"session\":", 11)) {
            s_seen_add(&seen->cmds, &seen->ncmds, &seen->capcmds, id);
        } else if ((size_t)(end - d) > 8 && !memcmp(d, ",\"host\":", 8)) {
            s_seen_add(&seen->sess, &seen->nsess, &seen->capsess, id);
        }
    }
}

/* The command objects of a JSON answer ({"id":N,"session": starts each; none of these
   byte sequences can stand inside a string, whose '"' is escaped): each says its record's
   depth; the "X_more" fields of a cut one match what the lists' cut leaves out of that
   field of the record, and only a lone command of an /api/commands answer may be cut;
   a list answer stays within its budget unless it holds a single command. */
static void s_check_json_cmds(const uint8_t *p, size_t n, const model_t *m, const char *path)
{
    static const char pat[] = "{\"id\":";
    static const struct {
        const char *key;
        size_t max;
        bool at_line;
    } cut[] = {{",\"cmd_more\":", CUT_LINE_MAX, false},
               {",\"output_more\":", CUT_OUTPUT_MAX, true},
               {",\"diff_more\":", CUT_DIFF_MAX, true}};
    bool list = !strcmp(path, "/api/commands");
    bool export = !strncmp(path, "/session/", 9);
    const uint8_t *end = p + n, *h = memmem(p, n, pat, sizeof pat - 1);
    size_t objects = 0, cut_objects = 0;
    while (h) {
        const uint8_t *d = h + sizeof pat - 1, *num = d;
        while (d < end && *d >= '0' && *d <= '9')
            d++;
        const uint8_t *next = memmem(d, (size_t)(end - d), pat, sizeof pat - 1);
        const uint8_t *obj_end = next ? next : end;
        uint32_t ord;
        if (!s_u32_at((const char *)num, (size_t)(d - num), &ord) || (size_t)(end - d) < 11 ||
            memcmp(d, ",\"session\":", 11)) {
            h = next;
            continue; /* a session of /api/sessions */
        }
        objects++;
        if (ord >= m->ncmds)
            s_fail("%s: command %" PRIu32 " was never written", path, ord);
        const l3_record_t *r = &m->recs[m->cmd_rec[ord]];
        static const char dk[] = ",\"depth\":";
        const uint8_t *dv = memmem(d, (size_t)(obj_end - d), dk, sizeof dk - 1);
        if (!dv || strtoul((const char *)dv + sizeof dk - 1, NULL, 10) != r->depth)
            s_fail("%s: command %" PRIu32 " at depth %u does not say so", path, ord, r->depth);
        bool is_cut = false;
        for (size_t k = 0; k < sizeof cut / sizeof cut[0]; k++) {
            size_t kl = strlen(cut[k].key);
            const uint8_t *v = memmem(d, (size_t)(obj_end - d), cut[k].key, kl);
            if (!v)
                continue;
            is_cut = true;
            const l3_bytes_t *f = k == 0 ? &r->cmdline : k == 1 ? &r->output : &r->diff;
            unsigned long long left = strtoull((const char *)v + kl, NULL, 10);
            /* the cut keeps at least max - 3 bytes (a character is not split), and when
               it ends at a line end, at least half of what it may keep */
            size_t least = cut[k].at_line ? (cut[k].max - 3) / 2 : cut[k].max - 3;
            if (f->len <= cut[k].max || left == 0 || left > f->len - least ||
                left < f->len - cut[k].max)
                s_fail("%s: command %" PRIu32 " says %llu bytes left out of a %zu-byte field "
                       "(%s)",
                       path, ord, left, f->len, cut[k].key);
        }
        cut_objects += is_cut;
        if (is_cut && !list)
            s_fail("%s: command %" PRIu32 " is cut", path, ord);
        h = next;
    }
    if (cut_objects && objects != 1)
        s_fail("%s: %zu of %zu commands cut (only a lone one may be)", path, cut_objects, objects);
    if ((list && n > API_ANSWER_MAX && objects != 1) ||
        (export && n > EXPORT_ANSWER_MAX && objects != 1))
        s_fail("%s: a %zu-byte answer of %zu commands", path, n, objects);
}

/* In HTML: a command at depth d > 0 has the class dK (K = min(d, 4)) and
   <span class="inner">… d</span> in its meta line; one at depth 0 neither. No record
   byte can spell these: '<' and '"' are escaped. */
static void s_check_depths(const uint8_t *p, size_t n, const model_t *m, const char *what)
{
    static const char tag[] = "<div class=\"cmd";
    const uint8_t *end = p + n;
    for (const uint8_t *h = p; (h = memmem(h, (size_t)(end - h), tag, sizeof tag - 1));) {
        const uint8_t *cls = h + sizeof tag - 1;
        const uint8_t *q = memchr(cls, '"', (size_t)(end - cls));
        h = cls;
        static const char id[] = "\" id=\"c";
        uint32_t ord;
        if (!q || (size_t)(end - q) < sizeof id || memcmp(q, id, sizeof id - 1))
            continue; /* an unreadable record's line: no id */
        const uint8_t *num = q + sizeof id - 1, *d = num;
        while (d < end && *d >= '0' && *d <= '9')
            d++;
        if (!s_u32_at((const char *)num, (size_t)(d - num), &ord) || ord >= m->ncmds)
            s_fail("%s: a command element with id \"c%.*s\"", what, (int)(d - num), num);
        unsigned depth = m->recs[m->cmd_rec[ord]].depth;
        unsigned want = depth > 4 ? 4 : depth, got = 0, classes = 0;
        /* the class after "cmd": " fail", " nf", " note", " dK", each at most once */
        for (const uint8_t *t = cls; t < q;) {
            const uint8_t *e = t + 1;
            while (e < q && *e != ' ')
                e++;
            if (*t != ' ')
                s_fail("%s: command %" PRIu32 ": odd class \"cmd%.*s\"", what, ord, (int)(q - cls),
                       cls);
            if (e - t == 3 && t[1] == 'd' && t[2] >= '1' && t[2] <= '9')
                got = (unsigned)(t[2] - '0'), classes++;
            t = e;
        }
        if (got != want || classes > 1)
            s_fail("%s: command %" PRIu32 " at depth %u has class \"cmd%.*s\"", what, ord, depth,
                   (int)(q - cls), cls);
        static const char meta_end[] = "</div>", inner[] = "<span class=\"inner\">";
        const uint8_t *me = memmem(d, (size_t)(end - d), meta_end, sizeof meta_end - 1);
        if (!me)
            s_fail("%s: command %" PRIu32 " without its meta line", what, ord);
        const uint8_t *in = memmem(d, (size_t)(me - d), inner, sizeof inner - 1);
        const uint8_t *in_end = in ? memmem(in, (size_t)(me - in), "</span>", 7) : NULL;
        char num_text[16];
        snprintf(num_text, sizeof num_text, " %u</span>", depth);
        size_t nl = strlen(num_text);
        bool says =
            in_end && (size_t)(in_end + 7 - in) >= nl && !memcmp(in_end + 7 - nl, num_text, nl);
        if (depth ? !says : in != NULL)
            s_fail("%s: command %" PRIu32 " at depth %u: its meta line %s", what, ord, depth,
                   depth ? "does not say so" : "says an inner shell");
    }
}

/* ---------------------------------------------------------------- search */

static bool s_has_needle(const l3_record_t *r, const char *q)
{
    size_t ql = strlen(q);
    const l3_bytes_t *f[4] = {&r->cmdline, &r->cwd, &r->output, &r->diff};
    for (int k = 0; k < 4; k++)
        if (f[k]->len >= ql && memmem(f[k]->data, f[k]->len, q, ql))
            return true;
    return false;
}

static int s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void s_check_search(index_t *ix, const model_t *m, const request_t *rq, seen_t *seen,
                           bool more)
{
    for (size_t k = 0; k < seen->ncmds; k++) {
        uint32_t ord = seen->cmds[k];
        if (ord < m->ncmds && !s_has_needle(&m->recs[m->cmd_rec[ord]], rq->q))
            s_fail("search hit %" PRIu32 " does not hold \"%s\" in its line, cwd, output or diff",
                   ord, rq->q);
    }
    /* Completeness, when nothing narrows or cuts the answer. U+FFFE and U+FFFF are the
       two text characters the datafile stores as <x> bytes (merged with neighbours), so
       a needle holding them is not looked for. */
    if (rq->filtered || more || strstr(rq->q, "\xef\xbf\xbe") || strstr(rq->q, "\xef\xbf\xbf"))
        return;
    uint32_t expect[MAX_RECORDS];
    size_t ne = 0;
    uint32_t nc;
    const index_cmd_t *cmds = index_cmds(ix, &nc);
    for (uint32_t ord = 0; ord < m->ncmds && ord < nc; ord++)
        if (s_visible(ix, rq, cmds[ord].sess) && s_has_needle(&m->recs[m->cmd_rec[ord]], rq->q))
            expect[ne++] = ord;
    if (ne >= (size_t)rq->want)
        return; /* the page is full: which ones is the search's choice (newest first) */
    if (seen->ncmds)
        qsort(seen->cmds, seen->ncmds, sizeof *seen->cmds, s_cmp_u32);
    size_t uniq = 0;
    for (size_t k = 0; k < seen->ncmds; k++)
        if (!uniq || seen->cmds[uniq - 1] != seen->cmds[k])
            seen->cmds[uniq++] = seen->cmds[k];
    for (size_t k = 0; k < ne; k++) {
        bool found = false;
        for (size_t s = 0; s < uniq && !found; s++)
            found = seen->cmds[s] == expect[k];
        if (!found)
            s_fail("search for \"%s\" missed command %" PRIu32 " (%zu hits, %zu expected)",
                   rq->q, expect[k], uniq, ne);
    }
}

/* ---------------------------------------------------------------- the target */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        s_init();
        ready = true;
    }
    rd_t r = {data, size};
    uint8_t cfg = s_u8(&r), env = s_u8(&r);
    ident_t ids[SLOTS];
    for (int k = 0; k < SLOTS; k++)
        s_ident_default(&ids[k], k);
    request_t rq;
    char *vals[P_COUNT_ + 1];
    s_decode_request(&r, env, &rq, ids, vals);
    static model_t m;
    memset(&m, 0, sizeof m);
    s_budget = s_budget_max;
    s_decode_records(&r, &m, ids);
    s_set_tz(env & 3);
    pages_t *pages = s_pages_for(cfg);

    s_write_datafile(&m);
    bool replay = env & 8;
    unlink(s_idx);
    index_t *ix = index_new(s_data, replay ? s_idx : NULL), *ix2 = NULL;
    if (!ix)
        abort();
    bool more = false;
    index_load(ix);
    if (index_scan(ix, UINT64_MAX, UINT64_MAX, &more) < 0)
        s_fail("index_scan failed on a datafile the writer's format wrote");
    s_check_index(ix, &m);
    if (replay) {
        ix2 = index_new(s_data, s_idx);
        if (!ix2)
            abort();
        index_load(ix2);
        index_scan(ix2, UINT64_MAX, UINT64_MAX, &more);
        s_check_same_index(ix, ix2);
    }
    index_t *use = ix2 ? ix2 : ix;

    /* The query: the kind's path, then the decoded parameters. */
    char query[4 * REQ_QUERY_MAX + 64] = "";
    s_route(&rq, use, query, sizeof query);
    if (RENDER_PAGE == PAGE_SEARCH && !vals[P_Q])
        vals[P_Q] = strdup("e");
    for (int k = 0; k < P_COUNT_; k++) {
        if (!vals[k])
            continue;
        if (RENDER_PAGE == PAGE_SEARCH && k == P_Q && !vals[k][0]) {
            free(vals[k]);
            vals[k] = strdup("e");
            if (!vals[k])
                abort();
        }
        /* a value l3-cgi would refuse is left out, as the CGI would answer 400 */
        char one[4 * REQ_QUERY_MAX];
        one[0] = 0;
        s_add_param(one, sizeof one, s_param_names[k], vals[k], true);
        req_t probe;
        char err[128];
        if (req_set(&probe, "GET", "/", one, NULL, NULL, err, sizeof err))
            continue;
        s_add_param(query, sizeof query, s_param_names[k], vals[k], true);
        /* every parameter but these narrows or cuts the answer (limit, before too) */
        if (k != P_Q && k != P_HTML && k != P_FULL && k != P_PAGE)
            rq.filtered = true;
    }
    if (vals[P_COUNT_]) {
        /* a raw tail, as a browser or a probe might send it */
        size_t o = strlen(query);
        snprintf(query + o, sizeof query - o, "%s%s", o ? "&" : "", vals[P_COUNT_]);
        rq.filtered = true;
    }
    char err[128];
    char method[8], user[REQ_USER_MAX + 1], lang[REQ_LANG_MAX + 1];
    snprintf(method, sizeof method, "%s", rq.req.method[0] == 'H' ? "HEAD" : "GET");
    snprintf(user, sizeof user, "%s", rq.req.user);
    snprintf(lang, sizeof lang, "%s", rq.req.lang);
    if (req_set(&rq.req, method, rq.path, query, user, lang, err, sizeof err) &&
        req_set(&rq.req, method, rq.path, "", user, lang, err, sizeof err) &&
        req_set(&rq.req, method, rq.path, "", "", lang, err, sizeof err))
        s_fail("request %s refused: %s", rq.path, err);
    if (!req_param(rq.req.query, "q", rq.q, sizeof rq.q))
        rq.q[0] = 0;
    rq.has_q = rq.q[0] != 0;
    if (!rq.req.query[0])
        rq.filtered = false;
    rq.all = !rq.req.user[0] || s_is_instructor(s_instructor_lists[cfg >> 6], rq.req.user);
    rq.me = rq.req.user[0] ? index_str_id(use, rq.req.user) : 0;
    rq.want = s_page_sizes[(cfg >> 2) & 3];

    l3_buf_t resp;
    l3_buf_init(&resp, 0);
    pages_handle(pages, use, &rq.req, &resp);

    /* ------------------------------------------------ checks */
    static const char *dump;
    static bool dump_checked;
    if (!dump_checked) {
        dump = getenv("RENDER_PAGE_DUMP"); /* a file to write the request and response to */
        dump_checked = true;
    }
    if (dump) {
        FILE *f = fopen(dump, "w");
        if (f) {
            fprintf(f, "%s %s?%s user=%s lang=%s\n", rq.req.method, rq.req.path, rq.req.query,
                    rq.req.user, rq.req.lang);
            fwrite(resp.data, 1, resp.len, f);
            fclose(f);
        }
    }
    bool head = rq.req.method[0] == 'H';
    resp_t rs;
    memset(&rs, 0, sizeof rs);
    s_check_http(resp.data, resp.len, head, &rs);
    if (rs.status != 200 && rs.status != 404 && rs.status != 503)
        s_fail("status %d for %s", rs.status, rq.path);
    if (rq.target != R_ANY && rs.status != 503) {
        uint32_t nc;
        const index_cmd_t *cmds = index_cmds(use, &nc);
        bool ok = rq.id_valid && (rq.target == R_CMD ? s_visible(use, &rq, cmds[rq.target_id].sess)
                                                     : s_visible(use, &rq, rq.target_id));
        if (ok != (rs.status == 200))
            s_fail("%s answered %d for user \"%s\" (expected %s)", rq.path, rs.status,
                   rq.req.user, ok ? "200" : "404");
    } else if (rs.status == 404) {
        s_fail("%s answered 404", rq.path);
    }
    seen_t seen;
    memset(&seen, 0, sizeof seen);
    bool search_more = false;
    if (!head) {
        if (!strcmp(rs.ctype, "text/html; charset=utf-8")) {
            s_check_html(rs.body, rs.blen, true, &seen);
            /* A page grows with what it shows, by a bounded factor (escapes, colour
               spans, links): it is never "too large" for a few records. */
            size_t shown = 0;
            for (size_t k = 0; k < m.nrecs; k++)
                shown += m.recs[k].cwd.len + m.recs[k].cmdline.len + m.recs[k].output.len +
                         m.recs[k].diff.len + 8192;
            if (rs.status == 503)
                s_fail("%s answered 503 (page too large) for %zu records", rq.path, m.nrecs);
            if (rs.blen > (256u << 10) + 128 * shown)
                s_fail("%s: a %zu-byte page for %zu bytes of records", rq.path, rs.blen, shown);
            if (!strcmp(rq.path, "/journal") || !strcmp(rq.path, "/search") ||
                !strncmp(rq.path, "/live/", 6) ||
                (!strncmp(rq.path, "/session/", 9) && !strchr(rq.path, '.')))
                s_check_list_size(rs.body, rs.blen, rq.path);
            s_check_depths(rs.body, rs.blen, &m, rq.path);
        } else if (!strcmp(rs.ctype, "application/json")) {
            l3_buf_t html;
            l3_buf_init(&html, 0);
            s_check_json(rs.body, rs.blen, &html, rq.path);
            for (size_t o = 0; o < html.len;) {
                size_t l = strlen((const char *)html.data + o);
                s_check_html(html.data + o, l, false, &seen);
                s_check_list_size(html.data + o, l, "an html=1 fragment");
                s_check_depths(html.data + o, l, &m, "an html=1 fragment");
                o += l + 1;
            }
            l3_buf_free(&html);
            s_json_seen(rs.body, rs.blen, &seen);
            s_check_json_cmds(rs.body, rs.blen, &m, rq.path);
            static const char more_true[] = "\"more\":true";
            search_more = memmem(rs.body, rs.blen, more_true, sizeof more_true - 1) != NULL;
        } else if (!strcmp(rs.ctype, "application/x-asciicast")) {
            s_check_cast(rs.body, rs.blen);
        } else if (!strcmp(rs.ctype, "text/plain; charset=utf-8")) {
            s_check_text(rs.body, rs.blen);
        } else {
            s_fail("unexpected Content-Type \"%s\"", rs.ctype);
        }
        /* access: everything named on the page is the user's */
        uint32_t nc;
        const index_cmd_t *cmds = index_cmds(use, &nc);
        for (size_t k = 0; k < seen.ncmds; k++)
            if (seen.cmds[k] >= nc || !s_visible(use, &rq, cmds[seen.cmds[k]].sess))
                s_fail("%s for \"%s\" shows command %" PRIu32, rq.path, rq.req.user, seen.cmds[k]);
        for (size_t k = 0; k < seen.nsess; k++)
            if (!s_visible(use, &rq, seen.sess[k]))
                s_fail("%s for \"%s\" links session %" PRIu32, rq.path, rq.req.user, seen.sess[k]);
        /* search: the hits hold the needle; nothing visible that holds it is missed */
        bool searching = rq.has_q && rs.status == 200 &&
                         (!strcmp(rq.path, "/journal") || !strcmp(rq.path, "/search") ||
                          !strcmp(rq.path, "/api/commands"));
        if (searching && !strcmp(rq.path, "/api/commands") &&
            req_param(rq.req.query, "since", err, sizeof err) && err[0] &&
            strtoll(err, NULL, 10) >= 0)
            searching = false; /* following from a cursor: q does not apply */
        if (searching) {
            if (rs.ctype[0] == 't') {
                static const char older[] = "before=";
                search_more = memmem(rs.body, rs.blen, older, sizeof older - 1) != NULL;
            }
            s_check_search(use, &m, &rq, &seen, search_more);
        }
    }
    free(seen.cmds);
    free(seen.sess);

    l3_buf_free(&resp);
    index_destroy(&ix);
    index_destroy(&ix2);
    for (int k = 0; k <= P_COUNT_; k++)
        free(vals[k]);
    for (size_t k = 0; k < m.nrecs; k++)
        l3_record_clear(&m.recs[k]);
    return 0;
}
