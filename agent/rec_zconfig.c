/*  rec_zconfig — l3-rec loads libczmq only when it reads a config file.

    Why: `l3-rec --nonce` runs at the start of every interactive shell that has lilalo's
    inner.* file (system-wide, every bash, zsh and fish start, recorded or not), and most
    of its time went to the dynamic loader: libczmq brings libzmq, libstdc++, libsystemd,
    krb5, gcrypt and a dozen more (about 25 libraries), mapped and relocated before main
    runs. The recorder needs czmq for one thing only, the config file (proto/l3_config.c
    reads it with zconfig). So l3-rec defines the four zconfig functions l3_config calls;
    each opens libczmq with dlopen on first use and calls the real one. Linked with
    --as-needed (agent/rec.cmake), l3-rec then has no libczmq at all among its
    DT_NEEDED, and `--nonce` starts like a plain libc program.

    The prototypes come from czmq.h, so a changed signature fails to compile. A zconfig
    function l3_config starts calling without a definition here is resolved from libczmq
    by the linker as before, which puts libczmq back among the needed libraries: correct,
    only slower (tests/capture/rec/rec_nonce_test.sh checks that it is not needed).
    When libczmq cannot be opened at run time, zconfig_load fails with the loader's
    message, and l3-rec reports the config file as unreadable. */
#include <czmq.h>
#include <dlfcn.h>
#include <stdio.h>

#ifndef L3_REC_CZMQ_SONAME
#define L3_REC_CZMQ_SONAME "libczmq.so.4"
#endif

/* The real function `name` of libczmq, opened on first use; NULL (said once) without. */
static void *s_czmq(const char *name)
{
    static void *lib = NULL;
    static bool failed = false;
    if (!lib && !failed) {
        lib = dlopen(L3_REC_CZMQ_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            failed = true;
            fprintf(stderr, "l3-rec: cannot load %s for the config file: %s\n",
                    L3_REC_CZMQ_SONAME, dlerror());
        }
    }
    return lib ? dlsym(lib, name) : NULL;
}

zconfig_t *zconfig_load(const char *filename)
{
    zconfig_t *(*real)(const char *) = (zconfig_t * (*)(const char *)) s_czmq("zconfig_load");
    return real ? real(filename) : NULL;
}

void zconfig_destroy(zconfig_t **self_p)
{
    if (!self_p || !*self_p)
        return; /* nothing was loaded: no reason to open the library now */
    void (*real)(zconfig_t **) = (void (*)(zconfig_t **))s_czmq("zconfig_destroy");
    if (real)
        real(self_p);
}

zconfig_t *zconfig_locate(zconfig_t *self, const char *path)
{
    zconfig_t *(*real)(zconfig_t *, const char *) =
        (zconfig_t * (*)(zconfig_t *, const char *)) s_czmq("zconfig_locate");
    return real ? real(self, path) : NULL;
}

char *zconfig_value(zconfig_t *self)
{
    char *(*real)(zconfig_t *) = (char *(*)(zconfig_t *))s_czmq("zconfig_value");
    return real ? real(self) : NULL;
}
