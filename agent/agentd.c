/*  agentd — the l3-agent daemon loop. See agentd.h.

    State kept in memory:
      sessions  script path → open session (spool reader + flags)
      done      script paths of sessions whose end record is stored: never read again
      seen      "user\x1fsid\x1ftype\x1fnr" of records appended to the outbox whose
                session's resume point is not yet past them (see s_commit)
      watches   inotify watch descriptor → directory

    One round of the loop: wait for inotify events, the sender's sockets or a timer; poll
    the sessions whose files changed (or all of them at each rescan); append their records
    to the outbox; sync it once; write the resume points; then let the sender send. */
#include "agentd.h"
#include "l3_daemon.h"
#include "l3_fs.h"
#include "l3_log.h"
#include "l3_msg.h"
#include "l3_service.h"
#include "l3_time.h"
#include "outbox.h"
#include "sender.h"
#include "spool.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define WATCH_MAX 4096
#define SPOOL_DIRS_MAX 64
#define CKPT_MAX (8u << 20) /* a resume point: parser state with a capped command in it */

typedef struct {
    l3_spool_session_t *spool;
    char script[PATH_MAX];
    char ckpt[PATH_MAX + 128];
    char user[L3_NAME_MAX + 1]; /* the owner's name, as the records carry it */
    bool dirty;
    bool polled;         /* polled in this round: its resume point is due */
    bool append_failed;  /* an append failed in this round: no resume point, reopen */
    bool abandon;        /* the recorder is gone: end it in this round */
    bool gone;           /* the script file was deleted: close it after this round */
    int64_t abandon_us;
} sess_t;

typedef struct {
    int wd;
    char path[PATH_MAX];
} watch_t;

struct l3_agentd_t {
    l3_config_t *config;
    char host[L3_NAME_MAX + 1];
    char state_dir[PATH_MAX];
    char spool[SPOOL_DIRS_MAX][PATH_MAX];
    int nspool;
    size_t output_cap;
    int64_t scan_us, batch_us;
    outbox_t *box;
    sender_t *sender;
    int ino;
    watch_t watches[WATCH_MAX];
    int nwatch;
    zhash_t *sessions;
    zhash_t *done;
    zhash_t *seen;
    zhash_t *warned; /* paths we already logged a failure for */
    zhash_t *stale;  /* path → .info mtime of sessions whose .info is invalid for good */
    zhash_t *inodes; /* "dev:ino" of every session file followed or done: one file seen
                        through two spool paths (a symlink, overlapping entries) is one session */
    int64_t next_scan;
    int64_t dirty_since; /* 0 = nothing dirty */
    sess_t *current;     /* the session being polled (record callback context) */
    uint64_t records, skipped;
    uint64_t scans;
    bool polled_any; /* a session was polled in this round: s_commit has work */

    /* For the metrics (ack latency, age of the oldest unacknowledged record): the append
       time of this run's records not acknowledged yet, oldest first, in a ring of at most
       UNACKED_WATCH records (newer ones go unwatched while it is full). */
    struct {
        uint64_t seq;
        int64_t at; /* mono µs */
    } *unacked;
    size_t unacked_head, unacked_len;
    int64_t started, last_ack_at; /* mono µs; last_ack_at 0: no ack yet */
    uint64_t acked_seen, ack_count;
    double ack_latency_sum, ack_latency_last;
};

#define UNACKED_WATCH 65536

/* ------------------------------------------------------------------------------------ */

static void s_key(char *buf, size_t size, const l3_record_t *rec)
{
    snprintf(buf, size, "%s\x1f%s\x1f%d\x1f%llu", rec->user, rec->sid, (int) rec->type,
             (unsigned long long) rec->nr);
}

/* Forget the seen keys of one session ("user\x1fsid\x1f" prefix). */
static void s_seen_purge(l3_agentd_t *self, const char *user, const char *sid)
{
    if (zhash_size(self->seen) == 0)
        return;
    char prefix[L3_NAME_MAX + L3_ID_MAX + 4];
    int plen = snprintf(prefix, sizeof(prefix), "%s\x1f%s\x1f", user, sid);
    zlist_t *keys = zhash_keys(self->seen);
    for (char *k = zlist_first(keys); k; k = zlist_next(keys))
        if (strncmp(k, prefix, (size_t) plen) == 0)
            zhash_delete(self->seen, k);
    zlist_destroy(&keys);
}

/* The records of the outbox not yet acknowledged: the only ones a restart can re-make. */
static bool s_seen_load(l3_agentd_t *self)
{
    outbox_iter_t *it = outbox_iter_new(self->box, outbox_acked_seq(self->box) + 1);
    if (!it)
        return false;
    uint64_t seq;
    const uint8_t *data;
    size_t len;
    int rc;
    while ((rc = outbox_iter_next(it, &seq, &data, &len)) == 1) {
        l3_msg_t msg;
        char err[128];
        if (!l3_msg_decode(data, len, &msg, err, sizeof(err)))
            continue;
        if (msg.kind == L3_MSG_RECORD) {
            char key[L3_NAME_MAX + L3_ID_MAX + 48];
            s_key(key, sizeof(key), &msg.record);
            zhash_insert(self->seen, key, "1");
        }
        l3_msg_clear(&msg);
    }
    outbox_iter_destroy(&it);
    l3_info("outbox: %zu unacknowledged records (skipped if parsed again)", zhash_size(self->seen));
    return rc == 0;
}

/* ------------------------------------------------------------------------------------ */
/* Records into the outbox                                                               */

static void s_on_record(void *arg, l3_record_t *rec)
{
    l3_agentd_t *self = arg;
    sess_t *s = self->current;
    if (s->append_failed)
        return; /* keep the order: nothing after a failed record in this round */
    char key[L3_NAME_MAX + L3_ID_MAX + 48];
    s_key(key, sizeof(key), rec);
    if (zhash_lookup(self->seen, key)) {
        l3_debug("%s: record %s %llu already in the outbox; skipped", rec->sid,
                 l3_record_type_name(rec->type), (unsigned long long) rec->nr);
        self->skipped++;
        return;
    }
    uint64_t seq = 0;
    if (!outbox_append(self->box, rec, &seq)) {
        //  Outbox full or failing: this session gets no resume point this round and is
        //  reopened from its last one later; the records appended before this one are in
        //  `seen`, so they are not appended twice.
        s->append_failed = true;
        return;
    }
    zhash_insert(self->seen, key, "1");
    self->records++;
    if (self->unacked && self->unacked_len < UNACKED_WATCH) {
        size_t at = (self->unacked_head + self->unacked_len++) % UNACKED_WATCH;
        self->unacked[at].seq = seq;
        self->unacked[at].at = l3_time_mono_us();
    }
}

/* Acks that arrived in this round: each watched record they cover gives one latency. */
static void s_acks_seen(l3_agentd_t *self)
{
    uint64_t acked = outbox_acked_seq(self->box);
    if (acked == self->acked_seen)
        return;
    int64_t now = l3_time_mono_us();
    self->acked_seen = acked;
    self->last_ack_at = now;
    while (self->unacked_len && self->unacked[self->unacked_head].seq <= acked) {
        double latency = (double) (now - self->unacked[self->unacked_head].at) / 1e6;
        self->ack_latency_sum += latency;
        self->ack_latency_last = latency;
        self->ack_count++;
        self->unacked_head = (self->unacked_head + 1) % UNACKED_WATCH;
        self->unacked_len--;
    }
}

static bool s_write_file(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int) sizeof(tmp))
        return false;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return false;
    const uint8_t *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            unlink(tmp);
            return false;
        }
        p += n;
        len -= (size_t) n;
    }
    if (fdatasync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return false;
    }
    return true;
}

static void s_sess_destroy(void *item)
{
    sess_t *s = item;
    l3_spool_session_destroy(&s->spool);
    free(s);
}

/*  s_commit — make this round's records durable, then the resume points past them.

    Why this order gives every record exactly once, whatever instant kill -9 hits:
    1. Records are appended to the outbox (buffered), then outbox_sync() writes and
       fdatasyncs them. Nothing has been sent: the sender runs only after step 3.
    2. Each polled session's resume point ("parsed up to offset X in state S") is written
       to a temp file, fdatasynced and renamed over the old one; then the directory is
       fsynced.
    3. The sender may now send (and the writer acknowledge, and the outbox drop) them.
    A crash before 2 completes leaves the old resume point: the restart parses the same
    bytes again and — the parser being deterministic — makes the same records with the
    same (user, sid, type, nr). Those that reached the outbox's disk are still there
    unacknowledged (they were never sent, so never acked, so never dropped), and
    s_seen_load() found them at start-up: they are skipped. Those that did not reach the
    disk are appended now. A crash after 2 leaves the new resume point: those records are
    never made again. So no record is lost (the resume point never passes a record that
    is not synced) and none is doubled (a record re-made is one the outbox still has). */
static bool s_commit(l3_agentd_t *self)
{
    if (!self->polled_any)
        return true;
    self->polled_any = false;
    if (!outbox_sync(self->box)) {
        l3_error("outbox: sync failed; stopping");
        return false;
    }
    bool wrote = false;
    zlist_t *gone = zlist_new();
    l3_buf_t blob;
    l3_buf_init(&blob, CKPT_MAX);
    for (sess_t *s = zhash_first(self->sessions); s; s = zhash_next(self->sessions)) {
        if (!s->polled)
            continue;
        s->polled = false;
        if (s->append_failed) {
            zlist_append(gone, (void *) zhash_cursor(self->sessions));
            continue;
        }
        l3_buf_reset(&blob);
        if (!l3_spool_session_save(s->spool, &blob) || !s_write_file(s->ckpt, blob.data, blob.len)) {
            l3_error("%s: cannot write resume point %s: %s; will parse again", s->script,
                     s->ckpt, strerror(errno));
            zlist_append(gone, (void *) zhash_cursor(self->sessions));
            continue;
        }
        wrote = true;
        //  The edit copies and seen keys of records now behind the resume point.
        l3_spool_session_cleanup(s->spool);
        s_seen_purge(self, s->user, l3_spool_session_sid(s->spool));
        if (l3_spool_session_done(s->spool)) {
            zhash_insert(self->done, s->script, "1");
            zlist_append(gone, (void *) zhash_cursor(self->sessions));
        } else if (s->gone)
            zlist_append(gone, (void *) zhash_cursor(self->sessions));
    }
    if (wrote) {
        int dfd = open(self->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    for (char *path = zlist_first(gone); path; path = zlist_next(gone)) {
        char copy[PATH_MAX];
        snprintf(copy, sizeof(copy), "%s", path);
        zhash_delete(self->sessions, copy);
    }
    zlist_destroy(&gone);
    l3_buf_free(&blob);
    return true;
}

/* ------------------------------------------------------------------------------------ */
/* Sessions                                                                              */

static void s_poll(l3_agentd_t *self, sess_t *s)
{
    self->current = s;
    int n = s->abandon ? l3_spool_session_abandon(s->spool, s->abandon_us)
                       : l3_spool_session_poll(s->spool);
    self->current = NULL;
    s->dirty = false;
    s->abandon = false;
    s->polled = true;
    self->polled_any = true;
    if (n > 0)
        l3_debug("%s: %d records", s->script, n);
    if (n < 0 && access(s->script, F_OK) != 0 && errno == ENOENT) {
        //  Deleted (spool cleanup): forget it. Its records so far are stored; a file that
        //  comes back under the same name resumes from the resume point.
        l3_info("%s is gone; no longer followed", s->script);
        s->gone = true;
    }
}

/* The modification time of the .info of a .script path, as text; false if it has none. */
static bool s_info_mtime(const char *script, char *buf, size_t size)
{
    char info[PATH_MAX];
    size_t n = strlen(script);
    struct stat st;
    if (n < 7 || snprintf(info, sizeof(info), "%.*s.info", (int) (n - 7), script) >= (int) sizeof(info)
        || lstat(info, &st) != 0)
        return false;
    snprintf(buf, size, "%lld.%09ld", (long long) st.st_mtim.tv_sec, (long) st.st_mtim.tv_nsec);
    return true;
}

/* A session skipped for its invalid .info whose .info has not changed since. */
static bool s_info_stale(l3_agentd_t *self, const char *path)
{
    const char *was = zhash_lookup(self->stale, path);
    char now[64];
    return was && s_info_mtime(path, now, sizeof(now)) && !strcmp(was, now);
}

/* Open the session of a .script path (resuming from its checkpoint). */
static sess_t *s_open(l3_agentd_t *self, const char *path)
{
    struct stat st, dst;
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return NULL;
    //  The owner names the user, so the owner must really be the one who wrote it: no
    //  hard link (another user's file linked into one's own spool), and in a per-user
    //  directory only that user's files.
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    bool sticky_root = slash && stat(dir, &dst) == 0 && dst.st_uid == 0 && (dst.st_mode & S_ISVTX);
    if (st.st_nlink != 1 || (slash && !sticky_root && stat(dir, &dst) == 0 && dst.st_uid != st.st_uid
                             && dst.st_uid != 0)) {
        if (!zhash_lookup(self->warned, path)) {
            l3_warn("%s: hard-linked or not owned by its directory's owner; ignored", path);
            zhash_insert(self->warned, path, "1");
        }
        return NULL;
    }
    char ino[64];
    snprintf(ino, sizeof(ino), "%llu:%llu", (unsigned long long) st.st_dev,
             (unsigned long long) st.st_ino);
    const char *other = zhash_lookup(self->inodes, ino);
    if (other && strcmp(other, path) != 0)
        return NULL; /* the same file under another name, followed there */
    l3_spool_opts_t opts = {.output_cap = self->output_cap,
                            .host = self->host,
                            .on_record = s_on_record,
                            .arg = self};
    l3_spool_session_t *sp = l3_spool_session_new(path, &opts);
    if (!sp) {
        int err = errno;
        char mtime[64];
        if (err == EAGAIN)
            return NULL; /* .info is being written: no warning, retried at every scan */
        if (err == ENODATA && s_info_mtime(path, mtime, sizeof(mtime))) {
            //  It will not become valid by itself (warned): retried once .info changes.
            char *copy = strdup(mtime);
            if (copy) {
                zhash_update(self->stale, path, copy);
                zhash_freefn(self->stale, path, free);
            }
        }
        //  Usually the .info is not there yet; said once, retried at every tenth scan.
        if (!zhash_lookup(self->warned, path))
            zhash_insert(self->warned, path, "1");
        return NULL;
    }
    zhash_delete(self->warned, path);
    zhash_delete(self->stale, path);
    if (!other) {
        char *copy = strdup(path);
        if (copy && zhash_insert(self->inodes, ino, copy) == 0)
            zhash_freefn(self->inodes, ino, free);
        else
            free(copy);
    }
    sess_t *s = calloc(1, sizeof(*s));
    if (!s) {
        l3_spool_session_destroy(&sp);
        return NULL;
    }
    s->spool = sp;
    snprintf(s->script, sizeof(s->script), "%s", path);
    l3_spool_user_name(st.st_uid, s->user, sizeof(s->user));
    //  Checkpoints are named by owner and sid: two users cannot collide with one name.
    snprintf(s->ckpt, sizeof(s->ckpt), "%s/%u-%s.ckpt", self->state_dir, (unsigned) st.st_uid,
             l3_spool_session_sid(sp));
    l3_buf_t blob;
    l3_buf_init(&blob, CKPT_MAX);
    if (l3_spool_read_file(s->ckpt, geteuid(), CKPT_MAX, &blob))
        l3_spool_session_load(sp, blob.data, blob.len);
    l3_buf_free(&blob);
    if (l3_spool_session_done(sp)) {
        zhash_insert(self->done, path, "1");
        char user[L3_NAME_MAX + 1];
        l3_spool_user_name(st.st_uid, user, sizeof(user));
        s_seen_purge(self, user, l3_spool_session_sid(sp));
        s_sess_destroy(s);
        return NULL;
    }
    zhash_insert(self->sessions, path, s);
    zhash_freefn(self->sessions, path, s_sess_destroy);
    l3_info("following %s", path);
    return s;
}

/* Add an inotify watch on dir (once). */
static void s_watch(l3_agentd_t *self, const char *dir)
{
    for (int i = 0; i < self->nwatch; i++)
        if (strcmp(self->watches[i].path, dir) == 0)
            return;
    if (self->nwatch == WATCH_MAX || self->ino < 0)
        return;
    int wd = inotify_add_watch(self->ino, dir,
                               IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR);
    if (wd < 0) {
        l3_warn("cannot watch %s: %s (rescans every %lld ms still see it)", dir, strerror(errno),
                (long long) (self->scan_us / 1000));
        return;
    }
    self->watches[self->nwatch].wd = wd;
    snprintf(self->watches[self->nwatch].path, PATH_MAX, "%s", dir);
    self->nwatch++;
}

/* A directory: open every .script in it not yet followed or done; subdirectories of a
   configured spool directory (per-user spools under /var/spool/lilalo) too. */
static void s_scan_dir(l3_agentd_t *self, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (!zhash_lookup(self->warned, dir)) {
            l3_warn("cannot read spool directory %s: %s", dir, strerror(errno));
            zhash_insert(self->warned, dir, "1");
        }
        return;
    }
    zhash_delete(self->warned, dir);
    s_watch(self, dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int) sizeof(path))
            continue;
        size_t n = strlen(e->d_name);
        if (n > 7 && strcmp(e->d_name + n - 7, ".script") == 0) {
            //  A session that failed to open is retried when one of its files changes
            //  (inotify clears `warned`) or at every tenth scan, not at every scan.
            if (!zhash_lookup(self->done, path) && !zhash_lookup(self->sessions, path)
                && (!zhash_lookup(self->warned, path) || self->scans % 10 == 0)
                && !s_info_stale(self, path))
                s_open(self, path);
        } else if (depth == 0 && (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN)) {
            struct stat st;
            //  Our own directories may sit in the spool tree (a config can put the outbox
            //  or the state there): they are no user's spool.
            if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && strcmp(path, self->state_dir)
                && strcmp(path, outbox_dir(self->box)))
                s_scan_dir(self, path, depth + 1);
        }
    }
    closedir(d);
}

/* Latest modification time of the session's files: when a dead recorder last wrote. */
static int64_t s_last_write(const char *script)
{
    int64_t t = 0;
    char path[PATH_MAX];
    size_t n = strlen(script) - 7;
    const char *ext[] = {".script", ".timing", ".info"};
    for (int i = 0; i < 3; i++) {
        struct stat st;
        snprintf(path, sizeof(path), "%.*s%s", (int) n, script, ext[i]);
        if (stat(path, &st) == 0) {
            int64_t m = (int64_t) st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000;
            if (m > t)
                t = m;
        }
    }
    return t ? t : l3_time_now_us();
}

static void s_scan(l3_agentd_t *self)
{
    self->scans++;
    for (int i = 0; i < self->nspool; i++)
        s_scan_dir(self, self->spool[i], 0);
    //  Every open session is polled at a rescan (inotify may have missed something), and
    //  those whose recorder is gone without an end line are ended abnormally.
    for (sess_t *s = zhash_first(self->sessions); s; s = zhash_next(self->sessions)) {
        pid_t pid = l3_spool_session_pid(s->spool);
        if (!l3_spool_session_has_end(s->spool) && pid > 0 && kill(pid, 0) != 0
            && errno == ESRCH) {
            s->abandon = true;
            s->abandon_us = s_last_write(s->script);
            l3_warn("%s: recorder %d is gone without an end line; ending the session", s->script,
                    (int) pid);
        }
        s_poll(self, s);
    }
}

static void s_poll_dirty(l3_agentd_t *self)
{
    for (sess_t *s = zhash_first(self->sessions); s; s = zhash_next(self->sessions))
        if (s->dirty)
            s_poll(self, s);
    self->dirty_since = 0;
}

static void s_read_inotify(l3_agentd_t *self)
{
    char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(self->ino, buf, sizeof(buf));
        if (n <= 0)
            return;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *) p;
            p += sizeof(*ev) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                self->next_scan = 0;
                continue;
            }
            if (!ev->len)
                continue;
            const char *dir = NULL;
            for (int i = 0; i < self->nwatch; i++)
                if (self->watches[i].wd == ev->wd)
                    dir = self->watches[i].path;
            if (!dir)
                continue;
            size_t len = strnlen(ev->name, ev->len);
            const char *dot = memrchr(ev->name, '.', len);
            if (ev->mask & IN_ISDIR) {
                self->next_scan = 0; /* a new per-user directory */
                continue;
            }
            //  Only a session's own files matter (not editor copies, not whatever else
            //  shares the directory, such as an outbox under /var/spool/lilalo).
            if (!dot || (strcmp(dot, ".script") && strcmp(dot, ".timing") && strcmp(dot, ".info")))
                continue;
            char path[PATH_MAX];
            if (snprintf(path, sizeof(path), "%s/%.*s.script", dir, (int) (dot - ev->name),
                         ev->name)
                >= (int) sizeof(path))
                continue;
            sess_t *s = zhash_lookup(self->sessions, path);
            if (s) {
                s->dirty = true;
                if (!self->dirty_since)
                    self->dirty_since = l3_time_mono_us();
            } else if (!zhash_lookup(self->done, path)) {
                zhash_delete(self->warned, path);
                self->next_scan = 0; /* a new session (or its .info arrived): open it now */
            }
        }
    }
}

/* ------------------------------------------------------------------------------------ */

bool l3_agentd_step(l3_agentd_t *self, long timeout_ms)
{
    zmq_pollitem_t items[SENDER_POLL_MAX + 1];
    int n = self->sender ? sender_poll_items(self->sender, items, SENDER_POLL_MAX) : 0;
    items[n] = (zmq_pollitem_t){NULL, self->ino, ZMQ_POLLIN, 0};
    int nitems = n + (self->ino >= 0 ? 1 : 0);
    int64_t now = l3_time_mono_us();
    int64_t wait = timeout_ms;
    int64_t until_scan = (self->next_scan - now) / 1000;
    if (until_scan < wait)
        wait = until_scan;
    if (self->dirty_since) {
        int64_t until_dirty = (self->dirty_since + self->batch_us - now) / 1000;
        if (until_dirty < wait)
            wait = until_dirty;
    }
    if (self->sender) {
        long st = sender_timeout_ms(self->sender);
        if (st >= 0 && st < wait)
            wait = st;
    }
    if (wait < 0)
        wait = 0;
    int rc = zmq_poll(items, nitems, (long) wait);
    if (rc < 0 && errno != EINTR) {
        l3_error("poll: %s", zmq_strerror(errno));
        return false;
    }
    if (rc > 0 && self->ino >= 0 && (items[n].revents & ZMQ_POLLIN))
        s_read_inotify(self);
    now = l3_time_mono_us();
    if (now >= self->next_scan) {
        s_scan(self);
        self->next_scan = now + self->scan_us;
        self->dirty_since = 0;
    } else if (self->dirty_since && now >= self->dirty_since + self->batch_us)
        s_poll_dirty(self);
    if (!s_commit(self))
        return false;
    if (self->sender && !sender_handle(self->sender)) {
        l3_error("sender: outbox failure; stopping");
        return false;
    }
    s_acks_seen(self);
    return true;
}

bool l3_agentd_run(l3_agentd_t *self)
{
    l3_info("agent on %s: %d spool director%s, state %s", self->host, self->nspool,
            self->nspool == 1 ? "y" : "ies", self->state_dir);
    l3_service_ready("agent on %s: %d spool director%s", self->host, self->nspool,
                     self->nspool == 1 ? "y" : "ies");
    while (!l3_daemon_interrupted() && !zsys_interrupted) {
        if (!l3_agentd_step(self, l3_service_watchdog(1000)))
            return false;
    }
    l3_service_stopping();
    l3_info("stopping: %llu records appended, %llu skipped as already in the outbox",
            (unsigned long long) self->records, (unsigned long long) self->skipped);
    return true;
}

uint64_t l3_agentd_records(l3_agentd_t *self)
{
    return self->records;
}

uint64_t l3_agentd_skipped(l3_agentd_t *self)
{
    return self->skipped;
}

void l3_agentd_stats(l3_agentd_t *self, l3_agentd_stats_t *st)
{
    int64_t now = l3_time_mono_us();
    *st = (l3_agentd_stats_t){
        .records = self->records,
        .skipped = self->skipped,
        .backlog = outbox_pending(self->box),
        .outbox_bytes = outbox_disk_bytes(self->box),
        .last_ack_age = self->last_ack_at ? (double) (now - self->last_ack_at) / 1e6 : -1,
        .ack_count = self->ack_count,
        .ack_latency_sum = self->ack_latency_sum,
        .ack_latency_last = self->ack_latency_last,
        .sending = self->sender != NULL,
        .sessions = (int) zhash_size(self->sessions),
    };
    if (st->backlog) {
        //  The oldest watched record is the oldest unacknowledged one only when nothing
        //  older (appended before this start, or unwatched) is still waiting.
        bool front = self->unacked_len &&
                     self->unacked[self->unacked_head].seq == outbox_acked_seq(self->box) + 1;
        int64_t since = front ? self->unacked[self->unacked_head].at : self->started;
        st->oldest_unacked_age = (double) (now - since) / 1e6;
    }
    if (self->sender)
        sender_stats(self->sender, &st->sender);
}

l3_agentd_t *l3_agentd_new(l3_config_t *config)
{
    l3_agentd_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->config = config;
    self->ino = -1;
    self->sessions = zhash_new();
    self->started = l3_time_mono_us();
    self->unacked = malloc(UNACKED_WATCH * sizeof *self->unacked); /* NULL: none watched */
    self->done = zhash_new();
    self->seen = zhash_new();
    self->warned = zhash_new();
    self->stale = zhash_new();
    self->inodes = zhash_new();
    const char *host = l3_config_str(config, "agent/host", NULL);
    if (host)
        snprintf(self->host, sizeof(self->host), "%s", host);
    else if (gethostname(self->host, sizeof(self->host) - 1) != 0)
        snprintf(self->host, sizeof(self->host), "localhost");
    if (!l3_text_valid(self->host, L3_NAME_MAX) || !self->host[0]) {
        l3_error("agent/host '%s' is not a valid host name", self->host);
        goto fail;
    }
    self->output_cap = (size_t) l3_config_int(config, "agent/output_cap", 65536, 64,
                                              L3_OUTPUT_MAX);
    self->scan_us = l3_config_int(config, "agent/scan_ms", 2000, 10, 3600000) * 1000;
    self->batch_us = l3_config_int(config, "agent/batch_ms", 50, 0, 60000) * 1000;
    //  System-wide (root) defaults under /var; a per-user agent keeps its state in ~.
    char def_state[PATH_MAX] = "/var/lib/lilalo/agent", def_outbox[PATH_MAX] = "";
    char def_spool[PATH_MAX] = "/var/spool/lilalo";
    const char *home = getenv("HOME");
    if (geteuid() != 0 && home && home[0] == '/' && strlen(home) < PATH_MAX - 64) {
        snprintf(def_state, sizeof(def_state), "%s/.local/state/lilalo/agent", home);
        snprintf(def_outbox, sizeof(def_outbox), "%s/.local/state/lilalo/outbox", home);
        snprintf(def_spool, sizeof(def_spool), "%s/.local/share/lilalo/spool", home);
    }
    const char *state = l3_config_str(config, "agent/state", def_state);
    //  agent/outbox belongs to the outbox (agent/outbox.c, its default
    //  /var/lib/lilalo/outbox); only a per-user agent gets a default in its home here.
    const char *obox = l3_config_str(config, "agent/outbox", geteuid() != 0 ? def_outbox : NULL);
    snprintf(self->state_dir, sizeof(self->state_dir), "%s", state);
    if (!l3_mkdirs(self->state_dir, 0700)) {
        l3_error("cannot create state directory %s: %s", self->state_dir, strerror(errno));
        goto fail;
    }
    //  Spool directories: agent/spool, comma separated; else the recorder's default.
    const char *list = l3_config_str(config, "agent/spool", NULL);
    if (!list)
        list = l3_config_str(config, "rec/spool", def_spool);
    char *copy = strdup(list);
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok && self->nspool < SPOOL_DIRS_MAX;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        size_t n = strlen(tok);
        while (n && (tok[n - 1] == ' ' || tok[n - 1] == '\t' || tok[n - 1] == '/'))
            tok[--n] = 0;
        if (n && n < PATH_MAX)
            snprintf(self->spool[self->nspool++], PATH_MAX, "%s", tok);
    }
    free(copy);
    if (!self->nspool) {
        l3_error("agent/spool names no directory");
        goto fail;
    }
    char id[L3_ID_MAX + 1];
    if (!sender_agent_id(config, id, sizeof(id)))
        goto fail;
    outbox_opts_t oopts;
    outbox_opts_from_config(&oopts, config);
    if (obox ? !l3_mkdirs(obox, 0700) || !(self->box = outbox_open(obox, id, &oopts))
             : !(self->box = outbox_open_config(config, id)))
        goto fail;
    self->acked_seen = outbox_acked_seq(self->box);
    if (!s_seen_load(self))
        goto fail;
    if (l3_config_bool(config, "agent/send", true)) {
        self->sender = sender_new(config, self->box);
        if (!self->sender)
            goto fail;
    } else
        l3_info("agent/send is off: records stay in the outbox %s", obox);
    self->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (self->ino < 0)
        l3_warn("inotify: %s; falling back to rescans", strerror(errno));
    self->next_scan = 0;
    return self;
fail:
    l3_agentd_destroy(&self);
    return NULL;
}

void l3_agentd_destroy(l3_agentd_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    l3_agentd_t *self = *self_p;
    sender_destroy(&self->sender);
    outbox_destroy(&self->box);
    if (self->ino >= 0)
        close(self->ino);
    zhash_destroy(&self->sessions);
    free(self->unacked);
    zhash_destroy(&self->done);
    zhash_destroy(&self->seen);
    zhash_destroy(&self->warned);
    zhash_destroy(&self->stale);
    zhash_destroy(&self->inodes);
    free(self);
    *self_p = NULL;
}
