/*  l3_metrics — a daemon's metrics file, Prometheus text format. See l3_metrics.h. */
#include "l3_metrics.h"
#include "l3_buf.h"
#include "l3_log.h"
#include "l3_time.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct l3_metrics_t {
    char *path;              /* the file; NULL: off */
    char *daemon;            /* lilalo_<daemon>_ */
    int64_t interval_us;
    int64_t next_us;         /* monotonic time of the next write */
    double start_time;       /* wall clock, seconds */
    l3_metrics_fill_fn *fill;
    void *arg;
    l3_buf_t text;           /* the file being made */
    bool failed_logged;      /* one log line per run of failures, not one per write */
};

/* One per process: the daemon's loop drives it through l3_service_watchdog. */
static l3_metrics_t s_metrics;

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static void s_sample(l3_metrics_t *m, const char *name, const char *help, const char *type,
                     const char *value)
{
    l3_buf_printf(&m->text, "# HELP lilalo_%s_%s %s\n# TYPE lilalo_%s_%s %s\nlilalo_%s_%s %s\n",
                  m->daemon, name, help, m->daemon, name, type, m->daemon, name, value);
}

void l3_metrics_counter(l3_metrics_t *m, const char *name, const char *help, uint64_t value)
{
    char v[32];
    snprintf(v, sizeof v, "%llu", (unsigned long long) value);
    s_sample(m, name, help, "counter", v);
}

void l3_metrics_gauge(l3_metrics_t *m, const char *name, const char *help, double value)
{
    char v[48];
    if (value != value)
        snprintf(v, sizeof v, "NaN");
    else if (value > -1e15 && value < 1e15 && value == (double) (int64_t) value)
        snprintf(v, sizeof v, "%lld", (long long) value);
    else
        snprintf(v, sizeof v, "%.15g", value);
    s_sample(m, name, help, "gauge", v);
}

/* Make the text and put it in place: FILE.tmp, then rename over FILE. */
static bool s_write(l3_metrics_t *m, bool up)
{
    m->text.len = 0;
    m->text.failed = false;
    l3_metrics_gauge(m, "up", "1 while the daemon runs; 0 written when it stopped cleanly.",
                     up ? 1 : 0);
    l3_metrics_gauge(m, "metrics_time_seconds",
                     "When this file was written (Unix time): a file that stops changing "
                     "means a daemon that stopped or hangs.",
                     s_now());
    l3_metrics_gauge(m, "start_time_seconds", "When the daemon started (Unix time).",
                     m->start_time);
    if (up && m->fill)
        m->fill(m, m->arg);
    if (m->text.failed)
        return false;
    size_t plen = strlen(m->path);
    char tmp[plen + 5];
    snprintf(tmp, sizeof tmp, "%s.tmp", m->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0;
    for (size_t off = 0; ok && off < m->text.len;) {
        ssize_t n = write(fd, m->text.data + off, m->text.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        off += ok ? (size_t) n : 0;
    }
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    /* No fsync: the file is a view of the daemon's state, rewritten every few seconds. */
    if (ok && rename(tmp, m->path) != 0)
        ok = false;
    if (!ok) {
        if (!m->failed_logged)
            l3_warn("metrics file %s: %s (tried again every %lld ms)", m->path, strerror(errno),
                    (long long) (m->interval_us / 1000));
        m->failed_logged = true;
        unlink(tmp);
    } else
        m->failed_logged = false;
    return ok;
}

bool l3_metrics_start(l3_config_t *config, const char *section, const char *daemon,
                      l3_metrics_fill_fn *fill, void *arg)
{
    char key[64];
    snprintf(key, sizeof key, "%s/metrics", section);
    const char *path = l3_config_str(config, key, "");
    snprintf(key, sizeof key, "%s/metrics_ms", section);
    int64_t ms = l3_config_int(config, key, 5000, 100, 3600000);
    l3_metrics_stop();
    if (!path || !*path)
        return true;
    l3_metrics_t *m = &s_metrics;
    m->path = strdup(path);
    m->daemon = strdup(daemon);
    m->interval_us = ms * 1000;
    m->start_time = s_now();
    m->fill = fill;
    m->arg = arg;
    l3_buf_init(&m->text, 1 << 20);
    if (!m->path || !m->daemon) {
        l3_error("%s/metrics: out of memory", section);
        l3_metrics_stop();
        return false;
    }
    //  A file that cannot be written is logged (s_write) and tried again at every
    //  interval: the daemon's work matters more than its metrics.
    s_write(m, true);
    m->next_us = l3_time_mono_us() + m->interval_us;
    return true;
}

long l3_metrics_tick(long poll_ms)
{
    l3_metrics_t *m = &s_metrics;
    if (!m->path)
        return poll_ms;
    int64_t now = l3_time_mono_us();
    if (now >= m->next_us) {
        s_write(m, true);
        m->next_us = now + m->interval_us;
    }
    long until_ms = (long) ((m->next_us - now + 999) / 1000);
    return poll_ms < 0 || until_ms < poll_ms ? until_ms : poll_ms;
}

void l3_metrics_stop(void)
{
    l3_metrics_t *m = &s_metrics;
    if (m->path)
        s_write(m, false);
    free(m->path);
    free(m->daemon);
    l3_buf_free(&m->text);
    memset(m, 0, sizeof *m);
}

bool l3_metrics_parse(const char *text, const char *daemon, const char *name, double *value)
{
    char want[160];
    int n = snprintf(want, sizeof want, "lilalo_%s_%s ", daemon, name);
    if (n < 0 || (size_t) n >= sizeof want)
        return false;
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, want, (size_t) n) == 0) {
            char *end;
            double v = strtod(line + n, &end);
            if (end == line + n)
                return false;
            *value = v;
            return true;
        }
    }
    return false;
}
