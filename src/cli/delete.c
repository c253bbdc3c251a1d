/* husk delete: remove a stopped (or, with --force, any) container. */
#include "cli.h"

struct delete_opts {
	bool force;
};

static const struct husk_flag flags[] = {
	{ "force", 'f', HUSK_FLAG_BOOL, offsetof(struct delete_opts, force),
	  "delete even a running container, killing it with SIGKILL" },
	HUSK_FLAGS_END,
};

static int delete(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc, char **argv)
{
	struct delete_opts o = { 0 };
	char *pos[argc];
	int npos;
	int r = husk_cli_parse_args(cmd, argc, argv, &o, pos, &npos, 1, 1, true);
	if (r)
		return r < 0;
	struct husk_error e = { 0 };
	if (husk_container_delete(g, pos[0], o.force, &e) < 0)
		return husk_cli_fail(cmd->name, pos[0], &e);
	return 0;
}

const struct husk_cmd husk_delete_cmd = {
	.name = "delete",
	.run = delete,
	.summary = "delete a container and release what it holds",
	.args = "<container-id>",
	.description =
		"   Remove a stopped container: its state, cgroups and other resources.\n"
		"   A container that still runs is refused unless --force is given.\n"
		"   With --force, a container that does not exist is no error.\n",
	.flags = flags,
};
