/*  textindex — a trigram index of the record lines, in segments. See textindex.h. */
#include "textindex.h"
#include "l3_fs.h"
#include "l3_log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define TI_MAGIC "L3TRI001"
#define TI_KEYS (1u << 24)    /* trigram keys: three bytes */
#define TI_HASHED_LINE 4096u  /* bytes of a segment's first line its header hashes */
#define TI_NEEDLE_TRIGRAMS 12 /* trigrams of a long needle looked up (spread over it) */
#define TI_SHORT_KEYS 256     /* lists a needle of 1 or 2 bytes may merge (s_union_range) */
#define TI_BITMAP_BYTES (TI_SEG / 8)

typedef struct {
    char magic[8];
    uint32_t seg, nkeys;
    uint64_t first_off, last_end; /* the segment's bytes in the datafile */
    uint64_t line_hash;           /* of its first line's first TI_HASHED_LINE bytes */
    uint64_t top_off, dir_off, lists_off, total;
    uint64_t top_sum; /* of the top table */
    uint64_t check;   /* of everything above */
} ti_head_t;

/* A directory entry: a trigram, how many commands hold it, where their list is. */
typedef struct {
    uint32_t key, count;
    uint64_t off, sum;
} ti_entry_t;

/* A directory block's first key, entries and checksum: held in memory per segment. */
typedef struct {
    uint32_t key, n;
    uint64_t sum;
} ti_top_t;

typedef struct {
    bool ready; /* checked: it is this segment's file, of these commands */
    int fd;     /* its descriptor in process pid, -1 when not open there */
    dev_t dev;  /* the file checked (opened again by name in a worker) */
    ino_t ino;
    uint32_t ntop;
    ti_top_t *top;
    uint64_t dir_off, lists_off, total;
    uint64_t first_off, last_end; /* where its commands are in the datafile */
} ti_seg_t;

/* Render's page workers are forked from it and close every descriptor they are not told
   to keep, so a segment's descriptor is only good in the process that opened it (pid): a
   worker opens the checked files again by name, and uses one only if it is the same
   file (device and inode) that render checked. */
struct textindex_t {
    char *dir;
    ti_seg_t *segs; /* by segment number */
    uint32_t nsegs;
    pid_t pid;
};

static uint64_t s_hash(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ull ^ len;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static uint8_t s_fold(uint8_t b)
{
    return b >= 'A' && b <= 'Z' ? (uint8_t)(b + 32) : b;
}

/* ---------------------------------------------------------------- text of a line */

/* The parts of a record line that are indexed: after the start tag, without <timing>.
   Up to two [from, to) ranges; returns how many. */
static int s_text_ranges(const uint8_t *line, size_t len, size_t from[2], size_t to[2])
{
    const uint8_t *tag_end = memchr(line, '>', len);
    if (!tag_end)
        return 0;
    size_t pos = (size_t)(tag_end - line) + 1;
    const uint8_t *t = memmem(line + pos, len - pos, "<timing>", 8);
    if (!t) {
        from[0] = pos;
        to[0] = len;
        return 1;
    }
    const uint8_t *te = memmem(t, len - (size_t)(t - line), "</timing>", 9);
    from[0] = pos;
    to[0] = (size_t)(t - line);
    from[1] = te ? (size_t)(te - line) + 9 : len;
    to[1] = len;
    return 2;
}

/* ---------------------------------------------------------------- open */

static void s_seg_close(textindex_t *self, ti_seg_t *s)
{
    if (s->fd >= 0 && self->pid == getpid())
        close(s->fd);
    free(s->top);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

static bool s_read_at(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return true;
}

static void s_seg_path(const textindex_t *self, uint32_t seg, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%08" PRIx32 ".tri", self->dir, seg);
}

/* The hash of the segment's first line as its header keeps it. */
static bool s_first_line_hash(index_t *index, uint32_t first, uint64_t *hash)
{
    uint32_t n;
    const index_cmd_t *c = &index_cmds(index, &n)[first];
    uint8_t buf[TI_HASHED_LINE];
    size_t len = c->len < TI_HASHED_LINE ? c->len : TI_HASHED_LINE;
    int fd = index_part_fd(index, c->off);
    if (fd < 0) { /* its part is no longer kept: the segment is built without it */
        *hash = 0;
        return true;
    }
    if (!s_read_at(fd, buf, len, INDEX_OFF_LOCAL(c->off)))
        return false;
    *hash = s_hash(buf, len);
    return true;
}

/* Open segment seg's file when it is there and belongs; why says why not. */
static bool s_seg_open(textindex_t *self, index_t *index, uint32_t seg, const char **why)
{
    char path[4096];
    s_seg_path(self, seg, path, sizeof path);
    ti_seg_t *s = &self->segs[seg];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *why = NULL; /* not built yet */
        return false;
    }
    uint32_t n;
    const index_cmd_t *cmds = index_cmds(index, &n);
    uint32_t first = seg * TI_SEG, last = first + TI_SEG - 1;
    ti_head_t h;
    struct stat st;
    uint64_t lh = 0;
    *why = "its header is damaged";
    if (fstat(fd, &st) != 0 || !s_read_at(fd, &h, sizeof h, 0) || memcmp(h.magic, TI_MAGIC, 8) ||
        h.check != s_hash(&h, offsetof(ti_head_t, check)))
        goto fail;
    *why = "its layout is inconsistent";
    uint64_t ntop = (h.nkeys + TI_BLOCK - 1) / TI_BLOCK;
    if (h.seg != seg || h.total != (uint64_t)st.st_size || h.top_off != sizeof h ||
        h.dir_off != h.top_off + ntop * sizeof(ti_top_t) ||
        h.lists_off != h.dir_off + (uint64_t)h.nkeys * sizeof(ti_entry_t) ||
        h.lists_off > h.total || h.nkeys > TI_KEYS)
        goto fail;
    *why = "it is of other commands (the datafile changed)";
    if (h.first_off != cmds[first].off || h.last_end != cmds[last].off + cmds[last].len ||
        !s_first_line_hash(index, first, &lh) || lh != h.line_hash)
        goto fail;
    *why = "its directory is damaged";
    s->top = malloc(ntop ? ntop * sizeof *s->top : 1);
    if (!s->top || !s_read_at(fd, s->top, ntop * sizeof *s->top, h.top_off) ||
        s_hash(s->top, ntop * sizeof *s->top) != h.top_sum)
        goto fail;
    uint64_t keys = 0;
    for (uint64_t i = 0; i < ntop; i++) {
        if (s->top[i].n == 0 || s->top[i].n > TI_BLOCK || (i && s->top[i].key <= s->top[i - 1].key))
            goto fail;
        keys += s->top[i].n;
    }
    if (keys != h.nkeys)
        goto fail;
    s->ready = true;
    s->fd = fd;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->ntop = (uint32_t)ntop;
    s->dir_off = h.dir_off;
    s->first_off = h.first_off;
    s->last_end = h.last_end;
    s->lists_off = h.lists_off;
    s->total = h.total;
    return true;
fail:
    close(fd);
    free(s->top);
    s->top = NULL;
    return false;
}

textindex_t *textindex_new(const char *base)
{
    textindex_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    size_t len = strlen(base) + 8;
    self->dir = malloc(len);
    if (!self->dir) {
        free(self);
        return NULL;
    }
    snprintf(self->dir, len, "%s.search", base);
    self->pid = getpid();
    return self;
}

void textindex_destroy(textindex_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    textindex_t *self = *self_p;
    for (uint32_t i = 0; i < self->nsegs; i++)
        s_seg_close(self, &self->segs[i]);
    free(self->segs);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

/* Room for the complete segments of index. */
static bool s_grow(textindex_t *self, index_t *index)
{
    uint32_t ncmds;
    index_cmds(index, &ncmds);
    uint32_t want = ncmds / TI_SEG;
    if (want <= self->nsegs)
        return true;
    ti_seg_t *n = realloc(self->segs, (size_t)want * sizeof *n);
    if (!n)
        return false;
    for (uint32_t i = self->nsegs; i < want; i++) {
        memset(&n[i], 0, sizeof n[i]);
        n[i].fd = -1;
    }
    self->segs = n;
    self->nsegs = want;
    return true;
}

void textindex_check(textindex_t *self, index_t *index)
{
    uint32_t ncmds;
    const index_cmd_t *cmds = index_cmds(index, &ncmds);
    for (uint32_t seg = 0; seg < self->nsegs; seg++) {
        ti_seg_t *s = &self->segs[seg];
        if (!s->ready)
            continue;
        uint32_t first = seg * TI_SEG, last = first + TI_SEG - 1;
        if (last < ncmds && cmds[first].off == s->first_off &&
            cmds[last].off + cmds[last].len == s->last_end)
            continue;
        char path[4096];
        s_seg_path(self, seg, path, sizeof path);
        l3_info("search index %s is of other commands (the datafile changed): built again", path);
        s_seg_close(self, s);
        unlink(path);
    }
}

void textindex_open(textindex_t *self, index_t *index)
{
    textindex_check(self, index);
    if (!s_grow(self, index))
        return;
    for (uint32_t seg = 0; seg < self->nsegs; seg++) {
        if (self->segs[seg].ready)
            continue;
        const char *why = NULL;
        if (s_seg_open(self, index, seg, &why) || !why)
            continue;
        char path[4096];
        s_seg_path(self, seg, path, sizeof path);
        l3_warn("search index %s not used: %s; it is built again", path, why);
        unlink(path);
    }
}

uint32_t textindex_missing(textindex_t *self, index_t *index)
{
    if (!s_grow(self, index))
        return UINT32_MAX;
    for (uint32_t seg = self->nsegs; seg > 0; seg--) /* newest first: searched first */
        if (!self->segs[seg - 1].ready)
            return seg - 1;
    return UINT32_MAX;
}

bool textindex_ready(textindex_t *self, uint32_t seg)
{
    return seg < self->nsegs && self->segs[seg].ready;
}

/* The segment's descriptor in this process (see textindex_t): -1 when it cannot be had. */
static int s_seg_fd(textindex_t *self, uint32_t seg)
{
    if (self->pid != getpid()) { /* a forked worker: what render opened is not ours */
        for (uint32_t i = 0; i < self->nsegs; i++)
            self->segs[i].fd = -1;
        self->pid = getpid();
    }
    ti_seg_t *s = &self->segs[seg];
    if (s->fd >= 0)
        return s->fd;
    char path[4096];
    s_seg_path(self, seg, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || st.st_dev != s->dev || st.st_ino != s->ino)) {
        close(fd); /* replaced since render checked it: not this one */
        fd = -1;
    }
    return s->fd = fd;
}

uint64_t textindex_bytes(textindex_t *self, uint32_t *nsegs)
{
    uint64_t bytes = 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < self->nsegs; i++)
        if (self->segs[i].ready) {
            bytes += self->segs[i].total;
            n++;
        }
    if (nsegs)
        *nsegs = n;
    return bytes;
}

/* ---------------------------------------------------------------- build */

/* Count (pass 0) or place (pass 1) every distinct trigram of local command i's text.
   stamp[key] == mark means key was seen in this command already. */
static void s_trigrams(const uint8_t *line, size_t len, uint32_t mark, uint32_t *stamp,
                       uint32_t *slot, uint16_t *postings, uint16_t local)
{
    size_t from[2], to[2];
    int nr = s_text_ranges(line, len, from, to);
    for (int r = 0; r < nr; r++) {
        if (to[r] - from[r] < 3)
            continue;
        uint32_t key = (uint32_t)s_fold(line[from[r]]) << 8 | s_fold(line[from[r] + 1]);
        for (size_t i = from[r] + 2; i < to[r]; i++) {
            key = (key << 8 | s_fold(line[i])) & (TI_KEYS - 1);
            if (stamp[key] == mark)
                continue;
            stamp[key] = mark;
            if (postings)
                postings[slot[key]++] = local;
            else
                slot[key]++;
        }
    }
}

/* One pass of the build over the segment's lines: s_trigrams with marks from mark0 on.
   The datafile is mapped a part at a time (a segment may span a rotation); the commands
   of a part no longer kept have no trigrams. false when a part cannot be mapped. */
static bool s_pass(index_t *index, const index_cmd_t *cmds, uint32_t first, uint32_t mark0,
                   uint32_t *stamp, uint32_t *slot, uint16_t *postings)
{
    long pagesz = sysconf(_SC_PAGESIZE);
    for (uint32_t i = 0; i < TI_SEG;) {
        uint64_t off = cmds[first + i].off;
        uint32_t j = i + 1;
        while (j < TI_SEG && INDEX_OFF_PART(cmds[first + j].off) == INDEX_OFF_PART(off))
            j++;
        int fd = index_part_fd(index, off);
        if (fd >= 0) {
            const index_cmd_t *end = &cmds[first + j - 1];
            uint64_t mstart = INDEX_OFF_LOCAL(off) & ~(uint64_t)(pagesz - 1);
            size_t mlen = (size_t)(INDEX_OFF_LOCAL(end->off) + end->len - mstart);
            uint8_t *map = mmap(NULL, mlen, PROT_READ, MAP_PRIVATE, fd, (off_t)mstart);
            if (map == MAP_FAILED)
                return false;
            madvise(map, mlen, MADV_SEQUENTIAL);
            for (uint32_t k = i; k < j; k++) {
                const index_cmd_t *c = &cmds[first + k];
                s_trigrams(map + (INDEX_OFF_LOCAL(c->off) - mstart), c->len, mark0 + k, stamp,
                           slot, postings, (uint16_t)k);
            }
            munmap(map, mlen);
        }
        i = j;
    }
    return true;
}

bool textindex_build(textindex_t *self, index_t *index, uint32_t seg)
{
    uint32_t ncmds;
    const index_cmd_t *cmds = index_cmds(index, &ncmds);
    if ((uint64_t)(seg + 1) * TI_SEG > ncmds)
        return false;
    uint32_t first = seg * TI_SEG, last = first + TI_SEG - 1;
    bool ok = false;
    char path[4096], tmp[4200];
    s_seg_path(self, seg, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    uint32_t *stamp = calloc(TI_KEYS, sizeof *stamp), *slot = calloc(TI_KEYS, sizeof *slot);
    uint16_t *postings = NULL;
    ti_entry_t *dir = NULL;
    ti_top_t *top = NULL;
    FILE *out = NULL;
    /* pass 0: how many commands hold each trigram */
    if (!stamp || !slot || !s_pass(index, cmds, first, 1, stamp, slot, NULL))
        goto cleanup;
    uint64_t total = 0;
    uint32_t nkeys = 0;
    for (uint32_t k = 0; k < TI_KEYS; k++) {
        uint32_t count = slot[k];
        slot[k] = (uint32_t)total; /* where its commands go */
        total += count;
        nkeys += count > 0;
    }
    postings = malloc(total ? total * sizeof *postings : 1);
    uint32_t ntop = (nkeys + TI_BLOCK - 1) / TI_BLOCK;
    dir = malloc((nkeys ? nkeys : 1) * sizeof *dir);
    top = malloc((ntop ? ntop : 1) * sizeof *top);
    if (!postings || !dir || !top)
        goto cleanup;
    /* pass 1: the commands, ascending in each list (marks above pass 0's) */
    if (!s_pass(index, cmds, first, TI_SEG + 1, stamp, slot, postings))
        goto cleanup;
    /* slot[k] is now the end of k's list, the start of the next one's */
    ti_head_t h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, TI_MAGIC, 8);
    h.seg = seg;
    h.nkeys = nkeys;
    h.first_off = cmds[first].off;
    h.last_end = cmds[last].off + cmds[last].len;
    if (!s_first_line_hash(index, first, &h.line_hash))
        goto cleanup;
    h.top_off = sizeof h;
    h.dir_off = h.top_off + (uint64_t)ntop * sizeof *top;
    h.lists_off = h.dir_off + (uint64_t)nkeys * sizeof *dir;
    if (mkdir(self->dir, 0750) != 0 && errno != EEXIST)
        goto cleanup;
    out = fopen(tmp, "w");
    if (!out || fseeko(out, (off_t)h.lists_off, SEEK_SET) != 0)
        goto cleanup;
    uint64_t at = h.lists_off, start = 0;
    uint32_t e = 0;
    uint64_t bitmap[TI_WORDS];
    for (uint32_t k = 0; k < TI_KEYS; k++) {
        uint64_t end = slot[k];
        if (end == start)
            continue;
        uint32_t count = (uint32_t)(end - start);
        const void *list = postings + start;
        size_t bytes = count * sizeof *postings;
        if (count >= TI_DENSE) {
            memset(bitmap, 0, sizeof bitmap);
            for (uint64_t j = start; j < end; j++)
                bitmap[postings[j] >> 6] |= 1ull << (postings[j] & 63);
            list = bitmap;
            bytes = sizeof bitmap;
        }
        dir[e] = (ti_entry_t){k, count, at, s_hash(list, bytes)};
        if (fwrite(list, 1, bytes, out) != bytes)
            goto cleanup;
        at += bytes;
        e++;
        start = end;
    }
    h.total = at;
    for (uint32_t b = 0; b < ntop; b++) {
        uint32_t n = nkeys - b * TI_BLOCK < TI_BLOCK ? nkeys - b * TI_BLOCK : TI_BLOCK;
        top[b] = (ti_top_t){dir[b * TI_BLOCK].key, n, s_hash(&dir[b * TI_BLOCK], n * sizeof *dir)};
    }
    h.top_sum = s_hash(top, (size_t)ntop * sizeof *top);
    h.check = s_hash(&h, offsetof(ti_head_t, check));
    if (fseeko(out, 0, SEEK_SET) != 0 || fwrite(&h, sizeof h, 1, out) != 1 ||
        fwrite(top, sizeof *top, ntop, out) != ntop ||
        fwrite(dir, sizeof *dir, nkeys, out) != nkeys || fflush(out) != 0 ||
        fdatasync(fileno(out)) != 0)
        goto cleanup;
    if (fclose(out) != 0) {
        out = NULL;
        goto cleanup;
    }
    out = NULL;
    ok = rename(tmp, path) == 0;
cleanup:
    if (!ok)
        l3_warn("cannot write search index %s: %s", path, strerror(errno));
    if (out)
        fclose(out);
    if (!ok)
        unlink(tmp);
    free(stamp);
    free(slot);
    free(postings);
    free(dir);
    free(top);
    return ok;
}

/* ---------------------------------------------------------------- query */

/* The directory block where key is or would be: the last whose first key <= key (0 when
   none is; the caller checks). */
static uint32_t s_top_block(const ti_seg_t *s, uint32_t key)
{
    uint32_t lo = 0, hi = s->ntop;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (s->top[mid].key <= key)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Read directory block b into block (TI_BLOCK entries); its entry count, 0 when damaged. */
static uint32_t s_read_block(ti_seg_t *s, uint32_t b, ti_entry_t block[TI_BLOCK])
{
    uint32_t n = s->top[b].n;
    if (n == 0 || n > TI_BLOCK ||
        !s_read_at(s->fd, block, n * sizeof *block,
                   s->dir_off + (uint64_t)b * TI_BLOCK * sizeof *block) ||
        s_hash(block, n * sizeof *block) != s->top[b].sum)
        return 0;
    return n;
}

/* The directory entry of key in segment s: 1 found, 0 not there, -1 damaged. */
static int s_lookup(ti_seg_t *s, uint32_t key, ti_entry_t *found)
{
    uint32_t lo = s_top_block(s, key);
    if (s->ntop == 0 || s->top[lo].key > key)
        return 0;
    ti_entry_t block[TI_BLOCK];
    uint32_t n = s_read_block(s, lo, block);
    if (n == 0)
        return -1;
    uint32_t a = 0, b = n;
    while (a < b) {
        uint32_t mid = (a + b) / 2;
        if (block[mid].key < key)
            a = mid + 1;
        else
            b = mid;
    }
    if (a == n || block[a].key != key)
        return 0;
    *found = block[a];
    return 1;
}

/* AND (or with `or`, OR) the list of e into bits: false when it is damaged. */
static bool s_merge_list(ti_seg_t *s, const ti_entry_t *e, uint64_t bits[TI_WORDS], bool or)
{
    uint64_t list[TI_WORDS]; /* a bitmap, or up to TI_DENSE u16 (the same 8 KiB) */
    bool dense = e->count >= TI_DENSE;
    size_t bytes = dense ? sizeof list : e->count * sizeof(uint16_t);
    if (e->count == 0 || e->count > TI_SEG || e->off < s->lists_off || e->off + bytes > s->total ||
        !s_read_at(s->fd, list, bytes, e->off) || s_hash(list, bytes) != e->sum)
        return false;
    uint64_t mask[TI_WORDS];
    if (dense)
        memcpy(mask, list, sizeof mask);
    else {
        memset(mask, 0, sizeof mask);
        const uint16_t *p = (const uint16_t *)list;
        for (uint32_t j = 0; j < e->count; j++)
            mask[p[j] >> 6] |= 1ull << (p[j] & 63);
    }
    for (uint32_t w = 0; w < TI_WORDS; w++)
        bits[w] = or ? bits[w] | mask[w] : bits[w] & mask[w];
    return true;
}

/* A needle of one or two bytes has no trigram of its own, but every place it occurs is
   followed by more of the line (a field's text always ends before its closing tag), so
   the commands that hold it are those holding a trigram it begins: the union of the
   lists of the keys in [lo, hi). 1 with the union in bits, 0 when more than
   TI_SHORT_KEYS keys are in the range (a byte that common is in most commands: scan
   them, the page fills at once), -1 when damaged. */
static int s_union_range(ti_seg_t *s, uint32_t lo, uint32_t hi, uint64_t bits[TI_WORDS])
{
    memset(bits, 0, TI_WORDS * sizeof *bits);
    uint32_t keys = 0;
    for (uint32_t b = s_top_block(s, lo); b < s->ntop && s->top[b].key < hi; b++) {
        ti_entry_t block[TI_BLOCK];
        uint32_t n = s_read_block(s, b, block);
        if (n == 0)
            return -1;
        for (uint32_t i = 0; i < n; i++) {
            if (block[i].key < lo || block[i].key >= hi)
                continue;
            if (++keys > TI_SHORT_KEYS)
                return 0;
            if (!s_merge_list(s, &block[i], bits, true))
                return -1;
        }
    }
    return 1;
}

bool textindex_candidates(textindex_t *self, uint32_t seg, const uint8_t *needle, size_t nlen,
                          uint64_t bits[TI_WORDS])
{
    if (!textindex_ready(self, seg) || nlen == 0 || s_seg_fd(self, seg) < 0)
        return false;
    ti_seg_t *s = &self->segs[seg];
    if (nlen < 3) {
        uint32_t lo = (uint32_t)s_fold(needle[0]) << 16, width = 1u << 16;
        if (nlen == 2) {
            lo |= (uint32_t)s_fold(needle[1]) << 8;
            width = 1u << 8;
        }
        int r = s_union_range(s, lo, lo + width, bits);
        if (r > 0)
            return true;
        if (r < 0) {
            char path[4096];
            s_seg_path(self, seg, path, sizeof path);
            l3_warn("search index %s is damaged; its commands are scanned", path);
            s_seg_close(self, s);
        }
        return false;
    }
    memset(bits, 0xff, TI_WORDS * sizeof *bits);
    /* Trigrams spread over the needle, the first and the last among them; any command
       that holds the needle holds them all. */
    size_t ntri = nlen - 2, take = ntri < TI_NEEDLE_TRIGRAMS ? ntri : TI_NEEDLE_TRIGRAMS;
    for (size_t t = 0; t < take; t++) {
        size_t i = take == 1 ? 0 : t * (ntri - 1) / (take - 1);
        uint32_t key = (uint32_t)s_fold(needle[i]) << 16 | (uint32_t)s_fold(needle[i + 1]) << 8 |
                       s_fold(needle[i + 2]);
        ti_entry_t e;
        int r = s_lookup(s, key, &e);
        if (r == 0) {
            memset(bits, 0, TI_WORDS * sizeof *bits); /* no command holds it */
            return true;
        }
        if (r < 0 || !s_merge_list(s, &e, bits, false)) {
            char path[4096];
            s_seg_path(self, seg, path, sizeof path);
            l3_warn("search index %s is damaged; its commands are scanned", path);
            s_seg_close(self, s);
            return false;
        }
    }
    return true;
}
