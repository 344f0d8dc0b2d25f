/*  ui_stats — statistics as a page and as JSON, and the counts behind them (ui_stats.c). */
#ifndef UI_STATS_H
#define UI_STATS_H

#include "ui.h"

/* /stats: failure ratio, most used commands, commands per day, user and host, under the
   filter form. */
void ui_stats_page(ui_ctx_t *c);
/* /api/stats: the same figures as JSON. */
void ui_stats_json(ui_ctx_t *c);

typedef enum { UI_BY_HOST, UI_BY_USER, UI_BY_WORD, UI_BY_DAY } ui_by_t;

/* Commands counted per host, user, first word or local day over the visible, filtered
   set: n_out pairs (count, id) — id an interned string, or for days the day number since
   1970 — by count descending (days: ascending by day). *total counts the commands,
   *failed (may be NULL) the failed ones. Caller frees; NULL (n_out 0) when out of
   memory. */
uint64_t *ui_stats_count_by(ui_ctx_t *c, ui_by_t by, size_t *n_out, uint64_t *total,
                            uint64_t *failed);

#endif
