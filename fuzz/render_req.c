/*  Fuzz target: l3-cgi's request validation (render/req.c): method, PATH_INFO and
    QUERY_STRING separated by NUL bytes in the input. An accepted request never has a
    path with "..", "//" or odd bytes, and every parameter decodes within its cap. */
#include "req.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    const char *parts[5] = {"", "", "", "", ""};
    size_t np = 0, start = 0;
    for (size_t i = 0; i <= size && np < 5; i++) {
        if (i == size || buf[i] == 0) {
            buf[i] = 0;
            parts[np++] = buf + start;
            start = i + 1;
        }
    }
    req_t req;
    char err[128];
    int st = req_set(&req, parts[0], parts[1], parts[2], parts[3], parts[4], err, sizeof err);
    if (st == 0) {
        if (strstr(req.path, "..") || strstr(req.path, "//") || req.path[0] != '/')
            abort();
        for (const char *p = req.path; *p; p++)
            if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
                abort();
        static const char *keys[] = {"q", "host", "user", "page", "session", "from", "x"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            char v[REQ_VALUE_MAX + 1];
            if (req_param(req.query, keys[k], v, sizeof v) && strlen(v) > REQ_VALUE_MAX)
                abort();
        }
    } else if (st != 400 && st != 405 && st != 414) {
        abort();
    }
    char dec[64], enc[200];
    req_pct_decode(parts[2], strlen(parts[2]), true, dec, sizeof dec);
    req_pct_encode(parts[1], enc, sizeof enc);
    free(buf);
    return 0;
}
