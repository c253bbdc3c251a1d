/* The husk command line: one table entry and one file per command. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "container.h"
#include "error.h"

enum husk_flag_type { HUSK_FLAG_BOOL, HUSK_FLAG_STRING, HUSK_FLAG_INT, HUSK_FLAG_LIST };

/* A command-line flag, stored at `offset` in the command's options struct
 * (bool, const char *, int or struct husk_list by type; a list flag may
 * repeat and each value is appended).  Accepted spellings, as runc's
 * parser takes them: --name, -name, --name=V, --name V, -s V, -s=V; a bool
 * also takes --name=true|false; short bools combine as Docker's (-it). */
struct husk_flag {
	const char *name;
	char short_name;           /* 0: none */
	enum husk_flag_type type;
	size_t offset;
	const char *help;
};
#define HUSK_FLAGS_END { NULL, 0, HUSK_FLAG_BOOL, 0, NULL }

struct husk_cmd;
typedef int (*husk_cmd_fn)(const struct husk_cmd *cmd, const struct husk_global_opts *g,
			   int argc, char **argv);

struct husk_cmd {
	const char *name;
	husk_cmd_fn run;
	const char *summary;       /* one line for `husk --help` */
	const char *args;          /* positional part of the usage line */
	const char *description;   /* paragraph(s) for `husk <cmd> --help`; may be NULL */
	const struct husk_flag *flags;  /* may be NULL */
	/* Commands on one container id without flags: .run = husk_cli_id_cmd,
	 * which calls this with the validated id. */
	int (*id_op)(const struct husk_global_opts *g, const char *id, struct husk_error *e);
};

/* Each command lives in its own file as `const struct husk_cmd husk_<name>_cmd`;
 * main.c lists them.  Adding a command: one file, one extern here, one
 * line in main.c's table, one line in meson.build. */
extern const struct husk_cmd husk_create_cmd, husk_start_cmd, husk_run_cmd, husk_state_cmd,
	husk_kill_cmd, husk_delete_cmd, husk_list_cmd, husk_spec_cmd, husk_features_cmd;
extern const struct husk_cmd husk_pause_cmd, husk_resume_cmd, husk_ps_cmd, husk_events_cmd,
	husk_update_cmd;
extern const struct husk_cmd husk_exec_cmd;
extern const struct husk_cmd husk_box_cmd;
extern const struct husk_cmd husk_image_cmd;

/* Outcome of husk_cli_parse besides success. */
#define HUSK_CLI_HELP 1            /* --help/-h seen: help already printed */

/* Parse argv[1..argc) of `cmd` (argv[0] is the command name) into opts.
 * Flags may come before or after positionals, as runc's parser allows;
 * "--" ends flag parsing.  Positionals are collected, in order, into
 * pos[0..*npos) (pos must hold argc entries).  Returns 0, HUSK_CLI_HELP
 * (help printed to stdout), or -1 with e filled. */
int husk_cli_parse(const struct husk_cmd *cmd, int argc, char **argv, void *opts,
		   char **pos, int *npos, struct husk_error *e);

/* Options before the first positional only (box: what follows ROOTFS is
 * the command's own); *consumed is the positional's index.  Returns 0,
 * HUSK_CLI_HELP (help printed) or -1 with e filled. */
int husk_cli_parse_leading(const struct husk_cmd *cmd, int argc, char **argv, void *opts,
			   int *consumed, struct husk_error *e);

/* Global options: stop at the first positional (the command name);
 * *consumed is its index.  Returns 0 or -1 with e filled. */
int husk_cli_parse_globals(const struct husk_flag *flags, int argc, char **argv, void *opts,
			   int *consumed, struct husk_error *e);

/* Parse, then require between min and max positionals (the first being a
 * container id when id_first; it is validated).  On failure prints the
 * one-line error itself.  Returns 0, HUSK_CLI_HELP or -1. */
int husk_cli_parse_args(const struct husk_cmd *cmd, int argc, char **argv, void *opts,
			char **pos, int *npos, int min, int max, bool id_first);

/* The run of a one-id command: parse, then cmd->id_op; its error printed. */
int husk_cli_id_cmd(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc,
		    char **argv);

/* Print "husk: <cmd> [<id>]: <msg>" and return 1 (the exit status). */
int husk_cli_fail(const char *cmd, const char *id, const struct husk_error *e);
int husk_cli_failf(const char *cmd, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

void husk_cli_print_cmd_help(const struct husk_cmd *cmd);
void husk_cli_print_flags(FILE *out, const struct husk_flag *flags);

/* The flags create and run share; O(field) is the offset of a
 * struct husk_create_opts field in the command's options. */
#define HUSK_CREATE_FLAGS(O)                                                                      \
	{ "bundle", 'b', HUSK_FLAG_STRING, O(bundle),                                             \
	  "bundle directory (holding config.json); default: the current directory" },             \
	{ "console-socket", 0, HUSK_FLAG_STRING, O(console_socket),                               \
	  "AF_UNIX socket that receives the master fd of the container's pseudoterminal" },       \
	{ "pid-file", 0, HUSK_FLAG_STRING, O(pid_file), "write the container's init pid to this file" }, \
	{ "no-pivot", 0, HUSK_FLAG_BOOL, O(no_pivot),                                             \
	  "enter the rootfs without pivot_root (needed when the rootfs is on a ramdisk)" },       \
	{ "no-new-keyring", 0, HUSK_FLAG_BOOL, O(no_new_keyring),                                 \
	  "keep the caller's session keyring instead of creating a new one" },                    \
	{ "preserve-fds", 0, HUSK_FLAG_INT, O(preserve_fds),                                      \
	  "pass N more file descriptors, after stdio, to the container (default: 0)" }

/* create's and run's common parse: the id and the flags above. */
int husk_cli_parse_create(const struct husk_cmd *cmd, int argc, char **argv, void *opts,
			  struct husk_create_opts *o);

/* runc treats an empty path flag (--bundle="") as not given. */
static inline const char *husk_nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

/* Signal "KILL", "SIGKILL", "kill", "9", "RTMIN+3", "SIGRTMAX-1" -> number;
 * -1 when unknown. */
int husk_signal_parse(const char *s);
