/* One error idiom for all of husk: fallible functions return a negative
 * value and fill a struct husk_error; callers add context on the way up. */
#pragma once
#include <stddef.h>

#define HUSK_ERR_MSG_MAX 1024

struct husk_error {
	int errnum;                  /* errno value, 0 when the message says it all */
	char msg[HUSK_ERR_MSG_MAX];  /* "what" part; "why" is strerror(errnum) */
};

/* Set the error: message from fmt, errnum as given.  Returns -1. */
int husk_err(struct husk_error *e, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Same as husk_err with errnum = errno (captured before formatting). */
int husk_errno(struct husk_error *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefix the existing message with "context: ".  Returns -1. */
int husk_err_wrap(struct husk_error *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Full "what: why" text into buf. */
const char *husk_err_str(const struct husk_error *e, char *buf, size_t len);

void husk_err_clear(struct husk_error *e);
