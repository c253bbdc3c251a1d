/* Small helpers shared by every module: cleanup attributes, fd ownership,
 * checked allocation, whole-file I/O. */
#pragma once
#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "error.h"

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_fd_ _cleanup_(husk_closep)
#define _cleanup_free_ _cleanup_(husk_freep)
#define _cleanup_dir_ _cleanup_(husk_closedirp)
#define _cleanup_file_ _cleanup_(husk_fclosep)
#define _cleanup_strv_ _cleanup_(husk_strv_freep)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void husk_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}
static inline void husk_freep(void *p)
{
	free(*(void **)p);
	*(void **)p = NULL;
}
static inline void husk_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
	*d = NULL;
}
static inline void husk_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
	*f = NULL;
}
void husk_strv_free(char **v);
static inline void husk_strv_freep(char ***v)
{
	husk_strv_free(*v);
	*v = NULL;
}

/* Explicit ownership transfer: returns the fd and leaves -1 behind. */
static inline int move_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}
static inline void *move_ptr_(void **p)
{
	void *r = *p;
	*p = NULL;
	return r;
}
#define move_ptr(p) move_ptr_((void **)&(p))

/* Allocation that cannot fail (aborts the process on OOM: a runtime that
 * cannot allocate a few bytes cannot do anything useful). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

size_t husk_strv_len(char *const *v);

/* mountinfo's octal escapes (\040 for a space, ...) undone in place. */
void husk_unescape_octal(char *s);

/* A growing list of borrowed strings (repeatable command-line options). */
struct husk_list {
	const char **v;
	size_t n;
};
void husk_list_push(struct husk_list *l, const char *s);

/* Read a whole file (NUL-terminated).  at may be AT_FDCWD. */
int husk_read_file_at(int at, const char *path, char **out, size_t *len, struct husk_error *e);
/* Write buf to path (O_WRONLY|O_TRUNC, no create). */
int husk_write_file_at(int at, const char *path, const char *buf, size_t len, struct husk_error *e);
/* Write buf to dir/name atomically: temp file, fsync-free rename. */
int husk_write_file_atomic_at(int dirfd, const char *name, const char *buf, size_t len, mode_t mode,
			      struct husk_error *e);
/* mkdir -p with mode for each created component. */
int husk_mkdir_p(const char *path, mode_t mode, struct husk_error *e);
/* Remove a directory tree (does not cross mount points, no symlinks followed). */
int husk_rm_rf_at(int dirfd, const char *name, struct husk_error *e);

/* write()/read() that retry on EINTR and short counts. */
ssize_t husk_write_all(int fd, const void *buf, size_t len);
ssize_t husk_read_all(int fd, void *buf, size_t len);

/* Parse a decimal integer strictly (whole string, range checked). */
int husk_parse_long(const char *s, long min, long max, long *out);

/* Close every fd >= lowfd except those in keep[0..nkeep). */
void husk_close_fds_from(int lowfd, const int *keep, size_t nkeep);

/* Monotonic time in nanoseconds. */
uint64_t husk_now_ns(void);

/* RFC 3339 UTC timestamp with nanoseconds into buf (>= 40 bytes). */
void husk_rfc3339_now(char *buf, size_t len);
