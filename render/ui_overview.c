/*  ui_overview — the index page (/ and /index): where to start reading the journal.

    Hosts and users, each with its number of commands and a link to its journal (counted
    by ui_stats_count_by over what the request may see), then a table of the sessions,
    newest first, page_size per page, with links to each session's journal, replay and,
    while it is open, its live page. host= and user= narrow the session table. */
#include "ui.h"
#include "ui_overview.h"
#include "ui_stats.h"

#include <inttypes.h>
#include <stdlib.h>

void ui_overview_page(ui_ctx_t *c)
{
    uint32_t ns;
    const index_sess_t *ss = index_sessions(c->ix, &ns);
    ui_head(c, c->m[M_INDEX], NULL);
    uint64_t total;
    size_t n;
    char cnt[32];
    for (int pass = 0; pass < 2; pass++) {
        uint64_t *pairs = ui_stats_count_by(c, pass ? UI_BY_USER : UI_BY_HOST, &n, &total, NULL);
        OUT("<section class=\"list\"><h2>%s</h2><ul>", c->m[pass ? M_USERS : M_HOSTS]);
        for (size_t i = 0; pairs && i < n; i++) {
            const char *name = index_str(c->ix, (uint32_t)pairs[2 * i + 1]);
            char enc[800];
            req_pct_encode(name, enc, sizeof enc);
            OUT("<li><a href=\"%s/journal?%s=%s\">", c->pg->base, pass ? "user" : "host", enc);
            ui_esc(c, name);
            ui_fmt_count(c, pairs[2 * i], cnt, sizeof cnt);
            OUT("</a> <span class=\"n\">%s</span></li>", cnt);
        }
        PUT("</ul></section>\n");
        free(pairs);
    }
    /* Sessions, newest first, at most page_size of them per page. */
    char v[32];
    uint32_t page = 1;
    if (req_param(c->req->query, "page", v, sizeof v))
        page = (uint32_t)strtoul(v, NULL, 10);
    if (page < 1)
        page = 1;
    size_t size = (size_t)c->pg->page_size, skip = (size_t)(page - 1) * size, shown = 0;
    OUT("<section class=\"sessions\"><h2>%s</h2>\n<table><thead><tr><th>%s</th><th>%s</th>"
        "<th>tty</th><th>%s</th><th></th></tr></thead><tbody>\n",
        c->m[M_SESSIONS], c->m[M_STARTED], c->m[M_USER], c->m[M_COMMANDS]);
    bool more = false;
    for (uint32_t i = ns; i > 0; i--) {
        uint32_t si = i - 1;
        if (!ui_sess_visible(c, si))
            continue;
        if (c->bad_filter || (c->host && ss[si].host != c->host) ||
            (c->user && ss[si].user != c->user))
            continue;
        if (skip) {
            skip--;
            continue;
        }
        if (shown == size) {
            more = true;
            break;
        }
        shown++;
        char t[48];
        ui_fmt_datetime(ss[si].start_us, t, sizeof t);
        OUT("<tr class=\"%s\"><td><a href=\"%s/journal?session=%" PRIu32 "\">%s</a></td><td>",
            ss[si].ended ? "ended" : "open", c->pg->base, si, t);
        ui_esc(c, index_str(c->ix, ss[si].user));
        PUT("@");
        ui_esc(c, index_str(c->ix, ss[si].host));
        PUT("</td><td>");
        ui_esc(c, index_str(c->ix, ss[si].tty));
        OUT("</td><td>%" PRIu32 "</td><td>", ss[si].ncmds);
        if (!ss[si].ended)
            OUT("<a href=\"%s/live/%" PRIu32 "\">%s</a> ", c->pg->base, si, c->m[M_LIVE]);
        OUT("<a href=\"%s/replay/%" PRIu32 "\">%s</a></td></tr>\n", c->pg->base, si,
            c->m[M_REPLAY]);
    }
    PUT("</tbody></table>");
    if (page > 1)
        OUT("<a href=\"%s/?page=%" PRIu32 "\">←</a> ", c->pg->base, page - 1);
    if (more)
        OUT("<a href=\"%s/?page=%" PRIu32 "\">→</a>", c->pg->base, page + 1);
    PUT("</section>\n");
    ui_foot(c);
}
