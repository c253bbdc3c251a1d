/* husk box: the process (args, env, cwd) and its privileges. */
#include <stdlib.h>
#include <string.h>

#include "box_internal.h"
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

int box_process(struct box *b, struct husk_error *e)
{
	(void)e;
	const struct husk_box_opts *o = b->o;
	json_t *proc = json_object_get(b->doc, "process"), *args = json_array();
	for (char **a = o->argv; a && *a; a++)
		json_array_append_new(args, json_string(*a));
	if (!o->argv || !o->argv[0])
		json_array_append_new(args, json_string("/bin/sh"));
	json_object_set_new(proc, "args", args);
	json_object_set_new(proc, "terminal", json_boolean(o->tty));
	if (o->workdir)
		json_object_set_new(proc, "cwd", json_string(o->workdir));
	json_t *env = json_object_get(proc, "env");
	for (size_t i = 0; i < o->env.n; i++)
		env_set(env, o->env.v[i]);
	json_t *caps = json_object_get(proc, "capabilities");
	json_object_set_new(caps, "bounding", caps_array());
	json_object_set_new(caps, "effective", caps_array());
	json_object_set_new(caps, "permitted", caps_array());
	return 0;
}
