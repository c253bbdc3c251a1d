/* --log / --log-format / --debug.  Without --log, messages go to stderr
 * (debug only with --debug).  With --log-format json each line is
 * {"level":"...","msg":"...","time":"..."} as runc writes it. */
#pragma once
#include <stdbool.h>

#include "container.h"

enum husk_log_level { HUSK_LOG_ERROR, HUSK_LOG_WARN, HUSK_LOG_INFO, HUSK_LOG_DEBUG };

int husk_log_open(const char *path, enum husk_log_format fmt, bool debug);
/* Moves the log file's fd to min_fd or above: the fds below it go to the
 * container (--preserve-fds). */
void husk_log_move_above(int min_fd);
void husk_log(enum husk_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A progress line is drawn on stderr (a terminal): a message clears it
 * first (the next update redraws it), the final error ends it. */
void husk_log_line_drawn(bool drawn);
#define husk_warn(...) husk_log(HUSK_LOG_WARN, __VA_ARGS__)
#define husk_debug(...) husk_log(HUSK_LOG_DEBUG, __VA_ARGS__)
/* The one-line final error: "husk: <cmd> <id>: <msg>" on stderr, and an
 * "error" entry in the log file when one is open. */
void husk_log_fatal(const char *cmd, const char *id, const struct husk_error *e);
