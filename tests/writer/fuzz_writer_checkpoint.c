/*  Fuzz target: the writer's checkpoint parser (checkpoint_parse, writer/checkpoint.c).
    Whatever the bytes, it must not crash, and a checkpoint it accepts is canonical: the
    text written back from what it handed out (offset, records, tail, streams) is the input,
    byte for byte, and streams are handed out only when it accepts. An input whose first
    byte is odd is sealed first (its sha256 line appended), so the fuzzer gets past the
    hash to the lines behind it. */
#include "checkpoint.h"
#include "l3_buf.h"
#include "l3_sha256.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_hex(l3_buf_t *out, const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        l3_buf_printf(out, "%02x", d[i]);
}

static bool s_stream(const char *agent, uint64_t epoch, uint64_t seq, void *arg)
{
    l3_buf_t *body = ((void **)arg)[0];
    uint64_t *n = ((void **)arg)[1];
    l3_buf_printf(body, "%s %" PRIu64 " %" PRIu64 "\n", agent, epoch, seq);
    (*n)++;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    l3_buf_t in, body, again;
    uint8_t d[L3_SHA256_LEN];
    char why[192];
    uint64_t n = 0;
    datafile_resume_t r;

    l3_buf_init(&in, 0);
    l3_buf_init(&body, 0);
    l3_buf_init(&again, 0);
    if (size > 0 && (data[0] & 1)) {
        l3_buf_append(&in, data + 1, size - 1);
        l3_sha256(in.data, in.len, d);
        l3_buf_append_str(&in, "sha256 ");
        s_hex(&in, d, sizeof d);
        l3_buf_append_str(&in, "\n");
    } else
        l3_buf_append(&in, data, size);

    memset(&r, 0, sizeof r);
    void *ctx[2] = {&body, &n};
    bool ok = checkpoint_parse((const char *)in.data, in.len, &r, s_stream, ctx, why, sizeof why);
    if (!ok && n != 0)
        abort(); /* streams handed out from a file it refused */
    if (ok) {
        l3_buf_printf(&again,
                      "lilalo-writer-checkpoint 2\npart %" PRIu32 "\noffset %" PRIu64
                      "\nrecords %" PRIu64 "\ncommands %" PRIu64 "\ntail ",
                      r.part, r.offset, r.records, r.commands);
        s_hex(&again, r.tail_sha256, sizeof r.tail_sha256);
        l3_buf_printf(&again, "\nstreams %" PRIu64 "\n", n);
        l3_buf_append(&again, body.data, body.len);
        l3_sha256(again.data, again.len, d);
        l3_buf_append_str(&again, "sha256 ");
        s_hex(&again, d, sizeof d);
        l3_buf_append_str(&again, "\n");
        if (again.len != in.len || memcmp(again.data, in.data, in.len) != 0)
            abort(); /* accepted a text that is not the canonical form of what it read */
    }
    l3_buf_free(&in);
    l3_buf_free(&body);
    l3_buf_free(&again);
    return 0;
}
