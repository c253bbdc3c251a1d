/* --uidmap/--gidmap CONTAINER:HOST:SIZE (podman's): root's box in a user
 * namespace of those mappings.  One of the two alone stands for both, as
 * podman has it.  The root is shown owned by the mapped ids: the overlay's
 * lower layers are idmapped, a vfs copy is shifted (storage.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "box_internal.h"
#include "spec.h"
#include "rootless.h"
#include "util.h"

/* The kernel takes at most this many lines in a map. */
#define MAX_MAPPINGS 340

static int parse_u32(const char *s, const char **end, uint64_t *out)
{
	if (*s < '0' || *s > '9')
		return -1;
	char *e;
	errno = 0;
	unsigned long long v = strtoull(s, &e, 10);
	if (errno || v > UINT32_MAX)
		return -1;
	*out = v;
	*end = e;
	return 0;
}

int box_parse_idmap(const char *s, struct husk_id_mapping *m)
{
	uint64_t c, h, n;
	const char *p = s;
	if (parse_u32(p, &p, &c) < 0 || *p++ != ':' || parse_u32(p, &p, &h) < 0 || *p++ != ':' ||
	    parse_u32(p, &p, &n) < 0 || *p || n == 0 || c + n > (uint64_t)UINT32_MAX + 1 ||
	    h + n > (uint64_t)UINT32_MAX + 1)
		return -1;
	*m = (struct husk_id_mapping){ (uint32_t)c, (uint32_t)h, (uint32_t)n };
	return 0;
}

static bool overlap(uint32_t a, uint32_t n, uint32_t b, uint32_t k)
{
	return (uint64_t)a < (uint64_t)b + k && (uint64_t)b < (uint64_t)a + n;
}

/* The list's mappings, checked: syntax, no two ranges overlapping (on
 * either side), container id 0 mapped (the init becomes root in it). */
int box_idmap_list(const struct husk_list *l, const char *opt, struct husk_id_mapping **out,
		   struct husk_error *e)
{
	if (l->n > MAX_MAPPINGS)
		return husk_err(e, 0, "%s: at most %d mappings", opt, MAX_MAPPINGS);
	struct husk_id_mapping *m = xcalloc(l->n, sizeof(*m));
	bool zero = false;
	for (size_t i = 0; i < l->n; i++) {
		if (box_parse_idmap(l->v[i], &m[i]) < 0) {
			free(m);
			return husk_err(e, 0, "%s %s: expected CONTAINER:HOST:SIZE (numbers, SIZE at "
					      "least 1, ranges within 32 bits)", opt, l->v[i]);
		}
		for (size_t j = 0; j < i; j++) {
			const char *side = NULL;
			if (overlap(m[i].container_id, m[i].size, m[j].container_id, m[j].size))
				side = "container";
			else if (overlap(m[i].host_id, m[i].size, m[j].host_id, m[j].size))
				side = "host";
			if (side) {
				husk_err(e, 0, "%s %s: overlaps %s (%s ids)", opt, l->v[i], l->v[j], side);
				free(m);
				return -1;
			}
		}
		zero |= m[i].container_id == 0;
	}
	if (!zero) {
		free(m);
		return husk_err(e, 0, "%s: container id 0 must be mapped (the container's root)", opt);
	}
	*out = m;
	return 0;
}

int box_userns(struct box *b, struct husk_error *e)
{
	const struct husk_box_opts *o = b->o;
	if (!o->uidmap.n && !o->gidmap.n)
		return 0;
	const char *opt = o->uidmap.n ? "--uidmap" : "--gidmap";
	if (b->rootless)
		return husk_err(e, 0, "%s: only root's boxes take it (a rootless box maps the user's "
				      "own ids itself)", opt);
	if (o->rootfs_rw)
		return husk_err(e, 0, "%s: not with --rootfs-rw (ROOTFS's owners cannot be mapped in "
				      "place)", opt);
	/* one alone stands for both */
	const struct husk_list *ul = o->uidmap.n ? &o->uidmap : &o->gidmap;
	const struct husk_list *gl = o->gidmap.n ? &o->gidmap : &o->uidmap;
	_cleanup_free_ struct husk_id_mapping *u = NULL, *g = NULL;
	if (box_idmap_list(ul, ul == &o->uidmap ? "--uidmap" : "--gidmap", &u, e) < 0 ||
	    box_idmap_list(gl, gl == &o->gidmap ? "--gidmap" : "--uidmap", &g, e) < 0)
		return -1;
	json_t *lx = json_object_get(b->doc, "linux");
	json_array_append_new(json_object_get(lx, "namespaces"), json_pack("{s:s}", "type", "user"));
	json_object_set_new(lx, "uidMappings", husk_idmap_json(u, ul->n));
	json_object_set_new(lx, "gidMappings", husk_idmap_json(g, gl->n));
	bool gid5 = false;
	for (size_t i = 0; i < gl->n; i++)
		gid5 |= 5 >= g[i].container_id && 5 - g[i].container_id < g[i].size;
	json_t *mounts = json_object_get(b->doc, "mounts");
	box_devpts_gid(mounts, gid5);
	if (o->net && !strcmp(o->net, "host"))
		box_sys_bind(mounts);
	return 0;
}
