/* Entering the rootfs (pivot_root, MS_MOVE + chroot, or chroot) and the
 * hardening done from inside it: sysctl, readonlyPaths, maskedPaths. */
#pragma once
#include <stdbool.h>

#include "error.h"
#include "spec.h"

struct husk_sys;

enum husk_pivot_mode {
	HUSK_PIVOT_ROOT,  /* pivot_root(".", "."), old root detached */
	HUSK_PIVOT_MOVE,  /* MS_MOVE the rootfs onto / + chroot (--no-pivot) */
	HUSK_PIVOT_CHROOT /* no mount namespace: chroot only */
};

/* Every kernel call below goes through sys (the rootfs context's layer). */

/* Make rootfd the root and the cwd.  HUSK_PIVOT_ROOT falls back to
 * HUSK_PIVOT_MOVE on an initramfs root, where pivot_root cannot work.
 * HUSK_PIVOT_MOVE first detaches (or covers) every host mount outside
 * root_real, the rootfs's real path (NULL: skip that). */
int husk_pivot_enter(const struct husk_sys *sys, int rootfd, enum husk_pivot_mode mode,
		     const char *root_real, struct husk_error *e);

/* linux.sysctl: husk_sysctl_check (in prepare, before the pivot) accepts
 * only keys of namespaces the container has, and no net.* key for a joined
 * network namespace that is the runtime's own; husk_sysctl_apply writes
 * them under /proc/sys after the pivot. */
int husk_sysctl_check(const struct husk_sys *sys, const struct husk_spec *spec,
		      struct husk_error *e);
int husk_sysctl_apply(const struct husk_sys *sys, const struct husk_spec *spec,
		      struct husk_error *e);

/* readonlyPaths: each bound onto itself read-only (recursively), other
 * flags kept.  Missing paths are skipped. */
int husk_paths_readonly(const struct husk_sys *sys, int rootfd, char *const *paths, size_t n,
			struct husk_error *e);

/* maskedPaths: /dev/null (verified 1:3) over files, an empty read-only
 * tmpfs over directories.  Missing paths are skipped. */
int husk_paths_mask(const struct husk_sys *sys, int rootfd, char *const *paths, size_t n,
		    struct husk_error *e);

/* Set attr_set on one mount (fd is its root), keeping every other flag;
 * falls back to a bind remount with the current flags on old kernels. */
int husk_mount_set_ro(const struct husk_sys *sys, int fd, bool recursive, struct husk_error *e);
