/* The delegated cgroup v2 subtree of a rootless caller, found in a tree
 * made here (as root: the test chowns what the "user" owns): the highest
 * cgroup below the mount that the user owns with its cgroup.procs and
 * cgroup.subtree_control writable, never the mount's root, never the
 * caller's own cgroup (no internal processes); and the limits of a
 * controller a subtree does not offer, cleared. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "cgroup/cgroup_internal.h"
#include "tap.h"
#include "util.h"

#define USER 54321

static char base[256];

/* A cgroup directory rel: owner uid for the directory and its files,
 * files mode 0644 but subtree_control's mode sc_mode. */
static void cg(const char *rel, uid_t dir_uid, uid_t procs_uid, mode_t sc_mode)
{
	char p[PATH_MAX], f[PATH_MAX + 32];
	snprintf(p, sizeof(p), "%s/%s", base, rel);
	if (mkdir(p, 0755) < 0 || chown(p, dir_uid, dir_uid) < 0)
		ok(false, "mkdir %s: %s", p, strerror(errno));
	static const char *const files[] = { "cgroup.procs", "cgroup.subtree_control" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(f, sizeof(f), "%s/%s", p, files[i]);
		bool sc = i == 1;
		int fd = open(f, O_WRONLY | O_CREAT | O_CLOEXEC, sc ? sc_mode : 0644);
		if (fd < 0 || fchown(fd, sc ? dir_uid : procs_uid, sc ? dir_uid : procs_uid) < 0 ||
		    fchmod(fd, sc ? sc_mode : 0644) < 0)
			ok(false, "create %s", f);
		if (fd >= 0)
			close(fd);
	}
}

static void mine(const char *rel)
{
	cg(rel, USER, USER, 0644);
}

static void roots(const char *rel)
{
	cg(rel, 0, 0, 0644);
}

static void find(int mfd, const char *own, const char *want, const char *what)
{
	char *got = NULL;
	int r = husk_cg_delegated_find(mfd, own, USER, &got);
	ok(want ? r == 1 && got && strcmp(got, want) == 0 : r == 0 && !got, "%s", what);
	if (want ? r != 1 || !got || strcmp(got, want) : r != 0) {
		printf("# own %s: r=%d got %s want %s\n", own, r, got ? got : "(none)",
		       want ? want : "(none)");
	}
	free(got);
}

static void test_find(void)
{
	_cleanup_fd_ int mfd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
	/* systemd's shape: user.slice/user-N.slice root's, user@N.service
	 * and below the user's. */
	roots("user.slice");
	roots("user.slice/u.slice");
	mine("user.slice/u.slice/svc");
	mine("user.slice/u.slice/svc/app.slice");
	mine("user.slice/u.slice/svc/app.slice/x.scope");
	find(mfd, "/user.slice/u.slice/svc/app.slice/x.scope", "user.slice/u.slice/svc",
	     "the highest owned ancestor, not the caller's own cgroup");
	find(mfd, "/user.slice/u.slice/svc/app.slice", "user.slice/u.slice/svc",
	     "one level below it");
	find(mfd, "/user.slice/u.slice/svc", NULL, "the caller in the delegated cgroup itself: none");
	find(mfd, "/user.slice/u.slice", NULL, "nothing owned above: none");
	find(mfd, "/", NULL, "the caller in the root: none");
	find(mfd, "/user.slice/../../x", NULL, "a path outside the namespace's root: none");

	/* The mount's root is never a delegated subtree, even when owned. */
	if (chown(base, USER, USER) < 0)
		ok(false, "chown %s", base);
	roots("other");
	mine("other/leaf");
	find(mfd, "/other/leaf", NULL, "an owned mount root is not a subtree; the caller in its own");
	mine("other/leaf/sub");
	find(mfd, "/other/leaf/sub", "other/leaf", "below a root-owned cgroup, the owned one");

	/* The directory alone is not enough: its files must be the user's. */
	roots("half");
	cg("half/procs", USER, 0, 0644);
	mine("half/procs/d");
	mine("half/procs/d/leaf");
	find(mfd, "/half/procs/d/leaf", "half/procs/d", "cgroup.procs root's: not delegated");
	cg("half/ro", USER, USER, 0444);
	mine("half/ro/d");
	mine("half/ro/d/leaf");
	find(mfd, "/half/ro/d/leaf", "half/ro/d", "cgroup.subtree_control read-only: not delegated");

	/* Owned higher up, a root-owned one between: the highest is the
	 * common ancestor whose cgroup.procs the move needs. */
	mine("gap");
	roots("gap/root");
	mine("gap/root/leaf");
	find(mfd, "/gap/root/leaf", "gap", "the highest owned, across a root-owned one");
	find(mfd, "/nope/x", NULL, "a cgroup that does not exist: none");
}

static void test_drop(void)
{
	struct husk_resources r = { .set = true };
	r.memory = (struct husk_res_memory){ .set = true, .limit = { true, 64 << 20 } };
	r.pids = (struct husk_res_pids){ .set = true, .limit = { true, 50 } };
	r.cpu = (struct husk_res_cpu){ .set = true, .quota = { true, 50000 }, .cpus = xstrdup("0") };
	husk_cgroup_resources_drop(&r, "memory");
	ok(!r.memory.set && !r.memory.limit.set && r.pids.set, "memory dropped, pids kept");
	husk_cgroup_resources_drop(&r, "cpu");
	ok(r.cpu.set && !r.cpu.quota.set && r.cpu.cpus && !strcmp(r.cpu.cpus, "0"),
	   "cpu dropped, cpuset's cpus kept");
	husk_cgroup_resources_drop(&r, "pids");
	ok(!r.pids.set, "pids dropped");
	husk_resources_free(&r);
}

int main(void)
{
	test_drop();
	if (geteuid() != 0) {
		printf("ok %d # SKIP the tree's owners need root (chown)\n", ++tap_n);
		return tap_done();
	}
	snprintf(base, sizeof(base), "/tmp/husk-cgdeleg-XXXXXX");
	if (!mkdtemp(base)) {
		ok(false, "mkdtemp");
		return tap_done();
	}
	test_find();
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd) != 0)
		ok(false, "rm %s", base);
	return tap_done();
}
