/*  l3_log — stderr or syslog logging. See l3_log.h.
    Lines on stderr carry a UTC timestamp and the program name so logs of several daemons
    started by one test or by `make run` can be told apart.

    Run as a systemd service, stderr is the journal (l3_service_journal): a line is then
    "<N>text", N the syslog priority, which journald reads as the line's priority
    (sd-daemon(3)) and strips; the journal adds the time, the unit and the pid itself.
    We chose that over sd_journal_send or syslog(3): no library and no socket beyond the
    stderr systemd already gave us, the same code path with or without libsystemd, and a
    line is never lost when /dev/log is not there (early boot, a sandbox without it). */
#include "l3_log.h"
#include "l3_service.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static char s_progname[64] = "l3";
static bool s_syslog = false;
static bool s_journal = false; /* stderr is the journal: "<N>" prefixes, no timestamp */
static l3_log_level_t s_level = L3_LOG_INFO;

void l3_log_init(const char *progname, bool use_syslog, l3_log_level_t level)
{
    snprintf(s_progname, sizeof(s_progname), "%s", progname ? progname : "l3");
    if (s_syslog && !use_syslog)
        closelog();
    s_syslog = use_syslog;
    s_journal = !use_syslog && l3_service_journal();
    s_level = level;
    if (s_syslog)
        openlog(s_progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void l3_log_set_level(l3_log_level_t level)
{
    s_level = level;
}

void l3_log(l3_log_level_t level, const char *fmt, ...)
{
    if (level > s_level)
        return;
    int saved_errno = errno;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    static const char *names[] = {"error", "warning", "info", "debug"};
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    if (s_syslog)
        syslog(prio[level], "%s", line);
    else if (s_journal)
        fprintf(stderr, "<%d>%s\n", prio[level], line);
    else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        //  One fprintf so concurrent writers to a shared stderr do not interleave mid-line.
        fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: %s\n",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                ts.tv_nsec / 1000000, s_progname, (int) getpid(), names[level], line);
    }
    errno = saved_errno;
}
