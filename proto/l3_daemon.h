/*  l3_daemon — what every l3 daemon does around its loop: command line basics, pidfile
    with stale detection, optional detaching, and signals.

    Foreground is the default (systemd). --daemon forks, detaches and writes the pidfile.
    SIGINT/SIGTERM set zsys_interrupted (czmq's flag, so zmq calls return EINTR and loops
    see it), SIGHUP sets l3_daemon_hup for a reload or log reopen. */
#ifndef L3_DAEMON_H
#define L3_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

extern volatile sig_atomic_t l3_daemon_hup;

/* Options every daemon accepts. */
typedef struct {
    const char *config_path; /* -c FILE */
    bool daemonize;          /* --daemon */
    bool verbose;            /* -v */
    bool syslog;             /* --syslog */
    const char *pidfile;     /* --pidfile FILE (else from the config) */
} l3_daemon_opts_t;

/* Read the pid in path. Returns the pid when a live process of that pid runs the same
   program (per /proc/PID/exe basename vs progname; any live process when progname is
   NULL), 0 when the file is absent or stale, -1 when unreadable. */
pid_t l3_pidfile_running(const char *path, const char *progname);
/* Write our pid atomically (temp file + rename). Refuses (false, logged) when a live
   process holds it; replaces a stale one with a log line saying so. */
bool l3_pidfile_write(const char *path, const char *progname);
void l3_pidfile_remove(const char *path);

/* Install signal handlers, detach when asked, write the pidfile when one is given.
   false (logged) when the pidfile belongs to a running daemon. */
bool l3_daemon_start(const char *progname, bool daemonize, const char *pidfile);
/* Remove the pidfile if we wrote it. */
void l3_daemon_finish(void);
/* True once SIGINT/SIGTERM arrived. */
bool l3_daemon_interrupted(void);

#endif
