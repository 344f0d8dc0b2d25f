/*  The programs' command lines: --help of l3-broker, l3-tap and l3-keygen; bad options;
    l3-broker --daemon writes its pidfile, a second one on the same pidfile refuses to
    start, SIGTERM stops the daemon and removes the pidfile; a missing server key is
    created, a missing allowed_keys directory is a clear error. */
#include "broker_testlib.h"
#include "l3_test.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

static int s_run(const char *out, char *const argv[])
{
    return bt_wait_exit(bt_spawn(argv, out, out), 10000);
}

int main(void)
{
    char dir[256] = "", out[300], pidfile[300], bin[512], tap[512], keygen[512], cfg[300];
    bt_writer_t *writer = NULL;
    pid_t daemon_pid = 0;
    CHECK(bt_tempdir(dir, sizeof dir));
    bt_bin("l3-broker", bin, sizeof bin);
    bt_bin("l3-tap", tap, sizeof tap);
    bt_bin("l3-keygen", keygen, sizeof keygen);
    snprintf(out, sizeof out, "%s/out", dir);

    char *help1[] = {bin, "--help", NULL};
    CHECK(s_run(out, help1) == 0 && bt_file_count(out, "Usage: l3-broker") == 1);
    char *help2[] = {tap, "--help", NULL};
    CHECK(s_run(out, help2) == 0 && bt_file_count(out, "Usage: l3-tap") == 1);
    char *help3[] = {keygen, "--help", NULL};
    CHECK(s_run(out, help3) == 0 && bt_file_count(out, "Usage: l3-keygen") == 1);
    char *bad1[] = {bin, "--bogus", NULL};
    CHECK(s_run(out, bad1) == 2);
    char *bad2[] = {tap, "--type", "command,bogus", NULL};
    CHECK(s_run(out, bad2) == 2 && bt_file_count(out, "unknown type 'bogus'") == 1);
    char *bad3[] = {keygen, NULL};
    CHECK(s_run(out, bad3) == 2);
    char *bad4[] = {bin, "-c", "/nonexistent/lilalo.cfg", NULL};
    CHECK(s_run(out, bad4) == 1);

    /* --daemon with a pidfile. */
    writer = bt_writer_new();
    if (!writer)
        goto cleanup;
    snprintf(pidfile, sizeof pidfile, "%s/broker.pid", dir);
    snprintf(cfg, sizeof cfg, "%s/broker.cfg", dir);
    FILE *f = fopen(cfg, "w");
    if (!f)
        goto cleanup;
    fprintf(f,
            "broker\n    curve = 0\n    backend_port = %d\n    ack_port = %d\n"
            "    capture_port = %d\n    backend_pidfile = %s\n"
            "    writer_endpoint = tcp://127.0.0.1:%d\n"
            "    writer_ack_endpoint = tcp://127.0.0.1:%d\n",
            bt_free_port(), bt_free_port(), bt_free_port(), pidfile, writer->port,
            writer->ack_port);
    fclose(f);
    char log[300];
    snprintf(log, sizeof log, "%s/daemon.log", dir);
    char *daemon_argv[] = {bin, "-c", cfg, "--daemon", NULL};
    CHECK(s_run(log, daemon_argv) == 0); /* the parent returns at once */
    CHECK(bt_wait_file_count(log, "ready:", 1, 10000));
    char *text = bt_file_read(pidfile);
    daemon_pid = text ? (pid_t) atoi(text) : 0;
    free(text);
    CHECK(daemon_pid > 1 && kill(daemon_pid, 0) == 0);
    /* A second one on the same pidfile refuses. */
    char log2[300];
    snprintf(log2, sizeof log2, "%s/second.log", dir);
    CHECK(s_run(log2, daemon_argv) == 1);
    CHECK(bt_file_count(log2, "already running") == 1);
    /* SIGTERM: clean exit, pidfile gone. */
    if (daemon_pid > 1)
        kill(daemon_pid, SIGTERM);
    CHECK(bt_wait_file_count(log, "stopping:", 1, 10000));
    int64_t deadline = zclock_mono() + 5000;
    while (access(pidfile, F_OK) == 0 && zclock_mono() < deadline)
        zclock_sleep(20);
    CHECK(access(pidfile, F_OK) != 0);
    deadline = zclock_mono() + 5000;
    while (daemon_pid > 1 && kill(daemon_pid, 0) == 0 && zclock_mono() < deadline)
        zclock_sleep(20);
    CHECK(daemon_pid > 1 && kill(daemon_pid, 0) != 0);
    daemon_pid = 0;

    /* CURVE: the server key is created when missing; no allowed_keys dir is an error. */
    f = fopen(cfg, "w");
    if (!f)
        goto cleanup;
    fprintf(f,
            "broker\n    backend_port = %d\n    ack_port = %d\n    capture_port = 0\n"
            "    server_cert = %s/new/broker.key\n    allowed_keys = %s/missing\n",
            bt_free_port(), bt_free_port(), dir, dir);
    fclose(f);
    char sub[300];
    snprintf(sub, sizeof sub, "%s/new", dir);
    CHECK(mkdir(sub, 0700) == 0);
    char log3[300];
    snprintf(log3, sizeof log3, "%s/curve.log", dir);
    char *curve_argv[] = {bin, "-c", cfg, NULL};
    CHECK(s_run(log3, curve_argv) == 1);
    CHECK(bt_file_count(log3, "created a new CURVE key pair") == 1);
    CHECK(bt_file_count(log3, "missing") >= 1);
    snprintf(sub, sizeof sub, "%s/new/broker.pub", dir);
    CHECK(access(sub, F_OK) == 0);

cleanup:
    if (daemon_pid > 1)
        kill(daemon_pid, SIGKILL);
    bt_writer_destroy(&writer);
    bt_rmtree(dir);
    TEST_DONE();
}
