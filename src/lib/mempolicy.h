/* linux.memoryPolicy (set_mempolicy(2)) and process.execCPUAffinity
 * (sched_setaffinity(2)) applied to the calling process; raw syscalls, no
 * libnuma. */
#pragma once
#include <stdbool.h>

#include "error.h"
#include "spec.h"

/* The uapi values (linux/mempolicy.h); Debian 12's headers predate
 * MPOL_WEIGHTED_INTERLEAVE. */
enum {
	HUSK_MPOL_DEFAULT = 0,
	HUSK_MPOL_PREFERRED = 1,
	HUSK_MPOL_BIND = 2,
	HUSK_MPOL_INTERLEAVE = 3,
	HUSK_MPOL_LOCAL = 4,
	HUSK_MPOL_PREFERRED_MANY = 5,
	HUSK_MPOL_WEIGHTED_INTERLEAVE = 6,
};
#define HUSK_MPOL_F_NUMA_BALANCING (1 << 13)
#define HUSK_MPOL_F_RELATIVE_NODES (1 << 14)
#define HUSK_MPOL_F_STATIC_NODES (1 << 15)

/* "MPOL_BIND" -> HUSK_MPOL_BIND, -1 when unknown; likewise the flags. */
int husk_mempolicy_mode(const char *name);
int husk_mempolicy_flag(const char *name);
/* The names, for `husk features` (NULL-terminated). */
extern const char *const husk_mempolicy_mode_names[];
extern const char *const husk_mempolicy_flag_names[];

/* set_mempolicy for the calling thread (inherited by fork and execve);
 * nothing when m->set is false.  Errors name linux.memoryPolicy. */
int husk_mempolicy_apply(const struct husk_mempolicy *m, struct husk_error *e);

/* sched_setaffinity(0) to set; nothing for an empty set.  what names the
 * JSON field in errors. */
int husk_affinity_apply(const struct husk_idset *set, const char *what, struct husk_error *e);
