/*  ui_api — the journal's JSON API (ui_api.c). */
#ifndef UI_API_H
#define UI_API_H

#include "ui.h"

/* /api/sessions: the visible sessions (host=, user= filters), oldest first. */
void ui_api_sessions(ui_ctx_t *c);

/* /api/commands: the newest page of matching commands (limit=N, at most 1000), or with
   since=ORD the following ones in order (the live page's feed; html=1 adds each
   command's HTML), or with q the newest search hits below before=. With c->export_all
   and c->sess: every command of that session (/session/N.json), whole, in answers of at
   most 32 MiB: `more` and `next` say where the rest starts (?since=next). */
void ui_api_commands(ui_ctx_t *c);

/* /api/cmd/ID: one command with all of its fields; a JSON 404 when not visible. */
void ui_api_cmd(ui_ctx_t *c, int64_t ord); /* ord from ui_id_ord */

#endif
