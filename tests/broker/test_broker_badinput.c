/*  Hostile input straight at a real l3-broker's agent port, while a good agent keeps
    sending: raw TCP garbage, a bogus ZMTP greeting, a frame header claiming 2^62 bytes,
    and over ZeroMQ random bytes, truncated msgpack, wrong types, oversized fields, a
    hostile array header, multi-part messages, an ack, and one frame bigger than
    L3_MSG_MAX. The broker must not crash, must name the peer in its log (rate-limited),
    and every good record must arrive, in order, right after each attack.

    Run as `test_broker_badinput` (plaintext) or `test_broker_badinput curve` (the bad
    ZeroMQ client then holds an allowed key, so its messages reach the decoder). */
#include "broker_testlib.h"
#include "l3_curve.h"
#include "l3_test.h"

#include <msgpack.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static uint32_t s_rand_state = 12345;
static uint8_t s_rand(void)
{
    s_rand_state = s_rand_state * 1103515245u + 12345u;
    return (uint8_t) (s_rand_state >> 16);
}

/* Connect a raw TCP socket to the broker, write bytes, close. */
static void s_raw_tcp(int port, const void *data, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0) {
        ssize_t n = write(fd, data, len);
        (void) n;
        /* Give the broker a moment to read before the close, so the bytes are seen. */
        char sink[256];
        struct timeval tv = {0, 200000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        while (read(fd, sink, sizeof sink) > 0)
            ;
    }
    close(fd);
}

static void s_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* A command record packed by hand, with a host of host_len bytes, "v" as a string when
   wrong_type, and a command line of cmd_len bytes. */
static void s_pack_command(msgpack_sbuffer *sb, size_t host_len, bool wrong_type, size_t cmd_len)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 13);
    s_str(&pk, "v");
    if (wrong_type)
        s_str(&pk, "1");
    else
        msgpack_pack_uint64(&pk, 1);
    s_str(&pk, "t"), s_str(&pk, "command");
    s_str(&pk, "a"), s_str(&pk, "bad");
    s_str(&pk, "e"), msgpack_pack_uint64(&pk, 1);
    s_str(&pk, "s"), msgpack_pack_uint64(&pk, 1);
    s_str(&pk, "h");
    char *host = malloc(host_len + 1);
    memset(host, 'h', host_len);
    host[host_len] = 0;
    s_str(&pk, host);
    free(host);
    s_str(&pk, "u"), s_str(&pk, "mallory");
    s_str(&pk, "i"), s_str(&pk, "sid-1");
    s_str(&pk, "n"), msgpack_pack_uint64(&pk, 1);
    s_str(&pk, "ts"), msgpack_pack_int64(&pk, 1795900001000000LL);
    s_str(&pk, "cwd"), msgpack_pack_bin(&pk, 1), msgpack_pack_bin_body(&pk, "/", 1);
    s_str(&pk, "cmd");
    char *cmd = calloc(1, cmd_len + 1);
    msgpack_pack_bin(&pk, cmd_len);
    msgpack_pack_bin_body(&pk, cmd, cmd_len);
    free(cmd);
    s_str(&pk, "x"), msgpack_pack_nil(&pk);
}

static void s_send_sb(zsock_t *sock, msgpack_sbuffer *sb)
{
    zsock_send(sock, "b", sb->data, sb->size);
    msgpack_sbuffer_clear(sb);
}

int main(int argc, char **argv)
{
    bool curve = argc > 1 && strcmp(argv[1], "curve") == 0;
    char dir[256] = "", keys[300], extra[1200], id[128], keylog[300];
    char good_key[400], bad_key[400], server_pub[400], good_id[80] = "good-agent";
    bt_writer_t *writer = NULL;
    bt_agent_t *good = NULL;
    zsock_t *bad = NULL, *big = NULL;
    bt_broker_t broker = {0};
    l3_buf_t rec, got;
    l3_buf_init(&rec, 0);
    l3_buf_init(&got, 0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    uint64_t good_seq = 0;

    CHECK(bt_tempdir(dir, sizeof dir));
    writer = bt_writer_new();
    if (!writer)
        goto cleanup;
    snprintf(extra, sizeof extra, "    curve = 0\n    log_burst = 5\n");
    if (curve) {
        /* Keys made in-process with the same helper l3-keygen uses. */
        char err[256], pub[400];
        snprintf(keys, sizeof keys, "%s/allowed", dir);
        snprintf(keylog, sizeof keylog, "%s/own", dir);
        CHECK(l3_curve_keygen(keylog, "broker", false, NULL, server_pub, sizeof server_pub, err,
                              sizeof err));
        CHECK(l3_curve_keygen(keylog, "good", false, good_key, pub, sizeof pub, err, sizeof err));
        CHECK(bt_bind(pub, BT_HOST)); /* the host bt_record's records claim */
        CHECK(mkdir(keys, 0700) == 0);
        char allowed_pub[400];
        snprintf(allowed_pub, sizeof allowed_pub, "%s/good.pub", keys);
        CHECK(link(pub, allowed_pub) == 0);
        char bad_pub[400];
        CHECK(l3_curve_keygen(keylog, "bad", false, bad_key, bad_pub, sizeof bad_pub, err,
                              sizeof err));
        snprintf(allowed_pub, sizeof allowed_pub, "%s/bad.pub", keys);
        CHECK(link(bad_pub, allowed_pub) == 0);
        zcert_t *cert = l3_curve_cert_load(pub);
        if (cert)
            l3_curve_agent_id(zcert_public_key(cert), good_id);
        zcert_destroy(&cert);
        snprintf(extra, sizeof extra,
                 "    curve = 1\n    log_burst = 5\n    server_cert = %s/broker.key\n"
                 "    allowed_keys = %s\n",
                 keylog, keys);
    }
    CHECK(bt_broker_start(&broker, dir, "broker", writer, extra));
    if (!broker.pid)
        goto cleanup;
    good = curve ? bt_agent_new(&broker, good_id, good_key, server_pub)
                 : bt_agent_new(&broker, good_id, NULL, NULL);
    bad = zsock_new(ZMQ_PUSH);
    big = zsock_new(ZMQ_PUSH);
    if (curve) {
        zcert_t *own = l3_curve_cert_load(bad_key);
        zcert_t *srv = l3_curve_cert_load(server_pub);
        CHECK(l3_curve_client_setup(bad, own, srv));
        CHECK(l3_curve_client_setup(big, own, srv));
        zcert_destroy(&own);
        zcert_destroy(&srv);
    }
    zsock_set_linger(big, 2000);
    zsock_connect(bad, "tcp://127.0.0.1:%d", broker.port);
    zsock_connect(big, "tcp://127.0.0.1:%d", broker.port);

    for (int round = 0; round < 12; round++) {
        uint8_t junk[4096];
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = s_rand();
        switch (round) {
        case 0: /* raw random bytes */
            s_raw_tcp(broker.port, junk, sizeof junk);
            break;
        case 1: { /* a ZMTP 3 greeting with a mechanism nobody speaks, then junk */
            uint8_t greet[64 + 64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0, 'E', 'V', 'I', 'L'};
            memcpy(greet + 64, junk, 64);
            s_raw_tcp(broker.port, greet, sizeof greet);
            break;
        }
        case 2: { /* NULL greeting + READY, then a frame header claiming 2^62 bytes */
            uint8_t msg[64 + 2 + 27 + 9] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0,
                                            'N',  'U', 'L', 'L'};
            size_t o = 64;
            msg[o++] = 0x04; /* command, short */
            msg[o++] = 27;
            memcpy(msg + o, "\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH", 27);
            o += 27;
            uint8_t hdr[9] = {0x02, 0x40, 0, 0, 0, 0, 0, 0, 0};
            memcpy(msg + o, hdr, 9);
            s_raw_tcp(broker.port, msg, sizeof msg);
            break;
        }
        case 3: /* random frames of many sizes */
            for (size_t len = 0; len < 1000; len += 97)
                zsock_send(bad, "b", junk, len);
            break;
        case 4: /* truncated msgpack: a good record cut everywhere */
            bt_record(&rec, L3_RECORD_COMMAND, good_id, 3, 1, "truncated");
            for (size_t cut = 0; cut < rec.len; cut += 13)
                zsock_send(bad, "b", rec.data, cut);
            break;
        case 5: /* wrong type of "v" */
            s_pack_command(&sb, 5, true, 3);
            s_send_sb(bad, &sb);
            break;
        case 6: /* host over L3_NAME_MAX, command line over L3_CMDLINE_MAX */
            s_pack_command(&sb, 10000, false, 3);
            s_send_sb(bad, &sb);
            s_pack_command(&sb, 5, false, L3_CMDLINE_MAX + 1);
            s_send_sb(bad, &sb);
            break;
        case 7: /* an array header asking for 4 G elements, and a nested map */
            zsock_send(bad, "b", "\xdd\xff\xff\xff\xff", (size_t) 5);
            zsock_send(bad, "b", "\x81\xa1v\x81\xa1v\x01", (size_t) 7);
            break;
        case 8: /* multi-part */
            bt_record(&rec, L3_RECORD_COMMAND, good_id, 3, 1, "two frames");
            zsock_send(bad, "bb", rec.data, rec.len, rec.data, rec.len);
            break;
        case 9: { /* an ack is not a record */
            l3_buf_t ack;
            l3_buf_init(&ack, 0);
            l3_msg_encode_ack(L3_MSG_ACK, good_id, 3, 1, &ack);
            zsock_send(bad, "b", ack.data, ack.len);
            l3_buf_free(&ack);
            break;
        }
        case 10: { /* one frame bigger than L3_MSG_MAX: libzmq drops the connection */
            size_t size = (size_t) L3_MSG_MAX + 1;
            uint8_t *huge = calloc(1, size);
            zsock_send(big, "b", huge, size);
            free(huge);
            break;
        }
        default: /* a record with an invalid agent id (plaintext: the claimed one) */
            bt_record(&rec, L3_RECORD_COMMAND, "bad id with spaces", 3, 1, "x");
            zsock_send(bad, "b", rec.data, rec.len);
            break;
        }
        /* The good agent still gets through, right away. */
        good_seq++;
        bt_record(&rec, L3_RECORD_COMMAND, curve ? "claimed" : good_id, 42, good_seq,
                  "echo still here");
        CHECK(bt_agent_send(good, &rec));
        bool ok = bt_writer_recv(writer, id, sizeof id, &got, 5000);
        CHECK_MSG(ok, "good record %d did not arrive after attack %d", (int) good_seq, round);
        if (!ok)
            break;
        CHECK_MSG(strcmp(id, good_id) == 0, "frame 1 '%s'", id);
        CHECK(got.len == rec.len && memcmp(got.data, rec.data, rec.len) == 0);
    }
    /* Nothing bad made it through. */
    CHECK(!bt_writer_recv(writer, id, sizeof id, &got, 300));
    CHECK(bt_alive(broker.pid));
    /* Messages name their connection; handshake failures are logged too, with the
       address when the monitor saw it before libzmq closed the connection. */
    CHECK(bt_wait_file_count(broker.log, "rejected message from 127.0.0.1:", 1, 2000));
    CHECK(bt_wait_file_count(broker.log, "handshake failed", 1, 2000));
    /* Rate limit: the burst, not one line per bad message. */
    int lines = bt_file_count(broker.log, "rejected message from");
    CHECK_MSG(lines >= 1 && lines <= 10, "%d rejected-message lines", lines);
    CHECK(bt_broker_stop(&broker));
    CHECK(bt_file_count(broker.log, "not logged") >= 1);
    char want[128];
    snprintf(want, sizeof want, "stopping: %d records forwarded", (int) good_seq);
    CHECK(bt_file_count(broker.log, want) == 1);

cleanup:
    if (broker.pid)
        bt_broker_stop(&broker);
    zsock_destroy(&bad);
    zsock_destroy(&big);
    bt_agent_destroy(&good);
    bt_writer_destroy(&writer);
    msgpack_sbuffer_destroy(&sb);
    l3_buf_free(&rec);
    l3_buf_free(&got);
    bt_rmtree(dir);
    TEST_DONE();
}
