/* One launch path for the container's init (create) and for exec'd
 * processes: what a launch owns, from the first check to the process
 * running, and the stages both go through:
 *
 *   begin      --preserve-fds and socket activation: fds 3.. reserved
 *   prepare    terminal and console socket, labels, seccomp compiled
 *   socketpair the sync socket, above the preserved fds
 *   clone      the first child, born in the unified cgroup; in the child
 *              child_join closes the runtime's fds and joins the cgroups
 *   child_pid  the process's pid from an intermediate (SYNC_CHILD_PID)
 *   handover   the terminal's master to --console-socket (SYNC_CONSOLE),
 *              a notify filter's fd to its agent (SYNC_SECCOMP)
 *   free       kills and reaps what still runs, closes, frees
 *
 * What differs stays with the callers: create (container_create.c: state
 * directory, start socket, hooks, network devices, resctrl, namespaces
 * made by the init) and exec (exec.c: the namespaces of a running
 * container joined by pidfd, the process from the state). */
#pragma once
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "cgroup/cgroup.h"
#include "error.h"
#include "spec.h"

struct husk_seccomp;

struct husk_launch {
	int preserve_fds;   /* fds from 3 on that go to the process (socket activation first) */
	int min_fd;         /* 3 + preserve_fds: the runtime's own fds live at or above */
	bool terminal;      /* the process gets a pty: its master comes back (SYNC_CONSOLE) */
	struct husk_seccomp *seccomp; /* the compiled filter, or NULL */
	int console;        /* the --console-socket connection, or -1 */
	int sync[2];        /* [0] the runtime's end, [1] the child's until the clone */
	struct husk_cgroup_join join; /* opened by the caller before the clone */
	bool born_in_v2;    /* the clone put the child in join.v2_dir */
	/* Killed and reaped by husk_launch_free; read by create's signal
	 * handler.  first: the first child (intermediate or exec's joiner)
	 * until reaped; pid: the process itself until it is left to run. */
	volatile pid_t first, pid;
	int master;         /* the pty master, kept when there is no console socket */
	bool masked;        /* the forwarded signals are blocked: old restores */
	sigset_t set, old;
};

#define HUSK_LAUNCH_INIT                                                                          \
	{ .console = -1, .sync = { -1, -1 }, .join = { .v2_dir = -1 }, .first = -1, .pid = -1,     \
	  .master = -1 }

/* --preserve-fds (a negative count refused) plus systemd socket
 * activation: fds 3 .. min_fd-1 reserved for the process. */
int husk_launch_begin(struct husk_launch *l, int preserve_fds, struct husk_error *e);

/* What prepare checks before anything exists. */
struct husk_launch_process {
	const struct husk_process *process;
	const char *console_socket; /* NULL: none */
	bool foreground;            /* the runtime stays to proxy a terminal itself */
	const char *mount_label;    /* linux.mountLabel, or NULL */
	const char *label_where;    /* names the process in label errors */
	const struct husk_seccomp_profile *seccomp; /* the filter to compile, or NULL */
	const char *seccomp_where;  /* names it in errors */
};
/* The terminal and --console-socket agree, the labels are valid, the
 * seccomp filter compiles (so a bad profile leaves nothing to clean up);
 * then the console socket is connected. */
int husk_launch_prepare(struct husk_launch *l, const struct husk_launch_process *lp,
			struct husk_error *e);

/* The sync socketpair, both ends at or above min_fd. */
int husk_launch_socketpair(struct husk_launch *l, struct husk_error *e);

/* Clone the first child with flags (CLONE_NEW*), into join.v2_dir when
 * the kernel can (l->born_in_v2 says whether it did).  In the runtime:
 * its pid, kept in l->first; the child's end of the sync socket and the
 * join fds closed.  In the child: 0.  what names it in errors. */
pid_t husk_launch_clone(struct husk_launch *l, unsigned long flags, const char *what,
			struct husk_error *e);
/* In the child: close every fd from min_fd on but the sync socket, the
 * join fds and keep[0..nkeep), then join the cgroups it can.  *need (for
 * the runtime, malloc'd): '1' per hierarchy left to it.  True when the
 * child must wait for the runtime's SYNC_GO. */
bool husk_launch_child_join(struct husk_launch *l, const int *keep, size_t nkeep, char **need);

/* In the child: a pty's master to the runtime (SYNC_CONSOLE, then
 * closed); its slave becomes the controlling terminal and stdio. */
int husk_launch_send_terminal(int sync_fd, int master, int slave, struct husk_error *e);

/* The process is the first child itself (no intermediate). */
void husk_launch_first_is_process(struct husk_launch *l);
/* The process's pid (l->pid) from the first child's SYNC_CHILD_PID, its
 * payload into *payload when wanted; the first child reaped.  When the
 * process failed before its pid came, the pid is still taken, so that
 * the cleanup reaps it. */
int husk_launch_child_pid(struct husk_launch *l, char **payload, struct husk_error *e);

/* The hand-overs, in the order the child sends them: with a terminal its
 * master to the console socket (or kept in l->master to proxy); with a
 * notify filter its fd and state_json to the listenerPath agent (errors
 * prefixed with agent_where). */
int husk_launch_handover(struct husk_launch *l, const char *state_json, const char *agent_where,
			 struct husk_error *e);

/* The exec: EOF on the sync socket (close-on-exec); a message says why
 * not. */
int husk_launch_wait_exec(struct husk_launch *l, struct husk_error *e);

/* The signals a foreground run or exec passes on to its process, and
 * SIGCHLD: blocked, into *set, the old mask into *old. */
void husk_launch_block_signals(sigset_t *set, sigset_t *old);
/* Wait for the foreground process pid with the signals in set forwarded
 * and a pty master (or -1) proxied; *exit_status: its code, or 128+N for
 * signal N. */
int husk_launch_wait(pid_t pid, int master, const sigset_t *set, int *exit_status,
		     struct husk_error *e);

/* systemd socket activation addressed to us (LISTEN_PID is our pid):
 * how many fds from 3 on go to the process ahead of --preserve-fds. */
int husk_socket_activation_fds(void);

/* Wait for pid (EINTR retried); a no-op for pid <= 0. */
void husk_reap(pid_t pid);
/* SIGKILL and reap the first child, then the process. */
void husk_launch_kill(struct husk_launch *l);
/* husk_launch_kill, the old signal mask back, every fd closed, memory
 * freed.  A process that is to live on is taken out first (l->pid = -1). */
void husk_launch_free(struct husk_launch *l);
