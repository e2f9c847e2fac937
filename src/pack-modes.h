/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pack-modes.h - catalyst's compression modes: what each compression_mode
 * packs and the file name it gives the output.  In the light half of
 * zeolite (no libraries), so that `check` and the plan accept exactly the
 * modes the packer can write.
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
	_PACK_COMPRESSION_MAX,
} PackCompression;

typedef struct PackMode {
	const char *name;       /* catalyst's compression_mode */
	PackCompression compression;
	bool threaded;          /* threads = online CPUs */
	const char *extension;  /* appended to the stage's name after a '.' */
} PackMode;

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

#endif
