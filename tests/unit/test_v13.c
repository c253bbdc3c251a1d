/* Unit tests for the runtime-spec 1.3 fields: parsing of linux.netDevices,
 * linux.memoryPolicy, linux.intelRdt and process.execCPUAffinity, id
 * lists, and the resctrl write sequence against a recording fake tree.
 * Prints TAP; needs no privileges. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intelrdt.h"
#include "mempolicy.h"
#include "spec.h"
#include "tap.h"
#include "util.h"

#define BASE "\"ociVersion\": \"1.3.0\", \"root\": {\"path\": \"rootfs\"}"
#define NETNS "\"namespaces\": [{\"type\": \"network\"}]"

static struct husk_spec *parse(const char *body, struct husk_error *e)
{
	struct husk_spec *s = NULL;
	_cleanup_free_ char *text = xasprintf("{" BASE ", %s}", body);
	husk_err_clear(e);
	return husk_spec_parse_string(text, "/tmp/bundle", &s, e) < 0 ? NULL : s;
}

static void rejects(const char *body, const char *want)
{
	struct husk_error e;
	struct husk_spec *s = parse(body, &e);
	bool good = !s && e.errnum == 0 && strstr(e.msg, want);
	ok(good, "rejects: %s", want);
	if (!good)
		printf("# got \"%s\"\n", s ? "success" : e.msg);
	husk_spec_free(s);
}

static bool bit(const struct husk_idset *set, unsigned i)
{
	const size_t w = 8 * sizeof(unsigned long);
	return i < set->nbits && (set->bits[i / w] >> (i % w)) & 1;
}

static void test_idset(void)
{
	struct husk_error e;
	struct husk_idset set = { 0 };
	ok(husk_idset_parse("0-3,7,64", 100, "x", &set, &e) == 0 && set.nbits == 65 && bit(&set, 0) &&
		   bit(&set, 3) && !bit(&set, 4) && bit(&set, 7) && bit(&set, 64),
	   "\"0-3,7,64\"");
	husk_idset_free(&set);
	ok(husk_idset_parse("100", 100, "x", &set, &e) < 0 && strstr(e.msg, "100 is out of range"),
	   "limit");
	ok(husk_idset_parse("99999999999999999999999", 100, "x", &set, &e) < 0 &&
		   strstr(e.msg, "99999999999999999999999 is out of range"),
	   "huge number reported whole");
	ok(husk_idset_parse(",1", 100, "x", &set, &e) < 0, "leading comma");
	ok(husk_idset_parse("1 ", 100, "x", &set, &e) < 0, "space");
}

static void test_net_devices(void)
{
	struct husk_error e;
	struct husk_spec *s = parse("\"linux\": {" NETNS ", \"netDevices\": {\"eth1\": {\"name\": \"c0\"},"
				    " \"eth2\": {}, \"eth3\": {\"name\": \"\"}}}",
				    &e);
	ok(s && s->n_net_devices == 3 && !strcmp(s->net_devices[0].host_name, "eth1") &&
		   !strcmp(s->net_devices[0].name, "c0") && !strcmp(s->net_devices[1].name, "eth2") &&
		   !strcmp(s->net_devices[2].name, "eth3"),
	   "netDevices: renamed, kept, empty name = kept");
	husk_spec_free(s);
	rejects("\"linux\": {\"netDevices\": {\"eth1\": {}}}", "requires a network namespace");
	rejects("\"linux\": {" NETNS ", \"netDevices\": {\"e:1\": {}}}", "not a valid interface name");
	rejects("\"linux\": {" NETNS ", \"netDevices\": {\"..\": {}}}", "not a valid interface name");
	rejects("\"linux\": {" NETNS ", \"netDevices\": {\"eth1\": {\"name\": \"a b\"}}}",
		"linux.netDevices.eth1.name: \"a b\" is not a valid interface name");
	rejects("\"linux\": {" NETNS ", \"netDevices\": {\"eth1\": {\"name\": \"c%d\"}}}",
		"linux.netDevices.eth1.name: \"c%d\" is not a valid interface name");
	rejects("\"linux\": {" NETNS ", \"netDevices\": {\"a\": {}, \"b\": {\"name\": \"a\"}}}",
		"would both be \"a\"");
	rejects("\"linux\": {" NETNS ", \"netDevices\": []}", "linux.netDevices: expected an object");
}

static void test_mempolicy(void)
{
	struct husk_error e;
	struct husk_spec *s = parse("\"linux\": {\"memoryPolicy\": {\"mode\": \"MPOL_WEIGHTED_INTERLEAVE\","
				    " \"nodes\": \"0-1,3\", \"flags\": [\"MPOL_F_STATIC_NODES\"]}}",
				    &e);
	ok(s && s->mempolicy.set && s->mempolicy.mode == HUSK_MPOL_WEIGHTED_INTERLEAVE &&
		   s->mempolicy.flags == HUSK_MPOL_F_STATIC_NODES && s->mempolicy.nodes.nbits == 4 &&
		   bit(&s->mempolicy.nodes, 1) && !bit(&s->mempolicy.nodes, 2),
	   "memoryPolicy parsed");
	husk_spec_free(s);
	s = parse("\"linux\": {\"memoryPolicy\": {\"mode\": \"MPOL_PREFERRED\"}}", &e);
	ok(s && s->mempolicy.mode == HUSK_MPOL_PREFERRED && !s->mempolicy.nodes.nbits,
	   "MPOL_PREFERRED without nodes (local allocation)");
	husk_spec_free(s);
	rejects("\"linux\": {\"memoryPolicy\": {\"mode\": \"MPOL_BIND\", \"nodes\": \"1024\"}}",
		"linux.memoryPolicy.nodes: \"1024\": 1024 is out of range (at most 1023)");
	rejects("\"linux\": {\"memoryPolicy\": {\"mode\": \"bind\", \"nodes\": \"0\"}}",
		"linux.memoryPolicy.mode: unknown mode \"bind\"");
	rejects("\"linux\": {\"memoryPolicy\": {\"mode\": \"MPOL_BIND\", \"nodes\": \"0\", \"flags\": [1]}}",
		"linux.memoryPolicy.flags[0]: expected a string");
	rejects("\"linux\": {\"memoryPolicy\": {\"mode\": \"MPOL_DEFAULT\", \"flags\": [\"MPOL_F_STATIC_NODES\"]}}",
		"takes no flags");
	ok(husk_mempolicy_mode("MPOL_LOCAL") == 4 && husk_mempolicy_flag("MPOL_F_NUMA_BALANCING") == 1 << 13,
	   "uapi values");
}

static void test_affinity(void)
{
	struct husk_error e;
	struct husk_spec *s = parse("\"process\": {\"args\": [\"sh\"], \"cwd\": \"/\","
				    " \"execCPUAffinity\": {\"initial\": \"0-1\", \"final\": \"\"}}",
				    &e);
	struct husk_cpu_affinity *a = s ? &s->process->exec_cpu_affinity : NULL;
	ok(a && a->set && a->initial.nbits == 2 && !a->final.nbits, "execCPUAffinity: empty final");
	husk_spec_free(s);
	rejects("\"process\": {\"args\": [\"sh\"], \"cwd\": \"/\", \"execCPUAffinity\": {\"final\": \"8192\"}}",
		"process.execCPUAffinity.final: \"8192\": 8192 is out of range");
}

static void test_intel_rdt_parse(void)
{
	struct husk_error e;
	struct husk_spec *s = parse("\"linux\": {\"intelRdt\": {\"closID\": \"g\", \"l3CacheSchema\":"
				    " \"L3:0=f\\nMB:0=10\", \"memBwSchema\": \"MB:0=50\", \"schemata\":"
				    " [\"L2:0=3\"], \"enableMonitoring\": true}}",
				    &e);
	_cleanup_free_ char *text = s ? husk_rdt_schemata(&s->intel_rdt) : NULL;
	ok(s && s->intel_rdt.enable_monitoring && text &&
		   !strcmp(text, "L3:0=f\nMB:0=50\nL2:0=3\n"),
	   "schemata: l3 without its MB line, memBw, then the lines");
	husk_spec_free(s);
	rejects("\"linux\": {\"intelRdt\": {\"memBwSchema\": \"L3:0=1\"}}", "must start with \"MB:\"");
	rejects("\"linux\": {\"intelRdt\": {\"schemata\": [\"L3:0=1\\nMB:0=1\"]}}",
		"linux.intelRdt.schemata[0]: must not contain newlines");
	rejects("\"linux\": {\"intelRdt\": {\"closID\": \"../x\"}}", "not a valid resctrl group name");
	rejects("\"linux\": {\"intelRdt\": {\"closID\": \"info\"}}", "not a valid resctrl group name");
}

/* ---- resctrl against a fake tree ---- */

struct fake {
	char log[4096];
	char *dirs[16];
	size_t ndirs;
	const char *schemata;  /* what reading an existing group's schemata gives */
	int fail_write;        /* the nth write fails (1-based), 0: none */
	int writes;
};

static void logf_(struct fake *f, const char *fmt, const char *a, const char *b)
{
	size_t n = strlen(f->log);
	snprintf(f->log + n, sizeof(f->log) - n, fmt, a, b);
}

static bool has_dir(struct fake *f, const char *path)
{
	for (size_t i = 0; i < f->ndirs; i++)
		if (f->dirs[i] && !strcmp(f->dirs[i], path))
			return true;
	return false;
}

static int f_mkdir(void *ctx, const char *path)
{
	struct fake *f = ctx;
	logf_(f, "mkdir %s%s\n", path, "");
	if (has_dir(f, path))
		return -EEXIST;
	f->dirs[f->ndirs++] = xstrdup(path);
	return 0;
}

static int f_rmdir(void *ctx, const char *path)
{
	struct fake *f = ctx;
	logf_(f, "rmdir %s%s\n", path, "");
	for (size_t i = 0; i < f->ndirs; i++)
		if (f->dirs[i] && !strcmp(f->dirs[i], path)) {
			free(f->dirs[i]);
			f->dirs[i] = NULL;
			return 0;
		}
	return -ENOENT;
}

static int f_write(void *ctx, const char *path, const char *data)
{
	struct fake *f = ctx;
	logf_(f, "write %s <- %s\n", path, data);
	return ++f->writes == f->fail_write ? -EINVAL : 0;
}

static int f_read(void *ctx, const char *path, char **out)
{
	struct fake *f = ctx;
	logf_(f, "read %s%s\n", path, "");
	_cleanup_free_ char *dir = xstrdup(path);
	*strrchr(dir, '/') = '\0';
	if (!has_dir(f, dir))
		return -ENOENT;
	*out = xstrdup(f->schemata ? f->schemata : "");
	return 0;
}

static void fake_free(struct fake *f)
{
	for (size_t i = 0; i < f->ndirs; i++)
		free(f->dirs[i]);
}

static void rdt_case(const char *what, const char *rdt_json, struct fake *f, int want_r,
		     const char *want_log, const char *want_err)
{
	struct husk_error e;
	_cleanup_free_ char *body = xasprintf("\"linux\": {\"intelRdt\": %s}", rdt_json);
	struct husk_spec *s = parse(body, &e);
	struct husk_rdt_ops ops = { f_mkdir, f_rmdir, f_write, f_read, f };
	json_t *rec = NULL;
	int r = s ? husk_rdt_apply(&s->intel_rdt, "/R", "ctr", 42, &ops, &rec, &e) : -2;
	if (r == 0 && rec)
		husk_rdt_remove(rec, &ops, &e);
	bool good = r == want_r && !strcmp(f->log, want_log) &&
		    (!want_err || (r < 0 && strstr(e.msg, want_err)));
	ok(good, "resctrl: %s", what);
	if (!good) {
		diag_str("log", f->log);
		diag_str("error", r < 0 ? e.msg : "");
	}
	json_decref(rec);
	husk_spec_free(s);
	fake_free(f);
}

static void test_rdt_sequence(void)
{
	struct fake f = { 0 };
	rdt_case("new group: mkdir, schemata, tasks, monitoring group; delete removes both",
		 "{\"schemata\": [\"L3:0=f\"], \"enableMonitoring\": true}", &f, 0,
		 "mkdir /R/ctr\nwrite /R/ctr/schemata <- L3:0=f\n\nwrite /R/ctr/tasks <- 42\n"
		 "mkdir /R/ctr/mon_groups/ctr\nwrite /R/ctr/mon_groups/ctr/tasks <- 42\n"
		 "rmdir /R/ctr/mon_groups/ctr\nrmdir /R/ctr\n",
		 NULL);

	f = (struct fake){ .schemata = "    L3:0=000f;1=ff\nMB:0=100\n" };
	f.dirs[f.ndirs++] = xstrdup("/R/g");
	rdt_case("existing closID with matching schemata: joined, never removed",
		 "{\"closID\": \"g\", \"l3CacheSchema\": \"L3:0=f\"}", &f, 0,
		 "mkdir /R/g\nread /R/g/schemata\nwrite /R/g/tasks <- 42\n", NULL);

	f = (struct fake){ .schemata = "L3:0=ff\n" };
	f.dirs[f.ndirs++] = xstrdup("/R/g");
	rdt_case("existing closID with other schemata: error", "{\"closID\": \"g\", \"schemata\": [\"L3:0=f\"]}",
		 &f, -1, "mkdir /R/g\nread /R/g/schemata\n", "other schemata");

	f = (struct fake){ 0 };
	rdt_case("closID alone must exist", "{\"closID\": \"g\"}", &f, -1, "read /R/g/schemata\n",
		 "no resctrl group \"g\"");

	f = (struct fake){ .fail_write = 2 };
	rdt_case("a failed tasks write removes the group it made", "{\"memBwSchema\": \"MB:0=50\"}", &f,
		 -1, "mkdir /R/ctr\nwrite /R/ctr/schemata <- MB:0=50\n\nwrite /R/ctr/tasks <- 42\nrmdir /R/ctr\n",
		 "add pid 42 to /R/ctr/tasks");

	f = (struct fake){ 0 };
	f.dirs[f.ndirs++] = xstrdup("/R/g");
	struct husk_rdt_ops ops = { f_mkdir, f_rmdir, f_write, f_read, &f };
	json_t *rec = json_pack("{s:s, s:b, s:s}", "dir", "/R/g", "created", 0, "mon", "/R/g/mon_groups/c");
	struct husk_error e;
	ok(husk_rdt_join(rec, 7, &ops, &e) == 0 &&
		   !strcmp(f.log, "write /R/g/tasks <- 7\nwrite /R/g/mon_groups/c/tasks <- 7\n"),
	   "resctrl: exec joins both groups");
	json_decref(rec);
	fake_free(&f);
}

int main(void)
{
	test_idset();
	test_net_devices();
	test_mempolicy();
	test_affinity();
	test_intel_rdt_parse();
	test_rdt_sequence();
	return tap_done();
}
