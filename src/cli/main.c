/* husk: global options and command dispatch. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "log.h"
#include "util.h"
#if HAVE_SECCOMP
#include <seccomp.h>
#endif

static const struct husk_cmd *const commands[] = {
	&husk_box_cmd, &husk_create_cmd, &husk_delete_cmd, &husk_exec_cmd, &husk_features_cmd, &husk_image_cmd, &husk_kill_cmd, &husk_list_cmd,
	&husk_run_cmd,    &husk_spec_cmd,   &husk_start_cmd,    &husk_state_cmd,
	&husk_pause_cmd,  &husk_resume_cmd, &husk_ps_cmd,       &husk_events_cmd, &husk_update_cmd,
};

struct globals {
	const char *root, *log, *log_format, *rootless, *criu;
	bool debug, systemd_cgroup, help, version;
};

#define G(field) offsetof(struct globals, field)
static const struct husk_flag global_flags[] = {
	{ "debug", 0, HUSK_FLAG_BOOL, G(debug), "enable debug logging" },
	{ "log", 0, HUSK_FLAG_STRING, G(log), "write husk's log to this file instead of stderr" },
	{ "log-format", 0, HUSK_FLAG_STRING, G(log_format), "log format: 'text' (default) or 'json'" },
	{ "root", 0, HUSK_FLAG_STRING, G(root), "directory holding container state; best on tmpfs" },
	{ "criu", 0, HUSK_FLAG_STRING, G(criu), NULL },  /* accepted for runc compatibility */
	{ "systemd-cgroup", 0, HUSK_FLAG_BOOL, G(systemd_cgroup),
	  "manage cgroups through systemd; cgroupsPath is then \"slice:prefix:name\"" },
	{ "rootless", 0, HUSK_FLAG_STRING, G(rootless),
	  "tolerate cgroup permission errors: 'true', 'false' or 'auto' (default)" },
	{ "help", 'h', HUSK_FLAG_BOOL, G(help), "show this help" },
	{ "version", 'v', HUSK_FLAG_BOOL, G(version), "print the version" },
	HUSK_FLAGS_END,
};

static void print_version(void)
{
	printf("husk version %s\ncommit: %s\nspec: %s\n", HUSK_VERSION, HUSK_COMMIT, HUSK_SPEC_VERSION);
#if HAVE_SECCOMP
	const struct scmp_version *v = seccomp_version();
	if (v)
		printf("libseccomp: %u.%u.%u\n", v->major, v->minor, v->micro);
#endif
	printf("features: %cSECCOMP -SELINUX +APPARMOR +CGROUPV1 +CGROUPV2\n", HAVE_SECCOMP ? '+' : '-');
}

static void print_main_help(void)
{
	printf("NAME:\n   husk - a runtime for Open Container Initiative (OCI) containers\n\n"
	       "husk creates and runs containers from OCI bundles.  A bundle is a directory\n"
	       "holding a \"config.json\" specification and a root filesystem.  husk accepts\n"
	       "runc's command line, so it can stand in for runc under container engines.\n\n"
	       "To run a container from the bundle in the current directory:\n\n"
	       "    # husk run [-b bundle] <container-id>\n\n"
	       "The container id must be unique among the containers under --root.\n\n"
	       "USAGE:\n   husk [global options] command [command options] [arguments...]\n\n"
	       "VERSION:\n   %s\n\nCOMMANDS:\n", HUSK_VERSION);
	size_t w = strlen("help, h");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strlen(commands[i]->name) > w)
			w = strlen(commands[i]->name);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		printf("   %-*s  %s\n", (int)w, commands[i]->name, commands[i]->summary);
	printf("   %-*s  %s\n", (int)w, "help, h", "show the commands, or the help of one command");
	printf("\nGLOBAL OPTIONS:\n");
	husk_cli_print_flags(stdout, global_flags);
	printf("\nThe default --root is \"%s\".\n", husk_default_root());
}

static const struct husk_cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

/* `husk help [command]` */
static int help(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "h") == 0) {
		print_main_help();
		return 0;
	}
	if (argc > 2)
		return husk_cli_failf("help", NULL, "unexpected argument \"%s\"", argv[2]);
	const struct husk_cmd *c = find_cmd(argv[1]);
	if (!c)
		return husk_cli_failf("help", NULL, "unknown command \"%s\"", argv[1]);
	husk_cli_print_cmd_help(c);
	return 0;
}

int main(int argc, char **argv)
{
	struct globals gl = { 0 };
	struct husk_error e = { 0 };
	int i;
	if (husk_cli_parse_globals(global_flags, argc - 1, argv + 1, &gl, &i, &e) < 0)
		return husk_cli_fail(NULL, NULL, &e);
	argc -= i + 1;
	argv += i + 1;
	if (gl.version) {
		print_version();
		return 0;
	}
	if (gl.help || argc == 0) {
		print_main_help();
		return 0;
	}

	enum husk_log_format fmt = HUSK_LOG_TEXT;
	if (gl.log_format && strcmp(gl.log_format, "json") == 0)
		fmt = HUSK_LOG_JSON;
	else if (gl.log_format && strcmp(gl.log_format, "text") != 0)
		return husk_cli_failf(NULL, NULL, "invalid --log-format \"%s\": expected text or json",
				      gl.log_format);
	struct husk_global_opts g = {
		.root = husk_nonempty(gl.root) ? gl.root : husk_default_root(),
		.systemd_cgroup = gl.systemd_cgroup,
		.debug = gl.debug,
		.rootless = -1,
	};
	if (gl.rootless && strcmp(gl.rootless, "true") == 0)
		g.rootless = 1;
	else if (gl.rootless && strcmp(gl.rootless, "false") == 0)
		g.rootless = 0;
	else if (gl.rootless && strcmp(gl.rootless, "auto") != 0)
		return husk_cli_failf(NULL, NULL, "invalid --rootless \"%s\": expected true, false or auto",
				      gl.rootless);
	if (husk_log_open(husk_nonempty(gl.log), fmt, gl.debug) < 0) {
		husk_err(&e, errno, "open log file %s", gl.log);
		return husk_cli_fail(NULL, NULL, &e);
	}

	if (strcmp(argv[0], "help") == 0 || strcmp(argv[0], "h") == 0)
		return help(argc, argv);
	const struct husk_cmd *c = find_cmd(argv[0]);
	if (!c)
		return husk_cli_failf(NULL, NULL, "unknown command \"%s\"", argv[0]);
	return c->run(c, &g, argc, argv);
}
