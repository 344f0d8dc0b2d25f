/*  rec_filter_test — the OSC 6973 filter, table-driven, with every input split at every
    position (a mark cut across reads must still vanish, other bytes must pass intact). */
#include "rec_filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *in;
    const char *out;
} s_case_t;

static const s_case_t s_cases[] = {
    { "plain text", "plain text" },
    { "a\033]6973;n;C;ls\007b", "ab" },
    { "a\033]6973;n;C;ls\033\\b", "ab" },
    { "\033]6973;nest;begin;h/s\007", "" },
    { "x\033]0;title\007y", "x\033]0;title\007y" },              /* other OSC untouched */
    { "x\033]697;a\007y", "x\033]697;a\007y" },
    { "x\033]69730;a\007y", "x\033]69730;a\007y" },
    { "x\033]6973\007y", "xy" },                                  /* no args */
    { "\033[1mbold\033[0m", "\033[1mbold\033[0m" },
    { "\033\033]6973;a\007z", "\033z" },
    { "a\033]6973;x\033[31mred", "a\033[31mred" },                /* ESC ends the mark */
    { "a\033]6973;x\030b", "ab" },                                /* CAN aborts it */
    { "end\033]69", "end\033]69" },                               /* held prefix flushed */
    { "\033]6973;a\007\033]6973;b\007\033]7;file:///\007", "\033]7;file:///\007" },
};

static int s_run(const char *in, size_t len, size_t split, char *out)
{
    rec_filter_t f;
    uint8_t buf[1024];
    size_t o = 0;
    rec_filter_init(&f);
    o += rec_filter_run(&f, (const uint8_t *)in, split, buf + o);
    o += rec_filter_run(&f, (const uint8_t *)in + split, len - split, buf + o);
    o += rec_filter_flush(&f, buf + o);
    memcpy(out, buf, o);
    out[o] = '\0';
    return (int)o;
}

int main(void)
{
    int failures = 0;
    char out[1024];
    for (size_t c = 0; c < sizeof s_cases / sizeof s_cases[0]; c++) {
        size_t len = strlen(s_cases[c].in);
        for (size_t split = 0; split <= len; split++) {
            s_run(s_cases[c].in, len, split, out);
            if (strcmp(out, s_cases[c].out) != 0) {
                fprintf(stderr, "%s:%d: case %zu split %zu: wrong output\n", __FILE__, __LINE__,
                        c, split);
                failures++;
            }
        }
    }
    /* Byte at a time over a long stream with marks: nothing with 6973 comes out. */
    {
        rec_filter_t f;
        size_t n = 0, o = 0;
        char *stream = malloc(200000), *res = malloc(200000 + REC_FILTER_HOLD);
        for (int i = 0; i < 2000; i++)
            n += (size_t)sprintf(stream + n, "line %d \033]6973;abc;C;cmd%d\007\033[0m\n", i, i);
        rec_filter_init(&f);
        for (size_t i = 0; i < n; i++)
            o += rec_filter_run(&f, (uint8_t *)stream + i, 1, (uint8_t *)res + o);
        o += rec_filter_flush(&f, (uint8_t *)res + o);
        res[o] = '\0';
        if (strstr(res, "6973") || f.marks != 2000) {
            fprintf(stderr, "%s:%d: byte-wise stream kept marks\n", __FILE__, __LINE__);
            failures++;
        }
        free(stream);
        free(res);
    }
    /* An unterminated mark gives up after REC_FILTER_BODY_MAX bytes. */
    {
        rec_filter_t f;
        size_t big = REC_FILTER_BODY_MAX + 4096, got = 0;
        uint8_t *in = malloc(big), *res = malloc(big + REC_FILTER_HOLD);
        memset(in, 'x', big);
        memcpy(in, "\033]6973;", 7);
        rec_filter_init(&f);
        for (size_t i = 0; i < big; i += 1000)
            got += rec_filter_run(&f, in + i, big - i < 1000 ? big - i : 1000, res + got);
        if (got == 0 || got > 8192) {
            fprintf(stderr, "%s:%d: unterminated mark: %zu bytes out\n", __FILE__, __LINE__, got);
            failures++;
        }
        free(in);
        free(res);
    }
    printf("%s\n", failures ? "FAIL" : "PASS");
    return failures ? 1 : 0;
}
