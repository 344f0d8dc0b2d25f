/*  l3-hosts — the broker administrator's side of enrolment: list the hosts that asked to
    join and the enrolled ones, approve one, remove one (hosts.h does the work).

    Why a program of its own and not more l3-keygen options: l3-keygen makes and binds
    key files anywhere, on any machine; l3-hosts manages the broker's two directories,
    read from the broker's config, and is what an operator runs on the broker. */
#include "hosts.h"
#include "l3_config.h"
#include "l3_log.h"
#include "l3_paths.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: l3-hosts [-c FILE] list\n"
            "       l3-hosts [-c FILE] approve HOST|AGENT-ID\n"
            "       l3-hosts [-c FILE] remove HOST|AGENT-ID\n"
            "\n"
            "Enrols hosts with the broker. A host asks with `l3-agent --enrol`; its request\n"
            "waits in broker/pending_keys until it is approved here, which puts its key into\n"
            "broker/allowed_keys bound to the host name it asked for. The broker notices\n"
            "changes by itself: an approved host's records pass from its next connection,\n"
            "a removed host's next record is refused and its connection closed.\n"
            "\n"
            "  list      pending and enrolled hosts: host, agent id (the key's fingerprint,\n"
            "            which `l3-agent --enrol` prints on the host), where and when\n"
            "  approve   enrol a pending host; refused when another key holds that host name\n"
            "            (remove that one first: that is how a key is rotated)\n"
            "  remove    take every key of a host out of allowed_keys (and its request out\n"
            "            of the pending list)\n"
            "HOST is a host name as asked; AGENT-ID the first %d or more hex digits of a key.\n"
            "\n"
            "  -c, --config FILE   the broker's config (section broker: allowed_keys,\n"
            "                      pending_keys; default %s)\n"
            "  -h, --help          this help\n",
            HOSTS_ID_PREFIX_MIN, l3_paths_config_installed());
}

static int s_list(const char *pending, const char *allowed)
{
    pending_entry_t *p = NULL;
    hosts_entry_t *e = NULL;
    size_t np = 0, ne = 0;
    int rc = 0;
    if (!pending_list(pending, HOSTS_MAX, &p, &np)) {
        fprintf(stderr, "l3-hosts: cannot read %s\n", pending);
        rc = 1;
    }
    if (!hosts_enrolled(allowed, &e, &ne)) {
        fprintf(stderr, "l3-hosts: cannot read %s\n", allowed);
        rc = 1;
    }
    printf("%-9s %-24s %-64s %s\n", "STATE", "HOST", "AGENT-ID", "FROM / FILE");
    for (size_t i = 0; i < np; i++)
        printf("%-9s %-24s %s %s at %s\n", "pending", p[i].host, p[i].id, p[i].peer,
               p[i].requested);
    for (size_t i = 0; i < ne; i++)
        printf("%-9s %-24s %s %s\n", "enrolled", e[i].host[0] ? e[i].host : "(no host)", e[i].id,
               e[i].file);
    free(p);
    free(e);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *config_path = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
    }
    const char *cmd = optind < argc ? argv[optind] : NULL;
    const char *which = optind + 1 < argc ? argv[optind + 1] : NULL;
    bool wants_arg = cmd && strcmp(cmd, "list") != 0;
    if (!cmd || (strcmp(cmd, "list") && strcmp(cmd, "approve") && strcmp(cmd, "remove")) ||
        (wants_arg ? !which || optind + 2 != argc : optind + 1 != argc)) {
        s_usage(stderr);
        return 2;
    }
    l3_log_init("l3-hosts", false, L3_LOG_INFO);
    if (!config_path)
        config_path = l3_paths_config_default();
    l3_config_t *config = l3_config_load(config_path);
    if (!config)
        return 1;
    const char *allowed = l3_config_str(config, "broker/allowed_keys", "/etc/lilalo/agents");
    const char *pending = l3_config_str(config, "broker/pending_keys", "/var/lib/lilalo/pending");
    char err[1024];
    int rc = 0;
    if (!strcmp(cmd, "list"))
        rc = s_list(pending, allowed);
    else if (!strcmp(cmd, "approve")) {
        pending_entry_t done;
        if (hosts_approve(pending, allowed, which, &done, err, sizeof err))
            printf("approved: host \"%s\", agent %s (asked from %s at %s)\n", done.host, done.id,
                   done.peer, done.requested);
        else {
            fprintf(stderr, "l3-hosts: approve: %s\n", err);
            rc = 1;
        }
    } else {
        size_t removed = 0;
        if (hosts_remove(pending, allowed, which, &removed, err, sizeof err))
            printf("removed: %zu file(s) of '%s'\n", removed, which);
        else {
            fprintf(stderr, "l3-hosts: remove: %s\n", err);
            rc = 1;
        }
    }
    l3_config_destroy(&config);
    return rc;
}
