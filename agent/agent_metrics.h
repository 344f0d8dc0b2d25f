/*  agent_metrics — the agent's metrics file (agent/metrics, l3_metrics.h) and
    `l3-agent --status`, which reads it: both sides of the same names, in one place.

    The file says what the running agent knows: records appended, the outbox's backlog and
    the age of its oldest unacknowledged record, when an ack last came and how long acks
    take, what the sender did. --status prints that in one glance and says whether the
    agent runs (the file is rewritten every agent/metrics_ms; older than three of those,
    the agent stopped or hangs). */
#ifndef AGENT_METRICS_H
#define AGENT_METRICS_H

#include "l3_config.h"
#include "l3_metrics.h"
#include <stdio.h>

/* l3_metrics_fill_fn: arg is the l3_agentd_t. */
void agent_metrics_fill(l3_metrics_t *m, void *agentd);

/* `l3-agent --status`: print the host's view from the metrics file to out. 0 when the
   agent runs and no record has waited for its ack longer than agent/status_max_wait_s
   (default 300), 1 otherwise (said why), 2 when there is no metrics file to read. */
int agent_metrics_status(l3_config_t *config, FILE *out);

#endif
