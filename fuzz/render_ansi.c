/*  Fuzz target: render's ANSI -> HTML converter (render/ansi.c).
    Whatever the bytes, the HTML has no tag but balanced <span ...>/<mark> pairs, no
    attribute text from the input, and the text and escape outputs never carry '<'. */
#include "ansi.h"

#include <stdlib.h>
#include <string.h>

static void s_check_html(const char *h, size_t len)
{
    int spans = 0, marks = 0;
    for (size_t i = 0; i < len; i++) {
        if (h[i] != '<')
            continue;
        const char *p = h + i;
        if (!strncmp(p, "<span class=\"t", 14)) {
            /* attributes: class letters/digits, style colours only */
            const char *e = memchr(p, '>', len - i);
            if (!e)
                abort();
            for (const char *q = p; q < e; q++)
                if (!strchr("<span clas=\"tbdiuf0123456789gyle:#;rko", *q) && !(*q >= 'a' && *q <= 'f'))
                    abort();
            spans++;
        } else if (!strncmp(p, "</span>", 7)) {
            spans--;
        } else if (!strncmp(p, "<mark>", 6)) {
            marks++;
        } else if (!strncmp(p, "</mark>", 7)) {
            marks--;
        } else {
            abort();
        }
        if (spans < 0 || marks < 0 || spans > 1 || marks > 1)
            abort();
    }
    if (spans || marks)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    l3_buf_t out;
    l3_buf_init(&out, 16u << 20);
    /* highlight ranges from the first byte, so marks cross every kind of sequence */
    ansi_range_t r[3];
    size_t nr = 0;
    if (size > 4) {
        size_t a = data[0] % size, b = a + data[1] % 16;
        r[nr++] = (ansi_range_t){a, b};
        if (b + 1 < size)
            r[nr++] = (ansi_range_t){b + 1, b + 1 + data[2] % 8};
    }
    ansi_to_html(data, size, r, nr, &out);
    s_check_html((const char *)out.data, out.len);
    l3_buf_reset(&out);
    ansi_html_escape(data, size, &out);
    if (out.len && memchr(out.data, '<', out.len))
        abort();
    l3_buf_reset(&out);
    ansi_to_text(data, size, &out);
    if (out.len && memchr(out.data, 0x1b, out.len))
        abort();
    ansi_range_t f[8];
    if (size > 2)
        ansi_find(data + 1, size - 1, "ab", f, 8);
    l3_buf_free(&out);
    return 0;
}
