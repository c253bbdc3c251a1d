#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void vset(struct husk_error *e, int errnum, const char *fmt, va_list ap)
{
	e->errnum = errnum;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

int husk_err(struct husk_error *e, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vset(e, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int husk_errno(struct husk_error *e, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	vset(e, saved, fmt, ap);
	va_end(ap);
	errno = saved;
	return -1;
}

int husk_err_wrap(struct husk_error *e, const char *fmt, ...)
{
	char ctx[HUSK_ERR_MSG_MAX], old[HUSK_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	/* Truncation is acceptable: the tail of a long chain matters least. */
	size_t n = strnlen(ctx, sizeof(e->msg) - 1);
	memcpy(e->msg, ctx, n);
	if (old[0]) {
		const char *parts[2] = { ": ", old };
		for (int i = 0; i < 2; i++) {
			size_t m = strlen(parts[i]);
			if (m > sizeof(e->msg) - 1 - n)
				m = sizeof(e->msg) - 1 - n;
			memcpy(e->msg + n, parts[i], m);
			n += m;
		}
	}
	e->msg[n] = '\0';
	return -1;
}

const char *husk_err_str(const struct husk_error *e, char *buf, size_t len)
{
	int n = e->errnum ? snprintf(buf, len, "%s: %s", e->msg[0] ? e->msg : "error", strerror(e->errnum))
			  : snprintf(buf, len, "%s", e->msg[0] ? e->msg : "unknown error");
	(void)n;
	return buf;
}

void husk_err_clear(struct husk_error *e)
{
	e->errnum = 0;
	e->msg[0] = '\0';
}
