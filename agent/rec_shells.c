/*  rec_shells — nonces for shells started inside the session; see rec_shells.h. */
#include "rec_shells.h"

#include "l3_sha256.h"
#include "l3_time.h"
#include "rec_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define S_LINE_MAX 16 /* "<pid>\n": a pid has at most 10 digits */

/* Every nonce given has its number in the script filter, after the session shell's. */
_Static_assert(REC_SHELLS_NONCES_MAX + 1 <= REC_FILTER_NONCES_MAX,
               "the script filter holds every nonce of a session");

typedef enum {
    S_FREE = 0,
    S_READING, /* accepted, waiting for the request line */
    S_WAITING, /* valid, waiting for the ground state to write its mark */
} s_state_t;

typedef struct {
    s_state_t state;
    int fd;
    pid_t peer;
    int64_t deadline_us;
    char line[S_LINE_MAX];
    size_t len;
    pid_t shell;         /* the claimed shell, once valid */
    uint64_t starttime;  /* and its start time */
} s_conn_t;

typedef struct {
    pid_t pid;
    uint64_t starttime;
    uint64_t image;      /* the program image it had when registered (0: unknown) */
    bool image_pending;  /* l3-rec's own child, until it has exec'd its shell */
    unsigned depth;
    uint64_t serial;     /* registration order: the oldest goes first when full */
} s_shell_t;

struct rec_shells_t {
    int listen_fd;
    pid_t self_pid;
    bool started;
    rec_marks_t *marks;  /* borrowed */
    rec_spool_t *spool;  /* borrowed */
    rec_filter_script_t *script; /* borrowed: learns each nonce given */
    unsigned given;
    s_shell_t table[REC_SHELLS_TABLE_MAX];
    size_t shells;
    uint64_t serial;
    s_conn_t conns[REC_SHELLS_CONNS];
    int polled[REC_SHELLS_POLL_MAX]; /* what rec_shells_poll_fds put in fds: -1 = listener */
    uint64_t own_image;  /* ours: l3-rec's child has it until it execs */
    bool child_pending;  /* its image is still to be taken (rec_shells_output) */
    unsigned max_nonces; /* REC_SHELLS_NONCES_MAX, or less (rec_shells_set_max) */
    int npolled;
};

/* The abstract address of recorder `pid`; its length for bind/connect. */
static socklen_t s_address(pid_t pid, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    //  sun_path[0] stays NUL: the abstract namespace. The name is not NUL-terminated; its
    //  length is part of the address.
    int n = snprintf(sa->sun_path + 1, sizeof sa->sun_path - 1, REC_SHELLS_NAME, (int)pid);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static bool s_random(uint8_t *out, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(out + got, len - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return true;
}

rec_shells_t *rec_shells_new(void)
{
    struct sockaddr_un sa;
    rec_shells_t *self = calloc(1, sizeof *self);
    if (self)
        self->max_nonces = REC_SHELLS_NONCES_MAX;
    if (!self)
        return NULL;
    self->self_pid = getpid();
    for (int i = 0; i < REC_SHELLS_CONNS; i++)
        self->conns[i].fd = -1;
    self->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (self->listen_fd < 0)
        goto fail;
    socklen_t len = s_address(self->self_pid, &sa);
    if (bind(self->listen_fd, (struct sockaddr *)&sa, len) < 0 ||
        listen(self->listen_fd, 16) < 0)
        goto fail;
    return self;

fail: {
    int saved = errno;
    rec_shells_destroy(&self);
    errno = saved;
    return NULL;
}
}

static void s_conn_close(s_conn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->state = S_FREE;
}

void rec_shells_destroy(rec_shells_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rec_shells_t *self = *self_p;
    for (int i = 0; i < REC_SHELLS_CONNS; i++)
        s_conn_close(&self->conns[i]);
    if (self->listen_fd >= 0)
        close(self->listen_fd);
    explicit_bzero(self, sizeof *self);
    free(self);
    *self_p = NULL;
}

void rec_shells_set_max(rec_shells_t *self, unsigned max_nonces)
{
    if (self && max_nonces < REC_SHELLS_NONCES_MAX)
        self->max_nonces = max_nonces;
}

/* Remember shell `pid` (started at `starttime`) at `depth`. */
static void s_register(rec_shells_t *self, pid_t pid, uint64_t starttime, uint64_t image,
                       unsigned depth)
{
    size_t at = self->shells;
    for (size_t i = 0; i < self->shells; i++)
        if (self->table[i].pid == pid)
            at = i; /* the same process after exec, or a stale entry of a reused pid */
    if (at == REC_SHELLS_TABLE_MAX) {
        //  Full: drop the shells that are gone, then, if need be, the oldest.
        size_t kept = 0;
        for (size_t i = 0; i < self->shells; i++)
            if (rec_proc_alive(self->table[i].pid, self->table[i].starttime))
                self->table[kept++] = self->table[i];
        self->shells = kept;
        at = kept;
        if (at == REC_SHELLS_TABLE_MAX) {
            at = 0;
            for (size_t i = 1; i < self->shells; i++)
                if (self->table[i].serial < self->table[at].serial)
                    at = i;
        }
    }
    if (at == self->shells)
        self->shells++;
    self->table[at] = (s_shell_t){ .pid = pid, .starttime = starttime, .image = image,
                                   .depth = depth,
                                   .serial = ++self->serial };
}

static const s_shell_t *s_lookup(const rec_shells_t *self, pid_t pid, uint64_t starttime)
{
    for (size_t i = 0; i < self->shells; i++)
        if (self->table[i].pid == pid && self->table[i].starttime == starttime)
            return &self->table[i];
    return NULL;
}

/* The depth of shell S (rec_shells.h): its own after exec, else one below its nearest
   registered living ancestor, else 1. */
static unsigned s_depth(const rec_shells_t *self, const rec_proc_t *shell)
{
    const s_shell_t *known = s_lookup(self, shell->pid, shell->starttime);
    if (known)
        return known->depth;
    pid_t pid = shell->ppid;
    rec_proc_t p;
    for (int step = 0; step < REC_PROC_WALK_MAX && pid > 1; step++) {
        if (!rec_proc_read(pid, &p))
            break;
        //  Read now, so a registered pid that another process took over does not match.
        known = s_lookup(self, pid, p.starttime);
        if (known)
            return known->depth < REC_SHELLS_DEPTH_MAX ? known->depth + 1 : REC_SHELLS_DEPTH_MAX;
        if (pid == self->self_pid)
            break;
        pid = p.ppid;
    }
    return 1;
}

void rec_shells_start(rec_shells_t *self, pid_t shell, rec_marks_t *marks,
                      rec_spool_t *spool, rec_filter_script_t *script)
{
    rec_proc_t p;
    if (!self)
        return;
    self->marks = marks;
    self->spool = spool;
    self->script = script;
    self->started = marks && spool && script;
    if (rec_proc_read(shell, &p)) {
        //  Forked, maybe not exec'd yet: its image is taken at its first output.
        s_register(self, shell, p.starttime, 0, 0);
        rec_proc_t me;
        self->table[self->shells - 1].image_pending = true;
        self->child_pending = true;
        self->own_image = rec_proc_read(self->self_pid, &me) ? me.image : 0;
    }
}

/* The image of l3-rec's own shell, taken at its first output: a process that has written
   to the terminal runs in user space, so its execve is complete. Polling /proc before
   that can catch the exec half done (on Linux 6.x start_stack and arg_start are set
   before the code is mapped, then start_stack moves): that image would differ from the
   final one, and a command asking in the shell's name would look like an exec and be
   granted a nonce. Until then, and if the image is still not final, the shell is refused. */
void rec_shells_output(rec_shells_t *self)
{
    //  Called at every chunk of output: one flag until the first.
    if (!self || !self->child_pending)
        return;
    self->child_pending = false;
    for (size_t i = 0; self->started && i < self->shells; i++) {
        s_shell_t *s = &self->table[i];
        rec_proc_t p;
        if (!s->image_pending)
            continue;
        //  Once: gone, hidden from us or still our image (its exec failed), the entry
        //  stays without an image and requests in its name are refused.
        s->image_pending = false;
        if (rec_proc_read(s->pid, &p) && p.starttime == s->starttime && p.image &&
            p.image != self->own_image)
            s->image = p.image;
    }
}

int rec_shells_poll_fds(rec_shells_t *self, struct pollfd *fds, int max)
{
    int n = 0;
    bool free_slot = false;
    if (!self)
        return 0;
    self->npolled = 0;
    if (!self->started)
        return 0;
    for (int i = 0; i < REC_SHELLS_CONNS && n < max; i++) {
        if (self->conns[i].state == S_FREE)
            free_slot = true;
        else if (self->conns[i].state == S_READING) {
            fds[n] = (struct pollfd){ .fd = self->conns[i].fd, .events = POLLIN };
            self->polled[n++] = i;
        }
    }
    //  With every slot taken, new connections wait in the listen backlog.
    if (free_slot && n < max) {
        fds[n] = (struct pollfd){ .fd = self->listen_fd, .events = POLLIN };
        self->polled[n++] = -1;
    }
    self->npolled = n;
    return n;
}

int rec_shells_timeout_ms(const rec_shells_t *self, int64_t now_us)
{
    int64_t first = -1;
    if (!self)
        return -1;
    for (int i = 0; i < REC_SHELLS_CONNS; i++) {
        const s_conn_t *c = &self->conns[i];
        if (c->state != S_FREE && (first < 0 || c->deadline_us < first))
            first = c->deadline_us;
    }
    if (first < 0)
        return -1;
    if (first <= now_us)
        return 0;
    return (int)((first - now_us + 999) / 1000);
}

/* Accept what waits in the backlog, as long as slots are free. A peer outside the
   session is refused at once: it gets no slot to hold. */
static void s_accept(rec_shells_t *self, int64_t now_us)
{
    //  Bounded, so that a flood of connections from outside cannot hold the loop here.
    for (int tries = 0; tries < 4 * REC_SHELLS_CONNS; tries++) {
        s_conn_t *c = NULL;
        for (int i = 0; i < REC_SHELLS_CONNS && !c; i++)
            if (self->conns[i].state == S_FREE)
                c = &self->conns[i];
        if (!c)
            return;
        int fd = accept4(self->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN: the backlog is empty (anything else: try at the next poll) */
        struct ucred cred;
        socklen_t len = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid <= 0 ||
            !rec_proc_has_ancestor(cred.pid, self->self_pid, false)) {
            close(fd);
            continue;
        }
        c->state = S_READING;
        c->fd = fd;
        c->peer = cred.pid;
        c->len = 0;
        c->deadline_us = now_us + REC_SHELLS_READ_MS * 1000;
    }
}

/* "<pid>\n" and nothing else: 1 to 10 digits, no sign, no leading zero, at most INT32_MAX. */
static pid_t s_parse_pid(const char *line, size_t len)
{
    if (len < 2 || len > 11 || line[len - 1] != '\n' || line[0] == '0')
        return 0;
    long long v = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (line[i] < '0' || line[i] > '9')
            return 0;
        v = v * 10 + (line[i] - '0');
    }
    return v > 0 && v <= INT32_MAX ? (pid_t)v : 0;
}

/* The request line is complete: is the claimed shell one we give a nonce to? */
static bool s_validate(rec_shells_t *self, s_conn_t *c)
{
    rec_proc_t shell;
    pid_t pid = s_parse_pid(c->line, c->len);
    if (!pid || self->given >= self->max_nonces)
        return false;
    //  The peer itself or its ancestor: the hook asks from a subshell or a process
    //  substitution of the shell, and names the shell by $$.
    if (!rec_proc_has_ancestor(c->peer, pid, true))
        return false;
    if (!rec_proc_read(pid, &shell))
        return false;
    if (strcmp(shell.comm, "bash") != 0 && strcmp(shell.comm, "zsh") != 0 &&
        strcmp(shell.comm, "fish") != 0)
        return false;
    //  Inside this session: the peer's ancestry may say so for a shell above us too.
    if (!rec_proc_has_ancestor(pid, self->self_pid, false))
        return false;
    //  A shell that has a nonce asks again only after exec (rec_shells.h).
    const s_shell_t *known = s_lookup(self, pid, shell.starttime);
    if (known && (known->image_pending || !known->image || !shell.image ||
                  shell.image == known->image))
        return false;
    c->shell = pid;
    c->starttime = shell.starttime;
    return true;
}

static void s_read_request(rec_shells_t *self, s_conn_t *c, int64_t now_us)
{
    ssize_t n = read(c->fd, c->line + c->len, sizeof c->line - c->len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        s_conn_close(c); /* gone before a whole line */
        return;
    }
    c->len += (size_t)n;
    if (!memchr(c->line, '\n', c->len)) {
        if (c->len == sizeof c->line)
            s_conn_close(c); /* too long to be a pid */
        return;
    }
    if (!s_validate(self, c)) {
        s_conn_close(c);
        return;
    }
    c->state = S_WAITING;
    c->deadline_us = now_us + REC_SHELLS_GROUND_MS * 1000;
}

/* Give the nonce: register the shell, write its mark into .script, then reply. */
static void s_answer(rec_shells_t *self, s_conn_t *c, int64_t now_us)
{
    rec_proc_t shell;
    uint8_t raw[REC_SHELLS_NONCE_HEX / 2], digest[L3_SHA256_LEN];
    char reply[REC_SHELLS_NONCE_HEX + 2], hash[2 * L3_SHA256_LEN + 1];
    char mark[REC_MARKS_TEXT_MAX];
    size_t mark_len = 0;

    //  Still the process that was validated (it may have died while the mark waited).
    if (!rec_proc_read(c->shell, &shell) || shell.starttime != c->starttime)
        goto cleanup;
    unsigned depth = s_depth(self, &shell);
    if (!s_random(raw, sizeof raw))
        goto cleanup;
    l3_hex(raw, sizeof raw, reply);
    l3_sha256(reply, REC_SHELLS_NONCE_HEX, digest);
    l3_hex(digest, sizeof digest, hash);
    //  The mark and the filter's number go together: the parser numbers the shells by
    //  their marks, the filter by the nonces it learnt. Neither may happen alone.
    if (rec_filter_script_full(self->script))
        goto cleanup;
    mark_len = rec_marks_shell(self->marks, hash, depth, mark);
    if (mark_len == 0)
        goto cleanup; /* the chain is used up: a nonce the parser cannot know is useless */
    rec_spool_write(self->spool, (const uint8_t *)mark, mark_len, now_us);
    self->given++;
    //  From now on its marks go into .script as "=<given>" (the session shell's is "=0").
    (void)rec_filter_script_add(self->script, reply);
    s_register(self, shell.pid, shell.starttime, shell.image, depth);
    reply[REC_SHELLS_NONCE_HEX] = '\n';
    //  A fresh socket's buffer takes 33 bytes at once; a short write leaves the client
    //  with a reply it rejects.
    if (send(c->fd, reply, REC_SHELLS_NONCE_HEX + 1, MSG_NOSIGNAL) < 0) {
        //  Nothing to do: the client gets no nonce and says so.
    }

cleanup:
    explicit_bzero(raw, sizeof raw);
    explicit_bzero(reply, sizeof reply);
    explicit_bzero(digest, sizeof digest);
    s_conn_close(c);
}

void rec_shells_handle(rec_shells_t *self, const struct pollfd *fds, int n, int64_t now_us)
{
    if (!self || !self->started)
        return;
    for (int k = 0; k < n && k < self->npolled; k++) {
        if (!fds[k].revents)
            continue;
        if (self->polled[k] < 0)
            s_accept(self, now_us);
        else {
            s_conn_t *c = &self->conns[self->polled[k]];
            if (c->state == S_READING && c->fd == fds[k].fd)
                s_read_request(self, c, now_us);
        }
    }
    if (n > 0)
        self->npolled = 0; /* the indexes are spent */
    bool ground = rec_marks_at_ground(self->marks);
    for (int i = 0; i < REC_SHELLS_CONNS; i++) {
        s_conn_t *c = &self->conns[i];
        if (c->state == S_READING && now_us >= c->deadline_us)
            s_conn_close(c);
        else if (c->state == S_WAITING && (ground || now_us >= c->deadline_us)) {
            s_answer(self, c, now_us);
            ground = rec_marks_at_ground(self->marks);
        }
    }
}

unsigned rec_shells_given(const rec_shells_t *self)
{
    return self ? self->given : 0;
}

unsigned rec_shells_waiting(const rec_shells_t *self)
{
    unsigned n = 0;
    for (int i = 0; self && i < REC_SHELLS_CONNS; i++)
        n += self->conns[i].state == S_WAITING;
    return n;
}

/* Client side. */

/* Wait until fd is ready for events or the deadline; false at the deadline. */
static bool s_wait(int fd, short events, int64_t deadline_us)
{
    for (;;) {
        int64_t left = deadline_us - l3_time_mono_us();
        if (left <= 0)
            return false;
        struct pollfd p = { .fd = fd, .events = events };
        int r = poll(&p, 1, (int)((left + 999) / 1000));
        if (r > 0)
            return true;
        if (r < 0 && errno != EINTR)
            return false;
    }
}

bool rec_shells_request(pid_t recorder, pid_t shell, char nonce[REC_SHELLS_NONCE_HEX + 1],
                        char *why, size_t why_size)
{
    struct sockaddr_un sa;
    char line[S_LINE_MAX], reply[REC_SHELLS_NONCE_HEX + 2];
    size_t got = 0;
    bool ok = false;
    int fd = -1;
    int64_t deadline = l3_time_mono_us() + REC_SHELLS_REPLY_MS * 1000;

    why[0] = '\0';
    nonce[0] = '\0';
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, why_size, "socket: %s", strerror(errno));
        goto cleanup;
    }
    //  A unix stream connect completes at once, or waits for room in a full backlog (many
    //  shells starting together) for the send timeout; then the socket is non-blocking.
    struct timeval tv = { .tv_sec = REC_SHELLS_REPLY_MS / 1000,
                          .tv_usec = (REC_SHELLS_REPLY_MS % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    socklen_t len = s_address(recorder, &sa);
    if (connect(fd, (struct sockaddr *)&sa, len) < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        snprintf(why, why_size, "cannot reach the recorder (pid %d): %s", (int)recorder,
                 strerror(errno));
        goto cleanup;
    }
    struct ucred cred;
    socklen_t cred_len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) < 0 ||
        cred.pid != recorder) {
        snprintf(why, why_size, "the socket of recorder %d is held by another process",
                 (int)recorder);
        goto cleanup;
    }
    int n = snprintf(line, sizeof line, "%d\n", (int)shell);
    //  An empty socket buffer takes a dozen bytes at once. No SIGPIPE when the recorder
    //  has already closed (it refuses some peers before reading): a message instead.
    if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
        snprintf(why, why_size, "cannot send the request: %s", strerror(errno));
        goto cleanup;
    }
    //  Read to the end: the reply is the whole stream, so anything longer is wrong.
    for (;;) {
        ssize_t r = read(fd, reply + got, sizeof reply - got);
        if (r > 0) {
            got += (size_t)r;
            if (got == sizeof reply)
                break; /* one byte more than a reply: wrong */
            continue;
        }
        if (r == 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN || !s_wait(fd, POLLIN, deadline)) {
            snprintf(why, why_size, "no reply from the recorder");
            goto cleanup;
        }
    }
    if (got == 0) {
        snprintf(why, why_size, "refused by the recorder (pid %d not a shell of this session)",
                 (int)shell);
        goto cleanup;
    }
    if (got != REC_SHELLS_NONCE_HEX + 1 || reply[REC_SHELLS_NONCE_HEX] != '\n' ||
        strspn(reply, "0123456789abcdef") != REC_SHELLS_NONCE_HEX) {
        snprintf(why, why_size, "malformed reply from the recorder");
        goto cleanup;
    }
    memcpy(nonce, reply, REC_SHELLS_NONCE_HEX);
    nonce[REC_SHELLS_NONCE_HEX] = '\0';
    ok = true;

cleanup:
    explicit_bzero(reply, sizeof reply);
    if (fd >= 0)
        close(fd);
    return ok;
}
