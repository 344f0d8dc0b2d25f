/*  Fuzz target: the enrolment messages (l3_join.h), as the broker's enrolment socket
    decodes join requests from any key and the agent decodes the broker's replies. Both
    decoders see every input; whatever one accepts must encode again and decode to the
    same thing. */
#include "l3_join.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    l3_buf_t buf;
    l3_buf_init(&buf, L3_JOIN_MAX);
    l3_join_t join, again;
    if (l3_join_decode(data, size, &join, err, sizeof err)) {
        if (!join.host[0] || !l3_join_encode(&join, &buf) ||
            !l3_join_decode(buf.data, buf.len, &again, err, sizeof err) ||
            strcmp(join.host, again.host) != 0 || join.ts != again.ts ||
            memcmp(join.nonce, again.nonce, sizeof join.nonce) != 0)
            abort();
    }
    l3_join_reply_t reply, reply2;
    if (l3_join_reply_decode(data, size, &reply, err, sizeof err)) {
        if (!l3_join_reply_encode(&reply, &buf) ||
            !l3_join_reply_decode(buf.data, buf.len, &reply2, err, sizeof err) ||
            reply.status != reply2.status || strcmp(reply.host, reply2.host) != 0 ||
            strcmp(reply.text, reply2.text) != 0)
            abort();
    }
    l3_buf_free(&buf);
    return 0;
}
