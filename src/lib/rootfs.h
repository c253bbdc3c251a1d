/* Building the container's root filesystem inside its new mount namespace.
 * Runs in the container's init, before the user process exists. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

struct husk_cgroup;
struct husk_sys;

/* The caller fills sys, spec, no_pivot, in_userns, own_mount_ns, cwd,
 * console_fd (-1 when none), cgroup, idmap_sock, overlay and verify_flags; the rest is the
 * module's.  own_mount_ns: a mount namespace of the container's, new or
 * joined by path; false means chroot only, and then config.json may list
 * no mounts. */
struct husk_rootfs_ctx {
	const struct husk_sys *sys;  /* every kernel call (&husk_sys_real; a fake in tests) */
	const struct husk_spec *spec;
	bool no_pivot;         /* --no-pivot: MS_MOVE + chroot */
	bool in_userns;        /* a user namespace (new or joined): devices are bind-mounted */
	bool own_mount_ns;     /* false: only chroot into root.path */
	const char *cwd;       /* process cwd, created inside the rootfs when missing */
	int console_fd;        /* pty slave to bind on /dev/console, or -1 */
	const struct husk_cgroup *cgroup; /* the container's cgroups (for cgroup mounts) */
	int idmap_sock;        /* the sync socket, for idmap mounts and bind sources (<= 0: none) */
	const char *overlay;   /* box: overlay mount options; the overlay is mounted on
				* root.path first, in the container's mount namespace */
	bool root_by_runtime;  /* box with a user namespace, run by root: the runtime
				* mounts the overlay (idmapped lower layers) and hands
				* over the root, which the init may not reach itself */
	bool verify_flags;     /* statvfs every mount (and submount) for ro, nosuid, nodev,
				* noexec asked for: remount once, else fail (box --isolation chroot) */
	/* owned by the module between prepare and finalize (prepare sets them;
	 * finalize releases them) */
	int rootfs_fd;          /* the rootfs mount's root (O_PATH) */
	char *root_real;        /* its real path before the pivot */
	bool dev_readonly;      /* the /dev mount asked for "ro": applied in finalize */
	bool have_host_null;    /* host_null_*: the host's /dev/null, for std streams */
	dev_t host_null_dev;
	ino_t host_null_ino;
};

/* Before createContainer hooks: root propagation, the rootfs bound onto
 * itself, every mount of config.json in order, /dev and its devices,
 * symlinks and ptmx, the cwd.  The current directory is the rootfs on
 * return (hooks run from there, like runc's). */
int husk_rootfs_prepare(struct husk_rootfs_ctx *ctx, struct husk_error *e);

/* After createContainer hooks: pivot_root (or MS_MOVE + chroot, or chroot),
 * sysctl, maskedPaths, readonlyPaths, read-only root, std streams that were
 * the host's /dev/null reopened on the container's. */
int husk_rootfs_finalize(struct husk_rootfs_ctx *ctx, struct husk_error *e);

/* What the runtime needs to serve a box's root (root_by_runtime): the
 * overlay's options (NULL: the root is a plain directory, vfs) and the
 * layer trees (lowest first) whose idmapped clones go on <state>/lower/N,
 * to the container's user namespace (mount_overlay.c). */
struct husk_rootfs_box {
	const char *overlay;
	const char *const *layers;
	size_t n_layers;
	const char *lower_dir;
};

/* In the runtime, after SYNC_GO (and again after SYNC_CHILD_PID when there
 * is an intermediate): serve the init's requests to idmap its idmap/ridmap
 * bind mounts, with a user namespace to clone its bind sources, and with
 * box its request for the root (SYNC_ROOT), until the next message on the
 * sync socket is another one (left unread).  Returns at once when
 * config.json has neither and box is NULL. */
int husk_rootfs_idmap_serve(const struct husk_sys *sys, int sync_sock, const struct husk_spec *spec,
			    const struct husk_rootfs_box *box, struct husk_error *e);

/* box's overlay on target: mount(2) when its options fit the page that
 * takes, else the new mount API with one "lowerdir+" per layer (Linux
 * 6.8).  userxattr: mounted in a user namespace (user.overlay.*). */
int husk_rootfs_overlay_mount(const struct husk_sys *sys, const char *options, const char *target,
			      bool userxattr, struct husk_error *e);
