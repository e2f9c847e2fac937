/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * jobserver.h - one GNU make jobserver for all the builds of a run
 * (`build -j`, when the config has no jobserver-fifo; docs/many-builds.md).
 *
 * The pool is TOKENS tokens, held by zeolite.  Each running build gets a
 * FIFO of its own (tmp/jobserver-<pid>/<build>.fifo, bound in the chroot
 * at PLAN_JOBSERVER_FIFO and named by MAKEFLAGS=--jobserver-auth=fifo:),
 * which its make and emerge processes use as any jobserver FIFO: read a
 * byte to take a token, write it back when done.  zeolite is the broker:
 * every tick (jobserver_balance()) it puts a token from the pool into a
 * build's empty FIFO, and takes back a token that lay unread in a FIFO
 * for a whole tick.  So at any time
 *
 *     pool + sum over builds of held = TOKENS
 *
 * where a build's "held" counts the tokens in its FIFO and in its
 * processes' hands.  When the build ends, however it ends (killed with
 * tokens taken, too), jobserver_slot_end() gives its held count back to
 * the pool: a killed build never shrinks the pool for the others.
 * Processes of a build never run more than 1 (make's implicit slot) +
 * the tokens it holds jobs; all builds together at most
 * builds + TOKENS.
 *
 * A configured jobserver-fifo (e.g. a system-wide daemon such as steve's
 * /dev/steve) is not brokered: it is bound into every chroot as it is,
 * as catalyst 4.1 passes it, and the daemon does its own accounting.
 */
#ifndef ZEOLITE_JOBSERVER_H
#define ZEOLITE_JOBSERVER_H

#include "store.h"

/* A configured jobserver-fifo must be a FIFO or a character device (a
 * daemon's) before a build starts: 0, or -EINVAL with *RET_ERR set. */
int jobserver_check_fifo(const char *path, char **ret_err);

typedef struct Jobserver Jobserver;
typedef struct JobserverSlot JobserverSlot;

/* A pool of TOKENS (>= 1) with its FIFO directory under the store's tmp/
 * (jobserver_dir()).
 * Returns 0, or -errno with *RET_ERR set. */
int jobserver_new(const Store *st, unsigned tokens, Jobserver **ret, char **ret_err);
/* A build's FIFO; its path with jobserver_slot_path(). */
int jobserver_slot_new(Jobserver *js, const char *name, JobserverSlot **ret);
const char *jobserver_slot_path(const JobserverSlot *s);
const char *jobserver_dir(const Jobserver *js);
/* The build ended: what it held goes back to the pool, its FIFO goes.
 * *RET_BACK (may be NULL): the tokens read back from its FIFO; *RET_LOST:
 * those lost with its processes (given back to the pool all the same). */
void jobserver_slot_end(Jobserver *js, JobserverSlot **s, unsigned *ret_back, unsigned *ret_lost);
/* One broker tick: feed empty FIFOs, take back idle tokens. */
void jobserver_balance(Jobserver *js);
/* How long the caller may wait before the next tick. */
int jobserver_tick_ms(const Jobserver *js);
/* In a build's child process: close the broker's descriptors. */
void jobserver_child(Jobserver *js);
/* Tokens in the pool now, and the pool's size. */
unsigned jobserver_pool(const Jobserver *js);
unsigned jobserver_tokens(const Jobserver *js);
/* Ends the slots left, removes the FIFO directory; NULL is fine. */
void jobserver_free(Jobserver *js);

#endif
