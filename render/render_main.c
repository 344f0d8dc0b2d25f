/*  l3-render — keeps an index of the datafile and answers journal requests.

    Start-up: reuse the derived index file when it matches the datafile, then index the
    rest, in slices, answering requests meanwhile with "503 indexing N%" (and printing
    progress on stderr), so a big file never makes the web server wait blind. After that:
    one poll loop over the ROUTER socket (requests from l3-cgi, req.h framing, REQ
    envelopes), the workers' pipes, and a SUB socket on the writer's PUB, whose "$commit"
    offsets say how far the datafile is complete; records up to that offset are indexed
    as soon as it arrives. When no writer ever announced a commit (a static datafile, or
    a writer not running), the file's size is polled instead, and only complete lines are
    taken.

    Pages are made in worker processes (workers.h), never in this one: whatever page code
    does with a hostile record (loop, crash, run out of a limit) costs that request a 503
    or 500 and a worker, while this loop keeps answering, following the writer and
    obeying SIGTERM. Answers (including those failures) are cached per index generation
    here, so a page that hangs is not retried until new records arrive. */
#include "access.h"
#include "l3_config.h"
#include "l3_daemon.h"
#include "index.h"
#include "l3_log.h"
#include "l3_metrics.h"
#include "l3_paths.h"
#include "l3_service.h"
#include "pages.h"
#include "req.h"
#include "l3_time.h"
#include "textindex.h"
#include "whatis.h"
#include "workers.h"

#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#define PROGNAME "l3-render"
#define INDEX_SLICE (16ull << 20) /* bytes indexed between two looks at the request socket and
                                     the SIGTERM flag (~20 ms; 100 ms under ASan and load) */
#define CACHE_SLOTS 32
#define CACHE_ENTRY_MAX (2u << 20)

/* Rendered responses, keyed by the whole request and valid for one index generation:
   a page only changes when records arrive, and a journal is read far more often than
   it grows (a class's pages, the live pages polling, the same page reloaded). */
typedef struct {
    char *key;
    uint8_t *resp;
    size_t len;
    uint64_t generation;
    uint64_t used;
} cache_entry_t;

typedef struct {
    access_t *access; /* who may connect to router: the web server's account */
    workers_t *workers;
    whatis_t *whatis;
    int whatis_fd; /* the loader's output while it runs, else -1 */
    bool faults; /* L3_RENDER_TEST_FAULTS: the /_fault/ pages the isolation tests use */
    l3_config_t *cfg;
    pages_t *pages;
    index_t *index;
    void *ctx, *router, *sub;
    const char *datafile;
    uint64_t committed; /* last "$commit" as an INDEX_OFF (part and offset); 0 = none seen */
    bool have_commits;
    int poll_ms;
    l3_buf_t resp;
    cache_entry_t cache[CACHE_SLOTS];
    uint64_t clock;
    uint64_t n_pages, n_page_failures; /* pages made by the workers, for render/metrics */
    /* the search index (textindex.h): segments built one at a time in a child */
    textindex_t *textindex;
    pid_t ti_pid;          /* the child building segment ti_seg, 0 none */
    uint32_t ti_seg;
    int64_t ti_started_us, ti_retry_us; /* a failed build is tried again after a while */
    uint64_t ti_generation; /* the index generation last looked at */
} render_t;

static cache_entry_t *s_cache_find(render_t *self, const char *key, uint64_t gen)
{
    for (int i = 0; i < CACHE_SLOTS; i++) {
        cache_entry_t *e = &self->cache[i];
        if (e->key && e->generation == gen && !strcmp(e->key, key)) {
            e->used = ++self->clock;
            return e;
        }
    }
    return NULL;
}

static void s_cache_put(render_t *self, const char *key, uint64_t gen, const l3_buf_t *resp)
{
    if (resp->len > CACHE_ENTRY_MAX)
        return;
    cache_entry_t *victim = &self->cache[0];
    for (int i = 0; i < CACHE_SLOTS; i++) {
        cache_entry_t *e = &self->cache[i];
        if (!e->key || e->generation != gen) {
            victim = e;
            break;
        }
        if (e->used < victim->used)
            victim = e;
    }
    uint8_t *copy = malloc(resp->len ? resp->len : 1);
    char *k = strdup(key);
    if (!copy || !k) {
        free(copy);
        free(k);
        return;
    }
    memcpy(copy, resp->data, resp->len);
    free(victim->key);
    free(victim->resp);
    victim->key = k;
    victim->resp = copy;
    victim->len = resp->len;
    victim->generation = gen;
    victim->used = ++self->clock;
}

static void s_cache_free(render_t *self)
{
    for (int i = 0; i < CACHE_SLOTS; i++) {
        free(self->cache[i].key);
        free(self->cache[i].resp);
    }
}

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: l3-render [-c FILE] [-v] [--daemon] [--syslog] [--pidfile FILE]\n"
            "                 [--datafile FILE] [--bind ENDPOINT] [--index FILE]\n"
            "Indexes the lilalo datafile and answers journal requests from l3-cgi over\n"
            "ZeroMQ (REP) with complete HTTP responses. Follows the writer's commits.\n"
            "Config keys (section render): datafile (else writer/backend_datafile), index,\n"
            "bind, commits, timezone, poll_ms, and the page keys in conf/lilalo.cfg.\n"
            "Without -c it reads %s when that exists.\n",
            l3_paths_config_installed());
}

/* Send resp to the client whose ROUTER routing id is id (a REQ envelope: id, empty
   delimiter, reply). A client gone meanwhile is dropped by ZeroMQ. */
static void s_reply(render_t *self, const void *id, size_t id_len, const void *resp, size_t len)
{
    zmq_send(self->router, id, id_len, ZMQ_SNDMORE);
    zmq_send(self->router, "", 0, ZMQ_SNDMORE);
    zmq_send(self->router, resp, len, 0);
}

/* The cache key of a request: the whole of what a page depends on besides the index. */
static void s_cache_key(const req_t *req, char *key, size_t size)
{
    snprintf(key, size, "%s\x01%s\x01%s\x01%s\x01%s", req->method, req->path, req->query,
             req->user, req->lang);
}

/* A short plain-text response for what render answers itself. */
static void s_plain(l3_buf_t *resp, int status, const char *reason, const char *extra_headers,
                    const char *text)
{
    l3_buf_reset(resp);
    l3_buf_printf(resp,
                  "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                  "Cache-Control: no-store\r\n%sContent-Length: %zu\r\n\r\n%s",
                  status, reason, extra_headers, strlen(text), text);
}

/* Runs in a worker process: the page for req. The fault pages exist only when render was
   started with L3_RENDER_TEST_FAULTS=1, for the tests that prove a bad page costs one
   page: they behave like the worst bugs page code could have. */
static void s_make_page(void *arg, const req_t *req, l3_buf_t *resp, l3_buf_t *extra)
{
    render_t *self = arg;
    (void)extra;
    if (self->faults && !strncmp(req->path, "/_fault/", 8)) {
        const char *what = req->path + 8;
        if (!strcmp(what, "hang")) {
            signal(SIGTERM, SIG_IGN); /* as stubborn as a page can be */
            for (volatile unsigned long spin = 0;; spin++)
                ;
        } else if (!strcmp(what, "crash")) {
            raise(SIGSEGV);
        } else if (!strcmp(what, "abort")) {
            abort();
        } else if (!strcmp(what, "exit")) {
            _exit(3);
        } else if (!strcmp(what, "huge")) {
            /* a runaway page: it asks for more than a reply may be */
            l3_buf_reserve(resp, WORKERS_RESPONSE_MAX + 1);
            return;
        }
    }
    pages_handle(self->pages, self->index, req, resp);
}

/* Called once for every request given to the workers: answer it, cache the answer. */
static void s_on_page_done(void *arg, const void *token, size_t token_len, const req_t *req,
                           workers_result_t result, const l3_buf_t *resp, const l3_buf_t *extra,
                           const char *why)
{
    render_t *self = arg;
    (void)extra;
    char key[REQ_PATH_MAX + REQ_QUERY_MAX + REQ_USER_MAX + REQ_LANG_MAX + 16];
    s_cache_key(req, key, sizeof key);
    uint64_t gen = index_generation(self->index);
    if (result == WORKERS_OK) {
        self->n_pages++;
        s_reply(self, token, token_len, resp->data, resp->len);
        s_cache_put(self, key, gen, resp);
        return;
    }
    self->n_page_failures++;
    char text[256];
    if (result == WORKERS_TIMEOUT) {
        snprintf(text, sizeof text,
                 "This page took too long to make (%s) and was stopped.\n"
                 "The rest of the journal is not affected.\n", why);
        s_plain(&self->resp, 503, "Service Unavailable", "Retry-After: 30\r\n", text);
    } else if (result == WORKERS_CRASHED) {
        snprintf(text, sizeof text,
                 "This page could not be made: %s.\nThe rest of the journal is not affected; "
                 "the error is in render's log.\n", why);
        s_plain(&self->resp, 500, "Internal Server Error", "", text);
    } else {
        snprintf(text, sizeof text, "The journal is busy (%s); try again in a moment.\n", why);
        s_plain(&self->resp, 503, "Service Unavailable", "Retry-After: 2\r\n", text);
    }
    s_reply(self, token, token_len, self->resp.data, self->resp.len);
    /* A page that hung or crashed would do it again until records change: answer it
       from the cache meanwhile instead of spending a worker on it each time. */
    if (result != WORKERS_BUSY)
        s_cache_put(self, key, gen, &self->resp);
}

/* Receive one request (all frames) and answer it: malformed ones at once (400), cached
   ones from the cache, the rest through the workers (or the "indexing" page while the
   first index is built). false when no request was waiting. */
static bool s_serve(render_t *self, bool indexing, int percent)
{
    char frames[8][REQ_QUERY_MAX + 1];
    uint8_t id[WORKERS_TOKEN_MAX];
    size_t id_len = 0;
    int n = 0;
    bool more = true, bad = false;
    while (more) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        /* the first frame of a message is ready when any is: only it may find none */
        if (zmq_msg_recv(&msg, self->router, n == 0 && !id_len ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&msg);
            return false;
        }
        size_t len = zmq_msg_size(&msg);
        more = zmq_msg_more(&msg);
        if (!id_len) { /* the routing id ROUTER puts first */
            id_len = len <= sizeof id ? len : sizeof id;
            memcpy(id, zmq_msg_data(&msg), id_len);
            zmq_msg_close(&msg);
            if (!more)
                return true; /* nothing to answer */
            continue;
        }
        if (n == 0) {
            if (len != 0)
                bad = true; /* not a REQ envelope (no empty delimiter) */
        } else if (n >= 1 && n <= 6 && len <= REQ_QUERY_MAX) {
            memcpy(frames[n], zmq_msg_data(&msg), len);
            frames[n][len] = 0;
            if (strlen(frames[n]) != len)
                bad = true; /* a NUL inside a frame */
        } else {
            bad = true;
        }
        n++;
        zmq_msg_close(&msg);
    }
    req_t req;
    char err[128] = "malformed request";
    int status = 400;
    if (!bad && n == 7 && strcmp(frames[1], REQ_MAGIC) == 0)
        status = req_set(&req, frames[2], frames[3], frames[4], frames[5], frames[6], err,
                         sizeof err);
    if (status != 0) {
        char text[160];
        snprintf(text, sizeof text, "%s\n", err);
        s_plain(&self->resp, status,
                status == 405 ? "Method Not Allowed"
                : status == 414 ? "URI Too Long" : "Bad Request",
                "", text);
        s_reply(self, id, id_len, self->resp.data, self->resp.len);
        return true;
    }
    if (indexing || !self->workers) {
        l3_buf_reset(&self->resp);
        pages_indexing(self->pages, &req, percent, &self->resp);
        s_reply(self, id, id_len, self->resp.data, self->resp.len);
        return true;
    }
    char key[sizeof frames];
    s_cache_key(&req, key, sizeof key);
    cache_entry_t *e = s_cache_find(self, key, index_generation(self->index));
    if (e) {
        s_reply(self, id, id_len, e->resp, e->len);
        l3_debug("%s %s?%s (%s) cached", req.method, req.path, req.query, req.user);
        return true;
    }
    workers_submit(self->workers, &req, id, id_len);
    return true;
}

/* "$commit" <offset>: the datafile is complete up to offset. */
static void s_on_commit(render_t *self)
{
    char topic[16] = "", num[32] = "";
    int tn = zmq_recv(self->sub, topic, sizeof topic - 1, 0);
    int more = 0;
    size_t ml = sizeof more;
    zmq_getsockopt(self->sub, ZMQ_RCVMORE, &more, &ml);
    if (!more)
        return;
    int nn = zmq_recv(self->sub, num, sizeof num - 1, 0);
    /* drain any further frames */
    zmq_getsockopt(self->sub, ZMQ_RCVMORE, &more, &ml);
    while (more) {
        char junk[64];
        zmq_recv(self->sub, junk, sizeof junk, 0);
        zmq_getsockopt(self->sub, ZMQ_RCVMORE, &more, &ml);
    }
    if (tn != 7 || memcmp(topic, "$commit", 7) != 0 || nn <= 0 || nn >= (int)sizeof num)
        return;
    num[nn] = 0;
    //  "<offset>" or "<offset> <part>" (docs/protocol.md): everything before it, in this
    //  part and all earlier ones, is committed; the index reads on into a part the writer
    //  rotated to when it gets there (index.h).
    char *end;
    unsigned long long off = strtoull(num, &end, 10);
    unsigned long part = 0;
    if (*end == ' ')
        part = strtoul(end + 1, &end, 10);
    if (*end || part > UINT32_MAX || off > INDEX_OFF_LOCAL(UINT64_MAX))
        return;
    uint64_t at = INDEX_OFF(part, off);
    self->have_commits = true;
    if (at > self->committed)
        self->committed = at;
}

/* Index up to what is known to be complete. */
static void s_catch_up(render_t *self)
{
    bool more = true;
    uint64_t limit = self->have_commits ? self->committed : UINT64_MAX;
    while (more && !l3_daemon_interrupted()) {
        int64_t added = index_scan(self->index, limit, INDEX_SLICE, &more);
        if (added < 0)
            break;
        if (added > 0)
            l3_debug("indexed %" PRId64 " new records", added);
    }
}

/* The search index: when its builder is done, open what it wrote (workers forked from
   then on search it); when none runs, start one for the newest complete segment without
   a file. A segment takes a child a second or so (65,536 commands), so render goes on
   answering; the first start on a long history builds them all, newest first, while the
   segments not built yet are scanned as before. */
static void s_textindex_step(render_t *self)
{
    if (!self->textindex)
        return;
    if (self->ti_pid > 0) {
        int st = 0;
        pid_t r = waitpid(self->ti_pid, &st, WNOHANG);
        if (r == 0 || (r < 0 && errno == EINTR))
            return;
        bool built = r == self->ti_pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
        self->ti_pid = 0;
        if (!built) {
            l3_warn("search index: segment %" PRIu32 " was not built; tried again in a minute",
                    self->ti_seg);
            self->ti_retry_us = l3_time_mono_us() + 60000000;
            self->ti_generation = 0;
            return;
        }
        textindex_open(self->textindex, self->index);
        uint32_t nsegs;
        uint64_t bytes = textindex_bytes(self->textindex, &nsegs);
        l3_info("search index: segment %" PRIu32 " built in %.2f s (%" PRIu32 " segments, %.1f MB)",
                self->ti_seg, (double)(l3_time_mono_us() - self->ti_started_us) / 1e6, nsegs,
                (double)bytes / 1048576);
        if (self->workers)
            workers_renew(self->workers);
        self->ti_generation = 0; /* look for the next one */
        if (textindex_missing(self->textindex, self->index) == UINT32_MAX)
            l3_info("search index complete: %" PRIu32 " segments, %.1f MB", nsegs,
                    (double)bytes / 1048576);
    }
    if (l3_time_mono_us() < self->ti_retry_us)
        return;
    uint64_t gen = index_generation(self->index);
    if (gen == self->ti_generation)
        return; /* nothing new since the last look */
    self->ti_generation = gen;
    textindex_check(self->textindex, self->index);
    uint32_t seg = textindex_missing(self->textindex, self->index);
    if (seg == UINT32_MAX)
        return;
    pid_t pid = fork();
    if (pid < 0) {
        l3_warn("search index: cannot fork a builder: %s", strerror(errno));
        self->ti_retry_us = l3_time_mono_us() + 60000000;
        self->ti_generation = 0;
        return;
    }
    if (pid == 0)
        _exit(textindex_build(self->textindex, self->index, seg) ? 0 : 1);
    self->ti_pid = pid;
    self->ti_seg = seg;
    self->ti_started_us = l3_time_mono_us();
}

static uint64_t s_indexed_bytes(render_t *self)
{
    uint64_t done, total;
    index_progress(self->index, &done, &total);
    return done;
}

/* Page workers read the datafile's parts through the descriptors the index has open. */
static void s_keep_fd(int fd, bool open, void *arg)
{
    if (open)
        workers_keep_fd(arg, fd);
    else
        workers_forget_fd(arg, fd);
}

/* The first full index, in slices, answering "indexing" meanwhile. */
static void s_initial_index(render_t *self)
{
    int64_t t0 = l3_time_mono_us(), last = 0;
    uint64_t loaded = index_load(self->index);
    bool more = true;
    uint64_t start, total;
    index_progress(self->index, &start, &total);
    while (more && !l3_daemon_interrupted()) {
        l3_service_watchdog(0); /* a slice is bounded, so a stuck one stops the pings */
        if (index_scan(self->index, UINT64_MAX, INDEX_SLICE, &more) < 0)
            break;
        uint64_t pos, size;
        index_progress(self->index, &pos, &size);
        int percent = size ? (int)(pos * 100 / size) : 100;
        int64_t now = l3_time_mono_us();
        if (more && now - last > 1000000) {
            fprintf(stderr, "l3-render: indexing %s: %" PRIu64 " of %" PRIu64 " MB (%d%%)\n",
                    self->datafile, pos >> 20, size >> 20, percent);
            last = now;
        }
        while (more && s_serve(self, true, percent))
            ;
    }
    uint32_t ncmds, nsess;
    index_cmds(self->index, &ncmds);
    index_sessions(self->index, &nsess);
    l3_info("indexed %s: %" PRIu32 " commands, %" PRIu32 " sessions (%" PRIu64
            " records from the index file, %" PRIu64 " MB scanned) in %.2f s",
            self->datafile, ncmds, nsess, loaded, (s_indexed_bytes(self) - start) >> 20,
            (double)(l3_time_mono_us() - t0) / 1e6);
}

/* render/metrics: how far the index is behind the datafile, pages made (l3_metrics.h). */
static void s_metrics(l3_metrics_t *m, void *arg)
{
    render_t *self = arg;
    uint32_t ncmd = 0;
    uint64_t pos = 0, size = 0;
    if (self->index) {
        index_cmds(self->index, &ncmd);
        index_progress(self->index, &pos, &size);
    }
    l3_metrics_gauge(m, "index_commands", "Commands in the index.", ncmd);
    l3_metrics_gauge(m, "index_bytes", "Bytes of the datafile indexed.", (double) pos);
    l3_metrics_gauge(m, "index_lag_bytes",
                     "Bytes of the datafile not indexed yet (the size of its parts minus the "
                     "indexed bytes; the footer's few bytes are never indexed).",
                     size > pos ? (double) (size - pos) : 0);
    l3_metrics_gauge(m, "writer_committed_bytes",
                     "The last commit offset the writer announced, in its part (0: none seen).",
                     (double) INDEX_OFF_LOCAL(self->committed));
    l3_metrics_counter(m, "pages_total", "Pages made by the page workers.", self->n_pages);
    l3_metrics_counter(m, "page_failures_total",
                       "Pages that failed in a worker: timed out, crashed or refused.",
                       self->n_page_failures);
}

int main(int argc, char **argv)
{
    const char *config_path = NULL, *pidfile = NULL, *datafile = NULL, *bind = NULL;
    const char *idxpath = NULL;
    bool daemonize = false, use_syslog = false, verbose = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_arg = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            s_usage(stdout);
            return 0;
        } else if (!strcmp(a, "-c") && has_arg) {
            config_path = argv[++i];
        } else if (!strcmp(a, "-v")) {
            verbose = true;
        } else if (!strcmp(a, "--daemon")) {
            daemonize = true;
        } else if (!strcmp(a, "--syslog")) {
            use_syslog = true;
        } else if (!strcmp(a, "--pidfile") && has_arg) {
            pidfile = argv[++i];
        } else if (!strcmp(a, "--datafile") && has_arg) {
            datafile = argv[++i];
        } else if (!strcmp(a, "--bind") && has_arg) {
            bind = argv[++i];
        } else if (!strcmp(a, "--index") && has_arg) {
            idxpath = argv[++i];
        } else {
            fprintf(stderr, "l3-render: unknown or incomplete option '%s'\n", a);
            s_usage(stderr);
            return 2;
        }
    }
    l3_log_init(PROGNAME, use_syslog, verbose ? L3_LOG_DEBUG : L3_LOG_INFO);
    render_t self;
    memset(&self, 0, sizeof self);
    self.whatis_fd = -1;
    const char *faults = getenv("L3_RENDER_TEST_FAULTS");
    self.faults = faults && !strcmp(faults, "1");
    int rc = 1;
    char idxbuf[4096];
    l3_buf_init(&self.resp, 0);
    self.cfg = l3_config_load(config_path ? config_path : l3_paths_config_default());
    if (!self.cfg)
        goto cleanup;
    const char *tz = l3_config_str(self.cfg, "render/timezone", "");
    if (tz[0]) {
        setenv("TZ", tz, 1);
    }
    tzset();
    if (!datafile)
        datafile = l3_config_str(self.cfg, "render/datafile",
                                 l3_config_str(self.cfg, "writer/backend_datafile", NULL));
    if (!datafile) {
        l3_error("no datafile: set render/datafile (or writer/backend_datafile) or --datafile");
        goto cleanup;
    }
    self.datafile = datafile;
    if (!idxpath) {
        snprintf(idxbuf, sizeof idxbuf, "%s.idx", datafile);
        idxpath = l3_config_str(self.cfg, "render/index", idxbuf);
    }
    if (!bind)
        bind = l3_config_str(self.cfg, "render/bind", ACCESS_DEFAULT_BIND);
    const char *commits = l3_config_str(self.cfg, "render/commits",
                                        l3_config_str(self.cfg, "writer/ack_bind",
                                                      "tcp://127.0.0.1:5681"));
    self.poll_ms = (int)l3_config_int(self.cfg, "render/poll_ms", 250, 10, 10000);
    if (!pidfile)
        pidfile = l3_config_str(self.cfg, "render/backend_pidfile", NULL);
    self.pages = pages_new(self.cfg);
    if (!self.pages)
        goto cleanup;
    if (!l3_daemon_start(PROGNAME, daemonize, pidfile))
        goto cleanup;

    self.ctx = zmq_ctx_new();
    /* ROUTER, not REP: requests are answered as their pages come back from the workers,
       in any order, while a slow page is still being made. */
    self.router = zmq_socket(self.ctx, ZMQ_ROUTER);
    int linger = 0;
    int64_t maxmsg = 64 * 1024;
    zmq_setsockopt(self.router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(self.router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    self.access = access_new(self.cfg, self.ctx);
    if (!self.access || !access_bind(self.access, self.router, bind))
        goto cleanup;
    if (commits[0]) {
        self.sub = zmq_socket(self.ctx, ZMQ_SUB);
        zmq_setsockopt(self.sub, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(self.sub, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
        zmq_setsockopt(self.sub, ZMQ_SUBSCRIBE, "$commit", 7);
        if (zmq_connect(self.sub, commits) != 0) {
            l3_warn("cannot connect to the writer's commits at %s: %s; polling the file",
                    commits, zmq_strerror(errno));
            zmq_close(self.sub);
            self.sub = NULL;
        }
    }
    l3_info("serving on %s, datafile %s, index %s", bind, datafile, idxpath);
    /* Ready once the socket is bound: until the index is built it answers "indexing". */
    l3_service_ready("serving on %s", bind);
    if (!l3_metrics_start(self.cfg, "render", "render", s_metrics, &self))
        goto cleanup;
    if (self.faults)
        l3_warn("L3_RENDER_TEST_FAULTS=1: the /_fault/ test pages are on (tests only)");

    /* The datafile may not exist yet (the writer creates it): wait for it. */
    while (!l3_daemon_interrupted()) {
        self.index = index_new(datafile, idxpath);
        if (self.index)
            break;
        zmq_pollitem_t item = {self.router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, l3_service_watchdog(1000)) > 0)
            while (s_serve(&self, true, 0))
                ;
    }
    if (!self.index) {
        rc = l3_daemon_interrupted() ? 0 : 1; /* SIGTERM while waiting is a clean stop */
        goto cleanup;
    }
    /* Command descriptions load while the index is built (the loader just waits on its
       pipe until the main loop reads it). */
    self.whatis = whatis_new(l3_config_bool(self.cfg, "render/whatis", true));
    pages_set_whatis(self.pages, self.whatis);
    if (self.whatis)
        self.whatis_fd = whatis_start(self.whatis,
                                      l3_config_str(self.cfg, "render/whatis_command",
                                                    "whatis -l -w '*'"));
    s_initial_index(&self);
    if (l3_daemon_interrupted())
        goto done;
    if (l3_config_bool(self.cfg, "render/search_index", true)) {
        self.textindex = textindex_new(idxpath); /* beside the index file: render writes there */
        if (self.textindex) {
            textindex_open(self.textindex, self.index);
            pages_set_textindex(self.pages, self.textindex);
            uint32_t nsegs;
            uint64_t bytes = textindex_bytes(self.textindex, &nsegs);
            if (textindex_missing(self.textindex, self.index) == UINT32_MAX)
                l3_info("search index complete: %" PRIu32 " segments, %.1f MB", nsegs,
                        (double)bytes / 1048576);
        }
    }
    workers_cfg_t wcfg = {
        (int)l3_config_int(self.cfg, "render/workers", 4, 1, WORKERS_MAX),
        (int)l3_config_int(self.cfg, "render/page_timeout_ms", 1500, 100, 600000),
        (int)l3_config_int(self.cfg, "render/queue_max", 256, 1, 100000)};
    self.workers = workers_new(&wcfg, s_make_page, &self, s_on_page_done, &self);
    if (!self.workers) {
        l3_error("cannot set up the page workers");
        goto cleanup;
    }
    index_set_fd_hook(self.index, s_keep_fd, self.workers);
    workers_set_generation(self.workers, index_generation(self.index));

    while (!l3_daemon_interrupted()) {
        zmq_pollitem_t items[3 + WORKERS_MAX] = {{self.router, 0, ZMQ_POLLIN, 0},
                                                 {self.sub, 0, ZMQ_POLLIN, 0}};
        size_t fixed = self.sub ? 2 : 1;
        size_t whatis_item = 0;
        if (self.whatis_fd >= 0) {
            whatis_item = fixed++;
            items[whatis_item] = (zmq_pollitem_t){NULL, self.whatis_fd, ZMQ_POLLIN, 0};
        }
        size_t nw = workers_pollitems(self.workers, items + fixed, WORKERS_MAX);
        int n = zmq_poll(items, (int)(fixed + nw),
                         l3_service_watchdog(workers_timeout_ms(self.workers, self.poll_ms)));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            l3_error("poll: %s", zmq_strerror(errno));
            break;
        }
        /* Finished pages first: the items name the workers as they were at the poll. */
        workers_process(self.workers, items + fixed, nw);
        if (whatis_item && (items[whatis_item].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) &&
            !whatis_on_readable(self.whatis))
        {
            self.whatis_fd = -1; /* loaded: workers forked from now on have the table */
            workers_renew(self.workers);
            s_cache_free(&self); /* pages made before had no descriptions */
            memset(self.cache, 0, sizeof self.cache);
        }
        bool commit = false;
        if (self.sub && (items[1].revents & ZMQ_POLLIN)) {
            while (true) {
                zmq_pollitem_t it = {self.sub, 0, ZMQ_POLLIN, 0};
                if (zmq_poll(&it, 1, 0) <= 0)
                    break;
                s_on_commit(&self);
                commit = true;
            }
        }
        /* New records first, so a request right after an ack already sees them. */
        if (commit || n == 0 || !self.have_commits) {
            s_catch_up(&self);
            workers_set_generation(self.workers, index_generation(self.index));
        }
        s_textindex_step(&self);
        if (items[0].revents & ZMQ_POLLIN)
            while (s_serve(&self, false, 100))
                ;
    }
done:
    rc = 0;
cleanup:
    if (rc == 0)
        l3_service_stopping();
    l3_metrics_stop();
    /* Workers first: they are killed and reaped before anything they might share goes. */
    if (self.index)
        index_set_fd_hook(self.index, NULL, NULL); /* the workers go first */
    workers_destroy(&self.workers);
    if (self.ti_pid > 0) {
        kill(self.ti_pid, SIGKILL);
        while (waitpid(self.ti_pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    textindex_destroy(&self.textindex);
    whatis_destroy(&self.whatis);
    if (self.router)
        zmq_close(self.router);
    if (self.sub)
        zmq_close(self.sub);
    access_destroy(&self.access); /* after the socket it guards, before the context */
    if (self.ctx)
        zmq_ctx_term(self.ctx);
    index_destroy(&self.index);
    pages_destroy(&self.pages);
    l3_buf_free(&self.resp);
    s_cache_free(&self);
    l3_daemon_finish();
    l3_config_destroy(&self.cfg);
    return rc;
}
