/* husk box: a root filesystem run in one command, its OCI config built in
 * memory from husk spec's default, adjusted as Docker's daemon adjusts a
 * container's, and run through husk run's path. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "container.h"
#include "error.h"
#include "util.h"

/* The options, as given (Docker's spelling); box validates them. */
struct husk_box_opts {
	const char *rootfs;        /* required: a directory, else an image's NAME[:TAG] or id */
	char **argv;               /* CMD [ARG...]; NULL: /bin/sh */
	/* process */
	struct husk_list env;      /* -e NAME=VALUE or NAME (taken from husk's env) */
	struct husk_list env_files;/* --env-file FILE */
	const char *workdir, *user, *entrypoint;
	bool tty, interactive;
	/* identity and namespaces */
	const char *name, *hostname, *net, *ipc, *pid, *uts;
	/* files and mounts */
	struct husk_list volumes;  /* -v SRC:DST[:ro|rw] */
	struct husk_list mounts;   /* --mount type=...,... */
	struct husk_list tmpfs;    /* --tmpfs DST[:OPTS] */
	struct husk_list dns, dns_search, dns_option, add_host;
	const char *shm_size;
	bool rootfs_rw, read_only;
	const char *storage, *storage_root; /* --storage overlay|vfs; an image's store */
	struct husk_list uidmap, gidmap;    /* --uidmap/--gidmap CONTAINER:HOST:SIZE (root) */
	/* security */
	struct husk_list cap_add, cap_drop, security_opt;
	bool privileged;
	/* resources */
	const char *memory, *memory_swap, *cpus, *cpu_shares, *pids_limit;
	struct husk_list ulimit;
	bool detach;
	const char *isolation;      /* oci (NULL: the default) or chroot: isolation.h */
	bool print_config;          /* print the config and exit, running nothing */
};

/* Exit statuses of box's own failures, as Docker's. */
#define HUSK_BOX_EXIT_ERROR 125
#define HUSK_BOX_EXIT_NOEXEC 126
#define HUSK_BOX_EXIT_NOTFOUND 127

/* Build the config, create and start it; without detach wait and store the
 * process's status.  *id is the container's (generated unless name).
 * Returns 0, or -1 with e filled and *exit_status set to 125, 126 or 127.
 * With print_config the config goes to stdout instead (0 on success). */
int husk_box_run(const struct husk_global_opts *g, const struct husk_box_opts *o, char **id,
		 int *exit_status, struct husk_error *e);

/* Before a box's state directory <rootfd>/<id> goes: the record of its
 * use of an image (if it ran one) removed from the image's store. */
void husk_box_image_forget(int rootfd, const char *id);
