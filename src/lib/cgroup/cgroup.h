/* Container cgroups on v1, v2 and hybrid hosts: the cgroup named by
 * linux.cgroupsPath is created in every mounted hierarchy, and each
 * controller is used where it lives (v1 mount, or the unified one). */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

struct husk_cgroup;

/* Resolve cgroupsPath (absolute: from each hierarchy root; relative: below
 * the caller's own cgroup; NULL/empty: "/husk/<id>" style default) and
 * create the directories.  Nothing is left behind on failure. */
int husk_cgroup_create(const struct husk_spec *spec, const char *id, bool systemd,
		       struct husk_cgroup **out, struct husk_error *e);
/* The systemd driver starts its unit with the init in it, so creating
 * the cgroup waits for the init: true until husk_cgroup_systemd_attach()
 * did.  That starts the unit with pid, makes the cgroups of controllers
 * systemd leaves alone and applies the resources; *need ('1'/'0' per
 * hierarchy, malloc'd) says where pid must still be moved. */
bool husk_cgroup_systemd_pending(const struct husk_cgroup *cg);
int husk_cgroup_systemd_attach(struct husk_cgroup *cg, pid_t pid, char **need, struct husk_error *e);
/* In the init, after the runtime attached it: its copy of cg takes the
 * cgroups it is now in (for the cgroup mount).  No-op for other drivers. */
void husk_cgroup_systemd_placed(struct husk_cgroup *cg);
/* Where `exec` puts a process in hierarchy i: the container's cgroup, but
 * on cgroup v2 one that enabled controllers for children of its own takes
 * no processes (systemd in the container): then the init's cgroup below
 * it, as runc 1.2 does.  malloc'd. */
char *husk_cgroup_exec_dir(const struct husk_cgroup *cg, size_t i, pid_t init);
/* Move pid into the cgroup in every hierarchy. */
int husk_cgroup_enter(struct husk_cgroup *cg, pid_t pid, struct husk_error *e);
/* The same for the hierarchies i with which[i] == '1' (NULL: all). */
int husk_cgroup_enter_some(struct husk_cgroup *cg, pid_t pid, const char *which,
			   struct husk_error *e);

/* The init's own join (cgroup.c explains why): the runtime opens, before
 * the clone, each v1 hierarchy's "tasks" file and the unified cgroup's
 * directory (for clone3's CLONE_INTO_CGROUP); the child writes "0" and
 * notes in need[i] ('1'/'0', n + 1 bytes) what the runtime must still do
 * with husk_cgroup_enter_some().  Open failures are left to that too. */
struct husk_cgroup_join {
	size_t n;        /* hierarchies, as in the cgroup */
	int *fd;         /* v1: the "tasks" file, else -1 */
	int v2_dir;      /* the unified hierarchy's cgroup directory, or -1 */
	size_t v2_index; /* its hierarchy */
};
void husk_cgroup_join_open(const struct husk_cgroup *cg, struct husk_cgroup_join *j);
/* In the child; closes the fds.  born_in_v2: clone3 placed it already. */
void husk_cgroup_join_self(struct husk_cgroup_join *j, bool born_in_v2, char *need);
void husk_cgroup_join_close(struct husk_cgroup_join *j);
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

/* Apply linux.resources (parsed; may be NULL) to a new cgroup.  Device
 * rules are always set: deny all, then resources.devices in order, runc's
 * default devices and the spec's linux.devices (v1 devices.allow/deny, v2
 * an eBPF program).  Unsupported values fail with a message naming the key.
 * The cgroup records them (husk_resources_json) for its state. */
int husk_cgroup_apply(struct husk_cgroup *cg, const struct husk_resources *res,
		      struct husk_error *e);
/* The same from such a record (decoded with husk_resources_parse). */
int husk_cgroup_apply_resources(struct husk_cgroup *cg, const json_t *recorded,
				struct husk_error *e);
/* `update`: merge changes into what was applied and rewrite the
 * controllers changes names. */
int husk_cgroup_update(struct husk_cgroup *cg, const struct husk_resources *changes,
		       struct husk_error *e);
/* The resources as applied so far (borrowed; NULL when none). */
const json_t *husk_cgroup_resources(const struct husk_cgroup *cg);

/* Right after create, before the init joins: a frozen cgroup (its own
 * setting or a parent's) is refused, as the init would freeze in it and
 * create hang; one that has processes already gets a warning. */
int husk_cgroup_check_reused(struct husk_cgroup *cg, struct husk_error *e);
/* Freeze (v1 freezer.state, v2 cgroup.freeze) and wait until frozen, or thaw. */
int husk_cgroup_freeze(struct husk_cgroup *cg, bool freeze, struct husk_error *e);
/* Is the cgroup described by husk_cgroup_serialize() text frozen? */
bool husk_cgroup_state_frozen(const char *serialized);
/* Signal every process in the cgroup (frozen meanwhile on v1 so that none
 * can fork away; SIGKILL on v2 uses cgroup.kill).  A frozen cgroup is
 * thawed for SIGKILL.  wait_gone: wait (up to 10 s) until it is empty. */
int husk_cgroup_kill_all(struct husk_cgroup *cg, int sig, bool wait_gone, struct husk_error *e);
/* runc's stats object ({"cpu":…,"memory":…,"pids":…,"blkio":…,"hugetlb":…}). */
int husk_cgroup_stats(struct husk_cgroup *cg, json_t **out, struct husk_error *e);
/* A pollable fd that signals OOM events in the cgroup; then
 * husk_cgroup_oom_count() says how many happened since the last call. */
int husk_cgroup_oom_open(struct husk_cgroup *cg, struct husk_error *e);
uint64_t husk_cgroup_oom_count(struct husk_cgroup *cg, int fd);
