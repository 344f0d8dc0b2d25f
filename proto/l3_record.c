/*  l3_record — the shared record model: ownership, validation, names. See l3_record.h. */
#include "l3_record.h"
#include "l3_utf8.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void l3_record_init(l3_record_t *rec)
{
    memset(rec, 0, sizeof(*rec));
}

void l3_bytes_free(l3_bytes_t *field)
{
    free(field->data);
    field->data = NULL;
    field->len = 0;
}

void l3_record_clear(l3_record_t *rec)
{
    l3_bytes_free(&rec->cwd);
    l3_bytes_free(&rec->cmdline);
    l3_bytes_free(&rec->output);
    l3_bytes_free(&rec->timing);
    l3_bytes_free(&rec->diff);
    memset(rec, 0, sizeof(*rec));
}

bool l3_bytes_set(l3_bytes_t *field, const void *data, size_t len, size_t cap)
{
    if (len > cap)
        return false;
    uint8_t *copy = NULL;
    if (len) {
        copy = malloc(len);
        if (!copy)
            return false;
        memcpy(copy, data, len);
    }
    free(field->data);
    field->data = copy;
    field->len = len;
    return true;
}

bool l3_record_copy(l3_record_t *dst, const l3_record_t *src)
{
    l3_record_clear(dst);
    *dst = *src;
    dst->cwd = dst->cmdline = dst->output = dst->timing = dst->diff = (l3_bytes_t){0};
    if (!l3_bytes_set(&dst->cwd, src->cwd.data, src->cwd.len, SIZE_MAX)
        || !l3_bytes_set(&dst->cmdline, src->cmdline.data, src->cmdline.len, SIZE_MAX)
        || !l3_bytes_set(&dst->output, src->output.data, src->output.len, SIZE_MAX)
        || !l3_bytes_set(&dst->timing, src->timing.data, src->timing.len, SIZE_MAX)
        || !l3_bytes_set(&dst->diff, src->diff.data, src->diff.len, SIZE_MAX)) {
        l3_record_clear(dst);
        return false;
    }
    return true;
}

bool l3_text_set(char *field, size_t field_size, const char *value)
{
    size_t len = strlen(value);
    if (len >= field_size)
        return false;
    memcpy(field, value, len + 1);
    return true;
}

bool l3_id_valid(const char *s)
{
    size_t len = 0;
    for (; s[len]; len++) {
        char c = s[len];
        if (len >= L3_ID_MAX)
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || strchr("._:@+=-", c)))
            return false;
    }
    return len > 0;
}


bool l3_text_valid(const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *) s;
    size_t n = strlen(s);
    if (n > max)
        return false;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = l3_utf8_decode(p + i, n - i, &cp);
        if (len == 0 || cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == 0xFFFE || cp == 0xFFFF)
            return false;
        i += len;
    }
    return true;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        return false;                                                                              \
    } while (0)

bool l3_record_validate(const l3_record_t *rec, char *err, size_t errlen)
{
    if (rec->type < L3_RECORD_SESSION || rec->type > L3_RECORD_END)
        FAIL("unknown record type %d", (int) rec->type);
    if (!l3_id_valid(rec->agent))
        FAIL("bad agent id");
    if (rec->epoch == 0)
        FAIL("epoch is zero");
    if (rec->seq == 0)
        FAIL("seq is zero");
    if (!rec->host[0] || !l3_text_valid(rec->host, L3_NAME_MAX))
        FAIL("bad host");
    if (!rec->user[0] || !l3_text_valid(rec->user, L3_NAME_MAX))
        FAIL("bad user");
    if (!l3_id_valid(rec->sid))
        FAIL("bad session id");
    //  Times: anything from 1970 to 9999, microseconds.
    const int64_t max_us = 253402300799LL * 1000000;
    if (rec->start_us < 0 || rec->start_us > max_us || rec->end_us < 0 || rec->end_us > max_us)
        FAIL("time out of range");
    if (rec->flags & ~L3_FLAG_ALL)
        FAIL("unknown flags 0x%x", rec->flags);
    if (rec->signal < 0 || rec->signal > 128)
        FAIL("signal out of range");
    switch (rec->type) {
    case L3_RECORD_SESSION:
        if (rec->start_us == 0)
            FAIL("session without start time");
        if (!l3_text_valid(rec->tty, L3_NAME_MAX) || !l3_text_valid(rec->shell, L3_NAME_MAX)
            || !l3_text_valid(rec->ssh, L3_NAME_MAX) || !l3_text_valid(rec->parent, L3_NAME_MAX))
            FAIL("bad session text field");
        if (rec->cwd.len || rec->cmdline.len || rec->output.len || rec->timing.len || rec->diff.len
            || rec->nested[0] || rec->depth)
            FAIL("session with command fields");
        break;
    case L3_RECORD_COMMAND:
        if (rec->nr == 0)
            FAIL("command number is zero");
        if (rec->start_us == 0)
            FAIL("command without start time");
        if (rec->end_us && rec->end_us < rec->start_us)
            FAIL("command ends before it starts");
        if (rec->cwd.len > L3_CWD_MAX || rec->cmdline.len > L3_CMDLINE_MAX
            || rec->output.len > L3_OUTPUT_MAX || rec->timing.len > L3_TIMING_MAX
            || rec->diff.len > L3_DIFF_MAX)
            FAIL("command field over its cap");
        if (!l3_text_valid(rec->nested, L3_NAME_MAX))
            FAIL("bad nested session name");
        if (rec->depth > L3_DEPTH_MAX)
            FAIL("shell depth over %d", L3_DEPTH_MAX);
        if (rec->output_head > rec->output.len)
            FAIL("output head longer than output");
        if (rec->dropped && !(rec->flags & L3_FLAG_TRUNCATED))
            FAIL("dropped bytes without truncated flag");
        break;
    case L3_RECORD_END:
        if (rec->end_us == 0)
            FAIL("end without end time");
        if (rec->cwd.len || rec->cmdline.len || rec->output.len || rec->timing.len || rec->diff.len
            || rec->nested[0] || rec->depth)
            FAIL("end with command fields");
        break;
    default:
        break;
    }
    return true;
}

static const char *s_type_names[] = {"none", "session", "command", "end"};

const char *l3_record_type_name(l3_record_type_t type)
{
    return (type >= L3_RECORD_SESSION && type <= L3_RECORD_END) ? s_type_names[type] : "none";
}

l3_record_type_t l3_record_type_from_name(const char *name)
{
    for (int t = L3_RECORD_SESSION; t <= L3_RECORD_END; t++)
        if (strcmp(name, s_type_names[t]) == 0)
            return (l3_record_type_t) t;
    return L3_RECORD_NONE;
}

static const char *s_flag_names[] = {"fullscreen", "interrupted", "truncated", "abnormal",
                                     "nested",     "background",  "hangup",    "ambiguous"};
#define FLAG_COUNT (sizeof(s_flag_names) / sizeof(s_flag_names[0]))

void l3_record_flags_format(uint32_t flags, char *buf, size_t size)
{
    size_t used = 0;
    if (size)
        buf[0] = 0;
    for (size_t i = 0; i < FLAG_COUNT; i++) {
        if (!(flags & (1u << i)))
            continue;
        int n = snprintf(buf + used, size - used, "%s%s", used ? " " : "", s_flag_names[i]);
        if (n < 0 || (size_t) n >= size - used)
            return;
        used += (size_t) n;
    }
}

bool l3_record_flags_parse(const char *text, uint32_t *flags)
{
    *flags = 0;
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, " ");
        size_t i;
        for (i = 0; i < FLAG_COUNT; i++)
            if (strlen(s_flag_names[i]) == len && memcmp(p, s_flag_names[i], len) == 0)
                break;
        if (i == FLAG_COUNT)
            return false;
        *flags |= 1u << i;
        p += len;
    }
    return true;
}
