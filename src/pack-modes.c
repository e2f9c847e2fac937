// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pack-modes.c - the table of compression modes (see pack-modes.h).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pack-modes.h"

const PackMode pack_modes[] = {
	{ "lbzip2", PACK_BZIP2, false, "tar.bz2", false },
	{ "bzip2", PACK_BZIP2, false, "tar.bz2", false },
	{ "lzip", PACK_LZIP, false, "tar.lzip", false },
	{ "lzma", PACK_LZMA, false, "tar.lzma", false },
	{ "lzop", PACK_LZOP, false, "tar.lzop", false },
	{ "tar", PACK_NONE, false, "tar", false },
	{ "xz", PACK_XZ, false, "tar.xz", false },
	{ "pixz", PACK_XZ, true, "tar.xz", false },
	{ "pixz_i", PACK_XZ, true, "tar.xz", false },
	{ "zstd", PACK_ZSTD, false, "tar.zstd", false },
	{ "pzstd", PACK_ZSTD, true, "tar.pzstd", false },
	{ "gzip", PACK_GZIP, false, "tar.gz", false },
	{ "squashfs_xz", PACK_SQUASHFS_XZ, true, "squashfs", false },
	{ "squashfs_gzip", PACK_SQUASHFS_GZIP, true, "squashfs", false },
	{ "squashfs_zstd", PACK_SQUASHFS_ZSTD, true, "squashfs", false },
	{ "squashfs_pzstd", PACK_SQUASHFS_ZSTD, true, "squashfs", false },
	{ "lbzip2_x", PACK_BZIP2, false, "tar.bz2", true },
	{ "bzip2_x", PACK_BZIP2, false, "tar.bz2", true },
	{ "tar_x", PACK_NONE, false, "tar", true },
	{ "xz_x", PACK_XZ, false, "tar.xz", true },
	{ "pixz_x", PACK_XZ, true, "tar.xz", true },
	{ "gzip_x", PACK_GZIP, false, "tar.gz", true },
};
const size_t pack_modes_n = ELEMENTSOF(pack_modes);

const PackMode *pack_mode_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < pack_modes_n; i++)
		if (strcmp(name, pack_modes[i].name) == 0)
			return &pack_modes[i];
	return NULL;
}

int pack_compression_from_mode(const char *mode, PackCompression *ret, int *ret_threads)
{
	const PackMode *m = pack_mode_find(mode);

	if (!m)
		return -EINVAL;
	if (ret)
		*ret = m->compression;
	if (ret_threads) {
		long n = m->threaded ? sysconf(_SC_NPROCESSORS_ONLN) : 0;
		*ret_threads = n > 0 ? (int)n : 0;
	}
	return 0;
}

const char *pack_mode_extension(const char *mode)
{
	const PackMode *m = pack_mode_find(mode);

	return m ? m->extension : NULL;
}

const char *pack_extension(PackCompression c)
{
	for (size_t i = 0; i < pack_modes_n; i++)
		if (pack_modes[i].compression == c)
			return pack_modes[i].extension;
	return NULL;
}

char *pack_mode_names(void)
{
	Buf b = {};

	for (size_t i = 0; i < pack_modes_n; i++) {
		if (i)
			buf_puts(&b, ", ");
		buf_puts(&b, pack_modes[i].name);
	}
	return buf_steal(&b);
}

/* The whole content of the memfd FD (at most 64 KiB), or NULL. */
static char *memfd_text(int fd)
{
	char buf[65536];
	ssize_t n;

	do
		n = pread(fd, buf, sizeof(buf) - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

int pack_rename_regexp(const char *expr, const char *dir, const char *file, char **ret_file,
		       char **ret_err)
{
	_cleanup_free_ char *full = dir ? xasprintf("%s/%s", dir, file) : xstrdup(""), *out = NULL;
	_cleanup_free_ char *prefix = xasprintf("%s/", dir ? dir : ""), *err = NULL;
	int fds[3] = { -EBADF, -EBADF, -EBADF }, status = 0, r = 0;
	char *msg = NULL;
	const char *name;
	pid_t pid;

	for (int i = 0; i < 3; i++) {
		fds[i] = memfd_create("zeolite-sed", MFD_CLOEXEC);
		if (fds[i] < 0) {
			r = -errno;
			goto out;
		}
	}
	r = write_all(fds[0], full, strlen(full));
	if (r < 0)
		goto out;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	if (pid == 0) {
		for (int i = 0; i < 3; i++)
			if (dup2(fds[i], i) < 0)
				_exit(127);
		(void)lseek(0, 0, SEEK_SET);
		execlp("sed", "sed", "-E", "-e", expr, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			r = -errno;
			goto out;
		}
	out = memfd_text(fds[1]);
	err = memfd_text(fds[2]);
	if (!out || !err) {
		r = -EIO;
		goto out;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !*err) {
		msg = xstrdup("rename_regexp: cannot run sed");
		r = -ENOENT;
		goto out;
	}
	/* catalyst: anything on sed's stderr is an error. */
	if (*err || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char *nl = strchr(err, '\n');

		if (nl)
			*nl = '\0';
		msg = xasprintf("rename_regexp '%s': %s%s", expr, strncmp(err, "sed: ", 5) == 0 ? "" : "sed: ",
				*err ? err : "failed");
		r = -EINVAL;
		goto out;
	}
	if (!dir)
		goto out; /* the expression only */
	if (!*out) {
		*ret_file = xstrdup(file);
		goto out;
	}
	if (strncmp(out, prefix, strlen(prefix)) != 0 || strchr(out + strlen(prefix), '/')) {
		msg = xasprintf("rename_regexp '%s' makes '%s' of '%s': zeolite publishes the "
				     "output set in %s, so only the file name may change",
				     expr, out, full, dir);
		r = -EINVAL;
		goto out;
	}
	name = out + strlen(prefix);
	if (!*name || name[0] == '.' || strchr(name, '\n')) {
		for (char *c = out; *c; c++)
			if (*c == '\n')
				*c = ' ';
		msg = xasprintf("rename_regexp '%s' makes the file name '%s' of '%s' (empty, hidden "
				"or more than one line)", expr, name, file);
		r = -EINVAL;
		goto out;
	}
	*ret_file = xstrdup(name);
out:
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (r < 0)
		*ret_err = msg ? msg : xasprintf("rename_regexp: running sed: %s", strerror(-r));
	return r;
}
