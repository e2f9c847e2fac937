// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cache-id.c - the id of a source file: its SHA-256 (128 bits in hex),
 * looked up in and recorded to the fingerprint index .fingerprints/ of a
 * cache kind (cache.h, docs/protocol.md "An id is a promise about
 * bytes").  A record never goes stale: it is written only for a file that
 * did not change while hashed and had settled (ctime 2 s old) before.
 * Concurrent askers of one file wait (at most lock_timeout) for the one
 * hashing it, whom they can name (its registration in locks/).
 */
#include "cache.h"
#include "cache-internal.h"
#include "archive-ops.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---- ids -------------------------------------------------------------- */

char *cache_id_of_digest(const unsigned char md[32])
{
	static const char hex[] = "0123456789abcdef";
	char *s = xmalloc(CACHE_ID_HEX_LEN + 1);
	for (unsigned i = 0; i < CACHE_ID_HEX_LEN / 2; i++) {
		s[2 * i] = hex[md[i] >> 4];
		s[2 * i + 1] = hex[md[i] & 15];
	}
	s[CACHE_ID_HEX_LEN] = '\0';
	return s;
}

static bool same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The digest of the file at FD, read while its stat S did not change. */
static int digest_fd(int fd, const struct stat *s, char **ret)
{
	unsigned char md[32];
	struct stat after;
	int r = archive_sha256_fd(fd, md);

	if (r < 0)
		return r;
	if (fstat(fd, &after) < 0)
		return -errno;
	if (!same_stat(s, &after))
		return -ESTALE; /* written to while we read it */
	*ret = cache_id_of_digest(md);
	return 0;
}

static bool read_fingerprint(int fp_fd, const char *name, char **ret_id);

/* Remove every fingerprint record that names ID: one of them was stale. */
void cache_drop_fingerprints(int kind_dir_fd, const char *id)
{
	_cleanup_close_ int fp_fd = store_subdir_at(kind_dir_fd, ".fingerprints", false);
	struct dirent *de;
	DIR *d;
	int fd;

	if (fp_fd < 0)
		return;
	fd = openat(fp_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		_cleanup_free_ char *rec = NULL;

		if (de->d_name[0] == '.')
			continue;
		if (read_fingerprint(fp_fd, de->d_name, &rec) && strcmp(rec, id) == 0)
			(void) unlinkat(fp_fd, de->d_name, 0);
	}
	closedir(d);
}

bool cache_valid_id(const char *s, size_t n)
{
	if (n != CACHE_ID_HEX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Whether .fingerprints/NAME holds an id; if so, *RET_ID is a copy. */
static bool read_fingerprint(int fp_fd, const char *name, char **ret_id)
{
	_cleanup_close_ int f = openat(fp_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	char buf[CACHE_ID_HEX_LEN + 2];
	struct stat s;
	ssize_t n;

	if (f < 0 || fstat(f, &s) < 0 || !S_ISREG(s.st_mode))
		return false;
	n = read(f, buf, sizeof(buf));
	if (n < CACHE_ID_HEX_LEN || !cache_valid_id(buf, CACHE_ID_HEX_LEN))
		return false;
	*ret_id = xstrndup(buf, CACHE_ID_HEX_LEN);
	return true;
}

/* A fingerprint is recorded only for a file whose ctime is this much
 * older than the moment its hashing began: the kernel stamps ctime with a
 * coarse clock, so a write in the same tick as the one before it could
 * leave (dev, ino, size, mtime, ctime) unchanged ("racy" as git calls it);
 * a write after our hash began gets a ctime at least this much newer. */
#define FINGERPRINT_SETTLED_NS (2LL * 1000000000)

typedef struct HasherCtx {
	char *who;
} HasherCtx;

static void hasher_found(void *userdata, const char *name, const LockOwner *o, bool alive)
{
	HasherCtx *h = userdata;

	(void) name;
	if (alive && !h->who)
		h->who = lock_owner_describe(o);
}

static int source_id_once(const Store *st, CacheKind kind, int fd, const char *label, long timeout_ms,
			  char **ret_id, char **ret_err)
{
	_cleanup_close_ int fp_fd = -EBADF, tmp_fd = -EBADF, lock_fd = -EBADF;
	_cleanup_(lock_unregister) LockRegistration reg = LOCK_REGISTRATION_INIT;
	char name[160], buf[CACHE_ID_HEX_LEN + 2], proc[64];
	struct timespec began;
	char *id = NULL;
	struct stat s;
	int r;

	if (fstat(fd, &s) < 0)
		return -errno;
	if (!S_ISREG(s.st_mode))
		return -EINVAL;
	(void) clock_gettime(CLOCK_REALTIME, &began);
	snprintf(name, sizeof(name), "%jx-%jx-%jx-%jd.%09ld-%jd.%09ld", (uintmax_t) s.st_dev,
		 (uintmax_t) s.st_ino, (uintmax_t) s.st_size, (intmax_t) s.st_mtim.tv_sec,
		 s.st_mtim.tv_nsec, (intmax_t) s.st_ctim.tv_sec, s.st_ctim.tv_nsec);

	fp_fd = store_subdir_at(cache_kind_fd(st, kind), ".fingerprints", true);
	if (fp_fd < 0) {
		*ret_err = xasprintf("open %s/cache/%s/.fingerprints: %s", st->path, cache_kind_name(kind),
				     strerror(-fp_fd));
		return fp_fd;
	}
	if (read_fingerprint(fp_fd, name, ret_id))
		return 0;

	/*
	 * Compute it once however many ask at the same time: the first takes
	 * an OFD lock on a byte of .fingerprints/.lock chosen by the name and
	 * registers as the hasher in locks/; the others wait for it and then
	 * find the record.  The wait is bounded by lock_timeout (0: none),
	 * and giving up names the hasher.  The lock only saves work, so a
	 * hasher slower than a few seconds plus 20 MB/s, or a lock that
	 * cannot be had, is no error when lock_timeout is longer: we hash.
	 */
	lock_fd = openat(fp_fd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0644);
	if (lock_fd >= 0 && (fstat(lock_fd, &s) < 0 || !S_ISREG(s.st_mode)))
		closep(&lock_fd); /* not ours (a FIFO?): hash without it */
	if (fstat(fd, &s) < 0)
		return -errno;
	if (lock_fd >= 0) {
		_cleanup_free_ char *prefix = xasprintf("hashing.%s.%s.", cache_kind_name(kind), name);
		off_t byte = (off_t)(fnv1a(name) & 0x3fffffff);
		long budget = 5000 + (long)(s.st_size / (20 * 1000));
		bool bounded = timeout_ms >= 0 && timeout_ms <= budget;

		bool waited = false;

		r = lock_byte(lock_fd, byte, F_WRLCK, 0);
		if (r == -EAGAIN) {
			waited = true;
			test_point("hash-waiting");
			r = bounded && timeout_ms == 0 ? -EAGAIN
						       : lock_byte(lock_fd, byte, F_WRLCK, bounded ? timeout_ms : budget);
			if (read_fingerprint(fp_fd, name, ret_id))
				return 0;
			if ((r == -EAGAIN || r == -ETIMEDOUT) && bounded) {
				HasherCtx h = { 0 };

				prefix[strlen(prefix) - 1] = '\0';
				(void) lock_registrations_list(st->locks_fd, prefix, hasher_found, &h);
				*ret_err = xasprintf("the digest of '%s' is being computed by %s; %s", label ? label : "?",
						     h.who ? h.who : "another process",
						     timeout_ms == 0 ? "not waiting (lock_timeout 0)"
								     : "gave up waiting (lock_timeout)");
				free(h.who);
				return -ETIMEDOUT;
			}
		}
		if (r == 0 && waited) {
			/* The hasher left no record (the file had not settled):
			 * hash it ourselves, side by side with the others who
			 * waited, not one after another. */
			(void) lock_byte(lock_fd, byte, F_UNLCK, 0);
			r = -EAGAIN;
		}
		if (r == 0) {
			LockOwner me;

			prefix[strlen(prefix) - 1] = '\0';
			lock_owner_self(&me, "hashing", label ? label : "");
			snprintf(me.progress, sizeof(me.progress), "computing the digest");
			(void) lock_register(st->locks_fd, prefix, &me, &reg);
			test_point("hashing");
		}
	}

	r = digest_fd(fd, &s, &id);
	if (r == -ELIBACC)
		*ret_err = xstrdup("cannot load " ARCHIVE_MODULE_NAME " (the archive module) to compute digests");
	else if (r < 0 && r != -ESTALE)
		*ret_err = xasprintf("read '%s' to compute its digest: %s", label ? label : "?", strerror(-r));
	if (r < 0)
		return r;
	/* Record it, if the file had settled before we began (see above):
	 * write a private file, then link it into place. */
	if ((int64_t) began.tv_sec * 1000000000 + began.tv_nsec -
		    ((int64_t) s.st_ctim.tv_sec * 1000000000 + s.st_ctim.tv_nsec) >=
	    FINGERPRINT_SETTLED_NS)
		tmp_fd = openat(fp_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (tmp_fd >= 0) {
		buf[0] = '\0';
		snprintf(buf, sizeof(buf), "%s\n", id);
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", tmp_fd);
		if (write_all(tmp_fd, buf, CACHE_ID_HEX_LEN + 1) == 0)
			(void) linkat(AT_FDCWD, proc, fp_fd, name, AT_SYMLINK_FOLLOW);
	}
	*ret_id = id;
	return 0;
}

int cache_source_id_wait(const Store *st, CacheKind kind, int fd, const char *label, long timeout_ms,
			 char **ret_id, char **ret_err)
{
	int r = -ESTALE;

	/* A file written to while it is hashed is hashed again (a few
	 * times), and its fingerprint is never recorded. */
	for (int i = 0; i < 3 && r == -ESTALE; i++)
		r = source_id_once(st, kind, fd, label, timeout_ms, ret_id, ret_err);
	if (r == -ESTALE) {
		free(*ret_err);
		*ret_err = xasprintf("'%s' kept changing while its digest was computed", label ? label : "?");
	}
	return r;
}

int cache_source_id(const Store *st, CacheKind kind, int fd, char **ret_id)
{
	_cleanup_free_ char *err = NULL;

	return cache_source_id_wait(st, kind, fd, NULL, -1, ret_id, &err);
}

