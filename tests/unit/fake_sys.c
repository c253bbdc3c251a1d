/* The recording fake of the sys layer (see fake_sys.h). */
#include "fake_sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

struct husk_sys fake;
char fake_log[16384];
const char *fake_root = "/";
unsigned long fake_stflags = ~0UL;
int fake_pivot_errno;
long fake_fstatfs_magic;
long fake_statfs_magic;
int fake_setattr_eperm;
bool fake_cover_tmpfs;
int fake_read_errno;
const char *fake_st_path;
unsigned long fake_st_path_flags;
bool fake_remount_sets;
unsigned long fake_remount_stflags;
const char *fake_mountinfo;
const char *fake_fsconfig_einval;

void fake_logf(const char *fmt, ...)
{
	size_t l = strlen(fake_log);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(fake_log + l, sizeof(fake_log) - l, fmt, ap);
	va_end(ap);
	l = strlen(fake_log);
	if (l + 1 < sizeof(fake_log))
		strcat(fake_log, "\n");
}

/* "/proc/self/fd/N" or an fd -> path relative to the fake root */
static const char *show(const char *path, int fd, char *buf)
{
	char link[HUSK_PROCFD_LEN], tmp[PATH_MAX];
	if (path && strncmp(path, "/proc/self/fd/", 14) != 0)
		return path;
	if (!path)
		path = husk_procfd(link, fd);
	ssize_t n = readlink(path, tmp, sizeof(tmp) - 1);
	if (n < 0)
		return "?";
	tmp[n] = '\0';
	char real[PATH_MAX];
	if (!realpath(fake_root, real))
		return "?";
	size_t rl = strlen(real);
	if (strncmp(tmp, real, rl) == 0) {
		snprintf(buf, PATH_MAX, "/%s", tmp[rl] == '/' ? tmp + rl + 1 : tmp + rl);
		return buf;
	}
	snprintf(buf, PATH_MAX, "%s", tmp);
	return buf;
}

static int fake_mount(const char *src, const char *target, const char *type, unsigned long flags,
		      const void *data)
{
	char b1[PATH_MAX], b2[PATH_MAX];
	fake_logf("mount %s %s %s %#lx %s", src ? show(src, -1, b1) : "-", show(target, -1, b2),
		  type ? type : "-", flags, data ? (const char *)data : "-");
	if ((flags & MS_REMOUNT) && fake_remount_sets)
		fake_stflags = fake_remount_stflags;
	if (!fake_cover_tmpfs || !type || strcmp(type, "tmpfs") != 0)
		return 0;
	char dir[PATH_MAX], aside[PATH_MAX + 16];
	ssize_t n = readlink(target, dir, sizeof(dir) - 1);
	if (n < 0)
		return -1;
	dir[n] = '\0';
	snprintf(aside, sizeof(aside), "%s.covered", dir);
	return rename(dir, aside) < 0 || mkdir(dir, 0755) < 0 ? -1 : 0;
}
int fake_open_tree(int dfd, const char *path, unsigned flags)
{
	char b[PATH_MAX];
	int fd = openat(dfd, path, O_PATH | O_CLOEXEC | ((flags & AT_EMPTY_PATH) ? 0 : 0));
	if (!*path)
		fd = openat(dfd, ".", O_PATH | O_CLOEXEC);
	fake_logf("open_tree %s%s", *path ? path : show(NULL, dfd, b),
		  (flags & AT_RECURSIVE) ? " rec" : "");
	return fd;
}
int fake_no_open_tree(int dfd, const char *path, unsigned flags)
{
	(void)dfd, (void)path, (void)flags;
	errno = ENOSYS;
	return -1;
}
static int fake_move_mount(int from, const char *fp, int to, const char *tp, unsigned flags)
{
	(void)fp, (void)flags, (void)from;
	char b[PATH_MAX];
	fake_logf("move_mount -> %s", tp && *tp ? show(tp, -1, b) : show(NULL, to, b));
	return 0;
}
/* fs contexts: real fds (of /dev/null) that the code closes */
static int fake_fsopen(const char *fs, unsigned flags)
{
	(void)flags;
	fake_logf("fsopen %s", fs);
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}
static int fake_fsconfig(int fd, unsigned cmd, const char *key, const void *value, int aux)
{
	(void)fd, (void)aux;
	fake_logf("fsconfig %u %s %s", cmd, key ? key : "-", value ? (const char *)value : "-");
	if (fake_fsconfig_einval && key && !strcmp(key, fake_fsconfig_einval)) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}
static int fake_fsmount(int fd, unsigned flags, unsigned attr)
{
	(void)fd, (void)flags;
	fake_logf("fsmount %#x", attr);
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}
static int fake_mount_setattr(int dfd, const char *path, unsigned flags, struct mount_attr *a,
			      size_t size)
{
	(void)dfd, (void)path, (void)size;
	bool fail = a->attr_clr & (uint64_t)fake_setattr_eperm;
	fake_logf("setattr%s set=%#llx clr=%#llx prop=%#llx%s", (flags & AT_RECURSIVE) ? " rec" : "",
		  (unsigned long long)a->attr_set, (unsigned long long)a->attr_clr,
		  (unsigned long long)a->propagation, fail ? " EPERM" : "");
	if (fail) {
		errno = EPERM;
		return -1;
	}
	return 0;
}
static int fake_mknodat(int dfd, const char *path, mode_t mode, dev_t dev)
{
	fake_logf("mknod %s %o %u:%u", path, mode & 07777, major(dev), minor(dev));
	int fd = openat(dfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}
static int fake_fchownat(int dfd, const char *path, uid_t u, gid_t g, int flags)
{
	(void)dfd, (void)flags;
	fake_logf("chown %s %u:%u", path, u, g);
	return 0;
}

static int fake_fstatvfs(int fd, struct statvfs *st)
{
	char b[PATH_MAX];
	int r = fstatvfs(fd, st);
	st->f_flag = fake_stflags;
	if (fake_st_path && strcmp(show(NULL, fd, b), fake_st_path) == 0)
		st->f_flag = fake_st_path_flags;
	return r;
}
static int fake_openat(int dfd, const char *path, int flags, mode_t mode)
{
	if (fake_mountinfo && strcmp(path, "/proc/self/mountinfo") == 0)
		path = fake_mountinfo;
	return openat(dfd, path, flags, mode);
}
static int fake_pivot_root(const char *n, const char *o)
{
	fake_logf("pivot_root %s %s", n, o);
	if (fake_pivot_errno) {
		errno = fake_pivot_errno;
		return -1;
	}
	return 0;
}
static int fake_chroot(const char *path)
{
	fake_logf("chroot %s", path);
	return 0;
}
static int fake_chdir(const char *path)
{
	fake_logf("chdir %s", path);
	return 0;
}
static int fake_umount2(const char *path, int flags)
{
	fake_logf("umount2 %s %#x", path, flags);
	return 0;
}
static int fake_statfs(const char *path, struct statfs *st)
{
	int r = statfs(path, st);
	if (fake_statfs_magic)
		st->f_type = fake_statfs_magic;
	return r;
}
static ssize_t fake_getdents64(int fd, void *buf, size_t len)
{
	char b[PATH_MAX];
	fake_logf("getdents64 %s", show(NULL, fd, b));
	return getdents64(fd, buf, len);
}
static ssize_t fake_read(int fd, void *buf, size_t len)
{
	if (fake_read_errno) {
		errno = fake_read_errno;
		return -1;
	}
	return read(fd, buf, len);
}
static ssize_t fake_write(int fd, const void *buf, size_t len)
{
	char b[PATH_MAX];
	fake_logf("write %s %zu", show(NULL, fd, b), len);
	return write(fd, buf, len);
}
static int fake_fstatfs(int fd, struct statfs *st)
{
	int r = fstatfs(fd, st);
	if (fake_fstatfs_magic)
		st->f_type = fake_fstatfs_magic;
	return r;
}

void fake_sys_init(void)
{
	fake = husk_sys_real;
	fake.mount = fake_mount;
	fake.open_tree = fake_open_tree;
	fake.move_mount = fake_move_mount;
	fake.fsopen = fake_fsopen;
	fake.fsconfig = fake_fsconfig;
	fake.fsmount = fake_fsmount;
	fake.mount_setattr = fake_mount_setattr;
	fake.mknodat = fake_mknodat;
	fake.fchownat = fake_fchownat;
	fake.fstatvfs = fake_fstatvfs;
	fake.openat = fake_openat;
	fake.pivot_root = fake_pivot_root;
	fake.chroot = fake_chroot;
	fake.chdir = fake_chdir;
	fake.umount2 = fake_umount2;
	fake.fstatfs = fake_fstatfs;
	fake.statfs = fake_statfs;
	fake.getdents64 = fake_getdents64;
	fake.read = fake_read;
	fake.write = fake_write;
}

void fake_log_clear(void)
{
	fake_log[0] = '\0';
}

bool has_line(const char *line)
{
	const char *p = fake_log;
	size_t l = strlen(line);
	while ((p = strstr(p, line))) {
		if ((p == fake_log || p[-1] == '\n') && (p[l] == '\n' || p[l] == '\0'))
			return true;
		p += l;
	}
	return false;
}

bool before(const char *a, const char *b)
{
	const char *pa = strstr(fake_log, a), *pb = strstr(fake_log, b);
	return pa && pb && pa < pb;
}

void dump_log(void)
{
	for (char *l = fake_log, *nl; *l; l = nl + 1) {
		nl = strchrnul(l, '\n');
		printf("# %.*s\n", (int)(nl - l), l);
		if (!*nl)
			break;
	}
}
