/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cache.h - the shared cache of unpacked trees (DESIGN.md §3, G1-G8).
 *
 * One module owns "a tree made from a source file, shared by many
 * processes"; snapshot trees and seed trees both use it.  What an entry
 * holds is made by a fill callback; this module only does the protocol.
 *
 * Layout, under cache/<kind>/ (kind = snapshots | seeds | images):
 *
 *   <id>/stamp          what the entry was made from (written before publish)
 *   <id>/tree/          the tree itself
 *   <id>.lock           the entry's lock file (never deleted; G7)
 *   .tmp.<id>.<rand>/   a preparation in progress (or a crashed one's leftovers)
 *   .trash/             entries being removed by gc
 *   .fingerprints/      dev-ino-size-mtime of a source file -> its digest (G6)
 *
 * An entry's id is the digest (sha256, 128 bits in hex) of its source
 * file's content, never its name or date.
 *
 * Entry states and the locks that guard each transition.  The lock file
 * has two one-byte OFD locks: PREPARE (byte 0) and USE (byte 1).
 *
 *   absent --(PREPARE excl.)--> .tmp.<id>.<rand> --rename--> <id> ready
 *   ready  --(USE excl. + PREPARE excl., never waited for: gc)--> .trash --> gone
 *
 * - A user (lease) holds USE shared for as long as it uses the tree, so gc,
 *   which only ever *tries* USE exclusive, never removes a tree in use (G5).
 * - A preparer holds PREPARE exclusive from the re-check to the publishing
 *   rename; all others wait for PREPARE asleep in the kernel (G1), then
 *   find the entry ready.  Readers look only at <id>, which appears
 *   complete in one rename (G2).
 * - The preparer writes a record (pid, host, command, start, progress,
 *   state "preparing") into the lock file.  Whoever next gets PREPARE and
 *   finds state "preparing" knows that preparer died (the kernel dropped its
 *   lock): it reports it, removes the leftovers and starts over (G3).
 */
#ifndef ZEOLITE_CACHE_H
#define ZEOLITE_CACHE_H

#include "lock.h"
#include "store.h"

typedef enum CacheKind {
	CACHE_SNAPSHOTS,
	CACHE_SEEDS,
	CACHE_IMAGES,   /* squashfs images of tarballs (image.h): <id>/tree/image.sqfs */
	_CACHE_KIND_MAX,
} CacheKind;

typedef enum CacheAction {
	CACHE_REUSED,   /* ready when we looked */
	CACHE_WAITED,   /* someone else prepared it while we waited */
	CACHE_UNPACKED, /* we prepared it */
} CacheAction;

const char *cache_kind_name(CacheKind k);
const char *cache_action_name(CacheAction a);

/* Report progress of a fill: DONE of TOTAL units (bytes of source). */
typedef struct CacheProgress CacheProgress;
void cache_progress(CacheProgress *p, uint64_t done, uint64_t total);
/* Report the SHA-256 of the source bytes exactly as the fill consumed
 * them; the entry is published only if it matches the id. */
void cache_progress_digest(CacheProgress *p, const unsigned char md[32]);

/* Make the entry's content in the empty directory DEST_FD and count the
 * files and bytes it made.  Returns 0 or -errno with *RET_ERR a one-line
 * reason.  Must sync what it wrote (syncfs). */
typedef int (*CacheFillFn)(void *userdata, int dest_fd, CacheProgress *progress,
			   uint64_t *ret_files, uint64_t *ret_bytes, char **ret_err);

typedef struct CacheRequest {
	CacheKind kind;
	const char *id;     /* from cache_source_id() */
	const char *label;  /* for messages and the stamp: e.g. the file name */
	const char *group;  /* gc keeps the newest --keep N per group (repo) */
	long timeout_ms;    /* lock_timeout; 0: do not wait; < 0: forever */
	bool hold;          /* register as a lease holder (status shows it) */
	CacheFillFn fill;
	void *userdata;
} CacheRequest;

typedef struct CacheLease {
	int lock_fd;        /* holds USE shared while the lease lives */
	char *id;
	char *path;         /* absolute path of the ready tree */
	CacheAction action;
	int64_t waited_ms;
	char *recovered;    /* "previous preparation by ... did not finish", or NULL */
	LockRegistration reg;
} CacheLease;

#define CACHE_LEASE_INIT { .lock_fd = -EBADF, .reg = LOCK_REGISTRATION_INIT }

/*
 * The id of the source file open at FD: its digest, looked up through the
 * fingerprint index (computed and recorded on first use).
 */
int cache_source_id(const Store *st, CacheKind kind, int fd, char **ret_id);

/*
 * The same, waiting at most TIMEOUT_MS (lock_timeout; 0: not at all; < 0:
 * as long as hashing the file should take) for another process that is
 * computing the same digest.  Returns 0, -ETIMEDOUT with *RET_ERR naming
 * that process, -EINVAL (not a regular file), or another -errno with
 * *RET_ERR naming the operation.  LABEL names the file in messages.
 */
int cache_source_id_wait(const Store *st, CacheKind kind, int fd, const char *label, long timeout_ms,
			 char **ret_id, char **ret_err);

/*
 * Make the entry ready (preparing it if needed, waiting if someone else
 * is) and hold it as a lease until cache_release().  Returns 0, or:
 *   -ETIMEDOUT  gave up waiting (or -EAGAIN with timeout 0); *RET_ERR names
 *               the holder
 *   errors of the fill callback (-EBADMSG, -EPERM, ...), with its reason
 * On failure nothing of the preparation is left behind.
 */
int cache_acquire(const Store *st, const CacheRequest *req, CacheLease *ret, char **ret_err);

/* Drop the lease (idempotent). */
void cache_release(CacheLease *l);

/* What status shows of one entry. */
typedef struct CacheEntryInfo {
	CacheKind kind;
	char *id;
	char *label;
	char *group;
	uint64_t size;       /* bytes of file data, recorded at prepare time */
	uint64_t files;
	int64_t prepared;    /* wall-clock seconds */
	int64_t prepared_ns; /* the same in nanoseconds, for ordering */
	bool ready;          /* published */
	const char *malformed; /* why what is at <id> is not a whole entry (leftovers), or NULL */
	bool leftovers;      /* .tmp.<id>.* of an unfinished preparation exist */
	bool preparing;      /* someone holds PREPARE now */
	LockOwner preparer;  /* valid when preparing (or the last record) */
	bool in_use;         /* someone holds USE */
} CacheEntryInfo;

typedef void (*CacheEntryFn)(void *userdata, const CacheEntryInfo *e);

/* Enumerate entries (ready, being prepared, or leftovers) of KIND. */
int cache_list(const Store *st, CacheKind kind, CacheEntryFn fn, void *userdata);

typedef struct CacheGcOptions {
	unsigned keep;      /* newest N ready entries kept per group */
	bool dry_run;
} CacheGcOptions;

/* Called for each thing gc removes (or would remove). */
typedef void (*CacheGcFn)(void *userdata, CacheKind kind, const char *what, const char *why);

/* Remove unused entries beyond the newest KEEP per group, leftovers of
 * crashed preparations and dead registrations.  Never waits for a lock,
 * never removes an entry that is in use or being prepared. */
int cache_gc(const Store *st, const CacheGcOptions *o, CacheGcFn fn, void *userdata);

/* Test hook (built with -Dtest_hooks=true): at step NAME, exit(99) if
 * ZEOLITE_TEST_EXIT_AT=NAME, or announce and stop if
 * ZEOLITE_TEST_PAUSE_AT lists NAME (comma-separated names; writes
 * "NAME PID\n" to the file or FIFO named by ZEOLITE_TEST_NOTIFY, then
 * sleeps until killed, or, with ZEOLITE_TEST_RESUME naming a FIFO, until
 * a line is written to it).  Steps of a preparation, in order: locked,
 * cleaned, staging, unpack-half, filled, synced, renamed (published,
 * PREPARE dropped), dir-synced, published. */
void test_point(const char *name);

#endif
