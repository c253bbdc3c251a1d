/* Capability sets through the raw syscalls (no libcap): capget/capset with
 * the version 3 header, prctl for the bounding and ambient sets. */
#include "caps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* Highest capability the running kernel knows; what is asked for past it
 * is warned about (husk_caps_check) and skipped. */
static int kernel_cap_last(void)
{
	static int cached = -1;
	if (cached >= 0)
		return cached;
	int last = -1;
	_cleanup_fd_ int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		char buf[16];
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = '\0';
			if (buf[n - 1] == '\n')
				buf[n - 1] = '\0';
			long v;
			if (husk_parse_long(buf, 0, 63, &v) == 0)
				last = (int)v;
		}
	}
	if (last < 0) {
		/* No /proc (or masked): probe the bounding set, which answers
		 * EINVAL past the last capability. */
		last = 0;
		while (last < 63 && prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0)
			last++;
	}
	cached = last;
	return cached;
}

static uint64_t known_mask(void)
{
	int last = kernel_cap_last();
	return last >= 63 ? ~0ULL : (1ULL << (last + 1)) - 1;
}

static const char *cap_label(int cap, char *buf, size_t len)
{
	const char *n = husk_cap_name(cap);
	if (n)
		return n;
	snprintf(buf, len, "capability %d", cap);
	return buf;
}

static void msg_add(char *msg, size_t len, size_t *o, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void msg_add(char *msg, size_t len, size_t *o, const char *fmt, ...)
{
	if (*o >= len)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg + *o, len - *o, fmt, ap);
	va_end(ap);
	if (n > 0)
		*o += (size_t)n;
}

bool husk_caps_prune(struct husk_process *p, int last, uint64_t bset, char *msg, size_t len)
{
	uint64_t grantable = bset & (last >= 63 ? ~0ULL : (1ULL << (last + 1)) - 1);
	struct husk_caps *c = &p->caps;
	uint64_t asked = (c->has_bounding ? c->bounding : 0) | (c->has_effective ? c->effective : 0) |
			 (c->has_inheritable ? c->inheritable : 0) | (c->has_permitted ? c->permitted : 0) |
			 (c->has_ambient ? c->ambient : 0);
	uint64_t drop = asked & ~grantable;
	size_t o = 0;
	msg[0] = '\0';
	for (char **u = p->unknown_caps; u && *u; u++)
		msg_add(msg, len, &o, "%s%s (unknown)", o ? ", " : "", *u);
	for (int cap = 0; cap < 64; cap++) {
		if (!(drop & (1ULL << cap)))
			continue;
		char b[32];
		msg_add(msg, len, &o, "%s%s (%s)", o ? ", " : "", cap_label(cap, b, sizeof(b)),
			cap > last ? "unknown to this kernel" : "not in the runtime's bounding set");
	}
	c->bounding &= ~drop;
	c->effective &= ~drop;
	c->inheritable &= ~drop;
	c->permitted &= ~drop;
	c->ambient &= ~drop;
	return o > 0;
}

void husk_caps_check(struct husk_process *p, const char *what)
{
	if (!p)
		return;
	/* Every clone (the init, a user namespace's too) keeps our bounding
	 * set: what is not in it cannot be granted there. */
	int last = kernel_cap_last();
	uint64_t bset = 0;
	for (int cap = 0; cap <= last; cap++)
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) > 0)
			bset |= 1ULL << cap;
	char msg[1024];
	if (husk_caps_prune(p, last, bset, msg, sizeof(msg)))
		husk_warn("%s: cannot grant %s; going on without them", what, msg);
}

int husk_caps_drop_bounding(const struct husk_caps *c, struct husk_error *e)
{
	int last = kernel_cap_last();
	uint64_t keep = c->has_bounding ? c->bounding : 0;
	for (int cap = 0; cap <= last; cap++) {
		if (keep & (1ULL << cap))
			continue;
		/* Only drop what is still there: dropping needs CAP_SETPCAP,
		 * which a process joining a container may already lack. */
		int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (r == 0 || (r < 0 && errno == EINVAL))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			char b[32];
			return husk_errno(e, "drop %s from the bounding set", cap_label(cap, b, sizeof(b)));
		}
	}
	return 0;
}

int husk_caps_apply_sets(const struct husk_caps *c, struct husk_error *e)
{
	uint64_t mask = known_mask();
	uint64_t eff = (c->has_effective ? c->effective : 0) & mask;
	uint64_t perm = (c->has_permitted ? c->permitted : 0) & mask;
	uint64_t inh = (c->has_inheritable ? c->inheritable : 0) & mask;
	uint64_t amb = (c->has_ambient ? c->ambient : 0) & mask;

	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	data[0].effective = (uint32_t)eff;
	data[1].effective = (uint32_t)(eff >> 32);
	data[0].permitted = (uint32_t)perm;
	data[1].permitted = (uint32_t)(perm >> 32);
	data[0].inheritable = (uint32_t)inh;
	data[1].inheritable = (uint32_t)(inh >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return husk_errno(e, "capset");

	/* The ambient set only shrinks by itself when permitted/inheritable
	 * do; clear it so an exec'd process never keeps stale ambient bits. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return husk_errno(e, "clear the ambient capability set");
	for (int cap = 0; cap < 64; cap++) {
		if (!(amb & (1ULL << cap)))
			continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) {
			char b[32];
			/* Not in both permitted and inheritable (runc's default
			 * spec asks for ambient caps without inheritable ones):
			 * runc skips these silently, and so do we. */
			if (errno == EPERM) {
				husk_debug("ambient %s not raised: not permitted and inheritable",
					   cap_label(cap, b, sizeof(b)));
				continue;
			}
			return husk_errno(e, "raise ambient %s", cap_label(cap, b, sizeof(b)));
		}
	}
	return 0;
}
