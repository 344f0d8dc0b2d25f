/*  Tests of render/vt.c: command output through libvterm, as a person saw it.

    Table-driven: each case is the bytes a program wrote (as the pty delivered them, so
    "\r\n" line ends), a terminal size, and the exact text the terminal showed, scrolled-
    off lines included. Cases marked tmux are also run through a real terminal: the bytes
    are cat'ed in a detached tmux pane of the same size (stty raw, so nothing is added)
    and `tmux capture-pane -p -S -` must equal the same text: issue 11's acceptance style.
    When tmux is missing those comparisons are reported skipped, the rest still runs. */
#include "l3_test.h"
#include "l3_utf8.h"
#include "vt.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    const char *name;
    int rows, cols;
    const char *in;
    const char *want; /* the transcript as text */
    bool tmux;        /* also compare with a real tmux pane */
} text_case_t;

/* A multi-line progress display as apt/docker/pip draw it: three lines, redrawn in place
   by cursor up 3 and erase line, then a closing line. */
#define PROGRESS                                                                           \
    "Fetching 3 files\r\n"                                                                 \
    "a [    ]  0%\r\nb [    ]  0%\r\nc [    ]  0%\r\n"                                     \
    "\x1b[3A\x1b[2Ka [##  ] 50%\r\n\x1b[2Kb [#   ] 25%\r\n\x1b[2Kc [    ]  0%\r\n"          \
    "\x1b[3A\x1b[2Ka [####] 100%\r\n\x1b[2Kb [####] 100%\r\n\x1b[2Kc [####] 100%\r\n"       \
    "Done.\r\n"

/* docker-style: one cursor up per line, erase to end of line, redraws in the middle. */
#define PROGRESS_DOCKER                                                                    \
    "l1: Waiting\r\nl2: Waiting\r\n"                                                       \
    "\x1b[2A\x1b[Kl1: Downloading 10MB/20MB\r\x1b[1B\x1b[Kl2: Pull complete\r\x1b[1B"      \
    "\x1b[2A\x1b[Kl1: Pull complete\r\x1b[2B"                                               \
    "Status: Downloaded\r\n"

/* apt's status line: a scroll region keeps the last row for "Progress: [ n%]" while the
   log scrolls above it; at the end the region is reset and the status line erased. */
#define APT_STATUS                                                                         \
    "\x1b" "7\x1b[1;5r\x1b" "8"                                                            \
    "\x1b[6;1HProgress: [ 10%]\x1b[1;1H"                                                   \
    "Unpacking a\r\nUnpacking b\r\nUnpacking c\r\n"                                        \
    "\x1b" "7\x1b[6;1H\x1b[KProgress: [ 60%]\x1b" "8"                                      \
    "Setting up a\r\nSetting up b\r\nSetting up c\r\n"                                     \
    "\x1b" "7\x1b[r\x1b[6;1H\x1b[K\x1b" "8"

static const text_case_t s_text_cases[] = {
    {"plain", 6, 20, "hello\r\nworld\r\n", "hello\nworld", true},
    {"progress", 6, 20, PROGRESS,
     "Fetching 3 files\na [####] 100%\nb [####] 100%\nc [####] 100%\nDone.", true},
    /* the same at a screen smaller than the output: the first lines scroll off while the
       redraw still addresses the last three */
    {"progress_scrolling", 4, 20, PROGRESS,
     "Fetching 3 files\na [####] 100%\nb [####] 100%\nc [####] 100%\nDone.", true},
    {"progress_docker", 6, 30, PROGRESS_DOCKER,
     "l1: Pull complete\nl2: Pull complete\nStatus: Downloaded", true},
    {"cr_progress", 6, 20, "10%\r20%\r100%\r\n", "100%", true},
    /* CR then narrower text: only the cells written are replaced */
    {"cr_wide", 6, 20, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e ok\rab\r\n",
     "ab\xe6\x9c\xac\xe8\xaa\x9e ok", true},
    /* overwriting the left half of a wide character blanks its right half */
    {"cr_wide_half", 6, 20, "\xe6\x97\xa5\xe6\x9c\xac\rX\r\n", "X \xe6\x9c\xac", true},
    /* a wide character that does not fit in the last column wraps whole */
    {"wide_wrap", 6, 5, "abcd\xe6\x97\xa5" "e\r\n", "abcd\n\xe6\x97\xa5" "e", true},
    /* cursor arithmetic counts a wide character as two cells */
    {"wide_cursor", 6, 20, "\xe6\x97\xa5\xe6\x9c\xac" "ab\x1b[3Gx\r\n",
     "\xe6\x97\xa5x ab", true},
    {"scroll_region", 6, 10,
     "1\r\n2\r\n3\r\n4\r\n5\r\n6\x1b[2;4r\x1b[4;1H\n\nX\x1b[r\x1b[6;1H\r\n",
     "1\n4\n\nX\n5\n6", false /* tmux keeps lines scrolled out of any region */},
    {"insert_delete_line", 6, 10,
     "a\r\nb\r\nc\r\nd\x1b[2;1H\x1b[LX\x1b[1;1H\x1b[M\x1b[6;1H", "X\nb\nc\nd", true},
    {"insert_delete_char", 6, 10, "abcdef\x1b[1;3H\x1b[2P\x1b[1;1H\x1b[2@\r\n", "  abef", true},
    {"tabs", 6, 20, "a\tb\tc\r\n", "a       b       c", true},
    {"tab_stops", 6, 20, "\x1b[3g\x1b[5G\x1bH\x1b[12G\x1bH\rx\ty\tz\r\n", "x   y      z", true},
    {"erase_display", 6, 10, "old\r\nold\x1b[2J\x1b[Hnew\r\n", "new", false},
    {"origin_mode", 6, 10, "\x1b[3;5r\x1b[?6h\x1b[1;1Hin\x1b[?6l\x1b[r\x1b[6;1H", "\n\nin",
     true},
    {"backspace", 6, 20, "abc\b\bX\r\n", "aXc", true},
    {"scroll_off", 3, 10,
     "l1\r\nl2\r\nl3\r\nl4\r\nl5\r\nl6\r\nl7\r\nl8\r\nl9\r\nl10\r\n",
     "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\nl10", true},
    {"long_line_wraps", 3, 5, "abcdefghijkl\r\n", "abcde\nfghij\nkl", true},
    /* output that ends mid-sequence: the sequence is simply incomplete */
    {"cut_csi", 6, 10, "abc\x1b[3", "abc", false},
    {"cut_esc", 6, 10, "abc\x1b", "abc", false},
    {"cut_osc", 6, 10, "abc\x1b]0;title", "abc", false},
    {"cut_utf8", 6, 10, "abc\xe6\x97", "abc", false},
    /* hostile bytes */
    /* each invalid byte is one U+FFFD, wherever the chunks end */
    {"invalid_utf8", 6, 20, "a\xff" "b\xc0" "c\xed\xa0\x80" "d\xe6\x97\x1b[31me\r\n",
     "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
     "d\xef\xbf\xbd\xef\xbf\xbd" "e", false},
    /* C1 controls encoded in UTF-8 are dropped, as ansi.c drops them */
    {"c1_controls", 6, 20, "a\xc2\x9b" "31mb\xc2\x85" "c\r\n", "a31mbc", false},
    {"controls", 6, 20, "a\x01\x02\x07\x0e\x0f\x7f" "b\r\n", "ab", false},
    {"huge_csi", 6, 10,
     "x\x1b[99999999999999999999999A\x1b[999999999;999999999H\x1b[4294967297L"
     "\x1b[9999999999@\x1b[99999999999P\x1b[99999999999999M\x1b[99999999999r\x1b[r"
     "\x1b[1;1Hok",
     "ok", false},
    {"many_csi_params", 6, 10,
     "\x1b[1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;16;17;18;19;20;21;22;23;24;25;26mok\x1b[m",
     "ok", false},
    /* REP before any character hangs libvterm 0.1.4 unguarded; a huge one is capped
       (and libvterm repeats only to the end of the line, where tmux wraps) */
    {"rep_first", 6, 10, "\x1b[6;b\x07\x1b[b\xcc\x81\x1b(0\x1b[b\x1b(B\x1b]0;t\x07\x1b[b"
     "\x1bP0;1|x\x1b\\\x1b[bok", "ok", false},
    {"rep", 6, 10, "ab\x1b[3b|\r\n", "abbbb|", true},
    {"rep_huge", 3, 10, "x\x1b[999999999b\x1b[Hok", "okxxxxxxxx", false},
    {"osc_dcs_dropped", 6, 20, "\x1b]0;title\x07" "a\x1bP+q544e\x1b\\b\x1b]8;;http://x/\x1b\\c",
     "abc", false},
    {"apt_status", 6, 20, APT_STATUS,
     "Unpacking a\nUnpacking b\nUnpacking c\nSetting up a\nSetting up b\nSetting up c",
     true},
    {"many_csi_params_colour", 6, 10,
     "\x1b[0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;31mok", "ok",
     false},
    {"markup_text", 6, 20, "<b>&'\"\r\n", "<b>&'\"", true},
};

/* tmux, if there is one: runs `cat file` raw in a detached pane of rows x cols and
   returns what capture-pane printed, trailing empty lines dropped; NULL if no tmux. */
static char *s_tmux_capture(const char *bytes, size_t len, int rows, int cols)
{
    static int seq;
    char dir[] = "/tmp/test_vt_XXXXXX";
    char path[256], cmd[1024], sock[64];
    char *result = NULL;
    if (system("command -v tmux >/dev/null 2>&1") != 0)
        return NULL;
    if (!mkdtemp(dir))
        return NULL;
    snprintf(path, sizeof path, "%s/in", dir);
    snprintf(sock, sizeof sock, "l3vt%d_%d", (int)getpid(), seq++);
    FILE *f = fopen(path, "wb");
    if (!f)
        goto cleanup;
    fwrite(bytes, 1, len, f);
    fclose(f);
    /* status off: the pane is the whole window; wait-for: the capture starts after cat */
    snprintf(cmd, sizeof cmd,
             "tmux -f /dev/null -L %s new-session -d -x %d -y %d "
             "'stty raw -echo; cat %s; tmux wait-for -S done; sleep 30' && "
             "tmux -L %s set -g status off >/dev/null && "
             "timeout 10 tmux -L %s wait-for done && "
             "tmux -L %s capture-pane -p -S - > %s/out; tmux -L %s kill-server 2>/dev/null",
             sock, cols, rows, path, sock, sock, sock, dir, sock);
    if (system(cmd) != 0)
        goto cleanup;
    snprintf(path, sizeof path, "%s/out", dir);
    f = fopen(path, "rb");
    if (!f)
        goto cleanup;
    l3_buf_t b;
    l3_buf_init(&b, 1 << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        l3_buf_append(&b, chunk, n);
    fclose(f);
    while (b.len && b.data[b.len - 1] == '\n')
        b.len--;
    l3_buf_append_byte(&b, 0);
    result = (char *)l3_buf_steal(&b, NULL);
cleanup:
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return result;
}

/* Valid UTF-8 with no control byte but newline. */
static bool s_clean_text(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = l3_utf8_decode(p + i, len - i, &cp);
        if (n == 0 || (cp < 0x20 && cp != '\n') || (cp >= 0x7f && cp <= 0x9f))
            return false;
        i += n;
    }
    return true;
}

static char *s_transcript_text(const char *in, size_t len, int rows, int cols, int flags)
{
    vt_t *vt = vt_new(rows, cols, flags);
    CHECK(vt);
    vt_write(vt, in, len);
    vt_doc_t *doc = vt_transcript(vt);
    CHECK(doc);
    l3_buf_t b;
    l3_buf_init(&b, 1 << 24);
    CHECK(vt_doc_to_text(doc, &b));
    CHECK_MSG(s_clean_text(b.data, b.len), "text not clean UTF-8");
    l3_buf_append_byte(&b, 0);
    vt_doc_destroy(&doc);
    CHECK(doc == NULL);
    vt_destroy(&vt);
    CHECK(vt == NULL);
    return (char *)l3_buf_steal(&b, NULL);
}

static void test_text_cases(void)
{
    int compared = 0;
    bool have_tmux = true;
    for (size_t i = 0; i < sizeof s_text_cases / sizeof s_text_cases[0]; i++) {
        const text_case_t *c = &s_text_cases[i];
        char *got = s_transcript_text(c->in, strlen(c->in), c->rows, c->cols, 0);
        CHECK_MSG(!strcmp(got, c->want), "%s: got [%s] want [%s]", c->name, got, c->want);
        /* fed one byte at a time, the result is the same (sequences cut anywhere) */
        vt_t *vt = vt_new(c->rows, c->cols, 0);
        for (size_t k = 0; c->in[k]; k++)
            vt_write(vt, c->in + k, 1);
        vt_doc_t *doc = vt_transcript(vt);
        l3_buf_t b;
        l3_buf_init(&b, 1 << 20);
        vt_doc_to_text(doc, &b);
        l3_buf_append_byte(&b, 0);
        CHECK_MSG(!strcmp((char *)b.data, got), "%s: bytewise [%s] != [%s]", c->name,
                  (char *)b.data, got);
        l3_buf_free(&b);
        vt_doc_destroy(&doc);
        vt_destroy(&vt);
        if (c->tmux && have_tmux) {
            char *real = s_tmux_capture(c->in, strlen(c->in), c->rows, c->cols);
            if (!real) {
                have_tmux = false;
            } else {
                CHECK_MSG(!strcmp(real, c->want), "%s: tmux showed [%s] want [%s]", c->name,
                          real, c->want);
                compared++;
            }
            free(real);
        }
        free(got);
    }
    printf("text cases: %zu, compared with tmux: %d%s\n",
           sizeof s_text_cases / sizeof s_text_cases[0], compared,
           have_tmux ? "" : " (tmux missing: comparisons skipped)");
}

static char *s_html(const char *in, int rows, int cols)
{
    l3_buf_t b;
    l3_buf_init(&b, 1 << 20);
    CHECK(vt_to_html(in, strlen(in), rows, cols, &b));
    l3_buf_append_byte(&b, 0);
    return (char *)l3_buf_steal(&b, NULL);
}

/* Attributes to spans, drawn like ansi.c draws them. */
static void test_html(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"\x1b[31mred\x1b[0m", "<span class=\"t f1\">red</span>"},
        {"\x1b[1;32mok\x1b[m.", "<span class=\"t b f2\">ok</span>."},
        {"\x1b[3mi\x1b[4mu\x1b[9ms\x1b[0m",
         "<span class=\"t i\">i</span><span class=\"t i u\">u</span>"
         "<span class=\"t i u s\">s</span>"},
        {"\x1b[38;5;196mx\x1b[0m", "<span class=\"t\" style=\"color:#ff0000;\">x</span>"},
        {"\x1b[38;5;200mx\x1b[48;5;250my", "<span class=\"t\" style=\"color:#ff00d7;\">x</span>"
                                             "<span class=\"t\" style=\"color:#ff00d7;"
                                             "background:#bcbcbc;\">y</span>"},
        {"\x1b[38;2;1;2;3mx", "<span class=\"t\" style=\"color:#010203;\">x</span>"},
        {"\x1b[7mrev\x1b[27m n", "<span class=\"t f0 g7\">rev</span> n"},
        {"\x1b[94;103mhi", "<span class=\"t f12 g11\">hi</span>"},
        /* a coloured blank is visible (a bar); a default-style one at the end is not */
        {"\x1b[42m  \x1b[0m  ", "<span class=\"t g2\">  </span>"},
        {"a<b>&\"'", "a&lt;b&gt;&amp;&quot;&#39;"},
        {"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
        /* a span per line: a line's span closes on it */
        {"\x1b[31mone\r\ntwo\x1b[0m",
         "<span class=\"t f1\">one</span>\n<span class=\"t f1\">two</span>"},
        /* colour survives the redraw that collapses: only the last state shows */
        {"\x1b[31m50%\r\x1b[32m100%\x1b[0m", "<span class=\"t f2\">100%</span>"},
        {"\xe6\x97\xa5\x1b[1m\xe6\x9c\xac", "\xe6\x97\xa5<span class=\"t b\">\xe6\x9c\xac</span>"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *h = s_html(cases[i].in, 6, 40);
        CHECK_MSG(!strcmp(h, cases[i].want), "case %zu: got [%s] want [%s]", i, h,
                  cases[i].want);
        free(h);
    }
}

/* A full-screen program: the transcript shows the normal screen it returns to (as tmux
   does); with VT_NO_ALTSCREEN the screen is its last frame, all rows. */
static void test_fullscreen(void)
{
    const char *in = "before\r\n"
                     "\x1b[?1049h\x1b[H\x1b[2Jfile line 1\r\n~\r\n~\x1b[4;1H\x1b[7m\"f\" 1L\x1b[m"
                     "\x1b[?1049lafter\r\n";
    char *got = s_transcript_text(in, strlen(in), 4, 20, 0);
    CHECK_MSG(!strcmp(got, "before\nafter"), "alt screen transcript [%s]", got);
    char *real = s_tmux_capture(in, strlen(in), 4, 20);
    if (real)
        CHECK_MSG(!strcmp(real, got), "tmux [%s] vt [%s]", real, got);
    free(real);
    free(got);

    /* the snapshot: cut just before the program's exit, and with it drawn flat */
    vt_t *vt = vt_new(4, 20, VT_NO_ALTSCREEN);
    vt_write(vt, in, strstr(in, "\x1b[?1049l") - in);
    vt_doc_t *doc = vt_screen(vt);
    CHECK(doc && doc->nlines == 4);
    l3_buf_t b;
    l3_buf_init(&b, 1 << 20);
    vt_doc_to_html(doc, &b);
    l3_buf_append_byte(&b, 0);
    CHECK_MSG(!strcmp((char *)b.data,
                      "file line 1\n~\n~\n<span class=\"t f0 g7\">&quot;f&quot; 1L</span>"),
              "snapshot [%s]", (char *)b.data);
    vt_doc_destroy(&doc);
    /* all of it flat: the program's last frame stays; leaving restores the cursor saved
       on entering (row 2), where the shell's next output lands */
    vt_write(vt, strstr(in, "\x1b[?1049l"), strlen(strstr(in, "\x1b[?1049l")));
    doc = vt_screen(vt);
    CHECK(doc && doc->nlines == 4);
    l3_buf_reset(&b);
    vt_doc_to_text(doc, &b);
    l3_buf_append_byte(&b, 0);
    CHECK_MSG(!strcmp((char *)b.data, "file line 1\nafter\n~\n\"f\" 1L"), "flat [%s]",
              (char *)b.data);
    vt_doc_destroy(&doc);
    /* an empty screen is rows empty lines */
    vt_destroy(&vt);
    vt = vt_new(3, 10, 0);
    doc = vt_screen(vt);
    CHECK(doc && doc->nlines == 3 && doc->lines[0].len == 0 && doc->lines[2].text[0] == 0);
    vt_doc_destroy(&doc);
    doc = vt_transcript(vt);
    CHECK(doc && doc->nlines == 0);
    vt_doc_destroy(&doc);
    vt_destroy(&vt);
    l3_buf_free(&b);
}

static char *s_doc_text(vt_doc_t *doc)
{
    l3_buf_t b;
    l3_buf_init(&b, 1 << 20);
    vt_doc_to_text(doc, &b);
    l3_buf_append_byte(&b, 0);
    return (char *)l3_buf_steal(&b, NULL);
}

/* vt_last_screen: the alternate screen as the program left it, whatever follows. */
static void test_last_screen(void)
{
    const char *in = "before\r\n"
                     "\x1b[?1049h\x1b[H\x1b[2Jfile line 1\r\n~\r\n~\x1b[4;1H\x1b[7m\"f\" 1L\x1b[m"
                     "\x1b[?1049lafter\r\n";
    /* fed in every split: the mode switch may come in two writes */
    for (size_t split = 0; split <= strlen(in); split++) {
        vt_t *vt = vt_new(4, 20, 0);
        vt_write(vt, in, split);
        vt_write(vt, in + split, strlen(in) - split);
        vt_doc_t *doc = vt_last_screen(vt);
        CHECK(doc && doc->nlines == 4);
        char *got = s_doc_text(doc);
        CHECK_MSG(!strcmp(got, "file line 1\n~\n~\n\"f\" 1L"), "split %zu: [%s]", split, got);
        free(got);
        vt_doc_destroy(&doc);
        vt_destroy(&vt);
    }
    /* still on the alternate screen (killed): the screen now; never on it: the screen */
    vt_t *vt = vt_new(3, 10, 0);
    vt_write(vt, "x\r\n\x1b[?1049h\x1b[Hlive", strlen("x\r\n\x1b[?1049h\x1b[Hlive"));
    vt_doc_t *doc = vt_last_screen(vt);
    char *got = s_doc_text(doc);
    CHECK_MSG(!strcmp(got, "live\n\n"), "in alt [%s]", got);
    free(got);
    vt_doc_destroy(&doc);
    vt_destroy(&vt);
    vt = vt_new(3, 10, 0);
    vt_write(vt, "top\x1b[2;1Hrow 2", strlen("top\x1b[2;1Hrow 2"));
    doc = vt_last_screen(vt);
    got = s_doc_text(doc);
    CHECK_MSG(!strcmp(got, "top\nrow 2\n"), "main [%s]", got);
    free(got);
    vt_doc_destroy(&doc);
    vt_destroy(&vt);
    /* a mark where the output paused: the exit output after it is not the last screen
       (less erases its prompt on q; vim writes "written" and scrolls, then leaves) */
    static const struct {
        const char *looked, *exit, *want;
    } marked[] = {
        {"\x1b[?1049h\x1b[H\x1b[2J1\r\n2\r\n3\r\n:", "\r\x1b[K\x1b[?1049l", "1\n2\n3\n:"},
        {"\x1b[?1049h\x1b[H\x1b[2Jline one\r\nline two\x1b[4;1H:wq", "\r\"f\" written\r\r\n\x1b[?1049l",
         "line one\nline two\n\n:wq"},
    };
    for (size_t i = 0; i < sizeof marked / sizeof marked[0]; i++) {
        vt = vt_new(4, 20, 0);
        vt_write(vt, "shell\r\n", 7);
        vt_mark(vt); /* off the alternate screen: nothing */
        vt_write(vt, marked[i].looked, strlen(marked[i].looked));
        vt_mark(vt);
        vt_write(vt, marked[i].exit, strlen(marked[i].exit));
        doc = vt_last_screen(vt);
        got = s_doc_text(doc);
        CHECK_MSG(!strcmp(got, marked[i].want), "marked %zu: [%s]", i, got);
        free(got);
        vt_doc_destroy(&doc);
        vt_destroy(&vt);
    }
    /* a mark of an earlier program does not count for the next one */
    vt = vt_new(2, 10, 0);
    vt_write(vt, "\x1b[?1049hold", 12);
    vt_mark(vt);
    vt_write(vt, "\x1b[?1049l\x1b[?1049hnew\x1b[?1049l", strlen("\x1b[?1049l\x1b[?1049hnew\x1b[?1049l"));
    doc = vt_last_screen(vt);
    got = s_doc_text(doc);
    CHECK_MSG(!strcmp(got, "new\n"), "next program [%s]", got);
    free(got);
    vt_doc_destroy(&doc);
    vt_destroy(&vt);
    /* two programs: the second one's screen; and 47/1047 like 1049 */
    vt = vt_new(2, 10, 0);
    const char *two = "\x1b[?1049hfirst\x1b[?1049l\x1b[?47hsecond\x1b[?47lout\r\n";
    vt_write(vt, two, strlen(two));
    doc = vt_last_screen(vt);
    got = s_doc_text(doc);
    CHECK_MSG(!strcmp(got, "second\n"), "second program [%s]", got);
    free(got);
    vt_doc_destroy(&doc);
    vt_destroy(&vt);
    /* switching over and over: the last one counts; a 500 x 1000 screen switched 20,000
       times stops at the budget */
    vt = vt_new(40, 50, 0);
    vt_set_budget(vt, UINT64_MAX);
    char sw[] = "\x1b[?1049hx\x1b[?1049l";
    for (int i = 0; i < 20000; i++)
        vt_write(vt, sw, sizeof sw - 1);
    vt_write(vt, "\x1b[?1049hlast\x1b[?1049l", strlen("\x1b[?1049hlast\x1b[?1049l"));
    doc = vt_last_screen(vt);
    CHECK(doc && doc->nlines == 40 && !strcmp(doc->lines[0].text, "last"));
    vt_doc_destroy(&doc);
    vt_destroy(&vt);
    vt = vt_new(VT_MAX_ROWS, VT_MAX_COLS, 0);
    for (int i = 0; i < 20000 && !vt_overrun(vt); i++)
        vt_write(vt, sw, sizeof sw - 1);
    CHECK(vt_overrun(vt));
    vt_destroy(&vt);
}

/* The work budget: a screenful of line feeds at 200 x 500 is 100,000 cells each; past
   the budget the rest is dropped and vt_overrun says so, in bounded time. */
static void test_budget(void)
{
    size_t n = 1 << 16;
    char *lf = malloc(n);
    memset(lf, '\n', n);
    vt_t *vt = vt_new(200, 500, 0);
    vt_write(vt, lf, n);
    CHECK(vt_overrun(vt));
    CHECK_MSG(vt_cost(vt) <= VT_BUDGET + 200 * 500, "cost %llu", (unsigned long long)vt_cost(vt));
    vt_destroy(&vt);
    /* an ordinary output at 24 x 80: 1,000 lines of 80 characters are well within */
    l3_buf_t b;
    l3_buf_init(&b, 1 << 20);
    for (int i = 0; i < 1000; i++)
        l3_buf_printf(&b, "%080d\r\n", i);
    vt = vt_new(24, 80, 0);
    vt_write(vt, b.data, b.len);
    CHECK(!vt_overrun(vt));
    vt_doc_t *doc = vt_transcript(vt);
    CHECK(doc && doc->nlines == 1000); /* 80 columns fill a line, CR LF starts the next */
    vt_doc_destroy(&doc);
    /* a lower budget stops it */
    vt_destroy(&vt);
    vt = vt_new(24, 80, 0);
    vt_set_budget(vt, 10000);
    vt_write(vt, b.data, b.len);
    CHECK(vt_overrun(vt) && vt_cost(vt) < 20000);
    vt_destroy(&vt);
    l3_buf_free(&b);
    free(lf);
}

/* vt_needed: only output that moves the cursor goes through the emulator. */
static void test_needed(void)
{
    static const struct {
        const char *in;
        bool want;
    } cases[] = {
        {"", false},
        {"plain\r\ntext\n\ttab\a", false},
        {"\x1b[01;34mdir\x1b[0m\r\n\x1b[m", false},
        {"grep: \x1b[01;31m\x1b[Kmatch\x1b[m\x1b[K\r\n", false},
        {"\x1b]0;title\x07text\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\r\n", false},
        {"ends with CR\r", false},
        {"50%\r100%\r\n", true},
        {"a\bb", true},
        {"\x1b[2Aup", true},
        {"\x1b[2K", true},
        {"\x1b[1K", true},
        {"\x1b[?25l", true},
        {"\x1b(0q", true},
        {"\x1b[31", true},
        {"\x1b", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_MSG(vt_needed(cases[i].in, strlen(cases[i].in)) == cases[i].want,
                  "case %zu [%s]: want %d", i, cases[i].in, cases[i].want);
}

/* vt_lines_to_html: a range of lines, matches of the query in <mark> across spans. */
static void test_lines_html(void)
{
    const char *in = "one \x1b[31mred\x1b[m word\r\ntwo\r\nthree red\r\n";
    vt_t *vt = vt_new(5, 20, 0);
    vt_write(vt, in, strlen(in));
    vt_doc_t *doc = vt_transcript(vt);
    CHECK(doc && doc->nlines == 3);
    l3_buf_t b;
    l3_buf_init(&b, 1 << 20);
    vt_lines_to_html(doc, 0, 3, "d w", &b);
    l3_buf_append_byte(&b, 0);
    CHECK_MSG(!strcmp((char *)b.data, "one <span class=\"t f1\">re</span><mark><span class=\"t "
                                      "f1\">d</span></mark><mark> w</mark>ord\ntwo\nthree red"),
              "marked [%s]", (char *)b.data);
    l3_buf_reset(&b);
    vt_lines_to_html(doc, 1, 3, "<", &b);
    l3_buf_append_byte(&b, 0);
    CHECK_MSG(!strcmp((char *)b.data, "two\nthree red"), "range [%s]", (char *)b.data);
    l3_buf_reset(&b);
    vt_lines_to_html(doc, 2, 99, NULL, &b);
    l3_buf_append_byte(&b, 0);
    CHECK_MSG(!strcmp((char *)b.data, "three red"), "past the end [%s]", (char *)b.data);
    l3_buf_free(&b);
    vt_doc_destroy(&doc);
    vt_destroy(&vt);
}

/* Past VT_MAX_SCROLLBACK the first lines are kept, the rest counted and marked. */
static void test_caps(void)
{
    vt_t *vt = vt_new(5, 20, 0);
    char line[32];
    size_t total = VT_MAX_SCROLLBACK + 20;
    for (size_t i = 0; i < total; i++) {
        int n = snprintf(line, sizeof line, "line %zu\r\n", i);
        vt_write(vt, line, (size_t)n);
    }
    vt_doc_t *doc = vt_transcript(vt);
    CHECK(doc);
    /* the screen holds lines total-4..total-1 and the empty line the cursor is on */
    CHECK_MSG(doc->nlines == VT_MAX_SCROLLBACK + 4, "nlines %zu", doc->nlines);
    CHECK_MSG(doc->dropped == total - 4 - VT_MAX_SCROLLBACK, "dropped %zu", doc->dropped);
    CHECK(doc->dropped_at == VT_MAX_SCROLLBACK);
    CHECK(!strcmp(doc->lines[0].text, "line 0"));
    CHECK(!strcmp(doc->lines[VT_MAX_SCROLLBACK - 1].text, "line 99999"));
    snprintf(line, sizeof line, "line %zu", total - 4);
    CHECK(!strcmp(doc->lines[VT_MAX_SCROLLBACK].text, line));
    l3_buf_t b;
    l3_buf_init(&b, 1 << 24);
    vt_doc_to_html(doc, &b);
    l3_buf_append_byte(&b, 0);
    CHECK(strstr((char *)b.data,
                 "line 99999\n<span class=\"t d\">[16 more lines not kept]</span>\nline 100016"));
    /* an output limit cuts the HTML and says so */
    l3_buf_t small;
    l3_buf_init(&small, 1000);
    CHECK(!vt_doc_to_html(doc, &small));
    CHECK(small.len <= 1000);
    l3_buf_free(&small);
    l3_buf_free(&b);
    vt_doc_destroy(&doc);
    vt_destroy(&vt);

    /* sizes out of range are clamped, not trusted */
    vt = vt_new(1 << 30, 1 << 30, 0);
    CHECK(vt);
    vt_write(vt, "x", 1);
    doc = vt_screen(vt);
    CHECK(doc && doc->nlines == VT_MAX_ROWS);
    vt_doc_destroy(&doc);
    vt_destroy(&vt);
    vt = vt_new(0, -5, 0);
    CHECK(vt);
    doc = vt_screen(vt);
    CHECK(doc && doc->nlines == 24);
    vt_doc_destroy(&doc);
    vt_destroy(&vt);
    vt_destroy(&vt);
    vt_destroy(NULL);
    vt_doc_destroy(NULL);
}

/* Random bytes from terminal-ish symbols: clean UTF-8 out, balanced spans. */
static void test_random(void)
{
    static const char *atoms[] = {"\x1b[", "\x1b", ";", "m", "H", "A", "B", "K", "J", "L",
                                  "M", "r", "?1049h", "?1049l", "?6h", "1", "9", "99999999",
                                  "\r", "\n", "\t", "\b", "\xe6\x97\xa5", "\xff", "\xc3", "a",
                                  "<", "&", "\x1b]", "\x07", "\xcc\x81", "@", "P", "g", "7",
                                  "8", "\x1b" "D", "\x1b" "M", "\x1b(0", "q"};
    srand(11);
    for (int k = 0; k < 3000; k++) {
        char buf[512];
        size_t len = 0;
        int atoms_n = rand() % 60;
        for (int a = 0; a < atoms_n; a++) {
            const char *s = atoms[rand() % (sizeof atoms / sizeof atoms[0])];
            size_t n = strlen(s);
            if (len + n >= sizeof buf)
                break;
            memcpy(buf + len, s, n);
            len += n;
        }
        l3_buf_t b;
        l3_buf_init(&b, 1 << 20);
        vt_to_html(buf, len, 1 + rand() % 8, 1 + rand() % 30, &b);
        CHECK_MSG(s_clean_text(b.data, b.len), "random %d: not clean", k);
        int depth = 0;
        for (size_t i = 0; i < b.len; i++) {
            if (b.data[i] != '<')
                continue;
            if (!strncmp((char *)b.data + i, "<span class=\"t", 14))
                depth++;
            else if (!strncmp((char *)b.data + i, "</span>", 7))
                depth--;
            else
                depth = 99;
            CHECK_MSG(depth == 0 || depth == 1, "random %d: bad markup", k);
        }
        CHECK_MSG(depth == 0, "random %d: unbalanced", k);
        l3_buf_free(&b);
    }
}

int main(void)
{
    test_text_cases();
    test_html();
    test_fullscreen();
    test_last_screen();
    test_needed();
    test_budget();
    test_lines_html();
    test_caps();
    test_random();
    TEST_DONE();
}
