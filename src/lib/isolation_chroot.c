/* husk box --isolation chroot: buildah's chroot isolation.  Only mount and
 * UTS namespaces of the box's own (and the user namespace the config
 * has, unprivileged or mapped); the caller's pid, network, IPC and cgroup
 * namespaces and cgroups; the host's /proc, /dev and /sys bound read-only
 * (every submount too) instead of fresh instances, which a container
 * may not mount; every mount's flags verified with statvfs; the root
 * entered with MS_MOVE and chroot.  Nothing here needs a privilege an
 * unprivileged container lacks inside its own user namespace. */
#include "isolation.h"

#include <string.h>

#include "util.h"

/* Options that need what this mode does not make. */
static int chroot_check(const struct husk_box_opts *o, struct husk_error *e)
{
	const struct {
		const char *name, *value;
	} shared[] = { { "--net", o->net }, { "--pid", o->pid }, { "--ipc", o->ipc } };
	for (size_t i = 0; i < ARRAY_SIZE(shared); i++)
		if (shared[i].value && strcmp(shared[i].value, "host"))
			return husk_err(e, 0, "%s %s: --isolation chroot uses the caller's namespace (only host)",
					shared[i].name, shared[i].value);
	const struct {
		const char *name;
		bool given;
	} limits[] = {
		{ "--memory", o->memory },   { "--memory-swap", o->memory_swap },
		{ "--cpus", o->cpus },	     { "--cpu-shares", o->cpu_shares },
		{ "--pids-limit", o->pids_limit },
	};
	for (size_t i = 0; i < ARRAY_SIZE(limits); i++)
		if (limits[i].given)
			return husk_err(e, 0, "%s: --isolation chroot runs in the caller's cgroup and sets no limits (use --isolation oci)",
					limits[i].name);
	return 0;
}

static json_t *strv(const char *const *v)
{
	json_t *a = json_array();
	for (; *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

/* The host's tree at dest, read-only with its submounts. */
static json_t *host_bind(const char *dest)
{
	static const char *const procsys[] = { "rbind", "ro", "nosuid", "nodev", "noexec", "rro",
					       "rnosuid", "rnodev", "rnoexec", "rprivate", NULL };
	static const char *const dev[] = { "rbind", "ro", "nosuid", "noexec", "rro", "rnosuid",
					   "rnoexec", "rprivate", NULL };
	return json_pack("{s:s, s:s, s:s, s:o}", "destination", dest, "type", "bind", "source", dest,
			 "options", strv(strcmp(dest, "/dev") ? procsys : dev));
}

/* The default kernel filesystems: /proc, /dev and /sys become the host's;
 * what those bring along (devpts, mqueue, cgroups) is dropped. */
static void host_filesystems(json_t *mounts)
{
	static const struct {
		const char *dest, *type; /* type NULL: whatever the default has */
	} dropped[] = { { "/dev/pts", "devpts" }, { "/dev/mqueue", "mqueue" },
			{ "/sys/fs/cgroup", "cgroup" }, { "/sys/fs/cgroup", "cgroup2" } };
	bool replaced[3] = { false, false, false };
	static const char *const hosts[] = { "/proc", "/dev", "/sys" };
	for (size_t i = 0; i < json_array_size(mounts);) {
		json_t *m = json_array_get(mounts, i);
		const char *dest = json_string_value(json_object_get(m, "destination"));
		const char *type = json_string_value(json_object_get(m, "type"));
		bool drop = false;
		for (size_t k = 0; dest && type && k < ARRAY_SIZE(dropped); k++)
			drop |= !strcmp(dest, dropped[k].dest) && !strcmp(type, dropped[k].type);
		if (drop) {
			json_array_remove(mounts, i);
			continue;
		}
		for (size_t k = 0; dest && k < ARRAY_SIZE(hosts); k++)
			if (!replaced[k] && !strcmp(dest, hosts[k])) {
				replaced[k] = true;
				json_array_set_new(mounts, i, host_bind(hosts[k])); /* frees dest */
				break;
			}
		i++;
	}
}

static int chroot_config(struct box *b, struct husk_error *e)
{
	(void)e;
	json_t *lx = json_object_get(b->doc, "linux");
	json_t *ns = json_object_get(lx, "namespaces");
	for (size_t i = 0; i < json_array_size(ns);) {
		const char *t = json_string_value(json_object_get(json_array_get(ns, i), "type"));
		if (t && strcmp(t, "mount") && strcmp(t, "uts") && strcmp(t, "user"))
			json_array_remove(ns, i);
		else
			i++;
	}
	host_filesystems(json_object_get(b->doc, "mounts"));
	/* No cgroup: the default device rules have nothing to go in, and
	 * the devices are the host's, read-only. */
	json_t *res = json_object_get(lx, "resources");
	json_object_del(res, "devices");
	if (res && !json_object_size(res))
		json_object_del(lx, "resources");
	json_object_del(lx, "cgroupsPath");
	return 0;
}

static void chroot_create_opts(struct husk_create_opts *co)
{
	co->no_cgroup = true;
	co->verify_mount_flags = true;
	/* MS_MOVE + chroot: unlike a plain chroot, ".." from the root stays
	 * there even with CAP_SYS_CHROOT, since the host's root is covered. */
	co->no_pivot = true;
}

static void chroot_explain(struct husk_error *e)
{
	(void)e;
}

const struct husk_isolation_ops husk_isolation_chroot = {
	.name = "chroot",
	.check = chroot_check,
	.config = chroot_config,
	.create_opts = chroot_create_opts,
	.explain = chroot_explain,
};
