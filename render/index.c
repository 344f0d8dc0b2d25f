/*  index — render's index of the datafile and its derived index file. See index.h. */
#include "index.h"
#include "l3_log.h"
#include "l3_parts.h"
#include "l3_time.h"
#include "l3_xmlrec.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define IDX_MAGIC "L3RIDX03"
#define IDX_PREFIX 256 /* bytes of its first part whose hash ties an index file to it */
#define IDX_STR_MAX 255
#define IDX_WORD_MAX 64
#define SCAN_CHUNK (8u << 20)
#define IDX_HEADER 32 /* magic, prefix hash, prefix length, first part, its ordinal base */

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

/* One part of the datafile (l3_parts.h): the live file, or a closed part beside it. The
   index names a record by INDEX_OFF(part, offset in the part's file). */
typedef struct {
    uint32_t part;
    int fd;      /* -1 once retention removed (or archived) it: its records are not kept */
    bool closed; /* a later part is live: its end is final */
    dev_t dev;
    ino_t ino;
    uint64_t size;   /* when last looked at */
    uint64_t before; /* commands in the parts before it (its header's commands-before) */
} ipart_t;

struct index_t {
    char *datafile, *idxpath, *snappath;
    char *dir;                /* the datafile's directory, where its parts are */
    struct timespec dir_mtime; /* when it was listed: its mtime then */
    ipart_t *parts; /* by part number */
    size_t nparts, capparts;
    uint32_t live;              /* the part the datafile's name holds */
    uint32_t base_part;         /* the first part the index knows (the index file's header) */
    uint64_t ord_base;          /* commands before it: command ordinals count from here */
    uint64_t id_hash;           /* the index file's tie to its first part (IDX_PREFIX) */
    uint32_t id_n;
    index_fd_fn *on_fd;         /* told of every part descriptor opened or closed */
    void *on_fd_arg;
    FILE *idx;
    uint64_t pos, generation;
    bool skipping;     /* inside a line too long to index */
    index_cmd_t *cmds; /* in the reserved region: the snapshot's, then anonymous */
    uint32_t ncmds, capcmds;
    size_t cmds_mapped;           /* bytes of the region mapped so far (file or anonymous) */
    size_t cmds_file;             /* its first bytes that are snapshot pages never written to */
    uint64_t entries;             /* records applied (sessions, commands, ends) */
    uint64_t log_end;             /* byte offset after the last entry in the index file */
    ent_t log_last;               /* that entry (for a snapshot to name) */
    uint64_t log_last_at;         /* and where it starts */
    uint64_t snap_entries;        /* entries covered by the snapshot loaded or written */
    uint64_t snap_every;          /* write a snapshot when this many entries are not in one */
    pid_t snap_pid;               /* the child writing one, 0 none */
    uint32_t snap_ncmds;          /* the commands it holds */
    uint64_t resets, snap_resets; /* s_reset calls, and their number when it was forked */
    void *snap_map;               /* the snapshot's session command lists, mapped */
    size_t snap_maplen;
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

/* ---------------------------------------------------------------- the command array */

/* The command array lives in one reserved stretch of address space, so that it stays one
   array (index_cmds) while its first part is the snapshot file mapped copy-on-write
   (page cache, not render's heap: memory that does not grow with history) and what comes
   after is anonymous memory added at its end. */
#define CMDS_RESERVE ((size_t)64 << 30) /* 1.4 billion commands */
#define CMDS_STEP ((size_t)4 << 20)

static bool s_cmds_reserve(index_t *self)
{
    if (self->cmds)
        return true;
    void *p =
        mmap(NULL, CMDS_RESERVE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        l3_error("cannot reserve address space for the index: %s", strerror(errno));
        return false;
    }
    self->cmds = p;
    self->cmds_mapped = 0;
    self->capcmds = 0;
    return true;
}

static bool s_cmds_grow(index_t *self)
{
    if (!s_cmds_reserve(self))
        return false;
    size_t more = self->cmds_mapped < CMDS_STEP ? CMDS_STEP : self->cmds_mapped / 4;
    more = (more + CMDS_STEP - 1) / CMDS_STEP * CMDS_STEP;
    if (self->cmds_mapped + more > CMDS_RESERVE)
        return false;
    void *at = (uint8_t *)self->cmds + self->cmds_mapped;
    if (mmap(at, more, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
        MAP_FAILED) {
        l3_error("cannot grow the index: %s", strerror(errno));
        return false;
    }
    self->cmds_mapped += more;
    uint64_t cap = self->cmds_mapped / sizeof(index_cmd_t);
    self->capcmds = cap > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)cap;
    return true;
}

/* Give the whole region back (and reserve it anew on the next append). */
static void s_cmds_release(index_t *self)
{
    if (self->cmds)
        munmap(self->cmds, CMDS_RESERVE);
    self->cmds = NULL;
    self->cmds_mapped = 0;
    self->cmds_file = 0;
    self->capcmds = 0;
    self->ncmds = 0;
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
        if (self->ncmds == self->capcmds && !s_cmds_grow(self))
            return false;
        if (s->ncmds >= s->capcmds) {
            //  capcmds 0 with commands: the list is the snapshot's, mapped: copy it.
            uint32_t ncap = s->capcmds ? s->capcmds * 2 : s->ncmds < 8 ? 16 : s->ncmds * 2;
            uint32_t *n = malloc((size_t)ncap * sizeof *n);
            if (!n)
                return false;
            if (s->ncmds)
                memcpy(n, s->cmds, (size_t)s->ncmds * sizeof *n);
            if (s->capcmds)
                free(s->cmds);
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
    self->entries++;
    return true;
}

/* ---------------------------------------------------------------- line parsing */

/* A text attribute, unescaped, into buf (IDX_STR_MAX + 1 bytes); "" when absent or longer.
   The raw value is read into room for its escaped form: a name of L3_NAME_MAX bytes may
   take six times that in the line ("&quot;"), and cutting it there dropped the record. */
static void s_attr_str(const l3_xmlrec_tag_t *tag, const char *name, char *buf)
{
    char raw[6 * IDX_STR_MAX + 1];
    buf[0] = 0;
    if (l3_xmlrec_tag_attr(tag, name, raw, sizeof raw) < 0)
        return;
    l3_xml_unescape(raw);
    if (strlen(raw) <= IDX_STR_MAX)
        memcpy(buf, raw, strlen(raw) + 1);
}

static int64_t s_attr_time(const l3_xmlrec_tag_t *tag, const char *name)
{
    char text[64];
    int64_t us = 0;
    if (l3_xmlrec_tag_attr(tag, name, text, sizeof text) > 0 && l3_time_parse(text, &us))
        return us;
    return 0;
}

static int64_t s_attr_int(const l3_xmlrec_tag_t *tag, const char *name, bool *present)
{
    char text[32];
    *present = false;
    if (l3_xmlrec_tag_attr(tag, name, text, sizeof text) <= 0)
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
    l3_xmlrec_tag_t tag;
    l3_xmlrec_tag(line, len, &tag);
    s_attr_str(&tag, "host", en->s[0]);
    s_attr_str(&tag, "user", en->s[1]);
    s_attr_str(&tag, "sid", en->s[2]);
    en->s[3][0] = en->s[4][0] = 0;
    if (!en->s[0][0] || !en->s[2][0])
        return false;
    e->start_us = s_attr_time(&tag, "start");
    e->end_us = s_attr_time(&tag, "end");
    bool present;
    if (e->kind == 'S') {
        s_attr_str(&tag, "tty", en->s[3]);
        e->cols = (uint16_t)s_attr_int(&tag, "cols", &present);
        e->rows = (uint16_t)s_attr_int(&tag, "rows", &present);
    } else {
        int64_t x = s_attr_int(&tag, "exit", &present);
        e->has_exit = present;
        e->exit_code = (int32_t)x;
        e->sig = (uint8_t)s_attr_int(&tag, "signal", &present);
        char flags[128];
        uint32_t f = 0;
        if (l3_xmlrec_tag_attr(&tag, "flags", flags, sizeof flags) > 0 &&
            l3_record_flags_parse(flags, &f))
            e->flags = (uint8_t)f;
        if (e->kind == 'C') {
            e->nr = (uint32_t)s_attr_int(&tag, "nr", &present);
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
    self->log_last_at = self->log_end;
    self->log_last = en->e;
    self->log_end += sizeof en->e;
    for (int i = 0; i < 5; i++)
        if (en->e.slen[i]) {
            fwrite(en->s[i], en->e.slen[i], 1, self->idx);
            self->log_end += en->e.slen[i];
        }
}

/* ---------------------------------------------------------------- parts */

static ipart_t *s_part(index_t *self, uint32_t part)
{
    size_t lo = 0, hi = self->nparts;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (self->parts[mid].part < part)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < self->nparts && self->parts[lo].part == part ? &self->parts[lo] : NULL;
}

/* The first part known at or after `part`, NULL when none. */
static ipart_t *s_part_from(index_t *self, uint32_t part)
{
    for (size_t i = 0; i < self->nparts; i++)
        if (self->parts[i].part >= part)
            return &self->parts[i];
    return NULL;
}

static void s_part_close(index_t *self, ipart_t *p)
{
    if (p->fd < 0)
        return;
    if (self->on_fd)
        self->on_fd(p->fd, false, self->on_fd_arg);
    close(p->fd);
    p->fd = -1;
}

/* The part number and commands-before a datafile's header names: part 0 for a datafile
   never rotated, or for one whose header is not all there yet, or not one at all (its
   lines are read as ever: what is not a record is skipped). */
static uint32_t s_header_part(int fd, uint64_t *before)
{
    uint8_t head[L3_XML_HEADER_MAX];
    ssize_t got = pread(fd, head, sizeof head, 0);
    l3_xml_head_t h;
    *before = 0;
    if (got <= 0 || l3_xml_header_parse(head, (size_t)got, &h) != 1)
        return 0;
    *before = h.commands_before;
    return h.part;
}

/* Add part `part` read from fd (taken over; it is closed when it cannot be added). */
static ipart_t *s_part_add(index_t *self, uint32_t part, int fd, uint64_t before)
{
    struct stat st;
    if (s_part(self, part) || fstat(fd, &st) != 0) {
        close(fd);
        return NULL;
    }
    if (self->nparts == self->capparts) {
        size_t ncap = self->capparts ? self->capparts * 2 : 8;
        ipart_t *n = realloc(self->parts, ncap * sizeof *n);
        if (!n) {
            close(fd);
            return NULL;
        }
        self->parts = n;
        self->capparts = ncap;
    }
    size_t at = self->nparts;
    while (at > 0 && self->parts[at - 1].part > part)
        at--;
    memmove(&self->parts[at + 1], &self->parts[at], (self->nparts - at) * sizeof *self->parts);
    self->nparts++;
    ipart_t *p = &self->parts[at];
    *p = (ipart_t){part, fd, false, st.st_dev, st.st_ino, (uint64_t)st.st_size, before};
    if (self->on_fd)
        self->on_fd(fd, true, self->on_fd_arg);
    return p;
}

/* Look again at the datafile's name and the parts beside it: a new file under the live
   name (the writer rotated; the file we had open is the closed part it became), closed
   parts not open yet, parts retention removed or archived (their records read as no
   longer kept, and their descriptors are closed so that the space is freed). false when
   the live name holds a file that does not follow the one we had: the datafile was
   replaced, and the caller starts over. */
static bool s_parts_refresh(index_t *self)
{
    struct stat st;
    bool rotated = false;
    ipart_t *live = s_part(self, self->live);
    if (stat(self->datafile, &st) == 0 &&
        (!live || live->fd < 0 || live->dev != st.st_dev || live->ino != st.st_ino)) {
        int fd = open(self->datafile, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            uint64_t before;
            uint32_t part = s_header_part(fd, &before);
            if (live && part <= self->live) {
                close(fd);
                return false;
            }
            if (live)
                l3_info("%s: the writer rotated it; part %" PRIu32 " is live now", self->datafile,
                        part);
            if (s_part_add(self, part, fd, before)) {
                self->live = part;
                rotated = true;
            }
        }
    }
    //  This runs before every scan (each commit): the directory is listed only when
    //  something in it may have changed. A rotation, a new mtime, or an mtime so recent
    //  that a second change within the same clock tick could hide behind it (as git treats
    //  a racily clean file).
    struct stat ds;
    if (self->dir && stat(self->dir, &ds) == 0) {
        if (!rotated && ds.st_mtim.tv_sec == self->dir_mtime.tv_sec &&
            ds.st_mtim.tv_nsec == self->dir_mtime.tv_nsec && time(NULL) - ds.st_mtim.tv_sec > 2)
            return true;
        self->dir_mtime = ds.st_mtim;
    }
    l3_part_t *v = NULL;
    size_t n = 0;
    if (!l3_parts_list(self->datafile, false, &v, &n))
        return true; /* the directory cannot be read for now: keep what we have */
    size_t j = 0;
    for (size_t i = 0; i < self->nparts; i++) {
        ipart_t *p = &self->parts[i];
        while (j < n && v[j].part < p->part)
            j++;
        bool there = j < n && v[j].part == p->part && !v[j].gz;
        if (p->part < self->live && p->fd >= 0 && !there) {
            l3_info("%s: part %" PRIu32 " was removed or archived; its commands are no longer "
                    "kept in the journal",
                    self->datafile, p->part);
            s_part_close(self, p);
            self->generation++; /* pages that showed them are out of date */
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].gz || v[i].part >= self->live || s_part(self, v[i].part))
            continue;
        int fd = open(v[i].path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        uint64_t before;
        if (s_header_part(fd, &before) != v[i].part) {
            l3_warn("%s does not say it is part %" PRIu32 " in its header; not read", v[i].path,
                    v[i].part);
            close(fd);
            continue;
        }
        s_part_add(self, v[i].part, fd, before);
    }
    l3_parts_free(v, n);
    for (size_t i = 0; i < self->nparts; i++)
        self->parts[i].closed = self->parts[i].part < self->live;
    return true;
}

/* Forget every part and open them afresh from their names: at start, and when the
   datafile was replaced. false (logged) when the live name cannot be opened. */
static bool s_parts_reopen(index_t *self)
{
    for (size_t i = 0; i < self->nparts; i++)
        s_part_close(self, &self->parts[i]);
    self->nparts = 0;
    self->dir_mtime = (struct timespec){0}; /* list the directory again */
    int fd = open(self->datafile, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        l3_error("cannot open datafile %s: %s", self->datafile, strerror(errno));
        return false;
    }
    uint64_t before;
    self->live = s_header_part(fd, &before);
    if (!s_part_add(self, self->live, fd, before))
        return false;
    s_parts_refresh(self);
    return true;
}

/* Is INDEX_OFF off (with len bytes after it) a place in the datafile? In a part no
   longer kept, any place is (what was there cannot be checked any more). */
static bool s_off_ok(index_t *self, uint64_t off, uint64_t len)
{
    uint32_t part = INDEX_OFF_PART(off);
    ipart_t *p = s_part(self, part);
    if (!p)
        return part < self->live;
    return p->fd < 0 || INDEX_OFF_LOCAL(off) + len <= p->size;
}

void index_set_fd_hook(index_t *self, index_fd_fn *fn, void *arg)
{
    self->on_fd = fn;
    self->on_fd_arg = arg;
    for (size_t i = 0; fn && i < self->nparts; i++)
        if (self->parts[i].fd >= 0)
            fn(self->parts[i].fd, true, arg);
}

int index_part_fd(index_t *self, uint64_t off)
{
    ipart_t *p = s_part(self, INDEX_OFF_PART(off));
    return p ? p->fd : -1;
}

bool index_cmd_kept(index_t *self, uint32_t ord)
{
    return ord < self->ncmds && index_part_fd(self, self->cmds[ord].off) >= 0;
}

uint64_t index_kept_from(index_t *self)
{
    for (size_t i = 0; i < self->nparts; i++)
        if (self->parts[i].fd >= 0)
            return INDEX_OFF(self->parts[i].part, 0);
    return INDEX_OFF(self->live, 0);
}

uint64_t index_ord_base(index_t *self)
{
    return self->ord_base;
}

void index_progress(index_t *self, uint64_t *done, uint64_t *total)
{
    *done = *total = 0;
    for (size_t i = 0; i < self->nparts; i++) {
        const ipart_t *p = &self->parts[i];
        if (p->fd < 0)
            continue;
        *total += p->size;
        if (p->part < INDEX_OFF_PART(self->pos))
            *done += p->size;
        else if (p->part == INDEX_OFF_PART(self->pos))
            *done += INDEX_OFF_LOCAL(self->pos);
    }
}

/* ---------------------------------------------------------------- life cycle */

index_t *index_new(const char *datafile, const char *idxpath)
{
    index_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->datafile = strdup(datafile);
    char dir[4096], stem[1024];
    if (l3_parts_split(datafile, dir, sizeof dir, stem, sizeof stem))
        self->dir = strdup(dir); /* NULL: listed at every scan */
    if (!self->datafile || !s_parts_reopen(self)) {
        free(self->dir);
        free(self->datafile);
        free(self->parts);
        free(self);
        return NULL;
    }
    self->idxpath = idxpath ? strdup(idxpath) : NULL;
    if (idxpath) {
        size_t n = strlen(idxpath) + sizeof ".snap";
        self->snappath = malloc(n);
        if (self->snappath)
            snprintf(self->snappath, n, "%s.snap", idxpath);
    }
    self->snap_every = INDEX_SNAPSHOT_EVERY;
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
    if (self->snap_pid > 0) {
        //  Stopping: the snapshot is not worth the wait (the next start writes one).
        kill(self->snap_pid, SIGKILL);
        while (waitpid(self->snap_pid, NULL, 0) < 0 && errno == EINTR)
            ;
        if (self->snappath) {
            char tmp[4200];
            snprintf(tmp, sizeof tmp, "%s.tmp", self->snappath);
            unlink(tmp);
        }
    }
    if (self->idx)
        fclose(self->idx);
    for (size_t i = 0; i < self->nparts; i++)
        s_part_close(self, &self->parts[i]);
    free(self->parts);
    for (uint32_t i = 0; i < self->nsess; i++)
        if (self->sess[i].capcmds)
            free(self->sess[i].cmds);
    if (self->snap_map)
        munmap(self->snap_map, self->snap_maplen);
    for (uint32_t i = 0; i < self->nstrs; i++)
        free(self->strs[i]);
    free(self->strs);
    free(self->sess);
    s_cmds_release(self);
    free(self->strmap.keys);
    free(self->strmap.vals);
    free(self->sessmap.keys);
    free(self->sessmap.vals);
    free(self->buf);
    free(self->datafile);
    free(self->dir);
    free(self->idxpath);
    free(self->snappath);
    free(self);
    *self_p = NULL;
}

/* The hash of the first *n bytes of part `part` (*n 0: up to IDX_PREFIX before any footer,
   and *n set): what ties an index file to its datafile (a part's header names its number
   and the time it was created; part 0's first records say whose it is). */
static bool s_prefix_hash(index_t *self, uint32_t part, uint64_t *hash, uint32_t *n)
{
    uint8_t head[IDX_PREFIX];
    ipart_t *p = s_part(self, part);
    size_t want = *n ? *n : sizeof head;
    if (!p || p->fd < 0 || want > sizeof head)
        return false;
    ssize_t got = pread(p->fd, head, want, 0);
    if (got < 0 || (*n && (size_t)got != want))
        return false;
    //  Not the footer: the writer overwrites it with the next records, and an index begun
    //  on a new, empty datafile would not know it at its next start.
    const uint8_t *footer = *n ? NULL : memmem(head, (size_t)got, "\n</lilalo>", 10);
    if (footer)
        got = footer - head + 1;
    *n = (uint32_t)got;
    *hash = s_hash(head, (size_t)got);
    return true;
}

/* A fresh index starts at the first part there is to read. */
static void s_base_choose(index_t *self)
{
    ipart_t *first = NULL;
    for (size_t i = 0; i < self->nparts && !first; i++)
        if (self->parts[i].fd >= 0)
            first = &self->parts[i];
    self->base_part = first ? first->part : self->live;
    self->ord_base = first ? first->before : 0;
    self->id_n = 0;
    self->id_hash = 0;
    s_prefix_hash(self, self->base_part, &self->id_hash, &self->id_n);
    self->pos = INDEX_OFF(self->base_part, 0);
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
    fwrite(IDX_MAGIC, 8, 1, self->idx);
    fwrite(&self->id_hash, sizeof self->id_hash, 1, self->idx);
    fwrite(&self->id_n, sizeof self->id_n, 1, self->idx);
    fwrite(&self->base_part, sizeof self->base_part, 1, self->idx);
    fwrite(&self->ord_base, sizeof self->ord_base, 1, self->idx);
    fflush(self->idx);
    self->log_end = IDX_HEADER;
    self->log_last_at = 0;
    if (self->snappath)
        unlink(self->snappath); /* it described the index file this one replaces */
}

/* Drop everything indexed so far. */
static void s_reset(index_t *self)
{
    for (uint32_t i = 0; i < self->nsess; i++)
        if (self->sess[i].capcmds)
            free(self->sess[i].cmds);
    if (self->snap_map)
        munmap(self->snap_map, self->snap_maplen);
    self->snap_map = NULL;
    self->snap_maplen = 0;
    s_cmds_release(self);
    self->resets++;
    self->nsess = 0;
    self->entries = 0;
    self->snap_entries = 0;
    self->sessmap.count = 0;
    if (self->sessmap.vals)
        memset(self->sessmap.vals, 0, self->sessmap.cap * sizeof *self->sessmap.vals);
    self->skipping = false;
    s_base_choose(self);
    self->generation++;
}

/* Does the entry's line still read the same in the datafile? */
static bool s_entry_matches(index_t *self, const ent_t *e)
{
    char head[48];
    size_t n = e->len < sizeof head ? e->len : sizeof head;
    char last;
    int fd = index_part_fd(self, e->off);
    uint64_t off = INDEX_OFF_LOCAL(e->off);
    if (fd < 0)
        return s_off_ok(self, e->off, e->len); /* no longer kept: nothing to compare */
    if (pread(fd, head, n, (off_t)off) != (ssize_t)n)
        return false;
    if (pread(fd, &last, 1, (off_t)(off + e->len - 1)) != 1 || last != '\n')
        return false;
    return s_check(head, n) == e->check;
}

/* ---------------------------------------------------------------- the snapshot */

/* <index file>.snap: the whole in-memory index as of an entry of the index file, laid out
   so that a start maps it instead of replaying every entry (10 million of them take
   seconds and the heap they fill grows with all history). A 4 KiB header, then, each at a
   page boundary: the command array exactly as index_cmds has it (mapped copy-on-write
   into the command region), the sessions, every session's command list, the strings.
   The index file stays the log: what came after the snapshot is replayed from it. */
#define SNAP_MAGIC "L3RSNP02"
#define SNAP_PAGE 4096u

typedef struct {
    uint32_t host, user, sid, tty;
    int64_t start_us, end_us;
    uint16_t cols, rows;
    int32_t exit_code;
    uint8_t sig, flags, ended, declared;
    uint32_t ncmds;
    uint64_t list_at; /* index of its first ordinal in the lists section */
} snap_sess_t;

typedef struct {
    char magic[8];
    uint32_t cmd_size, sess_size, ent_size;
    uint32_t base_part; /* the index file's first part and its hash: */
    uint64_t prefix_hash;
    uint32_t prefix_n, ncmds;
    uint32_t nsess, nstrs;
    uint64_t pos, entries, log_end, log_last_at;
    ent_t log_last;
    uint64_t cmds_off, sess_off, lists_off, strs_off, strs_len, total;
    uint64_t data_sum; /* s_sum of the file from cmds_off to its end */
    uint64_t check;    /* s_hash of everything above */
} snap_head_t;

/* A checksum of the snapshot's data, fast enough to run over all of it at every start
   (four independent multiply chains, 8 bytes a step): not against an attacker (the
   directory is render's own), against a file damaged on disk. */
static uint64_t s_sum(const uint8_t *p, size_t len)
{
    const uint64_t k = 0x9e3779b97f4a7c15ull;
    uint64_t a = k ^ len, b = k + 1, c = k + 2, d = k + 3, w[4];
    size_t i = 0;
    for (; i + 32 <= len; i += 32) {
        memcpy(w, p + i, 32);
        a = (a ^ w[0]) * 0x100000001b3ull;
        b = (b ^ w[1]) * 0x100000001b3ull;
        c = (c ^ w[2]) * 0x100000001b3ull;
        d = (d ^ w[3]) * 0x100000001b3ull;
        a ^= a >> 29;
        b ^= b >> 29;
        c ^= c >> 29;
        d ^= d >> 29;
    }
    for (; i < len; i++)
        a = (a ^ p[i]) * 0x100000001b3ull;
    return s_mix(a) ^ s_mix(b + 1) ^ s_mix(c + 2) ^ s_mix(d + 3);
}

/* Bytes read at a time by the passes over a whole snapshot, each chunk given back to the
   kernel after (its pages are clean file pages: they come back from the page cache when a
   page needs them), so the passes do not raise render's peak memory with the file. */
#define SNAP_CHUNK ((size_t)2730 * 12288) /* 32 MB, whole pages and whole commands */

static void s_give_back(const uint8_t *p, size_t len)
{
    uintptr_t a = (uintptr_t)p, from = (a + SNAP_PAGE - 1) / SNAP_PAGE * SNAP_PAGE,
              to = (a + len) / SNAP_PAGE * SNAP_PAGE;
    if (to > from)
        madvise((void *)from, to - from, MADV_DONTNEED);
}

/* Called per chunk (at: its offset from the start of the summed bytes) while it is in
   memory; false stops the pass. */
typedef bool(s_chunk_fn)(const uint8_t *chunk, size_t n, uint64_t at, void *arg);

/* s_sum chunk by chunk, giving each back: the checksum the snapshot carries. fn (may be
   NULL) sees each chunk first, so a start reads the file once. */
static uint64_t s_sum_file(const uint8_t *p, size_t len, s_chunk_fn *fn, void *arg, bool *ok)
{
    uint64_t h = len;
    for (size_t at = 0; at < len; at += SNAP_CHUNK) {
        size_t n = len - at < SNAP_CHUNK ? len - at : SNAP_CHUNK;
        if (fn && !fn(p + at, n, at, arg)) {
            *ok = false;
            return 0;
        }
        h = s_mix(h ^ s_sum(p + at, n));
        s_give_back(p + at, n);
    }
    return h;
}

/* The bounds every command and session-list entry of a snapshot must keep. */
typedef struct {
    const snap_head_t *h;
    const char *why;
} s_bounds_t;

static bool s_check_chunk(const uint8_t *chunk, size_t n, uint64_t at, void *arg)
{
    s_bounds_t *b = arg;
    const snap_head_t *h = b->h;
    uint64_t end = at + n;
    //  Commands: the summed bytes start with them; chunks hold whole commands.
    uint64_t cbytes = (uint64_t)h->ncmds * sizeof(index_cmd_t);
    if (at < cbytes) {
        const index_cmd_t *c = (const index_cmd_t *)chunk;
        uint64_t upto = (end < cbytes ? end : cbytes) - at;
        for (uint64_t i = 0; i < upto / sizeof *c; i++)
            if (c[i].sess >= h->nsess || c[i].word >= h->nstrs || c[i].len == 0 ||
                c[i].off + c[i].len > h->pos) {
                b->why = "a command is damaged";
                return false;
            }
    }
    //  Session lists: ordinals of commands.
    uint64_t lfrom = h->lists_off - h->cmds_off, lto = lfrom + (uint64_t)h->ncmds * 4;
    uint64_t from = at > lfrom ? at : lfrom, to = end < lto ? end : lto;
    for (uint64_t o = from; o + 4 <= to; o += 4) {
        uint32_t ord;
        memcpy(&ord, chunk + (o - at), 4);
        if (ord >= h->ncmds) {
            b->why = "a session list is damaged";
            return false;
        }
    }
    return true;
}

static uint64_t s_page_up(uint64_t n)
{
    return (n + SNAP_PAGE - 1) / SNAP_PAGE * SNAP_PAGE;
}

static bool s_write_at(int fd, const void *data, size_t len, uint64_t off)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len > (1u << 30) ? (1u << 30) : len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return true;
}

/* Map `len` bytes of the snapshot at file offset `off` over the start of the command
   region (copy-on-write, so the file never changes under us). */
static bool s_map_cmds(index_t *self, int fd, uint64_t off, uint64_t len)
{
    if (!s_cmds_reserve(self))
        return false;
    size_t maplen = (size_t)s_page_up(len);
    if (maplen == 0)
        return true;
    if (mmap(self->cmds, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, (off_t)off) ==
        MAP_FAILED)
        return false;
    if (maplen > self->cmds_mapped)
        self->cmds_mapped = maplen;
    //  The last, partial page takes the next commands (copied on write): not the file's.
    self->cmds_file = (size_t)(len / SNAP_PAGE * SNAP_PAGE);
    uint64_t cap = self->cmds_mapped / sizeof(index_cmd_t);
    self->capcmds = cap > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)cap;
    return true;
}

/* Write the snapshot (temporary file, synced, renamed), then map its commands in place
   of the heap copies. Only with an index file whose every entry is written. */
/* Write the snapshot of the index as it is (temporary file, synced, renamed). Runs in a
   child forked for it (s_snap_start): it reads the index and touches nothing else. */
static bool s_snap_write(index_t *self)
{
    int64_t t0 = l3_time_mono_us();
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", self->snappath);
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        l3_warn("cannot write index snapshot %s: %s", tmp, strerror(errno));
        return false;
    }
    snap_head_t h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, SNAP_MAGIC, 8);
    h.cmd_size = sizeof(index_cmd_t);
    h.sess_size = sizeof(snap_sess_t);
    h.ent_size = sizeof(ent_t);
    h.prefix_hash = self->id_hash;
    h.prefix_n = self->id_n;
    h.base_part = self->base_part;
    h.ncmds = self->ncmds;
    h.nsess = self->nsess;
    h.nstrs = self->nstrs;
    h.pos = self->pos;
    h.entries = self->entries;
    h.log_end = self->log_end;
    h.log_last_at = self->log_last_at;
    h.log_last = self->log_last;
    h.cmds_off = SNAP_PAGE;
    h.sess_off = s_page_up(h.cmds_off + (uint64_t)self->ncmds * sizeof(index_cmd_t));
    h.lists_off = s_page_up(h.sess_off + (uint64_t)self->nsess * sizeof(snap_sess_t));
    h.strs_off = s_page_up(h.lists_off + (uint64_t)self->ncmds * sizeof(uint32_t));
    bool ok = true;
    size_t cmd_bytes = (size_t)self->ncmds * sizeof(index_cmd_t);
    for (size_t at = 0; ok && at < cmd_bytes; at += SNAP_CHUNK) {
        size_t n = cmd_bytes - at < SNAP_CHUNK ? cmd_bytes - at : SNAP_CHUNK;
        ok = s_write_at(fd, (const uint8_t *)self->cmds + at, n, h.cmds_off + at);
        //  Pages of the last snapshot go back (anonymous ones would be lost: kept).
        if (at < self->cmds_file)
            s_give_back((const uint8_t *)self->cmds + at,
                        n < self->cmds_file - at ? n : self->cmds_file - at);
    }
    l3_buf_t b;
    l3_buf_init(&b, 0);
    uint64_t list_at = 0;
    for (uint32_t i = 0; ok && i < self->nsess; i++) {
        const index_sess_t *s = &self->sess[i];
        snap_sess_t t = {s->host,   s->user,  s->sid,      s->tty,       s->start_us,
                         s->end_us, s->cols,  s->rows,     s->exit_code, s->sig,
                         s->flags,  s->ended, s->declared, s->ncmds,     list_at};
        l3_buf_append(&b, &t, sizeof t);
        list_at += s->ncmds;
    }
    ok = ok && !b.failed && s_write_at(fd, b.data, b.len, h.sess_off);
    uint64_t at = h.lists_off;
    for (uint32_t i = 0; ok && i < self->nsess; i++) {
        ok = s_write_at(fd, self->sess[i].cmds, (size_t)self->sess[i].ncmds * sizeof(uint32_t), at);
        at += (uint64_t)self->sess[i].ncmds * sizeof(uint32_t);
    }
    l3_buf_reset(&b);
    for (uint32_t i = 1; i < self->nstrs; i++)
        l3_buf_append(&b, self->strs[i], strlen(self->strs[i]) + 1);
    ok = ok && list_at == self->ncmds && !b.failed && s_write_at(fd, b.data, b.len, h.strs_off);
    h.strs_len = b.len;
    h.total = h.strs_off + b.len;
    l3_buf_free(&b);
    //  The sum over the bytes as written (padding holes read as zeros).
    if (ok && fdatasync(fd) == 0) {
        void *m = mmap(NULL, (size_t)h.total, PROT_READ, MAP_PRIVATE, fd, 0);
        ok = m != MAP_FAILED;
        if (ok) {
            bool fine = true;
            h.data_sum = s_sum_file((const uint8_t *)m + h.cmds_off, (size_t)(h.total - h.cmds_off),
                                    NULL, NULL, &fine);
            munmap(m, (size_t)h.total);
        }
    } else
        ok = false;
    h.check = s_hash(&h, offsetof(snap_head_t, check));
    ok = ok && s_write_at(fd, &h, sizeof h, 0) && fdatasync(fd) == 0 &&
         rename(tmp, self->snappath) == 0;
    if (!ok) {
        l3_warn("cannot write index snapshot %s: %s", self->snappath, strerror(errno));
        unlink(tmp);
        close(fd);
        return false;
    }
    close(fd);
    l3_info("index snapshot %s: %" PRIu32 " commands, %" PRIu32 " sessions, %.1f MB in %.2f s",
            self->snappath, self->ncmds, self->nsess, (double)h.total / 1e6,
            (double)(l3_time_mono_us() - t0) / 1e6);
    return true;
}

/* The snapshot child is done (wait: wait for it). When it wrote the snapshot, the
   commands it holds are mapped from it in place of the memory they took (the pages are
   equal: commands are only ever appended, and a reset since is told by `resets`). */
static void s_snap_reap(index_t *self, bool wait)
{
    int st;
    if (self->snap_pid <= 0)
        return;
    pid_t r;
    do
        r = waitpid(self->snap_pid, &st, wait ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return;
    self->snap_pid = 0;
    if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        l3_warn("index snapshot %s was not written; the next one is due at once", self->snappath);
        self->snap_entries = 0;
        return;
    }
    if (self->snap_resets != self->resets)
        return;
    int fd = open(self->snappath, O_RDONLY | O_CLOEXEC);
    snap_head_t h;
    if (fd >= 0 && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h &&
        !memcmp(h.magic, SNAP_MAGIC, 8) && h.ncmds == self->snap_ncmds && h.ncmds <= self->ncmds) {
        uint64_t whole = (uint64_t)h.ncmds * sizeof(index_cmd_t) / SNAP_PAGE * SNAP_PAGE;
        if (whole > self->cmds_file && !s_map_cmds(self, fd, h.cmds_off, whole))
            l3_warn("index snapshot %s written but not mapped: %s", self->snappath,
                    strerror(errno));
    }
    if (fd >= 0)
        close(fd);
}

/* Write a snapshot of the index as it is now, in a child (the index is its copy on
   write), so that render goes on answering: at 10 million commands it takes seconds. */
static bool s_snap_start(index_t *self)
{
    if (!self->snappath || !self->idx || self->log_last_at == 0 || self->snap_pid > 0)
        return false;
    if (fflush(self->idx) != 0) /* the child must not inherit buffered entries */
        return false;
    pid_t pid = fork();
    if (pid < 0) {
        l3_warn("cannot fork for the index snapshot: %s", strerror(errno));
        return false;
    }
    if (pid == 0)
        _exit(s_snap_write(self) ? 0 : 1);
    self->snap_pid = pid;
    self->snap_ncmds = self->ncmds;
    self->snap_resets = self->resets;
    self->snap_entries = self->entries; /* not due again while it runs */
    return true;
}

/* Load the snapshot when it belongs to this index file and datafile and checks out;
   leaves the log `in` at the first entry after it. All or nothing: false leaves the index
   empty (and says why at info level). */
static bool s_snap_load(index_t *self, FILE *in)
{
    int fd = -1;
    void *map = MAP_FAILED;
    size_t maplen = 0;
    const char *why = NULL;
    snap_head_t h;
    struct stat st;
    if (!self->snappath)
        return false;
    fd = open(self->snappath, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    if (fstat(fd, &st) != 0 || pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h) {
        why = "cannot read its header";
        goto fail;
    }
    if (memcmp(h.magic, SNAP_MAGIC, 8) != 0 ||
        h.check != s_hash(&h, offsetof(snap_head_t, check)) || h.cmd_size != sizeof(index_cmd_t) ||
        h.sess_size != sizeof(snap_sess_t) || h.ent_size != sizeof(ent_t)) {
        why = "not a snapshot of this version";
        goto fail;
    }
    //  The index file (checked against the datafile already) and the snapshot start alike.
    if (h.prefix_n != self->id_n || h.prefix_hash != self->id_hash ||
        h.base_part != self->base_part) {
        why = "it belongs to another datafile";
        goto fail;
    }
    if (!s_off_ok(self, h.pos, 0)) {
        why = "the datafile is shorter";
        goto fail;
    }
    if ((uint64_t)st.st_size != h.total || h.nstrs == 0 ||
        h.cmds_off != SNAP_PAGE ||
        h.sess_off != s_page_up(h.cmds_off + (uint64_t)h.ncmds * sizeof(index_cmd_t)) ||
        h.lists_off != s_page_up(h.sess_off + (uint64_t)h.nsess * sizeof(snap_sess_t)) ||
        h.strs_off != s_page_up(h.lists_off + (uint64_t)h.ncmds * sizeof(uint32_t)) ||
        h.strs_off + h.strs_len != h.total || h.entries < (uint64_t)h.ncmds ||
        h.log_last_at < IDX_HEADER || h.log_last_at >= h.log_end) {
        why = "its layout is inconsistent";
        goto fail;
    }
    //  The index file holds the entry the snapshot names, where it names it.
    {
        ent_t e;
        if (fseek(in, (long)h.log_last_at, SEEK_SET) != 0 || fread(&e, sizeof e, 1, in) != 1 ||
            memcmp(&e, &h.log_last, sizeof e) != 0 || fseek(in, (long)h.log_end, SEEK_SET) != 0 ||
            ftell(in) != (long)h.log_end) {
            why = "the index file does not hold the entry it ends at";
            goto fail;
        }
    }
    maplen = (size_t)h.total;
    map = mmap(NULL, maplen, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        why = "cannot map it";
        goto fail;
    }
    const uint8_t *base = map;
    {
        //  One pass over the file: its checksum, and every command and list entry within
        //  bounds (so no page can index out of them later).
        s_bounds_t bounds = {&h, NULL};
        bool fine = true;
        uint64_t sum = s_sum_file(base + h.cmds_off, (size_t)(h.total - h.cmds_off), s_check_chunk,
                                  &bounds, &fine);
        if (!fine) {
            why = bounds.why;
            goto fail;
        }
        if (sum != h.data_sum) {
            why = "its data does not match its checksum";
            goto fail;
        }
    }
    //  Strings: ids 1.. in order, each NUL-terminated, short and not empty.
    {
        const char *p = (const char *)base + h.strs_off, *end = p + h.strs_len;
        for (uint32_t id = 1; id < h.nstrs; id++) {
            const char *nul = memchr(p, 0, (size_t)(end - p));
            if (!nul || nul == p || nul - p > IDX_STR_MAX) {
                why = "a string is damaged";
                goto fail;
            }
            if (s_intern(self, p) != id) {
                why = "its strings repeat";
                goto fail;
            }
            p = nul + 1;
        }
        if (p != end) {
            why = "its strings do not fill their section";
            goto fail;
        }
    }
    const snap_sess_t *ss = (const snap_sess_t *)(base + h.sess_off);
    const uint32_t *lists = (const uint32_t *)(base + h.lists_off);
    uint64_t listed = 0;
    for (uint32_t i = 0; i < h.nsess; i++) {
        const snap_sess_t *t = &ss[i];
        if (t->host >= h.nstrs || t->user >= h.nstrs || t->sid >= h.nstrs || t->tty >= h.nstrs ||
            t->list_at != listed || t->ncmds > h.ncmds - listed) {
            why = "a session is damaged";
            goto fail;
        }
        listed += t->ncmds;
    }
    if (listed != h.ncmds) {
        why = "its session lists do not cover the commands";
        goto fail;
    }
    //  Sessions on the heap (they change as records come), their lists where they are.
    if (h.nsess > self->capsess) {
        index_sess_t *n = realloc(self->sess, (size_t)h.nsess * sizeof *n);
        if (!n) {
            why = "out of memory";
            goto fail;
        }
        self->sess = n;
        self->capsess = h.nsess;
    }
    for (uint32_t i = 0; i < h.nsess; i++) {
        const snap_sess_t *t = &ss[i];
        uint32_t si = s_session(self, t->host, t->user, t->sid);
        if (si != i) {
            why = si == UINT32_MAX ? "out of memory" : "two sessions share a name";
            goto fail;
        }
        index_sess_t *s = &self->sess[si];
        s->user = t->user;
        s->tty = t->tty;
        s->start_us = t->start_us;
        s->end_us = t->end_us;
        s->cols = t->cols;
        s->rows = t->rows;
        s->exit_code = t->exit_code;
        s->sig = t->sig;
        s->flags = t->flags;
        s->ended = t->ended;
        s->declared = t->declared;
        s->ncmds = t->ncmds;
        s->capcmds = 0; /* mapped: copied at its next command */
        s->cmds = t->ncmds ? (uint32_t *)(lists + t->list_at) : NULL;
    }
    if (!s_map_cmds(self, fd, h.cmds_off, (uint64_t)h.ncmds * sizeof(index_cmd_t))) {
        why = "cannot map its commands";
        goto fail;
    }
    self->ncmds = h.ncmds;
    //  What the checks read comes back out of our resident memory: the pages are the
    //  page cache's, and a page of the journal touches a few of them.
    madvise(self->cmds, (size_t)h.ncmds * sizeof(index_cmd_t) / SNAP_PAGE * SNAP_PAGE,
            MADV_DONTNEED);
    madvise(map, maplen, MADV_DONTNEED);
    self->snap_map = map;
    self->snap_maplen = maplen;
    self->pos = h.pos;
    self->entries = self->snap_entries = h.entries;
    self->generation += h.entries;
    self->log_end = h.log_end;
    self->log_last_at = h.log_last_at;
    self->log_last = h.log_last;
    close(fd);
    return true;

fail:
    if (why)
        l3_info("index snapshot %s not used: %s; replaying the index file", self->snappath, why);
    if (map != MAP_FAILED)
        munmap(map, maplen);
    if (fd >= 0)
        close(fd);
    s_reset(self);
    return false;
}

uint64_t index_load(index_t *self)
{
    uint64_t loaded = 0;
    FILE *in = NULL;
    if (!self->idxpath)
        goto fresh;
    in = fopen(self->idxpath, "r");
    if (!in)
        goto fresh;
    setvbuf(in, NULL, _IOFBF, 1 << 20);
    char magic[8];
    uint64_t hash = 0, myhash = 0;
    uint32_t n = 0, base = 0;
    if (fread(magic, 8, 1, in) != 1 || memcmp(magic, IDX_MAGIC, 8) != 0 ||
        fread(&hash, sizeof hash, 1, in) != 1 || fread(&n, sizeof n, 1, in) != 1 ||
        fread(&base, sizeof base, 1, in) != 1 ||
        fread(&self->ord_base, sizeof self->ord_base, 1, in) != 1 || n > IDX_PREFIX) {
        l3_info("index file %s is not ours or empty; rebuilding", self->idxpath);
        goto fresh;
    }
    /* Its first part must be the one it saw (the datafile may have grown since: only the
       prefix it saw is compared), or one retention has removed since: then the records
       it still has are checked below as ever. */
    ipart_t *first = s_part_from(self, 0);
    if (s_part(self, base) && s_part(self, base)->fd >= 0) {
        uint32_t myn = n;
        if (!s_prefix_hash(self, base, &myhash, &myn) || myhash != hash) {
            l3_info("index file %s belongs to another datafile; rebuilding", self->idxpath);
            goto fresh;
        }
    } else if (!first || base >= first->part || base > self->live) {
        l3_info("index file %s begins at part %" PRIu32 ", which the datafile does not have; "
                "rebuilding",
                self->idxpath, base);
        goto fresh;
    }
    uint64_t ord_base = self->ord_base;
    self->base_part = base;
    self->id_hash = hash;
    self->id_n = n;
    self->pos = INDEX_OFF(base, 0);
    int64_t t0 = l3_time_mono_us();
    entry_t en;
    ent_t last = {0};
    uint64_t from_snapshot = 0;
    if (s_snap_load(self, in)) {
        from_snapshot = loaded = self->entries;
        last = self->log_last;
    } else if (fseek(in, IDX_HEADER, SEEK_SET) != 0) {
        goto fresh;
    } else { /* s_snap_load reset the index: it starts where the index file says */
        self->base_part = base;
        self->ord_base = ord_base;
        self->id_hash = hash;
        self->id_n = n;
        self->pos = INDEX_OFF(base, 0);
    }
    long good_end = ftell(in);
    for (;;) {
        long at = ftell(in);
        if (fread(&en.e, sizeof en.e, 1, in) != 1)
            break;
        bool ok = (en.e.kind == 'C' || en.e.kind == 'S' || en.e.kind == 'E') &&
                  s_off_ok(self, en.e.off, en.e.len) && en.e.off >= self->pos;
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
        self->log_last = en.e;
        self->log_last_at = (uint64_t)at;
        loaded++;
        good_end = ftell(in);
    }
    self->log_end = (uint64_t)good_end;
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
    l3_info("index file %s: %" PRIu64 " records up to byte %" PRIu64 " of part %" PRIu32
            " in %.2f s (%" PRIu64 " from its snapshot)",
            self->idxpath, loaded, INDEX_OFF_LOCAL(self->pos), INDEX_OFF_PART(self->pos),
            (double)(l3_time_mono_us() - t0) / 1e6, from_snapshot);
    if (self->idx && self->entries - self->snap_entries >= self->snap_every)
        s_snap_start(self);
    return loaded;

fresh:
    if (in)
        fclose(in);
    s_reset(self);
    s_idx_create(self);
    return 0;
}

/* ---------------------------------------------------------------- scanning */

/* Index the lines of part p from the position up to byte `end` of its file, reading about
   *budget bytes at most (taken off it). Stops at the footer (*footer; the writer
   overwrites the live part's with the next records, a closed part's is its end) and
   before an incomplete last line. Returns the records added, -1 on a read error. */
static int64_t s_scan_part(index_t *self, ipart_t *p, uint64_t end, uint64_t *budget,
                           bool *footer)
{
    int64_t added = 0;
    uint64_t local = INDEX_OFF_LOCAL(self->pos), from = local;
    uint64_t stop = end - local > *budget ? local + *budget : end;
    entry_t en;
    *footer = false;
    while (local < stop) {
        size_t want = self->bufcap > SCAN_CHUNK ? self->bufcap : SCAN_CHUNK;
        if (want > end - local)
            want = (size_t)(end - local);
        if (self->bufcap < want) {
            uint8_t *n = realloc(self->buf, want);
            if (!n)
                return -1;
            self->buf = n;
            self->bufcap = want;
        }
        ssize_t got = pread(p->fd, self->buf, want, (off_t)local);
        if (got < 0) {
            l3_error("read %s (part %" PRIu32 "): %s", self->datafile, p->part, strerror(errno));
            return -1;
        }
        if (got == 0)
            break;
        const char *q = (const char *)self->buf, *bend = q + got;
        size_t consumed = 0;
        while (q < bend) {
            const char *nl = memchr(q, '\n', (size_t)(bend - q));
            if (!nl)
                break;
            size_t len = (size_t)(nl - q) + 1;
            if (self->skipping) {
                self->skipping = false; /* the tail of an over-long line */
            } else if (len >= 9 && memcmp(q, "</lilalo>", 9) == 0) {
                *footer = true;
                break;
            } else if (s_line_entry(q, len, INDEX_OFF(p->part, local + consumed), &en) &&
                       s_apply(self, &en)) {
                s_idx_write(self, &en);
                added++;
            }
            consumed += len;
            q = nl + 1;
        }
        if (consumed == 0 && !*footer) {
            if (local + (uint64_t)got >= end)
                break; /* an incomplete last line: wait for the rest */
            if (self->bufcap >= INDEX_LINE_MAX) {
                l3_warn("skipping an over-long line at offset %" PRIu64 " of part %" PRIu32,
                        local, p->part);
                local += (uint64_t)got;
                self->pos = INDEX_OFF(p->part, local);
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
        local += consumed;
        self->pos = INDEX_OFF(p->part, local);
        if (*footer)
            break;
    }
    *budget -= local - from < *budget ? local - from : *budget;
    return added;
}

int64_t index_scan(index_t *self, uint64_t limit, uint64_t max_bytes, bool *more)
{
    int64_t added = 0;
    uint64_t budget = max_bytes ? max_bytes : 1;
    *more = false;
    if (!s_parts_refresh(self)) {
        l3_warn("datafile %s was replaced (its live part is not the one after the part read "
                "so far); re-indexing",
                self->datafile);
        if (!s_parts_reopen(self))
            return -1;
        s_reset(self);
        s_idx_create(self);
    }
    while (budget > 0) {
        ipart_t *p = s_part_from(self, INDEX_OFF_PART(self->pos));
        if (!p || (limit != UINT64_MAX && INDEX_OFF_PART(limit) < p->part))
            break;
        if (p->part != INDEX_OFF_PART(self->pos)) {
            //  A part that is not there (or not yet): on to the next one.
            uint64_t expect = self->ord_base + self->ncmds;
            if (p->fd >= 0 && p->before > expect)
                l3_warn("%s: part %" PRIu32 " begins at command %" PRIu64 ", but the parts "
                        "read so far end at %" PRIu64 " (a part in between was removed): the "
                        "journal numbers the later commands from there",
                        self->datafile, p->part, p->before, expect);
            self->pos = INDEX_OFF(p->part, 0);
            self->skipping = false;
        }
        if (p->fd < 0) {
            if (!p->closed)
                break;
            self->pos = INDEX_OFF(p->part + 1, 0); /* no longer kept: nothing to read */
            continue;
        }
        struct stat st;
        if (fstat(p->fd, &st) != 0)
            return -1;
        p->size = (uint64_t)st.st_size;
        if (p->size < INDEX_OFF_LOCAL(self->pos)) {
            /* It shrank below what we indexed: it was replaced. Start over. */
            l3_warn("datafile %s shrank below the indexed offset; re-indexing", self->datafile);
            s_reset(self);
            s_idx_create(self);
            continue;
        }
        uint64_t end = p->size;
        if (limit != UINT64_MAX && INDEX_OFF_PART(limit) == p->part &&
            INDEX_OFF_LOCAL(limit) < end)
            end = INDEX_OFF_LOCAL(limit);
        bool footer = false;
        int64_t n = s_scan_part(self, p, end, &budget, &footer);
        if (n < 0)
            return -1;
        added += n;
        if (!p->closed)
            break; /* the live part: wait for more */
        if (!footer && !(INDEX_OFF_LOCAL(self->pos) >= end && end == p->size)) {
            if (budget == 0 || end < p->size)
                break; /* more of it in the next call, or a limit inside it */
            l3_warn("%s: closed part %" PRIu32 " ends in an incomplete line at offset %" PRIu64
                    "; reading on in the next part",
                    self->datafile, p->part, INDEX_OFF_LOCAL(self->pos));
        }
        self->pos = INDEX_OFF(p->part + 1, 0);
        self->skipping = false;
    }
    if (self->idx)
        fflush(self->idx);
    *more = budget == 0;
    //  Caught up, with many entries since the last snapshot: write one (during the first
    //  indexing of a big file, only once at its end).
    s_snap_reap(self, false);
    if (!*more && self->idx && self->entries - self->snap_entries >= self->snap_every)
        s_snap_start(self);
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

bool index_read_line(index_t *self, uint64_t off, uint32_t len, l3_buf_t *out)
{
    l3_buf_reset(out);
    if (!l3_buf_reserve(out, len))
        return false;
    int fd = index_part_fd(self, off);
    if (fd < 0)
        return false;
    off = INDEX_OFF_LOCAL(off);
    size_t done = 0;
    while (done < len) {
        ssize_t got = pread(fd, out->data + done, len - done, (off_t)(off + done));
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
        l3_warn("record at offset %" PRIu64 " of part %" PRIu32 ": %s", INDEX_OFF_LOCAL(c->off),
                INDEX_OFF_PART(c->off), err);
        goto cleanup;
    }
    ok = true;
cleanup:
    l3_buf_free(&line);
    return ok;
}

void index_set_snapshot_every(index_t *self, uint64_t entries)
{
    self->snap_every = entries ? entries : 1;
}

bool index_snapshot(index_t *self)
{
    s_snap_reap(self, true);
    if (!s_snap_start(self))
        return false;
    s_snap_reap(self, true);
    return self->snap_entries != 0;
}

void index_snapshot_wait(index_t *self)
{
    s_snap_reap(self, true);
}
