/*  streams — the writer's dedup table: per stream (agent id, epoch) the highest seq on disk.

    Rebuilt at start from the datafile (streams_load per record line), then consulted for
    every incoming record (docs/protocol.md, "Streams, acks and resend"):
      seq == last + 1  write it (in order), ack after fdatasync;
      seq <= last      duplicate: drop, re-ack last;
      seq >  last + 1  gap: drop, nack last + 1.
    "last" counts records already accepted into the batch being committed (`pending`),
    so a batch never holds a seq twice; acks report `disk`, which only moves when the
    batch is durable (streams_commit). Memory grows per stream, never per record. */
#ifndef WRITER_STREAMS_H
#define WRITER_STREAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    STREAMS_WRITE,     /* next in order: write it */
    STREAMS_DUPLICATE, /* already on disk: re-ack `disk` now */
    STREAMS_PENDING,   /* already in the uncommitted batch: its ack comes with the commit */
    STREAMS_GAP,       /* ahead of the stream: nack `pending + 1` */
    STREAMS_FULL,      /* the table is at its cap (see streams_new): drop, no answer */
} streams_verdict_t;

typedef struct _streams_t streams_t;

/* Ack or nack target handed out by streams_offer and streams_commit. */
typedef struct {
    const char *agent;
    uint64_t epoch;
    uint64_t disk;    /* highest seq on disk */
    uint64_t pending; /* highest seq accepted (>= disk) */
} streams_info_t;

/* New empty table holding at most max_streams streams (0 = no cap). */
streams_t *streams_new(size_t max_streams);
void streams_destroy(streams_t **self_p);

/* Note that seq of (agent, epoch) is on disk; keeps the highest. false on out of memory or
   when the table is full. */
bool streams_load(streams_t *self, const char *agent, uint64_t epoch, uint64_t seq);

/* Decide what to do with an incoming record; for STREAMS_WRITE the stream's pending seq
   becomes seq and the stream is marked touched. info (if given) describes the stream after
   the decision (for the ack or nack to send). */
streams_verdict_t streams_offer(streams_t *self, const char *agent, uint64_t epoch,
                                uint64_t seq, streams_info_t *info);

/* After STREAMS_GAP: true when a nack for `expected` should go out now. A window of
   records behind one lost message would otherwise draw one nack each, and each nack
   restarts the agent's go-back-N; so a stream gets one nack per expected seq per
   interval_us. Unknown streams (no entry) always get theirs. */
bool streams_nack_due(streams_t *self, const char *agent, uint64_t epoch, uint64_t expected,
                      int64_t now_us, int64_t interval_us);

/* Called per touched stream by streams_commit. */
typedef void(streams_ack_fn)(const streams_info_t *info, void *arg);
/* The batch is durable: pending becomes disk for every touched stream, fn is called for
   each (may be NULL), and the touched list is cleared. */
void streams_commit(streams_t *self, streams_ack_fn *fn, void *arg);

/* Number of streams known. */
size_t streams_size(streams_t *self);
/* Highest seq on disk of a stream, 0 when unknown. */
uint64_t streams_disk(streams_t *self, const char *agent, uint64_t epoch);

/* Called by streams_each per stream with a record on disk: its highest seq there. */
typedef void(streams_each_fn)(const char *agent, uint64_t epoch, uint64_t disk, void *arg);
/* Every stream with records on disk, in no order (for the checkpoint). */
void streams_each(streams_t *self, streams_each_fn *fn, void *arg);

#endif
