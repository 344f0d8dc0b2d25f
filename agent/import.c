/*  import — typescripts, asciicast v2 and tlog recordings into records. See import.h. */
#include "import.h"
#include "import_json.h"
#include "l3_log.h"
#include "l3_time.h"
#include "parser.h"
#include "rec_spool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Times beyond this (year 9999) are nonsense in a recording. */
#define TIME_MAX_US (253402300799LL * 1000000)

/* ------------------------------------------------------------------------------------ */
/* The record builder every importer shares                                               */

typedef struct {
    const l3_import_opts_t *opts;
    char sid[L3_ID_MAX + 1];
    char host[L3_NAME_MAX + 1];
    char user[L3_NAME_MAX + 1];
    char shell[L3_NAME_MAX + 1];
    char tty[L3_NAME_MAX + 1];
    uid_t uid;
    uint16_t cols, rows;
    int64_t start_us, last_us;
    bool begun;
    int count;
    l3_parser_t *parser;
} builder_t;

static void s_emit(builder_t *b, l3_record_t *rec)
{
    const char *host = b->opts->host ? b->opts->host : b->host;
    l3_text_set(rec->host, sizeof(rec->host), host[0] ? host : "unknown");
    l3_text_set(rec->user, sizeof(rec->user), b->user);
    l3_text_set(rec->sid, sizeof(rec->sid), b->sid);
    b->count++;
    if (b->opts->on_record)
        b->opts->on_record(b->opts->arg, rec);
}

static void s_on_command(void *arg, l3_record_t *rec, const l3_parser_extra_t *extra)
{
    (void) extra;
    s_emit(arg, rec);
}

/* Make a session id from a name: id characters kept, others '_', at most L3_ID_MAX. */
static void s_sid_from(char *sid, const char *name, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n < L3_ID_MAX; i++) {
        char c = name[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                  || strchr("._:@+=-", c);
        sid[n++] = ok && c ? c : '_';
    }
    sid[n] = 0;
    if (!n)
        snprintf(sid, L3_ID_MAX + 1, "import");
}

static bool s_builder_init(builder_t *b, const l3_import_opts_t *opts, const char *name,
                           uid_t uid)
{
    memset(b, 0, sizeof(*b));
    b->opts = opts;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dot = strrchr(base, '.');
    s_sid_from(b->sid, base, dot && dot != base ? (size_t) (dot - base) : strlen(base));
    b->uid = uid;
    l3_spool_user_name(uid, b->user, sizeof(b->user));
    if (gethostname(b->host, sizeof(b->host) - 1) != 0 || !l3_text_valid(b->host, L3_NAME_MAX))
        b->host[0] = 0;
    l3_parser_opts_t popts = {.mode = L3_PARSER_PROMPT,
                              .output_cap = opts->output_cap,
                              .prompt_re = opts->prompt_re,
                              .on_record = s_on_command,
                              .arg = b};
    b->parser = l3_parser_new(&popts);
    return b->parser != NULL;
}

/* The session record, once the start time is known. */
static void s_begin(builder_t *b, int64_t start_us)
{
    if (b->begun)
        return;
    if (start_us <= 0 || start_us > TIME_MAX_US)
        start_us = l3_time_now_us();
    b->start_us = b->last_us = start_us;
    l3_record_t rec;
    l3_record_init(&rec);
    rec.type = L3_RECORD_SESSION;
    rec.start_us = start_us;
    rec.uid = (uint32_t) b->uid;
    rec.cols = b->cols;
    rec.rows = b->rows;
    l3_text_set(rec.shell, sizeof(rec.shell), b->shell);
    l3_text_set(rec.tty, sizeof(rec.tty), b->tty);
    s_emit(b, &rec);
    l3_record_clear(&rec);
    b->begun = true;
}

static void s_feed(builder_t *b, const void *data, size_t len, int64_t t)
{
    if (t < b->last_us)
        t = b->last_us; /* time never runs backwards inside a session */
    if (t > TIME_MAX_US)
        t = TIME_MAX_US;
    b->last_us = t;
    l3_parser_feed(b->parser, data, len, t);
}

static int s_builder_end(builder_t *b)
{
    s_begin(b, 0);
    l3_parser_finish(b->parser, b->last_us);
    l3_record_t rec;
    l3_record_init(&rec);
    rec.type = L3_RECORD_END;
    rec.start_us = b->start_us;
    rec.end_us = b->last_us;
    s_emit(b, &rec);
    l3_record_clear(&rec);
    l3_parser_destroy(&b->parser);
    return b->count;
}

/* ------------------------------------------------------------------------------------ */
/* Typescripts                                                                           */

/* "Script started on 2024-05-01 10:00:00+02:00 [...]" (util-linux ≥ 2.35). */
static int64_t s_script_header_time(const char *line, size_t len)
{
    static const char prefix[] = "Script started on ";
    size_t pl = sizeof(prefix) - 1;
    if (len < pl + 25 || memcmp(line, prefix, pl) != 0)
        return 0;
    char buf[32];
    memcpy(buf, line + pl, 25);
    buf[25] = 0;
    if (buf[10] != ' ')
        return 0;
    buf[10] = 'T';
    int64_t us;
    return l3_time_parse(buf, &us) ? us : 0;
}

static int s_typescript(builder_t *b, const uint8_t *data, size_t len, const uint8_t *timing,
                        size_t tlen, int64_t fallback_us)
{
    size_t at = 0;
    size_t untimed = 0; /* header bytes the timing counts (l3-rec's), not fed */
    int64_t start = 0;
    static const char started[] = "Script started on ";
    if (len >= sizeof(started) - 1 && memcmp(data, started, sizeof(started) - 1) == 0) {
        const uint8_t *nl = memchr(data, '\n', len);
        size_t hl = nl ? (size_t) (nl - data) : len;
        start = s_script_header_time((const char *) data, hl);
        at = nl ? hl + 1 : len;
        //  script(1)'s timing starts after the header line; l3-rec's covers it too.
        if (memmem(data, hl, L3_REC_HEADER_TAG, sizeof(L3_REC_HEADER_TAG) - 1))
            untimed = at;
        //  util-linux puts the terminal size in the header: COLUMNS="80".
        const uint8_t *c = memmem(data, hl, "COLUMNS=\"", 9);
        if (c) {
            unsigned cols = 0;
            for (c += 9; c < data + hl && *c >= '0' && *c <= '9' && cols < 100000; c++)
                cols = cols * 10 + (unsigned) (*c - '0');
            if (cols > 0 && cols <= 65535) {
                b->cols = (uint16_t) cols;
                l3_parser_set_cols(b->parser, cols);
            }
        }
    }
    //  The trailer "\nScript done on ..." is the script tool's, not the terminal's.
    size_t end = len;
    static const char done[] = "\nScript done on ";
    for (size_t i = len; i > at && len - i < 256; i--) {
        if (i - 1 + sizeof(done) - 1 <= len
            && memcmp(data + i - 1, done, sizeof(done) - 1) == 0) {
            end = i; /* keep the newline before it */
            break;
        }
    }
    s_begin(b, start ? start : fallback_us);
    int64_t t = b->start_us;
    if (timing) {
        size_t tat = 0;
        while (tat < tlen && at < end) {
            const uint8_t *nl = memchr(timing + tat, '\n', tlen - tat);
            size_t ll = nl ? (size_t) (nl - (timing + tat)) : tlen - tat;
            char line[64];
            if (ll < sizeof(line)) {
                memcpy(line, timing + tat, ll);
                line[ll] = 0;
                double delay;
                unsigned long long n;
                if (sscanf(line, "%lf %llu", &delay, &n) == 2 && isfinite(delay) && delay >= 0
                    && delay < 1e9) {
                    t += (int64_t) (delay * 1e6);
                    size_t skip = n < untimed ? (size_t) n : untimed;
                    untimed -= skip;
                    n -= skip;
                    size_t take = n < end - at ? (size_t) n : end - at;
                    s_feed(b, data + at, take, t);
                    at += take;
                }
            }
            tat += ll + 1;
        }
    }
    if (at < end)
        s_feed(b, data + at, end - at, t);
    return s_builder_end(b);
}

/* ------------------------------------------------------------------------------------ */
/* asciicast v2                                                                          */

static double s_num(l3_json_t *doc, const l3_json_node_t *obj, const char *key, double def)
{
    const l3_json_node_t *n = l3_json_member(doc, obj, key);
    return n && n->type == L3_JSON_NUMBER ? n->number : def;
}

static void s_str_field(l3_json_t *doc, const l3_json_node_t *n, char *field, size_t size)
{
    size_t len;
    const uint8_t *s = l3_json_str(doc, n, &len);
    if (!s || len >= size)
        return;
    char tmp[L3_NAME_MAX + 1];
    memcpy(tmp, s, len);
    tmp[len] = 0;
    if (l3_text_valid(tmp, size - 1))
        memcpy(field, tmp, len + 1);
}

static double s_clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int s_asciicast(builder_t *b, const uint8_t *data, size_t len, int64_t fallback_us)
{
    size_t at = 0;
    bool header = true;
    unsigned bad = 0;
    char err[128];
    while (at < len) {
        const uint8_t *nl = memchr(data + at, '\n', len - at);
        size_t ll = nl ? (size_t) (nl - (data + at)) : len - at;
        const uint8_t *line = data + at;
        at += ll + (nl ? 1 : 0);
        if (ll == 0 || (ll == 1 && line[0] == '\r'))
            continue;
        l3_json_t *doc = ll <= L3_IMPORT_LINE_MAX ? l3_json_parse(line, ll, err, sizeof(err))
                                                  : NULL;
        if (!doc) {
            if (bad++ < 5)
                l3_warn("import: %s: bad asciicast line skipped (%s)", b->sid,
                        ll > L3_IMPORT_LINE_MAX ? "too long" : err);
            continue;
        }
        const l3_json_node_t *root = l3_json_root(doc);
        if (header) {
            header = false;
            if (root->type == L3_JSON_OBJECT && s_num(doc, root, "version", 0) == 2) {
                b->cols = (uint16_t) s_clamp(s_num(doc, root, "width", 0), 0, 65535);
                b->rows = (uint16_t) s_clamp(s_num(doc, root, "height", 0), 0, 65535);
                l3_parser_set_cols(b->parser, b->cols);
                const l3_json_node_t *env = l3_json_member(doc, root, "env");
                s_str_field(doc, l3_json_member(doc, env, "SHELL"), b->shell, sizeof(b->shell));
                double ts = s_num(doc, root, "timestamp", 0);
                s_begin(b, ts > 0 && ts < 253402300799.0 ? (int64_t) (ts * 1e6) : fallback_us);
                l3_json_destroy(&doc);
                continue;
            }
            l3_warn("import: %s: no asciicast v2 header", b->sid);
        }
        s_begin(b, fallback_us);
        const l3_json_node_t *t = l3_json_item(doc, root, 0);
        const l3_json_node_t *type = l3_json_item(doc, root, 1);
        const l3_json_node_t *payload = l3_json_item(doc, root, 2);
        size_t tl, pl;
        const uint8_t *ts = l3_json_str(doc, type, &tl);
        const uint8_t *ps = l3_json_str(doc, payload, &pl);
        if (t && t->type == L3_JSON_NUMBER && ts && tl == 1 && ts[0] == 'o' && ps) {
            double sec = s_clamp(t->number, 0, 1e10);
            s_feed(b, ps, pl, b->start_us + (int64_t) (sec * 1e6));
        } else if (ts && tl == 1 && ts[0] == 'r' && ps) {
            //  Resize "COLSxROWS": where long lines wrap from now on.
            unsigned cols = 0;
            for (size_t i = 0; i < pl && ps[i] >= '0' && ps[i] <= '9' && cols < 100000; i++)
                cols = cols * 10 + (unsigned) (ps[i] - '0');
            l3_parser_set_cols(b->parser, cols);
        } else if (!(ts && tl == 1)) {
            if (bad++ < 5)
                l3_warn("import: %s: asciicast event is not [time, type, data]; skipped", b->sid);
        }
        l3_json_destroy(&doc);
    }
    return s_builder_end(b);
}

/* ------------------------------------------------------------------------------------ */
/* tlog                                                                                  */

/* Bytes of the next `chars` UTF-8 characters of s[0..len). */
static size_t s_utf8_chars(const uint8_t *s, size_t len, uint64_t chars)
{
    size_t i = 0;
    while (i < len && chars) {
        i++;
        while (i < len && (s[i] & 0xc0) == 0x80)
            i++;
        chars--;
    }
    return i;
}

static bool s_tlog_num(const char *s, size_t len, size_t *at, uint64_t *v)
{
    size_t start = *at;
    *v = 0;
    while (*at < len && s[*at] >= '0' && s[*at] <= '9' && *at - start < 12)
        *v = *v * 10 + (uint64_t) (s[(*at)++] - '0');
    return *at > start;
}

static void s_tlog_message(builder_t *b, l3_json_t *doc, int64_t fallback_us, unsigned *bad)
{
    const l3_json_node_t *root = l3_json_root(doc);
    if (root->type != L3_JSON_OBJECT || !l3_json_member(doc, root, "ver")) {
        if ((*bad)++ < 5)
            l3_warn("import: %s: not a tlog message; skipped", b->sid);
        return;
    }
    double pos_ms = s_clamp(s_num(doc, root, "pos", 0), 0, 1e13);
    if (!b->begun) {
        s_str_field(doc, l3_json_member(doc, root, "host"), b->host, sizeof(b->host));
        size_t rl;
        const uint8_t *rec = l3_json_str(doc, l3_json_member(doc, root, "rec"), &rl);
        if (rec && rl)
            s_sid_from(b->sid, (const char *) rec, rl);
        double tm = s_num(doc, root, "time", 0);
        int64_t start = tm > 0 && tm < 253402300799.0 ? (int64_t) (tm * 1e6 - pos_ms * 1e3)
                                                       : fallback_us;
        const l3_json_node_t *timing = l3_json_member(doc, root, "timing");
        size_t tl;
        const char *ts = (const char *) l3_json_str(doc, timing, &tl);
        if (ts && tl > 1 && ts[0] == '=') {
            size_t at = 1;
            uint64_t w, h;
            if (s_tlog_num(ts, tl, &at, &w) && at < tl && ts[at] == 'x' && (at++, true)
                && s_tlog_num(ts, tl, &at, &h)) {
                b->cols = w <= 65535 ? (uint16_t) w : 0;
                b->rows = h <= 65535 ? (uint16_t) h : 0;
                l3_parser_set_cols(b->parser, b->cols);
            }
        }
        s_begin(b, start);
    }
    size_t tl, txl;
    const char *ts = (const char *) l3_json_str(doc, l3_json_member(doc, root, "timing"), &tl);
    const uint8_t *txt = l3_json_str(doc, l3_json_member(doc, root, "out_txt"), &txl);
    const l3_json_node_t *bin = l3_json_member(doc, root, "out_bin");
    const l3_json_node_t *bin_item = bin && bin->type == L3_JSON_ARRAY
                                         ? l3_json_node(doc, bin->first)
                                         : NULL;
    if (!ts)
        return;
    int64_t t = b->start_us + (int64_t) (pos_ms * 1000);
    size_t txt_at = 0;
    size_t at = 0;
    while (at < tl) {
        char kind = ts[at++];
        uint64_t n = 0, m = 0;
        if (!s_tlog_num(ts, tl, &at, &n))
            break;
        if ((kind == '[' || kind == ']' || kind == '=') && at < tl
            && (ts[at] == '/' || ts[at] == 'x')) {
            at++;
            if (!s_tlog_num(ts, tl, &at, &m))
                break;
        }
        switch (kind) {
        case '+':
            t += (int64_t) n * 1000;
            break;
        case '>': {
            size_t bytes = txt ? s_utf8_chars(txt + txt_at, txl - txt_at, n) : 0;
            if (bytes)
                s_feed(b, txt + txt_at, bytes, t);
            txt_at += bytes;
            break;
        }
        case ']': {
            //  n replacement characters in out_txt stand for m bytes from out_bin.
            txt_at += txt ? s_utf8_chars(txt + txt_at, txl - txt_at, n) : 0;
            uint8_t buf[256];
            size_t k = 0;
            while (m-- && bin_item) {
                buf[k++] = bin_item->type == L3_JSON_NUMBER
                               ? (uint8_t) s_clamp(bin_item->number, 0, 255)
                               : 0;
                bin_item = l3_json_node(doc, bin_item->next);
                if (k == sizeof(buf)) {
                    s_feed(b, buf, k, t);
                    k = 0;
                }
            }
            if (k)
                s_feed(b, buf, k, t);
            break;
        }
        case '=':
            l3_parser_set_cols(b->parser, n <= 65535 ? (uint32_t) n : 0);
            break;
        default: /* input ("<", "["): not output */
            break;
        }
    }
}

static int s_tlog(builder_t *b, const uint8_t *data, size_t len, int64_t fallback_us)
{
    size_t at = 0;
    unsigned bad = 0;
    char err[128];
    while (at < len) {
        const uint8_t *nl = memchr(data + at, '\n', len - at);
        size_t ll = nl ? (size_t) (nl - (data + at)) : len - at;
        const uint8_t *line = data + at;
        at += ll + (nl ? 1 : 0);
        if (ll == 0)
            continue;
        l3_json_t *doc = ll <= L3_IMPORT_LINE_MAX ? l3_json_parse(line, ll, err, sizeof(err))
                                                  : NULL;
        if (!doc) {
            if (bad++ < 5)
                l3_warn("import: %s: bad tlog line skipped (%s)", b->sid,
                        ll > L3_IMPORT_LINE_MAX ? "too long" : err);
            continue;
        }
        s_tlog_message(b, doc, fallback_us, &bad);
        l3_json_destroy(&doc);
    }
    return s_builder_end(b);
}

/* ------------------------------------------------------------------------------------ */

const char *l3_import_format_name(l3_import_format_t format)
{
    static const char *names[] = {"auto", "spool", "typescript", "asciicast", "tlog"};
    return format <= L3_IMPORT_TLOG ? names[format] : "?";
}

bool l3_import_format_parse(const char *name, l3_import_format_t *format)
{
    for (int f = L3_IMPORT_AUTO; f <= L3_IMPORT_TLOG; f++)
        if (strcmp(name, l3_import_format_name((l3_import_format_t) f)) == 0) {
            *format = (l3_import_format_t) f;
            return true;
        }
    return false;
}

static l3_import_format_t s_detect_buffer(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    if (i < len && p[i] == '{') {
        const uint8_t *nl = memchr(p + i, '\n', len - i);
        size_t ll = nl ? (size_t) (nl - (p + i)) : len - i;
        l3_json_t *doc = l3_json_parse(p + i, ll, NULL, 0);
        l3_import_format_t f = L3_IMPORT_TYPESCRIPT;
        if (doc) {
            const l3_json_node_t *root = l3_json_root(doc);
            if (l3_json_member(doc, root, "version"))
                f = L3_IMPORT_ASCIICAST;
            else if (l3_json_member(doc, root, "ver"))
                f = L3_IMPORT_TLOG;
            l3_json_destroy(&doc);
        }
        return f;
    }
    return L3_IMPORT_TYPESCRIPT;
}

/* "<dir>/<stem>" + suffix, where stem is path without its extension. */
static bool s_beside(const char *path, const char *suffix, char *out, size_t size)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(path, '.');
    size_t stem = dot && (!slash || dot > slash + 1) ? (size_t) (dot - path) : strlen(path);
    return snprintf(out, size, "%.*s%s", (int) stem, path, suffix) < (int) size;
}

l3_import_format_t l3_import_detect(const char *path)
{
    size_t pl = strlen(path);
    char info[PATH_MAX];
    struct stat st;
    if (pl > 7 && strcmp(path + pl - 7, ".script") == 0 && s_beside(path, ".info", info, sizeof(info))
        && stat(info, &st) == 0)
        return L3_IMPORT_SPOOL;
    uint8_t head[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return L3_IMPORT_TYPESCRIPT;
    ssize_t n = read(fd, head, sizeof(head));
    close(fd);
    return n > 0 ? s_detect_buffer(head, (size_t) n) : L3_IMPORT_TYPESCRIPT;
}

int l3_import_buffer(const void *data, size_t len, const char *name, uid_t uid,
                     const l3_import_opts_t *opts)
{
    builder_t b;
    if (!s_builder_init(&b, opts, name, uid)) {
        l3_parser_destroy(&b.parser);
        return -1;
    }
    int64_t fallback = 1000000; /* from memory there is no file time: 1970 + 1 s */
    l3_import_format_t f = opts->format;
    if (f == L3_IMPORT_AUTO || f == L3_IMPORT_SPOOL)
        f = s_detect_buffer(data, len);
    if (f == L3_IMPORT_ASCIICAST)
        return s_asciicast(&b, data, len, fallback);
    if (f == L3_IMPORT_TLOG)
        return s_tlog(&b, data, len, fallback);
    return s_typescript(&b, data, len, NULL, 0, fallback);
}

static int s_import_spool(const char *path, const l3_import_opts_t *opts)
{
    l3_spool_opts_t so = {.output_cap = opts->output_cap,
                          .host = opts->host,
                          .keep_edit_copies = true,
                          .on_record = opts->on_record,
                          .arg = opts->arg};
    l3_spool_session_t *s = l3_spool_session_new(path, &so);
    if (!s)
        return -1;
    int total = l3_spool_session_poll(s);
    if (total >= 0 && !l3_spool_session_done(s)) {
        pid_t pid = l3_spool_session_pid(s);
        if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) {
            //  No end line and the recorder is gone: it died, after its last write.
            int64_t last = 0;
            size_t pl = strlen(path) - 7;
            const char *ext[] = {".script", ".timing", ".info"};
            for (int i = 0; i < 3; i++) {
                char p[PATH_MAX];
                struct stat st;
                if (snprintf(p, sizeof(p), "%.*s%s", (int) pl, path, ext[i]) < (int) sizeof(p)
                    && stat(p, &st) == 0) {
                    int64_t m = (int64_t) st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000;
                    last = m > last ? m : last;
                }
            }
            int n = l3_spool_session_abandon(s, last ? last : l3_time_now_us());
            total = n >= 0 ? total + n : n;
        } else
            l3_info("import: %s: session still running; records up to now", path);
    }
    l3_spool_session_destroy(&s);
    return total;
}

int l3_import_file(const char *path, const l3_import_opts_t *opts)
{
    l3_import_format_t f = opts->format == L3_IMPORT_AUTO ? l3_import_detect(path) : opts->format;
    if (f == L3_IMPORT_SPOOL)
        return s_import_spool(path, opts);
    int result = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    void *map = MAP_FAILED;
    uint8_t *timing = NULL;
    size_t tlen = 0;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        l3_error("import: %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t) st.st_size > L3_IMPORT_FILE_MAX) {
        l3_error("import: %s: not a regular file under %llu bytes", path,
                 (unsigned long long) L3_IMPORT_FILE_MAX);
        goto cleanup;
    }
    if (st.st_size > 0) {
        map = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            l3_error("import: %s: mmap: %s", path, strerror(errno));
            goto cleanup;
        }
    }
    const uint8_t *data = map == MAP_FAILED ? (const uint8_t *) "" : map;
    size_t len = (size_t) st.st_size;
    int64_t fallback = (int64_t) st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000;
    builder_t b;
    l3_import_opts_t o = *opts;
    o.format = f;
    if (!s_builder_init(&b, &o, path, st.st_uid)) {
        l3_parser_destroy(&b.parser);
        goto cleanup;
    }
    if (f == L3_IMPORT_ASCIICAST)
        result = s_asciicast(&b, data, len, fallback);
    else if (f == L3_IMPORT_TLOG)
        result = s_tlog(&b, data, len, fallback);
    else {
        //  A classic timing file beside the typescript gives the times.
        char tpath[PATH_MAX];
        l3_buf_t tb;
        l3_buf_init(&tb, 256u << 20);
        const char *suffixes[] = {".timing", ".tm"};
        for (int i = 0; i < 2 && !tlen; i++) {
            if (s_beside(path, suffixes[i], tpath, sizeof(tpath)) && strcmp(tpath, path) != 0
                && l3_spool_read_file(tpath, st.st_uid, 256u << 20, &tb))
                timing = l3_buf_steal(&tb, &tlen);
            l3_buf_reset(&tb);
        }
        l3_buf_free(&tb);
        result = s_typescript(&b, data, len, timing, tlen, fallback);
    }
cleanup:
    free(timing);
    if (map != MAP_FAILED)
        munmap(map, (size_t) st.st_size);
    if (fd >= 0)
        close(fd);
    return result;
}
