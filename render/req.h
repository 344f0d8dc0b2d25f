/*  req — a journal request: CGI input validated, and the frames it travels in.

    l3-cgi validates what the web server hands it before anything reaches render, and
    render validates the frames again (it may be asked by anything that can reach its
    socket). Every length is capped: a path over REQ_PATH_MAX or a query over
    REQ_QUERY_MAX is 414; a path with "..", "//", a control byte or a character outside
    [A-Za-z0-9._~/-] is 400; bad percent-encoding or a decoded query value that is not
    text is 400; a method other than GET or HEAD is 405.

    Wire format l3-cgi -> render (REQ/REP): frames "L3R1", method, path, query,
    remote user, Accept-Language. Reply: one frame, a complete HTTP/1.1 response. */
#ifndef REQ_H
#define REQ_H

#include <stdbool.h>
#include <stddef.h>

#define REQ_PATH_MAX 512
#define REQ_QUERY_MAX 2048
#define REQ_USER_MAX 255
#define REQ_LANG_MAX 128
#define REQ_VALUE_MAX 512
#define REQ_MAGIC "L3R1"

typedef struct {
    char method[8];
    char path[REQ_PATH_MAX + 1];
    char query[REQ_QUERY_MAX + 1];
    char user[REQ_USER_MAX + 1];
    char lang[REQ_LANG_MAX + 1];
} req_t;

/* Validate and copy the CGI inputs (any may be NULL = empty). Returns 0 when fine, else
   the HTTP status to answer (400, 405, 414) with a reason in err. */
int req_set(req_t *req, const char *method, const char *path, const char *query,
               const char *user, const char *lang, char *err, size_t errlen);

/* Percent-decode in[0..len) into out (NUL-terminated, at most size-1 bytes); '+' is a
   space when plus is true. false on bad encoding, a NUL byte, or overflow. */
bool req_pct_decode(const char *in, size_t len, bool plus, char *out, size_t size);

/* Value of key in an already validated query string, decoded. false when absent. */
bool req_param(const char *query, const char *key, char *out, size_t size);

/* Percent-encode s for a query value into out. */
void req_pct_encode(const char *s, char *out, size_t size);

#endif
