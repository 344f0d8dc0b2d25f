/*  parser — streaming terminal byte-stream state machine. See parser.h.

    Shape of the machine (states follow ECMA-48 / the vt100.net DEC parser closely enough
    that a mark is recognised exactly where a terminal would start an OSC):

      GROUND ──ESC──▶ ESC ──[──▶ CSI (buffered until the final byte: alt-screen check)
                          ──]──▶ OSC_HEAD (buffered up to "6973;") ──▶ MARK | OSC_PASS
                          ──P X ^ _──▶ STR (DCS, SOS, PM, APC: passed through)
      In any string, ESC \ ends it; ESC + anything else aborts it and starts a new escape
      (as xterm does); CAN and SUB abort every sequence.

    The ESC byte itself is held back (`esc_held`) until the next byte says what it starts,
    because "ESC ]" may begin one of our marks, which must not reach the output. Only CSI
    and the OSC head are buffered (≤ SEQ_MAX bytes) — everything else streams straight
    into the output sink, so the plain-run scan in GROUND is a single memchr for ESC in
    MARKS mode. */
#include "parser.h"
#include "l3_log.h"
#include "l3_sha256.h"

#include <regex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define SEQ_MAX 64          /* a CSI longer than this is passed through unexamined */
#define LINE_MAX_BYTES 2048 /* PROMPT mode: a raw line longer than this is no prompt */
#define TIMING_MAX_ENTRIES 4096
#define NEST_MAX 16
#define MARK_PREFIX "6973;"
#define MARK_PREFIX_LEN 5
#define SAVE_MAGIC 0x4c33503155ULL /* "L3P1U" */
#define SAVE_VERSION 4 /* 4: shell numbers (marks=2); 3: inner shells; 2: recorder
                           chain, keys, full-screen counters; 1 to 3 still load */
#define REC_PROOF_HEX 64
/* marks=2: a first field "=<n>" names shell n, at most five digits (the recorder gives
   1024 nonces per session, and its chain has 8192 marks). */
#define REF_DIGITS_MAX 5
#define SHELLS_SEEN_MAX 99999u
/* The living shells are one chain of depths (a new one ends those at its depth and
   deeper), so under marks=2 a registration always finds a slot. */
_Static_assert(L3_DEPTH_MAX + 1 < L3_PARSER_NONCES_MAX, "a slot for every living shell");
/* Main-screen full screen (parser.h): screens drawn from the top, rows addressed. */
#define FULLSCREEN_REDRAWS 3 /* home/clear events after output: the 4th screen drawn */
#define FULLSCREEN_ROWS 12
/* Keys the recorder saw typed during the open command (rec marks). */
enum { KEY_INTERRUPT = 1, KEY_QUIT = 2, KEY_SUSPEND = 4 };

enum {
    ST_GROUND = 0,
    ST_ESC,       /* after ESC (held) */
    ST_ESC_INT,   /* ESC + intermediates, passed through */
    ST_CSI,       /* buffered in seq */
    ST_CSI_PASS,  /* CSI too long to buffer: pass through to the final byte */
    ST_OSC_HEAD,  /* "ESC ]" + up to 5 bytes buffered in seq */
    ST_OSC_PASS,  /* a foreign OSC: passed through */
    ST_MARK,      /* one of ours (so far): payload in mark */
    ST_STR,       /* DCS / SOS / PM / APC: passed through */
    ST_COUNT
};

typedef struct {
    int64_t time_us;
    uint32_t bytes;
} timing_entry_t;

/* A command: from its C mark to its D (or whatever ends it). */
typedef struct {
    bool in_cmd;
    uint64_t nr; /* its number in the session */
    int64_t cmd_start;
    l3_buf_t cmd_cwd;
    l3_buf_t cmdline;
    uint32_t flags;
    uint32_t nest;
    uint32_t keys;     /* KEY_* typed during the command, from recorder marks */
    uint32_t redraws;  /* screens drawn from the top (cursor home / erase display) */
    bool drawn;        /* output since the last home/erase: the next one is a redraw */
    uint64_t rows;     /* rows (mod 64) the cursor was put on absolutely */
    char edit_token[L3_PARSER_EDIT_TOKEN_MAX + 1];
    char nested[L3_NAME_MAX + 1];
    /* Output: linear up to output_cap; past it, out[0..head) is the head and
       out[head..cap) a ring of the latest bytes, ring_pos the oldest. */
    uint8_t *out;     /* allocated while a command keeps output, grown up to output_cap */
    size_t out_alloc;
    size_t out_len;
    bool truncated;
    size_t ring_pos;
    uint64_t out_total;
    timing_entry_t *timing; /* allocated like out, up to TIMING_MAX_ENTRIES */
    uint32_t timing_alloc;
    uint32_t timing_n;
} cmd_t;

/* A shell that runs an inner shell: its open command (the one that started the inner
   shell, flagged nested; it gets no output while the inner shell runs) and its cwd. */
typedef struct {
    cmd_t cmd;
    l3_buf_t cwd;
} held_t;

struct l3_parser_t {
    /* Options (not part of the saved state). */
    l3_parser_mode_t mode;
    char nonce[L3_PARSER_NONCE_LEN + 1];
    uint8_t nonce_hash[L3_PARSER_NONCES_MAX][L3_SHA256_LEN]; /* of each shell's nonce */
    char nonce_seen[L3_PARSER_NONCES_MAX][L3_PARSER_NONCE_LEN]; /* the nonce that matched */
    bool nonce_known[L3_PARSER_NONCES_MAX];
    /* The shell of each nonce: its depth (0 = the session's own) and whether it still
       runs (a shell that exec'd or whose outer shell went on is gone: its marks are
       dropped). Nonces of inner shells come in the recorder's "shell" marks. */
    uint8_t nonce_depth[L3_PARSER_NONCES_MAX];
    bool nonce_alive[L3_PARSER_NONCES_MAX];
    bool nonce_legacy_alive; /* the nonce given in clear (depth 0) */
    size_t nonces;
    /* .info marks=2 (parser.h): marks name their shell "=<n>" instead of carrying its
       nonce. Each slot keeps its shell's number n (0: the session's own shell; k: the
       shell of the k-th proven `shell` mark, counted in shells_seen). */
    bool ref;
    uint32_t nonce_reg[L3_PARSER_NONCES_MAX];
    uint32_t shells_seen;
    /* The nonce hashes the options gave (.info): the table a fresh state starts from. */
    uint8_t opt_hash[L3_PARSER_NONCES_MAX][L3_SHA256_LEN];
    size_t opt_nonces;
    size_t output_cap;
    bool have_re;
    regex_t re;
    l3_parser_record_fn *on_record;
    void *arg;

    /* Lexer. */
    uint8_t state;
    bool esc_held;    /* an ESC is held back, not yet output */
    bool string_esc;  /* inside OSC_PASS/STR/MARK: the previous byte was ESC */
    uint8_t seq[SEQ_MAX];
    uint32_t seq_len;
    l3_buf_t mark; /* MARK payload after "6973;" */
    uint64_t offset;
    uint64_t forged;
    int64_t now; /* time of the byte being processed */

    /* Recorder marks: the anchor from the options, and the last chain value accepted. */
    bool have_rec;
    uint8_t rec_anchor[L3_SHA256_LEN];
    uint8_t rec_last[L3_SHA256_LEN];

    /* Session. */
    bool alt;
    uint64_t nr;
    l3_buf_t cwd;

    /* The open command of the shell typed in now (the deepest), and the commands of the
       shells it runs in, held while it runs (docs/capture.md, "Inner shells"). */
    cmd_t cmd;
    uint8_t depth;
    held_t held[L3_DEPTH_MAX];

    /* PROMPT mode: the current line, raw (held back from output) and rendered. */
    uint8_t raw[LINE_MAX_BYTES];
    uint32_t raw_len;
    int64_t raw_time; /* time of the line's first byte: a prompt line ends the command then */
    bool raw_overflow;
    uint8_t line[LINE_MAX_BYTES];
    uint32_t line_len;
    uint32_t cursor;
    /* The terminal's width (0 = unknown) and where in `line` the cursor's screen row
       begins: a line editor that wraps a long command line at the right margin moves
       with CR and cursor-up within the row, not the whole logical line. */
    uint32_t cols;
    uint32_t row_start;
    /* A LF after a prompt line, with the width known, may be readline moving down a row
       while it redraws a wrapped line (it comes back up with ESC M or CSI A); the line
       ends for real only when something else follows. lf_raw is where the LF ends in
       raw; lf_cr: a CR came since. */
    bool lf_pending;
    bool lf_cr;
    uint32_t lf_raw;
    int64_t lf_time; /* when the LF came: the command starts then */
};

/* --------------------------------------------------------------------------------- */
/* Output sink                                                                        */

static size_t s_head_size(l3_parser_t *self)
{
    return self->output_cap / 2;
}

/* Buffers grow on demand and are freed after each command, so an idle session (at its
   prompt, the usual state) costs a few hundred bytes, not output_cap. */
static bool s_out_reserve(l3_parser_t *self, size_t need)
{
    if (need <= self->cmd.out_alloc)
        return true;
    size_t cap = self->cmd.out_alloc ? self->cmd.out_alloc * 2 : 4096;
    if (cap < need)
        cap = need;
    if (cap > self->output_cap)
        cap = self->output_cap;
    uint8_t *p = realloc(self->cmd.out, cap);
    if (!p)
        return false;
    self->cmd.out = p;
    self->cmd.out_alloc = cap;
    return need <= cap;
}

static bool s_timing_reserve(l3_parser_t *self, uint32_t need)
{
    if (need <= self->cmd.timing_alloc)
        return true;
    uint32_t cap = self->cmd.timing_alloc ? self->cmd.timing_alloc * 2 : 64;
    if (cap < need)
        cap = need;
    if (cap > TIMING_MAX_ENTRIES)
        cap = TIMING_MAX_ENTRIES;
    timing_entry_t *p = realloc(self->cmd.timing, cap * sizeof(*p));
    if (!p)
        return false;
    self->cmd.timing = p;
    self->cmd.timing_alloc = cap;
    return need <= cap;
}

static void s_timing_add(l3_parser_t *self, size_t n)
{
    if (self->cmd.timing_n && self->cmd.timing[self->cmd.timing_n - 1].time_us == self->now) {
        self->cmd.timing[self->cmd.timing_n - 1].bytes += (uint32_t) n;
        return;
    }
    if (self->cmd.timing_n == TIMING_MAX_ENTRIES || !s_timing_reserve(self, self->cmd.timing_n + 1)) {
        //  Past the entry cap the remaining bytes join the last entry: replay gets coarser,
        //  memory stays bounded.
        if (self->cmd.timing_n)
            self->cmd.timing[self->cmd.timing_n - 1].bytes += (uint32_t) n;
        return;
    }
    self->cmd.timing[self->cmd.timing_n].time_us = self->now;
    self->cmd.timing[self->cmd.timing_n].bytes = (uint32_t) n;
    self->cmd.timing_n++;
}

/* Switch to head+ring once the linear buffer is full: keep timing only for the head. */
static void s_start_truncation(l3_parser_t *self)
{
    size_t head = s_head_size(self);
    size_t ring = self->output_cap - head;
    //  The newest `ring` bytes move to out[head..cap); they are the ring, oldest first.
    memmove(self->cmd.out + head, self->cmd.out + self->cmd.out_len - ring, ring);
    self->cmd.truncated = true;
    self->cmd.ring_pos = 0;
    self->cmd.out_len = self->output_cap;
    uint64_t covered = 0;
    uint32_t n = 0;
    while (n < self->cmd.timing_n && covered < head) {
        covered += self->cmd.timing[n].bytes;
        n++;
    }
    if (n && covered > head)
        self->cmd.timing[n - 1].bytes -= (uint32_t) (covered - head);
    self->cmd.timing_n = n;
}

static void s_keep(l3_parser_t *self, const uint8_t *data, size_t len)
{
    if (!self->cmd.in_cmd || self->cmd.nest || len == 0)
        return;
    self->cmd.out_total += len;
    if (!self->cmd.truncated) {
        size_t room = self->output_cap - self->cmd.out_len;
        size_t n = len < room ? len : room;
        if (n && !s_out_reserve(self, self->cmd.out_len + n)) {
            self->cmd.out_total -= len; /* out of memory: these bytes are not kept */
            l3_error("parser: out of memory keeping output");
            return;
        }
        if (n) {
            memcpy(self->cmd.out + self->cmd.out_len, data, n);
            self->cmd.out_len += n;
            s_timing_add(self, n);
        }
        if (n == len)
            return;
        data += n;
        len -= n;
        s_start_truncation(self);
    }
    size_t head = s_head_size(self);
    size_t ring = self->output_cap - head;
    if (ring == 0)
        return;
    if (len >= ring) {
        memcpy(self->cmd.out + head, data + len - ring, ring);
        self->cmd.ring_pos = 0;
        return;
    }
    while (len) {
        size_t n = ring - self->cmd.ring_pos;
        if (n > len)
            n = len;
        memcpy(self->cmd.out + head + self->cmd.ring_pos, data, n);
        self->cmd.ring_pos = (self->cmd.ring_pos + n) % ring;
        data += n;
        len -= n;
    }
}

/* Output bytes: in PROMPT mode the current line is held back until we know it is no
   prompt; otherwise straight to the open command. */
static void s_line_flush(l3_parser_t *self);
static void s_lf_end(l3_parser_t *self);

static void s_out(l3_parser_t *self, const uint8_t *data, size_t len)
{
    if (self->mode != L3_PARSER_PROMPT) {
        s_keep(self, data, len);
        return;
    }
    while (len) {
        size_t room = LINE_MAX_BYTES - self->raw_len;
        if (room == 0) {
            if (self->lf_pending) {
                s_lf_end(self);
                continue;
            }
            s_line_flush(self);
            self->raw_overflow = true;
            continue;
        }
        size_t n = len < room ? len : room;
        if (self->raw_len == 0)
            self->raw_time = self->now;
        memcpy(self->raw + self->raw_len, data, n);
        self->raw_len += (uint32_t) n;
        data += n;
        len -= n;
    }
}

static void s_out_byte(l3_parser_t *self, uint8_t byte)
{
    s_out(self, &byte, 1);
}

/* --------------------------------------------------------------------------------- */
/* Commands                                                                           */

static void s_cmd_clear(cmd_t *c)
{
    c->in_cmd = false;
    c->nr = 0;
    c->cmd_start = 0;
    l3_buf_reset(&c->cmd_cwd);
    l3_buf_reset(&c->cmdline);
    c->flags = 0;
    c->nest = 0;
    c->keys = 0;
    c->redraws = 0;
    c->drawn = false;
    c->rows = 0;
    c->edit_token[0] = 0;
    c->nested[0] = 0;
    c->out_len = 0;
    c->truncated = false;
    c->ring_pos = 0;
    c->out_total = 0;
    c->timing_n = 0;
    free(c->out);
    c->out = NULL;
    c->out_alloc = 0;
    free(c->timing);
    c->timing = NULL;
    c->timing_alloc = 0;
}

static void s_cmd_init(cmd_t *c)
{
    memset(c, 0, sizeof(*c));
    l3_buf_init(&c->cmd_cwd, L3_CWD_MAX);
    l3_buf_init(&c->cmdline, L3_CMDLINE_MAX);
}

static void s_cmd_free(cmd_t *c)
{
    s_cmd_clear(c);
    l3_buf_free(&c->cmd_cwd);
    l3_buf_free(&c->cmdline);
}

static void s_cmd_reset(l3_parser_t *self)
{
    s_cmd_clear(&self->cmd);
}

static bool s_format_timing(l3_parser_t *self, l3_buf_t *buf, size_t tail_bytes)
{
    int64_t prev = self->cmd.cmd_start;
    for (uint32_t i = 0; i < self->cmd.timing_n; i++) {
        int64_t d = self->cmd.timing[i].time_us - prev;
        if (d < 0)
            d = 0;
        prev = self->cmd.timing[i].time_us;
        if (!l3_buf_printf(buf, "%lld.%06lld %u\n", (long long) (d / 1000000),
                           (long long) (d % 1000000), self->cmd.timing[i].bytes))
            return false;
    }
    if (tail_bytes) {
        int64_t d = self->now - prev;
        if (d < 0)
            d = 0;
        if (!l3_buf_printf(buf, "%lld.%06lld %zu\n", (long long) (d / 1000000),
                           (long long) (d % 1000000), tail_bytes))
            return false;
    }
    return true;
}

/* The signal of a finished command, when it is known (docs/capture.md "Statuses"). A
   shell reports death by signal N as 128+N, but `exit 130` looks the same: the status
   is taken for a signal only when the recorder saw the key for that signal typed during
   the command, or hung the session up. Otherwise a status above 128 is kept as an exit
   code and flagged ambiguous. */
static void s_cmd_status(l3_parser_t *self, l3_record_t *rec)
{
    bool hangup = rec->flags & L3_FLAG_HANGUP;
    if (rec->has_exit && rec->exit_code > 128 && rec->exit_code <= 128 + 64) {
        int sig = rec->exit_code - 128;
        if ((sig == SIGINT && (self->cmd.keys & KEY_INTERRUPT))
            || (sig == SIGQUIT && (self->cmd.keys & KEY_QUIT))
            || (sig == SIGTSTP && (self->cmd.keys & KEY_SUSPEND)) || (sig == SIGHUP && hangup))
            rec->signal = sig;
        else if (!hangup)
            rec->flags |= L3_FLAG_AMBIGUOUS;
    }
    if (hangup && !rec->signal) {
        //  The recorder sent SIGHUP to the shell and the foreground job; the status a shell
        //  reports on its way out (its EXIT trap runs with a stale $?) is not the command's.
        rec->signal = SIGHUP;
        rec->has_exit = false;
        rec->exit_code = 0;
    }
}

/* Emit the open command with the given end; exit < 0 means no exit code. */
static void s_cmd_emit(l3_parser_t *self, bool has_exit, int32_t exit_code, uint32_t flags)
{
    if (!self->cmd.in_cmd)
        return;
    l3_record_t rec;
    l3_record_init(&rec);
    rec.type = L3_RECORD_COMMAND;
    rec.nr = self->cmd.nr;
    rec.depth = self->depth;
    rec.start_us = self->cmd.cmd_start;
    rec.end_us = self->now >= self->cmd.cmd_start ? self->now : self->cmd.cmd_start;
    rec.flags = self->cmd.flags | flags;
    rec.has_exit = has_exit;
    rec.exit_code = exit_code;
    s_cmd_status(self, &rec);
    bool ok = l3_bytes_set(&rec.cwd, self->cmd.cmd_cwd.data, self->cmd.cmd_cwd.len, L3_CWD_MAX)
              && l3_bytes_set(&rec.cmdline, self->cmd.cmdline.data, self->cmd.cmdline.len,
                              L3_CMDLINE_MAX);
    size_t tail = 0;
    //  The shell hook prints the standard "OSC 133 ; C" right after our C mark, for
    //  terminals that use it; it is the hook's, not the command's output.
    static const char c133[] = "\x1b]133;C\x07";
    size_t skip = 0;
    if (self->mode == L3_PARSER_MARKS && self->cmd.out_len >= sizeof(c133) - 1
        && s_head_size(self) >= sizeof(c133) - 1 && memcmp(self->cmd.out, c133, sizeof(c133) - 1) == 0) {
        skip = sizeof(c133) - 1;
        size_t left = skip;
        for (uint32_t i = 0; i < self->cmd.timing_n && left; i++) {
            size_t n = self->cmd.timing[i].bytes < left ? self->cmd.timing[i].bytes : left;
            self->cmd.timing[i].bytes -= (uint32_t) n;
            left -= n;
        }
        //  Drop timing entries left empty.
        uint32_t w = 0;
        for (uint32_t i = 0; i < self->cmd.timing_n; i++)
            if (self->cmd.timing[i].bytes)
                self->cmd.timing[w++] = self->cmd.timing[i];
        self->cmd.timing_n = w;
    }
    if (ok) {
        if (self->cmd.truncated) {
            size_t head = s_head_size(self);
            size_t ring = self->output_cap - head;
            tail = ring;
            l3_buf_t o;
            l3_buf_init(&o, L3_OUTPUT_MAX);
            l3_buf_append(&o, self->cmd.out + skip, head - skip);
            l3_buf_append(&o, self->cmd.out + head + self->cmd.ring_pos, ring - self->cmd.ring_pos);
            l3_buf_append(&o, self->cmd.out + head, self->cmd.ring_pos);
            ok = !o.failed;
            rec.output.data = l3_buf_steal(&o, &rec.output.len);
            rec.output_head = head - skip;
            rec.dropped = self->cmd.out_total - self->output_cap;
            rec.flags |= L3_FLAG_TRUNCATED;
        } else {
            ok = l3_bytes_set(&rec.output, self->cmd.out ? self->cmd.out + skip : NULL,
                              self->cmd.out_len - skip, L3_OUTPUT_MAX);
        }
    }
    if (ok) {
        l3_buf_t t;
        l3_buf_init(&t, L3_TIMING_MAX);
        ok = s_format_timing(self, &t, tail);
        rec.timing.data = l3_buf_steal(&t, &rec.timing.len);
    }
    if (!ok)
        l3_error("parser: out of memory building command %llu", (unsigned long long) rec.nr);
    else if (self->on_record) {
        l3_parser_extra_t extra;
        memcpy(rec.nested, self->cmd.nested, sizeof(rec.nested));
        memcpy(extra.edit_token, self->cmd.edit_token, sizeof(extra.edit_token));
        memcpy(extra.nested, self->cmd.nested, sizeof(extra.nested));
        self->on_record(self->arg, &rec, &extra);
    }
    l3_record_clear(&rec);
    s_cmd_reset(self);
}

static void s_cmd_start(l3_parser_t *self, const uint8_t *cmdline, size_t len)
{
    s_cmd_emit(self, false, 0, L3_FLAG_INTERRUPTED);
    s_cmd_reset(self);
    self->cmd.in_cmd = true;
    self->cmd.nr = ++self->nr;
    self->cmd.cmd_start = self->now;
    //  A program that died in the alternate screen leaves the terminal there; the next
    //  command starts on the normal screen as far as the journal is concerned, so that its
    //  output is not lost.
    self->alt = false;
    l3_buf_append(&self->cmd.cmd_cwd, self->cwd.data, self->cwd.len);
    l3_buf_append(&self->cmd.cmdline, cmdline, len);
    //  A command line ending in a lone & ran in the background.
    size_t n = len;
    while (n && (cmdline[n - 1] == ' ' || cmdline[n - 1] == '\t' || cmdline[n - 1] == '\n'))
        n--;
    if (n && cmdline[n - 1] == '&' && (n < 2 || cmdline[n - 2] != '&'))
        self->cmd.flags |= L3_FLAG_BACKGROUND;
}

/* --------------------------------------------------------------------------------- */
/* Inner shells (docs/capture.md, "Inner shells")                                     */

/* The shell at the current depth is gone (it exited, was killed, or its outer shell
   prompts again): its open command ends without a D, and the outer shell's command
   that started it runs on. */
static void s_shell_pop(l3_parser_t *self)
{
    if (!self->depth)
        return;
    s_cmd_emit(self, false, 0, L3_FLAG_INTERRUPTED);
    s_cmd_free(&self->cmd);
    l3_buf_free(&self->cwd);
    self->depth--;
    self->cmd = self->held[self->depth].cmd;
    self->cwd = self->held[self->depth].cwd;
    s_cmd_init(&self->held[self->depth].cmd);
    l3_buf_init(&self->held[self->depth].cwd, L3_CWD_MAX);
}

/* A new shell registered at `depth`. Deeper shells are gone. At the current depth it is
   the same process after `exec`: the open command (`exec bash`) ends there, with no
   status, flagged nested (what followed it are the new shell's own records). One deeper,
   it runs inside the open command (`bash`, `su`, `sudo -i`), which is held, flagged
   nested, until its own shell's next mark. */
static void s_shell_enter(l3_parser_t *self, uint8_t depth)
{
    if (depth > self->depth + 1)
        depth = (uint8_t) (self->depth + 1);
    if (depth > L3_DEPTH_MAX)
        depth = L3_DEPTH_MAX;
    while (self->depth > depth)
        s_shell_pop(self);
    if (depth == self->depth) {
        s_cmd_emit(self, false, 0, L3_FLAG_NESTED);
        return;
    }
    if (self->cmd.in_cmd)
        self->cmd.flags |= L3_FLAG_NESTED;
    held_t *h = &self->held[self->depth];
    s_cmd_free(&h->cmd);
    l3_buf_free(&h->cwd);
    h->cmd = self->cmd;
    h->cwd = self->cwd;
    s_cmd_init(&self->cmd);
    l3_buf_init(&self->cwd, L3_CWD_MAX);
    l3_buf_append(&self->cwd, h->cwd.data, h->cwd.len);
    self->depth = depth;
}

/* Register the nonce hash of a new shell at `depth`, numbered shells_seen (its marks'
   "=<n>" under marks=2): shells at that depth or deeper are gone. A full table reuses the
   slot of a shell that is gone. */
static bool s_shell_register(l3_parser_t *self, const uint8_t hash[L3_SHA256_LEN], uint8_t depth)
{
    size_t slot = self->nonces;
    if (depth == 0)
        self->nonce_legacy_alive = false;
    for (size_t i = 0; i < self->nonces; i++) {
        if (self->nonce_alive[i] && self->nonce_depth[i] >= depth)
            self->nonce_alive[i] = false;
        if (memcmp(self->nonce_hash[i], hash, L3_SHA256_LEN) == 0)
            slot = i;
    }
    if (slot == self->nonces) {
        for (size_t i = 0; i < self->nonces && slot == self->nonces; i++)
            if (!self->nonce_alive[i])
                slot = i;
        if (slot == self->nonces && self->nonces == L3_PARSER_NONCES_MAX)
            return false;
        if (slot == self->nonces)
            self->nonces++;
    }
    memcpy(self->nonce_hash[slot], hash, L3_SHA256_LEN);
    self->nonce_known[slot] = false;
    self->nonce_depth[slot] = depth;
    self->nonce_alive[slot] = true;
    self->nonce_reg[slot] = self->shells_seen;
    return true;
}

/* --------------------------------------------------------------------------------- */
/* Marks                                                                              */

bool l3_parser_pct_decode(const char *s, size_t len, l3_buf_t *out, size_t cap)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t) s[i];
        if (c == '%') {
            if (i + 2 >= len)
                return false;
            int v = 0;
            for (int k = 1; k <= 2; k++) {
                char h = s[i + k];
                v <<= 4;
                if (h >= '0' && h <= '9')
                    v |= h - '0';
                else if (h >= 'A' && h <= 'F')
                    v |= h - 'A' + 10;
                else if (h >= 'a' && h <= 'f')
                    v |= h - 'a' + 10;
                else
                    return false;
            }
            c = (uint8_t) v;
            i += 2;
        }
        if (out->len >= cap || !l3_buf_append_byte(out, c))
            return false;
    }
    return true;
}

/* Split the mark payload (after "6973;") on ';' into at most max fields. */
static int s_split(const uint8_t *p, size_t len, const char **fields, size_t *lens, int max)
{
    int n = 0;
    size_t start = 0;
    if (!p)
        p = (const uint8_t *) ""; /* an empty mark has no buffer yet */
    for (size_t i = 0; i <= len; i++) {
        if (i == len || p[i] == ';') {
            if (n == max)
                return max + 1;
            fields[n] = (const char *) p + start;
            lens[n] = i - start;
            n++;
            start = i + 1;
        }
    }
    return n;
}

static bool s_field_is(const char *f, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(f, word, len) == 0;
}

static bool s_token_valid(const char *s, size_t len)
{
    if (len == 0 || len > L3_PARSER_EDIT_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* A nest mark names "host/sid": printable ASCII, bounded. */
static bool s_nest_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > L3_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    return true;
}

static int s_hex_nibble(char h)
{
    if (h >= '0' && h <= '9')
        return h - '0';
    if (h >= 'a' && h <= 'f')
        return h - 'a' + 10;
    return -1;
}

/* 2*n lowercase hex characters to n bytes; false on anything else. */
static bool s_hex_decode(const char *hex, size_t len, uint8_t *out, size_t n)
{
    if (len != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        int hi = s_hex_nibble(hex[2 * i]), lo = s_hex_nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t) (hi << 4 | lo);
    }
    return true;
}

/* A recorder mark, "rec;<proof>;<verb>" (agent/rec_marks.h): valid when the proof hashes
   to the last value of the chain accepted so far, which it then replaces — so each proof
   counts once, and one copied from the spool into the output never counts. */
static bool s_rec_mark(l3_parser_t *self, const char **f, const size_t *fl, int n)
{
    uint8_t proof[L3_SHA256_LEN], h[L3_SHA256_LEN];
    bool shell = n == 5 && s_field_is(f[2], fl[2], "shell");
    if (!self->have_rec || (n != 3 && !shell) || !s_hex_decode(f[1], fl[1], proof, sizeof(proof)))
        return false;
    l3_sha256(proof, sizeof(proof), h);
    if (memcmp(h, self->rec_last, sizeof(h)) != 0)
        return false;
    memcpy(self->rec_last, proof, sizeof(proof));
    if (shell) {
        //  "rec;<proof>;shell;<sha256 of its nonce>;<depth>": a shell started inside the
        //  session asked the recorder for a nonce (agent/rec_shells.h). Under marks=2 its
        //  marks say "=<k>", k counting the shell marks: every proven one counts, as the
        //  recorder counts every one it wrote.
        if (self->shells_seen < SHELLS_SEEN_MAX)
            self->shells_seen++;
        uint8_t hash[L3_SHA256_LEN];
        unsigned depth = 0;
        bool ok = s_hex_decode(f[3], fl[3], hash, sizeof(hash)) && fl[4] >= 1 && fl[4] <= 2;
        for (size_t i = 0; ok && i < fl[4]; i++) {
            ok = f[4][i] >= '0' && f[4][i] <= '9';
            depth = depth * 10 + (unsigned) (f[4][i] - '0');
        }
        if (!ok)
            return true; /* proven, but malformed: the recorder's, not output */
        if (depth > self->depth + 1u)
            depth = self->depth + 1u;
        if (depth > L3_DEPTH_MAX)
            depth = L3_DEPTH_MAX;
        if (s_shell_register(self, hash, (uint8_t) depth))
            s_shell_enter(self, (uint8_t) depth);
        else
            l3_warn("parser: more than %d shells of one session run at once; a new one's "
                    "commands are output of the command that started it",
                    L3_PARSER_NONCES_MAX);
        return true;
    }
    if (s_field_is(f[2], fl[2], "hangup")) {
        //  The recorder sent SIGHUP to the whole session: the commands that started
        //  inner shells are cut too.
        for (uint8_t d = 0; d < self->depth; d++)
            if (self->held[d].cmd.in_cmd)
                self->held[d].cmd.flags |= L3_FLAG_HANGUP;
    }
    if (!self->cmd.in_cmd)
        return true; /* a key at the prompt, a hangup between commands: nothing to say */
    if (s_field_is(f[2], fl[2], "interrupt"))
        self->cmd.keys |= KEY_INTERRUPT;
    else if (s_field_is(f[2], fl[2], "quit"))
        self->cmd.keys |= KEY_QUIT;
    else if (s_field_is(f[2], fl[2], "suspend"))
        self->cmd.keys |= KEY_SUSPEND;
    else if (s_field_is(f[2], fl[2], "hangup"))
        self->cmd.flags |= L3_FLAG_HANGUP;
    return true; /* a verb we do not know: ours all the same, not output */
}

/* s_nonce_shell's answers besides a slot: the session's nonce given in clear; a shell of
   ours that is gone and whose slot went to another (marks=2 only). */
#define NONCE_LEGACY L3_PARSER_NONCES_MAX
#define SHELL_GONE (L3_PARSER_NONCES_MAX + 1)

/* Under marks=2, the shell a mark's first field "=<n>" names: its slot, SHELL_GONE, or -1
   when the field is no such reference or names a shell not registered yet. The recorder
   wrote every "=" first field in .script itself (it changes any a program printed), and
   never a nonce, so a field of 32 hex characters is nobody's. A registered shell without
   a slot is gone: a new one takes only the slot of a shell that is gone, and the living
   ones are one chain of depths, far fewer than the slots. */
static int s_ref_shell(l3_parser_t *self, const char *s, size_t len)
{
    if (len < 2 || len > 1 + REF_DIGITS_MAX || s[0] != '=' || (s[1] == '0' && len > 2))
        return -1;
    uint32_t n = 0;
    for (size_t i = 1; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        n = n * 10 + (uint32_t) (s[i] - '0');
    }
    if (n > self->shells_seen)
        return -1;
    for (size_t i = 0; i < self->nonces; i++)
        if (self->nonce_reg[i] == n)
            return (int) i;
    return SHELL_GONE;
}

/* Which shell's nonce is s (len bytes)? Its slot, NONCE_LEGACY for the session's own
   nonce given in clear (old spools name it in .info), -1 for none. A nonce that matched
   once is remembered, so a shell's marks cost one hash in all, and only a wrong nonce is
   hashed each time. */
static int s_nonce_shell(l3_parser_t *self, const char *s, size_t len)
{
    if (self->ref)
        return s_ref_shell(self, s, len);
    if (len != L3_PARSER_NONCE_LEN)
        return -1;
    if (self->nonce[0] && memcmp(s, self->nonce, len) == 0)
        return NONCE_LEGACY;
    for (size_t i = 0; i < self->nonces; i++)
        if (self->nonce_known[i] && memcmp(s, self->nonce_seen[i], len) == 0)
            return (int) i;
    if (!self->nonces)
        return -1;
    uint8_t digest[L3_SHA256_LEN];
    l3_sha256(s, len, digest);
    for (size_t i = 0; i < self->nonces; i++) {
        if (memcmp(digest, self->nonce_hash[i], L3_SHA256_LEN) == 0) {
            memcpy(self->nonce_seen[i], s, len);
            self->nonce_known[i] = true;
            return (int) i;
        }
    }
    return -1;
}

bool l3_parser_add_nonce_sha256(l3_parser_t *self, const char *hex)
{
    uint8_t h[L3_SHA256_LEN];
    if (!hex || strlen(hex) != 2 * L3_SHA256_LEN)
        return false;
    for (size_t i = 0; i < 2 * L3_SHA256_LEN; i++) {
        char c = hex[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return false;
        h[i / 2] = (uint8_t) (i % 2 ? (h[i / 2] << 4) | v : v);
    }
    for (size_t i = 0; i < self->opt_nonces; i++)
        if (memcmp(h, self->opt_hash[i], sizeof h) == 0)
            return true;
    if (self->opt_nonces >= L3_PARSER_NONCES_MAX)
        return false;
    memcpy(self->opt_hash[self->opt_nonces++], h, sizeof h);
    //  Under marks=2 the session's shell is "=0" whatever its hash: the table needs none.
    if (self->ref)
        return true;
    for (size_t i = 0; i < self->nonces; i++)
        if (memcmp(h, self->nonce_hash[i], sizeof h) == 0)
            return true;
    if (self->nonces >= L3_PARSER_NONCES_MAX)
        return false;
    self->nonce_depth[self->nonces] = 0;
    self->nonce_alive[self->nonces] = true;
    self->nonce_known[self->nonces] = false;
    self->nonce_reg[self->nonces] = 0;
    memcpy(self->nonce_hash[self->nonces++], h, sizeof h);
    return true;
}

/* The shells a fresh state knows: under marks=2 the session's own ("=0", depth 0);
   otherwise one per nonce hash of the options, all at depth 0. */
static void s_table_reset(l3_parser_t *self)
{
    self->shells_seen = 0;
    self->nonces = 0;
    if (self->ref) {
        memset(self->nonce_hash[0], 0, L3_SHA256_LEN);
        self->nonces = 1;
    } else {
        for (size_t i = 0; i < self->opt_nonces; i++)
            memcpy(self->nonce_hash[i], self->opt_hash[i], L3_SHA256_LEN);
        self->nonces = self->opt_nonces;
    }
    for (size_t i = 0; i < self->nonces; i++) {
        self->nonce_known[i] = false;
        self->nonce_depth[i] = 0;
        self->nonce_alive[i] = true;
        self->nonce_reg[i] = 0;
    }
}

/* Act on a complete mark. Returns false when it is not ours (then it is output). */
static bool s_mark_apply(l3_parser_t *self)
{
    const char *f[8];
    size_t fl[8];
    int n = s_split(self->mark.data, self->mark.len, f, fl, 8);
    if (n < 2 || n > 8)
        return false;
    if (s_field_is(f[0], fl[0], "rec"))
        return s_rec_mark(self, f, fl, n);
    if (s_field_is(f[0], fl[0], "nest")) {
        //  Nest marks carry no nonce (the inner recorder cannot know ours); they can only
        //  hide output of the open command, never make a record.
        if (n != 3 || !s_nest_name_valid(f[2], fl[2]))
            return false;
        if (s_field_is(f[1], fl[1], "begin")) {
            if (self->cmd.in_cmd) {
                self->cmd.flags |= L3_FLAG_NESTED;
                if (self->cmd.nest < NEST_MAX)
                    self->cmd.nest++;
                if (!self->cmd.nested[0]) {
                    memcpy(self->cmd.nested, f[2], fl[2]);
                    self->cmd.nested[fl[2]] = 0;
                }
            }
            return true;
        }
        if (s_field_is(f[1], fl[1], "end")) {
            if (self->cmd.nest)
                self->cmd.nest--;
            return true;
        }
        return false;
    }
    int shell = s_nonce_shell(self, f[0], fl[0]);
    if (shell < 0)
        return false;
    if (shell == SHELL_GONE)
        return true;
    //  A mark of an outer shell: the shells inside it are gone. A shell that is gone
    //  (it exec'd another) says nothing any more; its marks are ours all the same.
    uint8_t depth = shell == NONCE_LEGACY ? 0 : self->nonce_depth[shell];
    bool alive = shell == NONCE_LEGACY ? self->nonce_legacy_alive : self->nonce_alive[shell];
    if (!alive || depth > self->depth)
        return true;
    while (self->depth > depth)
        s_shell_pop(self);
    if (fl[1] != 1)
        return true; /* ours, but a verb we do not know: dropped, not output */
    l3_buf_t arg;
    l3_buf_init(&arg, L3_CMDLINE_MAX);
    switch (f[1][0]) {
    case 'A':
        //  A new prompt while a command is open: the shell never said D (e.g. it was
        //  killed and a parent shell prompts, or the hook failed).
        s_cmd_emit(self, false, 0, L3_FLAG_INTERRUPTED);
        break;
    case 'B':
        break;
    case 'P':
        if (n >= 3 && l3_parser_pct_decode(f[2], fl[2], &arg, L3_CWD_MAX)) {
            l3_buf_reset(&self->cwd);
            l3_buf_append(&self->cwd, arg.data, arg.len);
        }
        break;
    case 'C':
        if (n >= 3 && l3_parser_pct_decode(f[2], fl[2], &arg, L3_CMDLINE_MAX))
            s_cmd_start(self, arg.data, arg.len);
        else
            s_cmd_start(self, (const uint8_t *) "", 0);
        break;
    case 'D': {
        if (!self->cmd.in_cmd)
            break;
        int32_t code = 0;
        bool have = false;
        if (n >= 3 && fl[2] > 0 && fl[2] <= 4) {
            have = true;
            for (size_t i = 0; i < fl[2]; i++) {
                if (f[2][i] < '0' || f[2][i] > '9') {
                    have = false;
                    break;
                }
                code = code * 10 + (f[2][i] - '0');
            }
            if (code > 255)
                have = false;
        }
        s_cmd_emit(self, have, have ? code : 0, 0);
        break;
    }
    case 'E':
        if (self->cmd.in_cmd && n >= 3 && s_token_valid(f[2], fl[2])) {
            memcpy(self->cmd.edit_token, f[2], fl[2]);
            self->cmd.edit_token[fl[2]] = 0;
        }
        break;
    default:
        break;
    }
    l3_buf_free(&arg);
    return true;
}

/* The mark is complete (terminated by BEL or ST, given as term/term_len). */
static void s_mark_end(l3_parser_t *self, const uint8_t *term, size_t term_len)
{
    if (!s_mark_apply(self)) {
        self->forged++;
        s_out(self, (const uint8_t *) "\x1b]" MARK_PREFIX, 2 + MARK_PREFIX_LEN);
        s_out(self, self->mark.data, self->mark.len);
        s_out(self, term, term_len);
    }
    l3_buf_reset(&self->mark);
}

/* The mark was aborted (CAN/SUB, ESC+other, oversize): what we held is output. */
static void s_mark_abort(l3_parser_t *self)
{
    s_out(self, (const uint8_t *) "\x1b]" MARK_PREFIX, 2 + MARK_PREFIX_LEN);
    s_out(self, self->mark.data, self->mark.len);
    l3_buf_reset(&self->mark);
}

/* --------------------------------------------------------------------------------- */
/* PROMPT mode: the rendered line                                                     */

/* Characters (UTF-8 lead bytes) in line[from..to). */
static uint32_t s_line_chars(l3_parser_t *self, uint32_t from, uint32_t to)
{
    uint32_t n = 0;
    for (uint32_t i = from; i < to && i < self->line_len; i++)
        if ((self->line[i] & 0xc0) != 0x80)
            n++;
    return n + (to > self->line_len ? to - self->line_len : 0);
}

/* The position `count` characters before pos, not before floor. */
static uint32_t s_line_back(l3_parser_t *self, uint32_t pos, uint32_t count, uint32_t floor)
{
    while (count-- && pos > floor) {
        pos--;
        while (pos > floor && (self->line[pos] & 0xc0) == 0x80)
            pos--;
    }
    return pos;
}

static void s_line_put(l3_parser_t *self, uint8_t c)
{
    if (self->cursor >= LINE_MAX_BYTES)
        return;
    //  Past the right margin the character goes to the next screen row (autowrap).
    if (self->cols && (c & 0xc0) != 0x80
        && s_line_chars(self, self->row_start, self->cursor) >= self->cols)
        self->row_start = self->cursor;
    if (self->cursor < self->line_len && (c & 0xc0) != 0x80) {
        //  Overwrite: drop the character under the cursor (all its bytes).
        uint32_t end = self->cursor + 1;
        while (end < self->line_len && (self->line[end] & 0xc0) == 0x80)
            end++;
        memmove(self->line + self->cursor, self->line + end, self->line_len - end);
        self->line_len -= end - self->cursor;
    }
    if (self->line_len >= LINE_MAX_BYTES)
        return;
    memmove(self->line + self->cursor + 1, self->line + self->cursor,
            self->line_len - self->cursor);
    self->line[self->cursor++] = c;
    self->line_len++;
}

static void s_line_left(l3_parser_t *self, uint32_t count)
{
    //  A terminal does not move left past the start of the screen row.
    self->cursor = s_line_back(self, self->cursor, count, self->row_start);
}

/* Cursor up (n > 0) or down (n < 0) screen rows of a wrapped line, same column. */
static void s_line_rows(l3_parser_t *self, int n)
{
    if (!self->cols)
        return;
    uint32_t col = s_line_chars(self, self->row_start, self->cursor);
    while (n > 0 && self->row_start > 0) {
        self->row_start = s_line_back(self, self->row_start, self->cols, 0);
        n--;
    }
    while (n < 0) {
        uint32_t p = self->row_start, k = 0;
        while (p < self->line_len && k < self->cols) {
            p++;
            while (p < self->line_len && (self->line[p] & 0xc0) == 0x80)
                p++;
            k++;
        }
        if (k < self->cols)
            break;
        self->row_start = p;
        n++;
    }
    self->cursor = self->row_start;
    while (col-- && self->cursor < self->line_len) {
        self->cursor++;
        while (self->cursor < self->line_len && (self->line[self->cursor] & 0xc0) == 0x80)
            self->cursor++;
    }
}

static void s_line_right(l3_parser_t *self, uint32_t count)
{
    while (count--) {
        if (self->cursor < self->line_len) {
            self->cursor++;
            while (self->cursor < self->line_len && (self->line[self->cursor] & 0xc0) == 0x80)
                self->cursor++;
        } else if (self->line_len < LINE_MAX_BYTES) {
            self->line[self->line_len++] = ' ';
            self->cursor = self->line_len;
        } else
            return;
    }
}

/* Raw line to output (it was no prompt). */
static void s_line_flush(l3_parser_t *self)
{
    s_keep(self, self->raw, self->raw_len);
    self->raw_len = 0;
}

static void s_line_clear(l3_parser_t *self)
{
    self->raw_len = 0;
    self->raw_time = 0;
    self->raw_overflow = false;
    self->line_len = 0;
    self->cursor = 0;
    self->row_start = 0;
    self->lf_pending = self->lf_cr = false;
    self->lf_raw = 0;
    self->lf_time = 0;
}

/* Does the rendered line look like a prompt? Sets *rest to the text after it. */
static bool s_line_prompt(l3_parser_t *self, size_t *rest, size_t *cwd_off, size_t *cwd_len)
{
    if (!self->have_re || self->raw_overflow || self->line_len == 0)
        return false;
    char text[LINE_MAX_BYTES + 1];
    memcpy(text, self->line, self->line_len);
    text[self->line_len] = 0;
    if (strlen(text) != self->line_len)
        return false; /* NUL in the line: regexec cannot see past it */
    regmatch_t m[2];
    if (regexec(&self->re, text, 2, m, 0) != 0 || m[0].rm_so != 0)
        return false;
    *rest = (size_t) m[0].rm_eo;
    *cwd_off = *cwd_len = 0;
    if (m[1].rm_so >= 0 && m[1].rm_eo >= m[1].rm_so) {
        *cwd_off = (size_t) m[1].rm_so;
        *cwd_len = (size_t) (m[1].rm_eo - m[1].rm_so);
    }
    return true;
}

/* A line ended (LF, or the end of the stream when at_end). */
static void s_line_end(l3_parser_t *self, bool at_end)
{
    size_t rest, cwd_off, cwd_len;
    if (s_line_prompt(self, &rest, &cwd_off, &cwd_len)) {
        int64_t now = self->now;
        if (self->raw_len)
            self->now = self->raw_time;
        s_cmd_emit(self, false, 0, 0);
        self->now = now;
        size_t end = self->line_len;
        while (end > rest && (self->line[end - 1] == ' ' || self->line[end - 1] == '\r'))
            end--;
        if (cwd_len) {
            l3_buf_reset(&self->cwd);
            l3_buf_append(&self->cwd, self->line + cwd_off,
                          cwd_len < L3_CWD_MAX ? cwd_len : L3_CWD_MAX);
        }
        if (end > rest && !at_end)
            s_cmd_start(self, self->line + rest, end - rest);
        s_line_clear(self);
        return;
    }
    s_line_flush(self);
    s_line_clear(self);
}

/* The pending LF ended the line: finish it; what came after it starts the next line. */
static void s_lf_end(l3_parser_t *self)
{
    if (!self->lf_pending)
        return;
    self->lf_pending = false;
    uint8_t tail[LINE_MAX_BYTES];
    uint32_t n = self->raw_len > self->lf_raw ? self->raw_len - self->lf_raw : 0;
    memcpy(tail, self->raw + self->lf_raw, n);
    self->raw_len = self->lf_raw;
    int64_t now = self->now;
    self->now = self->lf_time;
    s_line_end(self, false);
    self->now = now;
    memcpy(self->raw, tail, n);
    self->raw_len = n;
    self->raw_time = self->now;
}

/* The pending LF was a row move: the same line goes on (LF down and ESC M up cancel). */
static void s_lf_continue(l3_parser_t *self)
{
    self->lf_pending = false;
    if (self->lf_cr)
        self->cursor = self->row_start;
}

/* A CSI in PROMPT mode: apply the cursor moves and erases a shell's line editor uses. */
static void s_line_csi(l3_parser_t *self, const uint8_t *seq, size_t len)
{
    uint8_t final = seq[len - 1];
    uint32_t arg = 0;
    bool any = false;
    for (size_t i = 2; i + 1 < len; i++) {
        if (seq[i] >= '0' && seq[i] <= '9') {
            if (arg < 10000)
                arg = arg * 10 + (seq[i] - '0');
            any = true;
        } else
            break;
    }
    uint32_t count = any && arg ? arg : 1;
    switch (final) {
    case 'C':
        s_line_right(self, count);
        break;
    case 'D':
        s_line_left(self, count);
        break;
    case 'K':
        if (!any || arg == 0)
            self->line_len = self->cursor;
        else if (arg == 2)
            self->line_len = self->cursor = self->row_start; /* the whole row */
        break;
    case 'A':
        s_line_rows(self, (int) (count < 1000 ? count : 1000));
        break;
    case 'B':
        s_line_rows(self, -(int) (count < 1000 ? count : 1000));
        break;
    case 'P': {
        //  Delete characters at the cursor.
        while (count-- && self->cursor < self->line_len) {
            uint32_t end = self->cursor + 1;
            while (end < self->line_len && (self->line[end] & 0xc0) == 0x80)
                end++;
            memmove(self->line + self->cursor, self->line + end, self->line_len - end);
            self->line_len -= end - self->cursor;
        }
        break;
    }
    case 'G':
        self->cursor = self->row_start;
        s_line_right(self, count - 1);
        break;
    default:
        break;
    }
}

/* --------------------------------------------------------------------------------- */
/* The lexer                                                                          */

/* Alternate screen: CSI ? ... h/l with 1049, 1047 or 47 among the parameters. */
static int s_csi_alt(const uint8_t *seq, size_t len)
{
    if (len < 4 || seq[2] != '?')
        return 0;
    uint8_t final = seq[len - 1];
    if (final != 'h' && final != 'l')
        return 0;
    uint32_t v = 0;
    bool alt = false;
    for (size_t i = 3; i < len; i++) {
        if (seq[i] >= '0' && seq[i] <= '9') {
            if (v < 100000)
                v = v * 10 + (seq[i] - '0');
        } else {
            if (v == 1049 || v == 1047 || v == 47)
                alt = true;
            v = 0;
        }
    }
    if (!alt)
        return 0;
    return final == 'h' ? 1 : -1;
}

/* A program drawing on the main screen (top, watch): cursor home and erase-display start a
   new screen when something was drawn since the last one; absolute cursor positions name
   rows. Enough of either makes the command full screen (parser.h). */
static void s_csi_screen(l3_parser_t *self, const uint8_t *seq, size_t len)
{
    uint8_t final = seq[len - 1];
    if ((final != 'H' && final != 'f' && final != 'J' && final != 'd') || !self->cmd.in_cmd
        || (self->cmd.flags & L3_FLAG_FULLSCREEN) || (len > 3 && seq[2] >= 0x3c && seq[2] <= 0x3f))
        return; /* not a move or erase we count, or private (CSI ? ... J) */
    uint32_t p[2] = {0, 0};
    size_t np = 0;
    for (size_t i = 2; i + 1 < len && np < 2; i++) {
        if (seq[i] >= '0' && seq[i] <= '9') {
            if (p[np] < 100000)
                p[np] = p[np] * 10 + (seq[i] - '0');
        } else if (seq[i] == ';')
            np++;
        else
            return; /* intermediates: another function */
    }
    bool screen_start = false;
    if (final == 'J')
        screen_start = p[0] == 2;
    else {
        uint32_t row = p[0] ? p[0] : 1;
        if (final != 'd' && row == 1 && p[1] <= 1)
            screen_start = true;
        else
            self->cmd.rows |= 1ull << ((row - 1) & 63);
    }
    if (screen_start && self->cmd.drawn) {
        self->cmd.redraws++;
        self->cmd.drawn = false;
    }
    if (self->cmd.redraws >= FULLSCREEN_REDRAWS || __builtin_popcountll(self->cmd.rows) >= FULLSCREEN_ROWS)
        self->cmd.flags |= L3_FLAG_FULLSCREEN;
}

static void s_csi_done(l3_parser_t *self)
{
    int alt = s_csi_alt(self->seq, self->seq_len);
    if (alt) {
        //  Kept with all the full-screen program drew, so the replay, the .cast export and
        //  the journal's last screen (render/vt.c) have it; the switch is what tells them
        //  which screen was which.
        s_out(self, self->seq, self->seq_len);
        if (alt > 0) {
            if (self->cmd.in_cmd)
                self->cmd.flags |= L3_FLAG_FULLSCREEN;
            self->alt = true;
        } else
            self->alt = false;
    } else {
        s_out(self, self->seq, self->seq_len);
        s_csi_screen(self, self->seq, self->seq_len);
        if (self->mode == L3_PARSER_PROMPT) {
            uint8_t final = self->seq[self->seq_len - 1];
            if (!self->lf_pending)
                s_line_csi(self, self->seq, self->seq_len);
            else if (final == 'A')
                s_lf_continue(self); /* back up into the line */
            else if (!strchr("KCDGPmhl", final)) {
                s_lf_end(self);
                s_line_csi(self, self->seq, self->seq_len);
            }
            //  else: erasing or moving on the empty row below, modes, colours: nothing yet
        }
    }
    self->seq_len = 0;
    self->state = ST_GROUND;
}

/* GROUND in PROMPT mode: one byte (controls) or a run of printable bytes. */
static size_t s_ground_prompt(l3_parser_t *self, const uint8_t *p, size_t len)
{
    uint8_t c = p[0];
    if (self->lf_pending) {
        if (c == '\r' || c == '\b') {
            s_out_byte(self, c);
            self->lf_cr = self->lf_cr || c == '\r';
            return 1;
        }
        s_lf_end(self);
    }
    if (c >= 0x20 && c != 0x7f) {
        size_t n = 1;
        while (n < len && p[n] >= 0x20 && p[n] != 0x7f && p[n] != 0x1b)
            n++;
        s_out(self, p, n);
        for (size_t i = 0; i < n; i++)
            s_line_put(self, p[i]);
        return n;
    }
    switch (c) {
    case '\n': {
        s_out_byte(self, c);
        size_t rest, cwd_off, cwd_len;
        if (self->cols && s_line_prompt(self, &rest, &cwd_off, &cwd_len)) {
            self->lf_pending = true;
            self->lf_cr = false;
            self->lf_raw = self->raw_len;
            self->lf_time = self->now;
        } else
            s_line_end(self, false);
        break;
    }
    case '\r':
        s_out_byte(self, c);
        self->cursor = self->row_start;
        break;
    case '\b':
        s_out_byte(self, c);
        s_line_left(self, 1);
        break;
    case '\t': {
        s_out_byte(self, c);
        uint32_t col = s_line_chars(self, self->row_start, self->cursor);
        s_line_right(self, 8 - col % 8);
        break;
    }
    default:
        s_out_byte(self, c);
        break;
    }
    return 1;
}

/* Process bytes; every call consumes at least one byte. */
static size_t s_step(l3_parser_t *self, const uint8_t *p, size_t len)
{
    uint8_t c = p[0];
    switch (self->state) {
    case ST_GROUND:
        if (c != 0x1b) {
            self->cmd.drawn = true;
            if (self->mode == L3_PARSER_PROMPT)
                return s_ground_prompt(self, p, len);
            const uint8_t *esc = memchr(p, 0x1b, len);
            size_t n = esc ? (size_t) (esc - p) : len;
            s_out(self, p, n);
            return n;
        }
        self->esc_held = true;
        self->state = ST_ESC;
        return 1;

    case ST_ESC:
        //  The held ESC decides here.
        self->esc_held = false;
        switch (c) {
        case '[':
            self->seq[0] = 0x1b;
            self->seq[1] = '[';
            self->seq_len = 2;
            self->state = ST_CSI;
            return 1;
        case ']':
            self->seq[0] = 0x1b;
            self->seq[1] = ']';
            self->seq_len = 2;
            self->state = ST_OSC_HEAD;
            return 1;
        case 'P':
        case 'X':
        case '^':
        case '_':
            s_out(self, (const uint8_t *) "\x1b", 1);
            s_out_byte(self, c);
            self->string_esc = false;
            self->state = ST_STR;
            return 1;
        case 0x1b:
            s_out(self, (const uint8_t *) "\x1b", 1);
            self->esc_held = true;
            return 1;
        case 0x18:
        case 0x1a:
            s_out(self, (const uint8_t *) "\x1b", 1);
            s_out_byte(self, c);
            self->state = ST_GROUND;
            return 1;
        default:
            if (c >= 0x80) {
                //  Not an escape after all: the ESC is output, the byte starts over.
                s_out(self, (const uint8_t *) "\x1b", 1);
                self->state = ST_GROUND;
                return 0;
            }
            //  ESC + intermediate, ESC + final, or a C0 control (which a terminal
            //  executes without ending the escape): all output.
            s_out(self, (const uint8_t *) "\x1b", 1);
            s_out_byte(self, c);
            if (c == 'M' && self->mode == L3_PARSER_PROMPT) {
                //  Reverse index: readline's way up a wrapped line.
                if (self->lf_pending)
                    s_lf_continue(self);
                else
                    s_line_rows(self, 1);
            }
            self->state = c >= 0x30 ? ST_GROUND : ST_ESC_INT;
            return 1;
        }

    case ST_ESC_INT:
        if (c == 0x1b) {
            self->esc_held = true;
            self->state = ST_ESC;
            return 1;
        }
        if (c >= 0x80) {
            self->state = ST_GROUND;
            return 0;
        }
        s_out_byte(self, c);
        if (c >= 0x30 || c == 0x18 || c == 0x1a)
            self->state = ST_GROUND;
        return 1;

    case ST_CSI:
        if (c == 0x1b || c == 0x18 || c == 0x1a || c >= 0x80) {
            //  Aborted CSI: what we held is output; the byte starts over.
            s_out(self, self->seq, self->seq_len);
            self->seq_len = 0;
            self->state = ST_GROUND;
            if (c == 0x18 || c == 0x1a) {
                s_out_byte(self, c);
                return 1;
            }
            return 0;
        }
        if (self->seq_len == SEQ_MAX) {
            s_out(self, self->seq, self->seq_len);
            self->seq_len = 0;
            self->state = ST_CSI_PASS;
            return 0;
        }
        if (c >= 0x20 && c <= 0x3f) {
            //  Parameters and intermediates: take the run at once.
            size_t n = 1;
            while (n < len && self->seq_len + n < SEQ_MAX && p[n] >= 0x20 && p[n] <= 0x3f)
                n++;
            memcpy(self->seq + self->seq_len, p, n);
            self->seq_len += (uint32_t) n;
            return n;
        }
        self->seq[self->seq_len++] = c;
        if (c >= 0x40 && c <= 0x7e)
            s_csi_done(self);
        return 1;

    case ST_CSI_PASS:
        if (c == 0x1b || c >= 0x80) {
            self->state = ST_GROUND;
            return 0;
        }
        s_out_byte(self, c);
        if ((c >= 0x40 && c <= 0x7e) || c == 0x18 || c == 0x1a)
            self->state = ST_GROUND;
        return 1;

    case ST_OSC_HEAD: {
        size_t got = self->seq_len - 2;
        if (c == MARK_PREFIX[got]) {
            self->seq[self->seq_len++] = c;
            if (got + 1 == MARK_PREFIX_LEN) {
                self->seq_len = 0;
                l3_buf_reset(&self->mark);
                self->string_esc = false;
                self->state = ST_MARK;
            }
            return 1;
        }
        //  Someone else's OSC (title, 133, 7, 8 ...): output, passed through.
        s_out(self, self->seq, self->seq_len);
        self->seq_len = 0;
        self->string_esc = false;
        self->state = ST_OSC_PASS;
        return 0;
    }

    case ST_OSC_PASS:
    case ST_STR:
        if (self->string_esc) {
            self->string_esc = false;
            if (c == '\\') {
                s_out(self, (const uint8_t *) "\x1b\\", 2);
                self->state = ST_GROUND;
                return 1;
            }
            //  ESC + anything else aborts the string and starts a new escape.
            self->esc_held = true;
            self->state = ST_ESC;
            return 0;
        }
        if (c == 0x1b) {
            self->string_esc = true;
            return 1;
        }
        if (c == 0x18 || c == 0x1a || (c == 0x07 && self->state == ST_OSC_PASS)) {
            s_out_byte(self, c);
            self->state = ST_GROUND;
            return 1;
        }
        {
            //  Pass a run of string bytes at once.
            size_t n = 1;
            while (n < len && p[n] != 0x1b && p[n] != 0x07 && p[n] != 0x18 && p[n] != 0x1a)
                n++;
            s_out(self, p, n);
            return n;
        }

    case ST_MARK:
        if (self->string_esc) {
            self->string_esc = false;
            if (c == '\\') {
                self->state = ST_GROUND;
                s_mark_end(self, (const uint8_t *) "\x1b\\", 2);
                return 1;
            }
            s_mark_abort(self);
            self->esc_held = true;
            self->state = ST_ESC;
            return 0;
        }
        if (c == 0x07) {
            self->state = ST_GROUND;
            s_mark_end(self, (const uint8_t *) "\x07", 1);
            return 1;
        }
        if (c == 0x1b) {
            self->string_esc = true;
            return 1;
        }
        if (c == 0x18 || c == 0x1a) {
            s_mark_abort(self);
            s_out_byte(self, c);
            self->state = ST_GROUND;
            return 1;
        }
        {
            size_t n = 1;
            while (n < len && p[n] != 0x1b && p[n] != 0x07 && p[n] != 0x18 && p[n] != 0x1a)
                n++;
            if (self->mark.len + n > L3_PARSER_MARK_MAX) {
                //  Too long to be one of ours: it is output, and the rest of it too.
                s_mark_abort(self);
                self->state = ST_OSC_PASS;
                return 0;
            }
            l3_buf_append(&self->mark, p, n);
            return n;
        }
    default:
        self->state = ST_GROUND;
        return 0;
    }
}

void l3_parser_feed(l3_parser_t *self, const void *data, size_t len, int64_t time_us)
{
    const uint8_t *p = data;
    self->now = time_us;
    //  A step may return 0 only after a state change to one that consumes the byte; bound
    //  the retries so a bug can never spin.
    int retries = 0;
    while (len) {
        size_t n = s_step(self, p, len);
        if (n == 0) {
            if (++retries > 4) {
                s_out_byte(self, p[0]);
                self->state = ST_GROUND;
                self->esc_held = false;
                n = 1;
            } else
                continue;
        }
        retries = 0;
        p += n;
        len -= n;
        self->offset += n;
    }
}

void l3_parser_finish(l3_parser_t *self, int64_t time_us)
{
    self->now = time_us;
    //  Whatever is held back (an ESC, a CSI, a partial mark) is output.
    if (self->esc_held)
        s_out(self, (const uint8_t *) "\x1b", 1);
    if (self->state == ST_CSI || self->state == ST_OSC_HEAD)
        s_out(self, self->seq, self->seq_len);
    if (self->state == ST_MARK)
        s_mark_abort(self);
    if (self->string_esc)
        s_out(self, (const uint8_t *) "\x1b", 1);
    self->esc_held = self->string_esc = false;
    self->seq_len = 0;
    self->state = ST_GROUND;
    if (self->mode == L3_PARSER_PROMPT) {
        s_lf_end(self);
        s_line_end(self, true);
        s_cmd_emit(self, false, 0, 0);
    } else {
        while (self->depth)
            s_shell_pop(self);
        s_cmd_emit(self, false, 0, L3_FLAG_INTERRUPTED);
    }
    self->alt = false;
}

void l3_parser_set_cols(l3_parser_t *self, uint32_t cols)
{
    self->cols = cols <= 65535 ? cols : 0;
}

uint64_t l3_parser_offset(l3_parser_t *self)
{
    return self->offset;
}

uint64_t l3_parser_commands(l3_parser_t *self)
{
    return self->nr;
}

bool l3_parser_in_command(l3_parser_t *self)
{
    return self->cmd.in_cmd;
}

uint64_t l3_parser_forged(l3_parser_t *self)
{
    return self->forged;
}

/* --------------------------------------------------------------------------------- */
/* Life cycle                                                                         */

static void s_state_reset(l3_parser_t *self)
{
    s_cmd_reset(self);
    for (uint8_t d = 0; d < self->depth; d++) {
        s_cmd_clear(&self->held[d].cmd);
        l3_buf_reset(&self->held[d].cwd);
    }
    self->depth = 0;
    self->nonce_legacy_alive = true;
    s_table_reset(self);
    self->state = ST_GROUND;
    self->esc_held = self->string_esc = false;
    self->seq_len = 0;
    l3_buf_reset(&self->mark);
    self->offset = self->forged = 0;
    self->now = 0;
    self->alt = false;
    self->nr = 0;
    l3_buf_reset(&self->cwd);
    memcpy(self->rec_last, self->rec_anchor, sizeof(self->rec_last));
    s_line_clear(self);
}

l3_parser_t *l3_parser_new(const l3_parser_opts_t *opts)
{
    l3_parser_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->mode = opts->mode;
    self->cols = opts->cols;
    self->on_record = opts->on_record;
    self->arg = opts->arg;
    self->output_cap = opts->output_cap ? opts->output_cap : L3_PARSER_OUTPUT_CAP_DEFAULT;
    if (self->output_cap < 64)
        self->output_cap = 64;
    if (self->output_cap > L3_OUTPUT_MAX)
        self->output_cap = L3_OUTPUT_MAX;
    self->ref = self->mode == L3_PARSER_MARKS && opts->marks == L3_PARSER_MARKS_REF;
    if (opts->nonce && opts->nonce[0] && !self->ref) {
        size_t n = strlen(opts->nonce);
        bool ok = n == L3_PARSER_NONCE_LEN;
        for (size_t i = 0; ok && i < n; i++)
            ok = (opts->nonce[i] >= '0' && opts->nonce[i] <= '9')
                 || (opts->nonce[i] >= 'a' && opts->nonce[i] <= 'f');
        if (!ok) {
            l3_error("parser: the session nonce is not 32 lowercase hex characters");
            free(self);
            return NULL;
        }
        memcpy(self->nonce, opts->nonce, n + 1);
    }
    for (const char *h = opts->nonce_sha256; h && *h;) {
        char one[2 * L3_SHA256_LEN + 1];
        size_t len = strcspn(h, " ,");
        if (len != 2 * L3_SHA256_LEN) {
            h += len + (h[len] != 0);
            if (len)
                l3_warn("parser: a nonce hash is not 64 hex characters; ignored");
            continue;
        }
        memcpy(one, h, len);
        one[len] = 0;
        if (!l3_parser_add_nonce_sha256(self, one))
            l3_warn("parser: a nonce hash is malformed or one too many; ignored");
        h += len + (h[len] != 0);
    }
    if (opts->rec_anchor && opts->rec_anchor[0]) {
        if (!s_hex_decode(opts->rec_anchor, strlen(opts->rec_anchor), self->rec_anchor,
                          sizeof(self->rec_anchor))) {
            l3_error("parser: the recorder's anchor is not 64 lowercase hex characters");
            free(self);
            return NULL;
        }
        self->have_rec = true;
    }
    if (self->mode == L3_PARSER_PROMPT) {
        const char *re = opts->prompt_re ? opts->prompt_re : L3_PARSER_PROMPT_DEFAULT;
        int rc = regcomp(&self->re, re, REG_EXTENDED);
        if (rc != 0) {
            char msg[256];
            regerror(rc, &self->re, msg, sizeof(msg));
            l3_error("parser: bad prompt pattern '%s': %s", re, msg);
            free(self);
            return NULL;
        }
        self->have_re = true;
    }
    l3_buf_init(&self->mark, L3_PARSER_MARK_MAX);
    l3_buf_init(&self->cwd, L3_CWD_MAX);
    s_cmd_init(&self->cmd);
    for (size_t d = 0; d < L3_DEPTH_MAX; d++) {
        s_cmd_init(&self->held[d].cmd);
        l3_buf_init(&self->held[d].cwd, L3_CWD_MAX);
    }
    s_state_reset(self);
    return self;
}

void l3_parser_destroy(l3_parser_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    l3_parser_t *self = *self_p;
    if (self->have_re)
        regfree(&self->re);
    l3_buf_free(&self->mark);
    l3_buf_free(&self->cwd);
    s_cmd_free(&self->cmd);
    for (size_t d = 0; d < L3_DEPTH_MAX; d++) {
        s_cmd_free(&self->held[d].cmd);
        l3_buf_free(&self->held[d].cwd);
    }
    free(self);
    *self_p = NULL;
}

/* --------------------------------------------------------------------------------- */
/* Save and load: little-endian fixed fields and length-prefixed byte strings.         */

static void s_put_u64(l3_buf_t *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t) (v >> (8 * i));
    l3_buf_append(b, x, 8);
}

static void s_put_bytes(l3_buf_t *b, const void *data, size_t len)
{
    s_put_u64(b, len);
    l3_buf_append(b, data, len);
}

typedef struct {
    const uint8_t *p;
    size_t len;
    bool bad;
} reader_t;

static uint64_t s_get_u64(reader_t *r)
{
    if (r->bad || r->len < 8) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t) r->p[i] << (8 * i);
    r->p += 8;
    r->len -= 8;
    return v;
}

/* A length-prefixed string of at most max bytes; returns its start or NULL. */
static const uint8_t *s_get_bytes(reader_t *r, size_t max, size_t *len)
{
    uint64_t n = s_get_u64(r);
    if (r->bad || n > max || n > r->len) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->len -= (size_t) n;
    *len = (size_t) n;
    return p;
}

/* A command's fields, in the order of the saved state (version 1's part, then
   version 2's); in_cmd and truncated are saved as bits by the caller. */
static void s_cmd_put(l3_buf_t *out, const cmd_t *c)
{
    s_put_u64(out, (uint64_t) c->cmd_start);
    s_put_bytes(out, c->cmd_cwd.data, c->cmd_cwd.len);
    s_put_bytes(out, c->cmdline.data, c->cmdline.len);
    s_put_u64(out, c->flags);
    s_put_u64(out, c->nest);
    s_put_bytes(out, c->edit_token, strlen(c->edit_token));
    s_put_bytes(out, c->nested, strlen(c->nested));
    s_put_bytes(out, c->out, c->out_len);
    s_put_u64(out, c->ring_pos);
    s_put_u64(out, c->out_total);
    s_put_u64(out, c->timing_n);
    for (uint32_t i = 0; i < c->timing_n; i++) {
        s_put_u64(out, (uint64_t) c->timing[i].time_us);
        s_put_u64(out, c->timing[i].bytes);
    }
}

static void s_cmd_put_v2(l3_buf_t *out, const cmd_t *c)
{
    s_put_u64(out, c->keys);
    s_put_u64(out, c->redraws);
    s_put_u64(out, c->drawn);
    s_put_u64(out, c->rows);
}

bool l3_parser_save(l3_parser_t *self, l3_buf_t *out)
{
    s_put_u64(out, SAVE_MAGIC);
    s_put_u64(out, SAVE_VERSION);
    s_put_u64(out, self->output_cap);
    s_put_u64(out, self->state);
    s_put_u64(out, (uint64_t) self->esc_held | (uint64_t) self->string_esc << 1
                       | (uint64_t) self->alt << 2 | (uint64_t) self->cmd.in_cmd << 3
                       | (uint64_t) self->cmd.truncated << 4 | (uint64_t) self->raw_overflow << 5);
    s_put_bytes(out, self->seq, self->seq_len);
    s_put_bytes(out, self->mark.data, self->mark.len);
    s_put_u64(out, self->offset);
    s_put_u64(out, self->forged);
    s_put_u64(out, (uint64_t) self->now);
    s_put_u64(out, self->nr);
    s_put_bytes(out, self->cwd.data, self->cwd.len);
    s_cmd_put(out, &self->cmd);
    s_put_bytes(out, self->raw, self->raw_len);
    s_put_u64(out, (uint64_t) self->raw_time);
    s_put_bytes(out, self->line, self->line_len);
    s_put_u64(out, self->cursor);
    s_put_u64(out, self->cols);
    s_put_u64(out, self->row_start);
    s_put_u64(out, (uint64_t) self->lf_pending | (uint64_t) self->lf_cr << 1);
    s_put_u64(out, self->lf_raw);
    s_put_u64(out, (uint64_t) self->lf_time);
    //  Version 2.
    s_put_bytes(out, self->rec_last, sizeof(self->rec_last));
    s_cmd_put_v2(out, &self->cmd);
    //  Version 3: the shells (their nonces' hashes, depths) and the held commands.
    s_put_u64(out, self->depth | (uint64_t) self->nonce_legacy_alive << 8);
    s_put_u64(out, self->cmd.nr);
    s_put_u64(out, self->nonces);
    for (size_t i = 0; i < self->nonces; i++) {
        s_put_bytes(out, self->nonce_hash[i], L3_SHA256_LEN);
        s_put_u64(out, (uint64_t) self->nonce_depth[i] | (uint64_t) self->nonce_alive[i] << 8);
    }
    for (uint8_t d = 0; d < self->depth; d++) {
        const cmd_t *c = &self->held[d].cmd;
        s_put_u64(out, (uint64_t) c->in_cmd | (uint64_t) c->truncated << 1);
        s_put_u64(out, c->nr);
        s_cmd_put(out, c);
        s_cmd_put_v2(out, c);
        s_put_bytes(out, self->held[d].cwd.data, self->held[d].cwd.len);
    }
    //  Version 4: the shells' numbers (marks=2) and how many shell marks there were.
    s_put_u64(out, (uint64_t) self->ref | (uint64_t) self->shells_seen << 1);
    for (size_t i = 0; i < self->nonces; i++)
        s_put_u64(out, self->nonce_reg[i]);
    return !out->failed;
}

/* The fields s_cmd_put wrote, into the active command (whose in_cmd and truncated the
   caller has set); false when they are malformed. */
static bool s_cmd_get(l3_parser_t *self, reader_t *r)
{
    size_t n;
    const uint8_t *p;
    self->cmd.cmd_start = (int64_t) s_get_u64(r);
    if (!(p = s_get_bytes(r, L3_CWD_MAX, &n)) || !l3_buf_append(&self->cmd.cmd_cwd, p, n))
        return false;
    if (!(p = s_get_bytes(r, L3_CMDLINE_MAX, &n)) || !l3_buf_append(&self->cmd.cmdline, p, n))
        return false;
    self->cmd.flags = (uint32_t) s_get_u64(r) & L3_FLAG_ALL;
    uint64_t nest = s_get_u64(r);
    if (nest > NEST_MAX)
        return false;
    self->cmd.nest = (uint32_t) nest;
    if (!(p = s_get_bytes(r, L3_PARSER_EDIT_TOKEN_MAX, &n))
        || (n && !s_token_valid((const char *) p, n)))
        return false;
    memcpy(self->cmd.edit_token, p, n);
    self->cmd.edit_token[n] = 0;
    if (!(p = s_get_bytes(r, L3_NAME_MAX, &n)) || (n && !s_nest_name_valid((const char *) p, n)))
        return false;
    memcpy(self->cmd.nested, p, n);
    self->cmd.nested[n] = 0;
    if (!(p = s_get_bytes(r, self->output_cap, &n)) || (n && !s_out_reserve(self, n)))
        return false;
    if (n)
        memcpy(self->cmd.out, p, n);
    self->cmd.out_len = n;
    self->cmd.ring_pos = s_get_u64(r);
    self->cmd.out_total = s_get_u64(r);
    if (self->cmd.truncated
        && (self->cmd.out_len != self->output_cap
            || self->cmd.ring_pos >= self->output_cap - s_head_size(self)
            || self->cmd.out_total < self->output_cap))
        return false;
    if (!self->cmd.truncated && (self->cmd.ring_pos || self->cmd.out_total != self->cmd.out_len))
        return false;
    uint64_t tn = s_get_u64(r);
    if (tn > TIMING_MAX_ENTRIES || (tn && !s_timing_reserve(self, (uint32_t) tn)))
        return false;
    for (uint64_t i = 0; i < tn; i++) {
        self->cmd.timing[i].time_us = (int64_t) s_get_u64(r);
        uint64_t b = s_get_u64(r);
        if (b > UINT32_MAX)
            return false;
        self->cmd.timing[i].bytes = (uint32_t) b;
    }
    self->cmd.timing_n = (uint32_t) tn;
    return true;
}

static bool s_cmd_get_v2(l3_parser_t *self, reader_t *r)
{
    uint64_t keys = s_get_u64(r), redraws = s_get_u64(r), drawn = s_get_u64(r);
    if (keys > (KEY_INTERRUPT | KEY_QUIT | KEY_SUSPEND) || redraws > FULLSCREEN_REDRAWS
        || drawn > 1)
        return false;
    self->cmd.keys = (uint32_t) keys;
    self->cmd.redraws = (uint32_t) redraws;
    self->cmd.drawn = drawn;
    self->cmd.rows = s_get_u64(r);
    return !r->bad;
}

bool l3_parser_load(l3_parser_t *self, const void *blob, size_t len)
{
    reader_t r = {blob, len, false};
    size_t n;
    const uint8_t *p;
    s_state_reset(self);
    if (s_get_u64(&r) != SAVE_MAGIC)
        goto bad;
    uint64_t version = s_get_u64(&r);
    if (version < 1 || version > SAVE_VERSION)
        goto bad;
    if (s_get_u64(&r) != self->output_cap) {
        //  A different cap changes what is kept; the state cannot be reused exactly.
        l3_warn("parser: saved state has another output cap");
        goto bad;
    }
    uint64_t state = s_get_u64(&r);
    uint64_t bits = s_get_u64(&r);
    if (state >= ST_COUNT)
        goto bad;
    self->state = (uint8_t) state;
    self->esc_held = bits & 1;
    self->string_esc = (bits >> 1) & 1;
    self->alt = (bits >> 2) & 1;
    self->cmd.in_cmd = (bits >> 3) & 1;
    self->cmd.truncated = (bits >> 4) & 1;
    self->raw_overflow = (bits >> 5) & 1;
    if (!(p = s_get_bytes(&r, SEQ_MAX, &n)))
        goto bad;
    memcpy(self->seq, p, n);
    self->seq_len = (uint32_t) n;
    if (!(p = s_get_bytes(&r, L3_PARSER_MARK_MAX, &n)) || !l3_buf_append(&self->mark, p, n))
        goto bad;
    self->offset = s_get_u64(&r);
    self->forged = s_get_u64(&r);
    self->now = (int64_t) s_get_u64(&r);
    self->nr = s_get_u64(&r);
    if (!(p = s_get_bytes(&r, L3_CWD_MAX, &n)) || !l3_buf_append(&self->cwd, p, n))
        goto bad;
    if (!s_cmd_get(self, &r))
        goto bad;
    if (!(p = s_get_bytes(&r, LINE_MAX_BYTES, &n)))
        goto bad;
    memcpy(self->raw, p, n);
    self->raw_len = (uint32_t) n;
    self->raw_time = (int64_t) s_get_u64(&r);
    if (!(p = s_get_bytes(&r, LINE_MAX_BYTES, &n)))
        goto bad;
    memcpy(self->line, p, n);
    self->line_len = (uint32_t) n;
    uint64_t cursor = s_get_u64(&r);
    if (cursor > self->line_len)
        goto bad;
    self->cursor = (uint32_t) cursor;
    uint64_t cols = s_get_u64(&r), row_start = s_get_u64(&r);
    if (cols > 65535 || row_start > self->cursor)
        goto bad;
    self->cols = (uint32_t) cols;
    self->row_start = (uint32_t) row_start;
    uint64_t lf_bits = s_get_u64(&r), lf_raw = s_get_u64(&r);
    if (lf_bits > 3 || lf_raw > self->raw_len || ((lf_bits & 1) && self->mode != L3_PARSER_PROMPT))
        goto bad;
    self->lf_pending = lf_bits & 1;
    self->lf_cr = (lf_bits >> 1) & 1;
    self->lf_raw = (uint32_t) lf_raw;
    self->lf_time = (int64_t) s_get_u64(&r);
    if (version >= 2) {
        //  A version 1 state (an agent from before the recorder marks) keeps the anchor.
        if (!(p = s_get_bytes(&r, sizeof(self->rec_last), &n)) || n != sizeof(self->rec_last))
            goto bad;
        memcpy(self->rec_last, p, n);
        if (!s_cmd_get_v2(self, &r))
            goto bad;
    }
    //  Before version 3 the open command was always the last one started.
    self->cmd.nr = self->cmd.in_cmd ? self->nr : 0;
    if (version >= 3) {
        uint64_t depth = s_get_u64(&r), active_nr = s_get_u64(&r), nonces = s_get_u64(&r);
        if ((depth & 0xff) > L3_DEPTH_MAX || depth >> 9 || active_nr > self->nr
            || nonces > L3_PARSER_NONCES_MAX)
            goto bad;
        self->nonce_legacy_alive = (depth >> 8) & 1;
        depth &= 0xff;
        self->cmd.nr = active_nr;
        self->nonces = 0;
        for (uint64_t i = 0; i < nonces; i++) {
            uint64_t d;
            if (!(p = s_get_bytes(&r, L3_SHA256_LEN, &n)) || n != L3_SHA256_LEN
                || (d = s_get_u64(&r)) > (L3_DEPTH_MAX | 1u << 8))
                goto bad;
            memcpy(self->nonce_hash[i], p, n);
            self->nonce_known[i] = false;
            self->nonce_depth[i] = (uint8_t) d;
            self->nonce_alive[i] = (d >> 8) & 1;
            self->nonce_reg[i] = 0;
            self->nonces++;
        }
        //  Each held command is read into the active slot and moved to its level.
        for (uint64_t d = 0; d < depth; d++) {
            cmd_t active = self->cmd;
            self->cmd = self->held[d].cmd;
            uint64_t held_bits = s_get_u64(&r);
            self->cmd.nr = s_get_u64(&r);
            bool ok = held_bits <= 3 && self->cmd.nr <= self->nr;
            self->cmd.in_cmd = held_bits & 1;
            self->cmd.truncated = (held_bits >> 1) & 1;
            ok = ok && s_cmd_get(self, &r) && s_cmd_get_v2(self, &r);
            self->held[d].cmd = self->cmd;
            self->cmd = active;
            self->depth = (uint8_t) (d + 1); /* so a failure below frees this level too */
            if (!ok || !(p = s_get_bytes(&r, L3_CWD_MAX, &n))
                || !l3_buf_append(&self->held[d].cwd, p, n))
                goto bad;
        }
        self->depth = (uint8_t) depth;
    }
    if (version >= 4) {
        uint64_t refs = s_get_u64(&r);
        //  A state saved under the other form of marks (another .info) does not apply.
        if ((refs & 1) != self->ref || (refs >> 1) > SHELLS_SEEN_MAX)
            goto bad;
        self->shells_seen = (uint32_t) (refs >> 1);
        for (size_t i = 0; i < self->nonces; i++) {
            uint64_t reg = s_get_u64(&r);
            if (reg > self->shells_seen)
                goto bad;
            self->nonce_reg[i] = (uint32_t) reg;
        }
    } else if (self->ref) {
        //  An agent from before marks=2 took every "=<n>" mark for output: its state is
        //  not where this parser would be. Parse again from the start.
        goto bad;
    }
    if (r.bad || r.len != 0)
        goto bad;
    //  The string-state flags only make sense in the states that use them.
    if (self->string_esc && self->state != ST_OSC_PASS && self->state != ST_STR
        && self->state != ST_MARK)
        goto bad;
    if (self->esc_held != (self->state == ST_ESC))
        goto bad;
    if ((self->state == ST_CSI && self->seq_len < 2)
        || (self->state == ST_OSC_HEAD && (self->seq_len < 2 || self->seq_len >= 2 + MARK_PREFIX_LEN)))
        goto bad;
    if (self->state != ST_CSI && self->state != ST_OSC_HEAD && self->seq_len)
        goto bad;
    return true;
bad:
    l3_warn("parser: saved state is malformed; starting afresh");
    s_state_reset(self);
    return false;
}
