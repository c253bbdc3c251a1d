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
