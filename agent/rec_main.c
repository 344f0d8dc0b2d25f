/*  l3-rec — record a terminal session into the lilalo spool.

    Thin main over rec_session (pty + copy loop), rec_spool (files) and rec_filter (marks
    removed for the terminal; for .script, the nonces replaced by their shells' numbers).
    This file decides *what* to run and *where* to record: the spool directory, the
    session id and nonce, the environment handed to the shell (so it loads the shell
    integration from conf/shell/), and whether this recorder is nested inside another.

    Nesting, kept simple: a recorder is nested when one of its ancestor processes is an
    l3-rec (/proc/<pid>/stat, world-readable, so it works across `su -` and `sudo -i`,
    which clear the environment). The enclosing session's id comes from L3_SID when the
    environment still has it; otherwise .info names only the ancestor's pid. A tmux or
    screen server, or sshd, is not a descendant of the recorder, so shells in them are
    not nested: their output does not pass through the outer recorder either.

    `l3-rec --nonce PID` is the other program in this binary: the client a shell started
    inside a session runs to get a nonce of its own from the recorder (rec_shells.h). It
    runs at every inner shell's start, so it is handled before anything else. */
#include "l3_config.h"
#include "l3_fs.h"
#include "l3_log.h"
#include "l3_paths.h"
#include "l3_sha256.h"
#include "l3_time.h"
#include "rec_proc.h"
#include "rec_session.h"
#include "rec_shells.h"
#include "rec_spool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifndef L3_REC_SHELL_DIR
#define L3_REC_SHELL_DIR "/usr/local/share/lilalo/shell"
#endif
#ifndef L3_REC_SOURCE_SHELL_DIR
#define L3_REC_SOURCE_SHELL_DIR ""
#endif

#define S_DEFAULT_EDITORS "vi vim nvim nano emacs mcedit joe"
#define S_ENV_MAX 4096
#define S_INFO_MAX 8192

extern char **environ;

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: l3-rec [-c FILE] [--spool DIR] [--login] [-- CMD ARGS...]\n"
            "       l3-rec --nonce PID\n"
            "Record a terminal session into the lilalo spool (<sid>.script/.timing/.info).\n"
            "Runs the user's shell (or CMD) in a new pty, with the lilalo shell integration\n"
            "for bash and zsh, and exits with its status (128+signal when it was killed).\n"
            "\n"
            "  -c FILE        config file (section rec: spool, shell_dir, editors, ...);\n"
            "                 default %s when it exists\n"
            "  --spool DIR    spool directory (overrides rec/spool)\n"
            "  --login        run the shell as a login shell (used by profile.d/lilalo.sh);\n"
            "                 when this user's terminal is already recorded, just run the shell\n"
            "  --nonce PID    for the shell integration of a shell started inside a recorded\n"
            "                 session (exec bash, su, sudo -i): ask the session's recorder for\n"
            "                 a nonce for shell PID ($$; it must be this process or an\n"
            "                 ancestor); prints 32 hex characters and a newline, or exits 1\n"
            "                 (silently when not in a recorded session)\n"
            "  -v             verbose log on stderr\n"
            "  -h, --help     this help\n"
            "\n"
            "Environment given to the shell: L3_SID, L3_SPOOL, L3_NONCE_FD (a pipe holding the\n"
            "session nonce; the hook reads it once and closes it), L3_SHELL_DIR, L3_UID,\n"
            "L3_PARENT (when nested).\n",
            l3_paths_config_installed());
}

/* 32 lowercase hex characters from getrandom(2). */
static bool s_random_hex(char *out, size_t nbytes)
{
    unsigned char raw[32];
    size_t got = 0;
    if (nbytes > sizeof raw)
        return false;
    while (got < nbytes) {
        ssize_t n = getrandom(raw + got, nbytes - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < nbytes; i++)
        sprintf(out + 2 * i, "%02x", raw[i]);
    return true;
}

/* SHA-256 of the nonce's text as 64 lowercase hex: what .info holds (nonce_sha256). */
static void s_sha256_hex(const char *text, char out[2 * L3_SHA256_LEN + 1])
{
    uint8_t digest[L3_SHA256_LEN];
    l3_sha256(text, strlen(text), digest);
    for (size_t i = 0; i < L3_SHA256_LEN; i++)
        sprintf(out + 2 * i, "%02x", digest[i]);
}

/* A pipe holding "<nonce>\n" with its write end closed; *fd is the read end, inherited
   by the child (not close-on-exec), closed here once the child is started. A pipe, not a
   file: once the hook has read it, the bytes exist nowhere else. */
static bool s_nonce_pipe(const char *nonce, int *fd)
{
    int p[2];
    char line[64];
    int n = snprintf(line, sizeof line, "%s\n", nonce);
    if (pipe2(p, O_CLOEXEC) < 0)
        return false;
    bool ok = l3_write_all(p[1], line, (size_t)n) && fcntl(p[0], F_SETFD, 0) == 0;
    explicit_bzero(line, sizeof line);
    close(p[1]);
    if (!ok) {
        close(p[0]);
        return false;
    }
    *fd = p[0];
    return true;
}

/* Pick and check the spool directory (docs/capture.md "Spool"). */
static bool s_spool_dir(l3_config_t *cfg, const char *opt, const struct passwd *pw, char *out,
                        size_t size)
{
    const char *dir = opt ? opt : l3_config_str(cfg, "rec/spool", NULL);
    struct stat st;
    if (dir && *dir)
        snprintf(out, size, "%s", dir);
    else if (stat("/var/spool/lilalo", &st) == 0 && S_ISDIR(st.st_mode))
        snprintf(out, size, "/var/spool/lilalo/%s", pw->pw_name);
    else
        snprintf(out, size, "%s/.local/share/lilalo/spool", pw->pw_dir);
    if (!l3_mkdirs(out, 0700)) {
        l3_error("cannot create spool directory %s: %s", out, strerror(errno));
        return false;
    }
    if (lstat(out, &st) < 0 || !S_ISDIR(st.st_mode)) {
        l3_error("spool %s is not a directory", out);
        return false;
    }
    if (st.st_uid != getuid()) {
        l3_error("spool %s is not owned by uid %u; refusing it", out, (unsigned)getuid());
        return false;
    }
    if ((st.st_mode & 077) != 0 && chmod(out, 0700) < 0) {
        l3_error("cannot make spool %s private: %s", out, strerror(errno));
        return false;
    }
    return true;
}

/* A private directory on a tmpfs for the bash hook's scratch file ($XDG_RUNTIME_DIR when
   it is ours, else /dev/shm): the hook truncates and rewrites it twice per command, which
   on a disk file system can wait for I/O. Removed when the session ends. */
static bool s_hook_dir(char *out, size_t size)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    struct stat st;
    if (xdg && *xdg == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid())
        snprintf(out, size, "%s/l3-rec.XXXXXX", xdg);
    else
        snprintf(out, size, "/dev/shm/l3-rec.XXXXXX");
    if (!mkdtemp(out)) {
        out[0] = '\0';
        return false;
    }
    return true;
}

/* The nearest l3-rec among our ancestors and its uid, or 0. */
static pid_t s_ancestor_recorder(uid_t *uid)
{
    pid_t pid = rec_proc_ancestor_named(getppid(), "l3-rec");
    if (pid > 0) {
        char path[64];
        struct stat st;
        snprintf(path, sizeof path, "/proc/%d", (int)pid);
        *uid = stat(path, &st) == 0 ? st.st_uid : (uid_t)-1;
    }
    return pid;
}

/* `l3-rec --nonce PID`: print a nonce for shell PID from this session's recorder. */
static int s_nonce_main(int argc, char **argv)
{
    char nonce[REC_SHELLS_NONCE_HEX + 2], why[256];
    char *end = NULL;
    errno = 0;
    long pid = argc == 3 ? strtol(argv[2], &end, 10) : 0;
    if (argc != 3 || errno || !end || *end || end == argv[2] || pid <= 0 || pid > INT32_MAX) {
        fprintf(stderr, "l3-rec: usage: l3-rec --nonce PID\n");
        return 2;
    }
    pid_t recorder = rec_proc_ancestor_named(getppid(), "l3-rec");
    if (!recorder)
        return 1; /* not in a recorded session: nothing to say */
    if (!rec_shells_request(recorder, (pid_t)pid, nonce, why, sizeof why)) {
        fprintf(stderr, "l3-rec: no nonce: %s\n", why);
        return 1;
    }
    nonce[REC_SHELLS_NONCE_HEX] = '\n';
    bool ok = l3_write_all(STDOUT_FILENO, nonce, REC_SHELLS_NONCE_HEX + 1);
    explicit_bzero(nonce, sizeof nonce);
    if (!ok) {
        fprintf(stderr, "l3-rec: cannot write the nonce: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}

/* The child's environment: ours, minus the variables we set. */
typedef struct {
    char *vars[S_ENV_MAX + 1];
    size_t n;
} s_env_t;

static void s_env_unset(s_env_t *env, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < env->n; i++) {
        if (strncmp(env->vars[i], name, len) == 0 && env->vars[i][len] == '=') {
            free(env->vars[i]);
            env->vars[i] = env->vars[--env->n];
            env->vars[env->n] = NULL;
            i--;
        }
    }
}

static bool s_env_set(s_env_t *env, const char *name, const char *value)
{
    char *var = NULL;
    s_env_unset(env, name);
    if (env->n >= S_ENV_MAX || asprintf(&var, "%s=%s", name, value) < 0)
        return false;
    env->vars[env->n++] = var;
    env->vars[env->n] = NULL;
    return true;
}

static void s_env_free(s_env_t *env)
{
    for (size_t i = 0; i < env->n; i++)
        free(env->vars[i]);
    env->n = 0;
}

static const char *s_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL, *spool_opt = NULL;
    bool login = false, verbose = false;
    int cmd_index = -1;
    int rc = 1;
    l3_config_t *cfg = NULL;
    rec_spool_t *spool = NULL;
    s_env_t env = { .n = 0 };
    char spool_dir[PATH_MAX], sid[96], nonce[40], tag[8], host[256] = "localhost";
    char shell_dir[PATH_MAX] = "", rcfile[PATH_MAX + 32], zdotdir[PATH_MAX + 32];
    char pty_name[128] = "", nest_id[400] = "", parent[400] = "";
    char argv0[PATH_MAX], hook_dir[PATH_MAX] = "", hook_file[PATH_MAX + 16] = "";
    char *child_argv[8] = { NULL };
    char *const *run_argv = child_argv;
    const char *run_path = NULL;
    int master = -1, nonce_fd = -1;
    pid_t child = 0;
    static rec_marks_t marks; /* static: 2 KiB, and rec_marks_wipe at cleanup sees it */
    static rec_filter_script_t script; /* static: 35 KiB of nonces, wiped at cleanup */
    char marks_anchor[REC_MARKS_ANCHOR_HEX + 1] = "";
    rec_shells_t *shells = NULL;

    if (argc >= 2 && strcmp(argv[1], "--nonce") == 0)
        return s_nonce_main(argc, argv);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            cmd_index = i + 1;
            break;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            s_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            config_path = argv[++i];
        else if (strcmp(argv[i], "--spool") == 0 && i + 1 < argc)
            spool_opt = argv[++i];
        else if (strcmp(argv[i], "--login") == 0)
            login = true;
        else if (strcmp(argv[i], "-v") == 0)
            verbose = true;
        else if (argv[i][0] != '-') {
            cmd_index = i; /* `l3-rec CMD ARGS` without "--" */
            break;
        } else {
            fprintf(stderr, "l3-rec: unknown option %s (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (cmd_index >= argc) {
        fprintf(stderr, "l3-rec: -- must be followed by a command\n");
        return 2;
    }
    l3_log_init("l3-rec", false, verbose ? L3_LOG_DEBUG : L3_LOG_WARN);
    if (!config_path)
        config_path = l3_paths_config_default();
    if (config_path && !(cfg = l3_config_load(config_path)))
        return 2;

    struct passwd *pw = getpwuid(getuid());
    if (!pw) {
        l3_error("no passwd entry for uid %u", (unsigned)getuid());
        goto cleanup;
    }
    gethostname(host, sizeof host - 1);

    /* What to run: CMD, or the user's shell with our integration. */
    const char *shell = getenv("SHELL");
    if (!shell || !*shell)
        shell = pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh";
    if (strcmp(s_basename(shell), "l3-rec") == 0) {
        /* l3-rec as the login shell (chsh): the real shell is unknown; never run ourselves. */
        shell = access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";
    }
    /* The shell integration: rec/shell_dir, else the installed share/lilalo/shell, else
       the source tree's conf/shell. A build-tree l3-rec tries the source tree first, so
       tests and developers run the hooks they are editing, never an older installed
       copy. */
    const char *cfg_shell_dir = l3_config_str(cfg, "rec/shell_dir", NULL);
    const char *shell_dirs[2] = {L3_REC_SHELL_DIR, L3_REC_SOURCE_SHELL_DIR};
    if (l3_paths_in_build_tree()) {
        shell_dirs[0] = L3_REC_SOURCE_SHELL_DIR;
        shell_dirs[1] = L3_REC_SHELL_DIR;
    }
    struct stat st;
    char probe[PATH_MAX + 16];
    snprintf(probe, sizeof probe, "%s/l3.bash", shell_dirs[0]);
    if (cfg_shell_dir && *cfg_shell_dir)
        snprintf(shell_dir, sizeof shell_dir, "%s", cfg_shell_dir);
    else if (*shell_dirs[0] && stat(probe, &st) == 0)
        snprintf(shell_dir, sizeof shell_dir, "%s", shell_dirs[0]);
    else
        snprintf(shell_dir, sizeof shell_dir, "%s", shell_dirs[1]);

    uid_t outer_uid = (uid_t)-1;
    pid_t outer = s_ancestor_recorder(&outer_uid);
    if (login && outer > 0 && outer_uid == getuid()) {
        /* This user's terminal is already recorded (a login shell inside a recorded
           session with its environment cleared): run the shell, record nothing twice. */
        snprintf(argv0, sizeof argv0, "-%s", s_basename(shell));
        setenv("L3_NORECORD", "inherited", 1);
        execl(shell, argv0, (char *)NULL);
        l3_error("cannot run %s: %s", shell, strerror(errno));
        goto cleanup;
    }

    bool integrate = l3_config_bool(cfg, "rec/integration", true);
    if (cmd_index > 0) {
        run_argv = argv + cmd_index;
        run_path = argv[cmd_index];
    } else {
        const char *base = s_basename(shell);
        run_path = shell;
        snprintf(argv0, sizeof argv0, "%s%s", login ? "-" : "", base);
        child_argv[0] = argv0;
        if (integrate && strcmp(base, "bash") == 0) {
            /* --rcfile: l3.bash sources the user's files (login ones when L3_LOGIN) and
               then installs the hooks, so they come last and stay in charge. */
            snprintf(argv0, sizeof argv0, "%s", base);
            snprintf(rcfile, sizeof rcfile, "%s/l3.bash", shell_dir);
            child_argv[1] = "--rcfile";
            child_argv[2] = rcfile;
            child_argv[3] = "-i";
        } else if (integrate && strcmp(base, "fish") == 0) {
            /* --init-command runs after the user's config.fish. */
            snprintf(rcfile, sizeof rcfile, "source \"%s/l3.fish\"", shell_dir);
            child_argv[1] = "--init-command";
            child_argv[2] = rcfile;
        } else if (integrate && strcmp(base, "zsh") == 0) {
            snprintf(zdotdir, sizeof zdotdir, "%s/zsh", shell_dir);
        }
    }

    /* Session identity. */
    time_t now = time(NULL);
    struct tm tm;
    char stamp[32];
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
    if (!s_random_hex(tag, 2) || !s_random_hex(nonce, 16)) {
        l3_error("getrandom failed: %s", strerror(errno));
        goto cleanup;
    }
    snprintf(sid, sizeof sid, "%s-%d-%s", stamp, (int)getpid(), tag);
    /* The session shell's nonce is shell 0 of the script filter: its marks go into .script
       as "=0", so no spool file holds it (docs/capture.md "Marks"). */
    rec_filter_script_init(&script);
    if (rec_filter_script_add(&script, nonce) != 0) {
        l3_error("cannot keep the session nonce");
        goto cleanup;
    }
    const char *outer_sid = getenv("L3_SID");
    if (outer > 0) {
        snprintf(nest_id, sizeof nest_id, "%s/%s", host, sid);
        if (outer_sid && *outer_sid)
            snprintf(parent, sizeof parent, "%s/%s", host, outer_sid);
    }

    bool recording = s_spool_dir(cfg, spool_opt, pw, spool_dir, sizeof spool_dir);
    if (!recording && !cmd_index) {
        /* Never lock a user out of their login because recording cannot start. */
        fprintf(stderr, "l3-rec: cannot record this session; running %s unrecorded\n", shell);
        snprintf(argv0, sizeof argv0, "%s%s", login ? "-" : "", s_basename(shell));
        execl(shell, argv0, (char *)NULL);
        l3_error("cannot run %s: %s", shell, strerror(errno));
        goto cleanup;
    }

    for (char **e = environ; *e && env.n < S_ENV_MAX; e++) {
        env.vars[env.n] = strdup(*e);
        if (env.vars[env.n])
            env.n++;
    }
    env.vars[env.n] = NULL;
    char uid_text[24];
    snprintf(uid_text, sizeof uid_text, "%u", (unsigned)getuid());
    s_env_set(&env, "L3_SID", sid);
    /* The nonce goes to the shell through a pipe the hook reads once and closes: no copy
       in any environment (/proc/PID/environ keeps a process's initial one), argv or
       file. Only its SHA-256 goes into .info, for the agent to check marks against. */
    char nonce_fd_text[16] = "";
    if (!s_nonce_pipe(nonce, &nonce_fd)) {
        l3_error("cannot make the nonce pipe: %s", strerror(errno));
        goto cleanup;
    }
    snprintf(nonce_fd_text, sizeof nonce_fd_text, "%d", nonce_fd);
    s_env_unset(&env, "L3_NONCE");
    s_env_set(&env, "L3_NONCE_FD", nonce_fd_text);
    s_env_set(&env, "L3_SPOOL", recording ? spool_dir : "");
    s_env_set(&env, "L3_SHELL_DIR", shell_dir);
    s_env_set(&env, "L3_UID", uid_text);
    s_env_set(&env, "L3_EDITORS", l3_config_str(cfg, "rec/editors", S_DEFAULT_EDITORS));
    char limits[64];
    snprintf(limits, sizeof limits, "%lld %lld",
             (long long)l3_config_int(cfg, "rec/edit_max_files", 4, 0, 16),
             (long long)l3_config_int(cfg, "rec/edit_max_bytes", 1048576, 0, 64 << 20));
    s_env_set(&env, "L3_EDIT_LIMITS", limits);
    s_env_unset(&env, "L3_NORECORD");
    s_env_unset(&env, "L3_HOOK_TMP");
    if (recording && s_hook_dir(hook_dir, sizeof hook_dir)) {
        snprintf(hook_file, sizeof hook_file, "%s/hook", hook_dir);
        s_env_set(&env, "L3_HOOK_TMP", hook_file);
    }
    if (parent[0])
        s_env_set(&env, "L3_PARENT", parent);
    else
        s_env_unset(&env, "L3_PARENT");
    if (login)
        s_env_set(&env, "L3_LOGIN", "1");
    else
        s_env_unset(&env, "L3_LOGIN");
    if (zdotdir[0]) {
        const char *user_zdotdir = getenv("ZDOTDIR");
        s_env_set(&env, "L3_USER_ZDOTDIR", user_zdotdir ? user_zdotdir : "");
        s_env_set(&env, "ZDOTDIR", zdotdir);
    }

    /* Inner shells' nonces (rec_shells.h): listening before the fork, so that a shell's
       first request cannot come before the socket exists (it waits in the backlog until
       the loop runs). Without it (the name taken, no sockets), inner shells' commands are
       output, as they were before; the session goes on. */
    if (recording && !(shells = rec_shells_new()))
        l3_debug("no nonces for inner shells: %s", strerror(errno));
    rec_session_opts_t opts = { .argv = run_argv, .path = run_path, .envp = env.vars,
                                .spool = NULL, .nest_id = nest_id[0] ? nest_id : NULL };
    master = rec_session_spawn(&opts, &child, pty_name, sizeof pty_name);
    close(nonce_fd);
    nonce_fd = -1;
    if (master < 0)
        goto cleanup;
    /* The recorder's own marks (keys typed, hangup), hash-chained: made after the fork,
       so the shell never had a copy of the secret, not even before its exec. */
    if (recording && !rec_marks_init(&marks, marks_anchor))
        l3_warn("getrandom failed: no recorder marks; signals will not be known");

    if (recording) {
        char info[S_INFO_MAX] = "", num[32], when[40];
        struct winsize ws = { 0 };
        const char *outer_tty = ttyname(STDIN_FILENO);
        ioctl(master, TIOCGWINSZ, &ws);
        l3_time_format(l3_time_now_us(), when, sizeof when);
        rec_spool_info_add(info, sizeof info, "version", "1");
        /* The marks in .script name their shell "=<n>" (rec_filter.h), never its nonce. */
        rec_spool_info_add(info, sizeof info, "marks", "2");
        rec_spool_info_add(info, sizeof info, "sid", sid);
        rec_spool_info_add(info, sizeof info, "host", host);
        rec_spool_info_add(info, sizeof info, "user", pw->pw_name);
        snprintf(num, sizeof num, "%u", (unsigned)getuid());
        rec_spool_info_add(info, sizeof info, "uid", num);
        rec_spool_info_add(info, sizeof info, "tty", outer_tty ? outer_tty : pty_name);
        rec_spool_info_add(info, sizeof info, "pty", pty_name);
        rec_spool_info_add(info, sizeof info, "shell", cmd_index > 0 ? run_path : shell);
        snprintf(num, sizeof num, "%d", (int)getpid());
        rec_spool_info_add(info, sizeof info, "pid", num);
        snprintf(num, sizeof num, "%d", (int)child);
        rec_spool_info_add(info, sizeof info, "child", num);
        rec_spool_info_add(info, sizeof info, "start", when);
        snprintf(num, sizeof num, "%u", (unsigned)ws.ws_col);
        rec_spool_info_add(info, sizeof info, "cols", num);
        snprintf(num, sizeof num, "%u", (unsigned)ws.ws_row);
        rec_spool_info_add(info, sizeof info, "rows", num);
        const char *ssh = getenv("SSH_CLIENT");
        rec_spool_info_add(info, sizeof info, "ssh", ssh ? ssh : "");
        rec_spool_info_add(info, sizeof info, "parent", parent);
        if (outer > 0) {
            snprintf(num, sizeof num, "%d", (int)outer);
            rec_spool_info_add(info, sizeof info, "parent_pid", num);
        }
        char nonce_hash[2 * L3_SHA256_LEN + 1];
        s_sha256_hex(nonce, nonce_hash);
        rec_spool_info_add(info, sizeof info, "nonce_sha256", nonce_hash);
        explicit_bzero(nonce, sizeof nonce);
        if (marks_anchor[0])
            rec_spool_info_add(info, sizeof info, "recmark", marks_anchor);
        /* util-linux script's header line: scriptreplay skips the first line of a
           typescript, so without it replay would lose the session's first output line. */
        char header[512];
        const char *term = getenv("TERM");
        snprintf(header, sizeof header,
                 "Script started on %s " L3_REC_HEADER_TAG "\"%s\" TERM=\"%s\" TTY=\"%s\" "
                 "COLUMNS=\"%u\" LINES=\"%u\"]\n",
                 when, sid, term ? term : "", pty_name, (unsigned)ws.ws_col,
                 (unsigned)ws.ws_row);
        spool = rec_spool_new(spool_dir, sid, info, header);
        if (!spool)
            fprintf(stderr, "l3-rec: cannot create the spool files; this session is not "
                            "recorded\r\n");
    }
    opts.spool = spool;
    opts.script = &script;
    opts.marks = spool && marks_anchor[0] ? &marks : NULL;
    if (opts.marks && shells) {
        rec_shells_start(shells, child, opts.marks, spool, &script);
        opts.shells = shells;
    } else
        rec_shells_destroy(&shells); /* without the chain no nonce could be registered */

    rec_session_result_t result;
    if (!rec_session_run(&opts, master, child, &result))
        goto cleanup;
    if (spool)
        rec_spool_finish(spool, l3_time_now_us(), result.exit_code, result.signal_no);
    rc = result.exit_code;
    if (recording) {
        /* The bash hook's scratch file (history and trap text read back without a fork). */
        char scratch[PATH_MAX + 128];
        snprintf(scratch, sizeof scratch, "%s/.%s.hook", spool_dir, sid);
        unlink(scratch);
    }

cleanup:
    rec_shells_destroy(&shells);
    explicit_bzero(nonce, sizeof nonce);
    if (nonce_fd >= 0)
        close(nonce_fd);
    rec_marks_wipe(&marks);
    rec_filter_script_wipe(&script);
    if (hook_dir[0]) {
        unlink(hook_file);
        rmdir(hook_dir);
    }
    if (master >= 0)
        close(master);
    rec_spool_destroy(&spool);
    s_env_free(&env);
    l3_config_destroy(&cfg);
    return rc;
}
