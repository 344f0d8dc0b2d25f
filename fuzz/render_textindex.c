/*  Fuzz target: damaged search index segments (render/textindex.c).

    Once per process: a datafile of one segment of commands (TI_SEG, small varied lines)
    in two parts, as the writer rotates it (its first half in the closed part 0, the rest
    in the live part 1), indexed, and its segment file built across the two. Each input is a needle (its first byte is the
    length) and then edits of the segment file, 5 bytes each (a 32-bit offset, taken
    modulo the file's size, and a byte to XOR there). The damaged file is opened by a new
    textindex and searched: whatever the damage, nothing crashes or hangs and the answer
    equals a full scan's (a check catches the damage and the commands are scanned). */
#include "l3_xmlrec.h"
#include "search.h"
#include "textindex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char s_dir[64], s_data[128], s_seg[256];
static index_t *s_ix;
static uint8_t *s_pristine;
static size_t s_size;

static void s_cleanup(void)
{
    char cmd[200];
    index_destroy(&s_ix);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", s_dir);
    free(s_pristine);
}

static void s_setup(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/l3-fuzz-textindex-%d", (int)getpid());
    snprintf(s_data, sizeof s_data, "%s/data.xml", s_dir);
    snprintf(s_seg, sizeof s_seg, "%s.search/00000000.tri", s_data); /* base: the datafile */
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", s_dir, s_dir);
    if (system(cmd) != 0)
        abort();
    static const char *words[] = {"ls", "grep", "timeout", "make", "Error", "&amp;", "<x>",
                                  "café", "served", "in", "ms", "ok", "vim", "a\"b"};
    l3_buf_t b;
    l3_buf_init(&b, 0);
    l3_buf_append_str(&b, L3_XML_HEADER);
    char part0[160];
    snprintf(part0, sizeof part0, "%s/data.000000-20261201T000000Z.xml", s_dir);
    l3_record_t r;
    l3_record_init(&r);
    r.type = L3_RECORD_SESSION;
    strcpy(r.agent, "f");
    r.epoch = 1;
    r.seq = 1;
    strcpy(r.host, "h");
    strcpy(r.user, "u");
    strcpy(r.sid, "s");
    r.start_us = 1;
    l3_xmlrec_write(&r, &b);
    srand(1);
    for (uint32_t i = 0; i < TI_SEG; i++) {
        if (i == TI_SEG / 2) { /* the rotation: part 0 closed, part 1 begun */
            l3_buf_append_str(&b, L3_XML_FOOTER);
            FILE *p = fopen(part0, "w");
            if (!p || fwrite(b.data, 1, b.len, p) != b.len || fclose(p) != 0)
                abort();
            l3_buf_reset(&b);
            l3_xml_head_t h = {1, i, 1796000000000000ll, 0};
            l3_xml_header_write(&h, &b);
        }
        l3_record_init(&r);
        r.type = L3_RECORD_COMMAND;
        strcpy(r.agent, "f");
        r.epoch = 1;
        r.seq = i + 2;
        strcpy(r.host, "h");
        strcpy(r.user, "u");
        strcpy(r.sid, "s");
        r.nr = i + 1;
        r.start_us = 2 + i;
        r.end_us = 3 + i;
        char line[64], out[64];
        int nl = snprintf(line, sizeof line, "%s %u", words[rand() % 14], (unsigned)rand() % 1000);
        int no = snprintf(out, sizeof out, "%s %s\r\n", words[rand() % 14], words[rand() % 14]);
        l3_bytes_set(&r.cmdline, line, (size_t)nl, L3_CMDLINE_MAX);
        l3_bytes_set(&r.output, out, (size_t)no, L3_OUTPUT_MAX);
        l3_xmlrec_write(&r, &b);
        l3_record_clear(&r);
    }
    l3_buf_append_str(&b, L3_XML_FOOTER);
    FILE *f = fopen(s_data, "w");
    if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0)
        abort();
    l3_buf_free(&b);
    s_ix = index_new(s_data, NULL);
    bool more;
    if (!s_ix || index_scan(s_ix, UINT64_MAX, UINT64_MAX, &more) < 0)
        abort();
    textindex_t *ti = textindex_new(s_data);
    if (!ti || !textindex_build(ti, s_ix, 0))
        abort();
    textindex_destroy(&ti);
    f = fopen(s_seg, "r");
    if (!f || fseek(f, 0, SEEK_END) != 0)
        abort();
    s_size = (size_t)ftell(f);
    s_pristine = malloc(s_size);
    rewind(f);
    if (!s_pristine || fread(s_pristine, 1, s_size, f) != s_size)
        abort();
    fclose(f);
    atexit(s_cleanup);
}

static bool s_count(uint32_t ord, void *arg)
{
    (void)ord;
    ++*(size_t *)arg;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_ix)
        s_setup();
    size_t nlen = size ? data[0] & 0x7f : 0;
    bool icase = size && (data[0] & 0x80); /* the high bit: any case */
    if (size < 1 || nlen + 1 > size)
        return 0;
    char needle[128];
    memcpy(needle, data + 1, nlen);
    needle[nlen] = 0;
    if (strlen(needle) != nlen || !needle[0])
        return 0;
    uint8_t *file = malloc(s_size);
    memcpy(file, s_pristine, s_size);
    for (size_t at = 1 + nlen; at + 5 <= size; at += 5) {
        uint32_t off;
        memcpy(&off, data + at, 4);
        file[off % s_size] ^= data[at + 4];
    }
    FILE *f = fopen(s_seg, "w");
    if (!f || fwrite(file, 1, s_size, f) != s_size || fclose(f) != 0)
        abort();
    free(file);
    textindex_t *ti = textindex_new(s_data);
    textindex_open(ti, s_ix);
    size_t with = 0, without = 0;
    bool more;
    uint32_t resume;
    search_commands(s_ix, ti, needle, icase, UINT32_MAX, SIZE_MAX, 0, s_count, &with, &more, &resume);
    search_commands(s_ix, NULL, needle, icase, UINT32_MAX, SIZE_MAX, 0, s_count, &without, &more,
                    &resume);
    if (with != without)
        abort();
    textindex_destroy(&ti);
    return 0;
}
