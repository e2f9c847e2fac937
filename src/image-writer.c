// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * image-writer.c - tarball entries into a squashfs image, in bounded
 * memory (see image-writer.h).
 *
 * Layout, as libsquashfs's own tools write it:
 *
 *   superblock | compressor options | data and fragment blocks |
 *   inode table | directory table | fragment table | id table |
 *   xattr tables | padding
 *
 * Pass 1 (begin/data/end, per entry).  A regular file's full blocks go to
 * the block processor, which compresses them in its threads and fills the
 * file's inode (block sizes, start) as they are written, in order; its
 * tail, under one block, goes into the fragment block we are packing, and
 * that block to the processor as a plain block when full.  A file with
 * full blocks waits in `pending` until the processor is done with it
 * (sqfs_block_processor_sync() every PENDING_MAX such files); every other
 * entry's inode is final at once.  A final inode becomes a Record in the
 * current run; a full run is sorted and appended to the spill file.
 *
 * Pass 2 (finish).  The runs are merged (MERGE_FANIN at a time) into one
 * stream in path order, '/' before any other byte, so that a directory
 * comes right before what is below it and each directory's entries come
 * in strcmp() order, which is squashfs's.  When a path comes twice, the
 * later record wins.  If there are hard links, a first walk writes the
 * inodes of their targets (numbered 1..H).  The second walk keeps a stack
 * of open directories, numbers inodes in path order (a directory before
 * its entries, so its parent's number is known), writes each non-
 * directory's inode as it comes and each directory's listing and inode
 * when the walk leaves it.
 */
#include "image-writer.h"

#include "sqfs-file.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/sha2.h>
#include <sqfs/block.h>
#include <sqfs/block_processor.h>
#include <sqfs/block_writer.h>
#include <sqfs/compressor.h>
#include <sqfs/dir_writer.h>
#include <sqfs/error.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/meta_writer.h>
#include <sqfs/super.h>
#include <sqfs/xattr.h>
#include <sqfs/xattr_writer.h>

#define BLOCK SQFS_DEFAULT_BLOCK_SIZE
#define NO_XATTR 0xFFFFFFFFu
#define NO_FRAG 0xFFFFFFFFu

/* A sorted run of records is at most this big (one record bigger than it
 * is a run of its own). */
#define RUN_BYTES (512u << 10)
/* Files whose blocks may be in the block processor at once. */
#define PENDING_MAX 64
/* Blocks in flight per compressor thread: each holds up to 2 x 128 KiB. */
#define BACKLOG_PER_WORKER 3
/* Whole-file deduplication of files under one block: slots, probes. */
#define DEDUP_SLOTS 16384u
#define DEDUP_PROBES 4u
/* ... and of files with blocks, by SHA-256 and size. */
#define BIG_SLOTS 1024u
/* Runs merged at once, each read through a buffer of READ_BUF. */
#define MERGE_FANIN 32
#define READ_BUF (32u << 10)

enum { REC_INODE, REC_DIR, REC_LINK };

/* A record in a run: the header, PATH_LEN bytes of path, BODY_LEN bytes of
 * body (REC_INODE: the sqfs_inode_generic_t and its payload; REC_LINK: the
 * target's path), zero-padded to a multiple of 8. */
typedef struct Record {
	uint32_t len;
	uint32_t path_len;
	uint64_t seq;      /* the entry's place in the tarball */
	uint32_t kind;
	uint32_t body_len;
	uint32_t mode, uid, gid, mtime, xattr;
	uint32_t pad;
} Record;

static const char *rec_path(const Record *r)
{
	return (const char *) (r + 1);
}

static const void *rec_body(const Record *r)
{
	return (const char *) (r + 1) + r->path_len;
}

/* Path order: bytewise, with '/' below every other byte. */
static int path_cmp(const char *a, size_t an, const char *b, size_t bn)
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

static int rec_cmp(const Record *a, const Record *b)
{
	int c = path_cmp(rec_path(a), a->path_len, rec_path(b), b->path_len);

	if (c)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
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

typedef struct Run {
	uint64_t off, len;
} Run;

struct ImageWriter;

typedef struct BlockWriter {
	sqfs_block_writer_t base;
	struct ImageWriter *w;
} BlockWriter;

struct ImageWriter {
	FdFile file;                 /* the image */
	FdFile dirs;                 /* the directory table, until finish */
	int spill_fd, dirs_fd;
	uint64_t spill_size;
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

	uint8_t *run;
	size_t run_len, run_cap, run_max;
	uint32_t *offs;
	size_t n_offs, cap_offs;
	Run *runs;
	size_t n_runs, cap_runs;

	uint64_t seq;
	uint32_t n_inodes;
	bool failed;
	char *err;
};

/* ---- failing ------------------------------------------------------------ */

/* libsquashfs's SQFS_ERROR_* code ERR while doing WHAT; -errno. */
static int fail(ImageWriter *w, int err, const char *what)
{
	int io = w->file.io_errno ? w->file.io_errno : w->dirs.io_errno;
	int r = -EIO;

	w->failed = true;
	if (w->err)
		return r;
	if (err == SQFS_ERROR_IO && io) {
		r = -io;
		w->err = xasprintf("%s: %s", what, strerror(io));
	} else if (err == SQFS_ERROR_ALLOC) {
		r = -ENOMEM;
		w->err = xasprintf("%s: out of memory", what);
	} else
		w->err = xasprintf("%s: libsquashfs error %d", what, err);
	return r;
}

/* An entry (or a set of them) no image can hold: -EBADMSG. */
static int refuse(ImageWriter *w, char *why)
{
	w->failed = true;
	if (!w->err)
		w->err = why;
	else
		free(why);
	return -EBADMSG;
}

static int sys_fail(ImageWriter *w, int r, const char *what)
{
	w->failed = true;
	if (!w->err)
		w->err = xasprintf("%s: %s", what, strerror(-r));
	return r;
}

const char *image_writer_error(const ImageWriter *w)
{
	return w ? w->err : NULL;
}

/* ---- a string map --------------------------------------------------------- */

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603u;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 1099511628211u;
	return h;
}

static void *strmap_get(const StrMap *m, const char *key)
{
	if (m->cap == 0)
		return NULL;
	for (size_t i = str_hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		void *v = m->slots[i];

		if (!v || strcmp(*(char **) v, key) == 0)
			return v;
	}
}

/* V's key must not be in M yet. */
static void strmap_put(StrMap *m, void *v)
{
	if (2 * (m->n + 1) > m->cap) {
		StrMap n = { .cap = m->cap ? 2 * m->cap : 64 };

		n.slots = xcalloc(n.cap, sizeof(*n.slots));
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i])
				strmap_put(&n, m->slots[i]);
		free(m->slots);
		*m = n;
	}
	size_t i = str_hash(*(char **) v) & (m->cap - 1);
	while (m->slots[i])
		i = (i + 1) & (m->cap - 1);
	m->slots[i] = v;
	m->n++;
}

/* Each value is a struct whose first member, a char *, is freed too. */
static void strmap_free(StrMap *m, void (*free_value)(void *))
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i])
			free_value(m->slots[i]);
	free(m->slots);
}

static void link_free(void *v)
{
	Link *l = v;

	free(l->path);
	free(l->target);
	free(l);
}

static void target_free(void *v)
{
	Target *t = v;

	free(t->path);
	free(t);
}

/* ---- runs and the spill file ------------------------------------------ */

static int spill_write(ImageWriter *w, const void *p, size_t n)
{
	FdFile f;

	fdfile_init(&f, w->spill_fd);
	if (fdfile_io(&f, true, w->spill_size, (void *) p, n) != 0)
		return sys_fail(w, -f.io_errno, "writing the image's sort file");
	w->spill_size += n;
	return 0;
}

static int offs_cmp(const void *a, const void *b, void *run)
{
	const Record *ra = (const Record *) ((uint8_t *) run + *(const uint32_t *) a);
	const Record *rb = (const Record *) ((uint8_t *) run + *(const uint32_t *) b);

	return rec_cmp(ra, rb);
}

/* The run in memory, sorted, to the end of the spill file. */
static int run_flush(ImageWriter *w)
{
	uint64_t start = w->spill_size;
	uint8_t *out;
	size_t n = 0;
	int r;

	if (w->n_offs == 0)
		return 0;
	qsort_r(w->offs, w->n_offs, sizeof(*w->offs), offs_cmp, w->run);
	/* Sorted, through a small buffer. */
	out = xmalloc(READ_BUF);
	r = 0;
	for (size_t i = 0; r == 0 && i < w->n_offs; i++) {
		const Record *rec = (const Record *) (w->run + w->offs[i]);

		if (n + rec->len > READ_BUF && n > 0) {
			r = spill_write(w, out, n);
			n = 0;
		}
		if (r == 0 && rec->len > READ_BUF)
			r = spill_write(w, rec, rec->len);
		else if (r == 0) {
			memcpy(out + n, rec, rec->len);
			n += rec->len;
		}
	}
	if (r == 0 && n > 0)
		r = spill_write(w, out, n);
	free(out);
	if (r < 0)
		return r;
	xgrow(&w->runs, &w->cap_runs, w->n_runs + 1, sizeof(*w->runs));
	w->runs[w->n_runs++] = (Run) { start, w->spill_size - start };
	w->run_len = 0;
	w->n_offs = 0;
	return 0;
}

/* A record of META, KIND and BODY into the current run. */
static int rec_add(ImageWriter *w, const Meta *m, int kind, const void *body, size_t body_len)
{
	size_t path_len = strlen(m->path), len = (sizeof(Record) + path_len + body_len + 7) & ~(size_t) 7;
	Record *rec;
	int r;

	if (path_len + body_len > UINT32_MAX - 2 * sizeof(Record))
		return refuse(w, xasprintf("'%s': an entry too big for an image", m->path));
	if (w->run_len + len > w->run_max && w->n_offs > 0) {
		r = run_flush(w);
		if (r < 0)
			return r;
	}
	xgrow(&w->run, &w->run_cap, w->run_len + len, 1);
	xgrow(&w->offs, &w->cap_offs, w->n_offs + 1, sizeof(*w->offs));
	rec = (Record *) (w->run + w->run_len);
	memset(rec, 0, len);
	*rec = (Record) {
		.len = (uint32_t) len, .path_len = (uint32_t) path_len, .seq = m->seq, .kind = (uint32_t) kind,
		.body_len = (uint32_t) body_len, .mode = m->mode, .uid = m->uid, .gid = m->gid,
		.mtime = m->mtime, .xattr = m->xattr,
	};
	memcpy(rec + 1, m->path, path_len);
	if (body_len)
		memcpy((char *) (rec + 1) + path_len, body, body_len);
	w->offs[w->n_offs++] = (uint32_t) w->run_len;
	w->run_len += len;
	return 0;
}

static int rec_add_inode(ImageWriter *w, const Meta *m, const sqfs_inode_generic_t *inode)
{
	return rec_add(w, m, REC_INODE, inode, sizeof(*inode) + inode->payload_bytes_used);
}

/* ---- the block writer: data and fragment blocks, in order ----------------- */

static int bw_write(sqfs_block_writer_t *base, void *user, sqfs_u32 size, sqfs_u32 checksum, sqfs_u32 flags,
		    const sqfs_u8 *data, sqfs_u64 *location)
{
	ImageWriter *w = ((BlockWriter *) base)->w;
	uint64_t at = w->file.size;
	int r;

	(void) checksum;
	if (size != 0 && !(flags & SQFS_BLK_IS_SPARSE)) {
		r = w->file.base.write_at(&w->file.base, at, data, size);
		if (r != 0)
			return r;
		w->blocks_written++;
	}
	*location = at;
	if (user == &w->frag) /* a fragment block of ours */
		return sqfs_frag_table_set(w->frags, w->frags_written++, at,
					   size | (flags & SQFS_BLK_IS_COMPRESSED ? 0 : 1u << 24));
	/* A file's blocks are written one after the other: its inode points
	 * at the first. */
	if (flags & SQFS_BLK_FIRST_BLOCK)
		w->first_block = at;
	if (flags & SQFS_BLK_LAST_BLOCK)
		*location = w->first_block;
	return 0;
}

static sqfs_u64 bw_count(const sqfs_block_writer_t *base)
{
	return ((const BlockWriter *) base)->w->blocks_written;
}

static void bw_destroy(sqfs_object_t *obj)
{
	(void) obj; /* embedded in the ImageWriter */
}

/* ---- pass 1 ------------------------------------------------------------- */

static uint32_t clamp_time(int64_t t)
{
	return t < 0 ? 0 : t > (int64_t) UINT32_MAX ? UINT32_MAX : (uint32_t) t;
}

/* P as a path inside the image: no leading, trailing or doubled '/', no
 * "." component; "" is the root.  NULL (and *WHY) if it cannot be one. */
static char *canonical(const char *p, char **why)
{
	size_t n = strlen(p), o = 0;
	char *out = xmalloc(n + 1);

	for (const char *c = p; *c;) {
		size_t len = strcspn(c, "/");

		if (len == 2 && c[0] == '.' && c[1] == '.') {
			*why = xasprintf("'%s': a \"..\" in the path", p);
			free(out);
			return NULL;
		}
		if (len > 256) {
			*why = xasprintf("'%s': a name of %zu bytes (squashfs takes 256)", p, len);
			free(out);
			return NULL;
		}
		if (len > 0 && !(len == 1 && c[0] == '.')) {
			if (o > 0)
				out[o++] = '/';
			memcpy(out + o, c, len);
			o += len;
		}
		c += len;
		c += strspn(c, "/");
	}
	out[o] = '\0';
	return out;
}

static void meta_clear(Meta *m)
{
	free(m->path);
	*m = (Meta) { 0 };
}

static BigDedup *big_slot(ImageWriter *w, const uint8_t *digest)
{
	uint64_t h;

	memcpy(&h, digest, sizeof(h));
	return &w->big[h & (BIG_SLOTS - 1)];
}

/* P, final, is where later copies of its data find it (the newest of a
 * slot wins). */
static void big_remember(ImageWriter *w, const Pending *p)
{
	BigDedup *b = big_slot(w, p->digest);
	size_t n = sizeof(*p->inode) + p->inode->payload_bytes_used;
	uint64_t size = 0;

	sqfs_inode_get_file_size(p->inode, &size);
	free(b->inode);
	b->inode = xmalloc(n);
	memcpy(b->inode, p->inode, n);
	b->inode->payload_bytes_available = b->inode->payload_bytes_used;
	b->size = size;
	memcpy(b->digest, p->digest, sizeof(b->digest));
}

/* The processor is done with every pending file: their records. */
static int pending_flush(ImageWriter *w)
{
	int r;

	if (w->n_pending == 0)
		return 0;
	r = sqfs_block_processor_sync(w->proc);
	if (r != 0)
		return fail(w, r, "writing the image's data");
	for (size_t i = 0; i < w->n_pending; i++) {
		Pending *p = &w->pending[i];

		if (!p->shared)
			big_remember(w, p);
		r = rec_add_inode(w, &p->meta, p->inode);
		if (r < 0)
			return r;
		free(TAKE_PTR(p->inode));
		meta_clear(&p->meta);
	}
	w->n_pending = 0;
	return 0;
}

int image_writer_begin(ImageWriter *w, const ImageEntry *e)
{
	char *why = NULL;
	int r;

	if (w->failed)
		return -EIO;
	if (w->open)
		return refuse(w, xstrdup("an entry began inside another"));
	w->meta.path = canonical(e->path ? e->path : "", &why);
	if (!w->meta.path)
		return refuse(w, why);
	w->meta.seq = w->seq++;
	w->meta.mode = (uint32_t) e->mode & (S_IFMT | 07777);
	w->meta.uid = e->uid;
	w->meta.gid = e->gid;
	w->meta.mtime = clamp_time(e->mtime);
	w->meta.xattr = NO_XATTR;
	w->open = true;
	w->xattr_open = false;
	w->size = w->pos = w->full = 0;
	w->tail_len = 0;

	if (e->hardlink) {
		char *t = canonical(e->hardlink, &why);

		if (!t)
			return refuse(w, why);
		w->kind = REC_LINK;
		w->link_target = t;
		if (!*t || !*w->meta.path || strcmp(t, w->meta.path) == 0)
			return refuse(w, xasprintf("'%s': a hard link to '%s'", e->path, e->hardlink));
		return 0;
	}
	if (!*w->meta.path && !S_ISDIR(e->mode))
		return refuse(w, xasprintf("'%s': the root is not a directory", e->path));

	switch (e->mode & S_IFMT) {
	case S_IFDIR:
		w->kind = REC_DIR;
		return 0;
	case S_IFREG:
		w->kind = REC_INODE;
		w->size = e->size;
		w->full = e->size / BLOCK * BLOCK;
		if (w->full == 0) {
			w->inode = xcalloc(1, sizeof(*w->inode));
			w->inode->base.type = SQFS_INODE_FILE;
			w->inode->data.file.fragment_index = NO_FRAG;
			w->inode->data.file.file_size = (sqfs_u32) e->size;
			return 0;
		}
		/* The processor makes the inode and holds &slot->inode until it
		 * is done with it. */
		if (w->n_pending == PENDING_MAX) {
			r = pending_flush(w);
			if (r < 0)
				return r;
		}
		w->streaming = &w->pending[w->n_pending++];
		w->streaming->shared = false;
		sha256_init(&w->sha);
		r = sqfs_block_processor_begin_file(w->proc, &w->streaming->inode, NULL, SQFS_BLK_DONT_FRAGMENT);
		return r != 0 ? fail(w, r, "writing the image's data") : 0;
	case S_IFLNK: {
		size_t len = e->symlink ? strlen(e->symlink) : 0;

		if (len == 0 || len > UINT16_MAX)
			return refuse(w, xasprintf("'%s': a symlink to a target of %zu bytes", e->path, len));
		w->kind = REC_INODE;
		w->inode = xcalloc(1, sizeof(*w->inode) + len);
		w->inode->base.type = SQFS_INODE_SLINK;
		w->inode->data.slink.nlink = 1;
		w->inode->data.slink.target_size = (sqfs_u32) len;
		w->inode->payload_bytes_available = w->inode->payload_bytes_used = (sqfs_u32) len;
		memcpy(w->inode->extra, e->symlink, len);
		return 0;
	}
	case S_IFCHR:
	case S_IFBLK:
		if (e->rdev > UINT32_MAX)
			return refuse(w, xasprintf("'%s': a device number too big for squashfs", e->path));
		w->kind = REC_INODE;
		w->inode = xcalloc(1, sizeof(*w->inode));
		w->inode->base.type = S_ISCHR(e->mode) ? SQFS_INODE_CDEV : SQFS_INODE_BDEV;
		w->inode->data.dev.nlink = 1;
		w->inode->data.dev.devno = (sqfs_u32) e->rdev;
		return 0;
	case S_IFIFO:
	case S_IFSOCK:
		w->kind = REC_INODE;
		w->inode = xcalloc(1, sizeof(*w->inode));
		w->inode->base.type = S_ISFIFO(e->mode) ? SQFS_INODE_FIFO : SQFS_INODE_SOCKET;
		w->inode->data.ipc.nlink = 1;
		return 0;
	default:
		return refuse(w, xasprintf("'%s': an entry of unknown type (mode %o)", e->path, (unsigned) e->mode));
	}
}

int image_writer_xattr(ImageWriter *w, const char *key, const void *value, size_t size)
{
	int r;

	if (w->failed)
		return -EIO;
	if (!w->open || w->pos > 0)
		return refuse(w, xstrdup("an xattr outside an entry's header"));
	if (sqfs_get_xattr_prefix_id(key) < 0)
		return refuse(w, xasprintf("'%s': squashfs cannot store the xattr '%s' (only user., trusted., "
					   "security.)", w->meta.path, key));
	if (!w->xattr_open) {
		r = sqfs_xattr_writer_begin(w->xwr, 0);
		if (r != 0)
			return fail(w, r, "an xattr");
		w->xattr_open = true;
	}
	r = sqfs_xattr_writer_add(w->xwr, key, value, size);
	return r != 0 ? fail(w, r, "an xattr") : 0;
}

static const uint8_t zeros[64 << 10];

/* N bytes of the open file (DATA, or zeros if NULL) at w->pos. */
static int put(ImageWriter *w, const uint8_t *data, size_t n)
{
	while (n > 0) {
		size_t k;
		int r;

		if (w->pos < w->full) {
			k = n;
			if (k > w->full - w->pos)
				k = (size_t) (w->full - w->pos);
			if (!data && k > sizeof(zeros))
				k = sizeof(zeros);
			r = sqfs_block_processor_append(w->proc, data ? data : zeros, k);
			if (r != 0)
				return fail(w, r, "writing the image's data");
		} else {
			k = n;
			if (!data && k > sizeof(zeros))
				k = sizeof(zeros);
			memcpy(w->tail + w->tail_len, data ? data : zeros, k);
			w->tail_len += k;
		}
		if (w->streaming)
			sha256_update(&w->sha, k, data ? data : zeros);
		w->pos += k;
		n -= k;
		if (data)
			data += k;
	}
	return 0;
}

int image_writer_data(ImageWriter *w, uint64_t offset, const void *data, size_t n)
{
	int r;

	if (w->failed)
		return -EIO;
	if (!w->open || w->kind != REC_INODE || !S_ISREG(w->meta.mode))
		return refuse(w, xstrdup("file data outside a regular file"));
	if (offset < w->pos || offset > w->size || n > w->size - offset)
		return refuse(w, xasprintf("'%s': data at %llu..%llu of a file of %llu bytes", w->meta.path,
					   (unsigned long long) offset, (unsigned long long) (offset + n),
					   (unsigned long long) w->size));
	r = put(w, NULL, (size_t) (offset - w->pos)); /* a hole */
	return r < 0 ? r : put(w, data, n);
}

/* The open file's tail into a fragment: its location in *INDEX, *OFFSET. */
static int add_tail(ImageWriter *w, uint32_t *index, uint32_t *offset)
{
	int r;

	if (w->frag_open && w->frag_len + w->tail_len > BLOCK) {
		r = sqfs_block_processor_submit_block(w->proc, &w->frag, SQFS_BLK_IGNORE_SPARSE, w->frag, w->frag_len);
		if (r != 0)
			return fail(w, r, "writing the image's data");
		w->frag_open = false;
	}
	if (!w->frag_open) {
		r = sqfs_frag_table_append(w->frags, 0, 0, &w->frag_index);
		if (r != 0)
			return fail(w, r, "writing the image's data");
		w->frag_open = true;
		w->frag_len = 0;
	}
	*index = w->frag_index;
	*offset = (uint32_t) w->frag_len;
	memcpy(w->frag + w->frag_len, w->tail, w->tail_len);
	w->frag_len += w->tail_len;
	return 0;
}

/* A file under one block: stored once per SHA-256 and size that the table
 * remembers. */
static int add_small_file(ImageWriter *w, uint32_t *index, uint32_t *offset)
{
	uint8_t digest[SHA256_DIGEST_SIZE];
	struct sha256_ctx ctx;
	uint64_t h;
	Dedup *d = NULL;

	sha256_init(&ctx);
	sha256_update(&ctx, w->tail_len, w->tail);
	sha256_digest(&ctx, sizeof(digest), digest);
	memcpy(&h, digest, sizeof(h));
	for (unsigned i = 0; i < DEDUP_PROBES; i++) {
		Dedup *s = &w->dedup[(h + i) & (DEDUP_SLOTS - 1)];

		if (s->size == w->tail_len && memcmp(s->digest, digest, sizeof(s->digest)) == 0) {
			*index = s->frag_index;
			*offset = s->frag_offset;
			return 0;
		}
		if (s->size == 0 && !d)
			d = s;
	}
	if (!d) /* every probe taken: the newest wins the first */
		d = &w->dedup[h & (DEDUP_SLOTS - 1)];
	int r = add_tail(w, index, offset);
	if (r < 0)
		return r;
	*d = (Dedup) { .size = (uint32_t) w->tail_len, .frag_index = *index, .frag_offset = *offset };
	memcpy(d->digest, digest, sizeof(d->digest));
	return 0;
}

/* The file just ended (w->streaming) has the data of an earlier one: once
 * the processor is done, its blocks -- the last thing written -- are cut
 * off again and its inode points at the earlier file's blocks and tail.
 * 1 if so, 0 if its data stays its own. */
static int share_blocks(ImageWriter *w)
{
	Pending *cur = w->streaming;
	const sqfs_inode_generic_t *first = NULL;
	uint64_t start = 0, len = 0, size;
	BigDedup *b = big_slot(w, cur->digest);
	int r;

	if (b->inode && b->size == w->size && memcmp(b->digest, cur->digest, sizeof(b->digest)) == 0)
		first = b->inode;
	for (size_t i = 0; !first && i + 1 < w->n_pending; i++)
		if (!w->pending[i].shared && memcmp(w->pending[i].digest, cur->digest, sizeof(cur->digest)) == 0 &&
		    sqfs_inode_get_file_size(w->pending[i].inode, &size) == 0 && size == w->size)
			first = w->pending[i].inode;
	if (!first)
		return 0;
	r = sqfs_block_processor_sync(w->proc);
	if (r != 0)
		return fail(w, r, "writing the image's data");
	/* Both inodes are final now (FIRST may have moved: look again). */
	if (!b->inode || memcmp(b->digest, cur->digest, sizeof(b->digest)) != 0 || b->size != w->size)
		for (size_t i = 0; i + 1 < w->n_pending; i++)
			if (!w->pending[i].shared &&
			    memcmp(w->pending[i].digest, cur->digest, sizeof(cur->digest)) == 0 &&
			    sqfs_inode_get_file_size(w->pending[i].inode, &size) == 0 && size == w->size) {
				first = w->pending[i].inode;
				break;
			}
	if (first->payload_bytes_used != cur->inode->payload_bytes_used)
		return 0;
	sqfs_inode_get_file_block_start(cur->inode, &start);
	for (size_t i = 0; i < cur->inode->payload_bytes_used / sizeof(sqfs_u32); i++)
		len += cur->inode->extra[i] & ((1u << 24) - 1);
	/* Only what ends the image can be cut off. */
	if (len == 0 || start + len != w->file.size)
		return 0;
	r = w->file.base.truncate(&w->file.base, start);
	if (r != 0)
		return fail(w, r, "writing the image's data");
	uint64_t first_start = 0;
	sqfs_inode_get_file_block_start(first, &first_start);
	memcpy(cur->inode->extra, first->extra, first->payload_bytes_used);
	sqfs_inode_set_file_block_start(cur->inode, first_start);
	if (sqfs_inode_get_frag_location(first, &w->shared_frag, &w->shared_frag_offset) != 0)
		w->shared_frag = NO_FRAG;
	if (first->base.type == SQFS_INODE_EXT_FILE) {
		sqfs_inode_make_extended(cur->inode);
		cur->inode->data.file_ext.sparse = first->data.file_ext.sparse;
	}
	cur->shared = true;
	return 1;
}

/* Hard link NAME -> TARGET (canonical), chains followed to their end. */
static int add_link(ImageWriter *w)
{
	Link *l = strmap_get(&w->links, w->link_target);
	const char *t = l ? l->target : w->link_target;
	Target *tg;

	if (strmap_get(&w->links, w->meta.path))
		return refuse(w, xasprintf("'%s': a hard link given twice", w->meta.path));
	if (strcmp(t, w->meta.path) == 0)
		return refuse(w, xasprintf("'%s': a hard link to itself", w->meta.path));
	l = xmalloc(sizeof(*l));
	l->path = xstrdup(w->meta.path);
	l->target = xstrdup(t);
	strmap_put(&w->links, l);
	tg = strmap_get(&w->targets, l->target);
	if (!tg) {
		tg = xcalloc(1, sizeof(*tg));
		tg->path = xstrdup(l->target);
		strmap_put(&w->targets, tg);
	}
	if (tg->links == UINT32_MAX - 2)
		return refuse(w, xasprintf("'%s': too many hard links", tg->path));
	tg->links++;
	return rec_add(w, &w->meta, REC_LINK, l->target, strlen(l->target));
}

int image_writer_end(ImageWriter *w)
{
	int r = 0;

	if (w->failed)
		return -EIO;
	if (!w->open)
		return refuse(w, xstrdup("an entry ended that did not begin"));
	if (w->xattr_open) {
		r = sqfs_xattr_writer_end(w->xwr, &w->meta.xattr);
		if (r != 0)
			return fail(w, r, "an xattr");
		w->xattr_open = false;
	}
	if (S_ISREG(w->meta.mode) && w->kind == REC_INODE) {
		/* What the tarball did not give is a hole up to the end. */
		r = put(w, NULL, (size_t) (w->size - w->pos));
		if (r < 0)
			return r;
	}

	switch (w->kind) {
	case REC_DIR:
		r = rec_add(w, &w->meta, REC_DIR, NULL, 0);
		break;
	case REC_LINK:
		r = add_link(w);
		free(TAKE_PTR(w->link_target));
		break;
	default:
		if (!S_ISREG(w->meta.mode)) {
			r = rec_add_inode(w, &w->meta, w->inode);
			free(TAKE_PTR(w->inode));
			break;
		}
		uint32_t index = NO_FRAG, offset = 0;
		sqfs_inode_generic_t **inode = w->streaming ? &w->streaming->inode : &w->inode;

		if (w->streaming) {
			r = sqfs_block_processor_end_file(w->proc);
			/* The processor counted the blocks' bytes only. */
			if (r == 0)
				r = sqfs_inode_set_file_size(*inode, w->size);
			if (r != 0)
				return fail(w, r, "writing the image's data");
		}
		if (w->streaming) {
			sha256_digest(&w->sha, sizeof(w->streaming->digest), w->streaming->digest);
			r = share_blocks(w);
			if (r < 0)
				return r;
			if (r > 0 && w->tail_len > 0) {
				index = w->shared_frag;
				offset = w->shared_frag_offset;
				w->tail_len = 0;
				sqfs_inode_set_frag_location(*inode, index, offset);
			}
			r = 0;
		}
		if (w->tail_len > 0) {
			r = w->streaming ? add_tail(w, &index, &offset) : add_small_file(w, &index, &offset);
			if (r < 0)
				return r;
			sqfs_inode_set_frag_location(*inode, index, offset);
		}
		if (w->streaming) {
			w->streaming->meta = w->meta;
			w->meta = (Meta) { 0 };
			w->streaming = NULL;
		} else {
			r = rec_add_inode(w, &w->meta, w->inode);
			free(TAKE_PTR(w->inode));
		}
	}
	meta_clear(&w->meta);
	w->open = false;
	return r;
}

/* ---- pass 2: merging the runs ------------------------------------------- */

typedef struct Reader {
	uint64_t pos, end;   /* what is left of the run in the spill file */
	uint8_t *buf;
	size_t cap, start, fill;
	const Record *cur;   /* NULL at the run's end */
} Reader;

/* Make the next record current. */
static int reader_next(ImageWriter *w, Reader *rd)
{
	FdFile f;

	fdfile_init(&f, w->spill_fd);
	if (rd->cur)
		rd->start += rd->cur->len;
	rd->cur = NULL;
	for (;;) {
		size_t have = rd->fill - rd->start;

		if (have >= sizeof(Record)) {
			const Record *rec = (const Record *) (rd->buf + rd->start);

			if (rec->len < sizeof(Record) || rec->len % 8)
				return refuse(w, xstrdup("the image's sort file is corrupt"));
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
				return refuse(w, xstrdup("the image's sort file is truncated"));
			return 0;
		}
		memmove(rd->buf, rd->buf + rd->start, have);
		rd->start = 0;
		rd->fill = have;
		size_t k = rd->cap - rd->fill;
		if (k > rd->end - rd->pos)
			k = (size_t) (rd->end - rd->pos);
		if (fdfile_io(&f, false, rd->pos, rd->buf + rd->fill, k) != 0)
			return sys_fail(w, -f.io_errno, "reading the image's sort file");
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
		size_t l = 2 * i + 1, s = i;

		if (l < m->n_heap && heap_less(m, l, s))
			s = l;
		if (l + 1 < m->n_heap && heap_less(m, l + 1, s))
			s = l + 1;
		if (s == i)
			return;
		size_t t = m->heap[i];
		m->heap[i] = m->heap[s];
		m->heap[s] = t;
		i = s;
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

static int merger_open(ImageWriter *w, Merger *m, const Run *runs, size_t n)
{
	*m = (Merger) { .rd = xcalloc(n ? n : 1, sizeof(*m->rd)), .n = n, .heap = xcalloc(n ? n : 1, sizeof(size_t)),
			.last = -1 };
	for (size_t i = 0; i < n; i++) {
		Reader *rd = &m->rd[i];

		*rd = (Reader) { .pos = runs[i].off, .end = runs[i].off + runs[i].len, .buf = xmalloc(READ_BUF),
				 .cap = READ_BUF };
		int r = reader_next(w, rd);
		if (r < 0)
			return r;
		if (rd->cur) {
			m->heap[m->n_heap++] = i;
			heap_up(m, m->n_heap - 1);
		}
	}
	return 0;
}

/* The next record in order, valid until the next call; *RET NULL at the
 * end. */
static int merger_next(ImageWriter *w, Merger *m, const Record **ret)
{
	if (m->last >= 0) {
		Reader *rd = &m->rd[m->last];
		int r = reader_next(w, rd);

		if (r < 0)
			return r;
		if (rd->cur) {
			m->heap[0] = (size_t) m->last;
			heap_down(m, 0);
		} else {
			m->heap[0] = m->heap[--m->n_heap];
			heap_down(m, 0);
		}
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

/* Runs merged, MERGE_FANIN at a time, until no more than that are left. */
static int merge_down(ImageWriter *w)
{
	while (w->n_runs > MERGE_FANIN) {
		Merger m;
		const Record *rec;
		uint64_t start = w->spill_size;
		uint8_t *out = xmalloc(READ_BUF);
		size_t n = 0;
		int r = merger_open(w, &m, w->runs, MERGE_FANIN);

		while (r == 0 && (r = merger_next(w, &m, &rec)) == 0 && rec) {
			if (n + rec->len > READ_BUF && n > 0) {
				r = spill_write(w, out, n);
				n = 0;
			}
			if (r == 0 && rec->len > READ_BUF)
				r = spill_write(w, rec, rec->len);
			else if (r == 0) {
				memcpy(out + n, rec, rec->len);
				n += rec->len;
			}
		}
		if (r == 0 && n > 0)
			r = spill_write(w, out, n);
		free(out);
		merger_free(&m);
		if (r < 0)
			return r;
		memmove(w->runs, w->runs + MERGE_FANIN, (w->n_runs - MERGE_FANIN) * sizeof(*w->runs));
		w->n_runs -= MERGE_FANIN - 1;
		w->runs[w->n_runs - 1] = (Run) { start, w->spill_size - start };
	}
	return 0;
}

/* The stream's winners: of the records of one path, the last. */
typedef struct Winners {
	Merger m;
	Record *hold, *out;  /* the newest record of the current path; the one handed out */
	size_t hold_cap, out_cap;
	bool have;
} Winners;

static void copy_rec(Record **dst, size_t *cap, const Record *src)
{
	xgrow(dst, cap, src->len, 1);
	memcpy(*dst, src, src->len);
}

static int winners_next(ImageWriter *w, Winners *ws, const Record **ret)
{
	const Record *rec;
	int r;

	for (;;) {
		r = merger_next(w, &ws->m, &rec);
		if (r < 0)
			return r;
		if (!rec) {
			if (!ws->have) {
				*ret = NULL;
				return 0;
			}
			copy_rec(&ws->out, &ws->out_cap, ws->hold);
			ws->have = false;
			*ret = ws->out;
			return 0;
		}
		if (ws->have && path_cmp(rec_path(rec), rec->path_len, rec_path(ws->hold), ws->hold->path_len) != 0) {
			copy_rec(&ws->out, &ws->out_cap, ws->hold);
			copy_rec(&ws->hold, &ws->hold_cap, rec);
			*ret = ws->out;
			return 0;
		}
		copy_rec(&ws->hold, &ws->hold_cap, rec);
		ws->have = true;
	}
}

static void winners_free(Winners *ws)
{
	merger_free(&ws->m);
	free(ws->hold);
	free(ws->out);
}

/* ---- pass 2: the tables ------------------------------------------------- */

/* A NUL-terminated copy of REC's path (paths hold no NUL). */
static char *rec_path_dup(const Record *rec)
{
	char *p = xmalloc(rec->path_len + 1);

	memcpy(p, rec_path(rec), rec->path_len);
	p[rec->path_len] = '\0';
	return p;
}

/* Owners, mode, mtime, number and xattrs into INODE, then INODE into the
 * inode table: its reference in *REF. */
static int write_inode(ImageWriter *w, sqfs_inode_generic_t *inode, const Record *rec, uint32_t num, uint64_t *ref)
{
	sqfs_u64 block;
	sqfs_u32 offset;
	int r;

	inode->base.mode = (sqfs_u16) rec->mode;
	inode->base.mod_time = rec->mtime;
	inode->base.inode_number = num;
	r = sqfs_id_table_id_to_index(w->ids, rec->uid, &inode->base.uid_idx);
	if (r == 0)
		r = sqfs_id_table_id_to_index(w->ids, rec->gid, &inode->base.gid_idx);
	if (r == 0 && rec->xattr != NO_XATTR)
		r = sqfs_inode_set_xattr_index(inode, rec->xattr);
	if (r == 0) {
		sqfs_meta_writer_get_position(w->im, &block, &offset);
		*ref = (block << 16) | offset;
		r = sqfs_meta_writer_write_inode(w->im, inode);
	}
	return r != 0 ? fail(w, r, "writing the inode table") : 0;
}

/* REC_INODE's inode, with NLINK names. */
static int write_record_inode(ImageWriter *w, const Record *rec, uint32_t nlink, uint32_t num, uint64_t *ref)
{
	sqfs_inode_generic_t *inode = xmalloc(rec->body_len);
	int r;

	memcpy(inode, rec_body(rec), rec->body_len);
	inode->payload_bytes_available = inode->payload_bytes_used;
	if (nlink > 1) {
		switch (inode->base.type) {
		case SQFS_INODE_FILE:
		case SQFS_INODE_EXT_FILE:
			sqfs_inode_make_extended(inode);
			inode->data.file_ext.nlink = nlink;
			break;
		case SQFS_INODE_SLINK:
		case SQFS_INODE_EXT_SLINK:
			inode->data.slink.nlink = nlink;
			break;
		case SQFS_INODE_BDEV:
		case SQFS_INODE_CDEV:
			inode->data.dev.nlink = nlink;
			break;
		case SQFS_INODE_EXT_BDEV:
		case SQFS_INODE_EXT_CDEV:
			inode->data.dev_ext.nlink = nlink;
			break;
		case SQFS_INODE_FIFO:
		case SQFS_INODE_SOCKET:
			inode->data.ipc.nlink = nlink;
			break;
		default:
			inode->data.ipc_ext.nlink = nlink;
		}
	}
	r = write_inode(w, inode, rec, num, ref);
	free(inode);
	return r;
}

static int next_number(ImageWriter *w, uint32_t *num)
{
	if (w->n_inodes >= UINT32_MAX - 1)
		return refuse(w, xstrdup("too many inodes for a squashfs image"));
	*num = ++w->n_inodes;
	return 0;
}

/* The first walk: hard links' targets, numbered first. */
static int write_targets(ImageWriter *w)
{
	Winners ws = { 0 };
	const Record *rec;
	int r;

	if (w->targets.n == 0)
		return 0;
	r = merger_open(w, &ws.m, w->runs, w->n_runs);
	while (r == 0 && (r = winners_next(w, &ws, &rec)) == 0 && rec) {
		_cleanup_free_ char *path = rec_path_dup(rec);
		Target *t = strmap_get(&w->targets, path);

		if (!t)
			continue;
		if (rec->kind != REC_INODE) {
			r = refuse(w, xasprintf("'%s': hard links to a %s", path,
						rec->kind == REC_DIR ? "directory" : "hard link"));
			break;
		}
		r = next_number(w, &t->num);
		if (r == 0)
			r = write_record_inode(w, rec, 1 + t->links, t->num, &t->ref);
		t->mode = (uint16_t) rec->mode;
		t->written = true;
	}
	winners_free(&ws);
	if (r < 0)
		return r;
	for (size_t i = 0; i < w->targets.cap; i++) {
		const Target *t = w->targets.slots[i];

		if (t && !t->written)
			return refuse(w, xasprintf("a hard link to '%s', which the tarball does not have", t->path));
	}
	return 0;
}

typedef struct Child {
	char *name;
	uint64_t ref;
	uint32_t num;
	uint16_t mode;
} Child;

typedef struct OpenDir {
	char *path;          /* "" for the root */
	Record *rec;         /* its record; NULL: made up (0755 0:0, mtime 0) */
	uint32_t num, parent;
	Child *children;
	size_t n, cap, subdirs;
} OpenDir;

typedef struct Walk {
	OpenDir *stack;
	size_t depth, cap;
} Walk;

static void open_dir(Walk *wk, char *path, const Record *rec, uint32_t num, uint32_t parent)
{
	size_t cap = 0;

	xgrow(&wk->stack, &wk->cap, wk->depth + 1, sizeof(*wk->stack));
	OpenDir *d = &wk->stack[wk->depth++];
	*d = (OpenDir) { .path = path, .num = num, .parent = parent };
	if (rec)
		copy_rec(&d->rec, &cap, rec);
}

static void add_child(OpenDir *d, const char *name, size_t len, uint64_t ref, uint32_t num, uint16_t mode)
{
	xgrow(&d->children, &d->cap, d->n + 1, sizeof(*d->children));
	Child *c = &d->children[d->n++];
	c->name = xmalloc(len + 1);
	memcpy(c->name, name, len);
	c->name[len] = '\0';
	c->ref = ref;
	c->num = num;
	c->mode = mode;
	d->subdirs += S_ISDIR(mode);
}

static void opendir_free(OpenDir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->children[i].name);
	free(d->children);
	free(d->rec);
	free(d->path);
}

/* The deepest open directory's listing and inode: an entry of its parent
 * (the root's reference in *ROOT_REF). */
static int close_dir(ImageWriter *w, Walk *wk, uint64_t *root_ref)
{
	OpenDir *d = &wk->stack[wk->depth - 1];
	Record defaults = { .mode = S_IFDIR | 0755, .xattr = NO_XATTR };
	const Record *rec = d->rec ? d->rec : &defaults;
	sqfs_inode_generic_t *inode;
	uint64_t ref;
	int r;

	r = sqfs_dir_writer_begin(w->dirwr, 0);
	for (size_t i = 0; r == 0 && i < d->n; i++)
		r = sqfs_dir_writer_add_entry(w->dirwr, d->children[i].name, d->children[i].num, d->children[i].ref,
					      d->children[i].mode);
	if (r == 0)
		r = sqfs_dir_writer_end(w->dirwr);
	if (r != 0)
		return fail(w, r, "writing the directory table");
	/* The root's parent is one past the last inode, as mksquashfs has it. */
	inode = sqfs_dir_writer_create_inode(w->dirwr, 2 + d->subdirs, NO_XATTR,
					     wk->depth > 1 ? d->parent : w->n_inodes + 1);
	if (!inode)
		return fail(w, SQFS_ERROR_ALLOC, "writing the directory table");
	if (inode->base.type == SQFS_INODE_DIR)
		inode->data.dir.nlink = (sqfs_u32) (2 + d->subdirs);
	else
		inode->data.dir_ext.nlink = (sqfs_u32) (2 + d->subdirs);
	r = write_inode(w, inode, rec, d->num, &ref);
	free(inode);
	if (r < 0)
		return r;
	wk->depth--;
	if (wk->depth == 0)
		*root_ref = ref;
	else {
		const char *name = strrchr(d->path, '/');

		name = name ? name + 1 : d->path;
		add_child(&wk->stack[wk->depth - 1], name, strlen(name), ref, d->num, S_IFDIR);
	}
	opendir_free(d);
	return 0;
}

/* Is PATH (LEN bytes) below directory DIR? */
static bool is_below(const OpenDir *dir, const char *path, size_t len)
{
	size_t n = strlen(dir->path);

	if (n == 0)
		return len > 0;
	return len > n && path[n] == '/' && memcmp(path, dir->path, n) == 0;
}

/* A new entry NAME in D, after the last: a same name there is a file that
 * should have been a directory. */
static int check_name(ImageWriter *w, const OpenDir *d, const char *name, size_t len)
{
	if (d->n > 0 && strlen(d->children[d->n - 1].name) == len && memcmp(d->children[d->n - 1].name, name, len) == 0)
		return refuse(w, xasprintf("'%s%s%.*s': entries below something that is not a directory", d->path,
					   *d->path ? "/" : "", (int) len, name));
	return 0;
}

/* The second walk: everything, in path order. */
static int write_tree(ImageWriter *w, uint64_t *root_ref)
{
	Winners ws = { 0 };
	Walk wk = { 0 };
	const Record *rec;
	uint32_t num;
	int r;

	r = merger_open(w, &ws.m, w->runs, w->n_runs);
	if (r == 0)
		r = winners_next(w, &ws, &rec);
	if (r == 0 && rec && rec->path_len == 0 && rec->kind != REC_DIR)
		r = refuse(w, xstrdup("the tarball's root is not a directory"));
	if (r == 0)
		r = next_number(w, &num);
	if (r == 0) {
		bool root = rec && rec->path_len == 0;

		open_dir(&wk, xstrdup(""), root ? rec : NULL, num, 0);
		if (root)
			r = winners_next(w, &ws, &rec);
	}
	for (; r == 0 && rec; r = winners_next(w, &ws, &rec)) {
		const char *path = rec_path(rec), *name;
		size_t len = rec->path_len;
		uint64_t ref;
		OpenDir *top;

		while (r == 0 && !is_below(&wk.stack[wk.depth - 1], path, len))
			r = close_dir(w, &wk, root_ref);
		/* Directories the tarball does not list. */
		for (;;) {
			top = &wk.stack[wk.depth - 1];
			name = path + (*top->path ? strlen(top->path) + 1 : 0);
			const char *slash = memchr(name, '/', len - (size_t) (name - path));
			if (r < 0 || !slash)
				break;
			r = check_name(w, top, name, (size_t) (slash - name));
			if (r == 0)
				r = next_number(w, &num);
			if (r == 0) {
				char *p = xmalloc((size_t) (slash - path) + 1);
				memcpy(p, path, (size_t) (slash - path));
				p[slash - path] = '\0';
				open_dir(&wk, p, NULL, num, top->num);
			}
		}
		size_t name_len = len - (size_t) (name - path);
		if (r == 0)
			r = check_name(w, top, name, name_len);
		if (r < 0)
			break;

		if (rec->kind == REC_DIR) {
			r = next_number(w, &num);
			if (r == 0)
				open_dir(&wk, rec_path_dup(rec), rec, num, top->num);
			continue;
		}
		const Target *t = NULL;
		if (rec->kind == REC_LINK) {
			_cleanup_free_ char *target = xmalloc(rec->body_len + 1);

			memcpy(target, rec_body(rec), rec->body_len);
			target[rec->body_len] = '\0';
			t = strmap_get(&w->targets, target);
		} else if (w->targets.n > 0) {
			_cleanup_free_ char *p = rec_path_dup(rec);
			t = strmap_get(&w->targets, p);
		}
		if (t) {
			add_child(top, name, name_len, t->ref, t->num, t->mode);
			continue;
		}
		if (rec->kind == REC_LINK) {
			r = refuse(w, xstrdup("a hard link's target went missing"));
			break;
		}
		r = next_number(w, &num);
		if (r == 0)
			r = write_record_inode(w, rec, 1, num, &ref);
		if (r == 0)
			add_child(top, name, name_len, ref, num, (uint16_t) rec->mode);
	}
	while (r == 0 && wk.depth > 0)
		r = close_dir(w, &wk, root_ref);
	while (wk.depth > 0)
		opendir_free(&wk.stack[--wk.depth]);
	free(wk.stack);
	winners_free(&ws);
	return r;
}

/* The directory table, from its own file, to the image's end. */
static int append_dirs(ImageWriter *w)
{
	uint8_t *buf = xmalloc(256 << 10);
	int r = 0;

	for (uint64_t off = 0; r == 0 && off < w->dirs.size;) {
		size_t k = w->dirs.size - off < (256 << 10) ? (size_t) (w->dirs.size - off) : (256 << 10);

		r = fdfile_io(&w->dirs, false, off, buf, k);
		if (r == 0)
			r = w->file.base.write_at(&w->file.base, w->file.size, buf, k);
		off += k;
	}
	free(buf);
	return r != 0 ? fail(w, r, "writing the directory table") : 0;
}

int image_writer_finish(ImageWriter *w)
{
	uint64_t root_ref = 0;
	int r;

	if (w->failed)
		return -EIO;
	if (w->open)
		return refuse(w, xstrdup("the image was finished with an entry open"));
	if (w->frag_open) {
		r = sqfs_block_processor_submit_block(w->proc, &w->frag, SQFS_BLK_IGNORE_SPARSE, w->frag, w->frag_len);
		if (r != 0)
			return fail(w, r, "writing the image's data");
		w->frag_open = false;
	}
	r = sqfs_block_processor_finish(w->proc);
	if (r != 0)
		return fail(w, r, "writing the image's data");
	r = pending_flush(w);
	if (r == 0)
		r = run_flush(w);
	if (r == 0)
		r = merge_down(w);
	if (r < 0)
		return r;
	/* The runs' memory is not needed again. */
	free(TAKE_PTR(w->run));
	free(TAKE_PTR(w->offs));
	w->run_cap = w->cap_offs = 0;
	free(TAKE_PTR(w->dedup));
	for (size_t i = 0; i < BIG_SLOTS; i++)
		free(w->big[i].inode);
	free(TAKE_PTR(w->big));

	w->super.inode_table_start = w->file.size;
	r = write_targets(w);
	if (r == 0)
		r = write_tree(w, &root_ref);
	if (r < 0)
		return r;
	r = sqfs_meta_writer_flush(w->im);
	if (r == 0)
		r = sqfs_meta_writer_flush(w->dm);
	if (r != 0)
		return fail(w, r, "writing the inode table");
	w->super.root_inode_ref = root_ref;
	w->super.directory_table_start = w->file.size;
	r = append_dirs(w);
	if (r < 0)
		return r;
	r = sqfs_frag_table_write(w->frags, &w->file.base, &w->super, w->cmp);
	if (r != 0)
		return fail(w, r, "writing the fragment table");
	r = sqfs_id_table_write(w->ids, &w->file.base, &w->super, w->cmp);
	if (r != 0)
		return fail(w, r, "writing the id table");
	r = sqfs_xattr_writer_flush(w->xwr, &w->file.base, &w->super, w->cmp);
	if (r != 0)
		return fail(w, r, "writing the xattr tables");
	w->super.inode_count = w->n_inodes;
	w->super.bytes_used = w->file.size;
	r = sqfs_super_write(&w->super, &w->file.base);
	if (r != 0)
		return fail(w, r, "writing the superblock");
	r = fdfile_pad(&w->file);
	return r != 0 ? fail(w, r, "padding the image") : 0;
}

/* ---- life cycle --------------------------------------------------------- */

void image_writer_set_run_bytes(ImageWriter *w, size_t bytes)
{
	w->run_max = bytes;
}

void image_writer_free(ImageWriter *w)
{
	if (!w)
		return;
	/* The processor first: it may hold pointers into `pending`.  It
	 * would leak the blocks of a file still open or in flight: end the
	 * file and let them land (after a failure, they may still leak). */
	if (w->proc) {
		if (w->streaming)
			(void) sqfs_block_processor_end_file(w->proc);
		(void) sqfs_block_processor_sync(w->proc);
	}
	sqfs_destroy(w->proc);
	for (size_t i = 0; i < w->n_pending; i++) {
		free(w->pending[i].inode);
		meta_clear(&w->pending[i].meta);
	}
	sqfs_destroy(w->dirwr);
	sqfs_destroy(w->dm);
	sqfs_destroy(w->im);
	sqfs_destroy(w->xwr);
	sqfs_destroy(w->ids);
	sqfs_destroy(w->frags);
	sqfs_destroy(w->cmp);
	strmap_free(&w->links, link_free);
	strmap_free(&w->targets, target_free);
	meta_clear(&w->meta);
	free(w->link_target);
	free(w->inode);
	free(w->tail);
	free(w->frag);
	free(w->dedup);
	if (w->big)
		for (size_t i = 0; i < BIG_SLOTS; i++)
			free(w->big[i].inode);
	free(w->big);
	free(w->run);
	free(w->offs);
	free(w->runs);
	if (w->spill_fd >= 0)
		close(w->spill_fd);
	if (w->dirs_fd >= 0)
		close(w->dirs_fd);
	free(w->err);
	free(w);
}

/* An unlinked file in DIRFD, for our own use. */
static int open_scratch(int dirfd)
{
	int fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	return fd < 0 ? -errno : fd;
}

int image_writer_new(int fd, int spill_dirfd, const char *compressor, unsigned jobs, ImageWriter **ret,
		     char **ret_err)
{
	ImageWriter *w = xcalloc(1, sizeof(*w));
	sqfs_compressor_config_t cfg;
	sqfs_block_processor_desc_t desc;
	int id, r;

	fdfile_init(&w->file, fd);
	w->spill_fd = w->dirs_fd = -EBADF;
	w->run_max = RUN_BYTES;
	w->tail = xmalloc(BLOCK);
	w->frag = xmalloc(BLOCK);
	w->dedup = xcalloc(DEDUP_SLOTS, sizeof(*w->dedup));
	w->big = xcalloc(BIG_SLOTS, sizeof(*w->big));
	w->blkwr = (BlockWriter) {
		.base = {
			.base = { .destroy = bw_destroy, .copy = NULL },
			.write_data_block = bw_write,
			.get_block_count = bw_count,
		},
		.w = w,
	};

	r = open_scratch(spill_dirfd);
	if (r >= 0) {
		w->spill_fd = r;
		r = open_scratch(spill_dirfd);
	}
	if (r < 0) {
		sys_fail(w, r, "creating the image's work files");
		goto out;
	}
	w->dirs_fd = r;
	fdfile_init(&w->dirs, w->dirs_fd);

	id = sqfs_compressor_id_from_name(compressor);
	if (id < 0) {
		r = -EINVAL;
		w->err = xasprintf("'%s' is not a squashfs compressor this libsquashfs knows", compressor);
		goto out;
	}
	r = sqfs_compressor_config_init(&cfg, (SQFS_COMPRESSOR) id, BLOCK, 0);
	if (r == 0)
		r = sqfs_compressor_create(&cfg, &w->cmp);
	if (r != 0) {
		r = fail(w, r, "creating the compressor");
		goto out;
	}
	r = sqfs_super_init(&w->super, BLOCK, 0, (SQFS_COMPRESSOR) id);
	if (r == 0)
		r = sqfs_super_write(&w->super, &w->file.base);
	if (r != 0) {
		r = fail(w, r, "writing the superblock");
		goto out;
	}
	r = w->cmp->write_options(w->cmp, &w->file.base);
	if (r < 0) {
		r = fail(w, r, "writing the compressor options");
		goto out;
	}
	if (r > 0)
		w->super.flags |= SQFS_FLAG_COMPRESSOR_OPTIONS;

	w->frags = sqfs_frag_table_create(0);
	w->ids = sqfs_id_table_create(0);
	w->xwr = sqfs_xattr_writer_create(0);
	w->im = sqfs_meta_writer_create(&w->file.base, w->cmp, 0);
	w->dm = sqfs_meta_writer_create(&w->dirs.base, w->cmp, 0);
	w->dirwr = w->dm ? sqfs_dir_writer_create(w->dm, 0) : NULL;
	if (!w->frags || !w->ids || !w->xwr || !w->im || !w->dm || !w->dirwr) {
		r = fail(w, SQFS_ERROR_ALLOC, "creating the image writer");
		goto out;
	}

	memset(&desc, 0, sizeof(desc));
	desc.size = sizeof(desc);
	desc.max_block_size = BLOCK;
	desc.num_workers = jobs > 0 ? jobs : 1;
	desc.max_backlog = BACKLOG_PER_WORKER * desc.num_workers;
	desc.cmp = w->cmp;
	desc.wr = &w->blkwr.base;
	/* No fragment table and no file: the processor never sees a tail. */
	r = sqfs_block_processor_create_ex(&desc, &w->proc);
	if (r != 0) {
		r = fail(w, r, "creating the block processor");
		goto out;
	}
	*ret = w;
	return 0;
out:
	*ret_err = xstrdup(w->err ? w->err : "creating the image writer failed");
	image_writer_free(w);
	return r < 0 ? r : -EIO;
}
