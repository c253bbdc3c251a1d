/* The kernel calls of the rootfs code, behind a table of function pointers.
 * The rootfs context carries the table in use (husk_sys_real in the init
 * and the runtime); unit tests pass a fake that records the calls, so the
 * rootfs logic runs without root.  Outside the table: the sync socket's
 * messages and the helper processes of mount_idmap.c and mount_source.c
 * (fork, clone, waitpid), and the close(2) of _cleanup_fd_, so the fds a
 * fake hands out must be real ones. */
#pragma once
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <linux/openat2.h>

#include "error.h"

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

/* Every function returns what the syscall returns (-1 with errno set). */
struct husk_sys {
	int (*mount)(const char *src, const char *target, const char *type, unsigned long flags,
		     const void *data);
	int (*umount2)(const char *target, int flags);
	int (*open_tree)(int dfd, const char *path, unsigned flags);
	int (*move_mount)(int from_dfd, const char *from, int to_dfd, const char *to, unsigned flags);
	int (*mount_setattr)(int dfd, const char *path, unsigned flags, struct mount_attr *attr,
			     size_t size);
	/* the new mount API's filesystem contexts (box's overlay past a page
	 * of options) */
	int (*fsopen)(const char *fsname, unsigned flags);
	int (*fsconfig)(int fd, unsigned cmd, const char *key, const void *value, int aux);
	int (*fsmount)(int fd, unsigned flags, unsigned attr_flags);
	int (*pivot_root)(const char *new_root, const char *put_old);
	int (*chroot)(const char *path);
	int (*chdir)(const char *path);
	int (*fchdir)(int fd);
	int (*openat)(int dfd, const char *path, int flags, mode_t mode);
	int (*openat2)(int dfd, const char *path, struct open_how *how, size_t size);
	int (*mkdirat)(int dfd, const char *path, mode_t mode);
	int (*mknodat)(int dfd, const char *path, mode_t mode, dev_t dev);
	int (*symlinkat)(const char *target, int dfd, const char *linkpath);
	int (*unlinkat)(int dfd, const char *path, int flags);
	ssize_t (*readlinkat)(int dfd, const char *path, char *buf, size_t size);
	int (*fstatat)(int dfd, const char *path, struct stat *st, int flags);
	int (*fstatfs)(int fd, struct statfs *st);
	int (*statfs)(const char *path, struct statfs *st);
	int (*fstatvfs)(int fd, struct statvfs *st);
	int (*fchownat)(int dfd, const char *path, uid_t uid, gid_t gid, int flags);
	int (*fchmodat)(int dfd, const char *path, mode_t mode, int flags);
	ssize_t (*read)(int fd, void *buf, size_t len);
	ssize_t (*write)(int fd, const void *buf, size_t len);
	/* struct dirent64 records into buf (glibc's layout is the kernel's) */
	ssize_t (*getdents64)(int fd, void *buf, size_t len);
	int (*dup3)(int oldfd, int newfd, int flags);
	int (*close)(int fd);
	mode_t (*umask)(mode_t mask);
	int (*setns)(int fd, int nstype);
};

extern const struct husk_sys husk_sys_real;

/* read/write through sys until len bytes (or EOF for read), retrying on
 * EINTR: what was done, or -1 with errno set. */
ssize_t husk_sys_read_all(const struct husk_sys *sys, int fd, void *buf, size_t len);
ssize_t husk_sys_write_all(const struct husk_sys *sys, int fd, const void *buf, size_t len);
/* A whole (small) file, NUL-terminated, into *out (the caller frees it). */
int husk_sys_read_file(const struct husk_sys *sys, const char *path, char **out,
		       struct husk_error *e);

/* "/proc/self/fd/N" into buf (>= HUSK_PROCFD_LEN bytes): the path through
 * which mount(2) reaches an fd. */
#define HUSK_PROCFD_LEN 32
const char *husk_procfd(char *buf, int fd);
