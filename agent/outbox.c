/*  outbox — durable, append-only on-disk queue of encoded records. See outbox.h for the
    file format and the recovery policy. */
#include "outbox.h"

#include "l3_fs.h"
#include "l3_log.h"
#include "l3_msg.h"
#include "l3_time.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_SEG_MAGIC "L3OUTBX1"
#define S_META_MAGIC "L3OBMETA"
#define S_META_SIZE 36
#define S_META_VERSION 1
/* meta flag: records that may have been sent were lost; move to a new epoch. Set (durably)
   before the evidence is truncated away, cleared by the new epoch's meta. */
#define S_META_REEPOCH 1u
#define S_WBUF_SIZE (256u << 10)
#define S_RBUF_SIZE (64u << 10)
#define S_ENTRY_MAX ((size_t)OUTBOX_ENTRY_HEADER + L3_MSG_MAX)
#define S_META_INTERVAL_US 1000000
#define S_PATH_MAX 4096

/* One segment file: entries [first, next), `bytes` long (buffered bytes included). */
typedef struct {
    uint64_t first;
    uint64_t next;
    uint64_t bytes;
} s_segment_t;

struct outbox_t {
    char *dir;
    char agent[L3_ID_MAX + 1];
    outbox_opts_t opts;
    int dirfd;
    int lockfd;
    uint64_t epoch;
    uint64_t acked;
    uint64_t last;
    uint64_t synced;
    s_segment_t *segs; /* sorted by first; the last one is the append segment */
    size_t nsegs;
    size_t segcap;
    int fd; /* append segment, or -1 */
    uint8_t *wbuf;
    size_t wlen;
    l3_buf_t enc;
    uint64_t disk_bytes;
    int64_t meta_written_us;
    uint64_t meta_acked;
    bool failed; /* an fdatasync or write failed: nothing can be trusted until reopen */
    bool reepoch_pending;
    bool full_logged;
};

/* A buffered sequential reader over one segment file. */
typedef struct {
    int fd;
    uint8_t *buf;
    size_t cap;
    size_t start; /* first unconsumed byte in buf */
    size_t len;   /* bytes valid in buf */
    uint64_t off; /* file offset of buf[start] */
} s_reader_t;

struct outbox_iter_t {
    outbox_t *box;
    uint64_t pos;       /* seq the next call returns */
    uint64_t seg_first; /* segment open in the reader (0: none) */
    uint64_t cur;       /* seq of the next entry the reader will parse */
    s_reader_t r;
};

typedef enum { S_ENTRY_OK, S_ENTRY_END, S_ENTRY_TORN, S_ENTRY_BAD, S_ENTRY_IOERR } s_entry_t;

/* ---------------------------------------------------------------- little helpers */

static uint32_t s_crc_table[256];
static bool s_crc_ready;

static void s_crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        s_crc_table[i] = c;
    }
    s_crc_ready = true;
}

static uint32_t s_crc_soft(uint32_t crc, const uint8_t *p, size_t len)
{
    if (!s_crc_ready)
        s_crc_init();
    crc = ~crc;
    while (len--)
        crc = s_crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
/* SSE4.2's crc32 instruction computes CRC-32C: every entry is checksummed when written
   and again when read back for sending, and the table version was a third of the
   agent's CPU time in the ingest benchmark. */
__attribute__((target("sse4.2"))) static uint32_t s_crc_hw(uint32_t crc, const uint8_t *p,
                                                           size_t len)
{
    uint64_t c = (uint32_t)~crc;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = _mm_crc32_u8(c32, *p++);
    return ~c32;
}

static int s_crc_have_hw = -1;
#endif

uint32_t outbox_crc32c(uint32_t crc, const void *data, size_t len)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (s_crc_have_hw < 0)
        s_crc_have_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    if (s_crc_have_hw)
        return s_crc_hw(crc, data, len);
#endif
    return s_crc_soft(crc, data, len);
}

uint32_t outbox_crc32c_portable(uint32_t crc, const void *data, size_t len)
{
    return s_crc_soft(crc, data, len);
}

static void s_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void s_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t s_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t s_get64(const uint8_t *p)
{
    return (uint64_t)s_get32(p) | (uint64_t)s_get32(p + 4) << 32;
}

static void s_segment_name(uint64_t epoch, uint64_t first, char *buf, size_t size)
{
    snprintf(buf, size, "%016" PRIx64 "-%020" PRIu64 ".seg", epoch, first);
}

/* Parse "<16 hex>-<20 digits>.seg"; false for any other name. */
static bool s_segment_parse(const char *name, uint64_t *epoch, uint64_t *first)
{
    if (strlen(name) != 16 + 1 + 20 + 4 || name[16] != '-' || strcmp(name + 37, ".seg") != 0)
        return false;
    uint64_t e = 0, f = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        e = e << 4 | (uint64_t)d;
    }
    for (int i = 17; i < 37; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (f > (UINT64_MAX - d) / 10)
            return false;
        f = f * 10 + d;
    }
    *epoch = e;
    *first = f;
    return true;
}

/* A random nonzero epoch. 53 bits: it survives a trip through JSON numbers (the journal's
   JSON output, JavaScript) and still makes a collision between two outboxes of one agent
   id negligible. */
static uint64_t s_random_epoch(uint64_t not_this)
{
    uint64_t e = 0;
    while (e == 0 || e == not_this) {
        if (getrandom(&e, sizeof e, 0) != (ssize_t)sizeof e)
            e = (uint64_t)l3_time_now_us() ^ (uint64_t)getpid() << 32;
        e &= (UINT64_C(1) << 53) - 1;
    }
    return e;
}

/* ---------------------------------------------------------------- reader */

static void s_reader_init(s_reader_t *r)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
}

static void s_reader_close(s_reader_t *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    r->start = r->len = 0;
    r->off = 0;
}

static void s_reader_free(s_reader_t *r)
{
    s_reader_close(r);
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
}

/* Make `need` bytes available at buf + start when the file has them. Returns the bytes
   available (less than need only at end of file), or -1 on a read error. */
static ssize_t s_reader_fill(s_reader_t *r, size_t need)
{
    if (r->len - r->start >= need)
        return (ssize_t)need;
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->len - r->start);
        r->len -= r->start;
        r->start = 0;
    }
    size_t want = need > S_RBUF_SIZE ? need : S_RBUF_SIZE;
    if (r->cap < want) {
        uint8_t *nb = realloc(r->buf, want);
        if (!nb)
            return -1;
        r->buf = nb;
        r->cap = want;
    }
    while (r->len < need) {
        ssize_t n = read(r->fd, r->buf + r->len, r->cap - r->len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            break;
        r->len += (size_t)n;
    }
    return (ssize_t)(r->len < need ? r->len : need);
}

static void s_reader_consume(s_reader_t *r, size_t n)
{
    r->start += n;
    r->off += n;
}

/* Open a segment file for reading and check its header. Returns 1 when good, 0 when the
   header is missing or bad (file size in *size), -1 when it cannot be opened. */
static int s_reader_open(s_reader_t *r, int dirfd, uint64_t epoch, uint64_t first, uint64_t *size)
{
    char name[64];
    s_segment_name(epoch, first, name, sizeof name);
    s_reader_close(r);
    r->fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return -1;
    struct stat st;
    if (size)
        *size = fstat(r->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    ssize_t n = s_reader_fill(r, OUTBOX_HEADER_SIZE);
    if (n != OUTBOX_HEADER_SIZE)
        return n < 0 ? -1 : 0;
    const uint8_t *h = r->buf + r->start;
    if (memcmp(h, S_SEG_MAGIC, 8) != 0 || s_get64(h + 8) != epoch || s_get64(h + 16) != first ||
        s_get32(h + 28) != outbox_crc32c(0, h, 28))
        return 0;
    s_reader_consume(r, OUTBOX_HEADER_SIZE);
    return 1;
}

/* Parse the next entry. On S_ENTRY_OK, payload, len and seq describe it and it is consumed.
   TORN: the entry runs past end of file. BAD: bad length or checksum (not consumed). */
static s_entry_t s_reader_entry(s_reader_t *r, uint64_t *seq, const uint8_t **payload, size_t *len)
{
    ssize_t n = s_reader_fill(r, OUTBOX_ENTRY_HEADER);
    if (n < 0)
        return S_ENTRY_IOERR;
    if (n == 0)
        return S_ENTRY_END;
    if (n < OUTBOX_ENTRY_HEADER)
        return S_ENTRY_TORN;
    uint32_t plen = s_get32(r->buf + r->start);
    if (plen == 0 || plen > L3_MSG_MAX)
        return S_ENTRY_BAD;
    size_t total = OUTBOX_ENTRY_HEADER + (size_t)plen;
    n = s_reader_fill(r, total);
    if (n < 0)
        return S_ENTRY_IOERR;
    if ((size_t)n < total)
        return S_ENTRY_TORN;
    const uint8_t *e = r->buf + r->start;
    uint32_t crc = outbox_crc32c(0, e, 4);
    crc = outbox_crc32c(crc, e + 8, 8 + (size_t)plen);
    if (crc != s_get32(e + 4))
        return S_ENTRY_BAD;
    *seq = s_get64(e + 8);
    *payload = e + OUTBOX_ENTRY_HEADER;
    *len = plen;
    s_reader_consume(r, total);
    return S_ENTRY_OK;
}

/* ---------------------------------------------------------------- meta */

static bool s_fsync_dir(outbox_t *self)
{
    if (fsync(self->dirfd) != 0) {
        l3_error("outbox %s: fsync of the directory failed: %s", self->dir, strerror(errno));
        return false;
    }
    return true;
}

/* Write meta atomically: meta.tmp, fdatasync, rename. The rename is made durable with a
   directory fsync only when `durable` (epoch changes); an ack that does not survive a
   crash just means duplicates the writer drops. */
static bool s_meta_write(outbox_t *self, bool durable)
{
    uint8_t m[S_META_SIZE];
    memcpy(m, S_META_MAGIC, 8);
    s_put32(m + 8, S_META_VERSION);
    s_put32(m + 12, self->reepoch_pending ? S_META_REEPOCH : 0);
    s_put64(m + 16, self->epoch);
    s_put64(m + 24, self->acked);
    s_put32(m + 32, outbox_crc32c(0, m, 32));
    int fd = openat(self->dirfd, "meta.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && l3_write_all(fd, m, sizeof m) && fdatasync(fd) == 0;
    if (fd >= 0)
        close(fd);
    ok = ok && renameat(self->dirfd, "meta.tmp", self->dirfd, "meta") == 0;
    if (!ok) {
        l3_error("outbox %s: cannot write meta: %s", self->dir, strerror(errno));
        return false;
    }
    if (durable && !s_fsync_dir(self))
        return false;
    self->meta_acked = self->acked;
    self->meta_written_us = l3_time_mono_us();
    return true;
}

/* 1 read, 0 absent, -1 unreadable or corrupt (logged). */
static int s_meta_read(outbox_t *self)
{
    int fd = openat(self->dirfd, "meta", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        l3_error("outbox %s: cannot open meta: %s", self->dir, strerror(errno));
        return -1;
    }
    uint8_t m[S_META_SIZE + 1];
    ssize_t n = read(fd, m, sizeof m);
    close(fd);
    if (n != S_META_SIZE || memcmp(m, S_META_MAGIC, 8) != 0 || s_get32(m + 8) != S_META_VERSION ||
        s_get32(m + 32) != outbox_crc32c(0, m, 32) || s_get64(m + 16) == 0) {
        l3_error("outbox %s: the meta file is corrupt (size %zd); refusing to guess the epoch "
                 "(move the directory away to start a new outbox)",
                 self->dir, n);
        return -1;
    }
    self->epoch = s_get64(m + 16);
    self->acked = s_get64(m + 24);
    self->reepoch_pending = (s_get32(m + 12) & S_META_REEPOCH) != 0;
    self->meta_acked = self->acked;
    return 1;
}

/* ---------------------------------------------------------------- segments */

static bool s_segs_push(outbox_t *self, uint64_t first, uint64_t next, uint64_t bytes)
{
    if (self->nsegs == self->segcap) {
        size_t ncap = self->segcap ? self->segcap * 2 : 16;
        s_segment_t *ns = realloc(self->segs, ncap * sizeof *ns);
        if (!ns)
            return false;
        self->segs = ns;
        self->segcap = ncap;
    }
    self->segs[self->nsegs++] = (s_segment_t){first, next, bytes};
    return true;
}

static void s_segs_remove(outbox_t *self, size_t i)
{
    memmove(self->segs + i, self->segs + i + 1, (self->nsegs - i - 1) * sizeof *self->segs);
    self->nsegs--;
}

static int s_seg_cmp(const void *a, const void *b)
{
    const s_segment_t *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Index of the segment holding seq (the last with first <= seq), or -1. */
static ssize_t s_segs_find(outbox_t *self, uint64_t seq)
{
    size_t lo = 0, hi = self->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->segs[mid].first <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? -1 : (ssize_t)lo - 1;
}

/* Write buffered entries to the append segment. */
static bool s_flush(outbox_t *self)
{
    if (self->wlen == 0)
        return true;
    if (self->failed || self->fd < 0 || !l3_write_all(self->fd, self->wbuf, self->wlen)) {
        if (!self->failed)
            l3_error("outbox %s: write failed: %s", self->dir, strerror(errno));
        self->failed = true;
        return false;
    }
    self->wlen = 0;
    return true;
}

/* Create a new append segment starting at seq `first` and make it durable. */
static bool s_segment_create(outbox_t *self, uint64_t first)
{
    char name[64];
    s_segment_name(self->epoch, first, name, sizeof name);
    int fd = openat(self->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        l3_error("outbox %s: cannot create %s: %s", self->dir, name, strerror(errno));
        return false;
    }
    uint8_t h[OUTBOX_HEADER_SIZE];
    memcpy(h, S_SEG_MAGIC, 8);
    s_put64(h + 8, self->epoch);
    s_put64(h + 16, first);
    s_put32(h + 24, 0);
    s_put32(h + 28, outbox_crc32c(0, h, 28));
    if (!l3_write_all(fd, h, sizeof h) || fdatasync(fd) != 0 || !s_fsync_dir(self) ||
        !s_segs_push(self, first, first, OUTBOX_HEADER_SIZE)) {
        l3_error("outbox %s: cannot initialise %s: %s", self->dir, name, strerror(errno));
        close(fd);
        unlinkat(self->dirfd, name, 0);
        return false;
    }
    if (self->fd >= 0)
        close(self->fd);
    self->fd = fd;
    self->disk_bytes += OUTBOX_HEADER_SIZE;
    return true;
}

/* Close the append segment durably and start the next one. */
static bool s_roll(outbox_t *self)
{
    if (!outbox_sync(self))
        return false;
    return s_segment_create(self, self->last + 1);
}

static void s_unlink_segment(outbox_t *self, uint64_t epoch, uint64_t first)
{
    char name[64];
    s_segment_name(epoch, first, name, sizeof name);
    if (unlinkat(self->dirfd, name, 0) != 0 && errno != ENOENT)
        l3_warn("outbox %s: cannot delete %s: %s", self->dir, name, strerror(errno));
}

/* Copy bytes [off, end) of a segment into "<name>.bad" (numbered if taken) and truncate
   the segment at off. */
static bool s_quarantine(outbox_t *self, uint64_t first, uint64_t off)
{
    char name[64], bad[96];
    s_segment_name(self->epoch, first, name, sizeof name);
    int in = openat(self->dirfd, name, O_RDWR | O_CLOEXEC);
    int out = -1;
    bool ok = false;
    if (in < 0)
        goto cleanup;
    for (int i = 0; i < 1000 && out < 0; i++) {
        if (i == 0)
            snprintf(bad, sizeof bad, "%s.bad", name);
        else
            snprintf(bad, sizeof bad, "%s.%d.bad", name, i);
        out = openat(self->dirfd, bad, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (out < 0 && errno != EEXIST)
            goto cleanup;
    }
    if (out < 0 || lseek(in, (off_t)off, SEEK_SET) < 0)
        goto cleanup;
    uint8_t buf[64 << 10];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto cleanup;
        if (n == 0)
            break;
        if (!l3_write_all(out, buf, (size_t)n))
            goto cleanup;
    }
    if (fdatasync(out) != 0 || ftruncate(in, (off_t)off) != 0 || fdatasync(in) != 0)
        goto cleanup;
    ok = true;
cleanup:
    if (!ok)
        l3_error("outbox %s: cannot quarantine the tail of %s: %s", self->dir, name,
                 strerror(errno));
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return ok;
}

/* Losing the tail of the last segment loses the evidence that seqs past it were handed
   out (and maybe sent): record the decision to change epochs in meta first, so a crash
   before the re-epoch completes still leads to one. */
static bool s_mark_reepoch(outbox_t *self)
{
    if (self->reepoch_pending)
        return true;
    self->reepoch_pending = true;
    return s_meta_write(self, true);
}

/* True when the file holds only zero bytes from off on (a crash can leave the file size
   extended over blocks whose data never made it: that is a torn tail, not corruption). */
static bool s_zero_from(s_reader_t *r, uint64_t off)
{
    uint8_t buf[4096];
    for (;;) {
        ssize_t n = pread(r->fd, buf, sizeof buf, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i])
                return false;
        off += (uint64_t)n;
    }
}

/* Read segment i through, verifying every entry; apply the recovery policy. Sets
 *lost when entries that may have been sent were lost. false on an I/O error. */
static bool s_segment_scan(outbox_t *self, size_t i, bool is_last, bool *lost, s_reader_t *r)
{
    s_segment_t *seg = &self->segs[i];
    char name[64];
    s_segment_name(self->epoch, seg->first, name, sizeof name);
    uint64_t size = 0;
    int rc = s_reader_open(r, self->dirfd, self->epoch, seg->first, &size);
    if (rc < 0) {
        l3_error("outbox %s: cannot read %s: %s", self->dir, name, strerror(errno));
        return false;
    }
    if (rc == 0) {
        if (is_last && size < OUTBOX_HEADER_SIZE) {
            /* Created, crash before its header was synced: nothing was ever in it. */
            l3_warn("outbox %s: %s has an incomplete header (%" PRIu64 " bytes): removed",
                    self->dir, name, size);
            s_unlink_segment(self, self->epoch, seg->first);
        } else {
            l3_error("outbox %s: %s has a bad header: quarantined whole", self->dir, name);
            if (is_last && !s_mark_reepoch(self))
                return false;
            s_quarantine(self, seg->first, 0);
            s_unlink_segment(self, self->epoch, seg->first);
            if (is_last)
                *lost = true;
        }
        seg->bytes = 0; /* the caller drops it */
        seg->next = 0;
        return true;
    }
    uint64_t expect = seg->first;
    for (;;) {
        uint64_t seq = 0;
        const uint8_t *payload = NULL;
        size_t len = 0;
        uint64_t off = r->off;
        s_entry_t e = s_reader_entry(r, &seq, &payload, &len);
        bool seqbad = e == S_ENTRY_OK && seq != expect; /* whole, checksum good: not torn */
        if (seqbad)
            e = S_ENTRY_BAD;
        if (e == S_ENTRY_OK) {
            expect++;
            continue;
        }
        if (e == S_ENTRY_END)
            break;
        if (e == S_ENTRY_IOERR) {
            l3_error("outbox %s: read error in %s: %s", self->dir, name, strerror(errno));
            return false;
        }
        /* A bad final entry that ends exactly at end of file, or junk made of zeros, in
           the last segment: an unsynced write cut short. */
        bool torn = is_last && !seqbad && (e == S_ENTRY_TORN || s_zero_from(r, off));
        if (is_last && e == S_ENTRY_BAD && !torn && !seqbad) {
            uint32_t plen = s_get32(r->buf + r->start);
            if (plen > 0 && plen <= L3_MSG_MAX && off + OUTBOX_ENTRY_HEADER + plen == size)
                torn = true;
        }
        if (torn) {
            l3_warn("outbox %s: %s: dropped a torn tail of %" PRIu64 " bytes at offset %" PRIu64
                    " (seq %" PRIu64 " on was never synced)",
                    self->dir, name, size - off, off, expect);
            int fd = openat(self->dirfd, name, O_WRONLY | O_CLOEXEC);
            if (fd < 0 || ftruncate(fd, (off_t)off) != 0 || fdatasync(fd) != 0) {
                l3_error("outbox %s: cannot truncate %s: %s", self->dir, name, strerror(errno));
                if (fd >= 0)
                    close(fd);
                return false;
            }
            close(fd);
        } else {
            l3_error("outbox %s: %s: corrupt entry at offset %" PRIu64 " (expected seq %" PRIu64
                     "): %" PRIu64 " bytes from there moved to a .bad file",
                     self->dir, name, off, expect, size - off);
            if (is_last && !s_mark_reepoch(self))
                return false;
            if (!s_quarantine(self, seg->first, off))
                return false;
            if (is_last)
                *lost = true;
        }
        size = off;
        break;
    }
    seg->next = expect;
    seg->bytes = size;
    return true;
}

/* ---------------------------------------------------------------- append */

static bool s_append_encoded(outbox_t *self, const uint8_t *payload, size_t len)
{
    size_t total = OUTBOX_ENTRY_HEADER + len;
    s_segment_t *seg = &self->segs[self->nsegs - 1];
    if (seg->next > seg->first && seg->bytes + total > self->opts.segment_bytes) {
        if (!s_roll(self))
            return false;
        seg = &self->segs[self->nsegs - 1];
    }
    uint64_t seq = self->last + 1;
    uint8_t h[OUTBOX_ENTRY_HEADER];
    s_put32(h, (uint32_t)len);
    s_put64(h + 8, seq);
    uint32_t crc = outbox_crc32c(0, h, 4);
    crc = outbox_crc32c(crc, h + 8, 8);
    crc = outbox_crc32c(crc, payload, len);
    s_put32(h + 4, crc);
    if (self->wlen + total > S_WBUF_SIZE) {
        if (!s_flush(self))
            return false;
    }
    if (total > S_WBUF_SIZE) {
        /* Too big for the buffer: straight to the file. */
        if (!l3_write_all(self->fd, h, sizeof h) || !l3_write_all(self->fd, payload, len)) {
            l3_error("outbox %s: write failed: %s", self->dir, strerror(errno));
            self->failed = true;
            return false;
        }
    } else {
        memcpy(self->wbuf + self->wlen, h, sizeof h);
        memcpy(self->wbuf + self->wlen + sizeof h, payload, len);
        self->wlen += total;
    }
    self->last = seq;
    seg->next = seq + 1;
    seg->bytes += total;
    self->disk_bytes += total;
    return true;
}

static bool s_append_record(outbox_t *self, l3_record_t *rec)
{
    l3_text_set(rec->agent, sizeof rec->agent, self->agent);
    rec->epoch = self->epoch;
    rec->seq = self->last + 1;
    l3_buf_reset(&self->enc);
    self->enc.failed = false;
    if (!l3_msg_encode_record(rec, &self->enc) || self->enc.failed || self->enc.len == 0) {
        l3_error("outbox %s: cannot encode record seq %" PRIu64 " (invalid or over %u bytes)",
                 self->dir, rec->seq, L3_MSG_MAX);
        return false;
    }
    return s_append_encoded(self, self->enc.data, self->enc.len);
}

/* ---------------------------------------------------------------- re-epoch */

/* Move every surviving unacknowledged record into a new epoch (see outbox.h). */
static bool s_reepoch(outbox_t *self)
{
    uint64_t old_epoch = self->epoch, old_acked = self->acked;
    s_segment_t *old = self->segs;
    size_t nold = self->nsegs;
    s_reader_t r;
    s_reader_init(&r);
    l3_msg_t msg;
    l3_msg_init(&msg);
    bool ok = false;
    uint64_t moved = 0, dropped = 0;

    self->segs = NULL;
    self->nsegs = self->segcap = 0;
    self->epoch = s_random_epoch(old_epoch);
    self->reepoch_pending = false; /* the new meta clears it */
    self->acked = self->last = self->synced = 0;
    self->disk_bytes = 0;
    if (self->fd >= 0)
        close(self->fd);
    self->fd = -1;
    if (!s_segment_create(self, 1))
        goto cleanup;
    for (size_t i = 0; i < nold; i++) {
        if (old[i].next <= old[i].first || old[i].next <= old_acked + 1)
            continue;
        if (s_reader_open(&r, self->dirfd, old_epoch, old[i].first, NULL) != 1)
            goto cleanup;
        for (uint64_t want = old[i].first; want < old[i].next; want++) {
            uint64_t seq;
            const uint8_t *p;
            size_t len;
            if (s_reader_entry(&r, &seq, &p, &len) != S_ENTRY_OK)
                goto cleanup;
            if (seq <= old_acked)
                continue;
            char err[128] = "";
            l3_msg_clear(&msg);
            if (!l3_msg_decode(p, len, &msg, err, sizeof err) || msg.kind != L3_MSG_RECORD) {
                l3_error("outbox %s: record seq %" PRIu64 " of epoch %" PRIu64
                         " does not decode (%s): dropped",
                         self->dir, seq, old_epoch, err);
                dropped++;
                continue;
            }
            if (!s_append_record(self, &msg.record))
                goto cleanup;
            moved++;
        }
    }
    /* The new meta is the commit point; before it, the old epoch still rules. */
    if (!outbox_sync(self) || !s_meta_write(self, true))
        goto cleanup;
    for (size_t i = 0; i < nold; i++)
        s_unlink_segment(self, old_epoch, old[i].first);
    l3_error("outbox %s: records were lost to corruption; started epoch %" PRIu64
             " and re-encoded %" PRIu64 " unacknowledged records of epoch %" PRIu64
             " into it (%" PRIu64 " undecodable dropped)",
             self->dir, self->epoch, moved, old_epoch, dropped);
    ok = true;
cleanup:
    if (!ok)
        l3_error("outbox %s: moving records into a new epoch failed", self->dir);
    l3_msg_clear(&msg);
    s_reader_free(&r);
    free(old);
    return ok;
}

/* ---------------------------------------------------------------- open / close */

void outbox_opts_default(outbox_opts_t *opts)
{
    opts->segment_bytes = OUTBOX_SEGMENT_DEFAULT;
    opts->max_bytes = 0;
    opts->sync_each_append = false;
}

void outbox_opts_from_config(outbox_opts_t *opts, l3_config_t *config)
{
    outbox_opts_default(opts);
    opts->segment_bytes = (size_t)l3_config_int(config, "agent/outbox_segment_kb",
                                                OUTBOX_SEGMENT_DEFAULT >> 10, 64, 1 << 20)
                          << 10;
    opts->max_bytes = (uint64_t)l3_config_int(config, "agent/outbox_max_mb", 0, 0, INT64_C(1) << 30)
                      << 20;
    const char *sync = l3_config_str(config, "agent/outbox_sync", "group");
    opts->sync_each_append = strcmp(sync, "append") == 0;
}

static bool s_load(outbox_t *self)
{
    int have_meta = s_meta_read(self);
    if (have_meta < 0)
        return false;

    /* List segment files; those of another epoch are leftovers of an interrupted or
       finished re-epoch (see outbox.h). */
    DIR *d = fdopendir(dup(self->dirfd));
    if (!d) {
        l3_error("outbox %s: cannot list: %s", self->dir, strerror(errno));
        return false;
    }
    struct dirent *de;
    size_t foreign = 0;
    bool ok = true;
    uint64_t *stale = NULL;
    size_t nstale = 0;
    while (ok && (de = readdir(d)) != NULL) {
        uint64_t e, first;
        if (!s_segment_parse(de->d_name, &e, &first))
            continue;
        if (have_meta && e == self->epoch) {
            ok = s_segs_push(self, first, first, 0);
        } else if (have_meta) {
            uint64_t *ns = realloc(stale, (nstale + 1) * 2 * sizeof *ns);
            ok = ns != NULL;
            if (ok) {
                stale = ns;
                stale[nstale * 2] = e;
                stale[nstale * 2 + 1] = first;
                nstale++;
            }
        } else {
            foreign++;
        }
    }
    closedir(d);
    if (ok && foreign > 0) {
        l3_error("outbox %s: %zu segment files but no meta file: cannot know the epoch; "
                 "move them away to start a new outbox",
                 self->dir, foreign);
        ok = false;
    }
    for (size_t i = 0; ok && i < nstale; i++) {
        l3_warn("outbox %s: deleting a segment of old epoch %016" PRIx64, self->dir, stale[i * 2]);
        s_unlink_segment(self, stale[i * 2], stale[i * 2 + 1]);
    }
    free(stale);
    if (!ok)
        return false;

    if (!have_meta) {
        self->epoch = s_random_epoch(0);
        self->acked = 0;
        if (!s_meta_write(self, true))
            return false;
        l3_info("outbox %s: created, epoch %" PRIu64, self->dir, self->epoch);
    }
    if (self->nsegs > 1)
        qsort(self->segs, self->nsegs, sizeof *self->segs, s_seg_cmp);
    /* Segments are deleted as soon as acks cover them, while meta's acked is persisted
       lazily: the first segment's start bounds the ack from below. */
    if (self->nsegs > 0 && self->segs[0].first > 0 && self->segs[0].first - 1 > self->acked)
        self->acked = self->segs[0].first - 1;
    uint64_t floor_last = self->acked;
    if (self->nsegs > 0 && self->segs[self->nsegs - 1].first - 1 > floor_last)
        floor_last = self->segs[self->nsegs - 1].first - 1;

    s_reader_t r;
    s_reader_init(&r);
    bool lost = false;
    for (size_t i = 0; i < self->nsegs; i++) {
        if (!s_segment_scan(self, i, i + 1 == self->nsegs, &lost, &r)) {
            s_reader_free(&r);
            return false;
        }
    }
    s_reader_free(&r);
    for (size_t i = self->nsegs; i-- > 0;) {
        if (self->segs[i].bytes == 0)
            s_segs_remove(self, i);
    }

    /* A hole among unacknowledged seqs means the stream cannot go on. */
    uint64_t expect = self->acked + 1, last = floor_last;
    bool gap = false;
    for (size_t i = 0; i < self->nsegs; i++) {
        s_segment_t *s = &self->segs[i];
        self->disk_bytes += s->bytes;
        if (s->next <= s->first)
            continue;
        if (s->next - 1 > last)
            last = s->next - 1;
        if (s->next <= self->acked + 1)
            continue;
        uint64_t start = s->first > self->acked + 1 ? s->first : self->acked + 1;
        if (start != expect)
            gap = true;
        expect = s->next;
    }
    /* Seqs handed out (the last segment's name says up to where) but found nowhere. */
    if (last + 1 != expect)
        gap = true;
    self->last = self->synced = last;
    if (lost || gap || self->reepoch_pending)
        return s_reepoch(self);

    /* Reopen the last segment for appending, or start one at the next seq. */
    s_segment_t *tail = self->nsegs ? &self->segs[self->nsegs - 1] : NULL;
    if (tail && (tail->next == self->last + 1 ||
                 (tail->next == tail->first && tail->first == self->last + 1))) {
        char name[64];
        s_segment_name(self->epoch, tail->first, name, sizeof name);
        self->fd = openat(self->dirfd, name, O_WRONLY | O_CLOEXEC);
        if (self->fd < 0 || lseek(self->fd, (off_t)tail->bytes, SEEK_SET) < 0) {
            l3_error("outbox %s: cannot open %s: %s", self->dir, name, strerror(errno));
            return false;
        }
    } else if (!s_segment_create(self, self->last + 1)) {
        return false;
    }
    outbox_ack(self, self->acked); /* delete what is already covered */
    return true;
}

outbox_t *outbox_open(const char *dir, const char *agent_id, const outbox_opts_t *opts)
{
    outbox_t *self = NULL;
    if (!dir || !*dir || strlen(dir) > S_PATH_MAX) {
        l3_error("outbox: no directory given (agent/outbox)");
        return NULL;
    }
    if (!agent_id || !l3_id_valid(agent_id)) {
        l3_error("outbox %s: invalid agent id '%s'", dir, agent_id ? agent_id : "");
        return NULL;
    }
    self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->dirfd = self->lockfd = self->fd = -1;
    if (opts)
        self->opts = *opts;
    else
        outbox_opts_default(&self->opts);
    if (self->opts.segment_bytes < 256)
        self->opts.segment_bytes = 256;
    l3_buf_init(&self->enc, L3_MSG_MAX);
    snprintf(self->agent, sizeof self->agent, "%s", agent_id);
    self->dir = strdup(dir);
    self->wbuf = malloc(S_WBUF_SIZE);
    if (!self->dir || !self->wbuf)
        goto fail;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        l3_error("outbox %s: cannot create the directory: %s", dir, strerror(errno));
        goto fail;
    }
    self->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (self->dirfd < 0) {
        l3_error("outbox %s: cannot open the directory: %s", dir, strerror(errno));
        goto fail;
    }
    self->lockfd = openat(self->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (self->lockfd < 0 || flock(self->lockfd, LOCK_EX | LOCK_NB) != 0) {
        l3_error("outbox %s: %s", dir,
                 errno == EWOULDBLOCK ? "in use by another process (locked)" : strerror(errno));
        goto fail;
    }
    if (!s_load(self))
        goto fail;
    l3_info("outbox %s: epoch %" PRIu64 ", acked %" PRIu64 ", last %" PRIu64 ", %zu segments", dir,
            self->epoch, self->acked, self->last, self->nsegs);
    return self;
fail:
    self->wlen = 0;
    outbox_destroy(&self);
    return NULL;
}

outbox_t *outbox_open_config(l3_config_t *config, const char *agent_id)
{
    outbox_opts_t opts;
    outbox_opts_from_config(&opts, config);
    return outbox_open(l3_config_str(config, "agent/outbox", "/var/lib/lilalo/outbox"), agent_id,
                       &opts);
}

void outbox_destroy(outbox_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    outbox_t *self = *self_p;
    if (self->fd >= 0 && !self->failed)
        outbox_sync(self);
    if (self->dirfd >= 0 && self->epoch && self->acked != self->meta_acked && !self->failed)
        s_meta_write(self, false);
    if (self->fd >= 0)
        close(self->fd);
    if (self->lockfd >= 0)
        close(self->lockfd);
    if (self->dirfd >= 0)
        close(self->dirfd);
    l3_buf_free(&self->enc);
    free(self->segs);
    free(self->wbuf);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

/* ---------------------------------------------------------------- public operations */

bool outbox_full(outbox_t *self)
{
    return self->opts.max_bytes > 0 && self->disk_bytes >= self->opts.max_bytes;
}

bool outbox_append(outbox_t *self, l3_record_t *rec, uint64_t *seq_out)
{
    if (self->failed) {
        l3_error("outbox %s: an earlier write or sync failed; reopen to recover", self->dir);
        return false;
    }
    if (outbox_full(self)) {
        if (!self->full_logged)
            l3_error("outbox %s: full (%" PRIu64 " bytes on disk, cap agent/outbox_max_mb); "
                     "refusing records until acks free space",
                     self->dir, self->disk_bytes);
        self->full_logged = true;
        return false;
    }
    self->full_logged = false;
    if (!s_append_record(self, rec))
        return false;
    if (seq_out)
        *seq_out = self->last;
    if (self->opts.sync_each_append)
        return outbox_sync(self);
    return true;
}

bool outbox_sync(outbox_t *self)
{
    if (self->failed)
        return false;
    if (!s_flush(self))
        return false;
    if (self->synced == self->last)
        return true;
    if (fdatasync(self->fd) != 0) {
        /* After a failed fdatasync the kernel may have dropped the dirty pages: the only
           honest state is "unknown" until a reopen re-reads the files. */
        l3_error("outbox %s: fdatasync failed: %s", self->dir, strerror(errno));
        self->failed = true;
        return false;
    }
    self->synced = self->last;
    return true;
}

void outbox_ack(outbox_t *self, uint64_t seq)
{
    if (seq > self->synced) {
        l3_warn("outbox %s: ack %" PRIu64 " beyond the last synced seq %" PRIu64 ": clamped",
                self->dir, seq, self->synced);
        seq = self->synced;
    }
    if (seq > self->acked)
        self->acked = seq;
    /* Never delete the append segment: its name keeps the next seq when it is empty. */
    while (self->nsegs > 1 && self->segs[0].next <= self->acked + 1) {
        s_unlink_segment(self, self->epoch, self->segs[0].first);
        self->disk_bytes -= self->segs[0].bytes;
        s_segs_remove(self, 0);
    }
    if (self->acked != self->meta_acked && !self->failed &&
        l3_time_mono_us() - self->meta_written_us >= S_META_INTERVAL_US)
        s_meta_write(self, false);
}

const char *outbox_agent(outbox_t *self)
{
    return self->agent;
}

const char *outbox_dir(outbox_t *self)
{
    return self->dir;
}

uint64_t outbox_epoch(outbox_t *self)
{
    return self->epoch;
}

uint64_t outbox_last_seq(outbox_t *self)
{
    return self->last;
}

uint64_t outbox_synced_seq(outbox_t *self)
{
    return self->synced;
}

uint64_t outbox_acked_seq(outbox_t *self)
{
    return self->acked;
}

uint64_t outbox_pending(outbox_t *self)
{
    return self->last - self->acked;
}

uint64_t outbox_disk_bytes(outbox_t *self)
{
    return self->disk_bytes;
}

size_t outbox_segments(outbox_t *self)
{
    return self->nsegs;
}

/* ---------------------------------------------------------------- iterator */

outbox_iter_t *outbox_iter_new(outbox_t *box, uint64_t from)
{
    outbox_iter_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->box = box;
    s_reader_init(&self->r);
    self->pos = from ? from : 1;
    return self;
}

void outbox_iter_destroy(outbox_iter_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_reader_free(&(*self_p)->r);
    free(*self_p);
    *self_p = NULL;
}

void outbox_iter_seek(outbox_iter_t *self, uint64_t seq)
{
    self->pos = seq ? seq : 1;
}

uint64_t outbox_iter_position(outbox_iter_t *self)
{
    return self->pos;
}

int outbox_iter_next(outbox_iter_t *self, uint64_t *seq, const uint8_t **data, size_t *len)
{
    outbox_t *box = self->box;
    if (box->nsegs == 0)
        return 0;
    if (self->pos < box->segs[0].first)
        self->pos = box->segs[0].first;
    if (self->pos > box->synced)
        return 0;
    ssize_t i = s_segs_find(box, self->pos);
    if (i < 0)
        return 0;
    s_segment_t *seg = &box->segs[i];
    if (self->r.fd < 0 || self->seg_first != seg->first || self->cur > self->pos) {
        int rc = s_reader_open(&self->r, box->dirfd, box->epoch, seg->first, NULL);
        if (rc != 1) {
            l3_error("outbox %s: cannot read segment at seq %" PRIu64 ": %s", box->dir, seg->first,
                     rc < 0 ? strerror(errno) : "bad header");
            s_reader_close(&self->r);
            return -1;
        }
        self->seg_first = seg->first;
        self->cur = seg->first;
    }
    for (;;) {
        uint64_t s = 0;
        s_entry_t e = s_reader_entry(&self->r, &s, data, len);
        if (e != S_ENTRY_OK || s != self->cur) {
            l3_error("outbox %s: segment at seq %" PRIu64 ": %s at seq %" PRIu64, box->dir,
                     seg->first,
                     e == S_ENTRY_OK      ? "seq out of order"
                     : e == S_ENTRY_IOERR ? strerror(errno)
                                          : "entry missing or corrupt",
                     self->cur);
            s_reader_close(&self->r);
            return -1;
        }
        self->cur++;
        if (s == self->pos) {
            self->pos++;
            *seq = s;
            return 1;
        }
    }
}
