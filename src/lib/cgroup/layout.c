/* Where the host's cgroup hierarchies are.  One statfs of the root
 * (cgroup2 magic: pure v2); otherwise /proc/self/cgroup and a statfs of
 * each hierarchy's usual mount point below the root, and only when that
 * does not fit (or a relative cgroupsPath needs the mounts' roots)
 * /proc/self/mountinfo. */
#include "cgroup/cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "util.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static ssize_t real_write(int fd, const void *buf, size_t len)
{
	return write(fd, buf, len);
}

const struct husk_cg_sys husk_cg_sys_real = {
	.statfs = statfs,
	.mkdirat = mkdirat,
	.write = real_write,
	.unlinkat = unlinkat,
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

void husk_cg_layout_free(struct husk_cg_layout *l)
{
	mounts_free(l->m, l->n);
	l->m = NULL;
	l->n = 0;
}

#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif

static bool is_fs(const struct husk_cg_layout *l, const char *path, unsigned long magic)
{
	struct statfs sf;
	return l->sys->statfs(path, &sf) == 0 && (unsigned long)sf.f_type == magic;
}

/* The common layout, found without reading mountinfo (whose size grows
 * with the host's mounts): each v1 hierarchy that /proc/self/cgroup names
 * is mounted at /sys/fs/cgroup/<its controllers, or its name=>, and a
 * hybrid host's cgroup2 at /sys/fs/cgroup/unified (where runc looks for it
 * too).  Returns false when anything is elsewhere: then mountinfo decides.
 * The mounts' roots are not known here; relative cgroupsPaths need them. */
static bool probe_mounts(struct husk_cg_layout *l)
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
		int len = snprintf(mp, sizeof(mp), "%s/%s", l->root, name);
		ok = len > 0 && (size_t)len < sizeof(mp) && !strchr(name, '/') &&
		     is_fs(l, mp, CGROUP_SUPER_MAGIC);
		if (ok) {
			m = xrealloc(m, (nm + 1) * sizeof(*m));
			m[nm].ctrl = xstrdup(ctrl);
			m[nm].mountpoint = xstrdup(mp);
			m[nm].root = xstrdup("/");
			nm++;
		}
	}
	/* Not mounted there: a v1 host's idle cgroup2 (runc's view too). */
	_cleanup_free_ char *unified = xasprintf("%s/unified", l->root);
	have_v2 = have_v2 && is_fs(l, unified, CGROUP2_SUPER_MAGIC);
	if (ok && have_v2) {
		m = xrealloc(m, (nm + 1) * sizeof(*m));
		m[nm].ctrl = xstrdup("");
		m[nm].mountpoint = xstrdup(unified);
		m[nm].root = xstrdup("/");
		nm++;
	}
	if (!ok || nm == 0) {
		mounts_free(m, nm);
		return false;
	}
	l->kind = have_v2 ? CG_HYBRID : CG_V1;
	l->m = m;
	l->n = nm;
	return true;
}

int husk_cg_layout_read(struct husk_cg_layout *l, bool may_probe, struct husk_error *e)
{
	struct statfs sf;
	l->m = NULL;
	l->n = 0;
	if (l->sys->statfs(l->root, &sf) < 0)
		return husk_errno(e, "statfs %s", l->root);
	if ((unsigned long)sf.f_type == CGROUP2_SUPER_MAGIC) {
		struct cg_mount *m = xcalloc(1, sizeof(*m));
		m->ctrl = xstrdup("");
		m->mountpoint = xstrdup(l->root);
		m->root = xstrdup("/");
		l->kind = CG_V2;
		l->m = m;
		l->n = 1;
		return 0;
	}
	if (may_probe && probe_mounts(l))
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
	l->kind = have_v2 ? CG_HYBRID : CG_V1;
	l->m = m;
	l->n = nm;
	return 0;
}
