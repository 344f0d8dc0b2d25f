/*  rec_filter — streaming removal of OSC 6973 marks; see rec_filter.h. */
#include "rec_filter.h"

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
