// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * image-tables.c - the image writer's pass 2 (see image-writer.c): the
 * sorted records walked in path order into the inode and directory
 * tables, then the other tables and the superblock.
 *
 * If there are hard links, a first walk writes the inodes of their
 * targets (numbered 1..H).  The second walk keeps a stack of open
 * directories, numbers inodes in path order (a directory before its
 * entries, so its parent's number is known when it is written), writes
 * each non-directory's inode as it comes and each directory's listing
 * (to the directory table's own file) and inode when the walk leaves it.
 * What it holds is the open directories' entry lists, never the tree.
 */
#include "image-writer-impl.h"

#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqfs/error.h>

/* A NUL-terminated copy of REC's path (paths hold no NUL). */
static char *rec_path_dup(const SortRec *rec)
{
	char *p = xmalloc(rec->path_len + 1);

	memcpy(p, sort_rec_path(rec), rec->path_len);
	p[rec->path_len] = '\0';
	return p;
}

/* Owners, mode, mtime, number and xattrs into INODE, then INODE into the
 * inode table: its reference in *REF. */
static int write_inode(ImageWriter *w, sqfs_inode_generic_t *inode, const RecHead *h, uint32_t num, uint64_t *ref)
{
	sqfs_u64 block;
	sqfs_u32 offset;
	int r;

	inode->base.mode = (sqfs_u16) h->mode;
	inode->base.mod_time = h->mtime;
	inode->base.inode_number = num;
	r = sqfs_id_table_id_to_index(w->ids, h->uid, &inode->base.uid_idx);
	if (r == 0)
		r = sqfs_id_table_id_to_index(w->ids, h->gid, &inode->base.gid_idx);
	if (r == 0 && h->xattr != NO_XATTR)
		r = sqfs_inode_set_xattr_index(inode, h->xattr);
	if (r == 0) {
		sqfs_meta_writer_get_position(w->im, &block, &offset);
		*ref = (block << 16) | offset;
		r = sqfs_meta_writer_write_inode(w->im, inode);
	}
	return r != 0 ? iw_fail(w, r, "writing the inode table") : 0;
}

/* REC_INODE's inode, with NLINK names. */
static int write_record_inode(ImageWriter *w, const SortRec *rec, uint32_t nlink, uint32_t num, uint64_t *ref)
{
	sqfs_inode_generic_t *inode;
	int r;

	if (rec->body_len < sizeof(*inode))
		return iw_refuse(w, xstrdup("the image's sort file is corrupt"));
	inode = xmalloc(rec->body_len);
	memcpy(inode, sort_rec_body(rec), rec->body_len);
	if (inode->payload_bytes_used > rec->body_len - sizeof(*inode)) {
		free(inode);
		return iw_refuse(w, xstrdup("the image's sort file is corrupt"));
	}
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
	r = write_inode(w, inode, head(rec), num, ref);
	free(inode);
	return r;
}

static int next_number(ImageWriter *w, uint32_t *num)
{
	if (w->n_inodes >= UINT32_MAX - 1)
		return iw_refuse(w, xstrdup("too many inodes for a squashfs image"));
	*num = ++w->n_inodes;
	return 0;
}

/* The first walk: hard links' targets, numbered first. */
static int write_targets(ImageWriter *w)
{
	SortWalk *wk = NULL;
	const SortRec *rec;
	int r;

	if (w->targets.n == 0)
		return 0;
	r = sorter_walk(w->sorter, &wk);
	while (r == 0 && (r = sorter_walk_next(wk, &rec)) == 0 && rec) {
		_cleanup_free_ char *path = rec_path_dup(rec);
		Target *t = iw_strmap_get(&w->targets, path);

		if (!t)
			continue;
		if (head(rec)->kind != REC_INODE) {
			r = iw_refuse(w, xasprintf("'%s': hard links to a %s", path,
						head(rec)->kind == REC_DIR ? "directory" : "hard link"));
			break;
		}
		r = next_number(w, &t->num);
		if (r == 0)
			r = write_record_inode(w, rec, 1 + t->links, t->num, &t->ref);
		t->mode = (uint16_t) head(rec)->mode;
		t->written = true;
	}
	sorter_walk_free(wk);
	if (r < 0)
		return w->err ? r : iw_sort_fail(w, r);
	for (size_t i = 0; i < w->targets.cap; i++) {
		const Target *t = w->targets.slots[i];

		if (t && !t->written)
			return iw_refuse(w, xasprintf("a hard link to '%s', which the tarball does not have", t->path));
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
	RecHead head;        /* made up: 0755 0:0, mtime 0 */
	uint32_t num, parent;
	Child *children;
	size_t n, cap, subdirs;
} OpenDir;

typedef struct Walk {
	OpenDir *stack;
	size_t depth, cap;
} Walk;

static void open_dir(Walk *wk, char *path, const SortRec *rec, uint32_t num, uint32_t parent)
{
	xgrow(&wk->stack, &wk->cap, wk->depth + 1, sizeof(*wk->stack));
	OpenDir *d = &wk->stack[wk->depth++];
	*d = (OpenDir) { .path = path, .num = num, .parent = parent,
			 .head = { .kind = REC_DIR, .mode = S_IFDIR | 0755, .xattr = NO_XATTR } };
	if (rec)
		d->head = *head(rec);
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
	free(d->path);
}

/* The deepest open directory's listing and inode: an entry of its parent
 * (the root's reference in *ROOT_REF). */
static int close_dir(ImageWriter *w, Walk *wk, uint64_t *root_ref)
{
	OpenDir *d = &wk->stack[wk->depth - 1];
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
		return iw_fail(w, r, "writing the directory table");
	/* The root's parent is one past the last inode, as mksquashfs has it. */
	inode = sqfs_dir_writer_create_inode(w->dirwr, 2 + d->subdirs, NO_XATTR,
					     wk->depth > 1 ? d->parent : w->n_inodes + 1);
	if (!inode)
		return iw_fail(w, SQFS_ERROR_ALLOC, "writing the directory table");
	if (inode->base.type == SQFS_INODE_DIR)
		inode->data.dir.nlink = (sqfs_u32) (2 + d->subdirs);
	else
		inode->data.dir_ext.nlink = (sqfs_u32) (2 + d->subdirs);
	r = write_inode(w, inode, &d->head, d->num, &ref);
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
		return iw_refuse(w, xasprintf("'%s%s%.*s': entries below something that is not a directory", d->path,
					   *d->path ? "/" : "", (int) len, name));
	return 0;
}

/* The second walk: everything, in path order. */
static int write_tree(ImageWriter *w, uint64_t *root_ref)
{
	SortWalk *sw = NULL;
	Walk wk = { 0 };
	const SortRec *rec = NULL;
	uint32_t num;
	int r;

	r = sorter_walk(w->sorter, &sw);
	if (r == 0)
		r = sorter_walk_next(sw, &rec);
	if (r == 0 && rec && rec->path_len == 0 && head(rec)->kind != REC_DIR)
		r = iw_refuse(w, xstrdup("the tarball's root is not a directory"));
	if (r == 0)
		r = next_number(w, &num);
	if (r == 0) {
		bool root = rec && rec->path_len == 0;

		open_dir(&wk, xstrdup(""), root ? rec : NULL, num, 0);
		if (root)
			r = sorter_walk_next(sw, &rec);
	}
	for (; r == 0 && rec; r = sorter_walk_next(sw, &rec)) {
		const char *path = sort_rec_path(rec), *name;
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

		if (head(rec)->kind == REC_DIR) {
			r = next_number(w, &num);
			if (r == 0)
				open_dir(&wk, rec_path_dup(rec), rec, num, top->num);
			continue;
		}
		const Target *t = NULL;
		if (head(rec)->kind == REC_LINK) {
			_cleanup_free_ char *target = xmalloc(rec->body_len + 1);

			memcpy(target, sort_rec_body(rec), rec->body_len);
			target[rec->body_len] = '\0';
			t = iw_strmap_get(&w->targets, target);
		} else if (w->targets.n > 0) {
			_cleanup_free_ char *p = rec_path_dup(rec);
			t = iw_strmap_get(&w->targets, p);
		}
		if (t) {
			add_child(top, name, name_len, t->ref, t->num, t->mode);
			continue;
		}
		if (head(rec)->kind == REC_LINK) {
			r = iw_refuse(w, xstrdup("a hard link's target went missing"));
			break;
		}
		r = next_number(w, &num);
		if (r == 0)
			r = write_record_inode(w, rec, 1, num, &ref);
		if (r == 0)
			add_child(top, name, name_len, ref, num, (uint16_t) head(rec)->mode);
	}
	while (r == 0 && wk.depth > 0)
		r = close_dir(w, &wk, root_ref);
	while (wk.depth > 0)
		opendir_free(&wk.stack[--wk.depth]);
	free(wk.stack);
	sorter_walk_free(sw);
	return r < 0 && !w->err ? iw_sort_fail(w, r) : r;
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
	return r != 0 ? iw_fail(w, r, "writing the directory table") : 0;
}

/* Everything added and final: the inode and directory tables, the
 * fragment, id and xattr tables, the superblock, the padding. */
int image_tables_write(ImageWriter *w)
{
	uint64_t root_ref = 0;
	int r;

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
		return iw_fail(w, r, "writing the inode table");
	w->super.root_inode_ref = root_ref;
	w->super.directory_table_start = w->file.size;
	r = append_dirs(w);
	if (r < 0)
		return r;
	const char *what;
	r = fdfile_write_tail(&w->file, &w->super, w->cmp, w->frags, w->ids, w->xwr, w->n_inodes, &what);
	return r != 0 ? iw_fail(w, r, what) : 0;
}
