#include "mount_opts.h"

#include <string.h>

#include "util.h"

/* Per-mount flags: name, MS_* bit, whether the option clears it. */
static const struct {
	const char *name;
	unsigned long flag;
	bool clear;
} flag_opts[] = {
	{ "defaults", 0, false },
	{ "ro", MS_RDONLY, false },
	{ "rw", MS_RDONLY, true },
	{ "nosuid", MS_NOSUID, false },
	{ "suid", MS_NOSUID, true },
	{ "nodev", MS_NODEV, false },
	{ "dev", MS_NODEV, true },
	{ "noexec", MS_NOEXEC, false },
	{ "exec", MS_NOEXEC, true },
	{ "sync", MS_SYNCHRONOUS, false },
	{ "async", MS_SYNCHRONOUS, true },
	{ "dirsync", MS_DIRSYNC, false },
	{ "remount", MS_REMOUNT, false },
	{ "mand", MS_MANDLOCK, false },
	{ "nomand", MS_MANDLOCK, true },
	{ "noatime", MS_NOATIME, false },
	{ "atime", MS_NOATIME, true },
	{ "nodiratime", MS_NODIRATIME, false },
	{ "diratime", MS_NODIRATIME, true },
	{ "relatime", MS_RELATIME, false },
	{ "norelatime", MS_RELATIME, true },
	{ "strictatime", MS_STRICTATIME, false },
	{ "nostrictatime", MS_STRICTATIME, true },
	{ "nosymfollow", MS_NOSYMFOLLOW, false },
	{ "symfollow", MS_NOSYMFOLLOW, true },
	{ "lazytime", MS_LAZYTIME, false },
	{ "nolazytime", MS_LAZYTIME, true },
	{ "iversion", MS_I_VERSION, false },
	{ "noiversion", MS_I_VERSION, true },
	{ "silent", MS_SILENT, false },
	{ "loud", MS_SILENT, true },
	{ "bind", MS_BIND, false },
	{ "rbind", MS_BIND | MS_REC, false },
};

static const struct {
	const char *name;
	unsigned long flag;
} prop_opts[] = {
	{ "shared", MS_SHARED },
	{ "rshared", MS_SHARED | MS_REC },
	{ "slave", MS_SLAVE },
	{ "rslave", MS_SLAVE | MS_REC },
	{ "private", MS_PRIVATE },
	{ "rprivate", MS_PRIVATE | MS_REC },
	{ "unbindable", MS_UNBINDABLE },
	{ "runbindable", MS_UNBINDABLE | MS_REC },
};

/* Recursive attributes (mount_setattr with AT_RECURSIVE).  atime is a
 * three-way mode in mount_setattr, not a bit, so the atime options select a
 * mode (atime >= 0) instead of setting or clearing a bit. */
#define NO_ATIME_MODE (-1)
static const struct {
	const char *name;
	uint64_t attr;
	bool clear;
	int atime;
} rec_opts[] = {
	{ "rro", MOUNT_ATTR_RDONLY, false, NO_ATIME_MODE },
	{ "rrw", MOUNT_ATTR_RDONLY, true, NO_ATIME_MODE },
	{ "rnosuid", MOUNT_ATTR_NOSUID, false, NO_ATIME_MODE },
	{ "rsuid", MOUNT_ATTR_NOSUID, true, NO_ATIME_MODE },
	{ "rnodev", MOUNT_ATTR_NODEV, false, NO_ATIME_MODE },
	{ "rdev", MOUNT_ATTR_NODEV, true, NO_ATIME_MODE },
	{ "rnoexec", MOUNT_ATTR_NOEXEC, false, NO_ATIME_MODE },
	{ "rexec", MOUNT_ATTR_NOEXEC, true, NO_ATIME_MODE },
	{ "rnodiratime", MOUNT_ATTR_NODIRATIME, false, NO_ATIME_MODE },
	{ "rdiratime", MOUNT_ATTR_NODIRATIME, true, NO_ATIME_MODE },
	{ "rnosymfollow", MOUNT_ATTR_NOSYMFOLLOW, false, NO_ATIME_MODE },
	{ "rsymfollow", MOUNT_ATTR_NOSYMFOLLOW, true, NO_ATIME_MODE },
	{ "rnoatime", 0, false, MOUNT_ATTR_NOATIME },
	{ "ratime", 0, false, MOUNT_ATTR_RELATIME },
	{ "rrelatime", 0, false, MOUNT_ATTR_RELATIME },
	{ "rnorelatime", 0, false, MOUNT_ATTR_STRICTATIME },
	{ "rstrictatime", 0, false, MOUNT_ATTR_STRICTATIME },
	{ "rnostrictatime", 0, false, MOUNT_ATTR_RELATIME },
};

static void data_append(char **data, size_t *len, const char *opt)
{
	size_t l = strlen(opt);
	*data = xrealloc(*data, *len + l + 2);
	if (*len)
		(*data)[(*len)++] = ',';
	memcpy(*data + *len, opt, l + 1);
	*len += l;
}

static bool parse_one(struct husk_mount_opts *o, const char *opt)
{
	for (size_t i = 0; i < ARRAY_SIZE(flag_opts); i++) {
		if (strcmp(opt, flag_opts[i].name) != 0)
			continue;
		unsigned long f = flag_opts[i].flag;
		if (flag_opts[i].clear) {
			o->flags &= ~f;
			o->clear |= f;
		} else {
			o->flags |= f;
			o->clear &= ~f;
		}
		/* The atime modes exclude each other. */
		if (!flag_opts[i].clear && (f & (MS_NOATIME | MS_RELATIME | MS_STRICTATIME)))
			o->flags &= ~((MS_NOATIME | MS_RELATIME | MS_STRICTATIME) & ~f);
		return true;
	}
	for (size_t i = 0; i < ARRAY_SIZE(prop_opts); i++) {
		if (strcmp(opt, prop_opts[i].name) == 0) {
			o->propagation = prop_opts[i].flag;
			return true;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(rec_opts); i++) {
		if (strcmp(opt, rec_opts[i].name) != 0)
			continue;
		if (rec_opts[i].atime != NO_ATIME_MODE) {
			o->rec_set = (o->rec_set & ~(uint64_t)MOUNT_ATTR__ATIME) | (uint64_t)rec_opts[i].atime;
			o->rec_clr |= MOUNT_ATTR__ATIME;
		} else if (rec_opts[i].clear) {
			o->rec_set &= ~rec_opts[i].attr;
			o->rec_clr |= rec_opts[i].attr;
		} else {
			o->rec_set |= rec_opts[i].attr;
			o->rec_clr &= ~rec_opts[i].attr;
		}
		return true;
	}
	if (strcmp(opt, "idmap") == 0 || strcmp(opt, "ridmap") == 0) {
		o->idmap = true;
		o->idmap_recursive = opt[0] == 'r';
		return true;
	}
	if (strcmp(opt, "tmpcopyup") == 0) {
		o->tmpcopyup = true;
		return true;
	}
	return false;
}

int husk_mount_opts_parse(char *const *options, size_t n, struct husk_mount_opts *out,
			  struct husk_error *e)
{
	(void)e;
	size_t len = 0;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n && options[i]; i++) {
		if (!parse_one(out, options[i]))
			data_append(&out->data, &len, options[i]);
	}
	return 0;
}

void husk_mount_opts_free(struct husk_mount_opts *o)
{
	free(o->data);
	o->data = NULL;
}

void husk_mount_opts_attr(const struct husk_mount_opts *o, uint64_t *attr_set, uint64_t *attr_clr)
{
	static const struct {
		unsigned long ms;
		uint64_t attr;
	} map[] = {
		{ MS_RDONLY, MOUNT_ATTR_RDONLY },	  { MS_NOSUID, MOUNT_ATTR_NOSUID },
		{ MS_NODEV, MOUNT_ATTR_NODEV },		  { MS_NOEXEC, MOUNT_ATTR_NOEXEC },
		{ MS_NODIRATIME, MOUNT_ATTR_NODIRATIME }, { MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW },
	};
	uint64_t set = 0, clr = 0;
	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		if (o->flags & map[i].ms)
			set |= map[i].attr;
		else if (o->clear & map[i].ms)
			clr |= map[i].attr;
	}
	/* atime: an explicit mode replaces the current one; clearing noatime
	 * or strictatime means the kernel default, relatime. */
	if (o->flags & MS_NOATIME)
		set |= MOUNT_ATTR_NOATIME, clr |= MOUNT_ATTR__ATIME;
	else if (o->flags & MS_STRICTATIME)
		set |= MOUNT_ATTR_STRICTATIME, clr |= MOUNT_ATTR__ATIME;
	else if (o->flags & MS_RELATIME || o->clear & (MS_NOATIME | MS_STRICTATIME))
		clr |= MOUNT_ATTR__ATIME;
	*attr_set = set;
	*attr_clr = clr;
}
