/*  l3_record — the one record model every component shares.

    A record is what an agent produces and the writer stores: a session start, a command,
    or a session end. It travels as msgpack (l3_msg) and is stored as one XML element
    (l3_xmlrec). Identity of a record is its stream (agent id, epoch) and its seq in it.

    Text fields that come from the system (host, user, tty, ...) are short NUL-terminated
    strings, validated to be UTF-8 without control characters. Byte fields that come from
    the terminal (cwd, command line, output, timing, diff) are arbitrary byte strings and
    are owned by the record. */
#ifndef L3_RECORD_H
#define L3_RECORD_H

#include "l3_buf.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hard caps. Decoders reject anything larger; ZMQ_MAXMSGSIZE is L3_MSG_MAX. */
#define L3_ID_MAX 64              /* agent id, session id */
#define L3_NAME_MAX 255           /* host, user, tty, shell, ssh client */
#define L3_CWD_MAX 4096
#define L3_CMDLINE_MAX (1u << 20)
#define L3_OUTPUT_MAX (1u << 20)
#define L3_TIMING_MAX (1u << 20)
#define L3_DIFF_MAX (1u << 20)
#define L3_MSG_MAX (6u << 20)     /* one encoded message, all fields at their caps */
#define L3_PROTO_VERSION 1

typedef enum {
    L3_RECORD_NONE = 0,
    L3_RECORD_SESSION = 1,
    L3_RECORD_COMMAND = 2,
    L3_RECORD_END = 3,
} l3_record_type_t;

/* Command and session flags; stored by name in XML (l3_record_flag_name). */
enum {
    L3_FLAG_FULLSCREEN = 1u << 0,  /* full screen: the alternate screen (vim, less), or
                                      redrawing the main screen (top, watch) */
    L3_FLAG_INTERRUPTED = 1u << 1, /* no D mark: the shell went away mid-command */
    L3_FLAG_TRUNCATED = 1u << 2,   /* output capped; `dropped` bytes left out */
    L3_FLAG_ABNORMAL = 1u << 3,    /* end record: the recorder died, agent ended it */
    L3_FLAG_NESTED = 1u << 4,      /* command ran a nested recorded session (su -) */
    L3_FLAG_BACKGROUND = 1u << 5,  /* command line ended with & */
    L3_FLAG_HANGUP = 1u << 6,      /* cut by hangup: the recorder lost its terminal (or was
                                      told to stop) and sent the session SIGHUP */
    L3_FLAG_AMBIGUOUS = 1u << 7,   /* exit status 129..192 with no evidence of a signal: it
                                      may be `exit N` or death by signal N-128 */
};
#define L3_DEPTH_MAX 15 /* shells nested deeper are shown at this depth */
#define L3_FLAG_ALL 0xffu

/* An owned byte string. */
typedef struct {
    uint8_t *data;
    size_t len;
} l3_bytes_t;

typedef struct {
    l3_record_type_t type;

    /* Stream identity. The writer overwrites `agent` with the id the broker authenticated. */
    char agent[L3_ID_MAX + 1];
    uint64_t epoch; /* random, nonzero, made when the agent's outbox was created */
    uint64_t seq;   /* 1, 2, 3, ... within the epoch */

    /* Where: every record names its session. */
    char host[L3_NAME_MAX + 1];
    char user[L3_NAME_MAX + 1];
    char sid[L3_ID_MAX + 1]; /* session id, unique on the host */

    /* When: microseconds since the Unix epoch, UTC. start for session/command, end for
       command/end. 0 = unknown. */
    int64_t start_us;
    int64_t end_us;

    /* session */
    uint32_t uid;
    uint32_t pid;
    uint16_t cols, rows;
    char tty[L3_NAME_MAX + 1];
    char shell[L3_NAME_MAX + 1];
    char ssh[L3_NAME_MAX + 1];       /* SSH_CLIENT, empty when local */
    char parent[L3_NAME_MAX + 1];    /* "host/sid" of the enclosing recorded session, or "" */

    /* command */
    uint64_t nr; /* number of the command in its session, from 1 */
    char nested[L3_NAME_MAX + 1]; /* "host/sid" of the recorded session it ran (su -), or "" */
    uint8_t depth; /* the shell it was typed in: 0 = the session's own, 1 = a shell started
                      inside it (bash, exec bash, su, sudo -i), 2 = one inside that... */
    l3_bytes_t cwd;
    l3_bytes_t cmdline;
    l3_bytes_t output;  /* capped: head and tail kept, `dropped` bytes between them gone */
    l3_bytes_t timing;  /* scriptreplay lines "<delay> <bytes>\n" for the output */
    l3_bytes_t diff;    /* unified diff of an edited file */
    uint64_t dropped;
    uint64_t output_head; /* when truncated: bytes of `output` that are the head */

    /* command and end */
    bool has_exit;
    int32_t exit_code;
    int32_t signal; /* 0 = no signal known to have ended it (see L3_FLAG_AMBIGUOUS) */
    uint32_t flags;
} l3_record_t;

/* Zero a record (no allocation). */
void l3_record_init(l3_record_t *rec);
/* Free the owned byte fields and zero the record. */
void l3_record_clear(l3_record_t *rec);
/* Deep copy; false on out of memory (dst is then cleared). dst must be initialised. */
bool l3_record_copy(l3_record_t *dst, const l3_record_t *src);
/* Replace a byte field with a copy of data; false on out of memory or over `cap`. */
bool l3_bytes_set(l3_bytes_t *field, const void *data, size_t len, size_t cap);
void l3_bytes_free(l3_bytes_t *field);
/* Copy a NUL-terminated string into a fixed field; false if it does not fit. */
bool l3_text_set(char *field, size_t field_size, const char *value);

/* Check types, presence and range of every field for the record's type.
   Returns true when valid; otherwise writes a reason into err. */
bool l3_record_validate(const l3_record_t *rec, char *err, size_t errlen);
/* True when s is a valid id: 1..L3_ID_MAX of [A-Za-z0-9._:@+=-]. */
bool l3_id_valid(const char *s);
/* True when s is UTF-8 without C0/C1 controls or DEL, at most max bytes. */
bool l3_text_valid(const char *s, size_t max);

const char *l3_record_type_name(l3_record_type_t type);
l3_record_type_t l3_record_type_from_name(const char *name);
/* Flag names, space-separated into buf ("fullscreen truncated"); parse back. */
void l3_record_flags_format(uint32_t flags, char *buf, size_t size);
bool l3_record_flags_parse(const char *text, uint32_t *flags);

#endif
