/*  l3_msg — the wire format: one msgpack map per ZeroMQ message.

    Keys are short strings; "v" (protocol version) and "t" (type) are always present.
      session: v t a e s h u i ts uid pid cols rows tty sh ssh par
      command: v t a e s h u i n ts te cwd cmd o od oh tm df x sig f nest
      end:     v t a e s h u i ts te x sig f
      ack:     v t a e s      cumulative: every seq <= s of stream (a, e) is on disk
      nack:    v t a e s      the writer expects seq s next of stream (a, e); resend from it
    Strings are msgpack str, byte fields are bin (str accepted), numbers are ints; "x" may
    be nil. The full table with ranges is in docs/protocol.md.

    Encoding uses msgpack-c's packer. Decoding is a cursor reader over the flat map that
    never allocates on a length the peer claims: msgpack-c's unpacker reserves
    n * sizeof(msgpack_object) for any array header before it has seen the data, which a
    40-byte hostile message can turn into a multi-gigabyte allocation. Our messages are
    flat maps, so a reader that rejects nesting is both safe and fast. */
#ifndef L3_MSG_H
#define L3_MSG_H

#include "l3_buf.h"
#include "l3_record.h"

typedef enum {
    L3_MSG_NONE = 0,
    L3_MSG_RECORD, /* session, command or end: see msg.record.type */
    L3_MSG_ACK,
    L3_MSG_NACK,
} l3_msg_kind_t;

typedef struct {
    l3_msg_kind_t kind;
    l3_record_t record; /* L3_MSG_RECORD */
    /* L3_MSG_ACK / L3_MSG_NACK */
    char agent[L3_ID_MAX + 1];
    uint64_t epoch;
    uint64_t seq;
} l3_msg_t;

void l3_msg_init(l3_msg_t *msg);
void l3_msg_clear(l3_msg_t *msg);

/* Append the msgpack encoding of a record to out. The record must be valid. */
bool l3_msg_encode_record(const l3_record_t *rec, l3_buf_t *out);
/* Append an ack or nack. */
bool l3_msg_encode_ack(l3_msg_kind_t kind, const char *agent, uint64_t epoch, uint64_t seq,
                       l3_buf_t *out);

/* Decode and validate one message. On success fills msg (caller clears it) and returns
   true; otherwise returns false with a reason in err and msg left cleared. Never reads
   past len, never allocates more than the caps allow. */
bool l3_msg_decode(const void *data, size_t len, l3_msg_t *msg, char *err, size_t errlen);

/* The same decoding with exactly the same checks, but the record's byte fields (cwd,
   cmdline, output, timing, diff) are views into data instead of copies: no allocation.
   They are valid while data is and must not be written. Such a msg owns nothing: never
   hand it to l3_msg_clear or l3_record_clear (which would free data's bytes); just decode
   into it again, or l3_msg_init it. For the hot paths that only read a message: the
   broker's validation and the writer's encoding to XML. */
bool l3_msg_decode_view(const void *data, size_t len, l3_msg_t *msg, char *err,
                        size_t errlen);

#endif
