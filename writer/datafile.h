/*  datafile — the writer's XML datafile: exclusive lock, torn-tail recovery, group append.

    The file is L3_XML_HEADER, then one record per line (l3_xmlrec), then L3_XML_FOOTER
    (docs/datafile.md). The committed offset is the end of the last complete record line:
    everything before it is durable and the footer follows it. An append writes the batch
    of record lines over the footer and the footer after them in one pwritev, then
    fdatasync; only then does the committed offset move. A failed append is cut back to
    the committed offset, so the file is a valid document whatever happens.

    Exactly one process may hold a datafile open: an open-file-description write lock on
    the file itself (which no stray close() in the process can drop), plus a classic POSIX
    lock on another byte whose only job is to let F_GETLK name the holder's pid for the
    refusal message. POSIX locks are not inherited, so open the datafile after
    daemonizing. */
#ifndef WRITER_DATAFILE_H
#define WRITER_DATAFILE_H

#include "l3_xmlrec.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Longest record line accepted when scanning. A record's byte fields total at most
   L3_MSG_MAX (6 MiB) and the worst byte encoding is under 8 bytes per byte, so a line the
   writer wrote is always shorter; a longer "line" is damage, not data. */
#define DATAFILE_LINE_MAX (64u << 20)

/* One record line found by the scanner. Points into the scanned data: valid during the
   callback only. */
typedef struct {
    const char *line; /* without its "\n" */
    size_t len;
    uint64_t offset;  /* of the line's first byte in the file */
    char agent[65];
    uint64_t epoch;
    uint64_t seq;
} datafile_line_t;

/* Called for each good record line, in file order. */
typedef void(datafile_line_fn)(const datafile_line_t *line, void *arg);

/* Outcome of scanning a datafile image. */
typedef struct {
    bool foreign;       /* does not start with L3_XML_HEADER (nor is a prefix of it) */
    bool fresh;         /* empty or a torn header: to be initialised */
    uint64_t good_end;  /* end of the last good record line (= committed offset) */
    uint64_t records;   /* good record lines */
    uint64_t commands;  /* of which command records */
    l3_xml_head_t head; /* the header read (its part and what came before it) */
    bool clean;         /* the footer follows good_end and nothing after it */
    uint64_t bad_offset;   /* when !clean: where the first bad line starts */
    char reason[256];   /* when !clean or foreign: why */
} datafile_scan_t;

/* Scan an in-memory image of a datafile: check the header, walk the record lines, stop at
   the first line that is not a complete record line or at the footer. Lines starting at
   or after verify_from are also fully parsed with l3_xmlrec_parse (the cheap check is
   enough for the older, long-synced part; a torn write can only hit the tail). Pure: no
   I/O, so it is also the fuzz target. */
void datafile_scan_image(const uint8_t *data, size_t len, uint64_t verify_from,
                         datafile_line_fn *on_line, void *arg, datafile_scan_t *result);

/* The same, beginning at offset start, which the caller knows to end a good record line
   (a checkpoint's offset, checked by datafile_new): the header is checked, the lines
   before start are not read, and result->records counts the lines from start on. */
void datafile_scan_image_from(const uint8_t *data, size_t len, uint64_t start,
                              uint64_t verify_from, datafile_line_fn *on_line, void *arg,
                              datafile_scan_t *result);

/* Cheap structural check of one line (no "\n"): a session, command or end element, with
   agent, epoch and seq attributes, well-formed at both ends, no raw control bytes. Fills
   agent/epoch/seq of out when it returns true. */
bool datafile_line_check(const char *line, size_t len, datafile_line_t *out, char *why,
                         size_t whylen);

typedef struct _datafile_t datafile_t;

/* A resume offset is trusted when the DATAFILE_TAIL_CHECK bytes before it (fewer near the
   start) are still those seen when it was committed. */
#define DATAFILE_TAIL_CHECK 4096u

/* Where an earlier run left the file (writer/checkpoint.h): a committed offset, the
   record lines before it, and the SHA-256 of the bytes before it (datafile_tail_sha256).
   When the file still holds those bytes there, datafile_new scans only what follows. */
typedef struct {
    uint64_t offset;
    uint64_t records;
    uint64_t commands; /* command records before offset */
    uint32_t part;     /* the part (header) the offset belongs to */
    uint8_t tail_sha256[32];
    bool used;     /* out: the scan began at offset */
    char why[192]; /* out: when not used, why not */
} datafile_resume_t;

/* Open path (creating it with header and footer when missing or empty), take the lock,
   recover a torn tail and report every good record line to on_line (may be NULL) — every
   line after resume->offset when resume (may be NULL) checks out, else every line.
   verify_tail: bytes at the end of the file whose lines are fully parsed. Returns NULL
   with a reason in err; when another process holds the lock, *holder (if given) is its
   pid (or -1 when unknown). */
datafile_t *datafile_new(const char *path, uint64_t verify_tail, datafile_resume_t *resume,
                         datafile_line_fn *on_line, void *arg, char *err, size_t errlen,
                         pid_t *holder);

/* SHA-256 of the DATAFILE_TAIL_CHECK bytes before the committed offset (fewer near the
   start), for a checkpoint. false when they cannot be read. */
bool datafile_tail_sha256(datafile_t *self, uint8_t out[32]);
void datafile_destroy(datafile_t **self_p);

/* Pid of the process holding the lock on path, 0 when none (or the file is absent),
   -1 when locked by an unknown process or it cannot be told. Does not take the lock.
   Not for the holder itself: it opens and closes the file, which drops the holder's
   POSIX (pid-reporting) lock. */
pid_t datafile_lock_holder(const char *path);

/* Append `count` complete record lines (each ending in "\n") and make them durable. Returns 0 and
   advances the committed offset, or an errno value (ENOSPC, EIO, ...) after cutting the
   file back to the committed offset with the footer restored (best effort: if even that
   fails the tail is left for the next open to recover, readers stop at the offset). */
int datafile_append(datafile_t *self, const void *lines, size_t len, uint64_t count,
                    uint64_t commands);

/* Create a new part at path (which must not exist) with head's header and the footer,
   synced, and locked as datafile_new locks: the next part of a rotation, made under a
   temporary name and then moved over the live name with datafile_rename. NULL with a
   reason in err. */
datafile_t *datafile_create(const char *path, l3_xml_head_t *head, char *err, size_t errlen);
/* rename() the file to `to` and sync its directory; 0 or errno. The lock stays. */
int datafile_rename(datafile_t *self, const char *to);
/* fsync the directory holding path (after creating, renaming or removing a file in it). */
void datafile_sync_dir(const char *path);
/* The file's header: its part number and the command records before it. */
const l3_xml_head_t *datafile_head(datafile_t *self);
/* Command records in this file up to the committed offset. */
uint64_t datafile_commands(datafile_t *self);

/* End of the last durable record line: readers may read [0, committed) plus the footer. */
uint64_t datafile_committed(datafile_t *self);
uint64_t datafile_records(datafile_t *self);
const char *datafile_path(datafile_t *self);

#endif
