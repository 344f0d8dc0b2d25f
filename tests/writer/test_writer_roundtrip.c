/*  test_writer_roundtrip — (g) random byte strings (all 256 byte values, invalid UTF-8,
    markup characters, CR/LF, U+FFFE, lengths 0 to 1 MiB) as command line, output, cwd,
    timing and diff go msgpack -> l3-writer -> XML datafile -> l3_xmlrec_parse and come back
    byte for byte; the file stays schema-valid. */
#include "../l3_test.h"
#include "l3_time.h"
#include "wtest.h"

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define AGENT "bytes-agent"
#define EPOCH 3
#define COUNT 40

typedef struct {
    l3_record_t sent[COUNT + 1]; /* by seq */
    int compared, mismatched;
} s_ctx_t;

/* A byte string of length len in one of several flavours that stress the encoding. */
static void s_fill(uint8_t *p, size_t len, int flavour, uint64_t *rng)
{
    static const char *const pieces[] = {"&", "<", ">", "]]>", "\r\n", "\n", "\t", "\x1b[0m",
                                         "\xef\xbf\xbe", /* U+FFFE */
                                         "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                         "\xed\xa0\x80", /* a surrogate: invalid */
                                         "\xc0\xaf",     /* overlong: invalid */
                                         "\xf4\x90\x80\x80", "\x00", "\x7f", "\"'"};
    size_t i = 0;
    while (i < len) {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        uint64_t x = *rng;
        if (flavour == 0) { /* uniform random bytes */
            p[i++] = (uint8_t)x;
        } else if (flavour == 1) { /* every byte value in order */
            p[i] = (uint8_t)i;
            i++;
        } else { /* text with tricky pieces and stray high bytes */
            const char *piece = pieces[x % (sizeof pieces / sizeof pieces[0])];
            size_t plen = piece[0] ? strlen(piece) : 1;
            if (x % 3 == 0) {
                piece = "plain text ";
                plen = 11;
            }
            for (size_t k = 0; k < plen && i < len; k++)
                p[i++] = (uint8_t)piece[k];
            if (x % 11 == 0 && i < len)
                p[i++] = (uint8_t)(0x80 + (x >> 8) % 0x80);
        }
    }
}

static void s_bytes(l3_bytes_t *field, size_t len, size_t cap, int flavour, uint64_t *rng)
{
    uint8_t *buf = malloc(len ? len : 1);
    s_fill(buf, len, flavour, rng);
    CHECK(l3_bytes_set(field, buf, len, cap));
    free(buf);
}

static bool s_same(const l3_bytes_t *a, const l3_bytes_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void s_compare(const l3_record_t *got, void *arg)
{
    s_ctx_t *ctx = arg;
    if (strcmp(got->agent, AGENT) != 0 || got->epoch != EPOCH || got->seq < 1 ||
        got->seq > COUNT)
        return;
    const l3_record_t *want = &ctx->sent[got->seq];
    ctx->compared++;
    bool same = s_same(&got->cmdline, &want->cmdline) && s_same(&got->output, &want->output) &&
                s_same(&got->cwd, &want->cwd) && s_same(&got->timing, &want->timing) &&
                s_same(&got->diff, &want->diff) && got->nr == want->nr &&
                got->start_us == want->start_us && got->end_us == want->end_us &&
                got->exit_code == want->exit_code && got->flags == want->flags;
    if (!same) {
        ctx->mismatched++;
        fprintf(stderr, "seq %" PRIu64 " differs after the round trip (line %zu/%zu out %zu/%zu)\n",
                got->seq, got->cmdline.len, want->cmdline.len, got->output.len,
                want->output.len);
    }
}

int main(void)
{
    static s_ctx_t ctx;
    wt_t t;
    if (!wt_setup(&t, "roundtrip", NULL)) {
        wt_teardown(&t);
        return 1;
    }
    CHECK(wt_start(&t));
    uint64_t rng = 0;
    const char *seed = getenv("L3_TEST_SEED"); /* to replay a failure: its printed seed */
    if (seed)
        rng = strtoull(seed, NULL, 10);
    else if (getrandom(&rng, sizeof rng, 0) != sizeof rng)
        rng = 0;
    if (rng == 0)
        rng = 0x9e3779b97f4a7c15ull;
    printf("seed %" PRIu64 "\n", rng);
    const size_t big[] = {0, 1, 2, 3, 255, 256, 4096, 65536, 1 << 20};
    for (uint64_t seq = 1; seq <= COUNT; seq++) {
        l3_record_t *r = &ctx.sent[seq];
        wt_record(r, L3_RECORD_COMMAND, AGENT, EPOCH, seq);
        int flavour = (int)(seq % 3);
        size_t line_len = seq <= 9 ? big[seq - 1] : (size_t)(rng % 3000);
        size_t out_len = seq <= 9 ? big[9 - seq] : (size_t)((rng >> 20) % 20000);
        if (seq == 10)
            line_len = out_len = 1 << 20; /* both at their caps in one message */
        s_bytes(&r->cmdline, line_len, L3_CMDLINE_MAX, flavour, &rng);
        s_bytes(&r->output, out_len, L3_OUTPUT_MAX, (flavour + 1) % 3, &rng);
        if (r->output_head > r->output.len) /* wt_record's capped output: keep it valid */
            r->output_head = r->output.len;
        s_bytes(&r->cwd, (size_t)(rng % 200), L3_CWD_MAX, (flavour + 2) % 3, &rng);
        if (seq % 4 == 0) {
            s_bytes(&r->timing, (size_t)(rng % 500), L3_TIMING_MAX, 2, &rng);
            s_bytes(&r->diff, (size_t)(rng % 5000), L3_DIFF_MAX, flavour, &rng);
        }
        CHECK_MSG(wt_send(&t, AGENT, r), "send of seq %" PRIu64, seq);
    }
    CHECK(wt_wait_ack(&t, AGENT, EPOCH, COUNT, 30000));
    CHECK(wt_stop(&t, SIGTERM) == 0);
    CHECK(wt_read_datafile(t.datafile, s_compare, &ctx) == COUNT);
    CHECK_MSG(ctx.compared == COUNT, "%d of %d records compared", ctx.compared, COUNT);
    CHECK(ctx.mismatched == 0);
    CHECK(wt_schema_valid(t.datafile));
    for (int i = 0; i <= COUNT; i++)
        l3_record_clear(&ctx.sent[i]);
    wt_teardown(&t);
    TEST_DONE();
}
