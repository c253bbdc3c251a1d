/* The store's layout, lock, temp dirs, name index and image records. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image_internal.h"
#include "json_get.h"
#include "log.h"
#include "rootless.h"
#include "util.h"

char *husk_image_default_root(void)
{
	if (geteuid() == 0)
		return xstrdup("/var/lib/husk");
	const char *xdg = getenv("XDG_DATA_HOME");
	if (xdg && *xdg == '/')
		return xasprintf("%s/husk", xdg);
	const char *home = getenv("HOME");
	return xasprintf("%s/.local/share/husk", home && *home ? home : "/tmp");
}

const char *husk_image_opaque_xattr(const struct husk_image_store *s)
{
	/* overlayfs mounted in a user namespace (userxattr) reads user.* */
	return s->rootless ? "user.overlay.opaque" : "trusted.overlay.opaque";
}

int husk_store_rm(struct husk_image_store *s, const char *rel, struct husk_error *e)
{
	return husk_store_rm_at(s, s->dirfd, rel, e);
}

int husk_store_rm_at(struct husk_image_store *s, int dirfd, const char *name,
		     struct husk_error *e)
{
	/* What the plain removal could not take belongs to subordinate ids:
	 * root of the mapped namespace removes the rest. */
	if (husk_rm_tree_at(dirfd, name, e) < 0 &&
	    (!s->mapped || (e->errnum != EACCES && e->errnum != EPERM) ||
	     husk_rm_rf_mapped(dirfd, name, e) < 0))
		return -1;
	return 0;
}

/* rm -rf that first gives a directory u+rwx when it cannot be read or
 * emptied (a layer's 0555 or 0000 directories, rootless). */
int husk_rm_tree_at(int dirfd, const char *name, struct husk_error *e)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return husk_errno(e, "remove %s", name);
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : husk_errno(e, "stat %s", name);
	if (!S_ISDIR(st.st_mode))
		return husk_err(e, EPERM, "remove %s", name);
	if ((st.st_mode & 0700) != 0700)
		fchmodat(dirfd, name, (st.st_mode & 07777) | 0700, 0);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return husk_errno(e, "open %s", name);
	_cleanup_dir_ DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return husk_errno(e, "open %s", name);
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (husk_rm_tree_at(fd, de->d_name, e) < 0)
			return husk_err_wrap(e, "%s", name);
	}
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return husk_errno(e, "remove %s", name);
	return 0;
}

int husk_image_store_lock(struct husk_image_store *s, bool exclusive, struct husk_error *e)
{
	while (flock(s->lockfd, exclusive ? LOCK_EX : LOCK_SH) < 0)
		if (errno != EINTR)
			return husk_errno(e, "lock %s/lock", s->root);
	return 0;
}

void husk_image_store_unlock(struct husk_image_store *s)
{
	flock(s->lockfd, LOCK_UN);
}

/* Remove what dead operations left in tmp/: a directory whose .lock
 * nobody holds (or that has none: tmp dirs get theirs under the store
 * lock, which we hold). */
static void clean_tmp(struct husk_image_store *s)
{
	_cleanup_fd_ int tfd = openat(s->dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0)
		return;
	_cleanup_dir_ DIR *d = fdopendir(dup(tfd));
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_free_ char *lock = xasprintf("%s/.lock", de->d_name);
		_cleanup_fd_ int lfd = openat(tfd, lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) < 0)
			continue; /* a live import */
		struct husk_error e = { 0 };
		husk_debug("image store: removing stale tmp/%s", de->d_name);
		if (husk_store_rm_at(s, tfd, de->d_name, &e) < 0) {
			char buf[HUSK_ERR_MSG_MAX + 128];
			husk_warn("image store: %s", husk_err_str(&e, buf, sizeof(buf)));
		}
	}
}

int husk_image_store_open(const char *root, struct husk_image_store *s, struct husk_error *e)
{
	*s = (struct husk_image_store){ .dirfd = -1, .lockfd = -1, .rootless = geteuid() != 0 };
	s->root = root ? xstrdup(root) : husk_image_default_root();
	if (s->rootless && husk_rootless_has_subids(NULL)) {
		s->mapped = true;
		s->n_uids = husk_rootless_mapping(false, s->uids);
		s->n_gids = husk_rootless_mapping(true, s->gids);
	}
	if (husk_mkdir_p(s->root, 0711, e) < 0)
		goto fail;
	s->dirfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		husk_errno(e, "open %s", s->root);
		goto fail;
	}
	static const char *const dirs[] = { "blobs", "blobs/sha256", "layers", "images", "tmp" };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		if (mkdirat(s->dirfd, dirs[i], 0700) < 0 && errno != EEXIST) {
			husk_errno(e, "create %s/%s", s->root, dirs[i]);
			goto fail;
		}
	}
	/* layers/ must be traversable: overlay lowerdirs are looked up with
	 * the mounter's credentials, which in a user namespace are not ours. */
	fchmodat(s->dirfd, "layers", 0711, 0);
	s->lockfd = openat(s->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lockfd < 0) {
		husk_errno(e, "open %s/lock", s->root);
		goto fail;
	}
	/* Only when the store is idle: a box holding it shared (this
	 * process's own, on a failure path, included) is not waited for. */
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) == 0) {
		clean_tmp(s);
		husk_image_store_unlock(s);
	}
	return 0;
fail:
	husk_image_store_close(s);
	return -1;
}

void husk_image_store_close(struct husk_image_store *s)
{
	husk_closep(&s->lockfd);
	husk_closep(&s->dirfd);
	free(s->root);
	s->root = NULL;
}

int husk_tmp_create(struct husk_image_store *s, struct husk_tmp *t, struct husk_error *e)
{
	t->fd = t->lockfd = -1;
	for (int tries = 0; tries < 100; tries++) {
		snprintf(t->name, sizeof(t->name), "tmp/%d-%08x", (int)getpid(),
			 (unsigned)(husk_now_ns() ^ (uint64_t)rand()));
		if (mkdirat(s->dirfd, t->name, 0700) == 0)
			break;
		if (errno != EEXIST)
			return husk_errno(e, "create %s/%s", s->root, t->name);
	}
	t->fd = openat(s->dirfd, t->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (t->fd >= 0)
		t->lockfd = openat(t->fd, ".lock", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (t->lockfd < 0 || flock(t->lockfd, LOCK_EX | LOCK_NB) < 0) {
		husk_errno(e, "create %s/%s", s->root, t->name);
		husk_tmp_remove(s, t);
		return -1;
	}
	return 0;
}

void husk_tmp_remove(struct husk_image_store *s, struct husk_tmp *t)
{
	if (!t->name[0])
		return;
	struct husk_error e = { 0 };
	if (husk_store_rm_at(s, s->dirfd, t->name, &e) < 0) {
		char buf[HUSK_ERR_MSG_MAX + 128];
		husk_warn("image store: %s", husk_err_str(&e, buf, sizeof(buf)));
	}
	husk_closep(&t->fd);
	husk_closep(&t->lockfd);
	t->name[0] = '\0';
}

bool husk_store_exists(struct husk_image_store *s, const char *rel)
{
	struct stat st;
	return fstatat(s->dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int husk_store_read_json(struct husk_image_store *s, const char *rel, json_t **out,
			 struct husk_error *e)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	if (husk_read_file_at(s->dirfd, rel, &text, &len, e) < 0)
		return husk_err_wrap(e, "%s", s->root);
	json_error_t je;
	*out = json_loadb(text, len, 0, &je);
	if (!*out)
		return husk_err(e, 0, "%s/%s: %s", s->root, rel, je.text);
	return 0;
}

int husk_names_read(struct husk_image_store *s, json_t **out, struct husk_error *e)
{
	if (!husk_store_exists(s, "names.json")) {
		*out = json_object();
		return 0;
	}
	if (husk_store_read_json(s, "names.json", out, e) < 0)
		return -1;
	if (!json_is_object(*out)) {
		json_decref(*out);
		return husk_err(e, 0, "%s/names.json: not an object", s->root);
	}
	return 0;
}

int husk_names_write(struct husk_image_store *s, json_t *names, struct husk_error *e)
{
	_cleanup_free_ char *text = json_dumps(names, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (!text)
		return husk_err(e, ENOMEM, "names.json");
	if (husk_write_file_atomic_at(s->dirfd, "names.json", text, strlen(text), 0600, e) < 0)
		return husk_err_wrap(e, "%s", s->root);
	return 0;
}

/* A JSON member that is an array of strings, or absent/null. */
static int opt_strv(json_t *obj, const char *parent, const char *key, char ***out,
		    struct husk_error *e)
{
	json_t *v = sj_get(obj, key);
	char path[SJ_PATH_MAX];
	size_t n;
	return v ? sj_strv(v, sj_path(path, parent, key), out, &n, e) : 0;
}

int husk_image_parse_config(json_t *cfg, struct husk_image *img, struct husk_error *e)
{
	if (sj_object(cfg, "config", e) < 0 ||
	    sj_opt_string(cfg, "", "created", &img->created, e) < 0 ||
	    sj_opt_string(cfg, "", "os", &img->os, e) < 0 ||
	    sj_opt_string(cfg, "", "architecture", &img->arch, e) < 0)
		return -1;
	json_t *c = sj_get(cfg, "config");
	if (!c)
		return 0;
	if (sj_object(c, "config", e) < 0 || opt_strv(c, "config", "Entrypoint", &img->entrypoint, e) < 0 ||
	    opt_strv(c, "config", "Cmd", &img->cmd, e) < 0 || opt_strv(c, "config", "Env", &img->env, e) < 0 ||
	    sj_opt_string(c, "config", "WorkingDir", &img->workdir, e) < 0 ||
	    sj_opt_string(c, "config", "User", &img->user, e) < 0)
		return -1;
	return 0;
}

void husk_image_free(struct husk_image *img)
{
	if (!img)
		return;
	husk_strv_free(img->names);
	husk_strv_free(img->entrypoint);
	husk_strv_free(img->cmd);
	husk_strv_free(img->env);
	free(img->workdir);
	free(img->user);
	free(img->created);
	free(img->os);
	free(img->arch);
	for (size_t i = 0; i < img->nlayers; i++)
		free(img->layer_dirs[i]);
	free(img->layer_dirs);
	free(img->chain_ids);
	free(img);
}

/* The names that point at id, from the index. */
static char **names_of(json_t *names, const char *id)
{
	size_t n = 0;
	char **v = xcalloc(json_object_size(names) + 1, sizeof(char *));
	const char *k;
	json_t *val;
	json_object_foreach(names, k, val) {
		if (json_is_string(val) && strcmp(json_string_value(val), id) == 0)
			v[n++] = xstrdup(k);
	}
	return v;
}

static int load_layers(struct husk_image_store *s, json_t *rec, struct husk_image *img,
		       struct husk_error *e)
{
	json_t *layers = sj_get(rec, "layers");
	if (!json_is_array(layers))
		return husk_err(e, 0, "image %.12s: image.json: layers: expected an array", img->id);
	img->nlayers = json_array_size(layers);
	img->layer_dirs = xcalloc(img->nlayers + 1, sizeof(char *));
	img->chain_ids = xcalloc(img->nlayers + 1, sizeof(*img->chain_ids));
	for (size_t i = 0; i < img->nlayers; i++) {
		const char *c = json_string_value(json_array_get(layers, i));
		if (!c || !husk_hex_valid(c))
			return husk_err(e, 0, "image %.12s: image.json: layers[%zu]: not a chain id", img->id, i);
		memcpy(img->chain_ids[i], c, HUSK_HEX_LEN + 1);
		img->layer_dirs[i] = xasprintf("%s/layers/%s/diff", s->root, c);
	}
	return 0;
}

/* The image record and its config blob; names from the index. */
static int image_load(struct husk_image_store *s, const char *id, json_t *names,
		      struct husk_image **out, struct husk_error *e)
{
	struct husk_image *img = xcalloc(1, sizeof(*img));
	memcpy(img->id, id, HUSK_HEX_LEN + 1);
	_cleanup_free_ char *rel = xasprintf("images/%s/image.json", id);
	_cleanup_free_ char *blob = xasprintf("blobs/sha256/%s", id);
	json_t *rec = NULL, *cfg = NULL;
	int r = -1;
	if (husk_store_read_json(s, rel, &rec, e) < 0 || husk_store_read_json(s, blob, &cfg, e) < 0)
		goto out;
	if (load_layers(s, rec, img, e) < 0)
		goto out;
	json_t *size = sj_get(rec, "size");
	img->size = json_is_integer(size) ? (uint64_t)json_integer_value(size) : 0;
	if (husk_image_parse_config(cfg, img, e) < 0) {
		husk_err_wrap(e, "image %.12s: config", id);
		goto out;
	}
	img->names = names_of(names, id);
	*out = img;
	img = NULL;
	r = 0;
out:
	json_decref(rec);
	json_decref(cfg);
	husk_image_free(img);
	return r;
}

/* Ids of every image record, by scanning images/. */
static char **image_ids(struct husk_image_store *s)
{
	size_t n = 0, cap = 8;
	char **v = xcalloc(cap, sizeof(char *));
	int fd = openat(s->dirfd, "images", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		husk_closep(&fd);
		return v;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!husk_hex_valid(de->d_name))
			continue;
		if (n + 2 > cap)
			v = xrealloc(v, (cap *= 2) * sizeof(char *));
		v[n++] = xstrdup(de->d_name);
		v[n] = NULL;
	}
	closedir(d);
	return v;
}

/* An id ("sha256:" optional) or a unique prefix of one (>= 4 hex). */
static int resolve_id(struct husk_image_store *s, const char *ref, char *id, struct husk_error *e)
{
	const char *h = strncmp(ref, "sha256:", 7) == 0 ? ref + 7 : ref;
	size_t n = strlen(h);
	if (n < 4 || n > HUSK_HEX_LEN || strspn(h, "0123456789abcdef") != n)
		return 1;
	_cleanup_strv_ char **ids = image_ids(s);
	int found = 0;
	for (char **p = ids; *p; p++) {
		if (strncmp(*p, h, n) == 0) {
			if (found++)
				return husk_err(e, 0, "image id %s is ambiguous", ref);
			memcpy(id, *p, HUSK_HEX_LEN + 1);
		}
	}
	return found ? 0 : 1;
}

/* A name as given, or one that only lacks the registry/namespace a
 * stored name has ("busybox" for "docker.io/library/busybox"), when only
 * one stored name matches so. */
static int resolve_name(json_t *names, const char *norm, char *id, struct husk_error *e)
{
	json_t *v = json_object_get(names, norm);
	const char *hit = json_string_value(v);
	if (!hit) {
		size_t n = strlen(norm);
		const char *k;
		json_t *val;
		json_object_foreach(names, k, val) {
			size_t kl = strlen(k);
			if (kl > n && k[kl - n - 1] == '/' && strcmp(k + kl - n, norm) == 0) {
				if (hit && strcmp(hit, json_string_value(val)) != 0)
					return husk_err(e, 0, "image name %s is ambiguous (%s, ...)", norm, k);
				hit = json_string_value(val);
			}
		}
	}
	if (!hit || !husk_hex_valid(hit))
		return 1;
	memcpy(id, hit, HUSK_HEX_LEN + 1);
	return 0;
}

int husk_image_resolve(struct husk_image_store *s, const char *ref, char *id, struct husk_error *e)
{
	json_t *names;
	if (husk_names_read(s, &names, e) < 0)
		return -1;
	const char *msg = NULL;
	_cleanup_free_ char *norm = NULL;
	int r = 1;
	if (husk_ref_normalize(ref, &norm, &msg) == 0)
		r = resolve_name(names, norm, id, e);
	json_decref(names);
	if (r == 1)
		r = resolve_id(s, ref, id, e);
	if (r == 1) {
		if (msg && !strchr(ref, '@') && strspn(ref, "0123456789abcdef") != strlen(ref))
			return husk_err(e, 0, "%s: %s", ref, msg);
		return husk_err(e, ENOENT, "image %s", ref);
	}
	return r;
}

int husk_image_get(struct husk_image_store *s, const char *ref, struct husk_image **out,
		   struct husk_error *e)
{
	char id[HUSK_HEX_LEN + 1];
	json_t *names;
	if (husk_image_resolve(s, ref, id, e) < 0 || husk_names_read(s, &names, e) < 0)
		return -1;
	int r = image_load(s, id, names, out, e);
	json_decref(names);
	return r;
}

static int by_created(const void *a, const void *b)
{
	const struct husk_image *x = *(struct husk_image *const *)a, *y = *(struct husk_image *const *)b;
	return -strcmp(x->created ? x->created : "", y->created ? y->created : "");
}

int husk_image_list(struct husk_image_store *s, struct husk_image ***out, size_t *n,
		    struct husk_error *e)
{
	json_t *names;
	if (husk_names_read(s, &names, e) < 0)
		return -1;
	_cleanup_strv_ char **ids = image_ids(s);
	size_t cnt = husk_strv_len(ids);
	struct husk_image **v = xcalloc(cnt + 1, sizeof(*v));
	*n = 0;
	for (size_t i = 0; i < cnt; i++) {
		if (image_load(s, ids[i], names, &v[*n], e) < 0) {
			json_decref(names);
			husk_image_list_free(v, *n);
			return -1;
		}
		(*n)++;
	}
	json_decref(names);
	qsort(v, *n, sizeof(*v), by_created);
	*out = v;
	return 0;
}

void husk_image_list_free(struct husk_image **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		husk_image_free(v[i]);
	free(v);
}
