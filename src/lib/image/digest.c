#include "digest.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

void husk_sha256_init(struct husk_sha256 *h)
{
	sha256_init(&h->ctx);
}

void husk_sha256_update(struct husk_sha256 *h, const void *buf, size_t len)
{
	sha256_update(&h->ctx, len, buf);
}

void husk_sha256_hex(struct husk_sha256 *h, char *hex)
{
	uint8_t d[SHA256_DIGEST_SIZE];
	sha256_digest(&h->ctx, sizeof(d), d);
	for (size_t i = 0; i < sizeof(d); i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
	hex[HUSK_HEX_LEN] = '\0';
}

void husk_sha256_buf_hex(const void *buf, size_t len, char *hex)
{
	struct husk_sha256 h;
	husk_sha256_init(&h);
	husk_sha256_update(&h, buf, len);
	husk_sha256_hex(&h, hex);
}

bool husk_hex_valid(const char *hex)
{
	size_t i;
	for (i = 0; hex[i]; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return false;
	return i == HUSK_HEX_LEN;
}

bool husk_digest_parse(const char *digest, char *hex)
{
	if (!digest || strncmp(digest, "sha256:", 7) != 0 || !husk_hex_valid(digest + 7))
		return false;
	memcpy(hex, digest + 7, HUSK_HEX_LEN + 1);
	return true;
}

void husk_chain_id(const char *parent_hex, const char *diff_hex, char *out_hex)
{
	if (!parent_hex) {
		memcpy(out_hex, diff_hex, HUSK_HEX_LEN + 1);
		return;
	}
	char buf[2 * HUSK_DIGEST_LEN + 2];
	int n = snprintf(buf, sizeof(buf), "sha256:%s sha256:%s", parent_hex, diff_hex);
	husk_sha256_buf_hex(buf, (size_t)n, out_hex);
}

/* One path component: [a-z0-9]+ joined by '.', '_', '__' or runs of '-'. */
static bool component_ok(const char *s, size_t n)
{
	if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (c == '.' || c == '_') {
			size_t run = 1;
			while (i + run < n && s[i + run] == c)
				run++;
			if (c == '.' ? run > 1 : run > 2)
				return false;
			if (i + run < n && !isalnum((unsigned char)s[i + run]))
				return false;
			i += run - 1;
			continue;
		}
		if (c == '-') {
			while (i + 1 < n && s[i + 1] == '-')
				i++;
			if (i + 1 < n && !isalnum((unsigned char)s[i + 1]))
				return false;
			continue;
		}
		return false;
	}
	return true;
}

/* A registry host: letters, digits, '.', '-', optionally ":port". */
static bool host_ok(const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	size_t hn = colon ? (size_t)(colon - s) : n;
	if (hn == 0)
		return false;
	for (size_t i = 0; i < hn; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-')
			return false;
	if (colon) {
		size_t pn = n - hn - 1;
		if (pn == 0 || pn > 5)
			return false;
		for (size_t i = hn + 1; i < n; i++)
			if (!isdigit((unsigned char)s[i]))
				return false;
	}
	return true;
}

static bool tag_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && t[i] != '_' && t[i] != '.' && t[i] != '-')
			return false;
	return true;
}

int husk_ref_normalize(const char *ref, char **out, const char **msg)
{
	if (!ref || !*ref) {
		*msg = "empty name";
		return -1;
	}
	if (strchr(ref, '@')) {
		*msg = "digest references (@sha256:...) cannot name an image";
		return -1;
	}
	/* The tag follows the last ':' after the last '/' (a port's ':' comes
	 * before a '/'). */
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(slash ? slash : ref, ':');
	size_t nlen = colon ? (size_t)(colon - ref) : strlen(ref);
	const char *tag = colon ? colon + 1 : "latest";
	if (nlen > 255) {
		*msg = "name longer than 255 characters";
		return -1;
	}
	if (!tag_ok(tag)) {
		*msg = "invalid tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} expected";
		return -1;
	}
	const char *p = ref, *end = ref + nlen;
	bool first = true;
	while (p <= end) {
		const char *s = memchr(p, '/', (size_t)(end - p));
		size_t n = s ? (size_t)(s - p) : (size_t)(end - p);
		/* A first component with '.', ':' or "localhost" is a host. */
		bool host = first && s &&
			    (memchr(p, '.', n) || memchr(p, ':', n) || (n == 9 && !memcmp(p, "localhost", 9)));
		if (host ? !host_ok(p, n) : !component_ok(p, n)) {
			*msg = "invalid name: lowercase [a-z0-9] components joined by '.', '_', '-' and '/'";
			return -1;
		}
		first = false;
		if (!s)
			break;
		p = s + 1;
	}
	*out = xasprintf("%.*s:%s", (int)nlen, ref, tag);
	return 0;
}
