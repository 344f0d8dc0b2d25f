/*  index — render's index of the datafile and its derived index file. See index.h. */
#include "index.h"
#include "l3_log.h"
#include "l3_time.h"
#include "l3_xmlrec.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IDX_MAGIC "L3RIDX02"
#define IDX_PREFIX 256 /* datafile bytes whose hash ties an index file to it */
#define IDX_STR_MAX 255
#define IDX_WORD_MAX 64
#define SCAN_CHUNK (8u << 20)

/* One index-file entry; the strings (host, user, sid, tty, word) follow it. */
typedef struct {
    uint8_t kind; /* 'S' session, 'C' command, 'E' end */
    uint8_t sig, flags, has_exit;
    uint16_t cols, rows;
    uint16_t slen[5];
    uint16_t note;
    uint32_t len;
    int32_t exit_code;
    uint32_t nr;
    uint32_t check; /* hash of the line's first bytes */
    uint64_t off;
    int64_t start_us, end_us;
} ent_t;

typedef struct {
    ent_t e;
    char s[5][IDX_STR_MAX + 1];
} entry_t;

/* Open-addressing hash from a 64-bit key to a 32-bit value (value+1 stored, 0 = empty). */
typedef struct {
    uint64_t *keys;
    uint32_t *vals;
    size_t cap, count;
} map_t;

struct index_t {
    char *datafile, *idxpath;
    int fd;
    FILE *idx;
    uint64_t pos, size, generation;
    bool skipping; /* inside a line too long to index */
    index_cmd_t *cmds;
    uint32_t ncmds, capcmds;
    index_sess_t *sess;
    uint32_t nsess, capsess;
    /* strings: id 0 is "" */
    char **strs;
    uint32_t nstrs, capstrs;
    map_t strmap;  /* hash(string) -> id, collisions resolved by probing on content */
    map_t sessmap; /* (host id << 32 | sid id) -> session */
    uint8_t *buf;
    size_t bufcap;
};

static uint64_t s_hash(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static uint64_t s_mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}

static bool s_map_grow(map_t *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 1024;
    uint64_t *keys = calloc(ncap, sizeof *keys);
    uint32_t *vals = calloc(ncap, sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return false;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->vals[i])
            continue;
        size_t j = s_mix(m->keys[i]) & (ncap - 1);
        while (vals[j])
            j = (j + 1) & (ncap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = ncap;
    return true;
}

/* ---------------------------------------------------------------- strings */

static uint32_t s_str_find(index_t *self, const char *s, size_t len, uint64_t h, size_t *slot)
{
    map_t *m = &self->strmap;
    if (!m->cap)
        return 0;
    size_t j = s_mix(h) & (m->cap - 1);
    while (m->vals[j]) {
        if (m->keys[j] == h) {
            const char *t = self->strs[m->vals[j] - 1];
            if (strlen(t) == len && memcmp(t, s, len) == 0)
                return m->vals[j] - 1;
        }
        j = (j + 1) & (m->cap - 1);
    }
    if (slot)
        *slot = j;
    return 0;
}

static uint32_t s_intern(index_t *self, const char *s)
{
    size_t len = strlen(s);
    if (len == 0)
        return 0;
    uint64_t h = s_hash(s, len);
    uint32_t id = s_str_find(self, s, len, h, NULL);
    if (id)
        return id;
    if ((self->strmap.count + 1) * 2 > self->strmap.cap && !s_map_grow(&self->strmap))
        return 0;
    if (self->nstrs == self->capstrs) {
        uint32_t ncap = self->capstrs ? self->capstrs * 2 : 1024;
        char **n = realloc(self->strs, ncap * sizeof *n);
        if (!n)
            return 0;
        self->strs = n;
        self->capstrs = ncap;
    }
    char *copy = strdup(s);
    if (!copy)
        return 0;
    size_t slot = 0;
    s_str_find(self, s, len, h, &slot);
    id = self->nstrs;
    self->strs[self->nstrs++] = copy;
    self->strmap.keys[slot] = h;
    self->strmap.vals[slot] = id + 1;
    self->strmap.count++;
    return id;
}

const char *index_str(index_t *self, uint32_t id)
{
    return id < self->nstrs ? self->strs[id] : "";
}

uint32_t index_str_id(index_t *self, const char *s)
{
    size_t len = strlen(s);
    return len ? s_str_find(self, s, len, s_hash(s, len), NULL) : 0;
}

/* ---------------------------------------------------------------- sessions */

static uint32_t s_session(index_t *self, uint32_t host, uint32_t user, uint32_t sid)
{
    uint64_t key = ((uint64_t)host << 32) | sid;
    map_t *m = &self->sessmap;
    if (m->cap) {
        size_t j = s_mix(key) & (m->cap - 1);
        while (m->vals[j]) {
            if (m->keys[j] == key)
                return m->vals[j] - 1;
            j = (j + 1) & (m->cap - 1);
        }
    }
    if ((m->count + 1) * 2 > m->cap && !s_map_grow(m))
        return UINT32_MAX;
    if (self->nsess == self->capsess) {
        uint32_t ncap = self->capsess ? self->capsess * 2 : 256;
        index_sess_t *n = realloc(self->sess, ncap * sizeof *n);
        if (!n)
            return UINT32_MAX;
        self->sess = n;
        self->capsess = ncap;
    }
    index_sess_t *s = &self->sess[self->nsess];
    memset(s, 0, sizeof *s);
    s->host = host;
    s->user = user;
    s->sid = sid;
    s->exit_code = INDEX_NO_EXIT;
    size_t j = s_mix(key) & (m->cap - 1);
    while (m->vals[j])
        j = (j + 1) & (m->cap - 1);
    m->keys[j] = key;
    m->vals[j] = self->nsess + 1;
    m->count++;
    return self->nsess++;
}

/* Apply one entry to the index: the one code path for the scan and the index file. */
static bool s_apply(index_t *self, const entry_t *en)
{
    const ent_t *e = &en->e;
    uint32_t host = s_intern(self, en->s[0]);
    uint32_t user = s_intern(self, en->s[1]);
    uint32_t sid = s_intern(self, en->s[2]);
    uint32_t si = s_session(self, host, user, sid);
    if (si == UINT32_MAX)
        return false;
    index_sess_t *s = &self->sess[si];
    if (e->kind == 'S') {
        s->declared = true;
        s->user = user;
        s->tty = s_intern(self, en->s[3]);
        s->start_us = e->start_us;
        s->cols = e->cols;
        s->rows = e->rows;
    } else if (e->kind == 'E') {
        s->ended = true;
        s->end_us = e->end_us;
        s->exit_code = e->has_exit ? e->exit_code : INDEX_NO_EXIT;
        s->sig = e->sig;
        s->flags = e->flags;
    } else {
        if (self->ncmds == UINT32_MAX - 1)
            return false;
        if (self->ncmds == self->capcmds) {
            uint32_t ncap = self->capcmds ? self->capcmds * 2 : 4096;
            index_cmd_t *n = realloc(self->cmds, (size_t)ncap * sizeof *n);
            if (!n)
                return false;
            self->cmds = n;
            self->capcmds = ncap;
        }
        if (s->ncmds == s->capcmds) {
            uint32_t ncap = s->capcmds ? s->capcmds * 2 : 16;
            uint32_t *n = realloc(s->cmds, (size_t)ncap * sizeof *n);
            if (!n)
                return false;
            s->cmds = n;
            s->capcmds = ncap;
        }
        index_cmd_t *c = &self->cmds[self->ncmds];
        memset(c, 0, sizeof *c);
        c->off = e->off;
        c->len = e->len;
        c->start_us = e->start_us;
        c->end_us = e->end_us;
        c->sess = si;
        c->nr = e->nr;
        c->word = s_intern(self, en->s[4]);
        c->exit_code = e->has_exit ? e->exit_code : INDEX_NO_EXIT;
        c->sig = e->sig;
        c->flags = e->flags;
        c->note = (uint8_t)e->note;
        if (!s->start_us || (c->start_us && c->start_us < s->start_us))
            s->start_us = c->start_us;
        s->cmds[s->ncmds++] = self->ncmds++;
    }
    self->generation++;
    return true;
}

/* ---------------------------------------------------------------- line parsing */

/* A text attribute, unescaped, into buf (IDX_STR_MAX + 1 bytes); "" when absent or longer.
   The raw value is read into room for its escaped form: a name of L3_NAME_MAX bytes may
   take six times that in the line ("&quot;"), and cutting it there dropped the record. */
static void s_attr_str(const char *line, size_t len, const char *name, char *buf)
{
    char raw[6 * IDX_STR_MAX + 1];
    buf[0] = 0;
    if (l3_xmlrec_attr(line, len, name, raw, sizeof raw) < 0)
        return;
    l3_xml_unescape(raw);
    if (strlen(raw) <= IDX_STR_MAX)
        memcpy(buf, raw, strlen(raw) + 1);
}

static int64_t s_attr_time(const char *line, size_t len, const char *name)
{
    char text[64];
    int64_t us = 0;
    if (l3_xmlrec_attr(line, len, name, text, sizeof text) > 0 && l3_time_parse(text, &us))
        return us;
    return 0;
}

static int64_t s_attr_int(const char *line, size_t len, const char *name, bool *present)
{
    char text[32];
    *present = false;
    if (l3_xmlrec_attr(line, len, name, text, sizeof text) <= 0)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end)
        return 0;
    *present = true;
    return v;
}

/* The first word of the <line> text: what the statistics count and notes detect. */
static void s_first_word(const char *line, size_t len, char *word, uint16_t *note)
{
    word[0] = 0;
    *note = 0;
    const char *p = memmem(line, len, "<line>", 6);
    if (!p)
        return;
    p += 6;
    const char *end = line + len;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p < end && *p == '#') {
        *note = 1;
        return;
    }
    size_t n = 0;
    while (p < end && n < IDX_WORD_MAX && *p != ' ' && *p != '<' && *p != '&' && *p != ';' &&
           *p != '|' && *p != '\t' && *p != '(' && *p != ')') {
        word[n++] = *p++;
    }
    word[n] = 0;
}

static uint32_t s_check(const char *line, size_t len)
{
    return (uint32_t)s_hash(line, len < 48 ? len : 48);
}

/* Turn one record line into an entry; false when it is not a record. */
static bool s_line_entry(const char *line, size_t len, uint64_t off, entry_t *en)
{
    memset(&en->e, 0, sizeof en->e);
    ent_t *e = &en->e;
    if (len > 9 && memcmp(line, "<command ", 9) == 0)
        e->kind = 'C';
    else if (len > 9 && memcmp(line, "<session ", 9) == 0)
        e->kind = 'S';
    else if (len > 5 && memcmp(line, "<end ", 5) == 0)
        e->kind = 'E';
    else
        return false;
    e->off = off;
    e->len = (uint32_t)len;
    e->check = s_check(line, len);
    s_attr_str(line, len, "host", en->s[0]);
    s_attr_str(line, len, "user", en->s[1]);
    s_attr_str(line, len, "sid", en->s[2]);
    en->s[3][0] = en->s[4][0] = 0;
    if (!en->s[0][0] || !en->s[2][0])
        return false;
    e->start_us = s_attr_time(line, len, "start");
    e->end_us = s_attr_time(line, len, "end");
    bool present;
    if (e->kind == 'S') {
        s_attr_str(line, len, "tty", en->s[3]);
        e->cols = (uint16_t)s_attr_int(line, len, "cols", &present);
        e->rows = (uint16_t)s_attr_int(line, len, "rows", &present);
    } else {
        int64_t x = s_attr_int(line, len, "exit", &present);
        e->has_exit = present;
        e->exit_code = (int32_t)x;
        e->sig = (uint8_t)s_attr_int(line, len, "signal", &present);
        char flags[128];
        uint32_t f = 0;
        if (l3_xmlrec_attr(line, len, "flags", flags, sizeof flags) > 0 &&
            l3_record_flags_parse(flags, &f))
            e->flags = (uint8_t)f;
        if (e->kind == 'C') {
            e->nr = (uint32_t)s_attr_int(line, len, "nr", &present);
            s_first_word(line, len, en->s[4], &e->note);
        }
    }
    for (int i = 0; i < 5; i++)
        e->slen[i] = (uint16_t)strlen(en->s[i]);
    return true;
}

static void s_idx_write(index_t *self, const entry_t *en)
{
    if (!self->idx)
        return;
    fwrite(&en->e, sizeof en->e, 1, self->idx);
    for (int i = 0; i < 5; i++)
        if (en->e.slen[i])
            fwrite(en->s[i], en->e.slen[i], 1, self->idx);
}

/* ---------------------------------------------------------------- life cycle */

index_t *index_new(const char *datafile, const char *idxpath)
{
    index_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->fd = open(datafile, O_RDONLY | O_CLOEXEC);
    if (self->fd < 0) {
        l3_error("cannot open datafile %s: %s", datafile, strerror(errno));
        free(self);
        return NULL;
    }
    self->datafile = strdup(datafile);
    self->idxpath = idxpath ? strdup(idxpath) : NULL;
    /* id 0 is the empty string; it is never in the map. */
    self->strs = calloc(1024, sizeof *self->strs);
    self->capstrs = 1024;
    if (self->strs)
        self->strs[0] = strdup("");
    if (!self->datafile || !self->strs || !self->strs[0]) {
        self->nstrs = self->strs && self->strs[0] ? 1 : 0;
        index_destroy(&self);
        return NULL;
    }
    self->nstrs = 1;
    return self;
}

void index_destroy(index_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    index_t *self = *self_p;
    if (self->idx)
        fclose(self->idx);
    if (self->fd >= 0)
        close(self->fd);
    for (uint32_t i = 0; i < self->nsess; i++)
        free(self->sess[i].cmds);
    for (uint32_t i = 0; i < self->nstrs; i++)
        free(self->strs[i]);
    free(self->strs);
    free(self->sess);
    free(self->cmds);
    free(self->strmap.keys);
    free(self->strmap.vals);
    free(self->sessmap.keys);
    free(self->sessmap.vals);
    free(self->buf);
    free(self->datafile);
    free(self->idxpath);
    free(self);
    *self_p = NULL;
}

static bool s_prefix_hash(index_t *self, uint64_t *hash, uint32_t *n)
{
    uint8_t head[IDX_PREFIX];
    ssize_t got = pread(self->fd, head, sizeof head, 0);
    if (got < 0)
        return false;
    *n = (uint32_t)got;
    *hash = s_hash(head, (size_t)got);
    return true;
}

/* Start a fresh index file (header only). */
static void s_idx_create(index_t *self)
{
    if (self->idx) {
        fclose(self->idx);
        self->idx = NULL;
    }
    if (!self->idxpath)
        return;
    self->idx = fopen(self->idxpath, "w");
    if (!self->idx) {
        l3_warn("cannot write index file %s (%s); indexing in memory only", self->idxpath,
                strerror(errno));
        return;
    }
    setvbuf(self->idx, NULL, _IOFBF, 1 << 20);
    uint64_t hash = 0;
    uint32_t n = 0;
    s_prefix_hash(self, &hash, &n);
    fwrite(IDX_MAGIC, 8, 1, self->idx);
    fwrite(&hash, sizeof hash, 1, self->idx);
    fwrite(&n, sizeof n, 1, self->idx);
    fflush(self->idx);
}

/* Drop everything indexed so far. */
static void s_reset(index_t *self)
{
    for (uint32_t i = 0; i < self->nsess; i++)
        free(self->sess[i].cmds);
    self->nsess = 0;
    self->ncmds = 0;
    self->sessmap.count = 0;
    if (self->sessmap.vals)
        memset(self->sessmap.vals, 0, self->sessmap.cap * sizeof *self->sessmap.vals);
    self->pos = 0;
    self->generation++;
}

/* Does the entry's line still read the same in the datafile? */
static bool s_entry_matches(index_t *self, const ent_t *e)
{
    char head[48];
    size_t n = e->len < sizeof head ? e->len : sizeof head;
    char last;
    if (pread(self->fd, head, n, (off_t)e->off) != (ssize_t)n)
        return false;
    if (pread(self->fd, &last, 1, (off_t)(e->off + e->len - 1)) != 1 || last != '\n')
        return false;
    return s_check(head, n) == e->check;
}

uint64_t index_load(index_t *self)
{
    uint64_t loaded = 0;
    FILE *in = NULL;
    struct stat st;
    if (!self->idxpath)
        goto fresh;
    in = fopen(self->idxpath, "r");
    if (!in)
        goto fresh;
    setvbuf(in, NULL, _IOFBF, 1 << 20);
    char magic[8];
    uint64_t hash = 0, myhash = 0;
    uint32_t n = 0, myn = 0;
    if (fread(magic, 8, 1, in) != 1 || memcmp(magic, IDX_MAGIC, 8) != 0 ||
        fread(&hash, sizeof hash, 1, in) != 1 || fread(&n, sizeof n, 1, in) != 1) {
        l3_info("index file %s is not ours or empty; rebuilding", self->idxpath);
        goto fresh;
    }
    if (!s_prefix_hash(self, &myhash, &myn) || myn < n) {
        l3_info("index file %s is stale (datafile shorter); rebuilding", self->idxpath);
        goto fresh;
    }
    {
        /* The datafile may have grown since: compare only the prefix the index saw. */
        uint8_t head[IDX_PREFIX];
        if (pread(self->fd, head, n, 0) != (ssize_t)n || s_hash(head, n) != hash) {
            l3_info("index file %s belongs to another datafile; rebuilding", self->idxpath);
            goto fresh;
        }
    }
    fstat(self->fd, &st);
    long good_end = ftell(in);
    entry_t en;
    ent_t last = {0};
    int64_t t0 = l3_time_mono_us();
    for (;;) {
        if (fread(&en.e, sizeof en.e, 1, in) != 1)
            break;
        bool ok = (en.e.kind == 'C' || en.e.kind == 'S' || en.e.kind == 'E') &&
                  en.e.off + en.e.len <= (uint64_t)st.st_size && en.e.off >= self->pos;
        for (int i = 0; ok && i < 5; i++) {
            if (en.e.slen[i] > IDX_STR_MAX ||
                (en.e.slen[i] && fread(en.s[i], en.e.slen[i], 1, in) != 1))
                ok = false;
            else
                en.s[i][en.e.slen[i]] = 0;
        }
        if (!ok)
            break;
        /* Spot-check every 65536th line, and the last one below, against the datafile. */
        if ((loaded & 0xffff) == 0 && !s_entry_matches(self, &en.e)) {
            l3_info("index file %s does not match the datafile; rebuilding", self->idxpath);
            goto fresh;
        }
        if (!s_apply(self, &en))
            goto fresh;
        self->pos = en.e.off + en.e.len;
        last = en.e;
        loaded++;
        good_end = ftell(in);
    }
    if (loaded && !s_entry_matches(self, &last)) {
        l3_info("index file %s is stale; rebuilding", self->idxpath);
        goto fresh;
    }
    fclose(in);
    in = NULL;
    /* Reopen for appending after the last good entry (a torn tail is cut). */
    if (truncate(self->idxpath, good_end) == 0)
        self->idx = fopen(self->idxpath, "a");
    if (self->idx)
        setvbuf(self->idx, NULL, _IOFBF, 1 << 20);
    l3_info("index file %s: %" PRIu64 " records up to byte %" PRIu64 " in %.2f s", self->idxpath,
            loaded, self->pos, (double)(l3_time_mono_us() - t0) / 1e6);
    return loaded;

fresh:
    if (in)
        fclose(in);
    s_reset(self);
    s_idx_create(self);
    return 0;
}

/* ---------------------------------------------------------------- scanning */

int64_t index_scan(index_t *self, uint64_t limit, uint64_t max_bytes, bool *more)
{
    struct stat st;
    int64_t added = 0;
    *more = false;
    if (fstat(self->fd, &st) != 0)
        return -1;
    self->size = (uint64_t)st.st_size;
    if (self->size < self->pos) {
        /* The datafile shrank below what we indexed: it was replaced. Start over. */
        l3_warn("datafile %s shrank below the indexed offset; re-indexing", self->datafile);
        s_reset(self);
        s_idx_create(self);
    }
    uint64_t end = limit < self->size ? limit : self->size;
    if (end <= self->pos)
        return 0; /* nothing new below the limit */
    uint64_t stop = end - self->pos > max_bytes ? self->pos + max_bytes : end;
    entry_t en;
    while (self->pos < stop) {
        size_t want = self->bufcap > SCAN_CHUNK ? self->bufcap : SCAN_CHUNK;
        if (want > end - self->pos)
            want = (size_t)(end - self->pos);
        if (self->bufcap < want) {
            uint8_t *n = realloc(self->buf, want);
            if (!n)
                return -1;
            self->buf = n;
            self->bufcap = want;
        }
        ssize_t got = pread(self->fd, self->buf, want, (off_t)self->pos);
        if (got < 0) {
            l3_error("read %s: %s", self->datafile, strerror(errno));
            return -1;
        }
        if (got == 0)
            break;
        const char *p = (const char *)self->buf, *bend = p + got;
        size_t consumed = 0;
        bool footer = false;
        while (p < bend) {
            const char *nl = memchr(p, '\n', (size_t)(bend - p));
            if (!nl)
                break;
            size_t len = (size_t)(nl - p) + 1;
            if (self->skipping) {
                self->skipping = false; /* the tail of an over-long line */
            } else if (len >= 9 && memcmp(p, "</lilalo>", 9) == 0) {
                footer = true; /* the writer overwrites it with the next records */
                break;
            } else if (s_line_entry(p, len, self->pos + consumed, &en) && s_apply(self, &en)) {
                s_idx_write(self, &en);
                added++;
            }
            consumed += len;
            p = nl + 1;
        }
        if (consumed == 0 && !footer) {
            if (self->pos + (uint64_t)got >= end)
                break; /* an incomplete last line: wait for the rest */
            if (self->bufcap >= INDEX_LINE_MAX) {
                l3_warn("skipping an over-long line at offset %" PRIu64, self->pos);
                self->pos += (uint64_t)got;
                self->skipping = true;
                continue;
            }
            uint8_t *n = realloc(self->buf, self->bufcap * 2); /* a long line: read it whole */
            if (!n)
                return -1;
            self->buf = n;
            self->bufcap *= 2;
            continue;
        }
        self->pos += consumed;
        if (footer)
            break;
    }
    if (self->idx)
        fflush(self->idx);
    *more = self->pos < end && self->pos >= stop && stop < end;
    if (self->bufcap > SCAN_CHUNK * 2) {
        free(self->buf);
        self->buf = NULL;
        self->bufcap = 0;
    }
    return added;
}

uint64_t index_pos(index_t *self)
{
    return self->pos;
}

uint64_t index_file_size(index_t *self)
{
    return self->size;
}

const index_cmd_t *index_cmds(index_t *self, uint32_t *count)
{
    *count = self->ncmds;
    return self->cmds;
}

const index_sess_t *index_sessions(index_t *self, uint32_t *count)
{
    *count = self->nsess;
    return self->sess;
}

uint64_t index_generation(index_t *self)
{
    return self->generation;
}

int index_fd(index_t *self)
{
    return self->fd;
}

bool index_read_line(index_t *self, uint64_t off, uint32_t len, l3_buf_t *out)
{
    l3_buf_reset(out);
    if (!l3_buf_reserve(out, len))
        return false;
    size_t done = 0;
    while (done < len) {
        ssize_t got = pread(self->fd, out->data + done, len - done, (off_t)(off + done));
        if (got <= 0)
            return false;
        done += (size_t)got;
    }
    out->len = len;
    return true;
}

bool index_load_cmd(index_t *self, uint32_t ord, l3_record_t *rec)
{
    l3_record_init(rec);
    if (ord >= self->ncmds)
        return false;
    const index_cmd_t *c = &self->cmds[ord];
    l3_buf_t line;
    l3_buf_init(&line, INDEX_LINE_MAX);
    bool ok = false;
    char err[256];
    if (!index_read_line(self, c->off, c->len, &line))
        goto cleanup;
    if (!l3_xmlrec_parse(line.data, line.len, rec, err, sizeof err)) {
        l3_warn("record at offset %" PRIu64 ": %s", c->off, err);
        goto cleanup;
    }
    ok = true;
cleanup:
    l3_buf_free(&line);
    return ok;
}
