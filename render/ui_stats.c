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

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The local day number (days since 1970-01-01 in the journal's zone) of each matching
   command into days[]; returns how many. Zone offsets change at most on quarter hours,
   so one localtime_r per quarter hour of commands is enough (commands come in time
   order, the cache nearly always hits). */
static size_t s_days(ui_ctx_t *c, const index_cmd_t *cmds, uint32_t nc, int64_t *days,
                     uint64_t *total, uint64_t *failed)
{
    time_t off_lo = 1, off_hi = 0;
    long off = 0;
    size_t n = 0;
    for (uint32_t i = 0; i < nc; i++) {
        const index_cmd_t *cmd = &cmds[i];
        if (!ui_cmd_matches(c, cmd))
            continue;
        (*total)++;
        if (failed && ((cmd->exit_code != 0 && cmd->exit_code != INDEX_NO_EXIT) || cmd->sig))
            (*failed)++;
        time_t t = (time_t)(cmd->start_us / 1000000);
        if (t < off_lo || t >= off_hi) {
            struct tm tm;
            localtime_r(&t, &tm);
            off = tm.tm_gmtoff;
            off_lo = t - (t % 900);
            off_hi = off_lo + 900;
        }
        int64_t s = (int64_t)t + off;
        days[n++] = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
    }
    return n;
}

/* Commands per day as (count, day) pairs in day order. Days are counted in an array
   over the span they cover when it is dense; a sparse span (records from 1970 and 9999
   side by side are valid) is sorted instead, so neither memory nor time depends on how
   far apart the dates are. */
static uint64_t *s_count_days(ui_ctx_t *c, const index_cmd_t *cmds, uint32_t nc, size_t *n_out,
                              uint64_t *total, uint64_t *failed)
{
    int64_t *days = malloc((nc ? nc : 1) * sizeof *days);
    uint64_t *pairs = NULL;
    *n_out = 0;
    if (!days)
        return NULL;
    size_t n = s_days(c, cmds, nc, days, total, failed);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        if (days[i] < lo)
            lo = days[i];
        if (days[i] > hi)
            hi = days[i];
    }
    size_t np = 0;
    if (n > 0 && (uint64_t)(hi - lo) < 4 * (uint64_t)n + 4096) {
        size_t span = (size_t)(hi - lo) + 1;
        uint64_t *counts = calloc(span, sizeof *counts);
        if (counts) {
            for (size_t i = 0; i < n; i++)
                counts[days[i] - lo]++;
            for (size_t d = 0; d < span; d++)
                np += counts[d] != 0;
            pairs = malloc((np ? np : 1) * 2 * sizeof *pairs);
            np = 0;
            for (size_t d = 0; pairs && d < span; d++)
                if (counts[d]) {
                    pairs[2 * np] = counts[d];
                    pairs[2 * np + 1] = (uint64_t)(lo + (int64_t)d);
                    np++;
                }
            free(counts);
        }
    } else if (n > 0) {
        qsort(days, n, sizeof *days, s_cmp_i64);
        pairs = malloc(n * 2 * sizeof *pairs);
        for (size_t i = 0; pairs && i < n; np++) {
            size_t j = i;
            while (j < n && days[j] == days[i])
                j++;
            pairs[2 * np] = j - i;
            pairs[2 * np + 1] = (uint64_t)days[i];
            i = j;
        }
    } else {
        pairs = malloc(2 * sizeof *pairs);
    }
    free(days);
    *n_out = pairs ? np : 0;
    return pairs;
}

uint64_t *ui_stats_count_by(ui_ctx_t *c, ui_by_t by, size_t *n_out, uint64_t *total,
                            uint64_t *failed)
{
    uint32_t nc, ns;
    const index_cmd_t *cmds = index_cmds(c->ix, &nc);
    const index_sess_t *ss = index_sessions(c->ix, &ns);
    *total = 0;
    if (failed)
        *failed = 0;
    if (by == UI_BY_DAY)
        return s_count_days(c, cmds, nc, n_out, total, failed);
    /* ids are dense interned ids: one array slot each */
    uint64_t *counts = NULL;
    size_t ncounts = 0;
    for (uint32_t i = 0; i < nc; i++) {
        const index_cmd_t *cmd = &cmds[i];
        if (!ui_cmd_matches(c, cmd))
            continue;
        (*total)++;
        if (failed && ((cmd->exit_code != 0 && cmd->exit_code != INDEX_NO_EXIT) || cmd->sig))
            (*failed)++;
        uint64_t id = by == UI_BY_HOST ? ss[cmd->sess].host
                      : by == UI_BY_USER ? ss[cmd->sess].user
                                         : cmd->word;
        if (id >= ncounts) {
            size_t nn = ncounts ? ncounts : 1 << 16;
            while (nn <= id)
                nn *= 2; /* ids are uint32: this ends below 2^33 */
            uint64_t *g = realloc(counts, nn * sizeof *g);
            if (!g)
                break;
            memset(g + ncounts, 0, (nn - ncounts) * sizeof *g);
            counts = g;
            ncounts = nn;
        }
        counts[id]++;
    }
    size_t np = 0;
    for (size_t id = 0; id < ncounts; id++)
        np += counts[id] != 0;
    uint64_t *pairs = malloc((np ? np : 1) * 2 * sizeof *pairs);
    np = 0;
    for (size_t id = 0; pairs && id < ncounts; id++) {
        if (!counts[id])
            continue;
        pairs[2 * np] = counts[id];
        pairs[2 * np + 1] = id;
        np++;
    }
    free(counts);
    if (pairs)
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
