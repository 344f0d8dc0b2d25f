/*  l3_xmlrec — a record as one line of the XML datafile, and back.

    The datafile (docs/datafile.md, schema proto/lilalo.rng) is
        <?xml version="1.0" encoding="UTF-8"?>
        <lilalo version="1">
        <session .../>
        <command ...><cwd>..</cwd><line>..</line><out>..</out></command>
        </lilalo>
    with exactly one record per line: a newline inside a byte field is written "&#10;",
    so the writer's torn-tail recovery and every reader can find record boundaries with
    memchr, and the file is still one XML 1.0 document.

    Byte fields are lossless: valid UTF-8 that XML 1.0 can carry is written as text
    (with & < > escaped, CR and LF as character references); every other byte (C0
    controls such as ESC, invalid UTF-8, U+FFFE/U+FFFF) goes into an <x> element holding
    its hex value, e.g. "<x>1b</x>[0m". Decoding concatenates text and <x> bytes. */
#ifndef L3_XMLREC_H
#define L3_XMLREC_H

#include "l3_buf.h"
#include "l3_record.h"

#define L3_XML_HEADER "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<lilalo version=\"1\">\n"
#define L3_XML_FOOTER "</lilalo>\n"

/* The header of a datafile: L3_XML_HEADER for the first file (part 0); the later parts of
   a rotated datafile name themselves in the root tag (docs/datafile.md "Rotation"):
   <lilalo version="1" part="K" commands-before="C" created="RFC 3339 time">. */
#define L3_XML_HEADER_MAX 256
typedef struct {
    uint32_t part;            /* 0 for the first file */
    uint64_t commands_before; /* command records in all earlier parts */
    int64_t created_us;       /* when the part was created; 0 for part 0 */
    size_t len;               /* bytes of the header, both lines */
} l3_xml_head_t;
/* Read a datafile's header: 1 and *head when data starts with one, 0 when data (len
   bytes) is a proper prefix of L3_XML_HEADER (a file torn while it was created), -1 when
   it is not a lilalo datafile. Only the two forms the writer writes are accepted. */
int l3_xml_header_parse(const void *data, size_t len, l3_xml_head_t *head);
/* Append the header of head->part (L3_XML_HEADER for part 0); sets head->len. */
bool l3_xml_header_write(l3_xml_head_t *head, l3_buf_t *out);

/* Append the record as one line (ending in "\n"). The record must be valid. */
bool l3_xmlrec_write(const l3_record_t *rec, l3_buf_t *out);

/* Parse one record line (with or without its "\n"). On success fills rec (caller clears
   it); otherwise false with a reason in err. A line in l3_xmlrec_write's exact form is
   read directly (no tree: a line of 500,000 <x> elements is read in milliseconds); any
   other line goes to libxml2 with no network, no entity expansion and no DTD, which
   accepts and reads the writer's form alike, and says why a bad line is refused. */
bool l3_xmlrec_parse(const void *line, size_t len, l3_record_t *rec, char *err, size_t errlen);

/* Append the lossless XML text encoding of a byte string (no newline characters appear). */
bool l3_xml_encode_bytes(const void *data, size_t len, l3_buf_t *out);
/* Append s with & < > " escaped (for attribute values of validated text fields). */
bool l3_xml_escape_attr(const char *s, l3_buf_t *out);

/* Fast attribute lookup on a raw record line, without a full parse: copies the value of
   attribute `name` of the line's element into buf (entities not decoded; the fields the
   indexers need — agent, epoch, seq, host, user, sid, nr, start, end, exit — never
   contain them except host/user, which callers unescape with l3_xml_unescape). Returns the
   value length, or -1 when absent or longer than size-1. */
int l3_xmlrec_attr(const char *line, size_t len, const char *name, char *buf, size_t size);

/* The start tag's attributes, split once: for a reader that wants many of them (render's
   indexer wants ten per line, and looking each up with l3_xmlrec_attr walked the tag ten
   times: most of its start-up). Same walk, same answers as l3_xmlrec_attr: the
   attributes before the first malformed one, in order. */
#define L3_XMLREC_ATTRS_MAX 32
typedef struct {
    int count;
    bool more; /* more than L3_XMLREC_ATTRS_MAX: look the others up with l3_xmlrec_attr */
    const char *line;
    size_t len;
    struct {
        const char *name, *value;
        uint32_t nlen, vlen;
    } a[L3_XMLREC_ATTRS_MAX];
} l3_xmlrec_tag_t;
void l3_xmlrec_tag(const char *line, size_t len, l3_xmlrec_tag_t *tag);
/* l3_xmlrec_attr's contract, on a split tag (which points into the line). */
int l3_xmlrec_tag_attr(const l3_xmlrec_tag_t *tag, const char *name, char *buf, size_t size);
/* Decode &amp; &lt; &gt; &quot; &apos; and &#N; in place (ASCII result only). */
void l3_xml_unescape(char *s);

#endif
