/* Bind sources in a user namespace.  The container's root is an
 * unprivileged uid on the host: a source below a directory only host root
 * may search (a 0700 home, a runtime's state directory) cannot be opened by
 * the init.  So the init asks the runtime, which clones the source with
 * open_tree from a child that entered the init's mount namespace (the
 * source is resolved where the init would resolve it, and the detached
 * tree belongs to that namespace), and the init attaches it as any other
 * bind.  What the mount then shows is the source's own permissions. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rootfs_internal.h"
#include "sync.h"
#include "sys.h"
#include "util.h"

static bool is_bind(const struct husk_mount *m)
{
	if (m->type && strcmp(m->type, "bind") == 0)
		return true;
	for (size_t i = 0; i < m->n_options; i++)
		if (strcmp(m->options[i], "bind") == 0 || strcmp(m->options[i], "rbind") == 0)
			return true;
	return false;
}

/* --- the init's side -------------------------------------------------------- */

static int from_runtime(struct mnt *t, struct husk_error *e)
{
	_cleanup_fd_ int ns = t->ctx->sys->openat(AT_FDCWD, "/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC, 0);
	if (ns < 0)
		return husk_errno(e, "open the mount namespace");
	if (rootfs_send_fds(t->ctx->idmap_sock, SYNC_BIND_SRC, (int32_t)t->index, &ns, 1, e) < 0)
		return -1;
	int tree;
	if (husk_sync_expect_fd(t->ctx->idmap_sock, SYNC_BIND_SRC, &tree, e) < 0)
		return -1;
	return tree;
}

int rootfs_bind_source(struct mnt *t, bool ask_runtime, struct husk_error *e)
{
	if (ask_runtime && t->ctx->in_userns && t->ctx->idmap_sock > 0) {
		t->tree = from_runtime(t, e);
		if (t->tree >= 0)
			return 0;
		/* A runtime that may not enter our mount namespace (rootless):
		 * the init reaches what it can itself. */
		if (e->errnum != EPERM)
			return -1;
		husk_err_clear(e);
	}
	unsigned rec = (t->o.flags & MS_REC) ? AT_RECURSIVE : 0;
	t->tree = t->ctx->sys->open_tree(AT_FDCWD, t->source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec);
	if (t->tree < 0 && errno != ENOSYS)
		return husk_errno(e, "bind %s", t->source);
	return 0;
}

/* --- the runtime's side ----------------------------------------------------- */

bool rootfs_bind_source_served(const struct husk_spec *spec)
{
	if (!spec->namespaces[HUSK_NS_USER].present)
		return false;
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (is_bind(&spec->mounts[i]))
			return true;
	return false;
}

/* In a child: enter mntns, clone, send the tree (or the error) on sock. */
static __attribute__((noreturn)) void clone_in_ns(const struct husk_sys *sys, int sock, int mntns,
						   const char *src, unsigned flags)
{
	struct husk_error e = { 0 };
	if (sys->setns(mntns, CLONE_NEWNS) < 0) {
		husk_errno(&e, "enter the container's mount namespace");
	} else {
		int tree = sys->open_tree(AT_FDCWD, src, flags);
		if (tree < 0)
			husk_errno(&e, "bind %s", src);
		else if (husk_sync_send_fd(sock, SYNC_BIND_SRC, tree, &e) == 0)
			_exit(0);
	}
	husk_sync_send_error(sock, &e);
	_exit(1);
}

int rootfs_bind_source_clone(const struct husk_sys *sys, const struct husk_spec *spec, int32_t idx,
			     int mntns, struct husk_error *e)
{
	if (idx < 0 || (size_t)idx >= spec->n_mounts || !is_bind(&spec->mounts[idx]))
		return husk_err(e, EPROTO, "bind source: bad request for mount %d", idx);
	const struct husk_mount *m = &spec->mounts[idx];
	struct husk_mount_opts o;
	if (husk_mount_opts_parse(m->options, m->n_options, &o, e) < 0)
		return -1;
	unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((o.flags & MS_REC) ? AT_RECURSIVE : 0);
	husk_mount_opts_free(&o);
	if (!m->source)
		return husk_err(e, EINVAL, "bind mount without a source");
	_cleanup_free_ char *src = m->source[0] == '/' ? xstrdup(m->source)
						       : xasprintf("%s/%s", spec->bundle, m->source);
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return husk_errno(e, "bind source: socketpair");
	pid_t pid = fork();
	if (pid == 0) {
		close(sp[0]);
		clone_in_ns(sys, sp[1], mntns, src, flags);
	}
	close(sp[1]);
	int tree = -1;
	if (pid < 0)
		husk_errno(e, "bind source: fork");
	else if (husk_sync_expect_fd(sp[0], SYNC_BIND_SRC, &tree, e) < 0)
		tree = -1;
	close(sp[0]);
	while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return tree;
}
