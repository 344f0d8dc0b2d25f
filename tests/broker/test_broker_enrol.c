/*  Enrolment (issue 9, item 4), through real processes on loopback: l3-writer, l3-broker
    with an enrolment port, l3-loadgen as a host's agent (the real outbox and sender),
    l3-agent --enrol and l3-hosts as the documented commands:
    - --enrol without the broker's key refuses (never taken from the network); with it the
      host is pending, listed by l3-hosts list with its agent id;
    - a pending host's agent sends nothing (refused at the handshake, named as pending);
      its records wait in its outbox;
    - a second key asking for the same host name: approving the name alone is ambiguous,
      and once the first is approved the second is refused at approval;
    - approved, the first host's outbox drains: the writer stores all its records once,
      under the approved host name; --enrol then answers "enrolled";
    - l3-hosts remove: the broker closes that key's idle connection by itself, its
      reconnection is refused; the name is free for another key then (rotation), and
      that key's very next record after its removal is refused (waited on in the log,
      no sleeps);
    - a flood of join requests from fresh keys leaves at most pending_max files, the
      refusals are rate-limited in the log, and a replayed or garbage request is refused. */
#include "broker_testlib.h"
#include "l3_curve.h"
#include "l3_join.h"
#include "l3_time.h"
#include "l3_test.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PENDING_MAX 5
#define FLOOD 30
#define RECORDS 20

/* Lines of the file holding both needles. */
static int s_lines_with(const char *path, const char *a, const char *b)
{
    char *text = bt_file_read(path);
    int found = 0;
    for (char *line = text; line && *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        found += strstr(line, a) && strstr(line, b);
        line = end ? end + 1 : NULL;
    }
    free(text);
    return found;
}

static bool s_wait_lines_with(const char *path, const char *a, const char *b, int n, int timeout_ms)
{
    int64_t deadline = zclock_mono() + timeout_ms;
    do {
        if (s_lines_with(path, a, b) >= n)
            return true;
        zclock_sleep(20);
    } while (zclock_mono() < deadline);
    return false;
}

/* Run a program of the build with up to 6 arguments (NULL-terminated), its output (only
   this run's) in the file out; its exit status. */
static int s_run(const char *out, const char *prog, const char *a, const char *b, const char *c,
                 const char *d, const char *e, const char *f)
{
    char bin[512];
    bt_bin(prog, bin, sizeof bin);
    unlink(out);
    char *argv[] = {bin, (char *)a, (char *)b, (char *)c, (char *)d, (char *)e, (char *)f, NULL};
    return bt_wait_exit(bt_spawn(argv, out, out), 30000);
}

static int s_files_in(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* The agent config of a host: its key, the broker's, the broker's ports. */
static bool s_agent_cfg(const char *path, const char *hostdir, const bt_broker_t *b, int enrol_port,
                        bool explicit_endpoint)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    fprintf(f,
            "agent\n    curve = 1\n    cert = \"%s/agent.key\"\n"
            "    broker_cert = \"%s/broker.pub\"\n    brokers = \"tcp://127.0.0.1:%d\"\n"
            "    acks = \"tcp://127.0.0.1:%d\"\n    ack_timeout_ms = 1000\n",
            hostdir, hostdir, b->port, b->ack_port);
    if (explicit_endpoint)
        fprintf(f, "    enrol_endpoint = \"tcp://127.0.0.1:%d\"\n", enrol_port);
    fprintf(f, "broker\n    enrol_port = %d\n", enrol_port);
    return fclose(f) == 0;
}

/* One join request from a fresh DEALER with cert; the decoded answer. */
static bool s_join(zcert_t *cert, zcert_t *server, int port, const void *data, size_t len,
                   l3_join_reply_t *reply)
{
    zsock_t *s = zsock_new(ZMQ_DEALER);
    bool ok = false;
    if (!s || !l3_curve_client_setup(s, cert, server))
        goto cleanup;
    zsock_set_linger(s, 0);
    zsock_set_rcvtimeo(s, 5000);
    if (zsock_connect(s, "tcp://127.0.0.1:%d", port) != 0 ||
        zmq_send(zsock_resolve(s), data, len, 0) < 0)
        goto cleanup;
    zframe_t *frame = zframe_recv(s);
    char err[256];
    ok = frame &&
         l3_join_reply_decode(zframe_data(frame), zframe_size(frame), reply, err, sizeof err);
    zframe_destroy(&frame);
cleanup:
    zsock_destroy(&s);
    return ok;
}

static bool s_join_host(zcert_t *cert, zcert_t *server, int port, const char *host, int64_t ts,
                        l3_join_reply_t *reply)
{
    l3_join_t join = {.ts = ts};
    snprintf(join.host, sizeof join.host, "%s", host);
    memcpy(join.nonce, zcert_public_key(cert), sizeof join.nonce);
    l3_buf_t buf;
    l3_buf_init(&buf, 0);
    bool ok = l3_join_encode(&join, &buf) && s_join(cert, server, port, buf.data, buf.len, reply);
    l3_buf_free(&buf);
    return ok;
}

int main(void)
{
    char dir[256] = "", keys[300], allowed[300], pending[300], hosta[300], hostb[300];
    char path[512], cfga[512], cfgb[512], out[512], wcfg[512], wlog[512], datafile[512];
    char cfg_extra[2000], ida[80] = "", idb[80] = "", prefix[20], want[600], host[256] = "";
    char broker_key[64] = "";
    bt_broker_t broker = {0};
    bt_agent_t *agent = NULL;
    zcert_t *server = NULL;
    pid_t writer = 0, loadgen = 0;
    l3_buf_t rec;
    l3_buf_init(&rec, 0);

    CHECK(gethostname(host, sizeof host - 1) == 0 && host[0]);
    CHECK(bt_tempdir(dir, sizeof dir));
    snprintf(keys, sizeof keys, "%s/keys", dir);
    snprintf(allowed, sizeof allowed, "%s/allowed", dir);
    snprintf(pending, sizeof pending, "%s/pending", dir);
    snprintf(hosta, sizeof hosta, "%s/host-a", dir);
    snprintf(hostb, sizeof hostb, "%s/host-b", dir);
    snprintf(out, sizeof out, "%s/cmd.out", dir);
    CHECK(mkdir(allowed, 0700) == 0);
    snprintf(path, sizeof path, "%s/keygen.out", dir);
    CHECK(bt_keygen(path, "broker", "--dir", keys, NULL) == 0);
    snprintf(path, sizeof path, "%s/broker.pub", keys);
    server = l3_curve_cert_load(path);
    CHECK(server != NULL);
    if (!server)
        goto cleanup;
    snprintf(broker_key, sizeof broker_key, "%s", zcert_public_txt(server));

    /* The writer, real: the records must end in its datafile under the bound host. */
    bt_writer_t ports = {.port = bt_free_port(), .ack_port = bt_free_port()};
    snprintf(wcfg, sizeof wcfg, "%s/writer.cfg", dir);
    snprintf(wlog, sizeof wlog, "%s/writer.log", dir);
    snprintf(datafile, sizeof datafile, "%s/datafile.xml", dir);
    FILE *f = fopen(wcfg, "w");
    if (f) {
        fprintf(f,
                "writer\n    backend_datafile = \"%s\"\n    bind = \"tcp://127.0.0.1:%d\"\n"
                "    ack_bind = \"tcp://127.0.0.1:%d\"\n",
                datafile, ports.port, ports.ack_port);
        fclose(f);
    }
    char wbin[512];
    bt_bin("l3-writer", wbin, sizeof wbin);
    char *wargv[] = {wbin, "-c", wcfg, NULL};
    writer = bt_spawn(wargv, NULL, wlog);
    CHECK(bt_wait_file_count(wlog, "ready:", 1, 10000));

    int enrol_port = bt_free_port();
    snprintf(cfg_extra, sizeof cfg_extra,
             "    curve = 1\n    server_cert = %s/broker.key\n    allowed_keys = %s\n"
             "    pending_keys = %s\n    pending_max = %d\n    enrol_port = %d\n",
             keys, allowed, pending, PENDING_MAX, enrol_port);
    CHECK(bt_broker_start(&broker, dir, "broker", &ports, cfg_extra));
    if (!broker.pid)
        goto cleanup;
    CHECK(bt_file_count(broker.log, "enrol: join requests on") == 1);

    /* 1. Host A asks. Without the broker's key it refuses; with it, it is pending. */
    snprintf(cfga, sizeof cfga, "%s/a.cfg", dir);
    snprintf(cfgb, sizeof cfgb, "%s/b.cfg", dir);
    CHECK(s_agent_cfg(cfga, hosta, &broker, enrol_port, true));
    CHECK(s_agent_cfg(cfgb, hostb, &broker, enrol_port, false));
    CHECK(s_run(out, "l3-agent", "-c", cfga, "--enrol", NULL, NULL, NULL) == 1);
    CHECK(bt_file_count(out, "it is never taken from the network") == 1);
    CHECK(s_run(out, "l3-agent", "-c", cfga, "--enrol", "--broker-key", broker_key, NULL) == 0);
    snprintf(want, sizeof want, "l3-hosts approve %s", host);
    CHECK(bt_file_count(out, want) >= 1);
    snprintf(path, sizeof path, "%s/agent.pub", hosta);
    bt_id_of(path, ida);
    CHECK(l3_curve_id_is_hex(ida));
    CHECK(bt_file_count(out, ida) >= 1);
    CHECK(s_run(out, "l3-hosts", "-c", broker.cfg, "list", NULL, NULL, NULL) == 0);
    CHECK(s_lines_with(out, "pending ", ida) == 1 && s_lines_with(out, host, ida) == 1);

    /* 2. Its agent runs before approval: refused at the handshake, records kept. */
    char lbin[512], obox[400], recs[16];
    bt_bin("l3-loadgen", lbin, sizeof lbin);
    snprintf(obox, sizeof obox, "%s/outbox-a", dir);
    snprintf(recs, sizeof recs, "%d", RECORDS);
    char *largv[] = {lbin,       "-c", cfga,        "--records", recs,
                     "--outbox", obox, "--timeout", "60",        NULL};
    snprintf(path, sizeof path, "%s/loadgen-a.log", dir);
    loadgen = bt_spawn(largv, path, path);
    CHECK(s_wait_lines_with(broker.log, ida, "(its join request is pending: l3-hosts list)", 1,
                            10000));
    CHECK(bt_alive(loadgen));
    CHECK(bt_file_count(datafile, ida) == 0);

    /* 3. Host B asks for the same name (the host name derived from agent/brokers). */
    CHECK(s_run(out, "l3-agent", "-c", cfgb, "--enrol", "--broker-key", broker_key, NULL) == 0);
    CHECK(bt_file_count(out, "pending:") == 1);
    snprintf(path, sizeof path, "%s/agent.pub", hostb);
    bt_id_of(path, idb);
    CHECK(s_run(out, "l3-hosts", "-c", broker.cfg, "approve", host, NULL, NULL) == 1);
    CHECK(bt_file_count(out, "names more than one pending host") == 1);
    snprintf(prefix, sizeof prefix, "%.12s", ida);
    CHECK(s_run(out, "l3-hosts", "-c", broker.cfg, "approve", prefix, NULL, NULL) == 0);
    CHECK(bt_file_count(out, "approved:") == 1);
    CHECK(s_run(out, "l3-hosts", "-c", broker.cfg, "approve", host, NULL, NULL) == 1);
    CHECK(bt_file_count(out, "is enrolled already with another key") == 1);
    CHECK(s_run(out, "l3-hosts", "-c", broker.cfg, "list", NULL, NULL, NULL) == 0);
    CHECK(s_lines_with(out, "enrolled ", ida) == 1 && s_lines_with(out, "pending ", idb) == 1);

    /* 4. A's outbox drains: every record once, under the approved host. */
    int rc = bt_wait_exit(loadgen, 60000);
    snprintf(path, sizeof path, "%s/loadgen-a.log", dir);
    CHECK_MSG(rc == 0, "l3-loadgen of the approved host: exit %d: %s", rc, bt_file_read(path));
    if (rc != -1)
        loadgen = 0;
    snprintf(want, sizeof want, "host=\"%s\"", host);
    /* RECORDS commands and the session record the loadgen starts with. */
    CHECK_MSG(s_wait_lines_with(datafile, ida, want, RECORDS + 1, 10000),
              "%d of A's records in the datafile", s_lines_with(datafile, ida, want));
    CHECK(s_lines_with(datafile, ida, "") == RECORDS + 1);
    CHECK(s_run(out, "l3-agent", "-c", cfga, "--enrol", NULL, NULL, NULL) == 0);
    CHECK(bt_file_count(out, "enrolled: records of this key are stored as host") == 1);

    /* 5. Removed while idle: the broker closes A's connection by itself. */
    snprintf(path, sizeof path, "%s/broker.pub", hosta);
    char keypath[512];
    snprintf(keypath, sizeof keypath, "%s/agent.key", hosta);
    agent = bt_agent_new(&broker, ida, keypath, path);
    CHECK(agent != NULL);
    if (!agent)
        goto cleanup;
    bt_record_host(&rec, L3_RECORD_COMMAND, "a", host, 99, 1, "before removal");
    CHECK(bt_agent_send(agent, &rec));
    CHECK(s_wait_lines_with(datafile, ida, "before removal", 1, 10000));
    CHECK(s_run(out, "l3-hosts", "-c", broker.cfg, "remove", prefix, NULL, NULL) == 0);
    CHECK(bt_file_count(out, "removed: 1 file(s)") == 1); /* A's key, not B's request */
    snprintf(want, sizeof want, "closed the records connection of agent %s", ida);
    CHECK(bt_wait_file_count(broker.log, want, 1, 5000));
    /* Its reconnection is refused at the handshake; what it sends stays with it. */
    zsock_set_sndtimeo(agent->push, 200);
    bt_record_host(&rec, L3_RECORD_COMMAND, "a", host, 99, 2, "after removal");
    bt_agent_send(agent, &rec);
    CHECK(s_wait_lines_with(broker.log, ida, "its key is not in allowed_keys", 1, 5000));
    bt_agent_destroy(&agent);

    /* The name is free now: B's key gets it (how a host's key is rotated). Removed, its
       very next record, sent at once, is refused (or its connection already closed). */
    CHECK(s_run(out, "l3-hosts", "-c", broker.cfg, "approve", host, NULL, NULL) == 0);
    snprintf(path, sizeof path, "%s/broker.pub", hostb);
    snprintf(keypath, sizeof keypath, "%s/agent.key", hostb);
    agent = bt_agent_new(&broker, idb, keypath, path);
    CHECK(agent != NULL);
    if (!agent)
        goto cleanup;
    bt_record_host(&rec, L3_RECORD_COMMAND, "b", host, 98, 1, "b before removal");
    CHECK(bt_agent_send(agent, &rec));
    CHECK(s_wait_lines_with(datafile, idb, "b before removal", 1, 10000));
    CHECK(s_run(out, "l3-hosts", "-c", broker.cfg, "remove", host, NULL, NULL) == 0);
    CHECK(bt_file_count(out, "removed: 1 file(s)") == 1);
    zsock_set_sndtimeo(agent->push, 200);
    bt_record_host(&rec, L3_RECORD_COMMAND, "b", host, 98, 2, "b after removal");
    bt_agent_send(agent, &rec);
    CHECK(s_wait_lines_with(broker.log, idb, "its key is no longer in allowed_keys", 1, 5000));
    CHECK(bt_file_count(datafile, "after removal") == 0);

    /* 6. A flood of fresh keys: at most PENDING_MAX wait, the rest are refused. */
    int pending_n = 0, refused_n = 0;
    for (int i = 0; i < FLOOD; i++) {
        zcert_t *cert = zcert_new();
        char name[32];
        snprintf(name, sizeof name, "flood-%d", i);
        l3_join_reply_t reply;
        bool ok = cert && s_join_host(cert, server, enrol_port, name, l3_time_now_us(), &reply);
        CHECK_MSG(ok, "join request %d answered", i);
        pending_n += ok && reply.status == L3_JOIN_PENDING;
        refused_n += ok && reply.status == L3_JOIN_REFUSED &&
                     strstr(reply.text, "too many hosts are waiting");
        /* The first key again: the same request is a replay, a later one an update. */
        if (i == 0 && ok) {
            int64_t ts = l3_time_now_us();
            CHECK(s_join_host(cert, server, enrol_port, name, ts, &reply) &&
                  reply.status == L3_JOIN_PENDING);
            CHECK(s_join_host(cert, server, enrol_port, name, ts, &reply) &&
                  reply.status == L3_JOIN_REFUSED && strstr(reply.text, "not newer"));
            CHECK(s_join(cert, server, enrol_port, "\x81\xa1v\x01", 4, &reply) &&
                  reply.status == L3_JOIN_REFUSED && strstr(reply.text, "bad join request"));
            CHECK(s_join_host(cert, server, enrol_port, name, ts + 3600LL * 1000000, &reply) &&
                  reply.status == L3_JOIN_REFUSED && strstr(reply.text, "clock"));
        }
        zcert_destroy(&cert);
    }
    CHECK_MSG(pending_n == PENDING_MAX && refused_n == FLOOD - PENDING_MAX,
              "flood: %d pending, %d refused as too many", pending_n, refused_n);
    CHECK_MSG(s_files_in(pending) == PENDING_MAX, "%d files pending", s_files_in(pending));
    /* Rate-limited: at most a burst of lines per window, however many were refused. */
    int lines = bt_file_count(broker.log, "hosts are pending already");
    CHECK_MSG(lines >= 1 && lines <= 20, "%d refusal lines", lines);

    CHECK(bt_broker_stop(&broker));

cleanup:
    if (loadgen > 0)
        bt_stop(loadgen, 2000);
    if (broker.pid)
        bt_broker_stop(&broker);
    if (writer > 0)
        bt_stop(writer, 5000);
    bt_agent_destroy(&agent);
    zcert_destroy(&server);
    l3_buf_free(&rec);
    bt_rmtree(dir);
    TEST_DONE();
}
