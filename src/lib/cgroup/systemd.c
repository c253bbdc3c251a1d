/* The systemd driver's pure half: cgroupsPath -> unit and cgroup path,
 * linux.resources -> unit properties (the D-Bus half is systemd_bus.c). */
#include "cgroup/systemd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define SD_INFINITY UINT64_MAX
#define SD_DEFAULT_PREFIX "husk"

/* Characters systemd accepts in a unit name (unit_name_is_valid). */
static bool unit_chars_ok(const char *s)
{
	for (; *s; s++)
		if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') || ('0' <= *s && *s <= '9') ||
		      strchr("_.-\\@", *s)))
			return false;
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

int husk_sd_expand_slice(const char *slice, char **out, struct husk_error *e)
{
	if (!ends_with(slice, ".slice") || strchr(slice, '/') || !unit_chars_ok(slice))
		return husk_err(e, 0, "\"%s\" is not a slice name (like \"system.slice\")", slice);
	size_t base_len = strlen(slice) - strlen(".slice");
	if (base_len == 1 && slice[0] == '-') {
		*out = xstrdup(""); /* the root slice */
		return 0;
	}
	/* Each dash starts a child: a-b.slice lives in a.slice. */
	char *path = xstrdup("");
	for (size_t i = 0; i <= base_len; i++) {
		if (i < base_len && slice[i] != '-')
			continue;
		if (i == 0 || slice[i - 1] == '-' || (i == base_len && slice[i - 1] == '-')) {
			free(path);
			return husk_err(e, 0, "\"%s\" is not a slice name (empty part between dashes)", slice);
		}
		char *next = xasprintf("%s/%.*s.slice", path, (int)i, slice);
		free(path);
		path = next;
	}
	*out = path;
	return 0;
}

void husk_sd_unit_free(struct husk_sd_unit *u)
{
	free(u->unit);
	free(u->slice);
	free(u->path);
	*u = (struct husk_sd_unit){ 0 };
}

int husk_sd_parse(const char *cgroups_path, const char *id, bool user, struct husk_sd_unit *u,
		  struct husk_error *e)
{
	*u = (struct husk_sd_unit){ .user = user };
	const char *p = cgroups_path ? cgroups_path : "";
	_cleanup_free_ char *slice = NULL, *prefix = NULL, *name = NULL;
	if (!*p) {
		slice = xstrdup("");
		prefix = xstrdup(SD_DEFAULT_PREFIX);
		name = xstrdup(id);
	} else {
		const char *c1 = strchr(p, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || strchr(c2 + 1, ':'))
			return husk_err(e, 0, "cgroupsPath \"%s\" is not \"slice:prefix:name\" (systemd driver)", p);
		slice = xstrndup(p, (size_t)(c1 - p));
		prefix = xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
		name = xstrdup(c2 + 1);
	}
	if (!*name)
		return husk_err(e, 0, "cgroupsPath \"%s\": the unit name part is empty (systemd driver)", p);
	if (!unit_chars_ok(prefix) || !unit_chars_ok(name))
		return husk_err(e, 0, "cgroupsPath \"%s\": characters systemd does not allow in a unit name", p);
	if (!*slice) {
		free(slice);
		slice = xstrdup(user ? "user.slice" : "system.slice");
	}
	_cleanup_free_ char *slice_path = NULL;
	if (husk_sd_expand_slice(slice, &slice_path, e) < 0)
		return husk_err_wrap(e, "cgroupsPath \"%s\"", p);

	if (ends_with(name, ".slice")) {
		/* A slice of its own: its name says where it lives. */
		if (husk_sd_expand_slice(name, &u->path, e) < 0)
			return husk_err_wrap(e, "cgroupsPath \"%s\"", p);
		u->unit = xstrdup(name);
	} else {
		u->unit = *prefix ? xasprintf("%s-%s.scope", prefix, name) : xasprintf("%s.scope", name);
		u->slice = xstrdup(slice);
		u->path = xasprintf("%s/%s", slice_path, u->unit);
	}
	if (strlen(u->unit) > 255) {
		husk_sd_unit_free(u);
		return husk_err(e, 0, "cgroupsPath \"%s\": the unit name is longer than systemd allows", p);
	}
	return 0;
}

/* ---- properties ---- */

static struct sd_prop *prop_add(struct sd_props *ps, const char *name, char type)
{
	ps->p = xrealloc(ps->p, (ps->n + 1) * sizeof(*ps->p));
	struct sd_prop *p = &ps->p[ps->n++];
	*p = (struct sd_prop){ .name = name, .type = type };
	return p;
}

void husk_sd_prop_u64(struct sd_props *ps, const char *name, uint64_t v)
{
	prop_add(ps, name, 't')->u = v;
}

void husk_sd_prop_bool(struct sd_props *ps, const char *name, bool v)
{
	prop_add(ps, name, 'b')->u = v;
}

void husk_sd_prop_str(struct sd_props *ps, const char *name, const char *v)
{
	prop_add(ps, name, 's')->s = xstrdup(v);
}

void husk_sd_prop_pid(struct sd_props *ps, const char *name, pid_t pid)
{
	prop_add(ps, name, 'P')->u = (uint64_t)pid;
}

void husk_sd_props_free(struct sd_props *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		struct sd_prop *p = &ps->p[i];
		free(p->s);
		free(p->s2);
		free(p->bytes);
		for (size_t j = 0; j < p->ndev; j++)
			free(p->dev[j].path);
		free(p->dev);
	}
	free(ps->p);
	*ps = (struct sd_props){ 0 };
}

/* "0-3,7" -> systemd's CPU/NUMA bitmask: bit k of byte k/8. */
static int cpuset_mask(const char *list, const char *what, uint8_t **out, size_t *n,
		       struct husk_error *e)
{
	uint8_t *m = NULL;
	size_t len = 0;
	for (const char *s = list; *s;) {
		char *end;
		errno = 0;
		unsigned long a = strtoul(s, &end, 10), b = a;
		if (end == s || errno)
			goto bad;
		if (*end == '-') {
			s = end + 1;
			b = strtoul(s, &end, 10);
			if (end == s || errno || b < a)
				goto bad;
		}
		if (b >= 8192)
			goto bad;
		if (b / 8 + 1 > len) {
			m = xrealloc(m, b / 8 + 1);
			memset(m + len, 0, b / 8 + 1 - len);
			len = b / 8 + 1;
		}
		for (unsigned long k = a; k <= b; k++)
			m[k / 8] |= (uint8_t)(1u << (k % 8));
		if (*end == ',')
			end++;
		else if (*end && *end != '\n')
			goto bad;
		s = end;
	}
	*out = m;
	*n = len;
	return 0;
bad:
	free(m);
	return husk_err(e, 0, "linux.resources.%s: \"%s\" is not a list of ranges", what, list);
}

/* A value that is set, as a JSON integer of the old record was. */
static bool get_int(const struct husk_opt_int *o, int64_t *v)
{
	if (o->set)
		*v = o->v;
	return o->set;
}

/* The group name /proc/devices gives major of type ('c'/'b'). */
static char *device_group(const char *proc_devices, char type, int64_t major)
{
	const char *hdr = type == 'c' ? "Character devices:" : "Block devices:";
	const char *s = proc_devices ? strstr(proc_devices, hdr) : NULL;
	if (!s)
		return NULL;
	s = strchr(s, '\n');
	while (s && *++s && *s != '\n') {
		char name[64];
		long m;
		if (sscanf(s, "%ld %63s", &m, name) == 2 && m == major)
			return xstrdup(name);
		s = strchr(s, '\n');
	}
	return NULL;
}

/* Device rules as systemd takes them: a policy and an allow list.  A
 * deny-all starts over, an allow-all means no restriction; systemd can
 * not deny single devices or allow "any major", so those rules are left
 * to the cgroup rules husk writes itself. */
static void device_props(struct sd_props *ps, const struct cg_dev_rule *r, size_t n,
			 const char *proc_devices)
{
	bool allow_all = false;
	struct sd_dev_allow *dev = NULL;
	size_t ndev = 0;
	for (size_t i = 0; i < n; i++) {
		if (r[i].type == 'a' && r[i].major < 0 && r[i].minor < 0) {
			if (!r[i].allow || r[i].access == 7) {
				allow_all = r[i].allow;
				for (size_t j = 0; j < ndev; j++)
					free(dev[j].path);
				ndev = 0;
			}
			continue;
		}
		if (!r[i].allow || allow_all || r[i].type == 'a' || r[i].major < 0)
			continue;
		char *path;
		if (r[i].minor < 0) {
			_cleanup_free_ char *group = device_group(proc_devices, r[i].type, r[i].major);
			if (!group)
				continue;
			path = xasprintf("%s-%s", r[i].type == 'c' ? "char" : "block", group);
		} else {
			path = xasprintf("/dev/%s/%" PRId64 ":%" PRId64, r[i].type == 'c' ? "char" : "block",
					 r[i].major, r[i].minor);
		}
		dev = xrealloc(dev, (ndev + 1) * sizeof(*dev));
		struct sd_dev_allow *d = &dev[ndev++];
		d->path = path;
		husk_cg_access_str(r[i].access, d->perm);
	}
	husk_sd_prop_str(ps, "DevicePolicy", allow_all ? "auto" : "strict");
	struct sd_prop *p = prop_add(ps, "DeviceAllow", 'D');
	p->dev = dev;
	p->ndev = ndev;
}

int husk_sd_props_resources(struct sd_props *ps, const struct husk_resources *res, bool v2,
			    const struct cg_dev_rule *rules, size_t nrules, const char *proc_devices,
			    struct husk_error *e)
{
	static const struct husk_resources none;
	if (!res)
		res = &none;
	const struct husk_res_memory *mem = &res->memory;
	const struct husk_res_cpu *cpu = &res->cpu;
	int64_t v, w;

	if (get_int(&mem->limit, &v) && v != 0)
		husk_sd_prop_u64(ps, v2 ? "MemoryMax" : "MemoryLimit", v < 0 ? SD_INFINITY : (uint64_t)v);
	if (v2 && get_int(&mem->reservation, &v) && v != 0)
		husk_sd_prop_u64(ps, "MemoryLow", v < 0 ? SD_INFINITY : (uint64_t)v);
	if (v2 && get_int(&mem->swap, &v)) {
		int64_t limit = 0, swap;
		get_int(&mem->limit, &limit);
		if (husk_cg_swap_to_v2(v, limit, &swap, e) < 0)
			return -1;
		if (swap != 0)
			husk_sd_prop_u64(ps, "MemorySwapMax", swap < 0 ? SD_INFINITY : (uint64_t)swap);
	}

	if (get_int(&cpu->shares, &v) && v > 0) {
		if (v2)
			husk_sd_prop_u64(ps, "CPUWeight", husk_cg_shares_to_weight((uint64_t)v));
		else
			husk_sd_prop_u64(ps, "CPUShares", (uint64_t)v);
	}
	int64_t quota = 0, period = 0;
	bool has_quota = get_int(&cpu->quota, &quota);
	get_int(&cpu->period, &period);
	if (period > 0)
		husk_sd_prop_u64(ps, "CPUQuotaPeriodUSec", (uint64_t)period);
	if ((has_quota && quota != 0) || period > 0) {
		/* systemd keeps the quota as whole percents of a CPU: round
		 * up to 10 ms a second so the container gets at least what
		 * it asked for. */
		uint64_t per_sec = SD_INFINITY;
		if (quota > 0) {
			uint64_t p = period > 0 ? (uint64_t)period : 100000;
			per_sec = (uint64_t)quota * 1000000 / p;
			if (per_sec % 10000)
				per_sec = (per_sec / 10000 + 1) * 10000;
		}
		husk_sd_prop_u64(ps, "CPUQuotaPerSecUSec", per_sec);
	}
	if (v2) {
		const struct { const char *key, *prop, *list; } sets[] = {
			{ "cpus", "AllowedCPUs", cpu->cpus }, { "mems", "AllowedMemoryNodes", cpu->mems } };
		for (size_t i = 0; i < ARRAY_SIZE(sets); i++) {
			const char *list = sets[i].list;
			if (!list || !*list)
				continue;
			_cleanup_free_ char *what = xasprintf("cpu.%s", sets[i].key);
			struct sd_prop *p = prop_add(ps, sets[i].prop, 'y');
			if (cpuset_mask(list, what, &p->bytes, &p->nbytes, e) < 0)
				return -1;
		}
	}

	if (get_int(&res->pids.limit, &v) && (v > 0 || v == -1))
		husk_sd_prop_u64(ps, "TasksMax", v < 0 ? SD_INFINITY : (uint64_t)v);
	if (get_int(&res->block_io.weight, &w) && w > 0) {
		if (v2)
			husk_sd_prop_u64(ps, "IOWeight", husk_cg_blkio_to_io_weight((uint64_t)w));
		else
			husk_sd_prop_u64(ps, "BlockIOWeight", (uint64_t)w);
	}
	if (rules)
		device_props(ps, rules, nrules, proc_devices);
	return 0;
}

/* NAME: ASCII letters, the first one upper case (as runc checks). */
static bool property_name_ok(const char *n)
{
	if (!('A' <= *n && *n <= 'Z'))
		return false;
	for (; *n; n++)
		if (!(('a' <= *n && *n <= 'z') || ('A' <= *n && *n <= 'Z')))
			return false;
	return true;
}

int husk_sd_props_annotation(struct sd_props *ps, const char *key, const char *value,
			     struct husk_error *e)
{
	const char *name = key + strlen(SD_PROPERTY_PREFIX);
	if (!property_name_ok(name))
		return husk_err(e, 0, "annotation %s: \"%s\" is not a systemd property name", key, name);
	/* A type keyword picks the D-Bus type; a bare number is int32 and a
	 * bare decimal fraction a double, as in GVariant text. */
	static const struct { const char *word; char type; } kw[] = {
		{ "uint64 ", 't' }, { "int64 ", 'x' }, { "uint32 ", 'u' }, { "int32 ", 'i' },
		{ "double ", 'd' },
	};
	char type = 0;
	const char *v = value;
	size_t vl = strlen(v);
	struct sd_prop p = { .name = NULL };
	if (!strcmp(v, "true") || !strcmp(v, "false")) {
		p.type = 'b';
		p.u = v[0] == 't';
	} else if (vl >= 2 && (v[0] == '\'' || v[0] == '"') && v[vl - 1] == v[0]) {
		p.type = 's';
		p.s = xstrndup(v + 1, vl - 2);
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(kw) && !type; i++)
			if (!strncmp(v, kw[i].word, strlen(kw[i].word))) {
				type = kw[i].type;
				v += strlen(kw[i].word);
			}
		char *end;
		errno = 0;
		if (!type)
			type = strpbrk(v, ".eE") ? 'd' : 'i';
		if (type == 'd') {
			p.d = strtod(v, &end);
		} else if (type == 't' || type == 'u') {
			p.u = strtoull(v, &end, 0);
			if (*v == '-' || (type == 'u' && p.u > UINT32_MAX))
				errno = ERANGE;
		} else {
			int64_t x = strtoll(v, &end, 0);
			if (type == 'i' && (x < INT32_MIN || x > INT32_MAX))
				errno = ERANGE;
			p.u = (uint64_t)x;
		}
		if (!*v || *end || errno)
			return husk_err(e, 0, "annotation %s: cannot read \"%s\" as a D-Bus value", key, value);
		p.type = type;
	}
	size_t nl = strlen(name);
	_cleanup_free_ char *usec = NULL;
	if (nl > 4 && !strcmp(name + nl - 3, "Sec") && 'a' <= name[nl - 4] && name[nl - 4] <= 'z') {
		/* TimeoutStopSec=5 means TimeoutStopUSec=5000000 */
		double secs;
		if (p.type == 'd')
			secs = p.d;
		else if (p.type == 'x' || p.type == 'i')
			secs = (double)(int64_t)p.u;
		else if (p.type == 't' || p.type == 'u')
			secs = (double)p.u;
		else {
			free(p.s);
			return husk_err(e, 0, "annotation %s: \"%s\" is not a number of seconds", key, value);
		}
		if (secs < 0 || secs * 1e6 >= 18446744073709551615.0)
			return husk_err(e, 0, "annotation %s: %s seconds is out of range", key, value);
		usec = xasprintf("%.*sUSec", (int)(nl - 3), name);
		p.type = 't';
		p.u = (uint64_t)(secs * 1e6);
	}
	struct sd_prop *q = prop_add(ps, NULL, p.type);
	*q = p;
	/* The property keeps its name for as long as ps lives. */
	q->name = q->s2 = xstrdup(usec ? usec : name);
	return 0;
}

char *husk_sd_props_format(const struct sd_props *ps)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		abort();
	for (size_t i = 0; i < ps->n; i++) {
		const struct sd_prop *p = &ps->p[i];
		fprintf(f, "%s=", p->name);
		switch (p->type) {
		case 't':
			if (p->u == SD_INFINITY)
				fputs("infinity", f);
			else
				fprintf(f, "%" PRIu64, p->u);
			break;
		case 'b':
			fputs(p->u ? "yes" : "no", f);
			break;
		case 'u':
		case 'P':
			fprintf(f, "%" PRIu64, p->u);
			break;
		case 'x':
		case 'i':
			fprintf(f, "%" PRId64, (int64_t)p->u);
			break;
		case 'd':
			fprintf(f, "%g", p->d);
			break;
		case 's':
			fputs(p->s, f);
			break;
		case 'y':
			for (size_t j = 0; j < p->nbytes; j++)
				fprintf(f, "%02x", p->bytes[j]);
			break;
		case 'D':
			for (size_t j = 0; j < p->ndev; j++)
				fprintf(f, "%s%s %s", j ? "," : "", p->dev[j].path, p->dev[j].perm);
			break;
		}
		fputc('\n', f);
	}
	fclose(f);
	return out;
}
