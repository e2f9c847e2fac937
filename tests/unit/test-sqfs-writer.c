// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for sqfs-writer.c: images are written into a private directory
 * under /tmp and read back with unpack.c (libsquashfs's reader), so that
 * what the writer promises -- entries, data, modes, mtimes, symlinks,
 * shared duplicates, reproducible bytes, refusal of bad calls -- is checked
 * under valgrind and the sanitizers.
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

#include "sqfs-writer.h"
#include "unpack.h"

#define MTIME 1600000000L
#define BIG (300u * 1000u) /* two full 128 KiB blocks and a tail */

typedef struct Dir {
	char path[64];
	int fd;
} Dir;

static int setup(void **state)
{
	Dir *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	strcpy(d->path, "/tmp/zeolite-sqfsw.XXXXXX");
	assert_non_null(mkdtemp(d->path));
	d->fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(d->fd >= 0);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	Dir *d = *state;
	char cmd[128];

	close(d->fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	assert_int_equal(system(cmd), 0);
	free(d);
	return 0;
}

static int new_image(Dir *d, const char *name)
{
	int fd = openat(d->fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	return fd;
}

static SqfsWriter *new_writer(int fd)
{
	SqfsWriter *w = NULL;
	char *err = NULL;

	assert_int_equal(sqfs_writer_new(fd, "gzip", 2, &w, &err), 0);
	assert_null(err);
	assert_non_null(w);
	return w;
}

static void put_file(SqfsWriter *w, const char *name, unsigned perm, const void *data, size_t n)
{
	assert_int_equal(sqfs_writer_file_begin(w, name, perm, MTIME), 0);
	/* In odd pieces, as a reader hands them over. */
	for (size_t off = 0; off < n;) {
		size_t k = n - off < 70001 ? n - off : 70001;

		assert_int_equal(sqfs_writer_file_append(w, (const char *) data + off, k), 0);
		off += k;
	}
	assert_int_equal(sqfs_writer_file_end(w, NULL), 0);
}

static char *pattern(size_t n, unsigned seed)
{
	char *p = malloc(n);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (char) (seed >> 16);
	}
	return p;
}

/* The tree every test image holds (the root has several entries, so
 * that unpack does not strip a single top-level directory). */
static void write_tree(int fd)
{
	SqfsWriter *w = new_writer(fd);
	char *big = pattern(BIG, 7);

	assert_int_equal(sqfs_writer_dir_begin(w, "a-dir", 0750, MTIME), 0);
	assert_int_equal(sqfs_writer_dir_begin(w, "empty-dir", 0700, MTIME), 0);
	assert_int_equal(sqfs_writer_dir_end(w), 0);
	put_file(w, "f", 0644, "hello\n", 6);
	assert_int_equal(sqfs_writer_dir_end(w), 0);
	put_file(w, "big", 0755, big, BIG);
	put_file(w, "big-copy", 0644, big, BIG);
	put_file(w, "dup", 0600, "hello\n", 6);
	assert_int_equal(sqfs_writer_symlink(w, "link", "a-dir/f", MTIME), 0);
	assert_int_equal(sqfs_writer_dir_begin(w, "many", 0755, MTIME), 0);
	for (int i = 0; i < 700; i++) {
		char name[16], data[16];

		snprintf(name, sizeof(name), "n%04d", i);
		snprintf(data, sizeof(data), "%d\n", i % 50);
		put_file(w, name, 0644, data, strlen(data));
	}
	assert_int_equal(sqfs_writer_dir_end(w), 0);
	put_file(w, "z-empty", 0644, "", 0);
	assert_int_equal(sqfs_writer_finish(w), 0);
	assert_null(sqfs_writer_error(w));
	sqfs_writer_free(w);
	free(big);
}

static void assert_file(int dfd, const char *path, unsigned perm, const void *data, size_t n)
{
	struct stat st;
	char *buf = malloc(n + 1);
	int fd = openat(dfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	assert_non_null(buf);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, perm);
	assert_int_equal(st.st_mtime, MTIME);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_size, n);
	assert_int_equal(pread(fd, buf, n + 1, 0), (ssize_t) n);
	assert_memory_equal(buf, data, n);
	close(fd);
	free(buf);
}

static void test_tree_reads_back(void **state)
{
	Dir *d = *state;
	int img = new_image(d, "img"), dest;
	char *err = NULL, *big = pattern(BIG, 7), target[32];
	struct stat st;
	ssize_t k;

	write_tree(img);
	assert_int_equal(lseek(img, 0, SEEK_END) % 4096, 0);
	assert_int_equal(mkdirat(d->fd, "dest", 0700), 0);
	dest = openat(d->fd, "dest", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dest >= 0);
	assert_int_equal(unpack_archive_at(img, "img", dest, 0, NULL, NULL, NULL, &err), 0);
	assert_null(err);

	assert_file(dest, "a-dir/f", 0644, "hello\n", 6);
	assert_file(dest, "dup", 0600, "hello\n", 6);
	assert_file(dest, "big", 0755, big, BIG);
	assert_file(dest, "big-copy", 0644, big, BIG);
	assert_file(dest, "z-empty", 0644, "", 0);
	assert_file(dest, "many/n0000", 0644, "0\n", 2);
	assert_file(dest, "many/n0699", 0644, "49\n", 3);
	assert_int_equal(fstatat(dest, "a-dir", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(fstatat(dest, "a-dir/empty-dir", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	k = readlinkat(dest, "link", target, sizeof(target));
	assert_int_equal(k, 7);
	assert_memory_equal(target, "a-dir/f", 7);
	close(dest);
	close(img);
	free(big);
}

static void test_reproducible(void **state)
{
	Dir *d = *state;
	int a = new_image(d, "a"), b = new_image(d, "b");
	off_t size = 0;

	write_tree(a);
	write_tree(b);
	size = lseek(a, 0, SEEK_END);
	assert_true(size > 0);
	assert_int_equal(lseek(b, 0, SEEK_END), size);

	char *x = malloc((size_t) size), *y = malloc((size_t) size);
	assert_non_null(x);
	assert_non_null(y);
	assert_int_equal(pread(a, x, (size_t) size, 0), size);
	assert_int_equal(pread(b, y, (size_t) size, 0), size);
	assert_memory_equal(x, y, (size_t) size);
	free(x);
	free(y);
	close(a);
	close(b);
}

/* Each misuse is refused with a reason; the writer then only frees. */
static void test_refusals(void **state)
{
	Dir *d = *state;
	SqfsWriter *w;
	int fd = new_image(d, "bad");

	w = new_writer(fd);
	assert_int_equal(sqfs_writer_dir_begin(w, "b", 0755, MTIME), 0);
	assert_int_equal(sqfs_writer_dir_end(w), 0);
	assert_int_equal(sqfs_writer_file_begin(w, "a", 0644, MTIME), -EINVAL);
	assert_non_null(strstr(sqfs_writer_error(w), "out of order"));
	assert_int_equal(sqfs_writer_finish(w), -EIO);
	sqfs_writer_free(w);

	w = new_writer(fd);
	assert_int_equal(sqfs_writer_file_begin(w, "x/y", 0644, MTIME), -EINVAL);
	sqfs_writer_free(w);

	w = new_writer(fd);
	assert_int_equal(sqfs_writer_file_append(w, "x", 1), -EINVAL);
	sqfs_writer_free(w);

	w = new_writer(fd);
	assert_int_equal(sqfs_writer_dir_end(w), -EINVAL);
	sqfs_writer_free(w);

	w = new_writer(fd);
	assert_int_equal(sqfs_writer_dir_begin(w, "open", 0755, MTIME), 0);
	assert_int_equal(sqfs_writer_finish(w), -EINVAL);
	sqfs_writer_free(w);

	w = new_writer(fd);
	assert_int_equal(sqfs_writer_symlink(w, "l", "", MTIME), -EINVAL);
	sqfs_writer_free(w);

	/* A file open at free time (a walk that failed midway). */
	w = new_writer(fd);
	assert_int_equal(sqfs_writer_file_begin(w, "half", 0644, MTIME), 0);
	assert_int_equal(sqfs_writer_file_append(w, "abc", 3), 0);
	sqfs_writer_free(w);
	close(fd);
}

static void test_unknown_compressor(void **state)
{
	Dir *d = *state;
	SqfsWriter *w = NULL;
	char *err = NULL;
	int fd = new_image(d, "c");

	assert_int_equal(sqfs_writer_new(fd, "no-such", 1, &w, &err), -EINVAL);
	assert_null(w);
	assert_non_null(strstr(err, "no-such"));
	free(err);
	close(fd);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_tree_reads_back),
		T(test_reproducible),
		T(test_refusals),
		T(test_unknown_compressor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
