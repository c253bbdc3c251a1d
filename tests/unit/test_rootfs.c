/* Unit tests (TAP) for the rootfs code's kernel calls, through the
 * recording fake of the sys layer (fake_sys.h): the mount sequence of
 * prepare, cgroup mounts, the statvfs/statfs checks, tmpcopyup, the
 * console, idmap rules and the pivot.  No root needed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/magic.h>

#include "cgroup/cgroup.h"
#include "fake_sys.h"
#include "pivot.h"
#include "rootfs.h"
#include "rootfs_internal.h"
#include "spec.h"
#include "sys.h"
#include "util.h"
#include "tap.h"
#include "tree.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static char base[] = "/tmp/husk-test-rootfs-XXXXXX";
static char root[1024]; /* the rootfs of the test running (also fake_root) */

static void mk(const char *rel, mode_t type, const char *target)
{
	tree_mk(root, rel, type, target);
}

static bool exists_in_root(const char *rel, mode_t type)
{
	return tree_has(root, rel, type);
}

static struct husk_mount mnt(const char *dest, const char *type, const char *src, char **opts)
{
	struct husk_mount m = { .destination = (char *)dest, .type = (char *)type, .source = (char *)src,
				.options = opts };
	m.n_options = husk_strv_len(opts);
	return m;
}

/* prepare with the fake layer; the error text (or "ok") in msg */
static int prepare_fake(struct husk_rootfs_ctx *ctx, char *msg, size_t len)
{
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	struct husk_error e = { 0 };
	fake_log_clear();
	int r = husk_rootfs_prepare(ctx, &e);
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
	umask(022);
	return r;
}

static void test_rootfs_sequence(void)
{
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
	struct husk_rootfs_ctx ctx = { .sys = &fake, .spec = &spec, .own_mount_ns = true,
				       .cwd = "/work/dir", .console_fd = -1, .rootfs_fd = -1 };
	struct husk_error e = { 0 };
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';

	fake_log_clear();
	int r = husk_rootfs_prepare(&ctx, &e);
	char msg[2048];
	ok(r == 0, "prepare with the fake sys layer (%s)", r ? husk_err_str(&e, msg, sizeof(msg)) : "ok");
	dump_log();
	ok(has_line("mount - / - 0x84000 -"), "/ made rslave first");
	ok(!strstr(fake_log, "mountinfo"), "no mountinfo scan");
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
}

/* Errors name the mount (and the rootfs): the rootfs of the sequence test. */
static void test_rootfs_errors(void)
{
	char rfs[1024], src[1024], msg[2048];
	snprintf(rfs, sizeof(rfs), "%s/seq", base);
	snprintf(root, sizeof(root), "%s", rfs);
	snprintf(src, sizeof(src), "%s/outside", base);
	char *o_proc[] = { NULL };
	struct husk_spec spec = { 0 };
	spec.root_path = rfs;
	spec.bundle = base;
	struct husk_rootfs_ctx ctx = { .sys = &fake, .spec = &spec, .own_mount_ns = true,
				       .console_fd = -1, .rootfs_fd = -1 };

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
		int r = prepare_fake(&ctx, msg, sizeof(msg));
		if (bad[i].msg)
			ok(r < 0 && strcmp(msg, bad[i].msg) == 0, "error: \"%s\" (got \"%s\")", bad[i].msg,
			   msg);
		else
			ok(r == 0, "allowed: %s %s (%s)", m.type, m.destination, msg);
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
		int r = prepare_fake(&ctx, msg, sizeof(msg));
		ok(r < 0 && strcmp(msg, want) == 0, "rootfs error \"%s\" (got \"%s\")", want, msg);
	}
}

/* More layers than a page of mount(2) options: the new mount API, one
 * lowerdir+ each (top-most first); a kernel without lowerdir+ gets one
 * clear error and nothing mounted. */
static void test_rootfs_overlay_many(struct husk_rootfs_ctx *ctx, const char *rfs)
{
	char *opts = xstrdup("lowerdir="), msg[2048], want[PATH_MAX + 64];
	for (int i = 129; i >= 0; i--) {
		char *n = xasprintf("%s/state/with/a/rather/long/path/lower/%d%s", opts, i, i ? ":" : "");
		free(opts);
		opts = n;
	}
	char *n = xasprintf("%s,upperdir=/u,workdir=/w", opts);
	free(opts);
	opts = n;
	ctx->overlay = opts;
	int r = prepare_fake(ctx, msg, sizeof(msg));
	ok(r == 0 && !strstr(fake_log, "mount overlay") && has_line("fsopen overlay"),
	   "%zu bytes of options: fsopen, not mount(2) (%s)", strlen(opts), msg);
	ok(before("fsconfig 1 lowerdir+ /state/with/a/rather/long/path/lower/129",
		  "fsconfig 1 lowerdir+ /state/with/a/rather/long/path/lower/0") &&
		   has_line("fsconfig 1 lowerdir+ /state/with/a/rather/long/path/lower/64"),
	   "one lowerdir+ per layer, the top-most first");
	snprintf(want, sizeof(want), "move_mount -> %s", rfs);
	ok(before("fsconfig 1 upperdir /u", "fsconfig 6 - -") && has_line("fsconfig 1 workdir /w") &&
		   before("fsconfig 6 - -", "fsmount 0x4") && before("fsmount 0x4", want) &&
		   before(want, "open_tree / rec"),
	   "upper and work, created, mounted nodev on root.path before the rootfs is bound");
	ctx->in_userns = true;
	r = prepare_fake(ctx, msg, sizeof(msg));
	ok(r == 0 && before("fsconfig 0 userxattr -", "fsconfig 1 lowerdir+"),
	   "in a user namespace: the userxattr flag");
	ctx->in_userns = false;
	fake_fsconfig_einval = "lowerdir+";
	r = prepare_fake(ctx, msg, sizeof(msg));
	ok(r < 0 && strstr(msg, "130 layers make mount options of") &&
		   strstr(msg, "this kernel has no lowerdir+ (Linux 6.8): use --storage vfs") &&
		   !strstr(fake_log, "fsmount") && !strstr(fake_log, "move_mount"),
	   "a kernel without lowerdir+: %s", msg);
	fake_fsconfig_einval = NULL;
	ctx->overlay = NULL;
	free(opts);
}

/* box's overlay: mounted on root.path in the container's mount namespace,
 * after / is made rslave (so it cannot reach the host) and before the
 * rootfs is opened (the root is the overlay, not the empty dir below). */
static void test_rootfs_overlay(void)
{
	char rfs[1024], msg[2048];
	snprintf(rfs, sizeof(rfs), "%s/merged", base);
	snprintf(root, sizeof(root), "%s", rfs);
	mkdir(rfs, 0700);
	struct husk_spec spec = { 0 };
	spec.root_path = rfs;
	spec.bundle = base;
	struct husk_rootfs_ctx ctx = { .sys = &fake, .spec = &spec, .own_mount_ns = true,
				       .console_fd = -1, .rootfs_fd = -1,
				       .overlay = "lowerdir=/l,upperdir=/u,workdir=/w" };
	int r = prepare_fake(&ctx, msg, sizeof(msg));
	ok(r == 0, "overlay root prepared (%s)", msg);
	char want[PATH_MAX + 128];
	snprintf(want, sizeof(want), "mount overlay %s overlay 0x4 lowerdir=/l,upperdir=/u,workdir=/w",
		 rfs);
	ok(has_line(want), "overlay mounted nodev on root.path");
	ok(before("mount - / - 0x84000 -", "mount overlay") && before("mount overlay", "open_tree / rec"),
	   "overlay after / is rslave, before the rootfs is bound");
	ctx.in_userns = true;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	strcat(want, ",userxattr");
	ok(r == 0 && has_line(want),
	   "in a user namespace: user.overlay xattrs (%s)", msg);
	ctx.own_mount_ns = false;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	ok(r < 0 && !strstr(fake_log, "mount overlay") &&
		   !strcmp(msg, "an overlay root and mounts need a mount namespace of the container's own"),
	   "no mount namespace of its own: refused, nothing mounted (%s)", msg);
	ctx.own_mount_ns = true;
	ctx.overlay = NULL;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	ok(r == 0 && !strstr(fake_log, "overlay"), "no overlay without box");
	test_rootfs_overlay_many(&ctx, rfs);
}

/* cgroup v1/hybrid and v2 layouts */
static void test_rootfs_cgroup(void)
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
	struct husk_rootfs_ctx ctx = { .sys = &fake, .spec = &spec, .own_mount_ns = true,
				       .console_fd = -1, .rootfs_fd = -1, .cgroup = cg };
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
		   !strstr(fake_log, "cgroup2"),
	   "v2 without cgroupns: bind of the container's cgroup (%s)", msg);
	spec.namespaces[HUSK_NS_CGROUP].present = true;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	ok(r == 0 && has_line("mount cgroup2 /sys/fs/cgroup cgroup2 0x20000f -"),
	   "v2 with cgroupns: a cgroup2 mount (%s)", msg);
	spec.namespaces[HUSK_NS_CGROUP].present = false;
	husk_cgroup_free(cg);
	husk_cgroup_free(cg2);
	ctx.cgroup = NULL;
}

/* the statvfs check on old kernels, idmap rules, the console */
static void test_rootfs_binds(void)
{
	char rfs[1024], msg[2048], line[2048];
	snprintf(rfs, sizeof(rfs), "%s/more", base);
	snprintf(root, sizeof(root), "%s", rfs);
	struct husk_mount m;
	struct husk_spec spec = { 0 };
	spec.root_path = rfs;
	spec.bundle = base;
	spec.mounts = &m;
	spec.n_mounts = 1;
	struct husk_rootfs_ctx ctx = { .sys = &fake, .spec = &spec, .own_mount_ns = true,
				       .console_fd = -1, .rootfs_fd = -1 };
	int r;

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
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	struct husk_error e = { 0 };
	char msg[1024];
	int fd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);

	fake_log_clear();
	int r = husk_pivot_enter(&fake, fd, HUSK_PIVOT_ROOT, base, &e);
	ok(r == 0 && has_line("pivot_root . .") && has_line("umount2 . 0x2") &&
		   !strstr(fake_log, "mount - ."),
	   "pivot_root(.,.), old root detached, no propagation change on the new root");

	fake_pivot_errno = EINVAL;
	fake_fstatfs_magic = RAMFS_MAGIC;
	fake_log_clear();
	r = husk_pivot_enter(&fake, fd, HUSK_PIVOT_ROOT, base, &e);
	dump_log();
	ok(r == 0 && has_line("mount . / - 0x2000 -") && has_line("chroot .") &&
		   before("mount . / - 0x2000 -", "chroot ."),
	   "initramfs root: MS_MOVE + chroot instead");
	ok(has_line("umount2 /proc 0xa"), "initramfs root: host mounts detached first");

	fake_fstatfs_magic = EXT4_SUPER_MAGIC;
	fake_log_clear();
	husk_err_clear(&e);
	r = husk_pivot_enter(&fake, fd, HUSK_PIVOT_ROOT, base, &e);
	husk_err_str(&e, msg, sizeof(msg));
	ok(r < 0 && strcmp(msg, "pivot_root: Invalid argument") == 0 && !strstr(fake_log, "chroot"),
	   "pivot_root failure elsewhere is an error (%s)", msg);
	fake_pivot_errno = 0;
	fake_fstatfs_magic = 0;

	fake_log_clear();
	r = husk_pivot_enter(&fake, fd, HUSK_PIVOT_MOVE, base, &e);
	ok(r == 0 && !strstr(fake_log, "pivot_root") && has_line("umount2 /proc 0xa") &&
		   before("umount2 /proc 0xa", "mount . / - 0x2000 -") && has_line("chroot ."),
	   "--no-pivot: host mounts detached, MS_MOVE + chroot");
	char line[PATH_MAX + 32];
	snprintf(line, sizeof(line), "umount2 %s", base);
	ok(!strstr(fake_log, line) && !has_line("umount2 / 0xa"),
	   "--no-pivot: the rootfs and the mounts it sits on stay");

	fake_log_clear();
	r = husk_pivot_enter(&fake, fd, HUSK_PIVOT_CHROOT, base, &e);
	ok(r == 0 && has_line("chroot .") && !strstr(fake_log, "mount"), "no mount ns: chroot only");
	close(fd);
	if (cwd[0] && chdir(cwd) < 0)
		perror("chdir");
}

/* root/rel holds exactly text, with mode perm */
static bool file_is(const char *rel, const char *text, mode_t perm)
{
	char p[PATH_MAX], buf[256];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	struct stat st;
	int fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	bool same = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == perm;
	close(fd);
	return same && n == (ssize_t)strlen(text) && memcmp(buf, text, (size_t)n) == 0;
}

static void write_in_root(const char *rel, const char *text, mode_t perm)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, perm);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || fchmod(fd, perm) < 0) {
		printf("Bail out! setup %s: %s\n", rel, strerror(errno));
		exit(1);
	}
	close(fd);
}

/* tmpcopyup: the image's directory copied into the fresh tmpfs, every
 * listing, read and write through the layer (the fake covers the
 * directory as the mount would). */
static void test_tmpcopyup(void)
{
	char rfs[1024], msg[2048], p[PATH_MAX], q[PATH_MAX];
	snprintf(rfs, sizeof(rfs), "%s/copyup", base);
	snprintf(root, sizeof(root), "%s", rfs);
	mkdir(rfs, 0755);
	mk("tc", S_IFDIR, NULL);
	mk("tc/sub", S_IFDIR, NULL);
	mk("tc/link", S_IFLNK, "sub/data");
	write_in_root("tc/sub/data", "hello", 0640);
	write_in_root("tc/top", "x", 0600);
	snprintf(p, sizeof(p), "%s/tc/sub", rfs);
	chmod(p, 0710);

	char *o_tc[] = { "tmpcopyup", "nosuid", NULL };
	struct husk_mount m = mnt("/tc", "tmpfs", "tmpfs", o_tc);
	struct husk_spec spec = { 0 };
	spec.root_path = rfs;
	spec.bundle = base;
	spec.mounts = &m;
	spec.n_mounts = 1;
	struct husk_rootfs_ctx ctx = { .sys = &fake, .spec = &spec, .own_mount_ns = true,
				       .console_fd = -1, .rootfs_fd = -1 };
	fake_cover_tmpfs = true;
	int r = prepare_fake(&ctx, msg, sizeof(msg));
	ok(r == 0, "tmpcopyup (%s)", msg);
	dump_log();
	ok(has_line("mount tmpfs /tc tmpfs 0x2 mode=755") && exists_in_root("tc.covered/top", S_IFREG),
	   "tmpcopyup: the tmpfs covers the image's /tc");
	ok(file_is("tc/top", "x", 0600) && file_is("tc/sub/data", "hello", 0640),
	   "tmpcopyup: files copied with their content and modes");
	struct stat st;
	snprintf(p, sizeof(p), "%s/tc/sub", rfs);
	ok(stat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0710,
	   "tmpcopyup: a directory with its mode");
	char target[64] = "";
	snprintf(p, sizeof(p), "%s/tc/link", rfs);
	ssize_t n = readlink(p, target, sizeof(target) - 1);
	ok(n == 8 && strncmp(target, "sub/data", 8) == 0, "tmpcopyup: a symlink as it was");
	ok(has_line("getdents64 /tc.covered") && has_line("getdents64 /tc.covered/sub") &&
		   has_line("write /tc/top 1") && has_line("write /tc/sub/data 5"),
	   "tmpcopyup: listed, read and written through the layer");
	ok(before("mount tmpfs /tc", "getdents64 /tc.covered"), "tmpcopyup: copied after the mount");

	/* a read failing fails the mount, naming the file */
	struct husk_error e = { 0 };
	snprintf(p, sizeof(p), "%s/tc", rfs);
	snprintf(q, sizeof(q), "%s/tc.covered", rfs);
	if (husk_rm_rf_at(AT_FDCWD, p, &e) < 0 || rename(q, p) < 0)
		printf("Bail out! reset %s\n", p);
	snprintf(p, sizeof(p), "%s/tc/sub", rfs);
	husk_rm_rf_at(AT_FDCWD, p, &e);
	snprintf(p, sizeof(p), "%s/tc/link", rfs);
	unlink(p);
	fake_read_errno = EIO;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	ok(r < 0 && strcmp(msg, "mounts[0] tmpfs on /tc: tmpcopyup: read top: Input/output error") == 0,
	   "tmpcopyup: a failed read is the mount's error (%s)", msg);
	fake_read_errno = 0;
	fake_cover_tmpfs = false;
}

/* The statvfs/statfs checks, driven by what the fake reports. */
static void test_flag_checks(void)
{
	char rfs[1024], src[1024], msg[2048], line[2048];
	snprintf(rfs, sizeof(rfs), "%s/flags", base);
	snprintf(root, sizeof(root), "%s", rfs);
	mkdir(rfs, 0755);
	mk("sys", S_IFDIR, NULL);
	snprintf(src, sizeof(src), "%s/outside", base);

	/* In a user namespace a flag locked by the mount's owner cannot be
	 * cleared: the attributes are set again keeping it, and then what
	 * was asked for must be what statvfs shows. */
	char *o_dev[] = { "bind", "ro", "dev", NULL };
	struct husk_mount m = mnt("/x", "bind", src, o_dev);
	struct husk_spec spec = { 0 };
	spec.root_path = rfs;
	spec.bundle = base;
	spec.mounts = &m;
	spec.n_mounts = 1;
	struct husk_rootfs_ctx ctx = { .sys = &fake, .spec = &spec, .own_mount_ns = true,
				       .in_userns = true, .console_fd = -1, .rootfs_fd = -1 };
	fake_setattr_eperm = MOUNT_ATTR_NODEV;
	fake_stflags = ST_NODEV | ST_RDONLY;
	int r = prepare_fake(&ctx, msg, sizeof(msg));
	dump_log();
	ok(r == 0 && has_line("setattr set=0x1 clr=0x4 prop=0 EPERM") &&
		   before("setattr set=0x1 clr=0x4 prop=0 EPERM", "setattr set=0x1 clr=0 prop=0") &&
		   before("setattr set=0x1 clr=0 prop=0", "move_mount -> /x"),
	   "userns: locked nodev kept, ro applied (%s)", msg);
	fake_stflags = ST_NODEV;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	snprintf(line, sizeof(line),
		 "mounts[0] bind on /x: %s: the kernel did not apply ro: Operation not permitted", src);
	ok(r < 0 && strcmp(msg, line) == 0 && !strstr(fake_log, "move_mount -> /x"),
	   "userns: a flag statvfs does not show fails the mount before it is attached (%s)", msg);
	fake_stflags = 0;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	snprintf(line, sizeof(line),
		 "mounts[0] bind on /x: %s: set mount attributes: Operation not permitted", src);
	ok(r < 0 && strcmp(msg, line) == 0, "userns: a flag not locked: the EPERM stands (%s)", msg);
	fake_setattr_eperm = 0;
	fake_stflags = ~0UL;
	ctx.in_userns = false;

	/* No cgroup of the container's: statfs of the host's /sys/fs/cgroup
	 * tells cgroup2 (an empty read-only tmpfs) from v1 (the v1 layout). */
	char *o_cg[] = { "nosuid", "noexec", "nodev", "relatime", "ro", NULL };
	m = mnt("/sys/fs/cgroup", "cgroup", "cgroup", o_cg);
	struct husk_cgroup *none = NULL;
	struct husk_error ne;
	ok(husk_cgroup_deserialize(NULL, &none, &ne) == 0, "the none manager");
	ctx.cgroup = none;
	fake_statfs_magic = CGROUP2_SUPER_MAGIC;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	dump_log();
	ok(r == 0 && has_line("mount tmpfs /sys/fs/cgroup tmpfs 0x20000f -"),
	   "statfs says cgroup2: an empty read-only tmpfs (%s)", msg);
	fake_statfs_magic = TMPFS_MAGIC;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	ok(r == 0 && has_line("mount tmpfs /sys/fs/cgroup tmpfs 0xe mode=755") &&
		   has_line("setattr set=0x1 clr=0 prop=0"),
	   "statfs says v1: the v1 tmpfs, made read-only (%s)", msg);
	fake_statfs_magic = 0;
	ctx.cgroup = NULL;
	husk_cgroup_free(none);

	/* Only procfs goes on /proc: a bind source's filesystem (statfs on
	 * old kernels, where it is not cloned) decides. */
	mk("proc", S_IFDIR, NULL);
	char *o_b[] = { "bind", NULL };
	m = mnt("/proc", "bind", src, o_b);
	fake.open_tree = fake_no_open_tree;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	ok(r < 0 && strcmp(msg, "mounts[0] bind on /proc: only procfs may be mounted on /proc") == 0,
	   "a bind of a non-procfs source on /proc refused (%s)", msg);
	fake_statfs_magic = PROC_SUPER_MAGIC;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	ok(r == 0, "a bind of a procfs source on /proc allowed (%s)", msg);
	fake_statfs_magic = 0;
	fake.open_tree = fake_open_tree;
}

/* verify_flags (box --isolation chroot): statvfs after every mount, one
 * bind remount keeping the flags there now, then a one-line failure. */
static void test_verify_flags(void)
{
	char rfs[1024], src[1024], msg[2048], real[PATH_MAX];
	snprintf(rfs, sizeof(rfs), "%s/verify", base);
	snprintf(root, sizeof(root), "%s", rfs);
	mkdir(rfs, 0755);
	snprintf(src, sizeof(src), "%s/outside", base);
	char *o_ro[] = { "bind", "ro", "nosuid", NULL };
	struct husk_mount m = mnt("/x", "bind", src, o_ro);
	struct husk_spec spec = { 0 };
	spec.root_path = rfs;
	spec.bundle = base;
	spec.mounts = &m;
	spec.n_mounts = 1;
	struct husk_rootfs_ctx ctx = { .sys = &fake, .spec = &spec, .own_mount_ns = true,
				       .console_fd = -1, .rootfs_fd = -1 };

	fake_stflags = 0;
	int r = prepare_fake(&ctx, msg, sizeof(msg));
	ok(r == 0 && !strstr(fake_log, "0x1023"), "off (husk run): no statvfs check, no remount (%s)",
	   msg);

	ctx.verify_flags = true;
	fake_stflags = ST_RDONLY | ST_NOSUID;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	ok(r == 0 && !strstr(fake_log, "mount - /x"), "flags there: nothing remounted (%s)", msg);

	fake_stflags = ST_NODEV | ST_NOEXEC; /* say, locked */
	fake_remount_sets = true;
	fake_remount_stflags = ST_NODEV | ST_NOEXEC | ST_RDONLY | ST_NOSUID;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	dump_log();
	ok(r == 0 && has_line("mount - /x - 0x102f -") && before("move_mount -> /x", "mount - /x - 0x102f -"),
	   "missing: a bind remount with them and the flags there now, then they stick (%s)", msg);

	fake_stflags = ST_NOSUID;
	fake_remount_sets = false;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	ok(r < 0 && has_line("mount - /x - 0x1023 -") &&
		   strcmp(msg, "mounts[0] bind on /x: mount /x: ro did not stick") == 0,
	   "still missing after the remount: one line naming the mount and the flag (%s)", msg);

	/* Recursive options: every mount below the destination, as mountinfo
	 * names them (escapes undone), reached inside the root. */
	char *o_rec[] = { "rbind", "rro", "rnodev", NULL };
	m = mnt("/x", "bind", src, o_rec);
	mk("x/sub", S_IFDIR, NULL);
	mk("x/a b", S_IFDIR, NULL);
	if (!realpath(rfs, real))
		real[0] = '\0';
	char mipath[1100];
	snprintf(mipath, sizeof(mipath), "%s/mountinfo", base);
	char *mi = xasprintf("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
			     "2 1 0:5 / %s/x rw - tmpfs tmpfs rw\n"
			     "3 2 0:6 / %s/x/sub rw - tmpfs tmpfs rw\n"
			     "4 2 0:7 / %s/x/a\\040b rw - tmpfs tmpfs rw\n"
			     "5 1 0:8 / %s/xy rw - tmpfs tmpfs rw\n",
			     real, real, real, real);
	write_in_root("../mountinfo", mi, 0644);
	free(mi);
	fake_mountinfo = mipath;
	fake_stflags = ST_RDONLY | ST_NODEV;
	fake_st_path = "/x/a b";
	fake_st_path_flags = ST_RDONLY;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	dump_log();
	ok(r < 0 && has_line("mount - /x/a b - 0x1025 -") && !strstr(fake_log, "mount - /x/sub") &&
		   strcmp(msg, "mounts[0] bind on /x: mount /x/a b: nodev did not stick") == 0,
	   "a submount without a recursive flag: remounted, then named (%s)", msg);
	fake_st_path = NULL;
	r = prepare_fake(&ctx, msg, sizeof(msg));
	ok(r == 0 && !strstr(fake_log, "mount - /x"), "every submount has them: nothing remounted (%s)",
	   msg);
	fake_mountinfo = NULL;
	fake_stflags = ~0UL;
}

/* verify_flags after the pivot: readonlyPaths, masked directories and a
 * read-only root must show ro; a masked file must be /dev/null. */
static void test_verify_final(void)
{
	char rfs[1024], msg[1024];
	snprintf(rfs, sizeof(rfs), "%s/final", base);
	snprintf(root, sizeof(root), "%s", rfs);
	mkdir(rfs, 0755);
	mk("proc", S_IFDIR, NULL);
	mk("proc/sys", S_IFDIR, NULL);
	mk("proc/acpi", S_IFDIR, NULL);
	mk("proc/kcore", S_IFREG, NULL);
	char *ro[] = { "/proc/sys", "/nonexistent" }, *masked[] = { "/proc/acpi", "/proc/kcore" };
	struct husk_spec spec = { 0 };
	spec.readonly_paths = ro;
	spec.n_readonly_paths = 2;
	spec.masked_paths = masked;
	spec.n_masked_paths = 1;
	struct husk_rootfs_ctx ctx = { .sys = &fake, .spec = &spec, .verify_flags = true,
				       .rootfs_fd = open(rfs, O_PATH | O_DIRECTORY | O_CLOEXEC) };
	struct husk_error e = { 0 };
	fake_stflags = ST_RDONLY;
	ok(rootfs_verify_final(&ctx, &e) == 0, "read-only and masked directories ro: passes");

	fake_st_path = "/proc/acpi";
	fake_st_path_flags = 0;
	fake_remount_sets = false;
	fake_log_clear();
	int r = rootfs_verify_final(&ctx, &e);
	husk_err_str(&e, msg, sizeof(msg));
	ok(r < 0 && strcmp(msg, "mount /proc/acpi: ro did not stick") == 0,
	   "a masked directory that is not read-only: one line (%s)", msg);
	fake_st_path = NULL;

	spec.n_masked_paths = 2;
	husk_err_clear(&e);
	r = rootfs_verify_final(&ctx, &e);
	husk_err_str(&e, msg, sizeof(msg));
	ok(r < 0 && strcmp(msg, "maskedPaths: /proc/kcore: not masked by /dev/null") == 0,
	   "a masked file that is not /dev/null: one line (%s)", msg);
	spec.n_masked_paths = 1;

	spec.root_readonly = true;
	fake_stflags = 0;
	husk_err_clear(&e);
	r = rootfs_verify_final(&ctx, &e);
	husk_err_str(&e, msg, sizeof(msg));
	ok(r < 0 && strcmp(msg, "mount /proc/sys: ro did not stick") == 0,
	   "a readonlyPath that is not read-only: one line (%s)", msg);
	spec.n_readonly_paths = 0;
	spec.n_masked_paths = 0;
	husk_err_clear(&e);
	r = rootfs_verify_final(&ctx, &e);
	husk_err_str(&e, msg, sizeof(msg));
	ok(r < 0 && strcmp(msg, "mount /: ro did not stick") == 0,
	   "root.readonly that did not stick: one line (%s)", msg);
	close(ctx.rootfs_fd);
	fake_stflags = ~0UL;
}

int main(void)
{
	umask(022);
	if (!mkdtemp(base)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/outside", base);
	mkdir(p, 0755);
	fake_root = root;
	fake_sys_init();
	test_rootfs_sequence();
	test_rootfs_errors();
	test_rootfs_overlay();
	test_rootfs_cgroup();
	test_rootfs_binds();
	test_tmpcopyup();
	test_flag_checks();
	test_verify_flags();
	test_verify_final();
	test_pivot();
	struct husk_error e = { 0 };
	husk_rm_rf_at(AT_FDCWD, base, &e);
	return tap_done();
}
