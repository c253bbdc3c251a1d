/* husk box: namespaces and resource limits, in Docker's syntax. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "box_internal.h"
#include "util.h"

#define BOX_MIN_MEMORY (6LL << 20) /* Docker's smallest memory limit */
#define BOX_CPU_PERIOD 100000

/* --net/--ipc/--pid/--uts: host takes the namespace out of the config. */
static int set_ns(json_t *linux_, const char *opt, const char *type, const char *v,
		  const char *values, struct husk_error *e)
{
	if (!v || !strcmp(v, values[0] == 'n' ? "none" : "private"))
		return 0;
	if (strcmp(v, "host"))
		return husk_err(e, 0, "%s %s: expected %s", opt, v, values);
	json_t *ns = json_object_get(linux_, "namespaces"), *x;
	size_t i;
	json_array_foreach(ns, i, x) {
		if (!strcmp(json_string_value(json_object_get(x, "type")), type))
			return json_array_remove(ns, i), 0;
	}
	return 0;
}

/* A decimal: digits, then optionally '.' and digits; its end. */
static const char *decimal_end(const char *s)
{
	const char *p = s;
	while (isdigit((unsigned char)*p))
		p++;
	if (p > s && *p == '.' && isdigit((unsigned char)p[1]))
		for (p++; isdigit((unsigned char)*p); p++)
			;
	return p;
}

int box_parse_size(const char *s, int64_t *out)
{
	/* Docker's RAMInBytes: a decimal, a space at most, then k, m, g, t
	 * or p (any case, powers of 1024), optionally followed by i and b. */
	const char *end = decimal_end(s);
	if (end == s)
		return -1;
	double v = strtod(s, NULL), mult = 1;
	if (*end == ' ')
		end++;
	static const char units[] = "kmgtp";
	const char *u = *end ? strchr(units, tolower((unsigned char)*end)) : NULL;
	if (u) {
		for (const char *c = units; c <= u; c++)
			mult *= 1024;
		end++;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || v * mult >= 9223372036854775807.0)
		return -1;
	*out = (int64_t)(v * mult);
	return 0;
}

int box_parse_cpus(const char *s, int64_t *quota)
{
	/* A plain decimal (Docker reads it as a rational number), as quota
	 * microseconds per 100 ms period. */
	const char *p = decimal_end(s);
	if (p == s || *p)
		return -1;
	double v = strtod(s, NULL);
	if (v > 1e9)
		return -1;
	*quota = (int64_t)(v * BOX_CPU_PERIOD + 0.5);
	return 0;
}

static int size_opt(const char *opt, const char *v, int64_t *out, struct husk_error *e)
{
	if (!strcmp(v, "-1") && !strcmp(opt, "--memory-swap")) {
		*out = -1;
		return 0;
	}
	if (box_parse_size(v, out) < 0)
		return husk_err(e, 0, "%s %s: expected a size (bytes, or a number with k, m or g)",
				opt, v);
	return 0;
}

/* The host counts swap (Docker's default swap limit is twice the memory
 * limit only there). */
static bool host_swap_accounting(void)
{
	return access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0 ||
	       access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
}

static int set_memory(const struct husk_box_opts *o, json_t *res, struct husk_error *e)
{
	int64_t mem = 0, swap = 0;
	if (o->memory && size_opt("--memory", o->memory, &mem, e) < 0)
		return -1;
	if (o->memory_swap && size_opt("--memory-swap", o->memory_swap, &swap, e) < 0)
		return -1;
	if (mem && mem < BOX_MIN_MEMORY)
		return husk_err(e, 0, "--memory %s: the smallest limit is 6m", o->memory);
	if (swap > 0 && !mem)
		return husk_err(e, 0, "--memory-swap %s: needs --memory", o->memory_swap);
	if (swap > 0 && swap < mem)
		return husk_err(e, 0, "--memory-swap %s: below --memory %s (it counts memory plus swap)",
				o->memory_swap, o->memory);
	if (mem && !swap && host_swap_accounting())
		swap = 2 * mem;
	if (!mem && !swap)
		return 0;
	json_t *m = json_object();
	if (mem)
		json_object_set_new(m, "limit", json_integer(mem));
	if (swap)
		json_object_set_new(m, "swap", json_integer(swap));
	json_object_set_new(res, "memory", m);
	return 0;
}

static int host_cpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

static int set_cpu(const struct husk_box_opts *o, json_t *res, struct husk_error *e)
{
	json_t *cpu = json_object();
	json_object_set_new(res, "cpu", cpu);
	if (o->cpus) {
		int64_t quota;
		int n = host_cpus();
		if (box_parse_cpus(o->cpus, &quota) < 0)
			return husk_err(e, 0, "--cpus %s: expected a decimal number", o->cpus);
		if (quota && (quota < BOX_CPU_PERIOD / 100 || quota > (int64_t)n * BOX_CPU_PERIOD))
			return husk_err(e, 0, "--cpus %s: expected 0.01 to %d (the CPUs available)",
					o->cpus, n);
		if (quota) {
			json_object_set_new(cpu, "quota", json_integer(quota));
			json_object_set_new(cpu, "period", json_integer(BOX_CPU_PERIOD));
		}
	}
	if (o->cpu_shares) {
		long shares;
		if (husk_parse_long(o->cpu_shares, 0, 262144, &shares) < 0)
			return husk_err(e, 0, "--cpu-shares %s: expected 0 to 262144", o->cpu_shares);
		if (shares)
			json_object_set_new(cpu, "shares", json_integer(shares));
	}
	if (!json_object_size(cpu))
		json_object_del(res, "cpu");
	return 0;
}

static int set_pids(const struct husk_box_opts *o, json_t *res, struct husk_error *e)
{
	long n;
	if (!o->pids_limit)
		return 0;
	if (husk_parse_long(o->pids_limit, -1, LONG_MAX, &n) < 0)
		return husk_err(e, 0, "--pids-limit %s: expected a number (0 or -1: unlimited)",
				o->pids_limit);
	if (n > 0)
		json_object_set_new(res, "pids", json_pack("{s:I}", "limit", (json_int_t)n));
	return 0;
}

static const char *const ulimit_names[] = {
	"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
	"nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
};

static int ulimit_value(const char *s, uint64_t *out)
{
	long long v;
	char *end;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < -1)
		return -1;
	*out = v == -1 ? UINT64_MAX : (uint64_t)v; /* -1: unlimited */
	return 0;
}

/* Unlimited (UINT64_MAX) does not fit json_int_t: as the real 2^64,
 * which husk's config parser reads back as UINT64_MAX. */
static json_t *rlim_json(uint64_t v)
{
	return v > INT64_MAX ? json_real((double)v) : json_integer((json_int_t)v);
}

/* --ulimit NAME=SOFT[:HARD] (HARD defaults to SOFT), a later one for the
 * same NAME replacing an earlier one and the default. */
static int add_ulimit(json_t *rl, const char *arg, struct husk_error *e)
{
	_cleanup_free_ char *s = xstrdup(arg);
	char *soft = strchr(s, '='), *hard;
	if (!soft)
		return husk_err(e, 0, "--ulimit %s: expected NAME=SOFT[:HARD]", arg);
	*soft++ = '\0';
	if ((hard = strchr(soft, ':')))
		*hard++ = '\0';
	size_t i = 0;
	while (i < ARRAY_SIZE(ulimit_names) && strcmp(s, ulimit_names[i]))
		i++;
	if (i == ARRAY_SIZE(ulimit_names))
		return husk_err(e, 0, "--ulimit %s: unknown limit %s", arg, s);
	uint64_t sv, hv;
	if (ulimit_value(soft, &sv) < 0 || ulimit_value(hard ? hard : soft, &hv) < 0)
		return husk_err(e, 0, "--ulimit %s: expected numbers (-1: unlimited)", arg);
	if (sv > hv)
		return husk_err(e, 0, "--ulimit %s: the soft limit is above the hard one", arg);
	_cleanup_free_ char *type = xasprintf("RLIMIT_%s", s);
	for (char *c = type; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	json_t *x;
	json_array_foreach(rl, i, x) {
		if (!strcmp(json_string_value(json_object_get(x, "type")), type))
			break;
	}
	json_t *v = json_pack("{s:s, s:o, s:o}", "type", type, "soft", rlim_json(sv), "hard",
			      rlim_json(hv));
	if (i < json_array_size(rl))
		json_array_set_new(rl, i, v);
	else
		json_array_append_new(rl, v);
	return 0;
}

int box_resources(struct box *b, struct husk_error *e)
{
	const struct husk_box_opts *o = b->o;
	json_t *lx = json_object_get(b->doc, "linux");
	if (set_ns(lx, "--net", "network", o->net, "none or host", e) < 0 ||
	    set_ns(lx, "--ipc", "ipc", o->ipc, "private or host", e) < 0 ||
	    set_ns(lx, "--pid", "pid", o->pid, "private or host", e) < 0 ||
	    set_ns(lx, "--uts", "uts", o->uts, "private or host", e) < 0)
		return -1;
	if (o->uts && !strcmp(o->uts, "host")) {
		if (o->hostname)
			return husk_err(e, 0, "--hostname: cannot be set with --uts host");
		json_object_del(b->doc, "hostname"); /* the host's stays */
	}
	json_t *res = json_object_get(lx, "resources");
	bool fresh = !res; /* rootless: none, unless a limit is asked for */
	if (fresh)
		res = json_object();
	int r = set_memory(o, res, e) < 0 || set_cpu(o, res, e) < 0 || set_pids(o, res, e) < 0;
	if (fresh && json_object_size(res) && !r)
		json_object_set_new(lx, "resources", res);
	else if (fresh)
		json_decref(res);
	if (r)
		return -1;
	json_t *rl = json_object_get(json_object_get(b->doc, "process"), "rlimits");
	for (size_t i = 0; i < o->ulimit.n; i++) {
		if (add_ulimit(rl, o->ulimit.v[i], e) < 0)
			return -1;
	}
	return 0;
}
