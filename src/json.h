/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * json.h - the pieces of zeolite's JSON output (docs/json.md) that more
 * than one command prints.  Every object zeolite prints at top level has
 * "version": JSON_VERSION first; a change that removes or renames a key
 * bumps it.
 */
#ifndef ZEOLITE_JSON_H
#define ZEOLITE_JSON_H

#include "util.h"

#define JSON_VERSION 1

/* Start a top-level object: `{"version": 1` (the caller goes on with
 * `, "key": ...` and closes it). */
void json_begin(Buf *b);

/* `"key": "value"` or `"key": null` for a NULL value, after a ", ". */
void json_key_string(Buf *b, const char *key, const char *value);

/* `, "errors": [{"line": N, "message": "..."}], "warnings": [...]` of D.
 * A message "FILE:LINE: what" (FILE being FILE) gives line N and "what";
 * one without a line gives "line": null and the whole text. */
void json_diags(Buf *b, const Diags *d, const char *file);

/* Print the error object of a failed command on stdout, one line:
 * {"version": 1, "ok": false, "command": CMD, "exit_status": STATUS,
 *  "error": MESSAGE}.  MESSAGE NULL: "failed". */
void json_print_error(const char *cmd, int status, const char *message);

/* A command that has printed a document reporting its own failures (build
 * -j's summary) says so: main() then prints no error object after it, so
 * that stdout stays one document. */
void json_failure_reported(void);
bool json_failure_was_reported(void);

#endif
