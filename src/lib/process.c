/* Process attributes (config.json "process") applied to the calling
 * process just before it execs the container's program. */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "util.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DEFAULT_UMASK 0022

/* The kernel's struct sched_attr (SCHED_ATTR_SIZE_VER0 layout); glibc
 * before 2.41 has neither the type nor a wrapper. */
struct husk_sched_attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
};

#define HUSK_IOPRIO_WHO_PROCESS 1
#define HUSK_IOPRIO_CLASS_SHIFT 13

static int apply_rlimits(const struct husk_process *p, struct husk_error *e)
{
	for (size_t i = 0; i < p->n_rlimits; i++) {
		const struct husk_rlimit *r = &p->rlimits[i];
		struct rlimit rl = { .rlim_cur = (rlim_t)r->soft, .rlim_max = (rlim_t)r->hard };
		if (setrlimit((__rlimit_resource_t)r->resource, &rl) < 0)
			return husk_errno(e, "rlimit %s", r->type ? r->type : "?");
	}
	return 0;
}

static int apply_scheduler(const struct husk_scheduler *s, struct husk_error *e)
{
	struct husk_sched_attr a = {
		.size = sizeof(a),
		.sched_policy = (uint32_t)s->policy,
		.sched_flags = s->flags,
		.sched_nice = s->nice,
		.sched_priority = (uint32_t)s->priority,
		.sched_runtime = s->runtime,
		.sched_deadline = s->deadline,
		.sched_period = s->period,
	};
	if (syscall(SYS_sched_setattr, 0, &a, 0) < 0)
		return husk_errno(e, "set scheduler");
	return 0;
}

static int apply_io_priority(const struct husk_io_priority *io, struct husk_error *e)
{
	int prio = (io->ioprio_class << HUSK_IOPRIO_CLASS_SHIFT) | io->priority;
	if (syscall(SYS_ioprio_set, HUSK_IOPRIO_WHO_PROCESS, 0, prio) < 0)
		return husk_errno(e, "set I/O priority");
	return 0;
}

static int apply_oom_score_adj(int v, struct husk_error *e)
{
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%d", v);
	if (husk_write_file_at(AT_FDCWD, "/proc/self/oom_score_adj", buf, (size_t)n, e) < 0)
		return husk_err_wrap(e, "oomScoreAdj");
	return 0;
}

static int apply_user(const struct husk_user *u, bool setgroups_allowed, struct husk_error *e)
{
	if (setgroups_allowed) {
		/* Always call it, even with an empty list: the runtime's own
		 * supplementary groups must not leak into the container. */
		gid_t *g = xcalloc(u->n_additional_gids, sizeof(gid_t));
		for (size_t i = 0; i < u->n_additional_gids; i++)
			g[i] = (gid_t)u->additional_gids[i];
		int r = setgroups(u->n_additional_gids, g);
		free(g);
		if (r < 0)
			return husk_errno(e, "setgroups");
	} else if (u->n_additional_gids > 0) {
		return husk_err(e, EPERM,
				"setgroups: additionalGids cannot be set when /proc/self/setgroups is \"deny\"");
	}
	if (setresgid(u->gid, u->gid, u->gid) < 0) {
		if (errno == EINVAL)
			return husk_err(e, 0, "cannot setgid to unmapped gid %u in user namespace", u->gid);
		return husk_errno(e, "setgid %u", u->gid);
	}
	if (setresuid(u->uid, u->uid, u->uid) < 0) {
		if (errno == EINVAL)
			return husk_err(e, 0, "cannot setuid to unmapped uid %u in user namespace", u->uid);
		return husk_errno(e, "setuid %u", u->uid);
	}
	return 0;
}

int husk_process_apply(const struct husk_process *p, bool has_personality,
		       unsigned long persona, bool setgroups_allowed, struct husk_error *e)
{
	/* No capabilities object means every set empty (runc does the same). */
	static const struct husk_caps no_caps;
	const struct husk_caps *caps = p->has_caps ? &p->caps : &no_caps;

	/* Lowering oom_score_adj needs CAP_SYS_RESOURCE: do it while we
	 * still hold every capability. */
	if (p->has_oom_score_adj && apply_oom_score_adj(p->oom_score_adj, e) < 0)
		return -1;
	if (apply_rlimits(p, e) < 0)
		return -1;
	if (has_personality && personality(persona) < 0)
		return husk_errno(e, "personality 0x%lx", persona);
	if (p->scheduler.set && apply_scheduler(&p->scheduler, e) < 0)
		return -1;
	if (p->io_priority.set && apply_io_priority(&p->io_priority, e) < 0)
		return -1;
	umask(p->user.has_umask ? (mode_t)p->user.umask : DEFAULT_UMASK);

	if (husk_caps_drop_bounding(caps, e) < 0)
		return -1;
	/* Keep the permitted set across the switch to a non-root uid; the
	 * final sets are installed explicitly right after. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return husk_errno(e, "prctl PR_SET_KEEPCAPS");
	if (apply_user(&p->user, setgroups_allowed, e) < 0)
		return -1;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return husk_errno(e, "prctl PR_SET_KEEPCAPS");
	if (husk_caps_apply_sets(caps, e) < 0)
		return -1;
	if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return husk_errno(e, "prctl PR_SET_NO_NEW_PRIVS");
	return 0;
}

/* ---- executable lookup ---- */

/* Would the process, once its credentials are switched, be allowed to
 * execute st?  Checked by mode bits against the target ids because the
 * lookup runs before husk_process_apply, while we are still root. */
static bool may_exec(const struct stat *st, const struct husk_process *p)
{
	if (!S_ISREG(st->st_mode) || !(st->st_mode & 0111))
		return false;
	uint64_t eff = p->has_caps && p->caps.has_effective ? p->caps.effective : 0;
	if (eff & (1ULL << 1 /* CAP_DAC_OVERRIDE */))
		return true;
	if (st->st_uid == p->user.uid)
		return st->st_mode & S_IXUSR;
	bool in_group = st->st_gid == p->user.gid;
	for (size_t i = 0; !in_group && i < p->user.n_additional_gids; i++)
		in_group = st->st_gid == p->user.additional_gids[i];
	if (in_group)
		return st->st_mode & S_IXGRP;
	return st->st_mode & S_IXOTH;
}

static const char *env_path(const struct husk_process *p)
{
	const char *path = NULL;
	/* The last assignment wins, as with setenv in order. */
	for (size_t i = 0; p->env && p->env[i]; i++)
		if (strncmp(p->env[i], "PATH=", 5) == 0)
			path = p->env[i] + 5;
	return path ? path : DEFAULT_PATH;
}

int husk_process_find_executable(const struct husk_process *p, char *out, size_t len,
				 struct husk_error *e)
{
	const char *name = p->args && p->args[0] ? p->args[0] : "";
	struct stat st;

	if (!*name)
		return husk_err(e, 0, "exec: \"\": executable file not found in $PATH");
	if (strchr(name, '/')) {
		if (stat(name, &st) < 0)
			return husk_errno(e, "exec: \"%s\": stat %s", name, name);
		if (!may_exec(&st, p))
			return husk_err(e, EACCES, "exec: \"%s\"", name);
		if (strlen(name) >= len)
			return husk_err(e, ENAMETOOLONG, "exec: \"%s\"", name);
		strcpy(out, name);
		return 0;
	}

	const char *path = env_path(p);
	for (const char *dir = path;; ) {
		const char *end = strchrnul(dir, ':');
		size_t dlen = (size_t)(end - dir);
		char cand[PATH_MAX];
		int n;
		/* An empty element means the current directory. */
		if (dlen == 0)
			n = snprintf(cand, sizeof(cand), "./%s", name);
		else
			n = snprintf(cand, sizeof(cand), "%.*s/%s", (int)dlen, dir, name);
		if (n > 0 && (size_t)n < sizeof(cand) && stat(cand, &st) == 0 && may_exec(&st, p)) {
			if ((size_t)n >= len)
				return husk_err(e, ENAMETOOLONG, "exec: \"%s\"", name);
			memcpy(out, cand, (size_t)n + 1);
			return 0;
		}
		if (!*end)
			break;
		dir = end + 1;
	}
	return husk_err(e, 0, "exec: \"%s\": executable file not found in $PATH", name);
}
