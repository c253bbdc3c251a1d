/* linux.seccomp.  The runtime validates the object and compiles it with
 * libseccomp before cloning anything, so a bad profile fails create early
 * with its JSON path, and the container process only makes the one
 * seccomp(2) call that installs the ready BPF program. */
#include "seccomp_filter.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "json_get.h"
#include "sync.h"
#include "util.h"

#if HAVE_SECCOMP
#include <seccomp.h>

#include "seccomp_enosys.h"
#endif

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

#define CAP_SYS_ADMIN_BIT 21

struct husk_seccomp {
	struct sock_fprog prog;
	unsigned int flags; /* SECCOMP_FILTER_FLAG_* for seccomp(2) */
	/* SCMP_ACT_NOTIFY: where the notify fd goes (flags has NEW_LISTENER) */
	char *listener_path;
	char *listener_metadata;
};

bool husk_seccomp_load_late(const struct husk_process *p)
{
	if (p->no_new_privileges)
		return true;
	return p->has_caps && p->caps.has_effective &&
	       (p->caps.effective & (1ULL << CAP_SYS_ADMIN_BIT));
}

size_t husk_seccomp_len(const struct husk_seccomp *sc)
{
	return sc ? sc->prog.len : 0;
}

void husk_seccomp_free(struct husk_seccomp *sc)
{
	if (!sc)
		return;
	free(sc->prog.filter);
	free(sc->listener_path);
	free(sc->listener_metadata);
	free(sc);
}

bool husk_seccomp_notifies(const struct husk_seccomp *sc)
{
	return sc && (sc->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER);
}

int husk_seccomp_load(const struct husk_seccomp *sc, int *notify_fd, struct husk_error *e)
{
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, sc->flags, &sc->prog);
	if (notify_fd)
		*notify_fd = r > 0 && husk_seccomp_notifies(sc) ? (int)r : -1;
	if (r >= 0)
		return 0;
	if (errno == EACCES)
		return husk_errno(e, "load seccomp filter (needs noNewPrivileges or CAP_SYS_ADMIN)");
	return husk_errno(e, "load seccomp filter");
}

#if HAVE_SECCOMP

/* seccomp(2) flags by the spec's name (spec_seccomp.h).  supported: what
 * husk can honour (WAIT_KILLABLE_RECV matters only with SCMP_ACT_NOTIFY). */
static const struct {
	unsigned int flag;
	bool supported;
} filter_flags[HUSK_SC_FLAG__COUNT] = {
	[HUSK_SC_FLAG_TSYNC] = { SECCOMP_FILTER_FLAG_TSYNC, true },
	[HUSK_SC_FLAG_LOG] = { SECCOMP_FILTER_FLAG_LOG, true },
	[HUSK_SC_FLAG_SPEC_ALLOW] = { SECCOMP_FILTER_FLAG_SPEC_ALLOW, true },
	[HUSK_SC_FLAG_WAIT_KILLABLE_RECV] = { SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, true },
};

/* A NULL program makes the kernel check the flags and then fail with
 * EFAULT: the cheapest way to ask whether it knows a flag. */
static bool kernel_has_flag(unsigned int flag)
{
	if (flag == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) /* valid only with a listener */
		flag |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flag, NULL) < 0 && errno == EFAULT;
}

static const uint32_t action_value[HUSK_SC_ACTION__COUNT] = {
	[HUSK_SC_ALLOW] = SCMP_ACT_ALLOW,
	[HUSK_SC_ERRNO] = SCMP_ACT_ERRNO(0),
	[HUSK_SC_KILL] = SCMP_ACT_KILL,
	[HUSK_SC_KILL_PROCESS] = SCMP_ACT_KILL_PROCESS,
	[HUSK_SC_KILL_THREAD] = SCMP_ACT_KILL_THREAD,
	[HUSK_SC_LOG] = SCMP_ACT_LOG,
	[HUSK_SC_NOTIFY] = SCMP_ACT_NOTIFY,
	[HUSK_SC_TRACE] = SCMP_ACT_TRACE(0),
	[HUSK_SC_TRAP] = SCMP_ACT_TRAP,
};

static const enum scmp_compare op_value[HUSK_SC_OP__COUNT] = {
	[HUSK_SC_CMP_EQ] = SCMP_CMP_EQ, [HUSK_SC_CMP_GE] = SCMP_CMP_GE,
	[HUSK_SC_CMP_GT] = SCMP_CMP_GT, [HUSK_SC_CMP_LE] = SCMP_CMP_LE,
	[HUSK_SC_CMP_LT] = SCMP_CMP_LT, [HUSK_SC_CMP_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
	[HUSK_SC_CMP_NE] = SCMP_CMP_NE,
};

/* The libseccomp action; an errno return code defaults to EPERM. */
static uint32_t action_of(enum husk_sc_action a, bool has_ret, uint32_t ret)
{
	if (!husk_sc_action_takes_errno(a))
		return action_value[a];
	return action_value[a] | (has_ret ? ret : EPERM);
}

/* Every SCMP_ARCH_* name of the spec; libseccomp's name is the suffix in
 * lower case.  Those this libseccomp does not know are not offered. */
static const char *const arch_names[] = {
	"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM",      "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",
	"SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
	"SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64", "SCMP_ARCH_PPC",      "SCMP_ARCH_PPC64",
	"SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64",  "SCMP_ARCH_S390",     "SCMP_ARCH_S390X",
	"SCMP_ARCH_X32",     "SCMP_ARCH_X86",      "SCMP_ARCH_X86_64",
};

static uint32_t arch_token(const char *name)
{
	if (strncmp(name, "SCMP_ARCH_", 10) != 0 || strlen(name) > 40)
		return 0;
	char lower[40];
	size_t i = 0;
	for (const char *c = name + 10; *c; c++)
		lower[i++] = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c;
	lower[i] = '\0';
	return seccomp_arch_resolve_name(lower);
}

/* "parent.key[i]" */
static const char *idx(char *buf, const char *parent, const char *key, size_t i)
{
	char m[SJ_PATH_MAX];
	return sj_index(buf, sj_path(m, parent, key), i);
}

/* What the host decides on: the kernel's support of each flag. */
static int kernel_flags(const struct husk_seccomp_profile *sp, const char *where,
			unsigned int *flags, struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	for (size_t i = 0; i < sp->n_flags; i++) {
		enum husk_sc_flag f = sp->flags[i];
		if (!filter_flags[f].supported)
			return husk_err(e, ENOTSUP, "%s: %s", idx(p, where, "flags", i), husk_sc_flag_name[f]);
		if (!kernel_has_flag(filter_flags[f].flag))
			return husk_err(e, EINVAL, "%s: %s: not supported by the kernel",
					idx(p, where, "flags", i), husk_sc_flag_name[f]);
		*flags |= filter_flags[f].flag;
	}
	return 0;
}

/* ... and whether libseccomp knows each architecture. */
static int add_archs(const struct husk_seccomp_profile *sp, const char *where, scmp_filter_ctx ctx,
		     struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	for (size_t i = 0; i < sp->n_architectures; i++) {
		const char *name = sp->architectures[i];
		uint32_t tok = arch_token(name);
		if (!tok)
			return husk_err(e, 0, "%s: unknown architecture \"%s\"",
					idx(p, where, "architectures", i), name);
		int r = seccomp_arch_add(ctx, tok);
		if (r < 0 && r != -EEXIST)
			return husk_err(e, -r, "%s: add architecture %s", idx(p, where, "architectures", i),
					name);
	}
	return 0;
}

static int add_rule(scmp_filter_ctx ctx, const char *path, const char *name, int nr,
		    uint32_t action, const struct scmp_arg_cmp *args, unsigned int nargs,
		    struct husk_error *e)
{
	int r = seccomp_rule_add_array(ctx, action, nr, nargs, args);
	if (r < 0)
		return husk_err(e, -r, "%s: add rule for %s", path, name);
	return 0;
}

static int add_syscall(const struct husk_sc_rule *rule, const char *path, uint32_t def,
		       scmp_filter_ctx ctx, struct husk_error *e)
{
	struct scmp_arg_cmp cmp[HUSK_SC_MAX_ARGS];
	unsigned int ncmp = 0, per_index[HUSK_SC_MAX_ARGS] = { 0 };
	bool shared_index = false;
	uint32_t action = action_of(rule->action, rule->has_errno_ret, rule->errno_ret);
	for (size_t k = 0; k < rule->n_args; k++) {
		const struct husk_sc_arg *a = &rule->args[k];
		/* MASKED_EQ: (arg & value) == valueTwo; the others compare
		 * with value alone. */
		cmp[ncmp++] = (struct scmp_arg_cmp){ .arg = a->index, .op = op_value[a->op],
						     .datum_a = a->value, .datum_b = a->value_two };
		shared_index |= per_index[a->index]++ > 0;
	}
	/* libseccomp refuses a rule that repeats the default action, and it
	 * would change nothing anyway. */
	if (action == def)
		return 0;

	for (size_t i = 0; i < rule->n_names; i++) {
		const char *name = rule->names[i];
		int nr = seccomp_syscall_resolve_name(name);
		if (nr == __NR_SCMP_ERROR)
			continue; /* unknown to libseccomp: skipped, as runc does */
		if (!shared_index) {
			/* The conditions hold together (AND). */
			if (add_rule(ctx, path, name, nr, action, cmp, ncmp, e) < 0)
				return -1;
			continue;
		}
		/* Two conditions on one argument cannot be ANDed in one rule:
		 * like runc, make each a rule of its own (OR). */
		for (unsigned int k = 0; k < ncmp; k++)
			if (add_rule(ctx, path, name, nr, action, &cmp[k], 1, e) < 0)
				return -1;
	}
	return 0;
}

static int export_bpf(scmp_filter_ctx ctx, struct sock_fprog *prog, struct husk_error *e)
{
	/* libseccomp 2.5 exports only to an fd. */
	_cleanup_fd_ int fd = memfd_create("husk-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return husk_errno(e, "memfd_create");
	int r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return husk_err(e, -r, "export seccomp filter");
	struct stat st;
	if (fstat(fd, &st) < 0)
		return husk_errno(e, "fstat seccomp filter");
	size_t len = (size_t)st.st_size;
	if (len == 0 || len % sizeof(struct sock_filter) || len / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return husk_err(e, E2BIG, "seccomp filter of %zu bytes", len);
	struct sock_filter *insns = xmalloc(len);
	if (pread(fd, insns, len, 0) != (ssize_t)len) {
		free(insns);
		return husk_errno(e, "read seccomp filter");
	}
	prog->filter = insns;
	prog->len = (unsigned short)(len / sizeof(struct sock_filter));
	return 0;
}

static int compile(const struct husk_seccomp_profile *sp, const char *where,
		   struct husk_seccomp **out, struct husk_error *e)
{
	char p[SJ_PATH_MAX];
	uint32_t def = action_of(sp->default_action, sp->has_default_errno_ret, sp->default_errno_ret);
	unsigned int flags = 0;
	int ret = -1;

	*out = NULL;
	if (kernel_flags(sp, where, &flags, e) < 0)
		return -1;
	if (sp->notifies)
		flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
	else
		flags &= ~(unsigned int)SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;

	scmp_filter_ctx ctx = seccomp_init(def);
	if (!ctx)
		return husk_err(e, EINVAL, "%s: libseccomp rejects the default action",
				sj_path(p, where, "defaultAction"));
	/* We load the program ourselves: NNP stays the config's business.
	 * No binary-tree optimization: it doubles the compile time, and the
	 * kernel (5.11+) caches always-allowed syscalls past the filter. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (add_archs(sp, where, ctx, e) < 0)
		goto out;
	for (size_t i = 0; i < sp->n_syscalls; i++)
		if (add_syscall(&sp->syscalls[i], idx(p, where, "syscalls", i), def, ctx, e) < 0)
			goto out;

	struct husk_seccomp *sc = xcalloc(1, sizeof(*sc));
	sc->flags = flags;
	if (export_bpf(ctx, &sc->prog, e) < 0 ||
	    husk_seccomp_enosys_prepend(ctx, def, sp, &sc->prog, e) < 0) {
		free(sc->prog.filter);
		free(sc);
		husk_err_wrap(e, "%s", where);
		goto out;
	}
	*out = sc;
	ret = 0;
out:
	seccomp_release(ctx);
	return ret;
}

/* The compile cache.  Engines hand every container the same profile, and
 * compiling docker's default for three architectures costs milliseconds,
 * more than the rest of create.  Programs are kept by the exact profile
 * text (keys sorted) plus the libseccomp version and API level, in a
 * directory only we may write; a hit is one small file read. */
#define CACHE_MAGIC "HUSKBPF2" /* 2: with the ENOSYS stub */

struct cache_header {
	char magic[8];
	uint32_t flags;
	uint32_t key_len;
	uint32_t n_insns;
	uint32_t reserved;
};

static char *cache_dir_override;
static bool cache_dir_overridden;

void husk_seccomp_set_cache_dir(const char *dir)
{
	free(cache_dir_override);
	cache_dir_override = dir ? xstrdup(dir) : NULL;
	cache_dir_overridden = true;
}

static int cache_open(void)
{
	_cleanup_free_ char *path = NULL;
	if (cache_dir_overridden) {
		if (!cache_dir_override)
			return -1;
		path = xstrdup(cache_dir_override);
	} else if (geteuid() == 0) {
		path = xstrdup("/run/husk-cache");
	} else {
		const char *xdg = getenv("XDG_RUNTIME_DIR");
		if (!xdg || *xdg != '/')
			return -1;
		path = xasprintf("%s/husk-cache", xdg);
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	/* Trust only a directory that nobody else can write to. */
	if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The profile as parsed, written canonically: the same profile gives the
 * same key whatever the order or spelling of its document. */
static char *cache_key(const struct husk_seccomp_profile *sp)
{
	json_t *obj = husk_seccomp_profile_json(sp);
	char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	if (!text)
		return NULL;
	const struct scmp_version *v = seccomp_version();
	char *key = xasprintf("%u.%u.%u/%u/%s", v->major, v->minor, v->micro, seccomp_api_get(), text);
	free(text);
	return key;
}

static void cache_name(char name[32], const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a: a name, not a check */
	for (const unsigned char *c = (const unsigned char *)key; *c; c++)
		h = (h ^ *c) * 0x100000001b3ULL;
	snprintf(name, 32, "seccomp-%016llx", (unsigned long long)h);
}

static struct husk_seccomp *cache_get(int dirfd, const char *name, const char *key)
{
	_cleanup_fd_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 22))
		return NULL;
	size_t len = (size_t)st.st_size, klen = strlen(key);
	_cleanup_free_ char *buf = xmalloc(len + 1);
	struct cache_header h;
	if (len < sizeof(h) || husk_read_all(fd, buf, len) != (ssize_t)len)
		return NULL;
	memcpy(&h, buf, sizeof(h));
	size_t insns = (size_t)h.n_insns * sizeof(struct sock_filter);
	/* The whole key must match: the name is only a hash. */
	if (memcmp(h.magic, CACHE_MAGIC, 8) != 0 || h.key_len != klen || h.n_insns == 0 ||
	    h.n_insns > BPF_MAXINSNS || len != sizeof(h) + klen + insns ||
	    memcmp(buf + sizeof(h), key, klen) != 0)
		return NULL;
	struct husk_seccomp *sc = xcalloc(1, sizeof(*sc));
	sc->flags = h.flags;
	sc->prog.len = (unsigned short)h.n_insns;
	sc->prog.filter = xmalloc(insns);
	memcpy(sc->prog.filter, buf + sizeof(h) + klen, insns);
	return sc;
}

/* Keep the cache small: on a miss (already the slow path), a full cache
 * is emptied.  Engines use a handful of profiles; this only bounds a
 * stream of distinct ones. */
#define CACHE_MAX_ENTRIES 64

static void cache_trim(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *de;
	size_t n = 0;
	while ((de = readdir(d)))
		n += strncmp(de->d_name, "seccomp-", 8) == 0;
	if (n >= CACHE_MAX_ENTRIES) {
		rewinddir(d);
		while ((de = readdir(d)))
			if (strncmp(de->d_name, "seccomp-", 8) == 0)
				unlinkat(dirfd, de->d_name, 0);
	}
	closedir(d);
}

static void cache_put(int dirfd, const char *name, const char *key, const struct husk_seccomp *sc)
{
	cache_trim(dirfd);
	size_t klen = strlen(key), insns = sc->prog.len * sizeof(struct sock_filter);
	struct cache_header h = { .flags = sc->flags, .key_len = (uint32_t)klen, .n_insns = sc->prog.len };
	memcpy(h.magic, CACHE_MAGIC, 8);
	_cleanup_free_ char *buf = xmalloc(sizeof(h) + klen + insns);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), key, klen);
	memcpy(buf + sizeof(h) + klen, sc->prog.filter, insns);
	struct husk_error ignored; /* a cache that cannot be written is no cache */
	husk_write_file_atomic_at(dirfd, name, buf, sizeof(h) + klen + insns, 0600, &ignored);
}

int husk_seccomp_prepare(const struct husk_seccomp_profile *sp, const char *where,
			 struct husk_seccomp **out, struct husk_error *e)
{
	_cleanup_fd_ int dirfd = cache_open();
	_cleanup_free_ char *key = dirfd >= 0 ? cache_key(sp) : NULL;
	char name[32];
	*out = NULL;
	if (key) {
		cache_name(name, key);
		*out = cache_get(dirfd, name, key);
	}
	if (!*out) {
		if (compile(sp, where, out, e) < 0)
			return -1;
		if (key)
			cache_put(dirfd, name, key, *out);
	}
	if (husk_seccomp_notifies(*out)) {
		(*out)->listener_path = xstrdup(sp->listener_path);
		(*out)->listener_metadata = sp->listener_metadata ? xstrdup(sp->listener_metadata) : NULL;
	}
	return 0;
}

int husk_seccomp_send_listener(const struct husk_seccomp *sc, int notify_fd, pid_t pid,
			       const char *state_json, struct husk_error *e)
{
	json_error_t je;
	json_t *state = json_loads(state_json, 0, &je);
	json_t *msg = json_pack("{s:s, s:[s], s:i, s:o*}", "ociVersion", HUSK_SPEC_VERSION, "fds",
				"seccompFd", "pid", (int)pid, "state", state);
	if (sc->listener_metadata)
		json_object_set_new(msg, "metadata", json_string(sc->listener_metadata));
	char *text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	int r = -1;
	_cleanup_fd_ int sock = husk_unix_connect(sc->listener_path, "agent socket", e);
	/* one state per connection, then closed, as the spec asks */
	if (sock >= 0 && husk_send_fd(sock, text, strlen(text), notify_fd) < 0)
		husk_errno(e, "send the seccomp notify fd to %s", sc->listener_path);
	else if (sock >= 0)
		r = 0;
	free(text);
	return r;
}

json_t *husk_seccomp_features(void)
{
	json_t *acts = json_array(), *ops = json_array(), *archs = json_array();
	json_t *known = json_array(), *supported = json_array();
	for (size_t i = 0; i < HUSK_SC_ACTION__COUNT; i++)
		json_array_append_new(acts, json_string(husk_sc_action_name[i]));
	for (size_t i = 0; i < HUSK_SC_OP__COUNT; i++)
		json_array_append_new(ops, json_string(husk_sc_op_name[i]));
	for (size_t i = 0; i < ARRAY_SIZE(arch_names); i++)
		if (arch_token(arch_names[i]))
			json_array_append_new(archs, json_string(arch_names[i]));
	for (size_t i = 0; i < HUSK_SC_FLAG__COUNT; i++) {
		json_array_append_new(known, json_string(husk_sc_flag_name[i]));
		if (filter_flags[i].supported && kernel_has_flag(filter_flags[i].flag))
			json_array_append_new(supported, json_string(husk_sc_flag_name[i]));
	}
	return json_pack("{s:b, s:o, s:o, s:o, s:o, s:o}", "enabled", 1, "actions", acts,
			 "operators", ops, "archs", archs, "knownFlags", known, "supportedFlags",
			 supported);
}

#else /* !HAVE_SECCOMP */

void husk_seccomp_set_cache_dir(const char *dir)
{
	(void)dir;
}

int husk_seccomp_prepare(const struct husk_seccomp_profile *sp, const char *where,
			 struct husk_seccomp **out, struct husk_error *e)
{
	(void)sp;
	*out = NULL;
	/* Running the container unconfined instead would be a silent hole. */
	return husk_err(e, ENOTSUP, "%s: husk was built without libseccomp", where);
}

json_t *husk_seccomp_features(void)
{
	return json_pack("{s:b}", "enabled", 0);
}

int husk_seccomp_send_listener(const struct husk_seccomp *sc, int notify_fd, pid_t pid,
			       const char *state_json, struct husk_error *e)
{
	(void)sc;
	(void)notify_fd;
	(void)pid;
	(void)state_json;
	return husk_err(e, ENOTSUP, "husk was built without libseccomp");
}

#endif
