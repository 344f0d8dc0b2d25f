/*  Fuzz target: l3-rec's script filter (agent/rec_filter.h), which decides what of the
    pty's bytes goes into .script. The first byte chooses a split point; the rest is what
    the pty gave. It knows two nonces (N0, N1; numbers 0 and 1). Checks beyond "no crash":
      - the output is the same fed whole, split at the point with a recorder mark written
        between the two reads (once the mark is taken out again), and byte by byte;
      - it is never longer than the input, and no nonce is in it as a run of its own;
      - the parser reading it as a marks=2 spool makes the same commands (numbers, depth,
        statuses, flags but those the output's length decides) as the parser reading the
        input as an old spool whose session nonce is N0 in clear: the recorder changes
        where a mark names its shell, and nothing else a record is made of. */
#include "l3_log.h"
#include "parser.h"
#include "rec_filter.h"

#include <stdlib.h>
#include <string.h>

#define N0 "0123456789abcdef0123456789abcdef"
#define N1 "fedcba9876543210fedcba9876543210"
#define REC_MARK "\033]6973;rec;00;hangup\007"

static void s_init(rec_filter_script_t *f)
{
    rec_filter_script_init(f);
    if (rec_filter_script_add(f, N0) != 0 || rec_filter_script_add(f, N1) != 1)
        abort();
}

static bool s_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool s_has_nonce(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 32 <= len; i++)
        if ((i == 0 || !s_hex(p[i - 1])) && (i + 32 == len || !s_hex(p[i + 32]))
            && (memcmp(p + i, N0, 32) == 0 || memcmp(p + i, N1, 32) == 0))
            return true;
    return false;
}

/* The structure of the records: what the marks decide, not what the output bytes do. */
static void s_on_record(void *arg, l3_record_t *rec, const l3_parser_extra_t *extra)
{
    (void) extra;
    l3_buf_printf(arg, "%llu %u %d %d %d %u;", (unsigned long long) rec->nr,
                  (unsigned) rec->depth, rec->has_exit ? rec->exit_code : -1, rec->signal,
                  (int) rec->has_exit,
                  (unsigned) (rec->flags & ~(L3_FLAG_FULLSCREEN | L3_FLAG_TRUNCATED)));
}

static void s_parse(const uint8_t *p, size_t len, bool ref, l3_buf_t *out)
{
    l3_parser_opts_t o = {.mode = L3_PARSER_MARKS,
                          .nonce = ref ? NULL : N0,
                          .marks = ref ? L3_PARSER_MARKS_REF : 0,
                          .on_record = s_on_record,
                          .arg = out};
    l3_parser_t *parser = l3_parser_new(&o);
    if (!parser)
        abort();
    l3_parser_feed(parser, p, len, 1000000);
    l3_parser_finish(parser, 2000000);
    l3_parser_destroy(&parser);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    static rec_filter_script_t f;
    if (!quiet) {
        l3_log_init("fuzz_rec_filter", false, L3_LOG_ERROR);
        quiet = true;
    }
    //  Under the parser's mark cap: a shorter mark (nonces written "=0") could end within
    //  it where the longer one did not, which is no difference a shell can make.
    if (size < 1 || size > 64 * 1024)
        return 0;
    const uint8_t *in = data + 1;
    size_t len = size - 1, split = (size_t) data[0] * len / 255;
    size_t cap = len + REC_FILTER_SCRIPT_SLACK + sizeof(REC_MARK);
    uint8_t *whole = malloc(cap), *cut = malloc(cap), *bytes = malloc(cap);
    size_t nw = 0, nc = 0, nb = 0;

    s_init(&f);
    nw = rec_filter_script_run(&f, in, len, whole);
    nw += rec_filter_script_flush(&f, whole + nw);

    s_init(&f);
    nc = rec_filter_script_run(&f, in, split, cut);
    size_t at = nc;
    memcpy(cut + nc, REC_MARK, sizeof(REC_MARK) - 1);
    nc += sizeof(REC_MARK) - 1;
    nc += rec_filter_script_run(&f, in + split, len - split, cut + nc);
    nc += rec_filter_script_flush(&f, cut + nc);
    if (nc < at + sizeof(REC_MARK) - 1 || memcmp(cut + at, REC_MARK, sizeof(REC_MARK) - 1) != 0)
        abort();
    memmove(cut + at, cut + at + sizeof(REC_MARK) - 1, nc - at - (sizeof(REC_MARK) - 1));
    nc -= sizeof(REC_MARK) - 1;

    s_init(&f);
    for (size_t i = 0; i < len; i++)
        nb += rec_filter_script_run(&f, in + i, 1, bytes + nb);
    nb += rec_filter_script_flush(&f, bytes + nb);

    if (nw > len || nc != nw || nb != nw || (nw && (memcmp(cut, whole, nw) != 0
                                                    || memcmp(bytes, whole, nw) != 0)))
        abort();
    if (s_has_nonce(whole, nw))
        abort();

    l3_buf_t a, b;
    l3_buf_init(&a, 0);
    l3_buf_init(&b, 0);
    s_parse(in, len, false, &a);
    s_parse(whole, nw, true, &b);
    if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0))
        abort();
    l3_buf_free(&a);
    l3_buf_free(&b);
    rec_filter_script_wipe(&f);
    free(whole);
    free(cut);
    free(bytes);
    return 0;
}
