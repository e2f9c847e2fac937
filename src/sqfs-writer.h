/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sqfs-writer.h - a squashfs image written in this process with
 * libsquashfs, from a walk that hands over each directory's entries in
 * order (snapshot --repo DIR --format sqfs).
 *
 * The caller walks a tree depth-first and reports, for every directory,
 * its entries in strictly increasing strcmp() order of their names: a
 * subdirectory as dir_begin ... dir_end around its own entries, a regular
 * file as file_begin, any number of file_append, file_end, a symlink as
 * one call.  A file of up to 1 MiB is held until file_end: if its data
 * (SHA-256 and size) was written before, it shares that data and none is
 * written again.  Other data goes to libsquashfs's block processor
 * (compressed by JOBS worker threads, full blocks deduplicated, tails
 * packed into fragments); inodes and directory listings are kept in
 * memory, one small record per entry, and written by sqfs_writer_finish()
 * once all data is out, children before parents.
 *
 * The image reads as what tar2sqfs makes of the same entries with
 * --defaults uid=0,gid=0,mode=0755: every inode owned by 0:0, permission
 * bits and mtimes (seconds, clamped to 0..2^32-1) as given, the root
 * directory mode 0755 and mtime 0, the superblock's time 0, 128 KiB blocks, no xattrs,
 * no export table, padded to 4 KiB.  Inode numbers are given as tar2sqfs
 * gives them (each directory's entries consecutively, after those of its
 * subdirectories; the root last), so the same entries always make the same
 * bytes: the image is reproducible.
 *
 * Contract: the output fd must be an empty regular file open for reading
 * and writing (fragment deduplication reads written blocks back); it is
 * not closed.  After any call fails, the writer only accepts
 * sqfs_writer_free(); what was written to the fd is garbage.  A writer is
 * used by one thread (its compressor threads are its own).
 */
#ifndef ZEOLITE_SQFS_WRITER_H
#define ZEOLITE_SQFS_WRITER_H

#include <stddef.h>
#include <stdint.h>

typedef struct SqfsWriter SqfsWriter;

/* COMPRESSOR: a libsquashfs name ("gzip", "lz4", "zstd", "xz", ...), at
 * its default level; JOBS >= 1 compressor threads.  0 or -errno; on
 * failure *RET_ERR says why. */
int sqfs_writer_new(int fd, const char *compressor, unsigned jobs, SqfsWriter **ret, char **ret_err);

/* Entries of the directory being walked (the root at first).  PERM is the
 * permission bits (07777), MTIME seconds since the epoch.  -EINVAL for a
 * name out of order, empty, or with a '/'. */
int sqfs_writer_dir_begin(SqfsWriter *w, const char *name, unsigned perm, int64_t mtime);
int sqfs_writer_dir_end(SqfsWriter *w);
int sqfs_writer_file_begin(SqfsWriter *w, const char *name, unsigned perm, int64_t mtime);
int sqfs_writer_file_append(SqfsWriter *w, const void *data, size_t n);
/* SHA256: the SHA-256 of the file's data, if the caller has it (the
 * writer trusts it for deduplication), or NULL. */
int sqfs_writer_file_end(SqfsWriter *w, const uint8_t *sha256);
int sqfs_writer_symlink(SqfsWriter *w, const char *name, const char *target, int64_t mtime);

/* Why the last call failed ("writing the image: No space left on
 * device"); NULL if none did.  Owned by the writer. */
const char *sqfs_writer_error(const SqfsWriter *w);

/* With every directory ended: wait for the data, write the inode,
 * directory, fragment and id tables and the superblock, pad.  0 or
 * -errno (see sqfs_writer_error()).  The fd is not synced. */
int sqfs_writer_finish(SqfsWriter *w);

void sqfs_writer_free(SqfsWriter *w);

#endif
