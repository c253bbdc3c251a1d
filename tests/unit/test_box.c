/* Unit tests (TAP) for husk box's parsers in Docker's syntax (sizes,
 * --cpus) and the Docker-profile-to-OCI seccomp conversion. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "box_internal.h"
#include "spec.h"
#include "spec_seccomp.h"
#include "util.h"
#include "tap.h"

static void test_sizes(void)
{
	static const struct {
		const char *s;
		int64_t want;
	} good[] = {
		{ "0", 0 },           { "123", 123 },         { "1k", 1024 },
		{ "1K", 1024 },       { "1kb", 1024 },        { "1KiB", 1024 },
		{ "512m", 512LL << 20 }, { "1.5g", 3LL << 29 }, { "2 g", 2LL << 30 },
		{ "1t", 1LL << 40 },  { "6MB", 6LL << 20 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		int64_t v = -1;
		int r = box_parse_size(good[i].s, &v);
		ok(r == 0 && v == good[i].want, "size %s = %lld (got %lld)", good[i].s,
		   (long long)good[i].want, (long long)v);
	}
	static const char *const bad[] = { "", "-1", "m", "1x", "1e3", "0x10", "1mm", "1  m",
					   ".5", "1.", "9999999p", "inf" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int64_t v;
		ok(box_parse_size(bad[i], &v) < 0, "size \"%s\" refused", bad[i]);
	}
}

static void test_cpus(void)
{
	static const struct {
		const char *s;
		int64_t want;
	} good[] = { { "1", 100000 }, { "0.5", 50000 }, { "1.25", 125000 }, { "0.01", 1000 },
		     { "0", 0 } };
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		int64_t q = -1;
		ok(box_parse_cpus(good[i].s, &q) == 0 && q == good[i].want, "cpus %s: quota %lld",
		   good[i].s, (long long)q);
	}
	static const char *const bad[] = { "", "-1", "1e2", "a", ".", "2.", "1,5", " 1" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int64_t q;
		ok(box_parse_cpus(bad[i], &q) < 0, "cpus \"%s\" refused", bad[i]);
	}
}

static const struct box_sc_host host = {
	.arch = "amd64", .scmp_arch = "SCMP_ARCH_X86_64", .caps = 1ULL << 21 /* SYS_ADMIN */,
	.kmajor = 5, .kminor = 10,
};

/* Convert text for host; the names of the kept rules, space-separated. */
static char *convert(const char *text, const struct box_sc_host *h, json_t **out,
		     struct husk_error *e)
{
	json_t *p = json_loads(text, 0, NULL);
	*out = NULL;
	int r = box_seccomp_convert(p, h, out, e);
	json_decref(p);
	if (r < 0)
		return NULL;
	char *names = xstrdup("");
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(*out, "syscalls"), i, x) {
		char *n = xasprintf("%s%s%s", names, *names ? " " : "",
				    json_string_value(json_array_get(json_object_get(x, "names"), 0)));
		free(names);
		names = n;
	}
	return names;
}

static void test_filtering(void)
{
	const char *prof =
		"{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 38,"
		" \"archMap\": [{\"architecture\": \"SCMP_ARCH_AARCH64\", \"subArchitectures\": [\"SCMP_ARCH_ARM\"]},"
		"  {\"architecture\": \"SCMP_ARCH_X86_64\", \"subArchitectures\": [\"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"]}],"
		" \"syscalls\": ["
		"  {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": null, \"comment\": \"\", \"includes\": {}, \"excludes\": {}},"
		"  {\"names\": [\"arch_prctl\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"arches\": [\"amd64\", \"x32\"]}},"
		"  {\"names\": [\"breakpoint\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"arches\": [\"arm\", \"arm64\"]}},"
		"  {\"names\": [\"notamd\"], \"action\": \"SCMP_ACT_ALLOW\", \"excludes\": {\"arches\": [\"amd64\"]}},"
		"  {\"names\": [\"bpf\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}},"
		"  {\"names\": [\"bpf_denied\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1, \"excludes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}},"
		"  {\"names\": [\"two_caps\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"caps\": [\"CAP_SYS_ADMIN\", \"CAP_SYS_TIME\"]}},"
		"  {\"names\": [\"new\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"minKernel\": \"5.8\"}},"
		"  {\"names\": [\"newer\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"minKernel\": \"5.11\"}},"
		"  {\"names\": [\"old\"], \"action\": \"SCMP_ACT_ALLOW\", \"excludes\": {\"minKernel\": \"4.0\"}},"
		"  {\"name\": \"single\", \"action\": \"SCMP_ACT_ALLOW\"}"
		"]}";
	struct husk_error e = { 0 };
	json_t *out;
	char *names = convert(prof, &host, &out, &e);
	ok(names && !strcmp(names, "read arch_prctl bpf new single"), "kept: %s",
	   names ? names : e.msg);
	json_t *arches = json_object_get(out, "architectures");
	ok(json_array_size(arches) == 3 &&
	   !strcmp(json_string_value(json_array_get(arches, 0)), "SCMP_ARCH_X86_64") &&
	   !strcmp(json_string_value(json_array_get(arches, 2)), "SCMP_ARCH_X32"),
	   "archMap: the native entry and its sub-architectures");
	ok(json_integer_value(json_object_get(out, "defaultErrnoRet")) == 38, "defaultErrnoRet kept");
	json_t *r0 = json_array_get(json_object_get(out, "syscalls"), 0);
	ok(!json_object_get(r0, "includes") && !json_object_get(r0, "comment") &&
	   !json_object_get(r0, "args"), "Docker-only members dropped, null args absent");
	struct husk_seccomp_profile *sp = NULL;
	ok(husk_seccomp_parse(out, "linux.seccomp", &sp, &e) == 0 && sp->n_syscalls == 5,
	   "the result parses as linux.seccomp");
	husk_seccomp_profile_free(sp);
	json_decref(out);
	free(names);

	struct box_sc_host arm = host;
	arm.arch = "arm64";
	arm.scmp_arch = "SCMP_ARCH_AARCH64";
	arm.caps = 0;
	arm.kmajor = 6;
	names = convert(prof, &arm, &out, &e);
	ok(names && !strcmp(names, "read breakpoint notamd bpf_denied new newer single"),
	   "arm64 without caps, kernel 6.10: %s", names ? names : e.msg);
	ok(json_array_size(json_object_get(out, "architectures")) == 2, "arm64's own archMap entry");
	json_decref(out);
	free(names);
}

static void test_errors(void)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "[]", "expected a JSON object" },
		{ "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86\"],"
		  " \"archMap\": [{\"architecture\": \"SCMP_ARCH_X86_64\"}]}", "both architectures and archMap" },
		{ "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"name\": \"a\", \"names\": [\"b\"]}]}",
		  "syscalls[0]: both name and names" },
		{ "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"a\"],"
		  " \"includes\": {\"minKernel\": \"five\"}}]}", "syscalls[0].includes.minKernel" },
		{ "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"a\"],"
		  " \"excludes\": {\"caps\": \"CAP_SYS_ADMIN\"}}]}", "syscalls[0].excludes" },
		{ "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": {}}", "syscalls: expected an array" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct husk_error e = { 0 };
		json_t *out;
		char *names = convert(bad[i].text, &host, &out, &e);
		ok(!names && !out && strstr(e.msg, bad[i].msg), "refused: %s (%s)", bad[i].msg, e.msg);
		free(names);
	}
	struct husk_error e = { 0 };
	json_t *out = (json_t *)1;
	char *names = convert("{}", &host, &out, &e);
	ok(names && !out, "no default action and no syscalls: no filter (as Docker)");
	free(names);
}

/* containers-common's profile, when installed: converted for the native
 * host, it parses, and the conversion is cheap (a box start may cost
 * at most ~2 ms more than husk run). */
static void test_containers_common(void)
{
	const char *file = "/usr/share/containers/seccomp.json";
	if (access(file, R_OK) < 0) {
		printf("ok %d - # SKIP %s not installed\n", ++tap_n, file);
		return;
	}
	uint64_t docker_caps = 0x00000000a80425fbULL;
	struct box_sc_host h;
	box_sc_host_native(&h, docker_caps);
	enum { N = 50 };
	uint64_t t0 = husk_now_ns();
	int fails = 0;
	size_t rules = 0;
	for (int i = 0; i < N; i++) {
		struct husk_error e = { 0 };
		json_t *p = json_load_file(file, 0, NULL), *out = NULL;
		fails += !p || box_seccomp_convert(p, &h, &out, &e) < 0 || !out;
		rules = json_array_size(json_object_get(out, "syscalls"));
		json_decref(p);
		json_decref(out);
	}
	uint64_t us = (husk_now_ns() - t0) / N / 1000;
	ok(!fails && rules > 10, "%s converted (%zu rules kept)", file, rules);
	printf("# load and convert: %llu us each\n", (unsigned long long)us);
#if defined(__SANITIZE_ADDRESS__) || defined(__OPTIMIZE__) == 0
	printf("ok %d - # SKIP timing in an unoptimized or sanitized build\n", ++tap_n);
#else
	ok(us < 2000, "load and convert under 2 ms (%llu us)", (unsigned long long)us);
#endif
}

/* --uidmap/--gidmap CONTAINER:HOST:SIZE, one and as a list */
static void test_idmaps(void)
{
	struct husk_id_mapping m;
	ok(box_parse_idmap("0:100000:65536", &m) == 0 && m.container_id == 0 &&
	   m.host_id == 100000 && m.size == 65536, "0:100000:65536");
	ok(box_parse_idmap("4294967295:0:1", &m) == 0, "the last id");
	static const char *const bad[] = { "", "0:1", "0:1:0", "0:1:2:3", "a:1:1", "-1:1:1",
					   "0:1:1x", " 0:1:1", "0::1", "4294967295:0:2",
					   "0:4294967295:2", "0:99999999999:1", "+0:1:1" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ok(box_parse_idmap(bad[i], &m) < 0, "\"%s\" refused", bad[i]);
	struct {
		const char *v[3];
		size_t n;
		const char *err;
	} lists[] = {
		{ { "0:100000:1000", "1000:200000:10" }, 2, NULL },
		{ { "1:100000:10" }, 1, "--uidmap: container id 0 must be mapped" },
		{ { "0:100000:10", "9:200000:10" }, 2, "overlaps 0:100000:10 (container ids)" },
		{ { "0:100000:10", "10:100009:10" }, 2, "overlaps 0:100000:10 (host ids)" },
		{ { "0:1:1", "x" }, 2, "--uidmap x: expected CONTAINER:HOST:SIZE" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
		struct husk_list l = { lists[i].v, lists[i].n };
		struct husk_id_mapping *out = NULL;
		struct husk_error e = { 0 };
		int r = box_idmap_list(&l, "--uidmap", &out, &e);
		if (!lists[i].err)
			ok(r == 0 && out[1].host_id == 200000, "list %zu accepted", i);
		else
			ok(r < 0 && strstr(e.msg, lists[i].err) && !out, "list %zu: %s", i, e.msg);
		free(out);
	}
}

int main(void)
{
	test_idmaps();
	test_sizes();
	test_cpus();
	test_filtering();
	test_errors();
	test_containers_common();
	return tap_done();
}
