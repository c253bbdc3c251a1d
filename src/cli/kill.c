/* husk kill: signal a container's init (or, with --all, every process). */
#include <signal.h>

#include "cli.h"

struct kill_opts {
	bool all;
};

static const struct husk_flag flags[] = {
	{ "all", 'a', HUSK_FLAG_BOOL, offsetof(struct kill_opts, all),
	  "signal every process in the container, not just its init" },
	HUSK_FLAGS_END,
};

static int kill_cmd(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc, char **argv)
{
	struct kill_opts o = { 0 };
	char *pos[argc];
	int npos;
	int r = husk_cli_parse_args(cmd, argc, argv, &o, pos, &npos, 1, 2, true);
	if (r)
		return r < 0;
	int sig = SIGTERM;
	if (npos > 1 && (sig = husk_signal_parse(pos[1])) < 0)
		return husk_cli_failf(cmd->name, pos[0], "unknown signal \"%s\"", pos[1]);
	struct husk_error e = { 0 };
	if (husk_container_kill(g, pos[0], sig, o.all, &e) < 0)
		return husk_cli_fail(cmd->name, pos[0], &e);
	return 0;
}

const struct husk_cmd husk_kill_cmd = {
	.name = "kill",
	.run = kill_cmd,
	.summary = "send a signal (default: SIGTERM) to the container's init process",
	.args = "<container-id> [signal]",
	.description =
		"   Send a signal to the container's init process.  The signal is a name,\n"
		"   with or without \"SIG\" and in any case (KILL, SIGKILL, sigusr1, RTMIN+2),\n"
		"   or a number.  Example: \"husk kill mycontainer KILL\".\n",
	.flags = flags,
};
