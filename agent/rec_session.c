/*  rec_session — the pty and the copy loop; see rec_session.h. */
#include "rec_session.h"

#include "l3_fs.h"
#include "l3_log.h"
#include "l3_time.h"
#include "rec_filter.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define S_READ_BUF (64 * 1024)
#define S_QUEUE_MAX (64 * 1024)     /* pending input to the child; stdin pauses when full */
#define S_DRAIN_MS 100              /* after the child exits, wait this long for late output */
#define S_KILL_GRACE_US 3000000     /* after SIGHUP to the child, SIGKILL after this */

/* Saved terminal state; globals because atexit and signal handlers restore it. */
static struct termios s_saved_tty;
static volatile sig_atomic_t s_tty_raw = 0;

void rec_session_restore_tty(void)
{
    if (s_tty_raw) {
        tcsetattr(STDIN_FILENO, TCSADRAIN, &s_saved_tty);
        s_tty_raw = 0;
    }
}

static void s_fatal_signal(int sig)
{
    rec_session_restore_tty();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Signals the loop handles through the signalfd; blocked everywhere else. */
static void s_loop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGCHLD);
    sigaddset(set, SIGWINCH);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGQUIT);
}

int rec_session_spawn(const rec_session_opts_t *opts, pid_t *child, char *pty_name,
                      size_t pty_name_size)
{
    int master = -1, slave = -1;
    struct termios tio;
    struct winsize ws;
    bool have_tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &tio) == 0;
    bool have_ws = ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0;
    char name[128] = "";
    sigset_t set;

    if (!have_ws && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
        have_ws = true;
    if (openpty(&master, &slave, name, have_tty ? &tio : NULL, have_ws ? &ws : NULL) < 0) {
        l3_error("cannot open a pty: %s", strerror(errno));
        return -1;
    }
    snprintf(pty_name, pty_name_size, "%s", name);
    fcntl(master, F_SETFD, FD_CLOEXEC);
    /* Block the loop's signals before fork so none is lost between fork and the loop;
       the child unblocks them before exec. */
    s_loop_signals(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);

    pid_t pid = fork();
    if (pid < 0) {
        l3_error("cannot fork: %s", strerror(errno));
        close(master);
        close(slave);
        return -1;
    }
    if (pid == 0) {
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        signal(SIGPIPE, SIG_DFL);
        /* The keys of the new terminal must work whatever l3-rec inherited: a command
           started with & by a script ignores SIGINT and SIGQUIT, ignored signals stay
           ignored across exec, and a shell keeps what it found ignored for its jobs. */
        signal(SIGINT, SIG_DFL);
        signal(SIGQUIT, SIG_DFL);
        signal(SIGTSTP, SIG_DFL);
        setsid();
        if (ioctl(slave, TIOCSCTTY, 0) < 0) {
            fprintf(stderr, "l3-rec: cannot make the pty the controlling terminal: %s\r\n",
                    strerror(errno));
            _exit(127);
        }
        dup2(slave, 0);
        dup2(slave, 1);
        dup2(slave, 2);
        if (slave > 2)
            close(slave);
        close(master);
        execvpe(opts->path, opts->argv, opts->envp);
        fprintf(stderr, "l3-rec: cannot run %s: %s\r\n", opts->path, strerror(errno));
        _exit(127);
    }
    close(slave);
    *child = pid;
    return master;
}

static void s_set_raw(void)
{
    struct termios raw;
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &s_saved_tty) < 0)
        return;
    raw = s_saved_tty;
    cfmakeraw(&raw);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0)
        s_tty_raw = 1;
}

static void s_pass_winsize(int master)
{
    struct winsize ws;
    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
        ioctl(master, TIOCSWINSZ, &ws);
}

/* Everything the loop owns, so helpers take one pointer. */
typedef struct {
    const rec_session_opts_t *opts;
    int master;
    int sigfd;
    bool stdin_open;
    bool stdout_ok;
    bool master_open;
    bool eof_pending;          /* stdin (not a tty) ended: send VEOF once the queue drains */
    uint8_t *queue;            /* input waiting for the child */
    size_t queue_len;
    uint8_t *rbuf, *fbuf, *sbuf;
    rec_filter_t filter;
    rec_filter_script_t *script; /* what .script gets (opts->script, or own) */
    rec_filter_script_t *own_script;
    bool term_lost;            /* stdin is a terminal and it hung up (EOF or EIO) */
    bool hung_up;              /* we sent the session SIGHUP */
} s_loop_t;

/* Write the recorder marks that are due into .script (rec_marks.h), between pty chunks. */
static void s_write_marks(s_loop_t *L)
{
    char mark[REC_MARKS_TEXT_MAX];
    size_t n;
    if (!L->opts->marks || !L->opts->spool)
        return;
    while ((n = rec_marks_next(L->opts->marks, mark)) > 0)
        rec_spool_write(L->opts->spool, (const uint8_t *)mark, n, l3_time_mono_us());
}

/* The user typed these bytes: note the interrupt, quit and suspend characters the pty's
   line discipline turns into signals right now (ISIG on, character not disabled). Only
   the kind of key is kept, never the input. */
static void s_note_keys(s_loop_t *L, const uint8_t *p, size_t n)
{
    static const struct {
        int cc;
        rec_mark_kind_t kind;
    } keys[] = { { VINTR, REC_MARK_INTERRUPT }, { VQUIT, REC_MARK_QUIT },
                 { VSUSP, REC_MARK_SUSPEND } };
    struct termios tio;
    if (!L->opts->marks || !L->opts->spool || tcgetattr(L->master, &tio) < 0 ||
        !(tio.c_lflag & ISIG))
        return;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        cc_t c = tio.c_cc[keys[k].cc];
        if (c != _POSIX_VDISABLE && memchr(p, c, n))
            rec_marks_note(L->opts->marks, keys[k].kind);
    }
    s_write_marks(L);
}

/* Hang the session up as a closing terminal would: the hangup mark first (so it comes
   before anything the shell prints about it), then SIGHUP to the shell and to the
   foreground job, which the kernel would signal too. */
static void s_hangup(s_loop_t *L, pid_t child)
{
    if (L->hung_up)
        return;
    L->hung_up = true;
    if (L->opts->marks && L->opts->spool) {
        rec_marks_note(L->opts->marks, REC_MARK_HANGUP);
        s_write_marks(L);
        rec_spool_flush(L->opts->spool);
    }
    pid_t fg = tcgetpgrp(L->master);
    kill(child, SIGHUP);
    if (fg > 0 && fg != child) {
        kill(-fg, SIGHUP);
        kill(-fg, SIGCONT);
    }
}

/* Read one chunk of the child's output: 1 when bytes came, 0 when none are ready, -1 at
   EOF/EIO (every writer of the pty is gone). */
static int s_drain_master(s_loop_t *L)
{
    ssize_t n = read(L->master, L->rbuf, S_READ_BUF);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) {
        L->master_open = false;
        return -1;
    }
    /* .script gets the bytes with no nonce in them; a run that may still become one is
       held back (at most 32 bytes), so recorder marks written below go before it. The
       terminal state the marks wait for is that of what .script holds. */
    rec_shells_output(L->opts->shells);
    size_t s = rec_filter_script_run(L->script, L->rbuf, (size_t)n, L->sbuf);
    if (L->opts->spool && s > 0)
        rec_spool_write(L->opts->spool, L->sbuf, s, l3_time_mono_us());
    if (L->opts->marks) {
        rec_marks_track(L->opts->marks, L->sbuf, s);
        s_write_marks(L); /* a key mark that waited for the end of a sequence */
        rec_shells_handle(L->opts->shells, NULL, 0, l3_time_mono_us()); /* and a shell's */
    }
    size_t out = rec_filter_run(&L->filter, L->rbuf, (size_t)n, L->fbuf);
    if (L->stdout_ok && out > 0 && !l3_write_all(STDOUT_FILENO, L->fbuf, out))
        L->stdout_ok = false; /* terminal gone: keep recording until the child ends */
    return 1;
}

static void s_feed_master(s_loop_t *L)
{
    if (L->queue_len > 0) {
        ssize_t n = write(L->master, L->queue, L->queue_len);
        if (n > 0) {
            memmove(L->queue, L->queue + n, L->queue_len - (size_t)n);
            L->queue_len -= (size_t)n;
        }
    }
    if (L->queue_len == 0 && L->eof_pending) {
        /* Input was a pipe or file and it ended: end the child's input too, as typing
           Ctrl-D would (twice when a partial line waits in the line discipline). */
        struct termios tio;
        uint8_t eof = 4;
        if (tcgetattr(L->master, &tio) == 0 && tio.c_cc[VEOF] != _POSIX_VDISABLE)
            eof = tio.c_cc[VEOF];
        if (write(L->master, &eof, 1) == 1)
            L->eof_pending = false;
    }
}

static void s_read_stdin(s_loop_t *L)
{
    ssize_t n = read(STDIN_FILENO, L->queue + L->queue_len, S_QUEUE_MAX - L->queue_len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        L->stdin_open = false;
        if (!isatty(STDIN_FILENO))
            L->eof_pending = true;
        else
            L->term_lost = true; /* a terminal in raw mode reads 0 or EIO only when gone */
        return;
    }
    s_note_keys(L, L->queue + L->queue_len, (size_t)n);
    L->queue_len += (size_t)n;
    s_feed_master(L);
}

static void s_nest_mark(const char *verb, const char *id)
{
    char mark[256];
    int n = snprintf(mark, sizeof mark, "\033]6973;nest;%s;%s\a", verb, id);
    if (n > 0 && (size_t)n < sizeof mark)
        l3_write_all(STDOUT_FILENO, (const uint8_t *)mark, (size_t)n);
}

bool rec_session_run(const rec_session_opts_t *opts, int master, pid_t child,
                     rec_session_result_t *result)
{
    s_loop_t L = { .opts = opts, .master = master, .sigfd = -1, .stdin_open = true,
                   .stdout_ok = true, .master_open = true };
    bool ok = false;
    bool child_done = false;
    int status = 0;
    int64_t kill_at = 0;
    int64_t drain_until = 0;
    sigset_t set;

    memset(result, 0, sizeof *result);
    result->child = child;
    L.queue = malloc(S_QUEUE_MAX);
    L.rbuf = malloc(S_READ_BUF);
    L.fbuf = malloc(S_READ_BUF + REC_FILTER_HOLD);
    L.sbuf = malloc(S_READ_BUF + REC_FILTER_SCRIPT_SLACK);
    L.script = opts->script;
    if (!L.script && (L.own_script = malloc(sizeof *L.own_script)) != NULL) {
        rec_filter_script_init(L.own_script);
        L.script = L.own_script;
    }
    if (!L.queue || !L.rbuf || !L.fbuf || !L.sbuf || !L.script) {
        l3_error("out of memory");
        goto cleanup;
    }
    rec_filter_init(&L.filter);
    s_loop_signals(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
    L.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (L.sigfd < 0) {
        l3_error("signalfd: %s", strerror(errno));
        goto cleanup;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGSEGV, s_fatal_signal);
    signal(SIGBUS, s_fatal_signal);
    signal(SIGABRT, s_fatal_signal);
    signal(SIGFPE, s_fatal_signal);
    atexit(rec_session_restore_tty);
    s_set_raw();
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
    if (opts->nest_id)
        s_nest_mark("begin", opts->nest_id);

    for (;;) {
        struct pollfd fds[3 + REC_SHELLS_POLL_MAX];
        int nfds = 0, i_sig, i_master = -1, i_in = -1, i_shells, n_shells;
        int timeout = -1;
        fds[nfds] = (struct pollfd){ .fd = L.sigfd, .events = POLLIN };
        i_sig = nfds++;
        if (L.master_open) {
            short ev = POLLIN;
            if (L.queue_len > 0 || L.eof_pending)
                ev |= POLLOUT;
            fds[nfds] = (struct pollfd){ .fd = master, .events = ev };
            i_master = nfds++;
        }
        if (L.stdin_open && L.queue_len < S_QUEUE_MAX && !child_done) {
            fds[nfds] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
            i_in = nfds++;
        }
        i_shells = nfds;
        n_shells = rec_shells_poll_fds(opts->shells, fds + nfds, REC_SHELLS_POLL_MAX);
        nfds += n_shells;
        /* Idle means: flush the spool now. While output streams, poll never idles and the
           spool is written a full buffer at a time. */
        if (opts->spool && rec_spool_pending(opts->spool))
            timeout = 0;
        else if (child_done)
            timeout = S_DRAIN_MS;
        else if (kill_at)
            timeout = 200;
        int shells_ms = rec_shells_timeout_ms(opts->shells, l3_time_mono_us());
        if (shells_ms >= 0 && (timeout < 0 || shells_ms < timeout))
            timeout = shells_ms;
        int n = poll(fds, (nfds_t)nfds, timeout);
        if (n < 0 && errno != EINTR) {
            l3_error("poll: %s", strerror(errno));
            break;
        }
        /* Inner shells' requests: new ones, and the deadlines of open ones. */
        rec_shells_handle(opts->shells, fds + i_shells, n > 0 ? n_shells : 0,
                          l3_time_mono_us());
        if (n == 0) {
            if (opts->spool && rec_spool_pending(opts->spool)) {
                rec_spool_flush(opts->spool);
                continue;
            }
            if (child_done && l3_time_mono_us() >= drain_until)
                break;
        }
        if (kill_at && !child_done && l3_time_mono_us() >= kill_at) {
            kill(child, SIGKILL);
            kill_at = 0;
        }
        if (n <= 0)
            continue;
        if (fds[i_sig].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(L.sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                switch (si.ssi_signo) {
                case SIGCHLD:
                    if (!child_done && waitpid(child, &status, WNOHANG) == child) {
                        child_done = true;
                        drain_until = l3_time_mono_us() + S_DRAIN_MS * 1000;
                    }
                    break;
                case SIGWINCH:
                    s_pass_winsize(master);
                    break;
                default:
                    /* Asked to stop (or the terminal hung up): hang up the child as a
                       closing terminal would, record what it prints on the way out. */
                    if (!child_done && !L.hung_up) {
                        s_hangup(&L, child);
                        kill_at = l3_time_mono_us() + S_KILL_GRACE_US;
                    }
                    if (si.ssi_signo == SIGHUP)
                        L.stdout_ok = false;
                    break;
                }
            }
        }
        if (i_master >= 0 && fds[i_master].revents) {
            if (fds[i_master].revents & POLLOUT)
                s_feed_master(&L);
            if (fds[i_master].revents & (POLLIN | POLLHUP | POLLERR)) {
                /* Read until the pty is empty (bounded, so stdin and signals get their
                   turn): one poll per burst instead of one per 4 KiB read. */
                for (int k = 0; k < 32 && s_drain_master(&L) > 0; k++) {
                    if (child_done)
                        drain_until = l3_time_mono_us() + S_DRAIN_MS * 1000;
                }
            }
        }
        if (i_in >= 0 && (fds[i_in].revents & (POLLIN | POLLHUP | POLLERR)))
            s_read_stdin(&L);
        if (L.term_lost && !child_done && !L.hung_up) {
            /* The terminal is gone (its SIGHUP may come later, or never: tmux, sshd). */
            L.stdout_ok = false;
            s_hangup(&L, child);
            kill_at = l3_time_mono_us() + S_KILL_GRACE_US;
        }
        if (!L.master_open && !child_done) {
            /* Every writer of the pty is gone; only the exit status is left to collect. */
            if (waitpid(child, &status, 0) == child)
                child_done = true;
            break;
        }
        if (!L.master_open && child_done)
            break;
    }
    if (!child_done && waitpid(child, &status, 0) == child)
        child_done = true;
    {
        uint8_t tail[REC_FILTER_HOLD];
        size_t t = rec_filter_flush(&L.filter, tail);
        if (t > 0 && L.stdout_ok)
            l3_write_all(STDOUT_FILENO, tail, t);
    }
    {
        size_t t = rec_filter_script_flush(L.script, L.sbuf);
        if (t > 0 && opts->spool)
            rec_spool_write(opts->spool, L.sbuf, t, l3_time_mono_us());
    }
    if (opts->spool)
        rec_spool_flush(opts->spool);
    if (WIFSIGNALED(status)) {
        result->signal_no = WTERMSIG(status);
        result->exit_code = 128 + result->signal_no;
    } else
        result->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    rec_session_restore_tty();
    if (opts->nest_id && L.stdout_ok)
        s_nest_mark("end", opts->nest_id);
    ok = true;

cleanup:
    if (L.sigfd >= 0)
        close(L.sigfd);
    free(L.queue);
    free(L.rbuf);
    free(L.fbuf);
    free(L.sbuf);
    if (L.own_script) {
        rec_filter_script_wipe(L.own_script);
        free(L.own_script);
    }
    return ok;
}
