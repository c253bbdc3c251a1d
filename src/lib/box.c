#include "box.h"
#include "box_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "isolation.h"
#include "image/image.h"
#include "spec.h"
#include "storage.h"
#include "util.h"

void box_add_file(struct box *b, const char *name, char *content)
{
	if (b->n_files == BOX_MAX_FILES)
		abort(); /* a programming error: raise BOX_MAX_FILES */
	b->files[b->n_files++] = (struct husk_state_file){ .name = name, .content = content };
}

/* <root>/<id>, absolute: the generated files' mount sources. */
static char *state_dir_path(const struct husk_global_opts *g, const char *id)
{
	const char *root = husk_root_of(g);
	if (root[0] == '/')
		return xasprintf("%s/%s", root, id);
	_cleanup_free_ char *cwd = getcwd(NULL, 0);
	return xasprintf("%s/%s/%s", cwd ? cwd : ".", root, id);
}

/* The default config, adjusted by each concern in turn. */
static char *box_config(struct box *b, struct husk_error *e)
{
	_cleanup_free_ char *def = husk_spec_default_json(false);
	b->doc = json_loads(def, 0, NULL);
	json_t *root = json_object_get(b->doc, "root");
	json_object_set_new(root, "path", json_string(b->rootfs));
	json_object_set_new(root, "readonly", json_boolean(b->o->read_only));
	b->iso = husk_isolation_find(b->o->isolation, e);
	if (!b->iso || b->iso->check(b->o, e) < 0)
		return NULL;
	if (box_rootless(b, e) < 0 || box_userns(b, e) < 0 || box_process(b, e) < 0 ||
	    box_resources(b, e) < 0 ||
	    box_mounts(b, e) < 0)
		return NULL;
	if (b->iso->config(b, e) < 0)
		return NULL;
	return json_dumps(b->doc, 0);
}

/* 0 found and executable, else 126/127: CMD resolved inside the root
 * only (its symlinks cannot lead out; an image's through its layers). */
static int check_cmd(const struct box *b, const char *cmd, const char *path)
{
	_cleanup_free_ char *dirs = xstrdup(strchr(cmd, '/') ? "" : path);
	int best = HUSK_BOX_EXIT_NOTFOUND;
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); ; d = strtok_r(NULL, ":", &save)) {
		if (!strchr(cmd, '/') && !d)
			break;
		_cleanup_free_ char *p = strchr(cmd, '/') ? xstrdup(cmd) : xasprintf("%s/%s", d, cmd);
		int fd = box_root_open(b, p, O_PATH);
		struct stat st;
		if (fd >= 0 && fstat(fd, &st) == 0) {
			close(fd);
			if (S_ISREG(st.st_mode) && (st.st_mode & 0111))
				return 0;
			best = HUSK_BOX_EXIT_NOEXEC;
		} else if (fd >= 0) {
			close(fd);
		}
		if (strchr(cmd, '/'))
			break;
	}
	return best;
}

static char *gen_id(void)
{
	unsigned char b[6] = { 0 };
	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		b[0] = (unsigned char)getpid();
	return xasprintf("box-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
}

static void box_free(struct box *b)
{
	box_image_close(b);
	husk_closep(&b->rootfd);
	json_decref(b->doc);
	free(b->state_dir);
	for (size_t i = 0; i < b->n_files; i++)
		free((char *)b->files[i].content);
}

/* ROOTFS, a directory; or else an image, whose root the storage driver
 * makes in the state directory. */
static int box_root(struct box *b, const struct husk_storage_ops *storage, struct husk_error *e)
{
	const struct husk_box_opts *o = b->o;
	if (!b->rootfs) {
		if (o->rootfs_rw)
			return husk_err(e, 0, "--rootfs-rw: %s is not a directory (an image's layers are "
					      "never written)", o->rootfs);
		if (box_image_open(b, e) < 0)
			return -1;
		b->rootfs = b->image_root = xasprintf("%s/%s", b->state_dir, storage->root_name);
		return 0;
	}
	if (o->rootfs_rw && o->storage)
		return husk_err(e, 0, "--storage: not with --rootfs-rw (ROOTFS itself is the root)");
	b->rootfd = open(b->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (b->rootfd < 0)
		return husk_errno(e, "rootfs %s", o->rootfs);
	return 0;
}

static int box_run(struct box *b, int *exit_status, struct husk_error *e)
{
	const struct husk_box_opts *o = b->o;
	const struct husk_storage_ops *storage = husk_storage_find(o->storage);
	if (!storage)
		return husk_err(e, 0, "--storage %s: expected one of %s", o->storage,
				husk_storage_names());
	b->state_dir = state_dir_path(b->g, b->id);
	if (box_root(b, storage, e) < 0)
		return -1;
	/* The options first: a bad -v is 125 even when CMD is missing too. */
	_cleanup_free_ char *json = box_config(b, e);
	if (!json)
		return -1;
	if (o->print_config) {
		_cleanup_free_ char *pretty = json_dumps(b->doc, JSON_INDENT(2));
		printf("%s\n", pretty);
		*exit_status = 0;
		return 0;
	}
	const char *cmd = box_cmd(b);
	int c = check_cmd(b, cmd, box_env_path(b));
	if (c) {
		*exit_status = c;
		return husk_err(e, 0, "%s: %s in %s", cmd,
				c == HUSK_BOX_EXIT_NOEXEC ? "not executable" : "not found", o->rootfs);
	}
	if (box_stdin(o, e) < 0)
		return -1;
	const char *one[] = { b->rootfs };
	struct husk_create_opts co = {
		.id = b->id,
		.bundle = b->img ? b->state_dir : b->rootfs,
		.detach = o->detach,
		.spec_json = json,
		.storage = o->rootfs_rw ? NULL : storage,
		.layers = b->img ? (const char *const *)b->img->layer_dirs : one,
		.n_layers = b->img ? b->img->nlayers : 1,
		.root_ready = b->img ? box_image_ready : NULL,
		.root_dir = b->img && storage == &husk_storage_vfs ? box_image_root_dir : NULL,
		.root_ready_arg = b,
		.state_files = b->files,
		.n_state_files = b->n_files,
		.optional_limits = b->limits,
		.n_optional_limits = b->n_limits,
	};
	b->iso->create_opts(&co);
	if (husk_container_run(b->g, &co, exit_status, e) < 0) {
		b->iso->explain(e);
		*exit_status = HUSK_BOX_EXIT_ERROR;
		return -1;
	}
	return 0;
}

int husk_box_run(const struct husk_global_opts *g, const struct husk_box_opts *o, char **id,
		 int *exit_status, struct husk_error *e)
{
	*exit_status = HUSK_BOX_EXIT_ERROR;
	*id = o->name ? xstrdup(o->name) : gen_id();
	if (husk_validate_id(*id, e) < 0)
		return -1;
	/* a directory is ROOTFS; anything else names an image */
	struct stat st;
	_cleanup_free_ char *rootfs = stat(o->rootfs, &st) == 0 && S_ISDIR(st.st_mode)
					      ? realpath(o->rootfs, NULL) : NULL;
	struct box b = { .o = o, .g = g, .id = *id, .rootfs = rootfs, .rootfd = -1,
			 .rootless = geteuid() != 0 };
	int r = box_run(&b, exit_status, e);
	box_free(&b);
	return r;
}
