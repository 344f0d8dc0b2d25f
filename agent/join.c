/*  join — `l3-agent --enrol`: ask the broker to enrol this host. See join.h. */
#include "join.h"
#include "l3_curve.h"
#include "l3_fs.h"
#include "l3_join.h"
#include "l3_log.h"
#include "l3_time.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* The enrolment endpoint (see join.h). */
static void s_endpoint(l3_config_t *config, char *out, size_t size)
{
    const char *ep = l3_config_str(config, "agent/enrol_endpoint", NULL);
    if (ep && *ep) {
        snprintf(out, size, "%s", ep);
        return;
    }
    int64_t port = l3_config_int(config, "broker/enrol_port", JOIN_PORT_DEFAULT, 1, 65535);
    char host[256] = "";
    const char *brokers = l3_config_str(config, "agent/brokers", NULL);
    if (brokers && strncmp(brokers, "tcp://", 6) == 0) {
        /* tcp://HOST:PORT[,...]: HOST is everything up to the last ':' of the first */
        snprintf(host, sizeof host, "%.*s", (int)strcspn(brokers + 6, ", "), brokers + 6);
        char *colon = strrchr(host, ':');
        if (colon)
            *colon = '\0';
    }
    if (!host[0]) {
        const char *address = l3_config_str(config, "broker/backend_address", "127.0.0.1");
        snprintf(host, sizeof host, "%s",
                 !*address || !strcmp(address, "*") || !strcmp(address, "0.0.0.0") ? "127.0.0.1"
                                                                                   : address);
    }
    bool v6 = strchr(host, ':') && host[0] != '[';
    snprintf(out, size, v6 ? "tcp://[%s]:%" PRId64 : "tcp://%s:%" PRId64, host, port);
}

/* The broker's public key: from --broker-key (Z85 text or a certificate file), saved to
   agent/broker_cert when that does not exist yet, or from agent/broker_cert. NULL (said
   on stderr) when neither gives one, or when they disagree. */
static zcert_t *s_broker_key(l3_config_t *config, const char *given)
{
    const char *path = l3_config_str(config, "agent/broker_cert", "/etc/lilalo/broker.pub");
    char err[512];
    zcert_t *saved = access(path, F_OK) == 0 ? l3_curve_cert_read(path, err, sizeof err) : NULL;
    zcert_t *cert = NULL;
    if (access(path, F_OK) == 0 && !saved) {
        fprintf(stderr, "l3-agent: --enrol: agent/broker_cert: %s\n", err);
        return NULL;
    }
    if (!given) {
        if (!saved)
            fprintf(stderr,
                    "l3-agent: --enrol: no broker key: %s does not exist. Give the broker's "
                    "public key with --broker-key KEY (the public-key line of the broker's "
                    "broker.pub, or that file); it is never taken from the network\n",
                    path);
        return saved;
    }
    uint8_t key[L3_CURVE_KEY_LEN];
    if (strlen(given) == L3_CURVE_Z85_LEN && zmq_z85_decode(key, given))
        cert = zcert_new_from(key, key); /* the secret half is never used for a peer */
    else if (!(cert = l3_curve_cert_read(given, err, sizeof err)))
        fprintf(stderr,
                "l3-agent: --enrol: --broker-key is neither a 40-character Z85 key "
                "nor a certificate file (%s)\n",
                err);
    if (!cert)
        goto fail;
    if (saved) {
        if (memcmp(zcert_public_key(saved), zcert_public_key(cert), L3_CURVE_KEY_LEN) != 0) {
            fprintf(stderr,
                    "l3-agent: --enrol: %s holds another broker key (%s) than "
                    "--broker-key (%s); remove the file if the broker's key changed\n",
                    path, zcert_public_txt(saved), zcert_public_txt(cert));
            goto fail;
        }
        zcert_destroy(&cert);
        return saved;
    }
    char text[256], dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    snprintf(text, sizeof text,
             "#   the lilalo broker's public key, given to l3-agent --enrol\n"
             "curve\n    public-key = \"%s\"\n",
             zcert_public_txt(cert));
    if (!l3_mkdirs(dirname(dir), 0755) || !l3_replace_file(path, text, 0644)) {
        fprintf(stderr, "l3-agent: --enrol: cannot write %s: %s\n", path, strerror(errno));
        goto fail;
    }
    printf("broker key saved to %s\n", path);
    return cert;
fail:
    zcert_destroy(&cert);
    zcert_destroy(&saved);
    return NULL;
}

/* One request and its answer. false when no valid answer came within JOIN_ANSWER_MS. */
static bool s_ask(zsock_t *sock, const char *host, l3_join_reply_t *reply)
{
    l3_join_t join = {.ts = l3_time_now_us()};
    snprintf(join.host, sizeof join.host, "%s", host);
    if (getrandom(join.nonce, sizeof join.nonce, 0) != (ssize_t)sizeof join.nonce) {
        l3_error("getrandom: %s", strerror(errno));
        return false;
    }
    l3_buf_t buf;
    l3_buf_init(&buf, L3_JOIN_MAX);
    bool ok = false;
    if (!l3_join_encode(&join, &buf) || zmq_send(zsock_resolve(sock), buf.data, buf.len, 0) < 0)
        goto cleanup;
    int64_t deadline = zclock_mono() + JOIN_ANSWER_MS;
    while (!ok && !zsys_interrupted && zclock_mono() < deadline) {
        zmq_pollitem_t item = {zsock_resolve(sock), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, deadline - zclock_mono()) <= 0)
            continue;
        zframe_t *frame = zframe_recv(sock);
        char err[256];
        if (frame && zframe_more(frame) == 0 &&
            l3_join_reply_decode(zframe_data(frame), zframe_size(frame), reply, err, sizeof err))
            ok = true;
        else
            l3_warn("enrol: a bad answer from the broker, ignored");
        zframe_destroy(&frame);
    }
cleanup:
    l3_buf_free(&buf);
    return ok;
}

int join_run(l3_config_t *config, const join_opts_t *opts)
{
    int rc = 1;
    zcert_t *own = NULL, *broker = NULL;
    zsock_t *sock = NULL;
    char host[L3_NAME_MAX + 2] = "", endpoint[512], id[L3_CURVE_ID_LEN + 1];
    if (!l3_config_bool(config, "agent/curve", true)) {
        fprintf(stderr, "l3-agent: --enrol needs CURVE (agent/curve = 1): without it the "
                        "broker cannot tell one host from another\n");
        return 1;
    }
    const char *cfg_host = opts->host ? opts->host : l3_config_str(config, "agent/host", NULL);
    if (cfg_host)
        snprintf(host, sizeof host, "%s", cfg_host);
    else if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    if (!host[0] || !l3_text_valid(host, L3_NAME_MAX) || strchr(host, '"')) {
        fprintf(stderr, "l3-agent: --enrol: '%s' cannot be a host name\n", host);
        return 1;
    }
    const char *cert_path = l3_config_str(config, "agent/cert", "/etc/lilalo/agent.key");
    char cert_dir[4096];
    snprintf(cert_dir, sizeof cert_dir, "%s", cert_path);
    if (!l3_mkdirs(dirname(cert_dir), 0700)) {
        fprintf(stderr, "l3-agent: --enrol: cannot create the directory of %s: %s\n", cert_path,
                strerror(errno));
        goto cleanup;
    }
    if (!(own = l3_curve_cert_load_or_create(cert_path)) ||
        !(broker = s_broker_key(config, opts->broker_key)))
        goto cleanup;
    l3_curve_agent_id(zcert_public_key(own), id);
    s_endpoint(config, endpoint, sizeof endpoint);
    printf("asking %s to enrol this host as \"%s\"\n"
           "  agent key:  %s, agent id %s\n"
           "  broker key: %s\n",
           endpoint, host, cert_path, id, zcert_public_txt(broker));
    fflush(stdout);
    sock = zsock_new(ZMQ_DEALER);
    if (!sock || !l3_curve_client_setup(sock, own, broker))
        goto cleanup;
    zsock_set_linger(sock, 0);
    zsock_set_reconnect_ivl(sock, 200);
    if (zsock_connect(sock, "%s", endpoint) != 0) {
        fprintf(stderr, "l3-agent: --enrol: cannot connect %s\n", endpoint);
        goto cleanup;
    }
    l3_join_status_t last = 0;
    while (!zsys_interrupted) {
        l3_join_reply_t reply;
        if (!s_ask(sock, host, &reply)) {
            if (!zsys_interrupted)
                fprintf(stderr,
                        "l3-agent: --enrol: no answer from %s within %d s (broker down, "
                        "enrolment off there, or not the broker's key)\n",
                        endpoint, JOIN_ANSWER_MS / 1000);
            break;
        }
        if (reply.status != last)
            printf("%s: %s\n", l3_join_status_name(reply.status), reply.text);
        if (reply.status == L3_JOIN_ENROLLED && strcmp(reply.host, host) != 0)
            printf("  note: the key is bound to host \"%s\", not \"%s\": set agent/host = %s, "
                   "or the broker refuses the daemon's records\n",
                   reply.host, host, reply.host);
        if (reply.status == L3_JOIN_PENDING && last != L3_JOIN_PENDING)
            printf("  on the broker:  l3-hosts approve %s\n"
                   "  and check there that the agent id is %s\n",
                   host, id);
        fflush(stdout);
        last = reply.status;
        if (reply.status == L3_JOIN_REFUSED)
            break;
        if (reply.status == L3_JOIN_ENROLLED || !opts->wait) {
            rc = 0;
            break;
        }
        /* --wait: ask again (a fresh request: its time and nonce are new). */
        for (int64_t until = zclock_mono() + JOIN_RETRY_MS;
             !zsys_interrupted && zclock_mono() < until;)
            zclock_sleep(100);
    }
cleanup:
    zsock_destroy(&sock);
    zcert_destroy(&own);
    zcert_destroy(&broker);
    return rc;
}
