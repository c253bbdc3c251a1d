/* A path looked up in a stack of overlay-format layers as overlayfs would
 * show it, without mounting anything: husk box reads /etc/passwd and
 * checks CMD in an image before its root exists.  Each directory of the
 * walk keeps the layers it is merged from (top-most first, down to an
 * opaque one); a name is the top-most layer's that has it, a 0:0
 * character device hides it.  Symlinks are followed inside the union
 * (at most 40), ".." stops at its root.  In a layer, every lookup is
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS: the walk has made sure each
 * parent is a directory there. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "storage.h"
#include "util.h"

#define MAX_LINKS 40

struct walk {
	const int *fds;
	size_t n;
	const char *opaque;
	char cur[PATH_MAX];   /* the directory reached, canonical, "" the root */
	size_t *stack;        /* layers cur is merged from, top-most first */
	size_t depth;
};

static int open_in(int layerfd, const char *rel, int flags)
{
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
	int fd = (int)syscall(SYS_openat2, layerfd, *rel ? rel : ".", &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

/* 0 and *st, or -errno (ENOENT also for a missing parent). */
static int lstat_in(int layerfd, const char *rel, struct stat *st)
{
	int fd = open_in(layerfd, rel, O_PATH);
	if (fd < 0)
		return fd == -ENOTDIR ? -ENOENT : fd;
	int r = fstat(fd, st) < 0 ? -errno : 0;
	close(fd);
	return r;
}

static bool is_opaque(const struct walk *w, size_t layer, const char *rel)
{
	int fd = open_in(w->fds[layer], rel, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return false;
	char v[2];
	bool r = fgetxattr(fd, w->opaque, v, sizeof(v)) == 1 && v[0] == 'y';
	close(fd);
	return r;
}

static bool whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* The layers the directory rel is merged from: those of the parent's
 * stack from index from on where rel is a directory, down to an opaque
 * one or anything that is not a directory (a whiteout, a file). */
static void merge_stack(const struct walk *w, const size_t *parent, size_t nparent, size_t from,
			const char *rel, size_t *out, size_t *nout)
{
	*nout = 0;
	for (size_t k = from; k < nparent; k++) {
		struct stat st;
		size_t l = parent[k];
		if (lstat_in(w->fds[l], rel, &st) < 0)
			continue; /* not in this layer: the ones below may have it */
		if (!S_ISDIR(st.st_mode))
			break;
		out[(*nout)++] = l;
		if (is_opaque(w, l, rel))
			break;
	}
}

static void walk_root(struct walk *w)
{
	w->cur[0] = '\0';
	size_t *all = xcalloc(w->n, sizeof(size_t));
	for (size_t i = 0; i < w->n; i++)
		all[i] = w->n - 1 - i;
	merge_stack(w, all, w->n, 0, "", w->stack, &w->depth);
	free(all);
}

/* cur's parent, its stack rebuilt from the root. */
static void walk_up(struct walk *w)
{
	char path[PATH_MAX];
	char *slash = strrchr(w->cur, '/');
	snprintf(path, sizeof(path), "%.*s", slash ? (int)(slash - w->cur) : 0, w->cur);
	walk_root(w);
	if (!*path)
		return;
	size_t *tmp = xcalloc(w->n, sizeof(size_t));
	/* each prefix of path ending at a component: "a", "a/b", ... */
	for (char *end = path;; end++) {
		if (*end && *end != '/')
			continue;
		char c = *end;
		*end = '\0';
		size_t nt;
		merge_stack(w, w->stack, w->depth, 0, path, tmp, &nt);
		memcpy(w->stack, tmp, nt * sizeof(size_t));
		w->depth = nt;
		*end = c;
		if (!c)
			break;
	}
	snprintf(w->cur, sizeof(w->cur), "%s", path);
	free(tmp);
}

/* Find name in cur: *layer (the top-most that has it) and *st; -ENOENT. */
static int find(const struct walk *w, const char *rel, size_t *at, struct stat *st)
{
	for (size_t k = 0; k < w->depth; k++) {
		int r = lstat_in(w->fds[w->stack[k]], rel, st);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		if (whiteout(st))
			return -ENOENT;
		*at = k;
		return 0;
	}
	return -ENOENT;
}

/* Resolve rest (a path below cur) component by component. */
static int resolve(struct walk *w, const char *path, bool follow_last, size_t *layer, char *rel)
{
	char rest[PATH_MAX];
	int links = 0;
	if (snprintf(rest, sizeof(rest), "%s", path) >= (int)sizeof(rest))
		return -ENAMETOOLONG;
	char *p = rest;
	for (;;) {
		p += strspn(p, "/");
		if (!*p)
			break;
		size_t len = strcspn(p, "/");
		char name[NAME_MAX + 1];
		if (len > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(name, p, len);
		name[len] = '\0';
		p += len;
		bool last = p[strspn(p, "/")] == '\0';
		if (!strcmp(name, "."))
			continue;
		if (!strcmp(name, "..")) {
			walk_up(w);
			continue;
		}
		if (!w->depth)
			return -ENOENT;
		char child[PATH_MAX];
		if (snprintf(child, sizeof(child), "%s%s%s", w->cur, *w->cur ? "/" : "", name) >=
		    (int)sizeof(child))
			return -ENAMETOOLONG;
		size_t k;
		struct stat st;
		int r = find(w, child, &k, &st);
		if (r < 0)
			return r;
		if (S_ISLNK(st.st_mode) && (!last || follow_last)) {
			if (++links > MAX_LINKS)
				return -ELOOP;
			char target[PATH_MAX], joined[PATH_MAX];
			int fd = open_in(w->fds[w->stack[k]], child, O_PATH);
			ssize_t n = fd < 0 ? -1 : readlinkat(fd, "", target, sizeof(target) - 1);
			if (fd >= 0)
				close(fd);
			if (n < 0)
				return -EIO;
			target[n] = '\0';
			if (snprintf(joined, sizeof(joined), "%s/%s", target, p) >= (int)sizeof(joined))
				return -ENAMETOOLONG;
			memcpy(rest, joined, strlen(joined) + 1);
			p = rest;
			if (target[0] == '/')
				walk_root(w);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			size_t *tmp = xcalloc(w->n, sizeof(size_t)), nt;
			merge_stack(w, w->stack, w->depth, k, child, tmp, &nt);
			memcpy(w->stack, tmp, nt * sizeof(size_t));
			w->depth = nt;
			free(tmp);
			snprintf(w->cur, sizeof(w->cur), "%s", child);
			continue;
		}
		if (!last)
			return -ENOTDIR;
		*layer = w->stack[k];
		snprintf(rel, PATH_MAX, "%s", child);
		return 0;
	}
	if (!w->depth)
		return -ENOENT;
	*layer = w->stack[0];
	snprintf(rel, PATH_MAX, "%s", w->cur);
	return 0;
}

int husk_layers_open(const int *layerfds, size_t n, const char *opaque_xattr, const char *path,
		     int flags)
{
	if (!n)
		return -ENOENT;
	struct walk w = { .fds = layerfds, .n = n, .opaque = opaque_xattr };
	w.stack = xcalloc(n, sizeof(size_t));
	walk_root(&w);
	size_t layer = 0;
	char rel[PATH_MAX];
	int r = resolve(&w, path, !(flags & O_NOFOLLOW), &layer, rel);
	free(w.stack);
	if (r < 0)
		return r;
	return open_in(layerfds[layer], rel, flags & ~O_NOFOLLOW);
}
