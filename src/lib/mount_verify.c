/* Flags verified after every mount (the rootfs context's verify_flags,
 * set by box --isolation chroot): ro, nosuid, nodev and noexec, where
 * asked for, must be what statvfs shows on the mount and, for recursive
 * options, on every submount.  One that did not stick gets a bind remount
 * carrying it and the flags the mount has now (locked ones included);
 * when it still does not show, the mount fails naming it and the flag.
 * husk run does not pay for this: mount_setattr applies all or fails. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include "path.h"
#include "rootfs_internal.h"
#include "sys.h"
#include "util.h"

#ifndef ST_NOSYMFOLLOW
#define ST_NOSYMFOLLOW 0x2000
#endif

static const struct {
	uint64_t attr;
	unsigned long st, ms;
	const char *name;
} verified[] = {
	{ MOUNT_ATTR_RDONLY, ST_RDONLY, MS_RDONLY, "ro" },
	{ MOUNT_ATTR_NOSUID, ST_NOSUID, MS_NOSUID, "nosuid" },
	{ MOUNT_ATTR_NODEV, ST_NODEV, MS_NODEV, "nodev" },
	{ MOUNT_ATTR_NOEXEC, ST_NOEXEC, MS_NOEXEC, "noexec" },
};

/* The first flag of want that f_flag lacks, or -1. */
static int first_missing(uint64_t want, unsigned long f_flag)
{
	for (size_t i = 0; i < ARRAY_SIZE(verified); i++)
		if ((want & verified[i].attr) && !(f_flag & verified[i].st))
			return (int)i;
	return -1;
}

/* One mount, by an fd of its root; where names it in errors. */
static int verify_one(const struct husk_sys *sys, int fd, uint64_t want, const char *where,
		      struct husk_error *e)
{
	struct statvfs sv;
	if (sys->fstatvfs(fd, &sv) < 0)
		return husk_errno(e, "mount %s: statvfs", where);
	int miss = first_missing(want, sv.f_flag);
	if (miss < 0)
		return 0;
	/* A bind remount replaces the per-mount flags: the ones there now go
	 * along (a locked one cannot be cleared), atime ones are kept by
	 * the kernel when none is given. */
	unsigned long fl = MS_REMOUNT | MS_BIND | ((sv.f_flag & ST_NOSYMFOLLOW) ? MS_NOSYMFOLLOW : 0);
	for (size_t i = 0; i < ARRAY_SIZE(verified); i++)
		if ((sv.f_flag & verified[i].st) || (want & verified[i].attr))
			fl |= verified[i].ms;
	char p[HUSK_PROCFD_LEN];
	if (sys->mount(NULL, husk_procfd(p, fd), NULL, fl, NULL) < 0)
		return husk_errno(e, "mount %s: remount %s", where, verified[miss].name);
	if (sys->fstatvfs(fd, &sv) < 0)
		return husk_errno(e, "mount %s: statvfs", where);
	miss = first_missing(want, sv.f_flag);
	if (miss >= 0)
		return husk_err(e, 0, "mount %s: %s did not stick", where, verified[miss].name);
	return 0;
}

/* Every mount below the destination (mountinfo names them by their real
 * paths, which start with the rootfs's), reached again inside the root. */
static int verify_submounts(struct mnt *t, uint64_t want, struct husk_error *e)
{
	const struct husk_sys *sys = t->ctx->sys;
	_cleanup_free_ char *text = NULL;
	if (husk_sys_read_file(sys, "/proc/self/mountinfo", &text, e) < 0)
		return husk_err_wrap(e, "verify submounts");
	_cleanup_free_ char *top = xasprintf("%s/%s/", t->ctx->root_real, t->rel);
	size_t root_len = strlen(t->ctx->root_real), top_len = strlen(top);
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		int off = 0;
		if (sscanf(line, "%*d %*d %*s %*s %n", &off) < 0 || !off)
			continue;
		char *mp = line + off, *sp = strchr(mp, ' ');
		if (sp)
			*sp = '\0';
		husk_unescape_octal(mp);
		if (strncmp(mp, top, top_len) || !mp[top_len])
			continue;
		const char *rel = mp + root_len; /* "/sys/fs/cgroup" */
		_cleanup_fd_ int fd = husk_path_open(sys, t->ctx->rootfs_fd, rel, 0, 0);
		if (fd == -ENOENT)
			continue; /* covered by a later mount of the tree */
		if (fd < 0)
			return husk_err(e, -fd, "mount %s: open", rel);
		if (verify_one(sys, fd, want, rel, e) < 0)
			return -1;
	}
	return 0;
}

int rootfs_verify_flags(struct mnt *t, struct husk_error *e)
{
	uint64_t set, clr, all = 0;
	for (size_t i = 0; i < ARRAY_SIZE(verified); i++)
		all |= verified[i].attr;
	husk_mount_opts_attr(&t->o, &set, &clr);
	uint64_t rec = t->o.rec_set & all, want = (set | rec) & all;
	/* A read-only /dev is made so in finalize, once its nodes exist. */
	if (t->ctx->dev_readonly && !strcmp(t->rel, "dev"))
		want &= ~(uint64_t)MOUNT_ATTR_RDONLY;
	if (!want)
		return 0;
	_cleanup_fd_ int top = rootfs_reopen_top(t, e);
	if (top < 0)
		return -1;
	_cleanup_free_ char *where = xasprintf("/%s", t->rel);
	if (verify_one(t->ctx->sys, top, want, where, e) < 0)
		return -1;
	return rec ? verify_submounts(t, rec, e) : 0;
}

/* What finalize mounted after the pivot: readonlyPaths, maskedPaths (an
 * empty read-only tmpfs on a directory, /dev/null on anything else), a
 * read-only /dev and root.  Paths that do not exist were skipped there. */
int rootfs_verify_final(struct husk_rootfs_ctx *ctx, struct husk_error *e)
{
	const struct husk_sys *sys = ctx->sys;
	const struct husk_spec *spec = ctx->spec;
	const uint64_t ro = MOUNT_ATTR_RDONLY;
	for (size_t i = 0; i < spec->n_readonly_paths; i++) {
		_cleanup_fd_ int fd = husk_path_open(sys, ctx->rootfs_fd, spec->readonly_paths[i], 0, 0);
		if (fd >= 0 && verify_one(sys, fd, ro, spec->readonly_paths[i], e) < 0)
			return -1;
	}
	for (size_t i = 0; i < spec->n_masked_paths; i++) {
		const char *p = spec->masked_paths[i];
		_cleanup_fd_ int fd = husk_path_open(sys, ctx->rootfs_fd, p, 0, 0);
		struct stat st;
		if (fd < 0)
			continue;
		if (sys->fstatat(fd, "", &st, AT_EMPTY_PATH) < 0)
			return husk_errno(e, "maskedPaths: %s: stat", p);
		if (S_ISDIR(st.st_mode)) {
			if (verify_one(sys, fd, ro, p, e) < 0)
				return -1;
		} else if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
			return husk_err(e, 0, "maskedPaths: %s: not masked by /dev/null", p);
		}
	}
	if (ctx->dev_readonly) {
		_cleanup_fd_ int dev = husk_path_open(sys, ctx->rootfs_fd, "/dev", 0, 0);
		if (dev >= 0 && verify_one(sys, dev, ro, "/dev", e) < 0)
			return -1;
	}
	if (spec->root_readonly && verify_one(sys, ctx->rootfs_fd, ro, "/", e) < 0)
		return -1;
	return 0;
}
