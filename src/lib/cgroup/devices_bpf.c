/* cgroup v2 device control: a BPF_PROG_TYPE_CGROUP_DEVICE program built
 * from the device rules as raw instructions (no libbpf), loaded and
 * attached to the container's cgroup with the bpf() syscall. */
#include "cgroup/cgroup_internal.h"

#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

const struct cg_dev_rule husk_cg_default_devices[] = {
	{ true, 'c', -1, -1, 1 },   /* mknod of any device; access needs a rule */
	{ true, 'b', -1, -1, 1 },
	{ true, 'c', 1, 3, 7 },     /* /dev/null */
	{ true, 'c', 1, 8, 7 },     /* /dev/random */
	{ true, 'c', 1, 7, 7 },     /* /dev/full */
	{ true, 'c', 5, 0, 7 },     /* /dev/tty */
	{ true, 'c', 1, 5, 7 },     /* /dev/zero */
	{ true, 'c', 1, 9, 7 },     /* /dev/urandom */
	{ true, 'c', 136, -1, 7 },  /* /dev/pts/N */
	{ true, 'c', 5, 2, 7 },     /* /dev/ptmx */
	{ true, 'c', 10, 200, 7 },  /* /dev/net/tun */
};
const size_t husk_cg_n_default_devices = ARRAY_SIZE(husk_cg_default_devices);
const char *const husk_cg_default_device_paths[] = {
	NULL, NULL, "/dev/null", "/dev/random", "/dev/full", "/dev/tty", "/dev/zero", "/dev/urandom", NULL, NULL, NULL,
};
_Static_assert(ARRAY_SIZE(husk_cg_default_devices) == ARRAY_SIZE(husk_cg_default_device_paths),
	       "one path per default device rule");
_Static_assert(ARRAY_SIZE(husk_cg_default_devices) <= 32, "husk_cgroup.dev_skip is a 32-bit mask");

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LDX_W(d, s, o) INSN(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define MOV32_REG(d, s) INSN(BPF_ALU | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV32_IMM(d, i) INSN(BPF_ALU | BPF_MOV | BPF_K, d, 0, 0, i)
#define ALU32_IMM(op, d, i) INSN(BPF_ALU | (op) | BPF_K, d, 0, 0, i)
/* 32-bit compares: major/minor up to 2^32-1 must not be sign-extended. */
#define JMP32_IMM(op, d, i, o) INSN(BPF_JMP32 | (op) | BPF_K, d, 0, o, i)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* Registers: r3 device type, r2 access asked for, r4 major, r5 minor,
 * r6 the asked-for access bits no later rule has decided yet. */
struct bpf_insn *husk_cg_bpf_gen(const struct cg_dev_rule *r, size_t n, size_t *len)
{
	size_t cap = 9 + n * 8, k = 0; /* 7 to start, 2 to end, at most 8 a rule */
	struct bpf_insn *p = xcalloc(cap, sizeof(*p));
	p[k++] = LDX_W(BPF_REG_2, BPF_REG_1, 0); /* access_type: access << 16 | type */
	p[k++] = MOV32_REG(BPF_REG_3, BPF_REG_2);
	p[k++] = ALU32_IMM(BPF_AND, BPF_REG_3, 0xffff);
	p[k++] = ALU32_IMM(BPF_RSH, BPF_REG_2, 16);
	p[k++] = LDX_W(BPF_REG_4, BPF_REG_1, 4);
	p[k++] = LDX_W(BPF_REG_5, BPF_REG_1, 8);
	p[k++] = MOV32_REG(BPF_REG_6, BPF_REG_2);
	/* The last rule has the last word: walk them backwards, each one
	 * deciding the still undecided bits it covers. */
	for (size_t i = n; i-- > 0;) {
		const struct cg_dev_rule *d = &r[i];
		int checks = (d->type != 'a') + (d->major >= 0) + (d->minor >= 0);
		int body = d->allow ? 4 : 5;
		if (d->type != 'a')
			p[k++] = JMP32_IMM(BPF_JNE, BPF_REG_3, d->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK,
					   --checks + body);
		if (d->major >= 0)
			p[k++] = JMP32_IMM(BPF_JNE, BPF_REG_4, (int32_t)(uint32_t)d->major, --checks + body);
		if (d->minor >= 0)
			p[k++] = JMP32_IMM(BPF_JNE, BPF_REG_5, (int32_t)(uint32_t)d->minor, --checks + body);
		if (d->allow) {
			p[k++] = ALU32_IMM(BPF_AND, BPF_REG_6, (int32_t)(~d->access & 7));
			p[k++] = JMP32_IMM(BPF_JNE, BPF_REG_6, 0, 2);
			p[k++] = MOV32_IMM(BPF_REG_0, 1);
			p[k++] = EXIT();
		} else {
			p[k++] = MOV32_REG(BPF_REG_0, BPF_REG_6);
			p[k++] = ALU32_IMM(BPF_AND, BPF_REG_0, (int32_t)d->access);
			p[k++] = JMP32_IMM(BPF_JEQ, BPF_REG_0, 0, 2);
			p[k++] = MOV32_IMM(BPF_REG_0, 0);
			p[k++] = EXIT();
		}
	}
	p[k++] = MOV32_IMM(BPF_REG_0, 0); /* no rule allowed it */
	p[k++] = EXIT();
	*len = k;
	return p;
}

static int sys_bpf(int cmd, union bpf_attr *a)
{
	return (int)syscall(SYS_bpf, cmd, a, sizeof(*a));
}

int husk_cg_bpf_load(const struct bpf_insn *insns, size_t len, struct husk_error *e)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = (uint32_t)len;
	a.license = (uintptr_t) "Apache-2.0";
	int fd = sys_bpf(BPF_PROG_LOAD, &a);
	if (fd >= 0)
		return fd;
	int err = errno;
	/* Again with the verifier's log, only to say why. */
	char log[1024] = "";
	a.log_buf = (uintptr_t)log;
	a.log_size = sizeof(log);
	a.log_level = 1;
	fd = sys_bpf(BPF_PROG_LOAD, &a);
	if (fd >= 0)
		return fd;
	log[sizeof(log) - 1] = '\0';
	char *nl = strrchr(log, '\n');
	while (nl && nl[1] == '\0' && nl > log) {
		*nl = '\0';
		nl = strrchr(log, '\n');
	}
	return husk_err(e, err, "load device program%s%s", *log ? ": " : "", nl ? nl + 1 : log);
}

int husk_cg_bpf_attach(int cgfd, int progfd, struct husk_error *e)
{
	uint32_t ids[64], cnt = ARRAY_SIZE(ids);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.query.target_fd = (uint32_t)cgfd;
	a.query.attach_type = BPF_CGROUP_DEVICE;
	a.query.prog_ids = (uintptr_t)ids;
	a.query.prog_cnt = cnt;
	if (sys_bpf(BPF_PROG_QUERY, &a) < 0)
		return husk_errno(e, "query device programs");
	cnt = a.query.prog_cnt < ARRAY_SIZE(ids) ? a.query.prog_cnt : ARRAY_SIZE(ids);

	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)cgfd;
	a.attach_bpf_fd = (uint32_t)progfd;
	a.attach_type = BPF_CGROUP_DEVICE;
	a.attach_flags = BPF_F_ALLOW_MULTI;
	if (sys_bpf(BPF_PROG_ATTACH, &a) < 0)
		return husk_errno(e, "attach device program");
	/* The new program is in force: the old ones (an update) can go. */
	for (uint32_t i = 0; i < cnt; i++) {
		memset(&a, 0, sizeof(a));
		a.prog_id = ids[i];
		_cleanup_fd_ int old = sys_bpf(BPF_PROG_GET_FD_BY_ID, &a);
		if (old < 0)
			continue;
		memset(&a, 0, sizeof(a));
		a.target_fd = (uint32_t)cgfd;
		a.attach_bpf_fd = (uint32_t)old;
		a.attach_type = BPF_CGROUP_DEVICE;
		if (sys_bpf(BPF_PROG_DETACH, &a) < 0 && errno != ENOENT)
			return husk_errno(e, "detach old device program");
	}
	return 0;
}
