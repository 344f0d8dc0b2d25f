/*  import — recordings from elsewhere, through the same parser and record builder:

    - spool sessions (`<sid>.script` with `.timing`/`.info` beside it: docs/capture.md);
    - plain typescripts without marks (`script -f` output, optionally with a util-linux
      classic timing file `<name>.timing` or `<name>.tm` beside it): command boundaries
      are guessed from prompt lines (the parser's PROMPT mode, pattern configurable);
    - asciicast v2 `.cast` files (a JSON header line, then [time, "o", data] events);
    - tlog JSON recordings (one tlog message per line, doc/log_format.md of tlog).

    Every import makes a session record, the command records, and an end record. The user
    is the owner of the imported file (as for the spool: never taken from content). */
#ifndef L3_AGENT_IMPORT_H
#define L3_AGENT_IMPORT_H

#include "spool.h"

typedef enum {
    L3_IMPORT_AUTO = 0,
    L3_IMPORT_SPOOL,
    L3_IMPORT_TYPESCRIPT,
    L3_IMPORT_ASCIICAST,
    L3_IMPORT_TLOG,
} l3_import_format_t;

#define L3_IMPORT_FILE_MAX (1ull << 32) /* an imported recording: 4 GiB */
#define L3_IMPORT_LINE_MAX (8u << 20)   /* one JSON line */

typedef struct {
    l3_import_format_t format;
    const char *prompt_re;  /* typescript/asciicast/tlog: NULL = L3_PARSER_PROMPT_DEFAULT */
    size_t output_cap;
    const char *host;       /* NULL = from the recording, else the local host name */
    l3_spool_record_fn *on_record;
    void *arg;
} l3_import_opts_t;

/* Guess the format of path: a .script with .info beside it is a spool session; a first
   line that is a JSON object with "version": 2 is asciicast; one with "ver" and
   "out_txt"/"timing" is tlog; anything else is a typescript. */
l3_import_format_t l3_import_detect(const char *path);
const char *l3_import_format_name(l3_import_format_t format);
/* "spool", "typescript", "asciicast", "tlog", "auto" → format; false if unknown. */
bool l3_import_format_parse(const char *name, l3_import_format_t *format);

/* Import one file. Returns the number of records emitted, or -1 (logged) when the file
   cannot be read at all. Damaged parts are logged and skipped. */
int l3_import_file(const char *path, const l3_import_opts_t *opts);

/* Import from memory (for the fuzz targets and tests): format must not be AUTO or SPOOL.
   name gives the session id. */
int l3_import_buffer(const void *data, size_t len, const char *name, uid_t uid,
                     const l3_import_opts_t *opts);

#endif
