/* config.json's process object (also exec --process), the capability name
 * table, and the spec-typed accessors (husk_kv, id mappings) shared with spec.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "spec.h"
#include "spec_internal.h"
#include "util.h"

void sj_kv_free(struct husk_kv *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}

int sj_kv(json_t *v, const char *path, struct husk_kv **out, size_t *np, struct husk_error *e)
{
	const char *k;
	json_t *it;
	size_t n = 0;
	char p[SJ_PATH_MAX];
	if (!json_is_object(v))
		return sj_expected(e, path, "an object of strings");
	json_object_foreach(v, k, it) {
		if (!json_is_string(it))
			return sj_expected(e, sj_path(p, path, k), "a string");
	}
	struct husk_kv *r = xcalloc(json_object_size(v) + 1, sizeof(*r));
	json_object_foreach(v, k, it) {
		r[n].key = xstrdup(k);
		r[n].value = xstrdup(json_string_value(it));
		n++;
	}
	*out = r;
	*np = n;
	return 0;
}

static int req_u32(json_t *obj, const char *parent, const char *key, uint32_t *out,
		   struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	json_t *v = sj_get(obj, key);
	sj_path(p, parent, key);
	if (!v)
		return husk_err(e, 0, "%s: required field missing", p);
	return sj_u32(v, p, out, e);
}

int sj_id_mappings(json_t *v, const char *path, struct husk_id_mapping **out, size_t *np,
		   struct husk_error *e)
{
	size_t i, n;
	json_t *it;
	char p[SJ_PATH_MAX];
	if (!json_is_array(v))
		return sj_expected(e, path, "an array");
	n = json_array_size(v);
	struct husk_id_mapping *r = xcalloc(n + 1, sizeof(*r));
	json_array_foreach(v, i, it) {
		sj_index(p, path, i);
		if (sj_object(it, p, e) < 0 || req_u32(it, p, "containerID", &r[i].container_id, e) < 0 ||
		    req_u32(it, p, "hostID", &r[i].host_id, e) < 0 ||
		    req_u32(it, p, "size", &r[i].size, e) < 0) {
			free(r);
			return -1;
		}
	}
	free(*out);
	*out = r;
	*np = n;
	return 0;
}

/* ---- capabilities ---- */

static const char *const cap_names[] = {
	"CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID",          "CAP_KILL",           "CAP_SETGID",          "CAP_SETUID",
	"CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
	"CAP_SYS_MODULE",      "CAP_SYS_RAWIO",      "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT",       "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
	"CAP_LEASE",           "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",          "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};

int husk_cap_from_name(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(cap_names); i++)
		if (strcmp(name, cap_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *husk_cap_name(int cap)
{
	if (cap < 0 || (size_t)cap >= ARRAY_SIZE(cap_names))
		return NULL;
	return cap_names[cap];
}

int husk_cap_last(void)
{
	return (int)ARRAY_SIZE(cap_names) - 1;
}

void husk_process_ignore_cap(struct husk_process *p, const char *name)
{
	size_t n = husk_strv_len(p->unknown_caps);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(p->unknown_caps[i], name))
			return;
	p->unknown_caps = xrealloc(p->unknown_caps, (n + 2) * sizeof(char *));
	p->unknown_caps[n] = xstrdup(name);
	p->unknown_caps[n + 1] = NULL;
}

/* A name husk cannot map is noted, not refused: spec 1.1 has runtimes
 * warn and go on (the config may come from a newer kernel's world). */
static int parse_cap_set(struct husk_process *pr, json_t *caps, const char *parent, const char *key,
			 bool *has, uint64_t *set, struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	json_t *v = sj_get(caps, key), *it;
	size_t i;
	if (!v)
		return 0;
	sj_path(p, parent, key);
	if (!json_is_array(v))
		return sj_expected(e, p, "an array of strings");
	*set = 0;
	json_array_foreach(v, i, it) {
		if (!json_is_string(it))
			return sj_expected(e, p, "an array of strings");
		int c = husk_cap_from_name(json_string_value(it));
		if (c < 0)
			husk_process_ignore_cap(pr, json_string_value(it));
		else
			*set |= 1ULL << c;
	}
	*has = true;
	return 0;
}

static int parse_caps(json_t *v, const char *path, struct husk_process *pr, struct husk_error *e)
{
	struct husk_caps *c = &pr->caps;
	if (sj_object(v, path, e) < 0)
		return -1;
	if (parse_cap_set(pr, v, path, "bounding", &c->has_bounding, &c->bounding, e) < 0 ||
	    parse_cap_set(pr, v, path, "effective", &c->has_effective, &c->effective, e) < 0 ||
	    parse_cap_set(pr, v, path, "inheritable", &c->has_inheritable, &c->inheritable, e) < 0 ||
	    parse_cap_set(pr, v, path, "permitted", &c->has_permitted, &c->permitted, e) < 0 ||
	    parse_cap_set(pr, v, path, "ambient", &c->has_ambient, &c->ambient, e) < 0)
		return -1;
	return 0;
}

/* ---- rlimits ---- */

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "RLIMIT_AS", RLIMIT_AS },
	{ "RLIMIT_CORE", RLIMIT_CORE },
	{ "RLIMIT_CPU", RLIMIT_CPU },
	{ "RLIMIT_DATA", RLIMIT_DATA },
	{ "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "RLIMIT_LOCKS", RLIMIT_LOCKS },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
	{ "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },
	{ "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
	{ "RLIMIT_RTTIME", RLIMIT_RTTIME },
	{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_STACK", RLIMIT_STACK },
};

static int parse_rlimits(json_t *v, const char *path, struct husk_process *pr, struct husk_error *e)
{
	char p[SJ_PATH_MAX], fp[SJ_PATH_MAX];
	size_t i;
	json_t *it;
	if (!json_is_array(v))
		return sj_expected(e, path, "an array");
	pr->rlimits = xcalloc(json_array_size(v) + 1, sizeof(*pr->rlimits));
	json_array_foreach(v, i, it) {
		struct husk_rlimit *r = &pr->rlimits[i];
		json_t *t, *soft, *hard;
		sj_index(p, path, i);
		if (sj_object(it, p, e) < 0)
			return -1;
		t = sj_get(it, "type");
		if (!t)
			return husk_err(e, 0, "%s: required field missing", sj_path(fp, p, "type"));
		if (sj_string(t, sj_path(fp, p, "type"), &r->type, e) < 0)
			return -1;
		pr->n_rlimits = i + 1; /* r->type is now owned by the list */
		r->resource = -1;
		for (size_t k = 0; k < ARRAY_SIZE(rlimit_names); k++)
			if (strcmp(r->type, rlimit_names[k].name) == 0)
				r->resource = rlimit_names[k].resource;
		if (r->resource < 0)
			return husk_err(e, 0, "%s: unknown rlimit type \"%s\"", fp, r->type);
		for (size_t k = 0; k < i; k++)
			if (pr->rlimits[k].resource == r->resource)
				return husk_err(e, 0, "%s: duplicate rlimit type \"%s\"", fp, r->type);
		soft = sj_get(it, "soft");
		hard = sj_get(it, "hard");
		if (!soft)
			return husk_err(e, 0, "%s: required field missing", sj_path(fp, p, "soft"));
		if (!hard)
			return husk_err(e, 0, "%s: required field missing", sj_path(fp, p, "hard"));
		if (sj_u64(soft, sj_path(fp, p, "soft"), &r->soft, e) < 0 ||
		    sj_u64(hard, sj_path(fp, p, "hard"), &r->hard, e) < 0)
			return -1;
		if (r->soft > r->hard)
			return husk_err(e, 0, "%s: soft limit %llu is greater than hard limit %llu", p,
					(unsigned long long)r->soft, (unsigned long long)r->hard);
	}
	return 0;
}

/* ---- scheduler and I/O priority ---- */

static const struct {
	const char *name;
	int policy;
} sched_policies[] = {
	{ "SCHED_OTHER", 0 }, { "SCHED_FIFO", 1 }, { "SCHED_RR", 2 },      { "SCHED_BATCH", 3 },
	{ "SCHED_ISO", 4 },   { "SCHED_IDLE", 5 }, { "SCHED_DEADLINE", 6 },
};

static const struct {
	const char *name;
	uint64_t flag;
} sched_flags[] = {
	{ "SCHED_FLAG_RESET_ON_FORK", 0x01 }, { "SCHED_FLAG_RECLAIM", 0x02 },
	{ "SCHED_FLAG_DL_OVERRUN", 0x04 },    { "SCHED_FLAG_KEEP_POLICY", 0x08 },
	{ "SCHED_FLAG_KEEP_PARAMS", 0x10 },   { "SCHED_FLAG_UTIL_CLAMP_MIN", 0x20 },
	{ "SCHED_FLAG_UTIL_CLAMP_MAX", 0x40 },
};

static int parse_scheduler(json_t *v, const char *path, struct husk_scheduler *s,
			   struct husk_error *e)
{
	char p[SJ_PATH_MAX], ip[SJ_PATH_MAX];
	json_t *f;
	int64_t x = 0;
	size_t i;
	_cleanup_free_ char *policy = NULL;

	if (sj_object(v, path, e) < 0)
		return -1;
	f = sj_get(v, "policy");
	sj_path(p, path, "policy");
	if (!f)
		return husk_err(e, 0, "%s: required field missing", p);
	if (sj_string(f, p, &policy, e) < 0)
		return -1;
	s->policy = -1;
	for (i = 0; i < ARRAY_SIZE(sched_policies); i++)
		if (strcmp(policy, sched_policies[i].name) == 0)
			s->policy = sched_policies[i].policy;
	if (s->policy < 0)
		return husk_err(e, 0, "%s: unknown scheduler policy \"%s\"", p, policy);

	if ((f = sj_get(v, "nice"))) {
		if (sj_int(f, sj_path(p, path, "nice"), -20, 19, &x, e) < 0)
			return -1;
		s->nice = (int)x;
	}
	if ((f = sj_get(v, "priority"))) {
		if (sj_int(f, sj_path(p, path, "priority"), INT32_MIN, INT32_MAX, &x, e) < 0)
			return -1;
		s->priority = (int)x;
	}
	if ((f = sj_get(v, "flags"))) {
		json_t *it;
		sj_path(p, path, "flags");
		if (!json_is_array(f))
			return sj_expected(e, p, "an array of strings");
		json_array_foreach(f, i, it) {
			uint64_t bit = 0;
			if (!json_is_string(it))
				return sj_expected(e, p, "an array of strings");
			for (size_t k = 0; k < ARRAY_SIZE(sched_flags); k++)
				if (strcmp(json_string_value(it), sched_flags[k].name) == 0)
					bit = sched_flags[k].flag;
			if (!bit)
				return husk_err(e, 0, "%s: unknown scheduler flag \"%s\"",
						sj_index(ip, p, i), json_string_value(it));
			s->flags |= bit;
		}
	}
	if ((f = sj_get(v, "runtime")) && sj_u64(f, sj_path(p, path, "runtime"), &s->runtime, e) < 0)
		return -1;
	if ((f = sj_get(v, "deadline")) &&
	    sj_u64(f, sj_path(p, path, "deadline"), &s->deadline, e) < 0)
		return -1;
	if ((f = sj_get(v, "period")) && sj_u64(f, sj_path(p, path, "period"), &s->period, e) < 0)
		return -1;
	s->set = true;
	return 0;
}

static int parse_io_priority(json_t *v, const char *path, struct husk_io_priority *io,
			     struct husk_error *e)
{
	static const char *const classes[] = { NULL, "IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE",
					       "IOPRIO_CLASS_IDLE" };
	char p[SJ_PATH_MAX];
	_cleanup_free_ char *cls = NULL;
	json_t *f;
	int64_t x = 0;

	if (sj_object(v, path, e) < 0)
		return -1;
	sj_path(p, path, "class");
	if (!(f = sj_get(v, "class")))
		return husk_err(e, 0, "%s: required field missing", p);
	if (sj_string(f, p, &cls, e) < 0)
		return -1;
	io->ioprio_class = 0;
	for (int i = 1; i < (int)ARRAY_SIZE(classes); i++)
		if (strcmp(cls, classes[i]) == 0)
			io->ioprio_class = i;
	if (!io->ioprio_class)
		return husk_err(e, 0, "%s: unknown I/O priority class \"%s\"", p, cls);
	if ((f = sj_get(v, "priority"))) {
		if (sj_int(f, sj_path(p, path, "priority"), 0, 7, &x, e) < 0)
			return -1;
		io->priority = (int)x;
	}
	io->set = true;
	return 0;
}

/* ---- user ---- */

static int parse_user(json_t *v, const char *path, struct husk_user *u, struct husk_error *e)
{
	char p[SJ_PATH_MAX], ip[SJ_PATH_MAX];
	json_t *f, *it;
	size_t i;

	if (sj_object(v, path, e) < 0)
		return -1;
	/* uid/gid are REQUIRED by the spec, but runc reads a missing one as 0. */
	if ((f = sj_get(v, "uid")) && sj_u32(f, sj_path(p, path, "uid"), &u->uid, e) < 0)
		return -1;
	if ((f = sj_get(v, "gid")) && sj_u32(f, sj_path(p, path, "gid"), &u->gid, e) < 0)
		return -1;
	if ((f = sj_get(v, "umask"))) {
		int64_t x = 0;
		if (sj_int(f, sj_path(p, path, "umask"), 0, 0777, &x, e) < 0)
			return -1;
		u->umask = (uint32_t)x;
		u->has_umask = true;
	}
	if ((f = sj_get(v, "additionalGids"))) {
		sj_path(p, path, "additionalGids");
		if (!json_is_array(f))
			return sj_expected(e, p, "an array of integers");
		u->additional_gids = xcalloc(json_array_size(f) + 1, sizeof(uint32_t));
		json_array_foreach(f, i, it) {
			if (sj_u32(it, sj_index(ip, p, i), &u->additional_gids[i], e) < 0)
				return -1;
		}
		u->n_additional_gids = json_array_size(f);
	}
	return sj_opt_string(v, path, "username", &u->username, e);
}

/* ---- process ---- */

void husk_process_free(struct husk_process *p)
{
	if (!p)
		return;
	free(p->user.additional_gids);
	free(p->user.username);
	husk_strv_free(p->args);
	husk_strv_free(p->env);
	free(p->cwd);
	husk_strv_free(p->unknown_caps);
	for (size_t i = 0; p->rlimits && i < p->n_rlimits; i++)
		free(p->rlimits[i].type);
	free(p->rlimits);
	free(p->apparmor_profile);
	free(p->selinux_label);
	husk_seccomp_profile_free(p->seccomp);
	husk_idset_free(&p->exec_cpu_affinity.initial);
	husk_idset_free(&p->exec_cpu_affinity.final);
	free(p);
}

static int parse_process(json_t *obj, const char *path, struct husk_process *pr,
			 struct husk_error *e)
{
	char p[SJ_PATH_MAX], ip[SJ_PATH_MAX];
	json_t *f;

	if (sj_object(obj, path, e) < 0)
		return -1;
	if (sj_opt_bool(obj, path, "terminal", &pr->terminal, e) < 0)
		return -1;
	if ((f = sj_get(obj, "consoleSize"))) {
		uint32_t h = 0, w = 0;
		sj_path(p, path, "consoleSize");
		if (sj_object(f, p, e) < 0 || req_u32(f, p, "height", &h, e) < 0 ||
		    req_u32(f, p, "width", &w, e) < 0)
			return -1;
		pr->console_height = h;
		pr->console_width = w;
		pr->has_console_size = true;
	}
	if ((f = sj_get(obj, "user")) && parse_user(f, sj_path(p, path, "user"), &pr->user, e) < 0)
		return -1;

	sj_path(p, path, "args");
	f = sj_get(obj, "args");
	if (!f)
		return husk_err(e, 0, "%s: required field missing", p);
	if (sj_strv(f, p, &pr->args, &pr->n_args, e) < 0)
		return -1;
	if (pr->n_args == 0)
		return husk_err(e, 0, "%s: must not be empty", p);

	if ((f = sj_get(obj, "env"))) {
		sj_path(p, path, "env");
		if (sj_strv(f, p, &pr->env, &pr->n_env, e) < 0)
			return -1;
		for (size_t i = 0; i < pr->n_env; i++) {
			const char *eq = strchr(pr->env[i], '=');
			if (!eq || eq == pr->env[i])
				return husk_err(e, 0, "%s: \"%s\" is not of the form KEY=VALUE",
						sj_index(ip, p, i), pr->env[i]);
		}
	} else {
		pr->env = xcalloc(1, sizeof(char *));
	}

	sj_path(p, path, "cwd");
	if (!(f = sj_get(obj, "cwd")))
		return husk_err(e, 0, "%s: required field missing", p);
	if (sj_string(f, p, &pr->cwd, e) < 0)
		return -1;
	if (pr->cwd[0] != '/')
		return husk_err(e, 0, "%s: \"%s\" is not an absolute path", p, pr->cwd);

	if ((f = sj_get(obj, "capabilities"))) {
		if (parse_caps(f, sj_path(p, path, "capabilities"), pr, e) < 0)
			return -1;
		pr->has_caps = true;
	}
	if ((f = sj_get(obj, "rlimits")) && parse_rlimits(f, sj_path(p, path, "rlimits"), pr, e) < 0)
		return -1;
	if (sj_opt_bool(obj, path, "noNewPrivileges", &pr->no_new_privileges, e) < 0 ||
	    sj_opt_string(obj, path, "apparmorProfile", &pr->apparmor_profile, e) < 0 ||
	    sj_opt_string(obj, path, "selinuxLabel", &pr->selinux_label, e) < 0)
		return -1;
	if ((f = sj_get(obj, "oomScoreAdj"))) {
		int64_t x = 0;
		if (sj_int(f, sj_path(p, path, "oomScoreAdj"), -1000, 1000, &x, e) < 0)
			return -1;
		pr->oom_score_adj = (int)x;
		pr->has_oom_score_adj = true;
	}
	if ((f = sj_get(obj, "scheduler")) &&
	    parse_scheduler(f, sj_path(p, path, "scheduler"), &pr->scheduler, e) < 0)
		return -1;
	if ((f = sj_get(obj, "ioPriority")) &&
	    parse_io_priority(f, sj_path(p, path, "ioPriority"), &pr->io_priority, e) < 0)
		return -1;
	if ((f = sj_get(obj, "execCPUAffinity")) &&
	    husk_spec_parse_cpu_affinity(f, sj_path(p, path, "execCPUAffinity"),
					 &pr->exec_cpu_affinity, e) < 0)
		return -1;
	return 0;
}

int husk_process_parse(json_t *obj, const char *json_path, struct husk_process **out,
		       struct husk_error *e)
{
	struct husk_process *pr = xcalloc(1, sizeof(*pr));
	if (parse_process(obj, json_path ? json_path : "", pr, e) < 0) {
		husk_process_free(pr);
		return -1;
	}
	*out = pr;
	return 0;
}
