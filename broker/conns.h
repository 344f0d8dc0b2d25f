/*  conns — the records connection each agent key sends on, so that the broker can close
    the connections of a key taken out of allowed_keys (l3-hosts remove) as soon as it
    reads the directory again, without waiting for that agent's next record.

    libzmq has no call to close one peer of a PULL socket; the broker learns each key's
    connection from its records (ZMQ_SRCFD, the fd of the connection a message came in
    on) and closes it with shutdown(2), which makes libzmq's I/O thread see the peer gone
    and close it. The agent's reconnection then meets the ZAP handler, which refuses the
    key. A noted fd is cut only while getpeername still gives the address noted with it,
    so a closed fd that libzmq reused for another connection is never touched.

    Memory: one entry per key seen (agent id, fd, address), at most CONNS_MAX; a key that
    reconnects overwrites its entry, a closed connection is forgotten (conns_forget_fd,
    from the broker's socket monitor). One thread (the broker's loop). */
#ifndef CONNS_H
#define CONNS_H

#include "keyring.h"

#include <stdbool.h>
#include <stddef.h>

#define CONNS_MAX 100000

typedef struct conns_t conns_t;

conns_t *conns_new(void);
void conns_destroy(conns_t **self_p);
/* Note that agent id sent on fd (cheap when it is the fd noted last). */
void conns_note(conns_t *self, const char *id, int fd);
/* libzmq closed the connection on fd (the monitor's DISCONNECTED): forget it, so that a
   new connection that gets the same fd number is noted afresh. */
void conns_forget_fd(conns_t *self, int fd);
/* Close the noted connection of every key the keyring no longer holds, and forget it.
   Returns how many were closed. */
size_t conns_cut_removed(conns_t *self, keyring_t *keyring);

#endif
