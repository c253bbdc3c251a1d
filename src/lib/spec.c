/* config.json: loading, the top-level, mounts, hooks and linux sections,
 * and the cross-field rules the runtime spec states.  The process object
 * lives in spec_process.c. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <unistd.h>

#include "spec.h"
#include "spec_internal.h"
#include "util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* ---- names ---- */

static const struct {
	const char *spec, *proc;
	int flag;
} ns_names[HUSK_NS__COUNT] = {
	[HUSK_NS_PID] = { "pid", "pid", CLONE_NEWPID },
	[HUSK_NS_NET] = { "network", "net", CLONE_NEWNET },
	[HUSK_NS_MNT] = { "mount", "mnt", CLONE_NEWNS },
	[HUSK_NS_IPC] = { "ipc", "ipc", CLONE_NEWIPC },
	[HUSK_NS_UTS] = { "uts", "uts", CLONE_NEWUTS },
	[HUSK_NS_USER] = { "user", "user", CLONE_NEWUSER },
	[HUSK_NS_CGROUP] = { "cgroup", "cgroup", CLONE_NEWCGROUP },
	[HUSK_NS_TIME] = { "time", "time", CLONE_NEWTIME },
};

static const char *const hook_names[HUSK_HOOK__COUNT] = {
	[HUSK_HOOK_PRESTART] = "prestart",
	[HUSK_HOOK_CREATE_RUNTIME] = "createRuntime",
	[HUSK_HOOK_CREATE_CONTAINER] = "createContainer",
	[HUSK_HOOK_START_CONTAINER] = "startContainer",
	[HUSK_HOOK_POSTSTART] = "poststart",
	[HUSK_HOOK_POSTSTOP] = "poststop",
};

const char *husk_ns_spec_name(enum husk_ns_type t)
{
	return (unsigned)t < HUSK_NS__COUNT ? ns_names[t].spec : NULL;
}

const char *husk_ns_proc_name(enum husk_ns_type t)
{
	return (unsigned)t < HUSK_NS__COUNT ? ns_names[t].proc : NULL;
}

int husk_ns_clone_flag(enum husk_ns_type t)
{
	return (unsigned)t < HUSK_NS__COUNT ? ns_names[t].flag : 0;
}

const char *husk_hook_name(enum husk_hook_kind k)
{
	return (unsigned)k < HUSK_HOOK__COUNT ? hook_names[k] : NULL;
}

/* ---- freeing ---- */

static void id_mappings_free(struct husk_id_mapping *m)
{
	free(m);
}

void husk_hooks_free(struct husk_hook_list hooks[HUSK_HOOK__COUNT])
{
	for (int k = 0; k < HUSK_HOOK__COUNT; k++) {
		for (size_t i = 0; i < hooks[k].n; i++) {
			free(hooks[k].v[i].path);
			husk_strv_free(hooks[k].v[i].args);
			husk_strv_free(hooks[k].v[i].env);
		}
		free(hooks[k].v);
		hooks[k] = (struct husk_hook_list){ 0 };
	}
}

void husk_spec_free(struct husk_spec *s)
{
	if (!s)
		return;
	free(s->oci_version);
	free(s->bundle);
	free(s->root_path);
	husk_process_free(s->process);
	free(s->hostname);
	free(s->domainname);
	for (size_t i = 0; s->mounts && i < s->n_mounts; i++) {
		struct husk_mount *m = &s->mounts[i];
		free(m->destination);
		free(m->type);
		free(m->source);
		husk_strv_free(m->options);
		id_mappings_free(m->uid_mappings);
		id_mappings_free(m->gid_mappings);
	}
	free(s->mounts);
	husk_hooks_free(s->hooks);
	sj_kv_free(s->annotations, s->n_annotations);
	for (int t = 0; t < HUSK_NS__COUNT; t++)
		free(s->namespaces[t].path);
	id_mappings_free(s->uid_mappings);
	id_mappings_free(s->gid_mappings);
	for (size_t i = 0; s->devices && i < s->n_devices; i++)
		free(s->devices[i].path);
	free(s->devices);
	free(s->cgroups_path);
	husk_resources_free(&s->resources);
	husk_strv_free(s->masked_paths);
	husk_strv_free(s->readonly_paths);
	free(s->mount_label);
	sj_kv_free(s->sysctl, s->n_sysctl);
	husk_seccomp_profile_free(s->seccomp);
	husk_spec_free_v13(s);
	json_decref(s->doc);
	free(s);
}

/* ---- paths ---- */

/* Lexical clean of an absolute path ("//", ".", ".." and trailing "/"),
 * like Go's filepath.Clean; symlinks are deliberately not consulted. */
static char *clean_abs_path(const char *in)
{
	size_t n = strlen(in);
	char *out = xmalloc(n + 2);
	size_t o = 0;
	const char *p = in;

	out[o++] = '/';
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		if (len == 1 && p[0] == '.') {
			/* skip */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 1 && out[o - 1] != '/')
				o--;
			if (o > 1)
				o--; /* the separator before the dropped component */
		} else {
			if (o > 1)
				out[o++] = '/';
			memcpy(out + o, p, len);
			o += len;
		}
		p = end;
	}
	out[o] = '\0';
	return out;
}

static char *make_absolute(const char *base, const char *path)
{
	_cleanup_free_ char *joined = NULL;
	if (path[0] == '/')
		return clean_abs_path(path);
	joined = xasprintf("%s/%s", base, path);
	return clean_abs_path(joined);
}

static int abs_bundle(const char *bundle, char **out, struct husk_error *e)
{
	char cwd[4096];
	if (bundle && bundle[0] == '/') {
		*out = clean_abs_path(bundle);
		return 0;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		return husk_errno(e, "getcwd");
	*out = make_absolute(cwd, bundle && *bundle ? bundle : ".");
	return 0;
}

static int require(json_t *obj, const char *parent, const char *key, json_t **out,
		   struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	*out = sj_get(obj, key);
	if (!*out)
		return husk_err(e, 0, "%s: required field missing", sj_path(p, parent, key));
	return 0;
}

static int abs_strv(json_t *v, const char *path, char ***out, size_t *n, struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	if (sj_strv(v, path, out, n, e) < 0)
		return -1;
	for (size_t i = 0; i < *n; i++)
		if ((*out)[i][0] != '/')
			return husk_err(e, 0, "%s: \"%s\" is not an absolute path",
					sj_index(p, path, i), (*out)[i]);
	return 0;
}

/* ---- root, mounts, hooks ---- */

static int parse_root(json_t *doc, struct husk_spec *s, struct husk_error *e)
{
	json_t *root, *path;
	_cleanup_free_ char *rel = NULL;
	if (require(doc, "", "root", &root, e) < 0 || sj_object(root, "root", e) < 0 ||
	    require(root, "root", "path", &path, e) < 0 || sj_string(path, "root.path", &rel, e) < 0)
		return -1;
	if (!*rel)
		return husk_err(e, 0, "root.path: must not be empty");
	s->root_path = make_absolute(s->bundle, rel);
	return sj_opt_bool(root, "root", "readonly", &s->root_readonly, e);
}

static int parse_mount(json_t *v, const char *p, struct husk_mount *m, struct husk_error *e)
{
	char fp[SJ_PATH_MAX];
	json_t *f;
	_cleanup_free_ char *dest = NULL;

	if (sj_object(v, p, e) < 0 || require(v, p, "destination", &f, e) < 0 ||
	    sj_string(f, sj_path(fp, p, "destination"), &dest, e) < 0)
		return -1;
	if (!*dest)
		return husk_err(e, 0, "%s: must not be empty", fp);
	/* Relative destinations are deprecated; the spec reads them from "/". */
	m->destination = dest[0] == '/' ? move_ptr(dest) : xasprintf("/%s", dest);
	if (sj_opt_string(v, p, "type", &m->type, e) < 0 ||
	    sj_opt_string(v, p, "source", &m->source, e) < 0)
		return -1;
	if ((f = sj_get(v, "options"))) {
		if (sj_strv(f, sj_path(fp, p, "options"), &m->options, &m->n_options, e) < 0)
			return -1;
	} else {
		m->options = xcalloc(1, sizeof(char *));
	}
	if ((f = sj_get(v, "uidMappings")) &&
	    sj_id_mappings(f, sj_path(fp, p, "uidMappings"), &m->uid_mappings, &m->n_uid_mappings,
			   e) < 0)
		return -1;
	if ((f = sj_get(v, "gidMappings")) &&
	    sj_id_mappings(f, sj_path(fp, p, "gidMappings"), &m->gid_mappings, &m->n_gid_mappings,
			   e) < 0)
		return -1;
	return 0;
}

static int parse_mounts(json_t *v, struct husk_spec *s, struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	size_t i;
	json_t *it;
	if (!json_is_array(v))
		return sj_expected(e, "mounts", "an array");
	s->mounts = xcalloc(json_array_size(v) + 1, sizeof(*s->mounts));
	json_array_foreach(v, i, it) {
		s->n_mounts = i + 1;
		if (parse_mount(it, sj_index(p, "mounts", i), &s->mounts[i], e) < 0)
			return -1;
	}
	return 0;
}

static int parse_hook(json_t *v, const char *p, struct husk_hook *h, struct husk_error *e)
{
	char fp[SJ_PATH_MAX];
	json_t *f;
	if (sj_object(v, p, e) < 0 || require(v, p, "path", &f, e) < 0 ||
	    sj_string(f, sj_path(fp, p, "path"), &h->path, e) < 0)
		return -1;
	if (h->path[0] != '/')
		return husk_err(e, 0, "%s: \"%s\" is not an absolute path", fp, h->path);
	if ((f = sj_get(v, "args")) && sj_strv(f, sj_path(fp, p, "args"), &h->args, NULL, e) < 0)
		return -1;
	if ((f = sj_get(v, "env")) && sj_strv(f, sj_path(fp, p, "env"), &h->env, NULL, e) < 0)
		return -1;
	if ((f = sj_get(v, "timeout"))) {
		int64_t t = 0;
		if (sj_int(f, sj_path(fp, p, "timeout"), 1, INT32_MAX, &t, e) < 0)
			return -1;
		h->timeout = (int)t;
	}
	return 0;
}

int husk_hooks_parse(json_t *v, struct husk_hook_list hooks[HUSK_HOOK__COUNT], struct husk_error *e)
{
	char p[SJ_PATH_MAX], ip[SJ_PATH_MAX];
	if (sj_object(v, "hooks", e) < 0)
		return -1;
	for (int k = 0; k < HUSK_HOOK__COUNT; k++) {
		json_t *list = sj_get(v, hook_names[k]), *it;
		struct husk_hook_list *l = &hooks[k];
		size_t i;
		if (!list)
			continue;
		sj_path(p, "hooks", hook_names[k]);
		if (!json_is_array(list))
			return sj_expected(e, p, "an array");
		l->v = xcalloc(json_array_size(list) + 1, sizeof(*l->v));
		json_array_foreach(list, i, it) {
			l->n = i + 1;
			if (parse_hook(it, sj_index(ip, p, i), &l->v[i], e) < 0)
				return -1;
		}
	}
	return 0;
}

/* ---- linux ---- */

static int parse_namespaces(json_t *v, struct husk_spec *s, struct husk_error *e)
{
	char p[SJ_PATH_MAX], fp[SJ_PATH_MAX];
	size_t i;
	json_t *it, *f;
	if (!json_is_array(v))
		return sj_expected(e, "linux.namespaces", "an array");
	json_array_foreach(v, i, it) {
		_cleanup_free_ char *type = NULL, *path = NULL;
		int t;
		sj_index(p, "linux.namespaces", i);
		if (sj_object(it, p, e) < 0 || require(it, p, "type", &f, e) < 0 ||
		    sj_string(f, sj_path(fp, p, "type"), &type, e) < 0)
			return -1;
		for (t = 0; t < HUSK_NS__COUNT; t++)
			if (strcmp(type, ns_names[t].spec) == 0)
				break;
		if (t == HUSK_NS__COUNT)
			return husk_err(e, 0, "%s: unknown namespace type \"%s\"", fp, type);
		if (s->namespaces[t].present)
			return husk_err(e, 0, "%s: duplicate namespace type \"%s\"", fp, type);
		if (sj_opt_string(it, p, "path", &path, e) < 0)
			return -1;
		if (path && *path && path[0] != '/')
			return husk_err(e, 0, "%s: \"%s\" is not an absolute path",
					sj_path(fp, p, "path"), path);
		s->namespaces[t].present = true;
		if (path && *path)
			s->namespaces[t].path = move_ptr(path);
	}
	return 0;
}

static int parse_time_offsets(json_t *v, struct husk_spec *s, struct husk_error *e)
{
	const char *key;
	json_t *it, *f;
	char p[SJ_PATH_MAX], fp[SJ_PATH_MAX];
	if (sj_object(v, "linux.timeOffsets", e) < 0)
		return -1;
	json_object_foreach(v, key, it) {
		struct husk_time_offset *o;
		sj_path(p, "linux.timeOffsets", key);
		if (strcmp(key, "monotonic") == 0)
			o = &s->time_monotonic;
		else if (strcmp(key, "boottime") == 0)
			o = &s->time_boottime;
		else
			return husk_err(e, 0, "%s: unknown clock \"%s\"", p, key);
		if (sj_object(it, p, e) < 0)
			return -1;
		if ((f = sj_get(it, "secs")) &&
		    sj_int(f, sj_path(fp, p, "secs"), INT64_MIN, INT64_MAX, &o->secs, e) < 0)
			return -1;
		if ((f = sj_get(it, "nanosecs")) &&
		    sj_u32(f, sj_path(fp, p, "nanosecs"), &o->nanosecs, e) < 0)
			return -1;
		if (o->nanosecs >= 1000000000u)
			return husk_err(e, 0, "%s: must be less than 1000000000", fp);
		o->set = true;
	}
	return 0;
}

static int parse_device(json_t *v, const char *p, struct husk_device *d, struct husk_error *e)
{
	char fp[SJ_PATH_MAX];
	json_t *f;
	_cleanup_free_ char *type = NULL;

	if (sj_object(v, p, e) < 0 || require(v, p, "path", &f, e) < 0 ||
	    sj_string(f, sj_path(fp, p, "path"), &d->path, e) < 0)
		return -1;
	if (d->path[0] != '/')
		return husk_err(e, 0, "%s: \"%s\" is not an absolute path", fp, d->path);
	if (require(v, p, "type", &f, e) < 0 || sj_string(f, sj_path(fp, p, "type"), &type, e) < 0)
		return -1;
	if (strlen(type) != 1 || !strchr("cbup", type[0]))
		return husk_err(e, 0, "%s: unknown device type \"%s\"", fp, type);
	d->type = type[0];
	if (d->type != 'p') {
		if (require(v, p, "major", &f, e) < 0 ||
		    sj_int(f, sj_path(fp, p, "major"), 0, UINT32_MAX, &d->major, e) < 0 ||
		    require(v, p, "minor", &f, e) < 0 ||
		    sj_int(f, sj_path(fp, p, "minor"), 0, UINT32_MAX, &d->minor, e) < 0)
			return -1;
	}
	if ((f = sj_get(v, "fileMode"))) {
		if (sj_u32(f, sj_path(fp, p, "fileMode"), &d->file_mode, e) < 0)
			return -1;
		d->file_mode &= 07777; /* the type comes from "type", not from the mode */
		d->has_file_mode = true;
	}
	if ((f = sj_get(v, "uid"))) {
		if (sj_u32(f, sj_path(fp, p, "uid"), &d->uid, e) < 0)
			return -1;
		d->has_uid = true;
	}
	if ((f = sj_get(v, "gid"))) {
		if (sj_u32(f, sj_path(fp, p, "gid"), &d->gid, e) < 0)
			return -1;
		d->has_gid = true;
	}
	return 0;
}

static int parse_devices(json_t *v, struct husk_spec *s, struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	size_t i;
	json_t *it;
	if (!json_is_array(v))
		return sj_expected(e, "linux.devices", "an array");
	s->devices = xcalloc(json_array_size(v) + 1, sizeof(*s->devices));
	json_array_foreach(v, i, it) {
		s->n_devices = i + 1;
		if (parse_device(it, sj_index(p, "linux.devices", i), &s->devices[i], e) < 0)
			return -1;
	}
	return 0;
}

static int parse_propagation(json_t *v, struct husk_spec *s, struct husk_error *e)
{
	static const struct {
		const char *name;
		unsigned long flags;
	} props[] = {
		{ "shared", MS_SHARED },       { "slave", MS_SLAVE },
		{ "private", MS_PRIVATE },     { "unbindable", MS_UNBINDABLE },
		{ "rshared", MS_SHARED | MS_REC }, { "rslave", MS_SLAVE | MS_REC },
		{ "rprivate", MS_PRIVATE | MS_REC }, { "runbindable", MS_UNBINDABLE | MS_REC },
	};
	_cleanup_free_ char *str = NULL;
	if (sj_string(v, "linux.rootfsPropagation", &str, e) < 0)
		return -1;
	if (!*str) /* "" is what Go writes for "not set" */
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(props); i++)
		if (strcmp(str, props[i].name) == 0) {
			s->rootfs_propagation = props[i].flags;
			return 0;
		}
	return husk_err(e, 0, "linux.rootfsPropagation: unknown propagation \"%s\"", str);
}

static int parse_personality(json_t *v, struct husk_spec *s, struct husk_error *e)
{
	json_t *f;
	_cleanup_free_ char *domain = NULL;
	_cleanup_strv_ char **flags = NULL;
	if (sj_object(v, "linux.personality", e) < 0 ||
	    require(v, "linux.personality", "domain", &f, e) < 0 ||
	    sj_string(f, "linux.personality.domain", &domain, e) < 0)
		return -1;
	if (strcmp(domain, "LINUX") == 0)
		s->personality = PER_LINUX;
	else if (strcmp(domain, "LINUX32") == 0)
		s->personality = PER_LINUX32;
	else
		return husk_err(e, 0, "linux.personality.domain: unknown domain \"%s\"", domain);
	/* The spec defines no flag values yet; only the type is checked. */
	if ((f = sj_get(v, "flags")) && sj_strv(f, "linux.personality.flags", &flags, NULL, e) < 0)
		return -1;
	s->has_personality = true;
	return 0;
}

static int parse_linux(json_t *lx, struct husk_spec *s, struct husk_error *e)
{
	json_t *f;
	if (sj_object(lx, "linux", e) < 0)
		return -1;
	s->has_linux = true;
	if ((f = sj_get(lx, "namespaces")) && parse_namespaces(f, s, e) < 0)
		return -1;
	if ((f = sj_get(lx, "uidMappings")) &&
	    sj_id_mappings(f, "linux.uidMappings", &s->uid_mappings, &s->n_uid_mappings, e) < 0)
		return -1;
	if ((f = sj_get(lx, "gidMappings")) &&
	    sj_id_mappings(f, "linux.gidMappings", &s->gid_mappings, &s->n_gid_mappings, e) < 0)
		return -1;
	if ((f = sj_get(lx, "timeOffsets")) && parse_time_offsets(f, s, e) < 0)
		return -1;
	if ((f = sj_get(lx, "devices")) && parse_devices(f, s, e) < 0)
		return -1;
	if (sj_opt_string(lx, "linux", "cgroupsPath", &s->cgroups_path, e) < 0)
		return -1;
	if ((f = sj_get(lx, "resources")) && husk_resources_parse(f, &s->resources, e) < 0)
		return -1;
	if ((f = sj_get(lx, "rootfsPropagation")) && parse_propagation(f, s, e) < 0)
		return -1;
	if ((f = sj_get(lx, "maskedPaths")) &&
	    abs_strv(f, "linux.maskedPaths", &s->masked_paths, &s->n_masked_paths, e) < 0)
		return -1;
	if ((f = sj_get(lx, "readonlyPaths")) &&
	    abs_strv(f, "linux.readonlyPaths", &s->readonly_paths, &s->n_readonly_paths, e) < 0)
		return -1;
	if (sj_opt_string(lx, "linux", "mountLabel", &s->mount_label, e) < 0)
		return -1;
	if ((f = sj_get(lx, "sysctl")) &&
	    sj_kv(f, "linux.sysctl", &s->sysctl, &s->n_sysctl, e) < 0)
		return -1;
	if ((f = sj_get(lx, "personality")) && parse_personality(f, s, e) < 0)
		return -1;
	if ((f = sj_get(lx, "seccomp")) && husk_seccomp_parse(f, "linux.seccomp", &s->seccomp, e) < 0)
		return -1;
	if (husk_spec_parse_v13_linux(lx, s, e) < 0)
		return -1;
	return 0;
}

/* Rules that span fields. */
static int validate(struct husk_spec *s, struct husk_error *e)
{
	const struct husk_namespace *ns = s->namespaces;
	if (s->hostname && !ns[HUSK_NS_UTS].present)
		return husk_err(e, 0, "hostname: requires a uts namespace in linux.namespaces");
	if (s->domainname && !ns[HUSK_NS_UTS].present)
		return husk_err(e, 0, "domainname: requires a uts namespace in linux.namespaces");
	if (!ns[HUSK_NS_USER].present) {
		if (s->n_uid_mappings)
			return husk_err(e, 0,
					"linux.uidMappings: requires a user namespace in linux.namespaces");
		if (s->n_gid_mappings)
			return husk_err(e, 0,
					"linux.gidMappings: requires a user namespace in linux.namespaces");
	} else if (!ns[HUSK_NS_USER].path) {
		if (!s->n_uid_mappings)
			return husk_err(e, 0, "linux.uidMappings: a new user namespace requires uid mappings");
		if (!s->n_gid_mappings)
			return husk_err(e, 0, "linux.gidMappings: a new user namespace requires gid mappings");
	}
	if (s->time_monotonic.set || s->time_boottime.set) {
		if (!ns[HUSK_NS_TIME].present)
			return husk_err(e, 0,
					"linux.timeOffsets: requires a time namespace in linux.namespaces");
		if (ns[HUSK_NS_TIME].path)
			return husk_err(e, 0,
					"linux.timeOffsets: cannot be set when joining an existing time namespace");
	}
	return 0;
}

static int parse_doc(json_t *doc, struct husk_spec *s, struct husk_error *e)
{
	json_t *f;
	if (!json_is_object(doc))
		return husk_err(e, 0, "expected a JSON object");
	if (require(doc, "", "ociVersion", &f, e) < 0 || sj_string(f, "ociVersion", &s->oci_version, e) < 0)
		return -1;
	/* Compatibility is per major version; 0.x predates the 1.0 format. */
	if (strncmp(s->oci_version, "1.", 2) != 0)
		return husk_err(e, 0, "ociVersion: unsupported version \"%s\"", s->oci_version);
	if (parse_root(doc, s, e) < 0)
		return -1;
	if ((f = sj_get(doc, "process")) && husk_process_parse(f, "process", &s->process, e) < 0)
		return -1;
	if (sj_opt_string(doc, "", "hostname", &s->hostname, e) < 0 ||
	    sj_opt_string(doc, "", "domainname", &s->domainname, e) < 0)
		return -1;
	/* Go writes "" for an unset hostname; it sets nothing. */
	if (s->hostname && !*s->hostname) {
		free(s->hostname);
		s->hostname = NULL;
	}
	if (s->domainname && !*s->domainname) {
		free(s->domainname);
		s->domainname = NULL;
	}
	if ((f = sj_get(doc, "mounts")) && parse_mounts(f, s, e) < 0)
		return -1;
	if ((f = sj_get(doc, "hooks")) && husk_hooks_parse(f, s->hooks, e) < 0)
		return -1;
	if ((f = sj_get(doc, "annotations"))) {
		if (sj_kv(f, "annotations", &s->annotations, &s->n_annotations, e) < 0)
			return -1;
		for (size_t i = 0; i < s->n_annotations; i++)
			if (!*s->annotations[i].key)
				return husk_err(e, 0, "annotations: keys must not be empty");
	}
	if ((f = sj_get(doc, "linux")) && parse_linux(f, s, e) < 0)
		return -1;
	return validate(s, e);
}

static int parse_buf(const char *text, size_t len, const char *bundle, struct husk_spec **out,
		     struct husk_error *e)
{
	json_error_t jerr;
	json_t *doc = json_loadb(text, len, 0, &jerr);
	/* Limits like RLIM_INFINITY overflow json_int_t: decode those documents
	 * with reals, which the accessors accept when integral. */
	if (!doc && json_error_code(&jerr) == json_error_numeric_overflow)
		doc = json_loadb(text, len, JSON_DECODE_INT_AS_REAL, &jerr);
	if (!doc)
		return husk_err(e, 0, "config.json: line %d column %d: %s", jerr.line, jerr.column,
				jerr.text);

	struct husk_spec *s = xcalloc(1, sizeof(*s));
	int r = abs_bundle(bundle, &s->bundle, e);
	if (r == 0 && parse_doc(doc, s, e) < 0)
		r = husk_err_wrap(e, "config.json");
	s->doc = doc;
	if (r < 0) {
		husk_spec_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

int husk_spec_parse_string(const char *text, const char *bundle, struct husk_spec **out,
			   struct husk_error *e)
{
	return parse_buf(text, strlen(text), bundle, out, e);
}

int husk_spec_load(const char *bundle, struct husk_spec **out, struct husk_error *e)
{
	_cleanup_free_ char *dir = NULL, *path = NULL, *text = NULL;
	size_t len;
	if (abs_bundle(bundle, &dir, e) < 0)
		return -1;
	path = xasprintf("%s/config.json", strcmp(dir, "/") == 0 ? "" : dir);
	if (husk_read_file_at(AT_FDCWD, path, &text, &len, e) < 0)
		return -1;
	return parse_buf(text, len, dir, out, e);
}
