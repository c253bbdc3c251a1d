#include "box.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "spec.h"
#include "util.h"

/* Docker's default capability set. */
static const char *const docker_caps[] = {
	"CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID",           "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",   "CAP_AUDIT_WRITE",
};

static json_t *caps_array(void)
{
	json_t *a = json_array();
	for (size_t i = 0; i < ARRAY_SIZE(docker_caps); i++)
		json_array_append_new(a, json_string(docker_caps[i]));
	return a;
}

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

static int add_volume(json_t *mounts, const char *spec, struct husk_error *e)
{
	_cleanup_free_ char *s = xstrdup(spec);
	char *src = s, *dst = strchr(s, ':'), *mode = NULL;
	if (!dst || !dst[1])
		return husk_err(e, 0, "-v %s: expected SRC:DST[:ro|rw]", spec);
	*dst++ = '\0';
	if ((mode = strchr(dst, ':')))
		*mode++ = '\0';
	if (src[0] != '/')
		return husk_err(e, 0, "-v %s: the source must be an absolute path", spec);
	if (dst[0] != '/')
		return husk_err(e, 0, "-v %s: the destination must be an absolute path", spec);
	if (mode && strcmp(mode, "ro") && strcmp(mode, "rw"))
		return husk_err(e, 0, "-v %s: mode must be ro or rw", spec);
	struct stat st;
	if (stat(src, &st) < 0)
		return husk_errno(e, "-v %s: source %s", spec, src);
	json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "destination", dst,
						"type", "bind", "source", src, "options", "rbind",
						"rprivate", mode ? mode : "rw"));
	return 0;
}

static int add_tmpfs(json_t *mounts, const char *dst, struct husk_error *e)
{
	if (dst[0] != '/')
		return husk_err(e, 0, "--tmpfs %s: the destination must be an absolute path", dst);
	json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "destination", dst,
						"type", "tmpfs", "source", "tmpfs", "options", "nosuid",
						"nodev", "mode=1777"));
	return 0;
}

static int set_net(json_t *linux_, const char *net, struct husk_error *e)
{
	if (!net || !strcmp(net, "none"))
		return 0;
	if (strcmp(net, "host"))
		return husk_err(e, 0, "--net %s: expected none or host", net);
	json_t *ns = json_object_get(linux_, "namespaces"), *x;
	size_t i;
	json_array_foreach(ns, i, x) {
		if (!strcmp(json_string_value(json_object_get(x, "type")), "network"))
			return json_array_remove(ns, i), 0;
	}
	return 0;
}

/* The default config, adjusted by the options. */
static char *box_config(const struct husk_box_opts *o, const char *id, struct husk_error *e)
{
	_cleanup_free_ char *def = husk_spec_default_json(false);
	json_t *doc = json_loads(def, 0, NULL);
	json_t *proc = json_object_get(doc, "process"), *args = json_array();
	for (char **a = o->argv; a && *a; a++)
		json_array_append_new(args, json_string(*a));
	if (!o->argv || !o->argv[0])
		json_array_append_new(args, json_string("/bin/sh"));
	json_object_set_new(proc, "args", args);
	json_object_set_new(proc, "terminal", json_boolean(o->tty));
	if (o->workdir)
		json_object_set_new(proc, "cwd", json_string(o->workdir));
	json_t *env = json_object_get(proc, "env");
	for (size_t i = 0; i < o->n_env; i++)
		env_set(env, o->env[i]);
	json_t *caps = json_object_get(proc, "capabilities");
	json_object_set_new(caps, "bounding", caps_array());
	json_object_set_new(caps, "effective", caps_array());
	json_object_set_new(caps, "permitted", caps_array());
	json_object_set_new(doc, "hostname", json_string(o->hostname ? o->hostname : id));
	json_t *root = json_object_get(doc, "root");
	json_object_set_new(root, "path", json_string(o->rootfs));
	json_object_set_new(root, "readonly", json_boolean(o->read_only));
	json_t *mounts = json_object_get(doc, "mounts");
	int r = set_net(json_object_get(doc, "linux"), o->net, e);
	for (size_t i = 0; r == 0 && i < o->n_volumes; i++)
		r = add_volume(mounts, o->volumes[i], e);
	for (size_t i = 0; r == 0 && i < o->n_tmpfs; i++)
		r = add_tmpfs(mounts, o->tmpfs[i], e);
	char *text = r == 0 ? json_dumps(doc, 0) : NULL;
	json_decref(doc);
	return text;
}

/* PATH of the process env, as the config holds it. */
static const char *env_path(const struct husk_box_opts *o)
{
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (size_t i = 0; i < o->n_env; i++) {
		if (!strncmp(o->env[i], "PATH=", 5))
			path = o->env[i] + 5;
	}
	return path;
}

/* 0 found and executable, else 126/127: CMD resolved inside the rootfs
 * only (RESOLVE_IN_ROOT: its symlinks cannot lead out). */
static int check_cmd(int rootfd, const char *cmd, const char *path)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
	_cleanup_free_ char *dirs = xstrdup(strchr(cmd, '/') ? "" : path);
	int best = HUSK_BOX_EXIT_NOTFOUND;
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); ; d = strtok_r(NULL, ":", &save)) {
		if (!strchr(cmd, '/') && !d)
			break;
		_cleanup_free_ char *p = strchr(cmd, '/') ? xstrdup(cmd) : xasprintf("%s/%s", d, cmd);
		int fd = (int)syscall(SYS_openat2, rootfd, p, &how, sizeof(how));
		struct stat st;
		if (fd >= 0 && fstat(fd, &st) == 0) {
			close(fd);
			if (S_ISREG(st.st_mode) && (st.st_mode & 0111))
				return 0;
			best = HUSK_BOX_EXIT_NOEXEC;
		} else if (fd >= 0) {
			close(fd);
		}
		if (strchr(cmd, '/'))
			break;
	}
	return best;
}

static char *gen_id(void)
{
	unsigned char b[6] = { 0 };
	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		b[0] = (unsigned char)getpid();
	return xasprintf("box-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
}

int husk_box_run(const struct husk_global_opts *g, const struct husk_box_opts *o, char **id,
		 int *exit_status, struct husk_error *e)
{
	*exit_status = HUSK_BOX_EXIT_ERROR;
	*id = o->name ? xstrdup(o->name) : gen_id();
	if (husk_validate_id(*id, e) < 0)
		return -1;
	_cleanup_free_ char *rootfs = realpath(o->rootfs, NULL);
	struct stat st;
	if (!rootfs || stat(rootfs, &st) < 0)
		return husk_errno(e, "rootfs %s", o->rootfs);
	if (!S_ISDIR(st.st_mode))
		return husk_err(e, 0, "rootfs %s: not a directory", o->rootfs);
	_cleanup_fd_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return husk_errno(e, "rootfs %s", o->rootfs);
	struct husk_box_opts adj = *o;
	adj.rootfs = rootfs;
	/* The options first: a bad -v is 125 even when CMD is missing too. */
	_cleanup_free_ char *json = box_config(&adj, *id, e);
	if (!json)
		return -1;
	const char *cmd = o->argv && o->argv[0] ? o->argv[0] : "/bin/sh";
	int c = check_cmd(rootfd, cmd, env_path(o));
	if (c) {
		*exit_status = c;
		return husk_err(e, 0, "%s: %s in %s", cmd,
				c == HUSK_BOX_EXIT_NOEXEC ? "not executable" : "not found", o->rootfs);
	}
	struct husk_create_opts co = {
		.id = *id,
		.bundle = rootfs,
		.detach = o->detach,
		.spec_json = json,
		.overlay_lower = o->rootfs_rw ? NULL : rootfs,
	};
	if (husk_container_run(g, &co, exit_status, e) < 0) {
		*exit_status = HUSK_BOX_EXIT_ERROR;
		return -1;
	}
	return 0;
}
