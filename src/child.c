// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * child.c - run a helper program (git, tar2sqfs) as a child, never via a
 * shell, with its stderr kept for the message when it fails.
 */
#include "child.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

unsigned n_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned) CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned) n : 1;
}

/* ---- child processes ---------------------------------------------------- */


static const char *const git_local_env[] = {
	"GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS",
	"GIT_CONFIG_COUNT", "GIT_OBJECT_DIRECTORY", "GIT_DIR", "GIT_WORK_TREE",
	"GIT_IMPLICIT_WORK_TREE", "GIT_GRAFT_FILE", "GIT_INDEX_FILE",
	"GIT_NO_REPLACE_OBJECTS", "GIT_REPLACE_REF_BASE", "GIT_PREFIX",
	"GIT_INTERNAL_SUPER_PREFIX", "GIT_SHALLOW_FILE", "GIT_COMMON_DIR",
};

void child_done(Child *c)
{
	if (c->pid > 0) {
		int saved = errno;
		(void) kill(c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
		c->pid = 0;
		errno = saved;
	}
	closep(&c->err_fd);
}

/* In the child: put FDS[i] (or leave alone if < 0) at fd i, restore the
 * signal state, exec.  On failure write errno to REPORT_FD. */
_noreturn_ static void child_exec(char *const argv[], const int fds[4], int report_fd,
				  const sigset_t *mask)
{
	int hi[4];
	int e;

	/* Move everything out of the way first, so that no dup2 clobbers a
	 * source that happens to sit at a low number. */
	e = fcntl(report_fd, F_DUPFD_CLOEXEC, 10);
	if (e < 0) {
		e = errno;
		(void) !write(report_fd, &e, sizeof(e));
		_exit(127);
	}
	report_fd = e;
	for (int i = 0; i < 4; i++) {
		hi[i] = -1;
		if (fds[i] >= 0 && (hi[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10)) < 0)
			goto fail;
	}
	for (int i = 0; i < 4; i++)
		if (hi[i] >= 0 && dup2(hi[i], i) < 0)
			goto fail;

	/* The repository is the one named with -C, whatever the caller's
	 * environment says (`git rev-parse --local-env-vars`). */
	for (size_t i = 0; i < ELEMENTSOF(git_local_env); i++)
		(void) unsetenv(git_local_env[i]);
	(void) signal(SIGPIPE, SIG_DFL);
	(void) sigprocmask(SIG_SETMASK, mask, NULL);
	execvp(argv[0], argv);
fail:
	e = errno;
	(void) !write(report_fd, &e, sizeof(e));
	_exit(127);
}

/*
 * Start ARGV (PATH lookup, no shell).  IN_FD is its stdin (/dev/null if
 * < 0), OUT_FD its stdout (its stderr memfd if < 0), FD3 its fd 3 (none if
 * < 0).  All our descriptors are O_CLOEXEC, so it inherits nothing else.
 * Returns 0, or -errno (e.g. -ENOENT: no such program).
 */
int child_spawn(Child *c, char *const argv[], int in_fd, int out_fd, int fd3,
		       const sigset_t *mask)
{
	_cleanup_close_ int err_fd = -EBADF, null_fd = -EBADF, rep_r = -EBADF, rep_w = -EBADF;
	int p[2], e;
	ssize_t n;
	pid_t pid;

	err_fd = memfd_create("zeolite-child-stderr", MFD_CLOEXEC);
	if (err_fd < 0)
		return -errno;
	if (in_fd < 0) {
		null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (null_fd < 0)
			return -errno;
		in_fd = null_fd;
	}
	if (out_fd < 0)
		out_fd = err_fd;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	rep_r = p[0];
	rep_w = p[1];

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child_exec(argv, (const int[4]) { in_fd, out_fd, err_fd, fd3 }, rep_w, mask);

	closep(&rep_w);
	rep_w = -EBADF;
	do
		n = read(rep_r, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t) sizeof(e)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return e > 0 ? -e : -EIO;
	}

	c->pid = pid;
	c->reaped = false;
	closep(&c->err_fd);
	c->err_fd = TAKE_FD(err_fd);
	return 0;
}

int child_wait(Child *c)
{
	if (c->pid <= 0)
		return 0;
	while (waitpid(c->pid, &c->status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	c->pid = 0;
	c->reaped = true;
	return 0;
}

bool child_failed(const Child *c)
{
	return c->reaped && !(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0);
}

bool child_died_of_sigpipe(const Child *c)
{
	return c->reaped && WIFSIGNALED(c->status) && WTERMSIG(c->status) == SIGPIPE;
}

/* The first non-empty line of what the child wrote to stderr, or "". */
char *child_stderr_line(const Child *c)
{
	char buf[1024];
	ssize_t n;
	char *s, *e;

	if (c->err_fd < 0)
		return xstrdup("");
	n = pread(c->err_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return xstrdup("");
	buf[n] = '\0';
	s = buf;
	for (;;) {
		s += strspn(s, " \t\r\n");
		e = s + strcspn(s, "\r\n");
		if (e > s || *e == '\0')
			break;
		s = e;
	}
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	return xstrndup(s, (size_t) (e - s));
}

/* "NAME failed with exit status N: first line of stderr" */
char *child_describe(const Child *c)
{
	_cleanup_free_ char *line = child_stderr_line(c);
	const char *sep = *line ? ": " : "";

	if (WIFEXITED(c->status))
		return xasprintf("%s failed with exit status %d%s%s", c->name,
				 WEXITSTATUS(c->status), sep, line);
	if (WIFSIGNALED(c->status))
		return xasprintf("%s was killed by signal %d (%s)%s%s", c->name,
				 WTERMSIG(c->status), strsignal(WTERMSIG(c->status)), sep, line);
	return xasprintf("%s failed%s%s", c->name, sep, line);
}

int spawn_error(int r, const char *prog, char **ret_err)
{
	if (r == -ENOENT)
		*ret_err = xasprintf("cannot run %s: not found in PATH", prog);
	else
		*ret_err = xasprintf("cannot run %s: %s", prog, strerror(-r));
	return r;
}


void sigpipe_block(SigpipeGuard *g)
{
	sigset_t s, pending;

	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	(void) pthread_sigmask(SIG_BLOCK, &s, &g->orig);
	g->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
}

void sigpipe_restore(SigpipeGuard *g)
{
	sigset_t s, pending;
	int saved = errno;

	if (!g->was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
		const struct timespec zero = { 0, 0 };

		sigemptyset(&s);
		sigaddset(&s, SIGPIPE);
		while (sigtimedwait(&s, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	(void) pthread_sigmask(SIG_SETMASK, &g->orig, NULL);
	errno = saved;
}
