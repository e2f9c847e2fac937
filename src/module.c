// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * module.c - load zeolite-archive.so and zeolite-pack.so on first use and
 * forward to them (see
 * archive-ops.h).  Linked into the zeolite binary only; the unit tests
 * link the real functions instead.
 */
#include "archive-ops.h"

#include <dlfcn.h>
#include <limits.h>
#include <string.h>

#include "build-config.h"

/* A loaded module: its ops table, or why it could not be loaded. */
typedef struct Module {
	const char *file, *symbol;
	unsigned version;
	size_t size;
	const void *ops; /* never unloaded */
	char *error;
} Module;

/* Every ops table starts with these two. */
typedef struct OpsHead {
	unsigned version;
	size_t size;
} OpsHead;

static Module archive_module = {
	ARCHIVE_MODULE_NAME, "zeolite_archive_ops", ARCHIVE_OPS_VERSION, sizeof(ArchiveOps), NULL, NULL
};
static Module pack_module = { PACK_MODULE_NAME, "zeolite_pack_ops", PACK_OPS_VERSION, sizeof(PackOps), NULL, NULL };

static const void *try_load(Module *m, const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	const OpsHead *o;

	if (!h) {
		free(m->error);
		m->error = xstrdup(dlerror());
		return NULL;
	}
	o = dlsym(h, m->symbol);
	if (!o || o->version != m->version || o->size != m->size) {
		free(m->error);
		m->error = xasprintf("%s: not a zeolite %s module", path, PACKAGE_VERSION);
		dlclose(h);
		return NULL;
	}
	return o;
}

/* The module beside the binary (a build tree), else the installed one. */
static const void *module_ops(Module *m, char **ret_err)
{
	char exe[PATH_MAX];
	ssize_t n;

	if (m->ops)
		return m->ops;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			_cleanup_free_ char *p = xasprintf("%.*s/%s", (int) (slash - exe), exe, m->file);
			if (access(p, F_OK) == 0)
				m->ops = try_load(m, p);
		}
	}
	if (!m->ops) {
		_cleanup_free_ char *p = xasprintf("%s/%s", MODULEDIR, m->file);
		m->ops = try_load(m, p);
	}
	if (!m->ops && ret_err)
		*ret_err = xasprintf("cannot load %s: %s", m->file, m->error ? m->error : "?");
	return m->ops;
}

static const ArchiveOps *archive_ops(char **ret_err)
{
	return module_ops(&archive_module, ret_err);
}

static const PackOps *pack_ops(char **ret_err)
{
	return module_ops(&pack_module, ret_err);
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

int archive_sha512_fd(int fd, unsigned char ret[64])
{
	const ArchiveOps *o = archive_ops(NULL);
	if (!o)
		return -ELIBACC;
	return o->sha512_fd(fd, ret);
}

int pack_tree(const PackRequest *req, PackResult *ret, char **ret_err)
{
	const PackOps *o = pack_ops(ret_err);
	if (!o)
		return -ELIBACC;
	return o->pack_tree(req, ret, ret_err);
}

void pack_result_done(PackResult *r)
{
	const PackOps *o = pack_ops(NULL);
	if (o)
		o->pack_result_done(r);
}

int image_make(int src_fd, const char *name, int work_dirfd, int out_fd, ImageProgressFn progress,
	       void *userdata, ImageStats *ret_stats, char **ret_err)
{
	const ArchiveOps *o = archive_ops(ret_err);
	if (!o)
		return -ELIBACC;
	return o->image_make(src_fd, name, work_dirfd, out_fd, progress, userdata, ret_stats, ret_err);
}
