/* linux.seccomp (and an exec --process document's own "seccomp") parsed
 * and validated into types, once: at create from config.json, by exec
 * from --process, and from the copy the state keeps for exec
 * (husk_seccomp_profile_json() writes it).  What depends on the host is
 * checked when seccomp_filter.c compiles the profile: whether libseccomp
 * knows an architecture and whether the kernel supports a flag. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* In the order features lists them (husk_sc_action_name). */
enum husk_sc_action {
	HUSK_SC_ALLOW,
	HUSK_SC_ERRNO,
	HUSK_SC_KILL,
	HUSK_SC_KILL_PROCESS,
	HUSK_SC_KILL_THREAD,
	HUSK_SC_LOG,
	HUSK_SC_NOTIFY,
	HUSK_SC_TRACE,
	HUSK_SC_TRAP,
	HUSK_SC_ACTION__COUNT
};

enum husk_sc_op {
	HUSK_SC_CMP_EQ,
	HUSK_SC_CMP_GE,
	HUSK_SC_CMP_GT,
	HUSK_SC_CMP_LE,
	HUSK_SC_CMP_LT,
	HUSK_SC_CMP_MASKED_EQ,
	HUSK_SC_CMP_NE,
	HUSK_SC_OP__COUNT
};

enum husk_sc_flag {
	HUSK_SC_FLAG_TSYNC,
	HUSK_SC_FLAG_LOG,
	HUSK_SC_FLAG_SPEC_ALLOW,
	HUSK_SC_FLAG_WAIT_KILLABLE_RECV,
	HUSK_SC_FLAG__COUNT
};

/* The spec's names: "SCMP_ACT_ALLOW", "SCMP_CMP_EQ",
 * "SECCOMP_FILTER_FLAG_TSYNC". */
extern const char *const husk_sc_action_name[HUSK_SC_ACTION__COUNT];
extern const char *const husk_sc_op_name[HUSK_SC_OP__COUNT];
extern const char *const husk_sc_flag_name[HUSK_SC_FLAG__COUNT];

/* ERRNO and TRACE take a return code (errnoRet; EPERM when absent). */
bool husk_sc_action_takes_errno(enum husk_sc_action a);

#define HUSK_SC_MAX_ARGS 6

struct husk_sc_arg {
	unsigned int index; /* 0..5 */
	uint64_t value;
	uint64_t value_two; /* 0 when absent */
	enum husk_sc_op op;
};

struct husk_sc_rule {
	char **names; /* NULL-terminated, at least one */
	size_t n_names;
	enum husk_sc_action action;
	bool has_errno_ret;
	uint32_t errno_ret; /* 0..65535 */
	struct husk_sc_arg args[HUSK_SC_MAX_ARGS];
	size_t n_args;
};

struct husk_seccomp_profile {
	enum husk_sc_action default_action; /* never NOTIFY */
	bool has_default_errno_ret;
	uint32_t default_errno_ret;
	char **architectures; /* "SCMP_ARCH_X86_64"..., NULL-terminated; never NULL */
	size_t n_architectures;
	enum husk_sc_flag *flags; /* as listed */
	size_t n_flags;
	char *listener_path;     /* NULL when absent or "" */
	char *listener_metadata; /* NULL when absent; only with listener_path */
	bool notifies;           /* a rule has SCMP_ACT_NOTIFY (then listener_path is set) */
	struct husk_sc_rule *syscalls;
	size_t n_syscalls;
};

/* Parse v (must be an object) found at path ("linux.seccomp", or
 * "seccomp" in an exec --process document) into *out; errors read
 * "<path>.syscalls[3].action: unknown action ...".  Unknown properties are
 * ignored, as the spec asks. */
int husk_seccomp_parse(json_t *v, const char *path, struct husk_seccomp_profile **out,
		       struct husk_error *e);
void husk_seccomp_profile_free(struct husk_seccomp_profile *p);
/* The canonical object of p (what the state keeps, and the compile
 * cache's key): parsing it gives p back. */
json_t *husk_seccomp_profile_json(const struct husk_seccomp_profile *p);
