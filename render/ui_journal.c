/*  ui_journal — the journal page: /journal, /search, /session/N and /live/N.

    The page is the filter form, the count of matching commands with page links, then the
    commands of the page grouped by local day and, within a day, by session (each with
    its heading), each command shown by ui_command_html. Without a search the matching
    commands are numbered into pages of page_size, 1 = oldest, and the newest page is the
    default; with a search (q) the page holds the newest hits below `before`, found by
    search_commands within the search budget, with a link further back. */
#include "ui.h"
#include "ui_command.h"
#include "ui_journal.h"
#include "search.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Render the given commands (ascending ordinals) grouped by day, then session. */
static void s_commands_grouped(ui_ctx_t *c, const uint32_t *ords, size_t n)
{
    uint32_t nc;
    const index_cmd_t *cmds = index_cmds(c->ix, &nc);
    bool *done = calloc(n ? n : 1, 1);
    int64_t *days = calloc(n ? n : 1, sizeof *days);
    if (!done || !days) {
        free(done);
        free(days);
        return;
    }
    /* one local-time conversion per command; the grouping below compares numbers */
    for (size_t i = 0; i < n; i++)
        days[i] = ui_day(cmds[ords[i]].start_us);
    l3_buf_t lastcwd;
    l3_buf_init(&lastcwd, L3_CWD_MAX);
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        int64_t day = days[i];
        char dbuf[96];
        ui_fmt_day(c, cmds[ords[i]].start_us, dbuf, sizeof dbuf);
        PUT("<h2 class=\"day\">");
        ui_esc(c, dbuf);
        PUT("</h2>\n");
        /* every session of this day, in order of first appearance */
        for (size_t j = i; j < n; j++) {
            if (done[j] || days[j] != day)
                continue;
            uint32_t si = cmds[ords[j]].sess;
            ui_session_heading(c, si);
            l3_buf_reset(&lastcwd);
            bool first = true;
            for (size_t k = j; k < n; k++) {
                if (done[k] || cmds[ords[k]].sess != si || days[k] != day)
                    continue;
                done[k] = true;
                l3_record_t r;
                if (!index_load_cmd(c->ix, ords[k], &r)) {
                    if (!index_cmd_kept(c->ix, ords[k]))
                        OUT("<div class=\"cmd bad\">%s</div>\n", c->m[M_REMOVED]);
                    else
                        OUT("<div class=\"cmd bad\">record %" PRIu64 " unreadable</div>\n",
                            ui_cmd_id(c, ords[k]));
                    continue;
                }
                bool cwd_changed = first || r.cwd.len != lastcwd.len ||
                                   (r.cwd.len && memcmp(r.cwd.data, lastcwd.data, r.cwd.len));
                if (cwd_changed) {
                    l3_buf_reset(&lastcwd);
                    l3_buf_append(&lastcwd, r.cwd.data, r.cwd.len);
                }
                ui_command_html(c, ords[k], &r, cwd_changed, false);
                l3_record_clear(&r);
                first = false;
            }
            PUT("</section>\n");
        }
    }
    l3_buf_free(&lastcwd);
    free(done);
    free(days);
}

/* The matching commands of a page. Without search: page p of ceil(total/size), 1 =
   oldest, default the newest. With search: newest hits below `before`. */
static uint32_t *s_select(ui_ctx_t *c, size_t *count, uint64_t *total, uint32_t *page,
                          uint32_t *pages, bool *more, uint32_t *before)
{
    uint32_t nc;
    const index_cmd_t *cmds = index_cmds(c->ix, &nc);
    size_t size = (size_t)c->pg->page_size;
    char v[32];
    *more = false;
    *count = 0;
    *total = 0;
    if (c->q[0]) {
        *before = UINT32_MAX;
        if (req_param(c->req->query, "before", v, sizeof v)) {
            int64_t o = ui_id_ord(c, strtoull(v, NULL, 10));
            *before = o < 0 ? 0 : (uint32_t)o;
        }
        ui_search_acc_t a = {c, calloc(size, sizeof(uint32_t)), 0};
        if (!a.ords)
            return NULL;
        uint32_t resume = 0;
        search_commands(c->ix, c->pg->textindex, c->q, c->icase, *before, size, c->pg->search_budget_us, ui_search_accept, &a,
                        more, &resume);
        *before = resume;
        qsort(a.ords, a.n, sizeof *a.ords, ui_cmp_u32);
        *count = a.n;
        *total = a.n;
        return a.ords;
    }
    /* Gather matching ordinals: the session's own list when filtered by session; with
       no filter at all the matching set is every command and needs no pass. */
    uint32_t *all = NULL;
    size_t n = 0;
    bool unfiltered = c->all && !c->bad_filter && c->sess < 0 && !c->host && !c->user &&
                      c->from_us < 0 && c->to_us < 0 && !c->failed;
    if (unfiltered) {
        uint32_t from = c->first_kept < nc ? c->first_kept : nc; /* older: removed */
        nc -= from;
        *total = nc;
        *pages = nc ? (uint32_t)((nc + size - 1) / size) : 1;
        *page = *pages;
        if (req_param(c->req->query, "page", v, sizeof v)) {
            unsigned long p = strtoul(v, NULL, 10);
            if (p >= 1 && p <= *pages)
                *page = (uint32_t)p;
        }
        size_t first = (size_t)(*page - 1) * size;
        size_t cnt = nc > first ? nc - first : 0;
        if (cnt > size)
            cnt = size;
        all = malloc((cnt ? cnt : 1) * sizeof *all);
        for (size_t i = 0; all && i < cnt; i++)
            all[i] = (uint32_t)(from + first + i);
        *count = all ? cnt : 0;
        return all;
    }
    if (c->sess >= 0) {
        uint32_t ns;
        const index_sess_t *s = &index_sessions(c->ix, &ns)[c->sess];
        all = malloc((s->ncmds ? s->ncmds : 1) * sizeof *all);
        for (uint32_t i = 0; all && i < s->ncmds; i++)
            if (ui_cmd_matches(c, &cmds[s->cmds[i]]))
                all[n++] = s->cmds[i];
    } else {
        all = malloc((nc ? nc : 1) * sizeof *all);
        for (uint32_t i = 0; all && i < nc; i++)
            if (ui_cmd_matches(c, &cmds[i]))
                all[n++] = i;
    }
    if (!all)
        return NULL;
    *total = n;
    *pages = n ? (uint32_t)((n + size - 1) / size) : 1;
    *page = *pages;
    if (req_param(c->req->query, "page", v, sizeof v)) {
        unsigned long p = strtoul(v, NULL, 10);
        if (p >= 1 && p <= *pages)
            *page = (uint32_t)p;
    }
    size_t first = (size_t)(*page - 1) * size;
    size_t cnt = n > first ? n - first : 0;
    if (cnt > size)
        cnt = size;
    memmove(all, all + first, cnt * sizeof *all);
    *count = cnt;
    return all;
}

/* Page links "1 2 3 … around the current … last" (fq: the filters as a query). */
static void s_page_links(ui_ctx_t *c, uint32_t page, uint32_t pages, const char *fq)
{
    if (pages <= 1)
        return;
    OUT("<nav class=\"pages\">%s: ", c->m[M_PAGE]);
    for (uint32_t p = 1; p <= pages; p++) {
        /* 1 2 3 … around the current … last: numbered as in 2005, but bounded */
        bool show = p <= 3 || p + 3 > pages || (p + 5 >= page && p <= page + 5);
        if (!show) {
            if (p == 4 || p == page + 6)
                PUT("<span class=\"gap\">…</span> ");
            continue;
        }
        if (p == page)
            OUT("<b>%" PRIu32 "</b> ", p);
        else {
            OUT("<a href=\"%s/journal?", c->pg->base);
            ui_esc(c, fq);
            OUT("%spage=%" PRIu32 "\">%" PRIu32 "</a> ", fq[0] ? "&amp;" : "", p, p);
        }
    }
    PUT("</nav>\n");
}

void ui_journal_filter_form(ui_ctx_t *c)
{
    OUT("<form class=\"filters\" method=\"get\" action=\"%s/journal\">", c->pg->base);
    OUT("<label>%s <input name=\"host\" size=\"8\" value=\"", c->m[M_HOST]);
    ui_esc(c, c->fhost);
    OUT("\"></label> <label>%s <input name=\"user\" size=\"8\" value=\"", c->m[M_USER]);
    ui_esc(c, c->fuser);
    PUT("\"></label> ");
    if (c->sess >= 0)
        OUT("<input type=\"hidden\" name=\"session\" value=\"%" PRId64 "\">", c->sess);
    OUT("<label>%s <input type=\"date\" name=\"from\" value=\"%s\"></label> ", c->m[M_FROM],
        c->ffrom);
    OUT("<label>%s <input type=\"date\" name=\"to\" value=\"%s\"></label> ", c->m[M_TO], c->fto);
    OUT("<label><input type=\"checkbox\" name=\"failed\" value=\"1\"%s> %s</label> ",
        c->failed ? " checked" : "", c->m[M_FAILED_ONLY]);
    OUT("<label>%s <input type=\"search\" name=\"q\" value=\"", c->m[M_SEARCH]);
    ui_esc(c, c->q);
    OUT("\"></label> <label><input type=\"checkbox\" name=\"i\" value=\"1\"%s> %s</label> ",
        c->icase ? " checked" : "", c->m[M_ICASE]);
    OUT("<button>%s</button></form>\n", c->m[M_APPLY]);
}

void ui_journal_page(ui_ctx_t *c, const char *title, const char *script)
{
    size_t count;
    uint64_t total;
    uint32_t page = 1, pages = 1, before = 0;
    bool more;
    uint32_t *ords = s_select(c, &count, &total, &page, &pages, &more, &before);
    char fq[4 * REQ_QUERY_MAX];
    ui_filter_query(c, fq, sizeof fq);
    ui_head(c, title, script);
    if (script && c->sess >= 0) {
        uint32_t nc;
        index_cmds(c->ix, &nc);
        OUT("<p class=\"livebar\" id=\"live\" data-api=\"%s/api/commands?session=%" PRId64
            "&amp;html=1\" data-since=\"%" PRIu64 "\">%s</p>\n",
            c->pg->base, c->sess, ui_cmd_id(c, nc ? nc - 1 : 0), c->m[M_FOLLOWING]);
    }
    ui_journal_filter_form(c);
    char cnt[32];
    ui_fmt_count(c, total, cnt, sizeof cnt);
    if (!c->q[0]) {
        OUT("<p class=\"total\">%s %s</p>\n", cnt, c->m[M_COMMANDS]);
        s_page_links(c, page, pages, fq);
    }
    PUT("<div id=\"journal\">\n");
    if (!count)
        OUT("<p class=\"empty\">%s</p>\n", c->m[M_NO_COMMANDS]);
    else
        s_commands_grouped(c, ords, count);
    PUT("</div>\n");
    if (c->q[0] && more) {
        OUT("<nav class=\"pages\"><a href=\"%s/journal?", c->pg->base);
        ui_esc(c, fq);
        OUT("&amp;before=%" PRIu64 "\">%s →</a></nav>\n", ui_cmd_id(c, before), c->m[M_OLDER]);
    } else if (!c->q[0]) {
        s_page_links(c, page, pages, fq);
    }
    ui_foot(c);
    free(ords);
}
