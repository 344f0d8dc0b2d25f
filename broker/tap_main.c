/*  l3-tap — watch what goes through a broker: SUB to its capture socket, print each
    record and ack as one line (tap_format.h). Read-only: the broker drops tap messages
    rather than wait for a tap, so a tap can never slow the pipeline. */
#include "l3_config.h"
#include "l3_curve.h"
#include "l3_daemon.h"
#include "l3_log.h"
#include "l3_msg.h"
#include "l3_paths.h"
#include "l3_time.h"
#include "tap_format.h"

#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: l3-tap [-c FILE] [--json] [--type LIST] [--host H] [--endpoint E]\n"
            "              [--count N]\n"
            "\n"
            "Prints every record and ack passing through an l3-broker, one per line:\n"
            "  TIME DIR AGENT TYPE host=H user=U sid=S seq=N [exit=X] [cmd=\"...\"]\n"
            "\n"
            "  -c, --config FILE   config file; the endpoint is tcp://capture_address:\n"
            "                      capture_port of its \"broker\" section (default\n"
            "                      %s when it exists)\n"
            "  -e, --endpoint E    capture endpoint (default tcp://127.0.0.1:5672)\n"
            "  -j, --json          one JSON object per line with every field\n"
            "  -t, --type LIST     only these types: session,command,end,ack,nack\n"
            "  -H, --host H        only records of host H (acks have no host: hidden)\n"
            "  -n, --count N       exit after printing N lines\n"
            "  -v, --verbose       log skipped messages\n"
            "  -h, --help          this help\n"
            "\n"
            "The capture socket drops messages for a tap that does not keep up; a gap in\n"
            "seq numbers seen here is not a gap in the datafile.\n",
            l3_paths_config_installed());
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"endpoint", required_argument, NULL, 'e'},
        {"json", no_argument, NULL, 'j'},         {"type", required_argument, NULL, 't'},
        {"host", required_argument, NULL, 'H'},   {"count", required_argument, NULL, 'n'},
        {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config_path = NULL, *endpoint = NULL, *host = NULL;
    bool json = false, verbose = false;
    uint32_t types = TAP_TYPE_ALL;
    long long count = 0;
    char err[256];
    int c;
    while ((c = getopt_long(argc, argv, "c:e:jt:H:n:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'e': endpoint = optarg; break;
        case 'j': json = true; break;
        case 't':
            if (!tap_types_parse(optarg, &types, err, sizeof err)) {
                fprintf(stderr, "l3-tap: --type: %s\n", err);
                return 2;
            }
            break;
        case 'H': host = optarg; break;
        case 'n': {
            char *end;
            errno = 0;
            count = strtoll(optarg, &end, 10);
            if (errno || *end || count < 1) {
                fprintf(stderr, "l3-tap: --count wants a positive number, not '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case 'v': verbose = true; break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "l3-tap: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    l3_log_init("l3-tap", false, verbose ? L3_LOG_DEBUG : L3_LOG_WARN);

    int rc = 1;
    l3_config_t *config = NULL;
    zsock_t *sub = NULL;
    l3_buf_t line;
    l3_buf_init(&line, 0);
    char ep[300];
    if (!endpoint) {
        config = l3_config_load(config_path ? config_path : l3_paths_config_default());
        if (!config)
            goto cleanup;
        const char *addr = l3_config_str(config, "broker/capture_address", "127.0.0.1");
        int64_t port = l3_config_int(config, "broker/capture_port", 5672, 0, 65535);
        if (port == 0) {
            fprintf(stderr, "l3-tap: capture is off in %s (broker/capture_port = 0)\n",
                    l3_config_path(config));
            goto cleanup;
        }
        snprintf(ep, sizeof ep, strchr(addr, ':') ? "tcp://[%s]:%" PRId64 : "tcp://%s:%" PRId64,
                 addr, port);
        endpoint = ep;
    }
    if (!l3_daemon_start("l3-tap", false, NULL))
        goto cleanup;
    sub = zsock_new(ZMQ_SUB);
    if (!sub)
        goto cleanup;
    l3_curve_limit_socket(sub);
    if (strstr(endpoint, "://["))
        zsock_set_ipv6(sub, 1);
    /* Filter by topic at the broker where the types allow it. */
    uint32_t rec_types = TAP_TYPE_SESSION | TAP_TYPE_COMMAND | TAP_TYPE_END;
    uint32_t ack_types = TAP_TYPE_ACK | TAP_TYPE_NACK;
    if (types & rec_types)
        zsock_set_subscribe(sub, "rec");
    if ((types & ack_types) && !host)
        zsock_set_subscribe(sub, "ack");
    if (zsock_connect(sub, "%s", endpoint) != 0) {
        fprintf(stderr, "l3-tap: cannot connect to %s: %s\n", endpoint,
                zmq_strerror(zmq_errno()));
        goto cleanup;
    }
    void *raw = zsock_resolve(sub);
    setvbuf(stdout, NULL, _IOLBF, 0);

    long long printed = 0;
    while (!zsys_interrupted && (count == 0 || printed < count)) {
        zmq_pollitem_t item = {raw, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&item, 1, 1000);
        if (n < 0) {
            if (zmq_errno() == EINTR)
                continue;
            break;
        }
        if (n == 0)
            continue;
        zmsg_t *msg = zmsg_recv(sub);
        if (!msg)
            continue;
        zframe_t *topic = zmsg_first(msg);
        zframe_t *agent = zmsg_next(msg);
        zframe_t *body = zmsg_next(msg);
        if (zmsg_size(msg) != 3 || !body) {
            l3_debug("skipped a message of %zu frames", zmsg_size(msg));
            zmsg_destroy(&msg);
            continue;
        }
        const char *dir = zframe_streq(topic, "rec") ? "rec" : zframe_streq(topic, "ack") ? "ack"
                                                                                          : NULL;
        l3_msg_t decoded;
        l3_msg_init(&decoded);
        if (!dir || !l3_msg_decode(zframe_data(body), zframe_size(body), &decoded, err,
                                   sizeof err)) {
            l3_debug("skipped an undecodable message: %s", dir ? err : "unknown topic");
            zmsg_destroy(&msg);
            continue;
        }
        bool show = (tap_type_of(&decoded) & types) != 0;
        if (host && (decoded.kind != L3_MSG_RECORD || strcmp(decoded.record.host, host) != 0))
            show = false;
        if (show) {
            l3_buf_reset(&line);
            bool ok = json ? tap_format_json(&line, l3_time_now_us(), dir, zframe_data(agent),
                                             zframe_size(agent), &decoded)
                           : tap_format_text(&line, l3_time_now_us(), dir, zframe_data(agent),
                                             zframe_size(agent), &decoded);
            if (ok) {
                fwrite(line.data, 1, line.len, stdout);
                printed++;
            }
        }
        l3_msg_clear(&decoded);
        zmsg_destroy(&msg);
    }
    fflush(stdout);
    rc = 0;
cleanup:
    zsock_destroy(&sub);
    l3_buf_free(&line);
    l3_config_destroy(&config);
    return rc;
}
