/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * toml.h - a parser for the subset of TOML that catalyst.conf-shaped
 * files use: basic and literal strings (with escapes, and the multi-line
 * forms), integers, booleans, arrays (multi-line, with comments and a
 * trailing comma), [table] and [table.sub] headers, dotted and quoted keys,
 * comments.  Anything outside the subset (floats, dates, inline tables,
 * arrays of tables) is a "FILE:LINE: ... not supported" error, never a
 * silent misread.
 */
#ifndef ZEOLITE_TOML_H
#define ZEOLITE_TOML_H

#include "util.h"

typedef enum TomlType {
	TOML_STRING,
	TOML_INTEGER,
	TOML_BOOL,
	TOML_ARRAY,
	TOML_TABLE,
	TOML_FLOAT, /* only with TOML_ALLOW_FLOAT: str holds the source text */
} TomlType;

typedef enum TomlFlags {
	/* Accept floats (not inf/nan) as TOML_FLOAT, keeping their text with
	 * underscores removed, instead of refusing them.  config.c uses this
	 * for catalyst's "load-average = 4.0". */
	TOML_ALLOW_FLOAT = 1 << 0,
} TomlFlags;

typedef struct TomlValue TomlValue;

struct TomlValue {
	TomlType type;
	unsigned line; /* where the value (or table header) starts */
	char *str;     /* TOML_STRING */
	int64_t integer;
	bool boolean;
	/* TOML_ARRAY: items; TOML_TABLE: values with keys[i] */
	TomlValue **items;
	char **keys;
	size_t n;
	size_t cap;
	bool defined; /* table was defined by a [header] (duplicate check) */
	/* Tables made or extended by dotted keys: the header section (1 = the
	 * part before the first header) whose dotted keys did it; 0 if none.
	 * Only that section may add to the table with dotted keys. */
	unsigned dotted_section;
};

/* Parse TEXT named PATH.  On success *RET is the root table.  On failure
 * returns -EINVAL with diagnostics in D and *RET == NULL. */
int toml_parse(const char *path, const char *text, size_t len, TomlValue **ret, Diags *d);

/* As toml_parse(), with TomlFlags in FLAGS. */
int toml_parse_full(const char *path, const char *text, size_t len, unsigned flags,
		    TomlValue **ret, Diags *d);

/* A short English name of a value's type ("a string", "an array"...),
 * for messages. */
const char *toml_type_name(TomlType t);

/* Look KEY up in TABLE (no dots); NULL if absent. */
const TomlValue *toml_get(const TomlValue *table, const char *key);

/* Append V as JSON in the shape python3's tomllib + json.dumps give
 * (used by the differential test). */
void toml_to_json(const TomlValue *v, Buf *b);

void toml_free(TomlValue *v);

#endif
