/*  l3-cgi — the CGI/1.1 program between any web server and l3-render.

    Reads REQUEST_METHOD, PATH_INFO, QUERY_STRING, REMOTE_USER and HTTP_ACCEPT_LANGUAGE,
    validates and caps them (l3_req.h: 400/405/414 answered here, render never sees
    them), asks render over REQ with one deadline for connect + send + reply, and prints
    the response with its status line turned into a CGI "Status:" header. When render
    does not answer in time: 504 (well under 3 s by default). Logs go to stderr only;
    stdout carries nothing but the response.

    Render's endpoint: $L3_RENDER, else cgi/render or render/bind of the config named by
    $L3_CONFIG (default /etc/lilalo/lilalo.cfg when it exists), else tcp://127.0.0.1:5690. */
#include "l3_config.h"
#include "l3_log.h"
#include "l3_req.h"
#include "l3_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

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

static void s_error(int status, const char *reason, const char *detail, bool head)
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
    s_write_all(head_buf, (size_t)hl);
    if (!head)
        s_write_all(body, (size_t)bl);
}

static const char *s_reason(int status)
{
    return status == 405 ? "Method Not Allowed" : status == 414 ? "URI Too Long" : "Bad Request";
}

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: l3-cgi   (run by a web server as a CGI/1.1 program)\n"
               "Environment: REQUEST_METHOD, PATH_INFO, QUERY_STRING, REMOTE_USER,\n"
               "HTTP_ACCEPT_LANGUAGE; L3_RENDER (render endpoint), L3_CONFIG (config file,\n"
               "keys cgi/render, cgi/timeout_ms), default /etc/lilalo/lilalo.cfg.\n");
        return 0;
    }
    l3_log_init("l3-cgi", false, L3_LOG_WARN);
    const char *method = getenv("REQUEST_METHOD");
    bool head = method && !strcmp(method, "HEAD");
    l3_req_t req;
    char err[128];
    int status = l3_req_set(&req, method, getenv("PATH_INFO"), getenv("QUERY_STRING"),
                            getenv("REMOTE_USER"), getenv("HTTP_ACCEPT_LANGUAGE"), err, sizeof err);
    if (status != 0) {
        l3_warn("refused %s request: %s", method ? method : "(none)", err);
        s_error(status, s_reason(status), err, head);
        return 0;
    }

    const char *endpoint = getenv("L3_RENDER");
    int timeout_ms = 2000;
    l3_config_t *cfg = NULL;
    if (!endpoint || !*endpoint) {
        const char *path = getenv("L3_CONFIG");
        if ((!path || !*path) && access("/etc/lilalo/lilalo.cfg", R_OK) == 0)
            path = "/etc/lilalo/lilalo.cfg";
        cfg = path && *path ? l3_config_load(path) : NULL;
        endpoint = l3_config_str(cfg, "cgi/render",
                                 l3_config_str(cfg, "render/bind", "tcp://127.0.0.1:5690"));
        timeout_ms = (int)l3_config_int(cfg, "cgi/timeout_ms", 2000, 100, 60000);
    }

    int rc = 0;
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_REQ);
    int linger = 0;
    int64_t maxmsg = RESPONSE_MAX;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    int64_t deadline = l3_time_mono_us() + (int64_t)timeout_ms * 1000;
    zmq_msg_t reply;
    zmq_msg_init(&reply);
    if (zmq_connect(sock, endpoint) != 0) {
        l3_error("cannot connect to render at %s: %s", endpoint, zmq_strerror(errno));
        s_error(502, "Bad Gateway", "the journal service is misconfigured", head);
        goto cleanup;
    }
    const char *frames[6] = {L3_REQ_MAGIC, req.method, req.path, req.query, req.user, req.lang};
    bool sent = true;
    for (int i = 0; i < 6 && sent; i++)
        sent = zmq_send(sock, frames[i], strlen(frames[i]), i < 5 ? ZMQ_SNDMORE : 0) >= 0;
    bool got = false;
    while (sent) {
        int64_t left = (deadline - l3_time_mono_us()) / 1000;
        if (left <= 0)
            break;
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&item, 1, (long)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got = zmq_msg_recv(&reply, sock, 0) >= 0;
        break;
    }
    if (!got) {
        l3_error("render at %s did not answer within %d ms", endpoint, timeout_ms);
        s_error(504, "Gateway Timeout", "the journal service did not answer in time", head);
        goto cleanup;
    }
    const char *resp = zmq_msg_data(&reply);
    size_t len = zmq_msg_size(&reply);
    /* "HTTP/1.1 200 OK\r\n..." becomes "Status: 200 OK\r\n..." */
    if (len < 13 || memcmp(resp, "HTTP/1.1 ", 9) != 0) {
        l3_error("render sent a malformed response (%zu bytes)", len);
        s_error(502, "Bad Gateway", "the journal service sent a malformed response", head);
        goto cleanup;
    }
    if (!s_write_all("Status: ", 8) || !s_write_all(resp + 9, len - 9))
        rc = 1; /* the client went away: nothing to tell anyone but the log */
cleanup:
    zmq_msg_close(&reply);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    l3_config_destroy(&cfg);
    return rc;
}
