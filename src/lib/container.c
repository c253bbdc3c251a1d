#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "cgroup/cgroup.h"
#include "clone.h"
#include "config.h"
#include "hooks.h"
#include "init.h"
#include "intelrdt.h"
#include "log.h"
#include "namespaces.h"
#include "netdev.h"
#include "rootfs.h"
#include "sys.h"
#include "spec.h"
#include "state.h"
#include "seccomp_filter.h"
#include "label.h"
#include "launch.h"
#include "sync.h"
#include "terminal.h"
#include "util.h"

const char *husk_default_root(void)
{
	static char buf[PATH_MAX];
	if (geteuid() == 0)
		return "/run/husk";
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg && *xdg)
		snprintf(buf, sizeof(buf), "%s/husk", xdg);
	else
		snprintf(buf, sizeof(buf), "/tmp/husk-%u", (unsigned)geteuid());
	return buf;
}

static const char *root_of(const struct husk_global_opts *g)
{
	return g->root ? g->root : husk_default_root();
}

int husk_validate_id(const char *id, struct husk_error *e)
{
	if (!id || !*id)
		return husk_err(e, 0, "container id is empty");
	size_t n = strlen(id);
	if (n > 1024)
		return husk_err(e, 0, "invalid container id: longer than 1024 bytes");
	if (!strcmp(id, ".") || !strcmp(id, ".."))
		return husk_err(e, 0, "invalid container id \"%s\"", id);
	for (const char *p = id; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '+' || c == '-' || c == '.';
		if (!ok)
			return husk_err(e, 0, "invalid container id \"%s\": only letters, digits and _+-. are allowed",
					id);
	}
	return 0;
}

int husk_init_pidfd(const struct husk_state *s)
{
	int fd = husk_pidfd_open(s->pid);
	if (fd < 0)
		return -1;
	/* Checked after opening: the pidfd pins the process we verified. */
	bool zombie;
	if (husk_proc_starttime(s->pid, &zombie) != s->pid_start) {
		close(fd);
		errno = ESRCH;
		return -1;
	}
	return fd;
}

int husk_reserve_preserved_fds(int min_fd, struct husk_error *e)
{
	if (min_fd <= 3)
		return 0;
	husk_log_move_above(min_fd);
	int null = -1;
	for (int fd = 3; fd < min_fd; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (null < 0) {
			null = husk_fd_above(open("/dev/null", O_RDWR | O_CLOEXEC), min_fd);
			if (null < 0)
				return husk_errno(e, "open /dev/null");
		}
		if (dup2(null, fd) < 0) {
			husk_errno(e, "reserve fd %d", fd);
			close(null);
			return -1;
		}
	}
	if (null >= 0)
		close(null);
	return 0;
}

/* A path to name inside dirfd that is not limited by sun_path's size. */
static int sock_addr(int dirfd, const char *name, struct sockaddr_un *a, struct husk_error *e)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	int n = snprintf(a->sun_path, sizeof(a->sun_path), "/proc/self/fd/%d/%s", dirfd, name);
	if (n < 0 || (size_t)n >= sizeof(a->sun_path))
		return husk_err(e, ENAMETOOLONG, "start socket path");
	return 0;
}

int husk_fd_above(int fd, int min_fd)
{
	if (fd < 0 || fd >= min_fd)
		return fd;
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, min_fd);
	close(fd);
	return hi;
}

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

static int run_state_hooks(json_t *hooks_json, enum husk_hook_kind kind, const char *state_json,
			   struct husk_error *e)
{
	if (!hooks_json || !json_object_get(hooks_json, husk_hook_name(kind)))
		return 0;
	/* Reuse the config parser's validation for the stored hooks. */
	json_t *doc = json_pack("{s:s, s:{s:s}, s:O}", "ociVersion", "1.2.0", "root", "path", "/",
				"hooks", hooks_json);
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	struct husk_spec *spec = NULL;
	int r = husk_spec_parse_string(text, "/", &spec, e);
	free(text);
	if (r < 0)
		return -1;
	r = husk_hooks_run(&spec->hooks[kind], kind, state_json, e);
	husk_spec_free(spec);
	return r;
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

int husk_write_pid_file(const char *path, pid_t pid, struct husk_error *e)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	/* Written atomically next to the target, like runc, so a reader never
	 * sees an empty file. */
	_cleanup_free_ char *copy = xstrdup(path);
	char *slash = strrchr(copy, '/');
	const char *dir = ".", *name = copy;
	if (slash) {
		*slash = '\0';
		dir = slash == copy ? "/" : copy;
		name = slash + 1;
	}
	_cleanup_fd_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return husk_errno(e, "pid file %s", path);
	if (husk_write_file_atomic_at(dfd, name, buf, (size_t)n, 0644, e) < 0)
		return husk_err_wrap(e, "pid file %s", path);
	return 0;
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
static volatile pid_t create_victim[2]; /* the first child, the init */
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
	for (size_t i = 0; i < ARRAY_SIZE(create_victim); i++)
		if (create_victim[i] > 0)
			kill(create_victim[i], SIGKILL);
	errno = saved;
}

struct create_sigs {
	bool began, active;
	sigset_t old_mask;
	struct sigaction old[ARRAY_SIZE(create_signals)];
	bool handled[ARRAY_SIZE(create_signals)];
};

static void create_sigs_begin(struct create_sigs *cs)
{
	create_signal = 0;
	create_victim[0] = create_victim[1] = -1;
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

static int do_create(const struct husk_global_opts *g, const struct husk_create_opts *opts,
		     struct created *out, struct husk_error *e)
{
	if (husk_validate_id(opts->id, e) < 0)
		return -1;
	if (opts->preserve_fds < 0)
		return husk_err(e, 0, "--preserve-fds must not be negative");
	struct husk_create_opts eff = *opts;
	eff.preserve_fds += husk_socket_activation_fds();
	const struct husk_create_opts *o = &eff;
	_cleanup_free_ char *bundle = absolute_bundle(o->bundle);
	struct husk_spec *spec = NULL;
	if (husk_spec_load(bundle, &spec, e) < 0)
		return -1;
	int ret = -1;
	int rootfd = -1, dirfd = -1, listen_fd = -1, sp[2] = { -1, -1 };
	bool dir_made = false;
	struct husk_cgroup *cg = NULL;
	struct husk_ns_plan ns;
	bool ns_ready = false;
	pid_t first = -1, init_pid = -1;
	char *state_json = NULL;
	int min_fd = 3 + o->preserve_fds;
	int console_sock = -1, master = -1;
	struct husk_seccomp *seccomp = NULL;
	struct create_sigs sigs = { 0 };
	json_t *netdevs = NULL, *rdt = NULL;
	bool pid_file_written = false;
	int sig = 0;

	if (!spec->process) {
		husk_err(e, 0, "config.json: process: required to create a container");
		goto out;
	}
	husk_caps_check(spec->process, "config.json: process.capabilities");
	if (husk_reserve_preserved_fds(min_fd, e) < 0)
		goto out;
	/* A terminal goes to --console-socket, or is proxied by a foreground
	 * run; without a terminal there is nothing to send (as runc). */
	bool proxy_tty = spec->process->terminal && !o->console_socket;
	if (proxy_tty && (!out || o->detach)) {
		husk_err(e, 0, "cannot allocate a tty if husk will detach without setting a console socket");
		goto out;
	}
	if (!spec->process->terminal && o->console_socket) {
		husk_err(e, 0, "cannot use a console socket if husk will not allocate a tty");
		goto out;
	}
	if (o->console_socket) {
		console_sock = husk_fd_above(husk_terminal_connect(o->console_socket, e), min_fd);
		if (console_sock < 0)
			goto out;
	}
	/* Labels and the seccomp filter are checked and compiled before
	 * anything exists, so a bad profile leaves nothing to clean up. */
	if (husk_label_check(spec->process, spec->mount_label, "config.json", e) < 0 ||
	    (spec->seccomp &&
	     husk_seccomp_prepare(spec->seccomp, "config.json: linux.seccomp", &seccomp, e) < 0))
		goto out;
	if (spec->intel_rdt.set && husk_rdt_available(e) < 0) {
		husk_err_wrap(e, "config.json");
		goto out;
	}
	create_sigs_begin(&sigs);
	if (husk_state_root_open(root_of(g), true, &rootfd, e) < 0)
		goto out;
	if (husk_state_dir_create(rootfd, o->id, &dirfd, e) < 0)
		goto out;
	dir_made = true;
	if (husk_state_lock(dirfd, e) < 0)
		goto out;

	struct husk_cgroup_opts cgo = {
		.systemd = g->systemd_cgroup,
		.rootless = g->rootless == 1 || (g->rootless == -1 && geteuid() != 0),
	};
	if (husk_cgroup_create(spec, o->id, &cgo, &cg, e) < 0)
		goto out;
	if (husk_cgroup_check_reused(cg, e) < 0) {
		husk_err_wrap(e, "cgroup");
		goto out;
	}
	if (husk_cgroup_apply_resources(cg, spec->resources, e) < 0)
		goto out;

	struct sockaddr_un addr;
	if (sock_addr(dirfd, HUSK_START_SOCK, &addr, e) < 0)
		goto out;
	listen_fd = husk_fd_above(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), min_fd);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(listen_fd, 1) < 0) {
		husk_errno(e, "start socket");
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		husk_errno(e, "sync socketpair");
		goto out;
	}
	sp[0] = husk_fd_above(sp[0], min_fd);
	sp[1] = husk_fd_above(sp[1], min_fd);
	if (husk_ns_plan_init(&ns, spec, min_fd, e) < 0)
		goto out;
	ns_ready = true;

	struct husk_init_config ic = {
		.spec = spec,
		.opts = o,
		.ns = &ns,
		.sync_fd = sp[1],
		.listen_fd = listen_fd,
		.preserve_fds = o->preserve_fds,
		.close_from = min_fd,
		.cgroup = cg,
		.seccomp = seccomp,
	};
	bool two_stage;
	if (husk_init_spawn(&ic, &first, &two_stage, e) < 0)
		goto out;
	create_victim[0] = first;
	husk_closep(&sp[1]);

	/* The init joins its cgroups itself; the id maps; then it goes on. */
	if (husk_init_release(&ic, first, two_stage, sp[0], e) < 0)
		goto out;
	/* idmap requests may come before and after the intermediate's pid. */
	if (husk_rootfs_idmap_serve(&husk_sys_real, sp[0], spec, e) < 0)
		goto out;
	if (two_stage) {
		int32_t pid;
		int r = husk_sync_expect(sp[0], SYNC_CHILD_PID, &pid, NULL, e);
		create_victim[0] = -1;
		while (waitpid(first, NULL, 0) < 0 && errno == EINTR)
			;
		first = -1;
		if (r < 0)
			goto out;
		init_pid = pid;
		create_victim[1] = init_pid;
	} else {
		init_pid = first;
		first = -1;
	}

	if (two_stage && husk_rootfs_idmap_serve(&husk_sys_real, sp[0], spec, e) < 0)
		goto out;
	/* Network devices and resctrl groups, before any hook or the
	 * process runs. */
	if (husk_netdev_move_in(spec, init_pid, &netdevs, e) < 0 ||
	    husk_rdt_apply(&spec->intel_rdt, HUSK_RESCTRL_ROOT, o->id, init_pid, &husk_rdt_sys_ops, &rdt,
			   e) < 0) {
		husk_err_wrap(e, "config.json");
		goto out;
	}
	if (husk_init_wants_runtime_hooks(spec) || spec->hooks[HUSK_HOOK_CREATE_CONTAINER].n) {
		int32_t which;
		if (husk_sync_expect(sp[0], SYNC_HOOKS, &which, NULL, e) < 0)
			goto out;
		state_json = make_state_json(o->id, init_pid, "creating", bundle, spec);
		if (which == 0 &&
		    (husk_hooks_run(&spec->hooks[HUSK_HOOK_PRESTART], HUSK_HOOK_PRESTART, state_json, e) < 0 ||
		     husk_hooks_run(&spec->hooks[HUSK_HOOK_CREATE_RUNTIME], HUSK_HOOK_CREATE_RUNTIME,
				    state_json, e) < 0))
			goto out;
		if (husk_sync_send(sp[0], SYNC_HOOKS_DONE, 0, state_json, strlen(state_json), e) < 0)
			goto out;
	}
	if (spec->process->terminal) {
		if (husk_sync_expect_fd(sp[0], SYNC_CONSOLE, &master, e) < 0)
			goto out;
		if (console_sock >= 0 && husk_terminal_send_console(console_sock, master, e) < 0)
			goto out;
	}
	if (husk_seccomp_notifies(seccomp)) {
		/* The agent gets the filter's fd and the state, once. */
		_cleanup_fd_ int notify_fd = -1;
		if (husk_sync_expect_fd(sp[0], SYNC_SECCOMP, &notify_fd, e) < 0)
			goto out;
		if (!state_json)
			state_json = make_state_json(o->id, init_pid, "creating", bundle, spec);
		if (husk_seccomp_send_listener(seccomp, notify_fd, init_pid, state_json, e) < 0) {
			husk_err_wrap(e, "config.json: linux.seccomp.listenerPath");
			goto out;
		}
	}
	if (husk_sync_expect(sp[0], SYNC_READY, NULL, NULL, e) < 0)
		goto out;

	char created[48];
	husk_rfc3339_now(created, sizeof(created));
	struct husk_state st = {
		.id = (char *)o->id,
		.pid = init_pid,
		.pid_start = husk_proc_starttime(init_pid, NULL),
		.bundle = bundle,
		.rootfs = spec->root_path,
		.created = created,
		.owner = (char *)"",
		.hooks = hooks_to_json(spec),
		.cgroup = husk_cgroup_serialize(cg),
		/* borrowed: exec's view of the config, the bundle aside */
		.process = json_object_get(spec->doc, "process"),
		.seccomp = spec->seccomp,
		.has_personality = spec->has_personality,
		.personality = spec->personality,
		.mempolicy = json_object_get(json_object_get(spec->doc, "linux"), "memoryPolicy"),
		.net_devices = netdevs,
		.intel_rdt = rdt,
	};
	if (spec->n_annotations) {
		st.annotations = json_object();
		for (size_t i = 0; i < spec->n_annotations; i++)
			json_object_set_new(st.annotations, spec->annotations[i].key,
					    json_string(spec->annotations[i].value));
	}
	int r = husk_state_write(dirfd, &st, e);
	json_decref(st.hooks);
	json_decref(st.annotations);
	free(st.cgroup);
	if (r < 0)
		goto out;
	if (o->pid_file && husk_write_pid_file(o->pid_file, init_pid, e) < 0)
		goto out;
	pid_file_written = o->pid_file != NULL;
	/* From here a signal finds the container made. */
	if ((sig = create_sigs_end(&sigs))) {
		husk_err(e, EINTR, "interrupted by signal %d", sig);
		goto out;
	}
	if (out) {
		out->init_pid = init_pid;
		out->master = proxy_tty ? move_fd(&master) : -1;
	}
	ret = 0;
out:
	if (ret < 0) {
		sig = create_sigs_end(&sigs);
		/* Nothing left behind: the init, its cgroup, the state dir. */
		if (first > 0) {
			kill(first, SIGKILL);
			while (waitpid(first, NULL, 0) < 0 && errno == EINTR)
				;
		}
		if (init_pid > 0 && netdevs) {
			/* Before the namespace dies with the init (and virtual
			 * devices with it). */
			struct husk_error ignored;
			_cleanup_fd_ int pidfd = husk_pidfd_open(init_pid);
			if (pidfd >= 0)
				husk_netdev_give_back(netdevs, pidfd, &ignored);
		}
		if (init_pid > 0) {
			kill(init_pid, SIGKILL);
			while (waitpid(init_pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
		struct husk_error ignored;
		husk_cgroup_destroy(cg, &ignored);
		if (rdt) {
			struct husk_error ignored;
			husk_rdt_remove(rdt, &husk_rdt_sys_ops, &ignored);
		}
		if (dir_made) {
			struct husk_error ignored;
			husk_state_dir_remove(rootfd, o->id, &ignored);
		}
		if (pid_file_written)
			unlink(o->pid_file);
	}
	free(state_json);
	json_decref(netdevs);
	json_decref(rdt);
	husk_seccomp_free(seccomp);
	husk_closep(&master);
	husk_closep(&console_sock);
	if (ns_ready)
		husk_ns_plan_close(&ns);
	husk_cgroup_free(cg);
	husk_closep(&sp[0]);
	husk_closep(&sp[1]);
	husk_closep(&listen_fd);
	husk_closep(&dirfd);
	husk_closep(&rootfd);
	husk_spec_free(spec);
	create_sigs_restore(&sigs, sig);
	return ret;
}

int husk_container_create(const struct husk_global_opts *g, const struct husk_create_opts *o,
			  struct husk_error *e)
{
	return do_create(g, o, NULL, e);
}

int husk_container_open(const struct husk_global_opts *g, const char *id, int *rootfd, int *dirfd,
			  struct husk_state **st, struct husk_error *e)
{
	if (husk_validate_id(id, e) < 0)
		return -1;
	if (husk_state_root_open(root_of(g), false, rootfd, e) < 0) {
		if (e->errnum == ENOENT)
			return husk_err(e, 0, "container does not exist");
		return -1;
	}
	if (husk_state_dir_open(*rootfd, id, dirfd, e) < 0 || husk_state_lock(*dirfd, e) < 0)
		return -1;
	return husk_state_read(*dirfd, st, e);
}

int husk_container_start(const struct husk_global_opts *g, const char *id, struct husk_error *e)
{
	_cleanup_fd_ int rootfd = -1, dirfd = -1, conn = -1;
	_cleanup_free_ char *created_json = NULL, *running_json = NULL;
	struct husk_state *st = NULL;
	int ret = -1;
	if (husk_container_open(g, id, &rootfd, &dirfd, &st, e) < 0)
		goto out;
	const char *status = husk_state_status(dirfd, st);
	if (strcmp(status, "created") != 0) {
		husk_err(e, 0, "cannot start a container in the %s state", status);
		goto out;
	}
	struct sockaddr_un addr;
	if (sock_addr(dirfd, HUSK_START_SOCK, &addr, e) < 0)
		goto out;
	conn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (conn < 0 || connect(conn, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		husk_errno(e, "connect to the container's init");
		goto out;
	}
	/* One start only: whoever connects first owns it. */
	unlinkat(dirfd, HUSK_START_SOCK, 0);
	created_json = husk_state_oci_json(st, "created", false);
	if (husk_write_all(conn, created_json, strlen(created_json)) < 0 || shutdown(conn, SHUT_WR) < 0) {
		husk_errno(e, "send start");
		goto out;
	}
	/* EOF: the init exec'd the process (the connection is close-on-exec);
	 * a message: what went wrong before or at exec. */
	char buf[sizeof(struct husk_sync_msg) + HUSK_ERR_MSG_MAX];
	ssize_t n = husk_read_all(conn, buf, sizeof(buf) - 1);
	if (n >= (ssize_t)sizeof(struct husk_sync_msg)) {
		struct husk_sync_msg h;
		memcpy(&h, buf, sizeof(h));
		buf[n] = '\0';
		husk_err(e, h.val, "%s", buf + sizeof(h));
		goto out;
	}
	running_json = husk_state_oci_json(st, "running", false);
	struct husk_error herr;
	if (run_state_hooks(st->hooks, HUSK_HOOK_POSTSTART, running_json, &herr) < 0) {
		char why[HUSK_ERR_MSG_MAX + 64];
		husk_warn("%s", husk_err_str(&herr, why, sizeof(why)));
	}
	ret = 0;
out:
	husk_state_free(st);
	return ret;
}

static int wait_pidfd(int pidfd, int timeout_ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int r;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r;
}

/* Signal every process in the container's cgroup; wait: until they are
 * gone (a frozen cgroup is thawed for SIGKILL). */
static int kill_cgroup(const struct husk_state *st, int sig, bool wait, struct husk_error *e)
{
	struct husk_cgroup *cg = NULL;
	if (husk_cgroup_deserialize(st->cgroup, &cg, e) < 0)
		return -1;
	int r = husk_cgroup_kill_all(cg, sig, wait, e);
	husk_cgroup_free(cg);
	return r;
}

int husk_container_kill(const struct husk_global_opts *g, const char *id, int sig, bool all,
			struct husk_error *e)
{
	_cleanup_fd_ int rootfd = -1, dirfd = -1, pidfd = -1;
	struct husk_state *st = NULL;
	int ret = -1;
	if (husk_container_open(g, id, &rootfd, &dirfd, &st, e) < 0)
		goto out;
	const char *status = husk_state_status(dirfd, st);
	if (!strcmp(status, "stopped") && !all) {
		husk_err(e, 0, "container not running");
		goto out;
	}
	if (all) {
		ret = kill_cgroup(st, sig, false, e);
		goto out;
	}
	pidfd = husk_init_pidfd(st);
	if (pidfd < 0 || husk_pidfd_send_signal(pidfd, sig) < 0) {
		if (errno == ESRCH)
			husk_err(e, 0, "container not running");
		else
			husk_errno(e, "send signal %d", sig);
		goto out;
	}
	ret = 0;
out:
	husk_state_free(st);
	return ret;
}

static void give_back_pinned(const struct husk_state *st)
{
	struct husk_error nerr;
	if (husk_netdev_give_back_pinned(st->net_devices, &nerr) < 0) {
		char why[HUSK_ERR_MSG_MAX + 64];
		husk_warn("%s", husk_err_str(&nerr, why, sizeof(why)));
	}
}

/* Stop everything, run poststop hooks, remove the cgroup and the state. */
static int destroy_container(int rootfd, int dirfd, const struct husk_state *st, bool running,
			     struct husk_error *e)
{
	if (running) {
		_cleanup_fd_ int pidfd = husk_init_pidfd(st);
		struct husk_error nerr;
		/* While the namespace lives: a stopped container's went with
		 * its init (physical devices back to the root namespace,
		 * virtual ones destroyed, by the kernel). */
		if (pidfd >= 0 && st->net_devices && husk_netdev_give_back(st->net_devices, pidfd, &nerr) < 0) {
			char why[HUSK_ERR_MSG_MAX + 64];
			husk_warn("%s", husk_err_str(&nerr, why, sizeof(why)));
		}
		if (pidfd < 0 && st->net_devices)
			give_back_pinned(st);
		if (pidfd >= 0)
			husk_pidfd_send_signal(pidfd, SIGKILL);
		if (kill_cgroup(st, SIGKILL, true, e) < 0)
			return -1;
		if (pidfd >= 0 && wait_pidfd(pidfd, 10000) == 0)
			return husk_err(e, ETIMEDOUT, "wait for the container's init to die");
	}
	if (!running && st->net_devices)
		give_back_pinned(st);
	if (st->hooks) {
		_cleanup_free_ char *stopped = husk_state_oci_json(st, "stopped", false);
		struct husk_error herr;
		if (run_state_hooks(st->hooks, HUSK_HOOK_POSTSTOP, stopped, &herr) < 0) {
			char why[HUSK_ERR_MSG_MAX + 64];
			husk_warn("%s", husk_err_str(&herr, why, sizeof(why)));
		}
	}
	struct husk_cgroup *cg = NULL;
	if (husk_cgroup_deserialize(st->cgroup, &cg, e) < 0)
		return husk_err_wrap(e, "cgroup");
	int r = husk_cgroup_destroy(cg, e);
	husk_cgroup_free(cg);
	if (r < 0)
		return husk_err_wrap(e, "remove cgroup");
	if (st->intel_rdt && husk_rdt_remove(st->intel_rdt, &husk_rdt_sys_ops, e) < 0)
		return -1;
	(void)dirfd;
	return husk_state_dir_remove(rootfd, st->id, e);
}

/* No state root or no directory for a valid id: nothing to delete. */
static bool container_missing(const struct husk_global_opts *g, const char *id, int rootfd)
{
	struct husk_error ignored;
	if (husk_validate_id(id, &ignored) < 0)
		return false;
	int r = rootfd < 0 ? access(root_of(g), F_OK) : faccessat(rootfd, id, F_OK, AT_SYMLINK_NOFOLLOW);
	return r < 0 && errno == ENOENT;
}

int husk_container_delete(const struct husk_global_opts *g, const char *id, bool force,
			  struct husk_error *e)
{
	_cleanup_fd_ int rootfd = -1, dirfd = -1;
	struct husk_state *st = NULL;
	int ret = -1;
	if (husk_container_open(g, id, &rootfd, &dirfd, &st, e) < 0) {
		/* A create that died half-way leaves a directory without state:
		 * --force cleans it up. */
		if (force && rootfd >= 0 && dirfd >= 0 && !st) {
			struct husk_error ignored;
			husk_state_dir_remove(rootfd, id, &ignored);
			ret = 0;
		}
		/* --force of a container that is not there succeeds quietly,
		 * as runc's does: cleanup scripts need not check first. */
		if (force && dirfd < 0 && !st && container_missing(g, id, rootfd))
			ret = 0;
		goto out;
	}
	const char *status = husk_state_status(dirfd, st);
	bool stopped = !strcmp(status, "stopped");
	if (!stopped && !force) {
		husk_err(e, 0, "cannot delete container that is not stopped: %s", status);
		goto out;
	}
	ret = destroy_container(rootfd, dirfd, st, !stopped, e);
out:
	husk_state_free(st);
	return ret;
}

int husk_container_state(const struct husk_global_opts *g, const char *id, char **json,
			 struct husk_error *e)
{
	_cleanup_fd_ int rootfd = -1, dirfd = -1;
	struct husk_state *st = NULL;
	if (husk_container_open(g, id, &rootfd, &dirfd, &st, e) < 0) {
		husk_state_free(st);
		return -1;
	}
	*json = husk_state_oci_json(st, husk_state_status(dirfd, st), true);
	husk_state_free(st);
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct husk_list_entry *)a)->id, ((const struct husk_list_entry *)b)->id);
}

static char *owner_name(uid_t uid)
{
	/* /etc/passwd by hand: NSS is unavailable in the static build. */
	_cleanup_file_ FILE *f = fopen("/etc/passwd", "re");
	char line[512];
	while (f && fgets(line, sizeof(line), f)) {
		char *name = strtok(line, ":");
		strtok(NULL, ":");
		char *id = strtok(NULL, ":");
		if (name && id && (uid_t)strtoul(id, NULL, 10) == uid)
			return xstrdup(name);
	}
	return xasprintf("#%u", (unsigned)uid);
}

int husk_container_list(const struct husk_global_opts *g, struct husk_list_entry **out, size_t *n,
			struct husk_error *e)
{
	*out = NULL;
	*n = 0;
	int rootfd;
	if (husk_state_root_open(root_of(g), false, &rootfd, e) < 0)
		return e->errnum == ENOENT ? 0 : -1;
	DIR *d = fdopendir(rootfd);
	if (!d) {
		close(rootfd);
		return husk_errno(e, "read state root");
	}
	_cleanup_dir_ DIR *dir = d;
	struct husk_list_entry *v = NULL;
	size_t cnt = 0;
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_fd_ int dfd = openat(rootfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			continue;
		struct husk_state *st = NULL;
		struct husk_error ignored;
		if (husk_state_read(dfd, &st, &ignored) < 0)
			continue;
		struct stat sb;
		uid_t uid = fstat(dfd, &sb) == 0 ? sb.st_uid : 0;
		const char *status = husk_state_status(dfd, st);
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		v[cnt++] = (struct husk_list_entry){
			.id = xstrdup(st->id),
			.pid = strcmp(status, "stopped") ? st->pid : 0,
			.status = xstrdup(status),
			.bundle = xstrdup(st->bundle ? st->bundle : ""),
			.created = xstrdup(st->created ? st->created : ""),
			.owner = owner_name(uid),
			.rootfs = xstrdup(st->rootfs ? st->rootfs : ""),
			.oci_version = HUSK_SPEC_VERSION,
		};
		husk_state_free(st);
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_entry);
	*out = v;
	*n = cnt;
	return 0;
}

void husk_list_free(struct husk_list_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].status);
		free(v[i].bundle);
		free(v[i].created);
		free(v[i].owner);
		free(v[i].rootfs);
	}
	free(v);
}

static const int forwarded_signals[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
					 SIGWINCH, SIGCONT, SIGALRM, SIGPWR };

int husk_container_run(const struct husk_global_opts *g, const struct husk_create_opts *o,
		       int *exit_status, struct husk_error *e)
{
	*exit_status = 0;
	sigset_t set, old;
	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(forwarded_signals); i++)
		sigaddset(&set, forwarded_signals[i]);
	sigaddset(&set, SIGCHLD);
	/* Blocked before the clone: nothing is lost between start and wait;
	 * the init resets its mask before exec. */
	if (!o->detach)
		sigprocmask(SIG_BLOCK, &set, &old);

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
	int status = 0;
	int r = husk_terminal_wait(c.init_pid, c.master, &set, &status, e);
	husk_closep(&c.master);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		struct husk_error ignored;
		husk_container_delete(g, o->id, true, &ignored);
		return -1;
	}
	*exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
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
