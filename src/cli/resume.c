/* husk resume: thaw a paused container. */
#include "cli.h"
#include "container_cgroup.h"

static int resume_cmd(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc, char **argv)
{
	char *pos[argc];
	int npos;
	int r = husk_cli_parse_args(cmd, argc, argv, NULL, pos, &npos, 1, 1, true);
	if (r)
		return r < 0;
	struct husk_error e = { 0 };
	if (husk_container_resume(g, pos[0], &e) < 0)
		return husk_cli_fail(cmd->name, pos[0], &e);
	return 0;
}

const struct husk_cmd husk_resume_cmd = {
	.name = "resume",
	.run = resume_cmd,
	.summary = "resume all processes that have been previously paused",
	.args = "<container-id>",
	.description = "   Thaw the processes of a container frozen by `pause`.\n",
};
