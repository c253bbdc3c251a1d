#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

int husk_sync_send(int fd, enum husk_sync_type type, int32_t val, const char *payload, size_t len,
		   struct husk_error *e)
{
	if (len > HUSK_SYNC_MAX_PAYLOAD)
		len = HUSK_SYNC_MAX_PAYLOAD;
	size_t total = sizeof(struct husk_sync_msg) + len;
	_cleanup_free_ char *buf = xmalloc(total);
	struct husk_sync_msg h = { .type = type, .val = val, .len = (uint32_t)len };
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), payload, len);
	for (;;) {
		ssize_t r = send(fd, buf, total, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return husk_errno(e, "sync: send");
		return 0;
	}
}

int husk_sync_send_error(int fd, const struct husk_error *err)
{
	struct husk_error ignored;
	return husk_sync_send(fd, SYNC_ERROR, err->errnum, err->msg, strlen(err->msg), &ignored);
}

void husk_sync_fail(int fd, const struct husk_error *err)
{
	husk_sync_send_error(fd, err);
	_exit(1);
}

int husk_sync_expect(int fd, enum husk_sync_type type, int32_t *val, char **payload,
		     struct husk_error *e)
{
	size_t cap = sizeof(struct husk_sync_msg) + HUSK_SYNC_MAX_PAYLOAD + 1;
	_cleanup_free_ char *buf = xmalloc(cap);
	ssize_t r;
	do
		r = recv(fd, buf, cap - 1, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return husk_errno(e, "sync: receive");
	if (r == 0)
		return husk_err(e, 0, "container init exited unexpectedly");
	if ((size_t)r < sizeof(struct husk_sync_msg))
		return husk_err(e, EPROTO, "sync: short message");
	struct husk_sync_msg h;
	memcpy(&h, buf, sizeof(h));
	if (h.len != (size_t)r - sizeof(h))
		return husk_err(e, EPROTO, "sync: bad message length");
	char *data = buf + sizeof(h);
	data[h.len] = '\0';
	if (h.type == SYNC_ERROR) {
		e->errnum = h.val;
		snprintf(e->msg, sizeof(e->msg), "%s", data);
		return -1;
	}
	if (h.type != (uint32_t)type)
		return husk_err(e, EPROTO, "sync: expected message %d, got %u", type, h.type);
	if (val)
		*val = h.val;
	if (payload)
		*payload = xstrndup(data, h.len);
	return 0;
}

/* ---- file descriptors over unix sockets ---- */

int husk_send_fd(int sock, const void *buf, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	ssize_t r;
	do
		r = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	/* A stream socket may take less: the rest goes without the fd. */
	for (size_t done = (size_t)r; done < len; done += (size_t)r) {
		do
			r = send(sock, (const char *)buf + done, len - done, MSG_NOSIGNAL);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return -1;
	}
	return 0;
}

int husk_sync_send_fd(int sync_fd, enum husk_sync_type type, int fd, struct husk_error *e)
{
	struct husk_sync_msg h = { .type = type };
	if (husk_send_fd(sync_fd, &h, sizeof(h), fd) < 0)
		return husk_errno(e, "sync: send a file descriptor");
	return 0;
}

int husk_sync_expect_fd(int sync_fd, enum husk_sync_type type, int *out, struct husk_error *e)
{
	*out = -1;
	char buf[sizeof(struct husk_sync_msg) + HUSK_ERR_MSG_MAX];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	ssize_t n;
	do
		n = recvmsg(sync_fd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return husk_errno(e, "sync: receive a file descriptor");
	int fd = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
	_cleanup_fd_ int owned = fd;
	if (n == 0)
		return husk_err(e, 0, "container process exited unexpectedly");
	if ((size_t)n < sizeof(struct husk_sync_msg))
		return husk_err(e, EPROTO, "sync: short message");
	struct husk_sync_msg h;
	memcpy(&h, buf, sizeof(h));
	if (h.type == SYNC_ERROR) {
		buf[n] = '\0';
		return husk_err(e, h.val, "%s", buf + sizeof(h));
	}
	if (h.type != (uint32_t)type || owned < 0)
		return husk_err(e, EPROTO, "sync: expected a file descriptor (message %d), got message %u",
				(int)type, h.type);
	*out = move_fd(&owned);
	return 0;
}

int husk_unix_connect(const char *path, const char *what, struct husk_error *e)
{
	/* Through an O_PATH fd of the socket itself: no sun_path length limit. */
	_cleanup_fd_ int pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return husk_errno(e, "%s %s", what, path);
	struct stat st;
	if (fstat(pfd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return husk_err(e, ENOTSOCK, "%s %s", what, path);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d", pfd);
	_cleanup_fd_ int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		return husk_errno(e, "connect to %s %s", what, path);
	return move_fd(&s);
}
