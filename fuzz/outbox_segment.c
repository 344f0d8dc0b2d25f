/*  Fuzz target: the outbox's segment reader and recovery (agent/outbox.c), through the
    real outbox_open on real files. The input is laid out as segment files in a fresh
    directory with a valid meta, then the outbox is opened (scan, checksums, torn-tail
    truncation, quarantine, re-epoch with msgpack decoding), read back, appended to,
    closed and opened again. Invariants: opening never fails on segment contents; the
    iterator returns consecutive seqs up to the last seq; after an append and a reopen the
    last seq is one more and nothing more is quarantined.

    Input: byte 0 = mode, bytes 1..8 = acked seq (little-endian, taken mod 64), rest =
    segment bytes.
      mode bit 0: the rest is a whole segment file, header included (else the harness
                  writes a valid header for epoch 1, first seq 1 in front of it);
      mode bit 1: split the rest in two segments at its middle (the second one's first
                  seq taken from the entries the first holds);
      mode bit 2: fix up entry checksums the harness can walk, so mutations reach the
                  payload decoder in the re-epoch path. */
#include "l3_log.h"
#include "outbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_dir[64];

static void s_clean(void)
{
    DIR *d = opendir(s_dir);
    if (!d)
        return;
    struct dirent *de;
    char path[400];
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", s_dir, de->d_name);
        unlink(path);
    }
    closedir(d);
}

static void s_remove(void)
{
    s_clean();
    rmdir(s_dir);
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

static void s_write(const char *name, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    if ((alen && write(fd, a, alen) != (ssize_t)alen) ||
        (blen && write(fd, b, blen) != (ssize_t)blen))
        abort();
    close(fd);
}

static void s_meta(uint64_t epoch, uint64_t acked)
{
    uint8_t m[36];
    memcpy(m, "L3OBMETA", 8);
    s_put32(m + 8, 1);
    s_put32(m + 12, 0);
    s_put64(m + 16, epoch);
    s_put64(m + 24, acked);
    s_put32(m + 32, outbox_crc32c(0, m, 32));
    s_write("meta", m, sizeof m, NULL, 0);
}

static void s_header(uint8_t *h, uint64_t epoch, uint64_t first)
{
    memcpy(h, "L3OUTBX1", 8);
    s_put64(h + 8, epoch);
    s_put64(h + 16, first);
    s_put32(h + 24, 0);
    s_put32(h + 28, outbox_crc32c(0, h, 28));
}

/* Walk entries, optionally fixing checksums; returns how many whole entries there are. */
static uint64_t s_walk(uint8_t *p, size_t len, bool fix)
{
    uint64_t n = 0;
    size_t off = 0;
    while (off + OUTBOX_ENTRY_HEADER <= len) {
        uint32_t plen = s_get32(p + off);
        if (plen == 0 || plen > len - off - OUTBOX_ENTRY_HEADER)
            break;
        if (fix) {
            uint32_t crc = outbox_crc32c(0, p + off, 4);
            crc = outbox_crc32c(crc, p + off + 8, 8 + (size_t)plen);
            s_put32(p + off + 4, crc);
        }
        off += OUTBOX_ENTRY_HEADER + plen;
        n++;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        l3_log_init("fuzz_outbox", false, getenv("L3_VERBOSE") ? L3_LOG_DEBUG : L3_LOG_ERROR);
        snprintf(s_dir, sizeof s_dir, "/tmp/l3-fuzz-outbox-%d", (int)getpid());
        mkdir(s_dir, 0700);
        atexit(s_remove);
        ready = true;
    }
    if (size < 9 || size > (1u << 20))
        return 0;
    uint8_t mode = data[0];
    uint64_t acked = 0;
    for (int i = 0; i < 8; i++)
        acked |= (uint64_t)data[1 + i] << (8 * i);
    acked %= 64;
    size_t len = size - 9;
    uint8_t *body = malloc(len + 1);
    memcpy(body, data + 9, len);

    s_clean();
    const uint64_t epoch = 1;
    s_meta(epoch, acked);
    char name[64];
    uint8_t h[OUTBOX_HEADER_SIZE];
    if (mode & 1) {
        snprintf(name, sizeof name, "%016" PRIx64 "-%020" PRIu64 ".seg", epoch, (uint64_t)1);
        s_write(name, body, len, NULL, 0);
    } else {
        size_t cut = len;
        if (mode & 2) {
            /* At the first entry boundary past the middle, when the entries walk. */
            cut = len / 2;
            size_t off = 0;
            while (off + OUTBOX_ENTRY_HEADER <= len) {
                uint32_t plen = s_get32(body + off);
                if (plen == 0 || plen > len - off - OUTBOX_ENTRY_HEADER)
                    break;
                off += OUTBOX_ENTRY_HEADER + plen;
                if (off >= len / 2) {
                    cut = off;
                    break;
                }
            }
        }
        uint64_t n1 = s_walk(body, cut, mode & 4);
        if (mode & 2)
            s_walk(body + cut, len - cut, mode & 4);
        s_header(h, epoch, 1);
        snprintf(name, sizeof name, "%016" PRIx64 "-%020" PRIu64 ".seg", epoch, (uint64_t)1);
        s_write(name, h, sizeof h, body, cut);
        if (mode & 2) {
            s_header(h, epoch, 1 + n1);
            snprintf(name, sizeof name, "%016" PRIx64 "-%020" PRIu64 ".seg", epoch, 1 + n1);
            s_write(name, h, sizeof h, body + cut, len - cut);
        }
    }
    free(body);

    outbox_t *box = outbox_open(s_dir, "fuzz-agent", NULL);
    if (!box)
        abort(); /* segment contents alone must never make the outbox unusable */
    uint64_t last = outbox_last_seq(box);
    outbox_iter_t *it = outbox_iter_new(box, outbox_acked_seq(box) + 1);
    uint64_t seq, expect = 0;
    const uint8_t *p;
    size_t plen;
    int rc;
    while ((rc = outbox_iter_next(it, &seq, &p, &plen)) == 1) {
        if (expect && seq != expect)
            abort();
        if (seq > last || plen == 0)
            abort();
        expect = seq + 1;
    }
    if (rc < 0)
        abort(); /* open verified everything; reading it back must work */
    if (expect && expect != last + 1)
        abort();
    outbox_iter_destroy(&it);

    l3_record_t rec;
    l3_record_init(&rec);
    rec.type = L3_RECORD_END;
    strcpy(rec.host, "h");
    strcpy(rec.user, "u");
    strcpy(rec.sid, "s");
    rec.end_us = 1;
    if (!outbox_append(box, &rec, NULL) || !outbox_sync(box))
        abort();
    l3_record_clear(&rec);
    uint64_t want = outbox_last_seq(box), want_epoch = outbox_epoch(box);
    outbox_destroy(&box);
    box = outbox_open(s_dir, "fuzz-agent", NULL);
    if (!box || outbox_last_seq(box) != want || outbox_epoch(box) != want_epoch)
        abort();
    outbox_destroy(&box);
    return 0;
}
