/* The none manager: a rootless container that may not create a cgroup and
 * asks for no limits runs in its caller's cgroups, as with runc.  Joining
 * and removing it do nothing; what needs a cgroup of its own (pause, ps,
 * events, update, exec --cgroup) says the container has none. */
#include "cgroup/cgroup.h"
#include "cgroup/cgroup_internal.h"

#include <stdlib.h>

#include "util.h"

#define NO_CGROUP "container has no cgroup"

static int none_check_reused(struct husk_cgroup *cg, struct husk_error *e)
{
	(void)cg;
	(void)e;
	return 0;
}

static int none_apply(struct husk_cgroup *cg, const struct husk_resources *res,
		      struct husk_error *e)
{
	(void)cg;
	if (res && !husk_resources_empty(res))
		return husk_err(e, 0, "linux.resources: the container has no cgroup to apply them to");
	return 0;
}

static int none_update(struct husk_cgroup *cg, const struct husk_resources *changes,
		       struct husk_error *e)
{
	(void)cg;
	(void)changes;
	return husk_err(e, 0, NO_CGROUP);
}

static void none_join_open(const struct husk_cgroup *cg, struct husk_cgroup_join *j)
{
	(void)cg;
	*j = (struct husk_cgroup_join){ .v2_dir = -1 };
	j->fd = xmalloc(sizeof(*j->fd));
}

static int none_exec_join_open(const struct husk_cgroup *cg, const char *sub, pid_t init,
			       struct husk_cgroup_join *j, struct husk_error *e)
{
	(void)init;
	if (sub)
		return husk_err(e, 0, "--cgroup: the " NO_CGROUP);
	none_join_open(cg, j);
	j->dirs = xcalloc(1, sizeof(char *));
	return 0;
}

static int none_init_attach(struct husk_cgroup *cg, pid_t pid, const char *need, struct husk_error *e)
{
	(void)cg;
	(void)pid;
	(void)need;
	(void)e;
	return 0;
}

static void none_init_joined(struct husk_cgroup *cg)
{
	(void)cg;
}

static int none_enter(struct husk_cgroup *cg, pid_t pid, const char *which, struct husk_error *e)
{
	(void)cg;
	(void)pid;
	(void)which;
	(void)e;
	return 0;
}

static int none_freeze(struct husk_cgroup *cg, bool freeze, struct husk_error *e)
{
	(void)cg;
	(void)freeze;
	return husk_err(e, 0, NO_CGROUP);
}

static bool none_frozen(struct husk_cgroup *cg)
{
	(void)cg;
	return false;
}

/* kill --all and delete: the init is all there is to signal. */
static int none_kill(struct husk_cgroup *cg, int sig, bool wait_gone, struct husk_error *e)
{
	(void)cg;
	(void)sig;
	(void)wait_gone;
	(void)e;
	return 0;
}

static int none_pids(struct husk_cgroup *cg, pid_t **out, size_t *n, struct husk_error *e)
{
	(void)cg;
	*out = NULL;
	*n = 0;
	return husk_err(e, 0, NO_CGROUP);
}

static int none_stats(struct husk_cgroup *cg, json_t **out, struct husk_error *e)
{
	(void)cg;
	*out = NULL;
	return husk_err(e, 0, NO_CGROUP);
}

static int none_oom_open(struct husk_cgroup *cg, struct husk_error *e)
{
	(void)cg;
	return husk_err(e, 0, NO_CGROUP);
}

static uint64_t none_oom_count(struct husk_cgroup *cg, int fd)
{
	(void)cg;
	(void)fd;
	return 0;
}

static int none_destroy(struct husk_cgroup *cg, struct husk_error *e)
{
	(void)cg;
	(void)e;
	return 0;
}

static size_t none_hierarchies(const struct husk_cgroup *cg, struct husk_cgroup_hier_info *out,
			       size_t max)
{
	(void)cg;
	(void)out;
	(void)max;
	return 0;
}

static int none_is_v2(const struct husk_cgroup *cg)
{
	(void)cg;
	return -1;
}

static char *none_encode(const struct husk_cgroup *cg)
{
	(void)cg;
	return NULL;
}

static void none_free(struct husk_cgroup *cg)
{
	husk_cgfs_free(cg);
}

const struct husk_cgroup_ops husk_cgroup_none = {
	.name = "none",
	.check_reused = none_check_reused,
	.apply = none_apply,
	.update = none_update,
	.join_open = none_join_open,
	.exec_join_open = none_exec_join_open,
	.init_attach = none_init_attach,
	.init_joined = none_init_joined,
	.enter = none_enter,
	.freeze = none_freeze,
	.frozen = none_frozen,
	.kill = none_kill,
	.pids = none_pids,
	.stats = none_stats,
	.oom_open = none_oom_open,
	.oom_count = none_oom_count,
	.destroy = none_destroy,
	.hierarchies = none_hierarchies,
	.is_v2 = none_is_v2,
	.encode = none_encode,
	.free = none_free,
};
