/*  l3_curve — CURVE keys and secure sockets. See l3_curve.h. */
#include "l3_curve.h"
#include "l3_log.h"
#include "l3_record.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void l3_curve_agent_id(const uint8_t public_key[L3_CURVE_KEY_LEN], char out[L3_CURVE_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < L3_CURVE_KEY_LEN; i++) {
        out[2 * i] = hex[public_key[i] >> 4];
        out[2 * i + 1] = hex[public_key[i] & 0x0f];
    }
    out[L3_CURVE_ID_LEN] = '\0';
}

bool l3_curve_agent_id_from_z85(const char *z85, char out[L3_CURVE_ID_LEN + 1])
{
    out[0] = '\0';
    if (!z85 || strnlen(z85, L3_CURVE_Z85_LEN + 1) != L3_CURVE_Z85_LEN)
        return false;
    uint8_t key[L3_CURVE_KEY_LEN];
    if (!zmq_z85_decode(key, z85))
        return false;
    l3_curve_agent_id(key, out);
    return true;
}

bool l3_curve_id_is_hex(const char *s)
{
    if (!s)
        return false;
    for (size_t i = 0; i < L3_CURVE_ID_LEN; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false; /* also stops at a NUL before 64 characters */
    }
    return s[L3_CURVE_ID_LEN] == '\0';
}

/* True when all 32 bytes are zero: a secret key the certificate does not have. */
static bool s_key_is_zero(const uint8_t *key)
{
    uint8_t any = 0;
    for (size_t i = 0; i < L3_CURVE_KEY_LEN; i++)
        any |= key[i];
    return any == 0;
}

zcert_t *l3_curve_cert_read(const char *path, char *err, size_t errlen)
{
    zcert_t *cert = NULL;
    zchunk_t *chunk = NULL;
    zconfig_t *root = NULL;
    FILE *f = NULL;
    if (!path || !*path) {
        snprintf(err, errlen, "no certificate file given");
        goto cleanup;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > L3_CURVE_CERT_MAX) {
        snprintf(err, errlen, "%s: not a certificate (not a regular file under %d bytes)", path,
                 L3_CURVE_CERT_MAX);
        goto cleanup;
    }
    f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    char data[L3_CURVE_CERT_MAX];
    size_t len = fread(data, 1, sizeof data, f);
    chunk = zchunk_new(data, len);
    root = chunk ? zconfig_chunk_load(chunk) : NULL;
    const char *pub = root ? zconfig_get(root, "/curve/public-key", NULL) : NULL;
    const char *sec = root ? zconfig_get(root, "/curve/secret-key", NULL) : NULL;
    uint8_t pub_key[L3_CURVE_KEY_LEN], sec_key[L3_CURVE_KEY_LEN];
    memset(sec_key, 0, sizeof sec_key);
    if (!pub || strlen(pub) != L3_CURVE_Z85_LEN || !zmq_z85_decode(pub_key, pub)) {
        snprintf(err, errlen, "%s: not a certificate (no valid curve/public-key)", path);
        goto cleanup;
    }
    if (sec && (strlen(sec) != L3_CURVE_Z85_LEN || !zmq_z85_decode(sec_key, sec))) {
        snprintf(err, errlen, "%s: bad curve/secret-key", path);
        goto cleanup;
    }
    cert = zcert_new_from(pub_key, sec_key);
    if (!cert)
        snprintf(err, errlen, "%s: out of memory", path);
cleanup:
    if (f)
        fclose(f);
    zconfig_destroy(&root);
    zchunk_destroy(&chunk);
    return cert;
}

zcert_t *l3_curve_cert_load(const char *path)
{
    char err[512];
    zcert_t *cert = l3_curve_cert_read(path, err, sizeof err);
    if (!cert)
        l3_error("certificate %s", err);
    return cert;
}

bool l3_curve_cert_has_secret(zcert_t *cert)
{
    return cert && !s_key_is_zero(zcert_secret_key(cert));
}

/* Create path exclusively with mode, so a secret file is never readable by others even
   for an instant; zconfig_save then rewrites it and keeps the mode. */
static bool s_create_private(const char *path, mode_t mode, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return false;
    }
    /* The umask may have cleared bits we asked for; never added any. Set it exactly. */
    if (fchmod(fd, mode) != 0) {
        snprintf(err, errlen, "%s: chmod: %s", path, strerror(errno));
        close(fd);
        return false;
    }
    close(fd);
    return true;
}

/* Save cert as a secret file key_path (0600) and a public file pub_path (0644). */
static bool s_save_pair(zcert_t *cert, const char *key_path, const char *pub_path, bool force,
                        char *err, size_t errlen)
{
    if (force) {
        if (unlink(key_path) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "%s: %s", key_path, strerror(errno));
            return false;
        }
    }
    if (!s_create_private(key_path, 0600, err, errlen))
        return false;
    if (zcert_save_secret(cert, key_path) != 0) {
        snprintf(err, errlen, "%s: cannot write the secret certificate", key_path);
        unlink(key_path);
        return false;
    }
    if (unlink(pub_path) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "%s: %s", pub_path, strerror(errno));
        return false;
    }
    if (!s_create_private(pub_path, 0644, err, errlen))
        return false;
    if (zcert_save_public(cert, pub_path) != 0) {
        snprintf(err, errlen, "%s: cannot write the public certificate", pub_path);
        unlink(pub_path);
        return false;
    }
    return true;
}

static void s_set_meta(zcert_t *cert, const char *name)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    zcert_set_meta(cert, "name", "%s", name);
    zcert_set_meta(cert, "host", "%s", host);
    char *now = zclock_timestr();
    if (now) {
        zcert_set_meta(cert, "created", "%s", now);
        free(now);
    }
}

zcert_t *l3_curve_cert_load_or_create(const char *path)
{
    if (!path || !*path) {
        l3_error("no certificate file given");
        return NULL;
    }
    if (access(path, F_OK) == 0) {
        zcert_t *cert = l3_curve_cert_load(path);
        if (cert && !l3_curve_cert_has_secret(cert)) {
            l3_error("certificate %s holds no secret key (is it a .pub file?)", path);
            zcert_destroy(&cert);
        }
        return cert;
    }
    char pub_path[4096];
    size_t len = strlen(path);
    if (len >= sizeof pub_path - 5) {
        l3_error("certificate path too long: %s", path);
        return NULL;
    }
    if (len > 4 && strcmp(path + len - 4, ".key") == 0)
        snprintf(pub_path, sizeof pub_path, "%.*s.pub", (int) (len - 4), path);
    else
        snprintf(pub_path, sizeof pub_path, "%s.pub", path);

    zcert_t *cert = zcert_new();
    if (!cert) {
        l3_error("cannot create a CURVE key pair (libzmq without CURVE?)");
        return NULL;
    }
    const char *slash = strrchr(path, '/');
    s_set_meta(cert, slash ? slash + 1 : path);
    char err[512];
    if (!s_save_pair(cert, path, pub_path, false, err, sizeof err)) {
        l3_error("cannot create certificate: %s", err);
        zcert_destroy(&cert);
        return NULL;
    }
    l3_info("created a new CURVE key pair %s (public part %s)", path, pub_path);
    return cert;
}

bool l3_curve_keygen(const char *dir, const char *name, bool force, char *key_path,
                     char *pub_path, size_t path_size, char *err, size_t errlen)
{
    zcert_t *cert = NULL;
    bool ok = false;
    char keyp[4096], pubp[4096];

    if (!dir || !*dir)
        dir = ".";
    if (!name || !l3_id_valid(name) || strchr(name, '/') || name[0] == '.') {
        snprintf(err, errlen, "bad key name '%s': use letters, digits and ._:@+=- "
                              "(not starting with '.', at most %d characters)",
                 name ? name : "", L3_ID_MAX);
        goto cleanup;
    }
    if (snprintf(keyp, sizeof keyp, "%s/%s.key", dir, name) >= (int) sizeof keyp ||
        snprintf(pubp, sizeof pubp, "%s/%s.pub", dir, name) >= (int) sizeof pubp) {
        snprintf(err, errlen, "directory path too long");
        goto cleanup;
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (mkdir(dir, 0700) != 0) {
            snprintf(err, errlen, "cannot create directory %s: %s", dir, strerror(errno));
            goto cleanup;
        }
    } else if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s is not a directory", dir);
        goto cleanup;
    }
    if (!force && access(keyp, F_OK) == 0) {
        snprintf(err, errlen, "%s exists; refusing to overwrite a secret key (use --force)",
                 keyp);
        goto cleanup;
    }
    cert = zcert_new();
    if (!cert) {
        snprintf(err, errlen, "cannot create a CURVE key pair (libzmq without CURVE?)");
        goto cleanup;
    }
    s_set_meta(cert, name);
    if (!s_save_pair(cert, keyp, pubp, force, err, errlen))
        goto cleanup;
    if (key_path && path_size)
        snprintf(key_path, path_size, "%s", keyp);
    if (pub_path && path_size)
        snprintf(pub_path, path_size, "%s", pubp);
    ok = true;
cleanup:
    zcert_destroy(&cert);
    return ok;
}

void l3_curve_limit_socket(void *sock)
{
    int64_t max = L3_MSG_MAX;
    zmq_setsockopt(zsock_resolve(sock), ZMQ_MAXMSGSIZE, &max, sizeof max);
}

bool l3_curve_server_setup(void *sock, zcert_t *server_cert, const char *domain)
{
    if (!zsys_has_curve()) {
        l3_error("libzmq was built without CURVE support");
        return false;
    }
    if (!l3_curve_cert_has_secret(server_cert)) {
        l3_error("server certificate has no secret key");
        return false;
    }
    zcert_apply(server_cert, sock);
    zsock_set_curve_server(sock, 1);
    zsock_set_zap_domain(sock, domain && *domain ? domain : "lilalo");
    l3_curve_limit_socket(sock);
    return true;
}

bool l3_curve_client_setup(void *sock, zcert_t *own_cert, zcert_t *server_pub)
{
    if (!zsys_has_curve()) {
        l3_error("libzmq was built without CURVE support");
        return false;
    }
    if (!l3_curve_cert_has_secret(own_cert)) {
        l3_error("client certificate has no secret key");
        return false;
    }
    if (!server_pub || s_key_is_zero(zcert_public_key(server_pub))) {
        l3_error("no server public key");
        return false;
    }
    zcert_apply(own_cert, sock);
    zsock_set_curve_serverkey_bin(sock, zcert_public_key(server_pub));
    l3_curve_limit_socket(sock);
    return true;
}
