/*  ui_overview — the index page: hosts, users, sessions (ui_overview.c). */
#ifndef UI_OVERVIEW_H
#define UI_OVERVIEW_H

#include "ui.h"

/* / and /index: commands per host and per user, then the sessions, newest first,
   page_size of them per page (page=N). */
void ui_overview_page(ui_ctx_t *c);

#endif
