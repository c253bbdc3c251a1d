/* `husk spec`: the default config.json, field for field and in the same
 * order and layout (tab indentation) as `runc spec` writes it, so tools
 * that diff or patch runc's template work on ours. */
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "spec.h"
#include "util.h"

static json_t *strs(const char *const *v)
{
	json_t *a = json_array();
	for (; *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static json_t *mount(const char *dest, const char *type, const char *src, const char *const *opts)
{
	json_t *m = json_pack("{s:s, s:s, s:s}", "destination", dest, "type", type, "source", src);
	if (opts)
		json_object_set_new(m, "options", strs(opts));
	return m;
}

static json_t *id_map(unsigned host)
{
	return json_pack("[{s:i, s:I, s:i}]", "containerID", 0, "hostID", (json_int_t)host, "size", 1);
}

static json_t *default_doc(bool rootless)
{
	static const char *const caps[] = { "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE",
					    NULL };
	static const char *const env[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", NULL
	};
	static const char *const dev_opts[] = { "nosuid", "strictatime", "mode=755", "size=65536k",
						NULL };
	static const char *const pts_opts[] = { "nosuid",    "noexec", "newinstance", "ptmxmode=0666",
						"mode=0620", "gid=5",  NULL };
	static const char *const shm_opts[] = { "nosuid", "noexec", "nodev", "mode=1777",
						"size=65536k", NULL };
	static const char *const mq_opts[] = { "nosuid", "noexec", "nodev", NULL };
	static const char *const sys_opts[] = { "nosuid", "noexec", "nodev", "ro", NULL };
	static const char *const sys_bind_opts[] = { "rbind", "nosuid", "noexec", "nodev", "ro", NULL };
	static const char *const cg_opts[] = { "nosuid", "noexec", "nodev", "relatime", "ro", NULL };
	static const char *const masked[] = {
		"/proc/acpi",        "/proc/asound",     "/proc/kcore",       "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/sys/firmware",     "/proc/scsi",       NULL
	};
	static const char *const ro[] = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
					  "/proc/sysrq-trigger", NULL };
	/* Rootless: no gid=5 (the tty group is unmapped), /sys bound from the
	 * host (sysfs cannot be mounted without a network namespace we own). */
	static const char *const pts_opts_rootless[] = { "nosuid",        "noexec",    "newinstance",
							 "ptmxmode=0666", "mode=0620", NULL };

	json_t *caps_obj = json_pack("{s:o, s:o, s:o, s:o}", "bounding", strs(caps), "effective",
				     strs(caps), "permitted", strs(caps), "ambient", strs(caps));
	json_t *process = json_pack(
		"{s:b, s:{s:i, s:i}, s:[s], s:o, s:s, s:o, s:[{s:s, s:i, s:i}], s:b}", "terminal", 1,
		"user", "uid", 0, "gid", 0, "args", "sh", "env", strs(env), "cwd", "/", "capabilities",
		caps_obj, "rlimits", "type", "RLIMIT_NOFILE", "hard", 1024, "soft", 1024,
		"noNewPrivileges", 1);

	json_t *mounts = json_array();
	json_array_append_new(mounts, mount("/proc", "proc", "proc", NULL));
	json_array_append_new(mounts, mount("/dev", "tmpfs", "tmpfs", dev_opts));
	json_array_append_new(mounts, mount("/dev/pts", "devpts", "devpts",
					    rootless ? pts_opts_rootless : pts_opts));
	json_array_append_new(mounts, mount("/dev/shm", "tmpfs", "shm", shm_opts));
	json_array_append_new(mounts, mount("/dev/mqueue", "mqueue", "mqueue", mq_opts));
	if (rootless)
		json_array_append_new(mounts, mount("/sys", "none", "/sys", sys_bind_opts));
	else
		json_array_append_new(mounts, mount("/sys", "sysfs", "sysfs", sys_opts));
	json_array_append_new(mounts, mount("/sys/fs/cgroup", "cgroup", "cgroup", cg_opts));

	json_t *lx = json_object();
	json_t *ns = json_array();
	static const char *const ns_root[] = { "pid", "network", "ipc", "uts", "mount", NULL };
	static const char *const ns_rootless[] = { "pid", "ipc", "uts", "mount", "user", NULL };
	for (const char *const *n = rootless ? ns_rootless : ns_root; *n; n++)
		json_array_append_new(ns, json_pack("{s:s}", "type", *n));
	if (rootless) {
		json_object_set_new(lx, "uidMappings", id_map((unsigned)geteuid()));
		json_object_set_new(lx, "gidMappings", id_map((unsigned)getegid()));
	} else {
		json_object_set_new(lx, "resources",
				    json_pack("{s:[{s:b, s:s}]}", "devices", "allow", 0, "access",
					      "rwm"));
	}
	json_object_set_new(lx, "namespaces", ns);
	json_object_set_new(lx, "maskedPaths", strs(masked));
	json_object_set_new(lx, "readonlyPaths", strs(ro));

	return json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o}", "ociVersion", HUSK_SPEC_VERSION,
			 "process", process, "root", "path", "rootfs", "readonly", 1, "hostname",
			 "runc", "mounts", mounts, "linux", lx);
}

char *husk_spec_default_json(bool rootless)
{
	json_t *doc = default_doc(rootless);
	char *text = json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (!text)
		abort(); /* only on allocation failure */

	/* jansson indents with spaces: turn each line's leading spaces (one
	 * per level) into tabs.  Strings cannot hold raw newlines, so every
	 * space that follows a newline is indentation. */
	char *out = xstrdup(text);
	bool bol = false;
	size_t o = 0;
	for (const char *p = text; *p; p++) {
		if (*p == '\n')
			bol = true;
		else if (*p != ' ')
			bol = false;
		out[o++] = (bol && *p == ' ') ? '\t' : *p;
	}
	out[o] = '\0';
	free(text);
	return out;
}
