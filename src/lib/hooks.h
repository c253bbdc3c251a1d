/* OCI hooks: run with the container state JSON on stdin, their own args
 * and env, and an optional timeout (the hook is killed when it expires). */
#pragma once
#include <signal.h>

#include "error.h"
#include "spec.h"

/* Set from a signal handler (create's SIGINT/SIGTERM/SIGHUP): the hook
 * being waited for is killed and husk_hooks_run fails. */
extern volatile sig_atomic_t husk_hooks_interrupted;

/* Run every hook in the list in order.  For most kinds the first failure
 * stops the list and fails with "<kind> hook #<i> (<path>): <why>" (exit
 * status, signal, timeout or exec error); poststart and poststop failures
 * are logged as warnings and the remaining hooks still run (spec).  A hook
 * without its own env gets the runtime's environment, as with runc. */
int husk_hooks_run(const struct husk_hook_list *l, enum husk_hook_kind kind,
		   const char *state_json, struct husk_error *e);
/* The same, with env (NULL-terminated) for hooks without their own: the
 * hooks that run in the container get the container process's, as runc's
 * and crun's do. */
int husk_hooks_run_env(const struct husk_hook_list *l, enum husk_hook_kind kind,
		       const char *state_json, char *const *env, struct husk_error *e);
