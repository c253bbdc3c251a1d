/* box's root.  The overlay's mount(2) options fit one page, about 100-180
 * lower layers; past that the new mount API adds them one "lowerdir+" at
 * a time (Linux 6.8).
 *
 * With a user namespace and husk run by root, the layers' host-owned
 * files must show as the container's own: the overlay is made by a child
 * of the runtime that enters the init's mount namespace, with host root's
 * credentials (overlayfs then reads the layers' trusted.overlay.* markers,
 * which the container's root may not), its lower layers idmapped clones
 * of the layer trees (MOUNT_ATTR_IDMAP to the container's user namespace;
 * Linux 5.19) attached on <state>/lower/N.  The init could not reach its
 * root in the state directory or the store anyway (host root's 0700
 * directories), so the child hands back an O_PATH fd of the mounted root;
 * a vfs root (a copy shifted to the mapping) comes the same way. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rootfs_internal.h"
#include "storage.h"
#include "sync.h"
#include "sys.h"
#include "util.h"

/* "lowerdir=A:B,upperdir=U,workdir=W" through fsopen/fsconfig/fsmount. */
static int overlay_fsmount(const struct husk_sys *sys, const char *options, const char *target,
			   bool userxattr, struct husk_error *e)
{
	_cleanup_fd_ int fs = sys->fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		return husk_errno(e, "overlay: fsopen");
	if (userxattr && sys->fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0)
		return husk_errno(e, "overlay: userxattr");
	_cleanup_free_ char *copy = xstrdup(options);
	char *save = NULL;
	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');
		if (!v)
			return husk_err(e, EINVAL, "overlay: option %s", kv);
		*v++ = '\0';
		if (strcmp(kv, "lowerdir") != 0) {
			if (sys->fsconfig(fs, FSCONFIG_SET_STRING, kv, v, 0) < 0)
				return husk_errno(e, "overlay: %s=%s", kv, v);
			continue;
		}
		size_t n = 1;
		for (const char *c = v; *c; c++)
			n += *c == ':';
		char *save2 = NULL;
		for (char *l = strtok_r(v, ":", &save2); l; l = strtok_r(NULL, ":", &save2)) {
			if (sys->fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", l, 0) == 0)
				continue;
			if (errno == EINVAL && l == v)
				return husk_err(e, 0,
						"overlay: %zu layers make mount options of %zu bytes, more "
						"than the %d mount(2) takes, and this kernel has no "
						"lowerdir+ (Linux 6.8): use --storage vfs",
						n, strlen(options), HUSK_OVERLAY_DATA_MAX);
			return husk_errno(e, "overlay: lower layer %s", l);
		}
	}
	if (sys->fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return husk_errno(e, "overlay: create");
	_cleanup_fd_ int mnt = sys->fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV);
	if (mnt < 0)
		return husk_errno(e, "overlay: fsmount");
	if (sys->move_mount(mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return husk_errno(e, "overlay: mount on %s", target);
	return 0;
}

int husk_rootfs_overlay_mount(const struct husk_sys *sys, const char *options, const char *target,
			      bool userxattr, struct husk_error *e)
{
	_cleanup_free_ char *data = xasprintf("%s%s", options, userxattr ? ",userxattr" : "");
	if (strlen(data) > HUSK_OVERLAY_DATA_MAX)
		return overlay_fsmount(sys, options, target, userxattr, e);
	if (sys->mount("overlay", target, "overlay", MS_NODEV, data) < 0)
		return husk_errno(e, "overlay: mount on %s", target);
	return 0;
}

/* --- the init's side -------------------------------------------------------- */

int rootfs_root_from_runtime(struct husk_rootfs_ctx *ctx, struct husk_error *e)
{
	const struct husk_sys *sys = ctx->sys;
	if (ctx->idmap_sock <= 0)
		return husk_err(e, ENOTSUP, "root: no runtime to ask for it");
	static const char *const ns[] = { "/proc/self/ns/mnt", "/proc/self/ns/user" };
	int fds[2] = { -1, -1 };
	int root = -1;
	for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
		fds[i] = sys->openat(AT_FDCWD, ns[i], O_RDONLY | O_CLOEXEC, 0);
		if (fds[i] < 0) {
			husk_errno(e, "open %s", ns[i]);
			goto out;
		}
	}
	if (rootfs_send_fds(ctx->idmap_sock, SYNC_ROOT, 0, fds, 2, e) == 0 &&
	    husk_sync_expect_fd(ctx->idmap_sock, SYNC_ROOT, &root, e) < 0)
		root = -1;
out:
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			sys->close(fds[i]);
	return root;
}

/* --- the runtime's side ----------------------------------------------------- */

/* Each layer's idmapped clone on lower/N. */
static int idmap_layers(const struct husk_sys *sys, const struct husk_rootfs_box *box, int userns,
			struct husk_error *e)
{
	for (size_t i = 0; i < box->n_layers; i++) {
		const char *layer = box->layers[i];
		_cleanup_fd_ int tree = sys->open_tree(AT_FDCWD, layer, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (tree < 0)
			return husk_errno(e, "overlay: clone layer %s", layer);
		struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns };
		if (sys->mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
			int err = errno;
			husk_err(e, err, "overlay: idmap layer %s%s", layer,
				 err == EINVAL || err == EOPNOTSUPP
					 ? " (its filesystem cannot be idmapped: use --storage vfs)"
					 : "");
			return -1;
		}
		char dst[PATH_MAX];
		snprintf(dst, sizeof(dst), "%s/%zu", box->lower_dir, i);
		if (sys->move_mount(tree, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return husk_errno(e, "overlay: attach layer %s on %s", layer, dst);
	}
	return 0;
}

/* In a child: enter mntns, make the root, send its fd (or the error). */
static __attribute__((noreturn)) void root_in_ns(const struct husk_sys *sys, int sock,
						  const char *root, const struct husk_rootfs_box *box,
						  int mntns, int userns)
{
	struct husk_error e = { 0 };
	if (sys->setns(mntns, CLONE_NEWNS) < 0) {
		husk_errno(&e, "enter the container's mount namespace");
	} else if (!box->overlay || (idmap_layers(sys, box, userns, &e) == 0 &&
				     husk_rootfs_overlay_mount(sys, box->overlay, root, false, &e) == 0)) {
		int fd = sys->openat(AT_FDCWD, root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
		if (fd < 0)
			husk_errno(&e, "rootfs %s", root);
		else if (husk_sync_send_fd(sock, SYNC_ROOT, fd, &e) == 0)
			_exit(0);
	}
	husk_sync_send_error(sock, &e);
	_exit(1);
}

int rootfs_root_serve(const struct husk_sys *sys, const struct husk_spec *spec,
		      const struct husk_rootfs_box *box, int mntns, int userns, struct husk_error *e)
{
	if (!box || userns < 0)
		return husk_err(e, EPROTO, "root: bad request");
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return husk_errno(e, "root: socketpair");
	pid_t pid = fork();
	if (pid == 0) {
		close(sp[0]);
		root_in_ns(sys, sp[1], spec->root_path, box, mntns, userns);
	}
	close(sp[1]);
	int root = -1;
	if (pid < 0)
		husk_errno(e, "root: fork");
	else if (husk_sync_expect_fd(sp[0], SYNC_ROOT, &root, e) < 0)
		root = -1;
	close(sp[0]);
	while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return root;
}
