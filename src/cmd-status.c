// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cmd-status.c - `zeolite status`: what is in the store and who is at
 * work in it, for people (a table with headers, human units, local times
 * with their zone) and for programs (--json, docs/json.md).
 *
 * status only reads (store_open_readonly()): it creates nothing, works on
 * a read-only store, and a user running it cannot make the default store.
 *
 * Running builds are found from their locks: a build holds
 * tmp/<rel_type>/<name>.lock for its whole run and keeps
 * tmp/<rel_type>/<name>.run (status_note_step()) saying which step it is
 * in and where its log is; a .run beside a lock nobody holds is stale
 * and not shown.
 */
#include "cache.h"
#include "main.h"

#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

void format_size(uint64_t bytes, char *buf, size_t n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double) bytes;
	size_t u = 0;

	while (v >= 1024.0 && u + 1 < ELEMENTSOF(units)) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, n, "%" PRIu64 " B", bytes);
	else if (v < 10.0 && v != (double) (uint64_t) v)
		snprintf(buf, n, "%.1f %s", v, units[u]);
	else
		snprintf(buf, n, "%.0f %s", v, units[u]);
}

void format_local_time(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t) t;
	struct tm tm;

	if (t <= 0 || !localtime_r(&tt, &tm))
		snprintf(buf, n, "-");
	else
		strftime(buf, n, "%Y-%m-%d %H:%M:%S %Z", &tm);
}

void format_duration(int64_t secs, char *buf, size_t n)
{
	if (secs < 0)
		secs = 0;
	if (secs < 60)
		snprintf(buf, n, "%" PRId64 " s", secs);
	else if (secs < 3600)
		snprintf(buf, n, "%" PRId64 " min %02" PRId64 " s", secs / 60, secs % 60);
	else if (secs < 86400)
		snprintf(buf, n, "%" PRId64 " h %02" PRId64 " min", secs / 3600, secs % 3600 / 60);
	else
		snprintf(buf, n, "%" PRId64 " d %" PRId64 " h", secs / 86400, secs % 86400 / 3600);
}

/* ---- the running builds' notes ---------------------------------------- */

void status_note_step(int tmp_fd, const char *rel_type, const char *name, const char *step, const char *log_path)
{
	_cleanup_free_ char *tmpname = xasprintf("%s/.%s.run.tmp", rel_type, name);
	_cleanup_free_ char *runname = xasprintf("%s/%s.run", rel_type, name);
	_cleanup_free_ char *text = NULL;
	static int64_t started;
	_cleanup_close_ int fd = -EBADF;

	if (!started)
		started = (int64_t) time(NULL);
	text = xasprintf("pid=%d\nstep=%s\nstart=%" PRId64 "\nstep_start=%" PRId64 "\nlog=%s\n", (int) getpid(),
			 step, started, (int64_t) time(NULL), log_path ? log_path : "");
	fd = openat(tmp_fd, tmpname, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, text, strlen(text)) < 0 || renameat(tmp_fd, tmpname, tmp_fd, runname) < 0)
		log_debug("cannot note the step of build %s: %m", name);
}

void status_note_done(int tmp_fd, const char *rel_type, const char *name)
{
	_cleanup_free_ char *runname = xasprintf("%s/%s.run", rel_type, name);

	(void) unlinkat(tmp_fd, runname, 0);
}

typedef struct RunningBuild {
	char *rel_type, *name, *step, *log;
	LockOwner owner;
	int64_t start, step_start;
} RunningBuild;

static void running_build_done(RunningBuild *b)
{
	free(b->rel_type);
	free(b->name);
	free(b->step);
	free(b->log);
}

static void read_run_file(int dir_fd, const char *name, RunningBuild *b)
{
	_cleanup_free_ char *runname = xasprintf("%s.run", name);
	_cleanup_close_ int fd = openat(dir_fd, runname, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	char buf[4096];
	ssize_t n;

	if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
		return;
	buf[n] = '\0';
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq++ = '\0';
		if (strcmp(line, "step") == 0)
			b->step = xstrdup(eq);
		else if (strcmp(line, "log") == 0 && *eq)
			b->log = xstrdup(eq);
		else if (strcmp(line, "start") == 0)
			b->start = strtoll(eq, NULL, 10);
		else if (strcmp(line, "step_start") == 0)
			b->step_start = strtoll(eq, NULL, 10);
	}
}

/* The builds whose lock is held now, in tmp/<rel_type>/<name>.lock. */
static RunningBuild *running_builds(const Store *st, size_t *ret_n)
{
	_cleanup_close_ int fd = st->tmp_fd >= 0 ? openat(st->tmp_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -EBADF;
	RunningBuild *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	*ret_n = 0;
	if (fd < 0 || !(d = fdopendir(fd)))
		return NULL;
	fd = -EBADF;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_close_ int rel_fd = openat(st->tmp_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_close_ int rfd = rel_fd >= 0 ? openat(rel_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -EBADF;
		struct dirent *e;
		DIR *rd;

		if (rfd < 0 || !(rd = fdopendir(rfd)))
			continue;
		rfd = -EBADF;
		while ((e = readdir(rd))) {
			size_t len = strlen(e->d_name);
			_cleanup_close_ int lfd = -EBADF;
			struct stat s;
			LockOwner o;

			if (e->d_name[0] == '.' || len <= 5 || strcmp(e->d_name + len - 5, ".lock") != 0)
				continue;
			lfd = openat(rel_fd, e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
			if (lfd < 0 || fstat(lfd, &s) < 0 || !S_ISREG(s.st_mode) || lock_byte_test(lfd, 0, F_RDLCK) <= 0)
				continue;
			if (lock_owner_read(lfd, &o) < 0)
				memset(&o, 0, sizeof(o));
			xgrow(&v, &cap, n + 1, sizeof(*v));
			v[n] = (RunningBuild) { .rel_type = xstrdup(de->d_name), .name = xstrndup(e->d_name, len - 5),
						.owner = o, .start = o.since };
			read_run_file(rel_fd, v[n].name, &v[n]);
			n++;
		}
		closedir(rd);
	}
	closedir(d);
	*ret_n = n;
	return v;
}

/* ---- status ----------------------------------------------------------- */

typedef struct StatusCtx {
	const Store *st;
	Buf out;
	bool first;
	const CacheEntryInfo *entry; /* the entry whose holders are listed */
	uint64_t cache_bytes;
} StatusCtx;

static void json_owner(Buf *b, const LockOwner *o)
{
	buf_printf(b, "{\"pid\": %d, \"host\": ", (int) o->pid);
	buf_put_json_string(b, o->host);
	buf_puts(b, ", \"command\": ");
	buf_put_json_string(b, o->command);
	buf_printf(b, ", \"since\": %" PRId64 ", \"state\": ", o->since);
	buf_put_json_string(b, o->state);
	buf_puts(b, ", \"progress\": ");
	buf_put_json_string(b, o->progress);
	buf_putc(b, '}');
}

static bool same_process(const LockOwner *a, const LockOwner *b)
{
	return a->pid == b->pid && strcmp(a->host, b->host) == 0;
}

static void status_holder(void *userdata, const char *name, const LockOwner *o, bool alive)
{
	StatusCtx *ctx = userdata;
	const CacheEntryInfo *e = ctx->entry;

	(void) name;
	if (!alive)
		return;
	/* The preparer is shown once, as the preparer: not also as waiting
	 * for (or using) its own entry; and a record saying "preparing" of an
	 * entry nobody prepares is stale. */
	if (e->preparing && same_process(o, &e->preparer))
		return;
	if (!e->preparing && strcmp(o->state, "preparing") == 0)
		return;
	if (arg_json) {
		if (!ctx->first)
			buf_puts(&ctx->out, ", ");
		ctx->first = false;
		json_owner(&ctx->out, o);
	} else {
		_cleanup_free_ char *d = lock_owner_describe(o);
		printf("    %s: %s\n", o->state, d);
	}
}

static void status_entry(void *userdata, const CacheEntryInfo *e)
{
	StatusCtx *ctx = userdata;
	_cleanup_free_ char *prefix = xasprintf("%s.%s.", cache_kind_name(e->kind), e->id);
	char when[64], size[32];

	ctx->entry = e;
	ctx->cache_bytes += e->size;
	format_local_time(e->prepared, when, sizeof(when));
	format_size(e->size, size, sizeof(size));
	if (arg_json) {
		Buf *b = &ctx->out;
		if (!ctx->first)
			buf_puts(b, ", ");
		buf_puts(b, "{\"kind\": ");
		buf_put_json_string(b, cache_kind_name(e->kind));
		buf_puts(b, ", \"id\": ");
		buf_put_json_string(b, e->id);
		buf_puts(b, ", \"source\": ");
		buf_put_json_string(b, e->label ? e->label : "");
		buf_puts(b, ", \"malformed\": ");
		if (e->malformed && !e->preparing)
			buf_put_json_string(b, e->malformed);
		else
			buf_puts(b, "null");
		buf_printf(b, ", \"ready\": %s, \"size\": %" PRIu64 ", \"files\": %" PRIu64
			   ", \"prepared\": %" PRId64 ", \"in_use\": %s, \"leftovers\": %s, \"preparer\": ",
			   e->ready ? "true" : "false", e->size, e->files, e->prepared,
			   e->in_use ? "true" : "false", e->leftovers && !e->preparing ? "true" : "false");
		if (e->preparing)
			json_owner(b, &e->preparer);
		else
			buf_puts(b, "null");
		buf_puts(b, ", \"holders\": [");
		ctx->first = true;
		if (ctx->st->locks_fd >= 0)
			(void) lock_registrations_list(ctx->st->locks_fd, prefix, status_holder, ctx);
		buf_puts(b, "]}");
		ctx->first = false;
		return;
	}
	if (e->malformed && !e->preparing) {
		printf("  %-9s %-32s  malformed: %s (leftovers: the next prepare or gc removes it)\n",
		       cache_kind_name(e->kind), e->id, e->malformed);
		return;
	}
	printf("  %-9s %-32s  %-10s %8" PRIu64 "  %10s  %-25s  %s%s\n", cache_kind_name(e->kind), e->id,
	       e->ready ? "ready" : e->preparing ? "preparing" : "not ready", e->files, size, when,
	       e->label ? e->label : "-", e->leftovers && !e->preparing ? " (leftovers of an unfinished preparation)" : "");
	if (e->preparing) {
		_cleanup_free_ char *d = lock_owner_describe(&e->preparer);
		printf("    preparing: %s\n", d);
	}
	if (ctx->st->locks_fd >= 0)
		(void) lock_registrations_list(ctx->st->locks_fd, prefix, status_holder, ctx);
}

static uint64_t status_snapshots(StatusCtx *ctx)
{
	_cleanup_close_ int fd = ctx->st->snapshots_fd >= 0
					 ? openat(ctx->st->snapshots_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
					 : -EBADF;
	struct dirent *de;
	bool first = true;
	uint64_t total = 0;
	DIR *d;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (!arg_json)
			printf("  (none)\n");
		return 0;
	}
	fd = -EBADF;
	while ((de = readdir(d))) {
		struct stat s;
		char when[64], size[32];

		/* Only snapshot files: catalyst's snapshot leaves <name>.lock here. */
		if (de->d_name[0] == '.' || !snapshot_file_name(de->d_name) ||
		    fstatat(ctx->st->snapshots_fd, de->d_name, &s, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(s.st_mode))
			continue;
		total += (uint64_t) s.st_size;
		format_local_time(s.st_mtim.tv_sec, when, sizeof(when));
		format_size((uint64_t) s.st_size, size, sizeof(size));
		if (arg_json) {
			if (!first)
				buf_puts(&ctx->out, ", ");
			buf_puts(&ctx->out, "{\"name\": ");
			buf_put_json_string(&ctx->out, de->d_name);
			buf_printf(&ctx->out, ", \"size\": %jd, \"mtime\": %jd}", (intmax_t) s.st_size,
				   (intmax_t) s.st_mtim.tv_sec);
		} else {
			if (first)
				printf("  %-40s %10s  %s\n", "NAME", "SIZE", "MODIFIED");
			printf("  %-40s %10s  %s\n", de->d_name, size, when);
		}
		first = false;
	}
	closedir(d);
	if (first && !arg_json)
		printf("  (none)\n");
	return total;
}

static void status_builds(StatusCtx *ctx)
{
	size_t n;
	RunningBuild *v = running_builds(ctx->st, &n);
	int64_t now = (int64_t) time(NULL);

	for (size_t i = 0; i < n; i++) {
		RunningBuild *b = &v[i];
		char since[64], elapsed[32];

		format_local_time(b->start, since, sizeof(since));
		format_duration(now - b->start, elapsed, sizeof(elapsed));
		if (arg_json) {
			Buf *o = &ctx->out;
			if (i)
				buf_puts(o, ", ");
			buf_puts(o, "{\"rel_type\": ");
			buf_put_json_string(o, b->rel_type);
			buf_puts(o, ", \"name\": ");
			buf_put_json_string(o, b->name);
			buf_puts(o, ", \"step\": ");
			if (b->step)
				buf_put_json_string(o, b->step);
			else
				buf_puts(o, "null");
			buf_printf(o, ", \"pid\": %d, \"host\": ", (int) b->owner.pid);
			buf_put_json_string(o, b->owner.host);
			buf_printf(o, ", \"since\": %" PRId64 ", \"elapsed\": %" PRId64 ", \"log\": ", b->start,
				   now - b->start);
			if (b->log)
				buf_put_json_string(o, b->log);
			else
				buf_puts(o, "null");
			buf_putc(o, '}');
		} else {
			_cleanup_free_ char *full = xasprintf("%s/%s", b->rel_type, b->name);
			if (i == 0)
				printf("  %-30s %-12s %7s  %-12s %-25s  %-12s %s\n", "BUILD", "STEP", "PID", "HOST",
				       "SINCE", "ELAPSED", "LOG");
			printf("  %-30s %-12s %7d  %-12s %-25s  %-12s %s\n", full, b->step ? b->step : "starting",
			       (int) b->owner.pid, b->owner.host[0] ? b->owner.host : "-", since, elapsed,
			       b->log ? b->log : "-");
		}
		running_build_done(b);
	}
	if (n == 0 && !arg_json)
		printf("  (none)\n");
	free(v);
}

static void status_disk(const Store *st, uint64_t snapshots, uint64_t cache)
{
	struct statvfs vfs;
	char a[32], b[32], c[32], d[32];

	format_size(snapshots, a, sizeof(a));
	format_size(cache, b, sizeof(b));
	if (fstatvfs(st->fd, &vfs) == 0) {
		format_size((uint64_t) vfs.f_bavail * vfs.f_frsize, c, sizeof(c));
		format_size((uint64_t) vfs.f_blocks * vfs.f_frsize, d, sizeof(d));
		printf("disk: snapshots %s, cache %s; %s free of %s\n", a, b, c, d);
	} else
		printf("disk: snapshots %s, cache %s\n", a, b);
}

int cmd_status(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		GLOBAL_LONG_OPTIONS,
		{}
	};
	_cleanup_(config_done) Config cfg = { 0 };
	_cleanup_(store_close) Store st = STORE_INIT;
	uint64_t snap_bytes;
	int c, r;

	command_getopt_reset();
	while ((c = command_getopt(argc, argv, "status", COMMAND_SHORT_OPTS "h", options)) != -1) {
		switch (c) {
		case 'h':
			printf("Usage: zeolite status [--json]\n\n"
			       "List the running builds (step, pid, elapsed time, log), snapshots,\n"
			       "cache entries (id, size, when prepared), who holds leases on each,\n"
			       "and who is preparing or waiting.  Only reads the store: creates\n"
			       "nothing, and works on a read-only one.\n");
			return EXIT_OK;
		case 'j':
			arg_json = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return command_usage_error("status", "takes no arguments");
	r = load_config_and_store_readonly(&cfg, &st);
	if (r != EXIT_OK)
		return r;

	StatusCtx ctx = { .st = &st, .first = true };
	if (arg_json) {
		struct statvfs vfs;

		buf_puts(&ctx.out, "{\"version\": 1, \"storedir\": ");
		buf_put_json_string(&ctx.out, st.path);
		buf_puts(&ctx.out, ", \"builds\": [");
		status_builds(&ctx);
		buf_puts(&ctx.out, "], \"snapshots\": [");
		snap_bytes = status_snapshots(&ctx);
		buf_puts(&ctx.out, "], \"cache\": [");
		for (CacheKind k = 0; k < _CACHE_KIND_MAX; k++)
			(void) cache_list(&st, k, status_entry, &ctx);
		buf_printf(&ctx.out, "], \"disk\": {\"snapshots\": %" PRIu64 ", \"cache\": %" PRIu64, snap_bytes,
			   ctx.cache_bytes);
		if (fstatvfs(st.fd, &vfs) == 0)
			buf_printf(&ctx.out, ", \"free\": %" PRIu64 ", \"total\": %" PRIu64,
				   (uint64_t) vfs.f_bavail * vfs.f_frsize, (uint64_t) vfs.f_blocks * vfs.f_frsize);
		buf_puts(&ctx.out, "}}");
		puts(ctx.out.data);
		buf_done(&ctx.out);
		return EXIT_OK;
	}
	printf("store %s\nbuilds:\n", st.path);
	status_builds(&ctx);
	printf("snapshots:\n");
	snap_bytes = status_snapshots(&ctx);
	printf("cache:\n");
	printf("  %-9s %-32s  %-10s %8s  %10s  %-25s  %s\n", "KIND", "ID", "STATE", "FILES", "SIZE", "PREPARED",
	       "SOURCE");
	for (CacheKind k = 0; k < _CACHE_KIND_MAX; k++)
		(void) cache_list(&st, k, status_entry, &ctx);
	status_disk(&st, snap_bytes, ctx.cache_bytes);
	return EXIT_OK;
}

/* ---- what gc says ----------------------------------------------------- */

typedef struct GcSeen {
	char *what; /* "<kind>/<id>" */
	char *label;
	uint64_t size;
	int64_t prepared;
} GcSeen;

struct GcReport {
	GcSeen *v;
	size_t n, cap;
	uint64_t freed;
	unsigned removed;
	bool dry_run, any;
};

static void gc_seen(void *userdata, const CacheEntryInfo *e)
{
	GcReport *g = userdata;

	xgrow(&g->v, &g->cap, g->n + 1, sizeof(*g->v));
	g->v[g->n++] = (GcSeen) {
		.what = xasprintf("%s/%s", cache_kind_name(e->kind), e->id),
		.label = e->label ? xstrdup(e->label) : NULL,
		.size = e->size,
		.prepared = e->prepared,
	};
}

GcReport *gc_report_new(const Store *st, bool dry_run)
{
	GcReport *g = xcalloc(1, sizeof(*g));

	g->dry_run = dry_run;
	for (CacheKind k = 0; k < _CACHE_KIND_MAX; k++)
		(void) cache_list(st, k, gc_seen, g);
	if (arg_json)
		printf("{\"version\": 1, \"dry_run\": %s, \"removed\": [", dry_run ? "true" : "false");
	return g;
}

void gc_report_fn(void *userdata, CacheKind kind, const char *what, const char *why)
{
	GcReport *g = userdata;
	const GcSeen *s = NULL;
	bool removes = strncmp(why, "removed", 7) == 0 || strncmp(why, "would remove", 12) == 0;
	bool leftovers = strstr(why, "leftovers") != NULL;
	char size[32], age[32];

	(void) kind;
	for (size_t i = 0; i < g->n && !s; i++)
		if (strcmp(g->v[i].what, what) == 0)
			s = &g->v[i];
	/* Leftovers are not the entry: its size is not what they free. */
	uint64_t bytes = s && !leftovers ? s->size : 0;
	if (removes) {
		g->freed += bytes;
		g->removed++;
	}
	if (arg_json) {
		Buf b = { 0 };
		buf_puts(&b, g->any ? ", {\"entry\": " : "{\"entry\": ");
		g->any = true;
		buf_put_json_string(&b, what);
		buf_puts(&b, ", \"source\": ");
		if (s && s->label)
			buf_put_json_string(&b, s->label);
		else
			buf_puts(&b, "null");
		buf_printf(&b, ", \"size\": %" PRIu64 ", \"prepared\": %" PRId64 ", \"removed\": %s, \"why\": ", bytes,
			   s ? s->prepared : 0, removes ? "true" : "false");
		buf_put_json_string(&b, why);
		buf_putc(&b, '}');
		fputs(b.data, stdout);
		buf_done(&b);
		return;
	}
	format_size(bytes, size, sizeof(size));
	if (s && s->prepared > 0) {
		format_duration((int64_t) time(NULL) - s->prepared, age, sizeof(age));
		printf("%s (%s, %s, prepared %s ago): %s\n", what, s->label ? s->label : "-", size, age, why);
	} else
		printf("%s: %s\n", what, why);
}

void gc_report_log(void *userdata, const char *rel, uint64_t bytes, int64_t mtime)
{
	GcReport *g = userdata;
	const char *why = g->dry_run ? "would remove: older than log_retention_days"
				     : "removed: older than log_retention_days";
	char size[32], age[32];

	g->freed += bytes;
	g->removed++;
	if (arg_json) {
		Buf b = { 0 };
		buf_puts(&b, g->any ? ", {\"entry\": " : "{\"entry\": ");
		g->any = true;
		buf_put_json_string(&b, rel);
		buf_printf(&b, ", \"source\": null, \"size\": %" PRIu64 ", \"prepared\": %" PRId64
			   ", \"removed\": true, \"why\": ", bytes, mtime);
		buf_put_json_string(&b, why);
		buf_putc(&b, '}');
		fputs(b.data, stdout);
		buf_done(&b);
		return;
	}
	format_size(bytes, size, sizeof(size));
	format_duration((int64_t) time(NULL) - mtime, age, sizeof(age));
	printf("%s (build log, %s, written %s ago): %s\n", rel, size, age, why);
}

void gc_report_finish(GcReport *g)
{
	char size[32];

	format_size(g->freed, size, sizeof(size));
	if (arg_json)
		printf("], \"freed\": %" PRIu64 ", \"entries\": %u}\n", g->freed, g->removed);
	else if (g->removed)
		printf("%s %s in %u entr%s\n", g->dry_run ? "would free" : "freed", size, g->removed,
		       g->removed == 1 ? "y" : "ies");
	else
		printf("nothing to remove\n");
	for (size_t i = 0; i < g->n; i++) {
		free(g->v[i].what);
		free(g->v[i].label);
	}
	free(g->v);
	free(g);
}
