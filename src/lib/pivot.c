#include "pivot.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "path.h"
#include "sys.h"
#include "util.h"

static bool path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	while (n > 0 && dir[n - 1] == '/')
		n--;
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* Without pivot_root the host's mounts stay in the namespace below the
 * moved rootfs.  Detach every one that is neither the rootfs, inside it,
 * nor one of the mounts it sits on (each top-level branch takes its
 * submounts along); one that cannot be detached (locked in a user
 * namespace) is covered with an empty read-only tmpfs.  Only --no-pivot
 * and initramfs roots pay for reading mountinfo. */
static int hide_host_mounts(const struct husk_sys *sys, const char *root_real, struct husk_error *e)
{
	_cleanup_free_ char *text = NULL;
	if (husk_sys_read_file(sys, "/proc/self/mountinfo", &text, e) < 0)
		return husk_err_wrap(e, "hide host mounts");
	size_t cap = 64, n = 0;
	struct ent {
		long id, parent;
		char *mp;
	} *v = xcalloc(cap, sizeof(*v));
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		long id, parent;
		int off = 0;
		if (sscanf(line, "%ld %ld %*s %*s %n", &id, &parent, &off) < 2 || !off)
			continue;
		char *mp = line + off, *sp = strchr(mp, ' ');
		if (sp)
			*sp = '\0';
		husk_unescape_octal(mp);
		if (n == cap)
			v = xrealloc(v, (cap *= 2) * sizeof(*v));
		v[n++] = (struct ent){ id, parent, mp };
	}
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		const char *mp = v[i].mp;
		/* the rootfs's own mounts, and the ones it sits on */
		if (path_under(mp, root_real) || path_under(root_real, mp))
			continue;
		/* top-level branches only: the parent is one the rootfs sits on */
		bool top = false;
		for (size_t j = 0; j < n && !top; j++)
			top = v[j].id == v[i].parent && path_under(root_real, v[j].mp);
		if (!top)
			continue;
		/* EACCES: the container's root cannot even reach it. */
		if (sys->umount2(mp, MNT_DETACH | UMOUNT_NOFOLLOW) == 0 || errno == ENOENT ||
		    errno == EACCES)
			continue;
		if (errno != EINVAL && errno != EPERM) {
			r = husk_errno(e, "detach host mount %s", mp);
			break;
		}
		struct stat st;
		if (sys->fstatat(AT_FDCWD, mp, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (sys->mount("tmpfs", mp, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
				    NULL) < 0 &&
		    errno != ENOENT && errno != EACCES)
			r = husk_errno(e, "cover host mount %s", mp);
	}
	free(v);
	return r;
}

static int move_root(const struct husk_sys *sys, const char *root_real, struct husk_error *e)
{
	if (root_real && hide_host_mounts(sys, root_real, e) < 0)
		return -1;
	if (sys->mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		return husk_errno(e, "move rootfs onto /");
	if (sys->chroot(".") < 0)
		return husk_errno(e, "chroot into rootfs");
	return 0;
}

/* pivot_root cannot detach the initial ramfs/tmpfs root (EINVAL). */
static bool root_is_initramfs(const struct husk_sys *sys)
{
	_cleanup_fd_ int fd = sys->openat(AT_FDCWD, "/", O_PATH | O_CLOEXEC, 0);
	struct statfs sf;
	if (fd < 0 || sys->fstatfs(fd, &sf) < 0)
		return false;
	return sf.f_type == RAMFS_MAGIC || sf.f_type == TMPFS_MAGIC;
}

int husk_pivot_enter(const struct husk_sys *sys, int rootfd, enum husk_pivot_mode mode,
		     const char *root_real, struct husk_error *e)
{
	if (sys->fchdir(rootfd) < 0)
		return husk_errno(e, "chdir into rootfs");
	switch (mode) {
	case HUSK_PIVOT_CHROOT:
		if (sys->chroot(".") < 0)
			return husk_errno(e, "chroot into rootfs");
		break;
	case HUSK_PIVOT_MOVE:
		if (move_root(sys, root_real, e) < 0)
			return -1;
		break;
	case HUSK_PIVOT_ROOT:
		/* pivot_root(".", "."): the old root ends up stacked on the new
		 * one at "."; no directory for it is needed inside the rootfs. */
		if (sys->pivot_root(".", ".") < 0) {
			if (errno == EINVAL && root_is_initramfs(sys)) {
				if (move_root(sys, root_real, e) < 0)
					return -1;
				break;
			}
			return husk_errno(e, "pivot_root");
		}
		/* The detach cannot propagate to the host: prepare made every
		 * mount of the namespace a slave (or private).  No propagation
		 * change here: mount(2) on "." would reach the new root (only
		 * umount2 resolves "." to the old root stacked on it) and undo
		 * the propagation options of the container's mounts. */
		if (sys->umount2(".", MNT_DETACH) < 0)
			return husk_errno(e, "detach old root");
		break;
	}
	if (sys->chdir("/") < 0)
		return husk_errno(e, "chdir /");
	return 0;
}

/* sysctl keys as "a.b.c" for the namespace check; the file under
 * /proc/sys uses '/' (a key written with slashes keeps its dots). */
static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static int sysctl_ns(const char *key, const char **nsname)
{
	if (has_prefix(key, "net.")) {
		*nsname = "network";
		return HUSK_NS_NET;
	}
	if (has_prefix(key, "kernel.shm") || has_prefix(key, "kernel.msg") ||
	    strcmp(key, "kernel.sem") == 0 || has_prefix(key, "fs.mqueue.")) {
		*nsname = "ipc";
		return HUSK_NS_IPC;
	}
	if (strcmp(key, "kernel.hostname") == 0 || strcmp(key, "kernel.domainname") == 0) {
		*nsname = "uts";
		return HUSK_NS_UTS;
	}
	return -1;
}

static char *sysctl_dotted(const char *key)
{
	char *k = xstrdup(key);
	if (strchr(k, '/')) {
		for (char *p = k; *p; p++)
			if (*p == '/')
				*p = '.';
	}
	return k;
}

static bool sysctl_key_valid(const char *key)
{
	/* Components split on '/' when the key uses slashes, else on '.';
	 * none may be empty, "." or "..". */
	char sep = strchr(key, '/') ? '/' : '.';
	const char *p = key;
	for (;;) {
		const char *end = strchrnul(p, sep);
		size_t n = (size_t)(end - p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!*end)
			return true;
		p = end + 1;
	}
}

/* A network namespace joined by path may be the runtime's own (the host's):
 * net.* keys would then change the host.  The runtime is our parent; the
 * procfs still at /proc before the pivot names it by a pid getppid()
 * cannot give in a new pid namespace.  When it cannot be read (a user
 * namespace), nothing is claimed. */
static bool joined_host_netns(const struct husk_sys *sys, const struct husk_spec *spec)
{
	if (!spec->namespaces[HUSK_NS_NET].path)
		return false;
	_cleanup_free_ char *stat = NULL;
	struct husk_error ignored;
	if (husk_sys_read_file(sys, "/proc/self/stat", &stat, &ignored) < 0)
		return false;
	const char *p = strrchr(stat, ')');
	int ppid = 0;
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1 || ppid <= 0)
		return false;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/net", ppid);
	struct stat a, b;
	if (sys->fstatat(AT_FDCWD, "/proc/self/ns/net", &a, 0) < 0 ||
	    sys->fstatat(AT_FDCWD, path, &b, 0) < 0)
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int husk_sysctl_check(const struct husk_sys *sys, const struct husk_spec *spec,
		      struct husk_error *e)
{
	bool host_net = false, checked_net = false;
	for (size_t i = 0; i < spec->n_sysctl; i++) {
		const char *key = spec->sysctl[i].key;
		if (!sysctl_key_valid(key))
			return husk_err(e, EINVAL, "sysctl %s: invalid key", key);
		_cleanup_free_ char *k = sysctl_dotted(key);
		const char *nsname = NULL;
		int ns = sysctl_ns(k, &nsname);
		/* Two ways to set one value: the field wins, the sysctl is
		 * refused.  kernel.domainname alone stays (Docker sets the
		 * domain name that way). */
		if (strcmp(k, "kernel.hostname") == 0)
			return husk_err(e, 0, "sysctl %s: conflicts with the hostname field (set that instead)",
					key);
		if (strcmp(k, "kernel.domainname") == 0 && spec->domainname)
			return husk_err(e, 0, "sysctl %s: conflicts with the domainname field", key);
		if (ns < 0)
			return husk_err(e, 0, "sysctl %s: not a namespaced key", key);
		if (!spec->namespaces[ns].present)
			return husk_err(e, 0, "sysctl %s: needs the container's own %s namespace", key,
					nsname);
		if (ns == HUSK_NS_NET && !checked_net) {
			checked_net = true;
			host_net = joined_host_netns(sys, spec);
		}
		if (ns == HUSK_NS_NET && host_net)
			return husk_err(e, 0, "sysctl %s: the joined network namespace is the host's", key);
	}
	return 0;
}

int husk_sysctl_apply(const struct husk_sys *sys, const struct husk_spec *spec,
		      struct husk_error *e)
{
	if (spec->n_sysctl == 0)
		return 0;
	for (size_t i = 0; i < spec->n_sysctl; i++) {
		const char *key = spec->sysctl[i].key, *val = spec->sysctl[i].value;
		_cleanup_free_ char *path = xasprintf("/proc/sys/%s", key);
		if (!strchr(key, '/')) {
			for (char *p = path + strlen("/proc/sys/"); *p; p++)
				if (*p == '.')
					*p = '/';
		}
		_cleanup_fd_ int fd =
			sys->openat(AT_FDCWD, path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0);
		if (fd < 0)
			return husk_errno(e, "sysctl %s: open %s", key, path);
		size_t len = strlen(val);
		if (sys->write(fd, val, len) != (ssize_t)len)
			return husk_errno(e, "sysctl %s: write %s", key, path);
	}
	return 0;
}

int husk_mount_set_ro(const struct husk_sys *sys, int fd, bool recursive, struct husk_error *e)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	if (sys->mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr,
				    sizeof(attr)) == 0)
		return 0;
	if (errno != ENOSYS)
		return husk_errno(e, "remount read-only");
	/* Old kernel: a bind remount replaces every per-mount flag, so carry
	 * the current ones over (some may be locked in a user namespace). */
	struct statvfs sv;
	if (sys->fstatvfs(fd, &sv) < 0)
		return husk_errno(e, "statvfs");
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY;
	static const struct {
		unsigned long st, ms;
	} keep[] = {
		{ ST_NOSUID, MS_NOSUID },     { ST_NODEV, MS_NODEV },	       { ST_NOEXEC, MS_NOEXEC },
		{ ST_NOATIME, MS_NOATIME },   { ST_NODIRATIME, MS_NODIRATIME }, { ST_RELATIME, MS_RELATIME },
		{ ST_SYNCHRONOUS, MS_SYNCHRONOUS }, { ST_MANDLOCK, MS_MANDLOCK },
	};
	for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
		if (sv.f_flag & keep[i].st)
			flags |= keep[i].ms;
	char procfd[HUSK_PROCFD_LEN];
	if (sys->mount(NULL, husk_procfd(procfd, fd), NULL, flags, NULL) < 0)
		return husk_errno(e, "remount read-only");
	return 0;
}

int husk_paths_readonly(const struct husk_sys *sys, int rootfd, char *const *paths, size_t n,
			struct husk_error *e)
{
	for (size_t i = 0; i < n; i++) {
		_cleanup_fd_ int fd = husk_path_open(sys, rootfd, paths[i], 0, 0);
		if (fd == -ENOENT)
			continue;
		if (fd < 0)
			return husk_err(e, -fd, "readonlyPaths: open %s", paths[i]);
		/* Clone, make read-only while detached, then attach: the path is
		 * never writable through the new mount. */
		_cleanup_fd_ int tree = sys->open_tree(
			fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
		if (tree >= 0) {
			if (husk_mount_set_ro(sys, tree, true, e) < 0)
				return husk_err_wrap(e, "readonlyPaths: %s", paths[i]);
			if (sys->move_mount(tree, "", fd, "",
						 MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
				return husk_errno(e, "readonlyPaths: bind %s", paths[i]);
			continue;
		}
		if (errno != ENOSYS)
			return husk_errno(e, "readonlyPaths: clone %s", paths[i]);
		char procfd[HUSK_PROCFD_LEN];
		husk_procfd(procfd, fd);
		if (sys->mount(procfd, procfd, NULL, MS_BIND | MS_REC, NULL) < 0)
			return husk_errno(e, "readonlyPaths: bind %s", paths[i]);
		_cleanup_fd_ int top = husk_path_open(sys, rootfd, paths[i], 0, 0);
		if (top < 0)
			return husk_err(e, -top, "readonlyPaths: open %s", paths[i]);
		if (husk_mount_set_ro(sys, top, false, e) < 0)
			return husk_err_wrap(e, "readonlyPaths: %s", paths[i]);
	}
	return 0;
}

/* The container's /dev/null, checked to be the null device so a masked
 * file never gets an image-supplied file bound over it. */
static int open_null(const struct husk_sys *sys, int rootfd, struct husk_error *e)
{
	int fd = husk_path_open(sys, rootfd, "/dev/null", HUSK_PATH_NOFOLLOW, 0);
	if (fd < 0)
		return husk_err(e, -fd, "maskedPaths: open /dev/null");
	struct stat st;
	if (sys->fstatat(fd, "", &st, AT_EMPTY_PATH) < 0) {
		husk_errno(e, "maskedPaths: stat /dev/null");
		sys->close(fd);
		return -1;
	}
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3) {
		sys->close(fd);
		return husk_err(e, 0, "maskedPaths: /dev/null is not the null device");
	}
	return fd;
}

int husk_paths_mask(const struct husk_sys *sys, int rootfd, char *const *paths, size_t n,
		    struct husk_error *e)
{
	_cleanup_fd_ int null = -1;
	char src[HUSK_PROCFD_LEN], dst[HUSK_PROCFD_LEN];
	for (size_t i = 0; i < n; i++) {
		_cleanup_fd_ int fd = husk_path_open(sys, rootfd, paths[i], 0, 0);
		if (fd == -ENOENT)
			continue;
		if (fd < 0)
			return husk_err(e, -fd, "maskedPaths: open %s", paths[i]);
		struct stat st;
		if (sys->fstatat(fd, "", &st, AT_EMPTY_PATH) < 0)
			return husk_errno(e, "maskedPaths: stat %s", paths[i]);
		husk_procfd(dst, fd);
		if (S_ISDIR(st.st_mode)) {
			if (sys->mount("tmpfs", dst, "tmpfs",
					    MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
				return husk_errno(e, "maskedPaths: mount tmpfs on %s", paths[i]);
			continue;
		}
		if (null < 0 && (null = open_null(sys, rootfd, e)) < 0)
			return -1;
		if (sys->mount(husk_procfd(src, null), dst, NULL, MS_BIND, NULL) < 0)
			return husk_errno(e, "maskedPaths: bind /dev/null on %s", paths[i]);
	}
	return 0;
}
