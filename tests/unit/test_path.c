/* Unit tests (TAP) for path.c: resolution inside a root, creation of
 * missing components, the /proc guard.  (The rootfs code's mount sequence
 * is in test_rootfs.c.)  No root needed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "path.h"
#include "sys.h"
#include "util.h"
#include "tap.h"
#include "tree.h"

static char base[] = "/tmp/husk-test-path-XXXXXX";
static char root[1024];
static int rootfd = -1;
static const struct husk_sys *const sys = &husk_sys_real;

static void mk(const char *rel, mode_t type, const char *target)
{
	tree_mk(root, rel, type, target);
}

static bool exists_in_root(const char *rel, mode_t type)
{
	return tree_has(root, rel, type);
}

/* Same inode as root/rel (lstat)? */
static bool same(int fd, const char *rel)
{
	char p[PATH_MAX];
	struct stat a, b;
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (fd < 0 || fstat(fd, &a) < 0 || lstat(p, &b) < 0)
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void setup(void)
{
	if (!mkdtemp(base)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		exit(1);
	}
	snprintf(root, sizeof(root), "%s/root", base);
	mkdir(root, 0755);
	mk("a", S_IFDIR, NULL);
	mk("a/b", S_IFDIR, NULL);
	mk("a/b/c", S_IFDIR, NULL);
	mk("a/file", S_IFREG, NULL);
	mk("abs", S_IFLNK, "/a/b");
	mk("rel", S_IFLNK, "a/b");
	mk("a/b/up", S_IFLNK, "../../../../../a");
	mk("chain1", S_IFLNK, "chain2");
	mk("chain2", S_IFLNK, "/abs");
	mk("loop1", S_IFLNK, "loop2");
	mk("loop2", S_IFLNK, "/loop1");
	mk("esc", S_IFLNK, "/../../../etc");
	mk("escrel", S_IFLNK, "../../../../../../tmp");
	mk("dangling", S_IFLNK, "/made/here");
	mk("tofile", S_IFLNK, "a/file");
	mk("magic", S_IFLNK, "/proc/self/root");
	mk("proc", S_IFDIR, NULL);
	mk("procl", S_IFLNK, "/proc");
	/* a sibling outside the root that escapes must never reach */
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/outside", base);
	mkdir(p, 0755);
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static void test_resolve(int mode)
{
	const char *m = mode ? "walk" : "openat2";
	static const struct {
		const char *path, *expect;
	} t[] = {
		{ "/a/b/c", "a/b/c" },
		{ "a/b/c", "a/b/c" },
		{ "/abs", "a/b" },
		{ "/abs/c", "a/b/c" },
		{ "/rel/c", "a/b/c" },
		{ "/chain1/c", "a/b/c" },
		{ "/a/b/up/b", "a/b" },
		{ "/../../a/./b//c/", "a/b/c" },
		{ "/a/b/c/../../../../..", "" },
		{ "/esc", "" },       /* target /etc does not exist in the root */
		{ "/escrel", "" },
		{ "/tofile", "a/file" },
		{ "/", "" },
		{ "", "" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		int fd = husk_path_open(sys, rootfd, t[i].path, mode, 0);
		if (strcmp(t[i].path, "/esc") == 0 || strcmp(t[i].path, "/escrel") == 0) {
			/* /esc -> /etc and escrel -> /tmp: missing inside the root */
			ok(fd == -ENOENT, "%s: %s stays inside (ENOENT), got %d", m, t[i].path, fd);
		} else {
			ok(same(fd, t[i].expect), "%s: %s resolves to /%s", m, t[i].path, t[i].expect);
		}
		if (fd >= 0)
			close(fd);
	}
	int fd = husk_path_open(sys, rootfd, "/loop1", mode, 0);
	ok(fd == -ELOOP, "%s: symlink loop is ELOOP (%d)", m, fd);
	fd = husk_path_open(sys, rootfd, "/a/file/x", mode, 0);
	ok(fd == -ENOTDIR, "%s: component under a file is ENOTDIR (%d)", m, fd);
	fd = husk_path_open(sys, rootfd, "/missing", mode, 0);
	ok(fd == -ENOENT, "%s: missing is ENOENT", m);
	fd = husk_path_open(sys, rootfd, "/abs", mode | HUSK_PATH_NOFOLLOW, 0);
	struct stat st;
	ok(fd >= 0 && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode), "%s: NOFOLLOW gives the link", m);
	if (fd >= 0)
		close(fd);
	fd = husk_path_open(sys, rootfd, "/abs/c", mode | HUSK_PATH_NOFOLLOW, 0);
	ok(same(fd, "a/b/c"), "%s: NOFOLLOW follows links before the last component", m);
	if (fd >= 0)
		close(fd);
	fd = husk_path_open(sys, rootfd, "/magic/etc", mode, 0);
	ok(fd < 0, "%s: /proc/self/root-style link does not reach the host (%d)", m, fd);
	if (fd >= 0)
		close(fd);
}

static void test_create(int mode)
{
	const char *m = mode ? "walk" : "openat2";
	char p[64];
	snprintf(p, sizeof(p), "/new-%s/x/y", m);
	int fd = husk_path_open(sys, rootfd, p, mode | HUSK_PATH_MKDIR, 0700);
	snprintf(p, sizeof(p), "new-%s/x/y", m);
	struct stat st;
	char full[PATH_MAX];
	snprintf(full, sizeof(full), "%s/%s", root, p);
	ok(same(fd, p) && stat(full, &st) == 0 && (st.st_mode & 07777) == 0700,
	   "%s: mkdir -p inside the root", m);
	if (fd >= 0)
		close(fd);

	snprintf(p, sizeof(p), "/esc/made-%s", m);
	fd = husk_path_open(sys, rootfd, p, mode | HUSK_PATH_MKDIR, 0755);
	snprintf(p, sizeof(p), "etc/made-%s", m);
	ok(same(fd, p), "%s: creation through an escaping symlink lands inside the root", m);
	if (fd >= 0)
		close(fd);
	snprintf(p, sizeof(p), "/escrel/made-%s", m);
	fd = husk_path_open(sys, rootfd, p, mode | HUSK_PATH_MKDIR, 0755);
	snprintf(p, sizeof(p), "tmp/made-%s", m);
	ok(same(fd, p), "%s: relative ../ escape lands inside the root", m);
	if (fd >= 0)
		close(fd);

	snprintf(p, sizeof(p), "/dangling/%s", m);
	fd = husk_path_open(sys, rootfd, p, mode | HUSK_PATH_MKDIR, 0755);
	snprintf(p, sizeof(p), "made/here/%s", m);
	ok(same(fd, p), "%s: dangling symlink target created inside the root", m);
	if (fd >= 0)
		close(fd);

	snprintf(p, sizeof(p), "/files-%s/d/f", m);
	fd = husk_path_open(sys, rootfd, p, mode | HUSK_PATH_MKFILE, 0640);
	snprintf(p, sizeof(p), "files-%s/d/f", m);
	ok(same(fd, p) && exists_in_root(p, S_IFREG), "%s: MKFILE creates a file leaf", m);
	if (fd >= 0)
		close(fd);

	fd = husk_path_open(sys, rootfd, "/a/file/sub", mode | HUSK_PATH_MKDIR, 0755);
	ok(fd == -ENOTDIR, "%s: mkdir under a file is ENOTDIR (%d)", m, fd);

	fd = husk_path_open(sys, rootfd, "/a/b/c", mode | HUSK_PATH_MKDIR, 0755);
	ok(same(fd, "a/b/c"), "%s: existing directory reused", m);
	if (fd >= 0)
		close(fd);
}

static void test_parent(void)
{
	char leaf[NAME_MAX + 1];
	int fd = husk_path_open_parent(sys, rootfd, "/abs/c", 0, leaf);
	ok(same(fd, "a/b") && strcmp(leaf, "c") == 0, "parent of /abs/c is /a/b, leaf c");
	if (fd >= 0)
		close(fd);
	fd = husk_path_open_parent(sys, rootfd, "/top", 0, leaf);
	ok(same(fd, "") && strcmp(leaf, "top") == 0, "parent of /top is the root");
	if (fd >= 0)
		close(fd);
	fd = husk_path_open_parent(sys, rootfd, "/p/q/r//", HUSK_PATH_MKDIR, leaf);
	ok(same(fd, "p/q") && strcmp(leaf, "r") == 0, "parent created, trailing slashes ignored");
	if (fd >= 0)
		close(fd);
	ok(husk_path_open_parent(sys, rootfd, "/", 0, leaf) == -EINVAL, "/ has no leaf");
	ok(husk_path_open_parent(sys, rootfd, "/a/..", 0, leaf) == -EINVAL, ".. leaf refused");
	ok(husk_path_open_parent(sys, rootfd, "/nope/x", 0, leaf) == -ENOENT, "missing parent ENOENT");
}

static void test_proc_guard(void)
{
	static const struct {
		const char *rel;
		enum husk_proc_guard g;
	} t[] = {
		{ "proc", HUSK_PROC_ITSELF },	      { "proc/", HUSK_PROC_ITSELF },
		{ "/proc", HUSK_PROC_ITSELF },	      { "proc/cpuinfo", HUSK_PROC_ALLOWED },
		{ "proc/meminfo", HUSK_PROC_ALLOWED }, { "proc/diskstats", HUSK_PROC_ALLOWED },
		{ "proc/stat", HUSK_PROC_ALLOWED },    { "proc/swaps", HUSK_PROC_ALLOWED },
		{ "proc/uptime", HUSK_PROC_ALLOWED },  { "proc/loadavg", HUSK_PROC_ALLOWED },
		{ "proc/slabinfo", HUSK_PROC_ALLOWED }, { "proc/net/dev", HUSK_PROC_ALLOWED },
		{ "proc/sys", HUSK_PROC_DENIED },      { "proc/sys/kernel", HUSK_PROC_DENIED },
		{ "proc/self", HUSK_PROC_DENIED },     { "proc/net", HUSK_PROC_DENIED },
		{ "proc/stat/x", HUSK_PROC_DENIED },   { "proc/cpuinfox", HUSK_PROC_DENIED },
		{ "procfs", HUSK_PROC_OUTSIDE },       { "sys/proc", HUSK_PROC_OUTSIDE },
		{ "", HUSK_PROC_OUTSIDE },	      { "dev", HUSK_PROC_OUTSIDE },
		{ "proc/sys/kernel/ns_last_pid", HUSK_PROC_ALLOWED },
		{ "proc/sys/crypto/fips_enabled", HUSK_PROC_ALLOWED },
		{ "proc/sys/kernel/core_pattern", HUSK_PROC_DENIED },
		{ "proc/1/net/dev", HUSK_PROC_DENIED },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		ok(husk_path_proc_guard(t[i].rel) == t[i].g, "proc guard: \"%s\"", t[i].rel);

	/* /proc/net/dev by its own name, through procfs's self/net link */
	static const struct {
		const char *dest, *rel;
		bool allowed;
	} nd[] = {
		{ "/proc/net/dev", "proc/1/net/dev", true },
		{ "/proc//net/dev/", "proc/4242/net/dev", true },
		{ "proc/net/dev", "proc/7/net/dev", true },
		{ "/proc/net/dev", "proc/self/net/dev", false },
		{ "/proc/net/dev", "proc/1/net/dev/x", false },
		{ "/proc/net/dev", "proc/1/2/net/dev", false },
		{ "/proc/net/dev", "proc//net/dev", false },
		{ "/proc/net/dev", "proc/1/net/snmp", false },
		{ "/proc/net/dev", "tmp/1/net/dev", false },
		{ "/proc/self/net/dev", "proc/1/net/dev", false },
		{ "/proc/1/net/dev", "proc/1/net/dev", false },
		{ "/proc/./net/dev", "proc/1/net/dev", false },
		{ "/proc/net/../net/dev", "proc/1/net/dev", false },
		{ "/nd", "proc/1/net/dev", false },
		{ "/proc/net/devx", "proc/1/net/dev", false },
		{ "/proc/net", "proc/1/net", false },
	};
	for (size_t i = 0; i < ARRAY_SIZE(nd); i++)
		ok(husk_path_proc_net_dev(nd[i].dest, nd[i].rel) == nd[i].allowed,
		   "net/dev: \"%s\" resolved to \"%s\": %s", nd[i].dest, nd[i].rel,
		   nd[i].allowed ? "allowed" : "denied");

	/* the guard works on where the path really is */
	char buf[PATH_MAX];
	int fd = husk_path_open(sys, rootfd, "/procl", 0, 0);
	char real[PATH_MAX];
	ok(realpath(root, real) != NULL, "realpath of root");
	const char *rel = husk_path_rel_of_fd(sys, fd, real, buf, sizeof(buf));
	ok(rel && strcmp(rel, "proc") == 0, "a symlink to /proc resolves to \"proc\" (%s)",
	   rel ? rel : "NULL");
	if (fd >= 0)
		close(fd);
	fd = open(base, O_PATH | O_CLOEXEC);
	ok(husk_path_rel_of_fd(sys, fd, real, buf, sizeof(buf)) == NULL, "a path outside has no rel");
	close(fd);
	rel = husk_path_rel_of_fd(sys, rootfd, real, buf, sizeof(buf));
	ok(rel && strcmp(rel, "") == 0, "the root itself is \"\"");
}

/* openat2 hidden (a seccomp filter's EPERM, an old kernel's ENOSYS): the
 * component walk takes over, with the same results; other errors stand. */
static int hidden_errno;
static int openat2_hidden(int dfd, const char *path, struct open_how *how, size_t size)
{
	(void)dfd, (void)path, (void)how, (void)size;
	errno = hidden_errno;
	return -1;
}

static void test_openat2_hidden(void)
{
	struct husk_sys hidden = husk_sys_real;
	hidden.openat2 = openat2_hidden;
	static const int errs[] = { EPERM, ENOSYS };
	for (size_t i = 0; i < ARRAY_SIZE(errs); i++) {
		hidden_errno = errs[i];
		const char *en = strerror(errs[i]);
		int fd = husk_path_open(&hidden, rootfd, "/chain1/c", 0, 0);
		ok(same(fd, "a/b/c"), "openat2 %s: the walk resolves /chain1/c", en);
		if (fd >= 0)
			close(fd);
		fd = husk_path_open(&hidden, rootfd, "/esc/hidden", HUSK_PATH_MKDIR, 0755);
		ok(same(fd, "etc/hidden"), "openat2 %s: creation stays inside the root", en);
		if (fd >= 0)
			close(fd);
		ok(husk_path_open(&hidden, rootfd, "/magic/etc", 0, 0) < 0,
		   "openat2 %s: a magic link does not reach the host", en);
	}
	hidden_errno = EXDEV;
	ok(husk_path_open(&hidden, rootfd, "/a", 0, 0) == -EXDEV, "other openat2 errors stand");
}

int main(void)
{
	umask(022);
	setup();
	test_resolve(0);
	test_resolve(HUSK_PATH_NO_OPENAT2);
	test_create(0);
	test_create(HUSK_PATH_NO_OPENAT2);
	test_parent();
	test_proc_guard();
	test_openat2_hidden();
	struct husk_error e = { 0 };
	husk_rm_rf_at(AT_FDCWD, base, &e);
	return tap_done();
}
