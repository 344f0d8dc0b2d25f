/*  rec_spool — the three files of one recorded session: <sid>.script, .timing, .info.

    Format in docs/capture.md. Files are created owner-only (0600, O_EXCL, O_NOFOLLOW) in
    a directory the caller has checked. .script and .timing are written through buffers
    of REC_SPOOL_BUF bytes: one write(2) per buffer, not per chunk, which is what makes
    recording `cat` of a large file as fast as `script`. The caller flushes when its poll
    loop goes idle, so the agent following the spool sees output promptly.

    Every chunk appended to .script gets one timing line "<seconds since previous> <bytes>"
    (util-linux scriptreplay classic format). */
#ifndef REC_SPOOL_H
#define REC_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REC_SPOOL_BUF (256 * 1024)

/* In l3-rec's "Script started on ..." header line: says the .timing covers the header
   too (its first timing line), unlike script(1)'s; the agent (spool.c, import.c) reads
   the timing from byte 0 of such a .script. */
#define L3_REC_HEADER_TAG "[l3-rec SID="

typedef struct rec_spool_t rec_spool_t;

/* Create <dir>/<sid>.{script,timing,info}; `info` is the text of the .info file (already
   formatted key=value lines, see rec_spool_info_add); `header` is the first line of
   .script ("Script started on ...\n", which scriptreplay skips, so it is not in .timing).
   NULL (logged) on failure, nothing left behind. */
rec_spool_t *rec_spool_new(const char *dir, const char *sid, const char *info,
                           const char *header);
/* Flush, fsync nothing (a session log is not a database), close. */
void rec_spool_destroy(rec_spool_t **self_p);

/* Append a chunk the pty produced at monotonic time now_us. false after a write error
   (logged once; the session goes on unrecorded rather than dying). */
bool rec_spool_write(rec_spool_t *self, const uint8_t *data, size_t len, int64_t now_us);
/* True when buffered bytes wait for a flush. */
bool rec_spool_pending(rec_spool_t *self);
bool rec_spool_flush(rec_spool_t *self);
/* Append the end lines to .info: end=<time>, and exit=<code> or signal=<n>. */
bool rec_spool_finish(rec_spool_t *self, int64_t end_us, int exit_code, int signal_no);

/* Append "key=value\n" to buf (size bytes, NUL-terminated) percent-encoding the value's
   bytes outside 0x21..0x7E and '%'. false when it does not fit. */
bool rec_spool_info_add(char *buf, size_t size, const char *key, const char *value);

#endif
