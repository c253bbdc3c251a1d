/* husk box: /etc/resolv.conf, /etc/hostname and /etc/hosts, generated into
 * the state directory as Docker's daemon writes them, and the config's
 * hostname. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "box_internal.h"
#include "util.h"

#define HOST_RESOLV_CONF "/etc/resolv.conf"
/* systemd-resolved's upstream servers, used when the host's file only
 * names its stub resolver (127.0.0.53, unreachable from the box). */
#define RESOLVED_RESOLV_CONF "/run/systemd/resolve/resolv.conf"

static bool is_host(const char *mode)
{
	return mode && !strcmp(mode, "host");
}

static bool ip_valid(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* 127.0.0.0/8 and ::1: the host's own resolvers, unreachable from a box
 * with its own network namespace. */
static bool is_localhost(const char *ip)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, ip, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, ip, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

static bool has_space(const char *s)
{
	for (; *s; s++) {
		if (isspace((unsigned char)*s))
			return true;
	}
	return false;
}

/* A host file's content, "" when it is missing or unreadable. */
static char *host_file(const char *path)
{
	char *s = NULL;
	size_t len;
	struct husk_error ignored = { 0 };
	if (husk_read_file_at(AT_FDCWD, path, &s, &len, &ignored) < 0)
		return xstrdup("");
	return s;
}

/* The host's resolv.conf: its lines less the dropped nameservers, the
 * nameservers kept, and the last search and options lines' values. */
struct resolv {
	FILE *kept;      /* the lines kept, in order */
	char *kept_buf;
	size_t kept_len;
	struct husk_list ns;
	char *search, *options; /* owned */
	size_t n_host_ns;       /* nameservers before filtering */
	bool only_stub;         /* exactly one: systemd-resolved's 127.0.0.53 */
};

static void resolv_free(struct resolv *r)
{
	if (r->kept)
		fclose(r->kept);
	free(r->kept_buf);
	for (size_t i = 0; i < r->ns.n; i++)
		free((char *)r->ns.v[i]);
	free(r->ns.v);
	free(r->search);
	free(r->options);
	memset(r, 0, sizeof(*r));
}

static void resolv_parse(struct resolv *r, const char *content, bool keep_localhost)
{
	_cleanup_free_ char *s = xstrdup(content);
	char *save = NULL;
	r->kept = open_memstream(&r->kept_buf, &r->kept_len);
	for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		_cleanup_free_ char *copy = xstrdup(line);
		char *p = copy + strspn(copy, " \t"), *val = p + strcspn(p, " \t");
		size_t klen = (size_t)(val - p);
		val += strspn(val, " \t");
		val[strcspn(val, "\r")] = '\0';
		if (klen == 10 && !strncmp(p, "nameserver", 10)) {
			val[strcspn(val, " \t")] = '\0';
			r->n_host_ns++;
			r->only_stub = r->n_host_ns == 1 && !strcmp(val, "127.0.0.53");
			if (!keep_localhost && is_localhost(val))
				continue;
			husk_list_push(&r->ns, xstrdup(val));
		} else if ((klen == 6 && !strncmp(p, "search", 6)) ||
			   (klen == 7 && !strncmp(p, "options", 7))) {
			char **slot = p[0] == 's' ? &r->search : &r->options;
			free(*slot);
			*slot = xstrdup(val);
		}
		fprintf(r->kept, "%s\n", line);
	}
	fflush(r->kept);
}

static void put_list(FILE *f, const char *key, const struct husk_list *l)
{
	fprintf(f, "%s", key);
	for (size_t i = 0; i < l->n; i++)
		fprintf(f, " %s", l->v[i]);
	fprintf(f, "\n");
}

static void put_ns(FILE *f, const struct husk_list *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		fprintf(f, "nameserver %s\n", ns->v[i]);
}

/* Docker's rules: without --dns* options the host's file less its
 * localhost nameservers (all kept with --net host); with them, a file of
 * nameservers, search and options, each from its option when given. */
static char *resolv_conf(const struct husk_box_opts *o, bool host_net)
{
	struct resolv r = { 0 };
	_cleanup_free_ char *content = host_file(HOST_RESOLV_CONF);
	resolv_parse(&r, content, host_net);
	if (!host_net && r.only_stub && !access(RESOLVED_RESOLV_CONF, R_OK)) {
		free(content);
		content = host_file(RESOLVED_RESOLV_CONF);
		resolv_free(&r);
		resolv_parse(&r, content, false);
	}
	static const char *const fallback[] = { "8.8.8.8", "8.8.4.4" };
	struct husk_list ns = r.ns;
	if (!ns.n && !host_net)
		ns = (struct husk_list){ .v = (const char **)fallback, .n = ARRAY_SIZE(fallback) };
	if (o->dns.n)
		ns = o->dns;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!o->dns.n && !o->dns_search.n && !o->dns_option.n) {
		fprintf(f, "%s", r.kept_buf);
		if (!r.ns.n)
			put_ns(f, &ns);
	} else {
		put_ns(f, &ns);
		/* "--dns-search ." alone: no search domains at all. */
		bool dot = o->dns_search.n == 1 && !strcmp(o->dns_search.v[0], ".");
		if (o->dns_search.n && !dot)
			put_list(f, "search", &o->dns_search);
		else if (!o->dns_search.n && r.search)
			fprintf(f, "search %s\n", r.search);
		if (o->dns_option.n)
			put_list(f, "options", &o->dns_option);
		else if (r.options)
			fprintf(f, "options %s\n", r.options);
	}
	fclose(f);
	resolv_free(&r);
	return out;
}

static int check_dns(const struct husk_box_opts *o, struct husk_error *e)
{
	for (size_t i = 0; i < o->dns.n; i++) {
		if (!ip_valid(o->dns.v[i]))
			return husk_err(e, 0, "--dns %s: not an IP address", o->dns.v[i]);
	}
	for (size_t i = 0; i < o->dns_search.n; i++) {
		const char *s = o->dns_search.v[i];
		if (!*s || has_space(s) || strlen(s) > 253)
			return husk_err(e, 0, "--dns-search '%s': not a domain name", s);
	}
	for (size_t i = 0; i < o->dns_option.n; i++) {
		const char *s = o->dns_option.v[i];
		if (!*s || has_space(s))
			return husk_err(e, 0, "--dns-option '%s': expected one option, like ndots:2", s);
	}
	return 0;
}

/* RFC 1123: dot-separated labels of letters, digits and inner hyphens,
 * 1 to 63 characters each; at most 64 in all (the kernel's limit). */
static bool hostname_valid(const char *h)
{
	size_t n = strlen(h), label = 0;
	if (!n || n > 64)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = h[i];
		if (c == '.' || c == '\0') {
			if (!label || h[i - 1] == '-')
				return false;
			label = 0;
		} else if (isalnum((unsigned char)c) || (c == '-' && label)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return true;
}

static char *host_hostname(void)
{
	char buf[256] = { 0 };
	if (gethostname(buf, sizeof(buf) - 1) < 0)
		return xstrdup("localhost");
	return xstrdup(buf);
}

/* Docker's: --hostname; with --net host the host's; else the id's first 12
 * characters.  --uts host shares the host's, which --hostname cannot set. */
static char *pick_hostname(const struct box *b, struct husk_error *e)
{
	const struct husk_box_opts *o = b->o;
	if (o->hostname && is_host(o->uts))
		return husk_err(e, 0, "--hostname: cannot be set with --uts host"), NULL;
	if (o->hostname && !hostname_valid(o->hostname))
		return husk_err(e, 0, "--hostname %s: not a valid hostname (RFC 1123 labels of "
				"letters, digits and hyphens, at most 64 characters)", o->hostname), NULL;
	if (o->hostname)
		return xstrdup(o->hostname);
	if (is_host(o->uts) || is_host(o->net))
		return host_hostname();
	return xstrndup(b->id, 12);
}

/* NAME:IP (or NAME=IP; an IPv6 address may be in brackets) -> "IP\tNAME". */
static int add_host_line(FILE *f, const char *spec, struct husk_error *e)
{
	size_t n = strcspn(spec, ":=");
	if (!spec[n] || !n)
		return husk_err(e, 0, "--add-host %s: expected NAME:IP", spec);
	_cleanup_free_ char *name = xstrndup(spec, n), *ip = xstrdup(spec + n + 1);
	size_t l = strlen(ip);
	if (l >= 2 && ip[0] == '[' && ip[l - 1] == ']') {
		memmove(ip, ip + 1, l - 2);
		ip[l - 2] = '\0';
	}
	if (has_space(name) || strchr(name, '#'))
		return husk_err(e, 0, "--add-host %s: %s is not a host name", spec, name);
	if (!strcmp(ip, "host-gateway"))
		return husk_err(e, 0, "--add-host %s: host-gateway is not supported (box has no bridge network)",
				spec);
	if (!ip_valid(ip))
		return husk_err(e, 0, "--add-host %s: %s is not an IP address", spec, ip);
	fprintf(f, "%s\t%s\n", ip, name);
	return 0;
}

/* Docker's localhost lines, --add-host entries and the hostname; with
 * --net host the host's file plus the --add-host entries. */
static char *hosts(const struct husk_box_opts *o, const char *hostname, struct husk_error *e)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (is_host(o->net)) {
		_cleanup_free_ char *h = host_file("/etc/hosts");
		size_t hl = strlen(h);
		fprintf(f, "%s%s", h, hl && h[hl - 1] != '\n' ? "\n" : "");
	} else {
		fprintf(f, "127.0.0.1\tlocalhost\n"
			   "::1\tlocalhost ip6-localhost ip6-loopback\n"
			   "fe00::0\tip6-localnet\n"
			   "ff00::0\tip6-mcastprefix\n"
			   "ff02::1\tip6-allnodes\n"
			   "ff02::2\tip6-allrouters\n");
	}
	int r = 0;
	for (size_t i = 0; i < o->add_host.n && r == 0; i++)
		r = add_host_line(f, o->add_host.v[i], e);
	if (!is_host(o->net))
		fprintf(f, "127.0.0.1\t%s\n", hostname);
	fclose(f);
	if (r < 0) {
		free(out);
		return NULL;
	}
	return out;
}

int box_etc(struct box *b, struct husk_error *e)
{
	const struct husk_box_opts *o = b->o;
	if (check_dns(o, e) < 0)
		return -1;
	_cleanup_free_ char *hostname = pick_hostname(b, e);
	if (!hostname)
		return -1;
	char *h = hosts(o, hostname, e);
	if (!h)
		return -1;
	box_add_file(b, "hosts", h);
	box_add_file(b, "hostname", xasprintf("%s\n", hostname));
	box_add_file(b, "resolv.conf", resolv_conf(o, is_host(o->net)));
	/* The default config's "runc" goes too: the host's UTS namespace keeps
	 * its name. */
	if (is_host(o->uts))
		json_object_del(b->doc, "hostname");
	else
		json_object_set_new(b->doc, "hostname", json_string(hostname));
	return 0;
}
