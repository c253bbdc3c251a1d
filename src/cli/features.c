/* husk features: the runtime features document (features.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "spec.h"

static int features(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc, char **argv)
{
	(void)g;
	char *pos[argc];
	int npos;
	int r = husk_cli_parse_args(cmd, argc, argv, NULL, pos, &npos, 0, 0, false);
	if (r)
		return r < 0;
	char *text = husk_features_json();
	if (!text)
		return husk_cli_failf(cmd->name, NULL, "build features document: out of memory");
	size_t len = strlen(text);
	fputs(text, stdout);
	if (len == 0 || text[len - 1] != '\n')
		fputc('\n', stdout);
	free(text);
	return fflush(stdout) == 0 ? 0 : husk_cli_failf(cmd->name, NULL, "write features: output error");
}

const struct husk_cmd husk_features_cmd = {
	.name = "features",
	.run = features,
	.summary = "print the features this runtime supports",
	.args = "",
	.description =
		"   Print, as JSON, what this husk build supports: OCI version range, hooks,\n"
		"   mount options, namespaces, capabilities, cgroup and seccomp support.\n",
};
