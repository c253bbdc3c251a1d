/* The cgroupfs manager run against a tree made here, in a temporary
 * directory, without root: a fake mkdirat fills each new directory with the
 * files the kernel would make, a fake write logs what goes to which file
 * (and sets cgroup.events as v2's cgroup.freeze does), a fake rmdir removes
 * a cgroup with its files as the kernel does.  Covers the shared-cgroupsPath
 * race (the directory removed between mkdir and the limit writes: made
 * again, limits set again), v1 device rules as a diff of devices.list
 * (allows first, then denies), the v1 -> v2 conversions as written to the
 * files, destroy, pids, freeze and thaw, and the v1 cpuset copy. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "cgroup/cgroup_internal.h"
#include "tap.h"
#include "util.h"

static char base[256];
static char wlog[16384]; /* "file=value\n" per write, in order */

static void put(const char *dir, const char *file, const char *text)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		ok(false, "write %s", p);
	if (fd >= 0)
		close(fd);
}

static char *get(const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", base, rel);
	char *text = NULL;
	struct husk_error e;
	if (husk_read_file_at(AT_FDCWD, p, &text, NULL, &e) < 0)
		return xstrdup("<missing>");
	return text;
}

/* The files a new cgroup directory has, by hierarchy. */
static void populate(const char *dir)
{
	const char *rel = dir + strlen(base) + 1;
	if (!strncmp(rel, "memory/", 7)) {
		put(dir, "memory.limit_in_bytes", "");
		put(dir, "cgroup.procs", "");
		put(dir, "tasks", "");
	} else if (!strncmp(rel, "devices/", 8)) {
		put(dir, "devices.list", "a *:* rwm\n"); /* a child starts as its parent */
		put(dir, "devices.allow", "");
		put(dir, "devices.deny", "");
		put(dir, "cgroup.procs", "");
	} else if (!strncmp(rel, "v2/", 3) || !strncmp(rel, "v2f/", 4)) {
		static const char *const f[] = { "cgroup.procs", "cgroup.subtree_control", "cpu.weight",
						 "cpu.max", "io.weight", "memory.max", "memory.swap.max",
						 "pids.max" };
		for (size_t i = 0; i < ARRAY_SIZE(f); i++)
			put(dir, f[i], "");
		put(dir, "cgroup.freeze", "0\n");
		put(dir, "cgroup.events", "populated 0\nfrozen 0\n");
	} else if (!strncmp(rel, "cpuset/", 7)) {
		put(dir, "cpuset.cpus", ""); /* empty until filled in */
		put(dir, "cpuset.mems", "");
		put(dir, "cgroup.procs", "");
	} else if (!strncmp(rel, "freezer/", 8)) {
		put(dir, "freezer.state", "THAWED\n");
		put(dir, "cgroup.procs", "");
	}
}

static int fake_mkdirat(int dfd, const char *path, mode_t mode)
{
	if (mkdirat(dfd, path, mode) < 0)
		return -1;
	char link[64], at[PATH_MAX], full[PATH_MAX * 2];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dfd);
	ssize_t n = readlink(link, at, sizeof(at) - 1);
	at[n > 0 ? n : 0] = '\0';
	snprintf(full, sizeof(full), "%s/%s", at, path);
	populate(full);
	return 0;
}

static ssize_t fake_write(int fd, const void *buf, size_t len)
{
	char link[64], at[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, at, sizeof(at) - 1);
	at[n > 0 ? n : 0] = '\0';
	const char *slash = strrchr(at, '/');
	size_t l = strlen(wlog);
	snprintf(wlog + l, sizeof(wlog) - l, "%s=%.*s\n", slash ? slash + 1 : at, (int)len,
		 (const char *)buf);
	if (slash && !strcmp(slash + 1, "cgroup.freeze") && len > 0) {
		/* v2 reports the freeze done in cgroup.events */
		at[slash - at] = '\0';
		put(at, "cgroup.events", ((const char *)buf)[0] == '1' ? "populated 0\nfrozen 1\n"
									: "populated 0\nfrozen 0\n");
	}
	return write(fd, buf, len);
}

/* rmdir of a cgroup: refused while it has processes or cgroups below it,
 * its files go with it (a plain directory needs them removed first). */
static int fake_unlinkat(int dfd, const char *path, int flags)
{
	if (!(flags & AT_REMOVEDIR))
		return unlinkat(dfd, path, flags);
	int fd = openat(dfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char procs[64] = "";
	int pfd = openat(fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	if (pfd >= 0) {
		if (read(pfd, procs, sizeof(procs) - 1) < 0)
			procs[0] = '\0';
		close(pfd);
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	struct dirent *de;
	bool busy = procs[0] != '\0';
	while (!busy && (de = readdir(d)))
		busy = de->d_type == DT_DIR && strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	rewinddir(d);
	while (!busy && (de = readdir(d)))
		if (de->d_type != DT_DIR)
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	if (busy) {
		errno = EBUSY;
		return -1;
	}
	return unlinkat(dfd, path, AT_REMOVEDIR);
}

static const struct husk_cg_sys fake = {
	.statfs = NULL, .mkdirat = fake_mkdirat, .write = fake_write, .unlinkat = fake_unlinkat
};

static void mkdirs(const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", base, rel);
	struct husk_error e;
	if (husk_mkdir_p(p, 0755, &e) < 0)
		ok(false, "mkdir %s", p);
}

static struct husk_cgroup *create(enum cg_layout kind, struct cg_mount *m, size_t n, const char *path)
{
	struct husk_cg_layout l = { .root = base, .sys = &fake, .kind = kind, .m = m, .n = n };
	struct husk_spec spec = { 0 };
	spec.cgroups_path = (char *)path;
	struct husk_cgroup *cg = NULL;
	struct husk_error e;
	if (husk_cgfs_create(&l, &spec, "c1", &cg, &e) < 0) {
		char why[HUSK_ERR_MSG_MAX + 64];
		ok(false, "create: %s", husk_err_str(&e, why, sizeof(why)));
		return NULL;
	}
	return cg;
}

static int apply(struct husk_cgroup *cg, const char *res_json, char *why, size_t len)
{
	json_t *doc = json_loads(res_json, 0, NULL);
	struct husk_resources res;
	struct husk_error e;
	int r = husk_resources_parse(doc, &res, &e);
	json_decref(doc);
	if (r == 0)
		r = husk_cgfs_apply(cg, &res, &e);
	husk_resources_free(&res);
	if (r < 0)
		husk_err_str(&e, why, len);
	else
		snprintf(why, len, "ok");
	return r;
}

static char mp_mem[PATH_MAX], mp_dev[PATH_MAX], mp_v2[PATH_MAX];

static void v1_layout(struct cg_mount m[2])
{
	snprintf(mp_mem, sizeof(mp_mem), "%s/memory", base);
	snprintf(mp_dev, sizeof(mp_dev), "%s/devices", base);
	m[0] = (struct cg_mount){ .ctrl = "memory", .mountpoint = mp_mem, .root = "/" };
	m[1] = (struct cg_mount){ .ctrl = "devices", .mountpoint = mp_dev, .root = "/" };
}

/* A container sharing its cgroupsPath: another one's delete removes the
 * directory after our mkdir; the writes make it again and set the limits
 * in the new one, and so does the join. */
static void test_shared_path_removed(void)
{
	struct cg_mount m[2];
	v1_layout(m);
	mkdirs("memory");
	mkdirs("devices");
	struct husk_cgroup *cg = create(CG_V1, m, 2, "/shared/c1");
	if (!cg)
		return;
	char *t = get("memory/shared/c1/memory.limit_in_bytes");
	ok(!strcmp(t, ""), "create: the directory made, the kernel's files in it");
	free(t);
	ok(cg->h[0].created == 2, "create: two directories counted as ours (%d)", cg->h[0].created);

	char cmd[PATH_MAX + 32], why[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s/memory/shared", base);
	ok(system(cmd) == 0, "a concurrent delete removes the shared path");
	int r = apply(cg, "{\"memory\":{\"limit\":104857600}}", why, sizeof(why));
	t = get("memory/shared/c1/memory.limit_in_bytes");
	ok(r == 0 && !strcmp(t, "104857600"), "apply: made again and the limit set (%s; %s)", why, t);
	free(t);

	/* removed once more before the init joins: made again, limits again */
	ok(system(cmd) == 0, "removed again before the join");
	struct husk_error e;
	r = husk_cgfs_enter(cg, getpid(), NULL, &e);
	t = get("memory/shared/c1/memory.limit_in_bytes");
	char *procs = get("memory/shared/c1/cgroup.procs");
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	ok(r == 0 && !strcmp(t, "104857600") && !strcmp(procs, pid),
	   "enter: made again, the pid in it and the limit set again (%s, %s)", t, procs);
	free(t);
	free(procs);
	/* (no destroy: a plain directory with files in it is no cgroup) */
	husk_cgroup_free(cg);
}

/* systemd (or another delete) removed the cgroup once its processes were
 * gone: kill --all and delete --force find nothing to kill, no error. */
static void test_kill_vanished_cgroup(void)
{
	struct cg_mount m[2];
	v1_layout(m);
	mkdirs("memory");
	mkdirs("devices");
	struct husk_cgroup *cg = create(CG_V1, m, 2, "/gone/c1");
	if (!cg)
		return;
	char cmd[PATH_MAX + 32];
	snprintf(cmd, sizeof(cmd), "rm -rf %s/memory/gone %s/devices/gone", base, base);
	ok(system(cmd) == 0, "the cgroup goes before the kill");
	struct husk_error e = { 0 };
	pid_t *pids = NULL;
	size_t n = 1;
	int r = husk_cgfs_pids(cg, &pids, &n, &e);
	ok(r == 0 && n == 0, "pids of a vanished cgroup: none (%d, %zu, %s)", r, n, e.msg);
	free(pids);
	r = husk_cgfs_kill(cg, SIGTERM, true, &e);
	ok(r == 0, "kill --all of a vanished cgroup: nothing to do (%s)", r ? e.msg : "");
	husk_cgroup_free(cg);
}

/* v1 devices: the cgroup allows some devices already (containers share
 * it, or `update`): only the difference is written, allows first. */
static void test_devices_v1_diff(void)
{
	struct cg_mount m[2];
	v1_layout(m);
	struct husk_cgroup *cg = create(CG_V1, m, 2, "/devs/c1");
	if (!cg)
		return;
	char dir[PATH_MAX + 32], why[512];
	snprintf(dir, sizeof(dir), "%s/devices/devs/c1", base);
	/* allows /dev/null (a default rule) and a block device the new rules do not */
	put(dir, "devices.list", "c 1:3 rwm\nb 8:0 rwm\n");
	wlog[0] = '\0';
	int r = apply(cg, "{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
			  "{\"allow\":true,\"type\":\"c\",\"major\":10,\"minor\":200,\"access\":\"rwm\"}]}",
		      why, sizeof(why));
	const char *first_deny = strstr(wlog, "devices.deny=");
	const char *last_allow = NULL;
	for (const char *p = wlog; (p = strstr(p, "devices.allow=")); p++)
		last_allow = p;
	ok(r == 0 && last_allow && first_deny && last_allow < first_deny,
	   "allows are written before denies (%s)", why);
	diag_str("writes", wlog);
	ok(strstr(wlog, "devices.deny=b 8:0 rwm") != NULL, "the block device no rule keeps is denied");
	ok(!strstr(wlog, "devices.deny=a"), "no deny-all: access the rules keep is never lost");
	ok(!strstr(wlog, "devices.allow=c 1:3 rwm"), "what is allowed already is not written again");
	ok(strstr(wlog, "devices.allow=c 10:200 rwm") != NULL, "the new rule is allowed");
	husk_cgroup_free(cg);
}

/* v1 values written to v2 files as runc converts them. */
static void test_v2_conversions(void)
{
	snprintf(mp_v2, sizeof(mp_v2), "%s/v2", base);
	mkdirs("v2");
	put(mp_v2, "cgroup.controllers", "cpu io memory pids\n");
	put(mp_v2, "cgroup.subtree_control", "");
	struct cg_mount m[1] = { { .ctrl = "", .mountpoint = mp_v2, .root = "/" } };
	struct husk_cgroup *cg = create(CG_V2, m, 1, "/conv/c1");
	if (!cg)
		return;
	cg->no_device_rules = true; /* no eBPF program on a plain directory */
	char why[512];
	wlog[0] = '\0';
	int r = apply(cg, "{\"cpu\":{\"shares\":1024,\"quota\":50000,\"period\":100000},"
			  "\"blockIO\":{\"weight\":500},"
			  "\"memory\":{\"limit\":104857600,\"swap\":209715200},\"pids\":{\"limit\":64}}",
		      why, sizeof(why));
	ok(r == 0, "apply on v2 (%s)", why);
	char *t = get("v2/conv/c1/cpu.weight");
	ok(!strcmp(t, "39"), "cpu.shares 1024 -> cpu.weight 39 (%s)", t);
	free(t);
	t = get("v2/conv/c1/cpu.max");
	ok(!strcmp(t, "50000 100000"), "cpu quota/period -> cpu.max \"50000 100000\" (%s)", t);
	free(t);
	t = get("v2/conv/c1/io.weight");
	char want[64];
	snprintf(want, sizeof(want), "default %llu", (unsigned long long)husk_cg_blkio_to_io_weight(500));
	ok(!strcmp(t, want) && strcmp(want, "default 500") != 0, "blkio weight 500 -> io.weight \"%s\" (%s)",
	   want, t);
	free(t);
	t = get("v2/conv/c1/memory.max");
	ok(!strcmp(t, "104857600"), "memory limit -> memory.max (%s)", t);
	free(t);
	t = get("v2/conv/c1/memory.swap.max");
	ok(!strcmp(t, "104857600"), "v1 swap (memory+swap) 200M with limit 100M -> memory.swap.max 100M (%s)", t);
	free(t);
	t = get("v2/cgroup.subtree_control");
	ok(t[0] == '+', "controllers enabled below the root (%s)", t);
	free(t);
	husk_cgroup_free(cg);
}

static bool exists(const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", base, rel);
	struct stat st;
	return stat(p, &st) == 0;
}

/* destroy takes away what create made (and the sub-cgroups the container
 * made), deepest first; a parent that existed before stays, and so does one
 * a sibling still uses. */
static void test_destroy(void)
{
	struct cg_mount m[2];
	v1_layout(m);
	mkdirs("memory/pre");
	struct husk_cgroup *cg = create(CG_V1, m, 2, "/pre/mid/c1");
	if (!cg)
		return;
	ok(cg->h[0].created == 2 && cg->h[1].created == 3, "create: 2 and 3 directories ours (%d, %d)",
	   cg->h[0].created, cg->h[1].created);
	mkdirs("memory/pre/mid/c1/sub"); /* the container made a cgroup of its own */
	mkdirs("devices/pre/mid/c2");     /* a sibling of another container */
	struct husk_error e = { 0 };
	int r = husk_cgfs_destroy(cg, &e);
	ok(r == 0, "destroy (%s)", r ? e.msg : "ok");
	ok(!exists("memory/pre/mid") && exists("memory/pre"),
	   "memory: c1, its sub-cgroup and mid are gone, the parent that was there stays");
	ok(!exists("devices/pre/mid/c1") && exists("devices/pre/mid/c2") && exists("devices/pre"),
	   "devices: c1 is gone, the parent a sibling uses stays (with its own parent)");
	ok(cg->h[0].created == 0 && cg->h[1].created == 0, "nothing counted as ours any more");
	r = husk_cgfs_destroy(cg, &e);
	ok(r == 0 && exists("devices/pre/mid/c2"), "a second destroy removes nothing");
	husk_cgroup_free(cg);
}

/* A cgroup removed already (systemd, a sharing container's delete): the
 * parents we made still go, no error. */
static void test_destroy_gone(void)
{
	struct cg_mount m[2];
	v1_layout(m);
	struct husk_cgroup *cg = create(CG_V1, m, 2, "/went/c1");
	if (!cg)
		return;
	char cmd[PATH_MAX + 32];
	snprintf(cmd, sizeof(cmd), "rm -rf %s/memory/went/c1", base);
	ok(system(cmd) == 0, "the cgroup goes before the delete");
	struct husk_error e = { 0 };
	int r = husk_cgfs_destroy(cg, &e);
	ok(r == 0 && !exists("memory/went") && !exists("devices/went"),
	   "destroy: ENOENT is done, the parent we made removed too (%s)", r ? e.msg : "ok");
	husk_cgroup_free(cg);
}

static int cmp_pid(const void *a, const void *b)
{
	return *(const pid_t *)a - *(const pid_t *)b;
}

/* ps: cgroup.procs of the container's cgroup and of the cgroups below it. */
static void test_pids(void)
{
	struct cg_mount m[2];
	v1_layout(m);
	struct husk_cgroup *cg = create(CG_V1, m, 2, "/ps/c1");
	if (!cg)
		return;
	char dir[PATH_MAX + 32];
	snprintf(dir, sizeof(dir), "%s/memory/ps/c1", base);
	put(dir, "cgroup.procs", "11\n10\n");
	mkdirs("memory/ps/c1/sub/deeper");
	snprintf(dir, sizeof(dir), "%s/memory/ps/c1/sub", base);
	put(dir, "cgroup.procs", "12\n");
	snprintf(dir, sizeof(dir), "%s/memory/ps/c1/sub/deeper", base);
	put(dir, "cgroup.procs", "13\n");
	snprintf(dir, sizeof(dir), "%s/memory/ps", base);
	put(dir, "cgroup.procs", "99\n"); /* the parent's: not the container's */
	pid_t *pids = NULL;
	size_t n = 0;
	struct husk_error e = { 0 };
	int r = husk_cgfs_pids(cg, &pids, &n, &e);
	if (r == 0 && n)
		qsort(pids, n, sizeof(*pids), cmp_pid);
	ok(r == 0 && n == 4 && pids[0] == 10 && pids[1] == 11 && pids[2] == 12 && pids[3] == 13,
	   "pids: the cgroup's and its sub-cgroups' (%d, %zu)", r, n);
	free(pids);
	husk_cgroup_free(cg);
}

static void freeze_cycle(struct husk_cgroup *cg, const char *file, const char *frozen, const char *thawed)
{
	struct husk_error e = { 0 };
	char *t;
	wlog[0] = '\0';
	int r = husk_cgfs_freeze(cg, true, &e);
	t = get(file);
	ok(r == 0 && !strcmp(t, frozen) && husk_cgfs_frozen(cg), "freeze: %s says %s (%s)", file, t,
	   r ? e.msg : "ok");
	free(t);
	r = husk_cgfs_check_reused(cg, &e);
	ok(r < 0 && strstr(e.msg, "is frozen"), "a frozen cgroup is refused for a new container");
	r = husk_cgfs_freeze(cg, false, &e);
	t = get(file);
	ok(r == 0 && !strcmp(t, thawed) && !husk_cgfs_frozen(cg), "thaw: %s says %s (%s)", file, t,
	   r ? e.msg : "ok");
	free(t);
	diag_str("writes", wlog);
}

static void test_freeze_v1(void)
{
	static char mp[PATH_MAX];
	snprintf(mp, sizeof(mp), "%s/freezer", base);
	mkdirs("freezer");
	struct cg_mount m[1] = { { .ctrl = "freezer", .mountpoint = mp, .root = "/" } };
	struct husk_cgroup *cg = create(CG_V1, m, 1, "/fz/c1");
	if (!cg)
		return;
	freeze_cycle(cg, "freezer/fz/c1/freezer.state", "FROZEN", "THAWED");
	husk_cgroup_free(cg);
}

static void test_freeze_v2(void)
{
	static char mp[PATH_MAX];
	snprintf(mp, sizeof(mp), "%s/v2f", base);
	mkdirs("v2f");
	put(mp, "cgroup.controllers", "");
	struct cg_mount m[1] = { { .ctrl = "", .mountpoint = mp, .root = "/" } };
	struct husk_cgroup *cg = create(CG_V2, m, 1, "/fz/c1");
	if (!cg)
		return;
	freeze_cycle(cg, "v2f/fz/c1/cgroup.freeze", "1", "0");
	char *t = get("v2f/fz/c1/cgroup.events");
	ok(strstr(t, "frozen 0") != NULL, "thawed: cgroup.events says frozen 0");
	free(t);
	husk_cgroup_free(cg);
}

/* v1 cpuset: a directory made gets the parent's cpus and mems (it could
 * take no task otherwise); one that was there keeps its own.  A parent
 * made by a concurrent create and not filled in yet is filled when the
 * cgroup is made again. */
static void test_cpuset_v1(void)
{
	static char mp[PATH_MAX];
	snprintf(mp, sizeof(mp), "%s/cpuset", base);
	mkdirs("cpuset/own");
	mkdirs("cpuset/late");
	put(mp, "cpuset.cpus", "0-3\n");
	put(mp, "cpuset.mems", "0\n");
	snprintf(mp + strlen(mp), sizeof(mp) - strlen(mp), "/own");
	put(mp, "cpuset.cpus", "1\n");
	put(mp, "cpuset.mems", "0\n");
	mp[strlen(mp) - 4] = '\0';
	char late[PATH_MAX + 8];
	snprintf(late, sizeof(late), "%s/late", mp);
	put(late, "cpuset.cpus", "");
	put(late, "cpuset.mems", "");
	struct cg_mount m[1] = { { .ctrl = "cpuset", .mountpoint = mp, .root = "/" } };

	struct husk_cgroup *cg = create(CG_V1, m, 1, "/cs/c1");
	char *a = get("cpuset/cs/cpuset.cpus"), *b = get("cpuset/cs/c1/cpuset.cpus");
	char *c = get("cpuset/cs/c1/cpuset.mems");
	ok(cg && !strcmp(a, "0-3\n") && !strcmp(b, "0-3\n") && !strcmp(c, "0\n"),
	   "new directories get the parent's cpus and mems");
	free(a), free(b), free(c);
	husk_cgroup_free(cg);

	cg = create(CG_V1, m, 1, "/own/c1");
	a = get("cpuset/own/cpuset.cpus"), b = get("cpuset/own/c1/cpuset.cpus");
	ok(cg && !strcmp(a, "1\n") && !strcmp(b, "1\n"), "a parent that was there keeps its own");
	free(a), free(b);
	husk_cgroup_free(cg);

	cg = create(CG_V1, m, 1, "/late/c1");
	if (!cg)
		return;
	char cmd[PATH_MAX + 32];
	snprintf(cmd, sizeof(cmd), "rm -rf %s/late/c1", mp);
	ok(system(cmd) == 0, "a concurrent delete removes the cgroup");
	struct husk_error e = { 0 };
	int r = husk_cg_revive(cg, &e);
	a = get("cpuset/late/cpuset.cpus"), b = get("cpuset/late/c1/cpuset.cpus");
	c = get("cpuset/late/c1/cpuset.mems");
	ok(r == 1 && !strcmp(a, "0-3\n") && !strcmp(b, "0-3\n") && !strcmp(c, "0\n"),
	   "made again: the empty parent and the cgroup filled top-down (%d)", r);
	free(a), free(b), free(c);
	husk_cgroup_free(cg);
}

/* The layout root is a parameter: a cgroup2 root is a pure v2 host. */
static int v2_statfs(const char *path, struct statfs *sf)
{
	memset(sf, 0, sizeof(*sf));
	sf->f_type = !strcmp(path, base) ? 0x63677270 : 0x01021994;
	return 0;
}

static void test_layout_root(void)
{
	struct husk_cg_sys sys = fake;
	sys.statfs = v2_statfs;
	struct husk_cg_layout l = { .root = base, .sys = &sys };
	struct husk_error e;
	int r = husk_cg_layout_read(&l, true, &e);
	ok(r == 0 && l.kind == CG_V2 && l.n == 1 && !strcmp(l.m[0].mountpoint, base) && !*l.m[0].ctrl,
	   "a cgroup2 root: pure v2, one hierarchy mounted at the root given");
	husk_cg_layout_free(&l);
}

int main(void)
{
	snprintf(base, sizeof(base), "/tmp/husk-test-cgroupfs-XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	test_shared_path_removed();
	test_kill_vanished_cgroup();
	test_devices_v1_diff();
	test_v2_conversions();
	test_destroy();
	test_destroy_gone();
	test_pids();
	test_freeze_v1();
	test_freeze_v2();
	test_cpuset_v1();
	test_layout_root();
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	if (system(cmd) != 0)
		ok(false, "clean up %s", base);
	return tap_done();
}
