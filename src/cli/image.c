/* husk image: the image store (import, ls, rm, prune, unpack). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "image/image.h"
#include "util.h"

struct image_opts {
	const char *storage_root;
	const char *name, *platform, *format;
	bool quiet, force;
};

#define O(f) offsetof(struct image_opts, f)
#define STORAGE_FLAG                                                                              \
	{ "storage-root", 0, HUSK_FLAG_STRING, O(storage_root),                                   \
	  "image store directory; default /var/lib/husk (root), else $XDG_DATA_HOME/husk" }

static const struct husk_flag import_flags[] = {
	STORAGE_FLAG,
	{ "name", 'n', HUSK_FLAG_STRING, O(name), "name the image NAME[:TAG] (default: the archive's own names)" },
	{ "platform", 0, HUSK_FLAG_STRING, O(platform),
	  "os/arch[/variant] to pick from a multi-platform index (default: linux and this host's arch)" },
	{ "quiet", 'q', HUSK_FLAG_BOOL, O(quiet), "no progress bar" },
	HUSK_FLAGS_END,
};
static const struct husk_flag ls_flags[] = {
	STORAGE_FLAG,
	{ "quiet", 'q', HUSK_FLAG_BOOL, O(quiet), "print only the image ids" },
	{ "format", 'f', HUSK_FLAG_STRING, O(format), "output format: table (default) or json" },
	HUSK_FLAGS_END,
};
static const struct husk_flag rm_flags[] = {
	STORAGE_FLAG,
	{ "force", 'f', HUSK_FLAG_BOOL, O(force), "remove the image even while containers use it" },
	HUSK_FLAGS_END,
};
static const struct husk_flag plain_flags[] = { STORAGE_FLAG, HUSK_FLAGS_END };

static int do_import(struct husk_image_store *s, const struct image_opts *o, char **pos,
		     struct husk_error *e)
{
	struct husk_import_opts io = {
		.name = husk_nonempty(o->name),
		.platform = husk_nonempty(o->platform),
		.progress = !o->quiet && isatty(STDERR_FILENO),
	};
	_cleanup_strv_ char **ids = NULL;
	if (husk_image_import(s, pos[0], &io, &ids, e) < 0)
		return -1;
	for (char **id = ids; *id; id++)
		printf("sha256:%s\n", *id);
	return 0;
}

static void human_size(char *buf, size_t len, uint64_t n)
{
	if (n >= 1000ULL * 1000 * 1000)
		snprintf(buf, len, "%.2fGB", n / 1e9);
	else if (n >= 1000ULL * 1000)
		snprintf(buf, len, "%.1fMB", n / 1e6);
	else if (n >= 1000)
		snprintf(buf, len, "%.1fkB", n / 1e3);
	else
		snprintf(buf, len, "%lluB", (unsigned long long)n);
}

static void ls_row(const char *name, const struct husk_image *img)
{
	char size[32], created[32];
	human_size(size, sizeof(size), img->size);
	/* "2024-05-01T10:20:30.123Z" -> "2024-05-01 10:20:30" */
	snprintf(created, sizeof(created), "%.19s", img->created ? img->created : "");
	if (strlen(created) > 10 && created[10] == 'T')
		created[10] = ' ';
	printf("%-40s %-12.12s %-10s %s\n", name, img->id, size, created);
}

static int ls_json(struct husk_image **v, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *names = json_array();
		for (char **p = v[i]->names; *p; p++)
			json_array_append_new(names, json_string(*p));
		json_array_append_new(arr, json_pack("{s:s+, s:o, s:I, s:s?, s:I}", "id", "sha256:",
						     v[i]->id, "names", names, "size",
						     (json_int_t)v[i]->size, "created", v[i]->created,
						     "layers", (json_int_t)v[i]->nlayers));
	}
	char *s = json_dumps(arr, JSON_INDENT(1));
	json_decref(arr);
	if (s)
		puts(s);
	free(s);
	return 0;
}

static int do_ls(struct husk_image_store *s, const struct image_opts *o, char **pos,
		 struct husk_error *e)
{
	(void)pos;
	const char *fmt = husk_nonempty(o->format) ? o->format : "table";
	if (strcmp(fmt, "table") && strcmp(fmt, "json"))
		return husk_err(e, 0, "invalid --format \"%s\": expected table or json", fmt);
	struct husk_image **v;
	size_t n;
	if (husk_image_store_lock(s, false, e) < 0)
		return -1;
	int r = husk_image_list(s, &v, &n, e);
	husk_image_store_unlock(s);
	if (r < 0)
		return -1;
	if (!strcmp(fmt, "json")) {
		ls_json(v, n);
	} else {
		if (!o->quiet)
			printf("%-40s %-12s %-10s %s\n", "NAME", "ID", "SIZE", "CREATED");
		for (size_t i = 0; i < n; i++) {
			if (o->quiet)
				printf("%s\n", v[i]->id);
			else if (!v[i]->names[0])
				ls_row("<none>", v[i]);
			for (char **p = v[i]->names; !o->quiet && *p; p++)
				ls_row(*p, v[i]);
		}
	}
	husk_image_list_free(v, n);
	return 0;
}

static int do_rm(struct husk_image_store *s, const struct image_opts *o, char **pos,
		 struct husk_error *e)
{
	_cleanup_free_ char *what = NULL;
	if (husk_image_remove(s, pos[0], o->force, &what, e) < 0)
		return -1;
	puts(what);
	return 0;
}

static int do_prune(struct husk_image_store *s, const struct image_opts *o, char **pos,
		    struct husk_error *e)
{
	(void)o;
	(void)pos;
	size_t n;
	uint64_t bytes;
	if (husk_image_prune(s, &n, &bytes, e) < 0)
		return -1;
	char size[32];
	human_size(size, sizeof(size), bytes);
	printf("Removed %zu layer%s, %s\n", n, n == 1 ? "" : "s", size);
	return 0;
}

static int do_unpack(struct husk_image_store *s, const struct image_opts *o, char **pos,
		     struct husk_error *e)
{
	(void)o;
	return husk_image_unpack(s, pos[0], pos[1], e);
}

typedef int (*sub_fn)(struct husk_image_store *s, const struct image_opts *o, char **pos,
		      struct husk_error *e);

struct sub {
	struct husk_cmd cmd;
	sub_fn fn;
	int min, max;
};

static int run_sub(const struct sub *sb, int argc, char **argv);

static const struct sub subs[] = {
	{ { "image import", NULL, "import an OCI image layout or a docker-save archive", "FILE|DIR",
	    "   FILE|DIR: an OCI image layout (a directory or a tar of one, as `podman save\n"
	    "   --format oci-archive` and skopeo write), or a docker-save tarball (`docker save`,\n"
	    "   `podman save --format docker-archive`).  Layers may be plain, gzip or zstd tars;\n"
	    "   every blob digest and diff_id is verified.  Prints the id of each image imported.\n",
	    import_flags, NULL }, do_import, 1, 1 },
	{ { "image ls", NULL, "list the images: name, id, size, created", "", NULL, ls_flags, NULL },
	  do_ls, 0, 0 },
	{ { "image rm", NULL, "remove an image name, or an image by id", "NAME|ID",
	    "   By name, only that name goes while the image has others; by id (or its last\n"
	    "   name) the image goes.  Refused while a container uses the image, unless -f.\n"
	    "   Its layers stay until `husk image prune`.\n", rm_flags, NULL }, do_rm, 1, 1 },
	{ { "image prune", NULL,
	    "remove the layers and blobs no image uses, and vfs copies of containers that are gone",
	    "", NULL, plain_flags, NULL },
	  do_prune, 0, 0 },
	{ { "image unpack", NULL, "write an OCI bundle (config.json and rootfs/) from an image",
	    "NAME|ID DIR",
	    "   DIR must be missing or empty.  config.json is `husk spec`'s default with the\n"
	    "   image's entrypoint and cmd, env, working directory and user; rootfs/ is a\n"
	    "   copy of its layers, flattened.  Then: husk run --bundle DIR ID\n",
	    plain_flags, NULL }, do_unpack, 2, 2 },
};

static int run_sub(const struct sub *sb, int argc, char **argv)
{
	struct image_opts o = { 0 };
	char *pos[argc];
	int npos;
	int r = husk_cli_parse_args(&sb->cmd, argc, argv, &o, pos, &npos, sb->min, sb->max, false);
	if (r)
		return r < 0;
	struct husk_error e = { 0 };
	struct husk_image_store s;
	if (husk_image_store_open(husk_nonempty(o.storage_root), &s, &e) < 0)
		return husk_cli_fail(sb->cmd.name, NULL, &e);
	r = sb->fn(&s, &o, pos, &e);
	husk_image_store_close(&s);
	return r < 0 ? husk_cli_fail(sb->cmd.name, NULL, &e) : 0;
}

static void image_help(void)
{
	printf("NAME:\n   husk image - manage the image store\n\nUSAGE:\n"
	       "   husk image command [command options] [arguments...]\n\nCOMMANDS:\n");
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
		printf("   %-7s %-12s %s\n", subs[i].cmd.name + 6, subs[i].cmd.args, subs[i].cmd.summary);
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
		printf("\nOPTIONS of %s:\n", subs[i].cmd.name + 6);
		husk_cli_print_flags(stdout, subs[i].cmd.flags);
	}
}

static int image(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc, char **argv)
{
	(void)cmd;
	(void)g;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		image_help();
		return argc < 2;
	}
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
		if (!strcmp(argv[1], subs[i].cmd.name + 6) ||
		    (!strcmp(argv[1], "list") && !strcmp(subs[i].cmd.name, "image ls")))
			return run_sub(&subs[i], argc - 1, argv + 1);
	return husk_cli_failf("image", NULL, "unknown command \"%s\" (import, ls, rm, prune, unpack)",
			      argv[1]);
}

const struct husk_cmd husk_image_cmd = {
	.name = "image",
	.run = image,
	.summary = "manage images: import, ls, rm, prune, unpack",
	.args = "command [arguments...]",
	.description = "   husk image --help lists the commands and their options.\n",
};
