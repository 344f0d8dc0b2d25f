/*  l3-agent — the per-host agent: parses spool sessions into records and ships them.

    Modes (a thin main over agentd.c, import.c and spool.c):
      l3-agent -c FILE [--daemon]        follow the spool, outbox, send (the daemon)
      l3-agent --once FILE... [-o OUT]   parse/import files, print the records as XML
      l3-agent --keygen NAME [-d DIR]    make the agent's CURVE key pair
      l3-agent --enrol [--broker-key K]  ask the broker to enrol this host (join.c)
      l3-agent --status                  the running agent, from its metrics file */
#include "agent_metrics.h"
#include "agentd.h"
#include "import.h"
#include "join.h"
#include "l3_config.h"
#include "l3_curve.h"
#include "l3_daemon.h"
#include "l3_log.h"
#include "l3_paths.h"
#include "l3_xmlrec.h"
#include "parser.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: l3-agent [-c FILE] [--daemon] [--pidfile FILE] [-v] [--syslog]\n"
            "       l3-agent --once [--format F] [--prompt REGEX] [-o OUT] FILE...\n"
            "       l3-agent --keygen NAME [--dir DIR] [--force]\n"
            "       l3-agent --enrol [-c FILE] [--broker-key KEY] [--host HOST] [--wait]\n"
            "       l3-agent --status [-c FILE]\n"
            "\n"
            "The lilalo agent. Without --once it follows the spool directories (agent/spool),\n"
            "parses every recorded session into records, keeps them in the durable outbox\n"
            "(agent/outbox) and sends them to the brokers.\n"
            "\n"
            "  -c FILE          config file (ZPL, section agent; default %s\n"
            "                   when it exists, else built-in defaults)\n"
            "  --daemon         detach and write the pidfile (agent/backend_pidfile)\n"
            "  --pidfile FILE   pidfile, overriding the config\n"
            "  -v               verbose (debug) logging\n"
            "  --syslog         log to syslog instead of stderr\n"
            "  --once FILE...   parse the files, print XML records (a valid datafile) and exit:\n"
            "                   spool sessions (<sid>.script with .timing/.info beside it),\n"
            "                   plain typescripts (script -f; commands guessed from prompts),\n"
            "                   asciicast v2 (.cast) and tlog JSON recordings\n"
            "  --format F       auto (default), spool, typescript, asciicast, tlog\n"
            "  --prompt REGEX   prompt pattern for typescripts (POSIX ERE, group 1 = cwd)\n"
            "                   default: %s\n"
            "  -o OUT           write the XML to OUT instead of stdout\n"
            "  --keygen NAME    create the CURVE key pair NAME.key/NAME.pub (in --dir DIR,\n"
            "                   default /etc/lilalo); give NAME.pub to the brokers\n"
            "  --enrol          ask the broker to enrol this host: makes agent/cert when\n"
            "                   missing, sends a join request, prints what to run on the\n"
            "                   broker (l3-hosts approve HOST); exit 0 once it is pending\n"
            "  --broker-key KEY the broker's public key (Z85, or its broker.pub), saved to\n"
            "                   agent/broker_cert; needed when that file does not exist\n"
            "  --host HOST      the host name to enrol (default agent/host, else this\n"
            "                   machine's name: what the daemon puts into records)\n"
            "  --wait           with --enrol: ask again until the host is approved\n"
            "  --status         the running agent in one glance, from its metrics file\n"
            "                   (agent/metrics): records, outbox backlog and the age of its\n"
            "                   oldest unacknowledged record, acks; exit 0 when it runs and\n"
            "                   nothing waits longer than agent/status_max_wait_s\n"
            "  -h, --help       this help\n",
            l3_paths_config_installed(), L3_PARSER_PROMPT_DEFAULT);
}

typedef struct {
    l3_buf_t xml;
    FILE *out;
    uint64_t seq;
    int invalid;
} once_t;

static void s_once_record(void *arg, l3_record_t *rec)
{
    once_t *o = arg;
    //  The records of --once are not in any stream; they get a fixed identity so that the
    //  output is a valid datafile.
    l3_text_set(rec->agent, sizeof(rec->agent), "once");
    rec->epoch = 1;
    rec->seq = ++o->seq;
    char err[256];
    if (!l3_record_validate(rec, err, sizeof(err))) {
        l3_warn("record %llu of %s is invalid (%s); left out", (unsigned long long) rec->seq,
                rec->sid, err);
        o->invalid++;
        o->seq--;
        return;
    }
    l3_buf_reset(&o->xml);
    if (l3_xmlrec_write(rec, &o->xml))
        fwrite(o->xml.data, 1, o->xml.len, o->out);
}

static int s_once(int nfiles, char **files, const char *out_path,
                  l3_import_format_t format, const char *prompt, size_t output_cap)
{
    once_t o = {.out = stdout};
    l3_buf_init(&o.xml, 0);
    if (out_path && !(o.out = fopen(out_path, "w"))) {
        l3_error("cannot write %s: %s", out_path, strerror(errno));
        return 1;
    }
    l3_import_opts_t opts = {.format = format,
                             .prompt_re = prompt,
                             .output_cap = output_cap,
                             .on_record = s_once_record,
                             .arg = &o};
    int failed = 0;
    fputs(L3_XML_HEADER, o.out);
    for (int i = 0; i < nfiles; i++) {
        if (l3_import_file(files[i], &opts) < 0)
            failed++;
    }
    fputs(L3_XML_FOOTER, o.out);
    if (fflush(o.out) != 0 || (out_path && fclose(o.out) != 0)) {
        l3_error("writing %s: %s", out_path ? out_path : "stdout", strerror(errno));
        failed++;
    }
    l3_buf_free(&o.xml);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL, *pidfile = NULL, *out_path = NULL, *prompt = NULL;
    const char *keygen = NULL, *keydir = "/etc/lilalo";
    bool daemonize = false, verbose = false, use_syslog = false, once = false, force = false;
    bool enrol = false, status = false;
    join_opts_t join = {0};
    l3_import_format_t format = L3_IMPORT_AUTO;
    //  Options and files may come in any order (l3-agent --once FILE... -o OUT).
    //  The files are gathered at the front of argv itself (never past the option being
    //  read), so there is nothing to allocate or free.
    char **files = argv + 1;
    int nfiles = 0;
    bool only_files = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_next = i + 1 < argc;
        if (only_files || a[0] != '-' || !a[1])
            files[nfiles++] = argv[i];
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            s_usage(stdout);
            return 0;
        } else if (!strcmp(a, "-c") && has_next)
            config_path = argv[++i];
        else if (!strcmp(a, "--daemon"))
            daemonize = true;
        else if (!strcmp(a, "--pidfile") && has_next)
            pidfile = argv[++i];
        else if (!strcmp(a, "-v"))
            verbose = true;
        else if (!strcmp(a, "--syslog"))
            use_syslog = true;
        else if (!strcmp(a, "--once"))
            once = true;
        else if (!strcmp(a, "-o") && has_next)
            out_path = argv[++i];
        else if (!strcmp(a, "--prompt") && has_next)
            prompt = argv[++i];
        else if (!strcmp(a, "--format") && has_next) {
            if (!l3_import_format_parse(argv[++i], &format)) {
                fprintf(stderr, "l3-agent: unknown format '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--keygen") && has_next)
            keygen = argv[++i];
        else if (!strcmp(a, "--dir") && has_next)
            keydir = argv[++i];
        else if (!strcmp(a, "--force"))
            force = true;
        else if (!strcmp(a, "--enrol"))
            enrol = true;
        else if (!strcmp(a, "--status"))
            status = true;
        else if (!strcmp(a, "--wait"))
            join.wait = true;
        else if (!strcmp(a, "--host") && has_next)
            join.host = argv[++i];
        else if (!strcmp(a, "--broker-key") && has_next)
            join.broker_key = argv[++i];
        else if (!strcmp(a, "--"))
            only_files = true;
        else {
            fprintf(stderr, "l3-agent: unknown or incomplete option '%s' (try --help)\n", a);
            return 2;
        }
    }
    l3_log_init("l3-agent", use_syslog, verbose ? L3_LOG_DEBUG : L3_LOG_INFO);

    if (keygen) {
        char key[4096], pub[4096], err[256];
        if (!l3_curve_keygen(keydir, keygen, force, key, pub, sizeof(key), err, sizeof(err))) {
            fprintf(stderr, "l3-agent: --keygen: %s\n", err);
            return 1;
        }
        printf("secret key: %s\npublic key: %s (give this to the brokers)\n", key, pub);
        return 0;
    }

    if (!config_path)
        config_path = l3_paths_config_default();
    l3_config_t *config = l3_config_load(config_path);
    if (!config) {
        fprintf(stderr, "l3-agent: cannot load config %s\n", config_path ? config_path : "");
        return 1;
    }
    if (status) {
        int rc = nfiles ? 2 : agent_metrics_status(config, stdout);
        if (nfiles)
            fprintf(stderr, "l3-agent: --status takes no files\n");
        l3_config_destroy(&config);
        return rc;
    }
    if (enrol) {
        int rc = nfiles ? 2 : join_run(config, &join);
        if (nfiles)
            fprintf(stderr, "l3-agent: --enrol takes no files\n");
        l3_config_destroy(&config);
        return rc;
    }
    size_t output_cap = (size_t) l3_config_int(config, "agent/output_cap", 65536, 64,
                                               L3_OUTPUT_MAX);
    if (once) {
        if (nfiles == 0) {
            fprintf(stderr, "l3-agent: --once needs at least one FILE\n");
            l3_config_destroy(&config);
            return 2;
        }
        if (!prompt)
            prompt = l3_config_str(config, "agent/prompt", NULL);
        int rc = s_once(nfiles, files, out_path, format, prompt, output_cap);
        l3_config_destroy(&config);
        return rc;
    }
    if (nfiles) {
        fprintf(stderr, "l3-agent: unexpected argument '%s' (files go with --once)\n", files[0]);
        l3_config_destroy(&config);
        return 2;
    }
    if (!pidfile)
        pidfile = l3_config_str(config, "agent/backend_pidfile", NULL);
    int rc = 1;
    l3_agentd_t *agent = NULL;
    if (!l3_daemon_start("l3-agent", daemonize, pidfile))
        goto cleanup;
    agent = l3_agentd_new(config);
    if (!agent || !l3_metrics_start(config, "agent", "agent", agent_metrics_fill, agent))
        goto cleanup;
    rc = l3_agentd_run(agent) ? 0 : 1;
cleanup:
    l3_metrics_stop();
    l3_agentd_destroy(&agent);
    l3_daemon_finish();
    l3_config_destroy(&config);
    return rc;
}
