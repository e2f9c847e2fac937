/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * main.h - what the command implementations (cmd-*.c) share with main.c:
 * global options, messages, config and store opening.
 */
#ifndef ZEOLITE_MAIN_H
#define ZEOLITE_MAIN_H

#include "cache.h"
#include "config.h"
#include "log.h"
#include "unpack.h"
#include "spec.h"
#include "store.h"
#include "util.h"

#include <getopt.h>

extern bool arg_json;
extern int arg_verbose;
extern bool arg_quiet;
/* Run through a catalyst alias (-f, -s, -S): print what catalyst prints. */
extern bool arg_catalyst_alias;

/* Print the message and "Try 'zeolite --help'"; returns EXIT_USAGE. */
int usage_error(const char *fmt, ...) _printf_(1, 2);
/* The same for command CMD: "zeolite: CMD: MESSAGE" and "Try 'zeolite CMD
 * --help'". */
int command_usage_error(const char *cmd, const char *fmt, ...) _printf_(2, 3);

/*
 * Option parsing shared by every command.  Options and operands may come
 * in any order (getopt_long permuting; "--" ends the options), and the
 * global options below are accepted after the command too, so that
 * catalyst's `-f SPEC -c CONF` works.  A command's short option string
 * starts with COMMAND_SHORT_OPTS and its long option table includes
 * GLOBAL_LONG_OPTIONS; its loop calls command_getopt(), which handles the
 * global options itself and returns the command's own ones (or -1 at the
 * end).  On a bad option it prints "zeolite: CMD: unknown option 'X'" and
 * "Try 'zeolite CMD --help'" and returns COMMAND_GETOPT_USAGE; the caller
 * returns EXIT_USAGE.  A bad argument to a global option likewise.
 */
enum {
	OPT_GLOBAL_STOREDIR = 0x1000,
	OPT_GLOBAL_LOCK_TIMEOUT,
	OPT_GLOBAL_JSON,
	OPT_GLOBAL_LOG_LEVEL,
	OPT_GLOBAL_LOG_FILE,
	OPT_GLOBAL_COLOR,
	OPT_GLOBAL_NOCOLOR,
	OPT_GLOBAL_TRACE,
	OPT_GLOBAL_PROFILE,
	OPT_GLOBAL_VERSIONED_CACHEDIR,
	OPT_GLOBAL_UNVERSIONED_CACHEDIR,
	COMMAND_GETOPT_USAGE = -2,
};
#define COMMAND_SHORT_OPTS ":c:dvqV"
#define GLOBAL_LONG_OPTIONS                                                       \
	{ "config", required_argument, NULL, 'c' },                               \
	{ "configs", required_argument, NULL, 'c' },                              \
	{ "storedir", required_argument, NULL, OPT_GLOBAL_STOREDIR },             \
	{ "lock-timeout", required_argument, NULL, OPT_GLOBAL_LOCK_TIMEOUT },     \
	{ "debug", no_argument, NULL, 'd' },                                      \
	{ "verbose", no_argument, NULL, 'v' },                                    \
	{ "quiet", no_argument, NULL, 'q' },                                      \
	{ "version", no_argument, NULL, 'V' },                                    \
	{ "log-level", required_argument, NULL, OPT_GLOBAL_LOG_LEVEL },           \
	{ "log-file", required_argument, NULL, OPT_GLOBAL_LOG_FILE },             \
	{ "color", no_argument, NULL, OPT_GLOBAL_COLOR },                         \
	{ "nocolor", no_argument, NULL, OPT_GLOBAL_NOCOLOR },                     \
	/* catalyst's: --unversioned-cachedir is its default (accepted); the    \
	 * others are refused, never ignored */                                  \
	{ "trace", no_argument, NULL, OPT_GLOBAL_TRACE },                         \
	{ "profile", no_argument, NULL, OPT_GLOBAL_PROFILE },                     \
	{ "versioned-cachedir", no_argument, NULL, OPT_GLOBAL_VERSIONED_CACHEDIR }, \
	{ "unversioned-cachedir", no_argument, NULL, OPT_GLOBAL_UNVERSIONED_CACHEDIR }
int command_getopt(int argc, char **argv, const char *cmd, const char *shortopts, const struct option *longopts);
/* Start a command's option scan: a full reset of getopt (optind = 0). */
void command_getopt_reset(void);
/* Append the global options given (-c FILE..., --storedir, --lock-timeout),
 * each " -X 'VALUE'" quoted for sh, paths made absolute: for the commands
 * `zeolite plan` writes. */
void global_options_shell(Buf *b);
/* Print diagnostics; EXIT_DATAERR if any is an error, else EXIT_OK. */
int print_diags(const Diags *d);
/* Load the config files given with -c (or the default one) and apply
 * --storedir.  Returns an exit status. */
int load_config(Config *c);
/* lock_timeout: command line > spec > config > built-in default. */
unsigned long effective_lock_timeout(const Config *c, const Spec *spec);
/* Open the store of C; prints the reason and returns an exit status. */
int open_store(const Config *c, Store *ret);
/* Both of the above, for the commands that work on the store. */
int load_config_and_store(Config *c, Store *ret);
/* The same for the commands that only read it (status, gc --dry-run):
 * store_open_readonly(); a missing store is exit 66. */
int open_store_readonly(const Config *c, Store *ret);
int load_config_and_store_readonly(Config *c, Store *ret);
/* Commands that need root call this before anything else: EXIT_OK, or
 * "CMD: needs root" and a hint printed and EXIT_NOPERM (77). */
int require_root(const char *cmd);

/* A cache fill (CacheFillFn) that unpacks the archive open at FD. */
typedef struct UnpackFill {
	int fd;
	const char *name;
	UnpackFlags flags;
} UnpackFill;
int unpack_fill(void *userdata, int dest_fd, CacheProgress *progress, uint64_t *ret_files, uint64_t *ret_bytes,
		char **ret_err);

/* A cache fill (CacheFillFn) that makes IMAGE_FILE_NAME, the squashfs
 * image of the tarball open at FD (image-fill.c).  USERDATA is an
 * UnpackFill; its flags are not used (an image keeps everything). */
int image_fill(void *userdata, int dest_fd, CacheProgress *progress, uint64_t *ret_files, uint64_t *ret_bytes,
	       char **ret_err);

/* Human forms for status and gc (cmd-status.c): "4 KiB", "1.5 GiB";
 * "2026-12-03 06:50:01 UTC" in the local zone ("-" for 0); "3 min 05 s". */
void format_size(uint64_t bytes, char *buf, size_t n);
void format_local_time(int64_t t, char *buf, size_t n);
void format_duration(int64_t secs, char *buf, size_t n);
/* Whether NAME has a snapshot file's extension (cmd-cache.c). */
bool snapshot_file_name(const char *name);
/* A running build notes its step and log in tmp/REL_TYPE/NAME.run for
 * status (cmd-status.c); best effort. */
void status_note_step(int tmp_fd, const char *rel_type, const char *name, const char *step, const char *log_path);
/* The build is over: its note goes (before the lock is let go). */
void status_note_done(int tmp_fd, const char *rel_type, const char *name);

/* What gc prints (cmd-status.c): each thing removed with its source,
 * size and age, then the total freed (or that would be); with --json one
 * object (docs/json.md).  gc_report_fn is a CacheGcFn taking the report. */
typedef struct GcReport GcReport;
GcReport *gc_report_new(const Store *st, bool dry_run);
void gc_report_fn(void *userdata, CacheKind kind, const char *what, const char *why);
void gc_report_finish(GcReport *g);
/* A BuildLogGcFn (build-log.h) for a build log gc removes. */
void gc_report_log(void *userdata, const char *rel, uint64_t bytes, int64_t mtime);

/* Commands (cmd-*.c): each gets its own argv with argv[0] the command. */
int cmd_build(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_prepare(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_gc(int argc, char **argv);

#endif
