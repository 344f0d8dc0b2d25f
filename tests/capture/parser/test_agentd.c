/*  test_agentd — the l3-agent daemon against a spool that grows while the agent is killed
    with SIGKILL at random instants and restarted, again and again. Afterwards the outbox
    must hold every record exactly once: per session the session record, every command
    (with its command line, exit code, and for the editor command its diff), and the end
    record (abnormal for the session whose recorder died without an end line).

    The spool files are written the way l3-rec writes them (docs/capture.md): header line,
    script bytes first, then the timing line covering them, .info with the nonce and, at
    the end, end=/exit= lines. The real agent binary runs with send on, pointed at a port
    where no broker listens, so the records stay in its outbox for us to read. */
#include "l3_port.h"
#include "l3_msg.h"
#include "l3_time.h"
#include "outbox.h"
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SESSIONS 4
#define COMMANDS 120
#define DEAD 3 /* this session's recorder dies without an end line */
#define EDIT_AT 7

static char s_dir[64];
static char s_bin[512];
static char s_cfg[512];

typedef struct {
    char sid[64];
    char base[200]; /* spool path without extension */
    int written;    /* commands written */
    int64_t t;      /* time of the last chunk */
} sess_t;

static void s_append(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (fd < 0 || write(fd, data, len) != (ssize_t) len) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
    close(fd);
}

static void s_append_ext(sess_t *s, const char *ext, const void *data, size_t len)
{
    char path[600];
    snprintf(path, sizeof(path), "%s.%s", s->base, ext);
    s_append(path, data, len);
}

/* One chunk as the recorder writes it: script bytes, then the timing line. */
static void s_chunk(sess_t *s, l3_buf_t *b)
{
    s_append_ext(s, "script", b->data, b->len);
    char line[64];
    int n = snprintf(line, sizeof(line), "0.010000 %zu\n", b->len);
    s_append_ext(s, "timing", line, (size_t) n);
    s->t += 10000;
    l3_buf_reset(b);
}

static void s_time(int64_t us, char *buf)
{
    l3_time_format(us, buf, 40);
}

static pid_t s_dead_pid(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    return pid;
}

static void s_session_start(sess_t *s, int i, pid_t recorder)
{
    snprintf(s->sid, sizeof(s->sid), "20260101T1200%02d-%d-abc%d", i, 1000 + i, i);
    snprintf(s->base, sizeof(s->base), "%.63s/spool/%.63s", s_dir, s->sid);
    s->t = 1767268800000000LL + i * 1000000LL;
    char start[40];
    s_time(s->t, start);
    char hdr[256];
    int n = snprintf(hdr, sizeof(hdr), "Script started on %s [l3-rec SID=\"%s\"]\n", start, s->sid);
    s_append_ext(s, "script", hdr, (size_t) n);
    s_append_ext(s, "timing", "", 0);
    char info[1024];
    n = snprintf(info, sizeof(info),
                 "version=1\nsid=%s\nhost=h\nuser=someone-else\nuid=0\ntty=/dev/pts/%d\n"
                 "shell=/bin/bash\npid=%d\nchild=%d\nstart=%s\ncols=80\nrows=24\nssh=\n"
                 "parent=\nnonce=%s\n",
                 s->sid, i, (int) recorder, (int) recorder, start, T_NONCE);
    s_append_ext(s, "info", info, (size_t) n);
}

static void s_session_command(sess_t *s, int si)
{
    int k = ++s->written;
    l3_buf_t b;
    l3_buf_init(&b, 0);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "echo %d %d", si, k);
    t_mark(&b, "P", "/home/u");
    t_mark(&b, "A", NULL);
    t_put(&b, "u@h:~$ ");
    t_mark(&b, "B", NULL);
    s_chunk(s, &b);
    t_put(&b, cmd);
    t_put(&b, "\r\n");
    t_mark(&b, "C", cmd);
    s_chunk(s, &b);
    if (si == 0 && k == EDIT_AT) {
        //  The editor hook: copies before and after, and the E mark.
        char path[600];
        snprintf(path, sizeof(path), "%.199s.edit.tok%d.before", s->base, k);
        s_append(path, "one\ntwo\nthree\n", 14);
        snprintf(path, sizeof(path), "%.199s.edit.tok%d.after", s->base, k);
        s_append(path, "one\nTWO\nthree\n", 14);
        t_mark(&b, "E", "tok7");
    }
    //  Output: a few lines, some commands much more (past the output cap).
    int lines = (k % 10 == 0) ? 3000 : k % 5;
    for (int l = 0; l < lines; l++)
        l3_buf_printf(&b, "%d %d line %d of output \xd0\xb6\r\n", si, k, l);
    if (b.len)
        s_chunk(s, &b);
    char code[8];
    snprintf(code, sizeof(code), "%d", k % 3);
    t_mark(&b, "D", code);
    s_chunk(s, &b);
    l3_buf_free(&b);
}

static void s_session_end(sess_t *s)
{
    char end[40], line[128];
    s_time(s->t, end);
    int n = snprintf(line, sizeof(line), "end=%s\nexit=0\n", end);
    s_append_ext(s, "info", line, (size_t) n);
}

static pid_t s_agent_start(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (!getenv("L3_TEST_VERBOSE") && null >= 0)
            dup2(null, 2);
        if (getenv("L3_TEST_VERBOSE"))
            execl(s_bin, s_bin, "-v", "-c", s_cfg, (char *) NULL);
        execl(s_bin, s_bin, "-c", s_cfg, (char *) NULL);
        _exit(127);
    }
    return pid;
}


/* Is the session's resume point written with its end record emitted? */
static bool s_done_uid(const sess_t *s, uid_t uid)
{
    char path[700];
    snprintf(path, sizeof(path), "%.63s/state/%u-%.63s.ckpt", s_dir, (unsigned) uid, s->sid);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    uint8_t head[56];
    size_t n = fread(head, 1, sizeof(head), f);
    fclose(f);
    return n == sizeof(head) && (head[48] & 2);
}

static bool s_done(const sess_t *s)
{
    return s_done_uid(s, getuid());
}

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Damaged sessions: no .info; an .info without what a session needs; a timing file with
   garbage lines and one that claims far more bytes than the script has. The agent logs
   them and goes on; only the third makes records (its session, one command, its end). */
#define BAD_SID "20260101T000000-1-bad3"
static void s_damaged(void)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/spool/garbage-no-info.script", s_dir);
    static const char mark[] = "\x1b]6973;" T_NONCE ";C;x\x07";
    s_append(path, mark, sizeof(mark) - 1);
    snprintf(path, sizeof(path), "%s/spool/20260101T000000-1-bad2.script", s_dir);
    s_append(path, "hello", 5);
    snprintf(path, sizeof(path), "%s/spool/20260101T000000-1-bad2.info", s_dir);
    static const char info[] = "garbage\n\x00\xff=\n=x\nstart=yesterday\n";
    s_append(path, info, sizeof(info) - 1);
    l3_buf_t b;
    l3_buf_init(&b, 0);
    t_command(&b, "/", "damaged", "out\r\n", "0");
    snprintf(path, sizeof(path), "%s/spool/" BAD_SID ".script", s_dir);
    s_append(path, b.data, b.len);
    snprintf(path, sizeof(path), "%s/spool/" BAD_SID ".timing", s_dir);
    char line[128];
    int n = snprintf(line, sizeof(line), "junk\n0.5 %zu\n-1 5\n1e9 x\n0.1 1073741824\n", b.len);
    s_append(path, line, (size_t) n);
    snprintf(path, sizeof(path), "%s/spool/" BAD_SID ".info", s_dir);
    n = snprintf(line, sizeof(line), "start=2026-01-01T00:00:00Z\nnonce=%s\nend=2026-01-01T00:01:00Z\n",
                 T_NONCE);
    s_append(path, line, (size_t) n);
    l3_buf_free(&b);
}

/* A per-user spool directory inside the spool (as /var/spool/lilalo/<user>), its files
   owned by another user when we can chown: the records name the files' owner. */
#define SUB_SID "20260101T120009-2000-sub1"
static char s_sub_user[64];
static uid_t s_sub_uid;
static void s_subdir_session(void)
{
    sess_t s;
    memset(&s, 0, sizeof(s));
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/spool/other", s_dir);
    mkdir(dir, 0700);
    snprintf(s.sid, sizeof(s.sid), "%s", SUB_SID);
    snprintf(s.base, sizeof(s.base), "%.150s/%s", dir, SUB_SID);
    s.t = 1767268800000000LL;
    char line[256];
    int n = snprintf(line, sizeof(line), "Script started on x\n");
    s_append_ext(&s, "script", line, (size_t) n);
    l3_buf_t b;
    l3_buf_init(&b, 0);
    for (int k = 1; k <= 3; k++) {
        char cmd[32];
        snprintf(cmd, sizeof(cmd), "sub %d", k);
        t_command(&b, "/", cmd, "x\r\n", "0");
        s_chunk(&s, &b);
    }
    l3_buf_free(&b);
    n = snprintf(line, sizeof(line), "start=2026-01-01T12:00:00Z\nnonce=%s\nend=2026-01-01T12:00:09Z\n",
                 T_NONCE);
    s_append_ext(&s, "info", line, (size_t) n);
    uid_t uid = getuid();
    if (geteuid() == 0) {
        uid = 65534; /* nobody */
        const char *ext[] = {"script", "timing", "info"};
        for (int i = 0; i < 3; i++) {
            char p[400];
            snprintf(p, sizeof(p), "%s.%s", s.base, ext[i]);
            if (chown(p, uid, uid) != 0)
                uid = getuid();
        }
        if (chown(dir, uid, uid) != 0) {
            /* the agent runs as root: it reads the directory anyway */
        }
    }
    s_sub_uid = uid;
    struct passwd *pw = getpwuid(uid);
    snprintf(s_sub_user, sizeof(s_sub_user), "%s", pw ? pw->pw_name : "?");
}

/* ------------------------------------------------------------------------------------ */
/* A real recorder: l3-rec running bash with the shell integration inside tmux.          */

static char s_tmux_sock[96];
static char s_real_sid[80];

static bool s_file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    return memmem(buf, n, needle, strlen(needle)) != NULL;
}

/* The sid of the spool session that is not one of ours. */
static bool s_find_real(sess_t *sess)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "ls %s/spool | sed -n 's/\\.info$//p'", s_dir);
    FILE *p = popen(cmd, "r");
    char line[128];
    while (p && fgets(line, sizeof(line), p)) {
        line[strcspn(line, "\n")] = 0;
        bool ours = false;
        for (int i = 0; i < SESSIONS; i++)
            ours = ours || strcmp(line, sess[i].sid) == 0;
        ours = ours || strncmp(line, "20260101T000000-1-bad", 21) == 0;
        if (!ours && strlen(line) < sizeof(s_real_sid))
            memcpy(s_real_sid, line, strlen(line) + 1); /* fits: checked above */
    }
    if (p)
        pclose(p);
    return s_real_sid[0] != 0;
}

static bool s_wait_file(const char *path, const char *needle, int64_t deadline)
{
    while (l3_time_mono_us() < deadline) {
        if (s_file_has(path, needle))
            return true;
        s_sleep_ms(20);
    }
    return false;
}

static void s_tmux_keys(const char *keys)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "tmux -S %s send-keys -t rec '%s' Enter", s_tmux_sock, keys);
    if (system(cmd) != 0)
        fprintf(stderr, "tmux send-keys failed\n");
}

/* Run a real l3-rec session; returns false (and says why) when it cannot be run here. */
static bool s_real_recorder(sess_t *sess, const char *bindir)
{
    char rec[600], cfg[600], cmd[2048];
    snprintf(rec, sizeof(rec), "%s/l3-rec", bindir);
    if (access(rec, X_OK) != 0 || system("command -v tmux >/dev/null 2>&1") != 0) {
        printf("test_agentd: no l3-rec or tmux; real recorder part skipped\n");
        return false;
    }
    const char *src = getenv("L3_SOURCE_DIR");
    snprintf(cfg, sizeof(cfg), "%s/rec.cfg", s_dir);
    FILE *f = fopen(cfg, "w");
    fprintf(f, "rec\n    spool = %s/spool\n    shell_dir = %s/conf/shell\n", s_dir,
            src ? src : ".");
    fclose(f);
    snprintf(s_tmux_sock, sizeof(s_tmux_sock), "%s/tmux.sock", s_dir);
    snprintf(cmd, sizeof(cmd),
             "tmux -S %s new-session -d -s rec -x 80 -y 24 "
             "'env SHELL=/bin/bash HOME=%s PS1=\"$ \" %s -c %s'",
             s_tmux_sock, s_dir, rec, cfg);
    if (system(cmd) != 0) {
        printf("test_agentd: tmux failed; real recorder part skipped\n");
        return false;
    }
    int64_t deadline = l3_time_mono_us() + 20 * 1000000LL;
    char info[700], script[700];
    while (!s_find_real(sess) && l3_time_mono_us() < deadline)
        s_sleep_ms(20);
    CHECK_MSG(s_real_sid[0], "l3-rec made no spool session");
    if (!s_real_sid[0])
        return false;
    snprintf(info, sizeof(info), "%s/spool/%s.info", s_dir, s_real_sid);
    snprintf(script, sizeof(script), "%s/spool/%s.script", s_dir, s_real_sid);
    //  Each command is typed once the prompt's B mark says the shell waits for input.
    int marks = 0;
    const char *keys[] = {"echo real-rec-$((40+2))", "false", "exit"};
    for (int k = 0; k < 3; k++) {
        while (l3_time_mono_us() < deadline) {
            FILE *sf = fopen(script, "rb");
            int count = 0;
            static char buf[1 << 20];
            size_t n = sf ? fread(buf, 1, sizeof(buf), sf) : 0;
            if (sf)
                fclose(sf);
            for (char *p = buf; (p = memmem(p, n - (size_t) (p - buf), ";B\x07", 3)); p += 3)
                count++;
            if (count > marks) {
                marks = count;
                break;
            }
            s_sleep_ms(20);
        }
        s_tmux_keys(keys[k]);
    }
    CHECK_MSG(s_wait_file(info, "\nend=", deadline), "l3-rec session did not end");
    snprintf(cmd, sizeof(cmd), "tmux -S %s kill-server >/dev/null 2>&1", s_tmux_sock);
    if (system(cmd) != 0) {
        /* the server is gone with its only session already */
    }
    return true;
}

int main(void)
{
    const char *bin = getenv("L3_BIN_DIR");
    snprintf(s_bin, sizeof(s_bin), "%s/l3-agent", bin ? bin : "bin");
    if (access(s_bin, X_OK) != 0) {
        fprintf(stderr, "test_agentd: %s missing\n", s_bin);
        return 1;
    }
    snprintf(s_dir, sizeof(s_dir), "/tmp/l3-test-agentd-XXXXXX");
    if (!mkdtemp(s_dir))
        return 1;
    char path[600];
    snprintf(path, sizeof(path), "%s/spool", s_dir);
    mkdir(path, 0700);
    snprintf(s_cfg, sizeof(s_cfg), "%s/agent.cfg", s_dir);
    FILE *f = fopen(s_cfg, "w");
    int port = l3_test_free_port();
    fprintf(f,
            "agent\n    spool = \"%s/spool, %s/spool-link\"\n    state = %s/state\n    outbox = %s/outbox\n"
            "    host = testhost\n    id = test-agent\n    curve = 0\n    scan_ms = 150\n"
            "    batch_ms = 5\n    output_cap = 4096\n    brokers = tcp://127.0.0.1:%d\n"
            "    acks = tcp://127.0.0.1:%d\n    backend_pidfile = %s/agent.pid\n",
            s_dir, s_dir, s_dir, s_dir, port, port, s_dir);
    //  The spool a second time through a symlink: every session must still count once.
    char link[300];
    snprintf(link, sizeof(link), "%s/spool-link", s_dir);
    snprintf(path, sizeof(path), "%s/spool", s_dir);
    if (symlink(path, link) != 0)
        t_failures++;
    fclose(f);

    sess_t sess[SESSIONS];
    memset(sess, 0, sizeof(sess));
    pid_t dead = s_dead_pid();
    for (int i = 0; i < SESSIONS; i++)
        s_session_start(&sess[i], i, getpid());
    s_damaged();
    s_subdir_session();

    //  Grow the spool while killing and restarting the agent at random instants.
    srand((unsigned) time(NULL));
    pid_t agent = s_agent_start();
    int kills = 0;
    for (int k = 0; k < COMMANDS; k++) {
        for (int i = 0; i < SESSIONS; i++)
            s_session_command(&sess[i], i);
        if (k % 6 == 5) {
            s_sleep_ms(rand() % 40);
            kill(agent, SIGKILL);
            waitpid(agent, NULL, 0);
            kills++;
            agent = s_agent_start();
        }
    }
    for (int i = 0; i < SESSIONS; i++)
        if (i != DEAD)
            s_session_end(&sess[i]);
    //  The DEAD session's recorder "dies": its .info names a pid that is gone.
    {
        char info[600], line[64];
        snprintf(info, sizeof(info), "%s.info", sess[DEAD].base);
        int n = snprintf(line, sizeof(line), "child=%d\n", (int) dead);
        s_append(info, line, (size_t) n);
        //  Rewrite pid= by appending it again: the last value wins.
        n = snprintf(line, sizeof(line), "pid=%d\n", (int) dead);
        s_append(info, line, (size_t) n);
    }
    //  A few more kills while it catches up.
    for (int r = 0; r < 3; r++) {
        s_sleep_ms(rand() % 60);
        kill(agent, SIGKILL);
        waitpid(agent, NULL, 0);
        kills++;
        agent = s_agent_start();
    }
    bool real = s_real_recorder(sess, bin ? bin : "bin");
    //  Wait for every session to be finished (end record behind the resume point).
    int64_t deadline = l3_time_mono_us() + 40 * 1000000LL;
    bool all = false;
    while (!all && l3_time_mono_us() < deadline) {
        all = true;
        for (int i = 0; i < SESSIONS; i++)
            all = all && s_done(&sess[i]);
        {
            sess_t d;
            snprintf(d.sid, sizeof(d.sid), "%s", BAD_SID);
            all = all && s_done(&d);
            snprintf(d.sid, sizeof(d.sid), "%s", SUB_SID);
            all = all && s_done_uid(&d, s_sub_uid);
        }
        if (real) {
            sess_t r;
            snprintf(r.sid, sizeof(r.sid), "%.63s", s_real_sid);
            all = all && s_done(&r);
        }
        if (!all)
            s_sleep_ms(20);
    }
    CHECK_MSG(all, "sessions not finished before the deadline");
    //  Stop it cleanly once it is up (its pidfile names it: the signal handlers are set).
    snprintf(path, sizeof(path), "%s/agent.pid", s_dir);
    for (bool up = false; !up && l3_time_mono_us() < deadline;) {
        FILE *pf = fopen(path, "r");
        int pid = 0;
        up = pf && fscanf(pf, "%d", &pid) == 1 && pid == (int) agent;
        if (pf)
            fclose(pf);
        if (!up)
            s_sleep_ms(10);
    }
    kill(agent, SIGTERM);
    int status = 0;
    waitpid(agent, &status, 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "agent exit status 0x%x", status);

    //  The outbox: every record exactly once.
    snprintf(path, sizeof(path), "%s/outbox", s_dir);
    outbox_t *box = outbox_open(path, "test-agent", NULL);
    CHECK(box != NULL);
    static uint8_t seen[SESSIONS][COMMANDS + 2];
    memset(seen, 0, sizeof(seen));
    int records = 0, bad = 0, real_cmds = 0, real_ends = 0, damaged = 0, sub = 0;
    if (box) {
        outbox_iter_t *it = outbox_iter_new(box, 1);
        uint64_t seq;
        const uint8_t *data;
        size_t len;
        while (outbox_iter_next(it, &seq, &data, &len) == 1) {
            l3_msg_t msg;
            char err[128];
            if (!l3_msg_decode(data, len, &msg, err, sizeof(err))) {
                bad++;
                continue;
            }
            l3_record_t *r = &msg.record;
            records++;
            int si = -1;
            for (int i = 0; i < SESSIONS; i++)
                if (strcmp(r->sid, sess[i].sid) == 0)
                    si = i;
            if (strcmp(r->sid, SUB_SID) == 0) {
                records--;
                sub++;
                CHECK_MSG(strcmp(r->user, s_sub_user) == 0, "subdir session user %s, want %s",
                          r->user, s_sub_user);
                l3_msg_clear(&msg);
                continue;
            }
            if (strcmp(r->sid, BAD_SID) == 0) {
                records--;
                damaged++;
                if (r->type == L3_RECORD_COMMAND)
                    CHECK(r->nr == 1 && r->cmdline.len == 7 && !memcmp(r->cmdline.data, "damaged", 7));
                l3_msg_clear(&msg);
                continue;
            }
            if (real && strcmp(r->sid, s_real_sid) == 0) {
                //  The real session: echo with its output, false with exit 1, exit.
                records--;
                if (r->type == L3_RECORD_END)
                    real_ends++;
                if (r->type == L3_RECORD_COMMAND) {
                    real_cmds++;
                    if (r->nr == 1)
                        CHECK_MSG(r->cmdline.len == 23 && !memcmp(r->cmdline.data, "echo real-rec-$((40+2))", 23)
                                      && memmem(r->output.data, r->output.len, "real-rec-42", 11)
                                      && r->has_exit && r->exit_code == 0,
                                  "real command 1 wrong");
                    if (r->nr == 2)
                        CHECK_MSG(r->has_exit && r->exit_code == 1, "real command 2 wrong");
                }
                l3_msg_clear(&msg);
                continue;
            }
            CHECK_MSG(si >= 0, "unknown sid %s", r->sid);
            CHECK(strcmp(r->host, "testhost") == 0);
            char me[256];
            //  The user is the spool file's owner, not the .info's "someone-else".
            CHECK_MSG(strcmp(r->user, "someone-else") != 0, "user from .info: %s", r->user);
            (void) me;
            if (si >= 0) {
                if (r->type == L3_RECORD_SESSION)
                    seen[si][0]++;
                else if (r->type == L3_RECORD_END) {
                    seen[si][COMMANDS + 1]++;
                    CHECK_MSG(((r->flags & L3_FLAG_ABNORMAL) != 0) == (si == DEAD),
                              "session %d end flags 0x%x", si, r->flags);
                } else if (r->nr >= 1 && r->nr <= COMMANDS) {
                    seen[si][r->nr]++;
                    char want[64];
                    snprintf(want, sizeof(want), "echo %d %llu", si, (unsigned long long) r->nr);
                    CHECK_MSG(r->cmdline.len == strlen(want)
                                  && memcmp(r->cmdline.data, want, r->cmdline.len) == 0,
                              "session %d command %llu: wrong command line", si,
                              (unsigned long long) r->nr);
                    CHECK(r->has_exit && r->exit_code == (int) (r->nr % 3));
                    if (r->nr % 10 == 0)
                        CHECK(r->flags & L3_FLAG_TRUNCATED);
                    if (si == 0 && r->nr == EDIT_AT)
                        CHECK_MSG(r->diff.len && memmem(r->diff.data, r->diff.len, "-two\n+TWO\n", 10),
                                  "no diff on the editor command");
                } else
                    CHECK_MSG(false, "command number %llu", (unsigned long long) r->nr);
            }
            l3_msg_clear(&msg);
        }
        outbox_iter_destroy(&it);
        outbox_destroy(&box);
    }
    int missing = 0, doubled = 0;
    for (int i = 0; i < SESSIONS; i++)
        for (int k = 0; k <= COMMANDS + 1; k++) {
            if (seen[i][k] == 0)
                missing++;
            if (seen[i][k] > 1)
                doubled++;
        }
    CHECK_MSG(missing == 0, "%d records missing", missing);
    CHECK_MSG(doubled == 0, "%d records doubled", doubled);
    CHECK(bad == 0);
    CHECK(records == SESSIONS * (COMMANDS + 2));
    CHECK_MSG(damaged == 3, "damaged session: %d records, expected 3", damaged);
    CHECK_MSG(sub == 5, "per-user directory session: %d records, expected 5", sub);
    if (real) {
        CHECK_MSG(real_cmds == 3 && real_ends == 1, "real session: %d commands, %d ends",
                  real_cmds, real_ends);
    }
    //  The editor copies are gone once their record was stored.
    snprintf(path, sizeof(path), "%s.edit.tok%d.before", sess[0].base, EDIT_AT);
    CHECK_MSG(access(path, F_OK) != 0, "editor copy %s still there", path);
    printf("test_agentd: %d records, %d kills\n", records, kills);

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", s_dir);
    if (system(cmd) != 0)
        t_failures++;
    if (t_failures) {
        fprintf(stderr, "test_agentd: %d failures\n", t_failures);
        return 1;
    }
    printf("test_agentd: ok\n");
    return 0;
}
