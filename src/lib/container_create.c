/* husk create and run.  The container's init goes through the launch
 * path (launch.c) that exec'd processes take too; around it create has
 * what only a new container has: the state directory and its lock, the
 * cgroup, the start socket, the namespaces the init makes or joins by
 * path (init.c), the hooks, network devices and resctrl, the state record
 * and the pid file.  Stage by stage; create_free undoes what a failed
 * create made. */
#include "container.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "cgroup/cgroup.h"
#include "clone.h"
#include "hooks.h"
#include "init.h"
#include "intelrdt.h"
#include "launch.h"
#include "log.h"
#include "namespaces.h"
#include "netdev.h"
#include "rootfs.h"
#include "spec.h"
#include "state.h"
#include "storage.h"
#include "sync.h"
#include "sys.h"
#include "util.h"

static char *make_state_json(const char *id, pid_t pid, const char *status, const char *bundle,
			     const struct husk_spec *spec)
{
	struct husk_state st = {
		.id = (char *)id,
		.pid = pid,
		.bundle = (char *)bundle,
		.rootfs = spec ? spec->root_path : NULL,
	};
	json_t *ann = NULL;
	if (spec && spec->n_annotations) {
		ann = json_object();
		for (size_t i = 0; i < spec->n_annotations; i++)
			json_object_set_new(ann, spec->annotations[i].key,
					    json_string(spec->annotations[i].value));
		st.annotations = ann;
	}
	char *text = husk_state_oci_json(&st, status, false);
	json_decref(ann);
	return text;
}

/* The hooks that run after create (poststart, poststop) are kept in the
 * state as written, so a changed bundle cannot alter them. */
static json_t *hooks_to_json(const struct husk_spec *spec)
{
	json_t *hooks = json_object_get(spec->doc, "hooks");
	if (!json_is_object(hooks))
		return NULL;
	json_t *r = json_object(), *v;
	if ((v = json_object_get(hooks, "poststart")))
		json_object_set(r, "poststart", v);
	if ((v = json_object_get(hooks, "poststop")))
		json_object_set(r, "poststop", v);
	if (!json_object_size(r)) {
		json_decref(r);
		r = NULL;
	}
	return r;
}

/* What create leaves behind for run: the init is our child. */
struct created {
	pid_t init_pid;
	int master;   /* pty master to proxy (run -t without --console-socket), or -1 */
};

static char *absolute_bundle(const char *bundle)
{
	if (!bundle || !*bundle)
		bundle = ".";
	if (bundle[0] == '/')
		return xstrdup(bundle);
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		return xstrdup(bundle);
	if (!strcmp(bundle, "."))
		return xstrdup(cwd);
	return xasprintf("%s/%s", cwd, bundle);
}

/* SIGINT, SIGTERM and SIGHUP while creating (a hook that hangs and a ^C)
 * must not leave a half-made container: the handler kills the init, which
 * ends the sync waits, and stops a runtime hook; create then cleans up and
 * dies of the signal. */
static const int create_signals[] = { SIGINT, SIGTERM, SIGHUP };
static volatile sig_atomic_t create_signal;
static struct husk_launch *volatile create_launch; /* its first child and init */
static pid_t create_owner;

static void on_create_signal(int sig)
{
	/* The init is a clone of ours until it execs: for it the signal
	 * does what it would have done. */
	if (getpid() != create_owner) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	int saved = errno;
	create_signal = sig;
	husk_hooks_interrupted = 1;
	struct husk_launch *l = create_launch;
	pid_t first = l ? l->first : -1, init = l ? l->pid : -1;
	if (first > 0)
		kill(first, SIGKILL);
	if (init > 0)
		kill(init, SIGKILL);
	errno = saved;
}

struct create_sigs {
	bool began, active;
	sigset_t old_mask;
	struct sigaction old[ARRAY_SIZE(create_signals)];
	bool handled[ARRAY_SIZE(create_signals)];
};

static void create_sigs_begin(struct create_sigs *cs, struct husk_launch *l)
{
	create_signal = 0;
	create_launch = l;
	create_owner = getpid();
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(create_signals); i++) {
		struct sigaction sa = { .sa_handler = on_create_signal }; /* no SA_RESTART */
		sigemptyset(&sa.sa_mask);
		/* An ignored signal (nohup) stays ignored. */
		if (sigaction(create_signals[i], NULL, &cs->old[i]) == 0 &&
		    cs->old[i].sa_handler != SIG_IGN)
			cs->handled[i] = sigaction(create_signals[i], &sa, NULL) == 0;
		sigaddset(&set, create_signals[i]);
	}
	/* run blocks them for forwarding; while creating they are ours. */
	sigprocmask(SIG_UNBLOCK, &set, &cs->old_mask);
	cs->began = cs->active = true;
}

/* Blocks the signals and puts the old handlers back; returns the signal
 * that came meanwhile, 0 if none.  The old mask comes back in
 * create_sigs_restore. */
static int create_sigs_end(struct create_sigs *cs)
{
	if (!cs->active)
		return create_signal;
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(create_signals); i++)
		sigaddset(&set, create_signals[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(create_signals); i++)
		if (cs->handled[i])
			sigaction(create_signals[i], &cs->old[i], NULL);
	create_launch = NULL;
	cs->active = false;
	return create_signal;
}

static void create_sigs_restore(struct create_sigs *cs, int sig)
{
	if (!cs->began)
		return;
	if (sig) {
		/* Cleaned up: now die of it, as without us in the way. */
		signal(sig, SIG_DFL);
		sigset_t one;
		sigemptyset(&one);
		sigaddset(&one, sig);
		sigprocmask(SIG_UNBLOCK, &one, NULL);
		raise(sig);
	}
	sigprocmask(SIG_SETMASK, &cs->old_mask, NULL);
}


/* ---- one create ---- */

struct create {
	const struct husk_global_opts *g;
	struct husk_create_opts o;   /* preserve_fds: socket activation's included */
	bool foreground;             /* run without -d: a terminal can be proxied */
	char *bundle;
	struct husk_spec *spec;
	struct husk_launch l;
	struct create_sigs sigs;
	int rootfd, dirfd;           /* the state root; the container's directory, locked */
	bool dir_made;
	struct husk_cgroup *cg;
	int listen_fd;               /* the start socket */
	char *overlay;               /* box: the overlay's mount options, mounted by the init */
	char *root_dir, *lower_dir;  /* box: where a vfs copy went; <state dir>/lower */
	struct husk_rootfs_box box;  /* box with a user namespace: the runtime makes the root */
	bool root_by_runtime;
	struct husk_ns_plan ns;
	bool ns_ready;
	char *state_json;            /* "creating": for the hooks and the seccomp agent */
	json_t *netdevs, *rdt;       /* moved in / applied: given back on failure */
	bool pid_file_written;
	bool done;                   /* the container exists: nothing to undo */
};

/* The bundle's config and the launch's checks; nothing made yet. */
static int create_load(struct create *c, struct husk_error *e)
{
	if (husk_validate_id(c->o.id, e) < 0 || husk_launch_begin(&c->l, c->o.preserve_fds, e) < 0)
		return -1;
	c->o.preserve_fds = c->l.preserve_fds;
	c->bundle = absolute_bundle(c->o.bundle);
	if ((c->o.spec_json ? husk_spec_parse_string(c->o.spec_json, c->bundle, &c->spec, e)
			    : husk_spec_load(c->bundle, &c->spec, e)) < 0)
		return -1;
	struct husk_spec *spec = c->spec;
	if (!spec->process)
		return husk_err(e, 0, "config.json: process: required to create a container");
	husk_caps_check(spec->process, "config.json: process.capabilities");
	struct husk_launch_process lp = {
		.process = spec->process,
		.console_socket = c->o.console_socket,
		.foreground = c->foreground,
		.mount_label = spec->mount_label,
		.label_where = "config.json",
		.seccomp = spec->seccomp,
		.seccomp_where = "config.json: linux.seccomp",
	};
	if (husk_launch_prepare(&c->l, &lp, e) < 0)
		return -1;
	if (spec->intel_rdt.set && husk_rdt_available(e) < 0)
		return husk_err_wrap(e, "config.json");
	return 0;
}

/* The state directory, made and locked. */
static int create_state_dir(struct create *c, struct husk_error *e)
{
	if (husk_state_root_open(husk_root_of(c->g), true, &c->rootfd, e) < 0 ||
	    husk_state_dir_create(c->rootfd, c->o.id, &c->dirfd, e) < 0)
		return -1;
	c->dir_made = true;
	if (husk_state_lock(c->dirfd, e) < 0)
		return -1;
	for (size_t i = 0; i < c->o.n_state_files; i++) {
		const struct husk_state_file *f = &c->o.state_files[i];
		_cleanup_fd_ int fd = openat(c->dirfd, f->name,
					     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 || husk_write_all(fd, f->content, strlen(f->content)) < 0)
			return husk_errno(e, "write %s", f->name);
	}
	if (!c->o.storage)
		return 0;
	char self[HUSK_PROCFD_LEN], *root = NULL;
	_cleanup_free_ char *dir = realpath(husk_procfd(self, c->dirfd), NULL);
	if (!dir)
		return husk_errno(e, "resolve state directory");
	struct husk_storage_opts so = { .layers = c->o.layers, .n_layers = c->o.n_layers,
					.rootless = geteuid() != 0 };
	if (c->o.root_dir && c->o.root_dir(c->o.root_ready_arg, dir, &c->root_dir, e) < 0)
		return -1;
	so.root_dir = c->root_dir;
	/* root's box with a user namespace: the root shows the mapped ids,
	 * and the runtime makes it (the container's root may not reach it) */
	c->root_by_runtime = geteuid() == 0 && c->spec->namespaces[HUSK_NS_USER].present;
	if (c->root_by_runtime) {
		so.uid_map = c->spec->uid_mappings;
		so.n_uid_map = c->spec->n_uid_mappings;
		so.gid_map = c->spec->gid_mappings;
		so.n_gid_map = c->spec->n_gid_mappings;
	}
	if (c->o.storage->prepare(c->dirfd, dir, &so, &root, &c->overlay, e) < 0)
		return -1;
	free(c->spec->root_path);
	c->spec->root_path = root;
	c->lower_dir = xasprintf("%s/lower", dir);
	c->box = (struct husk_rootfs_box){ .overlay = c->overlay, .layers = c->o.layers,
					   .n_layers = c->o.n_layers, .lower_dir = c->lower_dir };
	return c->o.root_ready ? c->o.root_ready(c->o.root_ready_arg, e) : 0;
}

/* box, rootless, no cgroup to be had (no delegated subtree): the limits
 * it was asked for go, one warning each, rather than the container. */
static int drop_limits(struct create *c, struct husk_error *e)
{
	if (e->errnum != EACCES && e->errnum != EPERM && e->errnum != EROFS)
		return -1;
	char why[HUSK_ERR_MSG_MAX + 64];
	husk_err_str(e, why, sizeof(why));
	for (size_t i = 0; i < c->o.n_optional_limits; i++)
		husk_warn("%s ignored: rootless, and no cgroup may be made (%s)",
			  c->o.optional_limits[i].option, why);
	husk_resources_free(&c->spec->resources);
	memset(&c->spec->resources, 0, sizeof(c->spec->resources));
	return 0;
}

/* box, rootless, a cgroup in the user's delegated subtree: the limits
 * whose controller the subtree does not offer go, one warning each. */
static void drop_undelegated(struct create *c)
{
	for (size_t i = 0; i < c->o.n_optional_limits; i++) {
		const struct husk_optional_limit *l = &c->o.optional_limits[i];
		const char *d = husk_cgroup_undelegated(c->cg, l->controller);
		if (!d)
			continue;
		husk_warn("%s ignored: rootless, and the %s cgroup controller is not delegated to %s",
			  l->option, l->controller, d);
		husk_cgroup_resources_drop(&c->spec->resources, l->controller);
	}
}

/* The cgroup, made, with its limits. */
static int create_cgroup(struct create *c, struct husk_error *e)
{
	struct husk_cgroup_opts cgo = {
		.systemd = c->g->systemd_cgroup,
		.rootless = c->g->rootless == 1 || (c->g->rootless == -1 && geteuid() != 0),
		.none = c->o.no_cgroup,
	};
	if (husk_cgroup_create(c->spec, c->o.id, &cgo, &c->cg, e) < 0 &&
	    (!cgo.rootless || !c->o.n_optional_limits || drop_limits(c, e) < 0 ||
	     husk_cgroup_create(c->spec, c->o.id, &cgo, &c->cg, e) < 0))
		return -1;
	drop_undelegated(c);
	if (husk_cgroup_check_reused(c->cg, e) < 0)
		return husk_err_wrap(e, "cgroup");
	return husk_cgroup_apply(c->cg, &c->spec->resources, e);
}

/* The start socket the init waits on, and the sync socket. */
static int create_sockets(struct create *c, struct husk_error *e)
{
	struct sockaddr_un addr;
	if (husk_sock_addr_at(c->dirfd, HUSK_START_SOCK, &addr, e) < 0)
		return -1;
	c->listen_fd = husk_fd_above(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), c->l.min_fd);
	if (c->listen_fd < 0 || bind(c->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(c->listen_fd, 1) < 0)
		return husk_errno(e, "start socket");
	return husk_launch_socketpair(&c->l, e);
}

/* The init (through an intermediate when it joins namespaces by path or
 * makes a time namespace), in its cgroups, with its id maps; its pid. */
static int create_spawn(struct create *c, struct husk_error *e)
{
	if (create_sockets(c, e) < 0 || husk_ns_plan_init(&c->ns, c->spec, c->l.min_fd, e) < 0)
		return -1;
	c->ns_ready = true;
	struct husk_init_config ic = {
		.spec = c->spec,
		.opts = &c->o,
		.ns = &c->ns,
		.launch = &c->l,
		.listen_fd = c->listen_fd,
		.cgroup = c->cg,
		.overlay = c->overlay,
		.root_by_runtime = c->root_by_runtime,
	};
	bool two_stage;
	if (husk_init_spawn(&ic, &two_stage, e) < 0)
		return -1;
	/* The init joins its cgroups itself; the id maps; then it goes on. */
	if (husk_init_release(&ic, two_stage, e) < 0)
		return -1;
	/* idmap requests may come before and after the intermediate's pid. */
	const struct husk_rootfs_box *box = c->root_by_runtime ? &c->box : NULL;
	if (husk_rootfs_idmap_serve(&husk_sys_real, c->l.sync[0], c->spec, box, e) < 0)
		return -1;
	if (!two_stage) {
		husk_launch_first_is_process(&c->l);
		return 0;
	}
	if (husk_launch_child_pid(&c->l, NULL, e) < 0)
		return -1;
	return husk_rootfs_idmap_serve(&husk_sys_real, c->l.sync[0], c->spec, box, e);
}

/* Network devices and resctrl groups, before any hook or the process
 * runs; then the prestart and createRuntime hooks when the init asks. */
static int create_parent_side(struct create *c, struct husk_error *e)
{
	struct husk_spec *spec = c->spec;
	pid_t pid = c->l.pid;
	if (husk_netdev_move_in(spec, pid, &c->netdevs, e) < 0 ||
	    husk_rdt_apply(&spec->intel_rdt, HUSK_RESCTRL_ROOT, c->o.id, pid, &husk_rdt_sys_ops, &c->rdt,
			   e) < 0)
		return husk_err_wrap(e, "config.json");
	if (!husk_init_wants_runtime_hooks(spec) && !spec->hooks[HUSK_HOOK_CREATE_CONTAINER].n)
		return 0;
	int32_t which;
	if (husk_sync_expect(c->l.sync[0], SYNC_HOOKS, &which, NULL, e) < 0)
		return -1;
	c->state_json = make_state_json(c->o.id, pid, "creating", c->bundle, spec);
	if (which == 0 &&
	    (husk_hooks_run(&spec->hooks[HUSK_HOOK_PRESTART], HUSK_HOOK_PRESTART, c->state_json, e) < 0 ||
	     husk_hooks_run(&spec->hooks[HUSK_HOOK_CREATE_RUNTIME], HUSK_HOOK_CREATE_RUNTIME,
			    c->state_json, e) < 0))
		return -1;
	return husk_sync_send(c->l.sync[0], SYNC_HOOKS_DONE, 0, c->state_json, strlen(c->state_json), e);
}

/* The state record and the pid file: the container exists. */
static int create_commit(struct create *c, struct husk_error *e)
{
	struct husk_spec *spec = c->spec;
	char created[48];
	husk_rfc3339_now(created, sizeof(created));
	struct husk_state st = {
		.id = (char *)c->o.id,
		.pid = c->l.pid,
		.pid_start = husk_proc_starttime(c->l.pid, NULL),
		.bundle = c->bundle,
		.rootfs = spec->root_path,
		.created = created,
		.owner = (char *)"",
		.hooks = hooks_to_json(spec),
		.cgroup = husk_cgroup_serialize(c->cg),
		/* borrowed: exec's view of the config, the bundle aside */
		.process = json_object_get(spec->doc, "process"),
		.seccomp = husk_seccomp_profile_json(spec->seccomp),
		.has_personality = spec->has_personality,
		.personality = spec->personality,
		.mempolicy = json_object_get(json_object_get(spec->doc, "linux"), "memoryPolicy"),
		.net_devices = c->netdevs,
		.intel_rdt = c->rdt,
	};
	/* Nothing else holds the container's processes together (nor ends
	 * them with its init): its mount namespace names them for delete. */
	if (!st.cgroup && !spec->namespaces[HUSK_NS_PID].present &&
	    spec->namespaces[HUSK_NS_MNT].present && !spec->namespaces[HUSK_NS_MNT].path &&
	    (st.mnt_ns_id = husk_mount_ns_id(c->l.pid)))
		st.boot_id = husk_boot_id();
	if (spec->n_annotations) {
		st.annotations = json_object();
		for (size_t i = 0; i < spec->n_annotations; i++)
			json_object_set_new(st.annotations, spec->annotations[i].key,
					    json_string(spec->annotations[i].value));
	}
	int r = husk_state_write(c->dirfd, &st, e);
	json_decref(st.hooks);
	json_decref(st.seccomp);
	json_decref(st.annotations);
	free(st.cgroup);
	free(st.boot_id);
	if (r < 0)
		return -1;
	if (c->o.pid_file && husk_write_pid_file(c->o.pid_file, c->l.pid, e) < 0)
		return -1;
	c->pid_file_written = c->o.pid_file != NULL;
	/* From here a signal finds the container made. */
	int sig = create_sigs_end(&c->sigs);
	if (sig)
		return husk_err(e, EINTR, "interrupted by signal %d", sig);
	return 0;
}

/* Nothing left behind: the init, its cgroup, the state dir. */
static void create_undo(struct create *c)
{
	struct husk_error ignored;
	if (c->l.pid > 0 && c->netdevs) {
		/* Before the namespace dies with the init (and virtual
		 * devices with it). */
		_cleanup_fd_ int pidfd = husk_pidfd_open(c->l.pid);
		if (pidfd >= 0)
			husk_netdev_give_back(c->netdevs, pidfd, &ignored);
	}
	husk_launch_kill(&c->l);
	husk_cgroup_destroy(c->cg, &ignored);
	if (c->rdt)
		husk_rdt_remove(c->rdt, &husk_rdt_sys_ops, &ignored);
	if (c->dir_made)
		husk_state_dir_remove(c->rootfd, c->o.id, &ignored);
	if (c->pid_file_written)
		unlink(c->o.pid_file);
}

static void create_free(struct create *c)
{
	int sig = 0;
	if (!c->done) {
		sig = create_sigs_end(&c->sigs);
		create_undo(c);
	}
	free(c->state_json);
	free(c->overlay);
	free(c->root_dir);
	free(c->lower_dir);
	json_decref(c->netdevs);
	json_decref(c->rdt);
	husk_launch_free(&c->l);
	if (c->ns_ready)
		husk_ns_plan_close(&c->ns);
	husk_cgroup_free(c->cg);
	husk_closep(&c->listen_fd);
	husk_closep(&c->dirfd);
	husk_closep(&c->rootfd);
	husk_spec_free(c->spec);
	free(c->bundle);
	create_sigs_restore(&c->sigs, sig);
}

static int do_create(const struct husk_global_opts *g, const struct husk_create_opts *opts,
		     struct created *out, struct husk_error *e)
{
	_cleanup_(create_free) struct create c = {
		.g = g,
		.o = *opts,
		.foreground = out && !opts->detach,
		.l = HUSK_LAUNCH_INIT,
		.rootfd = -1,
		.dirfd = -1,
		.listen_fd = -1,
	};
	if (create_load(&c, e) < 0)
		return -1;
	create_sigs_begin(&c.sigs, &c.l);
	if (create_state_dir(&c, e) < 0 || create_cgroup(&c, e) < 0 || create_spawn(&c, e) < 0 ||
	    create_parent_side(&c, e) < 0)
		return -1;
	if (!c.state_json)
		c.state_json = make_state_json(c.o.id, c.l.pid, "creating", c.bundle, c.spec);
	if (husk_launch_handover(&c.l, c.state_json, "config.json: linux.seccomp.listenerPath", e) < 0 ||
	    husk_sync_expect(c.l.sync[0], SYNC_READY, NULL, NULL, e) < 0 || create_commit(&c, e) < 0)
		return -1;
	if (out) {
		out->init_pid = c.l.pid;
		out->master = move_fd(&c.l.master);
	}
	c.l.pid = -1; /* the init lives on */
	c.done = true;
	return 0;
}

int husk_container_create(const struct husk_global_opts *g, const struct husk_create_opts *o,
			  struct husk_error *e)
{
	return do_create(g, o, NULL, e);
}

int husk_container_run(const struct husk_global_opts *g, const struct husk_create_opts *o,
		       int *exit_status, struct husk_error *e)
{
	*exit_status = 0;
	sigset_t set, old;
	/* Blocked before the clone: nothing is lost between start and wait;
	 * the init resets its mask before exec. */
	if (!o->detach)
		husk_launch_block_signals(&set, &old);

	struct created c = { .master = -1 };
	if (do_create(g, o, &c, e) < 0)
		goto fail;
	if (husk_container_start(g, o->id, e) < 0) {
		struct husk_error ignored;
		husk_container_delete(g, o->id, true, &ignored);
		husk_closep(&c.master);
		goto fail;
	}
	if (o->detach)
		return 0;

	/* Signals go to the init; with a terminal of our own, the pty is
	 * proxied to the caller's and SIGWINCH resizes it instead. */
	int r = husk_launch_wait(c.init_pid, c.master, &set, exit_status, e);
	husk_closep(&c.master);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		struct husk_error ignored;
		husk_container_delete(g, o->id, true, &ignored);
		return -1;
	}
	if (!o->keep) {
		if (husk_container_delete(g, o->id, true, e) < 0)
			return -1;
	}
	return 0;
fail:
	if (!o->detach)
		sigprocmask(SIG_SETMASK, &old, NULL);
	return -1;
}
