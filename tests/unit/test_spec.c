/* Unit tests for config.json parsing, `husk spec` and `husk features`.
 * Prints TAP; exits non-zero when any check fails.  Needs no privileges. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <unistd.h>

#include "caps.h"
#include "spec.h"
#include "util.h"
#include "tap.h"

#define BASE "\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"rootfs\"}"
#define PROC(extra) "\"process\": {\"args\": [\"sh\"], \"cwd\": \"/\"" extra "}"

/* Parse {BASE, body}; returns the spec or NULL with e filled. */
static struct husk_spec *parse(const char *body, struct husk_error *e)
{
	struct husk_spec *s = NULL;
	_cleanup_free_ char *text = xasprintf("{" BASE "%s%s}", *body ? ", " : "", body);
	husk_err_clear(e);
	if (husk_spec_parse_string(text, "/tmp/bundle", &s, e) < 0)
		return NULL;
	return s;
}

static void accepts(const char *body, const char *what)
{
	struct husk_error e;
	struct husk_spec *s = parse(body, &e);
	ok(s != NULL, "accepts %s%s%s", what, s ? "" : ": ", s ? "" : e.msg);
	husk_spec_free(s);
}

/* The document must fail with errnum 0 and a message containing want. */
static void rejects(const char *body, const char *want, const char *what)
{
	struct husk_error e;
	struct husk_spec *s = parse(body, &e);
	bool good = !s && e.errnum == 0 && strstr(e.msg, want);
	ok(good, "rejects %s", what);
	if (!good)
		printf("# got %s: \"%s\" (errnum %d), want \"%s\"\n", s ? "success" : "error",
		       s ? "" : e.msg, e.errnum, want);
	husk_spec_free(s);
}

static void test_default(void)
{
	struct husk_error e;
	struct husk_spec *s = NULL;
	char *text = husk_spec_default_json(false);
	int r = husk_spec_parse_string(text, "/tmp/bundle", &s, &e);
	ok(r == 0 && s, "default config parses%s%s", r ? ": " : "", r ? e.msg : "");
	ok(text[0] == '{' && strstr(text, "\n\t\"ociVersion\": \"1.3.0\""),
	   "default config is tab-indented like runc's");
	free(text);
	if (!s)
		return;
	ok(strcmp(s->oci_version, "1.3.0") == 0, "ociVersion");
	ok(strcmp(s->bundle, "/tmp/bundle") == 0, "bundle");
	ok(strcmp(s->root_path, "/tmp/bundle/rootfs") == 0 && s->root_readonly,
	   "root.path resolved against the bundle, readonly");
	struct husk_process *p = s->process;
	ok(p && p->n_args == 1 && strcmp(p->args[0], "sh") == 0 && !p->args[1], "process.args");
	ok(p && p->terminal && p->n_env == 2 && strcmp(p->env[1], "TERM=xterm") == 0 && !p->env[2],
	   "process.terminal and env");
	ok(p && strcmp(p->cwd, "/") == 0 && p->user.uid == 0 && p->user.gid == 0, "cwd and user");
	uint64_t want = (1ULL << 29) | (1ULL << 5) | (1ULL << 10);
	ok(p && p->has_caps && p->caps.has_bounding && p->caps.bounding == want &&
		   p->caps.effective == want && p->caps.permitted == want && p->caps.ambient == want &&
		   !p->caps.has_inheritable,
	   "capability sets");
	ok(p && p->n_rlimits == 1 && p->rlimits[0].resource == RLIMIT_NOFILE &&
		   p->rlimits[0].soft == 1024 && p->rlimits[0].hard == 1024,
	   "rlimits");
	ok(p && p->no_new_privileges && !p->has_oom_score_adj && !p->scheduler.set, "noNewPrivileges");
	ok(s->hostname && strcmp(s->hostname, "runc") == 0, "hostname");
	ok(s->n_mounts == 7 && strcmp(s->mounts[1].destination, "/dev") == 0 &&
		   strcmp(s->mounts[1].type, "tmpfs") == 0 && s->mounts[1].n_options == 4 &&
		   strcmp(s->mounts[1].options[2], "mode=755") == 0 && s->mounts[0].n_options == 0 &&
		   s->mounts[0].options && !s->mounts[0].options[0],
	   "mounts");
	const struct husk_namespace *ns = s->namespaces;
	ok(ns[HUSK_NS_PID].present && ns[HUSK_NS_NET].present && ns[HUSK_NS_IPC].present &&
		   ns[HUSK_NS_UTS].present && ns[HUSK_NS_MNT].present && !ns[HUSK_NS_USER].present &&
		   !ns[HUSK_NS_CGROUP].present && !ns[HUSK_NS_PID].path,
	   "namespaces");
	ok(s->resources.set && s->resources.has_devices && s->resources.n_devices == 1 &&
		   !s->resources.devices[0].allow && s->resources.devices[0].access == 7,
	   "linux.resources parsed");
	ok(s->n_masked_paths == 10 && strcmp(s->masked_paths[0], "/proc/acpi") == 0 &&
		   s->n_readonly_paths == 5 && strcmp(s->readonly_paths[4], "/proc/sysrq-trigger") == 0,
	   "maskedPaths and readonlyPaths");
	ok(s->has_linux && !s->seccomp && s->rootfs_propagation == 0 && !s->has_personality,
	   "absent linux fields stay unset");
	husk_spec_free(s);

	s = NULL;
	text = husk_spec_default_json(true);
	r = husk_spec_parse_string(text, "/tmp/bundle", &s, &e);
	ok(r == 0 && s && s->namespaces[HUSK_NS_USER].present && !s->namespaces[HUSK_NS_NET].present &&
		   s->n_uid_mappings == 1 && s->uid_mappings[0].host_id == (uint32_t)geteuid() &&
		   s->n_gid_mappings == 1 && !s->resources.set,
	   "rootless default config parses with a user namespace%s%s", r ? ": " : "",
	   r ? e.msg : "");
	free(text);
	husk_spec_free(s);
}

static void test_features(void)
{
	char *text = husk_features_json();
	json_error_t jerr;
	json_t *doc = json_loads(text, 0, &jerr);
	free(text);
	ok(json_is_object(doc), "features JSON parses");
	ok(json_is_string(json_object_get(doc, "ociVersionMin")) &&
		   strcmp(json_string_value(json_object_get(doc, "ociVersionMax")), "1.3.0") == 0,
	   "features: ociVersionMin/Max");
	ok(json_array_size(json_object_get(doc, "hooks")) == 6 &&
		   json_array_size(json_object_get(doc, "mountOptions")) > 50,
	   "features: hooks and mountOptions");
	json_t *lx = json_object_get(doc, "linux");
	ok(json_array_size(json_object_get(lx, "namespaces")) == 8 &&
		   json_array_size(json_object_get(lx, "capabilities")) == 41,
	   "features: linux.namespaces and capabilities");
	ok(json_is_object(json_object_get(lx, "cgroup")) &&
		   json_is_object(json_object_get(lx, "seccomp")) &&
		   json_is_object(json_object_get(doc, "annotations")),
	   "features: cgroup, seccomp, annotations");
	json_decref(doc);
}

static void test_names(void)
{
	ok(husk_cap_from_name("CAP_CHOWN") == 0 && husk_cap_from_name("CAP_CHECKPOINT_RESTORE") == 40 &&
		   husk_cap_last() == 40 && husk_cap_from_name("CAP_FOO") == -1 &&
		   husk_cap_from_name("chown") == -1,
	   "capability names to numbers");
	ok(strcmp(husk_cap_name(21), "CAP_SYS_ADMIN") == 0 && husk_cap_name(41) == NULL &&
		   husk_cap_name(-1) == NULL,
	   "capability numbers to names");
	ok(strcmp(husk_ns_spec_name(HUSK_NS_NET), "network") == 0 &&
		   strcmp(husk_ns_proc_name(HUSK_NS_NET), "net") == 0 &&
		   strcmp(husk_ns_proc_name(HUSK_NS_MNT), "mnt") == 0 &&
		   strcmp(husk_ns_spec_name(HUSK_NS_MNT), "mount") == 0,
	   "namespace names");
	ok(husk_ns_clone_flag(HUSK_NS_TIME) == 0x80 && husk_ns_clone_flag(HUSK_NS_USER) == 0x10000000 &&
		   husk_ns_clone_flag(HUSK_NS_PID) == 0x20000000,
	   "namespace clone flags");
	ok(strcmp(husk_hook_name(HUSK_HOOK_CREATE_RUNTIME), "createRuntime") == 0 &&
		   strcmp(husk_hook_name(HUSK_HOOK_POSTSTOP), "poststop") == 0,
	   "hook names");
}

static void test_top_level(void)
{
	struct husk_error e;
	struct husk_spec *s = NULL;

	int r = husk_spec_parse_string("{\n  \"ociVersion\": \"1.2.0\",\n  \"root\" {}\n}", "/b", &s, &e);
	ok(r < 0 && e.errnum == 0 && strncmp(e.msg, "config.json: line 3 column ", 27) == 0,
	   "malformed JSON names line and column (%s)", e.msg);
	r = husk_spec_parse_string("[]", "/b", &s, &e);
	ok(r < 0 && strstr(e.msg, "expected a JSON object"), "top level must be an object");
	r = husk_spec_parse_string("{\"root\": {\"path\": \"r\"}}", "/b", &s, &e);
	ok(r < 0 && strcmp(e.msg, "config.json: ociVersion: required field missing") == 0,
	   "missing ociVersion");
	r = husk_spec_parse_string("{\"ociVersion\": 1, \"root\": {\"path\": \"r\"}}", "/b", &s, &e);
	ok(r < 0 && strcmp(e.msg, "config.json: ociVersion: expected a string") == 0,
	   "ociVersion of the wrong type");
	r = husk_spec_parse_string("{\"ociVersion\": \"2.0.0\", \"root\": {\"path\": \"r\"}}", "/b", &s,
				   &e);
	ok(r < 0 && strstr(e.msg, "unsupported version"), "ociVersion 2.x refused");
	r = husk_spec_parse_string("{\"ociVersion\": \"1.0.0\"}", "/b", &s, &e);
	ok(r < 0 && strcmp(e.msg, "config.json: root: required field missing") == 0, "missing root");
	r = husk_spec_parse_string("{\"ociVersion\": \"1.0.0\", \"root\": {\"path\": 3}}", "/b", &s, &e);
	ok(r < 0 && strcmp(e.msg, "config.json: root.path: expected a string") == 0,
	   "root.path of the wrong type");

	s = parse("\"futureField\": {\"x\": 1}, \"process\": null, \"hostname\": null", &e);
	ok(s && !s->process && !s->hostname, "unknown fields ignored, null is absent");
	husk_spec_free(s);

	r = husk_spec_parse_string("{\"ociVersion\": \"1.0.0\", \"root\": {\"path\": \"/abs//r/./x/../y/\"}}",
				   "/b", &s, &e);
	ok(r == 0 && strcmp(s->root_path, "/abs/r/y") == 0, "absolute root.path cleaned lexically");
	husk_spec_free(s);
	s = NULL;
	r = husk_spec_parse_string("{\"ociVersion\": \"1.0.0\", \"root\": {\"path\": \"../r\"}}",
				   "/a/b/", &s, &e);
	ok(r == 0 && strcmp(s->root_path, "/a/r") == 0 && strcmp(s->bundle, "/a/b") == 0,
	   "relative root.path joined to the bundle");
	husk_spec_free(s);
}

static void test_process(void)
{
	struct husk_error e;
	struct husk_spec *s;

	rejects("\"process\": {\"args\": \"sh\", \"cwd\": \"/\"}",
		"config.json: process.args: expected an array of strings", "args as a string");
	rejects("\"process\": {\"args\": [\"sh\", 1], \"cwd\": \"/\"}",
		"config.json: process.args: expected an array of strings", "args with a number");
	rejects("\"process\": {\"args\": [], \"cwd\": \"/\"}", "process.args: must not be empty",
		"empty args");
	rejects("\"process\": {\"cwd\": \"/\"}", "process.args: required field missing", "missing args");
	rejects("\"process\": {\"args\": [\"sh\"]}", "process.cwd: required field missing",
		"missing cwd");
	rejects("\"process\": {\"args\": [\"sh\"], \"cwd\": \"tmp\"}",
		"process.cwd: \"tmp\" is not an absolute path", "relative cwd");
	rejects(PROC(", \"env\": [\"A=1\", \"NOEQUALS\"]"), "process.env[1]:", "env entry without =");
	rejects(PROC(", \"terminal\": \"yes\""), "process.terminal: expected a boolean",
		"terminal of the wrong type");
	rejects(PROC(", \"user\": {\"uid\": -1, \"gid\": 0}"), "process.user.uid: value -1 out of range",
		"negative uid");
	rejects(PROC(", \"capabilities\": {\"ambient\": \"CAP_KILL\"}"),
		"process.capabilities.ambient: expected an array of strings", "capability set not an array");
	rejects(PROC(", \"rlimits\": [{\"type\": \"RLIMIT_FOO\", \"soft\": 1, \"hard\": 1}]"),
		"process.rlimits[0].type: unknown rlimit type \"RLIMIT_FOO\"", "unknown rlimit");
	rejects(PROC(", \"rlimits\": [{\"type\": \"RLIMIT_CORE\", \"soft\": 1, \"hard\": 1},"
		     " {\"type\": \"RLIMIT_CORE\", \"soft\": 1, \"hard\": 1}]"),
		"duplicate rlimit type", "duplicate rlimit");
	rejects(PROC(", \"rlimits\": [{\"type\": \"RLIMIT_CORE\", \"soft\": 2, \"hard\": 1}]"),
		"process.rlimits[0]: soft limit 2 is greater than hard limit 1", "rlimit soft > hard");
	rejects(PROC(", \"rlimits\": [{\"type\": \"RLIMIT_CORE\", \"soft\": 1}]"),
		"process.rlimits[0].hard: required field missing", "rlimit without hard");
	rejects(PROC(", \"rlimits\": [{\"type\": \"RLIMIT_CORE\", \"soft\": -1, \"hard\": 1}]"),
		"process.rlimits[0].soft: value -1 must not be negative", "negative rlimit");

	s = parse(PROC(", \"rlimits\": [{\"type\": \"RLIMIT_CORE\", \"soft\": 18446744073709551615,"
		       " \"hard\": 18446744073709551615}, {\"type\": \"RLIMIT_NPROC\", \"soft\": 5,"
		       " \"hard\": 9223372036854775807}], \"user\": {\"uid\": 1000, \"gid\": 7}"),
		  &e);
	ok(s && s->process->user.uid == 1000 && s->process->user.gid == 7 &&
		   s->process->rlimits[0].soft == UINT64_MAX && s->process->rlimits[0].hard == UINT64_MAX &&
		   s->process->rlimits[1].soft == 5 && s->process->rlimits[1].resource == RLIMIT_NPROC,
	   "RLIM_INFINITY as 18446744073709551615%s%s", s ? "" : ": ", s ? "" : e.msg);
	husk_spec_free(s);

	rejects(PROC(", \"oomScoreAdj\": 1001"), "process.oomScoreAdj: value 1001 out of range",
		"oomScoreAdj out of range");
	s = parse(PROC(", \"oomScoreAdj\": -1000, \"noNewPrivileges\": false,"
		       " \"user\": {\"uid\": 1000, \"gid\": 100, \"umask\": 18,"
		       " \"additionalGids\": [5, 6]}, \"consoleSize\": {\"height\": 24, \"width\": 80},"
		       " \"apparmorProfile\": \"p\", \"selinuxLabel\": \"l\""),
		  &e);
	ok(s && s->process->has_oom_score_adj && s->process->oom_score_adj == -1000 &&
		   s->process->user.uid == 1000 && s->process->user.gid == 100 &&
		   s->process->user.has_umask && s->process->user.umask == 022 &&
		   s->process->user.n_additional_gids == 2 && s->process->user.additional_gids[1] == 6 &&
		   s->process->has_console_size && s->process->console_width == 80 &&
		   strcmp(s->process->apparmor_profile, "p") == 0 && s->process->n_env == 0 &&
		   s->process->env && !s->process->env[0],
	   "user, umask, additionalGids, consoleSize, oomScoreAdj%s%s", s ? "" : ": ",
	   s ? "" : e.msg);
	husk_spec_free(s);

	rejects(PROC(", \"scheduler\": {\"policy\": \"SCHED_FOO\"}"),
		"process.scheduler.policy: unknown scheduler policy \"SCHED_FOO\"", "bad scheduler policy");
	rejects(PROC(", \"scheduler\": {\"policy\": \"SCHED_RR\", \"flags\": [\"SCHED_FLAG_X\"]}"),
		"process.scheduler.flags[0]: unknown scheduler flag", "bad scheduler flag");
	s = parse(PROC(", \"scheduler\": {\"policy\": \"SCHED_DEADLINE\", \"nice\": -5, \"priority\": 3,"
		       " \"flags\": [\"SCHED_FLAG_RESET_ON_FORK\", \"SCHED_FLAG_RECLAIM\"],"
		       " \"runtime\": 100, \"deadline\": 200, \"period\": 300}"),
		  &e);
	ok(s && s->process->scheduler.set && s->process->scheduler.policy == 6 &&
		   s->process->scheduler.nice == -5 && s->process->scheduler.flags == 3 &&
		   s->process->scheduler.period == 300,
	   "scheduler");
	husk_spec_free(s);

	rejects(PROC(", \"ioPriority\": {\"class\": \"IOPRIO_CLASS_X\", \"priority\": 1}"),
		"process.ioPriority.class: unknown I/O priority class", "bad ioPriority class");
	rejects(PROC(", \"ioPriority\": {\"class\": \"IOPRIO_CLASS_BE\", \"priority\": 8}"),
		"process.ioPriority.priority: value 8 out of range", "ioPriority out of range");
	s = parse(PROC(", \"ioPriority\": {\"class\": \"IOPRIO_CLASS_IDLE\", \"priority\": 7}"), &e);
	ok(s && s->process->io_priority.set && s->process->io_priority.ioprio_class == 3 &&
		   s->process->io_priority.priority == 7,
	   "ioPriority");
	husk_spec_free(s);

	/* exec --process: a bare process object with no path prefix */
	struct husk_process *p = NULL;
	json_t *obj = json_loads("{\"args\": 1, \"cwd\": \"/\"}", 0, NULL);
	int r = husk_process_parse(obj, "", &p, &e);
	ok(r < 0 && strcmp(e.msg, "args: expected an array of strings") == 0,
	   "husk_process_parse with an empty path prefix");
	json_decref(obj);
	obj = json_loads("{\"args\": [\"ls\", \"-l\"], \"cwd\": \"/tmp\", \"env\": [\"A=B\"]}", 0, NULL);
	r = husk_process_parse(obj, "process", &p, &e);
	ok(r == 0 && p->n_args == 2 && strcmp(p->args[1], "-l") == 0 && strcmp(p->cwd, "/tmp") == 0 &&
		   !p->has_caps,
	   "husk_process_parse");
	husk_process_free(p);
	json_decref(obj);
}

#define NS(list) "\"linux\": {\"namespaces\": [" list "]"

/* Spec 1.1: capabilities that cannot be mapped or granted are warned
 * about and left out, not refused. */
static void test_caps_ungrantable(void)
{
	struct husk_error e;
	struct husk_spec *s = parse(PROC(", \"capabilities\": {\"bounding\": [\"CAP_KILL\", \"CAP_FOO\","
					 " \"CAP_SYS_RESOURCE\"], \"effective\": [\"CAP_FOO\", \"CAP_BAR\","
					 " \"CAP_CHECKPOINT_RESTORE\", \"CAP_CHOWN\"], \"ambient\": [\"CAP_BPF\"]}"),
				    &e);
	struct husk_process *p = s ? s->process : NULL;
	ok(p && p->unknown_caps && !strcmp(p->unknown_caps[0], "CAP_FOO") &&
		   !strcmp(p->unknown_caps[1], "CAP_BAR") && !p->unknown_caps[2],
	   "unknown capability names are noted once each, not refused%s%s", s ? "" : ": ", s ? "" : e.msg);
	if (!p) {
		husk_spec_free(s);
		return;
	}
	ok(p->caps.bounding == ((1ULL << 5) | (1ULL << 24)) &&
		   p->caps.effective == ((1ULL << 40) | (1ULL << 0)),
	   "the known ones are kept");
	/* A kernel whose last capability is 39 (no CHECKPOINT_RESTORE) and a
	 * bounding set without CAP_SYS_RESOURCE (24). */
	char msg[512];
	uint64_t bset = ~0ULL & ~(1ULL << 24);
	ok(husk_caps_prune(p, 39, bset, msg, sizeof(msg)), "something to warn about");
	bool named = !strcmp(msg, "CAP_FOO (unknown), CAP_BAR (unknown), CAP_SYS_RESOURCE (not in the "
				  "runtime's bounding set), CAP_CHECKPOINT_RESTORE (unknown to this kernel)");
	ok(named, "one line names each");
	if (!named)
		diag_str("msg", msg);
	ok(p->caps.bounding == (1ULL << 5) && p->caps.effective == (1ULL << 0) &&
		   p->caps.ambient == (1ULL << 39),
	   "and they are taken out of every set");
	husk_spec_free(s);

	s = parse(PROC(", \"capabilities\": {\"bounding\": [\"CAP_KILL\"], \"permitted\": [\"CAP_KILL\"]}"), &e);
	ok(s && !husk_caps_prune(s->process, 40, 1ULL << 5, msg, sizeof(msg)) && !msg[0] &&
		   s->process->caps.bounding == (1ULL << 5),
	   "nothing to say when all can be granted");
	husk_spec_free(s);
}

static void test_linux(void)
{
	struct husk_error e;
	struct husk_spec *s;

	rejects(NS("{\"type\": \"pid\"}, {\"type\": \"foo\"}") "}",
		"config.json: linux.namespaces[1].type: unknown namespace type \"foo\"",
		"unknown namespace type");
	rejects(NS("{\"type\": \"pid\"}, {\"type\": \"pid\"}") "}",
		"linux.namespaces[1].type: duplicate namespace type \"pid\"", "duplicate namespace");
	rejects(NS("{\"type\": \"net\", \"path\": \"x\"}") "}", "unknown namespace type \"net\"",
		"proc-style namespace name");
	rejects(NS("{\"type\": \"network\", \"path\": \"run/netns/x\"}") "}",
		"linux.namespaces[0].path: \"run/netns/x\" is not an absolute path",
		"relative namespace path");
	rejects(NS("{}") "}", "linux.namespaces[0].type: required field missing",
		"namespace without type");
	rejects("\"linux\": {\"namespaces\": {}}", "linux.namespaces: expected an array",
		"namespaces not an array");
	rejects("\"hostname\": \"h\", " NS("{\"type\": \"pid\"}") "}", "hostname",
		"hostname without a uts namespace");
	rejects("\"domainname\": \"d\"", "domainname", "domainname without a uts namespace");
	s = parse("\"hostname\": \"h\", " NS("{\"type\": \"uts\", \"path\": \"/proc/1/ns/uts\"}, "
					    "{\"type\": \"time\"}, {\"type\": \"network\", \"path\": \"\"}") "}",
		  &e);
	ok(s && s->namespaces[HUSK_NS_UTS].present &&
		   strcmp(s->namespaces[HUSK_NS_UTS].path, "/proc/1/ns/uts") == 0 &&
		   s->namespaces[HUSK_NS_TIME].present && s->namespaces[HUSK_NS_NET].present &&
		   !s->namespaces[HUSK_NS_NET].path,
	   "namespace paths (empty path = new namespace)");
	husk_spec_free(s);

	rejects(NS("{\"type\": \"pid\"}") ", \"uidMappings\": [{\"containerID\": 0, \"hostID\": 1000,"
					  " \"size\": 1}]}",
		"linux.uidMappings: requires a user namespace", "uidMappings without a user namespace");
	rejects(NS("{\"type\": \"user\"}") "}", "linux.uidMappings:", "new user namespace without mappings");
	rejects(NS("{\"type\": \"user\"}") ", \"uidMappings\": [{\"containerID\": 0, \"hostID\": 1000}]}",
		"linux.uidMappings[0].size: required field missing", "mapping without size");
	s = parse(NS("{\"type\": \"user\"}") ", \"uidMappings\": [{\"containerID\": 0, \"hostID\": 1000,"
					     " \"size\": 65536}], \"gidMappings\": [{\"containerID\": 0,"
					     " \"hostID\": 1000, \"size\": 65536}]}",
		  &e);
	ok(s && s->n_uid_mappings == 1 && s->uid_mappings[0].host_id == 1000 &&
		   s->gid_mappings[0].size == 65536,
	   "user namespace with mappings");
	husk_spec_free(s);
	accepts(NS("{\"type\": \"user\", \"path\": \"/proc/1/ns/user\"}") "}",
		"joined user namespace without mappings");

	rejects(NS("{\"type\": \"pid\"}") ", \"timeOffsets\": {\"monotonic\": {\"secs\": 1}}}",
		"linux.timeOffsets: requires a time namespace", "timeOffsets without a time namespace");
	s = parse(NS("{\"type\": \"time\"}") ", \"timeOffsets\": {\"boottime\": {\"secs\": -5,"
					     " \"nanosecs\": 7}}}",
		  &e);
	ok(s && s->time_boottime.set && s->time_boottime.secs == -5 && s->time_boottime.nanosecs == 7 &&
		   !s->time_monotonic.set,
	   "timeOffsets with a time namespace");
	husk_spec_free(s);

	rejects("\"linux\": {\"devices\": [{\"path\": \"/dev/x\", \"type\": \"z\", \"major\": 1,"
		" \"minor\": 1}]}",
		"linux.devices[0].type: unknown device type \"z\"", "device of unknown type");
	rejects("\"linux\": {\"devices\": [{\"path\": \"dev/x\", \"type\": \"c\", \"major\": 1,"
		" \"minor\": 1}]}",
		"linux.devices[0].path: \"dev/x\" is not an absolute path", "device with relative path");
	rejects("\"linux\": {\"devices\": [{\"path\": \"/dev/x\", \"type\": \"b\", \"minor\": 1}]}",
		"linux.devices[0].major: required field missing", "block device without major");
	rejects("\"linux\": {\"devices\": [{\"path\": \"/dev/x\", \"type\": \"c\", \"major\": \"1\","
		" \"minor\": 1}]}",
		"linux.devices[0].major: expected an integer", "device major of the wrong type");
	s = parse("\"linux\": {\"devices\": [{\"path\": \"/dev/fuse\", \"type\": \"c\", \"major\": 10,"
		  " \"minor\": 229, \"fileMode\": 8630, \"uid\": 0, \"gid\": 5},"
		  " {\"path\": \"/dev/fifo\", \"type\": \"p\"}]}",
		  &e);
	ok(s && s->n_devices == 2 && s->devices[0].type == 'c' && s->devices[0].major == 10 &&
		   s->devices[0].minor == 229 && s->devices[0].has_file_mode &&
		   s->devices[0].file_mode == 0666 && s->devices[0].has_gid && s->devices[0].gid == 5 &&
		   s->devices[1].type == 'p' && !s->devices[1].has_uid,
	   "devices");
	husk_spec_free(s);

	s = parse("\"linux\": {\"rootfsPropagation\": \"rslave\", \"cgroupsPath\": \"/a/b\","
		  " \"mountLabel\": \"m\", \"sysctl\": {\"net.ipv4.ip_forward\": \"1\"},"
		  " \"personality\": {\"domain\": \"LINUX32\"}, \"seccomp\": {\"defaultAction\":"
		  " \"SCMP_ACT_ALLOW\"}, \"intelRdt\": {\"closID\": \"c\"}}",
		  &e);
	ok(s && s->rootfs_propagation == (MS_SLAVE | MS_REC) && strcmp(s->cgroups_path, "/a/b") == 0 &&
		   strcmp(s->mount_label, "m") == 0 && s->n_sysctl == 1 &&
		   strcmp(s->sysctl[0].key, "net.ipv4.ip_forward") == 0 &&
		   strcmp(s->sysctl[0].value, "1") == 0 && s->has_personality &&
		   s->personality == PER_LINUX32 && s->seccomp != NULL,
	   "rootfsPropagation, cgroupsPath, sysctl, personality, seccomp%s%s", s ? "" : ": ",
	   s ? "" : e.msg);
	husk_spec_free(s);
	rejects("\"linux\": {\"rootfsPropagation\": \"sideways\"}",
		"linux.rootfsPropagation: unknown propagation \"sideways\"", "bad rootfsPropagation");
	rejects("\"linux\": {\"personality\": {\"domain\": \"BSD\"}}",
		"linux.personality.domain: unknown domain", "bad personality domain");
	rejects("\"linux\": {\"maskedPaths\": [\"/ok\", \"proc/kcore\"]}",
		"linux.maskedPaths[1]: \"proc/kcore\" is not an absolute path", "relative maskedPath");
	rejects("\"linux\": {\"sysctl\": {\"a\": 1}}", "linux.sysctl.a: expected a string",
		"sysctl value not a string");
	rejects("\"linux\": {\"resources\": []}", "linux.resources: expected an object",
		"resources not an object");
	rejects("\"linux\": 5", "config.json: linux: expected an object", "linux not an object");
}

static void test_mounts_hooks(void)
{
	struct husk_error e;
	struct husk_spec *s;

	rejects("\"mounts\": [{\"type\": \"tmpfs\"}]", "mounts[0].destination: required field missing",
		"mount without destination");
	rejects("\"mounts\": [{\"destination\": \"/x\", \"options\": \"ro\"}]",
		"mounts[0].options: expected an array of strings", "mount options not an array");
	s = parse("\"mounts\": [{\"destination\": \"data\", \"type\": \"bind\", \"source\": \"./d\","
		  " \"options\": [\"rbind\", \"ro\"]}]",
		  &e);
	ok(s && s->n_mounts == 1 && strcmp(s->mounts[0].destination, "/data") == 0 &&
		   strcmp(s->mounts[0].source, "./d") == 0 && s->mounts[0].n_options == 2 &&
		   strcmp(s->mounts[0].options[1], "ro") == 0,
	   "relative mount destination read from /, source kept as written");
	husk_spec_free(s);

	rejects("\"hooks\": {\"prestart\": [{\"path\": \"bin/true\"}]}",
		"hooks.prestart[0].path: \"bin/true\" is not an absolute path", "relative hook path");
	rejects("\"hooks\": {\"poststop\": [{\"path\": \"/bin/true\", \"timeout\": 0}]}",
		"hooks.poststop[0].timeout: value 0 out of range", "hook timeout 0");
	rejects("\"hooks\": {\"createRuntime\": {}}", "hooks.createRuntime: expected an array",
		"hook list not an array");
	s = parse("\"hooks\": {\"createContainer\": [{\"path\": \"/bin/true\"}, {\"path\": \"/bin/sh\","
		  " \"args\": [\"sh\", \"-c\", \"exit 0\"], \"env\": [\"A=B\"], \"timeout\": 5}]}",
		  &e);
	ok(s && s->hooks[HUSK_HOOK_CREATE_CONTAINER].n == 2 &&
		   !s->hooks[HUSK_HOOK_CREATE_CONTAINER].v[0].args &&
		   s->hooks[HUSK_HOOK_CREATE_CONTAINER].v[1].timeout == 5 &&
		   strcmp(s->hooks[HUSK_HOOK_CREATE_CONTAINER].v[1].args[2], "exit 0") == 0 &&
		   s->hooks[HUSK_HOOK_PRESTART].n == 0,
	   "hooks");
	husk_spec_free(s);

	rejects("\"annotations\": {\"a\": 1}", "annotations.a: expected a string",
		"annotation value not a string");
	s = parse("\"annotations\": {\"org.example.key\": \"v\"}", &e);
	ok(s && s->n_annotations == 1 && strcmp(s->annotations[0].value, "v") == 0, "annotations");
	husk_spec_free(s);
}

static void test_load(void)
{
	struct husk_error e;
	struct husk_spec *s = NULL;
	char dir[] = "/tmp/husk-test-spec-XXXXXX";

	if (!mkdtemp(dir)) {
		ok(false, "mkdtemp");
		return;
	}
	int r = husk_spec_load(dir, &s, &e);
	ok(r < 0 && e.errnum == ENOENT && strstr(e.msg, "config.json") && strstr(e.msg, dir),
	   "missing config.json is ENOENT naming the path (%s)", e.msg);

	_cleanup_free_ char *path = xasprintf("%s/config.json", dir);
	char *text = husk_spec_default_json(false);
	FILE *f = fopen(path, "we");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	free(text);
	r = husk_spec_load(dir, &s, &e);
	_cleanup_free_ char *want = xasprintf("%s/rootfs", dir);
	ok(r == 0 && strcmp(s->root_path, want) == 0 && strcmp(s->bundle, dir) == 0,
	   "husk_spec_load reads bundle/config.json");
	husk_spec_free(s);
	s = NULL;

	/* A relative bundle is made absolute against the cwd. */
	char cwd[4096];
	if (getcwd(cwd, sizeof(cwd)) && chdir("/tmp") == 0) {
		r = husk_spec_load(dir + 5, &s, &e);
		ok(r == 0 && strcmp(s->bundle, dir) == 0, "relative bundle made absolute");
		husk_spec_free(s);
		if (chdir(cwd) < 0)
			perror("chdir");
	} else {
		ok(false, "relative bundle made absolute (chdir)");
	}
	unlink(path);
	rmdir(dir);
}

/* The hooks the state keeps for poststart/poststop decode on their own. */
static void test_hooks_parse(void)
{
	struct husk_hook_list hooks[HUSK_HOOK__COUNT] = { 0 };
	struct husk_error e = { 0 };
	json_t *v = json_loads("{\"poststop\":[{\"path\":\"/bin/true\",\"args\":[\"true\"],\"timeout\":5}]}",
			       0, NULL);
	ok(husk_hooks_parse(v, hooks, &e) == 0 && hooks[HUSK_HOOK_POSTSTOP].n == 1 &&
		   !strcmp(hooks[HUSK_HOOK_POSTSTOP].v[0].path, "/bin/true") &&
		   hooks[HUSK_HOOK_POSTSTOP].v[0].timeout == 5 && hooks[HUSK_HOOK_POSTSTART].n == 0,
	   "stored hooks parse");
	husk_hooks_free(hooks);
	json_decref(v);
	v = json_loads("{\"poststart\":[{\"path\":\"bin/true\"}]}", 0, NULL);
	ok(husk_hooks_parse(v, hooks, &e) < 0 && strstr(e.msg, "hooks.poststart[0].path: \"bin/true\" is not an absolute path"),
	   "stored hooks validated: %s", e.msg);
	husk_hooks_free(hooks);
	json_decref(v);
}

int main(void)
{
	test_hooks_parse();
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_default();
	test_features();
	test_names();
	test_top_level();
	test_process();
	test_caps_ungrantable();
	test_linux();
	test_mounts_hooks();
	test_load();
	return tap_done();
}
