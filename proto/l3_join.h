/*  l3_join — the enrolment messages: an agent's join request and the broker's answer.

    A host that is not enrolled yet connects to the broker's enrolment socket (a CURVE
    ROUTER, broker/enrol_port; the agent side is a DEALER) with its own key and sends one
    join request; the broker answers with one reply (docs/protocol.md "Enrolment"):

      join   {v: 1, t: "join", h: host, ts: µs since the epoch, n: 16 random bytes}
      reply  {v: 1, t: "enrol", s: "pending"|"enrolled"|"refused", h: host, m: text}

    Who asks is the CURVE key of the connection, never a field: the handshake proves that
    the sender holds the secret key, and the key's hex is the agent id. ts and n make each
    request distinct, so the broker can refuse one it has seen (a request whose ts is not
    newer than the one it keeps for the key) and one from a clock far off.

    Decoders check the type, presence and range of every field and cap the whole message
    at L3_JOIN_MAX bytes; nothing is allocated. Unknown keys are ignored, so a later
    version may add fields, but every value must be a scalar (no map or array). */
#ifndef L3_JOIN_H
#define L3_JOIN_H

#include "l3_buf.h"
#include "l3_record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define L3_JOIN_MAX 1024     /* bytes of a join request or reply; real ones are < 400 */
#define L3_JOIN_NONCE_LEN 16 /* bytes of n */
#define L3_JOIN_TEXT_MAX 255 /* bytes of a reply's m */
#define L3_JOIN_SKEW_US                                                                            \
    (600LL * 1000000) /* a request's ts may be this far from the                                   \
                         broker's clock, either way */

typedef struct {
    char host[L3_NAME_MAX + 1]; /* the host name the key asks to be bound to */
    int64_t ts;                 /* when the agent made the request, µs since the epoch */
    uint8_t nonce[L3_JOIN_NONCE_LEN];
} l3_join_t;

typedef enum { L3_JOIN_PENDING = 1, L3_JOIN_ENROLLED, L3_JOIN_REFUSED } l3_join_status_t;

typedef struct {
    l3_join_status_t status;
    char host[L3_NAME_MAX + 1];      /* pending: the host asked for; enrolled: the bound one */
    char text[L3_JOIN_TEXT_MAX + 1]; /* for the person at the host: why, or what next */
} l3_join_reply_t;

/* Encode a join request into out (reset first). false when a field is invalid (host not a
   valid record host) or out cannot grow. */
bool l3_join_encode(const l3_join_t *join, l3_buf_t *out);
/* Decode and validate a join request. false with the reason in err. */
bool l3_join_decode(const void *data, size_t len, l3_join_t *join, char *err, size_t errlen);

bool l3_join_reply_encode(const l3_join_reply_t *reply, l3_buf_t *out);
bool l3_join_reply_decode(const void *data, size_t len, l3_join_reply_t *reply, char *err,
                          size_t errlen);
/* "pending", "enrolled", "refused" (or "?"). */
const char *l3_join_status_name(l3_join_status_t status);

#endif
