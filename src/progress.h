/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * progress.h - one line on a terminal, redrawn in place, for the long
 * operations (an unpack, a lock wait).  Only when stderr is a terminal
 * (and not -q): otherwise every call here does nothing, so that logs, CI
 * and pipes get no carriage returns.  A message logged while the line is
 * shown clears it first (log.c), and the line is drawn again with the
 * next update.
 */
#ifndef ZEOLITE_PROGRESS_H
#define ZEOLITE_PROGRESS_H

#include "util.h"

/* Off for good (-q, --json...).  The default is on when stderr is a tty;
 * ZEOLITE_TEST_PROGRESS=1 forces it on (tests, without a terminal). */
void progress_disable(void);
bool progress_enabled(void);

/* Draw TEXT as the progress line (at most every 100 ms, but always the
 * first time). */
void progress_line(const char *fmt, ...) _printf_(1, 2);
/* Clear the line (before a message, or when the operation is over). */
void progress_clear(void);

/* While a process waits for a lock on LOCK_FD (with a record of its
 * holder, lock.h), redraw "waiting for pid N on HOST (COMMAND, PROGRESS);
 * giving up in S s" from a thread, every half second, until
 * progress_wait_end().  WHAT names what is waited for; TIMEOUT_MS < 0: no
 * limit. */
void progress_wait_begin(int lock_fd, const char *what, long timeout_ms);
void progress_wait_end(void);

#endif
