// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cmd-build.c - `zeolite build SPEC...` (catalyst -f): DESIGN.md §4.
 *
 *  1. parse and validate the spec and config completely;
 *  2. take the build's own lock, tmp/<rel_type>/<name>.lock (G4 waits);
 *  3. the snapshot: a .sqfs is loop-mounted in the sandbox, a tarball is
 *     taken through the cache as a lease and bind-mounted;
 *  4. the seed (builds/<source_subpath>.tar.*) through the cache (seeds),
 *     as a lease: the lower layer of the build root's overlayfs;
 *  5. each step of the target script in the sandbox (sandbox.c);
 *  6. pack the result (pack.c) into builds/<rel_type>/;
 *  7. release the leases, remove the work directory.
 *
 * <name> is <target>-<subarch>-<version_stamp>, as catalyst names it.
 */
#include "archive-ops.h"
#include "cache.h"
#include "fs.h"
#include "main.h"
#include "sandbox.h"

#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <regex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "build-config.h"

/* Where the stage4/root_overlay copies wait in the chroot. */
#define ROOT_OVERLAY_DIR "/tmp/zeolite-root-overlay"

static const char *const steps[] = { "setup", "build", "preclean", "clean" };

static const char *const seed_exts[] = { ".tar.xz", ".tar.zst", ".tar.bz2", ".tar.gz", ".tar", ".tar.lz4" };

typedef struct BuildOptions {
	bool dry_run;
	bool clear_autoresume;
	bool purge;
	bool purge_only;
	bool purge_tmp_only; /* -T: remove the work directory (with its autoresume marks), then stop */
	bool fetch_only;     /* -F: refused by cmd_build() until the target scripts can fetch only */
	bool enter_chroot;   /* --enter-chroot: refused by cmd_build() likewise */
} BuildOptions;

typedef struct Build {
	const Config *cfg;
	const Spec *spec;
	const Store *st;
	const char *spec_path;
	const char *target;
	const char *subarch;
	const char *rel_type;
	const char *version_stamp;
	const char *repo_name;
	char *name;             /* <target>-<subarch>-<version_stamp> */
	char *work;             /* absolute: tmp/<rel_type>/<name> */
	char *log;              /* absolute: tmp/<rel_type>/<name>.log */
	char *seed_name;        /* file under builds/ */
	char *seed_path;
	char *snapshot_name;    /* file under snapshots/ (or a path) */
	char *snapshot_path;
	bool snapshot_is_image;
	char *out_dir;          /* builds/<rel_type> */
	char *out_name;         /* file name of the tarball (rename_regexp applied) */
	char *targets_dir;      /* host directory of the target scripts */
	PackCompression compression;
	int threads;
	bool autoresume;
	bool keepwork;
	unsigned long timeout;  /* seconds */
} Build;

static void build_done(Build *b)
{
	free(b->name);
	free(b->work);
	free(b->log);
	free(b->seed_name);
	free(b->seed_path);
	free(b->snapshot_name);
	free(b->snapshot_path);
	free(b->out_dir);
	free(b->out_name);
	free(b->targets_dir);
}

static bool has_option(const Config *c, const char *o)
{
	return config_has_option(c, o);
}

/* The value of KEY as one string: words joined by spaces; NULL if unset. */
static char *spec_joined(const Spec *s, const char *key)
{
	const SpecEntry *e = spec_get(s, key);
	Buf b = { 0 };

	if (!e)
		return NULL;
	for (char **w = e->words; *w; w++) {
		if (w != e->words)
			buf_putc(&b, ' ');
		buf_puts(&b, *w);
	}
	return buf_steal(&b);
}

static unsigned spec_line(const Spec *s, const char *key)
{
	const SpecEntry *e = spec_get(s, key);
	return e ? e->line : 1;
}

/* ---- resolving inputs ------------------------------------------------- */

/* A path component that could reach outside its directory is bad input. */
static bool safe_relpath(const char *p)
{
	if (!*p || p[0] == '/')
		return false;
	for (const char *s = p; *s;) {
		size_t n = strcspn(s, "/");
		if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += n;
		while (*s == '/')
			s++;
	}
	return true;
}

static int find_seed(Build *b, char **ret_err)
{
	const char *sub = spec_get_string(b->spec, "source_subpath");
	struct stat s;

	if (!safe_relpath(sub)) {
		*ret_err = xasprintf("%s:%u: source_subpath '%s' must be a relative path inside builds/",
				     b->spec_path, spec_line(b->spec, "source_subpath"), sub);
		return -EINVAL;
	}
	for (size_t i = 0; i < ELEMENTSOF(seed_exts); i++) {
		_cleanup_free_ char *n = xasprintf("%s%s", sub, seed_exts[i]);
		if (fstatat(b->st->builds_fd, n, &s, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(s.st_mode)) {
			b->seed_name = TAKE_PTR(n);
			b->seed_path = xasprintf("%s/builds/%s", b->st->path, b->seed_name);
			return 0;
		}
	}
	*ret_err = xasprintf("%s:%u: seed '%s' not found: no %s/builds/%s.tar.{xz,zst,bz2,gz}", b->spec_path,
			     spec_line(b->spec, "source_subpath"), sub, b->st->path, sub);
	return -ENOENT;
}

static int find_snapshot(Build *b, char **ret_err)
{
	static const char *const exts[] = { ".sqfs", ".tar.xz", ".tar.zst", ".tar.bz2", ".tar.gz" };
	const char *key = spec_get(b->spec, "snapshot_treeish") ? "snapshot_treeish" : "snapshot";
	const char *v = spec_get_string(b->spec, key);
	struct stat s;

	if (!v) {
		*ret_err = xasprintf("%s: no snapshot_treeish or snapshot", b->spec_path);
		return -EINVAL;
	}
	if (strcmp(key, "snapshot") == 0 && v[0] == '/') {
		/* catalyst 3: a file */
		if (stat(v, &s) < 0 || !S_ISREG(s.st_mode)) {
			*ret_err = xasprintf("%s:%u: snapshot '%s' not found", b->spec_path, spec_line(b->spec, key), v);
			return -ENOENT;
		}
		b->snapshot_path = xstrdup(v);
		b->snapshot_name = xstrdup(strrchr(v, '/') + 1);
	} else {
		if (!safe_relpath(v) || strchr(v, '/')) {
			*ret_err = xasprintf("%s:%u: bad %s '%s'", b->spec_path, spec_line(b->spec, key), key, v);
			return -EINVAL;
		}
		/* catalyst 4: <repo_name>-<treeish>.sqfs; catalyst 3: a name. */
		const char *prefixes[] = { b->repo_name, NULL };
		for (size_t p = 0; p < ELEMENTSOF(prefixes) && !b->snapshot_name; p++)
			for (size_t i = 0; i < ELEMENTSOF(exts) && !b->snapshot_name; i++) {
				_cleanup_free_ char *n = prefixes[p] ? xasprintf("%s-%s%s", prefixes[p], v, exts[i])
								     : xasprintf("%s%s", v, exts[i]);
				if (fstatat(b->st->snapshots_fd, n, &s, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(s.st_mode))
					b->snapshot_name = TAKE_PTR(n);
			}
		if (!b->snapshot_name && fstatat(b->st->snapshots_fd, v, &s, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(s.st_mode))
			b->snapshot_name = xstrdup(v);
		if (!b->snapshot_name) {
			*ret_err = xasprintf("%s:%u: snapshot '%s' not found in %s/snapshots/ (make it with: "
					     "zeolite snapshot %s)",
					     b->spec_path, spec_line(b->spec, key), v, b->st->path, v);
			return -ENOENT;
		}
		b->snapshot_path = xasprintf("%s/snapshots/%s", b->st->path, b->snapshot_name);
	}
	size_t n = strlen(b->snapshot_name);
	b->snapshot_is_image = n > 5 && strcmp(b->snapshot_name + n - 5, ".sqfs") == 0;
	return 0;
}

/* rename_regexp: catalyst's "s<d>REGEX<d>REPLACEMENT<d>" on the file name. */
static int apply_rename_regexp(Build *b, const char *expr, char **ret_err)
{
	_cleanup_free_ char *re = NULL, *rep = NULL;
	const char *p, *q;
	regmatch_t m;
	regex_t rx;
	char d;

	if (strlen(expr) < 4 || expr[0] != 's')
		goto bad;
	d = expr[1];
	p = expr + 2;
	q = strchr(p, d);
	if (!q)
		goto bad;
	re = xstrndup(p, (size_t) (q - p));
	p = q + 1;
	q = strchr(p, d);
	if (!q || q[1])
		goto bad;
	rep = xstrndup(p, (size_t) (q - p));
	if (regcomp(&rx, re, REG_EXTENDED) != 0)
		goto bad;
	if (regexec(&rx, b->out_name, 1, &m, 0) == 0) {
		char *n = xasprintf("%.*s%s%s", (int) m.rm_so, b->out_name, rep, b->out_name + m.rm_eo);
		free(b->out_name);
		b->out_name = n;
	}
	regfree(&rx);
	return 0;
bad:
	*ret_err = xasprintf("%s:%u: rename_regexp '%s' is not s/REGEX/REPLACEMENT/", b->spec_path,
			     spec_line(b->spec, "rename_regexp"), expr);
	return -EINVAL;
}

static char *find_targets_dir(void)
{
	const char *env = secure_getenv("ZEOLITE_TARGETS_DIR");
	char exe[PATH_MAX];
	ssize_t n;

	if (env)
		return xstrdup(env);
	/* A build tree: <src>/build/zeolite with <src>/targets. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			_cleanup_free_ char *p = xasprintf("%s/../targets/stage3.sh", exe);
			if (access(p, R_OK) == 0)
				return xasprintf("%s/../targets", exe);
		}
	}
	return xstrdup(DATADIR "/targets");
}

/* stage4/root_overlay: each word an existing directory, checked up front. */
static int check_root_overlay(const Build *b, char **ret_err)
{
	const SpecEntry *e = spec_get(b->spec, "stage4/root_overlay");

	for (char **w = e ? e->words : NULL; w && *w; w++) {
		struct stat s;

		if (stat(*w, &s) < 0 || !S_ISDIR(s.st_mode)) {
			*ret_err = xasprintf("%s:%u: stage4/root_overlay '%s' is not a directory", b->spec_path,
					     e->line, *w);
			return -EINVAL;
		}
	}
	return 0;
}

static int resolve(Build *b, char **ret_err)
{
	const char *mode, *rx;
	int r;

	b->target = spec_get_string(b->spec, "target");
	b->subarch = spec_get_string(b->spec, "subarch");
	b->rel_type = spec_get_string(b->spec, "rel_type");
	b->version_stamp = spec_get_string(b->spec, "version_stamp");
	b->repo_name = b->cfg->repo_name;
	if (!safe_relpath(b->rel_type) || strchr(b->subarch, '/') || strchr(b->version_stamp, '/')) {
		*ret_err = xasprintf("%s: rel_type, subarch and version_stamp must be plain names", b->spec_path);
		return -EINVAL;
	}
	b->name = xasprintf("%s-%s-%s", b->target, b->subarch, b->version_stamp);
	b->work = xasprintf("%s/tmp/%s/%s", b->st->path, b->rel_type, b->name);
	b->log = xasprintf("%s/tmp/%s/%s.log", b->st->path, b->rel_type, b->name);
	b->out_dir = xasprintf("%s/builds/%s", b->st->path, b->rel_type);
	b->autoresume = has_option(b->cfg, "autoresume");
	b->keepwork = has_option(b->cfg, "keepwork");
	b->timeout = effective_lock_timeout(b->cfg, b->spec);

	mode = spec_get_string(b->spec, "compression_mode");
	if (!mode)
		mode = b->cfg->compression_mode;
	r = pack_compression_from_mode(mode, &b->compression, &b->threads);
	if (r < 0) {
		*ret_err = xasprintf("%s:%u: compression_mode '%s' cannot pack a stage tarball", b->spec_path,
				     spec_line(b->spec, "compression_mode"), mode);
		return -EINVAL;
	}
	b->out_name = xasprintf("%s.%s", b->name, pack_extension(b->compression));
	rx = spec_get_string(b->spec, "rename_regexp");
	if (rx) {
		r = apply_rename_regexp(b, rx, ret_err);
		if (r < 0)
			return r;
	}
	r = find_seed(b, ret_err);
	if (r < 0)
		return r;
	r = find_snapshot(b, ret_err);
	if (r < 0)
		return r;
	r = check_root_overlay(b, ret_err);
	if (r < 0)
		return r;
	b->targets_dir = find_targets_dir();
	{
		_cleanup_free_ char *script = xasprintf("%s/%s.sh", b->targets_dir, b->target);
		if (access(script, R_OK) < 0) {
			*ret_err = xasprintf("target script '%s' not found (set ZEOLITE_TARGETS_DIR?)", script);
			return -ENOENT;
		}
	}
	return 0;
}

static void print_plan(const Build *b)
{
	const char *confdir = spec_get_string(b->spec, "portage_confdir");

	printf("build %s (%s)\n", b->name, b->spec_path);
	printf("  target      %s, subarch %s, profile %s\n", b->target, b->subarch,
	       spec_get_string(b->spec, "profile"));
	printf("  seed        %s\n", b->seed_path);
	printf("  snapshot    %s (%s)\n", b->snapshot_path,
	       b->snapshot_is_image ? "loop-mounted read-only" : "unpacked through the cache, bind-mounted read-only");
	printf("  repository  /var/db/repos/%s\n", b->repo_name);
	printf("  confdir     %s\n", confdir ? confdir : "-");
	{
		const SpecEntry *e = spec_get(b->spec, "stage4/root_overlay");
		for (char **w = e ? e->words : NULL; w && *w; w++)
			printf("  overlay     %s\n", *w);
	}
	printf("  scripts     %s/%s.sh\n", b->targets_dir, b->target);
	printf("  work        %s\n", b->work);
	printf("  log         %s\n", b->log);
	printf("  output      %s/%s (+ .CONTENTS.gz, .DIGESTS)\n", b->out_dir, b->out_name);
	printf("  lock        %s/tmp/%s/%s.lock (lock_timeout %lu s)\n", b->st->path, b->rel_type, b->name, b->timeout);
}

/* ---- the build's own lock --------------------------------------------- */

static int mkdir_p_at(int dir_fd, const char *rel, int *ret_fd)
{
	_cleanup_free_ char *p = xstrdup(rel);
	_cleanup_close_ int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);

	if (fd < 0)
		return -errno;
	for (char *s = p, *e; *s; s = e) {
		e = s + strcspn(s, "/");
		if (*e)
			*e++ = '\0';
		int n = store_subdir_at(fd, s, true);
		if (n < 0)
			return n;
		close(fd);
		fd = n;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int take_build_lock(const Build *b, int *ret_fd, char **ret_err)
{
	_cleanup_close_ int dir_fd = -EBADF, fd = -EBADF;
	_cleanup_free_ char *lockname = xasprintf("%s.lock", b->name);
	LockOwner o;
	int r;

	r = mkdir_p_at(b->st->tmp_fd, b->rel_type, &dir_fd);
	if (r < 0)
		return r;
	fd = openat(dir_fd, lockname, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0)
		return -errno;
	r = lock_byte(fd, 0, F_WRLCK, (long) b->timeout * 1000);
	if (r == -ETIMEDOUT || r == -EAGAIN) {
		_cleanup_free_ char *d = NULL;
		if (lock_owner_read(fd, &o) == 0)
			d = lock_owner_describe(&o);
		if (b->timeout)
			*ret_err = xasprintf("build '%s' is held by %s; gave up after %lu s (lock_timeout)", b->name,
					     d ? d : "another process", b->timeout);
		else
			*ret_err = xasprintf("build '%s' is held by %s; not waiting (lock_timeout 0)", b->name,
					     d ? d : "another process");
		return -ETIMEDOUT;
	}
	if (r < 0)
		return r;
	lock_owner_self(&o, "building", b->name);
	(void) lock_owner_write(fd, &o);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* ---- the work directory ----------------------------------------------- */

static int write_file_at(int dir_fd, const char *name, const char *text, mode_t mode)
{
	_cleanup_close_ int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	return write_all(fd, text, strlen(text));
}

static int run_cmd(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* Files zeolite puts into the build root: they go into the overlay's
 * upper layer before the sandbox starts. */
static int populate_upper(const Build *b, const char *upper, char **ret_err)
{
	_cleanup_close_ int up = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int etc_portage = -EBADF, reposconf = -EBADF;
	_cleanup_free_ char *cflags = spec_joined(b->spec, "cflags");
	_cleanup_free_ char *cxxflags = spec_joined(b->spec, "cxxflags");
	_cleanup_free_ char *ldflags = spec_joined(b->spec, "ldflags");
	_cleanup_free_ char *common = spec_joined(b->spec, "common_flags");
	_cleanup_free_ char *use = spec_joined(b->spec, "stage4/use");
	_cleanup_free_ char *hostuse = spec_joined(b->spec, "hostuse");
	const char *chost = spec_get_string(b->spec, "chost");
	const char *confdir = spec_get_string(b->spec, "portage_confdir");
	const SpecEntry *interp = spec_get(b->spec, "interpreter");
	const char *fsscript = spec_get_string(b->spec, "stage4/fsscript");
	Buf mk = { 0 };
	int r;

	if (up < 0)
		return -errno;
	if (confdir) {
		/* portage_confdir is copied in first; what zeolite writes wins. */
		_cleanup_free_ char *dst = xasprintf("%s/etc/portage", upper);
		_cleanup_free_ char *src = xasprintf("%s/.", confdir);
		char *mk_argv[] = { "mkdir", "-p", dst, NULL };
		char *cp_argv[] = { "cp", "-a", "--no-preserve=ownership", src, dst, NULL };
		struct stat s;
		if (stat(confdir, &s) < 0 || !S_ISDIR(s.st_mode)) {
			*ret_err = xasprintf("%s:%u: portage_confdir '%s' is not a directory", b->spec_path,
					     spec_line(b->spec, "portage_confdir"), confdir);
			return -EINVAL;
		}
		if (run_cmd(mk_argv) < 0 || run_cmd(cp_argv) < 0) {
			*ret_err = xasprintf("copying portage_confdir '%s' failed", confdir);
			return -EIO;
		}
	}
	r = mkdir_p_at(up, "etc/portage/repos.conf", &reposconf);
	if (r < 0)
		return r;
	etc_portage = openat(up, "etc/portage", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (etc_portage < 0)
		return -errno;

	buf_printf(&mk, "# Written by zeolite for %s (%s).\n", b->name, b->spec_path);
	if (common)
		buf_printf(&mk, "COMMON_FLAGS=\"%s\"\n", common);
	if (cflags)
		buf_printf(&mk, "CFLAGS=\"%s\"\n", cflags);
	else if (common)
		buf_puts(&mk, "CFLAGS=\"${COMMON_FLAGS}\"\n");
	if (cxxflags)
		buf_printf(&mk, "CXXFLAGS=\"%s\"\n", cxxflags);
	else if (common || cflags)
		buf_puts(&mk, "CXXFLAGS=\"${CFLAGS}\"\n");
	if (ldflags)
		buf_printf(&mk, "LDFLAGS=\"%s\"\n", ldflags);
	if (chost)
		buf_printf(&mk, "CHOST=\"%s\"\n", chost);
	if (use || hostuse)
		buf_printf(&mk, "USE=\"%s%s%s\"\n", hostuse ? hostuse : "", use && hostuse ? " " : "", use ? use : "");
	buf_puts(&mk, "DISTDIR=\"/var/cache/distfiles\"\nPKGDIR=\"/var/cache/binpkgs\"\n");
	if (b->cfg->jobs > 0)
		buf_printf(&mk, "MAKEOPTS=\"-j%ld\"\n", b->cfg->jobs);
	if (has_option(b->cfg, "bindist"))
		buf_puts(&mk, "USE=\"${USE} bindist\"\n");
	buf_puts(&mk, "LC_MESSAGES=C.utf8\n");
	r = write_file_at(etc_portage, "make.conf", mk.data, 0644);
	buf_done(&mk);
	if (r < 0)
		return r;
	_cleanup_free_ char *repos = xasprintf("# Written by zeolite.\n[DEFAULT]\nmain-repo = %s\n\n[%s]\n"
					       "location = /var/db/repos/%s\nsync-type =\nauto-sync = no\n",
					       b->repo_name, b->repo_name, b->repo_name);
	r = write_file_at(reposconf, "zeolite.conf", repos, 0644);
	if (r < 0)
		return r;

	/* qemu-user binaries for foreign architectures, at the same path. */
	for (char **w = interp ? interp->words : NULL; w && *w; w++) {
		_cleanup_free_ char *dst = xasprintf("%s%s", upper, *w);
		_cleanup_free_ char *dir = xstrdup(dst);
		*strrchr(dir, '/') = '\0';
		char *mk_argv[] = { "mkdir", "-p", dir, NULL };
		char *cp_argv[] = { "cp", "-p", *w, dst, NULL };
		if ((*w)[0] != '/' || run_cmd(mk_argv) < 0 || run_cmd(cp_argv) < 0) {
			*ret_err = xasprintf("%s:%u: interpreter '%s' cannot be copied into the chroot", b->spec_path,
					     interp->line, *w);
			return -EINVAL;
		}
	}
	if (fsscript) {
		_cleanup_free_ char *dst = xasprintf("%s/tmp/zeolite-fsscript", upper);
		_cleanup_free_ char *tmpdir = xasprintf("%s/tmp", upper);
		char *mk_argv[] = { "mkdir", "-p", tmpdir, NULL };
		char *cp_argv[] = { "cp", (char *) fsscript, dst, NULL };
		if (run_cmd(mk_argv) < 0 || run_cmd(cp_argv) < 0 || chmod(dst, 0755) < 0) {
			*ret_err = xasprintf("%s:%u: stage4/fsscript '%s' cannot be copied into the chroot", b->spec_path,
					     spec_line(b->spec, "stage4/fsscript"), fsscript);
			return -EINVAL;
		}
	}
	/* Each stage4/root_overlay, as it is (owners too), for the script to
	 * lay over / after the packages (targets/stage4.sh). */
	{
		const SpecEntry *e = spec_get(b->spec, "stage4/root_overlay");
		size_t i = 0;

		for (char **w = e ? e->words : NULL; w && *w; w++, i++) {
			_cleanup_free_ char *dst = xasprintf("%s%s/%zu", upper, ROOT_OVERLAY_DIR, i);
			_cleanup_free_ char *src = xasprintf("%s/.", *w);
			char *mk_argv[] = { "mkdir", "-p", dst, NULL };
			char *cp_argv[] = { "cp", "-a", src, dst, NULL };

			if (run_cmd(mk_argv) < 0 || run_cmd(cp_argv) < 0) {
				*ret_err = xasprintf("%s:%u: stage4/root_overlay '%s' cannot be copied into the chroot",
						     b->spec_path, e->line, *w);
				return -EIO;
			}
		}
	}
	return 0;
}

/* The environment of the target scripts: clst_* as catalyst does. */
static char **build_env(const Build *b)
{
	char **env = NULL;
	size_t n = 0, cap = 0;
	Buf opts = { 0 };

#define ADD(...)                                                                 \
	do {                                                                     \
		xgrow(&env, &cap, n + 2, sizeof(char *));                        \
		env[n++] = xasprintf(__VA_ARGS__);                               \
		env[n] = NULL;                                                   \
	} while (0)

	ADD("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
	ADD("HOME=/root");
	ADD("TERM=%s", getenv("TERM") ? getenv("TERM") : "dumb");
	for (size_t i = 0; i < b->spec->n; i++) {
		const SpecEntry *e = &b->spec->v[i];
		_cleanup_free_ char *k = xstrdup(e->key);
		_cleanup_free_ char *v = spec_joined(b->spec, e->key);
		for (char *p = k; *p; p++)
			if (*p == '/' || *p == '-' || *p == '.')
				*p = '_';
		ADD("clst_%s=%s", k, v);
	}
	ADD("clst_root_path=%s", strcmp(b->target, "stage1") == 0 ? "/tmp/stage1root" : "/");
	ADD("clst_repo_name=%s", b->repo_name);
	ADD("clst_repo_basedir=/var/db/repos");
	ADD("clst_distdir=/var/cache/distfiles");
	ADD("clst_pkgcache_path=/var/cache/binpkgs");
	ADD("clst_port_conf=/etc/portage");
	ADD("clst_jobs=%ld", b->cfg->jobs > 0 ? b->cfg->jobs : 1);
	ADD("clst_load_average=%s", b->cfg->load_average ? b->cfg->load_average : "");
	for (char **o = b->cfg->options; o && *o; o++)
		buf_printf(&opts, "%s%s", opts.len ? " " : "", *o);
	ADD("clst_options=%s", opts.data ? opts.data : "");
	buf_done(&opts);
	if (spec_get(b->spec, "stage4/fsscript"))
		ADD("clst_fsscript=/tmp/zeolite-fsscript");
	{
		const SpecEntry *e = spec_get(b->spec, "stage4/root_overlay");
		Buf ro = { 0 };
		size_t i = 0;

		for (char **w = e ? e->words : NULL; w && *w; w++, i++)
			buf_printf(&ro, "%s%s/%zu", ro.len ? " " : "", ROOT_OVERLAY_DIR, i);
		if (ro.len)
			ADD("clst_root_overlay=%s", ro.data);
		buf_done(&ro);
	}
	{
		Buf eo = { 0 };
		if (b->cfg->jobs > 0)
			buf_printf(&eo, "--jobs %ld ", b->cfg->jobs);
		if (b->cfg->load_average)
			buf_printf(&eo, "--load-average %s ", b->cfg->load_average);
		if (has_option(b->cfg, "pkgcache"))
			buf_puts(&eo, "--usepkg --buildpkg ");
		buf_puts(&eo, "--quiet");
		ADD("clst_emerge_opts=%s", eo.data);
		buf_done(&eo);
	}
#undef ADD
	return env;
}

/* ---- steps ------------------------------------------------------------ */

static bool step_done(int work_fd, const char *step)
{
	_cleanup_free_ char *m = xasprintf(".autoresume-%s", step);
	return faccessat(work_fd, m, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static int mark_step(int work_fd, const char *step)
{
	_cleanup_free_ char *m = xasprintf(".autoresume-%s", step);
	_cleanup_close_ int fd = openat(work_fd, m, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || fsync(fd) < 0 || fsync(work_fd) < 0)
		return -errno;
	return 0;
}

static void clear_marks(int work_fd)
{
	for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
		_cleanup_free_ char *m = xasprintf(".autoresume-%s", steps[i]);
		(void) unlinkat(work_fd, m, 0);
	}
	(void) unlinkat(work_fd, ".autoresume-packed", 0);
}

/* pipe2(P, O_CLOEXEC) and fork(): returns the child's pid (0 in the
 * child), or -errno with no pipe left open. */
static pid_t fork_with_pipe(int p[2])
{
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(p[0]);
		close(p[1]);
		return r;
	}
	return pid;
}

/* When stderr is a terminal, the scripts' output goes to the log and the
 * screen: a small child copies a pipe to both. */
static int open_log(const Build *b, pid_t *ret_tee, int *ret_fd)
{
	_cleanup_close_ int log_fd = open(b->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
	int p[2];
	pid_t pid;

	if (log_fd < 0)
		return -errno;
	*ret_tee = 0;
	if (!isatty(STDERR_FILENO) || arg_quiet) {
		*ret_fd = TAKE_FD(log_fd);
		return 0;
	}
	pid = fork_with_pipe(p);
	if (pid < 0)
		return (int) pid;
	if (pid == 0) {
		char buf[65536];
		ssize_t n;
		close(p[1]);
		while ((n = read(p[0], buf, sizeof(buf))) > 0) {
			(void) write_all(log_fd, buf, (size_t) n);
			(void) write_all(STDERR_FILENO, buf, (size_t) n);
		}
		_exit(0);
	}
	close(p[0]);
	*ret_tee = pid;
	*ret_fd = p[1];
	return 0;
}

static int run_steps(const Build *b, int work_fd, const char *seed_tree, const char *snapshot_tree,
		     char **ret_err)
{
	_cleanup_free_ char *upper = xasprintf("%s/upper", b->work);
	_cleanup_free_ char *owork = xasprintf("%s/overlay-work", b->work);
	_cleanup_free_ char *root = xasprintf("%s/root", b->work);
	_cleanup_free_ char *repo = xasprintf("/var/db/repos/%s", b->repo_name);
	_cleanup_free_ char *script = xasprintf("/usr/share/zeolite/targets/%s.sh", b->target);
	_cleanup_free_ char *pkgdir = NULL, *distdir = NULL;
	char **env = build_env(b);
	int r = 0;

	pkgdir = spec_get_string(b->spec, "pkgcache_path") ? xstrdup(spec_get_string(b->spec, "pkgcache_path"))
							    : xasprintf("%s/packages/%s/%s", b->st->path, b->rel_type,
									b->subarch);
	distdir = xstrdup(b->cfg->distdir);
	{
		char *mk_argv[] = { "mkdir", "-p", pkgdir, distdir, upper, owork, root, NULL };
		if (run_cmd(mk_argv) < 0) {
			*ret_err = xasprintf("cannot create '%s' or '%s'", pkgdir, distdir);
			strv_free(env);
			return -EIO;
		}
	}
	SandboxBind binds[] = {
		{ .source = b->targets_dir, .target = "/usr/share/zeolite/targets", .read_only = true },
		{ .source = distdir, .target = "/var/cache/distfiles", .read_only = false },
		{ .source = pkgdir, .target = "/var/cache/binpkgs", .read_only = false },
	};

	if (!step_done(work_fd, "populated")) {
		r = populate_upper(b, upper, ret_err);
		if (r < 0)
			goto out;
		if (b->autoresume)
			(void) mark_step(work_fd, "populated");
	}

	for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
		char *argv[] = { "/bin/sh", script, (char *) steps[i], NULL };
		int status = 0, log_fd = -EBADF;
		pid_t tee = 0;

		if (b->autoresume && step_done(work_fd, steps[i])) {
			log_info("build %s: step '%s' already done (autoresume)", b->name, steps[i]);
			continue;
		}
		r = open_log(b, &tee, &log_fd);
		if (r < 0) {
			*ret_err = xasprintf("cannot open the log '%s': %s", b->log, strerror(-r));
			goto out;
		}
		log_info("build %s: step '%s'", b->name, steps[i]);
		test_point(steps[i]);
		SandboxConfig sc = {
			.lower = seed_tree,
			.upper = upper,
			.overlay_work = owork,
			.root = root,
			.snapshot_image = b->snapshot_is_image ? b->snapshot_path : NULL,
			.snapshot_tree = b->snapshot_is_image ? NULL : snapshot_tree,
			.repo_target = repo,
			.binds = binds,
			.n_binds = ELEMENTSOF(binds),
			.hostname = "zeolite",
			.argv = argv,
			.envp = env,
			.log_fd = log_fd,
		};
		r = sandbox_run(&sc, &status, ret_err);
		close(log_fd);
		if (tee > 0)
			(void) waitpid(tee, NULL, 0);
		if (r < 0)
			goto out;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			*ret_err = WIFEXITED(status)
					   ? xasprintf("step '%s' failed: exit status %d (log: %s)", steps[i],
						       WEXITSTATUS(status), b->log)
					   : xasprintf("step '%s' failed: killed by signal %d (log: %s)", steps[i],
						       WTERMSIG(status), b->log);
			r = -ECANCELED;
			goto out;
		}
		if (b->autoresume) {
			r = mark_step(work_fd, steps[i]);
			if (r < 0)
				goto out;
		}
	}
out:
	strv_free(env);
	return r;
}

/*
 * Pack the build root.  The merged view (seed + the build's changes, with
 * its deletions) exists only as an overlay mount, so a child process makes
 * one, read-only, in a private mount namespace of its own, and packs from
 * it; the mount dies with the child.
 */
static int pack_result(const Build *b, const char *seed_tree, char **ret_err)
{
	_cleanup_free_ char *upper = xasprintf("%s/upper", b->work);
	_cleanup_free_ char *root = xasprintf("%s/root", b->work);
	_cleanup_free_ char *opts = xasprintf("lowerdir=%s:%s", upper, seed_tree);
	int p[2], status;
	Buf err = { 0 };
	pid_t pid;

	pid = fork_with_pipe(p);
	if (pid < 0)
		return (int) pid;
	if (pid == 0) {
		_cleanup_free_ char *e = NULL;
		_cleanup_close_ int root_fd = -EBADF, out_fd = -EBADF;
		PackResult res = { 0 };
		char *dot;
		int q;

		close(p[0]);
		(void) prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
			e = xasprintf("pack: private mount namespace: %m");
			goto child_fail;
		}
		if (mount("overlay", root, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV, opts) < 0) {
			e = xasprintf("pack: mount the build root read-only: %m");
			goto child_fail;
		}
		root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (root_fd >= 0 && strcmp(b->target, "stage1") == 0) {
			int s1 = openat(root_fd, "tmp/stage1root", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			close(root_fd);
			root_fd = s1;
		}
		if (root_fd < 0) {
			e = xasprintf("pack: open the %s root: %m", b->target);
			goto child_fail;
		}
		q = mkdir_p_at(b->st->builds_fd, b->rel_type, &out_fd);
		if (q < 0) {
			e = xasprintf("pack: builds/%s: %s", b->rel_type, strerror(-q));
			goto child_fail;
		}
		/* pack_tree names the files <name>.<ext>; rename_regexp may have
		 * changed the tarball's name: give it the name without ".tar.*". */
		_cleanup_free_ char *base = xstrdup(b->out_name);
		dot = strstr(base, ".tar");
		if (dot && strcmp(dot + 1, pack_extension(b->compression)) == 0)
			*dot = '\0';
		PackRequest pr = {
			.root_fd = root_fd,
			.out_dir_fd = out_fd,
			.name = base,
			.compression = b->compression,
			.threads = b->threads,
			.level = -1,
			.digests = b->cfg->digests,
			.digest_format = b->cfg->digest_format,
		};
		q = pack_tree(&pr, &res, &e);
		if (q < 0)
			goto child_fail;
		pack_result_done(&res);
		_exit(0);
	child_fail:
		if (e)
			(void) write_all(p[1], e, strlen(e));
		_exit(1);
	}
	close(p[1]);
	for (;;) {
		char buf[512];
		ssize_t n = read(p[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_put(&err, buf, (size_t) n);
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		buf_done(&err);
		return 0;
	}
	*ret_err = err.len ? buf_steal(&err) : xasprintf("pack: failed (status %d)", status);
	buf_done(&err);
	return -EIO;
}

/* ---- one build -------------------------------------------------------- */

/* Take the tree of PATH from the cache as a lease.  Snapshot entries are
 * the very ones `zeolite prepare` makes (same id, same flags); a seed
 * stage is a root file system: owners, device nodes and xattrs kept, no
 * top-level directory stripped. */
static int acquire_tree(const Build *b, CacheKind kind, const char *path, const char *label, CacheLease *ret,
			char **ret_err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_free_ char *id = NULL, *group = NULL;
	int r;

	if (fd < 0) {
		r = -errno;
		*ret_err = xasprintf("'%s': %s", path, strerror(-r));
		return r;
	}
	r = cache_source_id(b->st, kind, fd, &id);
	if (r < 0) {
		*ret_err = xasprintf("'%s': %s", path, strerror(-r));
		return r;
	}
	if (kind == CACHE_SNAPSHOTS)
		group = snapshot_group(label); /* as `zeolite prepare` does */
	else {
		/* gc keeps the newest seed per file name (without ".tar..."). */
		const char *base = strrchr(label, '/') ? strrchr(label, '/') + 1 : label;
		const char *ext = strstr(base, ".tar");
		group = ext ? xstrndup(base, (size_t) (ext - base)) : xstrdup(base);
	}
	UnpackFill tf = {
		.fd = fd,
		.name = label,
		.flags = kind == CACHE_SEEDS ? UNPACK_KEEP_OWNER | UNPACK_ALLOW_DEVICES | UNPACK_NO_STRIP : 0,
	};
	CacheRequest req = {
		.kind = kind,
		.id = id,
		.label = label,
		.group = group,
		.timeout_ms = (long) b->timeout * 1000,
		.hold = true,
		.fill = unpack_fill,
		.userdata = &tf,
	};
	r = cache_acquire(b->st, &req, ret, ret_err);
	if (r >= 0 && ret->recovered)
		log_info("%s", ret->recovered);
	return r;
}

static int build_one(const Config *cfg, const Store *st, const char *spec_path, const BuildOptions *o)
{
	_cleanup_(spec_done) Spec spec = { 0 };
	_cleanup_(build_done) Build b = { 0 };
	_cleanup_free_ char *err = NULL, *workrel = NULL;
	_cleanup_close_ int lock_fd = -EBADF, work_fd = -EBADF;
	CacheLease seed = CACHE_LEASE_INIT, snap = CACHE_LEASE_INIT;
	Diags d = { 0 };
	int64_t t0 = now_ms();
	int r, ret = EXIT_OK;

	/* 1. Everything is checked before anything happens. */
	r = spec_load(spec_path, &spec, &d);
	if (r >= 0)
		r = spec_validate(&spec, &d);
	if (print_diags(&d) != EXIT_OK || r < 0) {
		diags_done(&d);
		return EXIT_DATAERR;
	}
	diags_done(&d);
	b = (Build) { .cfg = cfg, .spec = &spec, .st = st, .spec_path = spec_path };
	r = resolve(&b, &err);
	if (r < 0) {
		log_error("build: %s", err);
		return EXIT_DATAERR;
	}
	if (o->dry_run) {
		print_plan(&b);
		return EXIT_OK;
	}

	/* 2. The build's own lock, before any expensive work. */
	r = take_build_lock(&b, &lock_fd, &err);
	if (r < 0) {
		log_error("build: %s", err ? err : strerror(-r));
		return r == -ETIMEDOUT ? EXIT_TEMPFAIL : EXIT_FAIL;
	}
	workrel = xasprintf("%s/%s", b.rel_type, b.name);
	if (o->purge || o->purge_only || o->purge_tmp_only) {
		_cleanup_close_ int rel_fd = openat(st->tmp_fd, b.rel_type, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (rel_fd >= 0)
			(void) rm_rf_at(rel_fd, b.name);
		log_info("build %s: work directory purged", b.name);
		if (o->purge_only || o->purge_tmp_only)
			return EXIT_OK;
	}
	r = mkdir_p_at(st->tmp_fd, workrel, &work_fd);
	if (r < 0) {
		log_error("build %s: work directory '%s': %s", b.name, b.work, strerror(-r));
		return EXIT_FAIL;
	}
	if (o->clear_autoresume || !b.autoresume)
		clear_marks(work_fd);
	test_point("build-locked");

	/* 3-4. The snapshot and the seed, shared through the cache. */
	if (!b.snapshot_is_image) {
		r = acquire_tree(&b, CACHE_SNAPSHOTS, b.snapshot_path, b.snapshot_name, &snap, &err);
		if (r < 0)
			goto fail;
	}
	r = acquire_tree(&b, CACHE_SEEDS, b.seed_path, b.seed_name, &seed, &err);
	if (r < 0)
		goto fail;
	test_point("inputs-ready");
	log_info("build %s: seed %s (%s), snapshot %s (%s); start after %" PRId64 " ms", b.name, b.seed_name,
		 cache_action_name(seed.action), b.snapshot_name,
		 b.snapshot_is_image ? "image" : cache_action_name(snap.action), now_ms() - t0);

	/* 5. The target's steps in the sandbox. */
	r = run_steps(&b, work_fd, seed.path, snap.path, &err);
	if (r < 0)
		goto fail;

	/* 6. Pack and publish. */
	test_point("packing");
	log_info("build %s: packing %s", b.name, b.out_name);
	r = pack_result(&b, seed.path, &err);
	if (r < 0)
		goto fail;
	test_point("packed");

	/* 7. Done: leases go, the work directory too (unless keepwork). */
	cache_release(&seed);
	cache_release(&snap);
	if (!b.keepwork) {
		_cleanup_close_ int rel_fd = openat(st->tmp_fd, b.rel_type, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		closep(&work_fd);
		if (rel_fd >= 0)
			(void) rm_rf_at(rel_fd, b.name);
	} else
		clear_marks(work_fd);
	printf("%s/%s\n", b.out_dir, b.out_name);
	log_info("build %s: done in %.1f s", b.name, (double) (now_ms() - t0) / 1000.0);
	return EXIT_OK;

fail:
	cache_release(&seed);
	cache_release(&snap);
	if (r == -ETIMEDOUT) {
		log_error("build %s: %s", b.name, err ? err : "gave up waiting for a lock");
		ret = EXIT_TEMPFAIL;
	} else if (r == -EBADMSG || r == -EPERM || r == -E2BIG) {
		log_error("build %s: %s", b.name, err ? err : strerror(-r));
		ret = EXIT_DATAERR;
	} else {
		log_error("build %s: %s", b.name, err ? err : strerror(-r));
		ret = EXIT_FAIL;
	}
	return ret;
}

int cmd_build(int argc, char **argv)
{
	enum { OPT_ENTER_CHROOT = CHAR_MAX + 1 };
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "clear-autoresume", no_argument, NULL, 'a' },
		{ "purge", no_argument, NULL, 'p' },
		{ "purgeonly", no_argument, NULL, 'P' },
		{ "purgetmponly", no_argument, NULL, 'T' },
		{ "fetchonly", no_argument, NULL, 'F' },
		{ "enter-chroot", no_argument, NULL, OPT_ENTER_CHROOT },
		{ "file", required_argument, NULL, 'f' },
		GLOBAL_LONG_OPTIONS,
		{}
	};
	_cleanup_(config_done) Config cfg = { 0 };
	_cleanup_(store_close) Store st = STORE_INIT;
	_cleanup_free_ char **specs = NULL;
	size_t n_specs = 0;
	BuildOptions o = { 0 };
	int c, r, ret = EXIT_OK;

	specs = xcalloc((size_t) argc + 1, sizeof(char *));
	command_getopt_reset();
	while ((c = command_getopt(argc, argv, "build", COMMAND_SHORT_OPTS "hnapPTFf:", options)) != -1) {
		switch (c) {
		case 'h':
			printf("Usage: zeolite build [OPTIONS] SPEC...\n\n"
			       "Build the stage each SPEC describes (catalyst -f SPEC).  Options and\n"
			       "SPECs may come in any order; \"--\" ends the options.\n\n"
			       "  -n, --dry-run            resolve every input and print the plan\n"
			       "  -a, --clear-autoresume   start over even with options = [\"autoresume\"]\n"
			       "  -p, --purge              remove the work directory first\n"
			       "  -P, --purgeonly          only remove the work directory\n"
			       "  -T, --purgetmponly       only remove the work directory (and with it\n"
			       "                           the autoresume marks)\n"
			       "  -F, --fetchonly          refused: not supported yet\n"
			       "      --enter-chroot       refused: not supported yet\n"
			       "  -f, --file SPEC          one more SPEC (catalyst's spelling)\n\n"
			       "The global options (zeolite --help) are accepted here too.\n");
			return EXIT_OK;
		case 'n':
			o.dry_run = true;
			break;
		case 'a':
			o.clear_autoresume = true;
			break;
		case 'p':
			o.purge = true;
			break;
		case 'P':
			o.purge_only = true;
			break;
		case 'T':
			o.purge_tmp_only = true;
			break;
		case 'F':
			o.fetch_only = true;
			break;
		case OPT_ENTER_CHROOT:
			o.enter_chroot = true;
			break;
		case 'f':
			specs[n_specs++] = optarg;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	for (int i = optind; i < argc; i++)
		specs[n_specs++] = argv[i];
	if (n_specs == 0)
		return command_usage_error("build", "no spec file given");
	/* Never ignored: refused until the executor can do them. */
	if (o.fetch_only)
		return command_usage_error("build", "-F/--fetchonly is not supported yet; nothing was done");
	if (o.enter_chroot)
		return command_usage_error("build", "--enter-chroot is not supported yet; nothing was done");
	r = load_config_and_store(&cfg, &st);
	if (r != EXIT_OK)
		return r;
	for (size_t i = 0; i < n_specs; i++) {
		r = build_one(&cfg, &st, specs[i], &o);
		if (r != EXIT_OK && ret == EXIT_OK)
			ret = r;
	}
	return ret;
}
