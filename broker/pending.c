/*  pending — join requests waiting for approval, one file per key. See pending.h. */
#include "pending.h"
#include "keyring.h"
#include "l3_fs.h"
#include "l3_time.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool pending_path(const char *dir, const char *id, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s.pub", dir, id);
    return n > 0 && (size_t)n < size;
}

/* A name pending_store could have written: 64 lowercase hex + ".pub". */
static bool s_pending_name(const char *name)
{
    char id[L3_CURVE_ID_LEN + 1];
    if (strlen(name) != L3_CURVE_ID_LEN + 4 || strcmp(name + L3_CURVE_ID_LEN, ".pub") != 0)
        return false;
    memcpy(id, name, L3_CURVE_ID_LEN);
    id[L3_CURVE_ID_LEN] = '\0';
    return l3_curve_id_is_hex(id);
}

/* Pending files in dir, counting up to limit (enough to know it is full). */
static size_t s_count(const char *dir, size_t limit)
{
    size_t count = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && count < limit && (e = readdir(d)))
        count += s_pending_name(e->d_name);
    if (d)
        closedir(d);
    return count;
}

bool pending_read(const char *path, pending_entry_t *entry, char *err, size_t errlen)
{
    bool ok = false;
    char data[PENDING_FILE_MAX];
    zchunk_t *chunk = NULL;
    zconfig_t *root = NULL;
    memset(entry, 0, sizeof *entry);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        st.st_size >= PENDING_FILE_MAX) {
        snprintf(err, errlen, "%s: not a pending request (%s)", path,
                 fd < 0 ? strerror(errno) : "not a small regular file");
        goto cleanup;
    }
    ssize_t n = read(fd, data, sizeof data);
    if (n != st.st_size) {
        snprintf(err, errlen, "%s: short read", path);
        goto cleanup;
    }
    chunk = zchunk_new(data, (size_t)n);
    root = chunk ? zconfig_chunk_load(chunk) : NULL;
    const char *pub = root ? zconfig_get(root, "/curve/public-key", NULL) : NULL;
    const char *host = root ? zconfig_get(root, "/metadata/host", NULL) : NULL;
    const char *ts = root ? zconfig_get(root, "/metadata/ts", NULL) : NULL;
    uint8_t key[L3_CURVE_KEY_LEN];
    char *end = NULL;
    if (!pub || strlen(pub) != L3_CURVE_Z85_LEN || !zmq_z85_decode(key, pub) || !host ||
        !keyring_host_valid(host) || !ts) {
        snprintf(err, errlen, "%s: not a pending request (key, host or ts missing or bad)", path);
        goto cleanup;
    }
    errno = 0;
    entry->ts = strtoll(ts, &end, 10);
    if (errno || !end || *end) {
        snprintf(err, errlen, "%s: bad ts", path);
        goto cleanup;
    }
    l3_curve_agent_id(key, entry->id);
    snprintf(entry->public_txt, sizeof entry->public_txt, "%s", pub);
    snprintf(entry->host, sizeof entry->host, "%s", host);
    snprintf(entry->requested, sizeof entry->requested, "%s",
             zconfig_get(root, "/metadata/requested", "?"));
    snprintf(entry->peer, sizeof entry->peer, "%s", zconfig_get(root, "/metadata/peer", "?"));
    ok = true;
cleanup:
    if (fd >= 0)
        close(fd);
    zconfig_destroy(&root);
    zchunk_destroy(&chunk);
    return ok;
}

pending_result_t pending_store(const char *dir, size_t max, const uint8_t *key,
                               const l3_join_t *join, const char *peer, char *err, size_t errlen)
{
    char id[L3_CURVE_ID_LEN + 1], path[4096], z85[L3_CURVE_Z85_LEN + 1], now[40];
    char peer_safe[PENDING_PEER_MAX];
    l3_curve_agent_id(key, id);
    if (!pending_path(dir, id, path, sizeof path) || !zmq_z85_encode(z85, key, L3_CURVE_KEY_LEN)) {
        snprintf(err, errlen, "%s: path too long", dir);
        return PENDING_FAILED;
    }
    /* The host goes into a quoted ZPL value: the decoder let through any printable text,
       the keyring takes only what a certificate can hold. */
    if (!keyring_host_valid(join->host)) {
        snprintf(err, errlen, "host cannot be bound (it holds '\"')");
        return PENDING_FAILED;
    }
    pending_entry_t old;
    char why[512];
    bool was_pending = pending_read(path, &old, why, sizeof why);
    if (was_pending && join->ts <= old.ts)
        return PENDING_REPLAYED;
    if (!was_pending && s_count(dir, max) >= max)
        return PENDING_FULL;
    /* The peer address is ours (getpeername), but keep the value to safe characters. */
    size_t j = 0;
    for (size_t i = 0; peer && peer[i] && j + 1 < sizeof peer_safe; i++)
        if (strchr("0123456789abcdefABCDEF.:[]", peer[i]))
            peer_safe[j++] = peer[i];
    peer_safe[j] = '\0';
    l3_time_format(l3_time_now_us(), now, sizeof now);
    char text[PENDING_FILE_MAX];
    int n = snprintf(text, sizeof text,
                     "#   lilalo join request: `l3-hosts approve` moves it into allowed_keys\n"
                     "metadata\n"
                     "    host = \"%s\"\n"
                     "    requested = \"%s\"\n"
                     "    ts = \"%" PRId64 "\"\n"
                     "    peer = \"%s\"\n"
                     "curve\n"
                     "    public-key = \"%s\"\n",
                     join->host, now, join->ts, peer_safe, z85);
    if (n < 0 || n >= (int)sizeof text) {
        snprintf(err, errlen, "join request too long");
        return PENDING_FAILED;
    }
    /* 0644: a pending file holds nothing secret, and l3-hosts must read it. */
    if (!l3_replace_file(path, text, 0644)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return PENDING_FAILED;
    }
    return was_pending ? PENDING_UPDATED : PENDING_STORED;
}

static int s_entry_cmp(const void *a, const void *b)
{
    const pending_entry_t *x = a, *y = b;
    int c = strcmp(x->host, y->host);
    return c ? c : strcmp(x->id, y->id);
}

bool pending_list(const char *dir, size_t max_entries, pending_entry_t **entries, size_t *count)
{
    *entries = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return false;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) && *count < max_entries) {
        if (!s_pending_name(e->d_name))
            continue;
        if (*count == cap) {
            size_t grown = cap ? cap * 2 : 16;
            pending_entry_t *more = realloc(*entries, grown * sizeof **entries);
            if (!more)
                break;
            *entries = more;
            cap = grown;
        }
        char path[4096], err[512];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path &&
            pending_read(path, &(*entries)[*count], err, sizeof err))
            (*count)++;
    }
    closedir(d);
    if (*count)
        qsort(*entries, *count, sizeof **entries, s_entry_cmp);
    return true;
}
