/* husk box ROOTFS [CMD [ARG...]]: options stop at ROOTFS, so CMD's own
 * flags are left to CMD; repeatable options (-e, -v, --tmpfs) collect. */
#include <stdlib.h>
#include <string.h>

#include "box.h"
#include "cli.h"
#include "util.h"

struct box_flags {
	bool tty, detach, rootfs_rw, read_only;
	const char *env, *workdir, *hostname, *name, *volume, *tmpfs, *net;
};

#define O(field) offsetof(struct box_flags, field)
static const struct husk_flag flags[] = {
	{ "env", 'e', HUSK_FLAG_STRING, O(env), "set NAME=VALUE (or NAME from husk's environment); repeatable" },
	{ "workdir", 'w', HUSK_FLAG_STRING, O(workdir), "working directory of the process" },
	{ "hostname", 0, HUSK_FLAG_STRING, O(hostname), "the container's hostname (default: its id)" },
	{ "name", 0, HUSK_FLAG_STRING, O(name), "the container's id (default: box-<12 hex digits>)" },
	{ "volume", 'v', HUSK_FLAG_STRING, O(volume), "bind mount SRC:DST[:ro|rw] (SRC absolute); repeatable" },
	{ "tmpfs", 0, HUSK_FLAG_STRING, O(tmpfs), "mount a tmpfs on DST; repeatable" },
	{ "net", 0, HUSK_FLAG_STRING, O(net), "none (own network namespace, the default) or host" },
	{ "tty", 't', HUSK_FLAG_BOOL, O(tty), "give the process a pseudoterminal" },
	{ "detach", 'd', HUSK_FLAG_BOOL, O(detach), "leave the container running and print its name" },
	{ "rootfs-rw", 0, HUSK_FLAG_BOOL, O(rootfs_rw), "write into ROOTFS itself instead of an overlay" },
	{ "read-only", 0, HUSK_FLAG_BOOL, O(read_only), "make the container's root read-only" },
	HUSK_FLAGS_END,
};

static void push(const char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = s;
}

/* Parse the options before ROOTFS, one at a time, so that repeats add up. */
static int parse(const struct husk_cmd *cmd, int argc, char **argv, struct husk_box_opts *o)
{
	int i = 1;
	while (i < argc && argv[i][0] == '-' && argv[i][1]) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		/* One flag and its value, through the shared parser. */
		bool sep = !strchr(argv[i], '=') && i + 1 < argc;
		const char *name = argv[i] + (argv[i][1] == '-' ? 2 : 1);
		const struct husk_flag *f = NULL;
		for (f = flags; f->name; f++) {
			if (!strcmp(f->name, name) || (f->short_name && !name[1] && f->short_name == name[0]))
				break;
		}
		int take = (sep && f->name && f->type != HUSK_FLAG_BOOL) ? 2 : 1;
		char *sub[3] = { argv[0], argv[i], take == 2 ? argv[i + 1] : NULL };
		struct box_flags b = { 0 };
		char *pos[3];
		int npos;
		struct husk_error e = { 0 };
		int r = husk_cli_parse(cmd, take + 1, sub, &b, pos, &npos, &e);
		if (r == HUSK_CLI_HELP)
			return HUSK_CLI_HELP;
		if (r) {
			husk_cli_fail("box", NULL, &e);
			return -1;
		}
		i += take;
		o->tty |= b.tty, o->detach |= b.detach, o->rootfs_rw |= b.rootfs_rw;
		o->read_only |= b.read_only;
		if (b.env)
			push(&o->env, &o->n_env, b.env);
		if (b.volume)
			push(&o->volumes, &o->n_volumes, b.volume);
		if (b.tmpfs)
			push(&o->tmpfs, &o->n_tmpfs, b.tmpfs);
		o->workdir = b.workdir ? b.workdir : o->workdir;
		o->hostname = b.hostname ? b.hostname : o->hostname;
		o->name = b.name ? b.name : o->name;
		o->net = b.net ? b.net : o->net;
	}
	if (i >= argc) {
		husk_cli_failf("box", NULL, "ROOTFS required (usage: husk box [OPTIONS] ROOTFS [CMD [ARG...]])");
		return -1;
	}
	o->rootfs = argv[i];
	o->argv = i + 1 < argc ? argv + i + 1 : NULL;
	return 0;
}

static int run(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc, char **argv)
{
	struct husk_box_opts o = { 0 };
	int r = parse(cmd, argc, argv, &o);
	if (r == HUSK_CLI_HELP)
		return 0;
	int status = HUSK_BOX_EXIT_ERROR;
	if (r == 0) {
		struct husk_error e = { 0 };
		char *id = NULL;
		if (husk_box_run(g, &o, &id, &status, &e) < 0)
			husk_cli_fail("box", NULL, &e);
		else if (o.detach)
			printf("%s\n", id);
		free(id);
	}
	free(o.env);
	free(o.volumes);
	free(o.tmpfs);
	return status;
}

const struct husk_cmd husk_box_cmd = {
	.name = "box",
	.run = run,
	.summary = "run a root filesystem in one command, never writing into it",
	.args = "[OPTIONS] ROOTFS [CMD [ARG...]]",
	.description =
		"   Build a container config in memory (husk spec's default with Docker's\n"
		"   default capabilities, adjusted by the options), create and start it, and\n"
		"   wait for it.  ROOTFS is the read-only lower layer of an overlay kept in\n"
		"   the container's state directory (--rootfs-rw: written directly).\n"
		"   CMD defaults to /bin/sh.  Exit status: the process's own (128+N for\n"
		"   signal N); 125 when husk fails, 126 when CMD is not executable, 127 when\n"
		"   it is not found in ROOTFS.\n",
	.flags = flags,
};
