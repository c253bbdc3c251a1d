/* Private to src/lib/cgroup/ (and its unit tests): pure helpers for
 * cgroup paths and /proc parsing. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* Normalise a cgroup path: collapse "//" and ".", resolve "..", refuse
 * one that climbs above its start.  *out has no leading or trailing slash
 * ("" for the root). */
int husk_cg_clean_path(const char *in, char **out, struct husk_error *e);
/* Do two comma lists hold the same controllers, in any order? */
bool husk_cg_ctrl_equal(const char *a, const char *b);
/* Is name one of the items of the comma list? */
bool husk_cg_ctrl_has(const char *list, const char *name);
/* Controllers named by v1 super options ("rw,cpu,cpuacct" -> "cpu,cpuacct"). */
char *husk_cg_v1_controllers(const char *superopts);
/* Undo mountinfo's \ooo escapes in place. */
void husk_cg_unescape_octal(char *s);
/* The cgroup of the hierarchy with controllers ctrl ("" = unified) in
 * /proc/PID/cgroup text; NULL when absent. */
const char *husk_cg_own_cgroup(const char *proc_cgroup, const char *ctrl, char *buf, size_t len);
