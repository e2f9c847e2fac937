// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sandbox.c - run a command in a build root (see sandbox.h).
 *
 * Process layout.  zeolite clone()s one child with new mount, PID, UTS and
 * IPC namespaces, so the child is PID 1 of its PID namespace and zeolite's
 * own waitpid() sees the command's exact wait status (no intermediate
 * process has to forward a death by signal).  The child builds the root,
 * pivots into it and execs the command, which stays PID 1.  When PID 1
 * exits, the kernel kills every other process of the namespace; when the
 * last of them is gone the mount namespace, every mount in it and (through
 * LO_FLAGS_AUTOCLEAR) the loop device go away.  Nothing is unmounted by
 * hand and /proc is never scanned.
 *
 * Death of zeolite.  The child asks for SIGKILL when its parent dies
 * (PR_SET_PDEATHSIG).  The usual getppid() check after the prctl cannot
 * close the race here, because PID 1 of a new namespace always sees a
 * parent pid of 0; the child polls the write end of its error pipe
 * instead: POLLERR there means the read end, held by zeolite until the
 * exec, is closed, i.e. zeolite is already gone.  PDEATHSIG follows the
 * parent *thread*: call sandbox_run() from a thread that outlives it.
 *
 * Errors.  Any failure in the child is written as one record (errno and a
 * one-line description of the step) to an O_CLOEXEC pipe; a successful
 * execve() closes the pipe empty.  The child never prints and never
 * allocates.
 *
 * Hostile roots.  The merged root comes from a seed tarball, so any path
 * in it may be a planted symlink.  Every mount point inside the root is
 * opened with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) relative to
 * the root and the mount goes onto /proc/self/fd/N: a symlink can move a
 * mount elsewhere inside the root, never outside it.  Missing directories
 * are created one component at a time with mkdirat() relative to the
 * parent resolved that way.
 */
#include "sandbox.h"

#include "loop.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define FD_PATH_MAX 32          /* "/proc/self/fd/" + an int */
#define ERR_MSG_MAX 1024        /* one error record; < PIPE_BUF, so atomic */

/* The error record the child writes before it gives up. */
typedef struct ErrRecord {
	int err;
	char msg[ERR_MSG_MAX];
} ErrRecord;

/* State of the child while it builds the root. */
typedef struct Child {
	const SandboxConfig *c;
	int err_fd;
	int root_fd;
} Child;

static void fd_path(char buf[static FD_PATH_MAX], int fd)
{
	snprintf(buf, FD_PATH_MAX, "/proc/self/fd/%d", fd);
}

_noreturn_ _printf_(3, 4)
static void child_fail(const Child *k, int err, const char *fmt, ...)
{
	ErrRecord rec = { .err = err > 0 ? err : EIO };
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(rec.msg, sizeof(rec.msg), fmt, ap);
	va_end(ap);
	n = offsetof(ErrRecord, msg) + strlen(rec.msg) + 1;
	(void) write_all(k->err_fd, &rec, n);
	_exit(127);
}

/* openat2() relative to ROOT_FD, scoped to it; returns an fd or -errno. */
static int open_in_root(int root_fd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t) (flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	/* openat2() refuses O_PATH with anything but O_DIRECTORY,
	 * O_NOFOLLOW and O_CLOEXEC. */
	if (!(flags & O_PATH))
		how.flags |= O_NOCTTY;

	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	/* EAGAIN: a concurrent rename raced with a ".." walk; nothing in the
	 * root runs yet, but retry a few times anyway. */
	for (int i = 0; i < 8; i++) {
		fd = (int) syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
		if (fd >= 0)
			return fd;
		if (errno != EAGAIN && errno != EINTR)
			break;
	}
	return -errno;
}

/*
 * Open directory PATH inside the root as O_PATH, creating missing
 * components (mode 0755) one at a time relative to their resolved parent.
 * Returns an fd or -errno.
 */
static int mkdir_in_root(int root_fd, const char *path)
{
	char buf[PATH_MAX];
	int parent_fd = -EBADF, fd = -EBADF;
	size_t len;
	char *p;

	while (*path == '/')
		path++;
	len = strlen(path);
	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	while (len > 0 && buf[len - 1] == '/')
		buf[--len] = '\0';
	if (len == 0)
		return open_in_root(root_fd, ".", O_PATH | O_DIRECTORY);

	p = buf;
	for (;;) {
		char *slash = strchr(p, '/');
		const char *name = p;
		bool last = !slash;

		if (slash)
			*slash = '\0';
		if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
			fd = -EINVAL;
			goto out;
		}
		fd = open_in_root(root_fd, buf, O_PATH | O_DIRECTORY);
		if (fd == -ENOENT) {
			if (mkdirat(parent_fd >= 0 ? parent_fd : root_fd, name, 0755) < 0 &&
			    errno != EEXIST) {
				fd = -errno;
				goto out;
			}
			fd = open_in_root(root_fd, buf, O_PATH | O_DIRECTORY);
		}
		if (fd < 0 || last)
			goto out;
		*slash = '/';
		p = slash + 1;
		if (parent_fd >= 0)
			close(parent_fd);
		parent_fd = fd;
		fd = -EBADF;
	}
out:
	if (parent_fd >= 0)
		close(parent_fd);
	return fd;
}

/* Like mkdir_in_root() for a non-directory mount point: the parent is
 * created as a directory, PATH itself as an empty regular file. */
static int mkfile_in_root(int root_fd, const char *path)
{
	char dir[PATH_MAX];
	const char *slash, *name;
	int fd;

	while (*path == '/')
		path++;
	if (strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	slash = strrchr(path, '/');
	name = slash ? slash + 1 : path;
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int) (slash - path) : 0, path);

	_cleanup_close_ int dir_fd = mkdir_in_root(root_fd, dir);
	if (dir_fd < 0)
		return dir_fd;
	fd = open_in_root(root_fd, path, O_PATH);
	if (fd != -ENOENT)
		return fd;
	if (mknodat(dir_fd, name, S_IFREG | 0644, 0) < 0 && errno != EEXIST)
		return -errno;
	return open_in_root(root_fd, path, O_PATH);
}

/* The MS_* flags a mount has now, so that a remount keeps them (a locked
 * flag cannot be cleared, and atime flags would otherwise be reset). */
static unsigned long mount_flags_of(int fd)
{
	static const struct { unsigned long st, ms; } map[] = {
		{ ST_RDONLY, MS_RDONLY },
		{ ST_NOSUID, MS_NOSUID },
		{ ST_NODEV, MS_NODEV },
		{ ST_NOEXEC, MS_NOEXEC },
		{ ST_NOATIME, MS_NOATIME },
		{ ST_NODIRATIME, MS_NODIRATIME },
		{ ST_RELATIME, MS_RELATIME },
	};
	unsigned long flags = 0;
	struct statvfs sv;

	if (fstatvfs(fd, &sv) < 0)
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(map); i++)
		if (sv.f_flag & map[i].st)
			flags |= map[i].ms;
	return flags;
}

/*
 * Bind SOURCE (a host path) onto TARGET inside the root, then remount it
 * with FLAGS added to what it has.  A bind ignores flags such as
 * MS_RDONLY; only the remount applies them, and it must name the new
 * mount's root, so the target is opened again after the bind.
 */
static void bind_in_root(const Child *k, const char *source, const char *target,
			 unsigned long flags, bool recursive)
{
	const char *root = k->c->root;
	char fdp[FD_PATH_MAX];
	struct stat st;
	int fd;

	if (stat(source, &st) < 0)
		child_fail(k, errno, "bind %s: stat source", source);
	fd = S_ISDIR(st.st_mode) ? mkdir_in_root(k->root_fd, target)
				 : mkfile_in_root(k->root_fd, target);
	if (fd < 0)
		child_fail(k, -fd, "create mount point %s%s", root, target);
	fd_path(fdp, fd);
	if (mount(source, fdp, NULL, MS_BIND | (recursive ? MS_REC : 0), NULL) < 0)
		child_fail(k, errno, "bind %s on %s%s", source, root, target);
	close(fd);
	if (flags == 0)
		return;

	fd = open_in_root(k->root_fd, target, O_PATH);
	if (fd < 0)
		child_fail(k, -fd, "reopen %s%s", root, target);
	fd_path(fdp, fd);
	if (mount(NULL, fdp, NULL, MS_BIND | MS_REMOUNT | mount_flags_of(fd) | flags, NULL) < 0)
		child_fail(k, errno, "remount %s%s", root, target);
	close(fd);
}

/* Mount a pseudo file system of type TYPE on directory TARGET in the root. */
static void mount_in_root(const Child *k, const char *type, const char *target,
			  unsigned long flags, const char *options)
{
	char fdp[FD_PATH_MAX];
	int fd = mkdir_in_root(k->root_fd, target);

	if (fd < 0)
		child_fail(k, -fd, "create mount point %s%s", k->c->root, target);
	fd_path(fdp, fd);
	if (mount(type, fdp, type, flags, options) < 0)
		child_fail(k, errno, "mount %s on %s%s", type, k->c->root, target);
	close(fd);
}

static void setup_dev(const Child *k)
{
	static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
	static const struct { const char *target, *name; } links[] = {
		{ "pts/ptmx", "ptmx" },
		{ "/proc/self/fd", "fd" },
		{ "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" },
		{ "/proc/self/fd/2", "stderr" },
	};
	const char *root = k->c->root;
	char fdp[FD_PATH_MAX];

	mount_in_root(k, "tmpfs", "/dev", MS_NOSUID | MS_NOEXEC, "mode=0755");
	/* From here on /dev is our own empty tmpfs: plain *at() calls are safe. */
	_cleanup_close_ int dev_fd = open_in_root(k->root_fd, "/dev", O_PATH | O_DIRECTORY);
	if (dev_fd < 0)
		child_fail(k, -dev_fd, "open %s/dev", root);

	for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
		char source[32];

		snprintf(source, sizeof(source), "/dev/%s", nodes[i]);
		if (mknodat(dev_fd, nodes[i], S_IFREG | 0644, 0) < 0)
			child_fail(k, errno, "create %s/dev/%s", root, nodes[i]);
		_cleanup_close_ int fd = openat(dev_fd, nodes[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			child_fail(k, errno, "open %s/dev/%s", root, nodes[i]);
		fd_path(fdp, fd);
		if (mount(source, fdp, NULL, MS_BIND, NULL) < 0)
			child_fail(k, errno, "bind %s on %s/dev/%s", source, root, nodes[i]);
	}

	if (mkdirat(dev_fd, "pts", 0755) < 0 || mkdirat(dev_fd, "shm", 01777) < 0)
		child_fail(k, errno, "create directories in %s/dev", root);
	mount_in_root(k, "devpts", "/dev/pts", MS_NOSUID | MS_NOEXEC,
		      "newinstance,ptmxmode=0666,mode=0620,gid=5");
	mount_in_root(k, "tmpfs", "/dev/shm", MS_NOSUID | MS_NODEV, "mode=1777");
	for (size_t i = 0; i < ELEMENTSOF(links); i++)
		if (symlinkat(links[i].target, dev_fd, links[i].name) < 0)
			child_fail(k, errno, "symlink %s/dev/%s", root, links[i].name);
}

/* loop_attach_ro() for the snapshot image; DEV_FD is our private /dev in
 * the root, for a device node if the host's /dev has none.  Exits the
 * child on failure. */
static int loop_attach(const Child *k, int image_fd, int dev_fd, char name[static PATH_MAX])
{
	const char *what = "";
	int fd = loop_attach_ro(image_fd, dev_fd, name, &what);

	if (fd < 0)
		child_fail(k, -fd, "loop-mount %s: %s", k->c->snapshot_image, what);
	return fd;
}

static void setup_snapshot(const Child *k)
{
	const SandboxConfig *c = k->c;

	if (c->snapshot_tree) {
		bind_in_root(k, c->snapshot_tree, c->repo_target,
			     MS_RDONLY | MS_NOSUID | MS_NODEV, true);
		return;
	}
	if (!c->snapshot_image)
		return;

	char name[PATH_MAX], fdp[FD_PATH_MAX];
	_cleanup_close_ int image_fd = open(c->snapshot_image, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (image_fd < 0)
		child_fail(k, errno, "loop-mount %s: open", c->snapshot_image);
	_cleanup_close_ int dev_fd = open_in_root(k->root_fd, "/dev", O_PATH | O_DIRECTORY);
	if (dev_fd < 0)
		child_fail(k, -dev_fd, "open %s/dev", c->root);
	/* Keep the loop fd open until the mount holds the device: autoclear
	 * fires on the last close. */
	_cleanup_close_ int loop_fd = loop_attach(k, image_fd, dev_fd, name);
	_cleanup_close_ int fd = mkdir_in_root(k->root_fd, c->repo_target);
	if (fd < 0)
		child_fail(k, -fd, "create mount point %s%s", c->root, c->repo_target);
	fd_path(fdp, fd);
	if (mount(name, fdp, "squashfs", MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
		child_fail(k, errno, "loop-mount %s on %s%s", c->snapshot_image, c->root,
			   c->repo_target);
}

static void setup_overlay(Child *k)
{
	const SandboxConfig *c = k->c;
	const struct { const char *path, *what; } dirs[] = {
		{ c->upper, "upper dir" },
		{ c->overlay_work, "overlay work dir" },
		{ c->root, "root" },
	};
	char options[3 * FD_PATH_MAX + 64];

	for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
		if (mkdir(dirs[i].path, 0755) < 0 && errno != EEXIST)
			child_fail(k, errno, "create %s %s", dirs[i].what, dirs[i].path);

	/* By fd, so that no path needs escaping (',' and ':' are separators). */
	_cleanup_close_ int lower = open(c->lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (lower < 0)
		child_fail(k, errno, "open overlay lower dir %s", c->lower);
	_cleanup_close_ int upper = open(c->upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (upper < 0)
		child_fail(k, errno, "open overlay upper dir %s", c->upper);
	_cleanup_close_ int work = open(c->overlay_work, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (work < 0)
		child_fail(k, errno, "open overlay work dir %s", c->overlay_work);
	snprintf(options, sizeof(options),
		 "lowerdir=/proc/self/fd/%d,upperdir=/proc/self/fd/%d,workdir=/proc/self/fd/%d",
		 lower, upper, work);
	if (mount("overlay", c->root, "overlay", 0, options) < 0)
		child_fail(k, errno, "mount overlay on %s", c->root);

	k->root_fd = open(c->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (k->root_fd < 0)
		child_fail(k, errno, "open root %s", c->root);
}

/* Make the root "/" of the namespace and detach the host's tree. */
static void enter_root(const Child *k)
{
	const char *root = k->c->root;

	if (fchdir(k->root_fd) < 0)
		child_fail(k, errno, "chdir %s", root);
	/* pivot_root(".", ".") stacks the old root on top of the new one;
	 * detaching it leaves nothing of the host reachable. */
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		if (umount2(".", MNT_DETACH) < 0)
			child_fail(k, errno, "detach the old root");
	} else if (errno == EINVAL) {
		/* The host root is rootfs (initramfs), which cannot be
		 * pivoted: move the root over it and chroot instead. */
		if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
			child_fail(k, errno, "move %s to /", root);
		if (chroot(".") < 0)
			child_fail(k, errno, "chroot %s", root);
	} else {
		child_fail(k, errno, "pivot_root %s", root);
	}
	if (chdir("/") < 0)
		child_fail(k, errno, "chdir / in %s", root);
}

/* Stdio: stdin /dev/null, stdout and stderr LOG_FD; the error pipe moves
 * to fd 3 (close-on-exec) and everything else is closed. */
static void setup_fds(Child *k)
{
	int log_fd = fcntl(k->c->log_fd, F_DUPFD_CLOEXEC, 10);
	if (log_fd < 0)
		child_fail(k, errno, "duplicate the log fd %d", k->c->log_fd);
	int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (null_fd < 0)
		child_fail(k, errno, "open /dev/null in %s", k->c->root);
	int err_fd = fcntl(k->err_fd, F_DUPFD_CLOEXEC, 10);
	if (err_fd < 0)
		child_fail(k, errno, "duplicate the error pipe");
	k->err_fd = err_fd;

	if ((!k->c->keep_stdin && dup2(null_fd, STDIN_FILENO) < 0) || dup2(log_fd, STDOUT_FILENO) < 0 ||
	    dup2(log_fd, STDERR_FILENO) < 0)
		child_fail(k, errno, "set up stdio");
	if (dup3(err_fd, 3, O_CLOEXEC) < 0)
		child_fail(k, errno, "move the error pipe");
	k->err_fd = 3;
	if (close_range(4, ~0U, 0) < 0) {
		struct rlimit rl;
		unsigned long max = 65536;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
			max = rl.rlim_cur;
		for (unsigned long fd = 4; fd < max; fd++)
			(void) close((int) fd);
	}
}

_noreturn_ static void child_main(const SandboxConfig *c, int err_fd)
{
	Child k = { .c = c, .err_fd = err_fd, .root_fd = -EBADF };
	struct pollfd pfd = { .fd = err_fd, .events = POLLOUT };
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigset_t all;

	/* The command gets default signal handling whatever zeolite had. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void) sigaction(sig, &sa, NULL);
	sigemptyset(&all);
	(void) sigprocmask(SIG_SETMASK, &all, NULL);

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		child_fail(&k, errno, "prctl(PR_SET_PDEATHSIG)");
	/* Did zeolite die before the prctl?  Then nobody reads the pipe. */
	if (poll(&pfd, 1, 0) < 0 || (pfd.revents & POLLERR))
		_exit(127);

	/* Nothing we mount may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		child_fail(&k, errno, "make / private");
	if (sethostname(c->hostname, strlen(c->hostname)) < 0)
		child_fail(&k, errno, "sethostname %s", c->hostname);
	umask(022);

	setup_overlay(&k);
	/* A new proc instance: this process is PID 1 of its namespace. */
	mount_in_root(&k, "proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	{
		char fdp[FD_PATH_MAX];
		_cleanup_close_ int fd = mkdir_in_root(k.root_fd, "/sys");
		if (fd < 0)
			child_fail(&k, -fd, "create mount point %s/sys", c->root);
		fd_path(fdp, fd);
		if (mount("sysfs", fdp, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  NULL) < 0)
			bind_in_root(&k, "/sys", "/sys",
				     MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, true);
	}
	setup_dev(&k);
	mount_in_root(&k, "tmpfs", "/run", MS_NOSUID | MS_NODEV, "mode=0755");
	setup_snapshot(&k);
	for (size_t i = 0; i < c->n_binds; i++) {
		const SandboxBind *b = &c->binds[i];

		if (b->tmpfs_options)
			mount_in_root(&k, "tmpfs", b->target,
				      MS_NOSUID | MS_NODEV | (b->read_only ? MS_RDONLY : 0), b->tmpfs_options);
		else
			bind_in_root(&k, b->source, b->target,
				     MS_NOSUID | MS_NODEV | (b->read_only ? MS_RDONLY : 0), true);
	}

	enter_root(&k);
	setup_fds(&k);
	/*
	 * No PR_SET_NO_NEW_PRIVS: emerge and the build scripts may need
	 * setuid helpers inside the root.  The namespaces, not a privilege
	 * ceiling, are what keep the build in its box.
	 */
	if (c->personality && personality(PER_LINUX32) < 0)
		child_fail(&k, errno, "personality %s", c->personality);
	execve(c->argv[0], c->argv, c->envp);
	child_fail(&k, errno, "execute %s in %s", c->argv[0], c->root);
}

/* Fork-like clone(2) into new namespaces: no new stack, SIGCHLD on exit. */
static pid_t clone_into_namespaces(unsigned long flags)
{
	flags |= SIGCHLD;
#if defined(__s390__) || defined(__CRIS__)
	return (pid_t) syscall(SYS_clone, 0UL, flags, NULL, NULL, 0UL);
#else
	return (pid_t) syscall(SYS_clone, flags, 0UL, NULL, NULL, 0UL);
#endif
}

static bool path_ok_inside(const char *p)
{
	if (!p || p[0] != '/' || strlen(p) >= PATH_MAX)
		return false;
	for (const char *s = p; *s; ) {
		size_t n;

		while (*s == '/')
			s++;
		n = strcspn(s, "/");
		if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += n;
	}
	return p[strspn(p, "/")] != '\0';     /* not "/" itself */
}

static const char *config_problem(const SandboxConfig *c)
{
	if (!c->lower || !*c->lower)
		return "no lower dir";
	if (!c->upper || !*c->upper || !c->overlay_work || !*c->overlay_work)
		return "no upper or work dir";
	if (!c->root || !*c->root || strlen(c->root) >= PATH_MAX)
		return "no root";
	if (c->snapshot_image && c->snapshot_tree)
		return "both a snapshot image and a snapshot tree";
	if ((c->snapshot_image || c->snapshot_tree) && !path_ok_inside(c->repo_target))
		return "bad repo target";
	if (c->n_binds > 0 && !c->binds)
		return "no binds";
	for (size_t i = 0; i < c->n_binds; i++)
		if ((!c->binds[i].tmpfs_options && (!c->binds[i].source || !*c->binds[i].source)) ||
		    !path_ok_inside(c->binds[i].target))
			return "bad bind";
	if (!c->hostname || !*c->hostname || strlen(c->hostname) > 64)
		return "bad hostname";
	if (!c->argv || !c->argv[0] || c->argv[0][0] != '/')
		return "argv[0] must be an absolute path";
	if (!c->envp)
		return "no environment";
	if (c->personality && strcmp(c->personality, "linux32") != 0 &&
	    strcmp(c->personality, "s390") != 0)
		return "bad personality";
	if (c->log_fd < 0 || fcntl(c->log_fd, F_GETFD) < 0)
		return "bad log fd";
	return NULL;
}

int sandbox_run(const SandboxConfig *c, int *ret_status, char **ret_err)
{
	ErrRecord rec;
	size_t got = 0;
	int fds[2], status = 0, r = 0;
	const char *problem;
	pid_t pid;

	if (!c || !ret_status) {
		if (ret_err)
			*ret_err = xstrdup("invalid sandbox config");
		return -EINVAL;
	}
	problem = config_problem(c);
	if (problem) {
		if (ret_err)
			*ret_err = xasprintf("invalid sandbox config: %s", problem);
		return -EINVAL;
	}

	if (pipe2(fds, O_CLOEXEC) < 0) {
		r = -errno;
		if (ret_err)
			*ret_err = xasprintf("create a pipe: %s", strerror(-r));
		return r;
	}
	_cleanup_close_ int err_read = fds[0];
	_cleanup_close_ int err_write = fds[1];

	pid = clone_into_namespaces(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC);
	if (pid < 0) {
		r = -errno;
		if (ret_err)
			*ret_err = xasprintf("create the sandbox namespaces: %s", strerror(-r));
		return r;
	}
	if (pid == 0) {
		close(TAKE_FD(err_read));
		child_main(c, err_write);
	}
	close(TAKE_FD(err_write));

	/* EOF with nothing read: the exec happened (or the child died). */
	for (;;) {
		ssize_t n = read(err_read, (char *) &rec + got, sizeof(rec) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0 || (got += (size_t) n) == sizeof(rec))
			break;
	}

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			r = -errno;
			if (ret_err)
				*ret_err = xasprintf("wait for the sandbox: %s", strerror(-r));
			return r;
		}
	}

	if (r < 0) {
		if (ret_err)
			*ret_err = xasprintf("read the sandbox error pipe: %s", strerror(-r));
		return r;
	}
	if (got > 0) {
		if (got < offsetof(ErrRecord, msg) + 1 || rec.err <= 0) {
			rec.err = EIO;
			snprintf(rec.msg, sizeof(rec.msg), "sandbox setup (truncated report)");
		}
		rec.msg[sizeof(rec.msg) - 1] = '\0';
		if (got < sizeof(rec))
			((char *) &rec)[got] = '\0';
		if (ret_err)
			*ret_err = xasprintf("%s: %s", rec.msg, strerror(rec.err));
		return -rec.err;
	}
	*ret_status = status;
	return 0;
}
