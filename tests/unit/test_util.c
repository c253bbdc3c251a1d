/* Unit tests (TAP) for util.c, the error idiom, the cgroup path helpers,
 * the executable lookup and hook running. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup/cgroup_internal.h"
#include "error.h"
#include "hooks.h"
#include "process.h"
#include "rootless.h"
#include "util.h"
#include "tap.h"

static char tmpdir[] = "/tmp/husk-test-util-XXXXXX";

static void test_alloc(void)
{
	char *s = xasprintf("%s-%d", "a", 42);
	ok(strcmp(s, "a-42") == 0, "xasprintf formats");
	free(s);
	s = xstrndup("abcdef", 3);
	ok(strcmp(s, "abc") == 0, "xstrndup truncates");
	free(s);

	char **v = xcalloc(3, sizeof(char *));
	v[0] = xstrdup("x");
	v[1] = xstrdup("y");
	ok(husk_strv_len(v) == 2, "husk_strv_len counts");
	ok(husk_strv_len(NULL) == 0, "husk_strv_len(NULL) is 0");
	_cleanup_strv_ char **cv = v; /* freed by the cleanup attribute (ASan checks) */
	(void)cv;
}

static void test_cleanup(void)
{
	int fd;
	{
		_cleanup_fd_ int f = open("/dev/null", O_RDONLY | O_CLOEXEC);
		fd = f;
	}
	ok(fd >= 0 && fcntl(fd, F_GETFD) < 0 && errno == EBADF, "_cleanup_fd_ closes");
	_cleanup_fd_ int a = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int b = move_fd(&a);
	ok(a == -1 && b >= 0, "move_fd leaves -1");
	close(b);
	char *p = xstrdup("q");
	char *q = move_ptr(p);
	ok(p == NULL && q && *q == 'q', "move_ptr leaves NULL");
	free(q);
}

static void test_errors(void)
{
	struct husk_error e;
	char buf[HUSK_ERR_MSG_MAX + 64];
	husk_err_clear(&e);
	ok(husk_err(&e, ENOENT, "open %s", "/x") == -1, "husk_err returns -1");
	husk_err_wrap(&e, "load %s", "config");
	husk_err_str(&e, buf, sizeof(buf));
	ok(strcmp(buf, "load config: open /x: No such file or directory") == 0, "wrap and str");
	diag_str("got", buf);
	errno = EACCES;
	husk_errno(&e, "mkdir");
	ok(e.errnum == EACCES && errno == EACCES, "husk_errno captures errno and keeps it");
	husk_err(&e, 0, "plain");
	ok(strcmp(husk_err_str(&e, buf, sizeof(buf)), "plain") == 0, "errnum 0 prints message only");
}

static void test_files(void)
{
	struct husk_error e;
	_cleanup_fd_ int dfd = open(tmpdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ok(husk_write_file_atomic_at(dfd, "f", "hello", 5, 0600, &e) == 0, "atomic write");
	char *text = NULL;
	size_t len = 0;
	ok(husk_read_file_at(dfd, "f", &text, &len, &e) == 0 && len == 5 && strcmp(text, "hello") == 0,
	   "read back");
	free(text);
	struct stat st;
	ok(fstatat(dfd, "f", &st, 0) == 0 && (st.st_mode & 0777) == 0600, "atomic write mode");
	ok(husk_write_file_at(dfd, "f", "hi", 2, &e) == 0, "write truncates");
	ok(husk_read_file_at(dfd, "f", &text, NULL, &e) == 0 && strcmp(text, "hi") == 0, "truncated content");
	free(text);
	ok(husk_write_file_at(dfd, "missing", "x", 1, &e) < 0 && e.errnum == ENOENT,
	   "write_file does not create");
	ok(husk_read_file_at(dfd, "missing", &text, NULL, &e) < 0 && e.errnum == ENOENT,
	   "read missing fails with ENOENT");

	/* Bigger than the initial read buffer. */
	size_t big = 100000;
	char *data = xmalloc(big);
	memset(data, 'z', big);
	husk_write_file_atomic_at(dfd, "big", data, big, 0644, &e);
	ok(husk_read_file_at(dfd, "big", &text, &len, &e) == 0 && len == big && text[big] == '\0',
	   "read large file");
	free(text);
	free(data);

	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/a/b/c", tmpdir);
	ok(husk_mkdir_p(path, 0755, &e) == 0, "mkdir_p creates");
	ok(husk_mkdir_p(path, 0755, &e) == 0, "mkdir_p is idempotent");
	snprintf(path, sizeof(path), "%s/f/x", tmpdir);
	ok(husk_mkdir_p(path, 0755, &e) < 0, "mkdir_p through a file fails");
	snprintf(path, sizeof(path), "%s/f", tmpdir);
	ok(husk_mkdir_p(path, 0755, &e) < 0 && e.errnum == ENOTDIR, "mkdir_p on a file: ENOTDIR");

	symlinkat("/", dfd, "a/b/link");
	ok(husk_rm_rf_at(dfd, "a", &e) == 0 && faccessat(dfd, "a", F_OK, 0) < 0, "rm_rf removes tree");
	ok(husk_rm_rf_at(dfd, "a", &e) == 0, "rm_rf of missing is fine");
	ok(access("/etc/passwd", F_OK) == 0, "rm_rf did not follow the symlink");
}

static void test_io(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		abort();
	ok(husk_write_all(p[1], "abcdef", 6) == 6, "write_all");
	close(p[1]);
	char buf[16] = { 0 };
	ok(husk_read_all(p[0], buf, sizeof(buf)) == 6 && memcmp(buf, "abcdef", 6) == 0,
	   "read_all stops at EOF");
	close(p[0]);
}

static void test_parse_long(void)
{
	long v = 0;
	ok(husk_parse_long("42", 0, 100, &v) == 0 && v == 42, "parse_long ok");
	ok(husk_parse_long("-5", -10, 10, &v) == 0 && v == -5, "parse_long negative");
	ok(husk_parse_long("101", 0, 100, &v) < 0, "parse_long range");
	ok(husk_parse_long("4x", 0, 100, &v) < 0, "parse_long trailing garbage");
	ok(husk_parse_long("", 0, 100, &v) < 0, "parse_long empty");
	ok(husk_parse_long(NULL, 0, 100, &v) < 0, "parse_long NULL");
	ok(husk_parse_long("99999999999999999999", 0, LONG_MAX, &v) < 0, "parse_long overflow");
}

static void test_fds_and_time(void)
{
	int a = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int b = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int c = open("/dev/null", O_RDONLY | O_CLOEXEC);
	husk_close_fds_from(a, &b, 1);
	ok(fcntl(a, F_GETFD) < 0 && fcntl(b, F_GETFD) >= 0 && fcntl(c, F_GETFD) < 0,
	   "close_fds_from keeps listed fds");
	close(b);

	uint64_t t1 = husk_now_ns(), t2 = husk_now_ns();
	ok(t1 > 0 && t2 >= t1, "now_ns is monotonic");
	char ts[64];
	husk_rfc3339_now(ts, sizeof(ts));
	ok(strlen(ts) == 30 && ts[4] == '-' && ts[10] == 'T' && ts[19] == '.' && ts[29] == 'Z',
	   "rfc3339 shape");
	diag_str("rfc3339", ts);
}

static void test_cgroup_helpers(void)
{
	struct husk_error e;
	char *r = NULL;
	ok(husk_cg_clean_path("/a//b/./c/", &r, &e) == 0 && strcmp(r, "a/b/c") == 0, "clean_path collapses");
	free(r);
	ok(husk_cg_clean_path("a/b/../c", &r, &e) == 0 && strcmp(r, "a/c") == 0, "clean_path resolves ..");
	free(r);
	ok(husk_cg_clean_path("/", &r, &e) == 0 && strcmp(r, "") == 0, "clean_path root");
	free(r);
	ok(husk_cg_clean_path("/a/../..", &r, &e) < 0, "clean_path refuses climbing out");
	ok(husk_cg_clean_path("../x", &r, &e) < 0, "clean_path refuses relative climbing out");
	ok(husk_cg_clean_path("a/..", &r, &e) == 0 && strcmp(r, "") == 0, "clean_path back to start");
	free(r);

	ok(husk_cg_ctrl_equal("cpu,cpuacct", "cpuacct,cpu"), "ctrl_equal any order");
	ok(!husk_cg_ctrl_equal("cpu", "cpu,cpuacct"), "ctrl_equal subset differs");
	ok(!husk_cg_ctrl_equal("cpu,cpuacct", "cpu"), "ctrl_equal superset differs");
	ok(husk_cg_ctrl_equal("", ""), "ctrl_equal empty");
	ok(husk_cg_ctrl_has("net_cls,net_prio", "net_prio") && !husk_cg_ctrl_has("net_cls", "net"),
	   "ctrl_has whole items only");

	char *c = husk_cg_v1_controllers("rw,cpu,cpuacct");
	ok(strcmp(c, "cpu,cpuacct") == 0, "v1_controllers");
	free(c);
	c = husk_cg_v1_controllers("rw,xattr,release_agent=/x,name=systemd");
	ok(strcmp(c, "name=systemd") == 0, "v1_controllers named hierarchy");
	diag_str("got", c);
	free(c);

	char s[] = "/a\\040b\\134c";
	husk_cg_unescape_octal(s);
	ok(strcmp(s, "/a b\\c") == 0, "unescape_octal");

	const char *pc = "12:pids:/p\n4:cpu,cpuacct:/u/v\n1:name=systemd:/s\n0::/unified\n";
	char buf[256];
	const char *o = husk_cg_own_cgroup(pc, "cpuacct,cpu", buf, sizeof(buf));
	ok(o && strcmp(o, "/u/v") == 0, "own_cgroup co-mounted");
	o = husk_cg_own_cgroup(pc, "", buf, sizeof(buf));
	ok(o && strcmp(o, "/unified") == 0, "own_cgroup unified");
	o = husk_cg_own_cgroup(pc, "name=systemd", buf, sizeof(buf));
	ok(o && strcmp(o, "/s") == 0, "own_cgroup named");
	ok(husk_cg_own_cgroup(pc, "memory", buf, sizeof(buf)) == NULL, "own_cgroup missing");
}

static void test_find_executable(void)
{
	struct husk_error e;
	char out[PATH_MAX];
	char *args[] = { "sh", NULL };
	char *env[] = { "PATH=/nonexistent", "PATH=/nonexistent:/bin:/usr/bin", NULL };
	struct husk_process p;
	memset(&p, 0, sizeof(p));
	p.args = args;
	p.env = env;
	ok(husk_process_find_executable(&p, out, sizeof(out), &e) == 0 && strcmp(out, "/bin/sh") == 0,
	   "lookup in PATH (last PATH wins)");
	p.env = NULL;
	ok(husk_process_find_executable(&p, out, sizeof(out), &e) == 0 && out[0] == '/',
	   "default PATH");
	args[0] = "husk-no-such-program";
	ok(husk_process_find_executable(&p, out, sizeof(out), &e) < 0 &&
		   strcmp(e.msg, "exec: \"husk-no-such-program\": executable file not found in $PATH") == 0,
	   "not found message");
	args[0] = "/etc/passwd";
	ok(husk_process_find_executable(&p, out, sizeof(out), &e) < 0 && e.errnum == EACCES,
	   "not executable: EACCES");
	args[0] = "/husk/no/such";
	ok(husk_process_find_executable(&p, out, sizeof(out), &e) < 0 && e.errnum == ENOENT,
	   "missing path: ENOENT");
	args[0] = "/bin";
	ok(husk_process_find_executable(&p, out, sizeof(out), &e) < 0 && e.errnum == EACCES,
	   "directory: EACCES");

	/* Owner-only executable: fine for its owner, not for another uid. */
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/prog", tmpdir);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0700);
	close(fd);
	chmod(path, 0700);
	args[0] = path;
	p.user.uid = geteuid();
	ok(husk_process_find_executable(&p, out, sizeof(out), &e) == 0, "owner may exec 0700");
	p.user.uid = geteuid() + 1;
	ok(husk_process_find_executable(&p, out, sizeof(out), &e) < 0, "other uid may not exec 0700");
	p.has_caps = true;
	p.caps.has_effective = true;
	p.caps.effective = 1ULL << 1; /* CAP_DAC_OVERRIDE */
	ok(husk_process_find_executable(&p, out, sizeof(out), &e) == 0, "CAP_DAC_OVERRIDE may exec 0700");
}

static int run_hook(char **args, char **env, int timeout, enum husk_hook_kind kind, const char *state,
		    struct husk_error *e)
{
	struct husk_hook h = { .path = "/bin/sh", .args = args, .env = env, .timeout = timeout };
	struct husk_hook_list l = { &h, 1 };
	husk_err_clear(e);
	return husk_hooks_run(&l, kind, state, e);
}

static void test_hooks(void)
{
	struct husk_error e;
	char out[256], cmd[1024];
	snprintf(out, sizeof(out), "%s/hook.out", tmpdir);
	snprintf(cmd, sizeof(cmd), "cat > %s; echo \"$0 $V\" >> %s; env | wc -l >> %s", out, out, out);
	char *a1[] = { "argzero", "-c", cmd, NULL };
	char *env[] = { "V=v1", NULL };
	ok(run_hook(a1, env, 0, HUSK_HOOK_PRESTART, "{\"id\":\"c\"}", &e) == 0, "hook runs");
	char *text = NULL;
	husk_read_file_at(AT_FDCWD, out, &text, NULL, &e);
	/* sh adds PWD (and maybe SHLVL/_): at most 4 variables. */
	ok(text && strncmp(text, "{\"id\":\"c\"}argzero v1\n", 21) == 0 && atoi(text + 21) <= 4,
	   "hook gets state on stdin, its args and only its env");
	diag_str("hook output", text);
	free(text);

	char *a2[] = { "sh", "-c", "exit 3", NULL };
	ok(run_hook(a2, NULL, 0, HUSK_HOOK_CREATE_RUNTIME, "{}", &e) < 0 &&
		   strcmp(e.msg, "createRuntime hook #0 (/bin/sh): exit status 3") == 0,
	   "exit status reported");
	diag_str("got", e.msg);
	char *a3[] = { "sh", "-c", "kill -9 $$", NULL };
	ok(run_hook(a3, NULL, 0, HUSK_HOOK_PRESTART, "{}", &e) < 0 && strstr(e.msg, "killed by signal 9"),
	   "signal reported");
	ok(run_hook(a2, NULL, 0, HUSK_HOOK_POSTSTOP, "{}", &e) == 0, "poststop failure only warns");

	/* A hook that never reads a large state must not block us. */
	size_t big = 1 << 20;
	char *state = xmalloc(big + 1);
	memset(state, ' ', big);
	state[big] = '\0';
	char *a4[] = { "sh", "-c", "exit 0", NULL };
	ok(run_hook(a4, NULL, 0, HUSK_HOOK_PRESTART, state, &e) == 0, "unread stdin is fine");
	free(state);

	char *a5[] = { "sh", "-c", "sleep 5", NULL };
	uint64_t t0 = husk_now_ns();
	int r = run_hook(a5, NULL, 1, HUSK_HOOK_PRESTART, "{}", &e);
	uint64_t ms = (husk_now_ns() - t0) / 1000000;
	ok(r < 0 && strstr(e.msg, "timed out after 1 s") && ms >= 900 && ms < 3000, "timeout kills the hook");

	struct husk_hook h = { .path = "/nonexistent/hook" };
	struct husk_hook_list l = { &h, 1 };
	ok(husk_hooks_run(&l, HUSK_HOOK_PRESTART, "{}", &e) < 0 && e.errnum == ENOENT, "missing hook: ENOENT");
}

static void test_passwd_home(void)
{
	const char *pw = "root:x:0:0:root:/root:/bin/sh\n"
			 "broken line\n"
			 "nohome:x:7:7:::/bin/sh\n"
			 "user:x:1000:1000:A User:/home/user:/bin/sh";
	struct {
		uint32_t uid;
		const char *home;
	} cases[] = { { 0, "/root" }, { 1000, "/home/user" }, { 7, "/" }, { 99, "/" } };
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *h = husk_passwd_home(pw, cases[i].uid);
		ok(!strcmp(h, cases[i].home), "HOME of uid %u is %s", cases[i].uid, cases[i].home);
		free(h);
	}
	char *h = husk_passwd_home(NULL, 0);
	ok(!strcmp(h, "/"), "no passwd file: HOME=/");
	free(h);
}

/* /etc/subuid lines: by name or by number, the first of the user's. */
static void test_subid(void)
{
	char f[PATH_MAX];
	snprintf(f, sizeof(f), "%s/subuid", tmpdir);
	const char *text = "alice:100000:65536\nbad line\n1234:200000:1000\nbob:x:5\n"
			   "alice:900000:10\nbob:300000:42\n";
	FILE *fp = fopen(f, "w");
	fputs(text, fp);
	fclose(fp);
	unsigned s = 0, c = 0;
	ok(husk_subid_lookup(f, "alice", 1000, &s, &c) == 0 && s == 100000 && c == 65536,
	   "by name, the first range");
	ok(husk_subid_lookup(f, "carol", 1234, &s, &c) == 0 && s == 200000 && c == 1000, "by uid");
	ok(husk_subid_lookup(f, "bob", 1, &s, &c) == 0 && s == 300000 && c == 42,
	   "a malformed line is skipped");
	ok(husk_subid_lookup(f, "dave", 4, &s, &c) < 0, "no entry");
	ok(husk_subid_lookup("/nonexistent/subuid", "alice", 1, &s, &c) < 0, "no file");
	struct husk_id_mapping own = { 0, (unsigned)geteuid(), 1 }, more[2] = { own, { 1, 100000, 10 } };
	ok(!husk_idmap_needs_helper(&own, 1, false) && husk_idmap_needs_helper(more, 2, false) &&
		   !husk_idmap_needs_helper(NULL, 0, false),
	   "only more than the caller's own uid needs newuidmap");
	struct husk_id_mapping range = { 0, (unsigned)geteuid(), 2 };
	ok(husk_idmap_needs_helper(&range, 1, false), "a range from the own uid needs it too");
}

/* Which container ids a mapping holds. */
static void test_idmap_maps(void)
{
	struct husk_id_mapping m[2] = { { 0, 1000, 1 }, { 1, 100000, 65536 } };
	ok(husk_idmap_maps(m, 2, 0) && husk_idmap_maps(m, 2, 1) && husk_idmap_maps(m, 2, 999) &&
		   husk_idmap_maps(m, 2, 65536),
	   "0, the first and the last of the range are mapped");
	ok(!husk_idmap_maps(m, 2, 65537) && !husk_idmap_maps(m, 2, 4294967295u),
	   "past the range: not mapped");
	ok(!husk_idmap_maps(m, 1, 1) && husk_idmap_maps(m, 1, 0), "only 0 without the range");
	struct husk_id_mapping hi = { 4294967290u, 0, 5 };
	ok(husk_idmap_maps(&hi, 1, 4294967294u) && !husk_idmap_maps(&hi, 1, 4294967295u) &&
		   !husk_idmap_maps(&hi, 1, 3),
	   "a range at the top of the id space, no wrap");
	ok(!husk_idmap_maps(NULL, 0, 0), "an empty mapping maps nothing");
}

/* In the namespace: root there, its uid_map read; an error on demand. */
static int userns_fn(void *arg, struct husk_error *e)
{
	int *want_fail = arg;
	char map[256] = "";
	int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, map, sizeof(map) - 1);
	if (fd >= 0)
		close(fd);
	if (geteuid() != 0 || n <= 0)
		return husk_err(e, 0, "not root of a mapped namespace (euid %d)", (int)geteuid());
	if (*want_fail)
		return husk_err(e, EXDEV, "failed on purpose (pid %d)", (int)getpid());
	/* the result: its first mapping, "0 <caller's euid> 1" */
	unsigned inside, outside, size;
	if (sscanf(map, "%u %u %u", &inside, &outside, &size) != 3)
		return husk_err(e, 0, "uid_map unreadable: %s", map);
	want_fail[1] = (int)outside;
	want_fail[2] = (int)getpid();
	return 0;
}

static void test_userns_call(void)
{
	int arg[3] = { 1, -1, -1 }, ret[3] = { 7, 7, 7 };
	struct husk_error e = { 0 };
	int r = husk_userns_call(userns_fn, arg, ret, sizeof(ret), &e);
	if (r < 0 && strstr(e.msg, "unshare user namespace")) {
		ok(true, "# SKIP no user namespaces here: %s", e.msg);
		return;
	}
	ok(r < 0 && e.errnum == EXDEV && strstr(e.msg, "failed on purpose") &&
		   ret[0] == 7 && ret[1] == 7,
	   "fn's error comes back, errno and message (%s); ret untouched", e.msg);
	arg[0] = 0;
	memset(&e, 0, sizeof(e));
	r = husk_userns_call(userns_fn, arg, arg, sizeof(arg), &e);
	ok(r == 0 && arg[1] == (int)geteuid() && arg[2] > 0 && arg[2] != getpid(),
	   "run in a child as root of a namespace mapping 0 to the caller; results copied back "
	   "(%d %d %s)", arg[1], arg[2], e.msg);
}

static void test_unescape_octal(void)
{
	char a[] = "/mnt/a\\040b\\011c\\134d", b[] = "/x\\9y\\04", c[] = "";
	husk_unescape_octal(a);
	husk_unescape_octal(b);
	husk_unescape_octal(c);
	ok(strcmp(a, "/mnt/a b\tc\\d") == 0, "mountinfo escapes undone (%s)", a);
	ok(strcmp(b, "/x\\9y\\04") == 0, "what is not an escape is kept (%s)", b);
	ok(c[0] == '\0', "empty string");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_alloc();
	test_unescape_octal();
	test_cleanup();
	test_errors();
	test_files();
	test_io();
	test_parse_long();
	test_passwd_home();
	test_subid();
	test_idmap_maps();
	test_userns_call();
	test_fds_and_time();
	test_cgroup_helpers();
	test_find_executable();
	test_hooks();

	struct husk_error e;
	husk_rm_rf_at(AT_FDCWD, tmpdir, &e);
	return tap_done();
}
