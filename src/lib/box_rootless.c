/* husk box run by an unprivileged user: root of a user namespace that maps
 * the user to 0 and its subordinate ids to 1..N (as podman does), so the
 * image's own owners exist; the rest of the config as root's.  Cgroup
 * limits stay, optional: the container's cgroup goes into the user's
 * delegated cgroup v2 subtree when there is one, and create drops each
 * limit with a warning when the user may not make a cgroup, or when the
 * subtree does not offer the limit's controller. */
#include <string.h>
#include <unistd.h>

#include "box_internal.h"
#include "rootless.h"
#include "util.h"

static json_t *mapping_json(bool gid)
{
	struct husk_id_mapping m[2];
	return husk_idmap_json(m, husk_rootless_mapping(gid, m));
}

/* gid=5 (tty) on devpts only when gid 5 is mapped. */
void box_devpts_gid(json_t *mounts, bool mapped)
{
	size_t i, j;
	json_t *m, *o;
	json_array_foreach(mounts, i, m) {
		if (strcmp(json_string_value(json_object_get(m, "type")), "devpts") || mapped)
			continue;
		json_t *opts = json_object_get(m, "options");
		json_array_foreach(opts, j, o) {
			if (!strcmp(json_string_value(o), "gid=5")) {
				json_array_remove(opts, j);
				break;
			}
		}
	}
}

/* With the host's network namespace sysfs may not be mounted: the host's
 * /sys is bound instead, read-only. */
void box_sys_bind(json_t *mounts)
{
	size_t i;
	json_t *m;
	json_array_foreach(mounts, i, m) {
		if (strcmp(json_string_value(json_object_get(m, "destination")), "/sys"))
			continue;
		json_object_set_new(m, "type", json_string("none"));
		json_object_set_new(m, "source", json_string("/sys"));
		json_object_set_new(m, "options",
				    json_pack("[s, s, s, s, s]", "rbind", "nosuid", "noexec", "nodev",
					      "ro"));
	}
}

int box_rootless(struct box *b, struct husk_error *e)
{
	(void)e;
	const struct husk_box_opts *o = b->o;
	if (!b->rootless)
		return 0;
	json_t *lx = json_object_get(b->doc, "linux");
	json_t *ns = json_object_get(lx, "namespaces");
	json_array_append_new(ns, json_pack("{s:s}", "type", "user"));
	json_t *gids = mapping_json(true);
	bool gid5 = json_array_size(gids) > 1;
	json_object_set_new(lx, "uidMappings", mapping_json(false));
	json_object_set_new(lx, "gidMappings", gids);
	/* Device rules are the host root's to set: the user namespace keeps
	 * the container from mknod anyway. */
	json_object_del(lx, "resources");
	json_t *mounts = json_object_get(b->doc, "mounts");
	box_devpts_gid(mounts, gid5);
	if (o->net && !strcmp(o->net, "host"))
		box_sys_bind(mounts);
	const struct {
		struct husk_optional_limit l;
		bool given;
	} limits[] = {
		{ { "--memory", "memory" }, o->memory }, { { "--memory-swap", "memory" }, o->memory_swap },
		{ { "--cpus", "cpu" }, o->cpus },	 { { "--cpu-shares", "cpu" }, o->cpu_shares },
		{ { "--pids-limit", "pids" }, o->pids_limit },
	};
	for (size_t i = 0; i < ARRAY_SIZE(limits); i++) {
		if (limits[i].given)
			b->limits[b->n_limits++] = limits[i].l;
	}
	return 0;
}
