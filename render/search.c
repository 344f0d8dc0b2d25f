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
    const uint8_t *needle;
    size_t nlen;
    uint32_t *hits;
    uint32_t nhits;
} part_t;

/* Hits in the part, ascending, one per command, only after the record's start tag. */
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
    while (at < end) {
        const uint8_t *h = memmem(p->base + at, end - at, p->needle, p->nlen);
        if (!h)
            break;
        uint64_t hoff = p->wstart + (uint64_t)(h - p->base);
        while (ord + 1 < p->hi && cmds[ord + 1].off <= hoff)
            ord++;
        const index_cmd_t *c = &cmds[ord];
        if (hoff >= c->off && hoff < c->off + c->len) {
            const uint8_t *line = p->base + (c->off - p->wstart);
            const uint8_t *tag_end = memchr(line, '>', c->len);
            if (tag_end && h > tag_end)
                p->hits[p->nhits++] = ord;
            at = (size_t)(c->off + c->len - p->wstart); /* one hit per command */
        } else {
            at = (size_t)(hoff - p->wstart) + 1; /* between records (a session line) */
        }
    }
    return NULL;
}

size_t search_commands(index_t *index, const char *needle, uint32_t before, size_t want,
                 int64_t budget_us, search_accept_fn *accept, void *arg, bool *more,
                 uint32_t *resume)
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
    if (before > ncmds)
        before = ncmds;
    long pagesz = sysconf(_SC_PAGESIZE);
    uint32_t hi = before; /* window is ordinals [lo, hi) */
    while (hi > 0 && accepted < want) {
        if (budget_us > 0 && l3_time_mono_us() > deadline) {
            /* Out of time: say how far back we got; the caller offers to go on. */
            *more = true;
            *resume = hi;
            break;
        }
        uint32_t lo = hi - 1;
        uint64_t wend = cmds[hi - 1].off + cmds[hi - 1].len;
        /* Grow the window down to about WINDOW bytes (at least one command). */
        while (lo > 0 && wend - cmds[lo - 1].off <= WINDOW)
            lo--;
        uint64_t wstart = cmds[lo].off;
        uint64_t mstart = wstart & ~(uint64_t)(pagesz - 1);
        size_t mlen = (size_t)(wend - mstart);
        uint8_t *map = mmap(NULL, mlen, PROT_READ, MAP_PRIVATE,
                            index_fd(index), (off_t)mstart);
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
            {cmds, map + (wstart - mstart), wstart, lo, mid, enc.data, enc.len, hits, 0},
            {cmds, map + (wstart - mstart), wstart, mid, hi, enc.data, enc.len, hits + (mid - lo), 0},
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
