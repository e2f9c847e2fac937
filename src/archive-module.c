// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * archive-module.c - the entry points of zeolite-archive.so (see
 * archive-ops.h), and SHA-256/SHA-512 of a file (nettle, which libarchive
 * loads anyway).
 */
#include "archive-ops.h"

#include <nettle/nettle-meta.h>

/* Digest H of the whole file open at FD (pread from offset 0) into RET
 * (H->digest_size bytes).  Returns 0 or -errno. */
static int hash_fd(int fd, const struct nettle_hash *h, unsigned char *ret)
{
	_cleanup_free_ unsigned char *buf = xmalloc(1 << 18);
	_cleanup_free_ void *ctx = xmalloc(h->context_size);
	off_t off = 0;

	h->init(ctx);
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
		h->update(ctx, (size_t) n, buf);
	}
	h->digest(ctx, h->digest_size, ret);
	return 0;
}

int archive_sha256_fd(int fd, unsigned char ret[32])
{
	return hash_fd(fd, &nettle_sha256, ret);
}

int archive_sha512_fd(int fd, unsigned char ret[64])
{
	return hash_fd(fd, &nettle_sha512, ret);
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
