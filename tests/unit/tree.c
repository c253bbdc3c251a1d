#include "tree.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void tree_mk(const char *root, const char *rel, mode_t type, const char *target)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	int r = 0;
	if (type == S_IFDIR)
		r = (mkdir(p, 0755) < 0 && errno != EEXIST) ? -1 : 0;
	else if (type == S_IFLNK)
		r = symlink(target, p);
	else {
		int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		r = fd < 0 ? -1 : close(fd);
	}
	if (r < 0) {
		printf("Bail out! setup %s: %s\n", rel, strerror(errno));
		exit(1);
	}
}

bool tree_has(const char *root, const char *rel, mode_t type)
{
	char p[PATH_MAX];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	return lstat(p, &st) == 0 && (st.st_mode & S_IFMT) == type;
}
