/*  index — render's in-memory index of the datafile, and its derived index file.

    The datafile has one record per line (l3_xmlrec.h), so indexing is a memchr scan for
    line ends plus l3_xmlrec_attr for the few attributes the journal filters and sorts
    on; the output stays on disk and a page reads the lines it shows by offset (pread)
    and parses them fully with l3_xmlrec_parse.

    Every record line the scan indexes becomes one fixed-size entry (plus its short
    strings) in the derived index file beside the datafile; at start the entries are
    replayed through the same function as the scan (so both give the same index), the
    last entries are checked against the datafile's bytes, and the scan resumes where the
    file left off. A missing, foreign or stale index file (the datafile was replaced, or a
    checked line does not match) is rebuilt from the datafile alone: the XML stays the one
    store of record. Command ordinals (position in the datafile) are the permalinks.

    Replaying 10 million entries takes seconds and fills a heap that grows with all
    history, so the whole index is also saved as a snapshot (<index file>.snap) laid out
    to be mapped: at start the command array is the snapshot's pages (copy-on-write, page
    cache rather than heap), and only the entries after it are replayed.

    A rotated datafile (docs/datafile.md "Rotation") is read as one history: the closed
    parts beside the live file, by part number, then the live file. A record's offset is
    INDEX_OFF(part, byte offset in that part's file), so a datafile never rotated (part
    0) has plain offsets. Render follows the writer's rotations (the live name then holds
    a new file: the one it had open is the closed part) and retention (a removed part's
    records stay in the index, so every ordinal keeps its command, but read as no longer
    kept). Ordinals count from the commands before the index's first part (its header's
    commands-before), so an index rebuilt after retention numbers commands as before. */
#ifndef INDEX_H
#define INDEX_H

#include "l3_record.h"
#include <stdbool.h>
#include <stdint.h>

#define INDEX_NO_EXIT INT32_MIN
#define INDEX_PART_SHIFT 40 /* a part may hold 1 TiB */
#define INDEX_OFF(part, local) (((uint64_t)(part) << INDEX_PART_SHIFT) | (uint64_t)(local))
#define INDEX_OFF_PART(off) ((uint32_t)((off) >> INDEX_PART_SHIFT))
#define INDEX_OFF_LOCAL(off) ((off) & (((uint64_t)1 << INDEX_PART_SHIFT) - 1))
#define INDEX_LINE_MAX (64u << 20) /* longer lines are skipped with a warning */

typedef struct {
    uint64_t off; /* INDEX_OFF(part, byte offset of the record line in it) */
    int64_t start_us, end_us;
    uint32_t len;      /* line length including its newline */
    uint32_t sess;     /* index into sessions */
    uint32_t nr;       /* number in session */
    uint32_t word;     /* interned first word of the command line, 0 when none */
    int32_t exit_code; /* INDEX_NO_EXIT when unknown */
    uint8_t sig, flags;
    uint8_t note; /* command line is only a shell comment */
    uint8_t pad;
} index_cmd_t;

typedef struct {
    uint32_t host, user, sid, tty; /* interned strings */
    int64_t start_us, end_us;      /* end 0 while open */
    uint16_t cols, rows;
    int32_t exit_code;
    uint8_t sig, flags;
    bool ended;
    bool declared;  /* a session record was seen (not only commands) */
    uint32_t *cmds; /* command ordinals, in datafile order */
    uint32_t ncmds, capcmds;
} index_sess_t;

typedef struct index_t index_t;

/* Open the datafile and its closed parts (read only) and the index file at idxpath (NULL:
   none). Nothing is scanned yet. NULL (logged) when the datafile cannot be opened. */
index_t *index_new(const char *datafile, const char *idxpath);

/* Told of each part's descriptor as it is opened (open true) and closed: page workers
   keep them (workers_keep_fd). Called at once for the ones already open. */
typedef void(index_fd_fn)(int fd, bool open, void *arg);
void index_set_fd_hook(index_t *self, index_fd_fn *fn, void *arg);
void index_destroy(index_t **self_p);

/* Load the index file when it matches the datafile (else start it afresh). Returns the
   number of records taken from it. */
uint64_t index_load(index_t *self);

/* Index complete record lines from the current position up to `limit` (a committed
   INDEX_OFF; UINT64_MAX = the live file's current end), reading at most max_bytes in
   this call. Moves on through closed parts, and follows a rotation of the live file.
   Sets *more when bytes remain below the limit. Returns the number of new records, -1
   on a read error. */
int64_t index_scan(index_t *self, uint64_t limit, uint64_t max_bytes, bool *more);

/* INDEX_OFF up to which the datafile is indexed. */
uint64_t index_pos(index_t *self);
/* Bytes indexed and bytes in all parts there are, when last looked at (progress). */
void index_progress(index_t *self, uint64_t *done, uint64_t *total);

/* Read-only views. Pointers stay valid until the next scan. */
const index_cmd_t *index_cmds(index_t *self, uint32_t *count);
const index_sess_t *index_sessions(index_t *self, uint32_t *count);
/* Interned string by id; "" for 0 or unknown. */
const char *index_str(index_t *self, uint32_t id);
/* Id of an interned string, 0 when never seen. */
uint32_t index_str_id(index_t *self, const char *s);
/* Bumped whenever records are added: cache keys include it. */
uint64_t index_generation(index_t *self);

/* The snapshot (<index file>.snap) is written once this many entries are not in one
   (and the index has caught up with the datafile), so that a start maps it and replays
   only the rest of the index file. */
#define INDEX_SNAPSHOT_EVERY 200000
void index_set_snapshot_every(index_t *self, uint64_t entries);
/* Write the snapshot now and wait for it (it is written by a child process, and the
   commands it holds are then mapped from it); false (logged) when there is no index file
   or it fails. Otherwise snapshots are written in the background as they fall due. */
bool index_snapshot(index_t *self);
/* Wait for a snapshot being written in the background (tests; a stop does not wait). */
void index_snapshot_wait(index_t *self);

/* Read the raw line at INDEX_OFF off into out (reset first); false on I/O error or when
   its part is no longer kept. */
bool index_read_line(index_t *self, uint64_t off, uint32_t len, l3_buf_t *out);
/* Read and fully parse command `ord`; caller clears rec. */
bool index_load_cmd(index_t *self, uint32_t ord, l3_record_t *rec);
/* The descriptor of the part that holds INDEX_OFF off, for bulk reads (search, mapped at
   INDEX_OFF_LOCAL); -1 when the part is no longer kept. */
int index_part_fd(index_t *self, uint64_t off);
/* Is command ord's part still there to read? (false: retention removed or archived it) */
bool index_cmd_kept(index_t *self, uint32_t ord);
/* Records at offsets below this are in parts retention has removed (it removes the oldest
   first): the journal leaves them out. */
uint64_t index_kept_from(index_t *self);
/* The first command's number in the whole history: a command's id (permalink, JSON) is
   this plus its ordinal. */
uint64_t index_ord_base(index_t *self);

#endif
