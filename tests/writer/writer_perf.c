/*  writer_perf — throughput of a real l3-writer with fdatasync: N command records with
    256-byte outputs, PUSHed as fast as the window allows, timed from the first send to
    the ack of the last. Connection set-up is outside the timed part.

    usage: writer_perf [records [window [datafile-dir]]]     (env L3_BIN_DIR, as the tests)
    prints: "writer_perf records=N seconds=S rate=R records/s batches=B rss_kb=K"
    exits 1 when not all records were acked or the writer's peak RSS was over 50 MB
    (env L3_PERF_RSS_LIMIT_KB changes the limit, 0 turns the check off). */
#include "l3_msg.h"
#include "l3_time.h"
#include "wtest.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* VmHWM (peak RSS) of a process, in kB; 0 when unknown. */
static long s_peak_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

int main(int argc, char *argv[])
{
    uint64_t total = argc > 1 ? strtoull(argv[1], NULL, 10) : 200000;
    uint64_t window = argc > 2 ? strtoull(argv[2], NULL, 10) : 20000;
    wt_t t;
    if (!wt_setup(&t, "perf", NULL) ||
        (argc > 3 && !wt_set_datafile(&t, strcat(strcpy(malloc(strlen(argv[3]) + 20), argv[3]),
                                                 "/perf-datafile.xml")))) {
        wt_teardown(&t);
        return 1;
    }
    unlink(t.datafile);
    if (!wt_start(&t)) {
        wt_teardown(&t);
        return 1;
    }
    /* Pre-encode: the timed part measures the writer, not the client's encoder. */
    const char *agent = "perf-agent";
    uint64_t epoch = 1;
    l3_record_t r;
    wt_record(&r, L3_RECORD_COMMAND, agent, epoch, 1);
    wt_stream_t *s = wt_stream(&t, agent, epoch);
    l3_buf_t buf;
    l3_buf_init(&buf, L3_MSG_MAX);
    void *push = zsock_resolve(t.push);
    int64_t t0 = l3_time_mono_us();
    uint64_t next = 1;
    while (s->acked < total) {
        while (next <= total && next <= s->acked + window) {
            r.seq = next;
            r.nr = next;
            l3_buf_reset(&buf);
            l3_msg_encode_record(&r, &buf);
            zmq_send(push, agent, strlen(agent), ZMQ_SNDMORE);
            zmq_send(push, buf.data, buf.len, 0);
            next++;
        }
        wt_pump(&t, next > total ? 100 : 0);
        if (l3_time_mono_us() - t0 > 120 * 1000000LL) {
            fprintf(stderr, "writer_perf: timed out at ack %" PRIu64 "\n", s->acked);
            break;
        }
    }
    double seconds = (double)(l3_time_mono_us() - t0) / 1e6;
    long rss = s_peak_rss_kb(t.pid);
    wt_stop(&t, SIGTERM);
    /* The writer's own summary line has the batch count. */
    FILE *f = fopen(t.log, "r");
    char line[1024], batches[32] = "?";
    while (f && fgets(line, sizeof line, f)) {
        char *p = strstr(line, "records written in ");
        if (p)
            sscanf(p, "records written in %31s", batches);
    }
    if (f)
        fclose(f);
    printf("writer_perf records=%" PRIu64 " seconds=%.3f rate=%.0f records/s batches=%s "
           "rss_kb=%ld\n",
           s->acked, seconds, (double)s->acked / seconds, batches, rss);
    l3_record_clear(&r);
    l3_buf_free(&buf);
    wt_teardown(&t);
    /* The team's memory target for the writer (L3_PERF_RSS_LIMIT_KB, 0 = no check: the
       sanitizer build's shadow memory says nothing about the writer). */
    const char *limit_env = getenv("L3_PERF_RSS_LIMIT_KB");
    long limit = limit_env ? strtol(limit_env, NULL, 10) : 50 * 1024;
    if (limit > 0 && rss > limit) {
        fprintf(stderr, "writer_perf: peak RSS %ld kB is over the limit of %ld kB\n", rss,
                limit);
        return 1;
    }
    return s->acked >= total ? 0 : 1;
}
