/*  tap_format — how l3-tap prints a captured message: one text line or one JSON line.

    Text line (fields separated by one space; strings escaped, never raw terminal bytes):
      TIME DIR AGENT TYPE host=H user=U sid=S seq=N [exit=X] [cmd="..."]
      TIME DIR AGENT TYPE epoch=E seq=N                       (ack, nack)
    TIME is when the tap received it (RFC 3339 UTC), DIR "rec" or "ack", AGENT the first
    12 characters of the agent id. The command line is cut at TAP_CMD_SHOWN bytes.

    JSON line: one object with every field of the message; byte fields (cwd, cmd, output,
    timing, diff) are JSON strings where valid UTF-8 passes through, control characters
    are \uXXXX escapes, and each byte that is not part of valid UTF-8 becomes the lone
    surrogate \uDC80 + byte (\udc80..\udcff, the "surrogateescape" convention), so the
    original bytes can be recovered exactly and never collide with real text. */
#ifndef TAP_FORMAT_H
#define TAP_FORMAT_H

#include "l3_buf.h"
#include "l3_msg.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TAP_AGENT_SHOWN 12
#define TAP_CMD_SHOWN 120

enum {
    TAP_TYPE_SESSION = 1u << 0,
    TAP_TYPE_COMMAND = 1u << 1,
    TAP_TYPE_END = 1u << 2,
    TAP_TYPE_ACK = 1u << 3,
    TAP_TYPE_NACK = 1u << 4,
};
#define TAP_TYPE_ALL 0x1fu

/* Parse "session,command,ack" into a mask; false (with the bad word in err) if unknown. */
bool tap_types_parse(const char *list, uint32_t *mask, char *err, size_t errlen);
/* The TAP_TYPE_ bit of a decoded message (0 for none). */
uint32_t tap_type_of(const l3_msg_t *msg);

/* Append data as a quoted JSON string (see above). */
bool tap_json_string(l3_buf_t *out, const void *data, size_t len);
/* Append data escaped for a terminal line: valid printable UTF-8 as is, \" \\ \n \r \t,
   anything else \xHH; at most max input bytes, then "...". No quotes added. */
bool tap_text_escape(l3_buf_t *out, const void *data, size_t len, size_t max);

/* One line (with '\n') for a decoded message. dir is "rec" or "ack"; agent is the id
   frame (not NUL-terminated, agent_len bytes, escaped when printed). */
bool tap_format_text(l3_buf_t *out, int64_t now_us, const char *dir, const void *agent,
                     size_t agent_len, const l3_msg_t *msg);
bool tap_format_json(l3_buf_t *out, int64_t now_us, const char *dir, const void *agent,
                     size_t agent_len, const l3_msg_t *msg);

#endif
