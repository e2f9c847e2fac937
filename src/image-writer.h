/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * image-writer.h - a tarball's entries, in the tarball's order, made into
 * a squashfs image in this process, in memory that does not grow with the
 * number of entries (image.c feeds it; DESIGN.md §3's image maker).
 *
 * A tarball lists its entries in any order, parents possibly after their
 * children or never; a squashfs image wants each directory's entries
 * sorted and its children's inodes written before it.  So the writer
 * works in two passes:
 *
 *   1. As entries come, file data goes to libsquashfs's block processor
 *      (full blocks, compressed by JOBS threads) and the tails into
 *      fragment blocks we pack ourselves; each entry's finished inode is
 *      a record for the sorter (image-sort.h), which spills sorted runs
 *      to an unlinked file in SPILL_DIRFD.
 *   2. image_writer_finish() walks the records in path order and writes
 *      the inode table (to the image) and the directory table (to a
 *      second unlinked file, appended to the image at the end): what it
 *      holds is the open directories' entry lists, never the whole tree.
 *
 * What memory does grow with: hard links (one small record each, to
 * resolve them), the fragment table (16 bytes per 128 KiB of tails), the
 * id and xattr tables (per distinct value).  Deduplication is of whole
 * files shorter than one block, by SHA-256 and size, in a table of fixed
 * size (the most recent ones win a slot), and of longer files by SHA-256
 * and size in a smaller one (their blocks are written, then cut off).
 *
 * The image keeps numeric owners, permission bits (setuid included),
 * mtimes (seconds, clamped to 0..2^32-1), xattrs of squashfs's prefixes
 * (user., trusted., security.), hard links, symlinks, devices, FIFOs and
 * sockets, and holes (zero blocks are sparse).  The tarball's "./" entry
 * gives the root its attributes; a directory the tarball never lists is
 * 0755 root:root, mtime 0.  When a path appears twice, the later entry
 * wins, as when tar extracts.  The same entries in the same order always
 * make the same bytes: the image is reproducible.
 *
 * Contract: one thread uses a writer.  The output fd is an empty regular
 * file, open for writing (and reading); it is neither closed nor synced.
 * After any call fails, only image_writer_error() and image_writer_free()
 * mean anything, and what was written to the fd is garbage.
 */
#ifndef ZEOLITE_IMAGE_WRITER_H
#define ZEOLITE_IMAGE_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct ImageWriter ImageWriter;

typedef struct ImageEntry {
	const char *path;      /* as the tarball spells it ("./usr/", "usr") */
	mode_t mode;           /* S_IFMT | 07777 */
	uint32_t uid, gid;
	int64_t mtime;
	uint64_t rdev;         /* character and block devices */
	uint64_t size;         /* regular files: the logical size */
	const char *symlink;   /* S_IFLNK: its target */
	const char *hardlink;  /* a hard link to this earlier path; MODE unused */
} ImageEntry;

/* COMPRESSOR: a libsquashfs name ("lz4", "zstd", ...), at its default
 * level; JOBS >= 1 compressor threads.  0 or -errno with *RET_ERR. */
int image_writer_new(int fd, int spill_dirfd, const char *compressor, unsigned jobs, ImageWriter **ret,
		     char **ret_err);

/* An entry; a regular file then takes its data by image_writer_data(),
 * every entry takes xattrs, and image_writer_end() closes it.  -EBADMSG
 * (with image_writer_error()) for an entry no image can hold: an empty or
 * "." / ".." component, a name over 256 bytes, an empty symlink. */
int image_writer_begin(ImageWriter *w, const ImageEntry *e);
/* -EBADMSG for a KEY squashfs cannot store (a prefix other than user.,
 * trusted., security.). */
int image_writer_xattr(ImageWriter *w, const char *key, const void *value, size_t size);
/* N bytes at OFFSET of the open file; offsets only grow, what is skipped
 * is a hole.  -EBADMSG past the entry's size. */
int image_writer_data(ImageWriter *w, uint64_t offset, const void *data, size_t n);
int image_writer_end(ImageWriter *w);

/* Every entry ended: write what is left.  -EBADMSG for a hard link to a
 * path the tarball does not have (or to a directory), for entries below
 * a path that is not a directory. */
int image_writer_finish(ImageWriter *w);

/* Why the last call failed ("writing the image: No space left on
 * device"); NULL if none did.  Owned by the writer. */
const char *image_writer_error(const ImageWriter *w);

void image_writer_free(ImageWriter *w);

static inline void image_writer_freep(ImageWriter **w)
{
	image_writer_free(*w);
}

/* For tests: sorted runs of at most BYTES, so that a small
 * tarball makes many of them; set before the first entry. */
void image_writer_set_run_bytes(ImageWriter *w, size_t bytes);

#endif
