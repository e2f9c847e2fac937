/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * archive-ops.h - the heavy half of zeolite, loaded only when needed.
 *
 * Everything that needs libarchive, libsquashfs or libcrypto (unpacking,
 * making snapshots, packing stages, hashing) is built twice: into a static
 * library that the unit tests link directly, and into the shared module
 * zeolite-archive.so, which the zeolite binary dlopen()s on first use.
 * The binary itself links only libc, so the commands that need none of it
 * — above all `prepare` of a snapshot that is already ready (G6), and
 * `status` — start in well under a millisecond instead of the ~4 ms that
 * loading libarchive's dependency chain (libxml2, ICU, libstdc++) costs.
 *
 * The module exports one symbol, zeolite_archive_ops; module.c holds the
 * trampolines with the public names (unpack_archive_at(), ...).
 */
#ifndef ZEOLITE_ARCHIVE_OPS_H
#define ZEOLITE_ARCHIVE_OPS_H

#include "image.h"
#include "pack.h"
#include "snapshot.h"
#include "unpack.h"

#define ARCHIVE_OPS_VERSION 2
#define ARCHIVE_MODULE_NAME "zeolite-archive.so"

/* SHA-256 of the whole file open at FD (read with pread from offset 0). */
int archive_sha256_fd(int fd, unsigned char ret[32]);

typedef struct ArchiveOps {
	unsigned version;
	size_t size; /* sizeof(ArchiveOps) the module was built with */
	int (*unpack_archive_at)(int archive_fd, const char *name, int dest_fd, UnpackFlags flags,
				 UnpackProgressFn progress, void *userdata, UnpackStats *ret_stats,
				 char **ret_err);
	int (*snapshot_make)(const Store *store, const SnapshotRequest *req, char **ret_name, char **ret_err);
	int (*sha256_fd)(int fd, unsigned char ret[32]);
	int (*pack_tree)(const PackRequest *req, PackResult *ret, char **ret_err);
	void (*pack_result_done)(PackResult *r);
	int (*image_make)(int src_fd, const char *name, int out_fd, ImageProgressFn progress, void *userdata,
			  ImageStats *ret_stats, char **ret_err);
} ArchiveOps;

#endif
