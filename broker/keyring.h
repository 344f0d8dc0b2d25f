/*  keyring — the set of CURVE public keys allowed to connect to the broker, read from the
    allowed_keys directory (czmq certificate files, normally agents' NAME.pub).

    Why not zauth + zcertstore: czmq 4.2's zcertstore asserts (aborting the whole broker)
    when two files in the directory hold the same public key, e.g. a NAME.pub copied in
    twice or a NAME.key next to its NAME.pub, and it re-reads the directory while the
    broker runs. The keyring tolerates duplicates, skips files that are not certificates,
    and is re-read when the directory changes or every KEYRING_RELOAD_MS, so keys added
    or removed take effect without a restart. */
#ifndef KEYRING_H
#define KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYRING_RELOAD_MS 5000
#define KEYRING_MAX_FILES 1000000 /* files looked at per load: past that, the rest ignored */

typedef struct keyring_t keyring_t;

/* Load the directory. NULL (logged) when it does not exist or cannot be read. */
keyring_t *keyring_new(const char *dir);
void keyring_destroy(keyring_t **self_p);
/* True when the 32-byte public key is allowed; re-reads the directory first when it
   changed or the last read is older than KEYRING_RELOAD_MS. The name of the file that
   allowed it is copied into name (when non-NULL). */
bool keyring_allows(keyring_t *self, const uint8_t key[32], char *name, size_t name_size);
/* Number of distinct keys at the last read. */
size_t keyring_size(keyring_t *self);

#endif
