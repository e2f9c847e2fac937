// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * jobserver.c - the run's token pool and its per-build FIFOs
 * (jobserver.h).
 */
#include "jobserver.h"
#include "fs.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define TICK_MS 20

struct JobserverSlot {
	char *name;
	char *path;
	int fd;        /* O_RDWR: the FIFO never sees EOF while we hold it */
	unsigned held; /* in its FIFO or its processes' hands */
	bool idle;     /* a token lay unread since the last tick */
	bool reclaimed;/* this tick took its idle token back: not fed again in it */
	JobserverSlot *next;
};

struct Jobserver {
	int dir_fd;
	char *dir;     /* absolute */
	char *dir_name;/* under tmp/ */
	int tmp_fd;
	unsigned tokens, pool;
	JobserverSlot *slots;
};

int jobserver_check_fifo(const char *path, char **ret_err)
{
	struct stat s;

	if (stat(path, &s) < 0) {
		*ret_err = xasprintf("jobserver-fifo '%s': %m", path);
		return -EINVAL;
	}
	if (!S_ISFIFO(s.st_mode) && !S_ISCHR(s.st_mode)) {
		*ret_err = xasprintf("jobserver-fifo '%s' is not a FIFO or a character device", path);
		return -EINVAL;
	}
	return 0;
}

int jobserver_new(const Store *st, unsigned tokens, Jobserver **ret, char **ret_err)
{
	Jobserver *js = xcalloc(1, sizeof(*js));

	js->tokens = js->pool = tokens ? tokens : 1;
	js->tmp_fd = st->tmp_fd;
	js->dir_name = xasprintf("jobserver-%ld", (long) getpid());
	js->dir = xasprintf("%s/tmp/%s", st->path, js->dir_name);
	(void) rm_rf_at(st->tmp_fd, js->dir_name); /* a dead run's, same pid */
	if (mkdirat(st->tmp_fd, js->dir_name, 0700) < 0 ||
	    (js->dir_fd = openat(st->tmp_fd, js->dir_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		int r = -errno;
		*ret_err = xasprintf("cannot create '%s': %s", js->dir, strerror(-r));
		free(js->dir);
		free(js->dir_name);
		free(js);
		return r;
	}
	*ret = js;
	return 0;
}

int jobserver_slot_new(Jobserver *js, const char *name, JobserverSlot **ret)
{
	JobserverSlot *s = xcalloc(1, sizeof(*s));
	_cleanup_free_ char *fname = xasprintf("%s.fifo", name);

	(void) unlinkat(js->dir_fd, fname, 0);
	/* 0666: portage's builds run as the portage user. */
	if (mkfifoat(js->dir_fd, fname, 0600) < 0 || fchmodat(js->dir_fd, fname, 0666, 0) < 0 ||
	    (s->fd = openat(js->dir_fd, fname, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		int r = -errno;
		(void) unlinkat(js->dir_fd, fname, 0);
		free(s);
		return r;
	}
	s->name = xstrdup(name);
	s->path = xasprintf("%s/%s", js->dir, fname);
	s->next = js->slots;
	js->slots = s;
	*ret = s;
	jobserver_balance(js);
	return 0;
}

const char *jobserver_slot_path(const JobserverSlot *s)
{
	return s->path;
}

const char *jobserver_dir(const Jobserver *js)
{
	return js->dir;
}

static unsigned fifo_avail(int fd)
{
	int n = 0;

	if (ioctl(fd, FIONREAD, &n) < 0 || n < 0)
		return 0;
	return (unsigned) n;
}

/* Read up to N tokens back from S's FIFO; returns how many came. */
static unsigned take_back(JobserverSlot *s, unsigned n)
{
	char buf[256];
	unsigned got = 0;

	while (got < n) {
		size_t want = n - got < sizeof(buf) ? n - got : sizeof(buf);
		ssize_t k = read(s->fd, buf, want);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (unsigned) k;
	}
	return got;
}

void jobserver_slot_end(Jobserver *js, JobserverSlot **sp, unsigned *ret_back, unsigned *ret_lost)
{
	JobserverSlot *s = *sp;
	_cleanup_free_ char *fname = NULL;
	unsigned back;

	if (!s)
		return;
	back = take_back(s, fifo_avail(s->fd));
	if (back > s->held)
		back = s->held; /* a process wrote bytes it never took: not ours */
	if (ret_back)
		*ret_back = back;
	if (ret_lost)
		*ret_lost = s->held - back;
	js->pool += s->held;
	for (JobserverSlot **p = &js->slots; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	fname = xasprintf("%s.fifo", s->name);
	(void) unlinkat(js->dir_fd, fname, 0);
	close(s->fd);
	free(s->name);
	free(s->path);
	free(s);
	*sp = NULL;
	jobserver_balance(js);
}

void jobserver_balance(Jobserver *js)
{
	/* Take back first: idle tokens, and all but one of those returned. */
	for (JobserverSlot *s = js->slots; s; s = s->next) {
		unsigned a = fifo_avail(s->fd), got;
		s->reclaimed = false;
		if (a == 0) {
			s->idle = false;
			continue;
		}
		s->reclaimed = s->idle;
		got = take_back(s, s->idle ? a : a - 1);
		if (got > s->held)
			got = s->held;
		s->held -= got;
		js->pool += got;
		s->idle = true;
	}
	/* Then a token into each empty FIFO while the pool has one. */
	for (JobserverSlot *s = js->slots; s && js->pool; s = s->next) {
		if (s->reclaimed || fifo_avail(s->fd) != 0)
			continue;
		if (write(s->fd, "+", 1) == 1) {
			s->held++;
			js->pool--;
			s->idle = false;
		}
	}
	/* Round robin: the first fed goes last next time. */
	if (js->slots && js->slots->next) {
		JobserverSlot *first = js->slots, *last = first;
		while (last->next)
			last = last->next;
		js->slots = first->next;
		first->next = NULL;
		last->next = first;
	}
}

int jobserver_tick_ms(const Jobserver *js)
{
	return js->slots ? TICK_MS : -1;
}

void jobserver_child(Jobserver *js)
{
	for (JobserverSlot *s = js->slots; s; s = s->next)
		close(s->fd);
	close(js->dir_fd);
}

unsigned jobserver_pool(const Jobserver *js)
{
	return js->pool;
}

unsigned jobserver_tokens(const Jobserver *js)
{
	return js->tokens;
}

void jobserver_free(Jobserver *js)
{
	if (!js)
		return;
	while (js->slots) {
		JobserverSlot *s = js->slots;
		jobserver_slot_end(js, &s, NULL, NULL);
	}
	close(js->dir_fd);
	(void) unlinkat(js->tmp_fd, js->dir_name, AT_REMOVEDIR);
	free(js->dir);
	free(js->dir_name);
	free(js);
}
