/* What the image store's files share with each other (and the unit tests). */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "image.h"

/* --- layer.c: one layer blob into an overlayfs-format tree ----------------- */

struct husk_progress {
	uint64_t total, done;   /* compressed bytes of the blobs to read */
	uint64_t last_ns;
	bool on;
};
void husk_progress_add(struct husk_progress *p, uint64_t n);
void husk_progress_end(struct husk_progress *p);

/* Warnings an import gives once, not once a layer. */
struct husk_layer_warned {
	bool dev, xattr, ids;
};

struct husk_layer_result {
	struct husk_layer_warned warned;   /* in and out: given already */
	char blob_hex[HUSK_HEX_LEN + 1];   /* sha256 of the bytes read */
	char diff_hex[HUSK_HEX_LEN + 1];   /* sha256 of the uncompressed tar */
	uint64_t blob_size;
	uint64_t size;                     /* bytes of regular files */
};

/* Extract the (plain, gzip or zstd) tar read from blobfd into the empty
 * directory dirfd.  Digests are computed on the way; the caller compares.
 * A mapped store (s->mapped) sets owners: the caller runs it as root of
 * the mapped user namespace (husk_userns_call). */
int husk_layer_extract(const struct husk_image_store *s, int blobfd, int dirfd,
		       struct husk_progress *prog, struct husk_layer_result *res,
		       struct husk_error *e);

/* Extract an archive holding an image (OCI layout or docker-save tar) into
 * the empty directory dirfd: only directories, regular files and symlinks,
 * no ownership or xattrs; the same path checks as layers. */
int husk_layer_extract_plain(int archfd, int dirfd, struct husk_error *e);

/* An entry's path made relative and clean ("./a//b/" -> "a/b", "." -> "");
 * -1 for an absolute path or one with a ".." component. */
int husk_layer_clean_path(const char *in, char *out, size_t len);

enum husk_whiteout {
	HUSK_WH_NONE,    /* an ordinary name */
	HUSK_WH_FILE,    /* ".wh.NAME": NAME is deleted (*target set) */
	HUSK_WH_OPAQUE,  /* ".wh..wh..opq": the directory hides the layers below */
	HUSK_WH_META,    /* another ".wh..wh." name (aufs metadata): skipped */
};
enum husk_whiteout husk_layer_whiteout(const char *leaf, const char **target);

/* openat2 below root, no symlink followed, ".." never above root: the
 * directory at rel ("" the root itself), O_RDONLY; created (0755) when
 * missing and create is set.  -errno on failure (ELOOP: a symlink). */
int husk_layer_open_dir(int rootfd, const char *rel, bool create);

/* --- store.c ---------------------------------------------------------------- */

/* A directory under tmp/ for one operation, locked while it lives.
 * Created under the store lock (exclusive). */
struct husk_tmp {
	char name[64];   /* relative to the store root */
	int fd;          /* the directory, O_DIRECTORY */
	int lockfd;
};
int husk_tmp_create(struct husk_image_store *s, struct husk_tmp *t, struct husk_error *e);
/* Remove it (and what is still in it). */
void husk_tmp_remove(struct husk_image_store *s, struct husk_tmp *t);

/* names.json as an object (new reference); _write replaces it atomically. */
int husk_names_read(struct husk_image_store *s, json_t **out, struct husk_error *e);
int husk_names_write(struct husk_image_store *s, json_t *names, struct husk_error *e);

/* A JSON file below the store root (new reference). */
int husk_store_read_json(struct husk_image_store *s, const char *rel, json_t **out,
			 struct husk_error *e);
/* Does <root>/<rel> exist? */
bool husk_store_exists(struct husk_image_store *s, const char *rel);
/* Remove a tree below the root, making read-only directories writable
 * first (rootless stores cannot rely on CAP_DAC_OVERRIDE). */
int husk_store_rm(struct husk_image_store *s, const char *rel, struct husk_error *e);
/* The same for dirfd/name, anywhere: in a mapped store (s->mapped), what
 * the user may not remove is removed in the mapped user namespace. */
int husk_store_rm_at(struct husk_image_store *s, int dirfd, const char *name,
		     struct husk_error *e);
int husk_rm_tree_at(int dirfd, const char *name, struct husk_error *e);

/* The image config (blob) parsed into img's fields. */
int husk_image_parse_config(json_t *cfg, struct husk_image *img, struct husk_error *e);

/* Resolve ref to an image id (hex) under the lock. */
int husk_image_resolve(struct husk_image_store *s, const char *ref, char *id,
		       struct husk_error *e);

/* --- manifest.c: what an image source holds, as import plans ---------------- */

struct husk_plan_layer {
	char *path;                          /* in the source, relative */
	char blob_hex[HUSK_HEX_LEN + 1];     /* expected blob digest; "" when unknown */
	int64_t size;                        /* expected blob size; -1 when unknown */
	char diff_hex[HUSK_HEX_LEN + 1];     /* from the config */
	char chain_hex[HUSK_HEX_LEN + 1];
};

struct husk_plan {
	char id[HUSK_HEX_LEN + 1];           /* the config's sha256 */
	char *config;                        /* the config blob */
	size_t config_len;
	char manifest_hex[HUSK_HEX_LEN + 1]; /* "" for docker-save */
	char *manifest;
	size_t manifest_len;
	char **names;                        /* normalized NAME:TAG, NULL-terminated */
	size_t nlayers;
	struct husk_plan_layer *layers;
};

/* The images a source directory (an OCI layout or an unpacked docker-save
 * tar) holds, verified down to the configs: *plans (n of them). */
int husk_plans_read(int srcfd, const char *platform, struct husk_plan **plans, size_t *n,
		    struct husk_error *e);
void husk_plans_free(struct husk_plan *plans, size_t n);
/* A regular file below srcfd (symlinks resolved inside it), O_RDONLY. */
int husk_src_open(int srcfd, const char *rel, struct husk_error *e);
/* "os/arch[/variant]" of this host ("linux/amd64"). */
const char *husk_host_platform(void);
