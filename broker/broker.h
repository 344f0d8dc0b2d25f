/*  broker — the l3-broker loop: agents → (validate, stamp identity) → writer, acks back.

    Sockets (docs/protocol.md "Sockets and frames"):
      frontend  PULL bind  backend_address:backend_port   agents' records, one frame each
      backend   PUSH conn  writer_endpoint                 [agent id][record]
      ack_in    XSUB conn  writer_ack_endpoint             [agent id][ack|nack], "$commit"
      ack_out   XPUB bind  backend_address:ack_port        agents' SUB sockets
      capture   XPUB bind  capture_address:capture_port   ["rec"|"ack"][agent id][msgpack]

    With CURVE (the default) frontend and ack_out are CURVE servers; the broker's own ZAP
    handler (in the loop, see keyring.h for why not zauth) accepts only keys in the
    allowed-keys directory and sets User-Id to the agent id, the hex of the key, which is
    what gets stamped into frame 1. Each key is bound to one host (its certificate's
    metadata host, keyring.h): a record claiming another host is rejected, never
    forwarded, and so is everything from a key binding no host unless
    broker/unbound_keys = allow. The binding is looked up for every record, so a re-read
    of allowed_keys counts for connections that are already up. With curve = 0 the agent
    id is the record's claimed "a" field, nothing is bound, and the broker binds loopback
    only unless allow_plaintext_remote.

    Backpressure: the backend PUSH has ZMQ_IMMEDIATE, so while no writer is connected it
    is not writable; the loop then stops reading the frontend and waits for POLLOUT on the
    backend, and the records wait in the agents' outboxes instead of being dropped here.
    (Records already queued on a writer connection that breaks are lost from this hop;
    the writer never acked them, so the agents resend them.)
    The capture socket is the opposite: a small send HWM and never-blocking sends, so a tap
    that stops reading loses tap messages and never slows the pipeline. */
#ifndef BROKER_H
#define BROKER_H

#include "l3_config.h"
#include <stdbool.h>
#include <stdint.h>

typedef struct broker_t broker_t;

/* Counters, for tests and the exit log line. */
typedef struct {
    uint64_t forwarded;    /* records sent to the writer */
    uint64_t rejected;     /* messages dropped: undecodable, not a record, no identity,
                              not allowed to send the host it claims */
    uint64_t host_refused; /* of those, records claiming another host than their key's */
    uint64_t acks;         /* messages forwarded from the writer to agents */
    uint64_t captured;     /* messages offered to the capture socket */
    uint64_t stalls;       /* times the loop stopped reading because the writer was away */
} broker_stats_t;

/* Read the "broker" section of config, load allowed_keys and start the ZAP handler
   (CURVE), create and bind/connect every socket. NULL when anything fails (the reason is
   logged). Caller owns the broker. */
broker_t *broker_new(l3_config_t *config);
/* Run the poller loop until SIGINT/SIGTERM (zsys_interrupted). Returns 0 on a clean stop. */
int broker_run(broker_t *self);
void broker_destroy(broker_t **self_p);
const broker_stats_t *broker_stats(broker_t *self);

#endif
