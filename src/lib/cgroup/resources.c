/* linux.resources -> the cgroup files to write, for v1 or v2 per
 * controller.  Pure (no file access) so that the validation and runc's
 * v1 -> v2 conversions can be unit tested; apply.c does the writing. */
#include "cgroup/cgroup_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "json_get.h"
#include "log.h"
#include "util.h"

const char *const husk_cg_v1_name[CG__COUNT] = {
	[CG_CPU] = "cpu",         [CG_CPUACCT] = "cpuacct", [CG_CPUSET] = "cpuset",
	[CG_MEMORY] = "memory",   [CG_PIDS] = "pids",       [CG_BLKIO] = "blkio",
	[CG_HUGETLB] = "hugetlb", [CG_NET_CLS] = "net_cls", [CG_NET_PRIO] = "net_prio",
	[CG_RDMA] = "rdma",       [CG_DEVICES] = "devices", [CG_FREEZER] = "freezer",
	[CG_CORE] = NULL,
};
const char *const husk_cg_v2_name[CG__COUNT] = {
	[CG_CPU] = "cpu",         [CG_CPUACCT] = "cpu",     [CG_CPUSET] = "cpuset",
	[CG_MEMORY] = "memory",   [CG_PIDS] = "pids",       [CG_BLKIO] = "io",
	[CG_HUGETLB] = "hugetlb", [CG_NET_CLS] = NULL,      [CG_NET_PRIO] = NULL,
	[CG_RDMA] = "rdma",       [CG_DEVICES] = NULL,      [CG_FREEZER] = NULL,
	[CG_CORE] = NULL,
};

uint64_t husk_cg_shares_to_weight(uint64_t shares)
{
	/* v1 shares [2, 262144] map linearly onto v2 weight [1, 10000]. */
	if (shares == 0)
		return 0;
	if (shares < 2)
		shares = 2;
	return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t husk_cg_blkio_to_io_weight(uint64_t weight)
{
	/* blkio weight [10, 1000] onto io.weight [1, 10000]. */
	if (weight == 0)
		return 0;
	if (weight < 10)
		weight = 10;
	return 1 + ((weight - 10) * 9999) / 990;
}

int husk_cg_swap_to_v2(int64_t swap, int64_t limit, int64_t *out, struct husk_error *e)
{
	/* v1 swap is memory+swap, v2 swap.max is swap alone. */
	if (limit == -1 && swap == 0) {
		*out = -1; /* unlimited memory: unlimited swap too, as v1 does */
		return 0;
	}
	if (swap == -1 || swap == 0) {
		*out = swap;
		return 0;
	}
	if (limit == 0 || limit == -1)
		return husk_err(e, 0, "linux.resources.memory.swap: a swap limit needs a memory limit");
	if (swap < limit)
		return husk_err(e, 0, "linux.resources.memory.swap: %" PRId64 " is below memory.limit %" PRId64
			       " (swap counts memory+swap)", swap, limit);
	*out = swap - limit;
	return 0;
}

void husk_cg_json_merge(json_t *dst, const json_t *src)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)src, k, v) {
		json_t *d = json_object_get(dst, k);
		if (json_is_object(d) && json_is_object(v))
			husk_cg_json_merge(d, v);
		else
			json_object_set_new(dst, k, json_deep_copy(v));
	}
}

/* ---- plan building ---- */

struct ctx {
	struct cg_plan *p;
	unsigned v2mask;
	struct husk_error *e;
};

static bool is_v2(const struct ctx *c, enum cg_ctrl ctrl)
{
	return c->v2mask & (1u << ctrl);
}

static void add(struct ctx *c, enum cg_ctrl ctrl, const char *what, unsigned flags, const char *file,
		const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void add(struct ctx *c, enum cg_ctrl ctrl, const char *what, unsigned flags, const char *file,
		const char *fmt, ...)
{
	struct cg_plan *p = c->p;
	p->w = xrealloc(p->w, (p->n + 1) * sizeof(*p->w));
	va_list ap;
	va_start(ap, fmt);
	char *v = NULL;
	if (vasprintf(&v, fmt, ap) < 0)
		abort();
	va_end(ap);
	p->w[p->n++] = (struct cg_write){ .ctrl = ctrl, .file = xstrdup(file), .value = v,
					  .flags = flags, .what = what };
}

/* An integer field; >= 2^63 (a real) clamps to INT64_MAX. */
static int get_int(const struct ctx *c, const json_t *o, const char *obj, const char *key,
		   int64_t min, int64_t max, int64_t *out, bool *present)
{
	*present = false;
	*out = 0;
	json_t *v = sj_get((json_t *)o, key);
	if (!v)
		return 0;
	char p[SJ_PATH_MAX];
	snprintf(p, sizeof(p), "linux.resources.%s.%s", obj, key);
	if (sj_int_clamped(v, p, min, max, out, c->e) < 0)
		return -1;
	*present = true;
	return 0;
}

static int get_bool(const struct ctx *c, const json_t *o, const char *obj, const char *key, bool *out,
		    bool *present)
{
	json_t *v = json_object_get(o, key);
	*present = v && !json_is_null(v);
	*out = false;
	if (!*present)
		return 0;
	if (!json_is_boolean(v))
		return husk_err(c->e, 0, "linux.resources.%s.%s: expected true or false", obj, key);
	*out = json_is_true(v);
	return 0;
}

static int get_str(const struct ctx *c, const json_t *o, const char *obj, const char *key,
		   const char **out)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return husk_err(c->e, 0, "linux.resources.%s.%s: expected a string", obj, key);
	const char *s = json_string_value(v);
	if (strpbrk(s, "\n"))
		return husk_err(c->e, 0, "linux.resources.%s.%s: newline in value", obj, key);
	*out = s;
	return 0;
}

/* The spec: a property the runtime does not know is ignored, not an
 * error (a newer spec's field, a typo alike); --debug names it. */
static int check_keys(const struct ctx *c, const json_t *o, const char *obj, const char *const *known)
{
	char p[SJ_PATH_MAX];
	snprintf(p, sizeof(p), "linux.resources%s%s", *obj ? "." : "", obj);
	if (sj_object((json_t *)o, p, c->e) < 0)
		return -1;
	sj_ignore_unknown((json_t *)o, p, known);
	return 0;
}

static void fmt_max(char *buf, size_t len, int64_t v)
{
	if (v < 0 || v == INT64_MAX)
		snprintf(buf, len, "max");
	else
		snprintf(buf, len, "%" PRId64, v);
}

static int plan_memory(struct ctx *c, const json_t *m, const json_t *m_all)
{
	static const char *const keys[] = { "limit", "reservation", "swap", "kernel", "kernelTCP",
					    "swappiness", "disableOOMKiller", "useHierarchy",
					    "checkBeforeUpdate", NULL };
	if (check_keys(c, m, "memory", keys) < 0)
		return -1;
	int64_t limit, resv, swap, kernel, ktcp, swappiness, limit_all;
	bool has_limit, has_resv, has_swap, has_kernel, has_ktcp, has_swappiness, has_all;
	bool oom, has_oom, hier, has_hier, check, has_check;
	if (get_int(c, m, "memory", "limit", -1, INT64_MAX, &limit, &has_limit) < 0 ||
	    get_int(c, m, "memory", "reservation", -1, INT64_MAX, &resv, &has_resv) < 0 ||
	    get_int(c, m, "memory", "swap", -1, INT64_MAX, &swap, &has_swap) < 0 ||
	    get_int(c, m, "memory", "kernel", -1, INT64_MAX, &kernel, &has_kernel) < 0 ||
	    get_int(c, m, "memory", "kernelTCP", -1, INT64_MAX, &ktcp, &has_ktcp) < 0 ||
	    get_int(c, m, "memory", "swappiness", 0, 100, &swappiness, &has_swappiness) < 0 ||
	    get_bool(c, m, "memory", "disableOOMKiller", &oom, &has_oom) < 0 ||
	    get_bool(c, m, "memory", "useHierarchy", &hier, &has_hier) < 0 ||
	    get_bool(c, m, "memory", "checkBeforeUpdate", &check, &has_check) < 0)
		return -1;
	if (get_int(c, m_all ? m_all : m, "memory", "limit", -1, INT64_MAX, &limit_all, &has_all) < 0)
		return -1;
	c->p->check_before_update = check;
	c->p->mem_limit = has_limit ? limit : 0;
	char b[32];
	if (is_v2(c, CG_MEMORY)) {
		if (has_limit && limit != 0) {
			fmt_max(b, sizeof(b), limit);
			add(c, CG_MEMORY, "memory.limit", 0, "memory.max", "%s", b);
		}
		if (has_resv && resv != 0) {
			fmt_max(b, sizeof(b), resv);
			add(c, CG_MEMORY, "memory.reservation", 0, "memory.low", "%s", b);
		}
		if (has_swap || (has_limit && limit == -1)) {
			int64_t v2swap;
			if (husk_cg_swap_to_v2(has_swap ? swap : 0, limit_all, &v2swap, c->e) < 0)
				return -1;
			if (v2swap != 0 || (has_swap && swap != 0)) {
				fmt_max(b, sizeof(b), v2swap);
				add(c, CG_MEMORY, "memory.swap", 0, "memory.swap.max", "%s", b);
			}
		}
		/* swappiness, disableOOMKiller, useHierarchy and kernel memory
		 * have no v2 counterpart: v2 is always hierarchical, and runc
		 * ignores the others there too. */
		return 0;
	}
	/* v1: limit and memsw must stay limit <= memsw at every step; apply
	 * swaps the order when the first write is refused. */
	if (has_limit && limit != 0) {
		bool pair = (has_swap && swap != 0) || limit == -1;
		add(c, CG_MEMORY, "memory.limit", pair ? CG_W_PAIR : 0, "memory.limit_in_bytes", "%" PRId64,
		    limit);
	}
	if (has_swap && swap != 0)
		add(c, CG_MEMORY, "memory.swap", 0, "memory.memsw.limit_in_bytes", "%" PRId64, swap);
	else if (has_limit && limit == -1)
		/* unlimited memory and no swap given: unlimited swap too */
		add(c, CG_MEMORY, "memory.swap", CG_W_OPTIONAL, "memory.memsw.limit_in_bytes", "-1");
	if (has_resv && resv != 0)
		add(c, CG_MEMORY, "memory.reservation", 0, "memory.soft_limit_in_bytes", "%" PRId64, resv);
	if (has_ktcp && ktcp != 0)
		add(c, CG_MEMORY, "memory.kernelTCP", 0, "memory.kmem.tcp.limit_in_bytes", "%" PRId64, ktcp);
	/* memory.kernel: kernels since 5.16 refuse kmem limits; ignored as
	 * runc does. */
	(void)kernel;
	(void)has_kernel;
	if (has_swappiness)
		add(c, CG_MEMORY, "memory.swappiness", 0, "memory.swappiness", "%" PRId64, swappiness);
	if (has_oom && oom)
		add(c, CG_MEMORY, "memory.disableOOMKiller", 0, "memory.oom_control", "1");
	if (has_hier)
		add(c, CG_MEMORY, "memory.useHierarchy", 0, "memory.use_hierarchy", "%d", hier ? 1 : 0);
	return 0;
}

static int plan_cpu(struct ctx *c, const json_t *o)
{
	static const char *const keys[] = { "shares", "quota", "burst", "period", "realtimeRuntime",
					    "realtimePeriod", "cpus", "mems", "idle", NULL };
	if (check_keys(c, o, "cpu", keys) < 0)
		return -1;
	int64_t shares, quota, burst, period, rt_rt, rt_period, idle;
	bool h_shares, h_quota, h_burst, h_period, h_rt, h_rtp, h_idle;
	const char *cpus, *mems;
	if (get_int(c, o, "cpu", "shares", 0, 262144, &shares, &h_shares) < 0 ||
	    get_int(c, o, "cpu", "quota", -1, INT64_MAX, &quota, &h_quota) < 0 ||
	    get_int(c, o, "cpu", "burst", 0, INT64_MAX, &burst, &h_burst) < 0 ||
	    get_int(c, o, "cpu", "period", 0, 1000000, &period, &h_period) < 0 ||
	    get_int(c, o, "cpu", "realtimeRuntime", -1, INT64_MAX, &rt_rt, &h_rt) < 0 ||
	    get_int(c, o, "cpu", "realtimePeriod", 0, INT64_MAX, &rt_period, &h_rtp) < 0 ||
	    get_int(c, o, "cpu", "idle", 0, 1, &idle, &h_idle) < 0 ||
	    get_str(c, o, "cpu", "cpus", &cpus) < 0 || get_str(c, o, "cpu", "mems", &mems) < 0)
		return -1;
	if (h_shares && shares == 1)
		return husk_err(c->e, 0, "linux.resources.cpu.shares: 1 is out of range [2, 262144]");
	if (h_period && period != 0 && period < 1000)
		return husk_err(c->e, 0, "linux.resources.cpu.period: %" PRId64 " is out of range [1000, 1000000]",
				period);
	if (h_quota && quota > 0 && quota < 1000)
		return husk_err(c->e, 0, "linux.resources.cpu.quota: %" PRId64 " is below 1000", quota);
	if (is_v2(c, CG_CPU)) {
		if (h_shares && shares)
			add(c, CG_CPU, "cpu.shares", 0, "cpu.weight", "%" PRIu64,
			    husk_cg_shares_to_weight((uint64_t)shares));
		if ((h_quota && quota) || (h_period && period)) {
			char q[32] = "max";
			if (h_quota && quota > 0)
				snprintf(q, sizeof(q), "%" PRId64, quota);
			if (h_period && period)
				add(c, CG_CPU, "cpu.quota", 0, "cpu.max", "%s %" PRId64, q, period);
			else
				add(c, CG_CPU, "cpu.quota", 0, "cpu.max", "%s", q);
		}
		if (h_burst)
			add(c, CG_CPU, "cpu.burst", 0, "cpu.max.burst", "%" PRId64, burst);
		if ((h_rt && rt_rt) || (h_rtp && rt_period))
			return husk_err(c->e, 0, "linux.resources.cpu: realtimeRuntime and realtimePeriod are not supported on cgroup v2");
	} else {
		if (h_shares && shares)
			add(c, CG_CPU, "cpu.shares", 0, "cpu.shares", "%" PRId64, shares);
		if (h_period && period)
			add(c, CG_CPU, "cpu.period", (h_quota && quota) ? CG_W_PAIR : 0, "cpu.cfs_period_us",
			    "%" PRId64, period);
		if (h_quota && quota)
			add(c, CG_CPU, "cpu.quota", 0, "cpu.cfs_quota_us", "%" PRId64, quota);
		if (h_burst)
			add(c, CG_CPU, "cpu.burst", 0, "cpu.cfs_burst_us", "%" PRId64, burst);
		if (h_rtp && rt_period)
			add(c, CG_CPU, "cpu.realtimePeriod", (h_rt && rt_rt) ? CG_W_PAIR : 0, "cpu.rt_period_us",
			    "%" PRId64, rt_period);
		if (h_rt && rt_rt)
			add(c, CG_CPU, "cpu.realtimeRuntime", 0, "cpu.rt_runtime_us", "%" PRId64, rt_rt);
	}
	if (h_idle)
		add(c, CG_CPU, "cpu.idle", 0, "cpu.idle", "%" PRId64, idle);
	if (cpus && *cpus)
		add(c, CG_CPUSET, "cpu.cpus", 0, "cpuset.cpus", "%s", cpus);
	if (mems && *mems)
		add(c, CG_CPUSET, "cpu.mems", 0, "cpuset.mems", "%s", mems);
	return 0;
}

static int plan_pids(struct ctx *c, const json_t *o)
{
	static const char *const keys[] = { "limit", NULL };
	if (check_keys(c, o, "pids", keys) < 0)
		return -1;
	int64_t limit;
	bool has;
	if (get_int(c, o, "pids", "limit", INT64_MIN, INT64_MAX, &limit, &has) < 0)
		return -1;
	if (has && limit != 0) {
		char b[32];
		fmt_max(b, sizeof(b), limit);
		add(c, CG_PIDS, "pids.limit", 0, "pids.max", "%s", b);
	}
	return 0;
}

/* One {major, minor, ...} entry of a blockIO device list. */
static int dev_entry(struct ctx *c, const json_t *d, const char *list, const char *const *keys,
		     int64_t *major, int64_t *minor)
{
	char obj[64];
	snprintf(obj, sizeof(obj), "blockIO.%s[]", list);
	bool h1, h2;
	if (check_keys(c, d, obj, keys) < 0 ||
	    get_int(c, d, obj, "major", 0, UINT32_MAX, major, &h1) < 0 ||
	    get_int(c, d, obj, "minor", 0, UINT32_MAX, minor, &h2) < 0)
		return -1;
	if (!h1 || !h2)
		return husk_err(c->e, 0, "linux.resources.%s: major and minor are required", obj);
	return 0;
}

static int plan_blkio(struct ctx *c, const json_t *o)
{
	static const char *const keys[] = { "weight", "leafWeight", "weightDevice", "throttleReadBpsDevice",
					    "throttleWriteBpsDevice", "throttleReadIOPSDevice",
					    "throttleWriteIOPSDevice", NULL };
	if (check_keys(c, o, "blockIO", keys) < 0)
		return -1;
	bool v2 = is_v2(c, CG_BLKIO);
	int64_t w, lw;
	bool hw, hlw;
	if (get_int(c, o, "blockIO", "weight", 0, 1000, &w, &hw) < 0 ||
	    get_int(c, o, "blockIO", "leafWeight", 0, 1000, &lw, &hlw) < 0)
		return -1;
	if ((hw && w && w < 10) || (hlw && lw && lw < 10))
		return husk_err(c->e, 0, "linux.resources.blockIO: weights are in [10, 1000]");
	if (hw && w) {
		if (v2) {
			add(c, CG_BLKIO, "blockIO.weight", CG_W_ALT, "io.bfq.weight", "%" PRId64, w);
			add(c, CG_BLKIO, "blockIO.weight", 0, "io.weight", "default %" PRIu64,
			    husk_cg_blkio_to_io_weight((uint64_t)w));
		} else {
			add(c, CG_BLKIO, "blockIO.weight", CG_W_ALT, "blkio.weight", "%" PRId64, w);
			add(c, CG_BLKIO, "blockIO.weight", 0, "blkio.bfq.weight", "%" PRId64, w);
		}
	}
	if (hlw && lw && !v2)
		add(c, CG_BLKIO, "blockIO.leafWeight", 0, "blkio.leaf_weight", "%" PRId64, lw);

	json_t *arr = json_object_get(o, "weightDevice");
	if (arr && !json_is_array(arr))
		return husk_err(c->e, 0, "linux.resources.blockIO.weightDevice: expected an array");
	size_t i;
	json_t *d;
	json_array_foreach(arr, i, d) {
		static const char *const dk[] = { "major", "minor", "weight", "leafWeight", NULL };
		int64_t maj, min, dw, dlw;
		bool hdw, hdlw;
		if (dev_entry(c, d, "weightDevice", dk, &maj, &min) < 0 ||
		    get_int(c, d, "blockIO.weightDevice[]", "weight", 0, 1000, &dw, &hdw) < 0 ||
		    get_int(c, d, "blockIO.weightDevice[]", "leafWeight", 0, 1000, &dlw, &hdlw) < 0)
			return -1;
		if (hdw && dw) {
			if (v2) {
				add(c, CG_BLKIO, "blockIO.weightDevice", CG_W_ALT, "io.bfq.weight",
				    "%" PRId64 ":%" PRId64 " %" PRId64, maj, min, dw);
				add(c, CG_BLKIO, "blockIO.weightDevice", 0, "io.weight", "%" PRId64 ":%" PRId64 " %" PRIu64,
				    maj, min, husk_cg_blkio_to_io_weight((uint64_t)dw));
			} else {
				add(c, CG_BLKIO, "blockIO.weightDevice", CG_W_ALT, "blkio.weight_device",
				    "%" PRId64 ":%" PRId64 " %" PRId64, maj, min, dw);
				add(c, CG_BLKIO, "blockIO.weightDevice", 0, "blkio.bfq.weight_device",
				    "%" PRId64 ":%" PRId64 " %" PRId64, maj, min, dw);
			}
		}
		if (hdlw && dlw && !v2)
			add(c, CG_BLKIO, "blockIO.weightDevice", 0, "blkio.leaf_weight_device",
			    "%" PRId64 ":%" PRId64 " %" PRId64, maj, min, dlw);
	}

	static const struct { const char *key, *v1file, *v2key; } thr[] = {
		{ "throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps" },
		{ "throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps" },
		{ "throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops" },
		{ "throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops" },
	};
	for (size_t t = 0; t < ARRAY_SIZE(thr); t++) {
		arr = json_object_get(o, thr[t].key);
		if (!arr || json_is_null(arr))
			continue;
		if (!json_is_array(arr))
			return husk_err(c->e, 0, "linux.resources.blockIO.%s: expected an array", thr[t].key);
		json_array_foreach(arr, i, d) {
			static const char *const tk[] = { "major", "minor", "rate", NULL };
			int64_t maj, min, rate;
			bool hr;
			char obj[64];
			snprintf(obj, sizeof(obj), "blockIO.%s[]", thr[t].key);
			if (dev_entry(c, d, thr[t].key, tk, &maj, &min) < 0 ||
			    get_int(c, d, obj, "rate", 0, INT64_MAX, &rate, &hr) < 0)
				return -1;
			if (v2) {
				char b[32];
				fmt_max(b, sizeof(b), rate == 0 ? -1 : rate);
				add(c, CG_BLKIO, thr[t].key, 0, "io.max", "%" PRId64 ":%" PRId64 " %s=%s", maj, min,
				    thr[t].v2key, b);
			} else {
				add(c, CG_BLKIO, thr[t].key, 0, thr[t].v1file, "%" PRId64 ":%" PRId64 " %" PRId64, maj,
				    min, rate);
			}
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

static int plan_hugetlb(struct ctx *c, const json_t *arr)
{
	if (!json_is_array(arr))
		return husk_err(c->e, 0, "linux.resources.hugepageLimits: expected an array");
	size_t i;
	json_t *o;
	json_array_foreach(arr, i, o) {
		static const char *const keys[] = { "pageSize", "limit", NULL };
		const char *ps;
		int64_t limit;
		bool has;
		if (check_keys(c, o, "hugepageLimits[]", keys) < 0 ||
		    get_str(c, o, "hugepageLimits[]", "pageSize", &ps) < 0 ||
		    get_int(c, o, "hugepageLimits[]", "limit", 0, INT64_MAX, &limit, &has) < 0)
			return -1;
		if (!ps || !valid_page_size(ps))
			return husk_err(c->e, 0, "linux.resources.hugepageLimits: invalid pageSize \"%s\"",
					ps ? ps : "");
		if (!has)
			return husk_err(c->e, 0, "linux.resources.hugepageLimits: %s: limit is required", ps);
		_cleanup_free_ char *f = NULL;
		if (is_v2(c, CG_HUGETLB)) {
			f = xasprintf("hugetlb.%s.max", ps);
			char b[32];
			fmt_max(b, sizeof(b), limit);
			add(c, CG_HUGETLB, "hugepageLimits", 0, f, "%s", b);
		} else {
			f = xasprintf("hugetlb.%s.limit_in_bytes", ps);
			add(c, CG_HUGETLB, "hugepageLimits", 0, f, "%" PRId64, limit);
		}
	}
	return 0;
}

static int plan_network(struct ctx *c, const json_t *o)
{
	static const char *const keys[] = { "classID", "priorities", NULL };
	if (check_keys(c, o, "network", keys) < 0)
		return -1;
	int64_t cls;
	bool has;
	if (get_int(c, o, "network", "classID", 0, UINT32_MAX, &cls, &has) < 0)
		return -1;
	if (has && cls)
		add(c, CG_NET_CLS, "network.classID", 0, "net_cls.classid", "%" PRId64, cls);
	json_t *arr = json_object_get(o, "priorities");
	if (arr && !json_is_array(arr))
		return husk_err(c->e, 0, "linux.resources.network.priorities: expected an array");
	size_t i;
	json_t *p;
	json_array_foreach(arr, i, p) {
		static const char *const pk[] = { "name", "priority", NULL };
		const char *name;
		int64_t prio;
		bool hp;
		if (check_keys(c, p, "network.priorities[]", pk) < 0 ||
		    get_str(c, p, "network.priorities[]", "name", &name) < 0 ||
		    get_int(c, p, "network.priorities[]", "priority", 0, UINT32_MAX, &prio, &hp) < 0)
			return -1;
		if (!name || !*name || strpbrk(name, " /"))
			return husk_err(c->e, 0, "linux.resources.network.priorities: invalid interface name");
		add(c, CG_NET_PRIO, "network.priorities", 0, "net_prio.ifpriomap", "%s %" PRId64, name, prio);
	}
	return 0;
}

static int plan_rdma(struct ctx *c, const json_t *o)
{
	if (!json_is_object(o))
		return husk_err(c->e, 0, "linux.resources.rdma: expected an object");
	const char *dev;
	json_t *v;
	json_object_foreach((json_t *)o, dev, v) {
		static const char *const keys[] = { "hcaHandles", "hcaObjects", NULL };
		int64_t hh, ho;
		bool hh_, ho_;
		if (!*dev || strpbrk(dev, " =\n/"))
			return husk_err(c->e, 0, "linux.resources.rdma: invalid device name \"%s\"", dev);
		if (check_keys(c, v, "rdma.<device>", keys) < 0 ||
		    get_int(c, v, "rdma.<device>", "hcaHandles", 0, UINT32_MAX, &hh, &hh_) < 0 ||
		    get_int(c, v, "rdma.<device>", "hcaObjects", 0, UINT32_MAX, &ho, &ho_) < 0)
			return -1;
		if (!hh_ && !ho_)
			continue;
		char a[48] = "", b[48] = "";
		if (hh_)
			snprintf(a, sizeof(a), " hca_handle=%" PRId64, hh);
		if (ho_)
			snprintf(b, sizeof(b), " hca_object=%" PRId64, ho);
		add(c, CG_RDMA, "rdma", 0, "rdma.max", "%s%s%s", dev, a, b);
	}
	return 0;
}

static int plan_unified(struct ctx *c, const json_t *o)
{
	if (!json_is_object(o))
		return husk_err(c->e, 0, "linux.resources.unified: expected an object");
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v) {
		const char *dot = strchr(k, '.');
		if (!dot || dot == k || !dot[1] || strchr(k, '/') || strstr(k, ".."))
			return husk_err(c->e, 0, "linux.resources.unified: invalid key \"%s\"", k);
		if (!json_is_string(v))
			return husk_err(c->e, 0, "linux.resources.unified.%s: expected a string", k);
		size_t pl = (size_t)(dot - k);
		enum cg_ctrl ctrl = CG__COUNT;
		if (pl == 6 && !strncmp(k, "cgroup", 6))
			ctrl = CG_CORE;
		for (int i = 0; i < CG__COUNT && ctrl == CG__COUNT; i++)
			if (husk_cg_v2_name[i] && strlen(husk_cg_v2_name[i]) == pl &&
			    !strncmp(husk_cg_v2_name[i], k, pl))
				ctrl = (enum cg_ctrl)i;
		if (ctrl == CG__COUNT)
			return husk_err(c->e, 0, "linux.resources.unified: unknown controller in \"%s\"", k);
		if (!is_v2(c, ctrl))
			return husk_err(c->e, 0, "linux.resources.unified.%s: needs cgroup v2 (the %.*s controller is on v1 here)",
					k, (int)pl, k);
		add(c, ctrl, "unified", 0, k, "%s", json_string_value(v));
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
	struct ctx c = { .e = e };
	struct cg_dev_rule *v = xcalloc(json_array_size(arr) + 1, sizeof(*v));
	size_t i;
	json_t *d;
	json_array_foreach(arr, i, d) {
		static const char *const keys[] = { "allow", "type", "major", "minor", "access", NULL };
		struct cg_dev_rule *r = &v[i];
		bool has;
		const char *type, *access;
		if (check_keys(&c, d, "devices[]", keys) < 0 || get_bool(&c, d, "devices[]", "allow", &r->allow, &has) < 0 ||
		    get_str(&c, d, "devices[]", "type", &type) < 0 ||
		    get_str(&c, d, "devices[]", "access", &access) < 0)
			goto fail;
		if (!has) {
			husk_err(e, 0, "%s[%zu]: allow is required", what, i);
			goto fail;
		}
		r->type = type && *type ? type[0] : 'a';
		if ((type && *type && type[1]) || !strchr("acb", r->type)) {
			husk_err(e, 0, "%s[%zu]: invalid type \"%s\"", what, i, type);
			goto fail;
		}
		bool hmaj, hmin;
		if (get_int(&c, d, "devices[]", "major", -1, UINT32_MAX, &r->major, &hmaj) < 0 ||
		    get_int(&c, d, "devices[]", "minor", -1, UINT32_MAX, &r->minor, &hmin) < 0)
			goto fail;
		if (!hmaj)
			r->major = -1;
		if (!hmin)
			r->minor = -1;
		r->access = 0;
		for (const char *a = access && *access ? access : "rwm"; *a; a++) {
			unsigned bit = *a == 'm' ? 1 : *a == 'r' ? 2 : *a == 'w' ? 4 : 0;
			if (!bit || (r->access & bit)) {
				husk_err(e, 0, "%s[%zu]: invalid access \"%s\"", what, i, access);
				goto fail;
			}
			r->access |= bit;
		}
		(*n)++;
	}
	*out = v;
	return 0;
fail:
	free(v);
	*n = 0;
	return -1;
}

int husk_cg_plan_build(const json_t *res, const json_t *res_all, unsigned v2mask, struct cg_plan *p,
		       struct husk_error *e)
{
	memset(p, 0, sizeof(*p));
	if (!res || json_is_null(res))
		return 0;
	struct ctx c = { .p = p, .v2mask = v2mask, .e = e };
	static const char *const keys[] = { "devices", "memory", "cpu", "pids", "blockIO", "hugepageLimits",
					    "network", "rdma", "unified", NULL };
	if (check_keys(&c, res, "", keys) < 0)
		goto fail;
	json_t *v;
	if ((v = json_object_get(res, "devices")) && !json_is_null(v)) {
		p->has_devices = true;
		if (husk_cg_parse_devices(v, "linux.resources.devices", &p->dev, &p->ndev, e) < 0)
			goto fail;
	}
	const json_t *all_mem = res_all ? json_object_get(res_all, "memory") : NULL;
	if ((v = json_object_get(res, "memory")) && !json_is_null(v) && plan_memory(&c, v, all_mem) < 0)
		goto fail;
	if ((v = json_object_get(res, "cpu")) && !json_is_null(v) && plan_cpu(&c, v) < 0)
		goto fail;
	if ((v = json_object_get(res, "pids")) && !json_is_null(v) && plan_pids(&c, v) < 0)
		goto fail;
	if ((v = json_object_get(res, "blockIO")) && !json_is_null(v) && plan_blkio(&c, v) < 0)
		goto fail;
	if ((v = json_object_get(res, "hugepageLimits")) && !json_is_null(v) && plan_hugetlb(&c, v) < 0)
		goto fail;
	if ((v = json_object_get(res, "network")) && !json_is_null(v) && plan_network(&c, v) < 0)
		goto fail;
	if ((v = json_object_get(res, "rdma")) && !json_is_null(v) && plan_rdma(&c, v) < 0)
		goto fail;
	/* last: explicit v2 values override the converted ones */
	if ((v = json_object_get(res, "unified")) && !json_is_null(v) && plan_unified(&c, v) < 0)
		goto fail;
	return 0;
fail:
	husk_cg_plan_free(p);
	return -1;
}

void husk_cg_plan_free(struct cg_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->w[i].file);
		free(p->w[i].value);
	}
	free(p->w);
	free(p->dev);
	memset(p, 0, sizeof(*p));
}

/* ---- v1 device rules ---- */

void husk_cg_access_str(unsigned access, char out[4])
{
	char *a = out;
	if (access & 2)
		*a++ = 'r';
	if (access & 4)
		*a++ = 'w';
	if (access & 1)
		*a++ = 'm';
	*a = '\0';
}

void husk_cg_dev_rule_v1(const struct cg_dev_rule *r, char *buf, size_t len)
{
	char acc[4], maj[24] = "*", min[24] = "*";
	husk_cg_access_str(r->access, acc);
	if (r->major >= 0)
		snprintf(maj, sizeof(maj), "%lld", (long long)r->major);
	if (r->minor >= 0)
		snprintf(min, sizeof(min), "%lld", (long long)r->minor);
	if (r->type == 'a' && r->major < 0 && r->minor < 0)
		snprintf(buf, len, "a *:* %s", acc);
	else
		snprintf(buf, len, "%c %s:%s %s", r->type, maj, min, acc);
}

static unsigned access_bits(const char *s)
{
	unsigned a = 0;
	for (; *s; s++)
		a |= *s == 'm' ? 1 : *s == 'r' ? 2 : *s == 'w' ? 4 : 0;
	return a;
}

/* One exception of a deny-by-default devices cgroup: "c 1:3" and its access. */
struct dev_exc {
	char key[48];
	unsigned access;
};

static void exc_add(struct dev_exc **v, size_t *n, const char *key, unsigned access)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i].key, key)) {
			(*v)[i].access |= access;
			return;
		}
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	snprintf((*v)[*n].key, sizeof((*v)[*n].key), "%s", key);
	(*v)[(*n)++].access = access;
}

static void write_add(struct cg_dev_write **w, size_t *n, bool allow, const char *key, unsigned access)
{
	char acc[4];
	husk_cg_access_str(access, acc);
	*w = xrealloc(*w, (*n + 1) * sizeof(**w));
	(*w)[*n].allow = allow;
	snprintf((*w)[*n].rule, sizeof((*w)[*n].rule), "%s %s", key, acc);
	(*n)++;
}

static bool is_all(const struct cg_dev_rule *r)
{
	return r->type == 'a' && r->major < 0 && r->minor < 0 && r->access == 7;
}

/* The kernel reads every "a ..." line of devices.allow/deny as all devices
 * with all access ("allow a 1:3 m" would allow everything): an 'a' rule
 * other than "a *:* rwm" is written as its 'c' and 'b' rules. */
static struct cg_dev_rule *v1_expand(const struct cg_dev_rule *r, size_t n, size_t *nout)
{
	struct cg_dev_rule *v = xcalloc(2 * n + 1, sizeof(*v));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		v[k++] = r[i];
		if (r[i].type == 'a' && !is_all(&r[i])) {
			v[k - 1].type = 'c';
			v[k] = r[i];
			v[k++].type = 'b';
		}
	}
	*nout = k;
	return v;
}

size_t husk_cg_devices_v1_writes(const char *current, const struct cg_dev_rule *rules, size_t nrules,
				 struct cg_dev_write **out)
{
	*out = NULL;
	size_t n;
	_cleanup_free_ struct cg_dev_rule *r = v1_expand(rules, nrules, &n);
	size_t nw = 0, start = 0;
	for (size_t i = 0; i < n; i++)
		if (is_all(&r[i]) && !r[i].allow)
			start = i + 1;
	bool simple = current != NULL;
	for (size_t i = start; i < n && simple; i++)
		simple = r[i].allow && !is_all(&r[i]);
	/* the current exceptions, when the cgroup denies by default */
	struct dev_exc *cur = NULL, *want = NULL;
	size_t ncur = 0, nwant = 0;
	for (const char *s = current; simple && s && *s;) {
		size_t len = strcspn(s, "\n");
		char line[96], type, nums[40], acc[8];
		snprintf(line, sizeof(line), "%.*s", (int)len, s);
		s += len + (s[len] == '\n');
		if (!*line)
			continue;
		if (sscanf(line, "%c %39s %7s", &type, nums, acc) != 3 || !strcmp(line, "a *:* rwm")) {
			simple = false; /* allows everything: "deny a" first */
			break;
		}
		char key[48];
		snprintf(key, sizeof(key), "%c %s", type, nums);
		exc_add(&cur, &ncur, key, access_bits(acc));
	}
	if (!simple) {
		free(cur);
		struct cg_dev_rule all = { .allow = false, .type = 'a', .major = -1, .minor = -1, .access = 7 };
		*out = xcalloc(n + 1, sizeof(**out));
		husk_cg_dev_rule_v1(&all, (*out)[0].rule, sizeof((*out)[0].rule));
		for (size_t i = 0; i < n; i++) {
			(*out)[i + 1].allow = r[i].allow;
			husk_cg_dev_rule_v1(&r[i], (*out)[i + 1].rule, sizeof((*out)[i + 1].rule));
		}
		return n + 1;
	}
	for (size_t i = start; i < n; i++) {
		char buf[64];
		husk_cg_dev_rule_v1(&r[i], buf, sizeof(buf));
		*strrchr(buf, ' ') = '\0';
		exc_add(&want, &nwant, buf, r[i].access);
	}
	/* what is missing first, then what is too much */
	for (size_t i = 0; i < nwant; i++) {
		unsigned have = 0;
		for (size_t j = 0; j < ncur; j++)
			if (!strcmp(cur[j].key, want[i].key))
				have = cur[j].access;
		if (want[i].access & ~have)
			write_add(out, &nw, true, want[i].key, want[i].access & ~have);
	}
	for (size_t j = 0; j < ncur; j++) {
		unsigned keep = 0;
		for (size_t i = 0; i < nwant; i++)
			if (!strcmp(cur[j].key, want[i].key))
				keep = want[i].access;
		if (cur[j].access & ~keep)
			write_add(out, &nw, false, cur[j].key, cur[j].access & ~keep);
	}
	free(cur);
	free(want);
	return nw;
}
