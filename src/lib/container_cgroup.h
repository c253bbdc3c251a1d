/* Container operations on its cgroup: the commands pause, resume, ps,
 * events and update. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "container.h"
#include "error.h"
#include "spec_resources.h"

/* Freeze a running (or created) container / thaw a paused one. */
int husk_container_pause(const struct husk_global_opts *g, const char *id, struct husk_error *e);
int husk_container_resume(const struct husk_global_opts *g, const char *id, struct husk_error *e);
/* Every pid in the container's cgroup (*pids malloc'd). */
int husk_container_pids(const struct husk_global_opts *g, const char *id, pid_t **pids, size_t *n,
			struct husk_error *e);
/* One runc-style stats event ({"type":"stats","id":…,"data":…}) when
 * once; otherwise stats every interval_ms and {"type":"oom"} events as
 * they happen, one JSON document per line, until the container stops. */
int husk_container_events(const struct husk_global_opts *g, const char *id, bool once,
			  unsigned interval_ms, FILE *out, struct husk_error *e);
/* Apply resource changes (parsed linux.resources) to a live container and
 * keep them in its state. */
int husk_container_update(const struct husk_global_opts *g, const char *id,
			  const struct husk_resources *changes,
			  struct husk_error *e);
