/* sha256 digests as OCI writes them ("sha256:<64 hex>"), chain ids, and
 * the references images are named by (NAME[:TAG], ids). */
#pragma once
#include <nettle/sha2.h>
#include <stdbool.h>
#include <stddef.h>

#define HUSK_HEX_LEN 64            /* hex digits of a sha256 digest */
#define HUSK_DIGEST_LEN (7 + 64)   /* "sha256:" + hex */

struct husk_sha256 {
	struct sha256_ctx ctx;
};

void husk_sha256_init(struct husk_sha256 *h);
void husk_sha256_update(struct husk_sha256 *h, const void *buf, size_t len);
/* The digest's hex (HUSK_HEX_LEN + 1 bytes); h is reset. */
void husk_sha256_hex(struct husk_sha256 *h, char *hex);
/* sha256 of a whole buffer, as hex. */
void husk_sha256_buf_hex(const void *buf, size_t len, char *hex);

/* "sha256:<64 lowercase hex>" -> the hex part (HUSK_HEX_LEN + 1 bytes);
 * false for another algorithm or a malformed digest. */
bool husk_digest_parse(const char *digest, char *hex);
/* 64 lowercase hex digits exactly. */
bool husk_hex_valid(const char *hex);

/* The chain id of a layer (OCI image spec): the first layer's is its
 * diff_id; each next one is sha256(parent_chain + " " + diff_id), both as
 * "sha256:..." strings.  parent_hex NULL for the first.  All hex. */
void husk_chain_id(const char *parent_hex, const char *diff_hex, char *out_hex);

/* NAME[:TAG] as Docker spells it: lowercase path components separated
 * by '/', each [a-z0-9]+ joined by '.', '_', '__' or '-'+; the first may
 * be a registry host[:port].  TAG [A-Za-z0-9_][A-Za-z0-9_.-]{0,127},
 * "latest" when absent.  Digest references (@sha256:...) are refused.
 * out: "NAME:TAG" (allocated).  Returns 0 or -1 (msg: why, static). */
int husk_ref_normalize(const char *ref, char **out, const char **msg);
