/* husk box --isolation: the modes by name. */
#include "isolation.h"

#include <string.h>

#include "util.h"

const struct husk_isolation_ops *husk_isolation_find(const char *name, struct husk_error *e)
{
	static const struct husk_isolation_ops *const modes[] = { &husk_isolation_oci,
								  &husk_isolation_chroot };
	if (!name)
		return modes[0];
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++)
		if (!strcmp(name, modes[i]->name))
			return modes[i];
	husk_err(e, 0, "--isolation %s: expected oci or chroot", name);
	return NULL;
}
