/* Private to the spec parser (spec.c, spec_process.c): typed accessors for
 * jansson values that report errors as "<json path>: expected <type>".
 * JSON null counts as absent for every optional field, as in Go's decoder. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "spec.h"

#define SJ_PATH_MAX 512

/* "parent.key" (or "key" when parent is empty) and "parent[i]". */
const char *sj_path(char *buf, const char *parent, const char *key);
const char *sj_index(char *buf, const char *parent, size_t i);

/* obj[key], NULL when missing or null. */
json_t *sj_get(json_t *obj, const char *key);

int sj_expected(struct husk_error *e, const char *path, const char *what);

/* Typed reads of a present value v found at path. */
int sj_string(json_t *v, const char *path, char **out, struct husk_error *e);
int sj_bool(json_t *v, const char *path, bool *out, struct husk_error *e);
int sj_int(json_t *v, const char *path, int64_t min, int64_t max, int64_t *out,
	   struct husk_error *e);
int sj_u32(json_t *v, const char *path, uint32_t *out, struct husk_error *e);
int sj_u64(json_t *v, const char *path, uint64_t *out, struct husk_error *e);
/* Array of strings into a NULL-terminated vector (never NULL on success). */
int sj_strv(json_t *v, const char *path, char ***out, size_t *n, struct husk_error *e);
/* Object whose values are all strings. */
int sj_kv(json_t *v, const char *path, struct husk_kv **out, size_t *n, struct husk_error *e);
int sj_object(json_t *v, const char *path, struct husk_error *e);

/* Optional member helpers: absent leaves *out untouched and returns 0. */
int sj_opt_string(json_t *obj, const char *parent, const char *key, char **out,
		  struct husk_error *e);
int sj_opt_bool(json_t *obj, const char *parent, const char *key, bool *out,
		struct husk_error *e);

int sj_id_mappings(json_t *v, const char *path, struct husk_id_mapping **out, size_t *n,
		   struct husk_error *e);

void sj_kv_free(struct husk_kv *v, size_t n);
