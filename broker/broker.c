/*  broker — the l3-broker loop. See broker.h for the sockets and the policies.

    The hot path works on raw zmq_msg_t: a record is received, decoded once to validate it
    (l3_msg_decode_view: the one validator every component uses, without copying the byte
    fields), and the original bytes are forwarded unchanged behind the identity frame, so
    the broker never re-encodes. */
#include "broker.h"
#include "conns.h"
#include "enrol.h"
#include "keyring.h"
#include "l3_curve.h"
#include "l3_log.h"
#include "l3_msg.h"
#include "l3_service.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define BROKER_ZAP_DOMAIN "lilalo"
/* Messages handled per wake-up of one socket, so acks and subscriptions are not starved
   by a busy frontend. */
#define BROKER_BATCH 256
/* Log lines about bad peers allowed per window; the rest are counted and summarised. */
#define BROKER_LOG_WINDOW_MS 10000
/* A subscription is 1 byte + a topic; topics are agent ids or "$commit". */
#define BROKER_SUB_MAX (1 + L3_ID_MAX + 16)
/* Peers tracked for log lines (fd -> address); bounded by the fd limit anyway. */
#define BROKER_PEERS_MAX 100000
#define BROKER_ADDR_MAX 256
#define BROKER_HEARTBEAT_MS 30000
/* How often the loop looks at allowed_keys for changed keys and bindings (a stat of the
   directory; it is re-read when that changed or every KEYRING_IDLE_RELOAD_MS). */
#define BROKER_KEYRING_CHECK_MS 1000

/* A rate limit for log lines a remote peer can trigger, so a flood of garbage cannot fill
   the disk: at most `limit` lines per window, then one summary line per window. */
typedef struct {
    const char *what;
    unsigned limit;
    unsigned count;
    uint64_t suppressed;
    int64_t window_start;
} s_ratelog_t;

struct broker_t {
    bool curve;
    zsock_t *zap;        /* our ZAP handler (REP on inproc://zeromq.zap.01) */
    keyring_t *keyring;  /* allowed agent keys and their hosts (CURVE only) */
    bool allow_unbound;  /* broker/unbound_keys = allow: keys binding no host get in */
    int64_t keyring_checked; /* zclock_mono of the loop's last keyring_refresh */
    zcert_t *server_cert;
    enrol_t *enrol;      /* join requests of hosts not enrolled yet, or NULL (enrol.h) */
    conns_t *conns;      /* each key's records connection, to cut a removed key's */

    zsock_t *frontend, *backend, *ack_in, *ack_out, *capture, *monitor;
    void *fe, *be, *ain, *aout, *cap, *mon; /* raw handles of the above */

    char frontend_ep[BROKER_ADDR_MAX];
    char writer_ep[BROKER_ADDR_MAX];

    /* A record received but not yet accepted by the backend (writer went away). */
    bool have_pending;
    zmq_msg_t pending;
    char pending_id[L3_ID_MAX + 1];

    bool writer_ok;      /* backend was writable at the last look */
    int64_t stall_since; /* zclock_mono when it stopped being writable */

    /* Monitor state: accepted fd -> peer address, and the reason of the last handshake
       failure, which libzmq reports just before the DISCONNECTED event of that peer (in
       the same call of its I/O thread: true of protocol failures, not of ZAP refusals). */
    zhashx_t *peers;
    char failure[128];

    s_ratelog_t badlog;
    s_ratelog_t peerlog;
    broker_stats_t stats;
};

/* Log the summary of what was suppressed and start a new window. */
static void s_ratelog_flush(s_ratelog_t *r)
{
    if (r->suppressed)
        l3_warn("%" PRIu64 " more %s not logged in the last %.0f s", r->suppressed, r->what,
                (double) (zclock_mono() - r->window_start) / 1000.0);
    r->window_start = zclock_mono();
    r->count = 0;
    r->suppressed = 0;
}

static bool s_ratelog_allow(s_ratelog_t *r)
{
    if (zclock_mono() - r->window_start >= BROKER_LOG_WINDOW_MS)
        s_ratelog_flush(r);
    if (r->count < r->limit) {
        r->count++;
        return true;
    }
    r->suppressed++;
    return false;
}

/* Called from the loop's idle tick so a summary appears even when the flood stopped. */
static void s_ratelog_tick(s_ratelog_t *r)
{
    if (r->suppressed && zclock_mono() - r->window_start >= BROKER_LOG_WINDOW_MS)
        s_ratelog_flush(r);
}

static bool s_is_loopback(const char *addr)
{
    return strcmp(addr, "localhost") == 0 || strncmp(addr, "127.", 4) == 0 ||
           strcmp(addr, "::1") == 0 || strcmp(addr, "[::1]") == 0;
}

/* "tcp://ADDR:PORT", with brackets and ZMQ_IPV6 for an IPv6 address. */
static bool s_endpoint(void *sock, const char *addr, int64_t port, char *out, size_t size)
{
    bool v6 = strchr(addr, ':') != NULL;
    int n;
    if (v6) {
        zsock_set_ipv6(sock, 1);
        n = addr[0] == '[' ? snprintf(out, size, "tcp://%s:%" PRId64, addr, port)
                           : snprintf(out, size, "tcp://[%s]:%" PRId64, addr, port);
    } else
        n = snprintf(out, size, "tcp://%s:%" PRId64, addr, port);
    return n > 0 && (size_t) n < size;
}

static bool s_bind(zsock_t *sock, const char *addr, int64_t port, const char *what,
                   char *ep_out, size_t ep_size)
{
    char ep[BROKER_ADDR_MAX];
    if (!s_endpoint(sock, addr, port, ep, sizeof ep)) {
        l3_error("%s: address too long: %s", what, addr);
        return false;
    }
    if (zsock_bind(sock, "%s", ep) < 0) {
        l3_error("%s: cannot bind %s: %s", what, ep, zmq_strerror(zmq_errno()));
        return false;
    }
    if (ep_out)
        snprintf(ep_out, ep_size, "%s", ep);
    l3_info("%s: listening on %s", what, ep);
    return true;
}

/* Frontend monitor: remember peers by fd and log handshake failures with their address. */
static bool s_monitor_start(broker_t *self)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://l3-broker-monitor-%p", (void *) self);
    int events = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    if (zmq_socket_monitor(self->fe, ep, events) != 0) {
        l3_error("cannot monitor the frontend: %s", zmq_strerror(zmq_errno()));
        return false;
    }
    self->monitor = zsock_new(ZMQ_PAIR);
    if (!self->monitor || zsock_connect(self->monitor, "%s", ep) != 0) {
        l3_error("cannot connect the frontend monitor");
        return false;
    }
    self->mon = zsock_resolve(self->monitor);
    return true;
}

/* Our ZAP handler, bound before any socket that uses it binds: libzmq lets a CURVE
   client in without authentication when no handler is there, so it must never be
   missing (and s_identity rejects messages without a User-Id as a second guard). */
static bool s_zap_start(broker_t *self)
{
    self->zap = zsock_new(ZMQ_REP);
    if (!self->zap || zsock_bind(self->zap, "inproc://zeromq.zap.01") != 0) {
        l3_error("cannot start the ZAP handler: %s", zmq_strerror(zmq_errno()));
        return false;
    }
    return true;
}

broker_t *broker_new(l3_config_t *config)
{
    broker_t *self = (broker_t *) zmalloc(sizeof(broker_t));
    if (!self)
        return NULL;
    self->badlog.what = "rejected-message log lines";
    self->peerlog.what = "connection log lines";
    self->badlog.limit = (unsigned) l3_config_int(config, "broker/log_burst", 20, 1, 100000);
    self->peerlog.limit = self->badlog.limit;
    self->peers = zhashx_new();
    if (!self->peers)
        goto fail;
    zhashx_set_destructor(self->peers, (zhashx_destructor_fn *) zstr_free);
    zhashx_set_duplicator(self->peers, (zhashx_duplicator_fn *) strdup);

    const char *address = l3_config_str(config, "broker/backend_address", "127.0.0.1");
    int64_t port = l3_config_int(config, "broker/backend_port", 5670, 1, 65535);
    int64_t ack_port = l3_config_int(config, "broker/ack_port", 5671, 1, 65535);
    int64_t cap_port = l3_config_int(config, "broker/capture_port", 5672, 0, 65535);
    const char *cap_address = l3_config_str(config, "broker/capture_address", "127.0.0.1");
    int64_t cap_hwm = l3_config_int(config, "broker/capture_hwm", 1000, 1, 1000000);
    int64_t hwm = l3_config_int(config, "broker/hwm", 1000, 1, 1000000);
    const char *writer = l3_config_str(config, "broker/writer_endpoint", "tcp://127.0.0.1:5680");
    const char *writer_ack =
        l3_config_str(config, "broker/writer_ack_endpoint", "tcp://127.0.0.1:5681");
    self->curve = l3_config_bool(config, "broker/curve", true);
    const char *unbound = l3_config_str(config, "broker/unbound_keys", "refuse");
    if (strcmp(unbound, "allow") == 0)
        self->allow_unbound = true;
    else if (strcmp(unbound, "refuse") != 0) {
        l3_error("broker/unbound_keys = '%s': use refuse (the default) or allow", unbound);
        goto fail;
    }
    bool plain_remote = l3_config_bool(config, "broker/allow_plaintext_remote", false);
    snprintf(self->writer_ep, sizeof self->writer_ep, "%s", writer);

    if (!self->curve && !s_is_loopback(address)) {
        if (plain_remote)
            l3_warn("PLAINTEXT on %s (allow_plaintext_remote = 1): any host that reaches this "
                    "port can send records under any agent id it claims",
                    address);
        else {
            l3_warn("curve = 0: binding 127.0.0.1 instead of %s, because without CURVE an "
                    "agent's identity is only what it claims, which is safe on a single host "
                    "only; set allow_plaintext_remote = 1 to override",
                    address);
            address = "127.0.0.1";
        }
    }

    self->frontend = zsock_new(ZMQ_PULL);
    self->backend = zsock_new(ZMQ_PUSH);
    self->ack_in = zsock_new(ZMQ_XSUB);
    self->ack_out = zsock_new(ZMQ_XPUB);
    if (!self->frontend || !self->backend || !self->ack_in || !self->ack_out) {
        l3_error("cannot create sockets: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    self->fe = zsock_resolve(self->frontend);
    self->be = zsock_resolve(self->backend);
    self->ain = zsock_resolve(self->ack_in);
    self->aout = zsock_resolve(self->ack_out);

    if (self->curve) {
        const char *cert_path =
            l3_config_str(config, "broker/server_cert", "/etc/lilalo/broker.key");
        const char *allowed = l3_config_str(config, "broker/allowed_keys", "/etc/lilalo/agents");
        self->server_cert = l3_curve_cert_load_or_create(cert_path);
        if (!self->server_cert)
            goto fail;
        self->keyring = keyring_new(allowed);
        self->conns = conns_new();
        if (!self->keyring || !self->conns) {
            l3_error("create %s and copy each agent's NAME.pub into it (l3-keygen NAME makes "
                     "them)", allowed);
            goto fail;
        }
        if (self->allow_unbound)
            l3_warn("unbound_keys = allow: an allowed key whose certificate binds no host "
                    "can send records under any host name; bind them (l3-keygen --bind) and "
                    "remove the setting");
        if (!s_zap_start(self))
            goto fail;
        if (!l3_curve_server_setup(self->frontend, self->server_cert, BROKER_ZAP_DOMAIN) ||
            !l3_curve_server_setup(self->ack_out, self->server_cert, BROKER_ZAP_DOMAIN))
            goto fail;
        l3_info("CURVE on, server key %s (public %s)", cert_path,
                zcert_public_txt(self->server_cert));
    } else {
        /* ZAP in plaintext too: it lets NULL connections in, but with a ZAP domain set
           libzmq refuses ZMTP 1.0 peers, whose messages carry no metadata (no
           Peer-Address to name them in a log line) and which only garbage speaks. */
        if (!s_zap_start(self))
            goto fail;
        zsock_set_zap_domain(self->frontend, BROKER_ZAP_DOMAIN);
        zsock_set_zap_domain(self->ack_out, BROKER_ZAP_DOMAIN);
        l3_curve_limit_socket(self->frontend);
        l3_curve_limit_socket(self->ack_out);
        l3_warn("CURVE off (curve = 0): agent ids are taken from the records' \"a\" field");
    }

    /* ZMTP heartbeats, so connections of agents that vanished (power cut, cable) are
       closed instead of holding their pipes forever; a 10,000-agent broker cares. */
    zsock_set_heartbeat_ivl(self->frontend, BROKER_HEARTBEAT_MS);
    zsock_set_heartbeat_timeout(self->frontend, 3 * BROKER_HEARTBEAT_MS);
    zsock_set_heartbeat_ivl(self->ack_out, BROKER_HEARTBEAT_MS);
    zsock_set_heartbeat_timeout(self->ack_out, 3 * BROKER_HEARTBEAT_MS);
    zsock_set_rcvhwm(self->frontend, (int) hwm);
    /* Not writable until a writer is connected: that is what makes the loop stop reading
       agents instead of queueing for a writer that is not there. */
    zsock_set_immediate(self->backend, 1);
    zsock_set_sndhwm(self->backend, (int) hwm);
    /* On a clean stop give queued records a moment to reach the writer; they are in the
       agents' outboxes anyway, so this only saves a resend. */
    zsock_set_linger(self->backend, 1000);
    l3_curve_limit_socket(self->ack_in);

    if (!s_monitor_start(self))
        goto fail;
    if (!s_bind(self->frontend, address, port, "agents (records)", self->frontend_ep,
                sizeof self->frontend_ep))
        goto fail;
    if (!s_bind(self->ack_out, address, ack_port, "agents (acks)", NULL, 0))
        goto fail;
    if (self->curve &&
        !enrol_new(config, self->server_cert, self->keyring, address, &self->enrol))
        goto fail;
    if (zsock_connect(self->backend, "%s", writer) != 0) {
        l3_error("writer_endpoint %s: %s", writer, zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (zsock_connect(self->ack_in, "%s", writer_ack) != 0) {
        l3_error("writer_ack_endpoint %s: %s", writer_ack, zmq_strerror(zmq_errno()));
        goto fail;
    }

    if (cap_port > 0) {
        self->capture = zsock_new(ZMQ_XPUB);
        if (!self->capture)
            goto fail;
        self->cap = zsock_resolve(self->capture);
        /* A small HWM and XPUB's drop-at-HWM: a tap that stops reading loses tap
           messages, the data path never waits for it. */
        zsock_set_sndhwm(self->capture, (int) cap_hwm);
        /* Every tap's subscription reaches us, so each one is logged. */
        zsock_set_xpub_verbose(self->capture, 1);
        l3_curve_limit_socket(self->capture);
        if (!s_is_loopback(cap_address))
            l3_warn("capture on non-loopback %s: whoever reaches it reads every record "
                    "(the capture socket is not authenticated)",
                    cap_address);
        if (!s_bind(self->capture, cap_address, cap_port, "capture (l3-tap)", NULL, 0))
            goto fail;
        /* The tap shows acks too, so take every ack from the writer, not only those some
           agent subscribed to; XPUB still sends each agent only its own. */
        uint8_t all = 1;
        zmq_send(self->ain, &all, 1, 0);
    }
    l3_info("ready: agents -> %s -> writer %s (acks from %s)", self->frontend_ep, writer,
            writer_ack);
    return self;
fail:
    broker_destroy(&self);
    return NULL;
}

void broker_destroy(broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_t *self = *self_p;
    if (self->have_pending)
        zmq_msg_close(&self->pending);
    if (self->fe && self->monitor)
        zmq_socket_monitor(self->fe, NULL, 0);
    zsock_destroy(&self->monitor);
    zsock_destroy(&self->capture);
    zsock_destroy(&self->frontend);
    zsock_destroy(&self->ack_out);
    zsock_destroy(&self->ack_in);
    zsock_destroy(&self->backend);
    enrol_destroy(&self->enrol);
    zsock_destroy(&self->zap);
    keyring_destroy(&self->keyring);
    conns_destroy(&self->conns);
    zcert_destroy(&self->server_cert);
    zhashx_destroy(&self->peers);
    free(self);
    *self_p = NULL;
}

const broker_stats_t *broker_stats(broker_t *self)
{
    return &self->stats;
}

/* Offer a copy of msg to the capture socket as [topic][id][msg]; never blocks. */
static void s_capture(broker_t *self, const char *topic, const void *id, size_t id_len,
                      zmq_msg_t *msg)
{
    if (!self->cap)
        return;
    zmq_msg_t copy;
    zmq_msg_init(&copy);
    if (zmq_msg_copy(&copy, msg) != 0) {
        zmq_msg_close(&copy);
        return;
    }
    /* XPUB drops at HWM instead of blocking; DONTWAIT makes sure of it. All parts of a
       message are queued together or not at all. */
    if (zmq_send(self->cap, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(self->cap, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_msg_send(&copy, self->cap, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&copy);
        return;
    }
    self->stats.captured++;
}

/* Send [id][msg] to the writer. true when sent (msg consumed), false when the backend is
   not writable (msg untouched, to be kept and retried). */
static bool s_backend_send(broker_t *self, const char *id, zmq_msg_t *msg)
{
    if (zmq_send(self->be, id, strlen(id), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return false;
    /* Once the first part is queued the rest of the message goes to the same pipe (HWM is
       counted in whole messages); a failure here means that writer connection died just
       now, and the record is lost from this hop only: the agent resends it on its ack
       timeout. */
    if (zmq_msg_send(msg, self->be, ZMQ_DONTWAIT) < 0) {
        l3_warn("record for %s lost on the way to the writer (%s); the agent will resend", id,
                zmq_strerror(zmq_errno()));
        zmq_msg_close(msg);
        return true;
    }
    self->stats.forwarded++;
    return true;
}

static void s_peer_address(int fd, char *out, size_t size)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    snprintf(out, size, "unknown address");
    if (getpeername(fd, (struct sockaddr *) &sa, &len) != 0)
        return;
    if (sa.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *) &sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        snprintf(out, size, "%s:%d", host, port);
    } else if (sa.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        snprintf(out, size, "[%s]:%d", host, port);
    }
}

/* Address of the peer a message came from: "ip:port" of its connection (ZMQ_SRCFD) while
   it is open, else what the monitor saw when that fd was accepted (libzmq may already
   have closed a connection that sent garbage when we get to its last messages), else the
   Peer-Address property (ip only). */
static void s_msg_peer(broker_t *self, zmq_msg_t *msg, char *out, size_t size)
{
    int fd = zmq_msg_get(msg, ZMQ_SRCFD);
    if (fd >= 0) {
        s_peer_address(fd, out, size);
        if (strcmp(out, "unknown address") != 0)
            return;
        char key[16];
        snprintf(key, sizeof key, "%d", fd);
        const char *seen = zhashx_lookup(self->peers, key);
        if (seen) {
            snprintf(out, size, "%s", seen);
            return;
        }
    }
    const char *addr = zmq_msg_gets(msg, "Peer-Address");
    snprintf(out, size, "%s", addr ? addr : "unknown address");
}

/* Log one rejected message with its peer, rate-limited. */
static void s_reject(broker_t *self, zmq_msg_t *msg, const char *who, const char *why)
{
    self->stats.rejected++;
    if (!s_ratelog_allow(&self->badlog))
        return;
    char peer[BROKER_ADDR_MAX];
    s_msg_peer(self, msg, peer, sizeof peer);
    l3_warn("rejected message from %s (%s, %zu bytes): %s", peer,
            who && *who ? who : "unauthenticated", zmq_msg_size(msg), why);
}

/* Re-read allowed_keys when it changed or is older than max_age_ms, and close the
   connections of keys that are gone from it. */
static void s_keyring_refresh(broker_t *self, int64_t max_age_ms)
{
    if (keyring_refresh(self->keyring, max_age_ms))
        conns_cut_removed(self->conns, self->keyring);
}

/* Close the connection a message came from (a removed key's): shutdown(2) on libzmq's
   socket makes its I/O thread see the peer gone and close it; the agent's reconnect then
   meets the ZAP handler, which refuses the key. Only when the fd still leads to the
   address the message came from, so a reused fd is never cut. */
static void s_cut(broker_t *self, zmq_msg_t *msg)
{
    int fd = zmq_msg_get(msg, ZMQ_SRCFD);
    const char *addr = zmq_msg_gets(msg, "Peer-Address");
    char now[BROKER_ADDR_MAX];
    if (fd < 0 || !addr)
        return;
    s_peer_address(fd, now, sizeof now);
    size_t len = strlen(addr);
    /* now is "ip:port" or "[ip6]:port"; addr the ip alone */
    bool same = (strncmp(now, addr, len) == 0 && now[len] == ':') ||
                (now[0] == '[' && strncmp(now + 1, addr, len) == 0 && now[len + 1] == ']');
    if (same && shutdown(fd, SHUT_RDWR) == 0 && s_ratelog_allow(&self->peerlog))
        l3_info("closed the connection from %s: its key is no longer in allowed_keys", now);
}

/* The identity of a record: the authenticated key with CURVE, the claimed "a" without. */
static bool s_identity(broker_t *self, zmq_msg_t *msg, const l3_msg_t *decoded, char *id,
                       const char **why)
{
    if (self->curve) {
        const char *user = zmq_msg_gets(msg, "User-Id");
        /* Our ZAP handler sets User-Id to the hex agent id; czmq 4.2's zauth would set
           the Z85 text of the key, accepted too. Anything else means ZAP did not run,
           and then nothing gets through. */
        if (user && l3_curve_id_is_hex(user)) {
            snprintf(id, L3_ID_MAX + 1, "%s", user);
            return true;
        }
        if (user && l3_curve_agent_id_from_z85(user, id))
            return true;
        *why = "no authenticated CURVE key on the connection";
        return false;
    }
    if (!l3_id_valid(decoded->record.agent)) {
        *why = "invalid agent id";
        return false;
    }
    /* Valid ids are at most L3_ID_MAX bytes (checked just above); no snprintf per record. */
    size_t len = strlen(decoded->record.agent);
    memcpy(id, decoded->record.agent, len + 1);
    return true;
}

/* Why the key of an allowed entry may not send at all (NULL when it may): a conflict
   between two files, or no binding while unbound keys are refused. */
static const char *s_binding_refusal(broker_t *self, const keyring_entry_t *entry, char *buf,
                                     size_t size)
{
    if (entry->conflict) {
        snprintf(buf, size, "%s and %s bind its key to different hosts", entry->file,
                 entry->conflict);
        return buf;
    }
    if (!entry->host && !self->allow_unbound) {
        snprintf(buf, size, "its certificate %s binds no host (broker/unbound_keys = refuse)",
                 entry->file);
        return buf;
    }
    return NULL;
}

/* The host check of a CURVE record: the key's entry as the keyring has it now (so a
   re-read binding or a removed key counts from the next record on) must bind the host
   the record claims. NULL when it does, else why not (in buf). */
static const char *s_check_host(broker_t *self, const char *id, const l3_record_t *record,
                                char *buf, size_t size)
{
    const keyring_entry_t *entry = keyring_lookup(self->keyring, id);
    if (!entry)
        return "its key is no longer in allowed_keys";
    const char *refusal = s_binding_refusal(self, entry, buf, size);
    if (refusal)
        return refusal;
    if (entry->host && strcmp(record->host, entry->host) != 0) {
        /* Both names are printable (l3_text_valid, checked by the decoder and by the
           keyring), so they go into the log line as they are. */
        self->stats.host_refused++;
        snprintf(buf, size, "record claims host \"%s\", but its key (%s) is bound to host \"%s\"",
                 record->host, entry->file, entry->host);
        return buf;
    }
    return NULL;
}

/* Read up to a batch of records from agents and forward them; stops early when the
   backend refuses one (kept as pending). */
static void s_handle_frontend(broker_t *self)
{
    /* A stat of allowed_keys per batch: a host removed (l3-hosts remove) is refused from
       its very next record, not from the loop's next look. */
    if (self->keyring)
        s_keyring_refresh(self, KEYRING_IDLE_RELOAD_MS);
    for (int n = 0; n < BROKER_BATCH && !self->have_pending; n++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, self->fe, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        char id[L3_ID_MAX + 1] = "";
        if (self->curve) {
            const char *user = zmq_msg_gets(&msg, "User-Id");
            if (user && !l3_curve_agent_id_from_z85(user, id))
                snprintf(id, sizeof id, "%.64s", user);
        }
        if (zmq_msg_more(&msg)) {
            /* Agents send one frame per record; drain and drop the rest of this one. */
            s_reject(self, &msg, id, "multi-part message");
            bool more = true;
            while (more) {
                zmq_msg_close(&msg);
                zmq_msg_init(&msg);
                if (zmq_msg_recv(&msg, self->fe, ZMQ_DONTWAIT) < 0)
                    break;
                more = zmq_msg_more(&msg);
            }
            zmq_msg_close(&msg);
            continue;
        }
        /* Validation only, so a view: the same checks as l3_msg_decode without copying
           the byte fields (decoded owns nothing and is not cleared). */
        l3_msg_t decoded;
        char err[1024] = "";
        const char *why = NULL;
        if (!l3_msg_decode_view(zmq_msg_data(&msg), zmq_msg_size(&msg), &decoded, err,
                                sizeof err))
            why = err[0] ? err : "undecodable";
        else if (decoded.kind != L3_MSG_RECORD)
            why = "not a record (acks flow from the writer, not to it)";
        else
            s_identity(self, &msg, &decoded, id, &why); /* sets why when it fails */
        if (!why && self->curve)
            why = s_check_host(self, id, &decoded.record, err, sizeof err);
        if (!why && self->curve && strcmp(decoded.record.agent, id) != 0)
            l3_debug("record claims agent %s, authenticated as %s; using the latter",
                     decoded.record.agent, id);
        if (why) {
            s_reject(self, &msg, id, why);
            if (self->curve && id[0] && !keyring_lookup(self->keyring, id))
                s_cut(self, &msg);
            zmq_msg_close(&msg);
            continue;
        }
        if (self->curve)
            conns_note(self->conns, id, zmq_msg_get(&msg, ZMQ_SRCFD));
        s_capture(self, "rec", id, strlen(id), &msg);
        if (!s_backend_send(self, id, &msg)) {
            zmq_msg_init(&self->pending);
            zmq_msg_move(&self->pending, &msg);
            snprintf(self->pending_id, sizeof self->pending_id, "%s", id);
            self->have_pending = true;
            zmq_msg_close(&msg);
        }
    }
}

/* Acks and "$commit" from the writer to the agents, and a copy of acks to the tap. */
static void s_handle_ack_in(broker_t *self)
{
    for (int n = 0; n < BROKER_BATCH; n++) {
        zmq_msg_t parts[2];
        int count = 0;
        bool more = true;
        bool failed = false;
        while (more) {
            zmq_msg_t part;
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, self->ain, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&part);
                failed = true;
                break;
            }
            more = zmq_msg_more(&part);
            if (count < 2) {
                zmq_msg_init(&parts[count]);
                zmq_msg_copy(&parts[count], &part);
            }
            count++;
            /* XPUB never blocks: a slow agent misses acks, and acks are cumulative. */
            if (zmq_msg_send(&part, self->aout, (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0)
                zmq_msg_close(&part);
        }
        if (count == 2 && !failed && zmq_msg_size(&parts[0]) > 0 &&
            ((char *) zmq_msg_data(&parts[0]))[0] != '$') {
            self->stats.acks++;
            s_capture(self, "ack", zmq_msg_data(&parts[0]), zmq_msg_size(&parts[0]), &parts[1]);
        }
        for (int i = 0; i < count && i < 2; i++)
            zmq_msg_close(&parts[i]);
        if (failed)
            return;
    }
}

/* Agents' subscriptions go upstream to the writer's PUB. */
static void s_handle_ack_out(broker_t *self)
{
    for (int n = 0; n < BROKER_BATCH; n++) {
        zmq_msg_t sub;
        zmq_msg_init(&sub);
        if (zmq_msg_recv(&sub, self->aout, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&sub);
            return;
        }
        size_t size = zmq_msg_size(&sub);
        const uint8_t *data = zmq_msg_data(&sub);
        if (size < 1 || size > BROKER_SUB_MAX || (data[0] != 0 && data[0] != 1) ||
            zmq_msg_more(&sub)) {
            if (s_ratelog_allow(&self->badlog))
                l3_warn("dropped a bad subscription (%zu bytes) on the ack socket", size);
            zmq_msg_close(&sub);
            continue;
        }
        l3_debug("agent %s acks for '%.*s'", data[0] ? "subscribes to" : "unsubscribes from",
                 (int) (size - 1), (const char *) data + 1);
        if (zmq_msg_send(&sub, self->ain, ZMQ_DONTWAIT) < 0)
            zmq_msg_close(&sub);
    }
}

/* Taps joining and leaving the capture socket. */
static void s_handle_capture(broker_t *self)
{
    for (int n = 0; n < BROKER_BATCH; n++) {
        zmq_msg_t sub;
        zmq_msg_init(&sub);
        if (zmq_msg_recv(&sub, self->cap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&sub);
            return;
        }
        size_t size = zmq_msg_size(&sub);
        const uint8_t *data = zmq_msg_data(&sub);
        if (size >= 1 && size <= BROKER_SUB_MAX && (data[0] == 0 || data[0] == 1))
            l3_info("capture: a tap %s '%.*s'", data[0] ? "subscribed to" : "unsubscribed from",
                    (int) (size - 1), (const char *) data + 1);
        zmq_msg_close(&sub);
    }
}

/* Words for the libzmq protocol errors a bad or misconfigured peer causes. */
static const char *s_protocol_error(uint32_t code)
{
    switch (code) {
    case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return "security mechanism mismatch (plaintext client on a CURVE port, or the reverse)";
    case ZMQ_PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND: return "unexpected ZMTP command";
    case ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_HELLO:
    case ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_INITIATE:
        return "malformed CURVE handshake";
    case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC: return "CURVE cryptographic error (wrong server key?)";
    default:
        return code >= ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED && code < ZMQ_PROTOCOL_ERROR_ZAP_UNSPECIFIED
                   ? "not speaking ZMTP as expected"
                   : "protocol error";
    }
}

static void s_handle_monitor(broker_t *self)
{
    for (int n = 0; n < BROKER_BATCH; n++) {
        zmq_msg_t head, addr;
        zmq_msg_init(&head);
        zmq_msg_init(&addr);
        if (zmq_msg_recv(&head, self->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&head);
            zmq_msg_close(&addr);
            return;
        }
        if (zmq_msg_more(&head))
            zmq_msg_recv(&addr, self->mon, 0);
        if (zmq_msg_size(&head) < 6) {
            zmq_msg_close(&head);
            zmq_msg_close(&addr);
            continue;
        }
        const uint8_t *d = zmq_msg_data(&head);
        uint16_t event;
        uint32_t value;
        memcpy(&event, d, 2);
        memcpy(&value, d + 2, 4);
        char key[16];
        snprintf(key, sizeof key, "%u", value);
        if (event == ZMQ_EVENT_ACCEPTED) {
            char peer[BROKER_ADDR_MAX];
            s_peer_address((int) value, peer, sizeof peer);
            if (strcmp(peer, "unknown address") == 0)
                zhashx_delete(self->peers, key); /* never name a reused fd's old peer */
            else if (zhashx_size(self->peers) < BROKER_PEERS_MAX)
                zhashx_update(self->peers, key, peer);
            l3_debug("connection from %s", peer);
        } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            /* Not kept for the DISCONNECTED line: libzmq first sends the client an ERROR
               command, so other connections' events come in between and the reason would
               be pinned on the wrong peer. The ZAP handler already logged the refusal
               with the key and the address. */
        } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
            snprintf(self->failure, sizeof self->failure, "handshake failed: %s (0x%x)",
                     s_protocol_error(value), value);
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            snprintf(self->failure, sizeof self->failure, "handshake failed (%s)",
                     zmq_strerror((int) value));
        else if (event == ZMQ_EVENT_DISCONNECTED) {
            const char *peer = zhashx_lookup(self->peers, key);
            if (self->failure[0]) {
                if (s_ratelog_allow(&self->peerlog))
                    l3_warn("connection from %s: %s; closed",
                            peer ? peer : "(address not seen: it closed at once)", self->failure);
            } else if (s_ratelog_allow(&self->peerlog))
                /* Also what an oversized frame (> L3_MSG_MAX) or a broken frame after the
                   handshake looks like: libzmq closes the connection without detail. */
                l3_info("connection from %s closed",
                        peer ? peer : "(address not seen: it closed at once)");
            self->failure[0] = '\0';
            if (self->conns)
                conns_forget_fd(self->conns, (int) value);
            /* The entry stays: messages of this connection may still be queued, and the
               map cannot grow past the number of fds, as a reused fd overwrites it. */
        }
        zmq_msg_close(&head);
        zmq_msg_close(&addr);
    }
}

/* Answer ZAP requests (RFC 27): CURVE keys in the keyring that may send (bound to a
   host, or unbound with unbound_keys = allow, and not in conflict) get 200 with User-Id =
   the agent id (hex of the key); NULL (plaintext mode) gets 200 with no user; anything
   else 400. Refusing an unusable key here, not record by record, makes the agent's own
   log show a failed handshake. Every request gets a reply, or libzmq would wait for it. */
static void s_handle_zap(broker_t *self)
{
    for (int n = 0; n < BROKER_BATCH; n++) {
        zmq_pollitem_t item = {zsock_resolve(self->zap), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 0) <= 0)
            return;
        zmsg_t *req = zmsg_recv(self->zap);
        if (!req)
            return;
        char *version = zmsg_popstr(req);
        char *request_id = zmsg_popstr(req);
        char *domain = zmsg_popstr(req);
        char *address = zmsg_popstr(req);
        zframe_t *identity = zmsg_pop(req);
        char *mechanism = zmsg_popstr(req);
        zframe_t *key = zmsg_pop(req);
        const char *status = "400", *text = "No access";
        char user[L3_CURVE_ID_LEN + 1] = "";
        if (!version || strcmp(version, "1.0") != 0 || !mechanism) {
            status = "500";
            text = "Bad ZAP request";
        } else if (strcmp(mechanism, "NULL") == 0 && !self->curve) {
            status = "200";
            text = "OK";
        } else if (strcmp(mechanism, "CURVE") == 0 && self->enrol && domain &&
                   strcmp(domain, ENROL_ZAP_DOMAIN) == 0 && key &&
                   zframe_size(key) == L3_CURVE_KEY_LEN) {
            /* The enrolment socket takes any key: all it can do there is ask to join. */
            status = "200";
            text = "OK";
            l3_curve_agent_id(zframe_data(key), user);
        } else if (strcmp(mechanism, "CURVE") == 0 && self->keyring && key &&
                   zframe_size(key) == L3_CURVE_KEY_LEN) {
            char buf[1024];
            l3_curve_agent_id(zframe_data(key), user);
            s_keyring_refresh(self, KEYRING_RELOAD_MS);
            const keyring_entry_t *entry = keyring_lookup(self->keyring, user);
            const char *refusal =
                entry ? s_binding_refusal(self, entry, buf, sizeof buf)
                : self->enrol && enrol_is_pending(self->enrol, user)
                    ? "its key is not in allowed_keys (its join request is pending: l3-hosts "
                      "list)"
                    : "its key is not in allowed_keys";
            if (!refusal) {
                status = "200";
                text = "OK";
                l3_debug("agent %s (%s, host %s) authenticated from %s", user, entry->file,
                         entry->host ? entry->host : "unbound", address ? address : "?");
            } else {
                if (s_ratelog_allow(&self->peerlog))
                    l3_warn("refused agent %s from %s: authentication failed, %s", user,
                            address ? address : "?", refusal);
                user[0] = '\0';
            }
        }
        zmsg_t *reply = zmsg_new();
        zmsg_addstr(reply, "1.0");
        zmsg_addstr(reply, request_id ? request_id : "");
        zmsg_addstr(reply, status);
        zmsg_addstr(reply, text);
        zmsg_addstr(reply, user);
        zmsg_addmem(reply, "", 0);
        zmsg_send(&reply, self->zap);
        zmsg_destroy(&reply);
        zstr_free(&version);
        zstr_free(&request_id);
        zstr_free(&domain);
        zstr_free(&address);
        zstr_free(&mechanism);
        zframe_destroy(&identity);
        zframe_destroy(&key);
        zmsg_destroy(&req);
    }
}

static bool s_backend_writable(broker_t *self)
{
    int events = 0;
    size_t size = sizeof events;
    if (zmq_getsockopt(self->be, ZMQ_EVENTS, &events, &size) != 0)
        return false;
    return (events & ZMQ_POLLOUT) != 0;
}

/* Track writer reachability for the log: one line when it goes away, one when back. */
static void s_note_writer(broker_t *self, bool ok)
{
    if (ok == self->writer_ok)
        return;
    if (!ok) {
        self->stall_since = zclock_mono() - 500;
        self->stats.stalls++;
        l3_warn("writer %s not reachable (or not keeping up): not reading agents until it "
                "is; their outboxes hold the records",
                self->writer_ep);
    } else
        l3_info("writer %s reachable, forwarding (held back %.1f s)", self->writer_ep,
                (double) (zclock_mono() - self->stall_since) / 1000.0);
    self->writer_ok = ok;
}

int broker_run(broker_t *self)
{
    int rc = 0;
    int64_t blocked_since = 0;
    self->writer_ok = true; /* so the first look logs a missing writer */
    l3_service_ready("agents -> %s -> writer %s", self->frontend_ep, self->writer_ep);
    while (!zsys_interrupted) {
        if (self->have_pending && s_backend_writable(self)) {
            if (s_backend_send(self, self->pending_id, &self->pending))
                self->have_pending = false; /* consumed */
        }
        bool writable = !self->have_pending && s_backend_writable(self);
        /* A full pipe for a moment is normal under load; only a wait that lasts is worth
           a log line. */
        if (writable) {
            s_note_writer(self, true);
            blocked_since = 0;
        } else if (!blocked_since)
            blocked_since = zclock_mono();
        else if (zclock_mono() - blocked_since >= 500)
            s_note_writer(self, false);

        zmq_pollitem_t items[8] = {
            {self->fe, 0, writable ? ZMQ_POLLIN : 0, 0},
            {self->be, 0, writable ? 0 : ZMQ_POLLOUT, 0},
            {self->ain, 0, ZMQ_POLLIN, 0},
            {self->aout, 0, ZMQ_POLLIN, 0},
            {self->mon, 0, ZMQ_POLLIN, 0},
            {zsock_resolve(self->zap), 0, ZMQ_POLLIN, 0},
        };
        int count = 6, at_cap = -1, at_enrol = -1;
        if (self->cap)
            items[at_cap = count++] = (zmq_pollitem_t){self->cap, 0, ZMQ_POLLIN, 0};
        if (self->enrol)
            items[at_enrol = count++] =
                (zmq_pollitem_t){enrol_socket(self->enrol), 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(items, count, l3_service_watchdog(writable ? 1000 : 500));
        if (n < 0) {
            if (zmq_errno() == EINTR)
                continue;
            if (zmq_errno() != ETERM) {
                l3_error("poll: %s", zmq_strerror(zmq_errno()));
                rc = 1;
            }
            break;
        }
        /* ZAP and monitor first: handshakes wait on the one, and a new connection's
           address should be known before its messages. */
        if (items[5].revents & ZMQ_POLLIN)
            s_handle_zap(self);
        if (items[4].revents & ZMQ_POLLIN)
            s_handle_monitor(self);
        if (items[0].revents & ZMQ_POLLIN)
            s_handle_frontend(self);
        if (items[2].revents & ZMQ_POLLIN)
            s_handle_ack_in(self);
        if (items[3].revents & ZMQ_POLLIN)
            s_handle_ack_out(self);
        if (at_cap >= 0 && (items[at_cap].revents & ZMQ_POLLIN))
            s_handle_capture(self);
        if (at_enrol >= 0 && (items[at_enrol].revents & ZMQ_POLLIN))
            enrol_handle(self->enrol);
        s_ratelog_tick(&self->badlog);
        s_ratelog_tick(&self->peerlog);
        /* Keys and bindings changed while no agent connects still count, for the
           connections that are up (s_check_host looks at every record). */
        if (self->keyring && zclock_mono() - self->keyring_checked >= BROKER_KEYRING_CHECK_MS) {
            keyring_refresh(self->keyring, KEYRING_IDLE_RELOAD_MS);
            /* Whoever re-read the directory last (a handshake, the enrolment socket, a
               batch of records), a removed key's connection is closed within a second. */
            conns_cut_removed(self->conns, self->keyring);
            self->keyring_checked = zclock_mono();
        }
    }
    l3_service_stopping();
    s_ratelog_flush(&self->badlog);
    s_ratelog_flush(&self->peerlog);
    l3_info("stopping: %" PRIu64 " records forwarded, %" PRIu64 " rejected (%" PRIu64
            " claiming another host than their key's), %" PRIu64 " acks, %" PRIu64
            " writer stalls",
            self->stats.forwarded, self->stats.rejected, self->stats.host_refused,
            self->stats.acks, self->stats.stalls);
    return rc;
}
