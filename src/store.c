// SPDX-License-Identifier: GPL-2.0-or-later
#include "store.h"

#include "build-config.h"
#include "log.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

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

/* The type of the mount under FD from /proc/self/mountinfo ("fuse.glusterfs"),
 * or NULL. */
static char *mount_fstype(int fd)
{
	struct statx sx;
	char line[4096];
	char *t = NULL;
	FILE *f;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) < 0 || !(sx.stx_mask & STATX_MNT_ID))
		return NULL;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return NULL;
	while (!t && fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");
		char type[256];

		if (strtoull(line, NULL, 10) == sx.stx_mnt_id && sep && sscanf(sep + 3, "%255s", type) == 1)
			t = xstrdup(type);
	}
	fclose(f);
	return t;
}

/*
 * A store (or part of it) on a shared filesystem keeps zeolite's
 * guarantees only where its fcntl locks were shown to hold between
 * clients (docs/shared-stores.md): GlusterFS (tests/bats/gluster.bats).
 * On the other network and FUSE filesystems, a warning, once per
 * filesystem.
 */
static void check_shared_fs(int fd, const char *what, dev_t *seen, size_t *n_seen)
{
	static const struct {
		unsigned long type;
		const char *name;
	} untested[] = {
		{ 0x6969, "NFS" }, { 0x517B, "SMB" }, { 0xFF534D42, "CIFS" }, { 0xFE534D42, "SMB2" },
		{ 0x00C36400, "CephFS" }, { 0x5346414F, "AFS" }, { 0x6B414653, "kAFS" },
		{ 0x01021997, "9p" }, { 0x7461636F, "OCFS2" }, { 0x01161970, "GFS2" },
		{ 0x0BD00BD0, "Lustre" },
	};
	struct statfs sf;
	struct stat st;
	unsigned long type;
	const char *name = NULL;

	if (fstat(fd, &st) < 0 || fstatfs(fd, &sf) < 0)
		return;
	for (size_t i = 0; i < *n_seen; i++)
		if (seen[i] == st.st_dev)
			return;
	seen[(*n_seen)++] = st.st_dev;
	type = (unsigned long) sf.f_type;
#if TEST_HOOKS
	const char *fake = secure_getenv("ZEOLITE_TEST_FSTYPE");
	if (fake)
		type = strtoul(fake, NULL, 16);
#endif
	if (type == 0x65735546) {
		_cleanup_free_ char *t = mount_fstype(fd);

		if (t && strcmp(t, "fuse.glusterfs") == 0)
			return;
		log_warning("'%s' is on %s (FUSE): zeolite's locks were not shown to hold between the "
			    "clients of this filesystem; do not share it between hosts (docs/shared-stores.md)",
			    what, t ? t : "an unknown filesystem");
		return;
	}
	for (size_t i = 0; i < ELEMENTSOF(untested) && !name; i++)
		if (untested[i].type == type)
			name = untested[i].name;
	if (name)
		log_warning("'%s' is on %s: zeolite's locks were not shown to hold between the clients "
			    "of this filesystem; do not share it between hosts (docs/shared-stores.md)",
			    what, name);
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
	dev_t seen[ELEMENTSOF(layout) + 1];
	size_t n_seen = 0;
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

	check_shared_fs(s.fd, s.path, seen, &n_seen);
	for (size_t i = 0; i < ELEMENTSOF(layout); i++) {
		_cleanup_free_ char *what = xasprintf("%s/%s", s.path, layout[i].name);

		r = subdir_at(s.fd, layout[i].name, what, !readonly, ret_err);
		if (r == -ENOENT && readonly)
			continue; /* a part never made yet: empty */
		if (r < 0)
			goto fail;
		check_shared_fs(r, what, seen, &n_seen);
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
