/*  Identity bound to the key (issue 9, item 5), through real l3-broker processes and
    real CURVE sockets, with keys made by l3-keygen --host:
    - a key bound to h1 gets records claiming h1 through; one claiming h2 is refused (not
      at the writer, a warning naming the key, both hosts) and later good records pass;
    - two keys bound to two hosts pass each with its own host only;
    - a key whose certificate binds no host is refused at the handshake by default, and
      let in (with any host) under broker/unbound_keys = allow;
    - a binding changed in allowed_keys counts on a connection that is already up; a key
      removed has that connection closed and its reconnection refused; two files binding
      one key differently refuse it until they agree;
    - l3-keygen: the default binding is this machine's name, --bind rebinds, a host that
      cannot be bound is refused; a bad unbound_keys value stops the broker. */
#include "broker_testlib.h"
#include "keyring.h"
#include "l3_curve.h"
#include "l3_test.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* True when one line of the file holds both needles. */
static bool s_line_has(const char *path, const char *a, const char *b)
{
    char *text = bt_file_read(path);
    bool found = false;
    for (char *line = text; line && *line && !found;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        found = strstr(line, a) && strstr(line, b);
        line = end ? end + 1 : NULL;
    }
    free(text);
    return found;
}

static bool s_wait_line_has(const char *path, const char *a, const char *b, int timeout_ms)
{
    int64_t deadline = zclock_mono() + timeout_ms;
    do {
        if (s_line_has(path, a, b))
            return true;
        zclock_sleep(20);
    } while (zclock_mono() < deadline);
    return false;
}

/* Send one command record claiming host; true when the writer got exactly it, from id. */
static bool s_passes(bt_agent_t *agent, bt_writer_t *writer, const char *id, const char *host,
                     uint64_t seq)
{
    l3_buf_t rec, got;
    l3_buf_init(&rec, 0);
    l3_buf_init(&got, 0);
    char from[128] = "";
    bt_record_host(&rec, L3_RECORD_COMMAND, "claimed", host, 7, seq, "make");
    bool ok = bt_agent_send(agent, &rec) && bt_writer_recv(writer, from, sizeof from, &got, 5000);
    if (ok && (strcmp(from, id) != 0 || got.len != rec.len ||
               memcmp(got.data, rec.data, rec.len) != 0)) {
        fprintf(stderr, "seq %d from host %s: the writer got another record (from %s)\n",
                (int) seq, host, from);
        ok = false;
    }
    l3_buf_free(&rec);
    l3_buf_free(&got);
    return ok;
}

/* Send one record claiming host that the broker must refuse. (Whether it did shows when
   the next record the test expects is the next the writer gets.) */
static bool s_send(bt_agent_t *agent, const char *host, uint64_t seq)
{
    l3_buf_t rec;
    l3_buf_init(&rec, 0);
    bt_record_host(&rec, L3_RECORD_COMMAND, "claimed", host, 7, seq, "make");
    bool ok = bt_agent_send(agent, &rec);
    l3_buf_free(&rec);
    return ok;
}

/* The rejection line of a record claiming `claimed` from a key (id, file) bound to `bound`. */
static bool s_wait_refusal(const char *log, const char *id, const char *file,
                           const char *claimed, const char *bound)
{
    char who[128], why[512];
    snprintf(who, sizeof who, "(%s, ", id);
    snprintf(why, sizeof why, "record claims host \"%s\", but its key (%s) is bound to host \"%s\"",
             claimed, file, bound);
    return s_wait_line_has(log, who, why, 5000);
}

int main(void)
{
    char dir[256] = "", keys[300], allowed[300], keylog[300], path[400], path2[400];
    char server_pub[400], cfg_extra[1200], want[512];
    char id1[80], id2[80], idu[80], host[512], err[512];
    bt_writer_t *writer = NULL;
    bt_agent_t *a1 = NULL, *a2 = NULL, *au = NULL;
    bt_broker_t broker = {0};
    l3_buf_t got;
    l3_buf_init(&got, 0);

    CHECK(bt_tempdir(dir, sizeof dir));
    snprintf(keys, sizeof keys, "%s/keys", dir);
    snprintf(allowed, sizeof allowed, "%s/allowed", dir);
    snprintf(keylog, sizeof keylog, "%s/keygen.out", dir);
    CHECK(mkdir(allowed, 0700) == 0);

    /* l3-keygen: the default binding is this machine's name (what l3-agent claims unless
       agent/host is set), --host binds both files, --bind rebinds, and a host that could
       not be a record's host (or be written in a certificate) is refused. */
    CHECK(bt_keygen(keylog, "broker", "--dir", keys, NULL) == 0);
    char self_host[256] = "";
    CHECK(gethostname(self_host, sizeof self_host - 1) == 0);
    snprintf(path, sizeof path, "%s/broker.pub", keys);
    CHECK(keyring_cert_host(path, host, sizeof host, err, sizeof err) &&
          strcmp(host, self_host) == 0);
    CHECK(bt_keygen(keylog, "k1", "--dir", keys, "--host", "h1", NULL) == 0);
    CHECK(bt_keygen(keylog, "k2", "--dir", keys, "--host", "h2", NULL) == 0);
    CHECK(bt_keygen(keylog, "ku", "--dir", keys, NULL) == 0);
    CHECK(bt_keygen(keylog, "kx", "--dir", keys, "--host", "bad\"host", NULL) == 2);
    snprintf(path, sizeof path, "%s/kx.key", keys);
    CHECK(access(path, F_OK) != 0);
    snprintf(path, sizeof path, "%s/k1.key", keys);
    CHECK(keyring_cert_host(path, host, sizeof host, err, sizeof err) && strcmp(host, "h1") == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    snprintf(path, sizeof path, "%s/ku.pub", keys);
    CHECK(bt_keygen(keylog, "--bind", "h3", path, NULL) == 0);
    CHECK(keyring_cert_host(path, host, sizeof host, err, sizeof err) && strcmp(host, "h3") == 0);
    CHECK(bt_file_count(keylog, "host:       h3") == 1);

    snprintf(server_pub, sizeof server_pub, "%s/broker.pub", keys);
    snprintf(path, sizeof path, "%s/k1.pub", keys);
    snprintf(path2, sizeof path2, "%s/k1.pub", allowed);
    CHECK(bt_copy(path, path2));
    bt_id_of(path, id1);
    snprintf(path, sizeof path, "%s/k2.pub", keys);
    snprintf(path2, sizeof path2, "%s/k2.pub", allowed);
    CHECK(bt_copy(path, path2));
    bt_id_of(path, id2);
    /* A key from another tool: a certificate without metadata, so no host. */
    snprintf(path, sizeof path, "%s/ku.pub", keys);
    bt_id_of(path, idu);
    zcert_t *ku = l3_curve_cert_load(path);
    snprintf(path2, sizeof path2, "%s/foreign.pub", allowed);
    FILE *f = fopen(path2, "w");
    if (f && ku) {
        fprintf(f, "curve\n    public-key = \"%s\"\n", zcert_public_txt(ku));
        fclose(f);
    }
    zcert_destroy(&ku);
    CHECK(l3_curve_id_is_hex(id1) && l3_curve_id_is_hex(id2) && l3_curve_id_is_hex(idu));

    writer = bt_writer_new();
    if (!writer)
        goto cleanup;

    /* 1. The default: unbound keys refused. */
    snprintf(cfg_extra, sizeof cfg_extra,
             "    curve = 1\n    server_cert = %s/broker.key\n    allowed_keys = %s\n", keys,
             allowed);
    CHECK(bt_broker_start(&broker, dir, "b1", writer, cfg_extra));
    if (!broker.pid)
        goto cleanup;
    CHECK(bt_file_count(broker.log, "3 key(s) from 3 file(s); 1 bind no host, 0 in conflict") ==
          1);
    CHECK(s_line_has(broker.log, idu, "foreign.pub (agent"));
    snprintf(path, sizeof path, "%s/k1.key", keys);
    a1 = bt_agent_new(&broker, id1, path, server_pub);
    snprintf(path, sizeof path, "%s/k2.key", keys);
    a2 = bt_agent_new(&broker, id2, path, server_pub);
    snprintf(path, sizeof path, "%s/ku.key", keys);
    au = bt_agent_new(&broker, idu, path, server_pub);
    CHECK(a1 && a2 && au);
    if (!a1 || !a2 || !au)
        goto cleanup;

    /* The key bound to h1: its own host passes, h2 is refused, and it goes on. */
    CHECK_MSG(s_passes(a1, writer, id1, "h1", 1), "h1's record with host h1");
    CHECK_MSG(s_passes(a1, writer, id1, "h1", 2), "h1's second record");
    CHECK(s_send(a1, "h2", 3));
    CHECK_MSG(s_passes(a1, writer, id1, "h1", 4), "h1's record after a refused one");
    CHECK(s_wait_refusal(broker.log, id1, "k1.pub", "h2", "h1"));
    /* The other key, the other way round. */
    CHECK_MSG(s_passes(a2, writer, id2, "h2", 1), "h2's record with host h2");
    CHECK(s_send(a2, "h1", 2));
    CHECK_MSG(s_passes(a2, writer, id2, "h2", 3), "h2's record after a refused one");
    CHECK(s_wait_refusal(broker.log, id2, "k2.pub", "h1", "h2"));
    /* A host differing in case only is another host. */
    CHECK(s_send(a1, "H1", 5));
    CHECK_MSG(s_passes(a1, writer, id1, "h1", 6), "h1 after H1");
    CHECK(s_wait_refusal(broker.log, id1, "k1.pub", "H1", "h1"));

    /* The unbound key does not get in. (Once its handshake is refused the PUSH has no
       pipe and a send would wait for one forever: this one may time out.) */
    zsock_set_sndtimeo(au->push, 200);
    s_send(au, "h1", 1);
    snprintf(want, sizeof want,
             "refused agent %s from 127.0.0.1: authentication failed, its certificate "
             "foreign.pub binds no host (broker/unbound_keys = refuse)",
             idu);
    CHECK(bt_wait_file_count(broker.log, want, 1, 5000));

    /* A binding changed in allowed_keys counts for the connection that is up. */
    snprintf(path, sizeof path, "%s/k1.pub", allowed);
    CHECK(bt_bind(path, "h1-new"));
    snprintf(want, sizeof want, "agent %s (k1.pub) is now bound to host \"h1-new\" (was \"h1\")",
             id1);
    CHECK(bt_wait_file_count(broker.log, want, 1, 5000));
    CHECK(s_send(a1, "h1", 7));
    CHECK_MSG(s_passes(a1, writer, id1, "h1-new", 8), "h1's record under its new binding");
    CHECK(s_wait_refusal(broker.log, id1, "k1.pub", "h1", "h1-new"));

    /* Two files binding one key differently: refused until they agree. */
    snprintf(path, sizeof path, "%s/k2.pub", keys);
    snprintf(path2, sizeof path2, "%s/k2-copy.pub", allowed);
    CHECK(bt_copy(path, path2));
    CHECK(bt_bind(path2, "h9"));
    snprintf(want, sizeof want,
             "agent %s is in k2-copy.pub and in k2.pub with different host bindings", id2);
    CHECK(bt_wait_file_count(broker.log, want, 1, 5000));
    CHECK(s_send(a2, "h2", 4));
    CHECK(s_send(a2, "h9", 5));
    /* Both refused before the conflict ends (else the second would count as a host). */
    CHECK(bt_wait_file_count(broker.log, "k2-copy.pub and k2.pub bind its key to different hosts",
                             2, 5000));
    CHECK(s_line_has(broker.log, id2, "k2-copy.pub and k2.pub bind its key to different hosts"));
    CHECK(unlink(path2) == 0);
    snprintf(want, sizeof want, "agent %s (k2.pub) is now bound to host \"h2\" (was in conflict)",
             id2);
    CHECK(bt_wait_file_count(broker.log, want, 1, 5000));
    CHECK_MSG(s_passes(a2, writer, id2, "h2", 6), "h2 after the conflict ended");

    /* A key removed from allowed_keys: the broker closes the connection it has as it
       reads the directory, and its reconnection is refused; what it sends stays with it
       (test_broker_enrol has the record sent at once after a removal). */
    snprintf(path, sizeof path, "%s/k2.pub", allowed);
    CHECK(unlink(path) == 0);
    CHECK(bt_wait_file_count(broker.log, "2 key(s) from 2 file(s); 1 bind no host", 1, 5000));
    snprintf(want, sizeof want, "closed the records connection of agent %s", id2);
    CHECK(bt_wait_file_count(broker.log, want, 1, 5000));
    zsock_set_sndtimeo(a2->push, 200);
    s_send(a2, "h2", 7);
    CHECK(s_wait_line_has(broker.log, id2, "its key is not in allowed_keys", 5000));

    /* Nothing else reached the writer. */
    char from[128];
    CHECK(!bt_writer_recv(writer, from, sizeof from, &got, 300));
    CHECK(bt_broker_stop(&broker));
    /* Forwarded: a1 1, 2, 4, 6, 8; a2 1, 3, 6. Refused for their host: a1 3, 5, 7; a2 2.
       Refused for the conflict: a2 4, 5. a2 7 never reached it: the removed key's
       connection was closed. */
    CHECK(bt_file_count(broker.log, "stopping: 8 records forwarded, 6 rejected (4 claiming "
                                    "another host than their key's)") == 1);
    bt_agent_destroy(&a1);
    bt_agent_destroy(&a2);
    bt_agent_destroy(&au);

    /* 2. unbound_keys = allow: the unbound key gets in with any host; bound keys stay
       bound. */
    snprintf(cfg_extra, sizeof cfg_extra,
             "    curve = 1\n    server_cert = %s/broker.key\n    allowed_keys = %s\n"
             "    unbound_keys = allow\n",
             keys, allowed);
    CHECK(bt_broker_start(&broker, dir, "b2", writer, cfg_extra));
    if (!broker.pid)
        goto cleanup;
    CHECK(bt_file_count(broker.log, "unbound_keys = allow: an allowed key") == 1);
    snprintf(path, sizeof path, "%s/ku.key", keys);
    au = bt_agent_new(&broker, idu, path, server_pub);
    snprintf(path, sizeof path, "%s/k1.key", keys);
    a1 = bt_agent_new(&broker, id1, path, server_pub);
    CHECK(au && a1);
    if (!au || !a1)
        goto cleanup;
    CHECK_MSG(s_passes(au, writer, idu, "h3", 1), "the unbound key, allowed, as h3");
    CHECK_MSG(s_passes(au, writer, idu, "anything", 2), "the unbound key, allowed, as another");
    CHECK(s_send(a1, "h1", 9));
    CHECK_MSG(s_passes(a1, writer, id1, "h1-new", 10), "a bound key under unbound_keys = allow");
    CHECK(s_wait_refusal(broker.log, id1, "k1.pub", "h1", "h1-new"));
    CHECK(bt_broker_stop(&broker));
    CHECK(bt_file_count(broker.log, "stopping: 3 records forwarded, 1 rejected (1 claiming") ==
          1);

    /* 3. A value that is neither refuse nor allow stops the broker at start. */
    char cfg[400], log[400], bin[512];
    snprintf(cfg, sizeof cfg, "%s/b3.cfg", dir);
    snprintf(log, sizeof log, "%s/b3.log", dir);
    f = fopen(cfg, "w");
    if (f) {
        fprintf(f, "broker\n    curve = 1\n    server_cert = %s/broker.key\n"
                   "    allowed_keys = %s\n    unbound_keys = yes\n    backend_port = %d\n"
                   "    ack_port = %d\n    capture_port = 0\n",
                keys, allowed, bt_free_port(), bt_free_port());
        fclose(f);
    }
    bt_bin("l3-broker", bin, sizeof bin);
    char *argv[] = {bin, "-c", cfg, NULL};
    int rc = bt_wait_exit(bt_spawn(argv, log, log), 10000);
    CHECK_MSG(rc != 0 && rc != -1, "l3-broker with unbound_keys = yes: exit %d", rc);
    CHECK(bt_file_count(log, "broker/unbound_keys = 'yes': use refuse (the default) or allow") ==
          1);

cleanup:
    if (broker.pid)
        bt_broker_stop(&broker);
    bt_agent_destroy(&a1);
    bt_agent_destroy(&a2);
    bt_agent_destroy(&au);
    bt_writer_destroy(&writer);
    l3_buf_free(&got);
    bt_rmtree(dir);
    TEST_DONE();
}
