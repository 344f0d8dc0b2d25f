/*  outbox — the agent's durable, append-only on-disk queue of encoded records.

    Every record the agent produces is stamped with (agent id, epoch, seq), encoded with
    l3_msg_encode_record and appended here before anything is sent; it is dropped only
    when the writer acknowledges it. The sender (sender.h) reads entries back by seq for
    sending and go-back-N resending.

    On disk, in one directory (mode 0700):
      meta                      epoch, highest acked seq, flags; replaced atomically
                                (write meta.tmp, fdatasync, rename, fsync the directory)
      <epoch:16x>-<seq:020>.seg segments named by epoch and the seq of their first entry
      *.bad                     quarantined bytes, kept for a human to look at
      lock                      flock()ed while open: one process per outbox

    A segment is a 32-byte header, then entries:
      header: "L3OUTBX1" | u64 epoch | u64 first_seq | u32 0 | u32 crc32c(bytes 0..27)
      entry:  u32 len | u32 crc32c(len, seq, payload) | u64 seq | payload[len]
    All integers little-endian; 0 < len <= L3_MSG_MAX; seqs rise by one.

    Recovery policy at open (every segment is read through and every checksum checked):
    - Torn tail: the last segment ends in an incomplete entry, or its final entry (the one
      reaching end of file) fails its checksum. That is a write cut short by a crash; it
      was never synced, so never sent. It is truncated away with a log line.
    - Corruption (a bad checksum, length or seq anywhere else; a bad segment header):
      reading that segment stops at the first bad entry; the bytes from there to the end
      of the segment are moved into "<segment>.bad" and the segment is truncated; later
      segments are still read. Entries before the bad one are kept. When the loss leaves
      a hole among unacknowledged seqs, or may have taken seqs that were already sent, the
      stream cannot continue (the writer wants seq == last + 1 and would drop new records
      that reuse a sent seq), so the outbox starts a new epoch and re-encodes every
      surviving unacknowledged record into it (seq from 1). The commit point of that
      rewrite is the meta file; segments of any other epoch are leftovers and deleted.
      Before a last segment's tail is cut, meta gets a "new epoch pending" flag (durably),
      so a crash between the cut and the rewrite still ends in the new epoch.

    The acked seq in meta is persisted lazily (at most once a second and at close):
    losing it only makes the agent resend records the writer will drop as duplicates.
    The last segment is never deleted, so the next seq can always be recovered from it
    (its name gives its first seq even when it holds no entry).

    Memory stays bounded whatever the backlog: the outbox keeps one small descriptor per
    segment, a write buffer and one encode buffer; iterators read segments by offset
    through a fixed buffer (grown only to fit one entry).

    Not thread-safe: one thread owns an outbox and its iterators. */
#ifndef L3_OUTBOX_H
#define L3_OUTBOX_H

#include "l3_config.h"
#include "l3_record.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct outbox_t outbox_t;
typedef struct outbox_iter_t outbox_iter_t;

#define OUTBOX_HEADER_SIZE 32
#define OUTBOX_ENTRY_HEADER 16
#define OUTBOX_SEGMENT_DEFAULT (4u << 20)

typedef struct {
    /* Start a new segment once the current one would pass this size (bytes). */
    size_t segment_bytes;
    /* Refuse appends while the segments on disk total more than this (0 = no cap). */
    uint64_t max_bytes;
    /* fdatasync after every append; otherwise the caller calls outbox_sync per group. */
    bool sync_each_append;
} outbox_opts_t;

/* Default options. */
void outbox_opts_default(outbox_opts_t *opts);
/* Options from the config's agent section (agent/outbox_segment_kb, agent/outbox_max_mb,
   agent/outbox_sync = append|group). */
void outbox_opts_from_config(outbox_opts_t *opts, l3_config_t *config);

/* outbox_open on the config's agent/outbox directory (default /var/lib/lilalo/outbox)
   with outbox_opts_from_config. */
outbox_t *outbox_open_config(l3_config_t *config, const char *agent_id);
/* Open (creating when absent) the outbox in dir for agent_id, recover it as described
   above and take its lock. opts may be NULL for defaults. NULL on error, logged. */
outbox_t *outbox_open(const char *dir, const char *agent_id, const outbox_opts_t *opts);
/* Flush, sync, persist the acked seq, close. Accepts NULL; nulls the pointer. */
void outbox_destroy(outbox_t **self_p);

/* Stamp rec with the agent id, epoch and the next seq (rec is modified: the caller sees
   what was stored), encode it and append it. Buffered: it is on disk after outbox_sync
   (or at once with sync_each_append). seq_out may be NULL. false on error or when the
   outbox is full (outbox_full), logged. */
bool outbox_append(outbox_t *self, l3_record_t *rec, uint64_t *seq_out);
/* Write buffered entries and fdatasync; afterwards outbox_synced_seq() == last seq. */
bool outbox_sync(outbox_t *self);
/* Record the cumulative ack "every seq <= seq is on the writer's disk" and delete the
   segments it fully covers. An ack beyond the last appended seq is clamped (logged). */
void outbox_ack(outbox_t *self, uint64_t seq);

const char *outbox_agent(outbox_t *self);
const char *outbox_dir(outbox_t *self);
uint64_t outbox_epoch(outbox_t *self);
uint64_t outbox_last_seq(outbox_t *self);   /* highest appended seq (0: none yet) */
uint64_t outbox_synced_seq(outbox_t *self); /* highest seq known to be on disk */
uint64_t outbox_acked_seq(outbox_t *self);  /* highest acknowledged seq */
uint64_t outbox_pending(outbox_t *self);    /* appended, not yet acknowledged */
uint64_t outbox_disk_bytes(outbox_t *self); /* bytes of all segments */
size_t outbox_segments(outbox_t *self);     /* number of segment files */
bool outbox_full(outbox_t *self);           /* disk cap reached: appends refused */

/* An iterator over synced entries from seq `from` on. Entries already acknowledged and
   deleted are skipped (the iterator starts at the first entry still on disk). Caller
   owns it; it must be destroyed before the outbox. NULL on out of memory. */
outbox_iter_t *outbox_iter_new(outbox_t *self, uint64_t from);
void outbox_iter_destroy(outbox_iter_t **self_p);
/* Reposition at seq (reads forward through its segment from the start if needed). */
void outbox_iter_seek(outbox_iter_t *self, uint64_t seq);
/* Seq the next call will try to return. */
uint64_t outbox_iter_position(outbox_iter_t *self);
/* Next entry: 1 with seq, data and len (valid until the next call or destroy), 0 when
   every synced entry has been returned, -1 on a read or checksum error (logged). */
int outbox_iter_next(outbox_iter_t *self, uint64_t *seq, const uint8_t **data, size_t *len);

/* CRC-32C (Castagnoli) of data, continuing from crc (start with 0). Uses the CPU's
   crc32 instruction when it has one; outbox_crc32c_portable is the table version (the
   tests check they agree). */
uint32_t outbox_crc32c(uint32_t crc, const void *data, size_t len);
uint32_t outbox_crc32c_portable(uint32_t crc, const void *data, size_t len);

#endif
