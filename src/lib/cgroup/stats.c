/* `events` statistics in runc's JSON shape (types.Stats): cpu, memory,
 * pids, blkio, hugetlb, each read where its controller lives. */
#include "cgroup/cgroup.h"
#include "cgroup/cgroup_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* file of the cgroup directory dfd (-1: none, all files missing) */
static char *read_at(int dfd, const char *file)
{
	char *text = NULL;
	struct husk_error ignored;
	if (dfd < 0 || husk_read_file_at(dfd, file, &text, NULL, &ignored) < 0)
		return NULL;
	return text;
}

/* A single number; "max" and missing read as 0 unless max_value. */
static uint64_t read_u64(int dfd, const char *file, uint64_t max_value)
{
	_cleanup_free_ char *t = read_at(dfd, file);
	if (!t)
		return 0;
	if (!strncmp(t, "max", 3))
		return max_value;
	return strtoull(t, NULL, 10);
}

/* "key value" lines; value of key or 0. */
static uint64_t kv(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p;) {
		if (!strncmp(p, key, kl) && p[kl] == ' ')
			return strtoull(p + kl + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return 0;
}

static json_t *kv_object(const char *text)
{
	json_t *o = json_object();
	_cleanup_free_ char *copy = xstrdup(text ? text : "");
	char *save = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(l, ' ');
		if (!sp)
			continue;
		*sp = '\0';
		json_object_set_new(o, l, json_integer((json_int_t)strtoull(sp + 1, NULL, 10)));
	}
	return o;
}

static void set_u(json_t *o, const char *k, uint64_t v, bool omitempty)
{
	if (!omitempty || v)
		json_object_set_new(o, k, json_integer((json_int_t)v));
}

static json_t *u64_list(const char *text)
{
	json_t *a = json_array();
	for (const char *p = text; p && *p;) {
		char *end;
		unsigned long long v = strtoull(p, &end, 10);
		if (end == p)
			break;
		json_array_append_new(a, json_integer((json_int_t)v));
		p = end + strspn(end, " \n");
	}
	return a;
}

static json_t *cpu_stats(struct husk_cgroup *cg)
{
	json_t *cpu = json_object(), *usage = json_object(), *thr = json_object();
	bool v2;
	struct hier *h = husk_cg_locate(cg, CG_CPUACCT, &v2);
	_cleanup_fd_ int dfd = h ? husk_cg_hier_open(h, O_PATH) : -1;
	if (h && !v2) {
		set_u(usage, "total", read_u64(dfd, "cpuacct.usage", 0), true);
		_cleanup_free_ char *pc = read_at(dfd, "cpuacct.usage_percpu");
		_cleanup_free_ char *pk = read_at(dfd, "cpuacct.usage_percpu_sys");
		_cleanup_free_ char *pu = read_at(dfd, "cpuacct.usage_percpu_user");
		if (pc)
			json_object_set_new(usage, "percpu", u64_list(pc));
		if (pk)
			json_object_set_new(usage, "percpu_kernel", u64_list(pk));
		if (pu)
			json_object_set_new(usage, "percpu_user", u64_list(pu));
		/* cpuacct.stat is in USER_HZ ticks */
		_cleanup_free_ char *st = read_at(dfd, "cpuacct.stat");
		long hz = sysconf(_SC_CLK_TCK);
		uint64_t ns = hz > 0 ? 1000000000ull / (uint64_t)hz : 10000000ull;
		set_u(usage, "kernel", kv(st, "system") * ns, false);
		set_u(usage, "user", kv(st, "user") * ns, false);
	} else if (h) {
		_cleanup_free_ char *st = read_at(dfd, "cpu.stat");
		set_u(usage, "total", kv(st, "usage_usec") * 1000, true);
		set_u(usage, "kernel", kv(st, "system_usec") * 1000, false);
		set_u(usage, "user", kv(st, "user_usec") * 1000, false);
		set_u(thr, "periods", kv(st, "nr_periods"), true);
		set_u(thr, "throttled_periods", kv(st, "nr_throttled"), true);
		set_u(thr, "throttled_time", kv(st, "throttled_usec") * 1000, true);
	}
	h = husk_cg_locate(cg, CG_CPU, &v2);
	if (h && !v2) {
		_cleanup_fd_ int cfd = husk_cg_hier_open(h, O_PATH);
		_cleanup_free_ char *st = read_at(cfd, "cpu.stat");
		set_u(thr, "periods", kv(st, "nr_periods"), true);
		set_u(thr, "throttled_periods", kv(st, "nr_throttled"), true);
		set_u(thr, "throttled_time", kv(st, "throttled_time"), true);
	}
	json_object_set_new(cpu, "usage", usage);
	json_object_set_new(cpu, "throttling", thr);
	return cpu;
}

static json_t *mem_entry(int dfd, const char *prefix, bool v2)
{
	json_t *o = json_object();
	char f[128];
	if (v2) {
		snprintf(f, sizeof(f), "%s.max", prefix);
		set_u(o, "limit", read_u64(dfd, f, UINT64_MAX >> 1), false);
		snprintf(f, sizeof(f), "%s.current", prefix);
		set_u(o, "usage", read_u64(dfd, f, 0), true);
		snprintf(f, sizeof(f), "%s.peak", prefix);
		set_u(o, "max", read_u64(dfd, f, 0), true);
		set_u(o, "failcnt", 0, false);
		return o;
	}
	snprintf(f, sizeof(f), "%s.limit_in_bytes", prefix);
	set_u(o, "limit", read_u64(dfd, f, 0), false);
	snprintf(f, sizeof(f), "%s.usage_in_bytes", prefix);
	set_u(o, "usage", read_u64(dfd, f, 0), true);
	snprintf(f, sizeof(f), "%s.max_usage_in_bytes", prefix);
	set_u(o, "max", read_u64(dfd, f, 0), true);
	snprintf(f, sizeof(f), "%s.failcnt", prefix);
	set_u(o, "failcnt", read_u64(dfd, f, 0), false);
	return o;
}

static json_t *memory_stats(struct husk_cgroup *cg)
{
	json_t *m = json_object();
	bool v2;
	struct hier *h = husk_cg_locate(cg, CG_MEMORY, &v2);
	_cleanup_fd_ int dfd = h ? husk_cg_hier_open(h, O_PATH) : -1;
	if (!h)
		return m;
	_cleanup_free_ char *st = read_at(dfd, "memory.stat");
	json_t *raw = kv_object(st);
	if (v2) {
		set_u(m, "cache", kv(st, "file"), true);
		json_object_set_new(m, "usage", mem_entry(dfd, "memory", true));
		json_t *usage = json_object_get(m, "usage");
		_cleanup_free_ char *ev = read_at(dfd, "memory.events");
		set_u(usage, "failcnt", kv(ev, "max"), false);
		json_object_set_new(m, "swap", mem_entry(dfd, "memory.swap", true));
		json_object_set_new(m, "kernel", json_object());
		json_object_set_new(m, "kernelTCP", json_object());
	} else {
		set_u(m, "cache", kv(st, "cache"), true);
		json_object_set_new(m, "usage", mem_entry(dfd, "memory", false));
		json_object_set_new(m, "swap", mem_entry(dfd, "memory.memsw", false));
		json_object_set_new(m, "kernel", mem_entry(dfd, "memory.kmem", false));
		json_object_set_new(m, "kernelTCP", mem_entry(dfd, "memory.kmem.tcp", false));
	}
	if (json_object_size(raw))
		json_object_set_new(m, "raw", raw);
	else
		json_decref(raw);
	return m;
}

static json_t *pids_stats(struct husk_cgroup *cg)
{
	json_t *p = json_object();
	bool v2;
	struct hier *h = husk_cg_locate(cg, CG_PIDS, &v2);
	_cleanup_fd_ int dfd = h ? husk_cg_hier_open(h, O_PATH) : -1;
	if (h) {
		set_u(p, "current", read_u64(dfd, "pids.current", 0), true);
		set_u(p, "limit", read_u64(dfd, "pids.max", 0), true);
	}
	return p;
}

static void blk_add(json_t *o, const char *key, unsigned maj, unsigned min, const char *op, uint64_t v)
{
	json_t *a = json_object_get(o, key);
	if (!a) {
		a = json_array();
		json_object_set_new(o, key, a);
	}
	json_array_append_new(a, json_pack("{s:I, s:I, s:s, s:I}", "major", (json_int_t)maj, "minor",
					   (json_int_t)min, "op", op, "value", (json_int_t)v));
}

/* v1 "8:0 Read 4096" lines (the "Total" line without a device skipped). */
static void blk_v1(json_t *o, const char *key, const char *text)
{
	_cleanup_free_ char *copy = xstrdup(text ? text : "");
	char *save = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		unsigned maj, min;
		char op[16];
		unsigned long long v;
		if (sscanf(l, "%u:%u %15s %llu", &maj, &min, op, &v) == 4)
			blk_add(o, key, maj, min, op, v);
	}
}

static json_t *blkio_stats(struct husk_cgroup *cg)
{
	json_t *b = json_object();
	bool v2;
	struct hier *h = husk_cg_locate(cg, CG_BLKIO, &v2);
	_cleanup_fd_ int dfd = h ? husk_cg_hier_open(h, O_PATH) : -1;
	if (!h)
		return b;
	if (!v2) {
		_cleanup_free_ char *bytes = read_at(dfd, "blkio.throttle.io_service_bytes_recursive");
		_cleanup_free_ char *ios = read_at(dfd, "blkio.throttle.io_serviced_recursive");
		blk_v1(b, "ioServiceBytesRecursive", bytes);
		blk_v1(b, "ioServicedRecursive", ios);
		return b;
	}
	/* io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" */
	_cleanup_free_ char *st = read_at(dfd, "io.stat");
	_cleanup_free_ char *copy = xstrdup(st ? st : "");
	char *save = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		unsigned maj, min;
		if (sscanf(l, "%u:%u", &maj, &min) != 2)
			continue;
		static const struct { const char *k, *key, *op; } m[] = {
			{ "rbytes=", "ioServiceBytesRecursive", "Read" },
			{ "wbytes=", "ioServiceBytesRecursive", "Write" },
			{ "rios=", "ioServicedRecursive", "Read" },
			{ "wios=", "ioServicedRecursive", "Write" },
		};
		for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
			const char *p = strstr(l, m[i].k);
			if (p)
				blk_add(b, m[i].key, maj, min, m[i].op, strtoull(p + strlen(m[i].k), NULL, 10));
		}
	}
	return b;
}

static json_t *hugetlb_stats(struct husk_cgroup *cg)
{
	json_t *o = json_object();
	bool v2;
	struct hier *h = husk_cg_locate(cg, CG_HUGETLB, &v2);
	_cleanup_fd_ int dfd = h ? husk_cg_hier_open(h, O_PATH) : -1;
	if (!h)
		return o;
	_cleanup_dir_ DIR *d = opendir("/sys/kernel/mm/hugepages");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		unsigned long kb;
		if (sscanf(de->d_name, "hugepages-%lukB", &kb) != 1)
			continue;
		char size[32], f[96];
		if (kb >= 1024 * 1024 && kb % (1024 * 1024) == 0)
			snprintf(size, sizeof(size), "%luGB", kb / (1024 * 1024));
		else if (kb >= 1024 && kb % 1024 == 0)
			snprintf(size, sizeof(size), "%luMB", kb / 1024);
		else
			snprintf(size, sizeof(size), "%luKB", kb);
		json_t *e = json_object();
		if (v2) {
			snprintf(f, sizeof(f), "hugetlb.%s.current", size);
			set_u(e, "usage", read_u64(dfd, f, 0), true);
			snprintf(f, sizeof(f), "hugetlb.%s.events", size);
			_cleanup_free_ char *ev = read_at(dfd, f);
			set_u(e, "failcnt", kv(ev, "max"), false);
		} else {
			snprintf(f, sizeof(f), "hugetlb.%s.usage_in_bytes", size);
			set_u(e, "usage", read_u64(dfd, f, 0), true);
			snprintf(f, sizeof(f), "hugetlb.%s.max_usage_in_bytes", size);
			set_u(e, "max", read_u64(dfd, f, 0), true);
			snprintf(f, sizeof(f), "hugetlb.%s.failcnt", size);
			set_u(e, "failcnt", read_u64(dfd, f, 0), false);
		}
		json_object_set_new(o, size, e);
	}
	return o;
}

int husk_cgfs_stats(struct husk_cgroup *cg, json_t **out, struct husk_error *e)
{
	(void)e;
	json_t *s = json_object();
	json_object_set_new(s, "cpu", cpu_stats(cg));
	json_object_set_new(s, "memory", memory_stats(cg));
	json_object_set_new(s, "pids", pids_stats(cg));
	json_object_set_new(s, "blkio", blkio_stats(cg));
	json_object_set_new(s, "hugetlb", hugetlb_stats(cg));
	*out = s;
	return 0;
}
