#pragma once
#include <stdint.h>

#include "error.h"
#include "spec.h"

/* Drop from the bounding set every capability not in c->bounding. */
int husk_caps_drop_bounding(const struct husk_caps *c, struct husk_error *e);
/* Set effective/permitted/inheritable (capset) then the ambient set. */
int husk_caps_apply_sets(const struct husk_caps *c, struct husk_error *e);
