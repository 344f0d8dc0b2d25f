/*  Fuzz target: the writer's start-up scanner and torn-tail recovery rule
    (datafile_scan_image, writer/datafile.c). Whatever the bytes, it must not crash, and
    what it keeps must be a clean datafile: cutting the image at good_end and adding the
    footer, as datafile_new does, gives an image that scans clean with the same records. */
#include "datafile.h"
#include "l3_xmlrec.h"
#include <libxml/parser.h>
#include <stdlib.h>
#include <string.h>

static void s_quiet(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static void s_line(const datafile_line_t *line, void *arg)
{
    uint64_t *seen = arg;
    /* Lines are whole: inside the image, no newline in them. */
    if (memchr(line->line, '\n', line->len))
        abort();
    (*seen)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xmlSetGenericErrorFunc(NULL, s_quiet);
    /* An input with an odd first byte stands for the header (so the fuzzer reaches the
       line scanner quickly); any other input is the whole image. */
    size_t hl = strlen(L3_XML_HEADER);
    uint8_t *image = malloc(size + hl + 1);
    size_t len = 0;
    if (size && (data[0] & 1)) {
        memcpy(image, L3_XML_HEADER, hl);
        len = hl;
        data++;
        size--;
    }
    if (size)
        memcpy(image + len, data, size);
    len += size;

    datafile_scan_t scan;
    uint64_t seen = 0;
    datafile_scan_image(image, len, 0, s_line, &seen, &scan);
    if (seen != scan.records)
        abort();
    if (!scan.foreign && !scan.fresh) {
        if (scan.good_end < hl || scan.good_end > len || image[scan.good_end - 1] != '\n')
            abort();
        /* The repaired image scans clean, with the same records. */
        size_t fl = strlen(L3_XML_FOOTER);
        uint8_t *fixed = malloc((size_t)scan.good_end + fl);
        memcpy(fixed, image, (size_t)scan.good_end);
        memcpy(fixed + scan.good_end, L3_XML_FOOTER, fl);
        datafile_scan_t again;
        uint64_t seen2 = 0;
        datafile_scan_image(fixed, (size_t)scan.good_end + fl, 0, s_line, &seen2, &again);
        if (!again.clean || again.records != scan.records || again.good_end != scan.good_end)
            abort();
        free(fixed);
    }
    free(image);
    return 0;
}
