/*  l3-broker — thin main over broker.c: options, config, daemon, loop. */
#include "broker.h"
#include "l3_config.h"
#include "l3_daemon.h"
#include "l3_log.h"
#include "l3_metrics.h"
#include "l3_paths.h"

#include <czmq.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

/* broker/metrics: what the broker forwarded, refused and waited for (l3_metrics.h). */
static void s_metrics(l3_metrics_t *m, void *arg)
{
    const broker_stats_t *st = broker_stats(arg);
    l3_metrics_counter(m, "records_forwarded_total", "Records sent to the writer.", st->forwarded);
    l3_metrics_counter(m, "messages_rejected_total",
                       "Messages dropped: undecodable, not a record, no identity, or not "
                       "allowed to send the host they claim.",
                       st->rejected);
    l3_metrics_counter(m, "host_refused_total",
                       "Records refused because they claim another host than their key's.",
                       st->host_refused);
    l3_metrics_counter(m, "acks_total", "Acknowledgements forwarded from the writer to agents.",
                       st->acks);
    l3_metrics_counter(m, "captured_total", "Messages offered to the capture socket (l3-tap).",
                       st->captured);
    l3_metrics_counter(m, "writer_stalls_total",
                       "Times the broker stopped reading agents because the writer was away.",
                       st->stalls);
}

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: l3-broker [-c FILE] [--daemon] [--pidfile FILE] [--syslog] [-v]\n"
            "\n"
            "Receives records from l3-agents, checks each one, stamps the authenticated agent\n"
            "id on it and forwards it to l3-writer; forwards the writer's acks back to the\n"
            "agents; publishes a copy of everything on a capture socket for l3-tap.\n"
            "\n"
            "  -c, --config FILE   config file (section \"broker\"; default %s\n"
            "                      when it exists, else built-in defaults)\n"
            "      --daemon        detach and write the pidfile (backend_pidfile)\n"
            "      --pidfile FILE  pidfile (overrides broker/backend_pidfile)\n"
            "      --syslog        log to syslog instead of stderr\n"
            "  -v, --verbose       debug logging\n"
            "  -h, --help          this help\n"
            "\n"
            "CURVE is on by default: broker/server_cert is the broker's secret key (created when\n"
            "missing), broker/allowed_keys the directory of agents' public keys (l3-keygen),\n"
            "each bound to the one host whose records it may send (docs/security.md).\n"
            "Stop with SIGTERM or SIGINT.\n",
            l3_paths_config_installed());
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"daemon", no_argument, NULL, 'D'},
        {"pidfile", required_argument, NULL, 'p'}, {"syslog", no_argument, NULL, 'S'},
        {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    l3_daemon_opts_t opts = {0};
    int c;
    while ((c = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': opts.config_path = optarg; break;
        case 'D': opts.daemonize = true; break;
        case 'p': opts.pidfile = optarg; break;
        case 'S': opts.syslog = true; break;
        case 'v': opts.verbose = true; break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "l3-broker: unexpected argument '%s'\n", argv[optind]);
        s_usage(stderr);
        return 2;
    }
    l3_log_init("l3-broker", opts.syslog, opts.verbose ? L3_LOG_DEBUG : L3_LOG_INFO);

    int rc = 1;
    broker_t *broker = NULL;
    if (!opts.config_path)
        opts.config_path = l3_paths_config_default();
    l3_config_t *config = l3_config_load(opts.config_path);
    if (!config)
        goto cleanup;
    /* The configured pidfile is for --daemon; in the foreground (systemd) only an
       explicit --pidfile is written. */
    const char *pidfile = opts.pidfile;
    if (!pidfile && opts.daemonize) {
        pidfile = l3_config_str(config, "broker/backend_pidfile", "");
        if (!*pidfile)
            pidfile = NULL;
    }
    if (opts.daemonize && !pidfile)
        l3_warn("--daemon without a pidfile (broker/backend_pidfile): nothing will record "
                "the daemon's pid");
    /* Fork (in l3_daemon_start) before any ZeroMQ context exists: libzmq's threads do not
       survive a fork. */
    if (!l3_daemon_start("l3-broker", opts.daemonize, pidfile))
        goto cleanup;
    broker = broker_new(config);
    if (!broker || !l3_metrics_start(config, "broker", "broker", s_metrics, broker))
        goto cleanup;
    rc = broker_run(broker);
cleanup:
    l3_metrics_stop();
    broker_destroy(&broker);
    l3_config_destroy(&config);
    l3_daemon_finish();
    return rc;
}
