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
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "cgroup/cgroup.h"
#include "intelrdt.h"
#include "label.h"
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

/* Signals a foreground exec passes on to its process (as run does). */
static const int forwarded_signals[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
					 SIGWINCH, SIGCONT, SIGALRM, SIGPWR };

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

/* pidfd of the container's init, checked against the state's start time
 * (after opening: the pidfd pins the process we verified). */
static int init_pidfd(const struct husk_state *st, struct husk_error *e)
{
	int fd = (int)syscall(SYS_pidfd_open, st->pid, 0);
	if (fd < 0 && errno != ESRCH)
		return husk_errno(e, "pidfd_open %d", (int)st->pid);
	if (fd < 0 || husk_proc_starttime(st->pid, NULL) != st->pid_start) {
		if (fd >= 0)
			close(fd);
		return husk_err(e, 0, "container is not running");
	}
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

/* ---- the child ---- */

struct exec_child {
	const struct husk_exec_opts *o;
	const struct husk_process *p;
	const struct husk_state *st;
	int sync_fd;
	int pidfd;
	int rootfd;        /* /proc/<init>/root */
	int ns_flags;
	int preserve_fds;  /* including socket activation */
	int min_fd;
	const struct husk_seccomp *seccomp; /* the process's own filter, or the container's */
	const struct husk_mempolicy *mempolicy; /* linux.memoryPolicy */
	bool rdt;          /* a resctrl group to join (by the runtime) before the exec */
	struct husk_cgroup_join join; /* n == 0: no cgroup */
	bool born_in_v2;   /* clone3 put the joiner in the unified cgroup */
	/* wait for SYNC_GO: the runtime has a cgroup left to join, or a
	 * terminal's master must not overtake the joiner's SYNC_CHILD_PID */
	bool hold;
};

static __attribute__((noreturn)) void exec_main(struct exec_child *c)
{
	struct husk_error err = { 0 }, *e = &err;
	const struct husk_process *p = c->p;
	int sync_fd = c->sync_fd;

	prctl(PR_SET_DUMPABLE, 0); /* inherited from the joiner; stated again */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (c->hold && husk_sync_expect(sync_fd, SYNC_GO, NULL, NULL, e) < 0)
		_exit(1);
	/* The container's root as its init sees it (setns on the mount
	 * namespace gave us the namespace's root; a chroot-only container
	 * needs this too). */
	if (fchdir(c->rootfd) < 0 || chroot(".") < 0) {
		husk_errno(e, "enter the container's root");
		husk_sync_fail(sync_fd, e);
	}
	close(c->rootfd);
	if (p->terminal) {
		int master, slave;
		if (husk_terminal_open(AT_FDCWD, "/dev/ptmx", p, &master, &slave, e) < 0)
			husk_sync_fail(sync_fd, e);
		int r = husk_sync_send_fd(sync_fd, SYNC_CONSOLE, master, e);
		close(master);
		if (r < 0 || husk_terminal_setup_stdio(slave, e) < 0)
			husk_sync_fail(sync_fd, e);
	}
	/* In every cgroup now (cpuset may have reset the affinity). */
	if (husk_affinity_apply(&p->exec_cpu_affinity.final, "process.execCPUAffinity.final", e) < 0 ||
	    husk_mempolicy_apply(c->mempolicy, e) < 0)
		husk_sync_fail(sync_fd, e);
	struct husk_exec_plan plan;
	if (husk_process_become(p, c->st->has_personality, c->st->personality, c->seccomp,
				c->preserve_fds, sync_fd, &plan, e) < 0)
		husk_sync_fail(sync_fd, e);

	/* A foreground exec outlives nothing; a detached one must outlive us. */
	prctl(PR_SET_PDEATHSIG, 0);
	husk_process_exec(&plan, p->args, sync_fd, e);
	husk_sync_fail(sync_fd, e);
}


/* The first child: joins the cgroups and the namespaces, clones the
 * process into them (as our parent's child) and reports its pid and the
 * cgroups left to the runtime. */
static __attribute__((noreturn)) void joiner_main(struct exec_child *c)
{
	struct husk_error err = { 0 };
	/* Never dumpable before the exec: a container process must not
	 * ptrace us or open our /proc/<pid>/exe (the host's husk binary). */
	prctl(PR_SET_DUMPABLE, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	struct husk_cgroup_join *j = &c->join;
	int *keep = xmalloc((4 + j->n) * sizeof(*keep));
	size_t nkeep = 0;
	keep[nkeep++] = c->sync_fd;
	keep[nkeep++] = c->pidfd;
	keep[nkeep++] = c->rootfd;
	keep[nkeep++] = j->v2_dir;
	for (size_t i = 0; i < j->n; i++)
		keep[nkeep++] = j->fd[i];
	husk_close_fds_from(c->min_fd, keep, nkeep);
	free(keep);
	/* Still with the runtime's namespaces and credentials. */
	char *need = xmalloc(j->n + 1);
	c->hold = husk_cgroup_join_self(j, c->born_in_v2, need) || c->p->terminal || c->rdt;
	if (c->ns_flags && setns(c->pidfd, c->ns_flags) < 0) {
		husk_errno(&err, "join the container's namespaces");
		husk_sync_fail(c->sync_fd, &err);
	}
	close(c->pidfd);
	if (c->ns_flags & CLONE_NEWUSER) {
		/* uid/gid 0 of the container's user namespace; unmapped,
		 * the user switch later does the rest. */
		if ((setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) && errno != EINVAL) {
			husk_errno(&err, "become root in the container's user namespace");
			husk_sync_fail(c->sync_fd, &err);
		}
	}
	pid_t pid = husk_clone_fork(CLONE_PARENT);
	if (pid < 0) {
		husk_errno(&err, "clone the exec process");
		husk_sync_fail(c->sync_fd, &err);
	}
	if (pid == 0)
		exec_main(c);
	if (husk_sync_send(c->sync_fd, SYNC_CHILD_PID, pid, need, strlen(need), &err) < 0)
		_exit(1);
	_exit(0);
}

/* ---- the runtime side ---- */

/* EOF on the sync socket: the process exec'd; a message: why it did not. */
static int wait_exec(int sync_fd, struct husk_error *e)
{
	char buf[sizeof(struct husk_sync_msg) + HUSK_ERR_MSG_MAX];
	ssize_t n;
	do
		n = recv(sync_fd, buf, sizeof(buf) - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n < 0)
		return husk_errno(e, "sync: receive");
	struct husk_sync_msg h;
	if ((size_t)n < sizeof(h))
		return husk_err(e, EPROTO, "sync: short message");
	memcpy(&h, buf, sizeof(h));
	buf[n] = '\0';
	if (h.type == SYNC_ERROR)
		return husk_err(e, h.val, "%s", buf + sizeof(h));
	return husk_err(e, EPROTO, "sync: unexpected message %u", h.type);
}

static void reap(pid_t *pid)
{
	if (*pid <= 0)
		return;
	while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
		;
	*pid = -1;
}

int husk_container_exec(const struct husk_global_opts *g, const struct husk_exec_opts *o,
			int *exit_status, struct husk_error *e)
{
	*exit_status = 0;
	if (o->preserve_fds < 0)
		return husk_err(e, 0, "--preserve-fds must not be negative");
	int preserve = o->preserve_fds + husk_socket_activation_fds();
	int min_fd = 3 + preserve;
	int rootfd = -1, dirfd = -1, pidfd = -1, croot = -1, console = -1, master = -1;
	int sp[2] = { -1, -1 };
	struct husk_state *st = NULL;
	struct husk_process *base = NULL, *p = NULL;
	struct husk_cgroup *cg = NULL;
	struct husk_seccomp *seccomp = NULL;
	struct husk_mempolicy mempolicy = { 0 };
	struct husk_cgroup_join join = { .v2_dir = -1 };
	char *need = NULL;
	pid_t joiner = -1, pid = -1;
	bool masked = false;
	sigset_t set, old;
	int ret = -1;

	if (husk_reserve_preserved_fds(min_fd, e) < 0 ||
	    husk_container_open(g, o->id, &rootfd, &dirfd, &st, e) < 0)
		goto out;
	rootfd = husk_fd_above(rootfd, min_fd);
	dirfd = husk_fd_above(dirfd, min_fd);
	const char *status = husk_state_status(dirfd, st);
	if (!strcmp(status, "paused") && !o->ignore_paused) {
		husk_err(e, 0, "cannot exec in a paused container (use --ignore-paused to override)");
		goto out;
	}
	/* A created container's init waits for start with its namespaces
	 * and cgroups in place: joining them works as for a running one. */
	if (strcmp(status, "running") && strcmp(status, "paused") && strcmp(status, "created")) {
		husk_err(e, 0, "cannot exec in a %s container", status);
		goto out;
	}
	/* The config as it was at create, from the state: the bundle may
	 * have changed or gone since. */
	if (st->process && husk_process_parse(st->process, "process", &base, e) < 0) {
		husk_err_wrap(e, "container state");
		goto out;
	}
	if (build_process(o, &base, &p, e) < 0)
		goto out;
	if (st->mempolicy && husk_mempolicy_parse(st->mempolicy, "linux.memoryPolicy", &mempolicy, e) < 0) {
		husk_err_wrap(e, "container state");
		goto out;
	}
	husk_caps_check(p, "exec: capabilities");
	if (p->terminal && !o->console_socket && o->detach) {
		husk_err(e, 0, "cannot allocate a tty if husk will detach without setting a console socket");
		goto out;
	}
	if (!p->terminal && o->console_socket) {
		husk_err(e, 0, "cannot use a console socket if husk will not allocate a tty");
		goto out;
	}
	/* Checked and compiled before anything runs in the container. */
	if (husk_label_check(p, NULL, "exec", e) < 0 ||
	    (p->seccomp && husk_seccomp_prepare(p->seccomp, "--process: seccomp", &seccomp, e) < 0) ||
	    (!p->seccomp && st->seccomp &&
	     husk_seccomp_prepare_record(st->seccomp, "config.json: linux.seccomp", &seccomp, e) < 0))
		goto out;
	if (o->console_socket) {
		console = husk_fd_above(husk_terminal_connect(o->console_socket, e), min_fd);
		if (console < 0)
			goto out;
	}
	if (husk_cgroup_deserialize(st->cgroup, &cg, e) < 0) {
		husk_err_wrap(e, "cgroup");
		goto out;
	}
	if (husk_cgroup_exec_join_open(cg, o->cgroup, st->pid, &join, e) < 0)
		goto out;
	pidfd = husk_fd_above(init_pidfd(st, e), min_fd);
	if (pidfd < 0)
		goto out;
	int ns_flags = ns_to_join(st->pid, e);
	if (ns_flags < 0)
		goto out;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/root", (int)st->pid);
	croot = husk_fd_above(open(path, O_PATH | O_DIRECTORY | O_CLOEXEC), min_fd);
	if (croot < 0) {
		husk_errno(e, "open the container's root");
		goto out;
	}
	/* The pidfd pins the init from here: the lock can go, so that a
	 * container paused meanwhile can be resumed (the process would wait
	 * frozen) and a long exec never blocks other commands. */
	husk_closep(&dirfd);
	husk_closep(&rootfd);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		husk_errno(e, "sync socketpair");
		goto out;
	}
	sp[0] = husk_fd_above(sp[0], min_fd);
	sp[1] = husk_fd_above(sp[1], min_fd);
	if (sp[0] < 0 || sp[1] < 0) {
		husk_errno(e, "sync socketpair");
		goto out;
	}

	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(forwarded_signals); i++)
		sigaddset(&set, forwarded_signals[i]);
	sigaddset(&set, SIGCHLD);
	/* Blocked before the clone: nothing is lost before the wait; the
	 * process resets its mask before exec. */
	sigprocmask(SIG_BLOCK, &set, &old);
	masked = true;
	/* Ours, inherited by the joiner, before it joins the cgroups. */
	if (husk_affinity_apply(&p->exec_cpu_affinity.initial, "process.execCPUAffinity.initial", e) < 0)
		goto out;

	struct exec_child child = {
		.o = o,
		.p = p,
		.st = st,
		.sync_fd = sp[1],
		.pidfd = pidfd,
		.rootfd = croot,
		.ns_flags = ns_flags,
		.preserve_fds = preserve,
		.min_fd = min_fd,
		.seccomp = seccomp,
		.mempolicy = &mempolicy,
		.rdt = st->intel_rdt != NULL,
		.join = join,
	};
	joiner = husk_clone_into_cgroup(0, join.v2_dir, &child.born_in_v2);
	if (joiner != 0)
		husk_cgroup_join_close(&join); /* the joiner closes its own copies */
	if (joiner < 0) {
		husk_errno(e, "clone");
		goto out;
	}
	if (joiner == 0)
		joiner_main(&child);
	husk_closep(&sp[1]);
	int32_t cpid;
	int r = husk_sync_expect(sp[0], SYNC_CHILD_PID, &cpid, &need, e);
	reap(&joiner);
	if (r < 0) {
		/* The process may fail (and say so) before the joiner, now
		 * gone, sent its pid: take that too, to reap our child. */
		struct pollfd pfd = { .fd = sp[0], .events = POLLIN };
		struct husk_error ignored;
		if (poll(&pfd, 1, 0) == 1 &&
		    husk_sync_expect(sp[0], SYNC_CHILD_PID, &cpid, NULL, &ignored) == 0)
			pid = cpid;
		goto out;
	}
	pid = cpid;
	/* The same condition as the process's "hold". */
	bool go = p->terminal || st->intel_rdt;
	if (st->intel_rdt && husk_rdt_join(st->intel_rdt, pid, &husk_rdt_sys_ops, e) < 0)
		goto out;
	r = husk_cgroup_exec_finish(&join, pid, need, e);
	if (r < 0)
		goto out;
	go |= r > 0;
	if (go && husk_sync_send(sp[0], SYNC_GO, 0, NULL, 0, e) < 0)
		goto out;
	if (p->terminal) {
		if (husk_sync_expect_fd(sp[0], SYNC_CONSOLE, &master, e) < 0)
			goto out;
		if (console >= 0) {
			if (husk_terminal_send_console(console, master, e) < 0)
				goto out;
			husk_closep(&master);
		}
	}
	if (husk_seccomp_notifies(seccomp)) {
		_cleanup_fd_ int notify_fd = -1;
		_cleanup_free_ char *state_json = husk_state_oci_json(st, status, false);
		if (husk_sync_expect_fd(sp[0], SYNC_SECCOMP, &notify_fd, e) < 0)
			goto out;
		if (husk_seccomp_send_listener(seccomp, notify_fd, pid, state_json, e) < 0) {
			husk_err_wrap(e, "seccomp listenerPath");
			goto out;
		}
	}
	if (wait_exec(sp[0], e) < 0)
		goto out;
	if (o->pid_file && husk_write_pid_file(o->pid_file, pid, e) < 0)
		goto out;
	if (o->detach) {
		pid = -1;
		ret = 0;
		goto out;
	}
	int wst = 0;
	if (husk_terminal_wait(pid, master, &set, &wst, e) < 0)
		goto out;
	pid = -1;
	*exit_status = WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst);
	ret = 0;
out:
	if (joiner > 0) {
		kill(joiner, SIGKILL);
		reap(&joiner);
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		reap(&pid);
	}
	if (masked)
		sigprocmask(SIG_SETMASK, &old, NULL);
	husk_closep(&sp[0]);
	husk_closep(&sp[1]);
	husk_closep(&master);
	husk_closep(&console);
	husk_closep(&croot);
	husk_closep(&pidfd);
	husk_closep(&dirfd);
	husk_closep(&rootfd);
	husk_cgroup_join_free(&join);
	free(need);
	husk_cgroup_free(cg);
	husk_seccomp_free(seccomp);
	husk_idset_free(&mempolicy.nodes);
	husk_process_free(p);
	husk_process_free(base);
	husk_state_free(st);
	return ret;
}
