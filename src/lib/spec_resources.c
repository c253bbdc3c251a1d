/* linux.resources -> struct husk_resources, and back (spec_resources.h). */
#include "spec_resources.h"

#include <stdio.h>
#include <string.h>

#include "json_get.h"
#include "util.h"

#define P "linux.resources"

const char *const husk_res_throttle_key[HUSK_THROTTLE__COUNT] = {
	"throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice",
	"throttleWriteIOPSDevice",
};

/* The scalar members of a section, by table: parsed, written back and
 * freed the same way. */
enum fkind { F_INT, F_BOOL, F_STR };
struct field {
	const char *key;
	enum fkind kind;
	int64_t min, max;
	size_t off;
};

#define I(k, lo, hi, s, m) { k, F_INT, lo, hi, offsetof(s, m) }
#define B(k, s, m) { k, F_BOOL, 0, 0, offsetof(s, m) }
#define S(k, s, m) { k, F_STR, 0, 0, offsetof(s, m) }

static const struct field memory_fields[] = {
	I("limit", -1, INT64_MAX, struct husk_res_memory, limit),
	I("reservation", -1, INT64_MAX, struct husk_res_memory, reservation),
	I("swap", -1, INT64_MAX, struct husk_res_memory, swap),
	I("kernel", -1, INT64_MAX, struct husk_res_memory, kernel),
	I("kernelTCP", -1, INT64_MAX, struct husk_res_memory, kernel_tcp),
	I("swappiness", 0, 100, struct husk_res_memory, swappiness),
	B("disableOOMKiller", struct husk_res_memory, disable_oom_killer),
	B("useHierarchy", struct husk_res_memory, use_hierarchy),
	B("checkBeforeUpdate", struct husk_res_memory, check_before_update),
	{ NULL, F_INT, 0, 0, 0 },
};

static const struct field cpu_fields[] = {
	I("shares", 0, 262144, struct husk_res_cpu, shares),
	I("quota", -1, INT64_MAX, struct husk_res_cpu, quota),
	I("burst", 0, INT64_MAX, struct husk_res_cpu, burst),
	I("period", 0, 1000000, struct husk_res_cpu, period),
	I("realtimeRuntime", -1, INT64_MAX, struct husk_res_cpu, realtime_runtime),
	I("realtimePeriod", 0, INT64_MAX, struct husk_res_cpu, realtime_period),
	I("idle", 0, 1, struct husk_res_cpu, idle),
	S("cpus", struct husk_res_cpu, cpus),
	S("mems", struct husk_res_cpu, mems),
	{ NULL, F_INT, 0, 0, 0 },
};

static const struct field pids_fields[] = {
	I("limit", INT64_MIN, INT64_MAX, struct husk_res_pids, limit),
	{ NULL, F_INT, 0, 0, 0 },
};

static const struct field blkio_fields[] = {
	I("weight", 0, 1000, struct husk_res_blkio, weight),
	I("leafWeight", 0, 1000, struct husk_res_blkio, leaf_weight),
	{ NULL, F_INT, 0, 0, 0 },
};

static const struct field weight_dev_fields[] = {
	I("weight", 0, 1000, struct husk_res_weight_dev, weight),
	I("leafWeight", 0, 1000, struct husk_res_weight_dev, leaf_weight),
	{ NULL, F_INT, 0, 0, 0 },
};

static const struct field network_fields[] = {
	I("classID", 0, UINT32_MAX, struct husk_res_network, class_id),
	{ NULL, F_INT, 0, 0, 0 },
};

static const struct field rdma_fields[] = {
	I("hcaHandles", 0, UINT32_MAX, struct husk_res_rdma, hca_handles),
	I("hcaObjects", 0, UINT32_MAX, struct husk_res_rdma, hca_objects),
	{ NULL, F_INT, 0, 0, 0 },
};

/* A string member; NULL when absent.  Values go into cgroup files. */
static int get_str(json_t *o, const char *obj, const char *key, const char **out,
		   struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	json_t *v = sj_get(o, key);
	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return sj_expected(e, sj_path(p, obj, key), "a string");
	if (strchr(json_string_value(v), '\n'))
		return husk_err(e, 0, "%s: newline in value", sj_path(p, obj, key));
	*out = json_string_value(v);
	return 0;
}

static int get_int(json_t *o, const char *obj, const char *key, int64_t min, int64_t max,
		   struct husk_opt_int *out, struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	json_t *v = sj_get(o, key);
	if (!v)
		return 0;
	out->set = true;
	return sj_int_clamped(v, sj_path(p, obj, key), min, max, &out->v, e);
}

static int parse_fields(json_t *o, const char *obj, const struct field *f, void *base,
			struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	for (; f->key; f++) {
		void *m = (char *)base + f->off;
		json_t *v = sj_get(o, f->key);
		if (f->kind == F_INT) {
			if (get_int(o, obj, f->key, f->min, f->max, m, e) < 0)
				return -1;
		} else if (f->kind == F_STR) {
			const char *s;
			if (get_str(o, obj, f->key, &s, e) < 0)
				return -1;
			*(char **)m = s ? xstrdup(s) : NULL;
		} else if (v) {
			if (!json_is_boolean(v))
				return husk_err(e, 0, "%s: expected true or false", sj_path(p, obj, f->key));
			*(struct husk_opt_bool *)m = (struct husk_opt_bool){ true, json_is_true(v) };
		}
	}
	return 0;
}

static void fields_json(json_t *o, const struct field *f, const void *base)
{
	for (; f->key; f++) {
		const void *m = (const char *)base + f->off;
		const struct husk_opt_int *i = m;
		const struct husk_opt_bool *b = m;
		if (f->kind == F_INT && i->set)
			json_object_set_new(o, f->key, json_integer(i->v));
		else if (f->kind == F_BOOL && b->set)
			json_object_set_new(o, f->key, json_boolean(b->v));
		else if (f->kind == F_STR && *(char *const *)m)
			json_object_set_new(o, f->key, json_string(*(char *const *)m));
	}
}

static void fields_free(const struct field *f, void *base)
{
	for (; f->key; f++)
		if (f->kind == F_STR)
			free(*(char **)((char *)base + f->off));
}

/* A section object: known members only (the rest is noted and ignored). */
static int section(json_t *o, const char *obj, const struct field *f, void *base,
		   const char *const *extra, struct husk_error *e)
{
	const char *known[16];
	size_t n = 0;
	for (const struct field *k = f; k->key; k++)
		known[n++] = k->key;
	for (; extra && *extra; extra++)
		known[n++] = *extra;
	known[n] = NULL;
	if (sj_object(o, obj, e) < 0)
		return -1;
	sj_ignore_unknown(o, obj, known);
	return parse_fields(o, obj, f, base, e);
}

/* One {major, minor, ...} entry of a blockIO device list. */
static int dev_entry(json_t *d, const char *obj, const char *const *keys, int64_t *major,
		     int64_t *minor, struct husk_error *e)
{
	struct husk_opt_int maj = { 0 }, min = { 0 };
	if (sj_object(d, obj, e) < 0)
		return -1;
	sj_ignore_unknown(d, obj, keys);
	if (get_int(d, obj, "major", 0, UINT32_MAX, &maj, e) < 0 ||
	    get_int(d, obj, "minor", 0, UINT32_MAX, &min, e) < 0)
		return -1;
	if (!maj.set || !min.set)
		return husk_err(e, 0, "%s: major and minor are required", obj);
	*major = maj.v;
	*minor = min.v;
	return 0;
}

static int parse_blkio(json_t *o, struct husk_res_blkio *b, struct husk_error *e)
{
	const char *const lists[] = { "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice",
				      "throttleReadIOPSDevice", "throttleWriteIOPSDevice", NULL };
	b->set = true;
	if (section(o, P ".blockIO", blkio_fields, b, lists, e) < 0)
		return -1;
	if ((b->weight.v && b->weight.v < 10) || (b->leaf_weight.v && b->leaf_weight.v < 10))
		return husk_err(e, 0, P ".blockIO: weights are in [10, 1000]");
	json_t *arr = sj_get(o, "weightDevice"), *d;
	size_t i;
	if (arr && sj_array(arr, P ".blockIO.weightDevice", e) < 0)
		return -1;
	if (arr)
		b->weight_device = xcalloc(json_array_size(arr) + 1, sizeof(*b->weight_device));
	json_array_foreach(arr, i, d) {
		struct husk_res_weight_dev *w = &b->weight_device[b->n_weight_device++];
		static const char *const keys[] = { "major", "minor", "weight", "leafWeight", NULL };
		if (dev_entry(d, P ".blockIO.weightDevice[]", keys, &w->major, &w->minor, e) < 0 ||
		    parse_fields(d, P ".blockIO.weightDevice[]", weight_dev_fields, w, e) < 0)
			return -1;
	}
	for (size_t t = 0; t < HUSK_THROTTLE__COUNT; t++) {
		char obj[96];
		snprintf(obj, sizeof(obj), P ".blockIO.%s", husk_res_throttle_key[t]);
		if (!(arr = sj_get(o, husk_res_throttle_key[t])))
			continue;
		if (sj_array(arr, obj, e) < 0)
			return -1;
		b->throttle[t] = xcalloc(json_array_size(arr) + 1, sizeof(*b->throttle[t]));
		strcat(obj, "[]");
		json_array_foreach(arr, i, d) {
			struct husk_res_rate_dev *r = &b->throttle[t][b->n_throttle[t]++];
			struct husk_opt_int rate = { 0 };
			static const char *const keys[] = { "major", "minor", "rate", NULL };
			if (dev_entry(d, obj, keys, &r->major, &r->minor, e) < 0 ||
			    get_int(d, obj, "rate", 0, INT64_MAX, &rate, e) < 0)
				return -1;
			r->rate = rate.v;
		}
	}
	return 0;
}

static bool valid_page_size(const char *s)
{
	/* "2MB", "1GB", "64KB" as the kernel names them in hugetlb.<size>.* */
	size_t n = strspn(s, "0123456789");
	return n > 0 && s[0] != '0' && (!strcmp(s + n, "KB") || !strcmp(s + n, "MB") || !strcmp(s + n, "GB"));
}

static int parse_hugetlb(json_t *arr, struct husk_resources *r, struct husk_error *e)
{
	static const char *const keys[] = { "pageSize", "limit", NULL };
	const char *obj = P ".hugepageLimits[]";
	r->has_hugepage_limits = true;
	if (sj_array(arr, P ".hugepageLimits", e) < 0)
		return -1;
	r->hugepage_limits = xcalloc(json_array_size(arr) + 1, sizeof(*r->hugepage_limits));
	size_t i;
	json_t *o;
	json_array_foreach(arr, i, o) {
		const char *ps;
		struct husk_opt_int limit = { 0 };
		if (sj_object(o, obj, e) < 0)
			return -1;
		sj_ignore_unknown(o, obj, keys);
		if (get_str(o, obj, "pageSize", &ps, e) < 0 ||
		    get_int(o, obj, "limit", 0, INT64_MAX, &limit, e) < 0)
			return -1;
		if (!ps || !valid_page_size(ps))
			return husk_err(e, 0, P ".hugepageLimits: invalid pageSize \"%s\"", ps ? ps : "");
		if (!limit.set)
			return husk_err(e, 0, P ".hugepageLimits: %s: limit is required", ps);
		r->hugepage_limits[r->n_hugepage_limits++] =
			(struct husk_res_hugepage){ xstrdup(ps), limit.v };
	}
	return 0;
}

static int parse_network(json_t *o, struct husk_resources *r, struct husk_error *e)
{
	static const char *const keys[] = { "classID", "priorities", NULL };
	static const char *const pk[] = { "name", "priority", NULL };
	const char *obj = P ".network.priorities[]";
	r->network.set = true;
	if (sj_object(o, P ".network", e) < 0)
		return -1;
	sj_ignore_unknown(o, P ".network", keys);
	if (parse_fields(o, P ".network", network_fields, &r->network, e) < 0)
		return -1;
	json_t *arr = sj_get(o, "priorities"), *p;
	if (arr && sj_array(arr, P ".network.priorities", e) < 0)
		return -1;
	if (arr)
		r->network.priorities = xcalloc(json_array_size(arr) + 1, sizeof(*r->network.priorities));
	size_t i;
	json_array_foreach(arr, i, p) {
		const char *name;
		struct husk_opt_int prio = { 0 };
		if (sj_object(p, obj, e) < 0)
			return -1;
		sj_ignore_unknown(p, obj, pk);
		if (get_str(p, obj, "name", &name, e) < 0 ||
		    get_int(p, obj, "priority", 0, UINT32_MAX, &prio, e) < 0)
			return -1;
		if (!name || !*name || strpbrk(name, " /"))
			return husk_err(e, 0, P ".network.priorities: invalid interface name");
		r->network.priorities[r->network.n_priorities++] =
			(struct husk_res_prio){ xstrdup(name), prio.v };
	}
	return 0;
}

static int parse_rdma(json_t *o, struct husk_resources *r, struct husk_error *e)
{
	r->has_rdma = true;
	if (sj_object(o, P ".rdma", e) < 0)
		return -1;
	r->rdma = xcalloc(json_object_size(o) + 1, sizeof(*r->rdma));
	const char *dev;
	json_t *v;
	json_object_foreach(o, dev, v) {
		if (!*dev || strpbrk(dev, " =\n/"))
			return husk_err(e, 0, P ".rdma: invalid device name \"%s\"", dev);
		struct husk_res_rdma *d = &r->rdma[r->n_rdma++];
		d->device = xstrdup(dev);
		if (section(v, P ".rdma.<device>", rdma_fields, d, NULL, e) < 0)
			return -1;
	}
	return 0;
}

static int parse_unified(json_t *o, struct husk_resources *r, struct husk_error *e)
{
	r->has_unified = true;
	if (sj_object(o, P ".unified", e) < 0)
		return -1;
	r->unified = xcalloc(json_object_size(o) + 1, sizeof(*r->unified));
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		const char *dot = strchr(k, '.');
		if (!dot || dot == k || !dot[1] || strchr(k, '/') || strstr(k, ".."))
			return husk_err(e, 0, P ".unified: invalid key \"%s\"", k);
		if (!json_is_string(v))
			return husk_err(e, 0, P ".unified.%s: expected a string", k);
		r->unified[r->n_unified++] =
			(struct husk_res_unified){ xstrdup(k), xstrdup(json_string_value(v)) };
	}
	return 0;
}

static int parse_cpu(json_t *o, struct husk_res_cpu *c, struct husk_error *e)
{
	c->set = true;
	if (section(o, P ".cpu", cpu_fields, c, NULL, e) < 0)
		return -1;
	if (c->shares.set && c->shares.v == 1)
		return husk_err(e, 0, P ".cpu.shares: 1 is out of range [2, 262144]");
	if (c->period.set && c->period.v != 0 && c->period.v < 1000)
		return husk_err(e, 0, P ".cpu.period: %lld is out of range [1000, 1000000]",
				(long long)c->period.v);
	if (c->quota.set && c->quota.v > 0 && c->quota.v < 1000)
		return husk_err(e, 0, P ".cpu.quota: %lld is below 1000", (long long)c->quota.v);
	return 0;
}

static int parse_sections(json_t *v, struct husk_resources *r, struct husk_error *e)
{
	static const char *const keys[] = { "devices", "memory", "cpu", "pids", "blockIO",
					    "hugepageLimits", "network", "rdma", "unified", NULL };
	json_t *f;
	if (sj_object(v, P, e) < 0)
		return -1;
	sj_ignore_unknown(v, P, keys);
	if ((f = sj_get(v, "devices"))) {
		r->has_devices = true;
		if (husk_cg_parse_devices(f, P ".devices", &r->devices, &r->n_devices, e) < 0)
			return -1;
	}
	if ((f = sj_get(v, "memory")) && (r->memory.set = true) &&
	    section(f, P ".memory", memory_fields, &r->memory, NULL, e) < 0)
		return -1;
	if ((f = sj_get(v, "cpu")) && parse_cpu(f, &r->cpu, e) < 0)
		return -1;
	if ((f = sj_get(v, "pids")) && (r->pids.set = true) &&
	    section(f, P ".pids", pids_fields, &r->pids, NULL, e) < 0)
		return -1;
	if ((f = sj_get(v, "blockIO")) && parse_blkio(f, &r->block_io, e) < 0)
		return -1;
	if ((f = sj_get(v, "hugepageLimits")) && parse_hugetlb(f, r, e) < 0)
		return -1;
	if ((f = sj_get(v, "network")) && parse_network(f, r, e) < 0)
		return -1;
	if ((f = sj_get(v, "rdma")) && parse_rdma(f, r, e) < 0)
		return -1;
	if ((f = sj_get(v, "unified")) && parse_unified(f, r, e) < 0)
		return -1;
	return 0;
}

int husk_resources_parse(json_t *v, struct husk_resources *r, struct husk_error *e)
{
	memset(r, 0, sizeof(*r));
	if (!v || json_is_null(v))
		return 0;
	r->set = true;
	if (parse_sections(v, r, e) < 0) {
		husk_resources_free(r);
		return -1;
	}
	return 0;
}

/* A device rule's members that may be absent. */
struct cg_dev_rule_opts {
	struct husk_opt_bool allow;
	struct husk_opt_int major, minor;
};

static int dev_rule(json_t *d, const char *what, size_t i, struct cg_dev_rule *r,
		    struct husk_error *e)
{
	static const char *const keys[] = { "allow", "type", "major", "minor", "access", NULL };
	static const struct field f[] = {
		B("allow", struct cg_dev_rule_opts, allow),
		{ NULL, F_INT, 0, 0, 0 },
	};
	const char *obj = P ".devices[]", *type, *access;
	struct cg_dev_rule_opts o = { 0 };
	if (sj_object(d, obj, e) < 0)
		return -1;
	sj_ignore_unknown(d, obj, keys);
	if (parse_fields(d, obj, f, &o, e) < 0 || get_str(d, obj, "type", &type, e) < 0 ||
	    get_str(d, obj, "access", &access, e) < 0)
		return -1;
	if (!o.allow.set)
		return husk_err(e, 0, "%s[%zu]: allow is required", what, i);
	r->allow = o.allow.v;
	r->type = type && *type ? type[0] : 'a';
	if ((type && *type && type[1]) || !strchr("acb", r->type))
		return husk_err(e, 0, "%s[%zu]: invalid type \"%s\"", what, i, type);
	if (get_int(d, obj, "major", -1, UINT32_MAX, &o.major, e) < 0 ||
	    get_int(d, obj, "minor", -1, UINT32_MAX, &o.minor, e) < 0)
		return -1;
	r->major = o.major.set ? o.major.v : -1;
	r->minor = o.minor.set ? o.minor.v : -1;
	r->access = 0;
	for (const char *a = access && *access ? access : "rwm"; *a; a++) {
		unsigned bit = *a == 'm' ? 1 : *a == 'r' ? 2 : *a == 'w' ? 4 : 0;
		if (!bit || (r->access & bit))
			return husk_err(e, 0, "%s[%zu]: invalid access \"%s\"", what, i, access);
		r->access |= bit;
	}
	return 0;
}

int husk_cg_parse_devices(const json_t *arr, const char *what, struct cg_dev_rule **out, size_t *n,
			  struct husk_error *e)
{
	*out = NULL;
	*n = 0;
	if (!json_is_array(arr))
		return husk_err(e, 0, "%s: expected an array", what);
	struct cg_dev_rule *v = xcalloc(json_array_size(arr) + 1, sizeof(*v));
	size_t i;
	json_t *d;
	json_array_foreach((json_t *)arr, i, d) {
		if (dev_rule(d, what, i, &v[i], e) < 0) {
			free(v);
			return -1;
		}
	}
	*out = v;
	*n = json_array_size(arr);
	return 0;
}

void husk_resources_free(struct husk_resources *r)
{
	free(r->devices);
	fields_free(cpu_fields, &r->cpu);
	free(r->block_io.weight_device);
	for (size_t t = 0; t < HUSK_THROTTLE__COUNT; t++)
		free(r->block_io.throttle[t]);
	for (size_t i = 0; i < r->n_hugepage_limits; i++)
		free(r->hugepage_limits[i].page_size);
	free(r->hugepage_limits);
	for (size_t i = 0; i < r->network.n_priorities; i++)
		free(r->network.priorities[i].name);
	free(r->network.priorities);
	for (size_t i = 0; i < r->n_rdma; i++)
		free(r->rdma[i].device);
	free(r->rdma);
	for (size_t i = 0; i < r->n_unified; i++) {
		free(r->unified[i].key);
		free(r->unified[i].value);
	}
	free(r->unified);
	memset(r, 0, sizeof(*r));
}

bool husk_resources_empty(const struct husk_resources *r)
{
	return !r->has_devices && !r->memory.set && !r->cpu.set && !r->pids.set &&
	       !r->block_io.set && !r->has_hugepage_limits && !r->network.set && !r->has_rdma &&
	       !r->has_unified;
}

static json_t *devices_json(const struct husk_resources *r)
{
	json_t *a = json_array();
	for (size_t i = 0; i < r->n_devices; i++) {
		const struct cg_dev_rule *d = &r->devices[i];
		char type[2] = { d->type, 0 }, acc[4], *p = acc;
		if (d->access & 2)
			*p++ = 'r';
		if (d->access & 4)
			*p++ = 'w';
		if (d->access & 1)
			*p++ = 'm';
		*p = '\0';
		json_t *o = json_pack("{s:b, s:s, s:s}", "allow", d->allow, "type", type, "access", acc);
		if (d->major >= 0)
			json_object_set_new(o, "major", json_integer(d->major));
		if (d->minor >= 0)
			json_object_set_new(o, "minor", json_integer(d->minor));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *blkio_json(const struct husk_res_blkio *b)
{
	json_t *o = json_object(), *a = json_array();
	fields_json(o, blkio_fields, b);
	for (size_t i = 0; b->weight_device && i < b->n_weight_device; i++) {
		const struct husk_res_weight_dev *w = &b->weight_device[i];
		json_t *d = json_pack("{s:I, s:I}", "major", (json_int_t)w->major, "minor",
				      (json_int_t)w->minor);
		fields_json(d, weight_dev_fields, w);
		json_array_append_new(a, d);
	}
	if (b->weight_device)
		json_object_set_new(o, "weightDevice", a);
	else
		json_decref(a);
	for (size_t t = 0; t < HUSK_THROTTLE__COUNT; t++) {
		if (!b->throttle[t])
			continue;
		a = json_array();
		for (size_t i = 0; i < b->n_throttle[t]; i++) {
			const struct husk_res_rate_dev *r = &b->throttle[t][i];
			json_array_append_new(a, json_pack("{s:I, s:I, s:I}", "major", (json_int_t)r->major,
							   "minor", (json_int_t)r->minor, "rate",
							   (json_int_t)r->rate));
		}
		json_object_set_new(o, husk_res_throttle_key[t], a);
	}
	return o;
}

static json_t *section_json(const struct field *f, const void *base)
{
	json_t *o = json_object();
	fields_json(o, f, base);
	return o;
}

/* The sections that are lists or maps. */
static void lists_json(json_t *o, const struct husk_resources *r)
{
	if (r->has_hugepage_limits) {
		json_t *a = json_array();
		for (size_t i = 0; i < r->n_hugepage_limits; i++)
			json_array_append_new(a, json_pack("{s:s, s:I}", "pageSize",
							   r->hugepage_limits[i].page_size, "limit",
							   (json_int_t)r->hugepage_limits[i].limit));
		json_object_set_new(o, "hugepageLimits", a);
	}
	if (r->network.set) {
		json_t *n = json_object(), *a = json_array();
		fields_json(n, network_fields, &r->network);
		for (size_t i = 0; i < r->network.n_priorities; i++)
			json_array_append_new(a, json_pack("{s:s, s:I}", "name", r->network.priorities[i].name,
							   "priority",
							   (json_int_t)r->network.priorities[i].priority));
		if (r->network.priorities)
			json_object_set_new(n, "priorities", a);
		else
			json_decref(a);
		json_object_set_new(o, "network", n);
	}
	if (r->has_rdma) {
		json_t *m = json_object();
		for (size_t i = 0; i < r->n_rdma; i++)
			json_object_set_new(m, r->rdma[i].device, section_json(rdma_fields, &r->rdma[i]));
		json_object_set_new(o, "rdma", m);
	}
	if (r->has_unified) {
		json_t *m = json_object();
		for (size_t i = 0; i < r->n_unified; i++)
			json_object_set_new(m, r->unified[i].key, json_string(r->unified[i].value));
		json_object_set_new(o, "unified", m);
	}
}

json_t *husk_resources_json(const struct husk_resources *r)
{
	if (!r->set)
		return NULL;
	json_t *o = json_object();
	if (r->has_devices)
		json_object_set_new(o, "devices", devices_json(r));
	if (r->memory.set)
		json_object_set_new(o, "memory", section_json(memory_fields, &r->memory));
	if (r->cpu.set)
		json_object_set_new(o, "cpu", section_json(cpu_fields, &r->cpu));
	if (r->pids.set)
		json_object_set_new(o, "pids", section_json(pids_fields, &r->pids));
	if (r->block_io.set)
		json_object_set_new(o, "blockIO", blkio_json(&r->block_io));
	lists_json(o, r);
	return o;
}
