/* A Docker seccomp profile (Docker's own format, which containers-common's
 * /usr/share/containers/seccomp.json shares) turned into the OCI
 * linux.seccomp object, the way Docker's daemon turns it: the native
 * architecture picked from archMap, and each syscall rule kept only when
 * its includes hold and its excludes do not (architecture, capabilities in
 * the bounding set, kernel version). */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "box_internal.h"
#include "json_get.h"
#include "spec.h"
#include "util.h"

/* Go's architecture name (Docker's includes/excludes "arches") and
 * libseccomp's, for the architecture husk is built for. */
#if defined(__x86_64__)
#define BOX_ARCH "amd64", "SCMP_ARCH_X86_64"
#elif defined(__aarch64__)
#define BOX_ARCH "arm64", "SCMP_ARCH_AARCH64"
#elif defined(__i386__)
#define BOX_ARCH "x86", "SCMP_ARCH_X86"
#elif defined(__arm__)
#define BOX_ARCH "arm", "SCMP_ARCH_ARM"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BOX_ARCH "ppc64le", "SCMP_ARCH_PPC64LE"
#elif defined(__s390x__)
#define BOX_ARCH "s390x", "SCMP_ARCH_S390X"
#elif defined(__riscv) && __riscv_xlen == 64
#define BOX_ARCH "riscv64", "SCMP_ARCH_RISCV64"
#else
#define BOX_ARCH "", ""
#endif

void box_sc_host_native(struct box_sc_host *h, uint64_t bounding)
{
	static const char *const arch[2] = { BOX_ARCH };
	struct utsname u;
	*h = (struct box_sc_host){ .arch = arch[0], .scmp_arch = arch[1], .caps = bounding };
	if (uname(&u) == 0 && sscanf(u.release, "%d.%d", &h->kmajor, &h->kminor) != 2)
		h->kmajor = h->kminor = 0;
}

static bool has_string(json_t *a, const char *s)
{
	size_t i;
	json_t *x;
	json_array_foreach(a, i, x) {
		if (json_is_string(x) && !strcmp(json_string_value(x), s))
			return true;
	}
	return false;
}

static bool has_cap(const struct box_sc_host *h, json_t *name)
{
	int c = husk_cap_from_name(json_string_value(name));
	return c >= 0 && c < 64 && (h->caps >> c & 1);
}

/* -1 bad, 0 the kernel is older than "MAJOR.MINOR", 1 it is as new. */
static int kernel_at_least(const struct box_sc_host *h, json_t *v)
{
	int maj, min, end = 0;
	const char *s = json_string_value(v);
	if (!s || sscanf(s, "%d.%d%n", &maj, &min, &end) != 2 || s[end])
		return -1;
	return h->kmajor > maj || (h->kmajor == maj && h->kminor >= min);
}

/* What includes/excludes say about a rule: 1 keep it, 0 drop it. */
static int rule_applies(const struct box_sc_host *h, json_t *rule, const char *path,
			struct husk_error *e)
{
	json_t *inc = sj_get(rule, "includes"), *exc = sj_get(rule, "excludes"), *x;
	size_t i;
	for (int k = 0; k < 2; k++) {
		json_t *c = k ? inc : exc;
		if (!c)
			continue;
		const char *what = k ? "includes" : "excludes";
		json_t *arches = sj_get(c, "arches"), *caps = sj_get(c, "caps");
		if (!json_is_object(c) || (arches && !json_is_array(arches)) ||
		    (caps && !json_is_array(caps)))
			return husk_err(e, 0, "%s.%s: expected {arches: [], caps: [], minKernel}", path,
					what);
		if (arches && json_array_size(arches) && has_string(arches, h->arch) != k)
			return 0;
		bool any = false, all = true;
		json_array_foreach(caps, i, x) {
			bool in = has_cap(h, x);
			any |= in;
			all &= in;
		}
		if (k ? !all : any)
			return 0;
		json_t *mk = sj_get(c, "minKernel");
		int r = mk ? kernel_at_least(h, mk) : k;
		if (r < 0)
			return husk_err(e, 0, "%s.%s.minKernel: expected \"MAJOR.MINOR\"", path, what);
		if (r != k)
			return 0;
	}
	return 1;
}

static int convert_rule(const struct box_sc_host *h, json_t *rule, const char *path, json_t *out,
			struct husk_error *e)
{
	if (!json_is_object(rule))
		return husk_err(e, 0, "%s: expected an object", path);
	int keep = rule_applies(h, rule, path, e);
	if (keep <= 0)
		return keep;
	json_t *name = sj_get(rule, "name"), *names = sj_get(rule, "names");
	if (name && names && json_array_size(names))
		return husk_err(e, 0, "%s: both name and names", path);
	json_t *r = json_object();
	if (name)
		json_object_set_new(r, "names", json_pack("[O]", name));
	else if (names)
		json_object_set(r, "names", names);
	static const char *const keys[] = { "action", "errnoRet", "args" };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		json_t *v = sj_get(rule, keys[i]);
		if (v)
			json_object_set(r, keys[i], v);
	}
	json_array_append_new(out, r);
	return 0;
}

static int architectures(const struct box_sc_host *h, json_t *p, json_t *out, struct husk_error *e)
{
	json_t *arches = sj_get(p, "architectures"), *map = sj_get(p, "archMap"), *x;
	if (json_array_size(arches) && json_array_size(map))
		return husk_err(e, 0, "both architectures and archMap");
	if (arches) {
		json_object_set(out, "architectures", arches);
		return 0;
	}
	if (map && !json_is_array(map))
		return husk_err(e, 0, "archMap: expected an array");
	size_t i;
	json_array_foreach(map, i, x) {
		json_t *a = sj_get(x, "architecture"), *sub = sj_get(x, "subArchitectures");
		if (!json_is_string(a) || strcmp(json_string_value(a), h->scmp_arch))
			continue;
		json_t *list = json_pack("[O]", a);
		if (json_is_array(sub))
			json_array_extend(list, sub);
		json_object_set_new(out, "architectures", list);
		break;
	}
	return 0;
}

int box_seccomp_convert(json_t *p, const struct box_sc_host *h, json_t **out,
			struct husk_error *e)
{
	*out = NULL;
	if (!json_is_object(p))
		return husk_err(e, 0, "expected a JSON object");
	json_t *def = sj_get(p, "defaultAction"), *calls = sj_get(p, "syscalls"), *x;
	if (calls && !json_is_array(calls))
		return husk_err(e, 0, "syscalls: expected an array");
	if (!def && !json_array_size(calls))
		return 0; /* Docker's reading: no filter */
	json_t *oci = json_object();
	if (def)
		json_object_set(oci, "defaultAction", def);
	static const char *const keys[] = { "defaultErrnoRet", "flags", "listenerPath",
					    "listenerMetadata" };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		json_t *v = sj_get(p, keys[i]);
		if (v)
			json_object_set(oci, keys[i], v);
	}
	json_t *rules = json_array();
	json_object_set_new(oci, "syscalls", rules);
	int r = architectures(h, p, oci, e);
	size_t i;
	json_array_foreach(calls, i, x) {
		char path[64];
		snprintf(path, sizeof(path), "syscalls[%zu]", i);
		if (r < 0 || (r = convert_rule(h, x, path, rules, e)) < 0)
			break;
	}
	if (r < 0) {
		json_decref(oci);
		return -1;
	}
	*out = oci;
	return 0;
}
