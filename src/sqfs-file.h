/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sqfs-file.h - a libsquashfs sqfs_file_t over a caller's fd, for the two
 * image writers (sqfs-writer.c, image-writer.c).
 *
 * pread/pwrite at the offsets libsquashfs asks for; the size is tracked
 * here, starting at 0 (the fd is an empty file), so libsquashfs's
 * "append" is a pwrite at that size.  The fd stays the caller's: the
 * object is embedded in its owner and destroying it does nothing.  Used
 * from one thread at a time (libsquashfs calls it from its caller's).
 */
#ifndef ZEOLITE_SQFS_FILE_H
#define ZEOLITE_SQFS_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqfs/compressor.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/io.h>
#include <sqfs/super.h>
#include <sqfs/xattr_writer.h>

typedef struct FdFile {
	sqfs_file_t base;
	int fd;
	uint64_t size;
	int io_errno; /* of the last failed call: what SQFS_ERROR_IO meant */
} FdFile;

void fdfile_init(FdFile *f, int fd);

/* All of SIZE bytes at OFFSET, read or written: 0 or SQFS_ERROR_IO (with
 * f->io_errno).  Writing does not move f->size; write_at does. */
int fdfile_io(FdFile *f, bool writing, uint64_t offset, void *buffer, size_t size);

/* Zeros up to the next multiple of 4 KiB, as squashfs tools pad. */
int fdfile_pad(FdFile *f);

/* What libsquashfs's SQFS_ERROR_* code ERR while doing WHAT means, in
 * *RET_MSG ("WHAT: No space left on device"; IO_ERRNO: the file's errno
 * of the failed call); returns the -errno it stands for. */
int sqfs_error_describe(int err, int io_errno, const char *what, char **ret_msg);

/* What follows the directory table, as libsquashfs's tools write it: the
 * fragment, id and xattr tables (XWR may be NULL: none), then SUPER (with
 * INODE_COUNT, the size so far) at offset 0, then the padding.  0 or the
 * SQFS_ERROR_* code, with *RET_WHAT naming what failed. */
int fdfile_write_tail(FdFile *f, sqfs_super_t *super, sqfs_compressor_t *cmp, sqfs_frag_table_t *frags,
		      sqfs_id_table_t *ids, sqfs_xattr_writer_t *xwr, uint32_t inode_count, const char **ret_what);

#endif
