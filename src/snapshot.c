// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * snapshot.c - make a snapshot file of an ebuild repository (catalyst -s).
 *
 * Sources:
 *   git    `git rev-parse --verify TREEISH^{commit}` gives the id, and
 *          `git archive --format=tar COMMIT` the tar stream.
 *   plain  a walk of the directory in sorted order (not following
 *          symlinks, not crossing mount points, without a top-level
 *          .git) gives both the id (sha256 of paths, types, permission
 *          bits and sticky bit -- set-user/group-ID are dropped --, link
 *          targets, and each file's size and the sha256 of its data) and
 *          the output.  The
 *          tree is walked twice (once to learn the id, so that an existing
 *          snapshot costs no writing; once to write), and the second walk
 *          hashes again so that a tree that changed in between is caught.
 *
 * Outputs:
 *   sqfs     git: the tar stream is piped into tar2sqfs, which writes the
 *            image to our temporary file (passed to it as /dev/fd/3); the
 *            data goes from git straight to tar2sqfs, we never touch it.
 *            plain: the second walk feeds sqfs-writer.c in-process (no tar
 *            stream, no child), which compresses on one thread per CPU.
 *   tar.xz   the tar stream is written with libarchive (pax restricted);
 *   tar.zst  git's stream is re-encoded entry by entry.
 *
 * Publication: an O_TMPFILE in snapshots/ (or, where the filesystem has no
 * O_TMPFILE, a ".tmp.<name>.<random>" file), fsync, linkat or
 * renameat2(RENAME_NOREPLACE) to the final name, fsync of snapshots/.
 * Losing the race to another process is success.
 *
 * Children run via fork+execvp, never a shell; each one's stderr goes to a
 * memfd so that its first line can explain a failure.  SIGPIPE is blocked
 * while we run (a pending one is swallowed), so writing to a dead tar2sqfs
 * is an EPIPE error, not the death of zeolite.
 */
#include "snapshot.h"
#include "catalyst-lock.h"
#include "child.h"
#include "snapshot-name.h"
#include "sqfs-writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>

#define IO_BUFSIZE (128 * 1024)


/* ---- git ---------------------------------------------------------------- */

static bool is_hex_id(const char *s, size_t n)
{
	if (n != 40 && n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* TREEISH^{KIND} (KIND "commit" or "tree") in GIT_DIR as a full hex id. */
static int git_resolve(const char *git_dir, const char *treeish, const char *kind, const sigset_t *mask,
		       char **ret_id, char **ret_err)
{
	Child _cleanup_(child_done) c = CHILD_INIT("git rev-parse");
	_cleanup_close_ int out_fd = -EBADF;
	_cleanup_free_ char *spec = NULL;
	char buf[128];
	ssize_t n;
	int r;

	if (!*treeish || treeish[0] == '-' || strpbrk(treeish, "\n\r")) {
		*ret_err = xasprintf("'%s' is not a valid tree-ish", treeish);
		return -EINVAL;
	}
	spec = xasprintf("%s^{%s}", treeish, kind);

	out_fd = memfd_create("zeolite-git-stdout", MFD_CLOEXEC);
	if (out_fd < 0) {
		r = -errno;
		*ret_err = xasprintf("memfd_create: %s", strerror(-r));
		return r;
	}
	char *argv[] = { "git", "-C", (char *) git_dir, "rev-parse", "--verify", spec, NULL };
	r = child_spawn(&c, argv, -1, out_fd, -1, mask);
	if (r < 0)
		return spawn_error(r, "git", ret_err);
	r = child_wait(&c);
	if (r < 0) {
		*ret_err = xasprintf("waiting for git: %s", strerror(-r));
		return r;
	}
	if (child_failed(&c)) {
		_cleanup_free_ char *line = child_stderr_line(&c);
		*ret_err = xasprintf("'%s' is not a %s in %s: %s", treeish, kind, git_dir,
				     *line ? line : "git rev-parse failed");
		return -EINVAL;
	}

	n = pread(out_fd, buf, sizeof(buf) - 1, 0);
	if (n < 0) {
		r = -errno;
		*ret_err = xasprintf("reading git's output: %s", strerror(-r));
		return r;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (!is_hex_id(buf, (size_t) n)) {
		*ret_err = xasprintf("git rev-parse gave no %s id for '%s' in %s", kind, treeish, git_dir);
		return -EIO;
	}
	*ret_id = xstrndup(buf, (size_t) n);
	return 0;
}

/* ---- libarchive helpers ------------------------------------------------- */

static void archive_freep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}

static void archive_read_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

static int archive_err(struct archive *a, const char *what, char **ret_err)
{
	int e = archive_errno(a);
	const char *s = archive_error_string(a);

	*ret_err = xasprintf("%s: %s", what, s ? s : "unknown error");
	return e > 0 ? -e : -EIO;
}

/* A pax-restricted tar writer onto FD, compressed as FORMAT asks (none for
 * SNAPSHOT_SQFS: the stream goes to tar2sqfs). */
static int writer_open(SnapshotFormat format, int fd, struct archive **ret, char **ret_err)
{
	struct archive *a;
	char threads[16];

	a = archive_write_new();
	if (!a)
		die_oom();
	snprintf(threads, sizeof(threads), "%u", n_cpus());

	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK)
		goto fail;
	switch (format) {
	case SNAPSHOT_TAR_XZ:
		if (archive_write_add_filter_xz(a) != ARCHIVE_OK)
			goto fail;
		/* Older libarchive may not know the option: single-threaded then. */
		(void) archive_write_set_filter_option(a, "xz", "threads", threads);
		break;
	case SNAPSHOT_TAR_ZST:
		if (archive_write_add_filter_zstd(a) != ARCHIVE_OK)
			goto fail;
		(void) archive_write_set_filter_option(a, "zstd", "threads", threads);
		break;
	case SNAPSHOT_SQFS: /* uncompressed, into tar2sqfs */
	case _SNAPSHOT_FORMAT_MAX:
		break;
	}
	if (archive_write_set_bytes_per_block(a, 64 * 1024) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK)
		goto fail;
	if (archive_write_open_fd(a, fd) != ARCHIVE_OK)
		goto fail;
	*ret = a;
	return 0;
fail:;
	int r = archive_err(a, "setting up the tar writer", ret_err);
	archive_write_free(a);
	return r;
}

/* ---- plain directory walk ----------------------------------------------- */

typedef struct Walk {
	const char *root_name;   /* for messages */
	dev_t root_dev;
	struct sha256_ctx md;    /* hash of the tree, always */
	struct archive *aw;      /* tar writer, or NULL */
	SqfsWriter *sw;          /* image writer, or NULL (neither: hash only) */
	struct archive_entry *entry;
	Buf path;                /* relative path of the current entry */
	char *buf;               /* IO_BUFSIZE bytes */
	uint8_t file_digest[SHA256_DIGEST_SIZE]; /* of the last file's data */
	char *err;
	uint64_t n_entries;
} Walk;

static int walk_fail_why(Walk *w, int r, const char *why);

static int walk_fail(Walk *w, int r, const char *what)
{
	if (r == -ENOENT)
		/* It was listed a moment ago. */
		return walk_fail_why(w, -EAGAIN, "vanished while being read");
	if (!w->err)
		w->err = xasprintf("%s/%s: %s: %s", w->root_name, w->path.data, what, strerror(-r));
	return r;
}

/* Like walk_fail(), for reasons that errno would only obscure. */
static int walk_fail_why(Walk *w, int r, const char *why)
{
	if (!w->err)
		w->err = xasprintf("%s/%s: %s", w->root_name, w->path.data, why);
	return r;
}

static int walk_archive_fail(Walk *w)
{
	if (!w->err) {
		const char *s = archive_error_string(w->aw);
		w->err = xasprintf("%s/%s: writing tar entry: %s", w->root_name, w->path.data,
				   s ? s : "unknown error");
	}
	int e = archive_errno(w->aw);
	return e > 0 ? -e : -EIO;
}

static int walk_sqfs_fail(Walk *w, int r)
{
	if (!w->err)
		w->err = xasprintf("%s/%s: %s", w->root_name, w->path.data,
				   sqfs_writer_error(w->sw) ? sqfs_writer_error(w->sw) : strerror(-r));
	return r;
}

static void walk_hash(Walk *w, const void *p, size_t n)
{
	sha256_update(&w->md, n, p);
}

/* Names as walk_dir() collects them: the d_type, then the name. */
static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a + 1, *(char *const *) b + 1);
}

static int walk_entry(Walk *w, int dfd, const char *name, unsigned char dtype);

/* Walk the directory open at FD (taken over).  TOP: the root.  Its
 * entries come from getdents64 straight (readdir's fdopendir would cost an
 * fstat and an fcntl per directory). */
static int walk_dir(Walk *w, int fd, bool top)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	for (;;) {
		ssize_t k = getdents64(fd, w->buf, IO_BUFSIZE);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = walk_fail(w, -errno, "reading directory");
			break;
		}
		if (k == 0)
			break;
		for (ssize_t off = 0; off < k;) {
			const struct dirent64 *de = (const struct dirent64 *) (w->buf + off);

			off += de->d_reclen;
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (top && strcmp(de->d_name, ".git") == 0)
				continue;
			xgrow(&names, &cap, n + 1, sizeof(*names));
			names[n++] = xasprintf("%c%s", de->d_type ? de->d_type : DT_UNKNOWN, de->d_name);
		}
	}
	if (r >= 0) {
		if (n > 1)
			qsort(names, n, sizeof(*names), cmp_names);
		for (size_t i = 0; i < n && r >= 0; i++)
			r = walk_entry(w, fd, names[i] + 1, (unsigned char) names[i][0]);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	close(fd);
	return r;
}

/* The regular file open at FD (taken over), STX its statx. */
static int walk_file(Walk *w, int fd_, const struct statx *stx)
{
	_cleanup_close_ int fd = fd_;
	struct sha256_ctx md;
	uint64_t total = 0;
	ssize_t k;

	sha256_init(&md);
	for (;;) {
		k = read(fd, w->buf, IO_BUFSIZE);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return walk_fail(w, -errno, "reading");
		}
		if (k == 0)
			break;
		total += (uint64_t) k;
		if (total > stx->stx_size)
			return walk_fail_why(w, -EAGAIN, "grew while being read");
		sha256_update(&md, (size_t) k, (const uint8_t *) w->buf);
		if (w->aw && archive_write_data(w->aw, w->buf, (size_t) k) != k)
			return walk_archive_fail(w);
		if (w->sw) {
			int r = sqfs_writer_file_append(w->sw, w->buf, (size_t) k);
			if (r < 0)
				return walk_sqfs_fail(w, r);
		}
		/* A short read of a regular file is its end: no read for the 0. */
		if (k < IO_BUFSIZE && total == stx->stx_size)
			break;
	}
	if (total != stx->stx_size)
		return walk_fail_why(w, -EAGAIN, "shrank while being read");
	sha256_digest(&md, sizeof(w->file_digest), w->file_digest);
	walk_hash(w, w->file_digest, sizeof(w->file_digest));
	return 0;
}

#define WALK_STATX_MASK (STATX_TYPE | STATX_MODE | STATX_INO | STATX_SIZE | STATX_MTIME)

/* Open NAME in DFD (a regular file or directory, by the statx *STX made by
 * name) and check that it is still what *STX describes. */
static int walk_open(Walk *w, int dfd, const char *name, const struct statx *stx)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
				       (S_ISDIR(stx->stx_mode) ? O_DIRECTORY : 0));
	struct stat st;

	if (fd < 0)
		return walk_fail(w, -errno, "opening");
	if (fstat(fd, &st) < 0 || st.st_ino != stx->stx_ino || st.st_dev != w->root_dev ||
	    (st.st_mode & S_IFMT) != (stx->stx_mode & S_IFMT)) {
		close(fd);
		return walk_fail_why(w, -EAGAIN, "replaced while being read");
	}
	return fd;
}

static int walk_entry(Walk *w, int dfd, const char *name, unsigned char dtype)
{
	_cleanup_close_ int fd = -EBADF;
	struct statx stx;
	size_t saved = w->path.len;
	char rec[64];
	char *target = NULL;
	mode_t type;
	unsigned perm;
	char t;
	int r = 0;

	if (saved > 0)
		buf_putc(&w->path, '/');
	buf_puts(&w->path, name);

	/* A regular file is opened first and its statx taken from the fd (two
	 * calls, not statx, open and fstat).  Directories are looked at by
	 * name first: opening one would trigger an automount. */
	if (dtype == DT_REG) {
		fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd < 0 && errno != ELOOP) {
			r = walk_fail(w, -errno, "opening");
			goto out;
		}
	}
	if (fd >= 0 ? statx(fd, "", AT_EMPTY_PATH, WALK_STATX_MASK, &stx) < 0
		    : statx(dfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, WALK_STATX_MASK, &stx) < 0) {
		r = walk_fail(w, -errno, "statx");
		goto out;
	}
	/* Do not cross mount points (nor bind mounts within one filesystem). */
	if (makedev(stx.stx_dev_major, stx.stx_dev_minor) != w->root_dev ||
	    (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT & stx.stx_attributes))
		goto out;

	type = stx.stx_mode & S_IFMT;
	perm = stx.stx_mode & 01777;
	switch (type) {
	case S_IFREG:
		t = 'f';
		break;
	case S_IFDIR:
		t = 'd';
		break;
	case S_IFLNK:
		t = 'l';
		break;
	default:
		r = walk_fail_why(w, -EINVAL, "unsupported file type (not a file, directory or symlink)");
		goto out;
	}

	if (type == S_IFLNK) {
		size_t len = stx.stx_size ? stx.stx_size : PATH_MAX;
		ssize_t k;

		target = xmalloc(len + 1);
		k = readlinkat(dfd, name, target, len + 1);
		if (k < 0) {
			r = walk_fail(w, -errno, "readlink");
			goto out;
		}
		if ((size_t) k > len) {
			r = walk_fail_why(w, -EAGAIN, "changed while being read");
			goto out;
		}
		target[k] = '\0';
	}

	/* The id: path NUL type perm [size NUL sha256(data) | target NUL] per entry. */
	walk_hash(w, w->path.data, w->path.len + 1);
	if (type == S_IFREG)
		snprintf(rec, sizeof(rec), "%c%04o%" PRIu64, t, perm, (uint64_t) stx.stx_size);
	else
		snprintf(rec, sizeof(rec), "%c%04o", t, perm);
	walk_hash(w, rec, strlen(rec) + 1);
	if (target)
		walk_hash(w, target, strlen(target) + 1);
	w->n_entries++;

	if (w->aw) {
		struct archive_entry *e = archive_entry_clear(w->entry);

		archive_entry_set_pathname(e, w->path.data);
		archive_entry_set_filetype(e, type);
		archive_entry_set_perm(e, perm);
		archive_entry_set_uid(e, 0);
		archive_entry_set_gid(e, 0);
		archive_entry_set_mtime(e, stx.stx_mtime.tv_sec, stx.stx_mtime.tv_nsec);
		if (type == S_IFREG)
			archive_entry_set_size(e, (la_int64_t) stx.stx_size);
		if (target)
			archive_entry_set_symlink(e, target);
		if (archive_write_header(w->aw, e) < ARCHIVE_WARN) {
			r = walk_archive_fail(w);
			goto out;
		}
	}

	if (w->sw) {
		if (type == S_IFREG)
			r = sqfs_writer_file_begin(w->sw, name, perm, stx.stx_mtime.tv_sec);
		else if (type == S_IFDIR)
			r = sqfs_writer_dir_begin(w->sw, name, perm, stx.stx_mtime.tv_sec);
		else
			r = sqfs_writer_symlink(w->sw, name, target, stx.stx_mtime.tv_sec);
		if (r < 0) {
			r = walk_sqfs_fail(w, r);
			goto out;
		}
	}

	if ((type == S_IFREG || type == S_IFDIR) && fd < 0) {
		r = fd = walk_open(w, dfd, name, &stx);
		if (r < 0)
			goto out;
	}
	if (type == S_IFREG)
		r = walk_file(w, TAKE_FD(fd), &stx);
	else if (type == S_IFDIR)
		r = walk_dir(w, TAKE_FD(fd), false);
	if (r >= 0 && w->sw && type != S_IFLNK) {
		r = type == S_IFREG ? sqfs_writer_file_end(w->sw, w->file_digest) : sqfs_writer_dir_end(w->sw);
		if (r < 0)
			r = walk_sqfs_fail(w, r);
	}
out:
	free(target);
	w->path.len = saved;
	w->path.data[saved] = '\0';
	return r;
}

/*
 * Walk the tree at ROOT_FD (not taken over).  Always hashes; with AW also
 * writes the tar stream, with SW the image's entries (not finished).
 * *RET_DIGEST gets the hex sha256.
 */
static int walk_tree(int root_fd, const char *root_name, struct archive *aw, SqfsWriter *sw,
		     char **ret_digest, char **ret_err)
{
	Walk w = { .root_name = root_name, .aw = aw, .sw = sw };
	unsigned char md[SHA256_DIGEST_SIZE];
	unsigned md_len = SHA256_DIGEST_SIZE;
	struct stat st;
	int fd, r;

	if (fstat(root_fd, &st) < 0) {
		r = -errno;
		*ret_err = xasprintf("%s: fstat: %s", root_name, strerror(-r));
		return r;
	}
	w.root_dev = st.st_dev;
	sha256_init(&w.md);
	w.buf = xmalloc(IO_BUFSIZE);
	if (aw) {
		w.entry = archive_entry_new();
		if (!w.entry)
			die_oom();
	}
	buf_puts(&w.path, "");

	fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		r = -errno;
		w.err = xasprintf("%s: dup: %s", root_name, strerror(-r));
	} else {
		/* A fresh open description, so that readdir starts at 0. */
		int fd2 = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		r = fd2 < 0 ? -errno : 0;
		close(fd);
		if (r < 0)
			w.err = xasprintf("%s: opening directory: %s", root_name, strerror(-r));
		else
			r = walk_dir(&w, fd2, true);
	}

	if (r >= 0) {
		sha256_digest(&w.md, SHA256_DIGEST_SIZE, md);
		char *hex = xmalloc(md_len * 2 + 1);
		for (unsigned i = 0; i < md_len; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		*ret_digest = hex;
	} else
		*ret_err = TAKE_PTR(w.err);

	free(w.err);
	free(w.buf);
	buf_done(&w.path);
	if (w.entry)
		archive_entry_free(w.entry);
	return r;
}

/* ---- the temporary output file ------------------------------------------ */

typedef struct TmpFile {
	int dir_fd;  /* not owned */
	int fd;
	char *name;  /* NULL for an O_TMPFILE */
} TmpFile;

static void tmpfile_done(TmpFile *t)
{
	closep(&t->fd);
	t->fd = -EBADF;
	if (t->name) {
		(void) unlinkat(t->dir_fd, t->name, 0);
		free(t->name);
		t->name = NULL;
	}
}

static int tmpfile_open(int dir_fd, const char *final, TmpFile *t)
{
	t->dir_fd = dir_fd;
	t->fd = openat(dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
	if (t->fd >= 0) {
		if (fchmod(t->fd, 0644) < 0)
			return -errno;
		return 0;
	}
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;

	for (int tries = 0; tries < 64; tries++) {
		uint64_t rnd;

		if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd))
			rnd = (uint64_t) now_ms() ^ ((uint64_t) getpid() << 32) ^ (uint64_t) tries;
		free(t->name);
		t->name = xasprintf(".tmp.%s.%016" PRIx64, final, rnd);
		t->fd = openat(dir_fd, t->name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (t->fd >= 0) {
			if (fchmod(t->fd, 0644) < 0)
				return -errno;
			return 0;
		}
		if (errno != EEXIST) {
			int r = -errno;
			free(t->name);
			t->name = NULL;
			return r;
		}
	}
	free(t->name);
	t->name = NULL;
	return -EEXIST;
}

/* Sync T and give it its final name.  1: published; 0: FINAL appeared
 * meanwhile (ours is discarded); -errno on error. */
static int tmpfile_publish(TmpFile *t, const char *final)
{
	int r;

	if (fsync(t->fd) < 0)
		return -errno;

	if (!t->name) {
		r = linkat(t->fd, "", t->dir_fd, final, AT_EMPTY_PATH);
		if (r < 0 && (errno == ENOENT || errno == EPERM || errno == EINVAL)) {
			/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH on older kernels. */
			char p[64];
			snprintf(p, sizeof(p), "/proc/self/fd/%d", t->fd);
			r = linkat(AT_FDCWD, p, t->dir_fd, final, AT_SYMLINK_FOLLOW);
		}
		if (r < 0)
			return errno == EEXIST ? 0 : -errno;
	} else {
		r = renameat2(t->dir_fd, t->name, t->dir_fd, final, RENAME_NOREPLACE);
		if (r < 0 && errno == EINVAL) {
			/* No RENAME_NOREPLACE here: link(2) never replaces either. */
			r = linkat(t->dir_fd, t->name, t->dir_fd, final, 0);
			if (r == 0)
				(void) unlinkat(t->dir_fd, t->name, 0);
		}
		if (r < 0)
			return errno == EEXIST ? 0 : -errno;
		free(t->name);
		t->name = NULL;
	}

	if (fsync(t->dir_fd) < 0)
		return -errno;
	return 1;
}

/* ---- producers ---------------------------------------------------------- */

/* The tar2sqfs command line: the image goes to our fd 3 (--force: the
 * file exists, we made it). */
typedef struct Tar2sqfsArgv {
	char jobs[16];
	char *argv[12];
} Tar2sqfsArgv;

static char **tar2sqfs_argv(Tar2sqfsArgv *a)
{
	*a = (Tar2sqfsArgv) {
		.argv = {
			"tar2sqfs", "--quiet", "--no-skip", "--force",
			"--compressor", SNAPSHOT_SQFS_COMPRESSOR,
			"--num-jobs", NULL,
			"--defaults", "uid=0,gid=0,mode=0755",
			"/dev/fd/3", NULL,
		},
	};
	snprintf(a->jobs, sizeof(a->jobs), "%u", n_cpus());
	a->argv[7] = a->jobs;
	return a->argv;
}

static int make_pipe(int *r_end, int *w_end, char **ret_err)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0) {
		int r = -errno;
		*ret_err = xasprintf("pipe: %s", strerror(-r));
		return r;
	}
	*r_end = p[0];
	*w_end = p[1];
	return 0;
}

/* Report the failure of a producer (git or our own walk/copy) feeding a
 * consumer (tar2sqfs or our own copy): the root cause first.  A producer
 * killed by SIGPIPE only says the consumer stopped reading. */
static int pick_failure(Child *producer, int producer_r, char **producer_err,
			Child *consumer, int consumer_r, char **consumer_err, char **ret_err)
{
	bool p_fail = producer ? child_failed(producer) : producer_r < 0;
	bool c_fail = consumer ? child_failed(consumer) : consumer_r < 0;
	bool p_sigpipe = producer ? child_died_of_sigpipe(producer) : producer_r == -EPIPE;

	if (p_fail && !(p_sigpipe && c_fail)) {
		if (producer) {
			*ret_err = child_describe(producer);
			return -EIO;
		}
		*ret_err = TAKE_PTR(*producer_err);
		return producer_r;
	}
	if (c_fail) {
		if (consumer) {
			*ret_err = child_describe(consumer);
			return -EIO;
		}
		*ret_err = TAKE_PTR(*consumer_err);
		return consumer_r;
	}
	if (p_fail) {
		if (producer) {
			*ret_err = child_describe(producer);
			return -EIO;
		}
		*ret_err = TAKE_PTR(*producer_err);
		return producer_r;
	}
	return 0;
}

/* git archive | tar2sqfs /dev/fd/3 */
static int git_to_sqfs(const char *git_dir, const char *commit, int out_fd, const sigset_t *mask,
		       char **ret_err)
{
	Child _cleanup_(child_done) git = CHILD_INIT("git archive");
	Child _cleanup_(child_done) sq = CHILD_INIT("tar2sqfs");
	Tar2sqfsArgv targv;
	_cleanup_close_ int pr = -EBADF, pw = -EBADF;
	int r;

	r = make_pipe(&pr, &pw, ret_err);
	if (r < 0)
		return r;

	char *gargv[] = { "git", "-C", (char *) git_dir, "archive", "--format=tar", (char *) commit,
			  NULL };
	r = child_spawn(&git, gargv, -1, pw, -1, mask);
	if (r < 0)
		return spawn_error(r, "git", ret_err);
	closep(&pw);
	pw = -EBADF;

	r = child_spawn(&sq, tar2sqfs_argv(&targv), pr, -1, out_fd, mask);
	if (r < 0)
		return spawn_error(r, "tar2sqfs", ret_err);
	closep(&pr);
	pr = -EBADF;

	r = child_wait(&git);
	if (r >= 0)
		r = child_wait(&sq);
	if (r < 0) {
		*ret_err = xasprintf("waitpid: %s", strerror(-r));
		return r;
	}
	return pick_failure(&git, 0, NULL, &sq, 0, NULL, ret_err);
}

/* Copy every entry of the tar stream on IN_FD to AW. */
static int copy_tar(int in_fd, struct archive *aw, char **ret_err)
{
	struct archive _cleanup_(archive_read_freep) *ar = NULL;
	struct archive_entry *e;
	_cleanup_free_ char *buf = xmalloc(IO_BUFSIZE);
	int r;

	ar = archive_read_new();
	if (!ar)
		die_oom();
	if (archive_read_support_format_tar(ar) != ARCHIVE_OK ||
	    archive_read_open_fd(ar, in_fd, IO_BUFSIZE) != ARCHIVE_OK)
		return archive_err(ar, "reading git archive", ret_err);

	for (;;) {
		r = archive_read_next_header(ar, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return archive_err(ar, "reading git archive", ret_err);
		if (archive_write_header(aw, e) < ARCHIVE_WARN)
			return archive_err(aw, "writing tar", ret_err);
		for (;;) {
			la_ssize_t n = archive_read_data(ar, buf, IO_BUFSIZE);
			if (n == 0)
				break;
			if (n < 0)
				return archive_err(ar, "reading git archive", ret_err);
			if (archive_write_data(aw, buf, (size_t) n) != n)
				return archive_err(aw, "writing tar", ret_err);
		}
	}
	if (archive_write_close(aw) != ARCHIVE_OK)
		return archive_err(aw, "writing tar", ret_err);

	/* Drain the end-of-archive padding so that git is not killed by
	 * SIGPIPE for writing it after we stopped reading. */
	for (;;) {
		ssize_t n = read(in_fd, buf, IO_BUFSIZE);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			*ret_err = xasprintf("reading git archive: %s", strerror(-r));
			return r;
		}
	}
	return 0;
}

/* git archive | libarchive (re-encode) > out */
static int git_to_tar(const char *git_dir, const char *commit, SnapshotFormat format, int out_fd,
		      const sigset_t *mask, char **ret_err)
{
	Child _cleanup_(child_done) git = CHILD_INIT("git archive");
	struct archive _cleanup_(archive_freep) *aw = NULL;
	_cleanup_close_ int pr = -EBADF, pw = -EBADF;
	_cleanup_free_ char *copy_err = NULL;
	int r, copy_r;

	r = make_pipe(&pr, &pw, ret_err);
	if (r < 0)
		return r;
	char *gargv[] = { "git", "-C", (char *) git_dir, "archive", "--format=tar", (char *) commit,
			  NULL };
	r = child_spawn(&git, gargv, -1, pw, -1, mask);
	if (r < 0)
		return spawn_error(r, "git", ret_err);
	closep(&pw);
	pw = -EBADF;

	r = writer_open(format, out_fd, &aw, ret_err);
	if (r < 0)
		return r;
	copy_r = copy_tar(pr, aw, &copy_err);
	closep(&pr);
	pr = -EBADF;
	if (copy_r < 0 && git.pid > 0)
		/* git may be blocked writing; we need not its output any more.
		 * Its own failure, if it had one, shows in its stderr. */
		(void) kill(git.pid, SIGPIPE);
	r = child_wait(&git);
	if (r < 0) {
		*ret_err = xasprintf("waitpid: %s", strerror(-r));
		return r;
	}
	/* Producer git, consumer our copy. */
	return pick_failure(&git, 0, NULL, NULL, copy_r, &copy_err, ret_err);
}

/* walk -> image (in this process), or walk > out.  Checks that the tree
 * still hashes to ID. */
static int plain_to_file(int root_fd, const char *root_name, const char *id,
			 SnapshotFormat format, int out_fd, char **ret_err)
{
	struct archive _cleanup_(archive_freep) *aw = NULL;
	SqfsWriter *sw = NULL;
	_cleanup_free_ char *digest = NULL;
	int r;

	if (format == SNAPSHOT_SQFS)
		r = sqfs_writer_new(out_fd, SNAPSHOT_SQFS_COMPRESSOR, n_cpus(), &sw, ret_err);
	else
		r = writer_open(format, out_fd, &aw, ret_err);
	if (r < 0)
		return r;
	r = walk_tree(root_fd, root_name, aw, sw, &digest, ret_err);
	if (r >= 0 && aw && archive_write_close(aw) != ARCHIVE_OK)
		r = archive_err(aw, "writing tar", ret_err);
	if (r >= 0 && sw) {
		r = sqfs_writer_finish(sw);
		if (r < 0)
			*ret_err = xasprintf("%s: %s", root_name, sqfs_writer_error(sw));
	}
	sqfs_writer_free(sw);
	if (r >= 0 && strcmp(digest, id) != 0) {
		*ret_err = xasprintf("%s: the directory changed while the snapshot was being made", root_name);
		r = -EAGAIN;
	}
	return r;
}

/* ---- the command -------------------------------------------------------- */


static bool repo_name_valid(const char *s)
{
	if (!s || !*s || s[0] == '.' || strlen(s) > 128)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_' || *p == '.' || *p == '+'))
			return false;
	return true;
}

/* The progress watcher: the size of the file being written, every 250 ms,
 * until its stop pipe is closed (SnapshotRequest.progress). */
typedef struct Watch {
	const SnapshotRequest *req;
	int fd;
	int stop[2];
	pthread_t thread;
} Watch;

static void *watch_thread(void *userdata)
{
	Watch *w = userdata;
	struct pollfd p = { .fd = w->stop[0], .events = POLLIN };

	while (poll(&p, 1, 250) == 0) {
		struct stat st;
		if (fstat(w->fd, &st) == 0)
			w->req->progress(w->req->userdata, (uint64_t) st.st_size);
	}
	return NULL;
}

/* Make snapshots/NAME from the commit ID (git) or the tree at ROOT_FD
 * (plain) unless it exists: 1 made, 0 there already. */
static int make_content(const Store *store, const SnapshotRequest *req, int root_fd, const char *id,
			const char *name, const sigset_t *mask, char **ret_err)
{
	TmpFile _cleanup_(tmpfile_done) tmp = { .dir_fd = -EBADF, .fd = -EBADF };
	struct stat st;
	int r;

	if (fstatat(store->snapshots_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOENT) {
		r = -errno;
		*ret_err = xasprintf("snapshots/%s: %s", name, strerror(-r));
		return r;
	}

	r = tmpfile_open(store->snapshots_fd, name, &tmp);
	if (r < 0) {
		*ret_err = xasprintf("creating a temporary file in snapshots/: %s", strerror(-r));
		return r;
	}

	Watch w = { .req = req, .fd = tmp.fd, .stop = { -EBADF, -EBADF } };
	bool watching = req->progress && pipe2(w.stop, O_CLOEXEC) == 0 &&
			pthread_create(&w.thread, NULL, watch_thread, &w) == 0;

	if (req->git_dir && req->format == SNAPSHOT_SQFS)
		r = git_to_sqfs(req->git_dir, id, tmp.fd, mask, ret_err);
	else if (req->git_dir)
		r = git_to_tar(req->git_dir, id, req->format, tmp.fd, mask, ret_err);
	else
		r = plain_to_file(root_fd, req->plain_dir, id, req->format, tmp.fd, ret_err);
	if (watching) {
		close(w.stop[1]);
		w.stop[1] = -EBADF;
		pthread_join(w.thread, NULL);
	}
	if (w.stop[0] >= 0)
		close(w.stop[0]);
	if (w.stop[1] >= 0)
		close(w.stop[1]);
	if (r < 0)
		return r;

	r = tmpfile_publish(&tmp, name);
	if (r < 0)
		*ret_err = xasprintf("publishing snapshots/%s: %s", name, strerror(-r));
	return r;
}

/* catalyst's snapshot lock, snapshots/<repo_name>-<what>.lock. */
static int take_catalyst_lock(const Store *store, const SnapshotRequest *req, const char *repo_name,
			      const char *what, int *ret_fd, char **ret_err)
{
	_cleanup_free_ char *lock = xasprintf("%s-%s.lock", repo_name, what);
	_cleanup_free_ char *entry = xasprintf("%s-%s", repo_name, what), *holder = NULL;
	int r;

	r = catalyst_lock_take(store->snapshots_fd, lock, req->lock_timeout_ms, "snapshotting", entry, ret_fd,
			       &holder);
	if (r == -ETIMEDOUT || r == -EAGAIN) {
		if (req->lock_timeout_ms > 0)
			*ret_err = xasprintf("snapshots/%s is held by %s; gave up after %ld s (lock_timeout)", lock,
					     holder, req->lock_timeout_ms / 1000);
		else
			*ret_err = xasprintf("snapshots/%s is held by %s; not waiting (lock_timeout 0)", lock, holder);
		return -ETIMEDOUT;
	}
	if (r < 0)
		*ret_err = xasprintf("snapshots/%s: %s", lock, r == -EINVAL ? "not a regular file" : strerror(-r));
	return r;
}

static int snapshot_make_guarded(const Store *store, const SnapshotRequest *req,
				 const sigset_t *mask, char **ret_name, char **ret_err)
{
	const char *repo_name = req->repo_name ? req->repo_name : SNAPSHOT_DEFAULT_REPO_NAME;
	const char *ext = snapshot_format_extension(req->format);
	_cleanup_free_ char *id = NULL, *tree = NULL, *name = NULL, *alias = NULL, *record = NULL;
	_cleanup_close_ int root_fd = -EBADF, alias_lock = -EBADF, id_lock = -EBADF;
	bool named = false;
	int r, made;

	if (!repo_name_valid(repo_name)) {
		*ret_err = xasprintf("'%s' is not a valid repository name", repo_name);
		return -EINVAL;
	}
	if ((unsigned) req->format >= _SNAPSHOT_FORMAT_MAX) {
		*ret_err = xstrdup("unknown snapshot format");
		return -EINVAL;
	}
	if (!!req->git_dir == !!req->plain_dir) {
		*ret_err = xstrdup("give either a git repository or a plain directory");
		return -EINVAL;
	}

	if (req->git_dir) {
		r = git_resolve(req->git_dir, req->treeish ? req->treeish : "HEAD", "commit", mask, &id, ret_err);
		if (r < 0)
			return r;
		r = git_resolve(req->git_dir, id, "tree", mask, &tree, ret_err);
		if (r < 0)
			return r;
		/* catalyst names the snapshot after the tree-ish as given. */
		named = req->treeish && strcmp(req->treeish, id) != 0;
		if (named && !snapshot_treeish_nameable(req->treeish)) {
			*ret_err = xasprintf("tree-ish '%s' cannot name a file in snapshots/ (a '/', a leading '.' "
					     "or a control character); give its commit, %s",
					     req->treeish, id);
			return -EINVAL;
		}
		if (req->resolved)
			req->resolved(req->userdata, repo_name, id, req->git_dir);
		/* Lock order: the tree-ish's name, then the commit's. */
		if (named) {
			r = take_catalyst_lock(store, req, repo_name, req->treeish, &alias_lock, ret_err);
			if (r < 0)
				return r;
		}
		r = take_catalyst_lock(store, req, repo_name, id, &id_lock, ret_err);
		if (r < 0)
			return r;
	} else {
		root_fd = open(req->plain_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (root_fd < 0) {
			r = -errno;
			*ret_err = xasprintf("'%s': %s", req->plain_dir, strerror(-r));
			return r == -ENOENT || r == -ENOTDIR ? -EINVAL : r;
		}
		r = walk_tree(root_fd, req->plain_dir, NULL, NULL, &id, ret_err);
		if (r < 0)
			return r;
	}

	name = xasprintf("%s-%s.%s", repo_name, id, ext);
	made = make_content(store, req, root_fd, id, name, mask, ret_err);
	if (made < 0)
		return made;
	closep(&id_lock);
	id_lock = -EBADF;
	if (!named) {
		*ret_name = TAKE_PTR(name);
		return made;
	}

	alias = xasprintf("%s-%s.%s", repo_name, req->treeish, ext);
	record = xasprintf("repo_name=%s\ntreeish=%s\ncommit=%s\ntree=%s\nfile=%s\ngit_dir=%s\n", repo_name,
			   req->treeish, id, tree, name, req->git_dir);
	r = snapshot_name_link(store->snapshots_fd, name, alias, record, ret_err);
	if (r < 0)
		return r;
	*ret_name = TAKE_PTR(alias);
	return made || r;
}

int snapshot_make(const Store *store, const SnapshotRequest *req, char **ret_name, char **ret_err)
{
	SigpipeGuard g;
	char *err = NULL;
	int r;

	if (!store || !req || !ret_name || !ret_err)
		return -EINVAL;

	sigpipe_block(&g);
	r = snapshot_make_guarded(store, req, &g.orig, ret_name, &err);
	sigpipe_restore(&g);

	if (r < 0)
		*ret_err = err ? err : xasprintf("%s", strerror(-r));
	else
		free(err);
	return r;
}
