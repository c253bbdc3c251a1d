/* Unit tests (TAP) for husk box --isolation: the modes by name, and oci's
 * hint when create failed on what only oci needs. */
#include <errno.h>
#include <string.h>

#include "isolation.h"
#include "tap.h"

#define HINT "as often inside a container: try --isolation chroot)"

/* explain on (errnum, msg); the full text after it into out */
static const char *explained(int errnum, const char *msg, char *out, size_t len)
{
	struct husk_error e = { 0 };
	husk_err(&e, errnum, "%s", msg);
	husk_isolation_oci.explain(&e);
	return husk_err_str(&e, out, len);
}

static void test_find(void)
{
	struct husk_error e = { 0 };
	ok(husk_isolation_find(NULL, &e) == &husk_isolation_oci, "the default is oci");
	ok(husk_isolation_find("chroot", &e) == &husk_isolation_chroot, "chroot by name");
	ok(husk_isolation_find("vm", &e) == NULL &&
		   strcmp(e.msg, "--isolation vm: expected oci or chroot") == 0,
	   "an unknown mode: %s", e.msg);
}

static void test_oci_hint(void)
{
	char out[2048];
	const struct {
		int errnum;
		const char *msg, *want; /* want NULL: unchanged */
	} cases[] = {
		{ EPERM, "mounts[0] proc on /proc: mount proc",
		  "mounts[0] proc on /proc: mount proc: Operation not permitted (no fresh procfs here, " HINT },
		{ EPERM, "mounts[5] sysfs on /sys: mount sysfs",
		  "mounts[5] sysfs on /sys: mount sysfs: Operation not permitted (no fresh sysfs here, " HINT },
		{ EACCES, "cgroup: mkdir /sys/fs/cgroup/cpu/husk/x",
		  "cgroup: mkdir /sys/fs/cgroup/cpu/husk/x: Permission denied (no cgroup here, " HINT },
		{ ENOENT, "cgroup: no cgroup hierarchy is mounted",
		  "cgroup: no cgroup hierarchy is mounted: No such file or directory (no cgroup here, " HINT },
		{ EPERM, "clone container init",
		  "clone container init: Operation not permitted (no new namespaces here, " HINT },
		{ EPERM, "unshare namespaces",
		  "unshare namespaces: Operation not permitted (no new namespaces here, " HINT },
		/* failures chroot would have too, or that are not refusals */
		{ EPERM, "mounts[3] bind on /x: bind /srv", NULL },
		{ EPERM, "mounts[3] bind on /proc on x: bind /srv", NULL },
		{ ENOENT, "mounts[0] proc on /proc: mkdir /proc", NULL },
		{ EINVAL, "clone container init", NULL },
		{ 0, "cgroup: bad path", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char plain[2048];
		struct husk_error e = { 0 };
		husk_err(&e, cases[i].errnum, "%s", cases[i].msg);
		husk_err_str(&e, plain, sizeof(plain));
		const char *got = explained(cases[i].errnum, cases[i].msg, out, sizeof(out));
		ok(strcmp(got, cases[i].want ? cases[i].want : plain) == 0, "%s -> %s", plain, got);
	}
	struct husk_error e = { 0 };
	husk_err(&e, EPERM, "mounts[0] proc on /proc: mount proc");
	husk_isolation_chroot.explain(&e);
	ok(e.errnum == EPERM && strcmp(e.msg, "mounts[0] proc on /proc: mount proc") == 0,
	   "chroot adds nothing");
}

int main(void)
{
	test_find();
	test_oci_hint();
	return tap_done();
}
