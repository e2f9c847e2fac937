// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cmd-cache.c - the snapshot cache commands: snapshot, prepare, gc
 * (status: cmd-status.c).
 */
#include "archive-ops.h"
#include "build-log.h"
#include "cache.h"
#include "main.h"
#include "output.h"
#include "progress.h"
#include "image.h"
#include "snapshot.h"
#include "unpack.h"

#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

/* Map a module's -errno to an exit status (DESIGN.md §5). */
static int exit_status_for(int r)
{
	switch (r) {
	case -ETIMEDOUT:
	case -EAGAIN:
	case -ESTALE:
		return EXIT_TEMPFAIL;
	case -EBADMSG:
	case -EPERM:
	case -E2BIG:
	case -EINVAL:
	case -ENOENT:
		return EXIT_DATAERR;
	default:
		return EXIT_FAIL;
	}
}

/* ---- snapshot --------------------------------------------------------- */

/* catalyst's line, always with the full commit (catalyst prints the
 * tree-ish as given, the commit for "stable"); catalyst-auto reads the
 * commit from it.  On stdout with -s; on stderr for `zeolite snapshot`,
 * whose stdout is the file name alone. */
static char announced_repo[128], announced_commit[128];

static void announce_snapshot(void *userdata _unused_, const char *repo_name, const char *commit,
			      const char *git_dir)
{
	FILE *f = arg_catalyst_alias && !arg_json ? stdout : stderr;

	snprintf(announced_repo, sizeof(announced_repo), "%s", repo_name);
	snprintf(announced_commit, sizeof(announced_commit), "%s", commit);
	fprintf(f, "Creating %s tree snapshot %s from %s\n", repo_name, commit, git_dir);
	fflush(f);
}

/* The snapshot's progress line (a terminal only: progress.h). */
static void snapshot_progress(void *userdata, uint64_t written)
{
	const SnapshotRequest *req = userdata;
	static int64_t t0;

	if (!t0)
		t0 = now_ms();
	progress_line("snapshot %s-%s: %.1f MiB written, %.0f s", req->repo_name,
		      req->plain_dir ? "(directory)" : (req->treeish ? req->treeish : "HEAD"),
		      (double) written / 1048576.0, (double) (now_ms() - t0) / 1000.0);
}

int cmd_snapshot(int argc, char **argv)
{
	enum { OPT_REPO = CHAR_MAX + 1, OPT_GIT_DIR, OPT_REPO_NAME, OPT_FORMAT };
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "repo", required_argument, NULL, OPT_REPO },
		{ "git-dir", required_argument, NULL, OPT_GIT_DIR },
		{ "repo-name", required_argument, NULL, OPT_REPO_NAME },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "json", no_argument, NULL, 'j' },
		GLOBAL_LONG_OPTIONS,
		{}
	};
	_cleanup_(config_done) Config cfg = { 0 };
	_cleanup_(store_close) Store st = STORE_INIT;
	_cleanup_free_ char *name = NULL, *err = NULL, *git_default = NULL;
	SnapshotRequest req = { .format = SNAPSHOT_SQFS };
	int c, r;

	command_getopt_reset();
	while ((c = command_getopt(argc, argv, "snapshot", COMMAND_SHORT_OPTS "h", options)) != -1) {
		switch (c) {
		case 'h':
			printf("Usage: zeolite snapshot [--git-dir DIR | --repo DIR] [--repo-name NAME]\n"
			       "                        [--format sqfs|tar.xz|tar.zst] [TREEISH]\n\n"
			       "Make snapshots/<repo_name>-<id>.<ext> of an ebuild repository: a git\n"
			       "repository at TREEISH (any git-treeish: branch, tag, abbreviated hash;\n"
			       "default HEAD; the id is the commit), or a plain directory (--repo; the\n"
			       "id is a digest of its content).  A TREEISH other than the full commit\n"
			       "also names it as catalyst does, <repo_name>-<TREEISH>.<ext> (a hard\n"
			       "link, with <that name>.source recording the commit).  The git\n"
			       "repository defaults to catalyst 4's bare repos_storedir/<repo_name>.git,\n"
			       "else repo_basedir/<repo_name>; it is not fetched.\n"
			       "Prints catalyst's \"Creating <repo_name> tree snapshot <commit> from\n"
			       "<git dir>\" on stderr (stdout with -s), then the snapshot's file name;\n"
			       "an existing snapshot is left alone.\n");
			return EXIT_OK;
		case 'j':
			arg_json = true;
			break;
		case OPT_REPO:
			req.plain_dir = optarg;
			break;
		case OPT_GIT_DIR:
			req.git_dir = optarg;
			break;
		case OPT_REPO_NAME:
			req.repo_name = optarg;
			break;
		case OPT_FORMAT:
			if (snapshot_format_from_string(optarg, &req.format) < 0)
				return command_usage_error("snapshot", "unknown --format '%s' (sqfs, tar.xz or tar.zst)",
						   optarg);
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1)
		return command_usage_error("snapshot", "at most one TREEISH");
	if (optind < argc)
		req.treeish = argv[optind];
	if (req.plain_dir && (req.git_dir || req.treeish))
		return command_usage_error("snapshot", "--repo takes a plain directory; no --git-dir or TREEISH with it");

	r = require_root("snapshot");
	if (r == EXIT_OK)
		r = load_config_and_store(&cfg, &st);
	if (r != EXIT_OK)
		return r;
	if (!req.repo_name)
		req.repo_name = cfg.repo_name;
	if (!req.plain_dir && !req.git_dir) {
		/* catalyst 4's bare repository, else the ebuild repository
		 * checked out in repo_basedir. */
		struct stat sb;

		git_default = xasprintf("%s/%s.git", cfg.repos_storedir, req.repo_name);
		if (stat(git_default, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
			free(git_default);
			git_default = xasprintf("%s/%s", cfg.repo_basedir, req.repo_name);
		}
		req.git_dir = git_default;
	}

	req.lock_timeout_ms = (long) effective_lock_timeout(&cfg, NULL) * 1000;
	req.resolved = announce_snapshot;
	if (progress_enabled()) {
		req.progress = snapshot_progress;
		req.userdata = &req;
	}
	r = snapshot_make(&st, &req, &name, &err);
	progress_clear();
	if (r < 0) {
		log_error("snapshot: %s", err ? err : strerror(-r));
		return exit_status_for(r);
	}
	if (r == 0)
		log_info("snapshot '%s' already exists", name);
	if (arg_json) {
		/* docs/json.md */
		Buf b = { 0 };
		_cleanup_free_ char *path = xasprintf("%s/snapshots/%s", st.path, name);
		buf_puts(&b, "{\"version\": 1, \"snapshot\": ");
		buf_put_json_string(&b, name);
		buf_puts(&b, ", \"path\": ");
		buf_put_json_string(&b, path);
		buf_puts(&b, ", \"repo_name\": ");
		buf_put_json_string(&b, announced_repo[0] ? announced_repo : req.repo_name);
		buf_puts(&b, ", \"commit\": ");
		if (announced_commit[0])
			buf_put_json_string(&b, announced_commit);
		else
			buf_puts(&b, "null");
		buf_printf(&b, ", \"created\": %s}", r > 0 ? "true" : "false");
		puts(b.data);
		buf_done(&b);
	} else
		printf("%s\n", name);
	return EXIT_OK;
}

/* ---- prepare ---------------------------------------------------------- */

static const char *const snapshot_exts[] = { ".sqfs", ".tar.xz", ".tar.zst", ".tar.bz2", ".tar.gz" };

static bool has_snapshot_ext(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < ELEMENTSOF(snapshot_exts); i++) {
		size_t e = strlen(snapshot_exts[i]);
		if (n > e && strcmp(name + n - e, snapshot_exts[i]) == 0)
			return true;
	}
	return false;
}

/*
 * Find SNAPSHOT: a path to a file (it contains '/'), or a name in
 * snapshots/ with or without its extension.  Returns an fd and the file's
 * base name.
 */
bool snapshot_file_name(const char *name)
{
	return has_snapshot_ext(name);
}

static int open_snapshot(const Store *st, const char *arg, char **ret_name)
{
	int fd;

	if (strchr(arg, '/')) {
		const char *base = strrchr(arg, '/') + 1;
		fd = open(arg, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return -errno;
		*ret_name = xstrdup(*base ? base : arg);
		return fd;
	}
	if (strstr(arg, "..") || arg[0] == '.')
		return -ENOENT;
	/* A symlink the admin put in snapshots/ is followed (catalyst does);
	 * O_NONBLOCK and the regular-file check after it keep a FIFO or a
	 * device there from blocking us. */
	fd = openat(st->snapshots_fd, arg, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0) {
		*ret_name = xstrdup(arg);
		return fd;
	}
	if (errno != ENOENT || has_snapshot_ext(arg))
		return -errno;
	for (size_t i = 0; i < ELEMENTSOF(snapshot_exts); i++) {
		_cleanup_free_ char *n = xasprintf("%s%s", arg, snapshot_exts[i]);
		fd = openat(st->snapshots_fd, n, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0) {
			*ret_name = TAKE_PTR(n);
			return fd;
		}
	}
	return -ENOENT;
}

static void unpack_progress(void *userdata, uint64_t done, uint64_t total)
{
	cache_progress(userdata, done, total);
}

int unpack_fill(void *userdata, int dest_fd, CacheProgress *progress, uint64_t *ret_files, uint64_t *ret_bytes,
		char **ret_err)
{
	UnpackFill *u = userdata;
	UnpackStats stats = { 0 };
	struct timespec began;
	struct stat before;
	bool racy;
	int r;

	/* A source changed less than 2 s before we began may change again
	 * within one tick of the kernel's coarse ctime clock, unseen by the
	 * stat check (docs/protocol.md): what was not hashed as it was read
	 * (squashfs, read at random offsets) is then hashed again after. */
	if (fstat(u->fd, &before) < 0 || clock_gettime(CLOCK_REALTIME, &began) < 0)
		return -errno;
	racy = (int64_t) (began.tv_sec - before.st_ctim.tv_sec) * 1000000000 + (began.tv_nsec - before.st_ctim.tv_nsec) <
	       2LL * 1000000000;

	r = unpack_archive_at(u->fd, u->name, dest_fd, u->flags, unpack_progress, progress, &stats, ret_err);
	if (r < 0) {
		/* A message quoting a hostile name stays one readable line. */
		if (*ret_err && strlen(*ret_err) > 480) {
			char *c = xasprintf("%.200s[...]%s", *ret_err, *ret_err + strlen(*ret_err) - 200);
			free(*ret_err);
			*ret_err = c;
		}
		/* What only the archive's content can cause is a bad archive
		 * (exit 65): a name too long for the file system, a non-empty
		 * directory it replaces, a path through a non-directory. */
		if (r == -ENAMETOOLONG || r == -ENOTEMPTY || r == -EEXIST || r == -ENOTDIR || r == -ELOOP ||
		    r == -EISDIR)
			return -EBADMSG;
		return r;
	}
	if (stats.hashed)
		cache_progress_digest(progress, stats.sha256);
	else if (racy) {
		unsigned char md[32];

		r = archive_sha256_fd(u->fd, md);
		if (r < 0) {
			*ret_err = xasprintf("%s: read again to check its digest: %s", u->name, strerror(-r));
			return r;
		}
		cache_progress_digest(progress, md);
	}
	*ret_files = stats.entries;
	*ret_bytes = stats.bytes;
	return 0;
}

static int run_held(char **cmd, const char *path)
{
	pid_t pid, parent = getpid();
	int status;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_error("prepare: fork: %m");
		return EXIT_FAIL;
	}
	if (pid == 0) {
		/* The lease dies with us; so does the command. */
		(void) prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		setenv("ZEOLITE_SNAPSHOT_PATH", path, 1);
		execvp(cmd[0], cmd);
		fprintf(stderr, "zeolite: prepare: cannot run '%s': %m\n", cmd[0]);
		_exit(errno == ENOENT ? 127 : 126);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			log_error("prepare: waitpid: %m");
			return EXIT_FAIL;
		}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int cmd_prepare(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "hold", no_argument, NULL, 'H' },
		{ "image", no_argument, NULL, 'I' },
		GLOBAL_LONG_OPTIONS,
		{}
	};
	_cleanup_(config_done) Config cfg = { 0 };
	_cleanup_(store_close) Store st = STORE_INIT;
	_cleanup_free_ char *name = NULL, *id = NULL, *err = NULL, *group = NULL;
	_cleanup_close_ int fd = -EBADF;
	CacheLease lease = CACHE_LEASE_INIT;
	bool hold = false, image = false;
	char **cmd = NULL;
	int c, r, ret, nopts = argc;

	/* Options may follow SNAPSHOT; everything after "--" is COMMAND. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			nopts = i;
			cmd = argv + i + 1;
			break;
		}
	command_getopt_reset();
	while ((c = command_getopt(nopts, argv, "prepare", COMMAND_SHORT_OPTS "h", options)) != -1) {
		switch (c) {
		case 'h':
			printf("Usage: zeolite prepare [--image] [--json] SNAPSHOT\n"
			       "       zeolite prepare --hold SNAPSHOT -- COMMAND [ARGS...]\n\n"
			       "Make the unpacked tree of SNAPSHOT ready in cache/snapshots/<id>/ and print\n"
			       "its path.  SNAPSHOT is a path to a snapshot file or a name in snapshots/\n"
			       "(with or without its extension).  One process unpacks; others wait for it\n"
			       "(at most lock_timeout seconds, then exit 75 naming the holder).\n\n"
			       "      --image  make the squashfs image of SNAPSHOT (a tarball) in\n"
			       "               cache/images/<id>/ instead, and print the image's path\n"
			       "      --json   print {snapshot, id, path, action, waited_ms}\n"
			       "      --hold   run COMMAND with ZEOLITE_SNAPSHOT_PATH set, holding the\n"
			       "               tree so that gc cannot remove it; exit with its status\n");
			return EXIT_OK;
		case 'j':
			arg_json = true;
			break;
		case 'H':
			hold = true;
			break;
		case 'I':
			image = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind >= nopts)
		return command_usage_error("prepare", "no SNAPSHOT given");
	if (optind + 1 < nopts)
		return command_usage_error("prepare", "one SNAPSHOT at a time");
	if (hold && (!cmd || !*cmd))
		return command_usage_error("prepare", "--hold needs SNAPSHOT -- COMMAND");
	if (!hold && cmd)
		return command_usage_error("prepare", "a COMMAND needs --hold");

	r = require_root("prepare");
	if (r == EXIT_OK)
		r = load_config_and_store(&cfg, &st);
	if (r != EXIT_OK)
		return r;

	fd = open_snapshot(&st, argv[optind], &name);
	if (fd < 0) {
		/* A bare name is looked up in snapshots/ only: say so when it
		 * names a file here. */
		bool here = fd == -ENOENT && !strchr(argv[optind], '/') && access(argv[optind], F_OK) == 0;

		log_error("prepare: snapshot '%s': %s%s%s", argv[optind],
			  fd == -ENOENT ? "not found (neither a file nor a name in snapshots/)" : strerror(-fd),
			  here ? "; for the file in the current directory, give ./" : "", here ? argv[optind] : "");
		return EXIT_DATAERR;
	}
	if (image && !image_can_convert(name)) {
		log_error("prepare: snapshot '%s': --image needs a tarball (.tar, .tar.xz, .tar.zst, ...)%s", name,
			  has_snapshot_ext(name) && strstr(name, ".sqfs") ? "; a .sqfs snapshot is an image already"
									 : "");
		return EXIT_DATAERR;
	}
	r = cache_source_id_wait(&st, image ? CACHE_IMAGES : CACHE_SNAPSHOTS, fd, name,
				 (long) effective_lock_timeout(&cfg, NULL) * 1000, &id, &err);
	if (r < 0) {
		if (r == -ETIMEDOUT || r == -ELIBACC)
			log_error("prepare: %s", err ? err : strerror(-r));
		else
			log_error("prepare: snapshot '%s': %s", name,
				  r == -EINVAL ? "not a regular file" : err ? err : strerror(-r));
		return exit_status_for(r);
	}
	free(err);
	err = NULL;
	group = snapshot_group(name);

	UnpackFill fill = { .fd = fd, .name = name };
	CacheRequest req = {
		.kind = image ? CACHE_IMAGES : CACHE_SNAPSHOTS,
		.id = id,
		.label = name,
		.group = group,
		.timeout_ms = (long) effective_lock_timeout(&cfg, NULL) * 1000,
		.hold = hold,
		.fill = image ? image_fill : unpack_fill,
		.userdata = &fill,
	};
	r = cache_acquire(&st, &req, &lease, &err);
	if (r < 0) {
		if (r == -ETIMEDOUT || r == -ELIBACC)
			log_error("prepare: %s", err ? err : strerror(-r));
		else
			log_error("prepare: snapshot '%s': %s", name, err ? err : strerror(-r));
		return exit_status_for(r);
	}
	if (image) {
		/* The entry is the directory; what a user wants is the image. */
		char *p = xasprintf("%s/%s", lease.path, IMAGE_FILE_NAME);
		free(lease.path);
		lease.path = p;
	}

	if (arg_json || !hold) {
		/* The path is the answer: not printing it is a failure.  One
		 * write(2), so that its errno is the one reported. */
		Buf b = { 0 };
		int w;

		if (arg_json) {
			buf_puts(&b, "{\"version\": 1, \"snapshot\": ");
			buf_put_json_string(&b, name);
			buf_puts(&b, ", \"id\": ");
			buf_put_json_string(&b, lease.id);
			buf_puts(&b, ", \"path\": ");
			buf_put_json_string(&b, lease.path);
			buf_printf(&b, ", \"action\": \"%s\", \"waited_ms\": %" PRId64 ", \"recovered\": %s}\n",
				   cache_action_name(lease.action), lease.waited_ms,
				   lease.recovered ? "true" : "false");
		} else
			buf_printf(&b, "%s\n", lease.path);
		fflush(stdout);
		w = write_all(STDOUT_FILENO, b.data, b.len);
		buf_done(&b);
		if (w < 0) {
			log_error("prepare: write the path to standard output: %s", strerror(-w));
			cache_release(&lease);
			return EXIT_FAIL;
		}
	}

	ret = hold ? run_held(cmd, lease.path) : EXIT_OK;
	cache_release(&lease);
	return ret;
}

/* ---- gc --------------------------------------------------------------- */

typedef struct GcBuildsCtx {
	const char *rel;
} GcBuildsCtx;

static void gc_builds_note(const char *msg, void *userdata)
{
	GcBuildsCtx *c = userdata;
	/* Under --json stdout is the one object (docs/json.md). */
	if (arg_json)
		log_info("builds/%s: %s", *c->rel ? c->rel : ".", msg);
	else
		printf("builds/%s: %s\n", *c->rel ? c->rel : ".", msg);
}

/* Leftovers of packs killed while publishing, in DIR_FD (builds/REL) and
 * the directories below it (output_recover(): unlocked stage directories,
 * .tmp.* files; a committed set is finished).  Never follows a symlink. */
static int gc_builds_at(int dir_fd, const char *rel, unsigned depth)
{
	GcBuildsCtx ctx = { .rel = rel };
	_cleanup_free_ char *err = NULL;
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int r = output_recover(dir_fd, gc_builds_note, &ctx, &err);

	if (r < 0)
		log_error("gc: builds/%s: %s", rel, err ? err : strerror(-r));
	if (fd < 0 || depth >= 4 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	while ((de = readdir(d))) {
		struct stat s;

		if (de->d_name[0] == '.' || fstatat(dir_fd, de->d_name, &s, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(s.st_mode))
			continue;
		_cleanup_close_ int sub = openat(dir_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_free_ char *subrel = *rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		if (sub >= 0) {
			int q = gc_builds_at(sub, subrel, depth + 1);
			if (q < 0 && r == 0)
				r = q;
		}
	}
	closedir(d);
	return r;
}

int cmd_gc(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "keep", required_argument, NULL, 'k' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		GLOBAL_LONG_OPTIONS,
		{}
	};
	_cleanup_(config_done) Config cfg = { 0 };
	_cleanup_(store_close) Store st = STORE_INIT;
	CacheGcOptions o = { .keep = 1 };
	unsigned long v;
	int c, r;

	command_getopt_reset();
	while ((c = command_getopt(argc, argv, "gc", COMMAND_SHORT_OPTS "hn", options)) != -1) {
		switch (c) {
		case 'h':
			printf("Usage: zeolite gc [--keep N] [--dry-run]\n\n"
			       "Remove cache entries that nobody holds, keeping the newest N per\n"
			       "repository (default 1), and leftovers of crashed preparations.\n"
			       "Never waits for a lock; never removes an entry in use.\n");
			return EXIT_OK;
		case 'k':
			if (parse_ulong(optarg, &v) < 0 || v > UINT_MAX)
				return command_usage_error("gc", "--keep: '%s' is not a number", optarg);
			o.keep = (unsigned) v;
			break;
		case 'n':
			o.dry_run = true;
			break;
		case 'j':
			arg_json = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return command_usage_error("gc", "takes no arguments");
	/* --dry-run only reads: it works on a read-only store, without root. */
	r = o.dry_run ? EXIT_OK : require_root("gc");
	if (r == EXIT_OK)
		r = o.dry_run ? load_config_and_store_readonly(&cfg, &st) : load_config_and_store(&cfg, &st);
	if (r != EXIT_OK)
		return r;
	GcReport *report = gc_report_new(&st, o.dry_run);
	r = cache_gc(&st, &o, gc_report_fn, report);
	{
		int q = build_log_gc(st.fd, cfg.log_retention_days, o.dry_run, gc_report_log, report);
		if (q < 0) {
			log_error("gc: %s/logs: %s", st.path, strerror(-q));
			if (r == 0)
				r = q;
		}
	}
	if (!o.dry_run && st.builds_fd >= 0 && gc_builds_at(st.builds_fd, "", 0) < 0 && r == 0)
		r = -EIO;
	gc_report_finish(report);
	if (r < 0) {
		log_error("gc: in %s/cache: not everything could be removed (see above): %s", st.path, strerror(-r));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
