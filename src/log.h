/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * log.h - zeolite's messages and their levels (catalyst's --log-level).
 *
 * Every message is one line "zeolite: TEXT" on stderr.  Levels are
 * catalyst's: critical, error, warning, notice, info, debug; a message is
 * printed when its level is at or above the threshold (default info;
 * -q warning; -d debug).  With a log file (--log-file FILE) all messages
 * go to FILE instead of stderr, each with a time stamp and its level;
 * errors and critical ones go to stderr as well, so that a failure is
 * never silent.  Colour (--color, --nocolor; default: stderr is a
 * terminal, NO_COLOR unset and TERM not "dumb") only marks the level of
 * errors and warnings on stderr; a log file never gets colour.
 */
#ifndef ZEOLITE_LOG_H
#define ZEOLITE_LOG_H

#include "util.h"

typedef enum LogLevel {
	LOG_LEVEL_CRITICAL,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	_LOG_LEVEL_MAX,
} LogLevel;

/* "critical" ... "debug" -> level; -EINVAL for any other name. */
int log_level_from_string(const char *s, LogLevel *ret);
void log_set_level(LogLevel l);
LogLevel log_get_level(void);
/* Append the messages to PATH (created 0644 if missing) instead of
 * stderr.  Returns -errno if it cannot be opened. */
int log_set_file(const char *path);
/* 1: always, 0: never, -1: detect (the default). */
void log_set_color(int mode);

/* The text of the first error logged (without "zeolite: "), or NULL. */
const char *log_first_error(void);

void log_at(LogLevel l, const char *fmt, ...) _printf_(2, 3);
/* "zeolite: MESSAGE" at the level the name says. */
void log_error(const char *fmt, ...) _printf_(1, 2);
void log_warning(const char *fmt, ...) _printf_(1, 2);
void log_notice(const char *fmt, ...) _printf_(1, 2);
void log_info(const char *fmt, ...) _printf_(1, 2);
void log_debug(const char *fmt, ...) _printf_(1, 2);

#endif
