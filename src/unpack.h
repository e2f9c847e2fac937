/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unpack.h - extract a snapshot or seed archive into a private directory.
 *
 * Formats: tar compressed with xz, zstd, bzip2, gzip (or none), read with
 * libarchive; squashfs images (.sqfs) read with libsquashfs.  When every
 * entry of a tarball sits under one top-level directory (as Gentoo's
 * published portage-*.tar.xz do), that level is stripped; likewise when
 * a squashfs image's root holds a single directory.  The stripped
 * directory's own mode and mtime are not applied to DEST_FD.
 *
 * Hostile input is refused: entries that would land outside the tree
 * ("..", absolute paths, through a symlink, hardlinks to outside), device
 * nodes (unless UNPACK_ALLOW_DEVICES).
 * A corrupt or truncated archive is an error.  On any error the caller
 * removes the staging directory; this module never writes outside DEST_FD.
 */
#ifndef ZEOLITE_UNPACK_H
#define ZEOLITE_UNPACK_H

#include "fs.h"
#include "util.h"

typedef enum UnpackFlags {
	UNPACK_ALLOW_DEVICES = 1 << 0, /* seeds: keep device nodes (root only) */
	UNPACK_KEEP_OWNER = 1 << 1,    /* restore uid/gid (seeds) */
	UNPACK_NO_STRIP = 1 << 2,      /* never strip a single top-level dir */
} UnpackFlags;

/* Called now and then with bytes of archive consumed and its total size. */
typedef void (*UnpackProgressFn)(void *userdata, uint64_t done, uint64_t total);

typedef struct UnpackStats {
	uint64_t entries;
	uint64_t bytes; /* file data written */
	bool stripped;  /* a single top-level directory was stripped */
	bool hashed;    /* SHA256 is of the very bytes unpacked (tar; not squashfs) */
	unsigned char sha256[32];
} UnpackStats;

/*
 * Unpack the archive open at ARCHIVE_FD (regular file, read from offset 0)
 * into the empty directory open at DEST_FD.  NAME is used in messages.
 * Returns 0, or:
 *   -EBADMSG  corrupt, truncated or unknown-format archive
 *   -EPERM    a hostile entry (outside the tree, device node, ...)
 *   -E2BIG    entry count or size limit exceeded
 *   other -errno for system errors (ENOSPC, EIO, ...)
 * with *RET_ERR (caller frees) set to a one-line reason such as
 * "entry '../etc/passwd': path escapes the tree".
 * The tree is synced (syncfs) before returning 0.
 * -ESTALE: the file's size, mtime or ctime changed while it was read.
 * For tar, ret_stats->sha256 is the digest of the bytes as they were read
 * and unpacked (every byte once, in order, then the tail): the caller
 * compares it with the id before publishing anything.
 */
int unpack_archive_at(int archive_fd, const char *name, int dest_fd, UnpackFlags flags,
		      UnpackProgressFn progress, void *userdata,
		      UnpackStats *ret_stats, char **ret_err);


#endif
