/* What the state keeps about a container's cgroup, so that later
 * commands find it again: the layout, each hierarchy's directory and how
 * much of it we created, the resources as applied, whether device rules
 * are left out (an unprivileged owner), and the manager's own
 * part (systemd: its unit).  A container without a cgroup keeps nothing. */
#include "cgroup/cgroup.h"
#include "cgroup/cgroup_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const layout_names[] = { "v1", "hybrid", "v2" };

char *husk_cg_record_encode(const struct husk_cgroup *cg)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < cg->n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:i}", "ctrl", cg->h[i].ctrl, "dir",
						     cg->h[i].dir, "mount", cg->h[i].mountpoint, "created",
						     cg->h[i].created));
	json_t *o = json_pack("{s:s, s:o}", "layout", layout_names[cg->layout], "hierarchies", arr);
	if (cg->resources)
		json_object_set(o, "resources", cg->resources);
	if (cg->dev_skip)
		json_object_set_new(o, "devicesSkip", json_integer(cg->dev_skip));
	if (cg->no_device_rules)
		json_object_set_new(o, "noDeviceRules", json_true());
	if (cg->ops->save)
		cg->ops->save(cg, o);
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		abort();
	char *r = xstrdup(s);
	free(s);
	return r;
}

int husk_cg_record_decode(const char *text, struct husk_cgroup **out, struct husk_error *e)
{
	json_error_t je;
	json_t *o = json_loads(text, 0, &je);
	json_t *arr = o ? json_object_get(o, "hierarchies") : NULL;
	const char *layout = o ? json_string_value(json_object_get(o, "layout")) : NULL;
	if (!json_is_array(arr) || !layout) {
		json_decref(o);
		return husk_err(e, 0, "cgroup state: malformed");
	}
	enum cg_layout kind = CG_V1;
	for (int i = 0; i < (int)ARRAY_SIZE(layout_names); i++)
		if (strcmp(layout, layout_names[i]) == 0)
			kind = (enum cg_layout)i;
	struct husk_cgroup *cg = husk_cg_alloc(&husk_cgroup_cgroupfs, kind, json_array_size(arr));
	size_t i;
	json_t *it;
	json_array_foreach(arr, i, it) {
		const char *ctrl = NULL, *dir = NULL, *mount = NULL;
		int created = 0;
		if (json_unpack(it, "{s:s, s:s, s:s, s:i}", "ctrl", &ctrl, "dir", &dir, "mount", &mount,
				"created", &created) < 0 ||
		    dir[0] != '/') {
			husk_cgroup_free(cg);
			json_decref(o);
			return husk_err(e, 0, "cgroup state: malformed hierarchy %zu", i);
		}
		cg->h[cg->n].ctrl = xstrdup(ctrl);
		cg->h[cg->n].dir = xstrdup(dir);
		cg->h[cg->n].mountpoint = xstrdup(mount);
		cg->h[cg->n].created = created;
		cg->n++;
	}
	json_t *v;
	if ((v = json_object_get(o, "resources")) && json_is_object(v))
		cg->resources = json_incref(v);
	if ((v = json_object_get(o, "devicesSkip")) && json_is_integer(v))
		cg->dev_skip = (uint32_t)json_integer_value(v);
	cg->no_device_rules = json_is_true(json_object_get(o, "noDeviceRules"));
	if (json_object_get(o, "systemd") && husk_cg_systemd_load(cg, o, e) < 0) {
		husk_cgroup_free(cg);
		json_decref(o);
		return -1;
	}
	json_decref(o);
	*out = cg;
	return 0;
}
