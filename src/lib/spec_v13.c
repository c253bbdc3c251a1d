/* The fields runtime-spec 1.3 added: linux.netDevices, linux.memoryPolicy,
 * linux.intelRdt.schemata/enableMonitoring and process.execCPUAffinity.
 * Everything is checked here, so that a bad value fails before anything
 * exists; the modules that apply them (netdev.c, mempolicy.c, intelrdt.c)
 * trust these structures. */
#include <ctype.h>
#include <string.h>

#include "mempolicy.h"
#include "spec.h"
#include "spec_internal.h"
#include "util.h"

#define IFNAME_MAX 15   /* IFNAMSIZ - 1 */
#define NODE_LIMIT 1024 /* the kernel's largest MAX_NUMNODES (NODES_SHIFT 10) */
#define CPU_LIMIT 8192  /* the kernel's largest NR_CPUS */

void husk_idset_free(struct husk_idset *set)
{
	free(set->bits);
	set->bits = NULL;
	set->nbits = 0;
}

static void idset_add(struct husk_idset *set, unsigned id)
{
	const size_t w = 8 * sizeof(unsigned long);
	size_t words = (set->nbits + w - 1) / w, need = id / w + 1;
	if (need > words) {
		set->bits = xrealloc(set->bits, need * sizeof(unsigned long));
		memset(set->bits + words, 0, (need - words) * sizeof(unsigned long));
	}
	set->bits[id / w] |= 1UL << (id % w);
	if (id + 1 > set->nbits)
		set->nbits = id + 1;
}

static int parse_id(const char **p, unsigned limit, const char *path, const char *text,
		    unsigned *out, struct husk_error *e)
{
	if (!isdigit((unsigned char)**p))
		return husk_err(e, 0, "%s: \"%s\": expected a list like \"0-3,7\"", path, text);
	unsigned long long v = 0;
	bool big = false;
	for (; isdigit((unsigned char)**p); (*p)++) {
		v = v * 10 + (unsigned)(**p - '0');
		big |= v >= limit;
		if (big)
			v = limit; /* keeps it from wrapping; reported below */
	}
	if (big) {
		const char *start = *p;
		while (start > text && isdigit((unsigned char)start[-1]))
			start--;
		return husk_err(e, 0, "%s: \"%s\": %.*s is out of range (at most %u)", path, text,
				(int)(*p - start), start, limit - 1);
	}
	*out = (unsigned)v;
	return 0;
}

int husk_idset_parse(const char *text, unsigned limit, const char *path, struct husk_idset *out,
		     struct husk_error *e)
{
	struct husk_idset set = { 0 };
	const char *p = text;
	while (*p) {
		unsigned lo, hi;
		if (parse_id(&p, limit, path, text, &lo, e) < 0)
			goto fail;
		hi = lo;
		if (*p == '-') {
			p++;
			if (parse_id(&p, limit, path, text, &hi, e) < 0)
				goto fail;
			if (hi < lo) {
				husk_err(e, 0, "%s: \"%s\": range %u-%u is reversed", path, text, lo, hi);
				goto fail;
			}
		}
		if (*p && *p != ',') {
			husk_err(e, 0, "%s: \"%s\": expected a list like \"0-3,7\"", path, text);
			goto fail;
		}
		if (*p == ',' && !*++p) {
			husk_err(e, 0, "%s: \"%s\": trailing comma", path, text);
			goto fail;
		}
		for (unsigned i = lo; i <= hi; i++)
			idset_add(&set, i);
	}
	*out = set;
	return 0;
fail:
	husk_idset_free(&set);
	return -1;
}

/* ---- process.execCPUAffinity ---- */

int husk_spec_parse_cpu_affinity(json_t *v, const char *path, struct husk_cpu_affinity *a,
				 struct husk_error *e)
{
	static const char *const keys[] = { "initial", "final" };
	struct husk_idset *sets[] = { &a->initial, &a->final };
	char p[SJ_PATH_MAX];
	if (sj_object(v, path, e) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		_cleanup_free_ char *text = NULL;
		if (sj_opt_string(v, path, keys[i], &text, e) < 0)
			return -1;
		/* Empty or absent: leave the affinity as the kernel makes it. */
		if (text && *text &&
		    husk_idset_parse(text, CPU_LIMIT, sj_path(p, path, keys[i]), sets[i], e) < 0)
			return -1;
	}
	a->set = true;
	return 0;
}

/* ---- linux.memoryPolicy ---- */

int husk_mempolicy_parse(json_t *v, const char *path, struct husk_mempolicy *m,
			 struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	json_t *f;
	_cleanup_free_ char *mode = NULL, *nodes = NULL;
	if (sj_object(v, path, e) < 0)
		return -1;
	if (!(f = sj_get(v, "mode")))
		return husk_err(e, 0, "%s: required field missing", sj_path(p, path, "mode"));
	if (sj_string(f, sj_path(p, path, "mode"), &mode, e) < 0)
		return -1;
	m->mode = husk_mempolicy_mode(mode);
	if (m->mode < 0)
		return husk_err(e, 0, "%s: unknown mode \"%s\"", p, mode);
	if (sj_opt_string(v, path, "nodes", &nodes, e) < 0)
		return -1;
	if (nodes && *nodes &&
	    husk_idset_parse(nodes, NODE_LIMIT, sj_path(p, path, "nodes"), &m->nodes, e) < 0)
		return -1;
	if ((f = sj_get(v, "flags"))) {
		char ip[SJ_PATH_MAX];
		size_t i;
		json_t *it;
		sj_path(p, path, "flags");
		if (!json_is_array(f))
			return sj_expected(e, p, "an array");
		json_array_foreach(f, i, it) {
			_cleanup_free_ char *name = NULL;
			if (sj_string(it, sj_index(ip, p, i), &name, e) < 0)
				return -1;
			int flag = husk_mempolicy_flag(name);
			if (flag < 0)
				return husk_err(e, 0, "%s: unknown flag \"%s\"", ip, name);
			m->flags |= (unsigned)flag;
		}
	}
	/* The combinations set_mempolicy(2) always refuses, said plainly. */
	bool empty = m->nodes.nbits == 0;
	if ((m->mode == HUSK_MPOL_DEFAULT || m->mode == HUSK_MPOL_LOCAL) && !empty)
		return husk_err(e, 0, "%s: mode %s takes no nodes", sj_path(p, path, "nodes"), mode);
	if (empty && m->mode != HUSK_MPOL_DEFAULT && m->mode != HUSK_MPOL_LOCAL &&
	    m->mode != HUSK_MPOL_PREFERRED)
		return husk_err(e, 0, "%s: mode %s needs at least one node",
				sj_path(p, path, "nodes"), mode);
	if ((m->flags & HUSK_MPOL_F_STATIC_NODES) && (m->flags & HUSK_MPOL_F_RELATIVE_NODES))
		return husk_err(e, 0,
				"%s: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other",
				sj_path(p, path, "flags"));
	if (m->flags && (m->mode == HUSK_MPOL_DEFAULT || m->mode == HUSK_MPOL_LOCAL))
		return husk_err(e, 0, "%s: mode %s takes no flags", sj_path(p, path, "flags"), mode);
	m->set = true;
	return 0;
}

/* ---- linux.netDevices ---- */

/* What the kernel's dev_valid_name() accepts, less '%': a new name with
 * "%d" is a pattern the kernel fills in (ctr0), which husk would then not
 * find to give back; no existing device has one in its name. */
static bool valid_ifname(const char *n)
{
	if (!*n || strlen(n) > IFNAME_MAX || !strcmp(n, ".") || !strcmp(n, ".."))
		return false;
	for (const char *c = n; *c; c++)
		if (*c == '/' || *c == ':' || *c == '%' || isspace((unsigned char)*c))
			return false;
	return true;
}

static int parse_net_devices(json_t *v, struct husk_spec *s, struct husk_error *e)
{
	char p[SJ_PATH_MAX], fp[SJ_PATH_MAX];
	const char *key;
	json_t *it;
	if (sj_object(v, "linux.netDevices", e) < 0)
		return -1;
	s->net_devices = xcalloc(json_object_size(v) + 1, sizeof(*s->net_devices));
	json_object_foreach(v, key, it) {
		struct husk_net_device *d = &s->net_devices[s->n_net_devices++];
		sj_path(p, "linux.netDevices", key);
		d->host_name = xstrdup(key);
		if (!valid_ifname(key))
			return husk_err(e, 0, "%s: \"%s\" is not a valid interface name", p, key);
		if (sj_object(it, p, e) < 0 || sj_opt_string(it, p, "name", &d->name, e) < 0)
			return -1;
		if (d->name && !*d->name) {
			free(d->name);
			d->name = NULL;
		}
		if (!d->name)
			d->name = xstrdup(key);
		else if (!valid_ifname(d->name))
			return husk_err(e, 0, "%s: \"%s\" is not a valid interface name",
					sj_path(fp, p, "name"), d->name);
		for (size_t i = 0; i + 1 < s->n_net_devices; i++)
			if (!strcmp(s->net_devices[i].name, d->name))
				return husk_err(e, 0, "%s: \"%s\" and \"%s\" would both be \"%s\" in the container",
						p, s->net_devices[i].host_name, key, d->name);
	}
	/* Moving into the runtime's own namespace means nothing: refused. */
	if (s->n_net_devices && !s->namespaces[HUSK_NS_NET].present)
		return husk_err(e, 0, "linux.netDevices: requires a network namespace in linux.namespaces");
	return 0;
}

/* ---- linux.intelRdt ---- */

static int no_newline(const char *path, const char *v, struct husk_error *e)
{
	return strchr(v, '\n') ? husk_err(e, 0, "%s: must not contain newlines", path) : 0;
}

static int parse_intel_rdt(json_t *v, struct husk_intel_rdt *r, struct husk_error *e)
{
	const char *P = "linux.intelRdt";
	char p[SJ_PATH_MAX];
	json_t *f;
	if (sj_object(v, P, e) < 0 || sj_opt_string(v, P, "closID", &r->clos_id, e) < 0 ||
	    sj_opt_string(v, P, "l3CacheSchema", &r->l3_cache_schema, e) < 0 ||
	    sj_opt_string(v, P, "memBwSchema", &r->mem_bw_schema, e) < 0 ||
	    sj_opt_bool(v, P, "enableMonitoring", &r->enable_monitoring, e) < 0)
		return -1;
	/* A group is a directory in the resctrl root; its own files and
	 * directories there are not groups. */
	if (r->clos_id && (!*r->clos_id || strchr(r->clos_id, '/') || !strcmp(r->clos_id, ".") ||
			   !strcmp(r->clos_id, "..") || !strcmp(r->clos_id, "info") ||
			   !strcmp(r->clos_id, "mon_groups") || !strcmp(r->clos_id, "mon_data")))
		return husk_err(e, 0, "%s.closID: \"%s\" is not a valid resctrl group name", P,
				r->clos_id);
	if (r->mem_bw_schema) {
		if (strncmp(r->mem_bw_schema, "MB:", 3) != 0)
			return husk_err(e, 0, "%s.memBwSchema: must start with \"MB:\"", P);
		if (no_newline("linux.intelRdt.memBwSchema", r->mem_bw_schema, e) < 0)
			return -1;
	}
	if ((f = sj_get(v, "schemata"))) {
		if (sj_strv(f, sj_path(p, P, "schemata"), &r->schemata, NULL, e) < 0)
			return -1;
		for (size_t i = 0; r->schemata[i]; i++)
			if (no_newline(sj_index(p, "linux.intelRdt.schemata", i), r->schemata[i], e) < 0)
				return -1;
	}
	r->set = true;
	return 0;
}

int husk_spec_parse_v13_linux(json_t *lx, struct husk_spec *s, struct husk_error *e)
{
	json_t *f;
	if ((f = sj_get(lx, "netDevices")) && parse_net_devices(f, s, e) < 0)
		return -1;
	if ((f = sj_get(lx, "memoryPolicy")) &&
	    husk_mempolicy_parse(f, "linux.memoryPolicy", &s->mempolicy, e) < 0)
		return -1;
	if ((f = sj_get(lx, "intelRdt")) && parse_intel_rdt(f, &s->intel_rdt, e) < 0)
		return -1;
	return 0;
}

void husk_spec_free_v13(struct husk_spec *s)
{
	for (size_t i = 0; i < s->n_net_devices; i++) {
		free(s->net_devices[i].host_name);
		free(s->net_devices[i].name);
	}
	free(s->net_devices);
	husk_idset_free(&s->mempolicy.nodes);
	free(s->intel_rdt.clos_id);
	free(s->intel_rdt.l3_cache_schema);
	free(s->intel_rdt.mem_bw_schema);
	husk_strv_free(s->intel_rdt.schemata);
}
