/* AppArmor profiles and SELinux labels: process.apparmorProfile,
 * process.selinuxLabel and linux.mountLabel. */
#pragma once
#include "error.h"
#include "spec.h"

/* Whether the host has AppArmor / SELinux enabled (cached). */
bool husk_apparmor_enabled(void);
bool husk_selinux_enabled(void);

/* Refuse labels the host cannot apply, before anything is created: a
 * profile or label asked for and silently not applied would leave the
 * container less confined than its config says.  where prefixes the
 * JSON paths ("config.json").  mount_label may be NULL. */
int husk_label_check(const struct husk_process *p, const char *mount_label, const char *where,
		     struct husk_error *e);

/* Arrange for p's AppArmor profile and SELinux label to take effect at
 * the next execve (attr/exec of the calling thread).  Needs /proc. */
int husk_label_apply_exec(const struct husk_process *p, struct husk_error *e);
