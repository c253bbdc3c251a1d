#include "sys.h"

#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

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
	.fstatvfs = fstatvfs,
	.fchownat = fchownat,
	.fchmodat = fchmodat,
	.write = write,
	.dup3 = dup3,
	.close = close,
	.umask = umask,
};

const struct husk_sys *husk_sys = &husk_sys_real;

const char *husk_procfd(char *buf, int fd)
{
	snprintf(buf, HUSK_PROCFD_LEN, "/proc/self/fd/%d", fd);
	return buf;
}
