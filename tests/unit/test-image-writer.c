// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for image-writer.c: entries given in a tarball's order (parents
 * after children or never, a path twice, hard links in chains and to
 * targets that sort after them, holes) are written with runs small enough
 * that the merge works in several levels, then read back with unpack.c
 * (libsquashfs's reader), keeping owners, devices and xattrs, under
 * valgrind and the sanitizers.
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
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image-writer.h"
#include "unpack.h"

#define MTIME 1600000000L
#define BLK (128u << 10)
#define BIG (300u * 1000u)   /* two full blocks and a tail */
#define N_BIGS 70             /* more files with blocks than the writer holds */
#define N_SMALL 700

typedef struct Dir {
	char path[64];
	int fd;
} Dir;

static int setup(void **state)
{
	Dir *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	strcpy(d->path, "/tmp/zeolite-imgw.XXXXXX");
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

static ImageWriter *new_writer(Dir *d, int fd, size_t run_bytes)
{
	ImageWriter *w = NULL;
	char *err = NULL;

	assert_int_equal(image_writer_new(fd, d->fd, "lz4", 2, &w, &err), 0);
	assert_null(err);
	assert_non_null(w);
	if (run_bytes)
		image_writer_set_run_bytes(w, run_bytes);
	return w;
}

static char *pattern(size_t n, unsigned seed)
{
	char *p = malloc(n ? n : 1);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (char) (seed >> 16);
	}
	return p;
}

static void put(ImageWriter *w, const ImageEntry *e, const void *data, size_t n)
{
	assert_int_equal(image_writer_begin(w, e), 0);
	/* In odd pieces, as libarchive hands them over. */
	for (size_t off = 0; off < n;) {
		size_t k = n - off < 70001 ? n - off : 70001;

		assert_int_equal(image_writer_data(w, off, (const char *) data + off, k), 0);
		off += k;
	}
	assert_int_equal(image_writer_end(w), 0);
}

static void put_file(ImageWriter *w, const char *path, mode_t perm, uint32_t uid, const void *data, size_t n)
{
	ImageEntry e = { .path = path, .mode = S_IFREG | perm, .uid = uid, .gid = uid, .mtime = MTIME, .size = n };

	put(w, &e, data, n);
}

static void put_other(ImageWriter *w, const char *path, mode_t mode, const char *symlink, const char *hardlink,
		      uint64_t rdev)
{
	ImageEntry e = { .path = path, .mode = mode, .mtime = MTIME, .symlink = symlink, .hardlink = hardlink,
			 .rdev = rdev };

	assert_int_equal(image_writer_begin(w, &e), 0);
	assert_int_equal(image_writer_end(w), 0);
}

static const uint8_t CAP[20] = { 1, 0, 0, 2, 0, 32 };

/* The entries every image here holds, in an order a tarball may have. */
static void write_entries(Dir *d, int fd, size_t run_bytes)
{
	ImageWriter *w = new_writer(d, fd, run_bytes);
	char *big = pattern(BIG, 7), *two = pattern(2 * BLK, 9), path[64];

	/* A child before its parent, whose own entry comes later. */
	ImageEntry tool = { .path = "./usr/bin/tool", .mode = S_IFREG | 04755, .uid = 1000, .gid = 100,
			    .mtime = MTIME, .size = BIG };
	assert_int_equal(image_writer_begin(w, &tool), 0);
	assert_int_equal(image_writer_xattr(w, "security.capability", CAP, sizeof(CAP)), 0);
	assert_int_equal(image_writer_data(w, 0, big, BIG), 0);
	assert_int_equal(image_writer_end(w), 0);
	put_other(w, "usr/bin/tool-link", 0, NULL, "./usr/bin/tool", 0);
	put_other(w, "z-chain", 0, NULL, "usr/bin/tool-link", 0); /* a link to a link */
	ImageEntry usr = { .path = "usr/", .mode = S_IFDIR | 0750, .uid = 5, .gid = 6, .mtime = MTIME };
	put(w, &usr, NULL, 0);
	/* Parents never listed. */
	put_file(w, "a/b/c/deep", 0640, 0, "deep\n", 5);
	/* A path twice: the later wins. */
	put_file(w, "dup", 0644, 0, "old\n", 4);
	put_file(w, "dup", 0600, 0, "new!\n", 5);
	/* A target that sorts after its link. */
	put_file(w, "zz-late", 0644, 0, "late\n", 5);
	put_other(w, "aa-early", 0, NULL, "zz-late", 0);
	put_other(w, "dev/null", S_IFCHR | 0666, NULL, NULL, makedev(1, 3));
	put_other(w, "dev/fifo", S_IFIFO | 0600, NULL, NULL, 0);
	put_other(w, "lnk", S_IFLNK | 0777, "usr/bin/tool", NULL, 0);
	/* A file with holes: data only in its fourth block. */
	ImageEntry sparse = { .path = "sparse", .mode = S_IFREG | 0644, .mtime = MTIME, .size = 5 * BLK };
	assert_int_equal(image_writer_begin(w, &sparse), 0);
	assert_int_equal(image_writer_data(w, 3 * BLK + 10, "data", 4), 0);
	assert_int_equal(image_writer_end(w), 0);
	put_file(w, "empty", 0644, 0, "", 0);
	put_file(w, "two-blocks", 0644, 0, two, 2 * BLK);
	put_file(w, "two-blocks-copy", 0600, 0, two, 2 * BLK);
	for (int i = 0; i < N_BIGS; i++) {
		char *b = pattern(BLK + 17, 100 + (unsigned) i);

		snprintf(path, sizeof(path), "bigs/b%02d", i);
		put_file(w, path, 0644, 0, b, BLK + 17);
		free(b);
	}
	for (int i = N_SMALL - 1; i >= 0; i--) {
		char data[16];

		snprintf(path, sizeof(path), "many/n%04d", i);
		snprintf(data, sizeof(data), "%d\n", i % 50);
		put_file(w, path, 0644, 0, data, strlen(data));
	}
	/* The root's own entry, last. */
	ImageEntry root = { .path = "./", .mode = S_IFDIR | 0755, .mtime = MTIME };
	put(w, &root, NULL, 0);
	assert_int_equal(image_writer_finish(w), 0);
	assert_null(image_writer_error(w));
	image_writer_free(w);
	free(big);
	free(two);
}

static void assert_file(int dfd, const char *path, unsigned perm, uid_t uid, const void *data, size_t n)
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
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_size, n);
	assert_int_equal(pread(fd, buf, n + 1, 0), (ssize_t) n);
	assert_memory_equal(buf, data, n);
	close(fd);
	free(buf);
}

static void assert_mode(int dfd, const char *path, mode_t mode, uid_t uid)
{
	struct stat st;

	assert_int_equal(fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_mode, mode);
	assert_int_equal(st.st_uid, uid);
}

static void test_reads_back(void **state)
{
	Dir *d = *state;
	int img = new_image(d, "img"), dest;
	char *err = NULL, *big = pattern(BIG, 7), *two = pattern(2 * BLK, 9), *sparse, buf[32];
	struct stat a, b, c;
	ssize_t k;

	/* 600-byte runs: hundreds of them, merged in two levels. */
	write_entries(d, img, 600);
	assert_int_equal(lseek(img, 0, SEEK_END) % 4096, 0);
	assert_int_equal(mkdirat(d->fd, "dest", 0700), 0);
	dest = openat(d->fd, "dest", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dest >= 0);
	assert_int_equal(unpack_archive_at(img, "img", dest,
					   UNPACK_KEEP_OWNER | UNPACK_ALLOW_DEVICES | UNPACK_NO_STRIP, NULL, NULL,
					   NULL, &err),
			 0);
	assert_null(err);

	assert_file(dest, "usr/bin/tool", 04755, 1000, big, BIG);
	snprintf(buf, sizeof(buf), "/proc/self/fd/%d", dest);
	{
		char p[96];
		uint8_t v[32];

		snprintf(p, sizeof(p), "%s/usr/bin/tool", buf);
		assert_int_equal(getxattr(p, "security.capability", v, sizeof(v)), sizeof(CAP));
		assert_memory_equal(v, CAP, sizeof(CAP));
	}
	assert_mode(dest, "usr", S_IFDIR | 0750, 5);
	assert_mode(dest, "usr/bin", S_IFDIR | 0755, 0);
	assert_mode(dest, "a/b/c", S_IFDIR | 0755, 0);
	assert_file(dest, "a/b/c/deep", 0640, 0, "deep\n", 5);
	assert_file(dest, "dup", 0600, 0, "new!\n", 5);
	/* Hard links: one inode each group. */
	assert_int_equal(fstatat(dest, "usr/bin/tool", &a, 0), 0);
	assert_int_equal(fstatat(dest, "usr/bin/tool-link", &b, 0), 0);
	assert_int_equal(fstatat(dest, "z-chain", &c, 0), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_ino, c.st_ino);
	assert_int_equal(a.st_nlink, 3);
	assert_int_equal(fstatat(dest, "zz-late", &a, 0), 0);
	assert_int_equal(fstatat(dest, "aa-early", &b, 0), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_nlink, 2);
	assert_file(dest, "aa-early", 0644, 0, "late\n", 5);
	assert_int_equal(fstatat(dest, "dev/null", &a, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISCHR(a.st_mode));
	assert_int_equal(a.st_rdev, makedev(1, 3));
	assert_mode(dest, "dev/fifo", S_IFIFO | 0600, 0);
	k = readlinkat(dest, "lnk", buf, sizeof(buf));
	assert_int_equal(k, 12);
	assert_memory_equal(buf, "usr/bin/tool", 12);
	sparse = calloc(1, 5 * BLK);
	assert_non_null(sparse);
	memcpy(sparse + 3 * BLK + 10, "data", 4);
	assert_file(dest, "sparse", 0644, 0, sparse, 5 * BLK);
	free(sparse);
	assert_file(dest, "empty", 0644, 0, "", 0);
	assert_file(dest, "two-blocks", 0644, 0, two, 2 * BLK);
	assert_file(dest, "two-blocks-copy", 0600, 0, two, 2 * BLK);
	for (int i = 0; i < N_BIGS; i += 23) {
		char path[32], *bb = pattern(BLK + 17, 100 + (unsigned) i);

		snprintf(path, sizeof(path), "bigs/b%02d", i);
		assert_file(dest, path, 0644, 0, bb, BLK + 17);
		free(bb);
	}
	assert_file(dest, "many/n0000", 0644, 0, "0\n", 2);
	assert_file(dest, "many/n0699", 0644, 0, "49\n", 3);
	close(dest);
	close(img);
	free(big);
	free(two);
}

/* Copies of a file's data, with blocks or not, far apart or not, are
 * stored once: the image grows by their inodes only. */
static void test_shares_duplicates(void **state)
{
	Dir *d = *state;
	int one = new_image(d, "one"), many = new_image(d, "many"), dest;
	char *big = pattern(BIG, 11), *small = pattern(5000, 12), *other = pattern(BIG, 13), *err = NULL;
	char path[32];
	ImageWriter *w;

	w = new_writer(d, one, 0);
	put_file(w, "big", 0644, 0, big, BIG);
	put_file(w, "other", 0644, 0, other, BIG);
	put_file(w, "small", 0644, 0, small, 5000);
	assert_int_equal(image_writer_finish(w), 0);
	image_writer_free(w);

	w = new_writer(d, many, 0);
	put_file(w, "big", 0644, 0, big, BIG);
	put_file(w, "other", 0644, 0, other, BIG);
	for (int i = 0; i < 100; i++) { /* the original long out of `pending` */
		snprintf(path, sizeof(path), "big%02d", i);
		put_file(w, path, 0644, 0, i % 2 ? big : other, BIG);
		snprintf(path, sizeof(path), "small%02d", i);
		put_file(w, path, 0644, 0, small, 5000);
	}
	put_file(w, "small", 0644, 0, small, 5000);
	assert_int_equal(image_writer_finish(w), 0);
	image_writer_free(w);

	off_t a = lseek(one, 0, SEEK_END), b = lseek(many, 0, SEEK_END);
	assert_true(b > a);
	assert_true(b - a < (off_t) BIG / 4);
	assert_int_equal(mkdirat(d->fd, "dest", 0700), 0);
	dest = openat(d->fd, "dest", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dest >= 0);
	assert_int_equal(unpack_archive_at(many, "many", dest, UNPACK_NO_STRIP, NULL, NULL, NULL, &err), 0);
	for (int i = 0; i < 100; i += 33) {
		snprintf(path, sizeof(path), "big%02d", i);
		assert_file(dest, path, 0644, 0, i % 2 ? big : other, BIG);
		snprintf(path, sizeof(path), "small%02d", i);
		assert_file(dest, path, 0644, 0, small, 5000);
	}
	close(dest);
	close(one);
	close(many);
	free(big);
	free(small);
	free(other);
}

static char *slurp(int fd, off_t *size)
{
	char *p;

	*size = lseek(fd, 0, SEEK_END);
	assert_true(*size > 0);
	p = malloc((size_t) *size);
	assert_non_null(p);
	assert_int_equal(pread(fd, p, (size_t) *size, 0), *size);
	return p;
}

/* The same entries make the same bytes, whatever the size of the runs. */
static void test_reproducible(void **state)
{
	Dir *d = *state;
	int a = new_image(d, "a"), b = new_image(d, "b");
	off_t sa, sb;

	write_entries(d, a, 0);
	write_entries(d, b, 999);
	char *x = slurp(a, &sa), *y = slurp(b, &sb);
	assert_int_equal(sa, sb);
	assert_memory_equal(x, y, (size_t) sa);
	free(x);
	free(y);
	close(a);
	close(b);
}

static void finish_refused(ImageWriter *w, const char *why)
{
	assert_int_equal(image_writer_finish(w), -EBADMSG);
	assert_non_null(image_writer_error(w));
	assert_non_null(strstr(image_writer_error(w), why));
	image_writer_free(w);
}

/* What no image holds is refused, with a reason. */
static void test_refusals(void **state)
{
	Dir *d = *state;
	int fd = new_image(d, "bad");
	ImageWriter *w;

	w = new_writer(d, fd, 0);
	put_other(w, "l", 0, NULL, "nowhere", 0);
	finish_refused(w, "'nowhere', which the tarball does not have");

	w = new_writer(d, fd, 0);
	put_file(w, "f", 0644, 0, "x", 1);
	put_file(w, "f/below", 0644, 0, "y", 1);
	finish_refused(w, "not a directory");

	w = new_writer(d, fd, 0);
	put_other(w, "dir", S_IFDIR | 0755, NULL, NULL, 0);
	put_other(w, "l", 0, NULL, "dir", 0);
	finish_refused(w, "hard links to a directory");

	w = new_writer(d, fd, 0);
	ImageEntry e = { .path = "f", .mode = S_IFREG | 0644, .size = 1 };
	assert_int_equal(image_writer_begin(w, &e), 0);
	assert_int_equal(image_writer_xattr(w, "system.posix_acl_access", "x", 1), -EBADMSG);
	assert_non_null(strstr(image_writer_error(w), "cannot store the xattr"));
	assert_int_equal(image_writer_finish(w), -EIO);
	image_writer_free(w);

	w = new_writer(d, fd, 0);
	assert_int_equal(image_writer_begin(w, &e), 0);
	assert_int_equal(image_writer_data(w, 0, "toolong", 7), -EBADMSG);
	image_writer_free(w);

	w = new_writer(d, fd, 0);
	e.path = "a/../../etc";
	assert_int_equal(image_writer_begin(w, &e), -EBADMSG);
	image_writer_free(w);

	w = new_writer(d, fd, 0);
	ImageEntry root_file = { .path = "./", .mode = S_IFREG | 0644 };
	assert_int_equal(image_writer_begin(w, &root_file), -EBADMSG);
	image_writer_free(w);

	/* A file open at free time (a tarball that failed midway). */
	w = new_writer(d, fd, 0);
	ImageEntry big = { .path = "big", .mode = S_IFREG | 0644, .size = 3 * BLK };
	char *data = pattern(BLK + 5, 3);
	assert_int_equal(image_writer_begin(w, &big), 0);
	assert_int_equal(image_writer_data(w, 0, data, BLK + 5), 0);
	image_writer_free(w);
	free(data);
	close(fd);
}

static void test_unknown_compressor(void **state)
{
	Dir *d = *state;
	ImageWriter *w = NULL;
	char *err = NULL;
	int fd = new_image(d, "c");

	assert_int_equal(image_writer_new(fd, d->fd, "no-such", 1, &w, &err), -EINVAL);
	assert_null(w);
	assert_non_null(strstr(err, "no-such"));
	free(err);
	close(fd);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_reads_back),
		T(test_reproducible),
		T(test_shares_duplicates),
		T(test_refusals),
		T(test_unknown_compressor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
