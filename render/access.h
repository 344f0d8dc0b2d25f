/*  access — who may ask l3-render for pages: only the web server's account.

    A request names the user it is made for (REMOTE_USER, req.h), and render believes it:
    that is the whole of the journal's access control. So whoever can send render a
    request can read every user's sessions, and only the web server may. This module
    makes the request socket reachable by nobody else, in two layers:

    1. Peer credentials (the gate). render binds an ipc:// socket. For every ipc
       connection libzmq takes the peer's uid, gid and pid from the kernel (SO_PEERCRED,
       which the peer cannot choose) and hands them to the ZAP handler (RFC 27) as the
       connection's address, "localhost:UID:GID:PID". access runs that handler on its
       own thread, in render's ZeroMQ context, and lets a connection in only when UID is
       one of render/web_users (resolved with getpwnam at start), root, or render's own
       account. Anyone else gets the ZMTP ERROR command (status 400) before a single
       request frame is read, and a log line naming uid, account, pid and program
       (rate-limited: ACCESS_LOG_BURST per ACCESS_LOG_WINDOW_MS, then one summary).
    2. File modes (a second fence). The socket lives in a directory of its own, created
       0750 with the web server's group (render/web_group), the socket file 0660. An
       existing directory is checked, never changed: render refuses to bind when it, or
       any directory above it, is writable by others (whoever can write there can put
       their own socket in render's place), and warns loudly when it is reachable by
       every account (layer 1 still holds).

    tcp:// carries no credentials: render refuses it unless render/insecure_tcp = 1
    ("any process that can reach this port may read every user's journal"), and even
    then only on a loopback address.

    Why a thread of its own: a handshake waits for the ZAP reply, and render's loop may be
    busy indexing a large datafile; a connection must not wait for that. Why not
    czmq's zactor: the handler must live in the context of the socket it guards, and
    render's sockets are in its own libzmq context, not czmq's. Why not libzmq's
    ZMQ_IPC_FILTER_UID: deprecated, and it drops a connection silently, so l3-cgi would
    time out instead of saying it was refused, and nobody would learn who knocked.

    Fail closed: the handler is bound before the socket it guards binds, and the socket
    gets ZMQ_ZAP_ENFORCE_DOMAIN where libzmq offers it, so a connection that finds no
    handler fails rather than going in unchecked. A malformed ZAP request, another
    mechanism or another ZAP domain is refused.

    Usage (render_main.c; `acc`, as `access` is also access(2)):
        access_t *acc = access_new(config, ctx);         before any socket binds
        if (!acc || !access_bind(acc, router, endpoint)) fail;
        ... serve ...
        zmq_close(router);  access_destroy(&acc);  zmq_ctx_term(ctx);
    access_destroy also works after zmq_ctx_term has begun (the handler ends on ETERM).

    Config (section render): bind (default ACCESS_DEFAULT_BIND), web_users, web_group,
    insecure_tcp. docs/security.md "Who may ask render". */
#ifndef ACCESS_H
#define ACCESS_H

#include "l3_config.h"

#include <stdbool.h>
#include <sys/types.h>

#define ACCESS_DEFAULT_BIND "ipc:///run/lilalo/render/render.sock"
#define ACCESS_ZAP_DOMAIN "lilalo-render"
#define ACCESS_USERS_MAX 32        /* accounts in render/web_users */
#define ACCESS_LOG_BURST 10        /* refusal lines per window, then one summary */
#define ACCESS_LOG_WINDOW_MS 10000
#define ACCESS_HANDSHAKE_MS 3000   /* a connection not through its handshake by then is cut */

typedef struct access_t access_t;

/* Resolve the allowed accounts and start the ZAP handler in ctx (a libzmq context the
   caller owns and terminates after access_destroy or concurrently with it). NULL, with
   the reason logged, when the handler cannot start (another one is bound in ctx). */
access_t *access_new(l3_config_t *config, void *ctx);
/* Stop the handler and free everything; accepts NULL, nulls the caller's pointer. Call
   it after closing the sockets it guards. */
void access_destroy(access_t **self_p);

/* Bind socket (ROUTER or REP, not yet bound) to endpoint under the policy above:
   checks or creates the socket's directory, sets the ZAP domain, binds, and sets the
   socket file's mode and group. false, with the reason logged, when the endpoint is not
   allowed or the bind fails. */
bool access_bind(access_t *self, void *socket, const char *endpoint);

/* The handler's decision for a ZAP peer address: true when it carries credentials
   ("...:UID:GID:PID", decimal) and UID is allowed; *uid and *pid are set whenever the
   credentials parse (else left alone). For tests and the handler. */
bool access_allows(access_t *self, const char *address, uid_t *uid, pid_t *pid);

#endif
