/*  Fuzz target: the msgpack message decoder, as every network-facing socket uses it.
    Anything it accepts must be a valid record and must survive re-encoding. */
#include "l3_msg.h"
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    l3_msg_t msg;
    char err[256];
    if (!l3_msg_decode(data, size, &msg, err, sizeof(err)))
        return 0;
    if (msg.kind == L3_MSG_RECORD) {
        char why[128];
        if (!l3_record_validate(&msg.record, why, sizeof(why)))
            abort();
        l3_buf_t buf;
        l3_buf_init(&buf, L3_MSG_MAX);
        if (!l3_msg_encode_record(&msg.record, &buf))
            abort();
        l3_msg_t again;
        if (!l3_msg_decode(buf.data, buf.len, &again, err, sizeof(err)))
            abort();
        l3_msg_clear(&again);
        l3_buf_free(&buf);
    }
    l3_msg_clear(&msg);
    return 0;
}
