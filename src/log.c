// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * log.c - message levels, the log file and colour (see log.h).
 */
#include "log.h"
#include "progress.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[_LOG_LEVEL_MAX] = {
	[LOG_LEVEL_CRITICAL] = "critical", [LOG_LEVEL_ERROR] = "error", [LOG_LEVEL_WARNING] = "warning",
	[LOG_LEVEL_NOTICE] = "notice",     [LOG_LEVEL_INFO] = "info",   [LOG_LEVEL_DEBUG] = "debug",
};

static LogLevel threshold = LOG_LEVEL_INFO;
static FILE *log_file;
static int color_mode = -1;

int log_level_from_string(const char *s, LogLevel *ret)
{
	for (int i = 0; i < _LOG_LEVEL_MAX; i++)
		if (strcmp(s, level_names[i]) == 0) {
			*ret = (LogLevel) i;
			return 0;
		}
	return -EINVAL;
}

void log_set_level(LogLevel l)
{
	threshold = l;
}

LogLevel log_get_level(void)
{
	return threshold;
}

static void close_log_file(void)
{
	if (log_file)
		fclose(log_file);
	log_file = NULL;
}

int log_set_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0644);
	FILE *f;

	if (fd < 0)
		return -errno;
	f = fdopen(fd, "a");
	if (!f) {
		int r = -errno;
		close(fd);
		return r;
	}
	setvbuf(f, NULL, _IOLBF, 0);
	if (log_file)
		fclose(log_file);
	else
		atexit(close_log_file);
	log_file = f;
	return 0;
}

void log_set_color(int mode)
{
	color_mode = mode;
}

static bool use_color(void)
{
	const char *term;

	if (color_mode >= 0)
		return color_mode > 0;
	if (getenv("NO_COLOR") || !isatty(STDERR_FILENO))
		return false;
	term = getenv("TERM");
	return term && *term && strcmp(term, "dumb") != 0;
}

static void emit_stderr(LogLevel l, const char *fmt, va_list ap)
{
	const char *on = NULL;

	progress_clear(); /* a message never shares the progress line */
	if (l <= LOG_LEVEL_WARNING && use_color())
		on = l == LOG_LEVEL_WARNING ? "\033[1;33m" : "\033[1;31m";
	if (on)
		fprintf(stderr, "%szeolite:\033[0m ", on);
	else
		fputs("zeolite: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void emit_file(LogLevel l, const char *fmt, va_list ap)
{
	char when[64];
	time_t t = time(NULL);
	struct tm tm;

	if (!localtime_r(&t, &tm) || strftime(when, sizeof when, "%d %b %Y %H:%M:%S %Z", &tm) == 0)
		when[0] = '\0';
	fprintf(log_file, "%s: %-8s: ", when, level_names[l]);
	vfprintf(log_file, fmt, ap);
	fputc('\n', log_file);
}

static char *first_error;

const char *log_first_error(void)
{
	return first_error;
}

static void free_first_error(void)
{
	free(first_error);
}

static void log_va(LogLevel l, const char *fmt, va_list ap)
{
	va_list aq;

	/* The first error, for the JSON error object (json.h): whatever the
	 * threshold, and never a hint, which follows its error. */
	if (l <= LOG_LEVEL_ERROR && !first_error && strncmp(fmt, "hint: ", 6) != 0) {
		va_copy(aq, ap);
		if (vasprintf(&first_error, fmt, aq) < 0)
			first_error = NULL;
		else
			atexit(free_first_error);
		va_end(aq);
	}
	if (l > threshold)
		return;
	if (!log_file) {
		emit_stderr(l, fmt, ap);
		return;
	}
	va_copy(aq, ap);
	emit_file(l, fmt, aq);
	va_end(aq);
	if (l <= LOG_LEVEL_ERROR)
		emit_stderr(l, fmt, ap);
}

void log_at(LogLevel l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_va(l, fmt, ap);
	va_end(ap);
}

#define DEFINE_LOG(name, level)                \
	void name(const char *fmt, ...)        \
	{                                      \
		va_list ap;                    \
		va_start(ap, fmt);             \
		log_va(level, fmt, ap);        \
		va_end(ap);                    \
	}

DEFINE_LOG(log_error, LOG_LEVEL_ERROR)
DEFINE_LOG(log_warning, LOG_LEVEL_WARNING)
DEFINE_LOG(log_notice, LOG_LEVEL_NOTICE)
DEFINE_LOG(log_info, LOG_LEVEL_INFO)
DEFINE_LOG(log_debug, LOG_LEVEL_DEBUG)
