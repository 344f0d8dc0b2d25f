/*  rec_proc — reading /proc/PID/stat; see rec_proc.h. */
#include "rec_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool rec_proc_read(pid_t pid, rec_proc_t *out)
{
    char path[48], buf[1024];
    ssize_t n = -1;
    if (pid <= 0)
        return false;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    do
        n = read(fd, buf, sizeof buf - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    //  "pid (comm) state ppid ..." — comm may hold anything, ')' and spaces included, so
    //  it ends at the last ')'.
    char *open_paren = strchr(buf, '(');
    char *close_paren = strrchr(buf, ')');
    if (!open_paren || !close_paren || close_paren < open_paren)
        return false;
    size_t len = (size_t)(close_paren - open_paren - 1);
    if (len >= sizeof out->comm)
        len = sizeof out->comm - 1;
    memcpy(out->comm, open_paren + 1, len);
    out->comm[len] = '\0';
    //  Fields 3 (state) to 22 (starttime) follow the comm.
    char *p = close_paren + 1;
    long long ppid = -1;
    unsigned long long start = 0;
    for (int field = 3; field <= 22; field++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return false;
        char *end = p;
        if (field == 4)
            ppid = strtoll(p, &end, 10);
        else if (field == 22)
            start = strtoull(p, &end, 10);
        else
            end = p + strcspn(p, " ");
        if (end == p)
            return false;
        p = end;
    }
    if (ppid < 0 || ppid > INT32_MAX)
        return false;
    out->pid = pid;
    out->ppid = (pid_t)ppid;
    out->starttime = start;
    return true;
}

bool rec_proc_alive(pid_t pid, uint64_t starttime)
{
    rec_proc_t p;
    return rec_proc_read(pid, &p) && p.starttime == starttime;
}

bool rec_proc_has_ancestor(pid_t pid, pid_t ancestor, bool or_self)
{
    rec_proc_t p;
    if (or_self && pid == ancestor)
        return true;
    for (int step = 0; step < REC_PROC_WALK_MAX && pid > 1; step++) {
        if (!rec_proc_read(pid, &p))
            return false;
        if (p.ppid == ancestor)
            return true;
        pid = p.ppid;
    }
    return false;
}

pid_t rec_proc_ancestor_named(pid_t pid, const char *comm)
{
    rec_proc_t p;
    for (int step = 0; step < REC_PROC_WALK_MAX && pid > 0; step++) {
        if (!rec_proc_read(pid, &p))
            return 0;
        if (strcmp(p.comm, comm) == 0)
            return pid;
        pid = p.ppid;
    }
    return 0;
}
