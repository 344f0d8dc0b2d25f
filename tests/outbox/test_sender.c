/*  test_sender — the sender against a minimal fake broker+writer living in this test: a
    PULL that receives records and a PUB that acks them, with the writer's dedup rules
    (seq == last + 1 written, seq <= last re-acked, a gap nacked). The fake misbehaves in
    phases: it drops records, drops acks, and goes away (sockets closed) and comes back on
    the same ports. Every record must end up written by the fake exactly once, and the
    outbox must end empty. One thread drives both sides, so the run is reproducible. */
#include "l3_config.h"
#include "l3_log.h"
#include "l3_msg.h"
#include "l3_test.h"
#include "l3_time.h"
#include "outbox.h"
#include "sender.h"

#include <czmq.h>
#include <dirent.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#define TOTAL 3000
#define BACKLOG 50000 /* phase 6: appended while no broker is there */

typedef struct {
    zsock_t *pull;
    zsock_t *pub;
    int port, ack_port;
    uint64_t epoch; /* stream seen */
    uint64_t last;  /* highest seq written */
    uint8_t written[TOTAL + BACKLOG + 1];
    uint64_t dups, gaps, received;
    double drop_records; /* probabilities of misbehaving */
    double drop_acks;
    bool paused; /* reads nothing: what is sent meanwhile waits in its queue */
    uint64_t rng;
} fake_t;

static double s_rand(fake_t *f)
{
    f->rng = f->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(f->rng >> 11) / (double)(1ULL << 53);
}

static bool fake_up(fake_t *f)
{
    f->pull = zsock_new(ZMQ_PULL);
    f->pub = zsock_new(ZMQ_PUB);
    if (!f->pull || !f->pub)
        return false;
    zsock_set_linger(f->pull, 0);
    zsock_set_linger(f->pub, 0);
    if (f->port == 0) {
        f->port = zsock_bind(f->pull, "tcp://127.0.0.1:*");
        f->ack_port = zsock_bind(f->pub, "tcp://127.0.0.1:*");
        return f->port > 0 && f->ack_port > 0;
    }
    /* Coming back on the same ports; the old listener may take a moment to go. */
    int64_t deadline = l3_time_mono_us() + 5000000;
    while (zsock_bind(f->pull, "tcp://127.0.0.1:%d", f->port) < 0) {
        if (l3_time_mono_us() > deadline)
            return false;
        zclock_sleep(10);
    }
    while (zsock_bind(f->pub, "tcp://127.0.0.1:%d", f->ack_port) < 0) {
        if (l3_time_mono_us() > deadline)
            return false;
        zclock_sleep(10);
    }
    return true;
}

static void fake_down(fake_t *f)
{
    zsock_destroy(&f->pull);
    zsock_destroy(&f->pub);
}

static void fake_publish(fake_t *f, const char *agent, l3_msg_kind_t kind, uint64_t epoch,
                         uint64_t seq)
{
    l3_buf_t buf;
    l3_buf_init(&buf, 1024);
    if (l3_msg_encode_ack(kind, agent, epoch, seq, &buf)) {
        zmsg_t *m = zmsg_new();
        zmsg_addstr(m, agent);
        zmsg_addmem(m, buf.data, buf.len);
        zmsg_send(&m, f->pub);
    }
    l3_buf_free(&buf);
}

/* Read what arrived; apply the writer's rules; ack once per batch. */
static void fake_handle(fake_t *f, const char *agent)
{
    bool any = false;
    uint64_t nack = 0;
    for (int n = 0; n < 500; n++) {
        zframe_t *fr = zframe_recv_nowait(f->pull);
        if (!fr)
            break;
        f->received++;
        l3_msg_t msg;
        l3_msg_init(&msg);
        char err[128];
        if (!l3_msg_decode(zframe_data(fr), zframe_size(fr), &msg, err, sizeof err) ||
            msg.kind != L3_MSG_RECORD) {
            fprintf(stderr, "fake: bad record: %s\n", err);
            l3_test_failures++;
        } else if (s_rand(f) < f->drop_records) {
            /* lost in a broker crash */
        } else {
            uint64_t seq = msg.record.seq;
            if (f->epoch == 0)
                f->epoch = msg.record.epoch;
            if (msg.record.epoch != f->epoch) {
                fprintf(stderr, "fake: epoch changed\n");
                l3_test_failures++;
            } else if (seq == f->last + 1 && seq <= TOTAL + BACKLOG) {
                f->written[seq]++;
                f->last = seq;
                any = true;
            } else if (seq <= f->last) {
                f->dups++;
                any = true;
            } else {
                f->gaps++;
                nack = f->last + 1;
            }
        }
        l3_msg_clear(&msg);
        zframe_destroy(&fr);
    }
    if (nack)
        fake_publish(f, agent, L3_MSG_NACK, f->epoch, nack);
    else if (any && s_rand(f) >= f->drop_acks)
        fake_publish(f, agent, L3_MSG_ACK, f->epoch, f->last);
}

static void s_command(l3_record_t *rec, uint64_t nr)
{
    l3_record_init(rec);
    rec->type = L3_RECORD_COMMAND;
    l3_text_set(rec->host, sizeof rec->host, "testhost");
    l3_text_set(rec->user, sizeof rec->user, "bob");
    l3_text_set(rec->sid, sizeof rec->sid, "20261124T211144-42-beef");
    rec->nr = nr;
    rec->start_us = l3_time_now_us();
    char out[256];
    memset(out, 'x', sizeof out);
    l3_bytes_set(&rec->output, out, sizeof out, L3_OUTPUT_MAX);
}

/* Run sender and fake together until cond holds or the deadline passes. */
static uint64_t s_cap = TOTAL; /* records appended so far may not pass this */

typedef bool (*cond_fn)(sender_t *s, fake_t *f, void *arg);

static bool s_run(sender_t *s, fake_t *f, outbox_t *box, int64_t ms, cond_fn cond, void *arg,
                  uint64_t *appended)
{
    int64_t deadline = l3_time_mono_us() + ms * 1000;
    while (l3_time_mono_us() < deadline) {
        if (cond && cond(s, f, arg))
            return true;
        /* Feed records in groups, as the daemon does. */
        for (int i = 0; i < 37 && *appended < s_cap; i++) {
            l3_record_t rec;
            s_command(&rec, *appended + 1);
            if (outbox_append(box, &rec, NULL))
                (*appended)++;
            l3_record_clear(&rec);
        }
        zmq_pollitem_t items[SENDER_POLL_MAX + 1];
        int n = sender_poll_items(s, items, SENDER_POLL_MAX);
        if (f->pull && !f->paused)
            items[n++] = (zmq_pollitem_t){zsock_resolve(f->pull), 0, ZMQ_POLLIN, 0};
        long t = sender_timeout_ms(s);
        if (t < 0 || t > 20)
            t = 20;
        zmq_poll(items, n, t);
        if (f->pull && !f->paused)
            fake_handle(f, outbox_agent(box));
        if (!sender_handle(s))
            return false;
    }
    return cond ? cond(s, f, arg) : true;
}

static bool s_written_at_least(sender_t *s, fake_t *f, void *arg)
{
    return f->last >= *(uint64_t *)arg;
}

static bool s_in_flight_past(sender_t *s, fake_t *f, void *arg)
{
    return f->last >= *(uint64_t *)arg && sender_in_flight(s) > 20;
}

static bool s_all_acked(sender_t *s, fake_t *f, void *arg)
{
    return f->last == s_cap && sender_pending(s) == 0;
}

static long s_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

int main(void)
{
    l3_log_init("test_sender", false, getenv("L3_VERBOSE") ? L3_LOG_DEBUG : L3_LOG_ERROR);
    zsys_init();
    zsys_handler_set(NULL);
    char dir[128], cfgpath[160], cmd[200];
    snprintf(dir, sizeof dir, "/tmp/l3-test-sender-%d", (int)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    mkdir(dir, 0700);

    static fake_t fake;
    fake.rng = 42;
    CHECK(fake_up(&fake));
    snprintf(cfgpath, sizeof cfgpath, "%s/lilalo.cfg", dir);
    FILE *cf = fopen(cfgpath, "w");
    fprintf(cf,
            "agent\n    curve = 0\n    brokers = \"tcp://127.0.0.1:%d\"\n"
            "    acks = \"tcp://127.0.0.1:%d\"\n    window = 64\n    ack_timeout_ms = 300\n",
            fake.port, fake.ack_port);
    fclose(cf);
    l3_config_t *config = l3_config_load(cfgpath);
    CHECK(config);
    char id[L3_ID_MAX + 1] = "";
    CHECK(sender_agent_id(config, id, sizeof id) && id[0]);
    char boxdir[200];
    snprintf(boxdir, sizeof boxdir, "%s/outbox", dir);
    /* Small segments: the sender reads across many of them while acks delete them. */
    outbox_opts_t bopts;
    outbox_opts_default(&bopts);
    bopts.segment_bytes = 64 << 10;
    outbox_t *box = outbox_open(boxdir, "agent-1", &bopts);
    CHECK(box);
    sender_t *s = box && config ? sender_new(config, box) : NULL;
    CHECK(s);
    if (!s)
        TEST_DONE();
    uint64_t appended = 0, goal;

    /* 1. Well-behaved. */
    s_cap = 1000;
    goal = 500;
    CHECK(s_run(s, &fake, box, 10000, s_written_at_least, &goal, &appended));
    CHECK(sender_in_flight(s) <= 64);

    /* Foreign acks change nothing: another agent whose id shares our prefix, another
       epoch, a seq far beyond anything sent. */
    uint64_t acked = outbox_acked_seq(box);
    fake_publish(&fake, "agent-10", L3_MSG_ACK, outbox_epoch(box), 2000);
    fake_publish(&fake, "agent-1", L3_MSG_ACK, outbox_epoch(box) + 1, 2000);
    zclock_sleep(50);
    sender_handle(s);
    /* Genuine acks may still come in, but never past what the fake wrote. */
    CHECK(outbox_acked_seq(box) >= acked && outbox_acked_seq(box) <= fake.last);
    sender_stats_t st;
    sender_stats(s, &st);
    CHECK(st.rejected >= 1);

    /* 2. Records lost on the way (gaps, nacks) and acks lost (timeouts). */
    fake.drop_records = 0.02;
    fake.drop_acks = 0.2;
    s_cap = 2000;
    goal = 1500;
    CHECK(s_run(s, &fake, box, 20000, s_written_at_least, &goal, &appended));
    fake.drop_records = 0;
    fake.drop_acks = 0;

    /* 3. The broker goes away while records are in flight, and comes back. */
    s_cap = TOTAL;
    goal = fake.last + 100;
    CHECK(s_run(s, &fake, box, 10000, s_written_at_least, &goal, &appended));
    /* It stops reading, records pile up in its queue, and it goes with them. */
    fake.paused = true;
    goal = 0;
    CHECK(s_run(s, &fake, box, 10000, s_in_flight_past, &goal, &appended));
    fake_down(&fake);
    fake.paused = false;
    CHECK(s_run(s, &fake, box, 100, NULL, NULL, &appended)); /* drain acks on their way */
    uint64_t acked_before = outbox_acked_seq(box);
    CHECK(s_run(s, &fake, box, 600, NULL, NULL, &appended));
    CHECK(outbox_acked_seq(box) == acked_before); /* nobody to ack */
    CHECK(fake_up(&fake));

    /* 4. Everything arrives, exactly once. */
    CHECK(s_run(s, &fake, box, 30000, s_all_acked, NULL, &appended));
    sender_stats(s, &st);
    printf("sent %" PRIu64 " (resent %" PRIu64 "), acks %" PRIu64 ", nacks %" PRIu64
           ", timeouts %" PRIu64 ", reconnects %" PRIu64 "; fake: received %" PRIu64
           ", dups %" PRIu64 ", gaps %" PRIu64 "\n",
           st.sent, st.resent, st.acks, st.nacks, st.timeouts, st.reconnects, fake.received,
           fake.dups, fake.gaps);
    CHECK(fake.last == TOTAL);
    int wrong = 0;
    for (int i = 1; i <= TOTAL; i++)
        wrong += fake.written[i] != 1;
    CHECK_MSG(wrong == 0, "%d records not written exactly once", wrong);
    CHECK(outbox_pending(box) == 0 && outbox_acked_seq(box) == TOTAL);
    CHECK(st.nacks > 0 && st.resent > 0 && fake.gaps > 0);
    /* What the paused fake took down with it came back only by a timeout or a reconnect
       (it was down for longer than the ack timeout). */
    CHECK(st.timeouts + st.reconnects > 0);

    /* 5. A restart: a new sender on the reopened outbox resumes where acks left off. */
    sender_destroy(&s);
    outbox_destroy(&box);
    box = outbox_open(boxdir, "agent-1", &bopts);
    CHECK(box && outbox_acked_seq(box) == TOTAL && outbox_last_seq(box) == TOTAL);
    CHECK(box && outbox_segments(box) == 1);

    /* 6. A long outage: a backlog piles up on disk with nobody to send it to, then all of
       it goes out when the broker is back, in bounded memory. */
    fake_down(&fake);
    cf = fopen(cfgpath, "w");
    fprintf(cf,
            "agent\n    curve = 0\n    brokers = \"tcp://127.0.0.1:%d\"\n"
            "    acks = \"tcp://127.0.0.1:%d\"\n    window = 1000\n    ack_timeout_ms = 300\n",
            fake.port, fake.ack_port);
    fclose(cf);
    l3_config_destroy(&config);
    config = l3_config_load(cfgpath);
    s = box && config ? sender_new(config, box) : NULL;
    CHECK(s);
    if (s) {
        long rss0 = s_rss_kb(), peak = rss0;
        for (uint64_t i = 0; i < BACKLOG; i++) {
            l3_record_t rec;
            s_command(&rec, TOTAL + i + 1);
            CHECK(outbox_append(box, &rec, NULL));
            l3_record_clear(&rec);
            if (i % 5000 == 4999) {
                sender_handle(s); /* syncs, finds nobody to send to */
                long r = s_rss_kb();
                peak = r > peak ? r : peak;
            }
        }
        appended = TOTAL + BACKLOG;
        s_cap = TOTAL + BACKLOG;
        /* Nothing acked while the broker is down. (Some records may count as in flight:
           libzmq notices the peer has gone asynchronously, so under load the first
           sends can still be queued to the dying connection; they are resent.) */
        CHECK(sender_pending(s) == BACKLOG);
        CHECK(fake_up(&fake));
        int64_t t0 = l3_time_mono_us();
        CHECK(s_run(s, &fake, box, 40000, s_all_acked, NULL, &appended));
        long r = s_rss_kb();
        peak = r > peak ? r : peak;
        printf("backlog of %d records delivered in %.2f s; RSS %ld kB -> peak %ld kB\n", BACKLOG,
               (double)(l3_time_mono_us() - t0) / 1e6, rss0, peak);
#if !defined(__SANITIZE_ADDRESS__) /* ASan's quarantine of freed memory inflates RSS */
        CHECK_MSG(peak - rss0 < 32 * 1024, "RSS grew by %ld kB", peak - rss0);
#endif
        wrong = 0;
        for (int i = 1; i <= TOTAL + BACKLOG; i++)
            wrong += fake.written[i] != 1;
        CHECK_MSG(wrong == 0, "%d records not written exactly once", wrong);
        CHECK(outbox_pending(box) == 0 && outbox_segments(box) == 1);
    }
    sender_destroy(&s);
    outbox_destroy(&box);

    fake_down(&fake);
    l3_config_destroy(&config);
    if (system(cmd) != 0)
        return 1;
    TEST_DONE();
}
