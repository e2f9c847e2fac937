// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the cache protocol (cache.c) with a fill callback that
 * writes a small tree.  Competing processes are real forked children;
 * crashes are real SIGKILLs; synchronisation is by pipes, never sleeps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "cache.h"

#define ID_A "0123456789abcdef0123456789abcdef"
#define ID_B "fedcba9876543210fedcba9876543210"

static char dir[64];
static Store st = STORE_INIT;

typedef struct Fill {
	int files;
	int block_fd;   /* >= 0: after half the files, report on notify_fd and block reading this */
	int notify_fd;
	int fail;       /* return this error */
	int count_fd;   /* each call appends one byte here */
} Fill;

static int fill_tree(void *userdata, int dest_fd, CacheProgress *progress, uint64_t *ret_files,
		     uint64_t *ret_bytes, char **ret_err)
{
	Fill *f = userdata;
	char name[32], c;

	if (f->count_fd >= 0)
		(void) !write(f->count_fd, "x", 1);
	if (f->fail) {
		*ret_err = xstrdup("fill failed on purpose");
		return f->fail;
	}
	for (int i = 0; i < f->files; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		int fd = openat(dest_fd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		(void) !write(fd, name, strlen(name));
		close(fd);
		cache_progress(progress, (uint64_t) i + 1, (uint64_t) f->files);
		if (i == f->files / 2 && f->block_fd >= 0) {
			(void) !write(f->notify_fd, "h", 1);
			(void) !read(f->block_fd, &c, 1);
		}
	}
	*ret_files = (uint64_t) f->files;
	*ret_bytes = (uint64_t) f->files * 4;
	return syncfs(dest_fd) < 0 ? -errno : 0;
}

static CacheRequest request(const char *id, Fill *f, long timeout_ms)
{
	return (CacheRequest) {
		.kind = CACHE_SNAPSHOTS,
		.id = id,
		.label = "gentoo-test.tar.xz",
		.group = "gentoo",
		.timeout_ms = timeout_ms,
		.fill = fill_tree,
		.userdata = f,
	};
}

static int setup(void **state)
{
	char *why = NULL, p[128];

	(void) state;
	strcpy(dir, "/tmp/zeolite-test-cache.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(p, sizeof(p), "%s/store", dir);
	if (store_open(p, &st, &why) < 0) {
		free(why);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];

	(void) state;
	store_close(&st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int count_entries(const char *prefix)
{
	char p[512];
	int n = 0;

	snprintf(p, sizeof(p), "ls -a '%s/store/cache/snapshots' | grep -c '^%s' > '%s/count'", dir, prefix, dir);
	(void) !system(p);
	snprintf(p, sizeof(p), "%s/count", dir);
	FILE *f = fopen(p, "re");
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

static void assert_tree_complete(const char *path, int files)
{
	char p[256];
	struct stat s;

	for (int i = 0; i < files; i++) {
		snprintf(p, sizeof(p), "%s/f%03d", path, i);
		assert_int_equal(stat(p, &s), 0);
		assert_int_equal(s.st_size, 4);
	}
	snprintf(p, sizeof(p), "%s/f%03d", path, files);
	assert_int_not_equal(stat(p, &s), 0);
}

static void test_cold_then_reused(void **state)
{
	Fill f = { .files = 20, .block_fd = -1, .count_fd = -1 };
	CacheRequest req = request(ID_A, &f, 1000);
	CacheLease l = CACHE_LEASE_INIT;
	char *err = NULL, p[256];
	struct stat s;

	(void) state;
	assert_int_equal(cache_acquire(&st, &req, &l, &err), 0);
	assert_int_equal(l.action, CACHE_UNPACKED);
	assert_null(l.recovered);
	assert_tree_complete(l.path, 20);
	snprintf(p, sizeof(p), "%s/store/cache/snapshots/%s/stamp", dir, ID_A);
	assert_int_equal(stat(p, &s), 0);
	cache_release(&l);
	cache_release(&l);

	f.fail = -EIO; /* must not be called again */
	assert_int_equal(cache_acquire(&st, &req, &l, &err), 0);
	assert_int_equal(l.action, CACHE_REUSED);
	assert_int_equal(l.waited_ms, 0);
	cache_release(&l);
	assert_int_equal(count_entries(".tmp."), 0);
}

static void test_concurrent_once(void **state)
{
	enum { N = 8 };
	int count[2], res[2], go[2];
	pid_t pids[N];
	char buf[64];
	int unpacked = 0, other = 0;

	(void) state;
	assert_int_equal(pipe2(count, O_CLOEXEC), 0);
	assert_int_equal(pipe2(res, O_CLOEXEC), 0);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			Fill f = { .files = 200, .block_fd = -1, .count_fd = count[1] };
			CacheRequest req = request(ID_A, &f, 20000);
			CacheLease l = CACHE_LEASE_INIT;
			char *err = NULL, c;

			close(go[1]);
			(void) !read(go[0], &c, 1); /* start together */
			if (cache_acquire(&st, &req, &l, &err) < 0)
				_exit(3);
			assert_tree_complete(l.path, 200);
			(void) !write(res[1], cache_action_name(l.action), 1);
			_exit(0);
		}
	}
	close(go[0]);
	close(go[1]); /* all children start now */
	close(count[1]);
	close(res[1]);
	for (int i = 0; i < N; i++) {
		int status;
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	ssize_t n = read(count[0], buf, sizeof(buf));
	assert_int_equal(n, 1); /* one fill in all */
	n = read(res[0], buf, sizeof(buf));
	assert_int_equal(n, N);
	for (int i = 0; i < N; i++) {
		if (buf[i] == 'u')
			unpacked++;
		else if (buf[i] == 'w' || buf[i] == 'r')
			other++;
	}
	assert_int_equal(unpacked, 1);
	assert_int_equal(other, N - 1);
	close(count[0]);
	close(res[0]);
}

/* A preparer that stops half-way and is killed for real. */
static pid_t spawn_blocked_preparer(const char *id, int *ret_release)
{
	int notify[2], block[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe2(notify, O_CLOEXEC), 0);
	assert_int_equal(pipe2(block, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		Fill f = { .files = 20, .block_fd = block[0], .notify_fd = notify[1], .count_fd = -1 };
		CacheRequest req = request(id, &f, 1000);
		CacheLease l = CACHE_LEASE_INIT;
		char *err = NULL;

		close(block[1]);
		_exit(cache_acquire(&st, &req, &l, &err) < 0 ? 3 : 0);
	}
	close(notify[1]);
	close(block[0]);
	assert_int_equal(read(notify[0], &c, 1), 1); /* half-way, holding PREPARE */
	close(notify[0]);
	*ret_release = block[1];
	return pid;
}

static void test_crash_recovery(void **state)
{
	Fill f = { .files = 20, .block_fd = -1, .count_fd = -1 };
	CacheRequest req = request(ID_A, &f, 1000);
	CacheLease l = CACHE_LEASE_INIT;
	char *err = NULL;
	int rel, status;
	pid_t pid;

	(void) state;
	pid = spawn_blocked_preparer(ID_A, &rel);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(rel);
	assert_int_equal(count_entries(".tmp."), 1); /* the half tree */

	assert_int_equal(cache_acquire(&st, &req, &l, &err), 0);
	assert_int_equal(l.action, CACHE_UNPACKED);
	assert_non_null(l.recovered);
	char want[64];
	snprintf(want, sizeof(want), "by pid %d on ", (int) pid);
	if (!strstr(l.recovered, want) || !strstr(l.recovered, "did not finish; starting over"))
		fail_msg("recovered message: %s", l.recovered);
	assert_tree_complete(l.path, 20);
	cache_release(&l);
	assert_int_equal(count_entries(".tmp."), 0);
}

static void test_timeout_names_holder(void **state)
{
	Fill f = { .files = 20, .block_fd = -1, .count_fd = -1 };
	CacheRequest req = request(ID_B, &f, 300);
	CacheLease l = CACHE_LEASE_INIT;
	char *err = NULL, want[64];
	int rel, status;
	int64_t t0, dt;
	pid_t pid;

	(void) state;
	pid = spawn_blocked_preparer(ID_B, &rel);
	t0 = now_ms();
	assert_int_equal(cache_acquire(&st, &req, &l, &err), -ETIMEDOUT);
	dt = now_ms() - t0;
	assert_true(dt >= 295 && dt < 2000);
	snprintf(want, sizeof(want), "held by pid %d on ", (int) pid);
	if (!strstr(err, want) || !strstr(err, "% unpacked") || !strstr(err, "gave up after"))
		fail_msg("timeout message: %s", err);
	free(err);
	err = NULL;

	req.timeout_ms = 0;
	t0 = now_ms();
	assert_int_equal(cache_acquire(&st, &req, &l, &err), -ETIMEDOUT);
	assert_true(now_ms() - t0 < 200);
	assert_non_null(strstr(err, "not waiting (lock_timeout 0)"));
	free(err);

	close(rel); /* let it finish */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(cache_acquire(&st, &req, &l, &err), 0);
	assert_int_equal(l.action, CACHE_REUSED);
	cache_release(&l);
}

static void test_fill_failure_leaves_nothing(void **state)
{
	Fill f = { .files = 20, .block_fd = -1, .count_fd = -1, .fail = -EBADMSG };
	CacheRequest req = request(ID_A, &f, 1000);
	CacheLease l = CACHE_LEASE_INIT;
	char *err = NULL;

	(void) state;
	assert_int_equal(cache_acquire(&st, &req, &l, &err), -EBADMSG);
	assert_string_equal(err, "fill failed on purpose");
	free(err);
	assert_int_equal(count_entries(".tmp."), 0);
	assert_int_equal(count_entries(ID_A "$"), 0);
	/* A clean failure is not a crash: no "did not finish" next time. */
	f.fail = 0;
	assert_int_equal(cache_acquire(&st, &req, &l, &err), 0);
	assert_null(l.recovered);
	cache_release(&l);
}

typedef struct Removed {
	char what[8][128];
	int n;
} Removed;

static void on_gc(void *userdata, CacheKind kind, const char *what, const char *why)
{
	Removed *r = userdata;
	(void) kind;
	if (r->n < 8)
		snprintf(r->what[r->n++], sizeof(r->what[0]), "%s %s", what, why);
}

static void test_gc_respects_leases(void **state)
{
	Fill f = { .files = 5, .block_fd = -1, .count_fd = -1 };
	CacheRequest ra = request(ID_A, &f, 1000), rb = request(ID_B, &f, 1000);
	CacheLease la = CACHE_LEASE_INIT, lb = CACHE_LEASE_INIT;
	CacheGcOptions o = { .keep = 0 };
	Removed rem = { 0 };
	char *err = NULL;
	int hold[2], ready[2], status;
	pid_t pid;
	char c;

	(void) state;
	assert_int_equal(cache_acquire(&st, &ra, &la, &err), 0);
	assert_int_equal(cache_acquire(&st, &rb, &lb, &err), 0);
	cache_release(&lb);
	/* Another process holds A (a lease is per open file description, so
	 * it must be someone else's for gc to see it). */
	cache_release(&la);
	assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		ra.hold = true;
		close(hold[1]);
		if (cache_acquire(&st, &ra, &la, &err) < 0)
			_exit(3);
		(void) !write(ready[1], "x", 1);
		(void) !read(hold[0], &c, 1);
		_exit(0);
	}
	close(hold[0]);
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);

	assert_int_equal(cache_gc(&st, &o, on_gc, &rem), 0);
	assert_int_equal(count_entries(ID_A "$"), 1);
	assert_int_equal(count_entries(ID_B "$"), 0);
	bool saw_kept = false;
	for (int i = 0; i < rem.n; i++)
		saw_kept |= strstr(rem.what[i], ID_A) && strstr(rem.what[i], "kept: in use");
	assert_true(saw_kept);

	close(hold[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(ready[0]);
	assert_int_equal(cache_gc(&st, &o, on_gc, &rem), 0);
	assert_int_equal(count_entries(ID_A "$"), 0);
	/* The lock files stay (G7). */
	assert_int_equal(count_entries(ID_A ".lock"), 1);
}

static void test_gc_keeps_newest(void **state)
{
	Fill f = { .files = 2, .block_fd = -1, .count_fd = -1 };
	CacheRequest ra = request(ID_A, &f, 1000), rb = request(ID_B, &f, 1000);
	CacheLease l = CACHE_LEASE_INIT;
	CacheGcOptions o = { .keep = 1, .dry_run = true };
	Removed rem = { 0 };
	char *err = NULL;

	(void) state;
	assert_int_equal(cache_acquire(&st, &ra, &l, &err), 0);
	cache_release(&l);
	assert_int_equal(cache_acquire(&st, &rb, &l, &err), 0);
	cache_release(&l);
	assert_int_equal(cache_gc(&st, &o, on_gc, &rem), 0);
	assert_int_equal(rem.n, 1);
	assert_non_null(strstr(rem.what[0], "would remove"));
	assert_int_equal(count_entries("[0-9a-f]*$"), 2); /* dry run */
	o.dry_run = false;
	rem.n = 0;
	assert_int_equal(cache_gc(&st, &o, on_gc, &rem), 0);
	assert_int_equal(count_entries("[0-9a-f]*$"), 1);
}

static void test_source_id(void **state)
{
	char p[128], *id1 = NULL, *id2 = NULL, *id3 = NULL;
	int fd;

	(void) state;
	snprintf(p, sizeof(p), "%s/src", dir);
	fd = open(p, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, "hello", 5), 0);
	assert_int_equal(cache_source_id(&st, CACHE_SNAPSHOTS, fd, &id1), 0);
	assert_int_equal(strlen(id1), 32);
	/* sha256("hello") starts 2cf24dba5fb0a30e26e83b2ac5b9e29e */
	assert_string_equal(id1, "2cf24dba5fb0a30e26e83b2ac5b9e29e");
	assert_int_equal(cache_source_id(&st, CACHE_SNAPSHOTS, fd, &id2), 0);
	assert_string_equal(id1, id2);
	assert_int_equal(pwrite(fd, "j", 1, 0), 1);
	assert_int_equal(cache_source_id(&st, CACHE_SNAPSHOTS, fd, &id3), 0);
	assert_string_not_equal(id1, id3);
	free(id1);
	free(id2);
	free(id3);
	close(fd);
}

static int count_fingerprints(void)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/store/cache/snapshots/.fingerprints", dir);
	DIR *d = opendir(p);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* The fingerprint index cannot go stale (docs/protocol.md): a file changed
 * less than 2 s before it is hashed gets no record; a settled one does. */
static void test_fingerprint_racy(void **state)
{
	char p[128], *id = NULL, *err = NULL;
	struct stat s;
	int fd;

	(void) state;
	snprintf(p, sizeof(p), "%s/fresh", dir);
	fd = open(p, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, "hello", 5), 0);
	assert_int_equal(cache_source_id_wait(&st, CACHE_SNAPSHOTS, fd, "fresh", 0, &id, &err), 0);
	assert_null(err);
	assert_int_equal(count_fingerprints(), 0);
	free(id);
	close(fd);

	fd = open("/usr/bin/env", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &s) < 0 || s.st_ctim.tv_sec > time(NULL) - 10) {
		if (fd >= 0)
			close(fd);
		skip();
	}
	assert_int_equal(cache_source_id_wait(&st, CACHE_SNAPSHOTS, fd, "env", 0, &id, &err), 0);
	assert_int_equal(count_fingerprints(), 1);
	free(id);
	close(fd);
}

/* Plant a malformed entry of kind HOW at cache/snapshots/ID. */
static void plant(const char *id, int how)
{
	char p[256], q[300];
	int fd;

	snprintf(p, sizeof(p), "%s/store/cache/snapshots/%s", dir, id);
	switch (how) {
	case 0: /* an empty directory: an interrupted rm -rf */
		assert_int_equal(mkdir(p, 0755), 0);
		break;
	case 1: /* a stray file */
		fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		assert_true(fd >= 0);
		close(fd);
		break;
	case 2: /* a symlink (to a directory that looks like an entry) */
		snprintf(q, sizeof(q), "%s/elsewhere", dir);
		assert_int_equal(mkdir(q, 0755), 0);
		assert_int_equal(symlink(q, p), 0);
		break;
	case 3: /* a stamp naming another id */
	case 4: /* a good stamp, but no tree */
		assert_int_equal(mkdir(p, 0755), 0);
		snprintf(q, sizeof(q), "%s/stamp", p);
		fd = open(q, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		assert_true(fd >= 0);
		snprintf(q, sizeof(q), "format=1\nid=%s\nkind=snapshots\n", how == 3 ? ID_B : id);
		assert_int_equal(write_all(fd, q, strlen(q)), 0);
		close(fd);
		if (how == 3) {
			snprintf(q, sizeof(q), "%s/tree", p);
			assert_int_equal(mkdir(q, 0755), 0);
		}
		break;
	case 5: /* a FIFO as the stamp: must not block */
		assert_int_equal(mkdir(p, 0755), 0);
		snprintf(q, sizeof(q), "%s/stamp", p);
		assert_int_equal(mkfifo(q, 0644), 0);
		break;
	}
}

/* Issue 12: whatever is at <id> that zeolite did not publish whole is
 * leftovers: said, removed, and the entry prepared again. */
static void test_malformed_entry_replaced(void **state)
{
	(void) state;
	for (int how = 0; how <= 5; how++) {
		Fill f = { .files = 3, .block_fd = -1, .count_fd = -1 };
		CacheRequest req = request(ID_A, &f, 1000);
		CacheLease l = CACHE_LEASE_INIT;
		char *err = NULL, p[256];
		struct stat s;

		snprintf(p, sizeof(p), "rm -rf '%s/store/cache/snapshots/%s' '%s/elsewhere'", dir, ID_A, dir);
		assert_int_equal(system(p), 0);
		plant(ID_A, how);
		assert_int_equal(cache_acquire(&st, &req, &l, &err), 0);
		assert_null(err);
		assert_int_equal(l.action, CACHE_UNPACKED);
		assert_non_null(l.recovered);
		assert_non_null(strstr(l.recovered, "malformed"));
		assert_tree_complete(l.path, 3);
		snprintf(p, sizeof(p), "%s/store/cache/snapshots/%s", dir, ID_A);
		assert_int_equal(lstat(p, &s), 0);
		assert_true(S_ISDIR(s.st_mode));
		cache_release(&l);
		/* Now whole: reused, nothing said. */
		assert_int_equal(cache_acquire(&st, &req, &l, &err), 0);
		assert_int_equal(l.action, CACHE_REUSED);
		assert_null(l.recovered);
		cache_release(&l);
	}
}

static void test_gc_removes_malformed(void **state)
{
	Fill f = { .files = 2, .block_fd = -1, .count_fd = -1 };
	CacheRequest ra = request(ID_A, &f, 1000);
	CacheLease l = CACHE_LEASE_INIT;
	CacheGcOptions o = { .keep = 5, .dry_run = true };
	Removed rem = { 0 };
	char *err = NULL;

	(void) state;
	assert_int_equal(cache_acquire(&st, &ra, &l, &err), 0);
	cache_release(&l);
	plant(ID_B, 0);
	assert_int_equal(cache_gc(&st, &o, on_gc, &rem), 0);
	assert_int_equal(rem.n, 1);
	assert_non_null(strstr(rem.what[0], ID_B));
	assert_non_null(strstr(rem.what[0], "would remove: malformed entry (no stamp)"));
	assert_int_equal(count_entries(ID_B "$"), 1);
	o.dry_run = false;
	rem.n = 0;
	assert_int_equal(cache_gc(&st, &o, on_gc, &rem), 0);
	assert_int_equal(rem.n, 1);
	assert_non_null(strstr(rem.what[0], "removed: malformed entry (no stamp)"));
	assert_int_equal(count_entries(ID_B "$"), 0);
	assert_int_equal(count_entries(ID_A "$"), 1); /* the whole one is kept (keep 5) */
	/* A stray file too. */
	plant(ID_B, 1);
	rem.n = 0;
	assert_int_equal(cache_gc(&st, &o, on_gc, &rem), 0);
	assert_int_equal(rem.n, 1);
	assert_non_null(strstr(rem.what[0], "removed: malformed entry (not a directory)"));
	assert_int_equal(count_entries(ID_B "$"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cold_then_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_names_holder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fill_failure_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_respects_leases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_keeps_newest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_entry_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fingerprint_racy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_removes_malformed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
