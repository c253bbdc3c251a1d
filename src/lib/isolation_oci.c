/* husk box --isolation oci (the default): the config as the other steps
 * built it, run with namespaces, a cgroup, /proc and /sys of its own.
 * Inside another container such a box is often refused; the error then
 * says so and points at --isolation chroot. */
#include "isolation.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static int oci_check(const struct husk_box_opts *o, struct husk_error *e)
{
	(void)o, (void)e;
	return 0;
}

static int oci_config(struct box *b, struct husk_error *e)
{
	(void)b, (void)e;
	return 0;
}

static void oci_create_opts(struct husk_create_opts *co)
{
	(void)co;
}

/* Where create fails when the kernel refuses what only oci needs: the
 * message's start (the step's own wording, see container_create.c,
 * init.c and rootfs.c) and what was refused. */
static const char *refused_what(const struct husk_error *e)
{
	static const struct {
		const char *step;
		const char *what;
	} steps[] = {
		{ "cgroup", "cgroup" },
		{ "clone container init", "new namespaces" },
		{ "unshare", "new namespaces" },
		{ "mounts[", NULL }, /* the type after "] " decides */
	};
	static const struct {
		const char *type;
		const char *what;
	} fs[] = {
		{ "] proc on ", "fresh procfs" },	 { "] sysfs on ", "fresh sysfs" },
		{ "] cgroup on ", "cgroup mount" },	 { "] cgroup2 on ", "cgroup mount" },
		{ "] mqueue on ", "fresh mqueue" },
	};
	if (e->errnum != EPERM && e->errnum != EACCES && e->errnum != EROFS &&
	    !(e->errnum == ENOENT && !strncmp(e->msg, "cgroup", 6)))
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		if (strncmp(e->msg, steps[i].step, strlen(steps[i].step)))
			continue;
		if (steps[i].what)
			return steps[i].what;
		for (size_t j = 0; j < ARRAY_SIZE(fs); j++)
			if (strstr(e->msg, fs[j].type) && strstr(e->msg, fs[j].type) < strchr(e->msg, ':'))
				return fs[j].what;
	}
	return NULL;
}

static void oci_explain(struct husk_error *e)
{
	const char *what = refused_what(e);
	if (!what)
		return;
	char full[HUSK_ERR_MSG_MAX];
	husk_err_str(e, full, sizeof(full));
	husk_err(e, 0, "%s (no %s here, as often inside a container: try --isolation chroot)", full,
		 what);
}

const struct husk_isolation_ops husk_isolation_oci = {
	.name = "oci",
	.check = oci_check,
	.config = oci_config,
	.create_opts = oci_create_opts,
	.explain = oci_explain,
};
