/*  tap_format — text and JSON lines for l3-tap. See tap_format.h. */
#include "tap_format.h"
#include "l3_utf8.h"
#include "l3_time.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    uint32_t bit;
} s_types[] = {{"session", TAP_TYPE_SESSION}, {"command", TAP_TYPE_COMMAND},
               {"end", TAP_TYPE_END},         {"ack", TAP_TYPE_ACK},
               {"nack", TAP_TYPE_NACK}};

bool tap_types_parse(const char *list, uint32_t *mask, char *err, size_t errlen)
{
    *mask = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        bool found = false;
        for (size_t i = 0; i < sizeof s_types / sizeof s_types[0]; i++) {
            if (strlen(s_types[i].name) == n && strncmp(p, s_types[i].name, n) == 0) {
                *mask |= s_types[i].bit;
                found = true;
            }
        }
        if (!found && n > 0) {
            snprintf(err, errlen, "unknown type '%.*s' (session, command, end, ack, nack)",
                     (int) (n > 32 ? 32 : n), p);
            return false;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    if (!*mask) {
        snprintf(err, errlen, "no types given");
        return false;
    }
    return true;
}

uint32_t tap_type_of(const l3_msg_t *msg)
{
    if (msg->kind == L3_MSG_ACK)
        return TAP_TYPE_ACK;
    if (msg->kind == L3_MSG_NACK)
        return TAP_TYPE_NACK;
    if (msg->kind != L3_MSG_RECORD)
        return 0;
    switch (msg->record.type) {
    case L3_RECORD_SESSION: return TAP_TYPE_SESSION;
    case L3_RECORD_COMMAND: return TAP_TYPE_COMMAND;
    case L3_RECORD_END: return TAP_TYPE_END;
    default: return 0;
    }
}


/* One ASCII byte, escaped the same way in JSON and in the text lines: quote, backslash
   and the usual whitespace by name, other controls as JSON's \\u00XX or the text form's
   \\xXX. */
static void s_escape_ascii(l3_buf_t *out, uint8_t c, bool json)
{
    switch (c) {
    case '"': l3_buf_append_str(out, "\\\""); break;
    case '\\': l3_buf_append_str(out, "\\\\"); break;
    case '\n': l3_buf_append_str(out, "\\n"); break;
    case '\r': l3_buf_append_str(out, "\\r"); break;
    case '\t': l3_buf_append_str(out, "\\t"); break;
    default:
        if (c < 0x20 || c == 0x7f)
            l3_buf_printf(out, json ? "\\u%04x" : "\\x%02x", c);
        else
            l3_buf_append_byte(out, c);
    }
}

bool tap_json_string(l3_buf_t *out, const void *data, size_t len)
{
    const uint8_t *p = data;
    l3_buf_append_byte(out, '"');
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = l3_utf8_decode(p + i, len - i, &cp);
        if (n == 0) {
            l3_buf_printf(out, "\\udc%02x", p[i]);
            i++;
            continue;
        }
        if (n == 1) {
            s_escape_ascii(out, p[i], true);
        } else if (cp >= 0x80 && cp <= 0x9f)
            l3_buf_printf(out, "\\u%04x", cp); /* C1 controls: visible, never raw */
        else
            l3_buf_append(out, p + i, n);
        i += n;
    }
    l3_buf_append_byte(out, '"');
    return !out->failed;
}

bool tap_text_escape(l3_buf_t *out, const void *data, size_t len, size_t max)
{
    const uint8_t *p = data;
    size_t i = 0;
    while (i < len) {
        if (i >= max) {
            l3_buf_append_str(out, "...");
            break;
        }
        uint32_t cp;
        size_t n = l3_utf8_decode(p + i, len - i, &cp);
        if (n == 1) {
            s_escape_ascii(out, p[i], false);
            i++;
        } else if (n == 0 || (cp >= 0x80 && cp <= 0x9f)) {
            size_t bad = n ? n : 1; /* invalid byte, or a C1 control's two bytes */
            for (size_t k = 0; k < bad; k++)
                l3_buf_printf(out, "\\x%02x", p[i + k]);
            i += bad;
        } else {
            l3_buf_append(out, p + i, n);
            i += n;
        }
    }
    return !out->failed;
}

static void s_text_field(l3_buf_t *out, const char *key, const char *value)
{
    l3_buf_printf(out, " %s=", key);
    if (!*value)
        l3_buf_append_str(out, "-");
    else
        tap_text_escape(out, value, strlen(value), L3_NAME_MAX);
}

static void s_exit_text(l3_buf_t *out, const l3_record_t *r)
{
    if (r->has_exit)
        l3_buf_printf(out, " exit=%" PRId32, r->exit_code);
    else
        l3_buf_append_str(out, " exit=-");
    if (r->signal)
        l3_buf_printf(out, " signal=%" PRId32, r->signal);
}

bool tap_format_text(l3_buf_t *out, int64_t now_us, const char *dir, const void *agent,
                     size_t agent_len, const l3_msg_t *msg)
{
    char when[40];
    l3_time_format(now_us, when, sizeof when);
    l3_buf_printf(out, "%s %s ", when, dir);
    tap_text_escape(out, agent, agent_len, TAP_AGENT_SHOWN);
    if (msg->kind == L3_MSG_ACK || msg->kind == L3_MSG_NACK) {
        l3_buf_printf(out, " %s epoch=%" PRIu64 " seq=%" PRIu64 "\n",
                      msg->kind == L3_MSG_ACK ? "ack" : "nack", msg->epoch, msg->seq);
        return !out->failed;
    }
    const l3_record_t *r = &msg->record;
    l3_buf_printf(out, " %s", l3_record_type_name(r->type));
    s_text_field(out, "host", r->host);
    s_text_field(out, "user", r->user);
    s_text_field(out, "sid", r->sid);
    l3_buf_printf(out, " seq=%" PRIu64, r->seq);
    if (r->type == L3_RECORD_COMMAND || r->type == L3_RECORD_END)
        s_exit_text(out, r);
    if (r->type == L3_RECORD_COMMAND) {
        l3_buf_append_str(out, " cmd=\"");
        tap_text_escape(out, r->cmdline.data, r->cmdline.len, TAP_CMD_SHOWN);
        l3_buf_append_byte(out, '"');
    }
    l3_buf_append_byte(out, '\n');
    return !out->failed;
}

static void s_json_key(l3_buf_t *out, const char *key)
{
    l3_buf_printf(out, ",\"%s\":", key);
}

static void s_json_text(l3_buf_t *out, const char *key, const char *value)
{
    s_json_key(out, key);
    tap_json_string(out, value, strlen(value));
}

static void s_json_bytes(l3_buf_t *out, const char *key, const l3_bytes_t *value)
{
    s_json_key(out, key);
    tap_json_string(out, value->data ? (const void *) value->data : "", value->len);
}

static void s_json_time(l3_buf_t *out, const char *key, int64_t us)
{
    s_json_key(out, key);
    if (!us) {
        l3_buf_append_str(out, "null");
        return;
    }
    char when[40];
    l3_time_format(us, when, sizeof when);
    l3_buf_printf(out, "\"%s\"", when);
}

bool tap_format_json(l3_buf_t *out, int64_t now_us, const char *dir, const void *agent,
                     size_t agent_len, const l3_msg_t *msg)
{
    char when[40];
    l3_time_format(now_us, when, sizeof when);
    l3_buf_printf(out, "{\"time\":\"%s\",\"dir\":\"%s\",\"agent\":", when, dir);
    tap_json_string(out, agent, agent_len);
    if (msg->kind == L3_MSG_ACK || msg->kind == L3_MSG_NACK) {
        l3_buf_printf(out, ",\"type\":\"%s\"", msg->kind == L3_MSG_ACK ? "ack" : "nack");
        s_json_text(out, "a", msg->agent);
        l3_buf_printf(out, ",\"epoch\":%" PRIu64 ",\"seq\":%" PRIu64 "}\n", msg->epoch,
                      msg->seq);
        return !out->failed;
    }
    const l3_record_t *r = &msg->record;
    l3_buf_printf(out, ",\"type\":\"%s\"", l3_record_type_name(r->type));
    s_json_text(out, "a", r->agent);
    l3_buf_printf(out, ",\"epoch\":%" PRIu64 ",\"seq\":%" PRIu64, r->epoch, r->seq);
    s_json_text(out, "host", r->host);
    s_json_text(out, "user", r->user);
    s_json_text(out, "sid", r->sid);
    if (r->type == L3_RECORD_SESSION || r->type == L3_RECORD_COMMAND)
        s_json_time(out, "start", r->start_us);
    if (r->type == L3_RECORD_COMMAND || r->type == L3_RECORD_END)
        s_json_time(out, "end", r->end_us);
    if (r->type == L3_RECORD_SESSION) {
        l3_buf_printf(out, ",\"uid\":%" PRIu32 ",\"pid\":%" PRIu32 ",\"cols\":%u,\"rows\":%u",
                      r->uid, r->pid, (unsigned) r->cols, (unsigned) r->rows);
        s_json_text(out, "tty", r->tty);
        s_json_text(out, "shell", r->shell);
        s_json_text(out, "ssh", r->ssh);
        s_json_text(out, "parent", r->parent);
    }
    if (r->type == L3_RECORD_COMMAND) {
        l3_buf_printf(out, ",\"nr\":%" PRIu64, r->nr);
        s_json_bytes(out, "cwd", &r->cwd);
        s_json_bytes(out, "cmd", &r->cmdline);
        s_json_bytes(out, "output", &r->output);
        l3_buf_printf(out, ",\"output_dropped\":%" PRIu64 ",\"output_head\":%" PRIu64,
                      r->dropped, r->output_head);
        s_json_bytes(out, "timing", &r->timing);
        s_json_bytes(out, "diff", &r->diff);
    }
    if (r->type == L3_RECORD_COMMAND || r->type == L3_RECORD_END) {
        if (r->has_exit)
            l3_buf_printf(out, ",\"exit\":%" PRId32, r->exit_code);
        else
            l3_buf_append_str(out, ",\"exit\":null");
        char flags[128];
        l3_record_flags_format(r->flags, flags, sizeof flags);
        l3_buf_printf(out, ",\"signal\":%" PRId32, r->signal);
        s_json_text(out, "flags", flags);
    }
    l3_buf_append_str(out, "}\n");
    return !out->failed;
}
