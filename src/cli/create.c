/* husk create: set up a container and leave it waiting for `start`. */
#include "cli.h"

#define O(field) offsetof(struct husk_create_opts, field)
static const struct husk_flag flags[] = {
	{ "bundle", 'b', HUSK_FLAG_STRING, O(bundle),
	  "bundle directory (holding config.json); default: the current directory" },
	{ "console-socket", 0, HUSK_FLAG_STRING, O(console_socket),
	  "AF_UNIX socket that receives the master fd of the container's pseudoterminal" },
	{ "pid-file", 0, HUSK_FLAG_STRING, O(pid_file), "write the container's init pid to this file" },
	{ "no-pivot", 0, HUSK_FLAG_BOOL, O(no_pivot),
	  "enter the rootfs without pivot_root (needed when the rootfs is on a ramdisk)" },
	{ "no-new-keyring", 0, HUSK_FLAG_BOOL, O(no_new_keyring),
	  "keep the caller's session keyring instead of creating a new one" },
	{ "preserve-fds", 0, HUSK_FLAG_INT, O(preserve_fds),
	  "pass N more file descriptors, after stdio, to the container (default: 0)" },
	HUSK_FLAGS_END,
};

static int create(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc, char **argv)
{
	struct husk_create_opts o = { 0 };
	char *pos[argc];
	int npos;
	int r = husk_cli_parse_args(cmd, argc, argv, &o, pos, &npos, 1, 1, true);
	if (r)
		return r < 0;
	o.id = pos[0];
	o.bundle = husk_nonempty(o.bundle);
	o.pid_file = husk_nonempty(o.pid_file);
	o.console_socket = husk_nonempty(o.console_socket);
	struct husk_error e = { 0 };
	if (husk_container_create(g, &o, &e) < 0)
		return husk_cli_fail(cmd->name, o.id, &e);
	return 0;
}

const struct husk_cmd husk_create_cmd = {
	.name = "create",
	.run = create,
	.summary = "create a container",
	.args = "<container-id>",
	.description =
		"   Create a container from a bundle: a directory holding a \"config.json\"\n"
		"   specification and a root filesystem.  The container's process is set up\n"
		"   but does not run the program in process.args until \"husk start\".\n"
		"   The container id must be unique among the containers under --root.\n",
	.flags = flags,
};
