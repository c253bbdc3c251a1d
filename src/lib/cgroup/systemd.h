/* The systemd cgroup driver (--systemd-cgroup).  cgroupsPath
 * "slice:prefix:name" names a transient unit ("prefix-name.scope" in
 * "slice") that systemd creates over D-Bus with the container's init in
 * it; husk then writes the resources itself, as with the other drivers,
 * and gives systemd the same values as unit properties so that a daemon
 * reload does not undo them.  Private to src/lib/cgroup/ and unit tests. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup/cgroup_internal.h"
#include "error.h"

/* A unit of the systemd manager. */
struct husk_sd_unit {
	char *unit;  /* "husk-ID.scope", or "a-b.slice" when name is a slice */
	char *slice; /* parent slice of a scope ("system.slice"); NULL for a slice */
	char *path;  /* its cgroup below the hierarchy root: "/system.slice/husk-ID.scope" */
	bool user;   /* the user's own systemd instance (rootless) */
};

/* cgroupsPath (NULL/"" for the default "system.slice:husk:ID", or
 * user.slice for a user instance) -> unit, slice and path. */
int husk_sd_parse(const char *cgroups_path, const char *id, bool user, struct husk_sd_unit *u,
		  struct husk_error *e);
void husk_sd_unit_free(struct husk_sd_unit *u);
/* "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" -> "". */
int husk_sd_expand_slice(const char *slice, char **out, struct husk_error *e);

/* ---- unit properties ---- */

struct sd_dev_allow {
	char *path; /* "/dev/char/1:3", "char-pts" */
	char perm[4];
};

struct sd_prop {
	const char *name;
	char type;  /* D-Bus basic types 't' 'x' 'u' 'i' 'b' 'd' 's'; 'P' one pid (au),
		     * 'y' bytes (ay), 'D' device list (a(ss)) */
	uint64_t u; /* t u b P; x and i keep their value as int64 bits */
	double d;
	char *s;
	char *s2; /* owned copy of name, when it is not a literal */
	uint8_t *bytes;
	size_t nbytes;
	struct sd_dev_allow *dev;
	size_t ndev;
};

struct sd_props {
	struct sd_prop *p;
	size_t n;
};

void husk_sd_prop_u64(struct sd_props *ps, const char *name, uint64_t v);
void husk_sd_prop_bool(struct sd_props *ps, const char *name, bool v);
void husk_sd_prop_str(struct sd_props *ps, const char *name, const char *v);
void husk_sd_prop_pid(struct sd_props *ps, const char *name, pid_t pid);
/* The properties linux.resources (may be NULL) maps to, as runc sets
 * them: memory, cpu shares/weight and quota, pids, block I/O weight,
 * cpuset (v2) and the device rules (DevicePolicy/DeviceAllow).
 * proc_devices: /proc/devices text, to name "char-pts" style groups. */
int husk_sd_props_resources(struct sd_props *ps, const struct husk_resources *res, bool v2,
			    const struct cg_dev_rule *rules, size_t nrules, const char *proc_devices,
			    struct husk_error *e);
/* runc's org.systemd.property.NAME annotations: value in GVariant text
 * ("true", "uint64 5", "'text'", "10", "1.5"); a NAME ending in a
 * lowercase letter + "Sec" takes seconds and becomes NAMEUSec. */
#define SD_PROPERTY_PREFIX "org.systemd.property."
int husk_sd_props_annotation(struct sd_props *ps, const char *key, const char *value,
			     struct husk_error *e);
/* "Name=value" lines, for tests and debug logs; malloc'd. */
char *husk_sd_props_format(const struct sd_props *ps);
void husk_sd_props_free(struct sd_props *ps);

/* ---- D-Bus (libsystemd, loaded on first use) ---- */

struct husk_sd_bus;
/* Was this husk built with the driver (a static build is not)? */
bool husk_sd_supported(void);
/* root: systemd's private socket (no bus daemon needed), else the system
 * bus; user: the user's bus. */
int husk_sd_connect(bool user, struct husk_sd_bus **out, struct husk_error *e);
void husk_sd_close(struct husk_sd_bus *b);
/* StartTransientUnit and wait for its job; a failed unit of the same name
 * left over from an earlier container is reset first. */
int husk_sd_start_unit(struct husk_sd_bus *b, const char *unit, const struct sd_props *ps,
		       struct husk_error *e);
/* StopUnit and wait; a unit that is already gone is fine. */
int husk_sd_stop_unit(struct husk_sd_bus *b, const char *unit, struct husk_error *e);
int husk_sd_set_properties(struct husk_sd_bus *b, const char *unit, const struct sd_props *ps,
			   struct husk_error *e);
