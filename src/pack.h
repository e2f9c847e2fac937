/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pack.h - pack a build's result into builds/: the stage tarball (pax, with
 * xattrs and owners), its .CONTENTS.gz and its .DIGESTS.
 *
 * Each file is written under a temporary name in the output directory,
 * synced and renamed into place; the tarball appears last, so a reader who
 * sees the tarball sees its CONTENTS and DIGESTS too.  Any failure of the
 * packer or the compressor removes every temporary file and publishes
 * nothing.
 */
#ifndef ZEOLITE_PACK_H
#define ZEOLITE_PACK_H

#include "util.h"

typedef enum PackCompression {
	PACK_NONE,
	PACK_XZ,
	PACK_ZSTD,
	PACK_GZIP,
	PACK_BZIP2,
	_PACK_COMPRESSION_MAX,
} PackCompression;

/*
 * Map a catalyst compression_mode to a libarchive filter: xz, pixz (xz with
 * threads), zstd, pzstd (zstd with threads), gzip, pigz?, bzip2, lbzip2
 * (bzip2; libarchive has no threaded bzip2), tar (none); the "_x" variants
 * (xattrs) map like their base.  *RET_THREADS is 0 for "as libarchive
 * decides" or the thread count to ask for.  -EINVAL for modes zeolite
 * cannot pack a stage with (rsync, squashfs_*, lzip, lzma, lzop).
 */
int pack_compression_from_mode(const char *mode, PackCompression *ret, int *ret_threads);

/* "tar.xz", "tar.zst", "tar.gz", "tar.bz2", "tar". */
const char *pack_extension(PackCompression c);

typedef struct PackRequest {
	int root_fd;            /* the tree to pack (its content becomes the archive root "./") */
	int out_dir_fd;         /* e.g. builds/<rel_type>/ */
	const char *name;       /* base name without extension, e.g. "stage3-amd64-openrc-20261125" */
	PackCompression compression;
	int threads;            /* 0: default */
	int level;              /* -1: the filter's default */
	char *const *digests;   /* NULL-terminated hashlib names ("sha512", "blake2b", ...) */
	const char *digest_format; /* "linux" (default) or "bsd" */
} PackRequest;

typedef struct PackResult {
	char *tarball;          /* file names under out_dir_fd */
	char *contents;
	char *digests;
	uint64_t entries;
	uint64_t bytes_in;      /* file data packed */
	uint64_t bytes_out;     /* size of the tarball */
} PackResult;

/*
 * Pack.  Returns 0 with *RET filled (release with pack_result_done()), or
 * -errno with *RET_ERR naming the step that failed ("compressor: ...",
 * "entry 'usr/bin/x': ...", "DIGESTS: ...").
 */
int pack_tree(const PackRequest *req, PackResult *ret, char **ret_err);

void pack_result_done(PackResult *r);

#endif
