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
 * Format: pax (libarchive), numeric owners only (no uname/gname), modes
 * with setuid/setgid/sticky, mtimes with nanoseconds, hardlinks (same
 * st_dev and st_ino: the second and later names become hardlink entries to
 * the first), symlinks, device nodes, FIFOs.  Sockets are skipped and
 * counted (GNU tar skips them too).  Extended attributes are stored as
 * "SCHILY.xattr.NAME" pax records, the form GNU tar --xattrs reads and
 * writes; security.capability and user.pax.flags are kept like any other
 * (trusted.overlay.* is overlayfs' private state and is left out).
 *
 * The set is published by output.c (output.h states the protocol): every
 * file is written under its final name into a locked stage directory in
 * OUT_DIR_FD while the digests are computed on the bytes as they are
 * written, so nothing is read back; dirty pages are pushed to disk as the
 * tarball grows (sync_file_range) and each file is fsync'd; one rename
 * commits the set, which then rolls forward onto the stable names.  A
 * failed pack leaves the older set untouched.
 *
 * CONTENTS (gzip'd) is the listing `tar -tvf` prints, with numeric owners
 * and times in UTC, one line per entry in archive order:
 *
 *   drwxr-xr-x 0/0               0 2024-05-01 12:00 ./
 *   -rwsr-xr-x 0/0          811312 2024-05-01 12:00 ./bin/su
 *   lrwxrwxrwx 0/0               0 2024-05-01 12:00 ./bin/sh -> busybox
 *   hrwxr-xr-x 0/0               0 2024-05-01 12:00 ./bin/ls link to ./bin/busybox
 *   crw-rw-rw- 0/0             1,3 2024-05-01 12:00 ./dev/null
 *
 * i.e. "MODE UID/GID SIZE YYYY-MM-DD HH:MM NAME": MODE is ls-style with 'h'
 * for a hardlink; SIZE is "MAJOR,MINOR" for device nodes; the "UID/GID
 * SIZE" field is right-aligned to a width that starts at 19 and only grows
 * (GNU tar's rule); in NAME, a backslash and control characters are written
 * as "\\", "\n", "\t" or "\ooo".
 *
 * DIGESTS is what catalyst's gen_digest_file() writes: for the tarball,
 * then for its CONTENTS.gz, and for each requested digest in turn:
 *
 *   # SHA512 HASH
 *   <hex>  stage3-....tar.xz
 *
 * (the name upper-cased as given).  With digest_format "bsd" each pair of
 * lines is instead one line "SHA512 (stage3-....tar.xz) = <hex>", as
 * `sha512sum --tag` prints.
 */
#include <archive.h>
#include <archive_entry.h>
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>

#include "output.h"
#include "pack.h"

#define PACK_BUF_SIZE (4u << 20)
#define PACK_BLOCK_SIZE (1 << 20)
#define PACK_SYNC_STEP (UINT64_C(32) << 20)
#define PACK_MAX_DEPTH 512
#define PACK_MAX_DIGESTS 16

/* ---- compression ---- */

int pack_compression_from_mode(const char *mode, PackCompression *ret, int *ret_threads)
{
	static const struct {
		const char *mode;
		PackCompression c;
		bool threaded;
	} table[] = {
		{ "xz", PACK_XZ, false },          { "xz_x", PACK_XZ, false },
		{ "pixz", PACK_XZ, true },         { "pixz_i", PACK_XZ, true },
		{ "pixz_x", PACK_XZ, true },       { "zstd", PACK_ZSTD, false },
		{ "zstd_x", PACK_ZSTD, false },    { "pzstd", PACK_ZSTD, true },
		{ "pzstd_x", PACK_ZSTD, true },    { "gzip", PACK_GZIP, false },
		{ "gzip_x", PACK_GZIP, false },    { "pigz", PACK_GZIP, false },
		{ "pigz_x", PACK_GZIP, false },    { "bzip2", PACK_BZIP2, false },
		{ "bzip2_x", PACK_BZIP2, false },  { "lbzip2", PACK_BZIP2, false },
		{ "lbzip2_x", PACK_BZIP2, false }, { "tar", PACK_NONE, false },
		{ "tar_x", PACK_NONE, false },
	};

	if (!mode)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(table); i++) {
		if (strcmp(mode, table[i].mode) != 0)
			continue;
		if (ret)
			*ret = table[i].c;
		if (ret_threads) {
			long n = table[i].threaded ? sysconf(_SC_NPROCESSORS_ONLN) : 0;
			*ret_threads = n > 0 ? (int)n : 0;
		}
		return 0;
	}
	return -EINVAL;
}

const char *pack_extension(PackCompression c)
{
	switch (c) {
	case PACK_NONE:
		return "tar";
	case PACK_XZ:
		return "tar.xz";
	case PACK_ZSTD:
		return "tar.zst";
	case PACK_GZIP:
		return "tar.gz";
	case PACK_BZIP2:
		return "tar.bz2";
	case _PACK_COMPRESSION_MAX:
		break;
	}
	return NULL;
}

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
	case _PACK_COMPRESSION_MAX:
		break;
	}
	return "?";
}

/* ---- digests ---- */

static const EVP_MD *digest_lookup(const char *name)
{
	char evp[64];
	size_t n = strlen(name);

	if (strcmp(name, "blake2b") == 0)
		return EVP_blake2b512();
	if (strcmp(name, "blake2s") == 0)
		return EVP_blake2s256();
	if (strcmp(name, "sha512") == 0)
		return EVP_sha512();
	if (n == 0 || n >= sizeof(evp))
		return NULL;
	/* hashlib spells "sha3_256" what OpenSSL calls "sha3-256". */
	for (size_t i = 0; i <= n; i++)
		evp[i] = name[i] == '_' ? '-' : name[i];
	return EVP_get_digestbyname(evp);
}

/* ---- output files ---- */

/* A file of the output set, made under its final name in the stage
 * directory (see output.h); only the stage's commit makes it visible. */
typedef struct OutFile {
	int fd;
	int stage_fd; /* where it was made, -EBADF before */
	char *final;  /* name in the stage and, once committed, in the output directory */
} OutFile;

static int out_open(int stage_fd, const char *final, OutFile *f)
{
	*f = (OutFile) { .fd = -EBADF, .stage_fd = -EBADF, .final = xstrdup(final) };
	f->fd = openat(stage_fd, final, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (f->fd < 0)
		return -errno;
	f->stage_fd = stage_fd;
	if (fchmod(f->fd, 0644) < 0)
		return -errno;
	return 0;
}

/* Close F and forget it (the stage's abort removes the file). */
static void out_discard(OutFile *f)
{
	int saved = errno;

	if (f->fd >= 0)
		close(f->fd);
	free(f->final);
	*f = (OutFile) { .fd = -EBADF, .stage_fd = -EBADF };
	errno = saved;
}

/* ---- a hashing sink for libarchive ---- */

typedef struct Sink {
	OutFile *f;
	EVP_MD_CTX *ctx[PACK_MAX_DIGESTS];
	size_t n_ctx;
	uint64_t bytes;
	uint64_t synced;
	int err; /* -errno of the first write failure */
	bool discard; /* after a failure: swallow what libarchive still flushes */
} Sink;

static la_ssize_t sink_write(struct archive *a, void *userdata, const void *buf, size_t n)
{
	Sink *s = userdata;
	int r;

	if (s->discard)
		return (la_ssize_t)n;
	r = write_all(s->f->fd, buf, n);
	if (r < 0) {
		if (!s->err)
			s->err = r;
		archive_set_error(a, -r, "%s", strerror(-r));
		return -1;
	}
	for (size_t i = 0; i < s->n_ctx; i++)
		if (EVP_DigestUpdate(s->ctx[i], buf, n) != 1) {
			if (!s->err)
				s->err = -ENOMEM;
			archive_set_error(a, ENOMEM, "digest update failed");
			return -1;
		}
	s->bytes += n;
	/* Start writeback early, so that the final fsync has little to do. */
	if (s->bytes - s->synced >= PACK_SYNC_STEP) {
		(void)sync_file_range(s->f->fd, (off64_t)s->synced, (off64_t)(s->bytes - s->synced),
				      SYNC_FILE_RANGE_WRITE);
		s->synced = s->bytes;
	}
	return (la_ssize_t)n;
}

static int sink_open(Sink *s, OutFile *f, const EVP_MD *const *mds, size_t n)
{
	*s = (Sink) { .f = f };
	for (size_t i = 0; i < n; i++) {
		s->ctx[i] = EVP_MD_CTX_new();
		if (!s->ctx[i])
			die_oom();
		s->n_ctx++;
		if (EVP_DigestInit_ex(s->ctx[i], mds[i], NULL) != 1)
			return -EINVAL;
	}
	return 0;
}

/* Finish digest I of S as lowercase hex into HEX (2 * EVP_MAX_MD_SIZE + 1). */
static int sink_hex(Sink *s, size_t i, char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	if (EVP_DigestFinal_ex(s->ctx[i], md, &len) != 1)
		return -EINVAL;
	for (unsigned k = 0; k < len; k++)
		sprintf(hex + 2 * k, "%02x", md[k]);
	hex[2 * len] = '\0';
	return 0;
}

static void sink_done(Sink *s)
{
	for (size_t i = 0; i < s->n_ctx; i++)
		EVP_MD_CTX_free(s->ctx[i]);
	s->n_ctx = 0;
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
	struct archive *contents;
	Sink contents_sink;
	Buf listing;       /* CONTENTS lines not yet handed to the gzip writer */
	int ugswidth;

	dev_t root_dev;
	Link *links;       /* open addressing, cap a power of two */
	size_t n_links, cap_links;

	char *buf;
	uint64_t entries, bytes_in, sockets;
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

/* Quote S like GNU tar's "escape" style, for CONTENTS and messages. */
static void put_quoted(Buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\\')
			buf_puts(b, "\\\\");
		else if (c == '\n')
			buf_puts(b, "\\n");
		else if (c == '\t')
			buf_puts(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			buf_printf(b, "\\%03o", c);
		else
			buf_putc(b, (char)c);
	}
}

static char *quoted(const char *s)
{
	Buf b = {};

	put_quoted(&b, s);
	return buf_steal(&b);
}

_printf_(4, 5) static int fail_entry(Packer *p, int r, const char *path, const char *fmt, ...)
{
	int saved = errno; /* for %m */
	va_list ap;
	_cleanup_free_ char *m = NULL;
	_cleanup_free_ char *q = quoted(path);

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

static int fail_contents(Packer *p)
{
	const char *msg = archive_error_string(p->contents);
	int e = archive_errno(p->contents);

	if (p->contents_sink.err)
		return fail(p, p->contents_sink.err, "pack: CONTENTS: %s",
			    strerror(-p->contents_sink.err));
	return fail(p, e > 0 ? -e : -EIO, "pack: CONTENTS: %s", msg ? msg : "unknown error");
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

/* ---- CONTENTS ---- */

static int contents_flush(Packer *p, bool force)
{
	la_ssize_t n;

	if (p->listing.len == 0 || (!force && p->listing.len < (1u << 16)))
		return 0;
	n = archive_write_data(p->contents, p->listing.data, p->listing.len);
	if (n < 0 || (size_t)n != p->listing.len)
		return fail_contents(p);
	p->listing.len = 0;
	p->listing.data[0] = '\0';
	return 0;
}

static void mode_string(mode_t mode, bool hardlink, char out[11])
{
	static const char rwx[] = "rwxrwxrwx";
	char t;

	switch (mode & S_IFMT) {
	case S_IFDIR: t = 'd'; break;
	case S_IFLNK: t = 'l'; break;
	case S_IFCHR: t = 'c'; break;
	case S_IFBLK: t = 'b'; break;
	case S_IFIFO: t = 'p'; break;
	case S_IFSOCK: t = 's'; break;
	default: t = '-'; break;
	}
	out[0] = hardlink ? 'h' : t;
	for (int i = 0; i < 9; i++)
		out[1 + i] = (mode & (0400u >> i)) ? rwx[i] : '-';
	if (mode & S_ISUID)
		out[3] = (mode & S_IXUSR) ? 's' : 'S';
	if (mode & S_ISGID)
		out[6] = (mode & S_IXGRP) ? 's' : 'S';
	if (mode & S_ISVTX)
		out[9] = (mode & S_IXOTH) ? 't' : 'T';
	out[10] = '\0';
}

static int contents_add(Packer *p, const char *name, const struct stat *st, const char *symlink,
			const char *hardlink)
{
	char mode[11], owner[48], size[48], date[32];
	struct tm tm;
	time_t t = st->st_mtim.tv_sec;
	int pad;

	mode_string(st->st_mode, hardlink != NULL, mode);
	snprintf(owner, sizeof(owner), "%u/%u", (unsigned)st->st_uid, (unsigned)st->st_gid);
	if (hardlink || !S_ISREG(st->st_mode))
		snprintf(size, sizeof(size), "0");
	else
		snprintf(size, sizeof(size), "%llu", (unsigned long long)st->st_size);
	if (!hardlink && (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)))
		snprintf(size, sizeof(size), "%u,%u", major(st->st_rdev), minor(st->st_rdev));
	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M", &tm);

	pad = (int)(strlen(owner) + 1 + strlen(size));
	if (pad > p->ugswidth)
		p->ugswidth = pad;
	buf_printf(&p->listing, "%s %s %*s %s ", mode, owner,
		   p->ugswidth - pad + (int)strlen(size), size, date);
	put_quoted(&p->listing, name);
	if (symlink) {
		buf_puts(&p->listing, " -> ");
		put_quoted(&p->listing, symlink);
	} else if (hardlink) {
		buf_puts(&p->listing, " link to ");
		put_quoted(&p->listing, hardlink);
	}
	buf_putc(&p->listing, '\n');
	return contents_flush(p, false);
}

/* ---- entries ---- */

/*
 * Add the extended attributes of an entry to AE: through FD if >= 0, else
 * through PATH without following a symlink in its last component.
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

		if (strncmp(k, "trusted.overlay.", 16) == 0)
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
	const char *name = path->data, *hardlink = NULL;
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
	{
		/* List the name the way tar -t shows it (directories end in '/'). */
		const char *listed = archive_entry_pathname(ae);

		r = contents_add(p, listed ? listed : name, &st, target, hardlink);
		if (r < 0)
			goto out;
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
	if (archive_write_set_bytes_per_block(p->tar, PACK_BLOCK_SIZE) < ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(p->tar, 1) < ARCHIVE_OK)
		return fail(p, -EINVAL, "pack: libarchive: %s", archive_error_string(p->tar));
	if (archive_write_open2(p->tar, &p->tar_sink, NULL, sink_write, NULL, NULL) < ARCHIVE_OK)
		return fail_tar(p, NULL);
	return 0;
}

static int contents_setup(Packer *p)
{
	struct archive_entry *ae;
	int r;

	p->contents = archive_write_new();
	if (!p->contents)
		die_oom();
	if (archive_write_set_format_raw(p->contents) < ARCHIVE_OK ||
	    archive_write_add_filter_gzip(p->contents) < ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(p->contents, PACK_BLOCK_SIZE) < ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(p->contents, 1) < ARCHIVE_OK)
		return fail_contents(p);
	r = archive_write_set_filter_option(p->contents, "gzip", "timestamp", NULL);
	if (r < ARCHIVE_WARN)
		return fail_contents(p);
	if (archive_write_open2(p->contents, &p->contents_sink, NULL, sink_write, NULL, NULL) <
	    ARCHIVE_OK)
		return fail_contents(p);
	ae = archive_entry_new();
	if (!ae)
		die_oom();
	archive_entry_set_pathname(ae, "CONTENTS");
	archive_entry_set_filetype(ae, AE_IFREG);
	r = archive_write_header(p->contents, ae);
	archive_entry_free(ae);
	if (r < ARCHIVE_WARN)
		return fail_contents(p);
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

static void put_digest(Buf *b, const char *name, const char *file, const char *hex, bool bsd)
{
	_cleanup_free_ char *up = xstrdup(name);

	for (char *c = up; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	if (bsd)
		buf_printf(b, "# %s HASH\n%s (%s) = %s\n", up, up, file, hex);
	else
		buf_printf(b, "# %s HASH\n%s  %s\n", up, hex, file);
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
	Packer p = { .req = req, .ugswidth = 19 };
	OutFile tar_f = { .fd = -EBADF, .stage_fd = -EBADF }, con_f = { .fd = -EBADF, .stage_fd = -EBADF },
		dig_f = { .fd = -EBADF, .stage_fd = -EBADF }, sha_f = { .fd = -EBADF, .stage_fd = -EBADF };
	_cleanup_free_ char *tar_name = NULL, *con_name = NULL, *dig_name = NULL, *sha_name = NULL;
	_cleanup_free_ char *warn = NULL;
	OutputStage stage = { .fd = -EBADF };
	Buf path = {}, dig = {}, sha = {};
	size_t sha_i = SIZE_MAX;
	char **hex = NULL;
	const char *ext;
	bool bsd;
	struct stat st;
	int r;

	assert(req && ret && ret_err);
	*ret_err = NULL;

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
	if (sink_open(&p.tar_sink, &tar_f, mds, n_md) < 0 ||
	    sink_open(&p.contents_sink, &con_f, mds, n_md) < 0) {
		r = fail(&p, -EINVAL, "pack: DIGESTS: cannot initialise the digests");
		goto out;
	}
	r = tar_setup(&p);
	if (r < 0)
		goto out;
	r = contents_setup(&p);
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
	r = contents_flush(&p, true);
	if (r < 0)
		goto out;
	if (close_archive(&p.contents) < 0) {
		r = fail_contents(&p);
		goto out;
	}

	/* DIGESTS and .sha256, from the digests taken while writing, as
	 * catalyst's gen_digest_file() writes them (bsd: "NAME (file) = hex"
	 * after the same "# NAME HASH" line). */
	hex = xcalloc(2 * n_md + 1, sizeof(*hex));
	for (size_t i = 0; i < n_md; i++) {
		hex[i] = xmalloc(2 * EVP_MAX_MD_SIZE + 1);
		hex[n_md + i] = xmalloc(2 * EVP_MAX_MD_SIZE + 1);
		if (sink_hex(&p.tar_sink, i, hex[i]) < 0 ||
		    sink_hex(&p.contents_sink, i, hex[n_md + i]) < 0) {
			r = fail(&p, -EINVAL, "pack: DIGESTS: digest failed");
			goto out;
		}
	}
	for (int file = 0; file < 2; file++) {
		const char *fn = file == 0 ? tar_name : con_name;

		for (size_t i = 0; i < n_digests; i++)
			put_digest(&dig, req->digests[i], fn, hex[file * n_md + i], bsd);
	}
	if (n_digests > 0) {
		put_digest(&sha, "sha256", tar_name, hex[sha_i], bsd);
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
	free_archive(&p.contents, &p.contents_sink);
	out_discard(&tar_f);
	out_discard(&con_f);
	out_discard(&dig_f);
	out_discard(&sha_f);
	output_stage_abort(&stage);
	sink_done(&p.tar_sink);
	sink_done(&p.contents_sink);
	if (hex)
		for (size_t i = 0; i < 2 * n_md; i++)
			free(hex[i]);
	free(hex);
	for (size_t i = 0; i < p.cap_links; i++)
		free(p.links[i].path);
	free(p.links);
	free(p.buf);
	buf_done(&path);
	buf_done(&dig);
	buf_done(&sha);
	buf_done(&p.listing);
	if (r < 0)
		*ret_err = p.err ? TAKE_PTR(p.err) : xasprintf("pack: %s", strerror(-r));
	free(p.err);
	return r;
}
