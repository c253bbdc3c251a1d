/* One layer blob extracted into an overlayfs-format tree, safely: every
 * entry is created relative to a directory fd found by openat2 below the
 * layer root without following any symlink, so no entry (.., an absolute
 * path, a symlink planted by an earlier one, a hard link) can reach
 * outside it.  Whiteouts become 0:0 character devices, opaque directories
 * get the overlay "opaque" xattr.  The blob is read once: the compressed
 * bytes are hashed (the blob digest), decompressed by one libarchive
 * reader whose output is hashed (the diff_id) and parsed as tar by a
 * second. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image_internal.h"
#include "log.h"
#include "path.h"
#include "rootless.h"
#include "sys.h"
#include "util.h"

#define BUF_SIZE (256 * 1024)

/* --- progress --------------------------------------------------------------- */

static void human(char *buf, size_t len, uint64_t n)
{
	if (n >= 1ULL << 30)
		snprintf(buf, len, "%.1f GiB", (double)n / (1ULL << 30));
	else
		snprintf(buf, len, "%.1f MiB", (double)n / (1ULL << 20));
}

static void progress_print(struct husk_progress *p)
{
	char a[32], b[32];
	human(a, sizeof(a), p->done);
	human(b, sizeof(b), p->total);
	unsigned pct = p->total ? (unsigned)(p->done * 100 / p->total) : 100;
	if (pct > 100)
		pct = 100;
	char bar[31];
	memset(bar, '#', pct * 30 / 100);
	memset(bar + pct * 30 / 100, '.', 30 - pct * 30 / 100);
	bar[30] = '\0';
	fprintf(stderr, "\rimporting [%s] %3u%% %s / %s ", bar, pct, a, b);
	husk_log_line_drawn(true);
}

void husk_progress_add(struct husk_progress *p, uint64_t n)
{
	if (!p)
		return;
	p->done += n;
	uint64_t now = husk_now_ns();
	if (p->on && now - p->last_ns > 100000000ULL) {
		p->last_ns = now;
		progress_print(p);
	}
}

void husk_progress_end(struct husk_progress *p)
{
	if (p && p->on && p->last_ns) {
		p->done = p->total;
		progress_print(p);
		fputc('\n', stderr);
		husk_log_line_drawn(false);
	}
}

/* --- paths ------------------------------------------------------------------ */

int husk_layer_clean_path(const char *in, char *out, size_t len)
{
	if (in[0] == '/')
		return -1;
	size_t o = 0;
	const char *p = in;
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -1;
		if (!(n == 1 && p[0] == '.')) {
			if (o + n + 2 > len)
				return -1;
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
	}
	out[o] = '\0';
	return 0;
}

enum husk_whiteout husk_layer_whiteout(const char *leaf, const char **target)
{
	if (strncmp(leaf, ".wh.", 4) != 0)
		return HUSK_WH_NONE;
	if (strcmp(leaf, ".wh..wh..opq") == 0)
		return HUSK_WH_OPAQUE;
	if (strncmp(leaf, ".wh..wh.", 8) == 0)
		return HUSK_WH_META;
	*target = leaf + 4;
	return HUSK_WH_FILE;
}

static int open_strict(int rootfd, const char *rel)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

int husk_layer_open_dir(int rootfd, const char *rel, bool create)
{
	int fd = open_strict(rootfd, rel);
	if (fd != -ENOENT || !create)
		return fd;
	/* Missing components are made by path.c's walk below the root; the
	 * strict open then checks that nothing on the way is a symlink. */
	int made = husk_path_open(&husk_sys_real, rootfd, rel, HUSK_PATH_MKDIR, 0755);
	if (made < 0)
		return made;
	close(made);
	return open_strict(rootfd, rel);
}

/* --- entries ---------------------------------------------------------------- */

struct dir_fixup {
	char *path;
	mode_t mode;
	struct timespec ts[2];
};

struct layer_ctx {
	const struct husk_image_store *s;
	int rootfd;
	bool plain;      /* the image archive itself: files, dirs, symlinks only */
	bool rootless;
	struct husk_layer_warned *warned;
	uint64_t size;
	struct dir_fixup *dirs;
	size_t ndirs, cap;
	char buf[BUF_SIZE];
};

static void warn_once(bool *flag, const char *msg)
{
	if (!*flag)
		husk_warn("%s", msg);
	*flag = true;
}

/* "/proc/self/fd/N/leaf": how *xattr(2) reach a name relative to a dir fd. */
static char *fd_path(int dirfd, const char *leaf)
{
	return xasprintf("/proc/self/fd/%d/%s", dirfd, leaf);
}

static int set_xattrs(struct layer_ctx *c, int dirfd, const char *leaf, struct archive_entry *en,
		      struct husk_error *e)
{
	const char *name;
	const void *val;
	size_t len;
	if (archive_entry_xattr_reset(en) == 0)
		return 0;
	_cleanup_free_ char *p = fd_path(dirfd, leaf);
	while (archive_entry_xattr_next(en, &name, &val, &len) == ARCHIVE_OK) {
		/* overlay's own xattrs would redirect or hide paths of the
		 * stack: only husk writes those */
		if (strncmp(name, "trusted.overlay.", 16) == 0 || strncmp(name, "user.overlay.", 13) == 0)
			continue;
		if (lsetxattr(p, name, val, len, 0) == 0)
			continue;
		if (c->rootless && (errno == EPERM || errno == ENOTSUP || errno == EACCES)) {
			warn_once(&c->warned->xattr, "image: xattrs an unprivileged user cannot set "
				  "(security.*, trusted.*) were skipped");
			continue;
		}
		return husk_errno(e, "set xattr %s", name);
	}
	return 0;
}

/* An id of the entry as the mapped user namespace has it; 0 (root, the
 * user itself on the host) when the mapping lacks it. */
static unsigned mapped_id(const struct husk_id_mapping *m, size_t n, la_int64_t id, bool *lost)
{
	if (id >= 0 && id <= UINT32_MAX && husk_idmap_maps(m, n, (unsigned)id))
		return (unsigned)id;
	*lost = true;
	return 0;
}

/* The entry's owner.  A mapped store keeps the ids its user namespace
 * maps; the others become root's, with one warning.  Rootless without a
 * mapping: everything stays the user's (one warning if that loses any). */
static int set_owner(struct layer_ctx *c, int dirfd, const char *leaf, struct archive_entry *en,
		     struct husk_error *e)
{
	const struct husk_image_store *s = c->s;
	la_int64_t u = archive_entry_uid(en), g = archive_entry_gid(en);
	uid_t uid = (uid_t)u;
	gid_t gid = (gid_t)g;
	if (c->rootless && !s->mapped) {
		const char *why = "";
		if ((u || g) && !c->warned->ids && !husk_rootless_has_subids(&why))
			husk_warn("image: owners are not kept (files of %lld:%lld, maybe others, are "
				  "the user's): %s", (long long)u, (long long)g, why);
		c->warned->ids |= u || g;
		return 0;
	}
	if (s->mapped) {
		bool lost = false;
		uid = mapped_id(s->uids, s->n_uids, u, &lost);
		gid = mapped_id(s->gids, s->n_gids, g, &lost);
		if (lost && !c->warned->ids)
			husk_warn("image: files owned by ids the user namespace does not map (%lld:%lld, "
				  "maybe others) are kept as root's: /etc/subuid and /etc/subgid give "
				  "uids 0-%u, gids 0-%u", (long long)u, (long long)g,
				  s->n_uids > 1 ? s->uids[1].size : 0, s->n_gids > 1 ? s->gids[1].size : 0);
		c->warned->ids |= lost;
	}
	if (fchownat(dirfd, leaf, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return husk_errno(e, "chown");
	return 0;
}

/* Owner, mode, xattrs and times of the new entry leaf in dirfd;
 * directories get mode and times at the end (their children change them,
 * and a read-only one must stay writable until then). */
static int apply_meta(struct layer_ctx *c, int dirfd, const char *leaf, const char *path,
		      struct archive_entry *en, mode_t type, struct husk_error *e)
{
	mode_t mode = archive_entry_perm(en) & 07777;
	struct timespec ts[2] = {
		{ archive_entry_atime(en), archive_entry_atime_nsec(en) },
		{ archive_entry_mtime(en), archive_entry_mtime_nsec(en) },
	};
	if (!archive_entry_atime_is_set(en))
		ts[0] = ts[1];
	if (c->plain)
		mode = type == AE_IFDIR ? 0755 : 0644;
	if (!c->plain && set_owner(c, dirfd, leaf, en, e) < 0)
		return -1;
	if (type == AE_IFDIR) {
		if (c->ndirs == c->cap)
			c->dirs = xrealloc(c->dirs, (c->cap = c->cap ? 2 * c->cap : 64) * sizeof(*c->dirs));
		c->dirs[c->ndirs++] = (struct dir_fixup){ xstrdup(path), mode, { ts[0], ts[1] } };
	} else if (type != AE_IFLNK && fchmodat(dirfd, leaf, mode, 0) < 0) {
		return husk_errno(e, "chmod");
	}
	if (!c->plain && type != AE_IFLNK && set_xattrs(c, dirfd, leaf, en, e) < 0)
		return -1;
	if (type != AE_IFDIR && utimensat(dirfd, leaf, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return husk_errno(e, "set times");
	return 0;
}

/* Remove whatever an earlier entry put at leaf; 1 when it is a directory
 * and keep_dir (a directory entry for an existing one updates it). */
static int clear_leaf(int dirfd, const char *leaf, bool keep_dir, struct husk_error *e)
{
	struct stat st;
	if (fstatat(dirfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : husk_errno(e, "stat");
	if (S_ISDIR(st.st_mode) && keep_dir)
		return 1;
	return husk_rm_tree_at(dirfd, leaf, e);
}

static int write_data(struct layer_ctx *c, struct archive *a, int fd, struct archive_entry *en,
		      struct husk_error *e)
{
	const void *buf;
	size_t len;
	la_int64_t off;
	int r;
	while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
		const char *p = buf;
		while (len > 0) {
			ssize_t n = pwrite(fd, p, len, off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return husk_err(e, n < 0 ? errno : EIO, "write");
			p += n;
			off += n;
			len -= (size_t)n;
		}
	}
	if (r != ARCHIVE_EOF)
		return husk_err(e, archive_errno(a) > 0 ? archive_errno(a) : 0, "%s",
				archive_error_string(a) ? archive_error_string(a) : "read error");
	/* a sparse file's trailing hole */
	if (archive_entry_size_is_set(en) && ftruncate(fd, archive_entry_size(en)) < 0)
		return husk_errno(e, "write");
	c->size += (uint64_t)archive_entry_size(en);
	return 0;
}

static int make_hardlink(struct layer_ctx *c, int dirfd, const char *leaf, const char *target,
			 struct husk_error *e)
{
	char t[PATH_MAX];
	if (husk_layer_clean_path(target, t, sizeof(t)) < 0 || !t[0])
		return husk_err(e, 0, "refused: hard link to \"%s\" leaves the layer", target);
	char *slash = strrchr(t, '/');
	const char *tleaf = slash ? slash + 1 : t;
	if (slash)
		*slash = '\0';
	_cleanup_fd_ int tdir = husk_layer_open_dir(c->rootfd, slash ? t : "", false);
	if (tdir == -ELOOP)
		return husk_err(e, 0, "refused: hard link to \"%s\" through a symlink", target);
	if (tdir < 0)
		return husk_err(e, -tdir, "hard link to \"%s\"", target);
	if (clear_leaf(dirfd, leaf, false, e) < 0)
		return -1;
	if (linkat(tdir, tleaf, dirfd, leaf, 0) < 0)
		return husk_errno(e, "hard link to \"%s\"", target);
	return 0;
}

/* A whiteout or opaque marker (.wh.*) into overlay's form. */
static int apply_whiteout(struct layer_ctx *c, int dirfd, enum husk_whiteout wh, const char *target,
			  struct husk_error *e)
{
	if (wh == HUSK_WH_META)
		return 0;
	if (wh == HUSK_WH_OPAQUE) {
		const char *x = husk_image_opaque_xattr(c->s);
		if (fsetxattr(dirfd, x, "y", 1, 0) < 0)
			return husk_errno(e, "set %s", x);
		return 0;
	}
	if (!*target || !strcmp(target, ".") || !strcmp(target, ".."))
		return husk_err(e, 0, "refused: whiteout of \"%s\"", target);
	if (clear_leaf(dirfd, target, false, e) < 0)
		return -1;
	if (mknodat(dirfd, target, S_IFCHR | 0, makedev(0, 0)) < 0)
		return husk_errno(e, "create the whiteout of %s", target);
	return 0;
}

/* The object itself, at leaf in dirfd (an earlier entry there replaced). */
static int make_node(struct layer_ctx *c, struct archive *a, int dirfd, const char *leaf,
		     struct archive_entry *en, mode_t type, struct husk_error *e)
{
	int r = clear_leaf(dirfd, leaf, type == AE_IFDIR, e);
	if (r < 0)
		return -1;
	switch (type) {
	case AE_IFDIR:
		if (r == 0 && mkdirat(dirfd, leaf, 0700) < 0)
			return husk_errno(e, "mkdir");
		return 0;
	case AE_IFREG: {
		_cleanup_fd_ int fd = openat(dirfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
					     0600);
		if (fd < 0)
			return husk_errno(e, "create");
		return write_data(c, a, fd, en, e);
	}
	case AE_IFLNK: {
		const char *t = archive_entry_symlink(en);
		if (!t || symlinkat(t, dirfd, leaf) < 0)
			return husk_err(e, t ? errno : EINVAL, "symlink");
		return 0;
	}
	case AE_IFIFO:
		return mknodat(dirfd, leaf, S_IFIFO | 0600, 0) < 0 ? husk_errno(e, "mkfifo") : 0;
	default: /* AE_IFCHR, AE_IFBLK */
		if (mknodat(dirfd, leaf, (type == AE_IFCHR ? S_IFCHR : S_IFBLK) | 0600,
			    archive_entry_rdev(en)) < 0)
			return husk_errno(e, "mknod");
		return 0;
	}
}

/* Is this entry skipped rather than made?  (1: skip) */
static int skip_type(struct layer_ctx *c, mode_t type, struct husk_error *e)
{
	switch (type) {
	case AE_IFDIR: case AE_IFREG: case AE_IFLNK:
		return 0;
	case AE_IFIFO:
		return c->plain;
	case AE_IFCHR: case AE_IFBLK:
		if (c->plain)
			return 1;
		if (c->rootless) {
			warn_once(&c->warned->dev, "image: device nodes skipped (an unprivileged "
				  "user cannot create them)");
			return 1;
		}
		return 0;
	default:
		return husk_err(e, 0, "unsupported entry type 0%o", (unsigned)type);
	}
}

static int apply_entry(struct layer_ctx *c, struct archive *a, struct archive_entry *en,
		       const char *path, struct husk_error *e)
{
	mode_t type = archive_entry_filetype(en);
	const char *hl = archive_entry_hardlink(en);
	char dir[PATH_MAX];
	const char *leaf = path;
	const char *slash = strrchr(path, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 0, path);
	if (slash)
		leaf = slash + 1;
	if (!*path) { /* the layer root itself: its metadata only */
		if (type != AE_IFDIR || c->plain)
			return 0;
		return apply_meta(c, c->rootfd, ".", "", en, AE_IFDIR, e);
	}
	const char *target = NULL;
	enum husk_whiteout wh = c->plain ? HUSK_WH_NONE : husk_layer_whiteout(leaf, &target);
	int sk = hl || wh ? 0 : skip_type(c, type, e);
	if (sk)
		return sk < 0 ? -1 : 0;
	_cleanup_fd_ int dirfd = husk_layer_open_dir(c->rootfd, dir, true);
	if (dirfd == -ELOOP)
		return husk_err(e, 0, "refused: its directory is reached through a symlink");
	if (dirfd < 0)
		return husk_err(e, -dirfd, "open its directory");
	if (wh)
		return apply_whiteout(c, dirfd, wh, target, e);
	if (hl)
		return c->plain ? 0 : make_hardlink(c, dirfd, leaf, hl, e);
	if (make_node(c, a, dirfd, leaf, en, type, e) < 0)
		return -1;
	return apply_meta(c, dirfd, leaf, path, en, type, e);
}

/* Directory modes and times, after everything below them exists. */
static int fix_dirs(struct layer_ctx *c, struct husk_error *e)
{
	for (size_t i = c->ndirs; i-- > 0;) {
		struct dir_fixup *d = &c->dirs[i];
		_cleanup_fd_ int fd = husk_layer_open_dir(c->rootfd, d->path, false);
		if (fd < 0)
			continue; /* replaced by a later entry */
		if (fchmod(fd, d->mode) < 0 || futimens(fd, d->ts) < 0)
			return husk_errno(e, "\"%s\": set mode and times", d->path);
	}
	return 0;
}

static void free_dirs(struct layer_ctx *c)
{
	for (size_t i = 0; i < c->ndirs; i++)
		free(c->dirs[i].path);
	free(c->dirs);
}

static int archive_fail(struct archive *a, struct husk_error *e)
{
	const char *m = archive_error_string(a);
	/* libarchive also uses errno values (EILSEQ, EINVAL) for "bad
	 * format": only a system error's text adds anything */
	int err = archive_errno(a);
	bool sys = err == EIO || err == ENOSPC || err == EDQUOT || err == ENOMEM || err == EACCES ||
		   err == EPERM || err == ENOENT || err == EISDIR;
	return husk_err(e, sys ? err : 0, "%s", m ? m : "archive read error");
}

static int extract_entries(struct layer_ctx *c, struct archive *a, struct husk_error *e)
{
	struct archive_entry *en;
	int r;
	while ((r = archive_read_next_header(a, &en)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *name = archive_entry_pathname(en);
		char path[PATH_MAX];
		if (!name)
			return husk_err(e, 0, "an entry without a usable name");
		if (husk_layer_clean_path(name, path, sizeof(path)) < 0)
			return husk_err(e, 0, "\"%s\": refused: the path leaves the layer", name);
		if (apply_entry(c, a, en, path, e) < 0)
			return husk_err_wrap(e, "\"%s\"", name);
	}
	if (r != ARCHIVE_EOF)
		return archive_fail(a, e);
	return fix_dirs(c, e);
}

/* --- the two-reader pipeline -------------------------------------------------- */

struct blob_src {
	int fd;
	struct husk_sha256 h;
	uint64_t n;
	struct husk_progress *prog;
	char buf[BUF_SIZE];
};

static la_ssize_t blob_read(struct archive *a, void *data, const void **buf)
{
	struct blob_src *b = data;
	ssize_t n;
	do
		n = read(b->fd, b->buf, sizeof(b->buf));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "read");
		return -1;
	}
	husk_sha256_update(&b->h, b->buf, (size_t)n);
	b->n += (uint64_t)n;
	husk_progress_add(b->prog, (uint64_t)n);
	*buf = b->buf;
	return n;
}

struct tar_src {
	struct archive *outer;   /* the decompressor: format "raw" */
	struct husk_sha256 h;
	char buf[BUF_SIZE];
};

static la_ssize_t tar_read(struct archive *a, void *data, const void **buf)
{
	struct tar_src *t = data;
	la_ssize_t n = archive_read_data(t->outer, t->buf, sizeof(t->buf));
	if (n < 0) {
		const char *m = archive_error_string(t->outer);
		archive_set_error(a, archive_errno(t->outer), "%s", m ? m : "decompression failed");
		return -1;
	}
	husk_sha256_update(&t->h, t->buf, (size_t)n);
	*buf = t->buf;
	return n;
}

/* Read what the tar reader left (the end-of-archive padding), then the
 * blob's own tail, so both digests cover everything. */
static int drain(struct tar_src *t, struct blob_src *b, struct husk_error *e)
{
	for (;;) {
		la_ssize_t n = archive_read_data(t->outer, t->buf, sizeof(t->buf));
		if (n < 0)
			return archive_fail(t->outer, e);
		if (n == 0)
			break;
		husk_sha256_update(&t->h, t->buf, (size_t)n);
	}
	for (;;) {
		ssize_t n = read(b->fd, b->buf, sizeof(b->buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return husk_errno(e, "read");
		if (n == 0)
			return 0;
		husk_sha256_update(&b->h, b->buf, (size_t)n);
		b->n += (uint64_t)n;
		husk_progress_add(b->prog, (uint64_t)n);
	}
}

static struct archive *new_decompressor(void)
{
	struct archive *a = archive_read_new();
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_raw(a);
	return a;
}

int husk_layer_extract(const struct husk_image_store *s, int blobfd, int dirfd,
		       struct husk_progress *prog, struct husk_layer_result *res,
		       struct husk_error *e)
{
	struct blob_src *b = xcalloc(1, sizeof(*b));
	struct tar_src *t = xcalloc(1, sizeof(*t));
	struct layer_ctx *c = xcalloc(1, sizeof(*c));
	*c = (struct layer_ctx){ .s = s, .rootfd = dirfd, .rootless = s->rootless,
				 .warned = &res->warned };
	b->fd = blobfd;
	b->prog = prog;
	husk_sha256_init(&b->h);
	husk_sha256_init(&t->h);
	struct archive *outer = new_decompressor(), *inner = archive_read_new();
	struct archive_entry *raw;
	int r = -1;
	t->outer = outer;
	archive_read_support_format_tar(inner);
	if (archive_read_open(outer, b, NULL, blob_read, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(outer, &raw) != ARCHIVE_OK) {
		archive_fail(outer, e);
		goto out;
	}
	if (archive_read_open(inner, t, NULL, tar_read, NULL) != ARCHIVE_OK) {
		archive_fail(inner, e);
		goto out;
	}
	if (extract_entries(c, inner, e) < 0 || drain(t, b, e) < 0)
		goto out;
	husk_sha256_hex(&b->h, res->blob_hex);
	husk_sha256_hex(&t->h, res->diff_hex);
	res->blob_size = b->n;
	res->size = c->size;
	r = 0;
out:
	archive_read_free(inner);
	archive_read_free(outer);
	free_dirs(c);
	free(c);
	free(t);
	free(b);
	return r;
}

int husk_layer_extract_plain(int archfd, int dirfd, struct husk_error *e)
{
	static const struct husk_image_store plain_store = { .rootless = true };
	struct layer_ctx *c = xcalloc(1, sizeof(*c));
	struct husk_layer_warned warned = { 0 };
	*c = (struct layer_ctx){ .s = &plain_store, .rootfd = dirfd, .plain = true, .rootless = true,
				 .warned = &warned };
	struct archive *a = archive_read_new();
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	int r = -1;
	if (archive_read_open_fd(a, archfd, BUF_SIZE) != ARCHIVE_OK)
		archive_fail(a, e);
	else
		r = extract_entries(c, a, e);
	archive_read_free(a);
	free_dirs(c);
	free(c);
	return r;
}
