#include "path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "sys.h"
#include "util.h"

#define MAX_SYMLINKS 40

static int sys_close_keep_errno(const struct husk_sys *sys, int fd)
{
	int saved = errno;
	if (fd >= 0)
		sys->close(fd);
	errno = saved;
	return -1;
}

/* One kernel call: the whole path resolved with the rootfd as "/". */
static int open_fast(const struct husk_sys *sys, int rootfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC | ((flags & HUSK_PATH_NOFOLLOW) ? O_NOFOLLOW : 0),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	return sys->openat2(rootfd, path, &how, sizeof(how));
}

/* The remaining path as a growable buffer: components are consumed from
 * the front, symlink targets are spliced in front of the rest. */
struct walk {
	const struct husk_sys *sys;
	char *buf;   /* remaining path, NUL-terminated */
	size_t pos;  /* start of the remaining part */
	int *stack;  /* directory fds from the root down; stack[0] = rootfd (not owned) */
	size_t depth, cap;
};

static void walk_pop_all(struct walk *w)
{
	while (w->depth > 0)
		w->sys->close(w->stack[w->depth--]);
}

static void walk_push(struct walk *w, int fd)
{
	if (w->depth + 1 >= w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		w->stack = xrealloc(w->stack, w->cap * sizeof(int));
	}
	w->stack[++w->depth] = fd;
}

/* Next component into comp (NAME_MAX + 1); false at the end.  *last tells
 * whether nothing but slashes follows. */
static bool walk_next(struct walk *w, char *comp, bool *last)
{
	const char *p = w->buf + w->pos;
	while (*p == '/')
		p++;
	if (!*p)
		return false;
	const char *end = strchrnul(p, '/');
	size_t n = (size_t)(end - p);
	if (n > NAME_MAX) {
		errno = ENAMETOOLONG;
		comp[0] = '\0';
		return true;
	}
	memcpy(comp, p, n);
	comp[n] = '\0';
	while (*end == '/')
		end++;
	*last = !*end;
	w->pos = (size_t)(end - w->buf);
	return true;
}

/* Replace what was consumed with the symlink target: target + "/" + rest. */
static void walk_splice(struct walk *w, const char *target)
{
	const char *rest = w->buf + w->pos;
	char *n = xasprintf("%s/%s", target, rest);
	free(w->buf);
	w->buf = n;
	w->pos = 0;
}

static int create_leaf(const struct husk_sys *sys, int dirfd, const char *name, int flags,
		       mode_t mode, bool last)
{
	if (last && (flags & HUSK_PATH_MKFILE)) {
		int fd = sys->openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
					  mode);
		if (fd < 0)
			return -1;
		sys->close(fd);
		return 0;
	}
	return sys->mkdirat(dirfd, name, last ? mode : 0755);
}

/* The component walk: fallback for kernels without openat2 and the way
 * missing components get created.  Every step opens one name relative to
 * its parent's fd with O_NOFOLLOW; symlinks are read and their targets
 * resolved by the walk itself, so nothing the kernel follows can leave the
 * root. */
static int open_walk(const struct husk_sys *sys, int rootfd, const char *path, int flags,
		     mode_t mode)
{
	struct walk w = { .sys = sys, .buf = xstrdup(path) };
	char comp[NAME_MAX + 1];
	int links = 0, result = -1;
	bool last = true;
	bool create = flags & (HUSK_PATH_MKDIR | HUSK_PATH_MKFILE);

	walk_push(&w, -1);
	w.depth = 0;
	w.stack[0] = rootfd;

	while (walk_next(&w, comp, &last)) {
		if (!comp[0])
			goto out; /* ENAMETOOLONG */
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			/* ".." of the root is the root, as with RESOLVE_IN_ROOT */
			if (w.depth > 0)
				sys->close(w.stack[w.depth--]);
			continue;
		}
		int dirfd = w.stack[w.depth];
		int fd = sys->openat(dirfd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
		if (fd < 0 && errno == ENOENT && create) {
			/* EEXIST: a racing creator or a dangling symlink, which the
			 * reopen below then follows. */
			if (create_leaf(sys, dirfd, comp, flags, mode, last) < 0 && errno != EEXIST)
				goto out;
			fd = sys->openat(dirfd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
		}
		if (fd < 0)
			goto out;
		struct stat st;
		if (sys->fstatat(fd, "", &st, AT_EMPTY_PATH) < 0) {
			sys_close_keep_errno(sys, fd);
			goto out;
		}
		if (S_ISLNK(st.st_mode) && !(last && (flags & HUSK_PATH_NOFOLLOW))) {
			char target[PATH_MAX];
			ssize_t n = sys->readlinkat(fd, "", target, sizeof(target) - 1);
			sys_close_keep_errno(sys, fd);
			if (n < 0)
				goto out;
			if (++links > MAX_SYMLINKS) {
				errno = ELOOP;
				goto out;
			}
			target[n] = '\0';
			if (target[0] == '/')
				walk_pop_all(&w);
			walk_splice(&w, target);
			continue;
		}
		if (!last && !S_ISDIR(st.st_mode)) {
			sys_close_keep_errno(sys, fd);
			errno = ENOTDIR;
			goto out;
		}
		walk_push(&w, fd);
	}
	if (w.depth == 0) {
		result = sys->openat(rootfd, ".", O_PATH | O_CLOEXEC, 0);
	} else {
		result = w.stack[w.depth];
		w.depth--;
	}
out:;
	int saved = errno;
	walk_pop_all(&w);
	free(w.stack);
	free(w.buf);
	errno = saved;
	return result;
}

/* path's directory (allocated, "/" for a top-level name) and last
 * component; -EINVAL when the last component is empty, "." or "..". */
static int split_path(const char *path, char **dir, char *leaf)
{
	size_t len = strlen(path);
	while (len > 0 && path[len - 1] == '/')
		len--;
	size_t start = len;
	while (start > 0 && path[start - 1] != '/')
		start--;
	size_t n = len - start;
	if (n == 0)
		return -EINVAL;
	if (n > NAME_MAX)
		return -ENAMETOOLONG;
	memcpy(leaf, path + start, n);
	leaf[n] = '\0';
	if (strcmp(leaf, ".") == 0 || strcmp(leaf, "..") == 0)
		return -EINVAL;
	*dir = start ? xstrndup(path, start) : xstrdup("/");
	return 0;
}

/* The common case of a missing path: only the last component (or the last
 * few) is missing.  The parent is resolved, and created as needed, by the
 * same rules; the leaf is made relative to the parent's fd.  -EAGAIN: let
 * the walk sort it out (a dangling symlink, a race). */
static int create_last(const struct husk_sys *sys, int rootfd, const char *path, int flags,
		       mode_t mode)
{
	char leaf[NAME_MAX + 1];
	_cleanup_free_ char *dir = NULL;
	if (split_path(path, &dir, leaf) < 0)
		return -EAGAIN;
	int pflags = (flags & ~(HUSK_PATH_MKFILE | HUSK_PATH_NOFOLLOW)) | HUSK_PATH_MKDIR;
	_cleanup_fd_ int dirfd = husk_path_open(sys, rootfd, dir, pflags, 0755);
	if (dirfd < 0)
		return dirfd;
	if (create_leaf(sys, dirfd, leaf, flags, mode, true) < 0)
		return errno == EEXIST ? -EAGAIN : -errno;
	bool file = flags & HUSK_PATH_MKFILE;
	int fd = sys->openat(dirfd, leaf, O_PATH | O_NOFOLLOW | O_CLOEXEC | (file ? 0 : O_DIRECTORY),
				  0);
	if (fd < 0)
		return -EAGAIN;
	if (file) {
		/* O_NOFOLLOW alone opens a symlink swapped in meanwhile */
		struct stat st;
		if (sys->fstatat(fd, "", &st, AT_EMPTY_PATH) < 0 || S_ISLNK(st.st_mode)) {
			sys->close(fd);
			return -EAGAIN;
		}
	}
	return fd;
}

int husk_path_open(const struct husk_sys *sys, int rootfd, const char *path, int flags,
		   mode_t mode)
{
	int fd;
	bool create = flags & (HUSK_PATH_MKDIR | HUSK_PATH_MKFILE);
	if (!*path)
		path = "/";
	if (!(flags & HUSK_PATH_NO_OPENAT2)) {
		fd = open_fast(sys, rootfd, path, flags);
		if (fd >= 0)
			return fd;
		if (errno == ENOENT && create) {
			fd = create_last(sys, rootfd, path, flags, mode);
			if (fd != -EAGAIN)
				return fd;
		} else if (errno != ENOSYS && errno != EPERM) {
			/* ENOSYS: no openat2; EPERM: a seccomp filter hiding it. */
			return -errno;
		}
	}
	fd = open_walk(sys, rootfd, path, flags, mode);
	return fd < 0 ? -errno : fd;
}

int husk_path_open_parent(const struct husk_sys *sys, int rootfd, const char *path, int flags,
			  char *leaf)
{
	_cleanup_free_ char *dir = NULL;
	int r = split_path(path, &dir, leaf);
	if (r < 0)
		return r;
	return husk_path_open(sys, rootfd, dir, flags & (HUSK_PATH_MKDIR | HUSK_PATH_NO_OPENAT2), 0755);
}

const char *husk_path_rel_of_fd(const struct husk_sys *sys, int fd, const char *root_real,
				char *buf, size_t len)
{
	char procfd[HUSK_PROCFD_LEN];
	ssize_t n = sys->readlinkat(AT_FDCWD, husk_procfd(procfd, fd), buf, len - 1);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	size_t rl = strlen(root_real);
	while (rl > 0 && root_real[rl - 1] == '/')
		rl--;
	if (strncmp(buf, root_real, rl) != 0 || (buf[rl] != '/' && buf[rl] != '\0')) {
		errno = EXDEV;
		return NULL;
	}
	const char *rel = buf + rl;
	while (*rel == '/')
		rel++;
	return rel;
}

/* Files under /proc that FUSE servers such as lxcfs emulate per container:
 * the only ones a mount may cover (runc's list). */
static const char *const proc_allowed[] = {
	"cpuinfo", "diskstats", "meminfo", "stat", "swaps", "uptime", "loadavg", "slabinfo",
	"net/dev", "sys/kernel/ns_last_pid", "sys/crypto/fips_enabled",
};

enum husk_proc_guard husk_path_proc_guard(const char *rel)
{
	while (*rel == '/')
		rel++;
	if (strncmp(rel, "proc", 4) != 0 || (rel[4] != '/' && rel[4] != '\0'))
		return HUSK_PROC_OUTSIDE;
	const char *p = rel + 4;
	while (*p == '/')
		p++;
	if (!*p)
		return HUSK_PROC_ITSELF;
	size_t n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		n--;
	for (size_t i = 0; i < ARRAY_SIZE(proc_allowed); i++) {
		if (strlen(proc_allowed[i]) == n && strncmp(p, proc_allowed[i], n) == 0)
			return HUSK_PROC_ALLOWED;
	}
	return HUSK_PROC_DENIED;
}

/* Is dest, as written, exactly want: the same components, any number of
 * slashes between them, no "." or ".."? */
static bool spelled_as(const char *dest, const char *want)
{
	for (;;) {
		while (*dest == '/')
			dest++;
		while (*want == '/')
			want++;
		if (!*dest || !*want)
			return !*dest && !*want;
		size_t n = strcspn(dest, "/"), k = strcspn(want, "/");
		if (n != k || strncmp(dest, want, n) != 0)
			return false;
		dest += n;
		want += k;
	}
}

/* Only digits, up to a slash: a /proc/<pid> component. */
static const char *skip_pid(const char *p)
{
	const char *s = p;
	while (*p >= '0' && *p <= '9')
		p++;
	return p > s && *p == '/' ? p + 1 : NULL;
}

bool husk_path_proc_net_dev(const char *dest, const char *rel)
{
	if (!spelled_as(dest, "/proc/net/dev"))
		return false;
	while (*rel == '/')
		rel++;
	if (strncmp(rel, "proc/", 5) != 0)
		return false;
	const char *p = skip_pid(rel + 5);
	return p && strcmp(p, "net/dev") == 0;
}
