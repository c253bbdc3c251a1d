/* husk start: run the user program of a created container. */
#include "cli.h"

const struct husk_cmd husk_start_cmd = {
	.name = "start",
	.run = husk_cli_id_cmd,
	.id_op = husk_container_start,
	.summary = "start the user program of a created container",
	.args = "<container-id>",
	.description = "   Let a container made by \"husk create\" run the program in process.args.\n",
};
