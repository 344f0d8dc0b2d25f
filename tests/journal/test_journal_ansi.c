/*  Table-driven tests of the ANSI -> HTML converter and request validation: what a
    terminal's bytes and a web request may contain, and what the journal must make of them. */
#include "ansi.h"
#include "req.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static char *s_html(const char *in, size_t len)
{
    l3_buf_t b;
    l3_buf_init(&b, 1 << 20);
    ansi_to_html(in, len, NULL, 0, &b);
    l3_buf_append_byte(&b, 0);
    return (char *)l3_buf_steal(&b, NULL);
}

/* Every <span>/<mark> opened is closed, and no other tag appears. */
static bool s_balanced(const char *h)
{
    int spans = 0, marks = 0;
    for (const char *p = h; (p = strchr(p, '<')); p++) {
        if (!strncmp(p, "<span", 5))
            spans++;
        else if (!strncmp(p, "</span>", 7))
            spans--;
        else if (!strncmp(p, "<mark>", 6))
            marks++;
        else if (!strncmp(p, "</mark>", 7))
            marks--;
        else
            return false;
        if (spans < 0 || marks < 0)
            return false;
    }
    return spans == 0 && marks == 0;
}

static void test_ansi(void)
{
    static const struct {
        const char *in;
        const char *want; /* exact output */
    } cases[] = {
        {"plain", "plain"},
        {"a<b>&\"'", "a&lt;b&gt;&amp;&quot;&#39;"},
        {"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
        {"\x1b[31mred\x1b[0m", "<span class=\"t f1\">red</span>"},
        {"\x1b[1;32mok\x1b[m.", "<span class=\"t b f2\">ok</span>."},
        {"\x1b[38;5;196mx\x1b[0m", "<span class=\"t\" style=\"color:#ff0000;\">x</span>"},
        {"\x1b[38;2;1;2;3mx", "<span class=\"t\" style=\"color:#010203;\">x</span>"},
        {"\x1b]0;title\x07" "after", "after"},
        {"\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\", "link"},
        {"\x1b[2J\x1b[Hclear", "clear"},
        {"\x1b[?1049hx\x1b[?1049l", "x"},
        {"\x1bP+q544e\x1b\\dcs", "dcs"},
        {"\x1b(Bcharset", "charset"},
        {"bad \xff\xfe utf", "bad \xef\xbf\xbd\xef\xbf\xbd utf"},
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"ok \xc3\xa9 \xd0\xb6", "ok \xc3\xa9 \xd0\xb6"},
        {"10%\r20%\r30%\r\n", "30%\n"},
        {"a\r\nb", "a\nb"},
        {"bell\x07 bs\x08", "bell bs"},
        {"\x1b[31mone\ntwo\x1b[0m", "<span class=\"t f1\">one</span>\n<span class=\"t f1\">two</span>"},
        {"\x1b[", ""},
        {"\x1b]unterminated", ""},
        {"\xc2\x9b" "31mC1", "31mC1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *h = s_html(cases[i].in, strlen(cases[i].in));
        CHECK(!strcmp(h, cases[i].want), "case %zu: got [%s] want [%s]", i, h, cases[i].want);
        CHECK(s_balanced(h), "case %zu: unbalanced [%s]", i, h);
        free(h);
    }
    /* highlights */
    l3_buf_t b;
    l3_buf_init(&b, 1 << 20);
    const char *text = "find the needle, needle!";
    ansi_range_t r[4];
    size_t n = ansi_find(text, strlen(text), "needle", r, 4);
    CHECK(n == 2, "two matches, got %zu", n);
    ansi_to_html(text, strlen(text), r, n, &b);
    l3_buf_append_byte(&b, 0);
    CHECK(!strcmp((char *)b.data, "find the <mark>needle</mark>, <mark>needle</mark>!"), "marks: %s",
          (char *)b.data);
    l3_buf_reset(&b);
    const char *col = "\x1b[31mne\x1b[32medle\x1b[0m";
    n = ansi_find("needle", 6, "needle", r, 4);
    ansi_range_t r2 = {5, 20};
    ansi_to_html(col, strlen(col), &r2, 1, &b);
    l3_buf_append_byte(&b, 0);
    CHECK(s_balanced((char *)b.data), "mark across colours balanced: %s", (char *)b.data);
    l3_buf_free(&b);
    /* random bytes never give unbalanced markup */
    srand(7);
    for (int k = 0; k < 2000; k++) {
        char buf[64];
        size_t len = (size_t)(rand() % 64);
        for (size_t i = 0; i < len; i++)
            buf[i] = (char)("\x1b[;m0123456789<>&\r\n\xff\xc3]\x07"[rand() % 24]);
        char *h = s_html(buf, len);
        CHECK(s_balanced(h), "random %d unbalanced: %s", k, h);
        CHECK(!strstr(h, "<s") || !strncmp(strstr(h, "<s"), "<span", 5), "stray tag %s", h);
        free(h);
    }
    /* text mode */
    l3_buf_init(&b, 1 << 20);
    const char *tx = "\x1b[1mbold\x1b[0m <x>\r\n";
    ansi_to_text(tx, strlen(tx), &b);
    l3_buf_append_byte(&b, 0);
    CHECK(!strcmp((char *)b.data, "bold <x>\n"), "text: %s", (char *)b.data);
    l3_buf_free(&b);
}

static void test_req(void)
{
    static const struct {
        const char *method, *path, *query;
        int status;
    } cases[] = {
        {"GET", "/", "", 0},
        {"GET", NULL, NULL, 0},
        {"HEAD", "/journal", "host=lab1&page=2", 0},
        {"GET", "/journal", "q=%3Cscript%3E&failed=1", 0},
        {"GET", "/journal", "q=a+b", 0},
        {"POST", "/", "", 405},
        {"DELETE", "/", "", 405},
        {NULL, "/", "", 405},
        {"GET", "/../etc/passwd", "", 400},
        {"GET", "/cmd/..", "", 400},
        {"GET", "//etc", "", 400},
        {"GET", "/a b", "", 400},
        {"GET", "/a\x01", "", 400},
        {"GET", "/\xc3\xa9", "", 400},
        {"GET", "relative", "", 400},
        {"GET", "/journal", "q=%zz", 400},
        {"GET", "/journal", "q=%4", 400},
        {"GET", "/journal", "q=%", 400},
        {"GET", "/journal", "q=%00", 400},
        {"GET", "/journal", "q=%ff", 400},
        {"GET", "/journal", "q=%1b", 400},
        {"GET", "/journal", "q=%D0%B6", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        req_t req;
        char err[128] = "";
        int st = req_set(&req, cases[i].method, cases[i].path, cases[i].query, "", "", err,
                            sizeof err);
        CHECK(st == cases[i].status, "req case %zu: status %d want %d (%s)", i, st,
              cases[i].status, err);
    }
    /* caps */
    char *big = malloc(REQ_QUERY_MAX + 10);
    memset(big, 'a', REQ_QUERY_MAX + 9);
    big[REQ_QUERY_MAX + 9] = 0;
    req_t req;
    char err[128];
    CHECK(req_set(&req, "GET", "/", big, "", "", err, sizeof err) == 414, "huge query 414");
    big[0] = '/';
    big[REQ_PATH_MAX + 1] = 0;
    CHECK(req_set(&req, "GET", big, "", "", "", err, sizeof err) == 414, "huge path 414");
    free(big);
    /* params */
    char v[64];
    CHECK(req_param("a=1&q=x+y%21&b", "q", v, sizeof v) && !strcmp(v, "x y!"), "param q");
    CHECK(req_param("a=1&q=x&b", "b", v, sizeof v) && !strcmp(v, ""), "param b empty");
    CHECK(!req_param("a=1&qq=2", "q", v, sizeof v), "param absent");
    char enc[64];
    req_pct_encode("a b/&<", enc, sizeof enc);
    CHECK(!strcmp(enc, "a%20b%2F%26%3C"), "encode: %s", enc);
}

int main(void)
{
    test_ansi();
    test_req();
    if (failures)
        fprintf(stderr, "%d failures\n", failures);
    else
        printf("test_journal_ansi: OK\n");
    return failures ? 1 : 0;
}
