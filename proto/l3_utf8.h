/*  l3_utf8 — the one strict UTF-8 decoder: every module that must tell valid text from
    raw bytes (record validation, the XML byte encoding, the tap's escaping, the journal's
    ANSI converter) decides the same way. Inline: it runs per non-ASCII byte on hot paths. */
#ifndef L3_UTF8_H
#define L3_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length (1..4) of the valid UTF-8 sequence at p, with n bytes available, and its code
   point in *cp; 0 when the bytes there are not one (overlong forms, surrogates, code
   points past U+10FFFF, truncated or stray continuation bytes). */
static inline size_t l3_utf8_decode(const uint8_t *p, size_t n, uint32_t *cp)
{
    uint8_t c = p[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
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
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

#endif
