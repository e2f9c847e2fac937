// SPDX-License-Identifier: GPL-2.0-or-later
#include "lock.h"

#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

static int setlk(int fd, int cmd, off_t byte, short type)
{
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = byte,
		.l_len = 1,
	};
	return fcntl(fd, cmd, &fl) < 0 ? -errno : 0;
}

/*
 * The kernel has no timed lock wait.  A child process waits instead, on
 * the *same* open file description (inherited across fork), so the lock it
 * gets is ours; we wait for the child with a deadline (poll on a pidfd) and
 * kill it when the deadline passes.  Unlike interrupting our own
 * F_OFD_SETLKW with a timer signal, this needs no signal handler and works
 * under valgrind, which does not let signals interrupt that call.
 */
static int wait_with_child(int fd, off_t byte, short type, long timeout_ms)
{
	struct pollfd p;
	int status, r, done[2];
	pid_t pid;

	/* The child holds the write end of DONE; its exit closes it, which
	 * wakes our poll (POLLHUP).  (A pidfd would do, but valgrind 3.19
	 * does not know pidfd_open.) */
	if (pipe2(done, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(done[0]);
		close(done[1]);
		return r;
	}
	if (pid == 0) {
		close(done[0]);
		/* Die with our parent: an orphan must not take the lock. */
		(void) prctl(PR_SET_PDEATHSIG, SIGKILL);
		do
			r = setlk(fd, F_OFD_SETLKW, byte, type);
		while (r == -EINTR);
		_exit(r == 0 ? 0 : (-r & 0x7f));
	}
	close(done[1]);
	p = (struct pollfd) { .fd = done[0], .events = POLLIN };
	for (;;) {
		r = poll(&p, 1, (int) timeout_ms);
		if (r >= 0 || errno != EINTR)
			break;
	}
	close(done[0]);
	if (r == 0)
		(void) kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status) == 0 ? 0 : -WEXITSTATUS(status);
	/* Killed at the deadline.  It may have got the lock (ours: same open
	 * file description) just before; take it if it is free now. */
	r = setlk(fd, F_OFD_SETLK, byte, type);
	if (r == -EAGAIN || r == -EACCES)
		return -ETIMEDOUT;
	return r;
}

int lock_byte(int fd, off_t byte, short type, long timeout_ms)
{
	int r;

	r = setlk(fd, F_OFD_SETLK, byte, type);
	if (r == 0 || type == F_UNLCK)
		return r;
	if (r != -EAGAIN && r != -EACCES)
		return r;
	if (timeout_ms == 0)
		return -EAGAIN;
	if (timeout_ms < 0) {
		do
			r = setlk(fd, F_OFD_SETLKW, byte, type);
		while (r == -EINTR);
		return r;
	}
	if (timeout_ms > INT_MAX)
		timeout_ms = INT_MAX;
	return wait_with_child(fd, byte, type, timeout_ms);
}

int lock_byte_test(int fd, off_t byte, short type)
{
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = byte,
		.l_len = 1,
	};

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	return fl.l_type != F_UNLCK;
}

/* ---- owner records ---------------------------------------------------- */

#define RECORD_SIZE 1024

static void copy_field(char *dst, size_t n, const char *src)
{
	size_t i = 0;

	/* Keep records one line per field: no newlines or control chars. */
	for (; src && src[i] && i + 1 < n; i++)
		dst[i] = (unsigned char) src[i] < 0x20 ? ' ' : src[i];
	dst[i] = '\0';
}

void lock_owner_self(LockOwner *o, const char *state, const char *entry)
{
	char cmd[256] = "";
	_cleanup_close_ int fd = -EBADF;

	*o = (LockOwner) { .pid = getpid(), .since = (int64_t) time(NULL) };
	if (gethostname(o->host, sizeof(o->host) - 1) < 0)
		copy_field(o->host, sizeof(o->host), "?");
	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, cmd, sizeof(cmd) - 1);
		if (n > 0) {
			for (ssize_t i = 0; i < n - 1; i++)
				if (cmd[i] == '\0')
					cmd[i] = ' ';
			cmd[n] = '\0';
		}
	}
	copy_field(o->command, sizeof(o->command), cmd[0] ? cmd : "zeolite");
	copy_field(o->state, sizeof(o->state), state);
	copy_field(o->entry, sizeof(o->entry), entry);
}

int lock_owner_write(int fd, const LockOwner *o)
{
	char rec[RECORD_SIZE];
	int n;

	memset(rec, ' ', sizeof(rec));
	n = snprintf(rec, sizeof(rec),
		     "pid=%d\nhost=%s\ncommand=%s\nsince=%" PRId64 "\nstate=%s\nprogress=%s\nentry=%s\n",
		     (int) o->pid, o->host, o->command, o->since, o->state, o->progress, o->entry);
	if (n < 0 || n >= (int) sizeof(rec))
		return -EOVERFLOW;
	rec[n] = ' ';
	rec[sizeof(rec) - 1] = '\n';
	if (pwrite(fd, rec, sizeof(rec), 0) != (ssize_t) sizeof(rec))
		return errno ? -errno : -EIO;
	return 0;
}

int lock_owner_read(int fd, LockOwner *ret)
{
	char rec[RECORD_SIZE + 1];
	ssize_t n = pread(fd, rec, RECORD_SIZE, 0);
	LockOwner o = { 0 };

	if (n < 0)
		return -errno;
	if (n == 0)
		return -ENODATA;
	rec[n] = '\0';
	for (char *line = rec, *next; line && *line; line = next) {
		char *eq;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq++ = '\0';
		if (strcmp(line, "pid") == 0)
			o.pid = (pid_t) strtol(eq, NULL, 10);
		else if (strcmp(line, "host") == 0)
			copy_field(o.host, sizeof(o.host), eq);
		else if (strcmp(line, "command") == 0)
			copy_field(o.command, sizeof(o.command), eq);
		else if (strcmp(line, "since") == 0)
			o.since = strtoll(eq, NULL, 10);
		else if (strcmp(line, "state") == 0)
			copy_field(o.state, sizeof(o.state), eq);
		else if (strcmp(line, "progress") == 0)
			copy_field(o.progress, sizeof(o.progress), eq);
		else if (strcmp(line, "entry") == 0)
			copy_field(o.entry, sizeof(o.entry), eq);
	}
	if (o.pid == 0)
		return -ENODATA;
	*ret = o;
	return 0;
}

char *lock_owner_describe(const LockOwner *o)
{
	char when[64] = "?";
	time_t t = (time_t) o->since;
	struct tm tm;

	if (localtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	return xasprintf("pid %d on %s (%s, since %s%s%s)", (int) o->pid, o->host, o->command, when,
			 o->progress[0] ? ", " : "", o->progress);
}

/* ---- registrations ---------------------------------------------------- */

int lock_register(int dir_fd, const char *prefix, const LockOwner *o, LockRegistration *ret)
{
	_cleanup_close_ int fd = -EBADF;
	char path[64];
	uint64_t rnd;
	int r;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint64_t) now_ms() ^ (uint64_t) getpid() << 32;
	_cleanup_free_ char *name = xasprintf("%s.%d.%016" PRIx64, prefix, (int) getpid(), rnd);
	_cleanup_free_ char *tmp = NULL;

	fd = openat(dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
	if (fd < 0 && errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;
	if (fd < 0) {
		/* No O_TMPFILE (FUSE, e.g. GlusterFS): a dot file no lister
		 * matches, locked and filled, then renamed into place; a
		 * crash leaves a ".tmp." file nobody reads. */
		tmp = xasprintf(".tmp.%s", name);
		fd = openat(dir_fd, tmp, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0)
			return -errno;
	}
	r = lock_byte(fd, 0, F_WRLCK, 0);
	if (r == 0)
		r = lock_owner_write(fd, o);
	if (r == 0 && tmp && renameat(dir_fd, tmp, dir_fd, name) < 0)
		r = -errno;
	if (r < 0) {
		if (tmp)
			(void) unlinkat(dir_fd, tmp, 0);
		return r;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (!tmp && linkat(AT_FDCWD, path, dir_fd, name, AT_SYMLINK_FOLLOW) < 0)
		return -errno;
	*ret = (LockRegistration) { .fd = TAKE_FD(fd), .dir_fd = dir_fd, .name = TAKE_PTR(name) };
	return 0;
}

int lock_registration_update(LockRegistration *r, const LockOwner *o)
{
	if (r->fd < 0)
		return -EBADF;
	return lock_owner_write(r->fd, o);
}

void lock_unregister(LockRegistration *r)
{
	if (r->name && r->dir_fd >= 0)
		(void) unlinkat(r->dir_fd, r->name, 0);
	free(r->name);
	r->name = NULL;
	closep(&r->fd);
	r->fd = -EBADF;
}

int lock_registrations_list(int dir_fd, const char *prefix, LockRegistrationFn fn, void *userdata)
{
	_cleanup_close_ int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t plen = prefix ? strlen(prefix) : 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d)
		return -errno;
	fd = -EBADF;
	while ((de = readdir(d))) {
		_cleanup_close_ int rfd = -EBADF;
		LockOwner o;
		struct stat rst;
		int held;

		if (de->d_name[0] == '.')
			continue;
		if (prefix && strncmp(de->d_name, prefix, plen) != 0)
			continue;
		/* O_NONBLOCK: a FIFO planted here must not block the listing. */
		rfd = openat(dir_fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (rfd < 0 || fstat(rfd, &rst) < 0 || !S_ISREG(rst.st_mode))
			continue;
		held = lock_byte_test(rfd, 0, F_RDLCK);
		if (lock_owner_read(rfd, &o) < 0)
			continue;
		fn(userdata, de->d_name, &o, held > 0);
	}
	closedir(d);
	return 0;
}

static void prune_one(void *userdata, const char *name, const LockOwner *o, bool alive)
{
	int *state = userdata; /* [0] dir fd, [1] count */

	(void) o;
	if (!alive && unlinkat(state[0], name, 0) == 0)
		state[1]++;
}

int lock_registrations_prune(int dir_fd)
{
	int state[2] = { dir_fd, 0 };
	int r = lock_registrations_list(dir_fd, NULL, prune_one, state);

	return r < 0 ? r : state[1];
}
