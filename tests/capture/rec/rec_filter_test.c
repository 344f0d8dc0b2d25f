/*  rec_filter_test — both filters of the pty's bytes (agent/rec_filter.h).
    Terminal: the OSC 6973 filter, table-driven, with every input split at every position
    (a mark cut across reads must still vanish, other bytes must pass intact).
    Script: table-driven the same way, and with a recorder mark written at every split
    point (it must never cut a nonce into halves that pass); random streams of marks, hex
    and escapes, fed whole and byte by byte, never leave a nonce in the output; and the
    parser (.info marks=2) makes from the filtered stream exactly the commands the shell's
    own marks say, whatever forged marks ("=<n>" printed back from .script) it carries. */
#include "l3_sha256.h"
#include "parser.h"
#include "rec_filter.h"

#include <stdbool.h>
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

/* ------------------------------------------------------------------------------------ */
/* Script side                                                                            */

#define N0 "0123456789abcdef0123456789abcdef"
#define N1 "fedcba9876543210fedcba9876543210"
#define N2 "0123456789abcdef0000000000000000" /* shares half of N0's beginning */
#define UNKNOWN "00000000000000000000000000000000"
#define PROOF "8e53df557c3adae4be6c57b1ab848a38634b38d944a6914201a3dd1246ebf8bd"
#define REC_MARK "\033]6973;rec;" PROOF ";hangup\007"

static const s_case_t s_script_cases[] = {
    { "plain text", "plain text" },
    { "a\033]6973;" N0 ";C;ls\007b", "a\033]6973;=0;C;ls\007b" },
    { "\033]6973;" N1 ";D;0\033\\", "\033]6973;=1;D;0\033\\" },
    { "\033]6973;" N2 ";A\007", "\033]6973;=2;A\007" },
    { "\033]6973;" UNKNOWN ";C;x\007", "\033]6973;" UNKNOWN ";C;x\007" },
    /* printed back from .script: "=" becomes "!" */
    { "\033]6973;=0;C;rm%20-rf\007", "\033]6973;!0;C;rm%20-rf\007" },
    { "\033\033]6973;=1;D\007", "\033\033]6973;!1;D\007" },
    { "\033]69\033]6973;=0;A\007", "\033]69\033]6973;!0;A\007" },
    { "\033]6973;=", "\033]6973;!" },
    { "x=0;C;ls", "x=0;C;ls" },                      /* no mark: text */
    { "\033]6973\007=0", "\033]6973\007=0" },
    { "\033]6973;;=0\007", "\033]6973;;=0\007" },   /* not the first field */
    { "\033]6973;rec;" PROOF ";interrupt\007", "\033]6973;rec;" PROOF ";interrupt\007" },
    { "\033]6973;nest;begin;h/s\007", "\033]6973;nest;begin;h/s\007" },
    /* the nonce anywhere else: `set`, `declare -p`, `set -x` */
    { "__l3_nonce=" N0 "\r\n", "__l3_nonce==0\r\n" },
    { "declare -- __l3_nonce=\"" N1 "\"", "declare -- __l3_nonce=\"=1\"" },
    { "+ printf '\\e]6973;%s;C' " N0 " x", "+ printf '\\e]6973;%s;C' =0 x" },
    { N0, "=0" },                                      /* bounded by the stream's ends */
    { N0 ";" N1 ";" N0, "=0;=1;=0" },
    { "x" N0 "y", "x=0y" },
    { "a" N0, "a" N0 },                                /* 33 hex: no nonce */
    { N0 "a", N0 "a" },
    { N0 N0, N0 N0 },
    { "0123456789ABCDEF0123456789ABCDEF", "0123456789ABCDEF0123456789ABCDEF" },
    { "0123456789abcdef", "0123456789abcdef" },        /* half a nonce at the end */
    { "0123456789abcdef;", "0123456789abcdef;" },
    { "deadbeef 6973 12", "deadbeef 6973 12" },
};

/* The script filter knowing N0, N1, N2 (numbers 0, 1, 2). */
static void s_script_init(rec_filter_script_t *f)
{
    rec_filter_script_init(f);
    (void)rec_filter_script_add(f, N0);
    (void)rec_filter_script_add(f, N1);
    (void)rec_filter_script_add(f, N2);
}

/* `in` through a fresh script filter, split at `split`, with `between` written where the
   recorder would write a mark (between the two reads); returns the output's length. */
static size_t s_script_run(const char *in, size_t len, size_t split, const char *between,
                           uint8_t *out)
{
    rec_filter_script_t f;
    size_t o = 0;
    s_script_init(&f);
    o += rec_filter_script_run(&f, (const uint8_t *)in, split, out + o);
    memcpy(out + o, between, strlen(between));
    o += strlen(between);
    o += rec_filter_script_run(&f, (const uint8_t *)in + split, len - split, out + o);
    o += rec_filter_script_flush(&f, out + o);
    out[o] = '\0';
    return o;
}

/* A nonce we gave, as a run of its own (bounded by anything but lowercase hex)? */
static bool s_has_nonce(const uint8_t *p, size_t len)
{
    static const char *const known[] = { N0, N1, N2 };
#define S_HEX(c) (((c) >= '0' && (c) <= '9') || ((c) >= 'a' && (c) <= 'f'))
    for (size_t i = 0; i + 32 <= len; i++) {
        bool left = i == 0 || !S_HEX(p[i - 1]);
        bool right = i + 32 == len || !S_HEX(p[i + 32]);
        for (size_t k = 0; left && right && k < 3; k++)
            if (memcmp(p + i, known[k], 32) == 0)
                return true;
    }
    return false;
}

/* The parser's commands from a stream, as "cmdline exit;" text (the records' identity). */
static void s_on_record(void *arg, l3_record_t *rec, const l3_parser_extra_t *extra)
{
    (void)extra;
    l3_buf_t *b = arg;
    l3_buf_append(b, rec->cmdline.data, rec->cmdline.len);
    l3_buf_printf(b, " %d %d %u;", rec->has_exit ? rec->exit_code : -1, rec->depth,
                  (unsigned)rec->flags);
}

static void s_parse(const uint8_t *p, size_t len, bool ref, l3_buf_t *out)
{
    l3_parser_opts_t o = { .mode = L3_PARSER_MARKS, .nonce = ref ? NULL : N0,
                           .marks = ref ? L3_PARSER_MARKS_REF : 0,
                           .on_record = s_on_record, .arg = out };
    l3_parser_t *parser = l3_parser_new(&o);
    l3_parser_feed(parser, p, len, 1700000000000000LL);
    l3_parser_finish(parser, 1700000001000000LL);
    l3_parser_destroy(&parser);
}

static int s_test_script(void)
{
    int failures = 0;
    uint8_t out[1024];
    //  Table: every split point, and a recorder mark written at each: what comes out is
    //  the whole stream's output with the mark inserted, never a nonce cut in two.
    for (size_t c = 0; c < sizeof s_script_cases / sizeof s_script_cases[0]; c++) {
        const char *in = s_script_cases[c].in, *want = s_script_cases[c].out;
        size_t len = strlen(in);
        for (size_t split = 0; split <= len; split++) {
            s_script_run(in, len, split, "", out);
            if (strcmp((char *)out, want) != 0) {
                fprintf(stderr, "%s:%d: script case %zu split %zu: [%s]\n", __FILE__,
                        __LINE__, c, split, (char *)out);
                failures++;
            }
            size_t n = s_script_run(in, len, split, REC_MARK, out);
            char *at = strstr((char *)out, REC_MARK);
            if (!at || n != strlen(want) + strlen(REC_MARK)) {
                fprintf(stderr, "%s:%d: script case %zu: the mark at %zu\n", __FILE__,
                        __LINE__, c, split);
                failures++;
                continue;
            }
            memmove(at, at + strlen(REC_MARK), strlen(at + strlen(REC_MARK)) + 1);
            if (strcmp((char *)out, want) != 0) {
                fprintf(stderr, "%s:%d: script case %zu: a mark at %zu splits it: [%s]\n",
                        __FILE__, __LINE__, c, split, (char *)out);
                failures++;
            }
        }
    }
    //  Numbers, refusals, the cap; a nonce learnt while a run of its beginning is held.
    {
        rec_filter_script_t f;
        rec_filter_script_init(&f);
        if (rec_filter_script_add(&f, N2) != 0 || rec_filter_script_add(&f, "0123") != -1
            || rec_filter_script_add(&f, "0123456789ABCDEF0123456789ABCDEF") != -1) {
            fprintf(stderr, "%s:%d: add\n", __FILE__, __LINE__);
            failures++;
        }
        size_t o = rec_filter_script_run(&f, (const uint8_t *)"x 0123456789abcdef", 18, out);
        (void)rec_filter_script_add(&f, N0);
        o += rec_filter_script_run(&f, (const uint8_t *)"0123456789abcdef.", 17, out + o);
        out[o] = '\0';
        //  (Held: the beginning of N2 too. A run that began no known nonce was written
        //  as it came; a nonce given later is random, so no run printed before matches.)
        if (strcmp((char *)out, "x =1.") != 0 || f.replaced != 1) {
            fprintf(stderr, "%s:%d: a nonce learnt mid-run: [%s]\n", __FILE__, __LINE__,
                    (char *)out);
            failures++;
        }
        char hex[33];
        int k = 0;
        for (int i = 2; i < REC_FILTER_NONCES_MAX + 5; i++) {
            snprintf(hex, sizeof hex, "%032x", i);
            k = rec_filter_script_add(&f, hex);
            if (i < REC_FILTER_NONCES_MAX ? k != i : k != -1) {
                fprintf(stderr, "%s:%d: add #%d gave %d\n", __FILE__, __LINE__, i, k);
                failures++;
                break;
            }
        }
        snprintf(hex, sizeof hex, "%032x", REC_FILTER_NONCES_MAX - 1);
        o = rec_filter_script_run(&f, (const uint8_t *)hex, 32, out);
        o += rec_filter_script_flush(&f, out + o);
        out[o] = '\0';
        if (!rec_filter_script_full(&f) || strcmp((char *)out, "=1024") != 0) {
            fprintf(stderr, "%s:%d: the last nonce: [%s]\n", __FILE__, __LINE__, (char *)out);
            failures++;
        }
        rec_filter_script_wipe(&f);
        if (f.count != 0 || f.nonces[0][0] != 0) {
            fprintf(stderr, "%s:%d: not wiped\n", __FILE__, __LINE__);
            failures++;
        }
    }
    //  Random streams: shell marks with the nonces, marks printed back from .script,
    //  other OSCs, hex runs and escapes, fed whole and byte by byte, with recorder marks
    //  between reads: never a nonce in the output; the commands the parser makes of it
    //  (marks=2) are exactly those of the shell's own marks (the same stream with the
    //  nonce in clear for an old parser, whose forged "=" marks are output too).
    static const char *const pieces[] = {
        "\033]6973;" N0 ";C;ls\007", "\033]6973;" N0 ";D;0\007", "\033]6973;" N0 ";A\007",
        "\033]6973;=0;C;forged\007", "\033]6973;=0;D;7\007", "\033]6973;=1;C;x\007",
        "\033]0;title\007", N0, "=0;", N0 "a", "\033", "\033]69", "\033]6973;", ";", "0",
        "0123456789abcdef", "\007", "\r\n", "\033[1m", "text ", "\033\\",
    };
    uint32_t x = 42;
    int leaks = 0, differ = 0, chunked = 0, with_commands = 0;
    for (int round = 0; round < 2000; round++) {
        uint8_t in[4096], whole[4096 + 64], bytewise[4096 + 4096];
        size_t len = 0, o1 = 0, o2 = 0;
        int pieces_n = 1 + (int)(x % 40);
        for (int k = 0; k < pieces_n; k++) {
            x = x * 1103515245 + 12345;
            const char *piece = pieces[(x >> 16) % (sizeof pieces / sizeof pieces[0])];
            if (len + strlen(piece) < sizeof in) {
                memcpy(in + len, piece, strlen(piece));
                len += strlen(piece);
            }
        }
        rec_filter_script_t f;
        s_script_init(&f);
        o1 = rec_filter_script_run(&f, in, len, whole);
        o1 += rec_filter_script_flush(&f, whole + o1);
        s_script_init(&f);
        for (size_t i = 0; i < len; i++) {
            o2 += rec_filter_script_run(&f, in + i, 1, bytewise + o2);
            if (i % 7 == 3) { /* a recorder mark between these reads */
                memcpy(bytewise + o2, "|", 1);
                o2++;
            }
        }
        o2 += rec_filter_script_flush(&f, bytewise + o2);
        size_t w = 0;
        for (size_t i = 0; i < o2; i++)
            if (bytewise[i] != '|')
                bytewise[w++] = bytewise[i];
        if (w != o1 || memcmp(whole, bytewise, o1) != 0)
            chunked++;
        if (s_has_nonce(whole, o1))
            leaks++;
        l3_buf_t a, b;
        l3_buf_init(&a, 0);
        l3_buf_init(&b, 0);
        s_parse(in, len, false, &a);
        s_parse(whole, o1, true, &b);
        with_commands += a.len > 0;
        if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0)) {
            if (!differ)
                fprintf(stderr, "%s:%d: round %d: [%.*s] vs [%.*s]\n", __FILE__, __LINE__,
                        round, (int)a.len, (char *)a.data, (int)b.len, (char *)b.data);
            differ++;
        }
        l3_buf_free(&a);
        l3_buf_free(&b);
    }
    if (with_commands < 1000) {
        fprintf(stderr, "%s:%d: random streams: only %d of 2000 make commands\n", __FILE__,
                __LINE__, with_commands);
        failures++;
    }
    if (leaks || differ || chunked) {
        fprintf(stderr, "%s:%d: random streams: %d leak a nonce, %d parse otherwise, %d "
                        "differ by chunking\n", __FILE__, __LINE__, leaks, differ, chunked);
        failures++;
    }
    return failures;
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
    failures += s_test_script();
    printf("%s\n", failures ? "FAIL" : "PASS");
    return failures ? 1 : 0;
}
