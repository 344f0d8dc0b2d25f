/*  test_writer_cli — l3-writer's command line: --help, bad usage, a missing config file,
    no datafile configured, someone else's file as datafile (refused, left untouched),
    --datafile overriding the config. Each case is a real l3-writer process. */
#include "../l3_test.h"
#include "wtest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int s_run(wt_t *t, const char *const *args)
{
    pid_t pid = wt_spawn(t, args);
    return pid > 0 ? wt_wait_exit(pid, 10000) : -1;
}

int main(void)
{
    wt_t t;
    if (!wt_setup(&t, "cli", NULL)) {
        wt_teardown(&t);
        return 1;
    }
    const char *help[] = {"--help", NULL};
    CHECK(s_run(&t, help) == 0);
    CHECK(wt_log_has(&t, "Usage: l3-writer"));
    CHECK(wt_log_has(&t, "--datafile PATH"));

    const char *bogus[] = {"--bogus", NULL};
    CHECK(s_run(&t, bogus) == 2);
    CHECK(wt_log_has(&t, "unknown or incomplete option '--bogus'"));
    const char *incomplete[] = {"--datafile", NULL};
    CHECK(s_run(&t, incomplete) == 2);

    /* -c is given by wt_spawn; a second -c pointing nowhere wins and fails cleanly. */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no-such.cfg", t.dir);
    const char *nocfg[] = {"-c", missing, NULL};
    CHECK(s_run(&t, nocfg) == 1);

    /* A config without a datafile. */
    char empty_cfg[600];
    snprintf(empty_cfg, sizeof empty_cfg, "%s/empty.cfg", t.dir);
    FILE *f = fopen(empty_cfg, "w");
    if (f) {
        fputs("writer\n    bind = \"tcp://127.0.0.1:1\"\n", f);
        fclose(f);
    }
    const char *nodata[] = {"-c", empty_cfg, NULL};
    CHECK(s_run(&t, nodata) == 1);
    CHECK(wt_log_has(&t, "no datafile"));

    /* Someone else's file is refused and not modified. */
    char foreign[600];
    snprintf(foreign, sizeof foreign, "%s/notes.txt", t.dir);
    f = fopen(foreign, "w");
    if (f) {
        fputs("my precious notes\n", f);
        fclose(f);
    }
    const char *other[] = {"--datafile", foreign, NULL};
    CHECK(s_run(&t, other) == 1);
    CHECK(wt_log_has(&t, "is not a lilalo datafile"));
    char buf[64] = "";
    f = fopen(foreign, "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = 0;
        fclose(f);
    }
    CHECK(strcmp(buf, "my precious notes\n") == 0);

    /* --datafile overrides writer/backend_datafile. */
    char elsewhere[600];
    snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere.xml", t.dir);
    const char *override[] = {"--datafile", elsewhere, NULL};
    pid_t pid = wt_spawn(&t, override);
    t.pid = pid;
    CHECK(wt_wait_log(&t, "ready: datafile", 10000));
    CHECK(access(elsewhere, F_OK) == 0);
    CHECK(access(t.datafile, F_OK) != 0);
    CHECK(wt_stop(&t, SIGTERM) == 0);
    CHECK(wt_schema_valid(elsewhere));
    wt_teardown(&t);
    TEST_DONE();
}
