/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * image-sort.h - records sorted by path on disk, in bounded memory: how
 * the image writer (image-writer.h) turns a tarball's entries, which come
 * in any order, into the path order a squashfs image is written in.
 *
 * Records are added in any order into a run in memory; a full run (at
 * most RUN_BYTES, or one record bigger than that) is sorted and appended
 * to an unlinked file in the directory given.  sorter_finish() merges the
 * runs, SORT_FANIN at a time, until at most SORT_FANIN are left; a walk
 * then merges those as it reads, through one small buffer per run.  So
 * what the sorter holds is one run while adding and SORT_FANIN buffers
 * while walking, whatever the number of records.
 *
 * The order: by path, bytewise, with '/' below every other byte (so that
 * a directory comes right before what is below it, and the entries of
 * one directory come in strcmp() order of their names); a walk yields, of
 * the records of one path, only the one of the largest SEQ.
 *
 * Contract: one thread uses a sorter.  Functions return 0 or -errno
 * (-EBADMSG: the sort file does not read back as written), with
 * sorter_error() saying why; after a failure, only sorter_free() means
 * anything.
 */
#ifndef ZEOLITE_IMAGE_SORT_H
#define ZEOLITE_IMAGE_SORT_H

#include <stddef.h>
#include <stdint.h>

typedef struct Sorter Sorter;
typedef struct SortWalk SortWalk;

/* A record as a walk hands it out: this header, the caller's HEAD, the
 * path, the body; 8-byte aligned. */
typedef struct SortRec {
	uint32_t len;       /* all of it, a multiple of 8 */
	uint32_t path_len;
	uint64_t seq;
	uint32_t path_off;  /* from the record's start */
	uint32_t body_off;
	uint32_t body_len;
	uint32_t head_len;
} SortRec;

static inline const void *sort_rec_head(const SortRec *r)
{
	return r + 1;
}

static inline const char *sort_rec_path(const SortRec *r)
{
	return (const char *) r + r->path_off;
}

static inline const void *sort_rec_body(const SortRec *r)
{
	return (const char *) r + r->body_off;
}

/* A sorter whose file is an unlinked one in DIRFD. */
int sorter_new(int dirfd, Sorter **ret, char **ret_err);

/* A record of PATH (PATH_LEN bytes, no NUL needed), SEQ, HEAD_LEN bytes of
 * HEAD (a multiple of 8) and BODY_LEN of BODY. */
int sorter_add(Sorter *s, const char *path, size_t path_len, uint64_t seq, const void *head, size_t head_len,
	       const void *body, size_t body_len);

/* Every record added: the last run out, the runs merged down. */
int sorter_finish(Sorter *s);

/* A walk over everything added, in order (after sorter_finish(); as many
 * walks as wanted, one after the other). */
int sorter_walk(Sorter *s, SortWalk **ret);
/* The next record, valid until the next call; *RET NULL at the end. */
int sorter_walk_next(SortWalk *wk, const SortRec **ret);
void sorter_walk_free(SortWalk *wk);

const char *sorter_error(const Sorter *s);
void sorter_free(Sorter *s);

/* For tests: runs of at most BYTES (before the first record). */
void sorter_set_run_bytes(Sorter *s, size_t bytes);

/* The order of paths: <0, 0, >0. */
int sort_path_cmp(const char *a, size_t an, const char *b, size_t bn);

#endif
