/*  The journal's pages through their public API (pages_new, pages_handle) over a datafile
    written in the writer's format (l3_xmlrec_write), with a config file like the real one.

    instructors: render/instructors is a list of whole names; a REMOTE_USER sees every
    session only when it is one of them, never because its name spans two of them
    ("teacher admin") or a separator. Measured as the sessions /api/sessions lists.

    command lines with ')': a ')' once made the command-line formatter spin forever
    (fixed in 2def1d6), and the journal answered 504 to everyone from then on. Each page
    is made in a child process with a deadline, so a hang fails the test instead of
    hanging it; the command's text must stand in the page, HTML-escaped.

    wide lines: lists showed every byte of every command line and diff, and sixteen
    commands with 1 MiB lines of '<' (4 MiB each, escaped) made every page that listed
    them answer 503 to everyone. A list shows the start of a long line or diff and a link
    to the command's page, which shows all of it; command words in the shown part are
    still links, at most 64 of them, and the cut splits no character.

    the JSON API over wide lines: /api/commands sent every command whole, so the same
    sixteen commands made ~96 MiB of JSON, and the API, the live page's feed and the
    session's .json export answered 503. An answer stops at its byte budget and says where
    to go on; following its cursor yields every command exactly once, whole or (a lone
    command too large for an answer) cut as a list cuts it with the bytes left out said,
    and in the export always whole. Answers are read by a strict JSON reader, itself
    checked first on what RFC 8259 accepts and refuses.

    inner shells: a command typed in a shell started inside the session is indented by
    its depth and says "inner shell N", the command that started the shell says so, and
    one typed in the session's own shell says neither: in the journal and on the
    session's page, in English and Russian; the JSON API gives each command's depth.

    the asciicast export: its "o" events carry every byte of each command's output, in
    order, even where the timing cuts a UTF-8 character in two (each event is a JSON
    string: a split character came out as two U+FFFD) or covers too little or too much;
    a capped output has an "m" marker between head and tail saying how many bytes were
    dropped, and the text export a line saying so. The replay page loads the player and
    its starter from static_url, links both exports, and only it gets a CSP that lets
    scripts compile WebAssembly. */
#include "index.h"
#include "l3_config.h"
#include "l3_test.h"
#include "l3_utf8.h"
#include "l3_xmlrec.h"
#include "pages.h"
#include "req.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- fixture */

typedef struct {
    char dir[64];
    char data[128];
    char cfg[128];
    index_t *ix;
    uint64_t seq;
    int64_t now_us;
    l3_buf_t lines;
} fixture_t;

static void s_fixture_init(fixture_t *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/l3-journal-pages-XXXXXX");
    if (!mkdtemp(f->dir)) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(f->data, sizeof f->data, "%s/data.xml", f->dir);
    snprintf(f->cfg, sizeof f->cfg, "%s/lilalo.cfg", f->dir);
    f->now_us = 1795000000000000ll;
    l3_buf_init(&f->lines, 0);
    l3_buf_append_str(&f->lines, L3_XML_HEADER);
}

static void s_fixture_record(fixture_t *f, l3_record_t *r)
{
    char err[128];
    snprintf(r->agent, sizeof r->agent, "t");
    r->epoch = 1;
    r->seq = ++f->seq;
    if (!l3_record_validate(r, err, sizeof err)) {
        fprintf(stderr, "invalid test record: %s\n", err);
        exit(1);
    }
    l3_xmlrec_write(r, &f->lines);
}

static void s_fixture_session(fixture_t *f, const char *user, const char *sid)
{
    l3_record_t r;
    l3_record_init(&r);
    r.type = L3_RECORD_SESSION;
    snprintf(r.host, sizeof r.host, "lab1");
    snprintf(r.user, sizeof r.user, "%s", user);
    snprintf(r.sid, sizeof r.sid, "%s", sid);
    snprintf(r.tty, sizeof r.tty, "/dev/pts/1");
    r.start_us = f->now_us;
    r.cols = 80;
    r.rows = 24;
    s_fixture_record(f, &r);
    l3_record_clear(&r);
}

static void s_fixture_command(fixture_t *f, const char *user, const char *sid, uint64_t nr,
                              const char *cmdline, const char *output)
{
    l3_record_t r;
    l3_record_init(&r);
    r.type = L3_RECORD_COMMAND;
    snprintf(r.host, sizeof r.host, "lab1");
    snprintf(r.user, sizeof r.user, "%s", user);
    snprintf(r.sid, sizeof r.sid, "%s", sid);
    r.nr = nr;
    f->now_us += 1000000;
    r.start_us = f->now_us;
    r.end_us = f->now_us + 500000;
    r.has_exit = true;
    l3_bytes_set(&r.cwd, "/tmp", 4, L3_CWD_MAX);
    l3_bytes_set(&r.cmdline, cmdline, strlen(cmdline), L3_CMDLINE_MAX);
    l3_bytes_set(&r.output, output, strlen(output), L3_OUTPUT_MAX);
    s_fixture_record(f, &r);
    l3_record_clear(&r);
}

/* r: command nr of alice's session s1 on lab1, a second after the last, with this line
   and output "ok" (the caller may change any of it, then s_fixture_record and clear). */
static void s_fixture_command_init(fixture_t *f, l3_record_t *r, uint64_t nr,
                                   const char *cmdline, size_t cmdlen)
{
    l3_record_init(r);
    r->type = L3_RECORD_COMMAND;
    snprintf(r->host, sizeof r->host, "lab1");
    snprintf(r->user, sizeof r->user, "alice");
    snprintf(r->sid, sizeof r->sid, "s1");
    r->nr = nr;
    f->now_us += 1000000;
    r->start_us = f->now_us;
    r->end_us = f->now_us + 500000;
    r->has_exit = true;
    l3_bytes_set(&r->cwd, "/tmp", 4, L3_CWD_MAX);
    l3_bytes_set(&r->cmdline, cmdline, cmdlen, L3_CMDLINE_MAX);
    l3_bytes_set(&r->output, "ok\r\n", 4, L3_OUTPUT_MAX);
}

/* A command with any bytes as its line (cmdlen of them) and diff (difflen, may be 0). */
static void s_fixture_command_bytes(fixture_t *f, uint64_t nr, const char *cmdline, size_t cmdlen,
                                    const char *diff, size_t difflen)
{
    l3_record_t r;
    s_fixture_command_init(f, &r, nr, cmdline, cmdlen);
    if (difflen)
        l3_bytes_set(&r.diff, diff, difflen, L3_DIFF_MAX);
    s_fixture_record(f, &r);
    l3_record_clear(&r);
}

/* Write the datafile and index it. */
static void s_fixture_open(fixture_t *f)
{
    l3_buf_append_str(&f->lines, L3_XML_FOOTER);
    FILE *out = fopen(f->data, "w");
    if (!out || fwrite(f->lines.data, 1, f->lines.len, out) != f->lines.len || fclose(out)) {
        perror(f->data);
        exit(1);
    }
    f->ix = index_new(f->data, NULL);
    bool more;
    if (!f->ix || index_scan(f->ix, UINT64_MAX, UINT64_MAX, &more) < 0) {
        fprintf(stderr, "cannot index %s\n", f->data);
        exit(1);
    }
}

static void s_fixture_destroy(fixture_t *f)
{
    index_destroy(&f->ix);
    l3_buf_free(&f->lines);
    unlink(f->data);
    unlink(f->cfg);
    rmdir(f->dir);
}

/* pages over a config whose render section holds `render_keys` (ZPL lines). */
static pages_t *s_pages_with(fixture_t *f, const char *render_keys)
{
    FILE *out = fopen(f->cfg, "w");
    if (!out)
        return NULL;
    fprintf(out, "render\n    whatis = 0\n%s", render_keys);
    fclose(out);
    l3_config_t *config = l3_config_load(f->cfg);
    pages_t *pages = config ? pages_new(config) : NULL;
    l3_config_destroy(&config);
    return pages;
}

/* A GET as the CGI would forward it. Filled directly, not through req_set: render takes
   frames from its socket, so pages must hold whatever a frame can carry. */
static void s_get(pages_t *pages, index_t *ix, const char *path, const char *query,
                  const char *user, l3_buf_t *resp)
{
    req_t req;
    memset(&req, 0, sizeof req);
    snprintf(req.method, sizeof req.method, "GET");
    snprintf(req.path, sizeof req.path, "%s", path);
    snprintf(req.query, sizeof req.query, "%s", query);
    snprintf(req.user, sizeof req.user, "%s", user);
    l3_buf_reset(resp);
    pages_handle(pages, ix, &req, resp);
    l3_buf_append_byte(resp, 0);
}

static size_t s_count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* s_get in a child process: true with the response when it came within deadline_ms;
   false when the page took longer (the child is killed) or the child died. *took_ms is
   the time it took. */
static bool s_get_within(pages_t *pages, index_t *ix, const char *path, const char *query,
                         int deadline_ms, l3_buf_t *resp, int64_t *took_ms)
{
    int fds[2];
    int64_t start = s_now_ms();
    l3_buf_reset(resp);
    *took_ms = 0;
    if (pipe(fds) != 0)
        return false;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (pid == 0) {
        close(fds[0]);
        l3_buf_t page;
        l3_buf_init(&page, 0);
        s_get(pages, ix, path, query, "", &page);
        size_t off = 0;
        while (off < page.len) {
            ssize_t w = write(fds[1], page.data + off, page.len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    bool done = false, in_time = true;
    char chunk[65536];
    while (!done) {
        int left = deadline_ms - (int)(s_now_ms() - start);
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int n = left > 0 ? poll(&pfd, 1, left) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            in_time = false;
            kill(pid, SIGKILL);
            break;
        }
        ssize_t r = read(fds[0], chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            done = true;
        else
            l3_buf_append(resp, chunk, (size_t)r);
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    *took_ms = s_now_ms() - start;
    return in_time && WIFEXITED(status) && WEXITSTATUS(status) == 0 && resp->len > 0;
}

/* ---------------------------------------------------------------- instructors */

static void test_instructors(void)
{
    static const char *users[] = {"alice",         "teacher",       "admin",
                                  "teacher admin", "teacher,admin", "bob"};
    const size_t nusers = sizeof users / sizeof users[0];
    static const struct {
        const char *list; /* render/instructors */
        const char *user; /* REMOTE_USER */
        bool all;         /* sees every session */
    } cases[] = {
        {"teacher admin", "teacher", true},
        {"teacher admin", "admin", true},
        {"teacher admin", "teacher admin", false},
        {"teacher admin", "teacher,admin", false},
        {"teacher admin", "alice", false},
        {"teacher admin", "teach", false},
        {"teacher admin", "eacher", false},
        {"teacher admin", "r a", false},
        {"teacher admin", "Teacher", false},
        {"teacher admin", "teacher ", false},
        {"teacher admin", " teacher", false},
        {"teacher, admin", "admin", true},
        {"teacher, admin", "teacher,", false},
        {"teacher,admin", "teacher", true},
        {"teacher,admin", "teacher,admin", false},
        {"teacher\tadmin", "admin", true},
        {"teacher\tadmin", "teacher\tadmin", false},
        {" ,teacher,, admin ,", "teacher", true},
        {" ,teacher,, admin ,", "admin", true},
        {" ,teacher,, admin ,", "", true}, /* no web-server login: everything */
        {"teacher admin", "", true},
        {"", "teacher", false},
        {"", "", true},
        {",", "teacher", false},
        {"teacher admin", ",", false},
        {"teacher admin", " ", false},
        {"teacher admin", "teacher admin bob", false},
        {"teacher admin bob", "bob", true},
    };
    fixture_t f;
    s_fixture_init(&f);
    for (size_t i = 0; i < nusers; i++) {
        char sid[16];
        snprintf(sid, sizeof sid, "s%zu", i);
        s_fixture_session(&f, users[i], sid);
        s_fixture_command(&f, users[i], sid, 1, "ls", "a b\r\n");
    }
    s_fixture_open(&f);
    l3_buf_t resp;
    l3_buf_init(&resp, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char keys[256];
        snprintf(keys, sizeof keys, "    instructors = \"%s\"\n", cases[i].list);
        pages_t *pages = s_pages_with(&f, keys);
        CHECK_MSG(pages != NULL, "case %zu: config with instructors = \"%s\"", i, cases[i].list);
        if (!pages)
            continue;
        s_get(pages, f.ix, "/api/sessions", "", cases[i].user, &resp);
        const char *body = (const char *)resp.data;
        size_t seen = s_count(body, "{\"id\":");
        size_t own = 0;
        for (size_t k = 0; k < nusers; k++)
            own += !strcmp(users[k], cases[i].user);
        size_t want = cases[i].all ? nusers : own;
        CHECK_MSG(!strncmp(body, "HTTP/1.1 200 ", 13) && seen == want,
                  "case %zu: instructors = \"%s\", user \"%s\": sees %zu sessions, want %zu", i,
                  cases[i].list, cases[i].user, seen, want);
        pages_destroy(&pages);
    }
    l3_buf_free(&resp);
    s_fixture_destroy(&f);
}

/* ---------------------------------------------------------------- command lines */

/* s HTML-escaped as the journal escapes typed text (ASCII here): C0 controls other than
   tab and newline dropped, never interpreted. */
static void s_escape(const char *s, char *out, size_t size)
{
    size_t o = 0;
    for (; *s && o + 7 < size; s++) {
        if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n')
            continue;
        const char *rep = *s == '&'    ? "&amp;"
                          : *s == '<'  ? "&lt;"
                          : *s == '>'  ? "&gt;"
                          : *s == '"'  ? "&quot;"
                          : *s == '\'' ? "&#39;"
                                       : NULL;
        if (rep) {
            memcpy(out + o, rep, strlen(rep));
            o += strlen(rep);
        } else {
            out[o++] = *s;
        }
    }
    out[o] = 0;
}

/* The text of command ord's command line in a page: the inside of its <code class="cl">
   with the tags dropped (word links, icons, search marks). false when it is not there. */
static bool s_cmdline_text(const char *page, uint32_t ord, char *out, size_t size)
{
    char id[32];
    snprintf(id, sizeof id, "id=\"c%u\"", ord);
    const char *p = strstr(page, id);
    p = p ? strstr(p, "<code class=\"cl\">") : NULL;
    const char *end = p ? strstr(p, "</code>") : NULL;
    if (!end)
        return false;
    p += strlen("<code class=\"cl\">");
    size_t o = 0;
    bool in_tag = false;
    for (; p < end && o + 1 < size; p++) {
        if (*p == '<')
            in_tag = true;
        else if (*p == '>' && in_tag)
            in_tag = false;
        else if (!in_tag)
            out[o++] = *p;
    }
    out[o] = 0;
    return true;
}

static void test_cmdlines_with_parens(void)
{
    static const char *lines[] = {
        "echo $((6*7))",
        "(exit 3)",
        "f() {",
        "$(date)",
        "a)b",
        ")",
        "))))",
        "echo \"<b>)</b>\" 'x)' && (cd /tmp; ls) | wc -l",
        "case $x in a) echo a;; *) echo b;; esac",
        "sudo -u bob env A=1 ls $(cat list)) `uname -r`)",
        /* escape sequences in a command line are text, never drawn: (the formatter once
           sent odd and highlighted words through the terminal-output converter) */
        "printf '\x1b[1mX'",
        "\x1b[1mbold",
        "A='\x1b[0m' ab\rc",
        "x=$(printf '\x1b[31m')",
    };
    const size_t nlines = sizeof lines / sizeof lines[0];
    const int deadline_ms = 2000; /* a page of a few commands takes milliseconds */
    fixture_t f;
    s_fixture_init(&f);
    s_fixture_session(&f, "alice", "s1");
    for (size_t i = 0; i < nlines; i++)
        s_fixture_command(&f, "alice", "s1", i + 1, lines[i], "42\r\n");
    s_fixture_open(&f);
    pages_t *pages = s_pages_with(&f, "");
    CHECK(pages != NULL);
    if (!pages) {
        s_fixture_destroy(&f);
        return;
    }
    l3_buf_t resp;
    l3_buf_init(&resp, 0);
    char want[256], got[4096];
    int64_t took;

    /* the journal, and a search for ')' (the highlighting path), hold every line */
    static const char *journals[] = {"", "q=%29"};
    for (size_t k = 0; k < sizeof journals / sizeof journals[0]; k++) {
        bool ok = s_get_within(pages, f.ix, "/journal", journals[k], deadline_ms, &resp, &took);
        CHECK_MSG(ok, "/journal?%s: no answer within %d ms (took %lld ms)", journals[k],
                  deadline_ms, (long long)took);
        if (!ok)
            continue;
        const char *page = (const char *)resp.data;
        CHECK_MSG(!strncmp(page, "HTTP/1.1 200 ", 13), "/journal?%s: %.40s", journals[k], page);
        for (size_t i = 0; i < nlines; i++) {
            if (journals[k][0] && !strchr(lines[i], ')'))
                continue; /* the search for ')' does not find it */
            s_escape(lines[i], want, sizeof want);
            bool found = s_cmdline_text(page, (uint32_t)i, got, sizeof got);
            CHECK_MSG(found && !strcmp(got, want),
                      "/journal?%s, command %zu: text \"%s\", want \"%s\" (%s)", journals[k], i,
                      found ? got : "(none)", want, lines[i]);
        }
    }

    /* each permalink, and with all of its output */
    for (size_t i = 0; i < nlines; i++) {
        char path[32];
        snprintf(path, sizeof path, "/cmd/%zu", i);
        static const char *queries[] = {"", "full=1"};
        for (size_t k = 0; k < sizeof queries / sizeof queries[0]; k++) {
            bool ok = s_get_within(pages, f.ix, path, queries[k], deadline_ms, &resp, &took);
            CHECK_MSG(ok, "%s?%s (%s): no answer within %d ms (took %lld ms)", path, queries[k],
                      lines[i], deadline_ms, (long long)took);
            if (!ok)
                break; /* the same page again would only hang again */
            const char *page = (const char *)resp.data;
            s_escape(lines[i], want, sizeof want);
            bool found = s_cmdline_text(page, (uint32_t)i, got, sizeof got);
            CHECK_MSG(!strncmp(page, "HTTP/1.1 200 ", 13) && found && !strcmp(got, want),
                      "%s?%s: text \"%s\", want \"%s\" (%s)", path, queries[k],
                      found ? got : "(none)", want, lines[i]);
        }
    }
    l3_buf_free(&resp);
    pages_destroy(&pages);
    s_fixture_destroy(&f);
}

/* ---------------------------------------------------------------- JSON answers */

/* A strict RFC 8259 reader over one answer: every value checked (strings valid UTF-8
   with only the escapes JSON has, lone surrogates refused, numbers in JSON's grammar,
   nothing after the value), strings decoded on request. */
typedef struct {
    const uint8_t *p, *end;
} jr_t;

static void s_jr_ws(jr_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static bool s_jr_hex4(jr_t *j, uint32_t *v)
{
    if (j->end - j->p < 4)
        return false;
    *v = 0;
    for (int k = 0; k < 4; k++) {
        uint8_t h = j->p[k];
        int d = h >= '0' && h <= '9'   ? h - '0'
                : h >= 'a' && h <= 'f' ? h - 'a' + 10
                : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                       : -1;
        if (d < 0)
            return false;
        *v = (*v << 4) | (uint32_t)d;
    }
    j->p += 4;
    return true;
}

/* A string at j->p; decoded into out (may be NULL). */
static bool s_jr_string(jr_t *j, l3_buf_t *out)
{
    if (j->p >= j->end || *j->p != '"')
        return false;
    j->p++;
    while (j->p < j->end) {
        uint8_t ch = *j->p;
        if (ch == '"') {
            j->p++;
            return true;
        }
        if (ch < 0x20)
            return false;
        if (ch == '\\') {
            static const char esc[] = "\"\\/bfnrt", dec[] = "\"\\/\b\f\n\r\t";
            if (++j->p >= j->end)
                return false;
            uint8_t e = *j->p++;
            const char *k = e ? strchr(esc, e) : NULL;
            if (k) {
                if (out)
                    l3_buf_append_byte(out, (uint8_t)dec[k - esc]);
                continue;
            }
            uint32_t v, lo;
            if (e != 'u' || !s_jr_hex4(j, &v) || (v >= 0xdc00 && v <= 0xdfff))
                return false;
            if (v >= 0xd800 && v <= 0xdbff) {
                if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
                    return false;
                j->p += 2;
                if (!s_jr_hex4(j, &lo) || lo < 0xdc00 || lo > 0xdfff)
                    return false;
                v = 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (out) {
                uint8_t u[4];
                size_t n = v < 0x80 ? 1 : v < 0x800 ? 2 : v < 0x10000 ? 3 : 4;
                static const uint8_t lead[5] = {0, 0, 0xc0, 0xe0, 0xf0};
                for (size_t i = n; i-- > 1; v >>= 6)
                    u[i] = (uint8_t)(0x80 | (v & 0x3f));
                u[0] = (uint8_t)(lead[n] | v);
                l3_buf_append(out, u, n);
            }
            continue;
        }
        uint32_t cp;
        size_t n = 0;
        while (j->p + n < j->end && j->p[n] >= 0x20 && j->p[n] < 0x80 && j->p[n] != '"' &&
               j->p[n] != '\\')
            n++; /* a run of plain ASCII */
        if (!n && !(n = l3_utf8_decode(j->p, (size_t)(j->end - j->p), &cp)))
            return false;
        if (out)
            l3_buf_append(out, j->p, n);
        j->p += n;
    }
    return false;
}

static bool s_jr_digits(jr_t *j)
{
    const uint8_t *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > s;
}

static bool s_jr_number(jr_t *j)
{
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (j->p >= j->end || *j->p < '1' || *j->p > '9' || !s_jr_digits(j))
        return false;
    if (j->p < j->end && *j->p == '.' && (j->p++, !s_jr_digits(j)))
        return false;
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!s_jr_digits(j))
            return false;
    }
    return true;
}

static bool s_jr_value(jr_t *j, int depth)
{
    s_jr_ws(j);
    if (j->p >= j->end || depth > 64)
        return false;
    uint8_t ch = *j->p;
    if (ch == '{' || ch == '[') {
        uint8_t close = ch == '{' ? '}' : ']';
        j->p++;
        s_jr_ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return true;
        }
        for (;;) {
            s_jr_ws(j);
            if (ch == '{') {
                if (!s_jr_string(j, NULL))
                    return false;
                s_jr_ws(j);
                if (j->p >= j->end || *j->p++ != ':')
                    return false;
            }
            if (!s_jr_value(j, depth + 1))
                return false;
            s_jr_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == close) {
                j->p++;
                return true;
            }
            return false;
        }
    }
    if (ch == '"')
        return s_jr_string(j, NULL);
    static const char *lits[] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++) {
        size_t l = strlen(lits[k]);
        if ((size_t)(j->end - j->p) >= l && !memcmp(j->p, lits[k], l)) {
            j->p += l;
            return true;
        }
    }
    return s_jr_number(j);
}

/* Whether p[0..n) is one strict JSON value. */
static bool s_json_strict(const uint8_t *p, size_t n)
{
    jr_t j = {p, p + n};
    if (!s_jr_value(&j, 0))
        return false;
    s_jr_ws(&j);
    return j.p == j.end;
}

/* One member of an object: its key (decoded into key) and the ':' after it; j is left at
   the value. */
static bool s_jr_key(jr_t *j, l3_buf_t *key)
{
    l3_buf_reset(key);
    s_jr_ws(j);
    if (!s_jr_string(j, key))
        return false;
    s_jr_ws(j);
    if (j->p >= j->end || *j->p != ':')
        return false;
    j->p++;
    s_jr_ws(j);
    return true;
}

/* After a member's value or an array's element: true at a ',' (skipped), false at the
   closing byte (skipped; *closed set) or anything else. */
static bool s_jr_next(jr_t *j, uint8_t close, bool *closed)
{
    s_jr_ws(j);
    *closed = j->p < j->end && *j->p == close;
    if (j->p < j->end && (*j->p == ',' || *closed)) {
        j->p++;
        return !*closed;
    }
    return false;
}

/* The object at j->p, checked strictly; the values of members keys[0..n) are found at
   vals (NULL: not there). */
static bool s_jr_object(jr_t *j, const char *const *keys, size_t n, const uint8_t **vals)
{
    for (size_t i = 0; i < n; i++)
        vals[i] = NULL;
    if (j->p >= j->end || *j->p != '{')
        return false;
    j->p++;
    s_jr_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return true;
    }
    l3_buf_t k;
    l3_buf_init(&k, 0);
    bool closed = false;
    do {
        if (!s_jr_key(j, &k))
            break;
        for (size_t i = 0; i < n; i++)
            if (k.len == strlen(keys[i]) && !memcmp(k.data, keys[i], k.len))
                vals[i] = j->p;
        if (!s_jr_value(j, 1))
            break;
    } while (s_jr_next(j, '}', &closed));
    l3_buf_free(&k);
    return closed;
}

/* An integer value at v; def when v is NULL or not an integer. */
static int64_t s_jr_int(const uint8_t *v, int64_t def)
{
    if (!v || !((*v >= '0' && *v <= '9') || *v == '-'))
        return def;
    return strtoll((const char *)v, NULL, 10);
}

/* One /api/commands answer (or a .json export page), read: its cursor and, per command,
   what the tests look at. */
#define API_CMDS_MAX 32
typedef struct {
    int64_t id, depth;
    int64_t cmd_more, output_more, diff_more; /* -1: not there (the field is whole) */
    l3_buf_t cmd, html;                       /* decoded */
} api_cmd_t;

typedef struct {
    bool json;            /* strict JSON of the documented shape */
    int64_t next, before; /* -1: not there */
    bool more;
    size_t n;
    api_cmd_t c[API_CMDS_MAX];
} api_answer_t;

static void s_api_answer_free(api_answer_t *a)
{
    for (size_t i = 0; i < API_CMDS_MAX; i++) {
        l3_buf_free(&a->c[i].cmd);
        l3_buf_free(&a->c[i].html);
    }
}

/* Read the body of an HTTP response (resp, NUL-terminated as s_get leaves it) as an
   answer; *body_len is the body's length. */
static void s_api_answer(const l3_buf_t *resp, api_answer_t *a, size_t *body_len)
{
    memset(a, 0, sizeof *a);
    for (size_t i = 0; i < API_CMDS_MAX; i++) {
        l3_buf_init(&a->c[i].cmd, 0);
        l3_buf_init(&a->c[i].html, 0);
    }
    a->next = a->before = -1;
    const char *head_end = strstr((const char *)resp->data, "\r\n\r\n");
    const uint8_t *p = head_end ? (const uint8_t *)head_end + 4 : resp->data;
    const uint8_t *end = resp->data + resp->len - 1; /* s_get's NUL */
    *body_len = (size_t)(end - p);
    /* One strict pass: the answer's own members here, each command's in s_jr_object. */
    jr_t j = {p, end};
    s_jr_ws(&j);
    if (!head_end || j.p >= end || *j.p++ != '{')
        return;
    l3_buf_t key;
    l3_buf_init(&key, 0);
    bool closed = false, listed = false, more = false;
    do {
        if (!s_jr_key(&j, &key))
            break;
        const uint8_t *v = j.p;
        if (key.len == 8 && !memcmp(key.data, "commands", 8) && *v == '[') {
            bool done = false;
            j.p++;
            s_jr_ws(&j);
            if (j.p < end && *j.p == ']')
                done = true, j.p++;
            while (!done && a->n < API_CMDS_MAX) {
                static const char *const keys[] = {"id",        "depth", "cmd_more", "output_more",
                                                   "diff_more", "cmd",   "html"};
                const uint8_t *cv[7];
                api_cmd_t *c = &a->c[a->n++];
                s_jr_ws(&j);
                if (!s_jr_object(&j, keys, 7, cv))
                    break;
                c->id = s_jr_int(cv[0], -1);
                c->depth = s_jr_int(cv[1], -1);
                c->cmd_more = s_jr_int(cv[2], -1);
                c->output_more = s_jr_int(cv[3], -1);
                c->diff_more = s_jr_int(cv[4], -1);
                jr_t str = {cv[5], end};
                if (!str.p || !s_jr_string(&str, &c->cmd))
                    break;
                str.p = cv[6];
                if (str.p && !s_jr_string(&str, &c->html))
                    break;
                if (!s_jr_next(&j, ']', &done) && !done)
                    break;
            }
            listed = done;
            if (!done)
                break;
        } else {
            if (!s_jr_value(&j, 1))
                break;
            if (key.len == 4 && !memcmp(key.data, "more", 4))
                more = true, a->more = *v == 't';
            else if (key.len == 4 && !memcmp(key.data, "next", 4))
                a->next = s_jr_int(v, -1);
            else if (key.len == 6 && !memcmp(key.data, "before", 6))
                a->before = s_jr_int(v, -1);
        }
    } while (s_jr_next(&j, '}', &closed));
    l3_buf_free(&key);
    s_jr_ws(&j);
    if (!closed || !listed || !more || j.p != end)
        return;
    a->json = true;
}

/* The reader the API checks rest on: it refuses what RFC 8259 refuses. */
static void test_json_reader(void)
{
    static const struct {
        const char *text;
        bool ok;
    } cases[] = {
        {"{\"commands\":[],\"next\":0,\"more\":false}\n", true},
        {"{\"a\":[1,-0.5e+3,true,null,\"\\u003c\\ud83d\\ude00\\/\"]}", true},
        {"\"\xe2\x82\xac\"", true},
        {"{\"a\":1,}", false},
        {"[1,]", false},
        {"{\"a\" 1}", false},
        {"{\"a\":1}x", false},
        {"{\"a\":01}", false},
        {"{\"a\":1.}", false},
        {"{\"a\":.5}", false},
        {"\"\x01\"", false},
        {"\"\xff\"", false},
        {"\"\xc0\xbc\"", false},
        {"\"\\ud800\"", false},
        {"\"\\udc00\\ud800\"", false},
        {"\"\\x41\"", false},
        {"\"\\u12\"", false},
        {"'a'", false},
        {"tru", false},
        {"", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *t = cases[i].text;
        CHECK_MSG(s_json_strict((const uint8_t *)t, strlen(t)) == cases[i].ok,
                  "JSON case %zu (%s): %s", i, t, cases[i].ok ? "refused" : "accepted");
    }
}

/* ---------------------------------------------------------------- wide lines */

/* Occurrences of needle in s. Not s_count: strstr under ASan measures the rest of the
   haystack on every call, and these pages are megabytes of matches. */
static size_t s_count_long(const char *s, const char *needle)
{
    size_t n = 0, len = strlen(s), nl = strlen(needle);
    for (const char *p = s; (p = memmem(p, len - (size_t)(p - s), needle, nl)); p += nl)
        n++;
    return n;
}

/* The part of page between the first `from` after the element of command ord and the
   next `to` (both excluded), as a NUL-terminated copy the caller frees; NULL when not
   there. */
static char *s_cmd_part(const char *page, uint32_t ord, const char *from, const char *to)
{
    char id[32];
    snprintf(id, sizeof id, "id=\"c%u\"", ord);
    const char *p = strstr(page, id);
    p = p ? strstr(p, from) : NULL;
    const char *end = p ? strstr(p + strlen(from), to) : NULL;
    if (!end)
        return NULL;
    p += strlen(from);
    return strndup(p, (size_t)(end - p));
}

/* What a list shows of a command's line and diff (UI_LIST_LINE_MAX, UI_LIST_DIFF_MAX in
   render/ui.h, which is private to render). */
#define UI_LINE_SHOWN 4096
#define UI_DIFF_SHOWN 16384

/* What one answer of the JSON API may take (API_BUDGET in render/ui_api.c), and one page
   of a session's .json export (EXPORT_BUDGET), unless it holds a single command. */
#define API_ANSWER_MAX (4u << 20)
#define EXPORT_ANSWER_MAX (32u << 20)

/* The commands a JSON follow is checked against: each one's line (and its diff's length). */
typedef struct {
    const char *line;
    size_t len, difflen;
} api_want_t;

/* Follow path?query (from since= when since >= 0) through its cursor (since=next, or
   before= for a search) while more is true. Every answer: 200 within deadline_ms, strict
   JSON with its cursor, at most max bytes (or a single command when lossless). Each
   command it lists is whole when lossless (the export), else whole or cut as a list cuts
   it, with the bytes left out said (cmd_more, diff_more) and all of them there when it
   is not; and at depth 0. count[id] counts how often each came. */
static void s_api_follow(pages_t *pages, index_t *ix, const char *path, const char *query,
                         int64_t since, bool search, bool lossless, size_t max,
                         const api_want_t *want, size_t nwant, unsigned *count, int deadline_ms)
{
    l3_buf_t resp;
    l3_buf_init(&resp, 0);
    char q[256];
    snprintf(q, sizeof q, "%s", query);
    if (since >= 0)
        snprintf(q, sizeof q, "%s%ssince=%lld", query, query[0] ? "&" : "", (long long)since);
    for (int asked = 0; asked < 64; asked++) {
        int64_t took;
        bool ok = s_get_within(pages, ix, path, q, deadline_ms, &resp, &took);
        CHECK_MSG(ok, "%s?%s: no answer within %d ms (took %lld ms)", path, q, deadline_ms,
                  (long long)took);
        if (!ok)
            break;
        const char *page = (const char *)resp.data;
        api_answer_t a;
        size_t blen;
        s_api_answer(&resp, &a, &blen);
        bool fine = !strncmp(page, "HTTP/1.1 200 ", 13) && a.json && a.n > 0 &&
                    (search ? a.before >= 0 : a.next >= 0);
        CHECK_MSG(fine, "%s?%s: %.40s, %zu bytes, %s JSON, %zu commands", path, q, page, blen,
                  a.json ? "strict" : "not strict", a.n);
        CHECK_MSG(blen <= max || (lossless && a.n == 1),
                  "%s?%s: an answer of %zu bytes, %zu commands", path, q, blen, a.n);
        for (size_t i = 0; fine && i < a.n; i++) {
            const api_cmd_t *c = &a.c[i];
            if (c->id < 0 || (size_t)c->id >= nwant) {
                CHECK_MSG(false, "%s?%s: command id %lld", path, q, (long long)c->id);
                continue;
            }
            const api_want_t *w = &want[c->id];
            count[c->id]++;
            size_t shown = c->cmd.len, left = c->cmd_more < 0 ? 0 : (size_t)c->cmd_more;
            bool cut = left > 0 || c->diff_more >= 0 || c->output_more >= 0;
            CHECK_MSG(!(lossless && cut), "%s?%s: command %lld is cut in the export", path, q,
                      (long long)c->id);
            CHECK_MSG(shown + left == w->len && (!shown || !memcmp(c->cmd.data, w->line, shown)),
                      "%s?%s: command %lld: %zu bytes of its line and %zu left out, want %zu", path,
                      q, (long long)c->id, shown, left, w->len);
            if (left)
                CHECK_MSG(shown == UI_LINE_SHOWN, "%s?%s: command %lld shows %zu bytes, want %d",
                          path, q, (long long)c->id, shown, UI_LINE_SHOWN);
            if (c->diff_more >= 0)
                CHECK_MSG((size_t)c->diff_more == w->difflen - UI_DIFF_SHOWN,
                          "%s?%s: command %lld: diff_more %lld, want %zu", path, q,
                          (long long)c->id, (long long)c->diff_more, w->difflen - UI_DIFF_SHOWN);
            CHECK_MSG(c->depth == 0, "%s?%s: command %lld at depth %lld", path, q, (long long)c->id,
                      (long long)c->depth);
            if (c->html.len) {
                l3_buf_append_byte((l3_buf_t *)&c->html, 0);
                CHECK_MSG(strstr((const char *)c->html.data, "<div class=\"cmd") &&
                              (w->len <= UI_LINE_SHOWN ||
                               strstr((const char *)c->html.data, " more bytes — full command")),
                          "%s?%s: command %lld: its html is not the list's: %.80s", path, q,
                          (long long)c->id, (const char *)c->html.data);
            }
        }
        bool more = fine && a.more;
        int64_t cursor = search ? a.before : a.next;
        s_api_answer_free(&a);
        if (!more)
            break;
        snprintf(q, sizeof q, "%s%s%s=%lld", query, query[0] ? "&" : "",
                 search ? "before" : "since", (long long)cursor);
    }
    l3_buf_free(&resp);
}

static void test_wide_lines(void)
{
    enum { WIDE = 16, ALL = WIDE + 5 };
    const size_t mib = 1u << 20;
    /* A list loads all 19 MiB of these records: ~0.4 s, ~2.5 s under ASan. The bug was
       a quick 503, which the status check catches; the deadline is against a hang. */
    const int deadline_ms = 10000;
    char *angles = malloc(mib), *diff = malloc(mib), *semis = malloc(mib), *words = malloc(8192);
    char *euros = malloc(6000), *note = malloc(mib);
    char *want = malloc(4 * mib + 1), *got = malloc(4 * mib + 1);
    if (!angles || !diff || !semis || !words || !euros || !note || !want || !got)
        abort();
    memset(angles, '<', mib);
    for (size_t i = 0; i < mib; i += 64) { /* lines "+<<<…<\n", 64 bytes each */
        memset(diff + i, '<', 64);
        diff[i] = '+';
        diff[i + 63] = '\n';
    }
    for (size_t i = 0; i < mib; i += 2)
        memcpy(semis + i, "a;", 2); /* a command word every two bytes */
    memset(words, ';', 4093);
    memcpy(words + 4093, "lsblk --all", 11); /* the cut falls inside "lsblk" */
    for (size_t i = 0; i < 6000; i += 3)
        memcpy(euros + i, "\xe2\x82\xac", 3); /* U+20AC: 4096 is inside a character */
    memset(note, 'x', mib);
    memcpy(note, "# ", 2);

    fixture_t f;
    s_fixture_init(&f);
    s_fixture_session(&f, "alice", "s1");
    for (int i = 0; i < WIDE; i++)
        s_fixture_command_bytes(&f, (uint64_t)i + 1, angles, mib, NULL, 0);
    s_fixture_command_bytes(&f, WIDE + 1, "vi x", 4, diff, mib); /* ord 16 */
    s_fixture_command_bytes(&f, WIDE + 2, semis, mib, NULL, 0);  /* 17 */
    s_fixture_command_bytes(&f, WIDE + 3, words, 4104, NULL, 0); /* 18 */
    s_fixture_command_bytes(&f, WIDE + 4, euros, 6000, NULL, 0); /* 19 */
    s_fixture_command_bytes(&f, WIDE + 5, note, mib, NULL, 0);   /* 20 */
    s_fixture_open(&f);
    pages_t *pages = s_pages_with(&f, "");
    CHECK(pages != NULL);
    l3_buf_t resp;
    l3_buf_init(&resp, 0);
    int64_t took;

    /* every list that shows them: 200, bounded, the start of each line, then the link */
    static const char *lists[][2] = {
        {"/journal", ""}, {"/session/0", ""}, {"/search", "q=%3C"}, {"/live/0", ""}};
    for (size_t k = 0; pages && k < sizeof lists / sizeof lists[0]; k++) {
        const char *path = lists[k][0], *query = lists[k][1];
        bool ok = s_get_within(pages, f.ix, path, query, deadline_ms, &resp, &took);
        CHECK_MSG(ok, "%s?%s: no answer within %d ms (took %lld ms)", path, query, deadline_ms,
                  (long long)took);
        if (!ok)
            continue;
        const char *page = (const char *)resp.data;
        CHECK_MSG(!strncmp(page, "HTTP/1.1 200 ", 13), "%s?%s: %.40s", path, query, page);
        CHECK_MSG(resp.len < mib, "%s?%s: a page of %zu bytes", path, query, resp.len);
        size_t cmds = s_count_long(page, "<div class=\"cmd");
        CHECK_MSG(cmds == (k == 2 ? WIDE + 1 : ALL), "%s?%s: %zu commands listed", path, query,
                  cmds);
        for (uint32_t i = 0; i < WIDE; i++) {
            char link[128];
            snprintf(link, sizeof link,
                     "</code><a class=\"elide\" href=\"/journal/cmd/%u\">… 1,044,480 more bytes "
                     "— full command …</a>",
                     i);
            CHECK_MSG(strstr(page, link) != NULL, "%s?%s: command %u without \"%s\"", path, query,
                      i, link);
            bool found = s_cmdline_text(page, i, got, 4 * mib + 1);
            size_t lt = found ? s_count_long(got, "&lt;") : 0;
            CHECK_MSG(found && lt == UI_LINE_SHOWN && strlen(got) == 4 * lt,
                      "%s?%s: command %u shows %zu bytes, %zu of them '<'", path, query, i,
                      found ? strlen(got) : 0, lt);
        }
        if (k == 2)
            continue; /* the search for '<' lists only those and the diff */
        char *d = s_cmd_part(page, WIDE, "<pre class=\"diff\">", "</pre>");
        CHECK_MSG(d && s_count_long(d, "<span class=\"add\">") == UI_DIFF_SHOWN / 64 &&
                      strstr(d, "<a class=\"elide\" href=\"/journal/cmd/16\">… 1,032,192 more "
                                "bytes — show all …</a>"),
                  "%s: the diff is not its first %d lines and a link: %.200s", path,
                  UI_DIFF_SHOWN / 64, d ? d : "(none)");
        free(d);
        char *cl = s_cmd_part(page, WIDE + 1, "<code class=\"cl\">", "</code>");
        CHECK_MSG(cl && s_count_long(cl, "class=\"w\"") == 64,
                  "%s: %zu command words linked, want 64", path,
                  cl ? s_count_long(cl, "class=\"w\"") : 0);
        free(cl);
        cl = s_cmd_part(page, WIDE + 2, "<code class=\"cl\">", "</code>");
        CHECK_MSG(cl && strlen(cl) > 4093 && !strcmp(cl + strlen(cl) - 4, ";lsb"),
                  "%s: a word cut by the list is text, not a link: ...%s", path,
                  cl ? cl + (strlen(cl) > 80 ? strlen(cl) - 80 : 0) : "(none)");
        free(cl);
        cl = s_cmd_part(page, WIDE + 3, "<code class=\"cl\">", "</code>");
        CHECK_MSG(cl && strlen(cl) == 4095 && !memcmp(cl, euros, 4095),
                  "%s: the cut splits a character (%zu bytes shown)", path, cl ? strlen(cl) : 0);
        free(cl);
        cl = s_cmd_part(page, WIDE + 4, "<div class=\"notetext\">", "</div>");
        CHECK_MSG(cl && strlen(cl) > 4095 && !strncmp(cl + 4095, "<a class=\"elide\"", 16),
                  "%s: the note is not cut: %.80s", path, cl ? cl : "(none)");
        free(cl);
    }

    /* each command's own page shows all of it */
    static const uint32_t whole[] = {0, WIDE - 1, WIDE, WIDE + 1, WIDE + 2, WIDE + 3};
    for (size_t k = 0; pages && k < sizeof whole / sizeof whole[0]; k++) {
        char path[32];
        snprintf(path, sizeof path, "/cmd/%u", whole[k]);
        bool ok = s_get_within(pages, f.ix, path, "", deadline_ms, &resp, &took);
        CHECK_MSG(ok, "%s: no answer within %d ms (took %lld ms)", path, deadline_ms,
                  (long long)took);
        if (!ok)
            continue;
        const char *page = (const char *)resp.data;
        CHECK_MSG(!strncmp(page, "HTTP/1.1 200 ", 13), "%s: %.40s", path, page);
        CHECK_MSG(!strstr(page, "more bytes"), "%s: the command's own page is cut", path);
        if (whole[k] < WIDE) {
            bool found = s_cmdline_text(page, whole[k], got, 4 * mib + 1);
            for (size_t i = 0; i < mib; i++)
                memcpy(want + 4 * i, "&lt;", 4);
            want[4 * mib] = 0;
            CHECK_MSG(found && !strcmp(got, want), "%s: the line is not all there (%zu bytes)",
                      path, found ? strlen(got) : 0);
        } else if (whole[k] == WIDE) {
            char *d = s_cmd_part(page, WIDE, "<pre class=\"diff\">", "</pre>");
            CHECK_MSG(d && s_count_long(d, "<span class=\"add\">") == mib / 64,
                      "%s: the diff is not all there", path);
            free(d);
        } else if (whole[k] == WIDE + 2) {
            CHECK_MSG(strstr(page, "href=\"https://manpages.debian.org/lsblk\"") != NULL,
                      "%s: lsblk is not a link", path);
        } else if (whole[k] == WIDE + 3) {
            char *cl = s_cmd_part(page, WIDE + 3, "<code class=\"cl\">", "</code>");
            CHECK_MSG(cl && strlen(cl) == 6000 && !memcmp(cl, euros, 6000),
                      "%s: the line is not all there", path);
            free(cl);
        }
    }

    /* The JSON API over them: /api/commands (the live page's feed with html=1, a search)
       and the session's .json export. Each answer 200, strict JSON, within its budget;
       following the cursor yields each command exactly once: whole, or (/api/commands)
       cut as a list cuts it and saying how much was left out; the export, whole. */
    api_want_t cmds_want[ALL];
    for (int i = 0; i < WIDE; i++)
        cmds_want[i] = (api_want_t){angles, mib, 0};
    cmds_want[WIDE] = (api_want_t){"vi x", 4, mib};
    cmds_want[WIDE + 1] = (api_want_t){semis, mib, 0};
    cmds_want[WIDE + 2] = (api_want_t){words, 4104, 0};
    cmds_want[WIDE + 3] = (api_want_t){euros, 6000, 0};
    cmds_want[WIDE + 4] = (api_want_t){note, mib, 0};
    static const struct {
        const char *path, *query;
        int since; /* the first answer's since= (-1: none) */
        bool search, lossless;
        int from, to; /* the commands it yields (ordinals, inclusive) */
    } follows[] = {
        {"/api/commands", "", -1, false, false, 0, ALL - 1},
        /* the live page's feed (html=1), from the last wide line: a follow from the first
           costs ~5 s under ASan and tells nothing more */
        {"/api/commands", "html=1", WIDE - 2, false, false, WIDE - 1, ALL - 1},
        {"/api/commands", "q=%3C", -1, true, false, 0, WIDE}, /* the commands holding '<' */
        {"/session/0.json", "", -1, false, true, 0, ALL - 1},
    };
    for (size_t k = 0; pages && k < sizeof follows / sizeof follows[0]; k++) {
        unsigned count[ALL] = {0};
        s_api_follow(pages, f.ix, follows[k].path, follows[k].query, follows[k].since,
                     follows[k].search, follows[k].lossless,
                     follows[k].lossless ? EXPORT_ANSWER_MAX : API_ANSWER_MAX, cmds_want, ALL,
                     count, deadline_ms);
        for (int i = 0; i < ALL; i++) {
            unsigned expect = i >= follows[k].from && i <= follows[k].to;
            CHECK_MSG(count[i] == expect, "%s?%s (since %d): command %d came %u times, want %u",
                      follows[k].path, follows[k].query, follows[k].since, i, count[i], expect);
        }
    }
    /* and /api/cmd/ID has all of a command that a list answer cut */
    bool ok = pages && s_get_within(pages, f.ix, "/api/cmd/0", "", deadline_ms, &resp, &took);
    CHECK_MSG(ok, "/api/cmd/0: no answer within %d ms (took %lld ms)", deadline_ms,
              (long long)took);
    if (ok) {
        const char *head_end = strstr((const char *)resp.data, "\r\n\r\n");
        const uint8_t *body = head_end ? (const uint8_t *)head_end + 4 : NULL;
        const uint8_t *end = resp.data + resp.len - 1; /* s_get's NUL */
        l3_buf_t line;
        l3_buf_init(&line, 0);
        static const char *const keys[] = {"cmd", "cmd_more"};
        const uint8_t *v[2] = {NULL, NULL};
        jr_t j = {body, end};
        if (body && s_jr_object(&j, keys, 2, v) && (s_jr_ws(&j), j.p == end))
            j.p = v[0];
        else
            j.p = NULL;
        bool all = j.p && s_jr_string(&j, &line) && line.len == mib &&
                   !memcmp(line.data, angles, mib) && !v[1];
        CHECK_MSG(!strncmp((const char *)resp.data, "HTTP/1.1 200 ", 13) && all,
                  "/api/cmd/0: not all of the line (%zu bytes)", line.len);
        l3_buf_free(&line);
    }

    l3_buf_free(&resp);
    pages_destroy(&pages);
    s_fixture_destroy(&f);
    free(angles);
    free(diff);
    free(semis);
    free(words);
    free(euros);
    free(note);
    free(want);
    free(got);
}

/* ---------------------------------------------------------------- inner shells */

/* A command of alice's session sid typed in a shell depth deep, with flags, running
   [start_s, end_s) seconds after f->now_us. */
static void s_fixture_command_inner(fixture_t *f, const char *sid, uint64_t nr, const char *cmdline,
                                    unsigned depth, uint32_t flags, int start_s, int end_s)
{
    l3_record_t r;
    l3_record_init(&r);
    r.type = L3_RECORD_COMMAND;
    snprintf(r.host, sizeof r.host, "lab1");
    snprintf(r.user, sizeof r.user, "alice");
    snprintf(r.sid, sizeof r.sid, "%s", sid);
    r.nr = nr;
    r.depth = (uint8_t)depth;
    r.flags = flags;
    r.start_us = f->now_us + start_s * 1000000ll;
    r.end_us = f->now_us + end_s * 1000000ll;
    r.has_exit = true;
    l3_bytes_set(&r.cwd, "/tmp", 4, L3_CWD_MAX);
    l3_bytes_set(&r.cmdline, cmdline, strlen(cmdline), L3_CMDLINE_MAX);
    s_fixture_record(f, &r);
    l3_record_clear(&r);
}

/* Command ord's element in page: the class of its <div class="cmd…">, its meta line (the
   <div class="meta"> in it) and the rest of it, up to the next command, as copies the
   caller frees; false when it is not there. */
static bool s_cmd_element(const char *page, uint32_t ord, char **cls, char **meta, char **rest)
{
    char id[32];
    snprintf(id, sizeof id, "\" id=\"c%u\">", ord);
    const char *at = strstr(page, id), *tag = at;
    while (tag && tag > page && strncmp(tag, "<div class=\"", 12))
        tag--;
    if (!at || !tag || strncmp(tag, "<div class=\"", 12))
        return false;
    const char *body = at + strlen(id);
    const char *next = strstr(body, "<div class=\"cmd");
    size_t len = next ? (size_t)(next - body) : strlen(body);
    const char *m = strstr(body, "<div class=\"meta\">");
    const char *m_end = m ? strstr(m, "</div>") : NULL;
    if (!m_end || m_end > body + len)
        return false;
    *cls = strndup(tag + 12, (size_t)(at - tag - 12));
    *meta = strndup(m, (size_t)(m_end - m));
    *rest = strndup(m_end, len - (size_t)(m_end - body));
    return *cls && *meta && *rest;
}

/* Commands typed in shells started inside the session: a command is indented by the depth
   of the shell it was typed in (class d1..d4, deeper as d4) and its meta line says
   "inner shell N"; the command that started a shell says so; one typed in the session's
   own shell says neither. Both in the journal and on the session's page, in English and
   Russian, and the JSON API gives each command's depth. The records come in the order a
   real session writes them: a command that started a shell is held until that shell
   ends, so its record follows those of the commands typed in it. */
static void test_inner_shells(void)
{
    static const struct {
        const char *sid, *line;
        uint64_t nr;
        unsigned depth;
        bool nested; /* started a shell */
        int start_s, end_s;
    } cmds[] = {
        {"s1", "ls", 2, 1, false, 10, 11},        /* ord 0, in the bash of nr 1 */
        {"s1", "id", 4, 2, false, 25, 26},        /* ord 1, in the bash of nr 3 */
        {"s1", "bash", 3, 1, true, 20, 35},       /* ord 2 */
        {"s1", "bash", 1, 0, true, 5, 40},        /* ord 3, typed in the session's shell */
        {"s2", "uname -a", 1, 15, false, 50, 51}, /* ord 4: deeper than d4 */
    };
    enum { N = sizeof cmds / sizeof cmds[0] };
    static const struct {
        const char *lang, *inner, *ranshell;
    } langs[] = {
        {"en", "inner shell", "started a shell: its commands follow as its own"},
        {"ru", "вложенная оболочка", "запустила оболочку: её команды идут отдельно"},
    };
    fixture_t f;
    s_fixture_init(&f);
    s_fixture_session(&f, "alice", "s1");
    s_fixture_session(&f, "alice", "s2");
    for (size_t i = 0; i < N; i++)
        s_fixture_command_inner(&f, cmds[i].sid, cmds[i].nr, cmds[i].line, cmds[i].depth,
                                cmds[i].nested ? L3_FLAG_NESTED : 0, cmds[i].start_s,
                                cmds[i].end_s);
    s_fixture_open(&f);
    l3_buf_t resp;
    l3_buf_init(&resp, 0);
    for (size_t l = 0; l < sizeof langs / sizeof langs[0]; l++) {
        char keys[64];
        snprintf(keys, sizeof keys, "    language = \"%s\"\n", langs[l].lang);
        pages_t *pages = s_pages_with(&f, keys);
        CHECK(pages != NULL);
        static const char *paths[] = {"/journal", "/session/0"};
        for (size_t k = 0; pages && k < sizeof paths / sizeof paths[0]; k++) {
            s_get(pages, f.ix, paths[k], "", "", &resp);
            const char *page = (const char *)resp.data;
            CHECK_MSG(!strncmp(page, "HTTP/1.1 200 ", 13), "%s (%s): %.40s", paths[k],
                      langs[l].lang, page);
            for (uint32_t ord = 0; ord < N; ord++) {
                bool listed = k == 0 || !strcmp(cmds[ord].sid, "s1");
                char *cls = NULL, *meta = NULL, *rest = NULL;
                bool found = s_cmd_element(page, ord, &cls, &meta, &rest);
                CHECK_MSG(found == listed, "%s: command %u %s", paths[k], ord,
                          listed ? "not there" : "there");
                if (found) {
                    unsigned d = cmds[ord].depth;
                    char want_cls[16] = "cmd", want_inner[128] = "";
                    if (d) {
                        snprintf(want_cls, sizeof want_cls, "cmd d%u", d < 4 ? d : 4);
                        snprintf(want_inner, sizeof want_inner,
                                 "<span class=\"inner\">%s %u</span>", langs[l].inner, d);
                    }
                    CHECK_MSG(!strcmp(cls, want_cls),
                              "%s (%s): command %u at depth %u: class \"%s\", want \"%s\"",
                              paths[k], langs[l].lang, ord, d, cls, want_cls);
                    CHECK_MSG(d ? strstr(meta, want_inner) != NULL
                                : !strstr(meta, "class=\"inner\""),
                              "%s (%s): command %u at depth %u: meta line %s", paths[k],
                              langs[l].lang, ord, d, meta);
                    char want_ran[160];
                    snprintf(want_ran, sizeof want_ran, "<span class=\"ranshell\">%s</span>",
                             langs[l].ranshell);
                    bool ran = strstr(rest, want_ran) != NULL;
                    CHECK_MSG(ran == cmds[ord].nested && (ran || !strstr(rest, "ranshell")),
                              "%s (%s): command %u %s that it started a shell: %.300s", paths[k],
                              langs[l].lang, ord, ran ? "says" : "does not say", rest);
                }
                free(cls);
                free(meta);
                free(rest);
            }
        }
        pages_destroy(&pages);
    }

    /* the JSON API: each command's depth */
    pages_t *pages = s_pages_with(&f, "");
    CHECK(pages != NULL);
    if (pages) {
        s_get(pages, f.ix, "/api/commands", "", "", &resp);
        api_answer_t a;
        size_t blen;
        s_api_answer(&resp, &a, &blen);
        CHECK_MSG(a.json && a.n == N, "/api/commands: %s JSON, %zu commands",
                  a.json ? "strict" : "not strict", a.n);
        for (size_t i = 0; a.json && i < a.n; i++) {
            int64_t id = a.c[i].id;
            CHECK_MSG(id >= 0 && id < N && a.c[i].depth == cmds[id].depth,
                      "/api/commands: command %lld at depth %lld, want %u", (long long)id,
                      (long long)a.c[i].depth, id >= 0 && id < N ? cmds[id].depth : 0);
        }
        s_api_answer_free(&a);
        pages_destroy(&pages);
    }
    l3_buf_free(&resp);
    s_fixture_destroy(&f);
}


/* A job suspended with Ctrl-Z is stopped, not killed: the journal says "stopped by
   SIGTSTP" for it, and "killed by SIGINT" for a Ctrl-C'd one. */
static void test_stopped_or_killed(void)
{
    static const struct {
        const char *line;
        int sig;
        const char *want, *not;
    } cmds[] = {
        {"vim notes", SIGTSTP, "stopped by SIGTSTP", "killed by"},
        {"sleep 100", SIGINT, "killed by SIGINT", "stopped by"},
        {"cat", SIGTTIN, "stopped by SIGTTIN", "killed by"},
    };
    enum { N = sizeof cmds / sizeof cmds[0] };
    fixture_t f;
    s_fixture_init(&f);
    s_fixture_session(&f, "alice", "s1");
    for (size_t i = 0; i < N; i++) {
        l3_record_t r;
        l3_record_init(&r);
        r.type = L3_RECORD_COMMAND;
        snprintf(r.host, sizeof r.host, "lab1");
        snprintf(r.user, sizeof r.user, "alice");
        snprintf(r.sid, sizeof r.sid, "s1");
        r.nr = i + 1;
        r.start_us = f.now_us + (int64_t)i * 1000000;
        r.end_us = r.start_us + 500000;
        r.has_exit = true;
        r.exit_code = 128 + cmds[i].sig;
        r.signal = cmds[i].sig;
        l3_bytes_set(&r.cmdline, cmds[i].line, strlen(cmds[i].line), L3_CMDLINE_MAX);
        s_fixture_record(&f, &r);
        l3_record_clear(&r);
    }
    s_fixture_open(&f);
    l3_buf_t resp;
    l3_buf_init(&resp, 0);
    pages_t *pages = s_pages_with(&f, "");
    CHECK(pages != NULL);
    if (pages) {
        s_get(pages, f.ix, "/journal", "", "", &resp);
        const char *page = (const char *)resp.data;
        for (uint32_t ord = 0; ord < N; ord++) {
            char *cls = NULL, *meta = NULL, *rest = NULL;
            CHECK_MSG(s_cmd_element(page, ord, &cls, &meta, &rest), "command %u not there", ord);
            if (rest)
                CHECK_MSG(strstr(rest, cmds[ord].want) && !strstr(rest, cmds[ord].not),
                          "%s: want \"%s\": %.200s", cmds[ord].line, cmds[ord].want, rest);
            free(cls);
            free(meta);
            free(rest);
        }
        pages_destroy(&pages);
    }
    l3_buf_free(&resp);
    s_fixture_destroy(&f);
}

/* ---------------------------------------------------------------- the emulator */

/* Output that moves the cursor as the terminal showed it (render/vt.c), in the journal,
   the permalink and the text export; a full-screen program's last screen under its
   summary; render/output_emulator = false gives the old line stream; a page of costly
   outputs falls back to the line stream within its budget. */
static void test_emulated_output(void)
{
    fixture_t f;
    s_fixture_init(&f);
    s_fixture_session(&f, "alice", "s1");
    /* 1: a multi-line progress display redrawn twice; its intermediate states are gone */
    s_fixture_command(&f, "alice", "s1", 1, "fetch",
                      "a [  ] 0%\r\nb [  ] 0%\r\n\x1b[2A\x1b[2Ka [# ] 50%\r\n\x1b[2Kb [# ] 50%\r\n"
                      "\x1b[2A\x1b[2Ka [##] 100%\r\n\x1b[2Kb [\x1b[32m##\x1b[m] 100%\r\ndone\r\n");
    /* 2: a wide line overwritten by CR, what a person saw: XY over the first wide char */
    s_fixture_command(&f, "alice", "s1", 2, "printf", "\xe6\x97\xa5\xe6\x9c\xac abc\rXY\r\n");
    /* 3: vim: its last screen, then the shell's screen back */
    l3_record_t r;
    s_fixture_command_init(&f, &r, 3, "vim notes", 9);
    const char *vim = "\x1b[?1049h\x1b[H\x1b[2Jhello <world>\r\n~\x1b[24;1H\"notes\" 1L, 14B"
                      "\x1b[?1049l";
    l3_bytes_set(&r.output, vim, strlen(vim), L3_OUTPUT_MAX);
    r.flags |= L3_FLAG_FULLSCREEN;
    s_fixture_record(&f, &r);
    l3_record_clear(&r);
    /* 4: a long session of 3,000 keystrokes, each after a pause: its last screen is the one
       before the quitting key, not the "written" line after it, and reading a screen at
       every pause would spend the emulator's budget (no screen at all) */
    s_fixture_command_init(&f, &r, 4, "vi long", 7);
    l3_buf_t out, timing;
    l3_buf_init(&out, 0);
    l3_buf_init(&timing, 0);
    l3_buf_append_str(&out, "\x1b[?1049h\x1b[H\x1b[2J");
    l3_buf_printf(&timing, "0.01 %zu\n", out.len);
    for (int i = 0; i < 3000; i++) {
        l3_buf_append_str(&out, i % 50 ? "k" : "\r\n");
        l3_buf_printf(&timing, "0.5 %d\n", i % 50 ? 1 : 2);
    }
    const char *bye = "\r\x1b[Kwritten\r\r\n\x1b[?1049l";
    l3_buf_append_str(&out, bye);
    l3_buf_printf(&timing, "0.3 %zu\n", strlen(bye));
    l3_bytes_set(&r.output, out.data, out.len, L3_OUTPUT_MAX);
    l3_bytes_set(&r.timing, timing.data, timing.len, L3_TIMING_MAX);
    r.flags |= L3_FLAG_FULLSCREEN;
    s_fixture_record(&f, &r);
    l3_record_clear(&r);
    l3_buf_free(&out);
    l3_buf_free(&timing);
    s_fixture_open(&f);
    l3_buf_t resp;
    l3_buf_init(&resp, 0);
    pages_t *pages = s_pages_with(&f, "");
    CHECK(pages != NULL);
    if (pages) {
        s_get(pages, f.ix, "/journal", "", "", &resp);
        const char *page = (const char *)resp.data;
        CHECK_MSG(strstr(page, "<pre class=\"out term\">a [##] 100%\nb [<span class=\"t f2\">##"
                               "</span>] 100%\ndone\n</pre>"),
                  "progress not emulated: %.3000s", page);
        CHECK(!strstr(page, "50%") && !strstr(page, "[  ] 0%"));
        CHECK_MSG(strstr(page, "XY\xe6\x9c\xac abc"), "wide CR: %.3000s", page);
        CHECK_MSG(strstr(page, "<pre class=\"screen\"") &&
                      strstr(page, "hello &lt;world&gt;\n~\n\n"),
                  "no snapshot: %.4000s", page);
        const char *screen = strstr(page, "<pre class=\"screen\"");
        CHECK(screen && s_count(screen, "\n") >= 23 && strstr(screen, "&quot;notes&quot; 1L, 14B</pre>"));
        s_get(pages, f.ix, "/cmd/3", "", "", &resp);
        const char *long_screen = strstr((char *)resp.data, "<pre class=\"screen\"");
        CHECK_MSG(long_screen && strstr(long_screen, "kkkkk") && !strstr(long_screen, "written"),
                  "long session's last screen: %.2000s", long_screen ? long_screen : "(none)");
        /* a search marks its matches in emulated output */
        s_get(pages, f.ix, "/journal", "q=100", "", &resp);
        CHECK_MSG(strstr((char *)resp.data, "<mark>100</mark>%"), "no mark: %.3000s",
                  (char *)resp.data);
        /* the text export: the same text */
        s_get(pages, f.ix, "/session/0.txt", "", "", &resp);
        CHECK_MSG(strstr((char *)resp.data, "$ fetch\na [##] 100%\nb [##] 100%\ndone\n["),
                  "text export: %s", (char *)resp.data);
        CHECK(strstr((char *)resp.data, "$ printf\nXY\xe6\x9c\xac abc\n"));
        pages_destroy(&pages);
    }
    /* off: the line stream, escapes dropped, no snapshot */
    pages = s_pages_with(&f, "    output_emulator = false\n");
    CHECK(pages != NULL);
    if (pages) {
        s_get(pages, f.ix, "/journal", "", "", &resp);
        CHECK(!strstr((char *)resp.data, "class=\"screen\"") &&
              !strstr((char *)resp.data, "out term") && strstr((char *)resp.data, "50%"));
        pages_destroy(&pages);
    }
    l3_buf_free(&resp);
    s_fixture_destroy(&f);

    /* a page of 20 outputs, each 64 KiB of line feeds on a 200 x 500 terminal: each
       would cost the emulator more than its budget; the page comes in well under a
       second (each alone took 4 s before the budget), as lines */
    s_fixture_init(&f);
    l3_record_init(&r);
    r.type = L3_RECORD_SESSION;
    snprintf(r.host, sizeof r.host, "lab1");
    snprintf(r.user, sizeof r.user, "alice");
    snprintf(r.sid, sizeof r.sid, "s1");
    r.start_us = f.now_us;
    r.cols = 500;
    r.rows = 200;
    s_fixture_record(&f, &r);
    l3_record_clear(&r);
    char *lf = malloc(65536);
    memset(lf, '\n', 65535);
    memcpy(lf, "\x1b[2J", 4);
    lf[65535] = 0;
    for (int i = 1; i <= 20; i++)
        s_fixture_command(&f, "alice", "s1", (uint64_t)i, "yes ''", lf);
    free(lf);
    s_fixture_open(&f);
    l3_buf_init(&resp, 0);
    pages = s_pages_with(&f, "");
    if (pages) {
        /* under ASan and UBSan every byte through our code costs ten times more: there
           the check is that it ends (it took minutes before the budget) */
#if defined(__SANITIZE_ADDRESS__)
        int64_t limit = 40000;
#else
        int64_t limit = 3000;
#endif
        int64_t took = 0;
        bool came = s_get_within(pages, f.ix, "/journal", "", (int)limit + 1000, &resp, &took);
        printf("a page of 20 costly outputs: %lld ms\n", (long long)took);
        CHECK_MSG(came && took < limit, "a page of costly outputs took %lld ms",
                  (long long)took);
        pages_destroy(&pages);
    }
    l3_buf_free(&resp);
    s_fixture_destroy(&f);
}

/* ---------------------------------------------------------------- stats */

static void s_fixture_command_at(fixture_t *f, uint64_t nr, int64_t start_us)
{
    l3_record_t r;
    l3_record_init(&r);
    r.type = L3_RECORD_COMMAND;
    snprintf(r.host, sizeof r.host, "lab1");
    snprintf(r.user, sizeof r.user, "alice");
    snprintf(r.sid, sizeof r.sid, "s1");
    r.nr = nr;
    r.start_us = start_us;
    r.end_us = start_us + 1000;
    r.has_exit = true;
    l3_bytes_set(&r.cmdline, "ls", 2, L3_CMDLINE_MAX);
    s_fixture_record(f, &r);
    l3_record_clear(&r);
}

/* Statistics per day over dates the writer accepts, however far apart and in whatever
   order: a command dated 9999 before one dated 1970 once made the per-day counter's
   growth loop spin forever (the day numbers went negative and wrapped). */
static void test_stats_far_dates(void)
{
    static const int64_t starts[][3] = {
        {253402214400LL, 1, 1764000000LL},  /* 9999-12-31, 1970-01-01, 2025-11 */
        {1, 253402214400LL, 1764000000LL},  /* the other order */
        {1764000000LL, 1764086400LL, 1},    /* dense, then one far back */
    };
    for (size_t t = 0; t < sizeof starts / sizeof starts[0]; t++) {
        fixture_t f;
        s_fixture_init(&f);
        s_fixture_session(&f, "alice", "s1");
        for (int i = 0; i < 3; i++)
            s_fixture_command_at(&f, (uint64_t)i + 1, starts[t][i] * 1000000);
        s_fixture_open(&f);
        pages_t *pages = s_pages_with(&f, "");
        CHECK(pages != NULL);
        l3_buf_t resp;
        l3_buf_init(&resp, 0);
        int64_t took;
        static const char *paths[] = {"/stats", "/api/stats"};
        for (size_t k = 0; pages && k < 2; k++) {
            bool ok = s_get_within(pages, f.ix, paths[k], "", 2000, &resp, &took);
            CHECK_MSG(ok, "case %zu %s: no answer within 2000 ms", t, paths[k]);
            if (!ok)
                continue;
            const char *page = (const char *)resp.data;
            CHECK_MSG(!strncmp(page, "HTTP/1.1 200 ", 13), "case %zu %s: %.40s", t, paths[k],
                      page);
            CHECK_MSG(strstr(page, "1970-01-01") != NULL, "case %zu %s: no 1970-01-01", t,
                      paths[k]);
            if (t < 2)
                CHECK_MSG(strstr(page, "9999-12-31") != NULL, "case %zu %s: no 9999-12-31", t,
                          paths[k]);
        }
        l3_buf_free(&resp);
        pages_destroy(&pages);
        s_fixture_destroy(&f);
    }
}

/* ---------------------------------------------------------------- asciicast export */

/* A command with output, timing and (dropped > 0) a capture cut after head bytes. */
static void s_fixture_command_cast(fixture_t *f, uint64_t nr, const char *output, size_t len,
                                   const char *timing, uint64_t dropped, uint64_t head)
{
    l3_record_t r;
    s_fixture_command_init(f, &r, nr, "cmd", 3);
    l3_bytes_set(&r.output, output, len, L3_OUTPUT_MAX);
    if (timing)
        l3_bytes_set(&r.timing, timing, strlen(timing), L3_TIMING_MAX);
    r.dropped = dropped;
    r.output_head = head;
    if (dropped)
        r.flags |= L3_FLAG_TRUNCATED;
    s_fixture_record(f, &r);
    l3_record_clear(&r);
}

static void test_cast_export(void)
{
    static const struct {
        const char *output, *timing;
        uint64_t dropped, head;
    } cases[] = {
        /* "é" (2 bytes) and "€" (3 bytes) cut by the timing */
        {"caf\xc3\xa9 \xe2\x82\xac!\r\n", "0.1 4\n0.2 1\n0.1 2\n0.3 5\n", 0, 0},
        /* timing covering too little, then too much; a line that is not timing */
        {"one\r\ntwo\r\n", "0.1 2\n", 0, 0},
        {"three\r\n", "0.1 2\n0.1 999\n", 0, 0},
        {"f\xc3\xbc\x6e\x66\r\n", "0.1 2\nnot timing\n0.1 2\n", 0, 0},
        /* capped: head "HEAD-part" (timed in two), 4096 bytes dropped, tail (timed as one) */
        {"HEAD-part TAIL-part\r\n", "0.1 3\n0.1 6\n2.5 12\n", 4096, 9},
        /* capped, no timing at all */
        {"head tail\r\n", NULL, 77, 5},
        /* capped with nothing kept after the head */
        {"short", "0.1 5\n", 5, 5},
    };
    const size_t n = sizeof cases / sizeof cases[0];
    fixture_t f;
    s_fixture_init(&f);
    s_fixture_session(&f, "alice", "s1");
    for (size_t i = 0; i < n; i++)
        s_fixture_command_cast(&f, i + 1, cases[i].output, strlen(cases[i].output), cases[i].timing,
                               cases[i].dropped, cases[i].head);
    s_fixture_open(&f);
    pages_t *pages = s_pages_with(&f, "");
    CHECK(pages);
    l3_buf_t resp, text;
    l3_buf_init(&resp, 0);
    l3_buf_init(&text, 0);
    s_get(pages, f.ix, "/session/0.cast", "", "", &resp);
    const char *body = strstr((const char *)resp.data, "\r\n\r\n");
    CHECK(strstr((const char *)resp.data, "Content-Type: application/x-asciicast\r\n"));
    CHECK(body && !strncmp(body + 4, "{\"version\":2,\"width\":80,\"height\":24,", 36));
    /* Read the events: per command, the concatenation of its "o" events after its prompt,
       and its markers. */
    const char *line = body ? strchr(body + 4, '\n') : NULL;
    size_t cmd = 0;
    double last = 0;
    l3_buf_t got[8], marks[8];
    for (size_t i = 0; i < 8; i++) {
        l3_buf_init(&got[i], 0);
        l3_buf_init(&marks[i], 0);
    }
    while (line && line[1]) {
        line++;
        const char *e = strchr(line, '\n');
        CHECK(e);
        if (!e)
            break;
        jr_t j = {(const uint8_t *)line, (const uint8_t *)e};
        CHECK_MSG(s_json_strict(j.p, (size_t)(e - line)), "cast line is JSON: %.*s",
                  (int)(e - line), line);
        double t = strtod(line + 1, NULL);
        CHECK_MSG(t >= last, "cast times never go back: %f after %f", t, last);
        last = t;
        const char *kind = strchr(line, ',');
        j.p = (const uint8_t *)kind + 5;
        text.len = 0;
        CHECK(s_jr_string(&j, &text));
        if (!strncmp(kind, ",\"o\",", 5) && text.len > 2 && !memcmp(text.data, "alice@", 6)) {
            cmd++; /* a prompt: the next command's events follow */
        } else if (!strncmp(kind, ",\"o\",", 5) && cmd && cmd <= n) {
            l3_buf_append(&got[cmd - 1], text.data, text.len);
        } else if (!strncmp(kind, ",\"m\",", 5) && cmd && cmd <= n) {
            CHECK_MSG(got[cmd - 1].len == (cases[cmd - 1].head < strlen(cases[cmd - 1].output)
                                               ? cases[cmd - 1].head
                                               : strlen(cases[cmd - 1].output)),
                      "command %zu: the marker comes after the head (%zu bytes before it)", cmd,
                      got[cmd - 1].len);
            l3_buf_append(&marks[cmd - 1], text.data, text.len);
        } else {
            CHECK_MSG(false, "unexpected cast event %.*s", (int)(e - line), line);
        }
        line = e;
    }
    CHECK_MSG(cmd == n, "%zu prompts, want %zu", cmd, n);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(cases[i].output);
        CHECK_MSG(got[i].len == len && !memcmp(got[i].data, cases[i].output, len),
                  "command %zu: the events carry its output whole: \"%.*s\"", i + 1,
                  (int)got[i].len, (const char *)got[i].data);
        char want[64] = "";
        if (cases[i].dropped)
            snprintf(want, sizeof want, "%" PRIu64 " bytes not recorded", cases[i].dropped);
        CHECK_MSG(marks[i].len == strlen(want) &&
                      (!marks[i].len || !memcmp(marks[i].data, want, marks[i].len)),
                  "command %zu: marker \"%.*s\", want \"%s\"", i + 1, (int)marks[i].len,
                  (const char *)marks[i].data, want);
    }
    /* Every event holds whole characters: no U+FFFD, though the timing cut some. */
    CHECK(!strstr((const char *)resp.data, "\\ufffd") &&
          !strstr((const char *)resp.data, "\xef\xbf\xbd"));

    /* The text export says where bytes were dropped. */
    s_get(pages, f.ix, "/session/0.txt", "", "", &resp);
    CHECK(strstr((const char *)resp.data, "HEAD-part\n[4096 bytes not recorded]\n TAIL-part\n"));
    CHECK(strstr((const char *)resp.data, "head \n[77 bytes not recorded]\ntail\n"));
    CHECK(strstr((const char *)resp.data, "short\n[5 bytes not recorded]\n"));

    /* The replay page: player, starter, links, and the CSP that allows WebAssembly. */
    s_get(pages, f.ix, "/replay/0", "", "", &resp);
    const char *page = (const char *)resp.data;
    CHECK(strstr(
        page, "<link rel=\"stylesheet\" href=\"/static/asciinema-player/asciinema-player.css\">"));
    CHECK(strstr(page,
                 "<script defer src=\"/static/asciinema-player/asciinema-player.min.js\"></script>"
                 "<script defer src=\"/static/replay-init.js\"></script>"));
    CHECK(strstr(page, "data-cast=\"/journal/session/0.cast\""));
    CHECK(strstr(page, "<noscript>"));
    CHECK(strstr(page, "<p class=\"exports\"><a href=\"/journal/session/0.txt\">"));
    CHECK(strstr(page, "script-src 'self' 'wasm-unsafe-eval';"));
    s_get(pages, f.ix, "/journal", "session=0", "", &resp);
    CHECK(strstr((const char *)resp.data, "script-src 'self';"));
    CHECK(!strstr((const char *)resp.data, "wasm"));

    for (size_t i = 0; i < 8; i++) {
        l3_buf_free(&got[i]);
        l3_buf_free(&marks[i]);
    }
    l3_buf_free(&text);
    l3_buf_free(&resp);
    pages_destroy(&pages);
    s_fixture_destroy(&f);
}
int main(void)
{
    setenv("TZ", "UTC", 1);
    test_instructors();
    test_cmdlines_with_parens();
    test_json_reader();
    test_wide_lines();
    test_inner_shells();
    test_stopped_or_killed();
    test_stats_far_dates();
    test_cast_export();
    test_emulated_output();
    TEST_DONE();
}
