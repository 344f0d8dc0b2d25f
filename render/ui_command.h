/*  ui_command — one command as HTML, and its permalink page /cmd/ID (ui_command.c). */
#ifndef UI_COMMAND_H
#define UI_COMMAND_H

#include "ui.h"

/* Append command ord (its record r) as HTML, as a list of commands shows it: at most
   UI_LIST_LINE_MAX bytes of its command line and UI_LIST_DIFF_MAX of its diff, each
   followed by a link to the permalink page. show_cwd: the cwd changed since the previous
   command shown; full: all of its output, not only head and tail. */
void ui_command_html(ui_ctx_t *c, uint32_t ord, const l3_record_t *r, bool show_cwd, bool full);

/* /cmd/ID: the command with its day and session heading, all of its command line and
   diff (full=1: all of its output too);
   404 when it does not exist or the request may not see it. */
void ui_command_page(ui_ctx_t *c, int64_t ord); /* ord from ui_id_ord */

#endif
