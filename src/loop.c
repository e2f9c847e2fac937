// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * loop.c - see loop.h.  LOOP_CONFIGURE (Linux 5.8) attaches and sets the
 * flags in one call; before it, LOOP_SET_FD then LOOP_SET_STATUS64.  A
 * device another process takes between LOOP_CTL_GET_FREE and our attach
 * (EBUSY) sends us to the next free one.
 */
#include "loop.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef LOOP_CONFIGURE
#define LOOP_CONFIGURE 0x4C0A
#endif
#ifndef LOOP_MAJOR
#define LOOP_MAJOR 7
#endif

static int fail(const char *what, const char **ret_what)
{
	*ret_what = what;
	return errno > 0 ? -errno : -EIO;
}

int loop_attach_ro(int image_fd, int node_dir_fd, char name[static PATH_MAX], const char **ret_what)
{
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (ctl < 0)
		return fail("open /dev/loop-control", ret_what);

	for (int attempt = 0; attempt < 32; attempt++) {
		char tmp[32];
		int nr = ioctl(ctl, LOOP_CTL_GET_FREE);

		if (nr < 0)
			return fail("get a free loop device", ret_what);
		snprintf(name, PATH_MAX, "/dev/loop%d", nr);
		_cleanup_close_ int fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0 && errno == ENOENT && node_dir_fd >= 0) {
			snprintf(tmp, sizeof(tmp), ".loop%d", nr);
			if (mknodat(node_dir_fd, tmp, S_IFBLK | 0600, makedev(LOOP_MAJOR, nr)) < 0)
				return fail("create a loop device node", ret_what);
			fd = openat(node_dir_fd, tmp, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
			(void) unlinkat(node_dir_fd, tmp, 0);
			if (fd >= 0)
				snprintf(name, PATH_MAX, "/proc/self/fd/%d", fd);
		}
		if (fd < 0)
			return fail("open the loop device", ret_what);

		struct loop_config cfg = {
			.fd = (uint32_t) image_fd,
			.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR,
		};
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0)
			return TAKE_FD(fd);
		if (errno == EBUSY)     /* someone else took it first */
			continue;
		if (errno != EINVAL && errno != ENOTTY)
			return fail("configure the loop device", ret_what);

		/* Before Linux 5.8.  The device is read-only because both fds
		 * are O_RDONLY. */
		if (ioctl(fd, LOOP_SET_FD, image_fd) < 0) {
			if (errno == EBUSY)
				continue;
			return fail("attach the image to the loop device", ret_what);
		}
		struct loop_info64 info = { .lo_flags = LO_FLAGS_AUTOCLEAR };
		if (ioctl(fd, LOOP_SET_STATUS64, &info) < 0) {
			int r = fail("set autoclear on the loop device", ret_what);
			(void) ioctl(fd, LOOP_CLR_FD, 0);
			return r;
		}
		return TAKE_FD(fd);
	}
	errno = EBUSY;
	return fail("find a free loop device", ret_what);
}
