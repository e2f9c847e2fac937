// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * inflate.c - decompression on a thread of its own, and the stream hash
 * (see inflate.h).
 */
#include "inflate.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int worker_start(Worker *w, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int r;

	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&w->thread, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
	}
	return r;
}

void worker_stop(Worker *w, bool *stop)
{
	pthread_mutex_lock(&w->lock);
	*stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

void stream_hash(StreamHash *h, uint64_t off, const void *p, size_t n)
{
	size_t skip;

	if (!h || !h->on || h->gap || n == 0)
		return;
	if (off > h->upto) {
		h->gap = true;
		return;
	}
	if (off + n <= h->upto)
		return;
	skip = (size_t)(h->upto - off);
	sha256_update(&h->ctx, n - skip, (const uint8_t *)p + skip);
	h->upto = off + n;
}

bool inflate_worth_a_thread(const unsigned char *m, size_t n)
{
	static const struct {
		const char *magic;
		size_t len;
	} table[] = {
		{ "\xfd" "7zXZ\0", 6 }, /* xz */
		{ "\x28\xb5\x2f\xfd", 4 }, /* zstd */
		{ "\x1f\x8b", 2 },           /* gzip */
		{ "BZh", 3 },                  /* bzip2 */
	};

	for (size_t i = 0; i < ELEMENTSOF(table); i++)
		if (n >= table[i].len && memcmp(m, table[i].magic, table[i].len) == 0)
			return true;
	return false;
}

static ssize_t inflate_file_cb(struct archive *a, void *userdata, const void **ret)
{
	Inflater *f = userdata;
	uint64_t off = __atomic_load_n(&f->offset, __ATOMIC_RELAXED);
	ssize_t n;

	do
		n = pread(f->fd, f->block, INFLATE_READ_BLOCK, (off_t)off);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		f->io_errno = errno;
		archive_set_error(a, errno, "read error: %s", strerror(errno));
		return -1;
	}
	stream_hash(f->hash, off, f->block, (size_t)n);
	__atomic_store_n(&f->offset, off + (uint64_t)n, __ATOMIC_RELAXED);
	*ret = f->block;
	return n;
}

/* Wait for a free buffer; returns its index, or -1 if cancelled. */
static int inflate_wait_free(Inflater *f)
{
	int i;

	pthread_mutex_lock(&f->w.lock);
	while (f->count == INFLATE_BUFS && !f->cancel)
		pthread_cond_wait(&f->w.cond, &f->w.lock);
	i = f->cancel ? -1 : (int)((f->head + f->count) % INFLATE_BUFS);
	pthread_mutex_unlock(&f->w.lock);
	return i;
}

static void inflate_publish(Inflater *f, size_t len)
{
	pthread_mutex_lock(&f->w.lock);
	f->lens[(f->head + f->count) % INFLATE_BUFS] = len;
	f->count++;
	pthread_cond_broadcast(&f->w.cond);
	pthread_mutex_unlock(&f->w.lock);
}

static void inflate_end(Inflater *f, int err, const char *msg)
{
	pthread_mutex_lock(&f->w.lock);
	f->err = err;
	if (err)
		f->msg = xstrdup(msg ? msg : "unknown error");
	f->done = true;
	pthread_cond_broadcast(&f->w.cond);
	pthread_mutex_unlock(&f->w.lock);
}

static void *inflate_thread(void *userdata)
{
	Inflater *f = userdata;
	struct archive_entry *ae;
	size_t len = 0;
	int slot, r;

	r = archive_read_next_header(f->a, &ae);
	if (r == ARCHIVE_EOF) {
		inflate_end(f, 0, NULL);
		return NULL;
	}
	if (r < ARCHIVE_WARN)
		goto fail;
	slot = inflate_wait_free(f);
	while (slot >= 0) {
		const void *buf;
		size_t size;
		la_int64_t off;

		r = archive_read_data_block(f->a, &buf, &size, &off);
		if (r == ARCHIVE_EOF) {
			if (len > 0)
				inflate_publish(f, len);
			inflate_end(f, 0, NULL);
			return NULL;
		}
		if (r < ARCHIVE_WARN)
			goto fail;
		while (size > 0 && slot >= 0) {
			size_t n = size < INFLATE_BUF_SIZE - len ? size : INFLATE_BUF_SIZE - len;

			memcpy(f->bufs[slot] + len, buf, n);
			buf = (const char *)buf + n;
			size -= n;
			len += n;
			if (len == INFLATE_BUF_SIZE) {
				inflate_publish(f, len);
				len = 0;
				slot = inflate_wait_free(f);
			}
		}
	}
	inflate_end(f, ECANCELED, "cancelled");
	return NULL;
fail:
	inflate_end(f, archive_errno(f->a) > 0 ? archive_errno(f->a) : EINVAL,
		    archive_error_string(f->a));
	return NULL;
}

int inflater_start(Inflater *f, int fd, StreamHash *hash)
{
	int r;

	*f = (Inflater) { .fd = fd, .hash = hash };
	f->a = archive_read_new();
	if (!f->a)
		die_oom();
	if (archive_read_support_filter_all(f->a) < ARCHIVE_WARN ||
	    archive_read_support_format_raw(f->a) < ARCHIVE_WARN ||
	    archive_read_set_callback_data(f->a, f) < ARCHIVE_WARN ||
	    archive_read_set_read_callback(f->a, inflate_file_cb) < ARCHIVE_WARN) {
		archive_read_free(f->a);
		return -ENOTSUP;
	}
	f->block = xmalloc(INFLATE_READ_BLOCK);
	if (archive_read_open1(f->a) < ARCHIVE_WARN) {
		/* Not worth a thread: let the plain path say what is wrong. */
		archive_read_free(f->a);
		free(f->block);
		return -EBADMSG;
	}
	for (size_t i = 0; i < INFLATE_BUFS; i++)
		f->bufs[i] = xmalloc(INFLATE_BUF_SIZE);
	r = worker_start(&f->w, inflate_thread, f);
	if (r != 0) {
		for (size_t i = 0; i < INFLATE_BUFS; i++)
			free(f->bufs[i]);
		archive_read_free(f->a);
		free(f->block);
		return -r;
	}
	return 0;
}

void inflater_stop(Inflater *f)
{
	worker_stop(&f->w, &f->cancel);
	for (size_t i = 0; i < INFLATE_BUFS; i++)
		free(f->bufs[i]);
	archive_read_free(f->a);
	free(f->block);
	free(f->msg);
}

ssize_t inflater_read(Inflater *f, struct archive *a, const void **ret, int *io_errno)
{
	ssize_t n = 0;

	pthread_mutex_lock(&f->w.lock);
	if (f->holding) {
		f->head = (f->head + 1) % INFLATE_BUFS;
		f->count--;
		f->holding = false;
		pthread_cond_broadcast(&f->w.cond);
	}
	while (f->count == 0 && !f->done)
		pthread_cond_wait(&f->w.cond, &f->w.lock);
	if (f->count > 0) {
		f->holding = true;
		*ret = f->bufs[f->head];
		n = (ssize_t)f->lens[f->head];
	} else if (f->err) {
		*io_errno = f->io_errno;
		archive_set_error(a, f->err, "%s", f->msg);
		n = -1;
	}
	pthread_mutex_unlock(&f->w.lock);
	return n;
}

uint64_t inflater_consumed(Inflater *f)
{
	return __atomic_load_n(&f->offset, __ATOMIC_RELAXED);
}

int stream_hash_finish(StreamHash *h, int fd, unsigned char md[32], bool *ret_hashed)
{
	_cleanup_free_ char *buf = xmalloc(INFLATE_READ_BLOCK);

	*ret_hashed = false;
	while (!h->gap) {
		ssize_t n = pread(fd, buf, INFLATE_READ_BLOCK, (off_t)h->upto);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		stream_hash(h, h->upto, buf, (size_t)n);
	}
	if (h->gap)
		return 0;
	sha256_digest(&h->ctx, SHA256_DIGEST_SIZE, md);
	*ret_hashed = true;
	return 0;
}
