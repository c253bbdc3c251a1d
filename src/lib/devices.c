#include "devices.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "path.h"
#include "sys.h"
#include "util.h"

static const struct husk_device default_devices[] = {
	{ .type = 'c', .path = "/dev/null", .major = 1, .minor = 3 },
	{ .type = 'c', .path = "/dev/zero", .major = 1, .minor = 5 },
	{ .type = 'c', .path = "/dev/full", .major = 1, .minor = 7 },
	{ .type = 'c', .path = "/dev/random", .major = 1, .minor = 8 },
	{ .type = 'c', .path = "/dev/urandom", .major = 1, .minor = 9 },
	{ .type = 'c', .path = "/dev/tty", .major = 5, .minor = 0 },
};

static mode_t type_bits(char type)
{
	switch (type) {
	case 'b':
		return S_IFBLK;
	case 'p':
		return S_IFIFO;
	default:
		return S_IFCHR;
	}
}

/* Create an empty regular file at dirfd/leaf, replacing whatever non-directory
 * the image had there; returns an O_PATH fd to it. */
static int replace_with_file(const struct husk_sys *sys, int dirfd, const char *leaf, mode_t mode)
{
	for (int tries = 0; tries < 2; tries++) {
		int fd = sys->openat(dirfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
					  mode);
		if (fd >= 0) {
			sys->close(fd);
			return sys->openat(dirfd, leaf, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
		}
		if (errno != EEXIST || sys->unlinkat(dirfd, leaf, 0) < 0)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

/* "/dev/NAME" -> NAME, else NULL (nested or elsewhere: resolved in full) */
static const char *direct_dev_name(const char *path)
{
	if (strncmp(path, "/dev/", 5) != 0)
		return NULL;
	const char *n = path + 5;
	if (!*n || strchr(n, '/') || strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || strlen(n) > NAME_MAX)
		return NULL;
	return n;
}

static int make_device(const struct husk_sys *sys, int rootfd, int devfd,
		       const struct husk_device *d, bool in_userns, struct husk_error *e)
{
	char leaf[NAME_MAX + 1];
	_cleanup_fd_ int owned = -1;
	int dirfd = devfd;
	const char *name = direct_dev_name(d->path);
	if (name) {
		strcpy(leaf, name);
	} else {
		owned = husk_path_open_parent(sys, rootfd, d->path, HUSK_PATH_MKDIR, leaf);
		if (owned < 0)
			return husk_err(e, -owned, "device %s: mkdir parent", d->path);
		dirfd = owned;
	}
	mode_t perm = d->has_file_mode ? (d->file_mode & 07777) : 0666;

	/* Device nodes made in a user namespace do not work (the superblock is
	 * nodev for it): bind the host's node instead.  FIFOs need no privilege. */
	if (in_userns && d->type != 'p') {
		_cleanup_fd_ int fd = replace_with_file(sys, dirfd, leaf, 0000);
		if (fd < 0)
			return husk_errno(e, "device %s: create", d->path);
		char procfd[HUSK_PROCFD_LEN];
		if (sys->mount(d->path, husk_procfd(procfd, fd), NULL, MS_BIND, NULL) < 0)
			return husk_errno(e, "device %s: bind from host", d->path);
		return 0;
	}

	dev_t dev = makedev((unsigned)d->major, (unsigned)d->minor);
	if (sys->mknodat(dirfd, leaf, type_bits(d->type) | perm, dev) < 0) {
		/* Whatever the image put there (a file, another node) goes: the
		 * node must be exactly the one configured. */
		if (errno != EEXIST || sys->unlinkat(dirfd, leaf, 0) < 0 ||
		    sys->mknodat(dirfd, leaf, type_bits(d->type) | perm, dev) < 0)
			return husk_errno(e, "device %s: mknod", d->path);
	}
	uid_t uid = d->has_uid ? d->uid : 0;
	gid_t gid = d->has_gid ? d->gid : 0;
	if ((uid || gid) && sys->fchownat(dirfd, leaf, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return husk_errno(e, "device %s: chown", d->path);
	return 0;
}

int husk_devices_create(const struct husk_sys *sys, int rootfd, const struct husk_spec *spec,
			bool in_userns, struct husk_error *e)
{
	/* One /dev fd serves every /dev/NAME device. */
	_cleanup_fd_ int dev = husk_path_open(sys, rootfd, "/dev", HUSK_PATH_MKDIR, 0755);
	if (dev < 0)
		return husk_err(e, -dev, "mkdir /dev");
	for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++) {
		bool listed = false;
		for (size_t j = 0; j < spec->n_devices && !listed; j++)
			listed = strcmp(spec->devices[j].path, default_devices[i].path) == 0;
		if (!listed && make_device(sys, rootfd, dev, &default_devices[i], in_userns, e) < 0)
			return -1;
	}
	for (size_t j = 0; j < spec->n_devices; j++) {
		if (make_device(sys, rootfd, dev, &spec->devices[j], in_userns, e) < 0)
			return husk_err_wrap(e, "linux.devices[%zu]", j);
	}
	return 0;
}

int husk_devices_symlinks(const struct husk_sys *sys, int rootfd, struct husk_error *e)
{
	static const struct {
		const char *target, *name;
	} links[] = {
		{ "/proc/self/fd", "fd" },
		{ "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" },
		{ "/proc/self/fd/2", "stderr" },
		{ "/proc/kcore", "core" },
	};
	_cleanup_fd_ int dev = husk_path_open(sys, rootfd, "/dev", HUSK_PATH_MKDIR, 0755);
	if (dev < 0)
		return husk_err(e, -dev, "mkdir /dev");
	struct stat st;
	bool kcore = sys->fstatat(AT_FDCWD, "/proc/kcore", &st, AT_SYMLINK_NOFOLLOW) == 0;
	for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
		if (strcmp(links[i].name, "core") == 0 && !kcore)
			continue;
		if (sys->symlinkat(links[i].target, dev, links[i].name) < 0 && errno != EEXIST)
			return husk_errno(e, "symlink /dev/%s", links[i].name);
	}
	/* ptmx must be the devpts instance's, whatever the image has there. */
	if (sys->unlinkat(dev, "ptmx", 0) < 0 && errno != ENOENT)
		return husk_errno(e, "remove /dev/ptmx");
	if (sys->symlinkat("pts/ptmx", dev, "ptmx") < 0)
		return husk_errno(e, "symlink /dev/ptmx");
	return 0;
}

int husk_devices_console(const struct husk_sys *sys, int rootfd, int console_fd,
			 struct husk_error *e)
{
	if (console_fd < 0)
		return 0;
	_cleanup_fd_ int dev = husk_path_open(sys, rootfd, "/dev", HUSK_PATH_MKDIR, 0755);
	if (dev < 0)
		return husk_err(e, -dev, "mkdir /dev");
	_cleanup_fd_ int fd = replace_with_file(sys, dev, "console", 0666);
	if (fd < 0 && errno == EROFS) {
		/* The host's /dev bound read-only (box --isolation chroot): its
		 * console node gets the pty bound over it, in our namespace. */
		struct stat st;
		fd = sys->openat(dev, "console", O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
		if (fd >= 0 && (sys->fstatat(fd, "", &st, AT_EMPTY_PATH) < 0 ||
				!(S_ISCHR(st.st_mode) || S_ISREG(st.st_mode)))) {
			husk_closep(&fd);
			errno = EROFS;
		}
	}
	if (fd < 0)
		return husk_errno(e, "create /dev/console");
	char src[HUSK_PROCFD_LEN], dst[HUSK_PROCFD_LEN];
	if (sys->mount(husk_procfd(src, console_fd), husk_procfd(dst, fd), NULL, MS_BIND, NULL) < 0)
		return husk_errno(e, "bind console on /dev/console");
	return 0;
}
