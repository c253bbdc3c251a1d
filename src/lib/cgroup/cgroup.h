/* Container cgroups.  This first version creates the cgroup named by
 * linux.cgroupsPath in every mounted hierarchy (v1, v2 or hybrid), moves a
 * process into it and removes it again; limits come with issue 4. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

struct husk_cgroup;

/* Resolve cgroupsPath (absolute: from each hierarchy root; relative: below
 * the caller's own cgroup; NULL/empty: "/husk/<id>" style default) and
 * create the directories.  Nothing is left behind on failure. */
int husk_cgroup_create(const struct husk_spec *spec, const char *id, bool systemd,
		       struct husk_cgroup **out, struct husk_error *e);
/* Move pid into the cgroup in every hierarchy. */
int husk_cgroup_enter(struct husk_cgroup *cg, pid_t pid, struct husk_error *e);
/* A JSON-safe description kept in the state so delete can find it again. */
char *husk_cgroup_serialize(const struct husk_cgroup *cg);
int husk_cgroup_deserialize(const char *text, struct husk_cgroup **out, struct husk_error *e);
/* Pids in the cgroup (for kill --all); *out malloc'd. */
int husk_cgroup_pids(struct husk_cgroup *cg, pid_t **out, size_t *n, struct husk_error *e);
/* Remove every directory created (waiting briefly for emptied cgroups). */
int husk_cgroup_destroy(struct husk_cgroup *cg, struct husk_error *e);
void husk_cgroup_free(struct husk_cgroup *cg);

/* One hierarchy of the container's cgroups, for the cgroup mount inside
 * the container: ctrl is "memory", "cpu,cpuacct", "name=systemd", or ""
 * for the unified (v2) hierarchy; mountpoint is where the host mounts it;
 * dir is the container's cgroup directory in it. */
struct husk_cgroup_hier_info {
	const char *ctrl;
	const char *mountpoint;
	const char *dir;
};
/* Fills up to max entries, returns how many hierarchies there are. */
size_t husk_cgroup_hierarchies(const struct husk_cgroup *cg, struct husk_cgroup_hier_info *out,
			       size_t max);
/* True on a pure cgroup v2 host. */
bool husk_cgroup_is_v2(const struct husk_cgroup *cg);
