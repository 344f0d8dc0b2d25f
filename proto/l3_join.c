/*  l3_join — enrolment request and reply, msgpack. See l3_join.h.

    Encoded with msgpack-c's packer; decoded by hand, not with msgpack_unpack_next: that
    allocates what a map or array header declares before it knows whether the bytes are
    there (a 30-byte request declaring 2^32 pairs asked for 128 GiB; found by fuzz/join).
    The messages are one flat map of scalars, so the hand decoder reads exactly that and
    refuses any container. */
#include "l3_join.h"

#include <msgpack.h>
#include <stdio.h>
#include <string.h>

static int s_buf_write(void *data, const char *bytes, size_t len)
{
    return l3_buf_append((l3_buf_t *)data, bytes, len) ? 0 : -1;
}

static void s_str(msgpack_packer *pk, const char *key, const char *value)
{
    size_t klen = strlen(key), vlen = strlen(value);
    msgpack_pack_str(pk, klen);
    msgpack_pack_str_body(pk, key, klen);
    msgpack_pack_str(pk, vlen);
    msgpack_pack_str_body(pk, value, vlen);
}

static void s_key(msgpack_packer *pk, const char *key)
{
    size_t len = strlen(key);
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, key, len);
}

/* The start of every enrolment message into out: a map of nfields, "v" and "t". */
static void s_begin(msgpack_packer *pk, l3_buf_t *out, size_t nfields, const char *type)
{
    l3_buf_reset(out);
    msgpack_packer_init(pk, out, s_buf_write);
    msgpack_pack_map(pk, nfields);
    s_key(pk, "v");
    msgpack_pack_uint64(pk, L3_PROTO_VERSION);
    s_str(pk, "t", type);
}

bool l3_join_encode(const l3_join_t *join, l3_buf_t *out)
{
    if (!join->host[0] || !l3_text_valid(join->host, L3_NAME_MAX))
        return false;
    msgpack_packer pk;
    s_begin(&pk, out, 5, "join");
    s_str(&pk, "h", join->host);
    s_key(&pk, "ts");
    msgpack_pack_int64(&pk, join->ts);
    s_key(&pk, "n");
    msgpack_pack_bin(&pk, L3_JOIN_NONCE_LEN);
    msgpack_pack_bin_body(&pk, join->nonce, L3_JOIN_NONCE_LEN);
    return !out->failed && out->len <= L3_JOIN_MAX;
}

const char *l3_join_status_name(l3_join_status_t status)
{
    switch (status) {
    case L3_JOIN_PENDING:
        return "pending";
    case L3_JOIN_ENROLLED:
        return "enrolled";
    case L3_JOIN_REFUSED:
        return "refused";
    }
    return "?";
}

bool l3_join_reply_encode(const l3_join_reply_t *reply, l3_buf_t *out)
{
    const char *status = l3_join_status_name(reply->status);
    if (!strcmp(status, "?") || !l3_text_valid(reply->host, L3_NAME_MAX) ||
        !l3_text_valid(reply->text, L3_JOIN_TEXT_MAX))
        return false;
    msgpack_packer pk;
    s_begin(&pk, out, 5, "enrol");
    s_str(&pk, "s", status);
    s_str(&pk, "h", reply->host);
    s_str(&pk, "m", reply->text);
    return !out->failed && out->len <= L3_JOIN_MAX;
}

/* A value of the flat map: only scalars are read (see the header on msgpack-c). */
typedef enum { S_NONE, S_UINT, S_INT, S_STR, S_BIN, S_OTHER } s_kind_t;
typedef struct {
    s_kind_t kind;
    uint64_t u;
    const uint8_t *ptr; /* S_STR, S_BIN: into the message */
    size_t len;
} s_val_t;

typedef struct {
    const uint8_t *p, *end;
} s_cur_t;

/* n bytes from the cursor, or false when fewer are left. */
static bool s_take(s_cur_t *c, size_t n, const uint8_t **out)
{
    if ((size_t)(c->end - c->p) < n)
        return false;
    *out = c->p;
    c->p += n;
    return true;
}

/* A big-endian unsigned of n bytes. */
static bool s_be(s_cur_t *c, size_t n, uint64_t *v)
{
    const uint8_t *b;
    if (!s_take(c, n, &b))
        return false;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v = (*v << 8) | b[i];
    return true;
}

/* One scalar. Containers and extensions are refused: these messages have none, and a
   decoder that skipped them would have to bound their declared sizes. */
static bool s_value(s_cur_t *c, s_val_t *v)
{
    const uint8_t *t;
    uint64_t n = 0;
    memset(v, 0, sizeof *v);
    if (!s_take(c, 1, &t))
        return false;
    uint8_t b = *t;
    if (b <= 0x7f) {
        v->kind = S_UINT;
        v->u = b;
        return true;
    }
    if (b >= 0xe0 || (b >= 0xd0 && b <= 0xd3)) {
        v->kind = S_INT;
        return b >= 0xe0 || s_be(c, (size_t)1 << (b - 0xd0), &n);
    }
    if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb) || (b >= 0xc4 && b <= 0xc6)) {
        bool str = b >= 0xa0 && b <= 0xbf ? true : b >= 0xd9;
        if (b >= 0xa0 && b <= 0xbf)
            n = b & 0x1f;
        else if (!s_be(c, (size_t)1 << (str ? b - 0xd9 : b - 0xc4), &n))
            return false;
        v->kind = str ? S_STR : S_BIN;
        v->len = (size_t)n;
        return n <= (uint64_t)(c->end - c->p) && s_take(c, v->len, &v->ptr);
    }
    if (b >= 0xcc && b <= 0xcf) {
        v->kind = S_UINT;
        return s_be(c, (size_t)1 << (b - 0xcc), &v->u);
    }
    v->kind = S_OTHER;
    switch (b) {
    case 0xc0:
    case 0xc2:
    case 0xc3:
        return true;
    case 0xca:
        return s_be(c, 4, &n);
    case 0xcb:
        return s_be(c, 8, &n);
    default:
        return false; /* map, array, ext, or the unused 0xc1 */
    }
}

/* The fields both messages share, found in one pass over the top-level map. S_NONE
   where a key is absent; a key given twice is an error (which one was meant?). */
typedef struct {
    s_val_t v, t, h, ts, n, s, m;
} s_fields_t;

static bool s_fields(const void *data, size_t len, s_fields_t *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    if (len > L3_JOIN_MAX) {
        snprintf(err, errlen, "message of %zu bytes (at most %d)", len, L3_JOIN_MAX);
        return false;
    }
    s_cur_t c = {data, (const uint8_t *)data + len};
    const uint8_t *t;
    uint64_t pairs = 0;
    if (!s_take(&c, 1, &t) ||
        !((*t >= 0x80 && *t <= 0x8f && ((pairs = *t & 0x0f), true)) ||
          (*t == 0xde && s_be(&c, 2, &pairs)) || (*t == 0xdf && s_be(&c, 4, &pairs)))) {
        snprintf(err, errlen, "not a map");
        return false;
    }
    for (uint64_t i = 0; i < pairs; i++) {
        s_val_t k, val;
        if (!s_value(&c, &k) || !s_value(&c, &val)) {
            snprintf(err, errlen, "truncated, or a value that is not a scalar");
            return false;
        }
        if (k.kind != S_STR || k.len > 2)
            continue; /* not one of ours: a later version's field */
        char key[3] = "";
        memcpy(key, k.ptr, k.len);
        s_val_t *slot = !strcmp(key, "v")    ? &f->v
                        : !strcmp(key, "t")  ? &f->t
                        : !strcmp(key, "h")  ? &f->h
                        : !strcmp(key, "ts") ? &f->ts
                        : !strcmp(key, "n")  ? &f->n
                        : !strcmp(key, "s")  ? &f->s
                        : !strcmp(key, "m")  ? &f->m
                                             : NULL;
        if (!slot)
            continue;
        if (slot->kind != S_NONE) {
            snprintf(err, errlen, "field %s twice", key);
            return false;
        }
        *slot = val;
    }
    if (c.p != c.end) {
        snprintf(err, errlen, "%zu bytes after the message", (size_t)(c.end - c.p));
        return false;
    }
    if (f->v.kind != S_UINT || f->v.u != L3_PROTO_VERSION) {
        snprintf(err, errlen, "missing or unsupported version v");
        return false;
    }
    return true;
}

/* Copy a string value into out (size bytes) when it is valid text of at most max bytes
   (and non-empty when must_have). */
static bool s_text(const s_val_t *o, char *out, size_t size, size_t max, bool must_have)
{
    if (o->kind != S_STR || o->len > max || o->len >= size)
        return false;
    memcpy(out, o->ptr, o->len);
    out[o->len] = '\0';
    /* A NUL inside would hide the rest from every check below. */
    if (strlen(out) != o->len)
        return false;
    return (!must_have || out[0]) && (!out[0] || l3_text_valid(out, max));
}

static bool s_is(const s_val_t *t, const char *want)
{
    return t->kind == S_STR && t->len == strlen(want) && memcmp(t->ptr, want, t->len) == 0;
}

bool l3_join_decode(const void *data, size_t len, l3_join_t *join, char *err, size_t errlen)
{
    s_fields_t f;
    memset(join, 0, sizeof *join);
    if (!s_fields(data, len, &f, err, errlen))
        return false;
    if (!s_is(&f.t, "join")) {
        snprintf(err, errlen, "not a join request (t)");
        return false;
    }
    if (!s_text(&f.h, join->host, sizeof join->host, L3_NAME_MAX, true)) {
        snprintf(err, errlen, "missing or invalid host h");
        return false;
    }
    if (f.ts.kind != S_UINT || f.ts.u > (uint64_t)INT64_MAX) {
        snprintf(err, errlen, "missing or invalid time ts");
        return false;
    }
    join->ts = (int64_t)f.ts.u;
    if (f.n.kind != S_BIN || f.n.len != L3_JOIN_NONCE_LEN) {
        snprintf(err, errlen, "missing or invalid nonce n (%d bytes)", L3_JOIN_NONCE_LEN);
        return false;
    }
    memcpy(join->nonce, f.n.ptr, L3_JOIN_NONCE_LEN);
    return true;
}

bool l3_join_reply_decode(const void *data, size_t len, l3_join_reply_t *reply, char *err,
                          size_t errlen)
{
    s_fields_t f;
    memset(reply, 0, sizeof *reply);
    if (!s_fields(data, len, &f, err, errlen))
        return false;
    if (!s_is(&f.t, "enrol")) {
        snprintf(err, errlen, "not an enrolment reply (t)");
        return false;
    }
    reply->status = s_is(&f.s, "pending")    ? L3_JOIN_PENDING
                    : s_is(&f.s, "enrolled") ? L3_JOIN_ENROLLED
                    : s_is(&f.s, "refused")  ? L3_JOIN_REFUSED
                                             : 0;
    if (!reply->status) {
        snprintf(err, errlen, "missing or unknown status s");
        return false;
    }
    if (!s_text(&f.h, reply->host, sizeof reply->host, L3_NAME_MAX, false) ||
        !s_text(&f.m, reply->text, sizeof reply->text, L3_JOIN_TEXT_MAX, false)) {
        snprintf(err, errlen, "missing or invalid host h or text m");
        return false;
    }
    return true;
}
