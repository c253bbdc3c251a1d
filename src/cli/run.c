/* husk run: create + start; without --detach, wait and exit with the
 * container's status. */
#include "cli.h"

struct run_opts {
	struct husk_create_opts c;
	bool no_subreaper;  /* runc compatibility: accepted, no effect */
};

#define O(field) offsetof(struct run_opts, c.field)
static const struct husk_flag flags[] = {
	{ "bundle", 'b', HUSK_FLAG_STRING, O(bundle),
	  "bundle directory (holding config.json); default: the current directory" },
	{ "console-socket", 0, HUSK_FLAG_STRING, O(console_socket),
	  "AF_UNIX socket that receives the master fd of the container's pseudoterminal" },
	{ "detach", 'd', HUSK_FLAG_BOOL, O(detach), "return once the container runs; do not wait for it" },
	{ "keep", 0, HUSK_FLAG_BOOL, O(keep), "keep the container's state after it exits (no delete)" },
	{ "pid-file", 0, HUSK_FLAG_STRING, O(pid_file), "write the container's init pid to this file" },
	{ "no-subreaper", 0, HUSK_FLAG_BOOL, offsetof(struct run_opts, no_subreaper), NULL },
	{ "no-pivot", 0, HUSK_FLAG_BOOL, O(no_pivot),
	  "enter the rootfs without pivot_root (needed when the rootfs is on a ramdisk)" },
	{ "no-new-keyring", 0, HUSK_FLAG_BOOL, O(no_new_keyring),
	  "keep the caller's session keyring instead of creating a new one" },
	{ "preserve-fds", 0, HUSK_FLAG_INT, O(preserve_fds),
	  "pass N more file descriptors, after stdio, to the container (default: 0)" },
	HUSK_FLAGS_END,
};

static int run(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc, char **argv)
{
	struct run_opts o = { 0 };
	char *pos[argc];
	int npos;
	int r = husk_cli_parse_args(cmd, argc, argv, &o, pos, &npos, 1, 1, true);
	if (r)
		return r < 0;
	o.c.id = pos[0];
	o.c.bundle = husk_nonempty(o.c.bundle);
	o.c.pid_file = husk_nonempty(o.c.pid_file);
	o.c.console_socket = husk_nonempty(o.c.console_socket);
	struct husk_error e = { 0 };
	int status = 0;
	if (husk_container_run(g, &o.c, &status, &e) < 0)
		return husk_cli_fail(cmd->name, o.c.id, &e);
	return status;
}

const struct husk_cmd husk_run_cmd = {
	.name = "run",
	.run = run,
	.summary = "create and start a container",
	.args = "<container-id>",
	.description =
		"   Create a container from a bundle (a directory holding a \"config.json\"\n"
		"   specification and a root filesystem) and start it at once.  Without\n"
		"   --detach husk waits for the container's process, exits with its status\n"
		"   (128+N when killed by signal N) and deletes the container unless --keep.\n",
	.flags = flags,
};
