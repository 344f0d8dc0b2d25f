/*  access — who may ask l3-render for pages. See access.h for the policy and why. */
#include "access.h"
#include "l3_fs.h"
#include "l3_log.h"
#include "l3_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

/* A draft option in libzmq 4.3 (Debian builds it in): with it, a connection whose socket
   has a ZAP domain fails when no handler is bound, instead of going in unchecked. */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_FRAMES 6          /* version, request id, domain, address, identity, mechanism */
#define ZAP_FRAME_MAX 256     /* longer frames are not from libzmq: the request is refused */
#define NAME_MAX_LEN 64       /* an account or group name */
#define SOCKET_DIR_MODE 0750
#define SOCKET_FILE_MODE 0660

struct access_t {
    void *zap;         /* REP on ZAP_ENDPOINT; the handler thread's once it runs */
    int term_pipe[2];  /* access_destroy writes a byte: the handler stops */
    pthread_t thread;
    bool thread_started;
    /* Written before the thread starts, read-only after: no lock needed. */
    uid_t allowed[ACCESS_USERS_MAX + 2]; /* web_users, root, render's own uid */
    size_t nallowed;
    char users_text[256]; /* render/web_users as given, for log lines */
    gid_t web_gid;
    bool have_gid;
    char group_name[NAME_MAX_LEN + 1];
    bool insecure_tcp;
    /* Refusal log rate limit: the handler thread's only. */
    unsigned log_count;
    uint64_t suppressed;
    int64_t window_start_ms;
};

static void s_allow_uid(access_t *self, uid_t uid)
{
    for (size_t i = 0; i < self->nallowed; i++)
        if (self->allowed[i] == uid)
            return;
    if (self->nallowed < sizeof self->allowed / sizeof self->allowed[0])
        self->allowed[self->nallowed++] = uid;
}

/* render/web_users: account names separated by spaces or commas, each looked up once,
   now. An unknown name is a warning, not an error: render then serves root and itself
   only, which is safe, and the refusal lines name the uid that was expected. */
static void s_resolve_users(access_t *self, const char *list)
{
    snprintf(self->users_text, sizeof self->users_text, "%s", list);
    const char *p = list;
    size_t count = 0;
    while (*p) {
        p += strspn(p, " ,\t");
        size_t n = strcspn(p, " ,\t");
        if (n == 0)
            break;
        char name[NAME_MAX_LEN + 1];
        if (n > NAME_MAX_LEN) {
            l3_warn("render/web_users: a name of %zu bytes is not an account name; ignored", n);
        } else if (count >= ACCESS_USERS_MAX) {
            l3_warn("render/web_users: more than %d accounts; the rest are ignored",
                    ACCESS_USERS_MAX);
            break;
        } else {
            memcpy(name, p, n);
            name[n] = 0;
            struct passwd *pw = getpwnam(name);
            if (!pw) {
                l3_warn("render/web_users: no account named '%s' on this host; it cannot "
                        "ask for pages",
                        name);
            } else {
                s_allow_uid(self, pw->pw_uid);
                if (count == 0 && !self->have_gid) {
                    self->web_gid = pw->pw_gid; /* the default web_group */
                    struct group *gr = getgrgid(pw->pw_gid);
                    snprintf(self->group_name, sizeof self->group_name, "%s",
                             gr ? gr->gr_name : "?");
                    self->have_gid = true;
                }
                count++;
            }
        }
        p += n;
    }
}

/* "...:UID:GID:PID": the credentials libzmq appends to an ipc peer's address. The part
   before them must hold no ':' (libzmq puts "localhost" or nothing there), so no IPv6
   address can pass for credentials. */
bool access_allows(access_t *self, const char *address, uid_t *uid, pid_t *pid)
{
    if (!address)
        return false;
    size_t len = strlen(address);
    unsigned long long field[3];
    size_t end = len;
    for (int k = 2; k >= 0; k--) { /* pid, gid, uid from the right */
        size_t start = end;
        while (start > 0 && address[start - 1] >= '0' && address[start - 1] <= '9')
            start--;
        size_t digits = end - start;
        if (digits == 0 || digits > 10 || start == 0 || address[start - 1] != ':')
            return false;
        field[k] = 0;
        for (size_t i = start; i < end; i++)
            field[k] = field[k] * 10 + (unsigned)(address[i] - '0');
        end = start - 1; /* the ':' */
    }
    if (memchr(address, ':', end) != NULL)
        return false;
    if (field[0] > UINT_MAX - 1 || field[2] > INT_MAX) /* (uid_t)-1 is "no uid" */
        return false;
    *uid = (uid_t)field[0];
    *pid = (pid_t)field[2];
    for (size_t i = 0; i < self->nallowed; i++)
        if (self->allowed[i] == *uid)
            return true;
    return false;
}

/* A refusal may be logged: at most ACCESS_LOG_BURST per window, then counted; the
   count is reported when the window ends (s_log_flush), so a local user who hammers
   the socket cannot fill the log. */
static bool s_log_allowed(access_t *self)
{
    if (self->log_count < ACCESS_LOG_BURST) {
        self->log_count++;
        return true;
    }
    self->suppressed++;
    return false;
}

static void s_log_flush(access_t *self)
{
    int64_t now = l3_time_mono_us() / 1000;
    if (now - self->window_start_ms < ACCESS_LOG_WINDOW_MS)
        return;
    if (self->suppressed)
        l3_warn("%llu more connections refused in the last %d s (not logged one by one)",
                (unsigned long long)self->suppressed, ACCESS_LOG_WINDOW_MS / 1000);
    self->window_start_ms = now;
    self->log_count = 0;
    self->suppressed = 0;
}

/* The program a pid runs, for the log line (it may have exited or been reused since:
   the uid is what counts). Non-printable bytes become '?'. */
static void s_comm(pid_t pid, char *out, size_t size)
{
    snprintf(out, size, "?");
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, out, size - 1);
    close(fd);
    if (n <= 0) {
        snprintf(out, size, "?");
        return;
    }
    out[n] = 0;
    out[strcspn(out, "\n")] = 0;
    for (char *c = out; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
            *c = '?';
}

static void s_log_refusal(access_t *self, uid_t uid, pid_t pid)
{
    if (!s_log_allowed(self))
        return;
    char account[NAME_MAX_LEN + 1] = "no account", comm[32];
    struct passwd pw, *found = NULL;
    char buf[1024];
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found)
        snprintf(account, sizeof account, "%s", found->pw_name);
    s_comm(pid, comm, sizeof comm);
    l3_warn("refused a connection from uid %u (%s), pid %d (%s): only render/web_users "
            "(%s), root and render's own account may ask for pages",
            (unsigned)uid, account, (int)pid, comm, self->users_text);
}

/* Receive one ZAP request and answer it (RFC 27). Every request gets a reply, or libzmq
   would hold the handshake until ACCESS_HANDSHAKE_MS. */
static void s_handle_zap(access_t *self)
{
    char frame[ZAP_FRAMES][ZAP_FRAME_MAX + 1];
    size_t lens[ZAP_FRAMES] = {0};
    int n = 0;
    bool bad = false, more = true;
    while (more) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, self->zap, 0) < 0) {
            zmq_msg_close(&msg);
            return; /* ETERM: the context is going away */
        }
        size_t size = zmq_msg_size(&msg);
        if (n < ZAP_FRAMES) {
            if (size > ZAP_FRAME_MAX)
                bad = true;
            lens[n] = size > ZAP_FRAME_MAX ? ZAP_FRAME_MAX : size;
            memcpy(frame[n], zmq_msg_data(&msg), lens[n]);
            frame[n][lens[n]] = 0;
            if (n != 4 && strlen(frame[n]) != lens[n])
                bad = true; /* text with a NUL inside (frame 4, the identity, is bytes) */
        }
        n++;
        more = zmq_msg_more(&msg);
        zmq_msg_close(&msg);
    }
    const char *status = "400", *text = "No access";
    char user[16] = "";
    uid_t uid = (uid_t)-1;
    pid_t pid = 0;
    if (bad || n < ZAP_FRAMES || strcmp(frame[0], "1.0") != 0) {
        status = "500";
        text = "Bad ZAP request";
        l3_warn("malformed ZAP request (%d frames); connection refused", n);
    } else if (strcmp(frame[2], ACCESS_ZAP_DOMAIN) != 0 || strcmp(frame[5], "NULL") != 0) {
        l3_warn("ZAP request for domain '%s', mechanism '%s': not render's; refused",
                frame[2], frame[5]);
    } else if (access_allows(self, frame[3], &uid, &pid)) {
        status = "200";
        text = "OK";
        snprintf(user, sizeof user, "%u", (unsigned)uid);
        l3_debug("connection from uid %u, pid %d: allowed", (unsigned)uid, (int)pid);
    } else if (uid == (uid_t)-1) {
        if (s_log_allowed(self))
            l3_warn("refused a connection from '%s': no peer credentials", frame[3]);
    } else {
        s_log_refusal(self, uid, pid);
    }
    const char *reply[6] = {"1.0", frame[1], status, text, user, ""};
    size_t rlen[6] = {3, n > 1 ? lens[1] : 0, 3, strlen(text), strlen(user), 0};
    for (int i = 0; i < 6; i++)
        if (zmq_send(self->zap, reply[i], rlen[i], i < 5 ? ZMQ_SNDMORE : 0) < 0)
            return;
}

/* Unbind first: zmq_close lets go of the inproc name later, asynchronously, and a
   handler started right after this one (a test, a restart in-process) must find it free. */
static void s_zap_close(access_t *self)
{
    zmq_unbind(self->zap, ZAP_ENDPOINT);
    zmq_close(self->zap);
    self->zap = NULL;
}

/* The handler: ZAP requests until access_destroy writes to the pipe or the context
   terminates. */
static void *s_handler(void *arg)
{
    access_t *self = arg;
    bool warned = false;
    self->window_start_ms = l3_time_mono_us() / 1000;
    for (;;) {
        zmq_pollitem_t items[2] = {{self->zap, 0, ZMQ_POLLIN, 0},
                                   {NULL, self->term_pipe[0], ZMQ_POLLIN, 0}};
        int n = zmq_poll(items, 2, ACCESS_LOG_WINDOW_MS);
        if (n < 0) {
            if (zmq_errno() == EINTR)
                continue;
            if (zmq_errno() == ETERM)
                break;
            /* Never seen; but leaving would unbind the handler, so stay, refusing
               nothing and allowing nothing until the poll works again. */
            if (!warned)
                l3_error("ZAP handler: poll: %s", zmq_strerror(zmq_errno()));
            warned = true;
            usleep(100000);
            continue;
        }
        if (items[1].revents)
            break;
        if (items[0].revents & ZMQ_POLLIN)
            s_handle_zap(self);
        s_log_flush(self);
    }
    s_zap_close(self);
    return NULL;
}

access_t *access_new(l3_config_t *config, void *ctx)
{
    access_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->term_pipe[0] = self->term_pipe[1] = -1;
    const char *group = l3_config_str(config, "render/web_group", "");
    if (group[0]) {
        struct group *gr = getgrnam(group);
        if (gr) {
            self->web_gid = gr->gr_gid;
            self->have_gid = true;
            snprintf(self->group_name, sizeof self->group_name, "%s", gr->gr_name);
        } else {
            l3_warn("render/web_group: no group named '%s'", group);
        }
    }
    s_resolve_users(self, l3_config_str(config, "render/web_users", "www-data"));
    s_allow_uid(self, 0);
    s_allow_uid(self, geteuid());
    self->insecure_tcp = l3_config_bool(config, "render/insecure_tcp", false);

    /* Bound here, on the caller's thread, so a failure is reported before anything
       binds; the socket then moves to the handler thread (pthread_create is the full
       memory barrier libzmq asks for when a socket changes threads). */
    self->zap = zmq_socket(ctx, ZMQ_REP);
    int linger = 0;
    if (!self->zap || zmq_setsockopt(self->zap, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(self->zap, ZAP_ENDPOINT) != 0) {
        l3_error("cannot start the ZAP handler on %s: %s", ZAP_ENDPOINT,
                 zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (pipe2(self->term_pipe, O_CLOEXEC) != 0) {
        l3_error("access: pipe: %s", strerror(errno));
        goto fail;
    }
    /* Signals stay with the main thread (the thread inherits this mask): SIGTERM must
       wake render's own poll, not this one. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&self->thread, NULL, s_handler, self);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        l3_error("access: cannot start the ZAP handler thread: %s", strerror(rc));
        goto fail;
    }
    self->thread_started = true;
    return self;
fail:
    access_destroy(&self);
    return NULL;
}

void access_destroy(access_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    access_t *self = *self_p;
    if (self->thread_started) {
        char byte = 1;
        while (write(self->term_pipe[1], &byte, 1) < 0 && errno == EINTR)
            ;
        pthread_join(self->thread, NULL);
    } else if (self->zap) {
        s_zap_close(self);
    }
    if (self->term_pipe[0] >= 0)
        close(self->term_pipe[0]);
    if (self->term_pipe[1] >= 0)
        close(self->term_pipe[1]);
    free(self);
    *self_p = NULL;
}

/* Is the directory chain of dir safe to hold the socket? Every directory from dir up to
   "/" must belong to root or to us and be writable by nobody else; otherwise someone
   could put their own socket, or their own directory, where l3-cgi will look. A sticky
   directory above dir (/tmp) is fine: others cannot rename what is ours in it. dir
   itself may not be one: there, others could take the socket's name while render is
   down. */
static bool s_chain_safe(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", dir);
    uid_t me = geteuid();
    for (bool leaf = true;; leaf = false) {
        struct stat st;
        if (lstat(path, &st) != 0) {
            l3_error("socket directory: %s: %s", path, strerror(errno));
            return false;
        }
        if (st.st_uid != 0 && st.st_uid != me) {
            l3_error("refusing to bind in %s: %s belongs to uid %u, and whoever owns a "
                     "directory on the way can put another socket in render's place",
                     dir, path, (unsigned)st.st_uid);
            return false;
        }
        if (!S_ISLNK(st.st_mode) && (st.st_mode & (S_IWGRP | S_IWOTH)) &&
            (leaf || !(st.st_mode & S_ISVTX))) {
            l3_error("refusing to bind in %s: %s is writable by %s (mode %04o), so another "
                     "account could put its own socket in render's place (%s %s)",
                     dir, path, (st.st_mode & S_IWOTH) ? "every account" : "its group",
                     (unsigned)(st.st_mode & 07777),
                     leaf ? "give the socket a directory of its own, not" : "chmod go-w",
                     path);
            return false;
        }
        char *slash = strrchr(path, '/');
        if (!slash || slash == path) {
            if (strcmp(path, "/") == 0)
                return true;
            path[1] = 0; /* then "/" itself */
            continue;
        }
        *slash = 0;
    }
}

/* The socket's directory: created SOCKET_DIR_MODE with the web server's group when
   missing; an existing one is checked and left as it is (it may be /run or a home
   directory: render never changes the modes of a directory it did not make). */
static bool s_prepare_dir(access_t *self, const char *socket_path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", socket_path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) {
        l3_error("ipc socket %s: give it a directory of its own (e.g. %s)", socket_path,
                 ACCESS_DEFAULT_BIND + 6);
        return false;
    }
    *slash = 0;
    struct stat st;
    if (lstat(dir, &st) != 0 && errno == ENOENT) {
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", dir);
        char *ps = strrchr(parent, '/');
        if (ps && ps != parent) {
            *ps = 0;
            if (!l3_mkdirs(parent, 0755)) {
                l3_error("cannot create %s: %s", parent, strerror(errno));
                return false;
            }
        }
        if (mkdir(dir, SOCKET_DIR_MODE) == 0) {
            chmod(dir, SOCKET_DIR_MODE); /* whatever the umask took away */
            if (self->have_gid && chown(dir, (uid_t)-1, self->web_gid) != 0)
                l3_warn("cannot give %s to group %s: %s; the web server reaches the socket "
                        "only if it runs as root or as render's account",
                        dir, self->group_name, strerror(errno));
            l3_info("created the socket directory %s (mode %04o)", dir, SOCKET_DIR_MODE);
        } else if (errno != EEXIST) {
            l3_error("cannot create %s: %s", dir, strerror(errno));
            return false;
        }
    }
    if (lstat(dir, &st) != 0) {
        l3_error("socket directory %s: %s", dir, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        l3_error("socket directory %s is not a directory (a symbolic link is not taken)", dir);
        return false;
    }
    if (!s_chain_safe(dir))
        return false;
    if (st.st_mode & S_IXOTH)
        l3_warn("WARNING: %s is open to every local account (mode %04o): file modes do not "
                "keep them from render's socket, only the peer-credential check does. "
                "chmod o-rwx %s, or let render create a directory of its own",
                dir, (unsigned)(st.st_mode & 07777), dir);
    if (self->have_gid && st.st_gid != self->web_gid && st.st_gid != getegid())
        l3_warn("%s belongs to group %u, not to the web server's group %s: the web server "
                "may not reach the socket",
                dir, (unsigned)st.st_gid, self->group_name);
    return true;
}

/* tcp://HOST:PORT where HOST is a loopback address. */
static bool s_tcp_loopback(const char *endpoint)
{
    char host[256];
    const char *hp = endpoint + 6;
    const char *colon = strrchr(hp, ':');
    if (!colon || (size_t)(colon - hp) >= sizeof host)
        return false;
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = 0;
    if (!strcmp(host, "localhost") || !strcmp(host, "[::1]") || !strcmp(host, "::1"))
        return true;
    struct in_addr a;
    return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

bool access_bind(access_t *self, void *socket, const char *endpoint)
{
    bool ipc = !strncmp(endpoint, "ipc://", 6);
    const char *path = endpoint + 6;
    bool has_file = ipc && path[0] != '@';
    if (ipc) {
        if (path[0] != '/' && path[0] != '@') {
            l3_error("ipc endpoint %s: the path must be absolute", endpoint);
            return false;
        }
        if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            l3_error("ipc endpoint %s: the path is longer than a socket path may be (%zu)",
                     endpoint, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
            return false;
        }
        if (has_file && !s_prepare_dir(self, path))
            return false;
        if (!has_file)
            l3_warn("%s is in the abstract namespace: no file modes, only the "
                    "peer-credential check keeps other accounts out",
                    endpoint);
        int enforce = 1, handshake = ACCESS_HANDSHAKE_MS;
        if (zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, ACCESS_ZAP_DOMAIN,
                           strlen(ACCESS_ZAP_DOMAIN)) != 0) {
            l3_error("cannot set the ZAP domain: %s", zmq_strerror(zmq_errno()));
            return false;
        }
        if (zmq_setsockopt(socket, ZMQ_ZAP_ENFORCE_DOMAIN, &enforce, sizeof enforce) != 0)
            l3_debug("libzmq without ZMQ_ZAP_ENFORCE_DOMAIN: the handler's lifetime alone "
                     "keeps connections checked");
        /* A refused peer is sent ERROR and then held until the handshake interval ends
           (libzmq's default is 30 s); a legitimate one is through in milliseconds. */
        zmq_setsockopt(socket, ZMQ_HANDSHAKE_IVL, &handshake, sizeof handshake);
    } else if (!strncmp(endpoint, "tcp://", 6)) {
        if (!self->insecure_tcp) {
            l3_error("refusing to bind %s: a tcp:// connection carries no peer credentials, "
                     "so any process that can reach the port could read every user's "
                     "journal. Bind an ipc:// path (default %s) or, on a host where every "
                     "local account may read everything, set render/insecure_tcp = 1",
                     endpoint, ACCESS_DEFAULT_BIND);
            return false;
        }
        if (!s_tcp_loopback(endpoint)) {
            l3_error("refusing to bind %s: with render/insecure_tcp only a loopback address "
                     "(127.0.0.1, ::1, localhost) is allowed",
                     endpoint);
            return false;
        }
        l3_warn("render/insecure_tcp = 1: any process that can reach %s may read every "
                "user's journal",
                endpoint);
    } else {
        l3_error("refusing to bind %s: render listens on ipc:// (or, with "
                 "render/insecure_tcp, on a loopback tcp:// address)",
                 endpoint);
        return false;
    }
    if (zmq_bind(socket, endpoint) != 0) {
        l3_error("cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        return false;
    }
    if (has_file) {
        /* The directory already keeps others out; the file mode is the same rule once
           more, for a directory someone opens up later. */
        if (chmod(path, SOCKET_FILE_MODE) != 0)
            l3_warn("cannot chmod %s: %s", path, strerror(errno));
        if (self->have_gid && chown(path, (uid_t)-1, self->web_gid) != 0)
            l3_warn("cannot give %s to group %s: %s", path, self->group_name,
                    strerror(errno));
    }
    if (ipc)
        l3_info("requests on %s from these accounts only: %s (render/web_users), root, "
                "uid %u (render itself)",
                endpoint, self->users_text, (unsigned)geteuid());
    return true;
}
