/*  test_writer_lock — (e) exactly one writer per datafile: a second l3-writer on the same
    datafile (foreground or --daemon) exits non-zero naming the datafile and the holder's
    pid; --daemon writes the pidfile (writer/backend_pidfile), a stale pidfile is detected
    and replaced, a live one refused. */
#include "../l3_test.h"
#include "l3_time.h"
#include "wtest.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The pid written in a pidfile, 0 when absent or unreadable. */
static pid_t s_read_pid(const char *path)
{
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return (pid_t)pid;
}

int main(void)
{
    wt_t t;
    if (!wt_setup(&t, "lock", NULL)) {
        wt_teardown(&t);
        return 1;
    }
    CHECK(wt_start(&t));
    pid_t first = t.pid;
    char expect[700];
    snprintf(expect, sizeof expect, "datafile %s is locked by another writer (pid %d)",
             t.datafile, (int)first);

    /* A second writer, other ports, same datafile: refused, foreground and --daemon. */
    const char *fg[] = {"--bind", "tcp://127.0.0.1:1", "--ack-bind", "tcp://127.0.0.1:2", NULL};
    pid_t second = wt_spawn(&t, fg);
    int rc = wt_wait_exit(second, 10000);
    CHECK_MSG(rc == 1, "second writer exit status %d", rc);
    CHECK_MSG(wt_log_has(&t, expect), "no line \"%s\" in %s", expect, t.log);
    char other_pidfile[600];
    snprintf(other_pidfile, sizeof other_pidfile, "%s/other.pid", t.dir);
    const char *bg[] = {"--daemon", "--pidfile", other_pidfile, "--bind", "tcp://127.0.0.1:1",
                        NULL};
    second = wt_spawn(&t, bg);
    rc = wt_wait_exit(second, 10000);
    CHECK_MSG(rc == 1, "second --daemon writer exit status %d", rc);
    CHECK(access(other_pidfile, F_OK) != 0);
    /* The first one is unharmed. */
    CHECK(kill(first, 0) == 0);
    CHECK(s_read_pid(t.pidfile) == first);
    CHECK(wt_stop(&t, SIGTERM) == 0);
    CHECK_MSG(access(t.pidfile, F_OK) != 0, "pidfile left behind after a clean stop");

    /* A stale pidfile: the pid of a process that is gone. */
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    CHECK(wt_wait_exit(dead, 5000) == 0);
    FILE *f = fopen(t.pidfile, "w");
    CHECK(f != NULL);
    if (f) {
        fprintf(f, "%d\n", (int)dead);
        fclose(f);
    }
    const char *daemon_args[] = {"--daemon", NULL};
    pid_t launcher = wt_spawn(&t, daemon_args);
    CHECK_MSG(wt_wait_exit(launcher, 10000) == 0, "--daemon launcher did not exit 0");
    /* The detached writer replaces the pidfile with its own live pid, then comes up and
       publishes "$commit" (heartbeats of the previous writer may still be queued on our
       SUB socket, so the pidfile is what tells the new one apart). */
    pid_t daemon_pid = 0;
    int64_t deadline = l3_time_mono_us() + 15 * 1000000LL;
    while (l3_time_mono_us() < deadline) {
        daemon_pid = s_read_pid(t.pidfile);
        if (daemon_pid > 0 && daemon_pid != dead && kill(daemon_pid, 0) == 0)
            break;
        wt_pump(&t, 20);
    }
    CHECK_MSG(daemon_pid > 0 && daemon_pid != dead && kill(daemon_pid, 0) == 0,
              "pidfile holds %d", (int)daemon_pid);
    char ready[64];
    snprintf(ready, sizeof ready, "[%d] info: ready", (int)daemon_pid);
    CHECK_MSG(wt_wait_log(&t, ready, 15000), "daemonized writer did not come up");
    CHECK(wt_log_has(&t, "stale"));
    /* It serves: a record is acked (resent like an agent would until our subscription
       to the new writer is up). */
    l3_record_t r;
    wt_record(&r, L3_RECORD_SESSION, "daemon-agent", 1, 1);
    bool acked = false;
    for (int i = 0; i < 20 && !acked; i++) {
        CHECK(wt_send(&t, "daemon-agent", &r));
        acked = wt_wait_ack(&t, "daemon-agent", 1, 1, 500);
    }
    l3_record_clear(&r);
    CHECK_MSG(acked, "the daemonized writer did not ack");

    /* A live pidfile: another daemon on another datafile but the same pidfile refuses. */
    char other_data[600];
    snprintf(other_data, sizeof other_data, "%s/other.xml", t.dir);
    const char *same_pid[] = {"--daemon", "--datafile", other_data, "--bind",
                              "tcp://127.0.0.1:1", NULL};
    launcher = wt_spawn(&t, same_pid);
    rc = wt_wait_exit(launcher, 10000);
    CHECK_MSG(rc == 1, "second daemon with a live pidfile: exit status %d", rc);
    CHECK(wt_log_has(&t, "already running"));
    CHECK(s_read_pid(t.pidfile) == daemon_pid);

    /* Stop the daemon we started, by its pid, and wait for it to go. */
    if (daemon_pid > 0) {
        kill(daemon_pid, SIGTERM);
        deadline = l3_time_mono_us() + 10 * 1000000LL;
        while (kill(daemon_pid, 0) == 0 && l3_time_mono_us() < deadline)
            wt_pump(&t, 20);
        CHECK_MSG(kill(daemon_pid, 0) != 0, "daemon %d still running", (int)daemon_pid);
        if (kill(daemon_pid, 0) == 0)
            kill(daemon_pid, SIGKILL);
    }
    deadline = l3_time_mono_us() + 5 * 1000000LL;
    while (access(t.pidfile, F_OK) == 0 && l3_time_mono_us() < deadline)
        wt_pump(&t, 20);
    CHECK(access(t.pidfile, F_OK) != 0);
    CHECK(wt_schema_valid(t.datafile));
    wt_teardown(&t);
    TEST_DONE();
}
