/*  The journal's pages through their public API (pages_new, pages_handle) over a datafile
    written in the writer's format (l3_xmlrec_write), with a config file like the real one.

    instructors: render/instructors is a list of whole names; a REMOTE_USER sees every
    session only when it is one of them, never because its name spans two of them
    ("teacher admin") or a separator. Measured as the sessions /api/sessions lists.

    command lines with ')': a ')' once made the command-line formatter spin forever
    (fixed in 2def1d6), and the journal answered 504 to everyone from then on. Each page
    is made in a child process with a deadline, so a hang fails the test instead of
    hanging it; the command's text must stand in the page, HTML-escaped. */
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
    test_stats_far_dates();
    TEST_DONE();
}
