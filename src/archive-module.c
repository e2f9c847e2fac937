// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * archive-module.c - the entry points of zeolite-archive.so (see
 * archive-ops.h), and the hashing that needs libcrypto.
 */
#include "archive-ops.h"

#include <openssl/evp.h>

int archive_sha256_fd(int fd, unsigned char ret[32])
{
	_cleanup_free_ unsigned char *buf = xmalloc(1 << 20);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	off_t off = 0;
	int r = 0;

	if (!ctx)
		die_oom();
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		r = -EIO;
		goto out;
	}
	for (;;) {
		ssize_t n = pread(fd, buf, 1 << 20, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		off += n;
		if (EVP_DigestUpdate(ctx, buf, (size_t) n) != 1) {
			r = -EIO;
			goto out;
		}
	}
	if (EVP_DigestFinal_ex(ctx, md, &md_len) != 1 || md_len != 32) {
		r = -EIO;
		goto out;
	}
	for (unsigned i = 0; i < 32; i++)
		ret[i] = md[i];
out:
	EVP_MD_CTX_free(ctx);
	return r;
}

#ifdef ZEOLITE_ARCHIVE_MODULE
__attribute__((visibility("default"))) const ArchiveOps zeolite_archive_ops = {
	.version = ARCHIVE_OPS_VERSION,
	.size = sizeof(ArchiveOps),
	.unpack_archive_at = unpack_archive_at,
	.snapshot_make = snapshot_make,
	.sha256_fd = archive_sha256_fd,
	.pack_tree = pack_tree,
	.pack_result_done = pack_result_done,
	.image_make = image_make,
};
#endif
