/*  test_import — the importers (typescript, asciicast v2, tlog), the bounded JSON reader and
    the unified diff. tlog samples in data/ were made by Debian's tlog-rec 12.1. */
#include "diff.h"
#include "import.h"
#include "import_json.h"
#include "l3_time.h"
#include "test_util.h"

#include <unistd.h>

#define MAX_RECS 32

typedef struct {
    l3_record_t recs[MAX_RECS];
    int n;
} sink_t;

static void s_on_record(void *arg, l3_record_t *rec)
{
    sink_t *s = arg;
    if (s->n < MAX_RECS) {
        l3_record_init(&s->recs[s->n]);
        l3_record_copy(&s->recs[s->n], rec);
        s->n++;
    }
}

static void s_clear(sink_t *s)
{
    for (int i = 0; i < s->n; i++)
        l3_record_clear(&s->recs[i]);
    s->n = 0;
}

static bool s_eq(const l3_bytes_t *b, const char *s)
{
    return b->len == strlen(s) && (b->len == 0 || memcmp(b->data, s, b->len) == 0);
}

static int s_import(sink_t *sink, l3_import_format_t f, const char *data, size_t len,
                    const char *prompt)
{
    l3_import_opts_t o = {.format = f, .prompt_re = prompt, .on_record = s_on_record, .arg = sink};
    return l3_import_buffer(data, len, "sample.file", getuid(), &o);
}

/* The shape every import has: session, commands, end. */
static void s_check_shape(sink_t *s, int commands, const char *what)
{
    CHECK_MSG(s->n == commands + 2, "%s: %d records, expected %d", what, s->n, commands + 2);
    if (s->n < 2)
        return;
    CHECK_MSG(s->recs[0].type == L3_RECORD_SESSION, "%s: first is not a session", what);
    CHECK_MSG(s->recs[s->n - 1].type == L3_RECORD_END, "%s: last is not an end", what);
    for (int i = 1; i < s->n - 1; i++)
        CHECK_MSG(s->recs[i].type == L3_RECORD_COMMAND && s->recs[i].nr == (uint64_t) i,
                  "%s: record %d", what, i);
}

static void s_test_typescript(void)
{
    sink_t s = {0};
    const char *ts = "Script started on 2024-05-01 10:00:00+02:00 [TERM=\"xterm\" TTY=\"/dev/pts/1\"]\n"
                     "alice@lab1:~$ ls\r\n"
                     "a  b\r\n"
                     "alice@lab1:~$ cd /tmp\r\n"
                     "\x1b[01;32malice@lab1\x1b[00m:\x1b[01;34m/tmp\x1b[00m$ cat f\r\n"
                     "line1\r\nline2\r\n"
                     "alice@lab1:/tmp$ exit\r\n"
                     "exit\r\n"
                     "\nScript done on 2024-05-01 10:05:00+02:00 [COMMAND_EXIT_CODE=\"0\"]\n";
    s_import(&s, L3_IMPORT_TYPESCRIPT, ts, strlen(ts), NULL);
    s_check_shape(&s, 4, "typescript");
    if (s.n == 6) {
        int64_t start;
        l3_time_parse("2024-05-01T08:00:00Z", &start);
        CHECK(s.recs[0].start_us == start);
        CHECK(s_eq(&s.recs[1].cmdline, "ls"));
        CHECK(s_eq(&s.recs[1].output, "a  b\r\n"));
        CHECK(s_eq(&s.recs[2].cmdline, "cd /tmp"));
        CHECK_MSG(s_eq(&s.recs[3].cmdline, "cat f"), "'%.*s'", (int) s.recs[3].cmdline.len,
                  s.recs[3].cmdline.data);
        CHECK(s_eq(&s.recs[3].cwd, "/tmp"));
        CHECK(s_eq(&s.recs[3].output, "line1\r\nline2\r\n"));
        CHECK(s_eq(&s.recs[4].cmdline, "exit"));
        CHECK_MSG(s_eq(&s.recs[4].output, "exit\r\n\n"), "'%.*s'", (int) s.recs[4].output.len,
                  s.recs[4].output.data);
    }
    s_clear(&s);
    //  A configurable prompt.
    const char *ts2 = "$ uname\nLinux\n$ id -u\n0\n$ ";
    s_import(&s, L3_IMPORT_TYPESCRIPT, ts2, strlen(ts2), "^\\$ ");
    s_check_shape(&s, 2, "typescript --prompt");
    if (s.n == 4) {
        CHECK(s_eq(&s.recs[1].cmdline, "uname") && s_eq(&s.recs[1].output, "Linux\n"));
        CHECK(s_eq(&s.recs[2].cmdline, "id -u") && s_eq(&s.recs[2].output, "0\n"));
    }
    s_clear(&s);
    //  The 2005 failure: a prompt printed by a program inside ssh is taken for a command
    //  (a guess is a guess); but a line that only looks like a prompt in the middle does not.
    const char *ts3 = "user@h:~$ echo 'not user@h:~$ a prompt'\r\nnot user@h:~$ a prompt\r\n";
    s_import(&s, L3_IMPORT_TYPESCRIPT, ts3, strlen(ts3), NULL);
    s_check_shape(&s, 1, "typescript prompt in output");
    s_clear(&s);
}

/* A real typescript (util-linux script -f, bash, 30 columns, typed key by key in tmux):
   the long command line wraps at the margin with readline's " \r"; the next one is
   edited with backspaces. */
static char *s_slurp(const char *name, size_t *len);
static void s_test_typescript_wrap(void)
{
    sink_t s = {0};
    size_t len;
    char *data = s_slurp("wrap.typescript", &len);
    if (!data)
        return;
    s_import(&s, L3_IMPORT_TYPESCRIPT, data, len, "^[a-z]+@[a-z]+:([^#]*)# ");
    s_check_shape(&s, 3, "wrapped typescript");
    if (s.n == 5) {
        CHECK_MSG(s_eq(&s.recs[1].cmdline, "echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbb"), "'%.*s'",
                  (int) s.recs[1].cmdline.len, s.recs[1].cmdline.data);
        CHECK(s_eq(&s.recs[2].cmdline, "ls tmp"));
        CHECK(s_eq(&s.recs[3].cmdline, "exit"));
        CHECK(s.recs[0].cols == 30);
    }
    s_clear(&s);
    free(data);
    //  Backspacing across the wrap: readline goes down a row (CR LF) and back up (ESC M)
    //  while it redraws; the LF is not the end of the line.
    data = s_slurp("wrap-backspace.typescript", &len);
    if (!data)
        return;
    s_import(&s, L3_IMPORT_TYPESCRIPT, data, len, "^[a-z]+@[a-z]+:([^#]*)# ");
    s_check_shape(&s, 2, "typescript backspace across the wrap");
    if (s.n == 4) {
        CHECK_MSG(s_eq(&s.recs[1].cmdline, "echo ddddddddZZ"), "'%.*s'", (int) s.recs[1].cmdline.len,
                  s.recs[1].cmdline.data);
        CHECK(memmem(s.recs[1].output.data, s.recs[1].output.len, "ddddddddZZ\r\n", 12) != NULL);
        CHECK(s_eq(&s.recs[2].cmdline, "exit"));
    }
    s_clear(&s);
    free(data);
}

static void s_test_asciicast(void)
{
    sink_t s = {0};
    const char *cast =
        "{\"version\": 2, \"width\": 80, \"height\": 24, \"timestamp\": 1700000000, "
        "\"env\": {\"SHELL\": \"/bin/bash\", \"TERM\": \"xterm-256color\"}}\n"
        "[0.5, \"o\", \"user@host:~$ \"]\n"
        "[1.0, \"i\", \"l\"]\n"
        "[1.25, \"o\", \"ls\\r\\n\"]\n"
        "[1.5, \"o\", \"f\\u00fcr \\ud83d\\ude00\\r\\n\"]\n"
        "not json at all\n"
        "[2.0, \"o\", \"user@host:~$ \"]\n"
        "[2.5, \"o\", \"exit\\r\\n\"]\n"
        "[2.75, \"r\", \"100x30\"]\n";
    s_import(&s, L3_IMPORT_AUTO, cast, strlen(cast), NULL);
    s_check_shape(&s, 2, "asciicast");
    if (s.n == 4) {
        CHECK(s.recs[0].start_us == 1700000000000000LL);
        CHECK(s.recs[0].cols == 80 && s.recs[0].rows == 24);
        CHECK(strcmp(s.recs[0].shell, "/bin/bash") == 0);
        CHECK(s_eq(&s.recs[1].cmdline, "ls"));
        CHECK(s.recs[1].start_us == 1700000001250000LL);
        CHECK(s.recs[1].end_us == 1700000002000000LL);
        CHECK(s_eq(&s.recs[1].output, "f\xc3\xbcr \xf0\x9f\x98\x80\r\n"));
        CHECK(s_eq(&s.recs[2].cmdline, "exit"));
    }
    s_clear(&s);
}

static char *s_slurp(const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/capture/parser/data/%s",
             getenv("L3_SOURCE_DIR") ? getenv("L3_SOURCE_DIR") : ".", name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        t_failures++;
        return NULL;
    }
    char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static void s_test_tlog(void)
{
    sink_t s = {0};
    size_t len;
    char *data = s_slurp("sample.tlog", &len);
    if (data) {
        s_import(&s, L3_IMPORT_AUTO, data, len, NULL);
        s_check_shape(&s, 1, "tlog sample");
        if (s.n == 3) {
            CHECK(s_eq(&s.recs[1].cmdline, "ls /"));
            l3_bytes_t *o = &s.recs[1].output;
            CHECK(memmem(o->data, o->len, "\xff\xfe bad\n", 6) != NULL);
            CHECK(memmem(o->data, o->len, "привет\n", strlen("привет\n")) != NULL);
            CHECK(strcmp(s.recs[0].sid, "dc0011534bbc4b2d801f4ed91d54f5d0-260b-20611") == 0);
            CHECK(s.recs[0].start_us == 1795556000055000LL);
        }
        s_clear(&s);
        free(data);
    }
    data = s_slurp("prompts.tlog", &len);
    if (data) {
        s_import(&s, L3_IMPORT_TLOG, data, len, NULL);
        s_check_shape(&s, 3, "tlog prompts");
        if (s.n == 5) {
            CHECK(s_eq(&s.recs[1].cmdline, "ls /"));
            CHECK(s_eq(&s.recs[3].cmdline, "cd /tmp"));
            CHECK(s_eq(&s.recs[3].output, "output\n"));
            //  "+201" ms between the lines.
            CHECK(s.recs[2].start_us - s.recs[1].start_us == 201000);
        }
        s_clear(&s);
        free(data);
    }
    //  Broken messages are skipped, never a crash.
    const char *bad = "{\"ver\":\"2.3\",\"pos\":0,\"timing\":\">99999]5/5+x>\",\"out_txt\":\"ab\","
                      "\"out_bin\":[1,\"x\",300]}\n{\"ver\":1}\n[1,2]\n";
    s_import(&s, L3_IMPORT_TLOG, bad, strlen(bad), NULL);
    CHECK(s.n == 2);
    s_clear(&s);
}

static void s_test_json(void)
{
    char err[128];
    const char *ok[] = {"{}", "[]", "  [1, -2.5e3, true, false, null, \"x\"]  ",
                        "{\"a\":{\"b\":[{}]}}", "\"\\ud800\"", "\"\\u0000\""};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        l3_json_t *j = l3_json_parse(ok[i], strlen(ok[i]), err, sizeof(err));
        CHECK_MSG(j != NULL, "'%s': %s", ok[i], err);
        l3_json_destroy(&j);
    }
    const char *bad[] = {"", "{", "[1,]", "{\"a\"}", "01x", "\"\\x\"", "tru", "[1] 2",
                         "\"a\nb\"", "-", "1.", "1e"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        l3_json_t *j = l3_json_parse(bad[i], strlen(bad[i]), err, sizeof(err));
        CHECK_MSG(j == NULL, "'%s' accepted", bad[i]);
        l3_json_destroy(&j);
    }
    //  Depth is bounded.
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    CHECK(l3_json_parse(deep, 200, err, sizeof(err)) == NULL);
    const char *sur = "\"\\ud83d\\ude00\\ud800x\"";
    l3_json_t *j = l3_json_parse(sur, strlen(sur), err, sizeof(err));
    CHECK(j != NULL);
    if (j) {
        size_t n;
        const uint8_t *s = l3_json_str(j, l3_json_root(j), &n);
        CHECK(n == 8 && memcmp(s, "\xf0\x9f\x98\x80\xef\xbf\xbdx", 8) == 0);
        l3_json_destroy(&j);
    }
}

/* Diff a → b, apply it with patch(1) to a, compare with b. */
static void s_diff_case(const char *a, const char *b, const char *name)
{
    l3_buf_t d;
    l3_buf_init(&d, 0);
    CHECK(l3_diff_unified(a, strlen(a), b, strlen(b), "before", "after", &d));
    if (strcmp(a, b) == 0) {
        CHECK(d.len == 0);
        l3_buf_free(&d);
        return;
    }
    char dir[] = "/tmp/l3-test-diff-XXXXXX";
    if (!mkdtemp(dir)) {
        t_failures++;
        return;
    }
    char path[256], cmd[1024];
    snprintf(path, sizeof(path), "%s/f", dir);
    FILE *f = fopen(path, "w");
    fputs(a, f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/d", dir);
    f = fopen(path, "w");
    fwrite(d.data, 1, d.len, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "patch -s %s/f %s/d >/dev/null 2>&1", dir, dir);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "%s: patch failed:\n%.*s", name, (int) d.len, d.data);
    snprintf(path, sizeof(path), "%s/f", dir);
    f = fopen(path, "r");
    char got[65536];
    size_t n = f ? fread(got, 1, sizeof(got), f) : 0;
    if (f)
        fclose(f);
    CHECK_MSG(n == strlen(b) && memcmp(got, b, n) == 0, "%s: patched file differs", name);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        t_failures++;
    l3_buf_free(&d);
}

static void s_test_diff(void)
{
    s_diff_case("a\nb\nc\n", "a\nb\nc\n", "equal");
    s_diff_case("a\nb\nc\n", "a\nB\nc\n", "change");
    s_diff_case("", "new\nfile\n", "new file");
    s_diff_case("old\n", "", "emptied");
    s_diff_case("a\nb", "a\nc", "no newline at end");
    s_diff_case("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\n18\n19\n20\n",
                "1\nX\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\nY\n19\n20\n21\n",
                "two hunks");
    //  Random edits of a larger file.
    uint32_t x = 1;
    for (int round = 0; round < 20; round++) {
        l3_buf_t a, b;
        l3_buf_init(&a, 0);
        l3_buf_init(&b, 0);
        for (int i = 0; i < 300; i++) {
            x = x * 1103515245 + 12345;
            int v = (int) ((x >> 16) % 40);
            l3_buf_printf(&a, "line %d\n", v);
            x = x * 1103515245 + 12345;
            if ((x >> 16) % 10 == 0)
                continue; /* deleted */
            if ((x >> 16) % 10 == 1)
                l3_buf_printf(&b, "inserted %d\n", i);
            l3_buf_printf(&b, "line %d\n", (x >> 16) % 10 == 2 ? v + 1 : v);
        }
        l3_buf_append_byte(&a, 0);
        l3_buf_append_byte(&b, 0);
        s_diff_case((char *) a.data, (char *) b.data, "random");
        l3_buf_free(&a);
        l3_buf_free(&b);
    }
}

int main(void)
{
    s_test_typescript();
    s_test_typescript_wrap();
    s_test_asciicast();
    s_test_tlog();
    s_test_json();
    s_test_diff();
    if (t_failures) {
        fprintf(stderr, "test_import: %d failures\n", t_failures);
        return 1;
    }
    printf("test_import: ok\n");
    return 0;
}
