/* husk box: a root filesystem run in one command, its OCI config built in
 * memory from husk spec's default and run through husk run's path. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "container.h"
#include "error.h"

struct husk_box_opts {
	const char *rootfs;        /* required: a directory */
	char **argv;               /* NULL: /bin/sh */
	const char **env;          /* -e NAME=VALUE or NAME (taken from husk's env) */
	size_t n_env;
	const char **volumes;      /* -v SRC:DST[:ro|rw] */
	size_t n_volumes;
	const char **tmpfs;        /* --tmpfs DST */
	size_t n_tmpfs;
	const char *workdir, *hostname, *name, *net;
	bool tty, detach, rootfs_rw, read_only;
};

/* Exit statuses of box's own failures, as Docker's. */
#define HUSK_BOX_EXIT_ERROR 125
#define HUSK_BOX_EXIT_NOEXEC 126
#define HUSK_BOX_EXIT_NOTFOUND 127

/* Build the config, create and start it; without detach wait and store the
 * process's status.  *id is the container's (generated unless name).
 * Returns 0, or -1 with e filled and *exit_status set to 125, 126 or 127. */
int husk_box_run(const struct husk_global_opts *g, const struct husk_box_opts *o, char **id,
		 int *exit_status, struct husk_error *e);
