/*  enrol — the broker's enrolment socket: hosts that are not enrolled yet send a join
    request here (l3_join.h, docs/protocol.md "Enrolment"), and it is kept in the pending
    directory (pending.h) until an administrator approves it with l3-hosts.

    Socket: a CURVE ROUTER bound on broker/backend_address:broker/enrol_port (0, the
    built-in default, turns enrolment off), ZAP domain ENROL_ZAP_DOMAIN, in which the
    broker's ZAP handler lets in any CURVE key: the handshake proves that the peer holds
    the key it asks for, and a key on this socket can do nothing but ask. Records never
    come in here, and keys that are only pending never get past the records socket's ZAP.
    Each request gets one reply: pending, enrolled (with the host its key is bound to) or
    refused (with why). Messages are capped at L3_JOIN_MAX bytes.

    Bounds: at most broker/pending_max keys pending (default 100); past that new keys are
    refused and a warning is logged (rate-limited), so a flood of fresh keys fills that
    list and nothing else. A key already pending only refreshes its own file.

    Usage (in the broker's loop, one thread):
        enrol_t *enrol = NULL;
        if (!enrol_new(config, server_cert, keyring, address, &enrol)) fail;
        if (enrol) poll enrol_socket(enrol) for POLLIN, then enrol_handle(enrol); */
#ifndef ENROL_H
#define ENROL_H

#include "keyring.h"
#include "l3_config.h"

#include <czmq.h>
#include <stdbool.h>

#define ENROL_ZAP_DOMAIN "lilalo-enrol"
#define ENROL_PENDING_MAX_DEFAULT 100

typedef struct enrol_t enrol_t;

/* Read broker/enrol_port, pending_keys and pending_max; when enrol_port is not 0,
   create the pending directory (0700) and bind the socket at address. *out gets the new
   enrol_t (caller owns), or NULL when enrolment is off. false (logged) on failure. The
   keyring and server certificate are borrowed: they must outlive the enrol_t. The ZAP
   handler must be running before this is called. */
bool enrol_new(l3_config_t *config, zcert_t *server_cert, keyring_t *keyring, const char *address,
               enrol_t **out);
void enrol_destroy(enrol_t **self_p);
/* The raw libzmq socket, for the caller's poller. */
void *enrol_socket(enrol_t *self);
/* Answer the join requests waiting on the socket (a batch at most). */
void enrol_handle(enrol_t *self);
/* True when the agent id has a join request pending (for the records socket's log). */
bool enrol_is_pending(enrol_t *self, const char *agent_id);

#endif
