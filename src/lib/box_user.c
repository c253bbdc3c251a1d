/* husk box -u NAME|UID[:GROUP|GID]: names resolved in the rootfs's
 * /etc/passwd and /etc/group, as Docker resolves them in the image. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "box_internal.h"
#include "image/image.h"
#include "util.h"

#define BOX_MAX_ID 2147483647L /* Docker's range for a numeric uid or gid */
#define BOX_MAX_GROUPS 64

/* A file of the rootfs, resolved inside it (RESOLVE_IN_ROOT: its
 * symlinks cannot lead out); NULL when missing or not a regular file. */
static char *read_in_root(const struct box *b, const char *path)
{
	_cleanup_fd_ int fd = box_root_open(b, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return NULL;
	if (st.st_size > (1 << 24))
		return NULL; /* not a passwd file anyone writes */
	char *text = xmalloc((size_t)st.st_size + 1);
	ssize_t n = husk_read_all(fd, text, (size_t)st.st_size);
	text[n > 0 ? n : 0] = '\0';
	return text;
}

/* Split a colon-separated line into at most n fields; the count. */
static size_t fields(char *line, char **f, size_t n)
{
	size_t k = 0;
	f[k++] = line;
	for (char *c = line; *c && k < n; c++) {
		if (*c == ':') {
			*c = '\0';
			f[k++] = c + 1;
		}
	}
	return k;
}

static bool numeric(const char *s, long *out)
{
	return husk_parse_long(s, 0, BOX_MAX_ID, out) == 0;
}

struct box_user {
	long uid, gid;
	bool found;         /* a passwd entry matched */
	char name[256];
	long sgids[BOX_MAX_GROUPS];
	size_t n_sgids;
};

/* The first passwd entry whose name (or uid, for a numeric spec) matches. */
static void find_passwd(char *passwd, const char *spec, bool by_uid, long uid, struct box_user *u)
{
	char *save = NULL;
	for (char *l = strtok_r(passwd, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *f[7];
		long id, gid;
		if (fields(l, f, 7) < 4 || !numeric(f[2], &id) || !numeric(f[3], &gid))
			continue;
		if (by_uid ? id != uid : strcmp(f[0], spec) != 0)
			continue;
		u->uid = id;
		u->gid = gid;
		u->found = true;
		snprintf(u->name, sizeof(u->name), "%s", f[0]);
		return;
	}
}

static bool member(char *list, const char *name)
{
	char *save = NULL;
	for (char *m = strtok_r(list, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
		if (!strcmp(m, name))
			return true;
	}
	return false;
}

/* An explicit group sets the gid (the first match); without one, the
 * groups listing the user are its supplementary groups.  1 when an
 * explicit group matched. */
static int scan_groups(char *group, const char *spec, bool by_gid, long gid, struct box_user *u)
{
	char *save = NULL;
	for (char *l = strtok_r(group, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *f[4];
		long id;
		if (fields(l, f, 4) < 3 || !numeric(f[2], &id))
			continue;
		if (spec) {
			if (by_gid ? id == gid : !strcmp(f[0], spec)) {
				u->gid = id;
				return 1;
			}
		} else if (f[3] && u->n_sgids < BOX_MAX_GROUPS && member(f[3], u->name)) {
			u->sgids[u->n_sgids++] = id;
		}
	}
	return 0;
}

static int lookup(const struct box *b, const char *what, char *user, char *group,
		  struct box_user *u, struct husk_error *e)
{
	long uid = 0, gid = 0;
	bool by_uid = numeric(user, &uid), by_gid = group && numeric(group, &gid);
	_cleanup_free_ char *passwd = read_in_root(b, "/etc/passwd");
	if (passwd)
		find_passwd(passwd, user, by_uid, uid, u);
	if (!u->found && !by_uid)
		return husk_err(e, 0, "%s %s: no such user in the rootfs's /etc/passwd", what, user);
	if (!u->found)
		u->uid = uid; /* a numeric uid need not have an entry: gid 0 */
	if (!group && !u->found)
		return 0;
	_cleanup_free_ char *groups = read_in_root(b, "/etc/group");
	if (groups && scan_groups(groups, group, by_gid, gid, u) == 1)
		return 0;
	if (group && !by_gid)
		return husk_err(e, 0, "%s %s: no such group in the rootfs's /etc/group", what, group);
	if (group)
		u->gid = gid;
	return 0;
}

int box_user(struct box *b, json_t *proc, struct husk_error *e)
{
	/* -u, else the image's User */
	const char *spec = b->o->user ? b->o->user : b->img ? b->img->user : NULL;
	const char *what = b->o->user ? "--user" : "the image's User";
	if (!spec || (!b->o->user && !*spec))
		return 0;
	_cleanup_free_ char *s = xstrdup(spec);
	char *group = strchr(s, ':');
	if (group)
		*group++ = '\0';
	if (!*s || (group && !*group))
		return husk_err(e, 0, "%s %s: expected NAME|UID[:GROUP|GID]", what, spec);
	struct box_user u = { 0 };
	if (lookup(b, what, s, group, &u, e) < 0)
		return -1;
	json_t *user = json_pack("{s:I, s:I}", "uid", (json_int_t)u.uid, "gid", (json_int_t)u.gid);
	if (u.n_sgids) {
		json_t *g = json_array();
		for (size_t i = 0; i < u.n_sgids; i++)
			json_array_append_new(g, json_integer(u.sgids[i]));
		json_object_set_new(user, "additionalGids", g);
	}
	json_object_set_new(proc, "user", user);
	b->uid = u.uid;
	return 0;
}
