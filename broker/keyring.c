/*  keyring — allowed CURVE keys from a directory. See keyring.h. */
#include "keyring.h"
#include "l3_curve.h"
#include "l3_log.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

struct keyring_t {
    char *dir;
    zhashx_t *keys; /* agent id (hex of the key) -> file name */
    struct timespec mtime;
    int64_t loaded_at; /* zclock_mono of the last read */
    bool loaded_once;
};

/* Read the directory into a fresh table; replaces the old one only when the read works,
   so a directory that vanishes for a moment does not lock every agent out. */
static bool s_load(keyring_t *self)
{
    /* Counted from the attempt, so a failing directory is retried (and logged) at most
       once per KEYRING_RELOAD_MS, not on every connection. */
    self->loaded_at = zclock_mono();
    struct stat st;
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
    bool loud = !self->loaded_once; /* file-by-file complaints at start only */
    zhashx_t *keys = zhashx_new();
    zhashx_set_destructor(keys, (zhashx_destructor_fn *) zstr_free);
    zhashx_set_duplicator(keys, (zhashx_duplicator_fn *) strdup);
    unsigned files = 0, secrets = 0, bad = 0;
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
        zcert_t *cert = l3_curve_cert_read(path, err, sizeof err);
        char id[L3_CURVE_ID_LEN + 1] = "";
        if (cert) {
            const uint8_t *pub = zcert_public_key(cert);
            uint8_t any = 0;
            for (int i = 0; i < L3_CURVE_KEY_LEN; i++)
                any |= pub[i];
            if (any)
                l3_curve_agent_id(pub, id);
        }
        if (!id[0]) {
            bad++;
            if (loud)
                l3_warn("allowed_keys: %s; ignored", err);
        } else {
            if (l3_curve_cert_has_secret(cert)) {
                secrets++;
                if (loud)
                    l3_warn("allowed_keys: %s holds a SECRET key; only NAME.pub files belong "
                            "here (its public key is allowed)",
                            path);
            }
            /* A key in two files (NAME.pub copied twice, NAME.key beside NAME.pub) is
               one key: keep the first name. */
            zhashx_insert(keys, id, e->d_name);
        }
        zcert_destroy(&cert);
    }
    closedir(d);
    if (loud || zhashx_size(keys) != zhashx_size(self->keys))
        l3_info("allowed_keys %s: %zu key(s) from %u file(s)%s", self->dir, zhashx_size(keys),
                files, bad || secrets ? " (see warnings at start)" : "");
    zhashx_destroy(&self->keys);
    self->keys = keys;
    self->mtime = st.st_mtim;
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
    if (!self->dir || !self->keys || !s_load(self))
        keyring_destroy(&self);
    return self;
}

void keyring_destroy(keyring_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    keyring_t *self = *self_p;
    zhashx_destroy(&self->keys);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

static bool s_stale(keyring_t *self)
{
    if (zclock_mono() - self->loaded_at >= KEYRING_RELOAD_MS)
        return true;
    struct stat st;
    if (stat(self->dir, &st) != 0)
        return false; /* keep what we have; s_load would fail anyway */
    return st.st_mtim.tv_sec != self->mtime.tv_sec || st.st_mtim.tv_nsec != self->mtime.tv_nsec;
}

bool keyring_allows(keyring_t *self, const uint8_t key[32], char *name, size_t name_size)
{
    if (s_stale(self))
        s_load(self);
    char id[L3_CURVE_ID_LEN + 1];
    l3_curve_agent_id(key, id);
    const char *file = zhashx_lookup(self->keys, id);
    if (file && name && name_size)
        snprintf(name, name_size, "%s", file);
    return file != NULL;
}

size_t keyring_size(keyring_t *self)
{
    return zhashx_size(self->keys);
}
