/* Shared between the rootfs module's files (rootfs.c, mount_cgroup.c,
 * mount_idmap.c): one config.json mount being made, and the helpers that
 * clone, flag, check and attach mounts on resolved fds. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "mount_opts.h"
#include "rootfs.h"
#include "sync.h"

struct mnt {
	struct husk_rootfs_ctx *ctx;
	const struct husk_mount *m;
	size_t index;         /* in config.json's mounts */
	struct husk_mount_opts o;
	const char *type;     /* "bind" for bind mounts */
	char *source;         /* absolute for binds (bundle-relative resolved) */
	int dfd;              /* destination, O_PATH */
	int tree;             /* bind source, detached (open_tree clone), or -1 */
	const char *rel;      /* destination relative to the rootfs's real path */
	char relbuf[PATH_MAX];
};

/* The mount now on top of the destination (dfd still names the covered
 * directory once something got mounted on it). */
int rootfs_reopen_top(struct mnt *t, struct husk_error *e);

/* A detached tree (open_tree clone) made ready and attached on dst: set/clr
 * on its root mount, rset/rclr recursively, the flags checked with statvfs,
 * then move_mount and the propagation.  what names the source in errors. */
int rootfs_attach(struct husk_rootfs_ctx *ctx, int tree, int dst, uint64_t set, uint64_t clr,
		  uint64_t rset, uint64_t rclr, unsigned long prop, const char *what,
		  struct husk_error *e);

/* mount(2) of a filesystem on the destination, then tmpcopyup, recursive
 * attributes and propagation from t->o. */
int rootfs_fs_mount(struct mnt *t, const char *source, const char *type, unsigned long flags,
		    struct husk_error *e);

int rootfs_set_propagation(const struct husk_sys *sys, int fd, unsigned long prop,
			   struct husk_error *e);

/* mount_verify.c: with ctx->verify_flags, after the mount: ro, nosuid,
 * nodev, noexec asked for (recursive ones on every submount) as statvfs
 * shows them, after one bind remount at most; else "mount DEST: FLAG did
 * not stick". */
int rootfs_verify_flags(struct mnt *t, struct husk_error *e);
/* The same for what finalize mounts: readonly and masked paths, a
 * read-only /dev and root (verify_flags only). */
int rootfs_verify_final(struct husk_rootfs_ctx *ctx, struct husk_error *e);

/* mount_cgroup.c: type "cgroup" / "cgroup2". */
int rootfs_mount_cgroup(struct mnt *t, struct husk_error *e);

/* mount_idmap.c: in the init, have the runtime idmap the detached tree
 * (the init has no CAP_SYS_ADMIN over the source's superblock). */
int rootfs_idmap_tree(struct mnt *t, int tree, struct husk_error *e);

/* One request over the sync socket: header (type, val) plus n fds. */
int rootfs_send_fds(int sock, enum husk_sync_type type, int32_t val, const int *fds, size_t n,
		    struct husk_error *e);

/* mount_source.c: a bind mount's source as a detached tree in t->tree
 * (-1 left there when the kernel has no open_tree).  In a user namespace
 * and with ask_runtime, the runtime clones it (sources the container's
 * root cannot reach); else, or when the runtime may not enter our mount
 * namespace, the init does. */
int rootfs_bind_source(struct mnt *t, bool ask_runtime, struct husk_error *e);

/* The runtime's side: does the init of spec ask for its bind sources? */
bool rootfs_bind_source_served(const struct husk_spec *spec);
/* Clone mounts[idx]'s source inside the mount namespace mntns (a child
 * of the runtime enters it); the tree, or -1 with e filled. */
int rootfs_bind_source_clone(const struct husk_sys *sys, const struct husk_spec *spec, int32_t idx,
			     int mntns, struct husk_error *e);

/* mount_overlay.c: box's root asked of the runtime (root_by_runtime): an
 * O_PATH fd of it, or -1 with e filled. */
int rootfs_root_from_runtime(struct husk_rootfs_ctx *ctx, struct husk_error *e);
/* The runtime's side: the root made (the overlay with idmapped layers
 * to userns) and opened inside the mount namespace mntns; its fd. */
int rootfs_root_serve(const struct husk_sys *sys, const struct husk_spec *spec,
		      const struct husk_rootfs_box *box, int mntns, int userns, struct husk_error *e);
