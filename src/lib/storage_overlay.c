/* The overlay storage driver: the layers are an overlay's lowerdirs (the
 * top-most first), upper/ and work/ in the container's state directory;
 * the container's init mounts it on merged/ in its own mount namespace
 * (rootfs.c; with a user namespace made by root, a child of the runtime
 * does, in that namespace: mount_overlay.c), so nothing is mounted on the
 * host and `husk exec` sees it. */
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

int husk_overlay_options(const char *dir, const char *const *lowers, size_t n_layers, char **out,
			 struct husk_error *e)
{
	if (!n_layers)
		return husk_err(e, 0, "overlay: no layers");
	/* The mount options cannot quote them. */
	if (strpbrk(dir, ",:\\"))
		return husk_err(e, 0, "overlay: paths may not hold ',', ':' or '\\' (%s)", dir);
	size_t cap = 64 + n_layers * (strlen(dir) + sizeof(LOWER_DIR) + 24) + 2 * strlen(dir);
	for (size_t i = 0; lowers && i < n_layers; i++)
		cap += strlen(lowers[i]) + 1;
	char *s = xmalloc(cap);
	size_t len = (size_t)snprintf(s, cap, "lowerdir=");
	for (size_t i = n_layers; i-- > 0;) {
		const char *sep = i ? ":" : "";
		len += lowers ? (size_t)snprintf(s + len, cap - len, "%s%s", lowers[i], sep)
			      : (size_t)snprintf(s + len, cap - len, "%s/" LOWER_DIR "/%zu%s", dir, i, sep);
	}
	snprintf(s + len, cap - len, ",upperdir=%s/upper,workdir=%s/work", dir, dir);
	*out = s;
	return 0;
}

/* lower/N: a link to layer N; with a mapping a directory, on which the
 * runtime attaches the layer idmapped (mount_overlay.c). */
static int lower_entry(int dirfd, size_t i, const struct husk_storage_opts *o, struct husk_error *e)
{
	char link[64];
	snprintf(link, sizeof(link), LOWER_DIR "/%zu", i);
	_cleanup_free_ char *abs = realpath(o->layers[i], NULL);
	if (!abs)
		return husk_errno(e, "overlay: layer %s", o->layers[i]);
	if ((o->n_uid_map ? mkdirat(dirfd, link, 0700) : symlinkat(abs, dirfd, link)) < 0)
		return husk_errno(e, "overlay: %s", link);
	return 0;
}

/* upper/ and work/ owned as the top-most layer's root, through the mapping */
static int upper_owner(int dirfd, const struct husk_storage_opts *o, struct husk_error *e)
{
	const char *top = o->layers[o->n_layers - 1];
	struct stat st;
	if (stat(top, &st) < 0)
		return husk_errno(e, "overlay: layer %s", top);
	uint32_t uid, gid;
	if (husk_storage_map_id(o->uid_map, o->n_uid_map, st.st_uid, &uid) < 0 ||
	    husk_storage_map_id(o->gid_map, o->n_gid_map, st.st_gid, &gid) < 0)
		return husk_err(e, 0, "overlay: layer %s: its root's owner %u:%u is not mapped", top,
				(unsigned)st.st_uid, (unsigned)st.st_gid);
	if (fchownat(dirfd, "upper", uid, gid, 0) < 0 ||
	    fchmodat(dirfd, "upper", st.st_mode & 07777, 0) < 0 ||
	    (o->n_uid_map && fchownat(dirfd, "work", uid, gid, 0) < 0))
		return husk_errno(e, "overlay: upper directory as %s", top);
	return 0;
}

/* The layers' own paths, when the mount options can hold them (no ',',
 * ':' or '\\') and they need no idmapped clone: no lower/ links to make
 * and remove (each a journaled inode on the state root's filesystem). */
static char **direct_lowers(const struct husk_storage_opts *o)
{
	if (o->n_uid_map)
		return NULL;
	char **v = xcalloc(o->n_layers + 1, sizeof(*v));
	for (size_t i = 0; i < o->n_layers; i++) {
		v[i] = realpath(o->layers[i], NULL);
		if (!v[i] || strpbrk(v[i], ",:\\")) {
			husk_strv_free(v);
			return NULL;
		}
	}
	return v;
}

/* upper, work, merged and, where the layers' paths cannot be used as they
 * are, lower/N in the state directory.  The merged root takes the upper
 * directory's owner and mode: the top-most layer's root's, or a non-root
 * process could not enter its own /. */
static int overlay_prepare(int dirfd, const char *dir, const struct husk_storage_opts *o,
			   char **root, char **overlay, struct husk_error *e)
{
	static const char *const dirs[] = { "upper", "work", "merged", LOWER_DIR };
	_cleanup_strv_ char **direct = direct_lowers(o);
	if (husk_overlay_options(dir, (const char *const *)direct, o->n_layers, overlay, e) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(dirs) - (direct ? 1 : 0); i++) {
		if (mkdirat(dirfd, dirs[i], 0700) < 0)
			return husk_errno(e, "overlay: create %s", dirs[i]);
	}
	for (size_t i = 0; !direct && i < o->n_layers; i++)
		if (lower_entry(dirfd, i, o, e) < 0)
			return -1;
	if (upper_owner(dirfd, o, e) < 0)
		return -1;
	*root = xasprintf("%s/merged", dir);
	return 0;
}

const struct husk_storage_ops husk_storage_overlay = {
	.name = "overlay",
	.root_name = "merged",
	.prepare = overlay_prepare,
};
