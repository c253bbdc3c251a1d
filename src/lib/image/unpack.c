/* husk image unpack: an OCI bundle from an image: rootfs/ the layers
 * flattened, config.json husk's default spec with the image's process. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image_internal.h"
#include "path.h"
#include "rootless.h"
#include "spec.h"
#include "storage.h"
#include "sys.h"
#include "util.h"

/* A file of the rootfs (symlinks resolved inside it), whole; NULL when
 * it is missing. */
static char *rootfs_file(int rootfd, const char *rel)
{
	int fd = husk_path_open(&husk_sys_real, rootfd, rel, 0, 0);
	if (fd < 0)
		return NULL;
	char proc[HUSK_PROCFD_LEN];
	char *text = NULL;
	size_t len;
	struct husk_error e = { 0 };
	if (husk_read_file_at(AT_FDCWD, husk_procfd(proc, fd), &text, &len, &e) < 0)
		text = NULL;
	close(fd);
	return text;
}

/* The id (field 2) and group (field 3) of name, or of the numeric id,
 * in a passwd/group file's text.  0 found, 1 not. */
static int lookup(const char *text, const char *name, long *id, long *gid)
{
	long want = -1;
	bool numeric = husk_parse_long(name, 0, UINT32_MAX, &want) == 0;
	for (const char *line = text; line && *line;) {
		const char *end = strchrnul(line, '\n');
		char buf[1024];
		snprintf(buf, sizeof(buf), "%.*s", (int)(end - line), line);
		line = *end ? end + 1 : end;
		char *f[4] = { 0 }, *p = buf;
		for (int i = 0; i < 4; i++) {
			f[i] = p;
			p = strchr(p, ':');
			if (!p)
				break;
			*p++ = '\0';
		}
		long u, g = 0;
		if (!f[2] || husk_parse_long(f[2], 0, UINT32_MAX, &u) < 0)
			continue;
		if (f[3])
			husk_parse_long(strsep(&f[3], ":"), 0, UINT32_MAX, &g);
		if (numeric ? u == want : strcmp(f[0], name) == 0) {
			*id = u;
			if (gid)
				*gid = g;
			return 0;
		}
	}
	return 1;
}

/* USER[:GROUP] (names or numbers) -> uid/gid, through the rootfs's
 * /etc/passwd and /etc/group as Docker does. */
static int resolve_user(int rootfd, const char *spec, long *uid, long *gid, struct husk_error *e)
{
	_cleanup_free_ char *u = xstrdup(spec);
	char *g = strchr(u, ':');
	if (g)
		*g++ = '\0';
	_cleanup_free_ char *passwd = rootfs_file(rootfd, "etc/passwd");
	_cleanup_free_ char *group = rootfs_file(rootfd, "etc/group");
	*gid = 0;
	if (passwd && lookup(passwd, u, uid, gid) == 0) {
		/* found */
	} else if (husk_parse_long(u, 0, UINT32_MAX, uid) < 0) {
		return husk_err(e, 0, "user \"%s\" is not in the image's /etc/passwd", u);
	}
	if (!g)
		return 0;
	if (husk_parse_long(g, 0, UINT32_MAX, gid) == 0)
		return 0;
	if (group && lookup(group, g, gid, NULL) == 0)
		return 0;
	return husk_err(e, 0, "group \"%s\" is not in the image's /etc/group", g);
}

/* Default env, each image variable replacing one of the same name. */
static json_t *merge_env(json_t *def, char **img)
{
	json_t *out = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(def, i, v) {
		const char *d = json_string_value(v);
		size_t k = strcspn(d, "=");
		bool over = false;
		for (char **p = img; p && *p; p++)
			over |= strncmp(*p, d, k) == 0 && (*p)[k] == '=';
		if (!over)
			json_array_append(out, v);
	}
	for (char **p = img; p && *p; p++)
		json_array_append_new(out, json_string(*p));
	return out;
}

static json_t *strv_json(char **v)
{
	json_t *a = json_array();
	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static int write_config(const struct husk_image_store *s, const struct husk_image *img, int dirfd,
			int rootfd, struct husk_error *e)
{
	_cleanup_free_ char *def = husk_spec_default_json(s->rootless);
	json_t *doc = json_loads(def, 0, NULL);
	if (s->mapped) {
		/* the owners the rootfs was made with */
		json_t *lx = json_object_get(doc, "linux");
		json_object_set_new(lx, "uidMappings", husk_idmap_json(s->uids, s->n_uids));
		json_object_set_new(lx, "gidMappings", husk_idmap_json(s->gids, s->n_gids));
	}
	json_t *proc = json_object_get(doc, "process");
	json_t *args = strv_json(img->entrypoint);
	json_t *cmd = strv_json(img->cmd);
	json_array_extend(args, cmd);
	json_decref(cmd);
	if (json_array_size(args) == 0)
		json_array_append_new(args, json_string("sh"));
	json_object_set_new(proc, "args", args);
	json_object_set_new(proc, "env", merge_env(json_object_get(proc, "env"), img->env));
	const char *wd = img->workdir && *img->workdir ? img->workdir : "/";
	json_object_set_new(proc, "cwd", *wd == '/' ? json_string(wd) : json_sprintf("/%s", wd));
	/* an image's process is not interactive unless asked */
	json_object_set_new(proc, "terminal", json_false());
	if (img->user && *img->user) {
		long uid, gid;
		if (resolve_user(rootfd, img->user, &uid, &gid, e) < 0) {
			json_decref(doc);
			return -1;
		}
		json_object_set_new(proc, "user", json_pack("{s:I, s:I}", "uid", (json_int_t)uid, "gid",
							    (json_int_t)gid));
	}
	_cleanup_free_ char *text = json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	return husk_write_file_atomic_at(dirfd, "config.json", text, strlen(text), 0644, e);
}

struct unpack_call {
	struct husk_image_store *s;
	const struct husk_image *img;
	int dirfd;
};

static int unpack_into(struct husk_image_store *s, const struct husk_image *img, int dirfd,
		       struct husk_error *e);

static int unpack_fn(void *arg, struct husk_error *e)
{
	struct unpack_call *x = arg;
	return unpack_into(x->s, x->img, x->dirfd, e);
}

/* dir: created, or an existing empty directory.  *created tells which. */
static int open_bundle(const char *dir, bool *created, struct husk_error *e)
{
	*created = mkdir(dir, 0755) == 0;
	if (!*created && errno != EEXIST)
		return husk_errno(e, "create %s", dir);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return husk_errno(e, "open %s", dir);
	struct stat st;
	if (!*created && (fstatat(fd, "rootfs", &st, AT_SYMLINK_NOFOLLOW) == 0 ||
			  fstatat(fd, "config.json", &st, AT_SYMLINK_NOFOLLOW) == 0)) {
		close(fd);
		return husk_err(e, EEXIST, "%s: already holds a bundle", dir);
	}
	return fd;
}

static int unpack_into(struct husk_image_store *s, const struct husk_image *img, int dirfd,
		       struct husk_error *e)
{
	/* The layers' files may belong to subordinate ids: they are copied
	 * (owners kept) by root of the mapped user namespace. */
	if (s->mapped && geteuid() != 0) {
		struct unpack_call x = { s, img, dirfd };
		return husk_userns_call(unpack_fn, &x, NULL, 0, e);
	}
	if (mkdirat(dirfd, "rootfs", 0755) < 0)
		return husk_errno(e, "create rootfs");
	_cleanup_fd_ int rootfd = openat(dirfd, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (rootfd < 0)
		return husk_errno(e, "open rootfs");
	for (size_t i = 0; i < img->nlayers; i++) {
		_cleanup_fd_ int lfd = open(img->layer_dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (lfd < 0)
			return husk_errno(e, "layer %.12s", img->chain_ids[i]);
		if (husk_vfs_apply(lfd, rootfd, s->rootless, e) < 0)
			return husk_err_wrap(e, "layer %.12s", img->chain_ids[i]);
	}
	return write_config(s, img, dirfd, rootfd, e);
}

int husk_image_unpack(struct husk_image_store *s, const char *ref, const char *dir,
		      struct husk_error *e)
{
	struct husk_image *img = NULL;
	/* shared: rm and prune wait until the copy is done */
	if (husk_image_store_lock(s, false, e) < 0)
		return -1;
	int r = husk_image_get(s, ref, &img, e);
	bool created = false;
	_cleanup_fd_ int dirfd = r < 0 ? -1 : open_bundle(dir, &created, e);
	if (dirfd < 0)
		r = -1;
	if (r == 0 && unpack_into(s, img, dirfd, e) < 0) {
		struct husk_error ig = { 0 };
		husk_store_rm_at(s, dirfd, "rootfs", &ig);
		unlinkat(dirfd, "config.json", 0);
		if (created)
			rmdir(dir);
		r = -1;
	}
	husk_image_store_unlock(s);
	husk_image_free(img);
	return r;
}
