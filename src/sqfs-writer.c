// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sqfs-writer.c - a squashfs image from an ordered walk (see sqfs-writer.h).
 *
 * Layout, as libsquashfs's own tools write it:
 *
 *   superblock | compressor options | data and fragment blocks |
 *   inode table | directory table | fragment table | id table | padding
 *
 * The block processor writes the data as it comes and fills each file's
 * inode (block sizes, fragment) from its worker threads' results; the
 * inodes are only ours again after sqfs_block_processor_finish().  The
 * tree of Nodes holds what the tables need until then: per entry its name,
 * mode, mtime and inode, and for a directory its children in order.
 */
#include "sqfs-writer.h"

#include "sqfs-file.h"
#include "util.h"

#include <errno.h>
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
#include <sqfs/io.h>
#include <sqfs/meta_writer.h>
#include <sqfs/super.h>

#define NO_XATTR 0xFFFFFFFFu

/* Files up to this size are held until their end, hashed and, when their
 * data was seen before, not written again (see Dedup). */
#define DEDUP_MAX (8u * SQFS_DEFAULT_BLOCK_SIZE)

/* ---- the tree ----------------------------------------------------------- */

struct Dedup;

typedef struct Node {
	char *name;                   /* NULL for the root */
	struct Node *parent;
	sqfs_inode_generic_t *inode;  /* file: the block processor's; symlink: ours */
	struct Dedup *same;           /* file of DEDUP_MAX or less: its data's entry */
	struct Node **children;       /* directory: in strcmp order */
	size_t n_children, cap_children;
	uint64_t inode_ref;           /* (metadata block << 16) | offset */
	uint32_t inode_num;
	uint32_t mtime;
	uint16_t mode;                /* S_IFMT | permission bits */
} Node;

/*
 * Whole-file deduplication.  A file of at most DEDUP_MAX bytes is buffered
 * until file_end; its SHA-256 and size are looked up in a table of the
 * data already given to the block processor.  A file seen before gets no
 * data of its own: at finish, it gets a copy of the first one's inode
 * (blocks and fragment), as mksquashfs and tar2sqfs share duplicate data.
 * The table owns that first inode once the block processor is done.
 * (libsquashfs alone deduplicates tails by a 32-bit hash checked against
 * the fragment block read back and decompressed, and full blocks only
 * after compressing them.)
 */
typedef struct Dedup {
	uint8_t digest[SHA256_DIGEST_SIZE];
	uint64_t size;
	Node *first;                  /* whose inode the processor fills */
	sqfs_inode_generic_t *inode;  /* taken from FIRST at finish */
} Dedup;

struct SqfsWriter {
	FdFile file;
	sqfs_compressor_t *cmp, *uncmp;
	sqfs_block_writer_t *blkwr;
	sqfs_frag_table_t *frags;
	sqfs_block_processor_t *proc;
	sqfs_id_table_t *ids;
	sqfs_meta_writer_t *im, *dm;  /* inode table; directory table (in memory) */
	sqfs_dir_writer_t *dirwr;
	sqfs_super_t super;
	Node root;
	Node *cur;                    /* the directory being walked */
	Node *open_file;              /* the file between begin and end, or NULL */
	bool streaming;               /* the open file went to the processor */
	uint8_t *pend;                /* its data so far, when not streaming */
	size_t pend_len, pend_cap;
	Dedup **dedup;                /* open addressing; cap a power of two */
	size_t n_dedup, cap_dedup;
	bool failed;
	uint32_t n_inodes;
	char *err;
};

static void node_free(Node *n)
{
	for (size_t i = 0; i < n->n_children; i++) {
		node_free(n->children[i]);
		free(n->children[i]);
	}
	free(n->children);
	free(n->inode);
	free(n->name);
}

/* Record a failure: libsquashfs's SQFS_ERROR_* code ERR while doing WHAT.
 * Returns -errno: the output's own error for an I/O failure. */
static int fail(SqfsWriter *w, int err, const char *what)
{
	int r = -EIO;

	w->failed = true;
	if (w->err)
		return r;
	return sqfs_error_describe(err, w->file.io_errno, what, &w->err);
}

const char *sqfs_writer_error(const SqfsWriter *w)
{
	return w ? w->err : NULL;
}

static uint32_t clamp_time(int64_t t)
{
	return t < 0 ? 0 : t > (int64_t) UINT32_MAX ? UINT32_MAX : (uint32_t) t;
}

/* A new child NAME of the current directory, after every earlier one. */
static int add_child(SqfsWriter *w, const char *name, uint16_t mode, int64_t mtime, Node **ret)
{
	Node *dir = w->cur, *n;

	if (w->failed)
		return -EIO;
	if (w->open_file) {
		w->failed = true;
		w->err = xstrdup("an entry was added while a file was open");
		return -EINVAL;
	}
	if (!name || !*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strlen(name) > 256) {
		w->failed = true;
		w->err = xasprintf("'%s' cannot name a squashfs directory entry", name ? name : "");
		return -EINVAL;
	}
	if (dir->n_children > 0 && strcmp(dir->children[dir->n_children - 1]->name, name) >= 0) {
		w->failed = true;
		w->err = xasprintf("'%s' comes after '%s': entries out of order", name,
				   dir->children[dir->n_children - 1]->name);
		return -EINVAL;
	}
	n = xcalloc(1, sizeof(*n));
	n->name = xstrdup(name);
	n->parent = dir;
	n->mode = mode;
	n->mtime = clamp_time(mtime);
	xgrow(&dir->children, &dir->cap_children, dir->n_children + 1, sizeof(*dir->children));
	dir->children[dir->n_children++] = n;
	*ret = n;
	return 0;
}

int sqfs_writer_dir_begin(SqfsWriter *w, const char *name, unsigned perm, int64_t mtime)
{
	Node *n;
	int r = add_child(w, name, (uint16_t) (S_IFDIR | (perm & 07777)), mtime, &n);

	if (r < 0)
		return r;
	w->cur = n;
	return 0;
}

int sqfs_writer_dir_end(SqfsWriter *w)
{
	if (w->failed)
		return -EIO;
	if (w->open_file || w->cur == &w->root) {
		w->failed = true;
		w->err = xstrdup("a directory was ended that was not begun");
		return -EINVAL;
	}
	w->cur = w->cur->parent;
	return 0;
}

int sqfs_writer_file_begin(SqfsWriter *w, const char *name, unsigned perm, int64_t mtime)
{
	Node *n;
	int r = add_child(w, name, (uint16_t) (S_IFREG | (perm & 07777)), mtime, &n);

	if (r < 0)
		return r;
	w->open_file = n;
	w->pend_len = 0;
	w->streaming = false;
	return 0;
}

/* Hand the open file to the block processor, starting with what is held. */
static int start_streaming(SqfsWriter *w)
{
	/* The processor keeps &file->inode: a Node never moves. */
	int r = sqfs_block_processor_begin_file(w->proc, &w->open_file->inode, NULL, 0);

	if (r == 0 && w->pend_len > 0)
		r = sqfs_block_processor_append(w->proc, w->pend, w->pend_len);
	if (r != 0)
		return fail(w, r, "writing the image");
	w->pend_len = 0;
	w->streaming = true;
	return 0;
}

int sqfs_writer_file_append(SqfsWriter *w, const void *data, size_t n)
{
	int r;

	if (w->failed)
		return -EIO;
	if (!w->open_file) {
		w->failed = true;
		w->err = xstrdup("file data outside a file");
		return -EINVAL;
	}
	if (!w->streaming && w->pend_len + n <= DEDUP_MAX) {
		xgrow(&w->pend, &w->pend_cap, w->pend_len + n, 1);
		memcpy(w->pend + w->pend_len, data, n);
		w->pend_len += n;
		return 0;
	}
	if (!w->streaming) {
		r = start_streaming(w);
		if (r < 0)
			return r;
	}
	r = sqfs_block_processor_append(w->proc, data, n);
	return r != 0 ? fail(w, r, "writing the image") : 0;
}

static size_t dedup_slot(const SqfsWriter *w, const uint8_t *digest, uint64_t size)
{
	uint64_t h;

	memcpy(&h, digest, sizeof(h));
	return (size_t) ((h ^ size) & (w->cap_dedup - 1));
}

/* The entry for DIGEST and SIZE, made (with FIRST) if there was none. */
static Dedup *dedup_find_or_add(SqfsWriter *w, const uint8_t *digest, uint64_t size, Node *first,
				bool *ret_found)
{
	Dedup *e;
	size_t i;

	if (2 * (w->n_dedup + 1) > w->cap_dedup) {
		size_t cap = w->cap_dedup ? 2 * w->cap_dedup : 1024;
		Dedup **old = w->dedup;
		size_t old_cap = w->cap_dedup;

		w->dedup = xcalloc(cap, sizeof(*w->dedup));
		w->cap_dedup = cap;
		for (size_t j = 0; j < old_cap; j++)
			if (old[j]) {
				for (i = dedup_slot(w, old[j]->digest, old[j]->size); w->dedup[i];
				     i = (i + 1) & (cap - 1))
					;
				w->dedup[i] = old[j];
			}
		free(old);
	}
	for (i = dedup_slot(w, digest, size); (e = w->dedup[i]); i = (i + 1) & (w->cap_dedup - 1))
		if (e->size == size && memcmp(e->digest, digest, sizeof(e->digest)) == 0) {
			*ret_found = true;
			return e;
		}
	e = xcalloc(1, sizeof(*e));
	memcpy(e->digest, digest, sizeof(e->digest));
	e->size = size;
	e->first = first;
	w->dedup[i] = e;
	w->n_dedup++;
	*ret_found = false;
	return e;
}

int sqfs_writer_file_end(SqfsWriter *w, const uint8_t *sha256)
{
	int r;

	if (w->failed)
		return -EIO;
	if (!w->open_file) {
		w->failed = true;
		w->err = xstrdup("a file was ended that was not begun");
		return -EINVAL;
	}
	if (!w->streaming) {
		uint8_t digest[SHA256_DIGEST_SIZE];
		bool found;

		if (!sha256) {
			struct sha256_ctx ctx;

			sha256_init(&ctx);
			sha256_update(&ctx, w->pend_len, w->pend);
			sha256_digest(&ctx, sizeof(digest), digest);
			sha256 = digest;
		}
		w->open_file->same = dedup_find_or_add(w, sha256, w->pend_len, w->open_file, &found);
		r = found ? 0 : start_streaming(w);
		if (found || r < 0) {
			w->open_file = NULL;
			return r;
		}
	}
	w->open_file = NULL;
	r = sqfs_block_processor_end_file(w->proc);
	return r != 0 ? fail(w, r, "writing the image") : 0;
}

int sqfs_writer_symlink(SqfsWriter *w, const char *name, const char *target, int64_t mtime)
{
	size_t len = target ? strlen(target) : 0;
	Node *n;
	int r;

	if (len == 0 || len > UINT16_MAX) {
		w->failed = true;
		w->err = xasprintf("symlink '%s': a target of %zu bytes", name ? name : "", len);
		return -EINVAL;
	}
	r = add_child(w, name, (uint16_t) (S_IFLNK | 0777), mtime, &n);
	if (r < 0)
		return r;
	n->inode = xcalloc(1, sizeof(*n->inode) + len);
	n->inode->base.type = SQFS_INODE_SLINK;
	n->inode->data.slink.nlink = 1;
	n->inode->data.slink.target_size = (sqfs_u32) len;
	n->inode->payload_bytes_available = (sqfs_u32) len;
	n->inode->payload_bytes_used = (sqfs_u32) len;
	memcpy(n->inode->extra, target, len);
	return 0;
}

/* ---- writing the tables ------------------------------------------------- */

/* tar2sqfs's numbering: below DIR, first what is below each subdirectory,
 * then DIR's own entries one after the other. */
static int number_inodes(SqfsWriter *w, Node *dir)
{
	for (size_t i = 0; i < dir->n_children; i++)
		if (S_ISDIR(dir->children[i]->mode) && number_inodes(w, dir->children[i]) < 0)
			return -EOVERFLOW;
	for (size_t i = 0; i < dir->n_children; i++) {
		if (w->n_inodes == UINT32_MAX)
			return -EOVERFLOW;
		dir->children[i]->inode_num = ++w->n_inodes;
	}
	return 0;
}

static int write_inode(SqfsWriter *w, Node *n)
{
	sqfs_inode_generic_t *inode;
	sqfs_u64 block;
	sqfs_u32 offset;
	int r;

	if (S_ISDIR(n->mode)) {
		size_t subdirs = 0;

		r = sqfs_dir_writer_begin(w->dirwr, 0);
		for (size_t i = 0; r == 0 && i < n->n_children; i++) {
			Node *c = n->children[i];

			subdirs += S_ISDIR(c->mode);
			r = sqfs_dir_writer_add_entry(w->dirwr, c->name, c->inode_num, c->inode_ref, c->mode);
		}
		if (r == 0)
			r = sqfs_dir_writer_end(w->dirwr);
		if (r != 0)
			return fail(w, r, "writing the directory table");
		inode = sqfs_dir_writer_create_inode(w->dirwr, 2 + subdirs, NO_XATTR,
						     n->parent ? n->parent->inode_num : 0);
		if (!inode)
			return fail(w, SQFS_ERROR_ALLOC, "writing the directory table");
		if (inode->base.type == SQFS_INODE_DIR)
			inode->data.dir.nlink = (sqfs_u32) (2 + subdirs);
		else
			inode->data.dir_ext.nlink = (sqfs_u32) (2 + subdirs);
	} else if (n->same) {
		const sqfs_inode_generic_t *first = n->same->inode;
		size_t size = sizeof(*first) + first->payload_bytes_available;

		inode = xmalloc(size);
		memcpy(inode, first, size);
	} else {
		inode = TAKE_PTR(n->inode);
		if (!inode)
			return fail(w, SQFS_ERROR_INTERNAL, "writing the inode table");
	}

	inode->base.mode = n->mode;
	inode->base.mod_time = n->mtime;
	inode->base.inode_number = n->inode_num;
	r = sqfs_id_table_id_to_index(w->ids, 0, &inode->base.uid_idx);
	if (r == 0)
		r = sqfs_id_table_id_to_index(w->ids, 0, &inode->base.gid_idx);
	if (r == 0) {
		sqfs_meta_writer_get_position(w->im, &block, &offset);
		n->inode_ref = (block << 16) | offset;
		r = sqfs_meta_writer_write_inode(w->im, inode);
	}
	free(inode);
	return r != 0 ? fail(w, r, "writing the inode table") : 0;
}

/* In the numbering's order: children before their directory. */
static int write_inodes(SqfsWriter *w, Node *dir)
{
	int r;

	for (size_t i = 0; i < dir->n_children; i++)
		if (S_ISDIR(dir->children[i]->mode)) {
			r = write_inodes(w, dir->children[i]);
			if (r < 0)
				return r;
		}
	for (size_t i = 0; i < dir->n_children; i++) {
		r = write_inode(w, dir->children[i]);
		if (r < 0)
			return r;
	}
	/* The subtrees are written: what is left of them is names. */
	for (size_t i = 0; i < dir->n_children; i++) {
		Node *c = dir->children[i];

		if (S_ISDIR(c->mode)) {
			for (size_t j = 0; j < c->n_children; j++) {
				node_free(c->children[j]);
				free(c->children[j]);
			}
			free(c->children);
			c->children = NULL;
			c->n_children = 0;
		}
	}
	return 0;
}

int sqfs_writer_finish(SqfsWriter *w)
{
	int r;

	if (w->failed)
		return -EIO;
	if (w->open_file || w->cur != &w->root) {
		w->failed = true;
		w->err = xstrdup("the image was finished inside an open directory or file");
		return -EINVAL;
	}

	r = sqfs_block_processor_finish(w->proc);
	if (r != 0)
		return fail(w, r, "writing the image's data");
	/* The inodes are ours again: shared data's goes to its entry. */
	for (size_t i = 0; i < w->cap_dedup; i++) {
		Dedup *e = w->dedup[i];

		if (e && !e->inode) {
			e->inode = TAKE_PTR(e->first->inode);
			if (!e->inode)
				return fail(w, SQFS_ERROR_INTERNAL, "writing the image's data");
		}
	}

	/* The root's own number comes last. */
	if (number_inodes(w, &w->root) < 0 || w->n_inodes == UINT32_MAX) {
		w->failed = true;
		w->err = xstrdup("too many inodes for a squashfs image");
		return -EOVERFLOW;
	}
	w->root.inode_num = ++w->n_inodes;

	w->super.inode_table_start = w->file.size;
	r = write_inodes(w, &w->root);
	if (r == 0)
		r = write_inode(w, &w->root);
	if (r < 0)
		return r;
	r = sqfs_meta_writer_flush(w->im);
	if (r == 0)
		r = sqfs_meta_writer_flush(w->dm);
	if (r != 0)
		return fail(w, r, "writing the inode table");
	w->super.root_inode_ref = w->root.inode_ref;
	w->super.directory_table_start = w->file.size;
	r = sqfs_meta_write_write_to_file(w->dm);
	if (r != 0)
		return fail(w, r, "writing the directory table");
	const char *what;
	r = fdfile_write_tail(&w->file, &w->super, w->cmp, w->frags, w->ids, NULL, w->n_inodes, &what);
	return r != 0 ? fail(w, r, what) : 0;
}

/* ---- life cycle --------------------------------------------------------- */

void sqfs_writer_free(SqfsWriter *w)
{
	if (!w)
		return;
	/* The processor first: it may still hold pointers into the tree. */
	sqfs_destroy(w->proc);
	sqfs_destroy(w->dirwr);
	sqfs_destroy(w->dm);
	sqfs_destroy(w->im);
	sqfs_destroy(w->ids);
	sqfs_destroy(w->frags);
	sqfs_destroy(w->blkwr);
	sqfs_destroy(w->uncmp);
	sqfs_destroy(w->cmp);
	node_free(&w->root);
	for (size_t i = 0; i < w->cap_dedup; i++)
		if (w->dedup[i]) {
			free(w->dedup[i]->inode);
			free(w->dedup[i]);
		}
	free(w->dedup);
	free(w->pend);
	free(w->err);
	free(w);
}

int sqfs_writer_new(int fd, const char *compressor, unsigned jobs, SqfsWriter **ret, char **ret_err)
{
	SqfsWriter *w = xcalloc(1, sizeof(*w));
	sqfs_compressor_config_t cfg;
	sqfs_block_processor_desc_t desc;
	int id, r;

	fdfile_init(&w->file, fd);
	w->root.mode = S_IFDIR | 0755;
	w->cur = &w->root;

	id = sqfs_compressor_id_from_name(compressor);
	if (id < 0) {
		*ret_err = xasprintf("'%s' is not a squashfs compressor this libsquashfs knows", compressor);
		sqfs_writer_free(w);
		return -EINVAL;
	}
	r = sqfs_compressor_config_init(&cfg, (SQFS_COMPRESSOR) id, SQFS_DEFAULT_BLOCK_SIZE, 0);
	if (r == 0)
		r = sqfs_compressor_create(&cfg, &w->cmp);
	if (r == 0) {
		cfg.flags |= SQFS_COMP_FLAG_UNCOMPRESS;
		r = sqfs_compressor_create(&cfg, &w->uncmp);
	}
	if (r != 0) {
		fail(w, r, "creating the compressor");
		goto out;
	}
	r = sqfs_super_init(&w->super, SQFS_DEFAULT_BLOCK_SIZE, 0, (SQFS_COMPRESSOR) id);
	if (r == 0)
		r = sqfs_super_write(&w->super, &w->file.base);
	if (r != 0) {
		fail(w, r, "writing the superblock");
		goto out;
	}
	r = w->cmp->write_options(w->cmp, &w->file.base);
	if (r < 0) {
		fail(w, r, "writing the compressor options");
		goto out;
	}
	if (r > 0)
		w->super.flags |= SQFS_FLAG_COMPRESSOR_OPTIONS;

	w->blkwr = sqfs_block_writer_create(&w->file.base, SQFS_DEVBLK_SIZE, 0);
	w->frags = sqfs_frag_table_create(0);
	w->ids = sqfs_id_table_create(0);
	w->im = sqfs_meta_writer_create(&w->file.base, w->cmp, 0);
	w->dm = sqfs_meta_writer_create(&w->file.base, w->cmp, SQFS_META_WRITER_KEEP_IN_MEMORY);
	w->dirwr = w->dm ? sqfs_dir_writer_create(w->dm, 0) : NULL;
	if (!w->blkwr || !w->frags || !w->ids || !w->im || !w->dm || !w->dirwr) {
		fail(w, SQFS_ERROR_ALLOC, "creating the image writer");
		goto out;
	}

	memset(&desc, 0, sizeof(desc));
	desc.size = sizeof(desc);
	desc.max_block_size = SQFS_DEFAULT_BLOCK_SIZE;
	desc.num_workers = jobs > 0 ? jobs : 1;
	/* tar2sqfs's 10 blocks per worker leaves the workers idle: every
	 * file's tail is a work item, and in-order completion holds them all
	 * behind one fragment block being compressed.  64 keeps them busy on
	 * a tree of small files (bench/snapshot.sh --repo: 5.1 s, 5.9 s with
	 * 10) for at most 64 x 128 KiB of blocks per worker. */
	desc.max_backlog = 64 * desc.num_workers;
	desc.cmp = w->cmp;
	desc.wr = w->blkwr;
	desc.tbl = w->frags;
	desc.file = &w->file.base;
	desc.uncmp = w->uncmp;
	r = sqfs_block_processor_create_ex(&desc, &w->proc);
	if (r != 0) {
		fail(w, r, "creating the block processor");
		goto out;
	}
	*ret = w;
	return 0;
out:
	*ret_err = xstrdup(w->err ? w->err : "creating the image writer failed");
	r = w->file.io_errno ? -w->file.io_errno : -EIO;
	sqfs_writer_free(w);
	return r;
}
