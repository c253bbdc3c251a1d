/* husk state: print a container's state JSON. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static int print_state(const struct husk_global_opts *g, const char *id, struct husk_error *e)
{
	char *text = NULL;
	if (husk_container_state(g, id, &text, e) < 0)
		return -1;
	/* Re-indent by 2 like runc; keep the library's key order. */
	json_t *j = json_loads(text, 0, NULL);
	char *pretty = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	fputs(pretty ? pretty : text, stdout);
	fputc('\n', stdout);
	free(pretty);
	json_decref(j);
	free(text);
	return fflush(stdout) == 0 ? 0 : husk_err(e, EIO, "write state");
}

const struct husk_cmd husk_state_cmd = {
	.name = "state",
	.run = husk_cli_id_cmd,
	.id_op = print_state,
	.summary = "print the state of a container",
	.args = "<container-id>",
	.description = "   Print the container's state (id, status, pid, bundle, ...) as JSON.\n",
};
