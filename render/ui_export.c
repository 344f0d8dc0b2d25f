/*  ui_export — a whole session as a file (/session/N.txt, .cast, .json) and its replay
    page (/replay/N).

    The text export is what the terminal showed, escapes dropped (ansi_to_text): prompt,
    command line and output of each command, and a line saying how many bytes capture
    dropped where it did. The asciicast v2 export replays the session at its recorded
    rhythm in any asciinema player, with every byte of every record's output and a marker
    ("m" event) where capture dropped bytes; the JSON export is /api/commands for every
    command of the session.

    The replay page is asciinema-player (the npm package, fetched at build time by
    scripts/fetch-player into the static assets' asciinema-player/) on the .cast export,
    started by conf/www/replay-init.js with its speed and idle-time limit. Without
    JavaScript, or when the player is not installed, the page still links the session as
    text and as a .cast file. The player runs its terminal emulator as WebAssembly, so
    this one page's Content-Security-Policy allows 'wasm-unsafe-eval' (compiling
    WebAssembly from our own script; no JavaScript eval). */
#include "ui.h"
#include "ui_api.h"
#include "ui_export.h"
#include "ansi.h"
#include "vt.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Output as plain text ending with a newline (none when empty): what the terminal showed
   (render/vt.c at the session's size) when it moves the cursor, the line stream otherwise
   or past the emulator's budget (ui_command.c decides the same way). */
static void s_output_text(ui_ctx_t *c, uint32_t ord, const void *data, size_t len)
{
    vt_doc_t *doc = NULL;
    vt_t *vt = c->pg->emulator && vt_needed(data, len) ? ui_vt_new(c, ord, 0) : NULL;
    if (vt) {
        vt_write(vt, data, len);
        doc = vt_overrun(vt) ? NULL : vt_transcript(vt);
        if (!ui_vt_done(c, &vt))
            vt_doc_destroy(&doc);
    }
    size_t at = c->body->len;
    if (doc) {
        vt_doc_to_text(doc, c->body);
        vt_doc_destroy(&doc);
    } else {
        ansi_to_text(data, len, c->body);
    }
    if (c->body->len > at && c->body->data[c->body->len - 1] != '\n')
        PUT("\n");
}

void ui_export_text(ui_ctx_t *c, uint32_t si)
{
    uint32_t ns;
    const index_sess_t *s = &index_sessions(c->ix, &ns)[si];
    c->ctype = "text/plain; charset=utf-8";
    c->vt_budget = UI_VT_EXPORT_BUDGET;
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
        /* Where capture dropped bytes, a line between head and tail says how many. */
        size_t head =
            r.dropped && r.output_head < r.output.len ? (size_t)r.output_head : r.output.len;
        s_output_text(c, s->cmds[i], r.output.data, head);
        if (r.dropped)
            OUT("[%" PRIu64 " %s]\n", r.dropped, c->m[M_BYTES_DROPPED]);
        if (r.output.len > head)
            s_output_text(c, s->cmds[i], r.output.data + head, r.output.len - head);
        l3_record_clear(&r);
    }
}

/* One "o" event: bytes [from, to) of a command's output at time t. */
static void s_cast_output(ui_ctx_t *c, double t, const uint8_t *data, size_t from, size_t to)
{
    if (to <= from)
        return;
    OUT("[%.6f,\"o\",", t);
    ui_json_bytes(c->body, data + from, to - from);
    PUT("]\n");
}

/* Output bytes up to `upto` at time t: the whole characters among them now, a character
   the timing cut in two with the chunk that completes it. Each event is a JSON string,
   so a split character would come out as two U+FFFD; asciinema's own recorder keeps
   them whole in the same way. At the capture's cut (output_head of a truncated record)
   the head ends as it is (its bytes are what was kept) and an "m" marker event says how
   many bytes were not recorded between head and tail. */
static void s_cast_until(ui_ctx_t *c, const l3_record_t *r, double t, size_t *sent, size_t upto,
                         bool *marked)
{
    const uint8_t *out = r->output.data;
    size_t len = r->output.len;
    if (upto > len)
        upto = len;
    size_t head = r->output_head < len ? (size_t)r->output_head : len;
    if (r->dropped && !*marked && head <= upto) {
        s_cast_output(c, t, out, *sent, head);
        if (*sent < head)
            *sent = head;
        char label[96];
        snprintf(label, sizeof label, "%" PRIu64 " %s", r->dropped, c->m[M_BYTES_DROPPED]);
        OUT("[%.6f,\"m\",", t);
        ui_json_str(c->body, label);
        PUT("]\n");
        *marked = true;
    }
    if (upto <= *sent)
        return;
    size_t end = upto == len ? len : *sent + ui_cut(out + *sent, len - *sent, upto - *sent, false);
    s_cast_output(c, t, out, *sent, end);
    *sent = end;
}

/* asciicast v2: a header line, then [time, "o", text] events, and an [time, "m", label]
   marker where capture dropped bytes. Each command shows its prompt and command line at
   its start time, then its output chunks at their recorded delays (the "timing" field),
   so a replay has the real rhythm; every byte of the record's output is in the events,
   in order (timing that does not cover them all, or cannot be read, leaves the rest for
   one last event at the command's last time). */
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
        /* The prompt and the line as the terminal echoed them: a line of several lines
           goes on at the left edge, as a terminal's own newline would take it. */
        l3_buf_reset(&prompt);
        l3_buf_printf(&prompt, "%s@%s:", user, host);
        l3_buf_append(&prompt, r.cwd.data, r.cwd.len);
        l3_buf_printf(&prompt, "%s ", strcmp(user, "root") ? "$" : "#");
        for (size_t k = 0; k < r.cmdline.len; k++) {
            if (r.cmdline.data[k] == '\n' && (k == 0 || r.cmdline.data[k - 1] != '\r'))
                l3_buf_append_byte(&prompt, '\r');
            l3_buf_append_byte(&prompt, r.cmdline.data[k]);
        }
        l3_buf_append_str(&prompt, "\r\n");
        OUT("[%.6f,\"o\",", t);
        ui_json_bytes(c->body, prompt.data, prompt.len);
        PUT("]\n");
        /* Output chunks by the timing lines; whatever they do not cover comes last. */
        size_t at = 0, sent = 0;
        bool marked = false;
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
            at += (size_t)nbytes;
            s_cast_until(c, &r, t, &sent, at, &marked);
            tp = nl ? nl + 1 : tend;
        }
        s_cast_until(c, &r, t, &sent, r.output.len, &marked);
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
    static const char *const styles[] = {"asciinema-player/asciinema-player.css", NULL};
    static const char *const scripts[] = {"asciinema-player/asciinema-player.min.js",
                                          "replay-init.js", NULL};
    char title[64];
    snprintf(title, sizeof title, "%s #%" PRIu32, c->m[M_REPLAY], si);
    c->wasm = true;
    ui_head_with(c, title, styles, scripts);
    uint32_t ns;
    const index_sess_t *s = &index_sessions(c->ix, &ns)[si];
    ui_session_heading(c, si);
    PUT("</section>\n");
    /* replay-init.js reads the data- attributes; the speeds it offers are its own. */
    OUT("<div class=\"player\" id=\"player\" data-cast=\"%s/session/%" PRIu32
        ".cast\" data-cols=\"%u\" data-rows=\"%u\" data-idle=\"2\" data-speed-label=\"%s\" "
        "data-no-player=\"%s\"><noscript><p>%s</p></noscript></div>\n",
        c->pg->base, si, s->cols ? s->cols : 80, s->rows ? s->rows : 24, c->m[M_SPEED],
        c->m[M_NO_PLAYER], c->m[M_NOJS_REPLAY]);
    OUT("<p class=\"exports\"><a href=\"%s/session/%" PRIu32
        ".txt\">%s</a> · <a href=\"%s/session/%" PRIu32 ".cast\" download>%s</a></p>\n",
        c->pg->base, si, c->m[M_TEXT], c->pg->base, si, c->m[M_CAST]);
    ui_foot(c);
}
