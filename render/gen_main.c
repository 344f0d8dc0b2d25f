/*  l3-render-gen — writes a datafile of synthetic but realistic records for render's tests
    and benchmark, in exactly the writer's format: L3_XML_HEADER, one l3_xmlrec_write line
    per record, L3_XML_FOOTER.

    Sessions on a few hosts by a few users, commands with typical outputs (listings in
    colour, build logs, errors, "command not found", a signal kill, a full-screen editor
    with its diff, comment notes). --hostile adds the records the journal must survive:
    markup and script in command lines and output, broken UTF-8, OSC/CSI junk and a 10 MB
    line (capped the way the agent caps output). --open leaves the last session open.

    --lines FILE takes the command lines from FILE instead, one record per line, in order
    (--null: NUL-terminated, so a command line may hold newlines): a corpus of real shell
    lines goes through the writer's format and the journal exactly as it is, byte for
    byte. Each gets plausible surroundings: sessions, times, a cwd, sometimes its own text
    echoed as output, now and then a failure, a "command not found" or a SIGINT. */
#include "l3_buf.h"
#include "l3_msg.h"
#include "l3_record.h"
#include "l3_time.h"
#include "l3_xmlrec.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define LINES_FILE_MAX (512u << 20) /* --lines: the corpus is read whole */

typedef struct {
    FILE *out;
    void *push, *sub; /* --push: records go to a real writer instead of a file */
    uint64_t acked;
    l3_buf_t line;
    uint64_t rng;
    uint64_t seq;
    int64_t now_us;
    uint64_t written;
    uint64_t epoch;
} gen_t;

static uint32_t s_rand(gen_t *g)
{
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    return (uint32_t)(g->rng >> 16);
}

static bool s_emit(gen_t *g, l3_record_t *r)
{
    char err[256];
    l3_text_set(r->agent, sizeof r->agent, "gen");
    r->epoch = g->epoch;
    r->seq = ++g->seq;
    if (!l3_record_validate(r, err, sizeof err)) {
        fprintf(stderr, "l3-render-gen: invalid record: %s\n", err);
        return false;
    }
    l3_buf_reset(&g->line);
    g->written++;
    if (g->push) {
        if (!l3_msg_encode_record(r, &g->line))
            return false;
        return zmq_send(g->push, "gen", 3, ZMQ_SNDMORE) == 3 &&
               zmq_send(g->push, g->line.data, g->line.len, 0) == (int)g->line.len;
    }
    if (!l3_xmlrec_write(r, &g->line))
        return false;
    return fwrite(g->line.data, 1, g->line.len, g->out) == g->line.len;
}

static const char *s_hosts[] = {"lab1", "lab2", "lab3", "db3", "web1", "gate"};
static const char *s_users[] = {"alice", "bob", "carol", "dave", "root"};

/* A plausible command with its output, exit code and flags. */
static void s_command(gen_t *g, l3_record_t *r, l3_buf_t *out, l3_buf_t *cmd, int force)
{
    l3_buf_reset(out);
    l3_buf_reset(cmd);
    uint32_t k = force >= 0 ? (uint32_t)force : s_rand(g) % 100;
    r->has_exit = true;
    r->exit_code = 0;
    if (k < 20) {
        l3_buf_append_str(cmd, "ls -l --color=auto /etc");
        l3_buf_append_str(out, "total 1234\r\n");
        int n = 8 + (int)(s_rand(g) % 10);
        for (int i = 0; i < n; i++)
            l3_buf_printf(out,
                          "-rw-r--r-- 1 root root %5u Nov %2u 12:%02u \x1b[01;34mfile%u.conf\x1b[0m\r\n",
                          s_rand(g) % 50000, 1 + s_rand(g) % 28, s_rand(g) % 60, s_rand(g) % 1000);
    } else if (k < 35) {
        l3_buf_append_str(cmd, "make -j2");
        int n = 6 + (int)(s_rand(g) % 10);
        for (int i = 0; i < n; i++)
            l3_buf_printf(out, "cc -O2 -Wall -c -o obj/unit%u.o src/unit%u.c\r\n", s_rand(g) % 300,
                          s_rand(g) % 300);
        if (s_rand(g) % 4 == 0) {
            l3_buf_append_str(out, "src/net.c:42:7: \x1b[1;31merror:\x1b[0m 'sock' undeclared\r\n"
                                   "make: *** [Makefile:12: obj/net.o] Error 1\r\n");
            r->exit_code = 2;
        }
    } else if (k < 45) {
        l3_buf_printf(cmd, "git log --oneline -n %u", 5 + s_rand(g) % 10);
        int n = 5 + (int)(s_rand(g) % 10);
        for (int i = 0; i < n; i++)
            l3_buf_printf(out, "\x1b[33m%07x\x1b[m fix the parser for case %u\r\n",
                          s_rand(g) & 0xfffffff, s_rand(g) % 100);
    } else if (k < 55) {
        l3_buf_printf(cmd, "grep -rn timeout /etc/service%u | sort | head", s_rand(g) % 10);
        int n = 3 + (int)(s_rand(g) % 8);
        for (int i = 0; i < n; i++)
            l3_buf_printf(out, "/etc/service%u:%u:timeout = %u\r\n", s_rand(g) % 10,
                          s_rand(g) % 400, s_rand(g) % 120);
    } else if (k < 62) {
        l3_buf_printf(cmd, "cd /srv/app%u", s_rand(g) % 5);
    } else if (k < 68) {
        l3_buf_append_str(cmd, "systemclt status nginx");
        l3_buf_append_str(out, "bash: systemclt: command not found\r\n");
        r->exit_code = 127;
    } else if (k < 73) {
        l3_buf_append_str(cmd, "ping -c 100 10.0.0.1");
        l3_buf_append_str(out, "PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.\r\n"
                               "64 bytes from 10.0.0.1: icmp_seq=1 ttl=64 time=0.045 ms\r\n^C\r\n");
        r->exit_code = 130;
        r->signal = 2;
    } else if (k < 78) {
        l3_buf_printf(cmd, "vim /etc/app%u.conf", s_rand(g) % 5);
        r->flags |= L3_FLAG_FULLSCREEN;
        l3_bytes_set(&r->diff,
                     "--- a/etc/app.conf\n+++ b/etc/app.conf\n@@ -1,3 +1,3 @@\n listen 80\n"
                     "-workers 2\n+workers 8\n timeout 30\n",
                     98, L3_DIFF_MAX);
    } else if (k < 81) {
        l3_buf_append_str(cmd, "# restarted the service after the config change");
    } else if (k < 88) {
        l3_buf_printf(cmd, "cat /var/log/app%u.log", s_rand(g) % 5);
        int n = 10 + (int)(s_rand(g) % 40);
        for (int i = 0; i < n; i++)
            l3_buf_printf(out, "2026-11-%02u 10:%02u:%02u INFO request %u served in %u ms\r\n",
                          1 + s_rand(g) % 28, s_rand(g) % 60, s_rand(g) % 60, s_rand(g),
                          s_rand(g) % 900);
    } else if (k < 94) {
        /* as apt and dpkg draw it on a terminal: download progress rewritten with CR,
           then dpkg's progress bar on the last row (the sessions here are 100 x 30), kept out of the scroll region, so
           the output needs the terminal emulator (render/vt.c) to be read */
        /* one draw, as before the progress was drawn: the rest of the data (hosts,
           sessions) stays what the tests that use the generator expect */
        unsigned draw = s_rand(g), pkg = draw % 50, v = draw / 50 % 9, kb = 10 + draw / 450 % 900;
        l3_buf_printf(cmd, "sudo apt-get install -y pkg%u && echo ok", pkg);
        l3_buf_append_str(out, "Reading package lists... Done\r\nBuilding dependency tree... Done\r\n"
                               "0 upgraded, 1 newly installed, 0 to remove.\r\n");
        l3_buf_printf(out, "\r0%% [Working]\r             \rGet:1 http://deb.debian.org/debian "
                           "bookworm/main pkg%u 1.%u-1 [%u kB]\r\n", pkg, v, kb);
        for (unsigned pc = 20; pc < 100; pc += 40)
            l3_buf_printf(out, "\r%u%% [1 pkg%u %u kB/%u kB %u%%]", pc, pkg, kb * pc / 100, kb, pc);
        l3_buf_printf(out, "\r\x1b[KFetched %u kB in 0s (%u kB/s)\r\n", kb, kb * 7);
        /* apt-pkg/install-progress.cc: a new line, then the scroll region above the last */
        l3_buf_append_str(out, "\r\n\x1b" "7\x1b[0;29r\x1b" "8\x1b[1A");
        static const char *steps[] = {"Selecting previously unselected package", "Unpacking",
                                      "Setting up"};
        for (int i = 0; i < 3; i++) {
            l3_buf_printf(out, "%s pkg%u%s\r\n", steps[i], pkg, i ? " ..." : ".");
            l3_buf_printf(out, "\x1b" "7\x1b[30;0f\x1b[42m\x1b[30mProgress: [%3d%%]\x1b[49m\x1b[39m "
                               "[%.*s%.*s] \x1b" "8", 20 + 30 * i, 2 + 3 * i, "##########",
                          8 - 3 * i, "..........");
        }
        l3_buf_append_str(out, "\r\n\x1b" "7\x1b[0;30r\x1b" "8\x1b[1A\x1b[Jok\r\n");
    } else {
        l3_buf_printf(cmd, "df -h | grep sda%u", s_rand(g) % 4);
        l3_buf_printf(out, "/dev/sda%u  50G  %uG  %uG  %u%% /\r\n", s_rand(g) % 4, s_rand(g) % 50,
                      s_rand(g) % 50, s_rand(g) % 100);
        if (s_rand(g) % 3 == 0)
            r->exit_code = 1;
    }
}

/* Records that try to break the journal. */
static bool s_hostile(gen_t *g, const char *host, const char *user, const char *sid, uint64_t *nr)
{
    static const char *lines[] = {
        "echo '<script>alert(1)</script>'",
        "cat '</pre><img src=x onerror=alert(2)>'",
        "printf '\\xff\\xfe broken'",
        "echo $'\\e]0;title\\a\\e[2J\\e[?1049h junk'",
        "yes | head -c 10000000 | tr -d '\\n'",
    };
    bool ok = true;
    for (size_t i = 0; i < sizeof lines / sizeof lines[0] && ok; i++) {
        l3_record_t r;
        l3_record_init(&r);
        r.type = L3_RECORD_COMMAND;
        l3_text_set(r.host, sizeof r.host, host);
        l3_text_set(r.user, sizeof r.user, user);
        l3_text_set(r.sid, sizeof r.sid, sid);
        r.nr = ++*nr;
        r.start_us = g->now_us;
        g->now_us += 300000;
        r.end_us = g->now_us;
        r.has_exit = true;
        l3_bytes_set(&r.cwd, "/tmp/<b>", 8, L3_CWD_MAX);
        l3_bytes_set(&r.cmdline, lines[i], strlen(lines[i]), L3_CMDLINE_MAX);
        if (i == 0) {
            const char *o = "<script>alert(1)</script>\r\n</pre></div><h1>x</h1>\r\n";
            l3_bytes_set(&r.output, o, strlen(o), L3_OUTPUT_MAX);
        } else if (i == 1) {
            const char *o = "<img src=x onerror=\"document.title='PWNED'\">\r\n</pre>\r\n"
                            "<a href=\"javascript:alert(3)\">x</a>\r\n";
            l3_bytes_set(&r.output, o, strlen(o), L3_OUTPUT_MAX);
        } else if (i == 2) {
            const char o[] = "\xff\xfe broken \xc3\x28 utf8 \xed\xa0\x80 end\r\n";
            l3_bytes_set(&r.output, o, sizeof o - 1, L3_OUTPUT_MAX);
            r.exit_code = 1;
        } else if (i == 3) {
            const char o[] = "\x1b]0;title\x07\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\"
                             "\x1b[2J\x1b[H\x1bP+q544e\x1b\\\x1b[38;2;255;0;0mred\x1b[0m junk\r\n";
            l3_bytes_set(&r.output, o, sizeof o - 1, L3_OUTPUT_MAX);
        } else {
            /* 10 MB of "y": the agent keeps head and tail, counts what it dropped. */
            size_t keep = L3_OUTPUT_MAX;
            char *o = malloc(keep);
            if (!o)
                return false;
            memset(o, 'y', keep);
            l3_bytes_set(&r.output, o, keep, L3_OUTPUT_MAX);
            free(o);
            r.output_head = keep / 2;
            r.dropped = 10000000 - keep;
            r.flags |= L3_FLAG_TRUNCATED;
        }
        ok = s_emit(g, &r);
        l3_record_clear(&r);
    }
    return ok;
}

/* The command lines of --lines: the file's bytes, cut at each separator (newline, or NUL
   with --null) in place. Empty lines are skipped. */
typedef struct {
    char *data;
    size_t size;
    size_t count, cap;
    const uint8_t **line;
    size_t *len;
} lines_t;

static void s_lines_free(lines_t *ls)
{
    free(ls->data);
    free(ls->line);
    free(ls->len);
    *ls = (lines_t){0};
}

/* Read path whole and split it at sep; false with a message on stderr. */
static bool s_lines_read(lines_t *ls, const char *path, char sep)
{
    bool ok = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "l3-render-gen: %s: %s\n", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > LINES_FILE_MAX) {
        fprintf(stderr, "l3-render-gen: %s: not a regular file of at most %u MB\n", path,
                LINES_FILE_MAX >> 20);
        goto cleanup;
    }
    ls->data = malloc((size_t)st.st_size + 1);
    if (!ls->data)
        goto cleanup;
    while (ls->size < (size_t)st.st_size) {
        ssize_t n = read(fd, ls->data + ls->size, (size_t)st.st_size - ls->size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "l3-render-gen: %s: %s\n", path, n ? strerror(errno) : "shrank");
            goto cleanup;
        }
        ls->size += (size_t)n;
    }
    for (size_t at = 0; at < ls->size;) {
        char *end = memchr(ls->data + at, sep, ls->size - at);
        size_t len = (end ? (size_t)(end - ls->data) : ls->size) - at;
        if (len > L3_CMDLINE_MAX) {
            fprintf(stderr, "l3-render-gen: %s: command %zu is over %u bytes\n", path,
                    ls->count + 1, L3_CMDLINE_MAX);
            goto cleanup;
        }
        if (len && ls->count == ls->cap) {
            size_t ncap = ls->cap ? ls->cap * 2 : 1024;
            const uint8_t **nl = realloc(ls->line, ncap * sizeof *nl);
            if (nl)
                ls->line = nl;
            size_t *nlen = realloc(ls->len, ncap * sizeof *nlen);
            if (nlen)
                ls->len = nlen;
            if (!nl || !nlen)
                goto cleanup;
            ls->cap = ncap;
        }
        if (len) {
            ls->line[ls->count] = (const uint8_t *)ls->data + at;
            ls->len[ls->count++] = len;
        }
        at += len + 1;
    }
    ok = true;
cleanup:
    if (fd >= 0)
        close(fd);
    if (!ok)
        fprintf(stderr, "l3-render-gen: cannot read the command lines of %s\n", path);
    return ok;
}

/* The recorded life of one given command line: mostly it succeeds, sometimes printing
   its own text (as echo would, through a terminal: CR LF), now and then it fails, is not
   found (the shell's message names its first word) or is interrupted. */
static void s_line_command(gen_t *g, l3_record_t *r, l3_buf_t *out, const uint8_t *line, size_t len)
{
    l3_buf_reset(out);
    uint32_t k = s_rand(g) % 100;
    r->has_exit = true;
    r->exit_code = 0;
    if (k < 40) {
        for (size_t i = 0; i < len; i++) {
            if (line[i] == '\n')
                l3_buf_append_byte(out, '\r');
            l3_buf_append_byte(out, line[i]);
        }
        l3_buf_append_str(out, "\r\n");
        if (out->failed)
            l3_buf_reset(out); /* a line near the cap does not fit twice: no echo */
    } else if (k < 50) {
        r->exit_code = 1;
    } else if (k < 53) {
        size_t lead = 0, wl = 0;
        while (lead < len && (line[lead] == ' ' || line[lead] == '\t'))
            lead++;
        while (lead + wl < len && wl < 64 && line[lead + wl] != ' ' && line[lead + wl] != '\t' &&
               line[lead + wl] != '\n')
            wl++;
        l3_buf_append_str(out, "bash: ");
        l3_buf_append(out, line + lead, wl);
        l3_buf_append_str(out, ": command not found\r\n");
        r->exit_code = 127;
    } else if (k < 55) {
        l3_buf_append_str(out, "^C\r\n");
        r->exit_code = 130;
        r->signal = 2;
    }
}

static void s_usage(FILE *f)
{
    fprintf(f, "usage: l3-render-gen [-o FILE] [-n COMMANDS] [--per-session N] [--seed N]\n"
               "                     [--start UNIX_SECONDS] [--hostile] [--open] [--no-footer]\n"
               "                     [--push WRITER_ENDPOINT --acks ACK_ENDPOINT]\n"
               "                     [--append HOST/USER/SID/LAST_NR] [--lines FILE [--null]]\n"
               "Writes a synthetic lilalo datafile (the writer's exact format) for tests and\n"
               "benchmarks. Default: 1000 commands to stdout. With --push the records go to a\n"
               "running l3-writer (agent id \"gen\", a fresh epoch) and it waits for the ack\n"
               "of the last one (10 s at most). --append adds -n commands to an open session.\n"
               "--lines FILE: one command per line of FILE, its bytes exactly, in order (-n is\n"
               "ignored; empty lines are skipped); --null: commands are NUL-terminated instead,\n"
               "so one may span several lines.\n");
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    uint64_t ncmd = 1000, per_session = 50, seed = 1;
    int64_t start_s = 1795000000; /* Nov 2026 */
    bool hostile = false, open_last = false, footer = true;
    const char *push = NULL, *acks = NULL;
    char app_host[256] = "", app_user[256] = "", app_sid[65] = "";
    uint64_t app_nr = 0;
    const char *lines_path = NULL;
    bool null_sep = false;
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"per-session", required_argument, 0, 'p'},
                                         {"seed", required_argument, 0, 's'},
                                         {"start", required_argument, 0, 't'},
                                         {"hostile", no_argument, 0, 'H'},
                                         {"open", no_argument, 0, 'O'},
                                         {"no-footer", no_argument, 0, 'F'},
                                         {"push", required_argument, 0, 'P'},
                                         {"append", required_argument, 0, 'a'},
                                         {"acks", required_argument, 0, 'A'},
                                         {"lines", required_argument, 0, 'L'},
                                         {"null", no_argument, 0, 'z'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "ho:n:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': s_usage(stdout); return 0;
        case 'o': path = optarg; break;
        case 'n': ncmd = strtoull(optarg, NULL, 10); break;
        case 'p': per_session = strtoull(optarg, NULL, 10); break;
        case 's': seed = strtoull(optarg, NULL, 10); break;
        case 't': start_s = strtoll(optarg, NULL, 10); break;
        case 'H': hostile = true; break;
        case 'O': open_last = true; break;
        case 'F': footer = false; break;
        case 'P': push = optarg; break;
        case 'A': acks = optarg; break;
        case 'L': lines_path = optarg; break;
        case 'z': null_sep = true; break;
        case 'a':
            if (sscanf(optarg, "%255[^/]/%255[^/]/%64[^/]/%" SCNu64, app_host, app_user, app_sid,
                       &app_nr) != 4) {
                fprintf(stderr, "l3-render-gen: --append wants HOST/USER/SID/LAST_NR\n");
                return 2;
            }
            break;
        default: s_usage(stderr); return 2;
        }
    }
    if (per_session == 0)
        per_session = 1;
    lines_t lines = {0};
    if (lines_path) {
        if (!s_lines_read(&lines, lines_path, null_sep ? '\0' : '\n')) {
            s_lines_free(&lines);
            return 1;
        }
        ncmd = lines.count;
    }
    gen_t g = {0};
    g.rng = seed * 2654435761u + 88172645463325252ull;
    g.now_us = start_s * 1000000;
    void *zctx = NULL;
    uint64_t epoch = 1;
    if (push) {
        /* A fresh epoch per run: the writer treats it as a new stream. */
        epoch = (uint64_t)l3_time_now_us();
        zctx = zmq_ctx_new();
        g.push = zmq_socket(zctx, ZMQ_PUSH);
        g.sub = zmq_socket(zctx, ZMQ_SUB);
        zmq_setsockopt(g.sub, ZMQ_SUBSCRIBE, "gen", 3);
        if (zmq_connect(g.push, push) != 0 || !acks || zmq_connect(g.sub, acks) != 0) {
            fprintf(stderr, "l3-render-gen: cannot connect to %s / %s\n", push,
                    acks ? acks : "(no --acks)");
            return 1;
        }
        g.out = fopen("/dev/null", "w");
    } else {
        g.out = path ? fopen(path, "w") : stdout;
    }
    g.epoch = epoch;
    if (!g.out) {
        fprintf(stderr, "l3-render-gen: %s: %s\n", path, strerror(errno));
        return 1;
    }
    setvbuf(g.out, NULL, _IOFBF, 1 << 20);
    l3_buf_init(&g.line, 0);
    l3_buf_t out, cmd;
    l3_buf_init(&out, L3_OUTPUT_MAX);
    l3_buf_init(&cmd, L3_CMDLINE_MAX);
    if (!push)
        fputs(L3_XML_HEADER, g.out);
    bool ok = true;
    uint64_t done = 0, session = 0;
    while (ok && (done < ncmd || (hostile && session == 0))) {
        const char *host = s_hosts[s_rand(&g) % 6];
        const char *user = s_users[session % 5];
        char sid[65];
        snprintf(sid, sizeof sid, "20261124T1000%02u-%" PRIu64 "-a%03x", (unsigned)(session % 60),
                 1000 + session, s_rand(&g) & 0xfff);
        session++;
        bool append = app_sid[0] != 0;
        if (append) {
            host = app_host;
            user = app_user;
            snprintf(sid, sizeof sid, "%s", app_sid);
            per_session = ncmd;
            open_last = true;
            g.now_us = l3_time_now_us() - 1000000 * (int64_t)ncmd * 40;
        }
        l3_record_t r;
        l3_record_init(&r);
        r.type = L3_RECORD_SESSION;
        l3_text_set(r.host, sizeof r.host, host);
        l3_text_set(r.user, sizeof r.user, user);
        l3_text_set(r.sid, sizeof r.sid, sid);
        r.start_us = g.now_us;
        r.uid = strcmp(user, "root") ? 1000 + (uint32_t)(session % 5) : 0;
        r.pid = 4000 + (uint32_t)session;
        r.cols = 100;
        r.rows = 30;
        l3_text_set(r.tty, sizeof r.tty, "/dev/pts/3");
        l3_text_set(r.shell, sizeof r.shell, "/bin/bash");
        if (!append)
            ok = s_emit(&g, &r);
        l3_record_clear(&r);
        uint64_t nr = append ? app_nr : 0;
        char cwd[64] = "/home/x";
        if (hostile && session == 1)
            ok = ok && s_hostile(&g, host, user, sid, &nr);
        for (uint64_t i = 0; ok && i < per_session && done < ncmd; i++, done++) {
            l3_record_init(&r);
            r.type = L3_RECORD_COMMAND;
            l3_text_set(r.host, sizeof r.host, host);
            l3_text_set(r.user, sizeof r.user, user);
            l3_text_set(r.sid, sizeof r.sid, sid);
            r.nr = ++nr;
            g.now_us += 1000000 + (int64_t)(s_rand(&g) % 30000000);
            r.start_us = g.now_us;
            /* Every session has each kind the journal shows differently, early on. */
            static const int kinds[] = {-1, 40, 20, 75, 80, 65, 70, 85};
            if (lines_path) {
                l3_buf_reset(&cmd);
                l3_buf_append(&cmd, lines.line[done], lines.len[done]);
                s_line_command(&g, &r, &out, lines.line[done], lines.len[done]);
            } else {
                s_command(&g, &r, &out, &cmd, i < 8 ? kinds[i] : -1);
            }
            g.now_us += 1000 + (int64_t)(s_rand(&g) % 3000000);
            r.end_us = g.now_us;
            if (i % 7 == 0)
                snprintf(cwd, sizeof cwd, "/srv/app%u", s_rand(&g) % 5);
            l3_bytes_set(&r.cwd, cwd, strlen(cwd), L3_CWD_MAX);
            l3_bytes_set(&r.cmdline, cmd.data, cmd.len, L3_CMDLINE_MAX);
            if (out.len) {
                char timing[64];
                size_t half = out.len / 2;
                int tn = snprintf(timing, sizeof timing, "0.010000 %zu\n0.250000 %zu\n", half,
                                  out.len - half);
                l3_bytes_set(&r.output, out.data, out.len, L3_OUTPUT_MAX);
                l3_bytes_set(&r.timing, timing, (size_t)tn, L3_TIMING_MAX);
            }
            ok = s_emit(&g, &r);
            l3_record_clear(&r);
        }
        if (ok && !(open_last && done >= ncmd)) {
            l3_record_init(&r);
            r.type = L3_RECORD_END;
            l3_text_set(r.host, sizeof r.host, host);
            l3_text_set(r.user, sizeof r.user, user);
            l3_text_set(r.sid, sizeof r.sid, sid);
            g.now_us += 500000;
            r.end_us = g.now_us;
            r.has_exit = true;
            ok = s_emit(&g, &r);
            l3_record_clear(&r);
        }
        /* Days pass between some sessions so the journal has several day headings. */
        if (session % 7 == 0)
            g.now_us += 20 * 3600 * 1000000ll;
    }
    if (footer && !push)
        fputs(L3_XML_FOOTER, g.out);
    if (fflush(g.out) != 0)
        ok = false;
    if (g.push && ok) {
        /* Wait for the cumulative ack of the last record. */
        int64_t deadline = l3_time_mono_us() + 10000000;
        ok = false;
        while (l3_time_mono_us() < deadline) {
            zmq_pollitem_t it = {g.sub, 0, ZMQ_POLLIN, 0};
            if (zmq_poll(&it, 1, 200) <= 0)
                continue;
            char id[80];
            uint8_t body[512];
            int il = zmq_recv(g.sub, id, sizeof id, 0);
            int bl = zmq_recv(g.sub, body, sizeof body, 0);
            l3_msg_t m;
            char err[128];
            l3_msg_init(&m);
            if (il == 3 && bl > 0 && l3_msg_decode(body, (size_t)bl, &m, err, sizeof err) &&
                m.kind == L3_MSG_ACK && m.epoch == g.epoch && m.seq >= g.seq) {
                l3_msg_clear(&m);
                ok = true;
                break;
            }
            l3_msg_clear(&m);
        }
        if (!ok)
            fprintf(stderr, "l3-render-gen: no ack for seq %" PRIu64 " from the writer\n", g.seq);
    }
    if (g.push) {
        int linger = 0;
        zmq_setsockopt(g.push, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(g.sub, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(g.push);
        zmq_close(g.sub);
        zmq_ctx_term(zctx);
    }
    if (path || push)
        fclose(g.out);
    l3_buf_free(&g.line);
    l3_buf_free(&out);
    l3_buf_free(&cmd);
    s_lines_free(&lines);
    if (!ok)
        fprintf(stderr, "l3-render-gen: failed after %" PRIu64 " records\n", g.written);
    return ok ? 0 : 1;
}
