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
    //  Fields 3 (state) to 22 (starttime) follow the comm; the image fields go up to 50
    //  (kernels before 3.5 stop earlier: then the image is unknown).
    char *p = close_paren + 1;
    long long ppid = -1;
    unsigned long long start = 0, v = 0;
    bool complete = true; /* every image field set: not in the middle of an execve */
    uint64_t image = 0xcbf29ce484222325ULL; /* FNV-1a over the image fields */
    for (int field = 3; field <= 50; field++) {
        while (*p == ' ')
            p++;
        if (!*p || *p == '\n') {
            if (field <= 22)
                return false;
            image = 0;
            break;
        }
        char *end = p;
        if (field == 4)
            ppid = strtoll(p, &end, 10);
        else if (field == 22)
            start = strtoull(p, &end, 10);
        else if (field == 26 || field == 28 || field == 48 || field == 50) {
            v = strtoull(p, &end, 10);
            if (v == 0)
                complete = false;
            for (int i = 0; i < 8; i++)
                image = (image ^ ((v >> (8 * i)) & 0xff)) * 0x100000001b3ULL;
        } else
            end = p + strcspn(p, " \n");
        if (end == p)
            return false;
        p = end;
    }
    //  A field at 0: hidden from us (another user's process), a kernel thread, or an
    //  execve under way (the kernel sets them one by one). The image is unknown.
    if (!complete)
        image = 0;
    if (ppid < 0 || ppid > INT32_MAX)
        return false;
    out->pid = pid;
    out->ppid = (pid_t)ppid;
    out->starttime = start;
    out->image = image;
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
