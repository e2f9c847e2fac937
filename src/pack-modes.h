/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pack-modes.h - catalyst's compression modes: what each compression_mode
 * packs and the file name it gives the output.  In the light half of
 * zeolite (no libraries), so that `check`, the plan and the packer accept
 * exactly the same modes.
 *
 * The modes are those of catalyst 4.1's compressor library, pyDeComp
 * (COMPRESS_DEFINITIONS of its current release), each with the extension
 * catalyst gives it (the first of the definition's list):
 *
 *   lbzip2, bzip2       tar.bz2         xz, pixz, pixz_i   tar.xz
 *   lzip                tar.lzip        zstd               tar.zstd
 *   lzma                tar.lzma        pzstd              tar.pzstd
 *   lzop                tar.lzop        gzip               tar.gz
 *   tar                 tar             squashfs_xz, squashfs_gzip,
 *                                       squashfs_zstd, squashfs_pzstd  squashfs
 *
 * and the "_x" modes of pyDeComp 0.3 (lbzip2_x, bzip2_x, tar_x, xz_x,
 * pixz_x, gzip_x: "deprecated", the same as their base now that every
 * mode keeps catalyst's xattrs).  "rsync" is a copy, not a packer: refused.
 */
#ifndef ZEOLITE_PACK_MODES_H
#define ZEOLITE_PACK_MODES_H

#include "util.h"

typedef enum PackCompression {
	PACK_NONE,
	PACK_XZ,
	PACK_ZSTD,
	PACK_GZIP,
	PACK_BZIP2,
	PACK_LZIP,
	PACK_LZMA,
	PACK_LZOP,
	PACK_SQUASHFS_XZ,   /* a squashfs image (1 MiB blocks), not a tarball */
	PACK_SQUASHFS_GZIP,
	PACK_SQUASHFS_ZSTD,
	_PACK_COMPRESSION_MAX,
} PackCompression;

typedef struct PackMode {
	const char *name;       /* catalyst's compression_mode */
	PackCompression compression;
	bool threaded;          /* threads = online CPUs */
	const char *extension;  /* appended to the stage's name after a '.' */
	bool deprecated;        /* an "_x" mode of pyDeComp 0.3 */
} PackMode;

static inline bool pack_compression_is_squashfs(PackCompression c)
{
	return c == PACK_SQUASHFS_XZ || c == PACK_SQUASHFS_GZIP || c == PACK_SQUASHFS_ZSTD;
}

/* Every mode, in catalyst's order; and their names (for messages). */
extern const PackMode pack_modes[];
extern const size_t pack_modes_n;

/* The mode called NAME, or NULL. */
const PackMode *pack_mode_find(const char *name);

/*
 * Map a catalyst compression_mode to what the packer writes: *RET the
 * compression, *RET_THREADS 0 for "as libarchive decides" (one thread) or
 * the thread count to ask for; RET and RET_THREADS may be NULL.  -EINVAL
 * for anything that is not a mode of pack_modes[].
 */
int pack_compression_from_mode(const char *mode, PackCompression *ret, int *ret_threads);

/* The extension of the mode called MODE ("tar.xz", ...), or NULL. */
const char *pack_mode_extension(const char *mode);

/* The extension of the first mode with compression C, or NULL. */
const char *pack_extension(PackCompression c);

/* The names of all modes, ", "-separated (caller frees). */
char *pack_mode_names(void);

/*
 * rename_regexp as catalyst's capture() applies it: `sed -E -e EXPR` on
 * the full path of the output, DIR "/" FILE (catalyst's target_filename);
 * an empty result keeps the name.  The side files follow the new name
 * (T.CONTENTS.gz, T.DIGESTS, T.sha256).  zeolite publishes a set in one
 * directory, so the result must stay in DIR: a new file name, without a
 * newline, not starting with '.'.  0 with *RET_FILE the file name (caller
 * frees; FILE itself when nothing changed), or -EINVAL with *RET_ERR
 * ("rename_regexp 'EXPR': ..."), -errno if sed cannot be run.  With DIR
 * NULL only the expression is checked (sed on an empty input; FILE and
 * RET_FILE unused), as `zeolite check` does.
 */
int pack_rename_regexp(const char *expr, const char *dir, const char *file, char **ret_file,
		       char **ret_err);

#endif
