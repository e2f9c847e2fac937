/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * output.h - publish an output set (a tarball and its side files) into a
 * directory so that it appears whole or not at all.
 *
 * Protocol (argued in docs/build.md, "Outputs"):
 *   1. output_stage_open() makes ".zeolite-pack.<random>/" in OUT_DIR_FD,
 *      mode 0700, and holds an exclusive flock on it for its whole life.
 *      The caller creates every file of the set in it under its final
 *      name, writes and fsyncs them.
 *   2. output_stage_commit() fsyncs the stage directory and renames it to
 *      ".zeolite-commit.<random>" (the commit point), fsyncs OUT_DIR_FD,
 *      then rolls forward: while the tarball is still in the commit
 *      directory every old side file "<tarball><suffix>" is unlinked, then
 *      the tarball is renamed over its final name, then each side file;
 *      then the directory is removed.
 *   3. output_recover() (run before every pack) removes unlocked
 *      ".zeolite-pack.*" directories and ".tmp.*" files (an older
 *      zeolite's temporaries) and rolls unlocked ".zeolite-commit.*"
 *      directories forward exactly as step 2 does.
 * A reader of the stable names therefore sees the old set, the old
 * tarball alone, the new tarball with a subset of its own side files, or
 * the new set: never a side file of one build beside the tarball of
 * another.  A crash leaves the old set (before the commit rename) or,
 * after the next run's recovery, the new one.
 */
#ifndef ZEOLITE_OUTPUT_H
#define ZEOLITE_OUTPUT_H

#include "util.h"

/* The side files of a tarball T are T + one of these. */
extern const char *const output_side_suffixes[];

typedef struct OutputStage {
	int dir_fd;       /* the output directory (borrowed) */
	int fd;           /* the stage directory, locked */
	char *name;       /* ".zeolite-pack.<random>" */
} OutputStage;

/* Make and lock a stage directory.  0, or -errno with *RET_ERR. */
int output_stage_open(int dir_fd, OutputStage *ret, char **ret_err);

/* Publish the stage whose tarball is TARBALL (a file in the stage; every
 * other file of the stage must be TARBALL + a side suffix).  0: published
 * (*RET_WARN, if set, names a directory whose final fsync failed; the
 * caller frees it).  -errno with *RET_ERR: nothing of the new set was
 * published if the failure came before the commit rename; after it, the
 * next output_recover() finishes the set. */
int output_stage_commit(OutputStage *s, const char *tarball, char **ret_warn, char **ret_err);

/* Remove the stage and everything in it; forget S.  Safe on a zeroed or
 * committed stage. */
void output_stage_abort(OutputStage *s);

/* Clean up after crashed packs in DIR_FD.  Calls NOTE (if not NULL) with a
 * message for each leftover handled.  0, or -errno with *RET_ERR. */
int output_recover(int dir_fd, void (*note)(const char *msg, void *userdata), void *userdata,
		   char **ret_err);

#endif
