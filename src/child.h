/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * child.h - helper programs run as children (fork + execvp, no shell).
 *
 * Each child's stderr goes to a memfd so that its first line can explain a
 * failure.  Every descriptor of ours is O_CLOEXEC, so a child inherits only
 * the ones child_spawn() places at 0-3.  Children never see git's
 * repository-locating environment (GIT_DIR, GIT_WORK_TREE, ...): the
 * repository is always the one named on their command line.
 */
#ifndef ZEOLITE_CHILD_H
#define ZEOLITE_CHILD_H

#include "util.h"

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

typedef struct Child {
	const char *name; /* for messages: "git archive", "tar2sqfs" */
	pid_t pid;        /* > 0 while running */
	int status;       /* from waitpid, once reaped */
	bool reaped;
	int err_fd;       /* memfd holding the child's stderr */
} Child;

#define CHILD_INIT(n) { .name = (n), .pid = 0, .err_fd = -EBADF }

/* The CPUs we may run on (affinity), at least 1. */
unsigned n_cpus(void);

/*
 * Start ARGV (PATH lookup, no shell).  IN_FD is its stdin (/dev/null if
 * < 0), OUT_FD its stdout (its stderr memfd if < 0), FD3 its fd 3 (none if
 * < 0).  MASK is the signal mask it runs with.  Returns 0, or -errno
 * (e.g. -ENOENT: no such program).
 */
int child_spawn(Child *c, char *const argv[], int in_fd, int out_fd, int fd3, const sigset_t *mask);
/* Reap C (no-op if not running).  Returns 0 or -errno of waitpid. */
int child_wait(Child *c);
/* Kill (SIGKILL) and reap C if it still runs; close its stderr memfd. */
void child_done(Child *c);
/* Reaped, and did not exit 0. */
bool child_failed(const Child *c);
bool child_died_of_sigpipe(const Child *c);
/* The first non-empty line the child wrote to stderr, or "". */
char *child_stderr_line(const Child *c);
/* "NAME failed with exit status N: first line of stderr" (or killed by). */
char *child_describe(const Child *c);
/* *RET_ERR = "cannot run PROG: ..." for a child_spawn() failure R; returns R. */
int spawn_error(int r, const char *prog, char **ret_err);

/* SIGPIPE blocked while we write to children, a pending one swallowed on
 * restore, so that writing to a dead child is EPIPE, not our death. */
typedef struct SigpipeGuard {
	sigset_t orig;
	bool was_pending;
} SigpipeGuard;

void sigpipe_block(SigpipeGuard *g);
void sigpipe_restore(SigpipeGuard *g);

#endif
