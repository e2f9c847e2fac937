/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pack.h - pack a build's result into builds/ as catalyst's capture() does:
 * the stage tarball (pax, numeric owners and the stage's owner names,
 * catalyst's xattr set: security.capability and user.pax.flags) or, for
 * the squashfs_* modes, a squashfs image (pack-squashfs.h); its
 * .CONTENTS.gz (contents.h) and, when digests are configured, its .DIGESTS
 * and .sha256 (catalyst's gen_digest_file()).  The modes and their file
 * names: pack-modes.h.
 *
 * The files are written into a locked stage directory and published as a
 * set with output.h's protocol: a reader never sees a side file of one
 * build beside the tarball of another, a crash leaves the old set or (after
 * the next pack's recovery) the new one, and every pack first clears the
 * leftovers of crashed ones.  Any failure before the commit publishes
 * nothing and leaves the old set as it was.
 */
#ifndef ZEOLITE_PACK_H
#define ZEOLITE_PACK_H

#include "pack-modes.h"
#include "util.h"

typedef struct PackRequest {
	int root_fd;            /* the tree to pack (its content becomes the archive root "./") */
	int out_dir_fd;         /* e.g. builds/<rel_type>/ */
	const char *name;       /* base name without extension, e.g. "stage3-amd64-openrc-20261125" */
	const char *tarball;    /* NULL: "<name>.<extension>"; else the tarball's file name
				 * (after rename_regexp); side files are named after it */
	PackCompression compression;
	int threads;            /* 0: default */
	int level;              /* -1: the filter's default (squashfs zstd: catalyst's 2) */
	char *const *digests;   /* NULL-terminated hashlib names ("sha512", "blake2b", ...) */
	const char *digest_format; /* "linux" (default) or "bsd" */
	void (*note)(const char *msg, void *userdata); /* leftovers cleared; may be NULL */
	/* Called as file data goes in (at most every MiB): bytes of file data
	 * read so far, bytes of the compressed tarball written so far, and
	 * NOTE_USERDATA.  May be NULL. */
	void (*progress)(uint64_t bytes_in, uint64_t bytes_out, void *userdata);
	void *note_userdata;
} PackRequest;

typedef struct PackResult {
	char *tarball;          /* file names under out_dir_fd */
	char *contents;
	char *digests;          /* NULL when no digests are configured */
	char *sha256;           /* likewise */
	char *warning;          /* published, but the directory's final fsync failed; or NULL */
	uint64_t entries;
	uint64_t bytes_in;      /* file data packed */
	uint64_t bytes_out;     /* size of the tarball */
	uint64_t sockets;       /* sockets met in the tree and skipped (as tar does) */
} PackResult;

/*
 * Pack.  Returns 0 with *RET filled (release with pack_result_done()), or
 * -errno with *RET_ERR (caller frees) naming the step that failed:
 * "pack: compressor (xz): ...", "pack: entry './usr/bin/x': ...",
 * "pack: writing 'NAME.tar.xz': No space left on device", "pack: DIGESTS: ...".
 *   -EINVAL  bad request (unknown digest, compression, digest format, name)
 *   -ENOSPC, -EIO, ... from the disk or the tree
 * On failure nothing is published and older files of the same names are
 * left as they were.  The file formats are described at the top of pack.c.
 * ROOT_FD and OUT_DIR_FD are borrowed (not closed, offsets unchanged).
 */
int pack_tree(const PackRequest *req, PackResult *ret, char **ret_err);

void pack_result_done(PackResult *r);

#endif
