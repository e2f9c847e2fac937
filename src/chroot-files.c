// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * chroot-files.c - the files zeolite puts into a build root and takes out
 * again before packing (chroot-files.h).
 */
#include "chroot-files.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "fs.h"

int chroot_run_argv(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* mkdir -p REL below DIR_FD inside a build tree (the overlay's upper layer):
 * unlike mkdir_p_at, no store owner/mode rule applies, since what is there
 * came from the spec (a portage_confdir with group-writable directories is
 * fine), but no symlink is followed. */
static int mkdir_p_tree(int dir_fd, const char *rel, int *ret_fd)
{
	_cleanup_free_ char *p = xstrdup(rel);
	_cleanup_close_ int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);

	if (fd < 0)
		return -errno;
	for (char *s = p, *e; *s; s = e) {
		int n;
		e = s + strcspn(s, "/");
		if (*e)
			*e++ = '\0';
		if (mkdirat(fd, s, 0755) < 0 && errno != EEXIST)
			return -errno;
		n = openat(fd, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (n < 0)
			return -errno;
		close(fd);
		fd = n;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int write_file_at(int dir_fd, const char *name, const char *text, mode_t mode)
{
	_cleanup_close_ int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	return write_all(fd, text, strlen(text));
}

/* cp SRC DST (-a: as it is, else following symlinks) into the upper
 * layer, which holds only what zeolite put there yet; a message naming
 * WHAT on failure. */
static int copy_in(const char *what, const char *src, const char *dst, bool archive, char **ret_err)
{
	_cleanup_free_ char *dir = xstrdup(dst);
	*strrchr(dir, '/') = '\0';
	char *mk_argv[] = { "mkdir", "-p", dir, NULL };
	char *cp_argv[] = { "cp", archive ? "-a" : "-L", (char *) src, (char *) dst, NULL };

	if (chroot_run_argv(mk_argv) < 0 || chroot_run_argv(cp_argv) < 0) {
		*ret_err = xasprintf("copying %s '%s' into the chroot failed", what, src);
		return -EIO;
	}
	return 0;
}

/* Whether the seed's tree has PATH (not following a last symlink). */
static bool seed_has(const char *seed_tree, const char *path)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", seed_tree, path);
	struct stat s;
	return lstat(p, &s) == 0;
}

/*
 * What catalyst's chroot_setup does on the host side besides make.conf:
 * the host's /etc/resolv.conf in; the seed's /etc/hosts (when it has one)
 * kept as /etc/hosts.catalyst and the host's put in its place; the
 * config's envscript as /tmp/envscript.  chroot_files_out() undoes the first
 * two before packing.
 */
static int host_files_in(const Plan *b, const char *upper, const char *seed_tree, char **ret_err)
{
	int r = 0;

	if (access("/etc/resolv.conf", R_OK) == 0) {
		_cleanup_free_ char *dst = xasprintf("%s/etc/resolv.conf", upper);
		r = copy_in("/etc/resolv.conf", "/etc/resolv.conf", dst, false, ret_err);
		if (r < 0)
			return r;
	}
	if (seed_has(seed_tree, "etc/hosts") && access("/etc/hosts", R_OK) == 0) {
		_cleanup_free_ char *src = xasprintf("%s/etc/hosts", seed_tree);
		_cleanup_free_ char *keep = xasprintf("%s/etc/hosts.catalyst", upper);
		_cleanup_free_ char *dst = xasprintf("%s/etc/hosts", upper);
		r = copy_in("the seed's /etc/hosts", src, keep, true, ret_err);
		if (r >= 0)
			r = copy_in("/etc/hosts", "/etc/hosts", dst, false, ret_err);
		if (r < 0)
			return r;
	}
	if (b->cfg->envscript) {
		_cleanup_free_ char *dst = xasprintf("%s/tmp/envscript", upper);
		r = copy_in("envscript", b->cfg->envscript, dst, false, ret_err);
	}
	return r;
}

static int populate_upper(const Plan *b, const char *upper, char **ret_err)
{
	_cleanup_close_ int up = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int etc_portage = -EBADF, reposconf = -EBADF;
	const char *confdir = b->confdir;
	int r;


	if (up < 0)
		return -errno;
	if (confdir) {
		/* portage_confdir is copied in first; what zeolite writes wins. */
		_cleanup_free_ char *dst = xasprintf("%s/etc/portage", upper);
		_cleanup_free_ char *src = xasprintf("%s/.", confdir);
		char *mk_argv[] = { "mkdir", "-p", dst, NULL };
		char *cp_argv[] = { "cp", "-a", "--no-preserve=ownership", src, dst, NULL };
		if (chroot_run_argv(mk_argv) < 0 || chroot_run_argv(cp_argv) < 0) {
			*ret_err = xasprintf("copying portage_confdir '%s' failed", confdir);
			return -EIO;
		}
	}
	r = mkdir_p_tree(up, "etc/portage", &etc_portage);
	if (r < 0)
		return r;
	r = write_file_at(etc_portage, "make.conf", b->make_conf_build, 0644);
	if (r < 0)
		return r;
	/* process_repos: an entry per repository but the main one at its
	 * default location; the directory only when there is an entry. */
	for (size_t i = 0; i < b->n_repos; i++) {
		_cleanup_free_ char *n = xasprintf("%s.conf", b->repos[i].name);
		if (!b->repos[i].conf)
			continue;
		if (reposconf < 0) {
			r = mkdir_p_tree(up, "etc/portage/repos.conf", &reposconf);
			if (r < 0)
				return r;
		}
		r = write_file_at(reposconf, n, b->repos[i].conf, 0644);
		if (r < 0)
			return r;
	}
	/* write_binrepos_conf: binrepos.conf/gentoo.conf ships (catalyst
	 * writes it "for later user convenience"). */
	if (b->binrepos_conf) {
		_cleanup_close_ int d = -EBADF;
		r = mkdir_p_tree(up, "etc/portage/binrepos.conf", &d);
		if (r >= 0)
			r = write_file_at(d, "gentoo.conf", b->binrepos_conf, 0644);
		if (r < 0)
			return r;
	}
	/* jobserver-fifo: sandbox may write to the FIFO. */
	if (b->sandbox_conf) {
		_cleanup_close_ int d = -EBADF;
		r = mkdir_p_tree(up, "etc/sandbox.d", &d);
		if (r >= 0)
			r = write_file_at(d, "99catalyst", b->sandbox_conf, 0644);
		if (r < 0)
			return r;
	}

	/* qemu-user binaries for foreign architectures, at the same path. */
	for (char **w = b->interpreters; *w; w++) {
		_cleanup_free_ char *dst = xasprintf("%s%s", upper, *w);
		_cleanup_free_ char *dir = xstrdup(dst);
		*strrchr(dir, '/') = '\0';
		char *mk_argv[] = { "mkdir", "-p", dir, NULL };
		char *cp_argv[] = { "cp", "-p", *w, dst, NULL };
		if ((*w)[0] != '/' || chroot_run_argv(mk_argv) < 0 || chroot_run_argv(cp_argv) < 0) {
			*ret_err = xasprintf("%s:%u: interpreter '%s' cannot be copied into the chroot", b->spec_path,
					     spec_get(b->spec, "interpreter")->line, *w);
			return -EINVAL;
		}
	}
	if (b->fsscript) {
		const char *fsscript = b->fsscript;
		_cleanup_free_ char *dst = xasprintf("%s%s", upper, b->fsscript_chroot);
		_cleanup_free_ char *tmpdir = xasprintf("%s/tmp", upper);
		char *mk_argv[] = { "mkdir", "-p", tmpdir, NULL };
		char *cp_argv[] = { "cp", (char *) fsscript, dst, NULL };
		if (chroot_run_argv(mk_argv) < 0 || chroot_run_argv(cp_argv) < 0 || chmod(dst, 0755) < 0) {
			*ret_err = xasprintf("%s:%u: stage4/fsscript '%s' cannot be copied into the chroot", b->spec_path,
					     spec_get(b->spec, "stage4/fsscript")->line, fsscript);
			return -EINVAL;
		}
	}
	/* Each stage4/root_overlay, as it is (owners too), for the script to
	 * lay over / after the packages (targets/stage4.sh). */
	{
		const SpecEntry *e = spec_get(b->spec, "stage4/root_overlay");
		size_t i = 0;

		for (char **w = b->root_overlays; *w; w++, i++) {
			_cleanup_free_ char *dst = xasprintf("%s%s/%zu", upper, PLAN_ROOT_OVERLAY_DIR, i);
			_cleanup_free_ char *src = xasprintf("%s/.", *w);
			char *mk_argv[] = { "mkdir", "-p", dst, NULL };
			char *cp_argv[] = { "cp", "-a", src, dst, NULL };

			if (chroot_run_argv(mk_argv) < 0 || chroot_run_argv(cp_argv) < 0) {
				*ret_err = xasprintf("%s:%u: stage4/root_overlay '%s' cannot be copied into the chroot",
						     b->spec_path, e->line, *w);
				return -EIO;
			}
		}
	}
	return 0;
}


int chroot_files_in(const Plan *p, const char *upper, const char *seed_tree, char **ret_err)
{
	int r = populate_upper(p, upper, ret_err);

	if (r >= 0)
		r = host_files_in(p, upper, seed_tree, ret_err);
	return r;
}

/* ---- taking things out again ---------------------------------------- */

/* Open directory REL of the tree UP (O_RDONLY), resolving inside it. */
static int open_dir_in(int up, const char *rel, int *ret_fd)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	while (*rel == '/')
		rel++;
	fd = (int) syscall(SYS_openat2, up, *rel ? rel : ".", &how, sizeof(how));
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

/* Split absolute PATH into its directory (malloc'd) and last name. */
static char *split_path(const char *path, const char **ret_name)
{
	const char *slash = strrchr(path, '/');

	*ret_name = slash ? slash + 1 : path;
	return slash ? xstrndup(path, (size_t) (slash - path)) : xstrdup("");
}

/* Remove PATH (anything, a tree too) from UP; ENOENT is fine. */
static int remove_in(int up, const char *path)
{
	const char *name;
	_cleanup_free_ char *dir = split_path(path, &name);
	_cleanup_close_ int fd = -EBADF;
	int r = open_dir_in(up, dir, &fd);

	if (r == -ENOENT || r == -ENOTDIR)
		return 0;
	if (r < 0)
		return r;
	return rm_rf_at(fd, name);
}

/* Directory DIR (absolute) in UP, each missing component made as the
 * seed's directory of that name is (mode, owner, times): what overlayfs's
 * copy-up would have made.  An fd, or -errno. */
static int copy_up_dir(int up, const char *seed_tree, const char *dir, int *ret_fd)
{
	_cleanup_free_ char *p = xstrdup(dir);
	_cleanup_close_ int fd = fcntl(up, F_DUPFD_CLOEXEC, 3);
	char *s = p + strspn(p, "/");

	if (fd < 0)
		return -errno;
	while (*s) {
		char *e = s + strcspn(s, "/");
		char sep = *e;
		int n;

		*e = '\0'; /* P is now the path up to this component */
		n = openat(fd, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (n < 0 && errno == ENOENT) {
			_cleanup_free_ char *sp = xasprintf("%s%s", seed_tree, p);
			struct stat st;
			if (lstat(sp, &st) < 0 || !S_ISDIR(st.st_mode))
				return -ENOENT;
			if (mkdirat(fd, s, st.st_mode & 07777) < 0)
				return -errno;
			n = openat(fd, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (n >= 0) {
				struct timespec ts[2] = { st.st_atim, st.st_mtim };
				(void) fchown(n, st.st_uid, st.st_gid);
				(void) fchmod(n, st.st_mode & 07777);
				(void) futimens(n, ts);
			}
		}
		if (n < 0)
			return -errno;
		close(fd);
		fd = n;
		*e = sep;
		s = e + strspn(e, "/");
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* An overlay whiteout at PATH in UP: the seed's file is gone from the
 * merged tree, as catalyst's clear_path removes it. */
static int whiteout_in(int up, const char *seed_tree, const char *path)
{
	const char *name;
	_cleanup_free_ char *dir = split_path(path, &name);
	_cleanup_close_ int fd = -EBADF;
	int r = open_dir_in(up, dir, &fd);

	if (r == -ENOENT)
		r = copy_up_dir(up, seed_tree, dir, &fd);
	if (r < 0)
		return r;
	(void) rm_rf_at(fd, name);
	if (mknodat(fd, name, S_IFCHR | 0000, makedev(0, 0)) < 0)
		return -errno;
	return 0;
}

static bool dir_is_empty(int fd)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	DIR *dir;
	struct dirent *e;
	bool empty = true;

	if (d < 0)
		return false;
	dir = fdopendir(d);
	if (!dir) {
		close(d);
		return false;
	}
	while ((e = readdir(dir)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			empty = false;
			break;
		}
	closedir(dir);
	return empty;
}

/* PATH (a directory zeolite made, e.g. a mount point) and each directory
 * above it go from UP while they are empty and the seed has none: what
 * zeolite made never ships. */
static int prune_in(int up, const char *seed_tree, const char *path)
{
	_cleanup_free_ char *p = xstrdup(path);

	for (;;) {
		const char *name;
		_cleanup_free_ char *dir = split_path(p, &name);
		_cleanup_close_ int dfd = -EBADF, fd = -EBADF;
		int r;

		if (!*name || seed_has(seed_tree, p + 1))
			return 0;
		r = open_dir_in(up, p, &fd);
		if (r == -ENOENT)
			goto up;
		if (r < 0 || !dir_is_empty(fd))
			return 0;
		r = open_dir_in(up, dir, &dfd);
		if (r < 0)
			return r;
		if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
			return errno == ENOTEMPTY || errno == EBUSY ? 0 : -errno;
	up:
		if (!*dir)
			return 0;
		free(p);
		p = TAKE_PTR(dir);
	}
}

/* Whether the regular file PATH of UP has exactly the bytes of host file HOST. */
static bool same_as_host(int up, const char *path, const char *host)
{
	_cleanup_free_ char *a = NULL, *b = NULL;
	size_t la, lb;
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	_cleanup_close_ int fd = (int) syscall(SYS_openat2, up, path + 1, &how, sizeof(how));
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	{
		_cleanup_free_ char *fp = xasprintf("/proc/self/fd/%d", fd);
		if (read_file_at(AT_FDCWD, fp, 1024 * 1024, &a, &la) < 0)
			return false;
	}
	if (read_file_at(AT_FDCWD, host, 1024 * 1024, &b, &lb) < 0)
		return false;
	return la == lb && memcmp(a, b, la) == 0;
}

/* The id of NAME in the stage's /etc/passwd (FILE "passwd") or /etc/group
 * ("group") under ROOT (the stage's root in UP, or in the seed): UP's copy
 * first.  -1 when there is none. */
static long stage_id(int up, const char *seed_tree, const char *root, const char *file, const char *name)
{
	_cleanup_free_ char *rel = xasprintf("%s/etc/%s", root, file), *text = NULL;
	size_t len, n = strlen(name);
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	_cleanup_close_ int fd = (int) syscall(SYS_openat2, up, rel + 1, &how, sizeof(how));

	if (fd >= 0) {
		_cleanup_free_ char *fp = xasprintf("/proc/self/fd/%d", fd);
		if (read_file_at(AT_FDCWD, fp, 4 * 1024 * 1024, &text, &len) < 0)
			return -1;
	} else {
		_cleanup_free_ char *sp = xasprintf("%s%s", seed_tree, rel);
		if (read_file_at(AT_FDCWD, sp, 4 * 1024 * 1024, &text, &len) < 0)
			return -1;
	}
	for (char *l = text, *e; l && *l; l = e) {
		e = strchr(l, '\n');
		if (e)
			*e++ = '\0';
		if (strncmp(l, name, n) == 0 && l[n] == ':') {
			char *f = strchr(l + n + 1, ':');
			if (f)
				return strtol(f + 1, NULL, 10);
		}
	}
	return -1;
}

/* catalyst's clean: "chown -R portage:portage" of the stage's repo_basedir.
 * Here: the directory itself and the kept repositories' mount points (all
 * that zeolite made there), when the stage has a portage user and group. */
static int chown_repo_basedir(const Plan *b, int up, const char *seed_tree, const char *root)
{
	const char *base = b->cfg->repo_basedir ? b->cfg->repo_basedir : "/var/db/repos";
	_cleanup_free_ char *dir = xasprintf("%s%s", root, base), *sp = xasprintf("%s%s", seed_tree, dir);
	_cleanup_close_ int fd = -EBADF;
	long uid = stage_id(up, seed_tree, root, "passwd", "portage");
	long gid = stage_id(up, seed_tree, root, "group", "portage");
	struct stat st;
	int r;

	if (uid < 0 || gid < 0)
		return 0;
	r = open_dir_in(up, dir, &fd);
	if (r == -ENOENT && lstat(sp, &st) == 0 && S_ISDIR(st.st_mode))
		r = copy_up_dir(up, seed_tree, dir, &fd);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (fchown(fd, (uid_t) uid, (gid_t) gid) < 0)
		return -errno;
	for (size_t i = 0; i < b->n_repos; i++) {
		_cleanup_free_ char *loc = xasprintf("%s%s", root, b->repos[i].location);
		_cleanup_close_ int lfd = -EBADF;
		if (b->repos[i].keep && open_dir_in(up, loc, &lfd) == 0 && fchown(lfd, (uid_t) uid, (gid_t) gid) < 0)
			return -errno;
	}
	return 0;
}

/* The shipped make.conf, exactly, at DIR/make.conf of UP. */
static int write_make_conf_in(int up, const char *dir, const char *text)
{
	_cleanup_close_ int dfd = -EBADF, fd = -EBADF;
	int r = open_dir_in(up, dir, &dfd);

	if (r == -ENOENT) {
		r = mkdir_p_tree(up, dir + 1, &dfd);
		if (r < 0)
			return r;
		closep(&dfd);
		r = open_dir_in(up, dir, &dfd);
	}
	if (r < 0)
		return r;
	(void) rm_rf_at(dfd, "make.conf");
	fd = openat(dfd, "make.conf", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	r = write_all(fd, text, strlen(text));
	if (r >= 0 && fchmod(fd, 0644) < 0)
		r = -errno;
	return r;
}

int chroot_files_out(const Plan *b, const char *upper, const char *seed_tree, char **ret_err)
{
	_cleanup_close_ int up = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	bool stage1 = strcmp(b->target, "stage1") == 0, stage4 = strcmp(b->target, "stage4") == 0;
	const char *what = "open the upper layer";
	int r = 0;

	if (up < 0) {
		r = -errno;
		goto fail;
	}
	/* The seed's /etc/hosts back in place. */
	what = "put the seed's /etc/hosts back";
	{
		_cleanup_close_ int etc = -EBADF;
		if (open_dir_in(up, "/etc", &etc) == 0 && faccessat(etc, "hosts.catalyst", F_OK, AT_SYMLINK_NOFOLLOW) == 0 &&
		    renameat(etc, "hosts.catalyst", etc, "hosts") < 0) {
			r = -errno;
			goto fail;
		}
	}
	/* resolv.conf: a cleanable, but stage4 lets the build (its fsscript)
	 * write its own; the host's copy never ships. */
	what = "remove /etc/resolv.conf";
	if (!stage4 || same_as_host(up, "/etc/resolv.conf", "/etc/resolv.conf")) {
		r = remove_in(up, "/etc/resolv.conf");
		if (r >= 0 && seed_has(seed_tree, "etc/resolv.conf"))
			r = whiteout_in(up, seed_tree, "/etc/resolv.conf");
		if (r < 0)
			goto fail;
	}
	what = "remove /tmp/envscript or /etc/sandbox.d/99catalyst";
	if ((r = remove_in(up, "/tmp/envscript")) < 0 || (r = remove_in(up, "/etc/sandbox.d/99catalyst")) < 0 ||
	    (r = prune_in(up, seed_tree, "/etc/sandbox.d")) < 0)
		goto fail;
	/* The interpreters: the seed's own shows again, as catalyst renames
	 * its .catalyst copy back. */
	what = "remove the interpreters";
	for (char **w = b->interpreters; w && *w; w++) {
		_cleanup_free_ char *dir = NULL;
		const char *name;
		r = remove_in(up, *w);
		if (r < 0)
			goto fail;
		dir = split_path(*w, &name);
		if (!seed_has(seed_tree, *w + 1) && *dir && (r = prune_in(up, seed_tree, dir)) < 0)
			goto fail;
	}
	/* Repositories: entries and mount points, but keep_repos'. */
	what = "remove the repositories' entries and mount points";
	for (size_t i = 0; i < b->n_repos; i++) {
		const PlanRepo *rp = &b->repos[i];
		if (rp->keep)
			continue;
		if (rp->conf) {
			_cleanup_free_ char *f = xasprintf("/etc/portage/repos.conf/%s.conf", rp->name);
			r = remove_in(up, f);
			if (r >= 0 && seed_has(seed_tree, f + 1))
				r = whiteout_in(up, seed_tree, f);
			if (r < 0)
				goto fail;
		}
		r = remove_in(up, rp->location);
		if (r >= 0 && seed_has(seed_tree, rp->location + 1))
			r = whiteout_in(up, seed_tree, rp->location);
		if (r >= 0)
			r = prune_in(up, seed_tree, rp->location);
		if (r < 0)
			goto fail;
	}
	if ((r = prune_in(up, seed_tree, "/etc/portage/repos.conf")) < 0)
		goto fail;
	/* zeolite's own mount points. */
	what = "remove zeolite's mount points";
	if ((r = prune_in(up, seed_tree, PLAN_TARGETS_DIR)) < 0 ||
	    (b->ccache_dir && (r = prune_in(up, seed_tree, "/var/tmp/ccache")) < 0))
		goto fail;
	/* var_tmpfs_portage's mount point: in /var/tmp, a cleanable. */
	for (size_t i = 0; i < b->n_mounts; i++)
		if (strcmp(b->mounts[i].kind, "tmpfs") == 0 && (r = prune_in(up, seed_tree, b->mounts[i].target)) < 0)
			goto fail;
	{
		const char *name;
		_cleanup_free_ char *dir = split_path(PLAN_TARGETS_DIR, &name);
		(void) name;
		if ((r = prune_in(up, seed_tree, dir)) < 0)
			goto fail;
	}
	what = "chown the repository directory to portage";
	if ((r = chown_repo_basedir(b, up, seed_tree, stage1 ? "/tmp/stage1root" : "")) < 0)
		goto fail;
	/* Last, the make.conf that ships: what the plan says, exactly. */
	what = "write the make.conf that ships";
	r = write_make_conf_in(up, stage1 ? "/tmp/stage1root/etc/portage" : "/etc/portage", b->make_conf_shipped);
	if (r < 0)
		goto fail;
	return 0;
fail:
	*ret_err = xasprintf("before packing: %s: %s", what, strerror(-r));
	return r;
}
