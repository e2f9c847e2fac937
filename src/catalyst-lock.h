/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * catalyst-lock.h - the lock files zeolite shares with catalyst 4.1.
 *
 * catalyst takes fasteners.InterProcessLock(PATH): an exclusive POSIX
 * record lock (Python's fcntl.lockf, i.e. F_SETLK on the whole file) on
 *   <storedir>/tmp/<rel_type>/<target>-<subarch>-<version_stamp>.lock
 *     while it builds (stagebase.py: chroot_path + ".lock"), and
 *   <storedir>/snapshots/<repo_name>-<treeish>.lock
 *     while it writes a snapshot (targets/snapshot.py).
 * zeolite takes an OFD write lock on byte 0 of the same files.  OFD locks
 * and POSIX record locks conflict with each other, so each excludes the
 * other both ways.  The files are left in place, as catalyst leaves them
 * (removing a lock file races with a process that just opened it).
 */
#ifndef ZEOLITE_CATALYST_LOCK_H
#define ZEOLITE_CATALYST_LOCK_H

#include "util.h"

/*
 * Who holds a conflicting lock on byte 0 of the lock file open at FD:
 * a POSIX lock (catalyst, or any tool using lockf/fcntl) is named by its
 * pid and command line ("pid 4711 (python3 /usr/bin/catalyst -f x.spec)");
 * an OFD lock (zeolite) by the holder record zeolite writes into the file
 * (lock.h).  Never NULL.
 */
char *catalyst_lock_holder(int fd);

/*
 * Open (creating, mode 0644, never following a symlink, never blocking on
 * a FIFO) the lock file NAME under DIR_FD and take its write lock, waiting
 * at most TIMEOUT_MS (0: try once; < 0: forever).  On success *RET_FD holds
 * it and zeolite's holder record (STATE, ENTRY) is written into the file.
 * -ETIMEDOUT (or -EAGAIN when TIMEOUT_MS is 0) with *RET_HOLDER describing
 * the holder; -EINVAL if NAME is not a regular file; other -errno.
 */
int catalyst_lock_take(int dir_fd, const char *name, long timeout_ms, const char *state, const char *entry,
		       int *ret_fd, char **ret_holder);

#endif
