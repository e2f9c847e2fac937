// SPDX-License-Identifier: GPL-2.0-or-later
#include "progress.h"
#include "lock.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int enabled = -1; /* -1: not decided yet */
static bool shown;
static int64_t last_ms;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void progress_disable(void)
{
	enabled = 0;
}

bool progress_enabled(void)
{
	if (enabled < 0) {
		const char *t = getenv("ZEOLITE_TEST_PROGRESS");
		enabled = isatty(STDERR_FILENO) || (t && strcmp(t, "1") == 0);
	}
	return enabled > 0;
}

static void draw(const char *text)
{
	/* \r and "erase to end of line": one line, redrawn in place. */
	fprintf(stderr, "\r\033[K%s", text);
	fflush(stderr);
	shown = true;
}

void progress_line(const char *fmt, ...)
{
	char text[512];
	va_list ap;
	int64_t now;

	if (!progress_enabled())
		return;
	now = mono_ms();
	pthread_mutex_lock(&mutex);
	if (shown && now - last_ms < 100) {
		pthread_mutex_unlock(&mutex);
		return;
	}
	last_ms = now;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	draw(text);
	pthread_mutex_unlock(&mutex);
}

void progress_clear(void)
{
	if (enabled <= 0)
		return;
	pthread_mutex_lock(&mutex);
	if (shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		shown = false;
	}
	pthread_mutex_unlock(&mutex);
}

/* ---- lock waits ------------------------------------------------------- */

typedef struct Waiter {
	int fd;
	char what[160];
	int64_t deadline; /* monotonic ms, or -1 */
	bool stop;
	pthread_mutex_t m;
	pthread_cond_t c;
} Waiter;

static Waiter waiter = { .m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER };
static pthread_t waiter_thread;
static bool waiter_running;

static void *wait_thread(void *arg)
{
	Waiter *w = arg;

	pthread_mutex_lock(&w->m);
	while (!w->stop) {
		LockOwner o;
		char left[48] = "";
		struct timespec ts;

		pthread_mutex_unlock(&w->m);
		if (w->deadline >= 0)
			snprintf(left, sizeof(left), "; giving up in %lld s",
				 (long long) ((w->deadline - mono_ms() + 999) / 1000));
		if (lock_owner_read(w->fd, &o) == 0 && o.pid > 0)
			progress_line("waiting for pid %d on %s (%s%s%s)%s", (int) o.pid, o.host, o.command,
				      o.progress[0] ? ", " : "", o.progress, left);
		else
			progress_line("waiting for %s%s", w->what, left);
		pthread_mutex_lock(&w->m);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 500 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (!w->stop)
			pthread_cond_timedwait(&w->c, &w->m, &ts);
	}
	pthread_mutex_unlock(&w->m);
	return NULL;
}

void progress_wait_begin(int lock_fd, const char *what, long timeout_ms)
{
	if (!progress_enabled() || waiter_running)
		return;
	waiter.fd = lock_fd;
	snprintf(waiter.what, sizeof(waiter.what), "%s", what ? what : "a lock");
	waiter.deadline = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
	waiter.stop = false;
	waiter_running = pthread_create(&waiter_thread, NULL, wait_thread, &waiter) == 0;
}

void progress_wait_end(void)
{
	if (!waiter_running)
		return;
	pthread_mutex_lock(&waiter.m);
	waiter.stop = true;
	pthread_cond_signal(&waiter.c);
	pthread_mutex_unlock(&waiter.m);
	pthread_join(waiter_thread, NULL);
	waiter_running = false;
	progress_clear();
}
