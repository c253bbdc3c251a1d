/* The state store: one directory per container under the root, holding
 * state.json (written atomically) and, while the container is created but
 * not started, start.sock on which its init waits.  Commands on one id
 * serialise on an flock of the directory. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define HUSK_STATE_FILE "state.json"
#define HUSK_START_SOCK "start.sock"

struct husk_state {
	char *id;
	pid_t pid;
	unsigned long long pid_start;  /* /proc/PID/stat starttime: guards pid reuse */
	char *bundle;
	char *rootfs;
	char *created;                 /* RFC 3339 */
	char *owner;
	json_t *annotations;           /* object or NULL */
	json_t *hooks;                 /* the config's hooks object (poststart/poststop) or NULL */
	char *cgroup;                  /* husk_cgroup_serialize() text or NULL */
	json_t *namespaces;            /* object name -> /proc path, for exec (issue 5) */
	/* What exec takes from the config, kept at create: the bundle may
	 * change or go away afterwards. */
	json_t *process;               /* the config's "process" object or NULL */
	json_t *seccomp;               /* linux.seccomp as parsed (husk_seccomp_profile_json) or NULL */
	bool has_personality;
	unsigned long personality;     /* linux.personality's domain (PER_*) */
	json_t *mempolicy;             /* linux.memoryPolicy as written, for exec */
	json_t *net_devices;           /* what husk_netdev_move_in moved, for delete */
	json_t *intel_rdt;             /* husk_rdt_apply's record, for exec and delete */
	/* No cgroup and the caller's pid namespace (box --isolation chroot):
	 * the container's processes are those in its mount namespace, this
	 * one: the kernel's id for it (never reused within a boot, unlike
	 * the nsfs inode) and the boot's id; 0 when not recorded. */
	uint64_t mnt_ns_id;
	char *boot_id;
};

/* Open (creating with mode 0700 when create) the state root. */
int husk_state_root_open(const char *root, bool create, int *out, struct husk_error *e);
/* Reserve a new container directory; EEXIST is "container exists". */
int husk_state_dir_create(int rootfd, const char *id, int *out, struct husk_error *e);
/* Open an existing container directory; ENOENT is "container does not exist". */
int husk_state_dir_open(int rootfd, const char *id, int *out, struct husk_error *e);
/* Exclusive lock on the container directory (blocks). */
int husk_state_lock(int dirfd, struct husk_error *e);
/* Remove the container directory (after delete or a failed create). */
int husk_state_dir_remove(int rootfd, const char *id, struct husk_error *e);

int husk_state_write(int dirfd, const struct husk_state *s, struct husk_error *e);
int husk_state_read(int dirfd, struct husk_state **out, struct husk_error *e);
void husk_state_free(struct husk_state *s);

/* The id of the mount namespace of pid (0: none readable, or a kernel
 * before 6.10), and this boot's id (NULL: unreadable; malloc'd). */
uint64_t husk_mount_ns_id(pid_t pid);
char *husk_boot_id(void);
/* With mnt_ns_id recorded: whether pid is in that mount namespace, and
 * every such pid (a /proc scan; *out malloc'd, the count returned). */
bool husk_state_in_mount_ns(const struct husk_state *s, pid_t pid);
size_t husk_state_mount_ns_pids(const struct husk_state *s, pid_t **out);

/* "created", "running", "stopped" (or "paused"), from the live process. */
const char *husk_state_status(int dirfd, const struct husk_state *s);
/* The runtime.md state document for s with the given status (malloc'd). */
char *husk_state_oci_json(const struct husk_state *s, const char *status, bool pretty);

/* starttime (field 22 of /proc/PID/stat), 0 when the process is gone;
 * *zombie set when it exited but was not reaped. */
unsigned long long husk_proc_starttime(pid_t pid, bool *zombie);
