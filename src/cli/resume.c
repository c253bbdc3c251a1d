/* husk resume: thaw a paused container. */
#include "cli.h"
#include "container_cgroup.h"

const struct husk_cmd husk_resume_cmd = {
	.name = "resume",
	.run = husk_cli_id_cmd,
	.id_op = husk_container_resume,
	.summary = "resume all processes that have been previously paused",
	.args = "<container-id>",
	.description = "   Thaw the processes of a container frozen by `pause`.\n",
};
