/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * image.h - turn a tarball (a snapshot or a seed) into a squashfs image.
 *
 * A cache of unpacked trees costs what the disk costs to write hundreds of
 * thousands of small files.  An image of the same tarball is one file,
 * compressed and deduplicated, that a build mounts read-only (the snapshot
 * at /var/db/repos/<repo>, the seed as the overlay's lower layer).
 *
 * The conversion: we read the tarball with libarchive (any compression it
 * reads; every entry checked: no absolute names, no "..") and hand its
 * entries to image-writer.c, which builds the image in this process, in
 * memory that does not grow with the number of entries: decompression in
 * our thread, block compression in the writer's threads, side by side.
 * The image keeps what a stage needs: numeric owners, modes, setuid bits,
 * hardlinks, device nodes, FIFOs, symlinks, mtimes, holes and every xattr
 * the tarball carries; what it cannot keep (ACLs, an xattr outside
 * squashfs's prefixes) is refused, never dropped.  libarchive decides
 * whether the tarball is whole.  The image depends only on the tarball's
 * bytes (the block compressor's threads finish in order, whatever their
 * number), so two hosts make byte-identical images.
 *
 * An id is a promise about bytes: we read the tarball, hash every byte
 * exactly as libarchive reads it, and report that digest; the cache
 * publishes the image only if it equals the id (cache_progress_digest()).
 * A file that changes while it is read (size, mtime or ctime) is -ESTALE.
 */
#ifndef ZEOLITE_IMAGE_H
#define ZEOLITE_IMAGE_H

#include "util.h"

#include <stdint.h>
#include <string.h>

/* The image's file name inside its cache entry's directory. */
#define IMAGE_FILE_NAME "image.sqfs"

/* Block compressor of images: fast to make and fast to read. */
#define IMAGE_COMPRESSOR "lz4"

typedef void (*ImageProgressFn)(void *userdata, uint64_t done, uint64_t total);

typedef struct ImageStats {
	uint64_t source_bytes; /* bytes of tarball read */
	uint64_t image_bytes;  /* size of the image written */
	unsigned char sha256[32]; /* digest of the bytes read, in order */
} ImageStats;

/*
 * Convert the tarball open at SRC_FD (regular file, read from offset 0)
 * into a squashfs image written to OUT_FD (an empty regular file, which is
 * fsync()ed).  WORK_DIRFD: a directory for the writer's two unlinked work
 * files (the sorted entries, the directory table), best on the image's
 * filesystem.  NAME is used in messages.  Returns 0, or:
 *   -EBADMSG  not a whole, readable tarball (corrupt, truncated, unknown
 *             compression), or an entry no image can hold (ACLs, an xattr
 *             outside user./trusted./security., a hard link to nothing)
 *   -EPERM    an entry whose path leaves the tree
 *   -ESTALE   the file changed while it was read
 *   other -errno for system errors (-ENOSPC writing the image, ...)
 * with *RET_ERR (caller frees) a one-line reason naming the operation.
 */
int image_make(int src_fd, const char *name, int work_dirfd, int out_fd, ImageProgressFn progress,
	       void *userdata, ImageStats *ret_stats, char **ret_err);

/* True if NAME's extension is a tarball's (any compression libarchive
 * reads, in catalyst's spellings too). */
static inline bool image_can_convert(const char *name)
{
	static const char *const exts[] = {
		".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.zst", ".tar.zstd",
		".tar.pzstd", ".tar.lzma", ".tar.bz2", ".tbz2", ".tbz", ".tar.lz", ".tar.lzo",
		".tar.lzip", ".tar.lzop", /* catalyst's (pyDeComp's) names */
	};
	size_t n = strlen(name);

	for (size_t i = 0; i < ELEMENTSOF(exts); i++) {
		size_t e = strlen(exts[i]);
		if (n > e && strcmp(name + n - e, exts[i]) == 0)
			return true;
	}
	return false;
}

#endif
