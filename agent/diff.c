/*  diff — unified line diff (Myers). See diff.h. */
#include "diff.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CONTEXT 3
#define D_MAX 1000 /* the trace costs about D_MAX^2 ints; past it, one replace-all hunk */

typedef struct {
    const uint8_t *p;
    size_t len; /* including the '\n', if any */
    uint64_t hash;
} line_t;

typedef enum { OP_EQ, OP_DEL, OP_INS } op_kind_t;

typedef struct {
    op_kind_t kind;
    size_t a, b; /* line indices; for DEL only a, for INS only b is meaningful */
} op_t;

static line_t *s_split(const uint8_t *p, size_t len, size_t *count)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (p[i] == '\n')
            n++;
    if (len && p[len - 1] != '\n')
        n++;
    line_t *lines = calloc(n ? n : 1, sizeof(line_t));
    if (!lines)
        return NULL;
    size_t at = 0, k = 0;
    while (at < len) {
        const uint8_t *nl = memchr(p + at, '\n', len - at);
        size_t end = nl ? (size_t) (nl - p) + 1 : len;
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = at; i < end; i++)
            h = (h ^ p[i]) * 1099511628211ULL;
        lines[k].p = p + at;
        lines[k].len = end - at;
        lines[k].hash = h;
        k++;
        at = end;
    }
    *count = n;
    return lines;
}

static bool s_eq(const line_t *x, const line_t *y)
{
    return x->hash == y->hash && x->len == y->len && memcmp(x->p, y->p, x->len) == 0;
}

/* Myers on a[0..n) vs b[0..m); appends ops in forward order. false = out of memory. */
static bool s_myers(const line_t *a, size_t n, const line_t *b, size_t m, op_t *ops,
                    size_t *nops)
{
    size_t total = n + m;
    size_t dmax = total < D_MAX ? total : D_MAX;
    size_t off = dmax + 1;
    long *v = calloc(2 * dmax + 3, sizeof(long));
    long **trace = calloc(dmax + 1, sizeof(long *));
    bool ok = false;
    long found = -1;
    if (!v || !trace)
        goto cleanup;
    for (long d = 0; d <= (long) dmax && found < 0; d++) {
        for (long k = -d; k <= d; k += 2) {
            long x;
            if (k == -d || (k != d && v[off + k - 1] < v[off + k + 1]))
                x = v[off + k + 1];
            else
                x = v[off + k - 1] + 1;
            long y = x - k;
            while (x < (long) n && y < (long) m && s_eq(&a[x], &b[y]))
                x++, y++;
            v[off + k] = x;
            if (x >= (long) n && y >= (long) m) {
                found = d;
                break;
            }
        }
        trace[d] = malloc((2 * (size_t) d + 1) * sizeof(long));
        if (!trace[d])
            goto cleanup;
        memcpy(trace[d], v + off - d, (2 * (size_t) d + 1) * sizeof(long));
    }
    size_t count = 0;
    if (found < 0) {
        //  Too different: delete everything, insert everything.
        for (size_t i = 0; i < n; i++)
            ops[count++] = (op_t){OP_DEL, i, 0};
        for (size_t j = 0; j < m; j++)
            ops[count++] = (op_t){OP_INS, 0, j};
        *nops = count;
        ok = true;
        goto cleanup;
    }
    //  Backtrack from (n, m), writing ops from the end of the array.
    size_t cap = n + m;
    size_t w = cap;
    long x = (long) n, y = (long) m;
    for (long d = found; d >= 0; d--) {
        long k = x - y;
        if (d == 0) {
            while (x > 0 && y > 0) {
                x--, y--;
                ops[--w] = (op_t){OP_EQ, (size_t) x, (size_t) y};
            }
            break;
        }
        long *pv = trace[d - 1]; /* index k' as pv[k' + d - 1] */
        long pk;
        if (k == -d || (k != d && pv[k - 1 + d - 1] < pv[k + 1 + d - 1]))
            pk = k + 1;
        else
            pk = k - 1;
        long px = pv[pk + d - 1];
        long py = px - pk;
        while (x > px && y > py) {
            x--, y--;
            ops[--w] = (op_t){OP_EQ, (size_t) x, (size_t) y};
        }
        if (x == px) {
            y--;
            ops[--w] = (op_t){OP_INS, (size_t) x, (size_t) y};
        } else {
            x--;
            ops[--w] = (op_t){OP_DEL, (size_t) x, (size_t) y};
        }
    }
    memmove(ops, ops + w, (cap - w) * sizeof(op_t));
    *nops = cap - w;
    ok = true;
cleanup:
    if (trace)
        for (size_t d = 0; d <= dmax; d++)
            free(trace[d]);
    free(trace);
    free(v);
    return ok;
}

static void s_line_out(l3_buf_t *out, char mark, const line_t *line)
{
    l3_buf_append_byte(out, (uint8_t) mark);
    l3_buf_append(out, line->p, line->len);
    if (line->len == 0 || line->p[line->len - 1] != '\n')
        l3_buf_append_str(out, "\n\\ No newline at end of file\n");
}

static void s_range(l3_buf_t *out, char sign, size_t start, size_t count)
{
    //  Unified format: an empty range names the line before it.
    if (count == 1)
        l3_buf_printf(out, "%c%zu", sign, start + 1);
    else
        l3_buf_printf(out, "%c%zu,%zu", sign, count ? start + 1 : start, count);
}

bool l3_diff_unified(const void *a_, size_t alen, const void *b_, size_t blen, const char *label_a,
                     const char *label_b, l3_buf_t *out)
{
    if (alen > L3_DIFF_INPUT_MAX || blen > L3_DIFF_INPUT_MAX)
        return false;
    if (alen == blen && (alen == 0 || memcmp(a_, b_, alen) == 0))
        return true;
    bool ok = false;
    size_t n = 0, m = 0, nops = 0;
    line_t *a = s_split(a_, alen, &n);
    line_t *b = s_split(b_, blen, &m);
    op_t *ops = NULL;
    if (!a || !b)
        goto cleanup;
    //  Strip the common prefix and suffix; Myers runs on the middle only.
    size_t pre = 0;
    while (pre < n && pre < m && s_eq(&a[pre], &b[pre]))
        pre++;
    size_t suf = 0;
    while (suf < n - pre && suf < m - pre && s_eq(&a[n - 1 - suf], &b[m - 1 - suf]))
        suf++;
    ops = calloc(n + m + 1, sizeof(op_t));
    if (!ops)
        goto cleanup;
    for (size_t i = 0; i < pre; i++)
        ops[nops++] = (op_t){OP_EQ, i, i};
    size_t mid = 0;
    if (!s_myers(a + pre, n - pre - suf, b + pre, m - pre - suf, ops + nops, &mid))
        goto cleanup;
    for (size_t i = nops; i < nops + mid; i++)
        ops[i].a += pre, ops[i].b += pre;
    nops += mid;
    for (size_t i = 0; i < suf; i++)
        ops[nops++] = (op_t){OP_EQ, n - suf + i, m - suf + i};

    l3_buf_printf(out, "--- %s\n+++ %s\n", label_a, label_b);
    //  Hunks: runs of changes with up to 2*CONTEXT equal lines between them.
    size_t i = 0;
    size_t ai = 0, bi = 0; /* line numbers at ops[i] */
    while (i < nops) {
        if (ops[i].kind == OP_EQ) {
            i++, ai++, bi++;
            continue;
        }
        size_t first = i;
        size_t last = i; /* last change op of the hunk */
        size_t j = i;
        while (j < nops) {
            if (ops[j].kind != OP_EQ) {
                last = j;
                j++;
                continue;
            }
            size_t run = 0;
            while (j + run < nops && ops[j + run].kind == OP_EQ)
                run++;
            if (j + run >= nops || run > 2 * CONTEXT)
                break;
            j += run;
        }
        size_t lead = 0;
        while (lead < CONTEXT && first - lead > 0 && ops[first - lead - 1].kind == OP_EQ)
            lead++;
        size_t end = last + 1;
        size_t trail = 0;
        while (trail < CONTEXT && end + trail < nops && ops[end + trail].kind == OP_EQ)
            trail++;
        size_t hs = first - lead, he = end + trail;
        size_t a_start = ai - lead, b_start = bi - lead, a_count = 0, b_count = 0;
        for (size_t k = hs; k < he; k++) {
            if (ops[k].kind != OP_INS)
                a_count++;
            if (ops[k].kind != OP_DEL)
                b_count++;
        }
        l3_buf_append_str(out, "@@ ");
        s_range(out, '-', a_start, a_count);
        l3_buf_append_byte(out, ' ');
        s_range(out, '+', b_start, b_count);
        l3_buf_append_str(out, " @@\n");
        for (size_t k = hs; k < he; k++) {
            if (ops[k].kind == OP_EQ)
                s_line_out(out, ' ', &a[ops[k].a]);
            else if (ops[k].kind == OP_DEL)
                s_line_out(out, '-', &a[ops[k].a]);
            else
                s_line_out(out, '+', &b[ops[k].b]);
        }
        for (size_t k = i; k < he; k++) {
            if (ops[k].kind != OP_INS)
                ai++;
            if (ops[k].kind != OP_DEL)
                bi++;
        }
        i = he;
    }
    ok = !out->failed;
cleanup:
    free(a);
    free(b);
    free(ops);
    return ok;
}
