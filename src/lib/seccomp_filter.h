/* linux.seccomp: the OCI seccomp object compiled with libseccomp into a
 * BPF program by the runtime (before any clone), then loaded by the
 * container process with a single seccomp(2) call. */
#pragma once
#include <jansson.h>
#include <stdbool.h>

#include "error.h"
#include "spec.h"
#include "spec_seccomp.h"

struct husk_seccomp; /* a compiled filter, ready to load */

/* Compile a parsed seccomp profile (spec_seccomp.h: config.json's
 * linux.seccomp, or an exec'd process's own).  where names the object in
 * the errors of what the host decides (an architecture libseccomp does not
 * know, a flag the kernel does not support), e.g. "config.json:
 * linux.seccomp" gives "config.json: linux.seccomp.architectures[0]:
 * unknown architecture ...".  Syscall names libseccomp does not know are
 * skipped, as runc does.  Fails (errnum ENOTSUP) in a build without
 * libseccomp. */
int husk_seccomp_prepare(const struct husk_seccomp_profile *sp, const char *where,
			 struct husk_seccomp **out, struct husk_error *e);

/* Compiled programs are cached by the profile's canonical text in /run/husk-cache (or
 * $XDG_RUNTIME_DIR/husk-cache).  For tests: use dir instead, or no cache
 * at all when dir is NULL. */
void husk_seccomp_set_cache_dir(const char *dir);

/* Install the filter on the calling process: one seccomp(2) call, no
 * allocation.  Needs no_new_privileges or CAP_SYS_ADMIN.  notify_fd (may
 * be NULL): the listener fd of a filter with SCMP_ACT_NOTIFY, else -1. */
int husk_seccomp_load(const struct husk_seccomp *sc, int *notify_fd, struct husk_error *e);

/* Does the filter use SCMP_ACT_NOTIFY?  Then it is loaded before the
 * container process reports ready, and its listener fd goes to the agent
 * at linux.seccomp.listenerPath with husk_seccomp_send_listener(): the
 * spec's container process state (state_json: the container's state;
 * pid: the process the filter is on), the fd attached. */
bool husk_seccomp_notifies(const struct husk_seccomp *sc);
int husk_seccomp_send_listener(const struct husk_seccomp *sc, int notify_fd, pid_t pid,
			       const char *state_json, struct husk_error *e);

void husk_seccomp_free(struct husk_seccomp *sc);

/* True when p keeps the right to load a filter after husk_process_apply
 * (no_new_privileges, or CAP_SYS_ADMIN in its effective set), so that the
 * filter can wait until right before execve (or the startContainer hooks)
 * and the runtime's own last syscalls (start handshake) do not run under it. */
bool husk_seccomp_load_late(const struct husk_process *p);

/* BPF instructions in the program (for tests and debug logs). */
size_t husk_seccomp_len(const struct husk_seccomp *sc);

/* features.md's linux.seccomp object (enabled, actions, operators,
 * archs, knownFlags, supportedFlags). */
json_t *husk_seccomp_features(void);
