/* husk run: create + start; without --detach, wait and exit with the
 * container's status. */
#include "cli.h"

struct run_opts {
	struct husk_create_opts c;
	bool no_subreaper;  /* runc compatibility: accepted, no effect */
};

#define O(field) offsetof(struct run_opts, c.field)
static const struct husk_flag flags[] = {
	HUSK_CREATE_FLAGS(O),
	{ "detach", 'd', HUSK_FLAG_BOOL, O(detach), "return once the container runs; do not wait for it" },
	{ "keep", 0, HUSK_FLAG_BOOL, O(keep), "keep the container's state after it exits (no delete)" },
	{ "no-subreaper", 0, HUSK_FLAG_BOOL, offsetof(struct run_opts, no_subreaper), NULL },
	HUSK_FLAGS_END,
};

static int run(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc, char **argv)
{
	struct run_opts o = { 0 };
	int r = husk_cli_parse_create(cmd, argc, argv, &o, &o.c);
	if (r)
		return r < 0;
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
