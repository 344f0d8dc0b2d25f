/*  vt — a command's output as a person saw it, through a real terminal emulator.

    render/ansi.c reads output bytes as a stream of lines, which is right for `ls --color`
    and one-line progress bars and wrong for everything that moves the cursor: multi-line
    progress (apt, docker, pip redraw N lines with cursor up + erase line), scroll regions,
    insert/delete line, tab stops, wide characters. vt feeds the bytes to libvterm (a
    VT220/xterm emulator, the one neovim uses) at the session's size and reads back what
    was on the terminal: every line that scrolled off the top, in order, then the final
    screen. Redraws collapse to their last state because only the screen is read.

    The result is a vt_doc_t: lines of valid UTF-8 text (no control bytes; a wide
    character is one character, however many cells) with styled spans, which
    vt_doc_to_html draws with ansi.c's classes (ansi_span_open) and escaping.

    Usage:
        vt_t *vt = vt_new(rows, cols, 0);
        vt_write(vt, output, len);          // as often as there are chunks
        vt_doc_t *doc = vt_transcript(vt);  // or vt_screen(vt) for the last screen
        vt_doc_to_html(doc, &out);
        vt_doc_destroy(&doc);
        vt_destroy(&vt);
    or vt_to_html(output, len, rows, cols, &out) for all of it at once.

    Bounds: rows and cols are clamped to VT_MAX_ROWS x VT_MAX_COLS and to at least 2
    columns (0 or less means 24 x 80). Of the lines that scroll off the top, the first VT_MAX_SCROLLBACK are kept, with
    at most VT_MAX_TEXT bytes of text and VT_MAX_SPANS spans in all: the first ones,
    because the start of a command's output says what it did and the final screen (always
    kept) says how it ended. Later lines are counted in doc->dropped and the HTML says
    where they were. So a vt_t holds at most about 64 + 48 + 3 MiB of lines plus
    libvterm's screen (rows x cols cells of 40 bytes, 20 MB at the maximum size) whatever
    it is fed, and costs time linear in the input.

    Alternate screen: by default, as in xterm and tmux, a full-screen program (vim, less)
    draws on the alternate screen and its exit brings back the normal one, so the
    transcript shows what the terminal showed afterwards. VT_NO_ALTSCREEN draws everything
    on the one screen instead, so vt_screen() after a full-screen program is its last
    frame (issue 11 item 2's snapshot). */
#ifndef VT_H
#define VT_H

#include "ansi.h"
#include "l3_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VT_MAX_ROWS 500
#define VT_MAX_COLS 1000
#define VT_MAX_SCROLLBACK 100000
#define VT_MAX_TEXT (64u << 20)
#define VT_MAX_SPANS (1u << 20)

/* The work one terminal may do, in cells touched (see vt_set_budget): about 50 ms. */
#define VT_BUDGET (64ull << 20)

/* vt_new flags */
#define VT_NO_ALTSCREEN 1

/* A styled run of a line: bytes [start, end) of its text. */
typedef struct {
    size_t start, end;
    ansi_style_t style;
} vt_span_t;

/* One line: UTF-8 text (NUL-terminated, trailing blanks dropped) and its spans, in order,
   non-overlapping; text in the default style has no span. */
typedef struct {
    const char *text;
    size_t len;
    const vt_span_t *spans;
    size_t nspans;
} vt_line_t;

/* What the terminal showed. Owns everything it points to. */
typedef struct {
    vt_line_t *lines;
    size_t nlines;
    size_t dropped;    /* scrolled-off lines not kept (over the caps) */
    size_t dropped_at; /* index in lines where they would have been */
    char *text_;       /* private: the text and spans lines point into */
    vt_span_t *spans_;
} vt_doc_t;

typedef struct vt_t vt_t;

/* A terminal of rows x cols (clamped, see above), empty, cursor at the top left. flags:
   0 or VT_NO_ALTSCREEN. Returns NULL when out of memory. */
vt_t *vt_new(int rows, int cols, int flags);
/* Free the terminal; accepts NULL and a pointer to NULL, nulls *self_p. */
void vt_destroy(vt_t **self_p);
/* Feed output bytes (any bytes: invalid UTF-8 shows as U+FFFD; a sequence cut at the end
   of one call continues in the next). */
void vt_write(vt_t *self, const void *data, size_t len);
/* Work is counted in cells the emulator may touch: a printable character 1, a line feed
   or a scroll the whole screen, an erase of the screen 4 screens, and so on. Bytes fed
   once the budget (VT_BUDGET by default) is spent are dropped and vt_overrun is true:
   the caller should show the output some cheaper way. A screen of 200 x 500 cells costs
   its 100,000 cells at every line feed, so without it 64 KiB of line feeds took 4 s. */
void vt_set_budget(vt_t *self, uint64_t cells);
uint64_t vt_cost(const vt_t *self);
bool vt_overrun(const vt_t *self);
/* The scrolled-off lines kept, then the screen's lines without the trailing blank ones.
   Caller owns the result (vt_doc_destroy); NULL when out of memory. */
vt_doc_t *vt_transcript(vt_t *self);
/* The screen alone: exactly rows lines (blank ones empty). Caller owns; NULL on OOM. */
vt_doc_t *vt_screen(vt_t *self);
/* The last screen of a full-screen program: the alternate screen as it was when the
   program left it (the last time it did; at its last vt_mark when there was one), or the
   screen now when it is still on it or never went there. Exactly rows lines. Caller
   owns; NULL on OOM. */
vt_doc_t *vt_last_screen(vt_t *self);
/* The screen now is one the person looked at: the output paused here (the caller knows
   from the record's timing). A program's last screen is then this one if it leaves the
   alternate screen before the next mark: what a program writes after the quitting key
   (less erasing its prompt, vim's "written" line and the scroll after it) was on the
   screen for milliseconds and is not what the person saw. No effect off the alternate
   screen. */
void vt_mark(vt_t *self);
void vt_doc_destroy(vt_doc_t **doc_p);

/* Append the doc as HTML: lines joined by '\n', escaped like ansi_html_escape, styled
   runs in ansi_span_open's spans, each closed on its line; a marker line where lines
   were dropped. Returns false when out hit its limit (contents then valid but cut). */
bool vt_doc_to_html(const vt_doc_t *doc, l3_buf_t *out);
/* Lines [from, to) of the doc as vt_doc_to_html does (the dropped marker too when it is
   inside), each occurrence of mark (exact bytes; NULL or "" for none) in <mark>. */
bool vt_lines_to_html(const vt_doc_t *doc, size_t from, size_t to, const char *mark,
                      l3_buf_t *out);
/* The same as plain text (no escaping, no styles). */
bool vt_doc_to_text(const vt_doc_t *doc, l3_buf_t *out);

/* Whether data does more than print text, end lines (LF, CRLF), tab and set colours
   (SGR; OSC strings draw nothing): only such output can look different through the
   emulator than through ansi.c's line stream, so only it is worth the emulator's cost
   (ten times ansi.c's, see l3-vt-bench). */
bool vt_needed(const void *data, size_t len);

/* data through a rows x cols terminal into out as the HTML of its transcript. */
bool vt_to_html(const void *data, size_t len, int rows, int cols, l3_buf_t *out);

#endif
