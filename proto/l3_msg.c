/*  l3_msg — msgpack encoding and validating decoding of every message. See l3_msg.h. */
#include "l3_msg.h"
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

void l3_msg_init(l3_msg_t *msg)
{
    memset(msg, 0, sizeof(*msg));
}

void l3_msg_clear(l3_msg_t *msg)
{
    l3_record_clear(&msg->record);
    memset(msg, 0, sizeof(*msg));
}

//  --------------------------------------------------------------------------
//  Encoding, with msgpack-c's packer writing into an l3_buf.

static int s_buf_write(void *data, const char *bytes, size_t len)
{
    return l3_buf_append((l3_buf_t *)data, bytes, len) ? 0 : -1;
}

static void s_key(msgpack_packer *pk, const char *key)
{
    size_t len = strlen(key);
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, key, len);
}

static void s_str(msgpack_packer *pk, const char *key, const char *value)
{
    s_key(pk, key);
    size_t len = strlen(value);
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, value, len);
}

static void s_bin(msgpack_packer *pk, const char *key, const l3_bytes_t *value)
{
    s_key(pk, key);
    msgpack_pack_bin(pk, value->len);
    if (value->len)
        msgpack_pack_bin_body(pk, value->data, value->len);
}

static void s_uint(msgpack_packer *pk, const char *key, uint64_t value)
{
    s_key(pk, key);
    msgpack_pack_uint64(pk, value);
}

static void s_int(msgpack_packer *pk, const char *key, int64_t value)
{
    s_key(pk, key);
    msgpack_pack_int64(pk, value);
}

//  With msgpack-c's packer: for a buffer whose limit is too close for the direct encoder's
//  upper bound, so such a buffer fails only when the real encoding does not fit.
static bool s_encode_record_packer(const l3_record_t *rec, l3_buf_t *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, s_buf_write);
    const l3_record_t *r = rec;
    size_t fields = 8; // v t a e s h u i
    switch (r->type) {
    case L3_RECORD_SESSION:
        fields += 9;
        break;
    case L3_RECORD_COMMAND:
        fields += 15;
        break;
    case L3_RECORD_END:
        fields += 5;
        break;
    default:
        return false;
    }
    msgpack_pack_map(&pk, fields);
    s_uint(&pk, "v", L3_PROTO_VERSION);
    s_str(&pk, "t", l3_record_type_name(r->type));
    s_str(&pk, "a", r->agent);
    s_uint(&pk, "e", r->epoch);
    s_uint(&pk, "s", r->seq);
    s_str(&pk, "h", r->host);
    s_str(&pk, "u", r->user);
    s_str(&pk, "i", r->sid);
    if (r->type == L3_RECORD_SESSION) {
        s_int(&pk, "ts", r->start_us);
        s_uint(&pk, "uid", r->uid);
        s_uint(&pk, "pid", r->pid);
        s_uint(&pk, "cols", r->cols);
        s_uint(&pk, "rows", r->rows);
        s_str(&pk, "tty", r->tty);
        s_str(&pk, "sh", r->shell);
        s_str(&pk, "ssh", r->ssh);
        s_str(&pk, "par", r->parent);
    } else {
        if (r->type == L3_RECORD_COMMAND) {
            s_uint(&pk, "n", r->nr);
            s_int(&pk, "ts", r->start_us);
            s_bin(&pk, "cwd", &r->cwd);
            s_bin(&pk, "cmd", &r->cmdline);
            s_bin(&pk, "o", &r->output);
            s_uint(&pk, "od", r->dropped);
            s_uint(&pk, "oh", r->output_head);
            s_bin(&pk, "tm", &r->timing);
            s_bin(&pk, "df", &r->diff);
            s_str(&pk, "nest", r->nested);
            s_uint(&pk, "dep", r->depth);
        }
        if (r->type == L3_RECORD_END)
            s_int(&pk, "ts", r->start_us); // the session's start, so an end stands alone
        s_int(&pk, "te", r->end_us);
        s_key(&pk, "x");
        if (r->has_exit)
            msgpack_pack_int32(&pk, r->exit_code);
        else
            msgpack_pack_nil(&pk);
        s_uint(&pk, "sig", (uint64_t)r->signal);
        s_uint(&pk, "f", r->flags);
    }
    return !out->failed;
}

//  The record encoder writes msgpack itself, with a bare cursor into one reservation:
//  msgpack-c's packer calls its writer for every header and body, and each of those was an
//  l3_buf_append, which made encoding the largest cost of an agent's append. The bytes are
//  exactly what the packer writes (smallest encoding of every number and header).
static uint8_t *s_put_be(uint8_t *w, uint8_t tag, uint64_t v, int width)
{
    *w++ = tag;
    for (int k = width - 1; k >= 0; k--)
        *w++ = (uint8_t)(v >> (8 * k));
    return w;
}

static uint8_t *s_put_uint(uint8_t *w, uint64_t v)
{
    if (v < 128) {
        *w++ = (uint8_t)v;
        return w;
    }
    if (v < 256)
        return s_put_be(w, 0xcc, v, 1);
    if (v < 65536)
        return s_put_be(w, 0xcd, v, 2);
    if (v < (1ULL << 32))
        return s_put_be(w, 0xce, v, 4);
    return s_put_be(w, 0xcf, v, 8);
}

static uint8_t *s_put_int(uint8_t *w, int64_t v)
{
    if (v >= -32)
        return v < 128 ? (*w++ = (uint8_t)v, w) : s_put_uint(w, (uint64_t)v);
    if (v >= -128)
        return s_put_be(w, 0xd0, (uint64_t)v, 1);
    if (v >= -32768)
        return s_put_be(w, 0xd1, (uint64_t)v, 2);
    if (v >= -(1LL << 31))
        return s_put_be(w, 0xd2, (uint64_t)v, 4);
    return s_put_be(w, 0xd3, (uint64_t)v, 8);
}

static uint8_t *s_put_str_header(uint8_t *w, size_t len)
{
    if (len < 32) {
        *w++ = (uint8_t)(0xa0 | len);
        return w;
    }
    if (len < 256)
        return s_put_be(w, 0xd9, len, 1);
    if (len < 65536)
        return s_put_be(w, 0xda, len, 2);
    return s_put_be(w, 0xdb, len, 4);
}

static uint8_t *s_put_bytes(uint8_t *w, const void *data, size_t len)
{
    if (len)
        memcpy(w, data, len);
    return w + len;
}

//  A key (our keys are fixstr) and a string value.
#define S_KEY(w, lit) s_put_bytes(s_put_str_header((w), sizeof(lit) - 1), (lit), sizeof(lit) - 1)

static uint8_t *s_put_str(uint8_t *w, const char *value)
{
    size_t len = strlen(value);
    return s_put_bytes(s_put_str_header(w, len), value, len);
}

static uint8_t *s_put_bin(uint8_t *w, const l3_bytes_t *value)
{
    size_t len = value->len;
    if (len < 256)
        w = s_put_be(w, 0xc4, len, 1);
    else if (len < 65536)
        w = s_put_be(w, 0xc5, len, 2);
    else
        w = s_put_be(w, 0xc6, len, 4);
    return s_put_bytes(w, value->data, len);
}

bool l3_msg_encode_record(const l3_record_t *rec, l3_buf_t *out)
{
    const l3_record_t *r = rec;
    size_t fields = 8; // v t a e s h u i
    switch (r->type) {
    case L3_RECORD_SESSION:
        fields += 9;
        break;
    case L3_RECORD_COMMAND:
        fields += 15;
        break;
    case L3_RECORD_END:
        fields += 5;
        break;
    default:
        return false;
    }
    //  An upper bound of the encoding: every header, key and number at its widest, and
    //  the strings and byte fields themselves. Text fields are NUL-terminated in fixed
    //  arrays, so strnlen within their size is their length.
    size_t need = 3 + 40 * 16 + strnlen(r->agent, sizeof r->agent) +
                  strnlen(r->host, sizeof r->host) + strnlen(r->user, sizeof r->user) +
                  strnlen(r->sid, sizeof r->sid);
    if (r->type == L3_RECORD_SESSION)
        need += strnlen(r->tty, sizeof r->tty) + strnlen(r->shell, sizeof r->shell) +
                strnlen(r->ssh, sizeof r->ssh) + strnlen(r->parent, sizeof r->parent);
    else if (r->type == L3_RECORD_COMMAND)
        need += strnlen(r->nested, sizeof r->nested) + r->cwd.len + r->cmdline.len +
                r->output.len + r->timing.len + r->diff.len;
    if (out->failed)
        return false;
    if (need > out->limit || out->len > out->limit - need)
        return s_encode_record_packer(rec, out);
    if (!l3_buf_reserve(out, need))
        return false;
    uint8_t *w = out->data + out->len;
    *w++ = 0xde; // map16: every record has 16 or more fields
    *w++ = (uint8_t)(fields >> 8);
    *w++ = (uint8_t)fields;
    if (fields < 16) {
        //  Not reached with today's field counts; keep the packer's fixmap choice anyway.
        w -= 3;
        *w++ = (uint8_t)(0x80 | fields);
    }
    w = s_put_uint(S_KEY(w, "v"), L3_PROTO_VERSION);
    w = s_put_str(S_KEY(w, "t"), l3_record_type_name(r->type));
    w = s_put_str(S_KEY(w, "a"), r->agent);
    w = s_put_uint(S_KEY(w, "e"), r->epoch);
    w = s_put_uint(S_KEY(w, "s"), r->seq);
    w = s_put_str(S_KEY(w, "h"), r->host);
    w = s_put_str(S_KEY(w, "u"), r->user);
    w = s_put_str(S_KEY(w, "i"), r->sid);
    if (r->type == L3_RECORD_SESSION) {
        w = s_put_int(S_KEY(w, "ts"), r->start_us);
        w = s_put_uint(S_KEY(w, "uid"), r->uid);
        w = s_put_uint(S_KEY(w, "pid"), r->pid);
        w = s_put_uint(S_KEY(w, "cols"), r->cols);
        w = s_put_uint(S_KEY(w, "rows"), r->rows);
        w = s_put_str(S_KEY(w, "tty"), r->tty);
        w = s_put_str(S_KEY(w, "sh"), r->shell);
        w = s_put_str(S_KEY(w, "ssh"), r->ssh);
        w = s_put_str(S_KEY(w, "par"), r->parent);
    } else {
        if (r->type == L3_RECORD_COMMAND) {
            w = s_put_uint(S_KEY(w, "n"), r->nr);
            w = s_put_int(S_KEY(w, "ts"), r->start_us);
            w = s_put_bin(S_KEY(w, "cwd"), &r->cwd);
            w = s_put_bin(S_KEY(w, "cmd"), &r->cmdline);
            w = s_put_bin(S_KEY(w, "o"), &r->output);
            w = s_put_uint(S_KEY(w, "od"), r->dropped);
            w = s_put_uint(S_KEY(w, "oh"), r->output_head);
            w = s_put_bin(S_KEY(w, "tm"), &r->timing);
            w = s_put_bin(S_KEY(w, "df"), &r->diff);
            w = s_put_str(S_KEY(w, "nest"), r->nested);
            w = s_put_uint(S_KEY(w, "dep"), r->depth);
        }
        if (r->type == L3_RECORD_END)
            w = s_put_int(S_KEY(w, "ts"), r->start_us); // the session's start, so an end stands alone
        w = s_put_int(S_KEY(w, "te"), r->end_us);
        w = S_KEY(w, "x");
        if (r->has_exit)
            w = s_put_int(w, r->exit_code);
        else
            *w++ = 0xc0;
        w = s_put_uint(S_KEY(w, "sig"), (uint64_t)r->signal);
        w = s_put_uint(S_KEY(w, "f"), r->flags);
    }
    out->len = (size_t)(w - out->data);
    return true;
}

bool l3_msg_encode_ack(l3_msg_kind_t kind, const char *agent, uint64_t epoch, uint64_t seq,
                       l3_buf_t *out)
{
    if (kind != L3_MSG_ACK && kind != L3_MSG_NACK)
        return false;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, s_buf_write);
    msgpack_pack_map(&pk, 5);
    s_uint(&pk, "v", L3_PROTO_VERSION);
    s_str(&pk, "t", kind == L3_MSG_ACK ? "ack" : "nack");
    s_str(&pk, "a", agent);
    s_uint(&pk, "e", epoch);
    s_uint(&pk, "s", seq);
    return !out->failed;
}

//  --------------------------------------------------------------------------
//  Decoding: a bounds-checked cursor over one flat map.

typedef enum { V_NIL, V_BOOL, V_UINT, V_INT, V_STR, V_BIN } s_vtype_t;

typedef struct {
    s_vtype_t type;
    uint64_t u; // V_UINT, V_BOOL
    int64_t i;  // V_INT (negative only)
    const uint8_t *ptr;
    size_t len; // V_STR, V_BIN
} s_value_t;

typedef struct {
    const uint8_t *p, *end;
} s_cursor_t;

static bool s_take(s_cursor_t *c, size_t n, const uint8_t **out)
{
    if ((size_t)(c->end - c->p) < n)
        return false;
    *out = c->p;
    c->p += n;
    return true;
}

static bool s_be(s_cursor_t *c, size_t n, uint64_t *v)
{
    const uint8_t *b;
    if (!s_take(c, n, &b))
        return false;
    uint64_t x = 0;
    for (size_t k = 0; k < n; k++)
        x = (x << 8) | b[k];
    *v = x;
    return true;
}

//  Read one scalar value; false on truncation or a type we do not accept (nesting,
//  floats, ext). Inlined: it runs twice per map entry.
static inline __attribute__((always_inline)) bool s_read_value(s_cursor_t *c, s_value_t *v,
                                                               const char **why)
{
    const uint8_t *b;
    uint64_t n;
    if (!s_take(c, 1, &b)) {
        *why = "truncated";
        return false;
    }
    uint8_t tag = *b;
    *v = (s_value_t){V_NIL, 0, 0, NULL, 0};
    if (tag <= 0x7f) {
        v->type = V_UINT;
        v->u = tag;
        return true;
    }
    if (tag >= 0xe0) {
        v->type = V_INT;
        v->i = (int8_t)tag;
        return true;
    }
    if (tag >= 0xa0 && tag <= 0xbf) {
        v->type = V_STR;
        v->len = tag & 0x1f;
        goto body;
    }
    switch (tag) {
    case 0xc0:
        v->type = V_NIL;
        return true;
    case 0xc2:
    case 0xc3:
        v->type = V_BOOL;
        v->u = tag == 0xc3;
        return true;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        if (!s_be(c, (size_t)1 << (tag - 0xcc), &n))
            break;
        v->type = V_UINT;
        v->u = n;
        return true;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        size_t width = (size_t)1 << (tag - 0xd0);
        if (!s_be(c, width, &n))
            break;
        int64_t x = width == 8 ? (int64_t)n
                               : (int64_t)(n ^ (1ULL << (width * 8 - 1))) -
                                     (int64_t)(1ULL << (width * 8 - 1));
        if (x >= 0) {
            v->type = V_UINT;
            v->u = (uint64_t)x;
        } else {
            v->type = V_INT;
            v->i = x;
        }
        return true;
    }
    case 0xd9:
    case 0xda:
    case 0xdb:
        if (!s_be(c, (size_t)1 << (tag - 0xd9), &n))
            break;
        v->type = V_STR;
        v->len = n;
        goto body;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        if (!s_be(c, (size_t)1 << (tag - 0xc4), &n))
            break;
        v->type = V_BIN;
        v->len = n;
        goto body;
    default:
        *why = "nested or unsupported value type";
        return false;
    }
    *why = "truncated";
    return false;
body:
    if (!s_take(c, v->len, &v->ptr)) {
        *why = "truncated string";
        return false;
    }
    return true;
}

//  The keys we know, in one table: enum name and wire name. The lengths are computed at
//  compile time so the lookup never calls strlen.
#define S_KEYS(KEY)                                                                                \
    KEY(V, "v")                                                                                    \
    KEY(T, "t") KEY(A, "a") KEY(E, "e") KEY(S, "s") KEY(H, "h") KEY(U, "u") KEY(I, "i")            \
        KEY(TS, "ts") KEY(TE, "te") KEY(UID, "uid") KEY(PID, "pid") KEY(COLS, "cols")              \
            KEY(ROWS, "rows") KEY(TTY, "tty") KEY(SH, "sh") KEY(SSH, "ssh") KEY(PAR, "par")        \
                KEY(N, "n") KEY(CWD, "cwd") KEY(CMD, "cmd") KEY(O, "o") KEY(OD, "od")              \
                    KEY(OH, "oh") KEY(TM, "tm") KEY(DF, "df") KEY(X, "x") KEY(SIG, "sig")          \
                        KEY(F, "f") KEY(NEST, "nest") KEY(DEP, "dep")
#define S_KEY_ENUM(id, name) K_##id,
#define S_KEY_NAME(id, name) name,
#define S_KEY_LEN(id, name) sizeof(name) - 1,
typedef enum { S_KEYS(S_KEY_ENUM) K_COUNT } s_key_t;
static const char *s_key_names[K_COUNT] = {S_KEYS(S_KEY_NAME)};
static const uint8_t s_key_lengths[K_COUNT] = {S_KEYS(S_KEY_LEN)};

#define BIT(k) (1ULL << (k))
#define COMMON (BIT(K_V) | BIT(K_T) | BIT(K_A) | BIT(K_E) | BIT(K_S))
#define WHERE (BIT(K_H) | BIT(K_U) | BIT(K_I))
#define SESSION_KEYS                                                                               \
    (COMMON | WHERE | BIT(K_TS) | BIT(K_UID) | BIT(K_PID) | BIT(K_COLS) | BIT(K_ROWS) |            \
     BIT(K_TTY) | BIT(K_SH) | BIT(K_SSH) | BIT(K_PAR))
#define COMMAND_KEYS                                                                               \
    (COMMON | WHERE | BIT(K_N) | BIT(K_TS) | BIT(K_TE) | BIT(K_CWD) | BIT(K_CMD) | BIT(K_O) |      \
     BIT(K_OD) | BIT(K_OH) | BIT(K_TM) | BIT(K_DF) | BIT(K_X) | BIT(K_SIG) | BIT(K_F) |            \
     BIT(K_NEST) | BIT(K_DEP))
#define END_KEYS (COMMON | WHERE | BIT(K_TS) | BIT(K_TE) | BIT(K_X) | BIT(K_SIG) | BIT(K_F))
//  Required beyond COMMON: optional ones default to empty/zero.
#define SESSION_REQUIRED (COMMON | WHERE | BIT(K_TS))
#define COMMAND_REQUIRED (COMMON | WHERE | BIT(K_N) | BIT(K_TS) | BIT(K_CMD))
#define END_REQUIRED (COMMON | WHERE | BIT(K_TE))

//  Every field of every message passes through here (the writer's and the broker's
//  hottest path): pick the one candidate by length and a distinguishing byte, then
//  confirm it against the table, so a key that is not ours never matches.
static s_key_t s_key_lookup(const uint8_t *p, size_t len)
{
    s_key_t k = K_COUNT;
    switch (len) {
    case 1:
        switch (p[0]) {
        case 'v': k = K_V; break;
        case 't': k = K_T; break;
        case 'a': k = K_A; break;
        case 'e': k = K_E; break;
        case 's': k = K_S; break;
        case 'h': k = K_H; break;
        case 'u': k = K_U; break;
        case 'i': k = K_I; break;
        case 'n': k = K_N; break;
        case 'o': k = K_O; break;
        case 'x': k = K_X; break;
        case 'f': k = K_F; break;
        default: break;
        }
        break;
    case 2:
        switch (p[0]) {
        case 't': k = p[1] == 's' ? K_TS : p[1] == 'e' ? K_TE : K_TM; break;
        case 's': k = K_SH; break;
        case 'o': k = p[1] == 'd' ? K_OD : K_OH; break;
        case 'd': k = K_DF; break;
        default: break;
        }
        break;
    case 3:
        switch (p[0]) {
        case 'u': k = K_UID; break;
        case 'p': k = p[1] == 'i' ? K_PID : K_PAR; break;
        case 't': k = K_TTY; break;
        case 's': k = p[1] == 's' ? K_SSH : K_SIG; break;
        case 'c': k = p[1] == 'w' ? K_CWD : K_CMD; break;
        case 'd': k = K_DEP; break;
        default: break;
        }
        break;
    case 4:
        switch (p[0]) {
        case 'c': k = K_COLS; break;
        case 'r': k = K_ROWS; break;
        case 'n': k = K_NEST; break;
        default: break;
        }
        break;
    default:
        break;
    }
    if (k == K_COUNT || s_key_lengths[k] != len)
        return K_COUNT;
    for (size_t i = 0; i < len; i++)
        if (s_key_names[k][i] != (char)p[i])
            return K_COUNT;
    return k;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        goto fail;                                                                                 \
    } while (0)

static bool s_text(char *dst, size_t size, const s_value_t *v)
{
    if (v->type != V_STR || v->len >= size || memchr(v->ptr, 0, v->len))
        return false;
    memcpy(dst, v->ptr, v->len);
    dst[v->len] = 0;
    return true;
}

static bool s_uint_in(const s_value_t *v, uint64_t max, uint64_t *out)
{
    if (v->type != V_UINT || v->u > max)
        return false;
    *out = v->u;
    return true;
}

static bool s_time_in(const s_value_t *v, int64_t *out)
{
    if (v->type != V_UINT || v->u > (uint64_t)INT64_MAX)
        return false;
    *out = (int64_t)v->u;
    return true;
}

//  The decoder behind l3_msg_decode and l3_msg_decode_view: with view, byte fields point
//  into data instead of being copied, and a failure must not free them.
static bool s_decode(const void *data, size_t len, l3_msg_t *msg, char *err, size_t errlen,
                     bool view)
{
    l3_msg_init(msg);
    l3_record_t *r = &msg->record;
    s_cursor_t c = {data, (const uint8_t *)data + len};
    const char *why = NULL;
    uint64_t count = 0;
    const uint8_t *b;
    if (len > L3_MSG_MAX)
        FAIL("message of %zu bytes over the %u byte cap", len, L3_MSG_MAX);
    if (!s_take(&c, 1, &b))
        FAIL("empty message");
    if (*b >= 0x80 && *b <= 0x8f)
        count = *b & 0x0f;
    else if (*b == 0xde || *b == 0xdf) {
        if (!s_be(&c, *b == 0xde ? 2 : 4, &count))
            FAIL("truncated map header");
    } else
        FAIL("not a msgpack map");
    if (count > 64)
        FAIL("map of %llu entries is too large", (unsigned long long)count);

    //  Pass 1: read every entry; remember known values, skip unknown scalar ones.
    s_value_t values[K_COUNT];
    uint64_t seen = 0;
    for (uint64_t e = 0; e < count; e++) {
        s_value_t key, value;
        //  Our keys are fixstr of 1..16 bytes: take those without the general reader.
        if (c.p < c.end && *c.p >= 0xa1 && *c.p <= 0xb0 &&
            (size_t)(c.end - c.p) > (size_t)(*c.p & 0x1f)) {
            key.type = V_STR;
            key.len = *c.p & 0x1f;
            key.ptr = c.p + 1;
            c.p += 1 + key.len;
        } else {
            if (!s_read_value(&c, &key, &why))
                FAIL("bad key: %s", why);
            if (key.type != V_STR || key.len == 0 || key.len > 16)
                FAIL("map key is not a short string");
        }
        if (!s_read_value(&c, &value, &why))
            FAIL("bad value: %s", why);
        s_key_t k = s_key_lookup(key.ptr, key.len);
        if (k == K_COUNT)
            continue; // newer peer: ignore well-formed unknown scalars
        if (seen & BIT(k))
            FAIL("duplicate key \"%s\"", s_key_names[k]);
        seen |= BIT(k);
        values[k] = value;
    }
    if (c.p != c.end)
        FAIL("%zu trailing bytes after the map", (size_t)(c.end - c.p));

    //  Pass 2: version and type decide which keys are allowed and required.
    uint64_t u;
    if (!(seen & BIT(K_V)) || !s_uint_in(&values[K_V], UINT32_MAX, &u))
        FAIL("missing or bad version");
    if (u != L3_PROTO_VERSION)
        FAIL("unsupported protocol version %llu", (unsigned long long)u);
    char type[16];
    if (!(seen & BIT(K_T)) || !s_text(type, sizeof(type), &values[K_T]))
        FAIL("missing or bad type");
    uint64_t allowed, required;
    if (strcmp(type, "ack") == 0 || strcmp(type, "nack") == 0) {
        msg->kind = type[0] == 'a' ? L3_MSG_ACK : L3_MSG_NACK;
        allowed = required = COMMON;
    } else {
        msg->kind = L3_MSG_RECORD;
        r->type = l3_record_type_from_name(type);
        if (r->type == L3_RECORD_SESSION) {
            allowed = SESSION_KEYS;
            required = SESSION_REQUIRED;
        } else if (r->type == L3_RECORD_COMMAND) {
            allowed = COMMAND_KEYS;
            required = COMMAND_REQUIRED;
        } else if (r->type == L3_RECORD_END) {
            allowed = END_KEYS;
            required = END_REQUIRED;
        } else
            FAIL("unknown message type \"%s\"", type);
    }
    if (seen & ~allowed) {
        for (int k = 0; k < K_COUNT; k++)
            if (seen & ~allowed & BIT(k))
                FAIL("key \"%s\" not allowed in %s", s_key_names[k], type);
    }
    if ((seen & required) != required) {
        for (int k = 0; k < K_COUNT; k++)
            if ((required & ~seen) & BIT(k))
                FAIL("%s without required key \"%s\"", type, s_key_names[k]);
    }

    char agent[L3_ID_MAX + 1];
    if (!s_text(agent, sizeof(agent), &values[K_A]) || !l3_id_valid(agent))
        FAIL("bad agent id");
    uint64_t epoch, seq;
    if (!s_uint_in(&values[K_E], UINT64_MAX, &epoch) || epoch == 0)
        FAIL("bad epoch");
    if (!s_uint_in(&values[K_S], UINT64_MAX, &seq) || seq == 0)
        FAIL("bad seq");
    //  Copy the id's bytes only: a fixed 65-byte copy became a slow `rep movsb`.
    size_t agent_len = values[K_A].len; // < sizeof(agent): s_text checked it
    if (msg->kind != L3_MSG_RECORD) {
        memcpy(msg->agent, agent, agent_len + 1);
        msg->epoch = epoch;
        msg->seq = seq;
        return true;
    }
    memcpy(r->agent, agent, agent_len + 1);
    r->epoch = epoch;
    r->seq = seq;

    //  Every present field, checked for type and range.
    for (int k = K_H; k < K_COUNT; k++) {
        if (!(seen & BIT(k)))
            continue;
        const s_value_t *v = &values[k];
        bool ok = true;
        l3_bytes_t *bytes = NULL;
        size_t cap = 0;
        switch ((s_key_t)k) {
        case K_H:
            ok = s_text(r->host, sizeof(r->host), v);
            break;
        case K_U:
            ok = s_text(r->user, sizeof(r->user), v);
            break;
        case K_I:
            ok = s_text(r->sid, sizeof(r->sid), v);
            break;
        case K_TTY:
            ok = s_text(r->tty, sizeof(r->tty), v);
            break;
        case K_SH:
            ok = s_text(r->shell, sizeof(r->shell), v);
            break;
        case K_SSH:
            ok = s_text(r->ssh, sizeof(r->ssh), v);
            break;
        case K_PAR:
            ok = s_text(r->parent, sizeof(r->parent), v);
            break;
        case K_NEST:
            ok = s_text(r->nested, sizeof(r->nested), v);
            break;
        case K_TS:
            ok = s_time_in(v, &r->start_us);
            break;
        case K_TE:
            ok = s_time_in(v, &r->end_us);
            break;
        case K_UID:
            ok = s_uint_in(v, UINT32_MAX, &u);
            r->uid = (uint32_t)u;
            break;
        case K_PID:
            ok = s_uint_in(v, UINT32_MAX, &u);
            r->pid = (uint32_t)u;
            break;
        case K_COLS:
            ok = s_uint_in(v, UINT16_MAX, &u);
            r->cols = (uint16_t)u;
            break;
        case K_ROWS:
            ok = s_uint_in(v, UINT16_MAX, &u);
            r->rows = (uint16_t)u;
            break;
        case K_N:
            ok = s_uint_in(v, UINT64_MAX, &r->nr);
            break;
        case K_OD:
            ok = s_uint_in(v, UINT64_MAX, &r->dropped);
            break;
        case K_OH:
            ok = s_uint_in(v, L3_OUTPUT_MAX, &r->output_head);
            break;
        case K_DEP:
            ok = s_uint_in(v, L3_DEPTH_MAX, &u);
            r->depth = (uint8_t)u;
            break;
        case K_SIG:
            ok = s_uint_in(v, 128, &u);
            r->signal = (int32_t)u;
            break;
        case K_F:
            ok = s_uint_in(v, L3_FLAG_ALL, &u);
            r->flags = (uint32_t)u;
            break;
        case K_X:
            if (v->type == V_NIL)
                break;
            if (v->type == V_UINT && v->u <= INT32_MAX)
                r->exit_code = (int32_t)v->u;
            else if (v->type == V_INT && v->i >= INT32_MIN)
                r->exit_code = (int32_t)v->i;
            else
                ok = false;
            r->has_exit = ok;
            break;
        case K_CWD:
            bytes = &r->cwd;
            cap = L3_CWD_MAX;
            break;
        case K_CMD:
            bytes = &r->cmdline;
            cap = L3_CMDLINE_MAX;
            break;
        case K_O:
            bytes = &r->output;
            cap = L3_OUTPUT_MAX;
            break;
        case K_TM:
            bytes = &r->timing;
            cap = L3_TIMING_MAX;
            break;
        case K_DF:
            bytes = &r->diff;
            cap = L3_DIFF_MAX;
            break;
        default:
            break;
        }
        if (bytes) {
            if (v->type != V_BIN && v->type != V_STR)
                FAIL("field \"%s\" is not bytes", s_key_names[k]);
            if (v->len > cap)
                FAIL("field \"%s\" of %zu bytes over its cap of %zu", s_key_names[k], v->len, cap);
            if (view) {
                bytes->data = v->len ? (uint8_t *)v->ptr : NULL;
                bytes->len = v->len;
            } else if (!l3_bytes_set(bytes, v->ptr, v->len, cap))
                FAIL("out of memory");
        } else if (!ok)
            FAIL("field \"%s\" has a bad type or value", s_key_names[k]);
    }
    char reason[128];
    if (!l3_record_validate(r, reason, sizeof(reason)))
        FAIL("invalid %s: %s", type, reason);
    return true;
fail:
    if (view)
        l3_msg_init(msg); // nothing owned: the byte fields point into data
    else
        l3_msg_clear(msg);
    return false;
}

bool l3_msg_decode(const void *data, size_t len, l3_msg_t *msg, char *err, size_t errlen)
{
    return s_decode(data, len, msg, err, errlen, false);
}

bool l3_msg_decode_view(const void *data, size_t len, l3_msg_t *msg, char *err, size_t errlen)
{
    return s_decode(data, len, msg, err, errlen, true);
}
