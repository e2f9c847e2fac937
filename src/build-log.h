/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * build-log.h - one log per build run (zeolite(1) LOGS).
 *
 *   <storedir>/logs/<rel_type>/<name>-YYYYMMDDTHHMMSSZ.log   (UTC; a second
 *       run in the same second gets -2, -3, ...)
 *   <storedir>/logs/<rel_type>/<name>-latest.log             symlink to it
 *
 * The log opens with a header (zeolite's version, the command line, the
 * spec and its sha256, target, output), then zeolite's own lines, each
 * with a UTC time stamp: "... zeolite: step 'build' started", "... step
 * 'build' done in 12.3 s", the inputs with their ids, and a final result
 * line.  The scripts' output goes in between, as the steps write it.
 * gc removes logs older than log_retention_days (config; default 30),
 * never the one a -latest link points at.
 */
#ifndef ZEOLITE_BUILD_LOG_H
#define ZEOLITE_BUILD_LOG_H

#include "util.h"

/* The command line, for the header (main() sets it). */
void build_log_set_command_line(int argc, char **argv);

/* Create the run's log under STORE_FD (the store, at STORE_PATH) and
 * point the -latest link at it.  Returns the log's absolute path, or
 * NULL with *RET_ERR set. */
char *build_log_create(int store_fd, const char *store_path, const char *rel_type, const char *name,
		       char **ret_err);

/* Append "# key: value" lines: the header. */
void build_log_header(const char *path, const char *spec_path, const char *target, const char *output);

/* Append one time-stamped zeolite line. */
void build_log_line(const char *path, const char *fmt, ...) _printf_(2, 3);

/* gc: remove logs under STORE_FD's logs/ older than DAYS days, never a
 * -latest link's target.  Calls FN for each with its path and size;
 * nothing removed when DRY_RUN. */
typedef void (*BuildLogGcFn)(void *userdata, const char *rel, uint64_t size, int64_t mtime);
int build_log_gc(int store_fd, unsigned long days, bool dry_run, BuildLogGcFn fn, void *userdata);

#endif

/* What each build of one command line did, for the summary table after
 * `build A B C` and for build --json (docs/json.md). */
typedef struct BuildStepTime {
	char *step;
	double seconds;
} BuildStepTime;

typedef struct BuildReport {
	char *name;      /* <rel_type>/<name> */
	bool ok;
	double seconds;
	char *output;    /* the tarball, when ok */
	char *failed_step; /* the step that failed, or NULL */
	char *error;     /* why it failed */
	char *log;
	BuildStepTime *steps;
	size_t n_steps;
} BuildReport;

/* The report of the build now running (a new one per call). */
BuildReport *build_report_begin(const char *rel_type, const char *name);
void build_report_step(BuildReport *r, const char *step, double seconds);
/* Print the table (more than one build) or, under --json, one object per
 * build; frees the reports. */
void build_report_finish(bool json);
