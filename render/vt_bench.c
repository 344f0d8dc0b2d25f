/*  l3-vt-bench — the terminal emulator (vt.c) against the line converter (ansi.c) on the
    same bytes, to decide where the emulator may run (issue 11 item 1).

    Usage: l3-vt-bench [seconds-per-case]   (default 1)
    One line per input, for scripts:
        vt-bench NAME bytes=N vt_mb_s=X ansi_mb_s=Y vt_html_bytes=A ansi_html_bytes=B
    Each figure is input megabytes (10^6) per second of the whole conversion to HTML: for
    vt, vt_new + vt_write + vt_transcript + vt_doc_to_html at 80x24; for ansi,
    ansi_to_html. The inputs are made before timing: `ls --color=always -la /usr/bin` as
    a pty delivers it (LF as CR LF), an apt/docker-like multi-line progress display, and
    a 10 MB mix of those with plain text, CJK and colours. */
#include "ansi.h"
#include "vt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Command output as a pty delivers it: every LF as CR LF. */
static void s_capture(const char *cmd, l3_buf_t *out)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return;
    int c;
    while ((c = getc(p)) != EOF) {
        if (c == '\n')
            l3_buf_append_byte(out, '\r');
        l3_buf_append_byte(out, (uint8_t)c);
    }
    pclose(p);
}

/* Ten items downloading at once, redrawn 50 times with cursor up + erase line, each item
   finishing with a line of its own above the block, as docker pull and pip do. */
static void s_progress(l3_buf_t *out)
{
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 10; i++)
            l3_buf_printf(out, "item %d-%d: waiting\r\n", round, i);
        for (int step = 0; step <= 50; step++) {
            l3_buf_printf(out, "\x1b[%dA", 10);
            for (int i = 0; i < 10; i++) {
                int pct = step * 2 * (i + 1) / 10;
                if (pct > 100)
                    pct = 100;
                l3_buf_printf(out, "\x1b[2K\x1b[1;34mitem %d-%d\x1b[0m [", round, i);
                for (int k = 0; k < 20; k++)
                    l3_buf_append_byte(out, k < pct / 5 ? '#' : ' ');
                l3_buf_printf(out, "] %3d%% \x1b[32m%d.%d MB/s\x1b[0m\r\n", pct, step % 9, i);
            }
        }
        l3_buf_append_str(out, "\x1b" "7\x1b[1;23r\x1b" "8Setting up thing\r\n\x1b" "7\x1b[24;1H"
                               "\x1b[KProgress: [ 50%]\x1b" "8\x1b" "7\x1b[r\x1b" "8");
    }
}

static void s_mix(l3_buf_t *out, const l3_buf_t *ls, const l3_buf_t *progress, size_t size)
{
    static const char *cjk = "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86"
                             "\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88 mixed text\r\n";
    int n = 0;
    while (out->len < size && !out->failed) {
        l3_buf_append(out, ls->data, ls->len);
        l3_buf_append(out, progress->data, progress->len);
        for (int i = 0; i < 2000; i++) {
            l3_buf_printf(out, "plain log line %d: the quick brown fox jumps over the dog\r\n",
                          n++);
            if (i % 10 == 0)
                l3_buf_append_str(out, cjk);
            if (i % 7 == 0)
                l3_buf_append_str(out, "\x1b[31merror\x1b[0m: \x1b[1msomething\x1b[0m\r\n");
            if (i % 13 == 0)
                l3_buf_append_str(out, "50%\r75%\r100%\r\n");
        }
    }
    if (out->len > size)
        out->len = size;
}

static void s_bench(const char *name, const l3_buf_t *in, double seconds)
{
    l3_buf_t html;
    l3_buf_init(&html, 0);
    size_t vt_bytes = 0, ansi_bytes = 0;
    double vt_s, ansi_s;
    int rounds = 0;
    double t0 = s_now();
    do {
        l3_buf_reset(&html);
        vt_to_html(in->data, in->len, 24, 80, &html);
        vt_bytes = html.len;
        rounds++;
    } while (s_now() - t0 < seconds);
    vt_s = (s_now() - t0) / rounds;
    rounds = 0;
    t0 = s_now();
    do {
        l3_buf_reset(&html);
        ansi_to_html(in->data, in->len, NULL, 0, &html);
        ansi_bytes = html.len;
        rounds++;
    } while (s_now() - t0 < seconds);
    ansi_s = (s_now() - t0) / rounds;
    printf("vt-bench %s bytes=%zu vt_mb_s=%.1f ansi_mb_s=%.1f vt_html_bytes=%zu "
           "ansi_html_bytes=%zu\n",
           name, in->len, in->len / 1e6 / vt_s, in->len / 1e6 / ansi_s, vt_bytes, ansi_bytes);
    l3_buf_free(&html);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    if (seconds <= 0)
        seconds = 1.0;
    l3_buf_t ls, progress, mix;
    l3_buf_init(&ls, 0);
    l3_buf_init(&progress, 0);
    l3_buf_init(&mix, 0);
    s_capture("ls --color=always -la /usr/bin 2>/dev/null", &ls);
    s_progress(&progress);
    s_mix(&mix, &ls, &progress, 10u << 20);
    s_bench("ls_color", &ls, seconds);
    s_bench("progress", &progress, seconds);
    s_bench("mix_10mb", &mix, seconds);
    l3_buf_free(&ls);
    l3_buf_free(&progress);
    l3_buf_free(&mix);
    return 0;
}
