/*  pages — the journal's pages and JSON API. See pages.h and docs/journal.md.

    Every byte that came from a terminal or a record goes through ansi/ansi_html_escape
    (HTML) or s_json_str (JSON) on its way out; URLs we build from record data only ever
    carry numbers or percent-encoded text. Responses also carry a Content-Security-Policy
    that allows scripts from our own static files only, as a second line of defence. */
#include "pages.h"
#include "ansi.h"
#include "l3_log.h"
#include "search.h"
#include "l3_time.h"

#include <ctype.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BODY_MAX (64u << 20)
#define CMD_HTML_MAX (4u << 20)
#define ICONS 5

/* ---------------------------------------------------------------- languages */

enum {
    M_INDEX, M_JOURNAL, M_SEARCH, M_STATS, M_HOSTS, M_USERS, M_SESSIONS, M_COMMANDS,
    M_HOST, M_USER, M_SESSION, M_FROM, M_TO, M_FAILED_ONLY, M_APPLY, M_NO_COMMANDS,
    M_LINES, M_SHOW_ALL, M_FULLSCREEN, M_EXIT, M_KILLED, M_NOT_FOUND_CMD, M_STARTED,
    M_OPEN, M_ENDED, M_REPLAY, M_LIVE, M_TEXT, M_CAST, M_TOP_COMMANDS, M_FAILURE_RATIO,
    M_PER_DAY, M_PER_USER, M_PER_HOST, M_OLDER, M_NOT_FOUND, M_NOTE, M_BYTES_DROPPED,
    M_PAGE, M_FOLLOWING, M_NOJS_REPLAY, M_PERMALINK, M_TOTAL, M_INDEXING, M_INTERRUPTED,
    M_DATE, M_COUNT, M_ALL, M_COUNT_
};

static const char *s_en[M_COUNT_] = {
    "Index", "Journal", "Search", "Statistics", "Hosts", "Users", "Sessions", "commands",
    "Host", "User", "Session", "From", "To", "failed only", "Show", "No commands.",
    "lines", "show all", "full screen", "exit", "killed by", "command not found", "started",
    "open", "ended", "replay", "live", "text", "asciicast", "Most used commands",
    "Failure ratio", "Commands per day", "Commands per user", "Commands per host",
    "older results", "Not found", "note", "bytes not recorded", "Page", "following this session",
    "Replay needs JavaScript; download the recording as text or asciicast.", "permalink",
    "total", "Indexing the datafile", "interrupted", "Date", "Count", "all"};

static const char *s_ru[M_COUNT_] = {
    "Оглавление", "Журнал", "Поиск", "Статистика", "Машины", "Пользователи", "Сеансы",
    "команд", "Машина", "Пользователь", "Сеанс", "С", "По", "только ошибки", "Показать",
    "Нет команд.", "строк", "показать всё", "полноэкранная программа", "код", "убита сигналом",
    "команда не найдена", "начат", "открыт", "завершён", "воспроизвести", "в реальном времени",
    "текст", "asciicast", "Самые частые команды", "Доля ошибок", "Команд по дням",
    "Команд по пользователям", "Команд по машинам", "более ранние", "Не найдено", "заметка",
    "байт не записано", "Страница", "следим за сеансом",
    "Для воспроизведения нужен JavaScript; скачайте запись как текст или asciicast.",
    "ссылка", "всего", "Индексирую файл данных", "прервана", "Дата", "Число", "все"};

static const char *s_wday[2][7] = {
    {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
    {"воскресенье", "понедельник", "вторник", "среда", "четверг", "пятница", "суббота"}};
static const char *s_month[2][12] = {
    {"January", "February", "March", "April", "May", "June", "July", "August", "September",
     "October", "November", "December"},
    {"января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
     "октября", "ноября", "декабря"}};

/* ---------------------------------------------------------------- config */

static const char *s_icon_names[ICONS] = {"google", "linux", "freebsd", "opennet", "local"};
static const char *s_icon_urls[ICONS] = {
    "https://www.google.com/search?q=%s", "https://man7.org/linux/man-pages/man1/%s.1.html",
    "https://man.freebsd.org/cgi/man.cgi?query=%s", "https://www.opennet.ru/man.shtml?topic=%s",
    ""};

struct pages_t {
    char *base, *stat, *css, *man_url;
    char *icon[ICONS], *icon_url[ICONS];
    char **instructors; /* render/instructors, one name each */
    size_t ninstructors;
    int page_size, head_lines, tail_lines;
    int64_t search_budget_us;
    int whatis_new; /* whatis lookups left for the current request */
    int language; /* -1 auto, 0 en, 1 ru */
    bool whatis;
    /* whatis cache: word -> line (or "" when none) */
    char **wa_key, **wa_val;
    size_t wa_n, wa_cap;
};

static char *s_dup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort(); /* out of memory at start-up */
    return d;
}

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
    self->base = s_dup(l3_config_str(config, "render/base_url", "/journal"));
    self->stat = s_dup(l3_config_str(config, "render/static_url", "/static"));
    snprintf(def, sizeof def, "%s/lilalo.css", self->stat);
    self->css = s_dup(l3_config_str(config, "render/frontend_css", def));
    self->man_url = s_dup(l3_config_str(config, "render/man_url", "https://manpages.debian.org/%s"));
    for (int i = 0; i < ICONS; i++) {
        char key[64];
        snprintf(key, sizeof key, "render/frontend_%s_ico", s_icon_names[i]);
        snprintf(def, sizeof def, "%s/icons/%s.svg", self->stat, s_icon_names[i]);
        self->icon[i] = s_dup(l3_config_str(config, key, def));
        snprintf(key, sizeof key, "render/url_%s", s_icon_names[i]);
        self->icon_url[i] = s_dup(l3_config_str(config, key, s_icon_urls[i]));
    }
    s_instructors_parse(self, l3_config_str(config, "render/instructors", ""));
    self->page_size = (int)l3_config_int(config, "render/page_size", 100, 1, 10000);
    self->head_lines = (int)l3_config_int(config, "render/output_head_lines", 20, 1, 100000);
    self->tail_lines = (int)l3_config_int(config, "render/output_tail_lines", 10, 0, 100000);
    const char *lang = l3_config_str(config, "render/language", "auto");
    self->language = !strcmp(lang, "ru") ? 1 : !strcmp(lang, "en") ? 0 : -1;
    self->whatis = l3_config_bool(config, "render/whatis", true);
    self->search_budget_us =
        l3_config_int(config, "render/search_budget_ms", 800, 0, 60000) * 1000;
    return self;
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
    for (int i = 0; i < ICONS; i++) {
        free(self->icon[i]);
        free(self->icon_url[i]);
    }
    for (size_t i = 0; i < self->wa_n; i++) {
        free(self->wa_key[i]);
        free(self->wa_val[i]);
    }
    free(self->wa_key);
    free(self->wa_val);
    for (size_t i = 0; i < self->ninstructors; i++)
        free(self->instructors[i]);
    free(self->instructors);
    free(self);
    *self_p = NULL;
}

/* ---------------------------------------------------------------- request context */

typedef struct {
    pages_t *pg;
    index_t *ix;
    const req_t *req;
    const char **m; /* messages */
    int lang;
    bool all;       /* may see every session */
    uint32_t me;    /* interned remote user when !all (0: sees nothing) */
    /* filters */
    uint32_t host, user;
    int64_t sess;   /* -1: any */
    int64_t from_us, to_us;
    bool failed;
    char q[REQ_VALUE_MAX + 1];
    char fhost[REQ_VALUE_MAX + 1], fuser[REQ_VALUE_MAX + 1];
    char ffrom[16], fto[16];
    bool bad_filter; /* a named host/user that does not exist: nothing matches */
    bool export_all; /* /session/N.json: every command of the session */
    l3_buf_t *body;
    int status;
    const char *ctype;
    const char *extra_headers;
} ctx_t;

static const char *s_csp =
    "default-src 'none'; script-src 'self'; connect-src 'self'; img-src * data:; "
    "style-src * 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

static const char *s_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 414: return "URI Too Long";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Error";
    }
}

static void s_http(l3_buf_t *resp, int status, const char *ctype, const char *extra,
                   const l3_buf_t *body, bool head_only)
{
    l3_buf_printf(resp,
                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                  "X-Content-Type-Options: nosniff\r\nReferrer-Policy: same-origin\r\n"
                  "Cache-Control: no-cache\r\nContent-Security-Policy: %s\r\n%s\r\n",
                  status, s_reason(status), ctype, body->len, s_csp, extra ? extra : "");
    if (!head_only && body->len)
        l3_buf_append(resp, body->data, body->len);
}

#define OUT(...) l3_buf_printf(c->body, __VA_ARGS__)
#define PUT(s) l3_buf_append_str(c->body, (s))

static void s_esc(ctx_t *c, const char *s)
{
    ansi_html_escape(s, strlen(s), c->body);
}

static void s_head(ctx_t *c, const char *title, const char *script)
{
    PUT("<!DOCTYPE html>\n<html lang=\"");
    PUT(c->lang ? "ru" : "en");
    PUT("\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
        "content=\"width=device-width, initial-scale=1\"><title>");
    s_esc(c, title);
    PUT(" — lilalo</title><link rel=\"stylesheet\" href=\"");
    s_esc(c, c->pg->css);
    PUT("\">");
    if (script) {
        PUT("<script defer src=\"");
        s_esc(c, c->pg->stat);
        OUT("/%s\"></script>", script);
    }
    PUT("</head>\n<body>\n<header class=\"top\"><a class=\"brand\" href=\"");
    s_esc(c, c->pg->base);
    OUT("/\">lilalo</a> <nav><a href=\"");
    s_esc(c, c->pg->base);
    OUT("/\">%s</a> <a href=\"", c->m[M_INDEX]);
    s_esc(c, c->pg->base);
    OUT("/journal\">%s</a> <a href=\"", c->m[M_JOURNAL]);
    s_esc(c, c->pg->base);
    OUT("/stats\">%s</a></nav> <form class=\"qs\" method=\"get\" action=\"", c->m[M_STATS]);
    s_esc(c, c->pg->base);
    OUT("/journal\"><input type=\"search\" name=\"q\" placeholder=\"%s\" value=\"", c->m[M_SEARCH]);
    s_esc(c, c->q);
    PUT("\"></form>");
    if (c->req->user[0]) {
        PUT(" <span class=\"me\">");
        s_esc(c, c->req->user);
        PUT("</span>");
    }
    PUT("</header>\n<main>\n<h1>");
    s_esc(c, title);
    PUT("</h1>\n");
}

static void s_foot(ctx_t *c)
{
    PUT("</main>\n</body></html>\n");
}

static void s_error_page(ctx_t *c, int status, const char *title)
{
    l3_buf_reset(c->body);
    c->status = status;
    c->ctype = "text/html; charset=utf-8";
    s_head(c, title, NULL);
    OUT("<p class=\"error\">%d %s</p>\n", status, s_reason(status));
    s_foot(c);
}

/* ---------------------------------------------------------------- formatting helpers */

static void s_local(int64_t us, struct tm *tm)
{
    time_t t = (time_t)(us / 1000000);
    localtime_r(&t, tm);
}

static void s_fmt_time(int64_t us, char *buf, size_t size)
{
    struct tm tm;
    s_local(us, &tm);
    strftime(buf, size, "%H:%M:%S", &tm);
}

static void s_fmt_datetime(int64_t us, char *buf, size_t size)
{
    struct tm tm;
    s_local(us, &tm);
    strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

static void s_fmt_iso(int64_t us, char *buf, size_t size)
{
    if (us)
        l3_time_format(us, buf, size);
    else
        snprintf(buf, size, "%s", "");
}

/* Local day number (days since 1970 in the configured zone) for grouping. */
static int64_t s_day(int64_t us)
{
    struct tm tm;
    s_local(us, &tm);
    return (int64_t)(tm.tm_year + 1900) * 400 + tm.tm_yday;
}

static void s_fmt_day(ctx_t *c, int64_t us, char *buf, size_t size)
{
    struct tm tm;
    s_local(us, &tm);
    snprintf(buf, size, "%s, %d %s %d", s_wday[c->lang][tm.tm_wday], tm.tm_mday,
             s_month[c->lang][tm.tm_mon], tm.tm_year + 1900);
}

static void s_fmt_duration(int64_t us, char *buf, size_t size)
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

/* 1234567 as "1,234,567" (a space in Russian). */
static void s_fmt_count(ctx_t *c, uint64_t n, char *buf, size_t size)
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

/* JSON string: escapes per RFC 8259, invalid UTF-8 as U+FFFD, so any bytes are safe. */
static void s_json_bytes(l3_buf_t *b, const void *data, size_t len)
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

static void s_json_str(l3_buf_t *b, const char *s)
{
    s_json_bytes(b, s, strlen(s));
}

/* ---------------------------------------------------------------- access and filters */

static bool s_sess_visible(ctx_t *c, uint32_t si)
{
    uint32_t n;
    const index_sess_t *ss = index_sessions(c->ix, &n);
    if (si >= n)
        return false;
    return c->all || (c->me && ss[si].user == c->me);
}

static bool s_cmd_matches(ctx_t *c, const index_cmd_t *cmd)
{
    if (c->bad_filter)
        return false;
    if (c->sess >= 0 && cmd->sess != (uint32_t)c->sess)
        return false;
    if (!s_sess_visible(c, cmd->sess))
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

static void s_read_filters(ctx_t *c)
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
}

/* The current filters as a query string (for page links), without page/before. */
static void s_filter_query(ctx_t *c, char *buf, size_t size)
{
    char enc[3 * REQ_VALUE_MAX + 1];
    size_t o = 0;
    buf[0] = 0;
#define ADDQ(key, val)                                                                           \
    do {                                                                                         \
        req_pct_encode((val), enc, sizeof enc);                                                   \
        int w = snprintf(buf + o, size - o, "%s%s=%s", o ? "&" : "", key, enc);                 \
        if (w > 0 && (size_t)w < size - o)                                                       \
            o += (size_t)w;                                                                      \
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
#undef ADDQ
}

/* ---------------------------------------------------------------- command words */

static const char *s_whatis(pages_t *pg, const char *word)
{
    if (!pg->whatis)
        return "";
    for (size_t i = 0; i < pg->wa_n; i++)
        if (!strcmp(pg->wa_key[i], word))
            return pg->wa_val[i];
    if (pg->wa_n >= 4096 || pg->whatis_new <= 0)
        return ""; /* each unseen word costs a process: a few per request at most */
    pg->whatis_new--;
    char cmd[160], line[512] = "";
    /* word is [A-Za-z0-9._+-] only (checked by the caller), so the shell sees no syntax. */
    snprintf(cmd, sizeof cmd, "timeout 1 whatis -l -- '%s' 2>/dev/null", word);
    FILE *f = popen(cmd, "r");
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = 0;
        pclose(f);
    }
    line[strcspn(line, "\n")] = 0;
    if (pg->wa_n == pg->wa_cap) {
        size_t ncap = pg->wa_cap ? pg->wa_cap * 2 : 64;
        char **k = realloc(pg->wa_key, ncap * sizeof *k);
        if (k)
            pg->wa_key = k;
        char **v = realloc(pg->wa_val, ncap * sizeof *v);
        if (v)
            pg->wa_val = v;
        if (!k || !v)
            return "";
        pg->wa_cap = ncap;
    }
    pg->wa_key[pg->wa_n] = s_dup(word);
    pg->wa_val[pg->wa_n] = s_dup(line);
    return pg->wa_val[pg->wa_n++];
}

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

static void s_url_fill(ctx_t *c, const char *tmpl, const char *word)
{
    char enc[200];
    req_pct_encode(word, enc, sizeof enc);
    const char *p = strstr(tmpl, "%s");
    if (!p) {
        s_esc(c, tmpl);
        return;
    }
    ansi_html_escape(tmpl, (size_t)(p - tmpl), c->body);
    s_esc(c, enc);
    s_esc(c, p + 2);
}

/* One command word as a link to its documentation with the 2005 icons beside it. */
static void s_word_link(ctx_t *c, const char *word)
{
    const char *wa = s_whatis(c->pg, word);
    PUT("<span class=\"wm\"><a class=\"w\" href=\"");
    s_url_fill(c, c->pg->man_url, word);
    PUT("\"");
    if (wa[0]) {
        PUT(" title=\"");
        s_esc(c, wa);
        PUT("\"");
    }
    PUT(">");
    s_esc(c, word);
    PUT("</a><span class=\"ico\">");
    for (int i = 0; i < ICONS; i++) {
        if (!c->pg->icon_url[i][0])
            continue;
        PUT("<a href=\"");
        s_url_fill(c, c->pg->icon_url[i], word);
        PUT("\"><img alt=\"");
        PUT(s_icon_names[i]);
        PUT("\" src=\"");
        s_esc(c, c->pg->icon[i]);
        PUT("\"></a>");
    }
    PUT("</span></span>");
}

/* The command line, every command word (after | ; & && || ( and prefixes like sudo)
   linked; quoted text is never a command word. */
static void s_cmdline_html(ctx_t *c, const uint8_t *p, size_t len, const char *hl)
{
    static const char *prefixes[] = {"sudo", "time", "nohup", "env", "exec", "xargs", "nice",
                                     "command", "builtin", "watch", "strace", "doas", NULL};
    bool cmdpos = true;
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
            if (s_word_ok(base, bl) && !in_hl) {
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
                ansi_to_html(w, wl, rr, n, c->body);
                cmdpos = false;
            }
        } else {
            if (in_hl) {
                ansi_range_t rr[16];
                size_t n = ansi_find(w, wl, hl, rr, 16);
                ansi_to_html(w, wl, rr, n, c->body);
            } else {
                ansi_html_escape(w, wl, c->body);
            }
            /* an option of a prefix (sudo -u x) keeps the command position */
        }
        i = j;
    }
}

/* ---------------------------------------------------------------- one command */

static void s_sig_name(int sig, char *buf, size_t size)
{
    const char *abbrev = sig > 0 && sig < 65 ? sigabbrev_np(sig) : NULL;
    if (abbrev)
        snprintf(buf, size, "SIG%s", abbrev);
    else
        snprintf(buf, size, "signal %d", sig);
}

/* Output, elided in the middle when long ("… 1,234 lines …" linking to the whole). */
static void s_output_html(ctx_t *c, uint32_t ord, const l3_record_t *r, bool full)
{
    const uint8_t *o = r->output.data;
    size_t len = r->output.len;
    ansi_range_t rr[256];
    if (!len && !r->dropped)
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
            s_fmt_count(c, r->dropped, cnt, sizeof cnt);
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
        s_fmt_count(c, hidden_lines, cnt, sizeof cnt);
        if (head_end && o[head_end - 1] != '\n')
            PUT("\n");
        OUT("<a class=\"elide\" href=\"%s/cmd/%" PRIu32 "?full=1\">… %s %s", c->pg->base, ord,
            cnt, c->m[M_LINES]);
        if (r->dropped) {
            s_fmt_count(c, r->dropped, cnt, sizeof cnt);
            OUT(", %s %s", cnt, c->m[M_BYTES_DROPPED]);
        }
        OUT(" — %s …</a>\n", c->m[M_SHOW_ALL]);
        n = c->q[0] ? ansi_find(o + tail_start, len - tail_start, c->q, rr, 256) : 0;
        ansi_to_html(o + tail_start, len - tail_start, rr, n, c->body);
    }
    PUT("</pre>\n");
}

static void s_diff_html(ctx_t *c, const l3_record_t *r)
{
    const uint8_t *p = r->diff.data;
    size_t len = r->diff.len, i = 0;
    PUT("<pre class=\"diff\">");
    while (i < len) {
        const uint8_t *nl = memchr(p + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - p) + 1 : len;
        const char *cls = p[i] == '+' ? "add" : p[i] == '-' ? "del" : p[i] == '@' ? "hunk" : NULL;
        if (e - i >= 3 && (!memcmp(p + i, "+++", 3) || !memcmp(p + i, "---", 3)))
            cls = "file";
        if (cls)
            OUT("<span class=\"%s\">", cls);
        ansi_to_html(p + i, e - i, NULL, 0, c->body);
        if (cls)
            PUT("</span>");
        i = e;
    }
    PUT("</pre>\n");
}

/* One command as HTML. show_cwd: the cwd changed since the previous command shown. */
static void s_command_html(ctx_t *c, uint32_t ord, const l3_record_t *r, bool show_cwd,
                           bool full)
{
    uint32_t ns;
    const index_sess_t *s = &index_sessions(c->ix, &ns)[index_cmds(c->ix, &ns)[ord].sess];
    const char *user = index_str(c->ix, s->user);
    const char *host = index_str(c->ix, s->host);
    bool failed = (r->has_exit && r->exit_code != 0) || r->signal;
    bool notfound = r->has_exit && r->exit_code == 127;
    const uint8_t *cl = r->cmdline.data;
    size_t cll = r->cmdline.len;
    size_t lead = 0;
    while (lead < cll && (cl[lead] == ' ' || cl[lead] == '\t'))
        lead++;
    bool note = lead < cll && cl[lead] == '#';
    char tbuf[32], dur[48];
    s_fmt_time(r->start_us, tbuf, sizeof tbuf);
    s_fmt_duration(r->end_us ? r->end_us - r->start_us : 0, dur, sizeof dur);

    OUT("<div class=\"cmd%s%s%s\" id=\"c%" PRIu32 "\">", failed ? " fail" : "",
        notfound ? " nf" : "", note ? " note" : "", ord);
    OUT("<div class=\"meta\"><a class=\"time\" href=\"%s/cmd/%" PRIu32 "\" title=\"%s\">%s</a>",
        c->pg->base, ord, c->m[M_PERMALINK], tbuf);
    OUT(" <span class=\"dur\">%s</span> <span class=\"who\">", dur);
    s_esc(c, user);
    PUT("@");
    s_esc(c, host);
    PUT("</span>");
    if (show_cwd && r->cwd.len) {
        PUT(" <span class=\"cwd\">");
        ansi_to_html(r->cwd.data, r->cwd.len, NULL, 0, c->body);
        PUT("</span>");
    }
    PUT("</div>\n");
    if (note) {
        PUT("<div class=\"notetext\">");
        ansi_to_html(cl + lead + 1, cll - lead - 1, NULL, 0, c->body);
        PUT("</div></div>\n");
        return;
    }
    OUT("<div class=\"line\"><span class=\"prompt\">%s</span> <code class=\"cl\">",
        strcmp(user, "root") == 0 ? "#" : "$");
    if (notfound)
        PUT("<s>");
    s_cmdline_html(c, cl, cll, c->q);
    if (notfound)
        PUT("</s>");
    PUT("</code>");
    if (r->signal) {
        char sn[32];
        s_sig_name(r->signal, sn, sizeof sn);
        OUT(" <span class=\"sig\">%s %s</span>", c->m[M_KILLED], sn);
    } else if (notfound) {
        OUT(" <span class=\"exit\">%s 127: %s</span>", c->m[M_EXIT], c->m[M_NOT_FOUND_CMD]);
    } else if (failed) {
        OUT(" <span class=\"exit\">%s %" PRId32 "</span>", c->m[M_EXIT], r->exit_code);
    }
    if (r->flags & L3_FLAG_INTERRUPTED)
        OUT(" <span class=\"sig\">%s</span>", c->m[M_INTERRUPTED]);
    PUT("</div>\n");
    if (r->flags & L3_FLAG_FULLSCREEN) {
        char *word = NULL;
        size_t wl = 0;
        while (lead + wl < cll && cl[lead + wl] != ' ')
            wl++;
        word = strndup((const char *)cl + lead, wl);
        PUT("<div class=\"fs\">");
        if (word)
            ansi_html_escape(word, strlen(word), c->body);
        OUT(" — %s, %s <a href=\"%s/replay/%" PRIu32 "\">%s</a></div>\n", c->m[M_FULLSCREEN], dur,
            c->pg->base, index_cmds(c->ix, &ns)[ord].sess, c->m[M_REPLAY]);
        free(word);
    } else {
        s_output_html(c, ord, r, full);
    }
    if (r->diff.len)
        s_diff_html(c, r);
    PUT("</div>\n");
}

/* ---------------------------------------------------------------- journal */

static void s_session_heading(ctx_t *c, uint32_t si)
{
    uint32_t n;
    const index_sess_t *s = &index_sessions(c->ix, &n)[si];
    char t[48];
    s_fmt_datetime(s->start_us, t, sizeof t);
    OUT("<section class=\"session\"><h3><a href=\"%s/journal?session=%" PRIu32 "\">", c->pg->base,
        si);
    s_esc(c, index_str(c->ix, s->user));
    PUT("@");
    s_esc(c, index_str(c->ix, s->host));
    PUT("</a>");
    if (s->tty) {
        PUT(" <span class=\"tty\">");
        s_esc(c, index_str(c->ix, s->tty));
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

/* Render the given commands (ascending ordinals) grouped by day, then session. */
static void s_commands_grouped(ctx_t *c, const uint32_t *ords, size_t n)
{
    uint32_t nc;
    const index_cmd_t *cmds = index_cmds(c->ix, &nc);
    bool *done = calloc(n ? n : 1, 1);
    int64_t *days = calloc(n ? n : 1, sizeof *days);
    if (!done || !days) {
        free(done);
        free(days);
        return;
    }
    /* one local-time conversion per command; the grouping below compares numbers */
    for (size_t i = 0; i < n; i++)
        days[i] = s_day(cmds[ords[i]].start_us);
    l3_buf_t lastcwd;
    l3_buf_init(&lastcwd, L3_CWD_MAX);
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        int64_t day = days[i];
        char dbuf[96];
        s_fmt_day(c, cmds[ords[i]].start_us, dbuf, sizeof dbuf);
        PUT("<h2 class=\"day\">");
        s_esc(c, dbuf);
        PUT("</h2>\n");
        /* every session of this day, in order of first appearance */
        for (size_t j = i; j < n; j++) {
            if (done[j] || days[j] != day)
                continue;
            uint32_t si = cmds[ords[j]].sess;
            s_session_heading(c, si);
            l3_buf_reset(&lastcwd);
            bool first = true;
            for (size_t k = j; k < n; k++) {
                if (done[k] || cmds[ords[k]].sess != si || days[k] != day)
                    continue;
                done[k] = true;
                l3_record_t r;
                if (!index_load_cmd(c->ix, ords[k], &r)) {
                    OUT("<div class=\"cmd bad\">record %" PRIu32 " unreadable</div>\n", ords[k]);
                    continue;
                }
                bool cwd_changed = first || r.cwd.len != lastcwd.len ||
                                   (r.cwd.len && memcmp(r.cwd.data, lastcwd.data, r.cwd.len));
                if (cwd_changed) {
                    l3_buf_reset(&lastcwd);
                    l3_buf_append(&lastcwd, r.cwd.data, r.cwd.len);
                }
                s_command_html(c, ords[k], &r, cwd_changed, false);
                l3_record_clear(&r);
                first = false;
            }
            PUT("</section>\n");
        }
    }
    l3_buf_free(&lastcwd);
    free(done);
    free(days);
}

typedef struct {
    ctx_t *c;
    uint32_t *ords;
    size_t n;
} search_acc_t;

static bool s_search_accept(uint32_t ord, void *arg)
{
    search_acc_t *a = arg;
    uint32_t nc;
    const index_cmd_t *cmds = index_cmds(a->c->ix, &nc);
    if (!s_cmd_matches(a->c, &cmds[ord]))
        return false;
    a->ords[a->n++] = ord;
    return true;
}

static int s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The matching commands of a page. Without search: page p of ceil(total/size), 1 =
   oldest, default the newest. With search: newest hits below `before`. */
static uint32_t *s_select(ctx_t *c, size_t *count, uint64_t *total, uint32_t *page,
                          uint32_t *pages, bool *more, uint32_t *before)
{
    uint32_t nc;
    const index_cmd_t *cmds = index_cmds(c->ix, &nc);
    size_t size = (size_t)c->pg->page_size;
    char v[32];
    *more = false;
    *count = 0;
    *total = 0;
    if (c->q[0]) {
        *before = UINT32_MAX;
        if (req_param(c->req->query, "before", v, sizeof v))
            *before = (uint32_t)strtoul(v, NULL, 10);
        search_acc_t a = {c, calloc(size, sizeof(uint32_t)), 0};
        if (!a.ords)
            return NULL;
        uint32_t resume = 0;
        search_commands(c->ix, c->q, *before, size, c->pg->search_budget_us, s_search_accept, &a, more,
                  &resume);
        *before = resume;
        qsort(a.ords, a.n, sizeof *a.ords, s_cmp_u32);
        *count = a.n;
        *total = a.n;
        return a.ords;
    }
    /* Gather matching ordinals: the session's own list when filtered by session; with
       no filter at all the matching set is every command and needs no pass. */
    uint32_t *all = NULL;
    size_t n = 0;
    bool unfiltered = c->all && !c->bad_filter && c->sess < 0 && !c->host && !c->user &&
                      c->from_us < 0 && c->to_us < 0 && !c->failed;
    if (unfiltered) {
        *total = nc;
        *pages = nc ? (uint32_t)((nc + size - 1) / size) : 1;
        *page = *pages;
        if (req_param(c->req->query, "page", v, sizeof v)) {
            unsigned long p = strtoul(v, NULL, 10);
            if (p >= 1 && p <= *pages)
                *page = (uint32_t)p;
        }
        size_t first = (size_t)(*page - 1) * size;
        size_t cnt = nc > first ? nc - first : 0;
        if (cnt > size)
            cnt = size;
        all = malloc((cnt ? cnt : 1) * sizeof *all);
        for (size_t i = 0; all && i < cnt; i++)
            all[i] = (uint32_t)(first + i);
        *count = all ? cnt : 0;
        return all;
    }
    if (c->sess >= 0) {
        uint32_t ns;
        const index_sess_t *s = &index_sessions(c->ix, &ns)[c->sess];
        all = malloc((s->ncmds ? s->ncmds : 1) * sizeof *all);
        for (uint32_t i = 0; all && i < s->ncmds; i++)
            if (s_cmd_matches(c, &cmds[s->cmds[i]]))
                all[n++] = s->cmds[i];
    } else {
        all = malloc((nc ? nc : 1) * sizeof *all);
        for (uint32_t i = 0; all && i < nc; i++)
            if (s_cmd_matches(c, &cmds[i]))
                all[n++] = i;
    }
    if (!all)
        return NULL;
    *total = n;
    *pages = n ? (uint32_t)((n + size - 1) / size) : 1;
    *page = *pages;
    if (req_param(c->req->query, "page", v, sizeof v)) {
        unsigned long p = strtoul(v, NULL, 10);
        if (p >= 1 && p <= *pages)
            *page = (uint32_t)p;
    }
    size_t first = (size_t)(*page - 1) * size;
    size_t cnt = n > first ? n - first : 0;
    if (cnt > size)
        cnt = size;
    memmove(all, all + first, cnt * sizeof *all);
    *count = cnt;
    return all;
}

static void s_page_links(ctx_t *c, uint32_t page, uint32_t pages, const char *fq)
{
    if (pages <= 1)
        return;
    OUT("<nav class=\"pages\">%s: ", c->m[M_PAGE]);
    for (uint32_t p = 1; p <= pages; p++) {
        /* 1 2 3 … around the current … last: numbered as in 2005, but bounded */
        bool show = p <= 3 || p + 3 > pages || (p + 5 >= page && p <= page + 5);
        if (!show) {
            if (p == 4 || p == page + 6)
                PUT("<span class=\"gap\">…</span> ");
            continue;
        }
        if (p == page)
            OUT("<b>%" PRIu32 "</b> ", p);
        else {
            OUT("<a href=\"%s/journal?", c->pg->base);
            s_esc(c, fq);
            OUT("%spage=%" PRIu32 "\">%" PRIu32 "</a> ", fq[0] ? "&amp;" : "", p, p);
        }
    }
    PUT("</nav>\n");
}

static void s_filter_form(ctx_t *c)
{
    OUT("<form class=\"filters\" method=\"get\" action=\"%s/journal\">", c->pg->base);
    OUT("<label>%s <input name=\"host\" size=\"8\" value=\"", c->m[M_HOST]);
    s_esc(c, c->fhost);
    OUT("\"></label> <label>%s <input name=\"user\" size=\"8\" value=\"", c->m[M_USER]);
    s_esc(c, c->fuser);
    PUT("\"></label> ");
    if (c->sess >= 0)
        OUT("<input type=\"hidden\" name=\"session\" value=\"%" PRId64 "\">", c->sess);
    OUT("<label>%s <input type=\"date\" name=\"from\" value=\"%s\"></label> ", c->m[M_FROM],
        c->ffrom);
    OUT("<label>%s <input type=\"date\" name=\"to\" value=\"%s\"></label> ", c->m[M_TO], c->fto);
    OUT("<label><input type=\"checkbox\" name=\"failed\" value=\"1\"%s> %s</label> ",
        c->failed ? " checked" : "", c->m[M_FAILED_ONLY]);
    OUT("<label>%s <input type=\"search\" name=\"q\" value=\"", c->m[M_SEARCH]);
    s_esc(c, c->q);
    OUT("\"></label> <button>%s</button></form>\n", c->m[M_APPLY]);
}

static void s_journal(ctx_t *c, const char *title, const char *script)
{
    size_t count;
    uint64_t total;
    uint32_t page = 1, pages = 1, before = 0;
    bool more;
    uint32_t *ords = s_select(c, &count, &total, &page, &pages, &more, &before);
    char fq[4 * REQ_QUERY_MAX];
    s_filter_query(c, fq, sizeof fq);
    s_head(c, title, script);
    if (script && c->sess >= 0) {
        uint32_t nc;
        index_cmds(c->ix, &nc);
        OUT("<p class=\"livebar\" id=\"live\" data-api=\"%s/api/commands?session=%" PRId64
            "&amp;html=1\" data-since=\"%" PRIu32 "\">%s</p>\n",
            c->pg->base, c->sess, nc ? nc - 1 : 0, c->m[M_FOLLOWING]);
    }
    s_filter_form(c);
    char cnt[32];
    s_fmt_count(c, total, cnt, sizeof cnt);
    if (!c->q[0]) {
        OUT("<p class=\"total\">%s %s</p>\n", cnt, c->m[M_COMMANDS]);
        s_page_links(c, page, pages, fq);
    }
    PUT("<div id=\"journal\">\n");
    if (!count)
        OUT("<p class=\"empty\">%s</p>\n", c->m[M_NO_COMMANDS]);
    else
        s_commands_grouped(c, ords, count);
    PUT("</div>\n");
    if (c->q[0] && more) {
        OUT("<nav class=\"pages\"><a href=\"%s/journal?", c->pg->base);
        s_esc(c, fq);
        OUT("&amp;before=%" PRIu32 "\">%s →</a></nav>\n", before, c->m[M_OLDER]);
    } else if (!c->q[0]) {
        s_page_links(c, page, pages, fq);
    }
    s_foot(c);
    free(ords);
}

/* ---------------------------------------------------------------- index page */

static int s_cmp_count_desc(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b; /* pairs: count, id */
    return x[0] < y[0] ? 1 : x[0] > y[0] ? -1 : (x[1] > y[1]) - (x[1] < y[1]);
}

/* Count commands per interned id (host, user or word) over the visible, filtered set. */
typedef enum { BY_HOST, BY_USER, BY_WORD, BY_DAY } by_t;

static uint64_t *s_count_by(ctx_t *c, by_t by, size_t *n_out, uint64_t *total, uint64_t *failed)
{
    uint32_t nc, ns;
    const index_cmd_t *cmds = index_cmds(c->ix, &nc);
    const index_sess_t *ss = index_sessions(c->ix, &ns);
    /* ids are dense interned ids, or day numbers rebased */
    size_t cap = 1 << 16;
    uint64_t *pairs = NULL;
    size_t np = 0;
    uint64_t *counts = NULL;
    size_t ncounts = 0;
    int64_t day0 = 0;
    time_t off_lo = 1, off_hi = 0;
    long off = 0;
    *total = 0;
    if (failed)
        *failed = 0;
    for (uint32_t i = 0; i < nc; i++) {
        const index_cmd_t *cmd = &cmds[i];
        if (!s_cmd_matches(c, cmd))
            continue;
        (*total)++;
        if (failed && ((cmd->exit_code != 0 && cmd->exit_code != INDEX_NO_EXIT) || cmd->sig))
            (*failed)++;
        uint64_t id;
        if (by == BY_HOST)
            id = ss[cmd->sess].host;
        else if (by == BY_USER)
            id = ss[cmd->sess].user;
        else if (by == BY_WORD)
            id = cmd->word;
        else {
            /* days: local date. Zone offsets change at most on quarter hours, so one
               localtime_r per quarter hour of commands is enough (commands come in
               time order, the cache nearly always hits). */
            time_t t = (time_t)(cmd->start_us / 1000000);
            if (t < off_lo || t >= off_hi) {
                struct tm tm;
                localtime_r(&t, &tm);
                off = tm.tm_gmtoff;
                off_lo = t - (t % 900);
                off_hi = off_lo + 900;
            }
            int64_t d = ((int64_t)t + off) / 86400;
            if (!counts)
                day0 = d;
            id = (uint64_t)(d - day0 + (1 << 20));
        }
        if (id >= ncounts) {
            size_t nn = ncounts ? ncounts : cap;
            while (nn <= id)
                nn *= 2;
            uint64_t *g = realloc(counts, nn * sizeof *g);
            if (!g)
                break;
            memset(g + ncounts, 0, (nn - ncounts) * sizeof *g);
            counts = g;
            ncounts = nn;
        }
        counts[id]++;
    }
    for (size_t id = 0; id < ncounts; id++)
        if (counts[id])
            np++;
    pairs = malloc((np ? np : 1) * 2 * sizeof *pairs);
    np = 0;
    for (size_t id = 0; pairs && id < ncounts; id++) {
        if (!counts[id])
            continue;
        pairs[2 * np] = counts[id];
        pairs[2 * np + 1] = by == BY_DAY ? (uint64_t)((int64_t)id - (1 << 20) + day0) : id;
        np++;
    }
    free(counts);
    if (pairs && by != BY_DAY)
        qsort(pairs, np, 2 * sizeof *pairs, s_cmp_count_desc);
    *n_out = pairs ? np : 0;
    return pairs;
}

static void s_index(ctx_t *c)
{
    uint32_t ns;
    const index_sess_t *ss = index_sessions(c->ix, &ns);
    s_head(c, c->m[M_INDEX], NULL);
    uint64_t total;
    size_t n;
    char cnt[32];
    for (int pass = 0; pass < 2; pass++) {
        uint64_t *pairs = s_count_by(c, pass ? BY_USER : BY_HOST, &n, &total, NULL);
        OUT("<section class=\"list\"><h2>%s</h2><ul>", c->m[pass ? M_USERS : M_HOSTS]);
        for (size_t i = 0; pairs && i < n; i++) {
            const char *name = index_str(c->ix, (uint32_t)pairs[2 * i + 1]);
            char enc[800];
            req_pct_encode(name, enc, sizeof enc);
            OUT("<li><a href=\"%s/journal?%s=%s\">", c->pg->base, pass ? "user" : "host", enc);
            s_esc(c, name);
            s_fmt_count(c, pairs[2 * i], cnt, sizeof cnt);
            OUT("</a> <span class=\"n\">%s</span></li>", cnt);
        }
        PUT("</ul></section>\n");
        free(pairs);
    }
    /* Sessions, newest first, at most page_size of them per page. */
    char v[32];
    uint32_t page = 1;
    if (req_param(c->req->query, "page", v, sizeof v))
        page = (uint32_t)strtoul(v, NULL, 10);
    if (page < 1)
        page = 1;
    size_t size = (size_t)c->pg->page_size, skip = (size_t)(page - 1) * size, shown = 0;
    OUT("<section class=\"sessions\"><h2>%s</h2>\n<table><thead><tr><th>%s</th><th>%s</th>"
        "<th>tty</th><th>%s</th><th></th></tr></thead><tbody>\n",
        c->m[M_SESSIONS], c->m[M_STARTED], c->m[M_USER], c->m[M_COMMANDS]);
    bool more = false;
    for (uint32_t i = ns; i > 0; i--) {
        uint32_t si = i - 1;
        if (!s_sess_visible(c, si))
            continue;
        if ((c->host && ss[si].host != c->host) || (c->user && ss[si].user != c->user))
            continue;
        if (skip) {
            skip--;
            continue;
        }
        if (shown == size) {
            more = true;
            break;
        }
        shown++;
        char t[48];
        s_fmt_datetime(ss[si].start_us, t, sizeof t);
        OUT("<tr class=\"%s\"><td><a href=\"%s/journal?session=%" PRIu32 "\">%s</a></td><td>",
            ss[si].ended ? "ended" : "open", c->pg->base, si, t);
        s_esc(c, index_str(c->ix, ss[si].user));
        PUT("@");
        s_esc(c, index_str(c->ix, ss[si].host));
        PUT("</td><td>");
        s_esc(c, index_str(c->ix, ss[si].tty));
        OUT("</td><td>%" PRIu32 "</td><td>", ss[si].ncmds);
        if (!ss[si].ended)
            OUT("<a href=\"%s/live/%" PRIu32 "\">%s</a> ", c->pg->base, si, c->m[M_LIVE]);
        OUT("<a href=\"%s/replay/%" PRIu32 "\">%s</a></td></tr>\n", c->pg->base, si,
            c->m[M_REPLAY]);
    }
    PUT("</tbody></table>");
    if (page > 1)
        OUT("<a href=\"%s/?page=%" PRIu32 "\">←</a> ", c->pg->base, page - 1);
    if (more)
        OUT("<a href=\"%s/?page=%" PRIu32 "\">→</a>", c->pg->base, page + 1);
    PUT("</section>\n");
    s_foot(c);
}

/* ---------------------------------------------------------------- statistics */

static void s_bar_table(ctx_t *c, const char *title, const char *param, uint64_t *pairs,
                        size_t n, size_t max_rows, bool days)
{
    uint64_t top = 1;
    for (size_t i = 0; i < n && i < max_rows; i++)
        if (pairs[2 * i] > top)
            top = pairs[2 * i];
    OUT("<section class=\"stat\"><h2>%s</h2><table>", title);
    size_t start = days && n > max_rows ? n - max_rows : 0;
    for (size_t i = start; i < n && i < start + max_rows; i++) {
        char cnt[32], name[64];
        s_fmt_count(c, pairs[2 * i], cnt, sizeof cnt);
        PUT("<tr><td>");
        if (days) {
            time_t t = (time_t)((int64_t)pairs[2 * i + 1] * 86400);
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(name, sizeof name, "%Y-%m-%d", &tm);
            OUT("<a href=\"%s/journal?from=%s&amp;to=%s\">%s</a>", c->pg->base, name, name, name);
        } else {
            const char *s = index_str(c->ix, (uint32_t)pairs[2 * i + 1]);
            if (param) {
                char enc[800];
                req_pct_encode(s, enc, sizeof enc);
                OUT("<a href=\"%s/journal?%s=%s\">", c->pg->base, param, enc);
                s_esc(c, s);
                PUT("</a>");
            } else {
                s_esc(c, s[0] ? s : "—");
            }
        }
        OUT("</td><td class=\"n\">%s</td><td class=\"bar\"><span style=\"width:%d%%\"></span>"
            "</td></tr>",
            cnt, (int)(pairs[2 * i] * 100 / top));
    }
    PUT("</table></section>\n");
}

static void s_stats(ctx_t *c, bool json)
{
    uint64_t total, failed, t2;
    size_t nw, nd, nu, nh;
    uint64_t *words = s_count_by(c, BY_WORD, &nw, &total, &failed);
    uint64_t *days = s_count_by(c, BY_DAY, &nd, &t2, NULL);
    uint64_t *users = s_count_by(c, BY_USER, &nu, &t2, NULL);
    uint64_t *hosts = s_count_by(c, BY_HOST, &nh, &t2, NULL);
    if (json) {
        c->ctype = "application/json";
        OUT("{\"commands\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"failure_ratio\":%.4f,", total,
            failed, total ? (double)failed / (double)total : 0.0);
        const char *names[4] = {"top_commands", "per_day", "per_user", "per_host"};
        uint64_t *lists[4] = {words, days, users, hosts};
        size_t counts[4] = {nw < 50 ? nw : 50, nd, nu, nh};
        for (int k = 0; k < 4; k++) {
            OUT("\"%s\":[", names[k]);
            for (size_t i = 0; lists[k] && i < counts[k]; i++) {
                if (i)
                    PUT(",");
                PUT("[");
                if (k == 1) {
                    char name[32];
                    time_t t = (time_t)((int64_t)lists[k][2 * i + 1] * 86400);
                    struct tm tm;
                    gmtime_r(&t, &tm);
                    strftime(name, sizeof name, "%Y-%m-%d", &tm);
                    s_json_str(c->body, name);
                } else {
                    s_json_str(c->body, index_str(c->ix, (uint32_t)lists[k][2 * i + 1]));
                }
                OUT(",%" PRIu64 "]", lists[k][2 * i]);
            }
            PUT(k < 3 ? "]," : "]");
        }
        PUT("}\n");
    } else {
        s_head(c, c->m[M_STATS], NULL);
        s_filter_form(c);
        char cnt[32], fcnt[32];
        s_fmt_count(c, total, cnt, sizeof cnt);
        s_fmt_count(c, failed, fcnt, sizeof fcnt);
        OUT("<p class=\"ratio\">%s: <b>%.1f%%</b> (%s / %s %s)</p>\n", c->m[M_FAILURE_RATIO],
            total ? 100.0 * (double)failed / (double)total : 0.0, fcnt, cnt, c->m[M_COMMANDS]);
        s_bar_table(c, c->m[M_TOP_COMMANDS], NULL, words, nw, 20, false);
        s_bar_table(c, c->m[M_PER_DAY], NULL, days, nd, 60, true);
        s_bar_table(c, c->m[M_PER_USER], "user", users, nu, 50, false);
        s_bar_table(c, c->m[M_PER_HOST], "host", hosts, nh, 50, false);
        s_foot(c);
    }
    free(words);
    free(days);
    free(users);
    free(hosts);
}

/* ---------------------------------------------------------------- one command page */

static bool s_cmd_visible(ctx_t *c, uint32_t ord)
{
    uint32_t nc;
    const index_cmd_t *cmds = index_cmds(c->ix, &nc);
    return ord < nc && s_sess_visible(c, cmds[ord].sess);
}

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

static void s_cmd_page(ctx_t *c, uint32_t ord)
{
    l3_record_t r;
    if (!s_cmd_visible(c, ord) || !index_load_cmd(c->ix, ord, &r)) {
        s_error_page(c, 404, c->m[M_NOT_FOUND]);
        return;
    }
    char v[8];
    bool full = req_param(c->req->query, "full", v, sizeof v) && v[0] == '1';
    char title[64], dbuf[96];
    uint32_t nc;
    const index_cmd_t *cmd = &index_cmds(c->ix, &nc)[ord];
    snprintf(title, sizeof title, "#%" PRIu32, ord);
    s_head(c, title, NULL);
    s_fmt_day(c, r.start_us, dbuf, sizeof dbuf);
    PUT("<h2 class=\"day\">");
    s_esc(c, dbuf);
    PUT("</h2>\n");
    s_session_heading(c, cmd->sess);
    s_command_html(c, ord, &r, true, full);
    PUT("</section>\n");
    OUT("<p><a href=\"%s/journal?session=%" PRIu32 "\">%s</a></p>\n", c->pg->base, cmd->sess,
        c->m[M_SESSION]);
    s_foot(c);
    l3_record_clear(&r);
}

/* ---------------------------------------------------------------- JSON */

static void s_json_cmd(ctx_t *c, uint32_t ord, const l3_record_t *r, bool html)
{
    uint32_t nc, ns;
    const index_cmd_t *cmd = &index_cmds(c->ix, &nc)[ord];
    const index_sess_t *s = &index_sessions(c->ix, &ns)[cmd->sess];
    char t1[40], t2[40];
    s_fmt_iso(r->start_us, t1, sizeof t1);
    s_fmt_iso(r->end_us, t2, sizeof t2);
    OUT("{\"id\":%" PRIu32 ",\"session\":%" PRIu32 ",\"host\":", ord, cmd->sess);
    s_json_str(c->body, index_str(c->ix, s->host));
    PUT(",\"user\":");
    s_json_str(c->body, index_str(c->ix, s->user));
    PUT(",\"sid\":");
    s_json_str(c->body, index_str(c->ix, s->sid));
    OUT(",\"nr\":%" PRIu64 ",\"start\":\"%s\",\"end\":\"%s\",", r->nr, t1, t2);
    if (r->has_exit)
        OUT("\"exit\":%" PRId32 ",", r->exit_code);
    else
        PUT("\"exit\":null,");
    char flags[128];
    l3_record_flags_format(r->flags, flags, sizeof flags);
    OUT("\"signal\":%" PRId32 ",\"flags\":", r->signal);
    s_json_str(c->body, flags);
    PUT(",\"cwd\":");
    s_json_bytes(c->body, r->cwd.data, r->cwd.len);
    PUT(",\"cmd\":");
    s_json_bytes(c->body, r->cmdline.data, r->cmdline.len);
    OUT(",\"dropped\":%" PRIu64 ",\"output\":", r->dropped);
    s_json_bytes(c->body, r->output.data, r->output.len);
    if (r->diff.len) {
        PUT(",\"diff\":");
        s_json_bytes(c->body, r->diff.data, r->diff.len);
    }
    if (html) {
        /* The live page inserts this fragment as is: rendered (and escaped) here. */
        l3_buf_t *saved = c->body, frag;
        l3_buf_init(&frag, CMD_HTML_MAX);
        c->body = &frag;
        s_command_html(c, ord, r, true, false);
        c->body = saved;
        PUT(",\"html\":");
        s_json_bytes(c->body, frag.data, frag.len);
        l3_buf_free(&frag);
    }
    PUT("}");
}

static void s_api_commands(ctx_t *c)
{
    char v[32];
    uint32_t nc;
    const index_cmd_t *cmds = index_cmds(c->ix, &nc);
    c->ctype = "application/json";
    bool html = req_param(c->req->query, "html", v, sizeof v) && v[0] == '1';
    size_t limit = (size_t)c->pg->page_size;
    int64_t since = -1;
    if (!c->export_all && req_param(c->req->query, "limit", v, sizeof v)) {
        unsigned long l = strtoul(v, NULL, 10);
        if (l >= 1 && l <= 1000)
            limit = l;
    }
    uint32_t *ords = NULL;
    size_t n = 0;
    bool more = false, searched = false;
    uint32_t resume = 0;
    bool follow = false;
    if (c->export_all && c->sess >= 0) {
        /* every command of the session, from the first */
        uint32_t ns;
        limit = index_sessions(c->ix, &ns)[c->sess].ncmds + 1;
        follow = true;
        c->q[0] = 0;
    } else if (req_param(c->req->query, "since", v, sizeof v) && v[0]) {
        since = strtoll(v, NULL, 10);
        follow = since >= 0;
    }
    if (follow || !c->q[0]) {
        /* Ascending from the cursor: the following case. Without a cursor: the newest. */
        ords = malloc(limit * sizeof *ords);
        if (follow) {
            if (c->sess >= 0) {
                uint32_t ns;
                const index_sess_t *s = &index_sessions(c->ix, &ns)[c->sess];
                for (uint32_t i = 0; ords && i < s->ncmds; i++) {
                    uint32_t o = s->cmds[i];
                    if ((int64_t)o > since && s_cmd_matches(c, &cmds[o])) {
                        if (n == limit) {
                            more = true;
                            break;
                        }
                        ords[n++] = o;
                    }
                }
            } else {
                for (uint32_t o = (uint32_t)(since + 1); ords && since < (int64_t)nc && o < nc;
                     o++) {
                    if (s_cmd_matches(c, &cmds[o])) {
                        if (n == limit) {
                            more = true;
                            break;
                        }
                        ords[n++] = o;
                    }
                }
            }
        } else {
            for (uint32_t o = nc; ords && o > 0; o--) {
                if (s_cmd_matches(c, &cmds[o - 1])) {
                    if (n == limit) {
                        more = true;
                        break;
                    }
                    ords[n++] = o - 1;
                }
            }
            if (ords)
                qsort(ords, n, sizeof *ords, s_cmp_u32);
        }
    } else {
        uint32_t before = UINT32_MAX;
        if (req_param(c->req->query, "before", v, sizeof v))
            before = (uint32_t)strtoul(v, NULL, 10);
        search_acc_t a = {c, calloc(limit, sizeof(uint32_t)), 0};
        searched = true;
        if (a.ords)
            search_commands(c->ix, c->q, before, limit, c->pg->search_budget_us, s_search_accept, &a,
                      &more, &resume);
        ords = a.ords;
        n = a.n;
        if (ords)
            qsort(ords, n, sizeof *ords, s_cmp_u32);
    }
    PUT("{\"commands\":[");
    for (size_t i = 0; i < n; i++) {
        l3_record_t r;
        if (!index_load_cmd(c->ix, ords[i], &r))
            continue;
        if (i)
            PUT(",");
        s_json_cmd(c, ords[i], &r, html);
        l3_record_clear(&r);
    }
    uint32_t next = n ? ords[n - 1] : (since >= 0 ? (uint32_t)since : 0);
    if (since < 0 && n == 0 && nc)
        next = nc - 1;
    if (searched)
        OUT("],\"before\":%" PRIu32 ",\"more\":%s}\n", resume, more ? "true" : "false");
    else
        OUT("],\"next\":%" PRIu32 ",\"more\":%s}\n", next, more ? "true" : "false");
    free(ords);
}

static void s_api_sessions(ctx_t *c)
{
    uint32_t ns;
    const index_sess_t *ss = index_sessions(c->ix, &ns);
    c->ctype = "application/json";
    PUT("{\"sessions\":[");
    bool first = true;
    for (uint32_t si = 0; si < ns; si++) {
        if (!s_sess_visible(c, si) || (c->host && ss[si].host != c->host) ||
            (c->user && ss[si].user != c->user))
            continue;
        char t1[40], t2[40];
        s_fmt_iso(ss[si].start_us, t1, sizeof t1);
        s_fmt_iso(ss[si].end_us, t2, sizeof t2);
        OUT("%s{\"id\":%" PRIu32 ",\"host\":", first ? "" : ",", si);
        s_json_str(c->body, index_str(c->ix, ss[si].host));
        PUT(",\"user\":");
        s_json_str(c->body, index_str(c->ix, ss[si].user));
        PUT(",\"sid\":");
        s_json_str(c->body, index_str(c->ix, ss[si].sid));
        PUT(",\"tty\":");
        s_json_str(c->body, index_str(c->ix, ss[si].tty));
        OUT(",\"start\":\"%s\",\"end\":\"%s\",\"open\":%s,\"commands\":%" PRIu32 "}", t1, t2,
            ss[si].ended ? "false" : "true", ss[si].ncmds);
        first = false;
    }
    PUT("]}\n");
}

/* ---------------------------------------------------------------- exports */

static void s_export_text(ctx_t *c, uint32_t si)
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
        s_fmt_datetime(r.start_us, t, sizeof t);
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
static void s_export_cast(ctx_t *c, uint32_t si)
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
    s_json_str(c->body, title);
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
        s_json_bytes(c->body, prompt.data, prompt.len);
        PUT("]\n");
        /* Output chunks by the timing lines; whatever they do not cover comes last. */
        size_t at = 0;
        const char *tp = (const char *)r.timing.data, *tend = tp + r.timing.len;
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
            if (sscanf(linebuf, "%lf %llu", &delay, &nbytes) != 2 || delay < 0 || delay > 1e6)
                break;
            if (nbytes > r.output.len - at)
                nbytes = r.output.len - at;
            t += delay;
            OUT("[%.6f,\"o\",", t);
            s_json_bytes(c->body, r.output.data + at, (size_t)nbytes);
            PUT("]\n");
            at += (size_t)nbytes;
            tp = nl ? nl + 1 : tend;
        }
        if (at < r.output.len) {
            OUT("[%.6f,\"o\",", t);
            s_json_bytes(c->body, r.output.data + at, r.output.len - at);
            PUT("]\n");
        }
        last = t;
        l3_record_clear(&r);
    }
    l3_buf_free(&prompt);
}

static void s_replay_page(ctx_t *c, uint32_t si)
{
    char title[64];
    snprintf(title, sizeof title, "%s #%" PRIu32, c->m[M_REPLAY], si);
    s_head(c, title, "replay.js");
    uint32_t ns;
    const index_sess_t *s = &index_sessions(c->ix, &ns)[si];
    s_session_heading(c, si);
    PUT("</section>\n");
    OUT("<div class=\"player\" id=\"player\" data-cast=\"%s/session/%" PRIu32
        ".cast\" data-cols=\"%u\" data-rows=\"%u\"><noscript><p>%s</p></noscript></div>\n",
        c->pg->base, si, s->cols ? s->cols : 80, s->rows ? s->rows : 24, c->m[M_NOJS_REPLAY]);
    OUT("<p><a href=\"%s/session/%" PRIu32 ".txt\">%s</a> · <a href=\"%s/session/%" PRIu32
        ".cast\">%s</a></p>\n",
        c->pg->base, si, c->m[M_TEXT], c->pg->base, si, c->m[M_CAST]);
    s_foot(c);
}

/* ---------------------------------------------------------------- routing */

static int s_pick_language(pages_t *pg, const char *accept)
{
    if (pg->language >= 0)
        return pg->language;
    /* The first of ru/en in the header, by q when given; default English. */
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
    int lang = s_pick_language(self, req->lang);
    const char **m = lang ? s_ru : s_en;
    l3_buf_printf(&body,
                  "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>"
                  "<link rel=\"stylesheet\" href=\"%s\"></head><body><main><h1>%s: %d%%</h1>"
                  "</main></body></html>\n",
                  m[M_INDEXING], self->css, m[M_INDEXING], percent);
    s_http(resp, 503, "text/html; charset=utf-8", "Retry-After: 2\r\n", &body,
           !strcmp(req->method, "HEAD"));
    l3_buf_free(&body);
}

void pages_handle(pages_t *self, index_t *index, const req_t *req, l3_buf_t *resp)
{
    l3_buf_t body;
    l3_buf_init(&body, BODY_MAX);
    ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx_t *c = &ctx;
    c->pg = self;
    c->ix = index;
    c->req = req;
    c->lang = s_pick_language(self, req->lang);
    c->m = c->lang ? s_ru : s_en;
    c->body = &body;
    c->status = 200;
    c->ctype = "text/html; charset=utf-8";
    self->whatis_new = 16;
    /* Access: no remote user = single-machine default, everything. */
    if (!req->user[0]) {
        c->all = true;
    } else {
        c->all = s_is_instructor(self, req->user);
        c->me = index_str_id(index, req->user);
    }
    s_read_filters(c);

    const char *path = req->path;
    uint32_t id;
    uint32_t ns;
    index_sessions(index, &ns);
    if (!strcmp(path, "/") || !strcmp(path, "/index")) {
        s_index(c);
    } else if (!strcmp(path, "/journal") || !strcmp(path, "/search")) {
        s_journal(c, c->q[0] ? c->m[M_SEARCH] : c->m[M_JOURNAL], NULL);
    } else if (!strcmp(path, "/stats")) {
        s_stats(c, false);
    } else if (!strncmp(path, "/cmd/", 5) && s_parse_u32(path + 5, &id, NULL)) {
        s_cmd_page(c, id);
    } else if (!strncmp(path, "/session/", 9) || !strncmp(path, "/live/", 6) ||
               !strncmp(path, "/replay/", 8)) {
        const char *num = strchr(path + 1, '/') + 1;
        const char *dot = strchr(num, '.');
        const char *ext = dot ? dot : "";
        bool ok = s_parse_u32(num, &id, ext) && id < ns && s_sess_visible(c, id);
        if (!ok || (path[1] != 's' && *ext)) {
            s_error_page(c, 404, c->m[M_NOT_FOUND]);
        } else if (!strcmp(ext, ".txt")) {
            s_export_text(c, id);
        } else if (!strcmp(ext, ".cast")) {
            s_export_cast(c, id);
        } else if (!strcmp(ext, ".json")) {
            c->sess = id;
            c->export_all = true;
            s_api_commands(c);
        } else if (*ext) {
            s_error_page(c, 404, c->m[M_NOT_FOUND]);
        } else if (path[1] == 'r') {
            s_replay_page(c, id);
        } else {
            c->sess = id;
            char title[80];
            snprintf(title, sizeof title, "%s #%" PRIu32, c->m[M_SESSION], id);
            s_journal(c, title, path[1] == 'l' ? "live.js" : NULL);
        }
    } else if (!strcmp(path, "/api/sessions")) {
        s_api_sessions(c);
    } else if (!strcmp(path, "/api/commands")) {
        s_api_commands(c);
    } else if (!strcmp(path, "/api/stats")) {
        s_stats(c, true);
    } else if (!strncmp(path, "/api/cmd/", 9) && s_parse_u32(path + 9, &id, NULL)) {
        l3_record_t r;
        if (!s_cmd_visible(c, id) || !index_load_cmd(index, id, &r)) {
            c->status = 404;
            c->ctype = "application/json";
            PUT("{\"error\":\"not found\"}\n");
        } else {
            c->ctype = "application/json";
            s_json_cmd(c, id, &r, false);
            PUT("\n");
            l3_record_clear(&r);
        }
    } else {
        s_error_page(c, 404, c->m[M_NOT_FOUND]);
    }
    if (body.failed) {
        l3_buf_reset(&body);
        body.failed = false;
        s_error_page(c, 503, "response too large");
    }
    s_http(resp, c->status, c->ctype, c->extra_headers, &body, !strcmp(req->method, "HEAD"));
    l3_buf_free(&body);
}
