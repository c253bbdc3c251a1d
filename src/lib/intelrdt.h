/* linux.intelRdt through the resctrl filesystem: the container's init (and
 * every exec'd process) goes into a control group named by closID (or the
 * container id) with the configured schemata, and into a monitoring group
 * mon_groups/<id> when enableMonitoring is set. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

#define HUSK_RESCTRL_ROOT "/sys/fs/resctrl"

/* The filesystem calls, swappable so the unit tests can record the write
 * sequence against a fake tree.  Each returns 0 or a negative errno. */
struct husk_rdt_ops {
	int (*mkdir)(void *ctx, const char *path);
	int (*rmdir)(void *ctx, const char *path);
	int (*write)(void *ctx, const char *path, const char *data);
	int (*read)(void *ctx, const char *path, char **out); /* malloc'd text */
	void *ctx;
};
extern const struct husk_rdt_ops husk_rdt_sys_ops;

/* 0 when resctrl is mounted at HUSK_RESCTRL_ROOT, else a one-line error. */
int husk_rdt_available(struct husk_error *e);

/* The schemata text linux.intelRdt asks for ("" when it sets none):
 * l3CacheSchema (without its MB: lines when memBwSchema is set),
 * memBwSchema, then the schemata lines. */
char *husk_rdt_schemata(const struct husk_intel_rdt *r);

/* Put pid into the groups; *record (for the state) says which directories
 * husk made, so that delete removes only those.  Undoes its own work on
 * failure. */
int husk_rdt_apply(const struct husk_intel_rdt *r, const char *root, const char *id, pid_t pid,
		   const struct husk_rdt_ops *ops, json_t **record, struct husk_error *e);
/* exec: pid joins the container's groups. */
int husk_rdt_join(json_t *record, pid_t pid, const struct husk_rdt_ops *ops, struct husk_error *e);
/* delete: remove what husk made. */
int husk_rdt_remove(json_t *record, const struct husk_rdt_ops *ops, struct husk_error *e);
