/*  pages — the journal's front door: the render config, the request's language and
    access, and the route table that hands a request to one page. See pages.h for the
    routes and ui.h for how the pages (ui_*.c) are split and what they share.

    pages_handle builds a ui_ctx_t (the request, its language, who may see what, its
    filters), calls one page function, which writes the body, and wraps the body in the
    HTTP response; a body over BODY_MAX becomes a 503 page instead. */
#include "pages.h"
#include "ui.h"
#include "ui_api.h"
#include "ui_command.h"
#include "ui_export.h"
#include "ui_journal.h"
#include "ui_overview.h"
#include "ui_stats.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_MAX (64u << 20)

/* ---------------------------------------------------------------- config */

const char *const ui_icon_names[UI_ICONS] = {"google", "linux", "freebsd", "opennet", "local"};
static const char *s_icon_urls[UI_ICONS] = {"https://www.google.com/search?q=%s",
                                            "https://man7.org/linux/man-pages/man1/%s.1.html",
                                            "https://man.freebsd.org/cgi/man.cgi?query=%s",
                                            "https://www.opennet.ru/man.shtml?topic=%s", ""};

/* Instructor names are separated by these; a user name holding one is never a name. */
#define INSTRUCTOR_SEPARATORS " \t\r\n\v\f,"

/* render/instructors ("teacher admin", "teacher, admin") into a list of whole names. */
static void s_instructors_parse(pages_t *self, const char *list)
{
    size_t n = 0;
    for (const char *p = list; *p;) {
        p += strspn(p, INSTRUCTOR_SEPARATORS);
        size_t len = strcspn(p, INSTRUCTOR_SEPARATORS);
        n += len > 0;
        p += len;
    }
    self->instructors = calloc(n ? n : 1, sizeof *self->instructors);
    if (!self->instructors)
        abort(); /* out of memory at start-up */
    for (const char *p = list; *p;) {
        p += strspn(p, INSTRUCTOR_SEPARATORS);
        size_t len = strcspn(p, INSTRUCTOR_SEPARATORS);
        if (len) {
            self->instructors[self->ninstructors] = strndup(p, len);
            if (!self->instructors[self->ninstructors++])
                abort();
        }
        p += len;
    }
}

/* Whether user is one of the instructors: whole names compared exactly, so "teacher
   admin" is nobody's name when the list is "teacher admin" (the list used to be searched
   as one string, and any user name spanning a separator matched). */
static bool s_is_instructor(const pages_t *self, const char *user)
{
    if (!user[0] || user[strcspn(user, INSTRUCTOR_SEPARATORS)])
        return false;
    for (size_t i = 0; i < self->ninstructors; i++)
        if (!strcmp(self->instructors[i], user))
            return true;
    return false;
}

pages_t *pages_new(l3_config_t *config)
{
    pages_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    char def[512];
    self->base = ui_dup(l3_config_str(config, "render/base_url", "/journal"));
    self->stat = ui_dup(l3_config_str(config, "render/static_url", "/static"));
    snprintf(def, sizeof def, "%s/lilalo.css", self->stat);
    self->css = ui_dup(l3_config_str(config, "render/frontend_css", def));
    self->man_url =
        ui_dup(l3_config_str(config, "render/man_url", "https://manpages.debian.org/%s"));
    for (int i = 0; i < UI_ICONS; i++) {
        char key[64];
        snprintf(key, sizeof key, "render/frontend_%s_ico", ui_icon_names[i]);
        snprintf(def, sizeof def, "%s/icons/%s.svg", self->stat, ui_icon_names[i]);
        self->icon[i] = ui_dup(l3_config_str(config, key, def));
        snprintf(key, sizeof key, "render/url_%s", ui_icon_names[i]);
        self->icon_url[i] = ui_dup(l3_config_str(config, key, s_icon_urls[i]));
    }
    s_instructors_parse(self, l3_config_str(config, "render/instructors", ""));
    self->page_size = (int)l3_config_int(config, "render/page_size", 100, 1, 10000);
    self->head_lines = (int)l3_config_int(config, "render/output_head_lines", 20, 1, 100000);
    self->tail_lines = (int)l3_config_int(config, "render/output_tail_lines", 10, 0, 100000);
    self->emulator = l3_config_bool(config, "render/output_emulator", true);
    const char *lang = l3_config_str(config, "render/language", "auto");
    self->language = !strcmp(lang, "ru") ? 1 : !strcmp(lang, "en") ? 0 : -1;
    self->search_budget_us = l3_config_int(config, "render/search_budget_ms", 800, 0, 60000) * 1000;
    return self;
}

void pages_set_whatis(pages_t *self, const whatis_t *whatis)
{
    self->whatis = whatis;
}

void pages_set_textindex(pages_t *self, textindex_t *textindex)
{
    self->textindex = textindex;
}

void pages_destroy(pages_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pages_t *self = *self_p;
    free(self->base);
    free(self->stat);
    free(self->css);
    free(self->man_url);
    for (int i = 0; i < UI_ICONS; i++) {
        free(self->icon[i]);
        free(self->icon_url[i]);
    }
    for (size_t i = 0; i < self->ninstructors; i++)
        free(self->instructors[i]);
    free(self->instructors);
    free(self);
    *self_p = NULL;
}

/* ---------------------------------------------------------------- language */

/* 0 English, 1 Russian: the configured one, else the first of ru/en in Accept-Language
   by q when given; default English. */
static int s_pick_language(pages_t *pg, const char *accept)
{
    if (pg->language >= 0)
        return pg->language;
    double best_q = -1;
    int best = 0;
    const char *p = accept;
    while (p && *p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char tag[8] = "";
        size_t tl = 0;
        while (tl < n && tl < 7 && p[tl] != ';' && p[tl] != '-' && p[tl] != ' ')
            tag[tl] = (char)tolower((unsigned char)p[tl]), tl++;
        tag[tl] = 0;
        double q = 1.0;
        const char *qp = memchr(p, ';', n);
        if (qp) {
            const char *qq = strstr(qp, "q=");
            if (qq && qq < p + n)
                q = atof(qq + 2);
        }
        int lang = !strcmp(tag, "ru") ? 1 : !strcmp(tag, "en") ? 0 : -1;
        if (lang >= 0 && q > best_q) {
            best_q = q;
            best = lang;
        }
        p = e ? e + 1 : NULL;
    }
    return best;
}

void pages_indexing(pages_t *self, const req_t *req, int percent, l3_buf_t *resp)
{
    l3_buf_t body;
    l3_buf_init(&body, 1 << 16);
    const char **m = ui_messages(s_pick_language(self, req->lang));
    l3_buf_printf(&body,
                  "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>"
                  "<link rel=\"stylesheet\" href=\"%s\"></head><body><main><h1>%s: %d%%</h1>"
                  "</main></body></html>\n",
                  m[M_INDEXING], self->css, m[M_INDEXING], percent);
    ui_http(resp, 503, "text/html; charset=utf-8", "Retry-After: 2\r\n", &body,
            !strcmp(req->method, "HEAD"), false);
    l3_buf_free(&body);
}

/* ---------------------------------------------------------------- routing */

/* A command id: decimal digits only, below 2^63. */
static bool s_parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return false;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end || x > INT64_MAX)
        return false;
    *v = x;
    return true;
}

/* A decimal number below UINT32_MAX followed by exactly suffix (NULL: nothing). */
static bool s_parse_u32(const char *s, uint32_t *v, const char *suffix)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return false;
    unsigned long x = strtoul(s, &end, 10);
    if (x > UINT32_MAX - 1 || strcmp(end, suffix ? suffix : "") != 0)
        return false;
    *v = (uint32_t)x;
    return true;
}

/* /session/N[.txt|.cast|.json], /live/N, /replay/N: the session must exist and be
   visible; only /session/ takes an extension. */
static void s_session_route(ui_ctx_t *c, const char *path)
{
    uint32_t ns, id;
    index_sessions(c->ix, &ns);
    const char *num = strchr(path + 1, '/') + 1;
    const char *dot = strchr(num, '.');
    const char *ext = dot ? dot : "";
    bool ok = s_parse_u32(num, &id, ext) && id < ns && ui_sess_visible(c, id);
    if (!ok || (path[1] != 's' && *ext)) {
        ui_error_page(c, 404, c->m[M_NOT_FOUND]);
    } else if (!strcmp(ext, ".txt")) {
        ui_export_text(c, id);
    } else if (!strcmp(ext, ".cast")) {
        ui_export_cast(c, id);
    } else if (!strcmp(ext, ".json")) {
        ui_export_json(c, id);
    } else if (*ext) {
        ui_error_page(c, 404, c->m[M_NOT_FOUND]);
    } else if (path[1] == 'r') {
        ui_export_replay_page(c, id);
    } else {
        c->sess = id;
        char title[80];
        snprintf(title, sizeof title, "%s #%" PRIu32, c->m[M_SESSION], id);
        ui_journal_page(c, title, path[1] == 'l' ? "live.js" : NULL);
    }
}

void pages_handle(pages_t *self, index_t *index, const req_t *req, l3_buf_t *resp)
{
    l3_buf_t body;
    l3_buf_init(&body, BODY_MAX);
    ui_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    ui_ctx_t *c = &ctx;
    c->pg = self;
    c->ix = index;
    c->req = req;
    c->lang = s_pick_language(self, req->lang);
    c->m = ui_messages(c->lang);
    c->body = &body;
    c->status = 200;
    c->ctype = "text/html; charset=utf-8";
    c->vt_budget = UI_VT_PAGE_BUDGET;
    /* Access: no remote user = single-machine default, everything. */
    if (!req->user[0]) {
        c->all = true;
    } else {
        c->all = s_is_instructor(self, req->user);
        c->me = index_str_id(index, req->user);
    }
    ui_read_filters(c);
    c->kept_from = index_kept_from(index);
    {
        uint32_t nc, lo = 0, hi;
        const index_cmd_t *cmds = index_cmds(index, &nc);
        for (hi = nc; lo < hi;) { /* commands are in datafile order */
            uint32_t mid = lo + (hi - lo) / 2;
            if (cmds[mid].off < c->kept_from)
                lo = mid + 1;
            else
                hi = mid;
        }
        c->first_kept = lo;
    }

    const char *path = req->path;
    uint64_t cid;
    if (!strcmp(path, "/") || !strcmp(path, "/index"))
        ui_overview_page(c);
    else if (!strcmp(path, "/journal") || !strcmp(path, "/search"))
        ui_journal_page(c, c->q[0] ? c->m[M_SEARCH] : c->m[M_JOURNAL], NULL);
    else if (!strcmp(path, "/stats"))
        ui_stats_page(c);
    else if (!strncmp(path, "/cmd/", 5) && s_parse_u64(path + 5, &cid))
        ui_command_page(c, ui_id_ord(c, cid));
    else if (!strncmp(path, "/session/", 9) || !strncmp(path, "/live/", 6) ||
             !strncmp(path, "/replay/", 8))
        s_session_route(c, path);
    else if (!strcmp(path, "/api/sessions"))
        ui_api_sessions(c);
    else if (!strcmp(path, "/api/commands"))
        ui_api_commands(c);
    else if (!strcmp(path, "/api/stats"))
        ui_stats_json(c);
    else if (!strncmp(path, "/api/cmd/", 9) && s_parse_u64(path + 9, &cid))
        ui_api_cmd(c, ui_id_ord(c, cid));
    else
        ui_error_page(c, 404, c->m[M_NOT_FOUND]);
    if (body.failed) {
        l3_buf_reset(&body);
        body.failed = false;
        ui_error_page(c, 503, "response too large");
    }
    ui_http(resp, c->status, c->ctype, c->extra_headers, &body, !strcmp(req->method, "HEAD"),
            c->wasm);
    l3_buf_free(&body);
}
