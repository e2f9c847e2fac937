/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pack-sink.h - where the pack step's bytes go: the files of an output set
 * (made under their final names in output.h's stage directory), a
 * libarchive write callback that writes them and hashes every byte on the
 * way (so no file is read back for its DIGESTS), and catalyst's digest
 * lines (gen_digest_file()).
 *
 * Contract: a Sink borrows its OutFile; sink_write() is a libarchive
 * archive_write_callback whose userdata is the Sink.  After the first
 * write failure the Sink keeps its -errno in ->err; with ->discard set it
 * swallows what libarchive still flushes (used when freeing a writer
 * after a failure).  Nothing here publishes anything: output.h does.
 */
#ifndef ZEOLITE_PACK_SINK_H
#define ZEOLITE_PACK_SINK_H

#include <archive.h>
#include <openssl/evp.h>

#include "util.h"

#define PACK_MAX_DIGESTS 16

/* A file of the output set, made under its final name in the stage
 * directory (see output.h); only the stage's commit makes it visible. */
typedef struct OutFile {
	int fd;
	int stage_fd; /* where it was made, -EBADF before */
	char *final;  /* name in the stage and, once committed, in the output directory */
} OutFile;

#define OUT_FILE_INIT { .fd = -EBADF, .stage_fd = -EBADF }

/* Create FINAL (O_EXCL, mode 0644) in STAGE_FD.  0 or -errno; F is always
 * initialised and must be released with out_discard(). */
int out_open(int stage_fd, const char *final, OutFile *f);

/* Close F and forget it (the stage's abort removes the file).  Keeps errno. */
void out_discard(OutFile *f);

typedef struct Sink {
	OutFile *f;
	EVP_MD_CTX *ctx[PACK_MAX_DIGESTS];
	size_t n_ctx;
	uint64_t bytes;
	uint64_t synced;
	int err;      /* -errno of the first write failure */
	bool discard; /* after a failure: swallow what libarchive still flushes */
} Sink;

/* Set S up to write F and hash with each of MDS[0..N).  0, or -EINVAL if
 * a digest cannot be initialised (release with sink_done() either way). */
int sink_open(Sink *s, OutFile *f, const EVP_MD *const *mds, size_t n);

/* libarchive's write callback (USERDATA is the Sink).  Also starts the
 * writeback of what was written every 32 MiB, so that the final fsync has
 * little left to do. */
la_ssize_t sink_write(struct archive *a, void *userdata, const void *buf, size_t n);

/* Finish digest I of S as lowercase hex into HEX (2 * EVP_MAX_MD_SIZE + 1). */
int sink_hex(Sink *s, size_t i, char *hex);

/* Hash the whole file open at FD (pread from offset 0) with S's digests,
 * counting its bytes in S->bytes; nothing is written.  0 or -errno. */
int sink_hash_fd(Sink *s, int fd);

void sink_done(Sink *s);

/* The digest hashlib calls NAME ("sha512", "blake2b", "sha3_256", ...), or NULL. */
const EVP_MD *digest_lookup(const char *name);

/* Append what catalyst's generate_hash() writes for FILE: "# NAME HASH\n"
 * then "<hex>  FILE\n" ("linux") or "NAME (FILE) = <hex>\n" ("bsd"), with
 * NAME upper-cased. */
void digest_put(Buf *b, const char *name, const char *file, const char *hex, bool bsd);

#endif
