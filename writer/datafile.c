/*  datafile — the writer's XML datafile: exclusive lock, torn-tail recovery, group append.
    See datafile.h and docs/datafile.md. */
#include "datafile.h"
#include "l3_log.h"
#include "l3_record.h"
#include "l3_sha256.h"
#include "l3_xmlrec.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define S_HEADER_LEN (sizeof(L3_XML_HEADER) - 1)
#define S_FOOTER_LEN (sizeof(L3_XML_FOOTER) - 1)
/* Release scanned pages every this many bytes, so RSS stays flat on a 10 GB file. */
#define S_RELEASE_STEP (8u << 20)

struct _datafile_t {
    char *path;
    int fd;
    uint64_t committed;
    uint64_t records;
    uint64_t commands;
    l3_xml_head_t head;
};

/* Parse a decimal uint64 attribute value; false when empty, not all digits or overflow. */
static bool s_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* True when the line holds no byte XML 1.0 cannot carry raw (C0 controls other than TAB;
   the encoder writes CR and LF as references). This touches every byte of the datafile at
   start-up, so it goes a word at a time: (w - 0x20..20) & ~w & 0x80..80 is nonzero exactly
   when some byte of w is below 0x20, and only those words are looked at bytewise (for the
   TAB exception). */
static bool s_bytes_clean(const uint8_t *p, size_t len)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (((w - ones * 0x20) & ~w & highs) == 0)
            continue;
        for (size_t k = i; k < i + 8; k++)
            if (p[k] < 0x20 && p[k] != '\t')
                return false;
    }
    for (; i < len; i++)
        if (p[i] < 0x20 && p[i] != '\t')
            return false;
    return true;
}

static void s_why(char *why, size_t whylen, const char *text)
{
    if (why && whylen)
        snprintf(why, whylen, "%s", text);
}

bool datafile_line_check(const char *line, size_t len, datafile_line_t *out, char *why,
                         size_t whylen)
{
    static const struct {
        const char *open;
        const char *close;
    } kinds[] = {
        {"<session ", "</session>"},
        {"<command ", "</command>"},
        {"<end ", "</end>"},
    };
    int kind = -1;
    for (int k = 0; k < 3; k++) {
        size_t olen = strlen(kinds[k].open);
        if (len > olen && memcmp(line, kinds[k].open, olen) == 0) {
            kind = k;
            break;
        }
    }
    if (kind < 0) {
        s_why(why, whylen, "not a session, command or end element");
        return false;
    }
    size_t clen = strlen(kinds[kind].close);
    bool closed = (len >= 2 && line[len - 2] == '/' && line[len - 1] == '>') ||
                  (len >= clen && memcmp(line + len - clen, kinds[kind].close, clen) == 0);
    if (!closed) {
        s_why(why, whylen, "element not closed at the end of the line");
        return false;
    }
    if (!s_bytes_clean((const uint8_t *)line, len)) {
        s_why(why, whylen, "raw control or NUL byte in the line");
        return false;
    }
    /* Attributes live in the start tag, which ends at the first '>' (attribute values
       have '>' escaped); looking only there keeps this O(tag) on megabyte lines. */
    const char *gt = memchr(line, '>', len);
    size_t taglen = gt ? (size_t)(gt - line) + 1 : len;
    char value[96];
    datafile_line_t tmp;
    if (!out)
        out = &tmp;
    if (l3_xmlrec_attr(line, taglen, "agent", out->agent, sizeof out->agent) <= 0 ||
        !l3_id_valid(out->agent)) {
        s_why(why, whylen, "missing or invalid agent attribute");
        return false;
    }
    if (l3_xmlrec_attr(line, taglen, "epoch", value, sizeof value) <= 0 ||
        !s_parse_u64(value, &out->epoch) || out->epoch == 0) {
        s_why(why, whylen, "missing or invalid epoch attribute");
        return false;
    }
    if (l3_xmlrec_attr(line, taglen, "seq", value, sizeof value) <= 0 ||
        !s_parse_u64(value, &out->seq) || out->seq == 0) {
        s_why(why, whylen, "missing or invalid seq attribute");
        return false;
    }
    return true;
}

void datafile_scan_image(const uint8_t *data, size_t len, uint64_t verify_from,
                         datafile_line_fn *on_line, void *arg, datafile_scan_t *result)
{
    datafile_scan_image_from(data, len, 0, verify_from, on_line, arg, result);
}

void datafile_scan_image_from(const uint8_t *data, size_t len, uint64_t start,
                              uint64_t verify_from, datafile_line_fn *on_line, void *arg,
                              datafile_scan_t *result)
{
    memset(result, 0, sizeof *result);
    /* A crash while creating the file leaves a prefix of the header: start afresh.
       Anything else is someone else's file and we must not touch it. */
    int h = l3_xml_header_parse(data, len, &result->head);
    if (h == 0) {
        result->fresh = true;
        return;
    }
    if (h < 0) {
        result->foreign = true;
        snprintf(result->reason, sizeof result->reason, "does not start with the lilalo header");
        return;
    }
    size_t hlen = result->head.len;
    size_t pos = start > hlen && start <= len ? (size_t)start : hlen;
    result->good_end = pos;
    while (pos < len) {
        const uint8_t *nl = memchr(data + pos, '\n', len - pos);
        if (!nl) {
            result->bad_offset = pos;
            snprintf(result->reason, sizeof result->reason,
                     "incomplete line at the end (%zu bytes, no newline)", len - pos);
            return;
        }
        size_t llen = (size_t)(nl - (data + pos));
        const char *line = (const char *)data + pos;
        if (llen == S_FOOTER_LEN - 1 && memcmp(line, L3_XML_FOOTER, llen) == 0) {
            if (pos + llen + 1 == len) {
                result->clean = true;
            } else {
                result->bad_offset = pos + llen + 1;
                snprintf(result->reason, sizeof result->reason,
                         "%zu bytes after the closing tag", len - (pos + llen + 1));
            }
            return;
        }
        datafile_line_t rec;
        char why[96];
        if (llen > DATAFILE_LINE_MAX) {
            result->bad_offset = pos;
            snprintf(result->reason, sizeof result->reason, "line of %zu bytes is too long",
                     llen);
            return;
        }
        if (!datafile_line_check(line, llen, &rec, why, sizeof why)) {
            result->bad_offset = pos;
            snprintf(result->reason, sizeof result->reason, "bad line at offset %zu: %s", pos,
                     why);
            return;
        }
        if (pos >= verify_from) {
            l3_record_t parsed;
            l3_record_init(&parsed);
            bool ok = l3_xmlrec_parse(line, llen, &parsed, why, sizeof why);
            if (ok && (parsed.seq != rec.seq || parsed.epoch != rec.epoch ||
                       strcmp(parsed.agent, rec.agent) != 0)) {
                ok = false;
                snprintf(why, sizeof why, "attributes disagree with the parse");
            }
            l3_record_clear(&parsed);
            if (!ok) {
                result->bad_offset = pos;
                snprintf(result->reason, sizeof result->reason,
                         "record at offset %zu does not parse: %s", pos, why);
                return;
            }
        }
        rec.line = line;
        rec.len = llen;
        rec.offset = pos;
        if (on_line)
            on_line(&rec, arg);
        result->records++;
        if (llen > 9 && memcmp(line, "<command ", 9) == 0)
            result->commands++;
        pos += llen + 1;
        result->good_end = pos;
    }
    /* Ran out of data right after a record: the footer is missing. */
    result->bad_offset = pos;
    snprintf(result->reason, sizeof result->reason, "closing tag missing");
}

/* Write all of buf at offset; 0 or errno. */
static int s_pwrite_all(int fd, const void *buf, size_t len, off_t offset)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, offset);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (n == 0)
            return EIO;
        p += n;
        len -= (size_t)n;
        offset += n;
    }
    return 0;
}

/* Make the directory entry of a new file durable too. */
void datafile_sync_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(copy);
}

/* Cut the file to `end` and put the footer there; 0 or errno. The footer is written
   into blocks the file already owns, so this works on a full disk. */
static int s_restore_footer(int fd, uint64_t end)
{
    int rc = s_pwrite_all(fd, L3_XML_FOOTER, S_FOOTER_LEN, (off_t)end);
    if (rc == 0 && ftruncate(fd, (off_t)(end + S_FOOTER_LEN)) != 0)
        rc = errno;
    if (rc == 0 && fdatasync(fd) != 0)
        rc = errno;
    return rc;
}

/* Keep a copy of a dropped tail beside the datafile: a torn write is never worth keeping,
   but if the damage was in the middle of the file (bit rot, a foreign writer) the records
   after it are still in this copy. */
static void s_save_tail(const char *path, int fd, uint64_t from, uint64_t to)
{
    char name[4200];
    snprintf(name, sizeof name, "%s.torn-%" PRIu64 "-%ld", path, from, (long)time(NULL));
    int out = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        l3_warn("cannot save the dropped tail of %s to %s: %s", path, name, strerror(errno));
        return;
    }
    uint8_t buf[65536];
    uint64_t pos = from;
    int rc = 0;
    while (pos < to && rc == 0) {
        size_t want = to - pos < sizeof buf ? (size_t)(to - pos) : sizeof buf;
        ssize_t n = pread(fd, buf, want, (off_t)pos);
        if (n <= 0) {
            rc = n < 0 ? errno : EIO;
            break;
        }
        rc = s_pwrite_all(out, buf, (size_t)n, (off_t)(pos - from));
        pos += (uint64_t)n;
    }
    if (rc == 0 && fsync(out) != 0)
        rc = errno;
    close(out);
    if (rc)
        l3_warn("saving the dropped tail of %s to %s failed: %s", path, name, strerror(rc));
    else
        l3_warn("the dropped %" PRIu64 " bytes are saved in %s", to - from, name);
}

typedef struct {
    datafile_line_fn *user_fn;
    void *user_arg;
    const uint8_t *base;
    uint64_t released; /* bytes at the start of the mapping already given back */
} s_scan_ctx_t;

/* Forward a line to the caller and give scanned pages back to the kernel as we go. */
static void s_scan_line(const datafile_line_t *line, void *arg)
{
    s_scan_ctx_t *ctx = arg;
    if (ctx->user_fn)
        ctx->user_fn(line, ctx->user_arg);
    if (line->offset - ctx->released >= S_RELEASE_STEP) {
        uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        uint64_t upto = line->offset / page * page;
        madvise((void *)(ctx->base + ctx->released), upto - ctx->released, MADV_DONTNEED);
        ctx->released = upto;
    }
}

/* The lock is two locks on two bytes (locks may lie beyond the end of the file):
   - byte 0, an open-file-description lock: the guarantee. It belongs to our one file
     description, so no stray close() of another descriptor of the file (a library, a
     reader in the same process) can drop it, unlike a classic POSIX lock;
   - byte 1, a classic POSIX lock: only so that F_GETLK can name the holder's pid, which
     OFD locks do not report. */
#define S_LOCK_GUARD 0
#define S_LOCK_PID 1

/* Pid of the POSIX lock on the pid byte, -1 when none or unknown. */
static pid_t s_holder_pid(int fd)
{
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = S_LOCK_PID, .l_len = 1};
    if (fcntl(fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK && q.l_pid > 0)
        return q.l_pid;
    return -1;
}

pid_t datafile_lock_holder(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = S_LOCK_GUARD, .l_len = 1};
    pid_t pid = -1;
    if (fcntl(fd, F_OFD_GETLK, &q) == 0)
        pid = q.l_type == F_UNLCK ? 0 : s_holder_pid(fd);
    close(fd);
    return pid;
}

/* The bytes a resume offset is checked against: [offset - DATAFILE_TAIL_CHECK, offset). */
static void s_tail_sha256(const uint8_t *data, uint64_t offset, uint8_t out[L3_SHA256_LEN])
{
    uint64_t from = offset > DATAFILE_TAIL_CHECK ? offset - DATAFILE_TAIL_CHECK : 0;
    l3_sha256(data + from, (size_t)(offset - from), out);
}

/* May the scan of this image begin at resume->offset? Says why not in resume->why. */
static bool s_resume_ok(const uint8_t *data, uint64_t size, datafile_resume_t *resume)
{
    uint8_t tail[L3_SHA256_LEN];
    l3_xml_head_t head;
    if (l3_xml_header_parse(data, size, &head) != 1) {
        snprintf(resume->why, sizeof resume->why, "the datafile has no lilalo header");
        return false;
    }
    if (head.part != resume->part) {
        snprintf(resume->why, sizeof resume->why,
                 "it is of part %" PRIu32 ", the datafile is part %" PRIu32, resume->part,
                 head.part);
        return false;
    }
    if (resume->offset < head.len || resume->offset > size) {
        snprintf(resume->why, sizeof resume->why,
                 "its offset %" PRIu64 " is outside the datafile (%" PRIu64 " bytes)",
                 resume->offset, size);
        return false;
    }
    //  A line boundary: the offset ends a record line (or is the header's end).
    if (data[resume->offset - 1] != '\n') {
        snprintf(resume->why, sizeof resume->why,
                 "its offset %" PRIu64 " does not end a line", resume->offset);
        return false;
    }
    s_tail_sha256(data, resume->offset, tail);
    if (memcmp(tail, resume->tail_sha256, sizeof tail) != 0) {
        snprintf(resume->why, sizeof resume->why,
                 "the datafile's bytes before offset %" PRIu64 " are not those it saw",
                 resume->offset);
        return false;
    }
    return true;
}

/* Take the writer's locks on fd (see datafile.h); false with a reason in err. */
static bool s_lock(int fd, const char *path, char *err, size_t errlen, pid_t *holder)
{
    struct flock guard = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = S_LOCK_GUARD,
                          .l_len = 1};
    if (fcntl(fd, F_OFD_SETLK, &guard) != 0) {
        if (errno == EACCES || errno == EAGAIN) {
            pid_t pid = s_holder_pid(fd);
            if (holder)
                *holder = pid;
            if (pid > 0)
                snprintf(err, errlen,
                         "datafile %s is locked by another writer (pid %ld); exactly one "
                         "l3-writer may own a datafile",
                         path, (long)pid);
            else
                snprintf(err, errlen,
                         "datafile %s is locked by another writer (pid unknown); exactly one "
                         "l3-writer may own a datafile",
                         path);
        } else
            snprintf(err, errlen, "cannot lock datafile %s: %s", path, strerror(errno));
        return false;
    }
    struct flock pidlock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = S_LOCK_PID,
                            .l_len = 1};
    if (fcntl(fd, F_SETLK, &pidlock) != 0)
        l3_debug("datafile %s: no pid lock (%s); the guard lock holds", path, strerror(errno));
    return true;
}

datafile_t *datafile_new(const char *path, uint64_t verify_tail, datafile_resume_t *resume,
                         datafile_line_fn *on_line, void *arg, char *err, size_t errlen,
                         pid_t *holder)
{
    datafile_t *self = NULL;
    int fd = -1;
    void *map = MAP_FAILED;
    size_t maplen = 0;
    if (holder)
        *holder = 0;

    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open datafile %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!s_lock(fd, path, err, errlen, holder))
        goto cleanup;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat datafile %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "datafile %s is not a regular file", path);
        goto cleanup;
    }
    datafile_scan_t scan;
    memset(&scan, 0, sizeof scan);
    uint64_t size = (uint64_t)st.st_size;
    if (size == 0)
        scan.fresh = true;
    else {
        if (size > SIZE_MAX / 2) {
            snprintf(err, errlen, "datafile %s is too large to map", path);
            goto cleanup;
        }
        maplen = (size_t)size;
        map = mmap(NULL, maplen, PROT_READ, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED) {
            snprintf(err, errlen, "cannot map datafile %s: %s", path, strerror(errno));
            goto cleanup;
        }
        madvise(map, maplen, MADV_SEQUENTIAL);
        s_scan_ctx_t ctx = {.user_fn = on_line, .user_arg = arg, .base = map};
        uint64_t verify_from = size > verify_tail ? size - verify_tail : 0;
        uint64_t start = 0;
        if (resume && s_resume_ok(map, size, resume)) {
            //  Only what came after the checkpoint: restart time no longer grows with
            //  the file.
            start = resume->offset;
            resume->used = true;
            ctx.released = start / (uint64_t)sysconf(_SC_PAGESIZE) *
                           (uint64_t)sysconf(_SC_PAGESIZE);
        }
        datafile_scan_image_from(map, maplen, start, verify_from, s_scan_line, &ctx, &scan);
        if (resume && resume->used) {
            scan.records += resume->records;
            scan.commands += resume->commands;
        }
        munmap(map, maplen);
        map = MAP_FAILED;
    }
    if (scan.foreign) {
        snprintf(err, errlen, "%s is not a lilalo datafile (%s); refusing to touch it", path,
                 scan.reason);
        goto cleanup;
    }
    if (resume && !resume->used && !resume->why[0])
        snprintf(resume->why, sizeof resume->why, "the datafile is empty");
    if (scan.fresh) {
        int rc = 0;
        if (ftruncate(fd, 0) != 0)
            rc = errno;
        if (rc == 0)
            rc = s_pwrite_all(fd, L3_XML_HEADER L3_XML_FOOTER, S_HEADER_LEN + S_FOOTER_LEN, 0);
        if (rc == 0 && fdatasync(fd) != 0)
            rc = errno;
        if (rc) {
            snprintf(err, errlen, "cannot initialise datafile %s: %s", path, strerror(rc));
            goto cleanup;
        }
        datafile_sync_dir(path);
        scan.good_end = S_HEADER_LEN;
        memset(&scan.head, 0, sizeof scan.head);
        scan.head.len = S_HEADER_LEN;
        l3_info("created datafile %s", path);
    } else if (!scan.clean) {
        l3_warn("datafile %s: %s; recovering: cutting %" PRIu64 " bytes back to the last "
                "complete record (offset %" PRIu64 ", %" PRIu64 " records)",
                path, scan.reason, size - scan.good_end, scan.good_end, scan.records);
        /* Only save tails that hold more than a torn footer. */
        if (size - scan.good_end > S_FOOTER_LEN)
            s_save_tail(path, fd, scan.good_end, size);
        int rc = s_restore_footer(fd, scan.good_end);
        if (rc) {
            snprintf(err, errlen, "cannot repair datafile %s: %s", path, strerror(rc));
            goto cleanup;
        }
    }
    self = calloc(1, sizeof *self);
    if (!self || !(self->path = strdup(path))) {
        free(self);
        self = NULL;
        snprintf(err, errlen, "out of memory");
        goto cleanup;
    }
    self->fd = fd;
    fd = -1;
    self->committed = scan.good_end;
    self->records = scan.records;
    self->commands = scan.commands;
    self->head = scan.head;
cleanup:
    if (map != MAP_FAILED)
        munmap(map, maplen);
    if (fd >= 0)
        close(fd);
    return self;
}

void datafile_destroy(datafile_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    datafile_t *self = *self_p;
    if (self->fd >= 0)
        close(self->fd); /* drops the lock */
    free(self->path);
    free(self);
    *self_p = NULL;
}

int datafile_append(datafile_t *self, const void *lines, size_t len, uint64_t count,
                    uint64_t commands)
{
    if (len == 0)
        return 0;
    /* Lines and footer in one pwritev: one syscall per batch. */
    struct iovec iov[2] = {
        {.iov_base = (void *)lines, .iov_len = len},
        {.iov_base = (void *)L3_XML_FOOTER, .iov_len = S_FOOTER_LEN},
    };
    int cnt = 2;
    struct iovec *v = iov;
    off_t offset = (off_t)self->committed;
    int rc = 0;
    while (cnt > 0) {
        ssize_t n = pwritev(self->fd, v, cnt, offset);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = errno;
            break;
        }
        if (n == 0) {
            rc = EIO;
            break;
        }
        offset += n;
        size_t done = (size_t)n;
        while (cnt > 0 && done >= v->iov_len) {
            done -= v->iov_len;
            v++;
            cnt--;
        }
        if (cnt > 0) {
            v->iov_base = (uint8_t *)v->iov_base + done;
            v->iov_len -= done;
        }
    }
    if (rc == 0 && fdatasync(self->fd) != 0)
        rc = errno;
    if (rc) {
        /* Nothing of this batch counts: cut it off so the file ends at the committed
           offset with its footer, as it did before. */
        int rc2 = s_restore_footer(self->fd, self->committed);
        if (rc2)
            l3_debug("restoring the footer of %s failed too: %s", self->path, strerror(rc2));
        return rc;
    }
    self->committed += len;
    self->records += count;
    self->commands += commands;
    return 0;
}

bool datafile_tail_sha256(datafile_t *self, uint8_t out[L3_SHA256_LEN])
{
    uint8_t buf[DATAFILE_TAIL_CHECK];
    uint64_t from = self->committed > DATAFILE_TAIL_CHECK ? self->committed - DATAFILE_TAIL_CHECK : 0;
    size_t want = (size_t)(self->committed - from), got = 0;
    while (got < want) {
        ssize_t n = pread(self->fd, buf + got, want - got, (off_t)(from + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    l3_sha256(buf, want, out);
    return true;
}

uint64_t datafile_committed(datafile_t *self)
{
    return self->committed;
}

uint64_t datafile_records(datafile_t *self)
{
    return self->records;
}

const char *datafile_path(datafile_t *self)
{
    return self->path;
}

const l3_xml_head_t *datafile_head(datafile_t *self)
{
    return &self->head;
}

uint64_t datafile_commands(datafile_t *self)
{
    return self->commands;
}

datafile_t *datafile_create(const char *path, l3_xml_head_t *head, char *err, size_t errlen)
{
    l3_buf_t text;
    l3_buf_init(&text, L3_XML_HEADER_MAX + S_FOOTER_LEN);
    l3_xml_header_write(head, &text);
    l3_buf_append_str(&text, L3_XML_FOOTER);
    datafile_t *self = NULL;
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!s_lock(fd, path, err, errlen, NULL))
        goto cleanup;
    int rc = text.failed ? ENOMEM : s_pwrite_all(fd, text.data, text.len, 0);
    if (rc == 0 && fdatasync(fd) != 0)
        rc = errno;
    if (rc) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(rc));
        goto cleanup;
    }
    self = calloc(1, sizeof *self);
    if (!self || !(self->path = strdup(path))) {
        free(self);
        self = NULL;
        snprintf(err, errlen, "out of memory");
        goto cleanup;
    }
    self->fd = fd;
    fd = -1;
    self->head = *head;
    self->committed = head->len;
cleanup:
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    l3_buf_free(&text);
    return self;
}

int datafile_rename(datafile_t *self, const char *to)
{
    char *copy = strdup(to);
    if (!copy)
        return ENOMEM;
    if (rename(self->path, to) != 0) {
        int rc = errno;
        free(copy);
        return rc;
    }
    datafile_sync_dir(to);
    free(self->path);
    self->path = copy;
    return 0;
}
