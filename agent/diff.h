/*  diff — unified line diff of two byte strings (an edited file before and after).

    Myers' O((N+M)D) algorithm on lines, with a bound on D: past it the changed middle is
    shown as one hunk that removes every old line and adds every new one, which is still a
    correct diff, only not a minimal one. Common prefix and suffix are stripped first, so
    the usual edit (a few lines in a large file) costs almost nothing. */
#ifndef L3_AGENT_DIFF_H
#define L3_AGENT_DIFF_H

#include "l3_buf.h"
#include <stdbool.h>
#include <stddef.h>

#define L3_DIFF_INPUT_MAX (1u << 20) /* each side */

/* Append the unified diff of a → b (3 lines of context) to out, with "--- label_a" and
   "+++ label_b" headers. Nothing is appended when they are equal. false when an input is
   over L3_DIFF_INPUT_MAX or out cannot grow (its limit, or memory). */
bool l3_diff_unified(const void *a, size_t alen, const void *b, size_t blen, const char *label_a,
                     const char *label_b, l3_buf_t *out);

#endif
