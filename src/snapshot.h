/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * snapshot.h - make a snapshot file of an ebuild repository.
 *
 * From a git repository at a tree-ish (resolved to a commit; the id is the
 * commit's full hash, 40 hex digits) or from a plain directory (the id is
 * the sha256, 64 hex digits, of the tree's content: paths, types,
 * permission bits (0777 and sticky), link targets and file data, in sorted
 * order; mtimes and owners do not count; symlinks are not followed, mount
 * points not crossed, a top-level .git is left out).  Output
 * snapshots/<repo_name>-<id>.<ext>, written under a temporary name
 * (O_TMPFILE, else ".tmp.<name>.<random>"), synced, and linked or renamed
 * (RENAME_NOREPLACE) into place; an existing snapshot is left alone.
 *
 * A git tree-ish given as anything but its full commit id ("stable", a tag,
 * an abbreviated hash) also names the snapshot as catalyst 4 does:
 * snapshots/<repo_name>-<treeish>.<ext>, a hard link to the commit's file,
 * with <that name>.source recording repo_name, treeish, commit, tree (the
 * git tree id: the content), file and git_dir (snapshot-name.h).  A
 * tree-ish that now names another commit gets its link and record
 * replaced.  Both names are written under catalyst's snapshot lock,
 * snapshots/<repo_name>-<treeish>.lock then <repo_name>-<commit>.lock
 * (catalyst-lock.h), so zeolite and catalyst never write one at once.
 *
 * Runs git, and tar2sqfs for a git source's .sqfs (fork+execvp, found in
 * PATH, never via a shell); a plain directory's .sqfs is written
 * in-process (sqfs-writer.h).
 */
#ifndef ZEOLITE_SNAPSHOT_H
#define ZEOLITE_SNAPSHOT_H

#include "store.h"

typedef enum SnapshotFormat {
	SNAPSHOT_SQFS,
	SNAPSHOT_TAR_XZ,
	SNAPSHOT_TAR_ZST,
	_SNAPSHOT_FORMAT_MAX,
} SnapshotFormat;

typedef struct SnapshotRequest {
	const char *repo_name; /* e.g. "gentoo" */
	const char *git_dir;   /* a git repository (work tree or bare), or NULL */
	const char *treeish;   /* with git_dir; default "HEAD" */
	const char *plain_dir; /* --repo DIR: a plain directory, or NULL */
	SnapshotFormat format;
	long lock_timeout_ms;  /* for catalyst's snapshot lock: 0 try once, < 0 forever */
	/* With git_dir: called once the tree-ish is resolved, before anything
	 * is locked or written (catalyst's "Creating ... tree snapshot" line). */
	void (*resolved)(void *userdata, const char *repo_name, const char *commit, const char *git_dir);
	/* While the snapshot file is written: every 250 ms, from a thread of
	 * its own, the bytes written so far.  May be NULL. */
	void (*progress)(void *userdata, uint64_t written);
	void *userdata;
} SnapshotRequest;

/* The repository name when SnapshotRequest.repo_name is NULL. */
#define SNAPSHOT_DEFAULT_REPO_NAME "gentoo"

/*
 * .sqfs snapshots are gzip-compressed, the compressor catalyst 4's
 * snapshot target gives tar2sqfs.  Of a git source: the tar stream piped
 * into `tar2sqfs --quiet --no-skip --force --compressor gzip --num-jobs
 * NPROC --defaults uid=0,gid=0,mode=0755 OUT` (squashfs-tools-ng).  Of a
 * plain directory: sqfs-writer.h with NPROC workers, the same image
 * content (128 KiB blocks, owners 0:0, root 0755).  bench/snapshot.sh
 * compares both with mksquashfs.
 */
#define SNAPSHOT_SQFS_COMPRESSOR "gzip"

/* "sqfs", "tar.xz", "tar.zst" <-> enum; -EINVAL for unknown names. */
int snapshot_format_from_string(const char *s, SnapshotFormat *ret);
const char *snapshot_format_extension(SnapshotFormat f);

/* The repository a snapshot file belongs to, for gc's --keep: its name up
 * to the last '-' ("gentoo-<sha>.sqfs" -> "gentoo"). */
char *snapshot_group(const char *name);

/*
 * Make the snapshot.  On success returns 1 if it (or its tree-ish name)
 * was created, 0 if it already existed (or another process published it
 * first); *RET_NAME is the file name under snapshots/ (the tree-ish's name
 * when there is one).  On failure returns -errno with *RET_ERR
 * a one-line reason, and nothing is left in snapshots/ (but the lock
 * files, which stay, as catalyst leaves its own):
 *   -EINVAL  bad input: a tree-ish that is not a commit (or starts with
 *            '-'), not a git repository, a missing plain directory, an
 *            invalid repo_name, a special file in the plain directory
 *   -ENOENT  git or tar2sqfs not found in PATH
 *   -EIO     git or tar2sqfs failed, or the image could not be written (the reason names it, with the first
 *            line of its stderr)
 *   -EAGAIN  the plain directory changed while it was being read
 *   -ETIMEDOUT  catalyst's snapshot lock stayed held (the reason names
 *            the holder)
 *   other    system errors
 * SIGPIPE is blocked while this runs and a SIGPIPE it caused is discarded.
 */
int snapshot_make(const Store *store, const SnapshotRequest *req, char **ret_name, char **ret_err);

#endif
