/*  req — journal request validation. See req.h. */
#include "req.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int s_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool req_pct_decode(const char *in, size_t len, bool plus, char *out, size_t size)
{
    size_t o = 0;
    if (size == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)in[i];
        if (c == '%') {
            if (i + 2 >= len)
                return false;
            int hi = s_hex(in[i + 1]), lo = s_hex(in[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        if (c == 0 || o + 1 >= size)
            return false;
        out[o++] = (char)c;
    }
    out[o] = 0;
    return true;
}

/* Text: valid UTF-8 without C0 controls or DEL. */
static bool s_text_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char b = *p;
        size_t n;
        uint32_t v;
        if (b < 0x20 || b == 0x7f)
            return false;
        if (b < 0x80) {
            p++;
            continue;
        } else if (b >= 0xc2 && b <= 0xdf) {
            n = 2, v = b & 0x1f;
        } else if (b >= 0xe0 && b <= 0xef) {
            n = 3, v = b & 0x0f;
        } else if (b >= 0xf0 && b <= 0xf4) {
            n = 4, v = b & 0x07;
        } else {
            return false;
        }
        for (size_t i = 1; i < n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            v = (v << 6) | (p[i] & 0x3f);
        }
        if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10ffff)) ||
            (v >= 0xd800 && v <= 0xdfff) || (v >= 0x80 && v <= 0x9f))
            return false;
        p += n;
    }
    return true;
}

static int s_fail(char *err, size_t errlen, int status, const char *why)
{
    snprintf(err, errlen, "%s", why);
    return status;
}

int req_set(req_t *req, const char *method, const char *path, const char *query,
               const char *user, const char *lang, char *err, size_t errlen)
{
    memset(req, 0, sizeof *req);
    method = method ? method : "";
    path = path && *path ? path : "/";
    query = query ? query : "";
    user = user ? user : "";
    lang = lang ? lang : "";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return s_fail(err, errlen, 405, "method not allowed");
    strcpy(req->method, method);

    size_t plen = strlen(path);
    if (plen > REQ_PATH_MAX)
        return s_fail(err, errlen, 414, "path too long");
    if (path[0] != '/')
        return s_fail(err, errlen, 400, "path must start with /");
    for (size_t i = 0; i < plen; i++) {
        char c = path[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '~' || c == '-' || c == '/';
        if (!ok)
            return s_fail(err, errlen, 400, "bad character in path");
    }
    if (strstr(path, "..") || strstr(path, "//"))
        return s_fail(err, errlen, 400, "path traversal");
    memcpy(req->path, path, plen + 1);

    size_t qlen = strlen(query);
    if (qlen > REQ_QUERY_MAX)
        return s_fail(err, errlen, 414, "query string too long");
    /* Every key and value must decode to text. */
    const char *p = query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        char part[REQ_QUERY_MAX + 1];
        const char *eq = memchr(p, '=', n);
        size_t klen = eq ? (size_t)(eq - p) : n;
        if (!req_pct_decode(p, klen, true, part, sizeof part) || !s_text_ok(part))
            return s_fail(err, errlen, 400, "bad encoding in query");
        if (eq && (!req_pct_decode(eq + 1, n - klen - 1, true, part, sizeof part) ||
                   !s_text_ok(part) || strlen(part) > REQ_VALUE_MAX))
            return s_fail(err, errlen, 400, "bad encoding in query");
        p += n;
        if (*p == '&')
            p++;
    }
    memcpy(req->query, query, qlen + 1);

    if (strlen(user) > REQ_USER_MAX || !s_text_ok(user))
        return s_fail(err, errlen, 400, "bad remote user");
    strcpy(req->user, user);
    /* Accept-Language only steers the language: a cut or odd header is not an error. */
    size_t i = 0;
    for (; lang[i] && i < REQ_LANG_MAX; i++)
        req->lang[i] = (lang[i] >= 0x20 && lang[i] < 0x7f) ? lang[i] : ' ';
    req->lang[i] = 0;
    return 0;
}

bool req_param(const char *query, const char *key, char *out, size_t size)
{
    size_t klen = strlen(key);
    const char *p = query;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > klen && p[klen] == '=' && memcmp(p, key, klen) == 0)
            return req_pct_decode(p + klen + 1, n - klen - 1, true, out, size);
        if (n == klen && memcmp(p, key, klen) == 0) {
            if (size)
                out[0] = 0;
            return true;
        }
        p = amp ? amp + 1 : NULL;
    }
    return false;
}

void req_pct_encode(const char *s, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    if (size == 0)
        return;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '_' || c == '.' || c == '~';
        if (plain) {
            if (o + 1 >= size)
                break;
            out[o++] = (char)c;
        } else {
            if (o + 3 >= size)
                break;
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = 0;
}
