/* husk box [OPTIONS] ROOTFS|IMAGE [CMD [ARG...]]: options stop at ROOTFS, so
 * CMD's own flags are left to CMD; repeatable options collect. */
#include <stdlib.h>
#include <string.h>

#include "box.h"
#include "cli.h"
#include "util.h"

#define O(field) offsetof(struct husk_box_opts, field)
#define S HUSK_FLAG_STRING
#define L HUSK_FLAG_LIST
#define B HUSK_FLAG_BOOL
static const struct husk_flag flags[] = {
	/* the process */
	{ "env", 'e', L, O(env), "set NAME=VALUE (or NAME, from husk's environment); repeatable" },
	{ "env-file", 0, L, O(env_files), "read NAME=VALUE lines from a file; repeatable" },
	{ "workdir", 'w', S, O(workdir), "working directory of the process" },
	{ "user", 'u', S, O(user), "NAME|UID[:GROUP|GID], names from the rootfs's /etc/passwd and /etc/group" },
	{ "entrypoint", 0, S, O(entrypoint), "run this program, with CMD as its arguments" },
	{ "tty", 't', B, O(tty), "give the process a pseudoterminal" },
	{ "interactive", 'i', B, O(interactive), "keep stdin attached (default: /dev/null)" },
	{ "detach", 'd', B, O(detach), "leave the container running and print its name" },
	/* identity and namespaces */
	{ "name", 0, S, O(name), "the container's id (default: box-<12 hex digits>)" },
	{ "hostname", 'h', S, O(hostname), "the hostname (default: the first 12 characters of the id)" },
	{ "net", 0, S, O(net), "none (own network namespace, loopback only; the default) or host" },
	{ "network", 0, S, O(net), "same as --net" },
	{ "ipc", 0, S, O(ipc), "private (the default) or host" },
	{ "pid", 0, S, O(pid), "private (the default) or host" },
	{ "uts", 0, S, O(uts), "private (the default) or host" },
	/* files and mounts */
	{ "volume", 'v', L, O(volumes),
	  "bind mount SRC:DST[:OPTS] (SRC absolute; OPTS ro, rw, z, Z, a propagation); repeatable" },
	{ "mount", 0, L, O(mounts),
	  "type=bind|tmpfs,destination=DST[,source=SRC][,readonly][,bind-propagation=P]"
	  "[,tmpfs-size=N][,tmpfs-mode=M]; repeatable" },
	{ "tmpfs", 0, L, O(tmpfs),
	  "mount a tmpfs on DST[:OPTS] (noexec,nosuid,nodev unless OPTS say otherwise); repeatable" },
	{ "dns", 0, L, O(dns), "a nameserver for /etc/resolv.conf; repeatable" },
	{ "dns-search", 0, L, O(dns_search), "a search domain for /etc/resolv.conf; repeatable" },
	{ "dns-option", 0, L, O(dns_option), "an option for /etc/resolv.conf; repeatable" },
	{ "add-host", 0, L, O(add_host), "NAME:IP line for /etc/hosts; repeatable" },
	{ "shm-size", 0, S, O(shm_size), "size of /dev/shm (default 64m)" },
	{ "rootfs-rw", 0, B, O(rootfs_rw), "write into ROOTFS itself instead of an overlay" },
	{ "isolation", 0, S, O(isolation),
	  "oci (own namespaces, cgroup, /proc and /sys; the default) or chroot (only mount and"
	  " UTS namespaces, the host's /dev, /proc and /sys read-only, no cgroup: for use inside"
	  " a container)" },
	{ "read-only", 0, B, O(read_only), "make the container's root read-only" },
	{ "uidmap", 0, L, O(uidmap),
	  "CONTAINER:HOST:SIZE: a user namespace mapping these uids (root only; alone it maps the"
	  " gids too; the root is shown owned by the mapped ids); repeatable" },
	{ "gidmap", 0, L, O(gidmap), "CONTAINER:HOST:SIZE: the same for gids; repeatable" },
	/* security */
	{ "cap-add", 0, L, O(cap_add), "add a capability (or ALL); repeatable" },
	{ "cap-drop", 0, L, O(cap_drop), "drop a capability (or ALL); repeatable" },
	{ "privileged", 0, B, O(privileged),
	  "all capabilities, the host's devices, no seccomp, no masked or read-only paths" },
	{ "security-opt", 0, L, O(security_opt),
	  "no-new-privileges[=true|false], seccomp=unconfined|FILE (Docker's format), "
	  "apparmor=PROFILE, systempaths=unconfined; repeatable" },
	/* resources */
	{ "memory", 'm', S, O(memory), "memory limit (bytes, or with k, m, g)" },
	{ "memory-swap", 0, S, O(memory_swap), "memory plus swap limit (-1: unlimited)" },
	{ "cpus", 0, S, O(cpus), "number of CPUs (a fraction allowed)" },
	{ "cpu-shares", 'c', S, O(cpu_shares), "relative CPU weight" },
	{ "pids-limit", 0, S, O(pids_limit), "most processes (-1: unlimited)" },
	{ "ulimit", 0, L, O(ulimit), "NAME=SOFT[:HARD], e.g. nofile=1024:2048; repeatable" },
	/* images */
	{ "storage", 0, S, O(storage),
	  "overlay (the layers under an overlay in the state directory; the default) or vfs (a copy"
	  " of them: an image's in its store, a ROOTFS's in the state directory)" },
	{ "storage-root", 0, S, O(storage_root),
	  "the image store (default: /var/lib/husk, or ~/.local/share/husk unprivileged)" },
	{ "print-config", 0, B, O(print_config),
	  "print the config.json box builds (its generated files' sources in the state directory) and exit" },
	HUSK_FLAGS_END,
};
#undef S
#undef L
#undef B

static void opts_free(struct husk_box_opts *o)
{
	struct husk_list *lists[] = { &o->env, &o->env_files, &o->volumes, &o->mounts, &o->tmpfs,
				      &o->dns, &o->dns_search, &o->dns_option, &o->add_host,
				      &o->cap_add, &o->cap_drop, &o->security_opt, &o->ulimit,
				      &o->uidmap, &o->gidmap };
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
		free(lists[i]->v);
}

static int run(const struct husk_cmd *cmd, const struct husk_global_opts *g, int argc, char **argv)
{
	struct husk_box_opts o = { 0 };
	struct husk_error e = { 0 };
	int i, status = HUSK_BOX_EXIT_ERROR;
	int r = husk_cli_parse_leading(cmd, argc, argv, &o, &i, &e);
	if (r == HUSK_CLI_HELP) {
		opts_free(&o);
		return 0;
	}
	if (r < 0) {
		husk_cli_fail("box", NULL, &e);
	} else if (i >= argc) {
		husk_cli_failf("box", NULL, "ROOTFS or IMAGE required (usage: husk box [OPTIONS] ROOTFS|IMAGE [CMD [ARG...]])");
	} else {
		o.rootfs = argv[i];
		o.argv = i + 1 < argc ? argv + i + 1 : NULL;
		char *id = NULL;
		if (husk_box_run(g, &o, &id, &status, &e) < 0)
			husk_cli_fail("box", NULL, &e);
		else if (o.detach && !o.print_config)
			printf("%s\n", id);
		free(id);
	}
	opts_free(&o);
	return status;
}

const struct husk_cmd husk_box_cmd = {
	.name = "box",
	.run = run,
	.summary = "run a root filesystem in one command, never writing into it",
	.args = "ROOTFS|IMAGE [CMD [ARG...]]",
	.description =
		"   Build a container config in memory (husk spec's default with Docker's\n"
		"   defaults: its capabilities, masked paths and seccomp profile, generated\n"
		"   /etc/resolv.conf, /etc/hostname and /etc/hosts, /dev/shm), adjusted by the\n"
		"   options, create and start it, and wait for it.  ROOTFS is the read-only\n"
		"   lower layer of an overlay kept in the container's state directory\n"
		"   (--rootfs-rw: written directly).  CMD defaults to /bin/sh.  Options come\n"
		"   before ROOTFS; short flags combine (-it).\n"
		"   IMAGE (not a directory): NAME[:TAG] or id of an image in the store (husk\n"
		"   image); its Entrypoint, Cmd, Env, WorkingDir and User are the defaults, and\n"
		"   its layers are the overlay's lower layers (--storage vfs: copied).\n"
		"   Exit status: the process's own (128+N for signal N); 125 when husk fails,\n"
		"   126 when CMD is not executable, 127 when it is not found in ROOTFS.\n",
	.flags = flags,
};
