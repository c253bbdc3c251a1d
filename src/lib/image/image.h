/* The image store: content-addressed blobs, layers extracted once (one
 * directory per chain id, in overlayfs's format so they stack as
 * lowerdirs), image records and a name index.  Layout under the root:
 *
 *   lock                   flock()ed: exclusive to change, shared to read
 *   names.json             {"NAME:TAG": "<image id hex>"}, replaced atomically
 *   blobs/sha256/<hex>     manifests and image configs, by digest
 *   layers/<chain hex>/    diff/ (the tree) and layer.json (diff_id, parent, size)
 *   images/<id hex>/       image.json (config and manifest digests, chain ids,
 *                          size); users/<container id> (the container's
 *                          state dir) while a container uses the image
 *   containers/<id>/       a container's vfs copy (rootfs/) and its state
 *                          dir's path (state), while it exists
 *   tmp/<random>/          imports in progress; each holds a flock()ed
 *                          ".lock", so a dead import's dir is found and
 *                          removed at the next open
 *
 * An image id is its config's sha256 (hex).  husk_image_import, _remove,
 * _prune and _unpack take the lock themselves; husk_image_get, _list and
 * the _use and _copy functions expect the caller to hold it
 * (husk_image_store_lock), so `husk box` can resolve an image and record
 * its use in one critical section.  Boxes hold it shared (starts, vfs
 * copies included, run side by side); what changes images and layers
 * holds it exclusive. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "error.h"
#include "spec.h"

struct husk_image_store {
	char *root;
	int dirfd;         /* the root, O_DIRECTORY */
	int lockfd;        /* <root>/lock */
	bool rootless;     /* not real root: no chown, no device nodes, user.* overlay xattrs */
	/* Rootless with a subordinate uid range and newuidmap: layers are
	 * made, copied and removed as root of a user namespace with the
	 * rootless mapping (rootless.h: 0 the user, 1.. the range), so files
	 * keep their owners as that namespace shows them. */
	bool mapped;
	struct husk_id_mapping uids[2], gids[2];
	size_t n_uids, n_gids;
};

/* The default root: /var/lib/husk for root, else $XDG_DATA_HOME/husk
 * (~/.local/share/husk).  Allocated. */
char *husk_image_default_root(void);

/* Open (creating) the store at root (NULL: the default); removes what
 * dead imports left in tmp/ when nobody holds the lock.  *s is filled;
 * close with _close. */
int husk_image_store_open(const char *root, struct husk_image_store *s, struct husk_error *e);
void husk_image_store_close(struct husk_image_store *s);
int husk_image_store_lock(struct husk_image_store *s, bool exclusive, struct husk_error *e);
void husk_image_store_unlock(struct husk_image_store *s);

/* The xattr that marks an opaque directory in this store's layers. */
const char *husk_image_opaque_xattr(const struct husk_image_store *s);

struct husk_image {
	char id[HUSK_HEX_LEN + 1];
	char **names;               /* "NAME:TAG", NULL-terminated (maybe empty) */
	/* From the image config; NULL when the image does not set them. */
	char **entrypoint, **cmd, **env;
	char *workdir, *user;
	char *created, *os, *arch;
	uint64_t size;              /* bytes of regular files in its layers */
	size_t nlayers;
	char **layer_dirs;          /* absolute paths of the diff/ trees, lowest first */
	char (*chain_ids)[HUSK_HEX_LEN + 1];
};

/* ref: NAME[:TAG], a full or unique short (>= 4 hex digits) id, or
 * "sha256:<id>".  Caller holds the lock. */
int husk_image_get(struct husk_image_store *s, const char *ref, struct husk_image **out,
		   struct husk_error *e);
void husk_image_free(struct husk_image *img);
/* Every image, by creation time (newest first).  Caller holds the lock. */
int husk_image_list(struct husk_image_store *s, struct husk_image ***out, size_t *n,
		    struct husk_error *e);
void husk_image_list_free(struct husk_image **v, size_t n);

/* Record that container_id (whose state directory is state_dir) uses the
 * image, and forget it.  An entry whose state_dir no longer exists is stale
 * and ignored.  Caller holds the lock (exclusive). */
int husk_image_use_add(struct husk_image_store *s, const char *image_id, const char *container_id,
		       const char *state_dir, struct husk_error *e);
int husk_image_use_remove(struct husk_image_store *s, const char *image_id,
			  const char *container_id, struct husk_error *e);
/* Container ids using the image now (NULL-terminated, maybe empty). */
int husk_image_users(struct husk_image_store *s, const char *image_id, char ***out,
		     struct husk_error *e);

/* containers/<container_id>/ (copies.c): the container's own directory
 * in the store, for its vfs copy, naming its state directory; made with
 * the lock held (exclusive).  A leftover of the same id whose state
 * directory is gone is replaced.  *dir: its absolute path. */
int husk_image_copy_make(struct husk_image_store *s, const char *container_id,
			 const char *state_dir, char **dir, struct husk_error *e);
/* Remove it (storefd: the store's root), unless it names another state
 * directory.  Callers hold the lock, or made it under a lock they hold. */
int husk_image_copy_remove(int storefd, const char *container_id, const char *state_dir,
			   struct husk_error *e);
/* Remove those whose state directory is gone (prune).  Lock held. */
int husk_image_copies_prune(struct husk_image_store *s, struct husk_error *e);

struct husk_import_opts {
	const char *name;        /* NAME[:TAG] to give the image; NULL: the archive's own */
	const char *platform;    /* os/arch[/variant]; NULL: linux and the host's arch */
	bool progress;           /* a progress bar on stderr */
};
/* Import an OCI layout (dir or tar) or a docker-save tarball.  The ids of
 * the images imported (a docker-save tarball may hold several) are put in
 * *ids (NULL-terminated).  On failure nothing of it stays in the store. */
int husk_image_import(struct husk_image_store *s, const char *path,
		      const struct husk_import_opts *o, char ***ids, struct husk_error *e);

/* Remove a name (the image goes when its last name does) or, by id, the
 * image and all its names.  Refused while a container uses it, unless
 * force.  Layers stay until husk_image_prune.  *what: text for the user. */
int husk_image_remove(struct husk_image_store *s, const char *ref, bool force, char **what,
		      struct husk_error *e);
/* Remove layers and blobs no image uses. */
int husk_image_prune(struct husk_image_store *s, size_t *nlayers, uint64_t *bytes,
		     struct husk_error *e);

/* An OCI bundle at dir (missing or empty): config.json from husk's
 * default spec with the image's args, env, cwd and user; rootfs/ the
 * layers flattened. */
int husk_image_unpack(struct husk_image_store *s, const char *ref, const char *dir,
		      struct husk_error *e);
