/*  rec_session — one recorded session: a child in a new pty, bytes copied both ways.

    The loop is poll(2) over stdin, the pty master and a signalfd. Output of the child is
    read from the master and written to the spool with no nonce in it (rec_filter's script
    side: each nonce the recorder gave becomes its shell's number, "=<n>", and a mark a
    program printed back from .script is neutralised) and, with the private marks removed
    (rec_filter), to stdout. Input from stdin goes to the master through a bounded
    queue with non-blocking writes: when the child does not read (a 1 MB paste into
    `cat > file` whose echo fills the pty), the queue fills, stdin stops being polled, and
    the child's output keeps being drained, so neither side can deadlock.

    When stdin is a terminal it is put in raw mode and restored on every exit path
    (atexit, fatal signals, normal end). SIGWINCH sizes are passed to the pty. The
    session's result is the child's exit code, or 128+signal when it was killed.

    Hangup: when the terminal goes away (SIGHUP, or EOF/EIO reading a terminal stdin) or
    l3-rec is told to stop (SIGTERM, SIGINT, SIGQUIT), it does what the kernel does when a
    terminal hangs up — SIGHUP to the shell and to the pty's foreground process group
    (plus SIGCONT, for a stopped one) — keeps recording what they print on the way out,
    and SIGKILLs the shell if it is still there after a grace period. With opts.marks it
    writes the recorder marks (rec_marks.h) into .script: one for each interrupt, quit or
    suspend key typed while the pty has ISIG on, and one `hangup` before the SIGHUPs.
    With opts.shells it also answers the shells inside the session that ask for a nonce
    (rec_shells.h): their socket is polled with the rest, and a request whose mark waits
    for the ground state is answered after the pty output that brings it. */
#ifndef REC_SESSION_H
#define REC_SESSION_H

#include "rec_filter.h"
#include "rec_marks.h"
#include "rec_shells.h"
#include "rec_spool.h"

#include <stdbool.h>
#include <sys/types.h>

typedef struct {
    char *const *argv;     /* program and arguments; argv0 is what `ps`/`w` show */
    const char *path;      /* file to exec (searched in PATH) */
    char *const *envp;     /* environment of the child */
    rec_spool_t *spool;    /* borrowed; NULL = record nothing (fallback) */
    const char *nest_id;   /* "host/sid" when nested: nest begin/end marks go to stdout */
    rec_marks_t *marks;    /* borrowed; NULL = no recorder marks (keys, hangup) */
    rec_shells_t *shells;  /* borrowed, started; NULL = no nonces for inner shells */
    rec_filter_script_t *script; /* borrowed: the nonces given (the session shell's
                                    first); NULL = one of its own that knows none */
} rec_session_opts_t;

typedef struct {
    int exit_code;         /* 0..255, or 128+signal */
    int signal_no;         /* signal that killed the child, else 0 */
    pid_t child;
} rec_session_result_t;

/* Open the pty and start the child; fills *child and the pty name (size >= 64).
   Returns the master fd, -1 (logged) on failure. Terminal size is copied from stdin. */
int rec_session_spawn(const rec_session_opts_t *opts, pid_t *child, char *pty_name,
                      size_t pty_name_size);
/* Run the copy loop until the child ends. Returns false on a setup failure. */
bool rec_session_run(const rec_session_opts_t *opts, int master, pid_t child,
                     rec_session_result_t *result);
/* Restore the terminal if we changed it (idempotent, async-signal-safe). */
void rec_session_restore_tty(void);

#endif
