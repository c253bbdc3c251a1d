/* Writing a resources plan into the hierarchies: each controller where it
 * lives (v1 mount or unified), v2 controllers enabled on the way down,
 * device rules as v1 devices.allow/deny or a v2 eBPF program. */
#include "cgroup/cgroup.h"
#include "cgroup/cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static struct hier *unified(struct husk_cgroup *cg)
{
	for (size_t i = 0; i < cg->n; i++)
		if (!*cg->h[i].ctrl)
			return &cg->h[i];
	return NULL;
}

struct hier *husk_cg_locate(struct husk_cgroup *cg, enum cg_ctrl c, bool *v2)
{
	*v2 = false;
	const char *v1 = husk_cg_v1_name[c];
	for (size_t i = 0; v1 && i < cg->n; i++)
		if (*cg->h[i].ctrl && husk_cg_ctrl_has(cg->h[i].ctrl, v1))
			return &cg->h[i];
	struct hier *u = unified(cg);
	if (!u)
		return NULL;
	*v2 = true;
	/* core features of every cgroup2 hierarchy */
	if (c == CG_CORE || c == CG_FREEZER || c == CG_DEVICES)
		return u;
	if (!husk_cg_v2_name[c])
		return NULL;
	if (!cg->v2_avail) {
		_cleanup_free_ char *f = xasprintf("%s/cgroup.controllers", u->mountpoint);
		struct husk_error ignored;
		if (husk_read_file_at(AT_FDCWD, f, &cg->v2_avail, NULL, &ignored) < 0)
			cg->v2_avail = xstrdup("");
	}
	return husk_cg_word_has(cg->v2_avail, husk_cg_v2_name[c]) ? u : NULL;
}

int husk_cg_v2_enable(struct hier *h, const char *names, struct husk_error *e)
{
	/* Top-down from the mount to the container's parent: a controller
	 * can only be enabled where the parent has it. */
	_cleanup_free_ char *p = xstrdup(h->dir);
	size_t base = strlen(h->mountpoint), len = strlen(p);
	for (size_t i = base; i < len; i++) {
		if (p[i] != '/' && i != base)
			continue;
		char c = p[i];
		p[i] = '\0';
		_cleanup_free_ char *f = xasprintf("%s/cgroup.subtree_control", i == base ? h->mountpoint : p);
		p[i] = c;
		_cleanup_free_ char *cur = NULL;
		if (husk_read_file_at(AT_FDCWD, f, &cur, NULL, e) < 0)
			return -1;
		/* "+a +b" for the missing ones, in one write */
		char plus[512];
		size_t pl = 0;
		_cleanup_free_ char *list = xstrdup(names);
		char *save = NULL;
		for (char *n = strtok_r(list, " ", &save); n; n = strtok_r(NULL, " ", &save))
			if (!husk_cg_word_has(cur, n) && pl + strlen(n) + 3 < sizeof(plus))
				pl += (size_t)snprintf(plus + pl, sizeof(plus) - pl, "%s+%s", pl ? " " : "", n);
		if (pl && husk_write_file_at(AT_FDCWD, f, plus, pl, e) < 0)
			return husk_err_wrap(e, "enable cgroup controllers \"%s\"", plus);
	}
	return 0;
}

/* open+write of one cgroup file; -1 with errno set. */
static int write_file(const struct husk_cgroup *cg, const char *dir, const char *file, const char *value)
{
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int fd = dfd < 0 ? -1 : openat(dfd, file, O_WRONLY | O_CLOEXEC);
	int err = errno;
	if (dfd >= 0)
		close(dfd);
	errno = err;
	if (fd < 0)
		return -1;
	ssize_t n = cg->sys->write(fd, value, strlen(value));
	err = errno;
	close(fd);
	errno = err;
	return n < 0 ? -1 : 0;
}

static const char *ctrl_name(enum cg_ctrl c)
{
	return husk_cg_v1_name[c] ? husk_cg_v1_name[c] : husk_cg_v2_name[c] ? husk_cg_v2_name[c] : "cgroup";
}

static int do_writes(struct husk_cgroup *cg, const struct cg_plan *p, struct husk_error *e)
{
	unsigned enabled = 0;
	for (size_t i = 0; i < p->n; i++) {
		const struct cg_write *w = &p->w[i];
		bool v2;
		struct hier *h = husk_cg_locate(cg, w->ctrl, &v2);
		if (!h && cg->delegate)
			return husk_err(e, 0, "linux.resources.%s: the %s controller is not delegated to this user (%s)",
					w->what, ctrl_name(w->ctrl), cg->delegate);
		if (!h)
			return husk_err(e, 0, "linux.resources.%s: the host has no %s cgroup controller", w->what,
					ctrl_name(w->ctrl));
		if (v2 && husk_cg_v2_name[w->ctrl] && !(enabled & (1u << w->ctrl))) {
			if (husk_cg_v2_enable(h, husk_cg_v2_name[w->ctrl], e) < 0)
				return husk_err_wrap(e, "linux.resources.%s", w->what);
			enabled |= 1u << w->ctrl;
		}
		if (write_file(cg, h->dir, w->file, w->value) == 0) {
			if (w->flags & (CG_W_ALT | CG_W_PAIR))
				i++; /* the alternative (or the pair's second) is not needed */
			if (w->flags & CG_W_PAIR && write_file(cg, h->dir, p->w[i].file, p->w[i].value) < 0)
				return husk_errno(e, "linux.resources.%s: write %s \"%s\"", p->w[i].what,
						  p->w[i].file, p->w[i].value);
			continue;
		}
		if (errno == ENOENT) {
			if (w->flags & CG_W_OPTIONAL)
				continue;
			if (w->flags & CG_W_ALT && i + 1 < p->n)
				continue; /* try the next one */
			return husk_err(e, 0, "linux.resources.%s: %s is not supported by this host", w->what,
					w->file);
		}
		if (w->flags & CG_W_PAIR && i + 1 < p->n) {
			/* limit <= memsw, rt_runtime <= rt_period ...: the other
			 * one first, then this again. */
			const struct cg_write *w2 = &p->w[i + 1];
			if (write_file(cg, h->dir, w2->file, w2->value) == 0 && write_file(cg, h->dir, w->file, w->value) == 0) {
				i++;
				continue;
			}
		}
		return husk_errno(e, "linux.resources.%s: write %s \"%s\"", w->what, w->file, w->value);
	}
	return 0;
}

static int devices_v1(const struct husk_cgroup *cg, const char *dir, const struct cg_dev_rule *r, size_t n, struct husk_error *e)
{
	_cleanup_fd_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return husk_errno(e, "open %s", dir);
	_cleanup_free_ char *current = NULL;
	if (husk_read_file_at(dfd, "devices.list", &current, NULL, e) < 0)
		return -1;
	_cleanup_free_ struct cg_dev_write *w = NULL;
	size_t nw = husk_cg_devices_v1_writes(current, r, n, &w);
	if (!nw)
		return 0;
	_cleanup_fd_ int allow = openat(dfd, "devices.allow", O_WRONLY | O_CLOEXEC);
	_cleanup_fd_ int deny = openat(dfd, "devices.deny", O_WRONLY | O_CLOEXEC);
	if (allow < 0 || deny < 0)
		return husk_errno(e, "open devices.allow/deny in %s", dir);
	/* The kernel applies each write on its own: one fd per file. */
	for (size_t i = 0; i < nw; i++)
		if (cg->sys->write(w[i].allow ? allow : deny, w[i].rule, strlen(w[i].rule)) < 0)
			return husk_errno(e, "linux.resources.devices: write devices.%s \"%s\"",
					  w[i].allow ? "allow" : "deny", w[i].rule);
	return 0;
}

static int devices_bpf(const char *dir, const struct cg_dev_rule *r, size_t n, struct husk_error *e)
{
	size_t len;
	_cleanup_free_ struct bpf_insn *prog = husk_cg_bpf_gen(r, n, &len);
	_cleanup_fd_ int pfd = husk_cg_bpf_load(prog, len, e);
	if (pfd < 0)
		return -1;
	_cleanup_fd_ int cfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0)
		return husk_errno(e, "open %s", dir);
	return husk_cg_bpf_attach(cfd, pfd, e);
}

struct cg_dev_rule *husk_cg_device_rules(const struct cg_dev_rule *spec, size_t nspec, uint32_t skip, size_t *n)
{
	struct cg_dev_rule *all = xcalloc(nspec + husk_cg_n_default_devices + 1, sizeof(*all));
	if (nspec)
		memcpy(all, spec, nspec * sizeof(*all));
	*n = nspec;
	for (size_t i = 0; i < husk_cg_n_default_devices; i++)
		if (!(skip & (1u << i)))
			all[(*n)++] = husk_cg_default_devices[i];
	return all;
}

/* v1 and v2 enforce the same list. */
static int apply_devices(struct husk_cgroup *cg, const struct cg_dev_rule *spec, size_t nspec,
			 struct husk_error *e)
{
	if (cg->no_device_rules) {
		/* Rootless: the user namespace already keeps devices out of
		 * reach, and an unprivileged user can set no device rules. */
		husk_debug("rootless: device rules are not set");
		return 0;
	}
	size_t n;
	_cleanup_free_ struct cg_dev_rule *all = husk_cg_device_rules(spec, nspec, cg->dev_skip, &n);
	bool v2;
	struct hier *h = husk_cg_locate(cg, CG_DEVICES, &v2);
	if (!h) {
		husk_debug("no devices cgroup controller: device rules not enforced");
		return 0;
	}
	return v2 ? devices_bpf(h->dir, all, n, e) : devices_v1(cg, h->dir, all, n, e);
}

static unsigned v2_mask(struct husk_cgroup *cg)
{
	unsigned m = 0;
	for (int c = 0; c < CG__COUNT; c++) {
		bool v2;
		if (husk_cg_locate(cg, (enum cg_ctrl)c, &v2) && v2)
			m |= 1u << c;
	}
	return m;
}

int husk_cgfs_check(struct husk_cgroup *cg, const struct husk_resources *res, struct husk_error *e)
{
	struct cg_plan p;
	if (husk_cg_plan_build(res, res, v2_mask(cg), &p, e) < 0)
		return -1;
	husk_cg_plan_free(&p);
	return 0;
}

int husk_cgfs_apply(struct husk_cgroup *cg, const struct husk_resources *res, struct husk_error *e)
{
	struct cg_plan p;
	if (husk_cg_plan_build(res, res, v2_mask(cg), &p, e) < 0)
		return -1;
	int r = 0;
	for (int attempt = 0;; attempt++) {
		r = do_writes(cg, &p, e);
		if (r == 0)
			r = apply_devices(cg, p.dev, p.ndev, e);
		/* Containers may share a cgroupsPath: another one's delete
		 * can remove the directory under our feet. */
		struct husk_error e2;
		if (r == 0 || attempt == 5 || husk_cg_revive(cg, &e2) <= 0)
			break;
	}
	husk_cg_plan_free(&p);
	if (r == 0) {
		/* the state keeps the parsed values, written out canonically */
		json_t *rec = res ? husk_resources_json(res) : NULL;
		json_decref(cg->resources);
		cg->resources = rec;
	}
	return r;
}

int husk_cgfs_apply_recorded(struct husk_cgroup *cg, struct husk_error *e)
{
	struct husk_resources res;
	if (husk_resources_parse(cg->resources, &res, e) < 0)
		return -1;
	int r = husk_cgfs_apply(cg, &res, e);
	husk_resources_free(&res);
	return r;
}

static int check_usage(struct husk_cgroup *cg, int64_t limit, struct husk_error *e)
{
	bool v2;
	struct hier *h = husk_cg_locate(cg, CG_MEMORY, &v2);
	if (!h || limit <= 0)
		return 0;
	_cleanup_free_ char *f = xasprintf("%s/%s", h->dir, v2 ? "memory.current" : "memory.usage_in_bytes");
	_cleanup_free_ char *text = NULL;
	if (husk_read_file_at(AT_FDCWD, f, &text, NULL, e) < 0)
		return -1;
	long long usage = strtoll(text, NULL, 10);
	if (limit < usage)
		return husk_err(e, 0, "linux.resources.memory.limit: %lld is below the current usage %lld (checkBeforeUpdate)",
				(long long)limit, usage);
	return 0;
}

/* changes merged into what was applied (a section's members one by one,
 * lists whole); *todo: the merged values of the sections changes names,
 * each rewritten whole (v2's swap.max depends on the memory limit). */
static void merge(const struct husk_cgroup *cg, const struct husk_resources *changes,
		  json_t **merged, json_t **todo)
{
	json_t *ch = husk_resources_json(changes);
	*merged = cg->resources ? json_deep_copy(cg->resources) : json_object();
	*todo = json_object();
	if (!ch)
		return;
	husk_cg_json_merge(*merged, ch);
	const char *k;
	json_t *v;
	json_object_foreach(ch, k, v)
		json_object_set(*todo, k, json_object_get(*merged, k));
	json_decref(ch);
}

static int update_with(struct husk_cgroup *cg, const struct husk_resources *all,
		       const struct husk_resources *some, husk_cgfs_after_update *after,
		       struct husk_error *e)
{
	struct cg_plan p;
	if (husk_cg_plan_build(some, all, v2_mask(cg), &p, e) < 0)
		return -1;
	int r = 0;
	if (all->memory.check_before_update.v)
		r = check_usage(cg, p.mem_limit, e);
	if (r == 0)
		r = do_writes(cg, &p, e);
	if (r == 0 && p.has_devices)
		r = apply_devices(cg, p.dev, p.ndev, e);
	if (r == 0 && after)
		r = after(cg, some, &p, e);
	husk_cg_plan_free(&p);
	return r;
}

int husk_cgfs_update(struct husk_cgroup *cg, const struct husk_resources *changes,
		     struct husk_error *e)
{
	return husk_cgfs_update_with(cg, changes, NULL, e);
}

int husk_cgfs_update_with(struct husk_cgroup *cg, const struct husk_resources *changes,
			  husk_cgfs_after_update *after, struct husk_error *e)
{
	json_t *merged, *todo;
	merge(cg, changes, &merged, &todo);
	/* the merged record decodes as any: with the one parser */
	struct husk_resources all, some;
	int r = husk_resources_parse(merged, &all, e);
	if (r == 0) {
		r = husk_resources_parse(todo, &some, e);
		if (r == 0)
			r = update_with(cg, &all, &some, after, e);
		husk_resources_free(&some);
		husk_resources_free(&all);
	}
	json_decref(todo);
	if (r < 0) {
		json_decref(merged);
		return -1;
	}
	json_decref(cg->resources);
	cg->resources = merged;
	return 0;
}
