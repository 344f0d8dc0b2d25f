/*  whatis — command descriptions loaded once from man-db. See whatis.h. */
#include "whatis.h"
#include "l3_buf.h"
#include "l3_log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

typedef struct {
    const char *name; /* into text, NUL-terminated */
    const char *line; /* the whole whatis line, NUL-terminated */
    const char *section;
    size_t section_len;
} entry_t;

struct whatis_t {
    bool enabled, loaded;
    char *text;         /* owned: names and lines, NULs in place of separators */
    entry_t *entries;   /* sorted by name, one per name */
    size_t count;
    l3_buf_t in;        /* the loader's output so far */
    int fd;             /* loader's stdout, -1 when none */
    pid_t pid;
};

whatis_t *whatis_new(bool enabled)
{
    whatis_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->enabled = enabled;
    self->fd = -1;
    l3_buf_init(&self->in, WHATIS_MAX_BYTES);
    return self;
}

static void s_stop_loader(whatis_t *self)
{
    if (self->fd >= 0)
        close(self->fd);
    self->fd = -1;
    if (self->pid > 0) {
        kill(self->pid, SIGKILL);
        while (waitpid(self->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    self->pid = 0;
}

void whatis_destroy(whatis_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    whatis_t *self = *self_p;
    s_stop_loader(self);
    l3_buf_free(&self->in);
    free(self->entries);
    free(self->text);
    free(self);
    *self_p = NULL;
}

int whatis_start(whatis_t *self, const char *command)
{
    if (!self->enabled || self->loaded || self->fd >= 0)
        return -1;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    char *argv[] = {"/bin/sh", "-c", (char *)command, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (rc != 0) {
        l3_warn("cannot run '%s' (%s): no command descriptions in the journal", command,
                strerror(rc));
        close(p[0]);
        return -1;
    }
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    self->fd = p[0];
    self->pid = pid;
    return self->fd;
}

static int s_cmp_entry(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    /* the same name in several sections: the lowest section first (1 before 1ssl, 8) */
    size_t n = x->section_len < y->section_len ? x->section_len : y->section_len;
    c = memcmp(x->section, y->section, n);
    if (c)
        return c;
    return x->section_len < y->section_len ? -1 : x->section_len > y->section_len;
}

bool whatis_load_text(whatis_t *self, const char *data, size_t len)
{
    /* One block: the lines as they came (NUL for each newline), then each name once
       more, NUL-terminated (a name is the start of its line, which stays whole). */
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += data[i] == '\n';
    char *block = malloc(2 * len + 2);
    entry_t *entries = calloc(lines, sizeof *entries);
    if (!block || !entries) {
        free(block);
        free(entries);
        return false;
    }
    memcpy(block, data, len);
    block[len] = 0;
    char *names = block + len + 1;
    size_t n = 0;
    char *p = block;
    while (p < block + len) {
        char *nl = memchr(p, '\n', (size_t)(block + len - p));
        char *end = nl ? nl : block + len;
        *end = 0;
        /* "name (section) - description" */
        char *paren = strstr(p, " (");
        char *close = paren ? strchr(paren, ')') : NULL;
        if (paren && close && paren > p && close - paren <= 16) {
            size_t name_len = (size_t)(paren - p);
            memcpy(names, p, name_len);
            names[name_len] = 0;
            entries[n].name = names;
            entries[n].line = p;
            entries[n].section = paren + 2;
            entries[n].section_len = (size_t)(close - paren - 2);
            names += name_len + 1;
            n++;
        }
        p = end + 1;
    }
    qsort(entries, n, sizeof *entries, s_cmp_entry);
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (w == 0 || strcmp(entries[w - 1].name, entries[i].name) != 0)
            entries[w++] = entries[i];
    free(self->entries);
    free(self->text);
    self->text = block;
    self->entries = entries;
    self->count = w;
    self->loaded = true;
    return true;
}

bool whatis_on_readable(whatis_t *self)
{
    if (self->fd < 0)
        return false;
    for (;;) {
        if (!l3_buf_reserve(&self->in, 65536)) {
            l3_warn("whatis: more than %u bytes of descriptions; using what came",
                    WHATIS_MAX_BYTES);
            break;
        }
        ssize_t n = read(self->fd, self->in.data + self->in.len, 65536);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n <= 0)
            break;
        self->in.len += (size_t)n;
    }
    s_stop_loader(self);
    if (!whatis_load_text(self, (const char *)self->in.data, self->in.len))
        l3_warn("whatis: out of memory loading the descriptions");
    l3_buf_free(&self->in);
    l3_info("whatis: %zu command descriptions", self->count);
    return false;
}

const char *whatis_lookup(const whatis_t *self, const char *word)
{
    if (!self || !self->loaded)
        return "";
    size_t lo = 0, hi = self->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(self->entries[mid].name, word);
        if (c == 0)
            return self->entries[mid].line;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return "";
}

size_t whatis_count(const whatis_t *self)
{
    return self ? self->count : 0;
}
