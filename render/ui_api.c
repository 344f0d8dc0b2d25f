/*  ui_api — the journal's JSON API: /api/sessions, /api/commands, /api/cmd/ID.

    Every string goes through ui_json_bytes (any bytes, invalid UTF-8 as U+FFFD, '<'
    escaped) and only what the request may see is listed. /api/commands is also the live
    page's feed (since=, html=1: each command's HTML made here, escaped like the journal's)
    and, through ui_export_json, a session's .json export.

    An answer listing commands is bounded by bytes, not only by how many it lists: a
    record may hold 1 MiB of line, of output and of diff, 6 MiB each as JSON when they are
    all '<' ("\u003c"), and sixteen such commands once made /api/commands, the live feed
    and the export answer 503 (past BODY_MAX in pages.c) to everyone. So commands go in
    whole until the next one would pass the answer's budget, and the answer then says
    where to go on (next and more, or before for a search). One command always
    goes in: when it alone passes the budget, a list answer shows the start of its line,
    output and diff as the journal's lists do (ui.h), with "cmd_more", "output_more",
    "diff_more" saying how many bytes were left out (/api/cmd/ID has all of them), and the
    export, which loses nothing, has it whole. */
#include "ui.h"
#include "ui_api.h"
#include "ui_command.h"
#include "search.h"

#include <inttypes.h>
#include <stdlib.h>

#define CMD_HTML_MAX (4u << 20) /* one command's HTML in the live feed */

/* What one /api/commands answer may take: a sixteenth of a page's limit (BODY_MAX).
   Ordinary commands (a few KiB each with their HTML) fit by the hundreds, and an answer
   that stops early costs its client one more request, not a 503. */
#define API_BUDGET (4u << 20)
/* The .json export's answer: the same cut would lose data, so its pages are larger (a
   session up to this much comes in one answer, as before) and a command that alone
   passes it comes whole, however large: all of a record's fields at their caps, with
   its HTML, stay well below BODY_MAX. */
#define EXPORT_BUDGET (32u << 20)
/* What the answer's framing ({"commands":[ … ],"next":N,"more":false}) may take. */
#define FRAME_MAX 256
/* How much of its output a lone command that passes API_BUDGET shows: the head a list
   shows before eliding (ui_command.c, s_output_html). */
#define CUT_OUTPUT_MAX 4096

/* ,"name":"…" for a byte field; with max (a lone command too large for its answer): at
   most max bytes of it, cut as the lists cut (ui_cut), then ,"name_more":N, the bytes
   left out. */
static void s_json_field(ui_ctx_t *c, const char *name, const l3_bytes_t *f, size_t max,
                         bool at_line)
{
    size_t shown = max ? ui_cut(f->data, f->len, max, at_line) : f->len;
    OUT(",\"%s\":", name);
    ui_json_bytes(c->body, f->data, shown);
    if (shown < f->len)
        OUT(",\"%s_more\":%zu", name, f->len - shown);
}

/* One command as a JSON object; html adds its journal HTML; cut bounds its line, output
   and diff (s_json_field). */
static void s_json_cmd(ui_ctx_t *c, uint32_t ord, const l3_record_t *r, bool html, bool cut)
{
    uint32_t nc, ns;
    const index_cmd_t *cmd = &index_cmds(c->ix, &nc)[ord];
    const index_sess_t *s = &index_sessions(c->ix, &ns)[cmd->sess];
    char t1[40], t2[40];
    ui_fmt_iso(r->start_us, t1, sizeof t1);
    ui_fmt_iso(r->end_us, t2, sizeof t2);
    OUT("{\"id\":%" PRIu64 ",\"session\":%" PRIu32 ",\"host\":", ui_cmd_id(c, ord), cmd->sess);
    ui_json_str(c->body, index_str(c->ix, s->host));
    PUT(",\"user\":");
    ui_json_str(c->body, index_str(c->ix, s->user));
    PUT(",\"sid\":");
    ui_json_str(c->body, index_str(c->ix, s->sid));
    OUT(",\"nr\":%" PRIu64 ",\"depth\":%u,\"start\":\"%s\",\"end\":\"%s\",", r->nr,
        (unsigned)r->depth, t1, t2);
    if (r->has_exit)
        OUT("\"exit\":%" PRId32 ",", r->exit_code);
    else
        PUT("\"exit\":null,");
    char flags[128];
    l3_record_flags_format(r->flags, flags, sizeof flags);
    OUT("\"signal\":%" PRId32 ",\"flags\":", r->signal);
    ui_json_str(c->body, flags);
    PUT(",\"cwd\":");
    ui_json_bytes(c->body, r->cwd.data, r->cwd.len);
    s_json_field(c, "cmd", &r->cmdline, cut ? UI_LIST_LINE_MAX : 0, false);
    OUT(",\"dropped\":%" PRIu64, r->dropped);
    s_json_field(c, "output", &r->output, cut ? CUT_OUTPUT_MAX : 0, true);
    if (r->diff.len)
        s_json_field(c, "diff", &r->diff, cut ? UI_LIST_DIFF_MAX : 0, true);
    if (html && !c->body->failed) {
        /* The live page inserts this fragment as is: rendered (and escaped) here. */
        l3_buf_t *saved = c->body, frag;
        l3_buf_init(&frag, CMD_HTML_MAX);
        c->body = &frag;
        ui_command_html(c, ord, r, true, false);
        c->body = saved;
        PUT(",\"html\":");
        ui_json_bytes(c->body, frag.data, frag.len);
        l3_buf_free(&frag);
    }
    PUT("}");
}

/* The command objects of one answer, from ords[0..n) (ascending), appended to the body
   in that order, separated by commas: as many whole ones as fit in budget, taken from
   the oldest (a follower asks since=next for the rest) or, keep_newest, from the newest
   (a search asks before= for older ones). When the first one taken alone passes the
   budget it goes in alone, cut (s_json_cmd), or whole when lossless (the export). The
   answer covers ords[*lo..*hi): a command that cannot be read is skipped, as the lists
   skip it. */
static void s_json_cmds(ui_ctx_t *c, const uint32_t *ords, size_t n, bool html, size_t budget,
                        bool keep_newest, bool lossless, size_t *lo, size_t *hi)
{
    l3_buf_t *body = c->body, fit;
    size_t *span = NULL; /* start and end in fit of each command taken, in taken order */
    size_t taken = 0, done = 0;
    /* Each command is written into fit, whose limit is what is left of the budget: one
       that does not fit stops there (l3_buf fails without growing past its limit), so
       measuring it costs no more than the budget. */
    l3_buf_init(&fit, budget - FRAME_MAX);
    if (n && !(span = malloc(2 * n * sizeof *span)))
        n = 0; /* out of memory: an empty answer, which says so by its cursor */
    for (; done < n; done++) {
        size_t i = keep_newest ? n - 1 - done : done;
        l3_record_t r;
        if (!index_load_cmd(c->ix, ords[i], &r))
            continue;
        size_t mark = fit.len;
        if (taken)
            l3_buf_append_byte(&fit, ',');
        size_t start = fit.len;
        c->body = &fit;
        s_json_cmd(c, ords[i], &r, html, false);
        c->body = body;
        if (fit.failed) {
            fit.len = mark;
            fit.failed = false;
            if (!taken) {
                s_json_cmd(c, ords[i], &r, html, !lossless);
                done++;
            }
            l3_record_clear(&r);
            break;
        }
        span[2 * taken] = start;
        span[2 * taken + 1] = fit.len;
        taken++;
        l3_record_clear(&r);
    }
    for (size_t k = 0; k < taken; k++) {
        size_t t = keep_newest ? taken - 1 - k : k;
        if (k)
            PUT(",");
        l3_buf_append(body, fit.data + span[2 * t], span[2 * t + 1] - span[2 * t]);
    }
    *lo = keep_newest ? n - done : 0;
    *hi = keep_newest ? n : done;
    free(span);
    l3_buf_free(&fit);
}

void ui_api_commands(ui_ctx_t *c)
{
    char v[32];
    uint32_t nc;
    const index_cmd_t *cmds = index_cmds(c->ix, &nc);
    c->ctype = "application/json";
    bool html = req_param(c->req->query, "html", v, sizeof v) && v[0] == '1';
    size_t limit = (size_t)c->pg->page_size;
    int64_t since = -1;
    if (!c->export_all && req_param(c->req->query, "limit", v, sizeof v)) {
        unsigned long l = strtoul(v, NULL, 10);
        if (l >= 1 && l <= 1000)
            limit = l;
    }
    uint32_t *ords = NULL;
    size_t n = 0;
    bool more = false, searched = false;
    uint32_t resume = 0;
    bool follow = false;
    bool has_since = req_param(c->req->query, "since", v, sizeof v) && v[0];
    if (has_since) {
        //  An id (ui_cmd_id); one before the first command the index has means from it.
        long long id = strtoll(v, NULL, 10);
        since = id < 0 ? -1 : ui_id_ord(c, (uint64_t)id);
    }
    if (c->export_all && c->sess >= 0) {
        /* every command of the session, from the first or after since= (the export's
           next page) */
        uint32_t ns;
        limit = index_sessions(c->ix, &ns)[c->sess].ncmds + 1;
        follow = true;
        c->q[0] = 0;
    } else if (has_since) {
        follow = v[0] != '-';
    }
    if (follow || !c->q[0]) {
        /* Ascending from the cursor: the following case. Without a cursor: the newest. */
        ords = malloc(limit * sizeof *ords);
        if (follow) {
            if (c->sess >= 0) {
                uint32_t ns;
                const index_sess_t *s = &index_sessions(c->ix, &ns)[c->sess];
                for (uint32_t i = 0; ords && i < s->ncmds; i++) {
                    uint32_t o = s->cmds[i];
                    if ((int64_t)o > since && ui_cmd_matches(c, &cmds[o])) {
                        if (n == limit) {
                            more = true;
                            break;
                        }
                        ords[n++] = o;
                    }
                }
            } else {
                for (uint32_t o = (uint32_t)(since + 1); ords && since < (int64_t)nc && o < nc;
                     o++) {
                    if (ui_cmd_matches(c, &cmds[o])) {
                        if (n == limit) {
                            more = true;
                            break;
                        }
                        ords[n++] = o;
                    }
                }
            }
        } else {
            for (uint32_t o = nc; ords && o > 0; o--) {
                if (ui_cmd_matches(c, &cmds[o - 1])) {
                    if (n == limit) {
                        more = true;
                        break;
                    }
                    ords[n++] = o - 1;
                }
            }
            if (ords)
                qsort(ords, n, sizeof *ords, ui_cmp_u32);
        }
    } else {
        uint32_t before = UINT32_MAX;
        if (req_param(c->req->query, "before", v, sizeof v)) {
            int64_t o = ui_id_ord(c, strtoull(v, NULL, 10));
            before = o < 0 ? 0 : (uint32_t)o;
        }
        ui_search_acc_t a = {c, calloc(limit, sizeof(uint32_t)), 0};
        searched = true;
        if (a.ords)
            search_commands(c->ix, c->pg->textindex, c->q, c->icase, before, limit, c->pg->search_budget_us, ui_search_accept,
                            &a, &more, &resume);
        ords = a.ords;
        n = a.n;
        if (ords)
            qsort(ords, n, sizeof *ords, ui_cmp_u32);
    }
    /* The answer covers ords[lo..hi); a search keeps its newest hits, anything else its
       oldest commands, so that the cursor (before=, since=) leads to the rest. */
    size_t lo = 0, hi = 0;
    PUT("{\"commands\":[");
    if (ords)
        s_json_cmds(c, ords, n, html, c->export_all ? EXPORT_BUDGET : API_BUDGET, searched,
                    c->export_all, &lo, &hi);
    if (searched) {
        if (lo > 0) {
            resume = ords[lo];
            more = true;
        }
        OUT("],\"before\":%" PRIu64 ",\"more\":%s}\n", ui_cmd_id(c, resume),
            more ? "true" : "false");
    } else {
        uint32_t next = hi ? ords[hi - 1] : (since >= 0 ? (uint32_t)since : 0);
        if (since < 0 && hi == 0 && nc)
            next = nc - 1;
        /* more: since=next has more to give. Without since that is the rest of the newest
           page (older commands are not reachable by a since cursor). */
        if (!follow)
            more = false;
        if (hi < n)
            more = true;
        OUT("],\"next\":%" PRIu64 ",\"more\":%s}\n", ui_cmd_id(c, next), more ? "true" : "false");
    }
    free(ords);
}

void ui_api_sessions(ui_ctx_t *c)
{
    uint32_t ns;
    const index_sess_t *ss = index_sessions(c->ix, &ns);
    c->ctype = "application/json";
    PUT("{\"sessions\":[");
    bool first = true;
    for (uint32_t si = 0; si < ns; si++) {
        if (c->bad_filter || !ui_sess_visible(c, si) || (c->host && ss[si].host != c->host) ||
            (c->user && ss[si].user != c->user))
            continue;
        char t1[40], t2[40];
        ui_fmt_iso(ss[si].start_us, t1, sizeof t1);
        ui_fmt_iso(ss[si].end_us, t2, sizeof t2);
        OUT("%s{\"id\":%" PRIu32 ",\"host\":", first ? "" : ",", si);
        ui_json_str(c->body, index_str(c->ix, ss[si].host));
        PUT(",\"user\":");
        ui_json_str(c->body, index_str(c->ix, ss[si].user));
        PUT(",\"sid\":");
        ui_json_str(c->body, index_str(c->ix, ss[si].sid));
        PUT(",\"tty\":");
        ui_json_str(c->body, index_str(c->ix, ss[si].tty));
        OUT(",\"start\":\"%s\",\"end\":\"%s\",\"open\":%s,\"commands\":%" PRIu32 "}", t1, t2,
            ss[si].ended ? "false" : "true", ss[si].ncmds);
        first = false;
    }
    PUT("]}\n");
}

void ui_api_cmd(ui_ctx_t *c, int64_t id_ord)
{
    l3_record_t r;
    c->ctype = "application/json";
    uint32_t ord = id_ord < 0 ? 0 : (uint32_t)id_ord;
    if (id_ord < 0 || !ui_cmd_visible(c, ord) || !index_load_cmd(c->ix, ord, &r)) {
        ui_cmd_missing(c, id_ord, true);
        return;
    }
    s_json_cmd(c, ord, &r, false, false);
    PUT("\n");
    l3_record_clear(&r);
}
