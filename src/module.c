// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * module.c - load zeolite-archive.so on first use and forward to it (see
 * archive-ops.h).  Linked into the zeolite binary only; the unit tests
 * link the real functions instead.
 */
#include "archive-ops.h"

#include <dlfcn.h>
#include <limits.h>
#include <string.h>

#include "build-config.h"

static const ArchiveOps *ops;
static char *load_error;

static const ArchiveOps *try_load(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	const ArchiveOps *o;

	if (!h) {
		free(load_error);
		load_error = xstrdup(dlerror());
		return NULL;
	}
	o = dlsym(h, "zeolite_archive_ops");
	if (!o || o->version != ARCHIVE_OPS_VERSION || o->size != sizeof(ArchiveOps)) {
		free(load_error);
		load_error = xasprintf("%s: not a zeolite %s module", path, PACKAGE_VERSION);
		dlclose(h);
		return NULL;
	}
	return o; /* never unloaded */
}

/* The module beside the binary (a build tree), else the installed one. */
static const ArchiveOps *archive_ops(char **ret_err)
{
	char exe[PATH_MAX];
	ssize_t n;

	if (ops)
		return ops;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			_cleanup_free_ char *p = xasprintf("%.*s/%s", (int) (slash - exe), exe, ARCHIVE_MODULE_NAME);
			if (access(p, F_OK) == 0)
				ops = try_load(p);
		}
	}
	if (!ops)
		ops = try_load(MODULEDIR "/" ARCHIVE_MODULE_NAME);
	if (!ops && ret_err)
		*ret_err = xasprintf("cannot load %s: %s", ARCHIVE_MODULE_NAME, load_error ? load_error : "?");
	return ops;
}

int unpack_archive_at(int archive_fd, const char *name, int dest_fd, UnpackFlags flags,
		      UnpackProgressFn progress, void *userdata, UnpackStats *ret_stats, char **ret_err)
{
	const ArchiveOps *o = archive_ops(ret_err);
	if (!o)
		return -ELIBACC;
	return o->unpack_archive_at(archive_fd, name, dest_fd, flags, progress, userdata, ret_stats, ret_err);
}

int snapshot_make(const Store *store, const SnapshotRequest *req, char **ret_name, char **ret_err)
{
	const ArchiveOps *o = archive_ops(ret_err);
	if (!o)
		return -ELIBACC;
	return o->snapshot_make(store, req, ret_name, ret_err);
}

int archive_sha256_fd(int fd, unsigned char ret[32])
{
	const ArchiveOps *o = archive_ops(NULL);
	if (!o)
		return -ELIBACC;
	return o->sha256_fd(fd, ret);
}

int pack_tree(const PackRequest *req, PackResult *ret, char **ret_err)
{
	const ArchiveOps *o = archive_ops(ret_err);
	if (!o)
		return -ELIBACC;
	return o->pack_tree(req, ret, ret_err);
}

void pack_result_done(PackResult *r)
{
	const ArchiveOps *o = archive_ops(NULL);
	if (o)
		o->pack_result_done(r);
}

int image_make(int src_fd, const char *name, int out_fd, ImageProgressFn progress, void *userdata,
	       ImageStats *ret_stats, char **ret_err)
{
	const ArchiveOps *o = archive_ops(ret_err);
	if (!o)
		return -ELIBACC;
	return o->image_make(src_fd, name, out_fd, progress, userdata, ret_stats, ret_err);
}
