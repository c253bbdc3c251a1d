/* The container's root filesystem: the rootfs bound onto itself in the new
 * mount namespace, config.json's mounts in order, /dev, then the pivot and
 * the hardening after it.  Every destination is resolved inside the rootfs
 * by path.c and mounted through its fd, never through a path the image
 * could redirect with a symlink. */
#include "rootfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>

#include "devices.h"
#include "mount_opts.h"
#include "path.h"
#include "pivot.h"
#include "rootfs_internal.h"
#include "sys.h"
#include "util.h"

static const char *prop_name(unsigned long p)
{
	static const struct {
		unsigned long f;
		const char *n;
	} names[] = {
		{ MS_SHARED, "shared" },	 { MS_SHARED | MS_REC, "rshared" },
		{ MS_SLAVE, "slave" },		 { MS_SLAVE | MS_REC, "rslave" },
		{ MS_PRIVATE, "private" },	 { MS_PRIVATE | MS_REC, "rprivate" },
		{ MS_UNBINDABLE, "unbindable" }, { MS_UNBINDABLE | MS_REC, "runbindable" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (names[i].f == p)
			return names[i].n;
	return "?";
}

/* Is path (as written in config.json) exactly "/dev"? */
static bool is_dev(const char *path)
{
	while (*path == '/')
		path++;
	if (strncmp(path, "dev", 3) != 0)
		return false;
	for (path += 3; *path == '/'; path++)
		;
	return !*path;
}

static bool mount_is_bind(const struct husk_mount *m, const struct husk_mount_opts *o)
{
	return (o->flags & MS_BIND) || (m->type && strcmp(m->type, "bind") == 0);
}

/* --- rootfs ---------------------------------------------------------------- */

static int open_rootfs(const struct husk_sys *sys, const char *root, struct husk_error *e)
{
	int fd = sys->openat(AT_FDCWD, root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd >= 0)
		return fd;
	if (errno == ENOTDIR) {
		struct stat st;
		if (sys->fstatat(AT_FDCWD, root, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			return husk_err(e, 0, "rootfs %s: is a symlink, not a directory", root);
		return husk_err(e, ENOTDIR, "rootfs %s", root);
	}
	return husk_errno(e, "rootfs %s", root);
}

/* The rootfs bound onto itself (recursively), so it is a mount that
 * pivot_root can take; the returned fd is that mount's root. */
static int bind_rootfs(const struct husk_sys *sys, int fd, const char *root, struct husk_error *e)
{
	int tree = sys->open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
						       AT_EMPTY_PATH);
	if (tree >= 0) {
		if (sys->move_mount(tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
		    0) {
			husk_errno(e, "bind rootfs %s", root);
			sys->close(tree);
			return -1;
		}
		return tree;
	}
	if (errno != ENOSYS)
		return husk_errno(e, "clone rootfs %s", root);
	char procfd[HUSK_PROCFD_LEN];
	husk_procfd(procfd, fd);
	if (sys->mount(procfd, procfd, NULL, MS_BIND | MS_REC, NULL) < 0)
		return husk_errno(e, "bind rootfs %s", root);
	int top = sys->openat(AT_FDCWD, root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (top < 0)
		return husk_errno(e, "rootfs %s", root);
	return top;
}

/* box's overlay on root.path, here where only the container sees it.  In a
 * user namespace (rootless) its metadata goes to user.overlay.* xattrs,
 * the trusted.* ones being the host root's; with one made by root the
 * runtime mounts it (idmapped layers) or hands over the vfs copy. */
static int mount_overlay(struct husk_rootfs_ctx *ctx, struct husk_error *e)
{
	if (ctx->root_by_runtime)
		return rootfs_root_from_runtime(ctx, e);
	const char *root = ctx->spec->root_path;
	if (husk_rootfs_overlay_mount(ctx->sys, ctx->overlay, root, ctx->in_userns, e) < 0)
		return -1;
	return open_rootfs(ctx->sys, root, e);
}

/* --- one mount of config.json --------------------------------------------- */

int rootfs_reopen_top(struct mnt *t, struct husk_error *e)
{
	int fd = husk_path_open(t->ctx->sys, t->ctx->rootfs_fd, t->rel, 0, 0);
	if (fd < 0)
		return husk_err(e, -fd, "reopen %s", t->m->destination);
	return fd;
}

int rootfs_set_propagation(const struct husk_sys *sys, int fd, unsigned long prop,
			   struct husk_error *e)
{
	struct mount_attr attr = { .propagation = prop & ~(unsigned long)MS_REC };
	unsigned fl = AT_EMPTY_PATH | ((prop & MS_REC) ? AT_RECURSIVE : 0);
	if (sys->mount_setattr(fd, "", fl, &attr, sizeof(attr)) == 0)
		return 0;
	if (errno == ENOSYS) {
		char procfd[HUSK_PROCFD_LEN];
		if (sys->mount(NULL, husk_procfd(procfd, fd), NULL, prop, NULL) == 0)
			return 0;
	}
	return husk_errno(e, "make %s", prop_name(prop));
}

#ifndef ST_NOSYMFOLLOW
#define ST_NOSYMFOLLOW 0x2000
#endif

/* The kernel may keep a flag from sticking without failing (a remount on
 * old kernels, filesystems that ignore one): what was asked for must be
 * what the mount has, or the container does not start. */
static int check_flags(const struct husk_sys *sys, int fd, uint64_t want, struct husk_error *e)
{
	static const struct {
		uint64_t attr;
		unsigned long st;
		const char *name;
	} map[] = {
		{ MOUNT_ATTR_RDONLY, ST_RDONLY, "ro" },
		{ MOUNT_ATTR_NOSUID, ST_NOSUID, "nosuid" },
		{ MOUNT_ATTR_NODEV, ST_NODEV, "nodev" },
		{ MOUNT_ATTR_NOEXEC, ST_NOEXEC, "noexec" },
		{ MOUNT_ATTR_NODIRATIME, ST_NODIRATIME, "nodiratime" },
		{ MOUNT_ATTR_NOSYMFOLLOW, ST_NOSYMFOLLOW, "nosymfollow" },
	};
	want &= ~(uint64_t)MOUNT_ATTR__ATIME;
	if (!want)
		return 0;
	struct statvfs sv;
	if (sys->fstatvfs(fd, &sv) < 0)
		return husk_errno(e, "statvfs");
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if ((want & map[i].attr) && !(sv.f_flag & map[i].st))
			return husk_err(e, EPERM, "the kernel did not apply %s", map[i].name);
	return 0;
}

/* mount_setattr with, in a user namespace, a second try that leaves alone
 * what is set now: flags locked by the mount's owner cannot be cleared,
 * and the spec's "keep locked flags" means exactly that. */
static int setattr(const struct husk_rootfs_ctx *ctx, int fd, unsigned flags, uint64_t set,
		   uint64_t clr, struct husk_error *e)
{
	const struct husk_sys *sys = ctx->sys;
	if (!set && !clr)
		return 0;
	struct mount_attr attr = { .attr_set = set, .attr_clr = clr };
	if (sys->mount_setattr(fd, "", AT_EMPTY_PATH | flags, &attr, sizeof(attr)) == 0)
		return 0;
	if (errno == EPERM && ctx->in_userns) {
		struct statvfs sv;
		if (sys->fstatvfs(fd, &sv) == 0) {
			static const struct {
				unsigned long st;
				uint64_t attr;
			} locked[] = {
				{ ST_RDONLY, MOUNT_ATTR_RDONLY }, { ST_NOSUID, MOUNT_ATTR_NOSUID },
				{ ST_NODEV, MOUNT_ATTR_NODEV },	  { ST_NOEXEC, MOUNT_ATTR_NOEXEC },
				{ ST_NODIRATIME, MOUNT_ATTR_NODIRATIME },
			};
			for (size_t i = 0; i < ARRAY_SIZE(locked); i++)
				if (sv.f_flag & locked[i].st)
					attr.attr_clr &= ~locked[i].attr;
			if (sv.f_flag & (ST_NOATIME | ST_RELATIME) && (attr.attr_clr & MOUNT_ATTR__ATIME)) {
				attr.attr_clr &= ~(uint64_t)MOUNT_ATTR__ATIME;
				attr.attr_set &= ~(uint64_t)MOUNT_ATTR__ATIME;
			}
			if (sys->mount_setattr(fd, "", AT_EMPTY_PATH | flags, &attr, sizeof(attr)) == 0)
				return check_flags(sys, fd, set, e);
		}
		errno = EPERM;
	}
	return husk_errno(e, "set mount attributes");
}

int rootfs_attach(struct husk_rootfs_ctx *ctx, int tree, int dst, uint64_t set, uint64_t clr,
		  uint64_t rset, uint64_t rclr, unsigned long prop, const char *what,
		  struct husk_error *e)
{
	/* mount_setattr applies every attribute or fails; what it cannot be
	 * trusted with (the retries above, remounts on old kernels) is
	 * checked with statvfs. */
	if (setattr(ctx, tree, 0, set, clr, e) < 0 || setattr(ctx, tree, AT_RECURSIVE, rset, rclr, e) < 0)
		return husk_err_wrap(e, "%s", what);
	if (ctx->sys->move_mount(tree, "", dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
	    0)
		return husk_errno(e, "attach %s", what);
	return prop ? rootfs_set_propagation(ctx->sys, tree, prop, e) : 0;
}

/* Kernels without the new mount API: bind, then a bind remount carrying
 * the options' flags plus, in a user namespace, the locked ones. */
static int bind_legacy(struct mnt *t, struct husk_error *e)
{
	const struct husk_sys *sys = t->ctx->sys;
	char dst[HUSK_PROCFD_LEN];
	unsigned long rec = t->o.flags & MS_REC;
	if (t->o.idmap)
		return husk_err(e, ENOSYS, "idmapped mounts need Linux 5.12");
	if (sys->mount(t->source, husk_procfd(dst, t->dfd), NULL, MS_BIND | rec, NULL) < 0)
		return husk_errno(e, "bind %s", t->source);
	unsigned long fl = t->o.flags & HUSK_MS_PER_MOUNT;
	if (!fl && !t->o.propagation)
		return 0;
	_cleanup_fd_ int top = rootfs_reopen_top(t, e);
	if (top < 0)
		return -1;
	if (fl) {
		if (t->ctx->in_userns) {
			struct statvfs sv;
			if (sys->fstatvfs(top, &sv) == 0) {
				fl |= (sv.f_flag & ST_NOSUID) ? MS_NOSUID : 0;
				fl |= (sv.f_flag & ST_NODEV) ? MS_NODEV : 0;
				fl |= (sv.f_flag & ST_NOEXEC) ? MS_NOEXEC : 0;
				fl |= (sv.f_flag & ST_RDONLY) ? MS_RDONLY : 0;
			}
		}
		if (sys->mount(NULL, husk_procfd(dst, top), NULL, MS_REMOUNT | MS_BIND | fl, NULL) < 0)
			return husk_errno(e, "remount %s", t->m->destination);
		uint64_t set, clr;
		husk_mount_opts_attr(&t->o, &set, &clr);
		if (check_flags(sys, top, set, e) < 0)
			return husk_err_wrap(e, "%s", t->source);
	}
	if (t->o.rec_set || t->o.rec_clr)
		return husk_err(e, ENOSYS, "recursive mount options need Linux 5.12");
	return t->o.propagation ? rootfs_set_propagation(sys, top, t->o.propagation, e) : 0;
}

/* Bind mounts: clone the source, apply the options to the detached copy,
 * attach it on the destination fd.  The mount is never visible with the
 * wrong flags (or, for idmap, the wrong owners). */
static int do_bind(struct mnt *t, struct husk_error *e)
{
	int tree = t->tree;
	if (tree < 0)
		return bind_legacy(t, e);
	if (t->o.idmap && rootfs_idmap_tree(t, tree, e) < 0)
		return -1;
	uint64_t set, clr;
	husk_mount_opts_attr(&t->o, &set, &clr);
	return rootfs_attach(t->ctx, tree, t->dfd, set, clr, t->o.rec_set, t->o.rec_clr,
			     t->o.propagation, t->source, e);
}

/* tmpcopyup, a regular file: its bytes. */
static int copy_file(const struct husk_sys *sys, int src, int dst, const char *n, mode_t perm,
		     struct husk_error *e)
{
	_cleanup_fd_ int in = sys->openat(src, n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	_cleanup_fd_ int out =
		sys->openat(dst, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, perm);
	if (in < 0 || out < 0)
		return husk_errno(e, "tmpcopyup: open %s", n);
	char buf[65536];
	ssize_t r;
	while ((r = husk_sys_read_all(sys, in, buf, sizeof(buf))) > 0)
		if (husk_sys_write_all(sys, out, buf, (size_t)r) != r)
			return husk_errno(e, "tmpcopyup: write %s", n);
	if (r < 0)
		return husk_errno(e, "tmpcopyup: read %s", n);
	return 0;
}

static int copy_tree(const struct husk_sys *sys, int src, int dst, struct husk_error *e);

/* tmpcopyup, one entry of a directory: made in dst like it is in src. */
static int copy_entry(const struct husk_sys *sys, int src, int dst, const char *n,
		      struct husk_error *e)
{
	struct stat st;
	if (sys->fstatat(src, n, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return husk_errno(e, "tmpcopyup: stat %s", n);
	mode_t perm = st.st_mode & 07777;
	if (S_ISDIR(st.st_mode)) {
		if (sys->mkdirat(dst, n, perm) < 0 && errno != EEXIST)
			return husk_errno(e, "tmpcopyup: mkdir %s", n);
		_cleanup_fd_ int s2 =
			sys->openat(src, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
		_cleanup_fd_ int d2 =
			sys->openat(dst, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
		if (s2 < 0 || d2 < 0)
			return husk_errno(e, "tmpcopyup: open %s", n);
		if (copy_tree(sys, s2, d2, e) < 0)
			return husk_err_wrap(e, "%s", n);
	} else if (S_ISREG(st.st_mode)) {
		if (copy_file(sys, src, dst, n, perm, e) < 0)
			return -1;
	} else if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t l = sys->readlinkat(src, n, target, sizeof(target) - 1);
		if (l < 0)
			return husk_errno(e, "tmpcopyup: readlink %s", n);
		target[l] = '\0';
		if (sys->symlinkat(target, dst, n) < 0)
			return husk_errno(e, "tmpcopyup: symlink %s", n);
	} else if (sys->mknodat(dst, n, st.st_mode, st.st_rdev) < 0) {
		return husk_errno(e, "tmpcopyup: mknod %s", n);
	}
	if (sys->fchownat(dst, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != EPERM)
		return husk_errno(e, "tmpcopyup: chown %s", n);
	if (!S_ISLNK(st.st_mode) && sys->fchmodat(dst, n, perm, 0) < 0)
		return husk_errno(e, "tmpcopyup: chmod %s", n);
	return 0;
}

/* tmpcopyup: what the image had at the destination, copied into the fresh
 * tmpfs (owners, modes, symlinks, nodes kept).  Plain file I/O; src is an
 * O_RDONLY directory fd of the copy's own, listed with getdents64. */
static int copy_tree(const struct husk_sys *sys, int src, int dst, struct husk_error *e)
{
	union {
		char buf[8192];
		struct dirent64 align;
	} u;
	for (;;) {
		ssize_t len = sys->getdents64(src, u.buf, sizeof(u.buf));
		if (len < 0)
			return husk_errno(e, "tmpcopyup: readdir");
		if (len == 0)
			return 0;
		for (ssize_t off = 0; off < len;) {
			const struct dirent64 *de = (const struct dirent64 *)(u.buf + off);
			off += de->d_reclen;
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (copy_entry(sys, src, dst, de->d_name, e) < 0)
				return -1;
		}
	}
}

/* After a filesystem got mounted: propagation, recursive attributes and
 * tmpcopyup all work on the new mount, reached by reopening the path. */
static int after_fs_mount(struct mnt *t, int covered, struct husk_error *e)
{
	const struct husk_sys *sys = t->ctx->sys;
	if (!t->o.propagation && !t->o.rec_set && !t->o.rec_clr && covered < 0)
		return 0;
	_cleanup_fd_ int top = rootfs_reopen_top(t, e);
	if (top < 0)
		return -1;
	if (covered >= 0) {
		_cleanup_fd_ int dir = sys->openat(top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
		if (dir < 0)
			return husk_errno(e, "tmpcopyup: open %s", t->m->destination);
		if (copy_tree(sys, covered, dir, e) < 0)
			return -1;
	}
	if (setattr(t->ctx, top, AT_RECURSIVE, t->o.rec_set, t->o.rec_clr, e) < 0)
		return -1;
	return t->o.propagation ? rootfs_set_propagation(sys, top, t->o.propagation, e) : 0;
}

int rootfs_fs_mount(struct mnt *t, const char *source, const char *type, unsigned long flags,
		    struct husk_error *e)
{
	const struct husk_sys *sys = t->ctx->sys;
	char dst[HUSK_PROCFD_LEN];
	_cleanup_fd_ int covered = -1;
	if (t->o.tmpcopyup) {
		/* Opened before the mount covers it: the fd keeps reaching the
		 * image's directory. */
		covered = sys->openat(t->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
		if (covered < 0)
			return husk_errno(e, "tmpcopyup: open %s", t->m->destination);
	}
	if (sys->mount(source, husk_procfd(dst, t->dfd), type, flags, t->o.data) < 0)
		return husk_errno(e, "mount %s", source);
	return after_fs_mount(t, covered, e);
}

/* The host's tree bound in, when the kernel refuses a fresh instance (sysfs
 * or mqueue in a user namespace without the matching namespace). */
static int bind_host_fallback(struct mnt *t, const char *host, struct husk_error *e)
{
	free(t->source);
	t->source = xstrdup(host);
	t->o.flags |= MS_BIND | MS_REC;
	if (t->tree >= 0)
		t->ctx->sys->close(t->tree);
	t->tree = -1;
	return rootfs_bind_source(t, false, e) < 0 ? -1 : do_bind(t, e);
}

/* Is key ("mode=") one of the comma-separated data options? */
static bool data_has(const char *data, const char *key)
{
	size_t n = strlen(key);
	for (const char *p = data; p && *p;) {
		if (strncmp(p, key, n) == 0)
			return true;
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	return false;
}

static int open_destination(struct mnt *t, bool bind, struct husk_error *e)
{
	const struct husk_sys *sys = t->ctx->sys;
	const char *dest = t->m->destination;
	int fl = HUSK_PATH_MKDIR;
	mode_t mode = 0755;
	bool procsys = !bind && (strcmp(t->type, "proc") == 0 || strcmp(t->type, "sysfs") == 0);
	if (bind) {
		struct stat st;
		if (t->tree >= 0 ? sys->fstatat(t->tree, "", &st, AT_EMPTY_PATH) < 0
				 : sys->fstatat(AT_FDCWD, t->source, &st, 0) < 0)
			return husk_errno(e, "stat %s", t->source);
		if (!S_ISDIR(st.st_mode))
			fl = HUSK_PATH_MKFILE, mode = 0644;
	}
	if (procsys)
		fl |= HUSK_PATH_NOFOLLOW;
	/* A tmpfs without mode= on an existing directory keeps its mode (as
	 * runc); one on a directory made here gets tmpfs's default. */
	if (!bind && strcmp(t->type, "tmpfs") == 0 && !data_has(t->o.data, "mode=")) {
		t->dfd = husk_path_open(sys, t->ctx->rootfs_fd, dest, 0, 0);
		struct stat st;
		if (t->dfd >= 0 && sys->fstatat(t->dfd, "", &st, AT_EMPTY_PATH) == 0 &&
		    S_ISDIR(st.st_mode)) {
			char *d = t->o.data ? xasprintf("%s,mode=%o", t->o.data, st.st_mode & 07777)
					    : xasprintf("mode=%o", st.st_mode & 07777);
			free(t->o.data);
			t->o.data = d;
		}
		if (t->dfd >= 0)
			sys->close(t->dfd);
	}
	t->dfd = husk_path_open(sys, t->ctx->rootfs_fd, dest, fl, mode);
	if (t->dfd < 0)
		return husk_err(e, -t->dfd, "mkdir %s", dest);
	if (procsys) {
		struct stat st;
		if (sys->fstatat(t->dfd, "", &st, AT_EMPTY_PATH) < 0)
			return husk_errno(e, "stat %s", dest);
		if (!S_ISDIR(st.st_mode))
			return husk_err(e, 0, "%s must be mounted on an ordinary directory", t->type);
	}
	t->rel = husk_path_rel_of_fd(sys, t->dfd, t->ctx->root_real, t->relbuf, sizeof(t->relbuf));
	if (!t->rel)
		return husk_errno(e, "resolve %s", dest);
	return 0;
}

static bool source_is_procfs(const struct mnt *t)
{
	const struct husk_sys *sys = t->ctx->sys;
	struct statfs sf;
	if (t->tree >= 0)
		return sys->fstatfs(t->tree, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC;
	return sys->statfs(t->source, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC;
}

static bool fd_on_procfs(const struct husk_sys *sys, int fd)
{
	struct statfs sf;
	return sys->fstatfs(fd, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC;
}

/* The kernel looks /proc/net entries up afresh each time (never-cached
 * dentries, Linux 5.2 and later) and drops what is mounted on them at the
 * next lookup: a container would silently read the real file. */
static int check_net_dev_kept(struct mnt *t, struct husk_error *e)
{
	const struct husk_sys *sys = t->ctx->sys;
	_cleanup_fd_ int now = husk_path_open(sys, t->ctx->rootfs_fd, t->m->destination, 0, 0);
	if (now < 0)
		return husk_err(e, -now, "reopen %s", t->m->destination);
	struct stat a, b;
	if (sys->fstatat(now, "", &a, AT_EMPTY_PATH) < 0 ||
	    sys->fstatat(t->dfd, "", &b, AT_EMPTY_PATH) < 0)
		return husk_errno(e, "stat %s", t->m->destination);
	if (a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return husk_err(e, 0, "this kernel drops mounts on /proc/net entries at the next lookup");
	return 0;
}

static int mount_on(struct husk_rootfs_ctx *ctx, struct mnt *t, bool bind, struct husk_error *e);

static int mount_one(struct husk_rootfs_ctx *ctx, struct mnt *t, struct husk_error *e)
{
	const struct husk_mount *m = t->m;
	bool bind = mount_is_bind(m, &t->o);
	if (bind) {
		t->o.flags |= MS_BIND;
		if (!m->source)
			return husk_err(e, EINVAL, "bind mount without a source");
		t->source = m->source[0] == '/' ? xstrdup(m->source)
						: xasprintf("%s/%s", ctx->spec->bundle, m->source);
	} else {
		if (!m->type)
			return husk_err(e, EINVAL, "mount type missing");
		t->source = xstrdup(m->source ? m->source : m->type);
	}
	if ((m->n_uid_mappings || m->n_gid_mappings) && !t->o.idmap)
		return husk_err(e, EINVAL, "uidMappings/gidMappings need the idmap or ridmap option");
	if (t->o.idmap && !bind)
		return husk_err(e, EINVAL, "idmap needs a bind mount");
	/* Written under /proc: refused before anything is created there (the
	 * real location is checked again once resolved). */
	if (!strstr(m->destination, "/..") && husk_path_proc_guard(m->destination) == HUSK_PROC_DENIED)
		return husk_err(e, 0, "%s is inside /proc", m->destination);
	if (bind && rootfs_bind_source(t, true, e) < 0)
		return -1;
	if (open_destination(t, bind, e) < 0)
		return -1;

	bool net_dev = false;
	switch (husk_path_proc_guard(t->rel)) {
	case HUSK_PROC_OUTSIDE:
	case HUSK_PROC_ALLOWED:
		break;
	case HUSK_PROC_ITSELF:
		if (!bind ? strcmp(t->type, "proc") == 0 : source_is_procfs(t))
			break;
		return husk_err(e, 0, "only procfs may be mounted on /proc");
	case HUSK_PROC_DENIED:
		net_dev = husk_path_proc_net_dev(m->destination, t->rel) && fd_on_procfs(ctx->sys, t->dfd);
		if (!net_dev)
			return husk_err(e, 0, "/%s is inside /proc", t->rel);
	}
	int r = mount_on(ctx, t, bind, e);
	return r == 0 && net_dev ? check_net_dev_kept(t, e) : r;
}

/* The mount itself, on the destination resolved and checked. */
static int mount_on(struct husk_rootfs_ctx *ctx, struct mnt *t, bool bind, struct husk_error *e)
{
	if (bind)
		return do_bind(t, e);
	if (strcmp(t->type, "cgroup") == 0 || strcmp(t->type, "cgroup2") == 0)
		return rootfs_mount_cgroup(t, e);

	unsigned long flags = t->o.flags;
	/* Devices still have to be made in a read-only /dev: finalize applies it. */
	if (strcmp(t->rel, "dev") == 0 && (flags & MS_RDONLY)) {
		ctx->dev_readonly = true;
		flags &= ~(unsigned long)MS_RDONLY;
	}
	if (rootfs_fs_mount(t, t->source, t->type, flags, e) == 0)
		return 0;
	if (ctx->in_userns && e->errnum == EPERM) {
		if (strcmp(t->type, "sysfs") == 0)
			return bind_host_fallback(t, "/sys", e);
		if (strcmp(t->type, "mqueue") == 0)
			return bind_host_fallback(t, "/dev/mqueue", e);
	}
	return -1;
}

static int mount_entry(struct husk_rootfs_ctx *ctx, size_t i, struct husk_error *e)
{
	struct mnt t = { .ctx = ctx, .m = &ctx->spec->mounts[i], .index = i, .dfd = -1, .tree = -1 };
	int r = husk_mount_opts_parse(t.m->options, t.m->n_options, &t.o, e);
	t.type = mount_is_bind(t.m, &t.o) ? "bind" : (t.m->type ? t.m->type : "none");
	if (r == 0)
		r = mount_one(ctx, &t, e);
	if (r == 0 && ctx->verify_flags)
		r = rootfs_verify_flags(&t, e);
	if (r < 0)
		husk_err_wrap(e, "mounts[%zu] %s on %s", i, t.type, t.m->destination);
	if (t.dfd >= 0)
		ctx->sys->close(t.dfd);
	if (t.tree >= 0)
		ctx->sys->close(t.tree);
	free(t.source);
	husk_mount_opts_free(&t.o);
	return r;
}

/* /dev gets husk's nodes unless the config binds something onto it. */
static bool wants_dev_setup(const struct husk_spec *spec)
{
	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct husk_mount *m = &spec->mounts[i];
		if (!is_dev(m->destination))
			continue;
		if (m->type && strcmp(m->type, "bind") == 0)
			return false;
		for (size_t j = 0; j < m->n_options; j++)
			if (strcmp(m->options[j], "bind") == 0 || strcmp(m->options[j], "rbind") == 0)
				return false;
	}
	return true;
}

static int make_cwd(struct husk_rootfs_ctx *ctx, struct husk_error *e)
{
	if (!ctx->cwd)
		return 0;
	int fd = husk_path_open(ctx->sys, ctx->rootfs_fd, ctx->cwd, HUSK_PATH_MKDIR, 0755);
	if (fd < 0)
		return husk_err(e, -fd, "mkdir cwd %s", ctx->cwd);
	ctx->sys->close(fd);
	return 0;
}

int husk_rootfs_prepare(struct husk_rootfs_ctx *ctx, struct husk_error *e)
{
	const struct husk_spec *spec = ctx->spec;
	const struct husk_sys *sys = ctx->sys;
	ctx->rootfs_fd = -1;
	ctx->root_real = NULL;
	ctx->dev_readonly = false;
	/* Modes asked for (0755 dirs, 0666 nodes, tmpcopyup) are exact; the
	 * old umask is back for the createContainer hooks, finalize sets 0022. */
	mode_t old_umask = sys->umask(0);

	struct stat st;
	ctx->have_host_null = sys->fstatat(AT_FDCWD, "/dev/null", &st, 0) == 0;
	if (ctx->have_host_null) {
		ctx->host_null_dev = st.st_dev;
		ctx->host_null_ino = st.st_ino;
	}

	if (spec->n_sysctl && husk_sysctl_check(sys, spec, e) < 0)
		return -1;
	/* An overlay root is opened once it is mounted; the runtime's (box
	 * with a user namespace) comes from it. */
	bool later = ctx->overlay || ctx->root_by_runtime;
	_cleanup_fd_ int fd = later ? -1 : open_rootfs(sys, spec->root_path, e);
	if (fd < 0 && !later)
		return -1;
	if (!ctx->own_mount_ns) {
		if (spec->n_mounts || later)
			return husk_err(e, 0, "%s need a mount namespace of the container's own",
					later ? "an overlay root and mounts" : "mounts");
		ctx->rootfs_fd = move_fd(&fd);
	} else {
		/* Nothing the container mounts may reach the host: "/" is
		 * rslave (rprivate when private is asked for) while the rootfs
		 * is built; rootfsPropagation itself is applied to the
		 * container's own root after the pivot.  Neither leaves a shared
		 * parent for pivot_root to refuse. */
		unsigned long prop = (spec->rootfs_propagation & MS_PRIVATE) ? MS_PRIVATE | MS_REC
									      : MS_SLAVE | MS_REC;
		if (sys->mount(NULL, "/", NULL, prop, NULL) < 0)
			return husk_errno(e, "make / %s", prop_name(prop));
		if (later && (fd = mount_overlay(ctx, e)) < 0)
			return -1;
		ctx->rootfs_fd = bind_rootfs(sys, fd, spec->root_path, e);
		if (ctx->rootfs_fd < 0)
			return -1;
		char buf[PATH_MAX];
		const char *real = husk_path_rel_of_fd(sys, ctx->rootfs_fd, "/", buf, sizeof(buf));
		if (!real)
			return husk_errno(e, "rootfs %s: resolve", spec->root_path);
		ctx->root_real = xasprintf("/%s", real);

		for (size_t i = 0; i < spec->n_mounts; i++)
			if (mount_entry(ctx, i, e) < 0)
				return -1;
		if (wants_dev_setup(spec)) {
			if (husk_devices_create(sys, ctx->rootfs_fd, spec, ctx->in_userns, e) < 0 ||
			    husk_devices_symlinks(sys, ctx->rootfs_fd, e) < 0)
				return -1;
		}
		if (husk_devices_console(sys, ctx->rootfs_fd, ctx->console_fd, e) < 0)
			return -1;
	}
	if (make_cwd(ctx, e) < 0)
		return -1;
	if (sys->fchdir(ctx->rootfs_fd) < 0)
		return husk_errno(e, "chdir to rootfs %s", spec->root_path);
	sys->umask(old_umask);
	return 0;
}

/* Std streams that were the host's /dev/null would keep the host's devtmpfs
 * reachable; give the process the container's instead. */
static int reopen_std_streams(struct husk_rootfs_ctx *ctx, struct husk_error *e)
{
	const struct husk_sys *sys = ctx->sys;
	if (!ctx->have_host_null)
		return 0;
	for (int i = 0; i <= 2; i++) {
		struct stat st;
		if (sys->fstatat(i, "", &st, AT_EMPTY_PATH) < 0 || st.st_dev != ctx->host_null_dev ||
		    st.st_ino != ctx->host_null_ino)
			continue;
		int fd = sys->openat(AT_FDCWD, "/dev/null", O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
		if (fd < 0)
			return husk_errno(e, "reopen fd %d on /dev/null", i);
		int r = sys->dup3(fd, i, 0);
		sys->close(fd);
		if (r < 0)
			return husk_errno(e, "reopen fd %d on /dev/null", i);
	}
	return 0;
}

static void release(struct husk_rootfs_ctx *ctx)
{
	if (ctx->rootfs_fd >= 0)
		ctx->sys->close(ctx->rootfs_fd);
	ctx->rootfs_fd = -1;
	free(ctx->root_real);
	ctx->root_real = NULL;
}

static int finalize(struct husk_rootfs_ctx *ctx, struct husk_error *e)
{
	const struct husk_spec *spec = ctx->spec;
	const struct husk_sys *sys = ctx->sys;
	int rootfd = ctx->rootfs_fd;
	enum husk_pivot_mode mode = !ctx->own_mount_ns ? HUSK_PIVOT_CHROOT
				    : ctx->no_pivot    ? HUSK_PIVOT_MOVE
						       : HUSK_PIVOT_ROOT;
	if (husk_pivot_enter(sys, rootfd, mode, ctx->root_real, e) < 0)
		return -1;
	if (husk_sysctl_apply(sys, spec, e) < 0)
		return -1;
	if (ctx->own_mount_ns) {
		if (husk_paths_readonly(sys, rootfd, spec->readonly_paths, spec->n_readonly_paths, e) <
			    0 ||
		    husk_paths_mask(sys, rootfd, spec->masked_paths, spec->n_masked_paths, e) < 0)
			return -1;
		if (ctx->dev_readonly) {
			_cleanup_fd_ int dev = husk_path_open(sys, rootfd, "/dev", 0, 0);
			if (dev < 0)
				return husk_err(e, -dev, "open /dev");
			if (husk_mount_set_ro(sys, dev, false, e) < 0)
				return husk_err_wrap(e, "/dev");
		}
		if (spec->root_readonly && husk_mount_set_ro(sys, rootfd, false, e) < 0)
			return husk_err_wrap(e, "root.readonly");
		if (ctx->verify_flags && rootfs_verify_final(ctx, e) < 0)
			return -1;
		/* The requested propagation for the container's own root, now
		 * that it is "/" (before the pivot it covered the host's tree),
		 * and last: an unbindable root cannot be cloned for the
		 * readonlyPaths above. */
		if (spec->rootfs_propagation &&
		    sys->mount(NULL, "/", NULL, spec->rootfs_propagation, NULL) < 0)
			return husk_errno(e, "make / %s", prop_name(spec->rootfs_propagation));
	}
	sys->umask(0022);
	return reopen_std_streams(ctx, e);
}

int husk_rootfs_finalize(struct husk_rootfs_ctx *ctx, struct husk_error *e)
{
	int r = finalize(ctx, e);
	release(ctx);
	return r;
}
