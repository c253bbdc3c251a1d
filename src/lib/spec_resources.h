/* linux.resources parsed and validated into types, once: at create from
 * config.json, by `update -r` from its file, and from the record the
 * cgroup keeps in the state (husk_resources_json() writes it).  Values
 * the host decides on (v1 or v2, controllers present) are checked when
 * the plan is built (cgroup/resources.c).  Unknown properties are
 * ignored, as the spec asks; --debug names them. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct husk_opt_int {
	bool set;
	int64_t v;
};

struct husk_opt_bool {
	bool set;
	bool v;
};

/* A device rule; access bits as BPF_DEVCG_ACC_*: m=1 r=2 w=4. */
struct cg_dev_rule {
	bool allow;
	char type;      /* 'a', 'c', 'b' */
	int64_t major;  /* -1: any */
	int64_t minor;
	unsigned access;
};

struct husk_res_memory {
	bool set;
	struct husk_opt_int limit, reservation, swap, kernel, kernel_tcp, swappiness;
	struct husk_opt_bool disable_oom_killer, use_hierarchy, check_before_update;
};

struct husk_res_cpu {
	bool set;
	struct husk_opt_int shares, quota, burst, period, realtime_runtime, realtime_period, idle;
	char *cpus, *mems; /* NULL when absent */
};

struct husk_res_weight_dev {
	int64_t major, minor;
	struct husk_opt_int weight, leaf_weight;
};

struct husk_res_rate_dev {
	int64_t major, minor;
	int64_t rate; /* 0 when absent */
};

enum husk_res_throttle {
	HUSK_THROTTLE_READ_BPS,
	HUSK_THROTTLE_WRITE_BPS,
	HUSK_THROTTLE_READ_IOPS,
	HUSK_THROTTLE_WRITE_IOPS,
	HUSK_THROTTLE__COUNT
};

struct husk_res_blkio {
	bool set;
	struct husk_opt_int weight, leaf_weight;
	struct husk_res_weight_dev *weight_device; /* NULL when absent */
	size_t n_weight_device;
	struct husk_res_rate_dev *throttle[HUSK_THROTTLE__COUNT]; /* NULL when absent */
	size_t n_throttle[HUSK_THROTTLE__COUNT];
};

struct husk_res_hugepage {
	char *page_size; /* "2MB" */
	int64_t limit;
};

struct husk_res_prio {
	char *name;
	int64_t priority; /* 0 when absent */
};

struct husk_res_pids {
	bool set;
	struct husk_opt_int limit;
};

struct husk_res_network {
	bool set;
	struct husk_opt_int class_id;
	struct husk_res_prio *priorities; /* NULL when absent */
	size_t n_priorities;
};

struct husk_res_rdma {
	char *device;
	struct husk_opt_int hca_handles, hca_objects;
};

struct husk_res_unified {
	char *key; /* "memory.high": "<controller>.<file>" */
	char *value;
};

struct husk_resources {
	bool set; /* linux.resources present */
	bool has_devices;
	struct cg_dev_rule *devices;
	size_t n_devices;
	struct husk_res_memory memory;
	struct husk_res_cpu cpu;
	struct husk_res_pids pids;
	struct husk_res_blkio block_io;
	bool has_hugepage_limits;
	struct husk_res_hugepage *hugepage_limits;
	size_t n_hugepage_limits;
	struct husk_res_network network;
	bool has_rdma;
	struct husk_res_rdma *rdma;
	size_t n_rdma;
	bool has_unified;
	struct husk_res_unified *unified;
	size_t n_unified;
};

/* The spec's key of each throttle list ("throttleReadBpsDevice", ...). */
extern const char *const husk_res_throttle_key[HUSK_THROTTLE__COUNT];

/* Parse v (an object; NULL or JSON null: nothing set) into *r, which the
 * caller zeroed.  Errors read "linux.resources.<key>: ...". *r is freed
 * on failure. */
int husk_resources_parse(json_t *v, struct husk_resources *r, struct husk_error *e);
void husk_resources_free(struct husk_resources *r);
/* Is anything set (a section, even an empty one)? */
bool husk_resources_empty(const struct husk_resources *r);
/* The canonical linux.resources object of r (what the state keeps):
 * parsing it gives r back. */
json_t *husk_resources_json(const struct husk_resources *r);
/* Device rules from a resources.devices-style array (what names it in
 * errors: "linux.resources.devices"). */
int husk_cg_parse_devices(const json_t *arr, const char *what, struct cg_dev_rule **out,
			  size_t *n, struct husk_error *e);
