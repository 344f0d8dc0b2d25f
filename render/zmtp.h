/*  zmtp — a minimal ZMTP 3.0 REQ client (NULL mechanism) for l3-cgi.

    Why not libzmq: l3-cgi is exec'd by the web server for every request, and loading
    libzmq (with libstdc++, libsodium, libpgm, libnorm, krb5: ~28 shared objects) costs
    several milliseconds per request, more than render takes to build a page. One REQ
    exchange needs very little of ZMTP (RFC 23/ZMTP 3.0): the 64-byte greeting, a READY
    command with Socket-Type REQ, an empty delimiter frame and the request frames out, the
    delimiter and one reply message back. Everything here is bounded by one deadline and
    every length is capped; anything unexpected from the peer is an error, never a crash.
    Endpoints: tcp://HOST:PORT (numeric or a resolvable name) and ipc://PATH (ipc://@NAME
    for the abstract namespace), as libzmq spells them. */
#ifndef ZMTP_H
#define ZMTP_H

#include "l3_buf.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a request came to (reason text in err for every failure). */
#define ZMTP_OK 0
#define ZMTP_ERROR (-1)   /* connection or protocol error: render may be (re)starting */
#define ZMTP_TIMEOUT (-2) /* the deadline passed */
#define ZMTP_REFUSED (-3) /* render will not serve this client: it answered the handshake
                             with ZMTP's ERROR command (its ZAP handler said no), or the
                             ipc socket is not ours to connect to (EACCES) */
#define ZMTP_CUT (-4)     /* render closed the connection during the handshake: a refusal
                             by a peer that does not send ERROR, or a render going down */

/* Send the frames to the REP socket at endpoint and read the reply (all its frames
   concatenated, at most reply->limit bytes) before deadline_us (l3_time_mono_us clock).
   Returns ZMTP_OK or one of the failures above. */
int zmtp_request(const char *endpoint, const char *const *frames, const size_t *lens,
                    size_t nframes, l3_buf_t *reply, int64_t deadline_us, char *err,
                    size_t errlen);

/* The same over a kept connection: *fd is -1 (connect first) or a connection a previous
   call left open; on return it is open for the next request, or -1 after an error. A
   stale kept connection is replaced once, transparently. */
int zmtp_exchange(int *fd, const char *endpoint, const char *const *frames,
                     const size_t *lens, size_t nframes, l3_buf_t *reply, int64_t deadline_us,
                     char *err, size_t errlen);

#endif
