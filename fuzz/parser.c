/*  Fuzz target: the spool byte-stream parser. The first bytes choose the mode (bit 0 of
    the first byte; bit 1: marks name their shell "=<n>", .info marks=2), output cap and a
    split point; the rest is the stream. Checks beyond "no crash": feeding the stream
    whole, split at the point, and resumed from a saved state at the point must give the
    same records (byte for byte, through the XML encoding). The same input is also tried as
    a saved-state blob, which must be refused or accepted without harm. */
#include "l3_log.h"
#include "l3_sha256.h"
#include "l3_xmlrec.h"
#include "parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONCE "0123456789abcdef0123456789abcdef"
/* The recorder's hash chain: x0 = 32 bytes of 0x5a, anchor H^16(x0), as in
   tests/capture/parser/test_parser.c; the seeds carry its marks (fuzz/corpus/parser/rec_*),
   so the fuzzer starts from marks that count and mutates them. */
#define REC_CHAIN 16
static char s_rec_anchor[2 * L3_SHA256_LEN + 1];

typedef struct {
    l3_buf_t xml;
    uint64_t seq;
} sink_t;

static void s_on_record(void *arg, l3_record_t *rec, const l3_parser_extra_t *extra)
{
    (void) extra;
    sink_t *s = arg;
    l3_text_set(rec->agent, sizeof(rec->agent), "fuzz");
    rec->epoch = 1;
    rec->seq = ++s->seq;
    l3_text_set(rec->host, sizeof(rec->host), "h");
    l3_text_set(rec->user, sizeof(rec->user), "u");
    l3_text_set(rec->sid, sizeof(rec->sid), "s");
    char err[128];
    if (!l3_record_validate(rec, err, sizeof(err)))
        abort(); /* the parser must only make valid records */
    l3_xmlrec_write(rec, &s->xml);
}

static l3_parser_t *s_new(sink_t *s, int mode, bool ref, size_t cap)
{
    l3_parser_opts_t o = {.mode = (l3_parser_mode_t) mode,
                          .nonce = NONCE,
                          .marks = ref ? L3_PARSER_MARKS_REF : 0,
                          .rec_anchor = s_rec_anchor,
                          .cols = mode ? (uint32_t) (cap / 4) % 97 : 0, /* wrapped rows */
                          .output_cap = cap,
                          .on_record = s_on_record,
                          .arg = s};
    return l3_parser_new(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) {
        //  Malformed saved states are expected here; their warnings would drown the fuzzer.
        l3_log_init("fuzz_parser", false, L3_LOG_ERROR);
        quiet = true;
        uint8_t x[L3_SHA256_LEN];
        memset(x, 0x5a, sizeof(x));
        for (int i = 0; i < REC_CHAIN; i++)
            l3_sha256(x, sizeof(x), x);
        for (int i = 0; i < L3_SHA256_LEN; i++)
            sprintf(s_rec_anchor + 2 * i, "%02x", x[i]);
    }
    if (size < 3)
        return 0;
    int mode = data[0] & 1;
    bool ref = data[0] & 2;
    size_t cap = 64 + (size_t) data[1] * 4;
    const uint8_t *p = data + 3;
    size_t len = size - 3;
    size_t split = len ? (size_t) data[2] * len / 255 : 0;

    sink_t a = {0}, b = {0}, c = {0};
    l3_buf_init(&a.xml, 0);
    l3_buf_init(&b.xml, 0);
    l3_buf_init(&c.xml, 0);
    l3_parser_t *pa = s_new(&a, mode, ref, cap);
    l3_parser_feed(pa, p, len, 1000000);
    l3_parser_finish(pa, 2000000);

    l3_parser_t *pb = s_new(&b, mode, ref, cap);
    l3_parser_feed(pb, p, split, 1000000);
    l3_parser_feed(pb, p + split, len - split, 1000000);
    l3_parser_finish(pb, 2000000);

    l3_parser_t *pc = s_new(&c, mode, ref, cap);
    l3_parser_feed(pc, p, split, 1000000);
    l3_buf_t blob;
    l3_buf_init(&blob, 0);
    l3_parser_save(pc, &blob);
    l3_parser_destroy(&pc);
    pc = s_new(&c, mode, ref, cap);
    if (!l3_parser_load(pc, blob.data, blob.len))
        abort();
    l3_parser_feed(pc, p + split, len - split, 1000000);
    l3_parser_finish(pc, 2000000);

    if (a.xml.len != b.xml.len || (a.xml.len && memcmp(a.xml.data, b.xml.data, a.xml.len) != 0))
        abort();
    if (a.xml.len != c.xml.len || (a.xml.len && memcmp(a.xml.data, c.xml.data, a.xml.len) != 0))
        abort();

    //  The input as a saved state: refused or accepted, then usable.
    l3_parser_load(pc, data, size);
    l3_parser_feed(pc, p, len, 3000000);
    l3_parser_finish(pc, 4000000);

    l3_buf_free(&blob);
    l3_parser_destroy(&pa);
    l3_parser_destroy(&pb);
    l3_parser_destroy(&pc);
    l3_buf_free(&a.xml);
    l3_buf_free(&b.xml);
    l3_buf_free(&c.xml);
    return 0;
}
