/*  l3_sha256 — SHA-256 (FIPS 180-4), one-shot, for the few places that need a one-way
    function: the recorder's hash chain that authenticates its own marks in `.script`
    (docs/capture.md "Recorder marks"), the writer's checkpoint. Not for bulk data, no
    streaming interface. */
#ifndef L3_SHA256_H
#define L3_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define L3_SHA256_LEN 32 /* bytes of a digest */

/* digest = SHA-256(data[0..len)). */
void l3_sha256(const void *data, size_t len, uint8_t digest[L3_SHA256_LEN]);

/* out = the 2 * len lowercase hex digits of data, and a NUL (digests, nonces). */
void l3_hex(const uint8_t *data, size_t len, char *out);

#endif
