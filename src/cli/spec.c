/* husk spec: write a starter config.json into the bundle directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "spec.h"
#include "util.h"

struct spec_opts {
	const char *bundle;
	bool rootless;
};

static const struct husk_flag flags[] = {
	{ "bundle", 'b', HUSK_FLAG_STRING, offsetof(struct spec_opts, bundle),
	  "bundle directory to write config.json into; default: the current directory" },
	{ "rootless", 0, HUSK_FLAG_BOOL, offsetof(struct spec_opts, rootless),
	  "write a configuration for a container run by an unprivileged user" },
	HUSK_FLAGS_END,
};

static int write_spec(const struct spec_opts *o, struct husk_error *e)
{
	const char *bundle = husk_nonempty(o->bundle) ? o->bundle : ".";
	_cleanup_free_ char *path = husk_nonempty(o->bundle) ? xasprintf("%s/config.json", o->bundle)
							    : xstrdup("config.json");
	_cleanup_fd_ int dfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return husk_errno(e, "open bundle %s", bundle);
	_cleanup_free_ char *text = husk_spec_default_json(o->rootless);
	if (!text)
		return husk_err(e, ENOMEM, "generate config.json");
	/* O_EXCL: never overwrite someone's config, even in a race. */
	_cleanup_fd_ int fd = openat(dfd, "config.json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0 && errno == EEXIST)
		return husk_err(e, 0, "%s already exists: remove it first", path);
	if (fd < 0)
		return husk_errno(e, "create %s", path);
	size_t len = strlen(text);
	if (husk_write_all(fd, text, len) < 0 || close(move_fd(&fd)) < 0) {
		husk_errno(e, "write %s", path);
		unlinkat(dfd, "config.json", 0);
		return -1;
	}
	return 0;
}

static int spec(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc, char **argv)
{
	(void)g;
	struct spec_opts o = { 0 };
	char *pos[argc];
	int npos;
	int r = husk_cli_parse_args(cmd, argc, argv, &o, pos, &npos, 0, 0, false);
	if (r)
		return r < 0;
	struct husk_error e = { 0 };
	if (write_spec(&o, &e) < 0)
		return husk_cli_fail(cmd->name, NULL, &e);
	return 0;
}

const struct husk_cmd husk_spec_cmd = {
	.name = "spec",
	.run = spec,
	.summary = "write a starter config.json",
	.args = "",
	.description =
		"   Write a starter specification, \"config.json\", into the bundle directory.\n"
		"   It runs \"sh\" in a container with the usual namespaces, mounts and a\n"
		"   small capability set; edit it (process.args above all) to suit the\n"
		"   root filesystem.  An existing config.json is never overwritten.\n"
		"   With --rootless the configuration adds a user namespace mapping the\n"
		"   caller's ids, for containers run without root privileges.\n",
	.flags = flags,
};
