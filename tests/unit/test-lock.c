// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for lock.c: OFD byte locks with timeout, owner records and
 * registrations.  Holders are real child processes synchronised by pipes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "lock.h"

static char dir[] = "/tmp/zeolite-test-lock.XXXXXX";
static char path[128];

static int setup(void **state)
{
	(void) state;
	strcpy(dir, "/tmp/zeolite-test-lock.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/f.lock", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];

	(void) state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Fork a child that opens PATH itself (its own open file description),
 * takes TYPE on BYTE, reports on a pipe and then waits until its stdin
 * pipe closes or it is killed.  Returns its pid; *ret_release is the fd
 * whose closing lets it go. */
static pid_t spawn_holder(off_t byte, short type, int *ret_release)
{
	int ready[2], release[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(release, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0 || lock_byte(fd, byte, type, 0) < 0)
			_exit(2);
		(void) !write(ready[1], "x", 1);
		close(release[1]);
		(void) !read(release[0], &c, 1);
		_exit(0);
	}
	close(ready[1]);
	close(release[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	*ret_release = release[1];
	return pid;
}

static void reap(pid_t pid)
{
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

static int open_lock(void)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	return fd;
}

static void test_try_busy(void **state)
{
	int rel, fd;
	pid_t pid;

	(void) state;
	pid = spawn_holder(0, F_WRLCK, &rel);
	fd = open_lock();
	assert_int_equal(lock_byte(fd, 0, F_WRLCK, 0), -EAGAIN);
	assert_int_equal(lock_byte(fd, 0, F_RDLCK, 0), -EAGAIN);
	/* Another byte is another lock. */
	assert_int_equal(lock_byte(fd, 1, F_WRLCK, 0), 0);
	assert_int_equal(lock_byte_test(fd, 0, F_RDLCK), 1);
	close(rel);
	reap(pid);
	assert_int_equal(lock_byte_test(fd, 0, F_WRLCK), 0);
	assert_int_equal(lock_byte(fd, 0, F_WRLCK, 0), 0);
	close(fd);
}

static void test_timeout(void **state)
{
	int rel, fd;
	int64_t t0, dt;
	pid_t pid;

	(void) state;
	pid = spawn_holder(0, F_WRLCK, &rel);
	fd = open_lock();
	t0 = now_ms();
	assert_int_equal(lock_byte(fd, 0, F_RDLCK, 200), -ETIMEDOUT);
	dt = now_ms() - t0;
	assert_true(dt >= 195);
	assert_true(dt < 1500);
	/* The helper child that waited is gone: no child is left. */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), 0);
	close(rel);
	reap(pid);
	close(fd);
}

static void test_wait_until_released(void **state)
{
	int rel, fd, status;
	pid_t pid, waiter;

	(void) state;
	pid = spawn_holder(0, F_WRLCK, &rel);
	waiter = fork();
	assert_true(waiter >= 0);
	if (waiter == 0) {
		close(rel); /* only the parent may let the holder go */
		int f = open(path, O_RDWR | O_CLOEXEC);
		_exit(lock_byte(f, 0, F_WRLCK, 10000) == 0 ? 0 : 1);
	}
	/* The waiter sleeps in the kernel until we let the holder go. */
	close(rel);
	reap(pid);
	assert_int_equal(waitpid(waiter, &status, 0), waiter);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	fd = open_lock();
	assert_int_equal(lock_byte(fd, 0, F_WRLCK, 0), 0);
	close(fd);
}

static void test_killed_holder_releases(void **state)
{
	int rel, fd;
	pid_t pid;

	(void) state;
	pid = spawn_holder(0, F_WRLCK, &rel);
	fd = open_lock();
	assert_int_equal(lock_byte(fd, 0, F_WRLCK, 0), -EAGAIN);
	kill(pid, SIGKILL);
	reap(pid);
	close(rel);
	assert_int_equal(lock_byte(fd, 0, F_WRLCK, 0), 0);
	close(fd);
}

static void test_ofd_survives_other_close(void **state)
{
	int fd1, fd2, rel;
	pid_t pid;

	(void) state;
	fd1 = open_lock();
	assert_int_equal(lock_byte(fd1, 0, F_WRLCK, 0), 0);
	/* With classic POSIX locks, this close would drop fd1's lock. */
	fd2 = open_lock();
	close(fd2);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int f = open(path, O_RDWR | O_CLOEXEC);
		_exit(lock_byte(f, 0, F_RDLCK, 0) == -EAGAIN ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	close(fd1);
	(void) rel;
}

static void test_shared_and_convert(void **state)
{
	int rel, fd;
	pid_t pid;

	(void) state;
	pid = spawn_holder(1, F_RDLCK, &rel);
	fd = open_lock();
	assert_int_equal(lock_byte(fd, 1, F_RDLCK, 0), 0);
	assert_int_equal(lock_byte(fd, 1, F_WRLCK, 0), -EAGAIN);
	close(rel);
	reap(pid);
	assert_int_equal(lock_byte(fd, 1, F_WRLCK, 0), 0);
	/* Convert back to shared atomically; a second reader fits. */
	assert_int_equal(lock_byte(fd, 1, F_RDLCK, 0), 0);
	pid = spawn_holder(1, F_RDLCK, &rel);
	close(rel);
	reap(pid);
	close(fd);
}

static void test_owner_record(void **state)
{
	LockOwner o, back;
	int fd;

	(void) state;
	fd = open_lock();
	assert_int_equal(lock_owner_read(fd, &back), -ENODATA);
	lock_owner_self(&o, "preparing", "gentoo-x.sqfs");
	snprintf(o.progress, sizeof(o.progress), "45%% unpacked");
	assert_int_equal(lock_owner_write(fd, &o), 0);
	assert_int_equal(lock_owner_read(fd, &back), 0);
	assert_int_equal(back.pid, getpid());
	assert_string_equal(back.state, "preparing");
	assert_string_equal(back.entry, "gentoo-x.sqfs");
	assert_string_equal(back.host, o.host);
	assert_int_equal(back.since, o.since);
	/* A shorter record replaces a longer one completely. */
	snprintf(o.progress, sizeof(o.progress), "1%%");
	assert_int_equal(lock_owner_write(fd, &o), 0);
	assert_int_equal(lock_owner_read(fd, &back), 0);
	assert_string_equal(back.progress, "1%");

	char *d = lock_owner_describe(&back);
	char want[400];
	snprintf(want, sizeof(want), "pid %d on %s (", (int) getpid(), o.host);
	assert_true(strncmp(d, want, strlen(want)) == 0);
	assert_non_null(strstr(d, ", 1%)"));
	free(d);
	close(fd);
}

typedef struct Seen {
	int alive;
	int dead;
} Seen;

static void count(void *userdata, const char *name, const LockOwner *o, bool alive)
{
	Seen *s = userdata;
	(void) name;
	(void) o;
	if (alive)
		s->alive++;
	else
		s->dead++;
}

static void test_registrations(void **state)
{
	LockRegistration r = LOCK_REGISTRATION_INIT;
	int dfd, p[2];
	LockOwner o;
	Seen seen = { 0 };
	pid_t pid;
	char c;

	(void) state;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	lock_owner_self(&o, "using", "x");
	assert_int_equal(lock_register(dfd, "snapshots.abc", &o, &r), 0);

	/* A child registers and is killed: its record stays but is dead. */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		LockRegistration cr = LOCK_REGISTRATION_INIT;
		LockOwner co;
		lock_owner_self(&co, "waiting", "x");
		if (lock_register(dfd, "snapshots.abc", &co, &cr) < 0)
			_exit(2);
		(void) !write(p[1], "x", 1);
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	assert_int_equal(lock_registrations_list(dfd, "snapshots.abc.", count, &seen), 0);
	assert_int_equal(seen.alive, 2);
	assert_int_equal(seen.dead, 0);
	kill(pid, SIGKILL);
	reap(pid);
	seen = (Seen) { 0 };
	assert_int_equal(lock_registrations_list(dfd, "snapshots.abc.", count, &seen), 0);
	assert_int_equal(seen.alive, 1);
	assert_int_equal(seen.dead, 1);
	assert_int_equal(lock_registrations_prune(dfd), 1);
	seen = (Seen) { 0 };
	assert_int_equal(lock_registrations_list(dfd, "other.", count, &seen), 0);
	assert_int_equal(seen.alive + seen.dead, 0);

	lock_unregister(&r);
	lock_unregister(&r); /* idempotent */
	seen = (Seen) { 0 };
	assert_int_equal(lock_registrations_list(dfd, NULL, count, &seen), 0);
	assert_int_equal(seen.alive + seen.dead, 0);
	close(dfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_try_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_until_released, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_holder_releases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ofd_survives_other_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_and_convert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registrations, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
