/* OCI hooks: spawn each hook with the state JSON on a pipe as stdin,
 * watch it through a pidfd so a timeout can be enforced, and report how it
 * ended. */
#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clone.h"
#include "log.h"
#include "util.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

/* Remaining milliseconds before deadline_ns (0 = none: -1 for poll). */
static int remaining_ms(uint64_t deadline_ns)
{
	if (!deadline_ns)
		return -1;
	uint64_t now = husk_now_ns();
	if (now >= deadline_ns)
		return 0;
	uint64_t ms = (deadline_ns - now + 999999) / 1000000;
	return ms > 1000000 ? 1000000 : (int)ms;
}

/* Write what the hook will take of the state without blocking forever: a
 * hook may never read stdin, and may exit without reading it.  SIGPIPE is
 * blocked while writing (and a resulting pending one consumed) so the
 * runtime does not die of it. */
static void feed_stdin(int *wfd, const char **buf, size_t *left)
{
	sigset_t pipe_set, old;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigset_t pending;
	sigpending(&pending);
	bool was_pending = sigismember(&pending, SIGPIPE);

	while (*left > 0) {
		ssize_t n = write(*wfd, *buf, *left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			*left = 0; /* EPIPE or worse: the hook does not want it */
			break;
		}
		*buf += n;
		*left -= (size_t)n;
	}
	if (!was_pending) {
		struct timespec zero = { 0, 0 };
		while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (*left == 0)
		husk_closep(wfd); /* EOF for the hook */
}

static int describe_status(int status, struct husk_error *e)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status) == 0 ? 0 : husk_err(e, 0, "exit status %d", WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		return husk_err(e, 0, "killed by signal %d", WTERMSIG(status));
	return husk_err(e, 0, "ended with wait status 0x%x", status);
}

static int spawn_hook(const struct husk_hook *h, int stdin_fd, char *const *env, pid_t *pid,
		      struct husk_error *e)
{
	char *default_argv[] = { h->path, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);

	posix_spawn_file_actions_init(&fa);
	/* dup2 onto 0 clears CLOEXEC; every other husk fd is CLOEXEC. */
	posix_spawn_file_actions_adddup2(&fa, stdin_fd, STDIN_FILENO);
	posix_spawnattr_init(&attr);
	/* The runtime may have signals blocked or handled (init does);
	 * the hook starts with a clean slate. */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	/* Its own process group, so a timeout can kill what it started too. */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
					       POSIX_SPAWN_SETPGROUP);

	int r = posix_spawn(pid, h->path, &fa, &attr, h->args ? h->args : default_argv,
			    h->env ? h->env : env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r != 0)
		return husk_err(e, r, "exec");
	return 0;
}

volatile sig_atomic_t husk_hooks_interrupted;

/* Wait for the hook while feeding its stdin; kill it on timeout. */
static int wait_hook(const struct husk_hook *h, pid_t pid, int *wfd, const char *state,
		     struct husk_error *e)
{
	const char *buf = state;
	size_t left = strlen(state);
	uint64_t deadline = h->timeout > 0 ? husk_now_ns() + (uint64_t)h->timeout * 1000000000ull : 0;
	_cleanup_fd_ int pidfd = husk_pidfd_open(pid);
	int status = 0;

	feed_stdin(wfd, &buf, &left);
	for (;;) {
		if (pidfd < 0) {
			/* Old kernel: poll waitpid. */
			pid_t r = waitpid(pid, &status, WNOHANG);
			if (r == pid)
				break;
			if (r < 0 && errno != EINTR)
				return husk_errno(e, "wait");
		} else {
			struct pollfd pfd[2] = { { .fd = pidfd, .events = POLLIN },
						 { .fd = *wfd, .events = POLLOUT } };
			int r = poll(pfd, *wfd >= 0 ? 2 : 1, remaining_ms(deadline));
			if (r < 0 && errno != EINTR)
				return husk_errno(e, "poll");
			if (r > 0 && (pfd[0].revents & POLLIN)) {
				if (waitpid(pid, &status, 0) < 0)
					return husk_errno(e, "wait");
				break;
			}
			if (r > 0 && *wfd >= 0 && pfd[1].revents) {
				if (pfd[1].revents & (POLLERR | POLLHUP))
					husk_closep(wfd);
				else
					feed_stdin(wfd, &buf, &left);
			}
		}
		if ((deadline && husk_now_ns() >= deadline) || husk_hooks_interrupted) {
			if (kill(-pid, SIGKILL) < 0)
				kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			if (husk_hooks_interrupted)
				return husk_err(e, EINTR, "interrupted");
			return husk_err(e, 0, "timed out after %d s", h->timeout);
		}
		if (pidfd < 0) {
			if (*wfd >= 0)
				feed_stdin(wfd, &buf, &left);
			usleep(1000);
		}
	}
	return describe_status(status, e);
}

static int run_one(const struct husk_hook *h, const char *state, char *const *env,
		   struct husk_error *e)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return husk_errno(e, "pipe");
	_cleanup_fd_ int rfd = p[0];
	_cleanup_fd_ int wfd = p[1];
	if (fcntl(wfd, F_SETFL, O_NONBLOCK) < 0)
		return husk_errno(e, "fcntl");

	pid_t pid;
	if (spawn_hook(h, rfd, env, &pid, e) < 0)
		return -1;
	husk_closep(&rfd);
	return wait_hook(h, pid, &wfd, state ? state : "", e);
}

int husk_hooks_run(const struct husk_hook_list *l, enum husk_hook_kind kind,
		   const char *state_json, struct husk_error *e)
{
	return husk_hooks_run_env(l, kind, state_json, environ, e);
}

int husk_hooks_run_env(const struct husk_hook_list *l, enum husk_hook_kind kind,
		       const char *state_json, char *const *env, struct husk_error *e)
{
	/* The spec: a failing poststart or poststop hook is logged as a
	 * warning and the remaining hooks and the lifecycle go on. */
	bool keep_going = kind == HUSK_HOOK_POSTSTART || kind == HUSK_HOOK_POSTSTOP;
	for (size_t i = 0; l && i < l->n; i++) {
		const struct husk_hook *h = &l->v[i];
		if (run_one(h, state_json, env, e) < 0) {
			husk_err_wrap(e, "%s hook #%zu (%s)", husk_hook_name(kind), i, h->path);
			if (!keep_going)
				return -1;
			char why[HUSK_ERR_MSG_MAX + 64];
			husk_warn("%s", husk_err_str(e, why, sizeof(why)));
			husk_err_clear(e);
		}
	}
	return 0;
}
