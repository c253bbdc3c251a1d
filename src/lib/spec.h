/* The OCI runtime-spec config.json, parsed and validated into C structures
 * (linux.resources: spec_resources.h, linux.seccomp: spec_seccomp.h). */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "spec_resources.h"
#include "spec_seccomp.h"

enum husk_ns_type {
	HUSK_NS_PID,
	HUSK_NS_NET,
	HUSK_NS_MNT,
	HUSK_NS_IPC,
	HUSK_NS_UTS,
	HUSK_NS_USER,
	HUSK_NS_CGROUP,
	HUSK_NS_TIME,
	HUSK_NS__COUNT
};

enum husk_hook_kind {
	HUSK_HOOK_PRESTART,
	HUSK_HOOK_CREATE_RUNTIME,
	HUSK_HOOK_CREATE_CONTAINER,
	HUSK_HOOK_START_CONTAINER,
	HUSK_HOOK_POSTSTART,
	HUSK_HOOK_POSTSTOP,
	HUSK_HOOK__COUNT
};

struct husk_kv {
	char *key;
	char *value;
};

struct husk_id_mapping {
	uint32_t container_id;
	uint32_t host_id;
	uint32_t size;
};

struct husk_mount {
	char *destination;  /* absolute inside the container (validated) */
	char *type;         /* may be NULL (bind mounts) */
	char *source;       /* may be NULL; relative sources are kept as written */
	char **options;     /* NULL-terminated, may be empty */
	size_t n_options;
	struct husk_id_mapping *uid_mappings;
	size_t n_uid_mappings;
	struct husk_id_mapping *gid_mappings;
	size_t n_gid_mappings;
};

struct husk_rlimit {
	int resource;       /* RLIMIT_* */
	char *type;         /* "RLIMIT_NOFILE" as written */
	uint64_t soft;
	uint64_t hard;
};

struct husk_hook {
	char *path;         /* absolute */
	char **args;        /* NULL-terminated; NULL when absent */
	char **env;         /* NULL-terminated; NULL when absent */
	int timeout;        /* seconds; 0 = none (spec: must be > 0 when set) */
};

struct husk_hook_list {
	struct husk_hook *v;
	size_t n;
};

struct husk_namespace {
	bool present;       /* listed in linux.namespaces */
	char *path;         /* join this one (setns) when non-NULL */
};

struct husk_device {
	char type;          /* 'c', 'b', 'u' (= char, unbuffered) or 'p' */
	char *path;         /* absolute inside the container */
	int64_t major;
	int64_t minor;
	bool has_file_mode;
	uint32_t file_mode; /* permission bits only */
	bool has_uid;
	uint32_t uid;
	bool has_gid;
	uint32_t gid;
};

struct husk_caps {
	bool has_bounding, has_effective, has_inheritable, has_permitted, has_ambient;
	uint64_t bounding;  /* bit (1ULL << CAP_xxx) */
	uint64_t effective;
	uint64_t inheritable;
	uint64_t permitted;
	uint64_t ambient;
};

struct husk_user {
	uint32_t uid;
	uint32_t gid;
	bool has_umask;
	uint32_t umask;
	uint32_t *additional_gids;
	size_t n_additional_gids;
	char *username;     /* Windows only; kept for completeness */
};

struct husk_scheduler {
	bool set;
	int policy;         /* SCHED_* */
	int nice;
	int priority;
	uint64_t flags;     /* SCHED_FLAG_* bits */
	uint64_t runtime;
	uint64_t deadline;
	uint64_t period;
};

struct husk_io_priority {
	bool set;
	int ioprio_class;   /* IOPRIO_CLASS_RT=1, BE=2, IDLE=3 */
	int priority;       /* 0..7 */
};

/* A list of ids as "0-3,7" (CPUs, NUMA nodes) as a bitmap; nbits = the
 * highest id + 1 (0: empty list). */
struct husk_idset {
	unsigned long *bits;
	size_t nbits;
};

/* process.execCPUAffinity (runtime-spec 1.3); exec only, not the init. */
struct husk_cpu_affinity {
	bool set;
	struct husk_idset initial; /* the runtime before the cgroup join; empty: unchanged */
	struct husk_idset final;   /* the process after the join; empty: unchanged */
};

struct husk_process {
	bool terminal;
	bool has_console_size;
	unsigned console_height, console_width;
	struct husk_user user;
	char **args;        /* NULL-terminated, at least one element */
	size_t n_args;
	char **env;         /* NULL-terminated, may be empty */
	size_t n_env;
	char *cwd;          /* absolute */
	bool has_caps;      /* process.capabilities present */
	struct husk_caps caps;
	char **unknown_caps; /* names asked for that husk cannot map; NULL when none */
	struct husk_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privileges;
	char *apparmor_profile;
	char *selinux_label;
	bool has_oom_score_adj;
	int oom_score_adj;  /* -1000..1000 */
	struct husk_scheduler scheduler;
	struct husk_io_priority io_priority;
	struct husk_seccomp_profile *seccomp; /* exec --process may carry its own; NULL when absent */
	struct husk_cpu_affinity exec_cpu_affinity;
};

struct husk_time_offset {
	bool set;
	int64_t secs;
	uint32_t nanosecs;
};

/* linux.netDevices: one host interface moved into the container. */
struct husk_net_device {
	char *host_name;    /* the key: its name in the runtime's network namespace */
	char *name;         /* its name in the container (host_name when not given) */
};

/* linux.memoryPolicy: set_mempolicy(2) for the container's processes. */
struct husk_mempolicy {
	bool set;
	int mode;           /* MPOL_* */
	unsigned flags;     /* MPOL_F_* */
	struct husk_idset nodes;
};

/* linux.intelRdt (resctrl). */
struct husk_intel_rdt {
	bool set;
	char *clos_id;      /* NULL: the container id names the group */
	char *l3_cache_schema;
	char *mem_bw_schema;
	char **schemata;    /* NULL-terminated lines; NULL when absent */
	bool enable_monitoring;
};

struct husk_spec {
	char *oci_version;
	char *bundle;             /* absolute bundle directory */
	char *root_path;          /* absolute: root.path resolved against bundle */
	bool root_readonly;
	struct husk_process *process; /* NULL when absent */
	char *hostname;           /* NULL when absent */
	char *domainname;
	struct husk_mount *mounts;
	size_t n_mounts;
	struct husk_hook_list hooks[HUSK_HOOK__COUNT];
	struct husk_kv *annotations;
	size_t n_annotations;

	/* linux */
	bool has_linux;
	struct husk_namespace namespaces[HUSK_NS__COUNT];
	struct husk_id_mapping *uid_mappings;
	size_t n_uid_mappings;
	struct husk_id_mapping *gid_mappings;
	size_t n_gid_mappings;
	struct husk_time_offset time_monotonic;
	struct husk_time_offset time_boottime;
	struct husk_device *devices;
	size_t n_devices;
	char *cgroups_path;       /* NULL when absent */
	struct husk_resources resources; /* linux.resources (spec_resources.h) */
	unsigned long rootfs_propagation; /* MS_* flags, 0 when absent */
	char **masked_paths;      /* NULL-terminated */
	size_t n_masked_paths;
	char **readonly_paths;    /* NULL-terminated */
	size_t n_readonly_paths;
	char *mount_label;
	struct husk_kv *sysctl;
	size_t n_sysctl;
	bool has_personality;
	unsigned long personality; /* PER_LINUX or PER_LINUX32 */
	struct husk_seccomp_profile *seccomp; /* linux.seccomp (spec_seccomp.h), NULL when absent */
	struct husk_intel_rdt intel_rdt;
	struct husk_net_device *net_devices;
	size_t n_net_devices;
	struct husk_mempolicy mempolicy;
	json_t *doc;              /* the whole document: create keeps parts in the state */
};

/* Load bundle/config.json.  bundle may be relative; it is made absolute.
 * Errors read "config.json: <json path>: <problem>" (errnum 0) or carry the
 * line and column from jansson for malformed JSON. */
int husk_spec_load(const char *bundle, struct husk_spec **out, struct husk_error *e);

/* Parse an in-memory document (for tests and `spec` round trips). */
int husk_spec_parse_string(const char *text, const char *bundle, struct husk_spec **out,
			   struct husk_error *e);

/* Parse a process object (config.json's "process", or exec --process). */
int husk_process_parse(json_t *obj, const char *json_path, struct husk_process **out,
		       struct husk_error *e);

void husk_spec_free(struct husk_spec *s);

/* config.json's "hooks" object (also the part the state keeps for
 * poststart and poststop) into hooks[], which the caller zeroed; errors
 * name "hooks.<kind>[i]...".  Free with husk_hooks_free() either way. */
int husk_hooks_parse(json_t *v, struct husk_hook_list hooks[HUSK_HOOK__COUNT], struct husk_error *e);
void husk_hooks_free(struct husk_hook_list hooks[HUSK_HOOK__COUNT]);

/* The runtime-spec 1.3 fields (spec_v13.c): linux.netDevices,
 * linux.memoryPolicy, linux.intelRdt and process.execCPUAffinity. */
int husk_spec_parse_v13_linux(json_t *lx, struct husk_spec *s, struct husk_error *e);
int husk_spec_parse_cpu_affinity(json_t *v, const char *path, struct husk_cpu_affinity *a,
				 struct husk_error *e);
int husk_mempolicy_parse(json_t *v, const char *path, struct husk_mempolicy *m,
			 struct husk_error *e);
void husk_spec_free_v13(struct husk_spec *s);
void husk_idset_free(struct husk_idset *set);
/* Parse "0-3,7" (ids below limit); one-line error naming path. */
int husk_idset_parse(const char *text, unsigned limit, const char *path, struct husk_idset *out,
		     struct husk_error *e);
void husk_process_free(struct husk_process *p);

/* Namespace names as written in config.json ("pid", "network", "mount",
 * "ipc", "uts", "user", "cgroup", "time") and in /proc/PID/ns ("pid",
 * "net", "mnt", ...), and their CLONE_NEW* flags. */
const char *husk_ns_spec_name(enum husk_ns_type t);
const char *husk_ns_proc_name(enum husk_ns_type t);
int husk_ns_clone_flag(enum husk_ns_type t);
const char *husk_hook_name(enum husk_hook_kind k); /* "prestart", "createRuntime", ... */

/* Capability names "CAP_CHOWN" <-> numbers; -1 when unknown. */
int husk_cap_from_name(const char *name);
const char *husk_cap_name(int cap);
int husk_cap_last(void); /* highest capability number husk knows */
/* Note a capability name that maps to nothing (once each); the caller
 * warns about it (husk_caps_check) and goes on, as spec 1.1 asks. */
void husk_process_ignore_cap(struct husk_process *p, const char *name);

/* `husk spec`: the default config.json text (as runc spec writes it).
 * rootless adds a user namespace with the caller's ids mapped. */
char *husk_spec_default_json(bool rootless);

/* `husk features`: the features.md JSON document. */
char *husk_features_json(void);
