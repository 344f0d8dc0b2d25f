/*  Fuzz target: the XML record line parser that the writer's recovery and every reader
    use. Anything it accepts must be a valid record that writes back and parses again to
    the same bytes. */
#include "l3_xmlrec.h"
#include <libxml/parser.h>
#include <stdlib.h>
#include <string.h>

static void s_quiet(void *ctx, const char *msg, ...)
{
    (void) ctx;
    (void) msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xmlSetGenericErrorFunc(NULL, s_quiet);
    l3_record_t rec;
    char err[256];
    char value[128];
    l3_xmlrec_attr((const char *) data, size, "seq", value, sizeof(value));
    if (!l3_xmlrec_parse(data, size, &rec, err, sizeof(err)))
        return 0;
    l3_buf_t line;
    l3_buf_init(&line, 0);
    if (!l3_xmlrec_write(&rec, &line))
        abort();
    l3_record_t again;
    if (!l3_xmlrec_parse(line.data, line.len, &again, err, sizeof(err)))
        abort();
    l3_buf_t line2;
    l3_buf_init(&line2, 0);
    l3_xmlrec_write(&again, &line2);
    if (line.len != line2.len || memcmp(line.data, line2.data, line.len) != 0)
        abort();
    l3_buf_free(&line);
    l3_buf_free(&line2);
    l3_record_clear(&rec);
    l3_record_clear(&again);
    return 0;
}
