/* Test trees on disk for the path and rootfs unit tests. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>

/* Make root/rel: a directory (S_IFDIR, may exist), a symlink to target
 * (S_IFLNK) or an empty file; bails out of the TAP run on failure. */
void tree_mk(const char *root, const char *rel, mode_t type, const char *target);

/* root/rel exists (lstat) and is of that type. */
bool tree_has(const char *root, const char *rel, mode_t type);
