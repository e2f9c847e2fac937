// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for store.c: layout creation and refusal of unsafe stores. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "store.h"

static char dir[64];
static char store[128];

static int setup(void **state)
{
	(void) state;
	strcpy(dir, "/tmp/zeolite-test-store.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(store, sizeof(store), "%s/store", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];

	(void) state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void expect_refused(const char *want)
{
	Store s = STORE_INIT;
	char *why = NULL;

	assert_int_equal(store_open(store, &s, &why), -EPERM);
	assert_non_null(why);
	if (!strstr(why, want))
		fail_msg("message '%s' does not contain '%s'", why, want);
	free(why);
	assert_int_equal(s.fd, -EBADF);
}

static void test_creates_layout(void **state)
{
	static const char *const dirs[] = { "snapshots", "cache", "cache/snapshots", "cache/seeds",
					    "builds", "tmp", "packages", "kerncache", "locks" };
	Store s = STORE_INIT;
	char *why = NULL, p[256];
	struct stat st;

	(void) state;
	/* Parents are created too, as catalyst does for its storedir. */
	snprintf(store, sizeof(store), "%s/a/b/store/", dir);
	assert_int_equal(store_open(store, &s, &why), 0);
	assert_null(why);
	assert_true(s.fd >= 0 && s.snapshots_fd >= 0 && s.cache_snapshots_fd >= 0 && s.cache_seeds_fd >= 0);
	assert_int_equal(strcmp(s.path + strlen(s.path) - 6, "/store"), 0);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/a/b/store/%s", dir, dirs[i]);
		assert_int_equal(lstat(p, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		assert_int_equal(st.st_mode & 022, 0);
	}
	/* The fds are O_CLOEXEC. */
	assert_true(fcntl(s.cache_fd, F_GETFD) & FD_CLOEXEC);
	store_close(&s);
	store_close(&s); /* idempotent */
	/* Opening again keeps what is there. */
	snprintf(p, sizeof(p), "%s/a/b/store/snapshots/x.sqfs", dir);
	int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(store_open(store, &s, &why), 0);
	assert_int_equal(faccessat(s.snapshots_fd, "x.sqfs", F_OK, 0), 0);
	store_close(&s);
}

static void test_refuses_symlink(void **state)
{
	char target[128];

	(void) state;
	snprintf(target, sizeof(target), "%s/real", dir);
	assert_int_equal(mkdir(target, 0755), 0);
	assert_int_equal(symlink(target, store), 0);
	expect_refused("is a symlink");
}

static void test_refuses_group_writable(void **state)
{
	(void) state;
	assert_int_equal(mkdir(store, 0755), 0);
	assert_int_equal(chmod(store, 0775), 0);
	expect_refused("writable by group or others (mode 0775)");
}

static void test_refuses_world_writable_part(void **state)
{
	Store s = STORE_INIT;
	char *why = NULL, p[256];
	struct stat st;

	(void) state;
	assert_int_equal(store_open(store, &s, &why), 0);
	store_close(&s);
	snprintf(p, sizeof(p), "%s/cache/snapshots", store);
	assert_int_equal(chmod(p, 0777), 0);
	expect_refused("cache/snapshots' is writable by group or others");
	/* Refusing changed nothing. */
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0777);
}

static void test_refuses_foreign_owner(void **state)
{
	Store s = STORE_INIT;
	char *why = NULL, p[256];

	(void) state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(store_open(store, &s, &why), 0);
	store_close(&s);
	snprintf(p, sizeof(p), "%s/builds", store);
	assert_int_equal(chown(p, 1234, 1234), 0);
	expect_refused("builds' is owned by uid 1234");
}

static void test_refuses_symlinked_part(void **state)
{
	char p[256];

	(void) state;
	assert_int_equal(mkdir(store, 0755), 0);
	snprintf(p, sizeof(p), "%s/snapshots", store);
	assert_int_equal(symlink("/etc", p), 0);
	expect_refused("snapshots' is a symlink");
}

static void test_refuses_file(void **state)
{
	(void) state;
	int fd = open(store, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	expect_refused("is not a directory");
}

/* store_open_readonly(): a missing store is -ENOENT naming it, and
 * nothing is created; missing parts read as absent (-EBADF fds). */
static void test_readonly_creates_nothing(void **state)
{
	Store s = STORE_INIT;
	char *err = NULL;
	char want[160];
	struct stat st;

	(void) state;
	assert_int_equal(store_open_readonly(store, &s, &err), -ENOENT);
	snprintf(want, sizeof(want), "'%s' does not exist", store);
	assert_string_equal(err, want);
	free(err);
	err = NULL;
	assert_int_equal(stat(store, &st), -1);

	assert_int_equal(mkdir(store, 0755), 0);
	assert_int_equal(store_open_readonly(store, &s, &err), 0);
	assert_null(err);
	assert_true(s.fd >= 0);
	assert_int_equal(s.snapshots_fd, -EBADF);
	assert_int_equal(s.cache_seeds_fd, -EBADF);
	store_close(&s);
	assert_int_equal(rmdir(store), 0); /* still empty */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_creates_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_group_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_world_writable_part, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_foreign_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_symlinked_part, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_creates_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
