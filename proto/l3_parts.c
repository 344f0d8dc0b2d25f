/*  l3_parts — the names of a rotated datafile's parts. See l3_parts.h. */
#include "l3_parts.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define S_STAMP_LEN 16 /* YYYYmmddTHHMMSSZ */

/* The directory of live and its name without ".xml": parts are <dir>/<stem>.<N>-<T>.xml */
bool l3_parts_split(const char *live, char *dir, size_t dirlen, char *stem, size_t stemlen)
{
    const char *slash = strrchr(live, '/');
    const char *base = slash ? slash + 1 : live;
    int n = !slash          ? snprintf(dir, dirlen, ".")
            : slash == live ? snprintf(dir, dirlen, "/")
                            : snprintf(dir, dirlen, "%.*s", (int)(slash - live), live);
    if (n < 0 || (size_t)n >= dirlen)
        return false;
    size_t blen = strlen(base);
    if (blen > 4 && strcmp(base + blen - 4, ".xml") == 0)
        blen -= 4;
    if (blen == 0 || blen >= stemlen)
        return false;
    memcpy(stem, base, blen);
    stem[blen] = 0;
    return true;
}

char *l3_part_path(const char *live, uint32_t part, int64_t closed_us)
{
    char dir[4096], stem[1024], stamp[32];
    if (!l3_parts_split(live, dir, sizeof dir, stem, sizeof stem))
        return NULL;
    time_t t = (time_t)(closed_us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    size_t n = strlen(dir) + strlen(stem) + 64;
    char *path = malloc(n);
    if (path)
        snprintf(path, n, "%s/%s.%06" PRIu32 "-%s.xml", dir, stem, part, stamp);
    return path;
}

/* "<stem>.<digits>-<stamp>.xml[.gz]" -> part, time, gz. */
static bool s_part_name(const char *name, const char *stem, l3_part_t *out)
{
    size_t sl = strlen(stem);
    if (strncmp(name, stem, sl) != 0 || name[sl] != '.')
        return false;
    const char *p = name + sl + 1;
    uint64_t part = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 10) {
        part = part * 10 + (uint64_t)(*p++ - '0');
        digits++;
    }
    if (digits < 6 || part > UINT32_MAX || *p++ != '-')
        return false;
    struct tm tm = {0};
    char tail[16];
    if (strlen(p) < S_STAMP_LEN ||
        sscanf(p, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6 || p[8] != 'T' || p[S_STAMP_LEN - 1] != 'Z')
        return false;
    snprintf(tail, sizeof tail, "%s", p + S_STAMP_LEN);
    if (strcmp(tail, ".xml") == 0)
        out->gz = false;
    else if (strcmp(tail, ".xml.gz") == 0)
        out->gz = true;
    else
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    out->part = (uint32_t)part;
    out->closed_us = (int64_t)timegm(&tm) * 1000000;
    return true;
}

static int s_part_cmp(const void *a, const void *b)
{
    const l3_part_t *x = a, *y = b;
    if (x->part != y->part)
        return x->part < y->part ? -1 : 1;
    return (int)y->gz - (int)x->gz; /* the .gz first */
}

bool l3_parts_list(const char *live, bool prefer_gz, l3_part_t **parts, size_t *count)
{
    char dir[4096], stem[1024];
    *parts = NULL;
    *count = 0;
    if (!l3_parts_split(live, dir, sizeof dir, stem, sizeof stem))
        return false;
    DIR *d = opendir(dir);
    if (!d)
        return false;
    l3_part_t *v = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    struct dirent *e;
    while ((e = readdir(d))) {
        l3_part_t p = {0};
        if (!s_part_name(e->d_name, stem, &p))
            continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        p.path = malloc(len);
        if (!p.path) {
            ok = false;
            break;
        }
        snprintf(p.path, len, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p.path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(p.path);
            continue;
        }
        p.bytes = (uint64_t)st.st_size;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            l3_part_t *nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                free(p.path);
                ok = false;
                break;
            }
            v = nv;
        }
        v[n++] = p;
    }
    closedir(d);
    if (!ok) {
        l3_parts_free(v, n);
        return false;
    }
    if (n > 1) //  qsort(NULL, 0) is undefined: no parts is the usual case
        qsort(v, n, sizeof *v, s_part_cmp);
    //  One entry per part: of an archive whose .xml was not yet removed, the one asked for
    //  (sorted .gz first).
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w > 0 && v[w - 1].part == v[i].part) {
            if (prefer_gz) {
                free(v[i].path);
            } else {
                free(v[w - 1].path);
                v[w - 1] = v[i];
            }
            continue;
        }
        v[w++] = v[i];
    }
    *parts = v;
    *count = w;
    return true;
}

void l3_parts_free(l3_part_t *parts, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(parts[i].path);
    free(parts);
}
