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
    still links, at most 64 of them, and the cut splits no character. */
#include "index.h"
#include "l3_config.h"
#include "l3_test.h"
#include "l3_xmlrec.h"
#include "pages.h"
#include "req.h"

#include <errno.h>
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

/* A command with any bytes as its line (cmdlen of them) and diff (difflen, may be 0). */
static void s_fixture_command_bytes(fixture_t *f, uint64_t nr, const char *cmdline, size_t cmdlen,
                                    const char *diff, size_t difflen)
{
    l3_record_t r;
    l3_record_init(&r);
    r.type = L3_RECORD_COMMAND;
    snprintf(r.host, sizeof r.host, "lab1");
    snprintf(r.user, sizeof r.user, "alice");
    snprintf(r.sid, sizeof r.sid, "s1");
    r.nr = nr;
    f->now_us += 1000000;
    r.start_us = f->now_us;
    r.end_us = f->now_us + 500000;
    r.has_exit = true;
    l3_bytes_set(&r.cwd, "/tmp", 4, L3_CWD_MAX);
    l3_bytes_set(&r.cmdline, cmdline, cmdlen, L3_CMDLINE_MAX);
    l3_bytes_set(&r.output, "ok\r\n", 4, L3_OUTPUT_MAX);
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

int main(void)
{
    setenv("TZ", "UTC", 1);
    test_instructors();
    test_cmdlines_with_parens();
    test_wide_lines();
    test_stats_far_dates();
    TEST_DONE();
}
