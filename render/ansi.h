/*  ansi — terminal output bytes to safe HTML (or plain text).

    Every byte of terminal output is untrusted. The converter is a byte-stream state
    machine: printable text is HTML-escaped, invalid UTF-8 becomes U+FFFD, SGR colour and
    attribute sequences become <span class="..."> (256-colour and truecolour as an inline
    style with a computed #rrggbb, never text from the input), every other escape sequence
    (CSI, OSC, DCS, SOS/PM/APC, charset designators) and C0 control is dropped. A lone CR
    rewinds the current line (progress bars show their last state). Optional highlight
    ranges (byte offsets into the input) are wrapped in <mark>. Output is bounded by the
    caller's l3_buf limit. */
#ifndef ANSI_H
#define ANSI_H

#include "l3_buf.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A text style as the journal draws it. Colours: ANSI_DEFAULT, a palette index 0..255, or
   ANSI_RGB | 0xrrggbb. Shared with vt.c, so both converters draw the same classes. */
#define ANSI_DEFAULT (-1)
#define ANSI_RGB 0x1000000
typedef struct {
    int fg, bg;
    bool bold, dim, italic, underline, inverse, strike;
} ansi_style_t;

/* Append the <span ...> that opens style s: classes t, b d i u s, f0-f15 and g0-g15, and
   an inline style with a computed #rrggbb for other colours (inverse swaps fg and bg).
   Appends nothing and returns false for the default style, which needs no span. */
bool ansi_span_open(const ansi_style_t *s, l3_buf_t *out);

/* A half-open byte range [start, end) of the input to highlight. */
typedef struct {
    size_t start, end;
} ansi_range_t;

/* Append the HTML rendering of data to out: escaped text and balanced <span>/<mark> tags,
   never an unbalanced tag whatever the input. ranges (sorted, non-overlapping) may be
   NULL. Returns false when out hit its limit (contents then valid but cut). */
bool ansi_to_html(const void *data, size_t len, const ansi_range_t *ranges,
                     size_t nranges, l3_buf_t *out);

/* Append the plain text of data (escapes dropped, CR rewinds, invalid UTF-8 as U+FFFD)
   with no HTML escaping. */
bool ansi_to_text(const void *data, size_t len, l3_buf_t *out);

/* Append s HTML-escaped (& < > " '), invalid UTF-8 as U+FFFD, controls dropped except
   newline and tab. */
bool ansi_html_escape(const void *data, size_t len, l3_buf_t *out);

/* Find up to max non-overlapping occurrences of needle in data (exact bytes, like the
   search); returns the count written to ranges. */
size_t ansi_find(const void *data, size_t len, const char *needle, ansi_range_t *ranges,
                    size_t max);

#endif
