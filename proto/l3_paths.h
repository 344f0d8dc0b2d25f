/*  l3_paths — where an installed lilalo keeps its files, and whether this program runs
    from the build tree instead.

    The install locations are fixed when the build is configured (GNUInstallDirs, see the
    top-level CMakeLists.txt): with CMAKE_INSTALL_PREFIX=/usr the config is
    /etc/lilalo/lilalo.cfg. An installed program reads that file when no -c is given.
    A program run from the build tree (build/bin, the tests) does not: it behaves as it
    always did, on built-in defaults unless told otherwise, so a lilalo installed on the
    same machine never changes what a test sees. */
#ifndef L3_PATHS_H
#define L3_PATHS_H

#include <stdbool.h>

/* The installed config file's path (SYSCONFDIR/lilalo/lilalo.cfg), whether or not it
   exists: for --help texts and man pages. */
const char *l3_paths_config_installed(void);
/* The config file to read when none was named: the installed one when it exists and
   this program is not run from the build tree, else NULL (built-in defaults). */
const char *l3_paths_config_default(void);
/* True when this process's executable lies inside the build tree it was built in. */
bool l3_paths_in_build_tree(void);

#endif
