/*  l3_parts — the names of a rotated datafile's parts (docs/datafile.md "Rotation").

    The live datafile keeps its configured name, <dir>/<stem>.xml; a closed part sits
    beside it as <dir>/<stem>.<part, 6+ digits>-<UTC time it was closed>.xml, or .xml.gz
    once retention archived it, so names sort by part and by time. The writer makes and
    removes them (writer/rotate.c); render reads them (render/index.c): both find them
    here, so the two can never disagree on a name. */
#ifndef L3_PARTS_H
#define L3_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A closed part beside the live datafile. */
typedef struct {
    char *path;
    uint32_t part;
    int64_t closed_us; /* the time in its name */
    bool gz;           /* archived */
    uint64_t bytes;    /* its size on disk */
} l3_part_t;

/* The directory of live and its name without ".xml"; false when either does not fit. */
bool l3_parts_split(const char *live, char *dir, size_t dirlen, char *stem, size_t stemlen);

/* The name part `part` of live takes when it is closed at closed_us (malloc'd). */
char *l3_part_path(const char *live, uint32_t part, int64_t closed_us);

/* The closed parts of the live datafile, by part number, one entry per part: when both
   <part>.xml and <part>.xml.gz are there (an archive being finished), the archive when
   prefer_gz (the writer, finishing it), else the plain file (render, reading it). false
   when the directory cannot be read. Free with l3_parts_free. */
bool l3_parts_list(const char *live, bool prefer_gz, l3_part_t **parts, size_t *count);
void l3_parts_free(l3_part_t *parts, size_t count);

#endif
