/* Layers flattened onto one tree (husk image unpack): each overlay-format
 * layer applied in order over the ones below: a 0:0 character device
 * removes the name, an opaque directory empties what lies below it, hard
 * links within a layer stay hard links.  Every destination is made
 * relative to a directory fd opened without following symlinks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image_internal.h"
#include "util.h"

struct link_ent {
	dev_t dev;
	ino_t ino;
	char *path;   /* where the first copy went, relative to the root */
};

struct flatten {
	const struct husk_image_store *s;
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
	return xasprintf("/proc/self/fd/%d/%s", dirfd, name);
}

static int copy_xattrs(struct flatten *f, int sfd, int dfd, const char *name, struct husk_error *e)
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
		if (lsetxattr(dp, k, f->buf, (size_t)vl, 0) < 0 && !(f->s->rootless && errno == EPERM))
			return husk_errno(e, "%s: set xattr %s", name, k);
	}
	return 0;
}

static int copy_meta(struct flatten *f, int sfd, int dfd, const char *name, const struct stat *st,
		     struct husk_error *e)
{
	if (!f->s->rootless && fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return husk_errno(e, "%s: chown", name);
	if (!S_ISLNK(st->st_mode)) {
		mode_t m = st->st_mode & 07777;
		/* rootless: a directory must stay writable for the layers above */
		if (S_ISDIR(st->st_mode) && f->s->rootless)
			m |= 0700;
		if (fchmodat(dfd, name, m, 0) < 0)
			return husk_errno(e, "%s: chmod", name);
		if (copy_xattrs(f, sfd, dfd, name, e) < 0)
			return -1;
	}
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return husk_errno(e, "%s: set times", name);
	return 0;
}

static int copy_data(struct flatten *f, int sfd, int dfd, const char *name, struct husk_error *e)
{
	_cleanup_fd_ int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_fd_ int out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				      0600);
	if (in < 0 || out < 0)
		return husk_errno(e, "%s: open", name);
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			return husk_errno(e, "%s: copy", name);
		break;
	}
	for (;;) {
		ssize_t n = read(in, f->buf, sizeof(f->buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return husk_errno(e, "%s: read", name);
		if (n == 0)
			return 0;
		if (husk_write_all(out, f->buf, (size_t)n) < 0)
			return husk_errno(e, "%s: write", name);
	}
}

/* A second name of an inode already copied from this layer. */
static int try_link(struct flatten *f, int dfd, const char *name, const char *path,
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

static int apply_dir(struct flatten *f, int sfd, int dfd, const char *path, struct husk_error *e);

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

static int apply_subdir(struct flatten *f, int sfd, int dfd, const char *name, const char *path,
			const struct stat *st, bool exists_dir, struct husk_error *e)
{
	char v[2];
	_cleanup_free_ char *sp = procpath(sfd, name);
	const char *x = husk_image_opaque_xattr(f->s);
	bool opaque = lgetxattr(sp, x, v, sizeof(v)) == 1 && v[0] == 'y';
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
	return copy_meta(f, sfd, dfd, name, st, e);
}

static int apply_one(struct flatten *f, int sfd, int dfd, const char *name, const char *path,
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
		if (copy_data(f, sfd, dfd, name, e) < 0)
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

static int apply_dir(struct flatten *f, int sfd, int dfd, const char *path, struct husk_error *e)
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

int husk_flatten_layer(const struct husk_image_store *s, int layerfd, int rootfd,
		       struct husk_error *e)
{
	struct flatten *f = xcalloc(1, sizeof(*f));
	f->s = s;
	f->rootfd = rootfd;
	int r = apply_dir(f, layerfd, rootfd, "", e);
	tdestroy(f->links, link_free);
	free(f);
	return r;
}
