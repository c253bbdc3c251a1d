/* Reading an image source: an OCI layout (index.json, possibly nested
 * indexes, one manifest picked by platform) or a docker-save tree
 * (manifest.json).  Manifests and configs are verified against their
 * digests; what is left for the layers is a plan per image. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "image_internal.h"
#include "json_get.h"
#include "log.h"
#include "util.h"

#define JSON_MAX (16 << 20)   /* manifests, indexes and configs are small */

const char *husk_host_platform(void)
{
	static char buf[64];
	static const struct { const char *m, *p; } map[] = {
		{ "x86_64", "amd64" }, { "aarch64", "arm64" }, { "armv7l", "arm/v7" },
		{ "armv6l", "arm/v6" }, { "i686", "386" }, { "ppc64le", "ppc64le" },
		{ "s390x", "s390x" }, { "riscv64", "riscv64" },
	};
	struct utsname u;
	const char *arch = "amd64";
	if (uname(&u) == 0)
		for (size_t i = 0; i < ARRAY_SIZE(map); i++)
			if (strcmp(u.machine, map[i].m) == 0)
				arch = map[i].p;
	snprintf(buf, sizeof(buf), "linux/%s", arch);
	return buf;
}

int husk_src_open(int srcfd, const char *rel, struct husk_error *e)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, srcfd, rel, &how, sizeof(how));
	if (fd < 0)
		return husk_errno(e, "%s", rel);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return husk_err(e, 0, "%s: not a regular file", rel);
	}
	return fd;
}

/* A small file of the source; its sha256 into hex when hex is not NULL. */
static int read_small(int srcfd, const char *rel, char **out, size_t *len, char *hex,
		      struct husk_error *e)
{
	_cleanup_fd_ int fd = husk_src_open(srcfd, rel, e);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return husk_errno(e, "%s", rel);
	if (st.st_size > JSON_MAX)
		return husk_err(e, 0, "%s: too large (%lld bytes)", rel, (long long)st.st_size);
	char *buf = xmalloc((size_t)st.st_size + 1);
	ssize_t n = husk_read_all(fd, buf, (size_t)st.st_size);
	if (n < 0) {
		free(buf);
		return husk_errno(e, "read %s", rel);
	}
	buf[n] = '\0';
	if (hex)
		husk_sha256_buf_hex(buf, (size_t)n, hex);
	*out = buf;
	*len = (size_t)n;
	return 0;
}

static int parse_json(const char *what, const char *text, size_t len, json_t **out,
		      struct husk_error *e)
{
	json_error_t je;
	*out = json_loadb(text, len, 0, &je);
	if (!*out)
		return husk_err(e, 0, "%s: not JSON: %s (line %d)", what, je.text, je.line);
	if (!json_is_object(*out)) {
		json_decref(*out);
		return husk_err(e, 0, "%s: not a JSON object", what);
	}
	return 0;
}

/* A descriptor's blob: read, checked against digest and size. */
static int read_desc(int srcfd, json_t *desc, const char *what, char **out, size_t *len, char *hex,
		     struct husk_error *e)
{
	const char *dg = json_string_value(sj_get(desc, "digest"));
	if (!husk_digest_parse(dg, hex))
		return husk_err(e, 0, "%s: digest \"%s\": only sha256 digests are supported", what,
				dg ? dg : "");
	char rel[16 + HUSK_HEX_LEN], got[HUSK_HEX_LEN + 1];
	snprintf(rel, sizeof(rel), "blobs/sha256/%s", hex);
	if (read_small(srcfd, rel, out, len, got, e) < 0)
		return husk_err_wrap(e, "%s", what);
	json_t *sz = sj_get(desc, "size");
	if (strcmp(got, hex) != 0 || (json_is_integer(sz) && (size_t)json_integer_value(sz) != *len)) {
		free(*out);
		*out = NULL;
		return husk_err(e, 0, "%s: digest mismatch: the blob is sha256:%s", what, got);
	}
	return 0;
}

/* The config's diff_ids into the plan's layers (as many as the manifest's). */
static int plan_config(struct husk_plan *p, struct husk_error *e)
{
	json_t *cfg;
	if (parse_json("image config", p->config, p->config_len, &cfg, e) < 0)
		return -1;
	json_t *rootfs = sj_get(cfg, "rootfs");
	json_t *ids = rootfs ? sj_get(rootfs, "diff_ids") : NULL;
	int r = -1;
	if (!json_is_array(ids) || json_array_size(ids) != p->nlayers) {
		husk_err(e, 0, "image config: rootfs.diff_ids: expected %zu layer digests", p->nlayers);
		goto out;
	}
	struct husk_image probe = { 0 };
	if (husk_image_parse_config(cfg, &probe, e) < 0) {
		husk_err_wrap(e, "image config");
		goto out_probe;
	}
	for (size_t i = 0; i < p->nlayers; i++) {
		struct husk_plan_layer *l = &p->layers[i];
		if (!husk_digest_parse(json_string_value(json_array_get(ids, i)), l->diff_hex)) {
			husk_err(e, 0, "image config: rootfs.diff_ids[%zu]: not a sha256 digest", i);
			goto out_probe;
		}
		husk_chain_id(i ? p->layers[i - 1].chain_hex : NULL, l->diff_hex, l->chain_hex);
	}
	r = 0;
out_probe:
	husk_strv_free(probe.entrypoint);
	husk_strv_free(probe.cmd);
	husk_strv_free(probe.env);
	free(probe.workdir);
	free(probe.user);
	free(probe.created);
	free(probe.os);
	free(probe.arch);
out:
	json_decref(cfg);
	return r;
}

static void add_name(struct husk_plan *p, const char *ref)
{
	_cleanup_free_ char *norm = NULL;
	const char *msg;
	if (husk_ref_normalize(ref, &norm, &msg) < 0) {
		husk_warn("image: name \"%s\" in the archive ignored: %s", ref, msg);
		return;
	}
	size_t n = husk_strv_len(p->names);
	for (size_t i = 0; i < n; i++)
		if (strcmp(p->names[i], norm) == 0)
			return;
	p->names = xrealloc(p->names, (n + 2) * sizeof(char *));
	p->names[n] = move_ptr(norm);
	p->names[n + 1] = NULL;
}

/* --- OCI layout ------------------------------------------------------------------ */

static bool is_index_type(const char *mt)
{
	return mt && (!strcmp(mt, "application/vnd.oci.image.index.v1+json") ||
		      !strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json"));
}

static bool platform_matches(json_t *desc, const char *want)
{
	json_t *pl = sj_get(desc, "platform");
	if (!pl)
		return false;
	const char *os = json_string_value(sj_get(pl, "os"));
	const char *arch = json_string_value(sj_get(pl, "architecture"));
	const char *var = json_string_value(sj_get(pl, "variant"));
	if (!os || !arch)
		return false;
	char buf[256];
	if (var && *var) {
		snprintf(buf, sizeof(buf), "%s/%s/%s", os, arch, var);
		if (!strcmp(buf, want))
			return true;
	}
	snprintf(buf, sizeof(buf), "%s/%s", os, arch);
	return !strcmp(buf, want);
}

/* Every image-manifest descriptor of an index, nested indexes flattened
 * (new references appended to out). */
static int collect(int srcfd, json_t *index, int depth, json_t *out, struct husk_error *e)
{
	json_t *ms = sj_get(index, "manifests");
	if (!json_is_array(ms))
		return husk_err(e, 0, "index.json: manifests: expected an array");
	size_t i;
	json_t *d;
	json_array_foreach(ms, i, d) {
		const char *mt = json_string_value(sj_get(d, "mediaType"));
		if (!is_index_type(mt)) {
			json_array_append(out, d);
			continue;
		}
		if (depth > 4)
			return husk_err(e, 0, "index.json: indexes nested too deeply");
		_cleanup_free_ char *text = NULL;
		size_t len;
		char hex[HUSK_HEX_LEN + 1];
		json_t *sub;
		if (read_desc(srcfd, d, "nested index", &text, &len, hex, e) < 0 ||
		    parse_json("nested index", text, len, &sub, e) < 0)
			return -1;
		int r = collect(srcfd, sub, depth + 1, out, e);
		json_decref(sub);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* The one manifest descriptor for platform: the only one there is, or
 * the first whose platform matches. */
static json_t *pick(json_t *descs, const char *platform, bool explicit, struct husk_error *e)
{
	size_t n = json_array_size(descs);
	if (n == 0) {
		husk_err(e, 0, "index.json: no image manifest");
		return NULL;
	}
	if (n == 1 && (!explicit || !sj_get(json_array_get(descs, 0), "platform")))
		return json_array_get(descs, 0);
	size_t i;
	json_t *d;
	json_array_foreach(descs, i, d)
		if (platform_matches(d, platform))
			return d;
	husk_err(e, 0, "no image for platform %s in the index (--platform picks another)", platform);
	return NULL;
}

static int oci_layers(json_t *man, struct husk_plan *p, struct husk_error *e)
{
	json_t *ls = sj_get(man, "layers");
	if (!json_is_array(ls))
		return husk_err(e, 0, "manifest: layers: expected an array");
	p->nlayers = json_array_size(ls);
	p->layers = xcalloc(p->nlayers + 1, sizeof(*p->layers));
	for (size_t i = 0; i < p->nlayers; i++) {
		json_t *d = json_array_get(ls, i);
		struct husk_plan_layer *l = &p->layers[i];
		const char *mt = json_string_value(sj_get(d, "mediaType"));
		if (!mt || !strstr(mt, "tar") || strstr(mt, "encrypted"))
			return husk_err(e, 0, "manifest: layers[%zu]: unsupported media type \"%s\"", i,
					mt ? mt : "");
		if (!husk_digest_parse(json_string_value(sj_get(d, "digest")), l->blob_hex))
			return husk_err(e, 0, "manifest: layers[%zu]: not a sha256 digest", i);
		json_t *sz = sj_get(d, "size");
		l->size = json_is_integer(sz) ? json_integer_value(sz) : -1;
		l->path = xasprintf("blobs/sha256/%s", l->blob_hex);
	}
	return 0;
}

/* The name an OCI index entry gives: containerd's full name, else a
 * ref.name that is more than a bare tag. */
static void oci_names(json_t *desc, struct husk_plan *p)
{
	json_t *an = sj_get(desc, "annotations");
	const char *full = json_string_value(sj_get(an, "io.containerd.image.name"));
	const char *ref = json_string_value(sj_get(an, "org.opencontainers.image.ref.name"));
	if (full)
		add_name(p, full);
	else if (ref && (strchr(ref, '/') || strchr(ref, ':')))
		add_name(p, ref);
}

static int read_oci(int srcfd, const char *platform, bool explicit, struct husk_plan *p,
		    struct husk_error *e)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	json_t *index = NULL, *descs = json_array(), *man = NULL, *cfgd;
	int r = -1;
	if (read_small(srcfd, "index.json", &text, &len, NULL, e) < 0 ||
	    parse_json("index.json", text, len, &index, e) < 0 || collect(srcfd, index, 0, descs, e) < 0)
		goto out;
	json_t *d = pick(descs, platform, explicit, e);
	if (!d || read_desc(srcfd, d, "manifest", &p->manifest, &p->manifest_len, p->manifest_hex, e) < 0 ||
	    parse_json("manifest", p->manifest, p->manifest_len, &man, e) < 0)
		goto out;
	oci_names(d, p);
	cfgd = sj_get(man, "config");
	if (!json_is_object(cfgd)) {
		husk_err(e, 0, "manifest: config: expected a descriptor");
		goto out;
	}
	if (read_desc(srcfd, cfgd, "config", &p->config, &p->config_len, p->id, e) < 0 ||
	    oci_layers(man, p, e) < 0 || plan_config(p, e) < 0)
		goto out;
	r = 0;
out:
	json_decref(index);
	json_decref(descs);
	json_decref(man);
	return r;
}

/* --- docker save ------------------------------------------------------------------- */

/* "blobs/sha256/<hex>" or "<hex>.json" / "<hex>/layer.tar": the digest
 * the name promises, when it promises one. */
static void hex_of_path(const char *path, char *hex)
{
	hex[0] = '\0';
	const char *b = strncmp(path, "blobs/sha256/", 13) == 0 ? path + 13 : NULL;
	if (b && husk_hex_valid(b))
		memcpy(hex, b, HUSK_HEX_LEN + 1);
}

static int docker_entry(int srcfd, json_t *ent, struct husk_plan *p, struct husk_error *e)
{
	const char *cfg = json_string_value(sj_get(ent, "Config"));
	json_t *ls = sj_get(ent, "Layers"), *tags = sj_get(ent, "RepoTags");
	if (!cfg || !json_is_array(ls))
		return husk_err(e, 0, "manifest.json: an entry without Config and Layers");
	char want[HUSK_HEX_LEN + 1];
	hex_of_path(cfg, want);
	if (strlen(cfg) == HUSK_HEX_LEN + 5 && !strcmp(cfg + HUSK_HEX_LEN, ".json")) {
		memcpy(want, cfg, HUSK_HEX_LEN);
		want[HUSK_HEX_LEN] = '\0';
	}
	if (read_small(srcfd, cfg, &p->config, &p->config_len, p->id, e) < 0)
		return husk_err_wrap(e, "config");
	if (want[0] && strcmp(want, p->id) != 0)
		return husk_err(e, 0, "config %s: digest mismatch: the blob is sha256:%s", cfg, p->id);
	p->nlayers = json_array_size(ls);
	p->layers = xcalloc(p->nlayers + 1, sizeof(*p->layers));
	for (size_t i = 0; i < p->nlayers; i++) {
		const char *lp = json_string_value(json_array_get(ls, i));
		if (!lp)
			return husk_err(e, 0, "manifest.json: Layers[%zu]: expected a path", i);
		p->layers[i].path = xstrdup(lp);
		p->layers[i].size = -1;
		hex_of_path(lp, p->layers[i].blob_hex);
	}
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t)
		if (json_is_string(t))
			add_name(p, json_string_value(t));
	return plan_config(p, e);
}

static int read_docker(int srcfd, struct husk_plan **plans, size_t *n, struct husk_error *e)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	json_error_t je;
	if (read_small(srcfd, "manifest.json", &text, &len, NULL, e) < 0)
		return -1;
	json_t *m = json_loadb(text, len, 0, &je);
	if (!json_is_array(m) || json_array_size(m) == 0) {
		json_decref(m);
		return husk_err(e, 0, "manifest.json: expected a non-empty array");
	}
	*n = json_array_size(m);
	*plans = xcalloc(*n, sizeof(**plans));
	for (size_t i = 0; i < *n; i++) {
		if (docker_entry(srcfd, json_array_get(m, i), &(*plans)[i], e) < 0) {
			json_decref(m);
			return husk_err_wrap(e, "manifest.json[%zu]", i);
		}
	}
	json_decref(m);
	return 0;
}

int husk_plans_read(int srcfd, const char *platform, struct husk_plan **plans, size_t *n,
		    struct husk_error *e)
{
	struct stat st;
	*plans = NULL;
	*n = 0;
	if (fstatat(srcfd, "manifest.json", &st, 0) == 0)
		return read_docker(srcfd, plans, n, e);
	if (fstatat(srcfd, "index.json", &st, 0) < 0)
		return husk_err(e, 0, "not an image: neither an OCI layout (index.json) nor a "
				"docker-save archive (manifest.json)");
	*plans = xcalloc(1, sizeof(**plans));
	*n = 1;
	return read_oci(srcfd, platform ? platform : husk_host_platform(), platform != NULL, *plans, e);
}

void husk_plans_free(struct husk_plan *plans, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct husk_plan *p = &plans[i];
		free(p->config);
		free(p->manifest);
		husk_strv_free(p->names);
		for (size_t j = 0; j < p->nlayers; j++)
			free(p->layers[j].path);
		free(p->layers);
	}
	free(plans);
}
