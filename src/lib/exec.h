/* husk exec: run another process inside a running container. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "container.h"
#include "error.h"
#include "spec.h"

struct husk_exec_opts {
	const char *id;
	const char *process_file;   /* --process: a process JSON; NULL: from args + flags */
	char **args;                /* the command after the id (NULL-terminated; may be empty) */
	bool tty;                   /* -t */
	const char *console_socket;
	bool detach;
	const char *pid_file;       /* relative to the current directory */
	char **env;                 /* -e K=V, appended (a K already there is replaced) */
	size_t n_env;
	const char *user;           /* "uid[:gid]" */
	uint32_t *additional_gids;
	size_t n_additional_gids;
	const char *cwd;
	char **caps;                /* --cap: added to every set but inheritable */
	size_t n_caps;
	bool no_new_privs;
	const char *apparmor;
	const char *process_label;
	int preserve_fds;
	bool ignore_paused;
	const char *cgroup;         /* --cgroup: "path" or "ctrl[,ctrl]:path", below the container's */
};

/* Without detach waits for the process and stores its exit status (128+N
 * for signal N) in *exit_status; with detach returns once it runs. */
int husk_container_exec(const struct husk_global_opts *g, const struct husk_exec_opts *o,
			int *exit_status, struct husk_error *e);

/* --process's document: a process object, with an optional "seccomp" of
 * its own (parsed into (*out)->seccomp, compiled later). */
int husk_exec_process_parse(json_t *doc, struct husk_process **out, struct husk_error *e);
