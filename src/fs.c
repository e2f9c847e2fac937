// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fs.c - file system helpers with no library dependencies: removing a
 * tree without following symlinks or crossing mount points.
 */
#include "fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

/* ---- removal ---- */

static int mount_id(int fd, uint64_t *ret)
{
	struct statx sx;

	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) < 0)
		return -errno;
	if (sx.stx_mask & STATX_MNT_ID)
		*ret = sx.stx_mnt_id;
	else /* old kernel: the device is the next best thing */
		*ret = ((uint64_t)sx.stx_dev_major << 32 | sx.stx_dev_minor) | (UINT64_C(1) << 63);
	return 0;
}

/* Open directory NAME in DFD for removal, making it accessible if needed. */
static int open_for_removal(int dfd, const char *name)
{
	int fd;

	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == EACCES) {
		if (fchmodat(dfd, name, 0700, 0) < 0)
			return -EACCES;
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	}
	return fd < 0 ? -errno : fd;
}

/* Remove everything inside the open directory FD (consumed). */
static int rm_children(int fd, uint64_t mnt, unsigned depth)
{
	DIR *d;
	struct dirent *de;
	bool chmodded = false;
	int r = 0;

	if (depth > 4096) {
		close(fd);
		return -ELOOP;
	}
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	for (;;) {
		const char *nm;
		int q = 0;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno != 0 && r == 0)
				r = -errno;
			break;
		}
		nm = de->d_name;
		if (nm[0] == '.' && (nm[1] == '\0' || (nm[1] == '.' && nm[2] == '\0')))
			continue;

		if (de->d_type != DT_DIR) {
			if (unlinkat(dirfd(d), nm, 0) == 0)
				continue;
			q = -errno;
			if (q == -EACCES && !chmodded) {
				chmodded = true;
				if (fchmod(dirfd(d), 0700) == 0 && unlinkat(dirfd(d), nm, 0) == 0)
					continue;
				q = -errno;
			}
			if (q != -EISDIR && q != -EPERM) {
				if (q != -ENOENT && r == 0)
					r = q;
				continue;
			}
		}

		/* A directory (or unknown type that turned out to be one). */
		{
			uint64_t sub;
			int cfd = open_for_removal(dirfd(d), nm);

			if (cfd == -EACCES && !chmodded) {
				chmodded = true;
				(void)fchmod(dirfd(d), 0700);
				cfd = open_for_removal(dirfd(d), nm);
			}
			if (cfd < 0) {
				if (cfd != -ENOENT && r == 0)
					r = q ? q : cfd;
				continue;
			}
			q = mount_id(cfd, &sub);
			if (q == 0 && sub != mnt)
				q = -EBUSY; /* a mount point: never cross it */
			if (q < 0) {
				close(cfd);
				if (r == 0)
					r = q;
				continue;
			}
			q = rm_children(cfd, mnt, depth + 1);
			if (q < 0 && r == 0)
				r = q;
			if (unlinkat(dirfd(d), nm, AT_REMOVEDIR) < 0) {
				q = -errno;
				if (q == -EACCES && !chmodded) {
					chmodded = true;
					if (fchmod(dirfd(d), 0700) == 0 &&
					    unlinkat(dirfd(d), nm, AT_REMOVEDIR) == 0)
						continue;
					q = -errno;
				}
				if (q != -ENOENT && r == 0)
					r = q;
			}
		}
	}
	closedir(d);
	return r;
}

int rm_rf_at(int dir_fd, const char *name)
{
	_cleanup_close_ int fd = -EBADF;
	uint64_t parent_mnt, mnt;
	int r;

	if (!name || !*name || strchr(name, '/') || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return -EINVAL;
	fd = open_for_removal(dir_fd, name);
	if (fd == -ENOENT)
		return 0;
	if (fd == -ENOTDIR || fd == -ELOOP)
		return unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	if (fd < 0)
		return fd;
	r = mount_id(fd, &mnt);
	if (r < 0)
		return r;
	r = mount_id(dir_fd, &parent_mnt);
	if (r < 0)
		return r;
	if (mnt != parent_mnt)
		return -EBUSY;
	r = rm_children(TAKE_FD(fd), mnt, 0);
	if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

int open_unlinked(int dir_fd)
{
	int fd = openat(dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd >= 0 ? fd : -errno;
	for (unsigned i = 0; i < 100; i++) {
		_cleanup_free_ char *name = xasprintf(".tmp.work.%d.%u.%u", (int) getpid(), i,
						      (unsigned) (now_ms() & 0xFFFFFFFFu));

		fd = openat(dir_fd, name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return -errno;
		if (unlinkat(dir_fd, name, 0) < 0) {
			int r = -errno;
			close(fd);
			return r;
		}
		return fd;
	}
	return -EEXIST;
}
