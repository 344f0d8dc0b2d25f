/*  test_l3_xmlrec — XML record codec: exact round trips of any byte string, one record per
    line, fast attribute lookup, and hostile lines rejected. */
#include "l3_test.h"
#include "l3_time.h"
#include "l3_xmlrec.h"
#include "test_records.h"
#include <libxml/relaxng.h>
#include <stdlib.h>
#include <string.h>

static void s_round_trip(l3_record_t *rec, const char *what)
{
    l3_buf_t line;
    l3_buf_init(&line, 0);
    CHECK(l3_xmlrec_write(rec, &line));
    //  Exactly one newline, at the end.
    CHECK_MSG(line.len > 0 && line.data[line.len - 1] == '\n', "%s", what);
    CHECK_MSG(memchr(line.data, '\n', line.len - 1) == NULL, "%s: newline inside the record", what);
    l3_record_t back;
    char err[256] = "";
    CHECK_MSG(l3_xmlrec_parse(line.data, line.len, &back, err, sizeof(err)), "%s: %s", what, err);
    CHECK_MSG(test_record_eq(rec, &back), "%s: record differs after the round trip", what);
    l3_record_clear(&back);
    l3_buf_free(&line);
}

static void s_each_type(void)
{
    l3_record_t rec;
    for (int t = L3_RECORD_SESSION; t <= L3_RECORD_END; t++) {
        test_record_fill(&rec, (l3_record_type_t) t, 3);
        s_round_trip(&rec, l3_record_type_name((l3_record_type_t) t));
        l3_record_clear(&rec);
    }
}

//  Random byte strings, every byte value, invalid UTF-8, 0 to 1 MiB.
static void s_random_bytes(void)
{
    unsigned seed = 777;
    size_t sizes[] = {0, 1, 2, 3, 255, 256, 4096, 65537, L3_OUTPUT_MAX};
    uint8_t *data = malloc(L3_OUTPUT_MAX);
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (int variant = 0; variant < 3; variant++) {
            size_t n = sizes[s];
            for (size_t i = 0; i < n; i++) {
                if (variant == 0)
                    data[i] = (uint8_t) rand_r(&seed); // uniform bytes
                else if (variant == 1)
                    data[i] = (uint8_t) i; // every value in order
                else {
                    //  Mostly text with UTF-8, escapes and broken sequences mixed in.
                    static const char *pieces[] = {"abc", "\xd0\x96", "\x1b[0m", "\r\n", "&<>\"",
                                                   "\xe2\x82", "\xef\xbf\xbe", "\xed\xa0\x80",
                                                   "\xf4\x90\x80\x80", "\t", "]]>", "\x00"};
                    const char *piece = pieces[(size_t) rand_r(&seed) % 12];
                    size_t plen = piece[0] ? strlen(piece) : 1;
                    for (size_t k = 0; k < plen && i < n; k++)
                        data[i++] = (uint8_t) piece[k];
                    i--;
                }
            }
            l3_record_t rec;
            test_record_fill(&rec, L3_RECORD_COMMAND, 9);
            CHECK(l3_bytes_set(&rec.output, data, n, L3_OUTPUT_MAX));
            CHECK(l3_bytes_set(&rec.cmdline, data, n, L3_CMDLINE_MAX));
            CHECK(l3_bytes_set(&rec.cwd, data, n < L3_CWD_MAX ? n : L3_CWD_MAX, L3_CWD_MAX));
            rec.output_head = n / 2;
            char what[64];
            snprintf(what, sizeof(what), "size %zu variant %d", n, variant);
            s_round_trip(&rec, what);
            l3_record_clear(&rec);
        }
    }
    free(data);
}

static void s_attr_lookup(void)
{
    l3_record_t rec;
    test_record_fill(&rec, L3_RECORD_COMMAND, 12345);
    l3_buf_t line;
    l3_buf_init(&line, 0);
    l3_xmlrec_write(&rec, &line);
    char value[300];
    CHECK(l3_xmlrec_attr((char *) line.data, line.len, "seq", value, sizeof(value)) == 5);
    CHECK(!strcmp(value, "12345"));
    CHECK(l3_xmlrec_attr((char *) line.data, line.len, "agent", value, sizeof(value)) > 0);
    CHECK(!strcmp(value, "agent-1"));
    CHECK(l3_xmlrec_attr((char *) line.data, line.len, "user", value, sizeof(value)) > 0);
    l3_xml_unescape(value);
    CHECK(!strcmp(value, rec.user));
    CHECK(l3_xmlrec_attr((char *) line.data, line.len, "nope", value, sizeof(value)) == -1);
    //  "end" must not match inside another attribute name.
    CHECK(l3_xmlrec_attr((char *) line.data, line.len, "end", value, sizeof(value)) > 0);
    char expect[40];
    l3_time_format(rec.end_us, expect, sizeof(expect));
    CHECK(!strcmp(value, expect));
    l3_buf_free(&line);
    l3_record_clear(&rec);

    //  A value that ends like the next attribute's opening (found by fuzz/render_page):
    //  host="h sid=" made the sid lookup return " user=", merging every session of the
    //  host; nested="x start=" hid the start time.
    test_record_fill(&rec, L3_RECORD_COMMAND, 7);
    strcpy(rec.host, "h sid=");
    strcpy(rec.user, "u user= end=");
    strcpy(rec.nested, "x start=");
    l3_buf_init(&line, 0);
    CHECK(l3_xmlrec_write(&rec, &line));
    CHECK(l3_xmlrec_attr((char *) line.data, line.len, "sid", value, sizeof(value)) > 0);
    CHECK_MSG(!strcmp(value, rec.sid), "sid read as \"%s\"", value);
    CHECK(l3_xmlrec_attr((char *) line.data, line.len, "user", value, sizeof(value)) > 0);
    CHECK_MSG(!strcmp(value, rec.user), "user read as \"%s\"", value);
    CHECK(l3_xmlrec_attr((char *) line.data, line.len, "start", value, sizeof(value)) > 0);
    l3_time_format(rec.start_us, expect, sizeof(expect));
    CHECK_MSG(!strcmp(value, expect), "start read as \"%s\"", value);
    CHECK(l3_xmlrec_attr((char *) line.data, line.len, "end", value, sizeof(value)) > 0);
    l3_time_format(rec.end_us, expect, sizeof(expect));
    CHECK_MSG(!strcmp(value, expect), "end read as \"%s\"", value);
    //  Only the start tag is read: the same text in the output is no attribute.
    CHECK(l3_xmlrec_attr("<command a=\"1\"><out> b=\"2\"</out>", 32, "b", value,
                         sizeof(value)) == -1);
    l3_buf_free(&line);
    l3_record_clear(&rec);
}

static void s_hostile_lines(void)
{
    const char *lines[] = {
        "",
        "garbage",
        "<command agent=\"a\"",
        "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><command agent=\"a\">&e;</command>",
        "<?xml version=\"1.0\"?><end/>",
        "<bogus agent=\"a\" epoch=\"1\" seq=\"1\" host=\"h\" user=\"u\" sid=\"s\"/>",
        "<end agent=\"a\" epoch=\"1\" seq=\"1\" host=\"h\" user=\"u\" sid=\"s\"/>", // no end time
        "<end agent=\"a\" epoch=\"0\" seq=\"1\" host=\"h\" user=\"u\" sid=\"s\" end=\"2026-01-01T00:00:00Z\"/>",
        "<command agent=\"a\" epoch=\"1\" seq=\"1\" host=\"h\" user=\"u\" sid=\"s\" nr=\"1\" "
        "start=\"2026-01-01T00:00:00Z\"><line><x>zz</x></line></command>",
        "<command agent=\"a\" epoch=\"1\" seq=\"1\" host=\"h\" user=\"u\" sid=\"s\" nr=\"1\" "
        "start=\"2026-01-01T00:00:00Z\"><line>a<b/>c</line></command>",
        "<command agent=\"a\" epoch=\"1\" seq=\"-1\" host=\"h\" user=\"u\" sid=\"s\" nr=\"1\" "
        "start=\"2026-01-01T00:00:00Z\"><line/></command>",
        "<command agent=\"a\" epoch=\"1\" seq=\"1\" host=\"h\" user=\"u\" sid=\"s\" nr=\"1\" "
        "start=\"2026-01-01T00:00:00Z\"><line/><line/></command>",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        l3_record_t rec;
        char err[256] = "";
        CHECK_MSG(!l3_xmlrec_parse(lines[i], strlen(lines[i]), &rec, err, sizeof(err)),
                  "hostile line %zu accepted", i);
        CHECK_MSG(err[0], "line %zu rejected without a reason", i);
    }
    //  And a minimal good one, to show the table is not rejecting everything.
    const char *good = "<command agent=\"a\" epoch=\"1\" seq=\"1\" host=\"h\" user=\"u\" sid=\"s\" "
                       "nr=\"1\" start=\"2026-01-01T00:00:00Z\"><line>ls<x>1b</x></line></command>";
    l3_record_t rec;
    char err[256] = "";
    CHECK_MSG(l3_xmlrec_parse(good, strlen(good), &rec, err, sizeof(err)), "%s", err);
    CHECK(rec.cmdline.len == 3 && memcmp(rec.cmdline.data, "ls\x1b", 3) == 0);
    l3_record_clear(&rec);
}

//  Every record type with every optional field set, and random bytes, in one datafile:
//  the schema proto/lilalo.rng must accept exactly what the codec writes.
static void s_schema(void)
{
    const char *src = getenv("L3_SOURCE_DIR");
    if (!src) {
        fprintf(stderr, "L3_SOURCE_DIR not set: schema check not run\n");
        l3_test_failures++;
        return;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/proto/lilalo.rng", src);
    l3_buf_t file;
    l3_buf_init(&file, 0);
    l3_buf_append_str(&file, L3_XML_HEADER);
    for (int t = L3_RECORD_SESSION; t <= L3_RECORD_END; t++) {
        l3_record_t rec;
        test_record_fill(&rec, (l3_record_type_t) t, (uint64_t) t);
        if (t == L3_RECORD_COMMAND) {
            uint8_t all[256];
            for (int i = 0; i < 256; i++)
                all[i] = (uint8_t) i;
            l3_bytes_set(&rec.output, all, sizeof(all), L3_OUTPUT_MAX);
            rec.output_head = 100;
        }
        l3_xmlrec_write(&rec, &file);
        l3_record_clear(&rec);
    }
    l3_buf_append_str(&file, L3_XML_FOOTER);
    xmlRelaxNGParserCtxtPtr pctx = xmlRelaxNGNewParserCtxt(path);
    xmlRelaxNGPtr schema = pctx ? xmlRelaxNGParse(pctx) : NULL;
    CHECK_MSG(schema != NULL, "cannot load %s", path);
    xmlDocPtr doc = xmlReadMemory((const char *) file.data, (int) file.len, NULL, "UTF-8",
                                  XML_PARSE_NONET);
    CHECK(doc != NULL);
    if (schema && doc) {
        xmlRelaxNGValidCtxtPtr vctx = xmlRelaxNGNewValidCtxt(schema);
        CHECK_MSG(xmlRelaxNGValidateDoc(vctx, doc) == 0, "the codec's output breaks the schema");
        xmlRelaxNGFreeValidCtxt(vctx);
    }
    xmlFreeDoc(doc);
    xmlRelaxNGFree(schema);
    xmlRelaxNGFreeParserCtxt(pctx);
    l3_buf_free(&file);
}

//  libxml2 allocations, counted: the writer's own lines are read without libxml2.
static size_t s_xml_allocs;
static void *s_count_malloc(size_t size)
{
    s_xml_allocs++;
    return malloc(size);
}
static void *s_count_realloc(void *p, size_t size)
{
    s_xml_allocs++;
    return realloc(p, size);
}
static char *s_count_strdup(const char *s)
{
    s_xml_allocs++;
    return strdup(s);
}

//  Parse line with a space before the end of its start tag: the same XML, not the
//  writer's exact form, so libxml2 reads it.
static bool s_parse_spaced(const l3_buf_t *line, l3_record_t *rec)
{
    const uint8_t *gt = memchr(line->data, '>', line->len);
    size_t at = (size_t) (gt - line->data);
    if (at && line->data[at - 1] == '/')
        at--;
    uint8_t *copy = malloc(line->len + 1);
    memcpy(copy, line->data, at);
    copy[at] = ' ';
    memcpy(copy + at + 1, line->data + at, line->len - at);
    char err[256];
    bool ok = l3_xmlrec_parse(copy, line->len + 1, rec, err, sizeof(err));
    free(copy);
    return ok;
}

//  The writer's lines are read without libxml2 (found by fuzz/render_page: a 1 MiB output
//  alternating text and ESC is 500,000 <x> elements, and libxml2's tree of its line took
//  5 s and 200 MB, on every page that showed the command), and read exactly as libxml2
//  reads them.
static void s_fast_reader(void)
{
    xmlInitParser();
    xmlMemSetup(free, s_count_malloc, s_count_realloc, s_count_strdup);
    for (int variant = 0; variant < 5; variant++) {
        l3_record_t rec;
        test_record_fill(&rec, variant < 3 ? L3_RECORD_COMMAND
                               : variant == 3 ? L3_RECORD_SESSION : L3_RECORD_END, 5);
        if (variant == 0) {
            //  (64 KiB: the libxml2 reading below, for comparison, is the slow one)
            size_t n = 65536;
            uint8_t *out = malloc(n);
            for (size_t i = 0; i < n; i++)
                out[i] = i & 1 ? 0x1b : 'a';
            CHECK(l3_bytes_set(&rec.output, out, n, L3_OUTPUT_MAX));
            free(out);
        } else if (variant == 1) {
            static const char odd[] = "\t&<>\"'\r\n\xef\xbf\xbe\xc2\x85\x7f\xff\x00]]>";
            CHECK(l3_bytes_set(&rec.cmdline, odd, sizeof(odd) - 1, L3_CMDLINE_MAX));
            CHECK(l3_bytes_set(&rec.cwd, odd, sizeof(odd) - 1, L3_CWD_MAX));
            strcpy(rec.host, "h&<>\"' sid=");
        } else if (variant == 2) {
            l3_bytes_free(&rec.output);
            l3_bytes_free(&rec.cwd);
            rec.output_head = 0;
        }
        l3_buf_t line;
        l3_buf_init(&line, 0);
        CHECK(l3_xmlrec_write(&rec, &line));
        l3_record_t fast, dom;
        char err[256] = "";
        s_xml_allocs = 0;
        CHECK_MSG(l3_xmlrec_parse(line.data, line.len, &fast, err, sizeof(err)), "%d: %s",
                  variant, err);
        CHECK_MSG(s_xml_allocs == 0, "variant %d: %zu libxml2 allocations", variant,
                  s_xml_allocs);
        CHECK_MSG(test_record_eq(&rec, &fast), "variant %d read wrong", variant);
        CHECK(s_parse_spaced(&line, &dom));
        CHECK_MSG(s_xml_allocs > 0, "variant %d: the spaced line did not go to libxml2",
                  variant);
        CHECK_MSG(test_record_eq(&dom, &fast), "variant %d: the two readers differ", variant);
        //  A torn line is refused (by libxml2, as before).
        //  (into a record of its own: parse starts from an empty record, so one that
        //  still held fields would leak them)
        l3_record_t torn;
        CHECK(!l3_xmlrec_parse(line.data, line.len / 2, &torn, err, sizeof(err)));
        l3_record_clear(&fast);
        l3_record_clear(&dom);
        l3_record_clear(&rec);
        l3_buf_free(&line);
    }
    //  Close to the writer's form, but not it: libxml2 decides.
    static const char *lines[] = {
        "<end agent=\"a\" epoch=\"1\" seq=\"1\" host=\"h\" user=\"u\" sid=\"s\" "
        "end=\"2026-01-01T00:00:00.000000Z\"/>",
        "<end agent=\"a\" epoch=\"1\" seq=\"1\" host=\"h\" user=\"u\" sid=\"s\" "
        "end=\"2026-01-01T00:00:00.000000Z\" agent=\"b\"/>", // duplicate attribute
        "<end agent='a' epoch=\"1\" seq=\"1\" host=\"h\" user=\"u\" sid=\"s\" "
        "end=\"2026-01-01T00:00:00.000000Z\"/>", // single quotes: XML, not the writer's
        "<end agent=\"a\" epoch=\"1\" seq=\"1\" host=\"h&#65;\" user=\"u\" sid=\"s\" "
        "end=\"2026-01-01T00:00:00.000000Z\"/>", // a character reference
    };
    bool expect[] = {true, false, true, true};
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        l3_record_t rec;
        char err[256] = "";
        s_xml_allocs = 0;
        bool ok = l3_xmlrec_parse(lines[i], strlen(lines[i]), &rec, err, sizeof(err));
        CHECK_MSG(ok == expect[i], "line %zu: %s", i, err);
        CHECK_MSG((s_xml_allocs == 0) == (i == 0), "line %zu: %zu libxml2 allocations", i,
                  s_xml_allocs);
        if (ok && i == 3)
            CHECK(!strcmp(rec.host, "hA"));
        l3_record_clear(&rec);
    }
    xmlMemSetup(free, malloc, realloc, strdup);
}

/* The header of a datafile part (docs/datafile.md "Rotation"): written, read back; a
   torn plain header is "fresh"; anything else is foreign. */
static void s_part_header(void)
{
    l3_xml_head_t h = {.part = 7, .commands_before = 123456789012ull,
                       .created_us = 1796318676121528ll}, r;
    l3_buf_t b;
    l3_buf_init(&b, 0);
    CHECK(l3_xml_header_write(&h, &b));
    CHECK(l3_xml_header_parse(b.data, b.len, &r) == 1);
    CHECK(r.part == 7 && r.commands_before == 123456789012ull && r.len == b.len &&
          r.created_us == h.created_us);
    //  Followed by records, only the header is read.
    l3_buf_append_str(&b, "<end agent=\"a\" epoch=\"1\" seq=\"1\"/>\n");
    CHECK(l3_xml_header_parse(b.data, b.len, &r) == 1 && r.len == h.len);
    //  Every proper prefix of a part header is foreign (parts are created whole, under
    //  another name); of the plain header, a torn creation.
    for (size_t i = 0; i < h.len; i++)
        CHECK_MSG(l3_xml_header_parse(b.data, i, &r) == (i < strlen(L3_XML_HEADER) &&
                                                         memcmp(b.data, L3_XML_HEADER, i) == 0
                                                     ? 0 : -1),
                  "prefix of %zu bytes", i);
    size_t plain = strlen(L3_XML_HEADER);
    for (size_t i = 0; i < plain; i++)
        CHECK(l3_xml_header_parse(L3_XML_HEADER, i, &r) == 0);
    CHECK(l3_xml_header_parse(L3_XML_HEADER, plain, &r) == 1 && r.part == 0 && r.len == plain);
    const char *bad[] = {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<lilalo version=\"1\" part=\"0\" "
        "commands-before=\"0\" created=\"2026-12-03T17:20:00Z\">\n",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<lilalo version=\"1\" part=\"01\" "
        "commands-before=\"0\" created=\"2026-12-03T17:20:00Z\">\n",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<lilalo version=\"1\" part=\"4294967296\" "
        "commands-before=\"0\" created=\"2026-12-03T17:20:00Z\">\n",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<lilalo version=\"1\" part=\"2\" "
        "created=\"2026-12-03T17:20:00Z\" commands-before=\"0\">\n",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<lilalo version=\"1\" part=\"2\" "
        "commands-before=\"-1\" created=\"2026-12-03T17:20:00Z\">\n",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<lilalo version=\"1\" part=\"2\" "
        "commands-before=\"0\" created=\"yesterday\">\n",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<lilalo version=\"1\" part=\"2\" "
        "commands-before=\"0\" created=\"2026-12-03T17:20:00Z\" x=\"1\">\n",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<lilalo version=\"2\">\n",
        "<?xml version=\"1.0\"?>\n<lilalo version=\"1\">\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_MSG(l3_xml_header_parse(bad[i], strlen(bad[i]), &r) == -1, "bad header %zu", i);
    l3_buf_free(&b);
}

int main(void)
{
    s_schema();
    s_each_type();
    s_random_bytes();
    s_attr_lookup();
    s_hostile_lines();
    s_fast_reader();
    s_part_header();
    TEST_DONE();
}
