/* Storage drivers: how a box's root is made from read-only layer trees
 * (an image's layers, or one ROOTFS directory) in the container's state
 * directory.  Layers are in overlayfs's format: a 0:0 character device is
 * a whiteout, a directory with the opaque xattr hides what lies below.
 *
 *   overlay  the layers are the lowerdirs of an overlay the container's
 *            init mounts in its own mount namespace; upper/ and work/ in
 *            the state directory
 *   vfs      the root is a copy of the layers applied in order (whiteouts
 *            and opaque directories applied as it goes), reflinked where
 *            the filesystem can, in rootfs/ of the state directory (or of
 *            root_dir: an image's copy lives in its store)
 *
 * Both leave only directories in the state directory (and root_dir), so
 * removing it (delete, or a failed create) is the whole cleanup. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct husk_id_mapping;

struct husk_storage_opts {
	const char *const *layers;  /* absolute paths of the layer trees, lowest first */
	size_t n_layers;
	bool rootless;              /* no chown; user.overlay.* xattrs (overlay's userxattr) */
	/* A user namespace's mappings (root's box with --uidmap): the root is
	 * shown owned by the mapped ids.  overlay: upper/ and work/ owned by
	 * the host ids, lower/N directories on which the runtime attaches the
	 * layers idmapped (mount_overlay.c); vfs: every owner shifted from
	 * container to host id while copying (one unmapped: an error). */
	const struct husk_id_mapping *uid_map, *gid_map;
	size_t n_uid_map, n_gid_map;
	/* vfs: the directory (absolute) the copy goes in, instead of the
	 * state directory: an image's, in its store (NULL: the state dir). */
	const char *root_dir;
};

struct husk_storage_ops {
	const char *name;
	/* The root's directory name in the state directory ("merged", "rootfs"). */
	const char *root_name;
	/* Make the root in the state directory (dirfd, absolute path dir):
	 * *root its absolute path; *overlay the overlay's mount options for
	 * the init, or NULL when the root is a plain directory. */
	int (*prepare)(int dirfd, const char *dir, const struct husk_storage_opts *o, char **root,
		       char **overlay, struct husk_error *e);
};

extern const struct husk_storage_ops husk_storage_overlay, husk_storage_vfs;

/* The driver called name (NULL: overlay, the default); NULL if unknown. */
const struct husk_storage_ops *husk_storage_find(const char *name);
/* "overlay, vfs": for messages and --help. */
const char *husk_storage_names(void);

/* id (a container's) through the mapping m: 0 and *out the host's, or -1
 * when the mapping has no such id.  No mapping (n 0): id itself. */
int husk_storage_map_id(const struct husk_id_mapping *m, size_t n, uint32_t id, uint32_t *out);

/* The xattr that marks an opaque directory in layers made by this user. */
const char *husk_storage_opaque_xattr(bool rootless);

/* storage_overlay.c: the overlay's mount options, lowerdir= top-most
 * first.  Lower paths are lowers[] (absolute, free of ',', ':' and '\\')
 * or, lowers NULL, links under dir/lower/ (so a store path may hold ',' or
 * ':', and an idmapped clone can be attached there).  Past the page that mount(2) takes
 * (room kept for ",userxattr") the init mounts them through the new mount
 * API (husk_rootfs_overlay_mount). */
int husk_overlay_options(const char *dir, const char *const *lowers, size_t n_layers, char **out,
			 struct husk_error *e);
#define HUSK_OVERLAY_DATA_MAX 4095 /* mount(2) copies one page, NUL included */

/* storage_vfs.c: apply the layer tree at srcfd onto the tree at dstfd (as
 * one layer over what is there).  Regular files are reflinked (FICLONE)
 * where possible, else copied hole by hole (SEEK_DATA/SEEK_HOLE,
 * copy_file_range).  Hard links within the layer stay hard links. */
int husk_vfs_apply(int srcfd, int dstfd, bool rootless, struct husk_error *e);
/* The layer root's owner, mode, xattrs and times onto the directory dstfd
 * (both fds O_RDONLY directories). */
int husk_vfs_root_meta(int srcfd, int dstfd, bool rootless, struct husk_error *e);

/* storage_lookup.c: open path (absolute or not, symlinks resolved inside
 * the union, ".." never above its root) in the union of the layer trees
 * layerfds (lowest first) as overlayfs would show it; flags as openat's
 * (O_NOFOLLOW honoured for the last component).  The fd, or -errno. */
int husk_layers_open(const int *layerfds, size_t n, const char *opaque_xattr, const char *path,
		     int flags);
