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

/* Send the frames to the REP socket at endpoint and read the reply (all its frames
   concatenated, at most reply->limit bytes) before deadline_us (l3_time_mono_us clock).
   Returns 0 on success, -1 on a connection or protocol error (reason in err), -2 on
   timeout. */
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
