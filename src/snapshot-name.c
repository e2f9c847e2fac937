// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * snapshot-name.c - a snapshot's name after its tree-ish and its .source
 * record (see snapshot-name.h).
 */
#include "snapshot-name.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

bool snapshot_treeish_nameable(const char *t)
{
	if (!t || !*t || t[0] == '.' || strlen(t) > 200)
		return false;
	for (const char *p = t; *p; p++)
		if (*p == '/' || (unsigned char) *p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* Whether NAME under DIR_FD holds exactly TEXT. */
static bool file_is(int dir_fd, const char *name, const char *text)
{
	size_t n = strlen(text);
	char buf[4096];
	ssize_t k;
	int fd;

	if (n >= sizeof(buf))
		return false;
	fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return false;
	k = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	return k == (ssize_t) n && memcmp(buf, text, n) == 0;
}

static char *tmp_name(const char *final)
{
	uint64_t rnd;

	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd))
		rnd = (uint64_t) now_ms() ^ ((uint64_t) getpid() << 32);
	return xasprintf(".tmp.%s.%016" PRIx64, final, rnd);
}

static int write_record(int dir_fd, const char *name, const char *text, char **ret_err)
{
	_cleanup_free_ char *tmp = tmp_name(name);
	_cleanup_close_ int fd = -EBADF;
	size_t n = strlen(text);
	int r;

	fd = openat(dir_fd, tmp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		*ret_err = xasprintf("snapshots/%s: %s", tmp, strerror(-r));
		return r;
	}
	if (fchmod(fd, 0644) < 0 || write(fd, text, n) != (ssize_t) n || fsync(fd) < 0 ||
	    renameat(dir_fd, tmp, dir_fd, name) < 0) {
		r = errno ? -errno : -EIO;
		(void) unlinkat(dir_fd, tmp, 0);
		*ret_err = xasprintf("writing snapshots/%s: %s", name, strerror(-r));
		return r;
	}
	return 0;
}

int snapshot_name_link(int dir_fd, const char *content, const char *name, const char *record, char **ret_err)
{
	_cleanup_free_ char *side = xasprintf("%s.source", name), *tmp = tmp_name(name);
	struct stat a, b;
	int r;

	if (fstatat(dir_fd, content, &a, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(a.st_mode)) {
		r = errno ? -errno : -EINVAL;
		*ret_err = xasprintf("snapshots/%s: %s", content, strerror(-r));
		return r;
	}
	if (fstatat(dir_fd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(b.st_mode) && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino && file_is(dir_fd, side, record))
		return 0;

	r = write_record(dir_fd, side, record, ret_err);
	if (r < 0)
		return r;
	if (linkat(dir_fd, content, dir_fd, tmp, 0) < 0 || renameat(dir_fd, tmp, dir_fd, name) < 0) {
		r = -errno;
		(void) unlinkat(dir_fd, tmp, 0);
		*ret_err = xasprintf("naming snapshots/%s: %s", name, strerror(-r));
		return r;
	}
	if (fsync(dir_fd) < 0) {
		r = -errno;
		*ret_err = xasprintf("syncing snapshots/: %s", strerror(-r));
		return r;
	}
	return 1;
}
