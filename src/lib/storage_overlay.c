/* The overlay storage driver: the layers are an overlay's lowerdirs (the
 * top-most first), upper/ and work/ in the container's state directory;
 * the container's init mounts it on merged/ in its own mount namespace
 * (rootfs.c), so nothing is mounted on the host and `husk exec` sees it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage.h"
#include "util.h"

#define LOWER_DIR "lower"

int husk_overlay_options(const char *dir, size_t n_layers, char **out, struct husk_error *e)
{
	if (!n_layers)
		return husk_err(e, 0, "overlay: no layers");
	/* The mount options cannot quote them. */
	if (strpbrk(dir, ",:\\"))
		return husk_err(e, 0, "overlay: paths may not hold ',', ':' or '\\' (%s)", dir);
	size_t cap = 64 + n_layers * (strlen(dir) + sizeof(LOWER_DIR) + 24) + 2 * strlen(dir);
	char *s = xmalloc(cap);
	size_t len = (size_t)snprintf(s, cap, "lowerdir=");
	for (size_t i = n_layers; i-- > 0;)
		len += (size_t)snprintf(s + len, cap - len, "%s/" LOWER_DIR "/%zu%s", dir, i, i ? ":" : "");
	len += (size_t)snprintf(s + len, cap - len, ",upperdir=%s/upper,workdir=%s/work", dir, dir);
	if (len + sizeof(",userxattr") - 1 > HUSK_OVERLAY_DATA_MAX) {
		free(s);
		return husk_err(e, E2BIG,
				"overlay: %zu layers make mount options of %zu bytes, more than the %d "
				"mount(2) takes (use --storage vfs, or a shorter --root)",
				n_layers, len, HUSK_OVERLAY_DATA_MAX);
	}
	*out = s;
	return 0;
}

/* upper, work, merged and lower/N (a link to layer N) in the state
 * directory.  The merged root takes the upper directory's owner and mode:
 * the top-most layer's root's, or a non-root process could not enter its
 * own /. */
static int overlay_prepare(int dirfd, const char *dir, const struct husk_storage_opts *o,
			   char **root, char **overlay, struct husk_error *e)
{
	static const char *const dirs[] = { "upper", "work", "merged", LOWER_DIR };
	if (husk_overlay_options(dir, o->n_layers, overlay, e) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		if (mkdirat(dirfd, dirs[i], 0700) < 0)
			return husk_errno(e, "overlay: create %s", dirs[i]);
	}
	for (size_t i = 0; i < o->n_layers; i++) {
		char link[64];
		snprintf(link, sizeof(link), LOWER_DIR "/%zu", i);
		_cleanup_free_ char *abs = realpath(o->layers[i], NULL);
		if (!abs)
			return husk_errno(e, "overlay: layer %s", o->layers[i]);
		if (symlinkat(abs, dirfd, link) < 0)
			return husk_errno(e, "overlay: link %s", link);
	}
	const char *top = o->layers[o->n_layers - 1];
	struct stat st;
	if (stat(top, &st) < 0 || fchownat(dirfd, "upper", st.st_uid, st.st_gid, 0) < 0 ||
	    fchmodat(dirfd, "upper", st.st_mode & 07777, 0) < 0)
		return husk_errno(e, "overlay: upper directory as %s", top);
	*root = xasprintf("%s/merged", dir);
	return 0;
}

const struct husk_storage_ops husk_storage_overlay = {
	.name = "overlay",
	.root_name = "merged",
	.prepare = overlay_prepare,
};
