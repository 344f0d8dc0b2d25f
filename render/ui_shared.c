/*  ui_shared — the pieces every journal page is made of. See ui.h.

    The HTTP response with its security headers (a Content-Security-Policy that allows
    scripts from our own static files only, as a second line of defence behind the
    escaping), the page head and foot, time and number formatting in the request's
    language, the JSON string escaper, the cut that bounds what a list shows of a long
    command line or diff, and the access and filter checks that decide which sessions and
    commands a request may see. */
#include "ui.h"
#include "ansi.h"
#include "l3_time.h"
#include "l3_utf8.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- languages */

/* clang-format off */
static const char *s_en[M_COUNT_] = {
    "Index", "Journal", "Search", "Statistics", "Hosts", "Users", "Sessions", "commands",
    "Host", "User", "Session", "From", "To", "failed only", "Show", "No commands.",
    "lines", "show all", "full screen", "exit", "killed by", "command not found", "started",
    "open", "ended", "replay", "live", "text", "asciicast", "Most used commands",
    "Failure ratio", "Commands per day", "Commands per user", "Commands per host",
    "older results", "Not found", "note", "bytes not recorded", "Page", "following this session",
    "Replay needs JavaScript; download the recording as text or asciicast.", "permalink",
    "total", "Indexing the datafile", "interrupted", "Date", "Count", "all", "more bytes",
    "full command", "inner shell", "started a shell: its commands follow as its own", "stopped by", "Speed",
    "The player is not installed here; download the recording as text or asciicast.",
    "the screen when the program ended", "any case",
    "This command was in a part of the datafile that retention has removed or archived."};

static const char *s_ru[M_COUNT_] = {
    "Оглавление", "Журнал", "Поиск", "Статистика", "Машины", "Пользователи", "Сеансы",
    "команд", "Машина", "Пользователь", "Сеанс", "С", "По", "только ошибки", "Показать",
    "Нет команд.", "строк", "показать всё", "полноэкранная программа", "код", "убита сигналом",
    "команда не найдена", "начат", "открыт", "завершён", "воспроизвести", "в реальном времени",
    "текст", "asciicast", "Самые частые команды", "Доля ошибок", "Команд по дням",
    "Команд по пользователям", "Команд по машинам", "более ранние", "Не найдено", "заметка",
    "байт не записано", "Страница", "следим за сеансом",
    "Для воспроизведения нужен JavaScript; скачайте запись как текст или asciicast.",
    "ссылка", "всего", "Индексирую файл данных", "прервана", "Дата", "Число", "все",
    "байт не показано", "вся команда", "вложенная оболочка",
    "запустила оболочку: её команды идут отдельно", "остановлена сигналом", "Скорость",
    "Проигрыватель здесь не установлен; скачайте запись как текст или asciicast.",
    "экран в момент завершения программы", "без учёта регистра",
    "Эта команда была в части файла данных, которую удалили или сжали в архив по сроку хранения."};

static const char *s_wday[2][7] = {
    {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
    {"воскресенье", "понедельник", "вторник", "среда", "четверг", "пятница", "суббота"}};
static const char *s_month[2][12] = {
    {"January", "February", "March", "April", "May", "June", "July", "August", "September",
     "October", "November", "December"},
    {"января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
     "октября", "ноября", "декабря"}};
/* clang-format on */

const char **ui_messages(int lang)
{
    return lang ? s_ru : s_en;
}

/* ---------------------------------------------------------------- the emulator */

vt_t *ui_vt_new(ui_ctx_t *c, uint32_t ord, int flags)
{
    if (!c->vt_budget)
        return NULL;
    uint32_t n;
    const index_sess_t *s = &index_sessions(c->ix, &n)[index_cmds(c->ix, &n)[ord].sess];
    vt_t *vt = vt_new(s->rows, s->cols, flags);
    if (vt)
        vt_set_budget(vt, c->vt_budget < VT_BUDGET ? c->vt_budget : VT_BUDGET);
    return vt;
}

bool ui_vt_done(ui_ctx_t *c, vt_t **vt_p)
{
    if (!*vt_p)
        return false;
    uint64_t cost = vt_cost(*vt_p);
    bool whole = !vt_overrun(*vt_p);
    c->vt_budget = cost < c->vt_budget ? c->vt_budget - cost : 0;
    vt_destroy(vt_p);
    return whole;
}

/* ---------------------------------------------------------------- response and HTML */

#define CSP_REST                                                                                   \
    "; connect-src 'self'; img-src * data:; style-src * 'unsafe-inline'; base-uri 'none'; "        \
    "form-action 'self'; frame-ancestors 'none'"
static const char *s_csp = "default-src 'none'; script-src 'self'" CSP_REST;
/* The replay page's player (asciinema-player) runs its terminal emulator as WebAssembly,
   which a script-src without 'wasm-unsafe-eval' forbids compiling. That keyword allows
   WebAssembly only, not JavaScript's eval, and only this page gets it. */
static const char *s_csp_wasm = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'" CSP_REST;

static const char *s_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 410:
        return "Gone";
    case 414:
        return "URI Too Long";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Error";
    }
}

void ui_http(l3_buf_t *resp, int status, const char *ctype, const char *extra, const l3_buf_t *body,
             bool head_only, bool wasm)
{
    l3_buf_printf(resp,
                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                  "X-Content-Type-Options: nosniff\r\nReferrer-Policy: same-origin\r\n"
                  "Cache-Control: no-cache\r\nContent-Security-Policy: %s\r\n%s\r\n",
                  status, s_reason(status), ctype, body->len, wasm ? s_csp_wasm : s_csp,
                  extra ? extra : "");
    if (!head_only && body->len)
        l3_buf_append(resp, body->data, body->len);
}

void ui_esc(ui_ctx_t *c, const char *s)
{
    ansi_html_escape(s, strlen(s), c->body);
}

void ui_head(ui_ctx_t *c, const char *title, const char *script)
{
    const char *const scripts[] = {script, NULL};
    ui_head_with(c, title, NULL, scripts);
}

void ui_head_with(ui_ctx_t *c, const char *title, const char *const *styles,
                  const char *const *scripts)
{
    PUT("<!DOCTYPE html>\n<html lang=\"");
    PUT(c->lang ? "ru" : "en");
    PUT("\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
        "content=\"width=device-width, initial-scale=1\"><title>");
    ui_esc(c, title);
    PUT(" — lilalo</title>");
    for (size_t i = 0; styles && styles[i]; i++) {
        PUT("<link rel=\"stylesheet\" href=\"");
        ui_esc(c, c->pg->stat);
        PUT("/");
        ui_esc(c, styles[i]);
        PUT("\">");
    }
    PUT("<link rel=\"stylesheet\" href=\"");
    ui_esc(c, c->pg->css);
    PUT("\">");
    for (size_t i = 0; scripts && scripts[i]; i++) {
        PUT("<script defer src=\"");
        ui_esc(c, c->pg->stat);
        PUT("/");
        ui_esc(c, scripts[i]);
        PUT("\"></script>");
    }
    PUT("</head>\n<body>\n<header class=\"top\"><a class=\"brand\" href=\"");
    ui_esc(c, c->pg->base);
    OUT("/\">lilalo</a> <nav><a href=\"");
    ui_esc(c, c->pg->base);
    OUT("/\">%s</a> <a href=\"", c->m[M_INDEX]);
    ui_esc(c, c->pg->base);
    OUT("/journal\">%s</a> <a href=\"", c->m[M_JOURNAL]);
    ui_esc(c, c->pg->base);
    OUT("/stats\">%s</a></nav> <form class=\"qs\" method=\"get\" action=\"", c->m[M_STATS]);
    ui_esc(c, c->pg->base);
    OUT("/journal\"><input type=\"search\" name=\"q\" placeholder=\"%s\" value=\"", c->m[M_SEARCH]);
    ui_esc(c, c->q);
    PUT("\"></form>");
    if (c->req->user[0]) {
        PUT(" <span class=\"me\">");
        ui_esc(c, c->req->user);
        PUT("</span>");
    }
    PUT("</header>\n<main>\n<h1>");
    ui_esc(c, title);
    PUT("</h1>\n");
}

void ui_foot(ui_ctx_t *c)
{
    PUT("</main>\n</body></html>\n");
}

void ui_error_page(ui_ctx_t *c, int status, const char *title)
{
    l3_buf_reset(c->body);
    c->status = status;
    c->ctype = "text/html; charset=utf-8";
    ui_head(c, title, NULL);
    OUT("<p class=\"error\">%d %s</p>\n", status, s_reason(status));
    ui_foot(c);
}

void ui_session_heading(ui_ctx_t *c, uint32_t si)
{
    uint32_t n;
    const index_sess_t *s = &index_sessions(c->ix, &n)[si];
    char t[48];
    ui_fmt_datetime(s->start_us, t, sizeof t);
    OUT("<section class=\"session\"><h3><a href=\"%s/journal?session=%" PRIu32 "\">", c->pg->base,
        si);
    ui_esc(c, index_str(c->ix, s->user));
    PUT("@");
    ui_esc(c, index_str(c->ix, s->host));
    PUT("</a>");
    if (s->tty) {
        PUT(" <span class=\"tty\">");
        ui_esc(c, index_str(c->ix, s->tty));
        PUT("</span>");
    }
    OUT(" <span class=\"sid\">%s %s</span>", c->m[M_STARTED], t);
    OUT(" <span class=\"links\"><a href=\"%s/replay/%" PRIu32 "\">%s</a> "
        "<a href=\"%s/session/%" PRIu32 ".txt\">%s</a> <a href=\"%s/session/%" PRIu32
        ".cast\">%s</a>",
        c->pg->base, si, c->m[M_REPLAY], c->pg->base, si, c->m[M_TEXT], c->pg->base, si,
        c->m[M_CAST]);
    if (!s->ended)
        OUT(" <a href=\"%s/live/%" PRIu32 "\">%s</a>", c->pg->base, si, c->m[M_LIVE]);
    PUT("</span></h3>\n");
}

/* ---------------------------------------------------------------- list views */

size_t ui_cut(const void *data, size_t len, size_t max, bool at_line)
{
    const uint8_t *p = data;
    if (len <= max)
        return len;
    size_t cut = max;
    /* A character that starts up to 3 bytes before the cut and ends after it is left out
       whole; invalid bytes are one U+FFFD each, so any cut between them is a boundary. */
    for (size_t back = 1; back <= 3 && back <= max; back++) {
        uint32_t cp;
        size_t n = l3_utf8_decode(p + max - back, len - (max - back), &cp);
        if (n > back) {
            cut = max - back;
            break;
        }
        if (n)
            break; /* a whole character ends at or before the cut */
    }
    if (at_line) {
        const uint8_t *nl = cut ? memrchr(p, '\n', cut) : NULL;
        if (nl && (size_t)(nl - p) + 1 >= cut / 2)
            cut = (size_t)(nl - p) + 1;
    }
    return cut;
}

/* ---------------------------------------------------------------- formatting */

static void s_local(int64_t us, struct tm *tm)
{
    time_t t = (time_t)(us / 1000000);
    localtime_r(&t, tm);
}

void ui_fmt_time(int64_t us, char *buf, size_t size)
{
    struct tm tm;
    s_local(us, &tm);
    strftime(buf, size, "%H:%M:%S", &tm);
}

void ui_fmt_datetime(int64_t us, char *buf, size_t size)
{
    struct tm tm;
    s_local(us, &tm);
    strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

void ui_fmt_iso(int64_t us, char *buf, size_t size)
{
    if (us)
        l3_time_format(us, buf, size);
    else
        snprintf(buf, size, "%s", "");
}

/* Not days since 1970: year * 400 + day of the year, which only has to differ between
   days and sort like them. */
int64_t ui_day(int64_t us)
{
    struct tm tm;
    s_local(us, &tm);
    return (int64_t)(tm.tm_year + 1900) * 400 + tm.tm_yday;
}

void ui_fmt_day(ui_ctx_t *c, int64_t us, char *buf, size_t size)
{
    struct tm tm;
    s_local(us, &tm);
    snprintf(buf, size, "%s, %d %s %d", s_wday[c->lang][tm.tm_wday], tm.tm_mday,
             s_month[c->lang][tm.tm_mon], tm.tm_year + 1900);
}

void ui_fmt_duration(int64_t us, char *buf, size_t size)
{
    if (us < 0)
        us = 0;
    if (us < 1000000)
        snprintf(buf, size, "%.2f s", (double)us / 1e6);
    else if (us < 60000000)
        snprintf(buf, size, "%.1f s", (double)us / 1e6);
    else if (us < 3600000000ll)
        snprintf(buf, size, "%d min %d s", (int)(us / 60000000), (int)(us / 1000000 % 60));
    else
        snprintf(buf, size, "%d h %d min", (int)(us / 3600000000ll), (int)(us / 60000000 % 60));
}

void ui_fmt_count(ui_ctx_t *c, uint64_t n, char *buf, size_t size)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%" PRIu64, n);
    size_t len = strlen(raw), o = 0;
    for (size_t i = 0; i < len && o + 4 < size; i++) {
        if (i && (len - i) % 3 == 0)
            buf[o++] = c->lang ? ' ' : ',';
        buf[o++] = raw[i];
    }
    buf[o] = 0;
}

/* Escapes per RFC 8259; invalid UTF-8 becomes U+FFFD, so any bytes are safe. */
void ui_json_bytes(l3_buf_t *b, const void *data, size_t len)
{
    const uint8_t *p = data;
    l3_buf_append_byte(b, '"');
    size_t i = 0;
    while (i < len) {
        uint8_t ch = p[i];
        if (ch == '"' || ch == '\\') {
            l3_buf_append_byte(b, '\\');
            l3_buf_append_byte(b, ch);
            i++;
        } else if (ch < 0x20 || ch == 0x7f) {
            l3_buf_printf(b, "\\u%04x", ch);
            i++;
        } else if (ch < 0x80) {
            /* '<' escaped so a JSON answer can never be read as markup. */
            if (ch == '<')
                l3_buf_append_str(b, "\\u003c");
            else
                l3_buf_append_byte(b, ch);
            i++;
        } else {
            size_t n = 0;
            uint32_t v = 0;
            if (ch >= 0xc2 && ch <= 0xdf)
                n = 2, v = ch & 0x1f;
            else if (ch >= 0xe0 && ch <= 0xef)
                n = 3, v = ch & 0x0f;
            else if (ch >= 0xf0 && ch <= 0xf4)
                n = 4, v = ch & 0x07;
            bool ok = n && i + n <= len;
            for (size_t k = 1; ok && k < n; k++) {
                if ((p[i + k] & 0xc0) != 0x80)
                    ok = false;
                else
                    v = (v << 6) | (p[i + k] & 0x3f);
            }
            if (ok && ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10ffff)) ||
                       (v >= 0xd800 && v <= 0xdfff)))
                ok = false;
            if (ok) {
                l3_buf_append(b, p + i, n);
                i += n;
            } else {
                l3_buf_append_str(b, "\\ufffd");
                i++;
            }
        }
    }
    l3_buf_append_byte(b, '"');
}

void ui_json_str(l3_buf_t *b, const char *s)
{
    ui_json_bytes(b, s, strlen(s));
}

/* ---------------------------------------------------------------- access and filters */

bool ui_sess_visible(ui_ctx_t *c, uint32_t si)
{
    uint32_t n;
    const index_sess_t *ss = index_sessions(c->ix, &n);
    if (si >= n)
        return false;
    return c->all || (c->me && ss[si].user == c->me);
}

bool ui_cmd_visible(ui_ctx_t *c, uint32_t ord)
{
    uint32_t nc;
    const index_cmd_t *cmds = index_cmds(c->ix, &nc);
    return ord < nc && ui_sess_visible(c, cmds[ord].sess);
}

uint64_t ui_cmd_id(ui_ctx_t *c, uint32_t ord)
{
    return index_ord_base(c->ix) + ord;
}

int64_t ui_id_ord(ui_ctx_t *c, uint64_t id)
{
    uint64_t base = index_ord_base(c->ix);
    if (id < base)
        return -1;
    return id - base > UINT32_MAX ? (int64_t)UINT32_MAX : (int64_t)(id - base);
}

void ui_cmd_missing(ui_ctx_t *c, int64_t ord, bool json)
{
    //  Gone only when the asker could have seen it: someone else's command stays unknown.
    bool gone = ord < 0 || (ui_cmd_visible(c, (uint32_t)ord) && !index_cmd_kept(c->ix, (uint32_t)ord));
    if (json) {
        c->ctype = "application/json";
        c->status = gone ? 410 : 404;
        PUT(gone ? "{\"error\":\"removed\"}\n" : "{\"error\":\"not found\"}\n");
    } else {
        ui_error_page(c, gone ? 410 : 404, c->m[gone ? M_REMOVED : M_NOT_FOUND]);
    }
}

bool ui_cmd_matches(ui_ctx_t *c, const index_cmd_t *cmd)
{
    if (c->bad_filter || cmd->off < c->kept_from)
        return false;
    if (c->sess >= 0 && cmd->sess != (uint32_t)c->sess)
        return false;
    if (!ui_sess_visible(c, cmd->sess))
        return false;
    uint32_t n;
    const index_sess_t *s = &index_sessions(c->ix, &n)[cmd->sess];
    if (c->host && s->host != c->host)
        return false;
    if (c->user && s->user != c->user)
        return false;
    if (c->from_us >= 0 && cmd->start_us < c->from_us)
        return false;
    if (c->to_us >= 0 && cmd->start_us >= c->to_us)
        return false;
    if (c->failed && !((cmd->exit_code != 0 && cmd->exit_code != INDEX_NO_EXIT) || cmd->sig))
        return false;
    return true;
}

/* Local midnight of "YYYY-MM-DD" (+1 day when end), or -1 when malformed. */
static int64_t s_parse_date(const char *s, bool end)
{
    int y, mo, d;
    char tail;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &mo, &d, &tail) != 3 || y < 1970 || y > 9999 || mo < 1 ||
        mo > 12 || d < 1 || d > 31)
        return -1;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d + (end ? 1 : 0);
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    return t == (time_t)-1 ? -1 : (int64_t)t * 1000000;
}

void ui_read_filters(ui_ctx_t *c)
{
    char v[REQ_VALUE_MAX + 1];
    c->sess = -1;
    c->from_us = c->to_us = -1;
    if (req_param(c->req->query, "host", c->fhost, sizeof c->fhost) && c->fhost[0]) {
        c->host = index_str_id(c->ix, c->fhost);
        c->bad_filter |= c->host == 0;
    }
    if (req_param(c->req->query, "user", c->fuser, sizeof c->fuser) && c->fuser[0]) {
        c->user = index_str_id(c->ix, c->fuser);
        c->bad_filter |= c->user == 0;
    }
    if (req_param(c->req->query, "session", v, sizeof v) && v[0]) {
        char *end;
        long long s = strtoll(v, &end, 10);
        uint32_t n;
        index_sessions(c->ix, &n);
        if (*end || s < 0 || s >= n)
            c->bad_filter = true;
        else
            c->sess = s;
    }
    if (req_param(c->req->query, "from", v, sizeof v) && v[0]) {
        c->from_us = s_parse_date(v, false);
        if (c->from_us >= 0)
            snprintf(c->ffrom, sizeof c->ffrom, "%.10s", v);
    }
    if (req_param(c->req->query, "to", v, sizeof v) && v[0]) {
        c->to_us = s_parse_date(v, true);
        if (c->to_us >= 0)
            snprintf(c->fto, sizeof c->fto, "%.10s", v);
    }
    if (req_param(c->req->query, "failed", v, sizeof v))
        c->failed = v[0] == '1' || !strcmp(v, "on");
    if (!req_param(c->req->query, "q", c->q, sizeof c->q))
        c->q[0] = 0;
    if (req_param(c->req->query, "i", v, sizeof v))
        c->icase = v[0] == '1' || !strcmp(v, "on");
}

void ui_filter_query(ui_ctx_t *c, char *buf, size_t size)
{
    char enc[3 * REQ_VALUE_MAX + 1];
    size_t o = 0;
    buf[0] = 0;
#define ADDQ(key, val)                                                                             \
    do {                                                                                           \
        req_pct_encode((val), enc, sizeof enc);                                                    \
        int w = snprintf(buf + o, size - o, "%s%s=%s", o ? "&" : "", key, enc);                    \
        if (w > 0 && (size_t)w < size - o)                                                         \
            o += (size_t)w;                                                                        \
    } while (0)
    if (c->fhost[0])
        ADDQ("host", c->fhost);
    if (c->fuser[0])
        ADDQ("user", c->fuser);
    if (c->sess >= 0) {
        char s[24];
        snprintf(s, sizeof s, "%" PRId64, c->sess);
        ADDQ("session", s);
    }
    if (c->ffrom[0])
        ADDQ("from", c->ffrom);
    if (c->fto[0])
        ADDQ("to", c->fto);
    if (c->failed)
        ADDQ("failed", "1");
    if (c->q[0])
        ADDQ("q", c->q);
    if (c->icase)
        ADDQ("i", "1");
#undef ADDQ
}

bool ui_search_accept(uint32_t ord, void *arg)
{
    ui_search_acc_t *a = arg;
    uint32_t nc;
    const index_cmd_t *cmds = index_cmds(a->c->ix, &nc);
    if (!ui_cmd_matches(a->c, &cmds[ord]))
        return false;
    a->ords[a->n++] = ord;
    return true;
}

int ui_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

char *ui_dup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort(); /* out of memory */
    return d;
}
