/*  workers — page generation in worker processes. See workers.h.

    Wire between render and a worker (a stream socketpair, one request at a time):
      render -> worker   the req_t, as it is in memory (same binary, same process image)
      worker -> render   "L3W1", u32 extra length, u64 response length, response, extra
                         or "L3WL" and zero lengths: the page outgrew WORKERS_RESPONSE_MAX
    A worker that sends anything else, or closes early, has failed its page. */
#include "workers.h"
#include "l3_fs.h"
#include "l3_log.h"
#include "l3_time.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAGIC "L3W1"
#define MAGIC_TOO_LARGE "L3WL"
#define HDR_LEN 16
#define KEEP_MAX 512 /* the datafile's parts, mostly */
#define SPARE_AFTER_US 100000 /* fork a spare once the index was quiet this long */

typedef enum { SLOT_FREE = 0, SLOT_IDLE, SLOT_BUSY, SLOT_DEAD } slot_state_t;

typedef struct {
    req_t req;
    uint8_t token[WORKERS_TOKEN_MAX];
    size_t token_len;
    int64_t received_us;
} pending_t;

typedef struct {
    slot_state_t state;
    pid_t pid;
    int fd;              /* render's end of the pipe; -1 once closed */
    uint64_t epoch;      /* self->epoch at the fork */
    pending_t job;       /* the request being made (BUSY) */
    uint8_t hdr[HDR_LEN];
    size_t hdr_got;
    uint64_t resp_len;
    uint32_t extra_len;
    l3_buf_t in;         /* response then extra, as they arrive */
} slot_t;

struct workers_t {
    workers_cfg_t cfg;
    workers_page_fn *page;
    void *page_arg;
    workers_done_fn *done;
    void *done_arg;
    slot_t slots[WORKERS_MAX];
    pending_t *queue; /* ring of cfg.queue_max */
    size_t q_head, q_len;
    int keep[KEEP_MAX];
    size_t nkeep;
    uint64_t generation;   /* the index generation */
    uint64_t epoch;        /* bumped when workers must be renewed (generation, renew) */
    int64_t generation_us; /* when the epoch last changed */
    pid_t self_pid;
    pending_t failed_job;
};

workers_t *workers_new(const workers_cfg_t *cfg, workers_page_fn *page, void *page_arg,
                       workers_done_fn *done, void *done_arg)
{
    if (!cfg || !page || !done || cfg->max_workers < 1 || cfg->max_workers > WORKERS_MAX ||
        cfg->timeout_ms < 1 || cfg->queue_max < 1)
        return NULL;
    workers_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->queue = calloc((size_t)cfg->queue_max, sizeof *self->queue);
    if (!self->queue) {
        free(self);
        return NULL;
    }
    self->cfg = *cfg;
    self->page = page;
    self->page_arg = page_arg;
    self->done = done;
    self->done_arg = done_arg;
    self->self_pid = getpid();
    for (int i = 0; i < WORKERS_MAX; i++)
        self->slots[i].fd = -1;
    return self;
}

/* ---------------------------------------------------------------- in the worker */

/* read(2) exactly len bytes; false on EOF or error. */
static bool s_read_all(int fd, void *data, size_t len)
{
    uint8_t *p = data;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Close every descriptor but stdio, the pipe and the kept ones. */
static void s_close_others(const workers_t *self, int pipe_fd)
{
    int keep[KEEP_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; i < self->nkeep; i++)
        keep[n++] = self->keep[i];
    keep[n++] = pipe_fd;
    /* sort, then close the gaps between them */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    unsigned int from = 3;
    for (size_t i = 0; i < n; i++) {
        if (keep[i] < 3)
            continue;
        if ((unsigned int)keep[i] > from)
            close_range(from, (unsigned int)keep[i] - 1, 0);
        from = (unsigned int)keep[i] + 1;
    }
    close_range(from, ~0u, 0);
}

static _Noreturn void s_worker_main(workers_t *self, int fd)
{
    /* Die with render, whatever it dies of: a worker outliving it would hold nothing
       useful and might be stuck in a page forever. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != self->self_pid)
        _exit(0);
    /* render's handlers only set flags its loop reads; a worker has no such loop. */
    int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], SIG_DFL);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    s_close_others(self, fd);

    l3_buf_t resp, extra;
    l3_buf_init(&resp, WORKERS_RESPONSE_MAX);
    l3_buf_init(&extra, 1u << 20);
    req_t req;
    while (s_read_all(fd, &req, sizeof req)) {
        req.method[sizeof req.method - 1] = 0;
        req.path[sizeof req.path - 1] = 0;
        req.query[sizeof req.query - 1] = 0;
        req.user[sizeof req.user - 1] = 0;
        req.lang[sizeof req.lang - 1] = 0;
        l3_buf_reset(&resp);
        l3_buf_reset(&extra);
        resp.failed = extra.failed = false;
        self->page(self->page_arg, &req, &resp, &extra);
        if (extra.failed)
            extra.len = 0;
        if (resp.failed) /* the page outgrew the reply limit: a failed page, not a cut one */
            resp.len = extra.len = 0;
        uint8_t hdr[HDR_LEN];
        uint32_t elen = (uint32_t)extra.len;
        uint64_t rlen = resp.len;
        memcpy(hdr, resp.failed ? MAGIC_TOO_LARGE : MAGIC, 4);
        memcpy(hdr + 4, &elen, 4);
        memcpy(hdr + 8, &rlen, 8);
        if (!l3_write_all(fd, hdr, HDR_LEN) || !l3_write_all(fd, resp.data, resp.len) ||
            !l3_write_all(fd, extra.data, extra.len))
            break;
    }
    _exit(0);
}

/* ---------------------------------------------------------------- in render */

static size_t s_count(const workers_t *self, slot_state_t state, bool current_only)
{
    size_t n = 0;
    for (int i = 0; i < WORKERS_MAX; i++) {
        const slot_t *s = &self->slots[i];
        if (s->state == state && (!current_only || s->epoch == self->epoch))
            n++;
    }
    return n;
}

static size_t s_running(const workers_t *self)
{
    return s_count(self, SLOT_IDLE, false) + s_count(self, SLOT_BUSY, false);
}

/* Fork a worker into a free slot; NULL when none is free or the fork failed. */
static slot_t *s_spawn(workers_t *self)
{
    slot_t *slot = NULL;
    for (int i = 0; i < WORKERS_MAX && !slot; i++)
        if (self->slots[i].state == SLOT_FREE)
            slot = &self->slots[i];
    if (!slot)
        return NULL;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        l3_error("workers: socketpair: %s", strerror(errno));
        return NULL;
    }
    pid_t pid = fork();
    if (pid < 0) {
        l3_error("workers: fork: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return NULL;
    }
    if (pid == 0) {
        close(sv[0]);
        s_worker_main(self, sv[1]);
    }
    close(sv[1]);
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    memset(slot, 0, sizeof *slot);
    slot->state = SLOT_IDLE;
    slot->pid = pid;
    slot->fd = sv[0];
    slot->epoch = self->epoch;
    l3_buf_init(&slot->in, WORKERS_RESPONSE_MAX + (1u << 20));
    l3_debug("workers: started pid %d (generation %llu)", (int)pid,
             (unsigned long long)self->generation);
    return slot;
}

/* Stop using a worker: close its pipe (an idle worker exits on EOF) and kill it (a busy
   or stuck one has nothing worth finishing); reaped later without blocking. */
static void s_retire(slot_t *slot)
{
    if (slot->fd >= 0)
        close(slot->fd);
    slot->fd = -1;
    if (slot->pid > 0)
        kill(slot->pid, SIGKILL);
    l3_buf_free(&slot->in);
    slot->state = SLOT_DEAD;
}

/* Reap retired workers that have exited, freeing their slots. */
static void s_reap(workers_t *self)
{
    for (int i = 0; i < WORKERS_MAX; i++) {
        slot_t *s = &self->slots[i];
        if (s->state != SLOT_DEAD)
            continue;
        int st;
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid || (r < 0 && errno == ECHILD))
            s->state = SLOT_FREE;
    }
}

static void s_fail(workers_t *self, slot_t *slot, workers_result_t result, const char *why)
{
    pending_t *job = &self->failed_job; /* the slot may be reused by the time done runs */
    *job = slot->job;
    pid_t pid = slot->pid;
    int st = 0;
    char reason[160];
    /* A worker that died by itself closes its pipe just before it can be reaped: wait a
       moment for that (crashes are rare; the log should say what killed it). */
    bool reaped = false;
    for (int i = 0; result == WORKERS_CRASHED && i < 100 && !reaped; i++) {
        reaped = waitpid(slot->pid, &st, WNOHANG) == slot->pid;
        if (!reaped)
            nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    if (reaped) {
        if (WIFSIGNALED(st))
            snprintf(reason, sizeof reason, "%s (killed by signal %d, %s)", why, WTERMSIG(st),
                     strsignal(WTERMSIG(st)));
        else
            snprintf(reason, sizeof reason, "%s (exited %d)", why, WEXITSTATUS(st));
        slot->pid = 0; /* reaped */
    } else {
        snprintf(reason, sizeof reason, "%s", why);
    }
    l3_error("page %s %s?%s (user '%s') failed in worker %d: %s", job->req.method,
             job->req.path, job->req.query, job->req.user, (int)pid, reason);
    s_retire(slot);
    if (slot->pid == 0)
        slot->state = SLOT_FREE;
    self->done(self->done_arg, job->token, job->token_len, &job->req, result, NULL, NULL,
               reason);
}

/* Hand job to an idle worker of the current generation. */
static bool s_start(workers_t *self, slot_t *slot, const pending_t *job)
{
    slot->job = *job;
    slot->hdr_got = 0;
    slot->resp_len = 0;
    slot->extra_len = 0;
    l3_buf_reset(&slot->in);
    slot->state = SLOT_BUSY;
    /* The pipe holds far more than one req_t, and the worker reads it whole: this does
       not block (l3_write_all waits up to 1 s on EAGAIN all the same). */
    if (!l3_write_all(slot->fd, &slot->job.req, sizeof slot->job.req)) {
        s_fail(self, slot, WORKERS_CRASHED, "cannot pass the request to the worker");
        return false;
    }
    return true;
}

/* Give queued requests to workers: idle ones of the current generation first, new ones
   while under max_workers. */
static void s_dispatch(workers_t *self)
{
    while (self->q_len > 0) {
        slot_t *slot = NULL;
        for (int i = 0; i < WORKERS_MAX && !slot; i++) {
            slot_t *s = &self->slots[i];
            if (s->state == SLOT_IDLE && s->epoch == self->epoch)
                slot = s;
        }
        if (!slot) {
            /* idle workers of an old generation make way for a current one */
            for (int i = 0; i < WORKERS_MAX; i++) {
                slot_t *s = &self->slots[i];
                if (s->state == SLOT_IDLE && s->epoch != self->epoch)
                    s_retire(s);
            }
            if (s_running(self) >= (size_t)self->cfg.max_workers)
                return;
            slot = s_spawn(self);
            if (!slot)
                return;
        }
        pending_t job = self->queue[self->q_head];
        self->q_head = (self->q_head + 1) % (size_t)self->cfg.queue_max;
        self->q_len--;
        s_start(self, slot, &job);
    }
}

void workers_submit(workers_t *self, const req_t *req, const void *token, size_t token_len)
{
    if (token_len > WORKERS_TOKEN_MAX || self->q_len >= (size_t)self->cfg.queue_max) {
        l3_warn("workers: queue full (%zu requests waiting), answering busy", self->q_len);
        self->done(self->done_arg, token, token_len, req, WORKERS_BUSY, NULL, NULL,
                   "too many requests waiting");
        return;
    }
    pending_t *p = &self->queue[(self->q_head + self->q_len) % (size_t)self->cfg.queue_max];
    p->req = *req;
    memcpy(p->token, token, token_len);
    p->token_len = token_len;
    p->received_us = l3_time_mono_us();
    self->q_len++;
    s_dispatch(self);
}

/* Read what a busy worker sent; done when its reply is complete. */
static void s_on_readable(workers_t *self, slot_t *slot)
{
    while (slot->state == SLOT_BUSY) {
        uint8_t *dst;
        size_t want;
        if (slot->hdr_got < HDR_LEN) {
            dst = slot->hdr + slot->hdr_got;
            want = HDR_LEN - slot->hdr_got;
        } else {
            uint64_t total = slot->resp_len + slot->extra_len;
            want = total - slot->in.len;
            if (want > (1u << 20))
                want = 1u << 20;
            if (!l3_buf_reserve(&slot->in, want)) {
                s_fail(self, slot, WORKERS_CRASHED, "reply too large");
                return;
            }
            dst = slot->in.data + slot->in.len;
        }
        ssize_t n = want ? read(slot->fd, dst, want) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0 && want) {
            s_fail(self, slot, WORKERS_CRASHED, "the worker died");
            return;
        }
        if (slot->hdr_got < HDR_LEN) {
            slot->hdr_got += (size_t)n;
            if (slot->hdr_got < HDR_LEN)
                continue;
            memcpy(&slot->extra_len, slot->hdr + 4, 4);
            memcpy(&slot->resp_len, slot->hdr + 8, 8);
            if (memcmp(slot->hdr, MAGIC_TOO_LARGE, 4) == 0) {
                s_fail(self, slot, WORKERS_CRASHED, "the page outgrew the reply size limit");
                return;
            }
            if (memcmp(slot->hdr, MAGIC, 4) != 0 || slot->resp_len > WORKERS_RESPONSE_MAX ||
                slot->extra_len > (1u << 20)) {
                s_fail(self, slot, WORKERS_CRASHED, "malformed reply");
                return;
            }
        } else {
            slot->in.len += (size_t)n;
        }
        if (slot->hdr_got == HDR_LEN && slot->in.len == slot->resp_len + slot->extra_len) {
            l3_buf_t resp = {slot->in.data, (size_t)slot->resp_len, 0, 0, false};
            l3_buf_t extra = {slot->in.data + slot->resp_len, slot->extra_len, 0, 0, false};
            slot->state = SLOT_IDLE;
            self->done(self->done_arg, slot->job.token, slot->job.token_len, &slot->job.req,
                       WORKERS_OK, &resp, &extra, NULL);
            l3_buf_reset(&slot->in);
            if (slot->in.cap > (8u << 20)) { /* one huge page does not pin its buffer */
                l3_buf_free(&slot->in);
                l3_buf_init(&slot->in, WORKERS_RESPONSE_MAX + (1u << 20));
            }
            if (slot->epoch != self->epoch)
                s_retire(slot);
        }
    }
}

/* Kill pages past their deadline; answer queued requests that waited too long. */
static void s_enforce_deadlines(workers_t *self, int64_t now)
{
    int64_t limit = (int64_t)self->cfg.timeout_ms * 1000;
    for (int i = 0; i < WORKERS_MAX; i++) {
        slot_t *s = &self->slots[i];
        if (s->state == SLOT_BUSY && now - s->job.received_us >= limit) {
            char why[96];
            snprintf(why, sizeof why, "still not done after %d ms", self->cfg.timeout_ms);
            pending_t job = s->job;
            l3_error("page %s %s?%s (user '%s') %s: worker %d killed", job.req.method,
                     job.req.path, job.req.query, job.req.user, why, (int)s->pid);
            s_retire(s);
            self->done(self->done_arg, job.token, job.token_len, &job.req, WORKERS_TIMEOUT,
                       NULL, NULL, why);
        }
    }
    while (self->q_len > 0) {
        pending_t *p = &self->queue[self->q_head];
        if (now - p->received_us < limit)
            break;
        pending_t job = *p;
        self->q_head = (self->q_head + 1) % (size_t)self->cfg.queue_max;
        self->q_len--;
        self->done(self->done_arg, job.token, job.token_len, &job.req, WORKERS_BUSY, NULL, NULL,
                   "no worker became free in time");
    }
}

size_t workers_pollitems(workers_t *self, zmq_pollitem_t *items, size_t max)
{
    size_t n = 0;
    for (int i = 0; i < WORKERS_MAX && n < max; i++) {
        slot_t *s = &self->slots[i];
        if (s->fd < 0 || (s->state != SLOT_BUSY && s->state != SLOT_IDLE))
            continue;
        /* An idle worker's pipe is watched too: it becomes readable (EOF) if it dies. */
        items[n].socket = NULL;
        items[n].fd = s->fd;
        items[n].events = ZMQ_POLLIN;
        items[n].revents = 0;
        n++;
    }
    return n;
}

long workers_timeout_ms(workers_t *self, long limit_ms)
{
    int64_t now = l3_time_mono_us(), next = INT64_MAX;
    int64_t limit = (int64_t)self->cfg.timeout_ms * 1000;
    for (int i = 0; i < WORKERS_MAX; i++) {
        slot_t *s = &self->slots[i];
        if (s->state == SLOT_BUSY && s->job.received_us + limit < next)
            next = s->job.received_us + limit;
        if (s->state == SLOT_DEAD && 10000 + now < next)
            next = now + 10000; /* look again soon to reap it */
    }
    if (self->q_len > 0 && self->queue[self->q_head].received_us + limit < next)
        next = self->queue[self->q_head].received_us + limit;
    if (s_count(self, SLOT_IDLE, true) == 0 && s_running(self) < (size_t)self->cfg.max_workers &&
        self->generation_us + SPARE_AFTER_US < next)
        next = self->generation_us + SPARE_AFTER_US;
    if (next == INT64_MAX)
        return limit_ms;
    long ms = next <= now ? 0 : (long)((next - now + 999) / 1000);
    return ms < limit_ms || limit_ms < 0 ? ms : limit_ms;
}

void workers_process(workers_t *self, const zmq_pollitem_t *items, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (!(items[k].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
            continue;
        for (int i = 0; i < WORKERS_MAX; i++) {
            slot_t *s = &self->slots[i];
            if (s->fd != items[k].fd || s->fd < 0)
                continue;
            if (s->state == SLOT_BUSY) {
                s_on_readable(self, s);
            } else if (s->state == SLOT_IDLE) {
                l3_warn("workers: idle worker %d went away", (int)s->pid);
                s_retire(s); /* an idle worker never writes: EOF, it died */
            }
        }
    }
    int64_t now = l3_time_mono_us();
    s_enforce_deadlines(self, now);
    s_reap(self);
    s_dispatch(self);
    /* A spare worker forked while nothing happens, so the next request does not wait
       for a fork; not while records keep arriving (each would fork for nothing). */
    if (self->q_len == 0 && s_count(self, SLOT_IDLE, true) == 0 &&
        s_running(self) < (size_t)self->cfg.max_workers &&
        now - self->generation_us >= SPARE_AFTER_US)
        s_spawn(self);
}

/* Workers forked before now take no more requests: idle ones go at once, busy ones
   after their page. */
static void s_new_epoch(workers_t *self)
{
    self->epoch++;
    self->generation_us = l3_time_mono_us();
    for (int i = 0; i < WORKERS_MAX; i++)
        if (self->slots[i].state == SLOT_IDLE)
            s_retire(&self->slots[i]);
}

void workers_set_generation(workers_t *self, uint64_t generation)
{
    if (generation == self->generation)
        return;
    self->generation = generation;
    s_new_epoch(self);
}

void workers_renew(workers_t *self)
{
    s_new_epoch(self);
}

void workers_keep_fd(workers_t *self, int fd)
{
    if (fd < 0)
        return;
    if (self->nkeep == KEEP_MAX) {
        l3_warn("page workers keep %d descriptors already; descriptor %d is not kept, so pages "
                "cannot read what it holds",
                KEEP_MAX, fd);
        return;
    }
    self->keep[self->nkeep++] = fd;
}

void workers_forget_fd(workers_t *self, int fd)
{
    for (size_t i = 0; i < self->nkeep; i++)
        if (self->keep[i] == fd) {
            self->keep[i] = self->keep[--self->nkeep];
            return;
        }
}

size_t workers_alive(workers_t *self)
{
    return s_running(self);
}

size_t workers_queued(workers_t *self)
{
    return self->q_len;
}

void workers_destroy(workers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    workers_t *self = *self_p;
    /* Kill them all first, then reap: their teardown (a big copy-on-write image each)
       runs in parallel. Reaping waits 500 ms at most; a worker not yet gone by then has
       SIGKILL pending and is reaped by init once render has exited. */
    for (int i = 0; i < WORKERS_MAX; i++) {
        slot_t *s = &self->slots[i];
        if (s->state == SLOT_IDLE || s->state == SLOT_BUSY)
            s_retire(s);
    }
    int64_t deadline = l3_time_mono_us() + 500000;
    for (int i = 0; i < WORKERS_MAX; i++) {
        slot_t *s = &self->slots[i];
        while (s->state == SLOT_DEAD && s->pid > 0) {
            pid_t r = waitpid(s->pid, NULL, WNOHANG);
            if (r == s->pid || (r < 0 && errno != EINTR) || l3_time_mono_us() > deadline)
                break;
            nanosleep(&(struct timespec){0, 2000000}, NULL);
        }
        s->state = SLOT_FREE;
    }
    free(self->queue);
    free(self);
    *self_p = NULL;
}
