/*  agentd — the l3-agent daemon: follows the spool directories, parses every session
    incrementally (spool.h), appends the records to the durable outbox (outbox.h) and runs
    the sender (sender.h).

    Exactly once across kill -9 (see the comment at s_commit in agentd.c for the argument):
    records are appended and synced, then the session's resume point is written (temp file
    + rename), and only then does the sender run — so a record is never sent before the
    resume point past it is durable, and after a restart the records re-made from an older
    resume point are exactly those still unsent in the outbox, which are skipped by
    (sid, type, nr).

    Config (section agent of conf/lilalo.cfg): spool, state, outbox, host,
    output_cap, scan_ms, send, backend_pidfile, plus the sender's keys. */
#ifndef L3_AGENT_AGENTD_H
#define L3_AGENT_AGENTD_H

#include "l3_config.h"
#include "sender.h"
#include <stdbool.h>
#include <stdint.h>

typedef struct l3_agentd_t l3_agentd_t;

/* Open the outbox and state directory, start the sender, set up inotify watches. The
   config is borrowed and must outlive the daemon. NULL on error, logged. */
l3_agentd_t *l3_agentd_new(l3_config_t *config);
void l3_agentd_destroy(l3_agentd_t **self_p);

/* Run until SIGINT/SIGTERM. false on a fatal error (the outbox failed). */
bool l3_agentd_run(l3_agentd_t *self);
/* One round of the loop, waiting at most timeout_ms for events. false on a fatal error. */
bool l3_agentd_step(l3_agentd_t *self, long timeout_ms);

/* Records appended to the outbox since start, and records skipped as already there. */
uint64_t l3_agentd_records(l3_agentd_t *self);
uint64_t l3_agentd_skipped(l3_agentd_t *self);

/* The agent's state for its metrics file (l3_metrics.h) and `l3-agent --status`. */
typedef struct {
    uint64_t records, skipped;  /* as above */
    uint64_t backlog;           /* records appended and not acknowledged yet */
    uint64_t outbox_bytes;      /* bytes of the outbox's segments */
    double oldest_unacked_age;  /* seconds since the oldest unacknowledged record was
                                   appended (0: none); for records appended before this
                                   start, the time since the start (a lower bound) */
    double last_ack_age;        /* seconds since an ack last advanced (-1: none yet) */
    uint64_t ack_count;         /* acknowledged records whose latency was measured */
    double ack_latency_sum;     /* seconds, over those: append to acknowledgement */
    double ack_latency_last;    /* seconds, of the last one */
    bool sending;               /* agent/send = 1 */
    sender_stats_t sender;      /* when sending */
    int sessions;               /* sessions followed now */
} l3_agentd_stats_t;
void l3_agentd_stats(l3_agentd_t *self, l3_agentd_stats_t *stats);

#endif
