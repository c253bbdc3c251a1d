/* husk exec: run a process inside a running container. */
#include <limits.h>
#include <string.h>

#include "cli.h"
#include "exec.h"
#include "util.h"

struct exec_cli {
	struct husk_exec_opts x;
	const char *repeated; /* -e, --cap, -g: collected before the parser runs */
};

#define O(field) offsetof(struct exec_cli, x.field)
#define R offsetof(struct exec_cli, repeated)
static const struct husk_flag flags[] = {
	{ "console-socket", 0, HUSK_FLAG_STRING, O(console_socket),
	  "AF_UNIX socket that receives the master fd of the process's pseudoterminal" },
	{ "cwd", 0, HUSK_FLAG_STRING, O(cwd), "current working directory in the container" },
	{ "env", 'e', HUSK_FLAG_STRING, R, "set an environment variable KEY=VALUE (repeatable)" },
	{ "tty", 't', HUSK_FLAG_BOOL, O(tty), "allocate a pseudoterminal" },
	{ "user", 'u', HUSK_FLAG_STRING, O(user), "user id (format: <uid>[:<gid>])" },
	{ "additional-gids", 'g', HUSK_FLAG_STRING, R, "add a supplementary group id (repeatable)" },
	{ "process", 'p', HUSK_FLAG_STRING, O(process_file),
	  "path to a process.json; the command line's arguments are then ignored" },
	{ "detach", 'd', HUSK_FLAG_BOOL, O(detach), "return once the process runs; do not wait for it" },
	{ "pid-file", 0, HUSK_FLAG_STRING, O(pid_file), "write the process's pid to this file" },
	{ "process-label", 0, HUSK_FLAG_STRING, O(process_label), "SELinux label for the process" },
	{ "apparmor", 0, HUSK_FLAG_STRING, O(apparmor), "AppArmor profile for the process" },
	{ "no-new-privs", 0, HUSK_FLAG_BOOL, O(no_new_privs), "set no_new_privileges for the process" },
	{ "cap", 'c', HUSK_FLAG_STRING, R, "add a capability to the process (repeatable)" },
	{ "preserve-fds", 0, HUSK_FLAG_INT, O(preserve_fds),
	  "pass N more file descriptors, after stdio, to the process (default: 0)" },
	{ "cgroup", 0, HUSK_FLAG_STRING, O(cgroup),
	  "run in this sub-cgroup of the container's (\"path\" or \"controller[,controller]:path\")" },
	{ "ignore-paused", 0, HUSK_FLAG_BOOL, O(ignore_paused), "allow exec in a paused container" },
	HUSK_FLAGS_END,
};

static const struct husk_flag *find(const char *name, size_t len)
{
	for (const struct husk_flag *f = flags; f->name; f++)
		if ((strlen(f->name) == len && !strncmp(f->name, name, len)) ||
		    (len == 1 && f->short_name == name[0]))
			return f;
	return NULL;
}

static void push(char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 2) * sizeof(char *));
	(*v)[(*n)++] = (char *)s;
	(*v)[*n] = NULL;
}

/* runc stops parsing exec's flags at the container id: what follows is
 * the command, dashes and all.  This pass finds the id, collects the
 * repeatable flags and leaves the rest to the common parser. */
static int prescan(int argc, char **argv, struct exec_cli *o, char ***kept, size_t *nkept,
		   uint32_t **gids, struct husk_error *e)
{
	push(kept, nkept, argv[0]);
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		const char *name = a + (a[1] == '-' ? 2 : 1);
		const char *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		const struct husk_flag *f = find(name, len);
		if (f && f->offset == R) {
			const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
			if (!val)
				return husk_err(e, 0, "flag %s needs a value", a);
			if (f->short_name == 'e') {
				push(&o->x.env, &o->x.n_env, val);
			} else if (f->short_name == 'c') {
				push(&o->x.caps, &o->x.n_caps, val);
			} else {
				long g;
				if (husk_parse_long(val, 0, UINT32_MAX - 1, &g) < 0)
					return husk_err(e, 0, "invalid value \"%s\" for flag %s", val, a);
				*gids = xrealloc(*gids, (o->x.n_additional_gids + 1) * sizeof(uint32_t));
				(*gids)[o->x.n_additional_gids++] = (uint32_t)g;
			}
			continue;
		}
		push(kept, nkept, a);
		if (f && f->type != HUSK_FLAG_BOOL && !eq && i + 1 < argc)
			push(kept, nkept, argv[++i]);
	}
	if (i < argc) {
		push(kept, nkept, "--");
		push(kept, nkept, argv[i]);
		o->x.args = argv + i + 1;
	}
	return 0;
}

static int run(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc, char **argv)
{
	struct exec_cli o = { 0 };
	struct husk_error e = { 0 };
	_cleanup_free_ char **kept = NULL;
	_cleanup_free_ char **env = NULL, **caps = NULL;
	_cleanup_free_ uint32_t *gids = NULL;
	size_t nkept = 0;
	int r = prescan(argc, argv, &o, &kept, &nkept, &gids, &e);
	env = o.x.env;
	caps = o.x.caps;
	if (r < 0)
		return husk_cli_fail(cmd->name, NULL, &e);
	o.x.additional_gids = gids;
	char *pos[nkept + 1];
	int npos;
	r = husk_cli_parse_args(cmd, (int)nkept, kept, &o, pos, &npos, 1, 1, true);
	if (r)
		return r < 0;
	o.x.id = pos[0];
	o.x.process_file = husk_nonempty(o.x.process_file);
	o.x.pid_file = husk_nonempty(o.x.pid_file);
	o.x.console_socket = husk_nonempty(o.x.console_socket);
	o.x.cwd = husk_nonempty(o.x.cwd);
	o.x.user = husk_nonempty(o.x.user);
	o.x.cgroup = husk_nonempty(o.x.cgroup);
	int status = 0;
	/* 255, as runc: callers tell exec's own failures from the
	 * process's status (flag errors above stay 1, as runc's do). */
	if (husk_container_exec(g, &o.x, &status, &e) < 0) {
		husk_cli_fail(cmd->name, o.x.id, &e);
		return 255;
	}
	return status;
}

const struct husk_cmd husk_exec_cmd = {
	.name = "exec",
	.run = run,
	.summary = "execute a new process inside a running container",
	.args = "<container-id> <command> [command options]",
	.description =
		"   Run a process in a running container: it joins the container's\n"
		"   namespaces and cgroups and gets the container's process attributes\n"
		"   (environment, user, capabilities...) with the changes asked for here,\n"
		"   or the process given with --process.  Flags go before the container\n"
		"   id; everything after the id is the command.  Without --detach husk\n"
		"   waits and exits with the process's status (128+N when killed by\n"
		"   signal N); exec's own failures exit 255.\n",
	.flags = flags,
};
