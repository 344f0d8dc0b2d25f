/*  l3_paths — install locations and the build-tree check. See l3_paths.h. */
#include "l3_paths.h"

#include <limits.h>
#include <string.h>
#include <unistd.h>

//  Both come from proto/CMakeLists.txt; the fallbacks only keep the file compilable alone.
#ifndef L3_PATHS_CONFIG
#define L3_PATHS_CONFIG "/usr/local/etc/lilalo/lilalo.cfg"
#endif
#ifndef L3_PATHS_BUILD_DIR
#define L3_PATHS_BUILD_DIR ""
#endif

const char *l3_paths_config_installed(void)
{
    return L3_PATHS_CONFIG;
}

const char *l3_paths_config_default(void)
{
    if (l3_paths_in_build_tree() || access(L3_PATHS_CONFIG, R_OK) != 0)
        return NULL;
    return L3_PATHS_CONFIG;
}

bool l3_paths_in_build_tree(void)
{
    //  /proc/self/exe, not argv[0]: PATH lookups and relative names make argv[0] say
    //  nothing reliable. Without /proc the program counts as installed, the safe side
    //  for a real host. One readlink per process; cached.
    static int cached = -1;
    if (cached < 0) {
        char exe[PATH_MAX];
        size_t dir_len = strlen(L3_PATHS_BUILD_DIR);
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        cached = 0;
        if (n > 0 && dir_len > 0 && (size_t)n > dir_len) {
            exe[n] = '\0';
            cached = strncmp(exe, L3_PATHS_BUILD_DIR, dir_len) == 0 && exe[dir_len] == '/';
        }
    }
    return cached == 1;
}
