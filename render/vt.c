/*  vt — output bytes through libvterm into lines and spans. See vt.h. */
#include "vt.h"
#include "l3_utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vterm.h>

#define S_DEFAULT_ROWS 24
#define S_DEFAULT_COLS 80
/* The right half of a wide character: libvterm's placeholder cell. */
#define S_WIDE_RIGHT ((uint32_t)-1)

/* The guard (s_guard_*): what libvterm 0.1.4 (Debian 12) is given. It crashes on a CSI
   with more than 16 parameters, accumulates parameter digits in a long without an
   overflow check, and decodes invalid UTF-8 differently depending on where a chunk
   ends. So CSIs are collected here and passed on whole, at most S_CSI_PARAMS parameters
   of at most S_CSI_DIGITS digits (more are dropped: the value stays larger than any
   screen), and only valid UTF-8 passes: each invalid byte becomes U+FFFD and C1
   controls (U+0080-U+009F) are dropped, as render/ansi.c does. REP (CSI n b, which
   ncurses uses for runs of one character) loops forever in libvterm 0.1.4 before any
   character was drawn, so it is dropped until one was, and its count is capped at a
   screenful (more draws the same screen, only slower: 10 input bytes asked for a
   million characters). REP of a wide character at the line end writes out of bounds
   and REP of a lone combining mark hangs, so REP passes only right after an ASCII
   character (ncurses' REP of a line-drawing character is dropped: a shorter line).
   libvterm is given only complete ordinary sequences: it starts
   a CSI after ESC, intermediates or odd bytes where a terminal would not, so ESC
   sequences are held until complete, and strings (OSC, DCS...) are not passed on. */
#define S_CSI_PARAMS 16
#define S_CSI_DIGITS 6
#define S_CSI_MAX 128
#define S_OUT_MAX 4096

/* Where the guard is: text, after ESC, in ESC's intermediates (ESC ( 0), in a CSI, in
   a string (OSC, DCS, SOS, PM, APC: until BEL or ESC \). */
enum { S_GROUND, S_ESC, S_ESC_INTER, S_CSI, S_STRING };

/* One kept line: offsets into its store's text and spans, not pointers, because the
   buffers move when they grow. */
typedef struct {
    size_t text, len, span, nspans;
} rec_t;

/* Lines as three growable arrays: text (each line NUL-terminated), spans, records. */
typedef struct {
    l3_buf_t text, spans, recs;
} store_t;

struct vt_t {
    VTerm *term;
    VTermScreen *screen;
    int rows, cols;
    store_t sb;             /* the scrolled-off lines kept */
    size_t dropped;         /* scrolled-off lines past the caps */
    VTermScreenCell *cells; /* one screen row, read back */
    /* the guard's state, kept between writes so chunks may end anywhere */
    int guard;                   /* S_GROUND, S_ESC (one held back), ... */
    uint8_t utf8[4];             /* an incomplete UTF-8 sequence */
    size_t nutf8;
    char csi[S_CSI_MAX];         /* the CSI being collected, ESC [ included */
    size_t ncsi;
    int csi_params, csi_digits, csi_inter;
    bool csi_full;               /* S_CSI_PARAMS reached: the rest is dropped */
    bool drawn;                  /* the last character drawn was ASCII: REP is safe */
    char out[S_OUT_MAX];         /* guarded bytes on their way to libvterm */
    size_t nout;
    /* the full-screen snapshot (vt_last_screen) */
    bool altscreen;      /* the alternate screen is emulated (not VT_NO_ALTSCREEN) */
    bool in_alt;         /* a program switched to it and has not left */
    vt_doc_t *snap;      /* the alternate screen as it was when last left */
    vt_doc_t *mark;      /* the alternate screen at the last vt_mark, while on it */
    /* the work budget (vt_set_budget) */
    uint64_t cost, budget;
    bool overrun;
};

static void s_store_init(store_t *st)
{
    l3_buf_init(&st->text, 0);
    l3_buf_init(&st->spans, 0);
    l3_buf_init(&st->recs, 0);
}

static void s_store_free(store_t *st)
{
    l3_buf_free(&st->text);
    l3_buf_free(&st->spans);
    l3_buf_free(&st->recs);
}

static size_t s_nrecs(const store_t *st)
{
    return st->recs.len / sizeof(rec_t);
}

static size_t s_nspans(const store_t *st)
{
    return st->spans.len / sizeof(vt_span_t);
}

static bool s_store_failed(const store_t *st)
{
    return st->text.failed || st->spans.failed || st->recs.failed;
}

static int s_colour(const VTermColor *c, bool is_default)
{
    if (is_default)
        return ANSI_DEFAULT;
    if (VTERM_COLOR_IS_INDEXED(c))
        return c->indexed.idx;
    return ANSI_RGB | (c->rgb.red << 16) | (c->rgb.green << 8) | c->rgb.blue;
}

/* The journal's style of a cell. libvterm has no dim (SGR 2): it is lost here. */
static ansi_style_t s_style(const VTermScreenCell *c)
{
    ansi_style_t s;
    memset(&s, 0, sizeof s);
    s.fg = s_colour(&c->fg, VTERM_COLOR_IS_DEFAULT_FG(&c->fg));
    s.bg = s_colour(&c->bg, VTERM_COLOR_IS_DEFAULT_BG(&c->bg));
    s.bold = c->attrs.bold;
    s.italic = c->attrs.italic;
    s.underline = c->attrs.underline != 0;
    s.inverse = c->attrs.reverse;
    s.strike = c->attrs.strike;
    return s;
}

static bool s_style_eq(const ansi_style_t *a, const ansi_style_t *b)
{
    return a->fg == b->fg && a->bg == b->bg && a->bold == b->bold && a->dim == b->dim &&
           a->italic == b->italic && a->underline == b->underline &&
           a->inverse == b->inverse && a->strike == b->strike;
}

static bool s_style_default(const ansi_style_t *s)
{
    return s->fg == ANSI_DEFAULT && s->bg == ANSI_DEFAULT && !s->bold && !s->dim &&
           !s->italic && !s->underline && !s->inverse && !s->strike;
}

/* A cell that shows nothing: no character, or a space nothing makes visible. Trailing
   ones are not part of the line (tmux capture-pane drops them too). */
static bool s_blank(const VTermScreenCell *c)
{
    if (c->chars[0] != 0 && c->chars[0] != ' ')
        return false;
    ansi_style_t s = s_style(c);
    return s.bg == ANSI_DEFAULT && !s.inverse && !s.underline && !s.strike;
}

/* Code points that may stand in the journal's text: no controls, no surrogates. */
static bool s_printable(uint32_t cp)
{
    return cp >= 0x20 && !(cp >= 0x7f && cp <= 0x9f) && !(cp >= 0xd800 && cp <= 0xdfff) &&
           cp <= 0x10ffff;
}

static size_t s_utf8_put(char *w, uint32_t cp)
{
    if (cp < 0x80) {
        w[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        w[0] = (char)(0xc0 | (cp >> 6));
        w[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        w[0] = (char)(0xe0 | (cp >> 12));
        w[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        w[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    w[0] = (char)(0xf0 | (cp >> 18));
    w[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    w[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    w[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* The UTF-8 of a cell: its base character (U+FFFD if libvterm kept anything odd) and
   its combining characters; an empty cell is a space. */
static size_t s_cell_utf8(const VTermScreenCell *c, char *w)
{
    if (c->chars[0] == 0)
        return w[0] = ' ', 1;
    size_t n = s_utf8_put(w, s_printable(c->chars[0]) ? c->chars[0] : 0xfffd);
    for (int i = 1; i < VTERM_MAX_CHARS_PER_CELL && c->chars[i]; i++)
        if (s_printable(c->chars[i]))
            n += s_utf8_put(w + n, c->chars[i]);
    return n;
}

/* Whether libvterm drew cp two cells wide (East Asian wide and fullwidth, emoji; the
   ranges of Markus Kuhn's wcwidth that libvterm uses, plus its emoji block). Needed for
   one thing only: libvterm does not clear the placeholder right of a wide character
   that a narrow one overwrites, so a placeholder after a narrow character is a blank. */
static bool s_wide(uint32_t cp)
{
    static const uint32_t ranges[][2] = {
        {0x1100, 0x115f},   {0x231a, 0x231b},   {0x2329, 0x232a},   {0x23e9, 0x23ec},
        {0x23f0, 0x23f0},   {0x23f3, 0x23f3},   {0x25fd, 0x25fe},   {0x2614, 0x2615},
        {0x2648, 0x2653},   {0x267f, 0x267f},   {0x2693, 0x2693},   {0x26a1, 0x26a1},
        {0x26aa, 0x26ab},   {0x26bd, 0x26be},   {0x26c4, 0x26c5},   {0x26ce, 0x26ce},
        {0x26d4, 0x26d4},   {0x26ea, 0x26ea},   {0x26f2, 0x26f5},   {0x26fa, 0x26fd},
        {0x2705, 0x2705},   {0x270a, 0x270b},   {0x2728, 0x2728},   {0x274c, 0x274c},
        {0x2753, 0x2755},   {0x2757, 0x2757},   {0x2795, 0x2797},   {0x27b0, 0x27b0},
        {0x27bf, 0x27bf},   {0x2b1b, 0x2b1c},   {0x2b50, 0x2b50},   {0x2b55, 0x2b55},
        {0x2e80, 0x303e},   {0x3041, 0x33ff},   {0x3400, 0x4dbf},   {0x4e00, 0x9fff},
        {0xa000, 0xa4cf},   {0xa960, 0xa97f},   {0xac00, 0xd7a3},   {0xf900, 0xfaff},
        {0xfe10, 0xfe19},   {0xfe30, 0xfe6f},   {0xff00, 0xff60},   {0xffe0, 0xffe6},
        {0x16fe0, 0x18cff}, {0x1b000, 0x1b2ff}, {0x1f004, 0x1f004}, {0x1f0cf, 0x1f0cf},
        {0x1f18e, 0x1f18e}, {0x1f191, 0x1f19a}, {0x1f200, 0x1f251}, {0x1f300, 0x1f64f},
        {0x1f680, 0x1f6ff}, {0x1f900, 0x1f9ff}, {0x1fa70, 0x1faff}, {0x20000, 0x3fffd}};
    if (cp < 0x1100)
        return false;
    size_t lo = 0, hi = sizeof ranges / sizeof ranges[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < ranges[mid][0])
            hi = mid;
        else if (cp > ranges[mid][1])
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

static void s_span_add(store_t *st, size_t start, size_t end, const ansi_style_t *style)
{
    if (end == start || s_style_default(style))
        return;
    vt_span_t span = {start, end, *style};
    l3_buf_append(&st->spans, &span, sizeof span);
}

/* Append one row of cells to st as a line: text without the trailing blanks, a span per
   run of cells in one non-default style. */
static void s_line_add(store_t *st, const VTermScreenCell *cells, int cols)
{
    rec_t rec = {st->text.len, 0, s_nspans(st), 0};
    int end = cols;
    while (end > 0 && s_blank(&cells[end - 1]))
        end--;
    ansi_style_t run;
    memset(&run, 0, sizeof run);
    run.fg = run.bg = ANSI_DEFAULT;
    size_t run_start = 0;
    char utf8[VTERM_MAX_CHARS_PER_CELL * 4];
    VTermScreenCell blank;
    bool after_wide = false;
    for (int col = 0; col < end; col++) {
        const VTermScreenCell *c = &cells[col];
        if (c->chars[0] == S_WIDE_RIGHT) {
            if (after_wide) {
                after_wide = false;
                continue;
            }
            blank = *c;
            blank.chars[0] = 0;
            c = &blank;
        }
        after_wide = s_wide(c->chars[0]);
        ansi_style_t s = s_style(c);
        size_t at = st->text.len - rec.text;
        if (!s_style_eq(&s, &run)) {
            s_span_add(st, run_start, at, &run);
            run = s;
            run_start = at;
        }
        l3_buf_append(&st->text, utf8, s_cell_utf8(c, utf8));
    }
    rec.len = st->text.len - rec.text;
    s_span_add(st, run_start, rec.len, &run);
    l3_buf_append_byte(&st->text, 0);
    rec.nspans = s_nspans(st) - rec.span;
    l3_buf_append(&st->recs, &rec, sizeof rec);
}

/* libvterm: a line scrolls off the top of the normal screen. Kept while under the caps;
   once one is not, no later one is either, so what is kept has one gap at most. */
static int s_sb_pushline(int cols, const VTermScreenCell *cells, void *user)
{
    vt_t *self = user;
    store_t *sb = &self->sb;
    /* libvterm also calls this when a line is deleted at the top (DL, SU with the cursor
       on the first row). Those lines are gone, not scrolled into history, in xterm and
       tmux; a scroll by line feed has the cursor on the bottom margin, never row 0 (a
       scroll region is at least two rows), so the cursor tells them apart. */
    VTermPos cursor;
    vterm_state_get_cursorpos(vterm_obtain_state(self->term), &cursor);
    if (cursor.row == 0 && self->rows > 1)
        return 1;
    if (self->dropped || s_nrecs(sb) >= VT_MAX_SCROLLBACK) {
        self->dropped++;
        return 1;
    }
    size_t text0 = sb->text.len, spans0 = sb->spans.len, recs0 = sb->recs.len;
    s_line_add(sb, cells, cols < self->cols ? cols : self->cols);
    if (s_store_failed(sb) || sb->text.len > VT_MAX_TEXT || s_nspans(sb) > VT_MAX_SPANS) {
        sb->text.len = text0;
        sb->spans.len = spans0;
        sb->recs.len = recs0;
        self->dropped++;
    }
    return 1;
}

/* Answers to queries (DA, DSR) would go to the program; there is none. */
static void s_output_discard(const char *s, size_t len, void *user)
{
}

static const VTermScreenCallbacks s_callbacks = {.sb_pushline = s_sb_pushline};

vt_t *vt_new(int rows, int cols, int flags)
{
    if (rows <= 0 || cols <= 0) {
        rows = S_DEFAULT_ROWS;
        cols = S_DEFAULT_COLS;
    }
    vt_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->rows = rows > VT_MAX_ROWS ? VT_MAX_ROWS : rows;
    self->cols = cols > VT_MAX_COLS ? VT_MAX_COLS : cols;
    /* libvterm 0.1.4 writes past its screen for a wide character in one column */
    if (self->cols < 2)
        self->cols = 2;
    s_store_init(&self->sb);
    self->cells = calloc((size_t)self->cols, sizeof *self->cells);
    self->term = vterm_new(self->rows, self->cols);
    if (!self->cells || !self->term) {
        vt_destroy(&self);
        return NULL;
    }
    vterm_set_utf8(self->term, 1);
    vterm_output_set_callback(self->term, s_output_discard, NULL);
    self->screen = vterm_obtain_screen(self->term);
    vterm_screen_set_callbacks(self->screen, &s_callbacks, self);
    /* Damage is not read (the screen is read at the end): merging it all costs least. */
    vterm_screen_set_damage_merge(self->screen, VTERM_DAMAGE_SCREEN);
    self->budget = VT_BUDGET;
    self->altscreen = !(flags & VT_NO_ALTSCREEN);
    vterm_screen_enable_altscreen(self->screen, self->altscreen);
    vterm_screen_reset(self->screen, 1);
    return self;
}

void vt_destroy(vt_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vt_t *self = *self_p;
    if (self->term)
        vterm_free(self->term);
    s_store_free(&self->sb);
    vt_doc_destroy(&self->snap);
    vt_doc_destroy(&self->mark);
    free(self->cells);
    free(self);
    *self_p = NULL;
}

/* The work a sequence may make libvterm do, in cells: a scroll moves the screen, an
   erase or insert rewrites it; DECALN draws every cell. The figures are measured ratios
   (LF at the bottom: 0.8 ns a cell; ED 2: 1.6; IL: 3.2; DECALN: 7). */
static void s_charge(vt_t *self, uint64_t cells)
{
    self->cost += cells;
    if (self->cost > self->budget)
        self->overrun = true;
}

static uint64_t s_cells(const vt_t *self)
{
    return (uint64_t)self->rows * (uint64_t)self->cols;
}

static void s_guard_flush(vt_t *self)
{
    const char *p = self->out;
    size_t len = self->nout;
    while (len) {
        size_t n = vterm_input_write(self->term, p, len);
        if (n == 0 || n > len)
            break; /* libvterm takes everything; never spin if a version does not */
        p += n;
        len -= n;
    }
    self->nout = 0;
}

static void s_guard_put(vt_t *self, const void *data, size_t len)
{
    if (self->nout + len > sizeof self->out)
        s_guard_flush(self);
    memcpy(self->out + self->nout, data, len);
    self->nout += len;
}

/* Whether the len (< its sequence's length) bytes at p can still become valid UTF-8:
   completed with the lowest or the highest continuation byte, one of them decodes. */
static bool s_utf8_prefix(const uint8_t *p, size_t len)
{
    uint8_t lo[4] = {0x80, 0x80, 0x80, 0x80}, hi[4] = {0xbf, 0xbf, 0xbf, 0xbf};
    uint32_t cp;
    memcpy(lo, p, len);
    memcpy(hi, p, len);
    return l3_utf8_decode(lo, 4, &cp) > len || l3_utf8_decode(hi, 4, &cp) > len;
}

static void s_guard_byte(vt_t *self, uint8_t b);

/* A byte of text (not in an escape sequence): valid UTF-8 passes, C1 controls do not. */
static void s_guard_text(vt_t *self, uint8_t b)
{
    if (b < 0x80 && self->nutf8 == 0) {
        if (b == 0x1b) {
            self->guard = S_ESC; /* held back until the next byte says what follows */
            return;
        }
        s_guard_put(self, &b, 1);
        if (b >= 0x20 && b < 0x7f)
            self->drawn = true;
        s_charge(self, b == '\n' || b == 0x0b || b == 0x0c ? s_cells(self) : (uint64_t)self->rows);
        return;
    }
    self->utf8[self->nutf8++] = b;
    uint32_t cp = 0;
    size_t n = l3_utf8_decode(self->utf8, self->nutf8, &cp);
    if (n == self->nutf8) {
        if (!(cp >= 0x80 && cp <= 0x9f)) {
            s_guard_put(self, self->utf8, n);
            s_charge(self, (uint64_t)self->rows);
            self->drawn = false; /* see the guard's comment on REP */
        }
        self->nutf8 = 0;
        return;
    }
    if (self->nutf8 < 4 && s_utf8_prefix(self->utf8, self->nutf8))
        return; /* wait for the rest */
    /* invalid: its first byte is U+FFFD, the others start again (one may be ESC or a
       lead byte) */
    uint8_t rest[3];
    size_t nrest = self->nutf8 - 1;
    memcpy(rest, self->utf8 + 1, nrest);
    self->nutf8 = 0;
    s_guard_put(self, "\xef\xbf\xbd", 3);
    for (size_t i = 0; i < nrest; i++)
        s_guard_byte(self, rest[i]);
}

/* A complete CSI ending in b: REP, made safe (see the guard's comment above). */
static void s_guard_rep(vt_t *self)
{
    if (!self->drawn)
        return;
    long count = 0;
    for (size_t i = 2; i < self->ncsi - 1; i++) {
        if (self->csi[i] < '0' || self->csi[i] > '9')
            return; /* a marker, an intermediate, a second parameter: not a REP */
        count = count * 10 + (self->csi[i] - '0'); /* at most S_CSI_DIGITS digits */
    }
    long most = (long)self->rows * self->cols;
    char rep[32];
    int n = snprintf(rep, sizeof rep, "\x1b[%ldb", count > most ? most : count);
    s_guard_put(self, rep, (size_t)n);
}

static vt_doc_t *s_doc_new(vt_t *self, bool with_scrollback, bool trim);

/* A DEC private mode set (h) or reset (l) is about to pass: when it switches the
   alternate screen (47, 1047, 1049) off, the screen the program left is kept first as
   the snapshot vt_last_screen gives (it cannot be read later: entering the alternate
   screen again erases it). Reading a screen is charged to the budget like any other work
   over the whole screen, so input made of switches stays bounded. */
static void s_guard_altscreen(vt_t *self, bool set)
{
    bool alt = false;
    long param = 0;
    for (size_t i = 3; i < self->ncsi; i++) {
        char ch = self->csi[i];
        if (ch >= '0' && ch <= '9') {
            param = param * 10 + (ch - '0');
            continue;
        }
        if (param == 47 || param == 1047 || param == 1049)
            alt = true;
        param = 0;
    }
    if (!alt)
        return;
    s_charge(self, s_cells(self));
    if (set) {
        self->in_alt = true;
        vt_doc_destroy(&self->mark); /* marks of an earlier program are not this one's */
        return;
    }
    if (!self->in_alt)
        return;
    self->in_alt = false;
    vt_doc_t *snap = self->mark; /* what was looked at, before the exit output */
    self->mark = NULL;
    if (!snap) {
        s_charge(self, 32 * s_cells(self)); /* get_cell: a call per cell, 50 ns */
        s_guard_flush(self); /* what the program drew, on the screen before it is read */
        snap = s_doc_new(self, false, false);
    }
    if (snap) {
        vt_doc_destroy(&self->snap);
        self->snap = snap;
    }
}

/* A byte of a CSI after ESC [: collected, passed on whole when the final byte comes. */
static void s_guard_csi(vt_t *self, uint8_t b)
{
    if (b >= '0' && b <= '9') {
        if (!self->csi_full && self->csi_digits < S_CSI_DIGITS) {
            self->csi[self->ncsi++] = (char)b;
            self->csi_digits++;
        }
    } else if (b == ';' || b == ':') {
        if (self->csi_params + 1 >= S_CSI_PARAMS)
            self->csi_full = true;
        if (!self->csi_full) {
            self->csi[self->ncsi++] = (char)b;
            self->csi_params++;
            self->csi_digits = 0;
        }
    } else if (b >= 0x3c && b <= 0x3f) {
        if (self->ncsi == 2) /* a private marker (?) counts only first */
            self->csi[self->ncsi++] = (char)b;
    } else if (b >= 0x20 && b <= 0x2f) {
        if (self->csi_inter < 2) {
            self->csi[self->ncsi++] = (char)b;
            self->csi_inter++;
        }
    } else if (b >= 0x40 && b <= 0x7e) {
        self->csi[self->ncsi++] = (char)b;
        self->guard = S_GROUND;
        if (strchr("JLMST", b))
            s_charge(self, 4 * s_cells(self));
        else if (strchr("K@PX", b))
            s_charge(self, 4 * (uint64_t)self->cols);
        else
            s_charge(self, self->ncsi);
        if (b == 'b')
            s_guard_rep(self);
        else {
            if ((b == 'h' || b == 'l') && self->csi[2] == '?' && self->altscreen)
                s_guard_altscreen(self, b == 'h');
            s_guard_put(self, self->csi, self->ncsi);
        }
    } else if (b == 0x18 || b == 0x1a) {
        self->guard = S_GROUND; /* CAN, SUB: the sequence is cancelled */
    } else if (b == 0x1b) {
        self->guard = S_ESC; /* a new sequence starts, this one is dropped */
    } else if (b < 0x20) {
        s_guard_put(self, &b, 1); /* C0 controls act inside a sequence */
    } else if (b >= 0x80) {
        self->guard = S_GROUND; /* not a CSI after all: dropped, the byte is text */
        s_guard_text(self, b);
    }
}

static void s_guard_byte(vt_t *self, uint8_t b)
{
    switch (self->guard) {
    case S_GROUND:
        s_guard_text(self, b);
        break;
    case S_ESC:
        if (b == '[') {
            memcpy(self->csi, "\x1b[", 2);
            self->ncsi = 2;
            self->csi_params = self->csi_digits = self->csi_inter = 0;
            self->csi_full = false;
            self->guard = S_CSI;
        } else if (b == ']' || b == 'P' || b == 'X' || b == '^' || b == '_') {
            self->guard = S_STRING; /* not passed on: see S_STRING */
        } else if (b >= 0x20 && b <= 0x2f) {
            /* intermediates: collected, the sequence passed on whole at its final */
            self->csi[0] = 0x1b;
            self->csi[1] = (char)b;
            self->ncsi = 2;
            self->guard = S_ESC_INTER;
        } else if (b >= 0x30 && b <= 0x7e) {
            s_guard_put(self, "\x1b", 1);
            s_guard_put(self, &b, 1);
            s_charge(self, strchr("DEMc", b) ? 2 * s_cells(self) : 2);
            self->guard = S_GROUND;
        } else if (b == 0x18 || b == 0x1a) {
            self->guard = S_GROUND; /* cancelled */
        } else if (b == 0x1b) {
            ; /* ESC ESC: the first is dropped; libvterm never gets a lone ESC */
        } else if (b < 0x20) {
            s_guard_put(self, &b, 1); /* a C0 control acts, the ESC still waits */
        } else if (b >= 0x80) {
            /* not a sequence: the ESC is dropped, the byte is text */
            self->guard = S_GROUND;
            s_guard_text(self, b);
        } /* DEL: ignored */
        break;
    case S_ESC_INTER:
        /* ESC ( 0 and the like, held until complete: libvterm 0.1.4 starts a CSI or a
           string on [ ] P X ^ _ even after intermediates, and stays in a sequence over
           odd bytes, so it is given complete ordinary sequences or nothing. */
        if (b == 0x1b) {
            self->guard = S_ESC;
        } else if (b >= 0x20 && b <= 0x2f) {
            if (self->ncsi < 4)
                self->csi[self->ncsi++] = (char)b;
        } else if (b >= 0x30 && b <= 0x7e) {
            if (!strchr("[]PX^_", b)) {
                self->csi[self->ncsi++] = (char)b;
                s_guard_put(self, self->csi, self->ncsi);
                s_charge(self, 8 * s_cells(self)); /* ESC # 8 (DECALN), charsets */
            }
            self->guard = S_GROUND;
        } else if (b == 0x18 || b == 0x1a) {
            self->guard = S_GROUND;
        } else if (b < 0x20) {
            s_guard_put(self, &b, 1);
        } else if (b >= 0x80) {
            self->guard = S_GROUND;
            s_guard_text(self, b);
        }
        break;
    case S_STRING:
        /* OSC (titles, hyperlinks), DCS, SOS, PM, APC draw nothing, and libvterm 0.1.4
           crashes answering some DCS queries (XTGETTCAP): strings are dropped whole,
           up to BEL, CAN, SUB or the ESC of ST */
        if (b == 0x1b)
            self->guard = S_ESC;
        else if (b == 0x07 || b == 0x18 || b == 0x1a)
            self->guard = S_GROUND;
        break;
    default:
        s_guard_csi(self, b);
        break;
    }
}

void vt_write(vt_t *self, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t i = 0;
    while (i < len && !self->overrun) {
        /* the common case, a run of printable ASCII, in one copy */
        if (self->guard == S_GROUND && self->nutf8 == 0 && p[i] >= 0x20 && p[i] < 0x7f) {
            size_t j = i + 1;
            while (j < len && j - i < S_OUT_MAX && p[j] >= 0x20 && p[j] < 0x7f)
                j++;
            s_guard_put(self, p + i, j - i);
            self->drawn = true;
            s_charge(self, (j - i) * (uint64_t)self->rows); /* a wrap every cols scrolls */
            i = j;
            continue;
        }
        s_guard_byte(self, p[i++]);
    }
    s_guard_flush(self);
}

/* Read screen row `row` into self->cells. */
static void s_row_read(vt_t *self, int row)
{
    for (int col = 0; col < self->cols; col++) {
        VTermPos pos = {row, col};
        if (!vterm_screen_get_cell(self->screen, pos, &self->cells[col]))
            memset(&self->cells[col], 0, sizeof self->cells[col]);
    }
}

/* A doc of the kept scrollback (if with_scrollback) and the screen, trailing blank
   screen lines dropped if trim. */
static vt_doc_t *s_doc_new(vt_t *self, bool with_scrollback, bool trim)
{
    vt_doc_t *doc = NULL;
    store_t st;
    s_store_init(&st);
    if (with_scrollback) {
        l3_buf_append(&st.text, self->sb.text.data, self->sb.text.len);
        l3_buf_append(&st.spans, self->sb.spans.data, self->sb.spans.len);
        l3_buf_append(&st.recs, self->sb.recs.data, self->sb.recs.len);
    }
    size_t first_screen = s_nrecs(&st);
    for (int row = 0; row < self->rows; row++) {
        s_row_read(self, row);
        s_line_add(&st, self->cells, self->cols);
    }
    if (s_store_failed(&st))
        goto cleanup;
    size_t n = s_nrecs(&st);
    const rec_t *recs = (const rec_t *)st.recs.data;
    while (trim && n > first_screen && recs[n - 1].len == 0)
        n--;

    doc = calloc(1, sizeof *doc);
    if (!doc)
        goto cleanup;
    doc->lines = calloc(n ? n : 1, sizeof *doc->lines);
    if (!doc->lines) {
        free(doc);
        doc = NULL;
        goto cleanup;
    }
    doc->nlines = n;
    doc->dropped = with_scrollback ? self->dropped : 0;
    doc->dropped_at = first_screen < n ? first_screen : n;
    doc->text_ = (char *)l3_buf_steal(&st.text, NULL);
    doc->spans_ = (vt_span_t *)l3_buf_steal(&st.spans, NULL);
    for (size_t i = 0; i < n; i++) {
        doc->lines[i].text = doc->text_ + recs[i].text;
        doc->lines[i].len = recs[i].len;
        doc->lines[i].nspans = recs[i].nspans;
        doc->lines[i].spans = recs[i].nspans ? doc->spans_ + recs[i].span : NULL;
    }
cleanup:
    s_store_free(&st);
    return doc;
}

vt_doc_t *vt_transcript(vt_t *self)
{
    return s_doc_new(self, true, true);
}

vt_doc_t *vt_screen(vt_t *self)
{
    return s_doc_new(self, false, false);
}

void vt_mark(vt_t *self)
{
    if (!self->in_alt || self->overrun)
        return;
    s_charge(self, 32 * s_cells(self));
    s_guard_flush(self);
    vt_doc_t *doc = s_doc_new(self, false, false);
    if (doc) {
        vt_doc_destroy(&self->mark);
        self->mark = doc;
    }
}

void vt_set_budget(vt_t *self, uint64_t cells)
{
    self->budget = cells;
    if (self->cost > self->budget)
        self->overrun = true;
}

uint64_t vt_cost(const vt_t *self)
{
    return self->cost;
}

bool vt_overrun(const vt_t *self)
{
    return self->overrun;
}

vt_doc_t *vt_last_screen(vt_t *self)
{
    if (self->in_alt || !self->snap)
        return s_doc_new(self, false, false);
    /* a copy, so the caller owns its doc as with vt_screen */
    const vt_doc_t *snap = self->snap;
    vt_doc_t *doc = calloc(1, sizeof *doc);
    size_t ntext = 0, nspans = 0;
    for (size_t i = 0; i < snap->nlines; i++) {
        ntext += snap->lines[i].len + 1;
        nspans += snap->lines[i].nspans;
    }
    if (doc) {
        doc->lines = calloc(snap->nlines ? snap->nlines : 1, sizeof *doc->lines);
        doc->text_ = malloc(ntext ? ntext : 1);
        doc->spans_ = malloc(nspans ? nspans * sizeof *doc->spans_ : 1);
    }
    if (!doc || !doc->lines || !doc->text_ || !doc->spans_) {
        vt_doc_destroy(&doc);
        return NULL;
    }
    char *t = doc->text_;
    vt_span_t *sp = doc->spans_;
    for (size_t i = 0; i < snap->nlines; i++) {
        const vt_line_t *from = &snap->lines[i];
        memcpy(t, from->text, from->len);
        t[from->len] = 0;
        if (from->nspans)
            memcpy(sp, from->spans, from->nspans * sizeof *sp);
        doc->lines[i] = (vt_line_t){t, from->len, from->nspans ? sp : NULL, from->nspans};
        t += from->len + 1;
        sp += from->nspans;
    }
    doc->nlines = snap->nlines;
    return doc;
}

void vt_doc_destroy(vt_doc_t **doc_p)
{
    if (!doc_p || !*doc_p)
        return;
    vt_doc_t *doc = *doc_p;
    free(doc->lines);
    free(doc->text_);
    free(doc->spans_);
    free(doc);
    *doc_p = NULL;
}

static void s_dropped_out(size_t dropped, bool html, l3_buf_t *out)
{
    if (html)
        l3_buf_printf(out, "<span class=\"t d\">[%zu more lines not kept]</span>", dropped);
    else
        l3_buf_printf(out, "[%zu more lines not kept]", dropped);
}

/* One line; in HTML its styled runs as spans and, when mark is given, its occurrences
   of mark in <mark> (outside the spans, each cut where a span starts or ends, so every
   tag is closed on the line). */
static void s_line_out(const vt_line_t *line, bool html, const char *mark, l3_buf_t *out)
{
    if (!html) {
        l3_buf_append(out, line->text, line->len);
        return;
    }
    ansi_range_t found[64], marks[64];
    size_t nfound = mark && mark[0] ? ansi_find(line->text, line->len, mark, found, 64) : 0;
    size_t nmarks = 0;
    for (size_t i = 0; i < nfound; i++) {
        /* a query that is not whole characters would cut one: not marked */
        const uint8_t *t = (const uint8_t *)line->text;
        if ((t[found[i].start] & 0xc0) != 0x80 &&
            (found[i].end == line->len || (t[found[i].end] & 0xc0) != 0x80))
            marks[nmarks++] = found[i];
    }
    size_t at = 0, k = 0, m = 0;
    while (at < line->len) {
        while (k < line->nspans && line->spans[k].end <= at)
            k++;
        while (m < nmarks && marks[m].end <= at)
            m++;
        bool in_span = k < line->nspans && line->spans[k].start <= at;
        bool in_mark = m < nmarks && marks[m].start <= at;
        size_t end = line->len;
        if (k < line->nspans) {
            size_t edge = in_span ? line->spans[k].end : line->spans[k].start;
            end = edge < end ? edge : end;
        }
        if (m < nmarks) {
            size_t edge = in_mark ? marks[m].end : marks[m].start;
            end = edge < end ? edge : end;
        }
        if (in_mark)
            l3_buf_append_str(out, "<mark>");
        bool opened = in_span && ansi_span_open(&line->spans[k].style, out);
        ansi_html_escape(line->text + at, end - at, out);
        if (opened)
            l3_buf_append_str(out, "</span>");
        if (in_mark)
            l3_buf_append_str(out, "</mark>");
        at = end;
    }
}

static bool s_doc_out(const vt_doc_t *doc, size_t from, size_t to, bool html, const char *mark,
                      l3_buf_t *out)
{
    if (to > doc->nlines)
        to = doc->nlines;
    bool first = true;
    for (size_t i = from; i <= to && !out->failed; i++) {
        /* the marker of dropped lines, where they were: before line i, or after the last */
        if (doc->dropped && i == doc->dropped_at && (i < to || to == doc->nlines)) {
            if (!first)
                l3_buf_append_byte(out, '\n');
            s_dropped_out(doc->dropped, html, out);
            first = false;
        }
        if (i == to)
            break;
        if (!first)
            l3_buf_append_byte(out, '\n');
        s_line_out(&doc->lines[i], html, mark, out);
        first = false;
    }
    return !out->failed;
}

bool vt_doc_to_html(const vt_doc_t *doc, l3_buf_t *out)
{
    return s_doc_out(doc, 0, doc->nlines, true, NULL, out);
}

bool vt_lines_to_html(const vt_doc_t *doc, size_t from, size_t to, const char *mark,
                      l3_buf_t *out)
{
    return s_doc_out(doc, from, to, true, mark, out);
}

bool vt_doc_to_text(const vt_doc_t *doc, l3_buf_t *out)
{
    return s_doc_out(doc, 0, doc->nlines, false, NULL, out);
}

bool vt_needed(const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = p[i];
        if (b >= 0x20 || b == '\n' || b == '\t' || b == 0x07)
            continue;
        if (b == '\r') {
            if (i + 1 < len && p[i + 1] != '\n')
                return true; /* a CR that rewinds: what follows overwrites */
            continue;
        }
        if (b != 0x1b || i + 1 >= len)
            return true; /* BS and the other C0 controls move or erase */
        if (p[i + 1] == ']') {
            /* OSC (a title, a hyperlink) draws nothing: skipped to BEL or ST */
            size_t j = i + 2;
            while (j < len && p[j] != 0x07 && !(p[j] == 0x1b && j + 1 < len && p[j + 1] == '\\'))
                j++;
            i = j < len && p[j] == 0x1b ? j + 1 : j;
            continue;
        }
        if (p[i + 1] != '[')
            return true;
        /* a CSI: only SGR (parameters, then m) keeps to the line stream */
        size_t j = i + 2;
        while (j < len && ((p[j] >= '0' && p[j] <= '9') || p[j] == ';' || p[j] == ':'))
            j++;
        /* SGR, and erase to the end of the line (grep --color writes it after each
           colour) on a line only ever written forward, where nothing is to the right */
        if (j >= len || !(p[j] == 'm' || (p[j] == 'K' && (j == i + 2 || p[j - 1] == '0'))))
            return true;
        i = j;
    }
    return false;
}

bool vt_to_html(const void *data, size_t len, int rows, int cols, l3_buf_t *out)
{
    bool ok = false;
    vt_doc_t *doc = NULL;
    vt_t *vt = vt_new(rows, cols, 0);
    if (!vt)
        goto cleanup;
    vt_write(vt, data, len);
    doc = vt_transcript(vt);
    if (!doc)
        goto cleanup;
    ok = vt_doc_to_html(doc, out);
cleanup:
    vt_doc_destroy(&doc);
    vt_destroy(&vt);
    return ok;
}
