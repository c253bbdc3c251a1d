#include "sys.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

/* Raw syscalls for the calls older libcs do not wrap. */
static int real_open_tree(int dfd, const char *path, unsigned flags)
{
	return (int)syscall(SYS_open_tree, dfd, path, flags);
}
static int real_move_mount(int from_dfd, const char *from, int to_dfd, const char *to, unsigned flags)
{
	return (int)syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags);
}
static int real_mount_setattr(int dfd, const char *path, unsigned flags, struct mount_attr *attr,
			      size_t size)
{
	return (int)syscall(SYS_mount_setattr, dfd, path, flags, attr, size);
}
static int real_fsopen(const char *fsname, unsigned flags)
{
	return (int)syscall(SYS_fsopen, fsname, flags);
}
static int real_fsconfig(int fd, unsigned cmd, const char *key, const void *value, int aux)
{
	return (int)syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}
static int real_fsmount(int fd, unsigned flags, unsigned attr_flags)
{
	return (int)syscall(SYS_fsmount, fd, flags, attr_flags);
}
static int real_pivot_root(const char *new_root, const char *put_old)
{
	return (int)syscall(SYS_pivot_root, new_root, put_old);
}
static int real_openat(int dfd, const char *path, int flags, mode_t mode)
{
	return openat(dfd, path, flags, mode);
}
static int real_openat2(int dfd, const char *path, struct open_how *how, size_t size)
{
	return (int)syscall(SYS_openat2, dfd, path, how, size);
}

const struct husk_sys husk_sys_real = {
	.mount = mount,
	.umount2 = umount2,
	.open_tree = real_open_tree,
	.move_mount = real_move_mount,
	.mount_setattr = real_mount_setattr,
	.fsopen = real_fsopen,
	.fsconfig = real_fsconfig,
	.fsmount = real_fsmount,
	.pivot_root = real_pivot_root,
	.chroot = chroot,
	.chdir = chdir,
	.fchdir = fchdir,
	.openat = real_openat,
	.openat2 = real_openat2,
	.mkdirat = mkdirat,
	.mknodat = mknodat,
	.symlinkat = symlinkat,
	.unlinkat = unlinkat,
	.readlinkat = readlinkat,
	.fstatat = fstatat,
	.fstatfs = fstatfs,
	.statfs = statfs,
	.fstatvfs = fstatvfs,
	.fchownat = fchownat,
	.fchmodat = fchmodat,
	.read = read,
	.write = write,
	.getdents64 = getdents64,
	.dup3 = dup3,
	.close = close,
	.umask = umask,
	.setns = setns,
};

ssize_t husk_sys_read_all(const struct husk_sys *sys, int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t r = sys->read(fd, p + done, len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

ssize_t husk_sys_write_all(const struct husk_sys *sys, int fd, const void *buf, size_t len)
{
	const char *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t r = sys->write(fd, p + done, len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int husk_sys_read_file(const struct husk_sys *sys, const char *path, char **out,
		       struct husk_error *e)
{
	_cleanup_fd_ int fd = sys->openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0);
	if (fd < 0)
		return husk_errno(e, "open %s", path);
	size_t cap = 4096, len = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		if (len + 1 >= cap)
			buf = xrealloc(buf, cap *= 2);
		ssize_t r = sys->read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return husk_errno(e, "read %s", path);
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

const char *husk_procfd(char *buf, int fd)
{
	snprintf(buf, HUSK_PROCFD_LEN, "/proc/self/fd/%d", fd);
	return buf;
}
