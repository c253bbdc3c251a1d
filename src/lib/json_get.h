/* The one set of typed accessors for jansson values, used by every parser
 * of config.json and what husk keeps from it (spec*.c, linux.resources,
 * linux.seccomp, hooks, `update -r`, the state).  Errors name the JSON
 * path: "<path>: expected <type>".  JSON null counts as absent for every
 * optional member, as in Go's decoder. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define SJ_PATH_MAX 512

/* "parent.key" (or "key" when parent is empty) and "parent[i]"; an
 * over-long path is cut, which only shortens an error message. */
const char *sj_path(char *buf, const char *parent, const char *key);
const char *sj_index(char *buf, const char *parent, size_t i);

/* obj[key], NULL when missing or null. */
json_t *sj_get(json_t *obj, const char *key);

int sj_expected(struct husk_error *e, const char *path, const char *what);

/* What a JSON number holds as an integer.  jansson hands integers beyond
 * json_int_t over as reals, and UINT64_MAX (RLIM_INFINITY, "no limit")
 * rounds to 2^64 as a double: that value reads as UINT64_MAX.  Every
 * integer of config.json goes through here. */
enum sj_num {
	SJ_NUM_NONE,     /* not a number */
	SJ_NUM_FRACTION, /* a real with a fractional part (*d) */
	SJ_NUM_NEG,      /* negative; *i set when it fits int64_t */
	SJ_NUM_POS,      /* >= 0; *u set */
	SJ_NUM_HUGE,     /* a real above 2^64 */
	SJ_NUM_TINY,     /* a real below -2^63 */
};
enum sj_num sj_number(json_t *v, int64_t *i, uint64_t *u, double *d);

/* Typed reads of a present value v found at path. */
int sj_string(json_t *v, const char *path, char **out, struct husk_error *e);
int sj_bool(json_t *v, const char *path, bool *out, struct husk_error *e);
int sj_int(json_t *v, const char *path, int64_t min, int64_t max, int64_t *out,
	   struct husk_error *e);
int sj_u32(json_t *v, const char *path, uint32_t *out, struct husk_error *e);
int sj_u64(json_t *v, const char *path, uint64_t *out, struct husk_error *e);
/* An unsigned integer up to max ("expected an unsigned integer"). */
int sj_uint(json_t *v, const char *path, uint64_t max, uint64_t *out, struct husk_error *e);
/* An integer clamped to int64_t: a real of 2^63 or more reads as
 * INT64_MAX (a huge limit is no limit), one below -2^63 as INT64_MIN;
 * messages "%g is not an integer" and "N is out of range [min, max]". */
int sj_int_clamped(json_t *v, const char *path, int64_t min, int64_t max, int64_t *out,
		   struct husk_error *e);
/* Array of strings into a NULL-terminated vector (never NULL on success). */
int sj_strv(json_t *v, const char *path, char ***out, size_t *n, struct husk_error *e);
int sj_object(json_t *v, const char *path, struct husk_error *e);
int sj_array(json_t *v, const char *path, struct husk_error *e);

/* Optional member helpers: absent leaves *out untouched and returns 0. */
int sj_opt_string(json_t *obj, const char *parent, const char *key, char **out,
		  struct husk_error *e);
int sj_opt_bool(json_t *obj, const char *parent, const char *key, bool *out,
		struct husk_error *e);

/* The spec: a property the runtime does not know is ignored, not an error
 * (a newer spec's field, a typo alike); --debug names it.  known is
 * NULL-terminated. */
void sj_ignore_unknown(json_t *obj, const char *path, const char *const *known);
