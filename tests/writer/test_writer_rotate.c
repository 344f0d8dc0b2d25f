/*  test_writer_rotate — rotation and retention of the datafile (writer/rotate.h) with a
    real l3-writer under load from agents that resend what was not acknowledged.

    For every step of a rotation and of a retention (docs/datafile.md "Rotation and
    retention"), L3_WRITER_CRASH_AT kills the writer right after it with SIGKILL; the
    writer is started again without it and the agents go on until every record is
    acknowledged. Then, on disk: no `.next` or `.tmp` left, every part a valid document
    (archives too), part numbers consecutive with the live part the last, each part's
    commands-before the sum of the commands before it, and every stream's seqs exactly
    once and in order across the parts (a contiguous suffix where retention deletes).

    Also: rotation by age (rotate_seconds), and a start without a checkpoint that must
    know every stream from the closed parts (a full resend is acknowledged, not written
    again). */
#include "../l3_test.h"
#include "l3_time.h"
#include "l3_xmlrec.h"
#include "wtest.h"

#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EPOCH 7
#define NAGENTS 2
#define WINDOW 400
#define MAX_PARTS 512
static const char *const AGENTS[NAGENTS] = {"rot-a", "rot-b"};

#define ROTATE_CFG "    batch_ms = 2\n    batch_records = 100\n    rotate_bytes = 32768\n"
#define KEEP_CFG ROTATE_CFG "    keep_bytes = 100000\n"

/* ------------------------------------------------------------------ the agents */

typedef struct {
    uint64_t next, nacks, last_acked;
    int64_t last_progress;
} s_flow_t;

static void s_send(wt_t *t, const char *agent, uint64_t seq)
{
    l3_record_t r;
    wt_record(&r, seq == 1 ? L3_RECORD_SESSION : L3_RECORD_COMMAND, agent, EPOCH, seq);
    if (!wt_send(t, agent, &r))
        fprintf(stderr, "send %s %" PRIu64 " failed\n", agent, seq);
    l3_record_clear(&r);
}

/* After a (re)start the agents reconnect and resend from their first unacked record. */
static void s_reconnect(wt_t *t, s_flow_t *flow)
{
    for (int a = 0; a < NAGENTS; a++) {
        wt_stream_t *s = wt_stream(t, AGENTS[a], EPOCH);
        flow[a].next = s->acked + 1;
        flow[a].nacks = s->nacks;
        flow[a].last_acked = s->acked;
        flow[a].last_progress = l3_time_mono_us();
    }
}

/* Drive both agents until each has `upto` acknowledged. Returns 0 then; the writer's
   exit status when it died (t->pid is then -1); -1 when time ran out. */
static int s_drive(wt_t *t, s_flow_t *flow, uint64_t upto, int timeout_s)
{
    int64_t deadline = l3_time_mono_us() + (int64_t)timeout_s * 1000000;
    for (;;) {
        bool done = true;
        for (int a = 0; a < NAGENTS; a++) {
            wt_stream_t *s = wt_stream(t, AGENTS[a], EPOCH);
            s_flow_t *f = &flow[a];
            if (s->nacks != f->nacks) { /* go back to what the writer expects */
                f->nacks = s->nacks;
                if (s->nacked && s->nacked < f->next)
                    f->next = s->nacked;
            }
            int64_t now = l3_time_mono_us();
            if (s->acked != f->last_acked) {
                f->last_acked = s->acked;
                f->last_progress = now;
            } else if (now - f->last_progress > 500000) {
                f->next = s->acked + 1; /* ack timeout: resend from the first unacked */
                f->last_progress = now;
            }
            while (f->next <= upto && f->next <= s->acked + WINDOW)
                s_send(t, AGENTS[a], f->next++);
            done = done && s->acked >= upto;
        }
        if (done)
            return 0;
        int status = wt_wait_exit(t->pid, 0);
        if (status >= 0) {
            t->pid = -1;
            return status;
        }
        if (l3_time_mono_us() > deadline) {
            fprintf(stderr, "acked %" PRIu64 " and %" PRIu64 " of %" PRIu64 " in %d s\n",
                    wt_stream(t, AGENTS[0], EPOCH)->acked, wt_stream(t, AGENTS[1], EPOCH)->acked,
                    upto, timeout_s);
            return -1;
        }
        wt_pump(t, 5);
    }
}

/* ------------------------------------------------------------------ the files */

typedef struct {
    char name[256];
    uint32_t part;
    bool gz;
} s_file_t;

typedef struct {
    uint64_t *seqs[NAGENTS]; /* every seq of each stream, in file order */
    size_t nseqs[NAGENTS];
    uint64_t commands; /* command records of the file being read */
} s_seen_t;

static void s_take(const l3_record_t *r, void *arg)
{
    s_seen_t *seen = arg;
    if (r->type == L3_RECORD_COMMAND)
        seen->commands++;
    for (int a = 0; a < NAGENTS; a++)
        if (!strcmp(r->agent, AGENTS[a]) && r->epoch == EPOCH) {
            uint64_t *v = realloc(seen->seqs[a], (seen->nseqs[a] + 1) * sizeof *v);
            if (!v)
                abort();
            v[seen->nseqs[a]++] = r->seq;
            seen->seqs[a] = v;
        }
}

static int s_file_cmp(const void *a, const void *b)
{
    const s_file_t *x = a, *y = b;
    return x->part < y->part ? -1 : x->part > y->part;
}

/* The header of a file (an archive is read decompressed from plain). */
static bool s_head(const char *plain, l3_xml_head_t *head)
{
    FILE *f = fopen(plain, "r");
    if (!f)
        return false;
    char buf[L3_XML_HEADER_MAX * 2];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return l3_xml_header_parse(buf, n, head) == 1;
}

/* Check the live file and its parts after a clean stop; `suffix`: retention deletes, so
   each stream may start after 1. Returns the number of closed parts. */
static int s_verify(wt_t *t, const char *what, uint64_t upto, bool suffix)
{
    static s_file_t files[MAX_PARTS];
    int nfiles = 0, failures = l3_test_failures;
    DIR *d = opendir(t->dir);
    CHECK(d != NULL);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        size_t len = strlen(n);
        CHECK_MSG(!(len > 5 && !strcmp(n + len - 5, ".next")), "%s: %s left", what, n);
        CHECK_MSG(!(len > 4 && !strcmp(n + len - 4, ".tmp")), "%s: %s left", what, n);
        unsigned part;
        char stamp[32];
        int end = 0;
        if (sscanf(n, "datafile.%6u-%16[0-9TZ].xml%n", &part, stamp, &end) != 2 || end == 0)
            continue;
        CHECK_MSG(!strcmp(n + end, "") || !strcmp(n + end, ".gz"), "%s: odd name %s", what, n);
        if (nfiles < MAX_PARTS) {
            snprintf(files[nfiles].name, sizeof files[nfiles].name, "%s", n);
            files[nfiles].part = part;
            files[nfiles].gz = !strcmp(n + end, ".gz");
            nfiles++;
        }
    }
    if (d)
        closedir(d);
    qsort(files, (size_t)nfiles, sizeof files[0], s_file_cmp);

    s_seen_t seen = {0};
    uint64_t expect_before = 0;
    bool have_before = false;
    for (int i = 0; i <= nfiles; i++) {
        char path[600], plain[700];
        if (i < nfiles) {
            snprintf(path, sizeof path, "%.255s/%.255s", t->dir, files[i].name);
            if (i > 0)
                CHECK_MSG(files[i].part == files[i - 1].part + 1, "%s: part %u after part %u", what,
                          files[i].part, files[i - 1].part);
        } else
            snprintf(path, sizeof path, "%s", t->datafile);
        CHECK_MSG(wt_schema_valid(path), "%s: %s is not valid", what, path);
        snprintf(plain, sizeof plain, "%s", path);
        if (i < nfiles && files[i].gz) {
            char cmd[1500];
            snprintf(plain, sizeof plain, "%s/unpacked.xml", t->dir);
            snprintf(cmd, sizeof cmd, "gzip -dc '%s' > '%s'", path, plain);
            CHECK_MSG(system(cmd) == 0, "%s: cannot unpack %s", what, path);
        }
        l3_xml_head_t head;
        CHECK_MSG(s_head(plain, &head), "%s: %s has no header", what, path);
        uint32_t want_part = i < nfiles ? files[i].part : nfiles ? files[nfiles - 1].part + 1 : 0;
        CHECK_MSG(head.part == want_part, "%s: %s says part %u, expected %u", what, path, head.part,
                  want_part);
        if (have_before)
            CHECK_MSG(head.commands_before == expect_before,
                      "%s: %s says %" PRIu64 " commands before it, the parts hold %" PRIu64, what,
                      path, head.commands_before, expect_before);
        if (head.part == 0)
            CHECK(head.commands_before == 0);
        seen.commands = 0;
        long n = wt_read_datafile(plain, s_take, &seen);
        CHECK_MSG(n >= 0, "%s: %s does not read", what, path);
        expect_before = head.commands_before + seen.commands;
        have_before = true;
    }
    //  The count goes on across parts, deleted ones included: every command sent, once.
    CHECK_MSG(expect_before == NAGENTS * (upto - 1),
              "%s: the parts count %" PRIu64 " commands, %" PRIu64 " were sent", what,
              expect_before, NAGENTS * (upto - 1));
    size_t kept = 0;
    for (int a = 0; a < NAGENTS; a++) {
        size_t n = seen.nseqs[a];
        kept += n;
        if (suffix && n == 0) /* all its records were in parts retention deleted */
            continue;
        uint64_t first = n ? seen.seqs[a][0] : 0;
        CHECK_MSG(suffix || first == 1, "%s: %s starts at seq %" PRIu64, what, AGENTS[a], first);
        bool ordered = true;
        for (size_t i = 1; i < n && ordered; i++)
            if (seen.seqs[a][i] != seen.seqs[a][i - 1] + 1) {
                fprintf(stderr, "%s: %s seq %" PRIu64 " follows %" PRIu64 "\n", what, AGENTS[a],
                        seen.seqs[a][i], seen.seqs[a][i - 1]);
                ordered = false;
            }
        CHECK_MSG(ordered, "%s: %s is not each seq once, in order", what, AGENTS[a]);
        CHECK_MSG(n && seen.seqs[a][n - 1] == upto, "%s: %s ends at %" PRIu64 ", not %" PRIu64,
                  what, AGENTS[a], n ? seen.seqs[a][n - 1] : 0, upto);
    }
    for (int a = 0; a < NAGENTS; a++)
        free(seen.seqs[a]);
    CHECK_MSG(kept > 0, "%s: no record left", what);
    if (l3_test_failures != failures)
        fprintf(stderr, "%s: files kept in %s\n", what, t->dir);
    return nfiles;
}

/* ------------------------------------------------------------------ the cases */

/* Kill the writer right after `step`, start it again, finish, verify. */
static void s_crash_case(const char *step, const char *cfg, bool deletes)
{
    wt_t t;
    char name[64];
    snprintf(name, sizeof name, "rot-%s", step);
    if (!wt_setup(&t, name, cfg)) {
        CHECK_MSG(false, "%s: setup", step);
        wt_teardown(&t);
        return;
    }
    s_flow_t flow[NAGENTS];
    const uint64_t total = 1500;
    setenv("L3_WRITER_CRASH_AT", step, 1);
    bool up = wt_start(&t);
    unsetenv("L3_WRITER_CRASH_AT");
    CHECK_MSG(up, "%s: start", step);
    s_reconnect(&t, flow);
    int status = s_drive(&t, flow, total, 120);
    CHECK_MSG(status == 128 + SIGKILL, "%s: the writer did not die there (status %d)", step,
              status);
    char said[128];
    snprintf(said, sizeof said, "L3_WRITER_CRASH_AT=%s: killing", step);
    CHECK_MSG(wt_log_has(&t, said), "%s: not killed at the step", step);

    CHECK_MSG(wt_start(&t), "%s: restart after the crash", step);
    s_reconnect(&t, flow);
    CHECK_MSG(s_drive(&t, flow, total, 120) == 0, "%s: not all acknowledged after the restart",
              step);
    CHECK(wt_stop(&t, SIGTERM) == 0);
    int parts = s_verify(&t, step, total, deletes);
    CHECK_MSG(parts >= (deletes ? 1 : 2), "%s: only %d closed parts", step, parts);
    if (!strncmp(step, "retain-", 7))
        CHECK_MSG(wt_log_has(&t, deletes ? "retention: removed part" : "retention: archived part"),
                  "%s: retention did nothing after the restart", step);
    if (l3_test_failures == 0)
        wt_teardown(&t);
    else {
        zsock_destroy(&t.push);
        zsock_destroy(&t.sub);
    }
}

/* Count the lines of the writer's log that contain text. */
static int s_log_count(wt_t *t, const char *text)
{
    FILE *f = fopen(t->log, "r");
    if (!f)
        return 0;
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, text) != NULL;
    fclose(f);
    return n;
}

/* rotate_seconds = 1: a part that holds a record rotates once it is a second old. */
static void s_age_case(void)
{
    wt_t t;
    if (!wt_setup(&t, "rot-age", "    batch_ms = 2\n    rotate_seconds = 1\n")) {
        CHECK(false);
        wt_teardown(&t);
        return;
    }
    CHECK(wt_start(&t));
    s_flow_t flow[NAGENTS];
    s_reconnect(&t, flow);
    uint64_t upto = 0;
    for (int round = 1; round <= 3; round++) {
        upto += 20;
        CHECK(s_drive(&t, flow, upto, 30) == 0);
        int64_t deadline = l3_time_mono_us() + 10 * 1000000LL;
        while (s_log_count(&t, "rotated ") < round && l3_time_mono_us() < deadline)
            wt_pump(&t, 50); /* the writer's heartbeats pace this wait */
        CHECK_MSG(s_log_count(&t, "rotated ") == round, "round %d: %d rotations", round,
                  s_log_count(&t, "rotated "));
    }
    CHECK(wt_stop(&t, SIGTERM) == 0);
    CHECK(s_verify(&t, "rotate_seconds", upto, false) == 3);
    wt_teardown(&t);
}

/* No checkpoint: the start reads every closed part, so a full resend is all duplicates. */
static void s_no_checkpoint_case(void)
{
    wt_t t;
    if (!wt_setup(&t, "rot-nockpt", ROTATE_CFG)) {
        CHECK(false);
        wt_teardown(&t);
        return;
    }
    CHECK(wt_start(&t));
    s_flow_t flow[NAGENTS];
    s_reconnect(&t, flow);
    CHECK(s_drive(&t, flow, 600, 120) == 0);
    CHECK(wt_stop(&t, SIGKILL) == 128 + SIGKILL);
    char ckpt[600];
    snprintf(ckpt, sizeof ckpt, "%s.streams", t.datafile);
    CHECK(unlink(ckpt) == 0);
    CHECK(wt_start(&t));
    CHECK(wt_log_has(&t, "closed parts"));
    uint64_t acks[NAGENTS];
    for (int a = 0; a < NAGENTS; a++) {
        wt_stream_t *s = wt_stream(&t, AGENTS[a], EPOCH);
        acks[a] = s->acks;
        for (uint64_t seq = 1; seq <= 600; seq++)
            s_send(&t, AGENTS[a], seq);
    }
    //  Every resent record is acknowledged as a duplicate (the ack stays at 600).
    int64_t deadline = l3_time_mono_us() + 60 * 1000000LL;
    bool all = false;
    while (!all && l3_time_mono_us() < deadline) {
        wt_pump(&t, 20);
        all = true;
        for (int a = 0; a < NAGENTS; a++)
            all = all && wt_stream(&t, AGENTS[a], EPOCH)->acks >= acks[a] + 600;
    }
    CHECK_MSG(all, "the resend was not acknowledged in full");
    for (int a = 0; a < NAGENTS; a++) {
        wt_stream_t *s = wt_stream(&t, AGENTS[a], EPOCH);
        CHECK_MSG(s->acked == 600 && s->nacks == 0, "%s: acked %" PRIu64 ", %" PRIu64 " nacks",
                  AGENTS[a], s->acked, s->nacks);
    }
    s_reconnect(&t, flow);
    CHECK(s_drive(&t, flow, 700, 60) == 0);
    CHECK(wt_stop(&t, SIGTERM) == 0);
    CHECK(s_verify(&t, "no checkpoint", 700, false) >= 2);
    wt_teardown(&t);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *step, *cfg;
        bool deletes;
    } cases[] = {
        {"rotate-created", ROTATE_CFG, false},
        {"rotate-linked", ROTATE_CFG, false},
        {"rotate-checkpointed", ROTATE_CFG, false},
        {"rotate-renamed", ROTATE_CFG, false},
        {"rotate-done", ROTATE_CFG, false},
        {"retain-compressed", KEEP_CFG "    retention = archive\n", false},
        {"retain-renamed", KEEP_CFG "    retention = archive\n", false},
        {"retain-deleted", KEEP_CFG "    retention = delete\n", true},
    };
    const char *only = argc > 1 ? argv[1] : NULL; /* run one case: its step, age or nockpt */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (!only || !strcmp(only, cases[i].step))
            s_crash_case(cases[i].step, cases[i].cfg, cases[i].deletes);
    if (!only || !strcmp(only, "age"))
        s_age_case();
    if (!only || !strcmp(only, "nockpt"))
        s_no_checkpoint_case();
    TEST_DONE();
}
