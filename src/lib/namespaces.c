#include "namespaces.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rootless.h"
#include "util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* A mount namespace path naming the one husk runs in (or the host's, PID
 * 1's) is no mount namespace of the container's own: building a rootfs
 * there would change the host's mounts and their propagation. */
static bool is_runtimes_mnt_ns(int fd)
{
	struct stat ns, st;
	if (fstat(fd, &ns) < 0)
		return false;
	static const char *const mine[] = { "/proc/self/ns/mnt", "/proc/1/ns/mnt" };
	for (size_t i = 0; i < ARRAY_SIZE(mine); i++)
		if (stat(mine[i], &st) == 0 && st.st_dev == ns.st_dev && st.st_ino == ns.st_ino)
			return true;
	return false;
}

int husk_ns_plan_init(struct husk_ns_plan *p, const struct husk_spec *s, int min_fd,
		      struct husk_error *e)
{
	memset(p, 0, sizeof(*p));
	for (int t = 0; t < HUSK_NS__COUNT; t++)
		p->join_fd[t] = -1;
	for (int t = 0; t < HUSK_NS__COUNT; t++) {
		const struct husk_namespace *ns = &s->namespaces[t];
		if (!ns->present)
			continue;
		if (!ns->path) {
			p->new_flags |= husk_ns_clone_flag(t);
			continue;
		}
		int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			husk_errno(e, "linux.namespaces: %s namespace path %s", husk_ns_spec_name(t),
				   ns->path);
			husk_ns_plan_close(p);
			return -1;
		}
		/* Keep it clear of the fds that --preserve-fds hands over. */
		if (fd < min_fd) {
			int hi = fcntl(fd, F_DUPFD_CLOEXEC, min_fd);
			close(fd);
			if (hi < 0) {
				husk_ns_plan_close(p);
				return husk_errno(e, "dup namespace fd");
			}
			fd = hi;
		}
		p->join_fd[t] = fd;
	}
	p->mnt_is_runtimes = p->join_fd[HUSK_NS_MNT] >= 0 && is_runtimes_mnt_ns(p->join_fd[HUSK_NS_MNT]);
	p->new_user = s->namespaces[HUSK_NS_USER].present && !s->namespaces[HUSK_NS_USER].path;
	p->join_user = p->join_fd[HUSK_NS_USER] >= 0;
	p->any_userns = p->new_user || p->join_user;
	return 0;
}

void husk_ns_plan_close(struct husk_ns_plan *p)
{
	for (int t = 0; t < HUSK_NS__COUNT; t++)
		husk_closep(&p->join_fd[t]);
}

int husk_ns_join(struct husk_ns_plan *p, int types, struct husk_error *e)
{
	/* The user namespace goes first: it grants the rights to join the rest. */
	static const enum husk_ns_type order[] = {
		HUSK_NS_USER, HUSK_NS_IPC, HUSK_NS_UTS, HUSK_NS_NET, HUSK_NS_PID,
		HUSK_NS_CGROUP, HUSK_NS_TIME, HUSK_NS_MNT,
	};
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		enum husk_ns_type t = order[i];
		int flag = husk_ns_clone_flag(t);
		if (p->join_fd[t] < 0 || !(types & flag))
			continue;
		if (setns(p->join_fd[t], flag) < 0)
			return husk_errno(e, "join %s namespace", husk_ns_spec_name(t));
		husk_closep(&p->join_fd[t]);
	}
	return 0;
}

int husk_ns_write_id_map(pid_t pid, const char *file, const struct husk_id_mapping *m, size_t n,
		     struct husk_error *e)
{
	char buf[4096], path[64];
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		int r = snprintf(buf + len, sizeof(buf) - len, "%u %u %u\n", m[i].container_id,
				 m[i].host_id, m[i].size);
		if (r < 0 || (size_t)r >= sizeof(buf) - len)
			return husk_err(e, E2BIG, "%s: too many mappings", file);
		len += (size_t)r;
	}
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	if (husk_write_file_at(AT_FDCWD, path, buf, len, e) < 0)
		return husk_err_wrap(e, "write %s", file);
	return 0;
}

int husk_ns_write_maps(pid_t pid, const struct husk_id_mapping *uids, size_t nu,
		       const struct husk_id_mapping *gids, size_t ng, struct husk_error *e)
{
	/* More than the caller's own id: the setuid helpers, which check the
	 * ranges against /etc/subuid and /etc/subgid. */
	bool unpriv = geteuid() != 0;
	bool uid_helper = unpriv && husk_idmap_needs_helper(uids, nu, false);
	bool gid_helper = unpriv && husk_idmap_needs_helper(gids, ng, true);
	if (unpriv && !gid_helper) {
		/* Unprivileged writers must deny setgroups before gid_map. */
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
		if (husk_write_file_at(AT_FDCWD, path, "deny", 4, e) < 0 && e->errnum != ENOENT)
			return -1;
	}
	if ((uid_helper ? husk_newidmap(pid, uids, nu, false, e)
			: husk_ns_write_id_map(pid, "uid_map", uids, nu, e)) < 0)
		return -1;
	return gid_helper ? husk_newidmap(pid, gids, ng, true, e)
			  : husk_ns_write_id_map(pid, "gid_map", gids, ng, e);
}

int husk_ns_write_id_maps(pid_t pid, const struct husk_spec *s, struct husk_error *e)
{
	return husk_ns_write_maps(pid, s->uid_mappings, s->n_uid_mappings, s->gid_mappings,
				  s->n_gid_mappings, e);
}

int husk_ns_write_time_offsets(const struct husk_spec *s, struct husk_error *e)
{
	char buf[256];
	size_t len = 0;
	if (s->time_monotonic.set)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "monotonic %lld %u\n",
					(long long)s->time_monotonic.secs, s->time_monotonic.nanosecs);
	if (s->time_boottime.set)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "boottime %lld %u\n",
					(long long)s->time_boottime.secs, s->time_boottime.nanosecs);
	if (!len)
		return 0;
	/* One offset per write: the kernel takes one line at a time reliably. */
	char *line = buf;
	while (*line) {
		char *nl = strchr(line, '\n');
		if (husk_write_file_at(AT_FDCWD, "/proc/self/timens_offsets", line,
				       (size_t)(nl - line + 1), e) < 0)
			return husk_err_wrap(e, "linux.timeOffsets");
		line = nl + 1;
	}
	return 0;
}
