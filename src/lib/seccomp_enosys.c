/* ENOSYS for syscalls newer than the profile.  A profile written before a
 * syscall existed does not name it, so a deny-by-default profile would
 * answer it with its default errno (usually EPERM), and libc only falls
 * back to the older call (clone3 -> clone, openat2, faccessat2...) on
 * ENOSYS.  Like runc, a syscall numbered above the highest number the
 * profile names, per architecture, gets ENOSYS from a short BPF stub put in
 * front of libseccomp's program.  The stub compares numbers only, so it
 * also covers syscalls this libseccomp has never heard of. */
#include "seccomp_enosys.h"

#if HAVE_SECCOMP

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>

#include "util.h"

#define AUDIT_X86_64 0xc000003eU /* AUDIT_ARCH_X86_64 */
#define X32_SYSCALL_BIT 0x40000000U

/* libseccomp's names of the architectures a filter can hold. */
static const char *const arch_names[] = {
	"x86_64",  "x86",	  "x32",      "arm",     "aarch64", "mips",	"mips64",
	"mips64n32", "mipsel",   "mipsel64", "mipsel64n32", "ppc", "ppc64", "ppc64le",
	"s390",    "s390x",	  "parisc",   "parisc64", "riscv64",
};

/* Highest number of a profile's syscall names on one architecture. */
static bool profile_max(const struct husk_seccomp_profile *sp, uint32_t arch, uint32_t *max)
{
	bool found = false;
	for (size_t i = 0; i < sp->n_syscalls; i++) {
		for (char *const *name = sp->syscalls[i].names; *name; name++) {
			/* negative: unknown here, or a socketcall/ipc pseudo number */
			int nr = seccomp_syscall_resolve_name_arch(arch, *name);
			if (nr >= 0 && (!found || (uint32_t)nr > *max)) {
				*max = (uint32_t)nr;
				found = true;
			}
		}
	}
	return found;
}

/* The stub under construction.  Jumps to the ENOSYS return and to the
 * filter's start are recorded symbolically and resolved at the end. */
enum { T_NEXT = 0, T_ENOSYS = 0xfe, T_FILTER = 0xff };
#define STUB_MAX 200 /* 19 architectures of at most 6 instructions, plus 3 */

struct stub {
	struct sock_filter insn[STUB_MAX];
	size_t n;
};

static size_t emit(struct stub *s, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
	s->insn[s->n] = (struct sock_filter){ .code = code, .jt = jt, .jf = jf, .k = k };
	return s->n++;
}

static void emit_gt(struct stub *s, uint32_t max)
{
	emit(s, BPF_JMP | BPF_JGT | BPF_K, max, T_ENOSYS, T_FILTER);
}

/* One architecture: when the arch matches, load the number and send it to
 * ENOSYS or to the filter; when not, go on to the next block.  On x86_64
 * the x32 ABI shares the arch and sets bit 30 of the number. */
static void emit_block(struct stub *s, uint32_t audit, const uint32_t *max, const bool *has,
		       bool is_s390)
{
	size_t check = emit(s, BPF_JMP | BPF_JEQ | BPF_K, audit, T_NEXT, T_NEXT);
	emit(s, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
	if (audit == AUDIT_X86_64) {
		if (has[0] && has[1]) {
			emit(s, BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, 1, T_NEXT);
			emit_gt(s, max[0]);
			emit_gt(s, max[1]);
		} else if (has[0]) {
			emit(s, BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, T_FILTER, T_NEXT);
			emit_gt(s, max[0]);
		} else {
			emit(s, BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, T_NEXT, T_FILTER);
			emit_gt(s, max[1]);
		}
	} else {
		/* s390 turns numbers it does not know into 0 (the long dead
		 * setup(2)): that one is "unknown" too. */
		if (is_s390)
			emit(s, BPF_JMP | BPF_JEQ | BPF_K, 0, T_ENOSYS, T_NEXT);
		emit_gt(s, max[0]);
	}
	s->insn[check].jf = (uint8_t)(s->n - check - 1);
}

static uint8_t resolve(uint8_t t, size_t i, size_t enosys)
{
	if (t == T_ENOSYS)
		return (uint8_t)(enosys - i - 1);
	if (t == T_FILTER)
		return (uint8_t)(enosys + 1 - i - 1);
	return t;
}

static bool allows(uint32_t def)
{
	/* runc's choice: a tracer should handle new syscalls itself */
	return def == SCMP_ACT_ALLOW || def == SCMP_ACT_LOG ||
	       (def & SECCOMP_RET_ACTION_FULL) == SCMP_ACT_TRACE(0);
}

int husk_seccomp_enosys_prepend(scmp_filter_ctx ctx, uint32_t def,
				const struct husk_seccomp_profile *sp, struct sock_fprog *prog,
				struct husk_error *e)
{
	if (allows(def) || def == SCMP_ACT_ERRNO(ENOSYS))
		return 0;
	struct stub s = { .n = 0 };
	emit(&s, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), 0, 0);
	/* x86_64 first: the native arch of most hosts meets one jeq. */
	uint32_t x86_64_max[2];
	bool x86_64_has[2];
	for (size_t m = 0; m < 2; m++) {
		uint32_t tok = m ? SCMP_ARCH_X32 : SCMP_ARCH_X86_64;
		x86_64_has[m] = seccomp_arch_exist(ctx, tok) == 0 &&
				profile_max(sp, tok, &x86_64_max[m]);
	}
	if (x86_64_has[0] || x86_64_has[1])
		emit_block(&s, AUDIT_X86_64, x86_64_max, x86_64_has, false);
	for (size_t i = 0; i < ARRAY_SIZE(arch_names); i++) {
		uint32_t tok = seccomp_arch_resolve_name(arch_names[i]);
		uint32_t max;
		if (!tok || tok == SCMP_ARCH_X86_64 || tok == SCMP_ARCH_X32 ||
		    seccomp_arch_exist(ctx, tok) != 0 || !profile_max(sp, tok, &max))
			continue;
		/* libseccomp's tokens are the kernel's AUDIT_ARCH values */
		emit_block(&s, tok, &max, (bool[]){ true }, tok == SCMP_ARCH_S390 || tok == SCMP_ARCH_S390X);
	}
	if (s.n == 1)
		return 0; /* the profile names nothing this filter's arches know */
	emit(&s, BPF_JMP | BPF_JA | BPF_K, 1, 0, 0); /* no block matched: the filter */
	size_t enosys = emit(&s, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS, 0, 0);
	for (size_t i = 0; i < s.n; i++) {
		if (BPF_CLASS(s.insn[i].code) != BPF_JMP || BPF_OP(s.insn[i].code) == BPF_JA)
			continue;
		s.insn[i].jt = resolve(s.insn[i].jt, i, enosys);
		s.insn[i].jf = resolve(s.insn[i].jf, i, enosys);
	}

	size_t total = s.n + prog->len;
	if (total > BPF_MAXINSNS)
		return husk_err(e, E2BIG, "seccomp filter of %zu instructions", total);
	struct sock_filter *insns = xmalloc(total * sizeof(*insns));
	memcpy(insns, s.insn, s.n * sizeof(*insns));
	memcpy(insns + s.n, prog->filter, prog->len * sizeof(*insns));
	free(prog->filter);
	prog->filter = insns;
	prog->len = (unsigned short)total;
	return 0;
}

#endif
