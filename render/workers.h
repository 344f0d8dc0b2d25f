/*  workers — page generation in worker processes, so one bad page costs one page.

    Every byte a page shows comes from a terminal or a record, and page code is the
    largest part of render: a future bug there (a loop that never ends, a crash, a limit
    run out) must not stop the journal for everyone. render's own process only receives
    requests, keeps the index up to date and the response cache, and answers; pages are
    made in child processes forked from it, which see the index as it was at the fork
    (copy on write, nothing copied or serialised).

    A worker serves requests one at a time for as long as the index does not change
    (its snapshot is then still current); when the index generation moves on, idle
    workers are retired and busy ones retire after their page. Each request has a
    deadline: a worker still busy at its deadline is killed (SIGKILL) and the request is
    answered WORKERS_TIMEOUT; a worker that dies mid-page (a signal, an exit, a short
    reply) answers WORKERS_CRASHED. Either way the next request gets a fresh worker. At
    most max_workers run at once; further requests wait in a bounded queue, and one that
    cannot be queued, or waited longer than the deadline, is answered WORKERS_BUSY.

    Workers die with render (PR_SET_PDEATHSIG) and hold no descriptor of render's but
    their pipe and the ones the owner names (the datafile), so a stuck worker can never
    keep render's socket bound after render is gone.

    Usage (render_main.c):
        workers_t *w = workers_new(&cfg, s_make_page, self, s_on_done, self);
        index_set_fd_hook(index, fn, w);     fn calls workers_keep_fd / workers_forget_fd
        loop: n = workers_pollitems(w, items + k, max);      zmq_poll(items, k + n,
              workers_timeout_ms(w, poll_ms));  workers_process(w, items + k, n);
              on a request: workers_submit(w, &req, envelope, envelope_len);
              when records arrive: workers_set_generation(w, gen);
        workers_destroy(&w);    kills and reaps every worker
    Memory: at most max_workers response buffers (each capped at WORKERS_RESPONSE_MAX)
    and queue_max queued requests. */
#ifndef WORKERS_H
#define WORKERS_H

#include "l3_buf.h"
#include "req.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#define WORKERS_RESPONSE_MAX (80u << 20) /* a longer reply is a failed page */
#define WORKERS_TOKEN_MAX 256            /* the owner's reply address for a request */
#define WORKERS_MAX 64

typedef enum {
    WORKERS_OK = 0,   /* resp holds the page */
    WORKERS_TIMEOUT,  /* the page was still not done at its deadline; worker killed */
    WORKERS_CRASHED,  /* the worker died or sent garbage; reason in `why` */
    WORKERS_BUSY,     /* no worker became free in time, or the queue was full */
} workers_result_t;

typedef struct {
    int max_workers; /* pages made at the same time */
    int timeout_ms;  /* a page's deadline, from the moment it was received */
    int queue_max;   /* requests waiting for a worker */
} workers_cfg_t;

typedef struct workers_t workers_t;

/* Runs in a worker: the complete HTTP response to req into resp; anything the owner
   should learn from the page (e.g. cache entries made while making it) into extra. */
typedef void(workers_page_fn)(void *arg, const req_t *req, l3_buf_t *resp, l3_buf_t *extra);

/* Runs in render for every submitted request, exactly once: result, the page (OK only;
   NULL otherwise), what the worker handed back in extra (OK only), and for failures a
   short reason. token is what was submitted with the request. */
typedef void(workers_done_fn)(void *arg, const void *token, size_t token_len, const req_t *req,
                              workers_result_t result, const l3_buf_t *resp,
                              const l3_buf_t *extra, const char *why);

/* No process is started yet. NULL on bad config or out of memory. */
workers_t *workers_new(const workers_cfg_t *cfg, workers_page_fn *page, void *page_arg,
                       workers_done_fn *done, void *done_arg);
/* Kill and reap every worker (SIGKILL: a page has nothing to save); requests still
   waiting are dropped without a done call. Nulls *self_p; accepts NULL. */
void workers_destroy(workers_t **self_p);

/* A descriptor workers keep open (the datafile's parts); all others of render's are
   closed in a worker. Up to 512 (a warning says when one more is not kept). Workers
   forked before a change keep what they had: renew them when that matters. */
void workers_keep_fd(workers_t *self, int fd);
void workers_forget_fd(workers_t *self, int fd);

/* The index changed: workers forked before now no longer take requests. */
void workers_set_generation(workers_t *self, uint64_t generation);
/* Something else workers inherit changed (e.g. the whatis table loaded): the same. */
void workers_renew(workers_t *self);

/* Queue req (copied) with the owner's token (copied, at most WORKERS_TOKEN_MAX bytes).
   The answer comes through done, possibly before this returns (BUSY when the queue is
   full). */
void workers_submit(workers_t *self, const req_t *req, const void *token, size_t token_len);

/* Poll items for the workers' pipes, written to items (at most max); returns how many. */
size_t workers_pollitems(workers_t *self, zmq_pollitem_t *items, size_t max);
/* How long the owner's poll may wait: min(limit_ms, time to the next deadline). */
long workers_timeout_ms(workers_t *self, long limit_ms);
/* Read what the workers sent, start queued requests, enforce deadlines, reap exited
   workers. items/n as filled by workers_pollitems and then polled (n may be 0). */
void workers_process(workers_t *self, const zmq_pollitem_t *items, size_t n);

/* Workers alive and requests waiting, for logs and tests. */
size_t workers_alive(workers_t *self);
size_t workers_queued(workers_t *self);

#endif
