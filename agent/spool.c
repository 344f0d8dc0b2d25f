/*  spool — incremental reader of one recorded session. See spool.h. */
#include "spool.h"
#include "diff.h"
#include "l3_log.h"
#include "l3_time.h"
#include "parser.h"
#include "rec_spool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK (64u * 1024)
#define TIMING_LINE_MAX 64
#define EDIT_PENDING_MAX 64
#define SAVE_MAGIC 0x4c3353504f4f4cULL /* "L3SPOOL" */
#define SAVE_VERSION 1
/* A timing delay longer than this is corrupt (a year). */
#define DELAY_MAX_US (366LL * 86400 * 1000000)
/* l3-rec writes .info within milliseconds of creating it; one still without a start line
   this long after its last change is not going to get one. */
#define INFO_GRACE_US (5LL * 1000000)

struct l3_spool_session_t {
    l3_spool_opts_t opts;
    char dir[PATH_MAX];
    char sid[L3_ID_MAX + 1];
    char script_path[PATH_MAX + 128];
    char timing_path[PATH_MAX + 128];
    char info_path[PATH_MAX + 128];
    uid_t uid;
    char user[L3_NAME_MAX + 1];
    l3_parser_t *parser;

    /* From .info. */
    char host[L3_NAME_MAX + 1];
    char tty[L3_NAME_MAX + 1];
    char shell[L3_NAME_MAX + 1];
    char ssh[L3_NAME_MAX + 1];
    char parent[L3_NAME_MAX + 1];
    char nonce[L3_PARSER_NONCE_LEN + 1];
    char nonce_sha256[L3_PARSER_NONCES_MAX * 65]; /* each shell's, space-separated */
    char recmark[L3_PARSER_REC_ANCHOR_LEN + 1]; /* anchor of the recorder's marks, or "" */
    uint32_t marks; /* the form of the marks in .script (L3_PARSER_MARKS_REF), 0 = nonces */
    int64_t start_us;
    pid_t pid;
    uint16_t cols, rows;
    bool has_end;
    int64_t end_us;
    bool has_exit;
    int32_t exit_code;
    int32_t signal;

    /* Progress (saved). */
    int64_t base; /* script bytes before the first timed one (the header line); -1 unknown */
    uint64_t timing_off;
    int64_t line_time;
    uint64_t line_left;
    bool session_emitted;
    bool end_emitted;

    /* Editor copies to delete once their records are stored. */
    char edit_pending[EDIT_PENDING_MAX][L3_PARSER_EDIT_TOKEN_MAX + 1];
    int edit_pending_n;
    int emitted; /* records emitted by the current poll */
};

/* ------------------------------------------------------------------------------------ */

void l3_spool_user_name(uid_t uid, char *buf, size_t size)
{
    struct passwd pw, *res = NULL;
    char tmp[4096];
    if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res && res->pw_name[0]
        && strlen(res->pw_name) < size && l3_text_valid(res->pw_name, L3_NAME_MAX))
        snprintf(buf, size, "%s", res->pw_name);
    else
        snprintf(buf, size, "%u", (unsigned) uid);
}

bool l3_spool_read_file(const char *path, uid_t uid, size_t max, l3_buf_t *out)
{
    bool ok = false;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        l3_debug("spool: %s: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != uid
        || (uint64_t) st.st_size > max) {
        l3_warn("spool: %s: not a regular file of uid %u at most %zu bytes; ignored", path,
                (unsigned) uid, max);
        errno = EPERM;
        goto cleanup;
    }
    if (!l3_buf_reserve(out, (size_t) st.st_size + 1))
        goto cleanup;
    size_t got = 0;
    while (got <= max) {
        if (!l3_buf_reserve(out, 4096))
            goto cleanup;
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto cleanup;
        if (n == 0)
            break;
        out->len += (size_t) n;
        got += (size_t) n;
    }
    if (got > max) {
        errno = EFBIG;
        goto cleanup;
    }
    ok = true;
cleanup:
    close(fd);
    return ok;
}

/* Copy a percent-decoded .info value into a text field, if it is valid text. */
static void s_text(char *field, size_t size, const char *value, size_t len)
{
    l3_buf_t b;
    l3_buf_init(&b, size - 1);
    if (l3_parser_pct_decode(value, len, &b, size - 1) && l3_buf_append_byte(&b, 0)
        && l3_text_valid((const char *) b.data, size - 1))
        memcpy(field, b.data, b.len);
    l3_buf_free(&b);
}

static bool s_int(const char *value, size_t len, int64_t min, int64_t max, int64_t *out)
{
    if (len == 0 || len > 19)
        return false;
    int64_t v = 0;
    bool neg = false;
    size_t i = 0;
    if (value[0] == '-') {
        neg = true;
        i = 1;
        if (len == 1)
            return false;
    }
    for (; i < len; i++) {
        if (value[i] < '0' || value[i] > '9')
            return false;
        v = v * 10 + (value[i] - '0');
    }
    v = neg ? -v : v;
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* (Re-)read .info. false when it cannot be read. */
static bool s_read_info(l3_spool_session_t *self)
{
    l3_buf_t b;
    l3_buf_init(&b, L3_SPOOL_INFO_MAX + 4096);
    if (!l3_spool_read_file(self->info_path, self->uid, L3_SPOOL_INFO_MAX, &b)) {
        l3_buf_free(&b);
        return false;
    }
    const char *p = (const char *) b.data;
    size_t len = b.len, at = 0;
    while (at < len) {
        const char *nl = memchr(p + at, '\n', len - at);
        if (!nl)
            break; /* a line still being written: next time */
        size_t end = (size_t) (nl - p);
        const char *eq = memchr(p + at, '=', end - at);
        if (eq) {
            const char *key = p + at;
            size_t klen = (size_t) (eq - key);
            const char *val = eq + 1;
            size_t vlen = end - (size_t) (val - p);
            int64_t v;
            char tbuf[64];
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(key, k, klen) == 0)
            if (KEY("host"))
                s_text(self->host, sizeof(self->host), val, vlen);
            else if (KEY("tty"))
                s_text(self->tty, sizeof(self->tty), val, vlen);
            else if (KEY("shell"))
                s_text(self->shell, sizeof(self->shell), val, vlen);
            else if (KEY("ssh"))
                s_text(self->ssh, sizeof(self->ssh), val, vlen);
            else if (KEY("parent"))
                s_text(self->parent, sizeof(self->parent), val, vlen);
            else if (KEY("nonce_sha256") && vlen == 64) {
                size_t have = strlen(self->nonce_sha256);
                if (have + 65 < sizeof(self->nonce_sha256) && !memmem(self->nonce_sha256, have, val, vlen)) {
                    if (have)
                        self->nonce_sha256[have++] = ' ';
                    memcpy(self->nonce_sha256 + have, val, vlen);
                    self->nonce_sha256[have + vlen] = 0;
                }
            } else if (KEY("nonce") && vlen == L3_PARSER_NONCE_LEN) {
                memcpy(self->nonce, val, vlen);
                self->nonce[vlen] = 0;
            } else if (KEY("recmark") && vlen == L3_PARSER_REC_ANCHOR_LEN) {
                memcpy(self->recmark, val, vlen);
                self->recmark[vlen] = 0;
            } else if (KEY("marks") && s_int(val, vlen, 0, UINT16_MAX, &v))
                self->marks = (uint32_t) v;
            else if (KEY("pid") && s_int(val, vlen, 1, INT32_MAX, &v))
                self->pid = (pid_t) v;
            else if (KEY("cols") && s_int(val, vlen, 0, UINT16_MAX, &v))
                self->cols = (uint16_t) v;
            else if (KEY("rows") && s_int(val, vlen, 0, UINT16_MAX, &v))
                self->rows = (uint16_t) v;
            else if ((KEY("start") || KEY("end")) && vlen < sizeof(tbuf)) {
                memcpy(tbuf, val, vlen);
                tbuf[vlen] = 0;
                int64_t us;
                if (l3_time_parse(tbuf, &us) && us > 0) {
                    if (KEY("start"))
                        self->start_us = us;
                    else {
                        self->end_us = us;
                        self->has_end = true;
                    }
                }
            } else if (KEY("exit") && s_int(val, vlen, INT32_MIN, INT32_MAX, &v)) {
                self->has_exit = true;
                self->exit_code = (int32_t) v;
            } else if (KEY("signal") && s_int(val, vlen, 1, 128, &v))
                self->signal = (int32_t) v;
#undef KEY
        }
        at = end + 1;
    }
    l3_buf_free(&b);
    return true;
}

/* ------------------------------------------------------------------------------------ */

static void s_emit(l3_spool_session_t *self, l3_record_t *rec)
{
    l3_text_set(rec->host, sizeof(rec->host), self->opts.host ? self->opts.host : self->host);
    if (!rec->host[0])
        l3_text_set(rec->host, sizeof(rec->host), "unknown");
    l3_text_set(rec->user, sizeof(rec->user), self->user);
    l3_text_set(rec->sid, sizeof(rec->sid), self->sid);
    self->emitted++;
    if (self->opts.on_record)
        self->opts.on_record(self->opts.arg, rec);
}

/* The editor copies of token: diff into rec, remember them for deletion. */
static void s_attach_diff(l3_spool_session_t *self, l3_record_t *rec, const char *token)
{
    char before[PATH_MAX + 256], after[PATH_MAX + 256];
    if (snprintf(before, sizeof(before), "%s/%s.edit.%s.before", self->dir, self->sid, token)
            >= (int) sizeof(before)
        || snprintf(after, sizeof(after), "%s/%s.edit.%s.after", self->dir, self->sid, token)
               >= (int) sizeof(after))
        return;
    l3_buf_t a, b, d;
    l3_buf_init(&a, L3_SPOOL_EDIT_MAX + 4096);
    l3_buf_init(&b, L3_SPOOL_EDIT_MAX + 4096);
    l3_buf_init(&d, L3_DIFF_MAX);
    //  A missing "before" is a new file; a missing "after" a deleted one.
    bool ha = l3_spool_read_file(before, self->uid, L3_SPOOL_EDIT_MAX, &a);
    bool hb = l3_spool_read_file(after, self->uid, L3_SPOOL_EDIT_MAX, &b);
    if ((ha || errno == ENOENT) && (hb || errno == ENOENT) && (ha || hb)) {
        if (l3_diff_unified(a.data, a.len, b.data, b.len, "before", "after", &d)) {
            rec->diff.data = l3_buf_steal(&d, &rec->diff.len);
        } else
            l3_warn("spool: %s: diff of edit %s too large; left out", self->sid, token);
    }
    if (self->edit_pending_n < EDIT_PENDING_MAX && !self->opts.keep_edit_copies)
        snprintf(self->edit_pending[self->edit_pending_n++], L3_PARSER_EDIT_TOKEN_MAX + 1,
                 "%s", token);
    l3_buf_free(&a);
    l3_buf_free(&b);
    l3_buf_free(&d);
}

static void s_on_command(void *arg, l3_record_t *rec, const l3_parser_extra_t *extra)
{
    l3_spool_session_t *self = arg;
    if (extra->edit_token[0])
        s_attach_diff(self, rec, extra->edit_token);
    s_emit(self, rec);
}

static void s_emit_session(l3_spool_session_t *self)
{
    l3_record_t rec;
    l3_record_init(&rec);
    rec.type = L3_RECORD_SESSION;
    rec.start_us = self->start_us;
    rec.uid = (uint32_t) self->uid;
    rec.pid = self->pid > 0 ? (uint32_t) self->pid : 0;
    rec.cols = self->cols;
    rec.rows = self->rows;
    l3_text_set(rec.tty, sizeof(rec.tty), self->tty);
    l3_text_set(rec.shell, sizeof(rec.shell), self->shell);
    l3_text_set(rec.ssh, sizeof(rec.ssh), self->ssh);
    l3_text_set(rec.parent, sizeof(rec.parent), self->parent);
    s_emit(self, &rec);
    l3_record_clear(&rec);
    self->session_emitted = true;
}

static void s_emit_end(l3_spool_session_t *self, int64_t end_us, bool abnormal)
{
    l3_record_t rec;
    l3_record_init(&rec);
    rec.type = L3_RECORD_END;
    rec.start_us = self->start_us;
    rec.end_us = end_us > 0 ? end_us : self->start_us;
    if (!abnormal) {
        rec.has_exit = self->has_exit;
        rec.exit_code = self->exit_code;
        rec.signal = self->signal;
    } else
        rec.flags = L3_FLAG_ABNORMAL;
    s_emit(self, &rec);
    l3_record_clear(&rec);
    self->end_emitted = true;
}

/* Parse a classic timing line "<seconds>[.<fraction>] <bytes>". */
static bool s_timing_line(const char *p, size_t len, int64_t *delay_us, uint64_t *bytes)
{
    size_t i = 0;
    int64_t sec = 0, frac = 0, scale = 1000000;
    if (i >= len || p[i] < '0' || p[i] > '9')
        return false;
    while (i < len && p[i] >= '0' && p[i] <= '9') {
        sec = sec * 10 + (p[i] - '0');
        if (sec > DELAY_MAX_US / 1000000)
            return false;
        i++;
    }
    if (i < len && p[i] == '.') {
        i++;
        while (i < len && p[i] >= '0' && p[i] <= '9') {
            if (scale > 1) {
                scale /= 10;
                frac += (p[i] - '0') * scale;
            }
            i++;
        }
    }
    if (i >= len || p[i] != ' ')
        return false;
    i++;
    uint64_t n = 0;
    if (i >= len)
        return false;
    while (i < len && p[i] >= '0' && p[i] <= '9') {
        n = n * 10 + (uint64_t) (p[i] - '0');
        if (n > (1ULL << 40))
            return false;
        i++;
    }
    if (i != len)
        return false;
    *delay_us = sec * 1000000 + frac;
    *bytes = n;
    return true;
}

/* Feed script bytes [off, off+n) at time t. false on a read error. */
static bool s_feed_script(l3_spool_session_t *self, int fd, uint64_t n, int64_t t)
{
    uint8_t buf[READ_CHUNK];
    while (n) {
        size_t want = n < sizeof(buf) ? (size_t) n : sizeof(buf);
        ssize_t got = pread(fd, buf, want, (off_t) (self->base + l3_parser_offset(self->parser)));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            l3_error("spool: %s: %s", self->script_path, strerror(errno));
            return false;
        }
        if (got == 0)
            return true; /* shorter than fstat said: truncated under us */
        l3_parser_feed(self->parser, buf, (size_t) got, t);
        n -= (uint64_t) got;
    }
    return true;
}

/* Move forward through timing lines and the script bytes they cover. */
static bool s_advance(l3_spool_session_t *self, int sfd, uint64_t script_size)
{
    int tfd = open(self->timing_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (tfd < 0)
        return errno == ENOENT; /* no timing (yet): only the end feeds the bytes */
    bool ok = false;
    struct stat st;
    if (fstat(tfd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != self->uid) {
        l3_warn("spool: %s: not a regular file of the session's owner; timing ignored",
                self->timing_path);
        ok = true;
        goto cleanup;
    }
    char buf[READ_CHUNK];
    for (;;) {
        if (self->line_left) {
            uint64_t off = (uint64_t) self->base + l3_parser_offset(self->parser);
            uint64_t avail = script_size > off ? script_size - off : 0;
            uint64_t n = self->line_left < avail ? self->line_left : avail;
            if (n == 0)
                break; /* the script has not caught up with the timing */
            if (!s_feed_script(self, sfd, n, self->line_time))
                goto cleanup;
            uint64_t fed = (uint64_t) self->base + l3_parser_offset(self->parser) - off;
            self->line_left -= fed;
            if (fed < n)
                break;
            continue;
        }
        ssize_t got = pread(tfd, buf, sizeof(buf), (off_t) self->timing_off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            l3_error("spool: %s: %s", self->timing_path, strerror(errno));
            goto cleanup;
        }
        const char *nl = got > 0 ? memchr(buf, '\n', (size_t) got) : NULL;
        if (!nl) {
            if (got == (ssize_t) sizeof(buf)) {
                l3_warn("spool: %s: line over %zu bytes at offset %llu; skipped",
                        self->timing_path, sizeof(buf), (unsigned long long) self->timing_off);
                self->timing_off += (uint64_t) got;
                continue;
            }
            break; /* no complete line yet */
        }
        size_t llen = (size_t) (nl - buf);
        int64_t delay;
        uint64_t bytes;
        if (llen <= TIMING_LINE_MAX && s_timing_line(buf, llen, &delay, &bytes)) {
            self->line_time += delay;
            self->line_left = bytes;
        } else
            l3_warn("spool: %s: bad timing line at offset %llu; skipped", self->timing_path,
                    (unsigned long long) self->timing_off);
        self->timing_off += llen + 1;
    }
    ok = true;
cleanup:
    close(tfd);
    return ok;
}

/* The recorder starts .script with a "Script started on ..." line, as script(1) does.
   script(1)'s timing does not cover it (the timed bytes begin after it); l3-rec's does
   (agent/rec_spool.c: its first timing line is the header), so there the timed bytes begin
   at 0 and the header goes to the parser as output before the session's first mark, where
   no command takes it. Taking the header as untimed for l3-rec put every byte's time one
   header (about 150 bytes) late: a program's last screen and the replay's rhythm were
   those of earlier output. false on a read error; base stays -1 while the header line is
   incomplete. */
static bool s_find_base(l3_spool_session_t *self, int fd, bool ended)
{
    static const char header[] = "Script started on ";
    char buf[4096];
    ssize_t got;
    do
        got = pread(fd, buf, sizeof(buf), 0);
    while (got < 0 && errno == EINTR);
    if (got < 0) {
        l3_error("spool: %s: %s", self->script_path, strerror(errno));
        return false;
    }
    size_t hl = sizeof(header) - 1;
    size_t n = (size_t) got;
    if (n < hl && memcmp(buf, header, n) == 0 && !ended)
        return true; /* could still become the header: wait */
    if (n < hl || memcmp(buf, header, hl) != 0) {
        self->base = 0;
        return true;
    }
    const char *nl = memchr(buf, '\n', n);
    if (nl && memmem(buf, (size_t) (nl - buf), L3_REC_HEADER_TAG, sizeof(L3_REC_HEADER_TAG) - 1))
        self->base = 0; /* l3-rec's: timed like the rest */
    else if (nl)
        self->base = (int64_t) (nl - buf) + 1;
    else if (ended || n == sizeof(buf))
        self->base = 0; /* no end to the header line: take the bytes as they are */
    return true;
}

/* One poll: what is new; when ended (or abandoned, end_us > 0), everything and the end. */
static int s_poll(l3_spool_session_t *self, bool abandon, int64_t abandon_us)
{
    if (self->end_emitted)
        return 0;
    self->emitted = 0;
    int result = -1;
    int sfd = -1;
    if (!s_read_info(self)) {
        l3_warn("spool: %s: .info unreadable: %s", self->sid, strerror(errno));
        if (!abandon)
            return -1;
    }
    if (!self->session_emitted)
        s_emit_session(self);
    sfd = open(self->script_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    struct stat st;
    if (sfd < 0 || fstat(sfd, &st) != 0) {
        l3_error("spool: %s: %s", self->script_path, strerror(errno));
        goto cleanup;
    }
    if (self->base < 0 && !s_find_base(self, sfd, abandon || self->has_end))
        goto cleanup;
    if (self->base >= 0 && !s_advance(self, sfd, (uint64_t) st.st_size))
        goto cleanup;
    //  An end line read just now wins over "the recorder is gone": it ended normally.
    bool ending = abandon || self->has_end;
    if (ending) {
        abandon = abandon && !self->has_end;
        if (self->base < 0)
            self->base = 0;
        //  The session is over: bytes no timing line covers are parsed at the last time.
        uint64_t off = (uint64_t) self->base + l3_parser_offset(self->parser);
        if ((uint64_t) st.st_size > off
            && !s_feed_script(self, sfd, (uint64_t) st.st_size - off, self->line_time))
            goto cleanup;
        int64_t end_us = abandon ? abandon_us : self->end_us;
        if (!abandon && end_us <= 0)
            end_us = self->line_time;
        if (end_us < self->line_time)
            end_us = self->line_time;
        l3_parser_finish(self->parser, end_us);
        s_emit_end(self, end_us, abandon);
    }
    result = self->emitted;
cleanup:
    if (sfd >= 0)
        close(sfd);
    return result;
}

int l3_spool_session_poll(l3_spool_session_t *self)
{
    return s_poll(self, false, 0);
}

int l3_spool_session_abandon(l3_spool_session_t *self, int64_t end_us)
{
    return s_poll(self, true, end_us);
}

/* ------------------------------------------------------------------------------------ */

l3_spool_session_t *l3_spool_session_new(const char *script_path, const l3_spool_opts_t *opts)
{
    l3_spool_session_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->opts = *opts;
    const char *slash = strrchr(script_path, '/');
    const char *base = slash ? slash + 1 : script_path;
    size_t blen = strlen(base);
    if (blen <= 7 || strcmp(base + blen - 7, ".script") != 0 || blen - 7 > L3_ID_MAX) {
        l3_error("spool: %s: not a <sid>.script path", script_path);
        goto fail;
    }
    memcpy(self->sid, base, blen - 7);
    self->sid[blen - 7] = 0;
    if (!l3_id_valid(self->sid)) {
        l3_error("spool: %s: '%s' is not a valid session id", script_path, self->sid);
        goto fail;
    }
    size_t dlen = slash ? (size_t) (slash - script_path) : 1;
    if (dlen >= sizeof(self->dir) - L3_ID_MAX - 16) {
        l3_error("spool: %s: path too long", script_path);
        goto fail;
    }
    if (slash)
        memcpy(self->dir, script_path, dlen ? dlen : 1);
    else
        self->dir[0] = '.';
    snprintf(self->script_path, sizeof(self->script_path), "%s/%s.script", self->dir, self->sid);
    snprintf(self->timing_path, sizeof(self->timing_path), "%s/%s.timing", self->dir, self->sid);
    snprintf(self->info_path, sizeof(self->info_path), "%s/%s.info", self->dir, self->sid);
    struct stat st;
    if (lstat(self->script_path, &st) != 0 || !S_ISREG(st.st_mode)) {
        l3_error("spool: %s: not a regular file", self->script_path);
        goto fail;
    }
    //  The user is the owner of the spool file — never a field of its content.
    self->uid = st.st_uid;
    l3_spool_user_name(self->uid, self->user, sizeof(self->user));
    if (!s_read_info(self)) {
        //  Missing is normal for a moment (the recorder writes .info just after .script);
        //  the daemon retries when it appears.
        l3_log(errno == ENOENT ? L3_LOG_DEBUG : L3_LOG_ERROR, "spool: %s: cannot read %s (%s)",
               self->sid, self->info_path, strerror(errno));
        goto fail;
    }
    if (self->start_us <= 0) {
        //  l3-rec creates .info empty and writes it just after: a reader can come in
        //  between. Not ready yet while the recorder lives and the file is young (EAGAIN:
        //  the caller retries, quietly); otherwise it never will be (ENODATA, warned).
        struct stat ist;
        bool alive = self->pid <= 0 || kill(self->pid, 0) == 0 || errno != ESRCH;
        int64_t age = lstat(self->info_path, &ist) == 0
                          ? l3_time_now_us() - ((int64_t) ist.st_mtim.tv_sec * 1000000
                                                + ist.st_mtim.tv_nsec / 1000)
                          : INFO_GRACE_US;
        if (alive && age < INFO_GRACE_US) {
            l3_debug("spool: %s: .info has no start time yet; retried", self->sid);
            free(self);
            errno = EAGAIN;
            return NULL;
        }
        l3_warn("spool: %s: .info has no valid start time (%s); session skipped until .info "
                "changes", self->sid, alive ? "written over 5 s ago" : "its recorder is gone");
        free(self);
        errno = ENODATA;
        return NULL;
    }
    self->line_time = self->start_us;
    self->base = -1;
    l3_parser_opts_t popts = {.mode = L3_PARSER_MARKS,
                              .nonce = self->nonce[0] ? self->nonce : NULL,
                              .rec_anchor = self->recmark[0] ? self->recmark : NULL,
                              .output_cap = opts->output_cap,
                              .on_record = s_on_command,
                              .arg = self,
                              .nonce_sha256 = self->nonce_sha256,
                              .marks = self->marks};
    //  A form of marks from a newer recorder: none of them counts (they are output).
    if (self->marks > L3_PARSER_MARKS_REF) {
        l3_warn("spool: %s: .info has marks=%u, unknown to this agent; no marks will count",
                self->sid, (unsigned) self->marks);
        popts.nonce = popts.nonce_sha256 = NULL;
    }
    self->parser = l3_parser_new(&popts);
    if (!self->parser)
        goto fail;
    if (!self->nonce[0] && !self->nonce_sha256[0] && self->marks != L3_PARSER_MARKS_REF)
        l3_warn("spool: %s: .info has no nonce; no marks will count", self->sid);
    return self;
fail:
    free(self);
    return NULL;
}

void l3_spool_session_destroy(l3_spool_session_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    l3_parser_destroy(&(*self_p)->parser);
    free(*self_p);
    *self_p = NULL;
}

bool l3_spool_session_done(l3_spool_session_t *self)
{
    return self->end_emitted;
}

const char *l3_spool_session_sid(l3_spool_session_t *self)
{
    return self->sid;
}

pid_t l3_spool_session_pid(l3_spool_session_t *self)
{
    return self->pid;
}

bool l3_spool_session_has_end(l3_spool_session_t *self)
{
    return self->has_end;
}

static void s_put_u64(l3_buf_t *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t) (v >> (8 * i));
    l3_buf_append(b, x, 8);
}

static bool s_get_u64(const uint8_t **p, size_t *len, uint64_t *v)
{
    if (*len < 8)
        return false;
    *v = 0;
    for (int i = 0; i < 8; i++)
        *v |= (uint64_t) (*p)[i] << (8 * i);
    *p += 8;
    *len -= 8;
    return true;
}

bool l3_spool_session_save(l3_spool_session_t *self, l3_buf_t *out)
{
    s_put_u64(out, SAVE_MAGIC);
    s_put_u64(out, SAVE_VERSION);
    s_put_u64(out, (uint64_t) self->base);
    s_put_u64(out, self->timing_off);
    s_put_u64(out, (uint64_t) self->line_time);
    s_put_u64(out, self->line_left);
    s_put_u64(out, (uint64_t) self->session_emitted | (uint64_t) self->end_emitted << 1);
    return l3_parser_save(self->parser, out) && !out->failed;
}

bool l3_spool_session_load(l3_spool_session_t *self, const void *blob, size_t len)
{
    const uint8_t *p = blob;
    uint64_t magic, version, base, toff, ltime, left, bits;
    if (!s_get_u64(&p, &len, &magic) || magic != SAVE_MAGIC || !s_get_u64(&p, &len, &version)
        || version != SAVE_VERSION || !s_get_u64(&p, &len, &base)
        || ((int64_t) base < -1 || (int64_t) base > 4096) || !s_get_u64(&p, &len, &toff)
        || !s_get_u64(&p, &len, &ltime) || !s_get_u64(&p, &len, &left)
        || !s_get_u64(&p, &len, &bits) || bits > 3 || !l3_parser_load(self->parser, p, len)) {
        l3_warn("spool: %s: resume point malformed; parsing from the start", self->sid);
        l3_parser_load(self->parser, NULL, 0);
        self->base = -1;
        self->timing_off = 0;
        self->line_time = self->start_us;
        self->line_left = 0;
        self->session_emitted = self->end_emitted = false;
        return false;
    }
    self->base = (int64_t) base;
    self->timing_off = toff;
    self->line_time = (int64_t) ltime;
    self->line_left = left;
    self->session_emitted = bits & 1;
    self->end_emitted = (bits >> 1) & 1;
    return true;
}

void l3_spool_session_cleanup(l3_spool_session_t *self)
{
    for (int i = 0; i < self->edit_pending_n; i++) {
        char path[PATH_MAX + 256];
        static const char *suffix[] = {"before", "after"};
        for (int k = 0; k < 2; k++) {
            snprintf(path, sizeof(path), "%s/%s.edit.%s.%s", self->dir, self->sid,
                     self->edit_pending[i], suffix[k]);
            if (unlink(path) != 0 && errno != ENOENT)
                l3_warn("spool: cannot remove %s: %s", path, strerror(errno));
        }
    }
    self->edit_pending_n = 0;
}
