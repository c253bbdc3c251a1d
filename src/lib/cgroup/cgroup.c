/* Container cgroups, first version: find the hierarchies, create the
 * container's cgroup in each, move processes in, list and remove them.
 *
 * Layout detection is one statfs of /sys/fs/cgroup (cgroup2 magic: pure
 * v2); otherwise /proc/self/cgroup and a statfs of each hierarchy's usual
 * mount point, and only when that does not fit (or a relative cgroupsPath
 * needs the mounts' roots) /proc/self/mountinfo.  Every hierarchy gets the same cgroup path; we remember
 * how many trailing components of it we created so that removal takes
 * exactly those away. */
#include "cgroup/cgroup.h"
#include "cgroup/cgroup_internal.h"
#include "cgroup/systemd.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CGROUP_ROOT "/sys/fs/cgroup"
/* runc puts a container without cgroupsPath below its caller's own cgroup;
 * we use a fixed absolute parent instead so that a runtime started from
 * inside some service's cgroup never creates cgroups in there. */
#define DEFAULT_PARENT "/husk"


/* One mounted hierarchy. */
struct cg_mount {
	char *ctrl;
	char *mountpoint;
	char *root;     /* mountinfo field 4: the cgroup shown at mountpoint */
};

static void mounts_free(struct cg_mount *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].ctrl);
		free(m[i].mountpoint);
		free(m[i].root);
	}
	free(m);
}

void husk_cgroup_free(struct husk_cgroup *cg)
{
	if (!cg)
		return;
	for (size_t i = 0; i < cg->n; i++) {
		free(cg->h[i].ctrl);
		free(cg->h[i].dir);
		free(cg->h[i].mountpoint);
	}
	free(cg->h);
	free(cg->v2_avail);
	json_decref(cg->resources);
	husk_sd_unit_free(&cg->sd);
	free(cg->sd_description);
	json_decref(cg->sd_annotations);
	free(cg);
}

/* The directory of cgroup path (as /proc/PID/cgroup shows it) in the
 * hierarchy mounted at mountpoint. */
static char *cgroup_dir(const char *mountpoint, const char *path)
{
	return xasprintf("%s%s", mountpoint, strcmp(path, "/") == 0 ? "" : path);
}

/* ---- small string helpers ---- */

/* Does the comma list a contain the same items as b (any order)? */
bool husk_cg_ctrl_equal(const char *a, const char *b)
{
	size_t na = 0, nb = 0;
	for (const char *s = a; *s;) {
		const char *end = strchrnul(s, ',');
		size_t len = (size_t)(end - s);
		bool found = false;
		for (const char *t = b; *t;) {
			const char *tend = strchrnul(t, ',');
			if ((size_t)(tend - t) == len && memcmp(s, t, len) == 0)
				found = true;
			t = *tend ? tend + 1 : tend;
		}
		if (!found)
			return false;
		na++;
		s = *end ? end + 1 : end;
	}
	for (const char *t = b; *t; nb++) {
		const char *tend = strchrnul(t, ',');
		t = *tend ? tend + 1 : tend;
	}
	return na == nb;
}

bool husk_cg_word_has(const char *list, const char *name)
{
	size_t len = strlen(name);
	for (const char *s = list; *s;) {
		s += strspn(s, " \n");
		size_t wl = strcspn(s, " \n");
		if (wl == len && memcmp(s, name, len) == 0)
			return true;
		s += wl;
	}
	return false;
}

bool husk_cg_ctrl_has(const char *list, const char *name)
{
	size_t len = strlen(name);
	for (const char *s = list; *s;) {
		const char *end = strchrnul(s, ',');
		if ((size_t)(end - s) == len && memcmp(s, name, len) == 0)
			return true;
		s = *end ? end + 1 : end;
	}
	return false;
}

/* Normalise a cgroup path: collapse "//" and ".", resolve ".." and refuse
 * one that climbs above its start.  Result has no leading or trailing
 * slash ("" for the root). */
int husk_cg_clean_path(const char *in, char **out, struct husk_error *e)
{
	size_t len = strlen(in);
	char *r = xmalloc(len + 1);
	size_t rl = 0;
	for (const char *s = in; *s;) {
		while (*s == '/')
			s++;
		if (!*s)
			break;
		const char *end = strchrnul(s, '/');
		size_t cl = (size_t)(end - s);
		if (cl == 1 && s[0] == '.') {
			/* nothing */
		} else if (cl == 2 && s[0] == '.' && s[1] == '.') {
			if (rl == 0) {
				free(r);
				return husk_err(e, 0, "cgroupsPath \"%s\": climbs out of its cgroup root", in);
			}
			while (rl > 0 && r[rl - 1] != '/')
				rl--;
			if (rl > 0)
				rl--; /* the separator */
		} else {
			if (rl > 0)
				r[rl++] = '/';
			memcpy(r + rl, s, cl);
			rl += cl;
		}
		s = end;
	}
	r[rl] = '\0';
	*out = r;
	return 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
void husk_cg_unescape_octal(char *s)
{
	char *w = s;
	for (char *r = s; *r;) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

/* Super options of a v1 mount minus the non-controller ones. */
char *husk_cg_v1_controllers(const char *superopts)
{
	static const char *const skip[] = { "rw", "ro", "noprefix", "clone_children", "xattr",
					    "cpuset_v2_mode", "favordynmods", "none" };
	char *r = xmalloc(strlen(superopts) + 1);
	size_t rl = 0;
	for (const char *s = superopts; *s;) {
		const char *end = strchrnul(s, ',');
		size_t len = (size_t)(end - s);
		bool keep = len > 0 && strncmp(s, "release_agent=", 14) != 0;
		for (size_t i = 0; keep && i < ARRAY_SIZE(skip); i++)
			if (strlen(skip[i]) == len && memcmp(skip[i], s, len) == 0)
				keep = false;
		if (keep) {
			if (rl)
				r[rl++] = ',';
			memcpy(r + rl, s, len);
			rl += len;
		}
		s = *end ? end + 1 : end;
	}
	r[rl] = '\0';
	return r;
}

/* ---- layout detection ---- */

#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif

static bool is_fs(const char *path, unsigned long magic)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 && (unsigned long)sf.f_type == magic;
}

/* The common layout, found without reading mountinfo (whose size grows
 * with the host's mounts): each v1 hierarchy that /proc/self/cgroup names
 * is mounted at /sys/fs/cgroup/<its controllers, or its name=>, and a
 * hybrid host's cgroup2 at /sys/fs/cgroup/unified (where runc looks for it
 * too).  Returns false when anything is elsewhere: then mountinfo decides.
 * The mounts' roots are not known here; relative cgroupsPaths need them. */
static bool probe_mounts(enum cg_layout *layout, struct cg_mount **out, size_t *n)
{
	_cleanup_free_ char *text = NULL;
	struct husk_error ignored;
	if (husk_read_file_at(AT_FDCWD, "/proc/self/cgroup", &text, NULL, &ignored) < 0)
		return false;
	struct cg_mount *m = NULL;
	size_t nm = 0;
	bool ok = true, have_v2 = false;
	/* Lines come newest hierarchy first; mountinfo's order is oldest first. */
	for (char *end = text + strlen(text); ok && end > text;) {
		if (end[-1] == '\n')
			*--end = '\0';
		char *line = end;
		while (line > text && line[-1] != '\n')
			line--;
		end = line;
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		const char *ctrl = c1 + 1;
		char mp[PATH_MAX];
		if (!*ctrl) {
			have_v2 = true; /* added last, below */
			continue;
		}
		const char *name = strncmp(ctrl, "name=", 5) == 0 ? ctrl + 5 : ctrl;
		int len = snprintf(mp, sizeof(mp), "%s/%s", CGROUP_ROOT, name);
		ok = len > 0 && (size_t)len < sizeof(mp) && !strchr(name, '/') &&
		     is_fs(mp, CGROUP_SUPER_MAGIC);
		if (ok) {
			m = xrealloc(m, (nm + 1) * sizeof(*m));
			m[nm].ctrl = xstrdup(ctrl);
			m[nm].mountpoint = xstrdup(mp);
			m[nm].root = xstrdup("/");
			nm++;
		}
	}
	/* Not mounted there: a v1 host's idle cgroup2 (runc's view too). */
	have_v2 = have_v2 && is_fs(CGROUP_ROOT "/unified", CGROUP2_SUPER_MAGIC);
	if (ok && have_v2) {
		m = xrealloc(m, (nm + 1) * sizeof(*m));
		m[nm].ctrl = xstrdup("");
		m[nm].mountpoint = xstrdup(CGROUP_ROOT "/unified");
		m[nm].root = xstrdup("/");
		nm++;
	}
	if (!ok || nm == 0) {
		mounts_free(m, nm);
		return false;
	}
	*layout = have_v2 ? CG_HYBRID : CG_V1;
	*out = m;
	*n = nm;
	return true;
}

static int read_mounts(enum cg_layout *layout, struct cg_mount **out, size_t *n, bool may_probe,
		       struct husk_error *e)
{
	struct statfs sf;
	if (statfs(CGROUP_ROOT, &sf) < 0)
		return husk_errno(e, "statfs %s", CGROUP_ROOT);
	if ((unsigned long)sf.f_type == CGROUP2_SUPER_MAGIC) {
		struct cg_mount *m = xcalloc(1, sizeof(*m));
		m->ctrl = xstrdup("");
		m->mountpoint = xstrdup(CGROUP_ROOT);
		m->root = xstrdup("/");
		*layout = CG_V2;
		*out = m;
		*n = 1;
		return 0;
	}
	if (may_probe && probe_mounts(layout, out, n))
		return 0;

	_cleanup_free_ char *text = NULL;
	if (husk_read_file_at(AT_FDCWD, "/proc/self/mountinfo", &text, NULL, e) < 0)
		return -1;
	struct cg_mount *m = NULL;
	size_t nm = 0;
	bool have_v2 = false;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		char *fstype = sep + 3, *src, *opts;
		if (!(src = strchr(fstype, ' ')))
			continue;
		*src++ = '\0';
		bool v2 = strcmp(fstype, "cgroup2") == 0;
		if (!v2 && strcmp(fstype, "cgroup") != 0)
			continue;
		opts = strchr(src, ' ');
		opts = opts ? opts + 1 : (char *)"";

		/* id parent maj:min root mountpoint ... */
		char *f[5], *s2 = NULL, *p = line;
		int i;
		for (i = 0; i < 5 && (f[i] = strtok_r(p, " ", &s2)); i++)
			p = NULL;
		if (i < 5)
			continue;
		char *ctrl = v2 ? xstrdup("") : husk_cg_v1_controllers(opts);
		bool dup = false;
		for (size_t k = 0; k < nm && !dup; k++)
			dup = husk_cg_ctrl_equal(m[k].ctrl, ctrl);
		if (dup || (!v2 && !*ctrl)) {
			free(ctrl);
			continue;
		}
		husk_cg_unescape_octal(f[3]);
		husk_cg_unescape_octal(f[4]);
		m = xrealloc(m, (nm + 1) * sizeof(*m));
		m[nm].ctrl = ctrl;
		m[nm].root = xstrdup(f[3]);
		m[nm].mountpoint = xstrdup(f[4]);
		nm++;
		have_v2 |= v2;
	}
	if (nm == 0) {
		free(m);
		return husk_err(e, ENOENT, "no cgroup hierarchy is mounted");
	}
	*layout = have_v2 ? CG_HYBRID : CG_V1;
	*out = m;
	*n = nm;
	return 0;
}

/* The caller's own cgroup in the hierarchy with controllers ctrl ("" for
 * the unified one), from /proc/self/cgroup text. */
const char *husk_cg_own_cgroup(const char *proc_cgroup, const char *ctrl, char *buf, size_t len)
{
	for (const char *line = proc_cgroup; line && *line;) {
		const char *nl = strchrnul(line, '\n');
		const char *c1 = memchr(line, ':', (size_t)(nl - line));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(nl - c1 - 1)) : NULL;
		if (c2) {
			size_t cl = (size_t)(c2 - c1 - 1);
			char lc[256];
			if (cl < sizeof(lc)) {
				memcpy(lc, c1 + 1, cl);
				lc[cl] = '\0';
				bool match = *ctrl ? husk_cg_ctrl_equal(lc, ctrl) : (cl == 0 && line[0] == '0');
				if (match) {
					snprintf(buf, len, "%.*s", (int)(nl - c2 - 1), c2 + 1);
					return buf;
				}
			}
		}
		line = *nl ? nl + 1 : nl;
	}
	return NULL;
}

/* ---- create / enter ---- */

/* A new v1 cpuset cgroup starts with empty cpus and mems, and no task can
 * join it until they are filled: copy them from the parent. */
static int cpuset_inherit(const char *dir, struct husk_error *e)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	_cleanup_fd_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return husk_errno(e, "open %s", dir);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *cur = NULL, *parent = NULL;
		if (husk_read_file_at(dfd, files[i], &cur, NULL, e) < 0)
			return -1;
		if (cur[0] && cur[0] != '\n')
			continue;
		char pp[PATH_MAX];
		snprintf(pp, sizeof(pp), "../%s", files[i]);
		if (husk_read_file_at(dfd, pp, &parent, NULL, e) < 0)
			return -1;
		if (husk_write_file_at(dfd, files[i], parent, strlen(parent), e) < 0)
			return husk_err_wrap(e, "%s", dir);
	}
	return 0;
}

/* A cpuset directory we have just made: its cpus and mems are empty, so
 * they are copied without looking, the parent's values read only once for
 * the whole path (vals: cpus and mems, NULL until read). */
static int cpuset_fill_new(const char *dir, char **vals[2], struct husk_error *e)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	_cleanup_fd_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return husk_errno(e, "open %s", dir);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char pp[32];
		snprintf(pp, sizeof(pp), "../%s", files[i]);
		if (!*vals[i] && husk_read_file_at(dfd, pp, vals[i], NULL, e) < 0)
			return -1;
		if (husk_write_file_at(dfd, files[i], *vals[i], strlen(*vals[i]), e) < 0)
			return husk_err_wrap(e, "%s", dir);
	}
	return 0;
}

/* cpuset_inherit for every directory from below the mount point down to
 * dir, top-down: a parent made by a concurrent create may still be empty. */
static int cpuset_inherit_path(const char *mountpoint, const char *dir, struct husk_error *e)
{
	_cleanup_free_ char *p = xstrdup(dir);
	size_t base = strlen(mountpoint), len = strlen(p);
	for (size_t i = base + 1; i <= len; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char c = p[i];
		p[i] = '\0';
		if (cpuset_inherit(p, e) < 0)
			return -1;
		p[i] = c;
	}
	return 0;
}

/* Remove a cgroup directory and any cgroups below it (a container may
 * have made some).  Emptied cgroups can stay busy for a moment while
 * their last tasks finish exiting, so retry EBUSY a few times. */
static int rmdir_cgroup(const char *dir, bool retry, struct husk_error *e)
{
	/* Cgroups below are rare: look for them only when it is busy. */
	if (rmdir(dir) == 0 || errno == ENOENT)
		return 0;
	_cleanup_dir_ DIR *d = opendir(dir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			_cleanup_free_ char *sub = xasprintf("%s/%s", dir, de->d_name);
			if (rmdir_cgroup(sub, retry, e) < 0)
				return -1;
		}
	}
	unsigned delay_us = 1000;
	for (int attempt = 0;; attempt++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (!retry || errno != EBUSY || attempt >= 8)
			return husk_errno(e, "rmdir %s", dir);
		usleep(delay_us);
		delay_us *= 2;
	}
}

/* Take away the directories we created in h, deepest first. */
static int remove_created(struct hier *h, struct husk_error *e)
{
	if (h->created <= 0)
		return 0;
	if (rmdir_cgroup(h->dir, true, e) < 0)
		return -1;
	h->created--;
	char *p = xstrdup(h->dir);
	/* Parents may be shared with other containers: one try each, and a
	 * busy one stays (with every parent above it). */
	while (h->created > 0) {
		char *slash = strrchr(p, '/');
		if (!slash || slash == p)
			break;
		*slash = '\0';
		if (rmdir(p) < 0 && errno != ENOENT)
			break;
		h->created--;
	}
	h->created = 0;
	free(p);
	return 0;
}

/* rmdir path and then its parents, count directories in all. */
static void rmdir_upward(char *path, int count)
{
	while (count-- > 0) {
		if (rmdir(path) < 0 && errno != ENOENT)
			return;
		char *slash = strrchr(path, '/');
		if (!slash || slash == path)
			return;
		*slash = '\0';
	}
}

/* mkdir -p of h->dir below base_len (which must exist), counting what we
 * made.  On failure what was made is removed again. */
static int make_dirs(struct hier *h, size_t base_len, struct husk_error *e)
{
	_cleanup_free_ char *p = xstrdup(h->dir);
	size_t len = strlen(p);
	bool cpuset = husk_cg_ctrl_has(h->ctrl, "cpuset");
	_cleanup_free_ char *cpus = NULL, *mems = NULL;
	char **cpuset_vals[2] = { &cpus, &mems };
	int made = 0, restarts = 0;
	h->created = 0;
	for (size_t i = base_len + 1; i <= len; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		int r = mkdir(p, 0755);
		if (r < 0 && errno == ENOENT && restarts++ < 5) {
			/* A concurrent delete removed a shared parent under
			 * our feet: walk again from the top. */
			p[i] = i < len ? '/' : '\0';
			i = base_len;
			made = 0;
			continue;
		}
		if (r == 0) {
			made++;
			if (cpuset && cpuset_fill_new(p, cpuset_vals, e) < 0) {
				rmdir_upward(p, made);
				return -1;
			}
		} else if (errno != EEXIST) {
			husk_errno(e, "mkdir %s", p);
			char *slash = strrchr(p, '/');
			if (slash)
				*slash = '\0';
			rmdir_upward(p, made);
			return -1;
		} else {
			struct stat st;
			if (i == len && (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))) {
				/* "tasks", "cgroup.procs": a file of the parent */
				husk_err(e, ENOTDIR, "mkdir %s", p);
				*strrchr(p, '/') = '\0';
				rmdir_upward(p, made);
				return -1;
			}
			made = 0; /* existed already (or appeared under our feet) */
		}
		if (i < len)
			p[i] = '/';
	}
	h->created = made;
	return 0;
}

/* runc leaves out a default device rule whose node linux.devices
 * replaces; the linux.devices entries themselves get no rule. */
static uint32_t spec_device_skip(const struct husk_spec *spec)
{
	uint32_t skip = 0;
	for (size_t i = 0; spec && i < spec->n_devices; i++)
		for (size_t j = 0; j < husk_cg_n_default_devices; j++)
			if (husk_cg_default_device_paths[j] && spec->devices[i].path &&
			    strcmp(spec->devices[i].path, husk_cg_default_device_paths[j]) == 0)
				skip |= 1u << j;
	return skip;
}

/* Pure v2: the controllers of the unified root are enabled down to the
 * container's parent, so that its limits and stats files exist. */
static void v2_enable_all(struct hier *h)
{
	_cleanup_free_ char *f = xasprintf("%s/cgroup.controllers", h->mountpoint);
	_cleanup_free_ char *avail = NULL;
	struct husk_error e2;
	if (husk_read_file_at(AT_FDCWD, f, &avail, NULL, &e2) < 0)
		return;
	avail[strcspn(avail, "\n")] = '\0';
	if (*avail && husk_cg_v2_enable(h, avail, &e2) < 0) {
		char why[HUSK_ERR_MSG_MAX + 64];
		husk_debug("%s", husk_err_str(&e2, why, sizeof(why)));
	}
}

/* ---- systemd driver ----
 * The unit can only be started with a process in it, so create only
 * works out the paths; husk_cgroup_systemd_attach() does the rest once
 * the init exists (it waits, unplaced, until then). */

static int create_systemd(const struct husk_spec *spec, const char *id, struct husk_cgroup **out,
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
	struct cg_mount *m = NULL;
	size_t nm = 0;
	enum cg_layout layout = CG_V1;
	if (read_mounts(&layout, &m, &nm, true, e) < 0) {
		json_decref(annotations);
		husk_sd_unit_free(&u);
		return -1;
	}
	struct husk_cgroup *cg = xcalloc(1, sizeof(*cg));
	cg->layout = layout;
	cg->h = xcalloc(nm + 1, sizeof(*cg->h));
	for (size_t i = 0; i < nm; i++, cg->n++) {
		cg->h[i].ctrl = xstrdup(m[i].ctrl);
		cg->h[i].mountpoint = xstrdup(m[i].mountpoint);
		cg->h[i].dir = xasprintf("%s%s", m[i].mountpoint, u.path);
	}
	mounts_free(m, nm);
	cg->sd = u;
	cg->sd_annotations = annotations;
	cg->sd_description = xasprintf("husk container %s", id);
	cg->sd_pending = true;
	cg->dev_skip = spec_device_skip(spec);
	*out = cg;
	return 0;
}

bool husk_cgroup_systemd_pending(const struct husk_cgroup *cg)
{
	return cg && cg->sd_pending;
}

/* The unit's properties for the resources res; with_devices: the device
 * rules too (p's, after the defaults as for the cgroup files). */
static int systemd_props(struct husk_cgroup *cg, const json_t *res, bool with_devices, const struct cg_plan *p,
			 struct sd_props *ps, struct husk_error *e)
{
	_cleanup_free_ char *proc_devices = NULL;
	size_t nrules = 0;
	_cleanup_free_ struct cg_dev_rule *rules = NULL;
	if (with_devices && !cg->sd.user) {
		struct husk_error ignored;
		husk_read_file_at(AT_FDCWD, "/proc/devices", &proc_devices, NULL, &ignored);
		rules = husk_cg_device_rules(p->dev, p->ndev, cg->dev_skip, &nrules);
	}
	return husk_sd_props_resources(ps, res, cg->layout == CG_V2, rules, nrules, proc_devices, e);
}

int husk_cgroup_systemd_attach(struct husk_cgroup *cg, pid_t pid, char **need, struct husk_error *e)
{
	bool scope = cg->sd.slice != NULL;
	struct sd_props ps = { 0 };
	husk_sd_prop_str(&ps, "Description", cg->sd_description);
	if (scope) {
		husk_sd_prop_str(&ps, "Slice", cg->sd.slice);
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
	int r = husk_cg_plan_recorded(cg->resources, 0, &plan, e);
	if (r == 0) {
		r = systemd_props(cg, cg->resources, true, &plan, &ps, e);
		husk_cg_plan_free(&plan);
	}
	/* The spec's own properties last: they win over ours. */
	const char *k;
	json_t *v;
	json_object_foreach(cg->sd_annotations, k, v)
		if (r == 0)
			r = husk_sd_props_annotation(&ps, k, json_string_value(v), e);
	if (r == 0) {
		_cleanup_free_ char *text = husk_sd_props_format(&ps);
		husk_debug("systemd: starting %s with\n%s", cg->sd.unit, text);
		r = husk_sd_connect(cg->sd.user, &bus, e);
	}
	if (r == 0)
		r = husk_sd_start_unit(bus, cg->sd.unit, &ps, e);
	husk_sd_close(bus);
	husk_sd_props_free(&ps);
	if (r < 0)
		return husk_err_wrap(e, "systemd cgroup driver");
	cg->sd_pending = false;

	/* Where systemd put it, as this cgroup namespace sees it (a user
	 * instance's units live below user@UID.service). */
	_cleanup_free_ char *path = xstrdup(cg->sd.path), *proc_cgroup = NULL;
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
		h->dir = cgroup_dir(h->mountpoint, path);
		if (make_dirs(h, strlen(h->mountpoint), e) == 0)
			continue;
		bool denied = e->errnum == EACCES || e->errnum == EPERM || e->errnum == EROFS;
		if (!cg->sd.user || !denied)
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
	free(cg->sd.path);
	cg->sd.path = xstrdup(path);
	if (cg->layout == CG_V2)
		v2_enable_all(&cg->h[0]);
	json_t *res = json_incref(cg->resources);
	r = husk_cgroup_apply_resources(cg, res, e);
	json_decref(res);
	return r;
}

void husk_cgroup_systemd_placed(struct husk_cgroup *cg)
{
	if (!husk_cgroup_systemd_pending(cg))
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
		h->dir = cgroup_dir(h->mountpoint, o);
	}
	cg->sd_pending = false;
}

int husk_cg_systemd_update(struct husk_cgroup *cg, const json_t *changes, const struct cg_plan *p,
			   struct husk_error *e)
{
	if (!cg->sd.unit)
		return 0;
	struct sd_props ps = { 0 };
	struct husk_sd_bus *bus = NULL;
	int r = systemd_props(cg, changes, p->has_devices, p, &ps, e);
	if (r == 0 && ps.n)
		r = husk_sd_connect(cg->sd.user, &bus, e);
	if (r == 0 && ps.n)
		r = husk_sd_set_properties(bus, cg->sd.unit, &ps, e);
	husk_sd_close(bus);
	husk_sd_props_free(&ps);
	return r < 0 ? husk_err_wrap(e, "systemd cgroup driver") : 0;
}

int husk_cgroup_create(const struct husk_spec *spec, const char *id, bool systemd,
		       struct husk_cgroup **out, struct husk_error *e)
{
	if (systemd)
		return create_systemd(spec, id, out, e);

	const char *want = spec && spec->cgroups_path && *spec->cgroups_path ? spec->cgroups_path : NULL;
	_cleanup_free_ char *dflt = NULL;
	if (!want)
		want = dflt = xasprintf("%s/%s", DEFAULT_PARENT, id);
	bool relative = want[0] != '/';
	_cleanup_free_ char *rel = NULL;
	if (husk_cg_clean_path(want, &rel, e) < 0)
		return -1;

	struct cg_mount *m = NULL;
	size_t nm = 0;
	enum cg_layout layout = CG_V1;
	if (read_mounts(&layout, &m, &nm, !relative, e) < 0)
		return -1;
	_cleanup_free_ char *proc_cgroup = NULL;
	if (relative && husk_read_file_at(AT_FDCWD, "/proc/self/cgroup", &proc_cgroup, NULL, e) < 0) {
		mounts_free(m, nm);
		return -1;
	}

	struct husk_cgroup *cg = xcalloc(1, sizeof(*cg));
	cg->layout = layout;
	cg->h = xcalloc(nm, sizeof(*cg->h));
	int r = 0;
	for (size_t i = 0; i < nm && r == 0; i++) {
		struct hier *h = &cg->h[cg->n++];
		h->ctrl = xstrdup(m[i].ctrl);
		h->mountpoint = xstrdup(m[i].mountpoint);
		/* base: the directory the cgroupsPath is relative to. */
		_cleanup_free_ char *base = NULL;
		if (!relative) {
			base = xstrdup(m[i].mountpoint);
		} else {
			char own[PATH_MAX];
			const char *o = husk_cg_own_cgroup(proc_cgroup, m[i].ctrl, own, sizeof(own));
			size_t rl = strlen(m[i].root);
			if (!o) {
				r = husk_err(e, ENOENT, "own cgroup for %s not in /proc/self/cgroup",
					     *m[i].ctrl ? m[i].ctrl : "cgroup2");
				break;
			}
			/* Mounted from a subtree (nested runtimes): strip its root. */
			if (strcmp(m[i].root, "/") != 0) {
				if (strncmp(o, m[i].root, rl) != 0 || (o[rl] && o[rl] != '/')) {
					r = husk_err(e, 0, "own cgroup %s is outside the %s mount",
						     o, m[i].mountpoint);
					break;
				}
				o += rl;
			}
			base = cgroup_dir(m[i].mountpoint, o);
		}
		h->dir = *rel ? xasprintf("%s/%s", base, rel) : xstrdup(base);
		r = make_dirs(h, strlen(base), e);
	}
	mounts_free(m, nm);
	if (r < 0) {
		struct husk_error ignored;
		for (size_t i = 0; i < cg->n; i++)
			remove_created(&cg->h[i], &ignored);
		husk_cgroup_free(cg);
		return -1;
	}
	if (layout == CG_V2)
		v2_enable_all(&cg->h[0]);
	cg->dev_skip = spec_device_skip(spec);
	*out = cg;
	return 0;
}

char *husk_cgroup_exec_dir(const struct husk_cgroup *cg, size_t i, pid_t init)
{
	const struct hier *h = &cg->h[i];
	if (*h->ctrl)
		return xstrdup(h->dir);
	_cleanup_free_ char *f = xasprintf("%s/cgroup.subtree_control", h->dir);
	_cleanup_free_ char *ctl = NULL, *pf = NULL, *proc_cgroup = NULL;
	struct husk_error ignored;
	if (husk_read_file_at(AT_FDCWD, f, &ctl, NULL, &ignored) < 0 || ctl[strspn(ctl, " \n")] == '\0')
		return xstrdup(h->dir);
	pf = xasprintf("/proc/%d/cgroup", (int)init);
	char own[PATH_MAX];
	const char *o = husk_read_file_at(AT_FDCWD, pf, &proc_cgroup, NULL, &ignored) == 0
				? husk_cg_own_cgroup(proc_cgroup, "", own, sizeof(own))
				: NULL;
	if (!o)
		return xstrdup(h->dir);
	char *dir = cgroup_dir(h->mountpoint, o);
	size_t dl = strlen(h->dir);
	if (strncmp(dir, h->dir, dl) != 0 || (dir[dl] != '/' && dir[dl] != '\0')) {
		free(dir); /* the init left the container's cgroup: not ours to follow */
		return xstrdup(h->dir);
	}
	return dir;
}

/* Make h's directory again after a concurrent delete of a shared
 * cgroupsPath removed it.  1: it was gone, 0: it is there. */
static int revive(struct hier *h, struct husk_error *e)
{
	struct stat st;
	if (stat(h->dir, &st) == 0 || errno != ENOENT)
		return 0;
	if (husk_mkdir_p(h->dir, 0755, e) < 0 ||
	    (husk_cg_ctrl_has(h->ctrl, "cpuset") && cpuset_inherit_path(h->mountpoint, h->dir, e) < 0))
		return -1;
	if (h->created < 1)
		h->created = 1;
	return 1;
}

int husk_cg_revive(struct husk_cgroup *cg, struct husk_error *e)
{
	int any = 0;
	for (size_t i = 0; i < cg->n; i++) {
		int r = revive(&cg->h[i], e);
		if (r < 0)
			return -1;
		any |= r;
	}
	return any;
}

/* Move pid into h, retrying what concurrent creates and deletes of a
 * shared cgroupsPath can cause. */
static int enter_one(struct hier *h, const char *pid, size_t len, bool *revived, struct husk_error *e)
{
	_cleanup_free_ char *f = xasprintf("%s/cgroup.procs", h->dir);
	/* Containers may share a cgroupsPath: another one's delete can
	 * remove the directory between our mkdir and this write. */
	for (int tries = 0;; tries++) {
		if (husk_write_file_at(AT_FDCWD, f, pid, len, e) == 0)
			return 0;
		bool cpuset = husk_cg_ctrl_has(h->ctrl, "cpuset");
		/* ENOSPC: a cpuset whose cpus/mems a concurrent create
		 * has not filled in yet. */
		/* ENODEV: the directory is being removed. */
		bool gone = e->errnum == ENOENT || e->errnum == ENODEV;
		if ((!gone && !(cpuset && e->errnum == ENOSPC)) || tries == 5)
			return husk_err_wrap(e, "join cgroup");
		if (gone) {
			int r = revive(h, e);
			if (r < 0)
				return husk_err_wrap(e, "join cgroup");
			*revived |= r > 0;
		}
		if (cpuset && cpuset_inherit_path(h->mountpoint, h->dir, e) < 0)
			return husk_err_wrap(e, "join cgroup");
	}
}

int husk_cgroup_enter(struct husk_cgroup *cg, pid_t pid, struct husk_error *e)
{
	return husk_cgroup_enter_some(cg, pid, NULL, e);
}

int husk_cgroup_enter_some(struct husk_cgroup *cg, pid_t pid, const char *which,
			   struct husk_error *e)
{
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	bool revived = false;
	for (size_t i = 0; i < cg->n; i++) {
		if (which && (i >= strlen(which) || which[i] != '1'))
			continue;
		if (enter_one(&cg->h[i], buf, (size_t)n, &revived, e) < 0)
			return -1;
	}
	/* A cgroup made again lost the limits: set them again. */
	if (revived) {
		json_t *res = json_incref(cg->resources);
		int r = husk_cgroup_apply_resources(cg, res, e);
		json_decref(res);
		return r;
	}
	return 0;
}

/* ---- the init joins by itself ----
 *
 * A runtime writing the init's pid to cgroup.procs takes the kernel's
 * global threadgroup lock for writing, which waits for an RCU grace
 * period when the lock has been idle: 5-15 ms on a quiet host, more than
 * the rest of a container start.  A single-threaded process moving itself
 * through a v1 "tasks" file ("0") skips that lock, and clone3 with
 * CLONE_INTO_CGROUP places the init in the unified hierarchy at birth.
 * The runtime opens the files, so the write is checked against its
 * credentials even after the init has entered a user namespace. */

void husk_cgroup_join_open(const struct husk_cgroup *cg, struct husk_cgroup_join *j)
{
	/* systemd places the init itself, once it exists. */
	j->n = cg->sd_pending ? 0 : cg->n;
	j->fd = xmalloc((cg->n ? cg->n : 1) * sizeof(*j->fd));
	j->v2_dir = -1;
	j->v2_index = 0;
	for (size_t i = 0; i < j->n; i++) {
		const struct hier *h = &cg->h[i];
		j->fd[i] = -1;
		if (!*h->ctrl) {
			j->v2_dir = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			j->v2_index = i;
			continue;
		}
		_cleanup_free_ char *f = xasprintf("%s/tasks", h->dir);
		j->fd[i] = open(f, O_WRONLY | O_CLOEXEC);
	}
}

void husk_cgroup_join_close(struct husk_cgroup_join *j)
{
	for (size_t i = 0; i < j->n; i++)
		husk_closep(&j->fd[i]);
	husk_closep(&j->v2_dir);
	free(j->fd);
	j->fd = NULL;
	j->n = 0;
}

void husk_cgroup_join_self(struct husk_cgroup_join *j, bool born_in_v2, char *need)
{
	for (size_t i = 0; i < j->n; i++) {
		bool ok;
		if (j->v2_dir >= 0 && i == j->v2_index) {
			/* clone3 refused: cgroup.procs it is (slow, still right). */
			int fd = born_in_v2 ? -1 : openat(j->v2_dir, "cgroup.procs", O_WRONLY | O_CLOEXEC);
			ok = born_in_v2 || (fd >= 0 && write(fd, "0", 1) == 1);
			if (fd >= 0)
				close(fd);
		} else {
			ok = j->fd[i] >= 0 && write(j->fd[i], "0", 1) == 1;
		}
		need[i] = ok ? '0' : '1';
	}
	need[j->n] = '\0';
	husk_cgroup_join_close(j);
}

/* ---- state round trip ---- */

static const char *const layout_names[] = { "v1", "hybrid", "v2" };

char *husk_cgroup_serialize(const struct husk_cgroup *cg)
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
	if (cg->sd.unit) {
		json_t *sd = json_pack("{s:s, s:s, s:b}", "unit", cg->sd.unit, "path", cg->sd.path, "user",
				       cg->sd.user);
		if (cg->sd.slice)
			json_object_set_new(sd, "slice", json_string(cg->sd.slice));
		json_object_set_new(o, "systemd", sd);
	}
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		abort();
	char *r = xstrdup(s);
	free(s);
	return r;
}

int husk_cgroup_deserialize(const char *text, struct husk_cgroup **out, struct husk_error *e)
{
	json_error_t je;
	json_t *o = json_loads(text, 0, &je);
	json_t *arr = o ? json_object_get(o, "hierarchies") : NULL;
	const char *layout = o ? json_string_value(json_object_get(o, "layout")) : NULL;
	if (!json_is_array(arr) || !layout) {
		json_decref(o);
		return husk_err(e, 0, "cgroup state: malformed");
	}
	struct husk_cgroup *cg = xcalloc(1, sizeof(*cg));
	for (int i = 0; i < (int)ARRAY_SIZE(layout_names); i++)
		if (strcmp(layout, layout_names[i]) == 0)
			cg->layout = (enum cg_layout)i;
	cg->h = xcalloc(json_array_size(arr) + 1, sizeof(*cg->h));
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
	if ((v = json_object_get(o, "systemd"))) {
		const char *unit = NULL, *path = NULL, *slice = NULL;
		int user = 0;
		if (json_unpack(v, "{s:s, s:s, s:b, s?:s}", "unit", &unit, "path", &path, "user", &user,
				"slice", &slice) < 0) {
			husk_cgroup_free(cg);
			json_decref(o);
			return husk_err(e, 0, "cgroup state: malformed systemd unit");
		}
		cg->sd.unit = xstrdup(unit);
		cg->sd.path = xstrdup(path);
		cg->sd.slice = slice ? xstrdup(slice) : NULL;
		cg->sd.user = user;
	}
	json_decref(o);
	*out = cg;
	return 0;
}

/* ---- pids / destroy ---- */

static void collect_pids(const char *dir, pid_t **v, size_t *n, size_t *cap)
{
	_cleanup_free_ char *f = xasprintf("%s/cgroup.procs", dir);
	_cleanup_free_ char *text = NULL;
	struct husk_error ignored;
	if (husk_read_file_at(AT_FDCWD, f, &text, NULL, &ignored) == 0) {
		char *save = NULL;
		for (char *tok = strtok_r(text, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save)) {
			long pid;
			if (husk_parse_long(tok, 1, INT32_MAX, &pid) < 0)
				continue;
			if (*n == *cap) {
				*cap = *cap ? *cap * 2 : 16;
				*v = xrealloc(*v, *cap * sizeof(**v));
			}
			(*v)[(*n)++] = (pid_t)pid;
		}
	}
	_cleanup_dir_ DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_free_ char *sub = xasprintf("%s/%s", dir, de->d_name);
		collect_pids(sub, v, n, cap);
	}
}

int husk_cgroup_pids(struct husk_cgroup *cg, pid_t **out, size_t *n, struct husk_error *e)
{
	const struct hier *pick = NULL;
	/* Every process is in every hierarchy; pids (or the unified one)
	 * is where containers least often make sub-cgroups of their own. */
	for (size_t i = 0; i < cg->n && !pick; i++)
		if (husk_cg_ctrl_has(cg->h[i].ctrl, "pids"))
			pick = &cg->h[i];
	for (size_t i = 0; i < cg->n && !pick; i++)
		if (!*cg->h[i].ctrl)
			pick = &cg->h[i];
	if (!pick && cg->n)
		pick = &cg->h[0];
	if (!pick)
		return husk_err(e, ENOENT, "no cgroup hierarchy");
	struct stat st;
	if (stat(pick->dir, &st) < 0)
		return husk_errno(e, "cgroup %s", pick->dir);
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	collect_pids(pick->dir, out, n, &cap);
	return 0;
}

int husk_cgroup_destroy(struct husk_cgroup *cg, struct husk_error *e)
{
	int r = 0;
	for (size_t i = 0; i < cg->n; i++) {
		struct husk_error e2;
		if (remove_created(&cg->h[i], &e2) < 0 && r == 0) {
			*e = e2;
			r = -1;
		}
	}
	/* systemd removes the unit's own cgroups when it stops; a systemd
	 * that is no longer running took its units with it. */
	struct stat st;
	if (cg->sd.unit && !cg->sd_pending && stat("/run/systemd/system", &st) == 0) {
		struct husk_sd_bus *bus = NULL;
		struct husk_error e2;
		if ((husk_sd_connect(cg->sd.user, &bus, &e2) < 0 ||
		     husk_sd_stop_unit(bus, cg->sd.unit, &e2) < 0) && r == 0) {
			*e = e2;
			r = -1;
		}
		husk_sd_close(bus);
	}
	return r;
}

size_t husk_cgroup_hierarchies(const struct husk_cgroup *cg, struct husk_cgroup_hier_info *out,
			       size_t max)
{
	for (size_t i = 0; i < cg->n && i < max; i++)
		out[i] = (struct husk_cgroup_hier_info){
			.ctrl = cg->h[i].ctrl,
			.mountpoint = cg->h[i].mountpoint,
			.dir = cg->h[i].dir,
		};
	return cg->n;
}

bool husk_cgroup_is_v2(const struct husk_cgroup *cg)
{
	return cg->layout == CG_V2;
}
