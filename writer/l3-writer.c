/*  l3-writer — the one process that owns the XML datafile (DESIGN.md "Writer and
    datafile"). Thin main: options and config here, the work in writer.c. */
#include "datafile.h"
#include "l3_config.h"
#include "l3_daemon.h"
#include "l3_log.h"
#include "l3_metrics.h"
#include "l3_paths.h"
#include "writer.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROGNAME "l3-writer"


/* writer/metrics: records in, commits, the datafile (l3_metrics.h). */
static void s_metrics(l3_metrics_t *m, void *arg)
{
    writer_stats_t st;
    writer_stats(arg, &st);
    l3_metrics_counter(m, "records_written_total", "Records committed to the datafile.",
                       st.written);
    l3_metrics_counter(m, "commits_total", "Group commits (each one fdatasync).", st.commits);
    l3_metrics_counter(m, "records_duplicate_total",
                       "Records already in the datafile, acknowledged again.", st.duplicates);
    l3_metrics_counter(m, "records_gap_total", "Records refused for a gap in their stream.",
                       st.gaps);
    l3_metrics_counter(m, "messages_dropped_total", "Malformed messages dropped.", st.dropped);
    l3_metrics_gauge(m, "datafile_bytes", "Committed size of the datafile.",
                     (double) st.datafile_bytes);
    l3_metrics_gauge(m, "last_commit_time_seconds",
                     "When the last commit was made (Unix time; 0: none since start).",
                     st.last_commit_time);
    l3_metrics_gauge(m, "failing",
                     "1 while the datafile cannot be written (records held, not acknowledged).",
                     st.failing ? 1 : 0);
}
static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: " PROGNAME " [OPTIONS]\n"
            "Receive records from the brokers, keep them in the XML datafile, acknowledge\n"
            "them once they are on disk. Exactly one writer may own a datafile.\n"
            "\n"
            "  -c, --config FILE   config file (ZPL, section writer; default %s\n"
            "                      when it exists, else built-in defaults)\n"
            "      --datafile PATH datafile (overrides writer/backend_datafile)\n"
            "      --bind EP       PULL endpoint for records (overrides writer/bind,\n"
            "                      default tcp://127.0.0.1:5680)\n"
            "      --ack-bind EP   PUB endpoint for acks (overrides writer/ack_bind,\n"
            "                      default tcp://127.0.0.1:5681)\n"
            "      --daemon        detach and write the pidfile\n"
            "      --pidfile FILE  pidfile (overrides writer/backend_pidfile)\n"
            "      --syslog        log to syslog instead of stderr\n"
            "  -v, --verbose       debug logging\n"
            "  -h, --help          this help\n"
            "\n"
            "Exit status: 0 after SIGTERM/SIGINT, 1 when it cannot start (datafile locked by\n"
            "another writer, not a lilalo datafile, cannot bind), 2 on bad usage.\n",
            l3_paths_config_installed());
}

/* The daemon chdirs to /, so relative paths are made absolute first. */
static char *s_absolute(const char *path)
{
    if (!path || path[0] == '/')
        return path ? strdup(path) : NULL;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return strdup(path);
    size_t len = strlen(cwd) + strlen(path) + 2;
    char *abs = malloc(len);
    if (abs)
        snprintf(abs, len, "%s/%s", cwd, path);
    return abs;
}

int main(int argc, char *argv[])
{
    const char *config_path = NULL, *datafile = NULL, *bind = NULL, *ack_bind = NULL;
    const char *pidfile_opt = NULL;
    bool daemonize = false, use_syslog = false, verbose = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_next = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            s_usage(stdout);
            return 0;
        } else if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && has_next)
            config_path = argv[++i];
        else if (!strcmp(a, "--datafile") && has_next)
            datafile = argv[++i];
        else if (!strcmp(a, "--bind") && has_next)
            bind = argv[++i];
        else if (!strcmp(a, "--ack-bind") && has_next)
            ack_bind = argv[++i];
        else if (!strcmp(a, "--pidfile") && has_next)
            pidfile_opt = argv[++i];
        else if (!strcmp(a, "--daemon"))
            daemonize = true;
        else if (!strcmp(a, "--syslog"))
            use_syslog = true;
        else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
            verbose = true;
        else {
            fprintf(stderr, PROGNAME ": unknown or incomplete option '%s' (try --help)\n", a);
            return 2;
        }
    }
    l3_log_init(PROGNAME, use_syslog, verbose ? L3_LOG_DEBUG : L3_LOG_INFO);
    int status = 1;
    char *abs_datafile = NULL, *abs_pidfile = NULL;
    writer_t *writer = NULL;
    bool started = false;
    l3_config_t *cfg = l3_config_load(config_path ? config_path : l3_paths_config_default());
    if (!cfg)
        goto cleanup; /* reason logged */

    writer_opts_t opts;
    writer_opts_load(&opts, cfg);
    if (datafile)
        opts.datafile = datafile;
    if (bind)
        opts.bind = bind;
    if (ack_bind)
        opts.ack_bind = ack_bind;
    if (!opts.datafile || !*opts.datafile) {
        l3_error("no datafile: set writer/backend_datafile in the config or give --datafile");
        goto cleanup;
    }
    abs_datafile = s_absolute(opts.datafile);
    abs_pidfile = s_absolute(pidfile_opt ? pidfile_opt
                                         : l3_config_str(cfg, "writer/backend_pidfile", NULL));
    if (!abs_datafile) {
        l3_error("out of memory");
        goto cleanup;
    }
    opts.datafile = abs_datafile;

    /* Check the lock before detaching, so a second writer says why on the terminal. The
       lock itself is taken after the fork: POSIX record locks are not inherited. */
    pid_t holder = datafile_lock_holder(abs_datafile);
    if (holder > 0) {
        l3_error("datafile %s is locked by another writer (pid %ld); exactly one l3-writer "
                 "may own a datafile",
                 abs_datafile, (long)holder);
        goto cleanup;
    }
    if (!l3_daemon_start(PROGNAME, daemonize, abs_pidfile))
        goto cleanup; /* reason logged */
    started = true;
    char err[512];
    writer = writer_new(&opts, err, sizeof err);
    if (!writer) {
        l3_error("%s", err);
        goto cleanup;
    }
    if (l3_metrics_start(cfg, "writer", "writer", s_metrics, writer))
        status = writer_run(writer);
cleanup:
    l3_metrics_stop();
    writer_destroy(&writer);
    if (started)
        l3_daemon_finish();
    l3_config_destroy(&cfg);
    free(abs_datafile);
    free(abs_pidfile);
    return status;
}
