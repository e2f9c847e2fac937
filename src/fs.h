/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fs.h - file system helpers with no library dependencies.
 */
#ifndef ZEOLITE_FS_H
#define ZEOLITE_FS_H

#include "util.h"

/* Remove the directory NAME under DIR_FD and everything in it, without
 * following symlinks or crossing mount points (compared by mount id, or
 * st_dev on old kernels).  Directories without permissions (mode 0, 0555)
 * are chmodded first.  NAME is a single component; a symlink or file NAME
 * is simply unlinked.  Returns 0 (also when NAME does not exist), -EINVAL
 * for a bad NAME, -EBUSY when a mount point was found inside (everything
 * else is still removed), or another -errno. */
int rm_rf_at(int dir_fd, const char *name);

/* A new, unlinked file in DIR_FD, open for reading and writing: an
 * O_TMPFILE, or where the filesystem has none (FUSE, e.g. GlusterFS) a
 * ".tmp.work.*" file unlinked as soon as it is made (a crash between the
 * two leaves it in DIR_FD).  The fd, or -errno. */
int open_unlinked(int dir_fd);

#endif
