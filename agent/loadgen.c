/*  l3-loadgen — push synthetic records through the real outbox and sender.

    Used by the fault tests and the ingest benchmark (bench/ingest.sh). It plays one agent:
    K session records first (the warm-up: they prove the path to the writer and back, and
    are outside the timed part), then N command records with outputs of the given size,
    appended as fast as the window allows or at a fixed rate, synced in groups (or per
    record), sent by the sender. It waits until every record is acknowledged and prints
    one result line:

      loadgen agent=<id> records=<N> acked=<n> seconds=<s> records_per_s=<r>
              ack_p50_ms=<x> ack_p99_ms=<y> start_us=<t0> end_us=<t1> resent=<n> ...

    Latency of a record = time its ack arrived - time it was appended (monotonic clock).
    Exit status 0 only when every record was acknowledged. */
#include "l3_config.h"
#include "l3_log.h"
#include "l3_time.h"
#include "outbox.h"
#include "sender.h"

#include <czmq.h>
#include <getopt.h>
#include <sys/resource.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_SESSIONS_MAX 100000
#define S_RECORDS_MAX 100000000ULL
#define S_BATCH_MAX 2048

typedef struct {
    const char *config_path;
    uint64_t records;
    size_t output_bytes;
    double rate;
    uint64_t sessions;
    const char *agent_id;
    const char *outbox_dir;
    const char *sync;
    double timeout_s;
    bool verbose;
} s_opts_t;

static void s_usage(FILE *out)
{
    fprintf(out, "usage: l3-loadgen [-c FILE] --records N [options]\n"
                 "Push N synthetic command records through the real outbox and sender to the\n"
                 "broker(s) of the config's agent section, wait until all are acknowledged, print\n"
                 "throughput and ack latency. Exit 0 only when every record was acknowledged.\n"
                 "\n"
                 "  -c, --config FILE      config (agent/brokers, agent/acks, agent/window, ...)\n"
                 "  -n, --records N        command records to send (required)\n"
                 "  -o, --output-bytes B   output bytes per command (default 256)\n"
                 "  -r, --rate R           offered load, records/s (default: as fast as possible)\n"
                 "  -s, --sessions K       sessions; their K start records are the warm-up,\n"
                 "                         not timed (default 1)\n"
                 "  -a, --agent-id ID      agent id with curve = 0 (default: agent/id, else the\n"
                 "                         host name); under CURVE the id is agent/cert's key\n"
                 "  -d, --outbox DIR       outbox directory (default: a temporary one, removed)\n"
                 "      --sync MODE        group (fdatasync per group, default) or append\n"
                 "  -t, --timeout S        give up after S seconds (default 300)\n"
                 "  -v, --verbose          log at debug level\n"
                 "  -h, --help             this text\n");
}

static bool s_parse_u64(const char *text, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || !end || *end || end == text || v > max || text[0] == '-')
        return false;
    *out = v;
    return true;
}

static int s_parse_args(int argc, char **argv, s_opts_t *o)
{
    static const struct option longs[] = {{"config", required_argument, NULL, 'c'},
                                          {"records", required_argument, NULL, 'n'},
                                          {"output-bytes", required_argument, NULL, 'o'},
                                          {"rate", required_argument, NULL, 'r'},
                                          {"sessions", required_argument, NULL, 's'},
                                          {"agent-id", required_argument, NULL, 'a'},
                                          {"outbox", required_argument, NULL, 'd'},
                                          {"sync", required_argument, NULL, 'S'},
                                          {"timeout", required_argument, NULL, 't'},
                                          {"verbose", no_argument, NULL, 'v'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    *o = (s_opts_t){.output_bytes = 256, .sessions = 1, .sync = "group", .timeout_s = 300};
    bool have_records = false;
    int c;
    uint64_t v;
    while ((c = getopt_long(argc, argv, "c:n:o:r:s:a:d:t:vh", longs, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config_path = optarg;
            break;
        case 'n':
            if (!s_parse_u64(optarg, S_RECORDS_MAX, &o->records)) {
                fprintf(stderr, "l3-loadgen: --records wants 0..%llu\n", S_RECORDS_MAX);
                return 2;
            }
            have_records = true;
            break;
        case 'o':
            if (!s_parse_u64(optarg, L3_OUTPUT_MAX, &v)) {
                fprintf(stderr, "l3-loadgen: --output-bytes wants 0..%u\n", L3_OUTPUT_MAX);
                return 2;
            }
            o->output_bytes = (size_t)v;
            break;
        case 'r': {
            char *end = NULL;
            o->rate = strtod(optarg, &end);
            if (!end || (*end && strcmp(end, "/s") != 0) || !(o->rate > 0 && o->rate < 1e8)) {
                fprintf(stderr, "l3-loadgen: --rate wants a positive number of records/s\n");
                return 2;
            }
            break;
        }
        case 's':
            if (!s_parse_u64(optarg, S_SESSIONS_MAX, &o->sessions) || o->sessions == 0) {
                fprintf(stderr, "l3-loadgen: --sessions wants 1..%d\n", S_SESSIONS_MAX);
                return 2;
            }
            break;
        case 'a':
            if (!l3_id_valid(optarg)) {
                fprintf(stderr, "l3-loadgen: --agent-id: 1..%d of [A-Za-z0-9._:@+=-]\n", L3_ID_MAX);
                return 2;
            }
            o->agent_id = optarg;
            break;
        case 'd':
            o->outbox_dir = optarg;
            break;
        case 'S':
            if (strcmp(optarg, "group") != 0 && strcmp(optarg, "append") != 0) {
                fprintf(stderr, "l3-loadgen: --sync wants group or append\n");
                return 2;
            }
            o->sync = optarg;
            break;
        case 't': {
            char *end = NULL;
            o->timeout_s = strtod(optarg, &end);
            if (!end || *end || !(o->timeout_s > 0)) {
                fprintf(stderr, "l3-loadgen: --timeout wants seconds > 0\n");
                return 2;
            }
            break;
        }
        case 'v':
            o->verbose = true;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "l3-loadgen: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!have_records) {
        fprintf(stderr, "l3-loadgen: --records N is required (see --help)\n");
        return 2;
    }
    return -1;
}

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The record generator: sessions, then commands round-robin over them. */
typedef struct {
    const s_opts_t *o;
    char host[L3_NAME_MAX + 1];
    uint64_t *nr; /* per session, commands so far */
    uint8_t *noise;
    size_t noise_len;
    uint64_t made;
    int pid;
    /* The command record, reused: its constant fields are set once, and its byte fields
       point into cmd and noise instead of owning copies (the generator is measured along
       with the pipeline, so it must not spend a malloc and a printf per record). Never
       passed to l3_record_clear. */
    l3_record_t cmd_rec;
    char cmd[64];
} s_gen_t;


/* "loadgen-<pid>-<k>" (at most 8 + 10 + 1 + 20 bytes, within L3_ID_MAX). */
static void s_gen_sid(s_gen_t *g, uint64_t k, char *sid)
{
    char *w = sid;
    memcpy(w, "loadgen-", 8);
    w = l3_put_u64(w + 8, (uint64_t)g->pid);
    *w++ = '-';
    w = l3_put_u64(w, k);
    *w = 0;
}

static void s_gen_session(s_gen_t *g, uint64_t k, l3_record_t *rec)
{
    l3_record_init(rec);
    rec->type = L3_RECORD_SESSION;
    l3_text_set(rec->host, sizeof rec->host, g->host);
    l3_text_set(rec->user, sizeof rec->user, "loadgen");
    s_gen_sid(g, k, rec->sid);
    rec->start_us = l3_time_now_us();
    rec->uid = 1000;
    rec->pid = (uint32_t)getpid();
    rec->cols = 80;
    rec->rows = 24;
    l3_text_set(rec->tty, sizeof rec->tty, "/dev/pts/0");
    l3_text_set(rec->shell, sizeof rec->shell, "/bin/bash");
}

static void s_gen_init_command(s_gen_t *g)
{
    l3_record_t *rec = &g->cmd_rec;
    l3_record_init(rec);
    rec->type = L3_RECORD_COMMAND;
    l3_text_set(rec->host, sizeof rec->host, g->host);
    l3_text_set(rec->user, sizeof rec->user, "loadgen");
    rec->has_exit = true;
    rec->exit_code = 0;
    rec->cwd.data = (uint8_t *)"/tmp";
    rec->cwd.len = 4;
    memcpy(g->cmd, "echo loadgen ", 13);
    rec->cmdline.data = (uint8_t *)g->cmd;
    rec->output.len = g->o->output_bytes;
}

/* The next command record: g->cmd_rec, valid until the next call. */
static l3_record_t *s_gen_command(s_gen_t *g)
{
    uint64_t k = g->made % g->o->sessions;
    l3_record_t *rec = &g->cmd_rec;
    s_gen_sid(g, k, rec->sid);
    rec->nr = ++g->nr[k];
    rec->end_us = l3_time_now_us();
    rec->start_us = rec->end_us - 1500;
    rec->cmdline.len = (size_t)(l3_put_u64(g->cmd + 13, g->made) - g->cmd);
    size_t off = (size_t)(g->made * 7919) % (g->noise_len - g->o->output_bytes + 1);
    rec->output.data = g->noise + off;
    g->made++;
    return rec;
}

int main(int argc, char **argv)
{
    s_opts_t o;
    int rc = s_parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    l3_log_init("l3-loadgen", false, o.verbose ? L3_LOG_DEBUG : L3_LOG_WARN);
    zsys_init();

    int status = 1;
    l3_config_t *config = NULL;
    outbox_t *box = NULL;
    sender_t *sender = NULL;
    int64_t *stamp = NULL;
    char tmpdir[] = "/tmp/l3-loadgen-XXXXXX";
    bool remove_dir = false;
    s_gen_t gen = {.o = &o, .pid = (int)getpid()};

    config = l3_config_load(o.config_path);
    if (!config)
        goto cleanup;
    char id[L3_ID_MAX + 1];
    if (l3_config_bool(config, "agent/curve", true)) {
        /* The broker names a CURVE agent by its key, and acks go to that name. */
        if (!sender_agent_id(config, id, sizeof id))
            goto cleanup;
        if (o.agent_id && strcmp(o.agent_id, id) != 0) {
            l3_error("--agent-id %s: under CURVE the agent id is the hex of agent/cert's "
                     "public key (%s); give each load generator its own cert instead",
                     o.agent_id, id);
            goto cleanup;
        }
    } else if (o.agent_id) {
        snprintf(id, sizeof id, "%s", o.agent_id);
    } else if (!sender_agent_id(config, id, sizeof id)) {
        goto cleanup;
    }
    if (!o.outbox_dir) {
        if (!mkdtemp(tmpdir)) {
            l3_error("cannot make a temporary outbox directory: %s", strerror(errno));
            goto cleanup;
        }
        o.outbox_dir = tmpdir;
        remove_dir = true;
    }
    outbox_opts_t bopts;
    outbox_opts_from_config(&bopts, config);
    bopts.sync_each_append = strcmp(o.sync, "append") == 0;
    box = outbox_open(o.outbox_dir, id, &bopts);
    if (!box)
        goto cleanup;
    sender = sender_new(config, box);
    if (!sender)
        goto cleanup;
    uint64_t window = (uint64_t)l3_config_int(config, "agent/window", 1000, 1, 1000000);

    if (gethostname(gen.host, sizeof gen.host - 1) != 0 || !gen.host[0])
        snprintf(gen.host, sizeof gen.host, "loadgen");
    gen.nr = calloc(o.sessions, sizeof *gen.nr);
    gen.noise_len = o.output_bytes + 4096;
    gen.noise = malloc(gen.noise_len);
    stamp = calloc(o.records ? o.records : 1, sizeof *stamp);
    if (!gen.nr || !gen.noise || !stamp) {
        l3_error("out of memory for %" PRIu64 " records", o.records);
        goto cleanup;
    }
    for (size_t i = 0; i < gen.noise_len; i++) /* terminal-looking bytes, some escapes */
        gen.noise[i] = (uint8_t)(i % 97 == 0 ? 0x1b : i % 61 == 0 ? '\n' : 32 + (i * 31) % 95);
    s_gen_init_command(&gen);

    int64_t deadline = l3_time_mono_us() + (int64_t)(o.timeout_s * 1e6);
    /* Warm-up: the session records, acknowledged before the clock starts. */
    for (uint64_t k = 0; k < o.sessions; k++) {
        l3_record_t rec;
        s_gen_session(&gen, k, &rec);
        bool ok = outbox_append(box, &rec, NULL);
        l3_record_clear(&rec);
        if (!ok)
            goto cleanup;
    }
    uint64_t first = outbox_last_seq(box) + 1; /* seq of the first timed record */
    uint64_t appended = 0, acked_seen = outbox_acked_seq(box), nlat = 0;
    bool timed = false;
    int64_t t0 = 0, wall0 = 0, t_end = 0;
    while (!zsys_interrupted) {
        int64_t now = l3_time_mono_us();
        if (now > deadline) {
            l3_error("timeout: %" PRIu64 " of %" PRIu64 " records acknowledged after %.0f s", nlat,
                     o.records, o.timeout_s);
            break;
        }
        if (!timed && outbox_acked_seq(box) >= first - 1) {
            timed = true;
            t0 = now;
            wall0 = l3_time_now_us();
        }
        if (timed) {
            /* Append what is due: on schedule with --rate, else keep the pipe full. */
            uint64_t due = o.records;
            if (o.rate > 0) {
                double d = (double)(now - t0) * o.rate / 1e6 + 1;
                due = d < (double)o.records ? (uint64_t)d : o.records;
            } else if (due > appended + S_BATCH_MAX) {
                due = appended + S_BATCH_MAX;
            }
            while (appended < due && (o.rate > 0 || outbox_pending(box) < 2 * window)) {
                uint64_t seq = 0;
                bool ok = outbox_append(box, s_gen_command(&gen), &seq);
                if (!ok)
                    goto cleanup;
                stamp[seq - first] = l3_time_mono_us();
                appended++;
            }
        }
        if (!sender_handle(sender))
            goto cleanup;
        uint64_t acked = outbox_acked_seq(box);
        if (acked > acked_seen) {
            int64_t t = l3_time_mono_us();
            for (uint64_t s = acked_seen + 1; s <= acked; s++) {
                if (s >= first && s - first < appended) {
                    stamp[s - first] = t - stamp[s - first];
                    nlat++;
                }
            }
            acked_seen = acked;
        }
        if (timed && appended == o.records && outbox_pending(box) == 0) {
            t_end = l3_time_mono_us();
            status = 0;
            break;
        }
        /* Wait for acks, connection events, the sender's timer or the next due record. */
        zmq_pollitem_t items[SENDER_POLL_MAX];
        int n = sender_poll_items(sender, items, SENDER_POLL_MAX);
        long t = sender_timeout_ms(sender);
        if (timed && appended < o.records) {
            long next_ms = 0;
            if (o.rate > 0) {
                /* Rounded up: poll's milliseconds must not turn "in 0.6 ms" into a spin. */
                double due_us = (double)t0 + (double)appended * 1e6 / o.rate;
                double left = due_us - (double)l3_time_mono_us();
                next_ms = left > 0 ? (long)(left / 1000) + 1 : 0;
            }
            if (o.rate > 0 || outbox_pending(box) < 2 * window)
                t = (t < 0 || next_ms < t) ? next_ms : t;
        }
        if (t < 0 || t > 100)
            t = 100;
        zmq_poll(items, n, t);
    }

    sender_stats_t st;
    sender_stats(sender, &st);
    double secs = t_end > t0 && timed ? (double)(t_end - t0) / 1e6 : 0;
    int64_t p50 = 0, p99 = 0;
    if (nlat > 0) {
        qsort(stamp, nlat, sizeof *stamp, s_cmp_i64);
        p50 = stamp[(nlat - 1) / 2];
        p99 = stamp[(nlat * 99 + 99) / 100 - 1];
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                 ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    printf("loadgen agent=%s records=%" PRIu64 " acked=%" PRIu64 " seconds=%.3f "
           "records_per_s=%.0f ack_p50_ms=%.2f ack_p99_ms=%.2f start_us=%" PRId64 " end_us=%" PRId64
           " sent=%" PRIu64 " resent=%" PRIu64 " nacks=%" PRIu64 " timeouts=%" PRIu64
           " reconnects=%" PRIu64 " cpu_s=%.2f\n",
           id, o.records, nlat, secs, secs > 0 ? (double)o.records / secs : 0, p50 / 1000.0,
           p99 / 1000.0, wall0, wall0 + (int64_t)(secs * 1e6), st.sent, st.resent, st.nacks,
           st.timeouts, st.reconnects, cpu);
    fflush(stdout);
    if (status != 0)
        fprintf(stderr,
                "l3-loadgen: not every record was acknowledged (%" PRIu64 " of %" PRIu64
                " timed records)\n",
                nlat, o.records);
cleanup:
    sender_destroy(&sender);
    outbox_destroy(&box);
    l3_config_destroy(&config);
    if (remove_dir) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            l3_warn("could not remove %s", tmpdir);
    }
    free(stamp);
    free(gen.nr);
    free(gen.noise);
    return status;
}
