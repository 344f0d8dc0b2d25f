/*  test_journal_access — render/access in-process: the peer-credential parsing table,
    the binds it refuses, the socket directory it makes, and a connection from our own
    account going through its ZAP handler. Refusals of other accounts need real accounts:
    tests/journal/access_accounts.sh. */
#include "access.h"
#include "l3_config.h"
#include "l3_log.h"
#include "l3_test.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

static char s_tmp[] = "/tmp/l3-test-access.XXXXXX";

static l3_config_t *s_config(const char *body)
{
    char path[256];
    snprintf(path, sizeof path, "%s/lilalo.cfg", s_tmp);
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    fprintf(f, "render\n%s", body);
    fclose(f);
    return l3_config_load(path);
}

/* The ZAP address table: "...:UID:GID:PID" with nothing colon-like before it. */
static void s_test_addresses(void *ctx)
{
    struct passwd *daemon_pw = getpwnam("daemon");
    char cfgtext[256];
    snprintf(cfgtext, sizeof cfgtext, "    web_users = \"no-such-account-l3, %s\"\n",
             daemon_pw ? daemon_pw->pw_name : "root");
    l3_config_t *cfg = s_config(cfgtext);
    CHECK(cfg);
    access_t *acc = access_new(cfg, ctx);
    CHECK(acc);
    if (!acc) {
        l3_config_destroy(&cfg);
        return;
    }
    char daemon_addr[64], mine[64];
    snprintf(daemon_addr, sizeof daemon_addr, "localhost:%u:%u:77",
             daemon_pw ? (unsigned)daemon_pw->pw_uid : 0u, 1u);
    snprintf(mine, sizeof mine, "localhost:%u:0:42", (unsigned)geteuid());
    struct {
        const char *address;
        bool allowed;
        bool parses;
    } cases[] = {
        {"localhost:0:0:1", true, true},
        {mine, true, true},
        {daemon_addr, true, true},
        {":0:0:1", true, true},
        {"localhost:65534:65534:5", geteuid() == 65534, true},
        {"localhost:4294967295:0:1", false, false}, /* (uid_t)-1 */
        {"localhost:99999999999:0:1", false, false},
        {"localhost:0:0:", false, false},
        {"localhost:0::1", false, false},
        {"localhost:x0:0:1", false, false},
        {"localhost:0:0:1 ", false, false},
        {"127.0.0.1", false, false},
        {"::1", false, false},
        {"fe80::1:0:0:1", false, false}, /* an IPv6 address is never credentials */
        {"a:b:0:0:1", false, false},
        {"", false, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uid_t uid = (uid_t)-1;
        pid_t pid = -1;
        bool ok = access_allows(acc, cases[i].address, &uid, &pid);
        CHECK_MSG(ok == cases[i].allowed, "'%s': %d", cases[i].address, ok);
        CHECK_MSG((uid != (uid_t)-1) == cases[i].parses, "'%s' parses: uid %d",
                  cases[i].address, (int)uid);
    }
    uid_t uid;
    pid_t pid;
    CHECK(!access_allows(acc, NULL, &uid, &pid));
    CHECK(access_allows(acc, "localhost:0:0:31337", &uid, &pid) && uid == 0 && pid == 31337);

    /* One ZAP handler per context: a second one is refused, cleanly. */
    access_t *second = access_new(cfg, ctx);
    CHECK(second == NULL);
    access_destroy(&acc);
    CHECK(acc == NULL);
    access_destroy(&acc);
    access_destroy(NULL);
    l3_config_destroy(&cfg);
}

/* access_bind on endpoint with the given config: true when it bound. */
static bool s_binds(void *ctx, const char *cfgtext, const char *endpoint)
{
    l3_config_t *cfg = s_config(cfgtext);
    access_t *acc = access_new(cfg, ctx);
    void *sock = zmq_socket(ctx, ZMQ_REP);
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    bool ok = acc && access_bind(acc, sock, endpoint);
    zmq_close(sock);
    access_destroy(&acc);
    l3_config_destroy(&cfg);
    return ok;
}

static void s_test_binds(void *ctx)
{
    char ep[512], dir[256];
    CHECK(!s_binds(ctx, "", "tcp://127.0.0.1:0"));
    CHECK(!s_binds(ctx, "    insecure_tcp = 1\n", "tcp://0.0.0.0:0"));
    CHECK(!s_binds(ctx, "    insecure_tcp = 1\n", "tcp://*:0"));
    CHECK(s_binds(ctx, "    insecure_tcp = 1\n", "tcp://127.0.0.1:0"));
    CHECK(!s_binds(ctx, "    insecure_tcp = 1\n", "inproc://render"));
    CHECK(!s_binds(ctx, "", "ipc://relative/render.sock"));
    CHECK(!s_binds(ctx, "", "ipc:///render.sock"));
    CHECK(!s_binds(ctx, "", "ipc:///tmp/render.sock")); /* /tmp: anyone takes the name */

    /* A directory anyone (or the group) may write to: refused. */
    snprintf(dir, sizeof dir, "%s/open", s_tmp);
    CHECK(mkdir(dir, 0700) == 0 && chmod(dir, 0777) == 0);
    snprintf(ep, sizeof ep, "ipc://%s/render.sock", dir);
    CHECK(!s_binds(ctx, "", ep));
    CHECK(chmod(dir, 0770) == 0);
    CHECK(!s_binds(ctx, "", ep));
    /* ... below such a directory too, unless it is sticky. */
    snprintf(ep, sizeof ep, "ipc://%s/sub/render.sock", dir);
    CHECK(!s_binds(ctx, "", ep));
    CHECK(chmod(dir, 01777) == 0);
    CHECK(s_binds(ctx, "", ep));
    CHECK(chmod(dir, 0755) == 0);
    /* The socket's directory, reachable by all but writable by us only: allowed (with a
       warning). */
    CHECK(chmod(dir, 0755) == 0);
    snprintf(ep, sizeof ep, "ipc://%s/render.sock", dir);
    CHECK(s_binds(ctx, "", ep));

    /* A symbolic link as the directory: refused. */
    char link[300];
    snprintf(link, sizeof link, "%s/link", s_tmp);
    CHECK(symlink(dir, link) == 0);
    snprintf(ep, sizeof ep, "ipc://%s/render.sock", link);
    CHECK(!s_binds(ctx, "", ep));

    /* Someone else's directory: refused (root can make one to try). */
    if (geteuid() == 0) {
        snprintf(dir, sizeof dir, "%s/theirs", s_tmp);
        CHECK(mkdir(dir, 0755) == 0 && chown(dir, 65534, 65534) == 0);
        snprintf(ep, sizeof ep, "ipc://%s/render.sock", dir);
        CHECK(!s_binds(ctx, "", ep));
    }

    /* Too long for a socket address. */
    char longep[300] = "ipc://";
    memset(longep + 6, 'a', 200);
    longep[6] = '/';
    longep[206] = 0;
    CHECK(!s_binds(ctx, "", longep));
}

/* The directory render makes, the socket's mode, and our own account let through. */
static void s_test_serve(void *ctx)
{
    char dir[256], ep[300], sock_path[280];
    snprintf(dir, sizeof dir, "%s/run/render", s_tmp);
    snprintf(sock_path, sizeof sock_path, "%s/render.sock", dir);
    snprintf(ep, sizeof ep, "ipc://%s", sock_path);
    mode_t old = umask(077); /* render's umask must not decide the directory's mode */
    l3_config_t *cfg = s_config("    web_users = \"\"\n    web_group = \"no-such-group-l3\"\n");
    access_t *acc = access_new(cfg, ctx);
    CHECK(acc);
    void *rep = zmq_socket(ctx, ZMQ_REP);
    int linger = 0, timeout = 5000;
    zmq_setsockopt(rep, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(rep, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    CHECK(acc && access_bind(acc, rep, ep));
    umask(old);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 07777) == 0750);
    CHECK_MSG(stat(sock_path, &st) == 0 && (st.st_mode & 0777) == 0660, "socket mode %o",
              (unsigned)(st.st_mode & 0777));

    /* Our own uid is always allowed; the reply proves the handshake went through ZAP
       (User-Id is the uid the handler put there). */
    void *req = zmq_socket(ctx, ZMQ_REQ);
    zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(req, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    CHECK(zmq_connect(req, ep) == 0);
    CHECK(zmq_send(req, "ping", 4, 0) == 4);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    CHECK(zmq_msg_recv(&msg, rep, 0) == 4);
    const char *user = zmq_msg_gets(&msg, "User-Id");
    char want[16];
    snprintf(want, sizeof want, "%u", (unsigned)geteuid());
    CHECK_MSG(user && strcmp(user, want) == 0, "User-Id '%s'", user ? user : "(none)");
    zmq_msg_close(&msg);
    CHECK(zmq_send(rep, "pong", 4, 0) == 4);
    char buf[8];
    CHECK(zmq_recv(req, buf, sizeof buf, 0) == 4);
    zmq_close(req);
    zmq_close(rep);
    access_destroy(&acc);
    /* A second start finds the directory it made and takes it as it is. */
    acc = access_new(cfg, ctx);
    rep = zmq_socket(ctx, ZMQ_REP);
    zmq_setsockopt(rep, ZMQ_LINGER, &linger, sizeof linger);
    CHECK(acc && access_bind(acc, rep, ep));
    zmq_close(rep);
    access_destroy(&acc);
    l3_config_destroy(&cfg);
}

/* The context may be terminated while the handler runs (render's cleanup order may
   change): the handler ends on ETERM, and access_destroy after that still works. */
static void s_test_term_first(void)
{
    void *ctx = zmq_ctx_new();
    l3_config_t *cfg = s_config("");
    access_t *acc = access_new(cfg, ctx);
    CHECK(acc);
    CHECK(zmq_ctx_term(ctx) == 0);
    access_destroy(&acc);
    CHECK(acc == NULL);
    l3_config_destroy(&cfg);
}

int main(void)
{
    l3_log_init("test_journal_access", false, L3_LOG_ERROR);
    if (!mkdtemp(s_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    void *ctx = zmq_ctx_new();
    s_test_addresses(ctx);
    s_test_binds(ctx);
    s_test_serve(ctx);
    zmq_ctx_term(ctx);
    s_test_term_first();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_tmp);
    CHECK(system(cmd) == 0);
    TEST_DONE();
}
