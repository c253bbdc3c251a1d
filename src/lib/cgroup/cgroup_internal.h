/* Private to src/lib/cgroup/ (and its unit tests): the cgroup object,
 * controller lookup, the resources plan and the device program. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/statfs.h>
#include <sys/types.h>

#include "cgroup/cgroup.h"
#include "error.h"
#include "spec_resources.h"

struct bpf_insn;

enum cg_layout { CG_V1, CG_HYBRID, CG_V2 };

struct hier {
	char *ctrl;     /* v1: "memory", "cpu,cpuacct", "name=systemd"; v2: "" */
	char *dir;      /* absolute directory of the container's cgroup */
	char *mountpoint; /* where the host mounts this hierarchy */
	int created;    /* trailing components of dir created by us */
};

/* The kernel calls of the cgroupfs manager that a unit test replaces to
 * run it against a tree it made in a temporary directory: statfs (layout
 * detection), mkdirat (the test fills a new directory with the files the
 * kernel would make), write (to see what was written, in order; freezing)
 * and unlinkat (AT_REMOVEDIR: the kernel removes a cgroup with its files,
 * a plain directory must be emptied first). */
struct husk_cg_sys {
	int (*statfs)(const char *path, struct statfs *buf);
	int (*mkdirat)(int dfd, const char *path, mode_t mode);
	ssize_t (*write)(int fd, const void *buf, size_t len);
	int (*unlinkat)(int dfd, const char *path, int flags);
};
extern const struct husk_cg_sys husk_cg_sys_real;

/* ---- layout detection (layout.c) ---- */

/* One mounted hierarchy. */
struct cg_mount {
	char *ctrl;       /* as struct hier */
	char *mountpoint;
	char *root;       /* mountinfo field 4: the cgroup shown at mountpoint */
};

struct husk_cg_layout {
	const char *root;             /* the host's cgroup root: "/sys/fs/cgroup" */
	const struct husk_cg_sys *sys;
	enum cg_layout kind;
	struct cg_mount *m;
	size_t n;
};
/* Find the hierarchies below l->root (set root and sys first).  One statfs
 * of the root (cgroup2: pure v2); otherwise, when may_probe, each
 * hierarchy /proc/self/cgroup names at its usual place below the root, and
 * only when that does not fit (or the caller needs the mounts' roots, for
 * a relative cgroupsPath) /proc/self/mountinfo. */
int husk_cg_layout_read(struct husk_cg_layout *l, bool may_probe, struct husk_error *e);
void husk_cg_layout_free(struct husk_cg_layout *l);
#define HUSK_CG_ROOT "/sys/fs/cgroup"

struct husk_cgroup {
	const struct husk_cgroup_ops *ops;
	const struct husk_cg_sys *sys;
	enum cg_layout layout;
	struct hier *h;
	size_t n;
	char *v2_avail;    /* cgroup.controllers of the unified root (lazily read) */
	json_t *resources; /* linux.resources as applied (create, then updates) */
	/* Bit i: default device rule i is left out because linux.devices
	 * names its path (the spec's rules decide that device, as in runc). */
	uint32_t dev_skip;
	bool no_device_rules; /* an unprivileged owner, who can set none */
	char *delegate;       /* rootless: the delegated subtree it was made in */
	void *priv;           /* the manager's own (systemd: its unit) */
};
struct husk_cgroup *husk_cg_alloc(const struct husk_cgroup_ops *ops, enum cg_layout layout, size_t n);

/* Controllers, by what the spec asks for; CG_CORE is v2's cgroup.* files. */
enum cg_ctrl {
	CG_CPU, CG_CPUACCT, CG_CPUSET, CG_MEMORY, CG_PIDS, CG_BLKIO, CG_HUGETLB, CG_NET_CLS,
	CG_NET_PRIO, CG_RDMA, CG_DEVICES, CG_FREEZER, CG_CORE, CG__COUNT
};
/* Names in v1 (NULL: none) and v2 (NULL: none; devices and freezer are
 * core features there). */
extern const char *const husk_cg_v1_name[CG__COUNT];
extern const char *const husk_cg_v2_name[CG__COUNT];

/* Where controller c lives: *v2 says whether in the unified hierarchy.
 * NULL when the host has no such controller. */
struct hier *husk_cg_locate(struct husk_cgroup *cg, enum cg_ctrl c, bool *v2);
/* Enable the controllers (space separated names) in cgroup.subtree_control
 * from the unified mount down to the parent of the container's cgroup. */
int husk_cg_v2_enable(struct hier *h, const char *names, struct husk_error *e);

/* ---- resources plan (resources.c): JSON -> the files to write ---- */

#define CG_W_ALT 1u    /* when this file does not exist, the next write replaces it */
#define CG_W_PAIR 2u   /* when this write fails, do the next one first, then retry */
#define CG_W_OPTIONAL 4u /* skipped when the file does not exist */

struct cg_write {
	enum cg_ctrl ctrl;
	char *file;
	char *value;
	unsigned flags;
	const char *what; /* spec key, for errors ("memory.limit") */
};

struct cg_plan {
	struct cg_write *w;
	size_t n;
	bool has_devices;          /* the resources had a devices key */
	struct cg_dev_rule *dev;
	size_t ndev;
	bool check_before_update;  /* memory.checkBeforeUpdate */
	int64_t mem_limit;         /* the memory limit being set, 0 when none */
};

/* List the writes for res (parsed linux.resources, spec_resources.h);
 * bit c of v2mask set says controller c is on cgroup v2, and what depends
 * on it is checked here.  res_all (may equal res) supplies values the
 * conversions need (memory.limit for swap). */
int husk_cg_plan_build(const struct husk_resources *res, const struct husk_resources *res_all,
		       unsigned v2mask, struct cg_plan *p, struct husk_error *e);
void husk_cg_plan_free(struct cg_plan *p);
/* v1 devices.allow/deny writes that take a devices cgroup whose
 * devices.list reads `current` to the rules r (after an implicit deny-all).
 * When r is a deny-all followed by allow rules (runc's and docker's shape)
 * and the cgroup already denies by default, only the difference is
 * written, allows first: a process in the cgroup (containers may share
 * one; `update`) never loses, even for a moment, access the rules keep.
 * Otherwise "deny a" and every rule, in order.  *out malloc'd. */
struct cg_dev_write {
	bool allow;
	char rule[64]; /* "c 1:3 rwm" */
};
size_t husk_cg_devices_v1_writes(const char *current, const struct cg_dev_rule *r, size_t n,
				 struct cg_dev_write **out);
/* access bits (m=1 r=2 w=4) as "rwm" */
void husk_cg_access_str(unsigned access, char out[4]);
/* "c 1:3 rwm", "a *:* m" */
void husk_cg_dev_rule_v1(const struct cg_dev_rule *r, char *buf, size_t len);
/* runc's v1 -> v2 conversions. */
uint64_t husk_cg_shares_to_weight(uint64_t shares);
uint64_t husk_cg_blkio_to_io_weight(uint64_t weight);
/* memory.swap.max from v1 swap (memory+swap) and memory limit: -1 = max,
 * 0 = leave alone. */
int husk_cg_swap_to_v2(int64_t swap, int64_t limit, int64_t *out, struct husk_error *e);
/* Merge src into dst: objects recursively, anything else replaced. */
void husk_cg_json_merge(json_t *dst, const json_t *src);

/* ---- the v2 device program (devices_bpf.c) ---- */

/* Instructions enforcing rules in order (a later rule overrides an earlier
 * one, bit by bit of the access asked for); unmatched access is denied. */
struct bpf_insn *husk_cg_bpf_gen(const struct cg_dev_rule *r, size_t n, size_t *len);
/* BPF_PROG_LOAD as BPF_PROG_TYPE_CGROUP_DEVICE; the verifier log goes to
 * the error message. Returns the program fd. */
int husk_cg_bpf_load(const struct bpf_insn *insns, size_t len, struct husk_error *e);
/* Attach prog to the cgroup directory fd with BPF_F_ALLOW_MULTI, then
 * detach the device programs that were attached there before. */
int husk_cg_bpf_attach(int cgfd, int progfd, struct husk_error *e);
/* Devices that every container may use (runc's list), after the spec's
 * rules.  linux.devices entries get no rule of their own: only
 * resources.devices grants access to them. */
extern const struct cg_dev_rule husk_cg_default_devices[];
extern const size_t husk_cg_n_default_devices;
/* The node path of each default rule; NULL for the wildcard ones. */
extern const char *const husk_cg_default_device_paths[];
/* What a container's device cgroup enforces: the resources.devices rules,
 * then the defaults but those with bit i of skip (husk_cgroup.dev_skip)
 * set.  docker's `--device /dev/kmsg:/dev/kmsg:r` sends "c 1:11 r". */
struct cg_dev_rule *husk_cg_device_rules(const struct cg_dev_rule *spec, size_t nspec, uint32_t skip,
					 size_t *n);

/* ---- the cgroupfs manager (cgroupfs.c, apply.c, control.c, stats.c),
 * also used by the systemd manager once its unit exists ---- */

/* Create the container's cgroup in every hierarchy of layout l. */
int husk_cgfs_create(const struct husk_cg_layout *l, const struct husk_spec *spec, const char *id,
		     struct husk_cgroup **out, struct husk_error *e);
/* mkdir -p of h->dir below base_len (which must exist), counting what was
 * made in h->created; on failure what was made is removed again. */
int husk_cgfs_make_dirs(const struct husk_cgroup *cg, struct hier *h, size_t base_len,
			struct husk_error *e);
/* h's mount point opened O_PATH, *rel the directory below it ("." for
 * the mount itself): the manager reaches a cgroup's files from these
 * fds, never by absolute paths.  -1 with errno. */
int husk_cg_mount_open(const struct hier *h, const char **rel);
/* h->dir opened with flags | O_DIRECTORY | O_CLOEXEC; -1 with errno. */
int husk_cg_hier_open(const struct hier *h, int flags);
/* Write value to file of the directory dfd (dir: its path, for errors)
 * through cg->sys, as the limit writes are. */
int husk_cg_write_at(const struct husk_cgroup *cg, int dfd, const char *dir, const char *file,
		     const char *value, struct husk_error *e);
/* runc leaves out a default device rule whose node linux.devices names. */
uint32_t husk_cgfs_device_skip(const struct husk_spec *spec);
/* Pure v2: enable the root's controllers down to the container's parent. */
void husk_cgfs_v2_enable_all(struct hier *h);
/* Apply res; the cgroup records it (husk_resources_json) for the state. */
int husk_cgfs_apply(struct husk_cgroup *cg, const struct husk_resources *res,
		    struct husk_error *e);
/* The same with what the cgroup recorded (a cgroup made again, or a
 * systemd unit that now exists). */
int husk_cgfs_apply_recorded(struct husk_cgroup *cg, struct husk_error *e);
/* Validate resources as apply would, writing nothing. */
int husk_cgfs_check(struct husk_cgroup *cg, const struct husk_resources *res,
		    struct husk_error *e);
/* after (may be NULL): called once the files are written (systemd gives
 * the unit the same values; changes: the sections rewritten, p: their plan). */
typedef int husk_cgfs_after_update(struct husk_cgroup *cg, const struct husk_resources *changes,
				   const struct cg_plan *p, struct husk_error *e);
int husk_cgfs_update_with(struct husk_cgroup *cg, const struct husk_resources *changes,
			  husk_cgfs_after_update *after, struct husk_error *e);
int husk_cgfs_update(struct husk_cgroup *cg, const struct husk_resources *changes,
		     struct husk_error *e);
void husk_cgfs_join_open(const struct husk_cgroup *cg, struct husk_cgroup_join *j);
int husk_cgfs_exec_join_open(const struct husk_cgroup *cg, const char *sub, pid_t init,
			     struct husk_cgroup_join *j, struct husk_error *e);
int husk_cgfs_enter(struct husk_cgroup *cg, pid_t pid, const char *which, struct husk_error *e);
int husk_cgfs_check_reused(struct husk_cgroup *cg, struct husk_error *e);
int husk_cgfs_freeze(struct husk_cgroup *cg, bool freeze, struct husk_error *e);
bool husk_cgfs_frozen(struct husk_cgroup *cg);
int husk_cgfs_kill(struct husk_cgroup *cg, int sig, bool wait_gone, struct husk_error *e);
int husk_cgfs_pids(struct husk_cgroup *cg, pid_t **out, size_t *n, struct husk_error *e);
int husk_cgfs_stats(struct husk_cgroup *cg, json_t **out, struct husk_error *e);
int husk_cgfs_oom_open(struct husk_cgroup *cg, struct husk_error *e);
uint64_t husk_cgfs_oom_count(struct husk_cgroup *cg, int fd);
int husk_cgfs_destroy(struct husk_cgroup *cg, struct husk_error *e);
size_t husk_cgfs_hierarchies(const struct husk_cgroup *cg, struct husk_cgroup_hier_info *out, size_t max);
int husk_cgfs_is_v2(const struct husk_cgroup *cg);
/* Free what every manager has (hierarchies, resources); not priv. */
void husk_cgfs_free(struct husk_cgroup *cg);

/* ---- a rootless caller's delegated cgroup v2 subtree (delegate.c) ---- */

/* The subtree delegated to uid above own (the caller's cgroup, as
 * /proc/self/cgroup shows it, below the unified mount mfd): the highest
 * cgroup below the root that uid owns, with its cgroup.procs and
 * cgroup.subtree_control.  1 and *out (malloc'd, relative to the mount)
 * when found; 0 when there is none, or when the caller lives in it
 * itself (it could enable no controllers for its children). */
int husk_cg_delegated_find(int mfd, const char *own, uid_t uid, char **out);
/* A rootless create without cgroupsPath: the container's cgroup
 * <subtree>/husk-<id> in the unified hierarchy only.  1 made, 0 no
 * delegated subtree (nothing done), -1 error. */
int husk_cg_delegated_create(const struct husk_cg_layout *host, const struct husk_spec *spec,
			     const char *id, struct husk_cgroup **out, struct husk_error *e);

/* ---- the state record (state_record.c) ---- */

char *husk_cg_record_encode(const struct husk_cgroup *cg);
/* The systemd manager's part of a record, when it has one (systemd_manager.c). */
int husk_cg_record_decode(const char *text, struct husk_cgroup **out, struct husk_error *e);
int husk_cg_systemd_load(struct husk_cgroup *cg, const json_t *record, struct husk_error *e);

/* Make the container's directories again where a concurrent delete of a
 * shared cgroupsPath removed them: 1 if any was gone, 0, or -1. */
int husk_cg_revive(struct husk_cgroup *cg, struct husk_error *e);

/* ---- path / parsing helpers (cgpath.c) ---- */

/* The directory of cgroup path (as /proc/PID/cgroup shows it) in the
 * hierarchy mounted at mountpoint; malloc'd. */
char *husk_cg_dir(const char *mountpoint, const char *path);
/* Normalise a cgroup path: collapse "//" and ".", resolve "..", refuse
 * one that climbs above its start.  *out has no leading or trailing slash
 * ("" for the root). */
int husk_cg_clean_path(const char *in, char **out, struct husk_error *e);
/* Do two comma lists hold the same controllers, in any order? */
bool husk_cg_ctrl_equal(const char *a, const char *b);
/* Is name one of the items of the comma list? */
bool husk_cg_ctrl_has(const char *list, const char *name);
/* Is name one of the items of the space separated list? */
bool husk_cg_word_has(const char *list, const char *name);
/* Controllers named by v1 super options ("rw,cpu,cpuacct" -> "cpu,cpuacct"). */
char *husk_cg_v1_controllers(const char *superopts);
/* Undo mountinfo's \ooo escapes in place. */
void husk_cg_unescape_octal(char *s);
/* The cgroup of the hierarchy with controllers ctrl ("" = unified) in
 * /proc/PID/cgroup text; NULL when absent. */
const char *husk_cg_own_cgroup(const char *proc_cgroup, const char *ctrl, char *buf, size_t len);
