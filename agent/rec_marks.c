/*  rec_marks — the recorder's hash-chained marks; see rec_marks.h. */
#include "rec_marks.h"

#include "l3_sha256.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define S_CHECKPOINTS (REC_MARKS_CHAIN / REC_MARKS_STRIDE)

/* The terminal's states as agent/parser.c walks them (ECMA-48 / DEC, xterm's aborts). */
enum { T_GROUND = 0, T_ESC, T_ESC_INT, T_CSI, T_OSC, T_STR, T_STR_ESC };

static const char *s_verbs[] = {"interrupt", "quit", "suspend", "hangup"};

/* x_(i) of the chain: from the checkpoint below it. */
static void s_chain_value(const rec_marks_t *self, uint32_t i, uint8_t out[32])
{
    memcpy(out, self->checkpoints[i / REC_MARKS_STRIDE], 32);
    for (uint32_t k = 0; k < i % REC_MARKS_STRIDE; k++)
        l3_sha256(out, 32, out);
}

bool rec_marks_init(rec_marks_t *self, char anchor[REC_MARKS_ANCHOR_HEX + 1])
{
    uint8_t x[32];
    size_t got = 0;
    memset(self, 0, sizeof *self);
    anchor[0] = '\0';
    while (got < sizeof x) {
        ssize_t n = getrandom(x + got, sizeof x - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    for (uint32_t i = 0; i < REC_MARKS_CHAIN; i++) {
        if (i % REC_MARKS_STRIDE == 0)
            memcpy(self->checkpoints[i / REC_MARKS_STRIDE], x, 32);
        l3_sha256(x, 32, x);
    }
    //  x is now x_N, the anchor.
    for (int i = 0; i < 32; i++)
        sprintf(anchor + 2 * i, "%02x", x[i]);
    memset(x, 0, sizeof x);
    self->ready = true;
    return true;
}

void rec_marks_wipe(rec_marks_t *self)
{
    memset(self, 0, sizeof *self);
}

void rec_marks_track(rec_marks_t *self, const uint8_t *p, size_t len)
{
    uint8_t st = self->pty_state;
    size_t i = 0;
    if (len)
        self->since_out = 0;
    while (i < len) {
        uint8_t c = p[i];
        switch (st) {
        case T_GROUND: {
            const uint8_t *esc = memchr(p + i, 0x1b, len - i);
            if (!esc) {
                i = len;
                continue;
            }
            i = (size_t)(esc - p) + 1;
            st = T_ESC;
            continue;
        }
        case T_ESC:
            if (c == '[')
                st = T_CSI;
            else if (c == ']')
                st = T_OSC;
            else if (c == 'P' || c == 'X' || c == '^' || c == '_')
                st = T_STR;
            else if (c == 0x1b)
                st = T_ESC;
            else if (c == 0x18 || c == 0x1a)
                st = T_GROUND;
            else if (c >= 0x80) {
                st = T_GROUND; /* the byte starts over in ground */
                continue;
            } else
                st = c >= 0x30 ? T_GROUND : T_ESC_INT;
            break;
        case T_ESC_INT:
            if (c == 0x1b)
                st = T_ESC;
            else if (c >= 0x80) {
                st = T_GROUND;
                continue;
            } else if (c >= 0x30 || c == 0x18 || c == 0x1a)
                st = T_GROUND;
            break;
        case T_CSI:
            if (c == 0x1b || c >= 0x80) {
                st = T_GROUND;
                continue;
            }
            if ((c >= 0x40 && c <= 0x7e) || c == 0x18 || c == 0x1a)
                st = T_GROUND;
            break;
        case T_OSC:
        case T_STR:
            if (c == 0x1b)
                st = T_STR_ESC;
            else if (c == 0x18 || c == 0x1a || (c == 0x07 && st == T_OSC))
                st = T_GROUND;
            break;
        case T_STR_ESC:
            if (c == '\\')
                st = T_GROUND;
            else {
                st = T_ESC; /* ESC + anything else aborts the string: a new escape */
                continue;
            }
            break;
        default:
            st = T_GROUND;
            break;
        }
        i++;
    }
    self->pty_state = st;
}

void rec_marks_note(rec_marks_t *self, rec_mark_kind_t kind)
{
    uint8_t bit = (uint8_t)(1u << kind);
    //  Pressed again with no output since its mark: the parser learns nothing new.
    if (kind != REC_MARK_HANGUP && (self->since_out & bit))
        return;
    self->pending |= bit;
}

/* "\033]6973;rec;<proof>" for the next link of the chain into out; its length. The
   caller has checked that a link is left. */
static int s_proof(rec_marks_t *self, char *out)
{
    uint8_t x[32];
    self->used++;
    s_chain_value(self, REC_MARKS_CHAIN - self->used, x);
    int n = snprintf(out, REC_MARKS_TEXT_MAX, "\033]6973;rec;");
    for (int i = 0; i < 32; i++)
        n += snprintf(out + n, REC_MARKS_TEXT_MAX - (size_t)n, "%02x", x[i]);
    memset(x, 0, sizeof x);
    return n;
}

size_t rec_marks_next(rec_marks_t *self, char *out)
{
    int kind = -1;
    if (!self->ready || !self->pending || self->used >= REC_MARKS_CHAIN)
        return 0;
    if (self->pending & (1u << REC_MARK_HANGUP))
        kind = REC_MARK_HANGUP; /* due at once: the session is being hung up */
    else if (self->pty_state == T_GROUND) {
        for (int k = REC_MARK_INTERRUPT; k <= REC_MARK_SUSPEND && kind < 0; k++)
            if (self->pending & (1u << k))
                kind = k;
    }
    if (kind < 0)
        return 0;
    self->pending &= (uint8_t)~(1u << kind);
    self->since_out |= (uint8_t)(1u << kind);
    int n = s_proof(self, out);
    n += snprintf(out + n, REC_MARKS_TEXT_MAX - (size_t)n, ";%s\a", s_verbs[kind]);
    //  A hangup mark written inside an open sequence aborts it (ESC restarts any escape),
    //  so the terminal state after it is ground either way.
    self->pty_state = T_GROUND;
    return (size_t)n;
}

bool rec_marks_at_ground(const rec_marks_t *self)
{
    return self->pty_state == T_GROUND;
}

size_t rec_marks_shell(rec_marks_t *self, const char *nonce_sha256, unsigned depth, char *out)
{
    if (!self->ready || self->used >= REC_MARKS_CHAIN || depth > REC_MARKS_DEPTH_MAX)
        return 0;
    //  The hash goes into a mark verbatim: only 64 lowercase hex may pass.
    if (strlen(nonce_sha256) != 2 * L3_SHA256_LEN ||
        strspn(nonce_sha256, "0123456789abcdef") != 2 * L3_SHA256_LEN)
        return 0;
    int n = s_proof(self, out);
    n += snprintf(out + n, REC_MARKS_TEXT_MAX - (size_t)n, ";shell;%s;%u\a", nonce_sha256,
                  depth);
    //  Written inside an open sequence (the caller could wait no longer), its ESC aborted
    //  that sequence, as the hangup mark's does: the terminal is at ground after it.
    self->pty_state = T_GROUND;
    return (size_t)n;
}
