/*  l3-parse-bench — throughput of the spool parser.

    Usage: l3-parse-bench [--mb N] [--chunk BYTES] [--write SID.script] [FILE.script]
    Without FILE it generates a realistic spool stream in memory (N MB, default 100):
    prompts with colours, marks with the session nonce, command output that is mostly
    plain text with SGR colour runs, some UTF-8, now and then a full-screen program and
    a long build log that hits the output cap. With FILE it parses that file (marks count
    only with the nonce from FILE's .info beside it, if any). --write also saves the
    generated stream as a spool session (SID.script/.timing/.info, as l3-rec writes them),
    e.g. to time `l3-agent --once` on it. The stream is fed in chunks
    (default 4096 bytes, like the recorder's writes) with times, as the agent does.

    Output, one key=value per line (the fixed lines scripts consume):
      bytes=<n>  commands=<n>  seconds=<s>  parse_mb_s=<MB/s>  cpu_mb_s=<MB/s>
    parse_mb_s is wall-clock; cpu_mb_s divides by the process CPU time, which stays
    meaningful on a machine busy with other work. */
#include "l3_time.h"
#include "parser.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double s_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

#define NONCE "5f0c6a8e1b2d4c3e9a7b6d5c4e3f2a1b"

static uint64_t s_commands;

static void s_on_record(void *arg, l3_record_t *rec, const l3_parser_extra_t *extra)
{
    (void) arg;
    (void) rec;
    (void) extra;
    s_commands++;
}

static uint32_t s_rand(uint32_t *x)
{
    *x = *x * 1103515245u + 12345u;
    return *x >> 8;
}

static void s_mark(l3_buf_t *b, const char *verb, const char *arg)
{
    l3_buf_printf(b, "\x1b]6973;%s;%s%s%s\x07", NONCE, verb, arg ? ";" : "", arg ? arg : "");
}

static void s_generate(l3_buf_t *b, size_t target)
{
    static const char *words[] = {"drwxr-xr-x", "root", "4096", "Nov", "24", "21:30", "etc",
                                  "usr", "-rw-r--r--", "config.h", "Makefile", "libzmq.so.5",
                                  "warning:", "unused", "variable", "файл", "каталог", "ok",
                                  "Compiling", "src/main.c", "[100%]", "Linking", "done"};
    static const char *cmds[] = {"ls%20-la", "make%20-j2", "git%20status", "cat%20/etc/hosts",
                                 "grep%20-r%20foo%20.", "echo%20%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82"};
    uint32_t x = 42;
    int nr = 0;
    while (b->len < target) {
        s_mark(b, "P", "/home/user/src");
        s_mark(b, "A", NULL);
        l3_buf_printf(b, "\x1b[01;32muser@host\x1b[00m:\x1b[01;34m~/src\x1b[00m$ ");
        s_mark(b, "B", NULL);
        const char *cmd = cmds[s_rand(&x) % 6];
        l3_buf_printf(b, "%s\r\n", cmd);
        s_mark(b, "C", cmd);
        l3_buf_append_str(b, "\x1b]133;C\x07");
        int kind = (int) (s_rand(&x) % 50);
        int lines = kind == 0 ? 20000 : (int) (s_rand(&x) % 60);
        if (kind == 1) {
            //  A full-screen program.
            l3_buf_append_str(b, "\x1b[?1049h\x1b[H\x1b[2J");
            for (int i = 0; i < 40; i++)
                l3_buf_printf(b, "\x1b[%d;1H~                                        ", i + 1);
            l3_buf_append_str(b, "\x1b[?1049l");
        }
        for (int i = 0; i < lines; i++) {
            int nw = 3 + (int) (s_rand(&x) % 8);
            for (int w = 0; w < nw; w++) {
                const char *word = words[s_rand(&x) % (sizeof(words) / sizeof(words[0]))];
                if (s_rand(&x) % 8 == 0)
                    l3_buf_printf(b, "\x1b[01;3%um%s\x1b[0m ", s_rand(&x) % 8, word);
                else
                    l3_buf_printf(b, "%s ", word);
            }
            l3_buf_append_str(b, "\r\n");
        }
        char code[8];
        snprintf(code, sizeof(code), "%d", kind == 2 ? 130 : kind < 10 ? 1 : 0);
        s_mark(b, "D", code);
        nr++;
    }
}

/* The generated stream as a spool session beside path (path ends in .script). */
static bool s_write_spool(const char *path, const uint8_t *data, size_t len, size_t chunk)
{
    size_t pl = strlen(path);
    if (pl < 8 || strcmp(path + pl - 7, ".script") != 0) {
        fprintf(stderr, "l3-parse-bench: --write needs a path ending in .script\n");
        return false;
    }
    char other[4096];
    FILE *s = fopen(path, "w");
    snprintf(other, sizeof(other), "%.*s.timing", (int) (pl - 7), path);
    FILE *t = fopen(other, "w");
    snprintf(other, sizeof(other), "%.*s.info", (int) (pl - 7), path);
    FILE *i = fopen(other, "w");
    if (!s || !t || !i) {
        perror(path);
        return false;
    }
    fprintf(s, "Script started on 2026-01-01T00:00:00.000000Z [l3-parse-bench]\n");
    fwrite(data, 1, len, s);
    for (size_t at = 0; at < len; at += chunk)
        fprintf(t, "0.001000 %zu\n", len - at < chunk ? len - at : chunk);
    fprintf(i, "version=1\nstart=2026-01-01T00:00:00.000000Z\npid=1\nnonce=%s\n"
               "end=2026-01-01T01:00:00.000000Z\nexit=0\n", NONCE);
    return fclose(s) == 0 && fclose(t) == 0 && fclose(i) == 0;
}

int main(int argc, char **argv)
{
    size_t mb = 100, chunk = 4096;
    const char *file = NULL, *write_to = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mb") && i + 1 < argc)
            mb = (size_t) atol(argv[++i]);
        else if (!strcmp(argv[i], "--chunk") && i + 1 < argc)
            chunk = (size_t) atol(argv[++i]);
        else if (!strcmp(argv[i], "--write") && i + 1 < argc)
            write_to = argv[++i];
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("Usage: l3-parse-bench [--mb N] [--chunk BYTES] [--write SID.script] [FILE.script]\n"
                   "Parse a generated N MB spool stream (default 100) or FILE; print\n"
                   "bytes=, commands=, seconds= and parse_mb_s= lines.\n");
            return 0;
        } else if (argv[i][0] != '-')
            file = argv[i];
        else {
            fprintf(stderr, "l3-parse-bench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (mb == 0 || mb > 4096 || chunk == 0) {
        fprintf(stderr, "l3-parse-bench: --mb 1..4096, --chunk > 0\n");
        return 2;
    }
    const uint8_t *data;
    size_t len;
    l3_buf_t gen;
    l3_buf_init(&gen, 0);
    char nonce[64] = NONCE;
    if (file) {
        int fd = open(file, O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
            perror(file);
            return 1;
        }
        len = (size_t) st.st_size;
        data = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (data == MAP_FAILED) {
            perror("mmap");
            return 1;
        }
        close(fd);
        //  The nonce from the .info beside it, so marks count.
        char info[4096];
        snprintf(info, sizeof(info), "%.*s.info", (int) (strlen(file) > 7 ? strlen(file) - 7 : 0),
                 file);
        FILE *f = fopen(info, "r");
        nonce[0] = 0;
        char line[512];
        while (f && fgets(line, sizeof(line), f))
            if (!strncmp(line, "nonce=", 6) && strlen(line) >= 6 + 32) {
                memcpy(nonce, line + 6, 32);
                nonce[32] = 0;
            }
        if (f)
            fclose(f);
    } else {
        s_generate(&gen, mb << 20);
        data = gen.data;
        len = gen.len;
        if (write_to && !s_write_spool(write_to, data, len, chunk))
            return 1;
    }
    l3_parser_opts_t opts = {.mode = L3_PARSER_MARKS,
                             .nonce = nonce[0] ? nonce : NULL,
                             .on_record = s_on_record};
    l3_parser_t *p = l3_parser_new(&opts);
    if (!p)
        return 1;
    double c0 = s_cpu_seconds();
    int64_t t0 = l3_time_mono_us();
    int64_t t = 1700000000000000LL;
    for (size_t at = 0; at < len; at += chunk) {
        size_t n = len - at < chunk ? len - at : chunk;
        l3_parser_feed(p, data + at, n, t);
        t += 1000;
    }
    l3_parser_finish(p, t);
    int64_t t1 = l3_time_mono_us();
    double cpu = s_cpu_seconds() - c0;
    double sec = (double) (t1 - t0) / 1e6;
    printf("bytes=%zu\ncommands=%llu\nseconds=%.3f\nparse_mb_s=%.0f\ncpu_mb_s=%.0f\n", len,
           (unsigned long long) s_commands, sec, (double) len / 1048576.0 / (sec > 0 ? sec : 1e-9),
           (double) len / 1048576.0 / (cpu > 0 ? cpu : 1e-9));
    l3_parser_destroy(&p);
    l3_buf_free(&gen);
    return 0;
}
