// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pack-squashfs.c - a stage as a squashfs image, through tar2sqfs; its
 * listing through unsquashfs (see pack-squashfs.h).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pack-squashfs.h"

#define SQUASHFS_BLOCK_SIZE "1048576" /* catalyst's -b 1M */
#define LISTING_MAX (UINT64_C(1) << 32)

bool squashfs_have(const char *prog)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = xstrdup(path && *path ? path : "/usr/bin:/bin");
	char *save = NULL;

	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *p = xasprintf("%s/%s", *d ? d : ".", prog);

		if (access(p, X_OK) == 0)
			return true;
	}
	return false;
}

static const char *compressor(PackCompression c)
{
	switch (c) {
	case PACK_SQUASHFS_XZ:
		return "xz";
	case PACK_SQUASHFS_GZIP:
		return "gzip";
	case PACK_SQUASHFS_ZSTD:
		return "zstd";
	default:
		return NULL;
	}
}

int squashfs_start(PackCompression c, int threads, int level, int image_fd, SquashfsWriter *w,
		   int *ret_pipe_fd, char **ret_err)
{
	const char *comp = compressor(c);
	char jobs[16], extra[32];
	int p[2], r;

	if (!comp) {
		*ret_err = xasprintf("pack: unknown squashfs compression %d", (int)c);
		return -EINVAL;
	}
	/* catalyst: squashfs_zstd and squashfs_pzstd at -Xcompression-level 2. */
	if (level < 0 && c == PACK_SQUASHFS_ZSTD)
		level = 2;
	snprintf(jobs, sizeof(jobs), "%u", threads > 0 ? (unsigned)threads : n_cpus());
	snprintf(extra, sizeof(extra), "level=%d", level);
	char *argv[16] = {
		"tar2sqfs", "--quiet", "--no-skip", "--force",
		"--compressor", (char *)comp,
		"--block-size", SQUASHFS_BLOCK_SIZE,
		"--num-jobs", jobs,
		"--defaults", "uid=0,gid=0,mode=0755,mtime=0",
	};
	size_t n = 12;

	if (level >= 0) {
		argv[n++] = "--comp-extra";
		argv[n++] = extra;
	}
	argv[n++] = "/dev/fd/3";
	argv[n] = NULL;

	if (pipe2(p, O_CLOEXEC) < 0) {
		r = -errno;
		*ret_err = xasprintf("pack: pipe: %s", strerror(-r));
		return r;
	}
	sigpipe_block(&w->guard);
	w->guarded = true;
	r = child_spawn(&w->child, argv, p[0], -1, image_fd, &w->guard.orig);
	close(p[0]);
	if (r < 0) {
		close(p[1]);
		spawn_error(r, "tar2sqfs", ret_err);
		return r;
	}
	*ret_pipe_fd = p[1];
	return 0;
}

int squashfs_finish(SquashfsWriter *w, char **ret_err)
{
	int r;

	r = child_wait(&w->child);
	if (w->guarded) {
		sigpipe_restore(&w->guard);
		w->guarded = false;
	}
	if (r < 0) {
		*ret_err = xasprintf("pack: waitpid tar2sqfs: %s", strerror(-r));
		return r;
	}
	if (child_failed(&w->child)) {
		_cleanup_free_ char *why = child_describe(&w->child);

		*ret_err = xasprintf("pack: %s", why);
		return -EIO;
	}
	return 0;
}

void squashfs_abort(SquashfsWriter *w)
{
	child_done(&w->child);
	if (w->guarded) {
		sigpipe_restore(&w->guard);
		w->guarded = false;
	}
}

int squashfs_listing(int image_fd, Buf *ret, char **ret_err)
{
	Child _cleanup_(child_done) c = CHILD_INIT("unsquashfs");
	_cleanup_close_ int out = -EBADF;
	struct stat st;
	int r;

	out = memfd_create("zeolite-unsquashfs", MFD_CLOEXEC);
	if (out < 0) {
		r = -errno;
		*ret_err = xasprintf("pack: CONTENTS: memfd: %s", strerror(-r));
		return r;
	}
	char *argv[] = { "unsquashfs", "-ll", "/dev/fd/3", NULL };
	r = child_spawn(&c, argv, -1, out, image_fd, NULL);
	if (r < 0) {
		_cleanup_free_ char *m = NULL;

		spawn_error(r, "unsquashfs", &m);
		*ret_err = xasprintf("pack: CONTENTS: %s", m);
		return r;
	}
	r = child_wait(&c);
	if (r < 0) {
		*ret_err = xasprintf("pack: CONTENTS: waitpid unsquashfs: %s", strerror(-r));
		return r;
	}
	if (child_failed(&c)) {
		_cleanup_free_ char *why = child_describe(&c);

		*ret_err = xasprintf("pack: CONTENTS: %s", why);
		return -EIO;
	}
	if (fstat(out, &st) < 0 || (uint64_t)st.st_size > LISTING_MAX) {
		*ret_err = xstrdup("pack: CONTENTS: unsquashfs: no listing");
		return -EIO;
	}
	for (off_t off = 0; off < st.st_size;) {
		char buf[65536];
		ssize_t n = pread(out, buf, sizeof(buf), off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			*ret_err = xasprintf("pack: CONTENTS: reading unsquashfs's listing: %s",
					     strerror(-r));
			return r;
		}
		buf_put(ret, buf, (size_t)n);
		off += n;
	}
	return 0;
}
