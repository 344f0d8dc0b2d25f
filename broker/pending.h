/*  pending — the hosts that asked to join and wait for an administrator: one file per
    agent key in the pending directory (broker/pending_keys), written by the broker when a
    join request comes in (enrol.c), read and removed by l3-hosts (hosts.c).

    A pending file is a public certificate (czmq ZPL, like allowed_keys' NAME.pub) named
    <agent id>.pub, whose metadata says what was asked, when and from where:

        metadata
            host = "lab07"
            requested = "2026-12-02T15:04:05.123456Z"
            ts = "1796223845123456"
            peer = "192.0.2.7:40312"
        curve
            public-key = "..."

    A pending file gives its key nothing: the broker reads records only from keys in
    allowed_keys. The directory is bounded (pending_store refuses a new key past max
    files; a key already pending only updates its file), so a flood of join requests from
    fresh keys can fill this list and no more. Files are written through a temporary
    dot-file renamed into place, so a reader never sees half of one. */
#ifndef PENDING_H
#define PENDING_H

#include "l3_curve.h"
#include "l3_join.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PENDING_FILE_MAX 4096 /* bytes of a pending file; real ones are < 400 */
#define PENDING_PEER_MAX 64

typedef struct {
    char id[L3_CURVE_ID_LEN + 1];          /* agent id: hex of the key */
    char public_txt[L3_CURVE_Z85_LEN + 1]; /* the key, Z85 */
    char host[L3_NAME_MAX + 1];            /* the host name asked for */
    int64_t ts;                            /* the request's own time (µs) */
    char requested[40];                    /* when the broker stored it, RFC 3339 */
    char peer[PENDING_PEER_MAX];           /* address it came from */
} pending_entry_t;

typedef enum {
    PENDING_STORED,   /* a new key is pending now */
    PENDING_UPDATED,  /* the key was pending already; its request is refreshed */
    PENDING_FULL,     /* max keys are pending: refused, nothing written */
    PENDING_REPLAYED, /* not newer than the request kept for this key: refused */
    PENDING_FAILED    /* could not write (reason in err) */
} pending_result_t;

/* Store the join request of the key (its 32 bytes) from peer in dir. */
pending_result_t pending_store(const char *dir, size_t max, const uint8_t *key,
                               const l3_join_t *join, const char *peer, char *err, size_t errlen);
/* Read one pending file (a path). false with a reason in err. */
bool pending_read(const char *path, pending_entry_t *entry, char *err, size_t errlen);
/* Every readable pending entry of dir, sorted by host then id, into a new array (caller
   frees *entries). At most max_entries are read. false when dir cannot be read. */
bool pending_list(const char *dir, size_t max_entries, pending_entry_t **entries, size_t *count);
/* Path of the pending file of an agent id. */
bool pending_path(const char *dir, const char *id, char *out, size_t size);

#endif
