/* husk pause: freeze every process of a container. */
#include "cli.h"
#include "container_cgroup.h"

static int pause_cmd(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc, char **argv)
{
	char *pos[argc];
	int npos;
	int r = husk_cli_parse_args(cmd, argc, argv, NULL, pos, &npos, 1, 1, true);
	if (r)
		return r < 0;
	struct husk_error e = { 0 };
	if (husk_container_pause(g, pos[0], &e) < 0)
		return husk_cli_fail(cmd->name, pos[0], &e);
	return 0;
}

const struct husk_cmd husk_pause_cmd = {
	.name = "pause",
	.run = pause_cmd,
	.summary = "suspend all processes inside the container",
	.args = "<container-id>",
	.description = "   Freeze every process of the container (cgroup v1 freezer or v2\n"
		       "   cgroup.freeze); its status becomes \"paused\" until `resume`.\n",
};
