/* Container lifecycle: the operations behind the CLI commands. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

struct husk_storage_ops;

enum husk_log_format { HUSK_LOG_TEXT, HUSK_LOG_JSON };

struct husk_global_opts {
	const char *root;          /* state root; NULL = default */
	bool systemd_cgroup;
	bool debug;
	int rootless;              /* -1 auto, 0 false, 1 true */
};

/* A file box generates into the container's state directory. */
struct husk_state_file {
	const char *name;
	const char *content;
};

/* A box limit option ("--memory") and the cgroup v2 controller it needs. */
struct husk_optional_limit {
	const char *option;
	const char *controller;
};

struct husk_create_opts {
	const char *id;
	const char *bundle;        /* NULL = current directory */
	const char *pid_file;      /* NULL = none; relative to cwd */
	const char *console_socket;
	bool no_pivot;
	bool no_new_keyring;
	int preserve_fds;          /* extra fds after stdio passed to the process */
	bool detach;               /* run -d */
	bool keep;                 /* run --keep: do not delete after exit */
	const char *spec_json;     /* box: the config in memory instead of bundle/config.json */
	/* box: the root made by a storage driver (storage.h) from these layer
	 * trees (lowest first) in the state dir; then root_ready is called
	 * (the state dir and root exist, nothing runs yet). */
	const struct husk_storage_ops *storage;
	const char *const *layers;
	size_t n_layers;
	int (*root_ready)(void *arg, struct husk_error *e);
	void *root_ready_arg;
	/* box: before the root is made, the directory (absolute, in *dir) a
	 * vfs copy goes in instead of the state directory (state_dir: the
	 * state directory's real path), or NULL; root_ready_arg is its arg. */
	int (*root_dir)(void *arg, const char *state_dir, char **dir, struct husk_error *e);
	const struct husk_state_file *state_files; /* box: written into the state dir at create */
	size_t n_state_files;
	/* box: the options behind linux.resources; a rootless container that
	 * may not make a cgroup, or whose delegated subtree lacks the
	 * controller, runs without them, with a warning each. */
	const struct husk_optional_limit *optional_limits;
	size_t n_optional_limits;
	bool no_cgroup;            /* box --isolation chroot: the caller's cgroups (none manager) */
	bool verify_mount_flags;   /* box --isolation chroot: statvfs after every mount */
};

/* Default state root: /run/husk as root, $XDG_RUNTIME_DIR/husk otherwise. */
const char *husk_default_root(void);
/* The state root: --root, else the default. */
const char *husk_root_of(const struct husk_global_opts *g);

int husk_container_create(const struct husk_global_opts *g, const struct husk_create_opts *o,
			  struct husk_error *e);
int husk_container_start(const struct husk_global_opts *g, const char *id, struct husk_error *e);
/* create + start; without detach waits and stores the exit status (128+N
 * for signal N) in *exit_status; with detach *exit_status = 0. */
int husk_container_run(const struct husk_global_opts *g, const struct husk_create_opts *o,
		       int *exit_status, struct husk_error *e);
/* The state JSON of runtime.md (plus rootfs, created, owner). */
int husk_container_state(const struct husk_global_opts *g, const char *id, char **json,
			 struct husk_error *e);
int husk_container_kill(const struct husk_global_opts *g, const char *id, int sig, bool all,
			struct husk_error *e);
int husk_container_delete(const struct husk_global_opts *g, const char *id, bool force,
			  struct husk_error *e);

struct husk_list_entry {
	const char *oci_version;  /* the state document's ociVersion */
	char *id;
	pid_t pid;
	char *status;
	char *bundle;
	char *created;   /* RFC 3339 */
	char *owner;
	char *rootfs;
};
/* Every container under the root, sorted by id. */
int husk_container_list(const struct husk_global_opts *g, struct husk_list_entry **out, size_t *n,
			struct husk_error *e);
void husk_list_free(struct husk_list_entry *v, size_t n);

/* Open and lock (flock, exclusive) a container's state directory and read
 * its state: the common start of every command on an existing container.
 * The caller closes *rootfd and *dirfd and frees *st (husk_state_free). */
struct husk_state;
int husk_container_open(const struct husk_global_opts *g, const char *id, int *rootfd, int *dirfd,
			struct husk_state **st, struct husk_error *e);
/* A pidfd for the state's init, or -1 (errno ESRCH) when that process is
 * gone or its pid now belongs to someone else. */
int husk_init_pidfd(const struct husk_state *s);
/* The address of the unix socket name inside dirfd, not limited by
 * sun_path's size (through /proc/self/fd). */
struct sockaddr_un;
int husk_sock_addr_at(int dirfd, const char *name, struct sockaddr_un *a, struct husk_error *e);

/* fd moved to min_fd or above (close-on-exec; the original closed), so
 * that it cannot collide with the fds --preserve-fds hands on; -1 on
 * failure (fd < 0 is passed through). */
int husk_fd_above(int fd, int min_fd);

/* Before a process gets fds 3..min_fd-1 (--preserve-fds, socket
 * activation): husk's own long-lived fds (the log) move above, and a slot
 * the caller left empty gets /dev/null, so that nothing husk opens later
 * lands there and leaks into the container. */
int husk_reserve_preserved_fds(int min_fd, struct husk_error *e);

/* Write pid to path (relative to the current directory) atomically. */
int husk_write_pid_file(const char *path, pid_t pid, struct husk_error *e);

/* Validate a container id: [A-Za-z0-9][A-Za-z0-9_+.-]*, at most 1024 bytes
 * ("." and ".." refused). */
int husk_validate_id(const char *id, struct husk_error *e);
