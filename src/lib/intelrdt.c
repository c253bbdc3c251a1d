#include "intelrdt.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "util.h"

#define RDTGROUP_SUPER_MAGIC 0x7655821

/* ---- the real filesystem ---- */

static int sys_mkdir(void *ctx, const char *path)
{
	(void)ctx;
	return mkdir(path, 0755) < 0 ? -errno : 0;
}

static int sys_rmdir(void *ctx, const char *path)
{
	(void)ctx;
	return rmdir(path) < 0 ? -errno : 0;
}

static int sys_write(void *ctx, const char *path, const char *data)
{
	(void)ctx;
	struct husk_error e;
	/* resctrl takes one write per request: write_all's single write. */
	return husk_write_file_at(AT_FDCWD, path, data, strlen(data), &e) < 0 ? -e.errnum : 0;
}

static int sys_read(void *ctx, const char *path, char **out)
{
	(void)ctx;
	struct husk_error e;
	return husk_read_file_at(AT_FDCWD, path, out, NULL, &e) < 0 ? -e.errnum : 0;
}

const struct husk_rdt_ops husk_rdt_sys_ops = { sys_mkdir, sys_rmdir, sys_write, sys_read, NULL };

int husk_rdt_available(struct husk_error *e)
{
	struct statfs sf;
	if (statfs(HUSK_RESCTRL_ROOT, &sf) < 0 || sf.f_type != RDTGROUP_SUPER_MAGIC)
		return husk_err(e, 0, "linux.intelRdt: resctrl is not mounted at %s", HUSK_RESCTRL_ROOT);
	return 0;
}

/* ---- schemata ---- */

static void append_line(char **buf, const char *line, size_t len)
{
	size_t have = *buf ? strlen(*buf) : 0;
	*buf = xrealloc(*buf, have + len + 2);
	memcpy(*buf + have, line, len);
	(*buf)[have + len] = '\n';
	(*buf)[have + len + 1] = '\0';
}

char *husk_rdt_schemata(const struct husk_intel_rdt *r)
{
	char *out = NULL;
	for (const char *p = r->l3_cache_schema; p && *p;) {
		const char *end = strchrnul(p, '\n');
		/* memBwSchema wins over an MB: line in l3CacheSchema. */
		if (end > p && !(r->mem_bw_schema && !strncmp(p, "MB:", 3)))
			append_line(&out, p, (size_t)(end - p));
		p = *end ? end + 1 : end;
	}
	if (r->mem_bw_schema)
		append_line(&out, r->mem_bw_schema, strlen(r->mem_bw_schema));
	for (size_t i = 0; r->schemata && r->schemata[i]; i++)
		if (*r->schemata[i])
			append_line(&out, r->schemata[i], strlen(r->schemata[i]));
	return out ? out : xstrdup("");
}

/* "  L3:0=0fff;1=ff" -> resource "L3", domains; values compared without
 * leading zeros or case, as the kernel pads and prints them its own way. */
static bool same_value(const char *a, size_t alen, const char *b, size_t blen)
{
	while (alen > 1 && *a == '0')
		a++, alen--;
	while (blen > 1 && *b == '0')
		b++, blen--;
	return alen == blen && strncasecmp(a, b, alen) == 0;
}

static const char *skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Does the current schemata text hold every domain=value of want_line? */
static bool line_matches(const char *current, const char *want, size_t want_len)
{
	const char *colon = memchr(want, ':', want_len);
	if (!colon)
		return false;
	size_t rlen = (size_t)(colon - want);
	const char *line = NULL;
	for (const char *p = current; *p;) {
		const char *s = skip_space(p), *end = strchrnul(p, '\n');
		if (!strncmp(s, want, rlen) && s[rlen] == ':')
			line = s + rlen + 1;
		p = *end ? end + 1 : end;
	}
	if (!line)
		return false;
	const char *line_end = strchrnul(line, '\n');
	for (const char *d = colon + 1; d < want + want_len;) {
		const char *sep = memchr(d, ';', (size_t)(want + want_len - d));
		const char *dend = sep ? sep : want + want_len, *eq = memchr(d, '=', (size_t)(dend - d));
		if (!eq)
			return false;
		size_t klen = (size_t)(eq - d);
		bool found = false;
		for (const char *c = skip_space(line); c < line_end && !found;) {
			const char *csep = memchr(c, ';', (size_t)(line_end - c));
			const char *cend = csep ? csep : line_end, *ceq = memchr(c, '=', (size_t)(cend - c));
			if (ceq && (size_t)(ceq - c) == klen && !strncmp(c, d, klen))
				found = same_value(eq + 1, (size_t)(dend - eq - 1), ceq + 1,
						   (size_t)(cend - ceq - 1));
			c = csep ? csep + 1 : line_end;
		}
		if (!found)
			return false;
		d = sep ? sep + 1 : dend;
	}
	return true;
}

static bool schemata_match(const char *current, const char *want)
{
	for (const char *p = want; *p;) {
		const char *end = strchrnul(p, '\n');
		if (end > p && !line_matches(current, p, (size_t)(end - p)))
			return false;
		p = *end ? end + 1 : end;
	}
	return true;
}

/* ---- groups ---- */

static int join(const struct husk_rdt_ops *ops, const char *dir, pid_t pid, struct husk_error *e)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	_cleanup_free_ char *tasks = xasprintf("%s/tasks", dir);
	int err = ops->write(ops->ctx, tasks, buf);
	return err < 0 ? husk_err(e, -err, "linux.intelRdt: add pid %s to %s", buf, tasks) : 0;
}

/* The control group: made with the schemata, or (made by someone else)
 * checked against them. */
static int control_group(const struct husk_intel_rdt *r, const char *dir, bool *created,
			 const struct husk_rdt_ops *ops, struct husk_error *e)
{
	_cleanup_free_ char *want = husk_rdt_schemata(r);
	_cleanup_free_ char *file = xasprintf("%s/schemata", dir);
	*created = false;
	/* closID alone names a group that must already be there. */
	int err = *want || !r->clos_id ? ops->mkdir(ops->ctx, dir) : -EEXIST;
	if (err == 0) {
		*created = true;
		err = *want ? ops->write(ops->ctx, file, want) : 0;
		return err < 0 ? husk_err(e, -err, "linux.intelRdt: write %s", file) : 0;
	}
	if (err != -EEXIST)
		return husk_err(e, -err, "linux.intelRdt: create %s", dir);
	_cleanup_free_ char *current = NULL;
	err = ops->read(ops->ctx, file, &current);
	if (err == -ENOENT)
		return husk_err(e, 0, "linux.intelRdt.closID: no resctrl group \"%s\" in %s",
				r->clos_id ? r->clos_id : "", dir);
	if (err < 0)
		return husk_err(e, -err, "linux.intelRdt: read %s", file);
	if (*want && !schemata_match(current, want))
		return husk_err(e, 0, "linux.intelRdt: the existing group %s has other schemata than the config's",
				dir);
	return 0;
}

int husk_rdt_apply(const struct husk_intel_rdt *r, const char *root, const char *id, pid_t pid,
		   const struct husk_rdt_ops *ops, json_t **record, struct husk_error *e)
{
	*record = NULL;
	if (!r->set)
		return 0;
	_cleanup_free_ char *dir = xasprintf("%s/%s", root, r->clos_id ? r->clos_id : id);
	_cleanup_free_ char *mon = NULL;
	bool created = false, mon_made = false;
	if (control_group(r, dir, &created, ops, e) < 0)
		goto fail;
	if (join(ops, dir, pid, e) < 0)
		goto fail;
	if (r->enable_monitoring) {
		mon = xasprintf("%s/mon_groups/%s", dir, id);
		int err = ops->mkdir(ops->ctx, mon);
		if (err < 0) {
			husk_err(e, -err, "linux.intelRdt.enableMonitoring: create %s", mon);
			goto fail;
		}
		mon_made = true;
		if (join(ops, mon, pid, e) < 0)
			goto fail;
	}
	*record = json_pack("{s:s, s:b}", "dir", dir, "created", created);
	if (mon)
		json_object_set_new(*record, "mon", json_string(mon));
	return 0;
fail:
	if (mon_made)
		ops->rmdir(ops->ctx, mon);
	if (created)
		ops->rmdir(ops->ctx, dir);
	return -1;
}

int husk_rdt_join(json_t *record, pid_t pid, const struct husk_rdt_ops *ops, struct husk_error *e)
{
	const char *dir = json_string_value(json_object_get(record, "dir"));
	const char *mon = json_string_value(json_object_get(record, "mon"));
	if (dir && join(ops, dir, pid, e) < 0)
		return -1;
	return mon ? join(ops, mon, pid, e) : 0;
}

int husk_rdt_remove(json_t *record, const struct husk_rdt_ops *ops, struct husk_error *e)
{
	const char *dir = json_string_value(json_object_get(record, "dir"));
	const char *mon = json_string_value(json_object_get(record, "mon"));
	int err;
	if (mon && (err = ops->rmdir(ops->ctx, mon)) < 0 && err != -ENOENT)
		return husk_err(e, -err, "linux.intelRdt: remove %s", mon);
	if (dir && json_is_true(json_object_get(record, "created")) &&
	    (err = ops->rmdir(ops->ctx, dir)) < 0 && err != -ENOENT)
		return husk_err(e, -err, "linux.intelRdt: remove %s", dir);
	return 0;
}
