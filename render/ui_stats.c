/*  ui_stats — statistics: /stats (HTML) and /api/stats (JSON).

    Both count the commands the request may see, under its filters: the failure ratio,
    the most used commands (first words), commands per local day, per user and per host.
    ui_stats_count_by makes each list in one pass over the command index, counting into
    an array indexed by interned id (or rebased day number), so it costs no hashing and
    no record reads; the index page uses it for its host and user lists too. */
#include "ui.h"
#include "ui_journal.h"
#include "ui_stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- counting */

static int s_cmp_count_desc(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b; /* pairs: count, id */
    return x[0] < y[0] ? 1 : x[0] > y[0] ? -1 : (x[1] > y[1]) - (x[1] < y[1]);
}

uint64_t *ui_stats_count_by(ui_ctx_t *c, ui_by_t by, size_t *n_out, uint64_t *total,
                            uint64_t *failed)
{
    uint32_t nc, ns;
    const index_cmd_t *cmds = index_cmds(c->ix, &nc);
    const index_sess_t *ss = index_sessions(c->ix, &ns);
    /* ids are dense interned ids, or day numbers rebased */
    size_t cap = 1 << 16;
    uint64_t *pairs = NULL;
    size_t np = 0;
    uint64_t *counts = NULL;
    size_t ncounts = 0;
    int64_t day0 = 0;
    time_t off_lo = 1, off_hi = 0;
    long off = 0;
    *total = 0;
    if (failed)
        *failed = 0;
    for (uint32_t i = 0; i < nc; i++) {
        const index_cmd_t *cmd = &cmds[i];
        if (!ui_cmd_matches(c, cmd))
            continue;
        (*total)++;
        if (failed && ((cmd->exit_code != 0 && cmd->exit_code != INDEX_NO_EXIT) || cmd->sig))
            (*failed)++;
        uint64_t id;
        if (by == UI_BY_HOST)
            id = ss[cmd->sess].host;
        else if (by == UI_BY_USER)
            id = ss[cmd->sess].user;
        else if (by == UI_BY_WORD)
            id = cmd->word;
        else {
            /* days: local date. Zone offsets change at most on quarter hours, so one
               localtime_r per quarter hour of commands is enough (commands come in
               time order, the cache nearly always hits). */
            time_t t = (time_t)(cmd->start_us / 1000000);
            if (t < off_lo || t >= off_hi) {
                struct tm tm;
                localtime_r(&t, &tm);
                off = tm.tm_gmtoff;
                off_lo = t - (t % 900);
                off_hi = off_lo + 900;
            }
            int64_t d = ((int64_t)t + off) / 86400;
            if (!counts)
                day0 = d;
            id = (uint64_t)(d - day0 + (1 << 20));
        }
        if (id >= ncounts) {
            size_t nn = ncounts ? ncounts : cap;
            while (nn <= id)
                nn *= 2;
            uint64_t *g = realloc(counts, nn * sizeof *g);
            if (!g)
                break;
            memset(g + ncounts, 0, (nn - ncounts) * sizeof *g);
            counts = g;
            ncounts = nn;
        }
        counts[id]++;
    }
    for (size_t id = 0; id < ncounts; id++)
        if (counts[id])
            np++;
    pairs = malloc((np ? np : 1) * 2 * sizeof *pairs);
    np = 0;
    for (size_t id = 0; pairs && id < ncounts; id++) {
        if (!counts[id])
            continue;
        pairs[2 * np] = counts[id];
        pairs[2 * np + 1] = by == UI_BY_DAY ? (uint64_t)((int64_t)id - (1 << 20) + day0) : id;
        np++;
    }
    free(counts);
    if (pairs && by != UI_BY_DAY)
        qsort(pairs, np, 2 * sizeof *pairs, s_cmp_count_desc);
    *n_out = pairs ? np : 0;
    return pairs;
}

/* The four lists both forms show. */
typedef struct {
    uint64_t total, failed;
    uint64_t *words, *days, *users, *hosts;
    size_t nw, nd, nu, nh;
} stats_t;

static void s_stats_count(ui_ctx_t *c, stats_t *st)
{
    uint64_t t2;
    st->words = ui_stats_count_by(c, UI_BY_WORD, &st->nw, &st->total, &st->failed);
    st->days = ui_stats_count_by(c, UI_BY_DAY, &st->nd, &t2, NULL);
    st->users = ui_stats_count_by(c, UI_BY_USER, &st->nu, &t2, NULL);
    st->hosts = ui_stats_count_by(c, UI_BY_HOST, &st->nh, &t2, NULL);
}

static void s_stats_free(stats_t *st)
{
    free(st->words);
    free(st->days);
    free(st->users);
    free(st->hosts);
}

/* A day number (days since 1970, local) as YYYY-MM-DD. */
static void s_fmt_day_number(uint64_t day, char *buf, size_t size)
{
    time_t t = (time_t)((int64_t)day * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%d", &tm);
}

/* ---------------------------------------------------------------- HTML */

/* One list as a table of bars (the longest is full width), at most max_rows rows: the
   first ones, or for days the last ones. Names link to their journal when param is
   "user" or "host"; days link to that day's journal. */
static void s_bar_table(ui_ctx_t *c, const char *title, const char *param, uint64_t *pairs,
                        size_t n, size_t max_rows, bool days)
{
    uint64_t top = 1;
    for (size_t i = 0; i < n && i < max_rows; i++)
        if (pairs[2 * i] > top)
            top = pairs[2 * i];
    OUT("<section class=\"stat\"><h2>%s</h2><table>", title);
    size_t start = days && n > max_rows ? n - max_rows : 0;
    for (size_t i = start; i < n && i < start + max_rows; i++) {
        char cnt[32], name[64];
        ui_fmt_count(c, pairs[2 * i], cnt, sizeof cnt);
        PUT("<tr><td>");
        if (days) {
            s_fmt_day_number(pairs[2 * i + 1], name, sizeof name);
            OUT("<a href=\"%s/journal?from=%s&amp;to=%s\">%s</a>", c->pg->base, name, name, name);
        } else {
            const char *s = index_str(c->ix, (uint32_t)pairs[2 * i + 1]);
            if (param) {
                char enc[800];
                req_pct_encode(s, enc, sizeof enc);
                OUT("<a href=\"%s/journal?%s=%s\">", c->pg->base, param, enc);
                ui_esc(c, s);
                PUT("</a>");
            } else {
                ui_esc(c, s[0] ? s : "—");
            }
        }
        OUT("</td><td class=\"n\">%s</td><td class=\"bar\"><span style=\"width:%d%%\"></span>"
            "</td></tr>",
            cnt, (int)(pairs[2 * i] * 100 / top));
    }
    PUT("</table></section>\n");
}

void ui_stats_page(ui_ctx_t *c)
{
    stats_t st;
    s_stats_count(c, &st);
    ui_head(c, c->m[M_STATS], NULL);
    ui_journal_filter_form(c);
    char cnt[32], fcnt[32];
    ui_fmt_count(c, st.total, cnt, sizeof cnt);
    ui_fmt_count(c, st.failed, fcnt, sizeof fcnt);
    OUT("<p class=\"ratio\">%s: <b>%.1f%%</b> (%s / %s %s)</p>\n", c->m[M_FAILURE_RATIO],
        st.total ? 100.0 * (double)st.failed / (double)st.total : 0.0, fcnt, cnt, c->m[M_COMMANDS]);
    s_bar_table(c, c->m[M_TOP_COMMANDS], NULL, st.words, st.nw, 20, false);
    s_bar_table(c, c->m[M_PER_DAY], NULL, st.days, st.nd, 60, true);
    s_bar_table(c, c->m[M_PER_USER], "user", st.users, st.nu, 50, false);
    s_bar_table(c, c->m[M_PER_HOST], "host", st.hosts, st.nh, 50, false);
    ui_foot(c);
    s_stats_free(&st);
}

/* ---------------------------------------------------------------- JSON */

void ui_stats_json(ui_ctx_t *c)
{
    stats_t st;
    s_stats_count(c, &st);
    c->ctype = "application/json";
    OUT("{\"commands\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"failure_ratio\":%.4f,", st.total,
        st.failed, st.total ? (double)st.failed / (double)st.total : 0.0);
    const char *names[4] = {"top_commands", "per_day", "per_user", "per_host"};
    uint64_t *lists[4] = {st.words, st.days, st.users, st.hosts};
    size_t counts[4] = {st.nw < 50 ? st.nw : 50, st.nd, st.nu, st.nh};
    for (int k = 0; k < 4; k++) {
        OUT("\"%s\":[", names[k]);
        for (size_t i = 0; lists[k] && i < counts[k]; i++) {
            if (i)
                PUT(",");
            PUT("[");
            if (k == 1) {
                char name[32];
                s_fmt_day_number(lists[k][2 * i + 1], name, sizeof name);
                ui_json_str(c->body, name);
            } else {
                ui_json_str(c->body, index_str(c->ix, (uint32_t)lists[k][2 * i + 1]));
            }
            OUT(",%" PRIu64 "]", lists[k][2 * i]);
        }
        PUT(k < 3 ? "]," : "]");
    }
    PUT("}\n");
    s_stats_free(&st);
}
