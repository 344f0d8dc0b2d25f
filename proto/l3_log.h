/*  l3_log — one logging path for every program: stderr (default) or syslog. */
#ifndef L3_LOG_H
#define L3_LOG_H

#include <stdbool.h>

typedef enum { L3_LOG_ERROR = 0, L3_LOG_WARN, L3_LOG_INFO, L3_LOG_DEBUG } l3_log_level_t;

/* Set the program name and where lines go. Call once at start; safe to call again. */
void l3_log_init(const char *progname, bool use_syslog, l3_log_level_t level);
void l3_log_set_level(l3_log_level_t level);
void l3_log(l3_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define l3_error(...) l3_log(L3_LOG_ERROR, __VA_ARGS__)
#define l3_warn(...) l3_log(L3_LOG_WARN, __VA_ARGS__)
#define l3_info(...) l3_log(L3_LOG_INFO, __VA_ARGS__)
#define l3_debug(...) l3_log(L3_LOG_DEBUG, __VA_ARGS__)

#endif
