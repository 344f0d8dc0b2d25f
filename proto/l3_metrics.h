/*  l3_metrics — a daemon's state for operators, in the Prometheus text format.

    Each daemon rewrites one file, <section>/metrics in its config (off when empty), every
    <section>/metrics_ms: the text goes to FILE.tmp and is renamed over FILE, so a reader
    never sees half of it. That is the form node_exporter's textfile collector serves
    (point --collector.textfile.directory at the directory of *.prom files), any scraper
    or `cat` can read it, it needs no port and no HTTP server in the daemon, and it keeps
    working under the units' sandbox (the file is in the daemon's state directory).
    `l3-agent --status` reads the agent's.

    Every file has lilalo_<daemon>_up (1 while running, 0 written on a clean stop),
    lilalo_<daemon>_metrics_time_seconds (when the file was written: a file that stops
    changing means a daemon that stopped or hangs) and lilalo_<daemon>_start_time_seconds,
    then what the daemon's fill function adds. Names are lilalo_<daemon>_<name>.

    One set per process, driven from the daemon's loop: l3_service_watchdog calls
    l3_metrics_tick, so every daemon loop that pings the watchdog writes its metrics too. */
#ifndef L3_METRICS_H
#define L3_METRICS_H

#include "l3_config.h"
#include <stdbool.h>
#include <stdint.h>

typedef struct l3_metrics_t l3_metrics_t;
/* Adds the daemon's own metrics to m (l3_metrics_counter, l3_metrics_gauge). */
typedef void(l3_metrics_fill_fn)(l3_metrics_t *m, void *arg);

/* Read <section>/metrics and <section>/metrics_ms from config; when a file is named, write
   it now and then every metrics_ms from l3_metrics_tick. daemon names the metrics
   (lilalo_<daemon>_...). A file that cannot be written is logged once and tried again at
   every interval (the daemon's work goes on). false only when out of memory. */
bool l3_metrics_start(l3_config_t *config, const char *section, const char *daemon,
                      l3_metrics_fill_fn *fill, void *arg);
/* Write the file when metrics_ms has passed since the last write. Returns poll_ms,
   shortened so the loop wakes in time for the next write (poll_ms < 0: that time). */
long l3_metrics_tick(long poll_ms);
/* Write the file a last time with up 0, and stop. */
void l3_metrics_stop(void);

/* For the fill function: one sample of a counter (only grows) or a gauge. name is the
   part after lilalo_<daemon>_; help is one line. */
void l3_metrics_counter(l3_metrics_t *m, const char *name, const char *help, uint64_t value);
void l3_metrics_gauge(l3_metrics_t *m, const char *name, const char *help, double value);

/* The value of lilalo_<daemon>_<name> in the text of a metrics file, for readers such
   as `l3-agent --status`. false when it is not there. */
bool l3_metrics_parse(const char *text, const char *daemon, const char *name, double *value);

#endif
