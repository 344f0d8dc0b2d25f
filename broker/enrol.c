/*  enrol — join requests on the broker's enrolment socket. See enrol.h. */
#include "enrol.h"
#include "l3_curve.h"
#include "l3_fs.h"
#include "l3_join.h"
#include "l3_log.h"
#include "l3_time.h"
#include "pending.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#define ENROL_BATCH 64
#define ENROL_LOG_BURST 20        /* log lines a flood may cause per window... */
#define ENROL_LOG_WINDOW_MS 10000 /* ...then one summary */
#define ENROL_HWM 100             /* requests queued per connection */

struct enrol_t {
    zsock_t *sock;
    void *handle;
    keyring_t *keyring; /* borrowed: the broker's */
    char *dir;
    size_t max;
    char endpoint[256];
    l3_buf_t reply;
    unsigned logged;
    uint64_t suppressed;
    int64_t window_start;
};

/* Rate limit for lines a remote peer causes: a flood must not fill the log either. */
static bool s_log_allowed(enrol_t *self)
{
    int64_t now = zclock_mono();
    if (now - self->window_start >= ENROL_LOG_WINDOW_MS) {
        if (self->suppressed)
            l3_warn("enrol: %" PRIu64 " more join-request log lines not logged in %.0f s",
                    self->suppressed, (double)(now - self->window_start) / 1000.0);
        self->window_start = now;
        self->logged = 0;
        self->suppressed = 0;
    }
    if (self->logged < ENROL_LOG_BURST) {
        self->logged++;
        return true;
    }
    self->suppressed++;
    return false;
}

bool enrol_new(l3_config_t *config, zcert_t *server_cert, keyring_t *keyring, const char *address,
               enrol_t **out)
{
    *out = NULL;
    int64_t port = l3_config_int(config, "broker/enrol_port", 0, 0, 65535);
    if (port == 0)
        return true;
    enrol_t *self = zmalloc(sizeof *self);
    if (!self)
        return false;
    self->keyring = keyring;
    self->max =
        (size_t)l3_config_int(config, "broker/pending_max", ENROL_PENDING_MAX_DEFAULT, 1, 100000);
    self->dir = strdup(l3_config_str(config, "broker/pending_keys", "/var/lib/lilalo/pending"));
    l3_buf_init(&self->reply, L3_JOIN_MAX);
    if (!self->dir)
        goto fail;
    if (!l3_mkdirs(self->dir, 0700) || access(self->dir, W_OK) != 0) {
        l3_error("broker/pending_keys %s: cannot create or write it (%s); set enrol_port = 0 to "
                 "run without enrolment",
                 self->dir, strerror(errno));
        goto fail;
    }
    self->sock = zsock_new(ZMQ_ROUTER);
    if (!self->sock)
        goto fail;
    self->handle = zsock_resolve(self->sock);
    if (!l3_curve_server_setup(self->sock, server_cert, ENROL_ZAP_DOMAIN))
        goto fail;
    /* After l3_curve_server_setup, which sets the records' limit: a join is far smaller. */
    int64_t max_size = L3_JOIN_MAX;
    zmq_setsockopt(self->handle, ZMQ_MAXMSGSIZE, &max_size, sizeof max_size);
    zsock_set_rcvhwm(self->sock, ENROL_HWM);
    zsock_set_sndhwm(self->sock, ENROL_HWM);
    zsock_set_linger(self->sock, 0);
    bool v6 = strchr(address, ':') != NULL;
    if (v6)
        zsock_set_ipv6(self->sock, 1);
    snprintf(self->endpoint, sizeof self->endpoint,
             v6 && address[0] != '[' ? "tcp://[%s]:%" PRId64 : "tcp://%s:%" PRId64, address, port);
    if (zsock_bind(self->sock, "%s", self->endpoint) < 0) {
        l3_error("enrol: cannot bind %s: %s", self->endpoint, zmq_strerror(zmq_errno()));
        goto fail;
    }
    l3_info("enrol: join requests on %s, kept in %s (at most %zu pending)", self->endpoint,
            self->dir, self->max);
    *out = self;
    return true;
fail:
    enrol_destroy(&self);
    return false;
}

void enrol_destroy(enrol_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    enrol_t *self = *self_p;
    zsock_destroy(&self->sock);
    l3_buf_free(&self->reply);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

void *enrol_socket(enrol_t *self)
{
    return self->handle;
}

bool enrol_is_pending(enrol_t *self, const char *agent_id)
{
    char path[4096];
    return pending_path(self->dir, agent_id, path, sizeof path) && access(path, F_OK) == 0;
}

/* Decide the answer to one join request from the key of the connection. */
static void s_answer(enrol_t *self, const uint8_t *key, const char *id, const char *peer,
                     const void *data, size_t len, l3_join_reply_t *reply)
{
    l3_join_t join;
    char err[512];
    memset(reply, 0, sizeof *reply);
    reply->status = L3_JOIN_REFUSED;
    if (!l3_join_decode(data, len, &join, err, sizeof err)) {
        if (s_log_allowed(self))
            l3_warn("enrol: bad join request from %s (agent %s): %s", peer, id, err);
        snprintf(reply->text, sizeof reply->text, "bad join request: %.200s", err);
        return;
    }
    snprintf(reply->host, sizeof reply->host, "%s", join.host);
    int64_t skew = join.ts - l3_time_now_us();
    if (skew > L3_JOIN_SKEW_US || skew < -L3_JOIN_SKEW_US) {
        if (s_log_allowed(self))
            l3_warn("enrol: join request from %s (agent %s, host \"%s\") refused: its clock is "
                    "%+.0f s off",
                    peer, id, join.host, (double)skew / 1e6);
        snprintf(reply->text, sizeof reply->text,
                 "your clock is %+.0f s off the broker's (at most %lld s allowed)",
                 (double)skew / 1e6, L3_JOIN_SKEW_US / 1000000);
        return;
    }
    /* Approved already (l3-hosts approve): say which host the key is bound to, so
       `l3-agent --enrol --wait` can stop. */
    keyring_refresh(self->keyring, KEYRING_RELOAD_MS);
    const keyring_entry_t *entry = keyring_lookup(self->keyring, id);
    if (entry && entry->host && !entry->conflict) {
        reply->status = L3_JOIN_ENROLLED;
        snprintf(reply->host, sizeof reply->host, "%s", entry->host);
        snprintf(reply->text, sizeof reply->text, "records of this key are stored as host \"%s\"",
                 entry->host);
        return;
    }
    if (entry) {
        snprintf(reply->text, sizeof reply->text,
                 "the key is in allowed_keys (%s) but binds no host or is in conflict; ask the "
                 "broker's administrator",
                 entry->file);
        return;
    }
    switch (pending_store(self->dir, self->max, key, &join, peer, err, sizeof err)) {
    case PENDING_STORED:
        l3_info("enrol: host \"%s\" (agent %s) from %s asks to join; approve with `l3-hosts "
                "approve %s`",
                join.host, id, peer, join.host);
        /* fall through */
    case PENDING_UPDATED:
        reply->status = L3_JOIN_PENDING;
        snprintf(reply->text, sizeof reply->text,
                 "the broker's administrator approves it with `l3-hosts approve %.100s`",
                 join.host);
        return;
    case PENDING_FULL:
        if (s_log_allowed(self))
            l3_warn("enrol: join request of host \"%s\" (agent %s) from %s refused: %zu hosts are "
                    "pending already (broker/pending_max; `l3-hosts list`)",
                    join.host, id, peer, self->max);
        snprintf(reply->text, sizeof reply->text,
                 "too many hosts are waiting for approval; ask the broker's administrator");
        return;
    case PENDING_REPLAYED:
        if (s_log_allowed(self))
            l3_warn("enrol: join request of host \"%s\" (agent %s) from %s refused: not newer than "
                    "the one pending for its key (replayed?)",
                    join.host, id, peer);
        snprintf(reply->text, sizeof reply->text,
                 "not newer than the request pending for this key");
        return;
    case PENDING_FAILED:
        if (s_log_allowed(self))
            l3_error("enrol: cannot keep the join request of agent %s: %s", id, err);
        snprintf(reply->text, sizeof reply->text, "the broker cannot store requests now");
        return;
    }
}

void enrol_handle(enrol_t *self)
{
    for (int n = 0; n < ENROL_BATCH; n++) {
        zmq_msg_t rid, body;
        zmq_msg_init(&rid);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&rid, self->handle, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&rid);
            zmq_msg_close(&body);
            return;
        }
        /* [routing id][join]; anything else is drained and dropped unanswered. */
        bool well_formed = zmq_msg_more(&rid) && zmq_msg_recv(&body, self->handle, 0) >= 0;
        bool more = well_formed && zmq_msg_more(&body);
        well_formed = well_formed && !more;
        while (more) {
            zmq_msg_t rest;
            zmq_msg_init(&rest);
            more = zmq_msg_recv(&rest, self->handle, 0) >= 0 && zmq_msg_more(&rest);
            zmq_msg_close(&rest);
        }
        const char *user = well_formed ? zmq_msg_gets(&body, "User-Id") : NULL;
        const char *addr = well_formed ? zmq_msg_gets(&body, "Peer-Address") : NULL;
        uint8_t key[L3_CURVE_KEY_LEN];
        char id[L3_CURVE_ID_LEN + 1] = "";
        /* Our ZAP handler sets User-Id to the key's hex for this domain (broker.c). */
        bool keyed = user && l3_curve_id_is_hex(user);
        if (keyed) {
            snprintf(id, sizeof id, "%s", user);
            for (int i = 0; i < L3_CURVE_KEY_LEN; i++)
                sscanf(id + 2 * i, "%2hhx", &key[i]);
        }
        if (keyed) {
            l3_join_reply_t reply;
            s_answer(self, key, id, addr ? addr : "unknown address", zmq_msg_data(&body),
                     zmq_msg_size(&body), &reply);
            if (l3_join_reply_encode(&reply, &self->reply) &&
                zmq_send(self->handle, zmq_msg_data(&rid), zmq_msg_size(&rid),
                         ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
                zmq_send(self->handle, self->reply.data, self->reply.len, ZMQ_DONTWAIT);
        } else if (s_log_allowed(self))
            l3_warn("enrol: dropped a message from %s without an authenticated key or in more than "
                    "one frame",
                    addr ? addr : "unknown address");
        zmq_msg_close(&rid);
        zmq_msg_close(&body);
    }
}
