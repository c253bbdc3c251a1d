/* Unit tests (TAP) for mount_opts.c: config.json mount options into
 * flags, clears, propagation, recursive attributes and data. */
#include <stdio.h>
#include <string.h>

#include "mount_opts.h"
#include "util.h"
#include "tap.h"

static struct husk_mount_opts parse(const char *csv)
{
	char *copy = xstrdup(csv), *v[64];
	size_t n = 0;
	for (char *s = strtok(copy, ","); s && n < 63; s = strtok(NULL, ","))
		v[n++] = xstrdup(s);
	v[n] = NULL;
	struct husk_mount_opts o;
	struct husk_error e = { 0 };
	husk_mount_opts_parse(v, n, &o, &e);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(copy);
	return o;
}

static void test_flags(void)
{
	static const struct {
		const char *opt;
		unsigned long flag;
		bool clear;
	} t[] = {
		{ "ro", MS_RDONLY, false },	       { "rw", MS_RDONLY, true },
		{ "nosuid", MS_NOSUID, false },	       { "suid", MS_NOSUID, true },
		{ "nodev", MS_NODEV, false },	       { "dev", MS_NODEV, true },
		{ "noexec", MS_NOEXEC, false },	       { "exec", MS_NOEXEC, true },
		{ "sync", MS_SYNCHRONOUS, false },     { "async", MS_SYNCHRONOUS, true },
		{ "dirsync", MS_DIRSYNC, false },      { "remount", MS_REMOUNT, false },
		{ "mand", MS_MANDLOCK, false },	       { "nomand", MS_MANDLOCK, true },
		{ "noatime", MS_NOATIME, false },      { "atime", MS_NOATIME, true },
		{ "nodiratime", MS_NODIRATIME, false }, { "diratime", MS_NODIRATIME, true },
		{ "relatime", MS_RELATIME, false },    { "norelatime", MS_RELATIME, true },
		{ "strictatime", MS_STRICTATIME, false }, { "nostrictatime", MS_STRICTATIME, true },
		{ "nosymfollow", MS_NOSYMFOLLOW, false }, { "symfollow", MS_NOSYMFOLLOW, true },
		{ "bind", MS_BIND, false },	       { "rbind", MS_BIND | MS_REC, false },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct husk_mount_opts o = parse(t[i].opt);
		if (t[i].clear)
			ok(!(o.flags & t[i].flag) && (o.clear & t[i].flag) == t[i].flag && !o.data,
			   "%s clears flag", t[i].opt);
		else
			ok((o.flags & t[i].flag) == t[i].flag && !o.clear && !o.data, "%s sets flag",
			   t[i].opt);
		husk_mount_opts_free(&o);
	}
	struct husk_mount_opts o = parse("defaults");
	ok(!o.flags && !o.clear && !o.data, "defaults is a no-op");
	o = parse("ro,rw");
	ok(!(o.flags & MS_RDONLY) && (o.clear & MS_RDONLY), "later rw wins over ro");
	o = parse("rw,ro");
	ok((o.flags & MS_RDONLY) && !(o.clear & MS_RDONLY), "later ro wins over rw");
	o = parse("noatime,strictatime");
	ok((o.flags & MS_STRICTATIME) && !(o.flags & MS_NOATIME), "atime modes exclude each other");
	o = parse("nosuid,nodev,noexec,relatime,ro");
	ok(o.flags == (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME | MS_RDONLY),
	   "typical sysfs options combine");
}

static void test_propagation(void)
{
	static const struct {
		const char *opt;
		unsigned long p;
	} t[] = {
		{ "shared", MS_SHARED },	   { "rshared", MS_SHARED | MS_REC },
		{ "slave", MS_SLAVE },		   { "rslave", MS_SLAVE | MS_REC },
		{ "private", MS_PRIVATE },	   { "rprivate", MS_PRIVATE | MS_REC },
		{ "unbindable", MS_UNBINDABLE },   { "runbindable", MS_UNBINDABLE | MS_REC },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct husk_mount_opts o = parse(t[i].opt);
		ok(o.propagation == t[i].p && !o.flags && !o.data, "%s propagation", t[i].opt);
	}
	struct husk_mount_opts o = parse("rbind,rprivate");
	ok(o.propagation == (MS_PRIVATE | MS_REC) && o.flags == (MS_BIND | MS_REC),
	   "propagation MS_REC stays apart from rbind's");
	o = parse("shared,rslave");
	ok(o.propagation == (MS_SLAVE | MS_REC), "last propagation wins");
}

static void test_recursive(void)
{
	static const struct {
		const char *opt;
		uint64_t set, clr;
	} t[] = {
		{ "rro", MOUNT_ATTR_RDONLY, 0 },
		{ "rrw", 0, MOUNT_ATTR_RDONLY },
		{ "rnosuid", MOUNT_ATTR_NOSUID, 0 },
		{ "rsuid", 0, MOUNT_ATTR_NOSUID },
		{ "rnodev", MOUNT_ATTR_NODEV, 0 },
		{ "rdev", 0, MOUNT_ATTR_NODEV },
		{ "rnoexec", MOUNT_ATTR_NOEXEC, 0 },
		{ "rexec", 0, MOUNT_ATTR_NOEXEC },
		{ "rnodiratime", MOUNT_ATTR_NODIRATIME, 0 },
		{ "rdiratime", 0, MOUNT_ATTR_NODIRATIME },
		{ "rnosymfollow", MOUNT_ATTR_NOSYMFOLLOW, 0 },
		{ "rsymfollow", 0, MOUNT_ATTR_NOSYMFOLLOW },
		{ "rnoatime", MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME },
		{ "ratime", MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME },
		{ "rrelatime", MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME },
		{ "rnorelatime", MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME },
		{ "rstrictatime", MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME },
		{ "rnostrictatime", MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct husk_mount_opts o = parse(t[i].opt);
		ok(o.rec_set == t[i].set && o.rec_clr == t[i].clr && !o.flags && !o.data,
		   "%s recursive attribute", t[i].opt);
	}
	struct husk_mount_opts o = parse("rro,rrw");
	ok(!o.rec_set && o.rec_clr == MOUNT_ATTR_RDONLY, "later rrw wins over rro");
	o = parse("rnoatime,rstrictatime,rnosuid");
	ok(o.rec_set == (MOUNT_ATTR_STRICTATIME | MOUNT_ATTR_NOSUID) && o.rec_clr == MOUNT_ATTR__ATIME,
	   "one atime mode, other attributes kept");
	o = parse("ro,rro");
	ok(o.flags == MS_RDONLY && o.rec_set == MOUNT_ATTR_RDONLY, "ro and rro are independent");
}

static void test_special(void)
{
	struct husk_mount_opts o = parse("idmap");
	ok(o.idmap && !o.idmap_recursive && !o.data, "idmap");
	o = parse("ridmap");
	ok(o.idmap && o.idmap_recursive && !o.data, "ridmap");
	o = parse("ridmap,idmap");
	ok(o.idmap && !o.idmap_recursive, "idmap after ridmap: not recursive");
	o = parse("idmap,ridmap,ro");
	ok(o.idmap && o.idmap_recursive && (o.flags & MS_RDONLY) && !o.data,
	   "ridmap after idmap: recursive, other flags kept");
	o = parse("tmpcopyup,mode=755");
	ok(o.tmpcopyup && o.data && strcmp(o.data, "mode=755") == 0, "tmpcopyup is not data");
	husk_mount_opts_free(&o);
}

static void test_data(void)
{
	struct husk_mount_opts o = parse("nosuid,size=65536k,strictatime,mode=755,uid=1000,gid=5");
	ok(o.data && strcmp(o.data, "size=65536k,mode=755,uid=1000,gid=5") == 0,
	   "unknown options pass through as data, in order");
	ok(o.flags == (MS_NOSUID | MS_STRICTATIME), "flags taken out of the data");
	husk_mount_opts_free(&o);
	ok(o.data == NULL, "free clears data");
	o = parse("newinstance,ptmxmode=0666,mode=0620,gid=5");
	ok(o.data && strcmp(o.data, "newinstance,ptmxmode=0666,mode=0620,gid=5") == 0,
	   "devpts options are data");
	husk_mount_opts_free(&o);
	o = parse("lowerdir=/a:/b,upperdir=/u,workdir=/w,ro");
	ok(o.data && strcmp(o.data, "lowerdir=/a:/b,upperdir=/u,workdir=/w") == 0 &&
		   o.flags == MS_RDONLY,
	   "overlay options are data");
	husk_mount_opts_free(&o);
	struct husk_error e = { 0 };
	ok(husk_mount_opts_parse(NULL, 0, &o, &e) == 0 && !o.flags && !o.data, "no options");
}

static void test_attr(void)
{
	uint64_t set, clr;
	struct husk_mount_opts o = parse("bind,ro,nosuid,nodev,noexec");
	husk_mount_opts_attr(&o, &set, &clr);
	ok(set == (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC) && !clr,
	   "bind flags as mount_setattr attributes");
	o = parse("rbind,rw,suid,dev,exec");
	husk_mount_opts_attr(&o, &set, &clr);
	ok(!set && clr == (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC),
	   "explicit clears as attr_clr");
	o = parse("bind,noatime");
	husk_mount_opts_attr(&o, &set, &clr);
	ok(set == MOUNT_ATTR_NOATIME && clr == MOUNT_ATTR__ATIME, "noatime selects the atime mode");
	o = parse("bind,strictatime,nodiratime,nosymfollow");
	husk_mount_opts_attr(&o, &set, &clr);
	ok(set == (MOUNT_ATTR_STRICTATIME | MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_NOSYMFOLLOW) &&
		   clr == MOUNT_ATTR__ATIME,
	   "strictatime, nodiratime, nosymfollow");
	o = parse("bind,atime");
	husk_mount_opts_attr(&o, &set, &clr);
	ok(!set && clr == MOUNT_ATTR__ATIME, "atime means back to relatime");
	o = parse("bind");
	husk_mount_opts_attr(&o, &set, &clr);
	ok(!set && !clr, "plain bind changes nothing");
}

int main(void)
{
	test_flags();
	test_propagation();
	test_recursive();
	test_special();
	test_data();
	test_attr();
	return tap_done();
}
