// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for jobserver.c: the broker's accounting, a build's tokens
 * back in the pool however it ends.  The builds' processes are this test,
 * reading and writing the builds' FIFOs as make would. */
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

#include "fs.h"
#include "jobserver.h"
#include "util.h"

typedef struct Fixture {
	char dir[64];
	Store st;
} Fixture;

static int setup(void **state)
{
	Fixture *f = calloc(1, sizeof(*f));
	char tmp[96];

	assert_non_null(f);
	strcpy(f->dir, "/tmp/zeolite-test-jobserver.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(tmp, sizeof(tmp), "%s/tmp", f->dir);
	assert_int_equal(mkdir(tmp, 0755), 0);
	f->st.path = f->dir;
	f->st.tmp_fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->st.tmp_fd >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	Fixture *f = *state;
	char tmp[96];

	close(f->st.tmp_fd);
	snprintf(tmp, sizeof(tmp), "%s/tmp", f->dir);
	(void) rmdir(tmp);
	(void) rmdir(f->dir);
	free(f);
	return 0;
}

/* A client's end of slot S's FIFO, as make opens fifo:PATH. */
static int client(const JobserverSlot *s)
{
	int fd = open(jobserver_slot_path(s), O_RDWR | O_NONBLOCK | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static bool take(int fd)
{
	char c;
	return read(fd, &c, 1) == 1;
}

static void give(int fd)
{
	assert_int_equal(write(fd, "+", 1), 1);
}

static void test_killed_build_returns_its_tokens(void **state)
{
	Fixture *f = *state;
	Jobserver *js = NULL;
	JobserverSlot *a = NULL, *b = NULL;
	char *err = NULL;
	int fa, fb;

	assert_int_equal(jobserver_new(&f->st, 2, &js, &err), 0);
	assert_int_equal(jobserver_pool(js), 2);
	assert_int_equal(jobserver_slot_new(js, "a", &a), 0);
	fa = client(a);
	/* Build a takes both tokens, as its make asks for them. */
	assert_true(take(fa));
	jobserver_balance(js);
	assert_true(take(fa));
	assert_int_equal(jobserver_pool(js), 0);
	/* Build b starts: nothing left for it. */
	assert_int_equal(jobserver_slot_new(js, "b", &b), 0);
	fb = client(b);
	jobserver_balance(js);
	assert_false(take(fb));
	/* a is killed holding both: they come back, b gets them. */
	close(fa);
	unsigned back = 9, lost = 9;
	jobserver_slot_end(js, &a, &back, &lost);
	assert_null(a);
	assert_int_equal(back, 0);
	assert_int_equal(lost, 2);
	assert_int_equal(jobserver_pool(js) + 1, 2); /* one went to b's FIFO at once */
	assert_true(take(fb));
	jobserver_balance(js);
	assert_true(take(fb));
	assert_int_equal(jobserver_pool(js), 0);
	/* b gives one back: after a tick unread, it is the pool's again. */
	give(fb);
	jobserver_balance(js);
	jobserver_balance(js);
	assert_int_equal(jobserver_pool(js), 1);
	/* b ends normally with one token in hand: the pool is whole. */
	close(fb);
	jobserver_slot_end(js, &b, &back, &lost);
	assert_int_equal(back, 0);
	assert_int_equal(lost, 1);
	assert_int_equal(jobserver_pool(js), jobserver_tokens(js));
	jobserver_free(js);
}

static void test_idle_tokens_go_to_others(void **state)
{
	Fixture *f = *state;
	Jobserver *js = NULL;
	JobserverSlot *a = NULL, *b = NULL;
	char *err = NULL;
	int fb;

	assert_int_equal(jobserver_new(&f->st, 1, &js, &err), 0);
	assert_int_equal(jobserver_slot_new(js, "a", &a), 0);
	assert_int_equal(jobserver_slot_new(js, "b", &b), 0);
	fb = client(b);
	/* The one token sits in a's FIFO, unread; within two ticks it moves. */
	bool got = false;
	for (int i = 0; i < 4 && !(got = take(fb)); i++)
		jobserver_balance(js);
	assert_true(got);
	assert_int_equal(jobserver_pool(js), 0);
	close(fb);
	jobserver_slot_end(js, &b, NULL, NULL); /* b had it in hand */
	jobserver_slot_end(js, &a, NULL, NULL);
	assert_int_equal(jobserver_pool(js), 1);
	jobserver_free(js);
}

static void test_check_fifo(void **state)
{
	Fixture *f = *state;
	char p[128];
	char *err = NULL;

	snprintf(p, sizeof(p), "%s/tmp/f", f->dir);
	assert_int_equal(jobserver_check_fifo(p, &err), -EINVAL);
	assert_non_null(strstr(err, "No such file"));
	free(err);
	err = NULL;
	assert_int_equal(jobserver_check_fifo(f->dir, &err), -EINVAL);
	assert_non_null(strstr(err, "is not a FIFO or a character device"));
	free(err);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(jobserver_check_fifo(p, &err), 0);
	assert_int_equal(jobserver_check_fifo("/dev/null", &err), 0);
	unlink(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_killed_build_returns_its_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_tokens_go_to_others, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_fifo, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
