/*  rec_shells_test — the inner shells' nonce server (agent/rec_shells.h) driven directly:
    this process plays the recorder (its own poll loop, a real spool, a real chain) and its
    children are real bash processes asking through the real client (this binary again, as
    `rec_shells_test ask RECORDER SHELL [N]`), so the process tree is the one the server
    judges. What the session test (rec_nonce_test.sh) cannot reach is checked here:

      - the mark waits for the terminal's ground state: written after the output that
        ends an open sequence, or after REC_SHELLS_GROUND_MS when none comes;
      - depth is capped at REC_SHELLS_DEPTH_MAX (18 nested shells);
      - a full table drops dead shells first (a living depth-1 shell keeps its children at
        depth 2 after 70 others came and went);
      - at most REC_SHELLS_NONCES_MAX nonces per session;
      - connections that send nothing, half a line, a line too long or not a pid are
        closed without a reply, and holding every slot only delays the others;
      - every shell mark's proof chains from the anchor, in order;
      - the script filter learns each nonce given, numbered as the parser numbers the
        shell marks: the k-th mark's nonce goes into .script as "=k".

    Events, not sleeps: the loop polls the server's fds and a pidfd of the child. */
#include "l3_sha256.h"
#include "l3_test.h"
#include "l3_time.h"
#include "rec_marks.h"
#include "rec_shells.h"
#include "rec_spool.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_DEADLINE_US (60 * 1000000LL) /* for any one step: a hang is a failure */

static char s_self[PATH_MAX]; /* this binary, for the children */
static char s_dir[PATH_MAX];  /* temp dir: spool and the children's files */
static rec_shells_t *s_shells;
static rec_marks_t s_marks;
static rec_filter_script_t s_filter; /* the session shell's nonce is its number 0 */
static rec_spool_t *s_spool;
static char s_anchor[REC_MARKS_ANCHOR_HEX + 1];
static const char *s_sid = "20260101T000000-1-abcd";

/* Client mode: `ask RECORDER SHELL N` prints N lines, a nonce or "-" each. */
static int s_client_ask(int argc, char **argv)
{
    char nonce[REC_SHELLS_NONCE_HEX + 1], why[256];
    int n = argc > 4 ? atoi(argv[4]) : 1;
    for (int i = 0; i < n; i++) {
        if (rec_shells_request((pid_t)atoi(argv[2]), (pid_t)atoi(argv[3]), nonce, why,
                               sizeof why))
            printf("%s\n", nonce);
        else
            printf("-\n");
    }
    return 0;
}

/* Client mode: `raw RECORDER TEXT`: connect, send TEXT as is (empty: nothing), wait for
   the server to close; prints what came back, "reply[...]". */
static int s_client_raw(int argc, char **argv)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char buf[128];
    size_t got = 0;
    int n = snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, REC_SHELLS_NAME, atoi(argv[2]));
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (argc < 4 || fd < 0 ||
        connect(fd, (struct sockaddr *)&sa, (socklen_t)(sizeof(sa_family_t) + 1 + (size_t)n)) < 0)
        return 2;
    if (argv[3][0])
        send(fd, argv[3], strlen(argv[3]), MSG_NOSIGNAL);
    for (;;) {
        ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    printf("reply[%s]\n", buf);
    return 0;
}

/* Run `bash -c SCRIPT` (T=temp dir, REC=our pid, ASK=the client) and serve requests until
   it exits, or until stop() says so (then the child is left running). Returns the exit
   status, -1 when stopped, -2 on a timeout. */
static int s_serve(const char *script, bool (*stop)(void), pid_t *child_out)
{
    char rec[16];
    snprintf(rec, sizeof rec, "%d", (int)getpid());
    pid_t child = fork();
    if (child == 0) {
        setenv("T", s_dir, 1);
        setenv("REC", rec, 1);
        setenv("ASK", s_self, 1);
        execl("/bin/bash", "bash", "-c", script, (char *)NULL);
        _exit(127);
    }
    if (child_out)
        *child_out = child;
    int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
    int64_t deadline = l3_time_mono_us() + S_DEADLINE_US;
    int result = -2;
    while (l3_time_mono_us() < deadline) {
        struct pollfd fds[1 + REC_SHELLS_POLL_MAX];
        fds[0] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
        int n = rec_shells_poll_fds(s_shells, fds + 1, REC_SHELLS_POLL_MAX);
        int timeout = rec_shells_timeout_ms(s_shells, l3_time_mono_us());
        if (timeout < 0 || timeout > 100)
            timeout = 100; /* only for the overall deadline */
        int r = poll(fds, (nfds_t)(1 + n), timeout);
        rec_shells_handle(s_shells, fds + 1, r > 0 ? n : 0, l3_time_mono_us());
        rec_spool_flush(s_spool);
        if (stop && stop()) {
            result = -1;
            break;
        }
        if (r > 0 && (fds[0].revents & POLLIN)) {
            int status = 0;
            waitpid(child, &status, 0);
            result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
    }
    if (result == -2) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    close(pidfd);
    return result;
}

/* Write a script into the temp dir. */
static void s_script(const char *name, const char *text)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* The whole of a file (NUL-terminated; caller frees), NULL when absent. */
static char *s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = NULL;
    size_t cap = 0, n = 0, r;
    do {
        if (n + 4096 + 1 > cap) {
            cap = 2 * cap + 8192;
            data = realloc(data, cap);
        }
        r = fread(data + n, 1, cap - n - 1, f);
        n += r;
    } while (r > 0);
    fclose(f);
    data[n] = '\0';
    if (len)
        *len = n;
    return data;
}

static void s_hex_sha256(const char *text, size_t len, char out[65])
{
    uint8_t d[L3_SHA256_LEN];
    l3_sha256(text, len, d);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

/* The shell marks of .script, checked: every recorder mark's proof hashes to the one
   before (the anchor first). Fills hashes/depths in order; returns how many. */
#define S_MARKS_MAX 1200
static char s_hash[S_MARKS_MAX][65];
static int s_depth[S_MARKS_MAX];
static size_t s_offset[S_MARKS_MAX]; /* where in .script */
static int s_shell_marks(char **script_out)
{
    char path[PATH_MAX + 64], last[65];
    snprintf(path, sizeof path, "%s/%s.script", s_dir, s_sid);
    size_t len = 0;
    char *script = s_slurp(path, &len);
    int n = 0;
    memcpy(last, s_anchor, 65);
    for (char *p = script; p && (p = strstr(p, "\033]6973;rec;")) != NULL; p++) {
        char proof[65], hash[65];
        int depth = -1, used = 0;
        memcpy(proof, p + 11, 64);
        proof[64] = '\0';
        uint8_t raw[32];
        for (int i = 0; i < 32; i++)
            sscanf(proof + 2 * i, "%2hhx", &raw[i]);
        char h[65];
        uint8_t d[32];
        l3_sha256(raw, 32, d);
        for (int i = 0; i < 32; i++)
            sprintf(h + 2 * i, "%02x", d[i]);
        CHECK_MSG(strcmp(h, last) == 0, "mark %d: proof does not chain", n);
        memcpy(last, proof, 65);
        if (sscanf(p + 11 + 64, ";shell;%64[0-9a-f];%d\a%n", hash, &depth, &used) == 2 && used &&
            n < S_MARKS_MAX) {
            memcpy(s_hash[n], hash, 65);
            s_depth[n] = depth;
            s_offset[n] = (size_t)(p - script);
            n++;
        }
    }
    if (script_out)
        *script_out = script;
    else
        free(script);
    return n;
}

/* The depth registered for the nonce on line `line` (0-based) of file `name` in the temp
   dir; -1 when it has no mark, -2 when the line is no nonce. */
static int s_depth_of(const char *name, int line)
{
    char path[PATH_MAX + 64], hash[65];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    char *text = s_slurp(path, NULL);
    char *p = text;
    for (int i = 0; p && i < line; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    int result = -2;
    if (p && strspn(p, "0123456789abcdef") == 32 && p[32] == '\n') {
        s_hex_sha256(p, 32, hash);
        result = -1;
        int n = s_shell_marks(NULL);
        for (int i = 0; i < n; i++) {
            if (strcmp(s_hash[i], hash) != 0)
                continue;
            result = s_depth[i];
            //  What .script gets for it: the number of its shell mark.
            uint8_t out[64 + REC_FILTER_SCRIPT_SLACK], in[34] = ".";
            char want[16];
            memcpy(in + 1, p, 32);
            in[33] = '.';
            size_t o = rec_filter_script_run(&s_filter, in, sizeof in, out);
            snprintf(want, sizeof want, ".=%d.", i + 1);
            CHECK_MSG(o == strlen(want) && memcmp(out, want, o) == 0,
                      "%s line %d: the nonce of shell mark %d goes into .script as [%.*s]",
                      name, line, i + 1, (int)o, (char *)out);
        }
    }
    free(text);
    return result;
}

/* Lines in file `name` that are nonces, and the others. */
static void s_count(const char *name, int *nonces, int *others)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    char *text = s_slurp(path, NULL);
    *nonces = *others = 0;
    for (char *p = text; p && *p;) {
        char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len == 32 && strspn(p, "0123456789abcdef") == 32)
            (*nonces)++;
        else
            (*others)++;
        p += len + (nl ? 1 : 0);
    }
    free(text);
}

/* Depth: this process stands for the session's top shell (registered at depth 0), so
   the first shell below it is at depth 1, and each nested one a level more, up to the
   cap. A script file, not `bash -c`: bash would exec the last command of a -c string and
   the next level would be the same process. */
static void s_test_depth(void)
{
    s_script("lvl.sh", "\"$ASK\" ask \"$REC\" $$ >\"$T/depth.$1\"\n"
                       "[ \"$1\" -lt 17 ] && bash \"$T/lvl.sh\" $(($1 + 1))\n"
                       "true\n");
    CHECK(s_serve("bash \"$T/lvl.sh\" 0", NULL, NULL) == 0);
    for (int level = 0; level <= 17; level++) {
        char name[32];
        snprintf(name, sizeof name, "depth.%d", level);
        int want = level + 1 < REC_SHELLS_DEPTH_MAX ? level + 1 : REC_SHELLS_DEPTH_MAX;
        int got = s_depth_of(name, 0);
        CHECK_MSG(got == want, "level %d: depth %d, want %d", level, got, want);
    }
}

/* A full table drops the shells that are gone first: a living shell P at depth 1 runs 70
   shells that ask and exit, then a grandchild of it asks: still depth 2 (dropping the
   oldest entries instead would have dropped P by then). */
static void s_test_table(void)
{
    s_script("p.sh", "\"$ASK\" ask \"$REC\" $$ >\"$T/table.p\"\n"
                     "for i in $(seq 70); do bash \"$T/ask1.sh\" table.kids; done\n"
                     "bash -c 'bash \"$T/ask1.sh\" table.r; true'\n"
                     "true\n");
    CHECK(s_serve("bash \"$T/p.sh\"", NULL, NULL) == 0);
    int nonces, others;
    s_count("table.kids", &nonces, &others);
    CHECK_MSG(nonces == 70 && others == 0, "kids: %d nonces, %d others", nonces, others);
    CHECK(s_depth_of("table.p", 0) == 1);
    CHECK(s_depth_of("table.kids", 69) == 2);
    CHECK_MSG(s_depth_of("table.r", 0) == 2, "grandchild depth %d", s_depth_of("table.r", 0));
}

/* The mark waits for the ground state. */
static bool s_one_waiting(void)
{
    return rec_shells_waiting(s_shells) == 1;
}

static void s_test_ground(void)
{
    static const char open_osc[] = "\033]0;tit", close_osc[] = "le\a";
    char *text = NULL;
    pid_t child;

    //  An open sequence, closed by later output: the mark comes right after the close.
    rec_spool_write(s_spool, (const uint8_t *)open_osc, sizeof open_osc - 1, l3_time_mono_us());
    rec_marks_track(&s_marks, (const uint8_t *)open_osc, sizeof open_osc - 1);
    unsigned given = rec_shells_given(s_shells);
    CHECK(s_serve("bash \"$T/ask1.sh\" ground.1", s_one_waiting, &child) == -1);
    CHECK(rec_shells_given(s_shells) == given); /* not yet */
    rec_spool_write(s_spool, (const uint8_t *)close_osc, sizeof close_osc - 1, l3_time_mono_us());
    rec_marks_track(&s_marks, (const uint8_t *)close_osc, sizeof close_osc - 1);
    rec_shells_handle(s_shells, NULL, 0, l3_time_mono_us());
    CHECK(rec_shells_given(s_shells) == given + 1); /* at once */
    rec_spool_flush(s_spool);
    waitpid(child, NULL, 0);
    int n = s_shell_marks(&text);
    CHECK(n > 0 && s_offset[n - 1] >= 3 && memcmp(text + s_offset[n - 1] - 3, close_osc, 3) == 0);
    free(text);
    CHECK(s_depth_of("ground.1", 0) == 1);

    //  Left open: written anyway after REC_SHELLS_GROUND_MS, and the terminal is at its
    //  ground state after it (the mark's ESC ended the sequence).
    rec_spool_write(s_spool, (const uint8_t *)open_osc, sizeof open_osc - 1, l3_time_mono_us());
    rec_marks_track(&s_marks, (const uint8_t *)open_osc, sizeof open_osc - 1);
    CHECK(s_serve("bash \"$T/ask1.sh\" ground.2", s_one_waiting, &child) == -1);
    int64_t t0 = l3_time_mono_us();
    while (rec_shells_given(s_shells) == given + 1 && l3_time_mono_us() < t0 + S_DEADLINE_US) {
        struct pollfd fds[REC_SHELLS_POLL_MAX];
        int k = rec_shells_poll_fds(s_shells, fds, REC_SHELLS_POLL_MAX);
        int r = poll(fds, (nfds_t)k, rec_shells_timeout_ms(s_shells, l3_time_mono_us()));
        rec_shells_handle(s_shells, fds, r > 0 ? k : 0, l3_time_mono_us());
    }
    int64_t waited_ms = (l3_time_mono_us() - t0) / 1000;
    CHECK_MSG(waited_ms >= REC_SHELLS_GROUND_MS - 10 && waited_ms < 5000,
              "answered after %lld ms", (long long)waited_ms);
    CHECK(rec_marks_at_ground(&s_marks));
    rec_spool_flush(s_spool);
    waitpid(child, NULL, 0);
    n = s_shell_marks(&text);
    CHECK(n > 0 && s_offset[n - 1] >= 7 && memcmp(text + s_offset[n - 1] - 7, open_osc, 7) == 0);
    free(text);
    CHECK(s_depth_of("ground.2", 0) == 1);
}

/* Requests that are not one: closed without a reply; slots held by silent peers only
   delay the others. */
static void s_test_refusals(void)
{
    unsigned given = rec_shells_given(s_shells);
    s_script("raw.sh",
             "for t in '' '123' 'abc\n' '0\n' '-5\n' '1\n' '99999999999\n' "
             "'12345678901234567890\n' \"$$\" \"$$\n$$\n\" \" $$\n\"; do\n"
             "    \"$ASK\" raw \"$REC\" \"$t\"\n"
             "done >\"$T/raw\"\n"
             //  The same by hand, well formed: answered (the raw client works).
             "\"$ASK\" raw \"$REC\" \"$$\n\" >\"$T/raw.ok\"\n"
             //  Four silent peers take every slot; a real request waits and gets through.
             "for i in 1 2 3 4; do \"$ASK\" raw \"$REC\" '' >>\"$T/silent\" & done\n"
             "bash \"$T/ask1.sh\" after\n"
             "wait\n");
    CHECK(s_serve("bash \"$T/raw.sh\"", NULL, NULL) == 0);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/raw", s_dir);
    char *raw = s_slurp(path, NULL);
    int replies = 0;
    for (char *p = raw; p && (p = strstr(p, "reply[")) != NULL; p++) {
        CHECK_MSG(p[6] == ']', "a malformed request got a reply: %.40s", p);
        replies++;
    }
    CHECK_MSG(replies == 11, "%d raw requests closed", replies);
    free(raw);
    snprintf(path, sizeof path, "%s/raw.ok", s_dir);
    raw = s_slurp(path, NULL);
    CHECK_MSG(raw && strlen(raw) == 6 + 33 + 2 && raw[6 + 32] == '\n', "raw.ok: [%s]", raw);
    free(raw);
    int nonces, others;
    s_count("silent", &nonces, &others);
    CHECK(nonces == 0 && others == 4);
    CHECK(s_depth_of("after", 0) == 2);
    CHECK(rec_shells_given(s_shells) == given + 2);
}

/* At most REC_SHELLS_NONCES_MAX nonces in a session. */
static void s_test_cap(void)
{
    unsigned given = rec_shells_given(s_shells);
    char script[128];
    //  One shell asks twice: it has a nonce, so the second is refused (rec_shells.h: a
    //  registered shell asks again only after exec). Then the shell execs itself before
    //  each request (a new program image each time) until the cap.
    CHECK(s_serve("bash \"$T/ask1.sh\" twice 2", NULL, NULL) == 0);
    int nonces, others;
    s_count("twice", &nonces, &others);
    CHECK_MSG(nonces == 1 && others == 1, "twice: %d nonces, %d refused", nonces, others);
    given = rec_shells_given(s_shells);
    s_script("askx.sh", "\"$ASK\" ask \"$REC\" $$ 1 >>\"$T/$1\"\n"
                        "[ \"$2\" -gt 1 ] && exec bash \"$0\" \"$1\" $(($2 - 1))\ntrue\n");
    //  The cap, lowered for the test (a thousand shells under ASan take minutes); the
    //  real one is REC_SHELLS_NONCES_MAX.
    unsigned cap = given + 20;
    rec_shells_set_max(s_shells, cap);
    snprintf(script, sizeof script, "bash \"$T/askx.sh\" cap %u", cap - given + 5);
    CHECK(s_serve(script, NULL, NULL) == 0);
    s_count("cap", &nonces, &others);
    CHECK_MSG(nonces == (int)(cap - given) && others == 5,
              "%d nonces, %d refused", nonces, others);
    CHECK(rec_shells_given(s_shells) == cap);
    CHECK(s_shell_marks(NULL) == (int) cap);
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "ask") == 0)
        return s_client_ask(argc, argv);
    if (argc >= 3 && strcmp(argv[1], "raw") == 0)
        return s_client_raw(argc, argv);

    ssize_t n = readlink("/proc/self/exe", s_self, sizeof s_self - 1);
    CHECK(n > 0);
    s_self[n > 0 ? n : 0] = '\0';
    snprintf(s_dir, sizeof s_dir, "/tmp/rec_shells_test.XXXXXX");
    CHECK(mkdtemp(s_dir) != NULL);
    signal(SIGPIPE, SIG_IGN);

    s_shells = rec_shells_new();
    CHECK(s_shells != NULL);
    CHECK(rec_shells_new() == NULL && errno == EADDRINUSE); /* the name is taken: none */
    CHECK(rec_marks_init(&s_marks, s_anchor));
    s_spool = rec_spool_new(s_dir, s_sid, "version=1\n", "Script started\n");
    CHECK(s_spool != NULL);
    if (!s_shells || !s_spool)
        TEST_DONE();

    //  Not started yet: nothing to poll, requests wait in the backlog.
    struct pollfd fds[REC_SHELLS_POLL_MAX];
    CHECK(rec_shells_poll_fds(s_shells, fds, REC_SHELLS_POLL_MAX) == 0);
    //  This process plays the recorder and stands for its top shell too (depth 0).
    rec_filter_script_init(&s_filter);
    CHECK(rec_filter_script_add(&s_filter, "0123456789abcdef0123456789abcdef") == 0);
    rec_shells_start(s_shells, getpid(), &s_marks, s_spool, &s_filter);
    s_script("ask1.sh", "\"$ASK\" ask \"$REC\" $$ ${2:-1} >>\"$T/$1\"\n");

    s_test_depth();
    s_test_table();
    s_test_ground();
    s_test_refusals();
    s_test_cap();

    //  The filter knows the session shell's nonce and every nonce given, no other.
    CHECK_MSG(s_filter.count == rec_shells_given(s_shells) + 1, "%zu nonces known, %u given",
              s_filter.count, rec_shells_given(s_shells));
    CHECK(s_shell_marks(NULL) == (int)rec_shells_given(s_shells));
    rec_shells_destroy(&s_shells);
    CHECK(s_shells == NULL);
    rec_shells_destroy(&s_shells); /* NULL is fine */
    rec_spool_destroy(&s_spool);
    rec_marks_wipe(&s_marks);
    rec_filter_script_wipe(&s_filter);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", s_dir);
    TEST_DONE();
}
