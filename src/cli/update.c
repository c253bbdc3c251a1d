/* husk update: change a running container's resource limits. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "container_cgroup.h"
#include "log.h"
#include "util.h"

struct update_opts {
	const char *resources, *memory, *memory_swap, *memory_reservation, *kernel_memory,
		*kernel_memory_tcp, *cpu_shares, *cpu_share, *cpu_quota, *cpu_period, *cpu_rt_period,
		*cpu_rt_runtime, *cpuset_cpus, *cpuset_mems, *pids_limit, *blkio_weight;
};

#define O(f) offsetof(struct update_opts, f)
static const struct husk_flag flags[] = {
	{ "resources", 'r', HUSK_FLAG_STRING, O(resources),
	  "a JSON file of linux.resources to apply; \"-\" reads stdin" },
	{ "memory", 0, HUSK_FLAG_STRING, O(memory), "memory limit (in bytes, or 512m, 1g ...)" },
	{ "memory-swap", 0, HUSK_FLAG_STRING, O(memory_swap), "memory plus swap limit; -1: unlimited" },
	{ "memory-reservation", 0, HUSK_FLAG_STRING, O(memory_reservation), "memory soft limit" },
	{ "kernel-memory", 0, HUSK_FLAG_STRING, O(kernel_memory), "obsolete: ignored, as in runc" },
	{ "kernel-memory-tcp", 0, HUSK_FLAG_STRING, O(kernel_memory_tcp), "obsolete: ignored, as in runc" },
	{ "cpu-share", 0, HUSK_FLAG_STRING, O(cpu_share), "CPU shares (relative weight)" },
	{ "cpu-shares", 0, HUSK_FLAG_STRING, O(cpu_shares), "the same as --cpu-share" },
	{ "cpu-quota", 0, HUSK_FLAG_STRING, O(cpu_quota), "CPU CFS quota in microseconds per period" },
	{ "cpu-period", 0, HUSK_FLAG_STRING, O(cpu_period), "CPU CFS period in microseconds" },
	{ "cpu-rt-period", 0, HUSK_FLAG_STRING, O(cpu_rt_period), "CPU realtime period in microseconds" },
	{ "cpu-rt-runtime", 0, HUSK_FLAG_STRING, O(cpu_rt_runtime), "CPU realtime runtime in microseconds" },
	{ "cpuset-cpus", 0, HUSK_FLAG_STRING, O(cpuset_cpus), "CPUs to run on (0-3, 0,1)" },
	{ "cpuset-mems", 0, HUSK_FLAG_STRING, O(cpuset_mems), "memory nodes to use (0-3, 0,1)" },
	{ "pids-limit", 0, HUSK_FLAG_STRING, O(pids_limit), "maximum number of pids; -1: unlimited, 0: unchanged" },
	{ "blkio-weight", 0, HUSK_FLAG_STRING, O(blkio_weight), "block IO weight, 10 to 1000; 0: unchanged" },
	HUSK_FLAGS_END,
};

/* A byte count as runc reads it: "-1", or a number ("1.5"), an
 * optional space, then an optional k/m/g/t/p, "i" and "b" (1024-based,
 * any case): "1024", "512k", "64 MiB", "1.5g", "2gb". */
static int parse_bytes(const char *s, long long *out)
{
	if (!strcmp(s, "-1")) {
		*out = -1;
		return 0;
	}
	const char *p = s;
	if (!isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '.' && isdigit((unsigned char)p[1]))
		for (p++; isdigit((unsigned char)*p); p++)
			;
	_cleanup_free_ char *num = xstrndup(s, (size_t)(p - s));
	if (*p == ' ')
		p++;
	static const char units[] = "kmgtp";
	const char *u = *p ? strchr(units, *p | 0x20) : NULL;
	int shift = u ? 10 * (int)(u - units + 1) : 0;
	if (u)
		p++;
	if ((*p | 0x20) == 'i')
		p++;
	if ((*p | 0x20) == 'b')
		p++;
	if (*p)
		return -1;
	errno = 0;
	double v = strtod(num, NULL) * (double)(1ULL << shift);
	if (errno || v >= 9.2e18)
		return -1;
	*out = (long long)v;
	return 0;
}

static int parse_int(const char *s, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (end == s || *end || errno)
		return -1;
	*out = v;
	return 0;
}

static json_t *section(json_t *res, const char *name)
{
	json_t *o = json_object_get(res, name);
	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(res, name, o);
	}
	return o;
}

enum kind { BYTES, INT, UINT, STRING, IGNORED };

/* The limit flags into res, on top of --resources; *given: how many. */
static int set_flags(const struct update_opts *o, json_t *res, const char *id, int *given)
{
	static const struct { const char *flag; size_t off; const char *sec, *key; enum kind kind; } map[] = {
		{ "memory", O(memory), "memory", "limit", BYTES },
		{ "memory-swap", O(memory_swap), "memory", "swap", BYTES },
		{ "memory-reservation", O(memory_reservation), "memory", "reservation", BYTES },
		{ "kernel-memory", O(kernel_memory), NULL, NULL, IGNORED },
		{ "kernel-memory-tcp", O(kernel_memory_tcp), NULL, NULL, IGNORED },
		{ "cpu-shares", O(cpu_shares), "cpu", "shares", UINT },
		{ "cpu-share", O(cpu_share), "cpu", "shares", UINT },
		{ "cpu-quota", O(cpu_quota), "cpu", "quota", INT },
		{ "cpu-period", O(cpu_period), "cpu", "period", UINT },
		{ "cpu-rt-period", O(cpu_rt_period), "cpu", "realtimePeriod", UINT },
		{ "cpu-rt-runtime", O(cpu_rt_runtime), "cpu", "realtimeRuntime", INT },
		{ "cpuset-cpus", O(cpuset_cpus), "cpu", "cpus", STRING },
		{ "cpuset-mems", O(cpuset_mems), "cpu", "mems", STRING },
		{ "pids-limit", O(pids_limit), "pids", "limit", INT },
		{ "blkio-weight", O(blkio_weight), "blockIO", "weight", INT },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		const char *v = *(const char *const *)((const char *)o + map[i].off);
		/* runc treats an empty value as not given */
		if (!v || !*v)
			continue;
		(*given)++;
		if (map[i].kind == IGNORED) {
			husk_warn("--%s is obsolete and ignored", map[i].flag);
			continue;
		}
		if (map[i].kind == STRING) {
			json_object_set_new(section(res, map[i].sec), map[i].key, json_string(v));
			continue;
		}
		long long n;
		if ((map[i].kind == BYTES ? parse_bytes(v, &n) : parse_int(v, &n)) < 0 ||
		    (map[i].kind == UINT && (n < 0 || v[0] == '-'))) {
			husk_cli_failf("update", id, "invalid value \"%s\" for --%s", v, map[i].flag);
			return -1;
		}
		/* 0: unchanged, as runc (pids.max 0 would forbid every fork) */
		if (n == 0 && (map[i].off == O(pids_limit) || map[i].off == O(blkio_weight)))
			continue;
		json_object_set_new(section(res, map[i].sec), map[i].key, json_integer(n));
	}
	return 0;
}

static int update_cmd(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc, char **argv)
{
	struct update_opts o = { 0 };
	char *pos[argc];
	int npos;
	int r = husk_cli_parse_args(cmd, argc, argv, &o, pos, &npos, 1, 1, true);
	if (r)
		return r < 0;
	const char *id = pos[0];
	json_t *res = NULL;
	if (o.resources) {
		json_error_t je;
		res = !strcmp(o.resources, "-") ? json_loadf(stdin, 0, &je) : json_load_file(o.resources, 0, &je);
		if (!res)
			return husk_cli_failf(cmd->name, id, "--resources %s: line %d: %s", o.resources, je.line,
					      je.text);
		if (!json_is_object(res)) {
			json_decref(res);
			return husk_cli_failf(cmd->name, id, "--resources %s: expected a JSON object", o.resources);
		}
	} else {
		res = json_object();
	}
	int given = 0;
	if (set_flags(&o, res, id, &given) < 0) {
		json_decref(res);
		return 1;
	}
	if (!o.resources && !given) {
		json_decref(res);
		return husk_cli_failf(cmd->name, id, "nothing to update: give --resources or a limit flag");
	}
	/* As runc: update never changes device rules (a device plugin may
	 * have added its own since create), and unlimited memory without a
	 * swap value lifts the swap limit too (v1 needs memsw >= limit). */
	json_object_del(res, "devices");
	json_t *mem = json_object_get(res, "memory");
	json_t *limit = json_object_get(mem, "limit");
	if (json_is_integer(limit) && json_integer_value(limit) == -1 && !json_object_get(mem, "swap"))
		json_object_set_new(mem, "swap", json_integer(-1));
	/* parsed as config.json's linux.resources: unknown properties
	 * are ignored, bad values fail with the path */
	struct husk_error e = { 0 };
	struct husk_resources changes;
	r = husk_resources_parse(res, &changes, &e);
	json_decref(res);
	if (r == 0) {
		r = husk_container_update(g, id, &changes, &e);
		husk_resources_free(&changes);
	}
	if (r < 0)
		return husk_cli_fail(cmd->name, id, &e);
	return 0;
}

const struct husk_cmd husk_update_cmd = {
	.name = "update",
	.run = update_cmd,
	.summary = "update container resource constraints",
	.args = "<container-id>",
	.description = "   Change the resource limits of a running container.  --resources takes\n"
		       "   linux.resources JSON (\"-\": stdin); the flags set single values on top.\n"
		       "   Device rules are not changed (\"devices\" is ignored, as in runc);\n"
		       "   --memory -1 without --memory-swap lifts the swap limit too.\n",
	.flags = flags,
};
