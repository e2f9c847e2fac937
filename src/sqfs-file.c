// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sqfs-file.c - a sqfs_file_t over an fd (see sqfs-file.h).
 */
#include "sqfs-file.h"

#include "util.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <sqfs/error.h>
#include <sqfs/super.h>

static void fdfile_destroy(sqfs_object_t *obj)
{
	(void) obj; /* embedded in its owner; the fd is the caller's */
}

int fdfile_io(FdFile *f, bool writing, uint64_t offset, void *buffer, size_t size)
{
	char *p = buffer;

	while (size > 0) {
		ssize_t n = writing ? pwrite(f->fd, p, size, (off_t) offset) : pread(f->fd, p, size, (off_t) offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			f->io_errno = n < 0 ? errno : EIO;
			return SQFS_ERROR_IO;
		}
		p += n;
		size -= (size_t) n;
		offset += (uint64_t) n;
	}
	return 0;
}

static int fdfile_read_at(sqfs_file_t *base, sqfs_u64 offset, void *buffer, size_t size)
{
	FdFile *f = (FdFile *) base;

	if (offset > f->size || size > f->size - offset)
		return SQFS_ERROR_OUT_OF_BOUNDS;
	return fdfile_io(f, false, offset, buffer, size);
}

static int fdfile_write_at(sqfs_file_t *base, sqfs_u64 offset, const void *buffer, size_t size)
{
	FdFile *f = (FdFile *) base;
	int r = fdfile_io(f, true, offset, (void *) buffer, size);

	if (r == 0 && offset + size > f->size)
		f->size = offset + size;
	return r;
}

static sqfs_u64 fdfile_get_size(const sqfs_file_t *base)
{
	return ((const FdFile *) base)->size;
}

static int fdfile_truncate(sqfs_file_t *base, sqfs_u64 size)
{
	FdFile *f = (FdFile *) base;

	if (ftruncate(f->fd, (off_t) size) < 0) {
		f->io_errno = errno;
		return SQFS_ERROR_IO;
	}
	f->size = size;
	return 0;
}

void fdfile_init(FdFile *f, int fd)
{
	*f = (FdFile) {
		.base = {
			.base = { .destroy = fdfile_destroy, .copy = NULL },
			.read_at = fdfile_read_at,
			.write_at = fdfile_write_at,
			.get_size = fdfile_get_size,
			.truncate = fdfile_truncate,
		},
		.fd = fd,
	};
}

int fdfile_pad(FdFile *f)
{
	uint64_t rem = f->size % SQFS_DEVBLK_SIZE;
	char zeros[SQFS_DEVBLK_SIZE] = { 0 };

	if (rem == 0)
		return 0;
	return f->base.write_at(&f->base, f->size, zeros, (size_t) (SQFS_DEVBLK_SIZE - rem));
}

int sqfs_error_describe(int err, int io_errno, const char *what, char **ret_msg)
{
	if (err == SQFS_ERROR_IO && io_errno) {
		*ret_msg = xasprintf("%s: %s", what, strerror(io_errno));
		return -io_errno;
	}
	if (err == SQFS_ERROR_ALLOC) {
		*ret_msg = xasprintf("%s: out of memory", what);
		return -ENOMEM;
	}
	*ret_msg = xasprintf("%s: libsquashfs error %d", what, err);
	return -EIO;
}

int fdfile_write_tail(FdFile *f, sqfs_super_t *super, sqfs_compressor_t *cmp, sqfs_frag_table_t *frags,
		      sqfs_id_table_t *ids, sqfs_xattr_writer_t *xwr, uint32_t inode_count, const char **ret_what)
{
	int r;

	*ret_what = "writing the fragment table";
	r = sqfs_frag_table_write(frags, &f->base, super, cmp);
	if (r == 0) {
		*ret_what = "writing the id table";
		r = sqfs_id_table_write(ids, &f->base, super, cmp);
	}
	if (r == 0 && xwr) {
		*ret_what = "writing the xattr tables";
		r = sqfs_xattr_writer_flush(xwr, &f->base, super, cmp);
	}
	if (r == 0) {
		*ret_what = "writing the superblock";
		super->inode_count = inode_count;
		super->bytes_used = f->size;
		r = sqfs_super_write(super, &f->base);
	}
	if (r == 0) {
		*ret_what = "padding the image";
		r = fdfile_pad(f);
	}
	return r;
}
