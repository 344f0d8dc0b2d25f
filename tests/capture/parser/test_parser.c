/*  test_parser — table-driven tests of the byte-stream parser over synthetic .script
    streams (marks built with the session nonce as the shell hook writes them), plus the
    chunking test: every split point, random chunk sizes, and resume from saved state at
    every offset must give the same records as one whole feed. */
#include "l3_sha256.h"
#include "l3_xmlrec.h"
#include "parser.h"
#include "test_util.h"

#include <signal.h>
#include <stdint.h>

/* The recorder's hash chain (agent/rec_marks.h) for the tests: x0 = 32 bytes of 0x5a,
   anchor = H^T_REC_N(x0); the k-th mark reveals H^(T_REC_N-k)(x0). */
#define T_REC_N 16
static char t_rec_anchor[2 * L3_SHA256_LEN + 1];

static void t_rec_value(int i, uint8_t out[L3_SHA256_LEN])
{
    memset(out, 0x5a, L3_SHA256_LEN);
    for (int k = 0; k < i; k++)
        l3_sha256(out, L3_SHA256_LEN, out);
}

static void t_rec_init(void)
{
    uint8_t x[L3_SHA256_LEN];
    t_rec_value(T_REC_N, x);
    for (int i = 0; i < L3_SHA256_LEN; i++)
        sprintf(t_rec_anchor + 2 * i, "%02x", x[i]);
}

/* The k-th recorder mark (k from 1) with verb, as l3-rec writes it into .script. */
static void t_rec_mark(l3_buf_t *b, int k, const char *verb)
{
    uint8_t x[L3_SHA256_LEN];
    t_rec_value(T_REC_N - k, x);
    t_put(b, "\x1b]6973;rec;");
    for (int i = 0; i < L3_SHA256_LEN; i++)
        l3_buf_printf(b, "%02x", x[i]);
    l3_buf_printf(b, ";%s\x07", verb);
}

#define MAX_RECS 64

typedef struct {
    l3_record_t recs[MAX_RECS];
    l3_parser_extra_t extra[MAX_RECS];
    int n;
    l3_buf_t xml; /* every record as its XML line, for whole-stream comparison */
    uint64_t seq;
} sink_t;

static void s_on_record(void *arg, l3_record_t *rec, const l3_parser_extra_t *extra)
{
    sink_t *sink = arg;
    l3_text_set(rec->agent, sizeof(rec->agent), "test");
    rec->epoch = 1;
    rec->seq = ++sink->seq;
    l3_text_set(rec->host, sizeof(rec->host), "host");
    l3_text_set(rec->user, sizeof(rec->user), "user");
    l3_text_set(rec->sid, sizeof(rec->sid), "sid1");
    char err[200];
    if (!l3_record_validate(rec, err, sizeof(err))) {
        fprintf(stderr, "invalid record: %s\n", err);
        t_failures++;
        return;
    }
    l3_xmlrec_write(rec, &sink->xml);
    if (sink->n < MAX_RECS) {
        l3_record_init(&sink->recs[sink->n]);
        l3_record_copy(&sink->recs[sink->n], rec);
        sink->extra[sink->n] = *extra;
        sink->n++;
    }
}

static void s_sink_init(sink_t *sink)
{
    memset(sink, 0, sizeof(*sink));
    l3_buf_init(&sink->xml, 0);
}

static void s_sink_clear(sink_t *sink)
{
    for (int i = 0; i < sink->n; i++)
        l3_record_clear(&sink->recs[i]);
    l3_buf_free(&sink->xml);
}

static l3_parser_t *s_parser(sink_t *sink, size_t cap, l3_parser_mode_t mode)
{
    l3_parser_opts_t opts = {.mode = mode,
                             .nonce = T_NONCE,
                             .rec_anchor = t_rec_anchor,
                             .output_cap = cap,
                             .on_record = s_on_record,
                             .arg = sink};
    return l3_parser_new(&opts);
}

static bool s_bytes_eq(const l3_bytes_t *b, const char *s)
{
    return b->len == strlen(s) && (b->len == 0 || memcmp(b->data, s, b->len) == 0);
}

/* ------------------------------------------------------------------------------------ */
/* Table-driven cases                                                                    */

typedef struct {
    const char *name;
    void (*build)(l3_buf_t *b);
    size_t cap;
    int records;        /* expected command records */
    int check;          /* which record the checks below apply to (0-based) */
    const char *cmdline;
    const char *cwd;
    const char *output; /* NULL = not checked */
    int exit_code;      /* -1 = none */
    int signal;
    uint32_t flags;
    const char *token;
} case_t;

static void b_simple(l3_buf_t *b)
{
    t_command(b, "/home/user", "ls -l", "total 0\r\n-rw-r--r-- 1 u u 0 a\r\n", "0");
}
static void b_exit(l3_buf_t *b)
{
    t_command(b, "/", "false", "", "1");
}
static void b_signal(l3_buf_t *b)
{
    //  The recorder saw Ctrl-C typed during the command: 130 is SIGINT.
    t_command(b, "/tmp", "sleep 100", NULL, NULL);
    t_rec_mark(b, 1, "interrupt");
    t_put(b, "^C\r\n");
    t_mark(b, "D", "130");
}
/* Statuses (docs/capture.md): a signal only with evidence, else the exit code, ambiguous. */
static void b_exit130(l3_buf_t *b)
{
    t_command(b, "/", "sh -c 'exit 130'", "", "130");
}
static void b_term_no_key(l3_buf_t *b)
{
    //  Ctrl-C typed, but the status says SIGTERM: no evidence for that.
    t_command(b, "/", "sh -c 'kill -TERM $$'", NULL, NULL);
    t_rec_mark(b, 1, "interrupt");
    t_mark(b, "D", "143");
}
static void b_key_at_prompt(l3_buf_t *b)
{
    t_mark(b, "A", NULL);
    t_rec_mark(b, 1, "interrupt");
    t_command(b, "/", "sh -c 'exit 130'", "", "130");
}
static void b_quit(l3_buf_t *b)
{
    t_command(b, "/", "cat", NULL, NULL);
    t_rec_mark(b, 1, "quit");
    t_put(b, "^\\Quit (core dumped)\r\n");
    t_mark(b, "D", "131");
}
static void b_suspend(l3_buf_t *b)
{
    t_command(b, "/", "vi", NULL, NULL);
    t_rec_mark(b, 1, "interrupt");
    t_rec_mark(b, 2, "suspend");
    t_mark(b, "D", "148");
}
static void b_rec_forged(l3_buf_t *b)
{
    //  Out of order (the 2nd value before the 1st), a made-up one, the anchor itself.
    l3_buf_t out;
    l3_buf_init(&out, 0);
    t_rec_mark(&out, 2, "interrupt");
    t_put(&out, "\x1b]6973;rec;00000000000000000000000000000000000000000000000000000000000000ff;interrupt\x07");
    l3_buf_printf(&out, "\x1b]6973;rec;%s;interrupt\x07", t_rec_anchor);
    t_put(&out, "^C");
    l3_buf_append_byte(&out, 0);
    t_command(b, "/", "cat evil", (const char *) out.data, NULL);
    t_mark(b, "D", "130");
    l3_buf_free(&out);
}
static void b_rec_replayed(l3_buf_t *b)
{
    //  A valid mark, then the very same bytes printed again (cat of the spool).
    t_command(b, "/", "sleep 1", NULL, NULL);
    t_rec_mark(b, 1, "interrupt");
    t_mark(b, "D", "130");
    l3_buf_t out;
    l3_buf_init(&out, 0);
    t_rec_mark(&out, 1, "interrupt");
    l3_buf_append_byte(&out, 0);
    t_command(b, "/", "cat spool", (const char *) out.data, NULL);
    t_mark(b, "D", "130");
    l3_buf_free(&out);
}
static void b_hangup(l3_buf_t *b)
{
    //  The terminal went away: the shell's EXIT trap then reports a stale $? of 0.
    t_command(b, "/", "sleep 100", "x", NULL);
    t_rec_mark(b, 1, "hangup");
    t_mark(b, "D", "0");
}
static void b_hangup_129(l3_buf_t *b)
{
    t_command(b, "/", "sleep 100", "", NULL);
    t_rec_mark(b, 1, "hangup");
    t_mark(b, "D", "129");
}
static void b_hangup_no_d(l3_buf_t *b)
{
    t_command(b, "/", "sleep 100", "", NULL);
    t_rec_mark(b, 1, "hangup");
}
static void b_hangup_prompt(l3_buf_t *b)
{
    //  A hangup at the prompt says nothing about the last command.
    t_command(b, "/", "sh -c 'exit 129'", "", "129");
    t_mark(b, "A", NULL);
    t_rec_mark(b, 1, "hangup");
}
/* Full screen on the main screen (parser.h). */
static void b_top(l3_buf_t *b)
{
    l3_buf_t out;
    l3_buf_init(&out, 0);
    t_put(&out, "\x1b[?1h\x1b=\x1b[?25l\x1b[H\x1b[2J");
    for (int i = 0; i < 5; i++) {
        if (i)
            t_put(&out, "\x1b[H");
        l3_buf_printf(&out, "top - frame %d\x1b[K\r\nTasks: 1\x1b[K\r\n", i);
    }
    l3_buf_append_byte(&out, 0);
    t_command(b, "/", "top", (const char *) out.data, "0");
    l3_buf_free(&out);
}
static void b_four_clears(l3_buf_t *b)
{
    t_command(b, "/", "watch-ish", "\x1b[H\x1b[2J1\x1b[H\x1b[2J2\x1b[1;1H\x1b[2J3\x1b[;H\x1b[2J4", "0");
}
static void b_three_clears(l3_buf_t *b)
{
    t_command(b, "/", "clear; a; clear; b", "\x1b[H\x1b[2J1\x1b[H\x1b[2J2\x1b[H\x1b[2J3", "0");
}
static void b_rows(l3_buf_t *b)
{
    l3_buf_t out;
    l3_buf_init(&out, 0);
    for (int row = 2; row <= 14; row++)
        l3_buf_printf(&out, "\x1b[%d;5Hfield %d", row, row);
    l3_buf_append_byte(&out, 0);
    t_command(b, "/", "form", (const char *) out.data, "0");
    l3_buf_free(&out);
}
static void b_clear_once(l3_buf_t *b)
{
    t_command(b, "/", "clear; echo x", "\x1b[H\x1b[2J\x1b[3Jx\r\n", "0");
}
static void b_progress(l3_buf_t *b)
{
    l3_buf_t out;
    l3_buf_init(&out, 0);
    for (int i = 1; i <= 20; i++)
        l3_buf_printf(&out, "\r[%.*s%*s] %d%%\x1b[K", i, "####################", 20 - i, "",
                      i * 5);
    t_put(&out, "\r\n\x1b[1A\x1b[2K\x1b[0J\x1b[?2Jdone\r\n");
    l3_buf_append_byte(&out, 0);
    t_command(b, "/", "progress", (const char *) out.data, "0");
    l3_buf_free(&out);
}
static void b_status_line(l3_buf_t *b)
{
    //  apt's progress: the last row, reached by absolute positioning, again and again.
    l3_buf_t out;
    l3_buf_init(&out, 0);
    for (int i = 1; i <= 20; i++)
        l3_buf_printf(&out, "line %d\r\n\x1b" "7\x1b[24;1HProgress: %d%%\x1b" "8", i, i * 5);
    l3_buf_append_byte(&out, 0);
    t_command(b, "/", "apt upgrade", (const char *) out.data, "0");
    l3_buf_free(&out);
}
static void b_ls_color(l3_buf_t *b)
{
    t_command(b, "/", "ls --color", "\x1b[0m\x1b[01;34mdir\x1b[0m  \x1b[01;32mrun.sh\x1b[0m\r\n", "0");
}
static void b_cwd(l3_buf_t *b)
{
    t_command(b, "/home/user", "cd /etc", "", "0");
    t_command(b, "/etc", "pwd", "/etc\r\n", "0");
}
static void b_multiline(l3_buf_t *b)
{
    t_command(b, "/", "for i in 1 2\ndo echo $i\ndone", "1\r\n2\r\n", "0");
}
static void b_forged(l3_buf_t *b)
{
    //  cat evil.txt: a mark with a wrong nonce, one with none, standard OSC 133 and 7.
    l3_buf_t out;
    l3_buf_init(&out, 0);
    t_mark_n(&out, "ffffffffffffffffffffffffffffffff", "C", "rm -rf /");
    t_mark_n(&out, NULL, "D", "0");
    t_put(&out, "\x1b]133;C\x07\x1b]133;D;0\x07\x1b]7;file://h/tmp\x1b\\");
    l3_buf_append_byte(&out, 0);
    t_command(b, "/", "cat evil.txt", (const char *) out.data, "0");
    l3_buf_free(&out);
    //  And the same outside any command: no record from it either.
    t_mark_n(b, "0123456789abcdef0123456789abcdeX", "C", "evil");
    t_put(b, "\x1b]133;C\x07\x1b]133;D;0\x07");
}
static void b_cyrillic(l3_buf_t *b)
{
    t_command(b, "/home/юзер", "echo привет", "привет\r\n", "0");
}
static void b_invalid(l3_buf_t *b)
{
    t_command(b, "/", "printf '\\xff'", "\xff\xfe\xc0\x80 ok\r\n", "0");
}
static void b_alt(l3_buf_t *b)
{
    t_command(b, "/", "vim x", "before\x1b[?1049h\x1b[2JSCREEN\x1b[?1049l\x1b[0mafter\r\n", "0");
}
static void b_nest(l3_buf_t *b)
{
    t_command(b, "/", "su -", "Password: \r\n", NULL);
    t_put(b, "\x1b]6973;nest;begin;host/20260101T000000-1-abcd\x07");
    t_put(b, "inner prompt and commands\r\n");
    t_put(b, "\x1b]6973;nest;end;host/20260101T000000-1-abcd\x07");
    t_put(b, "logout\r\n");
    t_mark(b, "D", "0");
}
static void b_cap(l3_buf_t *b)
{
    l3_buf_t out;
    l3_buf_init(&out, 0);
    for (int i = 0; i < 200; i++)
        l3_buf_append_byte(&out, (uint8_t) ('A' + i % 26));
    l3_buf_append_byte(&out, 0);
    t_command(b, "/", "yes", (const char *) out.data, "0");
    l3_buf_free(&out);
}
static void b_interrupted_end(l3_buf_t *b)
{
    t_command(b, "/", "ok", "", "0");
    t_command(b, "/", "sleep 1000", "partial", NULL);
}
static void b_interrupted_a(l3_buf_t *b)
{
    t_command(b, "/", "exec bash", "", NULL);
    t_command(b, "/", "true", "", "0");
}
static void b_st(l3_buf_t *b)
{
    t_put(b, "\x1b]6973;" T_NONCE ";C;echo%20hi\x1b\\hi\r\n\x1b]6973;" T_NONCE ";D;0\x1b\\");
}
static void b_empty_prompt(l3_buf_t *b)
{
    t_mark(b, "A", NULL);
    t_put(b, "$ ");
    t_mark(b, "B", NULL);
    t_put(b, "^C\r\n");
    t_mark(b, "A", NULL);
    t_put(b, "$ ");
    t_mark(b, "B", NULL);
}
static void b_edit(l3_buf_t *b)
{
    t_command(b, "/etc", "vi hosts", "", NULL);
    t_mark(b, "E", "tok123");
    t_mark(b, "D", "0");
}
static void b_background(l3_buf_t *b)
{
    t_command(b, "/", "sleep 1 &", "[1] 42\r\n", "0");
}
static void b_broken_seqs(l3_buf_t *b)
{
    //  Garbage escapes in the output: aborted CSI, ESC ESC, CAN in a mark, DCS, APC.
    t_command(b, "/", "cat junk",
              "\x1b[12\x1b\x1b[1;2\x18x\x1bP1;2|abc\x1b\\\x1b_apc\x07more\x1b\\"
              "\x1b]6973;" T_NONCE "\x18!\r\n",
              "0");
}

static void b_hook133(l3_buf_t *b)
{
    //  The bash hook prints OSC 133;C right after our C mark: not the command's output.
    t_command(b, "/", "echo hi", "\x1b]133;C\x07hi\r\n\x1b]133;C\x07", "0");
}

static const case_t s_cases[] = {
    {"hook's OSC 133 C", b_hook133, 0, 1, 0, "echo hi", "/", "hi\r\n\x1b]133;C\x07", 0, 0, 0, ""},
    {"simple", b_simple, 0, 1, 0, "ls -l", "/home/user", "total 0\r\n-rw-r--r-- 1 u u 0 a\r\n",
     0, 0, 0, ""},
    {"exit code", b_exit, 0, 1, 0, "false", "/", "", 1, 0, 0, ""},
    {"signal after ctrl-c", b_signal, 0, 1, 0, "sleep 100", "/tmp", "^C\r\n", 130, 2, 0, ""},
    {"exit 130: ambiguous", b_exit130, 0, 1, 0, "sh -c 'exit 130'", "/", "", 130, 0,
     L3_FLAG_AMBIGUOUS, ""},
    {"143 after ctrl-c: ambiguous", b_term_no_key, 0, 1, 0, "sh -c 'kill -TERM $$'", "/", "", 143,
     0, L3_FLAG_AMBIGUOUS, ""},
    {"ctrl-c at the prompt", b_key_at_prompt, 0, 1, 0, "sh -c 'exit 130'", "/", "", 130, 0,
     L3_FLAG_AMBIGUOUS, ""},
    {"quit key", b_quit, 0, 1, 0, "cat", "/", "^\\Quit (core dumped)\r\n", 131, SIGQUIT, 0, ""},
    {"suspend key", b_suspend, 0, 1, 0, "vi", "/", "", 148, SIGTSTP, 0, ""},
    {"forged recorder marks", b_rec_forged, 0, 1, 0, "cat evil", "/", NULL, 130, 0,
     L3_FLAG_AMBIGUOUS, ""},
    {"replayed recorder mark", b_rec_replayed, 0, 2, 1, "cat spool", "/", NULL, 130, 0,
     L3_FLAG_AMBIGUOUS, ""},
    {"hangup, stale D", b_hangup, 0, 1, 0, "sleep 100", "/", "x", -1, SIGHUP, L3_FLAG_HANGUP, ""},
    {"hangup, D 129", b_hangup_129, 0, 1, 0, "sleep 100", "/", "", 129, SIGHUP, L3_FLAG_HANGUP,
     ""},
    {"hangup, no D", b_hangup_no_d, 0, 1, 0, "sleep 100", "/", "", -1, SIGHUP,
     L3_FLAG_HANGUP | L3_FLAG_INTERRUPTED, ""},
    {"hangup at the prompt", b_hangup_prompt, 0, 1, 0, "sh -c 'exit 129'", "/", "", 129, 0,
     L3_FLAG_AMBIGUOUS, ""},
    {"top redraws the main screen", b_top, 0, 1, 0, "top", "/", NULL, 0, 0, L3_FLAG_FULLSCREEN,
     ""},
    {"four screens from the top", b_four_clears, 0, 1, 0, "watch-ish", "/",
     "\x1b[H\x1b[2J1\x1b[H\x1b[2J2\x1b[1;1H\x1b[2J3\x1b[;H\x1b[2J4", 0, 0, L3_FLAG_FULLSCREEN,
     ""},
    {"three screens from the top", b_three_clears, 0, 1, 0, "clear; a; clear; b", "/", NULL, 0,
     0, 0, ""},
    {"absolute rows", b_rows, 0, 1, 0, "form", "/", NULL, 0, 0, L3_FLAG_FULLSCREEN, ""},
    {"clear once", b_clear_once, 0, 1, 0, "clear; echo x", "/", "\x1b[H\x1b[2J\x1b[3Jx\r\n", 0,
     0, 0, ""},
    {"progress bar", b_progress, 0, 1, 0, "progress", "/", NULL, 0, 0, 0, ""},
    {"status line on the last row", b_status_line, 0, 1, 0, "apt upgrade", "/", NULL, 0, 0, 0,
     ""},
    {"ls --color", b_ls_color, 0, 1, 0, "ls --color", "/", NULL, 0, 0, 0, ""},
    {"cwd change", b_cwd, 0, 2, 1, "pwd", "/etc", "/etc\r\n", 0, 0, 0, ""},
    {"multi-line command", b_multiline, 0, 1, 0, "for i in 1 2\ndo echo $i\ndone", "/",
     "1\r\n2\r\n", 0, 0, 0, ""},
    {"forged marks", b_forged, 0, 1, 0, "cat evil.txt", "/", NULL, 0, 0, 0, ""},
    {"cyrillic", b_cyrillic, 0, 1, 0, "echo привет", "/home/юзер", "привет\r\n", 0, 0, 0, ""},
    {"invalid bytes", b_invalid, 0, 1, 0, "printf '\\xff'", "/", "\xff\xfe\xc0\x80 ok\r\n", 0, 0,
     0, ""},
    /* everything, the full-screen part and its switches too: the replay and the journal's
       last screen need them */
    {"alternate screen", b_alt, 0, 1, 0, "vim x", "/",
     "before\x1b[?1049h\x1b[2JSCREEN\x1b[?1049l\x1b[0mafter\r\n", 0, 0, L3_FLAG_FULLSCREEN, ""},
    {"nested session", b_nest, 0, 1, 0, "su -", "/", "Password: \r\nlogout\r\n", 0, 0,
     L3_FLAG_NESTED, ""},
    {"output cap", b_cap, 64, 1, 0, "yes", "/", NULL, 0, 0, L3_FLAG_TRUNCATED, ""},
    {"interrupted at end", b_interrupted_end, 0, 2, 1, "sleep 1000", "/", "partial", -1, 0,
     L3_FLAG_INTERRUPTED, ""},
    {"interrupted by prompt", b_interrupted_a, 0, 2, 0, "exec bash", "/", "", -1, 0,
     L3_FLAG_INTERRUPTED, ""},
    {"ST terminator", b_st, 0, 1, 0, "echo hi", "", "hi\r\n", 0, 0, 0, ""},
    {"prompt without command", b_empty_prompt, 0, 0, 0, NULL, NULL, NULL, 0, 0, 0, ""},
    {"editor mark", b_edit, 0, 1, 0, "vi hosts", "/etc", "", 0, 0, 0, "tok123"},
    {"background", b_background, 0, 1, 0, "sleep 1 &", "/", "[1] 42\r\n", 0, 0,
     L3_FLAG_BACKGROUND, ""},
    {"broken sequences", b_broken_seqs, 0, 1, 0, "cat junk", "/",
     "\x1b[12\x1b\x1b[1;2\x18x\x1bP1;2|abc\x1b\\\x1b_apc\x07more\x1b\\"
     "\x1b]6973;" T_NONCE "\x18!\r\n",
     0, 0, 0, ""},
};

static void s_run_case(const case_t *c)
{
    l3_buf_t b;
    l3_buf_init(&b, 0);
    c->build(&b);
    sink_t sink;
    s_sink_init(&sink);
    l3_parser_t *p = s_parser(&sink, c->cap, L3_PARSER_MARKS);
    l3_parser_feed(p, b.data, b.len, 1700000000000000LL);
    l3_parser_finish(p, 1700000001000000LL);
    CHECK_MSG(sink.n == c->records, "%s: %d records, expected %d", c->name, sink.n, c->records);
    if (sink.n > c->check && c->records) {
        l3_record_t *r = &sink.recs[c->check];
        CHECK_MSG(r->nr == (uint64_t) c->check + 1, "%s: nr %llu", c->name,
                  (unsigned long long) r->nr);
        CHECK_MSG(s_bytes_eq(&r->cmdline, c->cmdline), "%s: cmdline '%.*s'", c->name,
                  (int) r->cmdline.len, r->cmdline.data);
        CHECK_MSG(s_bytes_eq(&r->cwd, c->cwd), "%s: cwd '%.*s'", c->name, (int) r->cwd.len,
                  r->cwd.data);
        if (c->output)
            CHECK_MSG(s_bytes_eq(&r->output, c->output), "%s: output '%.*s'", c->name,
                      (int) r->output.len, r->output.data);
        if (c->exit_code < 0)
            CHECK_MSG(!r->has_exit, "%s: has exit", c->name);
        else
            CHECK_MSG(r->has_exit && r->exit_code == c->exit_code, "%s: exit %d", c->name,
                      r->exit_code);
        CHECK_MSG(r->signal == c->signal, "%s: signal %d", c->name, r->signal);
        CHECK_MSG(r->flags == c->flags, "%s: flags 0x%x", c->name, r->flags);
        //  A nested session's command names the inner session; no other command does.
        const char *want_nested = (c->flags & L3_FLAG_NESTED) ? "host/20260101T000000-1-abcd" : "";
        CHECK_MSG(strcmp(r->nested, want_nested) == 0, "%s: nested '%s'", c->name, r->nested);
        CHECK_MSG(strcmp(sink.extra[c->check].edit_token, c->token) == 0, "%s: token '%s'",
                  c->name, sink.extra[c->check].edit_token);
    }
    l3_parser_destroy(&p);
    s_sink_clear(&sink);
    l3_buf_free(&b);
}

/* Specific checks the table cannot express. */
static void s_test_details(void)
{
    //  Forged: the output holds the forged marks verbatim.
    l3_buf_t b;
    l3_buf_init(&b, 0);
    b_forged(&b);
    sink_t sink;
    s_sink_init(&sink);
    l3_parser_t *p = s_parser(&sink, 0, L3_PARSER_MARKS);
    l3_parser_feed(p, b.data, b.len, 1700000000000000LL);
    l3_parser_finish(p, 1700000000000000LL);
    CHECK(sink.n == 1);
    if (sink.n == 1) {
        l3_bytes_t *o = &sink.recs[0].output;
        CHECK(memmem(o->data, o->len, "ffffffffffffffffffffffffffffffff;C;rm%20-rf%20/\x07", 48));
        CHECK(memmem(o->data, o->len, "\x1b]6973;D;0\x07", 11));
        CHECK(memmem(o->data, o->len, "\x1b]7;file://h/tmp\x1b\\", 18));
    }
    CHECK(l3_parser_forged(p) == 3);
    l3_parser_destroy(&p);
    s_sink_clear(&sink);
    l3_buf_reset(&b);

    //  Output cap: head and tail kept, dropped counted.
    b_cap(&b);
    s_sink_init(&sink);
    p = s_parser(&sink, 64, L3_PARSER_MARKS);
    l3_parser_feed(p, b.data, b.len, 1700000000000000LL);
    CHECK(sink.n == 1);
    if (sink.n == 1) {
        l3_record_t *r = &sink.recs[0];
        CHECK(r->output.len == 64);
        CHECK(r->output_head == 32);
        CHECK(r->dropped == 200 - 64);
        bool ok = true;
        for (int i = 0; i < 32; i++)
            ok = ok && r->output.data[i] == 'A' + i % 26;
        for (int i = 0; i < 32; i++)
            ok = ok && r->output.data[32 + i] == 'A' + (168 + i) % 26;
        CHECK(ok);
    }
    l3_parser_destroy(&p);
    s_sink_clear(&sink);
    l3_buf_reset(&b);

    //  Times and timing: start at C, end at D, timing lines sum to the output.
    s_sink_init(&sink);
    p = s_parser(&sink, 0, L3_PARSER_MARKS);
    t_mark(&b, "C", "make");
    l3_parser_feed(p, b.data, b.len, 1000000);
    l3_parser_feed(p, "abc", 3, 1500000);
    l3_parser_feed(p, "de", 2, 3000000);
    l3_buf_reset(&b);
    t_mark(&b, "D", "2");
    l3_parser_feed(p, b.data, b.len, 4000000);
    CHECK(sink.n == 1);
    if (sink.n == 1) {
        l3_record_t *r = &sink.recs[0];
        CHECK(r->start_us == 1000000 && r->end_us == 4000000);
        CHECK_MSG(s_bytes_eq(&r->timing, "0.500000 3\n1.500000 2\n"), "timing '%.*s'",
                  (int) r->timing.len, r->timing.data);
        CHECK(r->exit_code == 2 && r->signal == 0);
    }
    l3_parser_destroy(&p);
    s_sink_clear(&sink);
    l3_buf_free(&b);
}

/* ------------------------------------------------------------------------------------ */
/* Chunking and resume                                                                   */

/* A stream with everything in it, cut into "timing chunks" of varying size and time. */
typedef struct {
    l3_buf_t bytes;
    size_t *ends; /* chunk i covers [ends[i-1], ends[i]) */
    int64_t *times;
    size_t chunks;
} stream_t;

static void s_stream_build(stream_t *s)
{
    //  Cases that add no state of their own to the chunking test (its cost grows with the
    //  square of the stream's length, and the sanitizer build must stay quick).
    static void (*const skip[])(l3_buf_t *) = {
        b_exit130, b_term_no_key, b_key_at_prompt, b_quit,        b_rec_forged,
        b_rec_replayed, b_hangup_129, b_hangup_prompt, b_three_clears, b_clear_once,
        b_progress, b_status_line,  b_ls_color};
    l3_buf_init(&s->bytes, 0);
    for (size_t i = 0; i < sizeof(s_cases) / sizeof(s_cases[0]); i++) {
        bool skipped = false;
        for (size_t k = 0; k < sizeof(skip) / sizeof(skip[0]); k++)
            skipped = skipped || s_cases[i].build == skip[k];
        if (!skipped)
            s_cases[i].build(&s->bytes);
    }
    //  Some binary junk between commands and inside one.
    t_command(&s->bytes, "/", "head -c 300 /dev/urandom", NULL, NULL);
    uint32_t x = 12345;
    for (int i = 0; i < 300; i++) {
        x = x * 1103515245 + 12345;
        l3_buf_append_byte(&s->bytes, (uint8_t) (x >> 16));
    }
    t_mark(&s->bytes, "D", "0");
    s->ends = calloc(s->bytes.len + 1, sizeof(size_t));
    s->times = calloc(s->bytes.len + 1, sizeof(int64_t));
    size_t at = 0;
    s->chunks = 0;
    int64_t t = 1700000000000000LL;
    while (at < s->bytes.len) {
        x = x * 1103515245 + 12345;
        size_t n = 1 + (x >> 16) % 97;
        at = at + n < s->bytes.len ? at + n : s->bytes.len;
        t += (x >> 8) % 300000;
        s->ends[s->chunks] = at;
        s->times[s->chunks] = t;
        s->chunks++;
    }
}

/* Feed [from, to) of the stream, respecting chunk times. */
static void s_stream_feed(stream_t *s, l3_parser_t *p, size_t from, size_t to)
{
    size_t start = 0;
    for (size_t i = 0; i < s->chunks && from < to; i++) {
        size_t end = s->ends[i];
        if (end > from) {
            size_t a = from > start ? from : start;
            size_t b = end < to ? end : to;
            if (b > a) {
                l3_parser_feed(p, s->bytes.data + a, b - a, s->times[i]);
                from = b;
            }
        }
        start = end;
    }
}

static void s_test_chunking(void)
{
    stream_t s;
    s_stream_build(&s);
    int64_t end_time = s.times[s.chunks - 1] + 1;
    size_t caps[] = {0, 100};
    for (size_t ci = 0; ci < 2; ci++) {
        size_t cap = caps[ci];
        sink_t ref;
        s_sink_init(&ref);
        l3_parser_t *p = s_parser(&ref, cap, L3_PARSER_MARKS);
        s_stream_feed(&s, p, 0, s.bytes.len);
        l3_parser_finish(p, end_time);
        l3_parser_destroy(&p);
        CHECK(ref.n > 15);

        int split_bad = 0, resume_bad = 0, random_bad = 0;
        l3_buf_t blob;
        l3_buf_init(&blob, 0);
        //  Every split point with the default cap; every third with the small cap (its
        //  head/ring paths are what differs, and the sanitizer build must stay quick).
        for (size_t k = 0; k <= s.bytes.len; k += ci ? 3 : 1) {
            //  One split at k.
            sink_t got;
            s_sink_init(&got);
            p = s_parser(&got, cap, L3_PARSER_MARKS);
            s_stream_feed(&s, p, 0, k);
            s_stream_feed(&s, p, k, s.bytes.len);
            l3_parser_finish(p, end_time);
            if (got.xml.len != ref.xml.len || memcmp(got.xml.data, ref.xml.data, ref.xml.len))
                split_bad++;
            //  Save at k, continue in a fresh parser from the blob.
            l3_parser_destroy(&p);
            s_sink_clear(&got);
            s_sink_init(&got);
            p = s_parser(&got, cap, L3_PARSER_MARKS);
            s_stream_feed(&s, p, 0, k);
            l3_buf_reset(&blob);
            CHECK(l3_parser_save(p, &blob));
            CHECK(l3_parser_offset(p) == k);
            l3_parser_destroy(&p);
            p = s_parser(&got, cap, L3_PARSER_MARKS);
            if (!l3_parser_load(p, blob.data, blob.len))
                resume_bad++;
            s_stream_feed(&s, p, k, s.bytes.len);
            l3_parser_finish(p, end_time);
            if (got.xml.len != ref.xml.len || memcmp(got.xml.data, ref.xml.data, ref.xml.len))
                resume_bad++;
            l3_parser_destroy(&p);
            s_sink_clear(&got);
        }
        uint32_t x = 99;
        for (int round = 0; round < 80; round++) {
            sink_t got;
            s_sink_init(&got);
            p = s_parser(&got, cap, L3_PARSER_MARKS);
            size_t at = 0;
            while (at < s.bytes.len) {
                x = x * 1103515245 + 12345;
                size_t n = 1 + (x >> 16) % (round % 2 ? 7 : 300);
                size_t to = at + n < s.bytes.len ? at + n : s.bytes.len;
                s_stream_feed(&s, p, at, to);
                at = to;
            }
            l3_parser_finish(p, end_time);
            if (got.xml.len != ref.xml.len || memcmp(got.xml.data, ref.xml.data, ref.xml.len))
                random_bad++;
            l3_parser_destroy(&p);
            s_sink_clear(&got);
        }
        CHECK_MSG(split_bad == 0, "cap %zu: %d split points differ", cap, split_bad);
        CHECK_MSG(resume_bad == 0, "cap %zu: %d resume points differ", cap, resume_bad);
        CHECK_MSG(random_bad == 0, "cap %zu: %d random chunkings differ", cap, random_bad);
        l3_buf_free(&blob);
        s_sink_clear(&ref);
    }
    //  A corrupt blob is refused, and the parser still works.
    sink_t got;
    s_sink_init(&got);
    l3_parser_t *p = s_parser(&got, 0, L3_PARSER_MARKS);
    l3_buf_t blob;
    l3_buf_init(&blob, 0);
    s_stream_feed(&s, p, 0, s.bytes.len / 2);
    l3_parser_save(p, &blob);
    for (size_t i = 0; i < blob.len; i += 7) {
        uint8_t save = blob.data[i];
        blob.data[i] ^= 0x5a;
        l3_parser_load(p, blob.data, blob.len); /* may or may not be accepted; never crash */
        blob.data[i] = save;
    }
    CHECK(!l3_parser_load(p, blob.data, blob.len - 1));
    CHECK(l3_parser_load(p, blob.data, blob.len));
    l3_buf_free(&blob);
    l3_parser_destroy(&p);
    s_sink_clear(&got);
    free(s.ends);
    free(s.times);
    l3_buf_free(&s.bytes);
}

/* PROMPT mode (the importers' path): commands guessed from prompt lines. */
static void s_test_prompt_mode(void)
{
    sink_t sink;
    s_sink_init(&sink);
    l3_parser_t *p = s_parser(&sink, 0, L3_PARSER_PROMPT);
    const char *ts = "alice@lab1:~$ ls\r\n"
                     "a  b\r\n"
                     "alice@lab1:~$ cd /tmp\r\n"
                     "alice@lab1:/tmp$ ech\x08\x08\x08\x1b[Kecho hi\r\n"
                     "hi\r\n"
                     "alice@lab1:/tmp$ \r\n"
                     "alice@lab1:/tmp$ exit\r\n"
                     "exit\r\n";
    l3_parser_feed(p, ts, strlen(ts), 1000000);
    l3_parser_finish(p, 2000000);
    CHECK_MSG(sink.n == 4, "%d records", sink.n);
    if (sink.n == 4) {
        CHECK(s_bytes_eq(&sink.recs[0].cmdline, "ls"));
        CHECK(s_bytes_eq(&sink.recs[0].output, "a  b\r\n"));
        CHECK(s_bytes_eq(&sink.recs[0].cwd, "~"));
        CHECK(s_bytes_eq(&sink.recs[1].cmdline, "cd /tmp"));
        CHECK_MSG(s_bytes_eq(&sink.recs[2].cmdline, "echo hi"), "'%.*s'",
                  (int) sink.recs[2].cmdline.len, sink.recs[2].cmdline.data);
        CHECK(s_bytes_eq(&sink.recs[2].cwd, "/tmp"));
        CHECK(s_bytes_eq(&sink.recs[2].output, "hi\r\n"));
        CHECK(s_bytes_eq(&sink.recs[3].cmdline, "exit"));
        CHECK(!sink.recs[3].has_exit);
    }
    l3_parser_destroy(&p);
    s_sink_clear(&sink);
}

/* Hostile input: random bytes biased towards escape characters, never a crash. */
static void s_test_garbage(void)
{
    sink_t sink;
    s_sink_init(&sink);
    for (int mode = 0; mode < 2; mode++) {
        l3_parser_t *p = s_parser(&sink, 64, (l3_parser_mode_t) mode);
        uint32_t x = 7;
        uint8_t buf[4096];
        static const uint8_t alphabet[] = {0x1b, '[', ']', '6', '9', '7', '3', ';', 0x07, '\\',
                                           '?',  '1', '0', '4', 'h', 'l', 0x18, '\n', '\r', 0x08,
                                           'P',  'a', 0xff, 0xd0};
        for (int round = 0; round < 500; round++) {
            for (size_t i = 0; i < sizeof(buf); i++) {
                x = x * 1103515245 + 12345;
                buf[i] = alphabet[(x >> 16) % sizeof(alphabet)];
            }
            l3_parser_feed(p, buf, sizeof(buf), round);
        }
        l3_parser_finish(p, 1000);
        CHECK(l3_parser_offset(p) == 500 * sizeof(buf));
        l3_parser_destroy(&p);
    }
    s_sink_clear(&sink);
}

/* Recorder marks without an anchor are output; a bad anchor is refused; a state saved by
   the previous version (1, no recorder chain) still loads. */
static void s_test_recorder(void)
{
    l3_buf_t b;
    l3_buf_init(&b, 0);
    t_command(&b, "/", "sleep 1", NULL, NULL);
    t_rec_mark(&b, 1, "interrupt");
    t_mark(&b, "D", "130");
    sink_t sink;
    s_sink_init(&sink);
    l3_parser_opts_t opts = {.mode = L3_PARSER_MARKS, .nonce = T_NONCE, .on_record = s_on_record,
                             .arg = &sink};
    l3_parser_t *p = l3_parser_new(&opts);
    l3_parser_feed(p, b.data, b.len, 1700000000000000LL);
    l3_parser_finish(p, 1700000001000000LL);
    CHECK(sink.n == 1);
    if (sink.n == 1) {
        l3_record_t *r = &sink.recs[0];
        CHECK(r->signal == 0 && r->flags == L3_FLAG_AMBIGUOUS);
        CHECK(r->output.len > 64 && memcmp(r->output.data, "\x1b]6973;rec;", 11) == 0);
    }
    CHECK(l3_parser_forged(p) == 1);
    l3_parser_destroy(&p);
    opts.rec_anchor = "0123";
    CHECK(l3_parser_new(&opts) == NULL);
    opts.rec_anchor = "X123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    CHECK(l3_parser_new(&opts) == NULL);
    s_sink_clear(&sink);

    //  States of earlier versions: the version 4 blob of a fresh parser (its nonce given
    //  in clear, so no nonce hashes: the version 3 part is depth, open nr and count, the
    //  version 4 part one word) minus the later versions' tails. Each loads, and the chain
    //  starts at the anchor: the first mark counts.
    size_t v4_tail = 8, v3_tail = v4_tail + 3 * 8, v1_tail = v3_tail + 8 + L3_SHA256_LEN + 4 * 8;
    const struct {
        uint8_t version;
        size_t tail;
    } old[] = {{1, v1_tail}, {2, v3_tail}, {3, v4_tail}, {4, 0}};
    l3_buf_t blob;
    l3_buf_init(&blob, 0);
    for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
        s_sink_init(&sink);
        p = s_parser(&sink, 0, L3_PARSER_MARKS);
        l3_buf_reset(&blob);
        CHECK(l3_parser_save(p, &blob));
        CHECK(blob.len > 16 + v1_tail);
        CHECK(blob.data[8] == 4);
        blob.data[8] = old[i].version; /* the version, little-endian after the magic */
        CHECK_MSG(l3_parser_load(p, blob.data, blob.len - old[i].tail), "version %u",
                  old[i].version);
        l3_parser_feed(p, b.data, b.len, 1700000000000000LL);
        l3_parser_finish(p, 1700000001000000LL);
        CHECK(sink.n == 1 && sink.recs[0].signal == SIGINT && sink.recs[0].flags == 0);
        l3_parser_destroy(&p);
        s_sink_clear(&sink);
    }
    l3_buf_free(&blob);
    l3_buf_free(&b);
}


/* ------------------------------------------------------------------------------------ */
/* Inner shells: nonces registered by the recorder's "shell" marks                       */

#define T_N1 "11111111111111111111111111111111"
#define T_N2 "22222222222222222222222222222222"
#define T_N3 "33333333333333333333333333333333"

/* The k-th recorder mark: a shell with `nonce` at `depth` got its nonce. */
static void t_rec_shell(l3_buf_t *b, int k, const char *nonce, int depth)
{
    uint8_t h[L3_SHA256_LEN];
    l3_sha256(nonce, strlen(nonce), h);
    char verb[2 * L3_SHA256_LEN + 32];
    int n = snprintf(verb, sizeof verb, "shell;");
    for (int i = 0; i < L3_SHA256_LEN; i++)
        n += snprintf(verb + n, sizeof verb - (size_t) n, "%02x", h[i]);
    snprintf(verb + n, sizeof verb - (size_t) n, ";%d", depth);
    t_rec_mark(b, k, verb);
}

static void t_cmd_n(l3_buf_t *b, const char *nonce, const char *cmd, const char *out,
                    const char *exit_code)
{
    t_mark_n(b, nonce, "A", NULL);
    t_mark_n(b, nonce, "B", NULL);
    t_mark_n(b, nonce, "C", cmd);
    t_put(b, out);
    if (exit_code)
        t_mark_n(b, nonce, "D", exit_code);
}

/* What each shell's marks carry: its nonce (older recorders) or, under marks=2, the
   "=<n>" the recorder wrote in its place. The fifth is a shell whose registration is
   forged (a spent proof). */
static const char *const t_nonces[5] = {T_NONCE, T_N1, T_N2, T_N3,
                                        "44444444444444444444444444444444"};
static const char *const t_refs[5] = {"=0", "=1", "=2", "=3", "=4"};

static void s_inner_stream(l3_buf_t *b, const char *const name[5])
{
    //  A nested bash: its commands are its own, the outer `bash` keeps only what came
    //  before the inner shell and its own status.
    t_mark_n(b, name[0], "P", "/home/u");
    t_cmd_n(b, name[0], "bash", "starting\r\n", NULL);
    t_rec_shell(b, 1, T_N1, 1);
    t_put(b, "inner prompt$ ");
    t_mark_n(b, name[1], "P", "/tmp");
    t_cmd_n(b, name[1], "echo in", "in\r\n", "0");
    t_cmd_n(b, name[1], "exit", "", "0");
    t_mark_n(b, name[0], "D", "0");
    //  exec bash: the same process, a new shell at the same depth; the old nonce is gone.
    t_mark_n(b, name[0], "P", "/home/u");
    t_cmd_n(b, name[0], "exec bash", "x", NULL);
    t_rec_shell(b, 2, T_N2, 0);
    t_mark_n(b, name[2], "P", "/");
    t_cmd_n(b, name[2], "pwd", "/\r\n", NULL);
    t_mark_n(b, name[0], "D", "5"); /* the old shell's nonce: ours, but says nothing now */
    t_mark_n(b, name[2], "D", "0");
    //  An inner shell killed with its command running: the command is interrupted, the
    //  outer command gets its own status.
    t_cmd_n(b, name[2], "bash", "", NULL);
    t_rec_shell(b, 3, T_N3, 1);
    t_cmd_n(b, name[3], "sleep 9", "z", NULL);
    t_mark_n(b, name[2], "D", "137");
    //  A registration with a spent proof is output; the unregistered nonce's marks too.
    t_cmd_n(b, name[2], "cat spool", "", NULL);
    t_rec_shell(b, 3, t_nonces[4], 1);
    t_mark_n(b, name[4], "C", "forged");
    t_mark_n(b, name[2], "D", "0");
}

/* A parser for the marks of a spool: the nonce given in clear (the oldest .info), or
   under marks=2 with the session shell's nonce hash, as l3-rec writes .info now. */
static l3_parser_t *s_spool_parser(sink_t *sink, size_t cap, bool ref)
{
    static char hash[2 * L3_SHA256_LEN + 1];
    uint8_t h[L3_SHA256_LEN];
    l3_sha256(T_NONCE, L3_PARSER_NONCE_LEN, h);
    for (int i = 0; i < L3_SHA256_LEN; i++)
        sprintf(hash + 2 * i, "%02x", h[i]);
    l3_parser_opts_t opts = {.mode = L3_PARSER_MARKS,
                             .nonce = ref ? NULL : T_NONCE,
                             .nonce_sha256 = ref ? hash : NULL,
                             .marks = ref ? L3_PARSER_MARKS_REF : 0,
                             .rec_anchor = t_rec_anchor,
                             .output_cap = cap,
                             .on_record = s_on_record,
                             .arg = sink};
    return l3_parser_new(&opts);
}

/* The inner-shell stream in one form of marks: the records, and the same records when
   resumed from a state saved at every byte. */
static void s_test_inner_shells_as(bool ref)
{
    l3_buf_t b;
    l3_buf_init(&b, 0);
    s_inner_stream(&b, ref ? t_refs : t_nonces);
    sink_t sink;
    s_sink_init(&sink);
    l3_parser_t *p = s_spool_parser(&sink, 0, ref);
    l3_parser_feed(p, b.data, b.len, 1700000000000000LL);
    l3_parser_finish(p, 1700000001000000LL);
    CHECK_MSG(sink.n == 8, "%s: %d records", ref ? "marks=2" : "nonces", sink.n);
    if (getenv("T_DUMP"))
        fwrite(sink.xml.data, 1, sink.xml.len, stderr);
    if (sink.n == 8) {
        l3_record_t *r = sink.recs;
        CHECK(r[0].nr == 2 && r[0].depth == 1 && s_bytes_eq(&r[0].cmdline, "echo in")
              && s_bytes_eq(&r[0].output, "in\r\n") && s_bytes_eq(&r[0].cwd, "/tmp")
              && r[0].has_exit && r[0].exit_code == 0 && r[0].flags == 0);
        CHECK(r[1].nr == 3 && r[1].depth == 1 && s_bytes_eq(&r[1].cmdline, "exit"));
        CHECK(r[2].nr == 1 && r[2].depth == 0 && s_bytes_eq(&r[2].cmdline, "bash")
              && s_bytes_eq(&r[2].output, "starting\r\n") && s_bytes_eq(&r[2].cwd, "/home/u")
              && r[2].has_exit && r[2].exit_code == 0 && r[2].flags == L3_FLAG_NESTED);
        CHECK(r[3].nr == 4 && r[3].depth == 0 && s_bytes_eq(&r[3].cmdline, "exec bash")
              && s_bytes_eq(&r[3].output, "x") && !r[3].has_exit
              && r[3].flags == L3_FLAG_NESTED);
        CHECK(r[4].nr == 5 && r[4].depth == 0 && s_bytes_eq(&r[4].cmdline, "pwd")
              && s_bytes_eq(&r[4].output, "/\r\n") && s_bytes_eq(&r[4].cwd, "/")
              && r[4].has_exit && r[4].exit_code == 0);
        CHECK(r[5].nr == 7 && r[5].depth == 1 && s_bytes_eq(&r[5].cmdline, "sleep 9")
              && s_bytes_eq(&r[5].output, "z") && !r[5].has_exit
              && r[5].flags == L3_FLAG_INTERRUPTED);
        CHECK(r[6].nr == 6 && r[6].depth == 0 && s_bytes_eq(&r[6].cmdline, "bash")
              && r[6].exit_code == 137 && r[6].flags == (L3_FLAG_NESTED | L3_FLAG_AMBIGUOUS));
        CHECK(r[7].nr == 8 && r[7].depth == 0 && s_bytes_eq(&r[7].cmdline, "cat spool")
              && r[7].output.len > 100 && r[7].flags == 0);
    }
    CHECK(l3_parser_forged(p) == 2);
    l3_parser_destroy(&p);
    //  Saved and resumed at every byte (inner shells running, commands held): the same.
    int bad = 0;
    l3_buf_t blob;
    l3_buf_init(&blob, 0);
    for (size_t k = 0; k <= b.len; k++) {
        sink_t got;
        s_sink_init(&got);
        p = s_spool_parser(&got, k % 2 ? 100 : 0, ref);
        l3_parser_feed(p, b.data, k, 1700000000000000LL);
        l3_buf_reset(&blob);
        CHECK(l3_parser_save(p, &blob));
        l3_parser_destroy(&p);
        p = s_spool_parser(&got, k % 2 ? 100 : 0, ref);
        bool loaded = l3_parser_load(p, blob.data, blob.len);
        l3_parser_feed(p, b.data + k, b.len - k, 1700000000000000LL);
        l3_parser_finish(p, 1700000001000000LL);
        l3_parser_destroy(&p);
        if (k % 2 == 0 && (!loaded || got.xml.len != sink.xml.len
                           || memcmp(got.xml.data, sink.xml.data, sink.xml.len) != 0))
            bad++;
        else if (k % 2 && (!loaded || got.n != 8))
            bad++;
        s_sink_clear(&got);
    }
    CHECK_MSG(bad == 0, "%s: %d resume points differ", ref ? "marks=2" : "nonces", bad);
    //  A state saved under one form of marks does not resume the other (another .info).
    sink_t other;
    s_sink_init(&other);
    p = s_spool_parser(&other, 0, ref);
    l3_parser_feed(p, b.data, b.len / 2, 1700000000000000LL);
    l3_buf_reset(&blob);
    CHECK(l3_parser_save(p, &blob));
    l3_parser_destroy(&p);
    p = s_spool_parser(&other, 0, !ref);
    CHECK(!l3_parser_load(p, blob.data, blob.len));
    l3_parser_destroy(&p);
    s_sink_clear(&other);
    l3_buf_free(&blob);
    l3_buf_free(&b);
    s_sink_clear(&sink);
}

/* marks=2 (docs/capture.md "Marks"): what is not the recorder's "=<n>" is output — a
   mark a program printed from .script ("=" changed to "!" by l3-rec), the session's own
   nonce in clear (which l3-rec never writes now), references that are malformed or name
   a shell not registered yet; and a parser for an older .info takes "=<n>" for output. */
static void s_test_ref_marks(void)
{
    static const char *const forged[] = {"!0", T_NONCE, "=1", "=00", "=0x", "=", "=-0",
                                         "=123456", " =0"};
    const size_t nforged = sizeof(forged) / sizeof(forged[0]);
    l3_buf_t b;
    l3_buf_init(&b, 0);
    t_mark_n(&b, "=0", "P", "/home/u");
    t_cmd_n(&b, "=0", "cat spool/x.script", "", NULL);
    for (size_t i = 0; i < nforged; i++) {
        t_mark_n(&b, forged[i], "C", "rm -rf");
        t_mark_n(&b, forged[i], "D", "0");
    }
    t_put(&b, "done\r\n");
    t_mark_n(&b, "=0", "D", "0");
    t_cmd_n(&b, "=0", "true", "", "0");
    sink_t sink;
    s_sink_init(&sink);
    l3_parser_t *p = s_spool_parser(&sink, 0, true);
    l3_parser_feed(p, b.data, b.len, 1700000000000000LL);
    l3_parser_finish(p, 1700000001000000LL);
    CHECK_MSG(sink.n == 2, "%d records", sink.n);
    if (sink.n == 2) {
        l3_record_t *r = sink.recs;
        CHECK(s_bytes_eq(&r[0].cmdline, "cat spool/x.script") && r[0].has_exit
              && r[0].exit_code == 0 && r[0].flags == 0 && s_bytes_eq(&r[0].cwd, "/home/u"));
        //  Every forged mark is in the output, as it came.
        l3_buf_t want;
        l3_buf_init(&want, 0);
        for (size_t i = 0; i < nforged; i++) {
            t_mark_n(&want, forged[i], "C", "rm -rf");
            t_mark_n(&want, forged[i], "D", "0");
        }
        t_put(&want, "done\r\n");
        CHECK(r[0].output.len == want.len && memcmp(r[0].output.data, want.data, want.len) == 0);
        l3_buf_free(&want);
        CHECK(s_bytes_eq(&r[1].cmdline, "true") && r[1].nr == 2);
    }
    CHECK_MSG(l3_parser_forged(p) == 2 * nforged, "%llu forged",
              (unsigned long long) l3_parser_forged(p));
    l3_parser_destroy(&p);
    s_sink_clear(&sink);

    //  The same stream for an .info without marks=2: "=0" names nothing, all is output
    //  (but the nonce in clear, which such a session's shell did print).
    s_sink_init(&sink);
    p = s_spool_parser(&sink, 0, false);
    l3_parser_feed(p, b.data, b.len, 1700000000000000LL);
    l3_parser_finish(p, 1700000001000000LL);
    CHECK_MSG(sink.n == 1 && s_bytes_eq(&sink.recs[0].cmdline, "rm -rf"), "%d records", sink.n);
    l3_parser_destroy(&p);
    s_sink_clear(&sink);

    //  A state from before marks=2 (version 3) does not resume a marks=2 stream: that
    //  agent took its marks for output.
    s_sink_init(&sink);
    p = s_spool_parser(&sink, 0, true);
    l3_buf_t blob;
    l3_buf_init(&blob, 0);
    CHECK(l3_parser_save(p, &blob));
    blob.data[8] = 3;
    CHECK(!l3_parser_load(p, blob.data, blob.len - 2 * 8)); /* v4: one word, one shell */
    l3_parser_destroy(&p);
    s_sink_clear(&sink);
    l3_buf_free(&blob);
    l3_buf_free(&b);
}

static void s_test_inner_shells(void)
{
    s_test_inner_shells_as(false);
    s_test_inner_shells_as(true);
    s_test_ref_marks();
}

int main(void)
{
    t_rec_init();
    for (size_t i = 0; i < sizeof(s_cases) / sizeof(s_cases[0]); i++)
        s_run_case(&s_cases[i]);
    s_test_details();
    s_test_recorder();
    s_test_inner_shells();
    s_test_prompt_mode();
    s_test_chunking();
    s_test_garbage();
    if (t_failures) {
        fprintf(stderr, "test_parser: %d failures\n", t_failures);
        return 1;
    }
    printf("test_parser: ok\n");
    return 0;
}
