/* A rootless container's cgroup in its caller's delegated cgroup v2
 * subtree, as podman and crun use one without systemd: the highest
 * ancestor of the caller's own cgroup that the caller owns (systemd's
 * user@UID.service, or one an administrator chowned).  The container's
 * cgroup is made directly below it, so that the move from the caller's
 * cgroup needs write access only to cgroup.procs files the caller owns
 * (the kernel checks the common ancestor's), and the controllers it
 * offers are enabled in its cgroup.subtree_control. */
#include "cgroup/cgroup.h"
#include "cgroup/cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* Is the cgroup rel (below the mount mfd) delegated to uid: the directory
 * and the files that matter for moving processes and enabling
 * controllers its own, and writable by it? */
static bool owned(int mfd, const char *rel, uid_t uid)
{
	struct stat st;
	if (fstatat(mfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != uid)
		return false;
	static const char *const files[] = { "cgroup.procs", "cgroup.subtree_control" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char f[PATH_MAX];
		if (snprintf(f, sizeof(f), "%s/%s", rel, files[i]) >= (int)sizeof(f) ||
		    fstatat(mfd, f, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_uid != uid ||
		    !(st.st_mode & S_IWUSR))
			return false;
	}
	return true;
}

int husk_cg_delegated_find(int mfd, const char *own, uid_t uid, char **out)
{
	struct husk_error e;
	_cleanup_free_ char *p = NULL;
	if (husk_cg_clean_path(own, &p, &e) < 0 || !*p) {
		husk_debug("rootless: own cgroup \"%s\": no delegated subtree above it", own);
		return 0;
	}
	/* Top-down: the first cgroup below the root the caller owns. */
	size_t len = strlen(p);
	for (size_t i = 0; i <= len; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		bool mine = owned(mfd, p, uid);
		if (mine && i == len) {
			/* cgroup v2's no-internal-process rule: with the caller
			 * in it, it may enable no controllers for children. */
			husk_debug("rootless: the caller lives in its delegated cgroup %s itself", p);
			return 0;
		}
		if (mine) {
			*out = xstrdup(p);
			return 1;
		}
		if (i < len)
			p[i] = '/';
	}
	husk_debug("rootless: no cgroup above /%s is delegated to uid %u", p, (unsigned)uid);
	return 0;
}

/* The unified mount of layout l and the caller's cgroup below it; false
 * when there is none (a v1 host, a cgroup outside the mount). */
static bool own_unified(const struct husk_cg_layout *l, const struct cg_mount **m, char *own,
			size_t len)
{
	*m = NULL;
	for (size_t i = 0; i < l->n && !*m; i++)
		if (!*l->m[i].ctrl)
			*m = &l->m[i];
	_cleanup_free_ char *text = NULL;
	struct husk_error ignored;
	if (!*m || husk_read_file_at(AT_FDCWD, "/proc/self/cgroup", &text, NULL, &ignored) < 0)
		return false;
	char buf[PATH_MAX];
	const char *o = husk_cg_own_cgroup(text, "", buf, sizeof(buf));
	size_t rl = strlen((*m)->root);
	if (!o)
		return false;
	/* Mounted from a subtree (nested runtimes): strip its root. */
	if (strcmp((*m)->root, "/") != 0) {
		if (strncmp(o, (*m)->root, rl) != 0 || (o[rl] && o[rl] != '/'))
			return false;
		o += rl;
	}
	return snprintf(own, len, "%s", *o ? o : "/") < (int)len;
}

/* The delegated cgroup's controllers: each limit's controller must be
 * there, and on pure v2 they are all enabled for the container's cgroup,
 * as the cgroupfs manager does from the root (stats files). */
static void delegated_controllers(struct husk_cgroup *cg, const char *deleg)
{
	_cleanup_free_ char *f = xasprintf("%s/cgroup.controllers", deleg);
	struct husk_error e2;
	if (husk_read_file_at(AT_FDCWD, f, &cg->v2_avail, NULL, &e2) < 0)
		cg->v2_avail = xstrdup("");
	cg->v2_avail[strcspn(cg->v2_avail, "\n")] = '\0';
	if (cg->layout == CG_V2 && *cg->v2_avail && husk_cg_v2_enable(&cg->h[0], cg->v2_avail, &e2) < 0) {
		char why[HUSK_ERR_MSG_MAX + 64];
		husk_debug("%s", husk_err_str(&e2, why, sizeof(why)));
	}
}

int husk_cg_delegated_create(const struct husk_cg_layout *host, const struct husk_spec *spec,
			     const char *id, struct husk_cgroup **out, struct husk_error *e)
{
	struct husk_cg_layout l = *host;
	if (!host->n && husk_cg_layout_read(&l, true, e) < 0)
		return -1;
	const struct cg_mount *m;
	char own[PATH_MAX];
	_cleanup_free_ char *d = NULL;
	int r = 0;
	if (own_unified(&l, &m, own, sizeof(own))) {
		_cleanup_fd_ int mfd = open(m->mountpoint, O_PATH | O_DIRECTORY | O_CLOEXEC);
		r = mfd < 0 ? 0 : husk_cg_delegated_find(mfd, own, geteuid(), &d);
	}
	struct husk_cgroup *cg = NULL;
	if (r == 1) {
		cg = husk_cg_alloc(&husk_cgroup_cgroupfs, l.kind, 1);
		cg->sys = host->sys;
		struct hier *h = &cg->h[cg->n++];
		h->ctrl = xstrdup("");
		h->mountpoint = xstrdup(m->mountpoint);
		cg->delegate = xasprintf("%s/%s", m->mountpoint, d);
		/* One level below: its own removal takes nothing shared. */
		h->dir = xasprintf("%s/husk-%s", cg->delegate, id);
		husk_debug("rootless: cgroup %s in the delegated subtree", h->dir);
		if (husk_cgfs_make_dirs(cg, h, strlen(cg->delegate), e) < 0) {
			husk_cgroup_free(cg);
			r = -1;
		}
	}
	if (!host->n)
		husk_cg_layout_free(&l);
	if (r != 1)
		return r;
	delegated_controllers(cg, cg->delegate);
	/* Device rules are for root to set; the user namespace keeps
	 * devices out of reach. */
	cg->no_device_rules = true;
	cg->dev_skip = husk_cgfs_device_skip(spec);
	*out = cg;
	return 1;
}

const char *husk_cgroup_undelegated(struct husk_cgroup *cg, const char *controller)
{
	if (!cg->delegate)
		return NULL;
	for (int c = 0; c < CG__COUNT; c++) {
		bool v2;
		if (husk_cg_v2_name[c] && !strcmp(husk_cg_v2_name[c], controller))
			return husk_cg_locate(cg, (enum cg_ctrl)c, &v2) ? NULL : cg->delegate;
	}
	return cg->delegate;
}

void husk_cgroup_resources_drop(struct husk_resources *res, const char *controller)
{
	if (!strcmp(controller, "memory")) {
		memset(&res->memory, 0, sizeof(res->memory));
	} else if (!strcmp(controller, "pids")) {
		memset(&res->pids, 0, sizeof(res->pids));
	} else if (!strcmp(controller, "cpu")) {
		/* cpus and mems are cpuset's */
		char *cpus = res->cpu.cpus, *mems = res->cpu.mems;
		memset(&res->cpu, 0, sizeof(res->cpu));
		res->cpu.cpus = cpus;
		res->cpu.mems = mems;
		res->cpu.set = cpus || mems;
	}
}
