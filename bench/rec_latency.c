/*  rec_latency — keystroke echo latency through a recorder (bench/rec.sh builds it).

    Usage: rec_latency N CMD ARGS...
    Runs CMD on a new pty as a user's terminal would, types N keystrokes, alternately
    'a' (echo "a") and DEL (echo "\b \b" by the inner tty's ECHOE), and times each from
    write(2) to the arrival of its whole echo. CMD is a recorder running `cat`, so the
    echo crosses the recorder twice (input and output). Prints p50_us= and p99_us=. */
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Read until `want` bytes arrived or timeout_ms passed; returns bytes read. */
static size_t s_read_n(int fd, size_t want, int timeout_ms)
{
    char buf[4096];
    size_t got = 0;
    long long deadline = s_now_ns() + (long long)timeout_ms * 1000000LL;
    while (got < want) {
        int left = (int)((deadline - s_now_ns()) / 1000000LL);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (left < 0 || poll(&p, 1, left) <= 0)
            break;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

static int s_cmp(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: rec_latency N CMD ARGS...\n");
        return 2;
    }
    int n = atoi(argv[1]);
    if (n < 10 || n > 1000000) {
        fprintf(stderr, "rec_latency: N must be 10..1000000\n");
        return 2;
    }
    struct winsize ws = { .ws_row = 24, .ws_col = 80 };
    int master;
    pid_t pid = forkpty(&master, NULL, NULL, &ws);
    if (pid < 0) {
        perror("forkpty");
        return 1;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror("exec");
        _exit(127);
    }
    /* Wait until the recorder and its inner tty echo: type 'a' until it comes back. */
    int ready = 0;
    for (int i = 0; i < 100 && !ready; i++) {
        if (write(master, "a", 1) != 1)
            break;
        ready = s_read_n(master, 1, 100) >= 1;
    }
    if (!ready) {
        fprintf(stderr, "rec_latency: no echo from %s\n", argv[2]);
        return 1;
    }
    s_read_n(master, 1 << 20, 200); /* anything left over from start-up */
    long long *lat = calloc((size_t)n, sizeof *lat);
    int m = 0;
    for (int i = 0; i < n; i++) {
        const char *key = (i % 2) ? "\x7f" : "a";
        size_t want = (i % 2) ? 3 : 1;
        long long t0 = s_now_ns();
        if (write(master, key, 1) != 1)
            break;
        if (s_read_n(master, want, 2000) < want)
            break;
        lat[m++] = (s_now_ns() - t0) / 1000;
    }
    /* Hang up like a closing terminal; a recorder that ignores it gets TERM, then KILL. */
    close(master);
    kill(pid, SIGHUP);
    for (int i = 0; i < 100 && waitpid(pid, NULL, WNOHANG) == 0; i++) {
        if (i == 20)
            kill(pid, SIGTERM);
        if (i == 60)
            kill(pid, SIGKILL);
        usleep(20000);
    }
    if (m < n) {
        fprintf(stderr, "rec_latency: only %d of %d echoes\n", m, n);
        return 1;
    }
    qsort(lat, (size_t)m, sizeof *lat, s_cmp);
    printf("p50_us=%lld p99_us=%lld\n", lat[m / 2], lat[(m * 99) / 100]);
    free(lat);
    return 0;
}
