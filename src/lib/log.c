#include "log.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static int log_fd = -1;
static enum husk_log_format log_format = HUSK_LOG_TEXT;
static bool log_debug;
static bool line_drawn; /* a progress line on stderr */

void husk_log_line_drawn(bool drawn)
{
	line_drawn = drawn;
}

static const char *const level_names[] = { "error", "warning", "info", "debug" };

int husk_log_open(const char *path, enum husk_log_format fmt, bool debug)
{
	log_format = fmt;
	log_debug = debug;
	if (!path)
		return 0;
	log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	return log_fd < 0 ? -1 : 0;
}

void husk_log_move_above(int min_fd)
{
	if (log_fd < 0 || log_fd >= min_fd)
		return;
	int hi = fcntl(log_fd, F_DUPFD_CLOEXEC, min_fd);
	if (hi >= 0) {
		close(log_fd);
		log_fd = hi;
	}
}

static void emit(enum husk_log_level lvl, const char *msg)
{
	if (log_fd < 0) {
		dprintf(2, "%shusk: %s: %s\n", line_drawn ? "\r\033[K" : "", level_names[lvl], msg);
		line_drawn = false;
		return;
	}
	char ts[48];
	husk_rfc3339_now(ts, sizeof(ts));
	if (log_format == HUSK_LOG_JSON) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "level", level_names[lvl], "msg", msg, "time", ts);
		char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (line) {
			dprintf(log_fd, "%s\n", line);
			free(line);
		}
		json_decref(o);
	} else {
		dprintf(log_fd, "time=\"%s\" level=%s msg=\"%s\"\n", ts, level_names[lvl], msg);
	}
}

void husk_log(enum husk_log_level lvl, const char *fmt, ...)
{
	if (lvl == HUSK_LOG_DEBUG && !log_debug)
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(lvl, msg);
}

void husk_log_fatal(const char *cmd, const char *id, const struct husk_error *e)
{
	char why[HUSK_ERR_MSG_MAX + 128], line[HUSK_ERR_MSG_MAX + 512];
	husk_err_str(e, why, sizeof(why));
	if (id && *id)
		snprintf(line, sizeof(line), "%s %s: %s", cmd, id, why);
	else
		snprintf(line, sizeof(line), "%s: %s", cmd, why);
	dprintf(2, "%shusk: %s\n", line_drawn ? "\n" : "", line);
	line_drawn = false;
	if (log_fd >= 0)
		emit(HUSK_LOG_ERROR, line);
}
