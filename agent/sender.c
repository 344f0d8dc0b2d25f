/*  sender — ships the outbox to the brokers, go-back-N on nack, timeout or reconnect.
    See sender.h. */
#include "sender.h"

#include "l3_curve.h"
#include "l3_log.h"
#include "l3_msg.h"
#include "l3_time.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define S_ENDPOINTS_MAX 16
#define S_ENDPOINT_LEN 256
#define S_STALL_RETRY_MS                                                                           \
    500                       /* no broker ready: look again this often (a handshake               \
                                 event on the monitor wakes the caller sooner) */
#define S_ERROR_RETRY_MS 1000 /* after an outbox read error */
#define S_ACK_BATCH 1000      /* messages read per handle call, to stay fair to the caller */
#define S_PROBE_MS 200        /* after the ack socket (re)connects, see below */
#define S_REDIAL_MS 2000      /* after a refused handshake, connect again this much later */

struct sender_t {
    outbox_t *box;
    char id[L3_ID_MAX + 1];
    zsock_t *push;
    zsock_t *sub;
    zsock_t *mon_push; /* PAIR ends of the socket monitors */
    zsock_t *mon_sub;
    outbox_iter_t *it;
    uint64_t window;
    int64_t ack_timeout_us;

    uint64_t next;       /* next seq to send */
    uint64_t high_sent;  /* highest seq ever sent: below it a send is a resend */
    uint64_t acked;      /* mirrors outbox_acked_seq */
    int64_t progress_us; /* last ack advance, rewind, or first send into an empty window */
    uint64_t rewound_to; /* seq of the last nack rewind; further nacks for it are echoes */
    int64_t rewound_us;

    /* The entry the last send refused (EAGAIN); points into the iterator's buffer, valid
       until the iterator is used again. */
    const uint8_t *pending;
    size_t pending_len;
    bool stalled;
    int64_t retry_us; /* after an error, nothing is read before this time */
    /* When the ack socket (re)connects, our subscription takes a moment to reach the
       writer and acks published meanwhile are lost. Rather than wait for the full ack
       timeout, resend once shortly after the connect if no ack has come by then. */
    int64_t probe_us;
    uint64_t probe_acked;
    int64_t handshake_log_us;
    /* libzmq gives up on an endpoint whose handshake failed (a key not, or not yet, in
       the broker's allowed_keys: a host waiting for its enrolment to be approved) and
       never connects there again. The sender does, so an approval counts without a
       restart: the endpoints to dial again, and when. */
    char eps[S_ENDPOINTS_MAX][S_ENDPOINT_LEN], acks[S_ENDPOINTS_MAX][S_ENDPOINT_LEN];
    int neps, nacks;
    bool redial_ep[S_ENDPOINTS_MAX], redial_ack[S_ENDPOINTS_MAX];
    int64_t redial_us;
    uint64_t silent_timeouts; /* consecutive ack timeouts */
    sender_stats_t stats;
};

/* ---------------------------------------------------------------- config */

/* Split a list of endpoints separated by spaces or commas. Returns the count. */
static int s_split(const char *list, char out[][S_ENDPOINT_LEN], int max)
{
    int n = 0;
    const char *p = list;
    while (*p && n < max) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        size_t len = strcspn(p, " ,\t");
        if (len == 0)
            break;
        if (len >= S_ENDPOINT_LEN) {
            l3_error("endpoint too long: %.40s...", p);
            return -1;
        }
        memcpy(out[n], p, len);
        out[n][len] = '\0';
        n++;
        p += len;
    }
    return n;
}

/* agent/<key>, or the broker section's address with the given port key. */
static int s_endpoints(l3_config_t *config, const char *key, const char *port_key, int64_t port_def,
                       char out[][S_ENDPOINT_LEN])
{
    const char *list = l3_config_str(config, key, NULL);
    char def[S_ENDPOINT_LEN];
    if (!list || !*list) {
        const char *address = l3_config_str(config, "broker/backend_address", "127.0.0.1");
        /* A bind address for "all interfaces" is not one we can connect to. */
        if (strcmp(address, "*") == 0 || strcmp(address, "0.0.0.0") == 0 || !*address)
            address = "127.0.0.1";
        int64_t port = l3_config_int(config, port_key, port_def, 1, 65535);
        snprintf(def, sizeof def, "tcp://%s:%" PRId64, address, port);
        list = def;
    }
    int n = s_split(list, out, S_ENDPOINTS_MAX);
    if (n == 0)
        l3_error("%s: no endpoint", key);
    return n;
}

bool sender_agent_id(l3_config_t *config, char *out, size_t size)
{
    if (size < L3_ID_MAX + 1)
        return false;
    if (l3_config_bool(config, "agent/curve", true)) {
        const char *path = l3_config_str(config, "agent/cert", "/etc/lilalo/agent.key");
        zcert_t *cert = l3_curve_cert_load_or_create(path);
        if (!cert)
            return false;
        char id[L3_CURVE_ID_LEN + 1];
        l3_curve_agent_id(zcert_public_key(cert), id);
        zcert_destroy(&cert);
        snprintf(out, size, "%s", id);
        return true;
    }
    const char *id = l3_config_str(config, "agent/id", NULL);
    char host[256] = "";
    if (!id || !*id) {
        if (gethostname(host, sizeof host - 1) != 0)
            host[0] = '\0';
        id = host;
    }
    if (!l3_id_valid(id)) {
        l3_error("agent id '%s' is not valid (1..%d of [A-Za-z0-9._:@+=-]); set agent/id", id,
                 L3_ID_MAX);
        return false;
    }
    snprintf(out, size, "%s", id);
    return true;
}

/* ---------------------------------------------------------------- sockets */

static zsock_t *s_monitor(void *sock, const char *name, const void *owner)
{
    char ep[96];
    snprintf(ep, sizeof ep, "inproc://l3-sender-%p-%s", owner, name);
    int events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    if (zmq_socket_monitor(sock, ep, events) != 0)
        return NULL;
    zsock_t *pair = zsock_new(ZMQ_PAIR);
    if (pair && zsock_connect(pair, "%s", ep) != 0)
        zsock_destroy(&pair);
    return pair;
}

sender_t *sender_new(l3_config_t *config, outbox_t *box)
{
    sender_t *self = calloc(1, sizeof *self);
    zcert_t *own = NULL, *server = NULL;
    if (!self)
        return NULL;
    char(*eps)[S_ENDPOINT_LEN] = self->eps, (*acks)[S_ENDPOINT_LEN] = self->acks;
    self->box = box;
    snprintf(self->id, sizeof self->id, "%s", outbox_agent(box));
    self->window = (uint64_t)l3_config_int(config, "agent/window", 1000, 1, 1000000);
    self->ack_timeout_us =
        l3_config_int(config, "agent/ack_timeout_ms", 5000, 10, 3600 * 1000) * 1000;
    int neps = self->neps = s_endpoints(config, "agent/brokers", "broker/backend_port", 5670, eps);
    int nacks = self->nacks = s_endpoints(config, "agent/acks", "broker/ack_port", 5671, acks);
    if (neps <= 0 || nacks <= 0)
        goto fail;

    self->push = zsock_new(ZMQ_PUSH);
    self->sub = zsock_new(ZMQ_SUB);
    self->it = outbox_iter_new(box, outbox_acked_seq(box) + 1);
    if (!self->push || !self->sub || !self->it) {
        l3_error("sender: cannot create sockets: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (l3_config_bool(config, "agent/curve", true)) {
        const char *cert = l3_config_str(config, "agent/cert", "/etc/lilalo/agent.key");
        const char *bcert = l3_config_str(config, "agent/broker_cert", "/etc/lilalo/broker.pub");
        own = l3_curve_cert_load_or_create(cert);
        server = own ? l3_curve_cert_load(bcert) : NULL;
        if (!own || !server)
            goto fail;
        char id[L3_CURVE_ID_LEN + 1];
        l3_curve_agent_id(zcert_public_key(own), id);
        if (strcmp(id, self->id) != 0)
            l3_warn("sender: the outbox's agent id %s is not the id of %s (%s); the broker "
                    "will use the latter and acks will not match",
                    self->id, cert, id);
        if (!l3_curve_client_setup(self->push, own, server) ||
            !l3_curve_client_setup(self->sub, own, server))
            goto fail;
    } else {
        l3_curve_limit_socket(self->push);
        l3_curve_limit_socket(self->sub);
    }
    /* Room for the whole window plus one go-back-N resend of it, so a send fails only
       when no broker is there (IMMEDIATE). */
    uint64_t hwm = self->window * 2 + 16;
    zsock_set_sndhwm(self->push, hwm > INT32_MAX ? INT32_MAX : (int)hwm);
    zsock_set_immediate(self->push, 1);
    zsock_set_linger(self->push, 0);
    zsock_set_linger(self->sub, 0);
    zsock_set_rcvhwm(self->sub, 100000);
    zsock_set_reconnect_ivl(self->push, 100);
    zsock_set_reconnect_ivl_max(self->push, 2000);
    zsock_set_reconnect_ivl(self->sub, 100);
    zsock_set_reconnect_ivl_max(self->sub, 2000);
    zsock_set_subscribe(self->sub, self->id);
    self->mon_push = s_monitor(zsock_resolve(self->push), "push", self);
    self->mon_sub = s_monitor(zsock_resolve(self->sub), "sub", self);
    if (!self->mon_push || !self->mon_sub) {
        l3_error("sender: cannot monitor sockets: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    for (int i = 0; i < neps; i++) {
        if (zsock_connect(self->push, "%s", eps[i]) != 0) {
            l3_error("sender: bad broker endpoint %s: %s", eps[i], zmq_strerror(zmq_errno()));
            goto fail;
        }
    }
    for (int i = 0; i < nacks; i++) {
        if (zsock_connect(self->sub, "%s", acks[i]) != 0) {
            l3_error("sender: bad ack endpoint %s: %s", acks[i], zmq_strerror(zmq_errno()));
            goto fail;
        }
    }
    self->acked = outbox_acked_seq(box);
    self->next = self->acked + 1;
    self->high_sent = self->acked;
    self->progress_us = l3_time_mono_us();
    l3_info("sender: agent %s epoch %" PRIu64 ", %d broker(s) (%s%s), window %" PRIu64
            ", ack timeout %" PRId64 " ms, %" PRIu64 " records pending",
            self->id, outbox_epoch(box), neps, eps[0], neps > 1 ? ", ..." : "", self->window,
            self->ack_timeout_us / 1000, outbox_pending(box));
    zcert_destroy(&own);
    zcert_destroy(&server);
    return self;
fail:
    zcert_destroy(&own);
    zcert_destroy(&server);
    sender_destroy(&self);
    return NULL;
}

void sender_destroy(sender_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sender_t *self = *self_p;
    /* Stop the monitors before their sockets go. */
    if (self->push)
        zmq_socket_monitor(zsock_resolve(self->push), NULL, 0);
    if (self->sub)
        zmq_socket_monitor(zsock_resolve(self->sub), NULL, 0);
    zsock_destroy(&self->mon_push);
    zsock_destroy(&self->mon_sub);
    zsock_destroy(&self->push);
    zsock_destroy(&self->sub);
    outbox_iter_destroy(&self->it);
    free(self);
    *self_p = NULL;
}

/* ---------------------------------------------------------------- protocol */

/* Go back to the first unacknowledged record. */
static void s_rewind(sender_t *self, const char *why)
{
    uint64_t from = self->acked + 1;
    if (self->next > from)
        l3_debug("sender: resending from seq %" PRIu64 " (%" PRIu64 " in flight): %s", from,
                 self->next - from, why);
    self->next = from;
    self->pending = NULL;
    self->stalled = false;
    self->progress_us = l3_time_mono_us();
}

static void s_apply_ack(sender_t *self, uint64_t seq)
{
    if (seq <= self->acked)
        return;
    outbox_ack(self->box, seq);
    self->acked = outbox_acked_seq(self->box);
    if (self->silent_timeouts) {
        l3_info("sender: acks again after %" PRIu64 " timeouts; acknowledged up to seq %" PRIu64,
                self->silent_timeouts, self->acked);
        self->silent_timeouts = 0;
    }
    self->progress_us = l3_time_mono_us();
    if (self->next <= self->acked) {
        /* The writer has records we have not (re)sent in this run: skip them. */
        self->next = self->acked + 1;
        self->pending = NULL;
    }
}

/* Receive one whole message without waiting: its first two parts into a and b (both
   initialised by the caller). Returns its number of parts (parts past the second are read
   and dropped), 0 when nothing is waiting. */
static int s_recv2(void *sock, zmq_msg_t *a, zmq_msg_t *b)
{
    if (zmq_msg_recv(a, sock, ZMQ_DONTWAIT) < 0)
        return 0;
    int parts = 1;
    bool more = zmq_msg_more(a);
    while (more) {
        /* The rest of a multipart message is already here: ZeroMQ delivers it whole. */
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        zmq_msg_t *dst = parts == 1 ? b : &extra;
        if (zmq_msg_recv(dst, sock, 0) < 0) {
            zmq_msg_close(&extra);
            break;
        }
        parts++;
        more = zmq_msg_more(dst);
        zmq_msg_close(&extra);
    }
    return parts;
}

static void s_handle_ack_message(sender_t *self, int parts, zmq_msg_t *topic, zmq_msg_t *body)
{
    size_t idlen = strlen(self->id);
    if (parts != 2 || zmq_msg_size(topic) != idlen ||
        memcmp(zmq_msg_data(topic), self->id, idlen)) {
        self->stats.rejected++;
        return;
    }
    l3_msg_t msg;
    l3_msg_init(&msg);
    char err[128] = "";
    if (!l3_msg_decode(zmq_msg_data(body), zmq_msg_size(body), &msg, err, sizeof err) ||
        (msg.kind != L3_MSG_ACK && msg.kind != L3_MSG_NACK) || strcmp(msg.agent, self->id)) {
        if (self->stats.rejected++ < 10)
            l3_warn("sender: bad message on the ack socket: %s%s", err[0] ? err : "not our ack",
                    self->stats.rejected == 10 ? " (no more of these lines)" : "");
        l3_msg_clear(&msg);
        return;
    }
    if (msg.epoch != outbox_epoch(self->box)) {
        l3_debug("sender: ack for epoch %" PRIu64 ", not ours", msg.epoch);
        l3_msg_clear(&msg);
        return;
    }
    self->stats.acks++;
    if (msg.kind == L3_MSG_ACK) {
        s_apply_ack(self, msg.seq);
    } else {
        /* nack s: every seq < s is on disk and s is expected next. Each record sent after
           a lost one draws the same nack; only the first rewinds (the ack timeout covers
           a resend that is lost again). */
        self->stats.nacks++;
        if (msg.seq > 0)
            s_apply_ack(self, msg.seq - 1);
        if (msg.seq <= self->acked) {
            l3_warn("sender: nack for seq %" PRIu64 " but %" PRIu64 " was acknowledged; the "
                    "writer lost records it had acknowledged",
                    msg.seq, self->acked);
        } else if (msg.seq == self->acked + 1 && self->next > msg.seq &&
                   !(self->rewound_to == msg.seq &&
                     l3_time_mono_us() - self->rewound_us < self->ack_timeout_us)) {
            self->rewound_to = msg.seq;
            self->rewound_us = l3_time_mono_us();
            s_rewind(self, "nack");
        }
    }
    l3_msg_clear(&msg);
}

/* Note a failed handshake with endpoint `where` of the PUSH or the SUB, to dial it again
   in S_REDIAL_MS (sender_handle). */
static void s_redial_later(sender_t *self, bool push, const char *where)
{
    int n = push ? self->neps : self->nacks;
    for (int i = 0; i < n; i++)
        if (!strcmp(push ? self->eps[i] : self->acks[i], where)) {
            (push ? self->redial_ep : self->redial_ack)[i] = true;
            if (!self->redial_us)
                self->redial_us = l3_time_mono_us() + S_REDIAL_MS * 1000;
        }
}

static void s_redial(sender_t *self)
{
    self->redial_us = 0;
    for (int i = 0; i < self->neps; i++)
        if (self->redial_ep[i]) {
            self->redial_ep[i] = false;
            zsock_disconnect(self->push, "%s", self->eps[i]); /* ENOENT when it is gone */
            zsock_connect(self->push, "%s", self->eps[i]);
        }
    for (int i = 0; i < self->nacks; i++)
        if (self->redial_ack[i]) {
            self->redial_ack[i] = false;
            zsock_disconnect(self->sub, "%s", self->acks[i]);
            zsock_connect(self->sub, "%s", self->acks[i]);
        }
}

/* Connection events: after a (re)connect whatever was in flight may be lost. */
static void s_handle_monitor(sender_t *self, zsock_t *mon, const char *which)
{
    void *sock = zsock_resolve(mon);
    for (;;) {
        zmq_msg_t f, addr;
        zmq_msg_init(&f);
        zmq_msg_init(&addr);
        int parts = s_recv2(sock, &f, &addr);
        if (parts == 0) {
            zmq_msg_close(&f);
            zmq_msg_close(&addr);
            return;
        }
        if (zmq_msg_size(&f) >= 6) {
            uint16_t event;
            memcpy(&event, zmq_msg_data(&f), 2);
            char where[S_ENDPOINT_LEN] = "?";
            if (parts >= 2 && zmq_msg_size(&addr) > 0)
                snprintf(where, sizeof where, "%.*s", (int)zmq_msg_size(&addr),
                         (const char *)zmq_msg_data(&addr));
            if (event == ZMQ_EVENT_CONNECTED) {
                l3_info("sender: %s connected to %s", which, where);
                if (mon == self->mon_sub) {
                    self->probe_us = l3_time_mono_us() + S_PROBE_MS * 1000;
                    self->probe_acked = self->acked;
                }
                if (self->next > self->acked + 1) {
                    self->stats.reconnects++;
                    s_rewind(self, "reconnect");
                }
            } else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
                /* The pipe is ready now (IMMEDIATE): the sender_handle this wake-up leads
                   to sends what was stalled. */
                l3_debug("sender: %s handshake with %s done", which, where);
            } else if (event == ZMQ_EVENT_DISCONNECTED) {
                l3_warn("sender: %s disconnected from %s", which, where);
            } else {
                /* A refused or broken handshake (AUTH, PROTOCOL): libzmq stops there and
                   we dial again (s_redial_later); after a connection error (NO_DETAIL)
                   libzmq reconnects by itself. Say why at most once a minute. */
                if (event != ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
                    s_redial_later(self, mon == self->mon_push, where);
                int64_t now = l3_time_mono_us();
                if (!self->handshake_log_us || now - self->handshake_log_us >= 60000000) {
                    self->handshake_log_us = now;
                    l3_error("sender: %s: handshake with %s failed%s", which, where,
                             event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                                 ? " (authentication: is our public key in the broker's "
                                   "allowed_keys, and agent/broker_cert the broker's key?)"
                                 : " (CURVE on one side only? check agent/curve and "
                                   "broker/curve)");
                }
            }
        }
        zmq_msg_close(&f);
        zmq_msg_close(&addr);
    }
}

static void s_send(sender_t *self)
{
    void *push = zsock_resolve(self->push);
    int64_t now = l3_time_mono_us();
    if (now < self->retry_us)
        return;
    uint64_t synced = outbox_synced_seq(self->box);
    while (self->next <= synced && self->next - self->acked <= self->window) {
        if (!self->pending) {
            if (outbox_iter_position(self->it) != self->next)
                outbox_iter_seek(self->it, self->next);
            uint64_t seq = 0;
            int rc = outbox_iter_next(self->it, &seq, &self->pending, &self->pending_len);
            if (rc <= 0 || seq != self->next) {
                self->pending = NULL;
                if (rc < 0 || seq != self->next) {
                    l3_error("sender: cannot read seq %" PRIu64 " from the outbox; retrying",
                             self->next);
                    self->retry_us = now + S_ERROR_RETRY_MS * 1000;
                }
                return;
            }
        }
        if (zmq_send(push, self->pending, self->pending_len, ZMQ_DONTWAIT) < 0) {
            if (zmq_errno() == EAGAIN)
                self->stalled = true;
            else if (zmq_errno() != EINTR)
                l3_error("sender: send failed: %s", zmq_strerror(zmq_errno()));
            return;
        }
        if (self->next == self->acked + 1)
            self->progress_us = now; /* the timeout counts from the first send */
        self->pending = NULL;
        self->stalled = false;
        self->stats.sent++;
        if (self->next <= self->high_sent)
            self->stats.resent++;
        else
            self->high_sent = self->next;
        self->next++;
    }
}

/* ---------------------------------------------------------------- API */

int sender_poll_items(sender_t *self, zmq_pollitem_t *items, int max)
{
    zsock_t *socks[SENDER_POLL_MAX] = {self->sub, self->mon_push, self->mon_sub};
    int n = 0;
    for (int i = 0; i < SENDER_POLL_MAX && n < max; i++, n++)
        items[n] = (zmq_pollitem_t){zsock_resolve(socks[i]), 0, ZMQ_POLLIN, 0};
    return n;
}

long sender_timeout_ms(sender_t *self)
{
    int64_t now = l3_time_mono_us();
    long t = -1;
    if (now < self->retry_us)
        return (long)((self->retry_us - now) / 1000 + 1);
    bool room = self->next - self->acked <= self->window;
    if (room && self->next <= outbox_last_seq(self->box))
        t = self->stalled ? S_STALL_RETRY_MS : 0;
    if (self->next > self->acked + 1) {
        int64_t left = self->progress_us + self->ack_timeout_us - now;
        long ms = left <= 0 ? 0 : (long)(left / 1000 + 1);
        if (t < 0 || ms < t)
            t = ms;
    }
    if (self->probe_us) {
        long ms = self->probe_us <= now ? 0 : (long)((self->probe_us - now) / 1000 + 1);
        if (t < 0 || ms < t)
            t = ms;
    }
    if (self->redial_us) {
        long ms = self->redial_us <= now ? 0 : (long)((self->redial_us - now) / 1000 + 1);
        if (t < 0 || ms < t)
            t = ms;
    }
    return t;
}

bool sender_handle(sender_t *self)
{
    s_handle_monitor(self, self->mon_push, "PUSH");
    s_handle_monitor(self, self->mon_sub, "SUB");
    void *sub = zsock_resolve(self->sub);
    for (int n = 0; n < S_ACK_BATCH; n++) {
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        zmq_msg_init(&body);
        int parts = s_recv2(sub, &topic, &body);
        if (parts > 0)
            s_handle_ack_message(self, parts, &topic, &body);
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
        if (parts == 0)
            break;
    }
    int64_t now = l3_time_mono_us();
    if (self->redial_us && now >= self->redial_us)
        s_redial(self);
    if (self->probe_us && now >= self->probe_us) {
        self->probe_us = 0;
        if (self->next > self->acked + 1 && self->acked == self->probe_acked) {
            self->stats.reconnects++;
            s_rewind(self, "ack socket connected, no ack since");
        }
    }
    if (self->next > self->acked + 1 && now - self->progress_us >= self->ack_timeout_us) {
        self->stats.timeouts++;
        /* One line when acks stop, one when they come back: an hour's outage is not 720
           lines of the same news. */
        if (self->silent_timeouts++ == 0)
            l3_warn("sender: no ack for %" PRId64 " ms; resending %" PRIu64
                    " records from seq %" PRIu64 " (and again every %" PRId64 " ms until acks "
                    "come)",
                    self->ack_timeout_us / 1000, self->next - self->acked - 1, self->acked + 1,
                    self->ack_timeout_us / 1000);
        s_rewind(self, "ack timeout");
    }
    /* Nothing leaves the host that is not on its disk. */
    if (outbox_synced_seq(self->box) < outbox_last_seq(self->box) && !outbox_sync(self->box))
        return false;
    s_send(self);
    return true;
}

uint64_t sender_pending(sender_t *self)
{
    return outbox_pending(self->box);
}

uint64_t sender_in_flight(sender_t *self)
{
    return self->next - self->acked - 1;
}

void sender_stats(sender_t *self, sender_stats_t *stats)
{
    *stats = self->stats;
}
