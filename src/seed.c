// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * seed.c - seed lookup under builds/ as catalyst's file_check (seed.h).
 */
#include "seed.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const SeedExt seed_formats[] = {
	{ ".tar.xz", SEED_TARBALL },     { ".tar.zstd", SEED_TARBALL }, { ".tar.zst", SEED_TARBALL },
	{ ".tar.pzstd", SEED_TARBALL },  { ".tar.bz2", SEED_TARBALL },  { ".tbz2", SEED_TARBALL },
	{ ".tar.gz", SEED_TARBALL },     { ".tgz", SEED_TARBALL },      { ".tar.lz4", SEED_TARBALL },
	{ ".tar.lzma", SEED_TARBALL },   { ".tar.lz", SEED_TARBALL },   { ".tar.lzip", SEED_TARBALL },
	{ ".tar.lzop", SEED_TARBALL },   { ".tar", SEED_TARBALL },
	{ ".squashfs", SEED_SQUASHFS },  { ".sfs", SEED_SQUASHFS },     { ".sqfs", SEED_SQUASHFS },
};
const unsigned seed_n_formats = ELEMENTSOF(seed_formats);

/* catalyst's file_check leaves these out of its glob. */
static const char *const not_seeds[] = { ".CONTENTS", ".CONTENTS.gz", ".DIGESTS", ".sha256" };

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);
	return n >= m && strcmp(s + n - m, tail) == 0;
}

bool seed_format_of(const char *name, SeedFormat *ret)
{
	for (unsigned i = 0; i < seed_n_formats; i++)
		if (ends_with(name, seed_formats[i].ext)) {
			if (ret)
				*ret = seed_formats[i].format;
			return true;
		}
	return false;
}

static bool plain_relpath(const char *p)
{
	if (!p || !*p || p[0] == '/')
		return false;
	for (const char *s = p; *s;) {
		size_t n = strcspn(s, "/");
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += n;
		if (*s == '/')
			s++;
	}
	return !ends_with(p, "/");
}

/* Whether REL below DIR_FD, or a directory on its way, is a symlink. */
static bool has_symlink(int dir_fd, const char *rel)
{
	_cleanup_free_ char *p = xstrdup(rel);
	struct stat s;

	for (;;) {
		char *slash;
		if (fstatat(dir_fd, p, &s, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(s.st_mode))
			return true;
		slash = strrchr(p, '/');
		if (!slash)
			return false;
		*slash = '\0';
	}
}

static int fill(int builds_fd, const char *builds_path, char *name, Seed *ret, char **ret_err)
{
	char real[PATH_MAX];
	SeedFormat f = SEED_TARBALL;
	struct stat s;

	if (fstatat(builds_fd, name, &s, 0) < 0 || !S_ISREG(s.st_mode)) {
		*ret_err = xasprintf("seed '%s/%s' is not a regular file (after its symlinks)", builds_path, name);
		free(name);
		return -EMEDIUMTYPE;
	}
	(void) seed_format_of(name, &f);
	*ret = (Seed) { .name = name, .format = f };
	ret->path = xasprintf("%s/%s", builds_path, name);
	ret->symlink = has_symlink(builds_fd, name);
	ret->target = realpath(ret->path, real) ? xstrdup(real) : xstrdup(ret->path);
	return 0;
}

int seed_resolve(int builds_fd, const char *builds_path, const char *sub, Seed *ret, char **ret_err)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int dfd = -EBADF;
	const char *base;
	char **found = NULL;
	size_t n = 0, cap = 0;
	struct stat s;
	DIR *d;
	int r;

	*ret = (Seed) { 0 };
	if (!plain_relpath(sub)) {
		*ret_err = xasprintf("source_subpath '%s' must be a relative path inside builds/ "
				     "(no '.', '..' or empty components)", sub ? sub : "");
		return -EINVAL;
	}
	/* 1. The exact file. */
	if (fstatat(builds_fd, sub, &s, 0) == 0 && S_ISREG(s.st_mode))
		return fill(builds_fd, builds_path, xstrdup(sub), ret, ret_err);

	/* 2. SUB.* in SUB's directory, as glob.glob("SUB.*"). */
	base = strrchr(sub, '/');
	if (base) {
		dir = xstrndup(sub, (size_t) (base - sub));
		base++;
		dfd = openat(builds_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		base = sub;
		dfd = fcntl(builds_fd, F_DUPFD_CLOEXEC, 3);
	}
	d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (d) {
		size_t bl = strlen(base);
		struct dirent *de;

		dfd = -EBADF; /* owned by d */
		while ((de = readdir(d))) {
			bool skip = false;
			if (strncmp(de->d_name, base, bl) != 0 || de->d_name[bl] != '.' || de->d_name[bl + 1] == '\0')
				continue;
			for (size_t i = 0; i < ELEMENTSOF(not_seeds); i++)
				if (ends_with(de->d_name, not_seeds[i]))
					skip = true;
			if (skip)
				continue;
			xgrow(&found, &cap, n + 2, sizeof(char *));
			found[n++] = dir ? xasprintf("%s/%s", dir, de->d_name) : xstrdup(de->d_name);
			found[n] = NULL;
		}
		closedir(d);
	}
	if (n == 0) {
		*ret_err = xasprintf("seed '%s' not found: no file %s/%s nor %s/%s.* (e.g. .tar.xz)", sub, builds_path,
				     sub, builds_path, sub);
		return -ENOENT;
	}
	if (n > 1) {
		Buf b = { 0 };
		/* readdir order is arbitrary: name them sorted. */
		for (size_t i = 0; i < n; i++)
			for (size_t j = i + 1; j < n; j++)
				if (strcmp(found[j], found[i]) < 0) {
					char *t = found[i];
					found[i] = found[j];
					found[j] = t;
				}
		buf_printf(&b, "seed '%s' is ambiguous: ", sub);
		for (size_t i = 0; i < n; i++)
			buf_printf(&b, "%s%s/%s", i ? ", " : "", builds_path, found[i]);
		buf_puts(&b, " all match; give source_subpath with its extension");
		*ret_err = buf_steal(&b);
		strv_free(found);
		return -ENOTUNIQ;
	}
	if (!seed_format_of(found[0], NULL)) {
		Buf b = { 0 };
		buf_printf(&b, "seed '%s/%s' has no extension catalyst reads (", builds_path, found[0]);
		for (unsigned i = 0; i < seed_n_formats; i++)
			buf_printf(&b, "%s%s", i ? " " : "", seed_formats[i].ext);
		buf_puts(&b, ")");
		*ret_err = buf_steal(&b);
		strv_free(found);
		return -EMEDIUMTYPE;
	}
	r = fill(builds_fd, builds_path, TAKE_PTR(found[0]), ret, ret_err);
	strv_free(found);
	return r;
}

void seed_done(Seed *s)
{
	free(s->name);
	free(s->path);
	free(s->target);
	*s = (Seed) { 0 };
}
