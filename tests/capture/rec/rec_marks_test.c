/*  rec_marks_test — the recorder's own marks: the hash chain the parser accepts, one mark
    per key between outputs, and the place a mark is written. The place is checked against
    the real parser: random terminal output (escape sequences and shell marks cut
    anywhere, strings left open) with key marks written wherever rec_marks_next allows
    must give the same records as the output alone. */
#include "l3_buf.h"
#include "l3_sha256.h"
#include "l3_xmlrec.h"
#include "parser.h"
#include "rec_marks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_failures;
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                 \
            s_failures++;                                                                          \
        }                                                                                          \
    } while (0)

#define NONCE "0123456789abcdef0123456789abcdef"

/* The chain: each mark's proof hashes to the previous one, the first to the anchor. */
static void s_test_chain(void)
{
    static rec_marks_t m;
    char anchor[REC_MARKS_ANCHOR_HEX + 1], mark[REC_MARKS_TEXT_MAX];
    uint8_t last[32], proof[32], h[32];
    CHECK(rec_marks_init(&m, anchor));
    CHECK(strlen(anchor) == 64);
    for (int i = 0; i < 32; i++)
        sscanf(anchor + 2 * i, "%2hhx", &last[i]);
    CHECK(rec_marks_next(&m, mark) == 0); /* nothing noted */
    for (int k = 0; k < 300; k++) {
        rec_marks_track(&m, (const uint8_t *)"x", 1); /* output between: a new mark */
        rec_marks_note(&m, k % 3 == 2 ? REC_MARK_SUSPEND : REC_MARK_INTERRUPT);
        size_t n = rec_marks_next(&m, mark);
        CHECK(n > 0 && n < REC_MARKS_TEXT_MAX && strncmp(mark, "\033]6973;rec;", 11) == 0);
        CHECK(mark[n - 1] == '\a');
        for (int i = 0; i < 32; i++)
            sscanf(mark + 11 + 2 * i, "%2hhx", &proof[i]);
        l3_sha256(proof, 32, h);
        CHECK(memcmp(h, last, 32) == 0);
        memcpy(last, proof, 32);
        CHECK(rec_marks_next(&m, mark) == 0);
    }
    //  The same key again with no output since: no mark; then a quit, then output.
    rec_marks_note(&m, REC_MARK_SUSPEND);
    CHECK(rec_marks_next(&m, mark) == 0);
    rec_marks_note(&m, REC_MARK_QUIT);
    CHECK(rec_marks_next(&m, mark) > 0 && strstr(mark, ";quit\a"));
    //  Inside a sequence a key waits; a hangup does not.
    rec_marks_track(&m, (const uint8_t *)"\033[3", 3);
    rec_marks_note(&m, REC_MARK_INTERRUPT);
    CHECK(rec_marks_next(&m, mark) == 0);
    rec_marks_track(&m, (const uint8_t *)"1m", 2);
    CHECK(rec_marks_next(&m, mark) > 0 && strstr(mark, ";interrupt\a"));
    rec_marks_track(&m, (const uint8_t *)"\033P1;2|abc\a", 11); /* DCS: BEL does not end it */
    rec_marks_note(&m, REC_MARK_INTERRUPT);
    CHECK(rec_marks_next(&m, mark) == 0);
    rec_marks_note(&m, REC_MARK_HANGUP);
    CHECK(rec_marks_next(&m, mark) > 0 && strstr(mark, ";hangup\a"));
    rec_marks_wipe(&m);
    CHECK(rec_marks_next(&m, mark) == 0);
}

/* Every record of a stream as XML, with what the recorder's marks may change (the signal,
   the ambiguous flag) left out. */
typedef struct {
    l3_buf_t xml;
    uint64_t seq;
} xml_sink_t;

static void s_on_xml(void *arg, l3_record_t *rec, const l3_parser_extra_t *extra)
{
    (void)extra;
    xml_sink_t *s = arg;
    snprintf(rec->agent, sizeof rec->agent, "t");
    rec->epoch = 1;
    rec->seq = ++s->seq;
    snprintf(rec->host, sizeof rec->host, "h");
    snprintf(rec->user, sizeof rec->user, "u");
    snprintf(rec->sid, sizeof rec->sid, "s");
    rec->signal = 0;
    rec->flags &= ~(uint32_t)L3_FLAG_AMBIGUOUS;
    l3_xmlrec_write(rec, &s->xml);
}

static void s_parse(const l3_buf_t *b, const char *anchor, xml_sink_t *sink, uint32_t *x)
{
    l3_parser_opts_t o = { .mode = L3_PARSER_MARKS, .nonce = NONCE, .rec_anchor = anchor,
                           .output_cap = L3_OUTPUT_MAX, .on_record = s_on_xml, .arg = sink };
    l3_parser_t *parser = l3_parser_new(&o);
    CHECK(parser != NULL);
    for (size_t at = 0; parser && at < b->len;) {
        *x = *x * 1103515245 + 12345;
        size_t n = 1 + (*x >> 16) % 40;
        if (n > b->len - at)
            n = b->len - at;
        l3_parser_feed(parser, b->data + at, n, 1000000);
        at += n;
    }
    l3_parser_finish(parser, 2000000);
    l3_parser_destroy(&parser);
}

/* Random terminal output — escape sequences and shell marks cut anywhere, strings left
   open — with key marks written wherever rec_marks_next allows: the parser must make the
   same records of it as of the pty's bytes alone (a mark inside a sequence would break
   it: a split alternate-screen switch or shell mark would be lost). */
static void s_test_placement(void)
{
    static const char *pieces[] = {
        "text ", "\r\n", "\033[31m", "\033[", "1;2", "H", "\033]0;title", "\a", "\033]", "6973;",
        "\033P", "q", "\033\\", "\033", "\030", "\033_apc", "\033(B", "\033#8", "\xc3\xa9",
        "\x9b", "\033[?1049", "h", "l", "\033]8;;http://x\033\\", ";", "7", "\a\a",
        "\033]6973;" NONCE ";C;cmd", "\033]6973;" NONCE ";D;130", "\033]6973;" NONCE ";A"};
    uint32_t x = 2024;
    int compared = 0, with_marks = 0;
    for (int round = 0; round < 150; round++) {
        static rec_marks_t m;
        char anchor[REC_MARKS_ANCHOR_HEX + 1], mark[REC_MARKS_TEXT_MAX];
        CHECK(rec_marks_init(&m, anchor));
        l3_buf_t pty, script;
        l3_buf_init(&pty, 0);
        l3_buf_init(&script, 0);
        int marks = 0;
        static const char c[] = "\033]6973;" NONCE ";C;cmd\a"; /* a command is open */
        l3_buf_append(&pty, c, sizeof c - 1);
        l3_buf_append(&script, c, sizeof c - 1);
        rec_marks_track(&m, (const uint8_t *)c, sizeof c - 1);
        for (int k = 0; k < 60; k++) {
            x = x * 1103515245 + 12345;
            const char *p = pieces[(x >> 16) % (sizeof pieces / sizeof pieces[0])];
            l3_buf_append(&pty, p, strlen(p));
            l3_buf_append(&script, p, strlen(p));
            rec_marks_track(&m, (const uint8_t *)p, strlen(p));
            if ((x >> 8) % 3 == 0)
                rec_marks_note(&m, REC_MARK_INTERRUPT);
            size_t n;
            while ((n = rec_marks_next(&m, mark)) > 0) {
                l3_buf_append(&script, mark, n);
                marks++;
            }
        }
        xml_sink_t a = { .seq = 0 }, b = { .seq = 0 };
        l3_buf_init(&a.xml, 0);
        l3_buf_init(&b.xml, 0);
        s_parse(&pty, anchor, &a, &x);
        s_parse(&script, anchor, &b, &x);
        int same = a.xml.len == b.xml.len && memcmp(a.xml.data, b.xml.data, a.xml.len) == 0;
        if (!same)
            fprintf(stderr, "round %d: the marks changed the records\n", round);
        CHECK(same);
        compared += a.seq > 0;
        with_marks += marks > 0;
        l3_buf_free(&a.xml);
        l3_buf_free(&b.xml);
        l3_buf_free(&pty);
        l3_buf_free(&script);
        rec_marks_wipe(&m);
    }
    CHECK(compared == 150 && with_marks > 100);
}

int main(void)
{
    s_test_chain();
    s_test_placement();
    if (s_failures) {
        fprintf(stderr, "rec_marks_test: %d failures\n", s_failures);
        return 1;
    }
    printf("rec_marks_test: ok\n");
    return 0;
}
