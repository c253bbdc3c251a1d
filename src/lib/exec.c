/* husk exec.  The runtime clones a child that joins the container's
 * cgroups, then every namespace of the container's init at once (setns on
 * a pidfd: the user namespace first, atomically) and clones the process
 * proper, so that it lives in the joined pid and time namespaces and
 * inherits the cgroups (the runtime finishes any join the child could not
 * do), then it sets up its terminal, applies the process attributes and
 * execs.  Errors before the exec come back over the sync
 * socket; its close-on-exec EOF says the exec happened. */
#include "exec.h"
#include "clone.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caps.h"
#include "cgroup/cgroup.h"
#include "intelrdt.h"
#include "label.h"
#include "launch.h"
#include "mempolicy.h"
#include "process.h"
#include "seccomp_filter.h"
#include "spec.h"
#include "state.h"
#include "sync.h"
#include "terminal.h"
#include "util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* ---- the process spec ---- */

static int set_env(struct husk_process *p, const char *kv, struct husk_error *e)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv)
		return husk_err(e, 0, "--env \"%s\": not of the form KEY=VALUE", kv);
	size_t klen = (size_t)(eq - kv) + 1;
	for (size_t i = 0; i < p->n_env; i++)
		if (strncmp(p->env[i], kv, klen) == 0) {
			free(p->env[i]);
			p->env[i] = xstrdup(kv);
			return 0;
		}
	p->env = xrealloc(p->env, (p->n_env + 2) * sizeof(char *));
	p->env[p->n_env++] = xstrdup(kv);
	p->env[p->n_env] = NULL;
	return 0;
}

static int parse_user(const char *s, struct husk_process *p, struct husk_error *e)
{
	_cleanup_free_ char *copy = xstrdup(s);
	char *colon = strchr(copy, ':');
	if (colon)
		*colon = '\0';
	long uid, gid;
	if (husk_parse_long(copy, 0, UINT32_MAX - 1, &uid) < 0 ||
	    (colon && husk_parse_long(colon + 1, 0, UINT32_MAX - 1, &gid) < 0))
		return husk_err(e, 0, "--user \"%s\": expected uid[:gid] as numbers", s);
	p->user.uid = (uint32_t)uid;
	if (colon)
		p->user.gid = (uint32_t)gid;
	return 0;
}

static void add_cap(struct husk_process *p, const char *name)
{
	_cleanup_free_ char *full = strncasecmp(name, "CAP_", 4) ? xasprintf("CAP_%s", name) : xstrdup(name);
	for (char *c = full; *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
	int cap = husk_cap_from_name(full);
	if (cap < 0) {
		husk_process_ignore_cap(p, full); /* warned about with the rest */
		return;
	}
	uint64_t bit = 1ULL << cap;
	struct husk_caps *c = &p->caps;
	p->has_caps = true;
	c->has_bounding = c->has_effective = c->has_permitted = c->has_ambient = true;
	c->bounding |= bit;
	c->effective |= bit;
	c->permitted |= bit;
	c->ambient |= bit;
}

int husk_exec_process_parse(json_t *doc, struct husk_process **out, struct husk_error *e)
{
	if (husk_process_parse(doc, "process", out, e) < 0)
		return -1;
	json_t *sc = json_object_get(doc, "seccomp");
	if (json_is_object(sc) && husk_seccomp_parse(sc, "seccomp", &(*out)->seccomp, e) < 0) {
		husk_process_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static int load_process_file(const char *path, struct husk_process **out, struct husk_error *e)
{
	json_error_t jerr;
	json_t *doc = json_load_file(path, 0, &jerr);
	if (!doc) {
		if (jerr.line < 0)
			return husk_err(e, ENOENT, "--process %s", path);
		return husk_err(e, 0, "--process %s: line %d column %d: %s", path, jerr.line, jerr.column,
				jerr.text);
	}
	int r = husk_exec_process_parse(doc, out, e);
	if (r < 0)
		husk_err_wrap(e, "--process %s", path);
	json_decref(doc);
	return r;
}

/* The process to run: --process as given (what it leaves out comes from
 * the container's process, as runc does), or the container's process with
 * the command line's changes. */
static int build_process(const struct husk_exec_opts *o, struct husk_process **basep,
			 struct husk_process **out, struct husk_error *e)
{
	struct husk_process *base = *basep;
	struct husk_process *p;
	if (o->process_file) {
		if (load_process_file(o->process_file, &p, e) < 0)
			return -1;
		if (base && !p->has_caps) {
			p->has_caps = base->has_caps;
			p->caps = base->caps;
		}
		if (base && !p->n_rlimits && base->n_rlimits) {
			p->rlimits = xcalloc(base->n_rlimits, sizeof(*p->rlimits));
			for (size_t i = 0; i < base->n_rlimits; i++) {
				p->rlimits[i] = base->rlimits[i];
				p->rlimits[i].type = xstrdup(base->rlimits[i].type);
			}
			p->n_rlimits = base->n_rlimits;
		}
		if (base && !p->apparmor_profile && base->apparmor_profile)
			p->apparmor_profile = xstrdup(base->apparmor_profile);
		if (base && !p->selinux_label && base->selinux_label)
			p->selinux_label = xstrdup(base->selinux_label);
		if (base && !p->exec_cpu_affinity.set) {
			p->exec_cpu_affinity = base->exec_cpu_affinity;
			memset(&base->exec_cpu_affinity, 0, sizeof(base->exec_cpu_affinity));
		}
		if (o->tty)
			p->terminal = true;
	} else {
		if (!base)
			return husk_err(e, 0, "the container has no process to take defaults from");
		if (!o->args || !o->args[0])
			return husk_err(e, 0, "no command given: exec needs ARGS or --process");
		p = move_ptr(*basep);
		husk_strv_free(p->args);
		p->n_args = husk_strv_len(o->args);
		p->args = xcalloc(p->n_args + 1, sizeof(char *));
		for (size_t i = 0; i < p->n_args; i++)
			p->args[i] = xstrdup(o->args[i]);
		p->terminal = o->tty;
		/* consoleSize belongs to the container's terminal. */
		p->has_console_size = false;
	}
	*out = p;
	if (o->cwd) {
		if (o->cwd[0] != '/')
			return husk_err(e, 0, "--cwd \"%s\": not an absolute path", o->cwd);
		free(p->cwd);
		p->cwd = xstrdup(o->cwd);
	}
	for (size_t i = 0; i < o->n_env; i++)
		if (set_env(p, o->env[i], e) < 0)
			return -1;
	if (o->user && parse_user(o->user, p, e) < 0)
		return -1;
	if (o->n_additional_gids) {
		size_t n = p->user.n_additional_gids;
		p->user.additional_gids = xrealloc(p->user.additional_gids,
						   (n + o->n_additional_gids) * sizeof(uint32_t));
		memcpy(p->user.additional_gids + n, o->additional_gids,
		       o->n_additional_gids * sizeof(uint32_t));
		p->user.n_additional_gids = n + o->n_additional_gids;
	}
	for (size_t i = 0; i < o->n_caps; i++)
		add_cap(p, o->caps[i]);
	if (o->no_new_privs)
		p->no_new_privileges = true;
	if (o->apparmor) {
		free(p->apparmor_profile);
		p->apparmor_profile = xstrdup(o->apparmor);
	}
	if (o->process_label) {
		free(p->selinux_label);
		p->selinux_label = xstrdup(o->process_label);
	}
	return 0;
}

/* ---- the container ---- */

/* pidfd of the container's init, checked against the state's start time. */
static int init_pidfd(const struct husk_state *st, struct husk_error *e)
{
	int fd = husk_init_pidfd(st);
	if (fd < 0 && errno != ESRCH)
		return husk_errno(e, "pidfd_open %d", (int)st->pid);
	if (fd < 0)
		return husk_err(e, 0, "container is not running");
	return fd;
}

/* CLONE_NEW* of the init's namespaces that differ from ours: setns into
 * one's own user namespace fails, the others would be no-ops. */
static int ns_to_join(pid_t pid, struct husk_error *e)
{
	int flags = 0;
	for (int t = 0; t < HUSK_NS__COUNT; t++) {
		char path[64];
		struct stat theirs, ours;
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, husk_ns_proc_name(t));
		if (stat(path, &theirs) < 0) {
			if (errno == ENOENT)
				continue; /* a kernel without this namespace type */
			return husk_errno(e, "stat %s", path);
		}
		snprintf(path, sizeof(path), "/proc/self/ns/%s", husk_ns_proc_name(t));
		if (stat(path, &ours) < 0 || ours.st_ino != theirs.st_ino || ours.st_dev != theirs.st_dev)
			flags |= husk_ns_clone_flag(t);
	}
	return flags;
}

/* ---- cgroups ----
 *
 * The exec'd process joins the way create's init does (cgroup.c explains
 * why: a runtime writing its pid to cgroup.procs waits for an RCU grace
 * period, 5-15 ms on a quiet host, longer than the rest of an exec).  The
 * runtime opens each v1 hierarchy's "tasks" file and the unified cgroup's
 * directory; the joiner is born in the unified cgroup (clone3 with
 * CLONE_INTO_CGROUP), writes "0" to the v1 files before it joins any
 * namespace, and the process it clones inherits them all.  What the joiner
 * could not do it reports, and the runtime moves the process the old way.
 * The cgroup interface (cgroup/cgroup.h) does both halves. */

/* ---- one exec ---- */

/* What an exec owns, the runtime's and the child's view alike. */
struct exec {
	const struct husk_exec_opts *o;
	struct husk_launch l;
	int rootfd, dirfd;          /* the state root and directory, locked */
	struct husk_state *st;
	const char *status;
	struct husk_process *base, *p; /* the container's process; the one to run */
	struct husk_mempolicy mempolicy; /* linux.memoryPolicy */
	struct husk_seccomp_profile *seccomp; /* linux.seccomp, unless p has its own */
	struct husk_cgroup *cg;
	int pidfd;                  /* the container's init */
	int croot;                  /* /proc/<init>/root */
	int ns_flags;               /* the init's namespaces that differ from ours */
	/* the child: wait for SYNC_GO (a cgroup left to join, or must_hold) */
	bool hold;
};

/* The process waits for SYNC_GO when the runtime has a resctrl group to
 * put it in, or when a message of its own (the terminal's master, the
 * seccomp listener it sends right after loading the filter) could
 * otherwise overtake the joiner's SYNC_CHILD_PID on the sync socket. */
static bool must_hold(const struct exec *x)
{
	return x->p->terminal || x->st->intel_rdt || husk_seccomp_notifies(x->l.seccomp);
}

static void exec_free(struct exec *x)
{
	husk_launch_free(&x->l);
	husk_closep(&x->croot);
	husk_closep(&x->pidfd);
	husk_closep(&x->dirfd);
	husk_closep(&x->rootfd);
	husk_cgroup_free(x->cg);
	husk_idset_free(&x->mempolicy.nodes);
	husk_seccomp_profile_free(x->seccomp);
	husk_process_free(x->p);
	husk_process_free(x->base);
	husk_state_free(x->st);
}

/* ---- the child ---- */

static __attribute__((noreturn)) void exec_main(struct exec *x)
{
	struct husk_error err = { 0 }, *e = &err;
	const struct husk_process *p = x->p;
	int sync_fd = x->l.sync[1];

	prctl(PR_SET_DUMPABLE, 0); /* inherited from the joiner; stated again */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (x->hold && husk_sync_expect(sync_fd, SYNC_GO, NULL, NULL, e) < 0)
		_exit(1);
	/* The container's root as its init sees it (setns on the mount
	 * namespace gave us the namespace's root; a chroot-only container
	 * needs this too). */
	if (fchdir(x->croot) < 0 || chroot(".") < 0) {
		husk_errno(e, "enter the container's root");
		husk_sync_fail(sync_fd, e);
	}
	close(x->croot);
	if (p->terminal) {
		int master, slave;
		if (husk_terminal_open(AT_FDCWD, "/dev/ptmx", p, &master, &slave, e) < 0 ||
		    husk_launch_send_terminal(sync_fd, master, slave, e) < 0)
			husk_sync_fail(sync_fd, e);
	}
	/* In every cgroup now (cpuset may have reset the affinity). */
	if (husk_affinity_apply(&p->exec_cpu_affinity.final, "process.execCPUAffinity.final", e) < 0 ||
	    husk_mempolicy_apply(&x->mempolicy, e) < 0)
		husk_sync_fail(sync_fd, e);
	struct husk_exec_plan plan;
	if (husk_process_become(p, x->st->has_personality, x->st->personality, x->l.seccomp,
				x->l.preserve_fds, sync_fd, &plan, e) < 0)
		husk_sync_fail(sync_fd, e);

	/* A foreground exec outlives nothing; a detached one must outlive us. */
	prctl(PR_SET_PDEATHSIG, 0);
	husk_process_exec(&plan, p->args, sync_fd, e);
	husk_sync_fail(sync_fd, e);
}

/* The first child: joins the cgroups and the namespaces, clones the
 * process into them (as our parent's child) and reports its pid and the
 * cgroups left to the runtime. */
static __attribute__((noreturn)) void joiner_main(struct exec *x)
{
	struct husk_error err = { 0 };
	int sync_fd = x->l.sync[1];
	/* Never dumpable before the exec: a container process must not
	 * ptrace us or open our /proc/<pid>/exe (the host's husk binary). */
	prctl(PR_SET_DUMPABLE, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Still with the runtime's namespaces and credentials. */
	int keep[] = { x->pidfd, x->croot };
	char *need;
	x->hold = husk_launch_child_join(&x->l, keep, ARRAY_SIZE(keep), &need) || must_hold(x);
	if (x->ns_flags && setns(x->pidfd, x->ns_flags) < 0) {
		husk_errno(&err, "join the container's namespaces");
		husk_sync_fail(sync_fd, &err);
	}
	close(x->pidfd);
	if (x->ns_flags & CLONE_NEWUSER) {
		/* uid/gid 0 of the container's user namespace; unmapped,
		 * the user switch later does the rest. */
		if ((setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) && errno != EINVAL) {
			husk_errno(&err, "become root in the container's user namespace");
			husk_sync_fail(sync_fd, &err);
		}
	}
	pid_t pid = husk_clone_fork(CLONE_PARENT);
	if (pid < 0) {
		husk_errno(&err, "clone the exec process");
		husk_sync_fail(sync_fd, &err);
	}
	if (pid == 0)
		exec_main(x);
	if (husk_sync_send(sync_fd, SYNC_CHILD_PID, pid, need, strlen(need), &err) < 0)
		_exit(1);
	_exit(0);
}

/* ---- the runtime side ---- */

/* The container, locked, in a state that takes an exec. */
static int exec_open(struct exec *x, const struct husk_global_opts *g, struct husk_error *e)
{
	const struct husk_exec_opts *o = x->o;
	if (husk_container_open(g, o->id, &x->rootfd, &x->dirfd, &x->st, e) < 0)
		return -1;
	x->rootfd = husk_fd_above(x->rootfd, x->l.min_fd);
	x->dirfd = husk_fd_above(x->dirfd, x->l.min_fd);
	x->status = husk_state_status(x->dirfd, x->st);
	if (!strcmp(x->status, "paused") && !o->ignore_paused)
		return husk_err(e, 0, "cannot exec in a paused container (use --ignore-paused to override)");
	/* A created container's init waits for start with its namespaces
	 * and cgroups in place: joining them works as for a running one. */
	if (strcmp(x->status, "running") && strcmp(x->status, "paused") && strcmp(x->status, "created"))
		return husk_err(e, 0, "cannot exec in a %s container", x->status);
	return 0;
}

/* The process to run, from the state and the command line. */
static int exec_process(struct exec *x, struct husk_error *e)
{
	const struct husk_exec_opts *o = x->o;
	struct husk_state *st = x->st;
	/* The config as it was at create, from the state: the bundle may
	 * have changed or gone since. */
	if (st->process && husk_process_parse(st->process, "process", &x->base, e) < 0)
		return husk_err_wrap(e, "container state");
	if (build_process(o, &x->base, &x->p, e) < 0)
		return -1;
	if (st->mempolicy && husk_mempolicy_parse(st->mempolicy, "linux.memoryPolicy", &x->mempolicy, e) < 0)
		return husk_err_wrap(e, "container state");
	if (!x->p->seccomp && st->seccomp &&
	    husk_seccomp_parse(st->seccomp, "linux.seccomp", &x->seccomp, e) < 0)
		return husk_err_wrap(e, "container state");
	return 0;
}

/* What the child joins: the cgroups, the init's namespaces (by pidfd)
 * and its root. */
static int exec_target(struct exec *x, struct husk_error *e)
{
	struct husk_state *st = x->st;
	if (husk_cgroup_deserialize(st->cgroup, &x->cg, e) < 0)
		return husk_err_wrap(e, "cgroup");
	if (husk_cgroup_exec_join_open(x->cg, x->o->cgroup, st->pid, &x->l.join, e) < 0)
		return -1;
	x->pidfd = husk_fd_above(init_pidfd(st, e), x->l.min_fd);
	if (x->pidfd < 0)
		return -1;
	x->ns_flags = ns_to_join(st->pid, e);
	if (x->ns_flags < 0)
		return -1;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/root", (int)st->pid);
	x->croot = husk_fd_above(open(path, O_PATH | O_DIRECTORY | O_CLOEXEC), x->l.min_fd);
	if (x->croot < 0)
		return husk_errno(e, "open the container's root");
	/* The pidfd pins the init from here: the lock can go, so that a
	 * container paused meanwhile can be resumed (the process would wait
	 * frozen) and a long exec never blocks other commands. */
	husk_closep(&x->dirfd);
	husk_closep(&x->rootfd);
	return 0;
}

/* The joiner, and the process's pid from it; then the cgroups and the
 * resctrl group the joiner left to us, and SYNC_GO. */
static int exec_spawn(struct exec *x, struct husk_error *e)
{
	struct husk_launch *l = &x->l;
	if (husk_launch_socketpair(l, e) < 0)
		return -1;
	/* Blocked before the clone: nothing is lost before the wait; the
	 * process resets its mask before exec. */
	husk_launch_block_signals(&l->set, &l->old);
	l->masked = true;
	/* Ours, inherited by the joiner, before it joins the cgroups. */
	if (husk_affinity_apply(&x->p->exec_cpu_affinity.initial, "process.execCPUAffinity.initial", e) < 0)
		return -1;
	pid_t joiner = husk_launch_clone(l, 0, "clone", e);
	if (joiner < 0)
		return -1;
	if (joiner == 0)
		joiner_main(x);
	_cleanup_free_ char *need = NULL;
	if (husk_launch_child_pid(l, &need, e) < 0)
		return -1;
	/* The same condition as the process's "hold". */
	bool go = must_hold(x);
	if (x->st->intel_rdt && husk_rdt_join(x->st->intel_rdt, l->pid, &husk_rdt_sys_ops, e) < 0)
		return -1;
	int r = husk_cgroup_exec_finish(&l->join, l->pid, need, e);
	if (r < 0)
		return -1;
	go |= r > 0;
	return go ? husk_sync_send(l->sync[0], SYNC_GO, 0, NULL, 0, e) : 0;
}

int husk_container_exec(const struct husk_global_opts *g, const struct husk_exec_opts *o,
			int *exit_status, struct husk_error *e)
{
	*exit_status = 0;
	_cleanup_(exec_free) struct exec x = {
		.o = o, .l = HUSK_LAUNCH_INIT, .rootfd = -1, .dirfd = -1, .pidfd = -1, .croot = -1,
	};
	if (husk_launch_begin(&x.l, o->preserve_fds, e) < 0 || exec_open(&x, g, e) < 0 ||
	    exec_process(&x, e) < 0)
		return -1;
	husk_caps_check(x.p, "exec: capabilities");
	/* Checked and compiled before anything runs in the container. */
	struct husk_launch_process lp = {
		.process = x.p,
		.console_socket = o->console_socket,
		.foreground = !o->detach,
		.label_where = "exec",
		.seccomp = x.p->seccomp ? x.p->seccomp : x.seccomp,
		.seccomp_where = x.p->seccomp ? "--process: seccomp" : "config.json: linux.seccomp",
	};
	if (husk_launch_prepare(&x.l, &lp, e) < 0 || exec_target(&x, e) < 0 || exec_spawn(&x, e) < 0)
		return -1;
	_cleanup_free_ char *state_json = husk_state_oci_json(x.st, x.status, false);
	if (husk_launch_handover(&x.l, state_json, "seccomp listenerPath", e) < 0 ||
	    husk_launch_wait_exec(&x.l, e) < 0)
		return -1;
	if (o->pid_file && husk_write_pid_file(o->pid_file, x.l.pid, e) < 0)
		return -1;
	pid_t pid = x.l.pid;
	x.l.pid = -1; /* a detached process lives on; a foreground one is waited for */
	if (o->detach)
		return 0;
	if (husk_launch_wait(pid, x.l.master, &x.l.set, exit_status, e) < 0) {
		x.l.pid = pid;
		return -1;
	}
	return 0;
}
