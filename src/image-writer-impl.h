/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * image-writer-impl.h - what image-writer.c (pass 1: entries, data, life
 * cycle) and image-tables.c (pass 2: the tables) share; nothing else
 * includes it.  The locking story is image-writer.h's: one thread.
 */
#ifndef ZEOLITE_IMAGE_WRITER_IMPL_H
#define ZEOLITE_IMAGE_WRITER_IMPL_H

#include "image-sort.h"
#include "image-writer.h"
#include "sqfs-file.h"

#include <stdbool.h>

#include <nettle/sha2.h>
#include <sqfs/block.h>
#include <sqfs/block_processor.h>
#include <sqfs/block_writer.h>
#include <sqfs/compressor.h>
#include <sqfs/dir_writer.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/meta_writer.h>
#include <sqfs/super.h>
#include <sqfs/xattr_writer.h>

#define BLOCK SQFS_DEFAULT_BLOCK_SIZE
#define NO_XATTR 0xFFFFFFFFu
#define NO_FRAG 0xFFFFFFFFu

/* Files whose blocks may be in the block processor at once. */
#define PENDING_MAX 64
/* Blocks in flight per compressor thread: each holds up to 2 x 128 KiB. */
#define BACKLOG_PER_WORKER 2
/* Whole-file deduplication of files under one block: slots, probes. */
#define DEDUP_SLOTS 16384u
#define DEDUP_PROBES 4u
/* ... and of files with blocks, by SHA-256 and size. */
#define BIG_SLOTS 1024u

enum { REC_INODE, REC_DIR, REC_LINK };

/* A record's head (image-sort.h keeps the path and the body: REC_INODE's
 * sqfs_inode_generic_t and its payload, REC_LINK's target path). */
typedef struct RecHead {
	uint32_t kind;
	uint32_t mode, uid, gid, mtime, xattr;
} RecHead;

static inline const RecHead *head(const SortRec *r)
{
	return sort_rec_head(r);
}

/* What every entry has, kept while its inode is not final. */
typedef struct Meta {
	char *path;
	uint64_t seq;
	uint32_t mode, uid, gid, mtime, xattr;
} Meta;

typedef struct Pending {
	Meta meta;
	sqfs_inode_generic_t *inode; /* the processor holds &inode */
	uint8_t digest[SHA256_DIGEST_SIZE]; /* of its data */
	bool shared;                 /* its blocks are an earlier file's */
} Pending;

/* A slot: half of the SHA-256 (128 bits: no collision in any tarball),
 * the size (0: a free slot; tails are never empty), the fragment. */
typedef struct Dedup {
	uint8_t digest[16];
	uint32_t size, frag_index, frag_offset;
} Dedup;

/* A file with blocks whose inode is final: where its data is. */
typedef struct BigDedup {
	uint8_t digest[SHA256_DIGEST_SIZE];
	uint64_t size;
	sqfs_inode_generic_t *inode; /* a copy: blocks start, sizes, sparse */
} BigDedup;

/* A hard link's target: found and written by the first walk. */
typedef struct Target {
	char *path;
	uint32_t links;     /* names besides the target's own */
	bool written;
	uint16_t mode;
	uint32_t num;
	uint64_t ref;
} Target;

/* A string-keyed open-addressing table of pointers to structs whose first
 * member is the key. */
typedef struct StrMap {
	void **slots;
	size_t n, cap;
} StrMap;

typedef struct Link {
	char *path;
	char *target;
} Link;

struct ImageWriter;

typedef struct BlockWriter {
	sqfs_block_writer_t base;
	struct ImageWriter *w;
} BlockWriter;

struct ImageWriter {
	FdFile file;                 /* the image */
	FdFile dirs;                 /* the directory table, until finish */
	Sorter *sorter;              /* the records */
	int dirs_fd;
	sqfs_compressor_t *cmp;
	BlockWriter blkwr;
	sqfs_frag_table_t *frags;
	sqfs_block_processor_t *proc;
	sqfs_id_table_t *ids;
	sqfs_xattr_writer_t *xwr;
	sqfs_meta_writer_t *im, *dm;
	sqfs_dir_writer_t *dirwr;
	sqfs_super_t super;

	/* the open entry */
	bool open;
	Meta meta;
	int kind;
	char *link_target;           /* REC_LINK */
	bool xattr_open;
	sqfs_inode_generic_t *inode; /* a non-directory's, until it is a record */
	Pending *streaming;          /* a file with blocks: its slot */
	uint64_t size, pos, full;    /* logical size, bytes seen, bytes in blocks */
	uint8_t *tail;
	size_t tail_len;
	struct sha256_ctx sha;       /* of a file with blocks, as it comes */
	sqfs_u32 shared_frag, shared_frag_offset; /* share_blocks()'s finding */

	/* the fragment block being packed */
	uint8_t *frag;
	size_t frag_len;
	uint32_t frag_index;
	bool frag_open;
	uint32_t frags_written;      /* by the block writer, in order */
	uint64_t first_block;        /* the current file's first block */
	uint64_t blocks_written;

	Pending pending[PENDING_MAX];
	size_t n_pending;

	Dedup *dedup;
	BigDedup *big;

	StrMap links, targets;

	uint64_t seq;
	uint32_t n_inodes;
	bool failed;
	char *err;
};

/* libsquashfs's SQFS_ERROR_* code ERR while doing WHAT: -errno. */
int iw_fail(ImageWriter *w, int err, const char *what);
/* An entry (or a set of them) no image can hold, WHY (taken): -EBADMSG. */
int iw_refuse(ImageWriter *w, char *why);
/* The sorter failed with R: its words; R. */
int iw_sort_fail(ImageWriter *w, int r);
/* The value whose key (its first member, a char *) is KEY, or NULL. */
void *iw_strmap_get(const StrMap *m, const char *key);

/* Pass 2 (image-tables.c): see there. */
int image_tables_write(ImageWriter *w);

#endif
