// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * image-fill.c - the cache's maker of image entries (CACHE_IMAGES): what
 * tree entries get from unpack_fill(), image entries get from here, under
 * the same protocol (cache.h).  The entry holds one file, IMAGE_FILE_NAME.
 */
#include "main.h"

#include "image.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static void image_fill_progress(void *userdata, uint64_t done, uint64_t total)
{
	cache_progress(userdata, done, total);
}

int image_fill(void *userdata, int dest_fd, CacheProgress *progress, uint64_t *ret_files, uint64_t *ret_bytes,
	       char **ret_err)
{
	UnpackFill *u = userdata;
	ImageStats stats = { 0 };
	_cleanup_close_ int out_fd = -EBADF;
	int r;

	if (!image_can_convert(u->name)) {
		*ret_err = xasprintf("%s: not a tarball; only tarballs are made into images", u->name);
		return -EOPNOTSUPP;
	}
	out_fd = openat(dest_fd, IMAGE_FILE_NAME, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (out_fd < 0) {
		r = -errno;
		*ret_err = xasprintf("create %s: %s", IMAGE_FILE_NAME, strerror(-r));
		return r;
	}
	r = image_make(u->fd, u->name, dest_fd, out_fd, image_fill_progress, progress, &stats, ret_err);
	if (r < 0)
		return r;
	if (fsync(dest_fd) < 0) {
		r = -errno;
		*ret_err = xasprintf("fsync of the image's directory: %s", strerror(-r));
		return r;
	}
	cache_progress_digest(progress, stats.sha256);
	*ret_files = 1;
	*ret_bytes = stats.image_bytes;
	return 0;
}
