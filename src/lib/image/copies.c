/* Containers' own directories in the store: containers/<container id>/
 * holds a vfs copy of its image (rootfs/), next to the layers so that
 * reflinks can share their extents (a state root on tmpfs could not, and
 * would hold the copy in memory), and "state", the container's state
 * directory.  It goes with the container (husk_box_image_forget); one
 * whose state directory is gone is removed by prune. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container.h"
#include "image_internal.h"
#include "rootless.h"
#include "util.h"

#define COPIES "containers"
#define STATE_FILE "state"

/* The state directory containers/<id> names (NULL when unreadable). */
static char *copy_state(int copiesfd, const char *id)
{
	_cleanup_free_ char *rel = xasprintf("%s/" STATE_FILE, id);
	char *text = NULL;
	size_t len;
	struct husk_error ignored = { 0 };
	if (husk_read_file_at(copiesfd, rel, &text, &len, &ignored) < 0)
		return NULL;
	return text;
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 || errno != ENOENT;
}

/* rm -rf; rootless, files of the subordinate ids (chowned in the
 * container) from inside a user namespace mapping them. */
static int remove_copy(int copiesfd, const char *id, struct husk_error *e)
{
	if (husk_rm_tree_at(copiesfd, id, e) == 0)
		return 0;
	if (geteuid() == 0 || (e->errnum != EACCES && e->errnum != EPERM))
		return -1;
	husk_err_clear(e);
	return husk_rm_rf_mapped(copiesfd, id, e);
}

/* Move tmp (a copy with its state file) to id; one left by a container
 * of this id whose state directory is gone is replaced. */
static int copy_place(int cfd, const char *tmp, const char *id, const char *state_dir,
		      struct husk_error *e)
{
	for (int tries = 0; tries < 3; tries++) {
		if (renameat2(cfd, tmp, cfd, id, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			break;
		_cleanup_free_ char *other = copy_state(cfd, id);
		if (other && strcmp(other, state_dir) != 0 && exists(other))
			return husk_err(e, EEXIST, "in use by container %s of %s", id, other);
		if (remove_copy(cfd, id, e) < 0)
			return husk_err_wrap(e, "replace it");
	}
	return husk_errno(e, "rename %s", tmp);
}

int husk_image_copy_make(struct husk_image_store *s, const char *id, const char *state_dir,
			 char **dir, struct husk_error *e)
{
	if (husk_validate_id(id, e) < 0)
		return -1;
	if (mkdirat(s->dirfd, COPIES, 0700) < 0 && errno != EEXIST)
		return husk_errno(e, "create %s/" COPIES, s->root);
	_cleanup_fd_ int cfd = openat(s->dirfd, COPIES, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cfd < 0)
		return husk_errno(e, "open %s/" COPIES, s->root);
	/* Made under a name of its own with its state file, then renamed:
	 * boxes hold the store's lock shared, and another box of this id
	 * never finds a copy without its owner. */
	char tmp[64];
	snprintf(tmp, sizeof(tmp), ".new-%d-%016llx", (int)getpid(),
		 (unsigned long long)husk_now_ns());
	if (mkdirat(cfd, tmp, 0700) < 0)
		return husk_errno(e, "create %s/" COPIES "/%s", s->root, tmp);
	_cleanup_fd_ int fd = openat(cfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r = fd < 0 ? husk_errno(e, "open %s", tmp)
		       : husk_write_file_atomic_at(fd, STATE_FILE, state_dir, strlen(state_dir), 0600, e);
	if (r < 0 || copy_place(cfd, tmp, id, state_dir, e) < 0) {
		remove_copy(cfd, tmp, &(struct husk_error){ 0 });
		return husk_err_wrap(e, "%s/" COPIES "/%s", s->root, id);
	}
	*dir = xasprintf("%s/" COPIES "/%s", s->root, id);
	return 0;
}

int husk_image_copy_remove(int storefd, const char *id, const char *state_dir, struct husk_error *e)
{
	_cleanup_fd_ int cfd = openat(storefd, COPIES, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cfd < 0 || husk_validate_id(id, e) < 0)
		return 0;
	_cleanup_free_ char *owner = copy_state(cfd, id);
	/* another state root's container of the same name */
	if (owner && strcmp(owner, state_dir) != 0)
		return 0;
	struct stat st;
	if (fstatat(cfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return remove_copy(cfd, id, e);
}

int husk_image_copies_prune(struct husk_image_store *s, struct husk_error *e)
{
	_cleanup_fd_ int cfd = openat(s->dirfd, COPIES, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cfd < 0)
		return errno == ENOENT ? 0 : husk_errno(e, "open %s/" COPIES, s->root);
	_cleanup_dir_ DIR *d = fdopendir(dup(cfd));
	if (!d)
		return husk_errno(e, "open %s/" COPIES, s->root);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_free_ char *state = copy_state(cfd, de->d_name);
		/* a copy being made holds the store's lock, as we do: without
		 * "state" (a .new-* one too) it is a leftover */
		if (state && exists(state))
			continue;
		if (remove_copy(cfd, de->d_name, e) < 0)
			return husk_err_wrap(e, "%s/" COPIES, s->root);
	}
	return 0;
}
