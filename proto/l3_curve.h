/*  l3_curve — CURVE keys and secure sockets, the same way in every program.

    A key pair lives in two czmq certificate files (ZPL text, see zcert):
      NAME.key  the secret certificate (public + secret key), mode 0600, stays on its host;
      NAME.pub  the public certificate, copied to the peer: an agent's NAME.pub goes into
                the broker's allowed-keys directory, the broker's broker.pub to every agent.
    The agent id of a CURVE peer is the lowercase hex of its 32-byte public key (64
    characters), computed from the key the broker authenticated, never from a message.

    Every socket that faces the network gets ZMQ_MAXMSGSIZE = L3_MSG_MAX, so a peer cannot
    make libzmq allocate more than one maximal message for it. */
#ifndef L3_CURVE_H
#define L3_CURVE_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define L3_CURVE_KEY_LEN 32 /* bytes of a CURVE public or secret key */
#define L3_CURVE_ID_LEN 64  /* hex characters of an agent id */
#define L3_CURVE_Z85_LEN 40 /* Z85 characters of a key */
#define L3_CURVE_CERT_MAX 65536 /* bytes of a certificate file; real ones are < 1 KiB */

/* Hex of a public key: out gets 64 lowercase hex characters and a NUL. */
void l3_curve_agent_id(const uint8_t public_key[L3_CURVE_KEY_LEN], char out[L3_CURVE_ID_LEN + 1]);
/* Agent id from the Z85 text of a public key (what czmq 4.2's zauth puts into the
   "User-Id" message property). false when z85 is not exactly 40 valid Z85 characters. */
bool l3_curve_agent_id_from_z85(const char *z85, char out[L3_CURVE_ID_LEN + 1]);
/* True when s is 64 lowercase hex characters (the form of a CURVE agent id). */
bool l3_curve_id_is_hex(const char *s);

/* Load a certificate file (NAME.key or NAME.pub). NULL with a logged reason when the file
   is missing or not a certificate. Caller owns the result (zcert_destroy). */
zcert_t *l3_curve_cert_load(const char *path);
/* The same without logging: NULL with the reason in err. Reads at most 64 KiB, parses
   with zconfig from memory (czmq 4.2's zcert_load leaks on a malformed file) and keeps
   only the keys, not the metadata. */
zcert_t *l3_curve_cert_read(const char *path, char *err, size_t errlen);
/* True when the certificate carries a secret key (a .key file, not a .pub). */
bool l3_curve_cert_has_secret(zcert_t *cert);
/* Load the secret certificate at path; when the file does not exist, create a new key
   pair and save it there (secret, 0600) and beside it the public part (path with a
   trailing ".key" replaced by ".pub", else path + ".pub"). NULL with a logged reason on
   failure. Caller owns the result. */
zcert_t *l3_curve_cert_load_or_create(const char *path);

/* Generate a key pair NAME.key (0600) and NAME.pub in dir (created 0700 when missing).
   Refuses to overwrite an existing NAME.key unless force. name must be a plain file name
   (l3 id characters, no '/'). On success fills pub_path/key_path when non-NULL (each of
   path_size bytes) and returns true; otherwise false with a reason in err. */
bool l3_curve_keygen(const char *dir, const char *name, bool force, char *key_path,
                     char *pub_path, size_t path_size, char *err, size_t errlen);

/* Set ZMQ_MAXMSGSIZE = L3_MSG_MAX on a zsock_t or raw libzmq socket. */
void l3_curve_limit_socket(void *sock);
/* Make sock a CURVE server with the given secret certificate, authenticated through the
   ZAP domain `domain` (a zauth actor must be running before the socket binds), and limit
   it. false (logged) when the certificate has no secret key or CURVE is unavailable. */
bool l3_curve_server_setup(void *sock, zcert_t *server_cert, const char *domain);
/* Make sock a CURVE client with its own secret certificate, talking to the server whose
   public certificate is server_pub, and limit it. false (logged) on a bad certificate. */
bool l3_curve_client_setup(void *sock, zcert_t *own_cert, zcert_t *server_pub);

#endif
