// SPDX-License-Identifier: GPL-2.0-or-later
#include "build-log.h"
#include "archive-ops.h"
#include "store.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "build-config.h"

static char *command_line;

static void free_command_line(void)
{
	free(command_line);
}

void build_log_set_command_line(int argc, char **argv)
{
	Buf b = { 0 };

	for (int i = 0; i < argc; i++) {
		if (i)
			buf_putc(&b, ' ');
		buf_puts(&b, argv[i]);
	}
	free(command_line);
	command_line = buf_steal(&b);
	atexit(free_command_line);
}

char *build_log_create(int store_fd, const char *store_path, const char *rel_type, const char *name,
		       char **ret_err)
{
	_cleanup_close_ int logs_fd = store_subdir_at(store_fd, "logs", true);
	_cleanup_close_ int dir_fd = -EBADF, fd = -EBADF;
	_cleanup_free_ char *base = NULL, *link = NULL, *tmplink = NULL;
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	if (logs_fd < 0) {
		*ret_err = xasprintf("cannot open '%s/logs': %s", store_path, strerror(-logs_fd));
		return NULL;
	}
	dir_fd = store_subdir_at(logs_fd, rel_type, true);
	if (dir_fd < 0) {
		*ret_err = xasprintf("cannot open '%s/logs/%s': %s", store_path, rel_type, strerror(-dir_fd));
		return NULL;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (unsigned n = 1; n < 1000; n++) {
		free(base);
		base = n == 1 ? xasprintf("%s-%s.log", name, stamp) : xasprintf("%s-%s-%u.log", name, stamp, n);
		fd = openat(dir_fd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		*ret_err = xasprintf("cannot create a log in '%s/logs/%s': %m", store_path, rel_type);
		return NULL;
	}
	link = xasprintf("%s-latest.log", name);
	tmplink = xasprintf(".%s-latest.log.%d", name, (int) getpid());
	(void) unlinkat(dir_fd, tmplink, 0);
	if (symlinkat(base, dir_fd, tmplink) < 0 || renameat(dir_fd, tmplink, dir_fd, link) < 0) {
		(void) unlinkat(dir_fd, tmplink, 0);
		*ret_err = xasprintf("cannot link '%s/logs/%s/%s': %m", store_path, rel_type, link);
		return NULL;
	}
	return xasprintf("%s/logs/%s/%s", store_path, rel_type, base);
}

static void append(const char *path, const char *text)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0)
		(void) write_all(fd, text, strlen(text));
}

void build_log_header(const char *path, const char *spec_path, const char *target, const char *output)
{
	_cleanup_close_ int sfd = open(spec_path, O_RDONLY | O_CLOEXEC);
	unsigned char d[32];
	char hex[65] = "-";
	Buf b = { 0 };

	if (sfd >= 0 && archive_sha256_fd(sfd, d) >= 0)
		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", d[i]);
	buf_printf(&b, "# %s\n# command: %s\n# spec: %s\n# spec sha256: %s\n# target: %s\n# output: %s\n",
		   PACKAGE_STRING, command_line ? command_line : "-", spec_path, hex, target, output);
	append(path, b.data);
	buf_done(&b);
}

void build_log_line(const char *path, const char *fmt, ...)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	va_list ap;
	Buf b = { 0 };
	char *msg;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		die_oom();
	va_end(ap);
	buf_printf(&b, "%s zeolite: %s\n", stamp, msg);
	append(path, b.data);
	free(msg);
	buf_done(&b);
}

/* The file names -latest links in DIR_FD point at. */
static bool is_latest_target(int dir_fd, const char *name)
{
	_cleanup_close_ int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	bool found = false;
	DIR *d;

	if (fd < 0 || !(d = fdopendir(fd)))
		return true; /* when in doubt, keep */
	fd = -EBADF;
	while (!found && (de = readdir(d))) {
		char target[512];
		size_t len = strlen(de->d_name);
		ssize_t n;

		if (len < 11 || strcmp(de->d_name + len - 11, "-latest.log") != 0)
			continue;
		n = readlinkat(dir_fd, de->d_name, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		found = strcmp(target, name) == 0;
	}
	closedir(d);
	return found;
}

int build_log_gc(int store_fd, unsigned long days, bool dry_run, BuildLogGcFn fn, void *userdata)
{
	_cleanup_close_ int logs_fd = openat(store_fd, "logs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int64_t cutoff = (int64_t) time(NULL) - (int64_t) days * 86400;
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (logs_fd < 0)
		return errno == ENOENT ? 0 : -errno;
	{
		int fd = openat(logs_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || !(d = fdopendir(fd))) {
			if (fd >= 0)
				close(fd);
			return -errno;
		}
	}
	while ((de = readdir(d))) {
		_cleanup_close_ int rel_fd = -EBADF, rfd = -EBADF;
		struct dirent *e;
		DIR *rd;

		if (de->d_name[0] == '.')
			continue;
		rel_fd = openat(logs_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		rfd = rel_fd >= 0 ? openat(rel_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -EBADF;
		if (rfd < 0 || !(rd = fdopendir(rfd)))
			continue;
		rfd = -EBADF;
		while ((e = readdir(rd))) {
			size_t len = strlen(e->d_name);
			struct stat s;

			if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 4, ".log") != 0 ||
			    fstatat(rel_fd, e->d_name, &s, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(s.st_mode) ||
			    (int64_t) s.st_mtim.tv_sec >= cutoff || is_latest_target(rel_fd, e->d_name))
				continue;
			if (!dry_run && unlinkat(rel_fd, e->d_name, 0) < 0) {
				r = -errno;
				continue;
			}
			_cleanup_free_ char *rel = xasprintf("logs/%s/%s", de->d_name, e->d_name);
			fn(userdata, rel, (uint64_t) s.st_size, (int64_t) s.st_mtim.tv_sec);
		}
		closedir(rd);
	}
	closedir(d);
	return r;
}

/* ---- reports ---------------------------------------------------------- */

static BuildReport **reports;
static size_t n_reports, cap_reports;

BuildReport *build_report_begin(const char *rel_type, const char *name)
{
	BuildReport *r = xcalloc(1, sizeof(*r));

	r->name = xasprintf("%s/%s", rel_type, name);
	xgrow(&reports, &cap_reports, n_reports + 1, sizeof(*reports));
	reports[n_reports++] = r;
	return r;
}

void build_report_step(BuildReport *r, const char *step, double seconds)
{
	r->steps = xrealloc(r->steps, (r->n_steps + 1) * sizeof(*r->steps));
	r->steps[r->n_steps++] = (BuildStepTime) { .step = xstrdup(step), .seconds = seconds };
}

static void report_json(const BuildReport *r)
{
	Buf b = { 0 };

	buf_puts(&b, "{\"version\": 1, \"build\": ");
	buf_put_json_string(&b, r->name);
	buf_printf(&b, ", \"result\": \"%s\", \"seconds\": %.1f, \"output\": ", r->ok ? "built" : "failed", r->seconds);
	if (r->output)
		buf_put_json_string(&b, r->output);
	else
		buf_puts(&b, "null");
	buf_puts(&b, ", \"failed_step\": ");
	if (r->failed_step)
		buf_put_json_string(&b, r->failed_step);
	else
		buf_puts(&b, "null");
	buf_puts(&b, ", \"error\": ");
	if (r->error)
		buf_put_json_string(&b, r->error);
	else
		buf_puts(&b, "null");
	buf_puts(&b, ", \"log\": ");
	if (r->log)
		buf_put_json_string(&b, r->log);
	else
		buf_puts(&b, "null");
	buf_puts(&b, ", \"steps\": [");
	for (size_t i = 0; i < r->n_steps; i++) {
		buf_puts(&b, i ? ", {\"step\": " : "{\"step\": ");
		buf_put_json_string(&b, r->steps[i].step);
		buf_printf(&b, ", \"seconds\": %.1f}", r->steps[i].seconds);
	}
	buf_puts(&b, "]}");
	puts(b.data);
	buf_done(&b);
}

void build_report_finish(bool json)
{
	if (!json && n_reports > 1) {
		fprintf(stderr, "\n%-45s %-7s %9s  %s\n", "BUILD", "RESULT", "DURATION", "OUTPUT / FAILED STEP, LOG");
		for (size_t i = 0; i < n_reports; i++) {
			const BuildReport *r = reports[i];
			if (r->ok)
				fprintf(stderr, "%-45s %-7s %7.1f s  %s\n", r->name, "built", r->seconds,
					r->output ? r->output : "-");
			else
				fprintf(stderr, "%-45s %-7s %7.1f s  %s%s%s, %s\n", r->name, "failed", r->seconds,
					r->failed_step ? "step '" : "", r->failed_step ? r->failed_step : "before the steps",
					r->failed_step ? "'" : "", r->log ? r->log : "no log");
		}
	}
	for (size_t i = 0; i < n_reports; i++) {
		BuildReport *r = reports[i];
		if (json)
			report_json(r);
		for (size_t j = 0; j < r->n_steps; j++)
			free(r->steps[j].step);
		free(r->steps);
		free(r->name);
		free(r->output);
		free(r->failed_step);
		free(r->error);
		free(r->log);
		free(r);
	}
	free(reports);
	reports = NULL;
	n_reports = cap_reports = 0;
}
