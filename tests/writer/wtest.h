/*  wtest — harness for the l3-writer integration tests: a temp dir, a real l3-writer
    process on random ports, and a small client that PUSHes [agent id][msgpack] frames
    (made with l3_msg_encode_record) and SUBscribes to the acks. Waits are on events (acks,
    "$commit" heartbeats, process exit, log lines) against deadlines, never bare sleeps. */
#ifndef WTEST_H
#define WTEST_H

#include "l3_record.h"
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define WT_MAX_STREAMS 16

typedef struct {
    char agent[L3_ID_MAX + 1];
    uint64_t epoch;
    uint64_t acked;  /* highest ack seen */
    uint64_t nacked; /* last nack seen (expected next), 0 none */
    uint64_t acks, nacks;
} wt_stream_t;

typedef struct {
    char dir[256];      /* temp dir, removed at teardown */
    char datafile[512];
    char config[512];
    char log[512];      /* the writer's stderr */
    char pidfile[512];
    char bind[64], ack_bind[64];
    pid_t pid;
    zsock_t *push, *sub;
    wt_stream_t streams[WT_MAX_STREAMS];
    int nstreams;
    uint64_t commit;    /* last "$commit" offset */
    uint64_t commits;   /* "$commit" messages seen */
    char extra_cfg[1024];
} wt_t;

/* Temp dir, free ports, a config (extra ZPL lines for the writer section may be given,
   e.g. "    retry_ms = 100\n"), client sockets. false on failure (reason printed). */
bool wt_setup(wt_t *t, const char *name, const char *extra_cfg);
/* Point the config at another datafile (rewrites the config file). */
bool wt_set_datafile(wt_t *t, const char *path);
/* Stop the writer if running (SIGTERM, then SIGKILL) and remove the temp dir. */
void wt_teardown(wt_t *t);

/* Start l3-writer with -c config plus extra args (NULL-terminated); stderr appends to
   t->log. Returns the pid or -1. Does not wait. */
pid_t wt_spawn(wt_t *t, const char *const *extra_args);
/* wt_spawn and wait until the writer publishes "$commit" (it is up and our SUB is
   subscribed). */
bool wt_start(wt_t *t);
/* Send sig, wait for the exit; returns the exit status (or 128+signal), -1 on timeout. */
int wt_stop(wt_t *t, int sig);
/* Wait for pid to exit within timeout_ms; its status as in wt_stop, -1 on timeout. */
int wt_wait_exit(pid_t pid, int timeout_ms);

/* Fill a simple valid record. */
void wt_record(l3_record_t *r, l3_record_type_t type, const char *agent, uint64_t epoch,
               uint64_t seq);
/* PUSH [agent][msgpack of r]. */
bool wt_send(wt_t *t, const char *agent, const l3_record_t *r);
/* PUSH raw frames (for bad-message tests). */
bool wt_send_raw(wt_t *t, const void *f1, size_t l1, const void *f2, size_t l2);

/* Receive acks/nacks/commits for up to timeout_ms (returns after the first batch of
   messages when some arrive). */
void wt_pump(wt_t *t, int timeout_ms);
wt_stream_t *wt_stream(wt_t *t, const char *agent, uint64_t epoch);
/* Pump until the stream's ack reaches seq; false on timeout. */
bool wt_wait_ack(wt_t *t, const char *agent, uint64_t epoch, uint64_t seq, int timeout_ms);
/* Pump until the stream gets a nack; false on timeout. */
bool wt_wait_nack(wt_t *t, const char *agent, uint64_t epoch, int timeout_ms);

/* Read the datafile and parse every record line; calls fn per record (may be NULL).
   Returns the number of records, -1 when a line does not parse or the frame is wrong. */
typedef void(wt_record_fn)(const l3_record_t *r, void *arg);
long wt_read_datafile(const char *path, wt_record_fn *fn, void *arg);
/* xmllint --relaxng proto/lilalo.rng path: true when valid. */
bool wt_schema_valid(const char *path);
/* True when the log file contains text. */
bool wt_log_has(wt_t *t, const char *text);
/* Poll the log until it contains text. */
bool wt_wait_log(wt_t *t, const char *text, int timeout_ms);

/* Per-stream check of a datafile: seqs of (agent, epoch) are exactly 1..n in order.
   Returns n, or -1 (with the reason printed) when a seq is missing, repeated or out of
   order. */
long wt_check_stream(const char *path, const char *agent, uint64_t epoch);

/* The same with the fast attribute lookup instead of a full parse of every line (for
   checks in the middle of long tests; the end of a test uses wt_check_stream). */
long wt_check_stream_fast(const char *path, const char *agent, uint64_t epoch);

/* What a reader does: copy [0, commit) of the datafile plus the footer into out (a path
   of size outsize is made in the test dir). false on I/O error. */
bool wt_copy_prefix(wt_t *t, uint64_t commit, char *out, size_t outsize);

#endif
