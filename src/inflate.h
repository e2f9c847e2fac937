/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * inflate.h - a compressed tarball decompressed on a thread of its own,
 * while the caller's thread parses the plain tar stream and does the
 * writing (the tree unpacker, unpack.c; the image converter, image.c);
 * and the SHA-256 of a file's bytes as they are read.
 *
 * The Inflater's thread runs one libarchive reader with every filter and
 * the "raw" format over the file (pread from offset 0, in
 * INFLATE_READ_BLOCK pieces, each hashed by the StreamHash given), and
 * hands the plain stream over in a ring of INFLATE_BUFS buffers of
 * INFLATE_BUF_SIZE: the memory is the decompressor's own plus 1.25 MiB.
 * GNU tar gets the same overlap by running xz -d in a process of its own;
 * libarchive 3.6.2 (Debian 12) has no multi-threaded xz decoder.
 *
 * Locking: the ring, `done`, `err`, `cancel` and `holding` are under the
 * Worker's lock; `offset` is atomic.  One consumer thread.
 */
#ifndef ZEOLITE_INFLATE_H
#define ZEOLITE_INFLATE_H

#include "util.h"

#include <archive.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <nettle/sha2.h>

#define INFLATE_READ_BLOCK (256u << 10)
#define INFLATE_BUFS 4
#define INFLATE_BUF_SIZE (128u << 10)

/* A thread with the lock and condition that it and its owner share. */
typedef struct Worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
} Worker;

/* Start W running FN(ARG), with every signal blocked; returns 0 or an errno. */
int worker_start(Worker *w, void *(*fn)(void *), void *arg);
/* Set *STOP under W's lock, wake the thread and wait for it to end. */
void worker_stop(Worker *w, bool *stop);

/*
 * The SHA-256 of a file's bytes exactly as they were consumed (an id is a
 * promise about bytes: issue 12, docs/protocol.md).  Every sequential read
 * passes through stream_hash(); a read that starts before UPTO (a restart
 * from offset 0) adds only what is new, one that starts after it (a skip)
 * makes the digest unusable (GAP).
 */
typedef struct StreamHash {
	struct sha256_ctx ctx;
	bool on; /* hashing at all */
	uint64_t upto;
	bool gap;
} StreamHash;

void stream_hash(StreamHash *h, uint64_t off, const void *p, size_t n);

/* Hash what was not read of FD (the tail after the end-of-archive blocks)
 * and finish: *RET_HASHED says whether MD is the digest of every byte of
 * the file in order, each read once.  0 or -errno of a read. */
int stream_hash_finish(StreamHash *h, int fd, unsigned char md[32], bool *ret_hashed);

typedef struct Inflater {
	Worker w;
	StreamHash *hash;
	struct archive *a; /* the thread's: filters + raw */
	int fd;
	uint64_t offset;   /* compressed bytes read; atomic */
	void *block;       /* compressed input, INFLATE_READ_BLOCK */

	/* Under LOCK: a ring of COUNT filled buffers from HEAD. */
	char *bufs[INFLATE_BUFS];
	size_t lens[INFLATE_BUFS];
	unsigned head, count;
	bool holding; /* the tar reader uses bufs[head] */
	bool done;    /* the thread ended: end of data, or ERR */
	bool cancel;  /* the tar reader gave up */
	int err;      /* errno-style code of a failure, 0 if none */
	int io_errno; /* a read error of the file */
	char *msg;
} Inflater;

/* Does a file starting with M (N bytes) have a compressor worth a thread
 * (xz, zstd, gzip, bzip2)? */
bool inflate_worth_a_thread(const unsigned char *m, size_t n);

/* Returns 0 with the thread running, or -errno (then F is all freed):
 * -EBADMSG if libarchive does not take the file for a compressed one. */
int inflater_start(Inflater *f, int fd, StreamHash *hash);
void inflater_stop(Inflater *f);

/* The next piece of the plain stream, for a libarchive read callback: its
 * length (0 at the end) with *RET, or -1 with archive_set_error(A) and
 * *IO_ERRNO set to the file's read error (0 if none). */
ssize_t inflater_read(Inflater *f, struct archive *a, const void **ret, int *io_errno);

/* Compressed bytes read so far. */
uint64_t inflater_consumed(Inflater *f);

#endif
