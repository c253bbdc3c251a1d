/* systemd cgroup driver, the pure half: cgroupsPath -> unit and cgroup
 * path (runc's rules), slice expansion, and linux.resources -> unit
 * properties for v1 and v2 (the D-Bus half is tested against a real
 * systemd in tests/integration/test_systemd_cgroup.py). */
#include <string.h>

#include "cgroup/systemd.h"
#include "tap.h"
#include "util.h"

static void check_parse(const char *path, bool user, const char *unit, const char *slice,
			const char *cgpath)
{
	struct husk_error e = { 0 };
	struct husk_sd_unit u;
	int r = husk_sd_parse(path, "ctr1", user, &u, &e);
	bool good = r == 0 && !strcmp(u.unit, unit) && (slice ? u.slice && !strcmp(u.slice, slice) : !u.slice) &&
		    !strcmp(u.path, cgpath);
	ok(good, "\"%s\" -> %s in %s at %s", path ? path : "(none)", unit, slice ? slice : "-", cgpath);
	if (!good && r == 0)
		diag_str("got", u.path);
	if (r == 0)
		husk_sd_unit_free(&u);
}

static void check_bad(const char *path, const char *why)
{
	struct husk_error e = { 0 };
	struct husk_sd_unit u;
	int r = husk_sd_parse(path, "ctr1", false, &u, &e);
	ok(r < 0 && strstr(e.msg, why), "\"%s\" refused: %s", path, why);
	if (r == 0)
		husk_sd_unit_free(&u);
	else if (!strstr(e.msg, why))
		diag_str("message", e.msg);
}

static void test_parse(void)
{
	check_parse(NULL, false, "husk-ctr1.scope", "system.slice", "/system.slice/husk-ctr1.scope");
	check_parse("", true, "husk-ctr1.scope", "user.slice", "/user.slice/husk-ctr1.scope");
	check_parse("system.slice:docker:abc", false, "docker-abc.scope", "system.slice",
		    "/system.slice/docker-abc.scope");
	check_parse(":crio:abc", false, "crio-abc.scope", "system.slice", "/system.slice/crio-abc.scope");
	check_parse("machine-libpod.slice::abc", false, "abc.scope", "machine-libpod.slice",
		    "/machine.slice/machine-libpod.slice/abc.scope");
	check_parse("-.slice:p:n", false, "p-n.scope", "-.slice", "/p-n.scope");
	check_parse("system.slice:p:kubepods-pod1.slice", false, "kubepods-pod1.slice", NULL,
		    "/kubepods.slice/kubepods-pod1.slice");
	check_bad("system.slice:husk", "is not \"slice:prefix:name\"");
	check_bad("a.slice:b:c:d", "is not \"slice:prefix:name\"");
	check_bad("system:husk:x", "is not a slice name");
	check_bad("a/b.slice:husk:x", "is not a slice name");
	check_bad("-a.slice:husk:x", "empty part between dashes");
	check_bad("a-.slice:husk:x", "empty part between dashes");
	check_bad("system.slice:husk:", "unit name part is empty");
	check_bad("system.slice:hu sk:x", "characters systemd does not allow");
	check_bad("system.slice:husk:../x", "characters systemd does not allow");
}

static void test_expand(void)
{
	struct husk_error e;
	char *out = NULL;
	ok(husk_sd_expand_slice("a-b-c.slice", &out, &e) == 0 && !strcmp(out, "/a.slice/a-b.slice/a-b-c.slice"),
	   "a-b-c.slice expands to its parents");
	free(out);
	ok(husk_sd_expand_slice("-.slice", &out, &e) == 0 && !strcmp(out, ""), "-.slice is the root");
	free(out);
	ok(husk_sd_expand_slice("a--b.slice", &out, &e) < 0, "a--b.slice refused");
	ok(husk_sd_expand_slice("a.scope", &out, &e) < 0, "a.scope is no slice");
}

/* Properties for resources (JSON text) as "Name=value" lines. */
static char *props_for(const char *res_json, bool v2, const struct cg_dev_rule *rules, size_t n,
		       int *rc)
{
	json_error_t je;
	json_t *doc = json_loads(res_json, 0, &je);
	struct husk_resources res;
	struct sd_props ps = { 0 };
	struct husk_error e = { 0 };
	static const char proc_devices[] = "Character devices:\n  1 mem\n  4 tty\n136 pts\n\n"
					   "Block devices:\n  7 loop\n  8 sd\n";
	*rc = husk_resources_parse(doc, &res, &e);
	if (*rc == 0)
		*rc = husk_sd_props_resources(&ps, &res, v2, rules, n, proc_devices, &e);
	char *text = *rc == 0 ? husk_sd_props_format(&ps) : xstrdup(e.msg);
	husk_sd_props_free(&ps);
	husk_resources_free(&res);
	json_decref(doc);
	return text;
}

static void check_props(const char *res, bool v2, const char *want, const char *what)
{
	int rc;
	char *got = props_for(res, v2, NULL, 0, &rc);
	ok(rc == 0 && !strcmp(got, want), "%s (%s)", what, v2 ? "v2" : "v1");
	if (rc != 0 || strcmp(got, want))
		diag_str("got", got);
	free(got);
}

static void test_props(void)
{
	check_props("{}", false, "", "no resources, no properties");
	check_props("{\"memory\":{\"limit\":1048576,\"reservation\":4096,\"swap\":2097152}}", false,
		    "MemoryLimit=1048576\n", "memory limit; no v1 reservation or swap property");
	check_props("{\"memory\":{\"limit\":1048576,\"reservation\":4096,\"swap\":2097152}}", true,
		    "MemoryMax=1048576\nMemoryLow=4096\nMemorySwapMax=1048576\n",
		    "memory max, low and swap (memory+swap - memory)");
	check_props("{\"memory\":{\"limit\":-1}}", true, "MemoryMax=infinity\n", "-1 is infinity");
	check_props("{\"cpu\":{\"shares\":1024}}", false, "CPUShares=1024\n", "shares");
	check_props("{\"cpu\":{\"shares\":1024}}", true, "CPUWeight=39\n", "shares as weight");
	check_props("{\"cpu\":{\"quota\":50000,\"period\":100000}}", false,
		    "CPUQuotaPeriodUSec=100000\nCPUQuotaPerSecUSec=500000\n", "quota per second");
	check_props("{\"cpu\":{\"quota\":12345}}", true, "CPUQuotaPerSecUSec=130000\n",
		    "quota rounded up to 10 ms, default period");
	check_props("{\"cpu\":{\"quota\":-1,\"period\":50000}}", true,
		    "CPUQuotaPeriodUSec=50000\nCPUQuotaPerSecUSec=infinity\n", "quota -1 is infinity");
	check_props("{\"cpu\":{\"cpus\":\"0-2,9\",\"mems\":\"1\"}}", true,
		    "AllowedCPUs=0702\nAllowedMemoryNodes=02\n", "cpuset as bitmasks (v2)");
	check_props("{\"cpu\":{\"cpus\":\"0-2\"}}", false, "", "no cpuset property on v1");
	check_props("{\"pids\":{\"limit\":100}}", true, "TasksMax=100\n", "pids");
	check_props("{\"pids\":{\"limit\":-1}}", false, "TasksMax=infinity\n", "pids -1");
	check_props("{\"pids\":{\"limit\":0}}", false, "", "pids 0 leaves it alone");
	check_props("{\"blockIO\":{\"weight\":500}}", false, "BlockIOWeight=500\n", "blkio weight");
	check_props("{\"blockIO\":{\"weight\":500}}", true, "IOWeight=4950\n", "blkio weight as io weight (runc's formula)");
	int rc;
	char *got = props_for("{\"cpu\":{\"cpus\":\"3-1\"}}", true, NULL, 0, &rc);
	ok(rc < 0 && strstr(got, "cpu.cpus"), "a bad cpu list is an error naming the key");
	free(got);
}

static void test_device_props(void)
{
	static const struct cg_dev_rule rules[] = {
		{ .allow = false, .type = 'a', .major = -1, .minor = -1, .access = 7 },
		{ .allow = true, .type = 'c', .major = 1, .minor = 3, .access = 7 },
		{ .allow = true, .type = 'c', .major = 136, .minor = -1, .access = 6 },
		{ .allow = true, .type = 'b', .major = 8, .minor = 0, .access = 2 },
		{ .allow = false, .type = 'c', .major = 1, .minor = 3, .access = 4 },
		{ .allow = true, .type = 'c', .major = 99, .minor = -1, .access = 7 },
		{ .allow = true, .type = 'c', .major = -1, .minor = -1, .access = 1 },
	};
	int rc;
	char *got = props_for("{}", false, rules, ARRAY_SIZE(rules), &rc);
	const char *want = "DevicePolicy=strict\n"
			   "DeviceAllow=/dev/char/1:3 rwm,char-pts rw,/dev/block/8:0 r\n";
	ok(rc == 0 && !strcmp(got, want),
	   "device rules: strict, allow list; no single denies, unknown groups or any-major");
	if (rc || strcmp(got, want))
		diag_str("got", got);
	free(got);

	static const struct cg_dev_rule all[] = {
		{ .allow = true, .type = 'c', .major = 1, .minor = 3, .access = 7 },
		{ .allow = true, .type = 'a', .major = -1, .minor = -1, .access = 7 },
		{ .allow = true, .type = 'c', .major = 1, .minor = 5, .access = 7 },
	};
	got = props_for("{}", true, all, ARRAY_SIZE(all), &rc);
	ok(rc == 0 && !strcmp(got, "DevicePolicy=auto\nDeviceAllow=\n"), "allow-all: policy auto, no list");
	free(got);

	static const struct cg_dev_rule reset[] = {
		{ .allow = true, .type = 'a', .major = -1, .minor = -1, .access = 7 },
		{ .allow = false, .type = 'a', .major = -1, .minor = -1, .access = 7 },
		{ .allow = true, .type = 'c', .major = 1, .minor = 5, .access = 7 },
	};
	got = props_for("{}", true, reset, ARRAY_SIZE(reset), &rc);
	ok(rc == 0 && !strcmp(got, "DevicePolicy=strict\nDeviceAllow=/dev/char/1:5 rwm\n"),
	   "deny-all after allow-all starts over");
	free(got);
}

static void check_annotation(const char *key, const char *value, const char *want)
{
	struct sd_props ps = { 0 };
	struct husk_error e = { 0 };
	int r = husk_sd_props_annotation(&ps, key, value, &e);
	char *got = r == 0 ? husk_sd_props_format(&ps) : xstrdup(e.msg);
	bool good = want[0] == '!' ? r < 0 && strstr(got, want + 1) : r == 0 && !strcmp(got, want);
	ok(good, "annotation %s=%s", key, value);
	if (!good)
		diag_str("got", got);
	free(got);
	husk_sd_props_free(&ps);
}

static void test_annotations(void)
{
	check_annotation("org.systemd.property.CollectMode", "'inactive-or-failed'",
			 "CollectMode=inactive-or-failed\n");
	check_annotation("org.systemd.property.IgnoreSIGPIPE", "false", "IgnoreSIGPIPE=no\n");
	check_annotation("org.systemd.property.TasksMax", "uint64 77", "TasksMax=77\n");
	check_annotation("org.systemd.property.OOMScoreAdjust", "-500", "OOMScoreAdjust=-500\n");
	check_annotation("org.systemd.property.TimeoutStopSec", "5", "TimeoutStopUSec=5000000\n");
	check_annotation("org.systemd.property.RuntimeMaxSec", "1.5", "RuntimeMaxUSec=1500000\n");
	check_annotation("org.systemd.property.TimeoutStopUSec", "uint64 7", "TimeoutStopUSec=7\n");
	check_annotation("org.systemd.property.lower", "1", "!is not a systemd property name");
	check_annotation("org.systemd.property.Has-Dash", "1", "!is not a systemd property name");
	check_annotation("org.systemd.property.TasksMax", "lots", "!cannot read \"lots\"");
	check_annotation("org.systemd.property.TasksMax", "uint64 -1", "!cannot read");
	check_annotation("org.systemd.property.X", "int32 3000000000", "!cannot read");
	check_annotation("org.systemd.property.TimeoutStopSec", "'soon'", "!is not a number of seconds");
}

int main(void)
{
	test_annotations();
	test_parse();
	test_expand();
	test_props();
	test_device_props();
	return tap_done();
}
