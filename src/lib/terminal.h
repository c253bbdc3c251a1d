/* Pseudoterminals for the container's process: created inside the
 * container (on its devpts), handed to the runtime over the sync socket,
 * then either sent to --console-socket or proxied to the caller's
 * terminal.  Also the wait loop that forwards signals to a foreground
 * process (run, exec). */
#pragma once
#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

/* In the container: open the devpts ptmx (ptmx_path resolved from at, may
 * be AT_FDCWD), unlock it, open the slave through the master
 * (TIOCGPTPEER), give the slave to the process's user and apply
 * consoleSize.  Both fds are O_CLOEXEC. */
int husk_terminal_open(int at, const char *ptmx_path, const struct husk_process *p, int *master,
		       int *slave, struct husk_error *e);

/* In the container: a new session with slave as its controlling terminal,
 * and slave on stdin, stdout and stderr.  Closes slave. */
int husk_terminal_setup_stdio(int slave, struct husk_error *e);

/* Connect to the --console-socket (path relative to the current
 * directory, any length).  Returns the connected fd. */
int husk_terminal_connect(const char *path, struct husk_error *e);
/* Send the master as runc does: SCM_RIGHTS with the pty's name as payload. */
int husk_terminal_send_console(int sock, int master, struct husk_error *e);

/* Wait for our child pid, forwarding the signals in set (blocked by the
 * caller, SIGCHLD among them) to it.  With master >= 0, also proxy the
 * caller's stdin/stdout to the pty (stdin in raw mode while it is a
 * terminal, restored on return) and pass window size changes on.  Other
 * children that exit meanwhile are reaped.  *status is the wait status. */
int husk_terminal_wait(pid_t pid, int master, const sigset_t *set, int *status,
		       struct husk_error *e);
