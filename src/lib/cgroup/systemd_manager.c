/* The systemd manager (--systemd-cgroup): the container's cgroup is a
 * transient unit (systemd.c names it and maps the resources to unit
 * properties, systemd_bus.c talks to systemd), started over D-Bus with the
 * init in it.  The unit can only be started with a process in it, so
 * create only works out the paths and init_attach does the rest once the
 * init exists (it waits, unplaced, until then).  Once the unit exists the
 * cgroup is handled as cgroupfs does, and `update` gives systemd the new
 * values too so that a daemon reload does not undo them. */
#include "cgroup/cgroup.h"
#include "cgroup/cgroup_internal.h"
#include "cgroup/systemd.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

struct cg_sd {
	struct husk_sd_unit u;
	char *description;
	json_t *annotations; /* org.systemd.property.* from the spec */
	bool pending;        /* the unit waits for the init */
};

static struct cg_sd *sd_of(const struct husk_cgroup *cg)
{
	return cg->priv;
}

int husk_cg_systemd_create(const struct husk_spec *spec, const char *id, struct husk_cgroup **out,
			   struct husk_error *e)
{
	struct husk_sd_unit u;
	if (husk_sd_parse(spec ? spec->cgroups_path : NULL, id, geteuid() != 0, &u, e) < 0)
		return -1;
	struct stat st;
	if (stat("/run/systemd/system", &st) < 0) {
		husk_sd_unit_free(&u);
		return husk_err(e, 0, "systemd cgroup driver: systemd is not running on this host (leave out --systemd-cgroup)");
	}
	if (!husk_sd_supported()) {
		husk_sd_unit_free(&u);
		return husk_err(e, EOPNOTSUPP, "systemd cgroup driver: this husk was built without it (a static build)");
	}
	/* Unit properties from annotations, checked before anything exists. */
	json_t *annotations = json_object();
	struct sd_props check = { 0 };
	for (size_t i = 0; spec && i < spec->n_annotations; i++) {
		const char *k = spec->annotations[i].key, *v = spec->annotations[i].value;
		if (strncmp(k, SD_PROPERTY_PREFIX, strlen(SD_PROPERTY_PREFIX)) != 0)
			continue;
		if (husk_sd_props_annotation(&check, k, v, e) < 0) {
			husk_sd_props_free(&check);
			json_decref(annotations);
			husk_sd_unit_free(&u);
			return husk_err_wrap(e, "config.json");
		}
		json_object_set_new(annotations, k, json_string(v));
	}
	husk_sd_props_free(&check);
	struct husk_cg_layout l = { .root = HUSK_CG_ROOT, .sys = &husk_cg_sys_real };
	if (husk_cg_layout_read(&l, true, e) < 0) {
		json_decref(annotations);
		husk_sd_unit_free(&u);
		return -1;
	}
	struct husk_cgroup *cg = husk_cg_alloc(&husk_cgroup_systemd, l.kind, l.n);
	for (size_t i = 0; i < l.n; i++, cg->n++) {
		cg->h[i].ctrl = xstrdup(l.m[i].ctrl);
		cg->h[i].mountpoint = xstrdup(l.m[i].mountpoint);
		cg->h[i].dir = xasprintf("%s%s", l.m[i].mountpoint, u.path);
	}
	husk_cg_layout_free(&l);
	struct cg_sd *sd = xcalloc(1, sizeof(*sd));
	sd->u = u;
	sd->annotations = annotations;
	sd->description = xasprintf("husk container %s", id);
	sd->pending = true;
	cg->priv = sd;
	cg->no_device_rules = u.user;
	cg->dev_skip = husk_cgfs_device_skip(spec);
	*out = cg;
	return 0;
}

/* The unit's properties for the resources res; with_devices: the device
 * rules too (p's, after the defaults as for the cgroup files). */
static int systemd_props(struct husk_cgroup *cg, const struct husk_resources *res, bool with_devices,
			 const struct cg_plan *p, struct sd_props *ps, struct husk_error *e)
{
	_cleanup_free_ char *proc_devices = NULL;
	size_t nrules = 0;
	_cleanup_free_ struct cg_dev_rule *rules = NULL;
	if (with_devices && !sd_of(cg)->u.user) {
		struct husk_error ignored;
		husk_read_file_at(AT_FDCWD, "/proc/devices", &proc_devices, NULL, &ignored);
		rules = husk_cg_device_rules(p->dev, p->ndev, cg->dev_skip, &nrules);
	}
	return husk_sd_props_resources(ps, res, cg->layout == CG_V2, rules, nrules, proc_devices, e);
}

/* Start the unit with pid in it, make the cgroups of the controllers
 * systemd leaves alone and apply the resources; *need ('1'/'0' per
 * hierarchy, malloc'd) says where pid must still be moved. */
static int sd_attach(struct husk_cgroup *cg, pid_t pid, char **need, struct husk_error *e)
{
	struct cg_sd *sd = sd_of(cg);
	bool scope = sd->u.slice != NULL;
	struct sd_props ps = { 0 };
	husk_sd_prop_str(&ps, "Description", sd->description);
	if (scope) {
		husk_sd_prop_str(&ps, "Slice", sd->u.slice);
		husk_sd_prop_pid(&ps, "PIDs", pid);
	}
	husk_sd_prop_bool(&ps, "Delegate", true);
	husk_sd_prop_bool(&ps, "DefaultDependencies", false);
	husk_sd_prop_bool(&ps, "MemoryAccounting", true);
	husk_sd_prop_bool(&ps, "CPUAccounting", true);
	husk_sd_prop_bool(&ps, cg->layout == CG_V2 ? "IOAccounting" : "BlockIOAccounting", true);
	husk_sd_prop_bool(&ps, "TasksAccounting", true);

	struct cg_plan plan;
	struct husk_sd_bus *bus = NULL;
	struct husk_resources res;
	int r = husk_resources_parse(cg->resources, &res, e);
	if (r == 0)
		r = husk_cg_plan_build(&res, &res, 0, &plan, e);
	if (r == 0) {
		r = systemd_props(cg, &res, true, &plan, &ps, e);
		husk_cg_plan_free(&plan);
	}
	husk_resources_free(&res);
	/* The spec's own properties last: they win over ours. */
	const char *k;
	json_t *v;
	json_object_foreach(sd->annotations, k, v)
		if (r == 0)
			r = husk_sd_props_annotation(&ps, k, json_string_value(v), e);
	if (r == 0) {
		_cleanup_free_ char *text = husk_sd_props_format(&ps);
		husk_debug("systemd: starting %s with\n%s", sd->u.unit, text);
		r = husk_sd_connect(sd->u.user, &bus, e);
	}
	if (r == 0)
		r = husk_sd_start_unit(bus, sd->u.unit, &ps, e);
	husk_sd_close(bus);
	husk_sd_props_free(&ps);
	if (r < 0)
		return husk_err_wrap(e, "systemd cgroup driver");
	sd->pending = false;

	/* Where systemd put it, as this cgroup namespace sees it (a user
	 * instance's units live below user@UID.service). */
	_cleanup_free_ char *path = xstrdup(sd->u.path), *proc_cgroup = NULL;
	_cleanup_free_ char *f = xasprintf("/proc/%d/cgroup", (int)pid);
	if (husk_read_file_at(AT_FDCWD, f, &proc_cgroup, NULL, e) < 0)
		return -1;
	if (scope) {
		char own[PATH_MAX];
		const char *o = husk_cg_own_cgroup(proc_cgroup, cg->layout == CG_V2 ? "" : "name=systemd",
						   own, sizeof(own));
		if (o && strcmp(o, "/") != 0) {
			free(path);
			path = xstrdup(o);
		}
	}
	for (size_t i = 0; i < cg->n; i++) {
		struct hier *h = &cg->h[i];
		free(h->dir);
		h->dir = husk_cg_dir(h->mountpoint, path);
		if (husk_cgfs_make_dirs(cg, h, strlen(h->mountpoint), e) == 0)
			continue;
		bool denied = e->errnum == EACCES || e->errnum == EPERM || e->errnum == EROFS;
		if (!sd->u.user || !denied)
			return husk_err_wrap(e, "cgroup");
		/* A user's systemd is given only some hierarchies (v1: its
		 * own name=systemd one); the others stay the user's. */
		char why[HUSK_ERR_MSG_MAX + 64];
		husk_debug("rootless: not using the %s hierarchy: %s", *h->ctrl ? h->ctrl : "cgroup2",
			   husk_err_str(e, why, sizeof(why)));
		free(h->ctrl);
		free(h->dir);
		free(h->mountpoint);
		memmove(h, h + 1, (cg->n - i - 1) * sizeof(*h));
		cg->n--;
		i--;
	}
	*need = xcalloc(cg->n + 1, 1);
	for (size_t i = 0; i < cg->n; i++) {
		char own[PATH_MAX];
		const char *o = husk_cg_own_cgroup(proc_cgroup, cg->h[i].ctrl, own, sizeof(own));
		(*need)[i] = o && strcmp(o, path) == 0 ? '0' : '1';
	}
	free(sd->u.path);
	sd->u.path = xstrdup(path);
	if (cg->layout == CG_V2)
		husk_cgfs_v2_enable_all(&cg->h[0]);
	return husk_cgfs_apply_recorded(cg, e);
}

/* In the init: its copy of cg takes the cgroups it is now in. */
static void sd_init_joined(struct husk_cgroup *cg)
{
	struct cg_sd *sd = sd_of(cg);
	if (!sd->pending)
		return;
	_cleanup_free_ char *proc_cgroup = NULL;
	struct husk_error ignored;
	if (husk_read_file_at(AT_FDCWD, "/proc/self/cgroup", &proc_cgroup, NULL, &ignored) < 0)
		return;
	for (size_t i = 0; i < cg->n; i++) {
		struct hier *h = &cg->h[i];
		char own[PATH_MAX];
		const char *o = husk_cg_own_cgroup(proc_cgroup, h->ctrl, own, sizeof(own));
		if (!o)
			continue;
		free(h->dir);
		h->dir = husk_cg_dir(h->mountpoint, o);
	}
	sd->pending = false;
}

/* After `update` wrote the files, give systemd the same values. */
static int sd_after_update(struct husk_cgroup *cg, const struct husk_resources *changes,
			   const struct cg_plan *p, struct husk_error *e)
{
	struct cg_sd *sd = sd_of(cg);
	struct sd_props ps = { 0 };
	struct husk_sd_bus *bus = NULL;
	int r = systemd_props(cg, changes, p->has_devices, p, &ps, e);
	if (r == 0 && ps.n)
		r = husk_sd_connect(sd->u.user, &bus, e);
	if (r == 0 && ps.n)
		r = husk_sd_set_properties(bus, sd->u.unit, &ps, e);
	husk_sd_close(bus);
	husk_sd_props_free(&ps);
	return r < 0 ? husk_err_wrap(e, "systemd cgroup driver") : 0;
}
/* Resources are checked at create and written once the unit exists. */
static int sd_apply(struct husk_cgroup *cg, const struct husk_resources *res, struct husk_error *e)
{
	if (!sd_of(cg)->pending)
		return husk_cgfs_apply(cg, res, e);
	if (husk_cgfs_check(cg, res, e) < 0)
		return -1;
	json_decref(cg->resources);
	cg->resources = res ? husk_resources_json(res) : NULL;
	return 0;
}

static int sd_update(struct husk_cgroup *cg, const struct husk_resources *changes,
		     struct husk_error *e)
{
	return husk_cgfs_update_with(cg, changes, sd_after_update, e);
}

/* systemd makes the unit's cgroup afresh. */
static int sd_check_reused(struct husk_cgroup *cg, struct husk_error *e)
{
	(void)cg;
	(void)e;
	return 0;
}

/* systemd places the init itself, once it exists. */
static void sd_join_open(const struct husk_cgroup *cg, struct husk_cgroup_join *j)
{
	if (!sd_of(cg)->pending)
		return husk_cgfs_join_open(cg, j);
	*j = (struct husk_cgroup_join){ .v2_dir = -1, .hold = true };
	j->fd = xmalloc(sizeof(*j->fd));
}

static int sd_init_attach(struct husk_cgroup *cg, pid_t pid, const char *need, struct husk_error *e)
{
	if (!sd_of(cg)->pending) {
		if (!strchr(need, '1'))
			return 0;
		return husk_cgfs_enter(cg, pid, need, e) < 0 ? husk_err_wrap(e, "cgroup") : 1;
	}
	_cleanup_free_ char *left = NULL;
	if (sd_attach(cg, pid, &left, e) < 0)
		return -1;
	if (strchr(left, '1') && husk_cgfs_enter(cg, pid, left, e) < 0)
		return husk_err_wrap(e, "cgroup");
	return 1;
}

static int sd_destroy(struct husk_cgroup *cg, struct husk_error *e)
{
	struct cg_sd *sd = sd_of(cg);
	int r = husk_cgfs_destroy(cg, e);
	/* systemd removes the unit's own cgroups when it stops; a systemd
	 * that is no longer running took its units with it. */
	struct stat st;
	if (!sd->pending && stat("/run/systemd/system", &st) == 0) {
		struct husk_sd_bus *bus = NULL;
		struct husk_error e2;
		if ((husk_sd_connect(sd->u.user, &bus, &e2) < 0 ||
		     husk_sd_stop_unit(bus, sd->u.unit, &e2) < 0) && r == 0) {
			*e = e2;
			r = -1;
		}
		husk_sd_close(bus);
	}
	return r;
}

static void sd_save(const struct husk_cgroup *cg, json_t *record)
{
	const struct husk_sd_unit *u = &sd_of(cg)->u;
	json_t *o = json_pack("{s:s, s:s, s:b}", "unit", u->unit, "path", u->path, "user", u->user);
	if (u->slice)
		json_object_set_new(o, "slice", json_string(u->slice));
	json_object_set_new(record, "systemd", o);
}

int husk_cg_systemd_load(struct husk_cgroup *cg, const json_t *record, struct husk_error *e)
{
	const char *unit = NULL, *path = NULL, *slice = NULL;
	int user = 0;
	if (json_unpack((json_t *)json_object_get(record, "systemd"), "{s:s, s:s, s:b, s?:s}", "unit",
			&unit, "path", &path, "user", &user, "slice", &slice) < 0)
		return husk_err(e, 0, "cgroup state: malformed systemd unit");
	struct cg_sd *sd = xcalloc(1, sizeof(*sd));
	sd->u.unit = xstrdup(unit);
	sd->u.path = xstrdup(path);
	sd->u.slice = slice ? xstrdup(slice) : NULL;
	sd->u.user = user;
	cg->ops = &husk_cgroup_systemd;
	cg->priv = sd;
	cg->no_device_rules = user;
	return 0;
}

static void sd_free(struct husk_cgroup *cg)
{
	struct cg_sd *sd = sd_of(cg);
	husk_cgfs_free(cg);
	if (!sd)
		return;
	husk_sd_unit_free(&sd->u);
	free(sd->description);
	json_decref(sd->annotations);
	free(sd);
}

const struct husk_cgroup_ops husk_cgroup_systemd = {
	.name = "systemd",
	.check_reused = sd_check_reused,
	.apply = sd_apply,
	.update = sd_update,
	.join_open = sd_join_open,
	.exec_join_open = husk_cgfs_exec_join_open,
	.init_attach = sd_init_attach,
	.init_joined = sd_init_joined,
	.enter = husk_cgfs_enter,
	.freeze = husk_cgfs_freeze,
	.frozen = husk_cgfs_frozen,
	.kill = husk_cgfs_kill,
	.pids = husk_cgfs_pids,
	.stats = husk_cgfs_stats,
	.oom_open = husk_cgfs_oom_open,
	.oom_count = husk_cgfs_oom_count,
	.destroy = sd_destroy,
	.hierarchies = husk_cgfs_hierarchies,
	.is_v2 = husk_cgfs_is_v2,
	.encode = husk_cg_record_encode,
	.save = sd_save,
	.free = sd_free,
};
