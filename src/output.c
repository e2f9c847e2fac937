// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * output.c - publish an output set whole or not at all; see output.h for
 * the protocol and docs/build.md ("Outputs") for why it holds.
 *
 * Test hook: ZEOLITE_TEST_PACK_KILL=<point> SIGKILLs the process at that
 * point of the protocol ("staged": files
 * written, before the commit rename; "committed": after it; "cleared": old
 * side files unlinked; "tarball": after the tarball's rename; "side": after
 * the first side file's rename).  It lets the tests crash a pack at exact
 * instants with a real kill -9.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "output.h"

#define STAGE_PREFIX ".zeolite-pack."
#define COMMIT_PREFIX ".zeolite-commit."

const char *const output_side_suffixes[] = { ".CONTENTS.gz", ".DIGESTS", ".sha256", NULL };

static void test_kill(const char *point)
{
	const char *k = getenv("ZEOLITE_TEST_PACK_KILL");

	if (!k || strcmp(k, point) != 0)
		return;
	(void) raise(SIGKILL);
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* The side suffix NAME ends with, or NULL. */
static const char *side_suffix(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; output_side_suffixes[i]; i++) {
		size_t m = strlen(output_side_suffixes[i]);

		if (n > m && strcmp(name + n - m, output_side_suffixes[i]) == 0)
			return output_side_suffixes[i];
	}
	return NULL;
}

int output_stage_open(int dir_fd, OutputStage *ret, char **ret_err)
{
	*ret = (OutputStage) { .dir_fd = dir_fd, .fd = -EBADF };
	for (int tries = 0; tries < 8; tries++) {
		uint64_t rnd = 0;
		struct stat a, b;
		int fd;

		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
			rnd = (uint64_t)now_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)tries;
		free(ret->name);
		ret->name = xasprintf(STAGE_PREFIX "%016llx", (unsigned long long)rnd);
		if (mkdirat(dir_fd, ret->name, 0700) < 0) {
			if (errno == EEXIST)
				continue;
			break;
		}
		fd = openat(dir_fd, ret->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		/* Another pack's output_recover() may take the directory for a
		 * crashed packer's before we lock it, and remove it: a new name. */
		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0)
			break;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd);
			continue; /* a recovery took it in between: not ours any more */
		}
		/* Still the directory we made (a recovery may have removed it
		 * between the mkdir and the lock)? */
		if (fstat(fd, &a) < 0 || fstatat(dir_fd, ret->name, &b, AT_SYMLINK_NOFOLLOW) < 0 ||
		    a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
			close(fd);
			continue;
		}
		ret->fd = fd;
		return 0;
	}
	{
		int r = errno ? -errno : -EEXIST;

		*ret_err = xasprintf("pack: creating the stage directory '%s': %s",
				     ret->name ? ret->name : STAGE_PREFIX, strerror(-r));
		free(ret->name);
		*ret = (OutputStage) { .fd = -EBADF };
		return r;
	}
}

/* Remove every file in the directory FD (a stage), then the directory. */
static void remove_stage(int dir_fd, int fd, const char *name)
{
	int dup_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (dup_fd >= 0)
			close(dup_fd);
	} else {
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				(void) unlinkat(fd, de->d_name, 0);
		closedir(d);
	}
	(void) unlinkat(dir_fd, name, AT_REMOVEDIR);
}

void output_stage_abort(OutputStage *s)
{
	int saved = errno;

	if (s->fd >= 0 && s->name)
		remove_stage(s->dir_fd, s->fd, s->name);
	if (s->fd >= 0)
		close(s->fd);
	free(s->name);
	*s = (OutputStage) { .fd = -EBADF };
	errno = saved;
}

/* Move what is left in the commit directory CFD (named CNAME in DIR_FD)
 * to its final names, in the protocol's order, and remove CNAME.  Names
 * the tarball TARBALL if known (NULL: find it, or derive it from a side
 * file when the tarball has already moved). */
static int roll_forward(int dir_fd, int cfd, const char *cname, const char *tarball,
			char **ret_warn, char **ret_err)
{
	_cleanup_free_ char *tar = tarball ? xstrdup(tarball) : NULL;
	char **sides = NULL;
	size_t n_sides = 0, cap = 0;
	bool tar_here = false;
	struct stat st;
	int r = 0;

	{
		int dup_fd = openat(cfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
		struct dirent *de;

		if (!d) {
			r = -errno;
			if (dup_fd >= 0)
				close(dup_fd);
			*ret_err = xasprintf("pack: reading '%s': %s", cname, strerror(-r));
			return r;
		}
		while ((de = readdir(d))) {
			const char *suf;

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			suf = side_suffix(de->d_name);
			if (!suf) {
				if (!tar)
					tar = xstrdup(de->d_name);
				continue;
			}
			xgrow(&sides, &cap, n_sides + 1, sizeof(*sides));
			sides[n_sides++] = xstrdup(de->d_name);
			if (!tar)
				tar = xstrndup(de->d_name, strlen(de->d_name) - strlen(suf));
		}
		closedir(d);
	}
	if (!tar)
		goto remove; /* empty: everything moved already */
	tar_here = fstatat(cfd, tar, &st, AT_SYMLINK_NOFOLLOW) == 0;

	if (tar_here) {
		/* The old set's side files go first: no side file of the old
		 * tarball may sit beside the new one. */
		for (size_t i = 0; output_side_suffixes[i]; i++) {
			_cleanup_free_ char *old = xasprintf("%s%s", tar, output_side_suffixes[i]);

			if (unlinkat(dir_fd, old, 0) < 0 && errno != ENOENT) {
				r = -errno;
				*ret_err = xasprintf("pack: removing the old '%s': %m", old);
				goto out;
			}
		}
		test_kill("cleared");
		if (renameat(cfd, tar, dir_fd, tar) < 0) {
			r = -errno;
			*ret_err = xasprintf("pack: publishing '%s': %m", tar);
			goto out;
		}
		test_kill("tarball");
	}
	for (size_t i = 0; i < n_sides; i++) {
		if (renameat(cfd, sides[i], dir_fd, sides[i]) < 0) {
			r = -errno;
			*ret_err = xasprintf("pack: publishing '%s': %m", sides[i]);
			goto out;
		}
		test_kill("side");
	}
remove:
	if (unlinkat(dir_fd, cname, AT_REMOVEDIR) < 0 && errno != ENOENT) {
		r = -errno;
		*ret_err = xasprintf("pack: removing '%s': %m", cname);
		goto out;
	}
	if (fsync(dir_fd) < 0 && errno != EINVAL && ret_warn)
		*ret_warn = xasprintf("output set published, but fsync of its directory failed: %m");
out:
	for (size_t i = 0; i < n_sides; i++)
		free(sides[i]);
	free(sides);
	return r;
}

int output_stage_commit(OutputStage *s, const char *tarball, char **ret_warn, char **ret_err)
{
	_cleanup_free_ char *cname = NULL;
	int r;

	if (ret_warn)
		*ret_warn = NULL;
	if (fsync(s->fd) < 0 && errno != EINVAL) {
		r = -errno;
		*ret_err = xasprintf("pack: syncing the stage directory '%s': %m", s->name);
		return r;
	}
	test_kill("staged");
	cname = xasprintf(COMMIT_PREFIX "%s", s->name + strlen(STAGE_PREFIX));
	if (renameat(s->dir_fd, s->name, s->dir_fd, cname) < 0) {
		r = -errno;
		*ret_err = xasprintf("pack: committing '%s': %m", s->name);
		return r;
	}
	/* Committed: from here on the set is published, by us or by the next
	 * run's recovery.  Abort must not remove it any more. */
	free(s->name);
	s->name = NULL;
	if (fsync(s->dir_fd) < 0 && errno != EINVAL) {
		r = -errno;
		*ret_err = xasprintf("pack: syncing the output directory after the commit: %m");
		goto done;
	}
	test_kill("committed");
	r = roll_forward(s->dir_fd, s->fd, cname, tarball, ret_warn, ret_err);
done:
	close(s->fd);
	s->fd = -EBADF;
	return r;
}

int output_recover(int dir_fd, void (*note)(const char *msg, void *userdata), void *userdata,
		   char **ret_err)
{
	int dup_fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* not dup(): its own offset */
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	if (!d) {
		r = -errno;
		if (dup_fd >= 0)
			close(dup_fd);
		*ret_err = xasprintf("pack: reading the output directory: %s", strerror(-r));
		return r;
	}
	while ((de = readdir(d)))
		if (has_prefix(de->d_name, STAGE_PREFIX) || has_prefix(de->d_name, COMMIT_PREFIX) ||
		    has_prefix(de->d_name, ".tmp.")) {
			xgrow(&names, &cap, n + 1, sizeof(*names));
			names[n++] = xstrdup(de->d_name);
		}
	closedir(d);

	for (size_t i = 0; i < n && r == 0; i++) {
		const char *name = names[i];
		struct stat st;
		int fd;

		if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (has_prefix(name, ".tmp.")) {
			if (!S_ISREG(st.st_mode))
				continue;
			if (unlinkat(dir_fd, name, 0) == 0 && note) {
				_cleanup_free_ char *m = xasprintf("removed the leftover temporary file '%s'", name);
				note(m, userdata);
			}
			continue;
		}
		if (!S_ISDIR(st.st_mode))
			continue;
		fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd); /* a live packer's */
			continue;
		}
		if (has_prefix(name, STAGE_PREFIX)) {
			remove_stage(dir_fd, fd, name);
			if (note) {
				_cleanup_free_ char *m = xasprintf("removed the unfinished output set '%s'", name);
				note(m, userdata);
			}
		} else {
			_cleanup_free_ char *warn = NULL;

			r = roll_forward(dir_fd, fd, name, NULL, &warn, ret_err);
			if (r == 0 && note) {
				_cleanup_free_ char *m = xasprintf("finished publishing the output set '%s'%s%s",
								   name, warn ? ": " : "", warn ? warn : "");
				note(m, userdata);
			}
		}
		close(fd);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}
