/*  l3_xmlrec — a record as one line of the XML datafile, and back. See l3_xmlrec.h. */
#include "l3_xmlrec.h"
#include "l3_time.h"
#include <errno.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  Writing

//  Length of a UTF-8 sequence at p that XML 1.0 can carry as text, or 0.
static size_t s_xml_char(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
        min = 0x10000;
    } else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || v == 0xFFFE || v == 0xFFFF)
        return 0;
    return len;
}

//  Bytes that go through unchanged: printable ASCII but the three markup characters,
//  and tab. Table-driven so the common run of plain text is one tight loop.
static const uint8_t s_plain[128] = {
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

bool l3_xml_encode_bytes(const void *data, size_t len, l3_buf_t *out)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = data;
    size_t i = 0;
    bool in_x = false; // inside an open <x> element
    //  Worst case 5 bytes of output per input byte (&amp;); reserve once for the common case.
    l3_buf_reserve(out, len + len / 8 + 16);
    while (i < len) {
        size_t run = i;
        while (run < len && p[run] < 0x80 && s_plain[p[run]])
            run++;
        if (run > i) {
            if (in_x) {
                l3_buf_append(out, "</x>", 4);
                in_x = false;
            }
            l3_buf_append(out, p + i, run - i);
            i = run;
            continue;
        }
        uint8_t c = p[i];
        const char *entity = NULL;
        size_t seq = 0;
        switch (c) {
        case '&': entity = "&amp;"; break;
        case '<': entity = "&lt;"; break;
        case '>': entity = "&gt;"; break;
        case '\n': entity = "&#10;"; break;
        case '\r': entity = "&#13;"; break;
        default:
            if (c >= 0x80)
                seq = s_xml_char(p + i, len - i);
            break;
        }
        if (entity || seq) {
            if (in_x) {
                l3_buf_append(out, "</x>", 4);
                in_x = false;
            }
            if (entity) {
                l3_buf_append_str(out, entity);
                i++;
            } else {
                l3_buf_append(out, p + i, seq);
                i += seq;
            }
            continue;
        }
        //  A byte XML cannot carry: hex inside <x>, consecutive ones sharing one element.
        if (!in_x) {
            l3_buf_append(out, "<x>", 3);
            in_x = true;
        }
        char pair[2] = {hex[c >> 4], hex[c & 15]};
        l3_buf_append(out, pair, 2);
        i++;
    }
    if (in_x)
        l3_buf_append(out, "</x>", 4);
    return !out->failed;
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

static void s_attr_text(l3_buf_t *out, const char *name, const char *value, bool always)
{
    if (!always && !value[0])
        return;
    l3_buf_printf(out, " %s=\"", name);
    l3_xml_escape_attr(value, out);
    l3_buf_append_byte(out, '"');
}

static void s_attr_time(l3_buf_t *out, const char *name, int64_t us)
{
    char text[40];
    l3_time_format(us, text, sizeof(text));
    l3_buf_printf(out, " %s=\"%s\"", name, text);
}

static void s_field(l3_buf_t *out, const char *name, const l3_bytes_t *value, bool always)
{
    if (!always && value->len == 0)
        return;
    l3_buf_printf(out, "<%s>", name);
    l3_xml_encode_bytes(value->data, value->len, out);
    l3_buf_printf(out, "</%s>", name);
}

bool l3_xmlrec_write(const l3_record_t *r, l3_buf_t *out)
{
    const char *type = l3_record_type_name(r->type);
    if (r->type == L3_RECORD_NONE)
        return false;
    //  Stream identity first: the writer's start-up scan reads only these.
    l3_buf_printf(out, "<%s agent=\"%s\" epoch=\"%" PRIu64 "\" seq=\"%" PRIu64 "\"", type, r->agent,
                  r->epoch, r->seq);
    s_attr_text(out, "host", r->host, true);
    s_attr_text(out, "user", r->user, true);
    s_attr_text(out, "sid", r->sid, true);
    if (r->type == L3_RECORD_COMMAND)
        l3_buf_printf(out, " nr=\"%" PRIu64 "\"", r->nr);
    s_attr_text(out, "nested", r->nested, false);
    if (r->start_us)
        s_attr_time(out, "start", r->start_us);
    if (r->end_us)
        s_attr_time(out, "end", r->end_us);
    if (r->type == L3_RECORD_SESSION) {
        l3_buf_printf(out, " uid=\"%" PRIu32 "\" pid=\"%" PRIu32 "\"", r->uid, r->pid);
        if (r->cols || r->rows)
            l3_buf_printf(out, " cols=\"%u\" rows=\"%u\"", r->cols, r->rows);
        s_attr_text(out, "tty", r->tty, false);
        s_attr_text(out, "shell", r->shell, false);
        s_attr_text(out, "ssh", r->ssh, false);
        s_attr_text(out, "parent", r->parent, false);
    }
    if (r->has_exit)
        l3_buf_printf(out, " exit=\"%" PRId32 "\"", r->exit_code);
    if (r->signal)
        l3_buf_printf(out, " signal=\"%" PRId32 "\"", r->signal);
    if (r->flags) {
        char flags[128];
        l3_record_flags_format(r->flags, flags, sizeof(flags));
        l3_buf_printf(out, " flags=\"%s\"", flags);
    }
    if (r->type != L3_RECORD_COMMAND) {
        l3_buf_append_str(out, "/>\n");
        return !out->failed;
    }
    if (r->dropped)
        l3_buf_printf(out, " dropped=\"%" PRIu64 "\" head=\"%" PRIu64 "\"", r->dropped,
                      r->output_head);
    l3_buf_append_byte(out, '>');
    s_field(out, "cwd", &r->cwd, false);
    s_field(out, "line", &r->cmdline, true);
    s_field(out, "out", &r->output, false);
    s_field(out, "timing", &r->timing, false);
    s_field(out, "diff", &r->diff, false);
    l3_buf_append_str(out, "</command>\n");
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

static bool s_get_text(xmlNodePtr node, const char *name, char *dst, size_t size, bool required)
{
    xmlChar *value = xmlGetProp(node, BAD_CAST name);
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

static bool s_get_u64(xmlNodePtr node, const char *name, uint64_t *dst, uint64_t max,
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

static bool s_get_time(xmlNodePtr node, const char *name, int64_t *dst)
{
    char text[48];
    *dst = 0;
    if (!s_get_text(node, name, text, sizeof(text), false))
        return false;
    return !text[0] || l3_time_parse(text, dst);
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
    uint64_t u;
    char text[128];
    if (!s_get_text(root, "agent", rec->agent, sizeof(rec->agent), true)
        || !s_get_u64(root, "epoch", &rec->epoch, UINT64_MAX, true)
        || !s_get_u64(root, "seq", &rec->seq, UINT64_MAX, true)
        || !s_get_text(root, "host", rec->host, sizeof(rec->host), true)
        || !s_get_text(root, "user", rec->user, sizeof(rec->user), true)
        || !s_get_text(root, "sid", rec->sid, sizeof(rec->sid), true))
        FAIL("bad or missing identity attribute");
    if (!s_get_time(root, "start", &rec->start_us) || !s_get_time(root, "end", &rec->end_us))
        FAIL("bad time attribute");
    if (!s_get_u64(root, "nr", &rec->nr, UINT64_MAX, rec->type == L3_RECORD_COMMAND))
        FAIL("bad nr");
    if (!s_get_u64(root, "uid", &u, UINT32_MAX, false))
        FAIL("bad uid");
    rec->uid = (uint32_t) u;
    if (!s_get_u64(root, "pid", &u, UINT32_MAX, false))
        FAIL("bad pid");
    rec->pid = (uint32_t) u;
    if (!s_get_u64(root, "cols", &u, UINT16_MAX, false))
        FAIL("bad cols");
    rec->cols = (uint16_t) u;
    if (!s_get_u64(root, "rows", &u, UINT16_MAX, false))
        FAIL("bad rows");
    rec->rows = (uint16_t) u;
    if (!s_get_text(root, "tty", rec->tty, sizeof(rec->tty), false)
        || !s_get_text(root, "shell", rec->shell, sizeof(rec->shell), false)
        || !s_get_text(root, "ssh", rec->ssh, sizeof(rec->ssh), false)
        || !s_get_text(root, "parent", rec->parent, sizeof(rec->parent), false)
        || !s_get_text(root, "nested", rec->nested, sizeof(rec->nested), false))
        FAIL("bad session attribute");
    if (!s_get_text(root, "exit", text, sizeof(text), false))
        FAIL("bad exit");
    if (text[0]) {
        char *end;
        errno = 0;
        long v = strtol(text, &end, 10);
        if (*end || errno || v < INT32_MIN || v > INT32_MAX)
            FAIL("bad exit");
        rec->has_exit = true;
        rec->exit_code = (int32_t) v;
    }
    if (!s_get_u64(root, "signal", &u, 128, false))
        FAIL("bad signal");
    rec->signal = (int32_t) u;
    if (!s_get_text(root, "flags", text, sizeof(text), false)
        || !l3_record_flags_parse(text, &rec->flags))
        FAIL("bad flags");
    if (!s_get_u64(root, "dropped", &rec->dropped, UINT64_MAX, false)
        || !s_get_u64(root, "head", &rec->output_head, L3_OUTPUT_MAX, false))
        FAIL("bad dropped/head");

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
    const char *tag_end = memchr(line, '>', len);
    size_t span = tag_end ? (size_t) (tag_end - line) : len;
    size_t nlen = strlen(name);
    const char *p = line, *end = line + span;
    //  ` name="` cannot occur inside a value: values have '"' escaped.
    while (p < end) {
        const char *q = memchr(p, ' ', (size_t) (end - p));
        if (!q)
            return -1;
        q++;
        if ((size_t) (end - q) > nlen + 1 && memcmp(q, name, nlen) == 0 && q[nlen] == '='
            && q[nlen + 1] == '"') {
            const char *v = q + nlen + 2;
            const char *close = memchr(v, '"', (size_t) (end - v));
            if (!close || (size_t) (close - v) >= size)
                return -1;
            memcpy(buf, v, (size_t) (close - v));
            buf[close - v] = 0;
            return (int) (close - v);
        }
        p = q;
    }
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
