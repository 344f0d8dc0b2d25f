/*  checkpoint — the writer's stream table saved beside the datafile, so that a restart
    reads it and scans only what was committed after it, not the whole file.

    Without it the writer rebuilds its dedup table (streams.h) by scanning every record
    line at start: 0.5 s per GB, 2.6 s at 10M commands and growing for ever. The table
    itself is small (one line per agent epoch), so the writer saves it with the committed
    offset it belongs to, every writer/checkpoint_bytes of appends or writer/checkpoint_ms
    with any, and on a clean stop. A restart loads it and scans from that offset: at most
    checkpoint_bytes, whatever the size of the file.

    It is trusted only as far as it checks out, so a wrong one costs time, never records:
      - the file's own SHA-256 (last line) covers every byte of it: a torn or edited file
        is ignored;
      - datafile_new checks that the offset ends a line inside the datafile and that the
        DATAFILE_TAIL_CHECK bytes before it hash to the saved value: a datafile that was
        cut back, replaced or restored from a backup does not match, and is scanned whole;
      - it is written only after the commit it describes is durable (fdatasync), and
        replaced atomically (l3_replace_file), so it never names a record that the
        datafile may lose.

    File (text, LF line ends):
        lilalo-writer-checkpoint 2
        part <the datafile's part number (its header), 0 before any rotation>
        offset <committed offset>
        records <record lines before it>
        commands <of which command records>
        tail <SHA-256 of the bytes before the offset, 64 lowercase hex>
        streams <n>
        <agent id> <epoch> <highest seq on disk>        n lines, decimal numbers
        sha256 <SHA-256 of every byte before this line, 64 lowercase hex>
*/
#ifndef WRITER_CHECKPOINT_H
#define WRITER_CHECKPOINT_H

#include "datafile.h"
#include "streams.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest checkpoint file read: 200,000 streams (writer/max_streams) take about 20 MB. */
#define CHECKPOINT_FILE_MAX (64u << 20)

/* Called per stream line; false stops the parse (checkpoint_parse then fails). */
typedef bool(checkpoint_stream_fn)(const char *agent, uint64_t epoch, uint64_t seq, void *arg);

/* Parse a checkpoint's text (len bytes, need not be NUL-terminated). Fills resume's
   offset, records and tail_sha256 and calls fn (may be NULL) per stream, only after the
   whole text has checked out. false with a reason in why. Pure: the fuzz target. */
bool checkpoint_parse(const char *text, size_t len, datafile_resume_t *resume,
                      checkpoint_stream_fn *fn, void *arg, char *why, size_t whylen);

/* Read the checkpoint at path into a malloc'd buffer (*len bytes). NULL with a reason in
   why; *missing is set when there is no such file (the normal first start). */
char *checkpoint_read(const char *path, size_t *len, bool *missing, char *why, size_t whylen);

/* Save the table as of the datafile's committed offset (call it right after a commit,
   when streams hold exactly what is on disk). false with a reason in why. */
bool checkpoint_save(const char *path, datafile_t *datafile, streams_t *streams, char *why,
                     size_t whylen);

#endif
