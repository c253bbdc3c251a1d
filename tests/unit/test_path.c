/* Unit tests (TAP) for path.c (resolution inside a root, creation of
 * missing components, the /proc guard) and, through a recording fake of
 * the sys layer, the rootfs code's mount sequence.  No root needed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/magic.h>

#include "cgroup/cgroup.h"
#include "path.h"
#include "pivot.h"
#include "rootfs.h"
#include "spec.h"
#include "sys.h"
#include "util.h"
#include "tap.h"

static char base[] = "/tmp/husk-test-path-XXXXXX";
static char root[1024];
static int rootfd = -1;

static void mk(const char *rel, mode_t type, const char *target)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	int r = 0;
	if (type == S_IFDIR)
		r = (mkdir(p, 0755) < 0 && errno != EEXIST) ? -1 : 0;
	else if (type == S_IFLNK)
		r = symlink(target, p);
	else {
		int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		r = fd < 0 ? -1 : close(fd);
	}
	if (r < 0) {
		printf("Bail out! setup %s: %s\n", rel, strerror(errno));
		exit(1);
	}
}

static bool exists_in_root(const char *rel, mode_t type)
{
	char p[PATH_MAX];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	return lstat(p, &st) == 0 && (st.st_mode & S_IFMT) == type;
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
		int fd = husk_path_open(rootfd, t[i].path, mode, 0);
		if (strcmp(t[i].path, "/esc") == 0 || strcmp(t[i].path, "/escrel") == 0) {
			/* /esc -> /etc and escrel -> /tmp: missing inside the root */
			ok(fd == -ENOENT, "%s: %s stays inside (ENOENT), got %d", m, t[i].path, fd);
		} else {
			ok(same(fd, t[i].expect), "%s: %s resolves to /%s", m, t[i].path, t[i].expect);
		}
		if (fd >= 0)
			close(fd);
	}
	int fd = husk_path_open(rootfd, "/loop1", mode, 0);
	ok(fd == -ELOOP, "%s: symlink loop is ELOOP (%d)", m, fd);
	fd = husk_path_open(rootfd, "/a/file/x", mode, 0);
	ok(fd == -ENOTDIR, "%s: component under a file is ENOTDIR (%d)", m, fd);
	fd = husk_path_open(rootfd, "/missing", mode, 0);
	ok(fd == -ENOENT, "%s: missing is ENOENT", m);
	fd = husk_path_open(rootfd, "/abs", mode | HUSK_PATH_NOFOLLOW, 0);
	struct stat st;
	ok(fd >= 0 && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode), "%s: NOFOLLOW gives the link", m);
	if (fd >= 0)
		close(fd);
	fd = husk_path_open(rootfd, "/abs/c", mode | HUSK_PATH_NOFOLLOW, 0);
	ok(same(fd, "a/b/c"), "%s: NOFOLLOW follows links before the last component", m);
	if (fd >= 0)
		close(fd);
	fd = husk_path_open(rootfd, "/magic/etc", mode, 0);
	ok(fd < 0, "%s: /proc/self/root-style link does not reach the host (%d)", m, fd);
	if (fd >= 0)
		close(fd);
}

static void test_create(int mode)
{
	const char *m = mode ? "walk" : "openat2";
	char p[64];
	snprintf(p, sizeof(p), "/new-%s/x/y", m);
	int fd = husk_path_open(rootfd, p, mode | HUSK_PATH_MKDIR, 0700);
	snprintf(p, sizeof(p), "new-%s/x/y", m);
	struct stat st;
	char full[PATH_MAX];
	snprintf(full, sizeof(full), "%s/%s", root, p);
	ok(same(fd, p) && stat(full, &st) == 0 && (st.st_mode & 07777) == 0700,
	   "%s: mkdir -p inside the root", m);
	if (fd >= 0)
		close(fd);

	snprintf(p, sizeof(p), "/esc/made-%s", m);
	fd = husk_path_open(rootfd, p, mode | HUSK_PATH_MKDIR, 0755);
	snprintf(p, sizeof(p), "etc/made-%s", m);
	ok(same(fd, p), "%s: creation through an escaping symlink lands inside the root", m);
	if (fd >= 0)
		close(fd);
	snprintf(p, sizeof(p), "/escrel/made-%s", m);
	fd = husk_path_open(rootfd, p, mode | HUSK_PATH_MKDIR, 0755);
	snprintf(p, sizeof(p), "tmp/made-%s", m);
	ok(same(fd, p), "%s: relative ../ escape lands inside the root", m);
	if (fd >= 0)
		close(fd);

	snprintf(p, sizeof(p), "/dangling/%s", m);
	fd = husk_path_open(rootfd, p, mode | HUSK_PATH_MKDIR, 0755);
	snprintf(p, sizeof(p), "made/here/%s", m);
	ok(same(fd, p), "%s: dangling symlink target created inside the root", m);
	if (fd >= 0)
		close(fd);

	snprintf(p, sizeof(p), "/files-%s/d/f", m);
	fd = husk_path_open(rootfd, p, mode | HUSK_PATH_MKFILE, 0640);
	snprintf(p, sizeof(p), "files-%s/d/f", m);
	ok(same(fd, p) && exists_in_root(p, S_IFREG), "%s: MKFILE creates a file leaf", m);
	if (fd >= 0)
		close(fd);

	fd = husk_path_open(rootfd, "/a/file/sub", mode | HUSK_PATH_MKDIR, 0755);
	ok(fd == -ENOTDIR, "%s: mkdir under a file is ENOTDIR (%d)", m, fd);

	fd = husk_path_open(rootfd, "/a/b/c", mode | HUSK_PATH_MKDIR, 0755);
	ok(same(fd, "a/b/c"), "%s: existing directory reused", m);
	if (fd >= 0)
		close(fd);
}

static void test_parent(void)
{
	char leaf[NAME_MAX + 1];
	int fd = husk_path_open_parent(rootfd, "/abs/c", 0, leaf);
	ok(same(fd, "a/b") && strcmp(leaf, "c") == 0, "parent of /abs/c is /a/b, leaf c");
	if (fd >= 0)
		close(fd);
	fd = husk_path_open_parent(rootfd, "/top", 0, leaf);
	ok(same(fd, "") && strcmp(leaf, "top") == 0, "parent of /top is the root");
	if (fd >= 0)
		close(fd);
	fd = husk_path_open_parent(rootfd, "/p/q/r//", HUSK_PATH_MKDIR, leaf);
	ok(same(fd, "p/q") && strcmp(leaf, "r") == 0, "parent created, trailing slashes ignored");
	if (fd >= 0)
		close(fd);
	ok(husk_path_open_parent(rootfd, "/", 0, leaf) == -EINVAL, "/ has no leaf");
	ok(husk_path_open_parent(rootfd, "/a/..", 0, leaf) == -EINVAL, ".. leaf refused");
	ok(husk_path_open_parent(rootfd, "/nope/x", 0, leaf) == -ENOENT, "missing parent ENOENT");
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
	int fd = husk_path_open(rootfd, "/procl", 0, 0);
	char real[PATH_MAX];
	ok(realpath(root, real) != NULL, "realpath of root");
	const char *rel = husk_path_rel_of_fd(fd, real, buf, sizeof(buf));
	ok(rel && strcmp(rel, "proc") == 0, "a symlink to /proc resolves to \"proc\" (%s)",
	   rel ? rel : "NULL");
	if (fd >= 0)
		close(fd);
	fd = open(base, O_PATH | O_CLOEXEC);
	ok(husk_path_rel_of_fd(fd, real, buf, sizeof(buf)) == NULL, "a path outside has no rel");
	close(fd);
	rel = husk_path_rel_of_fd(rootfd, real, buf, sizeof(buf));
	ok(rel && strcmp(rel, "") == 0, "the root itself is \"\"");
}

/* --- the recording fake sys layer ------------------------------------------ */

static char log_buf[16384];

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	size_t l = strlen(log_buf);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(log_buf + l, sizeof(log_buf) - l, fmt, ap);
	va_end(ap);
	l = strlen(log_buf);
	if (l + 1 < sizeof(log_buf))
		strcat(log_buf, "\n");
}

/* "/proc/self/fd/N" or an fd -> path relative to the fake root */
static const char *show(const char *path, int fd, char *buf)
{
	char link[HUSK_PROCFD_LEN], tmp[PATH_MAX];
	if (path && strncmp(path, "/proc/self/fd/", 14) != 0)
		return path;
	if (!path)
		path = husk_procfd(link, fd);
	ssize_t n = readlink(path, tmp, sizeof(tmp) - 1);
	if (n < 0)
		return "?";
	tmp[n] = '\0';
	char real[PATH_MAX];
	if (!realpath(root, real))
		return "?";
	size_t rl = strlen(real);
	if (strncmp(tmp, real, rl) == 0) {
		snprintf(buf, PATH_MAX, "/%s", tmp[rl] == '/' ? tmp + rl + 1 : tmp + rl);
		return buf;
	}
	snprintf(buf, PATH_MAX, "%s", tmp);
	return buf;
}

static int fake_mount(const char *src, const char *target, const char *type, unsigned long flags,
		      const void *data)
{
	char b1[PATH_MAX], b2[PATH_MAX];
	logf_("mount %s %s %s %#lx %s", src ? show(src, -1, b1) : "-", show(target, -1, b2),
	      type ? type : "-", flags, data ? (const char *)data : "-");
	return 0;
}
static int fake_open_tree(int dfd, const char *path, unsigned flags)
{
	char b[PATH_MAX];
	int fd = openat(dfd, path, O_PATH | O_CLOEXEC | ((flags & AT_EMPTY_PATH) ? 0 : 0));
	if (!*path)
		fd = openat(dfd, ".", O_PATH | O_CLOEXEC);
	logf_("open_tree %s%s", *path ? path : show(NULL, dfd, b), (flags & AT_RECURSIVE) ? " rec" : "");
	return fd;
}
static int fake_no_open_tree(int dfd, const char *path, unsigned flags)
{
	(void)dfd, (void)path, (void)flags;
	errno = ENOSYS;
	return -1;
}
static int fake_move_mount(int from, const char *fp, int to, const char *tp, unsigned flags)
{
	(void)fp, (void)tp, (void)flags, (void)from;
	char b[PATH_MAX];
	logf_("move_mount -> %s", show(NULL, to, b));
	return 0;
}
static int fake_mount_setattr(int dfd, const char *path, unsigned flags, struct mount_attr *a,
			      size_t size)
{
	(void)dfd, (void)path, (void)size;
	logf_("setattr%s set=%#llx clr=%#llx prop=%#llx", (flags & AT_RECURSIVE) ? " rec" : "",
	      (unsigned long long)a->attr_set, (unsigned long long)a->attr_clr,
	      (unsigned long long)a->propagation);
	return 0;
}
static int fake_mknodat(int dfd, const char *path, mode_t mode, dev_t dev)
{
	logf_("mknod %s %o %u:%u", path, mode & 07777, major(dev), minor(dev));
	int fd = openat(dfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}
static int fake_fchownat(int dfd, const char *path, uid_t u, gid_t g, int flags)
{
	(void)dfd, (void)flags;
	logf_("chown %s %u:%u", path, u, g);
	return 0;
}

static unsigned long fake_stflags = ~0UL; /* what fstatvfs reports */
static int fake_fstatvfs(int fd, struct statvfs *st)
{
	int r = fstatvfs(fd, st);
	st->f_flag = fake_stflags;
	return r;
}
static int fake_pivot_errno;      /* pivot_root fails with this when set */
static long fake_root_magic;      /* fstatfs's f_type, when set */
static int fake_pivot_root(const char *n, const char *o)
{
	logf_("pivot_root %s %s", n, o);
	if (fake_pivot_errno) {
		errno = fake_pivot_errno;
		return -1;
	}
	return 0;
}
static int fake_chroot(const char *path)
{
	logf_("chroot %s", path);
	return 0;
}
static int fake_chdir(const char *path)
{
	logf_("chdir %s", path);
	return 0;
}
static int fake_umount2(const char *path, int flags)
{
	logf_("umount2 %s %#x", path, flags);
	return 0;
}
static int fake_fstatfs(int fd, struct statfs *st)
{
	int r = fstatfs(fd, st);
	if (fake_root_magic)
		st->f_type = fake_root_magic;
	return r;
}

static struct husk_sys fake;

static struct husk_mount mnt(const char *dest, const char *type, const char *src, char **opts)
{
	struct husk_mount m = { .destination = (char *)dest, .type = (char *)type, .source = (char *)src,
				.options = opts };
	m.n_options = husk_strv_len(opts);
	return m;
}

static bool has_line(const char *line)
{
	const char *p = log_buf;
	size_t l = strlen(line);
	while ((p = strstr(p, line))) {
		if ((p == log_buf || p[-1] == '\n') && (p[l] == '\n' || p[l] == '\0'))
			return true;
		p += l;
	}
	return false;
}

static bool before(const char *a, const char *b)
{
	const char *pa = strstr(log_buf, a), *pb = strstr(log_buf, b);
	return pa && pb && pa < pb;
}

static void test_rootfs_sequence(void)
{
	fake = husk_sys_real;
	fake.mount = fake_mount;
	fake.open_tree = fake_open_tree;
	fake.move_mount = fake_move_mount;
	fake.mount_setattr = fake_mount_setattr;
	fake.mknodat = fake_mknodat;
	fake.fchownat = fake_fchownat;
	fake.fstatvfs = fake_fstatvfs;

	char rfs[1024], src[1024];
	snprintf(rfs, sizeof(rfs), "%s/seq", base);
	snprintf(root, sizeof(root), "%s", rfs);
	mkdir(rfs, 0755);
	mk("etc", S_IFDIR, NULL);
	mk("run", S_IFREG, NULL);
	mk("sysl", S_IFLNK, "/proc/sys");
	snprintf(src, sizeof(src), "%s/outside", base);

	char *o_proc[] = { NULL };
	char *o_dev[] = { "nosuid", "strictatime", "mode=755", "size=65536k", NULL };
	char *o_bind[] = { "rbind", "ro", "nosuid", "rprivate", NULL };
	char *o_sys[] = { "nosuid", "noexec", "nodev", "ro", NULL };
	struct husk_mount mounts[] = {
		mnt("/proc", "proc", "proc", o_proc),
		mnt("/dev", "tmpfs", "tmpfs", o_dev),
		mnt("/sys", "sysfs", "sysfs", o_sys),
		mnt("/mnt/data", "bind", src, o_bind),
	};
	struct husk_device devs[] = {
		{ .type = 'c', .path = "/dev/fuse", .major = 10, .minor = 229, .has_uid = true, .uid = 7 },
	};
	struct husk_spec spec = { 0 };
	spec.root_path = rfs;
	spec.bundle = base;
	spec.mounts = mounts;
	spec.n_mounts = ARRAY_SIZE(mounts);
	spec.devices = devs;
	spec.n_devices = 1;
	struct husk_rootfs_ctx ctx = { .spec = &spec, .own_mount_ns = true, .cwd = "/work/dir",
				       .console_fd = -1, .rootfs_fd = -1 };
	struct husk_error e = { 0 };
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';

	husk_sys = &fake;
	int r = husk_rootfs_prepare(&ctx, &e);
	husk_sys = &husk_sys_real;
	char msg[2048];
	ok(r == 0, "prepare with the fake sys layer (%s)", r ? husk_err_str(&e, msg, sizeof(msg)) : "ok");
	for (char *l = log_buf, *nl; *l; l = nl + 1) {
		nl = strchrnul(l, '\n');
		printf("# %.*s\n", (int)(nl - l), l);
		if (!*nl)
			break;
	}
	ok(has_line("mount - / - 0x84000 -"), "/ made rslave first");
	ok(!strstr(log_buf, "mountinfo"), "no mountinfo scan");
	ok(has_line("open_tree / rec") && has_line("move_mount -> /"), "rootfs bound onto itself");
	ok(has_line("mount proc /proc proc 0 -"), "proc mounted on the resolved /proc");
	ok(has_line("mount tmpfs /dev tmpfs 0x1000002 mode=755,size=65536k"),
	   "tmpfs /dev with flags and data");
	ok(has_line("mount sysfs /sys sysfs 0xf -"), "sysfs with ro,nosuid,nodev,noexec");
	char line[PATH_MAX + 64];
	snprintf(line, sizeof(line), "open_tree %s rec", src);
	ok(has_line(line), "rbind source cloned recursively");
	ok(has_line("setattr set=0x3 clr=0 prop=0") && has_line("move_mount -> /mnt/data") &&
		   has_line("setattr rec set=0 clr=0 prop=0x40000"),
	   "bind: ro,nosuid applied before attaching, rprivate after");
	ok(before("setattr set=0x3", "move_mount -> /mnt/data") &&
		   before("move_mount -> /mnt/data", "setattr rec set=0 clr=0 prop=0x40000"),
	   "bind: attribute/attach/propagation order");
	ok(exists_in_root("mnt/data", S_IFDIR), "missing bind destination created as a directory");
	ok(has_line("mknod null 666 1:3") && has_line("mknod tty 666 5:0") &&
		   has_line("mknod fuse 666 10:229") && has_line("chown fuse 7:0"),
	   "default and config devices made");
	ok(before("mount sysfs", "mknod null"), "devices after every mount");
	ok(exists_in_root("dev/ptmx", S_IFLNK) && exists_in_root("dev/fd", S_IFLNK) &&
		   exists_in_root("dev/stdin", S_IFLNK) && exists_in_root("dev/stderr", S_IFLNK),
	   "/dev symlinks");
	ok(exists_in_root("work/dir", S_IFDIR), "cwd created");
	char now[PATH_MAX];
	ok(getcwd(now, sizeof(now)) && strcmp(now, rfs) == 0, "cwd is the rootfs after prepare");
	free(ctx.root_real);
	if (ctx.rootfs_fd >= 0)
		close(ctx.rootfs_fd);
	if (cwd[0] && chdir(cwd) < 0)
		perror("chdir");

	/* errors name the mount */
	const struct {
		struct husk_mount m;
		const char *msg;
	} bad[] = {
		{ { .destination = "/run/x", .type = "tmpfs", .source = "tmpfs", .options = o_proc },
		  "mounts[0] tmpfs on /run/x: mkdir /run/x: Not a directory" },
		{ { .destination = "/sysl/kernel", .type = "tmpfs", .source = "tmpfs", .options = o_proc },
		  "mounts[0] tmpfs on /sysl/kernel: /proc/sys/kernel is inside /proc" },
		{ { .destination = "/proc", .type = "tmpfs", .source = "tmpfs", .options = o_proc },
		  "mounts[0] tmpfs on /proc: only procfs may be mounted on /proc" },
		{ { .destination = "/proc/cpuinfo", .type = "bind", .source = src, .options = o_proc },
		  NULL },
		{ { .destination = "/etc", .type = "proc", .source = "proc", .options = o_proc }, NULL },
		{ { .destination = "/sysl", .type = "proc", .source = "proc", .options = o_proc },
		  "mounts[0] proc on /sysl: proc must be mounted on an ordinary directory" },
	};
	mk("proc", S_IFDIR, NULL);
	mk("proc/sys", S_IFDIR, NULL);
	mk("proc/sys/kernel", S_IFDIR, NULL);
	mk("proc/cpuinfo", S_IFREG, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct husk_mount m = bad[i].m;
		spec.mounts = &m;
		spec.n_mounts = 1;
		spec.n_devices = 0;
		ctx.cwd = NULL;
		log_buf[0] = '\0';
		husk_err_clear(&e);
		husk_sys = &fake;
		r = husk_rootfs_prepare(&ctx, &e);
		husk_sys = &husk_sys_real;
		husk_err_str(&e, msg, sizeof(msg));
		if (bad[i].msg)
			ok(r < 0 && strcmp(msg, bad[i].msg) == 0, "error: \"%s\" (got \"%s\")", bad[i].msg,
			   r < 0 ? msg : "success");
		else
			ok(r == 0, "allowed: %s %s (%s)", m.type, m.destination, r < 0 ? msg : "ok");
		free(ctx.root_real);
		if (ctx.rootfs_fd >= 0)
			close(ctx.rootfs_fd);
		if (cwd[0] && chdir(cwd) < 0)
			perror("chdir");
	}

	/* rootfs checks */
	mk("notdir", S_IFREG, NULL);
	mk("linkdir", S_IFLNK, "etc");
	static const struct {
		const char *rel, *msg;
	} rb[] = {
		{ "notdir", "rootfs %s/notdir: Not a directory" },
		{ "linkdir", "rootfs %s/linkdir: is a symlink, not a directory" },
		{ "nothere", "rootfs %s/nothere: No such file or directory" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(rb); i++) {
		char rp[PATH_MAX], want[PATH_MAX * 2];
		snprintf(rp, sizeof(rp), "%s/%s", rfs, rb[i].rel);
		snprintf(want, sizeof(want), rb[i].msg, rfs);
		spec.root_path = rp;
		husk_err_clear(&e);
		husk_sys = &fake;
		r = husk_rootfs_prepare(&ctx, &e);
		husk_sys = &husk_sys_real;
		husk_err_str(&e, msg, sizeof(msg));
		ok(r < 0 && strcmp(msg, want) == 0, "rootfs error \"%s\" (got \"%s\")", want, msg);
	}
	husk_sys->umask(022);
}

/* prepare with the fake layer; the error text (or "ok") in msg */
static int prepare_fake(struct husk_rootfs_ctx *ctx, char *msg, size_t len)
{
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	struct husk_error e = { 0 };
	log_buf[0] = '\0';
	husk_sys = &fake;
	int r = husk_rootfs_prepare(ctx, &e);
	husk_sys = &husk_sys_real;
	snprintf(msg, len, "ok");
	if (r < 0)
		husk_err_str(&e, msg, len);
	free(ctx->root_real);
	ctx->root_real = NULL;
	if (ctx->rootfs_fd >= 0)
		close(ctx->rootfs_fd);
	ctx->rootfs_fd = -1;
	if (cwd[0] && chdir(cwd) < 0)
		perror("chdir");
	husk_sys->umask(022);
	return r;
}

static void dump_log(void)
{
	for (char *l = log_buf, *nl; *l; l = nl + 1) {
		nl = strchrnul(l, '\n');
		printf("# %.*s\n", (int)(nl - l), l);
		if (!*nl)
			break;
	}
}

/* cgroup v1/hybrid layout, the statvfs check, the console, idmap rules. */
static void test_rootfs_more(void)
{
	char rfs[1024], cgdir[256], msg[2048];
	snprintf(rfs, sizeof(rfs), "%s/more", base);
	snprintf(root, sizeof(root), "%s", rfs);
	mkdir(rfs, 0755);
	mk("sys", S_IFDIR, NULL);
	mk("etc", S_IFDIR, NULL);
	snprintf(cgdir, sizeof(cgdir), "%s/cgsrc", base);
	mkdir(cgdir, 0755);

	/* a hybrid host with cpu,cpuacct co-mounted and a named hierarchy */
	char json[8192];
	snprintf(json, sizeof(json),
		 "{\"layout\":\"hybrid\",\"hierarchies\":["
		 "{\"ctrl\":\"cpu,cpuacct\",\"dir\":\"%s\",\"mount\":\"/sys/fs/cgroup/cpu,cpuacct\",\"created\":0},"
		 "{\"ctrl\":\"memory\",\"dir\":\"%s\",\"mount\":\"/sys/fs/cgroup/memory\",\"created\":0},"
		 "{\"ctrl\":\"name=systemd\",\"dir\":\"%s\",\"mount\":\"/sys/fs/cgroup/systemd\",\"created\":0},"
		 "{\"ctrl\":\"\",\"dir\":\"%s\",\"mount\":\"/sys/fs/cgroup/unified\",\"created\":0}]}",
		 cgdir, cgdir, cgdir, cgdir);
	struct husk_cgroup *cg = NULL;
	struct husk_error e = { 0 };
	ok(husk_cgroup_deserialize(json, &cg, &e) == 0, "fake hybrid cgroup");

	char *o_cg[] = { "nosuid", "noexec", "nodev", "relatime", "ro", NULL };
	struct husk_mount m = mnt("/sys/fs/cgroup", "cgroup", "cgroup", o_cg);
	struct husk_spec spec = { 0 };
	spec.root_path = rfs;
	spec.bundle = base;
	spec.mounts = &m;
	spec.n_mounts = 1;
	struct husk_rootfs_ctx ctx = { .spec = &spec, .own_mount_ns = true, .console_fd = -1,
				       .rootfs_fd = -1, .cgroup = cg };
	int r = prepare_fake(&ctx, msg, sizeof(msg));
	ok(r == 0, "cgroup v1 mount (%s)", msg);
	dump_log();
	ok(has_line("mount tmpfs /sys/fs/cgroup tmpfs 0xe mode=755"), "v1: a tmpfs first");
	char line[2048];
	snprintf(line, sizeof(line), "open_tree %s", cgdir);
	ok(has_line(line), "v1: the container's own cgroup dir is cloned (not the host's tree)");
	ok(has_line("move_mount -> /sys/fs/cgroup/cpu,cpuacct") &&
		   has_line("move_mount -> /sys/fs/cgroup/memory") &&
		   has_line("move_mount -> /sys/fs/cgroup/systemd") &&
		   has_line("move_mount -> /sys/fs/cgroup/unified"),
	   "v1: one bind per hierarchy (name=systemd -> systemd, cgroup2 -> unified)");
	ok(has_line("setattr set=0xf clr=0x70 prop=0"), "v1: binds ro,nosuid,nodev,noexec,relatime");
	char t1[PATH_MAX] = "", t2[PATH_MAX] = "";
	snprintf(line, sizeof(line), "%s/sys/fs/cgroup/cpu", rfs);
	ssize_t n1 = readlink(line, t1, sizeof(t1) - 1);
	snprintf(line, sizeof(line), "%s/sys/fs/cgroup/cpuacct", rfs);
	ssize_t n2 = readlink(line, t2, sizeof(t2) - 1);
	ok(n1 > 0 && n2 > 0 && strncmp(t1, "cpu,cpuacct", (size_t)n1) == 0 &&
		   strncmp(t2, "cpu,cpuacct", (size_t)n2) == 0,
	   "v1: cpu and cpuacct symlinked to cpu,cpuacct");
	ok(has_line("setattr set=0x1 clr=0 prop=0") &&
		   before("move_mount -> /sys/fs/cgroup/unified", "setattr set=0x1 clr=0 prop=0"),
	   "v1: the tmpfs made read-only last");

	/* v2 host: a bind of the container's dir, or cgroup2 with a cgroupns */
	snprintf(json, sizeof(json),
		 "{\"layout\":\"v2\",\"hierarchies\":[{\"ctrl\":\"\",\"dir\":\"%s\","
		 "\"mount\":\"/sys/fs/cgroup\",\"created\":0}]}",
		 cgdir);
	struct husk_cgroup *cg2 = NULL;
	ok(husk_cgroup_deserialize(json, &cg2, &e) == 0, "fake v2 cgroup");
	ctx.cgroup = cg2;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	snprintf(line, sizeof(line), "open_tree %s", cgdir);
	ok(r == 0 && has_line(line) && has_line("move_mount -> /sys/fs/cgroup") &&
		   !strstr(log_buf, "cgroup2"),
	   "v2 without cgroupns: bind of the container's cgroup (%s)", msg);
	spec.namespaces[HUSK_NS_CGROUP].present = true;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	ok(r == 0 && has_line("mount cgroup2 /sys/fs/cgroup cgroup2 0x20000f -"),
	   "v2 with cgroupns: a cgroup2 mount (%s)", msg);
	spec.namespaces[HUSK_NS_CGROUP].present = false;
	husk_cgroup_free(cg);
	husk_cgroup_free(cg2);
	ctx.cgroup = NULL;

	/* statvfs check: a flag the kernel did not apply fails loudly */
	char src[1024];
	snprintf(src, sizeof(src), "%s/outside", base);
	char *o_ro[] = { "bind", "ro", "nosuid", NULL };
	m = mnt("/etc/x", "bind", src, o_ro);
	/* (old kernels: a bind remount, whose result is what gets checked) */
	fake_stflags = ST_NOSUID;
	fake.open_tree = fake_no_open_tree;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	snprintf(line, sizeof(line),
		 "mounts[0] bind on /etc/x: %s: the kernel did not apply ro: Operation not permitted", src);
	ok(r < 0 && strcmp(msg, line) == 0, "dropped flag: \"%s\"", msg);
	ok(has_line("mount - /etc/x - 0x1023 -"), "dropped flag: after the bind remount");
	fake.open_tree = fake_open_tree;
	fake_stflags = ~0UL;

	/* idmap rules */
	char *o_idmap[] = { "bind", "idmap", NULL };
	m = mnt("/etc/x", "bind", src, o_idmap);
	r = prepare_fake(&ctx, msg, sizeof(msg));
	ok(r < 0 && strstr(msg, "idmap: needs uidMappings/gidMappings or a user namespace"),
	   "idmap without mappings or userns refused (%s)", msg);
	struct husk_id_mapping map = { 0, 100000, 65536 };
	m.uid_mappings = &map;
	m.n_uid_mappings = 1;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	ok(r < 0 && strstr(msg, "uidMappings and gidMappings go together"),
	   "idmap with only uidMappings refused (%s)", msg);
	m.options = o_ro;
	m.n_options = 3;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	ok(r < 0 && strstr(msg, "mounts[0] bind on /etc/x: uidMappings/gidMappings need the idmap"),
	   "mappings without idmap refused (%s)", msg);
	char *o_tidmap[] = { "idmap", NULL };
	m = mnt("/etc/x", "tmpfs", "tmpfs", o_tidmap);
	r = prepare_fake(&ctx, msg, sizeof(msg));
	ok(r < 0 && strstr(msg, "idmap needs a bind mount"), "idmap on tmpfs refused (%s)", msg);

	/* /dev/console: the pty slave bound over a file in /dev */
	spec.n_mounts = 0;
	char cons[1024];
	snprintf(cons, sizeof(cons), "%s/pty-slave", base);
	int cfd = open(cons, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ctx.console_fd = cfd;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	snprintf(line, sizeof(line), "mount %s /dev/console - 0x1000 -", cons);
	ok(r == 0 && has_line(line), "console bound on /dev/console (%s)", msg);
	ok(exists_in_root("dev/console", S_IFREG), "/dev/console is a file to bind over");
	/* an image's /dev/console symlink is replaced, not followed */
	snprintf(line, sizeof(line), "%s/dev/console", rfs);
	unlink(line);
	if (symlink("/etc/passwd", line) < 0)
		perror("symlink");
	r = prepare_fake(&ctx, msg, sizeof(msg));
	ok(r == 0 && exists_in_root("dev/console", S_IFREG) && !exists_in_root("etc/passwd", S_IFREG),
	   "a symlinked /dev/console is replaced (%s)", msg);
	close(cfd);
	ctx.console_fd = -1;
}

/* pivot_root, its initramfs fallback and --no-pivot */
static void test_pivot(void)
{
	fake.pivot_root = fake_pivot_root;
	fake.chroot = fake_chroot;
	fake.chdir = fake_chdir;
	fake.umount2 = fake_umount2;
	fake.fstatfs = fake_fstatfs;
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	struct husk_error e = { 0 };
	char msg[1024];
	int fd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);

	log_buf[0] = '\0';
	husk_sys = &fake;
	int r = husk_pivot_enter(fd, HUSK_PIVOT_ROOT, base, &e);
	husk_sys = &husk_sys_real;
	ok(r == 0 && has_line("pivot_root . .") && has_line("umount2 . 0x2") &&
		   !strstr(log_buf, "mount - ."),
	   "pivot_root(.,.), old root detached, no propagation change on the new root");

	fake_pivot_errno = EINVAL;
	fake_root_magic = RAMFS_MAGIC;
	log_buf[0] = '\0';
	husk_sys = &fake;
	r = husk_pivot_enter(fd, HUSK_PIVOT_ROOT, base, &e);
	husk_sys = &husk_sys_real;
	dump_log();
	ok(r == 0 && has_line("mount . / - 0x2000 -") && has_line("chroot .") &&
		   before("mount . / - 0x2000 -", "chroot ."),
	   "initramfs root: MS_MOVE + chroot instead");
	ok(has_line("umount2 /proc 0xa"), "initramfs root: host mounts detached first");

	fake_root_magic = EXT4_SUPER_MAGIC;
	log_buf[0] = '\0';
	husk_err_clear(&e);
	husk_sys = &fake;
	r = husk_pivot_enter(fd, HUSK_PIVOT_ROOT, base, &e);
	husk_sys = &husk_sys_real;
	husk_err_str(&e, msg, sizeof(msg));
	ok(r < 0 && strcmp(msg, "pivot_root: Invalid argument") == 0 && !strstr(log_buf, "chroot"),
	   "pivot_root failure elsewhere is an error (%s)", msg);
	fake_pivot_errno = 0;
	fake_root_magic = 0;

	log_buf[0] = '\0';
	husk_sys = &fake;
	r = husk_pivot_enter(fd, HUSK_PIVOT_MOVE, base, &e);
	husk_sys = &husk_sys_real;
	ok(r == 0 && !strstr(log_buf, "pivot_root") && has_line("umount2 /proc 0xa") &&
		   before("umount2 /proc 0xa", "mount . / - 0x2000 -") && has_line("chroot ."),
	   "--no-pivot: host mounts detached, MS_MOVE + chroot");
	char line[PATH_MAX + 32];
	snprintf(line, sizeof(line), "umount2 %s", base);
	ok(!strstr(log_buf, line) && !has_line("umount2 / 0xa"),
	   "--no-pivot: the rootfs and the mounts it sits on stay");

	log_buf[0] = '\0';
	husk_sys = &fake;
	r = husk_pivot_enter(fd, HUSK_PIVOT_CHROOT, base, &e);
	husk_sys = &husk_sys_real;
	ok(r == 0 && has_line("chroot .") && !strstr(log_buf, "mount"), "no mount ns: chroot only");
	close(fd);
	if (cwd[0] && chdir(cwd) < 0)
		perror("chdir");
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
	test_rootfs_sequence();
	test_rootfs_more();
	test_pivot();
	struct husk_error e = { 0 };
	husk_rm_rf_at(AT_FDCWD, base, &e);
	return tap_done();
}
