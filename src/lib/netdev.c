/* linux.netDevices over raw rtnetlink.  A device moved to another network
 * namespace loses its addresses (the kernel unregisters it here and
 * registers it there), so the permanent global ones are read first and
 * added again in the container.  They are kept in the state, and given
 * back with the device: the host gets its own addresses again, never what
 * the container configured (which would put its choice of addresses and
 * prefix routes on the host). */
#include "netdev.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "util.h"

#define NL_BUF 32768

struct nl_req {
	struct nlmsghdr h;
	union {
		struct ifinfomsg ifi;
		struct ifaddrmsg ifa;
	};
	char attrs[512];
};

/* One saved address: the header and the attributes re-adding needs. */
struct saved_addr {
	struct ifaddrmsg ifa;
	uint32_t flags;
	unsigned char local[16], address[16], brd[16];
	bool has_local, has_address, has_brd;
};

struct link_info {
	int index;
	unsigned flags;
};

struct addr_list {
	int index;
	struct saved_addr *v;
	size_t n;
};

static void req_init(struct nl_req *r, uint16_t type, uint16_t flags, size_t body)
{
	memset(r, 0, sizeof(*r));
	r->h.nlmsg_len = (uint32_t)NLMSG_LENGTH(body);
	r->h.nlmsg_type = type;
	r->h.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
}

static void req_put(struct nl_req *r, uint16_t type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->h.nlmsg_len));
	if (NLMSG_ALIGN(r->h.nlmsg_len) + RTA_SPACE(len) > sizeof(*r))
		abort(); /* every caller's attributes fit; a bug otherwise */
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = (uint32_t)(NLMSG_ALIGN(r->h.nlmsg_len) + RTA_SPACE(len));
}

typedef void (*nl_cb)(struct nlmsghdr *m, void *ctx);

/* Send r and read replies until the ack, the end of a dump or an error
 * (returned as a negative errno). */
static int nl_talk(int fd, struct nl_req *r, nl_cb cb, void *ctx)
{
	static uint32_t seq;
	r->h.nlmsg_seq = ++seq;
	if (send(fd, r, r->h.nlmsg_len, 0) < 0)
		return -errno;
	_cleanup_free_ char *buf = xmalloc(NL_BUF);
	for (;;) {
		struct sockaddr_nl from = { 0 };
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, NL_BUF, 0, (struct sockaddr *)&from, &fromlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPROTO;
		/* Only the kernel (port 0) answers: a process of the container
		 * may send to our socket in its namespace. */
		if (fromlen != sizeof(from) || from.nl_family != AF_NETLINK || from.nl_pid != 0)
			continue;
		for (struct nlmsghdr *m = (struct nlmsghdr *)buf; NLMSG_OK(m, (size_t)n);
		     m = NLMSG_NEXT(m, n)) {
			if (m->nlmsg_seq != r->h.nlmsg_seq)
				continue;
			if (m->nlmsg_type == NLMSG_DONE)
				return 0;
			if (m->nlmsg_type == NLMSG_ERROR) {
				if (m->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
					return -EPROTO;
				struct nlmsgerr *err = NLMSG_DATA(m);
				return err->error;
			}
			if (cb)
				cb(m, ctx);
		}
	}
}

static void link_cb(struct nlmsghdr *m, void *ctx)
{
	struct link_info *li = ctx;
	struct ifinfomsg *ifi = NLMSG_DATA(m);
	if (m->nlmsg_type != RTM_NEWLINK || m->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return;
	li->index = ifi->ifi_index;
	li->flags = ifi->ifi_flags;
}

static int link_get(int fd, const char *name, struct link_info *li)
{
	struct nl_req r;
	req_init(&r, RTM_GETLINK, 0, sizeof(struct ifinfomsg));
	r.ifi.ifi_family = AF_UNSPEC;
	req_put(&r, IFLA_IFNAME, name, strlen(name) + 1);
	li->index = 0;
	int err = nl_talk(fd, &r, link_cb, li);
	if (err == 0 && li->index <= 0)
		err = -ENODEV;
	return err;
}

static void addr_cb(struct nlmsghdr *m, void *ctx)
{
	struct addr_list *l = ctx;
	struct ifaddrmsg *ifa = NLMSG_DATA(m);
	if (m->nlmsg_type != RTM_NEWADDR || m->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)) ||
	    (int)ifa->ifa_index != l->index ||
	    ifa->ifa_scope != RT_SCOPE_UNIVERSE)
		return;
	struct saved_addr a = { .ifa = *ifa, .flags = ifa->ifa_flags };
	size_t alen = ifa->ifa_family == AF_INET6 ? 16 : 4;
	int len = (int)IFA_PAYLOAD(m);
	for (struct rtattr *rta = IFA_RTA(ifa); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		size_t plen = RTA_PAYLOAD(rta);
		if (rta->rta_type == IFA_FLAGS && plen >= 4)
			memcpy(&a.flags, RTA_DATA(rta), 4);
		else if (plen == alen && rta->rta_type == IFA_LOCAL)
			memcpy(a.local, RTA_DATA(rta), alen), a.has_local = true;
		else if (plen == alen && rta->rta_type == IFA_ADDRESS)
			memcpy(a.address, RTA_DATA(rta), alen), a.has_address = true;
		else if (plen == alen && rta->rta_type == IFA_BROADCAST)
			memcpy(a.brd, RTA_DATA(rta), alen), a.has_brd = true;
	}
	/* Only what was configured to stay: no SLAAC, DHCP or link-local. */
	if (!(a.flags & IFA_F_PERMANENT))
		return;
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = a;
}

static int addrs_get(int fd, int index, struct addr_list *l)
{
	struct nl_req r;
	req_init(&r, RTM_GETADDR, NLM_F_DUMP, sizeof(struct ifaddrmsg));
	r.ifa.ifa_family = AF_UNSPEC;
	*l = (struct addr_list){ .index = index };
	return nl_talk(fd, &r, addr_cb, l);
}

/* The saved addresses as the state keeps them: [{"family", "prefixlen",
 * "scope", "flags", "local", "address", "brd"}], addresses in text. */
static json_t *addrs_to_json(const struct addr_list *l)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < l->n; i++) {
		const struct saved_addr *a = &l->v[i];
		int af = a->ifa.ifa_family;
		char buf[INET6_ADDRSTRLEN];
		json_t *o = json_pack("{s:i, s:i, s:i, s:I}", "family", af, "prefixlen",
				      a->ifa.ifa_prefixlen, "scope", a->ifa.ifa_scope, "flags",
				      (json_int_t)a->flags);
		const struct {
			const char *key;
			bool has;
			const unsigned char *v;
		} f[] = { { "local", a->has_local, a->local },
			  { "address", a->has_address, a->address },
			  { "brd", a->has_brd, a->brd } };
		for (size_t k = 0; k < ARRAY_SIZE(f); k++)
			if (f[k].has && inet_ntop(af, f[k].v, buf, sizeof(buf)))
				json_object_set_new(o, f[k].key, json_string(buf));
		json_array_append_new(arr, o);
	}
	return arr;
}

static int addrs_from_json(json_t *arr, struct addr_list *l)
{
	size_t i;
	json_t *o;
	*l = (struct addr_list){ 0 };
	if (arr && !json_is_array(arr))
		return -1;
	l->v = xcalloc(json_array_size(arr) + 1, sizeof(*l->v));
	json_array_foreach(arr, i, o) {
		struct saved_addr *a = &l->v[l->n++];
		json_int_t af = json_integer_value(json_object_get(o, "family"));
		json_int_t plen = json_integer_value(json_object_get(o, "prefixlen"));
		if ((af != AF_INET && af != AF_INET6) || plen < 0 || plen > (af == AF_INET ? 32 : 128))
			return -1;
		a->ifa.ifa_family = (unsigned char)af;
		a->ifa.ifa_prefixlen = (unsigned char)plen;
		a->ifa.ifa_scope = (unsigned char)json_integer_value(json_object_get(o, "scope"));
		a->flags = (uint32_t)json_integer_value(json_object_get(o, "flags"));
		const char *t;
		if ((t = json_string_value(json_object_get(o, "local"))) &&
		    !(a->has_local = inet_pton((int)af, t, a->local) == 1))
			return -1;
		if ((t = json_string_value(json_object_get(o, "address"))) &&
		    !(a->has_address = inet_pton((int)af, t, a->address) == 1))
			return -1;
		if ((t = json_string_value(json_object_get(o, "brd"))) &&
		    !(a->has_brd = inet_pton((int)af, t, a->brd) == 1))
			return -1;
	}
	return 0;
}

static int addr_add(int fd, int index, const struct saved_addr *a)
{
	/* Flags one may set; the rest the kernel derives. */
	const uint32_t settable = IFA_F_NODAD | IFA_F_HOMEADDRESS | IFA_F_MANAGETEMPADDR |
				  IFA_F_NOPREFIXROUTE | IFA_F_MCAUTOJOIN;
	size_t alen = a->ifa.ifa_family == AF_INET6 ? 16 : 4;
	struct nl_req r;
	req_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, sizeof(struct ifaddrmsg));
	r.ifa = a->ifa;
	r.ifa.ifa_index = (unsigned)index;
	r.ifa.ifa_flags = 0;
	uint32_t flags = a->flags & settable;
	if (a->has_local)
		req_put(&r, IFA_LOCAL, a->local, alen);
	if (a->has_address)
		req_put(&r, IFA_ADDRESS, a->address, alen);
	if (a->has_brd)
		req_put(&r, IFA_BROADCAST, a->brd, alen);
	req_put(&r, IFA_FLAGS, &flags, sizeof(flags));
	return nl_talk(fd, &r, NULL, NULL);
}

/* Into the namespace of nsfd, renamed to name in the same step. */
static int link_move(int fd, int index, int nsfd, const char *name)
{
	struct nl_req r;
	uint32_t ns = (uint32_t)nsfd;
	req_init(&r, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));
	r.ifi.ifi_family = AF_UNSPEC;
	r.ifi.ifi_index = index;
	req_put(&r, IFLA_NET_NS_FD, &ns, sizeof(ns));
	req_put(&r, IFLA_IFNAME, name, strlen(name) + 1);
	return nl_talk(fd, &r, NULL, NULL);
}

static int link_up(int fd, int index)
{
	struct nl_req r;
	req_init(&r, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));
	r.ifi.ifi_family = AF_UNSPEC;
	r.ifi.ifi_index = index;
	r.ifi.ifi_flags = IFF_UP;
	r.ifi.ifi_change = IFF_UP;
	return nl_talk(fd, &r, NULL, NULL);
}

static int nl_socket(void)
{
	return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
}

/* A netlink socket in the network namespace of holder (a pidfd or a
 * namespace fd); *nsfd, when asked, an fd of that namespace.  The thread
 * goes back to its own namespace before returning. */
static int socket_in(int holder, int *nsfd, struct husk_error *e)
{
	_cleanup_fd_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return husk_errno(e, "open our network namespace");
	if (setns(holder, CLONE_NEWNET) < 0)
		return husk_errno(e, "enter the container's network namespace");
	int fd = nl_socket();
	int saved = errno;
	if (fd >= 0 && nsfd && (*nsfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) {
		saved = errno;
		husk_closep(&fd);
	}
	if (setns(self, CLONE_NEWNET) < 0)
		abort(); /* stuck in the container's namespace: nothing safe to do */
	if (fd < 0)
		return husk_err(e, saved, "netlink socket in the container's network namespace");
	return fd;
}

/* Re-add the saved addresses on index; bring it up when up. */
static int restore(int fd, int index, const struct addr_list *l, bool up, const char *what,
		   struct husk_error *e)
{
	for (size_t i = 0; i < l->n; i++) {
		int err = addr_add(fd, index, &l->v[i]);
		if (err < 0)
			return husk_err(e, -err, "%s: add its address again", what);
	}
	int err = up ? link_up(fd, index) : 0;
	return err < 0 ? husk_err(e, -err, "%s: set the link up", what) : 0;
}

static int give_back_one(int cs, int hs, int host_ns, json_t *rec, struct husk_error *e)
{
	const char *host = json_string_value(json_object_get(rec, "hostName"));
	const char *name = json_string_value(json_object_get(rec, "name"));
	bool up = json_is_true(json_object_get(rec, "up"));
	char what[64];
	_cleanup_free_ struct saved_addr *v = NULL;
	struct addr_list l;
	int bad = addrs_from_json(json_object_get(rec, "addrs"), &l);
	v = l.v;
	if (!host || !name || bad < 0)
		return husk_err(e, 0, "state: linux.netDevices record is corrupt");
	snprintf(what, sizeof(what), "linux.netDevices.%s", host);
	struct link_info li;
	int err = link_get(cs, name, &li);
	if (err < 0)
		return husk_err(e, -err, "%s: find \"%s\" in the container", what, name);
	if ((err = link_move(cs, li.index, host_ns, host)) < 0)
		return husk_err(e, -err, "%s: move \"%s\" back to the host as \"%s\"", what, name, host);
	if ((err = link_get(hs, host, &li)) < 0)
		return husk_err(e, -err, "%s: find it back on the host", what);
	return restore(hs, li.index, &l, up, what, e);
}

int husk_netdev_give_back(json_t *moved, int netns_holder, struct husk_error *e)
{
	if (!json_array_size(moved))
		return 0;
	_cleanup_fd_ int host_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	_cleanup_fd_ int hs = nl_socket();
	if (host_ns < 0 || hs < 0)
		return husk_errno(e, "linux.netDevices: netlink");
	_cleanup_fd_ int cs = socket_in(netns_holder, NULL, e);
	if (cs < 0)
		return husk_err_wrap(e, "linux.netDevices");
	int ret = 0;
	struct husk_error one;
	/* In reverse: undoes a partial move in order. */
	for (size_t i = json_array_size(moved); i-- > 0;)
		if (give_back_one(cs, hs, host_ns, json_array_get(moved, i), ret < 0 ? &one : e) < 0)
			ret = -1;
	return ret;
}

static int move_one(int hs, int cs, int cns, const char *pinned, const struct husk_net_device *d,
		    json_t *moved, struct husk_error *e)
{
	char what[64];
	snprintf(what, sizeof(what), "linux.netDevices.%s", d->host_name);
	struct link_info li;
	int err = link_get(hs, d->host_name, &li);
	if (err == -ENODEV)
		return husk_err(e, 0, "%s: no network interface \"%s\" on the host", what, d->host_name);
	if (err < 0)
		return husk_err(e, -err, "%s: look up \"%s\"", what, d->host_name);
	_cleanup_free_ struct saved_addr *v = NULL;
	struct addr_list l;
	err = addrs_get(hs, li.index, &l);
	v = l.v;
	if (err < 0)
		return husk_err(e, -err, "%s: read its addresses", what);
	/* The kernel moves first and renames after: a taken name would
	 * leave the device in the container under its host name. */
	struct link_info taken;
	if (link_get(cs, d->name, &taken) == 0)
		return husk_err(e, 0, "%s: the container already has a network interface \"%s\"", what,
				d->name);
	bool up = (li.flags & IFF_UP) != 0;
	err = link_move(hs, li.index, cns, d->name);
	if (err < 0) {
		/* Moved but not renamed (a race on the name): recorded, so
		 * that the caller's give-back finds it. */
		if (link_get(cs, d->host_name, &taken) == 0)
			json_array_append_new(moved, json_pack("{s:s, s:s, s:b, s:o}", "hostName",
							       d->host_name, "name", d->host_name, "up",
							       up, "addrs", addrs_to_json(&l)));
		return husk_err(e, -err, "%s: move it into the container as \"%s\"", what, d->name);
	}
	json_t *rec = json_pack("{s:s, s:s, s:b, s:o}", "hostName", d->host_name, "name", d->name,
				"up", up, "addrs", addrs_to_json(&l));
	if (pinned)
		json_object_set_new(rec, "netns", json_string(pinned));
	json_array_append_new(moved, rec);
	if ((err = link_get(cs, d->name, &li)) < 0)
		return husk_err(e, -err, "%s: find \"%s\" in the container", what, d->name);
	/* The spec wants the device usable: up, whatever it was before. */
	return restore(cs, li.index, &l, true, what, e);
}

/* A network namespace joined by a path that outlives the container (a
 * bind mount such as /run/netns/NAME; not a /proc/PID path, whose pid may
 * be reused): delete gives the devices back there even once the container
 * has stopped. */
static const char *pinned_netns(const struct husk_spec *s)
{
	const char *p = s->namespaces[HUSK_NS_NET].path;
	return p && strncmp(p, "/proc/", 6) ? p : NULL;
}

int husk_netdev_move_in(const struct husk_spec *s, pid_t pid, json_t **moved,
			struct husk_error *e)
{
	*moved = NULL;
	if (!s->n_net_devices)
		return 0;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	_cleanup_fd_ int holder = open(path, O_RDONLY | O_CLOEXEC);
	struct stat theirs, ours;
	if (holder < 0 || fstat(holder, &theirs) < 0 || stat("/proc/self/ns/net", &ours) < 0)
		return husk_errno(e, "linux.netDevices: the container's network namespace");
	if (theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev)
		return husk_err(e, 0, "linux.netDevices: the container's network namespace is the runtime's own");
	_cleanup_fd_ int hs = nl_socket(), cns = -1;
	if (hs < 0)
		return husk_errno(e, "linux.netDevices: netlink socket");
	_cleanup_fd_ int cs = socket_in(holder, &cns, e);
	if (cs < 0)
		return husk_err_wrap(e, "linux.netDevices");
	json_t *list = json_array();
	for (size_t i = 0; i < s->n_net_devices; i++) {
		if (move_one(hs, cs, cns, pinned_netns(s), &s->net_devices[i], list, e) < 0) {
			struct husk_error ignored;
			husk_netdev_give_back(list, holder, &ignored);
			json_decref(list);
			return -1;
		}
	}
	*moved = list;
	return 0;
}

int husk_netdev_give_back_pinned(json_t *moved, struct husk_error *e)
{
	const char *path = json_string_value(json_object_get(json_array_get(moved, 0), "netns"));
	if (!path)
		return 0; /* the namespace died with the init, and the devices with it */
	_cleanup_fd_ int ns = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct statfs sf;
	struct stat theirs, ours;
	if (ns < 0 || fstatfs(ns, &sf) < 0 || fstat(ns, &theirs) < 0 ||
	    stat("/proc/self/ns/net", &ours) < 0)
		return husk_errno(e, "linux.netDevices: network namespace %s", path);
	/* Still a network namespace, and not ours: the bind mount may have
	 * been replaced since create. */
	if (sf.f_type != NSFS_MAGIC || ioctl(ns, NS_GET_NSTYPE) != CLONE_NEWNET ||
	    (theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev))
		return husk_err(e, 0, "linux.netDevices: %s is no longer the container's network namespace",
				path);
	return husk_netdev_give_back(moved, ns, e);
}
