/*  l3_config — the one config file, czmq ZPL format, a section per program.

    conf/lilalo.cfg documents every key. Lookups take "section/key" paths and a default;
    the 2005 keys (backend_address, backend_port, backend_pidfile, backend_datafile,
    frontend_css, frontend_*_ico) are read by the programs they belong to. A key missing
    from the file gets its default, so a program runs with no file at all. */
#ifndef L3_CONFIG_H
#define L3_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct l3_config_t l3_config_t;

/* Load path (NULL = empty config, all defaults). NULL on a missing or malformed file,
   with the reason logged. */
l3_config_t *l3_config_load(const char *path);
void l3_config_destroy(l3_config_t **self_p);
/* Path the config came from, or "(defaults)". */
const char *l3_config_path(l3_config_t *self);

/* Value at "section/key", or def when absent. The string is owned by the config. */
const char *l3_config_str(l3_config_t *self, const char *path, const char *def);
/* Integer value; def when absent; logs and returns def when not a number in range. */
int64_t l3_config_int(l3_config_t *self, const char *path, int64_t def, int64_t min,
                      int64_t max);
/* "1/yes/true/on" and "0/no/false/off"; def when absent or unrecognised. */
bool l3_config_bool(l3_config_t *self, const char *path, bool def);

#endif
