/*  parser — the streaming byte-stream state machine that turns the bytes of a recorded
    terminal (`<sid>.script`, docs/capture.md) into command records.

    Bytes arrive in chunks of any size, each chunk with the time the terminal got it (from
    `.timing`). The parser walks them through the states a terminal walks through — ground,
    ESC, CSI, OSC, DCS and the SOS/PM/APC strings — so that it sees lilalo's private marks
    (OSC 6973 with the session nonce) exactly where a terminal would see an OSC, and
    alternate-screen switches exactly where a terminal would switch. Everything else is
    output, kept byte for byte as the terminal got it (the journal strips escapes later),
    minus lilalo's own marks.

    Two modes:
    - MARKS (the spool): marks of the session's shells drive records; anything else is
      output. A mark names its shell by the shell's nonce (older recorders), or, when
      .info says marks=2, by "=<n>": l3-rec replaced each nonce it gave with the shell's
      number and changed every "=" first field a program printed, so no nonce is in the
      spool (docs/capture.md "Marks").
    - PROMPT (importers of plain typescripts, asciicast, tlog): no marks; the parser keeps a
      rendered copy of the current line (CR, BS, TAB, cursor moves, erase, UTF-8) and a
      line that matches the prompt regex starts a command with the rest of the line as
      its command line, as the 2005 agent did — a best guess, flagged by the importer.

    Determinism and resume: given the same bytes with the same times, the records are the
    same however the bytes are split into chunks. l3_parser_save() serialises the whole
    state (bounded: the pending command's capped output, command line and a partial mark),
    and a parser loaded from it continues exactly as the original would have.

    Statuses (docs/capture.md "Statuses"): an exit status 128+N is stored as signal N only
    with evidence — the recorder's authenticated mark that the user typed the interrupt,
    quit or suspend key during the command, or that the recorder hung the session up;
    without it the record keeps the exit status and is flagged `ambiguous`.

    Full screen: the alternate screen, or a program that redraws the main screen — four or
    more screens drawn from the top (cursor home or erase-display with output between), or
    absolute cursor positioning on twelve or more rows — sets `fullscreen`. A single
    `clear`, colours, or a progress bar redrawing one line do not.

    Bounds: every buffer has a cap (output_cap, L3_CMDLINE_MAX, L3_CWD_MAX, the mark cap),
    every state consumes at least one byte per step, so no input makes it crash, grow
    without bound or loop. */
#ifndef L3_AGENT_PARSER_H
#define L3_AGENT_PARSER_H

#include "l3_buf.h"
#include "l3_record.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define L3_PARSER_NONCE_LEN 32
#define L3_PARSER_NONCES_MAX 64 /* shells of one session with a nonce of their own */
#define L3_PARSER_REC_ANCHOR_LEN 64
#define L3_PARSER_OUTPUT_CAP_DEFAULT (64u * 1024)
#define L3_PARSER_EDIT_TOKEN_MAX 64
/* A whole mark (a percent-encoded command line can be 3 bytes per byte of L3_CMDLINE_MAX). */
#define L3_PARSER_MARK_MAX (3u * L3_CMDLINE_MAX + 1024)

typedef enum { L3_PARSER_MARKS = 0, L3_PARSER_PROMPT = 1 } l3_parser_mode_t;

/* .info `marks`: the form of the marks in .script. Absent (0) or 1: each mark carries its
   shell's nonce. 2: the recorder wrote "=<n>" in its place, n the shell's number: 0 the
   session's own shell, k the shell the k-th recorder `shell` mark registered. */
#define L3_PARSER_MARKS_REF 2

/* What a command record carries besides the record itself. */
typedef struct {
    char edit_token[L3_PARSER_EDIT_TOKEN_MAX + 1]; /* from an E mark, "" if none */
    char nested[L3_NAME_MAX + 1];                  /* "host/sid" of a nested session, or "" */
} l3_parser_extra_t;

/* Called for every finished command. rec has type, nr, times, cwd, cmdline, output,
   timing, dropped, output_head, exit/signal and flags set; the callee fills identity
   (agent, host, user, sid) and may take the byte fields (it owns rec until it returns;
   the parser clears it afterwards). */
typedef void(l3_parser_record_fn)(void *arg, l3_record_t *rec, const l3_parser_extra_t *extra);

typedef struct {
    l3_parser_mode_t mode;
    const char *nonce;      /* MARKS: 32 lowercase hex; NULL/"" = no mark is valid */
    const char *rec_anchor; /* MARKS: `recmark` of .info, 64 lowercase hex: the anchor of
                               the recorder's hash chain (agent/rec_marks.h); NULL/"" =
                               no recorder mark is valid, so no signal is ever known */
    size_t output_cap;      /* kept output per command (head + tail); 0 = default 64 KiB */
    const char *prompt_re;  /* PROMPT: POSIX ERE; group 1, if any, is the cwd. NULL = default */
    uint32_t cols;          /* PROMPT: terminal width, for wrapped command lines; 0 = unknown */
    l3_parser_record_fn *on_record;
    void *arg;
    const char *nonce_sha256; /* MARKS: the SHA-256 of each shell's nonce (.info
                                 nonce_sha256), 64 lowercase hex each, separated by
                                 spaces; a mark counts when its nonce hashes to one of
                                 them (each nonce is hashed once, then remembered) */
    uint32_t marks;           /* MARKS: .info `marks`; L3_PARSER_MARKS_REF: marks name
                                 their shell "=<n>", nonce and nonce_sha256 are not used,
                                 and a mark carrying a nonce is output */
} l3_parser_opts_t;

/* The default prompt: `user@host:cwd$ ` or `# `, optionally in brackets. */
#define L3_PARSER_PROMPT_DEFAULT "^\\[?[A-Za-z0-9._-]+@[A-Za-z0-9._-]+[: ]([^]$#]*)\\]?[$#] "

typedef struct l3_parser_t l3_parser_t;

/* New parser; NULL on a bad option (bad regex, bad nonce) or out of memory, logged. */
l3_parser_t *l3_parser_new(const l3_parser_opts_t *opts);
void l3_parser_destroy(l3_parser_t **self_p);

/* One more shell's nonce hash (64 lowercase hex), e.g. read again from .info when a
   shell started later. false when malformed or when L3_PARSER_NONCES_MAX are known.
   Under marks=2 it changes nothing (the session's shell is "=0"). */
bool l3_parser_add_nonce_sha256(l3_parser_t *self, const char *hex);

/* Feed bytes the terminal got at time_us (µs since the epoch, UTC). Any chunking. */
void l3_parser_feed(l3_parser_t *self, const void *data, size_t len, int64_t time_us);
/* The stream ended (the session ended) at time_us: an open command is emitted as
   interrupted (MARKS) or ended (PROMPT). The parser may be fed again afterwards. */
void l3_parser_finish(l3_parser_t *self, int64_t time_us);

/* The terminal was resized (PROMPT mode: where long lines wrap). */
void l3_parser_set_cols(l3_parser_t *self, uint32_t cols);

/* Bytes fed so far (the resume offset within the stream). */
uint64_t l3_parser_offset(l3_parser_t *self);
/* Number of the last command started (commands so far). */
uint64_t l3_parser_commands(l3_parser_t *self);
/* True while a command is open (C seen, no D yet). */
bool l3_parser_in_command(l3_parser_t *self);
/* Marks that named no shell of the session (seen as output), for the log. */
uint64_t l3_parser_forged(l3_parser_t *self);

/* Append the whole state to out (a bounded blob, versioned). */
bool l3_parser_save(l3_parser_t *self, l3_buf_t *out);
/* Replace the state with a saved one (the options stay those of l3_parser_new). false on
   a malformed or oversized blob, which leaves the parser reset to a fresh state. */
bool l3_parser_load(l3_parser_t *self, const void *blob, size_t len);

/* Percent-decode (docs/capture.md) into out, at most cap bytes; false on bad escapes. */
bool l3_parser_pct_decode(const char *s, size_t len, l3_buf_t *out, size_t cap);

#endif
