/*  ansi — terminal output bytes to safe HTML or plain text. See ansi.h. */
#include "ansi.h"
#include "l3_utf8.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define S_DEFAULT ANSI_DEFAULT
#define S_RGB ANSI_RGB

typedef ansi_style_t style_t;

typedef struct {
    bool html;
    l3_buf_t *out;
    l3_buf_t line;       /* the current line; a lone CR rewinds it */
    style_t style;
    bool span_open;
    bool mark_open;
    bool cr_pending;     /* a CR not (yet) followed by LF */
    const ansi_range_t *ranges;
    size_t nranges, r;
} conv_t;

static bool s_style_default(const style_t *s)
{
    return s->fg == S_DEFAULT && s->bg == S_DEFAULT && !s->bold && !s->dim && !s->italic &&
           !s->underline && !s->inverse && !s->strike;
}

/* The colour as #rrggbb: xterm's 256-colour palette computed, never copied from input. */
static void s_colour_hex(int c, char *buf, size_t size)
{
    static const unsigned char base[16][3] = {
        {0, 0, 0},       {205, 49, 49},   {13, 188, 121},  {229, 229, 16},
        {36, 114, 200},  {188, 63, 188},  {17, 168, 205},  {229, 229, 229},
        {102, 102, 102}, {241, 76, 76},   {35, 209, 139},  {245, 245, 67},
        {59, 142, 234},  {214, 112, 214}, {41, 184, 219},  {255, 255, 255}};
    unsigned r, g, b;
    if (c & S_RGB) {
        r = (c >> 16) & 0xff;
        g = (c >> 8) & 0xff;
        b = c & 0xff;
    } else if (c < 16) {
        r = base[c][0];
        g = base[c][1];
        b = base[c][2];
    } else if (c < 232) {
        int v = c - 16;
        static const unsigned steps[6] = {0, 95, 135, 175, 215, 255};
        r = steps[(v / 36) % 6];
        g = steps[(v / 6) % 6];
        b = steps[v % 6];
    } else {
        r = g = b = 8 + 10 * (unsigned)(c - 232);
    }
    snprintf(buf, size, "#%02x%02x%02x", r, g, b);
}

static void s_mark_close(conv_t *c)
{
    if (c->mark_open) {
        l3_buf_append_str(&c->line, "</mark>");
        c->mark_open = false;
    }
}

static void s_span_close(conv_t *c)
{
    s_mark_close(c);
    if (c->span_open) {
        l3_buf_append_str(&c->line, "</span>");
        c->span_open = false;
    }
}

bool ansi_span_open(const ansi_style_t *s, l3_buf_t *out)
{
    if (s_style_default(s))
        return false;
    int fg = s->fg, bg = s->bg;
    if (s->inverse) {
        fg = s->bg == S_DEFAULT ? 0 : s->bg;
        bg = s->fg == S_DEFAULT ? 7 : s->fg;
    }
    l3_buf_append_str(out, "<span class=\"t");
    if (s->bold)
        l3_buf_append_str(out, " b");
    if (s->dim)
        l3_buf_append_str(out, " d");
    if (s->italic)
        l3_buf_append_str(out, " i");
    if (s->underline)
        l3_buf_append_str(out, " u");
    if (s->strike)
        l3_buf_append_str(out, " s");
    if (fg != S_DEFAULT && !(fg & S_RGB) && fg < 16)
        l3_buf_printf(out, " f%d", fg);
    if (bg != S_DEFAULT && !(bg & S_RGB) && bg < 16)
        l3_buf_printf(out, " g%d", bg);
    l3_buf_append_str(out, "\"");
    bool fg_style = fg != S_DEFAULT && ((fg & S_RGB) || fg >= 16);
    bool bg_style = bg != S_DEFAULT && ((bg & S_RGB) || bg >= 16);
    if (fg_style || bg_style) {
        char hex[16];
        l3_buf_append_str(out, " style=\"");
        if (fg_style) {
            s_colour_hex(fg, hex, sizeof hex);
            l3_buf_printf(out, "color:%s;", hex);
        }
        if (bg_style) {
            s_colour_hex(bg, hex, sizeof hex);
            l3_buf_printf(out, "background:%s;", hex);
        }
        l3_buf_append_str(out, "\"");
    }
    l3_buf_append_str(out, ">");
    return true;
}

static void s_span_open(conv_t *c)
{
    if (c->html && ansi_span_open(&c->style, &c->line))
        c->span_open = true;
}

/* Move the finished line to the output and start the next one with the same style. */
static void s_line_flush(conv_t *c, bool newline)
{
    if (c->html)
        s_span_close(c);
    l3_buf_append(c->out, c->line.data, c->line.len);
    if (newline)
        l3_buf_append_byte(c->out, '\n');
    l3_buf_reset(&c->line);
    if (c->html)
        s_span_open(c);
}

/* A CR not followed by LF: the next visible character overwrites the line. */
static void s_line_rewind(conv_t *c)
{
    c->cr_pending = false;
    l3_buf_reset(&c->line);
    c->span_open = false;
    c->mark_open = false;
    s_span_open(c);
}

/* Emit one visible character (bytes of one UTF-8 sequence) that started at input pos. */
static void s_emit(conv_t *c, size_t pos, const char *bytes, size_t n)
{
    if (c->cr_pending)
        s_line_rewind(c);
    if (c->html && c->ranges) {
        while (c->r < c->nranges && c->ranges[c->r].end <= pos)
            c->r++;
        bool in = c->r < c->nranges && c->ranges[c->r].start <= pos;
        if (in && !c->mark_open) {
            l3_buf_append_str(&c->line, "<mark>");
            c->mark_open = true;
        } else if (!in && c->mark_open) {
            s_mark_close(c);
        }
    }
    if (c->html && n == 1) {
        switch (bytes[0]) {
        case '&': l3_buf_append_str(&c->line, "&amp;"); return;
        case '<': l3_buf_append_str(&c->line, "&lt;"); return;
        case '>': l3_buf_append_str(&c->line, "&gt;"); return;
        case '"': l3_buf_append_str(&c->line, "&quot;"); return;
        case '\'': l3_buf_append_str(&c->line, "&#39;"); return;
        default: break;
        }
    }
    l3_buf_append(&c->line, bytes, n);
}

/* True for bytes that are text as they are: printable ASCII needing no escape. */
static bool s_plain(uint8_t b, bool html)
{
    if (b < 0x20 || b > 0x7e)
        return false;
    return !html || (b != '&' && b != '<' && b != '>' && b != '"' && b != '\'');
}

/* Emit the run of plain bytes data[pos..pos+n) in one append, split at highlight
   boundaries (the common case, ASCII text, costs one copy instead of one per byte). */
static void s_emit_run(conv_t *c, size_t pos, const uint8_t *data, size_t n)
{
    while (n) {
        size_t take = n;
        if (c->html && c->ranges) {
            while (c->r < c->nranges && c->ranges[c->r].end <= pos)
                c->r++;
            if (c->r < c->nranges) {
                size_t edge = c->ranges[c->r].start > pos ? c->ranges[c->r].start
                                                          : c->ranges[c->r].end;
                if (edge - pos < take)
                    take = edge - pos;
            }
        }
        /* s_emit does the rewind and the mark for the first byte; the rest follows it */
        s_emit(c, pos, (const char *)data, 1);
        if (take > 1)
            l3_buf_append(&c->line, data + 1, take - 1);
        pos += take;
        data += take;
        n -= take;
    }
}

/* Read one integer parameter of an SGR list; returns the next index. */
static size_t s_param(const char *p, size_t n, size_t i, int *value)
{
    long v = 0;
    bool any = false;
    while (i < n && isdigit((unsigned char)p[i])) {
        if (v < 100000)
            v = v * 10 + (p[i] - '0');
        i++;
        any = true;
    }
    *value = any ? (int)v : 0;
    /* skip the separator, or any odd byte ("3<"), so every call makes progress */
    if (i < n && !isdigit((unsigned char)p[i]))
        i++;
    return i;
}

/* Extended colour after 38/48: "5;n" or "2;r;g;b". */
static size_t s_extended(const char *p, size_t n, size_t i, int *colour)
{
    int mode = 0, a = 0, g = 0, b = 0;
    i = s_param(p, n, i, &mode);
    if (mode == 5) {
        i = s_param(p, n, i, &a);
        *colour = (a >= 0 && a <= 255) ? a : S_DEFAULT;
    } else if (mode == 2) {
        i = s_param(p, n, i, &a);
        i = s_param(p, n, i, &g);
        i = s_param(p, n, i, &b);
        *colour = S_RGB | ((a & 0xff) << 16) | ((g & 0xff) << 8) | (b & 0xff);
    }
    return i;
}

static void s_sgr(conv_t *c, const char *p, size_t n)
{
    style_t s = c->style;
    size_t i = 0;
    for (size_t k = 0; k < n; k++)
        if (!isdigit((unsigned char)p[k]) && p[k] != ';' && p[k] != ':')
            return; /* not an SGR a terminal would act on */
    if (n == 0)
        memset(&s, 0, sizeof s), s.fg = s.bg = S_DEFAULT;
    while (i < n) {
        int v;
        i = s_param(p, n, i, &v);
        if (v == 0) {
            memset(&s, 0, sizeof s);
            s.fg = s.bg = S_DEFAULT;
        } else if (v == 1) s.bold = true;
        else if (v == 2) s.dim = true;
        else if (v == 3) s.italic = true;
        else if (v == 4) s.underline = true;
        else if (v == 7) s.inverse = true;
        else if (v == 9) s.strike = true;
        else if (v == 22) s.bold = s.dim = false;
        else if (v == 23) s.italic = false;
        else if (v == 24) s.underline = false;
        else if (v == 27) s.inverse = false;
        else if (v == 29) s.strike = false;
        else if (v >= 30 && v <= 37) s.fg = v - 30;
        else if (v == 38) i = s_extended(p, n, i, &s.fg);
        else if (v == 39) s.fg = S_DEFAULT;
        else if (v >= 40 && v <= 47) s.bg = v - 40;
        else if (v == 48) i = s_extended(p, n, i, &s.bg);
        else if (v == 49) s.bg = S_DEFAULT;
        else if (v >= 90 && v <= 97) s.fg = v - 90 + 8;
        else if (v >= 100 && v <= 107) s.bg = v - 100 + 8;
    }
    if (memcmp(&s, &c->style, sizeof s) == 0)
        return;
    if (c->html)
        s_span_close(c);
    c->style = s;
    if (c->html)
        s_span_open(c);
}


static bool s_convert(const void *data, size_t len, const ansi_range_t *ranges,
                      size_t nranges, l3_buf_t *out, bool html)
{
    const uint8_t *p = data;
    conv_t c;
    memset(&c, 0, sizeof c);
    c.html = html;
    c.out = out;
    c.style.fg = c.style.bg = S_DEFAULT;
    c.ranges = ranges;
    c.nranges = ranges ? nranges : 0;
    /* One line never grows past the output's own limit. */
    l3_buf_init(&c.line, out->limit ? out->limit : 0);

    size_t i = 0;
    while (i < len && !out->failed) {
        uint8_t b = p[i];
        if (b == 0x1b) {
            if (i + 1 >= len)
                break;
            uint8_t k = p[i + 1];
            if (k == '[') {
                /* CSI: parameters 0x30-0x3F, intermediates 0x20-0x2F, final 0x40-0x7E. */
                size_t j = i + 2, pstart = j;
                while (j < len && p[j] >= 0x30 && p[j] <= 0x3f)
                    j++;
                size_t pend = j;
                while (j < len && p[j] >= 0x20 && p[j] <= 0x2f)
                    j++;
                if (j >= len)
                    break;
                if (p[j] >= 0x40 && p[j] <= 0x7e) {
                    bool private = pend > pstart && strchr("<=>?", p[pstart]);
                    if (p[j] == 'm' && pend == j && !private && pend - pstart <= 256)
                        s_sgr(&c, (const char *)p + pstart, pend - pstart);
                    i = j + 1;
                } else {
                    i = j; /* malformed: drop the introducer, resume at the odd byte */
                }
            } else if (k == ']' || k == 'P' || k == 'X' || k == '^' || k == '_') {
                /* String sequences: until BEL or ST (ESC \). */
                size_t j = i + 2;
                while (j < len && p[j] != 0x07 && !(p[j] == 0x1b && j + 1 < len && p[j + 1] == '\\'))
                    j++;
                if (j >= len)
                    i = len;
                else
                    i = j + (p[j] == 0x07 ? 1 : 2);
            } else if (strchr("()*+-./#% ", k) && k) {
                i += (i + 2 < len) ? 3 : 2;
            } else {
                i += 2;
            }
            continue;
        }
        if (b == '\n') {
            c.cr_pending = false;
            s_line_flush(&c, true);
            i++;
            continue;
        }
        if (b == '\r') {
            c.cr_pending = true;
            i++;
            continue;
        }
        if (b == '\t') {
            s_emit(&c, i, "\t", 1);
            i++;
            continue;
        }
        if (b < 0x20 || b == 0x7f) {
            i++; /* BEL, BS and other controls: dropped */
            continue;
        }
        if (s_plain(b, html)) {
            size_t j = i + 1;
            while (j < len && s_plain(p[j], html))
                j++;
            s_emit_run(&c, i, p + i, j - i);
            i = j;
            continue;
        }
        uint32_t cp;
        size_t n = l3_utf8_decode(p + i, len - i, &cp);
        if (n == 0) {
            s_emit(&c, i, "\xef\xbf\xbd", 3);
            i++;
        } else {
            if (!(cp >= 0x80 && cp <= 0x9f)) /* C1 controls dropped */
                s_emit(&c, i, (const char *)p + i, n);
            i += n;
        }
    }
    s_line_flush(&c, false);
    if (html && (c.span_open || c.mark_open)) {
        /* s_line_flush reopened the style for a next line that never came. */
        l3_buf_reset(&c.line);
    }
    l3_buf_free(&c.line);
    return !out->failed;
}

bool ansi_to_html(const void *data, size_t len, const ansi_range_t *ranges,
                     size_t nranges, l3_buf_t *out)
{
    return s_convert(data, len, ranges, nranges, out, true);
}

bool ansi_to_text(const void *data, size_t len, l3_buf_t *out)
{
    return s_convert(data, len, NULL, 0, out, false);
}

bool ansi_html_escape(const void *data, size_t len, l3_buf_t *out)
{
    const uint8_t *p = data;
    size_t i = 0;
    while (i < len) {
        uint8_t b = p[i];
        const char *rep = NULL;
        switch (b) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: break;
        }
        if (rep) {
            l3_buf_append_str(out, rep);
            i++;
            continue;
        }
        if (b < 0x20 || b == 0x7f) {
            if (b == '\n' || b == '\t')
                l3_buf_append_byte(out, b);
            i++;
            continue;
        }
        if (s_plain(b, true)) {
            size_t j = i + 1;
            while (j < len && s_plain(p[j], true))
                j++;
            l3_buf_append(out, p + i, j - i);
            i = j;
            continue;
        }
        uint32_t cp;
        size_t n = l3_utf8_decode(p + i, len - i, &cp);
        if (n == 0) {
            l3_buf_append(out, "\xef\xbf\xbd", 3);
            i++;
        } else {
            if (!(cp >= 0x80 && cp <= 0x9f))
                l3_buf_append(out, p + i, n);
            i += n;
        }
    }
    return !out->failed;
}

size_t ansi_find(const void *data, size_t len, const char *needle, ansi_range_t *ranges,
                    size_t max)
{
    const uint8_t *p = data;
    size_t nlen = needle ? strlen(needle) : 0;
    size_t count = 0, at = 0;
    if (nlen == 0)
        return 0;
    while (count < max && at + nlen <= len) {
        const uint8_t *h = memmem(p + at, len - at, needle, nlen);
        if (!h)
            break;
        ranges[count].start = (size_t)(h - p);
        ranges[count].end = ranges[count].start + nlen;
        count++;
        at = ranges[count - 1].end;
    }
    return count;
}
