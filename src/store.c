// SPDX-License-Identifier: GPL-2.0-or-later
#include "store.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

static uid_t euid(void)
{
	static uid_t cached = (uid_t) -1;

	if (cached == (uid_t) -1)
		cached = geteuid();
	return cached;
}

/* Read-only opens also accept a store owned by root (root's store, read
 * by a user running `zeolite status`). */
static bool readonly_open;

int store_check_fd(int fd, const char *what, char **ret_why)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode)) {
		*ret_why = xasprintf("'%s' is a symlink", what);
		return -EPERM;
	}
	if (!S_ISDIR(st.st_mode)) {
		*ret_why = xasprintf("'%s' is not a directory", what);
		return -EPERM;
	}
	if (st.st_uid != euid() && !(readonly_open && st.st_uid == 0)) {
		*ret_why = xasprintf("'%s' is owned by uid %u, not by uid %u who runs zeolite",
				     what, (unsigned) st.st_uid, (unsigned) euid());
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		*ret_why = xasprintf("'%s' is writable by group or others (mode %04o)", what,
				     (unsigned) (st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* Open NAME under DIR_FD as a directory without following a symlink; tell
 * a symlink apart so the message can say so. */
static int open_dir_nofollow(int dir_fd, const char *name)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		struct stat st;

		if ((r == -ELOOP || r == -ENOTDIR) && fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			return -ELOOP;
		return r;
	}
	return fd;
}

static int subdir_at(int dir_fd, const char *name, const char *what, bool create, char **ret_why)
{
	_cleanup_close_ int fd = -EBADF;
	int r;

	/* Open first: on every run but the first, everything exists. */
	fd = open_dir_nofollow(dir_fd, name);
	if (fd == -ENOENT && create) {
		if (mkdirat(dir_fd, name, 0755) < 0 && errno != EEXIST)
			return -errno;
		fd = open_dir_nofollow(dir_fd, name);
	}
	if (fd == -ELOOP) {
		*ret_why = xasprintf("'%s' is a symlink", what);
		return -EPERM;
	}
	if (fd == -ENOTDIR) {
		*ret_why = xasprintf("'%s' is not a directory", what);
		return -EPERM;
	}
	if (fd < 0)
		return fd;
	r = store_check_fd(fd, what, ret_why);
	if (r < 0)
		return r;
	return TAKE_FD(fd);
}

int store_subdir_at(int dir_fd, const char *name, bool create)
{
	_cleanup_free_ char *why = NULL;
	return subdir_at(dir_fd, name, name, create, &why);
}

/* mkdir -p of the parents of PATH (not PATH itself), mode 0755. */
static int mkdir_parents(const char *path)
{
	_cleanup_free_ char *p = xstrdup(path);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return 0;
}

static int store_open_internal(const char *path, bool readonly, Store *ret, char **ret_err)
{
	static const struct {
		const char *name;
		size_t off; /* offset of the fd in Store, or 0 for "none" */
	} layout[] = {
		{ "snapshots", offsetof(Store, snapshots_fd) },
		{ "cache", offsetof(Store, cache_fd) },
		{ "builds", offsetof(Store, builds_fd) },
		{ "tmp", offsetof(Store, tmp_fd) },
		{ "locks", offsetof(Store, locks_fd) },
		{ "packages", 0 },
		{ "kerncache", 0 },
	};
	Store s = STORE_INIT;
	_cleanup_free_ char *trimmed = xstrdup(path);
	size_t len = strlen(trimmed);
	int r;

	*ret_err = NULL;
	while (len > 1 && trimmed[len - 1] == '/')
		trimmed[--len] = '\0';
	if (len == 0) {
		*ret_err = xstrdup("storedir is empty");
		return -EINVAL;
	}

	s.path = TAKE_PTR(trimmed);
	r = subdir_at(AT_FDCWD, s.path, s.path, false, ret_err);
	if (r == -ENOENT && readonly) {
		*ret_err = xasprintf("'%s' does not exist", s.path);
		goto fail;
	}
	if (r == -ENOENT) {
		/* First use: create the parents, as catalyst does. */
		r = mkdir_parents(s.path);
		if (r < 0) {
			*ret_err = xasprintf("cannot create the parents of '%s': %s", s.path, strerror(-r));
			goto fail;
		}
		r = subdir_at(AT_FDCWD, s.path, s.path, true, ret_err);
	}
	if (r < 0)
		goto fail;
	s.fd = r;

	for (size_t i = 0; i < ELEMENTSOF(layout); i++) {
		_cleanup_free_ char *what = xasprintf("%s/%s", s.path, layout[i].name);

		r = subdir_at(s.fd, layout[i].name, what, !readonly, ret_err);
		if (r == -ENOENT && readonly)
			continue; /* a part never made yet: empty */
		if (r < 0)
			goto fail;
		if (layout[i].off)
			*(int *) ((char *) &s + layout[i].off) = r;
		else
			close(r);
	}

	static const char *cache_kinds[] = { "snapshots", "seeds", "images" };
	for (size_t i = 0; i < ELEMENTSOF(cache_kinds); i++) {
		_cleanup_free_ char *what = xasprintf("%s/cache/%s", s.path, cache_kinds[i]);

		if (s.cache_fd < 0)
			break;
		r = subdir_at(s.cache_fd, cache_kinds[i], what, !readonly, ret_err);
		if (r == -ENOENT && readonly)
			continue;
		if (r < 0)
			goto fail;
		if (i == 0)
			s.cache_snapshots_fd = r;
		else if (i == 1)
			s.cache_seeds_fd = r;
		else
			s.cache_images_fd = r;
	}

	*ret = s;
	return 0;
fail:
	if (r != -EPERM && !*ret_err)
		*ret_err = xasprintf("cannot open the store '%s': %s", s.path, strerror(-r));
	store_close(&s);
	return r;
}

int store_open(const char *path, Store *ret, char **ret_err)
{
	readonly_open = false;
	return store_open_internal(path, false, ret, ret_err);
}

int store_open_readonly(const char *path, Store *ret, char **ret_err)
{
	int r;

	readonly_open = true;
	r = store_open_internal(path, true, ret, ret_err);
	readonly_open = false;
	return r;
}

void store_close(Store *s)
{
	int *fds[] = { &s->fd, &s->snapshots_fd, &s->cache_fd, &s->cache_snapshots_fd,
		       &s->cache_seeds_fd, &s->cache_images_fd, &s->builds_fd, &s->tmp_fd, &s->locks_fd };

	for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
		closep(fds[i]);
		*fds[i] = -EBADF;
	}
	free(s->path);
	s->path = NULL;
}
