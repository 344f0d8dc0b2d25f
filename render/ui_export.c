/*  ui_export — a whole session as a file (/session/N.txt, .cast, .json) and its replay
    page (/replay/N).

    The text export is what the terminal showed, escapes dropped (ansi_to_text): prompt,
    command line and output of each command. The asciicast v2 export replays the session
    at its recorded rhythm in any asciinema player, our replay page's included; the JSON
    export is /api/commands for every command of the session. */
#include "ui.h"
#include "ui_api.h"
#include "ui_export.h"
#include "ansi.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void ui_export_text(ui_ctx_t *c, uint32_t si)
{
    uint32_t ns;
    const index_sess_t *s = &index_sessions(c->ix, &ns)[si];
    c->ctype = "text/plain; charset=utf-8";
    const char *user = index_str(c->ix, s->user), *host = index_str(c->ix, s->host);
    for (uint32_t i = 0; i < s->ncmds; i++) {
        l3_record_t r;
        if (!index_load_cmd(c->ix, s->cmds[i], &r))
            continue;
        char t[48];
        ui_fmt_datetime(r.start_us, t, sizeof t);
        OUT("[%s] %s@%s:", t, user, host);
        ansi_to_text(r.cwd.data, r.cwd.len, c->body);
        OUT("%s ", strcmp(user, "root") ? "$" : "#");
        ansi_to_text(r.cmdline.data, r.cmdline.len, c->body);
        PUT("\n");
        ansi_to_text(r.output.data, r.output.len, c->body);
        if (r.output.len && r.output.data[r.output.len - 1] != '\n')
            PUT("\n");
        l3_record_clear(&r);
    }
}

/* asciicast v2: a header line, then [time, "o", text] events. Each command shows its
   prompt and command line at its start time, then its output chunks at their recorded
   delays (the "timing" field), so a replay has the real rhythm. */
void ui_export_cast(ui_ctx_t *c, uint32_t si)
{
    uint32_t ns;
    const index_sess_t *s = &index_sessions(c->ix, &ns)[si];
    c->ctype = "application/x-asciicast";
    const char *user = index_str(c->ix, s->user), *host = index_str(c->ix, s->host);
    int64_t t0 = s->start_us;
    OUT("{\"version\":2,\"width\":%u,\"height\":%u,\"timestamp\":%" PRId64 ",\"title\":",
        s->cols ? s->cols : 80, s->rows ? s->rows : 24, t0 / 1000000);
    char title[600];
    snprintf(title, sizeof title, "%s@%s %s", user, host, index_str(c->ix, s->sid));
    ui_json_str(c->body, title);
    PUT("}\n");
    double last = 0;
    l3_buf_t prompt;
    l3_buf_init(&prompt, 1 << 20);
    for (uint32_t i = 0; i < s->ncmds; i++) {
        l3_record_t r;
        if (!index_load_cmd(c->ix, s->cmds[i], &r))
            continue;
        if (!t0 || r.start_us < t0)
            t0 = r.start_us;
        double t = (double)(r.start_us - t0) / 1e6;
        if (t < last)
            t = last;
        l3_buf_reset(&prompt);
        l3_buf_printf(&prompt, "%s@%s:", user, host);
        l3_buf_append(&prompt, r.cwd.data, r.cwd.len);
        l3_buf_printf(&prompt, "%s ", strcmp(user, "root") ? "$" : "#");
        l3_buf_append(&prompt, r.cmdline.data, r.cmdline.len);
        l3_buf_append_str(&prompt, "\r\n");
        OUT("[%.6f,\"o\",", t);
        ui_json_bytes(c->body, prompt.data, prompt.len);
        PUT("]\n");
        /* Output chunks by the timing lines; whatever they do not cover comes last. */
        size_t at = 0;
        const char *tp = (const char *)r.timing.data;
        const char *tend = tp ? tp + r.timing.len : NULL; /* no timing: no bytes, NULL */
        while (tp && tp < tend && at < r.output.len) {
            char linebuf[64];
            const char *nl = memchr(tp, '\n', (size_t)(tend - tp));
            size_t ll = nl ? (size_t)(nl - tp) : (size_t)(tend - tp);
            if (ll >= sizeof linebuf)
                break;
            memcpy(linebuf, tp, ll);
            linebuf[ll] = 0;
            double delay;
            unsigned long long nbytes;
            if (sscanf(linebuf, "%lf %llu", &delay, &nbytes) != 2 || !(delay >= 0 && delay <= 1e6))
                break;
            if (nbytes > r.output.len - at)
                nbytes = r.output.len - at;
            t += delay;
            OUT("[%.6f,\"o\",", t);
            ui_json_bytes(c->body, r.output.data + at, (size_t)nbytes);
            PUT("]\n");
            at += (size_t)nbytes;
            tp = nl ? nl + 1 : tend;
        }
        if (at < r.output.len) {
            OUT("[%.6f,\"o\",", t);
            ui_json_bytes(c->body, r.output.data + at, r.output.len - at);
            PUT("]\n");
        }
        last = t;
        l3_record_clear(&r);
    }
    l3_buf_free(&prompt);
}

void ui_export_json(ui_ctx_t *c, uint32_t si)
{
    c->sess = si;
    c->export_all = true;
    ui_api_commands(c);
}

void ui_export_replay_page(ui_ctx_t *c, uint32_t si)
{
    char title[64];
    snprintf(title, sizeof title, "%s #%" PRIu32, c->m[M_REPLAY], si);
    ui_head(c, title, "replay.js");
    uint32_t ns;
    const index_sess_t *s = &index_sessions(c->ix, &ns)[si];
    ui_session_heading(c, si);
    PUT("</section>\n");
    OUT("<div class=\"player\" id=\"player\" data-cast=\"%s/session/%" PRIu32
        ".cast\" data-cols=\"%u\" data-rows=\"%u\"><noscript><p>%s</p></noscript></div>\n",
        c->pg->base, si, s->cols ? s->cols : 80, s->rows ? s->rows : 24, c->m[M_NOJS_REPLAY]);
    OUT("<p><a href=\"%s/session/%" PRIu32 ".txt\">%s</a> · <a href=\"%s/session/%" PRIu32
        ".cast\">%s</a></p>\n",
        c->pg->base, si, c->m[M_TEXT], c->pg->base, si, c->m[M_CAST]);
    ui_foot(c);
}
