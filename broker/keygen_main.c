/*  l3-keygen — make a CURVE key pair NAME.key (secret, 0600) + NAME.pub (public). */
#include "l3_curve.h"
#include "l3_log.h"

#include <getopt.h>
#include <stdio.h>

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: l3-keygen NAME [--dir DIR] [--force]\n"
            "\n"
            "Writes a CURVE key pair for an agent or a broker:\n"
            "  DIR/NAME.key  the secret certificate, mode 0600: stays on this host\n"
            "  DIR/NAME.pub  the public certificate: an agent's goes into the broker's\n"
            "                allowed_keys directory, the broker's to every agent\n"
            "and prints the agent id (hex of the public key) that the writer will store.\n"
            "\n"
            "  -d, --dir DIR   where to write (default: current directory; created 0700)\n"
            "  -f, --force     replace an existing NAME.key\n"
            "  -h, --help      this help\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"force", no_argument, NULL, 'f'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *dir = ".";
    bool force = false;
    int c;
    while ((c = getopt_long(argc, argv, "d:fh", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'f': force = true; break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "l3-keygen: give exactly one NAME\n");
        s_usage(stderr);
        return 2;
    }
    l3_log_init("l3-keygen", false, L3_LOG_INFO);
    char key_path[4096], pub_path[4096], err[512];
    if (!l3_curve_keygen(dir, argv[optind], force, key_path, pub_path, sizeof key_path, err,
                         sizeof err)) {
        fprintf(stderr, "l3-keygen: %s\n", err);
        return 1;
    }
    zcert_t *cert = l3_curve_cert_load(pub_path);
    char id[L3_CURVE_ID_LEN + 1] = "";
    if (cert)
        l3_curve_agent_id(zcert_public_key(cert), id);
    zcert_destroy(&cert);
    printf("secret key: %s\npublic key: %s\nagent id:   %s\n", key_path, pub_path, id);
    return 0;
}
