/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * archive-ops.h - the heavy half of zeolite, loaded only when needed.
 *
 * Everything that needs libarchive, libsquashfs, nettle or libcrypto
 * (unpacking, making snapshots and images, packing stages, hashing) is
 * built twice: into a static library that the unit tests link directly,
 * and into two shared modules that the zeolite binary dlopen()s on first
 * use: zeolite-archive.so (all but the pack step) and zeolite-pack.so.
 * The binary itself links only libc, so the commands that need none of it
 * — above all `prepare` of a snapshot that is already ready (G6), and
 * `status` — start in well under a millisecond instead of the ~4 ms that
 * loading libarchive's dependency chain (libxml2, ICU, libstdc++) costs.
 *
 * Each module exports one symbol, zeolite_archive_ops or zeolite_pack_ops;
 * module.c holds the trampolines with the public names (unpack_archive_at(),
 * pack_tree(), ...).
 */
#ifndef ZEOLITE_ARCHIVE_OPS_H
#define ZEOLITE_ARCHIVE_OPS_H

#include "image.h"
#include "pack.h"
#include "snapshot.h"
#include "unpack.h"

#define ARCHIVE_OPS_VERSION 5
#define ARCHIVE_MODULE_NAME "zeolite-archive.so"

/* SHA-256 of the whole file open at FD (read with pread from offset 0). */
int archive_sha256_fd(int fd, unsigned char ret[32]);
/* Likewise SHA-512 (the line after each build names the tarball's). */
int archive_sha512_fd(int fd, unsigned char ret[64]);

typedef struct ArchiveOps {
	unsigned version;
	size_t size; /* sizeof(ArchiveOps) the module was built with */
	int (*unpack_archive_at)(int archive_fd, const char *name, int dest_fd, UnpackFlags flags,
				 UnpackProgressFn progress, void *userdata, UnpackStats *ret_stats,
				 char **ret_err);
	int (*snapshot_make)(const Store *store, const SnapshotRequest *req, char **ret_name, char **ret_err);
	int (*sha256_fd)(int fd, unsigned char ret[32]);
	int (*sha512_fd)(int fd, unsigned char ret[64]);
	int (*image_make)(int src_fd, const char *name, int work_dirfd, int out_fd, ImageProgressFn progress, void *userdata,
			  ImageStats *ret_stats, char **ret_err);
} ArchiveOps;

/*
 * The pack step's half, a module of its own: zeolite-pack.so, exporting
 * zeolite_pack_ops.  It alone links libcrypto (the DIGESTS' hashes: any
 * hashlib name), so that a prepare or a build's seed conversion does not
 * carry libcrypto's pages (issue 15: peak memory); a build loads it in
 * its pack child only.
 */
#define PACK_OPS_VERSION 2 /* 2: PackRequest.progress */
#define PACK_MODULE_NAME "zeolite-pack.so"

typedef struct PackOps {
	unsigned version;
	size_t size; /* sizeof(PackOps) the module was built with */
	int (*pack_tree)(const PackRequest *req, PackResult *ret, char **ret_err);
	void (*pack_result_done)(PackResult *r);
} PackOps;

#endif
