// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pack.c - write a tree as a stage tarball with its CONTENTS.gz and DIGESTS.
 *
 * The tree is walked below ROOT_FD with openat/fdopendir, never following a
 * symlink (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW) and never descending into a
 * directory on another filesystem (the mount point itself is archived, as
 * GNU tar --one-file-system does).  Names are sorted bytewise so that the
 * output is stable.  Entry names are "./", "./bin/", "./bin/busybox": what
 * `tar -cpf stage3.tar -C root .` writes, as Gentoo's stage tarballs do.
 *
 * Format: pax (libarchive), as catalyst's `tar --xattrs
 * --xattrs-include=security.capability --xattrs-include=user.pax.flags
 * -cpf` writes it: numeric owners and, where the tree's own etc/passwd and
 * etc/group name them, owner names (contents.h); modes with
 * setuid/setgid/sticky, mtimes with nanoseconds, hardlinks (same st_dev
 * and st_ino: the second and later names become hardlink entries to the
 * first), symlinks, device nodes, FIFOs.  Sockets are skipped and counted
 * (GNU tar skips them too).  Of the extended attributes only
 * security.capability and user.pax.flags are kept, as "SCHILY.xattr.NAME"
 * pax records (the form GNU tar --xattrs reads and writes).
 *
 * The set is published by output.c (output.h states the protocol): every
 * file is written under its final name into a locked stage directory in
 * OUT_DIR_FD while the digests are computed on the bytes as they are
 * written, so nothing is read back; dirty pages are pushed to disk as the
 * tarball grows (sync_file_range) and each file is fsync'd; one rename
 * commits the set, which then rolls forward onto the stable names.  A
 * failed pack leaves the older set untouched.
 *
 * CONTENTS.gz is what catalyst stores: the `tar --xattrs -tvf` listing of
 * the tarball (contents.h has the format).
 *
 * DIGESTS is what catalyst's gen_digest_file() writes: for the tarball,
 * then for its CONTENTS.gz, and for each requested digest in turn:
 *
 *   # SHA512 HASH
 *   <hex>  stage3-....tar.xz
 *
 * (the name upper-cased as given).  With digest_format "bsd" the second
 * line of each pair is "SHA512 (stage3-....tar.xz) = <hex>" (what
 * `sha512sum --tag` prints), after the same "# SHA512 HASH" line.  The
 * .sha256 is the same pair of lines for the tarball and SHA256, so
 * `sha256sum -c` verifies it.  Both are written only when digests are
 * configured, as catalyst's gen_digest_file() does.
 */
#include <archive.h>
#include <archive_entry.h>
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "contents.h"
#include "output.h"
#include "pack-sink.h"
#include "pack-squashfs.h"
#include "pack.h"

/* File data is read in pieces of PACK_BUF_SIZE, and libarchive hands the
 * compressor PACK_BLOCK_SIZE at a time (the last block is not padded, so
 * the tarball's bytes do not depend on it).  They were 4 MiB and 1 MiB:
 * 5.1 MiB of peak RSS over the compressor alone (xz -6, one thread: +12.2
 * MiB, now +7.2; docs/performance.md) for no time. */
#define PACK_BUF_SIZE (256u << 10)
#define PACK_BLOCK_SIZE (64 << 10)
#define PACK_MAX_DEPTH 512

static const char *filter_name(PackCompression c)
{
	switch (c) {
	case PACK_NONE:
		return "none";
	case PACK_XZ:
		return "xz";
	case PACK_ZSTD:
		return "zstd";
	case PACK_GZIP:
		return "gzip";
	case PACK_BZIP2:
		return "bzip2";
	case PACK_LZIP:
		return "lzip";
	case PACK_LZMA:
		return "lzma";
	case PACK_LZOP:
		return "lzop";
	case PACK_SQUASHFS_XZ:
	case PACK_SQUASHFS_GZIP:
	case PACK_SQUASHFS_ZSTD:
		return "tar2sqfs";
	case _PACK_COMPRESSION_MAX:
		break;
	}
	return "?";
}

/* ---- the packer ---- */

typedef struct Link {
	dev_t dev;
	ino_t ino;
	char *path; /* archive name of the first occurrence */
} Link;

typedef struct Packer {
	const PackRequest *req;
	char *err;

	struct archive *tar;
	Sink tar_sink;
	Contents contents;

	dev_t root_dev;
	OwnerNames owners; /* the tree's own etc/passwd and etc/group */
	Link *links;       /* open addressing, cap a power of two */
	size_t n_links, cap_links;

	char *buf;
	uint64_t entries, bytes_in, sockets;
	uint64_t next_progress; /* bytes_in at which req->progress is called next */
} Packer;

_printf_(3, 4) static int fail(Packer *p, int r, const char *fmt, ...)
{
	va_list ap;
	char *m;

	if (p->err)
		return r;
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		die_oom();
	va_end(ap);
	p->err = m;
	return r;
}

_printf_(4, 5) static int fail_entry(Packer *p, int r, const char *path, const char *fmt, ...)
{
	int saved = errno; /* for %m */
	va_list ap;
	_cleanup_free_ char *m = NULL;
	_cleanup_free_ char *q = contents_quoted(path);

	if (p->err)
		return r;
	errno = saved;
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		die_oom();
	va_end(ap);
	return fail(p, r, "pack: entry '%s': %s", q, m);
}

/* A libarchive call on the tarball failed: the disk, the compressor or us. */
static int fail_tar(Packer *p, const char *path)
{
	const char *msg = archive_error_string(p->tar);
	int e = archive_errno(p->tar);

	if (!msg)
		msg = "unknown error";
	if (p->tar_sink.err)
		return fail(p, p->tar_sink.err, "pack: writing '%s': %s", p->tar_sink.f->final,
			    strerror(-p->tar_sink.err));
	if (path)
		return fail_entry(p, e > 0 ? -e : -EIO, path, "%s", msg);
	return fail(p, e > 0 ? -e : -EIO, "pack: compressor (%s): %s",
		    filter_name(p->req->compression), msg);
}

static size_t link_hash(dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)dev;

	return (size_t)(h ^ (h >> 29));
}

/* Return the archive name a (DEV, INO) was first seen under, or record PATH. */
static const char *link_find_or_add(Packer *p, dev_t dev, ino_t ino, const char *path)
{
	size_t mask, i;

	if ((p->n_links + 1) * 2 > p->cap_links) {
		size_t ncap = p->cap_links ? p->cap_links * 2 : 256;
		Link *nl = xcalloc(ncap, sizeof(*nl));

		for (size_t k = 0; k < p->cap_links; k++) {
			Link *l = &p->links[k];

			if (!l->path)
				continue;
			for (i = link_hash(l->dev, l->ino) & (ncap - 1); nl[i].path;
			     i = (i + 1) & (ncap - 1))
				;
			nl[i] = *l;
		}
		free(p->links);
		p->links = nl;
		p->cap_links = ncap;
	}
	mask = p->cap_links - 1;
	for (i = link_hash(dev, ino) & mask; p->links[i].path; i = (i + 1) & mask)
		if (p->links[i].dev == dev && p->links[i].ino == ino)
			return p->links[i].path;
	p->links[i] = (Link) { .dev = dev, .ino = ino, .path = xstrdup(path) };
	p->n_links++;
	return NULL;
}

/* ---- entries ---- */

/* The xattrs catalyst's tar keeps (pyDeComp's XATTRS_OPTIONS:
 * --xattrs-include=security.capability --xattrs-include=user.pax.flags). */
static bool xattr_kept(const char *name)
{
	return strcmp(name, "security.capability") == 0 || strcmp(name, "user.pax.flags") == 0;
}

/*
 * Add the kept extended attributes of an entry to AE: through FD if >= 0,
 * else through PATH without following a symlink in its last component.
 */
static int add_xattrs(Packer *p, struct archive_entry *ae, int fd, const char *path,
		      const char *name)
{
	_cleanup_free_ char *list = NULL;
	ssize_t n = 0;
	size_t cap = 1024;

	for (;;) {
		list = xrealloc(list, cap);
		n = fd >= 0 ? flistxattr(fd, list, cap) : llistxattr(path, list, cap);
		if (n >= 0)
			break;
		if (errno == ENOTSUP || errno == ENOSYS)
			return 0;
		if (errno != ERANGE || cap > (1u << 24))
			return fail_entry(p, -errno, name, "cannot list xattrs: %m");
		cap *= 4;
	}
	for (char *k = list; k < list + n; k += strlen(k) + 1) {
		_cleanup_free_ char *val = NULL;
		size_t vcap = 256;
		ssize_t v;

		if (!xattr_kept(k))
			continue;
		for (;;) {
			val = xrealloc(val, vcap);
			v = fd >= 0 ? fgetxattr(fd, k, val, vcap) : lgetxattr(path, k, val, vcap);
			if (v >= 0)
				break;
			if (errno == ENODATA)
				break; /* removed meanwhile */
			if (errno != ERANGE || vcap > (1u << 24))
				return fail_entry(p, -errno, name, "cannot read xattr '%s': %m", k);
			vcap *= 16;
		}
		if (v < 0)
			continue;
		archive_entry_xattr_add_entry(ae, k, val, (size_t)v);
	}
	return 0;
}

static int write_header(Packer *p, struct archive_entry *ae, const char *name)
{
	int r = archive_write_header(p->tar, ae);

	if (r < ARCHIVE_WARN)
		return fail_tar(p, name);
	return 0;
}

static int write_file_data(Packer *p, int fd, const struct stat *st, const char *name)
{
	uint64_t left = (uint64_t)st->st_size;

	while (left > 0) {
		size_t want = left < PACK_BUF_SIZE ? (size_t)left : PACK_BUF_SIZE;
		ssize_t n = read(fd, p->buf, want);
		la_ssize_t w;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return fail_entry(p, -errno, name, "%m");
		}
		if (n == 0)
			return fail_entry(p, -EIO, name, "file shrank while being packed");
		w = archive_write_data(p->tar, p->buf, (size_t)n);
		if (w < 0 || w != n)
			return fail_tar(p, name);
		left -= (uint64_t)n;
		p->bytes_in += (uint64_t)n;
		if (p->req->progress && p->bytes_in >= p->next_progress) {
			p->req->progress(p->bytes_in, p->tar_sink.bytes, p->req->note_userdata);
			p->next_progress = p->bytes_in + (1u << 20);
		}
	}
	return 0;
}

static int walk_dir(Packer *p, int dfd, Buf *path, int depth);

/*
 * Archive the entry NAME of the directory DFD (or the root itself when NAME
 * is NULL, with DFD the root); PATH holds its archive name.
 */
static int pack_entry(Packer *p, int dfd, const char *base, Buf *path, int depth)
{
	struct archive_entry *ae = NULL;
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *target = NULL;
	char proc[64 + NAME_MAX];
	const char *name = path->data, *hardlink = NULL, *uname, *gname;
	struct stat st;
	bool descend = false;
	int r;

	if (base) {
		if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return fail_entry(p, -errno, name, "%m");
	} else if (fstat(dfd, &st) < 0) {
		return fail_entry(p, -errno, name, "%m");
	}

	switch (st.st_mode & S_IFMT) {
	case S_IFSOCK:
		p->sockets++;
		return 0;
	case S_IFREG:
		fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd < 0)
			return fail_entry(p, -errno, name, "%m");
		if (fstat(fd, &st) < 0)
			return fail_entry(p, -errno, name, "%m");
		if (!S_ISREG(st.st_mode))
			return fail_entry(p, -EIO, name, "changed type while being packed");
		if (st.st_nlink > 1)
			hardlink = link_find_or_add(p, st.st_dev, st.st_ino, name);
		break;
	case S_IFDIR:
		if (base) {
			fd = openat(dfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				return fail_entry(p, -errno, name, "%m");
			if (fstat(fd, &st) < 0)
				return fail_entry(p, -errno, name, "%m");
		} else {
			fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0)
				return fail_entry(p, -errno, name, "%m");
		}
		/* A mount point is kept, the filesystem mounted there is not. */
		descend = st.st_dev == p->root_dev;
		break;
	case S_IFLNK: {
		size_t cap = (size_t)st.st_size + 1 > 256 ? (size_t)st.st_size + 1 : 256;

		for (;;) {
			ssize_t n;

			target = xrealloc(target, cap);
			n = readlinkat(dfd, base, target, cap);
			if (n < 0)
				return fail_entry(p, -errno, name, "%m");
			if ((size_t)n < cap) {
				target[n] = '\0';
				break;
			}
			cap *= 2;
		}
		break;
	}
	default: /* devices, FIFOs: never opened */
		if (st.st_nlink > 1)
			hardlink = link_find_or_add(p, st.st_dev, st.st_ino, name);
		break;
	}

	ae = archive_entry_new();
	if (!ae)
		die_oom();
	archive_entry_set_pathname(ae, name);
	archive_entry_set_mode(ae, st.st_mode);
	archive_entry_set_uid(ae, st.st_uid);
	archive_entry_set_gid(ae, st.st_gid);
	uname = owner_names_user(&p->owners, (unsigned)st.st_uid);
	gname = owner_names_group(&p->owners, (unsigned)st.st_gid);
	if (uname)
		archive_entry_set_uname(ae, uname);
	if (gname)
		archive_entry_set_gname(ae, gname);
	archive_entry_set_mtime(ae, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	archive_entry_set_size(ae, 0);
	if (hardlink) {
		archive_entry_set_hardlink(ae, hardlink);
	} else {
		if (S_ISREG(st.st_mode))
			archive_entry_set_size(ae, st.st_size);
		else if (S_ISLNK(st.st_mode))
			archive_entry_set_symlink(ae, target);
		else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
			archive_entry_set_rdev(ae, st.st_rdev);
		if (fd >= 0) {
			r = add_xattrs(p, ae, fd, NULL, name);
		} else {
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dfd, base);
			r = add_xattrs(p, ae, -EBADF, proc, name);
		}
		if (r < 0)
			goto out;
	}

	r = write_header(p, ae, name);
	if (r < 0)
		goto out;
	if (S_ISREG(st.st_mode) && !hardlink) {
		r = write_file_data(p, fd, &st, name);
		if (r < 0)
			goto out;
	}
	if (archive_write_finish_entry(p->tar) < ARCHIVE_WARN) {
		r = fail_tar(p, name);
		goto out;
	}
	p->entries++;
	/* An image's CONTENTS is unsquashfs's listing, made at the end. */
	if (!pack_compression_is_squashfs(p->req->compression)) {
		/* List the name the way tar -t shows it (directories end in '/'). */
		const char *listed = archive_entry_pathname(ae);

		_cleanup_free_ char *m = NULL;
		ContentsEntry ce = {
			.name = listed ? listed : name, .st = &st, .symlink = target,
			.hardlink = hardlink, .uname = uname, .gname = gname,
			.xattrs = archive_entry_xattr_count(ae) > 0,
		};

		r = contents_add(&p->contents, &ce, &m);
		if (r < 0) {
			fail(p, r, "%s", m);
			goto out;
		}
	}
	archive_entry_free(ae);
	ae = NULL;

	if (descend)
		return walk_dir(p, fd, path, depth + 1);
	return 0;
out:
	archive_entry_free(ae);
	return r;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Archive the content of the directory open at DFD, whose name is PATH. */
static int walk_dir(Packer *p, int dfd, Buf *path, int depth)
{
	char **names = NULL;
	size_t n = 0, cap = 0, len = path->len;
	DIR *d;
	int dup_fd, r = 0;

	if (depth > PACK_MAX_DEPTH)
		return fail_entry(p, -ELOOP, path->data, "directories nested too deeply");
	dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0)
		return fail_entry(p, -errno, path->data, "%m");
	d = fdopendir(dup_fd);
	if (!d) {
		r = -errno;
		close(dup_fd);
		return fail_entry(p, r, path->data, "%m");
	}
	for (;;) {
		struct dirent *de;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno) {
				r = fail_entry(p, -errno, path->data, "%m");
				goto out;
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		xgrow(&names, &cap, n + 1, sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);

	for (size_t i = 0; i < n; i++) {
		path->len = len;
		path->data[len] = '\0';
		if (len > 0 && path->data[len - 1] != '/')
			buf_putc(path, '/');
		buf_puts(path, names[i]);
		r = pack_entry(p, dfd, names[i], path, depth);
		if (r < 0)
			goto out;
	}
out:
	path->len = len;
	path->data[len] = '\0';
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return r;
}

/* ---- setting up the writers ---- */

static int set_filter_option(Packer *p, const char *filter, const char *key, const char *val,
			     bool required)
{
	int r = archive_write_set_filter_option(p->tar, filter, key, val);

	if (r == ARCHIVE_OK)
		return 0;
	if (!required && r == ARCHIVE_WARN)
		return 0; /* this libarchive does not know the option */
	return fail(p, -EINVAL, "pack: compressor (%s): option %s=%s: %s", filter, key, val,
		    archive_error_string(p->tar) ? archive_error_string(p->tar) : "refused");
}

static int tar_setup(Packer *p)
{
	const PackRequest *req = p->req;
	const char *fname = filter_name(req->compression);
	char num[32];
	int r = ARCHIVE_OK;

	p->tar = archive_write_new();
	if (!p->tar)
		die_oom();
	if (archive_write_set_format_pax(p->tar) < ARCHIVE_OK)
		return fail(p, -ENOTSUP, "pack: libarchive: %s", archive_error_string(p->tar));
	/* GNU tar's spelling of xattrs only (not also LIBARCHIVE.xattr.*). */
	if (archive_write_set_format_option(p->tar, "pax", "xattrheader", "SCHILY") < ARCHIVE_OK)
		return fail(p, -ENOTSUP, "pack: libarchive: %s", archive_error_string(p->tar));

	switch (req->compression) {
	case PACK_NONE:
	case PACK_SQUASHFS_XZ: /* a plain stream into tar2sqfs */
	case PACK_SQUASHFS_GZIP:
	case PACK_SQUASHFS_ZSTD:
		break;
	case PACK_LZIP:
		r = archive_write_add_filter_lzip(p->tar);
		break;
	case PACK_LZMA:
		r = archive_write_add_filter_lzma(p->tar);
		break;
	case PACK_LZOP:
		/* Without liblzo2, libarchive runs the lzop program (a warning). */
		r = archive_write_add_filter_lzop(p->tar);
		if (r == ARCHIVE_WARN)
			r = ARCHIVE_OK;
		break;
	case PACK_XZ:
		r = archive_write_add_filter_xz(p->tar);
		break;
	case PACK_ZSTD:
		r = archive_write_add_filter_zstd(p->tar);
		break;
	case PACK_GZIP:
		r = archive_write_add_filter_gzip(p->tar);
		break;
	case PACK_BZIP2:
		r = archive_write_add_filter_bzip2(p->tar);
		break;
	case _PACK_COMPRESSION_MAX:
		return fail(p, -EINVAL, "pack: unknown compression %d", (int)req->compression);
	}
	if (r < ARCHIVE_OK)
		return fail(p, -ENOTSUP, "pack: compressor (%s): %s", fname,
			    archive_error_string(p->tar));
	if (req->compression == PACK_GZIP) {
		/* Reproducible: no time stamp in the gzip header. */
		r = set_filter_option(p, "gzip", "timestamp", NULL, false);
		if (r < 0)
			return r;
	}
	if (pack_compression_is_squashfs(req->compression))
		goto open; /* level and threads are tar2sqfs's */
	if (req->level >= 0 && req->compression != PACK_NONE) {
		snprintf(num, sizeof(num), "%d", req->level);
		r = set_filter_option(p, fname, "compression-level", num, true);
		if (r < 0)
			return r;
	}
	if (req->threads > 0 && (req->compression == PACK_XZ || req->compression == PACK_ZSTD)) {
		snprintf(num, sizeof(num), "%d", req->threads);
		/* libarchive 3.6.2 has "threads" for xz and zstd; older ones may not. */
		r = set_filter_option(p, fname, "threads", num, false);
		if (r < 0)
			return r;
	}
open:
	if (archive_write_set_bytes_per_block(p->tar, PACK_BLOCK_SIZE) < ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(p->tar, 1) < ARCHIVE_OK)
		return fail(p, -EINVAL, "pack: libarchive: %s", archive_error_string(p->tar));
	if (archive_write_open2(p->tar, &p->tar_sink, NULL, sink_write, NULL, NULL) < ARCHIVE_OK)
		return fail_tar(p, NULL);
	return 0;
}

/* Close and free an archive writer; the compressor's last word is here. */
static int close_archive(struct archive **a)
{
	int r = 0;

	if (!*a)
		return 0;
	if (archive_write_close(*a) < ARCHIVE_WARN)
		r = -1;
	if (r == 0 && archive_write_free(*a) < ARCHIVE_WARN)
		r = -1;
	if (r == 0)
		*a = NULL;
	return r;
}

static void free_archive(struct archive **a, Sink *s)
{
	if (!*a)
		return;
	/*
	 * After a failure.  archive_write_free() alone would not end the
	 * compressor (its state leaks once the archive is in the FATAL
	 * state), so close it, with whatever it still flushes discarded.
	 */
	s->discard = true;
	archive_write_close(*a);
	archive_write_free(*a);
	*a = NULL;
}

static int sync_file(Packer *p, OutFile *f, const char *what)
{
	if (fsync(f->fd) < 0)
		return fail(p, -errno, "pack: %s: fsync '%s': %m", what, f->final);
	return 0;
}

/* Write the side file NAME of the stage from B, synced. */
static int write_side(Packer *p, int stage_fd, const char *name, const Buf *b, OutFile *f, const char *what)
{
	int r = out_open(stage_fd, name, f);

	if (r < 0)
		return fail(p, r, "pack: %s: creating '%s': %s", what, name, strerror(-r));
	r = write_all(f->fd, b->data ? b->data : "", b->len);
	if (r < 0)
		return fail(p, r, "pack: %s: writing '%s': %s", what, name, strerror(-r));
	return sync_file(p, f, what);
}

/* tar2sqfs stopped reading (a write met EPIPE): its own words say why. */
static void squashfs_explain(Packer *p, SquashfsWriter *sq, OutFile *pipe_f)
{
	_cleanup_free_ char *m = NULL;

	if (p->tar_sink.err != -EPIPE)
		return;
	closep(&pipe_f->fd);
	pipe_f->fd = -EBADF;
	if (squashfs_finish(sq, &m) < 0 && m) {
		free(p->err);
		p->err = TAKE_PTR(m);
	}
}

void pack_result_done(PackResult *r)
{
	if (!r)
		return;
	free(r->tarball);
	free(r->contents);
	free(r->digests);
	free(r->sha256);
	free(r->warning);
	*r = (PackResult) {};
}

int pack_tree(const PackRequest *req, PackResult *ret, char **ret_err)
{
	const EVP_MD *mds[PACK_MAX_DIGESTS];
	size_t n_md = 0, n_digests = 0;
	Packer p = { .req = req };
	OutFile tar_f = { .fd = -EBADF, .stage_fd = -EBADF }, con_f = { .fd = -EBADF, .stage_fd = -EBADF },
		dig_f = { .fd = -EBADF, .stage_fd = -EBADF }, sha_f = { .fd = -EBADF, .stage_fd = -EBADF };
	_cleanup_free_ char *tar_name = NULL, *con_name = NULL, *dig_name = NULL, *sha_name = NULL;
	_cleanup_free_ char *warn = NULL;
	OutFile pipe_f = OUT_FILE_INIT;
	SquashfsWriter sq = SQUASHFS_WRITER_INIT;
	_cleanup_close_ int img_fd = -EBADF;
	OutputStage stage = { .fd = -EBADF };
	Buf path = {}, dig = {}, sha = {}, listing = {};
	bool sqfs;
	size_t sha_i = SIZE_MAX;
	char **hex = NULL;
	const char *ext;
	bool bsd;
	struct stat st;
	int r;

	assert(req && ret && ret_err);
	*ret_err = NULL;
	sqfs = pack_compression_is_squashfs(req->compression);

	ext = pack_extension(req->compression);
	if (!ext) {
		r = fail(&p, -EINVAL, "pack: unknown compression %d", (int)req->compression);
		goto out;
	}
	if (!req->name || !*req->name || strchr(req->name, '/') || req->name[0] == '.') {
		r = fail(&p, -EINVAL, "pack: bad output name '%s'", req->name ? req->name : "");
		goto out;
	}
	tar_name = req->tarball ? xstrdup(req->tarball) : xasprintf("%s.%s", req->name, ext);
	if (!*tar_name || strchr(tar_name, '/') || tar_name[0] == '.' || strlen(tar_name) > 240) {
		r = fail(&p, -EINVAL, "pack: bad output name '%s'", tar_name);
		goto out;
	}
	for (size_t i = 0; output_side_suffixes[i]; i++) {
		size_t n = strlen(tar_name), m = strlen(output_side_suffixes[i]);

		if (n >= m && strcmp(tar_name + n - m, output_side_suffixes[i]) == 0) {
			r = fail(&p, -EINVAL, "pack: bad output name '%s': ends in '%s'", tar_name,
				 output_side_suffixes[i]);
			goto out;
		}
	}
	bsd = req->digest_format && strcmp(req->digest_format, "bsd") == 0;
	if (req->digest_format && !bsd && strcmp(req->digest_format, "linux") != 0) {
		r = fail(&p, -EINVAL, "pack: DIGESTS: unknown digest format '%s'",
			 req->digest_format);
		goto out;
	}
	for (char *const *d = req->digests; d && *d; d++) {
		if (n_md == PACK_MAX_DIGESTS) {
			r = fail(&p, -EINVAL, "pack: DIGESTS: too many digests");
			goto out;
		}
		mds[n_md] = digest_lookup(*d);
		if (!mds[n_md]) {
			r = fail(&p, -EINVAL, "pack: DIGESTS: unknown digest '%s'", *d);
			goto out;
		}
		if (strcmp(*d, "sha256") == 0)
			sha_i = n_md;
		n_md++;
	}
	/* catalyst writes the .sha256 beside DIGESTS, and neither when no
	 * digests are configured. */
	n_digests = n_md;
	if (n_md > 0 && sha_i == SIZE_MAX) {
		if (n_md == PACK_MAX_DIGESTS) {
			r = fail(&p, -EINVAL, "pack: DIGESTS: too many digests");
			goto out;
		}
		mds[n_md] = digest_lookup("sha256");
		sha_i = n_md++;
	}

	con_name = xasprintf("%s.CONTENTS.gz", tar_name);
	dig_name = xasprintf("%s.DIGESTS", tar_name);
	sha_name = xasprintf("%s.sha256", tar_name);

	if (fstat(req->root_fd, &st) < 0) {
		r = fail(&p, -errno, "pack: tree: %m");
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		r = fail(&p, -ENOTDIR, "pack: tree: %s", strerror(ENOTDIR));
		goto out;
	}
	p.root_dev = st.st_dev;
	owner_names_load(req->root_fd, &p.owners);
	if (sqfs && !squashfs_have("tar2sqfs")) {
		r = fail(&p, -ENOENT, "pack: a squashfs image needs tar2sqfs (squashfs-tools-ng), "
			 "which is not installed");
		goto out;
	}
	if (sqfs && !squashfs_have("unsquashfs")) {
		r = fail(&p, -ENOENT, "pack: CONTENTS of a squashfs image is `unsquashfs -ll`'s "
			 "listing, and unsquashfs (squashfs-tools) is not installed");
		goto out;
	}

	r = output_recover(req->out_dir_fd, req->note, req->note_userdata, &p.err);
	if (r < 0)
		goto out;
	r = output_stage_open(req->out_dir_fd, &stage, &p.err);
	if (r < 0)
		goto out;
	r = out_open(stage.fd, tar_name, &tar_f);
	if (r < 0) {
		r = fail(&p, r, "pack: creating '%s': %s", tar_name, strerror(-r));
		goto out;
	}
	r = out_open(stage.fd, con_name, &con_f);
	if (r < 0) {
		r = fail(&p, r, "pack: creating '%s': %s", con_name, strerror(-r));
		goto out;
	}
	if (sqfs) {
		/* The tar stream goes to tar2sqfs, which writes the image; the
		 * digests are taken on the image once it is whole. */
		pipe_f.final = xstrdup(tar_name);
		r = squashfs_start(req->compression, req->threads, req->level, tar_f.fd, &sq,
				   &pipe_f.fd, &p.err);
		if (r < 0)
			goto out;
		r = sink_open(&p.tar_sink, &pipe_f, NULL, 0);
	} else {
		r = sink_open(&p.tar_sink, &tar_f, mds, n_md);
	}
	if (r < 0) {
		r = fail(&p, -EINVAL, "pack: DIGESTS: cannot initialise the digests");
		goto out;
	}
	r = tar_setup(&p);
	if (r < 0)
		goto out;
	r = contents_open(&p.contents, &con_f, mds, n_md, &p.err);
	if (r < 0)
		goto out;

	p.buf = xmalloc(PACK_BUF_SIZE);
	buf_puts(&path, "./");
	r = pack_entry(&p, req->root_fd, NULL, &path, 0);
	if (r < 0)
		goto out;

	if (close_archive(&p.tar) < 0) {
		r = fail_tar(&p, NULL);
		goto out;
	}
	if (sqfs) {
		closep(&pipe_f.fd);
		pipe_f.fd = -EBADF;
		r = squashfs_finish(&sq, &p.err);
		if (r < 0)
			goto out;
		img_fd = openat(stage.fd, tar_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (img_fd < 0) {
			r = fail(&p, -errno, "pack: reading '%s': %m", tar_name);
			goto out;
		}
		sink_done(&p.tar_sink);
		r = sink_open(&p.tar_sink, &tar_f, mds, n_md);
		if (r >= 0)
			r = sink_hash_fd(&p.tar_sink, img_fd);
		if (r < 0) {
			r = fail(&p, r, "pack: reading '%s': %s", tar_name, strerror(-r));
			goto out;
		}
		r = squashfs_listing(img_fd, &listing, &p.err);
		if (r < 0)
			goto out;
		r = contents_add_raw(&p.contents, listing.data ? listing.data : "", listing.len,
				     &p.err);
		if (r < 0)
			goto out;
	}
	r = contents_close(&p.contents, &p.err);
	if (r < 0)
		goto out;

	/* DIGESTS and .sha256, from the digests taken while writing, as
	 * catalyst's gen_digest_file() writes them (bsd: "NAME (file) = hex"
	 * after the same "# NAME HASH" line). */
	hex = xcalloc(2 * n_md + 1, sizeof(*hex));
	for (size_t i = 0; i < n_md; i++) {
		hex[i] = xmalloc(2 * EVP_MAX_MD_SIZE + 1);
		hex[n_md + i] = xmalloc(2 * EVP_MAX_MD_SIZE + 1);
		if (sink_hex(&p.tar_sink, i, hex[i]) < 0 ||
		    sink_hex(&p.contents.sink, i, hex[n_md + i]) < 0) {
			r = fail(&p, -EINVAL, "pack: DIGESTS: digest failed");
			goto out;
		}
	}
	for (int file = 0; file < 2; file++) {
		const char *fn = file == 0 ? tar_name : con_name;

		for (size_t i = 0; i < n_digests; i++)
			digest_put(&dig, req->digests[i], fn, hex[file * n_md + i], bsd);
	}
	if (n_digests > 0) {
		digest_put(&sha, "sha256", tar_name, hex[sha_i], bsd);
		r = write_side(&p, stage.fd, dig_name, &dig, &dig_f, "DIGESTS");
		if (r < 0)
			goto out;
		r = write_side(&p, stage.fd, sha_name, &sha, &sha_f, "sha256");
		if (r < 0)
			goto out;
	}

	r = sync_file(&p, &con_f, "CONTENTS");
	if (r < 0)
		goto out;
	r = sync_file(&p, &tar_f, tar_name);
	if (r < 0)
		goto out;

	/* The whole set at once (output.h). */
	r = output_stage_commit(&stage, tar_name, &warn, &p.err);
	if (r < 0)
		goto out;

	*ret = (PackResult) {
		.tarball = TAKE_PTR(tar_name),
		.contents = TAKE_PTR(con_name),
		.digests = n_digests ? TAKE_PTR(dig_name) : NULL,
		.sha256 = n_digests ? TAKE_PTR(sha_name) : NULL,
		.warning = TAKE_PTR(warn),
		.entries = p.entries,
		.bytes_in = p.bytes_in,
		.bytes_out = p.tar_sink.bytes,
		.sockets = p.sockets,
	};
	r = 0;
out:
	free_archive(&p.tar, &p.tar_sink);
	if (r < 0 && sqfs)
		squashfs_explain(&p, &sq, &pipe_f);
	out_discard(&pipe_f);
	squashfs_abort(&sq);
	contents_done(&p.contents);
	out_discard(&tar_f);
	out_discard(&con_f);
	out_discard(&dig_f);
	out_discard(&sha_f);
	output_stage_abort(&stage);
	sink_done(&p.tar_sink);
	if (hex)
		for (size_t i = 0; i < 2 * n_md; i++)
			free(hex[i]);
	free(hex);
	for (size_t i = 0; i < p.cap_links; i++)
		free(p.links[i].path);
	free(p.links);
	owner_names_done(&p.owners);
	free(p.buf);
	buf_done(&path);
	buf_done(&dig);
	buf_done(&sha);
	buf_done(&listing);
	if (r < 0)
		*ret_err = p.err ? TAKE_PTR(p.err) : xasprintf("pack: %s", strerror(-r));
	free(p.err);
	return r;
}
