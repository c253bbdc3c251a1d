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
#include <sys/un.h>
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

const char *husk_root_of(const struct husk_global_opts *g)
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

int husk_sock_addr_at(int dirfd, const char *name, struct sockaddr_un *a, struct husk_error *e)
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

static int run_state_hooks(json_t *hooks_json, enum husk_hook_kind kind, const char *state_json,
			   struct husk_error *e)
{
	if (!hooks_json || !json_object_get(hooks_json, husk_hook_name(kind)))
		return 0;
	/* the stored hooks, decoded by the config's hooks parser */
	struct husk_hook_list hooks[HUSK_HOOK__COUNT] = { 0 };
	int r = husk_hooks_parse(hooks_json, hooks, e);
	if (r < 0)
		husk_err_wrap(e, "config.json");
	else
		r = husk_hooks_run(&hooks[kind], kind, state_json, e);
	husk_hooks_free(hooks);
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

int husk_container_open(const struct husk_global_opts *g, const char *id, int *rootfd, int *dirfd,
			  struct husk_state **st, struct husk_error *e)
{
	if (husk_validate_id(id, e) < 0)
		return -1;
	if (husk_state_root_open(husk_root_of(g), false, rootfd, e) < 0) {
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
	if (husk_sock_addr_at(dirfd, HUSK_START_SOCK, &addr, e) < 0)
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

/* Signal every process in the container's mount namespace (one without
 * a cgroup or pid namespace of its own); the count signalled. */
static int signal_mount_ns(const struct husk_state *st, int sig)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = husk_state_mount_ns_pids(st, &pids);
	int hit = 0;
	for (size_t i = 0; i < n; i++) {
		/* the pidfd, then the check again: a pid reused since is not hit */
		_cleanup_fd_ int pidfd = husk_pidfd_open(pids[i]);
		if (pidfd >= 0 && husk_state_in_mount_ns(st, pids[i]) &&
		    husk_pidfd_send_signal(pidfd, sig) == 0)
			hit++;
	}
	return hit;
}

static int kill_mount_ns(const struct husk_state *st, int sig, bool wait, struct husk_error *e)
{
	int n = signal_mount_ns(st, sig);
	/* zombies leave the namespace: none is counted */
	for (int tries = 0; wait && n > 0; tries++) {
		if (tries == 1000)
			return husk_err(e, ETIMEDOUT, "wait for the container's processes to die");
		usleep(10000);
		n = signal_mount_ns(st, sig);
	}
	return 0;
}

/* Signal every process in the container's cgroup (or, without one, its
 * mount namespace); wait: until they are gone (a frozen cgroup is thawed
 * for SIGKILL). */
static int kill_all(const struct husk_state *st, int sig, bool wait, struct husk_error *e)
{
	if (st->mnt_ns_id) /* recorded only without a cgroup */
		return kill_mount_ns(st, sig, wait, e);
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
		ret = kill_all(st, sig, false, e);
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
		if (kill_all(st, SIGKILL, true, e) < 0)
			return -1;
		if (pidfd >= 0 && wait_pidfd(pidfd, 10000) == 0)
			return husk_err(e, ETIMEDOUT, "wait for the container's init to die");
	}
	if (!running && st->net_devices)
		give_back_pinned(st);
	/* the init's end ended none of the others */
	if (!running && st->mnt_ns_id && kill_mount_ns(st, SIGKILL, true, e) < 0)
		return -1;
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
	int r = rootfd < 0 ? access(husk_root_of(g), F_OK) : faccessat(rootfd, id, F_OK, AT_SYMLINK_NOFOLLOW);
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
	if (husk_state_root_open(husk_root_of(g), false, &rootfd, e) < 0)
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
