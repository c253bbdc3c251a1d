/* husk box: the user's mounts (-v, --tmpfs) and the engine's defaults. */
#include <string.h>
#include <sys/stat.h>

#include "box_internal.h"
#include "util.h"

static int add_volume(json_t *mounts, const char *spec, struct husk_error *e)
{
	_cleanup_free_ char *s = xstrdup(spec);
	char *src = s, *dst = strchr(s, ':'), *mode = NULL;
	if (!dst || !dst[1])
		return husk_err(e, 0, "-v %s: expected SRC:DST[:ro|rw]", spec);
	*dst++ = '\0';
	if ((mode = strchr(dst, ':')))
		*mode++ = '\0';
	if (src[0] != '/')
		return husk_err(e, 0, "-v %s: the source must be an absolute path", spec);
	if (dst[0] != '/')
		return husk_err(e, 0, "-v %s: the destination must be an absolute path", spec);
	if (mode && strcmp(mode, "ro") && strcmp(mode, "rw"))
		return husk_err(e, 0, "-v %s: mode must be ro or rw", spec);
	struct stat st;
	if (stat(src, &st) < 0)
		return husk_errno(e, "-v %s: source %s", spec, src);
	json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "destination", dst,
						"type", "bind", "source", src, "options", "rbind",
						"rprivate", mode ? mode : "rw"));
	return 0;
}

static int add_tmpfs(json_t *mounts, const char *dst, struct husk_error *e)
{
	if (dst[0] != '/')
		return husk_err(e, 0, "--tmpfs %s: the destination must be an absolute path", dst);
	json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "destination", dst,
						"type", "tmpfs", "source", "tmpfs", "options", "nosuid",
						"nodev", "mode=1777"));
	return 0;
}

int box_mounts(struct box *b, struct husk_error *e)
{
	const struct husk_box_opts *o = b->o;
	json_t *mounts = json_object_get(b->doc, "mounts");
	if (!o->uts || strcmp(o->uts, "host")) /* --uts host: the host's, unchanged */
		json_object_set_new(b->doc, "hostname", json_string(o->hostname ? o->hostname : b->id));
	for (size_t i = 0; i < o->volumes.n; i++) {
		if (add_volume(mounts, o->volumes.v[i], e) < 0)
			return -1;
	}
	for (size_t i = 0; i < o->tmpfs.n; i++) {
		if (add_tmpfs(mounts, o->tmpfs.v[i], e) < 0)
			return -1;
	}
	return 0;
}
