// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * image.c - tarball -> squashfs image (see image.h).
 *
 *   file --pread, sha256--> pipe --> tar2sqfs --> OUT_FD (its fd 3)
 *
 * We are the only reader of the file, so what tar2sqfs sees is exactly
 * what we hashed.  tar2sqfs runs with --no-skip (a record it cannot read
 * is an error, never a silently missing file), and with fixed defaults
 * for directories the tarball does not list.
 */
#include "image.h"

#include "child.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMAGE_CHUNK (256 << 10)

static bool same_file_state(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The tarball as libarchive reads it: every byte once, in order, hashed
 * on the way (the tail after the end-of-archive blocks is hashed by
 * hash_tail()). */
typedef struct Source {
	int fd;
	uint64_t off, total;
	struct sha256_ctx *ctx;
	unsigned char *buf;
	int err; /* -errno of a failed read */
	ImageProgressFn progress;
	void *userdata;
} Source;

static la_ssize_t source_read(struct archive *a, void *userdata, const void **ret)
{
	Source *s = userdata;
	ssize_t n;

	(void) a;
	do
		n = pread(s->fd, s->buf, IMAGE_CHUNK, (off_t) s->off);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		s->err = -errno;
		return -1;
	}
	if (n > 0)
		sha256_update(s->ctx, (size_t) n, s->buf);
	s->off += (uint64_t) n;
	if (s->progress)
		s->progress(s->userdata, s->off, s->total);
	*ret = s->buf;
	return n;
}

static int hash_tail(Source *s)
{
	for (;;) {
		const void *p;
		la_ssize_t n = source_read(NULL, s, &p);
		if (n < 0)
			return s->err;
		if (n == 0)
			return 0;
	}
}

/* A name that would leave the image's root: refused, as unpack.c does. */
static bool path_escapes(const char *p)
{
	if (!p)
		return false;
	if (p[0] == '/')
		return true;
	for (const char *c = p; *c;) {
		size_t n = strcspn(c, "/");
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return true;
		c += n;
		c += strspn(c, "/");
	}
	return false;
}

static int archive_fail(struct archive *a, const char *name, int r, char **ret_err)
{
	const char *e = archive_error_string(a);
	int en = archive_errno(a);
	/* libarchive's "Write error" alone does not say what went wrong. */
	bool add = en > 0 && (!e || !strstr(e, strerror(en)));

	free(*ret_err);
	*ret_err = xasprintf("%s: %s%s%s", name, e ? e : "unreadable archive", add ? ": " : "", add ? strerror(en) : "");
	return r;
}

/* The -errno of a failed write of the tar stream to tar2sqfs. */
static int write_errno(struct archive *out)
{
	int en = archive_errno(out);
	return en == EPIPE ? -EPIPE : en > 0 ? -en : -EIO;
}

/* Read the tarball at SRC and write it, entry by entry, as a plain pax tar
 * stream to PIPE_FD.  Returns 0 or -errno (-EPIPE: tar2sqfs stopped
 * reading; -EBADMSG: not a whole, readable tarball; -EPERM: a hostile
 * entry), with *RET_ERR. */
static int feed(Source *src, const char *name, int pipe_fd, char **ret_err)
{
	struct archive *in = archive_read_new(), *out = archive_write_new();
	struct archive_entry *e;
	int r = 0, ar;

	if (!in || !out)
		die_oom();
	archive_read_support_filter_all(in);
	archive_read_support_format_tar(in);
	archive_read_support_format_gnutar(in);
	archive_write_set_format_pax_restricted(out);
	archive_write_add_filter_none(out);
	archive_write_set_bytes_per_block(out, 10240);
	if (archive_write_open_fd(out, pipe_fd) != ARCHIVE_OK) {
		r = archive_fail(out, "tar stream to tar2sqfs", -EIO, ret_err);
		goto out;
	}
	if (archive_read_open(in, src, NULL, source_read, NULL) != ARCHIVE_OK) {
		r = src->err ? src->err : -EBADMSG;
		archive_fail(in, name, r, ret_err);
		goto out;
	}
	while ((ar = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		const char *path = archive_entry_pathname(e), *hl = archive_entry_hardlink(e);
		const void *buf;
		size_t len;
		la_int64_t off;

		if (path_escapes(path) || path_escapes(hl)) {
			*ret_err = xasprintf("%s: entry '%s': path escapes the tree", name, path ? path : "?");
			r = -EPERM;
			goto out;
		}
		if (archive_write_header(out, e) != ARCHIVE_OK) {
			r = write_errno(out);
			archive_fail(out, "tar stream to tar2sqfs", r, ret_err);
			goto out;
		}
		while ((ar = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK)
			if (archive_write_data(out, buf, len) < 0) {
				r = write_errno(out);
				archive_fail(out, "tar stream to tar2sqfs", r, ret_err);
				goto out;
			}
		if (ar != ARCHIVE_EOF) {
			r = src->err ? src->err : -EBADMSG;
			archive_fail(in, name, r, ret_err);
			goto out;
		}
	}
	if (ar != ARCHIVE_EOF) {
		r = src->err ? src->err : -EBADMSG;
		archive_fail(in, name, r, ret_err);
		goto out;
	}
	if (archive_write_close(out) != ARCHIVE_OK) {
		r = write_errno(out);
		archive_fail(out, "tar stream to tar2sqfs", r, ret_err);
		goto out;
	}
	r = hash_tail(src);
	if (r < 0)
		*ret_err = xasprintf("read %s: %s", name, strerror(-r));
out:
	archive_read_free(in);
	archive_write_free(out);
	if (r < 0 && src->err && !*ret_err)
		*ret_err = xasprintf("read %s: %s", name, strerror(-src->err));
	return r;
}

int image_make(int src_fd, const char *name, int out_fd, ImageProgressFn progress, void *userdata,
	       ImageStats *ret_stats, char **ret_err)
{
	Child _cleanup_(child_done) sq = CHILD_INIT("tar2sqfs");
	_cleanup_close_ int pr = -EBADF, pw = -EBADF;
	_cleanup_free_ char *feed_err = NULL;
	struct stat before, after, out;
	unsigned char md[SHA256_DIGEST_SIZE];
	char jobs[16];
	SigpipeGuard guard;
	uint64_t done = 0;
	struct sha256_ctx ctx;
	int p[2], r, feed_r;

	if (fstat(src_fd, &before) < 0) {
		r = -errno;
		*ret_err = xasprintf("stat %s: %s", name, strerror(-r));
		return r;
	}
	if (!S_ISREG(before.st_mode)) {
		*ret_err = xasprintf("%s: not a regular file", name);
		return -EINVAL;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		r = -errno;
		*ret_err = xasprintf("pipe: %s", strerror(-r));
		return r;
	}
	pr = p[0];
	pw = p[1];

	snprintf(jobs, sizeof(jobs), "%u", n_cpus());
	char *argv[] = {
		"tar2sqfs", "--quiet", "--no-skip", "--force",
		"--compressor", IMAGE_COMPRESSOR,
		"--num-jobs", jobs,
		"--defaults", "uid=0,gid=0,mode=0755,mtime=0",
		"/dev/fd/3", NULL,
	};

	sigpipe_block(&guard);
	r = child_spawn(&sq, argv, pr, -1, out_fd, &guard.orig);
	if (r < 0) {
		sigpipe_restore(&guard);
		return spawn_error(r, "tar2sqfs", ret_err);
	}
	closep(&pr);

	sha256_init(&ctx);
	Source src = {
		.fd = src_fd, .total = (uint64_t) before.st_size, .ctx = &ctx,
		.buf = xmalloc(IMAGE_CHUNK), .progress = progress, .userdata = userdata,
	};
	feed_r = feed(&src, name, pw, &feed_err);
	done = src.off;
	free(src.buf);
	closep(&pw);
	r = child_wait(&sq);
	sigpipe_restore(&guard);
	if (r < 0) {
		*ret_err = xasprintf("waitpid tar2sqfs: %s", strerror(-r));
		return r;
	}
	/* A file rewritten while we read it explains any failure best. */
	if (fstat(src_fd, &after) < 0) {
		r = -errno;
		*ret_err = xasprintf("stat %s: %s", name, strerror(-r));
		return r;
	}
	if (!same_file_state(&before, &after) || (feed_r == 0 && done != (uint64_t) after.st_size)) {
		*ret_err = xasprintf("%s changed while it was read (size, mtime or ctime)", name);
		return -ESTALE;
	}
	_cleanup_free_ char *complaint = child_stderr_line(&sq);
	if (child_failed(&sq) || (*complaint && feed_r == 0)) {
		/* The root cause is tar2sqfs's, unless we stopped feeding it. */
		if (feed_r < 0 && feed_r != -EPIPE) {
			*ret_err = TAKE_PTR(feed_err);
			return feed_r;
		}
		_cleanup_free_ char *why = child_failed(&sq) ? child_describe(&sq)
							     : xasprintf("tar2sqfs: %s", complaint);
		/* tar2sqfs names its output in what failed writing it: that is
		 * a system error (exit 1), not a bad tarball (65). */
		char *wr = strstr(why, "/dev/fd/3: ");
		if (wr) {
			*ret_err = xasprintf("%s: %.*swriting the image: %s", name, (int) (wr - why), why,
					     wr + strlen("/dev/fd/3: "));
			return -EIO;
		}
		*ret_err = xasprintf("%s: %s", name, why);
		return -EBADMSG;
	}
	if (feed_r < 0) {
		*ret_err = TAKE_PTR(feed_err);
		return feed_r;
	}
	sha256_digest(&ctx, SHA256_DIGEST_SIZE, md);

	if (fsync(out_fd) < 0) {
		r = -errno;
		*ret_err = xasprintf("fsync of the image of %s: %s", name, strerror(-r));
		return r;
	}
	if (fstat(out_fd, &out) < 0) {
		r = -errno;
		*ret_err = xasprintf("stat of the image of %s: %s", name, strerror(-r));
		return r;
	}
	if (ret_stats) {
		ret_stats->source_bytes = done;
		ret_stats->image_bytes = (uint64_t) out.st_size;
		memcpy(ret_stats->sha256, md, 32);
	}
	return 0;
}
