/*  rec_filter — removes lilalo's private marks (OSC 6973) from the byte stream that goes
    to the user's terminal.

    The recorder writes every byte to <sid>.script but the terminal must see nothing of
    the marks, so this is a streaming state machine correct across read boundaries: a
    mark split over two reads is still removed, and a sequence that only looked like a
    mark for its first bytes ("ESC ] 69", "ESC ] 697 ;", "ESC ] 69730 ;") is passed through
    unchanged. Buffering is bounded: at most REC_FILTER_HOLD bytes of a possible prefix are
    held back; the body of a mark is dropped as it streams, never stored. A mark that never
    ends is given up after REC_FILTER_BODY_MAX bytes so a stray "ESC ] 6973 ;" in a binary
    cannot hide the rest of the session from the terminal. Terminators follow xterm: BEL,
    ST (ESC \), CAN/SUB abort, and an ESC followed by anything else ends the mark and
    starts a new sequence. */
#ifndef REC_FILTER_H
#define REC_FILTER_H

#include <stddef.h>
#include <stdint.h>

#define REC_FILTER_HOLD 8                   /* longest held prefix: "ESC ] 6973" */
#define REC_FILTER_BODY_MAX (1024 * 1024)   /* give up on an unterminated mark after this */

typedef struct {
    int state;
    size_t held_len;             /* bytes of "ESC ] 6973" matched so far */
    size_t body_len;             /* bytes of the current mark's body dropped so far */
    uint64_t marks;              /* marks removed, for tests and statistics */
} rec_filter_t;

void rec_filter_init(rec_filter_t *self);
/* Filter len bytes of `in` into `out`, which must have room for len + REC_FILTER_HOLD
   bytes. Returns the number of bytes written to out. */
size_t rec_filter_run(rec_filter_t *self, const uint8_t *in, size_t len, uint8_t *out);
/* End of stream: release a held partial prefix (it was not a mark). out needs
   REC_FILTER_HOLD bytes. Returns the bytes written. */
size_t rec_filter_flush(rec_filter_t *self, uint8_t *out);

#endif
