/*  hosts — list, approve and remove hosts in the broker's key directories. See hosts.h. */
#include "hosts.h"
#include "keyring.h"
#include "l3_fs.h"
#include "l3_time.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int s_entry_cmp(const void *a, const void *b)
{
    const hosts_entry_t *x = a, *y = b;
    int c = strcmp(x->host, y->host);
    return c ? c : strcmp(x->file, y->file);
}

bool hosts_enrolled(const char *allowed_dir, hosts_entry_t **entries, size_t *count)
{
    *entries = NULL;
    *count = 0;
    DIR *d = opendir(allowed_dir);
    if (!d)
        return false;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) && *count < HOSTS_MAX) {
        char path[4096], err[512];
        struct stat st;
        if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof(*entries)->file ||
            snprintf(path, sizeof path, "%s/%s", allowed_dir, e->d_name) >= (int)sizeof path ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (*count == cap) {
            size_t grown = cap ? cap * 2 : 16;
            hosts_entry_t *more = realloc(*entries, grown * sizeof **entries);
            if (!more)
                break;
            *entries = more;
            cap = grown;
        }
        hosts_entry_t *h = &(*entries)[*count];
        zcert_t *cert = l3_curve_cert_read(path, err, sizeof err);
        if (!cert || !keyring_cert_host(path, h->host, sizeof h->host, err, sizeof err)) {
            zcert_destroy(&cert);
            continue; /* not a certificate: the broker ignores it too */
        }
        l3_curve_agent_id(zcert_public_key(cert), h->id);
        zcert_destroy(&cert);
        snprintf(h->file, sizeof h->file, "%s", e->d_name);
        (*count)++;
    }
    closedir(d);
    if (*count)
        qsort(*entries, *count, sizeof **entries, s_entry_cmp);
    return true;
}

/* Does `which` name an entry with this host and id? (See hosts.h.) */
static bool s_matches(const char *which, const char *host, const char *id)
{
    if (strcmp(which, host) == 0)
        return true;
    size_t len = strlen(which);
    if (len < HOSTS_ID_PREFIX_MIN || len > L3_CURVE_ID_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (tolower((unsigned char)which[i]) != id[i])
            return false;
    return true;
}

/* A host name that can be a file name as it is: [A-Za-z0-9._-], not starting with '.'. */
static bool s_plain_name(const char *host)
{
    if (!host[0] || host[0] == '.' || strlen(host) > 200)
        return false;
    for (const char *p = host; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
            return false;
    return true;
}

bool hosts_approve(const char *pending_dir, const char *allowed_dir, const char *which,
                   pending_entry_t *done, char *err, size_t errlen)
{
    bool ok = false;
    pending_entry_t *pend = NULL;
    hosts_entry_t *enrolled = NULL;
    size_t npend = 0, nenrolled = 0;
    const pending_entry_t *found = NULL;
    if (!pending_list(pending_dir, HOSTS_MAX, &pend, &npend)) {
        snprintf(err, errlen, "%s: %s", pending_dir, strerror(errno));
        goto cleanup;
    }
    for (size_t i = 0; i < npend; i++) {
        if (!s_matches(which, pend[i].host, pend[i].id))
            continue;
        if (found) {
            snprintf(err, errlen,
                     "'%s' names more than one pending host (%s and %s): give "
                     "the agent id",
                     which, found->id, pend[i].id);
            goto cleanup;
        }
        found = &pend[i];
    }
    if (!found) {
        snprintf(err, errlen, "no pending join request for '%s' (l3-hosts list)", which);
        goto cleanup;
    }
    if (!hosts_enrolled(allowed_dir, &enrolled, &nenrolled)) {
        snprintf(err, errlen, "%s: %s", allowed_dir, strerror(errno));
        goto cleanup;
    }
    for (size_t i = 0; i < nenrolled; i++) {
        if (strcmp(enrolled[i].host, found->host) == 0 && strcmp(enrolled[i].id, found->id) != 0) {
            /* The one refusal that matters: a newcomer must not take over a host's name. */
            snprintf(err, errlen,
                     "host \"%s\" is enrolled already with another key (%s, agent "
                     "%.16s...); to give it this key, `l3-hosts remove %s` first",
                     found->host, enrolled[i].file, enrolled[i].id, enrolled[i].id);
            goto cleanup;
        }
    }
    char path[4096], from[4096], now[40], text[1024];
    const char *name = s_plain_name(found->host) ? found->host : found->id;
    if (snprintf(path, sizeof path, "%s/%s.pub", allowed_dir, name) >= (int)sizeof path ||
        !pending_path(pending_dir, found->id, from, sizeof from)) {
        snprintf(err, errlen, "path too long");
        goto cleanup;
    }
    if (access(path, F_OK) == 0) {
        /* Same key and host (checked above) under this name: already there. Anything
           else in that file is not ours to overwrite. */
        char host[L3_NAME_MAX + 1] = "", why[512];
        zcert_t *cert = l3_curve_cert_read(path, why, sizeof why);
        char id[L3_CURVE_ID_LEN + 1] = "";
        if (cert)
            l3_curve_agent_id(zcert_public_key(cert), id);
        zcert_destroy(&cert);
        if (!keyring_cert_host(path, host, sizeof host, why, sizeof why) ||
            strcmp(id, found->id) != 0 || strcmp(host, found->host) != 0) {
            snprintf(err, errlen, "%s exists and holds another key or host: move it away first",
                     path);
            goto cleanup;
        }
    } else {
        l3_time_format(l3_time_now_us(), now, sizeof now);
        snprintf(text, sizeof text,
                 "#   lilalo agent key of host \"%s\", approved %s (l3-hosts)\n"
                 "#   join request from %s at %s\n"
                 "metadata\n"
                 "    host = \"%s\"\n"
                 "curve\n"
                 "    public-key = \"%s\"\n",
                 found->host, now, found->peer, found->requested, found->host, found->public_txt);
        if (!l3_replace_file(path, text, 0644)) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            goto cleanup;
        }
    }
    if (unlink(from) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "%s: %s (the host is enrolled; remove this file by hand)", from,
                 strerror(errno));
        goto cleanup;
    }
    *done = *found;
    ok = true;
cleanup:
    free(pend);
    free(enrolled);
    return ok;
}

bool hosts_remove(const char *pending_dir, const char *allowed_dir, const char *which,
                  size_t *removed, char *err, size_t errlen)
{
    bool ok = true;
    pending_entry_t *pend = NULL;
    hosts_entry_t *enrolled = NULL;
    size_t npend = 0, nenrolled = 0;
    *removed = 0;
    err[0] = '\0';
    if (!hosts_enrolled(allowed_dir, &enrolled, &nenrolled)) {
        snprintf(err, errlen, "%s: %s", allowed_dir, strerror(errno));
        return false;
    }
    for (size_t i = 0; i < nenrolled; i++) {
        char path[4096];
        if (!s_matches(which, enrolled[i].host, enrolled[i].id))
            continue;
        snprintf(path, sizeof path, "%s/%s", allowed_dir, enrolled[i].file);
        if (unlink(path) == 0)
            (*removed)++;
        else {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            ok = false;
        }
    }
    /* A pending request of the same host goes too: removing means "not this host". */
    if (pending_dir && pending_list(pending_dir, HOSTS_MAX, &pend, &npend)) {
        for (size_t i = 0; i < npend; i++) {
            char path[4096];
            if (s_matches(which, pend[i].host, pend[i].id) &&
                pending_path(pending_dir, pend[i].id, path, sizeof path) && unlink(path) == 0)
                (*removed)++;
        }
    }
    if (ok && *removed == 0) {
        snprintf(err, errlen, "no host or key '%s' in %s%s%s", which, allowed_dir,
                 pending_dir ? " or " : "", pending_dir ? pending_dir : "");
        ok = false;
    }
    free(pend);
    free(enrolled);
    return ok;
}
