/* The vfs storage driver, as Docker's VFS graph driver: the container's
 * root is a copy of the layers, each overlay-format layer applied in order
 * over the ones below (a 0:0 character device removes the name, an opaque
 * directory empties what lies below it, hard links within a layer stay
 * hard links).  Every destination is made relative to a directory fd
 * opened without following symlinks.  Files are reflinked where the
 * filesystem shares extents (FICLONE), else copied region by region,
 * holes kept.  husk image unpack flattens with the same code. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image/image_internal.h"
#include "rootless.h"
#include "storage.h"
#include "util.h"

struct link_ent {
	dev_t dev;
	ino_t ino;
	char *path;   /* where the first copy went, relative to the root */
};

struct vfs {
	bool rootless;
	bool chown;    /* root, or rootless as root of the mapped user namespace */
	const struct husk_storage_opts *shift; /* owners mapped through its uid/gid maps */
	const char *opaque;  /* the opaque directory xattr */
	int rootfd;
	void *links;   /* tsearch tree of struct link_ent */
	char buf[128 * 1024];
};

static int link_cmp(const void *a, const void *b)
{
	const struct link_ent *x = a, *y = b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static void link_free(void *p)
{
	struct link_ent *l = p;
	free(l->path);
	free(l);
}

static char *procpath(int dirfd, const char *name)
{
	return *name ? xasprintf("/proc/self/fd/%d/%s", dirfd, name)
		     : xasprintf("/proc/self/fd/%d", dirfd);
}

/* Every xattr but overlayfs's own (its opaque markers are applied, not
 * copied).  Rootless: those only privilege may set are left out, as the
 * rootless import leaves them out. */
static int copy_xattrs(struct vfs *f, int sfd, int dfd, const char *name, struct husk_error *e)
{
	_cleanup_free_ char *sp = procpath(sfd, name), *dp = procpath(dfd, name);
	ssize_t n = llistxattr(sp, NULL, 0);
	if (n <= 0)
		return 0;
	_cleanup_free_ char *list = xmalloc((size_t)n);
	n = llistxattr(sp, list, (size_t)n);
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1) {
		const char *k = list + i;
		if (!strncmp(k, "trusted.overlay.", 16) || !strncmp(k, "user.overlay.", 13))
			continue;
		ssize_t vl = lgetxattr(sp, k, f->buf, sizeof(f->buf));
		if (vl < 0)
			continue;
		if (lsetxattr(dp, k, f->buf, (size_t)vl, 0) < 0 && !(f->rootless && errno == EPERM))
			return husk_errno(e, "%s: set xattr %s", *name ? name : "/", k);
	}
	return 0;
}

/* Owner, then xattrs (chown drops security.capability), then the mode
 * (chown drops setuid), then the times (everything else touches ctime
 * only).  name "" is dfd itself. */
static int copy_meta(struct vfs *f, int sfd, int dfd, const char *name, const struct stat *st,
		     struct husk_error *e)
{
	const char *what = *name ? name : "/";
	int flags = *name ? AT_SYMLINK_NOFOLLOW : AT_EMPTY_PATH;
	uint32_t uid = st->st_uid, gid = st->st_gid;
	const struct husk_storage_opts *m = f->shift;
	if (m && (husk_storage_map_id(m->uid_map, m->n_uid_map, st->st_uid, &uid) < 0 ||
		  husk_storage_map_id(m->gid_map, m->n_gid_map, st->st_gid, &gid) < 0))
		return husk_err(e, 0, "%s: owner %u:%u is outside the user namespace's mapping", what,
				(unsigned)st->st_uid, (unsigned)st->st_gid);
	/* rootless: an owner the namespace does not map (EINVAL) stays root's */
	if (f->chown && fchownat(dfd, name, uid, gid, flags) < 0 && !(f->rootless && errno == EINVAL))
		return husk_errno(e, "%s: chown", what);
	if (!S_ISLNK(st->st_mode)) {
		mode_t m = st->st_mode & 07777;
		/* rootless: a directory must stay writable for the layers above */
		if (S_ISDIR(st->st_mode) && !f->chown)
			m |= 0700;
		if (copy_xattrs(f, sfd, dfd, name, e) < 0)
			return -1;
		if ((*name ? fchmodat(dfd, name, m, 0) : fchmod(dfd, m)) < 0)
			return husk_errno(e, "%s: chmod", what);
	}
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	if ((*name ? utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) : futimens(dfd, ts)) < 0)
		return husk_errno(e, "%s: set times", what);
	return 0;
}

/* [off, off+len) at the same offsets: copy_file_range (which shares
 * extents itself on filesystems that can), else read and write. */
static int copy_range(struct vfs *f, int in, int out, off_t off, off_t len)
{
	off_t oin = off, oout = off, end = off + len;
	while (oin < end) {
		ssize_t n = copy_file_range(in, &oin, out, &oout, (size_t)(end - oin), 0);
		if (n > 0)
			continue;
		if (n == 0)
			return 0; /* the file shrank: it is a layer, it does not */
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			return -1;
		break;
	}
	while (oin < end) {
		size_t want = (size_t)(end - oin) < sizeof(f->buf) ? (size_t)(end - oin) : sizeof(f->buf);
		ssize_t n = pread(in, f->buf, want, oin);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n;
		for (ssize_t w = 0; w < n;) {
			ssize_t k = pwrite(out, f->buf + w, (size_t)(n - w), oin + w);
			if (k < 0 && errno != EINTR)
				return -1;
			w += k > 0 ? k : 0;
		}
		oin += n;
	}
	return 0;
}

/* The data regions only (SEEK_DATA/SEEK_HOLE; where the filesystem cannot
 * say, the whole file is one region), then the size: holes stay holes. */
static int copy_sparse(struct vfs *f, int in, int out)
{
	struct stat st;
	if (fstat(in, &st) < 0)
		return -1;
	off_t pos = 0;
	while (pos < st.st_size) {
		off_t data = lseek(in, pos, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break; /* a hole to the end */
		off_t hole = data < 0 ? st.st_size : lseek(in, data, SEEK_HOLE);
		if (data < 0)
			data = pos;
		if (hole < 0)
			hole = st.st_size;
		if (copy_range(f, in, out, data, hole - data) < 0)
			return -1;
		pos = hole;
	}
	return ftruncate(out, st.st_size);
}

static int copy_data(struct vfs *f, int sfd, int dfd, const char *name, const char *path,
		     struct husk_error *e)
{
	_cleanup_fd_ int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_fd_ int out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				      0600);
	if (in < 0 || out < 0)
		return husk_errno(e, "%s: open", path);
	/* one reflink shares every extent: nothing copied */
	if (ioctl(out, FICLONE, in) == 0)
		return 0;
	if (copy_sparse(f, in, out) < 0)
		return husk_errno(e, "%s: copy", path);
	return 0;
}

/* A second name of an inode already copied from this layer. */
static int try_link(struct vfs *f, int dfd, const char *name, const char *path,
		    const struct stat *st, struct husk_error *e, bool *done)
{
	*done = false;
	if (st->st_nlink < 2)
		return 0;
	struct link_ent key = { st->st_dev, st->st_ino, NULL };
	struct link_ent **hit = tfind(&key, &f->links, link_cmp);
	if (!hit) {
		struct link_ent *l = xcalloc(1, sizeof(*l));
		*l = (struct link_ent){ st->st_dev, st->st_ino, xstrdup(path) };
		tsearch(l, &f->links, link_cmp);
		return 0;
	}
	char dir[PATH_MAX];
	const char *first = (*hit)->path, *slash = strrchr(first, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - first) : 0, first);
	_cleanup_fd_ int pfd = husk_layer_open_dir(f->rootfd, dir, false);
	if (pfd < 0 || linkat(pfd, slash ? slash + 1 : first, dfd, name, 0) < 0)
		return husk_err(e, pfd < 0 ? -pfd : errno, "%s: hard link", path);
	*done = true;
	return 0;
}

static int apply_dir(struct vfs *f, int sfd, int dfd, const char *path, struct husk_error *e);

static int empty_dir(int dfd, const char *name, struct husk_error *e)
{
	_cleanup_fd_ int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return husk_errno(e, "%s", name);
	_cleanup_dir_ DIR *d = fdopendir(dup(fd));
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    husk_rm_tree_at(fd, de->d_name, e) < 0)
			return -1;
	return 0;
}

static int apply_subdir(struct vfs *f, int sfd, int dfd, const char *name, const char *path,
			const struct stat *st, bool exists_dir, struct husk_error *e)
{
	char v[2];
	_cleanup_free_ char *sp = procpath(sfd, name);
	bool opaque = lgetxattr(sp, f->opaque, v, sizeof(v)) == 1 && v[0] == 'y';
	if (exists_dir && opaque && empty_dir(dfd, name, e) < 0)
		return -1;
	if (!exists_dir && mkdirat(dfd, name, 0700) < 0)
		return husk_errno(e, "%s: mkdir", path);
	_cleanup_fd_ int s2 = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_fd_ int d2 = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s2 < 0 || d2 < 0)
		return husk_errno(e, "%s: open", path);
	if (apply_dir(f, s2, d2, path, e) < 0)
		return -1;
	/* after the entries: making them changed the directory's times */
	return copy_meta(f, sfd, dfd, name, st, e);
}

static int apply_one(struct vfs *f, int sfd, int dfd, const char *name, const char *path,
		     struct husk_error *e)
{
	struct stat st, dst;
	if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return husk_errno(e, "%s: stat", path);
	bool exists = fstatat(dfd, name, &dst, AT_SYMLINK_NOFOLLOW) == 0;
	bool whiteout = S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
	if (exists && !(S_ISDIR(st.st_mode) && S_ISDIR(dst.st_mode)) && husk_rm_tree_at(dfd, name, e) < 0)
		return -1;
	if (whiteout)
		return 0;
	if (S_ISDIR(st.st_mode))
		return apply_subdir(f, sfd, dfd, name, path, &st, exists && S_ISDIR(dst.st_mode), e);
	if (S_ISREG(st.st_mode)) {
		bool linked;
		if (try_link(f, dfd, name, path, &st, e, &linked) < 0)
			return -1;
		if (linked)
			return 0;
		if (copy_data(f, sfd, dfd, name, path, e) < 0)
			return -1;
	} else if (S_ISLNK(st.st_mode)) {
		char t[PATH_MAX];
		ssize_t n = readlinkat(sfd, name, t, sizeof(t) - 1);
		if (n < 0)
			return husk_errno(e, "%s: readlink", path);
		t[n] = '\0';
		if (symlinkat(t, dfd, name) < 0)
			return husk_errno(e, "%s: symlink", path);
	} else if (mknodat(dfd, name, (st.st_mode & S_IFMT) | 0600, st.st_rdev) < 0) {
		return husk_errno(e, "%s: mknod", path);
	}
	return copy_meta(f, sfd, dfd, name, &st, e);
}

static int apply_dir(struct vfs *f, int sfd, int dfd, const char *path, struct husk_error *e)
{
	_cleanup_dir_ DIR *d = fdopendir(dup(sfd));
	if (!d)
		return husk_errno(e, "%s: open", *path ? path : "/");
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_free_ char *sub = *path ? xasprintf("%s/%s", path, de->d_name) : xstrdup(de->d_name);
		if (apply_one(f, sfd, dfd, de->d_name, sub, e) < 0)
			return -1;
	}
	return 0;
}

static struct vfs *vfs_new(int rootfd, bool rootless, const struct husk_storage_opts *shift)
{
	struct vfs *f = xcalloc(1, sizeof(*f));
	f->rootless = rootless;
	f->chown = !rootless || geteuid() == 0;
	f->shift = shift && (shift->n_uid_map || shift->n_gid_map) ? shift : NULL;
	f->opaque = husk_storage_opaque_xattr(rootless);
	f->rootfd = rootfd;
	return f;
}

static int vfs_apply(int srcfd, int dstfd, bool rootless, const struct husk_storage_opts *shift,
		     struct husk_error *e)
{
	struct vfs *f = vfs_new(dstfd, rootless, shift);
	int r = apply_dir(f, srcfd, dstfd, "", e);
	tdestroy(f->links, link_free);
	free(f);
	return r;
}

static int vfs_root_meta(int srcfd, int dstfd, bool rootless, const struct husk_storage_opts *shift,
			 struct husk_error *e)
{
	struct stat st;
	if (fstat(srcfd, &st) < 0)
		return husk_errno(e, "/: stat");
	struct vfs *f = vfs_new(dstfd, rootless, shift);
	int r = copy_meta(f, srcfd, dstfd, "", &st, e);
	free(f);
	return r;
}

int husk_vfs_apply(int srcfd, int dstfd, bool rootless, struct husk_error *e)
{
	return vfs_apply(srcfd, dstfd, rootless, NULL, e);
}

int husk_vfs_root_meta(int srcfd, int dstfd, bool rootless, struct husk_error *e)
{
	return vfs_root_meta(srcfd, dstfd, rootless, NULL, e);
}

struct copy_call {
	const struct husk_storage_opts *o;
	int dst;
};

static int copy_layers(void *arg, struct husk_error *e)
{
	const struct husk_storage_opts *o = ((struct copy_call *)arg)->o;
	int dst = ((struct copy_call *)arg)->dst;
	for (size_t i = 0; i < o->n_layers; i++) {
		_cleanup_fd_ int src = open(o->layers[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (src < 0)
			return husk_errno(e, "vfs: layer %s", o->layers[i]);
		if (vfs_apply(src, dst, o->rootless, o, e) < 0 ||
		    vfs_root_meta(src, dst, o->rootless, o, e) < 0)
			return husk_err_wrap(e, "vfs: copy of %s", o->layers[i]);
	}
	return 0;
}

/* rootfs/ in the state directory (or o->root_dir), every layer applied in
 * turn, owners shifted through the mapping; the root directory takes the
 * top-most layer's owner and mode.  Rootless with subordinate ids, the
 * layers' files may be theirs: the copy is made (owners kept) as root of
 * the user namespace the box will have. */
static int vfs_prepare(int dirfd, const char *dir, const struct husk_storage_opts *o, char **root,
		       char **overlay, struct husk_error *e)
{
	const char *name = husk_storage_vfs.root_name;
	_cleanup_fd_ int other = o->root_dir ? open(o->root_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (o->root_dir && other < 0)
		return husk_errno(e, "vfs: %s", o->root_dir);
	int at = o->root_dir ? other : dirfd;
	if (mkdirat(at, name, 0700) < 0)
		return husk_errno(e, "vfs: create %s", name);
	_cleanup_fd_ int dst = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dst < 0)
		return husk_errno(e, "vfs: open %s", name);
	struct copy_call x = { o, dst };
	if ((o->rootless && husk_rootless_has_subids(NULL) ? husk_userns_call(copy_layers, &x, NULL, 0, e)
							    : copy_layers(&x, e)) < 0)
		return -1;
	*root = xasprintf("%s/%s", o->root_dir ? o->root_dir : dir, name);
	*overlay = NULL;
	return 0;
}

const struct husk_storage_ops husk_storage_vfs = {
	.name = "vfs",
	.root_name = "rootfs",
	.prepare = vfs_prepare,
};
