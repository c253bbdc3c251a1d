/* libFuzzer target: config.json parsing and what husk derives from it
 * without touching the host.
 *   - husk_spec_parse_string() (an absolute bundle: no getcwd, no stat)
 *   - linux.resources parsed (husk_resources_parse), its canonical record
 *     (what the state keeps) read back to the same values, and the cgroup
 *     file writes (husk_cg_plan_build) for
 *     a v1, a v2 and a hybrid layout, the v1 devices.allow/deny writes and
 *     the v2 device program; the program is run by a small interpreter
 *     and checked against the rules' meaning
 *   - linux.seccomp parsed (husk_seccomp_parse), its canonical record
 *     (what the state keeps for exec) read back to the same profile, and
 *     the profile compiled by libseccomp in memory, never loaded (no
 *     compile cache: husk_seccomp_set_cache_dir(NULL))
 *   - the whole input as an exec --process document
 *     (husk_exec_process_parse), and its own seccomp profile likewise
 * The resources and seccomp objects are taken from the raw document, so
 * that they are exercised even when another part of the spec is bad
 * (`update --resources` parses its JSON the same way).
 * An invariant that does not hold aborts (a crash for libFuzzer). */
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup/cgroup_internal.h"
#include "exec.h"
#include "seccomp_filter.h"
#include "spec.h"
#include "spec_seccomp.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) \
	do { \
		if (!(cond)) \
			__builtin_trap(); \
	} while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	husk_seccomp_set_cache_dir(NULL); /* no /run/husk-cache reads or writes */
	return 0;
}

/* The device program's result for one access, by interpreting the few
 * instructions husk_cg_bpf_gen emits. */
static int bpf_run(const struct bpf_insn *p, size_t len, uint32_t type, uint32_t access,
		   uint32_t major, uint32_t minor)
{
	uint32_t ctx[3] = { access << 16 | type, major, minor };
	uint64_t r[11] = { 0 };
	for (size_t pc = 0, steps = 0; steps < len + 1; steps++) {
		CHECK(pc < len);
		const struct bpf_insn *i = &p[pc++];
		uint8_t cls = BPF_CLASS(i->code), op = BPF_OP(i->code);
		CHECK(i->dst_reg < 11 && i->src_reg < 11);
		if (cls == BPF_LDX) {
			CHECK(i->src_reg == BPF_REG_1 && i->off >= 0 && i->off <= 8 && i->off % 4 == 0);
			r[i->dst_reg] = ctx[i->off / 4];
		} else if (cls == BPF_ALU) {
			uint32_t src = BPF_SRC(i->code) == BPF_X ? (uint32_t)r[i->src_reg] : (uint32_t)i->imm;
			uint32_t d = (uint32_t)r[i->dst_reg];
			if (op == BPF_MOV)
				d = src;
			else if (op == BPF_AND)
				d &= src;
			else if (op == BPF_RSH)
				d >>= src;
			else
				CHECK(0);
			r[i->dst_reg] = d;
		} else if (cls == BPF_JMP && op == BPF_EXIT) {
			return (int)(uint32_t)r[0];
		} else if (cls == BPF_JMP32) {
			CHECK(BPF_SRC(i->code) == BPF_K && (op == BPF_JEQ || op == BPF_JNE));
			bool eq = (uint32_t)r[i->dst_reg] == (uint32_t)i->imm;
			if (eq == (op == BPF_JEQ)) {
				CHECK(i->off >= 0 && pc + (size_t)i->off < len);
				pc += (size_t)i->off;
			}
		} else {
			CHECK(0);
		}
	}
	CHECK(0); /* forward jumps only: it must end within len steps */
	return 0;
}

static bool rule_matches(const struct cg_dev_rule *d, char type, int64_t major, int64_t minor)
{
	return (d->type == 'a' || d->type == type) && (d->major < 0 || d->major == major) &&
	       (d->minor < 0 || d->minor == minor);
}

/* The rules' meaning: each access bit asked for is decided by the last
 * rule that matches the device and names the bit; none: denied. */
static bool rules_allow(const struct cg_dev_rule *r, size_t n, char type, int64_t major,
			int64_t minor, unsigned access)
{
	for (unsigned bit = 1; bit <= 4; bit <<= 1) {
		if (!(access & bit))
			continue;
		bool allowed = false;
		for (size_t i = 0; i < n; i++)
			if (rule_matches(&r[i], type, major, minor) && (r[i].access & bit))
				allowed = r[i].allow;
		if (!allowed)
			return false;
	}
	return true;
}

static void check_device_program(const struct cg_dev_rule *r, size_t n)
{
	size_t len;
	struct bpf_insn *p = husk_cg_bpf_gen(r, n, &len);
	CHECK(len >= 9 && len <= 9 + n * 8);
	/* probe each rule's own device, a neighbour, and a few fixed ones */
	size_t probes = n < 16 ? n : 16;
	for (size_t k = 0; k < probes + 3; k++) {
		char type = k < probes ? (r[k].type == 'b' ? 'b' : 'c') : "cbc"[k - probes];
		int64_t major = k < probes ? (r[k].major < 0 ? 7 : r[k].major) : (int64_t[]){ 1, 8, 136 }[k - probes];
		int64_t minor = k < probes ? (r[k].minor < 0 ? 9 : r[k].minor) : (int64_t[]){ 3, 0, 4 }[k - probes];
		for (int delta = 0; delta < 2; delta++)
			for (unsigned access = 1; access <= 7; access++) {
				int64_t mi = minor + delta;
				if (mi > UINT32_MAX)
					continue; /* the program compares 32 bits */
				bool want = rules_allow(r, n, type, major, mi, access);
				int got = bpf_run(p, len, type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK,
						  access, (uint32_t)major, (uint32_t)mi);
				CHECK(got == (want ? 1 : 0));
			}
	}
	free(p);
}

/* The v1 devices cgroup as the kernel keeps it: a default and exceptions
 * keyed by type and numbers.  An "a" line resets; a rule of the default's
 * kind removes access from the exception with its exact key, the other
 * kind adds to it. */
struct v1_model {
	bool allow_all;
	struct cg_dev_rule ex[256];
	size_t n;
	bool overflow;
};

static void v1_apply(struct v1_model *m, bool allow, const char *line)
{
	char type, maj[16], min[16], acc[8];
	CHECK(sscanf(line, "%c %15[^:]:%15s %7s", &type, maj, min, acc) == 4);
	if (type == 'a') {
		m->allow_all = allow;
		m->n = 0;
		return;
	}
	struct cg_dev_rule k = { .type = type, .major = *maj == '*' ? -1 : strtoll(maj, NULL, 10),
				 .minor = *min == '*' ? -1 : strtoll(min, NULL, 10) };
	for (const char *a = acc; *a; a++)
		k.access |= *a == 'm' ? 1 : *a == 'r' ? 2 : *a == 'w' ? 4 : 0;
	size_t i = 0;
	while (i < m->n && !(m->ex[i].type == k.type && m->ex[i].major == k.major && m->ex[i].minor == k.minor))
		i++;
	if (allow == m->allow_all) { /* removes */
		if (i < m->n && !(m->ex[i].access &= ~k.access))
			m->ex[i] = m->ex[--m->n];
	} else if (i < m->n) {
		m->ex[i].access |= k.access;
	} else if (m->n < ARRAY_SIZE(m->ex)) {
		m->ex[m->n++] = k;
	} else {
		m->overflow = true;
	}
}

static bool v1_allows(const struct v1_model *m, char type, int64_t major, int64_t minor, unsigned bit)
{
	for (size_t i = 0; i < m->n; i++)
		if (rule_matches(&m->ex[i], type, major, minor) && (m->ex[i].access & bit))
			return !m->allow_all;
	return m->allow_all;
}

/* Rules v1 can hold as they mean: after the last deny-all, allows only
 * (single access bits: the kernel wants one exception to cover all the
 * bits asked for together). */
static void check_v1_writes(const char *current, const struct cg_dev_rule *r, size_t n,
			    const struct cg_dev_write *w, size_t nw)
{
	for (size_t i = n; i-- > 0 && !(r[i].type == 'a' && r[i].major < 0 && r[i].minor < 0 &&
					   r[i].access == 7 && !r[i].allow);)
		if (!r[i].allow)
			return;
	struct v1_model *m = xcalloc(1, sizeof(*m));
	m->allow_all = true;
	for (const char *s = current; s && *s; s += strcspn(s, "\n") + (s[strcspn(s, "\n")] != '\0')) {
		if (!strncmp(s, "a *:* rwm", 9))
			continue;
		m->allow_all = false;
		v1_apply(m, true, s);
	}
	for (size_t i = 0; i < nw; i++)
		v1_apply(m, w[i].allow, w[i].rule);
	size_t probes = n < 16 ? n : 16;
	for (size_t k = 0; k < probes + 2 && !m->overflow; k++) {
		char type = k < probes ? (r[k].type == 'b' ? 'b' : 'c') : "cb"[k - probes];
		int64_t major = k < probes && r[k].major >= 0 ? r[k].major : 1;
		int64_t minor = k < probes && r[k].minor >= 0 ? r[k].minor : 3;
		for (unsigned bit = 1; bit <= 4; bit <<= 1)
			CHECK(v1_allows(m, type, major, minor, bit) == rules_allow(r, n, type, major, minor, bit));
	}
	free(m);
}

static void check_devices(const struct cg_plan *p)
{
	size_t n;
	struct cg_dev_rule *all = husk_cg_device_rules(p->dev, p->ndev, 0, &n);
	CHECK(n == p->ndev + husk_cg_n_default_devices);
	/* v1: a fresh cgroup, one that allows all, one with exceptions */
	static const char *const current[] = { NULL, "a *:* rwm\n", "c 1:3 rwm\nc 136:* rw\nb 8:0 m\n" };
	for (size_t c = 0; c < ARRAY_SIZE(current); c++) {
		struct cg_dev_write *w;
		size_t nw = husk_cg_devices_v1_writes(current[c], all, n, &w);
		for (size_t i = 0; i < nw; i++) {
			CHECK(memchr(w[i].rule, '\0', sizeof(w[i].rule)) && !strchr(w[i].rule, '\n'));
			/* The kernel reads any "a ..." line as all devices, all
			 * access: only "a *:* rwm" means what it says. */
			CHECK(w[i].rule[0] != 'a' || !strcmp(w[i].rule, "a *:* rwm"));
		}
		check_v1_writes(current[c], all, n, w, nw);
		free(w);
	}
	check_device_program(all, n);
	free(all);
}

static void plan_all(const struct husk_resources *res)
{
	/* v1; hybrid (memory, pids, io and cgroup.* on v2); all on v2 */
	const unsigned masks[] = { 0, 1u << CG_MEMORY | 1u << CG_PIDS | 1u << CG_BLKIO | 1u << CG_CORE,
				  (1u << CG__COUNT) - 1 };
	for (size_t m = 0; m < ARRAY_SIZE(masks); m++) {
		struct cg_plan p;
		struct husk_error e;
		husk_err_clear(&e);
		if (husk_cg_plan_build(res, res, masks[m], &p, &e) < 0) {
			CHECK(!strncmp(e.msg, "linux.resources", 15));
			continue;
		}
		for (size_t i = 0; i < p.n; i++) {
			const struct cg_write *w = &p.w[i];
			/* a write never leaves the container's cgroup directory */
			CHECK(w->file && *w->file && !strchr(w->file, '/') && strcmp(w->file, "..") != 0);
			CHECK(w->value && w->what && (unsigned)w->ctrl < CG__COUNT);
		}
		if (m == 0)
			check_devices(&p);
		husk_cg_plan_free(&p);
	}
}

static void check_resources(json_t *json)
{
	struct husk_resources res, again;
	struct husk_error e;
	husk_err_clear(&e);
	if (husk_resources_parse(json, &res, &e) < 0) {
		CHECK(!strncmp(e.msg, "linux.resources", 15));
		return;
	}
	json_t *rec = husk_resources_json(&res);
	CHECK(husk_resources_parse(rec, &again, &e) == 0);
	json_t *rec2 = husk_resources_json(&again);
	CHECK(rec ? json_equal(rec, rec2) : !rec2);
	json_decref(rec);
	json_decref(rec2);
	husk_resources_free(&again);
	plan_all(&res);
	husk_resources_free(&res);
}

/* A parsed profile: its record parses back to the same, and it compiles
 * or fails with where (the host's part: architectures, kernel flags). */
static void check_profile(const struct husk_seccomp_profile *sp, const char *path,
			  const char *where)
{
	struct husk_seccomp_profile *again = NULL;
	struct husk_error e;
	husk_err_clear(&e);
	json_t *rec = husk_seccomp_profile_json(sp);
	CHECK(husk_seccomp_parse(rec, path, &again, &e) == 0);
	json_t *rec2 = husk_seccomp_profile_json(again);
	CHECK(json_equal(rec, rec2));
	CHECK(again->n_syscalls == sp->n_syscalls && again->notifies == sp->notifies);
	json_decref(rec);
	json_decref(rec2);
	husk_seccomp_profile_free(again);

	struct husk_seccomp *sc = NULL;
	if (husk_seccomp_prepare(sp, where, &sc, &e) == 0) {
		CHECK(sc && husk_seccomp_len(sc) > 0);
		CHECK(husk_seccomp_notifies(sc) == sp->notifies);
	} else {
		CHECK(!sc && !strncmp(e.msg, where, strlen(where)));
	}
	husk_seccomp_free(sc);
}

static void check_seccomp(json_t *obj)
{
	struct husk_seccomp_profile *sp = NULL;
	struct husk_error e;
	husk_err_clear(&e);
	if (husk_seccomp_parse(obj, "linux.seccomp", &sp, &e) == 0)
		check_profile(sp, "linux.seccomp", "config.json: linux.seccomp");
	else
		CHECK(!sp && !strncmp(e.msg, "linux.seccomp", 13));
	husk_seccomp_profile_free(sp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';

	struct husk_spec *s = NULL;
	struct husk_error e;
	husk_err_clear(&e);
	if (husk_spec_parse_string(text, "/fuzz/bundle", &s, &e) == 0) {
		CHECK(s->root_path && s->root_path[0] == '/');
		if (s->process)
			(void)husk_seccomp_load_late(s->process);
		husk_spec_free(s);
	} else {
		CHECK(!strncmp(e.msg, "config.json", 11));
	}

	json_error_t jerr;
	json_t *doc = json_loadb(text, size, 0, &jerr);
	if (!doc && json_error_code(&jerr) == json_error_numeric_overflow)
		doc = json_loadb(text, size, JSON_DECODE_INT_AS_REAL, &jerr);
	free(text);
	if (!doc)
		return 0;
	json_t *lx = json_object_get(doc, "linux");
	json_t *v;
	if ((v = json_object_get(lx, "resources")))
		check_resources(v);
	if ((v = json_object_get(lx, "seccomp")))
		check_seccomp(v);

	struct husk_process *p = NULL;
	husk_err_clear(&e);
	if (husk_exec_process_parse(doc, &p, &e) == 0) {
		CHECK(p->args && p->args[0] && p->n_args > 0);
		if (p->seccomp)
			check_profile(p->seccomp, "seccomp", "--process: seccomp");
		husk_process_free(p);
	} else {
		CHECK(!p && (!strncmp(e.msg, "process", 7) || !strncmp(e.msg, "seccomp", 7)));
	}
	json_decref(doc);
	return 0;
}
