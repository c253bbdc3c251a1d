#include "sync.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

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
