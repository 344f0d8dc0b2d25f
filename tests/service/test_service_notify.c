/*  test_service_notify — the daemons talk to systemd as the units expect (Type=notify,
    WatchdogSec=), seen from the service manager's side.

    PID 1 here is not systemd, so the test plays its part: for each daemon it binds a
    real AF_UNIX datagram socket, starts the real program with NOTIFY_SOCKET naming it
    and WATCHDOG_USEC set, and reads what arrives (with SO_PASSCRED, so every message is
    checked to come from the daemon's own pid, as NotifyAccess=main would). The chain is
    the real one: l3-writer, l3-broker feeding it, l3-render reading its datafile and
    commits, l3-agent sending to the broker. For each:

      READY=1 arrives, and at that moment its socket already accepts connections
        (writer's PULL port, broker's agent port, render's ipc socket; the agent's outbox
        is open);
      WATCHDOG=1 keeps arriving, never more than WATCHDOG_USEC apart (systemd would
        kill it otherwise);
      on SIGTERM, STOPPING=1 arrives and the process exits 0.

    Everything waits on the socket (poll with a deadline), never on a sleep. Built only
    with libsystemd (without it the daemons do not notify, by design). */
#include "broker_testlib.h"
#include "l3_test.h"
#include "l3_time.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define WATCHDOG_MS 1000 /* WATCHDOG_USEC given to the daemons: pings every 500 ms */
#define PINGS 4          /* pings each daemon must send in a row */

/* One daemon under test, with the notify socket it reports to and what came in on it.
   Every started daemon's socket is read all the time (s_pump), so the times are when
   the messages were sent, give or take the poll, and no sender ever finds a full
   queue (a datagram socket holds ~10 messages; sd_notify would then block). */
typedef struct {
    const char *name;
    pid_t pid;
    int fd; /* our end: the NOTIFY_SOCKET it was given */
    char path[512];
    char log[512];
    bool ready, stopping;
    int pings;          /* WATCHDOG=1 since READY=1 */
    int64_t last_ping;  /* monotonic µs */
    int64_t worst_gap;  /* µs, the longest time between two pings */
    int foreign;        /* messages from another pid than the daemon's */
} s_daemon_t;

#define DAEMONS_MAX 4
static s_daemon_t *s_all[DAEMONS_MAX];
static int s_count = 0;

/* True when one line of the message is exactly line. */
static bool s_has_line(const char *msg, const char *line)
{
    size_t len = strlen(line);
    for (const char *p = msg; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, line, len) && (p[len] == '\n' || p[len] == 0))
            return true;
    return false;
}

/* Read one notify message of d and note what it says. */
static void s_read(s_daemon_t *d)
{
    char buf[4096];
    char control[CMSG_SPACE(sizeof(struct ucred))];
    struct iovec iov = {buf, sizeof buf - 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof control};
    ssize_t n = recvmsg(d->fd, &msg, MSG_DONTWAIT);
    if (n < 0)
        return;
    buf[n] = 0;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    struct ucred cred = {0};
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
        memcpy(&cred, CMSG_DATA(c), sizeof cred);
    if (cred.pid != d->pid) {
        fprintf(stderr, "%s: '%s' came from pid %d, not the daemon's %d\n", d->name, buf,
                (int) cred.pid, (int) d->pid);
        d->foreign++;
    }
    int64_t now = l3_time_mono_us();
    if (s_has_line(buf, "READY=1"))
        d->ready = true;
    if (s_has_line(buf, "STOPPING=1"))
        d->stopping = true;
    if (s_has_line(buf, "WATCHDOG=1") && d->ready && !d->stopping) {
        if (d->pings && now - d->last_ping > d->worst_gap)
            d->worst_gap = now - d->last_ping;
        d->pings++;
        d->last_ping = now;
    }
}

/* Print the daemon's log (after a failed check). */
static void s_show_log(s_daemon_t *d)
{
    char *text = bt_file_read(d->log);
    fprintf(stderr, "--- %s's log:\n%s\n", d->name, text ? text : "(none)");
    free(text);
}

/* Read every started daemon's messages until done(d, arg) holds or timeout_ms passes. */
static bool s_pump_until(s_daemon_t *d, bool (*done)(s_daemon_t *), int timeout_ms)
{
    int64_t deadline = l3_time_mono_us() + (int64_t) timeout_ms * 1000;
    while (!done(d)) {
        int64_t left = deadline - l3_time_mono_us();
        if (left <= 0)
            return false;
        struct pollfd p[DAEMONS_MAX];
        for (int i = 0; i < s_count; i++)
            p[i] = (struct pollfd){s_all[i]->fd, POLLIN, 0};
        if (poll(p, (nfds_t) s_count, (int) (left / 1000) + 1) < 0 && errno != EINTR)
            return false;
        for (int i = 0; i < s_count; i++)
            if (p[i].revents & POLLIN)
                s_read(s_all[i]);
    }
    return true;
}

/* Ready, or gone (reaped here: then there is nothing to stop). */
static bool s_is_ready(s_daemon_t *d)
{
    if (!d->ready && !bt_alive(d->pid)) {
        fprintf(stderr, "%s exited before READY=1\n", d->name);
        s_show_log(d);
        d->pid = 0;
        return true;
    }
    return d->ready;
}

static bool s_is_stopping(s_daemon_t *d)
{
    return d->stopping;
}

static bool s_pinged_enough(s_daemon_t *d)
{
    (void) d;
    for (int i = 0; i < s_count; i++)
        if (s_all[i]->pings < PINGS)
            return false;
    return true;
}

/* Bind d's notify socket in dir and start argv with it; its stderr goes to dir/NAME.log. */
static bool s_start(s_daemon_t *d, const char *dir, const char *name, char *const argv[])
{
    memset(d, 0, sizeof *d);
    d->name = name;
    snprintf(d->path, sizeof d->path, "%s/%s.notify", dir, name);
    snprintf(d->log, sizeof d->log, "%s/%s.log", dir, name);
    d->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(d->path) >= sizeof sa.sun_path)
        return false;
    memcpy(sa.sun_path, d->path, strlen(d->path) + 1);
    int on = 1;
    if (d->fd < 0 || bind(d->fd, (struct sockaddr *) &sa, sizeof sa) != 0 ||
        setsockopt(d->fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0) {
        fprintf(stderr, "%s: notify socket %s: %s\n", name, d->path, strerror(errno));
        return false;
    }
    s_all[s_count++] = d;
    char usec[32];
    snprintf(usec, sizeof usec, "%d", WATCHDOG_MS * 1000);
    setenv("NOTIFY_SOCKET", d->path, 1);
    setenv("WATCHDOG_USEC", usec, 1);
    unsetenv("WATCHDOG_PID");
    d->pid = bt_spawn(argv, NULL, d->log);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    return d->pid > 0;
}

/* READY=1 within 30 s, and ready_check true at that moment. */
static bool s_ready(s_daemon_t *d, bool (*ready_check)(const void *), const void *arg)
{
    bool ready = s_pump_until(d, s_is_ready, 30000) && d->ready;
    CHECK_MSG(ready, "%s: no READY=1", d->name);
    if (!ready)
        return false;
    bool serving = ready_check(arg);
    CHECK_MSG(serving, "%s: READY=1 came before it could serve", d->name);
    printf("%s: READY=1, and it serves\n", d->name);
    return serving;
}

/* Every daemon sends PINGS watchdog pings, each less than WATCHDOG_MS after the one
   before (past that, systemd would kill it). */
static void s_watchdog(void)
{
    bool all = s_pump_until(NULL, s_pinged_enough, PINGS * WATCHDOG_MS + 2000);
    for (int i = 0; i < s_count; i++) {
        s_daemon_t *d = s_all[i];
        CHECK_MSG(d->pings >= PINGS, "%s: %d WATCHDOG=1 pings, want %d", d->name, d->pings,
                  PINGS);
        CHECK_MSG(d->worst_gap < WATCHDOG_MS * 1000,
                  "%s: %lld ms between two pings, more than WATCHDOG_USEC", d->name,
                  (long long) (d->worst_gap / 1000));
        printf("%s: %d WATCHDOG=1 pings, at most %lld ms apart (WATCHDOG_USEC %d ms)\n",
               d->name, d->pings, (long long) (d->worst_gap / 1000), WATCHDOG_MS);
    }
    (void) all;
}

/* SIGTERM: STOPPING=1, then exit status 0. */
static void s_stop(s_daemon_t *d)
{
    if (d->pid <= 0)
        return;
    kill(d->pid, SIGTERM);
    bool stopping = s_pump_until(d, s_is_stopping, 10000);
    CHECK_MSG(stopping, "%s: no STOPPING=1 after SIGTERM", d->name);
    int status = bt_wait_exit(d->pid, 10000);
    if (status < 0)
        status = bt_stop(d->pid, 1000);
    CHECK_MSG(status == 0, "%s: exit status %d after SIGTERM", d->name, status);
    CHECK_MSG(d->foreign == 0, "%s: %d notify messages from another pid", d->name, d->foreign);
    if (stopping && status == 0)
        printf("%s: STOPPING=1, exit 0\n", d->name);
    else
        s_show_log(d);
    d->pid = 0;
}

static bool s_tcp_accepts(const void *arg)
{
    int port = *(const int *) arg;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static bool s_ipc_accepts(const void *arg)
{
    const char *path = arg;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* The agent has no listening socket: it is ready when its outbox is open (locked). */
static bool s_outbox_open(const void *arg)
{
    char lock[600];
    snprintf(lock, sizeof lock, "%s/lock", (const char *) arg);
    return access(lock, F_OK) == 0;
}

int main(void)
{
    char dir[256];
    CHECK(bt_tempdir(dir, sizeof dir));
    int wport = bt_free_port(), aport = bt_free_port(), bport = bt_free_port(),
        backport = bt_free_port();
    CHECK(wport > 0 && aport > 0 && bport > 0 && backport > 0);
    char cfg[512], data[512], sock[512], spool[512], outbox[512], state[512];
    snprintf(cfg, sizeof cfg, "%s/lilalo.cfg", dir);
    snprintf(data, sizeof data, "%s/datafile.xml", dir);
    snprintf(sock, sizeof sock, "%s/run/render.sock", dir);
    snprintf(spool, sizeof spool, "%s/spool", dir);
    snprintf(outbox, sizeof outbox, "%s/outbox", dir);
    snprintf(state, sizeof state, "%s/state", dir);
    CHECK(mkdir(spool, 0700) == 0);
    FILE *f = fopen(cfg, "w");
    CHECK(f != NULL);
    if (!f)
        return 1;
    fprintf(f,
            "writer\n    backend_datafile = \"%s\"\n    bind = \"tcp://127.0.0.1:%d\"\n"
            "    ack_bind = \"tcp://127.0.0.1:%d\"\n"
            "broker\n    curve = 0\n    backend_address = 127.0.0.1\n    backend_port = %d\n"
            "    ack_port = %d\n    capture_port = 0\n"
            "    writer_endpoint = \"tcp://127.0.0.1:%d\"\n"
            "    writer_ack_endpoint = \"tcp://127.0.0.1:%d\"\n"
            "render\n    datafile = \"%s\"\n    bind = \"ipc://%s\"\n"
            "    commits = \"tcp://127.0.0.1:%d\"\n    whatis = 0\n"
            "agent\n    spool = \"%s\"\n    state = \"%s\"\n    outbox = \"%s\"\n"
            "    curve = 0\n    id = \"service-test\"\n    brokers = \"tcp://127.0.0.1:%d\"\n"
            "    acks = \"tcp://127.0.0.1:%d\"\n",
            data, wport, aport, bport, backport, wport, aport, data, sock, aport, spool, state,
            outbox, bport, backport);
    fclose(f);

    char writer_bin[512], broker_bin[512], render_bin[512], agent_bin[512];
    bt_bin("l3-writer", writer_bin, sizeof writer_bin);
    bt_bin("l3-broker", broker_bin, sizeof broker_bin);
    bt_bin("l3-render", render_bin, sizeof render_bin);
    bt_bin("l3-agent", agent_bin, sizeof agent_bin);
    char *writer_argv[] = {writer_bin, "-c", cfg, NULL};
    char *broker_argv[] = {broker_bin, "-c", cfg, NULL};
    char *render_argv[] = {render_bin, "-c", cfg, NULL};
    char *agent_argv[] = {agent_bin, "-c", cfg, NULL};

    s_daemon_t writer = {0}, broker = {0}, render = {0}, agent = {0};
    if (s_start(&writer, dir, "l3-writer", writer_argv) && s_ready(&writer, s_tcp_accepts, &wport)
        && s_start(&broker, dir, "l3-broker", broker_argv)
        && s_ready(&broker, s_tcp_accepts, &bport)
        && s_start(&render, dir, "l3-render", render_argv) && s_ready(&render, s_ipc_accepts, sock)
        && s_start(&agent, dir, "l3-agent", agent_argv) && s_ready(&agent, s_outbox_open, outbox))
        s_watchdog();
    //  Reverse order, each on its own: the others keep running meanwhile.
    s_daemon_t *all[] = {&agent, &render, &broker, &writer};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (l3_test_failures && all[i]->pid > 0)
            s_show_log(all[i]);
        s_stop(all[i]);
    }
    for (int i = 0; i < s_count; i++)
        close(s_all[i]->fd);
    bt_rmtree(dir);
    TEST_DONE();
}
