/*  l3_xmlrec — a record as one line of the XML datafile, and back. See l3_xmlrec.h. */
#include "l3_xmlrec.h"
#include "l3_utf8.h"
#include "l3_time.h"
#include <errno.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

//  --------------------------------------------------------------------------
//  Writing

//  Length of a UTF-8 sequence at p that XML 1.0 can carry as text, or 0: valid UTF-8
//  but the two noncharacters XML 1.0 excludes.
static size_t s_xml_char(const uint8_t *p, size_t n)
{
    uint32_t cp;
    size_t len = l3_utf8_decode(p, n, &cp);
    return len && cp != 0xFFFE && cp != 0xFFFF ? len : 0;
}

//  Bytes that go through unchanged: printable ASCII but the three markup characters,
//  and tab. Table-driven so the common run of plain text is one tight loop.
//  Bytes that go through unchanged: printable ASCII but the three markup characters,
//  and tab. Table-driven over all 256 values so the common run of plain text is one
//  tight loop with no range check.
static const uint8_t s_plain[256] = {
    ['\t'] = 1,
    [' '] = 1, ['!'] = 1, ['"'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['\''] = 1, ['('] = 1,
    [')'] = 1, ['*'] = 1, ['+'] = 1, [','] = 1, ['-'] = 1, ['.'] = 1, ['/'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1,
    ['9'] = 1, [':'] = 1, [';'] = 1, ['='] = 1, ['?'] = 1, ['@'] = 1, ['A'] = 1, ['B'] = 1,
    ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
    ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['['] = 1, ['\\'] = 1, [']'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['a'] = 1, ['b'] = 1,
    ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1,
    ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
    ['{'] = 1, ['|'] = 1, ['}'] = 1, ['~'] = 1, [0x7f] = 1,
};

//  The encoder works through the input in chunks, writing each chunk's output into a
//  stack buffer with a bare cursor and appending that in one l3_buf_append: no per-piece
//  bounds checks, and the buffer's limit still fails exactly when the real output does
//  not fit. One input byte gives at most 9 output bytes ("<x>1b</x>"), a UTF-8 sequence
//  that starts in a chunk may run 3 bytes past its end.
#define S_CHUNK 1024
#define S_CHUNK_OUT (9 * (S_CHUNK + 16) + 32)

//  Length of the run of plain bytes at p (at most n), 16 bytes at a time where SSE2 is
//  there: a byte is plain when it is 0x20..0x7f but & < >, or a tab (signed compare: bytes
//  0x80 and up are negative, so "below 0x20" catches them too). The run is copied to w
//  as it goes (whole blocks; w needs 16 bytes of slack past the run).
static inline size_t s_plain_run(const uint8_t *p, size_t n, char *w)
{
    size_t run = 0;
#ifdef __SSE2__
    const __m128i space = _mm_set1_epi8(0x20), amp = _mm_set1_epi8('&'),
                  lt = _mm_set1_epi8('<'), gt = _mm_set1_epi8('>'), tab = _mm_set1_epi8('\t');
    while (run + 16 <= n) {
        __m128i x = _mm_loadu_si128((const __m128i *)(p + run));
        __m128i bad = _mm_or_si128(_mm_cmplt_epi8(x, space),
                                   _mm_or_si128(_mm_cmpeq_epi8(x, amp),
                                                _mm_or_si128(_mm_cmpeq_epi8(x, lt),
                                                             _mm_cmpeq_epi8(x, gt))));
        bad = _mm_andnot_si128(_mm_cmpeq_epi8(x, tab), bad);
        _mm_storeu_si128((__m128i *)(w + run), x);
        unsigned mask = (unsigned)_mm_movemask_epi8(bad);
        if (mask)
            return run + (size_t)__builtin_ctz(mask);
        run += 16;
    }
#endif
    while (run < n && s_plain[p[run]]) {
        w[run] = (char)p[run];
        run++;
    }
    return run;
}

bool l3_xml_encode_bytes(const void *data, size_t len, l3_buf_t *out)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = data;
    size_t i = 0;
    bool in_x = false; // inside an open <x> element
    char chunk[S_CHUNK_OUT];
    //  Worst case 5 bytes of output per input byte (&amp;); reserve once for the common case.
    l3_buf_reserve(out, len + len / 8 + 16);
    while (i < len) {
        size_t stop = len - i > S_CHUNK ? i + S_CHUNK : len;
        char *w = chunk;
        while (i < stop) {
            if (s_plain[p[i]]) {
                if (in_x) {
                    memcpy(w, "</x>", 4);
                    w += 4;
                    in_x = false;
                }
                size_t run = s_plain_run(p + i, stop - i, w);
                w += run;
                i += run;
                continue;
            }
            uint8_t c = p[i];
            const char *entity = NULL;
            size_t elen = 0, seq = 0;
            switch (c) {
            case '&': entity = "&amp;"; elen = 5; break;
            case '<': entity = "&lt;"; elen = 4; break;
            case '>': entity = "&gt;"; elen = 4; break;
            case '\n': entity = "&#10;"; elen = 5; break;
            case '\r': entity = "&#13;"; elen = 5; break;
            default:
                if (c >= 0x80)
                    seq = s_xml_char(p + i, len - i);
                break;
            }
            if (entity || seq) {
                if (in_x) {
                    memcpy(w, "</x>", 4);
                    w += 4;
                    in_x = false;
                }
                if (entity) {
                    memcpy(w, entity, elen);
                    w += elen;
                    i++;
                } else {
                    memcpy(w, p + i, seq);
                    w += seq;
                    i += seq;
                }
                continue;
            }
            //  A byte XML cannot carry: hex inside <x>, consecutive ones sharing one element.
            if (!in_x) {
                memcpy(w, "<x>", 3);
                w += 3;
                in_x = true;
            }
            *w++ = hex[c >> 4];
            *w++ = hex[c & 15];
            i++;
        }
        if (in_x && i >= len) {
            memcpy(w, "</x>", 4);
            w += 4;
            in_x = false;
        }
        if (!l3_buf_append(out, chunk, (size_t)(w - chunk)))
            return false;
    }
    return !out->failed;
}

//  Cursor writers for the start tag, which is built in a stack buffer sized for its worst
//  case (every text field at its cap, every byte escaped) and appended once.
static char *s_put(char *w, const char *s, size_t n)
{
    memcpy(w, s, n);
    return w + n;
}
#define S_PUT(w, lit) s_put((w), (lit), sizeof(lit) - 1)


static char *s_put_i64(char *w, int64_t v)
{
    if (v < 0) {
        *w++ = '-';
        return l3_put_u64(w, (uint64_t)0 - (uint64_t)v);
    }
    return l3_put_u64(w, (uint64_t)v);
}

//  s with & < > " escaped: at most 6 bytes per byte.
static char *s_put_escaped(char *w, const char *s)
{
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&': w = S_PUT(w, "&amp;"); break;
        case '<': w = S_PUT(w, "&lt;"); break;
        case '>': w = S_PUT(w, "&gt;"); break;
        case '"': w = S_PUT(w, "&quot;"); break;
        default: *w++ = *p; break;
        }
    }
    return w;
}

bool l3_xml_escape_attr(const char *s, l3_buf_t *out)
{
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&': l3_buf_append_str(out, "&amp;"); break;
        case '<': l3_buf_append_str(out, "&lt;"); break;
        case '>': l3_buf_append_str(out, "&gt;"); break;
        case '"': l3_buf_append_str(out, "&quot;"); break;
        default: l3_buf_append_byte(out, (uint8_t) *p); break;
        }
    }
    return !out->failed;
}

//  ` name="value"` with the value escaped; name is a literal.
#define S_ATTR_TEXT(w, name, value, always)                                                        \
    do {                                                                                           \
        if ((always) || (value)[0]) {                                                              \
            w = S_PUT(w, " " name "=\"");                                                          \
            w = s_put_escaped(w, (value));                                                         \
            *w++ = '"';                                                                            \
        }                                                                                          \
    } while (0)

//  The record's times come in runs within the same second, so the date and time of day
//  ("2026-11-24T21:11:44.") are formatted once per second (gmtime_r takes a lock and
//  snprintf is slow) and only the microseconds per record. Output is exactly
//  l3_time_format's; times outside 0..9999-12-31 go through it.
static char *s_put_time(char *w, int64_t us)
{
    static _Thread_local int64_t cached_sec = -1;
    static _Thread_local char cached[24];
    const int64_t max_us = 253402300799LL * 1000000 + 999999;
    if (us < 0 || us > max_us) {
        char text[40];
        l3_time_format(us, text, sizeof(text));
        return s_put(w, text, strlen(text));
    }
    int64_t sec = us / 1000000;
    uint32_t frac = (uint32_t)(us % 1000000);
    if (sec != cached_sec) {
        char text[40];
        l3_time_format(sec * 1000000, text, sizeof(text));
        //  "YYYY-MM-DDTHH:MM:SS." is the first 20 bytes for every year 0..9999.
        memcpy(cached, text, 20);
        cached_sec = sec;
    }
    w = s_put(w, cached, 20);
    for (int k = 5; k >= 0; k--) {
        w[k] = (char)('0' + frac % 10);
        frac /= 10;
    }
    w += 6;
    *w++ = 'Z';
    return w;
}

static void s_field(l3_buf_t *out, const char *open, size_t olen, const char *close,
                    size_t clen, const l3_bytes_t *value, bool always)
{
    if (!always && value->len == 0)
        return;
    l3_buf_append(out, open, olen);
    l3_xml_encode_bytes(value->data, value->len, out);
    l3_buf_append(out, close, clen);
}
#define S_FIELD(out, name, value, always)                                                          \
    s_field((out), "<" name ">", sizeof(name) + 1, "</" name ">", sizeof(name) + 2, (value),     \
            (always))

//  Worst case of the start tag: seven text attributes of L3_NAME_MAX bytes and the sid
//  escaped (6 bytes per byte), the agent, names, numbers and times.
#define S_TAG_MAX (6 * (7 * L3_NAME_MAX + L3_ID_MAX) + L3_ID_MAX + 1024)

bool l3_xmlrec_write(const l3_record_t *r, l3_buf_t *out)
{
    const char *type = l3_record_type_name(r->type);
    if (r->type == L3_RECORD_NONE)
        return false;
    char tag[S_TAG_MAX];
    char *w = tag;
    //  Stream identity first: the writer's start-up scan reads only these.
    *w++ = '<';
    w = s_put(w, type, strlen(type));
    w = S_PUT(w, " agent=\"");
    w = s_put(w, r->agent, strnlen(r->agent, L3_ID_MAX));
    w = S_PUT(w, "\" epoch=\"");
    w = l3_put_u64(w, r->epoch);
    w = S_PUT(w, "\" seq=\"");
    w = l3_put_u64(w, r->seq);
    *w++ = '"';
    S_ATTR_TEXT(w, "host", r->host, true);
    S_ATTR_TEXT(w, "user", r->user, true);
    S_ATTR_TEXT(w, "sid", r->sid, true);
    if (r->type == L3_RECORD_COMMAND) {
        w = S_PUT(w, " nr=\"");
        w = l3_put_u64(w, r->nr);
        *w++ = '"';
        if (r->depth) {
            w = S_PUT(w, " depth=\"");
            w = l3_put_u64(w, r->depth);
            *w++ = '"';
        }
    }
    S_ATTR_TEXT(w, "nested", r->nested, false);
    if (r->start_us) {
        w = S_PUT(w, " start=\"");
        w = s_put_time(w, r->start_us);
        *w++ = '"';
    }
    if (r->end_us) {
        w = S_PUT(w, " end=\"");
        w = s_put_time(w, r->end_us);
        *w++ = '"';
    }
    if (r->type == L3_RECORD_SESSION) {
        w = S_PUT(w, " uid=\"");
        w = l3_put_u64(w, r->uid);
        w = S_PUT(w, "\" pid=\"");
        w = l3_put_u64(w, r->pid);
        *w++ = '"';
        if (r->cols || r->rows) {
            w = S_PUT(w, " cols=\"");
            w = l3_put_u64(w, r->cols);
            w = S_PUT(w, "\" rows=\"");
            w = l3_put_u64(w, r->rows);
            *w++ = '"';
        }
        S_ATTR_TEXT(w, "tty", r->tty, false);
        S_ATTR_TEXT(w, "shell", r->shell, false);
        S_ATTR_TEXT(w, "ssh", r->ssh, false);
        S_ATTR_TEXT(w, "parent", r->parent, false);
    }
    if (r->has_exit) {
        w = S_PUT(w, " exit=\"");
        w = s_put_i64(w, r->exit_code);
        *w++ = '"';
    }
    if (r->signal) {
        w = S_PUT(w, " signal=\"");
        w = s_put_i64(w, r->signal);
        *w++ = '"';
    }
    if (r->flags) {
        char flags[128];
        l3_record_flags_format(r->flags, flags, sizeof(flags));
        w = S_PUT(w, " flags=\"");
        w = s_put(w, flags, strlen(flags));
        *w++ = '"';
    }
    if (r->type != L3_RECORD_COMMAND) {
        w = S_PUT(w, "/>\n");
        l3_buf_append(out, tag, (size_t)(w - tag));
        return !out->failed;
    }
    if (r->dropped) {
        w = S_PUT(w, " dropped=\"");
        w = l3_put_u64(w, r->dropped);
        w = S_PUT(w, "\" head=\"");
        w = l3_put_u64(w, r->output_head);
        *w++ = '"';
    }
    *w++ = '>';
    l3_buf_append(out, tag, (size_t)(w - tag));
    S_FIELD(out, "cwd", &r->cwd, false);
    S_FIELD(out, "line", &r->cmdline, true);
    S_FIELD(out, "out", &r->output, false);
    S_FIELD(out, "timing", &r->timing, false);
    S_FIELD(out, "diff", &r->diff, false);
    l3_buf_append(out, "</command>\n", 11);
    return !out->failed;
}

//  --------------------------------------------------------------------------
//  Reading

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        goto cleanup;                                                                              \
    } while (0)

static int s_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

//  Decode the mixed content of a byte field (text and <x> children) into out.
static bool s_decode_field(xmlNodePtr field, l3_buf_t *out, const char **why)
{
    for (xmlNodePtr n = field->children; n; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content)
                l3_buf_append_str(out, (const char *) n->content);
        } else if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST "x")) {
            xmlChar *hex = xmlNodeGetContent(n);
            size_t len = hex ? strlen((char *) hex) : 0;
            bool ok = len % 2 == 0;
            for (size_t i = 0; ok && i < len; i += 2) {
                int hi = s_hexval(hex[i]), lo = s_hexval(hex[i + 1]);
                ok = hi >= 0 && lo >= 0;
                if (ok)
                    l3_buf_append_byte(out, (uint8_t) (hi << 4 | lo));
            }
            xmlFree(hex);
            if (!ok) {
                *why = "bad hex in <x>";
                return false;
            }
        } else if (n->type != XML_COMMENT_NODE) {
            *why = "unexpected element inside a byte field";
            return false;
        }
    }
    if (out->failed) {
        *why = "field over its cap";
        return false;
    }
    return true;
}

//  The start tag's attributes as the fast reader (below) decoded them: names and values
//  NUL-terminated in store.
#define S_ATTRS_MAX 24
typedef struct {
    const char *name[S_ATTRS_MAX];
    const char *value[S_ATTRS_MAX];
    int n;
    size_t used;
    char store[4096];
} s_attrs_t;

//  Where attribute values come from: libxml2's tree (node) or the fast reader's list.
typedef struct {
    xmlNodePtr node;
    const s_attrs_t *attrs;
} s_src_t;

static bool s_get_text(const s_src_t *src, const char *name, char *dst, size_t size,
                       bool required)
{
    if (!src->node) {
        for (int i = 0; i < src->attrs->n; i++) {
            if (strcmp(src->attrs->name[i], name) != 0)
                continue;
            size_t len = strlen(src->attrs->value[i]);
            if (len >= size)
                return false;
            memcpy(dst, src->attrs->value[i], len + 1);
            return true;
        }
        dst[0] = 0;
        return !required;
    }
    xmlChar *value = xmlGetProp(src->node, BAD_CAST name);
    if (!value) {
        dst[0] = 0;
        return !required;
    }
    bool ok = strlen((char *) value) < size;
    if (ok)
        strcpy(dst, (char *) value);
    xmlFree(value);
    return ok;
}

static bool s_get_u64(const s_src_t *node, const char *name, uint64_t *dst, uint64_t max,
                      bool required)
{
    char text[32];
    *dst = 0;
    if (!s_get_text(node, name, text, sizeof(text), required))
        return false;
    if (!text[0])
        return !required;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (*end || errno || text[0] == '-' || v > max)
        return false;
    *dst = v;
    return true;
}

static bool s_get_time(const s_src_t *node, const char *name, int64_t *dst)
{
    char text[48];
    *dst = 0;
    if (!s_get_text(node, name, text, sizeof(text), false))
        return false;
    return !text[0] || l3_time_parse(text, dst);
}

//  The start tag's attributes into rec (its type set); NULL, or why they are refused.
static const char *s_read_attrs(const s_src_t *src, l3_record_t *rec)
{
    uint64_t u;
    char text[128];
    if (!s_get_text(src, "agent", rec->agent, sizeof(rec->agent), true)
        || !s_get_u64(src, "epoch", &rec->epoch, UINT64_MAX, true)
        || !s_get_u64(src, "seq", &rec->seq, UINT64_MAX, true)
        || !s_get_text(src, "host", rec->host, sizeof(rec->host), true)
        || !s_get_text(src, "user", rec->user, sizeof(rec->user), true)
        || !s_get_text(src, "sid", rec->sid, sizeof(rec->sid), true))
        return "bad or missing identity attribute";
    if (!s_get_time(src, "start", &rec->start_us) || !s_get_time(src, "end", &rec->end_us))
        return "bad time attribute";
    if (!s_get_u64(src, "nr", &rec->nr, UINT64_MAX, rec->type == L3_RECORD_COMMAND))
        return "bad nr";
    if (!s_get_u64(src, "depth", &u, L3_DEPTH_MAX, false))
        return "bad depth";
    rec->depth = (uint8_t) u;
    if (!s_get_u64(src, "uid", &u, UINT32_MAX, false))
        return "bad uid";
    rec->uid = (uint32_t) u;
    if (!s_get_u64(src, "pid", &u, UINT32_MAX, false))
        return "bad pid";
    rec->pid = (uint32_t) u;
    if (!s_get_u64(src, "cols", &u, UINT16_MAX, false))
        return "bad cols";
    rec->cols = (uint16_t) u;
    if (!s_get_u64(src, "rows", &u, UINT16_MAX, false))
        return "bad rows";
    rec->rows = (uint16_t) u;
    if (!s_get_text(src, "tty", rec->tty, sizeof(rec->tty), false)
        || !s_get_text(src, "shell", rec->shell, sizeof(rec->shell), false)
        || !s_get_text(src, "ssh", rec->ssh, sizeof(rec->ssh), false)
        || !s_get_text(src, "parent", rec->parent, sizeof(rec->parent), false)
        || !s_get_text(src, "nested", rec->nested, sizeof(rec->nested), false))
        return "bad session attribute";
    if (!s_get_text(src, "exit", text, sizeof(text), false))
        return "bad exit";
    if (text[0]) {
        char *end;
        errno = 0;
        long v = strtol(text, &end, 10);
        if (*end || errno || v < INT32_MIN || v > INT32_MAX)
            return "bad exit";
        rec->has_exit = true;
        rec->exit_code = (int32_t) v;
    }
    if (!s_get_u64(src, "signal", &u, 128, false))
        return "bad signal";
    rec->signal = (int32_t) u;
    if (!s_get_text(src, "flags", text, sizeof(text), false)
        || !l3_record_flags_parse(text, &rec->flags))
        return "bad flags";
    if (!s_get_u64(src, "dropped", &rec->dropped, UINT64_MAX, false)
        || !s_get_u64(src, "head", &rec->output_head, L3_OUTPUT_MAX, false))
        return "bad dropped/head";
    return NULL;
}

//  --------------------------------------------------------------------------
//  Reading the writer's own lines without libxml2
//
//  libxml2's tree costs an allocation per text run and per <x> element: a 1 MiB output
//  that alternates text and bytes XML cannot carry (cat of a binary file) is 500,000
//  elements, and its line took seconds and 200 MB to parse, on every page that showed
//  the command. Lines come from l3_xmlrec_write, so nearly all are in its exact form: one
//  space before each attribute, values and text holding only the entities it writes,
//  the fields one after the other, <x> holding hex. s_fast_parse reads that form and
//  nothing else; a line that differs in any way (a torn line, a comment, another
//  writer's spacing or entities) is left to libxml2 as before, which also says why a
//  bad line is refused. What it accepts, libxml2 accepts and reads the same.

//  Length of the run of text at p (at most n) that XML 1.0 carries as it is and the
//  writer writes as it is: tab, printable ASCII but & < >, DEL, and UTF-8 sequences of
//  XML characters (not U+FFFE, U+FFFF).
static size_t s_fast_text(const uint8_t *p, size_t n, bool attr)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            if (c == '&' || c == '<' || c == '>' || (c < 0x20 && (attr || c != '\t')) ||
                (attr && c == '"'))
                break;
            i++;
            continue;
        }
        size_t len = s_xml_char(p + i, n - i);
        if (!len)
            break;
        i += len;
    }
    return i;
}

//  The entity at p that the writer writes (in text: &amp; &lt; &gt; &#10; &#13; in
//  attributes: &amp; &lt; &gt; &quot;): its byte and length, or 0.
static size_t s_fast_entity(const char *p, size_t n, bool attr, char *byte)
{
    static const struct {
        const char *text;
        char byte;
        bool in_attr, in_text;
    } ents[] = {{"&amp;", '&', true, true},   {"&lt;", '<', true, true},
                {"&gt;", '>', true, true},    {"&quot;", '"', true, false},
                {"&#10;", '\n', false, true}, {"&#13;", '\r', false, true}};
    for (size_t k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
        size_t len = strlen(ents[k].text);
        if ((attr ? ents[k].in_attr : ents[k].in_text) && n >= len
            && memcmp(p, ents[k].text, len) == 0) {
            *byte = ents[k].byte;
            return len;
        }
    }
    return 0;
}

//  Length of the name [a-z]+ at p (at most n).
static size_t s_fast_name(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] >= 'a' && p[i] <= 'z')
        i++;
    return i;
}

//  Decode one field's content at *pp up to its "</"; false when not in the writer's form
//  or over the field's cap.
static bool s_fast_field(const char **pp, const char *end, l3_buf_t *out)
{
    const char *p = *pp;
    while (p < end) {
        if (*p == '<') {
            if (end - p >= 2 && p[1] == '/')
                break;
            if (end - p < 3 || memcmp(p, "<x>", 3) != 0)
                return false;
            p += 3;
            while (end - p >= 2 && p[0] != '<') {
                int hi = s_hexval((unsigned char) p[0]), lo = s_hexval((unsigned char) p[1]);
                if (hi < 0 || lo < 0)
                    return false;
                l3_buf_append_byte(out, (uint8_t) (hi << 4 | lo));
                p += 2;
            }
            if (end - p < 4 || memcmp(p, "</x>", 4) != 0)
                return false;
            p += 4;
        } else if (*p == '&') {
            char byte;
            size_t len = s_fast_entity(p, (size_t) (end - p), false, &byte);
            if (!len)
                return false;
            l3_buf_append_byte(out, (uint8_t) byte);
            p += len;
        } else {
            size_t run = s_fast_text((const uint8_t *) p, (size_t) (end - p), false);
            if (!run)
                return false;
            l3_buf_append(out, p, run);
            p += run;
        }
    }
    *pp = p;
    return !out->failed;
}

//  Read a line in the writer's exact form into rec (initialised by the caller), valid;
//  false when it is not in that form or not valid (the caller then asks libxml2).
static bool s_fast_parse(const char *line, size_t len, l3_record_t *rec, l3_buf_t *field)
{
    const char *p = line + 1, *end = line + len;
    size_t tl = s_fast_name(p, (size_t) (end - p));
    char type[16];
    if (tl == 0 || tl >= sizeof(type))
        return false;
    memcpy(type, p, tl);
    type[tl] = 0;
    rec->type = l3_record_type_from_name(type);
    if (rec->type == L3_RECORD_NONE)
        return false;
    p += tl;
    s_attrs_t attrs;
    attrs.n = 0;
    attrs.used = 0;
    while (p < end && *p == ' ') {
        p++;
        size_t nl = s_fast_name(p, (size_t) (end - p));
        if (nl == 0 || attrs.n == S_ATTRS_MAX || end - p < (ptrdiff_t) nl + 2 || p[nl] != '='
            || p[nl + 1] != '"' || attrs.used + nl + 1 > sizeof(attrs.store))
            return false;
        char *name = attrs.store + attrs.used;
        memcpy(name, p, nl);
        name[nl] = 0;
        attrs.used += nl + 1;
        for (int i = 0; i < attrs.n; i++)
            if (strcmp(attrs.name[i], name) == 0)
                return false; // a duplicate: libxml2 refuses the line
        p += nl + 2;
        char *value = attrs.store + attrs.used;
        size_t vl = 0;
        while (p < end && *p != '"') {
            char byte;
            size_t run = 1;
            if (*p == '&') {
                run = s_fast_entity(p, (size_t) (end - p), true, &byte);
                if (!run)
                    return false;
            } else {
                run = s_fast_text((const uint8_t *) p, (size_t) (end - p), true);
                if (!run)
                    return false;
            }
            size_t add = *p == '&' ? 1 : run;
            if (attrs.used + vl + add + 1 > sizeof(attrs.store))
                return false;
            if (*p == '&')
                value[vl] = byte;
            else
                memcpy(value + vl, p, run);
            vl += add;
            p += run;
        }
        if (p == end)
            return false;
        p++; // the closing quote
        value[vl] = 0;
        attrs.used += vl + 1;
        attrs.name[attrs.n] = name;
        attrs.value[attrs.n] = value;
        attrs.n++;
    }
    bool empty = end - p >= 2 && p[0] == '/' && p[1] == '>';
    if (!empty && (p == end || *p != '>'))
        return false;
    p += empty ? 2 : 1;
    if (s_read_attrs(&(s_src_t){NULL, &attrs}, rec))
        return false;
    unsigned seen_fields = 0;
    while (!empty && end - p >= 2 && p[0] == '<' && p[1] != '/') {
        static const struct {
            const char *name;
            size_t cap;
        } fields[] = {{"cwd", L3_CWD_MAX},
                      {"line", L3_CMDLINE_MAX},
                      {"out", L3_OUTPUT_MAX},
                      {"timing", L3_TIMING_MAX},
                      {"diff", L3_DIFF_MAX}};
        size_t nl = s_fast_name(p + 1, (size_t) (end - p - 1));
        size_t f = 0;
        while (f < 5 && (strlen(fields[f].name) != nl || memcmp(fields[f].name, p + 1, nl)))
            f++;
        if (f == 5 || (seen_fields & (1u << f)) || end - p < (ptrdiff_t) nl + 2 || p[nl + 1] != '>')
            return false;
        seen_fields |= 1u << f;
        p += nl + 2;
        l3_buf_reset(field);
        field->limit = fields[f].cap;
        if (!s_fast_field(&p, end, field))
            return false;
        if (end - p < (ptrdiff_t) nl + 3 || memcmp(p + 2, fields[f].name, nl) || p[nl + 2] != '>')
            return false;
        p += nl + 3;
        //  The five byte fields are consecutive in l3_record_t, in this order.
        l3_bytes_t *dst = &rec->cwd + f;
        size_t flen;
        dst->data = l3_buf_steal(field, &flen);
        dst->len = flen;
    }
    if (!empty) {
        if (end - p != (ptrdiff_t) tl + 3 || p[0] != '<' || p[1] != '/'
            || memcmp(p + 2, type, tl) != 0 || p[tl + 2] != '>')
            return false;
        p = end;
    }
    char err[128];
    return p == end && l3_record_validate(rec, err, sizeof(err));
}

bool l3_xmlrec_parse(const void *line, size_t len, l3_record_t *rec, char *err, size_t errlen)
{
    l3_record_init(rec);
    bool ok = false;
    xmlDocPtr doc = NULL;
    l3_buf_t field;
    l3_buf_init(&field, L3_OUTPUT_MAX);
    const char *why = NULL;
    if (len > INT32_MAX)
        FAIL("line too long");
    while (len && (((const char *) line)[len - 1] == '\n'))
        len--;
    if (len < 2 || ((const char *) line)[0] != '<' || ((const char *) line)[1] == '!'
        || ((const char *) line)[1] == '?')
        FAIL("not a record element");
    if (s_fast_parse(line, len, rec, &field)) {
        ok = true;
        goto cleanup;
    }
    l3_record_clear(rec);
    //  No network, no DTD, no entity substitution: a record line is plain markup.
    doc = xmlReadMemory(line, (int) len, NULL, "UTF-8",
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *xe = xmlGetLastError();
        FAIL("not well-formed XML: %s", xe && xe->message ? xe->message : "?");
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root || doc->intSubset)
        FAIL("no record element");
    rec->type = l3_record_type_from_name((const char *) root->name);
    if (rec->type == L3_RECORD_NONE)
        FAIL("unknown record element <%s>", root->name);
    const char *bad = s_read_attrs(&(s_src_t){root, NULL}, rec);
    if (bad)
        FAIL("%s", bad);
    char text[128];

    unsigned seen_fields = 0;
    for (xmlNodePtr n = root->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        l3_bytes_t *dst = NULL;
        size_t cap = 0;
        const char *name = (const char *) n->name;
        if (!strcmp(name, "cwd")) {
            dst = &rec->cwd;
            cap = L3_CWD_MAX;
        } else if (!strcmp(name, "line")) {
            dst = &rec->cmdline;
            cap = L3_CMDLINE_MAX;
        } else if (!strcmp(name, "out")) {
            dst = &rec->output;
            cap = L3_OUTPUT_MAX;
        } else if (!strcmp(name, "timing")) {
            dst = &rec->timing;
            cap = L3_TIMING_MAX;
        } else if (!strcmp(name, "diff")) {
            dst = &rec->diff;
            cap = L3_DIFF_MAX;
        } else
            FAIL("unknown element <%s>", name);
        //  The five byte fields are consecutive in l3_record_t: one bit each.
        unsigned bit = 1u << (dst - &rec->cwd);
        if (seen_fields & bit)
            FAIL("duplicate element <%s>", name);
        seen_fields |= bit;
        l3_buf_reset(&field);
        field.limit = cap;
        if (!s_decode_field(n, &field, &why))
            FAIL("<%s>: %s", name, why);
        size_t flen;
        uint8_t *bytes = l3_buf_steal(&field, &flen);
        //  A present but empty field still gets a (NULL, 0) value, like an absent one.
        dst->data = bytes;
        dst->len = flen;
    }
    if (!l3_record_validate(rec, text, sizeof(text)))
        FAIL("invalid record: %s", text);
    ok = true;
cleanup:
    if (doc)
        xmlFreeDoc(doc);
    l3_buf_free(&field);
    if (!ok)
        l3_record_clear(rec);
    return ok;
}

int l3_xmlrec_attr(const char *line, size_t len, const char *name, char *buf, size_t size)
{
    //  The start tag ends at the first '>': values have '<' and '>' escaped.
    const char *tag_end = memchr(line, '>', len);
    const char *end = tag_end ? tag_end : line + len;
    size_t nlen = strlen(name);
    //  Walk the attributes in order, ` name="value"` each: a value has '"' escaped, so the
    //  next '"' closes it. Looking for ` name="` anywhere in the tag is not enough: a value
    //  may end with " sid=" (host="h sid=" sid="s1"), and its closing quote completes the
    //  pattern inside it.
    const char *p = memchr(line, ' ', (size_t) (end - line));
    while (p) {
        const char *attr = p + 1;
        const char *eq = memchr(attr, '=', (size_t) (end - attr));
        if (!eq || end - eq < 2 || eq[1] != '"')
            return -1;
        const char *v = eq + 2;
        const char *close = memchr(v, '"', (size_t) (end - v));
        if (!close)
            return -1;
        if ((size_t) (eq - attr) == nlen && memcmp(attr, name, nlen) == 0) {
            if ((size_t) (close - v) >= size)
                return -1;
            memcpy(buf, v, (size_t) (close - v));
            buf[close - v] = 0;
            return (int) (close - v);
        }
        p = end - close > 1 && close[1] == ' ' ? close + 1 : NULL;
    }
    return -1;
}

#define S_XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define S_ROOT_PART "<lilalo version=\"1\" part=\""

/* Digits at p (no sign, at most 19, no leading zero but "0"), up to the quote. */
static const char *s_header_u64(const char *p, const char *end, uint64_t *out)
{
    const char *q = p;
    uint64_t v = 0;
    while (q < end && *q >= '0' && *q <= '9' && q - p < 19)
        v = v * 10 + (uint64_t) (*q++ - '0');
    if (q == p || q >= end || *q != '"' || (*p == '0' && q - p > 1))
        return NULL;
    *out = v;
    return q + 1;
}

int l3_xml_header_parse(const void *data, size_t len, l3_xml_head_t *head)
{
    const char *p = data, *end = p + len;
    memset(head, 0, sizeof *head);
    size_t plain = sizeof L3_XML_HEADER - 1;
    if (len >= plain && memcmp(p, L3_XML_HEADER, plain) == 0) {
        head->len = plain;
        return 1;
    }
    if (len < plain && memcmp(p, L3_XML_HEADER, len) == 0)
        return 0;
    //  A later part: the declaration, then the root tag with its three attributes in the
    //  writer's order, nothing else.
    size_t decl = sizeof S_XML_DECL - 1, root = sizeof S_ROOT_PART - 1;
    if (len < decl + root || memcmp(p, S_XML_DECL, decl) != 0 ||
        memcmp(p + decl, S_ROOT_PART, root) != 0)
        return -1;
    const char *q = p + decl + root;
    if (end - q > L3_XML_HEADER_MAX)
        end = q + L3_XML_HEADER_MAX;
    uint64_t part;
    if (!(q = s_header_u64(q, end, &part)) || part == 0 || part > UINT32_MAX)
        return -1;
    static const char cb[] = " commands-before=\"", cr[] = " created=\"";
    if (end - q < (ptrdiff_t) sizeof cb || memcmp(q, cb, sizeof cb - 1) != 0)
        return -1;
    if (!(q = s_header_u64(q + sizeof cb - 1, end, &head->commands_before)))
        return -1;
    if (end - q < (ptrdiff_t) sizeof cr || memcmp(q, cr, sizeof cr - 1) != 0)
        return -1;
    q += sizeof cr - 1;
    const char *close = memchr(q, '"', (size_t) (end - q));
    char text[40];
    if (!close || close - q >= (ptrdiff_t) sizeof text || end - close < 3 || close[1] != '>' ||
        close[2] != '\n')
        return -1;
    memcpy(text, q, (size_t) (close - q));
    text[close - q] = 0;
    if (!l3_time_parse(text, &head->created_us))
        return -1;
    head->part = (uint32_t) part;
    head->len = (size_t) (close + 3 - p);
    return 1;
}

bool l3_xml_header_write(l3_xml_head_t *head, l3_buf_t *out)
{
    size_t before = out->len;
    if (head->part == 0)
        l3_buf_append_str(out, L3_XML_HEADER);
    else {
        char created[40], root[160];
        l3_time_format(head->created_us, created, sizeof created);
        snprintf(root, sizeof root,
                 S_ROOT_PART "%" PRIu32 "\" commands-before=\"%" PRIu64 "\" created=\"%s\">\n",
                 head->part, head->commands_before, created);
        l3_buf_append_str(out, S_XML_DECL);
        l3_buf_append_str(out, root);
    }
    head->len = out->len - before;
    return !out->failed;
}

void l3_xmlrec_tag(const char *line, size_t len, l3_xmlrec_tag_t *tag)
{
    tag->count = 0;
    tag->more = false;
    tag->line = line;
    tag->len = len;
    //  The walk of l3_xmlrec_attr, recording each attribute instead of comparing it.
    const char *tag_end = memchr(line, '>', len);
    const char *end = tag_end ? tag_end : line + len;
    const char *p = memchr(line, ' ', (size_t) (end - line));
    while (p) {
        const char *attr = p + 1;
        const char *eq = memchr(attr, '=', (size_t) (end - attr));
        if (!eq || end - eq < 2 || eq[1] != '"')
            return;
        const char *v = eq + 2;
        const char *close = memchr(v, '"', (size_t) (end - v));
        if (!close)
            return;
        if (tag->count == L3_XMLREC_ATTRS_MAX) {
            tag->more = true;
            return;
        }
        tag->a[tag->count].name = attr;
        tag->a[tag->count].nlen = (uint32_t) (eq - attr);
        tag->a[tag->count].value = v;
        tag->a[tag->count].vlen = (uint32_t) (close - v);
        tag->count++;
        p = end - close > 1 && close[1] == ' ' ? close + 1 : NULL;
    }
}

int l3_xmlrec_tag_attr(const l3_xmlrec_tag_t *tag, const char *name, char *buf, size_t size)
{
    size_t nlen = strlen(name);
    for (int i = 0; i < tag->count; i++) {
        if (tag->a[i].nlen != nlen || memcmp(tag->a[i].name, name, nlen) != 0)
            continue;
        if (tag->a[i].vlen >= size)
            return -1;
        memcpy(buf, tag->a[i].value, tag->a[i].vlen);
        buf[tag->a[i].vlen] = 0;
        return (int) tag->a[i].vlen;
    }
    if (tag->more)
        return l3_xmlrec_attr(tag->line, tag->len, name, buf, size);
    return -1;
}

void l3_xml_unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r;) {
        if (*r != '&') {
            *w++ = *r++;
            continue;
        }
        static const struct {
            const char *name;
            char c;
        } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
        bool done = false;
        for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]) && !done; i++) {
            size_t n = strlen(ents[i].name);
            if (strncmp(r, ents[i].name, n) == 0) {
                *w++ = ents[i].c;
                r += n;
                done = true;
            }
        }
        if (!done && r[1] == '#') {
            char *end;
            long v = r[2] == 'x' ? strtol(r + 3, &end, 16) : strtol(r + 2, &end, 10);
            if (*end == ';' && v > 0 && v < 128) {
                *w++ = (char) v;
                r = end + 1;
                done = true;
            }
        }
        if (!done)
            *w++ = *r++;
    }
    *w = 0;
}
