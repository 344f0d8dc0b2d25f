/*  l3_buf — growable byte buffer. See l3_buf.h. */
#include "l3_buf.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void l3_buf_init(l3_buf_t *buf, size_t limit)
{
    memset(buf, 0, sizeof(*buf));
    buf->limit = limit ? limit : SIZE_MAX / 2;
}

void l3_buf_free(l3_buf_t *buf)
{
    free(buf->data);
    size_t limit = buf->limit;
    memset(buf, 0, sizeof(*buf));
    buf->limit = limit;
}

void l3_buf_reset(l3_buf_t *buf)
{
    buf->len = 0;
    buf->failed = false;
}

bool l3_buf_reserve(l3_buf_t *buf, size_t more)
{
    if (buf->failed)
        return false;
    if (more > buf->limit || buf->len > buf->limit - more) {
        buf->failed = true;
        return false;
    }
    size_t need = buf->len + more;
    if (need <= buf->cap)
        return true;
    //  Double, so appends stay amortised O(1); never past the limit.
    size_t cap = buf->cap ? buf->cap : 256;
    while (cap < need)
        cap = cap > buf->limit / 2 ? buf->limit : cap * 2;
    uint8_t *data = realloc(buf->data, cap);
    if (!data) {
        buf->failed = true;
        return false;
    }
    buf->data = data;
    buf->cap = cap;
    return true;
}

bool l3_buf_append(l3_buf_t *buf, const void *data, size_t len)
{
    if (!l3_buf_reserve(buf, len))
        return false;
    if (len)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    return true;
}

bool l3_buf_append_str(l3_buf_t *buf, const char *str)
{
    return l3_buf_append(buf, str, strlen(str));
}

bool l3_buf_append_byte(l3_buf_t *buf, uint8_t byte)
{
    if (buf->len < buf->cap && buf->len < buf->limit && !buf->failed) {
        buf->data[buf->len++] = byte;
        return true;
    }
    return l3_buf_append(buf, &byte, 1);
}

bool l3_buf_printf(l3_buf_t *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        buf->failed = true;
        return false;
    }
    if ((size_t) n < sizeof(small))
        return l3_buf_append(buf, small, (size_t) n);
    if (!l3_buf_reserve(buf, (size_t) n + 1))
        return false;
    va_start(ap, fmt);
    vsnprintf((char *) buf->data + buf->len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t) n;
    return true;
}

uint8_t *l3_buf_steal(l3_buf_t *buf, size_t *len)
{
    uint8_t *data = buf->data;
    if (len)
        *len = buf->len;
    size_t limit = buf->limit;
    memset(buf, 0, sizeof(*buf));
    buf->limit = limit;
    return data;
}

char *l3_put_u64(char *w, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char) ('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *w++ = tmp[--n];
    return w;
}
