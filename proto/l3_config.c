/*  l3_config — ZPL config via czmq's zconfig. See l3_config.h. */
#include "l3_config.h"
#include "l3_log.h"
#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct l3_config_t {
    zconfig_t *root; // NULL when running on defaults
    char *path;
};

l3_config_t *l3_config_load(const char *path)
{
    l3_config_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    if (!path) {
        self->path = strdup("(defaults)");
        return self;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        l3_error("config %s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        l3_error("config %s: not a regular file", path);
        goto fail;
    }
    //  zconfig_load returns NULL on a syntax error and prints its own message on stderr;
    //  we name the file so the user knows which one.
    self->root = zconfig_load(path);
    if (!self->root) {
        l3_error("config %s: not valid ZPL (sections and 'key = value', indented by 4 spaces)",
                 path);
        goto fail;
    }
    self->path = strdup(path);
    return self;
fail:
    free(self);
    return NULL;
}

void l3_config_destroy(l3_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    l3_config_t *self = *self_p;
    zconfig_destroy(&self->root);
    free(self->path);
    free(self);
    *self_p = NULL;
}

const char *l3_config_path(l3_config_t *self)
{
    return self->path;
}

const char *l3_config_str(l3_config_t *self, const char *path, const char *def)
{
    if (!self || !self->root)
        return def;
    zconfig_t *item = zconfig_locate(self->root, path);
    if (!item)
        return def;
    const char *value = zconfig_value(item);
    return value ? value : def;
}

int64_t l3_config_int(l3_config_t *self, const char *path, int64_t def, int64_t min, int64_t max)
{
    const char *text = l3_config_str(self, path, NULL);
    if (!text || !*text)
        return def;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end || v < min || v > max) {
        l3_warn("config %s: \"%s\" is not a number from %lld to %lld; using %lld", path, text,
                (long long) min, (long long) max, (long long) def);
        return def;
    }
    return v;
}

bool l3_config_bool(l3_config_t *self, const char *path, bool def)
{
    const char *text = l3_config_str(self, path, NULL);
    if (!text || !*text)
        return def;
    if (!strcasecmp(text, "1") || !strcasecmp(text, "yes") || !strcasecmp(text, "true")
        || !strcasecmp(text, "on"))
        return true;
    if (!strcasecmp(text, "0") || !strcasecmp(text, "no") || !strcasecmp(text, "false")
        || !strcasecmp(text, "off"))
        return false;
    l3_warn("config %s: \"%s\" is not a yes/no value; using %s", path, text, def ? "yes" : "no");
    return def;
}
