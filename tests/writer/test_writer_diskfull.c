/*  test_writer_diskfull — (f) the datafile on a small tmpfs: fill the file system, records
    stop being acknowledged, the log says why, the file stays valid (it ends at the
    committed offset with its footer), and once space is freed every record arrives, once,
    and is acked. Skipped (exit 77) when tmpfs cannot be mounted here. */
#include "../l3_test.h"
#include "l3_time.h"
#include "wtest.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define AGENT "fullagent"
#define EPOCH 5
#define COUNT 60

static void s_send(wt_t *t, uint64_t seq)
{
    l3_record_t r;
    wt_record(&r, seq == 1 ? L3_RECORD_SESSION : L3_RECORD_COMMAND, AGENT, EPOCH, seq);
    if (r.type == L3_RECORD_COMMAND) {
        /* ~2 KiB of output each, so COUNT of them need more than any slack left. */
        uint8_t out[2048];
        for (size_t i = 0; i < sizeof out; i++)
            out[i] = (uint8_t)('a' + (i + seq) % 26);
        l3_bytes_set(&r.output, out, sizeof out, L3_OUTPUT_MAX);
    }
    CHECK(wt_send(t, AGENT, &r));
    l3_record_clear(&r);
}

/* Write into path until the file system says ENOSPC, down to single bytes. */
static void s_fill(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    static char block[65536];
    for (size_t size = sizeof block; fd >= 0 && size >= 1; size /= 4)
        while (write(fd, block, size) == (ssize_t)size)
            ;
    if (fd >= 0)
        close(fd);
}

int main(void)
{
    wt_t t;
    if (!wt_setup(&t, "diskfull", "    retry_ms = 100\n")) {
        wt_teardown(&t);
        return 1;
    }
    char mnt[600], datafile[700], filler[700];
    snprintf(mnt, sizeof mnt, "%s/mnt", t.dir);
    snprintf(datafile, sizeof datafile, "%s/datafile.xml", mnt);
    snprintf(filler, sizeof filler, "%s/filler", mnt);
    CHECK(mkdir(mnt, 0700) == 0);
    if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=256k,mode=0700") != 0) {
        printf("SKIP: cannot mount a tmpfs on %s (%s); the disk-full test needs root or "
               "CAP_SYS_ADMIN\n",
               mnt, strerror(errno));
        wt_teardown(&t);
        return 77;
    }
    CHECK(wt_set_datafile(&t, datafile));
    CHECK(wt_start(&t));
    s_send(&t, 1);
    CHECK(wt_wait_ack(&t, AGENT, EPOCH, 1, 5000));

    s_fill(filler);
    for (uint64_t seq = 2; seq <= COUNT; seq++)
        s_send(&t, seq);
    CHECK_MSG(wt_wait_log(&t, "No space left on device", 10000), "no disk-full log line");
    wt_stream_t *s = wt_stream(&t, AGENT, EPOCH);
    /* A few retries later still nothing more is acked. */
    int64_t until = l3_time_mono_us() + 400000;
    while (l3_time_mono_us() < until)
        wt_pump(&t, 50);
    uint64_t stuck = s->acked;
    CHECK_MSG(stuck < COUNT, "all %d acked on a full disk", COUNT);
    /* The file is valid as it stands: it ends at the committed offset with its footer,
       and holds exactly what was acked. */
    CHECK(wt_schema_valid(datafile));
    long on_disk = wt_check_stream(datafile, AGENT, EPOCH);
    CHECK_MSG(on_disk == (long)stuck, "%ld records on disk, %" PRIu64 " acked", on_disk, stuck);
    CHECK(kill(t.pid, 0) == 0);

    /* Space comes back: everything arrives, once. */
    CHECK(unlink(filler) == 0);
    CHECK(wt_wait_ack(&t, AGENT, EPOCH, COUNT, 10000));
    CHECK(wt_wait_log(&t, "writable again", 5000));
    CHECK(wt_stop(&t, SIGTERM) == 0);
    CHECK(wt_check_stream(datafile, AGENT, EPOCH) == COUNT);
    CHECK(wt_schema_valid(datafile));
    /* The error was logged once, not once per retry. */
    FILE *f = fopen(t.log, "r");
    int lines = 0;
    char line[4096];
    while (f && fgets(line, sizeof line, f))
        lines += strstr(line, "No space left on device") != NULL;
    if (f)
        fclose(f);
    CHECK_MSG(lines == 1, "%d disk-full log lines", lines);

    if (umount(mnt) != 0)
        umount2(mnt, MNT_DETACH);
    wt_teardown(&t);
    TEST_DONE();
}
