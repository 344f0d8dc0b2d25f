/*  import_json — bounded JSON reader. See import_json.h.

    Recursive descent with an explicit depth limit; nodes live in one growable array
    (indices, not pointers, so growth never invalidates them); decoded strings in one
    pool. */
#include "import_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct l3_json_t {
    l3_json_node_t *nodes;
    uint32_t count, cap;
    uint8_t *pool;
    size_t pool_len, pool_cap;
};

typedef struct {
    const uint8_t *p;
    size_t len, at;
    l3_json_t *doc;
    char *err;
    size_t errlen;
    bool failed;
} ctx_t;

static void s_fail(ctx_t *c, const char *what)
{
    if (!c->failed && c->err && c->errlen)
        snprintf(c->err, c->errlen, "%s at byte %zu", what, c->at);
    c->failed = true;
}

static void s_ws(ctx_t *c)
{
    while (c->at < c->len
           && (c->p[c->at] == ' ' || c->p[c->at] == '\t' || c->p[c->at] == '\n'
               || c->p[c->at] == '\r'))
        c->at++;
}

static int32_t s_node(ctx_t *c, l3_json_type_t type)
{
    l3_json_t *d = c->doc;
    if (d->count == d->cap) {
        if (d->cap >= L3_JSON_NODES_MAX) {
            s_fail(c, "too many values");
            return -1;
        }
        uint32_t cap = d->cap ? d->cap * 2 : 64;
        l3_json_node_t *n = realloc(d->nodes, cap * sizeof(*n));
        if (!n) {
            s_fail(c, "out of memory");
            return -1;
        }
        d->nodes = n;
        d->cap = cap;
    }
    l3_json_node_t *n = &d->nodes[d->count];
    memset(n, 0, sizeof(*n));
    n->type = type;
    n->first = n->next = -1;
    return (int32_t) d->count++;
}

static bool s_pool_put(ctx_t *c, const uint8_t *data, size_t len)
{
    l3_json_t *d = c->doc;
    if (d->pool_len + len > d->pool_cap) {
        size_t cap = d->pool_cap ? d->pool_cap : 256;
        while (cap < d->pool_len + len)
            cap *= 2;
        uint8_t *p = realloc(d->pool, cap);
        if (!p) {
            s_fail(c, "out of memory");
            return false;
        }
        d->pool = p;
        d->pool_cap = cap;
    }
    memcpy(d->pool + d->pool_len, data, len);
    d->pool_len += len;
    return true;
}

static void s_utf8(ctx_t *c, uint32_t cp)
{
    uint8_t b[4];
    size_t n;
    if (cp < 0x80)
        b[0] = (uint8_t) cp, n = 1;
    else if (cp < 0x800)
        b[0] = (uint8_t) (0xc0 | cp >> 6), b[1] = (uint8_t) (0x80 | (cp & 0x3f)), n = 2;
    else if (cp < 0x10000)
        b[0] = (uint8_t) (0xe0 | cp >> 12), b[1] = (uint8_t) (0x80 | ((cp >> 6) & 0x3f)),
        b[2] = (uint8_t) (0x80 | (cp & 0x3f)), n = 3;
    else
        b[0] = (uint8_t) (0xf0 | cp >> 18), b[1] = (uint8_t) (0x80 | ((cp >> 12) & 0x3f)),
        b[2] = (uint8_t) (0x80 | ((cp >> 6) & 0x3f)), b[3] = (uint8_t) (0x80 | (cp & 0x3f)),
        n = 4;
    s_pool_put(c, b, n);
}

static int s_hex4(ctx_t *c)
{
    if (c->at + 4 > c->len)
        return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t h = c->p[c->at + i];
        v <<= 4;
        if (h >= '0' && h <= '9')
            v |= h - '0';
        else if (h >= 'a' && h <= 'f')
            v |= h - 'a' + 10;
        else if (h >= 'A' && h <= 'F')
            v |= h - 'A' + 10;
        else
            return -1;
    }
    c->at += 4;
    return v;
}

/* A string at c->at (on the quote): decoded into the pool. */
static bool s_string(ctx_t *c, uint32_t *off, uint32_t *len)
{
    c->at++; /* quote */
    size_t start = c->doc->pool_len;
    while (!c->failed) {
        size_t run = c->at;
        while (run < c->len && c->p[run] != '"' && c->p[run] != '\\' && c->p[run] >= 0x20)
            run++;
        if (run > c->at && !s_pool_put(c, c->p + c->at, run - c->at))
            return false;
        c->at = run;
        if (c->at >= c->len) {
            s_fail(c, "unterminated string");
            return false;
        }
        uint8_t ch = c->p[c->at];
        if (ch == '"') {
            c->at++;
            break;
        }
        if (ch < 0x20) {
            s_fail(c, "control character in string");
            return false;
        }
        c->at++; /* backslash */
        if (c->at >= c->len) {
            s_fail(c, "unterminated escape");
            return false;
        }
        ch = c->p[c->at++];
        uint8_t out;
        switch (ch) {
        case '"': out = '"'; break;
        case '\\': out = '\\'; break;
        case '/': out = '/'; break;
        case 'b': out = '\b'; break;
        case 'f': out = '\f'; break;
        case 'n': out = '\n'; break;
        case 'r': out = '\r'; break;
        case 't': out = '\t'; break;
        case 'u': {
            int hi = s_hex4(c);
            if (hi < 0) {
                s_fail(c, "bad \\u escape");
                return false;
            }
            uint32_t cp = (uint32_t) hi;
            if (hi >= 0xd800 && hi <= 0xdbff) {
                size_t save = c->at;
                int lo = -1;
                if (c->at + 1 < c->len && c->p[c->at] == '\\' && c->p[c->at + 1] == 'u') {
                    c->at += 2;
                    lo = s_hex4(c);
                }
                if (lo >= 0xdc00 && lo <= 0xdfff)
                    cp = 0x10000 + (((uint32_t) hi - 0xd800) << 10) + ((uint32_t) lo - 0xdc00);
                else {
                    c->at = save;
                    cp = 0xfffd;
                }
            } else if (hi >= 0xdc00 && hi <= 0xdfff)
                cp = 0xfffd;
            s_utf8(c, cp);
            continue;
        }
        default:
            s_fail(c, "bad escape");
            return false;
        }
        s_pool_put(c, &out, 1);
    }
    if (c->failed)
        return false;
    *off = (uint32_t) start;
    *len = (uint32_t) (c->doc->pool_len - start);
    return true;
}

static int32_t s_value(ctx_t *c, int depth);

static int32_t s_container(ctx_t *c, int depth, bool object)
{
    int32_t self = s_node(c, object ? L3_JSON_OBJECT : L3_JSON_ARRAY);
    if (self < 0)
        return -1;
    c->at++; /* [ or { */
    s_ws(c);
    uint8_t close = object ? '}' : ']';
    if (c->at < c->len && c->p[c->at] == close) {
        c->at++;
        return self;
    }
    int32_t prev = -1;
    for (;;) {
        uint32_t koff = 0, klen = 0;
        if (object) {
            s_ws(c);
            if (c->at >= c->len || c->p[c->at] != '"') {
                s_fail(c, "expected a key");
                return -1;
            }
            if (!s_string(c, &koff, &klen))
                return -1;
            s_ws(c);
            if (c->at >= c->len || c->p[c->at] != ':') {
                s_fail(c, "expected ':'");
                return -1;
            }
            c->at++;
        }
        int32_t child = s_value(c, depth + 1);
        if (child < 0)
            return -1;
        l3_json_node_t *cn = &c->doc->nodes[child];
        cn->key_off = koff;
        cn->key_len = klen;
        if (prev < 0)
            c->doc->nodes[self].first = child;
        else
            c->doc->nodes[prev].next = child;
        prev = child;
        c->doc->nodes[self].count++;
        s_ws(c);
        if (c->at >= c->len) {
            s_fail(c, "unterminated container");
            return -1;
        }
        if (c->p[c->at] == ',') {
            c->at++;
            continue;
        }
        if (c->p[c->at] == close) {
            c->at++;
            return self;
        }
        s_fail(c, "expected ',' or end of container");
        return -1;
    }
}

static int32_t s_value(ctx_t *c, int depth)
{
    if (depth > L3_JSON_DEPTH_MAX) {
        s_fail(c, "nested too deeply");
        return -1;
    }
    s_ws(c);
    if (c->at >= c->len) {
        s_fail(c, "expected a value");
        return -1;
    }
    uint8_t ch = c->p[c->at];
    if (ch == '{' || ch == '[')
        return s_container(c, depth, ch == '{');
    if (ch == '"') {
        int32_t n = s_node(c, L3_JSON_STRING);
        if (n < 0)
            return -1;
        uint32_t off, len;
        if (!s_string(c, &off, &len))
            return -1;
        c->doc->nodes[n].str_off = off;
        c->doc->nodes[n].str_len = len;
        return n;
    }
    static const struct {
        const char *word;
        l3_json_type_t type;
        bool value;
    } words[] = {{"true", L3_JSON_BOOL, true}, {"false", L3_JSON_BOOL, false},
                 {"null", L3_JSON_NULL, false}};
    for (size_t i = 0; i < 3; i++) {
        size_t wl = strlen(words[i].word);
        if (c->len - c->at >= wl && memcmp(c->p + c->at, words[i].word, wl) == 0) {
            int32_t n = s_node(c, words[i].type);
            if (n < 0)
                return -1;
            c->doc->nodes[n].boolean = words[i].value;
            c->at += wl;
            return n;
        }
    }
    if (ch == '-' || (ch >= '0' && ch <= '9')) {
        //  Validate the JSON number grammar, then strtod a bounded copy.
        size_t s = c->at, i = c->at;
        if (c->p[i] == '-')
            i++;
        size_t digits = i;
        while (i < c->len && c->p[i] >= '0' && c->p[i] <= '9')
            i++;
        if (i == digits) {
            s_fail(c, "bad number");
            return -1;
        }
        if (i < c->len && c->p[i] == '.') {
            i++;
            size_t f = i;
            while (i < c->len && c->p[i] >= '0' && c->p[i] <= '9')
                i++;
            if (i == f) {
                s_fail(c, "bad number");
                return -1;
            }
        }
        if (i < c->len && (c->p[i] == 'e' || c->p[i] == 'E')) {
            i++;
            if (i < c->len && (c->p[i] == '+' || c->p[i] == '-'))
                i++;
            size_t e = i;
            while (i < c->len && c->p[i] >= '0' && c->p[i] <= '9')
                i++;
            if (i == e) {
                s_fail(c, "bad number");
                return -1;
            }
        }
        char buf[64];
        if (i - s >= sizeof(buf)) {
            s_fail(c, "number too long");
            return -1;
        }
        memcpy(buf, c->p + s, i - s);
        buf[i - s] = 0;
        int32_t n = s_node(c, L3_JSON_NUMBER);
        if (n < 0)
            return -1;
        double v = strtod(buf, NULL);
        c->doc->nodes[n].number = isfinite(v) ? v : 0;
        c->at = i;
        return n;
    }
    s_fail(c, "unexpected character");
    return -1;
}

l3_json_t *l3_json_parse(const void *text, size_t len, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    if (len > L3_JSON_TEXT_MAX) {
        if (err && errlen)
            snprintf(err, errlen, "JSON text over %u bytes", L3_JSON_TEXT_MAX);
        return NULL;
    }
    l3_json_t *doc = calloc(1, sizeof(*doc));
    if (!doc)
        return NULL;
    ctx_t c = {text, len, 0, doc, err, errlen, false};
    int32_t root = s_value(&c, 0);
    s_ws(&c);
    if (root == 0 && !c.failed && c.at != len)
        s_fail(&c, "trailing bytes");
    if (root != 0 || c.failed) {
        if (!c.failed)
            s_fail(&c, "no value");
        l3_json_destroy(&doc);
        return NULL;
    }
    return doc;
}

void l3_json_destroy(l3_json_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->nodes);
    free((*self_p)->pool);
    free(*self_p);
    *self_p = NULL;
}

const l3_json_node_t *l3_json_root(l3_json_t *self)
{
    return &self->nodes[0];
}

const l3_json_node_t *l3_json_node(l3_json_t *self, int32_t index)
{
    return index >= 0 && (uint32_t) index < self->count ? &self->nodes[index] : NULL;
}

const l3_json_node_t *l3_json_member(l3_json_t *self, const l3_json_node_t *obj, const char *key)
{
    if (!obj || obj->type != L3_JSON_OBJECT)
        return NULL;
    size_t klen = strlen(key);
    for (const l3_json_node_t *n = l3_json_node(self, obj->first); n;
         n = l3_json_node(self, n->next))
        if (n->key_len == klen && memcmp(self->pool + n->key_off, key, klen) == 0)
            return n;
    return NULL;
}

const l3_json_node_t *l3_json_item(l3_json_t *self, const l3_json_node_t *arr, uint32_t i)
{
    if (!arr || arr->type != L3_JSON_ARRAY || i >= arr->count)
        return NULL;
    const l3_json_node_t *n = l3_json_node(self, arr->first);
    while (n && i--)
        n = l3_json_node(self, n->next);
    return n;
}

const uint8_t *l3_json_str(l3_json_t *self, const l3_json_node_t *node, size_t *len)
{
    if (!node || node->type != L3_JSON_STRING) {
        *len = 0;
        return NULL;
    }
    *len = node->str_len;
    return self->pool ? self->pool + node->str_off : (const uint8_t *) "";
}
