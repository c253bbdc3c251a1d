/* husk list: the containers under --root, as a table, ids or JSON. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"

struct list_opts {
	bool quiet;
	const char *format;
};

static const struct husk_flag flags[] = {
	{ "format", 'f', HUSK_FLAG_STRING, offsetof(struct list_opts, format),
	  "output format: table (default) or json" },
	{ "quiet", 'q', HUSK_FLAG_BOOL, offsetof(struct list_opts, quiet), "print only the container ids" },
	HUSK_FLAGS_END,
};

#define NCOLS 6

/* Columns padded as runc's tabwriter does: at least 12 wide, 3 spaces of
 * padding, the last column unpadded. */
static void print_table(const struct husk_list_entry *v, size_t n)
{
	static const char *const head[NCOLS] = { "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER" };
	char (*pids)[24] = xcalloc(n ? n : 1, sizeof(*pids));
	size_t w[NCOLS];
	for (int c = 0; c < NCOLS; c++)
		w[c] = strlen(head[c]);
	for (size_t i = 0; i < n; i++) {
		snprintf(pids[i], sizeof(pids[i]), "%d", (int)v[i].pid);
		const char *cell[NCOLS] = { v[i].id, pids[i], v[i].status, v[i].bundle, v[i].created, v[i].owner };
		for (int c = 0; c < NCOLS; c++) {
			size_t l = cell[c] ? strlen(cell[c]) : 0;
			if (l > w[c])
				w[c] = l;
		}
	}
	for (int c = 0; c < NCOLS; c++)
		w[c] = w[c] + 3 < 12 ? 12 : w[c] + 3;
	for (size_t i = 0; i <= n; i++) {
		const char *const *cell = head, *row[NCOLS];
		if (i > 0) {
			const struct husk_list_entry *x = &v[i - 1];
			const char *r[NCOLS] = { x->id, pids[i - 1], x->status, x->bundle, x->created, x->owner };
			memcpy(row, r, sizeof(row));
			cell = row;
		}
		for (int c = 0; c < NCOLS - 1; c++)
			printf("%-*s", (int)w[c], cell[c] ? cell[c] : "");
		printf("%s\n", cell[NCOLS - 1] ? cell[NCOLS - 1] : "");
	}
	free(pids);
}

/* runc prints a compact JSON array, or "null" when there is nothing. */
static int print_json(const struct husk_list_entry *v, size_t n)
{
	if (n == 0) {
		puts("null");
		return 0;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s}",
				      "ociVersion", v[i].oci_version, "id", v[i].id,
				      "pid", (json_int_t)v[i].pid, "status", v[i].status,
				      "bundle", v[i].bundle, "rootfs", v[i].rootfs,
				      "created", v[i].created, "owner", v[i].owner);
		if (o)
			json_array_append_new(arr, o);
	}
	char *s = json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(arr);
	if (!s)
		return -1;
	puts(s);
	free(s);
	return 0;
}

static int list(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc, char **argv)
{
	struct list_opts o = { 0 };
	char *pos[argc];
	int npos;
	int r = husk_cli_parse_args(cmd, argc, argv, &o, pos, &npos, 0, 0, false);
	if (r)
		return r < 0;
	bool json = false;
	if (o.format && strcmp(o.format, "json") == 0)
		json = true;
	else if (o.format && strcmp(o.format, "table") != 0)
		return husk_cli_failf(cmd->name, NULL, "invalid format \"%s\": expected table or json", o.format);

	struct husk_error e = { 0 };
	struct husk_list_entry *v = NULL;
	size_t n = 0;
	if (husk_container_list(g, &v, &n, &e) < 0)
		return husk_cli_fail(cmd->name, NULL, &e);
	r = 0;
	if (o.quiet) {
		for (size_t i = 0; i < n; i++)
			puts(v[i].id);
	} else if (json) {
		r = print_json(v, n);
	} else {
		print_table(v, n);
	}
	husk_list_free(v, n);
	if (r < 0 || fflush(stdout) != 0)
		return husk_cli_failf(cmd->name, NULL, "write list: output error");
	return 0;
}

const struct husk_cmd husk_list_cmd = {
	.name = "list",
	.run = list,
	.summary = "list the containers under --root",
	.args = "",
	.description =
		"   List the containers whose state is kept under the global --root\n"
		"   directory, e.g. \"husk --root /run/other list\".\n",
	.flags = flags,
};
