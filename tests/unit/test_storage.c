/* Unit tests (TAP) for the storage drivers' parts that need no root: the
 * overlay's mount options (lowerdir order, the page limit), the vfs copy
 * of layers in a temp dir (whiteouts, opaque dirs, hard links, symlinks,
 * modes, times, xattrs, holes) compared with what is expected, and the
 * lookup through a stack of layers (whiteouts, opaque dirs, symlinks
 * across layers, ".." at the root). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "spec.h"
#include "storage.h"
#include "util.h"
#include "tap.h"
#include "tree.h"

static char base[] = "/tmp/husk-test-storage-XXXXXX";
static bool rootless;  /* the opaque xattr a user may set: user.* */

static void put(const char *rel, const char *data, mode_t mode)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", base, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || write(fd, data, strlen(data)) < 0)
		abort();
	fchmod(fd, mode);
	close(fd);
}

static bool whiteout(const char *rel)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", base, rel);
	return mknod(p, S_IFCHR | 0, makedev(0, 0)) == 0;
}

static void opaque(const char *rel)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", base, rel);
	if (setxattr(p, husk_storage_opaque_xattr(rootless), "y", 1, 0) < 0)
		abort();
}

static int dirfd_of(const char *rel)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", base, rel);
	return open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static char *slurp(int fd)
{
	static char buf[256];
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	return buf;
}

static void test_overlay_options(void)
{
	struct husk_error e = { 0 };
	char *s = NULL;
	int r = husk_overlay_options("/run/husk/c1", NULL, 3, &s, &e);
	ok(r == 0 &&
	   !strcmp(s, "lowerdir=/run/husk/c1/lower/2:/run/husk/c1/lower/1:/run/husk/c1/lower/0,"
		      "upperdir=/run/husk/c1/upper,workdir=/run/husk/c1/work"),
	   "lowerdir top-most first, through the state dir's links: %s", s ? s : "(null)");
	free(s);
	s = NULL;
	/* past a page: the same options, which the init then mounts through
	 * the new mount API (test_rootfs) */
	ok(husk_overlay_options("/run/husk/c1", NULL, 500, &s, &e) == 0 &&
	   strlen(s) > HUSK_OVERLAY_DATA_MAX && strstr(s, "lowerdir=/run/husk/c1/lower/499:") &&
	   strstr(s, ":/run/husk/c1/lower/0,upperdir="), "500 layers: past a page, all listed");
	free(s);
	s = NULL;
	/* called before ok(): its arguments are evaluated in no set order */
	const char *lowers[] = { "/img/l0", "/img/l1" };
	r = husk_overlay_options("/run/husk/c1", lowers, 2, &s, &e);
	ok(r == 0 &&
	   !strcmp(s, "lowerdir=/img/l1:/img/l0,upperdir=/run/husk/c1/upper,workdir=/run/husk/c1/work"),
	   "the layers' own paths, top-most first: %s", s ? s : "(null)");
	free(s);
	s = NULL;
	ok(husk_overlay_options("/run/a,b", NULL, 1, &s, &e) < 0, "a state dir with ',' refused");
	ok(husk_overlay_options("/run/husk/c1", NULL, 0, &s, &e) < 0, "no layers refused");
}

static void test_map_id(void)
{
	struct husk_id_mapping m[2] = { { 0, 100000, 1000 }, { 5000, 300000, 10 } };
	uint32_t h = 0;
	ok(husk_storage_map_id(m, 2, 0, &h) == 0 && h == 100000, "0 -> 100000");
	ok(husk_storage_map_id(m, 2, 999, &h) == 0 && h == 100999, "the range's last id");
	ok(husk_storage_map_id(m, 2, 5009, &h) == 0 && h == 300009, "a second range");
	ok(husk_storage_map_id(m, 2, 1000, &h) < 0 && husk_storage_map_id(m, 2, 5010, &h) < 0,
	   "ids past the ranges are unmapped");
	ok(husk_storage_map_id(NULL, 0, 1234, &h) == 0 && h == 1234, "no mapping: the id itself");
}

/* root: the vfs copy shifted through a mapping, in root_dir; an owner
 * outside the mapping is one clear error. */
static void test_vfs_shift(void)
{
	if (rootless) {
		diag_str("skip", "vfs shift: needs root to chown");
		return;
	}
	char l0[512], l1[512], state[512], other[512];
	snprintf(l0, sizeof(l0), "%s/l0", base);
	snprintf(l1, sizeof(l1), "%s/l1", base);
	tree_mk(base, "state", S_IFDIR, NULL);
	tree_mk(base, "other", S_IFDIR, NULL);
	snprintf(state, sizeof(state), "%s/state", base);
	snprintf(other, sizeof(other), "%s/other", base);
	char p[600];
	snprintf(p, sizeof(p), "%s/l1/x/a", base);
	if (chown(p, 1000, 50) < 0)
		abort();
	const char *layers[] = { l0, l1 };
	struct husk_id_mapping u = { 0, 100000, 65536 }, g = { 0, 200000, 65536 };
	struct husk_storage_opts o = { .layers = layers, .n_layers = 2, .uid_map = &u, .n_uid_map = 1,
				       .gid_map = &g, .n_gid_map = 1, .root_dir = other };
	struct husk_error e = { 0 };
	char *root = NULL, *ov = NULL;
	int sfd = dirfd_of("state");
	ok(husk_storage_vfs.prepare(sfd, state, &o, &root, &ov, &e) == 0, "shifted copy made (%s)",
	   e.msg);
	char want[600];
	snprintf(want, sizeof(want), "%s/rootfs", other);
	ok(root && !strcmp(root, want) && !ov, "in root_dir: %s", root ? root : "(null)");
	struct stat st;
	snprintf(p, sizeof(p), "%s/rootfs/x/a", other);
	ok(stat(p, &st) == 0 && st.st_uid == 101000 && st.st_gid == 200050 &&
	   (st.st_mode & 07777) == 0640, "a file's owner shifted, its mode kept");
	snprintf(p, sizeof(p), "%s/rootfs/etc/passwd", other);
	ok(stat(p, &st) == 0 && st.st_uid == 100000 && (st.st_mode & 07777) == 04755,
	   "root's file owned by the mapped root, setuid kept");
	snprintf(p, sizeof(p), "%s/rootfs", other);
	ok(stat(p, &st) == 0 && st.st_uid == 100000 && st.st_gid == 200000, "the root too");
	ok(!tree_has(base, "state/rootfs", 0), "nothing in the state directory");
	free(root);
	root = NULL;
	tree_mk(base, "other2", S_IFDIR, NULL);
	snprintf(other, sizeof(other), "%s/other2", base);
	u.size = 1000;
	ok(husk_storage_vfs.prepare(sfd, state, &o, &root, &ov, &e) < 0 &&
	   strstr(e.msg, ": owner 1000:50 is outside the user namespace's mapping"),
	   "an unmapped owner: %s", e.msg);
	close(sfd);
	free(root);
}

/* l0: a base; l1: a whiteout, an opaque dir, a new file replacing a dir,
 * hard links, a symlink, a sparse file; applied onto out/. */
static void make_layers(void)
{
	const char *dirs[] = { "l0", "l0/etc", "l0/opq", "l0/opq/sub", "l0/d", "l1", "l1/opq",
			       "l1/etc", "l1/x", "out" };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		tree_mk(base, dirs[i], S_IFDIR, NULL);
	put("l0/etc/passwd", "root\n", 0644);
	put("l0/etc/gone", "gone\n", 0644);
	put("l0/opq/old", "old\n", 0644);
	put("l0/opq/sub/deep", "deep\n", 0644);
	put("l0/d/f", "in a dir\n", 0644);
	put("l0/bin", "a file, replaced\n", 0755);
	put("l1/etc/passwd", "root\nuser\n", 04755);
	put("l1/opq/new", "new\n", 0600);
	opaque("l1/opq");
	put("l1/x/a", "linked\n", 0640);
	char a[512], b[512];
	snprintf(a, sizeof(a), "%s/l1/x/a", base);
	snprintf(b, sizeof(b), "%s/l1/x/b", base);
	if (link(a, b) < 0 || setxattr(a, "user.k", "v", 1, 0) < 0)
		abort();
	tree_mk(base, "l1/x/sym", S_IFLNK, "a");
	tree_mk(base, "l1/bin", S_IFDIR, NULL);
	/* sparse: 1 MiB hole, then data */
	char sp[512];
	snprintf(sp, sizeof(sp), "%s/l1/x/sparse", base);
	int fd = open(sp, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || pwrite(fd, "end", 3, 1 << 20) != 3)
		abort();
	close(fd);
	struct timespec ts[2] = { { 1000, 0 }, { 1600000000, 0 } };
	utimensat(AT_FDCWD, a, ts, 0);
}

static bool has_wh;

static void test_vfs_apply(void)
{
	make_layers();
	has_wh = whiteout("l1/etc/gone") && whiteout("l1/d");
	struct husk_error e = { 0 };
	int out = dirfd_of("out");
	for (int i = 0; i < 2; i++) {
		int l = dirfd_of(i ? "l1" : "l0");
		ok(husk_vfs_apply(l, out, rootless, &e) == 0, "layer %d applied", i);
		close(l);
	}
	close(out);
	char p[512];
	struct stat st, st2;
	snprintf(p, sizeof(p), "%s/out/etc/passwd", base);
	ok(stat(p, &st) == 0 && (st.st_mode & 07777) == 04755 && st.st_size == 10,
	   "the upper file wins, setuid kept");
	if (has_wh) {
		ok(!tree_has(base, "out/etc/gone", 0) && !tree_has(base, "out/d", 0),
		   "whiteouts remove a file and a directory");
	}
	ok(tree_has(base, "out/opq/new", S_IFREG) && !tree_has(base, "out/opq/old", 0) &&
	   !tree_has(base, "out/opq/sub", 0), "the opaque dir hides what was below");
	ok(tree_has(base, "out/bin", S_IFDIR), "a directory replaces a file");
	snprintf(p, sizeof(p), "%s/out/x/a", base);
	char q[512];
	snprintf(q, sizeof(q), "%s/out/x/b", base);
	ok(stat(p, &st) == 0 && stat(q, &st2) == 0 && st.st_ino == st2.st_ino && st.st_nlink == 2,
	   "hard links stay hard links");
	ok(st.st_mtime == 1600000000 && (st.st_mode & 0777) == 0640, "times and mode copied");
	char v[8];
	ok(getxattr(p, "user.k", v, sizeof(v)) == 1 && v[0] == 'v', "user xattr copied");
	char opq[512];
	snprintf(opq, sizeof(opq), "%s/out/opq", base);
	ok(getxattr(opq, husk_storage_opaque_xattr(rootless), v, sizeof(v)) < 0,
	   "overlay's own xattrs are not copied");
	char t[64] = "";
	snprintf(p, sizeof(p), "%s/out/x/sym", base);
	ok(readlink(p, t, sizeof(t) - 1) == 1 && t[0] == 'a', "symlink copied");
	snprintf(p, sizeof(p), "%s/out/x/sparse", base);
	ok(stat(p, &st) == 0 && st.st_size == (1 << 20) + 3 && st.st_blocks * 512 < (1 << 19),
	   "a sparse file stays sparse (%lld blocks)", (long long)st.st_blocks);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	char end[4] = "";
	ok(fd >= 0 && pread(fd, end, 3, 1 << 20) == 3 && !memcmp(end, "end", 3), "its data copied");
	if (fd >= 0)
		close(fd);
	snprintf(p, sizeof(p), "%s/l0/opq/old", base);
	ok(access(p, F_OK) == 0, "the layers are untouched");
}

static void test_lookup(void)
{
	int fds[2] = { dirfd_of("l0"), dirfd_of("l1") };
	const char *x = husk_storage_opaque_xattr(rootless);
	ok(!strcmp(slurp(husk_layers_open(fds, 2, x, "/etc/passwd", O_RDONLY)), "root\nuser\n"),
	   "the top-most layer's file");
	ok(!strcmp(slurp(husk_layers_open(fds, 2, x, "d/../d/f", O_RDONLY)), has_wh ? "" : "in a dir\n"),
	   "a whited-out directory is gone (or merged without whiteouts)");
	ok(husk_layers_open(fds, 2, x, "/opq/old", O_RDONLY) == -ENOENT, "an opaque dir hides below");
	ok(!strcmp(slurp(husk_layers_open(fds, 2, x, "/opq/new", O_RDONLY)), "new\n"), "its own entries");
	if (has_wh)
		ok(husk_layers_open(fds, 2, x, "etc/gone", O_RDONLY) == -ENOENT, "a whiteout hides a file");
	ok(!strcmp(slurp(husk_layers_open(fds, 2, x, "x/sym", O_RDONLY)), "linked\n"), "a symlink followed");
	ok(husk_layers_open(fds, 2, x, "x/sym", O_RDONLY | O_NOFOLLOW) == -ELOOP,
	   "O_NOFOLLOW: not followed");
	ok(!strcmp(slurp(husk_layers_open(fds, 2, x, "../../../etc/passwd", O_RDONLY)), "root\nuser\n"),
	   "\"..\" stops at the root");
	/* a symlink of the top layer to a file of the bottom one, absolute */
	tree_mk(base, "l1/up", S_IFLNK, "/../d/f");
	ok(!strcmp(slurp(husk_layers_open(fds, 2, x, "/up", O_RDONLY)), has_wh ? "" : "in a dir\n"),
	   "an absolute symlink resolved in the union");
	tree_mk(base, "l1/tobase", S_IFLNK, "/etc/../opq/new");
	ok(!strcmp(slurp(husk_layers_open(fds, 2, x, "tobase", O_RDONLY)), "new\n"),
	   "a symlink through dirs of both layers");
	tree_mk(base, "l1/loop", S_IFLNK, "loop");
	ok(husk_layers_open(fds, 2, x, "loop", O_RDONLY) == -ELOOP, "a symlink loop ends");
	ok(husk_layers_open(fds, 2, x, "bin/x", O_RDONLY) == -ENOENT, "a dir over a file: its own");
	ok(husk_layers_open(fds, 2, x, "etc/passwd/x", O_RDONLY) == -ENOTDIR, "a file is no dir");
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	if (!mkdtemp(base))
		return 1;
	rootless = geteuid() != 0;
	test_overlay_options();
	test_vfs_apply();
	test_lookup();
	test_map_id();
	test_vfs_shift();
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	if (system(cmd) != 0)
		diag_str("cleanup", base);
	return tap_done();
}
