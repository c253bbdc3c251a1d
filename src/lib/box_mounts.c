/* husk box: the user's mounts (-v, --mount, --tmpfs) in Docker's syntax and
 * the engine's defaults (/etc/resolv.conf, /etc/hostname, /etc/hosts,
 * /dev/shm, /dev/mqueue); a user mount on a default's destination replaces
 * it. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "box_internal.h"
#include "mount_opts.h"
#include "util.h"

#define SHM_DEFAULT (64ULL << 20)
#define MQUEUE_MAGIC 0x19800202 /* not in linux/magic.h */

/* Docker's sizes (box_parse_size), above 0. */
static int parse_size(const char *s, unsigned long long *out)
{
	int64_t v;
	if (box_parse_size(s, &v) < 0 || v <= 0)
		return -1;
	*out = (unsigned long long)v;
	return 0;
}

static int size_arg(const char *what, const char *s, unsigned long long *out, struct husk_error *e)
{
	if (parse_size(s, out) < 0 || *out == 0)
		return husk_err(e, 0, "%s %s: expected a size above 0: bytes, or a number with "
				"b, k, m or g", what, s);
	return 0;
}

/* dst cleaned ("//a/./b/" -> "/a/b"), or NULL when not absolute or "/". */
static char *clean_dest(const char *dst)
{
	if (dst[0] != '/')
		return NULL;
	char *out = xmalloc(strlen(dst) + 2), *o = out;
	for (const char *p = dst; *p;) {
		p += strspn(p, "/");
		size_t n = strcspn(p, "/");
		if (n && !(n == 1 && p[0] == '.')) {
			*o++ = '/';
			memcpy(o, p, n);
			o += n;
		}
		p += n;
	}
	*o = '\0';
	if (o == out) {
		free(out);
		return NULL;
	}
	return out;
}

static json_t *find_dest(json_t *mounts, const char *dst)
{
	size_t i;
	json_t *m;
	json_array_foreach(mounts, i, m) {
		if (!strcmp(json_string_value(json_object_get(m, "destination")), dst))
			return m;
	}
	return NULL;
}

/* A user mount, its destination checked and cleaned, refused when another
 * user mount has it already (as Docker). */
static int push_user(json_t *user, const char *flag, const char *spec, const char *dst,
		     const char *type, const char *src, json_t *options, struct husk_error *e)
{
	_cleanup_free_ char *d = clean_dest(dst);
	if (!d) {
		json_decref(options);
		return husk_err(e, 0, "%s %s: the destination must be an absolute path other than /",
				flag, spec);
	}
	if (find_dest(user, d)) {
		json_decref(options);
		return husk_err(e, 0, "%s %s: duplicate mount point %s", flag, spec, d);
	}
	json_array_append_new(user, json_pack("{s:s, s:s, s:s, s:o}", "destination", d, "type", type,
					      "source", src, "options", options));
	return 0;
}

static bool is_propagation(const char *s)
{
	static const char *const props[] = { "private", "rprivate", "shared", "rshared", "slave",
					     "rslave" };
	for (size_t i = 0; i < ARRAY_SIZE(props); i++) {
		if (!strcmp(s, props[i]))
			return true;
	}
	return false;
}

static int bind_source(const char *flag, const char *spec, const char *src, struct husk_error *e)
{
	struct stat st;
	if (src[0] != '/')
		return husk_err(e, 0, "%s %s: the source must be an absolute path", flag, spec);
	if (stat(src, &st) < 0)
		return husk_errno(e, "%s %s: source %s", flag, spec, src);
	return 0;
}

/* -v SRC:DST[:OPTS], OPTS comma-separated: ro or rw, a propagation, and
 * z or Z (SELinux relabelling: accepted, nothing to do without SELinux). */
static int add_volume(json_t *user, const char *spec, struct husk_error *e)
{
	_cleanup_free_ char *s = xstrdup(spec);
	char *src = s, *dst = strchr(s, ':'), *mode = NULL, *save = NULL;
	if (!dst || !dst[1])
		return husk_err(e, 0, "-v %s: expected SRC:DST[:OPTIONS]", spec);
	*dst++ = '\0';
	if ((mode = strchr(dst, ':')))
		*mode++ = '\0';
	const char *rw = "rw", *prop = "rprivate";
	for (char *m = mode ? strtok_r(mode, ",", &save) : NULL; m; m = strtok_r(NULL, ",", &save)) {
		if (!strcmp(m, "ro") || !strcmp(m, "rw"))
			rw = m;
		else if (is_propagation(m))
			prop = m;
		else if (strcmp(m, "z") && strcmp(m, "Z"))
			return husk_err(e, 0, "-v %s: unknown option %s (expected ro, rw, z, Z or a "
					"propagation such as rslave)", spec, m);
	}
	if (bind_source("-v", spec, src, e) < 0)
		return -1;
	return push_user(user, "-v", spec, dst, "bind", src, json_pack("[s, s, s]", "rbind", prop, rw),
			 e);
}

static bool is_octal(const char *s)
{
	return *s && strspn(s, "01234567") == strlen(s) && strlen(s) <= 4;
}

/* One tmpfs option: a mount flag, or size= (Docker's sizes, or N%), mode=
 * (octal), uid=, gid=, nr_inodes=, nr_blocks=, mpol=; appended to opts. */
static int tmpfs_opt(json_t *opts, const char *flag, const char *spec, const char *opt,
		     struct husk_error *e)
{
	static const char *const keys[] = { "uid=", "gid=", "nr_inodes=", "nr_blocks=", "mpol=" };
	unsigned long long size;
	char *const one[] = { (char *)opt };
	struct husk_mount_opts mo;
	husk_mount_opts_parse(one, 1, &mo, e);
	bool known = !mo.data && !(mo.flags & MS_BIND) && !mo.idmap && !mo.tmpcopyup;
	husk_mount_opts_free(&mo);
	if (known)
		return json_array_append_new(opts, json_string(opt)), 0;
	if (!strncmp(opt, "size=", 5)) {
		size_t l = strlen(opt + 5);
		if (l > 1 && opt[5 + l - 1] == '%' && strspn(opt + 5, "0123456789") == l - 1)
			return json_array_append_new(opts, json_string(opt)), 0;
		if (parse_size(opt + 5, &size) < 0 || !size)
			return husk_err(e, 0, "%s %s: %s: expected a size above 0 (bytes, or with b, k, "
					"m or g) or a percentage", flag, spec, opt);
		return json_array_append_new(opts, json_sprintf("size=%llu", size)), 0;
	}
	if (!strncmp(opt, "mode=", 5)) {
		if (!is_octal(opt + 5))
			return husk_err(e, 0, "%s %s: %s: expected an octal mode", flag, spec, opt);
		return json_array_append_new(opts, json_string(opt)), 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (!strncmp(opt, keys[i], strlen(keys[i])) && opt[strlen(keys[i])])
			return json_array_append_new(opts, json_string(opt)), 0;
	}
	return husk_err(e, 0, "%s %s: unknown tmpfs option %s", flag, spec, opt);
}

/* Docker's tmpfs defaults, which the user's options follow (later wins). */
static json_t *tmpfs_defaults(void)
{
	return json_pack("[s, s, s]", "noexec", "nosuid", "nodev");
}

/* --tmpfs DST[:OPTS], OPTS comma-separated mount options. */
static int add_tmpfs(json_t *user, const char *spec, struct husk_error *e)
{
	_cleanup_free_ char *s = xstrdup(spec);
	char *opts = strchr(s, ':'), *save = NULL;
	if (opts)
		*opts++ = '\0';
	json_t *o = tmpfs_defaults();
	for (char *t = opts ? strtok_r(opts, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
		if (tmpfs_opt(o, "--tmpfs", spec, t, e) < 0)
			return json_decref(o), -1;
	}
	return push_user(user, "--tmpfs", spec, s, "tmpfs", "tmpfs", o, e);
}

/* --mount's fields, as given. */
struct mount_spec {
	const char *type, *src, *dst, *prop, *size, *mode;
	bool ro;
};

static int parse_bool(const char *v, bool *out)
{
	static const char *const t[] = { "1", "true", "t" }, *const f[] = { "0", "false", "f" };
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		if (!v || !strcasecmp(v, t[i]))
			return *out = true, 0;
		if (!strcasecmp(v, f[i]))
			return *out = false, 0;
	}
	return -1;
}

static int mount_field(struct mount_spec *ms, const char *spec, char *kv, struct husk_error *e)
{
	char *v = strchr(kv, '=');
	if (v)
		*v++ = '\0';
	const struct {
		const char *key;
		const char **slot;
	} keys[] = {
		{ "type", &ms->type },	 { "source", &ms->src },       { "src", &ms->src },
		{ "destination", &ms->dst }, { "dst", &ms->dst },      { "target", &ms->dst },
		{ "bind-propagation", &ms->prop }, { "tmpfs-size", &ms->size }, { "tmpfs-mode", &ms->mode },
	};
	if (!strcmp(kv, "readonly") || !strcmp(kv, "ro")) {
		if (parse_bool(v, &ms->ro) < 0)
			return husk_err(e, 0, "--mount %s: %s=%s: expected true or false", spec, kv, v);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (strcmp(kv, keys[i].key))
			continue;
		if (!v || !*v)
			return husk_err(e, 0, "--mount %s: %s needs a value", spec, kv);
		*keys[i].slot = v;
		return 0;
	}
	return husk_err(e, 0, "--mount %s: unknown key %s (expected type, source, destination, "
			"readonly, bind-propagation, tmpfs-size or tmpfs-mode)", spec, kv);
}

static int mount_bind(json_t *user, const char *spec, const struct mount_spec *ms,
		      struct husk_error *e)
{
	if (ms->size || ms->mode)
		return husk_err(e, 0, "--mount %s: tmpfs-size and tmpfs-mode are for type=tmpfs", spec);
	if (ms->prop && !is_propagation(ms->prop))
		return husk_err(e, 0, "--mount %s: bind-propagation must be one of private, rprivate, "
				"shared, rshared, slave, rslave", spec);
	if (!ms->src)
		return husk_err(e, 0, "--mount %s: type=bind needs a source", spec);
	if (bind_source("--mount", spec, ms->src, e) < 0)
		return -1;
	return push_user(user, "--mount", spec, ms->dst, "bind", ms->src,
			 json_pack("[s, s, s]", "rbind", ms->prop ? ms->prop : "rprivate",
				   ms->ro ? "ro" : "rw"), e);
}

static int mount_tmpfs(json_t *user, const char *spec, const struct mount_spec *ms,
		       struct husk_error *e)
{
	unsigned long long size;
	if (ms->src)
		return husk_err(e, 0, "--mount %s: type=tmpfs takes no source", spec);
	if (ms->prop)
		return husk_err(e, 0, "--mount %s: bind-propagation is for type=bind", spec);
	if (ms->mode && !is_octal(ms->mode))
		return husk_err(e, 0, "--mount %s: tmpfs-mode %s: expected an octal mode", spec, ms->mode);
	json_t *o = tmpfs_defaults();
	if (ms->ro)
		json_array_append_new(o, json_string("ro"));
	if (ms->size) {
		if (parse_size(ms->size, &size) < 0 || !size) {
			json_decref(o);
			return husk_err(e, 0, "--mount %s: tmpfs-size %s: expected a size above 0 "
					"(bytes, or with b, k, m or g)", spec, ms->size);
		}
		json_array_append_new(o, json_sprintf("size=%llu", size));
	}
	if (ms->mode)
		json_array_append_new(o, json_sprintf("mode=%s", ms->mode));
	return push_user(user, "--mount", spec, ms->dst, "tmpfs", "tmpfs", o, e);
}

/* --mount type=bind|tmpfs,KEY=VALUE,... (Docker's keys). */
static int add_mount(json_t *user, const char *spec, struct husk_error *e)
{
	_cleanup_free_ char *s = xstrdup(spec);
	struct mount_spec ms = { 0 };
	char *save = NULL;
	for (char *kv = strtok_r(s, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		if (mount_field(&ms, spec, kv, e) < 0)
			return -1;
	}
	if (!ms.type || (strcmp(ms.type, "bind") && strcmp(ms.type, "tmpfs")))
		return husk_err(e, 0, "--mount %s: type must be bind or tmpfs", spec);
	if (!ms.dst)
		return husk_err(e, 0, "--mount %s: destination required", spec);
	return ms.type[0] == 'b' ? mount_bind(user, spec, &ms, e) : mount_tmpfs(user, spec, &ms, e);
}

static bool rootless(const struct box *b)
{
	return b->g->rootless == 1 || (b->g->rootless == -1 && geteuid() != 0);
}

static bool host_mqueue(void)
{
	struct statfs sf;
	return statfs("/dev/mqueue", &sf) == 0 && sf.f_type == MQUEUE_MAGIC;
}

/* /dev/shm: a tmpfs of --shm-size, or the host's with --ipc host.
 * /dev/mqueue: mounted afresh; with --ipc host a user namespace may not
 * mount the host's instance, so it is bound from the host (left out when
 * the host has none).  Either is left out under a user mount. */
static int dev_defaults(struct box *b, json_t *mounts, json_t *user, struct husk_error *e)
{
	const struct husk_box_opts *o = b->o;
	bool ipc_host = o->ipc && !strcmp(o->ipc, "host");
	unsigned long long shm = SHM_DEFAULT;
	if (o->shm_size && size_arg("--shm-size", o->shm_size, &shm, e) < 0)
		return -1;
	for (size_t i = json_array_size(mounts); i-- > 0;) {
		json_t *m = json_array_get(mounts, i);
		const char *dst = json_string_value(json_object_get(m, "destination"));
		bool is_shm = !strcmp(dst, "/dev/shm"), is_mq = !strcmp(dst, "/dev/mqueue");
		if (!is_shm && !is_mq)
			continue;
		if (find_dest(user, dst) || (is_mq && ipc_host && rootless(b) && !host_mqueue())) {
			json_array_remove(mounts, i);
		} else if (ipc_host && (is_shm || rootless(b))) {
			json_array_set_new(mounts, i, json_pack("{s:s, s:s, s:s, s:[s, s]}", "destination",
								dst, "type", "bind", "source", dst,
								"options", "rbind", "rprivate"));
		} else if (is_shm) {
			json_object_set_new(m, "options",
					    json_pack("[s, s, s, s, o]", "nosuid", "noexec", "nodev",
						      "mode=1777", json_sprintf("size=%llu", shm)));
		}
	}
	return 0;
}

/* The generated /etc files, bound from the state directory. */
static void etc_defaults(struct box *b, json_t *out, json_t *user)
{
	static const char *const names[] = { "resolv.conf", "hostname", "hosts" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_free_ char *dst = xasprintf("/etc/%s", names[i]);
		if (find_dest(user, dst))
			continue;
		_cleanup_free_ char *src = xasprintf("%s/%s", b->state_dir, names[i]);
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "destination", dst,
						     "type", "bind", "source", src, "options", "rbind",
						     "rprivate", b->o->read_only ? "ro" : "rw"));
	}
}

struct ordered {
	json_t *m;
	size_t depth, index;
};

static int by_depth(const void *a, const void *b)
{
	const struct ordered *x = a, *y = b;
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Append src to mounts, parents before what lies below them (as Docker:
 * -v DIR:/etc gets the generated /etc/hosts on top). */
static void append_by_depth(json_t *mounts, json_t *src)
{
	size_t n = json_array_size(src);
	struct ordered *v = xcalloc(n ? n : 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		const char *d = json_string_value(json_object_get(json_array_get(src, i), "destination"));
		v[i] = (struct ordered){ .m = json_array_get(src, i), .index = i };
		for (; *d; d++)
			v[i].depth += *d == '/';
	}
	qsort(v, n, sizeof(*v), by_depth);
	for (size_t i = 0; i < n; i++)
		json_array_append(mounts, v[i].m);
	free(v);
}

int box_mounts(struct box *b, struct husk_error *e)
{
	const struct husk_box_opts *o = b->o;
	json_t *mounts = json_object_get(b->doc, "mounts");
	json_t *user = json_array(), *extra = json_array();
	int r = 0;
	for (size_t i = 0; i < o->volumes.n && r == 0; i++)
		r = add_volume(user, o->volumes.v[i], e);
	for (size_t i = 0; i < o->mounts.n && r == 0; i++)
		r = add_mount(user, o->mounts.v[i], e);
	for (size_t i = 0; i < o->tmpfs.n && r == 0; i++)
		r = add_tmpfs(user, o->tmpfs.v[i], e);
	if (r == 0)
		r = box_etc(b, e);
	if (r == 0)
		r = dev_defaults(b, mounts, user, e);
	if (r == 0) {
		etc_defaults(b, extra, user);
		json_array_extend(extra, user);
		append_by_depth(mounts, extra);
	}
	json_decref(user);
	json_decref(extra);
	return r;
}
