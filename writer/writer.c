/*  writer — the l3-writer daemon loop. See writer.h; protocol in docs/protocol.md. */
#include "writer.h"
#include "checkpoint.h"
#include "datafile.h"
#include "rotate.h"
#include "streams.h"
#include "l3_buf.h"
#include "l3_log.h"
#include "l3_msg.h"
#include "l3_service.h"
#include "l3_time.h"
#include "l3_xmlrec.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

/* Bad-message log lines per second; the rest are counted, so a flood of garbage cannot
   flood the log. */
#define S_DROP_LOG_PER_SEC 20
/* One nack per stream and expected seq per this interval (see streams_nack_due). */
#define S_NACK_INTERVAL_US 100000
/* writer/rotate_bytes by default: a part of 1 GiB (about 1.2 million commands) is what
   retention removes at a time and what a start without a checkpoint rescans of the live
   file; render reads all parts (render/index.h). */
#define WRITER_ROTATE_BYTES ((int64_t)1 << 30)

struct _writer_t {
    writer_opts_t opts;
    datafile_t *datafile;
    streams_t *streams;
    zsock_t *pull;
    zsock_t *pub;
    void *pull_raw;
    void *pub_raw;

    l3_buf_t batch;         /* record lines of the batch being gathered or retried */
    uint64_t batch_count;   /* records in it */
    uint64_t batch_commands; /* of which command records (parts count them) */
    int64_t batch_deadline; /* mono µs: commit by then */
    bool failing;           /* the last commit failed; retrying, not reading */
    int fail_errno;
    int64_t fail_since;
    int64_t retry_at;
    int64_t heartbeat_at;

    l3_buf_t ackbuf;        /* scratch for ack encoding */
    l3_msg_t msg;           /* scratch for decoding: a view into the received frame, owns
                               nothing (l3_msg_decode_view), so it is never cleared */

    /* rate limit of drop log lines */
    int64_t drop_window;
    int drop_logged;
    uint64_t drop_suppressed;

    /* counters for the exit summary and the metrics file */
    uint64_t n_written, n_batches, n_duplicates, n_gaps, n_dropped;
    double last_commit_time; /* Unix time */

    char *ckpt_path;        /* NULL: no checkpoint */
    uint64_t ckpt_offset;   /* committed offset of the last checkpoint saved or loaded */
    int64_t ckpt_due;       /* mono µs: save by then if anything was appended */
    bool ckpt_failing;      /* the last save failed (logged once until one works) */

    int64_t opened_us;      /* wall clock at start: the age of a part 0 (no created) */
    int64_t rotate_retry;   /* wall µs: after a failed rotation, not before then */
    pthread_t retain_thread;  /* the retention thread, while retain_running */
    bool retain_running;      /* started and not joined yet */
    atomic_bool retain_done;  /* set by the thread as it ends: join it then */
    bool retain_again;      /* a rotation while it ran: run it again when it ends */
    int64_t retain_at;      /* wall µs: run it then anyway (keep_days passes by the hour) */
};

void writer_opts_load(writer_opts_t *opts, l3_config_t *cfg)
{
    memset(opts, 0, sizeof *opts);
    opts->datafile = l3_config_str(cfg, "writer/backend_datafile", NULL);
    opts->bind = l3_config_str(cfg, "writer/bind", "tcp://127.0.0.1:5680");
    opts->ack_bind = l3_config_str(cfg, "writer/ack_bind", "tcp://127.0.0.1:5681");
    opts->batch_records = (int)l3_config_int(cfg, "writer/batch_records", 2000, 1, 1000000);
    opts->batch_ms = (int)l3_config_int(cfg, "writer/batch_ms", 2, 0, 10000);
    opts->batch_bytes =
        (size_t)l3_config_int(cfg, "writer/batch_bytes", 8 << 20, 4096, (int64_t)1 << 30);
    opts->retry_ms = (int)l3_config_int(cfg, "writer/retry_ms", 1000, 10, 600000);
    opts->heartbeat_ms = (int)l3_config_int(cfg, "writer/heartbeat_ms", 1000, 10, 600000);
    opts->max_streams =
        (size_t)l3_config_int(cfg, "writer/max_streams", 200000, 1, (int64_t)1 << 32);
    //  A torn write can only hit the last batch, which is at most batch_bytes (and one
    //  record): by default that much is fully parsed at start. More only costs start-up
    //  time (about 20 ms per MB), the one thing the checkpoint is there to bound.
    opts->verify_tail = (uint64_t)l3_config_int(cfg, "writer/verify_tail",
                                                (int64_t)opts->batch_bytes, 0, INT64_MAX);
    opts->checkpoint = l3_config_str(cfg, "writer/checkpoint", NULL);
    opts->checkpoint_bytes = (uint64_t)l3_config_int(cfg, "writer/checkpoint_bytes", 16 << 20,
                                                     4096, INT64_MAX);
    opts->checkpoint_ms =
        (int)l3_config_int(cfg, "writer/checkpoint_ms", 60000, 10, 86400000);
    opts->rotate.rotate_bytes =
        (uint64_t)l3_config_int(cfg, "writer/rotate_bytes", WRITER_ROTATE_BYTES, 0,
                                (int64_t)1 << 40);
    opts->rotate.rotate_seconds =
        l3_config_int(cfg, "writer/rotate_seconds", 0, 0, 100LL * 366 * 86400);
    opts->rotate.keep_bytes =
        (uint64_t)l3_config_int(cfg, "writer/keep_bytes", 0, 0, INT64_MAX);
    opts->rotate.keep_days = l3_config_int(cfg, "writer/keep_days", 0, 0, 100000);
    const char *retention = l3_config_str(cfg, "writer/retention", "delete");
    opts->rotate.archive = strcmp(retention, "archive") == 0;
    if (!opts->rotate.archive && strcmp(retention, "delete") != 0)
        l3_warn("writer/retention = \"%s\": not delete or archive; deleting", retention);
}

/* Write a printable form of an untrusted frame into buf for a log line. */
static void s_printable(const void *data, size_t len, char *buf, size_t size)
{
    const uint8_t *p = data;
    size_t w = 0;
    for (size_t i = 0; i < len && w + 5 < size; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' && p[i] != '"')
            buf[w++] = (char)p[i];
        else
            w += (size_t)snprintf(buf + w, size - w, "\\x%02x", p[i]);
    }
    if (w + 4 < size && len > 0 && w >= size - 5)
        w += (size_t)snprintf(buf + w, size - w, "...");
    buf[w < size ? w : size - 1] = 0;
}

static void s_drop(writer_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_drop(writer_t *self, const char *fmt, ...)
{
    self->n_dropped++;
    int64_t now = l3_time_mono_us();
    if (now - self->drop_window >= 1000000) {
        if (self->drop_suppressed)
            l3_warn("%" PRIu64 " more dropped messages were not logged", self->drop_suppressed);
        self->drop_window = now;
        self->drop_logged = 0;
        self->drop_suppressed = 0;
    }
    if (self->drop_logged >= S_DROP_LOG_PER_SEC) {
        self->drop_suppressed++;
        return;
    }
    self->drop_logged++;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    l3_warn("dropped: %s", line);
}

/* Publish an ack or nack to the stream's agent; PUB never blocks (drops at HWM), and a
   lost ack only costs a resend, which is re-acked. */
static void s_send_ack(writer_t *self, l3_msg_kind_t kind, const char *agent, uint64_t epoch,
                       uint64_t seq)
{
    l3_buf_reset(&self->ackbuf);
    if (!l3_msg_encode_ack(kind, agent, epoch, seq, &self->ackbuf)) {
        l3_error("cannot encode an ack for %s", agent);
        return;
    }
    zmq_send(self->pub_raw, agent, strlen(agent), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->pub_raw, self->ackbuf.data, self->ackbuf.len, ZMQ_DONTWAIT);
}

static void s_ack_committed(const streams_info_t *info, void *arg)
{
    s_send_ack(arg, L3_MSG_ACK, info->agent, info->epoch, info->disk);
}

static void s_send_commit(writer_t *self)
{
    //  "<offset>", or "<offset> <part>" once the datafile was rotated: the offset is then
    //  in that part, and a reader following an older one must move on (docs/protocol.md).
    char offset[48];
    uint32_t part = datafile_head(self->datafile)->part;
    int len = part ? snprintf(offset, sizeof offset, "%" PRIu64 " %" PRIu32,
                              datafile_committed(self->datafile), part)
                   : snprintf(offset, sizeof offset, "%" PRIu64,
                              datafile_committed(self->datafile));
    zmq_send(self->pub_raw, "$commit", 7, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->pub_raw, offset, (size_t)len, ZMQ_DONTWAIT);
}

static void s_load_line(const datafile_line_t *line, void *arg)
{
    bool *ok = ((void **)arg)[1];
    if (!streams_load(((void **)arg)[0], line->agent, line->epoch, line->seq))
        *ok = false;
}

static bool s_load_stream(const char *agent, uint64_t epoch, uint64_t seq, void *arg)
{
    return streams_load(arg, agent, epoch, seq);
}

/* Read and check the checkpoint file; true when resume may be offered to datafile_new. */
static bool s_checkpoint_read(writer_t *self, datafile_resume_t *resume, char **text,
                              size_t *len)
{
    char why[192];
    bool missing;
    *text = checkpoint_read(self->ckpt_path, len, &missing, why, sizeof why);
    if (!*text) {
        if (!missing)
            l3_warn("checkpoint %s not used (%s); scanning the whole datafile",
                    self->ckpt_path, why);
        return false;
    }
    if (!checkpoint_parse(*text, *len, resume, NULL, NULL, why, sizeof why)) {
        l3_warn("checkpoint %s not used: %s; scanning the whole datafile", self->ckpt_path,
                why);
        return false;
    }
    return true;
}

/* Save the stream table as of the committed offset (right after a commit). A failure is
   logged once and costs only start-up time: the next restart scans more. */
static void s_checkpoint_save(writer_t *self, int64_t now)
{
    char why[192];
    self->ckpt_due = now + (int64_t)self->opts.checkpoint_ms * 1000;
    if (!self->ckpt_path || datafile_committed(self->datafile) == self->ckpt_offset)
        return;
    if (!checkpoint_save(self->ckpt_path, self->datafile, self->streams, why, sizeof why)) {
        if (!self->ckpt_failing)
            l3_warn("checkpoint %s: %s; a restart will scan the datafile from offset %" PRIu64,
                    self->ckpt_path, why, self->ckpt_offset);
        self->ckpt_failing = true;
        return;
    }
    if (self->ckpt_failing)
        l3_info("checkpoint %s written again", self->ckpt_path);
    self->ckpt_failing = false;
    self->ckpt_offset = datafile_committed(self->datafile);
}

writer_t *writer_new(const writer_opts_t *opts, char *err, size_t errlen)
{
    writer_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->opts = *opts;
    l3_buf_init(&self->batch, opts->batch_bytes + DATAFILE_LINE_MAX);
    l3_buf_init(&self->ackbuf, 4096);
    l3_msg_init(&self->msg);
    bool ok = false;

    if (!opts->datafile || !*opts->datafile) {
        snprintf(err, errlen, "no datafile: set writer/backend_datafile or give --datafile");
        goto cleanup;
    }
    self->streams = streams_new(opts->max_streams);
    if (!self->streams) {
        snprintf(err, errlen, "out of memory");
        goto cleanup;
    }
    if (!opts->checkpoint) {
        size_t n = strlen(opts->datafile) + sizeof ".streams";
        self->ckpt_path = malloc(n);
        if (self->ckpt_path)
            snprintf(self->ckpt_path, n, "%s.streams", opts->datafile);
    } else if (*opts->checkpoint)
        self->ckpt_path = strdup(opts->checkpoint);
    if ((!opts->checkpoint || *opts->checkpoint) && !self->ckpt_path) {
        snprintf(err, errlen, "out of memory");
        goto cleanup;
    }
    bool loaded = true;
    void *ctx[2] = {self->streams, &loaded};
    int64_t t0 = l3_time_mono_us();
    self->opened_us = l3_time_now_us();
    if (!rotate_recover(opts->datafile, err, errlen) ||
        !rotate_ensure_live(opts->datafile, err, errlen))
        goto cleanup;
    datafile_resume_t resume = {0};
    char *ckpt_text = NULL;
    size_t ckpt_len = 0;
    bool offer = self->ckpt_path && s_checkpoint_read(self, &resume, &ckpt_text, &ckpt_len);
    self->datafile = datafile_new(opts->datafile, opts->verify_tail, offer ? &resume : NULL,
                                  s_load_line, ctx, err, errlen, NULL);
    if (self->datafile && offer && resume.used) {
        char why[192];
        if (!checkpoint_parse(ckpt_text, ckpt_len, &resume, s_load_stream, self->streams, why,
                              sizeof why))
            loaded = false; /* it parsed a moment ago: only the table's cap can refuse */
        else
            self->ckpt_offset = resume.offset;
        l3_info("checkpoint %s: stream table as of offset %" PRIu64 ", %" PRIu64
                " bytes scanned after it",
                self->ckpt_path, resume.offset, datafile_committed(self->datafile) - resume.offset);
    } else if (self->datafile && offer)
        l3_warn("checkpoint %s not used: %s; scanned the whole datafile", self->ckpt_path,
                resume.why);
    free(ckpt_text);
    if (!self->datafile)
        goto cleanup;
    //  Without a checkpoint to trust, the records of the closed parts are in no table:
    //  read them, or a record resent from before a rotation would be written twice.
    if (!(offer && resume.used) &&
        !rotate_scan_parts(opts->datafile, s_load_line, ctx, err, errlen))
        goto cleanup;
    if (!loaded) {
        snprintf(err, errlen,
                 "datafile %s has more streams than writer/max_streams (%zu); raise it",
                 opts->datafile, opts->max_streams);
        goto cleanup;
    }
    l3_info("datafile %s: %" PRIu64 " records, %zu streams, committed offset %" PRIu64
            ", scanned in %.3f s",
            opts->datafile, datafile_records(self->datafile), streams_size(self->streams),
            datafile_committed(self->datafile), (double)(l3_time_mono_us() - t0) / 1e6);

    self->pull = zsock_new(ZMQ_PULL);
    self->pub = zsock_new(ZMQ_PUB);
    if (!self->pull || !self->pub) {
        snprintf(err, errlen, "cannot create sockets: %s", zmq_strerror(zmq_errno()));
        goto cleanup;
    }
    /* The PULL faces the brokers, i.e. the network. */
    zsock_set_maxmsgsize(self->pull, (int64_t)L3_MSG_MAX);
    /* A short receive queue: while a commit is retried (disk full) we stop reading, and
       what waits should wait in the brokers and the agents' outboxes, not in our RSS. */
    zsock_set_rcvhwm(self->pull, 1000);
    zsock_set_sndhwm(self->pub, 100000);
    zsock_set_linger(self->pub, 200);
    zsock_set_linger(self->pull, 0);
    if (zsock_bind(self->pull, "%s", opts->bind) < 0) {
        snprintf(err, errlen, "cannot bind %s (writer/bind): %s", opts->bind,
                 zmq_strerror(zmq_errno()));
        goto cleanup;
    }
    if (zsock_bind(self->pub, "%s", opts->ack_bind) < 0) {
        snprintf(err, errlen, "cannot bind %s (writer/ack_bind): %s", opts->ack_bind,
                 zmq_strerror(zmq_errno()));
        goto cleanup;
    }
    self->pull_raw = zsock_resolve(self->pull);
    self->pub_raw = zsock_resolve(self->pub);
    ok = true;
cleanup:
    if (!ok)
        writer_destroy(&self);
    return self;
}

void writer_destroy(writer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    writer_t *self = *self_p;
    if (self->retain_running) {
        l3_info("waiting for the retention of old parts to finish");
        pthread_join(self->retain_thread, NULL);
    }
    zsock_destroy(&self->pull);
    zsock_destroy(&self->pub);
    datafile_destroy(&self->datafile);
    streams_destroy(&self->streams);
    free(self->ckpt_path);
    l3_buf_free(&self->batch);
    l3_buf_free(&self->ackbuf);
    free(self);
    *self_p = NULL;
}

/* One message from the PULL socket: [agent id][msgpack]. */
static void s_handle(writer_t *self, zmq_msg_t *idf, zmq_msg_t *body)
{
    char id[L3_ID_MAX + 1];
    char shown[160];
    size_t idlen = zmq_msg_size(idf);
    if (idlen == 0 || idlen > L3_ID_MAX || memchr(zmq_msg_data(idf), 0, idlen)) {
        s_printable(zmq_msg_data(idf), idlen, shown, sizeof shown);
        s_drop(self, "bad agent id frame \"%s\" (%zu bytes)", shown, idlen);
        return;
    }
    memcpy(id, zmq_msg_data(idf), idlen);
    id[idlen] = 0;
    if (!l3_id_valid(id)) {
        s_printable(id, idlen, shown, sizeof shown);
        s_drop(self, "bad agent id frame \"%s\"", shown);
        return;
    }
    char why[256];
    /* The record's byte fields point into body, which outlives this function's use of
       them: they are encoded into the batch below, never kept. */
    l3_msg_t *msg = &self->msg;
    if (!l3_msg_decode_view(zmq_msg_data(body), zmq_msg_size(body), msg, why, sizeof why)) {
        s_drop(self, "message from agent %s (%zu bytes): %s", id, zmq_msg_size(body), why);
        return;
    }
    if (msg->kind != L3_MSG_RECORD) {
        s_drop(self, "message from agent %s is not a record", id);
        return;
    }
    l3_record_t *rec = &msg->record;
    /* The broker's id frame is the authenticated identity; the record's own claim is not. */
    memcpy(rec->agent, id, idlen + 1);

    /* Encode first, straight into the batch, and keep it only if the stream wants it:
       the common case (in order) then costs no copy. */
    size_t mark = self->batch.len;
    if (!l3_xmlrec_write(rec, &self->batch)) {
        self->batch.len = mark;
        self->batch.failed = false;
        s_drop(self, "record %" PRIu64 "/%" PRIu64 " of agent %s cannot be encoded", rec->epoch,
               rec->seq, id);
        return;
    }
    streams_info_t info;
    switch (streams_offer(self->streams, id, rec->epoch, rec->seq, &info)) {
    case STREAMS_WRITE:
        if (self->batch_count++ == 0)
            self->batch_deadline = l3_time_mono_us() + (int64_t)self->opts.batch_ms * 1000;
        if (rec->type == L3_RECORD_COMMAND)
            self->batch_commands++;
        break;
    case STREAMS_DUPLICATE:
        self->batch.len = mark;
        self->n_duplicates++;
        s_send_ack(self, L3_MSG_ACK, id, rec->epoch, info.disk);
        break;
    case STREAMS_PENDING:
        /* Its ack leaves with the commit of the batch that holds it. */
        self->batch.len = mark;
        self->n_duplicates++;
        break;
    case STREAMS_GAP:
        self->batch.len = mark;
        self->n_gaps++;
        l3_debug("gap: agent %s epoch %" PRIu64 " seq %" PRIu64 ", expected %" PRIu64, id,
                 rec->epoch, rec->seq, info.pending + 1);
        if (streams_nack_due(self->streams, id, rec->epoch, info.pending + 1,
                             l3_time_mono_us(), S_NACK_INTERVAL_US))
            s_send_ack(self, L3_MSG_NACK, id, rec->epoch, info.pending + 1);
        break;
    case STREAMS_FULL:
        self->batch.len = mark;
        s_drop(self, "agent %s epoch %" PRIu64 ": stream table full (writer/max_streams)", id,
               rec->epoch);
        break;
    }
}

/* Read what is waiting on PULL, up to the batch limits. */
static void s_drain(writer_t *self)
{
    zmq_msg_t idf, body;
    zmq_msg_init(&idf);
    zmq_msg_init(&body);
    while (self->batch_count < (uint64_t)self->opts.batch_records &&
           self->batch.len < self->opts.batch_bytes) {
        if (zmq_msg_recv(&idf, self->pull_raw, ZMQ_DONTWAIT) < 0)
            break; /* EAGAIN or EINTR */
        if (!zmq_msg_more(&idf)) {
            char shown[160];
            s_printable(zmq_msg_data(&idf), zmq_msg_size(&idf), shown, sizeof shown);
            s_drop(self, "one-frame message (no agent id frame): \"%s\"", shown);
            continue;
        }
        /* The rest of a multipart message is already here: ZeroMQ delivers it whole. */
        if (zmq_msg_recv(&body, self->pull_raw, 0) < 0)
            break;
        if (zmq_msg_more(&body)) {
            char shown[160];
            s_printable(zmq_msg_data(&idf), zmq_msg_size(&idf), shown, sizeof shown);
            while (zmq_msg_more(&body) && zmq_msg_recv(&body, self->pull_raw, 0) >= 0)
                ;
            s_drop(self, "message with more than two frames from agent id frame \"%s\"", shown);
            continue;
        }
        s_handle(self, &idf, &body);
    }
    zmq_msg_close(&idf);
    zmq_msg_close(&body);
}

/* Write the batch; ack on success, hold it and schedule a retry on failure. */
static void s_commit(writer_t *self)
{
    int64_t now = l3_time_mono_us();
    int rc = datafile_append(self->datafile, self->batch.data, self->batch.len,
                             self->batch_count, self->batch_commands);
    if (rc) {
        if (!self->failing || rc != self->fail_errno)
            l3_error("cannot write datafile %s: %s; not acknowledging, holding %" PRIu64
                     " records (%zu bytes) in memory, not reading new ones, retrying every %d "
                     "ms",
                     datafile_path(self->datafile), strerror(rc), self->batch_count,
                     self->batch.len, self->opts.retry_ms);
        if (!self->failing)
            self->fail_since = now;
        self->failing = true;
        self->fail_errno = rc;
        self->retry_at = now + (int64_t)self->opts.retry_ms * 1000;
        return;
    }
    if (self->failing) {
        l3_info("datafile %s writable again after %.1f s; %" PRIu64 " held records committed",
                datafile_path(self->datafile), (double)(now - self->fail_since) / 1e6,
                self->batch_count);
        self->failing = false;
    }
    self->n_batches++;
    self->n_written += self->batch_count;
    self->last_commit_time = (double) time(NULL);
    streams_commit(self->streams, s_ack_committed, self);
    s_send_commit(self);
    if (datafile_committed(self->datafile) - self->ckpt_offset >= self->opts.checkpoint_bytes)
        s_checkpoint_save(self, now);
    self->heartbeat_at = now + (int64_t)self->opts.heartbeat_ms * 1000;
    self->batch_count = 0;
    self->batch_commands = 0;
    /* Keep the allocation for the next batch unless one huge record blew it up. */
    if (self->batch.cap > 2 * self->opts.batch_bytes) {
        size_t limit = self->batch.limit;
        l3_buf_free(&self->batch);
        l3_buf_init(&self->batch, limit);
    } else
        l3_buf_reset(&self->batch);
}

/* Retention runs in a thread of its own: archiving a part of a gigabyte takes tens of
   seconds, and the loop must go on committing and acking meanwhile. It touches only
   closed parts and shares nothing with the loop but the options, which do not change.
   (Not a forked child: after fork only async-signal-safe calls are safe in a process with
   threads, and ZeroMQ's I/O threads are there; a child that took a lock another thread
   held at the fork hung, and the writer's stop with it.) */
static void *s_retain_main(void *arg)
{
    writer_t *self = arg;
    rotate_retain(self->opts.datafile, &self->opts.rotate, l3_time_now_us());
    atomic_store(&self->retain_done, true);
    return NULL;
}

static void s_retain(writer_t *self)
{
    const rotate_opts_t *ro = &self->opts.rotate;
    if (!ro->keep_bytes && !ro->keep_days)
        return;
    if (self->retain_running) {
        self->retain_again = true;
        return;
    }
    self->retain_again = false;
    self->retain_at = l3_time_now_us() + 3600 * 1000000LL;
    atomic_store(&self->retain_done, false);
    int rc = pthread_create(&self->retain_thread, NULL, s_retain_main, self);
    if (rc)
        l3_error("retention: cannot start its thread: %s", strerror(rc));
    else
        self->retain_running = true;
}

static void s_retain_reap(writer_t *self)
{
    if (self->retain_running && atomic_load(&self->retain_done)) {
        pthread_join(self->retain_thread, NULL);
        self->retain_running = false;
        if (self->retain_again)
            s_retain(self);
    }
    if (!self->retain_running && self->retain_at && l3_time_now_us() >= self->retain_at)
        s_retain(self);
}

/* Between commits (nothing uncommitted): close the live part and start the next one when
   it is big or old enough. */
static void s_maybe_rotate(writer_t *self)
{
    if (self->failing || self->batch_count)
        return;
    int64_t now = l3_time_now_us();
    if (now < self->rotate_retry ||
        !rotate_due(&self->opts.rotate, self->datafile, self->opened_us, now))
        return;
    char err[512];
    if (!rotate_now(&self->datafile, self->streams, self->ckpt_path, now, err, sizeof err)) {
        l3_error("cannot rotate the datafile: %s; still appending to it, next try in 60 s",
                 err);
        self->rotate_retry = now + 60 * 1000000LL;
        return;
    }
    self->ckpt_offset = datafile_committed(self->datafile);
    s_send_commit(self);
    s_retain(self);
}

int writer_run(writer_t *self)
{
    l3_info("ready: datafile %s, records on %s, acks on %s (batch %d records / %d ms)",
            datafile_path(self->datafile), self->opts.bind, self->opts.ack_bind,
            self->opts.batch_records, self->opts.batch_ms);
    l3_service_ready("datafile %s, records on %s", datafile_path(self->datafile),
                     self->opts.bind);
    self->heartbeat_at = l3_time_mono_us();
    s_retain(self); /* parts that aged past keep_days while the writer was down */
    while (!zsys_interrupted) {
        int64_t now = l3_time_mono_us();
        int64_t wake = self->heartbeat_at;
        if (self->failing)
            wake = self->retry_at < wake ? self->retry_at : wake;
        else if (self->batch_count)
            wake = self->batch_deadline < wake ? self->batch_deadline : wake;
        bool full = self->batch_count >= (uint64_t)self->opts.batch_records ||
                    self->batch.len >= self->opts.batch_bytes;
        bool reading = !self->failing && !full;
        long timeout_ms = wake > now ? (long)((wake - now + 999) / 1000) : 0;
        timeout_ms = l3_service_watchdog(timeout_ms);
        zmq_pollitem_t item = {.socket = self->pull_raw, .events = ZMQ_POLLIN};
        int rc;
        if (full && !self->failing)
            rc = 0;
        else
            rc = zmq_poll(reading ? &item : NULL, reading ? 1 : 0, timeout_ms);
        if (rc < 0 && zmq_errno() != EINTR) {
            l3_error("poll: %s", zmq_strerror(zmq_errno()));
            break;
        }
        if (rc > 0 && reading)
            s_drain(self);
        now = l3_time_mono_us();
        if (self->failing) {
            if (now >= self->retry_at)
                s_commit(self);
        } else if (self->batch_count &&
                   (now >= self->batch_deadline ||
                    self->batch_count >= (uint64_t)self->opts.batch_records ||
                    self->batch.len >= self->opts.batch_bytes))
            s_commit(self);
        s_maybe_rotate(self);
        s_retain_reap(self);
        if (!self->failing && now >= self->ckpt_due)
            s_checkpoint_save(self, now);
        if (now >= self->heartbeat_at) {
            s_send_commit(self);
            self->heartbeat_at = now + (int64_t)self->opts.heartbeat_ms * 1000;
        }
    }
    l3_service_stopping();
    if (self->batch_count && !self->failing)
        s_commit(self); /* a clean stop commits what it has; agents would resend anyway */
    if (!self->failing)
        s_checkpoint_save(self, l3_time_mono_us()); /* the next start scans nothing */
    l3_info("stopping: %" PRIu64 " records written in %" PRIu64 " batches, %" PRIu64
            " duplicates, %" PRIu64 " gaps, %" PRIu64 " dropped%s",
            self->n_written, self->n_batches, self->n_duplicates, self->n_gaps, self->n_dropped,
            self->failing ? "; an uncommitted batch was not acknowledged" : "");
    return 0;
}

void writer_stats(writer_t *self, writer_stats_t *st)
{
    *st = (writer_stats_t){
        .written = self->n_written,
        .commits = self->n_batches,
        .duplicates = self->n_duplicates,
        .gaps = self->n_gaps,
        .dropped = self->n_dropped,
        .datafile_bytes = datafile_committed(self->datafile),
        .last_commit_time = self->last_commit_time,
        .failing = self->failing,
    };
}
