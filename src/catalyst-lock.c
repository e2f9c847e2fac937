// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * catalyst-lock.c - the lock files zeolite shares with catalyst (see
 * catalyst-lock.h).
 */
#include "catalyst-lock.h"
#include "lock.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* The command line of PID, NULs made spaces, at most N-1 bytes. */
static void pid_cmdline(pid_t pid, char *buf, size_t n)
{
	char path[64];
	ssize_t k;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int) pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	k = read(fd, buf, n - 1);
	close(fd);
	if (k <= 0)
		return;
	while (k > 0 && buf[k - 1] == '\0')
		k--;
	buf[k] = '\0';
	for (ssize_t i = 0; i < k; i++)
		if (buf[i] == '\0' || buf[i] == '\n')
			buf[i] = ' ';
}

char *catalyst_lock_holder(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	LockOwner o;

	if (fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK && fl.l_pid > 0) {
		/* A POSIX record lock: the kernel names its process. */
		char cmd[256];
		pid_cmdline(fl.l_pid, cmd, sizeof(cmd));
		return *cmd ? xasprintf("pid %d (%s)", (int) fl.l_pid, cmd) : xasprintf("pid %d", (int) fl.l_pid);
	}
	if (lock_owner_read(fd, &o) == 0)
		return lock_owner_describe(&o);
	return xstrdup("another process");
}

int catalyst_lock_take(int dir_fd, const char *name, long timeout_ms, const char *state, const char *entry,
		       int *ret_fd, char **ret_holder)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat s;
	LockOwner o;
	int r;

	fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0)
		return errno == ELOOP ? -EINVAL : -errno;
	if (fstat(fd, &s) < 0)
		return -errno;
	if (!S_ISREG(s.st_mode))
		return -EINVAL;
	r = lock_byte(fd, 0, F_WRLCK, timeout_ms);
	if (r == -ETIMEDOUT || r == -EAGAIN) {
		if (ret_holder)
			*ret_holder = catalyst_lock_holder(fd);
		return r;
	}
	if (r < 0)
		return r;
	lock_owner_self(&o, state, entry);
	(void) lock_owner_write(fd, &o);
	*ret_fd = TAKE_FD(fd);
	return 0;
}
