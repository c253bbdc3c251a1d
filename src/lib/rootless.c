#include "rootless.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "namespaces.h"
#include "util.h"

int husk_subid_lookup(const char *file, const char *name, unsigned id, unsigned *start,
		      unsigned *count)
{
	FILE *f = fopen(file, "re");
	if (!f)
		return -1;
	char line[512], num[16];
	snprintf(num, sizeof(num), "%u", id);
	int r = -1;
	while (r < 0 && fgets(line, sizeof(line), f)) {
		char *who = strtok(line, ":"), *s = strtok(NULL, ":"), *c = strtok(NULL, ":\n");
		long ls, lc;
		if (!who || !s || !c || (strcmp(who, num) && (!name || strcmp(who, name))) ||
		    husk_parse_long(s, 1, 0xfffffffeL, &ls) < 0 ||
		    husk_parse_long(c, 1, 0xfffffffeL, &lc) < 0)
			continue;
		*start = (unsigned)ls;
		*count = (unsigned)lc;
		r = 0;
	}
	fclose(f);
	return r;
}

char *husk_newidmap_path(const char *tool)
{
	static const char *const dirs[] = { "/usr/bin", "/bin", "/usr/sbin", "/sbin" };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char *p = xasprintf("%s/%s", dirs[i], tool);
		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

bool husk_idmap_needs_helper(const struct husk_id_mapping *m, size_t n, bool gid)
{
	unsigned own = gid ? (unsigned)getegid() : (unsigned)geteuid();
	return n > 1 || (n == 1 && (m[0].size != 1 || m[0].host_id != own));
}

int husk_newidmap(pid_t pid, const struct husk_id_mapping *m, size_t n, bool gid,
		  struct husk_error *e)
{
	const char *tool = gid ? "newgidmap" : "newuidmap";
	_cleanup_free_ char *path = husk_newidmap_path(tool);
	if (!path)
		return husk_err(e, 0, "%s: mapping more than the caller's own id needs %s (package "
				"uidmap), which is not installed", gid ? "gid_map" : "uid_map", tool);
	char **argv = xcalloc(3 * n + 3, sizeof(char *));
	argv[0] = xstrdup(tool);
	argv[1] = xasprintf("%d", (int)pid);
	for (size_t i = 0; i < n; i++) {
		argv[2 + 3 * i] = xasprintf("%u", m[i].container_id);
		argv[3 + 3 * i] = xasprintf("%u", m[i].host_id);
		argv[4 + 3 * i] = xasprintf("%u", m[i].size);
	}
	/* Its complaint (which range /etc/subuid does not allow) is the error. */
	int out[2] = { -1, -1 }, r = -1;
	pid_t child = -1;
	if (pipe2(out, O_CLOEXEC) < 0 || (child = fork()) < 0) {
		husk_errno(e, "run %s", tool);
		goto done;
	}
	if (child == 0) {
		dup2(out[1], STDERR_FILENO);
		execv(path, argv);
		_exit(127);
	}
	husk_closep(&out[1]);
	char msg[256];
	ssize_t len = husk_read_all(out[0], msg, sizeof(msg) - 1);
	msg[len > 0 ? len : 0] = '\0';
	msg[strcspn(msg, "\n")] = '\0';
	int st;
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		r = 0;
	else
		husk_err(e, 0, "%s failed%s%s", tool, *msg ? ": " : "", msg);
done:
	husk_closep(&out[0]);
	husk_closep(&out[1]);
	for (size_t i = 0; i < 3 * n + 2; i++)
		free(argv[i]);
	free(argv);
	return r;
}

json_t *husk_idmap_json(const struct husk_id_mapping *m, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:I, s:I, s:I}", "containerID",
						   (json_int_t)m[i].container_id, "hostID",
						   (json_int_t)m[i].host_id, "size", (json_int_t)m[i].size));
	return a;
}

size_t husk_rootless_mapping(bool gid, struct husk_id_mapping out[2])
{
	unsigned own = gid ? (unsigned)getegid() : (unsigned)geteuid();
	out[0] = (struct husk_id_mapping){ .container_id = 0, .host_id = own, .size = 1 };
	struct passwd *pw = getpwuid(geteuid());
	const char *file = gid ? "/etc/subgid" : "/etc/subuid";
	unsigned start, count;
	if (husk_subid_lookup(file, pw ? pw->pw_name : NULL, (unsigned)geteuid(), &start, &count) < 0) {
		husk_debug("rootless: no range in %s: only %s %u is mapped", file,
			   gid ? "gid" : "uid", own);
		return 1;
	}
	_cleanup_free_ char *helper = husk_newidmap_path(gid ? "newgidmap" : "newuidmap");
	if (!helper) {
		husk_debug("rootless: %s is not installed: only %s %u is mapped",
			   gid ? "newgidmap" : "newuidmap", gid ? "gid" : "uid", own);
		return 1;
	}
	out[1] = (struct husk_id_mapping){ .container_id = 1, .host_id = start, .size = count };
	return 2;
}

bool husk_idmap_maps(const struct husk_id_mapping *m, size_t n, unsigned id)
{
	for (size_t i = 0; i < n; i++)
		if (id >= m[i].container_id && id - m[i].container_id < m[i].size)
			return true;
	return false;
}

bool husk_rootless_has_subids(const char **why)
{
	struct husk_id_mapping m[2];
	if (husk_rootless_mapping(false, m) == 2)
		return true;
	if (why) {
		_cleanup_free_ char *tool = husk_newidmap_path("newuidmap");
		*why = tool ? "the user has no range in /etc/subuid"
			    : "newuidmap (package uidmap) is not installed";
	}
	return false;
}

/* What the child sends back after its first byte (0: in its namespace):
 * fn's status and error, then on success the ret bytes. */
struct userns_report {
	int status;
	struct husk_error err;
};

/* The child of husk_userns_call: in its own user namespace, root once the
 * parent mapped it and wrote on `go`, runs fn; the report goes back on
 * `report`.  It dies with the parent (a killed import stops extracting). */
static __attribute__((noreturn)) void userns_child(int (*fn)(void *, struct husk_error *),
						   void *arg, void *ret, size_t ret_len, int go,
						   int report, pid_t parent)
{
	struct userns_report rep = { .status = -1 };
	char b = 0;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	if (unshare(CLONE_NEWUSER) < 0) {
		husk_errno(&rep.err, "unshare user namespace");
		b = 1;
		husk_write_all(report, &b, 1);
	} else if (husk_write_all(report, &b, 1) < 0 || husk_read_all(go, &b, 1) != 1) {
		_exit(1);
	} else if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
		husk_errno(&rep.err, "become root of the user namespace");
	} else {
		rep.status = fn(arg, &rep.err) < 0 ? -1 : 0;
	}
	if (husk_write_all(report, &rep, sizeof(rep)) < 0 ||
	    (rep.status == 0 && ret_len && husk_write_all(report, ret, ret_len) < 0))
		_exit(1);
	_exit(rep.status == 0 ? 0 : 1);
}

int husk_userns_call(int (*fn)(void *arg, struct husk_error *e), void *arg, void *ret,
		     size_t ret_len, struct husk_error *e)
{
	_cleanup_fd_ int go_r = -1, go_w = -1, rep_r = -1, rep_w = -1;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return husk_errno(e, "pipe");
	go_r = p[0], go_w = p[1];
	if (pipe2(p, O_CLOEXEC) < 0)
		return husk_errno(e, "pipe");
	rep_r = p[0], rep_w = p[1];
	pid_t parent = getpid();
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return husk_errno(e, "fork");
	if (pid == 0)
		userns_child(fn, arg, ret, ret_len, go_r, rep_w, parent);
	husk_closep(&rep_w);
	husk_closep(&go_r);
	struct husk_id_mapping uids[2], gids[2];
	size_t nu = husk_rootless_mapping(false, uids), ng = husk_rootless_mapping(true, gids);
	struct userns_report rep = { .status = -1 };
	char b = 2;
	int r = -1;
	if (husk_read_all(rep_r, &b, 1) != 1 || b > 1) {
		husk_err(e, 0, "user namespace: the helper process died");
	} else if (b == 1) {
		/* unshare failed: its report follows */
		if (husk_read_all(rep_r, &rep, sizeof(rep)) == (ssize_t)sizeof(rep))
			*e = rep.err;
		else
			husk_err(e, 0, "user namespace: the helper process died");
	} else if (husk_ns_write_maps(pid, uids, nu, gids, ng, e) < 0) {
		husk_err_wrap(e, "user namespace");
	} else if (husk_write_all(go_w, "g", 1) != 1) {
		husk_errno(e, "user namespace: start the helper");
	} else if (husk_read_all(rep_r, &rep, sizeof(rep)) != (ssize_t)sizeof(rep)) {
		husk_err(e, 0, "user namespace: the helper process died");
	} else if (rep.status < 0) {
		*e = rep.err;
	} else if (ret_len && husk_read_all(rep_r, ret, ret_len) != (ssize_t)ret_len) {
		husk_err(e, 0, "user namespace: the helper process died");
	} else {
		r = 0;
	}
	husk_closep(&go_w); /* EOF: a child still waiting gives up */
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (r == 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		r = husk_err(e, 0, "user namespace: the helper process failed");
	return r;
}

struct rm_arg {
	int dirfd;
	const char *name;
};

static int rm_fn(void *arg, struct husk_error *e)
{
	struct rm_arg *a = arg;
	return husk_rm_rf_at(a->dirfd, a->name, e);
}

int husk_rm_rf_mapped(int dirfd, const char *name, struct husk_error *e)
{
	struct rm_arg a = { dirfd, name };
	return husk_userns_call(rm_fn, &a, NULL, 0, e);
}
