// SPDX-License-Identifier: GPL-2.0-or-later
#include "cache.h"
#include "cache-internal.h"
#include "fs.h"
#include "image.h"
#include "log.h"
#include "progress.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "build-config.h"

#define STAMP_FORMAT 1

struct CacheProgress {
	int lock_fd;
	LockOwner *owner;
	int64_t last_ms;
	bool hooked;
	bool have_digest;
	unsigned char digest[32];
};

void cache_progress_digest(CacheProgress *p, const unsigned char md[32])
{
	memcpy(p->digest, md, sizeof(p->digest));
	p->have_digest = true;
}

const char *cache_kind_name(CacheKind k)
{
	static const char *const names[] = { [CACHE_SNAPSHOTS] = "snapshots", [CACHE_SEEDS] = "seeds",
					      [CACHE_IMAGES] = "images" };
	return k < _CACHE_KIND_MAX ? names[k] : "?";
}

const char *cache_action_name(CacheAction a)
{
	static const char *const names[] = {
		[CACHE_REUSED] = "reused", [CACHE_WAITED] = "waited", [CACHE_UNPACKED] = "unpacked"
	};
	return names[a];
}

int cache_kind_fd(const Store *st, CacheKind k)
{
	switch (k) {
	case CACHE_SEEDS:
		return st->cache_seeds_fd;
	case CACHE_IMAGES:
		return st->cache_images_fd;
	default:
		return st->cache_snapshots_fd;
	}
}

#if TEST_HOOKS
/* Whether NAME is one of the comma-separated names in LIST. */
static bool name_in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *c = list; *c;) {
		size_t len = strcspn(c, ",");
		if (len == n && strncmp(c, name, n) == 0)
			return true;
		c += len;
		c += *c == ',';
	}
	return false;
}
#endif

void test_point(const char *name)
{
#if TEST_HOOKS
	const char *e = secure_getenv("ZEOLITE_TEST_EXIT_AT");
	const char *p = secure_getenv("ZEOLITE_TEST_PAUSE_AT");

	if (e && strcmp(e, name) == 0)
		_exit(99);
	if (p && name_in_list(p, name)) {
		const char *notify = secure_getenv("ZEOLITE_TEST_NOTIFY");
		if (notify) {
			int fd = open(notify, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
			if (fd >= 0) {
				_cleanup_free_ char *line = xasprintf("%s %d\n", name, (int) getpid());
				(void) write_all(fd, line, strlen(line));
				close(fd);
			}
		}
		/* ZEOLITE_TEST_RESUME: a FIFO; go on once a line is written to it. */
		const char *resume = secure_getenv("ZEOLITE_TEST_RESUME");
		if (resume) {
			int fd = open(resume, O_RDONLY | O_CLOEXEC);
			char c;
			if (fd >= 0) {
				while (read(fd, &c, 1) < 0 && errno == EINTR)
					;
				close(fd);
				return;
			}
		}
		for (;;)
			pause();
	}
#else
	(void) name;
#endif
}

void cache_progress(CacheProgress *p, uint64_t done, uint64_t total)
{
	int64_t now = now_ms();

	if (!p->hooked && total && done * 2 >= total) {
		/* Halfway: a named point for crash tests. */
		p->hooked = true;
		test_point("unpack-half");
	}
	/* On a terminal, the line redrawn in place (progress.h). */
	if (total && done < total)
		progress_line("preparing %s: %u%% (%.1f of %.1f MiB read)", p->owner->entry,
			      (unsigned) (done * 100 / total), (double) done / 1048576.0, (double) total / 1048576.0);
	else
		progress_clear();
	if (now - p->last_ms < 250 && done < total)
		return;
	p->last_ms = now;
	if (total)
		snprintf(p->owner->progress, sizeof(p->owner->progress), "%u%% unpacked",
			 (unsigned) (done * 100 / total));
	(void) lock_owner_write(p->lock_fd, p->owner);
}

/* ---- stamps ----------------------------------------------------------- */

typedef struct Stamp {
	char label[256];
	char group[128];
	uint64_t size;
	uint64_t files;
	int64_t prepared;
	int format;
} Stamp;

typedef struct FillStats {
	uint64_t entries;
	uint64_t bytes;
} FillStats;

static int stamp_write_at(int dir_fd, const CacheRequest *req, const FillStats *us)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *text = xasprintf("format=%d\nid=%s\nkind=%s\nsource=%s\ngroup=%s\n"
					      "size=%" PRIu64 "\nfiles=%" PRIu64 "\nprepared=%" PRId64 "\n",
					      STAMP_FORMAT, req->id, cache_kind_name(req->kind), req->label,
					      req->group ? req->group : "", us->bytes, us->entries,
					      (int64_t) time(NULL));
	int r;

	fd = openat(dir_fd, "stamp", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	r = write_all(fd, text, strlen(text));
	if (r < 0)
		return r;
	return fsync(fd) < 0 ? -errno : 0;
}

static int stamp_read_at(int dir_fd, const char *id, Stamp *ret)
{
	_cleanup_free_ char *path = xasprintf("%s/stamp", id);
	_cleanup_free_ char *text = NULL;
	Stamp s = { 0 };
	int r;

	r = read_file_at(dir_fd, path, 65536, &text, NULL);
	if (r < 0)
		return r;
	for (char *line = text, *next; line && *line; line = next) {
		char *eq;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq++ = '\0';
		if (strcmp(line, "source") == 0)
			snprintf(s.label, sizeof(s.label), "%s", eq);
		else if (strcmp(line, "group") == 0)
			snprintf(s.group, sizeof(s.group), "%s", eq);
		else if (strcmp(line, "size") == 0)
			s.size = strtoull(eq, NULL, 10);
		else if (strcmp(line, "files") == 0)
			s.files = strtoull(eq, NULL, 10);
		else if (strcmp(line, "prepared") == 0)
			s.prepared = strtoll(eq, NULL, 10);
		else if (strcmp(line, "format") == 0)
			s.format = atoi(eq);
	}
	*ret = s;
	return 0;
}

/* ---- acquire ---------------------------------------------------------- */

/* The lock file of entry ID, made if missing.  What zeolite did not make
 * there (a FIFO, a device node, a symlink) is opened without blocking,
 * found not to be a regular file, removed as a leftover and replaced once;
 * a directory there is -EBADFD. */
static int open_lock_file(int dir_fd, const char *id)
{
	_cleanup_free_ char *name = xasprintf("%s.lock", id);

	for (int attempt = 0;; attempt++) {
		int fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
		struct stat s;

		if (fd < 0 && errno != ELOOP)
			return -errno;
		if (fd >= 0 && fstat(fd, &s) == 0 && S_ISREG(s.st_mode))
			return fd;
		if (fd >= 0)
			close(fd);
		if (attempt > 0 || unlinkat(dir_fd, name, 0) < 0)
			return -EBADFD;
	}
}

typedef enum EntryState {
	ENTRY_ABSENT,
	ENTRY_READY,
	ENTRY_MALFORMED, /* something at <id> that is not a whole entry: leftovers */
} EntryState;

/*
 * What is at <id> in DIR_FD.  Ready means: a directory (not a symlink)
 * holding a regular file "stamp" whose format, id and kind lines match,
 * and a directory "tree" (for images, with a regular IMAGE_FILE_NAME in
 * it).  Anything else there (an empty directory left by an interrupted
 * rm -rf, a stray file or symlink, a missing or foreign stamp) cannot
 * have been published by zeolite, which renames a whole entry into place:
 * it is malformed, *RET_WHY says why.  Never blocks: the stamp is opened
 * O_NONBLOCK | O_NOFOLLOW and type-checked.  A handful of syscalls (G6).
 */
static EntryState entry_state(int dir_fd, CacheKind kind, const char *id, const char **ret_why)
{
	_cleanup_free_ char *stamp = xasprintf("%s/stamp", id), *tree = xasprintf("%s/tree", id);
	_cleanup_free_ char *want_id = xasprintf("\nid=%s\n", id);
	_cleanup_free_ char *want_kind = xasprintf("\nkind=%s\n", cache_kind_name(kind));
	_cleanup_close_ int fd = -EBADF;
	char buf[4096];
	const char *why = NULL;
	struct stat s;
	ssize_t n;

	if (fstatat(dir_fd, id, &s, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return ENTRY_ABSENT;
		why = "cannot be examined";
	} else if (S_ISLNK(s.st_mode))
		why = "a symbolic link, not an entry directory";
	else if (!S_ISDIR(s.st_mode))
		why = "not a directory";
	else if ((fd = openat(dir_fd, stamp, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) < 0)
		why = errno == ENOENT ? "no stamp" : "stamp cannot be opened";
	else if (fstat(fd, &s) < 0 || !S_ISREG(s.st_mode))
		why = "stamp is not a regular file";
	else if ((n = pread(fd, buf + 1, sizeof(buf) - 2, 0)) <= 0)
		why = "empty stamp";
	else {
		buf[0] = '\n';
		buf[n + 1] = '\0';
		if (strncmp(buf, "\nformat=1\n", 10) != 0)
			why = "stamp of an unknown format";
		else if (!strstr(buf, want_id))
			why = "stamp names another id";
		else if (!strstr(buf, want_kind))
			why = "stamp names another kind";
		else if (fstatat(dir_fd, tree, &s, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(s.st_mode))
			why = "no tree directory";
		else if (kind == CACHE_IMAGES) {
			_cleanup_free_ char *img = xasprintf("%s/tree/%s", id, IMAGE_FILE_NAME);
			if (fstatat(dir_fd, img, &s, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(s.st_mode))
				why = "no image file";
		}
	}
	if (!why)
		return ENTRY_READY;
	if (ret_why)
		*ret_why = why;
	return ENTRY_MALFORMED;
}

static bool entry_ready(int dir_fd, CacheKind kind, const char *id)
{
	return entry_state(dir_fd, kind, id, NULL) == ENTRY_READY;
}

static long remaining_ms(const CacheRequest *req, int64_t start)
{
	int64_t left;

	if (req->timeout_ms <= 0)
		return req->timeout_ms;
	left = req->timeout_ms - (now_ms() - start);
	return left > 0 ? (long) left : 1;
}

static char *describe_holder(int lock_fd, const char *what)
{
	LockOwner o;

	if (lock_owner_read(lock_fd, &o) == 0 &&
	    (strcmp(o.state, "preparing") == 0 || strcmp(o.state, "removing") == 0)) {
		_cleanup_free_ char *d = lock_owner_describe(&o);
		return xasprintf("%s is held by %s", what, d);
	}
	return xasprintf("%s is held by another process (zeolite gc removing it?)", what);
}

static char *timeout_message(const CacheRequest *req, int lock_fd, int r)
{
	_cleanup_free_ char *what = xasprintf("%s cache entry '%s' (%s)",
					      req->kind == CACHE_SEEDS ? "seed" : req->kind == CACHE_IMAGES ? "image of" : "snapshot",
					      req->label, req->id);
	_cleanup_free_ char *held = describe_holder(lock_fd, what);

	if (r == -EAGAIN)
		return xasprintf("%s; not waiting (lock_timeout 0)", held);
	return xasprintf("%s; gave up after %ld s (lock_timeout)", held, req->timeout_ms / 1000);
}

/* Count the .tmp.<id>.* leftovers of unfinished preparations, removing
 * them if REMOVE; returns how many (removed), or -errno. */
static int leftovers_at(int dir_fd, const char *id, bool remove)
{
	_cleanup_free_ char *prefix = xasprintf(".tmp.%s.", id);
	size_t plen = strlen(prefix);
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	int n = 0;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d)))
		if (strncmp(de->d_name, prefix, plen) == 0 && (!remove || rm_rf_at(dir_fd, de->d_name) >= 0))
			n++;
	closedir(d);
	return n;
}

/* A failed step of a preparation, as a message naming the operation and
 * the path: "mkdir /var/tmp/catalyst/cache/snapshots/.tmp.X: No space left". */
static int step_failed(const Store *st, CacheKind kind, const char *op, const char *name, int r, char **ret_err)
{
	free(*ret_err);
	*ret_err = xasprintf("%s %s/cache/%s/%s: %s", op, st->path, cache_kind_name(kind), name, strerror(-r));
	return r;
}

/* Move what is at NAME out of view (into .trash/) and remove it. */
static int discard_at(int dir_fd, const char *name)
{
	_cleanup_close_ int trash_fd = store_subdir_at(dir_fd, ".trash", true);
	uint64_t rnd;

	if (trash_fd < 0)
		return trash_fd;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint64_t) now_ms() ^ ((uint64_t) getpid() << 40);
	_cleanup_free_ char *t = xasprintf("%s.%016" PRIx64, name, rnd);
	if (renameat(dir_fd, name, trash_fd, t) < 0)
		return errno == ENOENT ? 0 : -errno;
	(void) fsync(dir_fd);
	return rm_rf_at(trash_fd, t);
}

static int prepare_entry(const Store *st, const CacheRequest *req, int lock_fd, char **ret_recovered,
			 char **ret_err)
{
	int dir_fd = cache_kind_fd(st, req->kind);
	_cleanup_close_ int tmp_fd = -EBADF, tree_fd = -EBADF;
	_cleanup_free_ char *tmp = NULL;
	const char *why = NULL;
	LockOwner prev, me;
	CacheProgress progress;
	FillStats us = { 0 };
	uint64_t rnd;
	int r, n;

	test_point("locked");

	/* Did the one before us die half-way?  Its record says "preparing"
	 * but it no longer holds the lock we now hold. */
	if (lock_owner_read(lock_fd, &prev) == 0 && strcmp(prev.state, "preparing") == 0) {
		_cleanup_free_ char *d = lock_owner_describe(&prev);
		*ret_recovered = xasprintf("previous preparation of '%s' by %s did not finish; starting over",
					   req->label, d);
	}
	n = leftovers_at(dir_fd, req->id, true);
	if (n > 0 && !*ret_recovered)
		*ret_recovered = xasprintf("leftovers of an unfinished preparation of '%s' found; starting over",
					   req->label);
	/* Something at <id> that is not a whole entry was not published by
	 * us (we rename whole entries into place): leftovers too. */
	if (entry_state(dir_fd, req->kind, req->id, &why) == ENTRY_MALFORMED) {
		_cleanup_free_ char *path = xasprintf("%s/cache/%s/%s", st->path, cache_kind_name(req->kind), req->id);

		r = discard_at(dir_fd, req->id);
		if (r < 0)
			return step_failed(st, req->kind, "remove the malformed entry", req->id, r, ret_err);
		free(*ret_recovered);
		*ret_recovered = xasprintf("cache entry %s was malformed (%s): removed as leftovers; "
					   "preparing '%s' again", path, why, req->label);
	}
	/* The takeover is said when it happens, not when we are done. */
	if (*ret_recovered)
		log_info("%s", *ret_recovered);
	test_point("cleaned");

	lock_owner_self(&me, "preparing", req->label);
	r = lock_owner_write(lock_fd, &me);
	if (r < 0)
		return step_failed(st, req->kind, "write the lock record of", req->id, r, ret_err);

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint64_t) now_ms();
	tmp = xasprintf(".tmp.%s.%016" PRIx64, req->id, rnd);
	if (mkdirat(dir_fd, tmp, 0755) < 0)
		return step_failed(st, req->kind, "mkdir", tmp, -errno, ret_err);
	tmp_fd = openat(dir_fd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tmp_fd < 0) {
		r = step_failed(st, req->kind, "open", tmp, -errno, ret_err);
		goto fail;
	}
	if (mkdirat(tmp_fd, "tree", 0755) < 0) {
		_cleanup_free_ char *t = xasprintf("%s/tree", tmp);
		r = step_failed(st, req->kind, "mkdir", t, -errno, ret_err);
		goto fail;
	}
	tree_fd = openat(tmp_fd, "tree", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tree_fd < 0) {
		_cleanup_free_ char *t = xasprintf("%s/tree", tmp);
		r = step_failed(st, req->kind, "open", t, -errno, ret_err);
		goto fail;
	}
	test_point("staging");

	progress = (CacheProgress) { .lock_fd = lock_fd, .owner = &me };
	r = req->fill(req->userdata, tree_fd, &progress, &us.entries, &us.bytes, ret_err);
	if (r < 0)
		goto fail;
	test_point("filled");

	/* The id is a promise about bytes (docs/protocol.md): what was
	 * unpacked must be what the id names, or nothing is published. */
	if (progress.have_digest) {
		_cleanup_free_ char *got = cache_id_of_digest(progress.digest);

		if (strcmp(got, req->id) != 0) {
			cache_drop_fingerprints(dir_fd, req->id);
			free(*ret_err);
			*ret_err = xasprintf("'%s' changed while it was unpacked: its content is now %s, not %s; "
					     "nothing published (run again)", req->label, got, req->id);
			r = -ESTALE;
			goto fail;
		}
	}

	/* The stamp: what this entry was made from, inside it. */
	r = stamp_write_at(tmp_fd, req, &us);
	if (r < 0) {
		_cleanup_free_ char *t = xasprintf("%s/stamp", tmp);
		r = step_failed(st, req->kind, "write", t, r, ret_err);
		goto fail;
	}
	if (fsync(tree_fd) < 0 || fsync(tmp_fd) < 0) {
		r = step_failed(st, req->kind, "fsync", tmp, -errno, ret_err);
		goto fail;
	}
	test_point("synced");

	r = renameat2(dir_fd, tmp, dir_fd, req->id, RENAME_NOREPLACE);
	/* No RENAME_NOREPLACE (FUSE, e.g. GlusterFS): PREPARE is ours, and
	 * rename(2) replaces nothing but an empty directory, which is
	 * replaced anyway (entry_ready never serves one). */
	if (r < 0 && errno == EINVAL)
		r = renameat(dir_fd, tmp, dir_fd, req->id);
	if (r < 0) {
		_cleanup_free_ char *op = xasprintf("rename %s to", tmp);
		r = step_failed(st, req->kind, op, req->id, -errno, ret_err);
		goto fail;
	}
	/*
	 * Published: from here on the entry is served, whatever happens to
	 * us.  Waiters may go on at once (they find it ready), so PREPARE is
	 * dropped before the directory fsync, which can stall; a failure of
	 * that fsync is a warning, not a failure (the exit status tells the
	 * truth: the entry is there and others use it).
	 */
	(void) lock_byte(lock_fd, LOCK_BYTE_PREPARE, F_UNLCK, 0);
	test_point("renamed");
	if (fsync(dir_fd) < 0)
		log_warning("%s: published, but fsync of the directory %s/cache/%s failed: %s; "
			    "the entry may not survive a system crash",
			    req->label, st->path, cache_kind_name(req->kind), strerror(errno));
	test_point("dir-synced");

	snprintf(me.state, sizeof(me.state), "ready");
	snprintf(me.progress, sizeof(me.progress), "done");
	(void) lock_owner_write(lock_fd, &me);
	test_point("published");
	return 0;

fail:
	(void) rm_rf_at(dir_fd, tmp);
	/* We cleaned up after ourselves: not a crash for the next one. */
	snprintf(me.state, sizeof(me.state), "failed");
	(void) lock_owner_write(lock_fd, &me);
	return r;
}

static char *entry_path(const Store *st, CacheKind kind, const char *id)
{
	return xasprintf("%s/cache/%s/%s/tree", st->path, cache_kind_name(kind), id);
}

int cache_acquire(const Store *st, const CacheRequest *req, CacheLease *ret, char **ret_err)
{
	int dir_fd = cache_kind_fd(st, req->kind);
	_cleanup_close_ int lock_fd = -EBADF;
	_cleanup_free_ char *recovered = NULL;
	LockRegistration reg = LOCK_REGISTRATION_INIT;
	int64_t start = now_ms(), waited = 0;
	CacheAction action = CACHE_REUSED;
	_cleanup_free_ char *prefix = NULL;
	LockOwner me;
	int r;

	if (!cache_valid_id(req->id, strlen(req->id)))
		return -EINVAL;

	_cleanup_free_ char *lockname = xasprintf("%s.lock", req->id);
	lock_fd = open_lock_file(dir_fd, req->id);
	if (lock_fd < 0)
		return step_failed(st, req->kind, "open the lock file", lockname, lock_fd, ret_err);

	/* USE shared: only gc ever holds it exclusively, and only briefly. */
	r = lock_byte(lock_fd, LOCK_BYTE_USE, F_RDLCK, req->timeout_ms);
	if (r == -ETIMEDOUT || r == -EAGAIN) {
		*ret_err = timeout_message(req, lock_fd, r);
		return r == -EAGAIN ? -ETIMEDOUT : r;
	}
	if (r < 0)
		return step_failed(st, req->kind, "lock", lockname, r, ret_err);

	/* Only the slow path and holders register (G6: the ready path is a
	 * handful of syscalls). */
	prefix = xasprintf("%s.%s", cache_kind_name(req->kind), req->id);

	if (!entry_ready(dir_fd, req->kind, req->id)) {
		/* The slow path: say who waits, for status. */
		lock_owner_self(&me, "waiting", req->label);
		r = lock_register(st->locks_fd, prefix, &me, &reg);
		if (r < 0) {
			free(*ret_err);
			*ret_err = xasprintf("register as a waiter in %s/locks: %s", st->path, strerror(-r));
			return r;
		}
		/* Not ready: become the preparer, or wait asleep for the one
		 * who is. */
		r = lock_byte(lock_fd, LOCK_BYTE_PREPARE, F_WRLCK, 0);
		if (r == -EAGAIN) {
			action = CACHE_WAITED;
			test_point("waiting");
			if (req->timeout_ms == 0)
				r = -EAGAIN;
			else {
				progress_wait_begin(lock_fd, req->label, remaining_ms(req, start));
				r = lock_byte(lock_fd, LOCK_BYTE_PREPARE, F_WRLCK, remaining_ms(req, start));
				progress_wait_end();
			}
			waited = now_ms() - start;

		}
		/* Published while we waited, by a preparer that has not let go
		 * yet (stalled after its rename): ours as much as theirs. */
		if ((r == -ETIMEDOUT || r == -EAGAIN) && entry_ready(dir_fd, req->kind, req->id))
			r = 1;
		if (r == -ETIMEDOUT || r == -EAGAIN) {
			*ret_err = timeout_message(req, lock_fd, r);
			lock_unregister(&reg);
			return -ETIMEDOUT;
		}
		if (r < 0) {
			lock_unregister(&reg);
			return step_failed(st, req->kind, "lock", lockname, r, ret_err);
		}
		if (r == 1)
			action = CACHE_WAITED; /* we do not hold PREPARE */
		else if (!entry_ready(dir_fd, req->kind, req->id)) {
			r = prepare_entry(st, req, lock_fd, &recovered, ret_err);
			if (r < 0) {
				(void) lock_byte(lock_fd, LOCK_BYTE_PREPARE, F_UNLCK, 0);
				lock_unregister(&reg);
				return r;
			}
			action = CACHE_UNPACKED;
		} else
			action = CACHE_WAITED;
		(void) lock_byte(lock_fd, LOCK_BYTE_PREPARE, F_UNLCK, 0);
	}

	if (req->hold) {
		lock_owner_self(&me, "using", req->label);
		if (reg.fd >= 0)
			(void) lock_registration_update(&reg, &me);
		else {
			r = lock_register(st->locks_fd, prefix, &me, &reg);
			if (r < 0) {
				free(*ret_err);
				*ret_err = xasprintf("register as a holder in %s/locks: %s", st->path, strerror(-r));
				return r;
			}
		}
	} else
		lock_unregister(&reg);

	*ret = (CacheLease) {
		.lock_fd = TAKE_FD(lock_fd),
		.id = xstrdup(req->id),
		.path = entry_path(st, req->kind, req->id),
		.action = action,
		.waited_ms = waited,
		.recovered = TAKE_PTR(recovered),
		.reg = reg,
	};
	return 0;
}

void cache_release(CacheLease *l)
{
	lock_unregister(&l->reg);
	closep(&l->lock_fd);
	l->lock_fd = -EBADF;
	free(l->id);
	free(l->path);
	free(l->recovered);
	l->id = l->path = l->recovered = NULL;
}

/* ---- list ------------------------------------------------------------- */

/* Collect the ids named in DIR_FD: "<id>", "<id>.lock", ".tmp.<id>.*". */
static char **collect_ids(int dir_fd)
{
	_cleanup_close_ int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char **ids = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return xcalloc(1, sizeof(char *));
	d = fdopendir(fd);
	if (!d)
		return xcalloc(1, sizeof(char *));
	fd = -EBADF;
	while ((de = readdir(d))) {
		const char *s = de->d_name;
		size_t len;
		bool dup = false;

		if (strncmp(s, ".tmp.", 5) == 0)
			s += 5;
		len = strcspn(s, ".");
		if (!cache_valid_id(s, len))
			continue;
		for (size_t i = 0; i < n && !dup; i++)
			dup = strncmp(ids[i], s, len) == 0;
		if (dup)
			continue;
		xgrow(&ids, &cap, n + 2, sizeof(char *));
		ids[n++] = xstrndup(s, len);
		ids[n] = NULL;
	}
	closedir(d);
	return ids ? ids : xcalloc(1, sizeof(char *));
}

static void entry_info(int dir_fd, CacheKind kind, const char *id, CacheEntryInfo *e)
{
	_cleanup_free_ char *lockname = xasprintf("%s.lock", id);
	_cleanup_close_ int lock_fd = -EBADF;
	struct stat ls;
	Stamp s;

	*e = (CacheEntryInfo) { .kind = kind, .id = xstrdup(id) };
	e->ready = entry_state(dir_fd, kind, id, &e->malformed) == ENTRY_READY;
	if (e->ready && stamp_read_at(dir_fd, id, &s) == 0) {
		e->label = xstrdup(s.label);
		e->group = xstrdup(s.group);
		e->size = s.size;
		e->files = s.files;
		e->prepared = s.prepared;
	}
	if (e->ready) {
		_cleanup_free_ char *sp = xasprintf("%s/stamp", id);
		struct stat ss;
		if (fstatat(dir_fd, sp, &ss, AT_SYMLINK_NOFOLLOW) == 0)
			e->prepared_ns = (int64_t) ss.st_mtim.tv_sec * 1000000000 + ss.st_mtim.tv_nsec;
	}
	e->leftovers = leftovers_at(dir_fd, id, false) > 0;
	lock_fd = openat(dir_fd, lockname, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (lock_fd >= 0 && fstat(lock_fd, &ls) == 0 && S_ISREG(ls.st_mode)) {
		e->preparing = lock_byte_test(lock_fd, LOCK_BYTE_PREPARE, F_RDLCK) > 0;
		e->in_use = lock_byte_test(lock_fd, LOCK_BYTE_USE, F_WRLCK) > 0;
		(void) lock_owner_read(lock_fd, &e->preparer);
	}
}

static void entry_info_done(CacheEntryInfo *e)
{
	free(e->id);
	free(e->label);
	free(e->group);
}

int cache_list(const Store *st, CacheKind kind, CacheEntryFn fn, void *userdata)
{
	int dir_fd = cache_kind_fd(st, kind);
	char **ids = collect_ids(dir_fd);

	for (char **id = ids; *id; id++) {
		CacheEntryInfo e;

		entry_info(dir_fd, kind, *id, &e);
		fn(userdata, &e);
		entry_info_done(&e);
	}
	strv_free(ids);
	return 0;
}

/* ---- gc --------------------------------------------------------------- */

static int cmp_prepared_desc(const void *a, const void *b)
{
	const CacheEntryInfo *x = a, *y = b;
	int g = strcmp(x->group ? x->group : "", y->group ? y->group : "");

	if (g)
		return g;
	return (x->prepared_ns < y->prepared_ns) - (x->prepared_ns > y->prepared_ns);
}

static int gc_failed(CacheGcFn fn, void *userdata, CacheKind kind, const char *label, int r)
{
	_cleanup_free_ char *why = xasprintf("not removed: moving it into .trash/ and deleting it: %s", strerror(-r));

	fn(userdata, kind, label, why);
	return r;
}

/* Remove entry ID if nobody uses or prepares it; never waits.  While it
 * removes, gc's own record is in the lock file, so that a waiter names it. */
static int gc_entry(const Store *st, CacheKind kind, const CacheEntryInfo *e, bool remove_ready,
		    const CacheGcOptions *o, CacheGcFn fn, void *userdata)
{
	int dir_fd = cache_kind_fd(st, kind);
	/* A dry run only reads (a read-only store): what entry_info() saw of
	 * the locks stands for taking them. */
	_cleanup_close_ int lock_fd = o->dry_run ? -EBADF : open_lock_file(dir_fd, e->id);
	_cleanup_free_ char *label = xasprintf("%s/%s", cache_kind_name(kind), e->id);
	bool remove_entry = e->malformed || (remove_ready && e->ready);
	LockOwner me;
	int r;

	if (o->dry_run && e->preparing)
		return 0;
	if (!o->dry_run && lock_fd < 0)
		return lock_fd;
	if (!o->dry_run && lock_byte(lock_fd, LOCK_BYTE_PREPARE, F_WRLCK, 0) < 0)
		return 0; /* being prepared: not ours to touch */
	if (!o->dry_run && (e->leftovers || remove_entry)) {
		lock_owner_self(&me, "removing", label);
		snprintf(me.progress, sizeof(me.progress), "zeolite gc removing it");
		(void) lock_owner_write(lock_fd, &me);
	}
	if (e->leftovers) {
		r = o->dry_run ? 0 : leftovers_at(dir_fd, e->id, true);
		if (r >= 0)
			fn(userdata, kind, label,
			   o->dry_run ? "would remove: leftovers of an unfinished preparation"
				      : "removed: leftovers of an unfinished preparation");
	}
	if (!remove_entry)
		goto done;
	r = o->dry_run ? (e->in_use ? -EAGAIN : 0) : lock_byte(lock_fd, LOCK_BYTE_USE, F_WRLCK, 0);
	if (r < 0) {
		fn(userdata, kind, label, e->malformed ? "kept: in use (malformed)" : "kept: in use");
		goto done;
	}
	test_point("gc-removing");
	if (e->malformed) {
		_cleanup_free_ char *why = xasprintf("%s: malformed entry (%s)",
						     o->dry_run ? "would remove" : "removed", e->malformed);
		r = o->dry_run ? 0 : discard_at(dir_fd, e->id);
		if (r < 0)
			return gc_failed(fn, userdata, kind, label, r);
		fn(userdata, kind, label, why);
		goto done;
	}
	if (o->dry_run) {
		fn(userdata, kind, label, "would remove: unused");
		return 0;
	}
	/* Out of view in one rename (into .trash/), then the slow delete. */
	r = discard_at(dir_fd, e->id);
	if (r < 0)
		return gc_failed(fn, userdata, kind, label, r);
	fn(userdata, kind, label, "removed: unused");
done:
	if (!o->dry_run && (e->leftovers || remove_entry)) {
		snprintf(me.state, sizeof(me.state), "removed");
		snprintf(me.progress, sizeof(me.progress), "by zeolite gc");
		(void) lock_owner_write(lock_fd, &me);
	}
	return 0;
}

static int gc_trash(int dir_fd)
{
	_cleanup_close_ int trash_fd = store_subdir_at(dir_fd, ".trash", false);
	struct dirent *de;
	DIR *d;
	int fd;

	if (trash_fd < 0)
		return trash_fd == -ENOENT ? 0 : trash_fd;
	fd = openat(trash_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	/* Everything here was renamed out of view under an exclusive lock
	 * by a gc that then died: nobody can be using it. */
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			(void) rm_rf_at(trash_fd, de->d_name);
	closedir(d);
	return 0;
}

int cache_gc(const Store *st, const CacheGcOptions *o, CacheGcFn fn, void *userdata)
{
	int r = 0;

	for (CacheKind k = 0; k < _CACHE_KIND_MAX; k++) {
		int dir_fd = cache_kind_fd(st, k);
		char **ids = collect_ids(dir_fd);
		size_t n = strv_length(ids);
		CacheEntryInfo *v = xcalloc(n + 1, sizeof(*v));
		const char *group = NULL;
		unsigned kept = 0;

		for (size_t i = 0; i < n; i++)
			entry_info(dir_fd, k, ids[i], &v[i]);
		qsort(v, n, sizeof(*v), cmp_prepared_desc);
		for (size_t i = 0; i < n; i++) {
			bool remove_ready = false;

			if (v[i].ready) {
				const char *g = v[i].group ? v[i].group : "";
				if (!group || strcmp(group, g) != 0) {
					group = g;
					kept = 0;
				}
				/* The newest KEEP of each group stay, used or not. */
				remove_ready = kept++ >= o->keep;
			}
			int q = gc_entry(st, k, &v[i], remove_ready, o, fn, userdata);
			if (q < 0 && r == 0)
				r = q;
		}
		if (!o->dry_run)
			(void) gc_trash(dir_fd);
		for (size_t i = 0; i < n; i++)
			entry_info_done(&v[i]);
		free(v);
		strv_free(ids);
	}
	if (!o->dry_run)
		(void) lock_registrations_prune(st->locks_fd);
	return r;
}
