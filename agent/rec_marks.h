/*  rec_marks — the recorder's own marks in `<sid>.script`: what l3-rec knows and the shell
    cannot, written so that no output of the session can forge them.

    l3-rec sees the keys the user types (never recorded) and the pty's termios. When the
    user types the interrupt, quit or suspend character while ISIG is on, or when l3-rec
    hangs the session up (its terminal went away, or it was told to stop), it writes
      ESC ] 6973 ; rec ; <proof> ; interrupt|quit|suspend|hangup BEL
    into `.script` only (never to the terminal). The parser uses them as evidence for a
    command's status (docs/capture.md, "Statuses"). When l3-rec hands a shell started
    inside the session a nonce of its own (rec_shells.h), it registers it with
      ESC ] 6973 ; rec ; <proof> ; shell ; <sha256 of the nonce, 64 hex> ; <depth> BEL
    from the same chain, so only the recorder can add a nonce to the session.

    Authentication is a hash chain (Lamport's one-time passwords): at start l3-rec draws a
    random seed x0 and publishes anchor = H^N(x0) (H = SHA-256) in `.info` as `recmark`.
    The k-th mark reveals x = H^(N-k)(x0); the parser accepts it when H(x) equals the last
    accepted value (the anchor at first). What a mark reveals is spent by that very mark,
    so a program that reads `.script` or `.info` (the user's own files) and prints what it
    found — `cat` of the spool included — cannot make a mark the parser accepts: it would
    need a preimage of the last value. The secret is independent of the shell's nonce and
    never leaves this process. After N marks the chain is used up and l3-rec writes no
    more (statuses then fall back to "ambiguous").

    Where: a mark is written between two reads of the pty, and only when the pty's bytes
    so far leave a terminal in its ground state (not inside an escape sequence or string),
    so that a mark never splits a sequence the terminal saw whole; rec_marks_track follows
    that state with the parser's rules (agent/parser.c). A key mark typed while a sequence
    is open waits for the ground state; the hangup mark is written at once. Keys typed again
    with no output in between make no new mark (the parser needs "pressed during this
    command", and every command boundary is output).

    Memory: N/REC_MARKS_STRIDE checkpoints of 32 bytes (2 KiB); a mark costs at most
    REC_MARKS_STRIDE hashes. */
#ifndef REC_MARKS_H
#define REC_MARKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REC_MARKS_CHAIN 8192 /* marks per session */
#define REC_MARKS_STRIDE 128 /* chain values between two kept checkpoints */
#define REC_MARKS_ANCHOR_HEX 64
/* longest mark: ESC ] 6973;rec;<64>;shell;<64>;<depth, 2 digits> BEL = 150 bytes */
#define REC_MARKS_TEXT_MAX 160
#define REC_MARKS_DEPTH_MAX 99 /* a shell mark's depth has at most two digits */

typedef enum {
    REC_MARK_INTERRUPT = 0,
    REC_MARK_QUIT = 1,
    REC_MARK_SUSPEND = 2,
    REC_MARK_HANGUP = 3,
} rec_mark_kind_t;

typedef struct {
    uint8_t checkpoints[REC_MARKS_CHAIN / REC_MARKS_STRIDE][32]; /* x0, x128, x256 ... */
    uint32_t used;      /* marks written so far */
    uint8_t pty_state;  /* the terminal's parser state after the pty bytes so far */
    uint8_t pending;    /* kinds waiting for the ground state (bit per kind) */
    uint8_t since_out;  /* kinds written since the last pty output (bit per kind) */
    bool ready;
} rec_marks_t;

/* Draw the seed (getrandom) and compute the chain; anchor gets 64 lowercase hex
   characters and a NUL. false when no randomness is available (then no marks). */
bool rec_marks_init(rec_marks_t *self, char anchor[REC_MARKS_ANCHOR_HEX + 1]);
/* Forget the secret (zeroed). */
void rec_marks_wipe(rec_marks_t *self);

/* The pty produced these bytes (they went to .script): follow the terminal's state. */
void rec_marks_track(rec_marks_t *self, const uint8_t *data, size_t len);
/* The user typed `kind` (or the recorder hangs up): remember it for rec_marks_next. */
void rec_marks_note(rec_marks_t *self, rec_mark_kind_t kind);
/* The next mark to write now, in out (at least REC_MARKS_TEXT_MAX bytes); returns its
   length, 0 when none is due (nothing noted, not at the ground state — except hangup,
   which is due at once — or the chain used up). Call until it returns 0. */
size_t rec_marks_next(rec_marks_t *self, char *out);

/* Is the terminal in its ground state after the pty's bytes so far (a mark written now
   splits no sequence)? */
bool rec_marks_at_ground(const rec_marks_t *self);
/* The mark that registers a new shell nonce, in out (at least REC_MARKS_TEXT_MAX bytes):
   nonce_sha256 is the SHA-256 of the nonce's 32 hex characters as 64 lowercase hex,
   depth the shell's nesting depth (0..REC_MARKS_DEPTH_MAX). Made now, whatever the
   terminal state: the caller waits for rec_marks_at_ground as long as it can afford.
   Returns its length; 0 when no mark can be made (no chain, chain used up, bad input). */
size_t rec_marks_shell(rec_marks_t *self, const char *nonce_sha256, unsigned depth, char *out);

#endif
