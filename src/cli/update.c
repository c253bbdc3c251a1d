/* husk update: change a running container's resource limits. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "container_cgroup.h"

struct update_opts {
	const char *resources, *memory, *memory_swap, *memory_reservation, *kernel_memory,
		*kernel_memory_tcp, *cpu_shares, *cpu_quota, *cpu_period, *cpu_rt_period,
		*cpu_rt_runtime, *cpuset_cpus, *cpuset_mems, *pids_limit, *blkio_weight;
};

#define O(f) offsetof(struct update_opts, f)
static const struct husk_flag flags[] = {
	{ "resources", 'r', HUSK_FLAG_STRING, O(resources),
	  "a JSON file of linux.resources to apply; \"-\" reads stdin" },
	{ "memory", 0, HUSK_FLAG_STRING, O(memory), "memory limit (in bytes, or 512m, 1g ...)" },
	{ "memory-swap", 0, HUSK_FLAG_STRING, O(memory_swap), "memory plus swap limit; -1: unlimited" },
	{ "memory-reservation", 0, HUSK_FLAG_STRING, O(memory_reservation), "memory soft limit" },
	{ "kernel-memory", 0, HUSK_FLAG_STRING, O(kernel_memory), "kernel memory limit (ignored, as in runc)" },
	{ "kernel-memory-tcp", 0, HUSK_FLAG_STRING, O(kernel_memory_tcp), "kernel TCP buffer limit (v1)" },
	{ "cpu-shares", 0, HUSK_FLAG_STRING, O(cpu_shares), "CPU shares (relative weight)" },
	{ "cpu-quota", 0, HUSK_FLAG_STRING, O(cpu_quota), "CPU CFS quota in microseconds per period" },
	{ "cpu-period", 0, HUSK_FLAG_STRING, O(cpu_period), "CPU CFS period in microseconds" },
	{ "cpu-rt-period", 0, HUSK_FLAG_STRING, O(cpu_rt_period), "CPU realtime period in microseconds" },
	{ "cpu-rt-runtime", 0, HUSK_FLAG_STRING, O(cpu_rt_runtime), "CPU realtime runtime in microseconds" },
	{ "cpuset-cpus", 0, HUSK_FLAG_STRING, O(cpuset_cpus), "CPUs to run on (0-3, 0,1)" },
	{ "cpuset-mems", 0, HUSK_FLAG_STRING, O(cpuset_mems), "memory nodes to use (0-3, 0,1)" },
	{ "pids-limit", 0, HUSK_FLAG_STRING, O(pids_limit), "maximum number of pids; -1: unlimited" },
	{ "blkio-weight", 0, HUSK_FLAG_STRING, O(blkio_weight), "block IO weight, 10 to 1000" },
	HUSK_FLAGS_END,
};

/* "1024", "512k", "64m", "1g", "1.5GiB", "-1": bytes (1024-based). */
static int parse_bytes(const char *s, long long *out)
{
	if (!strcmp(s, "-1")) {
		*out = -1;
		return 0;
	}
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || v < 0)
		return -1;
	double mul = 1;
	if (*end) {
		switch (*end | 0x20) {
		case 'b': mul = 1; break;
		case 'k': mul = 1024.0; break;
		case 'm': mul = 1024.0 * 1024; break;
		case 'g': mul = 1024.0 * 1024 * 1024; break;
		case 't': mul = 1024.0 * 1024 * 1024 * 1024; break;
		case 'p': mul = 1024.0 * 1024 * 1024 * 1024 * 1024; break;
		default: return -1;
		}
		const char *rest = end + 1;
		if ((*end | 0x20) != 'b' && *rest && strcasecmp(rest, "b") && strcasecmp(rest, "ib"))
			return -1;
		if ((*end | 0x20) == 'b' && *rest)
			return -1;
	}
	v *= mul;
	if (v > 9.2e18)
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
	static const struct { size_t off; const char *sec, *key; bool bytes, string; } map[] = {
		{ O(memory), "memory", "limit", true, false },
		{ O(memory_swap), "memory", "swap", true, false },
		{ O(memory_reservation), "memory", "reservation", true, false },
		{ O(kernel_memory), "memory", "kernel", true, false },
		{ O(kernel_memory_tcp), "memory", "kernelTCP", true, false },
		{ O(cpu_shares), "cpu", "shares", false, false },
		{ O(cpu_quota), "cpu", "quota", false, false },
		{ O(cpu_period), "cpu", "period", false, false },
		{ O(cpu_rt_period), "cpu", "realtimePeriod", false, false },
		{ O(cpu_rt_runtime), "cpu", "realtimeRuntime", false, false },
		{ O(cpuset_cpus), "cpu", "cpus", false, true },
		{ O(cpuset_mems), "cpu", "mems", false, true },
		{ O(pids_limit), "pids", "limit", false, false },
		{ O(blkio_weight), "blockIO", "weight", false, false },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		const char *v = *(const char **)((char *)&o + map[i].off);
		if (!v)
			continue;
		json_t *sec = section(res, map[i].sec);
		if (map[i].string) {
			json_object_set_new(sec, map[i].key, json_string(v));
			continue;
		}
		long long n;
		if ((map[i].bytes ? parse_bytes(v, &n) : parse_int(v, &n)) < 0) {
			json_decref(res);
			return husk_cli_failf(cmd->name, id, "invalid value \"%s\" for --%s", v,
					      flags[i + 1].name);
		}
		json_object_set_new(sec, map[i].key, json_integer(n));
	}
	if (!json_object_size(res)) {
		json_decref(res);
		return husk_cli_failf(cmd->name, id, "nothing to update: give --resources or a limit flag");
	}
	struct husk_error e = { 0 };
	r = husk_container_update(g, id, res, &e);
	json_decref(res);
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
		       "   linux.resources JSON (\"-\": stdin); the flags set single values on top.\n",
	.flags = flags,
};
