/*  rec_spool — buffered writer of a session's spool files; see rec_spool.h. */
#include "rec_spool.h"

#include "l3_fs.h"
#include "l3_log.h"
#include "l3_time.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_TIMING_BUF (32 * 1024)
#define S_PATH_MAX 4096

struct rec_spool_t {
    int script_fd, timing_fd, info_fd;
    uint8_t *script_buf;
    size_t script_len;
    char *timing_buf;
    size_t timing_len;
    int64_t last_us; /* monotonic time of the previous chunk */
    bool failed;
};

static int s_create(const char *dir, const char *sid, const char *ext, char *path, size_t size)
{
    int n = snprintf(path, size, "%s/%s.%s", dir, sid, ext);
    if (n < 0 || (size_t)n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_APPEND, 0600);
}

rec_spool_t *rec_spool_new(const char *dir, const char *sid, const char *info,
                           const char *header)
{
    rec_spool_t *self = calloc(1, sizeof *self);
    char path[3][S_PATH_MAX];
    static const char *exts[3] = { "script", "timing", "info" };
    int *fds[3];
    int created = 0;
    if (!self)
        return NULL;
    self->script_fd = self->timing_fd = self->info_fd = -1;
    fds[0] = &self->script_fd;
    fds[1] = &self->timing_fd;
    fds[2] = &self->info_fd;
    for (created = 0; created < 3; created++) {
        *fds[created] = s_create(dir, sid, exts[created], path[created], S_PATH_MAX);
        if (*fds[created] < 0) {
            l3_error("cannot create %s/%s.%s: %s", dir, sid, exts[created], strerror(errno));
            goto failed;
        }
    }
    self->script_buf = malloc(REC_SPOOL_BUF);
    self->timing_buf = malloc(S_TIMING_BUF);
    if (!self->script_buf || !self->timing_buf) {
        l3_error("out of memory");
        goto failed;
    }
    if (!l3_write_all(self->info_fd, info, strlen(info))) {
        l3_error("cannot write %s: %s", path[2], strerror(errno));
        goto failed;
    }
    self->last_us = l3_time_mono_us();
    /* The header is the first chunk, timed like any other: .timing covers every byte of
       .script, and scriptreplay (which skips the first line) still replays all output. */
    if (!rec_spool_write(self, (const uint8_t *)header, strlen(header), self->last_us) ||
        !rec_spool_flush(self)) {
        l3_error("cannot write %s: %s", path[0], strerror(errno));
        goto failed;
    }
    return self;

failed:
    for (int i = 0; i < created; i++)
        unlink(path[i]);
    rec_spool_destroy(&self);
    return NULL;
}

void rec_spool_destroy(rec_spool_t **self_p)
{
    rec_spool_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    rec_spool_flush(self);
    if (self->script_fd >= 0)
        close(self->script_fd);
    if (self->timing_fd >= 0)
        close(self->timing_fd);
    if (self->info_fd >= 0)
        close(self->info_fd);
    free(self->script_buf);
    free(self->timing_buf);
    free(self);
    *self_p = NULL;
}

bool rec_spool_pending(rec_spool_t *self)
{
    return self->script_len > 0 || self->timing_len > 0;
}

bool rec_spool_flush(rec_spool_t *self)
{
    if (self->failed) {
        self->script_len = self->timing_len = 0;
        return false;
    }
    /* Script first: a reader that sees a timing line finds its bytes already there. */
    if (self->script_len > 0 && !l3_write_all(self->script_fd, self->script_buf, self->script_len))
        goto failed;
    if (self->timing_len > 0 && !l3_write_all(self->timing_fd, self->timing_buf, self->timing_len))
        goto failed;
    self->script_len = self->timing_len = 0;
    return true;
failed:
    l3_error("writing the spool failed (%s); the session is no longer recorded",
             strerror(errno));
    self->failed = true;
    self->script_len = self->timing_len = 0;
    return false;
}

bool rec_spool_write(rec_spool_t *self, const uint8_t *data, size_t len, int64_t now_us)
{
    if (self->failed || len == 0)
        return !self->failed;
    /* Room for the chunk and its timing line, else flush; a chunk larger than the buffer
       (reads are at most a few tens of KiB, so this is rare) goes straight out. */
    if (self->script_len + len > REC_SPOOL_BUF || self->timing_len + 64 > S_TIMING_BUF) {
        if (!rec_spool_flush(self))
            return false;
    }
    int64_t delta = now_us - self->last_us;
    if (delta < 0)
        delta = 0;
    self->last_us = now_us;
    int n = snprintf(self->timing_buf + self->timing_len, S_TIMING_BUF - self->timing_len,
                     "%lld.%06lld %zu\n", (long long)(delta / 1000000),
                     (long long)(delta % 1000000), len);
    if (n < 0 || (size_t)n >= S_TIMING_BUF - self->timing_len)
        return false; /* cannot happen: 64 bytes were free */
    self->timing_len += (size_t)n;
    if (len > REC_SPOOL_BUF) {
        if (!rec_spool_flush(self) || !l3_write_all(self->script_fd, data, len)) {
            self->failed = true;
            return false;
        }
        return true;
    }
    memcpy(self->script_buf + self->script_len, data, len);
    self->script_len += len;
    return true;
}

bool rec_spool_finish(rec_spool_t *self, int64_t end_us, int exit_code, int signal_no)
{
    char buf[256] = "";
    char num[32], when[40];
    rec_spool_flush(self);
    l3_time_format(end_us, when, sizeof when);
    rec_spool_info_add(buf, sizeof buf, "end", when);
    snprintf(num, sizeof num, "%d", signal_no > 0 ? signal_no : exit_code);
    rec_spool_info_add(buf, sizeof buf, signal_no > 0 ? "signal" : "exit", num);
    return l3_write_all(self->info_fd, buf, strlen(buf));
}

bool rec_spool_info_add(char *buf, size_t size, const char *key, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(buf);
    size_t need = strlen(key) + 2;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        need += (*p < 0x21 || *p > 0x7e || *p == '%') ? 3 : 1;
    if (len + need + 1 > size)
        return false;
    char *o = buf + len;
    o += sprintf(o, "%s=", key);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p < 0x21 || *p > 0x7e || *p == '%') {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        } else
            *o++ = (char)*p;
    }
    *o++ = '\n';
    *o = '\0';
    return true;
}
