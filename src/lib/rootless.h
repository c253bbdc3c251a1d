/* Rootless: the calling user's subordinate ids (/etc/subuid, /etc/subgid),
 * the setuid newuidmap/newgidmap that map them, and work on files that
 * belong to them (as root of a user namespace mapping them). */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

/* The first range of the user (by name or by number) in a subid file
 * ("name:start:count" lines): 0 found, -1 none (no file, no entry). */
int husk_subid_lookup(const char *file, const char *name, unsigned id, unsigned *start,
		      unsigned *count);

/* The absolute path of newuidmap/newgidmap ("newuidmap"), NULL when it is
 * not installed (malloc'd). */
char *husk_newidmap_path(const char *tool);

/* Does this mapping need newuidmap (uid) or newgidmap (gid) when written by
 * an unprivileged user: more than the caller's own id? */
bool husk_idmap_needs_helper(const struct husk_id_mapping *m, size_t n, bool gid);

/* Write pid's uid_map (gid false) or gid_map through newuidmap/newgidmap. */
int husk_newidmap(pid_t pid, const struct husk_id_mapping *m, size_t n, bool gid,
		  struct husk_error *e);

/* linux.uidMappings/gidMappings JSON of m[0..n). */
json_t *husk_idmap_json(const struct husk_id_mapping *m, size_t n);

/* The mapping a rootless container gets: 0 is the caller's effective id,
 * 1.. the caller's subordinate range when the subid file has one and the
 * helper is installed (else only 0).  Returns how many entries (1 or 2). */
size_t husk_rootless_mapping(bool gid, struct husk_id_mapping out[2]);

/* Is container id `id` in the mapping (m, n entries)? */
bool husk_idmap_maps(const struct husk_id_mapping *m, size_t n, unsigned id);

/* Does the caller have a subordinate uid range it can map (the range in
 * /etc/subuid and newuidmap installed): husk_rootless_mapping gives 2?
 * If not, *why (when why is not NULL) says what is missing. */
bool husk_rootless_has_subids(const char **why);

/* Run fn(arg, e) in a child process as root of a new user namespace with
 * the rootless mapping (husk_rootless_mapping), where chown to the mapped
 * ids works and the files of the subordinate ids are root's.  fn's error
 * comes back into e; when it succeeds, the ret_len bytes at ret (the
 * child's copy: fn's results) are copied back into the caller's ret. */
int husk_userns_call(int (*fn)(void *arg, struct husk_error *e), void *arg, void *ret,
		     size_t ret_len, struct husk_error *e);

/* rm -rf dirfd/name as root of a new user namespace with that mapping,
 * where the files of the subordinate ids are root's to remove. */
int husk_rm_rf_mapped(int dirfd, const char *name, struct husk_error *e);
