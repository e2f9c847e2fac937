/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sandbox.h - run a command in a build root: overlayfs over a shared seed
 * tree, new mount, PID, UTS and IPC namespaces, chroot.
 *
 * Inside: proc (for the new PID namespace), sys read-only, a minimal /dev
 * (null zero full random urandom tty, devpts with ptmx, tmpfs /dev/shm),
 * tmpfs /run, the snapshot at REPO_TARGET read-only (nosuid, nodev), and
 * the given read-write binds (distdir, pkgcache).  Everything is mounted
 * inside the new mount namespace, which is private: when its last process
 * dies every mount disappears with it, and nothing is ever unmounted by
 * scanning /proc.  The namespace's init is killed when zeolite dies
 * (PR_SET_PDEATHSIG), and with it every process of the build.
 */
#ifndef ZEOLITE_SANDBOX_H
#define ZEOLITE_SANDBOX_H

#include "util.h"

typedef struct SandboxBind {
	const char *source;   /* host path (unused for a tmpfs) */
	const char *target;   /* path inside the root */
	bool read_only;
	/* Not NULL: a tmpfs with these mount options ("size=4G"), not a
	 * bind (catalyst's var_tmpfs_portage). */
	const char *tmpfs_options;
} SandboxBind;

typedef struct SandboxConfig {
	const char *lower;          /* the shared seed tree (read-only lower layer) */
	const char *upper;          /* the build's own upper dir (created if missing) */
	const char *overlay_work;   /* overlayfs workdir, same filesystem as upper */
	const char *root;           /* mount point for the merged root (created if missing) */
	const char *snapshot_image; /* a .sqfs to loop-mount read-only, or NULL */
	const char *snapshot_tree;  /* or a tree to bind read-only, or NULL */
	const char *repo_target;    /* e.g. "/var/db/repos/gentoo" */
	const SandboxBind *binds;
	size_t n_binds;
	const char *hostname;       /* UTS name inside */
	char *const *argv;          /* run inside the chroot (argv[0] absolute inside) */
	char *const *envp;          /* its whole environment */
	int log_fd;                 /* its stdout and stderr (>= 0) */
	bool keep_stdin;            /* stdin stays ours (--enter-chroot's shell), not /dev/null */
	/* NULL, or "linux32" / "s390" (what catalyst's setarch arch names):
	 * the command runs with personality(PER_LINUX32), as under setarch. */
	const char *personality;
} SandboxConfig;

/*
 * Run C->argv in the sandbox and wait for it.  Returns 0 with *RET_STATUS
 * the command's wait status, or -errno with *RET_ERR naming the step that
 * failed ("mount overlay on /x: ...", "loop-mount /x.sqfs: ...").
 *
 * The command runs as PID 1 of the new PID namespace with stdin
 * /dev/null, stdout and stderr C->log_fd, no other fds, default signal
 * dispositions, an empty signal mask and umask 022.  C->upper,
 * C->overlay_work and C->root are created (mode 0755) if missing; their
 * parents must exist.  C->binds and the snapshot get ro (if asked),
 * nosuid, nodev; a bind of a non-directory gets a file as mount point.
 * PR_SET_NO_NEW_PRIVS is not set (setuid helpers work inside).
 *
 * Call it from a thread that lives until it returns: the sandbox is
 * SIGKILLed when the calling thread dies (PR_SET_PDEATHSIG).  It is not
 * async-signal-safe and must not run concurrently with fork() in another
 * thread that could inherit the error pipe.  SIGCHLD must not be set to
 * SIG_IGN (the child would be reaped behind waitpid()'s back).
 *
 * A bad config gives -EINVAL.  *RET_STATUS is written only on success;
 * *RET_ERR (RET_ERR may be NULL) only on failure, and the caller frees
 * it.  If the child dies by a signal before its exec, the call returns 0
 * with that status: the two cases cannot be told apart.
 */
int sandbox_run(const SandboxConfig *c, int *ret_status, char **ret_err);

#endif
