#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devices.h"
#include "cgroup/cgroup.h"
#include "clone.h"
#include "hooks.h"
#include "path.h"
#include "process.h"
#include "rootfs.h"
#include "label.h"
#include "launch.h"
#include "mempolicy.h"
#include "seccomp_filter.h"
#include "sync.h"
#include "sys.h"
#include "terminal.h"
#include "util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

extern char **environ;

bool husk_init_wants_runtime_hooks(const struct husk_spec *s)
{
	return s->hooks[HUSK_HOOK_PRESTART].n || s->hooks[HUSK_HOOK_CREATE_RUNTIME].n;
}


static int become_root_in_userns(struct husk_error *e)
{
	/* The container's root is uid/gid 0 of its namespace; without a
	 * mapping for 0 these fail and the user switch later does the rest. */
	if (setresgid(0, 0, 0) < 0 && errno != EINVAL)
		return husk_errno(e, "setresgid to the user namespace's root");
	if (setresuid(0, 0, 0) < 0 && errno != EINVAL)
		return husk_errno(e, "setresuid to the user namespace's root");
	return 0;
}

/* Wait for `start`: accept one connection on the start socket, read the
 * state JSON it sends (for startContainer hooks) and return the
 * connection, over which an exec failure is reported. */
static int wait_for_start(int listen_fd, char **state_json, struct husk_error *e)
{
	int conn;
	do
		conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	while (conn < 0 && errno == EINTR);
	if (conn < 0)
		return husk_errno(e, "accept on start socket");
	size_t cap = 4096, len = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		if (len + 1 >= cap)
			buf = xrealloc(buf, cap *= 2);
		ssize_t r = read(conn, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*state_json = buf;
	return conn;
}

/* The pty, on the container's devpts (its /dev/ptmx resolved inside the
 * rootfs, before the pivot so /dev/console can still be bound when /dev
 * is to become read-only): the slave becomes /dev/console, the
 * controlling terminal and stdio; the master goes to the runtime. */
static int setup_terminal(struct husk_rootfs_ctx *rctx, const struct husk_process *p, int sync_fd,
			  struct husk_error *e)
{
	int ptmx = husk_path_open(rctx->sys, rctx->rootfs_fd, "/dev/ptmx", 0, 0);
	if (ptmx < 0)
		return husk_err(e, -ptmx, "open /dev/ptmx in the container");
	char path[HUSK_PROCFD_LEN];
	_cleanup_fd_ int master = -1, slave = -1;
	int r = husk_terminal_open(AT_FDCWD, husk_procfd(path, ptmx), p, &master, &slave, e);
	close(ptmx);
	if (r < 0)
		return -1;
	if (rctx->own_mount_ns && husk_devices_console(rctx->sys, rctx->rootfs_fd, slave, e) < 0)
		return -1;
	return husk_launch_send_terminal(sync_fd, move_fd(&master), move_fd(&slave), e);
}

/* The hostname, the domain name and a fresh session keyring. */
static int init_identity(const struct husk_init_config *c, struct husk_error *e)
{
	const struct husk_spec *s = c->spec;
	if (s->namespaces[HUSK_NS_UTS].present) {
		if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
			return husk_errno(e, "sethostname %s", s->hostname);
		if (s->domainname && setdomainname(s->domainname, strlen(s->domainname)) < 0)
			return husk_errno(e, "setdomainname %s", s->domainname);
	}
	if (!c->opts->no_new_keyring) {
		/* A fresh session keyring so the container cannot see the
		 * host's keys; ENOSYS/EPERM-in-userns kernels just skip it. */
		if (syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, NULL) < 0 &&
		    errno != ENOSYS && errno != EPERM && errno != EACCES)
			return husk_errno(e, "join session keyring");
	}
	return 0;
}

/* prestart and createRuntime hooks run by the runtime (SYNC_HOOKS), then
 * createContainer hooks here; *state_json: the state the runtime sent. */
static int init_create_hooks(const struct husk_spec *s, int sync_fd, char **state_json,
			     struct husk_error *e)
{
	if (husk_init_wants_runtime_hooks(s)) {
		if (husk_sync_send(sync_fd, SYNC_HOOKS, 0, NULL, 0, e) < 0 ||
		    husk_sync_expect(sync_fd, SYNC_HOOKS_DONE, NULL, state_json, e) < 0)
			return -1;
	}
	if (s->hooks[HUSK_HOOK_CREATE_CONTAINER].n) {
		if (!*state_json && (husk_sync_send(sync_fd, SYNC_HOOKS, 1, NULL, 0, e) < 0 ||
				     husk_sync_expect(sync_fd, SYNC_HOOKS_DONE, NULL, state_json, e) < 0))
			return -1;
		if (husk_hooks_run_env(&s->hooks[HUSK_HOOK_CREATE_CONTAINER], HUSK_HOOK_CREATE_CONTAINER,
				       *state_json, s->process->env, e) < 0)
			return -1;
	}
	return 0;
}

/* Everything between the namespaces and the wait for start. */
static __attribute__((noreturn)) void init_main(struct husk_init_config *c)
{
	const struct husk_spec *s = c->spec;
	const struct husk_process *p = s->process;
	struct husk_error err = { 0 };
	struct husk_error *e = &err;
	int sync_fd = c->launch->sync[1];

	/* Die with the runtime while it is still setting us up. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Keep other container processes from ptracing us or reading our
	 * memory while host fds are open; execve resets this. */
	prctl(PR_SET_DUMPABLE, 0);

	if (init_identity(c, e) < 0)
		husk_sync_fail(sync_fd, e);

	struct husk_rootfs_ctx rctx = {
		.sys = &husk_sys_real,
		.spec = s,
		.no_pivot = c->opts->no_pivot,
		.in_userns = c->ns->any_userns,
		/* new or joined by path: the rootfs is built the same way */
		.own_mount_ns = s->namespaces[HUSK_NS_MNT].present && !c->ns->mnt_is_runtimes,
		.cwd = p ? p->cwd : NULL,
		.console_fd = -1,
		.cgroup = c->cgroup,
		.idmap_sock = sync_fd,
		.verify_flags = c->opts->verify_mount_flags,
		.rootfs_fd = -1,
		.overlay = c->overlay,
		.root_by_runtime = c->root_by_runtime,
	};
	if (husk_rootfs_prepare(&rctx, e) < 0)
		husk_sync_fail(sync_fd, e);

	_cleanup_free_ char *state_json = NULL;
	if (init_create_hooks(s, sync_fd, &state_json, e) < 0)
		husk_sync_fail(sync_fd, e);

	if (p->terminal && setup_terminal(&rctx, p, sync_fd, e) < 0)
		husk_sync_fail(sync_fd, e);

	if (husk_rootfs_finalize(&rctx, e) < 0)
		husk_sync_fail(sync_fd, e);

	/* Inherited by the process across execve.  (execCPUAffinity is
	 * for exec'd processes only: the spec leaves the init's alone.) */
	if (husk_mempolicy_apply(&s->mempolicy, e) < 0)
		husk_sync_fail(sync_fd, e);

	struct husk_exec_plan plan;
	if (husk_process_become(p, s->has_personality, s->personality, c->launch->seccomp,
				c->launch->preserve_fds, sync_fd, &plan, e) < 0)
		husk_sync_fail(sync_fd, e);

	/* From here on nobody waits for us: survive the runtime's exit. */
	prctl(PR_SET_PDEATHSIG, 0);
	if (husk_sync_send(sync_fd, SYNC_READY, 0, NULL, 0, e) < 0)
		_exit(1);
	close(sync_fd);

	free(state_json);
	state_json = NULL;
	int conn = wait_for_start(c->listen_fd, &state_json, e);
	if (conn < 0)
		_exit(1);
	close(c->listen_fd);

	/* startContainer hooks run in the container, under its seccomp
	 * filter and with its process's environment, as with runc. */
	if (s->hooks[HUSK_HOOK_START_CONTAINER].n &&
	    (husk_process_seccomp_now(&plan, e) < 0 ||
	     husk_hooks_run_env(&s->hooks[HUSK_HOOK_START_CONTAINER], HUSK_HOOK_START_CONTAINER,
				state_json, plan.env, e) < 0))
		husk_sync_fail(conn, e);

	/* The start connection is close-on-exec: its EOF tells `start` the
	 * exec happened. */
	husk_process_exec(&plan, p->args, conn, e);
	husk_sync_fail(conn, e);
}

/* The intermediate: joins namespaces by path, creates the rest (a time
 * namespace needs its offsets written before any process lives in it),
 * then clones the init as a sibling so the runtime is its parent. */
static __attribute__((noreturn)) void intermediate_main(struct husk_init_config *c)
{
	struct husk_error err = { 0 };
	int sync_fd = c->launch->sync[1];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (husk_sync_expect(sync_fd, SYNC_GO, NULL, NULL, &err) < 0)
		_exit(1);
	husk_cgroup_init_joined(c->cgroup);
	if (husk_ns_join(c->ns, CLONE_NEWUSER, &err) < 0)
		husk_sync_fail(sync_fd, &err);
	if (c->ns->any_userns && become_root_in_userns(&err) < 0)
		husk_sync_fail(sync_fd, &err);
	if (husk_ns_join(c->ns, ~CLONE_NEWUSER, &err) < 0)
		husk_sync_fail(sync_fd, &err);
	int flags = c->ns->new_flags & ~(CLONE_NEWUSER);
	if (flags && unshare(flags) < 0) {
		husk_errno(&err, "unshare namespaces");
		husk_sync_fail(sync_fd, &err);
	}
	if ((flags & CLONE_NEWTIME) && husk_ns_write_time_offsets(c->spec, &err) < 0)
		husk_sync_fail(sync_fd, &err);

	/* The init speaks on the sync socket only after our SYNC_CHILD_PID
	 * (the runtime reads that first): it waits for EOF on this pipe,
	 * which our exit gives. */
	int gate[2];
	if (pipe2(gate, O_CLOEXEC) < 0) {
		husk_errno(&err, "pipe");
		husk_sync_fail(sync_fd, &err);
	}
	pid_t pid = husk_clone_fork(CLONE_PARENT);
	if (pid < 0) {
		husk_errno(&err, "clone container init");
		husk_sync_fail(sync_fd, &err);
	}
	if (pid == 0) {
		close(gate[1]);
		char b;
		while (read(gate[0], &b, 1) < 0 && errno == EINTR)
			;
		close(gate[0]);
		init_main(c);
	}
	close(gate[0]);
	if (husk_sync_send(sync_fd, SYNC_CHILD_PID, pid, NULL, 0, &err) < 0)
		_exit(1);
	_exit(0);
}

int husk_init_spawn(struct husk_init_config *c, bool *two_stage, struct husk_error *e)
{
	const struct husk_ns_plan *ns = c->ns;
	struct husk_launch *l = c->launch;
	bool any_join = false;
	for (int t = 0; t < HUSK_NS__COUNT; t++)
		any_join |= ns->join_fd[t] >= 0;
	*two_stage = any_join || (ns->new_flags & CLONE_NEWTIME);

	unsigned long flags;
	if (*two_stage)
		flags = ns->new_user ? CLONE_NEWUSER : 0;
	else
		/* The cgroup namespace waits until we have been moved into
		 * the container's cgroup, so that it is the namespace's root. */
		flags = (unsigned long)(ns->new_flags & ~CLONE_NEWCGROUP);

	husk_cgroup_join_open(c->cgroup, &l->join);
	/* Born in the unified cgroup when there is one, so nothing the init
	 * allocates escapes the limits and a tight memory limit still starts. */
	pid_t pid = husk_launch_clone(l, flags, "clone container init", e);
	if (pid != 0)
		return pid < 0 ? -1 : 0;

	/* child: drop every runtime fd it does not need, above all the
	 * locked state directory, which `start` must be able to lock.  First
	 * of all into the container's cgroups (the intermediate's init
	 * inherits them); the parent hears what is left to it. */
	int keep[1 + HUSK_NS__COUNT];
	size_t nkeep = 0;
	keep[nkeep++] = c->listen_fd;
	for (int t = 0; t < HUSK_NS__COUNT; t++)
		if (ns->join_fd[t] >= 0)
			keep[nkeep++] = ns->join_fd[t];
	struct husk_error err = { 0 };
	int sync_fd = l->sync[1];
	_cleanup_free_ char *need = NULL;
	bool hold = husk_launch_child_join(l, keep, nkeep, &need) || *two_stage || ns->new_user;
	if (husk_sync_send(sync_fd, SYNC_CGROUP, 0, need, strlen(need), &err) < 0)
		_exit(1);

	if (*two_stage)
		intermediate_main(c);

	if (hold && husk_sync_expect(sync_fd, SYNC_GO, NULL, NULL, &err) < 0)
		_exit(1);
	husk_cgroup_init_joined(c->cgroup);
	if (ns->new_user && become_root_in_userns(&err) < 0)
		husk_sync_fail(sync_fd, &err);
	if ((ns->new_flags & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0) {
		husk_errno(&err, "unshare cgroup namespace");
		husk_sync_fail(sync_fd, &err);
	}
	init_main(c);
}

int husk_init_release(const struct husk_init_config *c, bool two_stage, struct husk_error *e)
{
	const struct husk_launch *l = c->launch;
	/* The same condition as the child's "hold". */
	bool go = two_stage || c->ns->new_user;
	if (c->ns->new_user && husk_ns_write_id_maps(l->first, c->spec, e) < 0)
		return -1;
	_cleanup_free_ char *need = NULL;
	if (husk_sync_expect(l->sync[0], SYNC_CGROUP, NULL, &need, e) < 0)
		return -1;
	int r = husk_cgroup_init_attach(c->cgroup, l->first, need, e);
	if (r < 0)
		return -1;
	go |= r > 0;
	return go ? husk_sync_send(l->sync[0], SYNC_GO, 0, NULL, 0, e) : 0;
}
