/*  writer — the l3-writer daemon loop: receive records, dedup, group commit, acknowledge.

    PULL (writer/bind) receives [agent id][msgpack record] from the brokers; the id frame
    is the identity the broker authenticated and replaces the record's own `a`. Records
    go through the stream table (streams.h) and, when new and in order, are encoded
    straight into one batch buffer. A batch closes at batch_records records, batch_bytes
    bytes or batch_ms after its first record, and is committed with one pwritev and one
    fdatasync (datafile.h). Only then does PUB (writer/ack_bind) send one cumulative ack
    per stream touched ([agent id][ack]) and ["$commit"][offset]. Duplicates are re-acked,
    gaps nacked, bad messages dropped with a log line naming the id frame.

    When a commit fails (disk full, I/O error) nothing is acked, the file is cut back to
    its committed offset, the batch stays in memory and the loop stops reading the PULL
    socket (back-pressure to the brokers and agents) and retries every retry_ms.

    The stream table is saved beside the datafile (checkpoint.h) every checkpoint_bytes
    of appends or checkpoint_ms after one, and at a clean stop; a restart loads it and
    scans only the records after it, so it takes the same time whatever the file's size. */
#ifndef WRITER_WRITER_H
#define WRITER_WRITER_H

#include "l3_config.h"
#include "rotate.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *datafile;   /* writer/backend_datafile */
    const char *bind;       /* writer/bind */
    const char *ack_bind;   /* writer/ack_bind */
    int batch_records;      /* writer/batch_records */
    int batch_ms;           /* writer/batch_ms */
    size_t batch_bytes;     /* writer/batch_bytes */
    int retry_ms;           /* writer/retry_ms */
    int heartbeat_ms;       /* writer/heartbeat_ms: "$commit" when idle */
    size_t max_streams;     /* writer/max_streams */
    uint64_t verify_tail;   /* writer/verify_tail: bytes fully parsed at start */
    const char *checkpoint; /* writer/checkpoint: NULL = "<datafile>.streams", "" = none */
    uint64_t checkpoint_bytes; /* writer/checkpoint_bytes: save after this much appended */
    int checkpoint_ms;      /* writer/checkpoint_ms: or this long after an append */
    rotate_opts_t rotate;   /* writer/rotate_bytes, rotate_seconds, keep_*, retention */
} writer_opts_t;

/* Defaults, then the [writer] keys of cfg (may be NULL). Strings point into cfg. */
void writer_opts_load(writer_opts_t *opts, l3_config_t *cfg);

typedef struct _writer_t writer_t;

/* Open and recover the datafile, rebuild the stream table, bind both sockets. NULL with a
   reason in err (for instance another writer holds the datafile). */
writer_t *writer_new(const writer_opts_t *opts, char *err, size_t errlen);
void writer_destroy(writer_t **self_p);

/* Serve until SIGINT/SIGTERM (zsys_interrupted). Returns the process exit status. */
int writer_run(writer_t *self);

/* What the writer did since it started, for its metrics file (l3_metrics.h). */
typedef struct {
    uint64_t written;        /* records committed to the datafile */
    uint64_t commits;        /* group commits (fdatasync) */
    uint64_t duplicates;     /* records already in the datafile, acknowledged again */
    uint64_t gaps;           /* records refused for a gap in their stream */
    uint64_t dropped;        /* messages dropped as malformed */
    uint64_t datafile_bytes; /* committed size of the datafile */
    double last_commit_time; /* Unix time of the last commit, 0: none yet */
    bool failing;            /* the datafile cannot be written (retrying) */
} writer_stats_t;
void writer_stats(writer_t *self, writer_stats_t *stats);

#endif
