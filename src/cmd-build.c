// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cmd-build.c - `zeolite build SPEC...` (catalyst -f): DESIGN.md §4.
 *
 *  1. parse and validate the spec and config completely;
 *  2. take the build's own lock, tmp/<rel_type>/<name>.lock (G4 waits);
 *  3. the snapshot: a .sqfs is loop-mounted in the sandbox, a tarball is
 *     taken through the cache as a lease and bind-mounted;
 *  4. the seed (builds/<source_subpath>.tar.*) through the cache (seeds),
 *     as a lease: the lower layer of the build root's overlayfs;
 *  5. each step of the target script in the sandbox (sandbox.c);
 *  6. pack the result (pack.c) into builds/<rel_type>/;
 *  7. release the leases, remove the work directory.
 *
 * <name> is <target>-<subarch>-<version_stamp>, as catalyst names it.
 */
#include "archive-ops.h"
#include "build-jobs.h"
#include "jobserver.h"
#include "cache.h"
#include "catalyst-lock.h"
#include "chroot-files.h"
#include "fs.h"
#include "image-mount.h"
#include "image.h"
#include "build-log.h"
#include "progress.h"
#include "main.h"
#include "plan.h"
#include "sandbox.h"

#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <regex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>

#include "build-config.h"

typedef Plan Build;

typedef struct BuildOptions {
	bool dry_run;
	bool clear_autoresume;
	bool purge;
	bool purge_only;
	bool purge_tmp_only; /* -T: remove the work directory (with its autoresume marks), then stop */
	bool fetch_only;     /* -F: options += "fetch" (clst_FETCH, emerge --fetchonly, no pack) */
	bool enter_chroot;   /* --enter-chroot: a shell in the build's sandbox, no steps */
	unsigned jobs;       /* -j N: the specs as a graph, N at a time (build-jobs.h); 0: one by one */
	bool fail_fast;      /* with -j: no build starts after a failure */
} BuildOptions;

/* ---- the build's own lock --------------------------------------------- */

static int mkdir_p_at(int dir_fd, const char *rel, int *ret_fd)
{
	_cleanup_free_ char *p = xstrdup(rel);
	_cleanup_close_ int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);

	if (fd < 0)
		return -errno;
	for (char *s = p, *e; *s; s = e) {
		e = s + strcspn(s, "/");
		if (*e)
			*e++ = '\0';
		int n = store_subdir_at(fd, s, true);
		if (n < 0)
			return n;
		close(fd);
		fd = n;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int take_build_lock(const Build *b, int *ret_fd, char **ret_err)
{
	_cleanup_close_ int dir_fd = -EBADF, fd = -EBADF;
	_cleanup_free_ char *lockname = xasprintf("%s.lock", b->name);
	LockOwner o;
	int r;

	r = mkdir_p_at(b->st->tmp_fd, b->rel_type, &dir_fd);
	if (r < 0)
		return r;
	fd = openat(dir_fd, lockname, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0)
		return -errno;
	r = lock_byte(fd, 0, F_WRLCK, 0);
	if (r == -EAGAIN && b->timeout) {
		/* Busy: wait, saying for whom on a terminal (progress.h). */
		progress_wait_begin(fd, b->name, (long) b->timeout * 1000);
		r = lock_byte(fd, 0, F_WRLCK, (long) b->timeout * 1000);
		progress_wait_end();
	}
	if (r == -ETIMEDOUT || r == -EAGAIN) {
		/* zeolite's record, or catalyst's pid and command line: the
		 * lock file is catalyst's chroot_path + ".lock" (catalyst-lock.h). */
		_cleanup_free_ char *d = catalyst_lock_holder(fd);
		if (b->timeout)
			*ret_err = xasprintf("build '%s' is held by %s; gave up after %lu s (lock_timeout)", b->name,
					     d, b->timeout);
		else
			*ret_err = xasprintf("build '%s' is held by %s; not waiting (lock_timeout 0)", b->name, d);
		return -ETIMEDOUT;
	}
	if (r < 0)
		return r;
	lock_owner_self(&o, "building", b->name);
	(void) lock_owner_write(fd, &o);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* ---- the work directory ----------------------------------------------- */

/* ---- steps ------------------------------------------------------------ */

static bool step_done(int work_fd, const char *step)
{
	_cleanup_free_ char *m = xasprintf(".autoresume-%s", step);
	return faccessat(work_fd, m, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static int mark_step(int work_fd, const char *step)
{
	_cleanup_free_ char *m = xasprintf(".autoresume-%s", step);
	_cleanup_close_ int fd = openat(work_fd, m, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || fsync(fd) < 0 || fsync(work_fd) < 0)
		return -errno;
	return 0;
}

static void clear_marks(int work_fd)
{
	static const char *const steps[] = { "setup", "build", "preclean", "clean", "populated" };
	for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
		_cleanup_free_ char *m = xasprintf(".autoresume-%s", steps[i]);
		(void) unlinkat(work_fd, m, 0);
	}
	(void) unlinkat(work_fd, ".autoresume-packed", 0);
}

/* pipe2(P, O_CLOEXEC) and fork(): returns the child's pid (0 in the
 * child), or -errno with no pipe left open. */
static pid_t fork_with_pipe(int p[2])
{
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(p[0]);
		close(p[1]);
		return r;
	}
	return pid;
}

/* When stderr is a terminal, the scripts' output goes to the log and the
 * screen: a small child copies a pipe to both. */
/* More than one build in this command: prefix the screen's lines. */
static bool build_prefix_lines;

static int open_log(const Build *b, pid_t *ret_tee, int *ret_fd)
{
	_cleanup_close_ int log_fd = open(b->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
	int p[2];
	pid_t pid;

	if (log_fd < 0)
		return -errno;
	*ret_tee = 0;
	/* The scripts' output goes to the screen as well on a terminal, and
	 * with -v (or --log-level debug, -d) whatever stderr is; never with -q. */
	if ((!isatty(STDERR_FILENO) && arg_verbose == 0 && log_get_level() < LOG_LEVEL_DEBUG) || arg_quiet) {
		*ret_fd = TAKE_FD(log_fd);
		return 0;
	}
	pid = fork_with_pipe(p);
	if (pid < 0)
		return (int) pid;
	if (pid == 0) {
		char buf[65536];
		ssize_t n;
		bool bol = true;
		close(p[1]);
		while ((n = read(p[0], buf, sizeof(buf))) > 0) {
			(void) write_all(log_fd, buf, (size_t) n);
			if (!build_prefix_lines) {
				(void) write_all(STDERR_FILENO, buf, (size_t) n);
				continue;
			}
			/* More than one build on this terminal: each line says
			 * whose it is. */
			Buf o = { 0 };
			for (ssize_t k = 0; k < n; k++) {
				if (bol)
					buf_printf(&o, "%s| ", b->name);
				buf_putc(&o, buf[k]);
				bol = buf[k] == '\n';
			}
			(void) write_all(STDERR_FILENO, o.data, o.len);
			buf_done(&o);
		}
		_exit(0);
	}
	close(p[0]);
	*ret_tee = pid;
	*ret_fd = p[1];
	return 0;
}

static int run_steps(const Build *b, int work_fd, const char *seed_tree, const char *snapshot_tree,
		     BuildReport *report, bool enter_chroot, char **ret_err)
{
	_cleanup_free_ char *upper = xasprintf("%s/upper", b->work);
	_cleanup_free_ char *owork = xasprintf("%s/overlay-work", b->work);
	_cleanup_free_ char *root = xasprintf("%s/root", b->work);
	const char *repo = b->repo_dir, *script = b->script;
	char **env = b->env;
	SandboxBind *binds = xcalloc(b->n_mounts + 1, sizeof(*binds));
	char **images = xcalloc(b->n_mounts + 1, sizeof(char *));
	char **image_roots = xcalloc(b->n_mounts + 1, sizeof(char *));
	size_t n_binds = 0, n_images = 0;
	int r = 0;

	{
		char *mk_argv[] = { "mkdir", "-p", upper, owork, root, NULL };
		if (chroot_run_argv(mk_argv) < 0) {
			*ret_err = xasprintf("cannot create the work directory '%s'", b->work);
			r = -EIO;
			goto out;
		}
	}
	/* The plan's mounts but the seed (the overlay) and the snapshot
	 * (the sandbox's own): repositories, targets, distdir, pkgcache,
	 * tmpfs, port_logdir, ccache. */
	for (size_t i = 2; i < b->n_mounts; i++) {
		const PlanMount *m = &b->mounts[i];
		bool tmpfs = strcmp(m->kind, "tmpfs") == 0;
		const char *source = m->source;
		/* A spec repos .sqfs: mounted here, in zeolite's private
		 * namespace (the sandbox is cloned from it), and bound. */
		if (strcmp(m->kind, "squashfs") == 0) {
			images[n_images] = xasprintf("%s/repo-%zu.img", b->work, i);
			r = mount_ns_private(ret_err);
			if (r >= 0)
				r = image_mount(m->source, images[n_images], true, ret_err);
			if (r < 0) {
				free(images[n_images]);
				goto out;
			}
			source = image_roots[n_images] = image_repo_root(images[n_images]);
			n_images++;
		}
		if (!tmpfs && !m->read_only && strcmp(m->kind, "fifo") != 0) {
			char *mk_argv[] = { "mkdir", "-p", m->source, NULL };
			if (chroot_run_argv(mk_argv) < 0) {
				*ret_err = xasprintf("cannot create '%s'", m->source);
				r = -EIO;
				goto out;
			}
		}
		binds[n_binds++] = (SandboxBind) {
			.source = source,
			.target = m->target,
			.read_only = m->read_only,
			.tmpfs_options = tmpfs ? m->source : NULL,
		};
	}

	if (!step_done(work_fd, "populated")) {
		r = chroot_files_in(b, upper, seed_tree, ret_err);
		if (r < 0)
			goto out;
		if (b->autoresume)
			(void) mark_step(work_fd, "populated");
	}

	/* What every step's sandbox (and --enter-chroot's shell) shares. */
	const SandboxConfig sandbox_base = {
		.lower = seed_tree,
		.upper = upper,
		.overlay_work = owork,
		.root = root,
		.snapshot_image = b->snapshot_is_image ? b->snapshot_path : NULL,
		.snapshot_tree = b->snapshot_is_image ? NULL : snapshot_tree,
		.repo_target = repo,
		.binds = binds,
		.n_binds = n_binds,
		.hostname = "zeolite",
		.envp = env,
		.personality = b->arch.personality, /* catalyst's setarch */
	};

	if (enter_chroot) {
		/* catalyst's --enter-chroot: the steps' sandbox, a shell in
		 * it; everything goes with the shell's PID namespace. */
		char *sh_argv[] = { "/bin/sh", "-i", NULL };
		int status = 0;
		SandboxConfig sc = sandbox_base;

		sc.argv = sh_argv;
		sc.log_fd = STDERR_FILENO;
		sc.keep_stdin = true;
		log_info("build %s: entering the sandbox (%s); exit the shell to leave", b->name, b->work);
		r = sandbox_run(&sc, &status, ret_err);
		if (r >= 0)
			log_info("build %s: left the sandbox (shell %s %d)", b->name,
				 WIFEXITED(status) ? "exit status" : "signal",
				 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		goto out;
	}

	const char *const *steps = b->steps;
	for (size_t i = 0; i < b->n_steps; i++) {
		char *argv[] = { "/bin/sh", (char *) script, (char *) steps[i], NULL };
		int status = 0, log_fd = -EBADF;
		int64_t step_t0;
		pid_t tee = 0;

		if (b->autoresume && step_done(work_fd, steps[i])) {
			log_info("build %s: step '%s' already done (autoresume)", b->name, steps[i]);
			continue;
		}
		r = open_log(b, &tee, &log_fd);
		if (r < 0) {
			*ret_err = xasprintf("cannot open the log '%s': %s", b->log, strerror(-r));
			goto out;
		}
		log_info("build %s: step '%s'", b->name, steps[i]);
		status_note_step(b->st->tmp_fd, b->rel_type, b->name, steps[i], b->log);
		build_log_line(b->log, "step '%s' started", steps[i]);
		step_t0 = now_ms();
		test_point(steps[i]);
		SandboxConfig sc = sandbox_base;
		sc.argv = argv;
		sc.log_fd = log_fd;
		r = sandbox_run(&sc, &status, ret_err);
		close(log_fd);
		if (tee > 0)
			(void) waitpid(tee, NULL, 0);
		if (r < 0)
			goto out;
		build_log_line(b->log, "step '%s' %s in %.1f s", steps[i],
			       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "done" : "failed",
			       (double) (now_ms() - step_t0) / 1000.0);
		build_report_step(report, steps[i], (double) (now_ms() - step_t0) / 1000.0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			free(report->failed_step);
			report->failed_step = xstrdup(steps[i]);
			*ret_err = WIFEXITED(status)
					   ? xasprintf("step '%s' failed: exit status %d (log: %s)", steps[i],
						       WEXITSTATUS(status), b->log)
					   : xasprintf("step '%s' failed: killed by signal %d (log: %s)", steps[i],
						       WTERMSIG(status), b->log);
			r = -ECANCELED;
			goto out;
		}
		if (b->autoresume) {
			r = mark_step(work_fd, steps[i]);
			if (r < 0)
				goto out;
		}
	}
	r = chroot_files_out(b, upper, seed_tree, ret_err);
out:
	for (size_t i = 0; i < n_images; i++) {
		image_umount(images[i]);
		(void) rmdir(images[i]);
		free(images[i]);
		free(image_roots[i]);
	}
	free(images);
	free(image_roots);
	free(binds);
	return r;
}

/*
 * Pack the build root.  The merged view (seed + the build's changes, with
 * its deletions) exists only as an overlay mount, so a child process makes
 * one, read-only, in a private mount namespace of its own, and packs from
 * it; the mount dies with the child.
 */
static void pack_note(const char *msg, void *userdata)
{
	const Build *b = userdata;

	fprintf(stderr, "zeolite: builds/%s: %s\n", b->rel_type, msg);
}

/* The pack child's progress line (a terminal only: progress.h). */
static void pack_progress(uint64_t in, uint64_t out, void *userdata)
{
	const Build *b = userdata;
	static int64_t t0;
	int64_t ms;

	if (!t0)
		t0 = now_ms();
	ms = now_ms() - t0;
	progress_line("build %s: packing %s: %.0f MiB in, %.0f MiB out, %.0f MiB/s", b->name, b->out_name,
		      (double) in / 1048576.0, (double) out / 1048576.0,
		      ms > 0 ? (double) in / 1048576.0 / ((double) ms / 1000.0) : 0.0);
}

static int pack_result(const Build *b, const char *seed_tree, char **ret_err)
{
	_cleanup_free_ char *upper = xasprintf("%s/upper", b->work);
	_cleanup_free_ char *root = xasprintf("%s/root", b->work);
	_cleanup_free_ char *opts = xasprintf("lowerdir=%s:%s", upper, seed_tree);
	int p[2], status;
	Buf err = { 0 };
	pid_t parent = getpid(), pid;

	pid = fork_with_pipe(p);
	if (pid < 0)
		return (int) pid;
	if (pid == 0) {
		_cleanup_free_ char *e = NULL;
		_cleanup_close_ int root_fd = -EBADF, out_fd = -EBADF;
		PackResult res = { 0 };
		int q;

		close(p[0]);
		(void) prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1); /* zeolite died before the prctl: publish nothing */
		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
			e = xasprintf("pack: private mount namespace: %m");
			goto child_fail;
		}
		if (mount("overlay", root, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV, opts) < 0) {
			e = xasprintf("pack: mount the build root read-only: %m");
			goto child_fail;
		}
		root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (root_fd >= 0 && strcmp(b->target, "stage1") == 0) {
			int s1 = openat(root_fd, "tmp/stage1root", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			close(root_fd);
			root_fd = s1;
		}
		if (root_fd < 0) {
			e = xasprintf("pack: open the %s root: %m", b->target);
			goto child_fail;
		}
		q = mkdir_p_at(b->st->builds_fd, b->rel_type, &out_fd);
		if (q < 0) {
			e = xasprintf("pack: builds/%s: %s", b->rel_type, strerror(-q));
			goto child_fail;
		}
		PackRequest pr = {
			.root_fd = root_fd,
			.out_dir_fd = out_fd,
			.name = b->name,
			.tarball = b->out_name,
			.note = pack_note,
			.progress = progress_enabled() ? pack_progress : NULL,
			.note_userdata = (void *) b,
			.compression = b->compression,
			.threads = b->threads,
			.level = -1,
			.digests = b->cfg->digests,
			.digest_format = b->cfg->digest_format,
		};
		q = pack_tree(&pr, &res, &e);
		progress_clear();
		if (q < 0)
			goto child_fail;
		/* Published: exit 0 whatever follows; a failed directory fsync
		 * is a warning. */
		if (res.warning)
			fprintf(stderr, "zeolite: warning: builds/%s: %s\n", b->rel_type, res.warning);
		pack_result_done(&res);
		_exit(0);
	child_fail:
		if (e)
			(void) write_all(p[1], e, strlen(e));
		_exit(1);
	}
	close(p[1]);
	for (;;) {
		char buf[512];
		ssize_t n = read(p[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_put(&err, buf, (size_t) n);
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		buf_done(&err);
		return 0;
	}
	*ret_err = err.len ? buf_steal(&err) : xasprintf("pack: failed (status %d)", status);
	buf_done(&err);
	return -EIO;
}

/* ---- one build -------------------------------------------------------- */

/* Empty directory PATH (catalyst's clear_dir), keep it; a missing one is fine. */
static int clear_dir_contents(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *e;
	int r = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(fcntl(fd, F_DUPFD_CLOEXEC, 3));
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			int q = rm_rf_at(fd, e->d_name);
			if (q < 0 && r == 0)
				r = q;
		}
	closedir(d);
	return r;
}

/* Take the tree of PATH from the cache as a lease.  Snapshot entries are
 * the very ones `zeolite prepare` makes (same id, same flags); a seed
 * stage is a root file system: owners, device nodes and xattrs kept, no
 * top-level directory stripped. */
static int acquire_tree(const Build *b, CacheKind kind, const char *path, const char *label, bool image,
			CacheLease *ret, char **ret_err)
{
	/* O_NONBLOCK: a FIFO there must not block us (it is refused below). */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	_cleanup_free_ char *id = NULL, *group = NULL;
	int r;

	if (fd < 0) {
		r = -errno;
		*ret_err = xasprintf("'%s': %s", path, strerror(-r));
		return r;
	}
	r = cache_source_id_wait(b->st, image ? CACHE_IMAGES : kind, fd, label, (long) b->timeout * 1000, &id,
				 ret_err);
	if (r < 0) {
		if (r != -ETIMEDOUT) {
			char *m = xasprintf("'%s': %s", path,
					    r == -EINVAL ? "not a regular file" : *ret_err ? *ret_err : strerror(-r));
			free(*ret_err);
			*ret_err = m;
		}
		return r;
	}
	if (kind == CACHE_SNAPSHOTS)
		group = snapshot_group(label); /* as `zeolite prepare` does */
	else {
		/* gc keeps the newest seed per file name (without ".tar..."). */
		const char *base = strrchr(label, '/') ? strrchr(label, '/') + 1 : label;
		const char *ext = strstr(base, ".tar");
		group = ext ? xstrndup(base, (size_t) (ext - base)) : xstrdup(base);
	}
	UnpackFill tf = {
		.fd = fd,
		.name = label,
		.flags = kind == CACHE_SEEDS ? UNPACK_KEEP_OWNER | UNPACK_ALLOW_DEVICES | UNPACK_NO_STRIP : 0,
	};
	CacheRequest req = {
		.kind = image ? CACHE_IMAGES : kind,
		.id = id,
		.label = label,
		.group = group,
		.timeout_ms = (long) b->timeout * 1000,
		.hold = true,
		.fill = image ? image_fill : unpack_fill,
		.userdata = &tf,
	};
	r = cache_acquire(b->st, &req, ret, ret_err);
	return r;
}

/* A seed or snapshot as the build uses it: a tree from the cache, or an
 * image (from the cache, or the .sqfs file itself) mounted in our private
 * namespace at MNT (image-mount.h).  TREE is what the build reads. */
typedef struct BuildInput {
	CacheLease lease;
	char *mnt;
	char *tree;
} BuildInput;

#define BUILD_INPUT_INIT { .lease = CACHE_LEASE_INIT }

static void build_input_done(BuildInput *in)
{
	image_umount(in->mnt);
	cache_release(&in->lease);
	free(in->mnt);
	free(in->tree);
	*in = (BuildInput) BUILD_INPUT_INIT;
}

static bool is_sqfs_name(const char *name)
{
	static const char *const exts[] = { ".sqfs", ".squashfs", ".sfs" };
	size_t n = strlen(name);

	for (size_t i = 0; i < ELEMENTSOF(exts); i++) {
		size_t e = strlen(exts[i]);
		if (n > e && strcmp(name + n - e, exts[i]) == 0)
			return true;
	}
	return false;
}

/* Take the seed (KIND CACHE_SEEDS) or the snapshot: with cache_format
 * "image", a tarball's image from cache/images/ (one conversion, shared)
 * or a .sqfs file as it is, mounted at <work>/<seed|snapshot>.img; else
 * the tree from the cache. */
static int acquire_input(const Build *b, CacheKind kind, const char *path, const char *label, BuildInput *ret,
			 char **ret_err)
{
	bool seed = kind == CACHE_SEEDS;
	_cleanup_free_ char *image = NULL;
	int r;

	if (!b->use_images || !(image_can_convert(label) || (seed && is_sqfs_name(label)))) {
		r = acquire_tree(b, kind, path, label, false, &ret->lease, ret_err);
		if (r >= 0)
			ret->tree = xstrdup(ret->lease.path);
		return r;
	}
	if (is_sqfs_name(label))
		image = xstrdup(path);
	else {
		r = acquire_tree(b, kind, path, label, true, &ret->lease, ret_err);
		if (r < 0)
			return r;
		image = xasprintf("%s/%s", ret->lease.path, IMAGE_FILE_NAME);
	}
	r = mount_ns_private(ret_err);
	if (r < 0)
		return r;
	ret->mnt = xasprintf("%s/%s.img", b->work, seed ? "seed" : "snapshot");
	r = image_mount(image, ret->mnt, !seed, ret_err);
	if (r < 0) {
		free(ret->mnt);
		ret->mnt = NULL;
		return r;
	}
	ret->tree = seed ? xstrdup(ret->mnt) : image_repo_root(ret->mnt);
	return 0;
}

/* 1. Everything about one spec is checked before anything happens: the
 * spec, and every input it names (plan_make()).  Returns EXIT_OK, or
 * EXIT_DATAERR with the problems printed. */
static int prepare_one(const Config *cfg, const Store *st, const char *spec_path, Spec *spec, Build *b)
{
	_cleanup_free_ char *err = NULL;
	Diags d = { 0 };
	int r;

	r = spec_load(spec_path, spec, &d);
	if (r >= 0)
		r = spec_validate(spec, &d);
	if (print_diags(&d) != EXIT_OK || r < 0) {
		diags_done(&d);
		return EXIT_DATAERR;
	}
	diags_done(&d);
	r = plan_make(cfg, st, spec, spec_path, b, &err);
	if (r < 0) {
		log_error("build: %s", err);
		return EXIT_DATAERR;
	}
	return EXIT_OK;
}

/* 2-7 for one prepared build. */
static int build_one(const Store *st, Build *bp, const BuildOptions *o)
{
	Build b = *bp; /* a shallow copy: BP keeps ownership */
	_cleanup_free_ char *err = NULL, *workrel = NULL;
	char *run_log;
	_cleanup_close_ int lock_fd = -EBADF, work_fd = -EBADF;
	BuildInput seed = BUILD_INPUT_INIT, snap = BUILD_INPUT_INIT;
	BuildReport *report = NULL;
	int64_t t0 = now_ms();
	int r, ret = EXIT_OK;
	bool fetch_only;

	/* 2. The build's own lock, before any expensive work. */
	r = take_build_lock(&b, &lock_fd, &err);
	if (r < 0) {
		log_error("build: %s", err ? err : strerror(-r));
		return r == -ETIMEDOUT ? EXIT_TEMPFAIL : EXIT_FAIL;
	}
	workrel = xasprintf("%s/%s", b.rel_type, b.name);
	/* catalyst's flags or the same words in the config's options. */
	bool purge = o->purge || config_has_option(b.cfg, "purge");
	bool purge_only = o->purge_only || config_has_option(b.cfg, "purgeonly");
	bool purge_tmp_only = o->purge_tmp_only || config_has_option(b.cfg, "purgetmponly");
	bool clear_autoresume = o->clear_autoresume || config_has_option(b.cfg, "clear-autoresume");
	if (purge || purge_only || purge_tmp_only) {
		_cleanup_close_ int rel_fd = openat(st->tmp_fd, b.rel_type, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (rel_fd >= 0)
			(void) rm_rf_at(rel_fd, b.name);
		log_info("build %s: work directory purged", b.name);
		/* catalyst's purge(): the package cache too, but for -T. */
		if (b.pkgcache && !purge_tmp_only) {
			r = clear_dir_contents(b.pkgcache_path);
			if (r < 0) {
				log_error("build %s: cannot purge the package cache '%s': %s", b.name, b.pkgcache_path,
					  strerror(-r));
				return EXIT_FAIL;
			}
			log_info("build %s: package cache %s purged", b.name, b.pkgcache_path);
		}
		if (purge_only || purge_tmp_only)
			return EXIT_OK;
	}
	if ((clear_autoresume || !b.autoresume) && !o->enter_chroot) {
		_cleanup_close_ int rel_fd = openat(st->tmp_fd, b.rel_type, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (rel_fd >= 0 && faccessat(rel_fd, b.name, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
			r = rm_rf_at(rel_fd, b.name);
			if (r < 0) {
				log_error("build %s: cannot clear the work directory '%s': %s", b.name, b.work,
					  strerror(-r));
				return EXIT_FAIL;
			}
			log_info("build %s: work directory cleared (%s)", b.name,
				 b.autoresume ? "-a" : "no autoresume");
		}
	}
	r = mkdir_p_at(st->tmp_fd, workrel, &work_fd);
	if (r < 0) {
		log_error("build %s: work directory '%s': %s", b.name, b.work, strerror(-r));
		return EXIT_FAIL;
	}
	/* This run's log (build-log.h): logs/<rel_type>/<name>-<UTC>.log. */
	run_log = build_log_create(st->fd, st->path, b.rel_type, b.name, &err);
	if (!run_log) {
		log_error("build %s: %s", b.name, err);
		return EXIT_CANTCREAT;
	}
	/* BP owns it (b is copied back into BP below). */
	free(bp->log);
	bp->log = b.log = run_log;
	report = build_report_begin(b.rel_type, b.name);
	report->log = xstrdup(run_log);
	{
		_cleanup_free_ char *out = xasprintf("%s/%s", b.out_dir, b.out_name);
		build_log_header(b.log, b.spec_path, b.target, out);
	}
	build_log_line(b.log, "build %s started (pid %d)", b.name, (int) getpid());
	test_point("build-locked");

	/* 3-4. The snapshot and the seed, shared through the cache. */
	if (!b.snapshot_is_image) {
		r = acquire_input(&b, CACHE_SNAPSHOTS, b.snapshot_path, b.snapshot_name, &snap, &err);
		if (r < 0)
			goto fail;
	}
	r = acquire_input(&b, CACHE_SEEDS, b.seed_path, b.seed_name, &seed, &err);
	if (r < 0)
		goto fail;
	/* The seed's make.conf: catalyst keeps its flags and CHOST (plan.h). */
	{
		_cleanup_close_ int tree_fd = open(seed.tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		_cleanup_free_ char *text = NULL;
		size_t len;

		if (tree_fd < 0 ||
		    read_file_at(tree_fd, "etc/portage/make.conf", 1024 * 1024, &text, &len) < 0)
			text = NULL;
		r = plan_set_seed_make_conf(&b, text, &err);
		*bp = b; /* the new make.conf texts and environment: BP owns them */
		if (r < 0) {
			r = -EBADMSG;
			goto fail;
		}
	}
	test_point("inputs-ready");
	build_log_line(b.log, "seed %s (%s %s), snapshot %s (%s %s)", b.seed_name, seed.lease.id ? "id" : "image",
		       seed.lease.id ? seed.lease.id : "", b.snapshot_name, snap.lease.id ? "id" : "image",
		       snap.lease.id ? snap.lease.id : "");
	log_info("build %s: seed %s (%s), snapshot %s (%s); start after %" PRId64 " ms", b.name, b.seed_name,
		 seed.mnt && !seed.lease.id ? "image" : cache_action_name(seed.lease.action), b.snapshot_name,
		 b.snapshot_is_image ? "image" : cache_action_name(snap.lease.action), now_ms() - t0);

	/* 5. The target's steps in the sandbox. */
	r = run_steps(&b, work_fd, seed.tree, snap.tree, report, o->enter_chroot, &err);
	if (r < 0)
		goto fail;
	if (o->enter_chroot) {
		/* Nothing packed; the work directory stays as it was. */
		build_input_done(&seed);
		build_input_done(&snap);
		status_note_done(st->tmp_fd, b.rel_type, b.name);
		report->ok = true;
		report->seconds = (double) (now_ms() - t0) / 1000.0;
		build_log_line(b.log, "result: left the sandbox after %.1f s (--enter-chroot)", report->seconds);
		return EXIT_OK;
	}

	/* 6. Pack and publish; with "fetch" (-F), as catalyst, nothing: the
	 * steps only fetched (clst_FETCH: emerge --fetchonly). */
	fetch_only = config_has_option(b.cfg, "fetch");
	if (!fetch_only) {
		test_point("packing");
		log_info("build %s: packing %s", b.name, b.out_name);
		r = pack_result(&b, seed.tree, &err);
		if (r < 0)
			goto fail;
		test_point("packed");
	}

	/* 7. Done: leases go, the work directory too (unless keepwork). */
	build_input_done(&seed);
	build_input_done(&snap);
	if (!b.keepwork) {
		_cleanup_close_ int rel_fd = openat(st->tmp_fd, b.rel_type, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		closep(&work_fd);
		if (rel_fd >= 0)
			(void) rm_rf_at(rel_fd, b.name);
	} else
		clear_marks(work_fd);
	if (fetch_only)
		log_info("build %s: fetched only (-F), nothing packed; done in %.1f s", b.name,
			 (double) (now_ms() - t0) / 1000.0);
	else {
		if (!arg_json)
			printf("%s/%s\n", b.out_dir, b.out_name);
		log_info("build %s: done in %.1f s", b.name, (double) (now_ms() - t0) / 1000.0);
		report->output = xasprintf("%s/%s", b.out_dir, b.out_name);
		{
			/* What was made, and where the time went. */
			struct stat os;
			char size[32] = "?";
			Buf steps = { 0 };

			if (stat(report->output, &os) == 0)
				format_size((uint64_t) os.st_size, size, sizeof(size));
			for (size_t i = 0; i < report->n_steps; i++)
				buf_printf(&steps, "%s%s %.1f s", i ? ", " : "", report->steps[i].step,
					   report->steps[i].seconds);
			char sha512[2 * 64 + 1] = "?";
			{
				_cleanup_close_ int tfd = open(report->output, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
				unsigned char md[64];
				if (tfd >= 0 && archive_sha512_fd(tfd, md) == 0)
					for (size_t i = 0; i < 64; i++)
						snprintf(sha512 + 2 * i, 3, "%02x", md[i]);
			}
			log_info("build %s: %s, %s, SHA-512 %s; steps: %s", b.name, report->output, size, sha512,
				 steps.data ? steps.data : "none run");
			buf_done(&steps);
		}
	}
	status_note_done(st->tmp_fd, b.rel_type, b.name);
	report->ok = true;
	report->seconds = (double) (now_ms() - t0) / 1000.0;
	build_log_line(b.log, "result: built %s in %.1f s", fetch_only ? "(fetch only)" : report->output,
		       report->seconds);
	return EXIT_OK;

fail:
	build_input_done(&seed);
	build_input_done(&snap);
	if (r == -ETIMEDOUT) {
		log_error("build %s: %s", b.name, err ? err : "gave up waiting for a lock");
		ret = EXIT_TEMPFAIL;
	} else if (r == -EBADMSG || r == -EPERM || r == -E2BIG) {
		log_error("build %s: %s", b.name, err ? err : strerror(-r));
		ret = EXIT_DATAERR;
	} else {
		log_error("build %s: %s", b.name, err ? err : strerror(-r));
		ret = EXIT_FAIL;
	}
	status_note_done(st->tmp_fd, b.rel_type, b.name);
	if (report) {
		report->seconds = (double) (now_ms() - t0) / 1000.0;
		report->error = xstrdup(err ? err : strerror(-r));
		build_log_line(b.log, "result: failed after %.1f s: %s", report->seconds, report->error);
	}
	return ret;
}

/* build -j: one build in its child process (build-jobs.h). */
typedef struct JobContext {
	Config *cfg;
	const Store *st;
	const BuildOptions *o;
} JobContext;

static int build_job(void *userdata, const char *spec_path, const char *jobserver_fifo)
{
	JobContext *c = userdata;
	Spec spec = { 0 };
	Build b = { 0 };
	int r;

	if (jobserver_fifo) { /* the child's own copy of the config */
		free(c->cfg->jobserver_fifo);
		c->cfg->jobserver_fifo = xstrdup(jobserver_fifo);
	}
	r = prepare_one(c->cfg, c->st, spec_path, &spec, &b);
	if (r == EXIT_OK)
		r = build_one(c->st, &b, c->o);
	/* Under -j the parent prints one document for all (build-jobs.c):
	 * a job's own --json object would make stdout two documents. */
	build_report_finish(false);
	plan_done(&b);
	spec_done(&spec);
	return r;
}

/*
 * Every spec named is loaded, validated and resolved (its seed, snapshot and
 * every path) before the first lock, unpack or write: one bad spec of many
 * is exit 65 with nothing done (issue 10 item 5).  Then the builds run in
 * order; the first failure's exit status is returned, the others still run.
 */
static int build_all(Config *cfg, const Store *st, int n, char **paths, const BuildOptions *o)
{
	Spec *specs = calloc((size_t) n, sizeof(Spec));
	Build *builds = calloc((size_t) n, sizeof(Build));
	int ret = EXIT_OK, bad = 0;

	if (!specs || !builds)
		die_oom();
	build_prefix_lines = n > 1;
	{
		/* Options zeolite does not honour are refused, never ignored. */
		Diags od = { 0 };
		int q = plan_check_options(cfg, &od);
		print_diags(&od);
		diags_done(&od);
		if (q < 0) {
			ret = EXIT_DATAERR;
			goto out;
		}
	}
	if (cfg->jobserver_fifo && !o->dry_run) {
		_cleanup_free_ char *e = NULL;
		if (jobserver_check_fifo(cfg->jobserver_fifo, &e) < 0) {
			log_error("build: %s; nothing was built", e);
			ret = EXIT_DATAERR;
			goto out;
		}
	}
	if (o->jobs) {
		JobContext jc = { .cfg = cfg, .st = st, .o = o };
		BuildJobsOptions jo = {
			.jobs = o->jobs, .fail_fast = o->fail_fast, .dry_run = o->dry_run,
			.run = build_job, .userdata = &jc,
		};
		ret = build_jobs(cfg, st, n, paths, &jo);
		goto out;
	}
	for (int i = 0; i < n; i++)
		if (prepare_one(cfg, st, paths[i], &specs[i], &builds[i]) != EXIT_OK)
			bad++;
	if (bad) {
		if (n > 1)
			log_error("build: %d of %d specs are not valid; nothing was built", bad, n);
		ret = EXIT_DATAERR;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		int r;
		if (o->dry_run) {
			if (arg_json) {
				Buf j = { 0 };
				plan_to_json(&builds[i], &j);
				printf("%s\n", j.data);
				buf_done(&j);
			} else
				plan_print_text(&builds[i], stdout);
			continue;
		}
		r = build_one(st, &builds[i], o);
		if (r != EXIT_OK && ret == EXIT_OK)
			ret = r;
	}
	if (!o->dry_run)
		build_report_finish(arg_json);
out:
	for (int i = 0; i < n; i++) {
		plan_done(&builds[i]);
		spec_done(&specs[i]);
	}
	free(builds);
	free(specs);
	return ret;
}

int cmd_build(int argc, char **argv)
{
	enum { OPT_ENTER_CHROOT = CHAR_MAX + 1, OPT_JSON, OPT_FAIL_FAST, OPT_KEEP_GOING };
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "clear-autoresume", no_argument, NULL, 'a' },
		{ "purge", no_argument, NULL, 'p' },
		{ "purgeonly", no_argument, NULL, 'P' },
		{ "purgetmponly", no_argument, NULL, 'T' },
		{ "fetchonly", no_argument, NULL, 'F' },
		{ "enter-chroot", no_argument, NULL, OPT_ENTER_CHROOT },
		{ "file", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "jobs", required_argument, NULL, 'j' },
		{ "fail-fast", no_argument, NULL, OPT_FAIL_FAST },
		{ "keep-going", no_argument, NULL, OPT_KEEP_GOING },
		GLOBAL_LONG_OPTIONS,
		{}
	};
	_cleanup_(config_done) Config cfg = { 0 };
	_cleanup_(store_close) Store st = STORE_INIT;
	_cleanup_free_ char **specs = NULL;
	size_t n_specs = 0;
	BuildOptions o = { 0 };
	int c, r;

	specs = xcalloc((size_t) argc + 1, sizeof(char *));
	command_getopt_reset();
	while ((c = command_getopt(argc, argv, "build", COMMAND_SHORT_OPTS "hnapPTFf:j:", options)) != -1) {
		switch (c) {
		case 'h':
			printf("Usage: zeolite build [OPTIONS] SPEC...\n\n"
			       "Build the stage each SPEC describes (catalyst -f SPEC).  Options and\n"
			       "SPECs may come in any order; \"--\" ends the options.\n\n"
			       "  -n, --dry-run            resolve every input and print the plan\n"
			       "      --json               with --dry-run: the plan as JSON (docs/plan-json.md);\n"
			       "                           with -j: the summary as JSON\n"
			       "  -a, --clear-autoresume   start over even with options = [\"autoresume\"]\n"
			       "  -p, --purge              remove the work directory (with pkgcache: empty\n"
			       "                           the package cache too) first\n"
			       "  -P, --purgeonly          only do what -p does\n"
			       "  -T, --purgetmponly       only remove the work directory (and with it\n"
			       "                           the autoresume marks)\n"
			       "  -F, --fetchonly          only fetch: emerge --fetchonly, nothing packed\n"
			       "      --enter-chroot       open a shell in the build's sandbox (its kept work\n"
			       "                           directory, same mounts and environment); no steps\n"
			       "  -f, --file SPEC          one more SPEC (catalyst's spelling)\n"
			       "  -j, --jobs N             the SPECs as a graph (a seed made by another\n"
			       "                           SPEC waits for it), at most N builds at a time\n"
			       "      --keep-going         with -j: a failure skips its dependents only\n"
			       "                           (the default)\n"
			       "      --fail-fast          with -j: no build starts after a failure\n\n"
			       "The global options (zeolite --help) are accepted here too.\n");
			return EXIT_OK;
		case 'n':
			o.dry_run = true;
			break;
		case 'a':
			o.clear_autoresume = true;
			break;
		case 'p':
			o.purge = true;
			break;
		case 'P':
			o.purge_only = true;
			break;
		case 'T':
			o.purge_tmp_only = true;
			break;
		case 'F':
			o.fetch_only = true;
			break;
		case OPT_ENTER_CHROOT:
			o.enter_chroot = true;
			break;
		case 'f':
			specs[n_specs++] = optarg;
			break;
		case OPT_JSON:
			arg_json = true;
			break;
		case 'j': {
			unsigned long v;
			if (parse_ulong(optarg, &v) < 0 || v == 0 || v > 1024)
				return command_usage_error("build", "-j: '%s' is not a number of builds (1-1024)", optarg);
			o.jobs = (unsigned) v;
			break;
		}
		case OPT_FAIL_FAST:
			o.fail_fast = true;
			break;
		case OPT_KEEP_GOING:
			o.fail_fast = false;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	for (int i = optind; i < argc; i++)
		specs[n_specs++] = argv[i];
	if (n_specs == 0)
		return command_usage_error("build", "no spec file given");
	if (o.fail_fast && !o.jobs)
		return command_usage_error("build", "--fail-fast needs -j N");
	/* Never ignored: refused until the executor can do it. */
	if (o.enter_chroot && (n_specs != 1 || o.dry_run || o.purge || o.purge_only || o.purge_tmp_only))
		return command_usage_error("build", "--enter-chroot takes one SPEC and no -n, -p, -P or -T");
	if (o.enter_chroot && !isatty(STDIN_FILENO))
		return command_usage_error("build", "--enter-chroot needs a terminal on stdin");
	r = o.dry_run ? EXIT_OK : require_root("build");
	if (r == EXIT_OK)
		r = load_config_and_store(&cfg, &st);
	if (r != EXIT_OK)
		return r;
	if (o.fetch_only && !config_has_option(&cfg, "fetch")) {
		/* catalyst: -F adds "fetch" to the options; the scripts get
		 * clst_FETCH=true and run emerge --fetchonly. */
		size_t n = strv_length(cfg.options);
		cfg.options = xrealloc(cfg.options, (n + 2) * sizeof(char *));
		cfg.options[n] = xstrdup("fetch");
		cfg.options[n + 1] = NULL;
	}
	return build_all(&cfg, &st, (int) n_specs, specs, &o);
}
