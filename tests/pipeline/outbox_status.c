/*  outbox_status DIR AGENT_ID — prints "pending=<n> last=<n> acked=<n>" for an outbox, so
    the pipeline tests can check that every outbox drained. Exit 0 when it opened. */
#include "l3_log.h"
#include "outbox.h"
#include <inttypes.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: outbox_status DIR AGENT_ID\n");
        return 2;
    }
    l3_log_init("outbox_status", false, L3_LOG_WARN);
    outbox_t *box = outbox_open(argv[1], argv[2], NULL);
    if (!box)
        return 1;
    printf("pending=%" PRIu64 " last=%" PRIu64 " acked=%" PRIu64 "\n", outbox_pending(box),
           outbox_last_seq(box), outbox_acked_seq(box));
    outbox_destroy(&box);
    return 0;
}
