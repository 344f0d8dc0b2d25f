/*  sender — ships the outbox to the brokers and applies the writer's acks.

    PUSH connects to every broker (records, one frame each); SUB connects to every broker's
    ack XPUB, subscribed to our agent id. Up to `window` unacknowledged records are in
    flight. An ack (cumulative) is handed to outbox_ack, which drops covered segments.
    On a nack, an ack timeout, or a (re)connection of either socket, sending restarts at
    the first unacknowledged seq (go-back-N): the writer drops duplicates and re-acks them,
    so resending is always safe, and the outbox holds the truth (LINGER 0: nothing is kept
    in libzmq when we stop). Before sending, the sender syncs the outbox, so nothing leaves
    the host that is not on its disk. ZMQ_IMMEDIATE=1: nothing is queued for a broker that
    is not connected. When the ack socket (re)connects, one resend follows 200 ms later if
    no ack came (our subscription may not have reached the writer in time for the first
    acks). Handshake failures (a key the broker does not allow, CURVE on one side only)
    are logged at most once a minute; libzmq keeps retrying.

    The sender is a library for a poll loop (the l3-agent daemon, l3-loadgen):

        sender_t *s = sender_new(config, box);
        for (;;) {
            zmq_pollitem_t items[SENDER_POLL_MAX + ...];
            int n = sender_poll_items(s, items, SENDER_POLL_MAX);
            ... add your own items ...
            zmq_poll(items, n + mine, min(sender_timeout_ms(s), your timeout));
            ... outbox_append() new records ...
            sender_handle(s);      // always: reads acks, checks timers, sends
        }
        sender_destroy(&s);

    sender_handle never blocks. Call it after appending records (they go out in the same
    call, after one outbox_sync for the group), whenever one of its poll items is
    readable, and when sender_timeout_ms has passed. A false return means the outbox
    failed (write or fdatasync error): stop, and reopen the outbox to recover.

    Memory: the sender holds no copy of records (it reads them back from the outbox by
    offset); libzmq queues at most 2 x window messages.

    Config (section agent): brokers, acks (endpoint lists, space or comma separated;
    default from broker/backend_address, broker/backend_port, broker/ack_port), window,
    ack_timeout_ms, curve, cert, broker_cert. See conf/lilalo.cfg (section agent). */
#ifndef L3_SENDER_H
#define L3_SENDER_H

#include "l3_config.h"
#include "outbox.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

typedef struct sender_t sender_t;

#define SENDER_POLL_MAX 3 /* poll items sender_poll_items may fill */

typedef struct {
    uint64_t sent;   /* messages handed to libzmq, resends included */
    uint64_t resent; /* of which resends */
    uint64_t acks;   /* acks and nacks received for our stream */
    uint64_t nacks;
    uint64_t timeouts;   /* go-back-N restarts after agent/ack_timeout_ms without progress */
    uint64_t reconnects; /* go-back-N restarts after a (re)connection */
    uint64_t rejected;   /* undecodable or foreign messages on the ack socket */
} sender_stats_t;

/* The agent id this config gives: with CURVE (agent/curve, default on) the hex of the
   public key in agent/cert (created when missing); else agent/id, else the host name.
   false (logged) when there is none. out must hold L3_ID_MAX + 1 bytes. */
bool sender_agent_id(l3_config_t *config, char *out, size_t size);

/* Connect to the brokers for outbox's stream. The outbox is borrowed: it must outlive
   the sender. NULL (logged) on a bad config or certificate. */
sender_t *sender_new(l3_config_t *config, outbox_t *outbox);
/* Close the sockets at once (LINGER 0). Accepts NULL; nulls the pointer. */
void sender_destroy(sender_t **self_p);

/* Fill up to max poll items (ZMQ_POLLIN) the caller must poll; returns how many. */
int sender_poll_items(sender_t *self, zmq_pollitem_t *items, int max);
/* Milliseconds until sender_handle must run even without input; -1 when only input or
   new records can give it work. */
long sender_timeout_ms(sender_t *self);
/* Read acks and connection events, apply timeouts, sync the outbox and send up to the
   window. Never blocks. false only on an outbox failure (the outbox must be reopened). */
bool sender_handle(sender_t *self);

/* Records appended and not yet acknowledged. */
uint64_t sender_pending(sender_t *self);
/* Records sent and not yet acknowledged (at most the window). */
uint64_t sender_in_flight(sender_t *self);
void sender_stats(sender_t *self, sender_stats_t *stats);

#endif
