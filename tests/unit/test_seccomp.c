/* Unit tests for linux.seccomp: JSON validation with its error paths, and
 * the compiled filters' real effect, loaded under no_new_privileges in
 * forked children (no root needed).  Prints TAP. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "config.h"
#include "seccomp_filter.h"
#include "util.h"
#include "tap.h"

#define WHERE "config.json: linux.seccomp"

static struct husk_seccomp *prepare(const char *text, struct husk_error *e)
{
	json_error_t jerr;
	/* As the spec loader does: integers too big for json_int_t as reals. */
	json_t *obj = json_loads(text, 0, &jerr);
	if (!obj)
		obj = json_loads(text, JSON_DECODE_INT_AS_REAL, &jerr);
	if (!obj) {
		snprintf(e->msg, sizeof(e->msg), "bad test JSON: %s", jerr.text);
		return NULL;
	}
	/* As create does: parsed with config.json, compiled later. */
	struct husk_seccomp_profile *sp = NULL;
	struct husk_seccomp *sc = NULL;
	husk_err_clear(e);
	if (husk_seccomp_parse(obj, "linux.seccomp", &sp, e) < 0)
		husk_err_wrap(e, "config.json");
	else
		husk_seccomp_prepare(sp, WHERE, &sc, e);
	husk_seccomp_profile_free(sp);
	json_decref(obj);
	return sc;
}

/* The object must be refused with a message equal to want (after WHERE). */
static __attribute__((unused)) void rejects(const char *text, const char *want, int errnum)
{
	struct husk_error e;
	struct husk_seccomp *sc = prepare(text, &e);
	char full[1024];
	snprintf(full, sizeof(full), WHERE "%s", want);
	bool good = !sc && strcmp(e.msg, full) == 0 && e.errnum == errnum;
	ok(good, "rejects %s", want);
	if (!good) {
		diag_str("got", sc ? "(accepted)" : e.msg);
		diag_str("want", full);
		if (!sc && e.errnum != errnum)
			printf("# errnum %d, want %d\n", e.errnum, errnum);
	}
	husk_seccomp_free(sc);
}

static __attribute__((unused)) size_t accepts(const char *text, const char *what)
{
	struct husk_error e;
	struct husk_seccomp *sc = prepare(text, &e);
	ok(sc != NULL, "accepts %s", what);
	if (!sc)
		diag_str("error", e.msg);
	size_t n = husk_seccomp_len(sc);
	husk_seccomp_free(sc);
	return n;
}

#if HAVE_SECCOMP

/* Run fn in a child under the filter (NNP set first); returns the wait
 * status.  fn's return value is the child's exit code. */
static int under_filter(const char *text, int (*fn)(void))
{
	struct husk_error e;
	struct husk_seccomp *sc = prepare(text, &e);
	if (!sc) {
		diag_str("prepare", e.msg);
		return -1;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || husk_seccomp_load(sc, NULL, &e) < 0)
			_exit(200);
		/* The raw syscall: sanitizer runtimes do more at _exit, and an
		 * allowlist filter may refuse it. */
		syscall(SYS_exit_group, fn());
		_exit(201);
	}
	husk_seccomp_free(sc);
	int st = -1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

/* Each probe returns errno of a failed syscall, 0 on success. */
static int probe_mkdir(void)
{
	return syscall(SYS_mkdirat, AT_FDCWD, "/nonexistent-dir/x", 0700) < 0 && errno != ENOENT
		       ? errno
		       : 0;
}
static int probe_getppid(void)
{
	return syscall(SYS_getppid) < 0 ? errno : 0;
}
static int probe_getpid(void)
{
	return syscall(SYS_getpid) < 0 ? errno : 0;
}
static int probe_personality_query(void)
{
	return syscall(SYS_personality, 0xffffffffUL) < 0 ? errno : 0;
}
static int probe_personality_set(void)
{
	long cur = syscall(SYS_personality, 0xffffffffUL);
	if (cur < 0)
		return 100;
	return syscall(SYS_personality, (unsigned long)cur) < 0 ? errno : 0;
}
static int probe_umask(void)
{
	/* arg0 & 0700 == 0700 is blocked by the masked rule below */
	if (syscall(SYS_umask, 0022) < 0)
		return 101;
	return syscall(SYS_umask, 0777) < 0 ? errno : 0;
}

static bool exited(int st, int code)
{
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == code;
}

static void test_effects(void)
{
	int st;
	st = under_filter("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
			  "[\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\"}]}",
			  probe_mkdir);
	ok(exited(st, EPERM), "ERRNO without errnoRet gives EPERM (status %#x)", st);

	st = under_filter("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
			  "[\"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 77}]}",
			  probe_mkdir);
	ok(exited(st, 77), "errnoRet 77 (status %#x)", st);

	/* An allowlist: default errno, only what the probe and exit need. */
	const char *allow = "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 88,"
			    " \"syscalls\": [{\"names\": [\"exit_group\", \"exit\", \"getppid\","
			    " \"no_such_syscall_at_all\"], \"action\": \"SCMP_ACT_ALLOW\"}]}";
	st = under_filter(allow, probe_getppid);
	ok(exited(st, 0), "allowlisted getppid works (status %#x)", st);
	st = under_filter(allow, probe_getpid);
	ok(exited(st, 88), "getpid outside the allowlist gets defaultErrnoRet (status %#x)", st);

	const char *pers = "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\":"
			   " [\"personality\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0,"
			   " \"value\": 4294967295, \"op\": \"SCMP_CMP_EQ\"}]}]}";
	st = under_filter(pers, probe_personality_query);
	ok(exited(st, EPERM), "personality(0xffffffff) blocked by its argument (status %#x)", st);
	/* The query is blocked, so probe_personality_set cannot run: use a
	 * filter that blocks only another value. */
	st = under_filter("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\":"
			  " [\"personality\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0,"
			  " \"value\": 8, \"op\": \"SCMP_CMP_EQ\"}]}]}",
			  probe_personality_set);
	ok(exited(st, 0), "personality with another argument allowed (status %#x)", st);

	st = under_filter("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\":"
			  " [\"umask\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 33, \"args\":"
			  " [{\"index\": 0, \"value\": 448, \"valueTwo\": 448, \"op\":"
			  " \"SCMP_CMP_MASKED_EQ\"}]}]}",
			  probe_umask);
	ok(exited(st, 33), "MASKED_EQ uses value as mask, valueTwo as datum (status %#x)", st);

	/* Two conditions on one argument: each is a rule of its own (OR). */
	const char *or2 = "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\":"
			  " [\"umask\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 34, \"args\": ["
			  " {\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"},"
			  " {\"index\": 0, \"value\": 511, \"op\": \"SCMP_CMP_EQ\"}]}]}";
	st = under_filter(or2, probe_umask);
	ok(exited(st, 34), "two conditions on one argument are ORed (status %#x)", st);

	st = under_filter("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\":"
			  " [\"getppid\"], \"action\": \"SCMP_ACT_KILL\"}]}",
			  probe_getppid);
	ok(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "SCMP_ACT_KILL kills with SIGSYS (status %#x)",
	   st);
	st = under_filter("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\":"
			  " [\"getppid\"], \"action\": \"SCMP_ACT_KILL_PROCESS\"}]}",
			  probe_getppid);
	ok(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "SCMP_ACT_KILL_PROCESS (status %#x)", st);
	st = under_filter("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\":"
			  " [\"getppid\"], \"action\": \"SCMP_ACT_TRAP\"}]}",
			  probe_getppid);
	ok(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "SCMP_ACT_TRAP raises SIGSYS (status %#x)", st);
	st = under_filter("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\":"
			  " [\"getppid\"], \"action\": \"SCMP_ACT_TRACE\"}]}",
			  probe_getppid);
	ok(exited(st, ENOSYS), "SCMP_ACT_TRACE without a tracer: ENOSYS (status %#x)", st);
	st = under_filter("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\","
			  " \"SECCOMP_FILTER_FLAG_SPEC_ALLOW\", \"SECCOMP_FILTER_FLAG_TSYNC\"], \"syscalls\": "
			  "[{\"names\": [\"getppid\"], \"action\": \"SCMP_ACT_LOG\"}]}",
			  probe_getppid);
	ok(exited(st, 0), "SCMP_ACT_LOG allows, with every supported flag (status %#x)", st);
}

/* ---- ENOSYS for syscalls newer than the profile (x86_64 numbers) ---- */
#if defined(__x86_64__)

#define X32_BIT 0x40000000L

/* x86_64 numbers: openat2 (437) is above the profile's highest name
 * below, fanotify_init (300) and getpid (39) are not named but below it,
 * 462 (mseal) is newer than many libseccomp tables. */
static int probe_nr437(void)
{
	return syscall(437, 0, 0, 0, 0) < 0 ? errno : 0;
}
static int probe_nr300(void)
{
	return syscall(300, 0, 0) < 0 ? errno : 0;
}
static int probe_nr462(void)
{
	return syscall(462, 0, 0, 0) < 0 ? errno : 0;
}
/* The x32 ABI: x86_64's arch with bit 30 in the number.  The filter sees
 * it before the kernel looks whether it has x32 at all. */
static int probe_x32_437(void)
{
	return syscall(X32_BIT | 437, 0, 0, 0, 0) < 0 ? errno : 0;
}
static int probe_x32_39(void)
{
	return syscall(X32_BIT | 39) < 0 ? errno : 0;
}

/* An i386 syscall from this 64-bit process (the filter sees AUDIT_ARCH_I386). */
static long int80(long nr)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(0L), "c"(0L), "d"(0L) : "memory");
	return ret;
}
static int probe_i386_300(void) /* fstatat64, above i386's highest name */
{
	long r = int80(300);
	return r < 0 ? (int)-r : 0;
}
static int probe_i386_20(void) /* getpid */
{
	long r = int80(20);
	return r < 0 ? (int)-r : 0;
}
static int probe_i386_works(void)
{
	return int80(20) == (long)getpid() ? 0 : 1;
}

static void test_enosys(void)
{
	/* Highest names: x86_64 kexec_file_load 320 (no i386 number),
	 * i386 exit_group 252, x32 kexec_file_load (bit|320). */
	const char *old = "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"SCMP_ARCH_X86_64\","
			  " \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"], \"syscalls\": [{\"names\": [\"exit\","
			  " \"exit_group\", \"getppid\"], \"action\": \"SCMP_ACT_ALLOW\"}, {\"names\":"
			  " [\"kexec_file_load\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 5}]}";
	int st = under_filter(old, probe_nr437);
	ok(exited(st, ENOSYS), "a syscall above the profile's highest gets ENOSYS (status %#x)", st);
	st = under_filter(old, probe_nr462);
	ok(exited(st, ENOSYS), "so does one libseccomp may not know (status %#x)", st);
	st = under_filter(old, probe_nr300);
	ok(exited(st, EPERM), "an older syscall not named gets the default action (status %#x)", st);
	st = under_filter(old, probe_getpid);
	ok(exited(st, EPERM), "getpid too (status %#x)", st);
	st = under_filter(old, probe_getppid);
	ok(exited(st, 0), "named syscalls keep their rule (status %#x)", st);
	st = under_filter(old, probe_x32_437);
	ok(exited(st, ENOSYS), "x32: above its highest name: ENOSYS (status %#x)", st);
	st = under_filter(old, probe_x32_39);
	ok(exited(st, EPERM), "x32: an older one: the default action (status %#x)", st);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(probe_i386_works());
	int i386 = -1;
	waitpid(pid, &i386, 0);
	if (exited(i386, 0)) {
		st = under_filter(old, probe_i386_300);
		ok(exited(st, ENOSYS), "i386: 300 is above its highest name (252): ENOSYS (status %#x)", st);
		st = under_filter(old, probe_i386_20);
		ok(exited(st, EPERM), "i386: getpid gets the default action (status %#x)", st);
	} else {
		printf("ok %d - # SKIP no i386 syscalls on this kernel\n", ++tap_n);
	}
	/* Without architectures: the native one. */
	st = under_filter("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"exit\","
			  " \"exit_group\", \"getppid\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
			  probe_nr300);
	ok(exited(st, ENOSYS), "the native arch without architectures[] (status %#x)", st);
	/* A kill-by-default profile answers ENOSYS instead of killing. */
	st = under_filter("{\"defaultAction\": \"SCMP_ACT_KILL_PROCESS\", \"syscalls\": [{\"names\":"
			  " [\"exit\", \"exit_group\", \"getppid\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
			  probe_nr437);
	ok(exited(st, ENOSYS), "SCMP_ACT_KILL_PROCESS default: ENOSYS above (status %#x)", st);
	/* Allowing defaults get no stub: the kernel answers openat2. */
	st = under_filter("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\":"
			  " [\"getppid\"], \"action\": \"SCMP_ACT_KILL\"}]}",
			  probe_nr437);
	ok(exited(st, EINVAL), "SCMP_ACT_ALLOW default: no stub, the kernel answers (status %#x)", st);
	size_t eperm = accepts("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\":"
			       " [\"getppid\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
			       "default EPERM");
	size_t enosys = accepts("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 38,"
				" \"syscalls\": [{\"names\": [\"getppid\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
				"default ENOSYS");
	ok(eperm > enosys, "no stub where the default already is ENOSYS (%zu > %zu)", eperm, enosys);
}
#endif

/* A profile shaped like docker's default: a long allowlist (with names
 * this libseccomp or kernel does not know), per-argument rules. */
static char *docker_like(void)
{
	static const char *const names[] = {
		"accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget", "capset",
		"chdir", "chmod", "chown", "clock_getres", "clock_gettime", "clock_nanosleep", "close",
		"close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3",
		"epoll_create", "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2",
		"epoll_wait", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group",
		"faccessat", "faccessat2", "fadvise64", "fallocate", "fchdir", "fchmod", "fchmodat",
		"fchown", "fchownat", "fcntl", "fdatasync", "fgetxattr", "flock", "fork", "fstat",
		"fstatfs", "fsync", "ftruncate", "futex", "futex_waitv", "getcwd", "getdents",
		"getdents64", "getegid", "geteuid", "getgid", "getgroups", "getpgid", "getpgrp",
		"getpid", "getppid", "getrandom", "getrlimit", "getsockname", "getsockopt", "gettid",
		"gettimeofday", "getuid", "ioctl", "kill", "landlock_create_ruleset", "lseek",
		"lstat", "madvise", "memfd_create", "mkdir", "mkdirat", "mmap", "mprotect", "mremap",
		"munmap", "nanosleep", "newfstatat", "open", "openat", "openat2", "pipe", "pipe2",
		"poll", "ppoll", "prctl", "pread64", "prlimit64", "pselect6", "pwrite64", "read",
		"readlink", "readlinkat", "readv", "recvfrom", "recvmsg", "rename", "renameat",
		"renameat2", "rmdir", "rseq", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
		"sched_getaffinity", "sched_yield", "select", "sendmsg", "sendto", "set_robust_list",
		"set_tid_address", "setgid", "setgroups", "setsid", "setuid", "sigaltstack",
		"socket", "socketpair", "stat", "statfs", "statx", "symlink", "symlinkat", "sysinfo",
		"tgkill", "time", "umask", "uname", "unlink", "unlinkat", "utimensat", "vfork",
		"wait4", "waitid", "write", "writev", "_llseek", "socketcall", "ugetrlimit",
		"waitpid", "future_syscall_one", "future_syscall_two", "arm_fadvise64_64",
	};
	json_t *list = json_array();
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		json_array_append_new(list, json_string(names[i]));
	json_t *doc = json_pack(
		"{s:s, s:i, s:[s,s,s], s:[{s:o, s:s},"
		" {s:[s], s:s, s:[{s:i, s:i, s:s}]}, {s:[s], s:s, s:[{s:i, s:i, s:s}]},"
		" {s:[s], s:s, s:[{s:i, s:i, s:i, s:s}]}, {s:[s], s:s, s:i}]}",
		"defaultAction", "SCMP_ACT_ERRNO", "defaultErrnoRet", 1, "architectures",
		"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "syscalls", "names", list,
		"action", "SCMP_ACT_ALLOW",
		"names", "personality", "action", "SCMP_ACT_ALLOW", "args", "index", 0, "value", 0, "op",
		"SCMP_CMP_EQ",
		"names", "personality", "action", "SCMP_ACT_ALLOW", "args", "index", 0, "value", 8, "op",
		"SCMP_CMP_EQ",
		"names", "clone", "action", "SCMP_ACT_ALLOW", "args", "index", 0, "value", 2114060288,
		"valueTwo", 0, "op", "SCMP_CMP_MASKED_EQ",
		"names", "clone3", "action", "SCMP_ACT_ERRNO", "errnoRet", 38);
	char *text = json_dumps(doc, 0);
	json_decref(doc);
	return text;
}

static void test_cache(void)
{
	char dir[] = "/tmp/husk-test-seccomp-XXXXXX";
	if (!mkdtemp(dir)) {
		ok(false, "mkdtemp");
		return;
	}
	husk_seccomp_set_cache_dir(dir);
	const char *prof = "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\":"
			   " [\"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 61}]}";
	/* The same profile with its keys in another order. */
	const char *reordered = "{\"syscalls\": [{\"errnoRet\": 61, \"action\": \"SCMP_ACT_ERRNO\","
				" \"names\": [\"mkdirat\"]}], \"defaultAction\": \"SCMP_ACT_ALLOW\"}";
	size_t n1 = accepts(prof, "a profile (cache miss)");
	_cleanup_dir_ DIR *d = opendir(dir);
	struct dirent *de;
	char name[300] = "";
	while (d && (de = readdir(d)))
		if (strncmp(de->d_name, "seccomp-", 8) == 0)
			snprintf(name, sizeof(name), "%s/%s", dir, de->d_name);
	ok(*name, "the program was cached");
	size_t n2 = accepts(reordered, "the same profile (cache hit)");
	ok(n1 == n2 && n1 > 0, "cached program has the same length");
	int st = under_filter(reordered, probe_mkdir);
	ok(exited(st, 61), "the cached program works (status %#x)", st);

	/* A damaged or foreign entry is a miss, never a wrong filter. */
	FILE *f = fopen(name, "r+");
	if (f) {
		fseek(f, 30, SEEK_SET);
		fputc('X', f);
		fclose(f);
	}
	st = under_filter(prof, probe_mkdir);
	ok(exited(st, 61), "a damaged cache entry is recompiled (status %#x)", st);
	st = under_filter("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\":"
			  " [\"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 62}]}",
			  probe_mkdir);
	ok(exited(st, 62), "a different profile gets its own program (status %#x)", st);

	/* A full cache is emptied on the next miss. */
	for (int i = 0; i < 70; i++) {
		char junk[300];
		snprintf(junk, sizeof(junk), "%s/seccomp-junk%d", dir, i);
		FILE *j = fopen(junk, "w");
		if (j)
			fclose(j);
	}
	accepts("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdirat\"],"
		" \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 63}]}",
		"a new profile with a full cache");
	size_t left = 0;
	rewinddir(d);
	while (d && (de = readdir(d)))
		left += strncmp(de->d_name, "seccomp-", 8) == 0;
	ok(left == 1, "a full cache was emptied (%zu entries left)", left);

	if (name[0])
		unlink(name);
	rewinddir(d);
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.' || strlen(de->d_name) > 2)
			unlinkat(dirfd(d), de->d_name, 0);
	rmdir(dir);
	husk_seccomp_set_cache_dir(NULL);
}

/* The state keeps the parsed profile as its canonical object, read back
 * (as state.json is, without reals for big integers) by exec with the
 * same parser: the same profile, the same program. */
static void record_roundtrip(const char *text, const char *what)
{
	json_t *obj = json_loads(text, JSON_DECODE_INT_AS_REAL, NULL);
	struct husk_seccomp_profile *sp = NULL, *back = NULL;
	struct husk_seccomp *sc = NULL, *sc2 = NULL;
	struct husk_error e;
	husk_err_clear(&e);
	int r = husk_seccomp_parse(obj, "linux.seccomp", &sp, &e);
	json_t *rec = r == 0 ? husk_seccomp_profile_json(sp) : NULL;
	char *dumped = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
	json_t *read = dumped ? json_loads(dumped, 0, NULL) : NULL;
	if (read && husk_seccomp_parse(read, "linux.seccomp", &back, &e) == 0) {
		json_t *rec2 = husk_seccomp_profile_json(back);
		r = json_equal(rec, rec2) ? 0 : -1;
		json_decref(rec2);
	} else {
		r = -1;
	}
	if (r == 0)
		r = husk_seccomp_prepare(sp, WHERE, &sc, &e);
	if (r == 0)
		r = husk_seccomp_prepare(back, WHERE, &sc2, &e);
	ok(r == 0 && husk_seccomp_len(sc) == husk_seccomp_len(sc2) &&
		   husk_seccomp_notifies(sc) == husk_seccomp_notifies(sc2),
	   "the state's record of %s gives the same profile and program%s%s", what, r ? ": " : "",
	   r ? e.msg : "");
	if (dumped && strstr(text, "18446744073709551615"))
		ok(back && back->syscalls[0].args[0].value == UINT64_MAX &&
			   back->syscalls[0].args[0].value_two == 7,
		   "a 64-bit value survives the record");
	husk_seccomp_free(sc);
	husk_seccomp_free(sc2);
	husk_seccomp_profile_free(sp);
	husk_seccomp_profile_free(back);
	json_decref(obj);
	json_decref(rec);
	json_decref(read);
	free(dumped);
}

static void test_record(void)
{
	_cleanup_free_ char *docker = docker_like();
	record_roundtrip(docker, "a docker-like profile");
	record_roundtrip("{\"defaultAction\": \"SCMP_ACT_TRACE\", \"defaultErrnoRet\": 3,"
			 " \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"], \"listenerPath\": \"/run/a.sock\","
			 " \"listenerMetadata\": \"m\", \"syscalls\": [{\"names\": [\"write\"],"
			 " \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 2, \"value\":"
			 " 18446744073709551615, \"valueTwo\": 7, \"op\": \"SCMP_CMP_MASKED_EQ\"}]},"
			 " {\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}",
			 "flags, a listener and 64-bit values");
}

#endif

static __attribute__((unused)) void test_errors(void)
{
	rejects("[]", ": expected an object", 0);
	rejects("{}", ".defaultAction: required", 0);
	rejects("{\"defaultAction\": 3}", ".defaultAction: expected a string", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_FOO\"}", ".defaultAction: unknown action \"SCMP_ACT_FOO\"", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultErrnoRet\": 3}",
		".defaultErrnoRet: SCMP_ACT_ALLOW takes no errno return code", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": -1}",
		".defaultErrnoRet: expected an unsigned integer", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 70000}",
		".defaultErrnoRet: value 70000 out of range [0, 65535]", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_NOTIFY\", \"listenerPath\": \"/run/agent.sock\"}",
		".defaultAction: SCMP_ACT_NOTIFY is for syscalls[], not the default", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"],"
		" \"action\": \"SCMP_ACT_NOTIFY\"}]}",
		".listenerPath: SCMP_ACT_NOTIFY needs a listenerPath for the agent", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerMetadata\": \"m\"}",
		".listenerMetadata: set without listenerPath", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_VAX\"]}",
		".architectures[1]: unknown architecture \"SCMP_ARCH_VAX\"", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": \"SCMP_ARCH_X86\"}",
		".architectures: expected an array", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": [\"SECCOMP_FILTER_FLAG_BOGUS\"]}",
		".flags[0]: unknown flag \"SECCOMP_FILTER_FLAG_BOGUS\"", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": {}}", ".syscalls: expected an array", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [3]}", ".syscalls[0]: expected an object", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"action\": \"SCMP_ACT_KILL\"}]}",
		".syscalls[0].names: at least one name required", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [], \"action\": \"SCMP_ACT_KILL\"}]}",
		".syscalls[0].names: at least one name required", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\", 4], \"action\": \"SCMP_ACT_KILL\"}]}",
		".syscalls[0].names[1]: expected a string", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"]}]}",
		".syscalls[0].action: required", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
		"{\"names\": [\"a\"], \"action\": \"SCMP_ACT_KILL\"}, {\"names\": [\"b\"], \"action\": \"SCMP_ACT_KILL\"},"
		"{\"names\": [\"c\"], \"action\": \"SCMP_ACT_KILL\"}, {\"names\": [\"d\"], \"action\": \"SCMP_ACT_FOO\"}]}",
		".syscalls[3].action: unknown action \"SCMP_ACT_FOO\"", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_KILL\", \"errnoRet\": 1}]}",
		".syscalls[0].errnoRet: SCMP_ACT_KILL takes no errno return code", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 6, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
		".syscalls[0].args[0].index: value 6 out of range [0, 5]", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"op\": \"SCMP_CMP_EQ\"}]}]}",
		".syscalls[0].args[0].value: required", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": 1}]}]}",
		".syscalls[0].args[0].op: required", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_ALMOST\"}]}]}",
		".syscalls[0].args[0].op: unknown operator \"SCMP_CMP_ALMOST\"", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": -5, \"op\": \"SCMP_CMP_EQ\"}]}]}",
		".syscalls[0].args[0].value: expected an unsigned integer", 0);
	rejects("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": 1}]}",
		".syscalls[0].args: expected an array", 0);
}

int main(void)
{
	husk_seccomp_set_cache_dir(NULL); /* exercise the compiler itself */
#if HAVE_SECCOMP
	test_errors();

	size_t base = accepts("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"],"
			      " \"action\": \"SCMP_ACT_ERRNO\"}]}",
			      "one rule");
	size_t with_unknown = accepts("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\":"
				      " [\"mkdir\", \"not_a_syscall\"], \"action\": \"SCMP_ACT_ERRNO\"},"
				      " {\"names\": [\"also_unknown\"], \"action\": \"SCMP_ACT_KILL\"}]}",
				      "unknown syscall names");
	ok(base > 0 && base == with_unknown, "unknown names are skipped (%zu == %zu instructions)", base,
	   with_unknown);
	size_t same = accepts("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"],"
			      " \"action\": \"SCMP_ACT_ERRNO\"}, {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
			      "a rule repeating the default action");
	ok(same == base, "a rule repeating the default action changes nothing");
	accepts("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultErrnoRet\": null, \"architectures\": null,"
		" \"flags\": null, \"listenerPath\": \"\", \"listenerMetadata\": null, \"syscalls\": null}",
		"nulls and an empty listenerPath");
	accepts("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/run/agent.sock\","
		" \"listenerMetadata\": \"m\", \"syscalls\": [{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}",
		"SCMP_ACT_NOTIFY with a listener");
	accepts("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/run/agent.sock\"}",
		"a listenerPath without SCMP_ACT_NOTIFY is ignored");
	accepts("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": [\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\"]}",
		"WAIT_KILLABLE_RECV without a listener: nothing to wait for, dropped");
	accepts("{\"defaultAction\": \"SCMP_ACT_KILL_PROCESS\", \"architectures\": [\"SCMP_ARCH_X86_64\","
		" \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\", \"SCMP_ARCH_AARCH64\"]}",
		"several architectures, the native one included");
	accepts("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"write\"], \"action\":"
		" \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 2, \"value\": 18446744073709551615, \"op\": \"SCMP_CMP_GE\"}]}]}",
		"a 64-bit argument value");

	_cleanup_free_ char *docker = docker_like();
	uint64_t t0 = husk_now_ns();
	size_t n = accepts(docker, "a docker-like profile");
	uint64_t dt = husk_now_ns() - t0;
	ok(n > 100, "docker-like profile compiled to %zu instructions in %.2f ms", n, (double)dt / 1e6);

	test_effects();
#if defined(__x86_64__)
	test_enosys();
#endif
	test_cache();
	test_record();

	json_t *f = husk_seccomp_features();
	ok(json_is_true(json_object_get(f, "enabled")) && json_array_size(json_object_get(f, "actions")) == 9 &&
		   json_array_size(json_object_get(f, "operators")) == 7 &&
		   json_array_size(json_object_get(f, "archs")) >= 16 &&
		   json_array_size(json_object_get(f, "knownFlags")) == 4,
	   "features list actions, operators, archs and flags");
	json_decref(f);
#else
	struct husk_error e;
	struct husk_seccomp *sc = prepare("{\"defaultAction\": \"SCMP_ACT_ALLOW\"}", &e);
	ok(!sc && e.errnum == ENOTSUP && strstr(e.msg, "without libseccomp"),
	   "a build without libseccomp refuses linux.seccomp");
	json_t *f = husk_seccomp_features();
	ok(json_is_false(json_object_get(f, "enabled")), "features say seccomp is disabled");
	json_decref(f);
#endif
	return tap_done();
}
