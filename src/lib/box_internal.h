/* husk box's config builder, one file per concern; each step adjusts the
 * config document (husk spec's default JSON) from the options. */
#pragma once
#include <jansson.h>
#include <stdint.h>

#include "box.h"
#include "container.h"

#define BOX_MAX_FILES 8

struct husk_isolation_ops;
struct husk_image_store;
struct husk_image;

struct box {
	const struct husk_box_opts *o;
	const struct husk_global_opts *g;
	const char *id;
	const char *rootfs;        /* absolute */
	int rootfd;                /* O_PATH of rootfs */
	char *state_dir;           /* absolute <root>/<id>: generated files' home */
	json_t *doc;               /* the config */
	long uid;                  /* the process's (-u), for its capabilities */
	const struct husk_isolation_ops *iso; /* --isolation */
	/* Files generated into the state directory at create. */
	struct husk_state_file files[BOX_MAX_FILES];
	size_t n_files;
	bool rootless;             /* run by an unprivileged user */
	/* The limit options given, optional when rootless (create warns and
	 * drops them when the user may not make a cgroup, or its delegated
	 * subtree lacks their controller). */
	struct husk_optional_limit limits[8];
	size_t n_limits;
	/* box IMAGE (box_image.c): the store (locked until the root exists),
	 * the image, its layers (lowest first) */
	struct husk_image_store *store;
	bool store_locked;
	struct husk_image *img;
	char *image_root;          /* the root the storage driver makes */
	int *layerfds;
	size_t n_layerfds;
};

/* Add a generated file (content owned by b from now on). */
void box_add_file(struct box *b, const char *name, char *content);

/* box_image.c: o->rootfs looked up as an image (NAME[:TAG] or id) in the
 * store, locked; its layers opened and the state file naming it added. */
int box_image_open(struct box *b, struct husk_error *e);
void box_image_close(struct box *b);
/* create's root_ready: the container recorded as the image's user; the
 * store unlocked. */
int box_image_ready(void *arg, struct husk_error *e);
/* create's root_dir for vfs: the container's directory in the store. */
int box_image_root_dir(void *arg, const char *state_dir, char **dir, struct husk_error *e);
/* path opened in the root (ROOTFS with RESOLVE_IN_ROOT, an image's
 * layers as the overlay will show them): the fd, or -errno. */
int box_root_open(const struct box *b, const char *path, int flags);

/* box_rootless.c: the user namespace of an unprivileged user's box. */
int box_rootless(struct box *b, struct husk_error *e);
/* devpts without gid=5 where gid 5 is not mapped; the host's /sys bound
 * (read-only) instead of a sysfs the user namespace may not mount. */
void box_devpts_gid(json_t *mounts, bool mapped);
void box_sys_bind(json_t *mounts);
/* box_userns.c: --uidmap/--gidmap, root's box in a user namespace. */
int box_userns(struct box *b, struct husk_error *e);
/* CONTAINER:HOST:SIZE into m; -1 when malformed. */
struct husk_id_mapping;
int box_parse_idmap(const char *s, struct husk_id_mapping *m);
/* A list of them, checked (no overlaps, container id 0 mapped). */
int box_idmap_list(const struct husk_list *l, const char *opt, struct husk_id_mapping **out,
		   struct husk_error *e);
/* box_process.c: args, env, cwd, user, capabilities, security options. */
int box_process(struct box *b, struct husk_error *e);
/* The program the config runs (args[0]) and the PATH it is looked up in. */
const char *box_cmd(const struct box *b);
const char *box_env_path(const struct box *b);
/* Without -i the process's stdin is /dev/null: husk's own fd 0 becomes it. */
int box_stdin(const struct husk_box_opts *o, struct husk_error *e);
/* box_user.c: -u, resolved in the rootfs; sets process.user and b->uid. */
int box_user(struct box *b, json_t *proc, struct husk_error *e);
/* box_security.c: capabilities, --privileged, --security-opt, masked and
 * read-only paths, seccomp (called by box_process, after the user). */
int box_security(struct box *b, struct husk_error *e);
int box_privileged(struct box *b, struct husk_error *e);

/* box_seccomp.c: a Docker seccomp profile as the OCI linux.seccomp object
 * for a host: its architecture (Go's name, libseccomp's), the process's
 * bounding capabilities (bit N: capability N) and the kernel version. */
struct box_sc_host {
	const char *arch, *scmp_arch;
	uint64_t caps;
	int kmajor, kminor;
};
void box_sc_host_native(struct box_sc_host *h, uint64_t bounding);
/* *out: the OCI object, or NULL for no filter (a profile with neither a
 * default action nor syscalls). */
int box_seccomp_convert(json_t *profile, const struct box_sc_host *h, json_t **out,
			struct husk_error *e);

/* box_resources.c's parsers, in Docker's syntax: a size ("512m", "1.5g",
 * "10kb"; powers of 1024) and --cpus as the quota of a 100000 us period.
 * -1 when malformed. */
int box_parse_size(const char *s, int64_t *out);
int box_parse_cpus(const char *s, int64_t *quota);
/* box_resources.c: namespaces (--net, --ipc, --pid, --uts), limits, ulimits. */
int box_resources(struct box *b, struct husk_error *e);
/* box_mounts.c: -v, --mount, --tmpfs, /dev/shm, and the generated files. */
int box_mounts(struct box *b, struct husk_error *e);
/* box_etc.c: /etc/resolv.conf, /etc/hostname and /etc/hosts generated into
 * b's files; the config's hostname. */
int box_etc(struct box *b, struct husk_error *e);
