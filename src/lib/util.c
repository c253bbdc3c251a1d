#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

static void oom(void)
{
	static const char m[] = "husk: out of memory\n";
	(void)!write(2, m, sizeof(m) - 1);
	_exit(1);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}
void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p)
		oom();
	return p;
}
void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}
char *xstrdup(const char *s)
{
	char *r = strdup(s);
	if (!r)
		oom();
	return r;
}
char *xstrndup(const char *s, size_t n)
{
	char *r = strndup(s, n);
	if (!r)
		oom();
	return r;
}
char *xasprintf(const char *fmt, ...)
{
	char *r;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&r, fmt, ap) < 0)
		oom();
	va_end(ap);
	return r;
}

void husk_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

void husk_unescape_octal(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

void husk_list_push(struct husk_list *l, const char *s)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = s;
}

size_t husk_strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

ssize_t husk_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t r = write(fd, p + done, len - done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)r;
	}
	return (ssize_t)done;
}

ssize_t husk_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t r = read(fd, p + done, len - done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int husk_read_file_at(int at, const char *path, char **out, size_t *lenp, struct husk_error *e)
{
	_cleanup_fd_ int fd = openat(at, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return husk_errno(e, "open %s", path);
	size_t cap = 4096, len = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		if (len + 1 >= cap) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return husk_errno(e, "read %s", path);
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*out = buf;
	if (lenp)
		*lenp = len;
	return 0;
}

int husk_write_file_at(int at, const char *path, const char *buf, size_t len, struct husk_error *e)
{
	_cleanup_fd_ int fd = openat(at, path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return husk_errno(e, "open %s", path);
	if (husk_write_all(fd, buf, len) < 0)
		return husk_errno(e, "write %s", path);
	return 0;
}

int husk_write_file_atomic_at(int dirfd, const char *name, const char *buf, size_t len, mode_t mode,
			      struct husk_error *e)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), ".%s.tmp.%d", name, (int)getpid());
	_cleanup_fd_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return husk_errno(e, "create %s", tmp);
	if (husk_write_all(fd, buf, len) < 0) {
		int saved = errno;
		unlinkat(dirfd, tmp, 0);
		return husk_err(e, saved, "write %s", tmp);
	}
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		int saved = errno;
		unlinkat(dirfd, tmp, 0);
		return husk_err(e, saved, "rename %s", name);
	}
	return 0;
}

int husk_mkdir_p(const char *path, mode_t mode, struct husk_error *e)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(buf))
		return husk_err(e, ENAMETOOLONG, "mkdir %s", path);
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return husk_errno(e, "mkdir %s", buf);
			*p = c;
			if (c == '\0')
				break;
		}
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return husk_errno(e, "stat %s", path);
	if (!S_ISDIR(st.st_mode))
		return husk_err(e, ENOTDIR, "mkdir %s", path);
	return 0;
}

int husk_rm_rf_at(int dirfd, const char *name, struct husk_error *e)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return husk_errno(e, "unlink %s", name);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return husk_errno(e, "open %s", name);
	struct stat top;
	if (fstat(fd, &top) < 0) {
		close(fd);
		return husk_errno(e, "stat %s", name);
	}
	_cleanup_dir_ DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return husk_errno(e, "opendir %s", name);
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && st.st_dev != top.st_dev)
			return husk_err(e, EBUSY, "remove %s/%s: a mount point", name, de->d_name);
		if (husk_rm_rf_at(fd, de->d_name, e) < 0)
			return husk_err_wrap(e, "%s", name);
	}
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return husk_errno(e, "rmdir %s", name);
	return 0;
}

int husk_parse_long(const char *s, long min, long max, long *out)
{
	if (!s || !*s)
		return -1;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

void husk_close_fds_from(int lowfd, const int *keep, size_t nkeep)
{
	/* Close the gaps between kept fds with close_range; keep[] is small. */
	int start = lowfd;
	for (;;) {
		int next = -1;
		for (size_t i = 0; i < nkeep; i++)
			if (keep[i] >= start && (next < 0 || keep[i] < next))
				next = keep[i];
		unsigned int hi = next < 0 ? ~0U : (unsigned int)next - 1;
		if (next < 0 || next > start) {
			if (syscall(SYS_close_range, (unsigned int)start, hi, 0) < 0) {
				/* Old kernel: walk by hand up to a sane bound. */
				long max = sysconf(_SC_OPEN_MAX);
				unsigned int lim = next < 0 ? (unsigned int)(max > 0 ? max : 65536) : hi + 1;
				for (unsigned int fd = (unsigned int)start; fd < lim; fd++)
					close((int)fd);
			}
		}
		if (next < 0)
			break;
		start = next + 1;
	}
}

uint64_t husk_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void husk_rfc3339_now(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char base[32];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%09ldZ", base, ts.tv_nsec);
}
