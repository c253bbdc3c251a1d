/* The cgroup mount inside the container: the container's own cgroups, never
 * the host's tree.  cgroup2 inside a cgroup namespace is a fresh mount (the
 * namespace's root is the container's cgroup); otherwise each hierarchy's
 * container directory is bound in: v2 straight onto the destination, v1
 * (and hybrid) one per controller on a tmpfs, as runc lays it out. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/statfs.h>

#include "cgroup/cgroup.h"
#include "path.h"
#include "pivot.h"
#include "rootfs_internal.h"
#include "sys.h"
#include "util.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define MAX_HIER 32

/* The bind flags of one hierarchy: the mount's own plus nosuid, nodev and
 * noexec, which a cgroup mount always has. */
static void hier_attr(const struct mnt *t, uint64_t *set, uint64_t *clr)
{
	husk_mount_opts_attr(&t->o, set, clr);
	*set |= MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
	*clr &= ~*set;
}

static int bind_dir(struct mnt *t, const char *dir, int dst, struct husk_error *e)
{
	_cleanup_fd_ int tree =
		t->ctx->sys->open_tree(AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0)
		return husk_errno(e, "bind %s", dir);
	uint64_t set, clr;
	hier_attr(t, &set, &clr);
	return rootfs_attach(t->ctx, tree, dst, set, clr, 0, 0, 0, dir, e);
}

/* "cpu,cpuacct" -> "cpu,cpuacct"; "name=systemd" -> "systemd"; "" (the
 * hybrid host's cgroup2) -> "unified". */
static const char *hier_name(const char *ctrl)
{
	if (!*ctrl)
		return "unified";
	if (strncmp(ctrl, "name=", 5) == 0)
		return ctrl + 5;
	return ctrl;
}

static int mount_v1(struct mnt *t, const struct husk_cgroup_hier_info *h, size_t n,
		    struct husk_error *e)
{
	const struct husk_sys *sys = t->ctx->sys;
	char dst[HUSK_PROCFD_LEN];
	if (sys->mount("tmpfs", husk_procfd(dst, t->dfd), "tmpfs",
			    MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755") < 0)
		return husk_errno(e, "mount tmpfs");
	_cleanup_fd_ int top = rootfs_reopen_top(t, e);
	if (top < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *name = hier_name(h[i].ctrl);
		if (sys->mkdirat(top, name, 0755) < 0 && errno != EEXIST)
			return husk_errno(e, "mkdir %s", name);
		_cleanup_fd_ int sub =
			sys->openat(top, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
		if (sub < 0)
			return husk_errno(e, "open %s", name);
		if (bind_dir(t, h[i].dir, sub, e) < 0)
			return -1;
		/* Co-mounted controllers: cpu -> cpu,cpuacct and the like. */
		if (!strchr(name, ','))
			continue;
		for (const char *c = name; *c;) {
			const char *end = strchrnul(c, ',');
			char link[64];
			snprintf(link, sizeof(link), "%.*s", (int)(end - c), c);
			if (sys->symlinkat(name, top, link) < 0 && errno != EEXIST)
				return husk_errno(e, "symlink %s", link);
			c = *end ? end + 1 : end;
		}
	}
	if ((t->o.flags & MS_RDONLY) && husk_mount_set_ro(sys, top, false, e) < 0)
		return -1;
	return t->o.propagation ? rootfs_set_propagation(sys, top, t->o.propagation, e) : 0;
}

int rootfs_mount_cgroup(struct mnt *t, struct husk_error *e)
{
	const struct husk_rootfs_ctx *ctx = t->ctx;
	const struct husk_cgroup *cg = ctx->cgroup;
	bool cgns = ctx->spec->namespaces[HUSK_NS_CGROUP].present;
	unsigned long flags = t->o.flags & ~(unsigned long)(MS_BIND | MS_REC);
	struct husk_cgroup_hier_info h[MAX_HIER];
	size_t n = husk_cgroup_hierarchies(cg, h, MAX_HIER);
	if (n > MAX_HIER)
		return husk_err(e, E2BIG, "too many cgroup hierarchies");
	int v2 = husk_cgroup_is_v2(cg);
	if (v2 < 0) { /* no cgroup of its own: the host's layout decides */
		struct statfs sf;
		v2 = ctx->sys->statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
	}
	bool want_v2 = v2 || strcmp(t->m->type, "cgroup2") == 0;

	if (want_v2) {
		if (cgns)
			return rootfs_fs_mount(t, "cgroup2", "cgroup2", flags, e);
		for (size_t i = 0; i < n; i++)
			if (!*h[i].ctrl)
				return bind_dir(t, h[i].dir, t->dfd, e);
		if (!v2)
			return husk_err(e, ENOENT, "no cgroup2 hierarchy for the container");
		/* No cgroup of its own (rootless): an empty directory. */
		return rootfs_fs_mount(t, "tmpfs", "tmpfs",
				       flags | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, e);
	}
	return mount_v1(t, h, n, e);
}
