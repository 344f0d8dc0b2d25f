/*  wtest — harness for the l3-writer integration tests. See wtest.h. */
#include "wtest.h"
#include "l3_port.h"
#include "l3_msg.h"
#include "l3_time.h"
#include "l3_xmlrec.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>


bool wt_setup(wt_t *t, const char *name, const char *extra_cfg)
{
    memset(t, 0, sizeof *t);
    t->pid = -1;
    zsys_init();
    zsys_handler_set(NULL);
    signal(SIGPIPE, SIG_IGN);
    snprintf(t->dir, sizeof t->dir, "/tmp/l3wt-%s-XXXXXX", name);
    if (!mkdtemp(t->dir)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return false;
    }
    snprintf(t->datafile, sizeof t->datafile, "%s/datafile.xml", t->dir);
    snprintf(t->config, sizeof t->config, "%s/lilalo.cfg", t->dir);
    snprintf(t->log, sizeof t->log, "%s/writer.log", t->dir);
    snprintf(t->pidfile, sizeof t->pidfile, "%s/l3-writer.pid", t->dir);
    int p1 = l3_test_free_port(), p2 = l3_test_free_port();
    if (p1 < 0 || p2 < 0 || p1 == p2) {
        fprintf(stderr, "no free port\n");
        return false;
    }
    snprintf(t->bind, sizeof t->bind, "tcp://127.0.0.1:%d", p1);
    snprintf(t->ack_bind, sizeof t->ack_bind, "tcp://127.0.0.1:%d", p2);
    snprintf(t->extra_cfg, sizeof t->extra_cfg, "%s", extra_cfg ? extra_cfg : "");
    if (!wt_set_datafile(t, t->datafile))
        return false;
    t->push = zsock_new(ZMQ_PUSH);
    t->sub = zsock_new(ZMQ_SUB);
    if (!t->push || !t->sub)
        return false;
    zsock_set_sndhwm(t->push, 100000);
    zsock_set_linger(t->push, 0);
    zsock_set_rcvhwm(t->sub, 100000);
    zsock_set_subscribe(t->sub, "");
    zsock_connect(t->push, "%s", t->bind);
    zsock_connect(t->sub, "%s", t->ack_bind);
    return true;
}

bool wt_set_datafile(wt_t *t, const char *path)
{
    if (path != t->datafile)
        snprintf(t->datafile, sizeof t->datafile, "%s", path);
    FILE *f = fopen(t->config, "w");
    if (!f)
        return false;
    fprintf(f,
            "writer\n"
            "    backend_datafile = \"%s\"\n"
            "    bind = \"%s\"\n"
            "    ack_bind = \"%s\"\n"
            "    backend_pidfile = \"%s\"\n"
            "    heartbeat_ms = 50\n"
            "%s",
            t->datafile, t->bind, t->ack_bind, t->pidfile, t->extra_cfg);
    return fclose(f) == 0;
}

void wt_teardown(wt_t *t)
{
    if (t->pid > 0)
        wt_stop(t, SIGTERM);
    zsock_destroy(&t->push);
    zsock_destroy(&t->sub);
    if (t->dir[0] && getenv("L3_KEEP") == NULL) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", t->dir);
    }
}

pid_t wt_spawn(wt_t *t, const char *const *extra_args)
{
    const char *bindir = getenv("L3_BIN_DIR");
    char exe[600];
    snprintf(exe, sizeof exe, "%s/l3-writer", bindir ? bindir : ".");
    const char *argv[32];
    int n = 0;
    argv[n++] = exe;
    argv[n++] = "-c";
    argv[n++] = t->config;
    for (int i = 0; extra_args && extra_args[i] && n < 30; i++)
        argv[n++] = extra_args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(t->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(exe, (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    return pid;
}

bool wt_start(wt_t *t)
{
    /* A "$commit" of the previous writer may still sit in our SUB queue: drain it, and
       count only heartbeats that arrive after the new process says it is ready. */
    for (uint64_t before = t->commits - 1; before != t->commits;) {
        before = t->commits;
        wt_pump(t, 0);
    }
    t->pid = wt_spawn(t, NULL);
    if (t->pid < 0)
        return false;
    char ready[64];
    snprintf(ready, sizeof ready, "[%d] info: ready", (int)t->pid);
    bool is_ready = false;
    uint64_t seen = 0;
    int64_t deadline = l3_time_mono_us() + 15 * 1000000LL;
    while (l3_time_mono_us() < deadline) {
        if (!is_ready && wt_log_has(t, ready)) {
            is_ready = true;
            wt_pump(t, 0);
            seen = t->commits;
        }
        wt_pump(t, 20);
        if (is_ready && t->commits > seen)
            return true;
        int status;
        if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
            fprintf(stderr, "l3-writer exited during start-up (status %d); log %s\n", status,
                    t->log);
            t->pid = -1;
            return false;
        }
    }
    fprintf(stderr, "l3-writer did not come up within 15 s\n");
    return false;
}

int wt_wait_exit(pid_t pid, int timeout_ms)
{
    int64_t deadline = l3_time_mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (r < 0)
            return -1;
        if (l3_time_mono_us() > deadline)
            return -1;
        usleep(2000); /* polling a process exit: no event to wait on without a pidfd */
    }
}

int wt_stop(wt_t *t, int sig)
{
    if (t->pid <= 0)
        return -1;
    kill(t->pid, sig);
    int rc = wt_wait_exit(t->pid, 10000);
    if (rc < 0) {
        kill(t->pid, SIGKILL);
        rc = wt_wait_exit(t->pid, 5000);
    }
    t->pid = -1;
    return rc;
}

void wt_record(l3_record_t *r, l3_record_type_t type, const char *agent, uint64_t epoch,
               uint64_t seq)
{
    l3_record_init(r);
    r->type = type;
    l3_text_set(r->agent, sizeof r->agent, agent);
    r->epoch = epoch;
    r->seq = seq;
    l3_text_set(r->host, sizeof r->host, "lab1");
    /* Markup characters and UTF-8 in a text attribute, in every test. */
    l3_text_set(r->user, sizeof r->user, "al<&>\"'ice-\xc3\xa9");
    l3_text_set(r->sid, sizeof r->sid, "20261124T211144-42-beef");
    int64_t now = l3_time_now_us();
    switch (type) {
    case L3_RECORD_SESSION:
        r->start_us = now;
        r->uid = 1000;
        r->pid = 42;
        r->cols = 80;
        r->rows = 24;
        l3_text_set(r->tty, sizeof r->tty, "/dev/pts/3");
        l3_text_set(r->shell, sizeof r->shell, "/bin/bash");
        if (seq % 2 == 1) { /* every optional session attribute */
            l3_text_set(r->ssh, sizeof r->ssh, "10.0.0.7 50022 22");
            l3_text_set(r->parent, sizeof r->parent, "lab0/20261124T200000-1-abcd");
            r->end_us = now + 5;
            r->flags = L3_FLAG_NESTED;
        }
        break;
    case L3_RECORD_COMMAND: {
        r->nr = seq;
        r->start_us = now;
        r->end_us = now + 1000;
        r->has_exit = true;
        char line[64];
        int n = snprintf(line, sizeof line, "echo %" PRIu64, seq);
        l3_bytes_set(&r->cmdline, line, (size_t)n, L3_CMDLINE_MAX);
        l3_bytes_set(&r->cwd, "/home/alice", 11, L3_CWD_MAX);
        char out[256];
        memset(out, 'o', sizeof out);
        memcpy(out, line, (size_t)n);
        out[255] = '\n';
        l3_bytes_set(&r->output, out, sizeof out, L3_OUTPUT_MAX);
        if (seq % 5 == 0) { /* capped output of a full-screen program */
            r->flags = L3_FLAG_TRUNCATED | L3_FLAG_FULLSCREEN;
            r->dropped = 123456;
            r->output_head = 100;
        }
        if (seq % 7 == 0) { /* killed, no exit status */
            r->has_exit = false;
            r->signal = 9;
            r->flags |= L3_FLAG_INTERRUPTED;
        }
        if (seq % 11 == 0)
            r->exit_code = -1;
        break;
    }
    default:
        r->end_us = now;
        r->has_exit = true;
        if (seq % 2 == 0) {
            r->start_us = now - 1000;
            r->signal = 15;
            r->flags = L3_FLAG_ABNORMAL;
        }
        break;
    }
}

bool wt_send_raw(wt_t *t, const void *f1, size_t l1, const void *f2, size_t l2)
{
    void *s = zsock_resolve(t->push);
    if (f2 == NULL)
        return zmq_send(s, f1, l1, 0) >= 0;
    return zmq_send(s, f1, l1, ZMQ_SNDMORE) >= 0 && zmq_send(s, f2, l2, 0) >= 0;
}

bool wt_send(wt_t *t, const char *agent, const l3_record_t *r)
{
    l3_buf_t buf;
    l3_buf_init(&buf, L3_MSG_MAX);
    bool ok = l3_msg_encode_record(r, &buf) &&
              wt_send_raw(t, agent, strlen(agent), buf.data ? (void *)buf.data : (void *)"",
                          buf.len);
    l3_buf_free(&buf);
    return ok;
}

wt_stream_t *wt_stream(wt_t *t, const char *agent, uint64_t epoch)
{
    for (int i = 0; i < t->nstreams; i++)
        if (t->streams[i].epoch == epoch && strcmp(t->streams[i].agent, agent) == 0)
            return &t->streams[i];
    if (t->nstreams == WT_MAX_STREAMS)
        return NULL;
    wt_stream_t *s = &t->streams[t->nstreams++];
    memset(s, 0, sizeof *s);
    snprintf(s->agent, sizeof s->agent, "%s", agent);
    s->epoch = epoch;
    return s;
}

/* One two-frame message from the SUB socket, without waiting: false when none. */
static bool s_recv2(void *sub, zmq_msg_t *topic, zmq_msg_t *body)
{
    if (zmq_msg_recv(topic, sub, ZMQ_DONTWAIT) < 0)
        return false;
    if (!zmq_msg_more(topic))
        return true; /* body left empty: not ours, ignored by the caller */
    zmq_msg_recv(body, sub, 0);
    while (zmq_msg_more(body))
        zmq_msg_recv(body, sub, 0);
    return true;
}

void wt_pump(wt_t *t, int timeout_ms)
{
    void *sub = zsock_resolve(t->sub);
    zmq_pollitem_t item = {.socket = sub, .events = ZMQ_POLLIN};
    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return;
    zmq_msg_t topic, body;
    zmq_msg_init(&topic);
    zmq_msg_init(&body);
    for (int n = 0; n < 100000; n++) {
        zmq_msg_close(&body);
        zmq_msg_init(&body);
        if (!s_recv2(sub, &topic, &body))
            break;
        const char *tp = zmq_msg_data(&topic);
        size_t tl = zmq_msg_size(&topic);
        if (tl == 7 && memcmp(tp, "$commit", 7) == 0) {
            char text[32] = "";
            size_t bl = zmq_msg_size(&body) < 31 ? zmq_msg_size(&body) : 31;
            memcpy(text, zmq_msg_data(&body), bl);
            text[bl] = 0;
            t->commit = strtoull(text, NULL, 10);
            t->commits++;
            continue;
        }
        l3_msg_t msg;
        l3_msg_init(&msg);
        char err[128];
        if (l3_msg_decode(zmq_msg_data(&body), zmq_msg_size(&body), &msg, err, sizeof err) &&
            (msg.kind == L3_MSG_ACK || msg.kind == L3_MSG_NACK) && strlen(msg.agent) == tl &&
            memcmp(tp, msg.agent, tl) == 0) {
            wt_stream_t *s = wt_stream(t, msg.agent, msg.epoch);
            if (s && msg.kind == L3_MSG_ACK) {
                if (msg.seq > s->acked)
                    s->acked = msg.seq;
                s->acks++;
            } else if (s) {
                s->nacked = msg.seq;
                s->nacks++;
            }
        } else
            fprintf(stderr, "wtest: bad message on the ack socket: %s\n", err);
        l3_msg_clear(&msg);
    }
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
}

bool wt_wait_ack(wt_t *t, const char *agent, uint64_t epoch, uint64_t seq, int timeout_ms)
{
    int64_t deadline = l3_time_mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        wt_stream_t *s = wt_stream(t, agent, epoch);
        if (s && s->acked >= seq)
            return true;
        if (l3_time_mono_us() > deadline)
            return false;
        wt_pump(t, 50);
    }
}

bool wt_wait_nack(wt_t *t, const char *agent, uint64_t epoch, int timeout_ms)
{
    int64_t deadline = l3_time_mono_us() + (int64_t)timeout_ms * 1000;
    wt_stream_t *s = wt_stream(t, agent, epoch);
    uint64_t before = s ? s->nacks : 0;
    for (;;) {
        s = wt_stream(t, agent, epoch);
        if (s && s->nacks > before)
            return true;
        if (l3_time_mono_us() > deadline)
            return false;
        wt_pump(t, 50);
    }
}

long wt_read_datafile(const char *path, wt_record_fn *fn, void *arg)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long count = 0, lineno = 0;
    bool footer = false;
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (lineno == 1 && strcmp(line, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n") == 0)
            continue;
        if (lineno == 2) { /* part 0's root tag, or a later part's (docs/datafile.md) */
            char head[L3_XML_HEADER_MAX * 2];
            l3_xml_head_t h;
            int n = snprintf(head, sizeof head, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n%s", line);
            if (n > 0 && (size_t)n < sizeof head && l3_xml_header_parse(head, (size_t)n, &h) == 1)
                continue;
        }
        if (lineno <= 2) {
            fprintf(stderr, "%s: bad header line %ld\n", path, lineno);
            count = -1;
            break;
        }
        if (footer) {
            fprintf(stderr, "%s: data after the footer at line %ld\n", path, lineno);
            count = -1;
            break;
        }
        if (strcmp(line, L3_XML_FOOTER) == 0) {
            footer = true;
            continue;
        }
        l3_record_t r;
        char err[256];
        if (!l3_xmlrec_parse(line, (size_t)len, &r, err, sizeof err)) {
            fprintf(stderr, "%s: line %ld does not parse: %s\n", path, lineno, err);
            count = -1;
            break;
        }
        if (fn)
            fn(&r, arg);
        l3_record_clear(&r);
        count++;
    }
    if (count >= 0 && !footer) {
        fprintf(stderr, "%s: no footer\n", path);
        count = -1;
    }
    free(line);
    fclose(f);
    return count;
}

bool wt_schema_valid(const char *path)
{
    const char *src = getenv("L3_SOURCE_DIR");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "xmllint --noout --relaxng '%s/proto/lilalo.rng' '%s' 2>/dev/null",
             src ? src : ".", path);
    int rc = system(cmd);
    if (rc != 0) {
        snprintf(cmd, sizeof cmd, "xmllint --noout --relaxng '%s/proto/lilalo.rng' '%s' 2>&1 | head -5",
                 src ? src : ".", path);
        if (system(cmd) != 0)
            fprintf(stderr, "xmllint failed\n");
    }
    return rc == 0;
}

bool wt_log_has(wt_t *t, const char *text)
{
    FILE *f = fopen(t->log, "r");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

bool wt_wait_log(wt_t *t, const char *text, int timeout_ms)
{
    int64_t deadline = l3_time_mono_us() + (int64_t)timeout_ms * 1000;
    while (!wt_log_has(t, text)) {
        if (l3_time_mono_us() > deadline)
            return false;
        wt_pump(t, 20); /* doubles as the wait between looks at the log */
    }
    return true;
}

typedef struct {
    const char *agent;
    uint64_t epoch;
    uint64_t last;
    bool bad;
} s_check_t;

static void s_check_one(const l3_record_t *r, void *arg)
{
    s_check_t *c = arg;
    if (r->epoch != c->epoch || strcmp(r->agent, c->agent) != 0)
        return;
    if (!c->bad && r->seq != c->last + 1) {
        fprintf(stderr, "stream %s/%" PRIu64 ": seq %" PRIu64 " follows %" PRIu64 "\n",
                c->agent, c->epoch, r->seq, c->last);
        c->bad = true;
    }
    c->last = r->seq;
}

long wt_check_stream(const char *path, const char *agent, uint64_t epoch)
{
    s_check_t c = {.agent = agent, .epoch = epoch};
    if (wt_read_datafile(path, s_check_one, &c) < 0 || c.bad)
        return -1;
    return (long)c.last;
}

bool wt_copy_prefix(wt_t *t, uint64_t commit, char *out, size_t outsize)
{
    snprintf(out, outsize, "%s/prefix.xml", t->dir);
    FILE *in = fopen(t->datafile, "r"), *o = fopen(out, "w");
    bool ok = in && o;
    char buf[65536];
    uint64_t left = commit;
    while (ok && left > 0) {
        size_t want = left < sizeof buf ? (size_t)left : sizeof buf;
        size_t n = fread(buf, 1, want, in);
        ok = n == want && fwrite(buf, 1, n, o) == n;
        left -= n;
    }
    if (o)
        ok = fputs(L3_XML_FOOTER, o) >= 0 && ok;
    if (in)
        fclose(in);
    if (o)
        ok = fclose(o) == 0 && ok;
    return ok;
}

long wt_check_stream_fast(const char *path, const char *agent, uint64_t epoch)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint64_t last = 0;
    bool bad = false;
    char a[L3_ID_MAX + 1], e[32], q[32];
    while (!bad && (len = getline(&line, &cap, f)) > 0) {
        if (line[0] != '<' || line[1] == '?' || line[1] == '/' || strncmp(line, "<lilalo", 7) == 0)
            continue;
        if (l3_xmlrec_attr(line, (size_t)len, "agent", a, sizeof a) < 0 ||
            l3_xmlrec_attr(line, (size_t)len, "epoch", e, sizeof e) < 0 ||
            l3_xmlrec_attr(line, (size_t)len, "seq", q, sizeof q) < 0) {
            fprintf(stderr, "%s: a line without agent/epoch/seq\n", path);
            bad = true;
            break;
        }
        if (strcmp(a, agent) != 0 || strtoull(e, NULL, 10) != epoch)
            continue;
        uint64_t seq = strtoull(q, NULL, 10);
        if (seq != last + 1) {
            fprintf(stderr, "stream %s/%" PRIu64 ": seq %" PRIu64 " follows %" PRIu64 "\n", agent,
                    epoch, seq, last);
            bad = true;
        }
        last = seq;
    }
    free(line);
    fclose(f);
    return bad ? -1 : (long)last;
}
