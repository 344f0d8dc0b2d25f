/*  l3_service — sd_notify readiness, watchdog and stopping for every l3 daemon.
    See l3_service.h. Built with libsystemd when pkg-config finds it (L3_HAVE_SYSTEMD);
    otherwise the notify calls do nothing and only the journal check remains, which
    needs no library. */
#include "l3_service.h"
#include "l3_log.h"
#include "l3_metrics.h"
#include "l3_time.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef L3_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

/* The watchdog, read from the environment at the first ping. */
static bool s_watchdog_read = false;
static int64_t s_watchdog_half_us = 0; /* 0: no watchdog asked for */
static int64_t s_watchdog_next_us = 0; /* monotonic time of the next ping */

static void s_notify(const char *state)
{
#ifdef L3_HAVE_SYSTEMD
    //  Not unset from the environment: pings keep going to the same socket all our life.
    //  A failure is not fatal (the manager may be gone during a shutdown), only logged.
    int rc = sd_notify(0, state);
    if (rc < 0)
        l3_debug("sd_notify %s: error %d", state, rc);
#else
    (void) state;
#endif
}

static void s_notify_status(const char *prefix, const char *fmt, va_list ap)
{
    char text[512];
    int len = snprintf(text, sizeof text, "%s", prefix);
    if (len < 0 || (size_t) len >= sizeof text)
        return;
    vsnprintf(text + len, sizeof text - (size_t) len, fmt, ap);
    s_notify(text);
}

void l3_service_ready(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_notify_status("READY=1\nSTATUS=", fmt, ap);
    va_end(ap);
}

void l3_service_status(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_notify_status("STATUS=", fmt, ap);
    va_end(ap);
}

void l3_service_stopping(void)
{
    s_notify("STOPPING=1\nSTATUS=stopping");
}

long l3_service_watchdog(long poll_ms)
{
    // The same loop turn writes the metrics file when it is due (l3_metrics.h).
    poll_ms = l3_metrics_tick(poll_ms);
#ifdef L3_HAVE_SYSTEMD
    if (!s_watchdog_read) {
        s_watchdog_read = true;
        uint64_t usec = 0;
        //  > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID (if set) is us, so a child
        //  that inherited the environment never pings for its parent.
        if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
            s_watchdog_half_us = (int64_t) (usec / 2);
    }
#else
    s_watchdog_read = true;
#endif
    if (s_watchdog_half_us <= 0)
        return poll_ms;
    int64_t now = l3_time_mono_us();
    if (now >= s_watchdog_next_us) {
        s_notify("WATCHDOG=1");
        s_watchdog_next_us = now + s_watchdog_half_us;
    }
    long until_ms = (long) ((s_watchdog_next_us - now + 999) / 1000);
    return poll_ms < 0 || until_ms < poll_ms ? until_ms : poll_ms;
}

bool l3_service_journal(void)
{
    //  systemd sets JOURNAL_STREAM=<device>:<inode> for a service whose stdout or stderr
    //  goes to the journal. The variable alone is not enough: a child whose stderr was
    //  redirected (a test's log file, `2>file` in a shell started from a service) still
    //  inherits it, so it counts only when it names our stderr.
    const char *env = getenv("JOURNAL_STREAM");
    unsigned long long dev = 0, ino = 0;
    if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
        return false;
    struct stat st;
    if (fstat(STDERR_FILENO, &st) != 0)
        return false;
    return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}
