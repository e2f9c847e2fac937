// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * image.c - tarball -> squashfs image (see image.h).
 *
 *   file --pread, sha256--> [inflater thread] --tar--> libarchive
 *        --entries--> image-writer --> OUT_FD
 *
 * A compressed tarball is decompressed on a thread of its own (inflate.h),
 * so that parsing, hashing and packing tails on this thread overlap with
 * it.  We are the only reader of the file, so what the writer gets is
 * exactly what we hashed.  Every entry is checked (no absolute names, no "..",
 * owners that fit, no ACLs an image would drop) before the writer sees it.
 */
#include "image.h"

#include "child.h"
#include "image-writer.h"
#include "inflate.h"

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
 * on the way, from our own preads or from the Inflater's (the tail after
 * the end-of-archive blocks is hashed by stream_hash_finish()). */
typedef struct Source {
	int fd;
	uint64_t off, total;
	StreamHash hash;
	Inflater *inf;  /* decompressing on a thread, or NULL */
	unsigned char *buf;
	int err; /* -errno of a failed read */
	ImageProgressFn progress;
	void *userdata;
} Source;

static la_ssize_t source_read(struct archive *a, void *userdata, const void **ret)
{
	Source *s = userdata;
	ssize_t n;

	if (s->inf) {
		int io_errno = 0;

		n = inflater_read(s->inf, a, ret, &io_errno);
		if (n < 0 && io_errno)
			s->err = -io_errno;
		if (s->progress)
			s->progress(s->userdata, inflater_consumed(s->inf), s->total);
		return n;
	}
	do
		n = pread(s->fd, s->buf, IMAGE_CHUNK, (off_t) s->off);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		s->err = -errno;
		return -1;
	}
	stream_hash(&s->hash, s->off, s->buf, (size_t) n);
	s->off += (uint64_t) n;
	if (s->progress)
		s->progress(s->userdata, s->off, s->total);
	*ret = s->buf;
	return n;
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

/* ENTRY (its header read) and its data into the writer. */
static int put_entry(Source *src, const char *name, struct archive *in, struct archive_entry *e, ImageWriter *iw,
		     char **ret_err)
{
	const char *path = archive_entry_pathname(e), *hl = archive_entry_hardlink(e);
	ImageEntry ie = {
		.path = path,
		.mode = archive_entry_filetype(e) | archive_entry_perm(e),
		.uid = (uint32_t) archive_entry_uid(e),
		.gid = (uint32_t) archive_entry_gid(e),
		.mtime = archive_entry_mtime(e),
		.rdev = archive_entry_rdev(e),
		.size = archive_entry_size(e) > 0 ? (uint64_t) archive_entry_size(e) : 0,
		.symlink = archive_entry_symlink(e),
		.hardlink = hl,
	};
	const char *key;
	const void *buf;
	size_t len;
	la_int64_t off;
	int r, ar;

	if (!path || path_escapes(path) || path_escapes(hl)) {
		*ret_err = xasprintf("%s: entry '%s': path escapes the tree", name, path ? path : "?");
		return -EPERM;
	}
	if (archive_entry_uid(e) < 0 || archive_entry_uid(e) > UINT32_MAX || archive_entry_gid(e) < 0 ||
	    archive_entry_gid(e) > UINT32_MAX) {
		*ret_err = xasprintf("%s: entry '%s': an owner squashfs cannot store", name, path);
		return -EBADMSG;
	}
	/* An image has no ACLs: refused, not dropped. */
	if (archive_entry_acl_types(e) != 0) {
		*ret_err = xasprintf("%s: entry '%s' has ACLs, which a squashfs image cannot keep", name, path);
		return -EBADMSG;
	}
	r = image_writer_begin(iw, &ie);
	archive_entry_xattr_reset(e);
	while (r == 0 && archive_entry_xattr_next(e, &key, &buf, &len) == ARCHIVE_OK)
		r = image_writer_xattr(iw, key, buf, len);
	/* A hard link's data, if a tarball carries it, is its target's. */
	while (r == 0 && (ar = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK)
		if (!hl)
			r = image_writer_data(iw, (uint64_t) off, buf, len);
	if (r == 0 && ar != ARCHIVE_EOF) {
		r = src->err ? src->err : -EBADMSG;
		archive_fail(in, name, r, ret_err);
		return r;
	}
	if (r == 0)
		r = image_writer_end(iw);
	if (r < 0)
		*ret_err = xasprintf("%s: %s", name, image_writer_error(iw));
	return r;
}

/* Read the tarball at SRC into IW, entry by entry.  Returns 0 or -errno
 * (-EBADMSG: not a whole, readable tarball, or an entry no image holds;
 * -EPERM: a hostile entry; others: writing the image), with *RET_ERR. */
static int feed(Source *src, const char *name, ImageWriter *iw, char **ret_err)
{
	struct archive *in = archive_read_new();
	struct archive_entry *e;
	int r = 0, ar;

	if (!in)
		die_oom();
	if (!src->inf)
		archive_read_support_filter_all(in);
	archive_read_support_format_tar(in);
	archive_read_support_format_gnutar(in);
	if (archive_read_open(in, src, NULL, source_read, NULL) != ARCHIVE_OK) {
		r = src->err ? src->err : -EBADMSG;
		archive_fail(in, name, r, ret_err);
		goto out;
	}
	while ((ar = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		r = put_entry(src, name, in, e, iw, ret_err);
		if (r < 0)
			goto out;
	}
	if (ar != ARCHIVE_EOF) {
		r = src->err ? src->err : -EBADMSG;
		archive_fail(in, name, r, ret_err);
		goto out;
	}
out:
	archive_read_free(in);
	if (r < 0 && src->err && !*ret_err)
		*ret_err = xasprintf("read %s: %s", name, strerror(-src->err));
	return r;
}

int image_make(int src_fd, const char *name, int work_dirfd, int out_fd, ImageProgressFn progress,
	       void *userdata, ImageStats *ret_stats, char **ret_err)
{
	_cleanup_(image_writer_freep) ImageWriter *iw = NULL;
	struct stat before, after, out;
	unsigned char md[SHA256_DIGEST_SIZE];
	uint64_t done;
	int r;

	if (fstat(src_fd, &before) < 0) {
		r = -errno;
		*ret_err = xasprintf("stat %s: %s", name, strerror(-r));
		return r;
	}
	if (!S_ISREG(before.st_mode)) {
		*ret_err = xasprintf("%s: not a regular file", name);
		return -EINVAL;
	}
	r = image_writer_new(out_fd, work_dirfd, IMAGE_COMPRESSOR, n_cpus(), &iw, ret_err);
	if (r < 0)
		return r;

	Source src = {
		.fd = src_fd, .total = (uint64_t) before.st_size, .hash = { .on = true },
		.progress = progress, .userdata = userdata,
	};
	Inflater inf;
	unsigned char magic[8];
	ssize_t k = pread(src_fd, magic, sizeof(magic), 0);
	bool hashed = false;

	sha256_init(&src.hash.ctx);
	if (k > 0 && inflate_worth_a_thread(magic, (size_t) k) && inflater_start(&inf, src_fd, &src.hash) == 0)
		src.inf = &inf;
	else
		src.buf = xmalloc(IMAGE_CHUNK);
	r = feed(&src, name, iw, ret_err);
	if (src.inf)
		inflater_stop(src.inf);
	free(src.buf);
	if (r == 0) {
		r = stream_hash_finish(&src.hash, src_fd, md, &hashed);
		if (r < 0)
			*ret_err = xasprintf("read %s: %s", name, strerror(-r));
		else if (!hashed) {
			*ret_err = xasprintf("%s: not every byte was read once, in order", name);
			r = -EIO;
		}
	}
	done = src.hash.upto;
	/* A file rewritten while we read it explains any failure best. */
	if (fstat(src_fd, &after) < 0) {
		free(*ret_err);
		r = -errno;
		*ret_err = xasprintf("stat %s: %s", name, strerror(-r));
		return r;
	}
	if (!same_file_state(&before, &after) || (r == 0 && done != (uint64_t) after.st_size)) {
		free(*ret_err);
		*ret_err = xasprintf("%s changed while it was read (size, mtime or ctime)", name);
		return -ESTALE;
	}
	if (r < 0)
		return r;
	r = image_writer_finish(iw);
	if (r < 0) {
		*ret_err = xasprintf("%s: %s", name, image_writer_error(iw));
		return r;
	}
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
