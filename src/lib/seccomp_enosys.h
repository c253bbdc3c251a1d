/* The ENOSYS stub for syscalls newer than a seccomp profile
 * (seccomp_enosys.c), used by seccomp_filter.c's compiler. */
#pragma once
#include "config.h"

#if HAVE_SECCOMP
#include <linux/filter.h>
#include <seccomp.h>
#include <stdint.h>

#include "error.h"
#include "spec_seccomp.h"

/* Put in front of prog (libseccomp's export of ctx) a check that answers
 * ENOSYS to every syscall numbered above the highest one the rules of sp
 * name, for each architecture in ctx.
 * Nothing is added when def (the default action) allows, logs or traces,
 * or already returns ENOSYS. */
int husk_seccomp_enosys_prepend(scmp_filter_ctx ctx, uint32_t def,
				const struct husk_seccomp_profile *sp, struct sock_fprog *prog,
				struct husk_error *e);
#endif
