/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store.h - the store directory (DESIGN.md §2).
 *
 *   snapshots/            immutable snapshot files
 *   cache/snapshots/<id>/ unpacked snapshot trees (+ <id>.lock beside them)
 *   cache/seeds/<id>/     unpacked seed stages
 *   builds/ tmp/ packages/ kerncache/ locks/
 *   logs/<rel_type>/      build logs (build-log.h), made by the first build
 *
 * store_open() creates what is missing and refuses a storedir, or any
 * existing part of it, that is a symlink, owned by another user, or
 * writable by group or others.  Everything later goes through the
 * directory descriptors opened here (openat and friends, O_NOFOLLOW).
 */
#ifndef ZEOLITE_STORE_H
#define ZEOLITE_STORE_H

#include "util.h"

typedef struct Store {
	char *path;
	int fd;
	int snapshots_fd;
	int cache_fd;
	int cache_snapshots_fd;
	int cache_seeds_fd;
	int cache_images_fd;
	int builds_fd;
	int tmp_fd;
	int locks_fd;
} Store;

#define STORE_INIT { .fd = -EBADF, .snapshots_fd = -EBADF, .cache_fd = -EBADF, \
	.cache_snapshots_fd = -EBADF, .cache_seeds_fd = -EBADF, .cache_images_fd = -EBADF, .builds_fd = -EBADF, \
	.tmp_fd = -EBADF, .locks_fd = -EBADF }

/* Open (creating as needed) the store at PATH.  Returns 0, or -errno with
 * *RET_ERR set to a one-line reason naming the offending path ("'/x' is a
 * symlink", "'/x' is owned by uid 1000, not 0", "'/x' is writable by
 * group or others"); the reason is owned by the caller.  -EPERM means the
 * store is unsafe (bad input, exit 65); other codes are system errors. */
int store_open(const char *path, Store *ret, char **ret_err);

/* Open the store at PATH for reading only (status, gc --dry-run): creates
 * nothing and writes nothing, so it works on a read-only store and a
 * user's `zeolite status` cannot make the default store before root does.
 * A missing store is -ENOENT ("'PATH' does not exist"); a missing part of
 * it is left at -EBADF (read as empty).  Besides the caller's own, a store
 * owned by root is accepted; the other checks are store_open()'s. */
int store_open_readonly(const char *path, Store *ret, char **ret_err);

/* Open (creating if missing, mode 0755) subdirectory NAME of DIR_FD with
 * the same safety checks.  Returns an O_DIRECTORY fd or -errno. */
int store_subdir_at(int dir_fd, const char *name, bool create);

/* Check that the directory open at FD is ours and not group/other
 * writable.  Returns 0, -EPERM (with *ret_why set) or -errno. */
int store_check_fd(int fd, const char *what, char **ret_why);

void store_close(Store *s);

#endif
