#include "mempolicy.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

const char *const husk_mempolicy_mode_names[] = {
	[HUSK_MPOL_DEFAULT] = "MPOL_DEFAULT",
	[HUSK_MPOL_PREFERRED] = "MPOL_PREFERRED",
	[HUSK_MPOL_BIND] = "MPOL_BIND",
	[HUSK_MPOL_INTERLEAVE] = "MPOL_INTERLEAVE",
	[HUSK_MPOL_LOCAL] = "MPOL_LOCAL",
	[HUSK_MPOL_PREFERRED_MANY] = "MPOL_PREFERRED_MANY",
	[HUSK_MPOL_WEIGHTED_INTERLEAVE] = "MPOL_WEIGHTED_INTERLEAVE",
	NULL,
};

const char *const husk_mempolicy_flag_names[] = {
	"MPOL_F_NUMA_BALANCING",
	"MPOL_F_RELATIVE_NODES",
	"MPOL_F_STATIC_NODES",
	NULL,
};
static const int flag_values[] = { HUSK_MPOL_F_NUMA_BALANCING, HUSK_MPOL_F_RELATIVE_NODES,
				   HUSK_MPOL_F_STATIC_NODES };

int husk_mempolicy_mode(const char *name)
{
	for (int i = 0; husk_mempolicy_mode_names[i]; i++)
		if (!strcmp(name, husk_mempolicy_mode_names[i]))
			return i;
	return -1;
}

int husk_mempolicy_flag(const char *name)
{
	for (size_t i = 0; husk_mempolicy_flag_names[i]; i++)
		if (!strcmp(name, husk_mempolicy_flag_names[i]))
			return flag_values[i];
	return -1;
}

int husk_mempolicy_apply(const struct husk_mempolicy *m, struct husk_error *e)
{
	if (!m->set)
		return 0;
	/* The kernel reads maxnode - 1 bits. */
	unsigned long maxnode = m->nodes.nbits ? m->nodes.nbits + 1 : 0;
	if (syscall(SYS_set_mempolicy, m->mode | (int)m->flags, m->nodes.bits, maxnode) == 0)
		return 0;
	int err = errno;
	if (err == EINVAL)
		return husk_err(e, err,
				"linux.memoryPolicy: set_mempolicy %s: the kernel refuses this mode, these "
				"flags or nodes (each node must exist and be allowed by the cpuset)",
				husk_mempolicy_mode_names[m->mode]);
	return husk_err(e, err, "linux.memoryPolicy: set_mempolicy %s",
			husk_mempolicy_mode_names[m->mode]);
}

int husk_affinity_apply(const struct husk_idset *set, const char *what, struct husk_error *e)
{
	if (!set->nbits)
		return 0;
	const size_t w = 8 * sizeof(unsigned long);
	size_t bytes = (set->nbits + w - 1) / w * sizeof(unsigned long);
	if (syscall(SYS_sched_setaffinity, 0, bytes, set->bits) == 0)
		return 0;
	if (errno == EINVAL)
		return husk_err(e, EINVAL,
				"%s: sched_setaffinity: none of these CPUs is online and allowed here", what);
	return husk_errno(e, "%s: sched_setaffinity", what);
}
