/*  ui_api — the journal's JSON API: /api/sessions, /api/commands, /api/cmd/ID.

    Every string goes through ui_json_bytes (any bytes, invalid UTF-8 as U+FFFD, '<'
    escaped) and only what the request may see is listed. /api/commands is also the live
    page's feed (since=, html=1: each command's HTML made here, escaped like the journal's)
    and, through ui_export_json, a session's .json export. */
#include "ui.h"
#include "ui_api.h"
#include "ui_command.h"
#include "search.h"

#include <inttypes.h>
#include <stdlib.h>

#define CMD_HTML_MAX (4u << 20) /* one command's HTML in the live feed */

/* One command as a JSON object; html adds its journal HTML. */
static void s_json_cmd(ui_ctx_t *c, uint32_t ord, const l3_record_t *r, bool html)
{
    uint32_t nc, ns;
    const index_cmd_t *cmd = &index_cmds(c->ix, &nc)[ord];
    const index_sess_t *s = &index_sessions(c->ix, &ns)[cmd->sess];
    char t1[40], t2[40];
    ui_fmt_iso(r->start_us, t1, sizeof t1);
    ui_fmt_iso(r->end_us, t2, sizeof t2);
    OUT("{\"id\":%" PRIu32 ",\"session\":%" PRIu32 ",\"host\":", ord, cmd->sess);
    ui_json_str(c->body, index_str(c->ix, s->host));
    PUT(",\"user\":");
    ui_json_str(c->body, index_str(c->ix, s->user));
    PUT(",\"sid\":");
    ui_json_str(c->body, index_str(c->ix, s->sid));
    OUT(",\"nr\":%" PRIu64 ",\"start\":\"%s\",\"end\":\"%s\",", r->nr, t1, t2);
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
    PUT(",\"cmd\":");
    ui_json_bytes(c->body, r->cmdline.data, r->cmdline.len);
    OUT(",\"dropped\":%" PRIu64 ",\"output\":", r->dropped);
    ui_json_bytes(c->body, r->output.data, r->output.len);
    if (r->diff.len) {
        PUT(",\"diff\":");
        ui_json_bytes(c->body, r->diff.data, r->diff.len);
    }
    if (html) {
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
    if (c->export_all && c->sess >= 0) {
        /* every command of the session, from the first */
        uint32_t ns;
        limit = index_sessions(c->ix, &ns)[c->sess].ncmds + 1;
        follow = true;
        c->q[0] = 0;
    } else if (req_param(c->req->query, "since", v, sizeof v) && v[0]) {
        since = strtoll(v, NULL, 10);
        if (since > (int64_t)UINT32_MAX)
            since = UINT32_MAX; /* ordinals are 32-bit: nothing comes after this */
        follow = since >= 0;
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
        if (req_param(c->req->query, "before", v, sizeof v))
            before = (uint32_t)strtoul(v, NULL, 10);
        ui_search_acc_t a = {c, calloc(limit, sizeof(uint32_t)), 0};
        searched = true;
        if (a.ords)
            search_commands(c->ix, c->q, before, limit, c->pg->search_budget_us, ui_search_accept,
                            &a, &more, &resume);
        ords = a.ords;
        n = a.n;
        if (ords)
            qsort(ords, n, sizeof *ords, ui_cmp_u32);
    }
    PUT("{\"commands\":[");
    for (size_t i = 0; i < n; i++) {
        l3_record_t r;
        if (!index_load_cmd(c->ix, ords[i], &r))
            continue;
        if (i)
            PUT(",");
        s_json_cmd(c, ords[i], &r, html);
        l3_record_clear(&r);
    }
    uint32_t next = n ? ords[n - 1] : (since >= 0 ? (uint32_t)since : 0);
    if (since < 0 && n == 0 && nc)
        next = nc - 1;
    if (searched)
        OUT("],\"before\":%" PRIu32 ",\"more\":%s}\n", resume, more ? "true" : "false");
    else
        OUT("],\"next\":%" PRIu32 ",\"more\":%s}\n", next, more ? "true" : "false");
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

void ui_api_cmd(ui_ctx_t *c, uint32_t ord)
{
    l3_record_t r;
    c->ctype = "application/json";
    if (!ui_cmd_visible(c, ord) || !index_load_cmd(c->ix, ord, &r)) {
        c->status = 404;
        PUT("{\"error\":\"not found\"}\n");
        return;
    }
    s_json_cmd(c, ord, &r, false);
    PUT("\n");
    l3_record_clear(&r);
}
