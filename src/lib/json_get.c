/* Typed accessors for jansson values (json_get.h). */
#include "json_get.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* Bounded append without snprintf: an over-long path is cut, which only
 * shortens an error message. */
static void path_cat(char *buf, size_t *o, const char *s)
{
	while (*s && *o < SJ_PATH_MAX - 1)
		buf[(*o)++] = *s++;
	buf[*o] = '\0';
}

const char *sj_path(char *buf, const char *parent, const char *key)
{
	size_t o = 0;
	buf[0] = '\0';
	if (parent && *parent) {
		path_cat(buf, &o, parent);
		path_cat(buf, &o, ".");
	}
	path_cat(buf, &o, key);
	return buf;
}

const char *sj_index(char *buf, const char *parent, size_t i)
{
	char num[32];
	size_t o = 0;
	snprintf(num, sizeof(num), "[%zu]", i);
	buf[0] = '\0';
	path_cat(buf, &o, parent ? parent : "");
	path_cat(buf, &o, num);
	return buf;
}

json_t *sj_get(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_null(v) ? NULL : v;
}

int sj_expected(struct husk_error *e, const char *path, const char *what)
{
	return husk_err(e, 0, "%s: expected %s", path, what);
}

int sj_object(json_t *v, const char *path, struct husk_error *e)
{
	return json_is_object(v) ? 0 : sj_expected(e, path, "an object");
}

int sj_array(json_t *v, const char *path, struct husk_error *e)
{
	return json_is_array(v) ? 0 : sj_expected(e, path, "an array");
}

int sj_string(json_t *v, const char *path, char **out, struct husk_error *e)
{
	if (!json_is_string(v))
		return sj_expected(e, path, "a string");
	/* Embedded NULs cannot reach a C API intact. */
	if (strlen(json_string_value(v)) != json_string_length(v))
		return husk_err(e, 0, "%s: string contains a NUL byte", path);
	free(*out);
	*out = xstrdup(json_string_value(v));
	return 0;
}

int sj_bool(json_t *v, const char *path, bool *out, struct husk_error *e)
{
	if (!json_is_boolean(v))
		return sj_expected(e, path, "a boolean");
	*out = json_is_true(v);
	return 0;
}

#define TWO_63 9223372036854775808.0
#define TWO_64 18446744073709551616.0

enum sj_num sj_number(json_t *v, int64_t *i, uint64_t *u, double *d)
{
	*i = 0;
	*u = 0;
	*d = 0;
	if (json_is_integer(v)) {
		*i = json_integer_value(v);
		*d = (double)*i;
		if (*i < 0)
			return SJ_NUM_NEG;
		*u = (uint64_t)*i;
		return SJ_NUM_POS;
	}
	if (!json_is_real(v))
		return SJ_NUM_NONE;
	double x = *d = json_real_value(v);
	if (x > TWO_64)
		return SJ_NUM_HUGE;
	if (x < -TWO_63)
		return SJ_NUM_TINY;
	if (x == TWO_64) {
		*u = UINT64_MAX; /* what UINT64_MAX rounds to as a double */
		*i = INT64_MAX;
		return SJ_NUM_POS;
	}
	if (x < 0) {
		*i = (int64_t)x;
		return (double)*i == x ? SJ_NUM_NEG : SJ_NUM_FRACTION;
	}
	*u = (uint64_t)x;
	*i = x < TWO_63 ? (int64_t)x : INT64_MAX;
	return (double)*u == x ? SJ_NUM_POS : SJ_NUM_FRACTION;
}

int sj_int(json_t *v, const char *path, int64_t min, int64_t max, int64_t *out,
	   struct husk_error *e)
{
	int64_t x;
	uint64_t u;
	double d;
	switch (sj_number(v, &x, &u, &d)) {
	case SJ_NUM_NONE:
	case SJ_NUM_FRACTION:
		return sj_expected(e, path, "an integer");
	case SJ_NUM_HUGE:
	case SJ_NUM_TINY:
		return husk_err(e, 0, "%s: value out of range", path);
	case SJ_NUM_POS:
		if (u > INT64_MAX)
			return husk_err(e, 0, "%s: value out of range", path);
		break;
	case SJ_NUM_NEG:
		break;
	}
	if (x < min || x > max)
		return husk_err(e, 0, "%s: value %lld out of range [%lld, %lld]", path, (long long)x,
				(long long)min, (long long)max);
	*out = x;
	return 0;
}

int sj_u32(json_t *v, const char *path, uint32_t *out, struct husk_error *e)
{
	int64_t x = 0;
	if (sj_int(v, path, 0, UINT32_MAX, &x, e) < 0)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

int sj_u64(json_t *v, const char *path, uint64_t *out, struct husk_error *e)
{
	int64_t x;
	double d;
	switch (sj_number(v, &x, out, &d)) {
	case SJ_NUM_POS:
		return 0;
	case SJ_NUM_NEG:
	case SJ_NUM_TINY:
		if (json_is_integer(v))
			return husk_err(e, 0, "%s: value %lld must not be negative", path, (long long)x);
		return husk_err(e, 0, "%s: value must not be negative", path);
	case SJ_NUM_FRACTION:
		if (d < 0)
			return husk_err(e, 0, "%s: value must not be negative", path);
		return sj_expected(e, path, "an integer");
	case SJ_NUM_HUGE:
		return husk_err(e, 0, "%s: value out of range", path);
	case SJ_NUM_NONE:
		break;
	}
	return sj_expected(e, path, "an integer");
}

int sj_uint(json_t *v, const char *path, uint64_t max, uint64_t *out, struct husk_error *e)
{
	int64_t i;
	uint64_t x;
	double d;
	if (sj_number(v, &i, &x, &d) != SJ_NUM_POS)
		return sj_expected(e, path, "an unsigned integer");
	if (x > max)
		return husk_err(e, 0, "%s: value %llu out of range [0, %llu]", path,
				(unsigned long long)x, (unsigned long long)max);
	*out = x;
	return 0;
}

int sj_int_clamped(json_t *v, const char *path, int64_t min, int64_t max, int64_t *out,
		   struct husk_error *e)
{
	int64_t x;
	uint64_t u;
	double d;
	switch (sj_number(v, &x, &u, &d)) {
	case SJ_NUM_NONE:
		return sj_expected(e, path, "an integer");
	case SJ_NUM_FRACTION:
		return husk_err(e, 0, "%s: %g is not an integer", path, d);
	case SJ_NUM_HUGE:
		x = INT64_MAX;
		break;
	case SJ_NUM_TINY:
		x = INT64_MIN;
		break;
	case SJ_NUM_POS:
	case SJ_NUM_NEG:
		break;
	}
	if (x < min || x > max)
		return husk_err(e, 0, "%s: %lld is out of range [%lld, %lld]", path, (long long)x,
				(long long)min, (long long)max);
	*out = x;
	return 0;
}

int sj_strv(json_t *v, const char *path, char ***out, size_t *np, struct husk_error *e)
{
	size_t i, n;
	json_t *it;
	if (!json_is_array(v))
		return sj_expected(e, path, "an array of strings");
	n = json_array_size(v);
	json_array_foreach(v, i, it) {
		if (!json_is_string(it))
			return sj_expected(e, path, "an array of strings");
		if (strlen(json_string_value(it)) != json_string_length(it)) {
			char p[SJ_PATH_MAX];
			return husk_err(e, 0, "%s: string contains a NUL byte", sj_index(p, path, i));
		}
	}
	char **r = xcalloc(n + 1, sizeof(char *));
	json_array_foreach(v, i, it)
		r[i] = xstrdup(json_string_value(it));
	husk_strv_free(*out);
	*out = r;
	if (np)
		*np = n;
	return 0;
}

int sj_opt_string(json_t *obj, const char *parent, const char *key, char **out,
		  struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	json_t *v = sj_get(obj, key);
	return v ? sj_string(v, sj_path(p, parent, key), out, e) : 0;
}

int sj_opt_bool(json_t *obj, const char *parent, const char *key, bool *out, struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	json_t *v = sj_get(obj, key);
	return v ? sj_bool(v, sj_path(p, parent, key), out, e) : 0;
}

void sj_ignore_unknown(json_t *obj, const char *path, const char *const *known)
{
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v) {
		bool ok = false;
		for (const char *const *p = known; *p && !ok; p++)
			ok = strcmp(*p, k) == 0;
		if (!ok)
			husk_debug("%s: ignoring unknown property \"%s\"", path, k);
	}
}
