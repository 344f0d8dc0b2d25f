/*  keyring — the set of CURVE public keys allowed to connect to the broker, and the host
    name each key is bound to, read from the allowed_keys directory (czmq certificate
    files, normally agents' NAME.pub).

    The binding: a certificate's metadata section names the one host whose records the
    key may send (docs/security.md "Identity: the broker decides, never the message"):

        metadata
            host = "lab07"
        curve
            public-key = "..."

    l3-keygen writes it (--host, default this machine's name; --bind for an existing
    file), and so does every key lilalo creates. A key whose certificate has no host, or
    an empty one, is unbound; what the broker does with it is its policy
    (broker/unbound_keys), not the keyring's. When two files hold the same key, they must
    bind it to the same host: if they do not, the key is in conflict and the broker lets
    it in nowhere, because which file was meant cannot be known.

    Why not zauth + zcertstore: czmq 4.2's zcertstore asserts (aborting the whole broker)
    when two files in the directory hold the same public key, e.g. a NAME.pub copied in
    twice or a NAME.key next to its NAME.pub, and it re-reads the directory while the
    broker runs. The keyring tolerates duplicates, skips files that are not certificates,
    and is re-read by keyring_refresh when the directory changes or the last read is too
    old, so keys and bindings added, changed or removed take effect without a restart.

    Usage (one thread: entries stay valid until the next keyring_refresh):
        keyring_t *kr = keyring_new("/etc/lilalo/agents");
        keyring_refresh(kr, KEYRING_RELOAD_MS);          // at a handshake
        const keyring_entry_t *e = keyring_lookup(kr, agent_id_hex);
        if (e && !e->conflict && e->host && strcmp(e->host, record_host) == 0) ... */
#ifndef KEYRING_H
#define KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYRING_RELOAD_MS 5000       /* re-read at a handshake when older than this */
#define KEYRING_IDLE_RELOAD_MS 60000 /* re-read from the loop when older than this */
#define KEYRING_RACY_MS 2000         /* a directory changed this recently... */
#define KEYRING_RACY_RELOAD_MS 200   /* ...is read again after this long (keyring.c) */
#define KEYRING_MAX_FILES 1000000    /* files looked at per load: past that, the rest ignored */
#define KEYRING_WARN_MAX 20          /* per-file warnings per load, then a count */

typedef struct keyring_t keyring_t;

/* One allowed key. */
typedef struct {
    const char *file;     /* name (in the directory) of the file that allowed it */
    const char *host;     /* the host it is bound to; NULL when its certificate binds none */
    const char *conflict; /* another file holding the same key bound differently, or NULL */
} keyring_entry_t;

/* Load the directory. NULL (logged) when it does not exist or cannot be read. */
keyring_t *keyring_new(const char *dir);
void keyring_destroy(keyring_t **self_p);
/* Re-read the directory when its modification time changed or the last read is older
   than max_age_ms. A read that fails keeps the keys of the last one that worked. Changed
   bindings, new unbound keys and new conflicts are logged. True when it re-read. */
bool keyring_refresh(keyring_t *self, int64_t max_age_ms);
/* The entry of an agent id (64 hex characters of the key), NULL when the key is not
   allowed. Valid until the next keyring_refresh or keyring_destroy. */
const keyring_entry_t *keyring_lookup(keyring_t *self, const char *agent_id);
/* Number of distinct keys at the last read. */
size_t keyring_size(keyring_t *self);

/* True when host can be bound: what a record's host may be (non-empty, printable UTF-8,
   at most L3_NAME_MAX bytes) without a double quote, which a certificate cannot hold. */
bool keyring_host_valid(const char *host);
/* Bind the certificate file at path (a NAME.pub or NAME.key) to host, or unbind it when
   host is NULL or empty (written as host = ""): the file is rewritten through a
   temporary file renamed over it, keeping its mode and owner, with everything but the
   host kept. false with a reason in err when the file is not a certificate, is a
   symbolic link, or host is not keyring_host_valid. */
bool keyring_cert_bind(const char *path, const char *host, char *err, size_t errlen);
/* Read the binding of the certificate at path into host ("" when unbound). false with a
   reason in err when the file is not a certificate or its binding is not a valid host. */
bool keyring_cert_host(const char *path, char *host, size_t host_size, char *err,
                       size_t errlen);

#endif
