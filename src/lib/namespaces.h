/* Creating and joining namespaces for the container's init. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

struct husk_ns_plan {
	int join_fd[HUSK_NS__COUNT]; /* opened namespace paths, -1 when not joined */
	int new_flags;               /* CLONE_NEW* of the namespaces to create */
	bool new_user;
	bool join_user;
	bool any_userns;             /* new or joined: the init is not host root */
	bool mnt_is_runtimes;        /* the mount namespace joined is the runtime's or PID 1's */
};

/* Open every namespace path of the spec (in the parent, so a bad path
 * fails early with its name), and compute the namespaces to create. */
int husk_ns_plan_init(struct husk_ns_plan *p, const struct husk_spec *s, int min_fd,
		      struct husk_error *e);
void husk_ns_plan_close(struct husk_ns_plan *p);

/* setns into the joined namespaces of the given types (CLONE_NEW* mask). */
int husk_ns_join(struct husk_ns_plan *p, int types, struct husk_error *e);

/* Write /proc/<pid>/<file> ("uid_map" or "gid_map") from n mappings. */
int husk_ns_write_id_map(pid_t pid, const char *file, const struct husk_id_mapping *m, size_t n,
			 struct husk_error *e);
/* Write pid's uid_map and gid_map; an unprivileged caller mapping more than
 * its own id goes through newuidmap/newgidmap. */
int husk_ns_write_maps(pid_t pid, const struct husk_id_mapping *uids, size_t nu,
		       const struct husk_id_mapping *gids, size_t ng, struct husk_error *e);
/* Parent side: write uid_map/gid_map of pid from the spec's mappings. */
int husk_ns_write_id_maps(pid_t pid, const struct husk_spec *s, struct husk_error *e);

/* Write /proc/self/timens_offsets (after unshare(CLONE_NEWTIME)). */
int husk_ns_write_time_offsets(const struct husk_spec *s, struct husk_error *e);
