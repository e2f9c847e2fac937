/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pack-squashfs.h - the squashfs_* compression modes: the stage as a
 * squashfs image instead of a tarball.
 *
 * catalyst runs `mksquashfs STAGE FILE.squashfs -comp C -b 1M` (zstd at
 * -Xcompression-level 2).  zeolite writes the same tree, as the tarball's
 * pax stream (same entries, owners, modes, times and xattr set), into
 * tar2sqfs (squashfs-tools-ng, built on libsquashfs), which makes an image
 * with 1 MiB blocks and the mode's compressor.  The image is written to an
 * output file of the set (pack-sink.h); nothing here publishes.
 *
 * CONTENTS of an image is, as catalyst's ContentsMap makes it, the output
 * of `unsquashfs -ll IMAGE` (squashfs-tools), then an empty line.
 */
#ifndef ZEOLITE_PACK_SQUASHFS_H
#define ZEOLITE_PACK_SQUASHFS_H

#include "child.h"
#include "pack-modes.h"
#include "util.h"

typedef struct SquashfsWriter {
	Child child;
	SigpipeGuard guard;
	bool guarded;
} SquashfsWriter;

#define SQUASHFS_WRITER_INIT { .child = CHILD_INIT("tar2sqfs") }

/* Whether PROG is an executable in PATH. */
bool squashfs_have(const char *prog);

/* Start tar2sqfs writing the image of compression C (a squashfs one) with
 * THREADS jobs (0: one per CPU) and compression LEVEL (-1: catalyst's) to
 * IMAGE_FD; the tar stream goes to *RET_PIPE_FD (the caller's, to close
 * before squashfs_finish()).  SIGPIPE is blocked until squashfs_finish()
 * or squashfs_abort().  0, or -errno with *RET_ERR. */
int squashfs_start(PackCompression c, int threads, int level, int image_fd, SquashfsWriter *w,
		   int *ret_pipe_fd, char **ret_err);

/* Wait for tar2sqfs (the stream closed) and say whether it made the image.
 * 0, or -errno with *RET_ERR "pack: tar2sqfs ...". */
int squashfs_finish(SquashfsWriter *w, char **ret_err);

/* Stop tar2sqfs (if running) and release W.  Safe after squashfs_finish(). */
void squashfs_abort(SquashfsWriter *w);

/* What `unsquashfs -ll` prints for the image open at IMAGE_FD, into *RET
 * (appended).  0, or -errno with *RET_ERR "pack: CONTENTS: ...". */
int squashfs_listing(int image_fd, Buf *ret, char **ret_err);

#endif
