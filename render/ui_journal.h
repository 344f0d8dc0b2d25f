/*  ui_journal — the journal: commands grouped by day then session (ui_journal.c). */
#ifndef UI_JOURNAL_H
#define UI_JOURNAL_H

#include "ui.h"

/* The journal page under title: the request's filters (host, user, session, from, to,
   failed), page=N (1 = oldest, default the newest), or with q the newest search hits
   below before=. script (may be NULL) is the live page's, which follows c->sess. */
void ui_journal_page(ui_ctx_t *c, const char *title, const char *script);

/* The filter form, filled with the request's filters (also on the statistics page). */
void ui_journal_filter_form(ui_ctx_t *c);

#endif
