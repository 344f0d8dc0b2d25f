/*  rec_shells — nonces for the shells started inside a recorded session.

    The shell l3-rec starts gets its nonce through a pipe (docs/capture.md, "Marks"). A
    shell started inside the session — `exec bash`, a nested `bash` or `zsh`, `su`,
    `sudo -i` — has none, and without one its marks are plain output. Its shell
    integration asks the recorder for one at startup by running `l3-rec --nonce $$`
    (stdout a pipe the shell reads once). This module is both ends of that exchange.

    Server (in the running recorder, driven by rec_session's poll loop):
      - listens on the abstract unix socket "\0lilalo-rec/<pid of the recorder>"
        (SOCK_STREAM). Abstract: no file to create or clean up, and reachable after su
        or sudo -i (another uid, the same network namespace). Anyone may connect; what
        they get is decided by the process tree, never by the uid.
      - a request is one line, "<shell pid>\n", read within REC_SHELLS_READ_MS. The peer's
        pid comes from SO_PEERCRED. The claimed shell S is accepted when
          * S is the peer or one of its ancestors (the hook runs the client from a
            subshell or a process substitution, so the peer's parent may be a forked
            copy of the shell; $$ names the real one),
          * S's name (/proc/S/stat) is bash, zsh or fish,
          * S is a descendant of this recorder: walking S's parents reaches our pid. This
            is what keeps shells outside the session out (a peer outside it is refused
            as soon as it connects, before anything is read),
          * fewer than REC_SHELLS_NONCES_MAX nonces were given in this session (each
            costs a link of the recorder's hash chain, REC_MARKS_CHAIN, and a place in
            the script filter), and the chain has a link left.
        Anything else: the connection is closed without a reply.
      - S has no nonce yet. A shell registered with the same start time has one: it may
        ask again only after an `exec` (`exec bash`), that is when the program image in
        it changed (rec_proc_t.image, drawn anew by ASLR at every execve; the image of
        the shell l3-rec started is taken at its first output, when its exec is surely
        complete). A command that asks in the
        name of the shell it runs in (`l3-rec --nonce $$` typed at the prompt, or from
        a script) finds the image unchanged and is refused: granting it would hand out
        a nonce of a shell the user types in and end that shell's recording. An image
        we may not see (another user's shell: after `su`, before its exec) counts as
        unchanged, so an `exec` inside `su` is not recorded as a new shell.
      - depth: the shell l3-rec started is registered at depth 0. A registered shell
        asking again after an exec keeps its depth. Otherwise the nearest registered, still living ancestor A of
        S gives A.depth + 1 (at most REC_SHELLS_DEPTH_MAX), and 1 when there is none.
        S is then registered (pid, start time, depth) in a table of REC_SHELLS_TABLE_MAX
        entries; when it is full, entries whose process is gone go first, then the
        oldest.
      - the nonce: 16 bytes of getrandom(2) as 32 lowercase hex. Before the reply, the
        recorder writes into .script only (never to the terminal) a recorder mark from
        its hash chain (rec_marks.h):
          ESC ] 6973 ; rec ; <proof, 64 hex> ; shell ; <SHA-256 of the nonce's 32 hex
          characters, 64 lowercase hex> ; <depth, decimal> BEL
        so the parser learns the nonce's hash before any mark of the new shell (which
        cannot print one before it has the reply). Like a key mark it is written only
        where the pty's bytes so far leave the terminal at its ground state; the reply
        waits for that at most REC_SHELLS_GROUND_MS, then the mark is written anyway.
      - the nonce goes to the script filter (rec_filter.h), which writes it into .script
        as "=<k>", k counting the shell marks written (the session shell's is "=0"): the
        filter keeps every nonce given, in this process's memory only, for the session.
      - reply "<nonce>\n", close, and the reply buffers are wiped.
      The server never blocks the pty relay: every socket is non-blocking, at most
      REC_SHELLS_CONNS requests are open at once (more wait in the listen backlog), and
      each has a deadline.

    Client (`l3-rec --nonce PID`, rec_shells_request): the nearest ancestor process named
    l3-rec is the recorder (none: not in a recorded session); it connects to its socket, checks with SO_PEERCRED that the listener is that
    very process (a squatter on the name gets nothing), sends "<PID>\n", and accepts only
    a reply of exactly 32 lowercase hex and LF, within REC_SHELLS_REPLY_MS.

    Usage (server):
        rec_shells_t *shells = rec_shells_new();         // before the child is forked
        ... fork the shell, set up marks and spool ...
        rec_shells_start(shells, child, marks, spool, script); // or rec_shells_destroy
        loop: n = rec_shells_poll_fds(shells, fds + k, max); timeout = min(...,
              rec_shells_timeout_ms(shells, now)); poll; rec_shells_handle(shells,
              fds + k, n, now); after each pty read: rec_shells_output(shells), then
              rec_shells_handle(shells, NULL, 0, now)

    Memory: fixed, a few KiB (the table and REC_SHELLS_CONNS request slots). */
#ifndef REC_SHELLS_H
#define REC_SHELLS_H

#include "rec_filter.h"
#include "rec_marks.h"
#include "rec_spool.h"

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define REC_SHELLS_NAME "lilalo-rec/%d" /* abstract socket name; %d: the recorder's pid */
#define REC_SHELLS_NONCE_HEX 32
#define REC_SHELLS_NONCES_MAX 1024 /* nonces per session */
#define REC_SHELLS_TABLE_MAX 64    /* shells remembered for their depth */
#define REC_SHELLS_DEPTH_MAX 15
#define REC_SHELLS_CONNS 4          /* requests open at once */
#define REC_SHELLS_POLL_MAX (1 + REC_SHELLS_CONNS)
#define REC_SHELLS_READ_MS 200      /* a request line must come within this */
#define REC_SHELLS_GROUND_MS 300    /* the mark waits this long for the ground state */
#define REC_SHELLS_REPLY_MS 1000    /* the client waits this long for the reply */

typedef struct rec_shells_t rec_shells_t;

/* Listen on the session's socket, named after getpid(). NULL when it cannot (errno set):
   the session then goes on without nonces for inner shells. */
rec_shells_t *rec_shells_new(void);
/* Close the socket and every open request; wipes what is left. Accepts NULL. */
void rec_shells_destroy(rec_shells_t **self_p);
/* Begin answering: `shell` (the child l3-rec started) is registered at depth 0; marks,
   spool and script (which knows the session shell's nonce already) are borrowed and must
   outlive self. Until then, requests wait in the backlog. */
void rec_shells_start(rec_shells_t *self, pid_t shell, rec_marks_t *marks,
                      rec_spool_t *spool, rec_filter_script_t *script);

/* The fds to poll, at most max (REC_SHELLS_POLL_MAX is enough) from fds; returns how
   many. This and the next two do nothing when self is NULL (no server). */
int rec_shells_poll_fds(rec_shells_t *self, struct pollfd *fds, int max);
/* Milliseconds until a request's deadline, -1 when none is open. */
int rec_shells_timeout_ms(const rec_shells_t *self, int64_t now_us);
/* After poll: act on the revents of the n fds that rec_shells_poll_fds gave (fds may be
   NULL when n is 0), then on deadlines and on requests that waited for the ground state.
   Call it with no fds after each chunk of pty output too. */
void rec_shells_handle(rec_shells_t *self, const struct pollfd *fds, int n, int64_t now_us);
/* The pty gave output: the shell l3-rec started has exec'd, its image is final (until
   then a request in its name is refused). Call it at each chunk of output; it reads
   /proc once, at the first. */
void rec_shells_output(rec_shells_t *self);
/* Give at most max_nonces (below REC_SHELLS_NONCES_MAX) in this session: so a test can
   reach the cap without a thousand shells. */
void rec_shells_set_max(rec_shells_t *self, unsigned max_nonces);

/* Number of nonces given so far. */
unsigned rec_shells_given(const rec_shells_t *self);

/* Number of valid requests whose mark waits for the terminal's ground state. */
unsigned rec_shells_waiting(const rec_shells_t *self);

/* Client: ask recorder `recorder` (the nearest l3-rec among the caller's ancestors:
   rec_proc_ancestor_named) for a nonce for `shell`. On success nonce holds 32 lowercase
   hex and a NUL; on failure why says why, in one line. */
bool rec_shells_request(pid_t recorder, pid_t shell, char nonce[REC_SHELLS_NONCE_HEX + 1],
                        char *why, size_t why_size);

#endif
