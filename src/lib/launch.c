#include "launch.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clone.h"
#include "container.h"
#include "label.h"
#include "seccomp_filter.h"
#include "sync.h"
#include "terminal.h"
#include "util.h"

/* ---- before anything exists ---- */

int husk_socket_activation_fds(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	long p, n;
	if (!pid || !fds || husk_parse_long(pid, 1, INT_MAX, &p) < 0 || p != getpid() ||
	    husk_parse_long(fds, 0, 1024, &n) < 0)
		return 0;
	return (int)n;
}

int husk_launch_begin(struct husk_launch *l, int preserve_fds, struct husk_error *e)
{
	if (preserve_fds < 0)
		return husk_err(e, 0, "--preserve-fds must not be negative");
	l->preserve_fds = preserve_fds + husk_socket_activation_fds();
	l->min_fd = 3 + l->preserve_fds;
	return husk_reserve_preserved_fds(l->min_fd, e);
}

int husk_launch_prepare(struct husk_launch *l, const struct husk_launch_process *lp,
			struct husk_error *e)
{
	const struct husk_process *p = lp->process;
	l->terminal = p->terminal;
	/* A terminal goes to --console-socket, or is proxied by a foreground
	 * run or exec; without a terminal there is nothing to send (as runc). */
	if (p->terminal && !lp->console_socket && !lp->foreground)
		return husk_err(e, 0, "cannot allocate a tty if husk will detach without setting a console socket");
	if (!p->terminal && lp->console_socket)
		return husk_err(e, 0, "cannot use a console socket if husk will not allocate a tty");
	/* Labels and the seccomp filter are checked and compiled before
	 * anything exists, so a bad profile leaves nothing to clean up. */
	if (husk_label_check(p, lp->mount_label, lp->label_where, e) < 0 ||
	    (lp->seccomp && husk_seccomp_prepare(lp->seccomp, lp->seccomp_where, &l->seccomp, e) < 0))
		return -1;
	if (lp->console_socket) {
		l->console = husk_fd_above(husk_terminal_connect(lp->console_socket, e), l->min_fd);
		if (l->console < 0)
			return -1;
	}
	return 0;
}

/* ---- the clone ---- */

int husk_launch_socketpair(struct husk_launch *l, struct husk_error *e)
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, l->sync) < 0)
		return husk_errno(e, "sync socketpair");
	l->sync[0] = husk_fd_above(l->sync[0], l->min_fd);
	l->sync[1] = husk_fd_above(l->sync[1], l->min_fd);
	if (l->sync[0] < 0 || l->sync[1] < 0)
		return husk_errno(e, "sync socketpair");
	return 0;
}

pid_t husk_launch_clone(struct husk_launch *l, unsigned long flags, const char *what,
			struct husk_error *e)
{
	bool born;
	pid_t pid = husk_clone_into_cgroup(flags, l->join.v2_dir, &born);
	l->born_in_v2 = born;
	if (pid == 0)
		return 0;
	husk_cgroup_join_close(&l->join); /* the child closes its own copies */
	if (pid < 0)
		return husk_errno(e, "%s", what);
	l->first = pid;
	husk_closep(&l->sync[1]);
	return pid;
}

bool husk_launch_child_join(struct husk_launch *l, const int *keep, size_t nkeep, char **need)
{
	struct husk_cgroup_join *j = &l->join;
	int *all = xmalloc((2 + j->n + nkeep) * sizeof(*all));
	size_t n = 0;
	all[n++] = l->sync[1];
	all[n++] = j->v2_dir;
	for (size_t i = 0; i < j->n; i++)
		all[n++] = j->fd[i];
	for (size_t i = 0; i < nkeep; i++)
		all[n++] = keep[i];
	husk_close_fds_from(l->min_fd, all, n);
	free(all);
	*need = xmalloc(j->n + 1);
	return husk_cgroup_join_self(j, l->born_in_v2, *need);
}

/* The child's half of the terminal hand-over. */
int husk_launch_send_terminal(int sync_fd, int master, int slave, struct husk_error *e)
{
	int r = husk_sync_send_fd(sync_fd, SYNC_CONSOLE, master, e);
	close(master);
	if (r < 0) {
		close(slave);
		return -1;
	}
	return husk_terminal_setup_stdio(slave, e);
}

/* ---- the runtime's side ---- */

void husk_launch_first_is_process(struct husk_launch *l)
{
	l->pid = l->first;
	l->first = -1;
}

int husk_launch_child_pid(struct husk_launch *l, char **payload, struct husk_error *e)
{
	int32_t pid;
	int r = husk_sync_expect(l->sync[0], SYNC_CHILD_PID, &pid, payload, e);
	pid_t first = l->first;
	l->first = -1; /* before the wait: no signal handler kills a reaped pid */
	husk_reap(first);
	if (r < 0) {
		/* The process may fail (and say so) before the first child,
		 * now gone, sent its pid: take that too, to reap our child. */
		struct pollfd pfd = { .fd = l->sync[0], .events = POLLIN };
		struct husk_error ignored;
		if (poll(&pfd, 1, 0) == 1 &&
		    husk_sync_expect(l->sync[0], SYNC_CHILD_PID, &pid, NULL, &ignored) == 0)
			l->pid = pid;
		return -1;
	}
	l->pid = pid;
	return 0;
}

int husk_launch_handover(struct husk_launch *l, const char *state_json, const char *agent_where,
			 struct husk_error *e)
{
	if (l->terminal) {
		int master;
		if (husk_sync_expect_fd(l->sync[0], SYNC_CONSOLE, &master, e) < 0)
			return -1;
		l->master = master;
		if (l->console >= 0) {
			if (husk_terminal_send_console(l->console, l->master, e) < 0)
				return -1;
			husk_closep(&l->master);
		}
	}
	if (husk_seccomp_notifies(l->seccomp)) {
		/* The agent gets the filter's fd and the state, once. */
		_cleanup_fd_ int notify_fd = -1;
		if (husk_sync_expect_fd(l->sync[0], SYNC_SECCOMP, &notify_fd, e) < 0)
			return -1;
		if (husk_seccomp_send_listener(l->seccomp, notify_fd, l->pid, state_json, e) < 0)
			return husk_err_wrap(e, "%s", agent_where);
	}
	return 0;
}

int husk_launch_wait_exec(struct husk_launch *l, struct husk_error *e)
{
	char buf[sizeof(struct husk_sync_msg) + HUSK_ERR_MSG_MAX];
	ssize_t n;
	do
		n = recv(l->sync[0], buf, sizeof(buf) - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n < 0)
		return husk_errno(e, "sync: receive");
	struct husk_sync_msg h;
	if ((size_t)n < sizeof(h))
		return husk_err(e, EPROTO, "sync: short message");
	memcpy(&h, buf, sizeof(h));
	buf[n] = '\0';
	if (h.type == SYNC_ERROR)
		return husk_err(e, h.val, "%s", buf + sizeof(h));
	return husk_err(e, EPROTO, "sync: unexpected message %u", h.type);
}

/* ---- a foreground process ---- */

static const int forwarded_signals[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
					 SIGWINCH, SIGCONT, SIGALRM, SIGPWR };

void husk_launch_block_signals(sigset_t *set, sigset_t *old)
{
	sigemptyset(set);
	for (size_t i = 0; i < ARRAY_SIZE(forwarded_signals); i++)
		sigaddset(set, forwarded_signals[i]);
	sigaddset(set, SIGCHLD);
	sigprocmask(SIG_BLOCK, set, old);
}

int husk_launch_wait(pid_t pid, int master, const sigset_t *set, int *exit_status,
		     struct husk_error *e)
{
	int status = 0;
	if (husk_terminal_wait(pid, master, set, &status, e) < 0)
		return -1;
	*exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return 0;
}

/* ---- cleanup ---- */

void husk_reap(pid_t pid)
{
	if (pid <= 0)
		return;
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

void husk_launch_kill(struct husk_launch *l)
{
	pid_t pid = l->first;
	l->first = -1;
	if (pid > 0) {
		kill(pid, SIGKILL);
		husk_reap(pid);
	}
	pid = l->pid;
	l->pid = -1;
	if (pid > 0) {
		kill(pid, SIGKILL);
		husk_reap(pid);
	}
}

void husk_launch_free(struct husk_launch *l)
{
	husk_launch_kill(l);
	if (l->masked)
		sigprocmask(SIG_SETMASK, &l->old, NULL);
	l->masked = false;
	husk_closep(&l->sync[0]);
	husk_closep(&l->sync[1]);
	husk_closep(&l->master);
	husk_closep(&l->console);
	husk_cgroup_join_free(&l->join);
	husk_seccomp_free(l->seccomp);
	l->seccomp = NULL;
}
