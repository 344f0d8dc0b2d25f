/*  check_records — compares the records of a recorded session with what the test expected.

      check_records expect EXPECT XML     the XML of `l3-agent --once` against a table
      check_records same XML OUTBOX ID    the daemon's outbox holds exactly the records of
                                          the XML, each once, field by field

    EXPECT is a text file the test script writes, one line per expectation, fields
    separated by TAB; text fields take the escapes \n \t \r \e \a \\ and \xHH:
      cmd  LINE  EXIT  SIGNAL  FLAGS  CWD  CHECK...   the next command record (nr 1, 2, ...)
      end  EXIT                                       the end record's exit status
    EXIT and SIGNAL are numbers, '-' for absent or '*' for any; FLAGS is the exact
    space-separated flag list ('' for none, '*' for any); CWD exact or '*'. Each CHECK
    is one of  * (nothing), =TEXT (output exactly), ~TEXT (output holds TEXT), !TEXT (does not),
    len>=N, len<=N, dropped>=N, nested (the record names a nested session), depth=N (typed
    in a shell N levels inside the session's own; absent = 0).
    Commands are taken in the order of their numbers: an inner shell's commands reach the
    datafile before the outer command that started the shell, which ends after them.
    Every command of the XML must be expected: one left over is a failure (a forged mark
    that became a command shows up here). */
#include "l3_log.h"
#include "l3_msg.h"
#include "l3_record.h"
#include "l3_xmlrec.h"
#include "outbox.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECS_MAX 4096

static int s_failures;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "check_records: " __VA_ARGS__);                                            \
        fputc('\n', stderr);                                                                       \
        s_failures++;                                                                              \
    } while (0)

typedef struct {
    l3_record_t *v;
    size_t n;
} recs_t;

static bool s_push(recs_t *r, const l3_record_t *rec)
{
    if (r->n >= RECS_MAX)
        return false;
    if (!r->v && !(r->v = calloc(RECS_MAX, sizeof(*r->v))))
        return false;
    r->v[r->n++] = *rec;
    return true;
}

static void s_free(recs_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        l3_record_clear(&r->v[i]);
    free(r->v);
}

/* The record lines of an XML datafile (header and footer skipped). */
static bool s_read_xml(const char *path, recs_t *out)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        FAIL("cannot open %s", path);
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    bool ok = true;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (strncmp(line, "<session ", 9) && strncmp(line, "<command ", 9) && strncmp(line, "<end ", 5))
            continue;
        l3_record_t rec;
        l3_record_init(&rec);
        char err[256];
        if (!l3_xmlrec_parse(line, (size_t) n, &rec, err, sizeof(err))) {
            FAIL("%s: bad record line (%s)", path, err);
            ok = false;
            continue;
        }
        if (!s_push(out, &rec)) {
            l3_record_clear(&rec);
            FAIL("%s: too many records", path);
            ok = false;
            break;
        }
    }
    free(line);
    fclose(f);
    return ok;
}

static bool s_read_outbox(const char *dir, const char *id, recs_t *out)
{
    outbox_t *box = outbox_open(dir, id, NULL);
    if (!box) {
        FAIL("cannot open outbox %s", dir);
        return false;
    }
    outbox_iter_t *it = outbox_iter_new(box, 1);
    uint64_t seq;
    const uint8_t *data;
    size_t len;
    int rc;
    bool ok = it != NULL;
    while (it && (rc = outbox_iter_next(it, &seq, &data, &len)) == 1) {
        l3_msg_t msg;
        char err[256];
        if (!l3_msg_decode(data, len, &msg, err, sizeof(err)) || msg.kind != L3_MSG_RECORD) {
            FAIL("outbox entry %" PRIu64 ": %s", seq, err);
            ok = false;
            continue;
        }
        if (!s_push(out, &msg.record)) {
            l3_msg_clear(&msg);
            FAIL("outbox: too many records");
            ok = false;
            break;
        }
    }
    outbox_iter_destroy(&it);
    outbox_destroy(&box);
    return ok;
}

/* Decode the test's escapes in place; returns the length (the text may hold NUL). */
static size_t s_unescape(char *s)
{
    char *w = s;
    for (char *p = s; *p; p++) {
        if (*p != '\\' || !p[1]) {
            *w++ = *p;
            continue;
        }
        p++;
        switch (*p) {
        case 'n': *w++ = '\n'; break;
        case 't': *w++ = '\t'; break;
        case 'r': *w++ = '\r'; break;
        case 'e': *w++ = 27; break;
        case 'a': *w++ = 7; break;
        case 'x':
            if (p[1] && p[2]) {
                char hex[3] = {p[1], p[2], 0};
                *w++ = (char) strtol(hex, NULL, 16);
                p += 2;
            }
            break;
        default: *w++ = *p;
        }
    }
    *w = 0;
    return (size_t) (w - s);
}

/* Printable form of bytes for messages (at most ~300 bytes of it); two calls may share
   one message. */
static const char *s_show(const uint8_t *d, size_t len)
{
    static char bufs[2][1400];
    static int turn;
    char *buf = bufs[turn ^= 1];
    const size_t bufsize = sizeof(bufs[0]);
    size_t w = 0;
    for (size_t i = 0; i < len && w < bufsize - 8; i++) {
        if (i == 300) {
            w += (size_t) snprintf(buf + w, bufsize - w, "...(%zu bytes)", len);
            break;
        }
        uint8_t c = d[i];
        if (c == '\n')
            w += (size_t) snprintf(buf + w, bufsize - w, "\\n");
        else if (c == '\r')
            w += (size_t) snprintf(buf + w, bufsize - w, "\\r");
        else if (c < 0x20 || c == 0x7f)
            w += (size_t) snprintf(buf + w, bufsize - w, "\\x%02x", c);
        else
            buf[w++] = (char) c;
    }
    buf[w] = 0;
    return buf;
}

static bool s_bytes_eq(const l3_bytes_t *b, const char *s, size_t len)
{
    return b->len == len && (len == 0 || memcmp(b->data, s, len) == 0);
}

static void s_check_num(const char *what, uint64_t nr, const char *want, bool has, int got)
{
    if (!strcmp(want, "*"))
        return;
    if (!strcmp(want, "-")) {
        if (has)
            FAIL("command %" PRIu64 ": %s %d, expected none", nr, what, got);
        return;
    }
    if (!has || got != atoi(want))
        FAIL("command %" PRIu64 ": %s %s%d, expected %s", nr, what, has ? "" : "none/",
             has ? got : 0, want);
}

static void s_check_command(const l3_record_t *r, char **f, int nf)
{
    uint64_t nr = r->nr;
    char *line = f[1];
    size_t ll = s_unescape(line);
    if (!s_bytes_eq(&r->cmdline, line, ll)) {
        FAIL("command %" PRIu64 ": line [%s]", nr, s_show(r->cmdline.data, r->cmdline.len));
        fprintf(stderr, "    expected [%s]\n", s_show((const uint8_t *) line, ll));
    }
    s_check_num("exit", nr, f[2], r->has_exit, r->exit_code);
    s_check_num("signal", nr, f[3], r->signal != 0, r->signal);
    if (strcmp(f[4], "*")) {
        char flags[256];
        l3_record_flags_format(r->flags, flags, sizeof(flags));
        if (strcmp(flags, f[4]))
            FAIL("command %" PRIu64 " [%s]: flags '%s', expected '%s'", nr,
                 s_show(r->cmdline.data, r->cmdline.len), flags, f[4]);
    }
    if (strcmp(f[5], "*")) {
        size_t cl = s_unescape(f[5]);
        if (!s_bytes_eq(&r->cwd, f[5], cl))
            FAIL("command %" PRIu64 ": cwd [%s], expected [%s]", nr,
                 s_show(r->cwd.data, r->cwd.len), f[5]);
    }
    const l3_bytes_t *o = &r->output;
    bool depth_checked = false;
    for (int i = 6; i < nf; i++) {
        char *c = f[i];
        bool bad = false;
        if (c[0] == '=') {
            size_t n = s_unescape(c + 1);
            bad = !s_bytes_eq(o, c + 1, n);
        } else if (c[0] == '~' || c[0] == '!') {
            size_t n = s_unescape(c + 1);
            bool has = n == 0 || (o->len && memmem(o->data, o->len, c + 1, n) != NULL);
            bad = c[0] == '~' ? !has : has;
        } else if (!strncmp(c, "len>=", 5))
            bad = o->len < strtoull(c + 5, NULL, 10);
        else if (!strncmp(c, "len<=", 5))
            bad = o->len > strtoull(c + 5, NULL, 10);
        else if (!strncmp(c, "dropped>=", 9))
            bad = r->dropped < strtoull(c + 9, NULL, 10);
        else if (!strcmp(c, "nested"))
            bad = !r->nested[0];
        else if (!strncmp(c, "depth=", 6)) {
            depth_checked = true;
            if (r->depth != strtoul(c + 6, NULL, 10))
                FAIL("command %" PRIu64 " [%s]: depth %u, expected %s", nr,
                     s_show(r->cmdline.data, r->cmdline.len), r->depth, c + 6);
        }
        else if (c[0] && strcmp(c, "*"))
            FAIL("unknown check '%s'", c);
        if (bad)
            FAIL("command %" PRIu64 " [%s]: output check '%s' failed; output (%zu bytes, "
                 "dropped %" PRIu64 ") [%s]",
                 nr, s_show(r->cmdline.data, r->cmdline.len), c, o->len, r->dropped,
                 s_show(o->data, o->len));
    }
    if (!depth_checked && r->depth)
        FAIL("command %" PRIu64 " [%s]: depth %u, expected 0", nr,
             s_show(r->cmdline.data, r->cmdline.len), r->depth);
}

static int s_by_nr(const void *a, const void *b)
{
    const l3_record_t *x = a, *y = b;
    //  Sessions first, then commands by number, then the end.
    int kx = x->type == L3_RECORD_SESSION ? 0 : x->type == L3_RECORD_COMMAND ? 1 : 2;
    int ky = y->type == L3_RECORD_SESSION ? 0 : y->type == L3_RECORD_COMMAND ? 1 : 2;
    if (kx != ky)
        return kx - ky;
    return x->nr < y->nr ? -1 : x->nr > y->nr;
}

static int s_expect(const char *expect_path, const char *xml_path)
{
    recs_t recs = {0};
    s_read_xml(xml_path, &recs);
    if (recs.n)
        qsort(recs.v, recs.n, sizeof(*recs.v), s_by_nr);
    FILE *f = fopen(expect_path, "r");
    if (!f) {
        FAIL("cannot open %s", expect_path);
        s_free(&recs);
        return 1;
    }
    size_t sessions = 0, ends = 0, cmds = 0;
    for (size_t i = 0; i < recs.n; i++) {
        sessions += recs.v[i].type == L3_RECORD_SESSION;
        ends += recs.v[i].type == L3_RECORD_END;
    }
    if (sessions != 1 || ends != 1)
        FAIL("%s: %zu session and %zu end records, expected one each", xml_path, sessions, ends);
    char *line = NULL;
    size_t cap = 0, ri = 0, expected = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = 0;
        char *fields[64];
        int nf = 0;
        for (char *p = line; nf < 64;) {
            fields[nf++] = p;
            char *t = strchr(p, '\t');
            if (!t)
                break;
            *t = 0;
            p = t + 1;
        }
        if (!strcmp(fields[0], "end") && nf >= 2) {
            for (size_t i = 0; i < recs.n; i++)
                if (recs.v[i].type == L3_RECORD_END) {
                    char flags[256];
                    l3_record_flags_format(recs.v[i].flags, flags, sizeof(flags));
                    s_check_num("end exit", 0, fields[1], recs.v[i].has_exit, recs.v[i].exit_code);
                    if (recs.v[i].flags & L3_FLAG_ABNORMAL)
                        FAIL("end record flagged '%s'", flags);
                }
            continue;
        }
        if (strcmp(fields[0], "cmd") || nf < 6) {
            if (fields[0][0])
                FAIL("bad expect line: %s", fields[0]);
            continue;
        }
        expected++;
        while (ri < recs.n && recs.v[ri].type != L3_RECORD_COMMAND)
            ri++;
        if (ri == recs.n) {
            FAIL("command %zu missing (expected [%s])", expected, fields[1]);
            continue;
        }
        const l3_record_t *r = &recs.v[ri++];
        cmds++;
        if (r->nr != expected)
            FAIL("command numbered %" PRIu64 ", expected %zu", r->nr, expected);
        s_check_command(r, fields, nf);
    }
    for (; ri < recs.n; ri++)
        if (recs.v[ri].type == L3_RECORD_COMMAND)
            FAIL("unexpected command %" PRIu64 " [%s]", recs.v[ri].nr,
                 s_show(recs.v[ri].cmdline.data, recs.v[ri].cmdline.len));
    free(line);
    fclose(f);
    printf("check_records: %zu commands checked against %zu expected, %d failure(s)\n", cmds,
           expected, s_failures);
    s_free(&recs);
    return s_failures ? 1 : 0;
}

static bool s_same_bytes(const l3_bytes_t *a, const l3_bytes_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Everything but the stream identity (agent, epoch, seq) and the host (--once takes it
   from the .info, the daemon from its config). */
static const char *s_differs(const l3_record_t *a, const l3_record_t *b)
{
    if (strcmp(a->user, b->user))
        return "user";
    if (a->start_us != b->start_us)
        return "start";
    if (a->end_us != b->end_us)
        return "end";
    if (a->has_exit != b->has_exit || a->exit_code != b->exit_code)
        return "exit";
    if (a->signal != b->signal)
        return "signal";
    if (a->flags != b->flags)
        return "flags";
    if (strcmp(a->nested, b->nested) || strcmp(a->parent, b->parent))
        return "nested/parent";
    if (!s_same_bytes(&a->cwd, &b->cwd))
        return "cwd";
    if (!s_same_bytes(&a->cmdline, &b->cmdline))
        return "line";
    if (!s_same_bytes(&a->output, &b->output) || a->dropped != b->dropped
        || a->output_head != b->output_head)
        return "output";
    if (!s_same_bytes(&a->timing, &b->timing))
        return "timing";
    if (!s_same_bytes(&a->diff, &b->diff))
        return "diff";
    return NULL;
}

static int s_same(const char *xml_path, const char *dir, const char *id)
{
    recs_t want = {0}, got = {0};
    s_read_xml(xml_path, &want);
    s_read_outbox(dir, id, &got);
    size_t matched = 0;
    for (size_t i = 0; i < want.n; i++) {
        const l3_record_t *w = &want.v[i];
        int count = 0;
        for (size_t j = 0; j < got.n; j++) {
            const l3_record_t *g = &got.v[j];
            if (g->type != w->type || strcmp(g->sid, w->sid) || g->nr != w->nr)
                continue;
            count++;
            const char *d = s_differs(w, g);
            if (d)
                FAIL("%s %s nr %" PRIu64 ": field %s differs between --once and the daemon "
                     "(start %" PRId64 "/%" PRId64 ", end %" PRId64 "/%" PRId64 ")",
                     l3_record_type_name(w->type), w->sid, w->nr, d, w->start_us, g->start_us,
                     w->end_us, g->end_us);
        }
        if (count != 1)
            FAIL("%s %s nr %" PRIu64 " [%s]: %d times in the outbox, expected once",
                 l3_record_type_name(w->type), w->sid, w->nr,
                 s_show(w->cmdline.data, w->cmdline.len), count);
        else
            matched++;
    }
    for (size_t j = 0; j < got.n; j++) {
        const l3_record_t *g = &got.v[j];
        bool known = false;
        for (size_t i = 0; i < want.n && !known; i++)
            known = want.v[i].type == g->type && !strcmp(want.v[i].sid, g->sid) && want.v[i].nr == g->nr;
        if (!known)
            FAIL("outbox record %s %s nr %" PRIu64 " [%s] is not in the --once output",
                 l3_record_type_name(g->type), g->sid, g->nr, s_show(g->cmdline.data, g->cmdline.len));
    }
    printf("check_records: %zu records in --once, %zu in the outbox, %zu matched once, %d "
           "failure(s)\n",
           want.n, got.n, matched, s_failures);
    s_free(&want);
    s_free(&got);
    return s_failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    l3_log_init("check_records", false, L3_LOG_WARN);
    if (argc == 4 && !strcmp(argv[1], "expect"))
        return s_expect(argv[2], argv[3]);
    if (argc == 5 && !strcmp(argv[1], "same"))
        return s_same(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: check_records expect EXPECT XML\n"
                    "       check_records same XML OUTBOX AGENT_ID\n");
    return 2;
}
