/* husk state: print a container's state JSON. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static int state(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc, char **argv)
{
	char *pos[argc];
	int npos;
	int r = husk_cli_parse_args(cmd, argc, argv, NULL, pos, &npos, 1, 1, true);
	if (r)
		return r < 0;
	struct husk_error e = { 0 };
	char *text = NULL;
	if (husk_container_state(g, pos[0], &text, &e) < 0)
		return husk_cli_fail(cmd->name, pos[0], &e);
	/* Re-indent by 2 like runc; keep the library's key order. */
	json_t *j = json_loads(text, 0, NULL);
	char *pretty = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	fputs(pretty ? pretty : text, stdout);
	fputc('\n', stdout);
	free(pretty);
	json_decref(j);
	free(text);
	return fflush(stdout) == 0 ? 0 : husk_cli_failf(cmd->name, pos[0], "write state: output error");
}

const struct husk_cmd husk_state_cmd = {
	.name = "state",
	.run = state,
	.summary = "print the state of a container",
	.args = "<container-id>",
	.description = "   Print the container's state (id, status, pid, bundle, ...) as JSON.\n",
};
