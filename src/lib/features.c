/* `husk features`: the runtime-spec features.md document.  It lists only
 * what husk really implements; anything absent is unsupported. */
#include <stdlib.h>

#include "config.h"
#include "mempolicy.h"
#include "seccomp_filter.h"
#include "spec.h"
#include "util.h"

/* The Linux mount options of the runtime spec's table that the rootfs
 * module understands, plus runc's
 * "tmpcopyup" extension.  Sorted, like runc prints them. */
static const char *const mount_options[] = {
	"async",       "atime",       "bind",           "defaults",     "dev",
	"diratime",    "dirsync",     "exec",           "idmap",        "iversion",     "lazytime",
	"loud",        "mand",        "noatime",        "nodev",        "nodiratime",
	"noexec",      "noiversion",  "nolazytime",     "nomand",       "norelatime",
	"nostrictatime", "nosuid",    "nosymfollow",    "private",      "ratime",
	"rbind",       "rdev",        "rdiratime",      "relatime",     "remount",
	"rexec",       "ridmap",      "rnoatime",    "rnodev",         "rnodiratime",  "rnoexec",
	"rnorelatime", "rnostrictatime", "rnosuid",     "rnosymfollow", "ro",
	"rprivate",    "rrelatime",   "rro",            "rrw",          "rshared",
	"rslave",      "rstrictatime", "rsuid",         "rsymfollow",   "runbindable",
	"rw",          "shared",      "silent",         "slave",        "strictatime",
	"suid",        "symfollow",   "sync",           "tmpcopyup",    "unbindable",
};

static json_t *strv_json(const char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* What runtime-spec 1.3 added to features-linux.md: resctrl schemata
 * lines and monitoring groups, NUMA memory policy, network devices. */
static void add_v13_features(json_t *lx)
{
	json_t *rdt = json_object_get(lx, "intelRdt");
	json_object_set_new(rdt, "schemata", json_true());
	json_object_set_new(rdt, "monitoring", json_true());
	json_object_set_new(lx, "memoryPolicy",
			    json_pack("{s:o, s:o}", "modes", strv_json(husk_mempolicy_mode_names),
				      "flags", strv_json(husk_mempolicy_flag_names)));
	json_object_set_new(lx, "netDevices", json_pack("{s:b}", "enabled", 1));
}

char *husk_features_json(void)
{
	json_t *hooks = json_array(), *opts = json_array(), *ns = json_array(), *caps = json_array();
	/* features.md lists namespaces by their config.json names, sorted. */
	static const enum husk_ns_type ns_sorted[] = { HUSK_NS_CGROUP, HUSK_NS_IPC,  HUSK_NS_MNT,
						       HUSK_NS_NET,    HUSK_NS_PID,  HUSK_NS_TIME,
						       HUSK_NS_USER,   HUSK_NS_UTS };

	for (int k = 0; k < HUSK_HOOK__COUNT; k++)
		json_array_append_new(hooks, json_string(husk_hook_name(k)));
	for (size_t i = 0; i < ARRAY_SIZE(mount_options); i++)
		json_array_append_new(opts, json_string(mount_options[i]));
	for (size_t i = 0; i < ARRAY_SIZE(ns_sorted); i++)
		json_array_append_new(ns, json_string(husk_ns_spec_name(ns_sorted[i])));
	for (int c = 0; c <= husk_cap_last(); c++)
		json_array_append_new(caps, json_string(husk_cap_name(c)));

	json_t *doc = json_pack(
		"{s:s, s:s, s:o, s:o,"
		" s:{s:o, s:o, s:{s:b, s:b, s:b, s:b}, s:o, s:{s:b}, s:{s:b}, s:{s:b},"
		"    s:{s:{s:b}}},"
		" s:{s:s, s:s}}",
		"ociVersionMin", "1.0.0", "ociVersionMax", HUSK_SPEC_VERSION, "hooks", hooks,
		"mountOptions", opts,
		"linux", "namespaces", ns, "capabilities", caps,
		"cgroup", "v1", 1, "v2", 1, "systemd", HAVE_SD_BUS, "systemdUser", HAVE_SD_BUS,
		"seccomp", husk_seccomp_features(),
		/* AppArmor profiles are applied where the host has AppArmor;
		 * SELinux lacks mount labels, so it is not claimed. */
		"apparmor", "enabled", 1, "selinux", "enabled", 0, "intelRdt", "enabled", 1,
		"mountExtensions", "idmap", "enabled", 1,
		"annotations", "io.github.husk.version", HUSK_VERSION, "io.github.husk.commit",
		HUSK_COMMIT);
	if (!doc)
		abort();
	add_v13_features(json_object_get(doc, "linux"));
	char *text = json_dumps(doc, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (!text)
		abort();
	char *out = xstrdup(text);
	free(text);
	return out;
}
