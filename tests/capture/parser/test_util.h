/*  test_util — small helpers shared by the parser tests: a check macro that reports
    file:line, a growable stream builder, and mark construction per docs/capture.md. */
#ifndef L3_TEST_PARSER_UTIL_H
#define L3_TEST_PARSER_UTIL_H

#include "l3_buf.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failures = 0;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
            t_failures++;                                                                \
        }                                                                                \
    } while (0)

#define CHECK_MSG(cond, ...)                                                             \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                                \
            fputc('\n', stderr);                                                         \
            t_failures++;                                                                \
        }                                                                                \
    } while (0)

#define T_NONCE "0123456789abcdef0123456789abcdef"

/* Append a raw string. */
static inline void t_put(l3_buf_t *b, const char *s)
{
    l3_buf_append(b, s, strlen(s));
}

/* Percent-encode arg as the shell hook does: bytes outside 0x21-0x7E, '%' and ';'. */
static inline void t_pct(l3_buf_t *b, const char *arg)
{
    for (const unsigned char *p = (const unsigned char *) arg; *p; p++) {
        if (*p < 0x21 || *p > 0x7e || *p == '%' || *p == ';')
            l3_buf_printf(b, "%%%02X", *p);
        else
            l3_buf_append_byte(b, *p);
    }
}

/* A mark with the given nonce ("" = none) and verb, optional arg (percent-encoded). */
static inline void t_mark_n(l3_buf_t *b, const char *nonce, const char *verb, const char *arg)
{
    t_put(b, "\x1b]6973;");
    if (nonce) {
        t_put(b, nonce);
        t_put(b, ";");
    }
    t_put(b, verb);
    if (arg) {
        t_put(b, ";");
        t_pct(b, arg);
    }
    t_put(b, "\x07");
}

static inline void t_mark(l3_buf_t *b, const char *verb, const char *arg)
{
    t_mark_n(b, T_NONCE, verb, arg);
}

/* One full prompt + command cycle as the bash hook writes it. */
static inline void t_command(l3_buf_t *b, const char *cwd, const char *cmd, const char *out,
                             const char *exit_code)
{
    t_mark(b, "P", cwd);
    t_mark(b, "A", NULL);
    t_put(b, "user@host:~$ ");
    t_mark(b, "B", NULL);
    t_put(b, cmd);
    t_put(b, "\r\n");
    t_mark(b, "C", cmd);
    if (out)
        t_put(b, out);
    if (exit_code)
        t_mark(b, "D", exit_code);
}

#endif
