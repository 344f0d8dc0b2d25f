/*  broker_testlib — helpers of the broker tests. See broker_testlib.h. */
#include "broker_testlib.h"
#include "l3_port.h"
#include "keyring.h"
#include "l3_curve.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

bool bt_tempdir(char *out, size_t size)
{
    snprintf(out, size, "/tmp/l3-broker-test-XXXXXX");
    return mkdtemp(out) != NULL;
}

static int s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st, (void) flag, (void) ftw;
    return remove(path);
}

void bt_rmtree(const char *dir)
{
    /* BT_KEEP=1 keeps the directory (configs, logs) for a look after a failure. */
    if (getenv("BT_KEEP")) {
        if (dir && *dir)
            fprintf(stderr, "kept %s\n", dir);
        return;
    }
    if (dir && *dir)
        nftw(dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
}

int bt_free_port(void)
{
    return l3_test_free_port();
}

void bt_bin(const char *name, char *out, size_t size)
{
    const char *dir = getenv("L3_BIN_DIR");
    snprintf(out, size, "%s/%s", dir && *dir ? dir : "./bin", name);
}

pid_t bt_spawn(char *const argv[], const char *out_path, const char *err_path)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int out = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0600);
    int err = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (out >= 0)
        dup2(out, 1);
    if (err >= 0)
        dup2(err, 2);
    execv(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static int s_status(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

int bt_wait_exit(pid_t pid, int timeout_ms)
{
    int64_t deadline = zclock_mono() + timeout_ms;
    do {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return s_status(status);
        if (r < 0)
            return -1;
        zclock_sleep(10);
    } while (zclock_mono() < deadline);
    return -1;
}

int bt_stop(pid_t pid, int timeout_ms)
{
    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    int rc = bt_wait_exit(pid, timeout_ms);
    if (rc == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    return rc;
}

bool bt_alive(pid_t pid)
{
    int status;
    return waitpid(pid, &status, WNOHANG) == 0;
}

char *bt_file_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    l3_buf_t buf;
    l3_buf_init(&buf, 0);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        l3_buf_append(&buf, chunk, n);
    fclose(f);
    l3_buf_append_byte(&buf, 0);
    size_t len;
    return (char *) l3_buf_steal(&buf, &len);
}

int bt_file_count(const char *path, const char *needle)
{
    char *text = bt_file_read(path);
    if (!text)
        return 0;
    int n = 0;
    for (char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    free(text);
    return n;
}

bool bt_wait_file_count(const char *path, const char *needle, int n, int timeout_ms)
{
    int64_t deadline = zclock_mono() + timeout_ms;
    do {
        if (bt_file_count(path, needle) >= n)
            return true;
        zclock_sleep(20);
    } while (zclock_mono() < deadline);
    return false;
}

bt_writer_t *bt_writer_new(void)
{
    bt_writer_t *self = zmalloc(sizeof *self);
    self->pull = zsock_new(ZMQ_PULL);
    self->pub = zsock_new(ZMQ_XPUB);
    self->subs = zlist_new();
    zlist_autofree(self->subs);
    /* Verbose: every broker's subscription shows, not only the first of each topic. */
    zsock_set_xpub_verbose(self->pub, 1);
    /* Random ports, not "*": libzmq gives "*" the first free port from 49152 up, so when
       tests run in parallel (ctest -j) one test's writer took the port another test's
       writer had just closed, and that test's broker forwarded into the wrong test. */
    self->port = self->ack_port = -1;
    for (int attempt = 0; attempt < 20 && self->port < 0; attempt++)
        self->port = zsock_bind(self->pull, "tcp://127.0.0.1:%d", bt_free_port());
    for (int attempt = 0; attempt < 20 && self->ack_port < 0; attempt++)
        self->ack_port = zsock_bind(self->pub, "tcp://127.0.0.1:%d", bt_free_port());
    if (self->port < 0 || self->ack_port < 0)
        bt_writer_destroy(&self);
    return self;
}

void bt_writer_destroy(bt_writer_t **self_p)
{
    if (!*self_p)
        return;
    zsock_destroy(&(*self_p)->pull);
    zsock_destroy(&(*self_p)->pub);
    zlist_destroy(&(*self_p)->subs);
    free(*self_p);
    *self_p = NULL;
}

bool bt_writer_recv(bt_writer_t *self, char *id, size_t id_size, l3_buf_t *body,
                    int timeout_ms)
{
    zsock_set_rcvtimeo(self->pull, timeout_ms);
    zmsg_t *msg = zmsg_recv(self->pull);
    if (!msg)
        return false;
    bool ok = zmsg_size(msg) == 2;
    if (ok) {
        zframe_t *f = zmsg_first(msg);
        snprintf(id, id_size, "%.*s", (int) zframe_size(f), (char *) zframe_data(f));
        f = zmsg_next(msg);
        l3_buf_reset(body);
        l3_buf_append(body, zframe_data(f), zframe_size(f));
    }
    zmsg_destroy(&msg);
    return ok;
}

static int s_sub_count(bt_writer_t *self, const char *topic)
{
    int n = 0;
    for (char *t = zlist_first(self->subs); t; t = zlist_next(self->subs))
        n += strcmp(t, topic) == 0;
    return n;
}

bool bt_writer_wait_sub(bt_writer_t *self, const char *topic, int n, int timeout_ms)
{
    int64_t deadline = zclock_mono() + timeout_ms;
    while (s_sub_count(self, topic) < n) {
        if (zclock_mono() >= deadline)
            return false;
        zsock_set_rcvtimeo(self->pub, 50);
        zframe_t *f = zframe_recv(self->pub);
        if (!f)
            continue;
        if (zframe_size(f) >= 1 && zframe_data(f)[0] == 1) {
            char *topic_seen = zmalloc(zframe_size(f));
            memcpy(topic_seen, zframe_data(f) + 1, zframe_size(f) - 1);
            zlist_append(self->subs, topic_seen); /* autofree: the list keeps a copy */
            free(topic_seen);
        }
        zframe_destroy(&f);
    }
    return true;
}

bool bt_writer_ack(bt_writer_t *self, const char *id, uint64_t epoch, uint64_t seq)
{
    l3_buf_t buf;
    l3_buf_init(&buf, 0);
    bool ok = l3_msg_encode_ack(L3_MSG_ACK, id, epoch, seq, &buf);
    if (ok) {
        ok = zsock_send(self->pub, "sb", id, buf.data, buf.len) == 0;
    }
    l3_buf_free(&buf);
    return ok;
}

bool bt_broker_start(bt_broker_t *b, const char *dir, const char *name, bt_writer_t *writer,
                     const char *extra)
{
    memset(b, 0, sizeof *b);
    b->port = bt_free_port();
    b->ack_port = bt_free_port();
    b->capture_port = bt_free_port();
    snprintf(b->cfg, sizeof b->cfg, "%s/%s.cfg", dir, name);
    snprintf(b->log, sizeof b->log, "%s/%s.log", dir, name);
    FILE *f = fopen(b->cfg, "w");
    if (!f)
        return false;
    fprintf(f,
            "broker\n"
            "    backend_address = 127.0.0.1\n"
            "    backend_port = %d\n"
            "    ack_port = %d\n"
            "    capture_port = %d\n"
            "    writer_endpoint = tcp://127.0.0.1:%d\n"
            "    writer_ack_endpoint = tcp://127.0.0.1:%d\n"
            "%s",
            b->port, b->ack_port, b->capture_port, writer->port, writer->ack_port,
            extra ? extra : "    curve = 0\n");
    fclose(f);
    char bin[512];
    bt_bin("l3-broker", bin, sizeof bin);
    char *argv[] = {bin, "-c", b->cfg, NULL};
    b->pid = bt_spawn(argv, NULL, b->log);
    if (b->pid <= 0)
        return false;
    if (!bt_wait_file_count(b->log, "ready:", 1, 10000)) {
        char *text = bt_file_read(b->log);
        fprintf(stderr, "broker %s did not start; its log:\n%s\n", name, text ? text : "");
        free(text);
        bt_stop(b->pid, 2000);
        b->pid = 0;
        return false;
    }
    return true;
}

bool bt_broker_stop(bt_broker_t *b)
{
    if (b->pid <= 0)
        return false;
    int rc = bt_stop(b->pid, 5000);
    b->pid = 0;
    if (rc != 0) {
        char *text = bt_file_read(b->log);
        fprintf(stderr, "broker exit status %d; its log:\n%s\n", rc, text ? text : "");
        free(text);
    }
    return rc == 0;
}

static bool s_curve_client(zsock_t *sock, const char *key_path, const char *server_pub_path)
{
    zcert_t *own = l3_curve_cert_load(key_path);
    zcert_t *server = l3_curve_cert_load(server_pub_path);
    bool ok = own && server && l3_curve_client_setup(sock, own, server);
    zcert_destroy(&own);
    zcert_destroy(&server);
    return ok;
}

bt_agent_t *bt_agent_new(bt_broker_t *b, const char *id, const char *key_path,
                         const char *server_pub_path)
{
    bt_agent_t *self = zmalloc(sizeof *self);
    snprintf(self->id, sizeof self->id, "%s", id);
    self->push = zsock_new(ZMQ_PUSH);
    self->sub = zsock_new(ZMQ_SUB);
    if (key_path && (!s_curve_client(self->push, key_path, server_pub_path) ||
                     !s_curve_client(self->sub, key_path, server_pub_path))) {
        bt_agent_destroy(&self);
        return NULL;
    }
    zsock_set_linger(self->push, 2000);
    zsock_set_subscribe(self->sub, id);
    zsock_connect(self->push, "tcp://127.0.0.1:%d", b->port);
    zsock_connect(self->sub, "tcp://127.0.0.1:%d", b->ack_port);
    return self;
}

void bt_agent_destroy(bt_agent_t **self_p)
{
    if (!*self_p)
        return;
    zsock_destroy(&(*self_p)->push);
    zsock_destroy(&(*self_p)->sub);
    free(*self_p);
    *self_p = NULL;
}

void bt_record(l3_buf_t *out, l3_record_type_t type, const char *agent, uint64_t epoch,
               uint64_t seq, const char *cmd)
{
    bt_record_host(out, type, agent, BT_HOST, epoch, seq, cmd);
}

bool bt_bind(const char *cert_path, const char *host)
{
    char err[512];
    if (keyring_cert_bind(cert_path, host, err, sizeof err))
        return true;
    fprintf(stderr, "bind %s to %s: %s\n", cert_path, host ? host : "(none)", err);
    return false;
}

int bt_keygen(const char *log, ...)
{
    char bin[512];
    bt_bin("l3-keygen", bin, sizeof bin);
    char *argv[10] = {bin};
    va_list ap;
    va_start(ap, log);
    for (int i = 1; i < 9; i++)
        if (!(argv[i] = va_arg(ap, char *)))
            break;
    va_end(ap);
    return bt_wait_exit(bt_spawn(argv, log, log), 10000);
}

bool bt_copy(const char *from, const char *to)
{
    char *text = bt_file_read(from);
    if (!text)
        return false;
    FILE *f = fopen(to, "w");
    bool ok = f && fputs(text, f) >= 0;
    if (f && fclose(f) != 0)
        ok = false;
    free(text);
    return ok;
}

void bt_id_of(const char *cert_path, char *id)
{
    id[0] = '\0';
    zcert_t *cert = l3_curve_cert_load(cert_path);
    if (cert)
        l3_curve_agent_id(zcert_public_key(cert), id);
    zcert_destroy(&cert);
}

void bt_record_host(l3_buf_t *out, l3_record_type_t type, const char *agent, const char *host,
                    uint64_t epoch, uint64_t seq, const char *cmd)
{
    l3_record_t r;
    l3_record_init(&r);
    r.type = type;
    snprintf(r.agent, sizeof r.agent, "%s", agent);
    r.epoch = epoch;
    r.seq = seq;
    snprintf(r.host, sizeof r.host, "%s", host);
    snprintf(r.user, sizeof r.user, "alice");
    snprintf(r.sid, sizeof r.sid, "20261124T211144-4242-beef");
    if (type == L3_RECORD_SESSION) {
        r.start_us = 1795900000123456LL;
        r.uid = 1000;
        r.pid = 4242;
        r.cols = 80;
        r.rows = 24;
        snprintf(r.tty, sizeof r.tty, "/dev/pts/3");
        snprintf(r.shell, sizeof r.shell, "/bin/bash");
    } else if (type == L3_RECORD_COMMAND) {
        r.nr = seq;
        r.start_us = 1795900001000000LL;
        r.end_us = 1795900002500000LL;
        l3_bytes_set(&r.cwd, "/home/alice/lab", 15, L3_CWD_MAX);
        l3_bytes_set(&r.cmdline, cmd, strlen(cmd), L3_CMDLINE_MAX);
        /* Output padding so a typical record is ~300 bytes on the wire. */
        static const char output[] =
            "total 12\r\ndrwxr-xr-x 2 alice alice 4096 Nov 24 21:11 notes\r\n"
            "-rw-r--r-- 1 alice alice  220 Nov 24 21:11 .bash_logout\r\n"
            "-rw-r--r-- 1 alice alice 3526 Nov 24 21:11 .bashrc\r\n";
        l3_bytes_set(&r.output, output, sizeof output - 1, L3_OUTPUT_MAX);
        l3_bytes_set(&r.timing, "0.001 60\n0.002 120\n", 19, L3_TIMING_MAX);
        r.has_exit = true;
        r.exit_code = 0;
    } else {
        r.end_us = 1795900003000000LL;
        r.has_exit = true;
        r.exit_code = 0;
    }
    l3_buf_reset(out);
    l3_msg_encode_record(&r, out);
    l3_record_clear(&r);
}

bool bt_agent_send(bt_agent_t *self, const l3_buf_t *msg)
{
    return zsock_send(self->push, "b", msg->data, msg->len) == 0;
}

bool bt_agent_recv_ack(bt_agent_t *self, l3_msg_t *ack, int timeout_ms)
{
    zsock_set_rcvtimeo(self->sub, timeout_ms);
    zmsg_t *msg = zmsg_recv(self->sub);
    if (!msg)
        return false;
    bool ok = false;
    if (zmsg_size(msg) == 2) {
        zframe_t *f = zmsg_last(msg);
        char err[128];
        ok = l3_msg_decode(zframe_data(f), zframe_size(f), ack, err, sizeof err);
    }
    zmsg_destroy(&msg);
    return ok;
}
