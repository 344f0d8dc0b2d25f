/*  test_l3_msg — msgpack codec: round trips, and every kind of bad message rejected. */
#include "l3_msg.h"
#include "l3_test.h"
#include "test_records.h"
#include <msgpack.h>
#include <string.h>

static void s_round_trip(l3_record_type_t type)
{
    l3_record_t rec;
    test_record_fill(&rec, type, 42);
    l3_buf_t buf;
    l3_buf_init(&buf, L3_MSG_MAX);
    CHECK(l3_msg_encode_record(&rec, &buf));
    l3_msg_t msg;
    char err[256] = "";
    CHECK_MSG(l3_msg_decode(buf.data, buf.len, &msg, err, sizeof(err)), "%s: %s",
              l3_record_type_name(type), err);
    CHECK(msg.kind == L3_MSG_RECORD);
    CHECK(test_record_eq(&rec, &msg.record));
    //  Every truncation of a good message is an error, never a crash or a partial record.
    for (size_t cut = 0; cut < buf.len; cut++) {
        l3_msg_t part;
        CHECK(!l3_msg_decode(buf.data, cut, &part, err, sizeof(err)));
    }
    l3_msg_clear(&msg);
    l3_record_clear(&rec);
    l3_buf_free(&buf);
}

static void s_acks(void)
{
    l3_buf_t buf;
    l3_buf_init(&buf, 0);
    CHECK(l3_msg_encode_ack(L3_MSG_NACK, "host-7", 99, 1234, &buf));
    l3_msg_t msg;
    char err[256];
    CHECK_MSG(l3_msg_decode(buf.data, buf.len, &msg, err, sizeof(err)), "%s", err);
    CHECK(msg.kind == L3_MSG_NACK && !strcmp(msg.agent, "host-7") && msg.epoch == 99
          && msg.seq == 1234);
    l3_msg_clear(&msg);
    l3_buf_free(&buf);
}

//  Build a message by hand with msgpack-c, so each bad case is explicit.
typedef struct {
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
} s_mp_t;

static void s_mp_init(s_mp_t *m)
{
    msgpack_sbuffer_init(&m->sbuf);
    msgpack_packer_init(&m->pk, &m->sbuf, msgpack_sbuffer_write);
}

static void s_kv_str(s_mp_t *m, const char *k, const char *v)
{
    msgpack_pack_str_with_body(&m->pk, k, strlen(k));
    msgpack_pack_str_with_body(&m->pk, v, strlen(v));
}

static void s_kv_uint(s_mp_t *m, const char *k, uint64_t v)
{
    msgpack_pack_str_with_body(&m->pk, k, strlen(k));
    msgpack_pack_uint64(&m->pk, v);
}

//  A command message with `extra` additional entries appended by the caller.
static void s_command_head(s_mp_t *m, size_t extra)
{
    s_mp_init(m);
    msgpack_pack_map(&m->pk, 10 + extra);
    s_kv_uint(m, "v", 1);
    s_kv_str(m, "t", "command");
    s_kv_str(m, "a", "ag");
    s_kv_uint(m, "e", 5);
    s_kv_uint(m, "s", 1);
    s_kv_str(m, "h", "host");
    s_kv_str(m, "u", "user");
    s_kv_str(m, "i", "sid1");
    s_kv_uint(m, "n", 1);
    s_kv_uint(m, "ts", 1000);
}

static bool s_decodes(s_mp_t *m)
{
    l3_msg_t msg;
    char err[256] = "";
    bool ok = l3_msg_decode(m->sbuf.data, m->sbuf.size, &msg, err, sizeof(err));
    l3_msg_clear(&msg);
    msgpack_sbuffer_destroy(&m->sbuf);
    return ok;
}

static void s_bad_messages(void)
{
    s_mp_t m;
    //  The minimal good command decodes (command line present).
    s_command_head(&m, 1);
    msgpack_pack_str_with_body(&m.pk, "cmd", 3);
    msgpack_pack_bin_with_body(&m.pk, "ls", 2);
    CHECK(s_decodes(&m));

    //  Missing the required command line.
    s_command_head(&m, 0);
    CHECK(!s_decodes(&m));

    //  Unknown scalar keys are ignored (a newer peer), unknown nested ones are not.
    s_command_head(&m, 2);
    msgpack_pack_str_with_body(&m.pk, "cmd", 3);
    msgpack_pack_bin_with_body(&m.pk, "ls", 2);
    s_kv_uint(&m, "zz", 1);
    CHECK(s_decodes(&m));
    s_command_head(&m, 2);
    msgpack_pack_str_with_body(&m.pk, "cmd", 3);
    msgpack_pack_bin_with_body(&m.pk, "ls", 2);
    msgpack_pack_str_with_body(&m.pk, "zz", 2);
    msgpack_pack_array(&m.pk, 1);
    msgpack_pack_nil(&m.pk);
    CHECK(!s_decodes(&m));

    //  A shell depth past L3_DEPTH_MAX; the largest one decodes.
    s_command_head(&m, 2);
    msgpack_pack_str_with_body(&m.pk, "cmd", 3);
    msgpack_pack_bin_with_body(&m.pk, "ls", 2);
    s_kv_uint(&m, "dep", L3_DEPTH_MAX + 1);
    CHECK(!s_decodes(&m));
    s_command_head(&m, 2);
    msgpack_pack_str_with_body(&m.pk, "cmd", 3);
    msgpack_pack_bin_with_body(&m.pk, "ls", 2);
    s_kv_uint(&m, "dep", L3_DEPTH_MAX);
    CHECK(s_decodes(&m));

    //  Duplicate key.
    s_command_head(&m, 2);
    msgpack_pack_str_with_body(&m.pk, "cmd", 3);
    msgpack_pack_bin_with_body(&m.pk, "ls", 2);
    s_kv_uint(&m, "n", 2);
    CHECK(!s_decodes(&m));

    //  Wrong type: seq as a string; exit code as a string; cols out of range.
    s_command_head(&m, 2);
    msgpack_pack_str_with_body(&m.pk, "cmd", 3);
    msgpack_pack_bin_with_body(&m.pk, "ls", 2);
    s_kv_str(&m, "x", "0");
    CHECK(!s_decodes(&m));
    s_command_head(&m, 2);
    msgpack_pack_str_with_body(&m.pk, "cmd", 3);
    msgpack_pack_bin_with_body(&m.pk, "ls", 2);
    s_kv_uint(&m, "f", 1u << 20);
    CHECK(!s_decodes(&m));
    s_command_head(&m, 2);
    msgpack_pack_str_with_body(&m.pk, "cmd", 3);
    msgpack_pack_bin_with_body(&m.pk, "ls", 2);
    s_kv_uint(&m, "sig", 999);
    CHECK(!s_decodes(&m));

    //  Oversized field: a real 1 MiB + 1 output.
    size_t big = L3_OUTPUT_MAX + 1;
    char *blob = calloc(1, big);
    s_command_head(&m, 2);
    msgpack_pack_str_with_body(&m.pk, "cmd", 3);
    msgpack_pack_bin_with_body(&m.pk, "ls", 2);
    msgpack_pack_str_with_body(&m.pk, "o", 1);
    msgpack_pack_bin_with_body(&m.pk, blob, big);
    CHECK(!s_decodes(&m));
    free(blob);

    //  A field whose header claims 4 GiB with 3 bytes behind it.
    s_command_head(&m, 2);
    msgpack_pack_str_with_body(&m.pk, "cmd", 3);
    msgpack_pack_bin_with_body(&m.pk, "ls", 2);
    msgpack_pack_str_with_body(&m.pk, "o", 1);
    msgpack_sbuffer_write(&m.sbuf, "\xc6\xff\xff\xff\xff" "abc", 8);
    CHECK(!s_decodes(&m));

    //  Map header claiming 65535 entries; an array instead of a map; a bare int.
    s_mp_init(&m);
    msgpack_sbuffer_write(&m.sbuf, "\xde\xff\xff", 3);
    CHECK(!s_decodes(&m));
    s_mp_init(&m);
    msgpack_sbuffer_write(&m.sbuf, "\xdd\xff\xff\xff\xff", 5);
    CHECK(!s_decodes(&m));
    s_mp_init(&m);
    msgpack_pack_int(&m.pk, 7);
    CHECK(!s_decodes(&m));

    //  Wrong version, unknown type, zero epoch, bad agent id.
    const char *bad_strings[][2] = {{"t", "bogus"}, {"a", "has space"}, {"a", ""}};
    for (size_t i = 0; i < 3; i++) {
        s_mp_init(&m);
        msgpack_pack_map(&m.pk, 5);
        s_kv_uint(&m, "v", 1);
        s_kv_str(&m, "t", strcmp(bad_strings[i][0], "t") ? "ack" : bad_strings[i][1]);
        s_kv_str(&m, "a", strcmp(bad_strings[i][0], "a") ? "ag" : bad_strings[i][1]);
        s_kv_uint(&m, "e", 1);
        s_kv_uint(&m, "s", 1);
        CHECK_MSG(!s_decodes(&m), "case %zu", i);
    }
    s_mp_init(&m);
    msgpack_pack_map(&m.pk, 5);
    s_kv_uint(&m, "v", 2);
    s_kv_str(&m, "t", "ack");
    s_kv_str(&m, "a", "ag");
    s_kv_uint(&m, "e", 1);
    s_kv_uint(&m, "s", 1);
    CHECK(!s_decodes(&m));
    s_mp_init(&m);
    msgpack_pack_map(&m.pk, 5);
    s_kv_uint(&m, "v", 1);
    s_kv_str(&m, "t", "ack");
    s_kv_str(&m, "a", "ag");
    s_kv_uint(&m, "e", 0);
    s_kv_uint(&m, "s", 1);
    CHECK(!s_decodes(&m));

    //  Host with a control character.
    s_mp_init(&m);
    msgpack_pack_map(&m.pk, 9);
    s_kv_uint(&m, "v", 1);
    s_kv_str(&m, "t", "session");
    s_kv_str(&m, "a", "ag");
    s_kv_uint(&m, "e", 1);
    s_kv_uint(&m, "s", 1);
    s_kv_str(&m, "h", "ho\x1b" "st");
    s_kv_str(&m, "u", "u");
    s_kv_str(&m, "i", "sid");
    s_kv_uint(&m, "ts", 5);
    CHECK(!s_decodes(&m));
}

//  Random bytes and random mutations of good messages: no crash, no leak (ASan).
static void s_garbage(void)
{
    l3_record_t rec;
    test_record_fill(&rec, L3_RECORD_COMMAND, 1);
    l3_buf_t good;
    l3_buf_init(&good, 0);
    l3_msg_encode_record(&rec, &good);
    uint8_t buf[1024];
    unsigned seed = 12345;
    for (int iter = 0; iter < 200000; iter++) {
        size_t len;
        if (iter % 2) {
            len = (size_t) rand_r(&seed) % sizeof(buf);
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t) rand_r(&seed);
            if (len)
                buf[0] = (uint8_t) (0x80 | (rand_r(&seed) & 0x0f));
        } else {
            len = good.len < sizeof(buf) ? good.len : sizeof(buf);
            memcpy(buf, good.data, len);
            for (int k = 0; k < 3; k++)
                buf[(size_t) rand_r(&seed) % len] = (uint8_t) rand_r(&seed);
        }
        l3_msg_t msg;
        char err[256];
        if (l3_msg_decode(buf, len, &msg, err, sizeof(err))) {
            char why[128];
            if (msg.kind == L3_MSG_RECORD)
                CHECK_MSG(l3_record_validate(&msg.record, why, sizeof(why)), "%s", why);
            l3_msg_clear(&msg);
        }
    }
    l3_record_clear(&rec);
    l3_buf_free(&good);
}

int main(void)
{
    s_round_trip(L3_RECORD_SESSION);
    s_round_trip(L3_RECORD_COMMAND);
    s_round_trip(L3_RECORD_END);
    s_acks();
    s_bad_messages();
    s_garbage();
    TEST_DONE();
}
