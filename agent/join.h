/*  join — the host's side of enrolment: `l3-agent --enrol` asks the broker to enrol this
    host (l3_join.h, docs/protocol.md "Enrolment").

    It makes the agent's key pair when it is missing (agent/cert, the file the daemon
    uses), takes the broker's public key from agent/broker_cert or, the first time, from
    --broker-key (never from the network: the administrator hands it over, and it is
    saved to agent/broker_cert for the daemon), connects to the broker's enrolment socket
    with CURVE (agent/enrol_endpoint, else the host of the first agent/brokers endpoint
    with broker/enrol_port, default 5673) and sends one join request for the host name
    the daemon puts into records (agent/host, else this machine's name; --host
    overrides). It prints the answer and what the administrator runs on the broker; with
    --wait it asks again every JOIN_RETRY_MS until the host is enrolled. */
#ifndef JOIN_H
#define JOIN_H

#include "l3_config.h"

#include <stdbool.h>

#define JOIN_PORT_DEFAULT 5673
#define JOIN_ANSWER_MS 10000 /* wait this long for each answer */
#define JOIN_RETRY_MS 2000   /* --wait: ask again after this long */

typedef struct {
    const char *host;       /* NULL: agent/host, else gethostname */
    const char *broker_key; /* Z85 public key or a broker.pub path; NULL: agent/broker_cert */
    bool wait;              /* ask again until enrolled */
} join_opts_t;

/* Ask to be enrolled. The exit status for l3-agent: 0 when the request is pending (or,
   with wait, once enrolled) or the host is enrolled already, 1 when refused, not
   answered, or the keys cannot be had. What happened goes to stdout and the log. */
int join_run(l3_config_t *config, const join_opts_t *opts);

#endif
