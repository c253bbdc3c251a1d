/* Unit tests (TAP) for the image store's pure parts: sha256 and chain
 * ids, digest and reference parsing, entry path cleaning, whiteout names,
 * the strict directory open, and one layer extracted from a tar built in
 * memory (whiteouts and opaque dirs into overlay form, the diff_id). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image/image_internal.h"
#include "util.h"
#include "tap.h"

static void test_sha256(void)
{
	char hex[HUSK_HEX_LEN + 1];
	husk_sha256_buf_hex("abc", 3, hex);
	ok(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "sha256(abc)");
	husk_sha256_buf_hex("", 0, hex);
	ok(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "sha256()");
	struct husk_sha256 h;
	husk_sha256_init(&h);
	husk_sha256_update(&h, "a", 1);
	husk_sha256_update(&h, "bc", 2);
	husk_sha256_hex(&h, hex);
	ok(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
	   "sha256 in pieces");
}

static void test_chain_id(void)
{
	char a[HUSK_HEX_LEN + 1], b[HUSK_HEX_LEN + 1], out[HUSK_HEX_LEN + 1];
	memset(a, 'a', HUSK_HEX_LEN);
	memset(b, 'b', HUSK_HEX_LEN);
	a[HUSK_HEX_LEN] = b[HUSK_HEX_LEN] = '\0';
	husk_chain_id(NULL, a, out);
	ok(!strcmp(out, a), "the first layer's chain id is its diff_id");
	husk_chain_id(a, b, out);
	ok(!strcmp(out, "ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c"),
	   "chain id = sha256(\"sha256:<parent> sha256:<diff>\")");
}

static void test_digest_parse(void)
{
	char hex[HUSK_HEX_LEN + 1];
	const char *good = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	ok(husk_digest_parse(good, hex) && !strcmp(hex, good + 7), "sha256 digest parsed");
	ok(!husk_digest_parse("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", hex),
	   "uppercase hex refused");
	ok(!husk_digest_parse("sha256:e3b0", hex), "short digest refused");
	ok(!husk_digest_parse("sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", hex),
	   "other algorithms refused");
	ok(!husk_digest_parse(NULL, hex), "NULL refused");
}

static void ref_ok(const char *in, const char *want)
{
	char *out = NULL;
	const char *msg = NULL;
	int r = husk_ref_normalize(in, &out, &msg);
	ok(r == 0 && !strcmp(out, want), "ref \"%s\" -> \"%s\" (got %s)", in, want, r ? msg : out);
	free(out);
}

static void ref_bad(const char *in)
{
	char *out = NULL;
	const char *msg = NULL;
	int r = husk_ref_normalize(in, &out, &msg);
	ok(r < 0 && msg, "ref \"%s\" refused (%s)", in, r < 0 ? msg : out);
	free(out);
}

static void test_refs(void)
{
	ref_ok("busybox", "busybox:latest");
	ref_ok("busybox:1.36", "busybox:1.36");
	ref_ok("library/busybox", "library/busybox:latest");
	ref_ok("example.com:5000/a/b:v1.0-rc_1", "example.com:5000/a/b:v1.0-rc_1");
	ref_ok("localhost/x", "localhost/x:latest");
	ref_ok("a__b.c-d---e", "a__b.c-d---e:latest");
	ref_ok("my.registry/ns/img:_tag", "my.registry/ns/img:_tag");
	ref_bad("");
	ref_bad("Busybox");
	ref_bad("busybox@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ref_bad("a/:t");
	ref_bad("/a");
	ref_bad("a/");
	ref_bad("a___b");
	ref_bad("a..b");
	ref_bad("-a");
	ref_bad("a:");
	ref_bad("a:.t");
	ref_bad("a:b:c");
	ref_bad("host:port/x");
	char tag[200];
	memset(tag, 't', sizeof(tag));
	memcpy(tag, "a:", 2);
	tag[2 + 128] = '\0';
	ref_ok(tag, tag);        /* 128 characters: the longest tag */
	tag[2 + 129] = 't';
	tag[2 + 129] = '\0';
	tag[2 + 128] = 't';
	ref_bad(tag);            /* 129 */
}

static void clean_is(const char *in, const char *want)
{
	char out[256];
	int r = husk_layer_clean_path(in, out, sizeof(out));
	if (!want)
		ok(r < 0, "path \"%s\" refused", in);
	else
		ok(r == 0 && !strcmp(out, want), "path \"%s\" -> \"%s\" (got \"%s\")", in, want,
		   r ? "(refused)" : out);
}

static void test_clean_path(void)
{
	clean_is("./a//b/", "a/b");
	clean_is("a/./b", "a/b");
	clean_is(".", "");
	clean_is("./", "");
	clean_is("...", "...");
	clean_is("a/..b", "a/..b");
	clean_is("/abs", NULL);
	clean_is("a/../b", NULL);
	clean_is("a/..", NULL);
	clean_is("..", NULL);
}

static void test_whiteout_names(void)
{
	const char *t = NULL;
	ok(husk_layer_whiteout(".wh.foo", &t) == HUSK_WH_FILE && !strcmp(t, "foo"), ".wh.foo deletes foo");
	ok(husk_layer_whiteout(".wh..wh..opq", &t) == HUSK_WH_OPAQUE, ".wh..wh..opq is opaque");
	ok(husk_layer_whiteout(".wh..wh.plnk", &t) == HUSK_WH_META, ".wh..wh.plnk is aufs metadata");
	ok(husk_layer_whiteout("foo", &t) == HUSK_WH_NONE, "foo is a name");
	ok(husk_layer_whiteout(".whfoo", &t) == HUSK_WH_NONE, ".whfoo is a name");
}

static void test_open_dir(const char *dir)
{
	_cleanup_fd_ int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *outside = xasprintf("%s-outside", dir);
	mkdir(outside, 0755);
	symlinkat(outside, root, "abs");
	symlinkat("..", root, "up");
	int fd = husk_layer_open_dir(root, "a/b/c", true);
	struct stat st;
	ok(fd >= 0 && fstatat(root, "a/b/c", &st, 0) == 0 && S_ISDIR(st.st_mode),
	   "missing directories are created");
	if (fd >= 0)
		close(fd);
	ok(husk_layer_open_dir(root, "abs/x", true) == -ELOOP, "an absolute symlink is not followed");
	ok(husk_layer_open_dir(root, "up/x", true) == -ELOOP, "a relative symlink is not followed");
	_cleanup_free_ char *x = xasprintf("%s/x", outside);
	ok(access(x, F_OK) < 0, "nothing created through a symlink");
	ok(husk_layer_open_dir(root, "a/nosuch", false) == -ENOENT, "missing without create: ENOENT");
	rmdir(outside);
}

/* A tar in memory: ".wh.gone", "d/.wh..wh..opq", "d/f", "h" linked to "d/f". */
static size_t make_tar(char *buf, size_t cap)
{
	struct archive *a = archive_write_new();
	size_t used = 0;
	archive_write_set_format_pax_restricted(a);
	archive_write_open_memory(a, buf, cap, &used);
	struct { const char *name; mode_t type; const char *data; const char *link; } ents[] = {
		{ ".wh.gone", AE_IFREG, "", NULL },
		{ "d", AE_IFDIR, NULL, NULL },
		{ "d/.wh..wh..opq", AE_IFREG, "", NULL },
		{ "d/f", AE_IFREG, "data\n", NULL },
		{ "h", AE_IFREG, NULL, "d/f" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(ents); i++) {
		struct archive_entry *en = archive_entry_new();
		archive_entry_set_pathname(en, ents[i].name);
		archive_entry_set_filetype(en, ents[i].type);
		archive_entry_set_perm(en, ents[i].type == AE_IFDIR ? 0755 : 0644);
		archive_entry_set_mtime(en, 1600000000, 0);
		if (ents[i].link)
			archive_entry_set_hardlink(en, ents[i].link);
		size_t n = ents[i].data ? strlen(ents[i].data) : 0;
		archive_entry_set_size(en, (la_int64_t)n);
		archive_write_header(a, en);
		if (n)
			archive_write_data(a, ents[i].data, n);
		archive_entry_free(en);
	}
	archive_write_close(a);
	archive_write_free(a);
	return used;
}

static void test_extract(const char *dir)
{
	static char tar[64 * 1024];
	size_t n = make_tar(tar, sizeof(tar));
	_cleanup_free_ char *blob = xasprintf("%s/blob", dir), *tree = xasprintf("%s/tree", dir);
	int fd = open(blob, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	husk_write_all(fd, tar, n);
	lseek(fd, 0, SEEK_SET);
	mkdir(tree, 0755);
	_cleanup_fd_ int tfd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct husk_image_store s = { .rootless = geteuid() != 0 };
	struct husk_layer_result res = { 0 };
	struct husk_error e = { 0 };
	int r = husk_layer_extract(&s, fd, tfd, NULL, &res, &e);
	close(fd);
	ok(r == 0, "layer extracted (%s)", e.msg);
	char want[HUSK_HEX_LEN + 1];
	husk_sha256_buf_hex(tar, n, want);
	ok(!strcmp(res.diff_hex, want) && !strcmp(res.blob_hex, want), "diff_id = blob digest = sha256(tar)");
	struct stat st;
	ok(fstatat(tfd, "gone", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(st.st_mode) &&
	   st.st_rdev == makedev(0, 0), ".wh.gone became a 0:0 character device");
	ok(fstatat(tfd, ".wh.gone", &st, AT_SYMLINK_NOFOLLOW) < 0, "no .wh.gone left");
	char v[4] = { 0 };
	_cleanup_free_ char *d = xasprintf("%s/d", tree);
	ok(getxattr(d, husk_image_opaque_xattr(&s), v, sizeof(v)) == 1 && v[0] == 'y',
	   "d/ is opaque (%s=y)", husk_image_opaque_xattr(&s));
	struct stat f, h;
	ok(fstatat(tfd, "d/f", &f, 0) == 0 && fstatat(tfd, "h", &h, 0) == 0 && f.st_ino == h.st_ino,
	   "the hard link is one inode");
	ok(res.size == 5, "size counts regular files (%llu)", (unsigned long long)res.size);
	ok(fstatat(tfd, "d", &st, 0) == 0 && st.st_mtime == 1600000000, "directory mtime set last");
}

int main(void)
{
	char tmpl[] = "/tmp/husk-test-image-XXXXXX";
	const char *dir = mkdtemp(tmpl);
	test_sha256();
	test_chain_id();
	test_digest_parse();
	test_refs();
	test_clean_path();
	test_whiteout_names();
	_cleanup_free_ char *od = xasprintf("%s/od", dir), *xd = xasprintf("%s/xd", dir);
	mkdir(od, 0755);
	mkdir(xd, 0755);
	test_open_dir(od);
	test_extract(xd);
	struct husk_error e = { 0 };
	husk_rm_tree_at(AT_FDCWD, dir, &e);
	return tap_done();
}
