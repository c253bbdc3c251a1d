/* Parsed linux.resources (spec_resources.h) -> the cgroup files to
 * write, for v1 or v2 per controller.  Pure (no file access) so that the
 * host-dependent checks and runc's v1 -> v2 conversions can be unit
 * tested; apply.c does the writing. */
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

static void fmt_max(char *buf, size_t len, int64_t v)
{
	if (v < 0 || v == INT64_MAX)
		snprintf(buf, len, "max");
	else
		snprintf(buf, len, "%" PRId64, v);
}

static int plan_memory(struct ctx *c, const struct husk_res_memory *m, const struct husk_res_memory *all)
{
	bool has_limit = m->limit.set, has_resv = m->reservation.set, has_swap = m->swap.set;
	int64_t limit = m->limit.v, resv = m->reservation.v, swap = m->swap.v;
	int64_t limit_all = all->limit.v;
	c->p->check_before_update = m->check_before_update.v;
	c->p->mem_limit = limit;
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
	if (m->kernel_tcp.v != 0)
		add(c, CG_MEMORY, "memory.kernelTCP", 0, "memory.kmem.tcp.limit_in_bytes", "%" PRId64,
		    m->kernel_tcp.v);
	/* memory.kernel: kernels since 5.16 refuse kmem limits; ignored as
	 * runc does. */
	if (m->swappiness.set)
		add(c, CG_MEMORY, "memory.swappiness", 0, "memory.swappiness", "%" PRId64, m->swappiness.v);
	if (m->disable_oom_killer.v)
		add(c, CG_MEMORY, "memory.disableOOMKiller", 0, "memory.oom_control", "1");
	if (m->use_hierarchy.set)
		add(c, CG_MEMORY, "memory.useHierarchy", 0, "memory.use_hierarchy", "%d",
		    m->use_hierarchy.v ? 1 : 0);
	return 0;
}

static int plan_cpu(struct ctx *c, const struct husk_res_cpu *o)
{
	int64_t shares = o->shares.v, quota = o->quota.v, period = o->period.v;
	int64_t rt_rt = o->realtime_runtime.v, rt_period = o->realtime_period.v;
	if (is_v2(c, CG_CPU)) {
		if (shares)
			add(c, CG_CPU, "cpu.shares", 0, "cpu.weight", "%" PRIu64,
			    husk_cg_shares_to_weight((uint64_t)shares));
		if (quota || period) {
			char q[32] = "max";
			if (quota > 0)
				snprintf(q, sizeof(q), "%" PRId64, quota);
			if (period)
				add(c, CG_CPU, "cpu.quota", 0, "cpu.max", "%s %" PRId64, q, period);
			else
				add(c, CG_CPU, "cpu.quota", 0, "cpu.max", "%s", q);
		}
		if (o->burst.set)
			add(c, CG_CPU, "cpu.burst", 0, "cpu.max.burst", "%" PRId64, o->burst.v);
		if (rt_rt || rt_period)
			return husk_err(c->e, 0, "linux.resources.cpu: realtimeRuntime and realtimePeriod are not supported on cgroup v2");
	} else {
		if (shares)
			add(c, CG_CPU, "cpu.shares", 0, "cpu.shares", "%" PRId64, shares);
		if (period)
			add(c, CG_CPU, "cpu.period", quota ? CG_W_PAIR : 0, "cpu.cfs_period_us", "%" PRId64,
			    period);
		if (quota)
			add(c, CG_CPU, "cpu.quota", 0, "cpu.cfs_quota_us", "%" PRId64, quota);
		if (o->burst.set)
			add(c, CG_CPU, "cpu.burst", 0, "cpu.cfs_burst_us", "%" PRId64, o->burst.v);
		if (rt_period)
			add(c, CG_CPU, "cpu.realtimePeriod", rt_rt ? CG_W_PAIR : 0, "cpu.rt_period_us",
			    "%" PRId64, rt_period);
		if (rt_rt)
			add(c, CG_CPU, "cpu.realtimeRuntime", 0, "cpu.rt_runtime_us", "%" PRId64, rt_rt);
	}
	if (o->idle.set)
		add(c, CG_CPU, "cpu.idle", 0, "cpu.idle", "%" PRId64, o->idle.v);
	if (o->cpus && *o->cpus)
		add(c, CG_CPUSET, "cpu.cpus", 0, "cpuset.cpus", "%s", o->cpus);
	if (o->mems && *o->mems)
		add(c, CG_CPUSET, "cpu.mems", 0, "cpuset.mems", "%s", o->mems);
	return 0;
}

static void plan_pids(struct ctx *c, const struct husk_res_pids *o)
{
	if (o->limit.v != 0) {
		char b[32];
		fmt_max(b, sizeof(b), o->limit.v);
		add(c, CG_PIDS, "pids.limit", 0, "pids.max", "%s", b);
	}
}

static void plan_weight_devices(struct ctx *c, const struct husk_res_blkio *o, bool v2)
{
	for (size_t i = 0; i < o->n_weight_device; i++) {
		const struct husk_res_weight_dev *d = &o->weight_device[i];
		int64_t maj = d->major, min = d->minor, dw = d->weight.v, dlw = d->leaf_weight.v;
		if (dw) {
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
		if (dlw && !v2)
			add(c, CG_BLKIO, "blockIO.weightDevice", 0, "blkio.leaf_weight_device",
			    "%" PRId64 ":%" PRId64 " %" PRId64, maj, min, dlw);
	}
}

static void plan_blkio(struct ctx *c, const struct husk_res_blkio *o)
{
	bool v2 = is_v2(c, CG_BLKIO);
	int64_t w = o->weight.v, lw = o->leaf_weight.v;
	if (w) {
		if (v2) {
			add(c, CG_BLKIO, "blockIO.weight", CG_W_ALT, "io.bfq.weight", "%" PRId64, w);
			add(c, CG_BLKIO, "blockIO.weight", 0, "io.weight", "default %" PRIu64,
			    husk_cg_blkio_to_io_weight((uint64_t)w));
		} else {
			add(c, CG_BLKIO, "blockIO.weight", CG_W_ALT, "blkio.weight", "%" PRId64, w);
			add(c, CG_BLKIO, "blockIO.weight", 0, "blkio.bfq.weight", "%" PRId64, w);
		}
	}
	if (lw && !v2)
		add(c, CG_BLKIO, "blockIO.leafWeight", 0, "blkio.leaf_weight", "%" PRId64, lw);
	plan_weight_devices(c, o, v2);

	static const struct { const char *v1file, *v2key; } thr[HUSK_THROTTLE__COUNT] = {
		{ "blkio.throttle.read_bps_device", "rbps" },
		{ "blkio.throttle.write_bps_device", "wbps" },
		{ "blkio.throttle.read_iops_device", "riops" },
		{ "blkio.throttle.write_iops_device", "wiops" },
	};
	for (size_t t = 0; t < HUSK_THROTTLE__COUNT; t++) {
		const char *key = husk_res_throttle_key[t];
		for (size_t i = 0; i < o->n_throttle[t]; i++) {
			const struct husk_res_rate_dev *d = &o->throttle[t][i];
			if (v2) {
				char b[32];
				fmt_max(b, sizeof(b), d->rate == 0 ? -1 : d->rate);
				add(c, CG_BLKIO, key, 0, "io.max", "%" PRId64 ":%" PRId64 " %s=%s", d->major,
				    d->minor, thr[t].v2key, b);
			} else {
				add(c, CG_BLKIO, key, 0, thr[t].v1file, "%" PRId64 ":%" PRId64 " %" PRId64,
				    d->major, d->minor, d->rate);
			}
		}
	}
}

static void plan_hugetlb(struct ctx *c, const struct husk_resources *r)
{
	for (size_t i = 0; i < r->n_hugepage_limits; i++) {
		const char *ps = r->hugepage_limits[i].page_size;
		int64_t limit = r->hugepage_limits[i].limit;
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
}

static void plan_network(struct ctx *c, const struct husk_res_network *o)
{
	if (o->class_id.v)
		add(c, CG_NET_CLS, "network.classID", 0, "net_cls.classid", "%" PRId64, o->class_id.v);
	for (size_t i = 0; i < o->n_priorities; i++)
		add(c, CG_NET_PRIO, "network.priorities", 0, "net_prio.ifpriomap", "%s %" PRId64,
		    o->priorities[i].name, o->priorities[i].priority);
}

static void plan_rdma(struct ctx *c, const struct husk_resources *r)
{
	for (size_t i = 0; i < r->n_rdma; i++) {
		const struct husk_res_rdma *d = &r->rdma[i];
		if (!d->hca_handles.set && !d->hca_objects.set)
			continue;
		char a[48] = "", b[48] = "";
		if (d->hca_handles.set)
			snprintf(a, sizeof(a), " hca_handle=%" PRId64, d->hca_handles.v);
		if (d->hca_objects.set)
			snprintf(b, sizeof(b), " hca_object=%" PRId64, d->hca_objects.v);
		add(c, CG_RDMA, "rdma", 0, "rdma.max", "%s%s%s", d->device, a, b);
	}
}

static int plan_unified(struct ctx *c, const struct husk_resources *r)
{
	for (size_t u = 0; u < r->n_unified; u++) {
		const char *k = r->unified[u].key, *dot = strchr(k, '.');
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
		add(c, ctrl, "unified", 0, k, "%s", r->unified[u].value);
	}
	return 0;
}

int husk_cg_plan_build(const struct husk_resources *res, const struct husk_resources *res_all,
		       unsigned v2mask, struct cg_plan *p, struct husk_error *e)
{
	memset(p, 0, sizeof(*p));
	if (!res || !res->set)
		return 0;
	struct ctx c = { .p = p, .v2mask = v2mask, .e = e };
	if (res->has_devices) {
		p->has_devices = true;
		p->ndev = res->n_devices;
		p->dev = xcalloc(res->n_devices + 1, sizeof(*p->dev));
		if (res->n_devices)
			memcpy(p->dev, res->devices, res->n_devices * sizeof(*p->dev));
	}
	const struct husk_res_memory *all = res_all && res_all->memory.set ? &res_all->memory : &res->memory;
	if (res->memory.set && plan_memory(&c, &res->memory, all) < 0)
		goto fail;
	if (res->cpu.set && plan_cpu(&c, &res->cpu) < 0)
		goto fail;
	if (res->pids.set)
		plan_pids(&c, &res->pids);
	if (res->block_io.set)
		plan_blkio(&c, &res->block_io);
	plan_hugetlb(&c, res);
	if (res->network.set)
		plan_network(&c, &res->network);
	plan_rdma(&c, res);
	/* last: explicit v2 values override the converted ones */
	if (plan_unified(&c, res) < 0)
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
