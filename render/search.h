/*  search — full-text search over the datafile, newest first.

    The needle is XML-encoded exactly as the writer encodes byte fields (l3_xml_encode_bytes),
    so a plain memmem over the raw record lines finds the candidates without parsing
    anything; a candidate line counts when the needle stands in the text of its cwd,
    command line, output or diff (not in an attribute, an element name, the hex of a
    byte XML cannot carry, the inside of an entity, or the timing lines). Where the
    textindex has the commands, only its candidates' lines are read instead. The file is scanned backwards in windows mapped one
    at a time (unmapped after, so the scan does not grow render's resident memory; no
    MAP_POPULATE: building the page tables up front cost more than the scan itself,
    while faults taken by the two scanning threads overlap), and it stops as soon as the caller has enough results: a page of recent hits
    costs one window. Each window is scanned by two threads (halves). Matching is exact
    bytes, or with icase, bytes with ASCII letters in either case. */
#ifndef SEARCH_H
#define SEARCH_H

#include "index.h"
#include "textindex.h"
#include <stddef.h>
#include <stdint.h>

/* Called for each matching command, newest first; return true to count it as a result. */
typedef bool(search_accept_fn)(uint32_t ord, void *arg);

/* Search commands with ordinal < before (UINT32_MAX: all) for needle. Stops after `want`
   accepted results, or when budget_us (0: none) has passed, so one request never holds
   render long. Returns the number accepted; *more is set when older commands remain
   unsearched, and *resume is the `before` to continue with. ti (may be NULL): where it
   has a segment, only the lines of its candidates are read (textindex.h); elsewhere the
   datafile is scanned. icase: ASCII letters match in either case (the index is folded;
   lines are folded before the check). */
size_t search_commands(index_t *index, textindex_t *ti, const char *needle, bool icase,
                       uint32_t before, size_t want, int64_t budget_us, search_accept_fn *accept,
                       void *arg, bool *more, uint32_t *resume);

#endif
