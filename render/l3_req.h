/*  l3_req — a journal request: CGI input validated, and the frames it travels in.

    l3-cgi validates what the web server hands it before anything reaches render, and
    render validates the frames again (it may be asked by anything that can reach its
    socket). Every length is capped: a path over L3_REQ_PATH_MAX or a query over
    L3_REQ_QUERY_MAX is 414; a path with "..", "//", a control byte or a character outside
    [A-Za-z0-9._~/-] is 400; bad percent-encoding or a decoded query value that is not
    text is 400; a method other than GET or HEAD is 405.

    Wire format l3-cgi -> render (REQ/REP): frames "L3R1", method, path, query,
    remote user, Accept-Language. Reply: one frame, a complete HTTP/1.1 response. */
#ifndef L3_REQ_H
#define L3_REQ_H

#include <stdbool.h>
#include <stddef.h>

#define L3_REQ_PATH_MAX 512
#define L3_REQ_QUERY_MAX 2048
#define L3_REQ_USER_MAX 255
#define L3_REQ_LANG_MAX 128
#define L3_REQ_VALUE_MAX 512
#define L3_REQ_MAGIC "L3R1"

typedef struct {
    char method[8];
    char path[L3_REQ_PATH_MAX + 1];
    char query[L3_REQ_QUERY_MAX + 1];
    char user[L3_REQ_USER_MAX + 1];
    char lang[L3_REQ_LANG_MAX + 1];
} l3_req_t;

/* Validate and copy the CGI inputs (any may be NULL = empty). Returns 0 when fine, else
   the HTTP status to answer (400, 405, 414) with a reason in err. */
int l3_req_set(l3_req_t *req, const char *method, const char *path, const char *query,
               const char *user, const char *lang, char *err, size_t errlen);

/* Percent-decode in[0..len) into out (NUL-terminated, at most size-1 bytes); '+' is a
   space when plus is true. false on bad encoding, a NUL byte, or overflow. */
bool l3_pct_decode(const char *in, size_t len, bool plus, char *out, size_t size);

/* Value of key in an already validated query string, decoded. false when absent. */
bool l3_req_param(const char *query, const char *key, char *out, size_t size);

/* Percent-encode s for a query value into out. */
void l3_pct_encode(const char *s, char *out, size_t size);

#endif
