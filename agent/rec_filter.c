/*  rec_filter — the terminal's and the spool's views of the pty's bytes; see
    rec_filter.h. */
#include "rec_filter.h"

#include <stdio.h>
#include <string.h>

enum { S_TEXT = 0, S_PREFIX, S_BODY, S_BODY_ESC };

static const uint8_t s_prefix[] = "\033]6973";
#define S_PREFIX_LEN (sizeof s_prefix - 1)

void rec_filter_init(rec_filter_t *self)
{
    memset(self, 0, sizeof *self);
    self->state = S_TEXT;
}

size_t rec_filter_run(rec_filter_t *self, const uint8_t *in, size_t len, uint8_t *out)
{
    size_t o = 0;
    size_t i = 0;
    while (i < len) {
        switch (self->state) {
        case S_TEXT: {
            /* Fast path: copy everything up to the next ESC in one go. */
            const uint8_t *esc = memchr(in + i, 0x1b, len - i);
            size_t span = esc ? (size_t)(esc - (in + i)) : len - i;
            memcpy(out + o, in + i, span);
            o += span;
            i += span;
            if (esc) {
                self->state = S_PREFIX;
                self->held_len = 1;
                i++;
            }
            break;
        }
        case S_PREFIX: {
            uint8_t c = in[i];
            if (self->held_len < S_PREFIX_LEN) {
                if (c == s_prefix[self->held_len]) {
                    self->held_len++;
                    i++;
                    break;
                }
            } else if (c == ';' || c == 0x07 || c == 0x1b) {
                /* "ESC ] 6973" followed by a terminator or the argument separator: a mark. */
                self->held_len = 0;
                self->body_len = 0;
                self->marks++;
                i++;
                self->state = c == ';' ? S_BODY : c == 0x07 ? S_TEXT : S_BODY_ESC;
                break;
            }
            /* Not a mark: give back what was held and look at c afresh (it may be an ESC
               starting the next sequence; held bytes hold only one ESC, at the front). */
            memcpy(out + o, s_prefix, self->held_len);
            o += self->held_len;
            self->held_len = 0;
            self->state = S_TEXT;
            break;
        }
        case S_BODY: {
            /* Drop up to the next byte that can end the mark. */
            size_t j = i;
            while (j < len && in[j] != 0x07 && in[j] != 0x1b && in[j] != 0x18 && in[j] != 0x1a)
                j++;
            self->body_len += j - i;
            i = j;
            if (i < len) {
                self->state = in[i] == 0x1b ? S_BODY_ESC : S_TEXT;
                i++;
            } else if (self->body_len > REC_FILTER_BODY_MAX)
                self->state = S_TEXT;
            break;
        }
        case S_BODY_ESC:
            if (in[i] == '\\') {
                self->state = S_TEXT;
                i++;
            } else {
                /* ESC not followed by '\': the mark ends, the ESC starts a new sequence. */
                self->state = S_PREFIX;
                self->held_len = 1;
            }
            break;
        }
    }
    return o;
}

size_t rec_filter_flush(rec_filter_t *self, uint8_t *out)
{
    size_t o = 0;
    if (self->state == S_PREFIX) {
        memcpy(out, s_prefix, self->held_len);
        o = self->held_len;
    }
    self->held_len = 0;
    self->state = S_TEXT;
    return o;
}

/* ------------------------------------------------------------------------------------ */
/* Script side: nonces out, forged references neutralised                               */

static const uint8_t s_mark_start[] = "\033]6973;";
#define S_MARK_START_LEN (sizeof s_mark_start - 1)

static bool s_is_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

void rec_filter_script_init(rec_filter_script_t *self)
{
    memset(self, 0, sizeof *self);
}

void rec_filter_script_wipe(rec_filter_script_t *self)
{
    explicit_bzero(self, sizeof *self);
}

bool rec_filter_script_full(const rec_filter_script_t *self)
{
    return self->count >= REC_FILTER_NONCES_MAX;
}

/* sorted[lo..hi) narrowed to the nonces whose character at `at` is c (the range holds
   nonces that agree before `at`, so those are one stretch of it). */
static void s_narrow(rec_filter_script_t *self, size_t at, uint8_t c)
{
    size_t lo = self->lo, hi = self->hi;
    while (lo < hi) { /* first whose character is >= c */
        size_t mid = lo + (hi - lo) / 2;
        if ((uint8_t)self->nonces[self->sorted[mid]][at] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    hi = self->hi;
    while (end < hi) { /* first whose character is > c */
        size_t mid = end + (hi - end) / 2;
        if ((uint8_t)self->nonces[self->sorted[mid]][at] <= c)
            end = mid + 1;
        else
            hi = mid;
    }
    self->lo = lo;
    self->hi = end;
}

/* The candidates for the held run, from scratch (the table changed under it). */
static void s_renarrow(rec_filter_script_t *self)
{
    self->lo = 0;
    self->hi = self->count;
    for (size_t i = 0; i < self->run_len; i++)
        s_narrow(self, i, self->run[i]);
}

int rec_filter_script_add(rec_filter_script_t *self, const char *nonce)
{
    if (rec_filter_script_full(self))
        return -1;
    for (size_t i = 0; i < REC_FILTER_NONCE_HEX; i++)
        if (!s_is_hex((uint8_t)nonce[i]))
            return -1;
    size_t k = self->count, at = 0;
    memcpy(self->nonces[k], nonce, REC_FILTER_NONCE_HEX);
    self->starts[(uint8_t)nonce[0]] = true;
    while (at < k && memcmp(self->nonces[self->sorted[at]], nonce, REC_FILTER_NONCE_HEX) < 0)
        at++;
    memmove(self->sorted + at + 1, self->sorted + at, (k - at) * sizeof self->sorted[0]);
    self->sorted[at] = (uint16_t)k;
    self->count++;
    s_renarrow(self);
    return (int)k;
}

/* The held run ends (a byte that is no lowercase hex, or the end of the stream): a nonce
   we gave is written as its number, anything else as it came. */
static size_t s_run_end(rec_filter_script_t *self, uint8_t *out)
{
    size_t o = 0;
    if (self->run_len == REC_FILTER_NONCE_HEX && self->lo < self->hi) {
        o = (size_t)snprintf((char *)out, REC_FILTER_NONCE_HEX, "=%u",
                             (unsigned)self->sorted[self->lo]);
        self->replaced++;
    } else {
        memcpy(out, self->run, self->run_len);
        o = self->run_len;
    }
    self->run_len = 0;
    return o;
}

size_t rec_filter_script_run(rec_filter_script_t *self, const uint8_t *in, size_t len,
                             uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (self->matched == 0 && self->run_len == 0) {
            //  Fast path, up to the next ESC or the next run that may begin a nonce: the
            //  bytes pass as they are.
            size_t j = i;
            bool passed = self->run_passed;
            for (; j < len && in[j] != 0x1b; j++) {
                if (!s_is_hex(in[j]))
                    passed = false;
                else if (passed || !self->starts[in[j]])
                    passed = true;
                else
                    break;
            }
            memcpy(out + o, in + i, j - i);
            o += j - i;
            self->run_passed = passed;
            i = j;
            if (i == len)
                break;
        }
        uint8_t c = in[i];
        bool first = self->matched == S_MARK_START_LEN; /* the byte after "ESC]6973;" */
        if (c == s_mark_start[self->matched] && !first)
            self->matched++;
        else
            self->matched = c == 0x1b ? 1 : 0;
        if (!s_is_hex(c)) {
            if (self->run_len)
                o += s_run_end(self, out + o);
            self->run_passed = false;
            if (first && c == '=') {
                //  A reference only the recorder may write: this one a program printed.
                c = '!';
                self->neutralised++;
            }
            out[o++] = c;
            continue;
        }
        if (self->run_passed) {
            out[o++] = c;
            continue;
        }
        if (self->run_len == 0) {
            self->lo = 0;
            self->hi = self->count;
        }
        if (self->run_len == REC_FILTER_NONCE_HEX) {
            //  33 characters: no nonce; the rest of the run passes as it comes.
            memcpy(out + o, self->run, self->run_len);
            o += self->run_len;
            self->run_len = 0;
            self->run_passed = true;
            out[o++] = c;
            continue;
        }
        s_narrow(self, self->run_len, c);
        self->run[self->run_len++] = c;
        if (self->lo == self->hi) {
            //  The beginning of no nonce we gave: written now, and so is the rest of it.
            memcpy(out + o, self->run, self->run_len);
            o += self->run_len;
            self->run_len = 0;
            self->run_passed = true;
        }
    }
    return o;
}

size_t rec_filter_script_flush(rec_filter_script_t *self, uint8_t *out)
{
    size_t o = self->run_len ? s_run_end(self, out) : 0;
    self->run_passed = false;
    self->matched = 0;
    return o;
}
