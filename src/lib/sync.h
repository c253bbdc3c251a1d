/* The sync socket between husk and the container's init (a SOCK_SEQPACKET
 * socketpair): one message per datagram, a fixed header plus payload.
 * Errors inside the init before exec travel back as SYNC_ERROR and are
 * printed by the parent. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum husk_sync_type {
	SYNC_GO = 1,        /* parent -> child: id maps written, cgroups joined (sent when
			     * either was needed, or to an intermediate) */
	SYNC_CHILD_PID,     /* intermediate -> parent: pid of the init */
	SYNC_HOOKS,         /* init -> parent: run prestart/createRuntime hooks now */
	SYNC_HOOKS_DONE,    /* parent -> init: payload is the state JSON */
	SYNC_READY,         /* init -> parent: waiting for start */
	SYNC_ERROR,         /* either way: val = errnum, payload = message */
	SYNC_CONSOLE,       /* init/exec -> parent: pty master attached (terminal.c) */
	/* init -> parent: val = a mount's index; SCM_RIGHTS carries its
	 * detached tree and, without the mount's own mappings, the
	 * container's user namespace.  The reply is the same type or
	 * SYNC_ERROR (mount_idmap.c). */
	SYNC_IDMAP_REQ,
	/* child -> parent, first thing: one '0'/'1' per cgroup hierarchy,
	 * '1' where it could not join by itself (init.c). */
	SYNC_CGROUP,
	/* init/exec -> parent: the seccomp notify fd attached, for the
	 * linux.seccomp.listenerPath agent (seccomp_filter.c). */
	SYNC_SECCOMP,
	/* init -> parent: val = a bind mount's index; SCM_RIGHTS carries the
	 * init's mount namespace.  The reply is the same type with the
	 * source cloned (open_tree) by the runtime, or SYNC_ERROR
	 * (mount_source.c). */
	SYNC_BIND_SRC,
	/* init -> parent: SCM_RIGHTS carries the init's mount and user
	 * namespaces; box's root (its overlay, with idmapped lower layers,
	 * mounted there by a child of the runtime) is wanted.  The reply is
	 * the same type with an O_PATH fd of the root, or SYNC_ERROR
	 * (mount_overlay.c). */
	SYNC_ROOT,
};

struct husk_sync_msg {
	uint32_t type;
	int32_t val;
	uint32_t len;       /* payload bytes that follow the header */
};

#define HUSK_SYNC_MAX_PAYLOAD (128 * 1024)

int husk_sync_send(int fd, enum husk_sync_type type, int32_t val, const char *payload, size_t len,
		   struct husk_error *e);
int husk_sync_send_error(int fd, const struct husk_error *err);
/* In a child before exec: report err to the parent and _exit(1). */
__attribute__((noreturn)) void husk_sync_fail(int fd, const struct husk_error *err);
/* Receive a message of the given type.  A SYNC_ERROR from the peer is
 * turned into e (returns -1); EOF is "init exited unexpectedly".
 * *payload (NUL-terminated, malloc'd) may be NULL when not wanted. */
int husk_sync_expect(int fd, enum husk_sync_type type, int32_t *val, char **payload,
		     struct husk_error *e);

/* One message of type with fd attached (SCM_RIGHTS), and its receiving
 * end (*fd close-on-exec; a SYNC_ERROR from the peer becomes e). */
int husk_sync_send_fd(int sync_fd, enum husk_sync_type type, int fd, struct husk_error *e);
int husk_sync_expect_fd(int sync_fd, enum husk_sync_type type, int *fd, struct husk_error *e);

/* sendmsg of buf with fd attached; on a stream socket the rest of buf
 * follows without it.  -1 with errno on failure. */
int husk_send_fd(int sock, const void *buf, size_t len, int fd);
/* Connect a SOCK_STREAM socket to the unix socket at path (relative to
 * the current directory, any length); what names it in errors. */
int husk_unix_connect(const char *path, const char *what, struct husk_error *e);
