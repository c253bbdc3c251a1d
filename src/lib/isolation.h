/* husk box --isolation: how much of the host a box shares.  One interface,
 * one implementation per file: oci (isolation_oci.c: namespaces, cgroup,
 * /proc and /sys of the box's own, the default) and chroot
 * (isolation_chroot.c: buildah's chroot isolation, for hosts and
 * containers that refuse pid namespaces, a fresh procfs or cgroups). */
#pragma once
#include "box_internal.h"
#include "container.h"
#include "error.h"

struct husk_isolation_ops {
	const char *name;
	/* Options the mode cannot honour, refused before anything is built. */
	int (*check)(const struct husk_box_opts *o, struct husk_error *e);
	/* The config the other steps built, adjusted for the mode (the last step). */
	int (*config)(struct box *b, struct husk_error *e);
	/* How the container is made: its cgroup, how the init enters the root. */
	void (*create_opts)(struct husk_create_opts *co);
	/* A failed run's error, with a hint when the mode is why it failed. */
	void (*explain)(struct husk_error *e);
};

extern const struct husk_isolation_ops husk_isolation_oci, husk_isolation_chroot;

/* The mode named (NULL: oci); NULL with e filled when there is none. */
const struct husk_isolation_ops *husk_isolation_find(const char *name, struct husk_error *e);
