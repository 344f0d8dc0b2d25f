/*  checkpoint — the writer's stream table saved beside the datafile. See checkpoint.h. */
#include "checkpoint.h"
#include "l3_buf.h"
#include "l3_fs.h"
#include "l3_record.h"
#include "l3_sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_MAGIC "lilalo-writer-checkpoint 2"

/* 64 lowercase hex digits into 32 bytes. */
static bool s_unhex(const char *s, size_t len, uint8_t out[L3_SHA256_LEN])
{
    if (len != 2 * L3_SHA256_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        int v = s[i] >= '0' && s[i] <= '9'   ? s[i] - '0'
                : s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10
                                             : -1;
        if (v < 0)
            return false;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] |= (uint8_t)v;
    }
    return true;
}

/* A decimal uint64 of exactly len bytes: digits only, no sign, no leading zero. */
static bool s_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* A cursor over the text's lines. */
typedef struct {
    const char *p, *end;
    const char *line;
    size_t len;
} s_lines_t;

static bool s_next(s_lines_t *l)
{
    if (l->p >= l->end)
        return false;
    const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
    if (!nl)
        return false; /* every line ends in LF */
    l->line = l->p;
    l->len = (size_t)(nl - l->p);
    l->p = nl + 1;
    return true;
}

/* "<key> <value>": the value of the current line, when its key is key. */
static bool s_field(const s_lines_t *l, const char *key, const char **value, size_t *vlen)
{
    size_t k = strlen(key);
    if (l->len <= k + 1 || memcmp(l->line, key, k) != 0 || l->line[k] != ' ')
        return false;
    *value = l->line + k + 1;
    *vlen = l->len - k - 1;
    return true;
}

static bool s_field_u64(const s_lines_t *l, const char *key, uint64_t *out)
{
    const char *v;
    size_t n;
    return s_field(l, key, &v, &n) && s_u64(v, n, out);
}

/* "<agent> <epoch> <seq>" */
static bool s_stream_line(const char *line, size_t len, char agent[L3_ID_MAX + 1], uint64_t *epoch,
                          uint64_t *seq)
{
    const char *sp1 = memchr(line, ' ', len);
    if (!sp1)
        return false;
    size_t alen = (size_t)(sp1 - line);
    const char *rest = sp1 + 1;
    size_t rlen = len - alen - 1;
    const char *sp2 = memchr(rest, ' ', rlen);
    //  No NUL inside: the id would be read only up to it (a fuzzer found "a\0b 1 1"
    //  taken as agent "a").
    if (!sp2 || alen == 0 || alen > L3_ID_MAX || memchr(line, '\0', alen))
        return false;
    memcpy(agent, line, alen);
    agent[alen] = '\0';
    return l3_id_valid(agent) && s_u64(rest, (size_t)(sp2 - rest), epoch) &&
           s_u64(sp2 + 1, rlen - (size_t)(sp2 - rest) - 1, seq) && *seq > 0;
}

#define S_FAIL(...)                                                                                \
    do {                                                                                           \
        snprintf(why, whylen, __VA_ARGS__);                                                        \
        return false;                                                                              \
    } while (0)

bool checkpoint_parse(const char *text, size_t len, datafile_resume_t *resume,
                      checkpoint_stream_fn *fn, void *arg, char *why, size_t whylen)
{
    uint8_t want[L3_SHA256_LEN], got[L3_SHA256_LEN];
    const char *v;
    size_t vlen;
    uint64_t streams = 0;

    //  The last line first: nothing of a file that does not hash right is believed.
    if (len < 2 || text[len - 1] != '\n')
        S_FAIL("it does not end in a complete line");
    const char *last = text + len - 1;
    while (last > text && last[-1] != '\n')
        last--;
    s_lines_t tail = {.p = last, .end = text + len};
    if (!s_next(&tail) || !s_field(&tail, "sha256", &v, &vlen) || !s_unhex(v, vlen, want))
        S_FAIL("its last line is not its sha256");
    l3_sha256(text, (size_t)(last - text), got);
    if (memcmp(want, got, sizeof want) != 0)
        S_FAIL("its sha256 does not match its contents (torn or edited)");

    //  Two passes: the first checks every line, the second hands the streams out, so fn
    //  never sees part of a file that turns out bad.
    for (int pass = 0; pass < 2; pass++) {
        s_lines_t l = {.p = text, .end = last};
        if (!s_next(&l) || l.len != strlen(S_MAGIC) || memcmp(l.line, S_MAGIC, l.len) != 0)
            S_FAIL("it does not start with \"" S_MAGIC "\" (version 1 had no part)");
        uint64_t part;
        if (!s_next(&l) || !s_field_u64(&l, "part", &part) || part > UINT32_MAX)
            S_FAIL("no part line");
        resume->part = (uint32_t)part;
        if (!s_next(&l) || !s_field_u64(&l, "offset", &resume->offset))
            S_FAIL("no offset line");
        if (!s_next(&l) || !s_field_u64(&l, "records", &resume->records))
            S_FAIL("no records line");
        if (!s_next(&l) || !s_field_u64(&l, "commands", &resume->commands) ||
            resume->commands > resume->records)
            S_FAIL("no commands line");
        if (!s_next(&l) || !s_field(&l, "tail", &v, &vlen) ||
            !s_unhex(v, vlen, resume->tail_sha256))
            S_FAIL("no tail line");
        if (!s_next(&l) || !s_field_u64(&l, "streams", &streams))
            S_FAIL("no streams line");
        uint64_t n = 0;
        while (s_next(&l)) {
            char agent[L3_ID_MAX + 1];
            uint64_t epoch, seq;
            if (!s_stream_line(l.line, l.len, agent, &epoch, &seq))
                S_FAIL("stream line %" PRIu64 " is not \"<agent> <epoch> <seq>\"", n + 1);
            n++;
            if (pass == 1 && fn && !fn(agent, epoch, seq, arg))
                S_FAIL("stream %s/%" PRIu64 " was not taken", agent, epoch);
        }
        if (n != streams)
            S_FAIL("it says %" PRIu64 " streams and lists %" PRIu64, streams, n);
        //  A record line per seq at least: a table that claims more is not this file's.
        if (resume->offset < resume->records)
            S_FAIL("it counts more records than bytes");
    }
    return true;
}

char *checkpoint_read(const char *path, size_t *len, bool *missing, char *why, size_t whylen)
{
    *missing = false;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *missing = errno == ENOENT;
        snprintf(why, whylen, "cannot open it: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    char *text = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        (uint64_t)st.st_size > CHECKPOINT_FILE_MAX) {
        snprintf(why, whylen, "not a regular file of 1 byte to %u MiB", CHECKPOINT_FILE_MAX >> 20);
        goto done;
    }
    size_t size = (size_t)st.st_size, got = 0;
    text = malloc(size);
    if (!text) {
        snprintf(why, whylen, "out of memory");
        goto done;
    }
    while (got < size) {
        ssize_t n = read(fd, text + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(why, whylen, "cannot read it: %s", n < 0 ? strerror(errno) : "short");
            free(text);
            text = NULL;
            goto done;
        }
        got += (size_t)n;
    }
    *len = size;
done:
    close(fd);
    return text;
}

static void s_put_stream(const char *agent, uint64_t epoch, uint64_t disk, void *arg)
{
    l3_buf_t *buf = ((void **)arg)[0];
    uint64_t *n = ((void **)arg)[1];
    l3_buf_printf(buf, "%s %" PRIu64 " %" PRIu64 "\n", agent, epoch, disk);
    (*n)++;
}

bool checkpoint_save(const char *path, datafile_t *datafile, streams_t *streams, char *why,
                     size_t whylen)
{
    uint8_t tail[L3_SHA256_LEN], digest[L3_SHA256_LEN];
    char hex[2 * L3_SHA256_LEN + 1];
    l3_buf_t head, body;
    uint64_t n = 0;
    bool ok = false;

    l3_buf_init(&head, 0);
    l3_buf_init(&body, 0);
    if (!datafile_tail_sha256(datafile, tail)) {
        snprintf(why, whylen, "cannot read the datafile's tail: %s", strerror(errno));
        goto cleanup;
    }
    void *ctx[2] = {&body, &n};
    streams_each(streams, s_put_stream, ctx);
    l3_hex(tail, sizeof tail, hex);
    l3_buf_printf(
        &head,
        S_MAGIC "\npart %" PRIu32 "\noffset %" PRIu64 "\nrecords %" PRIu64 "\ncommands %" PRIu64
                "\ntail %s\nstreams %" PRIu64 "\n",
        datafile_head(datafile)->part, datafile_committed(datafile), datafile_records(datafile),
        datafile_commands(datafile), hex, n);
    l3_buf_append(&head, body.data, body.len);
    if (head.failed || body.failed) {
        snprintf(why, whylen, "out of memory");
        goto cleanup;
    }
    l3_sha256(head.data, head.len, digest);
    l3_hex(digest, sizeof digest, hex);
    l3_buf_printf(&head, "sha256 %s\n", hex);
    l3_buf_append_byte(&head, 0);
    if (head.failed) {
        snprintf(why, whylen, "out of memory");
        goto cleanup;
    }
    if (!l3_replace_file(path, (const char *)head.data, 0640)) {
        snprintf(why, whylen, "cannot write it: %s", strerror(errno));
        goto cleanup;
    }
    ok = true;
cleanup:
    l3_buf_free(&head);
    l3_buf_free(&body);
    return ok;
}
