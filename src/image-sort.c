// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * image-sort.c - records sorted by path on disk (see image-sort.h).
 *
 * A run is a byte buffer of records and an array of their offsets; it is
 * sorted by sorting the offsets and written in that order through a small
 * buffer.  A merge keeps one Reader per run (a window of the run in a
 * buffer that grows only for a record bigger than it) and a binary heap
 * of the readers by their current record.
 */
#include "image-sort.h"

#include "fs.h"
#include "sqfs-file.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A run in memory is at most this big. */
#define RUN_BYTES (256u << 10)
/* Runs merged at once, each read through a buffer of IO_BUF. */
#define SORT_FANIN 32
#define IO_BUF (32u << 10)

typedef struct Run {
	uint64_t off, len;
} Run;

struct Sorter {
	int fd;
	uint64_t size;     /* of the sort file */
	uint8_t *run;      /* the run in memory */
	size_t run_len, run_cap, run_max;
	uint32_t *offs;
	size_t n_offs, cap_offs;
	Run *runs;         /* the runs in the file */
	size_t n_runs, cap_runs;
	bool finished, failed;
	char *err;
};

int sort_path_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	size_t n = an < bn ? an : bn;

	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i]) {
			unsigned ca = a[i] == '/' ? 0 : (unsigned char) a[i];
			unsigned cb = b[i] == '/' ? 0 : (unsigned char) b[i];
			return ca < cb ? -1 : 1;
		}
	return an < bn ? -1 : an > bn;
}

static int rec_cmp(const SortRec *a, const SortRec *b)
{
	int c = sort_path_cmp(sort_rec_path(a), a->path_len, sort_rec_path(b), b->path_len);

	if (c)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int fail(Sorter *s, int r, char *why)
{
	s->failed = true;
	if (!s->err)
		s->err = why;
	else
		free(why);
	return r;
}

const char *sorter_error(const Sorter *s)
{
	return s ? s->err : NULL;
}

/* All of N bytes at OFF of the sort file, read or written. */
static int file_io(Sorter *s, bool writing, uint64_t off, void *p, size_t n)
{
	FdFile f;

	fdfile_init(&f, s->fd);
	if (fdfile_io(&f, writing, off, p, n) == 0)
		return 0;
	return fail(s, -f.io_errno, xasprintf("%s the image's sort file: %s", writing ? "writing" : "reading",
					      strerror(f.io_errno)));
}

/* Records out through a buffer, appended to the sort file. */
typedef struct Out {
	uint8_t *buf;
	size_t n;
} Out;

static int out_put(Sorter *s, Out *o, const SortRec *rec)
{
	int r = 0;

	if (o->n + rec->len > IO_BUF && o->n > 0) {
		r = file_io(s, true, s->size, o->buf, o->n);
		s->size += o->n;
		o->n = 0;
	}
	if (r == 0 && rec->len > IO_BUF) {
		r = file_io(s, true, s->size, (void *) rec, rec->len);
		s->size += rec->len;
	} else if (r == 0) {
		memcpy(o->buf + o->n, rec, rec->len);
		o->n += rec->len;
	}
	return r;
}

static int out_end(Sorter *s, Out *o)
{
	int r = o->n > 0 ? file_io(s, true, s->size, o->buf, o->n) : 0;

	s->size += o->n;
	free(o->buf);
	return r;
}

static int offs_cmp(const void *a, const void *b, void *run)
{
	const SortRec *ra = (const SortRec *) ((uint8_t *) run + *(const uint32_t *) a);
	const SortRec *rb = (const SortRec *) ((uint8_t *) run + *(const uint32_t *) b);

	return rec_cmp(ra, rb);
}

/* The run in memory, sorted, to the end of the file. */
static int run_flush(Sorter *s)
{
	Out o = { .buf = xmalloc(IO_BUF) };
	uint64_t start = s->size;
	int r = 0;

	if (s->n_offs == 0) {
		free(o.buf);
		return 0;
	}
	qsort_r(s->offs, s->n_offs, sizeof(*s->offs), offs_cmp, s->run);
	for (size_t i = 0; r == 0 && i < s->n_offs; i++)
		r = out_put(s, &o, (const SortRec *) (s->run + s->offs[i]));
	if (r == 0)
		r = out_end(s, &o);
	else
		free(o.buf);
	if (r < 0)
		return r;
	xgrow(&s->runs, &s->cap_runs, s->n_runs + 1, sizeof(*s->runs));
	s->runs[s->n_runs++] = (Run) { start, s->size - start };
	s->run_len = 0;
	s->n_offs = 0;
	return 0;
}

int sorter_add(Sorter *s, const char *path, size_t path_len, uint64_t seq, const void *head, size_t head_len,
	       const void *body, size_t body_len)
{
	size_t len = sizeof(SortRec) + head_len + path_len + body_len;
	SortRec *rec;
	int r;

	if (s->failed)
		return -EIO;
	if (s->finished || head_len % 8)
		return fail(s, -EINVAL, xstrdup("a record added out of turn or misaligned"));
	if (path_len > UINT32_MAX / 4 || body_len > UINT32_MAX / 4 || head_len > 4096)
		return fail(s, -E2BIG, xstrdup("a record too big to sort"));
	len = (len + 7) & ~(size_t) 7;
	if (s->run_len + len > s->run_max && s->n_offs > 0) {
		r = run_flush(s);
		if (r < 0)
			return r;
	}
	xgrow(&s->run, &s->run_cap, s->run_len + len, 1);
	xgrow(&s->offs, &s->cap_offs, s->n_offs + 1, sizeof(*s->offs));
	rec = (SortRec *) (s->run + s->run_len);
	memset(rec, 0, len);
	*rec = (SortRec) {
		.len = (uint32_t) len, .path_len = (uint32_t) path_len, .seq = seq,
		.path_off = (uint32_t) (sizeof(SortRec) + head_len),
		.body_off = (uint32_t) (sizeof(SortRec) + head_len + path_len),
		.body_len = (uint32_t) body_len, .head_len = (uint32_t) head_len,
	};
	if (head_len)
		memcpy(rec + 1, head, head_len);
	memcpy((char *) rec + rec->path_off, path, path_len);
	if (body_len)
		memcpy((char *) rec + rec->body_off, body, body_len);
	s->offs[s->n_offs++] = (uint32_t) s->run_len;
	s->run_len += len;
	return 0;
}

/* ---- merging ------------------------------------------------------------ */

typedef struct Reader {
	uint64_t pos, end;   /* what is left of the run in the file */
	uint8_t *buf;
	size_t cap, start, fill;
	const SortRec *cur;  /* NULL at the run's end */
} Reader;

/* Make the next record current. */
static int reader_next(Sorter *s, Reader *rd)
{
	if (rd->cur)
		rd->start += rd->cur->len;
	rd->cur = NULL;
	for (;;) {
		size_t have = rd->fill - rd->start;

		if (have >= sizeof(SortRec)) {
			const SortRec *rec = (const SortRec *) (rd->buf + rd->start);

			if (rec->len < sizeof(SortRec) || rec->len % 8 || rec->path_off > rec->len ||
			    rec->path_len > rec->len - rec->path_off || rec->body_off > rec->len ||
			    rec->body_len > rec->len - rec->body_off)
				return fail(s, -EBADMSG, xstrdup("the image's sort file is corrupt"));
			if (have >= rec->len) {
				rd->cur = rec;
				return 0;
			}
			if (rec->len > rd->cap) {
				memmove(rd->buf, rd->buf + rd->start, have);
				rd->start = 0;
				rd->fill = have;
				xgrow(&rd->buf, &rd->cap, rec->len, 1);
			}
		}
		if (rd->pos == rd->end) {
			if (have)
				return fail(s, -EBADMSG, xstrdup("the image's sort file is truncated"));
			return 0;
		}
		memmove(rd->buf, rd->buf + rd->start, have);
		rd->start = 0;
		rd->fill = have;
		size_t k = rd->cap - rd->fill;
		if (k > rd->end - rd->pos)
			k = (size_t) (rd->end - rd->pos);
		int r = file_io(s, false, rd->pos, rd->buf + rd->fill, k);
		if (r < 0)
			return r;
		rd->pos += k;
		rd->fill += k;
	}
}

typedef struct Merger {
	Reader *rd;
	size_t n;
	size_t *heap, n_heap;
	ssize_t last;        /* whose record was handed out, to advance */
} Merger;

static bool heap_less(const Merger *m, size_t a, size_t b)
{
	return rec_cmp(m->rd[m->heap[a]].cur, m->rd[m->heap[b]].cur) < 0;
}

static void heap_down(Merger *m, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, least = i;

		if (l < m->n_heap && heap_less(m, l, least))
			least = l;
		if (l + 1 < m->n_heap && heap_less(m, l + 1, least))
			least = l + 1;
		if (least == i)
			return;
		size_t t = m->heap[i];
		m->heap[i] = m->heap[least];
		m->heap[least] = t;
		i = least;
	}
}

static void heap_up(Merger *m, size_t i)
{
	while (i > 0 && heap_less(m, i, (i - 1) / 2)) {
		size_t p = (i - 1) / 2, t = m->heap[i];
		m->heap[i] = m->heap[p];
		m->heap[p] = t;
		i = p;
	}
}

static void merger_free(Merger *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->rd[i].buf);
	free(m->rd);
	free(m->heap);
	*m = (Merger) { 0 };
}

static int merger_open(Sorter *s, Merger *m, const Run *runs, size_t n)
{
	*m = (Merger) { .rd = xcalloc(n ? n : 1, sizeof(*m->rd)), .n = n, .heap = xcalloc(n ? n : 1, sizeof(size_t)),
			.last = -1 };
	for (size_t i = 0; i < n; i++) {
		Reader *rd = &m->rd[i];

		*rd = (Reader) { .pos = runs[i].off, .end = runs[i].off + runs[i].len, .buf = xmalloc(IO_BUF),
				 .cap = IO_BUF };
		int r = reader_next(s, rd);
		if (r < 0)
			return r;
		if (rd->cur) {
			m->heap[m->n_heap++] = i;
			heap_up(m, m->n_heap - 1);
		}
	}
	return 0;
}

/* The next record of all the runs, valid until the next call. */
static int merger_next(Sorter *s, Merger *m, const SortRec **ret)
{
	if (m->last >= 0) {
		Reader *rd = &m->rd[m->last];
		int r = reader_next(s, rd);

		if (r < 0)
			return r;
		if (!rd->cur)
			m->heap[0] = m->heap[--m->n_heap];
		heap_down(m, 0);
		m->last = -1;
	}
	if (m->n_heap == 0) {
		*ret = NULL;
		return 0;
	}
	m->last = (ssize_t) m->heap[0];
	*ret = m->rd[m->last].cur;
	return 0;
}

/* The first SORT_FANIN runs into one, until no more than that are left. */
static int merge_down(Sorter *s)
{
	while (s->n_runs > SORT_FANIN) {
		Out o = { .buf = xmalloc(IO_BUF) };
		const SortRec *rec;
		uint64_t start = s->size;
		Merger m;
		int r = merger_open(s, &m, s->runs, SORT_FANIN);

		while (r == 0 && (r = merger_next(s, &m, &rec)) == 0 && rec)
			r = out_put(s, &o, rec);
		if (r == 0)
			r = out_end(s, &o);
		else
			free(o.buf);
		merger_free(&m);
		if (r < 0)
			return r;
		memmove(s->runs, s->runs + SORT_FANIN, (s->n_runs - SORT_FANIN) * sizeof(*s->runs));
		s->n_runs -= SORT_FANIN - 1;
		s->runs[s->n_runs - 1] = (Run) { start, s->size - start };
	}
	return 0;
}

int sorter_finish(Sorter *s)
{
	int r;

	if (s->failed)
		return -EIO;
	r = run_flush(s);
	if (r == 0)
		r = merge_down(s);
	if (r < 0)
		return r;
	/* Never needed again. */
	free(TAKE_PTR(s->run));
	free(TAKE_PTR(s->offs));
	s->run_cap = s->cap_offs = 0;
	s->finished = true;
	return 0;
}

/* ---- walks: of each path, the last ---------------------------------------- */

struct SortWalk {
	Sorter *s;
	Merger m;
	SortRec *hold, *out; /* the newest record of the current path; the one handed out */
	size_t hold_cap, out_cap;
	bool have;
};

int sorter_walk(Sorter *s, SortWalk **ret)
{
	SortWalk *wk;
	int r;

	if (s->failed)
		return -EIO;
	if (!s->finished)
		return fail(s, -EINVAL, xstrdup("a walk before the sort was finished"));
	wk = xcalloc(1, sizeof(*wk));
	wk->s = s;
	r = merger_open(s, &wk->m, s->runs, s->n_runs);
	if (r < 0) {
		sorter_walk_free(wk);
		return r;
	}
	*ret = wk;
	return 0;
}

static void copy_rec(SortRec **dst, size_t *cap, const SortRec *src)
{
	xgrow(dst, cap, src->len, 1);
	memcpy(*dst, src, src->len);
}

static void swap_hold_out(SortWalk *wk)
{
	SortRec *t = wk->out;
	size_t c = wk->out_cap;

	wk->out = wk->hold;
	wk->out_cap = wk->hold_cap;
	wk->hold = t;
	wk->hold_cap = c;
}

int sorter_walk_next(SortWalk *wk, const SortRec **ret)
{
	const SortRec *rec;
	int r;

	for (;;) {
		r = merger_next(wk->s, &wk->m, &rec);
		if (r < 0)
			return r;
		if (!rec) {
			if (!wk->have) {
				*ret = NULL;
				return 0;
			}
			swap_hold_out(wk);
			wk->have = false;
			*ret = wk->out;
			return 0;
		}
		if (wk->have && sort_path_cmp(sort_rec_path(rec), rec->path_len, sort_rec_path(wk->hold),
					      wk->hold->path_len) != 0) {
			swap_hold_out(wk);
			copy_rec(&wk->hold, &wk->hold_cap, rec);
			*ret = wk->out;
			return 0;
		}
		copy_rec(&wk->hold, &wk->hold_cap, rec);
		wk->have = true;
	}
}

void sorter_walk_free(SortWalk *wk)
{
	if (!wk)
		return;
	merger_free(&wk->m);
	free(wk->hold);
	free(wk->out);
	free(wk);
}

/* ---- life cycle --------------------------------------------------------- */

void sorter_set_run_bytes(Sorter *s, size_t bytes)
{
	s->run_max = bytes;
}

void sorter_free(Sorter *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->run);
	free(s->offs);
	free(s->runs);
	free(s->err);
	free(s);
}

int sorter_new(int dirfd, Sorter **ret, char **ret_err)
{
	Sorter *s;
	int fd = open_unlinked(dirfd);

	if (fd < 0) {
		*ret_err = xasprintf("creating the image's sort file: %s", strerror(-fd));
		return fd;
	}
	s = xcalloc(1, sizeof(*s));
	s->fd = fd;
	s->run_max = RUN_BYTES;
	*ret = s;
	return 0;
}
