// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * archive-module.c - the entry points of zeolite-archive.so (see
 * archive-ops.h), and SHA-256 of a file (nettle, which libarchive loads anyway).
 */
#include "archive-ops.h"

#include <nettle/sha2.h>

int archive_sha256_fd(int fd, unsigned char ret[32])
{
	_cleanup_free_ unsigned char *buf = xmalloc(1 << 20);
	struct sha256_ctx ctx;
	off_t off = 0;

	sha256_init(&ctx);
	for (;;) {
		ssize_t n = pread(fd, buf, 1 << 20, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		off += n;
		sha256_update(&ctx, (size_t) n, buf);
	}
	sha256_digest(&ctx, SHA256_DIGEST_SIZE, ret);
	return 0;
}

int archive_sha512_fd(int fd, unsigned char ret[64])
{
	_cleanup_free_ unsigned char *buf = xmalloc(1 << 18);
	struct sha512_ctx ctx;
	off_t off = 0;

	sha512_init(&ctx);
	for (;;) {
		ssize_t n = pread(fd, buf, 1 << 18, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		off += n;
		sha512_update(&ctx, (size_t) n, buf);
	}
	sha512_digest(&ctx, SHA512_DIGEST_SIZE, ret);
	return 0;
}

#ifdef ZEOLITE_ARCHIVE_MODULE
__attribute__((visibility("default"))) const ArchiveOps zeolite_archive_ops = {
	.version = ARCHIVE_OPS_VERSION,
	.size = sizeof(ArchiveOps),
	.unpack_archive_at = unpack_archive_at,
	.snapshot_make = snapshot_make,
	.sha256_fd = archive_sha256_fd,
	.sha512_fd = archive_sha512_fd,
	.image_make = image_make,
};
#endif
