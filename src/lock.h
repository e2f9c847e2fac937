/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lock.h - OFD byte-range locks with a timeout, and the "who holds it"
 * records that let a waiter name the holder.
 *
 * Open file description locks (F_OFD_SETLK/F_OFD_SETLKW) belong to the
 * open file, not to the process: closing another descriptor of the same
 * file does not drop them (classic POSIX fcntl locks are lost that way),
 * a shared lock converts to exclusive and back atomically, and the kernel
 * drops them when the holder dies.  They conflict with POSIX fcntl locks
 * taken by other tools on the same file, unlike flock(2).
 *
 * Waiting is done asleep in the kernel (F_OFD_SETLKW).  A bounded wait is
 * done by a short-lived child process on the same open file description,
 * which the caller waits for with a deadline (see lock.c).
 */
#ifndef ZEOLITE_LOCK_H
#define ZEOLITE_LOCK_H

#include "util.h"

#include <fcntl.h>
#include <sys/types.h>

/* Byte offsets of the two locks in an entry's lock file (see cache.h). */
enum {
	LOCK_BYTE_PREPARE = 0,
	LOCK_BYTE_USE = 1,
};

/*
 * Set lock TYPE (F_RDLCK, F_WRLCK or F_UNLCK) on byte BYTE of the file open
 * at FD, waiting at most TIMEOUT_MS milliseconds (0: try once; < 0:
 * forever).  Returns 0, -EAGAIN (TIMEOUT_MS == 0 and it is held),
 * -ETIMEDOUT, or another -errno.  Converting a held lock (shared <->
 * exclusive) is atomic.
 */
int lock_byte(int fd, off_t byte, short type, long timeout_ms);

/* Whether someone else holds a lock on BYTE that conflicts with TYPE
 * (F_OFD_GETLK).  Returns 1 if so, 0 if not, or -errno. */
int lock_byte_test(int fd, off_t byte, short type);

/* Who holds (or last held) a lock: written into lock files and holder
 * records as "key=value" lines. */
typedef struct LockOwner {
	pid_t pid;
	char host[256];
	char command[256];
	int64_t since;      /* wall-clock seconds */
	char state[32];     /* "preparing", "ready", "using", "waiting", ... */
	char progress[64];  /* free text, e.g. "45% unpacked" */
	char entry[160];    /* what it is about */
} LockOwner;

/* Fill O with this process's pid, host name, command line and now. */
void lock_owner_self(LockOwner *o, const char *state, const char *entry);

/* Replace the content of the file open at FD with O's record (one pwrite
 * of a fixed-size record, so readers never see a mix of two records). */
int lock_owner_write(int fd, const LockOwner *o);

/* Read a record written by lock_owner_write(); -ENODATA if empty. */
int lock_owner_read(int fd, LockOwner *ret);

/* "pid 4711 on buildbox (zeolite prepare x, since 12:03:04, 45% unpacked)" */
char *lock_owner_describe(const LockOwner *o);

/*
 * Holder registrations: each process that uses or waits for an entry
 * publishes a small record file in the store's locks/ directory and keeps
 * an OFD lock on it for as long as it is registered.  A record whose lock
 * is free belongs to a dead process and is ignored (and removed by gc).
 * The file is created with O_TMPFILE, locked and written before it is
 * linked into place, so a visible record is never mistaken for stale.
 */
typedef struct LockRegistration {
	int fd;
	int dir_fd; /* not owned */
	char *name;
} LockRegistration;

#define LOCK_REGISTRATION_INIT { .fd = -EBADF, .dir_fd = -EBADF }

/* Register O under DIR_FD as "<prefix>.<pid>.<random>". */
int lock_register(int dir_fd, const char *prefix, const LockOwner *o, LockRegistration *ret);
/* Update the record (e.g. state "waiting" -> "using"). */
int lock_registration_update(LockRegistration *r, const LockOwner *o);
/* Unlink the record and drop its lock; idempotent. */
void lock_unregister(LockRegistration *r);

/* Callback for lock_registrations_list(): NAME is the record's file name,
 * ALIVE tells whether its owner still holds it. */
typedef void (*LockRegistrationFn)(void *userdata, const char *name, const LockOwner *o, bool alive);

/* List records under DIR_FD whose names start with PREFIX (NULL: all). */
int lock_registrations_list(int dir_fd, const char *prefix, LockRegistrationFn fn, void *userdata);

/* Remove records under DIR_FD whose owners are dead; returns how many. */
int lock_registrations_prune(int dir_fd);

#endif
