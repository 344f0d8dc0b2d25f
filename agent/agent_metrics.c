/*  agent_metrics — the agent's metrics file and `l3-agent --status`. See agent_metrics.h. */
#include "agent_metrics.h"
#include "agentd.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void agent_metrics_fill(l3_metrics_t *m, void *agentd)
{
    l3_agentd_stats_t st;
    l3_agentd_stats(agentd, &st);
    l3_metrics_counter(m, "records_total", "Records appended to the outbox since start.",
                       st.records);
    l3_metrics_counter(m, "records_skipped_total",
                       "Records skipped as already in the outbox (a session read again).",
                       st.skipped);
    l3_metrics_gauge(m, "sessions", "Recorded sessions followed now.", st.sessions);
    l3_metrics_gauge(m, "outbox_backlog_records",
                     "Records in the outbox not acknowledged by the writer yet.",
                     (double) st.backlog);
    l3_metrics_gauge(m, "outbox_bytes", "Bytes of the outbox's segments on disk.",
                     (double) st.outbox_bytes);
    l3_metrics_gauge(m, "oldest_unacked_age_seconds",
                     "Age of the oldest record not acknowledged yet (0: none; for records "
                     "from before this start, the time since the start).",
                     st.oldest_unacked_age);
    l3_metrics_gauge(m, "last_ack_age_seconds",
                     "Seconds since an acknowledgement last advanced (-1: none since start).",
                     st.last_ack_age);
    l3_metrics_counter(m, "ack_latency_seconds_count",
                       "Records acknowledged whose latency was measured.", st.ack_count);
    l3_metrics_gauge(m, "ack_latency_seconds_sum",
                     "Sum of append-to-acknowledgement times of those records (seconds).",
                     st.ack_latency_sum);
    l3_metrics_gauge(m, "ack_latency_last_seconds",
                     "Append-to-acknowledgement time of the last acknowledged record.",
                     st.ack_latency_last);
    l3_metrics_gauge(m, "sending", "1 when the agent sends (agent/send), 0 when it only keeps.",
                     st.sending ? 1 : 0);
    if (!st.sending)
        return;
    l3_metrics_counter(m, "sent_total", "Messages handed to the brokers, resends included.",
                       st.sender.sent);
    l3_metrics_counter(m, "resent_total", "Of those, resends.", st.sender.resent);
    l3_metrics_counter(m, "acks_total", "Acks and nacks received.", st.sender.acks);
    l3_metrics_counter(m, "nacks_total", "Nacks received.", st.sender.nacks);
    l3_metrics_counter(m, "ack_timeouts_total",
                       "Resends from the last acknowledged record after agent/ack_timeout_ms "
                       "without progress.",
                       st.sender.timeouts);
    l3_metrics_counter(m, "reconnects_total", "Resends after a (re)connection.",
                       st.sender.reconnects);
    l3_metrics_counter(m, "rejected_total", "Undecodable or foreign messages on the ack socket.",
                       st.sender.rejected);
}

/* The value of lilalo_agent_<name>, or dflt. */
static double s_get(const char *text, const char *name, double dflt)
{
    double v;
    return l3_metrics_parse(text, "agent", name, &v) ? v : dflt;
}

/* "1.2 s", "3 min", "2.0 h" */
static const char *s_age(double s, char *buf, size_t size)
{
    if (s < 0)
        snprintf(buf, size, "never");
    else if (s < 120)
        snprintf(buf, size, "%.1f s", s);
    else if (s < 7200)
        snprintf(buf, size, "%.0f min", s / 60);
    else
        snprintf(buf, size, "%.1f h", s / 3600);
    return buf;
}

int agent_metrics_status(l3_config_t *config, FILE *out)
{
    const char *path = l3_config_str(config, "agent/metrics", "");
    int64_t every_ms = l3_config_int(config, "agent/metrics_ms", 5000, 100, 3600000);
    int64_t max_wait = l3_config_int(config, "agent/status_max_wait_s", 300, 1, 86400 * 365);
    if (!*path) {
        fprintf(out, "l3-agent --status: agent/metrics is not set, so the agent writes no "
                     "metrics file to read (set it, e.g. /var/lib/lilalo/agent/metrics.prom, "
                     "and restart the agent)\n");
        return 2;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(out, "l3-agent --status: %s: %s (is the agent running with this config?)\n",
                path, strerror(errno));
        return 2;
    }
    char text[65536];
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = '\0';
    fclose(f);

    char a[32], b[32];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double) ts.tv_sec + ts.tv_nsec / 1e9;
    double written = s_get(text, "metrics_time_seconds", 0);
    double age = now - written;
    bool up = s_get(text, "up", 0) == 1;
    bool fresh = age <= 3.0 * (double) every_ms / 1000 + 1;
    const char *state = !up ? "STOPPED (it wrote up 0 on its way out)"
                        : !fresh ? "NOT RUNNING or hung (its metrics file is not rewritten)"
                                 : "running";
    fprintf(out, "agent: %s\n", state);
    fprintf(out, "  metrics: %s, written %s ago (every %.1f s); started %s ago\n", path,
            s_age(age, a, sizeof a), (double) every_ms / 1000,
            s_age(now - s_get(text, "start_time_seconds", now), b, sizeof b));
    fprintf(out, "  records: %.0f appended since start, %.0f skipped as already sent; "
                 "%.0f session(s) followed\n",
            s_get(text, "records_total", 0), s_get(text, "records_skipped_total", 0),
            s_get(text, "sessions", 0));
    double backlog = s_get(text, "outbox_backlog_records", 0);
    double oldest = s_get(text, "oldest_unacked_age_seconds", 0);
    fprintf(out, "  outbox: %.0f record(s) waiting for an ack%s%s, %.1f MB on disk\n", backlog,
            backlog > 0 ? ", the oldest for " : "", backlog > 0 ? s_age(oldest, a, sizeof a) : "",
            s_get(text, "outbox_bytes", 0) / 1e6);
    if (s_get(text, "sending", 0) == 1) {
        double n = s_get(text, "ack_latency_seconds_count", 0);
        double sum = s_get(text, "ack_latency_seconds_sum", 0);
        fprintf(out, "  acks: last %s ago; latency %.0f ms last, %.0f ms mean of %.0f\n",
                s_age(s_get(text, "last_ack_age_seconds", -1), a, sizeof a),
                s_get(text, "ack_latency_last_seconds", 0) * 1000, n > 0 ? sum / n * 1000 : 0, n);
        fprintf(out, "  sender: %.0f sent (%.0f resent), %.0f ack timeout(s), %.0f reconnect(s), "
                     "%.0f nack(s)\n",
                s_get(text, "sent_total", 0), s_get(text, "resent_total", 0),
                s_get(text, "ack_timeouts_total", 0), s_get(text, "reconnects_total", 0),
                s_get(text, "nacks_total", 0));
    } else
        fprintf(out, "  sender: off (agent/send = 0): records are kept, not sent\n");
    if (!up || !fresh)
        return 1;
    if (backlog > 0 && oldest > (double) max_wait) {
        fprintf(out, "PROBLEM: a record has waited %s for its ack (more than "
                     "agent/status_max_wait_s = %lld s): is the broker reachable, and this "
                     "host enrolled (l3-hosts list on the broker)?\n",
                s_age(oldest, a, sizeof a), (long long) max_wait);
        return 1;
    }
    return 0;
}
