/* husk box: namespaces and resource limits. */
#include <string.h>

#include "box_internal.h"

static int set_net(json_t *linux_, const char *net, struct husk_error *e)
{
	if (!net || !strcmp(net, "none"))
		return 0;
	if (strcmp(net, "host"))
		return husk_err(e, 0, "--net %s: expected none or host", net);
	json_t *ns = json_object_get(linux_, "namespaces"), *x;
	size_t i;
	json_array_foreach(ns, i, x) {
		if (!strcmp(json_string_value(json_object_get(x, "type")), "network"))
			return json_array_remove(ns, i), 0;
	}
	return 0;
}

int box_resources(struct box *b, struct husk_error *e)
{
	return set_net(json_object_get(b->doc, "linux"), b->o->net, e);
}
