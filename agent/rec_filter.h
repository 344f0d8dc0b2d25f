/*  rec_filter — what of the pty's bytes reaches the user's terminal, and what reaches
    <sid>.script.

    Terminal (rec_filter_t): lilalo's private marks (OSC 6973) are removed. The recorder
    writes every byte to <sid>.script but the terminal must see nothing of the marks, so
    this is a streaming state machine correct across read boundaries: a mark split over
    two reads is still removed, and a sequence that only looked like a mark for its first
    bytes ("ESC ] 69", "ESC ] 697 ;", "ESC ] 69730 ;") is passed through unchanged.
    Buffering is bounded: at most REC_FILTER_HOLD bytes of a possible prefix are held back;
    the body of a mark is dropped as it streams, never stored. A mark that never ends is
    given up after REC_FILTER_BODY_MAX bytes so a stray "ESC ] 6973 ;" in a binary cannot
    hide the rest of the session from the terminal. Terminators follow xterm: BEL, ST
    (ESC \), CAN/SUB abort, and an ESC followed by anything else ends the mark and starts a
    new sequence.

    Script (rec_filter_script_t): no nonce goes into the spool (docs/capture.md "Marks").
    .script is the user's own file, so whatever it holds a command of the session can read
    and print again; a nonce found there would let it forge commands. The filter knows
    every nonce the recorder gave (the session shell's first, then each inner shell's,
    rec_shells.h) and writes every byte as it came, except:
      - a run of exactly 32 lowercase hex characters (bounded on both sides by anything
        else) that is a nonce it gave is written "=<k>", k its number: the 0th is the
        session shell's, the k-th the one the k-th recorder `shell` mark registered. A
        shell's mark "ESC ] 6973 ; <nonce> ; C ; ..." becomes "ESC ] 6973 ; =0 ; C ; ...",
        which the parser resolves (.info marks=2); the same nonce printed anywhere else
        (`set`, `declare -p` or `set -x` print the hook's variable) is replaced too;
      - a mark whose first field starts with "=" (a program printing a mark it read from
        .script) gets "!" instead: plain output, which the parser never takes for a
        shell's mark. Terminals ignore OSC 6973, so replay shows the same.
    Streaming: only a run that is still the beginning of a nonce it gave is held back (at
    most 32 bytes); any other byte is written at once. A recorder mark written between two
    runs (rec_marks.h) goes before the held bytes, so it never splits a run into halves
    that would each pass. Cost: a test or two per byte; a binary search over the sorted
    nonces per held hex byte. Memory: fixed, REC_FILTER_NONCES_MAX nonces (35 KiB). */
#ifndef REC_FILTER_H
#define REC_FILTER_H

#include <stdbool.h>
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

#define REC_FILTER_NONCE_HEX 32
/* The session shell's nonce and REC_SHELLS_NONCES_MAX inner shells' (rec_shells.c checks). */
#define REC_FILTER_NONCES_MAX 1025
/* rec_filter_script_run's out needs len + this: the run held from before comes out. */
#define REC_FILTER_SCRIPT_SLACK REC_FILTER_NONCE_HEX

typedef struct {
    char nonces[REC_FILTER_NONCES_MAX][REC_FILTER_NONCE_HEX]; /* by number */
    uint16_t sorted[REC_FILTER_NONCES_MAX]; /* numbers, in the nonces' order */
    size_t count;
    bool starts[256]; /* the first characters of the nonces */
    uint8_t run[REC_FILTER_NONCE_HEX]; /* hex still held: the beginning of a nonce */
    size_t run_len;
    size_t lo, hi;    /* sorted[lo..hi): the nonces that begin with run */
    bool run_passed;  /* the current hex run was written as it came: no nonce */
    uint8_t matched;  /* bytes of "ESC ] 6973 ;" just seen */
    uint64_t replaced;    /* nonces written as "=<k>", for tests and statistics */
    uint64_t neutralised; /* "=" first fields written as "!" */
} rec_filter_script_t;

void rec_filter_script_init(rec_filter_script_t *self);
/* Forget the nonces and what is held (zeroed). */
void rec_filter_script_wipe(rec_filter_script_t *self);
/* Know one more nonce (32 lowercase hex characters; no NUL needed): the k-th known, from
   0, is written "=<k>". Returns k; -1 when it is malformed or REC_FILTER_NONCES_MAX are
   known. */
int rec_filter_script_add(rec_filter_script_t *self, const char *nonce);
/* Is there room for one more nonce? */
bool rec_filter_script_full(const rec_filter_script_t *self);
/* The len bytes of `in` as .script gets them, into `out` (room for len +
   REC_FILTER_SCRIPT_SLACK bytes). Returns the number of bytes written to out. */
size_t rec_filter_script_run(rec_filter_script_t *self, const uint8_t *in, size_t len,
                             uint8_t *out);
/* End of stream: what is held, decided (the end bounds the run). out needs
   REC_FILTER_SCRIPT_SLACK bytes. Returns the bytes written. */
size_t rec_filter_script_flush(rec_filter_script_t *self, uint8_t *out);

#endif
