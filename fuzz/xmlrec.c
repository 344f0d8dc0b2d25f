/*  Fuzz target: the XML record line parser that the writer's recovery and every reader
    use. Anything it accepts must be a valid record that writes back and parses again to
    the same bytes. The parser reads the writer's exact form itself and leaves any other
    line to libxml2: the same line with a space before the end of its start tag (no
    longer that form, the same XML) must be accepted or refused alike, as the same
    record. */
#include "l3_xmlrec.h"
#include <libxml/parser.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static void s_quiet(void *ctx, const char *msg, ...)
{
    (void) ctx;
    (void) msg;
}

/* Parse data with a space inserted before the end of its start tag (the first '>'
   outside quotes, or its "/>"); -1 when there is no such place. */
static int s_parse_spaced(const uint8_t *data, size_t size, l3_record_t *rec)
{
    size_t i = 0;
    uint8_t quote = 0;
    for (; i < size; i++) {
        uint8_t c = data[i];
        if (quote) {
            if (c == quote)
                quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '>') {
            break;
        }
    }
    if (i == size || i < 2)
        return -1;
    size_t at = data[i - 1] == '/' ? i - 1 : i;
    uint8_t *copy = malloc(size + 1);
    if (!copy)
        abort();
    memcpy(copy, data, at);
    copy[at] = ' ';
    memcpy(copy + at + 1, data + at, size - at);
    char err[256];
    int ok = l3_xmlrec_parse(copy, size + 1, rec, err, sizeof(err));
    free(copy);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xmlSetGenericErrorFunc(NULL, s_quiet);
    l3_record_t rec;
    char err[256];
    char value[128];
    l3_xmlrec_attr((const char *) data, size, "seq", value, sizeof(value));
    //  The split tag answers as l3_xmlrec_attr does, for every name it found and a few
    //  it may not have.
    //  A datafile header: what it reads, written again, reads the same.
    l3_xml_head_t head, head2;
    if (l3_xml_header_parse(data, size, &head) == 1) {
        if (head.len > size || head.len > L3_XML_HEADER_MAX + 64)
            abort();
        l3_buf_t h;
        l3_buf_init(&h, 0);
        size_t len = head.len;
        if (!l3_xml_header_write(&head, &h) || l3_xml_header_parse(h.data, h.len, &head2) != 1 ||
            head2.part != head.part || head2.commands_before != head.commands_before ||
            head2.created_us / 1000000 != head.created_us / 1000000 || head2.len != h.len)
            abort();
        if (head.part == 0 && (len != h.len || memcmp(h.data, data, len) != 0))
            abort();
        l3_buf_free(&h);
    }
    l3_xmlrec_tag_t tag;
    l3_xmlrec_tag((const char *) data, size, &tag);
    static const char *names[] = {"seq", "host", "sid", "flags", "x"};
    for (int i = 0; i < tag.count + 5; i++) {
        char name[64], v1[128], v2[128];
        if (i < tag.count) {
            if (tag.a[i].nlen >= sizeof name)
                continue;
            memcpy(name, tag.a[i].name, tag.a[i].nlen);
            name[tag.a[i].nlen] = 0;
        } else
            snprintf(name, sizeof name, "%s", names[i - tag.count]);
        int n1 = l3_xmlrec_attr((const char *) data, size, name, v1, sizeof v1);
        int n2 = l3_xmlrec_tag_attr(&tag, name, v2, sizeof v2);
        if (n1 != n2 || (n1 >= 0 && memcmp(v1, v2, (size_t) n1) != 0))
            abort();
    }
    bool parsed = l3_xmlrec_parse(data, size, &rec, err, sizeof(err));
    l3_record_t spaced;
    int sp = s_parse_spaced(data, size, &spaced);
    if (sp >= 0 && sp != (int) parsed)
        abort(); /* the two readers disagree on whether the line is a record */
    if (!parsed)
        return 0;
    l3_buf_t line;
    l3_buf_init(&line, 0);
    if (!l3_xmlrec_write(&rec, &line))
        abort();
    if (sp > 0) {
        l3_buf_t line3;
        l3_buf_init(&line3, 0);
        l3_xmlrec_write(&spaced, &line3);
        if (line.len != line3.len || memcmp(line.data, line3.data, line.len) != 0)
            abort(); /* the two readers read different records */
        l3_buf_free(&line3);
        l3_record_clear(&spaced);
    }
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
