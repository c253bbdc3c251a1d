/* Labels are applied "on exec": the init writes them to its
 * /proc/thread-self/attr/.../exec right before execve, so the runtime's
 * own last steps run unconfined and the user program starts confined. */
#include "label.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

bool husk_apparmor_enabled(void)
{
	static int cached = -1;
	if (cached < 0) {
		char buf[2] = "";
		int fd = open("/sys/module/apparmor/parameters/enabled", O_RDONLY | O_CLOEXEC);
		cached = fd >= 0 && read(fd, buf, 1) == 1 && buf[0] == 'Y' &&
			 access("/sys/kernel/security/apparmor", F_OK) == 0;
		if (fd >= 0)
			close(fd);
	}
	return cached;
}

bool husk_selinux_enabled(void)
{
	static int cached = -1;
	if (cached < 0)
		cached = access("/sys/fs/selinux/enforce", F_OK) == 0;
	return cached;
}

int husk_label_check(const struct husk_process *p, const char *mount_label, const char *where,
		     struct husk_error *e)
{
	if (p && p->apparmor_profile && *p->apparmor_profile && !husk_apparmor_enabled())
		return husk_err(e, 0, "%s: process.apparmorProfile \"%s\": AppArmor is not enabled on this host",
				where, p->apparmor_profile);
	if (p && p->selinux_label && *p->selinux_label && !husk_selinux_enabled())
		return husk_err(e, 0, "%s: process.selinuxLabel: SELinux is not enabled on this host", where);
	if (mount_label && *mount_label) {
		if (!husk_selinux_enabled())
			return husk_err(e, 0, "%s: linux.mountLabel: SELinux is not enabled on this host",
					where);
		/* Labelling mounts needs context= on every mount the rootfs
		 * module makes; until it does, refuse rather than mislabel. */
		return husk_err(e, ENOTSUP, "%s: linux.mountLabel", where);
	}
	return 0;
}

static int write_attr(const char *const *paths, size_t n, const char *value, struct husk_error *e)
{
	int err = ENOENT;
	for (size_t i = 0; i < n; i++) {
		int fd = open(paths[i], O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			err = errno;
			continue;
		}
		ssize_t w = write(fd, value, strlen(value));
		err = errno;
		close(fd);
		if (w == (ssize_t)strlen(value))
			return 0;
		return husk_err(e, err, "write %s", paths[i]);
	}
	return husk_err(e, err, "open %s", paths[n - 1]);
}

int husk_label_apply_exec(const struct husk_process *p, struct husk_error *e)
{
	if (p->apparmor_profile && *p->apparmor_profile) {
		/* The AppArmor-specific file first (5.8+ kernels with LSM
		 * stacking), the shared one otherwise. */
		static const char *const aa[] = { "/proc/thread-self/attr/apparmor/exec",
						  "/proc/thread-self/attr/exec" };
		_cleanup_free_ char *v = xasprintf("exec %s", p->apparmor_profile);
		if (write_attr(aa, 2, v, e) < 0)
			return husk_err_wrap(e, "apply AppArmor profile \"%s\"", p->apparmor_profile);
	}
	if (p->selinux_label && *p->selinux_label) {
		static const char *const se[] = { "/proc/thread-self/attr/exec" };
		if (write_attr(se, 1, p->selinux_label, e) < 0)
			return husk_err_wrap(e, "set SELinux exec label \"%s\"", p->selinux_label);
	}
	return 0;
}
