/*  hosts — what l3-hosts does to the broker's two key directories: list the hosts that
    asked to join (pending.h) and the enrolled ones (allowed_keys), approve a pending host
    (its key goes into allowed_keys bound to the host it asked for), remove a host.

    A host name is enrolled with one key at a time: approving a second key for a host
    that allowed_keys already binds is refused (remove the old one first: that is how a
    key is rotated), so a newcomer cannot take over an enrolled host's name. The broker
    needs no signal: it re-reads allowed_keys when the directory changes (keyring.h), at
    the next message of any agent, so a removed host's next record is refused and its
    connection closed.

    Which host: a host name as asked (exact), or the start of an agent id (at least
    HOSTS_ID_PREFIX_MIN hex digits, as l3-agent --enrol prints it). Either must name
    exactly one entry. */
#ifndef HOSTS_H
#define HOSTS_H

#include "l3_curve.h"
#include "l3_record.h"
#include "pending.h"

#include <stdbool.h>
#include <stddef.h>

#define HOSTS_ID_PREFIX_MIN 8
#define HOSTS_MAX 1000000 /* entries listed per directory */

/* One key in allowed_keys. */
typedef struct {
    char file[256];
    char id[L3_CURVE_ID_LEN + 1];
    char host[L3_NAME_MAX + 1]; /* "" when its certificate binds none */
} hosts_entry_t;

/* The keys in allowed_keys, sorted by host then file (caller frees *entries). */
bool hosts_enrolled(const char *allowed_dir, hosts_entry_t **entries, size_t *count);
/* Approve the pending host `which`: write allowed_dir/<host>.pub (or <agent id>.pub
   when the host name is not a plain file name) bound to its host, then drop its pending
   file. *done gets the entry approved. false with the reason in err. */
bool hosts_approve(const char *pending_dir, const char *allowed_dir, const char *which,
                   pending_entry_t *done, char *err, size_t errlen);
/* Remove every key of `which` from allowed_keys, and its join request if one is pending.
   *removed gets how many files went. false with the reason in err (no such host, or a
   file that could not be removed). */
bool hosts_remove(const char *pending_dir, const char *allowed_dir, const char *which,
                  size_t *removed, char *err, size_t errlen);

#endif
