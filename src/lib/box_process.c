/* husk box: the process (args, entrypoint, env, env files, cwd, stdin). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "box_internal.h"
#include "image/image.h"
#include "util.h"

/* -e NAME=VALUE replaces NAME in env; -e NAME takes husk's own value. */
static void env_set(json_t *env, const char *kv)
{
	_cleanup_free_ char *owned = NULL;
	if (!strchr(kv, '=')) {
		const char *v = getenv(kv);
		if (!v)
			return;
		kv = owned = xasprintf("%s=%s", kv, v);
	}
	size_t n = strcspn(kv, "=") + 1, i;
	json_t *x;
	json_array_foreach(env, i, x) {
		if (!strncmp(json_string_value(x), kv, n))
			return (void)json_array_set_new(env, i, json_string(kv));
	}
	json_array_append_new(env, json_string(kv));
}

/* Docker's env file: NAME=VALUE lines taken as written (the value keeps
 * its spaces), NAME alone takes husk's value, leading blanks ignored,
 * blank lines and # comments skipped. */
static int env_file(json_t *env, const char *path, struct husk_error *e)
{
	_cleanup_free_ char *text = NULL;
	if (husk_read_file_at(AT_FDCWD, path, &text, NULL, e) < 0)
		return husk_err_wrap(e, "--env-file");
	char *save = NULL, *p = text;
	if (!strncmp(p, "\xef\xbb\xbf", 3))
		p += 3; /* a UTF-8 byte order mark */
	for (char *line = strtok_r(p, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line += strspn(line, " \t\r\v\f");
		size_t len = strlen(line);
		if (len && line[len - 1] == '\r')
			line[--len] = '\0';
		if (!*line || *line == '#')
			continue;
		size_t name = strcspn(line, "=");
		if (!name)
			return husk_err(e, 0, "--env-file %s: no variable name in \"%s\"", path, line);
		if (strcspn(line, " \t") < name)
			return husk_err(e, 0, "--env-file %s: variable \"%.*s\" contains whitespace",
					path, (int)name, line);
		env_set(env, line);
	}
	return 0;
}

static int set_env(const struct box *b, json_t *proc, struct husk_error *e)
{
	const struct husk_box_opts *o = b->o;
	json_t *env = json_object_get(proc, "env");
	/* the image's first, as Docker's: the options override it */
	for (char **kv = b->img ? b->img->env : NULL; kv && *kv; kv++) {
		if (strchr(*kv, '='))
			env_set(env, *kv);
	}
	for (size_t i = 0; i < o->env_files.n; i++) {
		if (env_file(env, o->env_files.v[i], e) < 0)
			return -1;
	}
	for (size_t i = 0; i < o->env.n; i++)
		env_set(env, o->env.v[i]);
	return 0;
}

/* Docker's: --entrypoint PROG runs PROG with CMD as its arguments (no
 * default CMD then); --entrypoint "" is none, as without it.  An image's
 * Entrypoint and Cmd are the defaults: CMD replaces Cmd, --entrypoint
 * replaces Entrypoint and drops Cmd.  Without any: /bin/sh for a ROOTFS,
 * an error for an image (as Docker's). */
static json_t *args_array(const struct box *b)
{
	const struct husk_box_opts *o = b->o;
	const struct husk_image *img = b->img;
	json_t *args = json_array();
	bool ep = o->entrypoint && *o->entrypoint;
	if (ep)
		json_array_append_new(args, json_string(o->entrypoint));
	for (char **a = !o->entrypoint && img ? img->entrypoint : NULL; a && *a; a++)
		json_array_append_new(args, json_string(*a));
	for (char **a = o->argv ? o->argv : !o->entrypoint && img ? img->cmd : NULL; a && *a; a++)
		json_array_append_new(args, json_string(*a));
	if (!json_array_size(args) && !img)
		json_array_append_new(args, json_string("/bin/sh"));
	return args;
}

const char *box_cmd(const struct box *b)
{
	json_t *args = json_object_get(json_object_get(b->doc, "process"), "args");
	return json_string_value(json_array_get(args, 0));
}

const char *box_env_path(const struct box *b)
{
	json_t *env = json_object_get(json_object_get(b->doc, "process"), "env"), *x;
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	size_t i;
	json_array_foreach(env, i, x) {
		if (!strncmp(json_string_value(x), "PATH=", 5))
			path = json_string_value(x) + 5;
	}
	return path;
}

int box_stdin(const struct husk_box_opts *o, struct husk_error *e)
{
	if (o->interactive)
		return 0;
	/* Not attached, as Docker without -i: the process (and a -t proxy,
	 * which then forwards nothing) reads /dev/null. */
	_cleanup_fd_ int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0)
		return husk_errno(e, "stdin: /dev/null");
	return 0;
}

int box_process(struct box *b, struct husk_error *e)
{
	const struct husk_box_opts *o = b->o;
	json_t *proc = json_object_get(b->doc, "process");
	json_t *args = args_array(b);
	json_object_set_new(proc, "args", args);
	if (!json_array_size(args))
		return husk_err(e, 0, "no command: the image %.12s has neither Entrypoint nor Cmd",
				b->img->id);
	json_object_set_new(proc, "terminal", json_boolean(o->tty));
	if (o->workdir && o->workdir[0] != '/')
		return husk_err(e, 0, "--workdir %s: must be an absolute path", o->workdir);
	if (o->workdir)
		json_object_set_new(proc, "cwd", json_string(o->workdir));
	else if (b->img && b->img->workdir && *b->img->workdir)
		json_object_set_new(proc, "cwd", b->img->workdir[0] == '/'
							 ? json_string(b->img->workdir)
							 : json_sprintf("/%s", b->img->workdir));
	if (set_env(b, proc, e) < 0 || box_user(b, proc, e) < 0)
		return -1;
	return box_security(b, e);
}
