/* Safe path resolution inside the container's rootfs: one mechanism for
 * every mount destination, device node and directory the rootfs code
 * touches.  Paths are resolved as if the rootfs fd were "/" (absolute
 * symlinks and ".." never leave it, magic links are refused); missing
 * components are created relative to their parent's fd. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct husk_sys;

/* flags for husk_path_open */
#define HUSK_PATH_MKDIR 0x1     /* create missing components; the last one a directory */
#define HUSK_PATH_MKFILE 0x2    /* create missing directories; the last one an empty file */
#define HUSK_PATH_NOFOLLOW 0x4  /* do not follow a symlink in the last component */
#define HUSK_PATH_NO_OPENAT2 0x8 /* force the component walk (tests) */

/* Every kernel call goes through sys (the rootfs context's layer). */

/* O_PATH|O_CLOEXEC fd for path below rootfd, or -errno.  mode is the last
 * component's mode when created (intermediate directories get 0755). */
int husk_path_open(const struct husk_sys *sys, int rootfd, const char *path, int flags, mode_t mode);

/* The directory holding path's last component (created as directories when
 * HUSK_PATH_MKDIR is in flags) as an O_PATH fd, or -errno; the last
 * component is copied into leaf (NAME_MAX + 1 bytes).  A last component of
 * "", "." or ".." is -EINVAL. */
int husk_path_open_parent(const struct husk_sys *sys, int rootfd, const char *path, int flags,
			  char *leaf);

/* Where fd lies relative to root_real (the rootfs's real path): "" for the
 * root itself, "proc/cpuinfo" below it; NULL (errno set) when outside or
 * unknown.  buf: PATH_MAX bytes. */
const char *husk_path_rel_of_fd(const struct husk_sys *sys, int fd, const char *root_real,
				char *buf, size_t len);

enum husk_proc_guard {
	HUSK_PROC_OUTSIDE,  /* not under /proc */
	HUSK_PROC_ITSELF,   /* /proc itself: only a proc mount may go there */
	HUSK_PROC_ALLOWED,  /* one of the files lxcfs-like FUSE servers emulate */
	HUSK_PROC_DENIED,
};
/* Classify a destination relative to the rootfs ("proc/meminfo"). */
enum husk_proc_guard husk_path_proc_guard(const char *rel);

/* /proc/net is procfs's own link to self/net: "/proc/net/dev", written
 * just so in config.json, resolves to "proc/<pid>/net/dev".  True for
 * that pair only (the caller checks that the file is on procfs); any
 * other spelling of it (/proc/self/net/dev, /proc/1/..., "." or "..", a
 * symlink of the image) stays denied. */
bool husk_path_proc_net_dev(const char *dest, const char *rel);
