/*  rec_proc — what l3-rec reads of other processes in /proc: name, parent, start time.

    The recorder decides who is inside its session by the process tree: a process belongs
    to the session when walking its parents reaches the recorder. /proc/PID/stat is
    world-readable, so this works for processes of other users too (after `su`, `sudo -i`).
    A pid alone may be reused; a pid with its start time (field 22 of stat, clock ticks
    since boot) names one process for good. Every walk is capped at REC_PROC_WALK_MAX
    steps. */
#ifndef REC_PROC_H
#define REC_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define REC_PROC_WALK_MAX 64 /* parents followed at most */
#define REC_PROC_COMM_MAX 16 /* the kernel's TASK_COMM_LEN: 15 characters and a NUL */

typedef struct {
    pid_t pid;
    pid_t ppid;
    uint64_t starttime;
    /* Which program image runs in it: derived from where exec placed its code, stack,
       argv and environment (fields 26, 28, 48, 50 of stat), which address space layout
       randomisation draws anew at every execve. 0 when we may not see them (another
       user's process, which the kernel shows as 0) or any is 0 (an execve half done:
       the kernel sets them one by one, and start_stack moves before the end). It changes when the process execs
       and only then: how the recorder tells `exec bash` from a command that asks in the
       name of its shell. */
    uint64_t image;
    char comm[REC_PROC_COMM_MAX]; /* truncated if longer (it never is, from the kernel) */
} rec_proc_t;

/* Read /proc/<pid>/stat into out. false when the process is gone or the text is not
   what the kernel writes. */
bool rec_proc_read(pid_t pid, rec_proc_t *out);
/* Is `pid` still the process that started at `starttime`? */
bool rec_proc_alive(pid_t pid, uint64_t starttime);
/* Is `ancestor` reached by walking the parents of `pid` (pid itself included when
   or_self)? */
bool rec_proc_has_ancestor(pid_t pid, pid_t ancestor, bool or_self);
/* The first of `pid` and its ancestors whose name is `comm`; 0 when none. */
pid_t rec_proc_ancestor_named(pid_t pid, const char *comm);

#endif
