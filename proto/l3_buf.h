/*  l3_buf — a growable byte buffer with checked growth.

    The one way the project builds byte strings: encoders append into it, the caller owns
    it. Growth is overflow-checked and bounded by a cap the owner chooses, so an encoder
    fed hostile sizes fails cleanly instead of asking malloc for the moon. */
#ifndef L3_BUF_H
#define L3_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *data;  /* owned; NULL while empty */
    size_t len;
    size_t cap;
    size_t limit;   /* hard maximum of len; 0 means SIZE_MAX / 2 */
    bool failed;    /* sticky: a growth failed, the contents are incomplete */
} l3_buf_t;

/* Initialise an empty buffer that may grow to at most `limit` bytes (0 = unbounded). */
void l3_buf_init(l3_buf_t *buf, size_t limit);
/* Free the contents; the buffer can be reused after l3_buf_init. */
void l3_buf_free(l3_buf_t *buf);
/* Drop the contents but keep the allocation. */
void l3_buf_reset(l3_buf_t *buf);
/* Ensure room for `more` bytes; false (and buf->failed) when over limit or out of memory. */
bool l3_buf_reserve(l3_buf_t *buf, size_t more);
bool l3_buf_append(l3_buf_t *buf, const void *data, size_t len);
bool l3_buf_append_str(l3_buf_t *buf, const char *str);
bool l3_buf_append_byte(l3_buf_t *buf, uint8_t byte);
bool l3_buf_printf(l3_buf_t *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write the decimal digits of v at w (room for 20 bytes needed); returns the end. The
   hot encoders' replacement for printf. */
char *l3_put_u64(char *w, uint64_t v);
/* Hand the contents to the caller (who frees them) and leave the buffer empty. */
uint8_t *l3_buf_steal(l3_buf_t *buf, size_t *len);

#endif
