/*  The journal's pages through their public API (pages_new, pages_handle) over a datafile
    written in the writer's format (l3_xmlrec_write), with a config file like the real one.

    instructors: render/instructors is a list of whole names; a REMOTE_USER sees every
    session only when it is one of them, never because its name spans two of them
    ("teacher admin") or a separator. Measured as the sessions /api/sessions lists. */
#include "index.h"
#include "l3_config.h"
#include "l3_test.h"
#include "l3_xmlrec.h"
#include "pages.h"
#include "req.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(void)
{
    setenv("TZ", "UTC", 1);
    test_instructors();
    TEST_DONE();
}
