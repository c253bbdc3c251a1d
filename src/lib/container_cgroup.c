/* pause, resume, ps, events, update: container operations built on its
 * cgroup, found through the state. */
#include "container_cgroup.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "state.h"
#include "util.h"

/* An open, locked container and its cgroup. */
struct opened {
	int rootfd, dirfd;
	struct husk_state *st;
	struct husk_cgroup *cg;
	const char *status;
};

static void opened_close(struct opened *o)
{
	husk_closep(&o->rootfd);
	husk_closep(&o->dirfd);
	husk_state_free(o->st);
	husk_cgroup_free(o->cg);
}

/* live: a stopped container is refused. */
static int open_cg(const struct husk_global_opts *g, const char *id, bool live, struct opened *o,
		   struct husk_error *e)
{
	memset(o, 0, sizeof(*o));
	o->rootfd = o->dirfd = -1;
	if (husk_container_open(g, id, &o->rootfd, &o->dirfd, &o->st, e) < 0)
		return -1;
	o->status = husk_state_status(o->dirfd, o->st);
	if (husk_cgroup_deserialize(o->st->cgroup, &o->cg, e) < 0)
		return -1;
	if (live && !strcmp(o->status, "stopped"))
		return husk_err(e, 0, "container is not running");
	return 0;
}

int husk_container_pause(const struct husk_global_opts *g, const char *id, struct husk_error *e)
{
	struct opened o;
	int r = open_cg(g, id, false, &o, e);
	if (r == 0 && strcmp(o.status, "running") && strcmp(o.status, "created"))
		r = husk_err(e, 0, "cannot pause a container in the %s state", o.status);
	if (r == 0)
		r = husk_cgroup_freeze(o.cg, true, e);
	opened_close(&o);
	return r;
}

int husk_container_resume(const struct husk_global_opts *g, const char *id, struct husk_error *e)
{
	struct opened o;
	int r = open_cg(g, id, false, &o, e);
	if (r == 0 && strcmp(o.status, "paused"))
		r = husk_err(e, 0, "container is not paused (%s)", o.status);
	if (r == 0)
		r = husk_cgroup_freeze(o.cg, false, e);
	opened_close(&o);
	return r;
}

int husk_container_pids(const struct husk_global_opts *g, const char *id, pid_t **pids, size_t *n,
			struct husk_error *e)
{
	struct opened o;
	*pids = NULL;
	*n = 0;
	int r = open_cg(g, id, false, &o, e);
	if (r == 0 && o.st->mnt_ns_id)
		*n = husk_state_mount_ns_pids(o.st, pids); /* no cgroup: its mount namespace */
	else if (r == 0)
		r = husk_cgroup_pids(o.cg, pids, n, e);
	/* A stopped container lists what is left in its cgroup (nothing,
	 * unless its processes escaped the init's death), as runc's ps. */
	if (r < 0 && o.status && !strcmp(o.status, "stopped") && e->errnum == ENOENT)
		r = 0;
	opened_close(&o);
	return r;
}

static int print_event(FILE *out, const char *type, const char *id, json_t *data)
{
	json_t *ev = json_pack("{s:s, s:s}", "type", type, "id", id);
	if (data)
		json_object_set_new(ev, "data", data);
	char *s = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	if (!s)
		return -1;
	int r = fprintf(out, "%s\n", s) < 0 || fflush(out) ? -1 : 0;
	free(s);
	return r;
}

int husk_container_events(const struct husk_global_opts *g, const char *id, bool once,
			  unsigned interval_ms, FILE *out, struct husk_error *e)
{
	struct opened o;
	if (open_cg(g, id, true, &o, e) < 0) {
		opened_close(&o);
		return -1;
	}
	/* The lock stays only for the first read: others must be able to
	 * delete the container while events watches it. */
	json_t *stats;
	if (husk_cgroup_stats(o.cg, &stats, e) < 0) {
		opened_close(&o);
		return -1;
	}
	if (once) {
		int r = print_event(out, "stats", id, stats);
		opened_close(&o);
		return r < 0 ? husk_errno(e, "write event") : 0;
	}
	husk_closep(&o.dirfd);
	husk_closep(&o.rootfd);
	json_decref(stats);
	struct husk_error oe;
	int oomfd = husk_cgroup_oom_open(o.cg, &oe);
	int pidfd = (int)syscall(SYS_pidfd_open, o.st->pid, 0);
	if (pidfd >= 0 && husk_proc_starttime(o.st->pid, NULL) != o.st->pid_start)
		husk_closep(&pidfd);
	int r = 0;
	uint64_t next = husk_now_ns();
	for (;;) {
		uint64_t now = husk_now_ns();
		if (now >= next) {
			husk_cgroup_stats(o.cg, &stats, e);
			if (print_event(out, "stats", id, stats) < 0) {
				r = husk_errno(e, "write event");
				break;
			}
			next = now + (uint64_t)interval_ms * 1000000u;
		}
		struct pollfd p[2] = { { .fd = oomfd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
		int timeout = (int)((next - now) / 1000000u) + 1;
		int n = poll(p, 2, timeout);
		if (n < 0 && errno != EINTR) {
			r = husk_errno(e, "poll");
			break;
		}
		bool exited = n > 0 && (p[1].revents & (POLLIN | POLLHUP));
		/* v2 memory.events notifications are rate-limited: an OOM that
		 * killed the init may not have been signalled yet, so look once
		 * more when it exits */
		if (oomfd >= 0 && ((n > 0 && (p[0].revents & POLLIN)) || exited)) {
			uint64_t k = husk_cgroup_oom_count(o.cg, oomfd);
			for (uint64_t i = 0; i < k; i++)
				if (print_event(out, "oom", id, NULL) < 0)
					break;
		}
		if (exited)
			break; /* the container's init exited */
		if (pidfd < 0 && husk_proc_starttime(o.st->pid, NULL) != o.st->pid_start)
			break;
	}
	husk_closep(&oomfd);
	husk_closep(&pidfd);
	opened_close(&o);
	return r;
}

int husk_container_update(const struct husk_global_opts *g, const char *id,
			  const struct husk_resources *changes,
			  struct husk_error *e)
{
	struct opened o;
	int r = open_cg(g, id, true, &o, e);
	if (r == 0)
		r = husk_cgroup_update(o.cg, changes, e);
	if (r == 0) {
		/* the new values go into the state so that later updates
		 * (and v2 conversions) build on them */
		free(o.st->cgroup);
		o.st->cgroup = husk_cgroup_serialize(o.cg);
		r = husk_state_write(o.dirfd, o.st, e);
	}
	opened_close(&o);
	return r;
}
