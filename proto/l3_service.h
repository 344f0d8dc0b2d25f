/*  l3_service — what an l3 daemon tells the service manager (systemd) that runs it:
    readiness, liveness and shutdown, through libsystemd's sd_notify.

    Every call is a no-op when the process was not started by systemd (no NOTIFY_SOCKET)
    or when lilalo was built without libsystemd (pkg-config libsystemd not found), so the
    daemons call them unconditionally.

    How a daemon drives it:

        ...bind and connect every socket...
        l3_service_ready("forwarding to %s", writer);      READY=1 once it can serve
        while (!interrupted) {
            timeout = l3_service_watchdog(timeout);         pings, shortens the wait
            zmq_poll(items, n, timeout);
            ...
        }
        l3_service_stopping();                              STOPPING=1, then clean up

    The watchdog is pinged from the daemon's own loop on purpose (never from a thread or
    a timer signal): a loop that hangs stops pinging, and systemd restarts the service
    (WatchdogSec= in conf/systemd). */
#ifndef L3_SERVICE_H
#define L3_SERVICE_H

#include <stdbool.h>

/* READY=1 and STATUS=<the formatted text>: the daemon's sockets are bound or connected
   and it serves. */
void l3_service_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* STATUS=<the formatted text> (what `systemctl status` shows). */
void l3_service_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* STOPPING=1: a stop was asked for and the daemon is shutting down. */
void l3_service_stopping(void);
/* Ping the watchdog (WATCHDOG=1) when half of WATCHDOG_USEC has passed since the last
   ping. Returns poll_ms, shortened so that the loop wakes in time for the next ping
   (poll_ms < 0, "wait for ever", becomes that time too). Call once per loop turn. */
long l3_service_watchdog(long poll_ms);
/* True when stderr is connected to the journal (systemd's JOURNAL_STREAM names the
   device and inode of our stderr): l3_log then writes "<N>" priority prefixes and
   leaves the time and program name to the journal. */
bool l3_service_journal(void);

#endif
