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
 * Pass 1 (begin/data/end, per entry; this file).  A regular file's full
 * blocks go to the block processor, which compresses them in its threads
 * and fills the file's inode (block sizes, start) as they are written, in
 * order; its tail, under one block, goes into the fragment block we are
 * packing, and that block to the processor as a plain block when full.  A
 * file with full blocks waits in `pending` until the processor is done
 * with it (sqfs_block_processor_sync() every PENDING_MAX such files);
 * every other entry's inode is final at once.  A final inode becomes a
 * record of the sorter (image-sort.h), keyed by its path.
 *
 * Deduplication.  A file under one block is looked up, by SHA-256 and
 * size, in a table of fixed size, and shares an earlier copy's fragment.
 * A file with blocks is hashed as it streams; if an earlier file (in the
 * table of BIG_SLOTS, or still pending) has its digest and size, the
 * processor is synced, the file's blocks -- the last thing written -- are
 * cut off the image again, and its inode points at the earlier blocks.
 *
 * Pass 2 (image_writer_finish(): image-tables.c) walks the records in path
 * order and writes the tables.
 */
#include "image-writer-impl.h"

#include "fs.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqfs/error.h>
#include <sqfs/xattr.h>

/* ---- failing ------------------------------------------------------------ */

/* libsquashfs's SQFS_ERROR_* code ERR while doing WHAT; -errno. */
int iw_fail(ImageWriter *w, int err, const char *what)
{
	int io = w->file.io_errno ? w->file.io_errno : w->dirs.io_errno;

	w->failed = true;
	if (w->err)
		return -EIO;
	return sqfs_error_describe(err, io, what, &w->err);
}

/* An entry (or a set of them) no image can hold: -EBADMSG. */
int iw_refuse(ImageWriter *w, char *why)
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

void *iw_strmap_get(const StrMap *m, const char *key)
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

/* ---- records ------------------------------------------------------------ */

/* The sorter failed with R: its words. */
int iw_sort_fail(ImageWriter *w, int r)
{
	w->failed = true;
	if (!w->err)
		w->err = xstrdup(sorter_error(w->sorter) ? sorter_error(w->sorter) : strerror(-r));
	return r;
}

/* A record of META, KIND and BODY. */
static int rec_add(ImageWriter *w, const Meta *m, int kind, const void *body, size_t body_len)
{
	RecHead h = { .kind = (uint32_t) kind, .mode = m->mode, .uid = m->uid, .gid = m->gid, .mtime = m->mtime,
		      .xattr = m->xattr };
	int r = sorter_add(w->sorter, m->path, strlen(m->path), m->seq, &h, sizeof(h), body, body_len);

	return r < 0 ? iw_sort_fail(w, r) : 0;
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
		return iw_fail(w, r, "writing the image's data");
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
		return iw_refuse(w, xstrdup("an entry began inside another"));
	w->meta.path = canonical(e->path ? e->path : "", &why);
	if (!w->meta.path)
		return iw_refuse(w, why);
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
			return iw_refuse(w, why);
		w->kind = REC_LINK;
		w->link_target = t;
		if (!*t || !*w->meta.path || strcmp(t, w->meta.path) == 0)
			return iw_refuse(w, xasprintf("'%s': a hard link to '%s'", e->path, e->hardlink));
		return 0;
	}
	if (!*w->meta.path && !S_ISDIR(e->mode))
		return iw_refuse(w, xasprintf("'%s': the root is not a directory", e->path));

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
		return r != 0 ? iw_fail(w, r, "writing the image's data") : 0;
	case S_IFLNK: {
		size_t len = e->symlink ? strlen(e->symlink) : 0;

		if (len == 0 || len > UINT16_MAX)
			return iw_refuse(w, xasprintf("'%s': a symlink to a target of %zu bytes", e->path, len));
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
			return iw_refuse(w, xasprintf("'%s': a device number too big for squashfs", e->path));
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
		return iw_refuse(w, xasprintf("'%s': an entry of unknown type (mode %o)", e->path, (unsigned) e->mode));
	}
}

int image_writer_xattr(ImageWriter *w, const char *key, const void *value, size_t size)
{
	int r;

	if (w->failed)
		return -EIO;
	if (!w->open || w->pos > 0)
		return iw_refuse(w, xstrdup("an xattr outside an entry's header"));
	if (sqfs_get_xattr_prefix_id(key) < 0)
		return iw_refuse(w, xasprintf("'%s': squashfs cannot store the xattr '%s' (only user., trusted., "
					   "security.)", w->meta.path, key));
	if (!w->xattr_open) {
		r = sqfs_xattr_writer_begin(w->xwr, 0);
		if (r != 0)
			return iw_fail(w, r, "an xattr");
		w->xattr_open = true;
	}
	r = sqfs_xattr_writer_add(w->xwr, key, value, size);
	return r != 0 ? iw_fail(w, r, "an xattr") : 0;
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
				return iw_fail(w, r, "writing the image's data");
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
		return iw_refuse(w, xstrdup("file data outside a regular file"));
	if (offset < w->pos || offset > w->size || n > w->size - offset)
		return iw_refuse(w, xasprintf("'%s': data at %llu..%llu of a file of %llu bytes", w->meta.path,
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
			return iw_fail(w, r, "writing the image's data");
		w->frag_open = false;
	}
	if (!w->frag_open) {
		r = sqfs_frag_table_append(w->frags, 0, 0, &w->frag_index);
		if (r != 0)
			return iw_fail(w, r, "writing the image's data");
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
/* The earlier file with CUR's data (digest and size): in the table, or
 * still pending; NULL if none.  The processor may move a pending one's
 * inode: look again after a sync. */
static const sqfs_inode_generic_t *earlier_copy(ImageWriter *w, const Pending *cur)
{
	const BigDedup *b = big_slot(w, cur->digest);
	uint64_t size;

	if (b->inode && b->size == w->size && memcmp(b->digest, cur->digest, sizeof(b->digest)) == 0)
		return b->inode;
	for (size_t i = 0; i + 1 < w->n_pending; i++)
		if (!w->pending[i].shared && memcmp(w->pending[i].digest, cur->digest, sizeof(cur->digest)) == 0 &&
		    sqfs_inode_get_file_size(w->pending[i].inode, &size) == 0 && size == w->size)
			return w->pending[i].inode;
	return NULL;
}

static int share_blocks(ImageWriter *w)
{
	Pending *cur = w->streaming;
	const sqfs_inode_generic_t *first;
	uint64_t start = 0, len = 0;
	int r;

	if (!earlier_copy(w, cur))
		return 0;
	r = sqfs_block_processor_sync(w->proc);
	if (r != 0)
		return iw_fail(w, r, "writing the image's data");
	/* Both inodes are final now. */
	first = earlier_copy(w, cur);
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
		return iw_fail(w, r, "writing the image's data");
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
	Link *l = iw_strmap_get(&w->links, w->link_target);
	const char *t = l ? l->target : w->link_target;
	Target *tg;

	if (iw_strmap_get(&w->links, w->meta.path))
		return iw_refuse(w, xasprintf("'%s': a hard link given twice", w->meta.path));
	if (strcmp(t, w->meta.path) == 0)
		return iw_refuse(w, xasprintf("'%s': a hard link to itself", w->meta.path));
	l = xmalloc(sizeof(*l));
	l->path = xstrdup(w->meta.path);
	l->target = xstrdup(t);
	strmap_put(&w->links, l);
	tg = iw_strmap_get(&w->targets, l->target);
	if (!tg) {
		tg = xcalloc(1, sizeof(*tg));
		tg->path = xstrdup(l->target);
		strmap_put(&w->targets, tg);
	}
	if (tg->links == UINT32_MAX - 2)
		return iw_refuse(w, xasprintf("'%s': too many hard links", tg->path));
	tg->links++;
	return rec_add(w, &w->meta, REC_LINK, l->target, strlen(l->target));
}

int image_writer_end(ImageWriter *w)
{
	int r = 0;

	if (w->failed)
		return -EIO;
	if (!w->open)
		return iw_refuse(w, xstrdup("an entry ended that did not begin"));
	if (w->xattr_open) {
		r = sqfs_xattr_writer_end(w->xwr, &w->meta.xattr);
		if (r != 0)
			return iw_fail(w, r, "an xattr");
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
				return iw_fail(w, r, "writing the image's data");
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

int image_writer_finish(ImageWriter *w)
{
	int r;

	if (w->failed)
		return -EIO;
	if (w->open)
		return iw_refuse(w, xstrdup("the image was finished with an entry open"));
	if (w->frag_open) {
		r = sqfs_block_processor_submit_block(w->proc, &w->frag, SQFS_BLK_IGNORE_SPARSE, w->frag, w->frag_len);
		if (r != 0)
			return iw_fail(w, r, "writing the image's data");
		w->frag_open = false;
	}
	r = sqfs_block_processor_finish(w->proc);
	if (r != 0)
		return iw_fail(w, r, "writing the image's data");
	r = pending_flush(w);
	if (r < 0)
		return r;
	r = sorter_finish(w->sorter);
	if (r < 0)
		return iw_sort_fail(w, r);
	/* Not needed again. */
	free(TAKE_PTR(w->dedup));
	for (size_t i = 0; i < BIG_SLOTS; i++)
		free(w->big[i].inode);
	free(TAKE_PTR(w->big));

	return image_tables_write(w);
}

/* ---- life cycle --------------------------------------------------------- */

void image_writer_set_run_bytes(ImageWriter *w, size_t bytes)
{
	sorter_set_run_bytes(w->sorter, bytes);
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
	sorter_free(w->sorter);
	if (w->dirs_fd >= 0)
		close(w->dirs_fd);
	free(w->err);
	free(w);
}

int image_writer_new(int fd, int spill_dirfd, const char *compressor, unsigned jobs, ImageWriter **ret,
		     char **ret_err)
{
	ImageWriter *w = xcalloc(1, sizeof(*w));
	sqfs_compressor_config_t cfg;
	sqfs_block_processor_desc_t desc;
	int id, r;

	fdfile_init(&w->file, fd);
	w->dirs_fd = -EBADF;
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

	r = sorter_new(spill_dirfd, &w->sorter, &w->err);
	if (r < 0) {
		w->failed = true;
		goto out;
	}
	r = open_unlinked(spill_dirfd);
	if (r < 0) {
		sys_fail(w, r, "creating the image's directory table file");
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
		r = iw_fail(w, r, "creating the compressor");
		goto out;
	}
	r = sqfs_super_init(&w->super, BLOCK, 0, (SQFS_COMPRESSOR) id);
	if (r == 0)
		r = sqfs_super_write(&w->super, &w->file.base);
	if (r != 0) {
		r = iw_fail(w, r, "writing the superblock");
		goto out;
	}
	r = w->cmp->write_options(w->cmp, &w->file.base);
	if (r < 0) {
		r = iw_fail(w, r, "writing the compressor options");
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
		r = iw_fail(w, SQFS_ERROR_ALLOC, "creating the image writer");
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
		r = iw_fail(w, r, "creating the block processor");
		goto out;
	}
	*ret = w;
	return 0;
out:
	*ret_err = xstrdup(w->err ? w->err : "creating the image writer failed");
	image_writer_free(w);
	return r < 0 ? r : -EIO;
}
