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
struct husk_cgroup_hier_info;
struct husk_cgroup_join;

/* One cgroup manager: cgroupfs (cgroupfs.c: the files of v1, v2 and
 * hybrid hosts), systemd (systemd_manager.c: a transient unit, then the
 * files as cgroupfs) or none (none.c: rootless without a cgroup of its
 * own).  Callers go through the husk_cgroup_* functions below, which
 * call the container's manager; none of them is ever NULL. */
struct husk_cgroup_ops {
	const char *name;
	int (*check_reused)(struct husk_cgroup *cg, struct husk_error *e);
	int (*apply)(struct husk_cgroup *cg, const struct husk_resources *res, struct husk_error *e);
	int (*update)(struct husk_cgroup *cg, const struct husk_resources *changes,
		      struct husk_error *e);
	/* The init's join: fds opened in the runtime, before the clone. */
	void (*join_open)(const struct husk_cgroup *cg, struct husk_cgroup_join *j);
	/* An exec'd process's join, in sub-cgroup sub (NULL: none). */
	int (*exec_join_open)(const struct husk_cgroup *cg, const char *sub, pid_t init,
			      struct husk_cgroup_join *j, struct husk_error *e);
	/* Runtime: finish the init's join with its report need; 1 when the
	 * init must wait for the runtime (it did something), else 0. */
	int (*init_attach)(struct husk_cgroup *cg, pid_t pid, const char *need, struct husk_error *e);
	/* In the init once the runtime attached it. */
	void (*init_joined)(struct husk_cgroup *cg);
	int (*enter)(struct husk_cgroup *cg, pid_t pid, const char *which, struct husk_error *e);
	int (*freeze)(struct husk_cgroup *cg, bool freeze, struct husk_error *e);
	bool (*frozen)(struct husk_cgroup *cg);
	int (*kill)(struct husk_cgroup *cg, int sig, bool wait_gone, struct husk_error *e);
	int (*pids)(struct husk_cgroup *cg, pid_t **out, size_t *n, struct husk_error *e);
	int (*stats)(struct husk_cgroup *cg, json_t **out, struct husk_error *e);
	int (*oom_open)(struct husk_cgroup *cg, struct husk_error *e);
	uint64_t (*oom_count)(struct husk_cgroup *cg, int fd);
	int (*destroy)(struct husk_cgroup *cg, struct husk_error *e);
	size_t (*hierarchies)(const struct husk_cgroup *cg, struct husk_cgroup_hier_info *out, size_t max);
	/* 1 pure v2, 0 v1 or hybrid, -1 not known (no cgroup). */
	int (*is_v2)(const struct husk_cgroup *cg);
	/* The state record (state_record.c); NULL: nothing to keep. */
	char *(*encode)(const struct husk_cgroup *cg);
	/* The manager's own part of the record, and freeing it. */
	void (*save)(const struct husk_cgroup *cg, json_t *record);
	void (*free)(struct husk_cgroup *cg);
};
extern const struct husk_cgroup_ops husk_cgroup_cgroupfs, husk_cgroup_systemd, husk_cgroup_none;

/* Which manager, and whether no cgroup at all is acceptable. */
struct husk_cgroup_opts {
	bool systemd;  /* --systemd-cgroup */
	bool rootless; /* rootless: without limits, a cgroup that may not be
			* made is no error (the none manager, as runc) */
	bool none;     /* no cgroup at all: the caller's (box --isolation chroot) */
};

/* Resolve cgroupsPath (absolute: from each hierarchy root; relative: below
 * the caller's own cgroup; NULL/empty: "/husk/<id>" style default, or for
 * an unprivileged rootless caller with a delegated cgroup v2 subtree
 * "<subtree>/husk-<id>" in the unified hierarchy) and create the
 * directories.  Nothing is left behind on failure.  The systemd
 * manager only works out the unit here: it starts it with the init in it
 * (init_attach). */
int husk_cgroup_create(const struct husk_spec *spec, const char *id,
		       const struct husk_cgroup_opts *o, struct husk_cgroup **out,
		       struct husk_error *e);
/* The runtime finishes the init's join (its SYNC_CGROUP report need:
 * '1'/'0' per hierarchy): 1 when the init must wait for SYNC_GO. */
int husk_cgroup_init_attach(struct husk_cgroup *cg, pid_t pid, const char *need,
			    struct husk_error *e);
/* In the init, after the runtime attached it: its copy of cg takes the
 * cgroups it is now in (for the cgroup mount). */
void husk_cgroup_init_joined(struct husk_cgroup *cg);
/* Move pid into the cgroup in every hierarchy. */
int husk_cgroup_enter(struct husk_cgroup *cg, pid_t pid, struct husk_error *e);
/* The same for the hierarchies i with which[i] == '1' (NULL: all). */
int husk_cgroup_enter_some(struct husk_cgroup *cg, pid_t pid, const char *which,
			   struct husk_error *e);

/* The init's own join (manager.c explains why): the runtime opens, before
 * the clone, each v1 hierarchy's "tasks" file and the unified cgroup's
 * directory (for clone3's CLONE_INTO_CGROUP); the child writes "0" and
 * notes in need[i] ('1'/'0', n + 1 bytes) what the runtime must still do.
 * Open failures are left to that too. */
struct husk_cgroup_join {
	size_t n;        /* hierarchies, as in the cgroup */
	int *fd;         /* v1: the "tasks" file, else -1 */
	int v2_dir;      /* the unified hierarchy's cgroup directory, or -1 */
	size_t v2_index; /* its hierarchy */
	bool hold;       /* the manager places the process itself (systemd) */
	char **dirs;     /* exec: each hierarchy's target directory */
	char *sub;       /* exec: --cgroup, for messages */
};
void husk_cgroup_join_open(const struct husk_cgroup *cg, struct husk_cgroup_join *j);
/* exec: the process's cgroup directory in each hierarchy, the container's
 * or with sub ("path": every hierarchy; "ctrl[,ctrl]:path": those) a
 * sub-cgroup of it; on cgroup v2, where the container's cgroup enabled
 * controllers for children of its own (systemd in the container), the
 * init's cgroup below it, as runc 1.2 does.  Errors are whole messages. */
int husk_cgroup_exec_join_open(const struct husk_cgroup *cg, const char *sub, pid_t init,
			       struct husk_cgroup_join *j, struct husk_error *e);
/* In the child; closes the fds.  born_in_v2: clone3 placed it already.
 * True when the runtime still has something to do (wait for SYNC_GO). */
bool husk_cgroup_join_self(struct husk_cgroup_join *j, bool born_in_v2, char *need);
/* exec, in the runtime: move pid where the child could not (need); 1 when
 * it did, 0 when there was nothing to do.  Errors are whole messages. */
int husk_cgroup_exec_finish(const struct husk_cgroup_join *j, pid_t pid, const char *need,
			    struct husk_error *e);
/* Close the fds (the runtime after the clone; the child in join_self). */
void husk_cgroup_join_close(struct husk_cgroup_join *j);
/* And free the rest. */
void husk_cgroup_join_free(struct husk_cgroup_join *j);
/* A JSON-safe description kept in the state so delete can find it again;
 * NULL when there is nothing to keep (no cgroup). */
char *husk_cgroup_serialize(const struct husk_cgroup *cg);
/* A cgroup made in a delegated subtree that does not offer controller
 * ("memory", "cpu", "pids", as cgroup v2 names it): the subtree's
 * directory, for the warning of a limit dropped.  NULL when it does, and
 * for any other cgroup. */
const char *husk_cgroup_undelegated(struct husk_cgroup *cg, const char *controller);
/* Clear what res asks of controller ("memory", "cpu" but cpuset's cpus
 * and mems, "pids"; box's limits). */
void husk_cgroup_resources_drop(struct husk_resources *res, const char *controller);
/* text NULL: the container has no cgroup (the none manager). */
int husk_cgroup_deserialize(const char *text, struct husk_cgroup **out, struct husk_error *e);
/* Pids in the cgroup (for kill --all); *out malloc'd. */
int husk_cgroup_pids(struct husk_cgroup *cg, pid_t **out, size_t *n, struct husk_error *e);
/* Remove every directory created (waiting briefly for emptied cgroups);
 * NULL (nothing made yet) is fine, as for husk_cgroup_free. */
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
/* 1 on a pure cgroup v2 host, 0 on a v1 or hybrid one, -1 when not known
 * (no cgroup). */
int husk_cgroup_is_v2(const struct husk_cgroup *cg);

/* Apply linux.resources (parsed; may be NULL) to a new cgroup.  Device
 * rules are always set: deny all, then resources.devices in order, runc's
 * default devices and the spec's linux.devices (v1 devices.allow/deny, v2
 * an eBPF program).  Unsupported values fail with a message naming the key.
 * The cgroup records them (husk_resources_json) for its state. */
int husk_cgroup_apply(struct husk_cgroup *cg, const struct husk_resources *res,
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
/* Is the cgroup described by husk_cgroup_serialize() text (or NULL) frozen? */
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
