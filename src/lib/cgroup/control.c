/* Operations on a live container's cgroup: freeze/thaw, signal all,
 * OOM notification, the v2 directory fd for clone3. */
#include "cgroup/cgroup.h"
#include "cgroup/cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define FREEZE_TIMEOUT_MS 5000

static void sleep_ms(unsigned ms)
{
	usleep(ms * 1000);
}

/* "FROZEN", "FREEZING", "THAWED" or v2's "0"/"1" (first line) of file
 * in the directory dfd. */
static int read_word(int dfd, const char *file, char *buf, size_t len)
{
	_cleanup_fd_ int fd = openat(dfd, file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = husk_read_all(fd, buf, len - 1);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static bool v2_events_frozen(int dfd)
{
	_cleanup_free_ char *text = NULL;
	struct husk_error ignored;
	if (husk_read_file_at(dfd, "cgroup.events", &text, NULL, &ignored) < 0)
		return false;
	return strstr(text, "frozen 1") != NULL;
}

int husk_cgfs_freeze(struct husk_cgroup *cg, bool freeze, struct husk_error *e)
{
	bool v2;
	struct hier *h = husk_cg_locate(cg, CG_FREEZER, &v2);
	if (!h)
		return husk_err(e, 0, "the host has no freezer cgroup");
	const char *f = v2 ? "cgroup.freeze" : "freezer.state";
	const char *want = v2 ? (freeze ? "1" : "0") : (freeze ? "FROZEN" : "THAWED");
	_cleanup_fd_ int dfd = husk_cg_hier_open(h, O_PATH);
	if (dfd < 0)
		husk_errno(e, "open %s/%s", h->dir, f);
	if (dfd < 0 || husk_cg_write_at(cg, dfd, h->dir, f, want, e) < 0)
		return husk_err_wrap(e, freeze ? "freeze" : "thaw");
	if (!freeze)
		return 0;
	/* Freezing completes asynchronously; a task in an uninterruptible
	 * sleep holds it up, and writing FROZEN again retries it. */
	unsigned waited = 0, step = 1;
	for (;;) {
		char st[32];
		if (v2 ? v2_events_frozen(dfd) : (read_word(dfd, "freezer.state", st, sizeof(st)) == 0 &&
						   !strcmp(st, "FROZEN")))
			return 0;
		if (waited >= FREEZE_TIMEOUT_MS)
			break;
		sleep_ms(step);
		waited += step;
		if (step < 50)
			step *= 2;
		if (!v2)
			husk_cg_write_at(cg, dfd, h->dir, f, want, e);
	}
	struct husk_error ignored;
	husk_cg_write_at(cg, dfd, h->dir, f, v2 ? "0" : "THAWED", &ignored);
	return husk_err(e, ETIMEDOUT, "freeze: the cgroup did not freeze");
}

bool husk_cgfs_frozen(struct husk_cgroup *cg)
{
	bool v2;
	struct hier *h = husk_cg_locate(cg, CG_FREEZER, &v2);
	char st[32];
	_cleanup_fd_ int dfd = h ? husk_cg_hier_open(h, O_PATH) : -1;
	if (dfd < 0 || read_word(dfd, v2 ? "cgroup.freeze" : "freezer.state", st, sizeof(st)) < 0)
		return false;
	return v2 ? !strcmp(st, "1") : (!strcmp(st, "FROZEN") || !strcmp(st, "FREEZING"));
}

/* v1: freezer.state says FROZEN or FREEZING for a cgroup below a frozen
 * one too; v2: cgroup.freeze is the cgroup's own setting, cgroup.events
 * "frozen 1" also a frozen parent's. */
static bool hier_frozen(const struct hier *h)
{
	char st[32];
	bool v1 = husk_cg_ctrl_has(h->ctrl, "freezer");
	if (!v1 && *h->ctrl)
		return false;
	_cleanup_fd_ int dfd = husk_cg_hier_open(h, O_PATH);
	if (dfd < 0)
		return false;
	if (v1)
		return read_word(dfd, "freezer.state", st, sizeof(st)) == 0 &&
		       (!strcmp(st, "FROZEN") || !strcmp(st, "FREEZING"));
	return (read_word(dfd, "cgroup.freeze", st, sizeof(st)) == 0 && !strcmp(st, "1")) ||
	       v2_events_frozen(dfd);
}

int husk_cgfs_check_reused(struct husk_cgroup *cg, struct husk_error *e)
{
	for (size_t i = 0; i < cg->n; i++)
		if (hier_frozen(&cg->h[i]))
			return husk_err(e, 0, "%s is frozen: the container could not start in it "
					      "(thaw it, or use another cgroupsPath)", cg->h[i].dir);
	pid_t *pids = NULL;
	size_t n = 0;
	struct husk_error ignored;
	if (cg->n && husk_cgfs_pids(cg, &pids, &n, &ignored) == 0 && n > 0) {
		const struct hier *h = &cg->h[0];
		husk_warn("cgroup %s already has %zu process%s: the container shares its limits with "
			  "them, and kill --all reaches them too",
			  *(h->dir + strlen(h->mountpoint)) ? h->dir + strlen(h->mountpoint) : "/", n,
			  n == 1 ? "" : "es");
	}
	free(pids);
	return 0;
}

static bool empty(struct husk_cgroup *cg)
{
	pid_t *pids = NULL;
	size_t n = 0;
	struct husk_error ignored;
	if (husk_cgfs_pids(cg, &pids, &n, &ignored) < 0)
		return true;
	free(pids);
	return n == 0;
}

int husk_cgfs_kill(struct husk_cgroup *cg, int sig, bool wait_gone, struct husk_error *e)
{
	bool v2;
	struct hier *core = husk_cg_locate(cg, CG_CORE, &v2);
	bool was_frozen = husk_cgfs_frozen(cg), done = false;
	struct husk_error fe;
	if (sig == SIGKILL && core) {
		/* cgroup.kill (5.14+): the kernel kills every process,
		 * including ones forking meanwhile. */
		_cleanup_fd_ int dfd = husk_cg_hier_open(core, O_PATH);
		done = dfd >= 0 && faccessat(dfd, "cgroup.kill", F_OK, 0) == 0 &&
		       husk_cg_write_at(cg, dfd, core->dir, "cgroup.kill", "1", &fe) == 0;
	}
	bool froze = false;
	if (!done) {
		/* Frozen, no process can fork out from under us. */
		froze = !was_frozen && husk_cgfs_freeze(cg, true, &fe) == 0;
		pid_t *pids = NULL;
		size_t n = 0;
		if (husk_cgfs_pids(cg, &pids, &n, e) < 0) {
			if (froze)
				husk_cgfs_freeze(cg, false, &fe);
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			kill(pids[i], sig);
		free(pids);
	}
	/* v1 frozen tasks do not die until thawed; a paused container stays
	 * paused for other signals. */
	if (froze || (was_frozen && sig == SIGKILL))
		husk_cgfs_freeze(cg, false, &fe);
	if (!wait_gone)
		return 0;
	for (unsigned waited = 0, step = 1; !empty(cg); waited += step) {
		if (waited >= 10000)
			return husk_err(e, ETIMEDOUT, "wait for the container's processes to exit");
		sleep_ms(step);
		if (step < 50)
			step *= 2;
	}
	return 0;
}

/* ---- OOM events ---- */

static uint64_t v2_oom_kills(const struct hier *h)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_fd_ int dfd = husk_cg_hier_open(h, O_PATH);
	struct husk_error ignored;
	if (dfd < 0 || husk_read_file_at(dfd, "memory.events", &text, NULL, &ignored) < 0)
		return 0;
	const char *p = strstr(text, "oom_kill ");
	return p ? strtoull(p + 9, NULL, 10) : 0;
}

static uint64_t oom_seen; /* v2: oom_kill count already reported */

int husk_cgfs_oom_open(struct husk_cgroup *cg, struct husk_error *e)
{
	bool v2;
	struct hier *h = husk_cg_locate(cg, CG_MEMORY, &v2);
	if (!h)
		return husk_err(e, 0, "the host has no memory cgroup");
	if (v2) {
		int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		if (fd < 0)
			return husk_errno(e, "inotify");
		/* (inotify watches a path: there is no inotify_add_watch_at) */
		_cleanup_free_ char *f = xasprintf("%s/memory.events", h->dir);
		if (inotify_add_watch(fd, f, IN_MODIFY) < 0) {
			close(fd);
			return husk_errno(e, "watch %s", f);
		}
		oom_seen = v2_oom_kills(h);
		return fd;
	}
	/* v1: an eventfd registered for memory.oom_control */
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		return husk_errno(e, "eventfd");
	_cleanup_fd_ int dfd = husk_cg_hier_open(h, O_PATH);
	_cleanup_fd_ int ofd = dfd < 0 ? -1 : openat(dfd, "memory.oom_control", O_RDONLY | O_CLOEXEC);
	char buf[64];
	snprintf(buf, sizeof(buf), "%d %d", efd, ofd);
	if (ofd < 0 || husk_cg_write_at(cg, dfd, h->dir, "cgroup.event_control", buf, e) < 0) {
		if (ofd < 0)
			husk_errno(e, "open %s/memory.oom_control", h->dir);
		close(efd);
		return -1;
	}
	return efd;
}

uint64_t husk_cgfs_oom_count(struct husk_cgroup *cg, int fd)
{
	bool v2;
	struct hier *h = husk_cg_locate(cg, CG_MEMORY, &v2);
	if (!h)
		return 0;
	if (v2) {
		char buf[4096];
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		uint64_t now = v2_oom_kills(h);
		uint64_t d = now > oom_seen ? now - oom_seen : 0;
		oom_seen = now;
		return d;
	}
	uint64_t cnt = 0;
	if (read(fd, &cnt, sizeof(cnt)) != sizeof(cnt))
		return 0;
	/* the eventfd also fires when the cgroup is removed */
	_cleanup_fd_ int dfd = husk_cg_hier_open(h, O_PATH);
	if (dfd < 0)
		return 0;
	return cnt;
}
