/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * seed.h - find a build's seed under builds/ the way catalyst 4.1 does
 * (stagebase.py set_source_path, support.py file_check).
 *
 * Given source_subpath SUB (relative, no "." or ".." components):
 *  1. builds/SUB itself, if it is a regular file (symlinks followed);
 *  2. else every entry of builds/ named SUB.* other than SUB.CONTENTS,
 *     SUB.CONTENTS.gz, SUB.DIGESTS and SUB.sha256: exactly one is the seed,
 *     two or more are an "ambiguous" error naming them all.
 * The seed, after its symlinks are followed, must be a regular file.  A seed
 * found by the glob must have an extension catalyst reads (seed_formats[]);
 * zeolite's unpacker reads the content by its magic either way.
 *
 * Symlinks are followed wherever they point: builds/ is inside the store,
 * which only its owner (root) can write (store.c checks owner and mode), so
 * a link there was made by the same person who could have put the file there
 * (catalyst-auto's "-latest" links).  The seed is only ever read, through the
 * unpacker's hostile-entry checks.  See docs/build.md "Seeds".
 */
#ifndef ZEOLITE_SEED_H
#define ZEOLITE_SEED_H

#include <stdbool.h>

typedef enum SeedFormat {
	SEED_TARBALL,
	SEED_SQUASHFS,
} SeedFormat;

typedef struct SeedExt {
	const char *ext; /* with its leading dot */
	SeedFormat format;
} SeedExt;

/* Every seed extension catalyst 4.1 can read, longest first where they
 * share a tail. */
extern const SeedExt seed_formats[];
extern const unsigned seed_n_formats;

typedef struct Seed {
	char *name;        /* relative to builds/, as found: "23.0/stage3-x-latest.tar.xz" */
	char *path;        /* BUILDS_PATH/name */
	char *target;      /* the file the symlinks end at (realpath), == path if none */
	SeedFormat format;
	bool symlink;      /* name (or a directory on its way) is a symlink */
} Seed;

/*
 * Resolve SUB below the directory open at BUILDS_FD, whose path is
 * BUILDS_PATH (for messages and Seed.path).  Returns 0 and fills *RET, or
 * with *RET_ERR set (caller frees; a sentence without "zeolite:"):
 *   -EINVAL  SUB is not a plain relative path
 *   -ENOENT  nothing matches (the message says what was looked for)
 *   -ENOTUNIQ two or more match (the message names them)
 *   -EMEDIUMTYPE the match is not a regular file (after its symlinks),
 *            or a glob match has an extension no catalyst reader knows
 */
int seed_resolve(int builds_fd, const char *builds_path, const char *sub, Seed *ret, char **ret_err);

/* The format of NAME by its extension; false if none known. */
bool seed_format_of(const char *name, SeedFormat *ret);

void seed_done(Seed *s);

#endif
