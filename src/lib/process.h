/* Process attributes from config.json's process object, applied to the
 * calling process (the container's init, or an exec'd process). */
#pragma once
#include <stddef.h>

#include "error.h"
#include "spec.h"

/* Apply, in runc's order: rlimits, personality (when has_personality),
 * scheduler, ioPriority, umask, capability bounding set, PR_SET_KEEPCAPS,
 * setgroups/setresgid/setresuid, the other capability sets, ambient
 * capabilities, no_new_privileges.  oomScoreAdj is written here too.
 * setgroups_allowed is false when /proc/self/setgroups says "deny".
 * Does not chdir and does not load seccomp. */
int husk_process_apply(const struct husk_process *p, bool has_personality,
		       unsigned long personality, bool setgroups_allowed, struct husk_error *e);

/* Resolve args[0] the way execvp would, using PATH from p->env (or the
 * default PATH), relative to the current root and cwd.  Fails with a clear
 * message ("exec: \"foo\": executable file not found in $PATH") when it
 * is missing or not executable.  out receives the path to execve. */
int husk_process_find_executable(const struct husk_process *p, char *out, size_t len,
				 struct husk_error *e);

struct husk_seccomp;

/* The last steps shared by the container's init and by exec, split in two
 * so that everything that can fail is reported while someone still waits:
 * husk_process_become() enters cwd (as root first, as the user again when
 * root could not), finds the executable, applies labels, an early seccomp
 * filter and the process attributes, and builds the environment (HOME
 * from the container's /etc/passwd when unset, LISTEN_FDS/LISTEN_PID for
 * preserved fds).  husk_process_exec() then keeps only stdio, the
 * preserved fds and keep_fd (close-on-exec), resets signals, loads a late
 * seccomp filter and execs; it returns only on failure. */
struct husk_exec_plan {
	char path[4096];
	char **env;
	const struct husk_seccomp *seccomp;
	bool seccomp_late;
	int preserve_fds;
	/* SCMP_ACT_NOTIFY: the listener fd while it is being handed over
	 * (closed by husk_process_become).  Else -1. */
	int notify_fd;
};

/* A notify filter's listener fd is sent over sync_fd (SYNC_SECCOMP) right
 * after the filter is loaded, before any syscall it may notify: the
 * runtime passes it to the agent, without which the process would wait
 * on its own notifications. */
int husk_process_become(const struct husk_process *p, bool has_personality,
			unsigned long personality, const struct husk_seccomp *seccomp, int preserve_fds,
			int sync_fd, struct husk_exec_plan *plan, struct husk_error *e);

/* Load a filter that was waiting for husk_process_exec now (a no-op when
 * there is none or it is loaded already). */
int husk_process_seccomp_now(struct husk_exec_plan *plan, struct husk_error *e);

int husk_process_exec(const struct husk_exec_plan *plan, char *const argv[], int keep_fd,
		      struct husk_error *e);

/* HOME for uid from passwd text (/etc/passwd format), "/" when absent. */
char *husk_passwd_home(const char *passwd, uint32_t uid);
