/*  pages — the journal: every page and API answer render gives, as a complete HTTP
    response built from the index and the records it reads by offset.

    Routes (below the CGI's base URL; docs/journal.md documents them):
      /                      index: hosts, users, sessions
      /journal               the journal, grouped by day then session; filters host,
                             user, session, from, to (YYYY-MM-DD), failed=1, q (search),
                             page=N (1 = oldest; default the newest page)
      /search                the journal with q
      /cmd/ID                one command (permalink); full=1 shows all of its output
      /stats                 statistics (same filters)
      /session/N             the journal of session N; .txt, .cast, .json exports
      /live/N, /replay/N     follow an open session; replay it in the browser
      /api/sessions, /api/commands, /api/stats, /api/cmd/ID    JSON
    Access: with a remote user, only that user's sessions unless an instructor. */
#ifndef PAGES_H
#define PAGES_H

#include "l3_buf.h"
#include "l3_config.h"
#include "index.h"
#include "req.h"
#include "whatis.h"
#include "textindex.h"

typedef struct pages_t pages_t;

/* Read the render section of the config (URLs, icons, page sizes, instructors). */
pages_t *pages_new(l3_config_t *config);
void pages_destroy(pages_t **self_p);

/* The command descriptions shown as tooltips on command words (borrowed: the caller
   keeps it alive while pages are made; NULL = none). */
void pages_set_whatis(pages_t *self, const whatis_t *whatis);
/* The search index searches use (textindex.h); owned by render; NULL: scan only. */
void pages_set_textindex(pages_t *self, textindex_t *textindex);

/* Answer req from the index: a complete HTTP/1.1 response appended to resp. */
void pages_handle(pages_t *self, index_t *index, const req_t *req, l3_buf_t *resp);

/* A 503 page while the index is being built (percent done). */
void pages_indexing(pages_t *self, const req_t *req, int percent, l3_buf_t *resp);

#endif
