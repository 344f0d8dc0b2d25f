/*  ui_command — one command as the journal shows it, and its permalink page /cmd/ID.

    A command is its meta line (time linking to the permalink, duration, user@host, the
    cwd when it changed), the command line with every command word linked to its
    documentation (man page, the 2005 icons, a whatis tooltip), the exit status or
    signal, then the output (elided in the middle when long, linking to ?full=1) or, for
    a full-screen program, a line saying so with a replay link; and an edited file's
    diff. A comment line (# ...) is shown as a note instead. The journal (ui_journal.c),
    the permalink page and the live feed (ui_api.c, html=1) all show a command this way,
    but a list (the journal, the live feed) shows at most UI_LIST_LINE_MAX bytes of its
    line and UI_LIST_DIFF_MAX of its diff, each followed by a link to the permalink page,
    which shows them whole: a page's size is bounded by how many commands it lists, not
    by how long their records are. */
#include "ui.h"
#include "whatis.h"
#include "ui_command.h"
#include "ansi.h"
#include "vt.h"

#include <ctype.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- command words */

/* Text the user typed (a command line, a note, a cwd, a file's diff), escaped as text:
   unlike terminal output, its escape sequences were never drawn, so they are shown as
   what they are (ESC itself, a C0 control, is dropped like in ansi_html_escape), never
   interpreted. ranges (sorted, from ansi_find) are wrapped in <mark>. */
static void s_typed_html(ui_ctx_t *c, const void *data, size_t len, const ansi_range_t *ranges,
                         size_t nranges)
{
    const uint8_t *p = data;
    size_t at = 0;
    for (size_t k = 0; k < nranges; k++) {
        size_t s = ranges[k].start, e = ranges[k].end;
        if (s < at || e > len || s >= e)
            continue;
        ansi_html_escape(p + at, s - at, c->body);
        PUT("<mark>");
        ansi_html_escape(p + s, e - s, c->body);
        PUT("</mark>");
        at = e;
    }
    ansi_html_escape(p + at, len - at, c->body);
}

/* The whatis line of a command word, from the table render loaded once (whatis.h):
   page code never runs a process. */
static const char *s_whatis(pages_t *pg, const char *word)
{
    return pg->whatis ? whatis_lookup(pg->whatis, word) : "";
}

/* A word that may be a command name we link: [A-Za-z0-9._+-], at most 64, not starting
   with '-' or '.'. */
static bool s_word_ok(const char *w, size_t n)
{
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = w[i];
        if (!(isalnum((unsigned char)ch) || ch == '.' || ch == '_' || ch == '+' || ch == '-'))
            return false;
    }
    return w[0] != '-' && w[0] != '.';
}

/* A URL template with %s replaced by the percent-encoded word, HTML-escaped. */
static void s_url_fill(ui_ctx_t *c, const char *tmpl, const char *word)
{
    char enc[200];
    req_pct_encode(word, enc, sizeof enc);
    const char *p = strstr(tmpl, "%s");
    if (!p) {
        ui_esc(c, tmpl);
        return;
    }
    ansi_html_escape(tmpl, (size_t)(p - tmpl), c->body);
    ui_esc(c, enc);
    ui_esc(c, p + 2);
}

/* One command word as a link to its documentation with the 2005 icons beside it. */
static void s_word_link(ui_ctx_t *c, const char *word)
{
    const char *wa = s_whatis(c->pg, word);
    PUT("<span class=\"wm\"><a class=\"w\" href=\"");
    s_url_fill(c, c->pg->man_url, word);
    PUT("\"");
    if (wa[0]) {
        PUT(" title=\"");
        ui_esc(c, wa);
        PUT("\"");
    }
    PUT(">");
    ui_esc(c, word);
    PUT("</a><span class=\"ico\">");
    for (int i = 0; i < UI_ICONS; i++) {
        if (!c->pg->icon_url[i][0])
            continue;
        PUT("<a href=\"");
        s_url_fill(c, c->pg->icon_url[i], word);
        PUT("\"><img alt=\"");
        PUT(ui_icon_names[i]);
        PUT("\" src=\"");
        ui_esc(c, c->pg->icon[i]);
        PUT("\"></a>");
    }
    PUT("</span></span>");
}

/* The command line, every command word (after | ; & && || ( and prefixes like sudo)
   linked; quoted text is never a command word. cut: p[0..len) is the shown part of a
   longer line, so its last word may be the start of a longer one and is not linked. */
#define WORD_LINKS_MAX 64 /* command words linked per command line */

static void s_cmdline_html(ui_ctx_t *c, const uint8_t *p, size_t len, const char *hl, bool cut)
{
    static const char *prefixes[] = {"sudo",   "time", "nohup",   "env",     "exec",
                                     "xargs",  "nice", "command", "builtin", "watch",
                                     "strace", "doas", NULL};
    bool cmdpos = true;
    /* Each link is ~550 bytes with its icons: a long line of `a;a;a;…` (1 MiB) would make
       a page of hundreds of MB. Past the first WORD_LINKS_MAX words, words are text. */
    int links_left = WORD_LINKS_MAX;
    size_t i = 0;
    ansi_range_t r[64];
    size_t nr = hl && hl[0] ? ansi_find(p, len, hl, r, 64) : 0;
    while (i < len) {
        uint8_t ch = p[i];
        if (ch == '|' || ch == ';' || ch == '&' || ch == '(' || ch == '\n' || ch == '`') {
            cmdpos = true;
            size_t j = i + 1;
            ansi_html_escape(p + i, 1, c->body);
            i = j;
            continue;
        }
        if (ch == ' ' || ch == '\t' || ch == ')') {
            /* ")" ends a subshell or $(...): what follows is an argument or an operator */
            if (ch == ')')
                cmdpos = false;
            ansi_html_escape(p + i, 1, c->body);
            i++;
            continue;
        }
        /* A word: up to unquoted whitespace or an operator. */
        size_t j = i;
        char quote = 0;
        while (j < len) {
            uint8_t d = p[j];
            if (quote) {
                if (d == (uint8_t)quote)
                    quote = 0;
                else if (d == '\\' && quote == '"' && j + 1 < len)
                    j++;
            } else if (d == '\'' || d == '"') {
                quote = (char)d;
            } else if (d == '\\' && j + 1 < len) {
                j++;
            } else if (d == ' ' || d == '\t' || d == '|' || d == ';' || d == '&' || d == '(' ||
                       d == ')' || d == '\n' || d == '`') {
                break;
            }
            j++;
        }
        if (j > len)
            j = len;
        if (j == i) {
            /* Every byte the word scan stops on is consumed above; should one ever be
               missed, take it as text rather than spin on it (the original bug). */
            ansi_html_escape(p + i, 1, c->body);
            i++;
            continue;
        }
        const char *w = (const char *)p + i;
        size_t wl = j - i;
        bool in_hl = false;
        for (size_t k = 0; k < nr; k++)
            if (r[k].start < j && r[k].end > i)
                in_hl = true;
        if (cmdpos && memchr(w, '=', wl) && !memchr(w, '\'', wl) && s_word_ok(w, strcspn(w, "="))) {
            ansi_html_escape(w, wl, c->body); /* VAR=value before the command */
        } else if (cmdpos) {
            /* /usr/bin/ls links as ls */
            const char *base = w;
            for (size_t k = 0; k < wl; k++)
                if (w[k] == '/')
                    base = w + k + 1;
            size_t bl = wl - (size_t)(base - w);
            if (s_word_ok(base, bl) && !in_hl && links_left > 0 && !(cut && j == len)) {
                links_left--;
                char word[65];
                memcpy(word, base, bl);
                word[bl] = 0;
                ansi_html_escape(w, (size_t)(base - w), c->body);
                s_word_link(c, word);
                bool prefix = false;
                for (int k = 0; prefixes[k]; k++)
                    if (!strcmp(word, prefixes[k]))
                        prefix = true;
                cmdpos = prefix;
            } else {
                /* odd words, and highlighted ones (a mark is clearer than a link there) */
                ansi_range_t rr[16];
                size_t n = in_hl ? ansi_find(w, wl, hl, rr, 16) : 0;
                s_typed_html(c, w, wl, rr, n);
                cmdpos = false;
            }
        } else {
            if (in_hl) {
                ansi_range_t rr[16];
                size_t n = ansi_find(w, wl, hl, rr, 16);
                s_typed_html(c, w, wl, rr, n);
            } else {
                ansi_html_escape(w, wl, c->body);
            }
            /* an option of a prefix (sudo -u x) keeps the command position */
        }
        i = j;
    }
}

/* ---------------------------------------------------------------- output and diff */

static void s_sig_name(int sig, char *buf, size_t size)
{
    const char *abbrev = sig > 0 && sig < 65 ? sigabbrev_np(sig) : NULL;
    if (abbrev)
        snprintf(buf, size, "SIG%s", abbrev);
    else
        snprintf(buf, size, "signal %d", sig);
}

/* The last `count` lines of doc that fit in `bytes` (at least one): where its tail starts. */
static size_t s_doc_tail(const vt_doc_t *doc, size_t count, size_t bytes, size_t floor)
{
    size_t t = doc->nlines, used = 0;
    while (t > floor && doc->nlines - t < count && used + doc->lines[t - 1].len <= bytes) {
        used += doc->lines[t - 1].len + 1;
        t--;
    }
    return t;
}

/* The transcript of bytes through a terminal of ord's session; NULL when the request's
   emulator budget would not cover it (or out of memory). */
static vt_doc_t *s_transcript(ui_ctx_t *c, uint32_t ord, const void *data, size_t len)
{
    vt_t *vt = ui_vt_new(c, ord, 0);
    if (!vt)
        return NULL;
    vt_write(vt, data, len);
    vt_doc_t *doc = vt_overrun(vt) ? NULL : vt_transcript(vt);
    if (!ui_vt_done(c, &vt))
        vt_doc_destroy(&doc);
    return doc;
}

/* Output that moves the cursor (vt_needed), as the terminal showed it: through the
   terminal emulator at the session's size (render/vt.c). Elided like s_output_html, in
   whole lines of what was on the terminal: the first head_lines and last tail_lines. Where
   capture dropped bytes, the head and the tail each go through a terminal of their own:
   the tail starts in the middle of a stream the emulator never saw the start of, and a
   clean screen shows it better than the head's screen overwritten. Returns false, having
   written nothing, when the request's emulator budget does not cover it. */
static bool s_output_vt_html(ui_ctx_t *c, uint32_t ord, const l3_record_t *r, bool full)
{
    const uint8_t *o = r->output.data;
    size_t len = r->output.len;
    size_t cut = r->dropped && r->output_head < len ? (size_t)r->output_head : len;
    vt_doc_t *head = s_transcript(c, ord, o, cut);
    vt_doc_t *tail = head && cut < len ? s_transcript(c, ord, o + cut, len - cut) : NULL;
    if (!head || (cut < len && !tail)) {
        vt_doc_destroy(&head);
        return false;
    }
    /* The lines shown: head [0, h), then tail (or head again) from t. */
    const vt_doc_t *last = tail ? tail : head;
    size_t h = head->nlines, t = tail ? 0 : head->nlines;
    if (!full) {
        size_t bytes = 0;
        h = 0;
        while (h < head->nlines && h < (size_t)c->pg->head_lines && bytes < 4096)
            bytes += head->lines[h++].len + 1;
        t = s_doc_tail(last, (size_t)c->pg->tail_lines, 2048, tail ? 0 : h);
    }
    /* hidden: the head's lines after h, and the tail's before t (or the head's [h, t)) */
    size_t hidden = tail ? head->nlines - h + t : t - h;
    PUT("<pre class=\"out term\">");
    vt_lines_to_html(head, 0, h, c->q, c->body);
    char cnt[32];
    if (hidden && !full) {
        ui_fmt_count(c, hidden, cnt, sizeof cnt);
        OUT("\n<a class=\"elide\" href=\"%s/cmd/%" PRIu64 "?full=1\">… %s %s", c->pg->base, ui_cmd_id(c, ord),
            cnt, c->m[M_LINES]);
        if (r->dropped) {
            ui_fmt_count(c, r->dropped, cnt, sizeof cnt);
            OUT(", %s %s", cnt, c->m[M_BYTES_DROPPED]);
        }
        OUT(" — %s …</a>", c->m[M_SHOW_ALL]);
    } else if (r->dropped) {
        ui_fmt_count(c, r->dropped, cnt, sizeof cnt);
        OUT("\n<span class=\"elide\">… %s %s …</span>", cnt, c->m[M_BYTES_DROPPED]);
    }
    if (t < last->nlines) {
        PUT("\n");
        vt_lines_to_html(last, t, last->nlines, c->q, c->body);
    }
    PUT("\n</pre>\n");
    vt_doc_destroy(&head);
    vt_doc_destroy(&tail);
    return true;
}

/* An output pause at least this long (seconds, from the record's timing) is a screen
   someone looked at (vt_mark); vim writes its "written" line and leaves 0.1 s apart. */
#define SCREEN_PAUSE_S 0.25

/* Where the last switch off the alternate screen starts in data (SIZE_MAX: none). */
static size_t s_last_alt_exit(const uint8_t *data, size_t len)
{
    static const char *const exits[] = {"\x1b[?1049l", "\x1b[?1047l", "\x1b[?47l"};
    size_t last = SIZE_MAX;
    for (size_t i = 0; i < sizeof exits / sizeof exits[0]; i++) {
        size_t el = strlen(exits[i]);
        for (const uint8_t *p = data; (p = memmem(p, len - (size_t)(p - data), exits[i], el));
             p++)
            if (last == SIZE_MAX || (size_t)(p - data) > last)
                last = (size_t)(p - data);
    }
    return last;
}

/* A full-screen program's last screen (vt_last_screen), all its rows in a box the size
   of the terminal: what the person saw when they left it, without starting the replay.
   Where capture dropped bytes, the tail alone: the program redraws its screen, and the
   end is what counts. */
static void s_screen_html(ui_ctx_t *c, uint32_t ord, const l3_record_t *r)
{
    if (!c->pg->emulator || !r->output.len)
        return;
    size_t from = r->dropped && r->output_head < r->output.len ? (size_t)r->output_head : 0;
    vt_t *vt = ui_vt_new(c, ord, 0);
    if (!vt)
        return;
    /* The last screen is what was on the alternate screen at the last pause in the output
       (from the record's timing, which covers the whole output when nothing was dropped)
       before the program's last exit from it: a person was looking then. Reading a screen
       costs its cells, so only that one pause is marked, not every pause of a long
       session (a thousand of them would spend the budget). */
    const uint8_t *o = r->output.data + from;
    size_t left = r->output.len - from;
    size_t exit_at = s_last_alt_exit(o, left), mark_at = SIZE_MAX;
    const char *t0 = from || exit_at == SIZE_MAX ? NULL : (const char *)r->timing.data;
    for (int pass = 0; pass < 2 && t0; pass++) {
        /* pass 0 finds the offset of the last pause before exit_at; pass 1 feeds up to it,
           marks, and leaves the rest to the write below */
        const char *t = t0, *tend = t0 + r->timing.len;
        size_t at = 0;
        while (t < tend && at < left) {
            char line[64];
            const char *nl = memchr(t, '\n', (size_t)(tend - t));
            size_t ll = (size_t)((nl ? nl : tend) - t);
            double delay;
            unsigned long bytes;
            if (ll >= sizeof line)
                break;
            memcpy(line, t, ll);
            line[ll] = 0;
            if (sscanf(line, "%lf %lu", &delay, &bytes) != 2)
                break;
            if (pass == 0 && delay >= SCREEN_PAUSE_S && at <= exit_at)
                mark_at = at;
            if (pass == 1 && at == mark_at) {
                vt_write(vt, o, at);
                vt_mark(vt);
                o += at;
                left -= at;
                break;
            }
            at += bytes < left - at ? (size_t)bytes : left - at;
            t = nl ? nl + 1 : tend;
        }
        if (mark_at == SIZE_MAX)
            break;
    }
    vt_write(vt, o, left);
    vt_doc_t *screen = vt_overrun(vt) ? NULL : vt_last_screen(vt);
    if (!ui_vt_done(c, &vt) || !screen) {
        vt_doc_destroy(&screen);
        return; /* over the budget: the replay still shows it */
    }
    OUT("<pre class=\"screen\" title=\"%s\">", c->m[M_LAST_SCREEN]);
    vt_lines_to_html(screen, 0, screen->nlines, c->q, c->body);
    PUT("</pre>\n");
    vt_doc_destroy(&screen);
}

/* Output, elided in the middle when long ("… 1,234 lines …" linking to the whole). */
static void s_output_html(ui_ctx_t *c, uint32_t ord, const l3_record_t *r, bool full)
{
    const uint8_t *o = r->output.data;
    size_t len = r->output.len;
    ansi_range_t rr[256];
    if (!len && !r->dropped)
        return;
    if (c->pg->emulator && vt_needed(o, len) && s_output_vt_html(c, ord, r, full))
        return;
    PUT("<pre class=\"out\">");
    size_t head_end = len, tail_start = len;
    size_t hidden_lines = 0;
    if (!full) {
        /* head: first head_lines lines and at most 4 KiB; tail likewise, at most 2 KiB */
        size_t lines = 0, i = 0;
        while (i < len && lines < (size_t)c->pg->head_lines && i < 4096) {
            const uint8_t *nl = memchr(o + i, '\n', len - i);
            i = nl ? (size_t)(nl - o) + 1 : len;
            lines++;
        }
        if (i > 4096)
            i = 4096; /* a long line is cut too: a screenful, not a megabyte */
        head_end = i;
        size_t t = len, tl = 0;
        while (t > head_end && tl < (size_t)c->pg->tail_lines && len - t < 2048) {
            size_t k = t - 1;
            while (k > head_end && o[k - 1] != '\n')
                k--;
            t = k;
            tl++;
        }
        if (len - t > 2048)
            t = len - 2048;
        if (t < head_end)
            t = head_end;
        tail_start = c->pg->tail_lines ? t : len;
        for (size_t k = head_end; k < tail_start; k++)
            if (o[k] == '\n')
                hidden_lines++;
        if (tail_start > head_end && hidden_lines == 0)
            hidden_lines = 1;
    }
    size_t cut = r->dropped ? (size_t)r->output_head : len; /* where capture dropped bytes */
    if (head_end >= tail_start) {
        if (r->dropped && cut < len) {
            size_t n = c->q[0] ? ansi_find(o, cut, c->q, rr, 256) : 0;
            ansi_to_html(o, cut, rr, n, c->body);
            char cnt[32];
            ui_fmt_count(c, r->dropped, cnt, sizeof cnt);
            OUT("\n<span class=\"elide\">… %s %s …</span>\n", cnt, c->m[M_BYTES_DROPPED]);
            n = c->q[0] ? ansi_find(o + cut, len - cut, c->q, rr, 256) : 0;
            ansi_to_html(o + cut, len - cut, rr, n, c->body);
        } else {
            size_t n = c->q[0] ? ansi_find(o, len, c->q, rr, 256) : 0;
            ansi_to_html(o, len, rr, n, c->body);
        }
    } else {
        size_t n = c->q[0] ? ansi_find(o, head_end, c->q, rr, 256) : 0;
        ansi_to_html(o, head_end, rr, n, c->body);
        char cnt[32];
        ui_fmt_count(c, hidden_lines, cnt, sizeof cnt);
        if (head_end && o[head_end - 1] != '\n')
            PUT("\n");
        OUT("<a class=\"elide\" href=\"%s/cmd/%" PRIu64 "?full=1\">… %s %s", c->pg->base, ui_cmd_id(c, ord), cnt,
            c->m[M_LINES]);
        if (r->dropped) {
            ui_fmt_count(c, r->dropped, cnt, sizeof cnt);
            OUT(", %s %s", cnt, c->m[M_BYTES_DROPPED]);
        }
        OUT(" — %s …</a>\n", c->m[M_SHOW_ALL]);
        n = c->q[0] ? ansi_find(o + tail_start, len - tail_start, c->q, rr, 256) : 0;
        ansi_to_html(o + tail_start, len - tail_start, rr, n, c->body);
    }
    PUT("</pre>\n");
}

/* "… 1,234 more bytes — full command …": where a list stopped showing a command's typed
   text (hidden bytes not shown), a link to its permalink page, which shows all of it. */
static void s_more_link(ui_ctx_t *c, uint32_t ord, size_t hidden, const char *what)
{
    char cnt[32];
    ui_fmt_count(c, hidden, cnt, sizeof cnt);
    OUT("<a class=\"elide\" href=\"%s/cmd/%" PRIu64 "\">… %s %s — %s …</a>", c->pg->base, ui_cmd_id(c, ord), cnt,
        c->m[M_MORE_BYTES], what);
}

/* A unified diff, its file, hunk, added and deleted lines marked; at most shown bytes of
   it, then a link to the rest. */
static void s_diff_html(ui_ctx_t *c, uint32_t ord, const l3_record_t *r, size_t shown)
{
    const uint8_t *p = r->diff.data;
    size_t len = shown, i = 0;
    PUT("<pre class=\"diff\">");
    while (i < len) {
        const uint8_t *nl = memchr(p + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - p) + 1 : len;
        const char *cls = p[i] == '+' ? "add" : p[i] == '-' ? "del" : p[i] == '@' ? "hunk" : NULL;
        if (e - i >= 3 && (!memcmp(p + i, "+++", 3) || !memcmp(p + i, "---", 3)))
            cls = "file";
        if (cls)
            OUT("<span class=\"%s\">", cls);
        s_typed_html(c, p + i, e - i, NULL, 0);
        if (cls)
            PUT("</span>");
        i = e;
    }
    if (shown < r->diff.len) {
        if (shown && p[shown - 1] != '\n')
            PUT("\n");
        s_more_link(c, ord, r->diff.len - shown, c->m[M_SHOW_ALL]);
        PUT("\n");
    }
    PUT("</pre>\n");
}

/* ---------------------------------------------------------------- one command */

/* ui_command_html, and the permalink page's view of the command (whole: all of its
   command line and diff). */
static void s_command_html(ui_ctx_t *c, uint32_t ord, const l3_record_t *r, bool show_cwd,
                           bool full, bool whole)
{
    uint32_t ns;
    const index_sess_t *s = &index_sessions(c->ix, &ns)[index_cmds(c->ix, &ns)[ord].sess];
    const char *user = index_str(c->ix, s->user);
    const char *host = index_str(c->ix, s->host);
    bool failed = (r->has_exit && r->exit_code != 0) || r->signal;
    bool notfound = r->has_exit && r->exit_code == 127;
    const uint8_t *cl = r->cmdline.data;
    /* the part of the line shown: note, command line and full-screen name alike */
    size_t cll = whole ? r->cmdline.len : ui_cut(cl, r->cmdline.len, UI_LIST_LINE_MAX, false);
    bool line_cut = cll < r->cmdline.len;
    size_t lead = 0;
    while (lead < cll && (cl[lead] == ' ' || cl[lead] == '\t'))
        lead++;
    bool note = lead < cll && cl[lead] == '#';
    char tbuf[32], dur[48];
    ui_fmt_time(r->start_us, tbuf, sizeof tbuf);
    ui_fmt_duration(r->end_us ? r->end_us - r->start_us : 0, dur, sizeof dur);

    /* A command typed in a shell started inside the session (docs/capture.md, "Inner
       shells") is indented by its depth (classes d1..d4; deeper ones as d4). */
    unsigned depth = r->depth > L3_DEPTH_MAX ? L3_DEPTH_MAX : r->depth;
    char dcls[8] = "";
    if (depth)
        snprintf(dcls, sizeof dcls, " d%u", depth < 4 ? depth : 4);
    OUT("<div class=\"cmd%s%s%s%s\" id=\"c%" PRIu64 "\">", failed ? " fail" : "",
        notfound ? " nf" : "", note ? " note" : "", dcls, ui_cmd_id(c, ord));
    OUT("<div class=\"meta\"><a class=\"time\" href=\"%s/cmd/%" PRIu64 "\" title=\"%s\">%s</a>",
        c->pg->base, ui_cmd_id(c, ord), c->m[M_PERMALINK], tbuf);
    OUT(" <span class=\"dur\">%s</span> <span class=\"who\">", dur);
    ui_esc(c, user);
    PUT("@");
    ui_esc(c, host);
    PUT("</span>");
    if (depth)
        OUT(" <span class=\"inner\">%s %u</span>", c->m[M_INNER_SHELL], depth);
    if (show_cwd && r->cwd.len) {
        PUT(" <span class=\"cwd\">");
        s_typed_html(c, r->cwd.data, r->cwd.len, NULL, 0);
        PUT("</span>");
    }
    PUT("</div>\n");
    if (note) {
        PUT("<div class=\"notetext\">");
        s_typed_html(c, cl + lead + 1, cll - lead - 1, NULL, 0);
        if (line_cut)
            s_more_link(c, ord, r->cmdline.len - cll, c->m[M_FULL_COMMAND]);
        PUT("</div></div>\n");
        return;
    }
    OUT("<div class=\"line\"><span class=\"prompt\">%s</span> <code class=\"cl\">",
        strcmp(user, "root") == 0 ? "#" : "$");
    if (notfound)
        PUT("<s>");
    s_cmdline_html(c, cl, cll, c->q, line_cut);
    if (notfound)
        PUT("</s>");
    PUT("</code>");
    if (line_cut)
        s_more_link(c, ord, r->cmdline.len - cll, c->m[M_FULL_COMMAND]);
    if (r->signal) {
        char sn[32];
        s_sig_name(r->signal, sn, sizeof sn);
        /* A job suspended with Ctrl-Z (or stopped by a signal) is stopped, not killed:
           the shell reports it as 128+N all the same. */
        bool stopped = r->signal == SIGTSTP || r->signal == SIGSTOP || r->signal == SIGTTIN
                       || r->signal == SIGTTOU;
        OUT(" <span class=\"sig\">%s %s</span>", c->m[stopped ? M_STOPPED : M_KILLED], sn);
    } else if (notfound) {
        OUT(" <span class=\"exit\">%s 127: %s</span>", c->m[M_EXIT], c->m[M_NOT_FOUND_CMD]);
    } else if (failed) {
        OUT(" <span class=\"exit\">%s %" PRId32 "</span>", c->m[M_EXIT], r->exit_code);
    }
    if (r->flags & L3_FLAG_INTERRUPTED)
        OUT(" <span class=\"sig\">%s</span>", c->m[M_INTERRUPTED]);
    if ((r->flags & L3_FLAG_NESTED) && !r->nested[0])
        OUT(" <span class=\"ranshell\">%s</span>", c->m[M_RAN_SHELL]);
    PUT("</div>\n");
    if (r->flags & L3_FLAG_FULLSCREEN) {
        size_t wl = 0;
        while (lead + wl < cll && cl[lead + wl] != ' ')
            wl++;
        PUT("<div class=\"fs\">");
        if (wl) /* (an empty command line has no bytes at all: cl may be NULL) */
            s_typed_html(c, cl + lead, wl, NULL, 0);
        OUT(" — %s, %s <a href=\"%s/replay/%" PRIu32 "\">%s</a></div>\n", c->m[M_FULLSCREEN], dur,
            c->pg->base, index_cmds(c->ix, &ns)[ord].sess, c->m[M_REPLAY]);
        s_screen_html(c, ord, r);
    } else {
        s_output_html(c, ord, r, full);
    }
    if (r->diff.len)
        s_diff_html(c, ord, r,
                    whole ? r->diff.len
                          : ui_cut(r->diff.data, r->diff.len, UI_LIST_DIFF_MAX, true));
    PUT("</div>\n");
}

void ui_command_html(ui_ctx_t *c, uint32_t ord, const l3_record_t *r, bool show_cwd, bool full)
{
    s_command_html(c, ord, r, show_cwd, full, false);
}

/* ---------------------------------------------------------------- permalink page */

void ui_command_page(ui_ctx_t *c, int64_t id_ord)
{
    l3_record_t r;
    uint32_t ord = id_ord < 0 ? 0 : (uint32_t)id_ord;
    if (id_ord < 0 || !ui_cmd_visible(c, ord) || !index_load_cmd(c->ix, ord, &r)) {
        ui_cmd_missing(c, id_ord, false);
        return;
    }
    char v[8];
    bool full = req_param(c->req->query, "full", v, sizeof v) && v[0] == '1';
    char title[64], dbuf[96];
    uint32_t nc;
    const index_cmd_t *cmd = &index_cmds(c->ix, &nc)[ord];
    snprintf(title, sizeof title, "#%" PRIu64, ui_cmd_id(c, ord));
    ui_head(c, title, NULL);
    ui_fmt_day(c, r.start_us, dbuf, sizeof dbuf);
    PUT("<h2 class=\"day\">");
    ui_esc(c, dbuf);
    PUT("</h2>\n");
    ui_session_heading(c, cmd->sess);
    s_command_html(c, ord, &r, true, full, true);
    PUT("</section>\n");
    OUT("<p><a href=\"%s/journal?session=%" PRIu32 "\">%s</a></p>\n", c->pg->base, cmd->sess,
        c->m[M_SESSION]);
    ui_foot(c);
    l3_record_clear(&r);
}
