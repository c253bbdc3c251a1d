/* husk start: run the user program of a created container. */
#include "cli.h"

static int start(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc, char **argv)
{
	char *pos[argc];
	int npos;
	int r = husk_cli_parse_args(cmd, argc, argv, NULL, pos, &npos, 1, 1, true);
	if (r)
		return r < 0;
	struct husk_error e = { 0 };
	if (husk_container_start(g, pos[0], &e) < 0)
		return husk_cli_fail(cmd->name, pos[0], &e);
	return 0;
}

const struct husk_cmd husk_start_cmd = {
	.name = "start",
	.run = start,
	.summary = "start the user program of a created container",
	.args = "<container-id>",
	.description = "   Let a container made by \"husk create\" run the program in process.args.\n",
};
