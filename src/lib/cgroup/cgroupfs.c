/* The cgroupfs manager: the container's cgroup as directories of the
 * host's hierarchies (v1, v2 and hybrid hosts), each controller used where
 * it lives.  Every hierarchy gets the same cgroup path; we remember how
 * many trailing components of it we created so that removal takes exactly
 * those away.  Limits are written by apply.c, freeze/kill/OOM events in
 * control.c, stats in stats.c. */
#include "cgroup/cgroup.h"
#include "cgroup/cgroup_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* runc puts a container without cgroupsPath below its caller's own cgroup;
 * we use a fixed absolute parent instead so that a runtime started from
 * inside some service's cgroup never creates cgroups in there. */
#define DEFAULT_PARENT "/husk"

/* ---- directory fds ---- */

int husk_cg_mount_open(const struct hier *h, const char **rel)
{
	size_t ml = strlen(h->mountpoint);
	const char *at = h->mountpoint;
	if (strncmp(h->dir, h->mountpoint, ml) == 0 && (h->dir[ml] == '/' || !h->dir[ml]))
		*rel = h->dir[ml] && h->dir[ml + 1] ? h->dir + ml + 1 : ".";
	else /* not below its mount (an old record): from the root */
		at = "/", *rel = h->dir[1] ? h->dir + 1 : ".";
	return open(at, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

int husk_cg_hier_open(const struct hier *h, int flags)
{
	const char *rel;
	_cleanup_fd_ int mfd = husk_cg_mount_open(h, &rel);
	if (mfd < 0)
		return -1;
	return openat(mfd, rel, flags | O_DIRECTORY | O_CLOEXEC);
}

int husk_cg_write_at(const struct husk_cgroup *cg, int dfd, const char *dir, const char *file,
		     const char *value, struct husk_error *e)
{
	_cleanup_fd_ int fd = openat(dfd, file, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return husk_errno(e, "open %s/%s", dir, file);
	size_t len = strlen(value);
	ssize_t n = cg->sys->write(fd, value, len);
	if (n < 0)
		return husk_errno(e, "write %s/%s", dir, file);
	if ((size_t)n != len)
		return husk_err(e, EIO, "write %s/%s: short write", dir, file);
	return 0;
}

/* ---- create ---- */

/* A new v1 cpuset cgroup starts with empty cpus and mems, and no task can
 * join it until they are filled: copy them from the parent into the
 * directory dfd (dir: its path, for errors). */
static int cpuset_inherit(const struct husk_cgroup *cg, int dfd, const char *dir, struct husk_error *e)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *cur = NULL, *parent = NULL;
		if (husk_read_file_at(dfd, files[i], &cur, NULL, e) < 0)
			return -1;
		if (cur[0] && cur[0] != '\n')
			continue;
		char pp[32];
		snprintf(pp, sizeof(pp), "../%s", files[i]);
		if (husk_read_file_at(dfd, pp, &parent, NULL, e) < 0)
			return -1;
		if (husk_cg_write_at(cg, dfd, dir, files[i], parent, e) < 0)
			return -1;
	}
	return 0;
}

/* A cpuset directory we have just made: its cpus and mems are empty, so
 * they are copied without looking, the parent's values read only once for
 * the whole path (vals: cpus and mems, NULL until read). */
static int cpuset_fill_new(const struct husk_cgroup *cg, int dfd, const char *dir, char **vals[2],
			   struct husk_error *e)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char pp[32];
		snprintf(pp, sizeof(pp), "../%s", files[i]);
		if (!*vals[i] && husk_read_file_at(dfd, pp, vals[i], NULL, e) < 0)
			return -1;
		if (husk_cg_write_at(cg, dfd, dir, files[i], *vals[i], e) < 0)
			return -1;
	}
	return 0;
}

/* cpuset_inherit for every directory from below the mount point down to
 * h->dir, top-down: a parent made by a concurrent create may still be
 * empty.  Each is opened from the one above it. */
static int cpuset_inherit_path(const struct husk_cgroup *cg, const struct hier *h, struct husk_error *e)
{
	const char *rel;
	int fd = husk_cg_mount_open(h, &rel);
	if (fd < 0)
		return husk_errno(e, "open %s", h->mountpoint);
	_cleanup_free_ char *p = xstrdup(h->dir);
	size_t off = (size_t)(rel - h->dir), len = strlen(p);
	for (size_t i = off, start = off; strcmp(rel, ".") != 0 && i <= len; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char c = p[i];
		p[i] = '\0';
		int next = openat(fd, p + start, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = next;
		if (fd < 0)
			return husk_errno(e, "open %s", p);
		if (cpuset_inherit(cg, fd, p, e) < 0) {
			close(fd);
			return -1;
		}
		p[i] = c;
		start = i + 1;
	}
	close(fd);
	return 0;
}

/* Remove the cgroup rel (below the directory at) and any cgroups below it
 * (a container may have made some).  Emptied cgroups can stay busy for a
 * moment while their last tasks finish exiting, so retry EBUSY a few
 * times.  dir: rel's full path, for errors. */
static int rmdir_cgroup(const struct husk_cgroup *cg, int at, const char *rel, const char *dir, bool retry,
			struct husk_error *e)
{
	/* Cgroups below are rare: look for them only when it is busy. */
	if (cg->sys->unlinkat(at, rel, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return 0;
	int dfd = openat(at, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_dir_ DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (dfd >= 0 && !d)
		close(dfd);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_free_ char *sub = xasprintf("%s/%s", dir, de->d_name);
		if (rmdir_cgroup(cg, dirfd(d), de->d_name, sub, retry, e) < 0)
			return -1;
	}
	unsigned delay_us = 1000;
	for (int attempt = 0;; attempt++) {
		if (cg->sys->unlinkat(at, rel, AT_REMOVEDIR) == 0 || errno == ENOENT)
			return 0;
		if (!retry || errno != EBUSY || attempt >= 8)
			return husk_errno(e, "rmdir %s", dir);
		usleep(delay_us);
		delay_us *= 2;
	}
}

/* Take away the directories we created in h, deepest first, by their
 * paths below the mount's fd. */
static int remove_created(const struct husk_cgroup *cg, struct hier *h, struct husk_error *e)
{
	if (h->created <= 0)
		return 0;
	const char *rel;
	_cleanup_fd_ int mfd = husk_cg_mount_open(h, &rel);
	if (mfd < 0 && errno != ENOENT)
		return husk_errno(e, "open %s", h->mountpoint);
	if (mfd < 0 || !strcmp(rel, ".")) { /* the mount is gone; its root is not ours */
		h->created = 0;
		return 0;
	}
	if (rmdir_cgroup(cg, mfd, rel, h->dir, true, e) < 0)
		return -1;
	h->created--;
	_cleanup_free_ char *p = xstrdup(rel);
	/* Parents may be shared with other containers: one try each, and a
	 * busy one stays (with every parent above it). */
	while (h->created > 0) {
		char *slash = strrchr(p, '/');
		if (!slash)
			break;
		*slash = '\0';
		if (cg->sys->unlinkat(mfd, p, AT_REMOVEDIR) < 0 && errno != ENOENT)
			break;
		h->created--;
	}
	h->created = 0;
	return 0;
}

/* rmdir p (a path whose first base_len characters are base's) and then
 * its parents, count directories in all, by their paths below base. */
static void rmdir_upward(const struct husk_cgroup *cg, int base, char *p, size_t base_len, int count)
{
	while (count-- > 0 && strlen(p) > base_len + 1) {
		if (cg->sys->unlinkat(base, p + base_len + 1, AT_REMOVEDIR) < 0 && errno != ENOENT)
			return;
		*strrchr(p, '/') = '\0';
	}
}

int husk_cgfs_make_dirs(const struct husk_cgroup *cg, struct hier *h, size_t base_len,
			struct husk_error *e)
{
	_cleanup_free_ char *p = xstrdup(h->dir);
	size_t len = strlen(p);
	if (len <= base_len)
		return h->created = 0;
	/* Relative to the base's fd: a directory made is the one asked for. */
	p[base_len] = '\0';
	_cleanup_fd_ int base = open(base_len ? p : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	p[base_len] = '/';
	if (base < 0)
		return husk_errno(e, "open %.*s", (int)base_len, p);
	bool cpuset = husk_cg_ctrl_has(h->ctrl, "cpuset");
	_cleanup_free_ char *cpus = NULL, *mems = NULL;
	char **cpuset_vals[2] = { &cpus, &mems };
	int made = 0, restarts = 0;
	h->created = 0;
	for (size_t i = base_len + 1; i <= len; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		int r = cg->sys->mkdirat(base, p + base_len + 1, 0755);
		if (r < 0 && errno == ENOENT && restarts++ < 5) {
			/* A concurrent delete removed a shared parent under
			 * our feet: walk again from the top. */
			p[i] = i < len ? '/' : '\0';
			i = base_len;
			made = 0;
			continue;
		}
		if (r == 0) {
			made++;
			_cleanup_fd_ int dfd = -1;
			if (cpuset && (dfd = openat(base, p + base_len + 1, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
				husk_errno(e, "open %s", p);
			if (cpuset && (dfd < 0 || cpuset_fill_new(cg, dfd, p, cpuset_vals, e) < 0)) {
				rmdir_upward(cg, base, p, base_len, made);
				return -1;
			}
		} else if (errno != EEXIST) {
			husk_errno(e, "mkdir %s", p);
			char *slash = strrchr(p, '/');
			if (slash)
				*slash = '\0';
			rmdir_upward(cg, base, p, base_len, made);
			return -1;
		} else {
			struct stat st;
			if (i == len && (fstatat(base, p + base_len + 1, &st, 0) < 0 || !S_ISDIR(st.st_mode))) {
				/* "tasks", "cgroup.procs": a file of the parent */
				husk_err(e, ENOTDIR, "mkdir %s", p);
				*strrchr(p, '/') = '\0';
				rmdir_upward(cg, base, p, base_len, made);
				return -1;
			}
			made = 0; /* existed already (or appeared under our feet) */
		}
		if (i < len)
			p[i] = '/';
	}
	h->created = made;
	return 0;
}

/* runc leaves out a default device rule whose node linux.devices
 * replaces; the linux.devices entries themselves get no rule. */
uint32_t husk_cgfs_device_skip(const struct husk_spec *spec)
{
	uint32_t skip = 0;
	for (size_t i = 0; spec && i < spec->n_devices; i++)
		for (size_t j = 0; j < husk_cg_n_default_devices; j++)
			if (husk_cg_default_device_paths[j] && spec->devices[i].path &&
			    strcmp(spec->devices[i].path, husk_cg_default_device_paths[j]) == 0)
				skip |= 1u << j;
	return skip;
}

/* Pure v2: the controllers of the unified root are enabled down to the
 * container's parent, so that its limits and stats files exist. */
void husk_cgfs_v2_enable_all(struct hier *h)
{
	_cleanup_free_ char *f = xasprintf("%s/cgroup.controllers", h->mountpoint);
	_cleanup_free_ char *avail = NULL;
	struct husk_error e2;
	if (husk_read_file_at(AT_FDCWD, f, &avail, NULL, &e2) < 0)
		return;
	avail[strcspn(avail, "\n")] = '\0';
	if (*avail && husk_cg_v2_enable(h, avail, &e2) < 0) {
		char why[HUSK_ERR_MSG_MAX + 64];
		husk_debug("%s", husk_err_str(&e2, why, sizeof(why)));
	}
}
int husk_cgfs_create(const struct husk_cg_layout *host, const struct husk_spec *spec, const char *id,
		     struct husk_cgroup **out, struct husk_error *e)
{
	const char *want = spec && spec->cgroups_path && *spec->cgroups_path ? spec->cgroups_path : NULL;
	_cleanup_free_ char *dflt = NULL;
	if (!want)
		want = dflt = xasprintf("%s/%s", DEFAULT_PARENT, id);
	bool relative = want[0] != '/';
	_cleanup_free_ char *rel = NULL;
	if (husk_cg_clean_path(want, &rel, e) < 0)
		return -1;

	/* A layout the caller found already (tests), or the host's. */
	struct husk_cg_layout l = *host;
	if (!host->n && husk_cg_layout_read(&l, !relative, e) < 0)
		return -1;
	struct cg_mount *m = l.m;
	size_t nm = l.n;
	_cleanup_free_ char *proc_cgroup = NULL;
	if (relative && husk_read_file_at(AT_FDCWD, "/proc/self/cgroup", &proc_cgroup, NULL, e) < 0) {
		if (!host->n)
			husk_cg_layout_free(&l);
		return -1;
	}

	struct husk_cgroup *cg = husk_cg_alloc(&husk_cgroup_cgroupfs, l.kind, nm);
	cg->sys = host->sys;
	int r = 0;
	for (size_t i = 0; i < nm && r == 0; i++) {
		struct hier *h = &cg->h[cg->n++];
		h->ctrl = xstrdup(m[i].ctrl);
		h->mountpoint = xstrdup(m[i].mountpoint);
		/* base: the directory the cgroupsPath is relative to. */
		_cleanup_free_ char *base = NULL;
		if (!relative) {
			base = xstrdup(m[i].mountpoint);
		} else {
			char own[PATH_MAX];
			const char *o = husk_cg_own_cgroup(proc_cgroup, m[i].ctrl, own, sizeof(own));
			size_t rl = strlen(m[i].root);
			if (!o) {
				r = husk_err(e, ENOENT, "own cgroup for %s not in /proc/self/cgroup",
					     *m[i].ctrl ? m[i].ctrl : "cgroup2");
				break;
			}
			/* Mounted from a subtree (nested runtimes): strip its root. */
			if (strcmp(m[i].root, "/") != 0) {
				if (strncmp(o, m[i].root, rl) != 0 || (o[rl] && o[rl] != '/')) {
					r = husk_err(e, 0, "own cgroup %s is outside the %s mount",
						     o, m[i].mountpoint);
					break;
				}
				o += rl;
			}
			base = husk_cg_dir(m[i].mountpoint, o);
		}
		h->dir = *rel ? xasprintf("%s/%s", base, rel) : xstrdup(base);
		r = husk_cgfs_make_dirs(cg, h, strlen(base), e);
	}
	if (!host->n)
		husk_cg_layout_free(&l);
	if (r < 0) {
		struct husk_error ignored;
		for (size_t i = 0; i < cg->n; i++)
			remove_created(cg, &cg->h[i], &ignored);
		husk_cgroup_free(cg);
		return -1;
	}
	if (cg->layout == CG_V2)
		husk_cgfs_v2_enable_all(&cg->h[0]);
	cg->dev_skip = husk_cgfs_device_skip(spec);
	*out = cg;
	return 0;
}

/* ---- enter ---- */

/* Where exec puts a process in hierarchy i (husk_cgroup_exec_join_open). */
static char *exec_dir(const struct husk_cgroup *cg, size_t i, pid_t init)
{
	const struct hier *h = &cg->h[i];
	if (*h->ctrl)
		return xstrdup(h->dir);
	_cleanup_free_ char *f = xasprintf("%s/cgroup.subtree_control", h->dir);
	_cleanup_free_ char *ctl = NULL, *pf = NULL, *proc_cgroup = NULL;
	struct husk_error ignored;
	if (husk_read_file_at(AT_FDCWD, f, &ctl, NULL, &ignored) < 0 || ctl[strspn(ctl, " \n")] == '\0')
		return xstrdup(h->dir);
	pf = xasprintf("/proc/%d/cgroup", (int)init);
	char own[PATH_MAX];
	const char *o = husk_read_file_at(AT_FDCWD, pf, &proc_cgroup, NULL, &ignored) == 0
				? husk_cg_own_cgroup(proc_cgroup, "", own, sizeof(own))
				: NULL;
	if (!o)
		return xstrdup(h->dir);
	char *dir = husk_cg_dir(h->mountpoint, o);
	size_t dl = strlen(h->dir);
	if (strncmp(dir, h->dir, dl) != 0 || (dir[dl] != '/' && dir[dl] != '\0')) {
		free(dir); /* the init left the container's cgroup: not ours to follow */
		return xstrdup(h->dir);
	}
	return dir;
}

/* Make h's directory again after a concurrent delete of a shared
 * cgroupsPath removed it.  1: it was gone, 0: it is there. */
static int revive(struct husk_cgroup *cg, struct hier *h, struct husk_error *e)
{
	struct stat st;
	if (stat(h->dir, &st) == 0 || errno != ENOENT)
		return 0;
	int created = h->created;
	if (husk_cgfs_make_dirs(cg, h, strlen(h->mountpoint), e) < 0)
		return -1;
	h->created = created;
	if (husk_cg_ctrl_has(h->ctrl, "cpuset") && cpuset_inherit_path(cg, h, e) < 0)
		return -1;
	if (h->created < 1)
		h->created = 1;
	return 1;
}

int husk_cg_revive(struct husk_cgroup *cg, struct husk_error *e)
{
	int any = 0;
	for (size_t i = 0; i < cg->n; i++) {
		int r = revive(cg, &cg->h[i], e);
		if (r < 0)
			return -1;
		any |= r;
	}
	return any;
}

/* Move pid into h, retrying what concurrent creates and deletes of a
 * shared cgroupsPath can cause. */
static int enter_one(struct husk_cgroup *cg, struct hier *h, const char *pid, size_t len, bool *revived, struct husk_error *e)
{
	_cleanup_free_ char *f = xasprintf("%s/cgroup.procs", h->dir);
	/* Containers may share a cgroupsPath: another one's delete can
	 * remove the directory between our mkdir and this write. */
	for (int tries = 0;; tries++) {
		if (husk_write_file_at(AT_FDCWD, f, pid, len, e) == 0)
			return 0;
		bool cpuset = husk_cg_ctrl_has(h->ctrl, "cpuset");
		/* ENOSPC: a cpuset whose cpus/mems a concurrent create
		 * has not filled in yet. */
		/* ENODEV: the directory is being removed. */
		bool gone = e->errnum == ENOENT || e->errnum == ENODEV;
		if ((!gone && !(cpuset && e->errnum == ENOSPC)) || tries == 5)
			return husk_err_wrap(e, "join cgroup");
		if (gone) {
			int r = revive(cg, h, e);
			if (r < 0)
				return husk_err_wrap(e, "join cgroup");
			*revived |= r > 0;
		}
		if (cpuset && cpuset_inherit_path(cg, h, e) < 0)
			return husk_err_wrap(e, "join cgroup");
	}
}

int husk_cgfs_enter(struct husk_cgroup *cg, pid_t pid, const char *which, struct husk_error *e)
{
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	bool revived = false;
	for (size_t i = 0; i < cg->n; i++) {
		if (which && (i >= strlen(which) || which[i] != '1'))
			continue;
		if (enter_one(cg, &cg->h[i], buf, (size_t)n, &revived, e) < 0)
			return -1;
	}
	/* A cgroup made again lost the limits: set them again. */
	if (revived)
		return husk_cgfs_apply_recorded(cg, e);
	return 0;
}
/* ---- joins (manager.c says why the process joins by itself) ---- */

/* v1: the "tasks" file of dirs[i]; unified: the directory (clone3). */
static void join_fds(struct husk_cgroup_join *j, const struct husk_cgroup *cg, char *const *dirs)
{
	j->fd = xmalloc((cg->n ? cg->n : 1) * sizeof(*j->fd));
	for (size_t i = 0; i < j->n; i++) {
		const struct hier *h = &cg->h[i];
		j->fd[i] = -1;
		if (!*h->ctrl) {
			j->v2_dir = open(dirs ? dirs[i] : h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			j->v2_index = i;
			continue;
		}
		_cleanup_free_ char *f = xasprintf("%s/tasks", dirs ? dirs[i] : h->dir);
		j->fd[i] = open(f, O_WRONLY | O_CLOEXEC);
	}
}

void husk_cgfs_join_open(const struct husk_cgroup *cg, struct husk_cgroup_join *j)
{
	*j = (struct husk_cgroup_join){ .n = cg->n, .v2_dir = -1 };
	join_fds(j, cg, NULL);
}

/* Does the comma list ctrls name any controller of hierarchy h? */
static bool names_any(const char *ctrls, const struct hier *h)
{
	for (const char *s = ctrls; *s;) {
		const char *end = strchrnul(s, ',');
		_cleanup_free_ char *c = xstrndup(s, (size_t)(end - s));
		if (*c && husk_cg_ctrl_has(h->ctrl, c))
			return true;
		s = *end ? end + 1 : end;
	}
	return false;
}

int husk_cgfs_exec_join_open(const struct husk_cgroup *cg, const char *sub, pid_t init,
			     struct husk_cgroup_join *j, struct husk_error *e)
{
	const char *path = sub, *colon = sub ? strchr(sub, ':') : NULL;
	_cleanup_free_ char *ctrls = NULL;
	if (colon) {
		ctrls = xstrndup(sub, (size_t)(colon - sub));
		path = colon + 1;
	}
	if (sub && strstr(path, ".."))
		return husk_err(e, 0, "cgroup: --cgroup \"%s\": \"..\" is not allowed", sub);
	*j = (struct husk_cgroup_join){ .n = cg->n, .v2_dir = -1, .sub = sub ? xstrdup(sub) : NULL };
	j->dirs = xcalloc(cg->n + 1, sizeof(char *));
	for (size_t i = 0; i < cg->n; i++) {
		bool match = sub && (!ctrls || names_any(ctrls, &cg->h[i]));
		j->dirs[i] = match ? xasprintf("%s/%s", cg->h[i].dir, path) : exec_dir(cg, i, init);
	}
	join_fds(j, cg, j->dirs);
	return 0;
}

/* The init reported the hierarchies it could not join by itself. */
static int cgfs_init_attach(struct husk_cgroup *cg, pid_t pid, const char *need, struct husk_error *e)
{
	if (!strchr(need, '1'))
		return 0;
	if (husk_cgfs_enter(cg, pid, need, e) < 0)
		return husk_err_wrap(e, "cgroup");
	return 1;
}

static void cgfs_init_joined(struct husk_cgroup *cg)
{
	(void)cg;
}

/* ---- pids / destroy ---- */

/* The pids in cgroup.procs of the directory dfd and of the cgroups below it. */
static void collect_pids(int dfd, pid_t **v, size_t *n, size_t *cap)
{
	_cleanup_free_ char *text = NULL;
	struct husk_error ignored;
	if (husk_read_file_at(dfd, "cgroup.procs", &text, NULL, &ignored) == 0) {
		char *save = NULL;
		for (char *tok = strtok_r(text, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save)) {
			long pid;
			if (husk_parse_long(tok, 1, INT32_MAX, &pid) < 0)
				continue;
			if (*n == *cap) {
				*cap = *cap ? *cap * 2 : 16;
				*v = xrealloc(*v, *cap * sizeof(**v));
			}
			(*v)[(*n)++] = (pid_t)pid;
		}
	}
	int lfd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_dir_ DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
	if (lfd >= 0 && !d)
		close(lfd);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_fd_ int sub = openat(dirfd(d), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			collect_pids(sub, v, n, cap);
	}
}

int husk_cgfs_pids(struct husk_cgroup *cg, pid_t **out, size_t *n, struct husk_error *e)
{
	const struct hier *pick = NULL;
	/* Every process is in every hierarchy; pids (or the unified one)
	 * is where containers least often make sub-cgroups of their own. */
	for (size_t i = 0; i < cg->n && !pick; i++)
		if (husk_cg_ctrl_has(cg->h[i].ctrl, "pids"))
			pick = &cg->h[i];
	for (size_t i = 0; i < cg->n && !pick; i++)
		if (!*cg->h[i].ctrl)
			pick = &cg->h[i];
	if (!pick && cg->n)
		pick = &cg->h[0];
	if (!pick)
		return husk_err(e, ENOENT, "no cgroup hierarchy");
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	/* Gone means empty: systemd removes a scope once its last process
	 * exits, and a container sharing the path may have deleted it. */
	_cleanup_fd_ int dfd = husk_cg_hier_open(pick, O_PATH);
	if (dfd < 0)
		return errno == ENOENT ? 0 : husk_errno(e, "cgroup %s", pick->dir);
	collect_pids(dfd, out, n, &cap);
	return 0;
}

int husk_cgfs_destroy(struct husk_cgroup *cg, struct husk_error *e)
{
	int r = 0;
	for (size_t i = 0; i < cg->n; i++) {
		struct husk_error e2;
		if (remove_created(cg, &cg->h[i], &e2) < 0 && r == 0) {
			*e = e2;
			r = -1;
		}
	}
	return r;
}

size_t husk_cgfs_hierarchies(const struct husk_cgroup *cg, struct husk_cgroup_hier_info *out, size_t max)
{
	for (size_t i = 0; i < cg->n && i < max; i++)
		out[i] = (struct husk_cgroup_hier_info){
			.ctrl = cg->h[i].ctrl,
			.mountpoint = cg->h[i].mountpoint,
			.dir = cg->h[i].dir,
		};
	return cg->n;
}

int husk_cgfs_is_v2(const struct husk_cgroup *cg)
{
	return cg->layout == CG_V2;
}

void husk_cgfs_free(struct husk_cgroup *cg)
{
	for (size_t i = 0; i < cg->n; i++) {
		free(cg->h[i].ctrl);
		free(cg->h[i].dir);
		free(cg->h[i].mountpoint);
	}
	free(cg->h);
	free(cg->v2_avail);
	free(cg->delegate);
	json_decref(cg->resources);
}

static void cgfs_free(struct husk_cgroup *cg)
{
	husk_cgfs_free(cg);
}

const struct husk_cgroup_ops husk_cgroup_cgroupfs = {
	.name = "cgroupfs",
	.check_reused = husk_cgfs_check_reused,
	.apply = husk_cgfs_apply,
	.update = husk_cgfs_update,
	.join_open = husk_cgfs_join_open,
	.exec_join_open = husk_cgfs_exec_join_open,
	.init_attach = cgfs_init_attach,
	.init_joined = cgfs_init_joined,
	.enter = husk_cgfs_enter,
	.freeze = husk_cgfs_freeze,
	.frozen = husk_cgfs_frozen,
	.kill = husk_cgfs_kill,
	.pids = husk_cgfs_pids,
	.stats = husk_cgfs_stats,
	.oom_open = husk_cgfs_oom_open,
	.oom_count = husk_cgfs_oom_count,
	.destroy = husk_cgfs_destroy,
	.hierarchies = husk_cgfs_hierarchies,
	.is_v2 = husk_cgfs_is_v2,
	.encode = husk_cg_record_encode,
	.free = cgfs_free,
};
