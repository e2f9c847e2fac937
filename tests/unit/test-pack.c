// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for pack.c.  Each test works in a private directory under /var/tmp:
 *
 *   sandbox/tree/   the tree to pack (made by make_tree(), needs root)
 *   sandbox/out/    pack_tree()'s output directory
 *   sandbox/ext/    where GNU tar extracts the result for comparison
 *
 * The tarballs are checked with GNU tar (list and extract with --xattrs),
 * the DIGESTS with sha512sum -c and b2sum, the CONTENTS.gz against tar -tf.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>

#include "fs.h"
#include "pack.h"

#define BIG_SIZE ((3u << 20) / 2)
#define NSEC 123456789L

typedef struct Sandbox {
	char path[64];
	int fd;
	int tree_fd;
	int out_fd;
} Sandbox;

/* v2 vfs_cap_data for cap_net_raw+ep, as `setcap cap_net_raw+ep` writes. */
static const unsigned char cap_net_raw[20] = {
	0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
static const char pax_flags[] = "em";
static char *digests[] = { "sha512", "blake2b", NULL };

/* ---- sandbox ---- */

static int setup(void **state)
{
	Sandbox *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	strcpy(s->path, "/var/tmp/test-pack.XXXXXX");
	assert_non_null(mkdtemp(s->path));
	s->fd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(s->fd >= 0);
	assert_int_equal(mkdirat(s->fd, "tree", 0755), 0);
	assert_int_equal(mkdirat(s->fd, "out", 0755), 0);
	assert_int_equal(mkdirat(s->fd, "ext", 0755), 0);
	s->tree_fd = openat(s->fd, "tree", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	s->out_fd = openat(s->fd, "out", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(s->tree_fd >= 0 && s->out_fd >= 0);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	Sandbox *s = *state;
	int dfd = open("/var/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (!s)
		return 0;
	close(s->tree_fd);
	close(s->out_fd);
	close(s->fd);
	r = rm_rf_at(dfd, strrchr(s->path, '/') + 1);
	close(dfd);
	free(s);
	assert_int_equal(r, 0);
	return 0;
}

/* ---- helpers ---- */

static void write_at(int dfd, const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = openat(dfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, data, len), 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* Incompressible but reproducible data. */
static char *big_data(void)
{
	char *p = malloc(BIG_SIZE);
	uint64_t x = 0x9e3779b97f4a7c15;

	assert_non_null(p);
	for (size_t i = 0; i < BIG_SIZE; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (char)(x >> 24);
	}
	return p;
}

static void set_xattr(int dfd, const char *path, const char *name, const void *v, size_t n)
{
	char proc[256];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dfd, path);
	if (lsetxattr(proc, name, v, n, 0) < 0)
		fail_msg("setxattr %s %s: %s", path, name, strerror(errno));
}

/*
 * The tree: dirs, a big file with a hardlink and a symlink to it, a setuid
 * file, a file owned by 1234:5678, a capability and PaX flags, a device
 * node, a FIFO, a socket (skipped) and an mtime with nanoseconds.
 */
static void make_tree(Sandbox *s)
{
	_cleanup_free_ char *big = big_data();
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { 1600000000, NSEC } };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int sock;

	assert_int_equal(mkdirat(s->tree_fd, "bin", 0755), 0);
	assert_int_equal(mkdirat(s->tree_fd, "dev", 0755), 0);
	assert_int_equal(mkdirat(s->tree_fd, "etc", 0755), 0);
	assert_int_equal(mkdirat(s->tree_fd, "home", 0755), 0);
	assert_int_equal(mkdirat(s->tree_fd, "home/user", 0700), 0);
	assert_int_equal(mkdirat(s->tree_fd, "run", 0755), 0);
	assert_int_equal(mkdirat(s->tree_fd, "tmp", 01777), 0);
	assert_int_equal(fchmodat(s->tree_fd, "tmp", 01777, 0), 0);
	write_at(s->tree_fd, "bin/busybox", big, BIG_SIZE, 0755);
	assert_int_equal(linkat(s->tree_fd, "bin/busybox", s->tree_fd, "bin/ls", 0), 0);
	assert_int_equal(symlinkat("busybox", s->tree_fd, "bin/sh"), 0);
	write_at(s->tree_fd, "bin/su", "su\n", 3, 04755);
	write_at(s->tree_fd, "bin/ping", "ping\n", 5, 0711);
	write_at(s->tree_fd, "etc/hostname", "gentoo\n", 7, 0644);
	write_at(s->tree_fd, "home/user/file", "mine\n", 5, 0640);
	assert_int_equal(fchownat(s->tree_fd, "home/user/file", 1234, 5678, 0), 0);
	assert_int_equal(fchownat(s->tree_fd, "home/user", 1234, 5678, 0), 0);
	assert_int_equal(mknodat(s->tree_fd, "dev/null", S_IFCHR | 0666, makedev(1, 3)), 0);
	assert_int_equal(fchmodat(s->tree_fd, "dev/null", 0666, 0), 0);
	assert_int_equal(mkfifoat(s->tree_fd, "run/fifo", 0600), 0);
	set_xattr(s->tree_fd, "bin/ping", "security.capability", cap_net_raw, sizeof(cap_net_raw));
	set_xattr(s->tree_fd, "bin/ping", "user.pax.flags", pax_flags, strlen(pax_flags));
	set_xattr(s->tree_fd, "bin/busybox", "user.pax.flags", pax_flags, strlen(pax_flags));
	/* Not in catalyst's xattr set: left out. */
	set_xattr(s->tree_fd, "bin/busybox", "user.foo", "bar", 3);
	set_xattr(s->tree_fd, "etc/hostname", "user.foo", "bar", 3);
	assert_int_equal(utimensat(s->tree_fd, "etc/hostname", ts, 0), 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/tree/run/sock", s->path);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(sock >= 0);
	assert_int_equal(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(sock);
}

static int pack(Sandbox *s, PackCompression c, const char *name, char *const *dg,
		PackResult *res, char **err)
{
	PackRequest req = {
		.root_fd = s->tree_fd,
		.out_dir_fd = s->out_fd,
		.name = name,
		.compression = c,
		.level = -1,
		.digests = dg,
	};

	*err = NULL;
	return pack_tree(&req, res, err);
}

/* Run a shell command in the sandbox, return its output (and its status). */
static char *run(Sandbox *s, int *status, const char *fmt, ...) _printf_(3, 4);
static char *run(Sandbox *s, int *status, const char *fmt, ...)
{
	char *cmd, *full, buf[4096];
	Buf out = {};
	va_list ap;
	FILE *f;
	size_t n;
	int st;

	va_start(ap, fmt);
	assert_true(vasprintf(&cmd, fmt, ap) >= 0);
	va_end(ap);
	full = xasprintf("cd '%s' && { %s; } 2>&1", s->path, cmd);
	f = popen(full, "r");
	assert_non_null(f);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		buf_put(&out, buf, n);
	st = pclose(f);
	if (status)
		*status = st;
	else if (st != 0)
		fail_msg("'%s' failed (%d): %s", cmd, st, out.data ? out.data : "");
	free(cmd);
	free(full);
	return buf_steal(&out);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("'%s' not found in:\n%s", needle, hay);
}

static void assert_xattr(int dfd, const char *path, const char *name, const void *v, size_t n)
{
	char proc[256], buf[256];
	ssize_t got;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dfd, path);
	got = lgetxattr(proc, name, buf, sizeof(buf));
	if (got < 0)
		fail_msg("%s: %s: %s", path, name, strerror(errno));
	assert_int_equal((size_t)got, n);
	assert_memory_equal(buf, v, n);
}

static void assert_no_xattr(int dfd, const char *path, const char *name)
{
	char proc[256], buf[256];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dfd, path);
	if (lgetxattr(proc, name, buf, sizeof(buf)) >= 0)
		fail_msg("%s: %s was packed", path, name);
	assert_int_equal(errno, ENODATA);
}

static void assert_stat(int dfd, const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	struct stat st;

	if (fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		fail_msg("%s: %s", path, strerror(errno));
	if ((st.st_mode & (S_IFMT | 07777)) != mode)
		fail_msg("%s: mode 0%o, want 0%o", path, (unsigned)st.st_mode, (unsigned)mode);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_gid, gid);
}

/* Names of the files in the output directory, sorted, one per line. */
static char *out_listing(Sandbox *s)
{
	return run(s, NULL, "ls -A out | sort");
}

/* ---- round trip through GNU tar ---- */

static void roundtrip(void **state, PackCompression c)
{
	Sandbox *s = *state;
	PackResult res = {};
	char *err = NULL;
	_cleanup_free_ char *list = NULL, *names = NULL, *contents = NULL, *ls = NULL;
	_cleanup_free_ char *b2 = NULL, *digests_txt = NULL, *want = NULL;
	_cleanup_free_ char *big = big_data();
	_cleanup_close_ int ext = -EBADF;
	struct stat a, b;
	int r;

	if (geteuid() != 0)
		skip();
	make_tree(s);
	/* CONTENTS has tar's local times: a zone of our own, for the child tar too. */
	assert_int_equal(setenv("TZ", "XST-5:30", 1), 0);
	tzset();
	r = pack(s, c, "stage3-amd64-test", digests, &res, &err);
	if (r < 0)
		fail_msg("pack: %s", err);
	assert_null(err);
	want = xasprintf("stage3-amd64-test.%s", pack_extension(c));
	assert_string_equal(res.tarball, want);
	assert_int_equal(res.sockets, 1);
	assert_int_equal(res.entries, 17);
	assert_true(res.bytes_in >= BIG_SIZE);
	assert_int_equal(fstatat(s->out_fd, res.tarball, &a, 0), 0);
	assert_int_equal((uint64_t)a.st_size, res.bytes_out);

	ls = out_listing(s);
	{
		_cleanup_free_ char *w = xasprintf("%s\n%s.CONTENTS.gz\n%s.DIGESTS\n%s.sha256\n", want,
						   want, want, want);
		assert_string_equal(ls, w);
	}

	/* GNU tar lists everything, without complaint; xattrs are marked '*'. */
	list = run(s, NULL, "tar --xattrs --xattrs-include='*' --numeric-owner -tvf out/%s",
		   res.tarball);
	assert_contains(list, "-rwx--x--x* 0/0               5 ");
	assert_contains(list, "-rwxr-xr-x* 0/0         1572864 ");
	assert_null(strstr(list, "tar:")); /* no warnings (unknown keywords, ...) */
	free(list);
	list = run(s, NULL, "tar --numeric-owner -tvf out/%s", res.tarball);
	assert_contains(list, " ./\n");
	assert_contains(list, "-rwxr-xr-x 0/0         1572864 ");
	assert_contains(list, " ./bin/busybox\n");
	assert_contains(list, "hrwxr-xr-x 0/0 ");
	assert_contains(list, " ./bin/ls link to ./bin/busybox\n");
	assert_contains(list, " ./bin/sh -> busybox\n");
	assert_contains(list, "-rwsr-xr-x 0/0 ");
	assert_contains(list, "-rw-r----- 1234/5678 ");
	assert_contains(list, "drwx------ 1234/5678 ");
	assert_contains(list, "crw-rw-rw- 0/0 ");
	assert_contains(list, " ./dev/null\n");
	assert_contains(list, "prw------- 0/0 ");
	assert_contains(list, "drwxrwxrwt 0/0 ");
	assert_null(strstr(list, "sock"));
	assert_null(strstr(list, "tar:")); /* no warnings (unknown keywords, ...) */

	/* CONTENTS.gz lists exactly the tarball's entries, in order. */
	names = run(s, NULL, "tar -tf out/%s", res.tarball);
	contents = run(s, NULL,
		       "zcat out/%s | sed -E '$d; s/^([^ ]+ +){5}//; s/ -> .*//; s/ link to .*//'",
		       res.contents);
	assert_string_equal(contents, names);
	free(contents);
	contents = run(s, NULL, "zcat out/%s", res.contents);
	assert_contains(contents, "-rw-r--r--  0/0               7 2020-09-13 17:56 ./etc/hostname\n");
	assert_contains(contents, "-rwx--x--x* 0/0               5 ");
	assert_contains(contents, "crw-rw-rw-  0/0             1,3 ");
	assert_contains(contents, " ./bin/ls link to ./bin/busybox\n");
	free(list);
	/* Exactly what catalyst stores: GNU tar's listing, then an empty line. */
	list = run(s, NULL, "tar --xattrs -tvf out/%s; echo", res.tarball);
	assert_string_equal(contents, list);

	/* DIGESTS: catalyst's layout; sha512sum and b2sum agree. */
	digests_txt = run(s, NULL, "cat out/%s", res.digests);
	assert_true(strncmp(digests_txt, "# SHA512 HASH\n", 14) == 0);
	free(run(s, NULL, "cd out && grep -A1 '^# SHA512 HASH$' %s | grep -v '^#' | grep -v '^--$'"
			  " | sha512sum -c --strict", res.digests));
	b2 = run(s, NULL, "cd out && b2sum %s %s", res.tarball, res.contents);
	{
		char *line = b2;
		for (int i = 0; i < 2; i++) {
			char *nl = strchr(line, '\n');

			assert_non_null(nl);
			*nl = '\0';
			assert_contains(digests_txt, line);
			line = nl + 1;
		}
	}
	{
		_cleanup_free_ char *n = run(s, NULL, "grep -c '^# BLAKE2B HASH$' out/%s",
					     res.digests);
		assert_string_equal(n, "2\n");
	}

	/* Extract with GNU tar and compare. */
	free(run(s, NULL, "tar --xattrs --xattrs-include='*' --numeric-owner -xpf out/%s -C ext",
		 res.tarball));
	ext = openat(s->fd, "ext", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(ext >= 0);
	assert_stat(ext, "bin/busybox", S_IFREG | 0755, 0, 0);
	assert_stat(ext, "bin/su", S_IFREG | 04755, 0, 0);
	assert_stat(ext, "bin/ping", S_IFREG | 0711, 0, 0);
	assert_stat(ext, "home/user", S_IFDIR | 0700, 1234, 5678);
	assert_stat(ext, "home/user/file", S_IFREG | 0640, 1234, 5678);
	assert_stat(ext, "dev/null", S_IFCHR | 0666, 0, 0);
	assert_stat(ext, "run/fifo", S_IFIFO | 0600, 0, 0);
	assert_stat(ext, "tmp", S_IFDIR | 01777, 0, 0);
	assert_stat(ext, "bin/sh", S_IFLNK | 0777, 0, 0);
	assert_int_equal(fstatat(ext, "dev/null", &a, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(a.st_rdev, makedev(1, 3));
	assert_int_equal(fstatat(ext, "bin/busybox", &a, 0), 0);
	assert_int_equal(fstatat(ext, "bin/ls", &b, 0), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_size, BIG_SIZE);
	{
		_cleanup_free_ char *data = NULL;
		size_t len;

		assert_int_equal(read_file_at(ext, "bin/busybox", 1 << 24, &data, &len), 0);
		assert_int_equal(len, BIG_SIZE);
		assert_memory_equal(data, big, BIG_SIZE);
	}
	assert_int_equal(fstatat(ext, "etc/hostname", &a, 0), 0);
	assert_int_equal(a.st_mtim.tv_sec, 1600000000);
	assert_int_equal(a.st_mtim.tv_nsec, NSEC);
	assert_xattr(ext, "bin/ping", "security.capability", cap_net_raw, sizeof(cap_net_raw));
	assert_xattr(ext, "bin/ping", "user.pax.flags", pax_flags, strlen(pax_flags));
	assert_xattr(ext, "bin/busybox", "user.pax.flags", pax_flags, strlen(pax_flags));
	assert_no_xattr(ext, "bin/busybox", "user.foo");
	assert_no_xattr(ext, "etc/hostname", "user.foo");
	pack_result_done(&res);
}

static void test_xz(void **state) { roundtrip(state, PACK_XZ); }
/* GNU tar reads these through the programs of their names. */
static void roundtrip_with(void **state, PackCompression c, const char *prog)
{
	_cleanup_free_ char *cmd = xasprintf("command -v %s >/dev/null", prog);

	if (system(cmd) != 0)
		skip();
	roundtrip(state, c);
}
static void test_lzip(void **state) { roundtrip_with(state, PACK_LZIP, "lzip"); }
static void test_lzma(void **state) { roundtrip_with(state, PACK_LZMA, "lzma"); }
static void test_lzop(void **state) { roundtrip_with(state, PACK_LZOP, "lzop"); }
static void test_zstd(void **state) { roundtrip(state, PACK_ZSTD); }
static void test_gzip(void **state) { roundtrip(state, PACK_GZIP); }
static void test_bzip2(void **state) { roundtrip(state, PACK_BZIP2); }
static void test_none(void **state) { roundtrip(state, PACK_NONE); }

/* Same tree, same bytes (names sorted, no time stamps in headers). */
static void test_stable(void **state)
{
	Sandbox *s = *state;
	PackResult r1 = {}, r2 = {};
	char *err = NULL;
	_cleanup_free_ char *d1 = NULL, *d2 = NULL;
	size_t l1, l2;

	if (geteuid() != 0)
		skip();
	make_tree(s);
	assert_int_equal(pack(s, PACK_GZIP, "a", digests, &r1, &err), 0);
	assert_int_equal(pack(s, PACK_GZIP, "b", digests, &r2, &err), 0);
	assert_int_equal(read_file_at(s->out_fd, r1.tarball, 1 << 24, &d1, &l1), 0);
	assert_int_equal(read_file_at(s->out_fd, r2.tarball, 1 << 24, &d2, &l2), 0);
	assert_int_equal(l1, l2);
	assert_memory_equal(d1, d2, l1);
	pack_result_done(&r1);
	pack_result_done(&r2);
}

static void test_bsd_digests(void **state)
{
	Sandbox *s = *state;
	PackRequest req = {
		.root_fd = s->tree_fd, .out_dir_fd = s->out_fd, .name = "bsd",
		.compression = PACK_NONE, .level = -1, .digests = digests,
		.digest_format = "bsd",
	};
	PackResult res = {};
	char *err = NULL;
	_cleanup_free_ char *txt = NULL;

	write_at(s->tree_fd, "f", "x\n", 2, 0644);
	assert_int_equal(pack_tree(&req, &res, &err), 0);
	txt = run(s, NULL, "cat out/bsd.tar.DIGESTS");
	assert_contains(txt, "SHA512 (bsd.tar) = ");
	assert_contains(txt, "BLAKE2B (bsd.tar.CONTENTS.gz) = ");
	free(run(s, NULL, "cd out && grep ^SHA512 bsd.tar.DIGESTS | sha512sum -c --strict"));
	pack_result_done(&res);
}

/* ---- modes ---- */

static void test_modes(void **state)
{
	/* catalyst 4.1's pyDeComp COMPRESS_DEFINITIONS, with its extensions. */
	static const struct {
		const char *mode;
		int r;
		PackCompression c;
		bool threads;
		const char *ext;
	} t[] = {
		{ "lbzip2", 0, PACK_BZIP2, false, "tar.bz2" },
		{ "bzip2", 0, PACK_BZIP2, false, "tar.bz2" },
		{ "lzip", 0, PACK_LZIP, false, "tar.lzip" },
		{ "lzma", 0, PACK_LZMA, false, "tar.lzma" },
		{ "lzop", 0, PACK_LZOP, false, "tar.lzop" },
		{ "tar", 0, PACK_NONE, false, "tar" },
		{ "xz", 0, PACK_XZ, false, "tar.xz" },
		{ "pixz", 0, PACK_XZ, true, "tar.xz" },
		{ "pixz_i", 0, PACK_XZ, true, "tar.xz" },
		{ "zstd", 0, PACK_ZSTD, false, "tar.zstd" },
		{ "pzstd", 0, PACK_ZSTD, true, "tar.pzstd" },
		{ "gzip", 0, PACK_GZIP, false, "tar.gz" },
		{ "squashfs_xz", 0, PACK_SQUASHFS_XZ, true, "squashfs" },
		{ "squashfs_gzip", 0, PACK_SQUASHFS_GZIP, true, "squashfs" },
		{ "squashfs_zstd", 0, PACK_SQUASHFS_ZSTD, true, "squashfs" },
		{ "squashfs_pzstd", 0, PACK_SQUASHFS_ZSTD, true, "squashfs" },
		/* pyDeComp 0.3's deprecated _x modes */
		{ "lbzip2_x", 0, PACK_BZIP2, false, "tar.bz2" },
		{ "bzip2_x", 0, PACK_BZIP2, false, "tar.bz2" },
		{ "tar_x", 0, PACK_NONE, false, "tar" },
		{ "xz_x", 0, PACK_XZ, false, "tar.xz" },
		{ "pixz_x", 0, PACK_XZ, true, "tar.xz" },
		{ "gzip_x", 0, PACK_GZIP, false, "tar.gz" },
		/* not pyDeComp's, or not a packer */
		{ "rsync", -EINVAL, 0, false, NULL },
		{ "pigz", -EINVAL, 0, false, NULL },
		{ "zstd_x", -EINVAL, 0, false, NULL },
		{ "pzstd_x", -EINVAL, 0, false, NULL },
		{ "squashfs", -EINVAL, 0, false, NULL },
		{ "", -EINVAL, 0, false, NULL },
		{ "XZ", -EINVAL, 0, false, NULL },
	};
	(void)state;

	for (size_t i = 0; i < ELEMENTSOF(t); i++) {
		PackCompression c = _PACK_COMPRESSION_MAX;
		int threads = -1;

		assert_int_equal(pack_compression_from_mode(t[i].mode, &c, &threads), t[i].r);
		if (t[i].r < 0) {
			assert_null(pack_mode_extension(t[i].mode));
			continue;
		}
		assert_int_equal(c, t[i].c);
		assert_string_equal(pack_mode_extension(t[i].mode), t[i].ext);
		if (t[i].threads)
			assert_int_equal(threads, (int)sysconf(_SC_NPROCESSORS_ONLN));
		else
			assert_int_equal(threads, 0);
	}
	assert_int_equal(pack_modes_n, 22);
	assert_int_equal(pack_compression_from_mode(NULL, NULL, NULL), -EINVAL);
	assert_string_equal(pack_extension(PACK_XZ), "tar.xz");
	assert_string_equal(pack_extension(PACK_ZSTD), "tar.zstd");
	assert_string_equal(pack_extension(PACK_GZIP), "tar.gz");
	assert_string_equal(pack_extension(PACK_BZIP2), "tar.bz2");
	assert_string_equal(pack_extension(PACK_NONE), "tar");
	assert_null(pack_extension(_PACK_COMPRESSION_MAX));
}

/* ---- failures ---- */

static void write_old(Sandbox *s, const char *base)
{
	_cleanup_free_ char *c = xasprintf("%s.CONTENTS.gz", base);
	_cleanup_free_ char *d = xasprintf("%s.DIGESTS", base);

	write_at(s->out_fd, base, "old", 3, 0644);
	write_at(s->out_fd, c, "oldc", 4, 0644);
	write_at(s->out_fd, d, "oldd", 4, 0644);
}

static void assert_old(Sandbox *s, const char *base)
{
	_cleanup_free_ char *c = xasprintf("%s.CONTENTS.gz", base);
	_cleanup_free_ char *d = xasprintf("%s.DIGESTS", base);
	_cleanup_free_ char *x = NULL, *y = NULL, *z = NULL;
	size_t n;

	assert_int_equal(read_file_at(s->out_fd, base, 100, &x, &n), 0);
	assert_string_equal(x, "old");
	assert_int_equal(read_file_at(s->out_fd, c, 100, &y, &n), 0);
	assert_string_equal(y, "oldc");
	assert_int_equal(read_file_at(s->out_fd, d, 100, &z, &n), 0);
	assert_string_equal(z, "oldd");
}

static void test_unknown_digest(void **state)
{
	Sandbox *s = *state;
	char *bad[] = { "sha512", "nosuchhash", NULL };
	PackResult res = {};
	char *err = NULL;
	_cleanup_free_ char *ls = NULL;

	write_old(s, "x.tar.gz");
	assert_int_equal(pack(s, PACK_GZIP, "x", bad, &res, &err), -EINVAL);
	assert_non_null(err);
	assert_contains(err, "pack: DIGESTS: unknown digest 'nosuchhash'");
	free(err);
	assert_old(s, "x.tar.gz");
	ls = out_listing(s);
	assert_string_equal(ls, "x.tar.gz\nx.tar.gz.CONTENTS.gz\nx.tar.gz.DIGESTS\n");
}

static void test_repack_replaces(void **state)
{
	Sandbox *s = *state;
	PackResult res = {};
	char *err = NULL;
	_cleanup_free_ char *ls = NULL;
	struct stat st;

	if (geteuid() != 0)
		skip();
	make_tree(s);
	write_old(s, "r.tar.xz");
	assert_int_equal(pack(s, PACK_XZ, "r", digests, &res, &err), 0);
	assert_int_equal(fstatat(s->out_fd, "r.tar.xz", &st, 0), 0);
	assert_true(st.st_size > 1000);
	assert_int_equal(st.st_mode & 07777, 0644);
	free(run(s, NULL, "cd out && grep -A1 '^# SHA512 HASH$' r.tar.xz.DIGESTS | grep -v '^#'"
			  " | grep -v '^--$' | sha512sum -c --strict"));
	free(run(s, NULL, "zcat out/r.tar.xz.CONTENTS.gz | grep -q busybox"));
	ls = out_listing(s);
	assert_string_equal(ls, "r.tar.xz\nr.tar.xz.CONTENTS.gz\nr.tar.xz.DIGESTS\nr.tar.xz.sha256\n");
	pack_result_done(&res);
}

/*
 * In a child with a private mount namespace: OUT is a 64 KiB tmpfs holding
 * an older result; packing 1.5 MiB of incompressible data fails with
 * ENOSPC, names the failing step, and leaves exactly the older files.
 * Returns a code for the parent: 0 ok, 77 skipped, else the failed check.
 */
static int enospc_child(Sandbox *s, PackCompression c)
{
	char *ldigests[] = { "sha512", NULL };
	PackResult res = {};
	char *err = NULL;
	char out[128];
	DIR *d;
	struct dirent *de;
	int n = 0, r;
	_cleanup_free_ char *base = xasprintf("n.%s", pack_extension(c));

	if (unshare(CLONE_NEWNS) < 0)
		return 77;
	if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
		return 77;
	snprintf(out, sizeof(out), "%s/out", s->path);
	if (mount("tmpfs", out, "tmpfs", 0, "size=64k") < 0)
		return 77;
	close(s->out_fd);
	s->out_fd = open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->out_fd < 0)
		return 2;
	write_at(s->out_fd, base, "old", 3, 0644);
	{
		_cleanup_free_ char *cn = xasprintf("%s.CONTENTS.gz", base);
		_cleanup_free_ char *dn = xasprintf("%s.DIGESTS", base);

		write_at(s->out_fd, cn, "oldc", 4, 0644);
		write_at(s->out_fd, dn, "oldd", 4, 0644);
	}
	r = pack(s, c, "n", ldigests, &res, &err);
	if (r != -ENOSPC) {
		fprintf(stderr, "pack returned %d: %s\n", r, err ? err : "(null)");
		return 3;
	}
	if (!err || !strstr(err, "No space left on device")) {
		fprintf(stderr, "message: %s\n", err ? err : "(null)");
		return 4;
	}
	fprintf(stderr, "# %s: %s\n", pack_extension(c), err);
	free(err);
	d = fdopendir(dup(s->out_fd));
	if (!d)
		return 5;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	if (n != 3)
		return 6;
	{
		_cleanup_free_ char *x = NULL;
		size_t len;

		if (read_file_at(s->out_fd, base, 100, &x, &len) < 0 || strcmp(x, "old") != 0)
			return 7;
	}
	return 0;
}

static void enospc(void **state, PackCompression c)
{
	Sandbox *s = *state;
	pid_t pid;
	int status;

	if (geteuid() != 0)
		skip();
	make_tree(s);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(enospc_child(s, c));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_enospc_none(void **state) { enospc(state, PACK_NONE); }
static void test_enospc_xz(void **state) { enospc(state, PACK_XZ); }
static void test_enospc_zstd(void **state) { enospc(state, PACK_ZSTD); }

/* A mount point is archived, what is mounted there is not. */
static int mount_child(Sandbox *s)
{
	PackResult res = {};
	char *err = NULL;
	char mnt[128];
	_cleanup_free_ char *list = NULL;
	int r, status;

	if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
		return 77;
	snprintf(mnt, sizeof(mnt), "%s/tree/mnt", s->path);
	if (mkdir(mnt, 0755) < 0)
		return 2;
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k,mode=0751") < 0)
		return 77;
	/* An fd opened before unshare() still sees the old mount tree. */
	snprintf(mnt, sizeof(mnt), "%s/tree", s->path);
	close(s->tree_fd);
	s->tree_fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->tree_fd < 0)
		return 2;
	write_at(s->tree_fd, "mnt/hidden", "x", 1, 0644);
	write_at(s->tree_fd, "visible", "x", 1, 0644);
	r = pack(s, PACK_NONE, "m", digests, &res, &err);
	if (r < 0) {
		fprintf(stderr, "%s\n", err);
		return 3;
	}
	if (res.entries != 3) {
		fprintf(stderr, "%llu entries\n", (unsigned long long)res.entries);
		return 4;
	}
	list = run(s, &status, "tar -tvf out/m.tar"); /* no cmocka failure in a child */
	if (status != 0 || !strstr(list, "drwxr-x--x 0/0 ") || !strstr(list, "./mnt/\n") || strstr(list, "hidden"))
		return 5;
	pack_result_done(&res);
	return 0;
}

static void test_mount_point(void **state)
{
	Sandbox *s = *state;
	pid_t pid;
	int status;

	if (geteuid() != 0)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(mount_child(s));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * An entry that cannot be read (root reads anything on a normal
 * filesystem, so bind-mount a write-only sysfs attribute over a file in
 * the tree): the error names the entry, nothing is published and the older
 * result stays.
 */
static int unreadable_child(Sandbox *s)
{
	static const char attr[] = "/sys/bus/cpu/uevent";
	PackResult res = {};
	char *err = NULL;
	char path[128];
	struct stat st;
	DIR *d;
	struct dirent *de;
	int n = 0, r;

	if (stat(attr, &st) < 0 || (st.st_mode & 0444))
		return 77;
	if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
		return 77;
	snprintf(path, sizeof(path), "%s/tree/usr/bin/x", s->path);
	if (mount(attr, path, "none", MS_BIND, NULL) < 0) /* type: valgrind wants a string */
		return 77;
	snprintf(path, sizeof(path), "%s/tree", s->path);
	close(s->tree_fd);
	s->tree_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->tree_fd < 0)
		return 2;
	r = pack(s, PACK_XZ, "u", digests, &res, &err);
	if (r != -EACCES || !err || strcmp(err, "pack: entry './usr/bin/x': Permission denied") != 0) {
		fprintf(stderr, "pack returned %d: %s\n", r, err ? err : "(null)");
		return 3;
	}
	free(err);
	d = fdopendir(dup(s->out_fd));
	if (!d)
		return 4;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n == 3 ? 0 : 5;
}

static void test_unreadable_entry(void **state)
{
	Sandbox *s = *state;
	pid_t pid;
	int status;

	if (geteuid() != 0)
		skip();
	make_tree(s);
	assert_int_equal(mkdirat(s->tree_fd, "usr", 0755), 0);
	assert_int_equal(mkdirat(s->tree_fd, "usr/bin", 0755), 0);
	write_at(s->tree_fd, "usr/bin/x", "x", 1, 0755);
	write_old(s, "u.tar.xz");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(unreadable_child(s));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_old(s, "u.tar.xz");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes),
		T(test_xz),
		T(test_zstd),
		T(test_lzip),
		T(test_lzma),
		T(test_lzop),
		T(test_gzip),
		T(test_bzip2),
		T(test_none),
		T(test_stable),
		T(test_bsd_digests),
		T(test_unknown_digest),
		T(test_repack_replaces),
		T(test_enospc_none),
		T(test_enospc_xz),
		T(test_enospc_zstd),
		T(test_mount_point),
		T(test_unreadable_entry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
