/* The steps between a configured process and its execve, shared by the
 * container's init and by `husk exec`. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "label.h"
#include "process.h"
#include "seccomp_filter.h"
#include "sync.h"
#include "util.h"

static bool setgroups_allowed(void)
{
	char buf[16] = "";
	_cleanup_fd_ int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	return !(n > 0 && strncmp(buf, "deny", 4) == 0);
}

char *husk_passwd_home(const char *passwd, uint32_t uid)
{
	for (const char *line = passwd; line && *line;) {
		const char *end = strchrnul(line, '\n');
		/* name:pw:uid:gid:gecos:home:shell */
		const char *f[7];
		size_t nf = 0;
		f[nf++] = line;
		for (const char *c = line; c < end && nf < 7; c++)
			if (*c == ':')
				f[nf++] = c + 1;
		if (nf == 7 && (uint32_t)strtoul(f[2], NULL, 10) == uid && f[2][0] != ':') {
			size_t len = (size_t)(f[6] - 1 - f[5]);
			if (len)
				return xstrndup(f[5], len);
		}
		line = *end ? end + 1 : end;
	}
	return xstrdup("/");
}

static bool has_var(const struct husk_process *p, const char *name, size_t len)
{
	for (size_t i = 0; i < p->n_env; i++)
		if (!strncmp(p->env[i], name, len) && p->env[i][len] == '=')
			return true;
	return false;
}

/* runc's environment rules: HOME is set from the user's passwd entry when
 * the config does not set it; preserved fds are announced. */
static char **build_env(const struct husk_process *p, int preserve_fds)
{
	char **env = xcalloc(p->n_env + 4, sizeof(char *));
	size_t j = 0;
	for (size_t i = 0; i < p->n_env; i++) {
		if (preserve_fds > 0 && (strncmp(p->env[i], "LISTEN_FDS=", 11) == 0 ||
					 strncmp(p->env[i], "LISTEN_PID=", 11) == 0))
			continue;
		env[j++] = p->env[i];
	}
	if (!has_var(p, "HOME", 4)) {
		_cleanup_free_ char *passwd = NULL;
		struct husk_error ignored;
		husk_read_file_at(AT_FDCWD, "/etc/passwd", &passwd, NULL, &ignored);
		_cleanup_free_ char *home = husk_passwd_home(passwd, p->user.uid);
		env[j++] = xasprintf("HOME=%s", home);
	}
	if (preserve_fds > 0) {
		env[j++] = xasprintf("LISTEN_FDS=%d", preserve_fds);
		env[j++] = xasprintf("LISTEN_PID=%d", (int)getpid());
	}
	env[j] = NULL;
	return env;
}

/* A notify filter's listener goes to the runtime (for the agent) right
 * after the load, before any syscall the filter may send to the agent. */
static int load_seccomp(const struct husk_seccomp *seccomp, struct husk_exec_plan *plan,
			int sync_fd, struct husk_error *e)
{
	if (husk_seccomp_load(seccomp, &plan->notify_fd, e) < 0)
		return -1;
	if (plan->notify_fd < 0)
		return 0;
	int r = husk_sync_send_fd(sync_fd, SYNC_SECCOMP, plan->notify_fd, e);
	husk_closep(&plan->notify_fd);
	return r;
}

int husk_process_become(const struct husk_process *p, bool has_personality,
			unsigned long personality, const struct husk_seccomp *seccomp, int preserve_fds,
			int sync_fd, struct husk_exec_plan *plan, struct husk_error *e)
{
	plan->seccomp = seccomp;
	plan->preserve_fds = preserve_fds;
	/* cwd first as root (it may be reachable only by root, as runc
	 * allows), and again as the user if root could not enter it.
	 * Relative args[0] is looked up from there, like execvp would. */
	bool in_cwd = chdir(p->cwd) == 0;
	if (husk_process_find_executable(p, plan->path, sizeof(plan->path), e) < 0)
		return -1;
	/* HOME comes from the container's passwd, readable while still root. */
	plan->env = build_env(p, preserve_fds);
	/* Without no_new_privileges, loading a filter needs CAP_SYS_ADMIN,
	 * which the process may lose now: load it first.  Otherwise wait
	 * until right before execve (or the startContainer hooks), so that
	 * our own last steps (the start handshake) do not run under it. */
	plan->seccomp_late = husk_seccomp_load_late(p);
	plan->notify_fd = -1;
	if (husk_label_apply_exec(p, e) < 0)
		return -1;
	if (seccomp && !plan->seccomp_late && load_seccomp(seccomp, plan, sync_fd, e) < 0)
		return -1;
	if (husk_process_apply(p, has_personality, personality, setgroups_allowed(), e) < 0)
		return -1;
	if (!in_cwd && chdir(p->cwd) < 0)
		return husk_errno(e, "chdir to cwd (\"%s\") set in config.json", p->cwd);
	/* A notify filter must be in place before the runtime is told we
	 * are ready, so that its agent gets the fd during create (as runc). */
	if (seccomp && plan->seccomp_late && husk_seccomp_notifies(seccomp)) {
		plan->seccomp_late = false;
		if (load_seccomp(seccomp, plan, sync_fd, e) < 0)
			return -1;
	}
	return 0;
}

int husk_process_seccomp_now(struct husk_exec_plan *plan, struct husk_error *e)
{
	if (!plan->seccomp || !plan->seccomp_late)
		return 0;
	plan->seccomp_late = false;
	return husk_seccomp_load(plan->seccomp, NULL, e);
}

int husk_process_exec(const struct husk_exec_plan *plan, char *const argv[], int keep_fd,
		      struct husk_error *e)
{
	for (int fd = 3; fd < 3 + plan->preserve_fds; fd++) {
		int fl = fcntl(fd, F_GETFD);
		if (fl >= 0 && (fl & FD_CLOEXEC))
			fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
	}
	husk_close_fds_from(3 + plan->preserve_fds, &keep_fd, keep_fd >= 0 ? 1 : 0);
	/* A clone of the runtime inherits its signal state; execve keeps
	 * ignored signals ignored and the mask as it is. */
	sigset_t none;
	sigemptyset(&none);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (plan->seccomp && plan->seccomp_late && husk_seccomp_load(plan->seccomp, NULL, e) < 0)
		return -1;
	execve(plan->path, argv, plan->env);
	return husk_errno(e, "exec %s", argv[0]);
}
