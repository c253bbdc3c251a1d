/* Process primitives shared by create, exec and hooks: fork-like clones
 * with namespace flags (raw syscalls, so glibc's atfork machinery and its
 * locks stay out of the start path) and pidfds. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>

/* fork() semantics with extra clone flags: no new stack, the child resumes
 * with a copy of our memory.  SIGCHLD is the exit signal. */
pid_t husk_clone_fork(unsigned long flags);

/* Like husk_clone_fork, but born in the cgroup whose directory fd is cgfd
 * (clone3 CLONE_INTO_CGROUP) when cgfd >= 0 and the kernel agrees; *into
 * says, in parent and child alike, whether it was. */
pid_t husk_clone_into_cgroup(unsigned long flags, int cgfd, bool *into);

int husk_pidfd_open(pid_t pid);
int husk_pidfd_send_signal(int pidfd, int sig);
