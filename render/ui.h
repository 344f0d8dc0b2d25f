/*  ui — what every page of the journal shares (private to render/; pages.h is the API).

    pages.c reads the config and routes a request to one page function; the pages live
    one family per module, as cgit splits its UI:
      ui.h, ui_shared.c  the HTTP response, the HTML head, foot and error page, a
                     session's heading, how much of a long line a list shows, time and
                     number formatting, JSON escaping, access and filters, the message
                     tables
      ui_journal.c   the journal, session and search lists (grouped by day, then session),
                     page links, the filter form
      ui_command.c   one command (command line with word links, output, diff) and its
                     permalink page
      ui_overview.c  the index page: hosts, users, sessions
      ui_stats.c     statistics, HTML and JSON, and the per-host/user/word/day counts
      ui_api.c       the JSON API: sessions, commands (also the live page's feed), one cmd
      ui_export.c    a session as .txt, .cast (asciicast v2) and .json; the replay page

    A page appends its body to c->body and may set c->status, c->ctype and
    c->extra_headers; pages_handle wraps it in the HTTP response. Every byte that came
    from a terminal or a record goes out through ansi_* or ui_esc (HTML) or ui_json_*
    (JSON); URLs built from record data only ever carry numbers or percent-encoded text. */
#ifndef UI_H
#define UI_H

#include "index.h"
#include "vt.h"
#include "l3_buf.h"
#include "pages.h"
#include "whatis.h"
#include "req.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- configuration */

#define UI_ICONS 5

/* The icon names: config keys frontend_NAME_ico and url_NAME, and each icon's alt text. */
extern const char *const ui_icon_names[UI_ICONS];

/* The render section of the config, read once by pages_new; pages only read it. */
struct pages_t {
    char *base, *stat, *css, *man_url;
    char *icon[UI_ICONS], *icon_url[UI_ICONS];
    char **instructors; /* render/instructors, one name each */
    size_t ninstructors;
    int page_size, head_lines, tail_lines;
    bool emulator; /* render/output_emulator: output that moves the cursor goes through
                      render/vt.c (the screen a person saw), not ansi.c's line stream */
    int64_t search_budget_us;
    int language; /* -1 auto, 0 en, 1 ru */
    const whatis_t *whatis; /* command descriptions, owned by render; NULL: none */
    textindex_t *textindex; /* the search index, owned by render; NULL: scan only */
};

/* ---------------------------------------------------------------- messages */

/* clang-format off */
enum {
    M_INDEX, M_JOURNAL, M_SEARCH, M_STATS, M_HOSTS, M_USERS, M_SESSIONS, M_COMMANDS,
    M_HOST, M_USER, M_SESSION, M_FROM, M_TO, M_FAILED_ONLY, M_APPLY, M_NO_COMMANDS,
    M_LINES, M_SHOW_ALL, M_FULLSCREEN, M_EXIT, M_KILLED, M_NOT_FOUND_CMD, M_STARTED,
    M_OPEN, M_ENDED, M_REPLAY, M_LIVE, M_TEXT, M_CAST, M_TOP_COMMANDS, M_FAILURE_RATIO,
    M_PER_DAY, M_PER_USER, M_PER_HOST, M_OLDER, M_NOT_FOUND, M_NOTE, M_BYTES_DROPPED,
    M_PAGE, M_FOLLOWING, M_NOJS_REPLAY, M_PERMALINK, M_TOTAL, M_INDEXING, M_INTERRUPTED,
    M_DATE, M_COUNT, M_ALL, M_MORE_BYTES, M_FULL_COMMAND, M_INNER_SHELL, M_RAN_SHELL, M_STOPPED,
    M_SPEED, M_NO_PLAYER, M_LAST_SCREEN, M_ICASE, M_REMOVED, M_COUNT_
};
/* clang-format on */

/* The message table of a language (0 English, 1 Russian), indexed by M_*. */
const char **ui_messages(int lang);

/* ---------------------------------------------------------------- request context */

/* One request being answered: what pages_handle made of it (language, who may see what,
   the filters from its query) and the response the page is writing. */
typedef struct {
    pages_t *pg;
    index_t *ix;
    const req_t *req;
    const char **m; /* messages */
    int lang;
    bool all;    /* may see every session */
    uint32_t me; /* interned remote user when !all (0: sees nothing) */
    /* filters */
    uint32_t host, user;
    int64_t sess; /* -1: any */
    int64_t from_us, to_us;
    bool failed;
    char q[REQ_VALUE_MAX + 1];
    bool icase; /* i=1: the search ignores the case of ASCII letters */
    char fhost[REQ_VALUE_MAX + 1], fuser[REQ_VALUE_MAX + 1];
    char ffrom[16], fto[16];
    bool bad_filter; /* a named host/user that does not exist: nothing matches */
    uint64_t kept_from; /* index_kept_from: commands below were removed by retention */
    uint32_t first_kept; /* the ordinal of the first command kept */
    bool export_all; /* /session/N.json: every command of the session */
    bool wasm;       /* the page runs WebAssembly (the replay page's player): see ui_http */
    uint64_t vt_budget; /* emulator work left for this request (ui_vt_new) */
    l3_buf_t *body;
    int status;
    const char *ctype;
    const char *extra_headers;
} ui_ctx_t;

/* Append to the page body: formatted, or a string as is (markup we wrote, not data). */
#define OUT(...) l3_buf_printf(c->body, __VA_ARGS__)
#define PUT(s) l3_buf_append_str(c->body, (s))

/* ---------------------------------------------------------------- response and HTML */

/* Append a complete HTTP/1.1 response (status line, headers, body unless head_only).
   wasm: its Content-Security-Policy also lets our scripts compile WebAssembly. */
void ui_http(l3_buf_t *resp, int status, const char *ctype, const char *extra, const l3_buf_t *body,
             bool head_only, bool wasm);
/* Append s to the body HTML-escaped. */
void ui_esc(ui_ctx_t *c, const char *s);
/* The page head up to the <h1>; script (may be NULL) names one of our static scripts. */
void ui_head(ui_ctx_t *c, const char *title, const char *script);
/* The same with more of our static files (names under static_url, NULL-terminated lists,
   either may be NULL): stylesheets before ours, scripts (deferred, run in this order). */
void ui_head_with(ui_ctx_t *c, const char *title, const char *const *styles,
                  const char *const *scripts);
void ui_foot(ui_ctx_t *c);
/* Replace the body with an HTML error page. */
void ui_error_page(ui_ctx_t *c, int status, const char *title);
/* A session's <section> and heading (user@host, tty, start, replay/text/cast/live links);
   the caller closes the section. */
void ui_session_heading(ui_ctx_t *c, uint32_t si);

/* ---------------------------------------------------------------- list views */

/* What a list of commands (the journal, a session, search hits, the live feed) shows of
   one command's typed text: at most this many bytes of its command line and of its diff,
   then a link to the command's own page, which shows all of it. A record may hold 1 MiB
   of each (4 MiB or more once escaped), and a page lists up to page_size commands: shown
   whole, a few such commands made every page that listed them too large (503). */
#define UI_LIST_LINE_MAX 4096
#define UI_LIST_DIFF_MAX 16384

/* How many bytes of data[0..len) to show when at most max may be: len when it fits, else
   at most max, never inside a valid UTF-8 character (the text is escaped after the cut,
   so no entity or tag of ours is ever cut either). at_line: end after the last newline of
   the cut part instead, when that keeps at least half of it. */
size_t ui_cut(const void *data, size_t len, size_t max, bool at_line);

/* ---------------------------------------------------------------- the emulator */

/* What one request may spend in the terminal emulator (render/vt.c), in its cells: eight
   commands' worth of VT_BUDGET (about 0.4 s); a download of a whole session, more. Past
   it, output is shown as ansi.c's line stream, so a page of costly records still comes
   in time, and one record never costs more than VT_BUDGET. */
#define UI_VT_PAGE_BUDGET (8 * VT_BUDGET)
#define UI_VT_EXPORT_BUDGET (64 * VT_BUDGET)

/* A terminal of command ord's session size with what is left of the request's budget,
   flags as vt_new; NULL when none is left (or out of memory): use ansi.c then. */
vt_t *ui_vt_new(ui_ctx_t *c, uint32_t ord, int flags);
/* Take the terminal's cost from the budget and destroy it. Returns false when it ran out
   of budget (vt_overrun): what it holds is then not the whole output. */
bool ui_vt_done(ui_ctx_t *c, vt_t **vt_p);

/* ---------------------------------------------------------------- formatting */

/* Local time of day, date and time, ISO 8601 UTC ("" for 0). */
void ui_fmt_time(int64_t us, char *buf, size_t size);
void ui_fmt_datetime(int64_t us, char *buf, size_t size);
void ui_fmt_iso(int64_t us, char *buf, size_t size);
/* Local day number, for grouping by day. */
int64_t ui_day(int64_t us);
/* "Tuesday, 24 November 2026" in the request's language. */
void ui_fmt_day(ui_ctx_t *c, int64_t us, char *buf, size_t size);
void ui_fmt_duration(int64_t us, char *buf, size_t size);
/* 1234567 as "1,234,567" (a space in Russian). */
void ui_fmt_count(ui_ctx_t *c, uint64_t n, char *buf, size_t size);

/* A JSON string of any bytes (invalid UTF-8 as U+FFFD, '<' escaped), quotes included. */
void ui_json_bytes(l3_buf_t *b, const void *data, size_t len);
void ui_json_str(l3_buf_t *b, const char *s);

/* ---------------------------------------------------------------- access and filters */

/* Whether the request may see session si / command ord (false when out of range). */
bool ui_sess_visible(ui_ctx_t *c, uint32_t si);
bool ui_cmd_visible(ui_ctx_t *c, uint32_t ord);
/* A command's id, as permalinks, cursors and the JSON API give it: its place in the whole
   history (index_ord_base plus its ordinal), so that it stays its id when retention
   removes older parts of the datafile and the index is built again without them. */
uint64_t ui_cmd_id(ui_ctx_t *c, uint32_t ord);
/* The ordinal of id: -1 for an id before the first command the index has (retention
   removed it); ids past the end come back past the end. */
int64_t ui_id_ord(ui_ctx_t *c, uint64_t id);
/* The page or answer for a command not shown: 410 when its part of the datafile was
   removed (id before the index's first command, or a part no longer kept), else 404. */
void ui_cmd_missing(ui_ctx_t *c, int64_t ord, bool json);
/* Whether a command is visible and passes the request's filters. */
bool ui_cmd_matches(ui_ctx_t *c, const index_cmd_t *cmd);
/* Read host, user, session, from, to, failed and q from the query into c. */
void ui_read_filters(ui_ctx_t *c);
/* The current filters as a query string (for page links), without page/before. */
void ui_filter_query(ui_ctx_t *c, char *buf, size_t size);

/* search_commands' accept callback: keeps the ordinals that pass ui_cmd_matches in ords
   (which has room for as many as the search was asked for). */
typedef struct {
    ui_ctx_t *c;
    uint32_t *ords;
    size_t n;
} ui_search_acc_t;
bool ui_search_accept(uint32_t ord, void *arg);

/* qsort comparator of uint32_t. */
int ui_cmp_u32(const void *a, const void *b);
/* strdup that aborts when out of memory. */
char *ui_dup(const char *s);

#endif
