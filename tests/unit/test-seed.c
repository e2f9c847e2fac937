// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-seed.c - unit tests for seed.c: each rule of catalyst's file_check
 * (exact file, NAME.* glob with its exclusions, ambiguity), symlinks,
 * every extension, and the refusals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seed.h"
#include "util.h"

typedef struct Fx {
	char dir[64];
	int fd;
} Fx;

static int setup(void **state)
{
	Fx *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/test-seed-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->fd >= 0);
	assert_int_equal(mkdirat(f->fd, "rel", 0755), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	Fx *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	close(f->fd);
	free(f);
	return 0;
}

static void touch(Fx *f, const char *name)
{
	int fd = openat(f->fd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
}

static int resolve(Fx *f, const char *sub, Seed *s, char **err)
{
	*err = NULL;
	return seed_resolve(f->fd, f->dir, sub, s, err);
}

static void test_exact_first(void **state)
{
	Fx *f = *state;
	Seed s;
	char *err;

	/* The exact file wins over NAME.* even when those exist (no .tar.xz.tar.xz). */
	touch(f, "rel/stage3-latest.tar.xz");
	touch(f, "rel/stage3-latest.tar.xz.asc");
	assert_int_equal(resolve(f, "rel/stage3-latest.tar.xz", &s, &err), 0);
	assert_string_equal(s.name, "rel/stage3-latest.tar.xz");
	assert_int_equal(s.format, SEED_TARBALL);
	assert_false(s.symlink);
	seed_done(&s);
}

static void test_glob_exclusions(void **state)
{
	Fx *f = *state;
	Seed s;
	char *err;

	touch(f, "rel/stage1-x.tar.xz");
	touch(f, "rel/stage1-x.tar.xz.CONTENTS");
	touch(f, "rel/stage1-x.tar.xz.CONTENTS.gz");
	touch(f, "rel/stage1-x.tar.xz.DIGESTS");
	touch(f, "rel/stage1-x.tar.xz.sha256");
	touch(f, "rel/stage1-xy.tar.xz"); /* not "stage1-x." */
	assert_int_equal(resolve(f, "rel/stage1-x", &s, &err), 0);
	assert_string_equal(s.name, "rel/stage1-x.tar.xz");
	seed_done(&s);
}

static void test_ambiguous(void **state)
{
	Fx *f = *state;
	Seed s;
	char *err;

	touch(f, "rel/a.tar.xz");
	touch(f, "rel/a.tar.bz2");
	assert_int_equal(resolve(f, "rel/a", &s, &err), -ENOTUNIQ);
	assert_non_null(strstr(err, "ambiguous"));
	assert_non_null(strstr(err, "rel/a.tar.xz"));
	assert_non_null(strstr(err, "rel/a.tar.bz2"));
	free(err);
}

static void test_not_found(void **state)
{
	Fx *f = *state;
	Seed s;
	char *err;

	touch(f, "rel/b.tar.xz.DIGESTS");
	assert_int_equal(resolve(f, "rel/b", &s, &err), -ENOENT);
	assert_non_null(strstr(err, "not found"));
	free(err);
	assert_int_equal(resolve(f, "nodir/b", &s, &err), -ENOENT);
	free(err);
}

static void test_symlinks(void **state)
{
	Fx *f = *state;
	Seed s;
	char *err;

	/* catalyst-auto: a dated file and a -latest link to it. */
	touch(f, "rel/stage3-amd64-20260101T000000Z.tar.xz");
	assert_int_equal(symlinkat("stage3-amd64-20260101T000000Z.tar.xz", f->fd, "rel/stage3-amd64-latest.tar.xz"), 0);
	assert_int_equal(resolve(f, "rel/stage3-amd64-latest", &s, &err), 0);
	assert_string_equal(s.name, "rel/stage3-amd64-latest.tar.xz");
	assert_true(s.symlink);
	assert_non_null(strstr(s.target, "stage3-amd64-20260101T000000Z.tar.xz"));
	seed_done(&s);
	assert_int_equal(resolve(f, "rel/stage3-amd64-latest.tar.xz", &s, &err), 0);
	assert_true(s.symlink);
	seed_done(&s);

	/* A directory on the way may be a link too. */
	assert_int_equal(symlinkat("rel", f->fd, "alias"), 0);
	assert_int_equal(resolve(f, "alias/stage3-amd64-latest", &s, &err), 0);
	assert_true(s.symlink);
	seed_done(&s);

	/* Dangling, and to a directory: refused. */
	assert_int_equal(symlinkat("nowhere.tar.xz", f->fd, "rel/dead.tar.xz"), 0);
	assert_int_equal(resolve(f, "rel/dead", &s, &err), -EMEDIUMTYPE);
	assert_non_null(strstr(err, "regular file"));
	free(err);
	assert_int_equal(mkdirat(f->fd, "rel/d.tar.xz", 0755), 0);
	assert_int_equal(resolve(f, "rel/d", &s, &err), -EMEDIUMTYPE);
	free(err);
}

static void test_every_extension(void **state)
{
	Fx *f = *state;

	for (unsigned i = 0; i < seed_n_formats; i++) {
		char name[64], sub[64];
		Seed s;
		char *err;

		snprintf(sub, sizeof(sub), "rel/e%u", i);
		snprintf(name, sizeof(name), "%s%s", sub, seed_formats[i].ext);
		touch(f, name);
		assert_int_equal(resolve(f, sub, &s, &err), 0);
		assert_string_equal(s.name, name);
		assert_int_equal(s.format, seed_formats[i].format);
		seed_done(&s);
	}
	SeedFormat fm;
	assert_true(seed_format_of("x.tar.zstd", &fm) && fm == SEED_TARBALL);
	assert_true(seed_format_of("x.sfs", &fm) && fm == SEED_SQUASHFS);
	assert_true(seed_format_of("x.tbz2", &fm) && fm == SEED_TARBALL);
	assert_false(seed_format_of("x.zip", &fm));
}

static void test_unknown_extension(void **state)
{
	Fx *f = *state;
	Seed s;
	char *err;

	touch(f, "rel/u.zip");
	assert_int_equal(resolve(f, "rel/u", &s, &err), -EMEDIUMTYPE);
	assert_non_null(strstr(err, ".tar.xz"));
	free(err);
}

static void test_bad_paths(void **state)
{
	Fx *f = *state;
	Seed s;
	char *err;
	const char *bad[] = { "", "/abs", "../x", "a/../x", "a/./x", "a//x", "a/" };

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		assert_int_equal(resolve(f, bad[i], &s, &err), -EINVAL);
		free(err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exact_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_glob_exclusions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ambiguous, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_extension, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_extension, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_paths, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
