/*  l3-cgi — the CGI/1.1 program between any web server and l3-render.

    Reads REQUEST_METHOD, PATH_INFO, QUERY_STRING, REMOTE_USER and HTTP_ACCEPT_LANGUAGE,
    validates and caps them (req.h: 400/405/414 answered here, render never sees
    them), asks render over REQ with one deadline for connect + send + reply, and prints
    the response with its status line turned into a CGI "Status:" header. When render
    does not answer in time: 504 (well under 3 s by default). Logs go to stderr only;
    stdout carries nothing but the response.

    Render's endpoint: $L3_RENDER, else cgi/render or render/bind of the config named by
    $L3_CONFIG (default the installed SYSCONFDIR/lilalo/lilalo.cfg when it exists and
    this is not a build-tree l3-cgi, l3_paths.h), else
    ipc:///run/lilalo/render/render.sock. render lets only the web server's account in
    (render/access.h): when it refuses us, the answer is 502 at once, with the reason
    and our uid on stderr, not a 504 after the timeout.

    It is exec'd once per request, so it links nothing heavy: the exchange with render is
    zmtp (ZMTP 3.0 by hand, not libzmq) and the two config keys it needs are read by
    a small ZPL reader here, not zconfig. That keeps a request's process cost near a
    plain fork/exec. */
#include "fcgi.h"
#include "l3_log.h"
#include "l3_paths.h"
#include "req.h"
#include "l3_time.h"
#include "zmtp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESPONSE_MAX (80u << 20)

static bool s_write_all(const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(STDOUT_FILENO, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static void s_error(l3_buf_t *out, int status, const char *reason, const char *detail, bool head)
{
    char body[1024];
    int bl = snprintf(body, sizeof body,
                      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%d %s</title>"
                      "</head><body><h1>%d %s</h1><p>%s</p></body></html>\n",
                      status, reason, status, reason, detail);
    char head_buf[512];
    int hl = snprintf(head_buf, sizeof head_buf,
                      "Status: %d %s\r\nContent-Type: text/html; charset=utf-8\r\n"
                      "Content-Length: %d\r\nX-Content-Type-Options: nosniff\r\n%s\r\n",
                      status, reason, bl, status == 405 ? "Allow: GET, HEAD\r\n" : "");
    l3_buf_append(out, head_buf, (size_t)hl);
    if (!head)
        l3_buf_append(out, body, (size_t)bl);
}

static const char *s_reason(int status)
{
    return status == 405 ? "Method Not Allowed" : status == 414 ? "URI Too Long" : "Bad Request";
}

/* The value of key in section of a ZPL file (two levels: "section" then indented
   "key = value", value optionally quoted). false when absent or unreadable. */
static bool s_zpl_get(const char *path, const char *section, const char *key, char *out,
                      size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        l3_warn("config %s: %s", path, strerror(errno));
        return false;
    }
    char line[1024];
    bool in_section = false, found = false;
    while (!found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *p = line;
        size_t indent = strspn(p, " ");
        p += indent;
        if (!*p || *p == '#')
            continue;
        if (indent == 0) {
            size_t n = strcspn(p, " =#");
            in_section = n == strlen(section) && !strncmp(p, section, n);
            continue;
        }
        if (!in_section || indent != 4)
            continue;
        size_t n = strcspn(p, " =");
        if (n != strlen(key) || strncmp(p, key, n) != 0)
            continue;
        p += n;
        p += strspn(p, " ");
        if (*p != '=')
            continue;
        p++;
        p += strspn(p, " ");
        char q = (*p == '"' || *p == '\'') ? *p++ : 0;
        size_t vl = q ? strcspn(p, q == '"' ? "\"" : "'") : strcspn(p, " #");
        if (vl >= size)
            break;
        memcpy(out, p, vl);
        out[vl] = 0;
        found = true;
    }
    fclose(f);
    return found;
}

typedef struct {
    const char *endpoint;
    int timeout_ms;
    int fd; /* FastCGI mode: the connection to render, kept between requests */
} cgi_t;

typedef const char *(lookup_fn)(const void *src, const char *name);

static const char *s_from_env(const void *src, const char *name)
{
    (void)src;
    return getenv(name);
}

static const char *s_from_params(const void *src, const char *name)
{
    return fcgi_param(src, name);
}

/* One request, from CGI variables to the complete CGI response in out. */
static void s_answer(cgi_t *self, lookup_fn *get, const void *src, l3_buf_t *out)
{
    const char *method = get(src, "REQUEST_METHOD");
    bool head = method && !strcmp(method, "HEAD");
    req_t req;
    char err[128];
    int status = req_set(&req, method, get(src, "PATH_INFO"), get(src, "QUERY_STRING"),
                            get(src, "REMOTE_USER"), get(src, "HTTP_ACCEPT_LANGUAGE"), err,
                            sizeof err);
    if (status != 0) {
        l3_warn("refused %s request: %s", method ? method : "(none)", err);
        s_error(out, status, s_reason(status), err, head);
        return;
    }
    const char *frames[6] = {REQ_MAGIC, req.method, req.path, req.query, req.user, req.lang};
    size_t lens[6];
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(frames[i]);
    l3_buf_t reply;
    l3_buf_init(&reply, RESPONSE_MAX);
    int64_t deadline = l3_time_mono_us() + (int64_t)self->timeout_ms * 1000;
    char why[128] = "";
    int rc = zmtp_exchange(&self->fd, self->endpoint, frames, lens, 6, &reply, deadline, why,
                              sizeof why);
    /* Refused or reset: render may be restarting. Wait for it until the deadline, as
       libzmq's reconnect would, so a restart is a slow page, not an error. A handshake
       cut twice in a row is no restart (a restarting render refuses the connect
       itself): render is refusing us without saying so. */
    int cuts = rc == ZMTP_CUT;
    while ((rc == ZMTP_ERROR || rc == ZMTP_CUT) && cuts < 2 &&
           l3_time_mono_us() + 100000 < deadline) {
        usleep(100000);
        rc = zmtp_exchange(&self->fd, self->endpoint, frames, lens, 6, &reply, deadline, why,
                              sizeof why);
        cuts = rc == ZMTP_CUT ? cuts + 1 : 0;
    }
    if (rc == ZMTP_REFUSED || cuts >= 2) {
        /* A setup error, not a slow render: say so at once, and who we are. */
        l3_error("render at %s refused l3-cgi running as uid %u: %s; only the accounts in "
                 "render/web_users may ask for pages",
                 self->endpoint, (unsigned)geteuid(), why);
        s_error(out, 502, "Bad Gateway",
                "the journal service does not accept requests from this web server", head);
    } else if (rc != 0) {
        l3_error("render at %s did not answer within %d ms: %s", self->endpoint,
                 self->timeout_ms, why);
        s_error(out, 504, "Gateway Timeout", "the journal service did not answer in time", head);
    } else if (reply.len < 13 || memcmp(reply.data, "HTTP/1.1 ", 9) != 0) {
        l3_error("render sent a malformed response (%zu bytes)", reply.len);
        s_error(out, 502, "Bad Gateway", "the journal service sent a malformed response", head);
    } else {
        /* "HTTP/1.1 200 OK\r\n..." becomes "Status: 200 OK\r\n..." */
        l3_buf_append(out, "Status: ", 8);
        l3_buf_append(out, reply.data + 9, reply.len - 9);
    }
    l3_buf_free(&reply);
}

static void s_fcgi_handler(const fcgi_params_t *params, l3_buf_t *out, void *arg)
{
    s_answer(arg, s_from_params, params, out);
}

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: l3-cgi   (run by a web server as a CGI/1.1 or FastCGI program)\n"
               "Environment: REQUEST_METHOD, PATH_INFO, QUERY_STRING, REMOTE_USER,\n"
               "HTTP_ACCEPT_LANGUAGE; L3_RENDER (render endpoint), L3_CONFIG (config file,\n"
               "keys cgi/render, cgi/timeout_ms), default %s.\n"
               "When started with a listening socket as stdin (FastCGI), it stays and serves\n"
               "requests on it.\n",
               l3_paths_config_installed());
        return 0;
    }
    l3_log_init("l3-cgi", false, L3_LOG_WARN);
    cgi_t self = {getenv("L3_RENDER"), 2000, -1};
    char ep_buf[512], num[32];
    if (!self.endpoint || !*self.endpoint) {
        const char *path = getenv("L3_CONFIG");
        if (!path || !*path)
            path = l3_paths_config_default();
        self.endpoint = "ipc:///run/lilalo/render/render.sock"; /* ACCESS_DEFAULT_BIND */
        if (path && *path) {
            if (s_zpl_get(path, "cgi", "render", ep_buf, sizeof ep_buf) ||
                s_zpl_get(path, "render", "bind", ep_buf, sizeof ep_buf))
                self.endpoint = ep_buf;
            if (s_zpl_get(path, "cgi", "timeout_ms", num, sizeof num)) {
                long t = strtol(num, NULL, 10);
                if (t >= 100 && t <= 60000)
                    self.timeout_ms = (int)t;
            }
        }
    }
    if (fcgi_is_listener(STDIN_FILENO))
        return fcgi_serve(STDIN_FILENO, s_fcgi_handler, &self) == 0 ? 0 : 1;
    l3_buf_t out;
    l3_buf_init(&out, RESPONSE_MAX + 4096);
    s_answer(&self, s_from_env, NULL, &out);
    int rc = s_write_all(out.data, out.len) ? 0 : 1; /* else the client went away */
    l3_buf_free(&out);
    return rc;
}
