/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * snapshot-name.h - a snapshot's second name, catalyst's: the file named
 * after the tree-ish as given (snapshots/<repo_name>-<treeish>.<ext>), a
 * hard link to the file named after the commit, and beside it
 * <that name>.source, the record of what it was made from.
 *
 * The content lives in one inode under two names, so whatever keys on the
 * file's content (the cache's fingerprints, images/) sees one snapshot;
 * the .source record says which commit (and git tree) the tree-ish named
 * when the link was made, so a branch that moved is noticed.
 */
#ifndef ZEOLITE_SNAPSHOT_NAME_H
#define ZEOLITE_SNAPSHOT_NAME_H

#include "util.h"

/* Whether TREEISH can be part of a file name in snapshots/: no '/', no
 * leading '.', no control characters, at most 200 bytes. */
bool snapshot_treeish_nameable(const char *treeish);

/*
 * Make NAME under DIR_FD the same file as CONTENT (which must exist) with
 * NAME.source holding RECORD.  Nothing is done when both already are so
 * (returns 0).  Otherwise RECORD is written (temporary file, fsync, rename)
 * and then a hard link to CONTENT is renamed over NAME, and the directory
 * synced (returns 1).  Replacing, never removing: a reader of NAME sees the
 * old file or the new one.  -errno with *RET_ERR set on failure.
 */
int snapshot_name_link(int dir_fd, const char *content, const char *name, const char *record, char **ret_err);

#endif
