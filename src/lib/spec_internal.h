/* Private to the spec parser (spec*.c): the accessors of json_get.h plus
 * those that build spec.h's types. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "json_get.h"
#include "spec.h"

/* Object whose values are all strings. */
int sj_kv(json_t *v, const char *path, struct husk_kv **out, size_t *n, struct husk_error *e);
int sj_id_mappings(json_t *v, const char *path, struct husk_id_mapping **out, size_t *n,
		   struct husk_error *e);

void sj_kv_free(struct husk_kv *v, size_t n);
