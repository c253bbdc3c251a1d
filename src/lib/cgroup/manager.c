/* The cgroup interface: picks the manager at create (systemd, cgroupfs, or
 * none for a rootless container that may not make a cgroup and needs no
 * limits), finds it again from the state record, and calls it.  Also the
 * part of the join that is the same for every manager. */
#include "cgroup/cgroup.h"
#include "cgroup/cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* The systemd manager's create (systemd_manager.c). */
int husk_cg_systemd_create(const struct husk_spec *spec, const char *id, struct husk_cgroup **out,
			   struct husk_error *e);

struct husk_cgroup *husk_cg_alloc(const struct husk_cgroup_ops *ops, enum cg_layout layout, size_t n)
{
	struct husk_cgroup *cg = xcalloc(1, sizeof(*cg));
	cg->ops = ops;
	cg->sys = &husk_cg_sys_real;
	cg->layout = layout;
	cg->h = xcalloc(n + 1, sizeof(*cg->h));
	return cg;
}

int husk_cgroup_create(const struct husk_spec *spec, const char *id,
		       const struct husk_cgroup_opts *o, struct husk_cgroup **out,
		       struct husk_error *e)
{
	if (o->none) {
		/* none_apply refuses limits: there is nothing to put them in. */
		*out = husk_cg_alloc(&husk_cgroup_none, CG_V1, 0);
		return 0;
	}
	if (o->systemd)
		return husk_cg_systemd_create(spec, id, out, e);
	struct husk_cg_layout host = { .root = HUSK_CG_ROOT, .sys = &husk_cg_sys_real };
	/* An unprivileged user's own subtree, where there is one; root can
	 * make the default anywhere. */
	bool dflt = !spec || !spec->cgroups_path || !*spec->cgroups_path;
	int r = 0;
	if (o->rootless && dflt && geteuid() != 0)
		r = husk_cg_delegated_create(&host, spec, id, out, e);
	if (r != 0)
		return r < 0 ? husk_err_wrap(e, "cgroup") : 0;
	if (husk_cgfs_create(&host, spec, id, out, e) == 0)
		return 0;
	/* Rootless without resource limits runs without a cgroup of its own
	 * when it may not create one, as runc does. */
	bool denied = e->errnum == EACCES || e->errnum == EPERM || e->errnum == EROFS;
	if (!(o->rootless && denied && husk_resources_empty(&spec->resources)))
		return husk_err_wrap(e, "cgroup");
	char why[HUSK_ERR_MSG_MAX + 64];
	husk_debug("rootless: running without a cgroup: %s", husk_err_str(e, why, sizeof(why)));
	*out = husk_cg_alloc(&husk_cgroup_none, CG_V1, 0);
	return 0;
}

int husk_cgroup_deserialize(const char *text, struct husk_cgroup **out, struct husk_error *e)
{
	if (!text) {
		*out = husk_cg_alloc(&husk_cgroup_none, CG_V1, 0);
		return 0;
	}
	return husk_cg_record_decode(text, out, e);
}

char *husk_cgroup_serialize(const struct husk_cgroup *cg)
{
	return cg->ops->encode(cg);
}

void husk_cgroup_free(struct husk_cgroup *cg)
{
	if (!cg)
		return;
	cg->ops->free(cg);
	free(cg);
}

int husk_cgroup_check_reused(struct husk_cgroup *cg, struct husk_error *e)
{
	return cg->ops->check_reused(cg, e);
}

int husk_cgroup_apply(struct husk_cgroup *cg, const struct husk_resources *res, struct husk_error *e)
{
	return cg->ops->apply(cg, res, e);
}

int husk_cgroup_update(struct husk_cgroup *cg, const struct husk_resources *changes,
		       struct husk_error *e)
{
	return cg->ops->update(cg, changes, e);
}

const json_t *husk_cgroup_resources(const struct husk_cgroup *cg)
{
	return cg->resources;
}

int husk_cgroup_init_attach(struct husk_cgroup *cg, pid_t pid, const char *need, struct husk_error *e)
{
	return cg->ops->init_attach(cg, pid, need, e);
}

void husk_cgroup_init_joined(struct husk_cgroup *cg)
{
	cg->ops->init_joined(cg);
}

int husk_cgroup_enter(struct husk_cgroup *cg, pid_t pid, struct husk_error *e)
{
	return cg->ops->enter(cg, pid, NULL, e);
}

int husk_cgroup_enter_some(struct husk_cgroup *cg, pid_t pid, const char *which, struct husk_error *e)
{
	return cg->ops->enter(cg, pid, which, e);
}

int husk_cgroup_freeze(struct husk_cgroup *cg, bool freeze, struct husk_error *e)
{
	return cg->ops->freeze(cg, freeze, e);
}

bool husk_cgroup_state_frozen(const char *serialized)
{
	struct husk_cgroup *cg = NULL;
	struct husk_error ignored;
	if (husk_cgroup_deserialize(serialized, &cg, &ignored) < 0)
		return false;
	bool r = cg->ops->frozen(cg);
	husk_cgroup_free(cg);
	return r;
}

int husk_cgroup_kill_all(struct husk_cgroup *cg, int sig, bool wait_gone, struct husk_error *e)
{
	return cg->ops->kill(cg, sig, wait_gone, e);
}

int husk_cgroup_pids(struct husk_cgroup *cg, pid_t **out, size_t *n, struct husk_error *e)
{
	return cg->ops->pids(cg, out, n, e);
}

int husk_cgroup_stats(struct husk_cgroup *cg, json_t **out, struct husk_error *e)
{
	return cg->ops->stats(cg, out, e);
}

int husk_cgroup_oom_open(struct husk_cgroup *cg, struct husk_error *e)
{
	return cg->ops->oom_open(cg, e);
}

uint64_t husk_cgroup_oom_count(struct husk_cgroup *cg, int fd)
{
	return cg->ops->oom_count(cg, fd);
}

int husk_cgroup_destroy(struct husk_cgroup *cg, struct husk_error *e)
{
	if (!cg)
		return 0; /* as free(NULL): not made yet */
	return cg->ops->destroy(cg, e);
}

size_t husk_cgroup_hierarchies(const struct husk_cgroup *cg, struct husk_cgroup_hier_info *out,
			       size_t max)
{
	return cg->ops->hierarchies(cg, out, max);
}

int husk_cgroup_is_v2(const struct husk_cgroup *cg)
{
	return cg->ops->is_v2(cg);
}

/* ---- the process joins by itself ----
 *
 * A runtime writing the init's pid to cgroup.procs takes the kernel's
 * global threadgroup lock for writing, which waits for an RCU grace
 * period when the lock has been idle: 5-15 ms on a quiet host, more than
 * the rest of a container start.  A single-threaded process moving itself
 * through a v1 "tasks" file ("0") skips that lock, and clone3 with
 * CLONE_INTO_CGROUP places the init in the unified hierarchy at birth.
 * The runtime opens the files, so the write is checked against its
 * credentials even after the init has entered a user namespace.  What the
 * process could not do it reports, and the runtime does it the old way. */

void husk_cgroup_join_open(const struct husk_cgroup *cg, struct husk_cgroup_join *j)
{
	cg->ops->join_open(cg, j);
}

int husk_cgroup_exec_join_open(const struct husk_cgroup *cg, const char *sub, pid_t init,
			       struct husk_cgroup_join *j, struct husk_error *e)
{
	return cg->ops->exec_join_open(cg, sub, init, j, e);
}

void husk_cgroup_join_close(struct husk_cgroup_join *j)
{
	for (size_t i = 0; i < j->n; i++)
		husk_closep(&j->fd[i]);
	husk_closep(&j->v2_dir);
	free(j->fd);
	j->fd = NULL;
	j->n = 0;
}

bool husk_cgroup_join_self(struct husk_cgroup_join *j, bool born_in_v2, char *need)
{
	for (size_t i = 0; i < j->n; i++) {
		bool ok;
		if (j->v2_dir >= 0 && i == j->v2_index) {
			/* clone3 refused: cgroup.procs it is (slow, still right). */
			int fd = born_in_v2 ? -1 : openat(j->v2_dir, "cgroup.procs", O_WRONLY | O_CLOEXEC);
			ok = born_in_v2 || (fd >= 0 && write(fd, "0", 1) == 1);
			if (fd >= 0)
				close(fd);
		} else {
			ok = j->fd[i] >= 0 && write(j->fd[i], "0", 1) == 1;
		}
		need[i] = ok ? '0' : '1';
	}
	need[j->n] = '\0';
	husk_cgroup_join_close(j);
	return j->hold || strchr(need, '1') != NULL;
}

void husk_cgroup_join_free(struct husk_cgroup_join *j)
{
	husk_cgroup_join_close(j);
	husk_strv_free(j->dirs);
	j->dirs = NULL;
	free(j->sub);
	j->sub = NULL;
}

int husk_cgroup_exec_finish(const struct husk_cgroup_join *j, pid_t pid, const char *need,
			    struct husk_error *e)
{
	size_t n = j->dirs ? husk_strv_len(j->dirs) : 0;
	if (!strchr(need, '1'))
		return 0;
	if (strlen(need) != n)
		return husk_err(e, EPROTO, "cgroup: sync: cgroup report of %zu hierarchies, not %zu",
				strlen(need), n);
	char pidbuf[32];
	int len = snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	for (size_t i = 0; i < n; i++) {
		if (need[i] != '1')
			continue;
		_cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", j->dirs[i]);
		if (husk_write_file_at(AT_FDCWD, procs, pidbuf, (size_t)len, e) < 0) {
			if (j->sub)
				husk_err_wrap(e, "--cgroup %s", j->sub);
			else
				husk_err_wrap(e, "join cgroup");
			return husk_err_wrap(e, "cgroup");
		}
	}
	return 1;
}
