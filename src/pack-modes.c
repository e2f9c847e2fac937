// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pack-modes.c - the table of compression modes (see pack-modes.h).
 */
#include <string.h>
#include <unistd.h>

#include "pack-modes.h"

const PackMode pack_modes[] = {
	{ "xz", PACK_XZ, false, "tar.xz" },
	{ "xz_x", PACK_XZ, false, "tar.xz" },
	{ "pixz", PACK_XZ, true, "tar.xz" },
	{ "pixz_i", PACK_XZ, true, "tar.xz" },
	{ "pixz_x", PACK_XZ, true, "tar.xz" },
	{ "zstd", PACK_ZSTD, false, "tar.zst" },
	{ "zstd_x", PACK_ZSTD, false, "tar.zst" },
	{ "pzstd", PACK_ZSTD, true, "tar.zst" },
	{ "pzstd_x", PACK_ZSTD, true, "tar.zst" },
	{ "gzip", PACK_GZIP, false, "tar.gz" },
	{ "gzip_x", PACK_GZIP, false, "tar.gz" },
	{ "pigz", PACK_GZIP, false, "tar.gz" },
	{ "pigz_x", PACK_GZIP, false, "tar.gz" },
	{ "bzip2", PACK_BZIP2, false, "tar.bz2" },
	{ "bzip2_x", PACK_BZIP2, false, "tar.bz2" },
	{ "lbzip2", PACK_BZIP2, false, "tar.bz2" },
	{ "lbzip2_x", PACK_BZIP2, false, "tar.bz2" },
	{ "tar", PACK_NONE, false, "tar" },
	{ "tar_x", PACK_NONE, false, "tar" },
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
