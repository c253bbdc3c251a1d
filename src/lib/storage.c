/* The storage drivers by name (storage.h). */
#include "storage.h"

#include <string.h>

#include "spec.h"
#include "util.h"

static const struct husk_storage_ops *const drivers[] = { &husk_storage_overlay, &husk_storage_vfs };

const struct husk_storage_ops *husk_storage_find(const char *name)
{
	if (!name)
		return drivers[0];
	for (size_t i = 0; i < ARRAY_SIZE(drivers); i++) {
		if (!strcmp(drivers[i]->name, name))
			return drivers[i];
	}
	return NULL;
}

const char *husk_storage_names(void)
{
	return "overlay, vfs";
}

const char *husk_storage_opaque_xattr(bool rootless)
{
	/* overlayfs mounted in a user namespace (userxattr) reads user.* */
	return rootless ? "user.overlay.opaque" : "trusted.overlay.opaque";
}

int husk_storage_map_id(const struct husk_id_mapping *m, size_t n, uint32_t id, uint32_t *out)
{
	if (!n) {
		*out = id;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (id >= m[i].container_id && id - m[i].container_id < m[i].size) {
			*out = m[i].host_id + (id - m[i].container_id);
			return 0;
		}
	}
	return -1;
}
