// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pack-modes.c - the table of compression modes (see pack-modes.h).
 */
#include <string.h>
#include <unistd.h>

#include "pack-modes.h"

const PackMode pack_modes[] = {
	{ "lbzip2", PACK_BZIP2, false, "tar.bz2", false },
	{ "bzip2", PACK_BZIP2, false, "tar.bz2", false },
	{ "lzip", PACK_LZIP, false, "tar.lzip", false },
	{ "lzma", PACK_LZMA, false, "tar.lzma", false },
	{ "lzop", PACK_LZOP, false, "tar.lzop", false },
	{ "tar", PACK_NONE, false, "tar", false },
	{ "xz", PACK_XZ, false, "tar.xz", false },
	{ "pixz", PACK_XZ, true, "tar.xz", false },
	{ "pixz_i", PACK_XZ, true, "tar.xz", false },
	{ "zstd", PACK_ZSTD, false, "tar.zstd", false },
	{ "pzstd", PACK_ZSTD, true, "tar.pzstd", false },
	{ "gzip", PACK_GZIP, false, "tar.gz", false },
	{ "squashfs_xz", PACK_SQUASHFS_XZ, true, "squashfs", false },
	{ "squashfs_gzip", PACK_SQUASHFS_GZIP, true, "squashfs", false },
	{ "squashfs_zstd", PACK_SQUASHFS_ZSTD, true, "squashfs", false },
	{ "squashfs_pzstd", PACK_SQUASHFS_ZSTD, true, "squashfs", false },
	{ "lbzip2_x", PACK_BZIP2, false, "tar.bz2", true },
	{ "bzip2_x", PACK_BZIP2, false, "tar.bz2", true },
	{ "tar_x", PACK_NONE, false, "tar", true },
	{ "xz_x", PACK_XZ, false, "tar.xz", true },
	{ "pixz_x", PACK_XZ, true, "tar.xz", true },
	{ "gzip_x", PACK_GZIP, false, "tar.gz", true },
};
const size_t pack_modes_n = ELEMENTSOF(pack_modes);

const PackMode *pack_mode_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < pack_modes_n; i++)
		if (strcmp(name, pack_modes[i].name) == 0)
			return &pack_modes[i];
	return NULL;
}

int pack_compression_from_mode(const char *mode, PackCompression *ret, int *ret_threads)
{
	const PackMode *m = pack_mode_find(mode);

	if (!m)
		return -EINVAL;
	if (ret)
		*ret = m->compression;
	if (ret_threads) {
		long n = m->threaded ? sysconf(_SC_NPROCESSORS_ONLN) : 0;
		*ret_threads = n > 0 ? (int)n : 0;
	}
	return 0;
}

const char *pack_mode_extension(const char *mode)
{
	const PackMode *m = pack_mode_find(mode);

	return m ? m->extension : NULL;
}

const char *pack_extension(PackCompression c)
{
	for (size_t i = 0; i < pack_modes_n; i++)
		if (pack_modes[i].compression == c)
			return pack_modes[i].extension;
	return NULL;
}

char *pack_mode_names(void)
{
	Buf b = {};

	for (size_t i = 0; i < pack_modes_n; i++) {
		if (i)
			buf_puts(&b, ", ");
		buf_puts(&b, pack_modes[i].name);
	}
	return buf_steal(&b);
}
