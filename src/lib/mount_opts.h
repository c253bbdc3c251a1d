/* config.json mount options -> mount(2) flags, propagation, recursive
 * mount_setattr(2) attributes and the filesystem data string. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mount.h>

#include "error.h"

struct husk_mount_opts {
	unsigned long flags;       /* MS_* to set (MS_BIND, MS_REC, MS_RDONLY, ...) */
	unsigned long clear;       /* MS_* explicitly cleared ("rw", "suid", "atime", ...) */
	unsigned long propagation; /* last of MS_SHARED/SLAVE/PRIVATE/UNBINDABLE, | MS_REC */
	uint64_t rec_set;          /* MOUNT_ATTR_* for mount_setattr(AT_RECURSIVE) */
	uint64_t rec_clr;
	bool idmap;                /* "idmap" / "ridmap" (ridmap: idmap_recursive too) */
	bool idmap_recursive;
	bool tmpcopyup;
	char *data;                /* unknown options joined by ',', NULL when none */
};

/* Parse options in order (later options win).  Unknown options go to data,
 * like runc.  Never fails today; e is for future validation. */
int husk_mount_opts_parse(char *const *options, size_t n, struct husk_mount_opts *out,
			  struct husk_error *e);
void husk_mount_opts_free(struct husk_mount_opts *o);

/* The per-mount MS_* flags (set) and explicit clears as mount_setattr
 * attributes: what a bind mount gets applied before it becomes visible. */
void husk_mount_opts_attr(const struct husk_mount_opts *o, uint64_t *attr_set, uint64_t *attr_clr);

/* The MS_* per-mount flags that a bind remount takes from the options. */
#define HUSK_MS_PER_MOUNT                                                                       \
	(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME |            \
	 MS_RELATIME | MS_STRICTATIME | MS_NOSYMFOLLOW)
