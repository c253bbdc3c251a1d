/* husk box's config builder, one file per concern; each step adjusts the
 * config document (husk spec's default JSON) from the options. */
#pragma once
#include <jansson.h>

#include "box.h"
#include "container.h"

#define BOX_MAX_FILES 8

struct husk_isolation_ops;

struct box {
	const struct husk_box_opts *o;
	const struct husk_global_opts *g;
	const char *id;
	const char *rootfs;        /* absolute */
	int rootfd;                /* O_PATH of rootfs */
	char *state_dir;           /* absolute <root>/<id>: generated files' home */
	json_t *doc;               /* the config */
	const struct husk_isolation_ops *iso; /* --isolation */
	/* Files generated into the state directory at create. */
	struct husk_state_file files[BOX_MAX_FILES];
	size_t n_files;
};

/* Add a generated file (content owned by b from now on). */
void box_add_file(struct box *b, const char *name, char *content);

/* box_process.c: args, env, cwd, user, capabilities, security options. */
int box_process(struct box *b, struct husk_error *e);
/* box_resources.c: namespaces (--net, --ipc, --pid, --uts), limits, ulimits. */
int box_resources(struct box *b, struct husk_error *e);
/* box_mounts.c: -v, --mount, --tmpfs, /dev/shm, and the generated files. */
int box_mounts(struct box *b, struct husk_error *e);
