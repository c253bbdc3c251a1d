/* husk image import: the source opened (a directory, or an archive
 * unpacked into the operation's temp dir), plans read, each layer the
 * store lacks extracted into the temp dir and verified, then everything
 * renamed into place under the store lock; the name index last. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image_internal.h"
#include "json_get.h"
#include "log.h"
#include "rootless.h"
#include "util.h"

struct import {
	struct husk_image_store *s;
	struct husk_tmp tmp;
	int srcfd;
	struct husk_plan *plans;
	size_t nplans;
	struct husk_progress prog;
	struct husk_layer_warned warned;
};

static int open_source(struct import *im, const char *path, struct husk_error *e)
{
	_cleanup_fd_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return husk_errno(e, "%s", path);
	if (S_ISDIR(st.st_mode)) {
		im->srcfd = move_fd(&fd);
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return husk_err(e, 0, "%s: not a file or directory", path);
	if (mkdirat(im->tmp.fd, "src", 0700) < 0)
		return husk_errno(e, "create %s/%s/src", im->s->root, im->tmp.name);
	im->srcfd = openat(im->tmp.fd, "src", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (im->srcfd < 0)
		return husk_errno(e, "open %s/%s/src", im->s->root, im->tmp.name);
	if (husk_layer_extract_plain(fd, im->srcfd, e) < 0)
		return husk_err_wrap(e, "%s: not an image archive", path);
	return 0;
}

/* Is the layer already here (in the store, or extracted earlier in this
 * import)? */
static bool have_layer(struct import *im, const char *chain)
{
	char rel[16 + HUSK_HEX_LEN];
	snprintf(rel, sizeof(rel), "layers/%s", chain);
	struct stat st;
	return husk_store_exists(im->s, rel) || fstatat(im->tmp.fd, chain, &st, 0) == 0;
}

static int write_layer_json(int dirfd, const struct husk_plan *p, size_t i, uint64_t size,
			    struct husk_error *e)
{
	json_t *o = json_pack("{s:s+, s:I}", "diff_id", "sha256:", p->layers[i].diff_hex, "size",
			      (json_int_t)size);
	if (i)
		json_object_set_new(o, "parent", json_sprintf("sha256:%s", p->layers[i - 1].chain_hex));
	_cleanup_free_ char *text = json_dumps(o, JSON_INDENT(1));
	json_decref(o);
	return husk_write_file_atomic_at(dirfd, "layer.json", text, strlen(text), 0644, e);
}

static int verify(const struct husk_plan_layer *l, const struct husk_layer_result *res,
		  struct husk_error *e)
{
	if (l->blob_hex[0] && strcmp(l->blob_hex, res->blob_hex) != 0)
		return husk_err(e, 0, "digest mismatch: the blob is sha256:%s", res->blob_hex);
	if (l->size >= 0 && (uint64_t)l->size != res->blob_size)
		return husk_err(e, 0, "size mismatch: %llu bytes, the manifest says %lld",
				(unsigned long long)res->blob_size, (long long)l->size);
	if (strcmp(l->diff_hex, res->diff_hex) != 0)
		return husk_err(e, 0, "diff_id mismatch: the uncompressed layer is sha256:%s, the "
				"config says sha256:%s", res->diff_hex, l->diff_hex);
	return 0;
}

/* One layer's extraction, run in the mapped user namespace for a mapped
 * store: out (progress and results) comes back from there. */
struct extract_call {
	const struct husk_image_store *s;
	int blob, diff;
	struct {
		struct husk_progress prog;
		struct husk_layer_result res;
	} out;
};

static int extract_fn(void *arg, struct husk_error *e)
{
	struct extract_call *x = arg;
	return husk_layer_extract(x->s, x->blob, x->diff, &x->out.prog, &x->out.res, e);
}

/* Layer i of plan p into tmp/<chain>/diff, with its layer.json. */
static int extract_layer(struct import *im, const struct husk_plan *p, size_t i,
			 struct husk_error *e)
{
	const struct husk_plan_layer *l = &p->layers[i];
	_cleanup_fd_ int blob = husk_src_open(im->srcfd, l->path, e);
	if (blob < 0)
		return -1;
	if (mkdirat(im->tmp.fd, l->chain_hex, 0711) < 0)
		return husk_errno(e, "create a layer directory");
	_cleanup_fd_ int ldir = openat(im->tmp.fd, l->chain_hex, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ldir < 0 || mkdirat(ldir, "diff", 0755) < 0)
		return husk_errno(e, "create a layer directory");
	_cleanup_fd_ int diff = openat(ldir, "diff", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (diff < 0)
		return husk_errno(e, "open a layer directory");
	struct extract_call x = { .s = im->s, .blob = blob, .diff = diff,
				  .out = { .prog = im->prog, .res = { .warned = im->warned } } };
	int r = im->s->mapped ? husk_userns_call(extract_fn, &x, &x.out, sizeof(x.out), e)
			      : extract_fn(&x, e);
	/* a bar the child drew: the next message clears or ends it */
	if (im->s->mapped && im->prog.on && (r < 0 || x.out.prog.last_ns))
		husk_log_line_drawn(true);
	if (r < 0)
		return -1;
	im->prog = x.out.prog;
	im->warned = x.out.res.warned;
	if (verify(l, &x.out.res, e) < 0)
		return -1;
	return write_layer_json(ldir, p, i, x.out.res.size, e);
}

static int extract_all(struct import *im, struct husk_error *e)
{
	for (size_t k = 0; k < im->nplans; k++) {
		struct husk_plan *p = &im->plans[k];
		for (size_t i = 0; i < p->nlayers; i++) {
			if (have_layer(im, p->layers[i].chain_hex))
				continue;
			const struct husk_plan_layer *l = &p->layers[i];
			if (extract_layer(im, p, i, e) < 0)
				return husk_err_wrap(e, "layer %zu of %zu (sha256:%.12s)", i + 1, p->nlayers,
						     l->blob_hex[0] ? l->blob_hex : l->diff_hex);
		}
	}
	return 0;
}

/* Compressed bytes the layers still to extract will take to read. */
static void progress_total(struct import *im)
{
	for (size_t k = 0; k < im->nplans; k++)
		for (size_t i = 0; i < im->plans[k].nlayers; i++) {
			const struct husk_plan_layer *l = &im->plans[k].layers[i];
			char rel[16 + HUSK_HEX_LEN];
			snprintf(rel, sizeof(rel), "layers/%s", l->chain_hex);
			struct stat st;
			_cleanup_fd_ int fd = -1;
			if (husk_store_exists(im->s, rel))
				continue;
			if (l->size >= 0)
				im->prog.total += (uint64_t)l->size;
			else if ((fd = husk_src_open(im->srcfd, l->path, &(struct husk_error){ 0 })) >= 0 &&
				 fstat(fd, &st) == 0)
				im->prog.total += (uint64_t)st.st_size;
		}
}

/* A blob (manifest or config) into blobs/sha256/, via the temp dir. */
static int put_blob(struct import *im, const char *hex, const char *buf, size_t len,
		    struct husk_error *e)
{
	char rel[16 + HUSK_HEX_LEN];
	snprintf(rel, sizeof(rel), "blobs/sha256/%s", hex);
	if (husk_store_exists(im->s, rel))
		return 0;
	if (husk_write_file_atomic_at(im->tmp.fd, hex, buf, len, 0644, e) < 0 ||
	    renameat(im->tmp.fd, hex, im->s->dirfd, rel) < 0)
		return husk_err_wrap(e, "store blob sha256:%s", hex);
	return 0;
}

static uint64_t layer_size(struct husk_image_store *s, const char *chain)
{
	_cleanup_free_ char *rel = xasprintf("layers/%s/layer.json", chain);
	json_t *o;
	struct husk_error e = { 0 };
	if (husk_store_read_json(s, rel, &o, &e) < 0)
		return 0;
	json_t *sz = sj_get(o, "size");
	uint64_t n = json_is_integer(sz) ? (uint64_t)json_integer_value(sz) : 0;
	json_decref(o);
	return n;
}

static int put_image(struct import *im, const struct husk_plan *p, struct husk_error *e)
{
	_cleanup_free_ char *rel = xasprintf("images/%s", p->id);
	if (husk_store_exists(im->s, rel))
		return 0; /* the same config: the same image */
	json_t *layers = json_array();
	uint64_t size = 0;
	for (size_t i = 0; i < p->nlayers; i++) {
		json_array_append_new(layers, json_string(p->layers[i].chain_hex));
		size += layer_size(im->s, p->layers[i].chain_hex);
	}
	char now[64];
	husk_rfc3339_now(now, sizeof(now));
	json_t *o = json_pack("{s:s+, s:o, s:I, s:s}", "config", "sha256:", p->id, "layers", layers,
			      "size", (json_int_t)size, "imported", now);
	if (p->manifest_hex[0])
		json_object_set_new(o, "manifest", json_sprintf("sha256:%s", p->manifest_hex));
	_cleanup_free_ char *text = json_dumps(o, JSON_INDENT(1));
	json_decref(o);
	char dir[8 + HUSK_HEX_LEN];
	snprintf(dir, sizeof(dir), "image-%.12s", p->id);
	_cleanup_fd_ int fd = -1;
	if (mkdirat(im->tmp.fd, dir, 0700) < 0 ||
	    (fd = openat(im->tmp.fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return husk_errno(e, "create image record");
	if (husk_write_file_atomic_at(fd, "image.json", text, strlen(text), 0644, e) < 0)
		return -1;
	if (renameat(im->tmp.fd, dir, im->s->dirfd, rel) < 0)
		return husk_errno(e, "store image %.12s", p->id);
	return 0;
}

/* Layers, blobs, image records, then names: an interruption before the
 * index write leaves only what prune removes. */
static int commit_plan(struct import *im, const struct husk_plan *p, struct husk_error *e)
{
	for (size_t i = 0; i < p->nlayers; i++) {
		const char *c = p->layers[i].chain_hex;
		char rel[16 + HUSK_HEX_LEN];
		snprintf(rel, sizeof(rel), "layers/%s", c);
		struct stat st;
		if (fstatat(im->tmp.fd, c, &st, 0) == 0 && !husk_store_exists(im->s, rel) &&
		    renameat(im->tmp.fd, c, im->s->dirfd, rel) < 0)
			return husk_errno(e, "store layer %.12s", c);
		if (!husk_store_exists(im->s, rel))
			return husk_err(e, 0, "layer %.12s was pruned during the import; import again", c);
	}
	if (p->manifest_hex[0] && put_blob(im, p->manifest_hex, p->manifest, p->manifest_len, e) < 0)
		return -1;
	if (put_blob(im, p->id, p->config, p->config_len, e) < 0)
		return -1;
	return put_image(im, p, e);
}

static int commit(struct import *im, const char *name, char ***ids, struct husk_error *e)
{
	json_t *names;
	if (husk_names_read(im->s, &names, e) < 0)
		return -1;
	*ids = xcalloc(im->nplans + 1, sizeof(char *));
	int r = -1;
	for (size_t k = 0; k < im->nplans; k++) {
		struct husk_plan *p = &im->plans[k];
		if (commit_plan(im, p, e) < 0)
			goto out;
		(*ids)[k] = xstrdup(p->id);
		if (name)
			json_object_set_new(names, name, json_string(p->id));
		for (char **n = p->names; !name && n && *n; n++)
			json_object_set_new(names, *n, json_string(p->id));
	}
	r = husk_names_write(im->s, names, e);
out:
	json_decref(names);
	return r;
}

int husk_image_import(struct husk_image_store *s, const char *path,
		      const struct husk_import_opts *o, char ***ids, struct husk_error *e)
{
	struct import im = { .s = s, .srcfd = -1, .tmp = { .fd = -1, .lockfd = -1 } };
	_cleanup_free_ char *name = NULL;
	const char *msg;
	*ids = NULL;
	if (o->name && husk_ref_normalize(o->name, &name, &msg) < 0)
		return husk_err(e, 0, "--name %s: %s", o->name, msg);
	if (husk_image_store_lock(s, true, e) < 0)
		return -1;
	int r = husk_tmp_create(s, &im.tmp, e);
	husk_image_store_unlock(s);
	if (r < 0)
		return -1;
	r = -1;
	if (open_source(&im, path, e) < 0 ||
	    husk_plans_read(im.srcfd, o->platform, &im.plans, &im.nplans, e) < 0)
		goto out;
	if (name && im.nplans > 1) {
		husk_err(e, 0, "%s holds %zu images: --name can name only one", path, im.nplans);
		goto out;
	}
	im.prog.on = o->progress;
	progress_total(&im);
	if (extract_all(&im, e) < 0)
		goto out;
	husk_progress_end(&im.prog);
	if (husk_image_store_lock(s, true, e) < 0)
		goto out;
	r = commit(&im, name, ids, e);
	husk_image_store_unlock(s);
out:
	if (r < 0 && *ids) {
		husk_strv_free(*ids);
		*ids = NULL;
	}
	husk_closep(&im.srcfd);
	husk_plans_free(im.plans, im.nplans);
	husk_tmp_remove(s, &im.tmp);
	return r;
}
