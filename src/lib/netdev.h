/* linux.netDevices: host network interfaces moved into the container's
 * network namespace (rtnetlink, no libnl), renamed, with their permanent
 * global addresses carried over and the link up; given back on delete. */
#pragma once
#include <jansson.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

/* Move s->net_devices into the network namespace of pid (the container's
 * init, our child).  *moved receives the state record (an array of
 * {"hostName", "name", "up", "addrs"}: addrs the host's own), NULL when
 * there is nothing to move.  On
 * failure what was moved is given back first. */
int husk_netdev_move_in(const struct husk_spec *s, pid_t pid, json_t **moved,
			struct husk_error *e);

/* Give the devices in moved back to the caller's network namespace under
 * their host names, the addresses they had there and their up state
 * restored (what the container set on them stays behind).  netns_holder: a
 * pidfd (or /proc/PID/ns/net fd) of a process in the container's network
 * namespace.  Goes on after a failure; reports the first. */
int husk_netdev_give_back(json_t *moved, int netns_holder, struct husk_error *e);

/* The container has stopped: give the devices back from the network
 * namespace it joined by a path that outlives it (recorded as "netns"),
 * after checking the path still names a network namespace other than
 * ours.  0 without such a path: the kernel already dealt with them. */
int husk_netdev_give_back_pinned(json_t *moved, struct husk_error *e);
