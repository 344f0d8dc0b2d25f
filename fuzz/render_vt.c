/*  Fuzz target: command output through the terminal emulator (render/vt.c).
    The first two bytes choose the size (small ones reach the edges: wrap, scroll, wide
    characters in the last column), the rest is fed in two chunks split by the third
    byte, so sequences cut between writes are covered. Whatever the bytes: no crash, the
    transcript and the screen are valid UTF-8 with no control byte but newline, the HTML
    has only balanced <span class="t ..."> tags, and its size is bounded by the input's
    and the screen's. */
#include "l3_utf8.h"
#include "vt.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static void s_check_text(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = l3_utf8_decode(p + i, len - i, &cp);
        if (n == 0 || (cp < 0x20 && cp != '\n') || (cp >= 0x7f && cp <= 0x9f))
            abort();
        i += n;
    }
}

static void s_check_html(const char *h, size_t len)
{
    int depth = 0;
    bool marked = false;
    for (size_t i = 0; i < len; i++) {
        if (h[i] != '<')
            continue;
        if (!strncmp(h + i, "<span class=\"t", 14)) {
            const char *e = memchr(h + i, '>', len - i);
            if (!e)
                abort();
            for (const char *q = h + i; q < e; q++)
                if (!strchr("<span clas=\"tbdiuf0123456789gyle:#;rko", *q) &&
                    !(*q >= 'a' && *q <= 'f'))
                    abort();
            depth++;
        } else if (!strncmp(h + i, "</span>", 7)) {
            depth--;
        } else if (!strncmp(h + i, "<mark>", 6)) {
            if (marked || depth)
                abort(); /* a mark is never inside a span or another mark */
            marked = true;
        } else if (!strncmp(h + i, "</mark>", 7)) {
            if (!marked || depth)
                abort();
            marked = false;
        } else {
            abort();
        }
        if (depth < 0 || depth > 1)
            abort();
    }
    if (depth || marked)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    int rows = 1 + data[0] % 12, cols = 1 + data[1] % 40;
    int flags = data[0] & 0x80 ? VT_NO_ALTSCREEN : 0;
    size_t split = data[2] % (size - 2);
    uint8_t markbyte = data[2];
    data += 3;
    size -= 3;
    vt_t *vt = vt_new(rows, cols, flags);
    if (!vt)
        return 0;
    vt_write(vt, data, split);
    vt_write(vt, data + split, size - split);
    l3_buf_t out;
    l3_buf_init(&out, 64u << 20);
    vt_doc_t *doc = vt_transcript(vt);
    if (doc) {
        vt_doc_to_text(doc, &out);
        s_check_text(out.data, out.len);
        /* a byte scrolls at most a screen off (a line feed one line, SU a screenful) */
        if (doc->nlines + doc->dropped > (size + 1) * (size_t)rows)
            abort();
        l3_buf_reset(&out);
        vt_doc_to_html(doc, &out);
        s_check_html((const char *)out.data, out.len);
        /* a range of it, with a one-byte query marked (the first input byte: often a
           letter, sometimes a part of a UTF-8 character, which must never match) */
        char mark[2] = {(char)markbyte, 0};
        l3_buf_reset(&out);
        vt_lines_to_html(doc, doc->nlines / 3, doc->nlines + 1, mark, &out);
        s_check_html((const char *)out.data, out.len);
        vt_doc_destroy(&doc);
    }
    /* the full-screen snapshot: exactly a screen, clean text */
    doc = vt_last_screen(vt);
    if (doc) {
        if (doc->nlines != (size_t)rows)
            abort();
        l3_buf_reset(&out);
        vt_doc_to_text(doc, &out);
        s_check_text(out.data, out.len);
        vt_doc_destroy(&doc);
    }
    doc = vt_screen(vt);
    if (doc) {
        if (doc->nlines != (size_t)rows)
            abort();
        l3_buf_reset(&out);
        vt_doc_to_text(doc, &out);
        s_check_text(out.data, out.len);
        vt_doc_destroy(&doc);
    }
    l3_buf_free(&out);
    vt_destroy(&vt);
    return 0;
}
