/* String helpers of the cgroup managers: controller lists, cgroup paths,
 * mountinfo escapes and /proc/PID/cgroup lines. */
#include "cgroup/cgroup_internal.h"

#include <string.h>

#include "util.h"

/* The directory of cgroup path (as /proc/PID/cgroup shows it) in the
 * hierarchy mounted at mountpoint. */
char *husk_cg_dir(const char *mountpoint, const char *path)
{
	return xasprintf("%s%s", mountpoint, strcmp(path, "/") == 0 ? "" : path);
}

/* ---- small string helpers ---- */

/* Does the comma list a contain the same items as b (any order)? */
bool husk_cg_ctrl_equal(const char *a, const char *b)
{
	size_t na = 0, nb = 0;
	for (const char *s = a; *s;) {
		const char *end = strchrnul(s, ',');
		size_t len = (size_t)(end - s);
		bool found = false;
		for (const char *t = b; *t;) {
			const char *tend = strchrnul(t, ',');
			if ((size_t)(tend - t) == len && memcmp(s, t, len) == 0)
				found = true;
			t = *tend ? tend + 1 : tend;
		}
		if (!found)
			return false;
		na++;
		s = *end ? end + 1 : end;
	}
	for (const char *t = b; *t; nb++) {
		const char *tend = strchrnul(t, ',');
		t = *tend ? tend + 1 : tend;
	}
	return na == nb;
}

bool husk_cg_word_has(const char *list, const char *name)
{
	size_t len = strlen(name);
	for (const char *s = list; *s;) {
		s += strspn(s, " \n");
		size_t wl = strcspn(s, " \n");
		if (wl == len && memcmp(s, name, len) == 0)
			return true;
		s += wl;
	}
	return false;
}

bool husk_cg_ctrl_has(const char *list, const char *name)
{
	size_t len = strlen(name);
	for (const char *s = list; *s;) {
		const char *end = strchrnul(s, ',');
		if ((size_t)(end - s) == len && memcmp(s, name, len) == 0)
			return true;
		s = *end ? end + 1 : end;
	}
	return false;
}

/* Normalise a cgroup path: collapse "//" and ".", resolve ".." and refuse
 * one that climbs above its start.  Result has no leading or trailing
 * slash ("" for the root). */
int husk_cg_clean_path(const char *in, char **out, struct husk_error *e)
{
	size_t len = strlen(in);
	char *r = xmalloc(len + 1);
	size_t rl = 0;
	for (const char *s = in; *s;) {
		while (*s == '/')
			s++;
		if (!*s)
			break;
		const char *end = strchrnul(s, '/');
		size_t cl = (size_t)(end - s);
		if (cl == 1 && s[0] == '.') {
			/* nothing */
		} else if (cl == 2 && s[0] == '.' && s[1] == '.') {
			if (rl == 0) {
				free(r);
				return husk_err(e, 0, "cgroupsPath \"%s\": climbs out of its cgroup root", in);
			}
			while (rl > 0 && r[rl - 1] != '/')
				rl--;
			if (rl > 0)
				rl--; /* the separator */
		} else {
			if (rl > 0)
				r[rl++] = '/';
			memcpy(r + rl, s, cl);
			rl += cl;
		}
		s = end;
	}
	r[rl] = '\0';
	*out = r;
	return 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
void husk_cg_unescape_octal(char *s)
{
	char *w = s;
	for (char *r = s; *r;) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

/* Super options of a v1 mount minus the non-controller ones. */
char *husk_cg_v1_controllers(const char *superopts)
{
	static const char *const skip[] = { "rw", "ro", "noprefix", "clone_children", "xattr",
					    "cpuset_v2_mode", "favordynmods", "none" };
	char *r = xmalloc(strlen(superopts) + 1);
	size_t rl = 0;
	for (const char *s = superopts; *s;) {
		const char *end = strchrnul(s, ',');
		size_t len = (size_t)(end - s);
		bool keep = len > 0 && strncmp(s, "release_agent=", 14) != 0;
		for (size_t i = 0; keep && i < ARRAY_SIZE(skip); i++)
			if (strlen(skip[i]) == len && memcmp(skip[i], s, len) == 0)
				keep = false;
		if (keep) {
			if (rl)
				r[rl++] = ',';
			memcpy(r + rl, s, len);
			rl += len;
		}
		s = *end ? end + 1 : end;
	}
	r[rl] = '\0';
	return r;
}

/* The caller's own cgroup in the hierarchy with controllers ctrl ("" for
 * the unified one), from /proc/self/cgroup text. */
const char *husk_cg_own_cgroup(const char *proc_cgroup, const char *ctrl, char *buf, size_t len)
{
	for (const char *line = proc_cgroup; line && *line;) {
		const char *nl = strchrnul(line, '\n');
		const char *c1 = memchr(line, ':', (size_t)(nl - line));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(nl - c1 - 1)) : NULL;
		if (c2) {
			size_t cl = (size_t)(c2 - c1 - 1);
			char lc[256];
			if (cl < sizeof(lc)) {
				memcpy(lc, c1 + 1, cl);
				lc[cl] = '\0';
				bool match = *ctrl ? husk_cg_ctrl_equal(lc, ctrl) : (cl == 0 && line[0] == '0');
				if (match) {
					snprintf(buf, len, "%.*s", (int)(nl - c2 - 1), c2 + 1);
					return buf;
				}
			}
		}
		line = *nl ? nl + 1 : nl;
	}
	return NULL;
}