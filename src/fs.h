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

#endif
