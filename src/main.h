/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * main.h - what the command implementations (cmd-*.c) share with main.c:
 * global options, messages, config and store opening.
 */
#ifndef ZEOLITE_MAIN_H
#define ZEOLITE_MAIN_H

#include "config.h"
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

/* Commands (cmd-*.c): each gets its own argv with argv[0] the command. */
int cmd_snapshot(int argc, char **argv);
int cmd_prepare(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_gc(int argc, char **argv);

#endif
