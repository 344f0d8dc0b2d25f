/*  l3_test — the few assertions the C unit tests share. A failed check prints file:line
    and the expression, and the test exits non-zero at the end (all checks still run). */
#ifndef L3_TEST_H
#define L3_TEST_H

#include <stdio.h>
#include <stdlib.h>

static int l3_test_failures = 0;

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr);               \
            l3_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(expr, ...)                                                                       \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #expr);              \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            l3_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define TEST_DONE()                                                                                \
    do {                                                                                           \
        if (l3_test_failures) {                                                                    \
            fprintf(stderr, "%d check(s) failed\n", l3_test_failures);                            \
            return 1;                                                                              \
        }                                                                                          \
        printf("ok\n");                                                                            \
        return 0;                                                                                  \
    } while (0)

#endif
