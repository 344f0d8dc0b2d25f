/*  keyring — allowed CURVE keys and their host bindings from a directory. See keyring.h. */
#include "keyring.h"
#include "l3_curve.h"
#include "l3_log.h"
#include "l3_record.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A key in the table: the public entry points into the strings it owns. */
typedef struct {
    keyring_entry_t entry;
    char *file, *host, *conflict;
    char *conflict_host; /* the binding of the conflict file (NULL: none) */
} s_key_t;

struct keyring_t {
    char *dir;
    zhashx_t *keys;      /* agent id (hex of the key) -> s_key_t */
    zhashx_t *bad_files; /* names of the files that were no certificate at the last read */
    struct timespec mtime;
    int64_t loaded_at; /* zclock_mono of the last read */
    bool racy;         /* the directory had changed just before the last read */
    bool loaded_once;
};

/* What one certificate says. */
typedef struct {
    char id[L3_CURVE_ID_LEN + 1];
    bool secret;
    char host[L3_NAME_MAX + 1]; /* "" when it binds no host */
} s_cert_t;

static void s_key_destroy(s_key_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->file);
    free((*self_p)->host);
    free((*self_p)->conflict);
    free((*self_p)->conflict_host);
    free(*self_p);
    *self_p = NULL;
}

/* What a record's "h" may hold (l3_record_validate), without the double quote that a ZPL
   value cannot carry. */
bool keyring_host_valid(const char *host)
{
    return host && host[0] && l3_text_valid(host, L3_NAME_MAX) && !strchr(host, '"');
}

/* Read a whole certificate file (at most L3_CURVE_CERT_MAX bytes) into data. */
static bool s_file_read(const char *path, char *data, size_t *len, char *err, size_t errlen)
{
    bool ok = false;
    /* O_NONBLOCK: a FIFO dropped into the directory must not hang the broker. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > L3_CURVE_CERT_MAX) {
        snprintf(err, errlen, "%s: not a certificate (not a regular file under %d bytes)", path,
                 L3_CURVE_CERT_MAX);
        goto cleanup;
    }
    size_t got = 0;
    while (got < L3_CURVE_CERT_MAX) {
        ssize_t n = read(fd, data + got, L3_CURVE_CERT_MAX - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            goto cleanup;
        }
        if (n == 0)
            break;
        got += (size_t) n;
    }
    *len = got;
    ok = true;
cleanup:
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Parse certificate text: the key (which must be valid and not zero), whether it holds a
   secret, and the host binding. name is for the messages. */
static bool s_cert_parse(const char *name, const char *data, size_t len, s_cert_t *out,
                         char *err, size_t errlen)
{
    bool ok = false;
    memset(out, 0, sizeof *out);
    zchunk_t *chunk = zchunk_new(data, len);
    zconfig_t *root = chunk ? zconfig_chunk_load(chunk) : NULL;
    const char *pub = root ? zconfig_get(root, "/curve/public-key", NULL) : NULL;
    const char *sec = root ? zconfig_get(root, "/curve/secret-key", NULL) : NULL;
    const char *host = root ? zconfig_get(root, "/metadata/host", NULL) : NULL;
    uint8_t key[L3_CURVE_KEY_LEN], secret[L3_CURVE_KEY_LEN], any = 0;
    if (!pub || strlen(pub) != L3_CURVE_Z85_LEN || !zmq_z85_decode(key, pub)) {
        snprintf(err, errlen, "%s: not a certificate (no valid curve/public-key)", name);
        goto cleanup;
    }
    for (int i = 0; i < L3_CURVE_KEY_LEN; i++)
        any |= key[i];
    if (!any) {
        snprintf(err, errlen, "%s: not a certificate (its public key is zero)", name);
        goto cleanup;
    }
    if (sec && (strlen(sec) != L3_CURVE_Z85_LEN || !zmq_z85_decode(secret, sec))) {
        snprintf(err, errlen, "%s: bad curve/secret-key", name);
        goto cleanup;
    }
    if (host && host[0] && !keyring_host_valid(host)) {
        snprintf(err, errlen, "%s: metadata host is not a valid host name", name);
        goto cleanup;
    }
    l3_curve_agent_id(key, out->id);
    out->secret = sec != NULL;
    snprintf(out->host, sizeof out->host, "%s", host ? host : "");
    ok = true;
cleanup:
    zconfig_destroy(&root);
    zchunk_destroy(&chunk);
    return ok;
}

/* Read and parse the certificate at path; data is a buffer of L3_CURVE_CERT_MAX bytes. */
static bool s_cert_read(const char *path, char *data, s_cert_t *out, char *err, size_t errlen)
{
    size_t len = 0;
    return s_file_read(path, data, &len, err, errlen) &&
           s_cert_parse(path, data, len, out, err, errlen);
}

/* Replace *slot with a copy of name when name sorts first. false when out of memory. */
static bool s_keep_smaller(char **slot, const char *name)
{
    if (*slot && strcmp(name, *slot) >= 0)
        return true;
    char *copy = strdup(name);
    if (!copy)
        return false;
    free(*slot);
    *slot = copy;
    return true;
}

/* Two bindings are alike when both bind nothing (NULL or "") or name the same host. */
static bool s_same_host(const char *a, const char *b)
{
    bool a_none = !a || !a[0], b_none = !b || !b[0];
    if (a_none || b_none)
        return a_none && b_none;
    return strcmp(a, b) == 0;
}

/* Add the key of one file to the table. Files holding the same key are one key when
   they bind it alike; otherwise the key is in conflict. Of each binding the smallest
   file name is kept, so what is logged does not depend on the order of readdir. Out of
   memory, the key is left out: refused, never bound to the wrong host. */
static void s_table_add(zhashx_t *keys, const char *file, const s_cert_t *cert)
{
    s_key_t *key = zhashx_lookup(keys, cert->id);
    bool ok = true;
    if (!key) {
        key = zmalloc(sizeof *key);
        if (!key)
            return;
        key->file = strdup(file);
        key->host = cert->host[0] ? strdup(cert->host) : NULL;
        if (!key->file || (cert->host[0] && !key->host)) {
            s_key_destroy(&key);
            return;
        }
        zhashx_insert(keys, cert->id, key);
    } else if (s_same_host(key->host, cert->host))
        ok = s_keep_smaller(&key->file, file);
    else if (!key->conflict) {
        key->conflict_host = cert->host[0] ? strdup(cert->host) : NULL;
        ok = (key->conflict = strdup(file)) && (!cert->host[0] || key->conflict_host);
    } else if (s_same_host(key->conflict_host, cert->host))
        ok = s_keep_smaller(&key->conflict, file);
    /* else a third binding: the key is in conflict already */
    if (!ok) {
        zhashx_delete(keys, cert->id);
        return;
    }
    if (key->conflict && strcmp(key->conflict, key->file) < 0) {
        char *name = key->file, *host = key->host;
        key->file = key->conflict;
        key->host = key->conflict_host;
        key->conflict = name;
        key->conflict_host = host;
    }
    key->entry.file = key->file;
    key->entry.host = key->host;
    key->entry.conflict = key->conflict;
}

/* Per-kind warning budget of one load. */
typedef struct {
    unsigned logged, more;
} s_budget_t;

static bool s_budget(s_budget_t *b)
{
    if (b->logged < KEYRING_WARN_MAX) {
        b->logged++;
        return true;
    }
    b->more++;
    return false;
}

/* True when a key's binding (host, unbound or in conflict) differs between two reads. */
static bool s_binding_differs(const s_key_t *a, const s_key_t *b)
{
    if (!!a->conflict != !!b->conflict)
        return true;
    if (a->conflict)
        return false;
    if (!a->host || !b->host)
        return a->host != b->host;
    return strcmp(a->host, b->host) != 0;
}

/* Log what is new about the keys since the last read (everything at the first, when
   loud): conflicts and unbound keys as warnings, changed bindings as info. True when the
   binding of a key that was there before changed. */
static bool s_log_changes(keyring_t *self, zhashx_t *keys, bool loud)
{
    s_budget_t conflicts = {0, 0}, unbound = {0, 0}, changed = {0, 0};
    bool any = false;
    for (s_key_t *key = zhashx_first(keys); key; key = zhashx_next(keys)) {
        const char *id = zhashx_cursor(keys);
        const s_key_t *old = loud ? NULL : zhashx_lookup(self->keys, id);
        bool differs = old && s_binding_differs(old, key);
        any |= differs;
        if (key->conflict) {
            if ((!old || differs) && s_budget(&conflicts))
                l3_warn("allowed_keys: agent %s is in %s and in %s with different host "
                        "bindings; refused until they agree",
                        id, key->file, key->conflict);
        } else if (!key->host) {
            if ((!old || differs) && s_budget(&unbound))
                l3_warn("allowed_keys: %s (agent %s) binds no host (no metadata host); "
                        "`l3-keygen --bind HOST %s/%s` binds it",
                        key->file, id, self->dir, key->file);
        } else if (differs && s_budget(&changed)) {
            if (old->host && !old->conflict)
                l3_info("allowed_keys: agent %s (%s) is now bound to host \"%s\" (was \"%s\")",
                        id, key->file, key->host, old->host);
            else
                l3_info("allowed_keys: agent %s (%s) is now bound to host \"%s\" (was %s)", id,
                        key->file, key->host, old->conflict ? "in conflict" : "unbound");
        }
    }
    if (conflicts.more)
        l3_warn("allowed_keys: %u more key(s) with conflicting host bindings", conflicts.more);
    if (unbound.more)
        l3_warn("allowed_keys: %u more key(s) binding no host", unbound.more);
    if (changed.more)
        l3_info("allowed_keys: %u more key(s) bound to another host", changed.more);
    return any;
}

/* Read the directory into a fresh table; replaces the old one only when the read works,
   so a directory that vanishes for a moment does not lock every agent out. */
static bool s_load(keyring_t *self)
{
    /* Counted from the attempt, so a failing directory is retried (and logged) at most
       once per reload interval, not on every connection. */
    self->loaded_at = zclock_mono();
    struct stat st;
    errno = 0;
    if (stat(self->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        l3_error("allowed_keys %s: %s", self->dir,
                 errno ? strerror(errno) : "not a directory");
        return false;
    }
    DIR *d = opendir(self->dir);
    if (!d) {
        l3_error("allowed_keys %s: %s", self->dir, strerror(errno));
        return false;
    }
    bool loud = !self->loaded_once; /* file-by-file complaints at start, then news only */
    zhashx_t *keys = zhashx_new();
    zhashx_t *bad_files = zhashx_new();
    char *data = malloc(L3_CURVE_CERT_MAX);
    if (!keys || !bad_files || !data) {
        closedir(d);
        zhashx_destroy(&keys);
        zhashx_destroy(&bad_files);
        free(data);
        return false;
    }
    zhashx_set_destructor(keys, (zhashx_destructor_fn *) s_key_destroy);
    unsigned files = 0, secrets = 0, bad = 0;
    s_budget_t bad_log = {0, 0};
    struct dirent *e;
    while ((e = readdir(d)) && files < KEYRING_MAX_FILES) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", self->dir, e->d_name) >= (int) sizeof path)
            continue;
        struct stat fst;
        if (stat(path, &fst) != 0 || !S_ISREG(fst.st_mode))
            continue;
        files++;
        char err[512];
        s_cert_t cert;
        if (!s_cert_read(path, data, &cert, err, sizeof err)) {
            bad++;
            zhashx_insert(bad_files, e->d_name, (void *) 1);
            bool news = loud || !zhashx_lookup(self->bad_files, e->d_name);
            if (news && s_budget(&bad_log))
                l3_warn("allowed_keys: %s; ignored", err);
            continue;
        }
        if (cert.secret) {
            secrets++;
            if (loud)
                l3_warn("allowed_keys: %s holds a SECRET key; only NAME.pub files belong "
                        "here (its public key is allowed)",
                        path);
        }
        s_table_add(keys, e->d_name, &cert);
    }
    closedir(d);
    free(data);
    if (bad_log.more)
        l3_warn("allowed_keys: %u more file(s) that are no certificate; ignored", bad_log.more);
    unsigned unbound = 0, conflicts = 0, old_unbound = 0, old_conflicts = 0;
    for (s_key_t *key = zhashx_first(keys); key; key = zhashx_next(keys)) {
        conflicts += key->conflict != NULL;
        unbound += !key->conflict && !key->host;
    }
    for (s_key_t *key = zhashx_first(self->keys); key; key = zhashx_next(self->keys)) {
        old_conflicts += key->conflict != NULL;
        old_unbound += !key->conflict && !key->host;
    }
    bool changed = s_log_changes(self, keys, loud);
    if (loud || changed || zhashx_size(keys) != zhashx_size(self->keys) ||
        unbound != old_unbound || conflicts != old_conflicts)
        l3_info("allowed_keys %s: %zu key(s) from %u file(s); %u bind no host, %u in "
                "conflict%s",
                self->dir, zhashx_size(keys), files, unbound, conflicts,
                bad || secrets ? " (see warnings at start)" : "");
    zhashx_destroy(&self->keys);
    zhashx_destroy(&self->bad_files);
    self->keys = keys;
    self->bad_files = bad_files;
    self->mtime = st.st_mtim;
    /* The kernel stamps the directory from a coarse clock (a few ms), so a change made
       just after this read (the rename that follows a temporary file's creation) can
       leave the same time on it, and would wait for the age limit. A read that close to
       a change is followed by another. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t age_ms = (int64_t) (now.tv_sec - st.st_mtim.tv_sec) * 1000 +
                     (now.tv_nsec - st.st_mtim.tv_nsec) / 1000000;
    self->racy = age_ms < KEYRING_RACY_MS;
    self->loaded_once = true;
    return true;
}

keyring_t *keyring_new(const char *dir)
{
    keyring_t *self = zmalloc(sizeof *self);
    if (!self)
        return NULL;
    self->dir = strdup(dir);
    self->keys = zhashx_new();
    self->bad_files = zhashx_new();
    if (!self->dir || !self->keys || !self->bad_files || !s_load(self))
        keyring_destroy(&self);
    return self;
}

void keyring_destroy(keyring_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    keyring_t *self = *self_p;
    zhashx_destroy(&self->keys);
    zhashx_destroy(&self->bad_files);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

bool keyring_refresh(keyring_t *self, int64_t max_age_ms)
{
    int64_t age = zclock_mono() - self->loaded_at;
    bool stale = age >= max_age_ms || (self->racy && age >= KEYRING_RACY_RELOAD_MS);
    if (!stale) {
        /* The directory's time changes when a file is added, removed or renamed over
           another (editors, l3-keygen --bind); a file rewritten in place waits for the
           age limit. */
        struct stat st;
        if (stat(self->dir, &st) != 0)
            return false; /* keep what we have; s_load would fail anyway */
        stale = st.st_mtim.tv_sec != self->mtime.tv_sec ||
                st.st_mtim.tv_nsec != self->mtime.tv_nsec;
    }
    if (stale)
        s_load(self);
    return stale;
}

const keyring_entry_t *keyring_lookup(keyring_t *self, const char *agent_id)
{
    const s_key_t *key = agent_id ? zhashx_lookup(self->keys, agent_id) : NULL;
    return key ? &key->entry : NULL;
}

size_t keyring_size(keyring_t *self)
{
    return zhashx_size(self->keys);
}

bool keyring_cert_host(const char *path, char *host, size_t host_size, char *err,
                       size_t errlen)
{
    s_cert_t cert;
    char *data = malloc(L3_CURVE_CERT_MAX);
    bool ok = data && s_cert_read(path, data, &cert, err, errlen);
    if (!data)
        snprintf(err, errlen, "out of memory");
    if (ok)
        snprintf(host, host_size, "%s", cert.host);
    free(data);
    return ok;
}

/* Write text to path atomically: a temporary file beside it, with the old file's mode
   and (when we may) owner, synced, then renamed over it. The temporary name starts with
   a dot, so a broker reading the directory meanwhile skips it instead of seeing the key
   twice, bound two ways. */
static bool s_replace(const char *path, const struct stat *old, const char *text, char *err,
                      size_t errlen)
{
    bool ok = false;
    char tmp[4096];
    int fd = -1;
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int) (slash - path + 1) : 0;
    if (snprintf(tmp, sizeof tmp, "%.*s.%s.XXXXXX", dir_len, path, path + dir_len) >=
        (int) sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return false;
    }
    fd = mkstemp(tmp); /* 0600 from the start, so a secret file is never readable */
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return false;
    }
    if (fchown(fd, old->st_uid, old->st_gid) != 0 && geteuid() == 0) {
        snprintf(err, errlen, "%s: chown: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (fchmod(fd, old->st_mode & 07777) != 0) {
        snprintf(err, errlen, "%s: chmod: %s", tmp, strerror(errno));
        goto cleanup;
    }
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
            goto cleanup;
        }
        done += (size_t) n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    tmp[0] = '\0';
    ok = true;
cleanup:
    if (fd >= 0)
        close(fd);
    if (tmp[0])
        unlink(tmp);
    return ok;
}

bool keyring_cert_bind(const char *path, const char *host, char *err, size_t errlen)
{
    char *data = NULL;
    bool ok = false;
    zchunk_t *chunk = NULL;
    zconfig_t *root = NULL;
    char *text = NULL;
    size_t len = 0;
    s_cert_t before, after;
    if (!host)
        host = "";
    if (host[0] && !keyring_host_valid(host)) {
        snprintf(err, errlen, "'%s' cannot be a bound host: it must be what a record's host "
                              "may be (printable, at most %d bytes) without '\"'",
                 host, L3_NAME_MAX);
        goto cleanup;
    }
    struct stat st;
    if (lstat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (S_ISLNK(st.st_mode)) {
        snprintf(err, errlen, "%s is a symbolic link: bind the file it points to", path);
        goto cleanup;
    }
    if (!(data = malloc(L3_CURVE_CERT_MAX))) {
        snprintf(err, errlen, "out of memory");
        goto cleanup;
    }
    if (!s_file_read(path, data, &len, err, errlen) ||
        !s_cert_parse(path, data, len, &before, err, errlen))
        goto cleanup;
    chunk = zchunk_new(data, len);
    root = chunk ? zconfig_chunk_load(chunk) : NULL;
    if (!root) {
        snprintf(err, errlen, "%s: cannot parse", path);
        goto cleanup;
    }
    /* Unbinding writes host = "": an empty host binds nothing, and czmq 4.2 has no
       stable call to remove a config item. */
    zconfig_put(root, "/metadata/host", host);
    /* zconfig reads a section as the value "", which would be written back as
       'metadata = ""': valid, but not what czmq writes for a certificate. */
    for (zconfig_t *item = zconfig_child(root); item; item = zconfig_next(item))
        if (zconfig_child(item) && zconfig_value(item) && !zconfig_value(item)[0])
            zconfig_set_value(item, NULL);
    text = zconfig_str_save(root);
    /* What the broker will read from the new text must be the same key and this host. */
    if (!text || !s_cert_parse(path, text, strlen(text), &after, err, errlen))
        goto cleanup;
    if (strcmp(after.id, before.id) != 0 || after.secret != before.secret ||
        strcmp(after.host, host) != 0) {
        snprintf(err, errlen, "%s: the rewritten certificate would not read back as bound "
                              "to '%s'",
                 path, host);
        goto cleanup;
    }
    ok = s_replace(path, &st, text, err, errlen);
cleanup:
    zstr_free(&text);
    zconfig_destroy(&root);
    zchunk_destroy(&chunk);
    free(data);
    return ok;
}
