/*  l3_search — full-text search over the datafile. See l3_search.h. */
#include "l3_search.h"
#include "l3_log.h"
#include "l3_xmlrec.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define WINDOW (32u << 20)

size_t l3_search(l3_index_t *index, const char *needle, uint32_t before, size_t want,
                 l3_search_accept_fn *accept, void *arg, bool *more)
{
    size_t accepted = 0;
    uint32_t ncmds;
    const l3_icmd_t *cmds = l3_index_cmds(index, &ncmds);
    uint32_t *hits = NULL;
    l3_buf_t enc;
    l3_buf_init(&enc, 4096);
    *more = false;
    if (!needle || !*needle || !l3_xml_encode_bytes(needle, strlen(needle), &enc) || !enc.len)
        goto cleanup;
    if (before > ncmds)
        before = ncmds;
    long pagesz = sysconf(_SC_PAGESIZE);
    uint32_t hi = before; /* window is ordinals [lo, hi) */
    while (hi > 0 && accepted < want) {
        uint32_t lo = hi - 1;
        uint64_t wend = cmds[hi - 1].off + cmds[hi - 1].len;
        /* Grow the window down to about WINDOW bytes (at least one command). */
        while (lo > 0 && wend - cmds[lo - 1].off <= WINDOW)
            lo--;
        uint64_t wstart = cmds[lo].off;
        uint64_t mstart = wstart & ~(uint64_t)(pagesz - 1);
        size_t mlen = (size_t)(wend - mstart);
        uint8_t *map = mmap(NULL, mlen, PROT_READ, MAP_PRIVATE | MAP_POPULATE,
                            l3_index_fd(index), (off_t)mstart);
        if (map == MAP_FAILED) {
            l3_warn("search: cannot map the datafile window at %llu", (unsigned long long)mstart);
            break;
        }
        /* Hits forward through the window, then offered newest first. */
        uint32_t nhits = 0, cap = hi - lo;
        hits = realloc(hits, cap * sizeof *hits);
        if (!hits) {
            munmap(map, mlen);
            break;
        }
        const uint8_t *base = map + (wstart - mstart);
        size_t blen = (size_t)(wend - wstart);
        size_t at = 0;
        uint32_t ord = lo;
        while (at < blen) {
            const uint8_t *h = memmem(base + at, blen - at, enc.data, enc.len);
            if (!h)
                break;
            uint64_t hoff = wstart + (uint64_t)(h - base);
            /* The command containing hoff: commands are in file order. */
            while (ord + 1 < hi && cmds[ord + 1].off <= hoff)
                ord++;
            const l3_icmd_t *c = &cmds[ord];
            if (hoff >= c->off && hoff < c->off + c->len) {
                const uint8_t *line = base + (c->off - wstart);
                const uint8_t *tag_end = memchr(line, '>', c->len);
                if (tag_end && h > tag_end)
                    hits[nhits++] = ord;
                at = (size_t)(c->off + c->len - wstart); /* one hit per command */
            } else {
                at = (size_t)(hoff - wstart) + 1;
            }
        }
        munmap(map, mlen);
        for (uint32_t i = nhits; i > 0 && accepted < want; i--) {
            if (accept(hits[i - 1], arg)) {
                accepted++;
                if (accepted == want) {
                    *more = hits[i - 1] > 0;
                    break;
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
