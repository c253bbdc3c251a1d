/* husk box: the process's privileges as Docker's daemon sets them:
 * capabilities (--cap-add, --cap-drop), --privileged, --security-opt,
 * the masked and read-only paths, and the default seccomp profile. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "box_internal.h"
#include "label.h"
#include "log.h"
#include "spec.h"
#include "spec_seccomp.h"
#include "util.h"

#define BOX_DEFAULT_SECCOMP "/usr/share/containers/seccomp.json"

/* Docker's default capability set. */
static const char *const docker_caps[] = {
	"CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID",           "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",   "CAP_AUDIT_WRITE",
};

/* Docker's masked and read-only paths. */
static const char *const masked[] = {
	"/proc/asound",     "/proc/acpi",        "/proc/interrupts",  "/proc/kcore",
	"/proc/keys",       "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
	"/proc/sched_debug", "/proc/scsi",       "/sys/firmware",     "/sys/devices/virtual/powercap",
};
static const char *const readonly[] = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
					"/proc/sysrq-trigger" };

struct security {
	bool nnp, unconfined, systempaths;
	const char *seccomp_file, *apparmor;
};

/* Every capability the kernel has (and husk knows)... */
static uint64_t all_caps(void)
{
	int last = husk_cap_last();
	_cleanup_free_ char *s = NULL;
	struct husk_error ignored;
	long k;
	if (husk_read_file_at(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", &s, NULL, &ignored) == 0) {
		s[strcspn(s, "\n")] = '\0';
		if (husk_parse_long(s, 0, 63, &k) == 0 && k < last)
			last = (int)k;
	}
	/* and that husk may grant: what a clone keeps (husk_caps_check) */
	uint64_t caps = 0;
	for (int c = 0; c <= last && c < 64; c++) {
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
			caps |= 1ULL << c;
	}
	return caps;
}

/* --cap-add/--cap-drop NAME: any case, CAP_ prefix optional; ALL is -2. */
static int cap_arg(const char *opt, const char *arg, struct husk_error *e)
{
	char up[64];
	size_t i = 0;
	for (; arg[i] && i < sizeof(up) - 1; i++)
		up[i] = (char)toupper((unsigned char)arg[i]);
	up[i] = '\0';
	if (!strcmp(up, "ALL"))
		return -2;
	_cleanup_free_ char *name = strncmp(up, "CAP_", 4) ? xasprintf("CAP_%s", up) : xstrdup(up);
	int c = husk_cap_from_name(name);
	if (c < 0 || arg[i])
		return husk_err(e, 0, "%s %s: unknown capability", opt, arg);
	return c;
}

static int cap_list(const char *opt, const struct husk_list *l, uint64_t *set, bool *all,
		    struct husk_error *e)
{
	for (size_t i = 0; i < l->n; i++) {
		int c = cap_arg(opt, l->v[i], e);
		if (c == -1)
			return -1;
		if (c == -2)
			*all = true;
		else
			*set |= 1ULL << c;
	}
	return 0;
}

/* Docker's rule: privileged is everything; --cap-add ALL is everything
 * not dropped; --cap-drop ALL keeps only what is added; otherwise the
 * default set, less the drops, plus the adds. */
static int tweak_caps(const struct husk_box_opts *o, uint64_t *caps, struct husk_error *e)
{
	uint64_t add = 0, drop = 0, def = 0;
	bool add_all = false, drop_all = false;
	if (cap_list("--cap-add", &o->cap_add, &add, &add_all, e) < 0 ||
	    cap_list("--cap-drop", &o->cap_drop, &drop, &drop_all, e) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(docker_caps); i++)
		def |= 1ULL << husk_cap_from_name(docker_caps[i]);
	if (o->privileged)
		*caps = all_caps();
	else if (add_all)
		*caps = all_caps() & ~drop;
	else if (drop_all)
		*caps = add;
	else
		*caps = (def & ~drop) | add;
	return 0;
}

static json_t *caps_array(uint64_t caps)
{
	json_t *a = json_array();
	for (int c = 0; c < 64; c++) {
		if (caps >> c & 1)
			json_array_append_new(a, json_string(husk_cap_name(c)));
	}
	return a;
}

/* As Docker: root gets the set in bounding, effective and permitted;
 * another user only the bounding set (what execve would leave it). */
static void set_caps(json_t *proc, uint64_t caps, long uid)
{
	json_t *c = json_object();
	json_object_set_new(c, "bounding", caps_array(caps));
	if (uid == 0) {
		json_object_set_new(c, "effective", caps_array(caps));
		json_object_set_new(c, "permitted", caps_array(caps));
	}
	json_object_set_new(proc, "capabilities", c);
}

static int parse_bool(const char *opt, const char *v, bool *out, struct husk_error *e)
{
	if (!v || !strcmp(v, "true"))
		*out = true;
	else if (!strcmp(v, "false"))
		*out = false;
	else
		return husk_err(e, 0, "--security-opt %s: expected true or false", opt);
	return 0;
}

static int security_opt(const char *opt, struct security *s, struct husk_error *e)
{
	/* KEY=VALUE, or Docker's older KEY:VALUE */
	size_t k = strcspn(opt, "=:");
	const char *v = opt[k] ? opt + k + 1 : NULL;
	if (!strncmp(opt, "no-new-privileges", k) && k == 17)
		return parse_bool(opt, v, &s->nnp, e);
	if (!strncmp(opt, "seccomp", k) && k == 7 && v && *v) {
		s->unconfined = !strcmp(v, "unconfined");
		s->seccomp_file = s->unconfined ? NULL : v;
		return 0;
	}
	if (!strncmp(opt, "apparmor", k) && k == 8 && v && *v) {
		s->apparmor = v;
		return 0;
	}
	if (!strncmp(opt, "systempaths", k) && k == 11 && v && !strcmp(v, "unconfined")) {
		s->systempaths = true;
		return 0;
	}
	if (!strncmp(opt, "label", k) && k == 5)
		return husk_err(e, 0, "--security-opt %s: SELinux labels are not supported", opt);
	return husk_err(e, 0, "--security-opt %s: expected no-new-privileges[=true|false], "
			"seccomp=unconfined|FILE, apparmor=PROFILE or systempaths=unconfined", opt);
}

static json_t *strs(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* The profile's OCI form, NULL (and no error) for none. */
static int seccomp_profile(const struct security *s, uint64_t caps, json_t **out,
			   struct husk_error *e)
{
	const char *file = s->seccomp_file ? s->seccomp_file : BOX_DEFAULT_SECCOMP;
	*out = NULL;
	if (s->unconfined)
		return 0;
	if (!s->seccomp_file && access(file, F_OK) < 0 && errno == ENOENT) {
		husk_warn("box: %s missing (Debian package golang-github-containers-common): "
			  "no seccomp filter", file);
		return 0;
	}
	json_error_t je;
	json_t *p = json_load_file(file, 0, &je);
	if (!p)
		return husk_err(e, 0, "seccomp profile %s: %s", file, je.text);
	struct box_sc_host h;
	box_sc_host_native(&h, caps);
	int r = box_seccomp_convert(p, &h, out, e);
	json_decref(p);
	/* A given file's mistakes named with it, not as config.json's. */
	struct husk_seccomp_profile *sp = NULL;
	if (r == 0 && *out && s->seccomp_file &&
	    (r = husk_seccomp_parse(*out, "linux.seccomp", &sp, e)) < 0) {
		json_decref(*out);
		*out = NULL;
	}
	husk_seccomp_profile_free(sp);
	if (r < 0)
		return husk_err_wrap(e, "seccomp profile %s", file);
	return 0;
}

static int apply_security(struct box *b, const struct security *s, uint64_t caps,
			  struct husk_error *e)
{
	json_t *proc = json_object_get(b->doc, "process"), *lx = json_object_get(b->doc, "linux");
	json_object_set_new(proc, "noNewPrivileges", json_boolean(s->nnp));
	if (s->apparmor && strcmp(s->apparmor, "unconfined")) {
		if (!husk_apparmor_enabled())
			return husk_err(e, 0, "--security-opt apparmor=%s: AppArmor is not enabled on this host",
					s->apparmor);
		json_object_set_new(proc, "apparmorProfile", json_string(s->apparmor));
	}
	bool open = b->o->privileged || s->systempaths;
	json_object_set_new(lx, "maskedPaths", strs(masked, open ? 0 : ARRAY_SIZE(masked)));
	json_object_set_new(lx, "readonlyPaths", strs(readonly, open ? 0 : ARRAY_SIZE(readonly)));
	json_t *sc = NULL;
	if (!b->o->privileged && seccomp_profile(s, caps, &sc, e) < 0)
		return -1;
	if (sc)
		json_object_set_new(lx, "seccomp", sc);
	return b->o->privileged ? box_privileged(b, e) : 0;
}

int box_security(struct box *b, struct husk_error *e)
{
	const struct husk_box_opts *o = b->o;
	struct security s = { 0 };
	for (size_t i = 0; i < o->security_opt.n; i++) {
		if (security_opt(o->security_opt.v[i], &s, e) < 0)
			return -1;
	}
	uint64_t caps;
	if (tweak_caps(o, &caps, e) < 0)
		return -1;
	set_caps(json_object_get(b->doc, "process"), caps, b->uid);
	return apply_security(b, &s, caps, e);
}

/* Host device nodes under dir (an fd of the host's /dev/...), recursively,
 * as linux.devices entries; what Docker leaves out is left out (the
 * container's own pts, shm, mqueue, console and ptmx). */
static void host_devices(int dirfd, const char *prefix, json_t *out, int depth)
{
	static const char *const skip[] = { "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts",
					    ".udev", "console", "ptmx" };
	DIR *d = fdopendir(dirfd);
	if (!d) {
		close(dirfd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		bool skipped = de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, ".."));
		for (size_t i = 0; i < ARRAY_SIZE(skip) && !skipped; i++)
			skipped = !strcmp(de->d_name, skip[i]);
		struct stat st;
		if (skipped || fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		_cleanup_free_ char *path = xasprintf("%s/%s", prefix, de->d_name);
		if (S_ISDIR(st.st_mode) && depth < 8) {
			int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				host_devices(sub, path, out, depth + 1);
		} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
			json_array_append_new(out, json_pack(
				"{s:s, s:s, s:I, s:I, s:i, s:I, s:I}", "path", path, "type",
				S_ISCHR(st.st_mode) ? "c" : "b", "major", (json_int_t)major(st.st_rdev),
				"minor", (json_int_t)minor(st.st_rdev), "fileMode", st.st_mode & 07777,
				"uid", (json_int_t)st.st_uid, "gid", (json_int_t)st.st_gid));
		}
	}
	closedir(d);
}

/* /sys (and its cgroups) writable. */
static void sys_rw(json_t *mounts)
{
	size_t i, j;
	json_t *m, *o;
	json_array_foreach(mounts, i, m) {
		const char *dst = json_string_value(json_object_get(m, "destination"));
		if (!dst || (strcmp(dst, "/sys") && strcmp(dst, "/sys/fs/cgroup")))
			continue;
		json_t *opts = json_object_get(m, "options");
		json_array_foreach(opts, j, o) {
			if (!strcmp(json_string_value(o), "ro")) {
				json_array_set_new(opts, j, json_string("rw"));
			}
		}
	}
}

/* --privileged beyond capabilities, seccomp and the system paths: the
 * host's devices, all of them allowed, /sys writable. */
int box_privileged(struct box *b, struct husk_error *e)
{
	json_t *lx = json_object_get(b->doc, "linux"), *devs = json_array();
	int fd = open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		json_decref(devs);
		return husk_errno(e, "--privileged: /dev");
	}
	host_devices(fd, "/dev", devs, 0);
	json_object_set_new(lx, "devices", devs);
	json_t *res = json_object_get(lx, "resources");
	if (res)
		json_object_set_new(res, "devices", json_pack("[{s:b, s:s}]", "allow", 1, "access", "rwm"));
	sys_rw(json_object_get(b->doc, "mounts"));
	return 0;
}
