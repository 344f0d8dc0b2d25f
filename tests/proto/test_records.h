/*  Sample records for the proto tests: one of each type with every field set. */
#ifndef TEST_RECORDS_H
#define TEST_RECORDS_H

#include "l3_record.h"
#include <string.h>

static inline void test_record_fill(l3_record_t *r, l3_record_type_t type, uint64_t seq)
{
    l3_record_init(r);
    r->type = type;
    strcpy(r->agent, "agent-1");
    r->epoch = 0xdeadbeefcafe1234ULL;
    r->seq = seq;
    strcpy(r->host, "lab01");
    strcpy(r->user, "студент & <co>");
    strcpy(r->sid, "20261124T211144-4242-beef");
    if (type == L3_RECORD_SESSION) {
        r->start_us = 1795900000123456LL;
        r->uid = 1000;
        r->pid = 4242;
        r->cols = 80;
        r->rows = 24;
        strcpy(r->tty, "/dev/pts/3");
        strcpy(r->shell, "/bin/bash");
        strcpy(r->ssh, "10.0.0.1 51234 22");
        strcpy(r->parent, "lab01/20261124T200000-1-aaaa");
    } else if (type == L3_RECORD_COMMAND) {
        r->nr = 7;
        strcpy(r->nested, "lab01/20261124T211200-99-abcd");
        r->depth = 2;
        r->start_us = 1795900001000000LL;
        r->end_us = 1795900002500000LL;
        l3_bytes_set(&r->cwd, "/home/s", 7, L3_CWD_MAX);
        l3_bytes_set(&r->cmdline, "ls --color | grep \"x\" && echo '<b>'", 36, L3_CMDLINE_MAX);
        l3_bytes_set(&r->output, "\x1b[31mred\x1b[0m\r\nline2\xff\xfe\n", 23, L3_OUTPUT_MAX);
        l3_bytes_set(&r->timing, "0.1 5\n0.2 18\n", 13, L3_TIMING_MAX);
        l3_bytes_set(&r->diff, "--- a\n+++ b\n", 12, L3_DIFF_MAX);
        r->dropped = 100;
        r->output_head = 10;
        r->has_exit = true;
        r->exit_code = -3;
        r->signal = 0;
        r->flags = L3_FLAG_TRUNCATED | L3_FLAG_FULLSCREEN | L3_FLAG_HANGUP | L3_FLAG_AMBIGUOUS;
    } else {
        r->start_us = 1795900000123456LL;
        r->end_us = 1795900003000000LL;
        r->has_exit = true;
        r->exit_code = 130;
        r->signal = 2;
        r->flags = L3_FLAG_ABNORMAL;
    }
}

static inline bool test_bytes_eq(const l3_bytes_t *a, const l3_bytes_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static inline bool test_record_eq(const l3_record_t *a, const l3_record_t *b)
{
    return a->type == b->type && !strcmp(a->agent, b->agent) && a->epoch == b->epoch
        && a->seq == b->seq && !strcmp(a->host, b->host) && !strcmp(a->user, b->user)
        && !strcmp(a->sid, b->sid) && a->start_us == b->start_us && a->end_us == b->end_us
        && a->uid == b->uid && a->pid == b->pid && a->cols == b->cols && a->rows == b->rows
        && !strcmp(a->tty, b->tty) && !strcmp(a->shell, b->shell) && !strcmp(a->ssh, b->ssh)
        && !strcmp(a->parent, b->parent) && !strcmp(a->nested, b->nested) && a->depth == b->depth && a->nr == b->nr && test_bytes_eq(&a->cwd, &b->cwd)
        && test_bytes_eq(&a->cmdline, &b->cmdline) && test_bytes_eq(&a->output, &b->output)
        && test_bytes_eq(&a->timing, &b->timing) && test_bytes_eq(&a->diff, &b->diff)
        && a->dropped == b->dropped && a->output_head == b->output_head
        && a->has_exit == b->has_exit && a->exit_code == b->exit_code && a->signal == b->signal
        && a->flags == b->flags;
}

#endif
