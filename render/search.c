/*  search — full-text search over the datafile. See search.h. */
#include "search.h"
#include "l3_log.h"
#include "l3_time.h"
#include "l3_xmlrec.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define WINDOW (32u << 20)

/* One half of a window: the commands [lo, hi) of the mapped bytes, hits out. */
typedef struct {
    const index_cmd_t *cmds;
    const uint8_t *base; /* mapping of the window, byte wstart */
    uint64_t wstart;
    uint32_t lo, hi;
    const uint8_t *needle; /* folded when icase */
    size_t nlen;
    bool icase;
    uint32_t *hits;
    uint32_t nhits;
} part_t;

static uint8_t s_fold(uint8_t b)
{
    return b >= 'A' && b <= 'Z' ? (uint8_t)(b + 32) : b;
}

/* memmem ignoring ASCII case: needle is folded already. An anchor byte of the needle is
   found with memchr: its first byte that is not a letter (one case only), or else its
   first letter in each case, the nearer occurrence of the two kept between looks (each
   memchr runs over the haystack once); the rest is compared folded. */
static const uint8_t *s_memmem_fold(const uint8_t *hay, size_t len, const uint8_t *needle,
                                    size_t nlen)
{
    if (nlen == 0 || len < nlen)
        return NULL;
    size_t j = 0;
    while (j < nlen && needle[j] >= 'a' && needle[j] <= 'z')
        j++;
    if (j == nlen)
        j = 0; /* all letters: the first, in both cases */
    uint8_t lo = needle[j], up = lo >= 'a' && lo <= 'z' ? (uint8_t)(lo - 32) : lo;
    const uint8_t *end = hay + len - nlen + j + 1; /* anchors past it leave no room */
    const uint8_t *next_lo = NULL, *next_up = up != lo ? NULL : end; /* NULL: not looked */
    const uint8_t *at = hay + j;
    while (at < end) {
        if (!next_lo || next_lo < at) {
            next_lo = memchr(at, lo, (size_t)(end - at));
            if (!next_lo)
                next_lo = end;
        }
        if (!next_up || next_up < at) {
            next_up = memchr(at, up, (size_t)(end - at));
            if (!next_up)
                next_up = end;
        }
        const uint8_t *h = next_lo < next_up ? next_lo : next_up;
        if (h >= end)
            return NULL;
        const uint8_t *start = h - j;
        size_t k = 0;
        while (k < nlen && s_fold(start[k]) == needle[k])
            k++;
        if (k == nlen)
            return start;
        at = h + 1;
    }
    return NULL;
}

/* A folded copy of the line in buf (icase): s_line_has then compares folded bytes, and
   the positions, tags and entities are where they were (folding keeps every length). */
static const uint8_t *s_folded(const uint8_t *line, size_t len, l3_buf_t *buf)
{
    l3_buf_reset(buf);
    if (!l3_buf_reserve(buf, len))
        return NULL;
    for (size_t i = 0; i < len; i++)
        buf->data[i] = s_fold(line[i]);
    buf->len = len;
    return buf->data;
}

/* Inside an entity ("&amp;", "&#10;"): a '&' after the last ';' within an entity's length
   before h, in the text segment that starts at seg. */
static bool s_in_entity(const uint8_t *seg, const uint8_t *h)
{
    for (const uint8_t *b = h; b > seg && h - b < 8;) {
        b--;
        if (*b == ';')
            return false;
        if (*b == '&')
            return true;
    }
    return false;
}

/* Does the encoded field content c[0..len) hold the needle as text? The content is text
   (with entities) and <x>hex</x> elements for bytes XML cannot carry; the needle, encoded
   the same way, matches only where it starts in text and not inside an entity, and never
   in the hex or the x tags. (A needle that itself encodes to <x> elements, U+FFFE or
   U+FFFF, is looked for as bytes: it matches only where its bytes stand alone.) */
static bool s_field_has(const uint8_t *c, size_t len, const uint8_t *needle, size_t nlen)
{
    bool raw = memchr(needle, '<', nlen) != NULL;
    size_t i = 0;
    while (i < len) {
        if (c[i] == '<' && !raw) {
            const uint8_t *x = memmem(c + i, len - i, "</x>", 4);
            if (!x)
                return false;
            i = (size_t)(x - c) + 4;
            continue;
        }
        const uint8_t *lt = raw ? NULL : memchr(c + i, '<', len - i);
        size_t seg_end = lt ? (size_t)(lt - c) : len;
        size_t at = i;
        while (seg_end - at >= nlen) {
            const uint8_t *h = memmem(c + at, seg_end - at, needle, nlen);
            if (!h)
                break;
            if (!s_in_entity(c + i, h))
                return true;
            at = (size_t)(h - c) + 1;
        }
        i = seg_end;
    }
    return false;
}

/* Does the record line hold the needle in the text the journal shows: the cwd, the
   command line, the output and the diff? Not in the start tag's attributes, the element
   names, the hex of <x> bytes, the inside of an entity, or the timing lines. The writer
   puts the fields in a fixed order after the start tag, each <name>...</name>, and their
   content never holds a raw '<' but that of <x> and </x>, so "</name>" ends each. */
static bool s_line_has(const uint8_t *line, size_t len, const uint8_t *needle, size_t nlen)
{
    static const struct {
        const char *open, *close;
        bool shown;
    } fields[] = {{"<cwd>", "</cwd>", true},       {"<line>", "</line>", true},
                  {"<out>", "</out>", true},       {"<timing>", "</timing>", false},
                  {"<diff>", "</diff>", true}};
    const uint8_t *tag_end = memchr(line, '>', len);
    if (!tag_end)
        return false;
    size_t pos = (size_t)(tag_end - line) + 1;
    /* Most lines a needle only in attributes brings here (a host, the agent) stop here. */
    if (!memmem(line + pos, len - pos, needle, nlen))
        return false;
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        size_t ol = strlen(fields[f].open), cl = strlen(fields[f].close);
        if (len - pos < ol || memcmp(line + pos, fields[f].open, ol) != 0)
            continue; /* an empty field is left out */
        size_t cs = pos + ol;
        const uint8_t *close = memmem(line + cs, len - cs, fields[f].close, cl);
        if (!close)
            return false;
        if (fields[f].shown && s_field_has(line + cs, (size_t)(close - line) - cs, needle, nlen))
            return true;
        pos = (size_t)(close - line) + cl;
    }
    return false;
}

/* Hits in the part, ascending, one per command. memmem over the window finds the next
   command whose line holds the needle's bytes anywhere; s_line_has then decides on that
   line alone, and the scan goes on after it. */
static void *s_scan_part(void *arg)
{
    part_t *p = arg;
    const index_cmd_t *cmds = p->cmds;
    p->nhits = 0;
    if (p->lo >= p->hi)
        return NULL;
    uint64_t from = cmds[p->lo].off, to = cmds[p->hi - 1].off + cmds[p->hi - 1].len;
    size_t at = (size_t)(from - p->wstart), end = (size_t)(to - p->wstart);
    uint32_t ord = p->lo;
    l3_buf_t folded;
    l3_buf_init(&folded, INDEX_LINE_MAX);
    while (at < end) {
        const uint8_t *h = p->icase ? s_memmem_fold(p->base + at, end - at, p->needle, p->nlen)
                                    : memmem(p->base + at, end - at, p->needle, p->nlen);
        if (!h)
            break;
        uint64_t hoff = p->wstart + (uint64_t)(h - p->base);
        while (ord + 1 < p->hi && cmds[ord + 1].off <= hoff)
            ord++;
        const index_cmd_t *c = &cmds[ord];
        if (hoff >= c->off && hoff < c->off + c->len) {
            const uint8_t *line = p->base + (c->off - p->wstart);
            if (p->icase)
                line = s_folded(line, c->len, &folded);
            if (line && s_line_has(line, c->len, p->needle, p->nlen))
                p->hits[p->nhits++] = ord;
            at = (size_t)(c->off + c->len - p->wstart); /* one look per command */
        } else {
            at = (size_t)(hoff - p->wstart) + 1; /* between records (a session line) */
        }
    }
    l3_buf_free(&folded);
    return NULL;
}

/* Check the candidates of segment seg below hi (bits from textindex_candidates), newest
   first, reading each line. Returns the ordinal it stopped at: lo when it went through
   them all, higher when want was reached or the budget ran out (*out_of_time). */
static uint32_t s_check_candidates(index_t *index, const index_cmd_t *cmds, uint32_t seg,
                                   uint32_t hi, const uint64_t *bits, const l3_buf_t *enc,
                                   bool icase, size_t want, size_t *accepted, int64_t budget_us,
                                   int64_t deadline, search_accept_fn *accept, void *arg,
                                   bool *more, uint32_t *resume, bool *out_of_time)
{
    uint32_t lo = seg * TI_SEG;
    l3_buf_t line, folded;
    l3_buf_init(&line, INDEX_LINE_MAX);
    l3_buf_init(&folded, INDEX_LINE_MAX);
    unsigned checked = 0;
    uint32_t ord = hi;
    while (ord > lo && *accepted < want) {
        uint32_t i = ord - 1 - lo;
        uint64_t word = bits[i >> 6] & (~0ull >> (63 - (i & 63)));
        if (!word) { /* none at or below i in this word: to the word below */
            ord = lo + (i & ~63u);
            continue;
        }
        i = (i & ~63u) + 63 - (uint32_t)__builtin_clzll(word);
        ord = lo + i; /* command ord is a candidate; ord + 1 .. were not */
        if (budget_us > 0 && (++checked & 255) == 0 && l3_time_mono_us() > deadline) {
            *out_of_time = true;
            ord++;
            break;
        }
        const index_cmd_t *c = &cmds[ord];
        l3_buf_reset(&line);
        const uint8_t *text = index_read_line(index, c->off, c->len, &line) ? line.data : NULL;
        if (text && icase)
            text = s_folded(line.data, line.len, &folded);
        if (text && s_line_has(text, line.len, enc->data, enc->len) && accept(ord, arg) &&
            ++*accepted == want) {
            *more = ord > 0;
            *resume = ord;
        }
    }
    l3_buf_free(&line);
    l3_buf_free(&folded);
    return ord;
}

size_t search_commands(index_t *index, textindex_t *ti, const char *needle, bool icase,
                       uint32_t before, size_t want, int64_t budget_us, search_accept_fn *accept,
                       void *arg, bool *more, uint32_t *resume)
{
    size_t accepted = 0;
    uint32_t ncmds;
    const index_cmd_t *cmds = index_cmds(index, &ncmds);
    uint32_t *hits = NULL;
    l3_buf_t enc;
    l3_buf_init(&enc, 4096);
    int64_t deadline = l3_time_mono_us() + budget_us;
    *more = false;
    *resume = 0;
    if (!needle || !*needle || !l3_xml_encode_bytes(needle, strlen(needle), &enc) || !enc.len)
        goto cleanup;
    if (icase) /* lines are folded the same way before they are compared */
        for (size_t i = 0; i < enc.len; i++)
            enc.data[i] = s_fold(enc.data[i]);
    if (before > ncmds)
        before = ncmds;
    long pagesz = sysconf(_SC_PAGESIZE);
    uint32_t hi = before; /* window is ordinals [lo, hi) */
    uint64_t bits[TI_WORDS];
    while (hi > 0 && accepted < want) {
        if (budget_us > 0 && l3_time_mono_us() > deadline) {
            /* Out of time: say how far back we got; the caller offers to go on. */
            *more = true;
            *resume = hi;
            break;
        }
        /* A segment the textindex has: only its candidates' lines are read. */
        uint32_t seg = (hi - 1) >> TI_SEG_BITS;
        if (ti && textindex_candidates(ti, seg, enc.data, enc.len, bits)) {
            bool out_of_time = false;
            uint32_t stop = s_check_candidates(index, cmds, seg, hi, bits, &enc, icase, want, &accepted,
                                               budget_us, deadline, accept, arg, more, resume,
                                               &out_of_time);
            if (out_of_time) {
                *more = true;
                *resume = stop;
                break;
            }
            hi = seg * TI_SEG;
            continue;
        }
        /* Otherwise a window scanned, not reaching into a segment the textindex has. */
        uint32_t floor = ti && seg > 0 && textindex_ready(ti, seg - 1) ? seg * TI_SEG : 0;
        uint32_t lo = hi - 1;
        uint64_t wend = cmds[hi - 1].off + cmds[hi - 1].len;
        /* Grow the window down to about WINDOW bytes (at least one command), in one part of
           the datafile (offsets within a part are consecutive; INDEX_OFF_PART differs at
           once from one part to the next, so the byte test keeps to one part too). */
        while (lo > floor && wend - cmds[lo - 1].off <= WINDOW)
            lo--;
        uint64_t wstart = cmds[lo].off;
        int fd = index_part_fd(index, wstart);
        if (fd < 0) { /* a part no longer kept: nothing of it to find */
            hi = lo;
            continue;
        }
        uint64_t mstart = INDEX_OFF_LOCAL(wstart) & ~(uint64_t)(pagesz - 1);
        size_t mlen = (size_t)(INDEX_OFF_LOCAL(wend) - mstart);
        uint8_t *map = mmap(NULL, mlen, PROT_READ, MAP_PRIVATE, fd, (off_t)mstart);
        if (map == MAP_FAILED) {
            l3_warn("search: cannot map the datafile window at %llu", (unsigned long long)mstart);
            break;
        }
        uint32_t *nh = realloc(hits, (hi - lo) * sizeof *hits);
        if (!nh) {
            munmap(map, mlen);
            break;
        }
        hits = nh;
        /* Two halves scanned at once: memmem is the whole cost, and there are cores. */
        uint32_t mid = lo + (hi - lo) / 2;
        part_t parts[2] = {
            {cmds, map + (INDEX_OFF_LOCAL(wstart) - mstart), wstart, lo, mid, enc.data, enc.len,
             icase, hits, 0},
            {cmds, map + (INDEX_OFF_LOCAL(wstart) - mstart), wstart, mid, hi, enc.data, enc.len,
             icase, hits + (mid - lo), 0},
        };
        pthread_t th;
        bool threaded = hi - lo > 64 && pthread_create(&th, NULL, s_scan_part, &parts[1]) == 0;
        s_scan_part(&parts[0]);
        if (threaded)
            pthread_join(th, NULL);
        else
            s_scan_part(&parts[1]);
        munmap(map, mlen);
        /* Offer the hits newest first: the second half's, then the first's. */
        for (int k = 1; k >= 0 && accepted < want; k--) {
            for (uint32_t i = parts[k].nhits; i > 0 && accepted < want; i--) {
                uint32_t ord = parts[k].hits[i - 1];
                if (accept(ord, arg) && ++accepted == want) {
                    *more = ord > 0;
                    *resume = ord;
                }
            }
        }
        hi = lo;
    }
cleanup:
    free(hits);
    l3_buf_free(&enc);
    return accepted;
}
