// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * unpack.c - extract a tarball or a squashfs image below a directory fd.
 *
 * Everything is created relative to DEST_FD with the *at() calls; the
 * process's working directory is never touched (it is global state and
 * this process does other things at the same time).
 *
 * Containment.  Each entry path is normalised first: absolute paths and
 * ".." components are refused, "." and empty components dropped.  The
 * parent directory of an entry is then reached one component at a time
 * with openat(O_NOFOLLOW|O_DIRECTORY), so a symlink planted by an earlier
 * entry is never followed: "d -> /" followed by "d/x" is refused.
 * The last component is created with O_CREAT|O_EXCL|O_NOFOLLOW, mkdirat,
 * symlinkat, linkat (without AT_SYMLINK_FOLLOW) or mknodat, none of which
 * follow a symlink in the final component.  Hardlink targets go through
 * the same normalisation and are resolved with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS) where the kernel has it.  The directories along the
 * last path walked stay open, one fd per level (DirCache), because tar
 * archives list a tree depth-first: an entry's parent then costs at most a
 * few single-component opens, not a walk from the top.  Only an empty
 * directory outside that path is ever removed, and the cache is dropped
 * when entries are moved (undoing a strip).
 *
 * Stripping a single top-level directory, in one pass.  The first entry
 * that is not the root itself decides: if it is a directory "X" or a path
 * "X/...", extraction proceeds speculatively with "X/" stripped (the entry
 * "X" itself maps to DEST_FD, whose metadata we leave alone).  If a later
 * entry turns out not to be under "X" (or the archive holds nothing below
 * "X"), the speculation is undone: a fresh directory with a random name is
 * made in DEST_FD, every top-level entry extracted so far is renamed into
 * it, it is renamed to "X", and extraction continues unstripped.  Nothing
 * is decompressed twice; the undo costs one rename per top-level entry.
 * Deferred directory metadata is recorded under the unstripped archive
 * path, so it is applied to the right place whichever way it ends.
 *
 * Directories are created 0700 and get their mode, owner and mtime at the
 * end, children before parents, so that a read-only directory can still be
 * filled and its mtime is not disturbed by its content.
 *
 * Squashfs images are walked with libsquashfs' directory reader through a
 * sqfs_file_t of our own that reads the fd with pread(); hard links are the
 * inodes met a second time (same inode number), made with linkat.  An image
 * whose root holds exactly one directory is stripped the same way.
 *
 * Extended attributes (pax "SCHILY.xattr.*" records, as GNU tar --xattrs
 * and zeolite's packer write them) are restored only with
 * UNPACK_KEEP_OWNER, i.e. for seed stages unpacked as root: after the
 * owner and mode are set (chown clears security.capability) and before the
 * mtime.  Regular files and directories get them through their fd
 * (fsetxattr), symlinks and device nodes through
 * "/proc/self/fd/<parent>/<name>" with lsetxattr, which follows the
 * parent's magic link but never a symlink in the last component.  An
 * attribute the filesystem cannot store (EOPNOTSUPP) is skipped, as GNU tar
 * does with a warning, and so is a user.* attribute on a symlink or device
 * node (the kernel allows user.* only on files and directories); any other
 * failure is an error.  Hardlink entries share their target's inode and
 * get nothing.  Squashfs images carry them in their xattr table, read with
 * libsquashfs' xattr reader under the same rules.
 *
 * Decompression runs on a thread of its own (Inflater) when the archive
 * starts with the magic of xz, zstd, gzip or bzip2: one libarchive reader
 * with every filter and the "raw" format turns the file into the plain tar
 * stream, handed over in 1 MiB buffers to a second reader with the tar
 * formats and no filter, on the calling thread, which does all the
 * writing.  GNU tar gets the same overlap by running xz -d in a process of
 * its own; libarchive 3.6.2 (Debian 12) has no multi-threaded xz decoder.
 * Anything else (a plain tar, lz4, ...) is read on the calling thread.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <search.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <time.h>

#include <sqfs/compressor.h>
#include <sqfs/data_reader.h>
#include <sqfs/dir.h>
#include <sqfs/dir_reader.h>
#include <sqfs/error.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/super.h>
#include <sqfs/xattr.h>
#include <sqfs/xattr_reader.h>

#include "unpack.h"

#include "inflate.h"

#include <nettle/sha2.h>

#define UNPACK_MAX_ENTRIES UINT64_C(10000000)
#define UNPACK_MAX_BYTES (UINT64_C(64) << 30)
#define UNPACK_READ_BLOCK (256u << 10)
#define UNPACK_PROGRESS_STEP (UINT64_C(1) << 20)
#define SQFS_MAX_DEPTH 512

typedef enum StripState {
	STRIP_UNDECIDED,
	STRIP_ON,
	STRIP_OFF,
} StripState;

typedef struct DirMeta {
	char *path; /* normalised archive path, unstripped */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	struct timespec mtime; /* tv_nsec == UTIME_OMIT when unknown */
} DirMeta;

/*
 * The directories of the last path walked, one fd per level: tar archives
 * list a tree depth-first, so the next entry's parent shares most of its
 * path with the last one and costs at most a few single-component opens.
 * Levels past DIR_STACK_MAX are walked every time and only the deepest is
 * kept (DEEP_FD), so a hostile archive cannot make us hold many fds.
 */
#define DIR_STACK_MAX 16

typedef struct DirCache {
	char *path;                  /* the directory walked last, relative; NULL: none */
	size_t n;                    /* levels held in FDS */
	int fds[DIR_STACK_MAX];      /* FDS[i]: the first i + 1 components of PATH */
	size_t ends[DIR_STACK_MAX];  /* where component i ends in PATH */
	int deep_fd;                 /* PATH itself, when deeper than DIR_STACK_MAX */
} DirCache;

/*
 * Writeback while unpacking.  The tree must be on disk before it is
 * published (syncfs at the end), and a tree of small files left to the
 * kernel's flusher until then makes that final syncfs cost as much as a
 * third of the unpack.  So a thread calls syncfs every FLUSH_BYTES or
 * FLUSH_ENTRIES written, while this one goes on creating files: the disk
 * works while we do, and the final syncfs finds little left to write.
 * Its errors do not matter: the final syncfs reports them.
 */
#define FLUSH_BYTES (UINT64_C(32) << 20)
#define FLUSH_ENTRIES 4096

typedef struct Flusher {
	Worker w;
	int fd;
	bool want, stop; /* under LOCK */
} Flusher;

typedef struct Unpacker {
	int dest_fd;
	UnpackFlags flags;
	mode_t umask;
	char *err;

	StripState strip;
	char *top;
	size_t top_len;
	bool below_top;

	DirCache dc;
	bool no_openat2;

	DirMeta *dirs;
	size_t n_dirs, cap_dirs;

	uint64_t entries, bytes;
	Flusher *flusher; /* NULL: everything is synced at the end only */
	uint64_t kicked_bytes, kicked_entries;

	UnpackProgressFn progress;
	void *userdata;
	uint64_t total, last_progress;
	uint64_t (*consumed)(void *ctx);
	void *consumed_ctx;

	char *buf; /* UNPACK_READ_BLOCK bytes, for squashfs file data */
} Unpacker;

typedef struct Xattr {
	const char *name;
	const void *value;
	size_t size;
} Xattr;

/* An archive entry in a form common to both readers. */
typedef struct Entry {
	const char *raw;      /* path as stored, for messages */
	mode_t type;          /* S_IFREG, ..., or 0 for a hardlink */
	mode_t mode;          /* permission bits */
	uid_t uid;
	gid_t gid;
	struct timespec mtime;
	const char *symlink;  /* target of a symlink */
	const char *hardlink; /* target of a hardlink, as stored */
	dev_t rdev;
	uint64_t size;
	const Xattr *xattrs;  /* restored with UNPACK_KEEP_OWNER only */
	size_t n_xattrs;
} Entry;

/* Writes the data of the current entry to FD; returns 0 or -errno. */
typedef int (*DataFn)(Unpacker *u, const Entry *e, int fd, void *ctx);

/* ---- messages ---- */

/* Quote S for a one-line message: control bytes and quotes as \xHH. */
static char *escape(const char *s)
{
	Buf b = {};

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\')
			buf_printf(&b, "\\x%02x", c);
		else
			buf_putc(&b, (char)c);
	}
	return buf_steal(&b);
}

_printf_(3, 4) static int fail(Unpacker *u, int r, const char *fmt, ...)
{
	va_list ap;
	Buf b = {};
	char *m;

	if (u->err) /* keep the first reason */
		return r;
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		die_oom();
	va_end(ap);
	buf_puts(&b, m);
	free(m);
	u->err = buf_steal(&b);
	return r;
}

_printf_(4, 5) static int fail_entry(Unpacker *u, int r, const char *raw, const char *fmt, ...)
{
	int saved = errno; /* for %m */
	va_list ap;
	_cleanup_free_ char *q = escape(raw);
	_cleanup_free_ char *m = NULL;

	if (u->err)
		return r;
	errno = saved;
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		die_oom();
	va_end(ap);
	return fail(u, r, "entry '%s': %s", q, m);
}

static void maybe_progress(Unpacker *u, bool force)
{
	uint64_t done;

	if (!u->progress || !u->consumed)
		return;
	done = u->consumed(u->consumed_ctx);
	if (!force && done - u->last_progress < UNPACK_PROGRESS_STEP)
		return;
	u->last_progress = done;
	u->progress(u->userdata, done, u->total);
}

/* ---- paths ---- */

/*
 * Normalise archive path RAW into *RET (caller frees): components joined
 * by single slashes, "." and empty components dropped.  Returns 0, or
 * -EPERM for an absolute path or a ".." component.  The root is "".
 */
static int normalize_path(const char *raw, char **ret)
{
	Buf b = {};
	const char *p = raw, *e;

	if (*raw == '/')
		return -EPERM;
	while (*p) {
		size_t n;

		e = strchrnul(p, '/');
		n = (size_t)(e - p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			buf_done(&b);
			return -EPERM;
		}
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (b.len > 0)
				buf_putc(&b, '/');
			buf_put(&b, p, n);
		}
		p = *e ? e + 1 : e;
	}
	*ret = buf_steal(&b);
	return 0;
}

static void cache_drop(Unpacker *u)
{
	DirCache *c = &u->dc;

	for (size_t i = 0; i < c->n; i++)
		close(c->fds[i]);
	c->n = 0;
	if (c->deep_fd >= 0)
		close(c->deep_fd);
	c->deep_fd = -EBADF;
	free(c->path);
	c->path = NULL;
}

static int sys_openat2(int dfd, const char *path, uint64_t oflags, uint64_t resolve)
{
	struct open_how how = {
		.flags = oflags,
		.resolve = resolve,
	};

	return (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));
}

/*
 * Open the directory NAME (one component) in DFD without following a
 * symlink; create it (0755) if missing and CREATE.  Returns an fd, -ELOOP
 * when NAME is a symlink, -ENOTDIR when it is something else, or -errno.
 */
static int open_component(int dfd, const char *name, bool create)
{
	struct stat st;
	int fd;

	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST)
			return -errno;
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd >= 0)
		return fd;
	if ((errno == ELOOP || errno == ENOTDIR) &&
	    fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return S_ISLNK(st.st_mode) ? -ELOOP : -ENOTDIR;
	return -errno;
}

/*
 * Open the directory PATH (normalised, relative, non-empty) below DEST_FD
 * without following any symlink, and without touching the cache; create
 * missing components if CREATE.  Returns an fd or -errno as
 * open_component().
 */
static int open_dir_beneath(Unpacker *u, const char *path, bool create)
{
	_cleanup_free_ char *copy = NULL;
	_cleanup_close_ int fd = -EBADF;
	char *p, *slash;
	int r;

	if (!u->no_openat2) {
		do
			r = sys_openat2(u->dest_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC,
					RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
					RESOLVE_NO_MAGICLINKS);
		while (r < 0 && (errno == EINTR || errno == EAGAIN));
		if (r >= 0)
			return r;
		if (errno == ENOSYS || errno == EPERM) /* no openat2, or seccomp */
			u->no_openat2 = true;
		else if (errno != ENOENT || !create)
			return -errno;
	}

	/* Component by component; creates what is missing. */
	copy = xstrdup(path);
	fd = fcntl(u->dest_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	for (p = copy; p; p = slash) {
		int nfd;

		slash = strchr(p, '/');
		if (slash)
			*slash++ = '\0';
		nfd = open_component(fd, p, create);
		if (nfd < 0)
			return nfd;
		close(fd);
		fd = nfd;
	}
	return TAKE_FD(fd);
}

static int cache_top(Unpacker *u)
{
	DirCache *c = &u->dc;

	if (c->deep_fd >= 0)
		return c->deep_fd;
	return c->n > 0 ? c->fds[c->n - 1] : u->dest_fd;
}

/*
 * Return a borrowed fd of the directory PATH (normalised, relative, "" for
 * DEST_FD itself), walking from the longest prefix the cache holds, one
 * component at a time with O_NOFOLLOW: a symlink is never followed and
 * ".." never occurs.  Creates missing directories if CREATE.  On failure
 * the cache is empty and -errno is returned as open_component().
 */
static int cache_walk(Unpacker *u, const char *path, bool create)
{
	DirCache *c = &u->dc;
	size_t len = strlen(path), k = 0, pos;
	char name[NAME_MAX + 1];

	if (c->path && strcmp(c->path, path) == 0)
		return cache_top(u);
	while (k < c->n && strncmp(path, c->path, c->ends[k]) == 0 &&
	       (path[c->ends[k]] == '/' || path[c->ends[k]] == '\0'))
		k++;
	for (size_t i = k; i < c->n; i++)
		close(c->fds[i]);
	c->n = k;
	if (c->deep_fd >= 0)
		close(c->deep_fd);
	c->deep_fd = -EBADF;
	free(c->path);
	c->path = NULL;

	pos = k > 0 ? c->ends[k - 1] + 1 : 0;
	while (pos < len) {
		const char *slash = strchrnul(path + pos, '/');
		size_t end = (size_t)(slash - path);
		int fd;

		if (end - pos > NAME_MAX) {
			cache_drop(u);
			return -ENAMETOOLONG;
		}
		memcpy(name, path + pos, end - pos);
		name[end - pos] = '\0';
		fd = open_component(cache_top(u), name, create);
		if (fd < 0) {
			cache_drop(u);
			return fd;
		}
		if (c->n < DIR_STACK_MAX && c->deep_fd < 0) {
			c->fds[c->n] = fd;
			c->ends[c->n++] = end;
		} else {
			if (c->deep_fd >= 0)
				close(c->deep_fd);
			c->deep_fd = fd;
		}
		pos = end + 1;
	}
	c->path = xstrdup(path);
	return cache_top(u);
}

/* Translate a failure of open_dir_beneath() for entry RAW into a message. */
static int fail_resolve(Unpacker *u, int r, const char *raw, const char *what)
{
	if (r == -ELOOP || r == -EXDEV)
		return fail_entry(u, -EPERM, raw, "%s goes through a symlink", what);
	if (r == -ENOTDIR)
		return fail_entry(u, -ENOTDIR, raw, "%s goes through a non-directory", what);
	return fail_entry(u, r, raw, "cannot open parent directory: %s", strerror(-r));
}

/*
 * Return the (cached, borrowed) fd of the parent directory of REL and point
 * *BASE at the last component.  Creates missing parents.
 */
static int get_parent(Unpacker *u, const char *raw, const char *rel, const char **base)
{
	const char *slash = strrchr(rel, '/');
	_cleanup_free_ char *parent = NULL;
	int fd;

	if (!slash) {
		*base = rel;
		return u->dest_fd;
	}
	*base = slash + 1;
	parent = xstrndup(rel, (size_t)(slash - rel));
	fd = cache_walk(u, parent, true);
	if (fd < 0)
		return fail_resolve(u, fd, raw, "path");
	return fd;
}

/*
 * Remove what is in the way of a new entry BASE in PFD (a later entry of a
 * tar archive replaces an earlier one).  A directory is removed only when
 * empty, so the cached parent directory (PFD or none below BASE) stays valid.
 */
static int remove_existing(Unpacker *u, const char *raw, int pfd, const char *base)
{
	if (unlinkat(pfd, base, 0) == 0)
		return 0;
	if (errno == EISDIR || errno == EPERM) {
		if (unlinkat(pfd, base, AT_REMOVEDIR) == 0)
			return 0;
		if (errno == ENOTEMPTY || errno == EEXIST)
			return fail_entry(u, -EEXIST, raw, "would replace a non-empty directory");
	}
	return fail_entry(u, -errno, raw, "cannot replace existing file: %m");
}

/* ---- writeback ---- */

static void *flusher_thread(void *userdata)
{
	Flusher *f = userdata;

	pthread_mutex_lock(&f->w.lock);
	for (;;) {
		while (!f->want && !f->stop)
			pthread_cond_wait(&f->w.cond, &f->w.lock);
		if (f->stop)
			break;
		f->want = false;
		pthread_mutex_unlock(&f->w.lock);
		(void)syncfs(f->fd);
		pthread_mutex_lock(&f->w.lock);
	}
	pthread_mutex_unlock(&f->w.lock);
	return NULL;
}

/* Without a thread, unpacking still works: all is synced at the end. */
static void flusher_start(Unpacker *u)
{
	Flusher *f = xmalloc(sizeof(*f));

	*f = (Flusher) { .fd = u->dest_fd };
	if (worker_start(&f->w, flusher_thread, f) != 0) {
		free(f);
		return;
	}
	u->flusher = f;
}

static void flusher_stop(Unpacker *u)
{
	Flusher *f = u->flusher;

	if (!f)
		return;
	worker_stop(&f->w, &f->stop);
	free(f);
	u->flusher = NULL;
}

/* Called after each entry: wake the flusher when enough was written. */
static void flusher_kick(Unpacker *u)
{
	Flusher *f = u->flusher;

	if (!f || (u->bytes - u->kicked_bytes < FLUSH_BYTES &&
		   u->entries - u->kicked_entries < FLUSH_ENTRIES))
		return;
	u->kicked_bytes = u->bytes;
	u->kicked_entries = u->entries;
	pthread_mutex_lock(&f->w.lock);
	f->want = true;
	pthread_cond_signal(&f->w.cond);
	pthread_mutex_unlock(&f->w.lock);
}

/* ---- stripping ---- */

static bool under_top(Unpacker *u, const char *p)
{
	return strncmp(p, u->top, u->top_len) == 0 && p[u->top_len] == '/';
}

/* Undo a speculative strip: move everything into a new directory TOP. */
static int unstrip(Unpacker *u)
{
	_cleanup_close_ int dfd = -EBADF, tfd = -EBADF;
	char tmp[64];
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	cache_drop(u);
	for (int tries = 0;; tries++) {
		uint64_t rnd;

		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint64_t)now_ms() * 2654435761u + (uint64_t)tries;
		snprintf(tmp, sizeof(tmp), ".zeolite-unstrip.%016llx", (unsigned long long)rnd);
		if (mkdirat(u->dest_fd, tmp, 0700) == 0)
			break;
		if (errno != EEXIST || tries > 100)
			return fail(u, -errno, "cannot undo stripping of '%s': %m", u->top);
	}
	tfd = openat(u->dest_fd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0)
		return fail(u, -errno, "cannot undo stripping of '%s': %m", u->top);

	dfd = openat(u->dest_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fail(u, -errno, "cannot undo stripping of '%s': %m", u->top);
	d = fdopendir(dfd);
	if (!d)
		return fail(u, -errno, "cannot undo stripping of '%s': %m", u->top);
	TAKE_FD(dfd);
	/* Collect first: renaming while reading the directory may skip names. */
	while ((errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, tmp) == 0)
			continue;
		xgrow(&names, &cap, n + 1, sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	if (errno != 0)
		r = -errno;
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		if (r == 0 && renameat(u->dest_fd, names[i], tfd, names[i]) < 0)
			r = -errno;
		free(names[i]);
	}
	free(names);
	if (r < 0)
		return fail(u, r, "cannot undo stripping of '%s': %s", u->top, strerror(-r));
	/* The directory gets 0755 unless the archive has an entry for it. */
	if (fchmod(tfd, 0755) < 0 || renameat(u->dest_fd, tmp, u->dest_fd, u->top) < 0)
		return fail(u, -errno, "cannot undo stripping of '%s': %m", u->top);
	u->strip = STRIP_OFF;
	return 0;
}

/*
 * Decide where normalised path NORM goes; sets *REL to the path relative
 * to DEST_FD (pointing into NORM), or NULL if the entry is the stripped
 * top directory itself (or the root).
 */
static int place(Unpacker *u, const Entry *e, const char *norm, const char **rel)
{
	bool is_dir = e->type == S_IFDIR;
	int r;

	if (*norm == '\0') {
		*rel = NULL;
		return 0;
	}
	if (u->strip == STRIP_UNDECIDED) {
		const char *slash = strchr(norm, '/');

		if ((u->flags & UNPACK_NO_STRIP) || (!slash && !is_dir)) {
			u->strip = STRIP_OFF;
		} else {
			u->top_len = slash ? (size_t)(slash - norm) : strlen(norm);
			u->top = xstrndup(norm, u->top_len);
			u->strip = STRIP_ON;
		}
	}
	if (u->strip == STRIP_ON) {
		if (under_top(u, norm)) {
			u->below_top = true;
			*rel = norm + u->top_len + 1;
			return 0;
		}
		if (is_dir && strcmp(norm, u->top) == 0) {
			*rel = NULL;
			return 0;
		}
		r = unstrip(u);
		if (r < 0)
			return r;
	}
	*rel = norm;
	return 0;
}

/* ---- entries ---- */

static mode_t file_mode(Unpacker *u, mode_t mode)
{
	mode &= 07777;
	if (!(u->flags & UNPACK_KEEP_OWNER))
		mode &= ~(mode_t)06000;
	return mode;
}

/*
 * Restore E's extended attributes on FD, or (FD < 0) on BASE in the
 * directory PFD without following a symlink there.
 */
static int set_xattrs(Unpacker *u, const Entry *e, int fd, int pfd, const char *base)
{
	char proc[64 + NAME_MAX];

	if (!(u->flags & UNPACK_KEEP_OWNER) || e->n_xattrs == 0)
		return 0;
	if (fd < 0)
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", pfd, base);
	for (size_t i = 0; i < e->n_xattrs; i++) {
		const Xattr *x = &e->xattrs[i];
		int r;

		r = fd >= 0 ? fsetxattr(fd, x->name, x->value, x->size, 0) :
			      lsetxattr(proc, x->name, x->value, x->size, 0);
		if (r == 0)
			continue;
		if (errno == EOPNOTSUPP)
			continue;
		if (errno == EPERM && fd < 0 && strncmp(x->name, "user.", 5) == 0)
			continue;
		{
			int err = errno;
			_cleanup_free_ char *q = escape(x->name);

			return fail_entry(u, -err, e->raw, "cannot set xattr '%s': %s", q,
					  strerror(err));
		}
	}
	return 0;
}

static int set_meta_fd(Unpacker *u, const Entry *e, int fd, mode_t created_mode)
{
	mode_t mode = file_mode(u, e->mode);
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, e->mtime };
	int r;

	if (u->flags & UNPACK_KEEP_OWNER)
		if (fchown(fd, e->uid, e->gid) < 0)
			return fail_entry(u, -errno, e->raw, "cannot set owner: %m");
	if ((u->flags & UNPACK_KEEP_OWNER) || mode != (created_mode & ~u->umask))
		if (fchmod(fd, mode) < 0)
			return fail_entry(u, -errno, e->raw, "cannot set mode: %m");
	/* After fchown, which clears security.capability. */
	r = set_xattrs(u, e, fd, -EBADF, NULL);
	if (r < 0)
		return r;
	if (e->mtime.tv_nsec != UTIME_OMIT && futimens(fd, ts) < 0)
		return fail_entry(u, -errno, e->raw, "cannot set mtime: %m");
	return 0;
}

static int set_meta_at(Unpacker *u, const Entry *e, int pfd, const char *base, bool chmod)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, e->mtime };
	int r;

	if (u->flags & UNPACK_KEEP_OWNER)
		if (fchownat(pfd, base, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
			return fail_entry(u, -errno, e->raw, "cannot set owner: %m");
	if (chmod && fchmodat(pfd, base, file_mode(u, e->mode), 0) < 0)
		return fail_entry(u, -errno, e->raw, "cannot set mode: %m");
	r = set_xattrs(u, e, -EBADF, pfd, base);
	if (r < 0)
		return r;
	if (e->mtime.tv_nsec != UTIME_OMIT &&
	    utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return fail_entry(u, -errno, e->raw, "cannot set mtime: %m");
	return 0;
}

static int make_file(Unpacker *u, const Entry *e, int pfd, const char *base, DataFn data,
		     void *ctx)
{
	_cleanup_close_ int fd = -EBADF;
	mode_t cmode = e->mode & 0777;
	int r;

	if (e->size > UNPACK_MAX_BYTES - u->bytes)
		return fail(u, -E2BIG, "archive too large (limit %llu bytes)",
			    (unsigned long long)UNPACK_MAX_BYTES);
	for (int tries = 0;; tries++) {
		fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
			    cmode);
		if (fd >= 0)
			break;
		if (errno != EEXIST || tries > 0)
			return fail_entry(u, -errno, e->raw, "cannot create: %m");
		r = remove_existing(u, e->raw, pfd, base);
		if (r < 0)
			return r;
	}
	r = data(u, e, fd, ctx);
	if (r < 0)
		return r;
	r = set_meta_fd(u, e, fd, cmode);
	if (r < 0)
		return r;
	if (close(TAKE_FD(fd)) < 0)
		return fail_entry(u, -errno, e->raw, "cannot write: %m");
	return 0;
}

static int make_symlink(Unpacker *u, const Entry *e, int pfd, const char *base)
{
	int r;

	if (!e->symlink || !*e->symlink)
		return fail_entry(u, -EBADMSG, e->raw, "symlink with an empty target");
	for (int tries = 0;; tries++) {
		if (symlinkat(e->symlink, pfd, base) == 0)
			break;
		if (errno != EEXIST || tries > 0)
			return fail_entry(u, -errno, e->raw, "cannot create symlink: %m");
		r = remove_existing(u, e->raw, pfd, base);
		if (r < 0)
			return r;
	}
	return set_meta_at(u, e, pfd, base, false);
}

static int make_node(Unpacker *u, const Entry *e, int pfd, const char *base)
{
	int r;

	for (int tries = 0;; tries++) {
		if (mknodat(pfd, base, e->type | (e->mode & 0777), e->rdev) == 0)
			break;
		if (errno != EEXIST || tries > 0)
			return fail_entry(u, -errno, e->raw, "cannot create node: %m");
		r = remove_existing(u, e->raw, pfd, base);
		if (r < 0)
			return r;
	}
	return set_meta_at(u, e, pfd, base, true);
}

/* Remember a directory's metadata, applied by finish_dirs(). */
static void record_dir(Unpacker *u, const Entry *e, const char *norm)
{
	xgrow(&u->dirs, &u->cap_dirs, u->n_dirs + 1, sizeof(*u->dirs));
	u->dirs[u->n_dirs++] = (DirMeta) {
		.path = xstrdup(norm),
		.mode = e->mode & 07777,
		.uid = e->uid,
		.gid = e->gid,
		.mtime = e->mtime,
	};
}

static int make_dir(Unpacker *u, const Entry *e, const char *norm, int pfd, const char *base)
{
	int r;

	for (int tries = 0;; tries++) {
		struct stat st;

		if (mkdirat(pfd, base, 0700) == 0)
			break;
		if (errno != EEXIST || tries > 0)
			return fail_entry(u, -errno, e->raw, "cannot create directory: %m");
		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
			break;
		r = remove_existing(u, e->raw, pfd, base);
		if (r < 0)
			return r;
	}
	if ((u->flags & UNPACK_KEEP_OWNER) && e->n_xattrs > 0) {
		/* Now: the mode, owner and mtime come later (finish_dirs()). */
		_cleanup_close_ int fd = openat(pfd, base,
						O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (fd < 0)
			return fail_entry(u, -errno, e->raw, "cannot open directory: %m");
		r = set_xattrs(u, e, fd, -EBADF, NULL);
		if (r < 0)
			return r;
	}
	record_dir(u, e, norm);
	return 0;
}

static int make_hardlink(Unpacker *u, const Entry *e, const char *rel, int pfd, const char *base)
{
	_cleanup_free_ char *tnorm = NULL;
	_cleanup_close_ int tfd = -EBADF;
	const char *trel, *tbase, *slash;
	int r, tpfd;

	r = normalize_path(e->hardlink, &tnorm);
	if (r < 0 || !*tnorm) {
		_cleanup_free_ char *q = escape(e->hardlink);
		return fail_entry(u, -EPERM, e->raw, "hardlink target '%s' escapes the tree", q);
	}
	trel = tnorm;
	if (u->strip == STRIP_ON) {
		if (!under_top(u, tnorm)) {
			_cleanup_free_ char *q = escape(e->hardlink);
			return fail_entry(u, -EBADMSG, e->raw, "hardlink target '%s' not found", q);
		}
		trel += u->top_len + 1;
	}
	if (strcmp(trel, rel) == 0)
		return fail_entry(u, -EBADMSG, e->raw, "hardlink to itself");

	slash = strrchr(trel, '/');
	if (slash) {
		_cleanup_free_ char *tparent = xstrndup(trel, (size_t)(slash - trel));

		tbase = slash + 1;
		tfd = open_dir_beneath(u, tparent, false);
		if (tfd == -ENOENT) {
			_cleanup_free_ char *q = escape(e->hardlink);
			return fail_entry(u, -EBADMSG, e->raw, "hardlink target '%s' not found", q);
		}
		if (tfd < 0)
			return fail_resolve(u, tfd, e->raw, "hardlink target");
		tpfd = tfd;
	} else {
		tbase = trel;
		tpfd = u->dest_fd;
	}

	for (int tries = 0;; tries++) {
		if (linkat(tpfd, tbase, pfd, base, 0) == 0)
			break;
		if (errno == ENOENT) {
			_cleanup_free_ char *q = escape(e->hardlink);
			return fail_entry(u, -EBADMSG, e->raw, "hardlink target '%s' not found", q);
		}
		if (errno != EEXIST || tries > 0)
			return fail_entry(u, -errno, e->raw, "cannot create hardlink: %m");
		r = remove_existing(u, e->raw, pfd, base);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Apply directory M's mode, owner and mtime. */
static int apply_dir(Unpacker *u, const DirMeta *m)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, m->mtime };
	const char *rel = m->path;
	int fd;

	if (u->strip == STRIP_ON) {
		if (!under_top(u, rel))
			return 0; /* the top directory itself */
		rel += u->top_len + 1;
	}
	fd = cache_walk(u, rel, false);
	if (fd < 0)
		return fail_resolve(u, fd, m->path, "directory");
	if (u->flags & UNPACK_KEEP_OWNER)
		if (fchown(fd, m->uid, m->gid) < 0)
			return fail_entry(u, -errno, m->path, "cannot set owner: %m");
	if (fchmod(fd, file_mode(u, m->mode)) < 0)
		return fail_entry(u, -errno, m->path, "cannot set mode: %m");
	if (m->mtime.tv_nsec != UTIME_OMIT && futimens(fd, ts) < 0)
		return fail_entry(u, -errno, m->path, "cannot set mtime: %m");
	return 0;
}

/* Whether directory DIR (a normalised path) is a proper ancestor of NORM. */
static bool is_ancestor(const char *dir, const char *norm)
{
	size_t n = strlen(dir);

	return strncmp(dir, norm, n) == 0 && norm[n] == '/';
}

/*
 * u->dirs is a stack: the recorded directories that are ancestors of the
 * last entry, outermost first.  Before entry NORM, the ones that are not
 * its ancestors are done with (a depth-first archive has left them): their
 * metadata is applied now, children before parents, so that memory stays
 * bounded by the tree's depth, not its number of directories.  An entry
 * made later in a directory already applied (an archive not in
 * depth-first order) keeps that directory's mtime: see keep_parent_mtime.
 */
static int settle_dirs(Unpacker *u, const char *norm)
{
	while (u->n_dirs > 0 && !is_ancestor(u->dirs[u->n_dirs - 1].path, norm)) {
		DirMeta *m = &u->dirs[u->n_dirs - 1];
		int r = apply_dir(u, m);

		free(m->path);
		u->n_dirs--;
		if (r < 0)
			return r;
	}
	return 0;
}

/* Whether NORM's parent is the innermost directory still pending. */
static bool parent_pending(const Unpacker *u, const char *norm)
{
	const char *slash = strrchr(norm, '/');
	size_t n = slash ? (size_t)(slash - norm) : 0;

	if (n == 0)
		return true; /* the root: never recorded */
	return u->n_dirs > 0 && strlen(u->dirs[u->n_dirs - 1].path) == n &&
	       strncmp(u->dirs[u->n_dirs - 1].path, norm, n) == 0;
}

/* Apply what is still pending, children before parents. */
static int finish_dirs(Unpacker *u)
{
	return settle_dirs(u, "");
}

/*
 * Extract one entry.  DATA writes a regular file's content.  All checks
 * that refuse hostile entries are here, common to tar and squashfs.
 */
static int unpack_entry_do(Unpacker *u, const Entry *e, DataFn data, void *ctx)
{
	_cleanup_free_ char *norm = NULL;
	const char *rel, *base;
	int r, pfd;

	if (++u->entries > UNPACK_MAX_ENTRIES)
		return fail(u, -E2BIG, "too many entries (limit %llu)",
			    (unsigned long long)UNPACK_MAX_ENTRIES);

	if (*e->raw == '/')
		return fail_entry(u, -EPERM, e->raw, "absolute path");
	if (normalize_path(e->raw, &norm) < 0)
		return fail_entry(u, -EPERM, e->raw, "path escapes the tree");
	if (strlen(norm) >= PATH_MAX)
		return fail_entry(u, -ENAMETOOLONG, e->raw, "path too long");

	if (!e->hardlink) {
		switch (e->type) {
		case S_IFREG:
		case S_IFDIR:
		case S_IFLNK:
			break;
		case S_IFCHR:
		case S_IFBLK:
			if (!(u->flags & UNPACK_ALLOW_DEVICES))
				return fail_entry(u, -EPERM, e->raw, "device node refused");
			break;
		case S_IFIFO:
			if (!(u->flags & UNPACK_ALLOW_DEVICES))
				return fail_entry(u, -EPERM, e->raw, "FIFO refused");
			break;
		case S_IFSOCK:
			return fail_entry(u, -EPERM, e->raw, "socket refused");
		default:
			return fail_entry(u, -EPERM, e->raw, "unsupported entry type 0%o",
					  (unsigned)e->type);
		}
	}

	r = place(u, e, norm, &rel);
	if (r < 0)
		return r;
	r = settle_dirs(u, norm);
	if (r < 0)
		return r;
	if (!rel) {
		/* The root (".") or the stripped top directory: leave DEST_FD alone. */
		if (e->hardlink || e->type != S_IFDIR)
			return fail_entry(u, -EPERM, e->raw, "would replace the destination");
		if (*norm) /* the top directory: its metadata matters if unstripped */
			record_dir(u, e, norm);
		return 0;
	}

	pfd = get_parent(u, e->raw, rel, &base);
	if (pfd < 0)
		return pfd;

	/* A parent already done with (settle_dirs) keeps its mtime. */
	struct stat pst;
	bool keep_parent_mtime = !parent_pending(u, norm) && fstat(pfd, &pst) == 0;

	if (e->hardlink)
		r = make_hardlink(u, e, rel, pfd, base);
	else
		switch (e->type) {
		case S_IFREG:
			r = make_file(u, e, pfd, base, data, ctx);
			break;
		case S_IFDIR:
			r = make_dir(u, e, norm, pfd, base);
			break;
		case S_IFLNK:
			r = make_symlink(u, e, pfd, base);
			break;
		default:
			r = make_node(u, e, pfd, base);
			break;
		}
	if (r == 0 && keep_parent_mtime) {
		struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, pst.st_mtim };
		if (futimens(pfd, ts) < 0)
			return fail_entry(u, -errno, e->raw, "cannot keep the parent's mtime: %m");
	}
	return r;
}

static int unpack_entry(Unpacker *u, const Entry *e, DataFn data, void *ctx)
{
	int r = unpack_entry_do(u, e, data, ctx);

	if (r == 0)
		flusher_kick(u);
	return r;
}

static mode_t read_umask(void)
{
	_cleanup_free_ char *s = NULL;
	const char *p;
	size_t len;

	/* umask() cannot be read without setting it, process-wide. */
	if (read_file_at(AT_FDCWD, "/proc/self/status", 1 << 16, &s, &len) < 0)
		return 0777; /* unknown: always fchmod */
	p = strstr(s, "\nUmask:");
	if (!p)
		return 0777;
	return (mode_t)strtoul(p + 7, NULL, 8) & 0777;
}

static void unpacker_done(Unpacker *u)
{
	cache_drop(u);
	for (size_t i = 0; i < u->n_dirs; i++)
		free(u->dirs[i].path);
	free(u->dirs);
	free(u->top);
	free(u->err);
	free(u->buf);
}

/* ---- tar ---- */

typedef struct TarReader {
	int fd;
	uint64_t offset;
	void *block;
	int io_errno;
	struct archive *a;
	Inflater *inf; /* decompressing on a thread, or NULL */
	StreamHash *hash;
} TarReader;

/* The tar reader's read callback when an Inflater decompresses. */
static ssize_t tar_inflated_cb(struct archive *a, void *userdata, const void **ret)
{
	TarReader *t = userdata;

	return inflater_read(t->inf, a, ret, &t->io_errno);
}

static ssize_t tar_read_cb(struct archive *a, void *userdata, const void **ret)
{
	TarReader *t = userdata;
	ssize_t n;

	do
		n = pread(t->fd, t->block, UNPACK_READ_BLOCK, (off_t)t->offset);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		t->io_errno = errno;
		archive_set_error(a, errno, "read error: %s", strerror(errno));
		return -1;
	}
	stream_hash(t->hash, t->offset, t->block, (size_t)n);
	t->offset += (uint64_t)n;
	*ret = t->block;
	return n;
}

/* No skip callback: a skip would leave bytes unhashed (StreamHash). */

static uint64_t tar_consumed(void *ctx)
{
	TarReader *t = ctx;
	int64_t n;

	if (t->inf)
		return inflater_consumed(t->inf);
	n = archive_filter_bytes(t->a, -1);

	return n > 0 ? (uint64_t)n : 0;
}

/* Turn a libarchive failure into -errno and a message. */
static int fail_archive(Unpacker *u, TarReader *t, const char *name, const char *raw, bool after)
{
	const char *where = after ? "after" : "at";
	const char *msg = archive_error_string(t->a);
	_cleanup_free_ char *q = NULL;

	if (!msg)
		msg = "unknown error";
	if (t->io_errno)
		return fail(u, -t->io_errno, "%s: %s", name, msg);
	if (archive_errno(t->a) == ENOMEM)
		return fail(u, -ENOMEM, "%s: %s", name, msg);
	if (!raw && (strcasestr(msg, "truncated") || strcasestr(msg, "no progress is possible")))
		return fail(u, -EBADMSG, "%s: truncated archive: %s", name, msg);
	if (!raw)
		return fail(u, -EBADMSG, "%s: not a valid tar archive: %s", name, msg);
	q = escape(raw);
	/* liblzma says "no progress is possible" when its input ends early. */
	if (strcasestr(msg, "truncated") || strcasestr(msg, "no progress is possible"))
		return fail(u, -EBADMSG, "%s: truncated archive %s entry '%s': %s", name, where, q,
			    msg);
	return fail(u, -EBADMSG, "%s: corrupt archive %s entry '%s': %s", name, where, q, msg);
}

typedef struct TarData {
	TarReader *t;
	const char *name;
} TarData;

static int tar_data(Unpacker *u, const Entry *e, int fd, void *ctx)
{
	TarData *d = ctx;
	uint64_t pos = 0;

	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t off;
		int r;

		r = archive_read_data_block(d->t->a, &buf, &size, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return fail_archive(u, d->t, d->name, e->raw, false);
		if (off < 0 || (uint64_t)off < pos)
			return fail_entry(u, -EBADMSG, e->raw, "corrupt sparse map");
		if ((uint64_t)off > pos) {
			if (lseek(fd, off, SEEK_SET) < 0)
				return fail_entry(u, -errno, e->raw, "cannot seek: %m");
			pos = (uint64_t)off;
		}
		if (size > UNPACK_MAX_BYTES - u->bytes)
			return fail(u, -E2BIG, "archive too large (limit %llu bytes)",
				    (unsigned long long)UNPACK_MAX_BYTES);
		r = write_all(fd, buf, size);
		if (r < 0)
			return fail_entry(u, r, e->raw, "cannot write: %s", strerror(-r));
		pos += size;
		u->bytes += size;
		maybe_progress(u, false);
	}
	if (pos < e->size && ftruncate(fd, (off_t)e->size) < 0)
		return fail_entry(u, -errno, e->raw, "cannot extend: %m");
	return 0;
}

static int unpack_tar(Unpacker *u, int archive_fd, const char *name, bool compressed, StreamHash *hash)
{
	TarReader t = { .fd = archive_fd, .hash = hash };
	TarData d = { .t = &t, .name = name };
	Inflater inf;
	_cleanup_free_ char *last = NULL;
	_cleanup_free_ Xattr *xattrs = NULL;
	size_t cap_xattrs = 0;
	int r;

	if (compressed && inflater_start(&inf, archive_fd, hash) == 0)
		t.inf = &inf;
	t.block = xmalloc(UNPACK_READ_BLOCK);
	t.a = archive_read_new();
	if (!t.a)
		die_oom();
	if ((!t.inf && archive_read_support_filter_all(t.a) < ARCHIVE_WARN) ||
	    archive_read_support_format_tar(t.a) < ARCHIVE_WARN ||
	    archive_read_support_format_gnutar(t.a) < ARCHIVE_WARN) {
		r = fail(u, -ENOTSUP, "%s: libarchive: %s", name, archive_error_string(t.a));
		goto out;
	}
	if (archive_read_set_callback_data(t.a, &t) < ARCHIVE_WARN ||
	    archive_read_set_read_callback(t.a, t.inf ? tar_inflated_cb : tar_read_cb) <
		    ARCHIVE_WARN ||
	    archive_read_open1(t.a) < ARCHIVE_WARN) {
		r = fail_archive(u, &t, name, NULL, false);
		goto out;
	}
	u->consumed = tar_consumed;
	/* Only for the duration of this call: reset at out. */
	// cppcheck-suppress autoVariables
	u->consumed_ctx = &t;

	for (;;) {
		struct archive_entry *ae;
		Entry e = {};

		r = archive_read_next_header(t.a, &ae);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			r = fail_archive(u, &t, name, last, true);
			goto out;
		}
		e.raw = archive_entry_pathname(ae);
		if (!e.raw) {
			r = fail(u, -EBADMSG, "%s: entry without a name", name);
			goto out;
		}
		free(last);
		last = xstrdup(e.raw);
		e.type = archive_entry_filetype(ae);
		e.mode = archive_entry_perm(ae);
		e.uid = (uid_t)archive_entry_uid(ae);
		e.gid = (gid_t)archive_entry_gid(ae);
		if (archive_entry_mtime_is_set(ae))
			e.mtime = (struct timespec) {
				.tv_sec = archive_entry_mtime(ae),
				.tv_nsec = archive_entry_mtime_nsec(ae),
			};
		else
			e.mtime.tv_nsec = UTIME_OMIT;
		e.symlink = archive_entry_symlink(ae);
		e.hardlink = archive_entry_hardlink(ae);
		/* Refused, never dropped: catalyst's tar (no --acls) makes none. */
		if (archive_entry_acl_types(ae) != 0) {
			r = fail_entry(u, -EBADMSG, e.raw, "has ACLs, which zeolite does not restore");
			goto out;
		}
		e.rdev = archive_entry_rdev(ae);
		e.size = archive_entry_size_is_set(ae) && archive_entry_size(ae) > 0 ?
				 (uint64_t)archive_entry_size(ae) : 0;
		if ((u->flags & UNPACK_KEEP_OWNER) && archive_entry_xattr_reset(ae) > 0) {
			Xattr x;

			/* Valid until the next header is read. */
			while (archive_entry_xattr_next(ae, &x.name, &x.value, &x.size) ==
			       ARCHIVE_OK) {
				if (!x.name || !*x.name)
					continue;
				xgrow(&xattrs, &cap_xattrs, e.n_xattrs + 1, sizeof(*xattrs));
				xattrs[e.n_xattrs++] = x;
			}
			e.xattrs = xattrs;
		}

		r = unpack_entry(u, &e, tar_data, &d);
		if (r < 0)
			goto out;
		maybe_progress(u, false);
	}
	r = 0;
out:
	u->consumed = NULL;
	u->consumed_ctx = NULL;
	archive_read_free(t.a);
	if (t.inf)
		inflater_stop(t.inf);
	free(t.block);
	return r;
}

/* ---- squashfs ---- */

typedef struct SqfsFdFile {
	sqfs_file_t base;
	int fd;
	uint64_t size;
	uint64_t consumed;
	int io_errno;
} SqfsFdFile;

static void sqfs_fd_destroy(sqfs_object_t *obj)
{
	(void)obj; /* lives on the stack; the fd belongs to the caller */
}

static int sqfs_fd_read_at(sqfs_file_t *base, sqfs_u64 offset, void *buffer, size_t size)
{
	SqfsFdFile *f = (SqfsFdFile *)base;
	char *p = buffer;

	if (offset > f->size || size > f->size - offset)
		return SQFS_ERROR_OUT_OF_BOUNDS;
	while (size > 0) {
		ssize_t n = pread(f->fd, p, size, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			f->io_errno = errno;
			return SQFS_ERROR_IO;
		}
		if (n == 0)
			return SQFS_ERROR_OUT_OF_BOUNDS; /* shrank under us */
		p += n;
		size -= (size_t)n;
		offset += (uint64_t)n;
		f->consumed += (uint64_t)n;
	}
	return 0;
}

static int sqfs_fd_write_at(sqfs_file_t *base, sqfs_u64 offset, const void *buffer, size_t size)
{
	(void)base, (void)offset, (void)buffer, (void)size;
	return SQFS_ERROR_IO;
}

static sqfs_u64 sqfs_fd_get_size(const sqfs_file_t *base)
{
	return ((const SqfsFdFile *)base)->size;
}

static int sqfs_fd_truncate(sqfs_file_t *base, sqfs_u64 size)
{
	(void)base, (void)size;
	return SQFS_ERROR_IO;
}

static uint64_t sqfs_consumed(void *ctx)
{
	return ((SqfsFdFile *)ctx)->consumed;
}

typedef struct Sqfs {
	SqfsFdFile file;
	sqfs_super_t super;
	sqfs_compressor_t *cmp;
	sqfs_id_table_t *ids;
	sqfs_dir_reader_t *dr;
	sqfs_data_reader_t *data;
	sqfs_xattr_reader_t *xr; /* with UNPACK_KEEP_OWNER only */
	const char *name;
	void *links; /* tsearch tree of SqfsLink */
} Sqfs;


typedef struct SqfsLink {
	uint32_t ino;
	char *path;
} SqfsLink;

static int link_cmp(const void *a, const void *b)
{
	uint32_t x = ((const SqfsLink *)a)->ino, y = ((const SqfsLink *)b)->ino;

	return x < y ? -1 : x > y;
}

static void link_free(void *p)
{
	SqfsLink *l = p;

	free(l->path);
	free(l);
}

static int fail_sqfs(Unpacker *u, Sqfs *s, int err, const char *raw, const char *what)
{
	_cleanup_free_ char *q = raw ? escape(raw) : NULL;
	int r;

	if (err == SQFS_ERROR_ALLOC)
		r = -ENOMEM;
	else if (err == SQFS_ERROR_IO && s->file.io_errno)
		r = -s->file.io_errno;
	else
		r = -EBADMSG;
	if (err == SQFS_ERROR_OUT_OF_BOUNDS)
		what = "truncated or corrupt image";
	if (q)
		return fail(u, r, "%s: entry '%s': %s (squashfs error %d)", s->name, q, what, err);
	return fail(u, r, "%s: %s (squashfs error %d)", s->name, what, err);
}

typedef struct SqfsData {
	Sqfs *s;
	const sqfs_inode_generic_t *inode;
} SqfsData;

/* Extended attributes read from an image, owned here. */
typedef struct SqfsXattrs {
	Xattr *v;
	size_t n, cap;
} SqfsXattrs;

static void sqfs_xattrs_clear(SqfsXattrs *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free((char *)x->v[i].name);
		free((void *)x->v[i].value);
	}
	x->n = 0;
}

/* Read INODE's extended attributes into X (cleared first). */
static int sqfs_read_xattrs(Unpacker *u, Sqfs *s, const sqfs_inode_generic_t *inode,
			    const char *path, SqfsXattrs *x)
{
	sqfs_xattr_id_t desc;
	sqfs_u32 idx;
	int r;

	sqfs_xattrs_clear(x);
	if (!s->xr || sqfs_inode_get_xattr_index(inode, &idx) < 0 || idx == 0xFFFFFFFF)
		return 0;
	r = sqfs_xattr_reader_get_desc(s->xr, idx, &desc);
	if (r == 0)
		r = sqfs_xattr_reader_seek_kv(s->xr, &desc);
	for (sqfs_u32 i = 0; r == 0 && i < desc.count; i++) {
		sqfs_xattr_entry_t *key = NULL;
		sqfs_xattr_value_t *val = NULL;
		const char *prefix;

		r = sqfs_xattr_reader_read_key(s->xr, &key);
		if (r < 0)
			break;
		r = sqfs_xattr_reader_read_value(s->xr, key, &val);
		prefix = sqfs_get_xattr_prefix(key->type & SQFS_XATTR_PREFIX_MASK);
		if (r == 0 && prefix) {
			/* libsquashfs 1.2 returns the whole name, prefix included;
			 * SIZE counts the part after the prefix. */
			const char *k = (const char *)key->key;
			size_t plen = strlen(prefix);
			Xattr *a;

			xgrow(&x->v, &x->cap, x->n + 1, sizeof(*x->v));
			a = &x->v[x->n++];
			a->name = strncmp(k, prefix, plen) == 0 ?
					  xstrndup(k, plen + key->size) :
					  xasprintf("%s%.*s", prefix, (int)key->size, k);
			a->value = memcpy(xmalloc(val->size + 1), val->value, val->size);
			a->size = val->size;
		}
		sqfs_free(val);
		sqfs_free(key);
	}
	if (r < 0)
		return fail_sqfs(u, s, r, path, "cannot read extended attributes");
	return 0;
}

static int sqfs_data(Unpacker *u, const Entry *e, int fd, void *ctx)
{
	SqfsData *d = ctx;
	uint64_t off = 0;

	while (off < e->size) {
		uint32_t want = e->size - off > UNPACK_READ_BLOCK ? UNPACK_READ_BLOCK :
								   (uint32_t)(e->size - off);
		sqfs_s32 n = sqfs_data_reader_read(d->s->data, d->inode, off, u->buf, want);
		int r;

		if (n < 0)
			return fail_sqfs(u, d->s, n, e->raw, "cannot read file data");
		if (n == 0)
			return fail_sqfs(u, d->s, SQFS_ERROR_OUT_OF_BOUNDS, e->raw, "short file data");
		r = write_all(fd, u->buf, (size_t)n);
		if (r < 0)
			return fail_entry(u, r, e->raw, "cannot write: %s", strerror(-r));
		off += (uint64_t)n;
		u->bytes += (uint64_t)n;
		maybe_progress(u, false);
	}
	return 0;
}

typedef struct SqfsChild {
	char *name;
	sqfs_inode_generic_t *inode;
} SqfsChild;

static void sqfs_children_free(SqfsChild *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].name);
		sqfs_free(c[i].inode);
	}
	free(c);
}

/* Read the listing of directory DIR into *RET (names and inodes). */
static int sqfs_list(Unpacker *u, Sqfs *s, const sqfs_inode_generic_t *dir, const char *raw,
		     SqfsChild **ret, size_t *ret_n)
{
	SqfsChild *c = NULL;
	size_t n = 0, cap = 0;
	int r;

	r = sqfs_dir_reader_open_dir(s->dr, dir, 0);
	if (r < 0)
		return fail_sqfs(u, s, r, raw, "cannot read directory");
	for (;;) {
		sqfs_dir_entry_t *de;
		sqfs_inode_generic_t *inode;

		r = sqfs_dir_reader_read(s->dr, &de);
		if (r > 0)
			break;
		if (r < 0) {
			sqfs_children_free(c, n);
			return fail_sqfs(u, s, r, raw, "cannot read directory");
		}
		xgrow(&c, &cap, n + 1, sizeof(*c));
		c[n].name = xstrndup((const char *)de->name, (size_t)de->size + 1);
		sqfs_free(de);
		r = sqfs_dir_reader_get_inode(s->dr, &inode);
		if (r < 0) {
			free(c[n].name);
			sqfs_children_free(c, n);
			return fail_sqfs(u, s, r, raw, "cannot read inode");
		}
		c[n++].inode = inode;
		if (u->entries + n > UNPACK_MAX_ENTRIES) {
			sqfs_children_free(c, n);
			return fail(u, -E2BIG, "too many entries (limit %llu)",
				    (unsigned long long)UNPACK_MAX_ENTRIES);
		}
	}
	*ret = c;
	*ret_n = n;
	return 0;
}

static uint32_t sqfs_nlink(const sqfs_inode_generic_t *inode)
{
	switch (inode->base.type) {
	case SQFS_INODE_EXT_FILE:
		return inode->data.file_ext.nlink;
	case SQFS_INODE_SLINK:
		return inode->data.slink.nlink;
	case SQFS_INODE_EXT_SLINK:
		return inode->data.slink_ext.nlink;
	case SQFS_INODE_BDEV:
	case SQFS_INODE_CDEV:
		return inode->data.dev.nlink;
	case SQFS_INODE_EXT_BDEV:
	case SQFS_INODE_EXT_CDEV:
		return inode->data.dev_ext.nlink;
	case SQFS_INODE_FIFO:
	case SQFS_INODE_SOCKET:
		return inode->data.ipc.nlink;
	case SQFS_INODE_EXT_FIFO:
	case SQFS_INODE_EXT_SOCKET:
		return inode->data.ipc_ext.nlink;
	default:
		return 1;
	}
}

static int sqfs_walk(Unpacker *u, Sqfs *s, const sqfs_inode_generic_t *dir, const char *prefix,
		     unsigned depth)
{
	SqfsChild *c = NULL;
	SqfsXattrs xs = {};
	size_t n = 0;
	int r;

	if (depth > SQFS_MAX_DEPTH)
		return fail(u, -EBADMSG, "%s: entry '%s': directories nested too deep", s->name,
			    prefix);
	r = sqfs_list(u, s, dir, prefix, &c, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const sqfs_inode_generic_t *inode = c[i].inode;
		_cleanup_free_ char *path = NULL, *target = NULL;
		SqfsData d = { .s = s, .inode = inode };
		SqfsLink key, **found = NULL;
		sqfs_u32 uid = 0, gid = 0;
		sqfs_u64 size = 0;
		Entry e = {};

		path = *prefix ? xasprintf("%s/%s", prefix, c[i].name) : xstrdup(c[i].name);
		if (!*c[i].name || strchr(c[i].name, '/') || strcmp(c[i].name, ".") == 0 ||
		    strcmp(c[i].name, "..") == 0) {
			r = fail_entry(u, -EPERM, path, "invalid file name");
			goto out;
		}
		if (strlen(path) >= PATH_MAX) {
			r = fail_entry(u, -ENAMETOOLONG, path, "path too long");
			goto out;
		}
		if (sqfs_id_table_index_to_id(s->ids, inode->base.uid_idx, &uid) < 0 ||
		    sqfs_id_table_index_to_id(s->ids, inode->base.gid_idx, &gid) < 0) {
			r = fail_sqfs(u, s, SQFS_ERROR_CORRUPTED, path, "bad owner index");
			goto out;
		}
		e = (Entry) {
			.raw = path,
			.mode = inode->base.mode & 07777,
			.uid = uid,
			.gid = gid,
			.mtime = { .tv_sec = inode->base.mod_time },
		};
		switch (inode->base.type) {
		case SQFS_INODE_DIR:
		case SQFS_INODE_EXT_DIR:
			e.type = S_IFDIR;
			break;
		case SQFS_INODE_FILE:
		case SQFS_INODE_EXT_FILE:
			e.type = S_IFREG;
			(void)sqfs_inode_get_file_size(inode, &size);
			e.size = size;
			break;
		case SQFS_INODE_SLINK:
		case SQFS_INODE_EXT_SLINK: {
			uint32_t len = inode->base.type == SQFS_INODE_SLINK ?
					       inode->data.slink.target_size :
					       inode->data.slink_ext.target_size;

			if (len > inode->payload_bytes_used) {
				r = fail_sqfs(u, s, SQFS_ERROR_CORRUPTED, path, "bad symlink");
				goto out;
			}
			target = xstrndup((const char *)inode->extra, len);
			e.type = S_IFLNK;
			e.symlink = target;
			break;
		}
		case SQFS_INODE_BDEV:
		case SQFS_INODE_EXT_BDEV:
		case SQFS_INODE_CDEV:
		case SQFS_INODE_EXT_CDEV: {
			uint32_t devno = inode->base.type == SQFS_INODE_BDEV ||
							 inode->base.type == SQFS_INODE_CDEV ?
						 inode->data.dev.devno :
						 inode->data.dev_ext.devno;

			e.type = inode->base.type == SQFS_INODE_BDEV ||
						 inode->base.type == SQFS_INODE_EXT_BDEV ?
					 S_IFBLK :
					 S_IFCHR;
			/* Linux's new_encode_dev() layout. */
			e.rdev = makedev((devno & 0xfff00) >> 8, (devno & 0xff) | ((devno >> 12) & 0xfff00));
			break;
		}
		case SQFS_INODE_FIFO:
		case SQFS_INODE_EXT_FIFO:
			e.type = S_IFIFO;
			break;
		case SQFS_INODE_SOCKET:
		case SQFS_INODE_EXT_SOCKET:
			e.type = S_IFSOCK;
			break;
		default:
			e.type = 0170000; /* refused as unsupported */
			break;
		}

		if (e.type != S_IFDIR && sqfs_nlink(inode) > 1) {
			key.ino = inode->base.inode_number;
			found = tfind(&key, &s->links, link_cmp);
			if (found)
				e.hardlink = (*found)->path;
		}

		if (!e.hardlink) {
			r = sqfs_read_xattrs(u, s, inode, path, &xs);
			if (r < 0)
				goto out;
			e.xattrs = xs.v;
			e.n_xattrs = xs.n;
		}
		r = unpack_entry(u, &e, sqfs_data, &d);
		if (r < 0)
			goto out;

		if (e.type != S_IFDIR && !found && sqfs_nlink(inode) > 1) {
			SqfsLink *l = xmalloc(sizeof(*l));

			*l = (SqfsLink) { .ino = inode->base.inode_number, .path = xstrdup(path) };
			if (!tsearch(l, &s->links, link_cmp))
				die_oom();
		}
		if (e.type == S_IFDIR) {
			r = sqfs_walk(u, s, inode, path, depth + 1);
			if (r < 0)
				goto out;
		}
	}
	r = 0;
out:
	sqfs_xattrs_clear(&xs);
	free(xs.v);
	sqfs_children_free(c, n);
	return r;
}

static int unpack_sqfs(Unpacker *u, int archive_fd, const char *name, uint64_t size,
		       bool *ret_stripped)
{
	Sqfs s = {
		.file = {
			.base = {
				.base = { .destroy = sqfs_fd_destroy },
				.read_at = sqfs_fd_read_at,
				.write_at = sqfs_fd_write_at,
				.get_size = sqfs_fd_get_size,
				.truncate = sqfs_fd_truncate,
			},
			.fd = archive_fd,
			.size = size,
		},
		.name = name,
	};
	sqfs_file_t *file = &s.file.base;
	sqfs_compressor_config_t cfg;
	sqfs_inode_generic_t *root = NULL, *top = NULL;
	SqfsChild *c = NULL;
	size_t n = 0;
	int r;

	u->consumed = sqfs_consumed;
	/* Only for the duration of this call: reset at out. */
	// cppcheck-suppress autoVariables
	u->consumed_ctx = &s.file;
	u->buf = xmalloc(UNPACK_READ_BLOCK);

	r = sqfs_super_read(&s.super, file);
	if (r < 0) {
		r = fail_sqfs(u, &s, r, NULL, "bad super block");
		goto out;
	}
	if (s.super.bytes_used > size) {
		r = fail(u, -EBADMSG, "%s: truncated squashfs image (%llu of %llu bytes)", name,
			 (unsigned long long)size, (unsigned long long)s.super.bytes_used);
		goto out;
	}
	r = sqfs_compressor_config_init(&cfg, s.super.compression_id, s.super.block_size,
					SQFS_COMP_FLAG_UNCOMPRESS);
	if (r == 0)
		r = sqfs_compressor_create(&cfg, &s.cmp);
	if (r < 0) {
		r = fail_sqfs(u, &s, r, NULL, "unsupported compressor");
		goto out;
	}
	if (s.super.flags & SQFS_FLAG_COMPRESSOR_OPTIONS) {
		r = s.cmp->read_options(s.cmp, file);
		if (r < 0) {
			r = fail_sqfs(u, &s, r, NULL, "bad compressor options");
			goto out;
		}
	}
	s.ids = sqfs_id_table_create(0);
	s.dr = sqfs_dir_reader_create(&s.super, s.cmp, file, 0);
	s.data = sqfs_data_reader_create(file, s.super.block_size, s.cmp, 0);
	if (!s.ids || !s.dr || !s.data)
		die_oom();
	r = sqfs_id_table_read(s.ids, file, &s.super, s.cmp);
	if (r < 0) {
		r = fail_sqfs(u, &s, r, NULL, "cannot read the id table");
		goto out;
	}
	r = sqfs_data_reader_load_fragment_table(s.data, &s.super);
	if (r < 0) {
		r = fail_sqfs(u, &s, r, NULL, "cannot read the fragment table");
		goto out;
	}
	if ((u->flags & UNPACK_KEEP_OWNER) && !(s.super.flags & SQFS_FLAG_NO_XATTRS) &&
	    s.super.xattr_id_table_start != UINT64_MAX) {
		s.xr = sqfs_xattr_reader_create(0);
		if (!s.xr)
			die_oom();
		r = sqfs_xattr_reader_load(s.xr, &s.super, file, s.cmp);
		if (r < 0) {
			r = fail_sqfs(u, &s, r, NULL, "cannot read the xattr table");
			goto out;
		}
	}
	r = sqfs_dir_reader_get_root_inode(s.dr, &root);
	if (r < 0) {
		r = fail_sqfs(u, &s, r, NULL, "cannot read the root inode");
		goto out;
	}
	if (root->base.type != SQFS_INODE_DIR && root->base.type != SQFS_INODE_EXT_DIR) {
		r = fail_sqfs(u, &s, SQFS_ERROR_CORRUPTED, NULL, "root is not a directory");
		goto out;
	}

	/* A single directory at the top is stripped, as for tarballs. */
	u->strip = STRIP_OFF;
	if (!(u->flags & UNPACK_NO_STRIP)) {
		r = sqfs_list(u, &s, root, "", &c, &n);
		if (r < 0)
			goto out;
		if (n == 1 && (c[0].inode->base.type == SQFS_INODE_DIR ||
			       c[0].inode->base.type == SQFS_INODE_EXT_DIR) &&
		    *c[0].name && !strchr(c[0].name, '/') && strcmp(c[0].name, ".") != 0 &&
		    strcmp(c[0].name, "..") != 0) {
			top = TAKE_PTR(c[0].inode);
			*ret_stripped = true;
			u->entries++;
		}
	}
	r = sqfs_walk(u, &s, top ? top : root, "", 0);
out:
	u->consumed = NULL;
	u->consumed_ctx = NULL;
	sqfs_children_free(c, n);
	sqfs_free(top);
	sqfs_free(root);
	tdestroy(s.links, link_free);
	if (s.xr)
		sqfs_destroy(s.xr);
	if (s.data)
		sqfs_destroy(s.data);
	if (s.dr)
		sqfs_destroy(s.dr);
	if (s.ids)
		sqfs_destroy(s.ids);
	if (s.cmp)
		sqfs_destroy(s.cmp);
	return r;
}

/* ---- entry points ---- */

int unpack_archive_at(int archive_fd, const char *name, int dest_fd, UnpackFlags flags,
		      UnpackProgressFn progress, void *userdata, UnpackStats *ret_stats,
		      char **ret_err)
{
	Unpacker u = {
		.dest_fd = dest_fd,
		.flags = flags,
		.dc.deep_fd = -EBADF,
		.progress = progress,
		.userdata = userdata,
	};
	bool sqfs_stripped = false, hashed = false;
	unsigned char magic[6], md[32] = { 0 };
	StreamHash hash = { 0 };
	struct stat st, st2;
	ssize_t n;
	int r;

	if (ret_err)
		*ret_err = NULL;
	if (!name)
		name = "archive";

	if (fstat(archive_fd, &st) < 0) {
		r = fail(&u, -errno, "%s: %m", name);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = fail(&u, -EINVAL, "%s: not a regular file", name);
		goto out;
	}
	if (st.st_size == 0) {
		r = fail(&u, -EBADMSG, "%s: empty file", name);
		goto out;
	}
	u.total = (uint64_t)st.st_size;
	u.umask = read_umask();
	(void)posix_fadvise(archive_fd, 0, 0, POSIX_FADV_SEQUENTIAL);

	do
		n = pread(archive_fd, magic, sizeof(magic), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		r = fail(&u, -errno, "%s: %m", name);
		goto out;
	}
	flusher_start(&u);
	if (n >= 4 && memcmp(magic, "hsqs", 4) == 0)
		r = unpack_sqfs(&u, archive_fd, name, (uint64_t)st.st_size, &sqfs_stripped);
	else {
		sha256_init(&hash.ctx);
		hash.on = true;
		r = unpack_tar(&u, archive_fd, name, inflate_worth_a_thread(magic, (size_t)n), &hash);
		if (r >= 0) {
			r = stream_hash_finish(&hash, archive_fd, md, &hashed);
			if (r < 0)
				r = fail(&u, r, "%s: read: %s", name, strerror(-r));
		}
	}
	if (r < 0)
		goto out;
	/* One open descriptor throughout; any write to the file since we
	 * began changes its size, mtime or ctime (docs/protocol.md). */
	if (fstat(archive_fd, &st2) < 0) {
		r = fail(&u, -errno, "%s: %m", name);
		goto out;
	}
	if (st2.st_size != st.st_size || st2.st_mtim.tv_sec != st.st_mtim.tv_sec ||
	    st2.st_mtim.tv_nsec != st.st_mtim.tv_nsec || st2.st_ctim.tv_sec != st.st_ctim.tv_sec ||
	    st2.st_ctim.tv_nsec != st.st_ctim.tv_nsec) {
		r = fail(&u, -ESTALE, "%s: changed while it was being unpacked", name);
		goto out;
	}

	if (u.strip == STRIP_ON && !u.below_top) {
		/* Only the top directory itself: keep it. */
		r = unstrip(&u);
		if (r < 0)
			goto out;
	}
	r = finish_dirs(&u);
	if (r < 0)
		goto out;
	flusher_stop(&u);
	if (syncfs(dest_fd) < 0) {
		r = fail(&u, -errno, "%s: cannot sync the tree: %m", name);
		goto out;
	}
	if (progress)
		progress(userdata, u.total, u.total);
	if (ret_stats)
		*ret_stats = (UnpackStats) {
			.entries = u.entries,
			.bytes = u.bytes,
			.stripped = u.strip == STRIP_ON || sqfs_stripped,
			.hashed = hashed,
		};
	if (ret_stats && hashed)
		memcpy(ret_stats->sha256, md, sizeof(md));
	r = 0;
out:
	if (r < 0 && ret_err)
		*ret_err = u.err ? TAKE_PTR(u.err) : xasprintf("%s: %s", name, strerror(-r));
	flusher_stop(&u);
	unpacker_done(&u);
	return r;
}
