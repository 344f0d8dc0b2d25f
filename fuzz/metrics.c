/*  Fuzz target: l3_metrics_parse, as `l3-agent --status` reads whatever is in the agent's
    metrics file (a file anyone with write access to its directory could have replaced).
    The input is the file's text; every name --status asks for is looked up. A value found
    must be what strtod makes of the text after the name. */
#include "l3_metrics.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    static const char *const names[] = {
        "up", "metrics_time_seconds", "start_time_seconds", "records_total",
        "outbox_backlog_records", "oldest_unacked_age_seconds", "ack_latency_seconds_sum", ""};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        double v;
        if (l3_metrics_parse(text, "agent", names[i], &v)) {
            //  The first line that starts with the name and a space.
            char want[96];
            int n = snprintf(want, sizeof want, "lilalo_agent_%s ", names[i]);
            const char *at = text;
            while (at && strncmp(at, want, (size_t) n) != 0)
                at = strchr(at, '\n') ? strchr(at, '\n') + 1 : NULL;
            if (!at)
                abort();
            double w = strtod(at + n, NULL);
            if (v != w && !(v != v && w != w)) /* NaN reads as NaN */
                abort();
        }
    }
    free(text);
    return 0;
}
