/* idmap/ridmap bind mounts.  Idmapping a mount needs CAP_SYS_ADMIN over the
 * source's superblock (the host's user namespace for host filesystems),
 * which the init in its user namespace lacks; and a detached tree made by
 * the runtime cannot be attached inside the container's user namespace.  So
 * the init clones the source itself, hands the detached tree to the runtime
 * over the sync socket, the runtime sets MOUNT_ATTR_IDMAP on it, and the
 * init attaches it as any other bind.  The user namespace is the mount's own
 * uidMappings/gidMappings (a short-lived helper holds it) or else the
 * container's, sent along by the init. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "namespaces.h"
#include "rootfs_internal.h"
#include "sync.h"
#include "sys.h"
#include "util.h"

static bool has_own_mappings(const struct husk_mount *m)
{
	return m->n_uid_mappings || m->n_gid_mappings;
}

static bool opt_is_idmap(const struct husk_mount *m)
{
	for (size_t i = 0; i < m->n_options; i++)
		if (strcmp(m->options[i], "idmap") == 0 || strcmp(m->options[i], "ridmap") == 0)
			return true;
	return false;
}

int rootfs_send_fds(int sock, enum husk_sync_type type, int32_t val, const int *fds, size_t n,
		    struct husk_error *e)
{
	struct husk_sync_msg h = { .type = type, .val = val };
	struct iovec iov = { .iov_base = &h, .iov_len = sizeof(h) };
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = CMSG_SPACE(n * sizeof(int)) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	ssize_t r;
	do
		r = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return husk_errno(e, "sync: send a request for mounts[%d]", (int)val);
	return 0;
}

int rootfs_idmap_tree(struct mnt *t, int tree, struct husk_error *e)
{
	const struct husk_rootfs_ctx *ctx = t->ctx;
	const struct husk_mount *m = t->m;
	if (!!m->n_uid_mappings != !!m->n_gid_mappings)
		return husk_err(e, EINVAL, "idmap: uidMappings and gidMappings go together");
	if (!has_own_mappings(m) && !ctx->in_userns)
		return husk_err(e, EINVAL,
				"idmap: needs uidMappings/gidMappings or a user namespace");
	if (ctx->idmap_sock <= 0)
		return husk_err(e, ENOTSUP, "idmap: not available here");
	int fds[2] = { tree, -1 };
	size_t n = 1;
	_cleanup_fd_ int userns = -1;
	if (!has_own_mappings(m)) {
		userns = ctx->sys->openat(AT_FDCWD, "/proc/self/ns/user", O_RDONLY | O_CLOEXEC, 0);
		if (userns < 0)
			return husk_errno(e, "idmap: open user namespace");
		fds[n++] = userns;
	}
	if (rootfs_send_fds(ctx->idmap_sock, SYNC_IDMAP_REQ, (int32_t)t->index, fds, n, e) < 0)
		return -1;
	if (husk_sync_expect(ctx->idmap_sock, SYNC_IDMAP_REQ, NULL, NULL, e) < 0)
		return husk_err_wrap(e, "idmap");
	return 0;
}

/* --- the runtime's side ---------------------------------------------------- */

/* A user namespace with the mount's mappings, held by a child that waits
 * on a pipe just long enough for the namespace fd to be opened. */
static int helper_userns(const struct husk_sys *sys, const struct husk_mount *m,
			 struct husk_error *e)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return husk_errno(e, "idmap: pipe");
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		husk_errno(e, "idmap: clone user namespace");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		char c;
		close(p[1]);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[0]);
	int fd = -1;
	if (husk_ns_write_id_map(pid, "uid_map", m->uid_mappings, m->n_uid_mappings, e) < 0 ||
	    husk_ns_write_id_map(pid, "gid_map", m->gid_mappings, m->n_gid_mappings, e) < 0) {
		husk_err_wrap(e, "idmap");
	} else {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		fd = sys->openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
		if (fd < 0)
			husk_errno(e, "idmap: open %s", path);
	}
	close(p[1]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return fd;
}

static int apply_idmap(const struct husk_sys *sys, const struct husk_spec *spec, int32_t idx,
		       int tree, int userns, struct husk_error *e)
{
	if (idx < 0 || (size_t)idx >= spec->n_mounts || !opt_is_idmap(&spec->mounts[idx]))
		return husk_err(e, EPROTO, "idmap: bad request for mount %d", idx);
	const struct husk_mount *m = &spec->mounts[idx];
	_cleanup_fd_ int own = -1;
	if (has_own_mappings(m)) {
		own = helper_userns(sys, m, e);
		if (own < 0)
			return -1;
		userns = own;
	} else if (userns < 0) {
		return husk_err(e, EPROTO, "idmap: no user namespace");
	}
	bool rec = false;
	for (size_t i = 0; i < m->n_options; i++) {
		if (strcmp(m->options[i], "ridmap") == 0)
			rec = true;
		else if (strcmp(m->options[i], "idmap") == 0)
			rec = false;
	}
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns };
	if (sys->mount_setattr(tree, "", AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0), &attr,
				    sizeof(attr)) < 0)
		return husk_errno(e, "set the id mapping");
	return 0;
}

/* One request: returns 1 when one was served, 0 when the next message is
 * something else (left in the socket), -1 on a broken socket. */
static int serve_one(const struct husk_sys *sys, int sock, const struct husk_spec *spec,
		     const struct husk_rootfs_box *box, struct husk_error *e)
{
	struct husk_sync_msg h;
	ssize_t r;
	do
		r = recv(sock, &h, sizeof(h), MSG_PEEK);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return husk_errno(e, "sync: receive");
	if ((size_t)r < sizeof(h) ||
	    (h.type != SYNC_IDMAP_REQ && h.type != SYNC_BIND_SRC && h.type != SYNC_ROOT))
		return 0;

	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = &h, .iov_len = sizeof(h) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	do
		r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return husk_errno(e, "sync: receive idmap request");
	int fds[4] = { -1, -1, -1, -1 };
	size_t n = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && n < ARRAY_SIZE(fds); i++)
			memcpy(&fds[n++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	struct husk_error err = { 0 };
	int ok = -1;
	_cleanup_fd_ int tree = -1;
	if (msg.msg_flags & MSG_CTRUNC)
		husk_err(&err, EPROTO, "sync: truncated request");
	else if (n < 1)
		husk_err(&err, EPROTO, "sync: no file descriptor in the request");
	else if (h.type == SYNC_BIND_SRC)
		ok = tree = rootfs_bind_source_clone(sys, spec, h.val, fds[0], &err);
	else if (h.type == SYNC_ROOT)
		ok = tree = rootfs_root_serve(sys, spec, box, fds[0], n > 1 ? fds[1] : -1, &err);
	else
		ok = apply_idmap(sys, spec, h.val, fds[0], n > 1 ? fds[1] : -1, &err);
	for (size_t i = 0; i < n; i++)
		sys->close(fds[i]);
	/* The init reports the failure with its own context. */
	if (ok < 0)
		return husk_sync_send_error(sock, &err) < 0 ? husk_err(e, err.errnum, "%s", err.msg) : 1;
	if (h.type == SYNC_BIND_SRC || h.type == SYNC_ROOT)
		return husk_sync_send_fd(sock, (enum husk_sync_type)h.type, tree, e) < 0 ? -1 : 1;
	return husk_sync_send(sock, SYNC_IDMAP_REQ, 0, NULL, 0, e) < 0 ? -1 : 1;
}

int husk_rootfs_idmap_serve(const struct husk_sys *sys, int sock, const struct husk_spec *spec,
			    const struct husk_rootfs_box *box, struct husk_error *e)
{
	bool any = box || rootfs_bind_source_served(spec);
	for (size_t i = 0; i < spec->n_mounts && !any; i++)
		any = opt_is_idmap(&spec->mounts[i]);
	if (!any)
		return 0;
	int r;
	while ((r = serve_one(sys, sock, spec, box, e)) > 0)
		;
	return r;
}
