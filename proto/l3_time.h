/*  l3_time — UTC timestamps as microseconds since the Unix epoch, and RFC 3339. */
#ifndef L3_TIME_H
#define L3_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Wall clock now, microseconds since the epoch (UTC). */
int64_t l3_time_now_us(void);
/* Monotonic clock, microseconds; for timeouts and latency only. */
int64_t l3_time_mono_us(void);
/* "2026-11-24T21:11:44.123456Z" into buf (size >= 32). */
void l3_time_format(int64_t us, char *buf, size_t size);
/* Parse the format above (also accepts no fraction, or a +hh:mm offset); false if bad. */
bool l3_time_parse(const char *text, int64_t *us);

#endif
