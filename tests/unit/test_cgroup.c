/* cgroup unit tests: path rules, runc's v1 -> v2 conversions, the
 * resources plan for v1 and v2, and the v2 device program (generated,
 * loaded through the verifier and, as root on a host with a cgroup2
 * mount, attached and enforced). */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "cgroup/cgroup_internal.h"
#include "tap.h"
#include "util.h"

static void test_paths(void)
{
	struct husk_error e;
	char *out = NULL;
	ok(husk_cg_clean_path("/a//b/./c/", &out, &e) == 0 && !strcmp(out, "a/b/c"), "clean path");
	free(out);
	ok(husk_cg_clean_path("a/../b", &out, &e) == 0 && !strcmp(out, "b"), "'..' inside is resolved");
	free(out);
	ok(husk_cg_clean_path("/a/../../etc", &out, &e) < 0, "'..' climbing out is refused");
	ok(husk_cg_word_has("cpu memory hugetlb\n", "hugetlb") && !husk_cg_word_has("cpuset", "cpu"),
	   "word lists");
}

static void test_conversions(void)
{
	ok(husk_cg_shares_to_weight(0) == 0, "shares 0: unset");
	ok(husk_cg_shares_to_weight(2) == 1, "shares 2 -> weight 1");
	ok(husk_cg_shares_to_weight(1024) == 39, "shares 1024 -> weight 39 (runc 1.1)");
	ok(husk_cg_shares_to_weight(262144) == 10000, "shares 262144 -> weight 10000");
	ok(husk_cg_blkio_to_io_weight(10) == 1, "blkio 10 -> io 1");
	ok(husk_cg_blkio_to_io_weight(500) == 4950, "blkio 500 -> io 4950");
	ok(husk_cg_blkio_to_io_weight(1000) == 10000, "blkio 1000 -> io 10000");
	struct husk_error e;
	int64_t v;
	ok(husk_cg_swap_to_v2(200, 100, &v, &e) == 0 && v == 100, "swap 200 limit 100 -> swap.max 100");
	ok(husk_cg_swap_to_v2(-1, 100, &v, &e) == 0 && v == -1, "swap -1 -> max");
	ok(husk_cg_swap_to_v2(0, -1, &v, &e) == 0 && v == -1, "unlimited memory, no swap -> max");
	ok(husk_cg_swap_to_v2(0, 100, &v, &e) == 0 && v == 0, "no swap: untouched");
	ok(husk_cg_swap_to_v2(50, 100, &v, &e) < 0, "swap below limit refused");
	ok(husk_cg_swap_to_v2(200, 0, &v, &e) < 0, "swap without limit refused");
}

/* The plan as "file=value;" text. */
static char *plan_text(const char *json, unsigned v2mask, struct husk_error *e)
{
	json_t *res = json_loads(json, 0, NULL);
	if (!res)
		return xstrdup("<bad json>");
	struct husk_resources parsed;
	struct cg_plan p;
	int r = husk_resources_parse(res, &parsed, e);
	json_decref(res);
	if (r < 0)
		return NULL;
	r = husk_cg_plan_build(&parsed, &parsed, v2mask, &p, e);
	husk_resources_free(&parsed);
	if (r < 0)
		return NULL;
	size_t cap = 4096, len = 0;
	char *s = xcalloc(1, cap);
	for (size_t i = 0; i < p.n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s=%s;", p.w[i].file, p.w[i].value);
	husk_cg_plan_free(&p);
	return s;
}

static void expect_plan(const char *json, unsigned v2mask, const char *want)
{
	struct husk_error e = { 0 };
	char *got = plan_text(json, v2mask, &e);
	ok(got && !strcmp(got, want), "%s %s", v2mask ? "v2" : "v1", json);
	if (!got || strcmp(got, want)) {
		diag_str("want", want);
		diag_str("got", got ? got : e.msg);
	}
	free(got);
}

static void expect_refused(const char *json, unsigned v2mask, const char *msg_part)
{
	struct husk_error e = { 0 };
	char *got = plan_text(json, v2mask, &e);
	ok(!got && strstr(e.msg, msg_part), "refused: %s", json);
	if (got || !strstr(e.msg, msg_part))
		diag_str("message", got ? got : e.msg);
	free(got);
}

#define V2 (~0u)

static void test_plans(void)
{
	expect_plan("{\"memory\":{\"limit\":1048576,\"swap\":2097152,\"reservation\":524288}}", 0,
		    "memory.limit_in_bytes=1048576;memory.memsw.limit_in_bytes=2097152;"
		    "memory.soft_limit_in_bytes=524288;");
	expect_plan("{\"memory\":{\"limit\":1048576,\"swap\":2097152,\"reservation\":524288}}", V2,
		    "memory.max=1048576;memory.low=524288;memory.swap.max=1048576;");
	expect_plan("{\"memory\":{\"limit\":-1}}", V2, "memory.max=max;memory.swap.max=max;");
	expect_plan("{\"memory\":{\"limit\":-1}}", 0,
		    "memory.limit_in_bytes=-1;memory.memsw.limit_in_bytes=-1;");
	expect_plan("{\"memory\":{\"swappiness\":10,\"disableOOMKiller\":true,\"useHierarchy\":true}}", 0,
		    "memory.swappiness=10;memory.oom_control=1;memory.use_hierarchy=1;");
	expect_plan("{\"memory\":{\"swappiness\":10,\"disableOOMKiller\":true}}", V2, "");
	expect_plan("{\"cpu\":{\"shares\":1024,\"quota\":50000,\"period\":100000,\"cpus\":\"0\",\"mems\":\"0\"}}", V2,
		    "cpu.weight=39;cpu.max=50000 100000;cpuset.cpus=0;cpuset.mems=0;");
	expect_plan("{\"cpu\":{\"shares\":1024,\"quota\":50000,\"period\":100000}}", 0,
		    "cpu.shares=1024;cpu.cfs_period_us=100000;cpu.cfs_quota_us=50000;");
	expect_plan("{\"cpu\":{\"quota\":-1}}", V2, "cpu.max=max;");
	expect_plan("{\"cpu\":{\"period\":20000}}", V2, "cpu.max=max 20000;");
	expect_plan("{\"cpu\":{\"burst\":1000,\"idle\":1}}", V2, "cpu.max.burst=1000;cpu.idle=1;");
	expect_plan("{\"cpu\":{\"realtimePeriod\":1000000,\"realtimeRuntime\":950000}}", 0,
		    "cpu.rt_period_us=1000000;cpu.rt_runtime_us=950000;");
	expect_refused("{\"cpu\":{\"realtimeRuntime\":950000}}", V2, "not supported on cgroup v2");
	expect_plan("{\"pids\":{\"limit\":-1}}", V2, "pids.max=max;");
	expect_plan("{\"pids\":{\"limit\":42}}", 0, "pids.max=42;");
	expect_plan("{\"blockIO\":{\"weight\":500,\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":1048576}]}}",
		    V2, "io.bfq.weight=500;io.weight=default 4950;io.max=8:0 rbps=1048576;");
	expect_plan("{\"blockIO\":{\"weightDevice\":[{\"major\":8,\"minor\":0,\"weight\":300}],"
		    "\"throttleWriteIOPSDevice\":[{\"major\":8,\"minor\":0,\"rate\":100}]}}",
		    0, "blkio.weight_device=8:0 300;blkio.bfq.weight_device=8:0 300;"
		       "blkio.throttle.write_iops_device=8:0 100;");
	expect_plan("{\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":4194304}]}", V2, "hugetlb.2MB.max=4194304;");
	expect_plan("{\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":4194304}]}", 0,
		    "hugetlb.2MB.limit_in_bytes=4194304;");
	expect_plan("{\"network\":{\"classID\":1048577,\"priorities\":[{\"name\":\"eth0\",\"priority\":5}]}}", 0,
		    "net_cls.classid=1048577;net_prio.ifpriomap=eth0 5;");
	expect_plan("{\"rdma\":{\"mlx5_1\":{\"hcaHandles\":3,\"hcaObjects\":10000}}}", V2,
		    "rdma.max=mlx5_1 hca_handle=3 hca_object=10000;");
	expect_plan("{\"memory\":{\"limit\":1048576},\"unified\":{\"memory.high\":\"900000\"}}", V2,
		    "memory.max=1048576;memory.high=900000;");
	/* 2^64-1 decoded as a real */
	expect_plan("{\"memory\":{\"limit\":1.8446744073709552e19}}", V2, "memory.max=max;");

	expect_refused("{\"unified\":{\"memory.high\":\"1\"}}", 0, "needs cgroup v2");
	expect_refused("{\"unified\":{\"foo.bar\":\"1\"}}", V2, "unknown controller");
	expect_refused("{\"unified\":{\"../memory.max\":\"1\"}}", V2, "invalid key");
	/* Unknown properties are ignored at every level (the spec's MUST);
	 * the known ones next to them still apply. */
	expect_plan("{\"memory\":{\"limt\":1,\"limit\":1048576}}", 0, "memory.limit_in_bytes=1048576;");
	expect_plan("{\"bogus\":{},\"futureThing\":[1],\"pids\":{\"limit\":5,\"x\":true}}", V2,
		    "pids.max=5;");
	expect_plan("{\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":4096,\"new\":1}],"
		    "\"rdma\":{\"mlx5_1\":{\"hcaHandles\":3,\"hcaFoo\":1}},"
		    "\"blockIO\":{\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":1,\"z\":0}]}}", V2,
		    "io.max=8:0 rbps=1;hugetlb.2MB.max=4096;rdma.max=mlx5_1 hca_handle=3;");
	expect_plan("{\"devices\":[{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rwm\","
		    "\"comment\":\"x\"}]}", 0, "");
	expect_refused("{\"memory\":[]}", 0, "linux.resources.memory: expected an object");
	expect_refused("{\"devices\":[{\"allow\":true,\"access\":\"rwa\"}]}", 0, "invalid access \"rwa\"");
	expect_refused("{\"memory\":{\"swappiness\":101}}", 0, "out of range");
	expect_refused("{\"memory\":{\"limit\":-2}}", 0, "out of range");
	expect_refused("{\"memory\":{\"limit\":1.5}}", 0, "not an integer");
	expect_refused("{\"cpu\":{\"shares\":1}}", 0, "out of range");
	expect_refused("{\"cpu\":{\"period\":999}}", V2, "out of range");
	expect_refused("{\"blockIO\":{\"weight\":5}}", 0, "[10, 1000]");
	expect_refused("{\"hugepageLimits\":[{\"pageSize\":\"3XB\",\"limit\":1}]}", 0, "invalid pageSize");
	expect_refused("{\"devices\":[{\"allow\":true,\"type\":\"x\"}]}", 0, "invalid type");
	expect_refused("{\"devices\":[{\"allow\":true,\"access\":\"rwx\"}]}", 0, "invalid access");
	expect_refused("{\"devices\":[{\"type\":\"c\"}]}", 0, "allow is required");

	json_t *d = json_pack("{s:b, s:s, s:i, s:s}", "allow", 0, "type", "c", "major", 1, "access", "rw");
	json_t *arr = json_pack("[o]", d);
	struct cg_dev_rule *r;
	size_t n;
	struct husk_error e;
	ok(husk_cg_parse_devices(arr, "devices", &r, &n, &e) == 0 && n == 1 && !r[0].allow && r[0].type == 'c' &&
		   r[0].major == 1 && r[0].minor == -1 && r[0].access == 6,
	   "device rule parsed (minor wildcard, access bits)");
	free(r);
	json_decref(arr);

	json_t *a = json_loads("{\"memory\":{\"limit\":1,\"swap\":2},\"pids\":{\"limit\":3}}", 0, NULL);
	json_t *b = json_loads("{\"memory\":{\"limit\":5},\"cpu\":{\"shares\":100}}", 0, NULL);
	husk_cg_json_merge(a, b);
	char *s = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
	ok(!strcmp(s, "{\"cpu\":{\"shares\":100},\"memory\":{\"limit\":5,\"swap\":2},\"pids\":{\"limit\":3}}"),
	   "resources merge (update)");
	free(s);
	json_decref(a);
	json_decref(b);
}

/* ---- device program ---- */

/* A tiny interpreter for the instructions husk_cg_bpf_gen emits: proves the
 * program's logic without root. */
static int run_prog(const struct bpf_insn *p, size_t n, uint32_t type, uint32_t access, uint32_t major,
		    uint32_t minor)
{
	uint32_t ctx[3] = { (access << 16) | type, major, minor };
	uint64_t reg[11] = { 0 };
	for (size_t pc = 0; pc < n; pc++) {
		const struct bpf_insn *i = &p[pc];
		uint8_t cls = BPF_CLASS(i->code), op = BPF_OP(i->code);
		uint32_t dst = (uint32_t)reg[i->dst_reg], src = BPF_SRC(i->code) == BPF_X ? (uint32_t)reg[i->src_reg]
											   : (uint32_t)i->imm;
		if (cls == BPF_LDX) {
			reg[i->dst_reg] = ctx[i->off / 4];
		} else if (cls == BPF_ALU) {
			if (op == BPF_MOV)
				dst = src;
			else if (op == BPF_AND)
				dst &= src;
			else if (op == BPF_RSH)
				dst >>= src;
			else
				return -2;
			reg[i->dst_reg] = dst;
		} else if (cls == BPF_JMP && op == BPF_EXIT) {
			return (int)reg[0];
		} else if (cls == BPF_JMP32) {
			bool jump = op == BPF_JNE ? dst != src : op == BPF_JEQ ? dst == src : false;
			if (jump)
				pc += (size_t)i->off;
		} else {
			return -2;
		}
	}
	return -3;
}

#define C BPF_DEVCG_DEV_CHAR
#define B BPF_DEVCG_DEV_BLOCK
#define R BPF_DEVCG_ACC_READ
#define W BPF_DEVCG_ACC_WRITE
#define M BPF_DEVCG_ACC_MKNOD

/* The record the state keeps: the parsed values written out canonically
 * (unknown properties dropped, a huge limit clamped), read back the same. */
static void test_resources_record(void)
{
	json_t *in = json_loads("{\"memory\":{\"limit\":1e19,\"swap\":-1,\"bogus\":1},"
				"\"blockIO\":{\"weight\":500},\"devices\":[{\"allow\":false}],"
				"\"rdma\":{\"mlx\":{\"hcaHandles\":3}},\"unified\":{\"memory.high\":\"5\"},"
				"\"network\":{\"classID\":7},\"x\":1}", 0, NULL);
	struct husk_resources r, again;
	struct husk_error e = { 0 };
	ok(husk_resources_parse(in, &r, &e) == 0, "resources parse%s%s", e.msg[0] ? ": " : "", e.msg);
	json_t *rec = husk_resources_json(&r);
	char *s = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	const char *want = "{\"blockIO\":{\"weight\":500},\"devices\":[{\"access\":\"rwm\",\"allow\":false,"
			   "\"type\":\"a\"}],\"memory\":{\"limit\":9223372036854775807,\"swap\":-1},"
			   "\"network\":{\"classID\":7},\"rdma\":{\"mlx\":{\"hcaHandles\":3}},"
			   "\"unified\":{\"memory.high\":\"5\"}}";
	ok(s && !strcmp(s, want), "canonical resources record");
	if (!s || strcmp(s, want))
		diag_str("got", s ? s : "(null)");
	ok(husk_resources_parse(rec, &again, &e) == 0 && again.memory.limit.v == INT64_MAX &&
		   again.block_io.weight.v == 500 && !again.block_io.weight_device &&
		   again.n_devices == 1 && again.n_rdma == 1 && again.rdma[0].hca_handles.v == 3 &&
		   !again.rdma[0].hca_objects.set,
	   "record reads back to the same values");
	free(s);
	json_decref(rec);
	json_decref(in);
	husk_resources_free(&again);
	husk_resources_free(&r);
	ok(husk_resources_parse(NULL, &r, &e) == 0 && !r.set && husk_resources_empty(&r) &&
		   !husk_resources_json(&r),
	   "no linux.resources: nothing set, no record");
}

static void test_bpf_gen(void)
{
	const struct cg_dev_rule rules[] = {
		{ false, 'a', -1, -1, 7 },  /* deny all */
		{ true, 'c', 1, -1, 6 },    /* c 1:* rw */
		{ false, 'c', 1, 5, 2 },    /* c 1:5 r denied again */
		{ true, 'b', 8, 0, 2 },     /* b 8:0 r */
		{ true, 'c', -1, -1, 1 },   /* c *:* m */
		{ true, 'c', 4294967295LL, 7, 7 }, /* major 2^32-1: no sign extension */
	};
	size_t n;
	struct bpf_insn *p = husk_cg_bpf_gen(rules, ARRAY_SIZE(rules), &n);
	ok(n > 7 && p[n - 1].code == (BPF_JMP | BPF_EXIT), "program generated (%zu instructions)", n);
	ok(run_prog(p, n, C, R, 1, 3) == 1, "c 1:3 read allowed");
	ok(run_prog(p, n, C, R | W, 1, 3) == 1, "c 1:3 read+write allowed");
	ok(run_prog(p, n, C, M, 1, 3) == 1, "c 1:3 mknod allowed (c *:* m)");
	ok(run_prog(p, n, C, R, 1, 5) == 0, "c 1:5 read denied by the later rule");
	ok(run_prog(p, n, C, W, 1, 5) == 1, "c 1:5 write still allowed");
	ok(run_prog(p, n, C, R | W, 1, 5) == 0, "c 1:5 read+write denied (one bit denied)");
	ok(run_prog(p, n, B, R, 8, 0) == 1, "b 8:0 read allowed");
	ok(run_prog(p, n, B, W, 8, 0) == 0, "b 8:0 write denied");
	ok(run_prog(p, n, B, M, 8, 1) == 0, "b mknod denied");
	ok(run_prog(p, n, C, R, 2, 0) == 0, "c 2:0 denied");
	ok(run_prog(p, n, C, R, 4294967295u, 7) == 1, "major 2^32-1 matched");
	ok(run_prog(p, n, C, R, 4294967295u, 8) == 0, "major 2^32-1 other minor denied");
	free(p);

	const struct cg_dev_rule allow_all[] = { { true, 'a', -1, -1, 7 }, { false, 'c', 1, 3, 4 } };
	p = husk_cg_bpf_gen(allow_all, 2, &n);
	ok(run_prog(p, n, B, R | W | M, 9, 9) == 1 && run_prog(p, n, C, W, 1, 3) == 0 &&
		   run_prog(p, n, C, R, 1, 3) == 1,
	   "allow all, then deny write of c 1:3");
	free(p);
	p = husk_cg_bpf_gen(NULL, 0, &n);
	ok(run_prog(p, n, C, R, 1, 3) == 0, "no rules: everything denied");
	free(p);
}

/* The list both v1 and v2 enforce: a linux.devices node gets access only
 * from resources.devices (docker --device /dev/kmsg:/dev/kmsg:r sends
 * "c 1:11 r"), and one at a default's path drops that default rule. */
static void test_device_rules(void)
{
	const struct cg_dev_rule spec[] = {
		{ false, 'a', -1, -1, 7 },
		{ true, 'c', 1, 11, 2 }, /* c 1:11 r */
		{ true, 'c', 1, 5, 2 },  /* c 1:5 r, /dev/zero given in linux.devices */
	};
	uint32_t skip = 0;
	for (size_t i = 0; i < husk_cg_n_default_devices; i++)
		if (husk_cg_default_device_paths[i] && strcmp(husk_cg_default_device_paths[i], "/dev/zero") == 0)
			skip |= 1u << i;
	ok(skip != 0, "/dev/zero is a default device");
	size_t nr, n;
	struct cg_dev_rule *r = husk_cg_device_rules(spec, ARRAY_SIZE(spec), skip, &nr);
	ok(nr == ARRAY_SIZE(spec) + husk_cg_n_default_devices - 1, "spec rules plus the defaults less one (%zu)", nr);
	ok(r[1].major == 1 && r[1].minor == 11 && r[1].access == 2, "spec rules first, in order");
	struct bpf_insn *p = husk_cg_bpf_gen(r, nr, &n);
	ok(run_prog(p, n, C, R, 1, 11) == 1, "c 1:11 read allowed");
	ok(run_prog(p, n, C, W, 1, 11) == 0, "c 1:11 write denied (no rwm rule for linux.devices)");
	ok(run_prog(p, n, C, R, 1, 5) == 1 && run_prog(p, n, C, W, 1, 5) == 0,
	   "c 1:5 read-only: its default rule left out");
	ok(run_prog(p, n, C, R | W, 1, 3) == 1 && run_prog(p, n, C, R | W, 136, 4) == 1,
	   "other defaults kept (null, pts)");
	ok(run_prog(p, n, C, M, 99, 1) == 1 && run_prog(p, n, B, R, 8, 0) == 0, "mknod of any, no other access");
	free(p);
	free(r);

	/* the defaults' paths name the nodes their rules match */
	bool match = true;
	for (size_t i = 0; i < husk_cg_n_default_devices; i++) {
		const struct cg_dev_rule *d = &husk_cg_default_devices[i];
		const char *want = d->major == 1 && d->minor == 3 ? "/dev/null" : d->major == 1 && d->minor == 5 ? "/dev/zero"
				 : d->major == 5 && d->minor == 0 ? "/dev/tty" : NULL;
		if (want && (!husk_cg_default_device_paths[i] || strcmp(want, husk_cg_default_device_paths[i]) != 0))
			match = false;
		if (d->minor < 0 && husk_cg_default_device_paths[i])
			match = false;
	}
	ok(match, "default device paths line up with their rules");

	/* the skip mask survives the state file (update re-applies the list) */
	struct husk_cgroup *cg = NULL;
	struct husk_error e = { 0 };
	ok(husk_cgroup_deserialize("{\"layout\":\"v1\",\"hierarchies\":[],\"devicesSkip\":64}", &cg, &e) == 0 &&
		   cg->dev_skip == 64,
	   "devicesSkip read back");
	if (cg) {
		char *text = husk_cgroup_serialize(cg);
		ok(strstr(text, "\"devicesSkip\":64") != NULL, "devicesSkip written: %s", text);
		free(text);
		husk_cgroup_free(cg);
	}
}

/* Root only: the verifier accepts the program, and attached to a cgroup2
 * directory it blocks what the rules deny. */
static void test_bpf_kernel(void)
{
	if (geteuid() != 0) {
		printf("ok %d - # SKIP bpf load/attach needs root\n", ++tap_n);
		return;
	}
	struct cg_dev_rule rules[husk_cg_n_default_devices + 1];
	memcpy(rules, husk_cg_default_devices, sizeof(struct cg_dev_rule) * husk_cg_n_default_devices);
	rules[husk_cg_n_default_devices] = (struct cg_dev_rule){ false, 'c', 1, 5, 2 }; /* no reading /dev/zero */
	size_t n;
	struct bpf_insn *p = husk_cg_bpf_gen(rules, ARRAY_SIZE(rules), &n);
	struct husk_error e = { 0 };
	int pfd = husk_cg_bpf_load(p, n, &e);
	free(p);
	ok(pfd >= 0, "verifier accepts the device program");
	if (pfd < 0) {
		diag_str("error", e.msg);
		return;
	}
	/* A cgroup2 mount: pure v2 at /sys/fs/cgroup or hybrid's unified. */
	const char *mnt = NULL;
	struct statfs sf;
	if (statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == 0x63677270)
		mnt = "/sys/fs/cgroup";
	else if (statfs("/sys/fs/cgroup/unified", &sf) == 0 && sf.f_type == 0x63677270)
		mnt = "/sys/fs/cgroup/unified";
	if (!mnt) {
		printf("ok %d - # SKIP no cgroup2 mount to attach to\n", ++tap_n);
		close(pfd);
		return;
	}
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/husk-test-bpf-%d", mnt, (int)getpid());
	if (mkdir(dir, 0755) < 0) {
		ok(false, "mkdir %s: %s", dir, strerror(errno));
		close(pfd);
		return;
	}
	int cfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ok(husk_cg_bpf_attach(cfd, pfd, &e) == 0, "attached to %s", dir);
	/* a new program replaces the old one (update): still exactly one */
	p = husk_cg_bpf_gen(rules, ARRAY_SIZE(rules), &n);
	int pfd2 = husk_cg_bpf_load(p, n, &e);
	free(p);
	ok(pfd2 >= 0 && husk_cg_bpf_attach(cfd, pfd2, &e) == 0, "a second program replaces the first");
	if (pfd2 >= 0)
		close(pfd2);
	uint32_t ids[8];
	union bpf_attr q;
	memset(&q, 0, sizeof(q));
	q.query.target_fd = (uint32_t)cfd;
	q.query.attach_type = BPF_CGROUP_DEVICE;
	q.query.prog_ids = (uintptr_t)ids;
	q.query.prog_cnt = 8;
	ok(syscall(SYS_bpf, BPF_PROG_QUERY, &q, sizeof(q)) == 0 && q.query.prog_cnt == 1,
	   "one device program attached (%u)", q.query.prog_cnt);

	int pipefd[2];
	if (pipe(pipefd) < 0)
		abort();
	pid_t child = fork();
	if (child == 0) {
		char path[300], pid[16];
		snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		int fd = open(path, O_WRONLY);
		char res[3] = "xxx";
		if (fd >= 0 && write(fd, pid, strlen(pid)) > 0) {
			int a = open("/dev/null", O_RDWR);
			int b = open("/dev/zero", O_RDONLY);
			int b_errno = errno;
			int c = open("/dev/zero", O_WRONLY);
			res[0] = a >= 0 ? 'y' : 'n';
			res[1] = b >= 0 ? 'y' : b_errno == EPERM ? 'n' : '?';
			res[2] = c >= 0 ? 'y' : 'n';
		}
		if (write(pipefd[1], res, 3) < 0)
			_exit(2);
		_exit(0);
	}
	close(pipefd[1]);
	char res[4] = "";
	ssize_t got = read(pipefd[0], res, 3);
	close(pipefd[0]);
	waitpid(child, NULL, 0);
	ok(got == 3 && !strcmp(res, "yny"), "in the cgroup: /dev/null rw ok, /dev/zero read EPERM, write ok (%s)",
	   res);
	close(cfd);
	close(pfd);
	for (int i = 0; i < 50 && rmdir(dir) < 0 && errno == EBUSY; i++)
		usleep(10000);
	ok(access(dir, F_OK) < 0, "test cgroup removed");
}

static char *writes_text(const char *current, const struct cg_dev_rule *r, size_t n)
{
	struct cg_dev_write *w;
	size_t nw = husk_cg_devices_v1_writes(current, r, n, &w);
	char *text = xstrdup("");
	for (size_t i = 0; i < nw; i++) {
		char *next = xasprintf("%s%s %s;", text, w[i].allow ? "allow" : "deny", w[i].rule);
		free(text);
		text = next;
	}
	free(w);
	return text;
}

static void check_writes(const char *current, const struct cg_dev_rule *r, size_t n, const char *want,
			 const char *what)
{
	char *got = writes_text(current, r, n);
	ok(!strcmp(got, want), "%s", what);
	if (strcmp(got, want))
		diag_str("got", got);
	free(got);
}

static void test_devices_v1_writes(void)
{
	const struct cg_dev_rule rules[] = {
		{ false, 'a', -1, -1, 7 },
		{ true, 'c', 1, 3, 7 },
		{ true, 'c', 136, -1, 6 },
		{ true, 'c', 1, 3, 2 },
	};
	size_t n = ARRAY_SIZE(rules);
	check_writes("a *:* rwm\n", rules, n, "deny a *:* rwm;deny a *:* rwm;allow c 1:3 rwm;allow c 136:* rw;allow c 1:3 r;",
		     "allow-all cgroup: deny a, then every rule in order");
	check_writes("c 1:3 rwm\nc 136:* rw\n", rules, n, "", "already there: nothing written (no window without /dev/null)");
	check_writes("c 1:3 rw\nc 5:0 rwm\n", rules, n, "allow c 1:3 m;allow c 136:* rw;deny c 5:0 rwm;",
		     "the difference: missing access first, then what goes");
	check_writes("", rules, n, "allow c 1:3 rwm;allow c 136:* rw;", "empty deny-all cgroup: the allows");
	const struct cg_dev_rule mixed[] = {
		{ false, 'a', -1, -1, 7 },
		{ true, 'c', 1, 3, 7 },
		{ false, 'c', 1, 3, 4 },
	};
	check_writes("c 1:3 r\n", mixed, ARRAY_SIZE(mixed), "deny a *:* rwm;deny a *:* rwm;allow c 1:3 rwm;deny c 1:3 w;",
		     "a deny after the allows: the whole list, in order");
	const struct cg_dev_rule no_reset[] = { { true, 'c', 1, 3, 7 } };
	check_writes("c 1:5 rwm\n", no_reset, 1, "allow c 1:3 rwm;deny c 1:5 rwm;",
		     "no deny-all in the rules: the implicit one still resets");
	/* The kernel takes any "a" line for "a *:* rwm" (fuzz_config found
	 * "allow a 6:3 m" turning into allow-all). */
	const struct cg_dev_rule some_all[] = {
		{ false, 'a', -1, -1, 7 },
		{ true, 'a', 6, 3, 1 },
		{ true, 'a', -1, -1, 2 },
	};
	check_writes("", some_all, ARRAY_SIZE(some_all), "allow c 6:3 m;allow b 6:3 m;allow c *:* r;allow b *:* r;",
		     "type a with numbers or less than rwm: as c and b rules");
	check_writes("a *:* rwm\n", some_all, ARRAY_SIZE(some_all),
		     "deny a *:* rwm;deny a *:* rwm;allow c 6:3 m;allow b 6:3 m;allow c *:* r;allow b *:* r;",
		     "the same from an allow-all cgroup");
	const struct cg_dev_rule deny_some[] = { { true, 'a', -1, -1, 7 }, { false, 'a', 1, -1, 4 } };
	check_writes(NULL, deny_some, ARRAY_SIZE(deny_some), "deny a *:* rwm;allow a *:* rwm;deny c 1:* w;deny b 1:* w;",
		     "a partial deny of type a does not deny everything");
}

static void put(const char *dir, const char *file, const char *text)
{
	_cleanup_free_ char *f = xasprintf("%s/%s", dir, file);
	_cleanup_fd_ int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		ok(false, "write %s", f);
}

/* check_reused on one fake hierarchy (ctrl "" is v2); the warning it
 * printed, if any, in *warned. */
static int reused(const char *ctrl, const char *dir, char **warned, struct husk_error *e)
{
	struct hier h = { .ctrl = (char *)ctrl, .dir = (char *)dir, .mountpoint = (char *)"/tmp" };
	struct husk_cgroup cg = { .ops = &husk_cgroup_cgroupfs, .sys = &husk_cg_sys_real,
				  .layout = *ctrl ? CG_V1 : CG_V2, .h = &h, .n = 1 };
	char errf[] = "/tmp/husk-test-stderr-XXXXXX";
	int fd = mkstemp(errf), saved = dup(2);
	dup2(fd, 2);
	int r = husk_cgroup_check_reused(&cg, e);
	dup2(saved, 2);
	close(saved);
	struct husk_error ignored;
	size_t len = 0;
	*warned = NULL;
	husk_read_file_at(AT_FDCWD, errf, warned, &len, &ignored);
	close(fd);
	unlink(errf);
	return r;
}

/* A cgroupsPath that exists already, on files laid out like cgroupfs. */
static void test_check_reused(void)
{
	char dir[] = "/tmp/husk-test-cg-XXXXXX";
	if (!mkdtemp(dir)) {
		ok(false, "mkdtemp");
		return;
	}
	struct husk_error e;
	char *w = NULL;
	put(dir, "cgroup.procs", "");
	put(dir, "cgroup.freeze", "0\n");
	put(dir, "cgroup.events", "populated 0\nfrozen 0\n");
	ok(reused("", dir, &w, &e) == 0 && w && !*w, "v2: thawed and empty: no word");
	free(w);
	put(dir, "cgroup.freeze", "1\n");
	ok(reused("", dir, &w, &e) < 0 && strstr(e.msg, " is frozen: ") && strstr(e.msg, dir),
	   "v2: cgroup.freeze 1 is refused");
	free(w);
	put(dir, "cgroup.freeze", "0\n");
	put(dir, "cgroup.events", "populated 0\nfrozen 1\n");
	ok(reused("", dir, &w, &e) < 0 && strstr(e.msg, "is frozen"), "v2: a frozen parent (events) is refused");
	free(w);
	put(dir, "cgroup.events", "populated 1\nfrozen 0\n");
	put(dir, "cgroup.procs", "4242\n4243\n");
	int r = reused("", dir, &w, &e);
	_cleanup_free_ char *want = xasprintf("husk: warning: cgroup %s already has 2 processes: ", dir + 4);
	ok(r == 0 && w && !strncmp(w, want, strlen(want)) && !strchr(w, '\n')[1],
	   "v2: processes in it: one warning line, and it goes on");
	if (w && strncmp(w, want, strlen(want)))
		diag_str("got", w);
	free(w);
	put(dir, "cgroup.procs", "");
	put(dir, "freezer.state", "FREEZING\n");
	ok(reused("freezer", dir, &w, &e) < 0 && strstr(e.msg, "is frozen"), "v1: FREEZING is refused");
	free(w);
	put(dir, "freezer.state", "THAWED\n");
	ok(reused("freezer", dir, &w, &e) == 0 && w && !*w, "v1: THAWED is fine");
	free(w);
	const char *files[] = { "cgroup.procs", "cgroup.freeze", "cgroup.events", "freezer.state" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *f = xasprintf("%s/%s", dir, files[i]);
		unlink(f);
	}
	rmdir(dir);
}

int main(void)
{
	test_devices_v1_writes();
	test_paths();
	test_conversions();
	test_plans();
	test_resources_record();
	test_check_reused();
	test_bpf_gen();
	test_device_rules();
	test_bpf_kernel();
	return tap_done();
}
