/* Minimal TAP output shared by the unit tests: ok() per check, diag() for
 * context (one "# " line per line of text), tap_done() prints the plan and
 * gives main's exit status. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static int tap_n, tap_failed;

static void ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3), unused));
static void ok(bool cond, const char *fmt, ...)
{
	va_list ap;
	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Each line of text becomes a TAP comment, so multi-line output cannot be
 * mistaken for test results. */
static void __attribute__((unused)) diag_str(const char *what, const char *text)
{
	printf("# %s:", what);
	if (!text) {
		printf(" (null)\n");
		return;
	}
	printf("\n# ");
	for (const char *p = text; *p; p++) {
		putchar(*p);
		if (*p == '\n' && p[1])
			printf("# ");
	}
	if (!*text || text[__builtin_strlen(text) - 1] != '\n')
		putchar('\n');
}

static int __attribute__((unused)) tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
