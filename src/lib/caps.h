#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "spec.h"

/* Drop from the bounding set every capability not in c->bounding. */
int husk_caps_drop_bounding(const struct husk_caps *c, struct husk_error *e);
/* Set effective/permitted/inheritable (capset) then the ambient set. */
int husk_caps_apply_sets(const struct husk_caps *c, struct husk_error *e);

/* Spec 1.1: a capability that maps to no kernel capability (p->unknown_caps,
 * or past the kernel's cap_last_cap) or that the runtime cannot grant (not
 * in its own bounding set, which every clone keeps) is logged as a warning,
 * not an error.  In the runtime, before the clone: warns in one line
 * "<what>: ..." naming them and takes them out of every set. */
void husk_caps_check(struct husk_process *p, const char *what);
/* The pure part, for a kernel whose last capability is `last` and a
 * bounding set bset: takes what cannot be granted out of p's sets and
 * writes the warning into msg; false when there is nothing to say. */
bool husk_caps_prune(struct husk_process *p, int last, uint64_t bset, char *msg, size_t len);
