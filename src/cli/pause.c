/* husk pause: freeze every process of a container. */
#include "cli.h"
#include "container_cgroup.h"

const struct husk_cmd husk_pause_cmd = {
	.name = "pause",
	.run = husk_cli_id_cmd,
	.id_op = husk_container_pause,
	.summary = "suspend all processes inside the container",
	.args = "<container-id>",
	.description = "   Freeze every process of the container (cgroup v1 freezer or v2\n"
		       "   cgroup.freeze); its status becomes \"paused\" until `resume`.\n",
};
