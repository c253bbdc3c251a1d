/* The container's init: a clone of the runtime (no re-exec) that enters
 * its namespaces, builds the rootfs, applies the process attributes and
 * waits on the start socket to execve the user program. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>

#include "container.h"
#include "error.h"
#include "namespaces.h"
#include "spec.h"

struct husk_cgroup;
struct husk_seccomp;

struct husk_init_config {
	const struct husk_spec *spec;
	const struct husk_create_opts *opts;
	struct husk_ns_plan *ns;
	int sync_fd;      /* the child's end of the sync socketpair */
	int listen_fd;    /* start.sock, listening */
	int preserve_fds; /* fds 3 .. 3+preserve_fds-1 go to the process */
	int close_from;   /* the child closes fds >= this that it does not need */
	struct husk_cgroup *cgroup; /* its manager's (none when running without one); the
				     * init updates its copy once the manager placed it */
	const struct husk_seccomp *seccomp; /* compiled linux.seccomp, NULL when absent */
};

/* True when the prestart/createRuntime round trip is needed. */
bool husk_init_wants_runtime_hooks(const struct husk_spec *s);

/* Clone the first process.  *two_stage says whether it is an intermediate
 * (which reports the init's pid with SYNC_CHILD_PID and exits) or the init
 * itself.  Only returns in the parent. */
int husk_init_spawn(struct husk_init_config *c, pid_t *first, bool *two_stage,
		    struct husk_error *e);
/* Then, in the parent: write the id maps, finish the cgroup join the child
 * began and let it go on. */
int husk_init_release(const struct husk_init_config *c, pid_t first, bool two_stage, int sync_fd,
		      struct husk_error *e);
