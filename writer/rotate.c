/*  rotate — the datafile in parts. See rotate.h and docs/datafile.md "Rotation". */
#include "rotate.h"
#include "checkpoint.h"
#include "l3_log.h"
#include "l3_parts.h"
#include "l3_time.h"
#include "l3_xmlrec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

void rotate_crash_point(const char *step)
{
    const char *at = getenv("L3_WRITER_CRASH_AT");
    if (!at || strcmp(at, step) != 0)
        return;
    l3_warn("L3_WRITER_CRASH_AT=%s: killing the writer here", step);
    kill(getpid(), SIGKILL); /* the whole process, from the retention thread too */
}

/* ---------------------------------------------------------------- reading parts */

typedef struct {
    datafile_line_fn *on_line;
    void *arg;
    uint64_t commands;
} s_count_t;

static void s_count_line(const datafile_line_t *line, void *arg)
{
    s_count_t *c = arg;
    if (line->len > 9 && memcmp(line->line, "<command ", 9) == 0)
        c->commands++;
    if (c->on_line)
        c->on_line(line, c->arg);
}

/* Every record line of a closed .xml part; its header into head and its command count. */
static bool s_scan_xml(const char *path, s_count_t *c, l3_xml_head_t *head, char *err,
                       size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, fd < 0 ? strerror(errno) : "empty");
        if (fd >= 0)
            close(fd);
        return false;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
        return false;
    }
    madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
    datafile_scan_t scan;
    datafile_scan_image(map, (size_t)st.st_size, UINT64_MAX, s_count_line, c, &scan);
    munmap(map, (size_t)st.st_size);
    *head = scan.head;
    if (scan.foreign || !scan.clean) {
        snprintf(err, errlen, "%s: %s", path, scan.reason);
        return false;
    }
    return true;
}

/* The same for an archived part, decompressed as a stream (parts are large). */
static bool s_scan_gz(const char *path, s_count_t *c, l3_xml_head_t *head, char *err,
                      size_t errlen)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        snprintf(err, errlen, "cannot open %s", path);
        return false;
    }
    size_t cap = 1u << 20, len = 0;
    char *buf = malloc(cap);
    bool ok = buf != NULL, have_head = false, footer = false;
    uint64_t offset = 0;
    while (ok && !footer) {
        if (len == cap) {
            if (cap >= 2 * (size_t)DATAFILE_LINE_MAX) {
                snprintf(err, errlen, "%s: a line longer than any record", path);
                ok = false;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                ok = false;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        int got = gzread(gz, buf + len, (unsigned)(cap - len > (1u << 30) ? 1u << 30 : cap - len));
        if (got < 0) {
            snprintf(err, errlen, "%s: %s", path, gzerror(gz, &got));
            ok = false;
            break;
        }
        len += (size_t)got;
        size_t pos = 0;
        if (!have_head) {
            int h = l3_xml_header_parse(buf, len, head);
            if (h < 0 || (h == 0 && got == 0)) {
                snprintf(err, errlen, "%s: not a lilalo datafile part", path);
                ok = false;
                break;
            }
            if (h == 0 || (head->part && len < head->len))
                continue;
            have_head = true;
            pos = head->len;
        }
        while (pos < len) {
            char *nl = memchr(buf + pos, '\n', len - pos);
            if (!nl)
                break;
            size_t llen = (size_t)(nl - (buf + pos));
            if (llen == sizeof L3_XML_FOOTER - 2 && memcmp(buf + pos, L3_XML_FOOTER, llen) == 0) {
                footer = true;
                break;
            }
            datafile_line_t line;
            char why[96];
            if (!datafile_line_check(buf + pos, llen, &line, why, sizeof why)) {
                snprintf(err, errlen, "%s: bad line: %s", path, why);
                ok = false;
                break;
            }
            line.line = buf + pos;
            line.len = llen;
            line.offset = offset + pos;
            s_count_line(&line, c);
            pos += llen + 1;
        }
        memmove(buf, buf + pos, len - pos);
        len -= pos;
        offset += pos;
        if (got == 0 && !footer && ok) {
            snprintf(err, errlen, "%s: ends without its closing tag", path);
            ok = false;
        }
    }
    free(buf);
    gzclose(gz);
    return ok;
}

static bool s_scan_part(const l3_part_t *p, s_count_t *c, l3_xml_head_t *head, char *err,
                        size_t errlen)
{
    return p->gz ? s_scan_gz(p->path, c, head, err, errlen)
                 : s_scan_xml(p->path, c, head, err, errlen);
}

bool rotate_scan_parts(const char *live, datafile_line_fn *on_line, void *arg, char *err,
                       size_t errlen)
{
    l3_part_t *parts;
    size_t n;
    if (!l3_parts_list(live, true, &parts, &n)) {
        snprintf(err, errlen, "cannot list the parts of %s: %s", live, strerror(errno));
        return false;
    }
    bool ok = true;
    uint64_t bytes = 0;
    int64_t t0 = l3_time_mono_us();
    for (size_t i = 0; i < n; i++) {
        s_count_t c = {.on_line = on_line, .arg = arg};
        l3_xml_head_t head;
        char why[512];
        //  A damaged closed part is not a reason to stop taking records: the lines read
        //  before the damage count, and the rest can only matter to an agent resending
        //  records from that part, long acknowledged.
        if (!s_scan_part(&parts[i], &c, &head, why, sizeof why))
            l3_warn("closed part %s: %s; its streams are known up to there only",
                    parts[i].path, why);
        bytes += parts[i].bytes;
    }
    if (ok && n)
        l3_info("read the %zu closed parts of %s too (%.1f MB on disk) in %.3f s: no checkpoint "
                "to trust",
                n, live, (double)bytes / 1e6, (double)(l3_time_mono_us() - t0) / 1e6);
    l3_parts_free(parts, n);
    return ok;
}

/* ---------------------------------------------------------------- repair */

static bool s_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

bool rotate_recover(const char *live, char *err, size_t errlen)
{
    char next[4200], dir[4096], stem[1024];
    if (!l3_parts_split(live, dir, sizeof dir, stem, sizeof stem)) {
        snprintf(err, errlen, "datafile name %s is not usable for parts", live);
        return false;
    }
    snprintf(next, sizeof next, "%s.next", live);
    if (unlink(next) == 0) {
        l3_warn("removed %s: a rotation was interrupted before the new part took over", next);
        datafile_sync_dir(next);
    }
    //  Leftovers of archiving: unfinished archives go, finished ones replace their .xml.
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        size_t sl = strlen(stem);
        while ((e = readdir(d))) {
            size_t nl = strlen(e->d_name);
            if (strncmp(e->d_name, stem, sl) == 0 && nl > 7 &&
                strcmp(e->d_name + nl - 7, ".gz.tmp") == 0) {
                char p[8200];
                snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
                if (unlink(p) == 0)
                    l3_warn("removed %s: an archive was interrupted", p);
            }
        }
        closedir(d);
    }
    l3_part_t *parts;
    size_t n;
    if (!l3_parts_list(live, true, &parts, &n)) {
        snprintf(err, errlen, "cannot list the parts of %s: %s", live, strerror(errno));
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!parts[i].gz)
            continue;
        char xml[8200];
        snprintf(xml, sizeof xml, "%.*s", (int)(strlen(parts[i].path) - 3), parts[i].path);
        if (unlink(xml) == 0) {
            l3_info("removed %s: its archive %s was complete", xml, parts[i].path);
            datafile_sync_dir(xml);
        }
    }
    //  Linked under its part name but not yet replaced: the live file is still that part.
    if (n > 0 && !parts[n - 1].gz && s_same_file(parts[n - 1].path, live)) {
        if (unlink(parts[n - 1].path) == 0) {
            l3_warn("a rotation of %s was interrupted: removed its part name %s again; the "
                    "live file stays part %" PRIu32,
                    live, parts[n - 1].path, parts[n - 1].part);
            datafile_sync_dir(live);
        }
    }
    l3_parts_free(parts, n);
    return true;
}

bool rotate_ensure_live(const char *live, char *err, size_t errlen)
{
    struct stat st;
    if (stat(live, &st) == 0 && st.st_size > 0)
        return true;
    l3_part_t *parts;
    size_t n;
    if (!l3_parts_list(live, true, &parts, &n)) {
        snprintf(err, errlen, "cannot list the parts of %s: %s", live, strerror(errno));
        return false;
    }
    if (n == 0) {
        l3_parts_free(parts, n);
        return true; /* a first start: datafile_new creates part 0 */
    }
    s_count_t c = {0};
    l3_xml_head_t last;
    bool ok = s_scan_part(&parts[n - 1], &c, &last, err, errlen);
    l3_xml_head_t head = {.part = parts[n - 1].part + 1,
                          .commands_before = last.commands_before + c.commands,
                          .created_us = l3_time_now_us()};
    l3_parts_free(parts, n);
    if (!ok)
        return false;
    char next[4200];
    snprintf(next, sizeof next, "%s.next", live);
    unlink(next);
    datafile_t *df = datafile_create(next, &head, err, errlen);
    if (!df)
        return false;
    int rc = datafile_rename(df, live);
    datafile_destroy(&df);
    if (rc) {
        unlink(next);
        snprintf(err, errlen, "cannot rename %s to %s: %s", next, live, strerror(rc));
        return false;
    }
    l3_warn("datafile %s was missing; created it as part %" PRIu32 " after the closed parts",
            live, head.part);
    return true;
}

/* ---------------------------------------------------------------- rotation */

bool rotate_due(const rotate_opts_t *opts, datafile_t *live, int64_t opened_us, int64_t now_us)
{
    if (datafile_records(live) == 0)
        return false;
    if (opts->rotate_bytes && datafile_committed(live) >= opts->rotate_bytes)
        return true;
    const l3_xml_head_t *head = datafile_head(live);
    int64_t created = head->part ? head->created_us : opened_us;
    return opts->rotate_seconds && now_us - created >= opts->rotate_seconds * 1000000;
}

bool rotate_now(datafile_t **live, streams_t *streams, const char *ckpt_path, int64_t now_us,
                char *err, size_t errlen)
{
    datafile_t *old = *live;
    const char *path = datafile_path(old);
    const l3_xml_head_t *oh = datafile_head(old);
    l3_xml_head_t head = {.part = oh->part + 1,
                          .commands_before = oh->commands_before + datafile_commands(old),
                          .created_us = now_us};
    char next[4200];
    snprintf(next, sizeof next, "%s.next", path);
    char *closed = l3_part_path(path, oh->part, now_us);
    if (!closed) {
        snprintf(err, errlen, "datafile name %s is not usable for parts", path);
        return false;
    }
    unlink(next);
    datafile_t *df = datafile_create(next, &head, err, errlen);
    if (!df) {
        free(closed);
        return false;
    }
    rotate_crash_point("rotate-created");
    if (link(path, closed) != 0) {
        snprintf(err, errlen, "cannot link %s as %s: %s", path, closed, strerror(errno));
        goto undo_next;
    }
    datafile_sync_dir(closed);
    rotate_crash_point("rotate-linked");
    char why[192];
    if (ckpt_path && !checkpoint_save(ckpt_path, df, streams, why, sizeof why))
        l3_warn("checkpoint %s for part %" PRIu32 ": %s; a restart will scan every part",
                ckpt_path, head.part, why);
    rotate_crash_point("rotate-checkpointed");
    int rc = datafile_rename(df, path);
    if (rc) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", next, path, strerror(rc));
        unlink(closed);
        datafile_sync_dir(closed);
        goto undo_next;
    }
    rotate_crash_point("rotate-renamed");
    l3_info("rotated %s: part %" PRIu32 " (%" PRIu64 " records, %" PRIu64 " bytes) is now %s",
            path, oh->part, datafile_records(old), datafile_committed(old), closed);
    datafile_destroy(&old);
    *live = df;
    free(closed);
    rotate_crash_point("rotate-done");
    return true;
undo_next:
    datafile_destroy(&df);
    unlink(next);
    free(closed);
    return false;
}

/* ---------------------------------------------------------------- retention */

/* gzip part p to <p>.gz: written as .gz.tmp, synced, renamed; then the .xml removed. */
static bool s_archive(const l3_part_t *p)
{
    char gzpath[8200], tmp[8200];
    snprintf(gzpath, sizeof gzpath, "%s.gz", p->path);
    snprintf(tmp, sizeof tmp, "%s.gz.tmp", p->path);
    int in = open(p->path, O_RDONLY | O_CLOEXEC);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    int outdup = out >= 0 ? dup(out) : -1;
    gzFile gz = outdup >= 0 ? gzdopen(outdup, "wb6") : NULL;
    bool ok = in >= 0 && gz != NULL;
    if (!gz && outdup >= 0)
        close(outdup);
    static char buf[1 << 20];
    while (ok) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ok = n == 0;
            break;
        }
        if (gzwrite(gz, buf, (unsigned)n) != (int)n)
            ok = false;
    }
    if (gz && gzclose(gz) != Z_OK)
        ok = false;
    if (ok && fsync(out) != 0)
        ok = false;
    int err = errno;
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (!ok) {
        l3_error("retention: cannot archive %s: %s", p->path, strerror(err));
        unlink(tmp);
        return false;
    }
    rotate_crash_point("retain-compressed");
    if (rename(tmp, gzpath) != 0) {
        l3_error("retention: cannot rename %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return false;
    }
    datafile_sync_dir(gzpath);
    rotate_crash_point("retain-renamed");
    if (unlink(p->path) != 0) {
        l3_error("retention: cannot remove %s: %s", p->path, strerror(errno));
        return false;
    }
    datafile_sync_dir(p->path);
    struct stat st;
    l3_info("retention: archived part %" PRIu32 " as %s (%.1f of %.1f MB)", p->part, gzpath,
            stat(gzpath, &st) == 0 ? (double)st.st_size / 1e6 : 0.0, (double)p->bytes / 1e6);
    return true;
}

void rotate_retain(const char *live, const rotate_opts_t *opts, int64_t now_us)
{
    if (!opts->keep_bytes && !opts->keep_days)
        return;
    l3_part_t *parts;
    size_t n;
    if (!l3_parts_list(live, true, &parts, &n)) {
        l3_error("retention: cannot list the parts of %s: %s", live, strerror(errno));
        return;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (!parts[i].gz)
            total += parts[i].bytes;
    int64_t horizon = opts->keep_days ? now_us - opts->keep_days * 86400LL * 1000000 : INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        l3_part_t *p = &parts[i];
        if (p->gz)
            continue;
        bool old = p->closed_us < horizon, big = opts->keep_bytes && total > opts->keep_bytes;
        if (!old && !big)
            break; /* parts are in time order: the rest are younger and within size */
        if (opts->archive) {
            if (!s_archive(p))
                break;
        } else {
            if (unlink(p->path) != 0) {
                l3_error("retention: cannot remove %s: %s", p->path, strerror(errno));
                break;
            }
            datafile_sync_dir(p->path);
            l3_info("retention: removed part %" PRIu32 ", %s (%.1f MB, %s)", p->part, p->path,
                    (double)p->bytes / 1e6, old ? "older than writer/keep_days" : "beyond writer/keep_bytes");
            rotate_crash_point("retain-deleted");
        }
        total -= p->bytes;
    }
    l3_parts_free(parts, n);
}
