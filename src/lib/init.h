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
struct husk_launch;

struct husk_init_config {
	const struct husk_spec *spec;
	const struct husk_create_opts *opts;
	struct husk_ns_plan *ns;
	/* the sync socket, the preserved fds, the compiled linux.seccomp, the
	 * cgroup join (filled in by husk_init_spawn) */
	struct husk_launch *launch;
	int listen_fd;    /* start.sock, listening */
	struct husk_cgroup *cgroup; /* its manager's (none when running without one); the
				     * init updates its copy once the manager placed it */
	const char *overlay; /* box: the root's overlay mount options, or NULL */
	bool root_by_runtime; /* box, user namespace, root: the root comes from the runtime */
};

/* True when the prestart/createRuntime round trip is needed. */
bool husk_init_wants_runtime_hooks(const struct husk_spec *s);

/* Clone the first process (launch->first).  *two_stage says whether it is
 * an intermediate (which reports the init's pid with SYNC_CHILD_PID and
 * exits) or the init itself.  Only returns in the parent. */
int husk_init_spawn(struct husk_init_config *c, bool *two_stage, struct husk_error *e);
/* Then, in the parent: write the id maps, finish the cgroup join the child
 * began and let it go on. */
int husk_init_release(const struct husk_init_config *c, bool two_stage, struct husk_error *e);
