/*  l3-keygen — make a CURVE key pair NAME.key (secret, 0600) + NAME.pub (public), bound to
    a host (keyring.h), or bind an existing certificate to another host. */
#include "keyring.h"
#include "l3_curve.h"
#include "l3_log.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: l3-keygen NAME [--dir DIR] [--host HOST] [--force]\n"
            "       l3-keygen --bind HOST FILE...\n"
            "\n"
            "Writes a CURVE key pair for an agent or a broker:\n"
            "  DIR/NAME.key  the secret certificate, mode 0600: stays on this host\n"
            "  DIR/NAME.pub  the public certificate: an agent's goes into the broker's\n"
            "                allowed_keys directory, the broker's to every agent\n"
            "and prints the agent id (hex of the public key) that the writer will store.\n"
            "Both files carry the host the key is bound to (metadata host): the broker\n"
            "stores an agent's records only under that host name and refuses records that\n"
            "claim another (docs/security.md).\n"
            "\n"
            "  -d, --dir DIR    where to write (default: current directory; created 0700)\n"
            "  -H, --host HOST  the host the key is bound to (default: this machine's name,\n"
            "                   what l3-agent puts into records unless agent/host is set)\n"
            "  -f, --force      replace an existing NAME.key\n"
            "  -b, --bind HOST  bind each existing certificate FILE (a NAME.pub, e.g. in\n"
            "                   allowed_keys, or a NAME.key) to HOST instead\n"
            "  -h, --help       this help\n");
}

/* Print the id and binding of a certificate file; false (said on stderr) when unreadable. */
static bool s_show(const char *label, const char *path)
{
    char err[512], host[512] = "";
    zcert_t *cert = l3_curve_cert_read(path, err, sizeof err);
    bool ok = cert && keyring_cert_host(path, host, sizeof host, err, sizeof err);
    char id[L3_CURVE_ID_LEN + 1] = "";
    if (cert)
        l3_curve_agent_id(zcert_public_key(cert), id);
    zcert_destroy(&cert);
    if (!ok) {
        fprintf(stderr, "l3-keygen: %s\n", err);
        return false;
    }
    printf("%s %s\nagent id:   %s\nhost:       %s\n", label, path, id,
           host[0] ? host : "(none: the broker refuses it unless unbound_keys = allow)");
    return true;
}

/* --bind HOST FILE...: rebind each file; 0 when all worked. */
static int s_bind(const char *host, int count, char **files)
{
    int rc = 0;
    for (int i = 0; i < count; i++) {
        char err[512];
        if (!keyring_cert_bind(files[i], host, err, sizeof err)) {
            fprintf(stderr, "l3-keygen: %s\n", err);
            rc = 1;
        } else if (!s_show("bound:     ", files[i]))
            rc = 1;
    }
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"host", required_argument, NULL, 'H'},
                                             {"bind", required_argument, NULL, 'b'},
                                             {"force", no_argument, NULL, 'f'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *dir = ".", *host = NULL, *bind = NULL;
    bool force = false;
    int c;
    while ((c = getopt_long(argc, argv, "d:H:b:fh", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'H': host = optarg; break;
        case 'b': bind = optarg; break;
        case 'f': force = true; break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    const char *check = bind ? bind : host;
    if (check && !keyring_host_valid(check)) {
        fprintf(stderr,
                "l3-keygen: '%s' cannot be bound: a host name is 1 to 255 bytes of printable "
                "text without '\"'\n",
                check);
        return 2;
    }
    l3_log_init("l3-keygen", false, L3_LOG_INFO);
    if (bind) {
        if (host || force || optind >= argc) {
            fprintf(stderr, "l3-keygen: --bind HOST takes certificate files, and no other "
                            "option\n");
            s_usage(stderr);
            return 2;
        }
        return s_bind(bind, argc - optind, argv + optind);
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "l3-keygen: give exactly one NAME\n");
        s_usage(stderr);
        return 2;
    }
    char key_path[4096], pub_path[4096], err[512];
    /* l3_curve_keygen binds the pair to this machine's name, like every key lilalo makes
       (l3-agent's and the broker's own, created on first start); --host rebinds both. */
    if (!l3_curve_keygen(dir, argv[optind], force, key_path, pub_path, sizeof key_path, err,
                         sizeof err)) {
        fprintf(stderr, "l3-keygen: %s\n", err);
        return 1;
    }
    if (host && (!keyring_cert_bind(key_path, host, err, sizeof err) ||
                 !keyring_cert_bind(pub_path, host, err, sizeof err))) {
        fprintf(stderr, "l3-keygen: %s\n", err);
        unlink(key_path);
        unlink(pub_path);
        return 1;
    }
    printf("secret key: %s\n", key_path);
    return s_show("public key:", pub_path) ? 0 : 1;
}
