/*  l3_daemon — pidfile, detaching and signals for every l3 daemon. See l3_daemon.h. */
#include "l3_daemon.h"
#include "l3_log.h"
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

volatile sig_atomic_t l3_daemon_hup = 0;
static char *s_pidfile = NULL;
static pid_t s_pidfile_owner = 0;

//  True when process pid runs the program named progname (basename of /proc/PID/exe;
//  " (deleted)" tolerated after an upgrade). The 2005 system only did kill(pid, 0), which
//  calls a pidfile live when an unrelated process reused the number after a reboot.
static bool s_pid_runs(pid_t pid, const char *progname)
{
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return false;
    if (!progname)
        return true;
    char link[64], exe[4096];
    snprintf(link, sizeof(link), "/proc/%d/exe", (int) pid);
    ssize_t n = readlink(link, exe, sizeof(exe) - 1);
    if (n < 0)
        return true; // cannot tell (no /proc, other user's process): assume live, refuse
    exe[n] = 0;
    char *deleted = strstr(exe, " (deleted)");
    if (deleted)
        *deleted = 0;
    const char *base = strrchr(exe, '/');
    base = base ? base + 1 : exe;
    const char *want = strrchr(progname, '/');
    want = want ? want + 1 : progname;
    return strcmp(base, want) == 0;
}

pid_t l3_pidfile_running(const char *path, const char *progname)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    long pid = 0;
    int got = fscanf(f, "%ld", &pid);
    fclose(f);
    if (got != 1 || pid <= 0 || pid > INT32_MAX)
        return 0; // garbage is stale
    if (pid == getpid())
        return 0;
    return s_pid_runs((pid_t) pid, progname) ? (pid_t) pid : 0;
}

bool l3_pidfile_write(const char *path, const char *progname)
{
    pid_t running = l3_pidfile_running(path, progname);
    if (running > 0) {
        l3_error("pidfile %s: %s is already running as pid %d", path, progname, (int) running);
        return false;
    }
    if (running < 0) {
        l3_error("pidfile %s: cannot read: %s", path, strerror(errno));
        return false;
    }
    if (access(path, F_OK) == 0)
        l3_warn("pidfile %s: stale (its process is gone); replacing it", path);
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int) getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        l3_error("pidfile %s: %s", tmp, strerror(errno));
        return false;
    }
    char text[32];
    int len = snprintf(text, sizeof(text), "%d\n", (int) getpid());
    bool ok = write(fd, text, (size_t) len) == len;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        l3_error("pidfile %s: %s", path, strerror(errno));
        unlink(tmp);
        return false;
    }
    return true;
}

void l3_pidfile_remove(const char *path)
{
    //  Only our own: a second instance that failed to start must not remove the first's.
    pid_t pid = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        long v;
        if (fscanf(f, "%ld", &v) == 1)
            pid = (pid_t) v;
        fclose(f);
    }
    if (pid == getpid())
        unlink(path);
}

static void s_on_hup(int sig)
{
    (void) sig;
    l3_daemon_hup = 1;
}

static void s_on_term(int sig)
{
    (void) sig;
    zsys_interrupted = 1;
    zctx_interrupted = 1;
}

bool l3_daemon_start(const char *progname, bool daemonize, const char *pidfile)
{
    //  Our own handlers, installed without SA_RESTART, so blocking zmq calls return EINTR;
    //  czmq would otherwise install its own on first zsock use.
    zsys_handler_set(NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = s_on_term;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = s_on_hup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (pidfile) {
        pid_t running = l3_pidfile_running(pidfile, progname);
        if (running > 0) {
            l3_error("%s is already running as pid %d (pidfile %s)", progname, (int) running,
                     pidfile);
            return false;
        }
    }
    if (daemonize) {
        //  Classic double fork: no controlling terminal, not a session leader.
        pid_t pid = fork();
        if (pid < 0) {
            l3_error("fork: %s", strerror(errno));
            return false;
        }
        if (pid > 0)
            _exit(0);
        setsid();
        pid = fork();
        if (pid < 0)
            _exit(1);
        if (pid > 0)
            _exit(0);
        if (chdir("/") != 0)
            l3_warn("chdir /: %s", strerror(errno));
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            if (null > 2)
                close(null);
        }
    }
    if (pidfile) {
        if (!l3_pidfile_write(pidfile, progname))
            return false;
        free(s_pidfile);
        s_pidfile = strdup(pidfile);
        s_pidfile_owner = getpid();
    }
    return true;
}

void l3_daemon_finish(void)
{
    if (s_pidfile && s_pidfile_owner == getpid())
        l3_pidfile_remove(s_pidfile);
    free(s_pidfile);
    s_pidfile = NULL;
}

bool l3_daemon_interrupted(void)
{
    return zsys_interrupted != 0;
}
