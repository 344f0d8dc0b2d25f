/*  fcgi — a FastCGI responder loop, so l3-cgi can stay running under a web server
    that spawns it (lighttpd fastcgi.server bin-path, spawn-fcgi, systemd sockets).

    Why: as a CGI program l3-cgi is exec'd per request, and on a busy journal that fork
    and exec costs more than render's answer. Same program, same validation; only the
    transport differs. FastCGI 1.0, responder role only: BEGIN_REQUEST, PARAMS, STDIN
    in; STDOUT, END_REQUEST out; FCGI_KEEP_CONN honoured; GET_VALUES answered; every
    length capped (params 64 KiB per request), anything else closes the connection. */
#ifndef FCGI_H
#define FCGI_H

#include "l3_buf.h"
#include <stdbool.h>
#include <stddef.h>

#define FCGI_PARAMS_MAX (64u << 10)

/* One request's parameters (CGI environment). */
typedef struct fcgi_params_t fcgi_params_t;

/* Value of a parameter, or NULL. */
const char *fcgi_param(const fcgi_params_t *params, const char *name);

/* Handle one request: append the CGI response ("Status: ...", headers, body) to out. */
typedef void(fcgi_handler_fn)(const fcgi_params_t *params, l3_buf_t *out, void *arg);

/* True when fd is a listening socket (how a FastCGI server hands it over: fd 0). */
bool fcgi_is_listener(int fd);

/* Accept connections on listen_fd and serve requests until a signal stops it (returns
   0) or accept fails for good (-1). One request at a time. */
int fcgi_serve(int listen_fd, fcgi_handler_fn *handler, void *arg);

#endif
