/* A recording fake of the sys layer for the rootfs unit tests: mount
 * calls and the like are logged one per line ("mount SRC DST TYPE FLAGS
 * DATA"), paths shown relative to fake_root; everything else reaches the
 * real kernel on the test's scratch tree.  No root needed. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "sys.h"

/* The table: fake_sys_init() makes it husk_sys_real plus the recording
 * calls; tests may swap single entries afterwards. */
extern struct husk_sys fake;

extern char fake_log[16384];
extern const char *fake_root;         /* shown as "/" in the log */
extern unsigned long fake_stflags;    /* what fstatvfs reports as f_flag (~0: all) */
extern int fake_pivot_errno;          /* pivot_root fails with this when set */
extern long fake_fstatfs_magic;       /* fstatfs's f_type, when set */
extern long fake_statfs_magic;        /* statfs's f_type, when set */
extern int fake_setattr_eperm;        /* mount_setattr fails EPERM while attr_clr has these */
extern int fake_read_errno;           /* read fails with this when set */
/* When set, a tmpfs mount moves the directory it covers aside (to
 * NAME.covered) and leaves an empty one in its place: a new lookup finds
 * the "fresh tmpfs", fds opened before keep reaching the image's directory. */
extern bool fake_cover_tmpfs;
/* fstatvfs of the file at fake_st_path (as the log shows it) reports
 * fake_st_path_flags instead of fake_stflags. */
extern const char *fake_st_path;
extern unsigned long fake_st_path_flags;
/* When set, a mount(2) with MS_REMOUNT sets fake_stflags to fake_remount_stflags. */
extern bool fake_remount_sets;
extern unsigned long fake_remount_stflags;
/* When set, opening /proc/self/mountinfo opens this file instead. */
extern const char *fake_mountinfo;
/* fsconfig of this key fails EINVAL when set (a kernel without it). */
extern const char *fake_fsconfig_einval;

void fake_sys_init(void);
/* the recording open_tree (an O_PATH fd of the source), and one that
 * fails with ENOSYS (kernels without the new mount API) */
int fake_open_tree(int dfd, const char *path, unsigned flags);
int fake_no_open_tree(int dfd, const char *path, unsigned flags);

/* the log */
void fake_log_clear(void);
void fake_logf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool has_line(const char *line);
bool before(const char *a, const char *b);
void dump_log(void);
