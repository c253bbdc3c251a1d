/* husk create: set up a container and leave it waiting for `start`. */
#include "cli.h"

#define O(field) offsetof(struct husk_create_opts, field)
static const struct husk_flag flags[] = {
	HUSK_CREATE_FLAGS(O),
	HUSK_FLAGS_END,
};

static int create(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc, char **argv)
{
	struct husk_create_opts o = { 0 };
	int r = husk_cli_parse_create(cmd, argc, argv, &o, &o);
	if (r)
		return r < 0;
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
