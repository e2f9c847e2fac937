// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * snapshot-format.c - snapshot format names (no library dependencies, so
 * the zeolite binary has them without loading the archive module).
 */
#include "snapshot.h"

#include <string.h>

static const char *const format_names[_SNAPSHOT_FORMAT_MAX] = {
	[SNAPSHOT_SQFS] = "sqfs",
	[SNAPSHOT_TAR_XZ] = "tar.xz",
	[SNAPSHOT_TAR_ZST] = "tar.zst",
};

int snapshot_format_from_string(const char *s, SnapshotFormat *ret)
{
	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(format_names); i++)
		if (strcmp(s, format_names[i]) == 0) {
			if (ret)
				*ret = (SnapshotFormat) i;
			return 0;
		}
	return -EINVAL;
}

const char *snapshot_format_extension(SnapshotFormat f)
{
	if ((unsigned) f >= _SNAPSHOT_FORMAT_MAX)
		return NULL;
	return format_names[f];
}

/* The repository a snapshot belongs to: its name up to the last '-'
 * ("gentoo-<sha>.sqfs" -> "gentoo", "portage-20190214.tar.xz" -> "portage"). */
char *snapshot_group(const char *name)
{
	const char *dash = strrchr(name, '-');
	size_t n = dash && dash != name ? (size_t) (dash - name) : strcspn(name, ".");
	return xstrndup(name, n);
}
