// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * image-mount.c - see image-mount.h.
 */
#include "image-mount.h"

#include "loop.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static bool ns_private;

int mount_ns_private(char **ret_err)
{
	int r;

	if (ns_private)
		return 0;
	if (unshare(CLONE_NEWNS) < 0) {
		r = -errno;
		*ret_err = xasprintf("cannot make a private mount namespace: unshare: %s", strerror(-r));
		return r;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		r = -errno;
		*ret_err = xasprintf("cannot make a private mount namespace: make / private: %s", strerror(-r));
		return r;
	}
	ns_private = true;
	return 0;
}

int image_mount(const char *image, const char *target, bool snapshot, char **ret_err)
{
	_cleanup_close_ int image_fd = -EBADF, loop_fd = -EBADF;
	char name[PATH_MAX];
	const char *what = "";
	unsigned long flags = MS_RDONLY | (snapshot ? MS_NOSUID | MS_NODEV : 0);
	int r;

	if (mkdir(target, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		*ret_err = xasprintf("create mount point %s: %s", target, strerror(-r));
		return r;
	}
	image_fd = open(image, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (image_fd < 0) {
		r = -errno;
		*ret_err = xasprintf("loop-mount %s: open: %s", image, strerror(-r));
		return r;
	}
	/* The loop fd stays open until the mount holds the device. */
	loop_fd = loop_attach_ro(image_fd, -1, name, &what);
	if (loop_fd < 0) {
		*ret_err = xasprintf("loop-mount %s: %s: %s", image, what, strerror(-loop_fd));
		return loop_fd;
	}
	if (mount(name, target, "squashfs", flags, NULL) < 0) {
		r = -errno;
		*ret_err = xasprintf("loop-mount %s on %s: %s", image, target, strerror(-r));
		return r;
	}
	return 0;
}

void image_umount(const char *target)
{
	if (target)
		(void) umount2(target, MNT_DETACH);
}

char *image_repo_root(const char *mnt)
{
	DIR *d = opendir(mnt);
	struct dirent *de;
	char *only = NULL;
	int n = 0;

	if (!d)
		return xstrdup(mnt);
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (++n > 1)
			break;
		if (de->d_type == DT_DIR)
			only = xasprintf("%s/%s", mnt, de->d_name);
	}
	closedir(d);
	if (n == 1 && only)
		return only;
	free(only);
	return xstrdup(mnt);
}
