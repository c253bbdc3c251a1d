#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "box.h"
#include "cgroup/cgroup.h"
#include "config.h"
#include "rootless.h"
#include "util.h"

int husk_state_root_open(const char *root, bool create, int *out, struct husk_error *e)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		if (husk_mkdir_p(root, 0700, e) < 0)
			return husk_err_wrap(e, "state root");
		fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0)
		return husk_errno(e, "open state root %s", root);
	*out = fd;
	return 0;
}

int husk_state_dir_create(int rootfd, const char *id, int *out, struct husk_error *e)
{
	if (mkdirat(rootfd, id, 0700) < 0) {
		if (errno == EEXIST)
			return husk_err(e, 0, "container with id %s already exists", id);
		return husk_errno(e, "create state directory");
	}
	int fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;
		unlinkat(rootfd, id, AT_REMOVEDIR);
		return husk_err(e, saved, "open state directory");
	}
	*out = fd;
	return 0;
}

int husk_state_dir_open(int rootfd, const char *id, int *out, struct husk_error *e)
{
	int fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return husk_err(e, 0, "container does not exist");
		return husk_errno(e, "open state directory");
	}
	*out = fd;
	return 0;
}

int husk_state_lock(int dirfd, struct husk_error *e)
{
	while (flock(dirfd, LOCK_EX) < 0) {
		if (errno != EINTR)
			return husk_errno(e, "lock state directory");
	}
	return 0;
}

int husk_state_dir_remove(int rootfd, const char *id, struct husk_error *e)
{
	/* A box's overlay lived in the container's mount namespace, gone with
	 * it; its upper layer may hold files of the user's subordinate ids,
	 * which only root of a namespace mapping them may remove. */
	husk_box_image_forget(rootfd, id);
	if (husk_rm_rf_at(rootfd, id, e) < 0 &&
	    (geteuid() == 0 || (e->errnum != EACCES && e->errnum != EPERM) ||
	     husk_rm_rf_mapped(rootfd, id, e) < 0))
		return husk_err_wrap(e, "remove state directory");
	return 0;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

int husk_state_write(int dirfd, const struct husk_state *s, struct husk_error *e)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(s->id));
	json_object_set_new(o, "pid", json_integer(s->pid));
	json_object_set_new(o, "pid_start", json_integer((json_int_t)s->pid_start));
	json_object_set_new(o, "bundle", str_or_null(s->bundle));
	json_object_set_new(o, "rootfs", str_or_null(s->rootfs));
	json_object_set_new(o, "created", str_or_null(s->created));
	json_object_set_new(o, "owner", str_or_null(s->owner));
	if (s->annotations)
		json_object_set(o, "annotations", s->annotations);
	if (s->hooks)
		json_object_set(o, "hooks", s->hooks);
	if (s->cgroup)
		json_object_set_new(o, "cgroup", json_string(s->cgroup));
	if (s->namespaces)
		json_object_set(o, "namespaces", s->namespaces);
	if (s->mnt_ns_id && s->boot_id)
		json_object_set_new(o, "mntNamespace",
				    json_pack("{s:I, s:s}", "id", (json_int_t)s->mnt_ns_id, "boot", s->boot_id));
	if (s->process)
		json_object_set(o, "process", s->process);
	if (s->seccomp)
		json_object_set(o, "seccomp", s->seccomp);
	if (s->has_personality)
		json_object_set_new(o, "personality", json_integer((json_int_t)s->personality));
	if (s->mempolicy)
		json_object_set(o, "memoryPolicy", s->mempolicy);
	if (s->net_devices)
		json_object_set(o, "netDevices", s->net_devices);
	if (s->intel_rdt)
		json_object_set(o, "intelRdt", s->intel_rdt);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return husk_err(e, ENOMEM, "encode state");
	int r = husk_write_file_atomic_at(dirfd, HUSK_STATE_FILE, text, strlen(text), 0600, e);
	free(text);
	return r;
}

static char *dup_field(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? xstrdup(v) : NULL;
}

static json_t *ref_field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return v && !json_is_null(v) ? json_incref(v) : NULL;
}

int husk_state_read(int dirfd, struct husk_state **out, struct husk_error *e)
{
	_cleanup_free_ char *text = NULL;
	if (husk_read_file_at(dirfd, HUSK_STATE_FILE, &text, NULL, e) < 0) {
		if (e->errnum == ENOENT)
			return husk_err(e, 0, "container is being created or its state is lost");
		return -1;
	}
	json_error_t jerr;
	json_t *o = json_loads(text, 0, &jerr);
	if (!o || !json_is_object(o)) {
		json_decref(o);
		return husk_err(e, 0, "state.json is corrupt");
	}
	struct husk_state *s = xcalloc(1, sizeof(*s));
	s->id = dup_field(o, "id");
	s->pid = (pid_t)json_integer_value(json_object_get(o, "pid"));
	s->pid_start = (unsigned long long)json_integer_value(json_object_get(o, "pid_start"));
	s->bundle = dup_field(o, "bundle");
	s->rootfs = dup_field(o, "rootfs");
	s->created = dup_field(o, "created");
	s->owner = dup_field(o, "owner");
	s->annotations = ref_field(o, "annotations");
	s->hooks = ref_field(o, "hooks");
	s->cgroup = dup_field(o, "cgroup");
	s->namespaces = ref_field(o, "namespaces");
	json_t *mnt = json_object_get(o, "mntNamespace");
	s->mnt_ns_id = (uint64_t)json_integer_value(json_object_get(mnt, "id"));
	s->boot_id = dup_field(mnt, "boot");
	if (!s->boot_id)
		s->mnt_ns_id = 0;
	s->process = ref_field(o, "process");
	s->seccomp = ref_field(o, "seccomp");
	s->mempolicy = ref_field(o, "memoryPolicy");
	s->net_devices = ref_field(o, "netDevices");
	s->intel_rdt = ref_field(o, "intelRdt");
	json_t *per = json_object_get(o, "personality");
	if (json_is_integer(per)) {
		s->has_personality = true;
		s->personality = (unsigned long)json_integer_value(per);
	}
	json_decref(o);
	if (!s->id) {
		husk_state_free(s);
		return husk_err(e, 0, "state.json is corrupt");
	}
	*out = s;
	return 0;
}

void husk_state_free(struct husk_state *s)
{
	if (!s)
		return;
	free(s->id);
	free(s->bundle);
	free(s->rootfs);
	free(s->created);
	free(s->owner);
	json_decref(s->annotations);
	json_decref(s->hooks);
	free(s->cgroup);
	free(s->boot_id);
	json_decref(s->namespaces);
	json_decref(s->process);
	json_decref(s->seccomp);
	json_decref(s->mempolicy);
	json_decref(s->net_devices);
	json_decref(s->intel_rdt);
	free(s);
}

unsigned long long husk_proc_starttime(pid_t pid, bool *zombie)
{
	char path[64], buf[1024];
	if (zombie)
		*zombie = false;
	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	_cleanup_fd_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = husk_read_all(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may contain spaces and parentheses: parse after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	char state = 0;
	unsigned long long start = 0;
	/* fields 3 (state) .. 22 (starttime) */
	if (sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		   &state, &start) != 2)
		return 0;
	if (zombie)
		*zombie = (state == 'Z' || state == 'X');
	return start;
}

const char *husk_state_status(int dirfd, const struct husk_state *s)
{
	bool zombie;
	unsigned long long start = husk_proc_starttime(s->pid, &zombie);
	if (start == 0 || start != s->pid_start || zombie)
		return "stopped";
	if (s->cgroup && husk_cgroup_state_frozen(s->cgroup))
		return "paused";
	struct stat st;
	if (fstatat(dirfd, HUSK_START_SOCK, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return "created";
	return "running";
}

char *husk_state_oci_json(const struct husk_state *s, const char *status, bool pretty)
{
	json_t *o = json_object();
	json_object_set_new(o, "ociVersion", json_string(HUSK_SPEC_VERSION));
	json_object_set_new(o, "id", json_string(s->id));
	json_object_set_new(o, "pid", json_integer(strcmp(status, "stopped") ? s->pid : 0));
	json_object_set_new(o, "status", json_string(status));
	json_object_set_new(o, "bundle", str_or_null(s->bundle));
	json_object_set_new(o, "rootfs", str_or_null(s->rootfs));
	json_object_set_new(o, "created", str_or_null(s->created));
	json_object_set_new(o, "owner", json_string(s->owner ? s->owner : ""));
	if (s->annotations)
		json_object_set(o, "annotations", s->annotations);
	char *text = json_dumps(o, pretty ? JSON_INDENT(2) : JSON_COMPACT);
	json_decref(o);
	return text ? text : xstrdup("{}");
}

#ifndef NS_GET_MNTNS_ID
#define NS_GET_MNTNS_ID _IOR(0xb7, 0x5, uint64_t)
#endif

uint64_t husk_mount_ns_id(pid_t pid)
{
	char ns[64];
	snprintf(ns, sizeof(ns), "/proc/%d/ns/mnt", (int)pid);
	_cleanup_fd_ int fd = open(ns, O_RDONLY | O_CLOEXEC);
	uint64_t id = 0;
	if (fd < 0 || ioctl(fd, NS_GET_MNTNS_ID, &id) < 0)
		return 0;
	return id;
}

char *husk_boot_id(void)
{
	char *text = NULL;
	size_t len;
	struct husk_error ignored = { 0 };
	if (husk_read_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", &text, &len, &ignored) < 0)
		return NULL;
	text[strcspn(text, "\n")] = '\0';
	return text;
}

/* Within the recorded boot only: ids start again at each. */
static bool same_boot(const struct husk_state *s)
{
	_cleanup_free_ char *now = husk_boot_id();
	return s->mnt_ns_id && s->boot_id && now && !strcmp(now, s->boot_id);
}

bool husk_state_in_mount_ns(const struct husk_state *s, pid_t pid)
{
	return s->mnt_ns_id && husk_mount_ns_id(pid) == s->mnt_ns_id;
}

size_t husk_state_mount_ns_pids(const struct husk_state *s, pid_t **out)
{
	size_t n = 0, cap = 16;
	pid_t *v = xmalloc(cap * sizeof(*v));
	_cleanup_dir_ DIR *d = same_boot(s) ? opendir("/proc") : NULL;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		long pid;
		if (husk_parse_long(de->d_name, 1, INT32_MAX, &pid) < 0 ||
		    !husk_state_in_mount_ns(s, (pid_t)pid))
			continue;
		if (n == cap)
			v = xrealloc(v, (cap *= 2) * sizeof(*v));
		v[n++] = (pid_t)pid;
	}
	*out = v;
	return n;
}
