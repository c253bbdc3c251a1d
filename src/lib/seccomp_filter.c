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

int husk_seccomp_apply(json_t *obj, const char *where, struct husk_error *e)
{
	struct husk_seccomp *sc = NULL;
	if (husk_seccomp_prepare(obj, where, &sc, e) < 0)
		return -1;
	if (husk_seccomp_notifies(sc)) {
		husk_seccomp_free(sc);
		return husk_err(e, ENOTSUP, "%s: SCMP_ACT_NOTIFY here", where);
	}
	int r = husk_seccomp_load(sc, NULL, e);
	husk_seccomp_free(sc);
	return r;
}

#if HAVE_SECCOMP

/* seccomp(2) flags as config.json names them.  supported: what husk can
 * honour (WAIT_KILLABLE_RECV matters only with SCMP_ACT_NOTIFY). */
static const struct {
	const char *name;
	unsigned int flag;
	bool supported;
} filter_flags[] = {
	{ "SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC, true },
	{ "SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG, true },
	{ "SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW, true },
	{ "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, true },
};

/* A NULL program makes the kernel check the flags and then fail with
 * EFAULT: the cheapest way to ask whether it knows a flag. */
static bool kernel_has_flag(unsigned int flag)
{
	if (flag == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) /* valid only with a listener */
		flag |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flag, NULL) < 0 && errno == EFAULT;
}

static const struct {
	const char *name;
	uint32_t action;
	bool has_errno; /* takes errnoRet */
} actions[] = {
	{ "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false },
	{ "SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true },
	{ "SCMP_ACT_KILL", SCMP_ACT_KILL, false },
	{ "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false },
	{ "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false },
	{ "SCMP_ACT_LOG", SCMP_ACT_LOG, false },
	{ "SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, false },
	{ "SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true },
	{ "SCMP_ACT_TRAP", SCMP_ACT_TRAP, false },
};

static const struct {
	const char *name;
	enum scmp_compare op;
} operators[] = {
	{ "SCMP_CMP_EQ", SCMP_CMP_EQ },   { "SCMP_CMP_GE", SCMP_CMP_GE },
	{ "SCMP_CMP_GT", SCMP_CMP_GT },   { "SCMP_CMP_LE", SCMP_CMP_LE },
	{ "SCMP_CMP_LT", SCMP_CMP_LT },   { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
	{ "SCMP_CMP_NE", SCMP_CMP_NE },
};

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

#define SC_PATH_MAX 512

static const char *sub(char *buf, const char *parent, const char *key)
{
	/* Checking the length keeps -Wformat-truncation quiet; a path this
	 * long is cut, which only shortens an error message. */
	if (snprintf(buf, SC_PATH_MAX, "%s.%s", parent, key) >= SC_PATH_MAX)
		buf[SC_PATH_MAX - 1] = '\0';
	return buf;
}

static const char *idx(char *buf, const char *parent, const char *key, size_t i)
{
	if (snprintf(buf, SC_PATH_MAX, "%s.%s[%zu]", parent, key, i) >= SC_PATH_MAX)
		buf[SC_PATH_MAX - 1] = '\0';
	return buf;
}

static int get_array(json_t *obj, const char *parent, const char *key, json_t **out,
		     struct husk_error *e)
{
	char p[SC_PATH_MAX];
	*out = sj_get(obj, key);
	if (*out && !json_is_array(*out))
		return husk_err(e, 0, "%s: expected an array", sub(p, parent, key));
	return 0;
}

/* action (required) and its errno (optional) into a libseccomp action. */
static int parse_action(json_t *obj, const char *parent, const char *akey, const char *ekey,
			uint32_t *out, struct husk_error *e)
{
	char p[SC_PATH_MAX];
	json_t *a = sj_get(obj, akey), *er = sj_get(obj, ekey);
	if (!a)
		return husk_err(e, 0, "%s: required", sub(p, parent, akey));
	if (!json_is_string(a))
		return husk_err(e, 0, "%s: expected a string", sub(p, parent, akey));
	const char *name = json_string_value(a);
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++) {
		if (strcmp(name, actions[i].name) != 0)
			continue;
		uint64_t ret = EPERM;
		if (er && !actions[i].has_errno)
			return husk_err(e, 0, "%s: %s takes no errno return code",
					sub(p, parent, ekey), name);
		if (er && sj_uint(er, sub(p, parent, ekey), 0xffff, &ret, e) < 0)
			return -1;
		*out = actions[i].action | (actions[i].has_errno ? (uint32_t)ret : 0);
		return 0;
	}
	return husk_err(e, 0, "%s: unknown action \"%s\"", sub(p, parent, akey), name);
}

static int parse_flags(json_t *obj, const char *where, unsigned int *flags, struct husk_error *e)
{
	char p[SC_PATH_MAX];
	json_t *arr, *it;
	size_t i;
	if (get_array(obj, where, "flags", &arr, e) < 0)
		return -1;
	json_array_foreach(arr, i, it) {
		if (!json_is_string(it))
			return husk_err(e, 0, "%s: expected a string", idx(p, where, "flags", i));
		const char *name = json_string_value(it);
		size_t k = 0;
		while (k < ARRAY_SIZE(filter_flags) && strcmp(name, filter_flags[k].name) != 0)
			k++;
		if (k == ARRAY_SIZE(filter_flags))
			return husk_err(e, 0, "%s: unknown flag \"%s\"", idx(p, where, "flags", i), name);
		if (!filter_flags[k].supported)
			return husk_err(e, ENOTSUP, "%s: %s", idx(p, where, "flags", i), name);
		if (!kernel_has_flag(filter_flags[k].flag))
			return husk_err(e, EINVAL, "%s: %s: not supported by the kernel",
					idx(p, where, "flags", i), name);
		*flags |= filter_flags[k].flag;
	}
	return 0;
}

static int parse_archs(json_t *obj, const char *where, scmp_filter_ctx ctx, struct husk_error *e)
{
	char p[SC_PATH_MAX];
	json_t *arr, *it;
	size_t i;
	if (get_array(obj, where, "architectures", &arr, e) < 0)
		return -1;
	json_array_foreach(arr, i, it) {
		if (!json_is_string(it))
			return husk_err(e, 0, "%s: expected a string", idx(p, where, "architectures", i));
		uint32_t tok = arch_token(json_string_value(it));
		if (!tok)
			return husk_err(e, 0, "%s: unknown architecture \"%s\"",
					idx(p, where, "architectures", i), json_string_value(it));
		int r = seccomp_arch_add(ctx, tok);
		if (r < 0 && r != -EEXIST)
			return husk_err(e, -r, "%s: add architecture %s", idx(p, where, "architectures", i),
					json_string_value(it));
	}
	return 0;
}

static int parse_arg(json_t *a, const char *path, struct scmp_arg_cmp *out, struct husk_error *e)
{
	char p[SC_PATH_MAX];
	uint64_t index, value, two = 0;
	if (!json_is_object(a))
		return husk_err(e, 0, "%s: expected an object", path);
	json_t *vi = sj_get(a, "index"), *vv = sj_get(a, "value"), *v2 = sj_get(a, "valueTwo"),
	       *vo = sj_get(a, "op");
	if (!vi)
		return husk_err(e, 0, "%s: required", sub(p, path, "index"));
	if (sj_uint(vi, sub(p, path, "index"), 5, &index, e) < 0)
		return -1;
	if (!vv)
		return husk_err(e, 0, "%s: required", sub(p, path, "value"));
	if (sj_uint(vv, sub(p, path, "value"), UINT64_MAX, &value, e) < 0)
		return -1;
	if (v2 && sj_uint(v2, sub(p, path, "valueTwo"), UINT64_MAX, &two, e) < 0)
		return -1;
	if (!vo)
		return husk_err(e, 0, "%s: required", sub(p, path, "op"));
	if (!json_is_string(vo))
		return husk_err(e, 0, "%s: expected a string", sub(p, path, "op"));
	const char *op = json_string_value(vo);
	for (size_t i = 0; i < ARRAY_SIZE(operators); i++) {
		if (strcmp(op, operators[i].name) == 0) {
			/* MASKED_EQ: (arg & value) == valueTwo; the others compare
			 * with value alone. */
			*out = (struct scmp_arg_cmp){ .arg = (unsigned int)index,
						      .op = operators[i].op,
						      .datum_a = value,
						      .datum_b = two };
			return 0;
		}
	}
	return husk_err(e, 0, "%s: unknown operator \"%s\"", sub(p, path, "op"), op);
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

static int parse_syscall(json_t *sc, const char *path, uint32_t def, scmp_filter_ctx ctx,
			 struct husk_error *e)
{
	char p[SC_PATH_MAX];
	json_t *names, *args, *it;
	size_t i;
	uint32_t action;
	struct scmp_arg_cmp cmp[6];
	unsigned int ncmp = 0, per_index[6] = { 0 };
	bool shared_index = false;

	if (!json_is_object(sc))
		return husk_err(e, 0, "%s: expected an object", path);
	if (get_array(sc, path, "names", &names, e) < 0 || get_array(sc, path, "args", &args, e) < 0)
		return -1;
	if (!names || json_array_size(names) == 0)
		return husk_err(e, 0, "%s: at least one name required", sub(p, path, "names"));
	json_array_foreach(names, i, it)
		if (!json_is_string(it))
			return husk_err(e, 0, "%s: expected a string", idx(p, path, "names", i));
	if (parse_action(sc, path, "action", "errnoRet", &action, e) < 0)
		return -1;
	if (json_array_size(args) > ARRAY_SIZE(cmp))
		return husk_err(e, 0, "%s: at most %zu conditions", sub(p, path, "args"),
				ARRAY_SIZE(cmp));
	json_array_foreach(args, i, it) {
		if (parse_arg(it, idx(p, path, "args", i), &cmp[ncmp], e) < 0)
			return -1;
		shared_index |= per_index[cmp[ncmp].arg]++ > 0;
		ncmp++;
	}
	/* libseccomp refuses a rule that repeats the default action, and it
	 * would change nothing anyway. */
	if (action == def)
		return 0;

	json_array_foreach(names, i, it) {
		const char *name = json_string_value(it);
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

static int compile(json_t *obj, const char *where, struct husk_seccomp **out,
		   struct husk_error *e)
{
	char p[SC_PATH_MAX];
	json_t *v, *arr, *it;
	size_t i;
	uint32_t def;
	unsigned int flags = 0;
	int ret = -1;

	*out = NULL;
	if (!json_is_object(obj))
		return husk_err(e, 0, "%s: expected an object", where);
	if (parse_action(obj, where, "defaultAction", "defaultErrnoRet", &def, e) < 0 ||
	    parse_flags(obj, where, &flags, e) < 0 ||
	    get_array(obj, where, "syscalls", &arr, e) < 0)
		return -1;
	if (def == SCMP_ACT_NOTIFY)
		/* It would stop the runtime's own last system calls too. */
		return husk_err(e, 0, "%s: SCMP_ACT_NOTIFY is for syscalls[], not the default",
				sub(p, where, "defaultAction"));
	if ((v = sj_get(obj, "listenerMetadata")) && !json_is_string(v))
		return husk_err(e, 0, "%s: expected a string", sub(p, where, "listenerMetadata"));
	const char *listener = NULL;
	if ((v = sj_get(obj, "listenerPath"))) {
		if (!json_is_string(v))
			return husk_err(e, 0, "%s: expected a string", sub(p, where, "listenerPath"));
		listener = *json_string_value(v) ? json_string_value(v) : NULL;
	}
	if (sj_get(obj, "listenerMetadata") && !listener)
		return husk_err(e, 0, "%s: set without listenerPath", sub(p, where, "listenerMetadata"));
	bool notify = false;
	json_array_foreach(arr, i, it) {
		const char *act = json_string_value(sj_get(it, "action"));
		notify |= act && strcmp(act, "SCMP_ACT_NOTIFY") == 0;
	}
	if (notify && !listener)
		return husk_err(e, 0, "%s: SCMP_ACT_NOTIFY needs a listenerPath for the agent",
				sub(p, where, "listenerPath"));
	if (notify)
		flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
	else
		flags &= ~(unsigned int)SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;

	scmp_filter_ctx ctx = seccomp_init(def);
	if (!ctx)
		return husk_err(e, EINVAL, "%s: libseccomp rejects the default action",
				sub(p, where, "defaultAction"));
	/* We load the program ourselves: NNP stays the config's business.
	 * No binary-tree optimization: it doubles the compile time, and the
	 * kernel (5.11+) caches always-allowed syscalls past the filter. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (parse_archs(obj, where, ctx, e) < 0)
		goto out;
	json_array_foreach(arr, i, it)
		if (parse_syscall(it, idx(p, where, "syscalls", i), def, ctx, e) < 0)
			goto out;

	struct husk_seccomp *sc = xcalloc(1, sizeof(*sc));
	sc->flags = flags;
	if (export_bpf(ctx, &sc->prog, e) < 0 ||
	    husk_seccomp_enosys_prepend(ctx, def, arr, &sc->prog, e) < 0) {
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

static char *cache_key(json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
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

int husk_seccomp_prepare(json_t *obj, const char *where, struct husk_seccomp **out,
			 struct husk_error *e)
{
	_cleanup_fd_ int dirfd = json_is_object(obj) ? cache_open() : -1;
	_cleanup_free_ char *key = dirfd >= 0 ? cache_key(obj) : NULL;
	char name[32];
	*out = NULL;
	if (key) {
		cache_name(name, key);
		*out = cache_get(dirfd, name, key);
	}
	if (!*out) {
		if (compile(obj, where, out, e) < 0)
			return -1;
		if (key)
			cache_put(dirfd, name, key, *out);
	}
	if (husk_seccomp_notifies(*out)) {
		const char *meta = json_string_value(sj_get(obj, "listenerMetadata"));
		(*out)->listener_path = xstrdup(json_string_value(sj_get(obj, "listenerPath")));
		(*out)->listener_metadata = meta ? xstrdup(meta) : NULL;
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
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		json_array_append_new(acts, json_string(actions[i].name));
	for (size_t i = 0; i < ARRAY_SIZE(operators); i++)
		json_array_append_new(ops, json_string(operators[i].name));
	for (size_t i = 0; i < ARRAY_SIZE(arch_names); i++)
		if (arch_token(arch_names[i]))
			json_array_append_new(archs, json_string(arch_names[i]));
	for (size_t i = 0; i < ARRAY_SIZE(filter_flags); i++) {
		json_array_append_new(known, json_string(filter_flags[i].name));
		if (filter_flags[i].supported && kernel_has_flag(filter_flags[i].flag))
			json_array_append_new(supported, json_string(filter_flags[i].name));
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

int husk_seccomp_prepare(json_t *obj, const char *where, struct husk_seccomp **out,
			 struct husk_error *e)
{
	(void)obj;
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
