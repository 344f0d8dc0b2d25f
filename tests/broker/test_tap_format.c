/*  tap_format: the escapers and the two line formats, table-driven, no sockets. */
#include "l3_test.h"
#include "tap_format.h"

#include <string.h>

static void s_json(const char *in, size_t len, const char *want, int line)
{
    l3_buf_t out;
    l3_buf_init(&out, 0);
    tap_json_string(&out, in, len);
    l3_buf_append_byte(&out, 0);
    CHECK_MSG(strcmp((char *) out.data, want) == 0, "line %d: got %s want %s", line,
              (char *) out.data, want);
    l3_buf_free(&out);
}

static void s_text(const char *in, size_t len, size_t max, const char *want, int line)
{
    l3_buf_t out;
    l3_buf_init(&out, 0);
    tap_text_escape(&out, in, len, max);
    l3_buf_append_byte(&out, 0);
    CHECK_MSG(strcmp((char *) out.data, want) == 0, "line %d: got %s want %s", line,
              (char *) out.data, want);
    l3_buf_free(&out);
}

#define JSON(in, want) s_json(in, sizeof(in) - 1, want, __LINE__)
#define TEXT(in, max, want) s_text(in, sizeof(in) - 1, max, want, __LINE__)

int main(void)
{
    JSON("", "\"\"");
    JSON("ls -l", "\"ls -l\"");
    JSON("a\"b\\c", "\"a\\\"b\\\\c\"");
    JSON("\n\r\t\x1b\x7f", "\"\\n\\r\\t\\u001b\\u007f\"");
    JSON("\0", "\"\\u0000\"");
    JSON("héllo ✓ 😀", "\"héllo ✓ 😀\"");
    JSON("\xff\xfe", "\"\\udcff\\udcfe\"");               /* invalid bytes: surrogateescape */
    JSON("\xc0\xaf", "\"\\udcc0\\udcaf\"");               /* overlong '/' */
    JSON("\xed\xa0\x80", "\"\\udced\\udca0\\udc80\"");    /* encoded surrogate */
    JSON("\xe2\x82", "\"\\udce2\\udc82\"");               /* truncated sequence */
    JSON("\xc2\x9b", "\"\\u009b\"");                      /* C1 CSI */
    JSON("\xf4\x90\x80\x80", "\"\\udcf4\\udc90\\udc80\\udc80\""); /* past U+10FFFF */

    TEXT("ls -l", 100, "ls -l");
    TEXT("a\"b\\c\n", 100, "a\\\"b\\\\c\\n");
    TEXT("\x1b[31mred", 100, "\\x1b[31mred");
    TEXT("é\xff", 100, "é\\xff");
    TEXT("\xc2\x9b", 100, "\\xc2\\x9b");
    TEXT("abcdefghij", 4, "abcd...");
    TEXT("abcd", 4, "abcd");

    uint32_t mask = 0;
    char err[128];
    CHECK(tap_types_parse("command,ack", &mask, err, sizeof err) &&
          mask == (TAP_TYPE_COMMAND | TAP_TYPE_ACK));
    CHECK(tap_types_parse("session,command,end,ack,nack", &mask, err, sizeof err) &&
          mask == TAP_TYPE_ALL);
    CHECK(!tap_types_parse("command,bogus", &mask, err, sizeof err) && strstr(err, "bogus"));
    CHECK(!tap_types_parse("", &mask, err, sizeof err));

    /* One command record in both formats. */
    l3_msg_t msg;
    l3_msg_init(&msg);
    msg.kind = L3_MSG_RECORD;
    l3_record_t *r = &msg.record;
    r->type = L3_RECORD_COMMAND;
    strcpy(r->agent, "agent-1");
    r->epoch = 7;
    r->seq = 3;
    strcpy(r->host, "lab01");
    strcpy(r->user, "alice");
    strcpy(r->sid, "s1");
    r->nr = 2;
    r->start_us = 1795900001000000LL;
    r->end_us = 1795900002500000LL;
    l3_bytes_set(&r->cmdline, "echo \"hi\"\x1b", 10, L3_CMDLINE_MAX);
    l3_bytes_set(&r->output, "hi\r\n\xff", 5, L3_OUTPUT_MAX);
    r->has_exit = true;
    r->exit_code = 1;
    l3_buf_t out;
    l3_buf_init(&out, 0);
    const char *agent = "0123456789abcdef0123";
    CHECK(tap_format_text(&out, 1795900003000000LL, "rec", agent, strlen(agent), &msg));
    l3_buf_append_byte(&out, 0);
    const char *want_text = " rec 0123456789ab... command host=lab01 user=alice sid=s1 seq=3 "
                            "exit=1 cmd=\"echo \\\"hi\\\"\\x1b\"\n";
    CHECK_MSG(strstr((char *) out.data, want_text) != NULL, "text: %s", (char *) out.data);
    l3_buf_reset(&out);
    CHECK(tap_format_json(&out, 1795900003000000LL, "rec", agent, strlen(agent), &msg));
    l3_buf_append_byte(&out, 0);
    const char *json = (char *) out.data;
    CHECK_MSG(strstr(json, "\"dir\":\"rec\",\"agent\":\"0123456789abcdef0123\",\"type\":"
                           "\"command\",\"a\":\"agent-1\",\"epoch\":7,\"seq\":3") != NULL,
              "json: %s", json);
    CHECK(strstr(json, "\"cmd\":\"echo \\\"hi\\\"\\u001b\""));
    CHECK(strstr(json, "\"output\":\"hi\\r\\n\\udcff\""));
    CHECK(strstr(json, "\"exit\":1"));
    CHECK(json[strlen(json) - 1] == '\n' && json[strlen(json) - 2] == '}');
    l3_buf_free(&out);
    l3_msg_clear(&msg);
    TEST_DONE();
}
