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

#endif
