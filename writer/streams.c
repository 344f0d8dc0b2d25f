/*  streams — the writer's dedup table. See streams.h. */
#include "streams.h"
#include "l3_record.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Streams remembered for the lookup fast path (see streams_t.recent). */
#define S_RECENT 8

typedef struct {
    char agent[L3_ID_MAX + 1];
    uint64_t epoch;
    uint64_t disk;
    uint64_t pending;
    uint64_t nacked;   /* expected seq of the last nack sent, 0 none */
    int64_t nacked_at; /* when, µs */
    bool touched;
} s_stream_t;

struct _streams_t {
    zhashx_t *table;  /* "agent/epoch" -> s_stream_t, owned */
    s_stream_t **touched; /* streams with records in the uncommitted batch */
    size_t touched_len, touched_cap;
    size_t max_streams;
    /* Streams of the latest lookups, most recent first. A broker interleaves the agents it
       serves record by record, so one remembered stream misses all the time under load;
       a few cover the common case without formatting and hashing a key per record.
       Streams are never freed while the table lives, so the pointers stay valid. */
    s_stream_t *recent[S_RECENT];
};

static void s_stream_free(void **item)
{
    free(*item);
    *item = NULL;
}

/* Key of a stream; agent ids never contain '/', so the key is unambiguous. */
static void s_key(char *key, size_t size, const char *agent, uint64_t epoch)
{
    snprintf(key, size, "%s/%" PRIx64, agent, epoch);
}

/* Put a stream at the front of the recent list, dropping the oldest. */
static void s_remember(streams_t *self, s_stream_t *stream)
{
    memmove(&self->recent[1], &self->recent[0], (S_RECENT - 1) * sizeof stream);
    self->recent[0] = stream;
}

static s_stream_t *s_find(streams_t *self, const char *agent, uint64_t epoch, bool create)
{
    /* A batch, and so a run of datafile lines, is mostly a few streams: skip the key
       formatting and hashing for one seen lately (epochs are random, so comparing them
       first rules out almost every other stream without a strcmp). */
    for (int i = 0; i < S_RECENT && self->recent[i]; i++) {
        s_stream_t *hit = self->recent[i];
        if (hit->epoch == epoch && strcmp(hit->agent, agent) == 0) {
            if (i > 0) {
                memmove(&self->recent[1], &self->recent[0], (size_t)i * sizeof hit);
                self->recent[0] = hit;
            }
            return hit;
        }
    }
    char key[L3_ID_MAX + 24];
    s_key(key, sizeof key, agent, epoch);
    s_stream_t *stream = zhashx_lookup(self->table, key);
    if (stream)
        s_remember(self, stream);
    if (stream || !create)
        return stream;
    if (self->max_streams && zhashx_size(self->table) >= self->max_streams)
        return NULL;
    stream = calloc(1, sizeof *stream);
    if (!stream)
        return NULL;
    snprintf(stream->agent, sizeof stream->agent, "%s", agent);
    stream->epoch = epoch;
    if (zhashx_insert(self->table, key, stream) != 0) {
        free(stream);
        return NULL;
    }
    s_remember(self, stream);
    return stream;
}

streams_t *streams_new(size_t max_streams)
{
    streams_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->table = zhashx_new();
    if (!self->table) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->table, s_stream_free);
    self->max_streams = max_streams;
    return self;
}

void streams_destroy(streams_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    streams_t *self = *self_p;
    zhashx_destroy(&self->table);
    free(self->touched);
    free(self);
    *self_p = NULL;
}

bool streams_load(streams_t *self, const char *agent, uint64_t epoch, uint64_t seq)
{
    s_stream_t *stream = s_find(self, agent, epoch, true);
    if (!stream)
        return false;
    if (seq > stream->disk)
        stream->disk = seq;
    if (stream->disk > stream->pending)
        stream->pending = stream->disk;
    return true;
}

static void s_info(const s_stream_t *stream, streams_info_t *info)
{
    if (!info)
        return;
    info->agent = stream->agent;
    info->epoch = stream->epoch;
    info->disk = stream->disk;
    info->pending = stream->pending;
}

streams_verdict_t streams_offer(streams_t *self, const char *agent, uint64_t epoch,
                                uint64_t seq, streams_info_t *info)
{
    /* Only a stream's first record creates it, so records that go nowhere (gaps of
       unknown streams) cannot fill the table. */
    s_stream_t *stream = s_find(self, agent, epoch, seq == 1);
    if (!stream) {
        if (info)
            memset(info, 0, sizeof *info);
        if (seq == 1)
            return STREAMS_FULL;
        if (info) {
            info->agent = agent;
            info->epoch = epoch;
        }
        return STREAMS_GAP;
    }
    streams_verdict_t verdict;
    if (seq <= stream->disk)
        verdict = STREAMS_DUPLICATE;
    else if (seq <= stream->pending)
        verdict = STREAMS_PENDING;
    else if (seq > stream->pending + 1)
        verdict = STREAMS_GAP;
    else {
        if (!stream->touched) {
            if (self->touched_len == self->touched_cap) {
                size_t cap = self->touched_cap ? self->touched_cap * 2 : 64;
                s_stream_t **grown = realloc(self->touched, cap * sizeof *grown);
                if (!grown) {
                    if (info)
                        memset(info, 0, sizeof *info);
                    return STREAMS_FULL;
                }
                self->touched = grown;
                self->touched_cap = cap;
            }
            self->touched[self->touched_len++] = stream;
            stream->touched = true;
        }
        stream->pending = seq;
        verdict = STREAMS_WRITE;
    }
    s_info(stream, info);
    return verdict;
}

bool streams_nack_due(streams_t *self, const char *agent, uint64_t epoch, uint64_t expected,
                      int64_t now_us, int64_t interval_us)
{
    s_stream_t *stream = s_find(self, agent, epoch, false);
    if (!stream)
        return true;
    if (stream->nacked == expected && now_us - stream->nacked_at < interval_us)
        return false;
    stream->nacked = expected;
    stream->nacked_at = now_us;
    return true;
}

void streams_commit(streams_t *self, streams_ack_fn *fn, void *arg)
{
    for (size_t i = 0; i < self->touched_len; i++) {
        s_stream_t *stream = self->touched[i];
        stream->disk = stream->pending;
        stream->touched = false;
        if (fn) {
            streams_info_t info;
            s_info(stream, &info);
            fn(&info, arg);
        }
    }
    self->touched_len = 0;
}

size_t streams_size(streams_t *self)
{
    return zhashx_size(self->table);
}

uint64_t streams_disk(streams_t *self, const char *agent, uint64_t epoch)
{
    s_stream_t *stream = s_find(self, agent, epoch, false);
    return stream ? stream->disk : 0;
}

void streams_each(streams_t *self, streams_each_fn *fn, void *arg)
{
    for (s_stream_t *stream = zhashx_first(self->table); stream;
         stream = zhashx_next(self->table))
        if (stream->disk > 0)
            fn(stream->agent, stream->epoch, stream->disk, arg);
}
