/* Private to src/lib/cgroup/ (and its unit tests): the cgroup object,
 * controller lookup, the resources plan and the device program. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* A unit of the systemd driver (systemd.h). */
struct husk_sd_unit {
	char *unit;  /* "husk-ID.scope", or "a-b.slice" when name is a slice */
	char *slice; /* parent slice of a scope ("system.slice"); NULL for a slice */
	char *path;  /* its cgroup below the hierarchy root: "/system.slice/husk-ID.scope" */
	bool user;   /* the user's own systemd instance (rootless) */
};

struct husk_cgroup {
	enum cg_layout layout;
	struct hier *h;
	size_t n;
	char *v2_avail;    /* cgroup.controllers of the unified root (lazily read) */
	json_t *resources; /* linux.resources as applied (create, then updates) */
	/* Bit i: default device rule i is left out because linux.devices
	 * names its path (the spec's rules decide that device, as in runc). */
	uint32_t dev_skip;
	/* systemd driver: sd.unit is set; the unit is started once the
	 * init exists (sd_pending until then). */
	struct husk_sd_unit sd;
	char *sd_description;
	json_t *sd_annotations; /* org.systemd.property.* from the spec */
	bool sd_pending;
};

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
/* The same for the resources a cgroup recorded (husk_cgroup.resources). */
int husk_cg_plan_recorded(const json_t *recorded, unsigned v2mask, struct cg_plan *p,
			  struct husk_error *e);
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

/* systemd driver: after `update` wrote the files, give systemd the same
 * values (changes: the resources keys rewritten; p: their plan). */
int husk_cg_systemd_update(struct husk_cgroup *cg, const json_t *changes, const struct cg_plan *p,
			   struct husk_error *e);

/* Make the container's directories again where a concurrent delete of a
 * shared cgroupsPath removed them: 1 if any was gone, 0, or -1. */
int husk_cg_revive(struct husk_cgroup *cg, struct husk_error *e);

/* ---- path / parsing helpers (cgroup.c) ---- */

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
