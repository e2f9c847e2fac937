// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pack-sink.c - the output files of a pack, the hashing write callback and
 * catalyst's digest lines (see pack-sink.h).
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "pack-sink.h"

#define PACK_SYNC_STEP (UINT64_C(32) << 20)

int out_open(int stage_fd, const char *final, OutFile *f)
{
	*f = (OutFile) { .fd = -EBADF, .stage_fd = -EBADF, .final = xstrdup(final) };
	f->fd = openat(stage_fd, final, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (f->fd < 0)
		return -errno;
	f->stage_fd = stage_fd;
	if (fchmod(f->fd, 0644) < 0)
		return -errno;
	return 0;
}

void out_discard(OutFile *f)
{
	int saved = errno;

	if (f->fd >= 0)
		close(f->fd);
	free(f->final);
	*f = (OutFile) { .fd = -EBADF, .stage_fd = -EBADF };
	errno = saved;
}

la_ssize_t sink_write(struct archive *a, void *userdata, const void *buf, size_t n)
{
	Sink *s = userdata;
	int r;

	if (s->discard)
		return (la_ssize_t)n;
	r = write_all(s->f->fd, buf, n);
	if (r < 0) {
		if (!s->err)
			s->err = r;
		archive_set_error(a, -r, "%s", strerror(-r));
		return -1;
	}
	for (size_t i = 0; i < s->n_ctx; i++)
		if (EVP_DigestUpdate(s->ctx[i], buf, n) != 1) {
			if (!s->err)
				s->err = -ENOMEM;
			archive_set_error(a, ENOMEM, "digest update failed");
			return -1;
		}
	s->bytes += n;
	/* Start writeback early, so that the final fsync has little to do. */
	if (s->bytes - s->synced >= PACK_SYNC_STEP) {
		(void)sync_file_range(s->f->fd, (off64_t)s->synced, (off64_t)(s->bytes - s->synced),
				      SYNC_FILE_RANGE_WRITE);
		s->synced = s->bytes;
	}
	return (la_ssize_t)n;
}

int sink_open(Sink *s, OutFile *f, const EVP_MD *const *mds, size_t n)
{
	*s = (Sink) { .f = f };
	for (size_t i = 0; i < n; i++) {
		s->ctx[i] = EVP_MD_CTX_new();
		if (!s->ctx[i])
			die_oom();
		s->n_ctx++;
		if (EVP_DigestInit_ex(s->ctx[i], mds[i], NULL) != 1)
			return -EINVAL;
	}
	return 0;
}

int sink_hex(Sink *s, size_t i, char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	if (EVP_DigestFinal_ex(s->ctx[i], md, &len) != 1)
		return -EINVAL;
	for (unsigned k = 0; k < len; k++)
		sprintf(hex + 2 * k, "%02x", md[k]);
	hex[2 * len] = '\0';
	return 0;
}

int sink_hash_fd(Sink *s, int fd)
{
	const size_t chunk = 1u << 20;
	_cleanup_free_ char *buf = xmalloc(chunk);

	for (;;) {
		ssize_t n = pread(fd, buf, chunk, (off_t)s->bytes);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		for (size_t i = 0; i < s->n_ctx; i++)
			if (EVP_DigestUpdate(s->ctx[i], buf, (size_t)n) != 1)
				return -ENOMEM;
		s->bytes += (uint64_t)n;
	}
}

void sink_done(Sink *s)
{
	for (size_t i = 0; i < s->n_ctx; i++)
		EVP_MD_CTX_free(s->ctx[i]);
	s->n_ctx = 0;
}

const EVP_MD *digest_lookup(const char *name)
{
	char evp[64];
	size_t n = strlen(name);

	if (strcmp(name, "blake2b") == 0)
		return EVP_blake2b512();
	if (strcmp(name, "blake2s") == 0)
		return EVP_blake2s256();
	if (strcmp(name, "sha512") == 0)
		return EVP_sha512();
	if (n == 0 || n >= sizeof(evp))
		return NULL;
	/* hashlib spells "sha3_256" what OpenSSL calls "sha3-256". */
	for (size_t i = 0; i <= n; i++)
		evp[i] = name[i] == '_' ? '-' : name[i];
	return EVP_get_digestbyname(evp);
}

void digest_put(Buf *b, const char *name, const char *file, const char *hex, bool bsd)
{
	_cleanup_free_ char *up = xstrdup(name);

	for (char *c = up; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	if (bsd)
		buf_printf(b, "# %s HASH\n%s (%s) = %s\n", up, up, file, hex);
	else
		buf_printf(b, "# %s HASH\n%s  %s\n", up, hex, file);
}
