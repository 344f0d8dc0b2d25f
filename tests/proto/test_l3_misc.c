/*  test_l3_misc — time, buffer limits, config loading and pidfiles. */
#include "l3_buf.h"
#include "l3_config.h"
#include "l3_daemon.h"
#include "l3_log.h"
#include "l3_test.h"
#include "l3_time.h"
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void s_time(void)
{
    char text[40];
    l3_time_format(0, text, sizeof(text));
    CHECK(!strcmp(text, "1970-01-01T00:00:00.000000Z"));
    int64_t us;
    CHECK(l3_time_parse("2026-11-24T21:11:44.123456Z", &us));
    l3_time_format(us, text, sizeof(text));
    CHECK(!strcmp(text, "2026-11-24T21:11:44.123456Z"));
    CHECK(l3_time_parse("2026-11-24T21:11:44+03:00", &us));
    l3_time_format(us, text, sizeof(text));
    CHECK(!strcmp(text, "2026-11-24T18:11:44.000000Z"));
    const char *bad[] = {"", "2026", "2026-13-01T00:00:00Z", "2026-11-24T21:11:44", "x",
                         "2026-11-24T21:11:44.Z", "2026-11-24T21:11:44Zjunk"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_MSG(!l3_time_parse(bad[i], &us), "accepted \"%s\"", bad[i]);
    //  The arithmetic agrees with timegm over every year of four digits, leap days, and
    //  the out-of-range days and leap seconds timegm runs on into the next month, minute.
    unsigned seed = 1;
    for (int i = 0; i < 200000; i++) {
        seed = seed * 1103515245u + 12345u;
        int year = i < 10000 ? i : (int) (seed >> 8) % 10000;
        int mon = 1 + (int) (seed >> 3) % 12, day = 1 + (int) (seed >> 7) % 31;
        int hour = (int) (seed >> 11) % 24, min = (int) (seed >> 15) % 60;
        int sec = (int) (seed >> 19) % 61;
        snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02dZ", year, mon, day, hour,
                 min, sec);
        struct tm tm = {.tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
                        .tm_hour = hour, .tm_min = min, .tm_sec = sec};
        int64_t want = (int64_t) timegm(&tm) * 1000000;
        CHECK_MSG(l3_time_parse(text, &us) && us == want, "%s: %lld, timegm %lld", text,
                  (long long) us, (long long) want);
    }
}

static void s_buf(void)
{
    l3_buf_t buf;
    l3_buf_init(&buf, 10);
    CHECK(l3_buf_append(&buf, "0123456789", 10));
    CHECK(!l3_buf_append_byte(&buf, 'x'));
    CHECK(buf.failed && buf.len == 10);
    l3_buf_free(&buf);
    l3_buf_init(&buf, 0);
    CHECK(l3_buf_printf(&buf, "%s-%d", "a", 5) && buf.len == 3);
    CHECK(!l3_buf_reserve(&buf, SIZE_MAX - 1));
    l3_buf_free(&buf);
}

static void s_config(void)
{
    char path[] = "/tmp/l3-test-config-XXXXXX";
    int fd = mkstemp(path);
    const char *text = "writer\n    backend_datafile = /tmp/x.xml\n    batch_ms = 7\n"
                       "    fsync = no\n    bad_number = 12abc\n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t) strlen(text));
    close(fd);
    l3_config_t *cfg = l3_config_load(path);
    CHECK(cfg);
    if (cfg) {
        CHECK(!strcmp(l3_config_str(cfg, "writer/backend_datafile", "d"), "/tmp/x.xml"));
        CHECK(!strcmp(l3_config_str(cfg, "writer/missing", "d"), "d"));
        CHECK(l3_config_int(cfg, "writer/batch_ms", 5, 0, 1000) == 7);
        CHECK(l3_config_int(cfg, "writer/bad_number", 5, 0, 1000) == 5);
        CHECK(l3_config_int(cfg, "writer/batch_ms", 5, 10, 1000) == 5);
        CHECK(l3_config_bool(cfg, "writer/fsync", true) == false);
        l3_config_destroy(&cfg);
        CHECK(cfg == NULL);
    }
    unlink(path);
    CHECK(l3_config_load("/nonexistent/l3.cfg") == NULL);
    l3_config_t *defaults = l3_config_load(NULL);
    CHECK(defaults && !strcmp(l3_config_str(defaults, "a/b", "z"), "z"));
    l3_config_destroy(&defaults);
}

//  The shipped example config loads, and every section is where the programs look.
static void s_shipped_config(void)
{
    const char *src = getenv("L3_SOURCE_DIR");
    CHECK_MSG(src != NULL, "L3_SOURCE_DIR not set");
    if (!src)
        return;
    char path[4096];
    snprintf(path, sizeof(path), "%s/conf/lilalo.cfg", src);
    l3_config_t *cfg = l3_config_load(path);
    CHECK_MSG(cfg != NULL, "%s does not load", path);
    if (!cfg)
        return;
    CHECK(!strcmp(l3_config_str(cfg, "writer/backend_datafile", ""), "/var/lib/lilalo/datafile.xml"));
    CHECK(l3_config_int(cfg, "broker/backend_port", 0, 0, 65535) == 5670);
    CHECK(!strcmp(l3_config_str(cfg, "broker/backend_address", ""), "127.0.0.1"));
    CHECK(l3_config_int(cfg, "agent/window", 0, 0, 1000000) == 1000);
    CHECK(!strcmp(l3_config_str(cfg, "agent/spool", ""), "/var/spool/lilalo"));
    CHECK(l3_config_bool(cfg, "rec/integration", false));
    CHECK(l3_config_int(cfg, "render/page_size", 0, 0, 10000) == 100);
    CHECK(!strcmp(l3_config_str(cfg, "render/frontend_css", ""), "/static/lilalo.css"));
    CHECK(l3_config_int(cfg, "cgi/timeout_ms", 0, 0, 100000) == 2000);
    l3_config_destroy(&cfg);
}

static void s_pidfile(void)
{
    char path[] = "/tmp/l3-test-pid-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    //  A pid that is certainly dead: a child we reaped.
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    FILE *f = fopen(path, "w");
    fprintf(f, "%d\n", (int) child);
    fclose(f);
    CHECK(l3_pidfile_running(path, "test_l3_misc") == 0);
    CHECK(l3_pidfile_write(path, "test_l3_misc")); // stale: replaced
    CHECK(l3_pidfile_running(path, "test_l3_misc") == 0); // our own pid does not count
    //  A live process of the same program holds it: refused.
    child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    f = fopen(path, "w");
    fprintf(f, "%d\n", (int) child);
    fclose(f);
    CHECK(l3_pidfile_running(path, "test_l3_misc") == child);
    CHECK(!l3_pidfile_write(path, "test_l3_misc"));
    //  A live process of another program (pid reuse) is stale.
    CHECK(l3_pidfile_running(path, "l3-writer") == 0);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    unlink(path);
}

int main(void)
{
    l3_log_init("test_l3_misc", false, L3_LOG_ERROR);
    s_time();
    s_buf();
    s_config();
    s_shipped_config();
    s_pidfile();
    TEST_DONE();
}
