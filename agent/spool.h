/*  spool — one recorded session in the spool directory (docs/capture.md), read
    incrementally into records.

    A session is `<sid>.script` (bytes), `<sid>.timing` (util-linux classic timing: which
    bytes came when) and `<sid>.info` (metadata; `end=` appended when it ends). The reader
    follows the timing file: each timing line says how many script bytes arrived at which
    time, and only bytes a timing line covers are parsed while the session runs — so the
    times are the same however often we poll, and the records are identical after a
    restart from a saved state. Once the session has ended (or its recorder died), bytes
    past the last timing line are parsed too, at the end time.

    Identity: the user is the owner of the `.script` file (getpwuid of st_uid), never a
    field of `.info`; the host is the reader's (the agent's host) unless the caller asks
    for the one in `.info` (importing files from elsewhere, --once).

    Records go to the callback in order: the session record, commands, the end record.
    They carry host, user, sid and times; agent, epoch and seq are the outbox's. */
#ifndef L3_AGENT_SPOOL_H
#define L3_AGENT_SPOOL_H

#include "l3_buf.h"
#include "l3_record.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define L3_SPOOL_INFO_MAX (64u * 1024)
#define L3_SPOOL_EDIT_MAX (1u << 20)

/* Called per record; the callee may take byte fields (the reader clears rec afterwards). */
typedef void(l3_spool_record_fn)(void *arg, l3_record_t *rec);

typedef struct {
    size_t output_cap;      /* 0 = parser default */
    const char *host;       /* the host to put in records; NULL = .info's host */
    bool keep_edit_copies;  /* --once: never delete the editor copies */
    l3_spool_record_fn *on_record;
    void *arg;
} l3_spool_opts_t;

typedef struct l3_spool_session_t l3_spool_session_t;

/* Open the session of script_path ("<dir>/<sid>.script"). NULL (logged) when the .info is
   missing, unreadable or lacks what a session needs (sid, start), or the files are not
   regular files owned by one user. */
l3_spool_session_t *l3_spool_session_new(const char *script_path, const l3_spool_opts_t *opts);
void l3_spool_session_destroy(l3_spool_session_t **self_p);

/* Read what is new and emit its records. Returns the number of records emitted, or -1
   on an I/O error (logged; the session can be polled again). */
int l3_spool_session_poll(l3_spool_session_t *self);
/* The recorder died without an end line: parse everything left, emit the open command as
   interrupted and an end record flagged abnormal at end_us. */
int l3_spool_session_abandon(l3_spool_session_t *self, int64_t end_us);

/* True once the end record has been emitted; nothing more will come. */
bool l3_spool_session_done(l3_spool_session_t *self);
const char *l3_spool_session_sid(l3_spool_session_t *self);
/* The recorder's pid from .info (0 if unknown), for the "recorder died" check. */
pid_t l3_spool_session_pid(l3_spool_session_t *self);
/* True when .info has an end line (read by the last poll). */
bool l3_spool_session_has_end(l3_spool_session_t *self);

/* The resume point: everything needed to continue exactly here after a restart. */
bool l3_spool_session_save(l3_spool_session_t *self, l3_buf_t *out);
bool l3_spool_session_load(l3_spool_session_t *self, const void *blob, size_t len);

/* Delete the editor copies whose diffs are in records emitted so far. Call only after
   those records are durably stored (the outbox) and the resume point saved. */
void l3_spool_session_cleanup(l3_spool_session_t *self);

/* Read a small regular file that must be owned by uid, without following symlinks, at most
   max bytes; false (errno set, logged at debug) otherwise. Exposed for the importers. */
bool l3_spool_read_file(const char *path, uid_t uid, size_t max, l3_buf_t *out);
/* The user name of uid (getpwuid), or its number when it has none. */
void l3_spool_user_name(uid_t uid, char *buf, size_t size);

#endif
