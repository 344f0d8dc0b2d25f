/*  l3-render — keeps an index of the datafile and answers journal requests.

    Start-up: reuse the derived index file when it matches the datafile, then index the
    rest, in slices, answering requests meanwhile with "503 indexing N%" (and printing
    progress on stderr), so a big file never makes the web server wait blind. After that:
    one poll loop over the REP socket (requests from l3-cgi, req.h framing) and a SUB
    socket on the writer's PUB, whose "$commit" offsets say how far the datafile is
    complete; records up to that offset are indexed as soon as it arrives. When no writer
    ever announced a commit (a static datafile, or a writer not running), the file's size
    is polled instead, and only complete lines are taken. */
#include "l3_config.h"
#include "l3_daemon.h"
#include "index.h"
#include "l3_log.h"
#include "pages.h"
#include "req.h"
#include "l3_time.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define PROGNAME "l3-render"
#define INDEX_SLICE (64ull << 20) /* bytes indexed between two looks at the request socket */
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
    l3_config_t *cfg;
    pages_t *pages;
    index_t *index;
    void *ctx, *rep, *sub;
    const char *datafile;
    uint64_t committed;   /* last "$commit" offset; 0 = none seen */
    bool have_commits;
    int poll_ms;
    l3_buf_t resp;
    cache_entry_t cache[CACHE_SLOTS];
    uint64_t clock;
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
            "bind, commits, timezone, poll_ms, and the page keys in conf/lilalo.cfg.\n");
}

/* Receive one request (all frames) and answer it; malformed requests get a 400. */
static void s_serve(render_t *self, bool indexing, int percent)
{
    char frames[6][REQ_QUERY_MAX + 1];
    int n = 0;
    bool more = true, bad = false;
    while (more) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, self->rep, 0) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        size_t len = zmq_msg_size(&msg);
        if (n < 6 && len <= REQ_QUERY_MAX) {
            memcpy(frames[n], zmq_msg_data(&msg), len);
            frames[n][len] = 0;
            if (strlen(frames[n]) != len)
                bad = true; /* a NUL inside a frame */
        } else {
            bad = true;
        }
        n++;
        more = zmq_msg_more(&msg);
        zmq_msg_close(&msg);
    }
    req_t req;
    char err[128] = "malformed request";
    int status = 400;
    l3_buf_reset(&self->resp);
    if (!bad && n == 6 && strcmp(frames[0], REQ_MAGIC) == 0)
        status = req_set(&req, frames[1], frames[2], frames[3], frames[4], frames[5], err,
                            sizeof err);
    int64_t t0 = l3_time_mono_us();
    char key[sizeof frames];
    bool cacheable = false;
    if (status == 0 && !indexing) {
        snprintf(key, sizeof key, "%s\x01%s\x01%s\x01%s\x01%s", req.method, req.path, req.query,
                 req.user, req.lang);
        cache_entry_t *e = s_cache_find(self, key, index_generation(self->index));
        if (e) {
            zmq_send(self->rep, e->resp, e->len, 0);
            l3_debug("%s %s?%s (%s) cached", req.method, req.path, req.query, req.user);
            return;
        }
        cacheable = true;
    }
    if (status != 0) {
        l3_buf_printf(&self->resp,
                      "HTTP/1.1 %d Bad Request\r\nContent-Type: text/plain\r\n\r\n%s\n", status,
                      err);
    } else if (indexing) {
        pages_indexing(self->pages, &req, percent, &self->resp);
    } else {
        pages_handle(self->pages, self->index, &req, &self->resp);
    }
    if (status == 0)
        l3_debug("%s %s?%s (%s) %.1f ms", req.method, req.path, req.query, req.user,
                 (double)(l3_time_mono_us() - t0) / 1000.0);
    if (cacheable)
        s_cache_put(self, key, index_generation(self->index), &self->resp);
    zmq_send(self->rep, self->resp.data, self->resp.len, 0);
    if (self->resp.cap > (8u << 20)) {
        l3_buf_free(&self->resp);
        l3_buf_init(&self->resp, 0);
    }
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
    char *end;
    unsigned long long off = strtoull(num, &end, 10);
    if (*end)
        return;
    self->have_commits = true;
    if (off > self->committed)
        self->committed = off;
}

/* Index up to what is known to be complete. */
static void s_catch_up(render_t *self)
{
    bool more = true;
    uint64_t limit = self->have_commits ? self->committed : UINT64_MAX;
    while (more) {
        int64_t added = index_scan(self->index, limit, INDEX_SLICE, &more);
        if (added < 0)
            break;
        if (added > 0)
            l3_debug("indexed %" PRId64 " new records", added);
    }
}

/* The first full index, in slices, answering "indexing" meanwhile. */
static void s_initial_index(render_t *self)
{
    int64_t t0 = l3_time_mono_us(), last = 0;
    uint64_t loaded = index_load(self->index);
    bool more = true;
    uint64_t start = index_pos(self->index);
    while (more && !l3_daemon_interrupted()) {
        if (index_scan(self->index, UINT64_MAX, INDEX_SLICE, &more) < 0)
            break;
        uint64_t pos = index_pos(self->index), size = index_file_size(self->index);
        int percent = size ? (int)(pos * 100 / size) : 100;
        int64_t now = l3_time_mono_us();
        if (more && now - last > 1000000) {
            fprintf(stderr, "l3-render: indexing %s: %" PRIu64 " of %" PRIu64 " MB (%d%%)\n",
                    self->datafile, pos >> 20, size >> 20, percent);
            last = now;
        }
        zmq_pollitem_t item = {self->rep, 0, ZMQ_POLLIN, 0};
        while (more && zmq_poll(&item, 1, 0) > 0 && (item.revents & ZMQ_POLLIN))
            s_serve(self, true, percent);
    }
    uint32_t ncmds, nsess;
    index_cmds(self->index, &ncmds);
    index_sessions(self->index, &nsess);
    l3_info("indexed %s: %" PRIu32 " commands, %" PRIu32 " sessions (%" PRIu64
            " records from the index file, %" PRIu64 " MB scanned) in %.2f s",
            self->datafile, ncmds, nsess, loaded, (index_pos(self->index) - start) >> 20,
            (double)(l3_time_mono_us() - t0) / 1e6);
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
    int rc = 1;
    char idxbuf[4096];
    l3_buf_init(&self.resp, 0);
    self.cfg = l3_config_load(config_path);
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
        bind = l3_config_str(self.cfg, "render/bind", "tcp://127.0.0.1:5690");
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
    self.rep = zmq_socket(self.ctx, ZMQ_REP);
    int linger = 0;
    int64_t maxmsg = 64 * 1024;
    zmq_setsockopt(self.rep, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(self.rep, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmq_bind(self.rep, bind) != 0) {
        l3_error("cannot bind %s: %s", bind, zmq_strerror(errno));
        goto cleanup;
    }
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

    /* The datafile may not exist yet (the writer creates it): wait for it. */
    while (!l3_daemon_interrupted()) {
        self.index = index_new(datafile, idxpath);
        if (self.index)
            break;
        zmq_pollitem_t item = {self.rep, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 1000) > 0)
            s_serve(&self, true, 0);
    }
    if (!self.index)
        goto cleanup;
    s_initial_index(&self);

    while (!l3_daemon_interrupted()) {
        zmq_pollitem_t items[2] = {{self.rep, 0, ZMQ_POLLIN, 0}, {self.sub, 0, ZMQ_POLLIN, 0}};
        int n = zmq_poll(items, self.sub ? 2 : 1, self.poll_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            l3_error("poll: %s", zmq_strerror(errno));
            break;
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
        if (commit || n == 0 || !self.have_commits)
            s_catch_up(&self);
        if (items[0].revents & ZMQ_POLLIN)
            s_serve(&self, false, 100);
    }
    rc = 0;
cleanup:
    if (self.rep)
        zmq_close(self.rep);
    if (self.sub)
        zmq_close(self.sub);
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
