/*  ui_export — a session as a file, and its replay page (ui_export.c). The session si
    is in range and visible to the request (the router checks). */
#ifndef UI_EXPORT_H
#define UI_EXPORT_H

#include "ui.h"

/* /session/N.txt: prompt, command line and output of every command, as plain text. */
void ui_export_text(ui_ctx_t *c, uint32_t si);
/* /session/N.cast: asciicast v2 at the recorded timing. */
void ui_export_cast(ui_ctx_t *c, uint32_t si);
/* /session/N.json: every command of the session, as /api/commands gives them. */
void ui_export_json(ui_ctx_t *c, uint32_t si);
/* /replay/N: asciinema-player on the .cast (replay-init.js starts it), with text/cast links. */
void ui_export_replay_page(ui_ctx_t *c, uint32_t si);

#endif
