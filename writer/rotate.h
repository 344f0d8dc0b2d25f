/*  rotate — the datafile in parts: rotation on a size or age boundary, retention of old
    parts, and the repair of either after a crash (docs/datafile.md "Rotation").

    The live datafile keeps its configured name. Rotating closes it under the name of a
    part, `<stem>.<part, 6 digits>-<UTC time of the rotation>.xml` beside it (stem: the
    live name without ".xml"), so names sort by part and by time, and moves a new part,
    whose header names its part number and the command records before it, over the live
    name. Every file is a whole document under the same schema.

    The steps, each durable before the next, and what a crash after each leaves:
      1. create `<live>.next` (header, footer, synced, locked)    -> it is removed
      2. link the live file under its part name, sync the dir     -> the link is removed
      3. save the checkpoint of the new part (stream table)       -> same as 2; the
         checkpoint names a part the live file is not, so the start scans every part
      4. rename `<live>.next` over the live name, sync the dir    -> done
    Acks are not involved: a rotation happens between commits, after the acks of the last.

    Retention removes (or gzips to `<part>.xml.gz` and then removes) whole closed parts
    older than keep_days or beyond keep_bytes, oldest first: the .gz is written under a
    temporary name, synced, renamed, and only then is the .xml removed. */
#ifndef WRITER_ROTATE_H
#define WRITER_ROTATE_H

#include "datafile.h"
#include "l3_parts.h"
#include "streams.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t rotate_bytes;  /* writer/rotate_bytes: rotate once the live file is this big */
    int64_t rotate_seconds; /* writer/rotate_seconds: or once its part is this old */
    uint64_t keep_bytes;    /* writer/keep_bytes: closed .xml parts kept, in bytes */
    int64_t keep_days;      /* writer/keep_days: closed parts kept, in days */
    bool archive;           /* writer/retention = archive (gzip) rather than delete */
} rotate_opts_t;

/* Before the live datafile is opened: finish or undo what a crash in a rotation or a
   retention left. Returns false (reason in err) only when it cannot. */
bool rotate_recover(const char *live, char *err, size_t errlen);

/* When the live file is missing or empty but closed parts exist (it was removed), create
   it as the part after the last one, so numbering and command counts go on. */
bool rotate_ensure_live(const char *live, char *err, size_t errlen);

/* Scan every record line of every closed part (the stream table, when no checkpoint
   can be trusted). A damaged part is read up to the damage, with a warning. false with a
   reason only when the parts cannot be listed. */
bool rotate_scan_parts(const char *live, datafile_line_fn *on_line, void *arg, char *err,
                       size_t errlen);

/* Is a rotation due? `opened_us`: when the writer opened a part 0 (its header has no
   creation time). */
bool rotate_due(const rotate_opts_t *opts, datafile_t *live, int64_t opened_us, int64_t now_us);

/* Rotate now: on success *live is the new part (the old one closed under its part name)
   and the checkpoint at ckpt_path (may be NULL) describes it. On failure *live is
   unchanged and err says why. */
bool rotate_now(datafile_t **live, streams_t *streams, const char *ckpt_path, int64_t now_us,
                char *err, size_t errlen);

/* Apply retention to the closed parts. Logs what it removes or archives. */
void rotate_retain(const char *live, const rotate_opts_t *opts, int64_t now_us);

/* Tests: L3_WRITER_CRASH_AT=<step> kills the process with SIGKILL the first time it
   reaches step (names in docs/datafile.md). */
void rotate_crash_point(const char *step);

#endif
