/* /dev inside the container: device nodes (mknod, or bind mounts of the
 * host's nodes in a user namespace), the standard symlinks, ptmx and the
 * console.  Runs before pivot_root, every path resolved inside rootfd, every
 * kernel call made through sys (the rootfs context's layer). */
#pragma once
#include <stdbool.h>

#include "error.h"
#include "spec.h"

struct husk_sys;

/* null, zero, full, random, urandom, tty (unless the config lists the same
 * path) and linux.devices. */
int husk_devices_create(const struct husk_sys *sys, int rootfd, const struct husk_spec *spec,
			bool in_userns, struct husk_error *e);

/* /dev/fd, stdin, stdout, stderr, core (when the host has /proc/kcore) and
 * /dev/ptmx -> pts/ptmx. */
int husk_devices_symlinks(const struct husk_sys *sys, int rootfd, struct husk_error *e);

/* Bind the pty slave console_fd onto /dev/console (no-op for -1). */
int husk_devices_console(const struct husk_sys *sys, int rootfd, int console_fd,
			 struct husk_error *e);
