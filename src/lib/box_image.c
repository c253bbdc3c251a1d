/* husk box IMAGE: an image of the store (image.h) as the box's root.  The
 * store stays locked from the lookup until the container's root exists
 * and its use is recorded (root_ready), so no `image rm` or `prune` can
 * take the layers in between; `image rm` refuses while the record's state
 * directory exists, and delete (or box's own end) removes the record.
 * A vfs copy of the image lives in the store too (containers/<id>, next to
 * the layers, so it can share their extents), made under the same lock
 * and removed with the record. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "box_internal.h"
#include "image/image.h"
#include "storage.h"
#include "sys.h"
#include "util.h"

/* The state file naming the store and the image, for delete. */
#define IMAGE_FILE "image"

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int open_layers(struct box *b, struct husk_error *e)
{
	const struct husk_image *img = b->img;
	if (!img->nlayers)
		return husk_err(e, 0, "image %.12s has no layers", img->id);
	b->layerfds = xcalloc(img->nlayers, sizeof(int));
	for (size_t i = 0; i < img->nlayers; i++)
		b->layerfds[i] = -1;
	b->n_layerfds = img->nlayers;
	for (size_t i = 0; i < img->nlayers; i++) {
		b->layerfds[i] = open(img->layer_dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (b->layerfds[i] < 0)
			return husk_err(e, errno,
					"image %.12s: layer %.12s missing from the store (import the image again)",
					img->id, img->chain_ids[i]);
	}
	return 0;
}

int box_image_open(struct box *b, struct husk_error *e)
{
	const char *ref = b->o->rootfs;
	_cleanup_free_ char *root = b->o->storage_root ? xstrdup(b->o->storage_root)
						       : husk_image_default_root();
	/* A failed box leaves nothing: no store is made to look in. */
	if (!is_dir(root))
		return husk_err(e, 0, "%s: no such directory, nor an image (no image store at %s)", ref,
				root);
	/* absolute: delete (from anywhere) finds the record by it */
	_cleanup_free_ char *abs = realpath(root, NULL);
	if (!abs)
		return husk_errno(e, "image store %s", root);
	b->store = xcalloc(1, sizeof(*b->store));
	if (husk_image_store_open(abs, b->store, e) < 0) {
		free(b->store);
		b->store = NULL;
		return -1;
	}
	/* shared: boxes start side by side; an image's removal waits until
	 * this one's use is recorded */
	if (husk_image_store_lock(b->store, false, e) < 0)
		return -1;
	b->store_locked = true;
	if (husk_image_get(b->store, ref, &b->img, e) < 0) {
		if (e->errnum == ENOENT)
			return husk_err(e, 0, "%s: no such directory, nor an image in %s", ref, root);
		return -1;
	}
	if (open_layers(b, e) < 0)
		return -1;
	box_add_file(b, IMAGE_FILE, xasprintf("%s\n%s\n", b->store->root, b->img->id));
	return 0;
}

void box_image_close(struct box *b)
{
	for (size_t i = 0; i < b->n_layerfds; i++)
		husk_closep(&b->layerfds[i]);
	free(b->layerfds);
	husk_image_free(b->img);
	if (b->store_locked)
		husk_image_store_unlock(b->store);
	if (b->store)
		husk_image_store_close(b->store);
	free(b->store);
	free(b->image_root);
}

int box_image_ready(void *arg, struct husk_error *e)
{
	struct box *b = arg;
	if (husk_image_use_add(b->store, b->img->id, b->id, b->state_dir, e) < 0)
		return husk_err_wrap(e, "image %.12s", b->img->id);
	husk_image_store_unlock(b->store);
	b->store_locked = false;
	return 0;
}

int box_image_root_dir(void *arg, const char *state_dir, char **dir, struct husk_error *e)
{
	struct box *b = arg;
	return husk_image_copy_make(b->store, b->id, state_dir, dir, e);
}

int box_root_open(const struct box *b, const char *path, int flags)
{
	if (b->img)
		return husk_layers_open(b->layerfds, b->n_layerfds,
					husk_image_opaque_xattr(b->store), path, flags);
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC),
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	int fd = (int)syscall(SYS_openat2, b->rootfd, path, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

void husk_box_image_forget(int rootfd, const char *id)
{
	_cleanup_free_ char *rel = xasprintf("%s/" IMAGE_FILE, id), *text = NULL;
	struct husk_error ignored = { 0 };
	size_t len;
	if (husk_read_file_at(rootfd, rel, &text, &len, &ignored) < 0)
		return;
	char *nl = strchr(text, '\n');
	if (!nl)
		return;
	*nl = '\0';
	const char *image_id = nl + 1;
	if ((nl = strchr(image_id, '\n')))
		*nl = '\0';
	if (strlen(image_id) != HUSK_HEX_LEN || strspn(image_id, "0123456789abcdef") != HUSK_HEX_LEN)
		return;
	char self[HUSK_PROCFD_LEN];
	_cleanup_free_ char *real = realpath(husk_procfd(self, rootfd), NULL);
	_cleanup_free_ char *state = real ? xasprintf("%s/%s", real, id) : NULL;
	/* No record: the create failed before it, and its box may still
	 * hold the store's lock; its vfs copy, if it got that far, is removed
	 * without taking it. */
	_cleanup_free_ char *rec = xasprintf("%s/images/%s/users/%s", text, image_id, id);
	struct stat st;
	if (lstat(rec, &st) < 0) {
		_cleanup_fd_ int sfd = open(text, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd >= 0 && state)
			husk_image_copy_remove(sfd, id, state, &ignored);
		return;
	}
	struct husk_image_store s;
	if (husk_image_store_open(text, &s, &ignored) < 0)
		return;
	if (husk_image_store_lock(&s, false, &ignored) == 0) {
		husk_image_use_remove(&s, image_id, id, &ignored);
		/* a copy left by a failure here goes with prune */
		if (state)
			husk_image_copy_remove(s.dirfd, id, state, &ignored);
		husk_image_store_unlock(&s);
	}
	husk_image_store_close(&s);
}
