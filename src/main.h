/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * main.h - what the command implementations (cmd-*.c) share with main.c:
 * global options, messages, config and store opening.
 */
#ifndef ZEOLITE_MAIN_H
#define ZEOLITE_MAIN_H

#include "cache.h"
#include "config.h"
#include "unpack.h"
#include "spec.h"
#include "store.h"
#include "util.h"

extern bool arg_json;
extern int arg_verbose;
extern bool arg_quiet;

/* "zeolite: MESSAGE" on stderr. */
void log_error(const char *fmt, ...) _printf_(1, 2);
/* The same, unless --quiet. */
void log_info(const char *fmt, ...) _printf_(1, 2);
/* Print the message and "Try 'zeolite --help'"; returns EXIT_USAGE. */
int usage_error(const char *fmt, ...) _printf_(1, 2);
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

/* A cache fill (CacheFillFn) that unpacks the archive open at FD. */
typedef struct UnpackFill {
	int fd;
	const char *name;
	UnpackFlags flags;
} UnpackFill;
int unpack_fill(void *userdata, int dest_fd, CacheProgress *progress, uint64_t *ret_files, uint64_t *ret_bytes,
		char **ret_err);

/* Commands (cmd-*.c): each gets its own argv with argv[0] the command. */
int cmd_build(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_prepare(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_gc(int argc, char **argv);

#endif
