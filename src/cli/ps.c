/* husk ps: the processes of a container, as pids (json) or ps(1) output
 * filtered to them (table). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "container_cgroup.h"
#include "util.h"

struct ps_opts {
	const char *format;
};

static const struct husk_flag flags[] = {
	{ "format", 'f', HUSK_FLAG_STRING, offsetof(struct ps_opts, format),
	  "output format: 'table' (default) or 'json'" },
	HUSK_FLAGS_END,
};

static bool has_pid(const pid_t *pids, size_t n, long pid)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/* Run ps with args and keep the header and the lines of our pids. */
static int ps_table(const char *id, char **args, int nargs, const pid_t *pids, size_t n)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return husk_cli_failf("ps", id, "pipe: %s", strerror(errno));
	char *argv[nargs + 3];
	argv[0] = (char *)"ps";
	for (int i = 0; i < nargs; i++)
		argv[i + 1] = args[i];
	if (nargs == 0)
		argv[1] = (char *)"-ef";
	argv[nargs ? nargs + 1 : 2] = NULL;
	pid_t child = fork();
	if (child < 0)
		return husk_cli_failf("ps", id, "fork: %s", strerror(errno));
	if (child == 0) {
		dup2(p[1], 1);
		execvp("ps", argv);
		_exit(127);
	}
	close(p[1]);
	FILE *f = fdopen(p[0], "r");
	char *line = NULL;
	size_t cap = 0;
	int pid_col = -1, r = 0;
	bool header = true;
	while (f && getline(&line, &cap, f) > 0) {
		if (header) {
			header = false;
			_cleanup_free_ char *copy = xstrdup(line);
			char *save = NULL;
			int col = 0;
			for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save), col++)
				if (!strcmp(t, "PID"))
					pid_col = col;
			fputs(line, stdout);
			if (pid_col < 0) {
				r = husk_cli_failf("ps", id, "ps output has no PID column");
				break;
			}
			continue;
		}
		_cleanup_free_ char *copy = xstrdup(line);
		char *save = NULL, *t = strtok_r(copy, " \t\n", &save);
		for (int col = 0; t && col < pid_col; col++)
			t = strtok_r(NULL, " \t\n", &save);
		long pid;
		if (t && husk_parse_long(t, 1, INT32_MAX, &pid) == 0 && has_pid(pids, n, pid))
			fputs(line, stdout);
	}
	free(line);
	if (f)
		fclose(f);
	int st;
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	if (r == 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		r = husk_cli_failf("ps", id, "ps %s failed", nargs ? args[0] : "-ef");
	return r;
}

static int ps_cmd(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc, char **argv)
{
	struct ps_opts o = { 0 };
	/* Everything after the id belongs to ps(1). */
	int idx = 1;
	for (; idx < argc; idx++) {
		const char *a = argv[idx];
		if (!strcmp(a, "--")) {
			idx++;
			break;
		}
		if (a[0] != '-')
			break;
		if (!strcmp(a, "-f") || !strcmp(a, "--format") || !strcmp(a, "-format"))
			idx++;
	}
	int head = idx < argc ? idx + 1 : argc;
	char *pos[argc];
	int npos;
	int r = husk_cli_parse_args(cmd, head, argv, &o, pos, &npos, 1, 1, true);
	if (r)
		return r < 0;
	const char *fmt = o.format ? o.format : "table";
	if (strcmp(fmt, "table") && strcmp(fmt, "json"))
		return husk_cli_failf(cmd->name, pos[0], "invalid format \"%s\": expected table or json", fmt);
	int nextra = argc - head;
	if (nextra > 0 && !strcmp(argv[head], "--")) {
		head++;
		nextra--;
	}
	struct husk_error e = { 0 };
	pid_t *pids = NULL;
	size_t n = 0;
	if (husk_container_pids(g, pos[0], &pids, &n, &e) < 0)
		return husk_cli_fail(cmd->name, pos[0], &e);
	if (!strcmp(fmt, "json")) {
		if (nextra > 0) {
			free(pids);
			return husk_cli_failf(cmd->name, pos[0], "ps options cannot be used with --format json");
		}
		/* No processes (a stopped container): null, as runc prints
		 * its empty list. */
		if (n == 0)
			fputs("null", stdout);
		else
			putchar('[');
		for (size_t i = 0; i < n; i++)
			printf("%s%d", i ? "," : "", (int)pids[i]);
		printf(n ? "]\n" : "\n");
		r = 0;
	} else {
		fflush(stdout);
		r = ps_table(pos[0], argv + head, nextra, pids, n);
	}
	free(pids);
	if (fflush(stdout) != 0)
		return husk_cli_failf(cmd->name, pos[0], "write: output error");
	return r;
}

const struct husk_cmd husk_ps_cmd = {
	.name = "ps",
	.run = ps_cmd,
	.summary = "ps displays the processes running inside a container",
	.args = "<container-id> [ps options]",
	.description = "   List the processes in the container's cgroup: with --format json as\n"
		       "   a JSON array of pids, otherwise as ps(1) prints them (options after\n"
		       "   the id go to ps; default -ef), keeping only the container's lines.\n"
		       "   A stopped container has none: the header only, or null in JSON.\n",
	.flags = flags,
};
