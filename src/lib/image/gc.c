/* Who uses an image, removing images and names, pruning layers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container.h"
#include "image_internal.h"
#include "json_get.h"
#include "util.h"

int husk_image_use_add(struct husk_image_store *s, const char *image_id, const char *container_id,
		       const char *state_dir, struct husk_error *e)
{
	if (husk_validate_id(container_id, e) < 0)
		return -1;
	_cleanup_free_ char *dir = xasprintf("images/%s/users", image_id);
	if (mkdirat(s->dirfd, dir, 0700) < 0 && errno != EEXIST)
		return husk_errno(e, "%s/%s", s->root, dir);
	_cleanup_fd_ int fd = openat(s->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return husk_errno(e, "%s/%s", s->root, dir);
	return husk_write_file_atomic_at(fd, container_id, state_dir, strlen(state_dir), 0600, e);
}

int husk_image_use_remove(struct husk_image_store *s, const char *image_id,
			  const char *container_id, struct husk_error *e)
{
	if (husk_validate_id(container_id, e) < 0)
		return -1;
	_cleanup_free_ char *rel = xasprintf("images/%s/users/%s", image_id, container_id);
	if (unlinkat(s->dirfd, rel, 0) < 0 && errno != ENOENT)
		return husk_errno(e, "%s/%s", s->root, rel);
	return 0;
}

int husk_image_users(struct husk_image_store *s, const char *image_id, char ***out,
		     struct husk_error *e)
{
	(void)e;
	size_t n = 0;
	char **v = xcalloc(1, sizeof(char *));
	_cleanup_free_ char *dir = xasprintf("images/%s/users", image_id);
	int fd = openat(s->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d)
		husk_closep(&fd);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *state = NULL;
		size_t len;
		struct husk_error ig = { 0 };
		struct stat st;
		/* a container deleted without saying so is not a user */
		if (husk_read_file_at(fd, de->d_name, &state, &len, &ig) < 0 || stat(state, &st) < 0)
			continue;
		v = xrealloc(v, (n + 2) * sizeof(char *));
		v[n++] = xstrdup(de->d_name);
		v[n] = NULL;
	}
	if (d)
		closedir(d);
	*out = v;
	return 0;
}

static int remove_image_locked(struct husk_image_store *s, json_t *names, const char *id,
			       bool force, struct husk_error *e)
{
	_cleanup_strv_ char **users = NULL;
	if (husk_image_users(s, id, &users, e) < 0)
		return -1;
	if (users[0] && !force)
		return husk_err(e, EBUSY, "image %.12s is used by container %s%s (-f removes it anyway)",
				id, users[0], users[1] ? " and others" : "");
	/* names first: a failure after leaves an unnamed record, not a name
	 * pointing nowhere */
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(names, tmp, k, v)
		if (!strcmp(json_string_value(v) ? json_string_value(v) : "", id))
			json_object_del(names, k);
	if (husk_names_write(s, names, e) < 0)
		return -1;
	_cleanup_free_ char *rel = xasprintf("images/%s", id);
	return husk_store_rm(s, rel, e);
}

int husk_image_remove(struct husk_image_store *s, const char *ref, bool force, char **what,
		      struct husk_error *e)
{
	char id[HUSK_HEX_LEN + 1];
	json_t *names = NULL;
	_cleanup_free_ char *norm = NULL;
	int r = -1;
	if (husk_image_store_lock(s, true, e) < 0)
		return -1;
	if (husk_image_resolve(s, ref, id, e) < 0 || husk_names_read(s, &names, e) < 0)
		goto out;
	/* By name, with other names left: only the name goes ("untag"). */
	const char *msg;
	size_t count = 0;
	const char *k;
	json_t *v;
	json_object_foreach(names, k, v)
		count += !strcmp(json_string_value(v) ? json_string_value(v) : "", id);
	if (husk_ref_normalize(ref, &norm, &msg) == 0 && count > 1 &&
	    !strcmp(json_string_value(json_object_get(names, norm)) ?: "", id)) {
		json_object_del(names, norm);
		r = husk_names_write(s, names, e);
		if (r == 0)
			*what = xasprintf("Untagged: %s", norm);
		goto out;
	}
	r = remove_image_locked(s, names, id, force, e);
	if (r == 0)
		*what = xasprintf("Deleted: sha256:%s", id);
out:
	json_decref(names);
	husk_image_store_unlock(s);
	return r;
}

/* Names in dir (under the root) that are 64-hex. */
static char **hex_entries(struct husk_image_store *s, const char *dir)
{
	size_t n = 0;
	char **v = xcalloc(1, sizeof(char *));
	int fd = openat(s->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d)
		husk_closep(&fd);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (!husk_hex_valid(de->d_name))
			continue;
		v = xrealloc(v, (n + 2) * sizeof(char *));
		v[n++] = xstrdup(de->d_name);
		v[n] = NULL;
	}
	if (d)
		closedir(d);
	return v;
}

static bool in(json_t *set, const char *k)
{
	return json_object_get(set, k) != NULL;
}

/* Layers and blobs the image records reference, as sets. */
static int referenced(struct husk_image_store *s, json_t *layers, json_t *blobs,
		      struct husk_error *e)
{
	_cleanup_strv_ char **ids = hex_entries(s, "images");
	for (char **id = ids; *id; id++) {
		_cleanup_free_ char *rel = xasprintf("images/%s/image.json", *id);
		json_t *rec;
		if (husk_store_read_json(s, rel, &rec, e) < 0)
			return -1;
		json_object_set_new(blobs, *id, json_true());
		char hex[HUSK_HEX_LEN + 1];
		if (husk_digest_parse(json_string_value(sj_get(rec, "manifest")), hex))
			json_object_set_new(blobs, hex, json_true());
		size_t i;
		json_t *l;
		json_array_foreach(sj_get(rec, "layers"), i, l)
			if (json_is_string(l))
				json_object_set_new(layers, json_string_value(l), json_true());
		json_decref(rec);
	}
	return 0;
}

static uint64_t tree_bytes(int dirfd, const char *name)
{
	_cleanup_free_ char *rel = xasprintf("%s/layer.json", name);
	_cleanup_free_ char *text = NULL;
	size_t len;
	struct husk_error e = { 0 };
	if (husk_read_file_at(dirfd, rel, &text, &len, &e) < 0)
		return 0;
	json_t *o = json_loadb(text, len, 0, NULL);
	json_t *sz = sj_get(o, "size");
	uint64_t n = json_is_integer(sz) ? (uint64_t)json_integer_value(sz) : 0;
	json_decref(o);
	return n;
}

static int prune_locked(struct husk_image_store *s, json_t *layers, json_t *blobs, size_t *nlayers,
			uint64_t *bytes, struct husk_error *e)
{
	if (referenced(s, layers, blobs, e) < 0 || husk_image_copies_prune(s, e) < 0)
		return -1;
	_cleanup_strv_ char **ls = hex_entries(s, "layers");
	for (char **l = ls; *l; l++) {
		if (in(layers, *l))
			continue;
		_cleanup_free_ char *rel = xasprintf("layers/%s", *l);
		*bytes += tree_bytes(s->dirfd, rel);
		if (husk_store_rm(s, rel, e) < 0)
			return -1;
		(*nlayers)++;
	}
	_cleanup_strv_ char **bs = hex_entries(s, "blobs/sha256");
	for (char **b = bs; *b; b++) {
		_cleanup_free_ char *rel = xasprintf("blobs/sha256/%s", *b);
		if (!in(blobs, *b) && unlinkat(s->dirfd, rel, 0) < 0 && errno != ENOENT)
			return husk_errno(e, "remove %s/%s", s->root, rel);
	}
	return 0;
}

int husk_image_prune(struct husk_image_store *s, size_t *nlayers, uint64_t *bytes,
		     struct husk_error *e)
{
	*nlayers = 0;
	*bytes = 0;
	if (husk_image_store_lock(s, true, e) < 0)
		return -1;
	json_t *layers = json_object(), *blobs = json_object();
	int r = prune_locked(s, layers, blobs, nlayers, bytes, e);
	husk_image_store_unlock(s);
	json_decref(layers);
	json_decref(blobs);
	return r;
}
